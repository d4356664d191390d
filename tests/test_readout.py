"""The one convention for reading the fEPSP at a time and at a time after induction
(biophys_ltp.readout), and its users: Results, the run summary and the sweep's outcomes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from biophys_ltp import readout
from biophys_ltp.errors import ResultError
from biophys_ltp.cli import summary_table
from biophys_ltp.protocol import load_protocol
from biophys_ltp.simulation import Results
from biophys_ltp.sweep import outcomes


def _table(proto) -> pd.DataFrame:
    """A fake fEPSP table on the protocol's test pulses whose value names its pulse:
    1000*pathway number + time in minutes."""
    rows = []
    for k, (p, times) in enumerate(proto.test_pulses().items()):
        for t in np.asarray(times, float) / 60.0:
            rows.append({"pathway": p, "time_min": t, "fepsp_pct": 1000.0 * (k + 1) + t})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def wtet():
    proto = load_protocol("wtet")
    return proto, _table(proto)


def test_the_value_near_a_time_is_the_nearest_pulse_or_nan_beyond_the_tolerance():
    f = pd.DataFrame({"pathway": ["S1"] * 3 + ["S2"], "time_min": [10.0, 0.0, 5.0, 0.0],
                      "fepsp_pct": [110.0, 100.0, 105.0, 99.0]})
    assert readout.fepsp_near(f, "S1", 6.0) == 105.0
    assert readout.fepsp_near(f, "S1", 7.5) == 105.0  # a tie: the earlier pulse
    assert readout.fepsp_near(f, "S1", 99.0) == 110.0
    assert math.isnan(readout.fepsp_near(f, "S1", 99.0, within_min=2.5))
    assert math.isnan(readout.fepsp_near(f, "S3", 0.0))
    assert readout.fepsp_last(f, "S1") == (10.0, 110.0)


def test_after_induction_counts_from_the_first_or_the_last_induction_pulse(wtet):
    proto, f = wtet
    first, last = readout.induction_min(proto, "S1")
    assert last > first
    tol = readout.half_test_interval_min(proto)
    for minutes in (30.0, 60.0, 180.0):
        for from_end, ref in ((False, first), (True, last)):
            value = readout.fepsp_after(proto, f, "S1", minutes, from_end=from_end, within_min=tol)
            pulse_min = value - 1000.0
            assert abs(pulse_min - (ref + minutes)) <= tol
    assert readout.induction_min(proto, "S2") is None
    with pytest.raises(ResultError, match="no induction on pathway S2"):
        readout.fepsp_after(proto, f, "S2", 60.0)
    assert math.isnan(readout.fepsp_after(proto, f, "S2", 60.0, without_induction="nan"))
    from_start = readout.fepsp_after(proto, f, "S2", 60.0, without_induction="start")
    assert from_start - 2000.0 == pytest.approx(60.0, abs=tol)
    assert math.isnan(readout.fepsp_after(proto, f, "S1", 100 * 60.0, within_min=tol))


def test_results_run_summary_and_sweep_outcomes_read_the_same_pulse(wtet):
    proto, f = wtet
    res = Results(fepsp=f, state=pd.DataFrame(), metadata={}, protocol=proto)
    expected = res.fepsp_after("S1", 60.0)
    assert outcomes(proto, f, [("1h", 60.0)])["S1_fepsp_pct_1h"] == expected
    assert f"{expected:.1f}" in summary_table(res).splitlines()[2]
    assert res.fepsp_after("S1", 60.0, from_end=True) == res.fepsp_at("S1", res.induction_min("S1")[1] + 60.0)
    with pytest.raises(ResultError, match="no fEPSP recorded on pathway 'S9'"):
        res.fepsp_at("S9", 0.0)
