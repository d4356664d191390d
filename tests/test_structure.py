"""Practice: repetition and spacing of high-frequency trains, and spine structure.

Most bands here are calibration targets (``role = "calibration"`` in
biophys_ltp/targets.toml, whose ``tuned`` names the parameters fitted to them): these tests
check that the fit still holds after a change, they are not evidence that the model
predicts them.  Predictions are in tests/test_validation.py (held-out experiments) and
tests/test_causes.py (the fitted mechanisms knocked out).
"""

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


def _spines(res, pathway: str = "S1"):
    return res.state[res.state.pathway == pathway].spine_count


def test_new_spines_grow_only_after_repeated_consolidation(learning_day):
    """Repeated, spaced LTP adds synapses (Tominaga-Yoshino et al. 2002; SCIENCE.md 1.9):
    two consolidated sessions add a spine to the pathway; one exposure (early LTP only) and
    one crammed session (consolidated once) do not, though the crammed session consolidates."""
    from biophys_ltp.model import load_model
    model = load_model()
    n, slots = model.n_syn, model.n_slots
    once, crammed, spaced = (learning_day[k] for k in ("once", "crammed", "spaced"))
    assert crammed.fepsp_after("S1", 480) in BANDS["stet_8h"]
    for res in (once, crammed):
        assert _spines(res).max() == pytest.approx(n, abs=1e-9)
    # the new spine appears over hours after the second session, up to the limit
    t2 = spaced.induction_min("S1")[1]
    assert spaced.state_at("S1", t2 - 5, "spine_count") == pytest.approx(n, abs=1e-9)
    assert _spines(spaced).iloc[-1] > n + 0.5 * slots
    assert _spines(spaced).max() <= n + slots + 1e-9
    # the unstimulated pathway keeps its spines
    for res in learning_day.values():
        assert _spines(res, "S2").max() == pytest.approx(n, abs=1e-9)


def test_spaced_practice_beats_crammed_practice_and_one_exposure_is_forgotten(learning_day):
    """The same six trains spread over two sessions leave more potentiation at the end of the
    day than crammed into one; one brief exposure is back at baseline within hours."""
    once, crammed, spaced = (learning_day[k] for k in ("once", "crammed", "spaced"))
    end = float(spaced.fepsp.time_min.max())  # the last test pulse
    assert spaced.fepsp_at("S1", end) > crammed.fepsp_at("S1", end) + 10
    assert once.fepsp_after("S1", 300) in BANDS["wtet_3h"]
    # forgetting is the unconsolidated part's decay: nothing of it is left after a day
    assert abs(once.state_at("S1", end, "early_weight")) < 0.01


def test_second_theta_burst_helps_after_an_hour_not_after_minutes(tbs_spacing):
    """Kramar et al. 2012: a second TBS 60 min after the first raises the potentiation (here
    2 h after the second, over one TBS alone) by at least 20 points; 10 min after it adds at
    most 10."""
    from biophys_ltp.experiments import tbs_added_pp
    assert tbs_added_pp(tbs_spacing, 60) >= 20
    assert tbs_added_pp(tbs_spacing, 10) <= 10
    # the spaced pair is consolidated (proteins are made), the massed one is not
    assert tbs_spacing[60].state.proteins.max() > 0.05
    assert tbs_spacing[10].state.proteins.max() < 0.01
