"""Practice: repetition and spacing of high-frequency trains, and spine structure."""

from __future__ import annotations

import pytest

from biophys_ltp.experiments import REPETITION_SPACING_MIN, REPETITION_TRAINS
from biophys_ltp.targets import BANDS

pytestmark = pytest.mark.standalone


def _late(repetition, key: str) -> float:
    """fEPSP of S1 8 h after the first train."""
    return repetition[key].fepsp_after("S1", 480)


def test_late_ltp_grows_with_the_number_of_trains(repetition):
    """Scharf et al. 2002: more trains, more late LTP (8 h after the first train)."""
    for spacing in REPETITION_SPACING_MIN:
        keys = ["1x0"] + [f"{n}x{spacing:g}" for n in REPETITION_TRAINS[1:]]
        values = [_late(repetition, k) for k in keys]
        assert all(b > a for a, b in zip(values, values[1:])), dict(zip(keys, values))


def test_spaced_trains_give_more_late_ltp_than_massed(repetition):
    """Scharf et al. 2002; Woo et al. 2003: trains minutes apart give more late LTP than the
    same trains crowded together."""
    massed = min(REPETITION_SPACING_MIN)
    for n in REPETITION_TRAINS[1:]:
        m = _late(repetition, f"{n}x{massed:g}")
        spaced = {sp: _late(repetition, f"{n}x{sp:g}") for sp in REPETITION_SPACING_MIN if sp != massed}
        assert all(v > m for v in spaced.values()), (n, m, spaced)


def test_two_massed_trains_stay_early_two_spaced_trains_consolidate(repetition):
    """Two trains 1 min apart do not trigger protein synthesis; 5 or 10 min apart they do."""
    assert repetition["2x1"].state.proteins.max() < 0.01
    for spacing in (5, 10):
        assert _late(repetition, f"2x{spacing}") in BANDS["stet_8h"], spacing


def test_control_pathway_stays_at_baseline(repetition):
    for key, res in repetition.items():
        values = res.fepsp.query("pathway == 'S2'").fepsp_pct
        assert values.between(BANDS["control_pathway"].low, BANDS["control_pathway"].high).all(), key


def _volume(res, pathway: str, time_min: float) -> float:
    return res.state_at(pathway, time_min, "spine_volume")


def test_spine_head_grows_with_late_ltp_and_shrinks_back_after_early_ltp(ltp_phases):
    """Matsuzaki et al. 2004; Tanaka et al. 2008: the enlargement lasts only where the
    potentiation is consolidated."""
    _fig, results = ltp_phases
    stet, wtet = results["STET"], results["WTET"]
    t_stet, t_wtet = stet.induction_min("S1")[0], wtet.induction_min("S1")[0]
    assert _volume(stet, "S1", t_stet + 480) in BANDS["spine_volume_late_ltp"]
    grown = wtet.state[wtet.state.pathway == "S1"].spine_volume.max()
    assert grown in BANDS["spine_volume_early_ltp_peak"], grown
    assert _volume(wtet, "S1", t_wtet + 480) in BANDS["spine_volume_after_early_ltp"]
    # the unstimulated pathway's spines keep their size
    assert abs(_volume(stet, "S3", t_stet + 480) - 1) < 0.01
