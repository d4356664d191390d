"""Synaptic tagging and capture, LTD and cross-tagging (Frey & Morris 1997; Sajikumar &
Frey 2004; Sajikumar et al. 2005), with the one parameter set of models/ca1_spine.toml.

Bands from biophys_ltp.targets.  Times are after the pathway's own induction: the first
pulse of a tetanus, the last pulse of a low-frequency stimulation (which lasts 15 min).
The simulations are those of the figures (tests/conftest.py), run once per session.

Most bands here are calibration targets (``role = "calibration"`` in
biophys_ltp/targets.toml, whose ``tuned`` names the parameters fitted to them): these tests
check that the fit still holds after a change, they are not evidence that the model
predicts them.  Predictions are in tests/test_validation.py (held-out experiments) and
tests/test_causes.py (the fitted mechanisms knocked out).
"""

from __future__ import annotations

import pytest

from biophys_ltp.targets import BANDS

pytestmark = pytest.mark.standalone


def after(res, pathway: str, minutes: float, *, from_end: bool = False) -> float:
    """fEPSP (%) of ``pathway`` ``minutes`` after its induction's first (or last) pulse."""
    return res.fepsp_after(pathway, minutes, from_end=from_end)


def check(band: str, value: float) -> None:
    assert value in BANDS[band], f"{value:.1f} outside {BANDS[band].describe()}"


def control_in_band(res) -> None:
    values = res.fepsp.query("pathway == 'S3'").fepsp_pct
    assert values.between(BANDS["control_pathway"].low, BANDS["control_pathway"].high).all(), \
        (res.protocol.name, values.min(), values.max())


# --- Frey & Morris 1997 ------------------------------------------------------------

def test_weak_tetanus_after_strong_one_is_captured(tagging):
    res = tagging[1]["STC"]
    check("stc_weak_8h", after(res, "S2", 480))
    assert res.state_at("S2", 65 + 480, "late_weight") > 0.15


def test_weak_tetanus_alone_decays(tagging):
    res = tagging[1]["WTET on S2 alone"]
    check("wtet_30min", after(res, "S2", 30))
    check("wtet_3h", after(res, "S2", 180))
    assert abs(res.state_at("S2", 590, "late_weight")) < 0.01  # nothing consolidated


def test_capture_survives_anisomycin_around_the_weak_tetanus(tagging):
    res = tagging[1]["STC + anisomycin around WTET"]
    check("stc_aniso_weak_8h", after(res, "S2", 480))
    # the drug does stop synthesis: fewer proteins than without it
    assert res.state.proteins.max() < 0.8 * tagging[1]["STC"].state.proteins.max()


def test_control_pathway_in_tagging_protocols(tagging):
    for res in tagging[1].values():
        control_in_band(res)


# --- Sajikumar & Frey 2004; Sajikumar et al. 2005 ------------------------------------

def test_weak_lfs_gives_early_ltd(ltd_crosstag):
    res = ltd_crosstag[1]["WLFS"]
    check("wlfs_30min", after(res, "S1", 30, from_end=True))
    check("wlfs_3h", after(res, "S1", 180, from_end=True))


def test_strong_lfs_gives_late_ltd(ltd_crosstag):
    res = ltd_crosstag[1]["SLFS"]
    check("slfs_6h_8h", after(res, "S1", 360, from_end=True))
    check("slfs_6h_8h", after(res, "S1", 480, from_end=True))
    check("slfs_floor", res.fepsp.query("pathway == 'S1'").fepsp_pct.min())
    # late LTD is consolidated depression: a negative late weight, made with proteins
    assert res.state_at("S1", 590, "late_weight") < -0.05
    assert res.state.proteins.max() > 0.1
    # weak LFS does not trigger protein synthesis
    assert ltd_crosstag[1]["WLFS"].state.proteins.max() < 0.01


def test_cross_tagging_slfs_then_wtet(ltd_crosstag):
    res = ltd_crosstag[1]["SLFS S1 + WTET S2"]
    onset_gap = float(res.protocol.induction_pulses()["S2"][0] - res.protocol.induction_pulses()["S1"][0]) / 60
    assert 30 <= onset_gap <= 60
    check("cross_slfs_wtet_6h", after(res, "S2", 360))
    # without the proteins made for S1, the same tetanus decays (cf. test_weak_tetanus_alone_decays)
    check("wtet_3h", after(ltd_crosstag[1]["WTET"], "S1", 180))


def test_cross_tagging_stet_then_wlfs(ltd_crosstag):
    res = ltd_crosstag[1]["STET S1 + WLFS S2"]
    onset_gap = float(res.protocol.induction_pulses()["S2"][0] - res.protocol.induction_pulses()["S1"][0]) / 60
    assert 30 <= onset_gap <= 60
    check("cross_stet_wlfs_6h", after(res, "S2", 360, from_end=True))
    assert res.state_at("S2", 590, "late_weight") < -0.05


def test_control_pathway_in_ltd_protocols(ltd_crosstag):
    for res in ltd_crosstag[1].values():
        control_in_band(res)
