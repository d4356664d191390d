"""The Morris screening (biophys_ltp.sensitivity, `biophys-ltp sensitivity`) and its figure.

The fast tests replace the evaluation of the outcomes by a cheap function of the
parameters, whose elementary effects are known; one slow test runs the --quick screening
for real, and the stored figure data (when there are any) are checked and one of their
parameter sets is evaluated again.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biophys_ltp import outcomes as outcomes_module
from biophys_ltp import sensitivity as sens
from biophys_ltp.errors import InputError, ResultError
from biophys_ltp.model import load_model
from biophys_ltp.outcomes import MAIN, Evaluation
from biophys_ltp.units import parse_quantity

DATA = Path(__file__).resolve().parent.parent / "figures" / "data"
STORED_TABLE = DATA / "sensitivity_morris.csv"
STORED_EVALUATIONS = DATA / "sensitivity_evaluations.csv"

# three parameters of known effect: two on a linear range, one on a log range
PARAMS = ["EL", "V_half_ca", "k_ins"]
OUTS = ["wtet_30min", "stet_8h"]


def _u(name: str, text: str) -> float:
    return sens.RANGES[name].position(text)


def known(params: dict[str, str]) -> dict[str, float]:
    """wtet_30min = 3 u_EL (V_half_ca and k_ins do nothing), stet_8h = -2 u_k_ins, with u
    the parameter's normalised coordinate: every elementary effect is exact."""
    return {"wtet_30min": 3.0 * _u("EL", params["EL"]), "stet_8h": -2.0 * _u("k_ins", params["k_ins"])}


class FakeEvaluate:
    """Stands for outcomes.evaluate_many: records the sets it gets and answers with ``fn``."""

    def __init__(self, fn=known, nan_sets=(), fail_on_call=None):
        self.fn, self.nan_sets, self.fail_on_call = fn, set(nan_sets), fail_on_call
        self.calls: list[list[dict[str, str]]] = []

    def __call__(self, param_sets, names=None, **kwargs):
        self.calls.append([dict(p) for p in param_sets])
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise KeyboardInterrupt
        out = []
        for p in param_sets:
            values = {k: v for k, v in self.fn(p).items() if k in names}
            errors = {}
            # sets come in the design's order (nothing stored before): the n-th is set n
            if self.evaluated - len(param_sets) + len(out) in self.nan_sets:
                values["wtet_30min"] = float("nan")
                errors = {"wtet": "SimulationError: made up"}
            out.append(Evaluation(dict(p), values, errors, 1.0))
        return out

    @property
    def evaluated(self) -> int:
        return sum(len(c) for c in self.calls)


@pytest.fixture
def fake(monkeypatch):
    f = FakeEvaluate()
    monkeypatch.setattr(outcomes_module, "evaluate_many", f)
    return f


def _run(out=None, **kw):
    kw = {"params": PARAMS, "outcomes": OUTS, "trajectories": 3, "levels": 4, "seed": 5, "out": out,
          "progress": False, **kw}
    return sens.morris(**kw)


# ---------------------------------------------------------------------------
# ranges and design
# ---------------------------------------------------------------------------

def test_every_fitted_parameter_has_a_range_or_a_stated_exclusion():
    fitted = sens.fitted_parameters()
    assert len(fitted) >= 30
    for name in fitted:
        assert (name in sens.RANGES) != (name in sens.EXCLUDED), name
        reason = sens.RANGES[name].reason if name in sens.RANGES else sens.EXCLUDED[name]
        assert reason.strip(), f"{name}: no reason"
    model = load_model()
    assert set(sens.RANGES) <= set(model.parameters), "a range for a parameter the model does not have"


def test_every_range_contains_the_model_value_and_stays_physical():
    model = load_model()
    names = sens.default_parameters(model)
    sens.check_ranges(names, sens.RANGES, model)  # refuses a range outside the physical limits
    for name in names:
        assert sens.RANGES[name].contains(model[name]), name


def test_the_ranges_follow_the_rule_stated_in_the_file():
    """Log ranges: a factor of 2 either side (the model value is their geometric middle);
    potentials: +-5 mV; n_clones: 1-3."""
    model = load_model()
    for name, r in sens.RANGES.items():
        lo, hi = float(np.asarray(r.low)), float(np.asarray(r.high))
        value = float(np.asarray(model[name]))
        if r.scale == "log":
            assert hi / lo == pytest.approx(4.0, rel=1e-9), name
            assert math.sqrt(lo * hi) == pytest.approx(value, rel=1e-9), name
        elif name == "n_clones":
            assert (lo, hi) == (1.0, 3.0)
        else:
            assert (value - lo, hi - value) == (pytest.approx(0.005), pytest.approx(0.005)), name


def test_the_design_maps_the_unit_hypercube_into_the_ranges():
    names = sens.default_parameters()
    X = sens.design_matrix(names, 3, 4, seed=11)
    assert X.shape == (3 * (len(names) + 1), len(names))
    assert set(np.round(X.ravel(), 9)) <= {0.0, round(1 / 3, 9), round(2 / 3, 9), 1.0}
    # one step per row along a trajectory
    steps = np.count_nonzero(np.abs(np.diff(X.reshape(3, len(names) + 1, -1), axis=1)) > 1e-12, axis=2)
    assert (steps == 1).all()
    sets = sens.parameter_sets(X, names, sens.RANGES)
    for row, values in zip(X, sets):
        for name, u in zip(names, row):
            r = sens.RANGES[name]
            assert r.contains(values[name]), (name, values[name])
            assert r.position(values[name]) == pytest.approx(u, abs=1e-8), name
    k_ins = sens.parse_range("k_ins=0.1/s,0.4/s")  # log: the middle is the geometric mean
    assert float(np.asarray(k_ins.value(0.5))) == pytest.approx(0.2, rel=1e-9)
    assert parse_quantity(k_ins.text(0.0)) == parse_quantity("0.1/s")
    assert parse_quantity(k_ins.text(1.0)) == parse_quantity("0.4/s")
    el = sens.parse_range("EL=-70 mV,-60 mV,linear")  # linear: the middle is the mean
    assert float(np.asarray(el.value(0.5) / parse_quantity("1 mV"))) == pytest.approx(-65.0)


def test_parse_range_and_its_refusals():
    r = sens.parse_range("k_ins=0.1 1/s,0.2 1/s")
    assert r.scale == "log" and r.contains(parse_quantity("0.15 1/s"))
    assert sens.parse_range("EL=-70 mV,-60 mV").scale == "linear"
    for bad in ("k_ins", "k_ins=0.1 1/s", "k_ins=0.2 1/s,0.1 1/s", "k_ins=0 1/s,0.2 1/s,log",
                "k_ins=0.1 1/s,0.2 mV", "k_ins=0.1 1/s,0.2 1/s,cubic"):
        with pytest.raises(InputError):
            sens.parse_range(bad)


# ---------------------------------------------------------------------------
# the screening, with a cheap stand-in for the outcomes
# ---------------------------------------------------------------------------

def test_morris_recovers_known_elementary_effects(fake):
    res = _run()
    t = res.table.set_index(["outcome", "parameter"])
    assert list(res.table.columns) == sens.TABLE_COLUMNS
    assert t.loc[("wtet_30min", "EL"), "mu_star"] == pytest.approx(3.0, rel=1e-6)
    assert t.loc[("wtet_30min", "EL"), "mu"] == pytest.approx(3.0, rel=1e-6)
    assert t.loc[("wtet_30min", "EL"), "mu_star_rel"] == pytest.approx(1.0)
    assert t.loc[("wtet_30min", "V_half_ca"), "mu_star_rel"] == pytest.approx(0.0, abs=1e-9)
    assert t.loc[("stet_8h", "k_ins"), "mu"] == pytest.approx(-2.0, rel=1e-6)  # log range, per normalised unit
    assert t.loc[("stet_8h", "k_ins"), "mu_star"] == pytest.approx(2.0, rel=1e-6)
    assert t.loc[("stet_8h", "EL"), "mu_star"] == pytest.approx(0.0, abs=1e-9)
    assert (res.table.trajectories == 3).all() and (res.table.dropped == 0).all()
    assert sens.insensitive(res.table) == ["V_half_ca"]
    single = sens.single_parameter(res.table).set_index("outcome")
    assert single.loc["wtet_30min", "parameter"] == "EL" and single.loc["stet_8h", "parameter"] == "k_ins"
    assert fake.evaluated == 3 * (len(PARAMS) + 1)


def test_insensitive_and_single_parameter_cutoffs():
    table = pd.DataFrame({"outcome": ["a"] * 3 + ["b"] * 3, "parameter": ["x", "y", "z"] * 2,
                          "mu_star": [10.0, 0.4, 6.0, 1.0, 0.04, 1.0]})
    table["mu_star_rel"] = table.mu_star / table.groupby("outcome").mu_star.transform("max")
    table["share"] = table.mu_star / table.groupby("outcome").mu_star.transform("sum")
    assert sens.insensitive(table) == ["y"]
    assert sens.insensitive(table, threshold=0.01) == []
    single = sens.single_parameter(table)
    assert list(single.outcome) == ["a"] and single.parameter.iloc[0] == "x"  # 10/16.4 > 0.5; b: 1/2.04 < 0.5


def test_the_folder_holds_the_design_and_every_evaluated_set(fake, tmp_path):
    res = _run(tmp_path / "s")
    out = tmp_path / "s"
    for name in (sens.DESIGN_JSON, sens.DESIGN_CSV, sens.EVALUATIONS, sens.TABLE, sens.SUMMARY):
        assert (out / name).is_file(), name
    with open(out / sens.EVALUATIONS, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == res.design["sets"] == 12
    assert rows[0]["k_ins"] == res.evaluations.k_ins.iloc[0]
    assert float(rows[0]["wtet_30min"]) == res.evaluations.wtet_30min.iloc[0]  # exact
    stored = pd.read_csv(out / sens.TABLE)
    assert np.allclose(stored.mu_star, res.table.mu_star)
    import json
    design = json.loads((out / sens.DESIGN_JSON).read_text())
    for key in ("params", "ranges", "trajectories", "levels", "seed", "outcomes", "model_hash", "code", "version",
                "versions"):
        assert key in design, key
    assert design["versions"]["SALib"]


def test_resume_skips_the_stored_sets(monkeypatch, tmp_path):
    out = tmp_path / "s"
    first = FakeEvaluate(fail_on_call=3)  # interrupted in its third batch
    monkeypatch.setattr(outcomes_module, "evaluate_many", first)
    with pytest.raises(KeyboardInterrupt):
        _run(out, batch=2)
    stored = 4  # two batches of two
    second = FakeEvaluate()
    monkeypatch.setattr(outcomes_module, "evaluate_many", second)
    res = _run(out, batch=2)
    assert second.evaluated == 12 - stored and res.skipped == stored and res.ran == 12 - stored
    with open(out / sens.EVALUATIONS, newline="") as fh:
        indices = [int(r["set"]) for r in csv.DictReader(fh)]
    assert sorted(indices) == list(range(12))  # each set once
    third = FakeEvaluate()
    monkeypatch.setattr(outcomes_module, "evaluate_many", third)
    again = _run(out, batch=2)
    assert third.evaluated == 0 and again.skipped == 12
    pd.testing.assert_frame_equal(again.table, res.table)


def test_resume_survives_a_partial_last_line(fake, tmp_path):
    out = tmp_path / "s"
    _run(out)
    path = out / sens.EVALUATIONS
    text = path.read_text()
    path.write_text(text + "12,3,1.0,,-70")  # a write cut short by a kill
    n = fake.evaluated
    _run(out)
    assert fake.evaluated == n
    assert path.read_text() == text


@pytest.mark.parametrize("change", [{"seed": 6}, {"trajectories": 2}, {"outcomes": ["wtet_30min"]},
                                    {"params": ["EL", "k_ins"]},
                                    {"ranges": {"EL": sens.make_range("EL", "-74 mV", "-62 mV", "linear")}}])
def test_resume_refuses_a_changed_design(fake, tmp_path, change):
    out = tmp_path / "s"
    _run(out)
    n = fake.evaluated
    with pytest.raises(InputError, match="another design"):
        _run(out, **change)
    assert fake.evaluated == n


def test_a_folder_holding_something_else_is_refused_and_left_as_it_was(fake, tmp_path):
    """A screening is written only into an empty folder or its own (a sweep's folder once
    got the screening's files beside its own); the refusal leaves no lock file behind."""
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "points.csv").write_text("point_id\n")
    with pytest.raises(InputError, match="is not empty and holds no screening"):
        _run(out)
    assert sorted(p.name for p in out.iterdir()) == ["points.csv"]
    assert fake.evaluated == 0


def test_one_trajectory_gives_no_interval(fake):
    """One elementary effect per parameter has no spread: no mu_star_conf, as no sigma."""
    t = _run(trajectories=1).table
    assert t.mu_star.notna().all() and t.mu_star_conf.isna().all() and t.sigma.isna().all()
    assert _run(trajectories=3).table.mu_star_conf.notna().all()


def test_a_failed_set_drops_its_trajectory_for_the_outcomes_it_reads(monkeypatch):
    f = FakeEvaluate(nan_sets={5})  # set 5 is in trajectory 1 (4 sets per trajectory)
    monkeypatch.setattr(outcomes_module, "evaluate_many", f)
    res = _run()
    t = res.table
    assert (t[t.outcome == "wtet_30min"].trajectories == 2).all()
    assert (t[t.outcome == "wtet_30min"].dropped == 1).all()
    assert (t[t.outcome == "stet_8h"].dropped == 0).all()
    assert res.dropped == {"wtet_30min": 1, "stet_8h": 0}
    assert list(res.failed) == [5] and "made up" in res.failed[5]
    assert res.summary["dropped_trajectories"]["wtet_30min"] == 1
    # the remaining trajectories still give the known effect
    assert t.set_index(["outcome", "parameter"]).loc[("wtet_30min", "EL"), "mu_star"] == pytest.approx(3.0)


def test_all_trajectories_dropped_gives_nan_not_an_error(monkeypatch):
    monkeypatch.setattr(outcomes_module, "evaluate_many",
                        FakeEvaluate(fn=lambda p: {"wtet_30min": float("nan"), "stet_8h": 1.0}))
    res = _run()
    t = res.table[res.table.outcome == "wtet_30min"]
    assert t.mu_star.isna().all() and (t.trajectories == 0).all() and (t.dropped == 3).all()
    assert sens.insensitive(res.table) == ["EL", "V_half_ca", "k_ins"]  # from stet_8h alone: constant


@pytest.mark.parametrize("kw, match", [
    ({"params": ["nope"]}, "unknown parameter"),
    ({"params": ["synapses_per_pathway"]}, "structure"),
    ({"params": ["g_ampa"]}, "no range"),
    ({"outcomes": ["nope"]}, "unknown outcome"),
    ({"trajectories": 0}, "trajectories must be a whole number >= 1"),
    ({"levels": 3}, "even"),
    ({"ranges": {"EL": sens.make_range("EL", "-80 mV", "-75 mV", "linear")}}, "does not contain"),
    ({"ranges": {"k_ins": sens.make_range("k_ins", "-0.1 1/s", "0.3 1/s", "linear")}}, "physical limits"),
])
def test_bad_input_is_refused_before_anything_runs(fake, kw, match):
    with pytest.raises(InputError, match=match):
        _run(**kw)
    assert fake.evaluated == 0


# ---------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------

def _cli(capsys, *argv):
    from biophys_ltp.cli import main
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args", [
    ["--params", "nope"],
    ["--outcomes", "wtet_30min,nope"],
    ["--trajectories", "0"],
    ["--levels", "5"],
    ["--range", "k_ins=-0.1 1/s,0.3 1/s,linear"],
    ["--range", "k_ins=0.3 1/s"],
    ["--quick", "--range", "g_vdcc=1 mS/cm**2,4 mS/cm**2"],
    ["--margins", "--trajectories", "2"],
])
def test_cli_bad_input_exits_2_with_one_line(capsys, fake, tmp_path, args):
    code, out, err = _cli(capsys, "sensitivity", "--out", str(tmp_path / "s"), *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("biophys-ltp: error: ")
    assert fake.evaluated == 0


def test_cli_quick_prints_the_ranking_and_the_summaries(capsys, monkeypatch, tmp_path):
    fake = FakeEvaluate(fn=lambda p: {"wtet_30min": 5.0 * _u("k_ins", p["k_ins"]),
                                      "stet_8h": 2.0 * _u("theta_signal", p["theta_signal"])})
    monkeypatch.setattr(outcomes_module, "evaluate_many", fake)
    code, out, err = _cli(capsys, "sensitivity", "--quick", "--out", str(tmp_path / "s"), "--quiet")
    assert code == 0, err
    assert fake.evaluated == len(sens.QUICK_PARAMS) + 1
    assert "parameters no outcome depends on (mu* < 5% of each outcome's largest): tau_bap" in out
    assert "wtet_30min: k_ins (100%)" in out and "stet_8h: theta_signal (100%)" in out
    assert "wtet_30min" in out and (tmp_path / "s" / sens.TABLE).is_file()
    table = pd.read_csv(tmp_path / "s" / sens.TABLE)
    assert set(table.parameter) == set(sens.QUICK_PARAMS) and set(table.outcome) == set(sens.QUICK_OUTCOMES)


# ---------------------------------------------------------------------------
# threshold margins
# ---------------------------------------------------------------------------

def test_threshold_margins_name_the_nearest_signatures():
    rows = [("theta_kin", "triplet", 6.0, "uM"), ("theta_kin", "tetanus", 15.0, "uM"),
            ("theta_kin", "epsp", 2.0, "uM"), ("theta_signal", "WTET", 1.5, "1"), ("theta_signal", "STET", 3.5, "1")]
    sig = pd.DataFrame(rows, columns=["threshold", "signature", "value", "unit"])
    # the thresholds' values are the test's own, not the model file's
    m = sens.threshold_margins(sig, params={"theta_kin": "9 uM", "theta_signal": "2.5"}).set_index("threshold")
    kin = m.loc["theta_kin"]
    assert kin.value == pytest.approx(9.0)
    assert (kin.below, kin.above) == ("triplet", "tetanus")
    assert kin.margin_below == pytest.approx(3 / 9) and kin.margin_above == pytest.approx(6 / 9)
    assert kin.margin == pytest.approx(3 / 9) and kin.nearest == "below"
    sig_row = m.loc["theta_signal"]
    assert sig_row.margin == pytest.approx(0.4) and sig_row.nearest == "below"
    assert math.isnan(m.loc["theta_camp"].margin)  # no signature given
    assert "theta_kin = 9 uM" in sens.margins_text(m.reset_index())


# ---------------------------------------------------------------------------
# the figure
# ---------------------------------------------------------------------------

def test_figure_copies_a_screening_and_draws_it(fake, tmp_path, monkeypatch):
    from conftest import load_figure
    fig = load_figure("sensitivity")
    _run(tmp_path / "s")
    monkeypatch.delenv(fig.SCREENING_ENV, raising=False)
    data = tmp_path / "data"
    fig.compute(data, screening=tmp_path / "s")
    assert all((data / f).is_file() for f in fig.DATA_FILES)
    import json
    side = json.loads((data / "sensitivity.json").read_text())
    assert side["stale"] and side["inputs_hash"] != fig.inputs_hash()  # not the figure's design
    assert side["design"]["params"] == PARAMS and side["summary"]["insensitive"] == ["V_half_ca"]
    paths = fig.plot(data, tmp_path / "pictures")
    assert {p.suffix for p in paths} == {".png", ".svg"} and all(p.stat().st_size > 5_000 for p in paths)
    # without a screening folder the stored data are kept
    monkeypatch.setattr(fig, "SCREENING_DIR", tmp_path / "none")
    before = (data / fig.DATA_FILES[0]).read_bytes()
    fig.compute(data)
    assert (data / fig.DATA_FILES[0]).read_bytes() == before
    # and without either it says how to make them
    with pytest.raises(ResultError, match="biophys-ltp sensitivity --out"):
        fig.compute(tmp_path / "empty")


# ---------------------------------------------------------------------------
# for real
# ---------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.standalone
def test_quick_screening_runs(capsys, tmp_path):
    """`biophys-ltp sensitivity --quick`: 4 parameter sets x 2 runs (WTET, STET)."""
    code, out, err = _cli(capsys, "sensitivity", "--quick", "--out", str(tmp_path / "s"), "--workers", "1",
                          "--quiet")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "s" / sens.TABLE)
    assert len(table) == len(sens.QUICK_PARAMS) * len(sens.QUICK_OUTCOMES)
    assert np.isfinite(table.mu_star).all() and (table.mu_star >= 0).all()
    assert (table.trajectories == 1).all()


# ---------------------------------------------------------------------------
# the stored figure data
# ---------------------------------------------------------------------------

stored = pytest.mark.skipif(not (STORED_TABLE.is_file() and STORED_EVALUATIONS.is_file()),
                            reason="no stored screening yet (figures/data/sensitivity_morris.csv): run "
                                   "'biophys-ltp sensitivity --out out/sensitivity', then "
                                   "'biophys-ltp reproduce sensitivity'")


@stored
def test_stored_screening_covers_every_fitted_parameter_and_outcome():
    table = pd.read_csv(STORED_TABLE)
    assert list(table.columns) == sens.TABLE_COLUMNS
    assert set(sens.default_parameters()) <= set(table.parameter)
    assert set(table.outcome) == set(MAIN)
    mu_star = table.mu_star.to_numpy(float)
    assert (mu_star[np.isfinite(mu_star)] >= 0).all()
    assert (table.trajectories + table.dropped).nunique() == 1


@stored
@pytest.mark.slow
@pytest.mark.standalone
def test_a_stored_parameter_set_gives_its_stored_outcomes():
    """The first stored parameter set evaluated again (13 runs, ~40 s of CPU; in the slow
    step): the stored screening still describes the current code and model."""
    from biophys_ltp.outcomes import evaluate_many
    from biophys_ltp.regression import tolerances

    with open(STORED_EVALUATIONS, newline="") as fh:
        row = next(csv.DictReader(fh))
    names = [o for o in MAIN if o in row]
    params = {k: v for k, v in row.items() if k not in names and k not in ("set", "trajectory", "wall_s", "errors")}
    assert set(params) >= set(sens.default_parameters())
    new = evaluate_many([params], names, workers=2, progress=False)[0]
    tol = tolerances("sensitivity")["outcome"]
    problems = []
    for name in names:
        s, r = float(row[name]), new.values[name]
        if math.isnan(s) and math.isnan(r):
            continue
        if not abs(r - s) <= tol.abs + tol.rel * abs(s):
            problems.append(f"{name}: stored {s:.6g}, now {r:.6g}")
    assert not problems, "; ".join(problems) + f" ({tol.reason})"
