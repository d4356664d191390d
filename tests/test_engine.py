"""The engine: builds keyed by structure, run_args for values and timing, results and metadata."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import brian2 as b2
import pandas as pd
import pytest

import biophys_ltp as bl
from biophys_ltp.engine import MAX_SIM_DURATION, RUN_DIR_PREFIX, SLOPE_WINDOW, build_key, scratch_dir
from biophys_ltp.model import load_model
from biophys_ltp.protocol import protocol_from_dict
from biophys_ltp.schedule import ScheduleSettings
from biophys_ltp.units import parse_quantity

SHORT = {
    "name": "short", "duration": "3 min", "baseline": "1 min", "test_interval": "30 s",
    "pathways": ["S1", "S2", "S3"],
    "events": [{"kind": "weak_tetanus", "pathway": "S1", "at": "1 min"}],
}


def test_within_a_step_the_cable_equation_reads_the_conductances_of_the_same_step():
    """The order of a step (Network._order_within_step): the synapses are integrated, their
    conductances summed into the compartments (the pathway population's after the spine
    synapses', whose pathway totals it reads), then the cable equation is solved, and the
    synaptic current the test pulse measures is summed from the new potentials before the
    measurement reads it.  Brian2's default sums before integrating (a one-step lag)."""
    import gc

    from brian2.devices.device import reset_device
    from brian2.utils.logger import catch_logs

    from biophys_ltp.engine.network import Network
    b2.set_device("runtime")
    try:
        with catch_logs():  # the objects are built to be inspected, never run
            network = Network(load_model())
            names = [entry.name for entry in network.net.scheduling_summary().entries]
            del network
            gc.collect()
    finally:
        reset_device()
    at = names.index
    synapses, cable = at("synapses_stateupdater"), at("neuron_spatialstateupdater")
    for var in Network.CONDUCTANCES["synapses"]:
        assert synapses < at(f"synapses_summed_variable_{var}") < at("population_summed_variable_g_pop_ampa_post")
    for var in Network.CONDUCTANCES["population"]:
        assert at("synapses_summed_variable_g_ampa_path_pre") < at(f"population_summed_variable_{var}") < cable
    for group, variables in Network.CURRENTS.items():
        for var in variables:
            assert cable < at(f"{group}_summed_variable_{var}") < at("pathway_track")


@pytest.mark.parametrize("site", ["spine_head", "branch_root"])
def test_each_spine_head_senses_a_spike_at_its_models_spike_site(site):
    """spike_coincidence reads v_spike_site in each spine head (and each place for a new
    spine): the head's own potential, or the potential where its branch leaves the trunk,
    as the model's structure entry spike_site says; a change of site is a new build."""
    import gc

    import numpy as np
    from brian2.devices.device import reset_device
    from brian2.utils.logger import catch_logs

    from biophys_ltp.engine.network import Network
    model = load_model(overrides={"spike_site": site})
    b2.set_device("runtime")
    try:
        with catch_logs():  # built to be inspected, never run
            network = Network(model)
            src, dst = network.spike_site.i[:].copy(), network.spike_site.j[:].copy()
            idx = network.idx
            del network
            gc.collect()
    finally:
        reset_device()
    heads = np.concatenate([idx["head"].ravel(), idx["slot_head"].ravel()])
    roots = np.concatenate([idx["root"].ravel(), idx["slot_root"].ravel()])
    assert sorted(dst) == sorted(heads)
    expected = dict(zip(heads, heads if site == "spine_head" else roots))
    assert all(expected[d] == s for s, d in zip(src, dst))
    assert model.layout()["spike_site"] == site
    other = "branch_root" if site == "spine_head" else "spine_head"
    assert build_key(model) != build_key(load_model(overrides={"spike_site": other}))


def test_structure_key_ignores_parameter_values():
    base = load_model()
    changed = load_model(overrides={"g_ampa": "0.6 nS", "tau_early": "2 h"})
    assert changed.structure_key() == base.structure_key()
    assert changed.model_hash() != base.model_hash()
    structural = load_model(overrides={"synapses_per_pathway": 6})
    assert structural.structure_key() != base.structure_key()
    # the compiled program's key: the same for parameter changes, another for a structure
    assert build_key(changed) == build_key(base) != build_key(structural)


def test_build_key_follows_the_engine_source(monkeypatch):
    from biophys_ltp.engine import runner
    base = load_model()
    before = build_key(base)
    monkeypatch.setattr(runner, "engine_source_digest", lambda: "another engine")
    assert build_key(base) != before


def _objects(build_dir: str) -> dict[str, int]:
    files = list(Path(build_dir).glob("code_objects/*.o")) + [Path(build_dir) / "main"]
    return {str(p): p.stat().st_mtime_ns for p in files}


def _ivdep_loops(source: str) -> list[str]:
    """The bodies of the loops that follow '#pragma GCC ivdep' in a generated C++ file."""
    bodies = []
    for match in re.finditer(r"#pragma GCC ivdep\s*\n\s*for\s*\([^)]*\)\s*\{", source):
        depth, i = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(source[i], 0)
            i += 1
        bodies.append(source[match.end():i - 1])
    return bodies


@pytest.mark.standalone
def test_vectorised_loops_touch_only_their_own_element():
    """The loops the engine marks '#pragma GCC ivdep' (engine/templates: every state update
    and run_regularly loop, the cable solver's membrane current) let the compiler vectorise
    across elements.  That is right only while each iteration writes its own element
    (index _idx) and reads no element that another iteration writes.  A model change that
    breaks it (a synapse's run_regularly adding to v_post, say) must fail here rather than
    lose updates in the vectorised loop."""
    from biophys_ltp.engine import cache_dir
    program = cache_dir() / "builds" / build_key(load_model()) / "program"
    if not (program / "main").exists():
        bl.simulate(protocol_from_dict(SHORT), progress=False)  # builds the default model
    access = re.compile(r"(_ptr_array_\w+)\[([^\]]+)\]\s*(=(?!=)|\+=|-=|\*=|/=)?")
    checked, problems = 0, []
    for path in sorted(program.glob("code_objects/*.cpp")):
        for body in _ivdep_loops(path.read_text()):
            checked += 1
            accesses = [(m.group(1), m.group(2).strip(), bool(m.group(3))) for m in access.finditer(body)]
            written = {name for name, index, store in accesses if store}
            problems += [f"{path.name}: {name}[{index}] {'written' if store else 'read'}"
                         for name, index, store in accesses
                         if index != "_idx" and (store or name in written)]
    assert checked >= 5, f"only {checked} loops marked ivdep in {program}"
    assert not problems, "\n".join(problems)


def test_layout_counts_the_cell_that_is_built():
    """Results' metadata name the cell's compartments and synapses per pathway
    (Model.layout); the counts follow the structure: each added spine is three compartments
    (its stretch of the oblique branch, the neck, the head) on each pathway."""
    small, bigger = load_model().layout(), load_model(overrides={"synapses_per_pathway": 8}).layout()
    n_path = len(load_model().pathways)
    assert bigger["spines_per_pathway"] - small["spines_per_pathway"] == 3
    assert bigger["compartments"] - small["compartments"] == 3 * 3 * n_path
    morpho, idx = load_model().morphology()
    assert idx["head"].shape == (n_path, small["spines_per_pathway"])
    assert len(set(idx["head"].ravel()) | set(idx["slot_head"].ravel())) == n_path * (
        small["spines_per_pathway"] + small["new_spine_places_per_pathway"])
    # the pathway population stands for n_clones shaft synapses per spine (default 5 x 2)
    assert small["shaft_synapses_per_pathway"] == 5 * 2
    assert load_model(overrides={"n_clones": 0}).layout()["shaft_synapses_per_pathway"] == 0


def test_pathways_can_share_branches():
    """With pathways_per_branch = 3 every oblique branch carries spines of all three
    pathways, alternating along it, and each spine's branch root (where the default model senses a
    passing spike) is where its own branch leaves the trunk; the counts in the layout follow."""
    model = load_model(overrides={"synapses_per_pathway": 12, "oblique_branches": 4, "pathways_per_branch": 3})
    branches = model.spine_branches()
    assert len(branches) == 4
    for spines in branches:
        assert {p for p, _ in spines} == {0, 1, 2}
        assert all(a[0] != b[0] for a, b in zip(spines, spines[1:])), spines
    assert sorted(x for spines in branches for x in spines) == [(p, k) for p in range(3) for k in range(12)]
    morpho, idx = model.morphology()
    trunk_end = int(morpho.trunk.indices[-1])
    assert set(idx["root"].ravel()) | set(idx["slot_root"].ravel()) == {trunk_end}
    # the branches' origins spread over the distal trunk: each spine's root is its own branch's
    spread = load_model(overrides={"synapses_per_pathway": 12, "oblique_branches": 4, "pathways_per_branch": 3,
                                   "oblique_origin_spread": 1})
    _, sidx = spread.morphology()
    origins = spread.layout()["branch_origins_um"]
    assert origins == [150.0, 200.0, 250.0, 300.0]
    where = dict(zip(sidx["trunk"].tolist(), sidx["trunk_end_um"].tolist()))
    for b, spines in enumerate(spread.spine_branches()):
        assert {round(where[int(sidx["root"][p, k])], 3) for p, k in spines} == {origins[b]}
    assert len(sidx["trunk"]) == len(idx["trunk"]) and spread.layout()["compartments"] == model.layout()["compartments"]
    layout = model.layout()
    assert (layout["branches_per_pathway"], layout["pathways_per_branch"], layout["oblique_branches"]) == (4, 3, 4)
    alone = load_model(overrides={"synapses_per_pathway": 12, "oblique_branches": 6}).layout()
    assert (alone["branches_per_pathway"], alone["pathways_per_branch"]) == (2, 1)
    assert alone["compartments"] == layout["compartments"]


def test_a_model_file_without_the_layout_entries_has_the_first_layout(tmp_path):
    """The layout entries of [structure] may be left out (a model file from before they
    existed): the cell is then laid out as before them, as the default model's is."""
    import re
    from biophys_ltp.model import _OPTIONAL_STRUCTURE
    text = open(load_model().source).read()
    for name in _OPTIONAL_STRUCTURE:
        if name != "new_spine_slots":  # the default has places for new spines; without them it has none
            text, n = re.subn(rf"^{name} = .*\n", "", text, flags=re.M)
            assert n == 1, name
    path = tmp_path / "older.toml"
    path.write_text(text)
    older = load_model(path)
    assert older.layout() == load_model().layout()
    assert (older.n_branches, older.pathways_per_branch) == (len(older.pathways), 1)


@pytest.mark.parametrize("overrides, message", [
    ({"oblique_branches": 4}, "not a multiple"),
    ({"pathways_per_branch": 2}, "groups of pathways_per_branch"),
    ({"oblique_branches": 18}, "only 5 spines"),
    ({"oblique_origin_spread": 1.5}, "0 to 1"),
    ({"spike_site": "soma"}, "not one of spine_head, branch_root"),
])
def test_a_layout_that_cannot_be_built_is_refused(overrides, message):
    from biophys_ltp.model import ModelError
    with pytest.raises(ModelError, match=message):
        load_model(overrides=overrides)


@pytest.mark.parametrize("branch", ["vector", "fallback"])
def test_exp_in_vectorised_loops_is_exp_on_every_platform(tmp_path, branch):
    """The per-element loops' exp (engine/device.py): the C library's, declared with vector
    versions, where GCC, x86-64 and glibc >= 2.22 allow it; elsewhere the engine's own.
    Both branches must compile (warnings as errors) in the C++ standards a compiler may
    default to and give exp within 4 ulp in a loop the compiler may vectorise."""
    from biophys_ltp.engine.device import _EXP_CPP
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("no g++")
    support = _EXP_CPP
    if branch == "fallback":  # the guard (two lines) made false
        start = support.index("#if defined(__GNUC__)")
        support = support[:start] + "#if 0" + support[support.index("\n", support.index("__GLIBC_MINOR__")):]
    source = tmp_path / "exp.cpp"
    source.write_text("#include <cmath>\n#include <cstdio>\n" + support + """
int main()
{
    static double x[1024], y[1024];
    for (int i = 0; i < 1024; i++)
        x[i] = -30.0 + 60.0*i/1023.0 + 1e-3*(i % 7);
    #pragma GCC ivdep
    for (int i = 0; i < 1024; i++)
        y[i] = _ltp_exp_v(x[i]);
    double worst = 0.0;
    for (int i = 0; i < 1024; i++)
        worst = fmax(worst, fabs(y[i] - exp(x[i]))/exp(x[i]));
    printf("%.3e\\n", worst);
    return 0;
}
""")
    for std in ("c++11", "c++17", "c++20"):
        exe = tmp_path / f"exp_{std}"
        subprocess.run([gxx, f"-std={std}", "-O3", "-march=native", "-fno-finite-math-only", "-Werror",
                        str(source), "-o", str(exe), "-lm"], check=True, capture_output=True, text=True)
        worst = float(subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout)
        assert worst <= 4 * 2.2e-16, (std, worst)


@pytest.mark.standalone
def test_new_values_and_timings_reuse_the_compiled_program(tmp_path):
    first = bl.simulate(protocol_from_dict(SHORT), progress=False)
    before = _objects(first.metadata["build_dir"])
    assert len(before) > 20
    later = dict(SHORT, events=[dict(SHORT["events"][0], at="70 s")])
    second = bl.simulate(protocol_from_dict(later), params={"g_ampa": "0.6 nS", "k_ins": "0.2 1/s"},
                         progress=False)
    assert second.metadata["build_dir"] == first.metadata["build_dir"]
    assert _objects(second.metadata["build_dir"]) == before, "nothing was recompiled"
    # one program for every duration: it stops itself at the end of each protocol's
    # simulated time (last_run_info has 6 significant digits of the compiled duration)
    resolution_s = 1e-5 * float(MAX_SIM_DURATION)
    for res in (first, second):
        sched = res.metadata["schedule"]
        assert sched["program_ran_s"] == pytest.approx(sched["simulated_s"], abs=resolution_s)
        assert sched["simulated_s"] < 0.01 * float(MAX_SIM_DURATION)
    # and the new values took effect: larger synapses give a larger raw response
    r1 = first.fepsp[first.fepsp.pathway == "S2"].epsp_slope_mV_per_ms.iloc[0]
    r2 = second.fepsp[second.fepsp.pathway == "S2"].epsp_slope_mV_per_ms.iloc[0]
    assert r2 > 1.1 * r1
    # outputs carry parameters, protocol, versions and hashes
    out = second.save(tmp_path / "run")
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["parameters"]["g_ampa"]["value"] == "0.6 nS"
    assert meta["parameters"]["g_ampa"]["source"]
    assert set(meta["overrides"]) == {"g_ampa", "k_ins"}
    assert parse_quantity(meta["overrides"]["k_ins"]) == 0.2 / b2.second
    assert meta["protocol"]["events"][0]["at"] == "70 s"
    assert {"brian2", "numpy", "python"} <= set(meta["versions"])
    # and how the engine ran it: the schedule settings and the measurement windows
    assert parse_quantity(meta["schedule"]["settings"]["isolated_tail"]) == ScheduleSettings().isolated_tail
    assert meta["schedule"]["settings"]["max_warp"] == ScheduleSettings().max_warp
    assert parse_quantity(meta["measurement"]["slope_window"]) == SLOPE_WINDOW
    assert "AMPA" in meta["measurement"]["fepsp"]
    assert meta["model_hash"] != first.metadata["model_hash"]
    assert meta["wall_time_s"] > 0
    for name in ("fepsp.csv", "state.csv"):
        assert (out / name).stat().st_size > 100
    # and they read back: tables, metadata and the protocol the run records
    back = bl.Results.load(out)
    pd.testing.assert_frame_equal(back.fepsp, second.fepsp, check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(back.state, second.state, check_exact=False, rtol=1e-12)
    assert back.metadata["overrides"] == second.metadata["overrides"] and back.model is None
    assert {k: v for k, v in back.protocol.to_dict().items() if k != "source"} == {
        k: v for k, v in second.protocol.to_dict().items() if k != "source"}
    assert bl.load_model(second.model) is not None and bl.load_model(second.model).model_hash() == meta["model_hash"]
    t = float(back.fepsp.time_min.iloc[-1])
    assert back.fepsp_at("S2", t) == pytest.approx(second.fepsp_at("S2", t), rel=1e-12)


@pytest.mark.standalone
def test_direct_launch_gives_what_a_launch_through_brian2_gives(monkeypatch):
    """After the first run of a build the program starts straight from its launch record;
    its results equal, bit for bit, those of the same run launched through Brian2.  A record
    that no longer belongs to the program there is not used: the program is built again and
    its record renewed."""
    proto = protocol_from_dict(SHORT)
    kwargs = dict(params={"g_ampa": "0.55 nS"}, trace_windows=[("60 s", "60.1 s")], progress=False)
    monkeypatch.setenv("BIOPHYS_LTP_LAUNCH", "brian2")
    via_brian = bl.simulate(proto, **kwargs)
    monkeypatch.delenv("BIOPHYS_LTP_LAUNCH")
    direct = bl.simulate(proto, **kwargs)
    assert (via_brian.metadata["launch"], direct.metadata["launch"]) == ("brian2", "direct")
    assert direct.metadata["build_dir"] == via_brian.metadata["build_dir"]
    for part in ("fepsp", "state", "traces"):
        pd.testing.assert_frame_equal(getattr(direct, part), getattr(via_brian, part), check_exact=True)
    assert direct.metadata["schedule"] == via_brian.metadata["schedule"]

    record_file = Path(direct.metadata["build_dir"]).parent / "launch.json"
    record = json.loads(record_file.read_text())
    stale = dict(record, program=dict(record["program"], mtime_ns=record["program"]["mtime_ns"] - 1))
    record_file.write_text(json.dumps(stale))
    again = bl.simulate(proto, **kwargs)
    # rebuilt (the record did not match the program there), then started from the new record
    assert again.metadata["launch"] == "direct" and again.metadata["timings_s"]["build_s"] > 0
    assert json.loads(record_file.read_text())["program"] == record["program"]
    pd.testing.assert_frame_equal(again.fepsp, direct.fepsp, check_exact=True)


def test_unknown_launch_setting_fails_before_simulating(monkeypatch):
    monkeypatch.setenv("BIOPHYS_LTP_LAUNCH", "Brian2")
    with pytest.raises(ValueError, match="BIOPHYS_LTP_LAUNCH must be 'auto' or 'brian2', not 'Brian2'"):
        bl.simulate(protocol_from_dict(SHORT), progress=False)


def test_protocol_pathway_missing_from_model_fails_before_simulating():
    bad = dict(SHORT, pathways=["S1", "S4"], events=[])
    with pytest.raises(ValueError, match="S4"):
        bl.simulate(protocol_from_dict(bad), progress=False)


def test_unknown_parameter_fails_before_simulating():
    with pytest.raises(bl.ModelError, match="g_amp"):
        bl.simulate("wtet", params={"g_amp": "1 nS"}, progress=False)
    with pytest.raises(bl.ModelError, match="g_ampa"):
        bl.simulate("wtet", params={"g_ampa": "1 mV"}, progress=False)


@pytest.mark.slow
def test_runtime_target_agrees_with_standalone():
    """The numpy runtime target (for debugging) runs the same equations (on the fixed-step
    reference schedule, the only one it runs)."""
    # one test pulse per pathway (100 ms apart, each measured over the engine's
    # MEASURE_WINDOW), after a short settling: numpy takes ~15 ms per step
    tiny = {"name": "tiny", "duration": "300 ms", "baseline": "250 ms", "test_interval": "10 min",
            "pathways": ["S1", "S2", "S3"]}
    settings = ScheduleSettings(settle=50 * b2.ms)
    rt = bl.simulate(protocol_from_dict(tiny), target="runtime", reference=True, settings=settings, progress=False)
    cpp = bl.simulate(protocol_from_dict(tiny), reference=True, settings=settings, progress=False)
    assert len(cpp.fepsp) == 3
    assert rt.fepsp.epsp_slope_mV_per_ms.to_numpy() == pytest.approx(
        cpp.fepsp.epsp_slope_mV_per_ms.to_numpy(), rel=1e-4)


def test_runtime_target_refuses_the_warped_schedule():
    with pytest.raises(ValueError, match="reference"):
        bl.simulate("smoke", target="runtime", progress=False)


@pytest.mark.standalone
def test_protocol_may_use_a_subset_of_the_pathways():
    """A protocol that names only S2: its rows are S2's (the program numbers pathways as
    the model does), and S2's own tetanus potentiates it."""
    proto = {"name": "S2 only", "duration": "5 min", "baseline": "1 min", "test_interval": "30 s",
             "pathways": ["S2"],
             "events": [{"kind": "weak_tetanus", "pathway": "S2", "at": "75 s"}]}
    res = bl.simulate(proto, progress=False)
    assert set(res.fepsp.pathway) == {"S2"} and set(res.state.pathway) == {"S2"}
    assert res.fepsp_at("S2", 4.5) > 115


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of the processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append((int(stat.parent.name), comm))
    return out


@pytest.mark.standalone
@pytest.mark.skipif(not (sys.platform.startswith("linux") and shutil.which("setpriv")),
                    reason="needs Linux and util-linux's setpriv")
def test_compiled_program_dies_with_the_python_process():
    """A killed run (a test run stopped, a worker killed) must not leave the compiled
    program running on, nor, after the next run, its files."""
    script = ("import biophys_ltp as bl\n"
              "from biophys_ltp.experiments import frequency_protocol\n"
              "from biophys_ltp.protocol import protocol_from_dict\n"
              "bl.simulate(protocol_from_dict(frequency_protocol(1)), progress=False)\n")
    tiny = {"name": "tiny", "duration": "2 s", "baseline": "1 s", "test_interval": "20 s", "pathways": ["S1"]}
    bl.simulate(tiny, progress=False)  # the build and its launch record: the run below starts directly
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 300
        program = None
        while program is None and time.monotonic() < deadline and proc.poll() is None:
            program = next((pid for pid, comm in _children(proc.pid) if comm == "main"), None)
            time.sleep(0.2)
        assert program is not None, "the compiled program did not start"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # the kernel delivers the parent-death signal at once; allow for a loaded machine
        for _ in range(100):
            if not Path(f"/proc/{program}").exists() or "Z" in _state(program):
                break
            time.sleep(0.1)
        assert not Path(f"/proc/{program}").exists() or "Z" in _state(program), "the program outlived its parent"
        # the killed run's folder (in /dev/shm, which is memory) goes with the next run
        scratch = Path("/dev/shm")
        if scratch_dir(Path("no build")) == scratch:
            left = list(scratch.glob(f"{RUN_DIR_PREFIX}{proc.pid}-*"))
            bl.simulate(tiny, progress=False)
            assert left and not any(d.exists() for d in left), left
    finally:
        if proc.poll() is None:
            proc.kill()


def _state(pid: int) -> str:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return text[text.rindex(")") + 2:].split()[0]
