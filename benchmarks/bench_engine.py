"""Benchmark of the engine: the cost of a fine step against the engine of commit 1c274b0 and
against NEURON, and the wall time of long protocols.

Run: ``.venv/bin/python benchmarks/bench_engine.py [--rounds 3] [--variants 1x,2x,6x]``

Prints, each measured in this one run (these machines are shared and their speed drifts,
so only numbers taken side by side are compared):

1. **Cost of a fine step** for the model's cell and for two larger variants of it, built
   only for the benchmark (``VARIANTS``: more spines per pathway, finer trunk, more places
   for new spines; about 2x and 6x the compartments and synapses): wall time per step and
   per compartment-step of

   * this engine;
   * the engine of commit 1c274b0 (before the work on its speed), from a git worktree of
     that commit beside this checkout (its own builds, same cache);
   * NEURON on the cell's twin: the same morphology (sections, lengths, diameters,
     compartments), NEURON's ``hh`` where the model has Hodgkin-Huxley channels and
     ``pas`` everywhere, one ``Exp2Syn`` per spine head, fixed step ``dt``, backward Euler
     (NEURON's default, as the model's cable solver).

   A step's cost is the difference of the program times of two fixed-step runs (every
   variable at the fine step; 4 s and 12 s of simulated time) over the difference of their
   steps, so start-up and the writing of results cancel.  The engines and NEURON take
   turns, ``--rounds`` times; the fastest of each is reported.

2. **Protocols** with a warm build, wall time of ``simulate()``: the 10-h strong tetanus
   (three pathways, test pulses every 5 min), 900 pulses at 1 Hz followed by 60 min (the
   induction figure's), strong LFS followed by 8 h, and the 10-h strong tetanus on a cell
   with a realistic number of synapses (``LAYOUT_MODEL``, models/ca1_layout.toml: 50 spines
   per pathway, the pathways alternating along six shared oblique branches leaving the trunk
   150-275 um from the soma; ~500 compartments), and the same without the crosstalk between
   its spines (``crosstalk_length`` 0: no pairs; what the pairs cost is the ratio of
   the two, measured in the same run) and with five spines to each 20-um compartment of its
   oblique branches instead of one (``oblique_compartments_per_spine`` 0.2: what the
   model's one compartment per spine costs); the fine steps each takes, and the
   speed-up of the warped schedule over the fixed-step reference for the 10-h protocol
   (the reference's cost from the step cost above: it costs the same per simulated second
   whatever happens).

3. The 1-h smoke protocol started through Brian2 and from the build's launch record.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
BASELINE_COMMIT = "1c274b0"
# structure overrides of the benchmark's variants of the model's cell
VARIANTS = {
    "1x": {},
    "2x": {"synapses_per_pathway": 10, "trunk_compartments": 12, "new_spine_slots": 2},
    "6x": {"synapses_per_pathway": 36, "trunk_compartments": 24, "new_spine_slots": 4},
}
# the realistic-layout model (models/ca1_layout.toml: 50 spines per pathway, the three
# pathways alternating along six shared oblique branches that leave the trunk 150-275 um
# from the soma), timed on the 10-h protocol
LAYOUT_MODEL = "ca1_layout"
SHORT_S, LONG_S = 4, 12  # simulated seconds of the two fixed-step runs


# ----------------------------------------------------------------------------- workers
def _fixed_step_protocol(seconds: int) -> dict:
    return {"name": f"fixed-step benchmark, {seconds} s", "duration": f"{seconds} s",
            "baseline": f"{seconds - 1} s", "test_interval": "20 s", "pathways": ["S1", "S2", "S3"],
            "events": []}


def _size(model) -> tuple[int, int]:
    morpho, _ = model.morphology()
    return int(morpho.total_compartments), len(model.pathways) * (model.n_syn + model.n_slots)


def worker_engine(variant: str) -> dict:
    """Step cost of whichever biophys_ltp is importable (this one, or the baseline's)."""
    import biophys_ltp as bl
    model = bl.load_model(overrides=VARIANTS[variant])
    bl.simulate(_fixed_step_protocol(SHORT_S), model=model, reference=True, progress=False)  # warm build
    run = {}
    for seconds in (SHORT_S, LONG_S):
        res = bl.simulate(_fixed_step_protocol(seconds), model=model, reference=True, progress=False)
        sched = res.metadata["schedule"]
        run[seconds] = (res.metadata["timings_s"]["run_s"], sched["simulated_s"] / (sched["dt_ms"] * 1e-3))
    (t1, n1), (t2, n2) = run[SHORT_S], run[LONG_S]
    compartments, synapses = _size(model)
    return {"s_per_step": (t2 - t1) / (n2 - n1), "compartments": compartments, "synapses": synapses}


def worker_neuron(variant: str) -> dict:
    """Step cost of the NEURON twin of the variant's cell."""
    import brian2 as b2
    from neuron import h

    import biophys_ltp as bl
    model = bl.load_model(overrides=VARIANTS[variant])
    morpho, idx = model.morphology()
    p, s = model.parameters, model.structure
    with_hh = set(int(i) for part in ("soma", "trunk", "basal", "tuft", "oblique_all") for i in idx[part].ravel())
    heads = set(int(i) for part in ("head", "slot_head") for i in idx[part].ravel())
    um = b2.um
    sections, synapses = [], []

    def build(brian_section, parent):
        sec = h.Section(name=f"sec{len(sections)}")
        sections.append(sec)
        if isinstance(brian_section, b2.Soma):
            sec.L = sec.diam = float(brian_section.diameter[0] / um)
            sec.nseg = 1
        else:
            sec.L = float(sum(brian_section.length) / um)
            sec.diam = float(brian_section.diameter[0] / um)
            sec.nseg = int(brian_section.n)
        sec.cm = float(s["Cm"].value / (b2.uF / b2.cm**2))
        sec.Ra = float(s["Ri"].value / (b2.ohm * b2.cm))
        sec.insert("pas")
        for seg in sec:
            seg.pas.g = float(p["gL"].value / (b2.siemens / b2.cm**2))
            seg.pas.e = float(p["EL"].value / b2.mV)
        first = int(brian_section.indices[0])
        if first in with_hh:
            sec.insert("hh")
            soma = isinstance(brian_section, b2.Soma)
            for seg in sec:
                seg.hh.gnabar = float(p["gNa_soma" if soma else "gNa_dend"].value / (b2.siemens / b2.cm**2))
                seg.hh.gkbar = float(p["gK_soma" if soma else "gK_dend"].value / (b2.siemens / b2.cm**2))
                seg.hh.gl = 0.0
        if first in heads:
            syn = h.Exp2Syn(sec(0.5))
            syn.tau1 = float(p["tau_ampa_r"].value / b2.ms)
            syn.tau2 = float(p["tau_ampa_d"].value / b2.ms)
            synapses.append(syn)
        if parent is not None:
            sec.connect(parent(1), 0)
        for child in brian_section.children:
            build(child, sec)

    build(morpho, None)
    stim = h.NetStim()
    stim.interval, stim.number, stim.start, stim.noise = 2000.0, 1e9, 100.0, 0
    cons = [h.NetCon(stim, syn, 0, 0, float(p["g_ampa"].value / b2.uS)) for syn in synapses]
    h.celsius = 6.3 + 10 * math.log(float(p["phi_hh"].value)) / math.log(3)  # HH's Q10 = 3
    h.load_file("stdrun.hoc")
    h.CVode().active(0)
    h.secondorder = 0
    dt_ms = float(model.dt / b2.ms)
    h.dt = dt_ms
    h.steps_per_ms = 1.0 / dt_ms
    wall = {}
    for seconds in (SHORT_S, LONG_S):
        h.finitialize(float(p["EL"].value / b2.mV))
        t0 = time.perf_counter()
        h.continuerun(seconds * 1000.0)
        wall[seconds] = time.perf_counter() - t0
    steps = (LONG_S - SHORT_S) * 1000.0 / dt_ms
    compartments = sum(sec.nseg for sec in sections)
    del cons
    return {"s_per_step": (wall[LONG_S] - wall[SHORT_S]) / steps, "compartments": compartments,
            "synapses": len(synapses)}


# --------------------------------------------------------------------------- orchestra
def _baseline_tree() -> Path | None:
    """A worktree of BASELINE_COMMIT (made once, in the build cache's folder)."""
    from biophys_ltp.engine import cache_dir
    if not (ROOT / ".git").exists():
        print("(not a git checkout: no baseline engine)")
        return None
    tree = cache_dir() / "bench" / f"engine-{BASELINE_COMMIT}"
    if not (tree / "biophys_ltp").is_dir():
        tree.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--force", "--detach", str(tree),
                               BASELINE_COMMIT], capture_output=True, text=True)
        if done.returncode:
            print(f"(no worktree of {BASELINE_COMMIT}: {done.stderr.strip()})")
            return None
    return tree


def _run_worker(kind: str, variant: str, tree: Path | None) -> dict | None:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, str(HERE), "--worker", kind, variant], env=env,
                          capture_output=True, text=True)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    print(f"  ({kind} {variant} failed: {' / '.join(tail)})")
    return None


def step_costs(variants: list[str], rounds: int) -> dict:
    baseline = _baseline_tree()
    try:
        import neuron  # noqa: F401
        has_neuron = True
    except ImportError:
        has_neuron = False
        print("(NEURON is not installed: pip install neuron; no twin timings)")
    runners = {"this engine": ("engine", ROOT), f"engine of {BASELINE_COMMIT}": ("engine", baseline),
               "NEURON twin": ("neuron", ROOT)}
    if baseline is None:
        runners.pop(f"engine of {BASELINE_COMMIT}")
    if not has_neuron:
        runners.pop("NEURON twin")
    results: dict = {}
    for variant in variants:
        best: dict[str, dict] = {}
        for _ in range(rounds):
            for name, (kind, tree) in runners.items():
                got = _run_worker(kind, variant, tree)
                if got and (name not in best or got["s_per_step"] < best[name]["s_per_step"]):
                    best[name] = got
        results[variant] = best
        ours = best.get("this engine")
        print(f"\n{variant}: " + (f"{ours['compartments']} compartments, {ours['synapses']} synapses" if ours else ""))
        for name, got in best.items():
            ratio = (f"  ({got['s_per_step'] / ours['s_per_step']:.2f}x this engine's)"
                     if ours and name != "this engine" else "")
            print(f"  {name:22s} {got['s_per_step'] * 1e6:6.2f} us per step, "
                  f"{got['s_per_step'] * 1e9 / got['compartments']:5.1f} ns per compartment-step "
                  f"({got['compartments']} compartments){ratio}")
    return results


def protocols(step_s: float | None) -> None:
    import biophys_ltp as bl
    from biophys_ltp.experiments import frequency_protocol
    from biophys_ltp.protocol import protocol_from_dict

    bl.simulate("smoke", progress=False)  # warm build
    slfs = {"name": "strong LFS, then 8 h", "duration": "9 h", "baseline": "30 min", "test_interval": "5 min",
            "pathways": ["S1", "S2", "S3"], "events": [{"kind": "slfs", "pathway": "S1", "at": "30 min"}]}
    cases = [("10-h strong tetanus", "stet", 3.0, None),
             ("900 pulses at 1 Hz + 60 min", protocol_from_dict(frequency_protocol(1)), 8.0, None),
             ("strong LFS + 8 h", slfs, 15.0, None),
             ("10-h STET, ca1_layout", "stet", 10.0, LAYOUT_MODEL),
             # the same cell without the crosstalk's pairs of spines (a build of its own):
             # what the crosstalk costs, as the ratio of the two
             ("10-h STET, ca1_layout, no crosstalk", "stet", 10.0,
              bl.load_model(LAYOUT_MODEL).with_overrides({"crosstalk_length": "0 um"})),
             # spines sharing the oblique compartments (five to a 20-um compartment): what
             # one compartment per spine costs, as the ratio of the two (the accuracy it buys:
             # README, "The oblique compartments")
             ("10-h STET, ca1_layout, 0.2 compartments per spine", "stet", 10.0,
              bl.load_model(LAYOUT_MODEL).with_overrides({"oblique_compartments_per_spine": "0.2"}))]
    print("\nProtocols (warm build; wall time of simulate(), best of 2):")
    stet_wall = layout_wall = None
    for label, proto, target, model in cases:
        if model:
            bl.simulate("smoke", model, progress=False)  # warm build
        walls = []
        for _ in range(2):
            t0 = time.perf_counter()
            res = bl.simulate(proto, model, progress=False)
            walls.append(time.perf_counter() - t0)
        sched = res.metadata["schedule"]
        steps = sched["simulated_s"] / (sched["dt_ms"] * 1e-3)
        wall = min(walls)
        if proto == "stet" and not model:
            stet_wall, stet_bio = wall, sched["biological_s"]
        if proto == "stet" and model == LAYOUT_MODEL:
            layout_wall = wall
        if proto == "stet" and isinstance(model, bl.Model):
            what = "the crosstalk pairs" if "no crosstalk" in label else "one compartment per spine"
            label += f" ({what} cost {100 * (layout_wall / wall - 1):+.1f} %)"
        cell = res.metadata["cell"]
        print(f"  {label:28s} {wall:5.2f} s  ({steps / 1e6:.2f} million fine steps, {sched['simulated_s']:.1f} s "
              f"simulated, {cell['compartments']} compartments; target {target:g} s: "
              f"{'met' if wall <= target else 'NOT met'})")
    if step_s and stet_wall:
        ref = stet_bio / float(bl.load_model().dt) * step_s
        print(f"  fixed-step reference for the 10-h protocol: {ref:.0f} s ({ref / 3600:.1f} h) at the step cost "
              f"above; the warped schedule is {ref / stet_wall:.0f}x faster")


def launches() -> None:
    import biophys_ltp as bl
    walls = {}
    for launch in ("brian2", "auto"):
        os.environ["BIOPHYS_LTP_LAUNCH"] = launch
        t0 = time.perf_counter()
        res = bl.simulate("smoke", progress=False)
        walls[res.metadata["launch"]] = (time.perf_counter() - t0, res.metadata["timings_s"])
    os.environ.pop("BIOPHYS_LTP_LAUNCH")
    (wb, tb), (wd, td) = walls["brian2"], walls["direct"]
    print(f"\n1-h smoke protocol, warm build: through Brian2 {wb:.1f} s (set-up and build check "
          f"{tb['setup_s'] + tb['build_s']:.1f} s, compiled program {tb['run_s']:.2f} s); from the launch "
          f"record {wd:.2f} s (set-up {td['setup_s']:.2f} s, compiled program {td['run_s']:.2f} s)")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        kind, variant = sys.argv[2], sys.argv[3]
        print(json.dumps((worker_engine if kind == "engine" else worker_neuron)(variant)))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--variants", default="1x,2x,6x")
    ap.add_argument("--skip-steps", action="store_true", help="only the protocols")
    args = ap.parse_args()
    import brian2
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"Python {platform.python_version()}, brian2 {brian2.__version__}")
    step_s = None
    if not args.skip_steps:
        print("\nCost of a fine step (fixed-step runs; the fastest of each over the rounds):")
        costs = step_costs([v for v in args.variants.split(",") if v], args.rounds)
        ours = costs.get("1x", {}).get("this engine")
        step_s = ours["s_per_step"] if ours else None
    protocols(step_s)
    launches()


if __name__ == "__main__":
    main()
