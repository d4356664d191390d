"""Results helpers that locate times relative to a pathway's induction (no simulation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biophys_ltp.protocol import protocol_from_dict
from biophys_ltp.simulation import Results


def _results():
    proto = protocol_from_dict({
        "name": "t", "duration": "3 h", "baseline": "30 min", "test_interval": "5 min",
        "pathways": ["S1", "S2"],
        "events": [{"kind": "wlfs", "pathway": "S1", "at": "30 min"}]})  # 900 s of pulses
    times = np.arange(0, 181, 5.0)
    fepsp = pd.concat([pd.DataFrame({"time_min": times, "pathway": p, "fepsp_pct": 100 + times + k})
                       for k, p in enumerate(["S1", "S2"])], ignore_index=True)
    return Results(fepsp, pd.DataFrame(), {}, protocol=proto)


def test_induction_min_gives_first_and_last_pulse():
    first, last = _results().induction_min("S1")
    assert first == pytest.approx(30.0)
    assert last == pytest.approx(30.0 + 899 / 60)


def test_fepsp_after_counts_from_the_first_or_the_last_pulse():
    res = _results()
    assert res.fepsp_after("S1", 60) == 100 + 90  # test pulse at 90 min
    # the last pulse is at 44.98 min: the test pulse nearest 104.98 min is at 105 min
    assert res.fepsp_after("S1", 60, from_end=True) == 100 + 105


def test_fepsp_after_needs_an_induction():
    with pytest.raises(ValueError, match="no induction on pathway S2"):
        _results().fepsp_after("S2", 60)
