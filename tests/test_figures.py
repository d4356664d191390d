"""Figure regression tests: recompute each figure's data and compare with the stored data."""

from __future__ import annotations

import brian2 as b2
import pandas as pd
import pytest

from biophys_ltp.regression import compare, tolerances

pytestmark = pytest.mark.standalone


def test_ltp_phases_data_match_stored(ltp_phases):
    fig, results = ltp_phases
    fepsp, state, _traces = fig.tidy(results)
    stored = fig.load()
    problems = compare("ltp_phases", stored["fepsp"], fepsp, keys=["protocol", "pathway", "time_min"])
    problems += compare("ltp_phases", stored["state"], state, keys=["protocol", "time_min"])
    assert not problems, "\n\n".join(problems)


def _two_pathway_data_match_stored(name, fixture):
    fig, results = fixture
    fepsp, state = fig.tidy(results)
    stored = fig.load()
    problems = compare(name, stored["fepsp"], fepsp, keys=["protocol", "pathway", "time_min"])
    problems += compare(name, stored["state"], state, keys=["protocol", "pathway", "time_min"])
    assert not problems, "\n\n".join(problems)


def test_tagging_data_match_stored(tagging):
    _two_pathway_data_match_stored("tagging", tagging)


def test_ltd_crosstag_data_match_stored(ltd_crosstag):
    _two_pathway_data_match_stored("ltd_crosstag", ltd_crosstag)


def test_biophysics_data_match_stored(biophysics_figure):
    fig, results = biophysics_figure
    new = fig.tidy(results)
    stored = fig.load()
    keys = {"mg": ["v_mV"], "ca_traces": ["time_ms"], "pairing": ["offset_ms"], "bap": ["distance_um"]}
    problems = []
    for part, k in keys.items():
        problems += compare("biophysics", stored[part], new[part], keys=k)
    assert not problems, "\n\n".join(problems)


def test_capture_sweep_data_match_stored(tmp_path):
    """Two stored points of the capture sweep recomputed with biophys_ltp.sweep (two workers,
    one 17-h simulation each): default threshold, WTET 1 h before (partial capture) and 1 h
    after (full capture) the STET."""
    from conftest import load_figure
    fig = load_figure("capture_sweep")
    delays, thetas = [-1.0, 1.0], [fig.DEFAULT_THETA]
    res = fig.run_sweep(tmp_path / "sweep", delays, thetas, workers=2, progress=False)
    new = fig.tidy(res)
    stored = fig.load()
    stored = stored[stored.delay_h.isin(delays) & stored.theta_signal.isin(thetas)]
    assert len(stored) == len(delays) * len(thetas)
    problems = compare("capture_sweep", stored, new, keys=["delay_h", "theta_signal"])
    assert not problems, "\n\n".join(problems)


def test_practice_data_match_stored(repetition):
    """Repetition and spacing of 100-Hz trains (the ten runs of the `repetition` fixture):
    fEPSP of S1 and S2, S1's slow state and the summary at 8 h against the stored data."""
    from conftest import load_figure
    fig = load_figure("practice")
    new = fig.tidy(repetition)
    stored = fig.load()
    keys = {"fepsp": ["key", "pathway", "time_min"], "state": ["key", "time_min"],
            "summary": ["trains", "spacing_min"]}
    problems = []
    for part, k in keys.items():
        problems += compare("practice", stored[part], new[part], keys=k)
    assert not problems, "\n\n".join(problems)


def test_spacing_data_match_stored(tbs_spacing, learning_day):
    """Spaced theta bursts (the four runs of `tbs_spacing`) and the learning day (the three
    runs of `learning_day`): fEPSP of S1 and S2, the TBS summary and S1's slow state over
    the day against the stored data."""
    from conftest import load_figure
    fig = load_figure("spacing")
    new = fig.tidy(tbs_spacing, learning_day)
    stored = fig.load()
    keys = {"tbs_fepsp": ["gap_min", "pathway", "time_min"], "tbs_summary": ["gap_min"],
            "day_fepsp": ["key", "pathway", "time_min"], "day_state": ["key", "time_min"]}
    problems = []
    for part, k in keys.items():
        problems += compare("spacing", stored[part], new[part], keys=k)
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize("name", ["ltp_phases", "tagging", "ltd_crosstag", "biophysics", "capture_sweep", "spatial_capture", "heterosynaptic",
                                  "practice", "spacing", "induction", "validation", "sensitivity"])
def test_plot_draws_from_stored_data(name, tmp_path):
    from conftest import load_figure
    fig = load_figure(name)
    paths = fig.plot(out_dir=tmp_path)
    assert {p.suffix for p in paths} == {".png", ".svg"}
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_regression_compare_reports_rows_and_columns():
    tol = tolerances("ltp_phases")
    stored = pd.DataFrame({"protocol": ["STET"] * 3, "time_min": [0.0, 5.0, 10.0],
                           "pathway": ["S1"] * 3, "fepsp_pct": [100.0, 150.0, 140.0]})
    new = stored.copy()
    assert compare("ltp_phases", stored, new, ["protocol", "pathway", "time_min"], tol) == []
    new.loc[1, "fepsp_pct"] += 2 * tol["fepsp_pct"].abs
    problems = compare("ltp_phases", stored, new, ["protocol", "pathway", "time_min"], tol)
    assert len(problems) == 1 and "fepsp_pct" in problems[0] and "5.0" in problems[0]


def test_regression_test_catches_a_10_percent_parameter_change():
    """The stored-data comparison is sensitive enough: +10 % on one fitted parameter fails it."""
    import biophys_ltp as bl
    from conftest import load_figure

    fig = load_figure("tagging")
    label = "WTET on S2 alone"
    k_ins = bl.load_model()["k_ins"]
    res = bl.simulate(fig.PROTOCOLS[label], params={"k_ins": 1.1 * k_ins}, progress=False)
    fepsp, state = fig.tidy({label: res})
    stored = fig.load()
    problems = compare("tagging", stored["fepsp"].query("protocol == @label"), fepsp,
                       keys=["protocol", "pathway", "time_min"])
    problems += compare("tagging", stored["state"].query("protocol == @label"), state,
                        keys=["protocol", "pathway", "time_min"])
    assert problems, "a 10 % larger k_ins went unnoticed"
    assert any("fepsp_pct" in p for p in problems)


def test_run_sidecar_names_every_run_and_its_inputs():
    import time
    from types import SimpleNamespace

    from conftest import load_figure
    load_figure("practice")  # puts figures/ on sys.path for _common
    import _common as common

    def fake(name):
        return SimpleNamespace(metadata={"model_hash": "m1", "versions": {"brian2": "x"}},
                               protocol=SimpleNamespace(name=name))
    runs = {("stdp", 10.0, False): fake("pairing"), "1x0": fake("one train")}
    side = common.run_sidecar({"name": "demo"}, "abc", runs, time.perf_counter(), {"col": "meaning"}, extra=1)
    assert side["protocols"] == {"stdp 10.0 False": "pairing", "1x0": "one train"}
    assert side["model_hash"] == "m1" and side["inputs_hash"] == "abc" and side["extra"] == 1
    assert side["columns"] == {"col": "meaning"} and side["wall_time_s"] >= 0


def test_stored_data_go_stale_when_the_schedule_or_the_measurement_changes(monkeypatch):
    """A figure's inputs hash covers the engine's schedule settings and measurement windows,
    which change results without changing the model."""
    from conftest import load_figure
    load_figure("practice")  # puts figures/ on sys.path for _common
    import _common as common
    from biophys_ltp import engine, schedule

    before = common.inputs_hash(["smoke"])
    assert common.inputs_hash(["smoke"]) == before
    settings = schedule.ScheduleSettings
    monkeypatch.setattr(schedule, "ScheduleSettings",
                        lambda: settings(isolated_tail=settings().isolated_tail + 10 * b2.ms))
    tail_changed = common.inputs_hash(["smoke"])
    monkeypatch.setattr(schedule, "ScheduleSettings", settings)
    monkeypatch.setattr(engine.network, "SLOPE_WINDOW", engine.SLOPE_WINDOW * 2)
    window_changed = common.inputs_hash(["smoke"])
    assert len({before, tail_changed, window_changed}) == 3


def test_a_redrawn_figure_is_byte_for_byte_the_same(tmp_path):
    """Redrawing an unchanged figure leaves its files, and so the git tree, unchanged (an
    SVG carries no date and no random element ids)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from conftest import load_figure
    load_figure("practice")  # puts figures/ on sys.path for _common
    import _common as common

    def draw(folder):
        common.style()
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [100, 150, 140], "o-")
        ax.set_xlabel("time (min)")
        return {p.name: p.read_bytes() for p in common.save(fig, tmp_path / folder, "demo")}

    first, second = draw("a"), draw("b")
    assert set(first) == {"demo.png", "demo.svg"}
    assert first == second
