"""Reading values off an fEPSP table: the one convention for "the fEPSP at time T" and
"the fEPSP T after a pathway's induction", used by :class:`~biophys_ltp.simulation.Results`,
the ``run`` summary and the sweep's outcomes.

An fEPSP table has one row per test pulse: ``pathway``, ``time_min`` (from the protocol
start) and ``fepsp_pct`` (% of baseline).  The value "at" a time is that of the pathway's
test pulse nearest it (the earlier of two equally near); where a tolerance is given and no
test pulse lies within it, the value is NaN.  Times "after induction" count from the
pathway's first induction pulse (``from_end``: its last).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import ResultError

if TYPE_CHECKING:
    from .protocol import Protocol

# a test pulse at exactly half a test interval from a time still counts as "at" it
_EDGE_MIN = 1e-6


def fepsp_near(fepsp: pd.DataFrame, pathway: str, time_min: float, within_min: float = math.inf) -> float:
    """fEPSP (% of baseline) of ``pathway``'s test pulse nearest ``time_min``; NaN where the
    pathway has no test pulse within ``within_min`` of it (or none at all)."""
    f = fepsp[fepsp.pathway == pathway].sort_values("time_min", kind="stable")
    if f.empty:
        return math.nan
    t = f.time_min.to_numpy(float)
    k = int(np.argmin(np.abs(t - time_min)))
    if abs(t[k] - time_min) > within_min:
        return math.nan
    return float(f.fepsp_pct.iloc[k])


def fepsp_last(fepsp: pd.DataFrame, pathway: str) -> tuple[float, float]:
    """(time_min, fepsp_pct) of ``pathway``'s last test pulse; NaNs where it has none."""
    f = fepsp[fepsp.pathway == pathway]
    if f.empty:
        return math.nan, math.nan
    last = f.loc[f.time_min.idxmax()]
    return float(last.time_min), float(last.fepsp_pct)


def induction_min(protocol: "Protocol", pathway: str) -> tuple[float, float] | None:
    """(first, last) induction pulse of ``pathway`` in minutes from the protocol start, or
    None where the pathway has no induction."""
    pulses = np.asarray(protocol.induction_pulses().get(pathway, []), dtype=float) / 60.0
    if not len(pulses):
        return None
    return float(pulses[0]), float(pulses[-1])


def half_test_interval_min(protocol: "Protocol") -> float:
    """The tolerance for "the test pulse at a time": half the protocol's test interval."""
    return float(np.asarray(protocol.test_interval)) / 60.0 / 2 + _EDGE_MIN


def fepsp_after(protocol: "Protocol", fepsp: pd.DataFrame, pathway: str, minutes: float, *,
                from_end: bool = False, within_min: float = math.inf,
                without_induction: str = "error") -> float:
    """fEPSP (% of baseline) of ``pathway`` at the test pulse nearest ``minutes`` after its
    first induction pulse (``from_end``: its last); NaN where no test pulse lies within
    ``within_min``.  A pathway without induction raises ValueError
    (``without_induction="error"``), counts from the protocol start (``"start"``) or gives
    NaN (``"nan"``)."""
    pulses = induction_min(protocol, pathway)
    if pulses is None:
        if without_induction == "start":
            ref = 0.0
        elif without_induction == "nan":
            return math.nan
        else:
            raise ResultError(f"{protocol.name}: no induction on pathway {pathway}")
    else:
        ref = pulses[1] if from_end else pulses[0]
    return fepsp_near(fepsp, pathway, ref + minutes, within_min)


def fepsp_gaps(proto: "Protocol") -> dict[str, str]:
    """Pathways of ``proto`` whose fEPSP is not measured where one would look for it: no test
    pulse at all, or none after the pathway's induction."""
    from .protocol import TEST_PULSE_MARGIN
    from .units import format_quantity

    tests = proto.test_pulses()
    out = {}
    for pathway in proto.pathways:
        induction = induction_min(proto, pathway)
        times = np.asarray(tests[pathway], dtype=float) / 60.0
        if not len(times):
            out[pathway] = (f"no test pulses (every one falls within {format_quantity(TEST_PULSE_MARGIN)} of an "
                            f"induction): no fEPSP")
        elif induction is not None and not (times > induction[1]).any():
            out[pathway] = (f"no test pulse after its induction (last induction pulse at {induction[1]:.4g} min): "
                            f"no fEPSP after induction")
    return out
