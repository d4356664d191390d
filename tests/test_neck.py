"""The spine neck follows the head: a grown spine's neck conducts more (issue 7).

Measured in the model's own traces: during a test pulse the head's voltage above the
middle of its neck, divided by the head's synaptic and Ca2+-channel current, is the
resistance of that half of the neck as the head current sees it (the head's capacitance is
negligible, so this holds at every instant of the EPSP; only this spine's current flows
there, unlike in the parent dendrite, which carries the other spines' currents too).
After a strong tetanus the head has grown; its neck resistance must then have fallen by
the factor 1 + neck_scaling*growth, and not at all with neck_scaling = 0.
"""

from __future__ import annotations

import numpy as np
import pytest

import biophys_ltp as bl
from biophys_ltp.protocol import protocol_from_dict
from biophys_ltp.regression import tolerances

pytestmark = pytest.mark.standalone

TOL = tolerances("spine_neck")

# STET on S1 after a 30-min baseline; the head has grown by the late test pulse
PROTOCOL = {"name": "STET, neck check", "duration": "5 h", "baseline": "30 min", "test_interval": "5 min",
            "pathways": ["S1", "S2", "S3"], "events": [{"kind": "strong_tetanus", "pathway": "S1", "at": "30 min"}]}
BEFORE_MIN, AFTER_MIN = 20.0, 270.0  # S1 test pulses (every 5 min from 0) before and long after STET


def _windows():
    return [(f"{t * 60 - 0.01} s", f"{t * 60 + 0.05} s") for t in (BEFORE_MIN, AFTER_MIN)]


def _neck_resistance(traces, t_pulse_s: float) -> np.ndarray:
    """Head-to-neck resistance (ohm) at every step of the first 20 ms after the pulse
    where the head current is above a tenth of its peak (a ratio of small numbers
    elsewhere)."""
    head = traces[traces.compartment == "S1_spine"].set_index("time_s")
    neck = traces[traces.compartment == "S1_neck"].set_index("time_s")
    win = (head.index >= t_pulse_s) & (head.index < t_pulse_s + 0.02)
    i_head = head.i_head_pA[win].to_numpy() * 1e-12  # inward positive (Brian2's convention)
    dv = (head.v_mV[win].to_numpy() - neck.v_mV[win].to_numpy()) * 1e-3
    big = i_head > 0.1 * i_head.max()
    return dv[big] / i_head[big]


@pytest.fixture(scope="module")
def neck_runs():
    proto = protocol_from_dict(PROTOCOL)
    runs = bl.simulate_many({str(scaling): {"protocol": proto, "params": {"neck_scaling": scaling},
                                            "trace_windows": _windows()} for scaling in (0.0, 1.0)})
    return {float(key): res for key, res in runs.items()}


def _ratio(res) -> float:
    before = _neck_resistance(res.traces, BEFORE_MIN * 60)
    after = _neck_resistance(res.traces, AFTER_MIN * 60)
    # the same resistance at every instant: the head follows its currents at once
    for r in (before, after):
        assert np.ptp(r) <= TOL["resistance_spread"].rel * np.median(r), r
    return float(np.median(after) / np.median(before))


def test_neck_resistance_is_unchanged_without_neck_scaling(neck_runs):
    res = neck_runs[0.0]
    growth = res.state_at("S1", AFTER_MIN, "spine_volume") - 1
    assert growth > 0.2, "the head must have grown for the check to mean something"
    assert _ratio(res) == pytest.approx(1.0, rel=TOL["resistance_ratio"].rel)


def test_grown_spine_neck_resistance_falls_with_head_growth(neck_runs):
    """R_after / R_before = 1 / (1 + neck_scaling*growth), growth from the pathway's mean
    spine volume (the traced spine is the first of five, which grow a little differently)."""
    res = neck_runs[1.0]
    growth = res.state_at("S1", AFTER_MIN, "spine_volume") - 1
    assert growth > 0.2
    measured_growth = 1 / _ratio(res) - 1
    assert measured_growth == pytest.approx(growth, rel=TOL["growth_from_resistance"].rel)


def test_wider_neck_does_not_load_other_pathways(neck_runs):
    """The share of the head current taken by the wider neck enters the parent dendrite:
    charge is conserved, so the unstimulated pathways' responses stay where they are."""
    f = {s: r.fepsp.query("pathway == 'S2'").set_index("time_min").fepsp_pct for s, r in neck_runs.items()}
    assert np.allclose(f[1.0], f[0.0], atol=TOL["other_pathway_pct"].abs)
