"""The warped schedule against the fixed-step reference, on each family of protocols.

Each protocol runs twice: warped (the engine's schedule) and as the fixed-step reference
(every variable at the fine step all the time).  Every test pulse's fEPSP must agree within
``reference_mode.fepsp_pct`` and ``reference_mode.fepsp_pct_max``, and the tag, late weight
and proteins of every pathway, at every minute the reference samples, within
``reference_mode.state`` (figures/tolerances.toml).  Bursts (strong LFS) and spike-timing
pairings (both routes in one run) run in the default test run (about a minute of reference
on 2 cores, in parallel); 900 pulses at 1 Hz (21 min of biological time, ~2 min of
reference) and the hour-long weak and strong tetanus protocols in the slow run.
"""

from __future__ import annotations

import numpy as np
import pytest

from biophys_ltp.protocol import load_protocol
from biophys_ltp.regression import tolerances

pytestmark = pytest.mark.standalone

AGREEMENT = tolerances("reference_mode")["fepsp_pct"]
AGREEMENT_MAX = tolerances("reference_mode")["fepsp_pct_max"]
STATE_AGREEMENT = tolerances("reference_mode")["state"]
STATE_COLUMNS = ("tag", "late_weight", "proteins")


def _short(name, minutes, event):
    """A 1-min baseline (test pulses every 20 s), an induction of ``minutes`` on S1, 5 min after."""
    return {"name": name, "duration": f"{1 + minutes + 5} min", "baseline": "1 min", "test_interval": "20 s",
            "pathways": ["S1", "S2", "S3"], "events": [dict(event, pathway="S1", at="1 min")]}


# name -> (protocol, what it must do to which pathway for the comparison to mean something)
FAST = {
    "100 strong-LFS bursts": (_short("100 SLFS bursts, +5 min", 2, {"kind": "slfs", "pulses": 100}),
                              {"S1": "depress"}),
    # both spike-timing routes in one run: 60 pairings at 1 Hz on S1 with the spike 10 ms
    # after the pulse and on S2 with the spike 10 ms before it (S2's pairings 400 ms later)
    "60 pairings, +10 ms on S1 and -10 ms on S2": (
        {"name": "60 pairings at +10 ms (S1) and -10 ms (S2), +5 min", "duration": "7 min", "baseline": "1 min",
         "test_interval": "20 s", "pathways": ["S1", "S2", "S3"],
         "events": [{"kind": "pairing", "pathway": "S1", "at": "60.5 s", "dt": "10 ms"},
                    {"kind": "pairing", "pathway": "S2", "at": "60.9 s", "dt": "-10 ms"}]},
        {"S1": "potentiate", "S2": "depress"}),
}


def _first_hour(name):
    """The shipped protocol's induction after a 10-min baseline, and the hour after it."""
    raw = dict(load_protocol(name).raw)
    raw["name"] = f"{raw['name']}: first hour after induction"
    raw["baseline"], raw["duration"] = "10 min", "70 min"
    raw["events"] = [dict(e, at="10 min") for e in raw["events"]]
    return raw


SLOW = {
    "900 pulses at 1 Hz": (_short("900 pulses at 1 Hz, +5 min", 15, {"kind": "wlfs"}), {"S1": "depress"}),
    "weak tetanus, 1 h": ("smoke", {"S1": "potentiate"}),
    "strong tetanus, first hour": (_first_hour("stet"), {"S1": "potentiate"}),
}


def _jobs(protocols):
    """Warped and reference run of each protocol, the (long) references first so that the
    parallel workers finish together."""
    jobs = {(name, "reference"): {"protocol": proto, "reference": True} for name, (proto, _) in protocols.items()}
    jobs.update({(name, "warped"): {"protocol": proto} for name, (proto, _) in protocols.items()})
    return jobs


@pytest.fixture(scope="module")
def fast_runs(runs_once):
    return runs_once(_jobs(FAST))


@pytest.fixture(scope="module")
def slow_runs(runs_once):
    return runs_once(_jobs(SLOW))


def states_agree(run, against, columns, tolerance):
    """Assert that ``run``'s state variables ``columns`` agree with ``against``'s within
    ``tolerance`` at every time ``against`` samples, per pathway (``run`` may sample at other
    times: the end of the step that crosses each minute; interpolated onto ``against``'s)."""
    for pathway, want_rows in against.state.groupby("pathway"):
        rows = run.state[run.state.pathway == pathway]
        for column in columns:
            got = np.interp(want_rows.time_min, rows.time_min, rows[column])
            want = want_rows[column].to_numpy()
            off = np.abs(got - want) > tolerance.rel * np.abs(want) + tolerance.abs
            assert not off.any(), (pathway, column, want_rows.time_min[off].tolist()[:5], got[off][:5], want[off][:5])


def _agree(runs, name, effects):
    warped, reference = runs[(name, "warped")], runs[(name, "reference")]
    assert reference.metadata["schedule"]["speedup"] == pytest.approx(1.0, rel=1e-6)
    assert warped.metadata["schedule"]["speedup"] > 5
    m = warped.fepsp.merge(reference.fepsp, on=["time_min", "pathway"], suffixes=("_w", "_r"))
    assert len(m) == len(warped.fepsp) == len(reference.fepsp)
    change = (m.fepsp_pct_r - 100).abs()
    bound = np.minimum(AGREEMENT.rel * change + AGREEMENT.abs, AGREEMENT_MAX.abs)
    bad = m[(m.fepsp_pct_w - m.fepsp_pct_r).abs() > bound]
    assert bad.empty, bad[["time_min", "pathway", "fepsp_pct_w", "fepsp_pct_r"]].to_string()
    states_agree(warped, reference, STATE_COLUMNS, STATE_AGREEMENT)
    # the comparison means something only where the protocol changes a pathway by far more than
    # the tolerance: by 20 points where it potentiates, 5 where it depresses
    for pathway, effect in effects.items():
        fepsp = m[m.pathway == pathway].fepsp_pct_r
        done = fepsp.max() > 120 if effect == "potentiate" else fepsp.min() < 95
        assert done, f"{pathway} must {effect} for the comparison to mean something"


@pytest.mark.parametrize("name", list(FAST))
def test_warped_matches_reference(fast_runs, name):
    _agree(fast_runs, name, FAST[name][1])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW))
def test_warped_matches_reference_on_long_protocols(slow_runs, name):
    _agree(slow_runs, name, SLOW[name][1])
