"""Early and late LTP against the experimental bands (biophys_ltp.targets).

Most bands here are calibration targets (``role = "calibration"`` in
biophys_ltp/targets.toml, whose ``tuned`` names the parameters fitted to them): these tests
check that the fit still holds after a change, they are not evidence that the model
predicts them.  Predictions are in tests/test_validation.py (held-out experiments) and
tests/test_causes.py (the fitted mechanisms knocked out).
"""

from __future__ import annotations

import brian2 as b2
import pytest

from biophys_ltp.engine import MEASURE_WINDOW, SLOPE_CEILING
from biophys_ltp.targets import BANDS

pytestmark = pytest.mark.standalone

TET = 30.0  # min: every protocol's tetanus starts at 30 min


def s1(res, minutes_after):
    return res.fepsp_at("S1", TET + minutes_after)


def test_weak_tetanus_gives_early_ltp_that_decays(ltp_phases):
    res = ltp_phases[1]["WTET"]
    assert s1(res, 30) in BANDS["wtet_30min"], s1(res, 30)
    assert s1(res, 180) in BANDS["wtet_3h"], s1(res, 180)


def test_weak_tetanus_does_not_trigger_protein_synthesis(ltp_phases):
    wtet, stet = ltp_phases[1]["WTET"], ltp_phases[1]["STET"]
    assert wtet.state.expression.max() < 0.01
    assert wtet.state.proteins.max() < 0.01 * stet.state.proteins.max()
    assert wtet.state_at("S1", 590, "late_weight") == pytest.approx(0, abs=0.005)


def test_strong_tetanus_gives_late_ltp(ltp_phases):
    res = ltp_phases[1]["STET"]
    assert s1(res, 60) in BANDS["stet_1h"], s1(res, 60)
    assert s1(res, 480) in BANDS["stet_8h"], s1(res, 480)
    # it is the late weight that carries it, and proteins were made
    assert res.state_at("S1", TET + 480, "late_weight") > 0.3
    assert res.state.proteins.max() > 0.05


def test_anisomycin_blocks_the_late_phase_only(ltp_phases):
    stet, aniso = ltp_phases[1]["STET"], ltp_phases[1]["STET + anisomycin"]
    assert s1(aniso, 480) in BANDS["stet_aniso_8h"], s1(aniso, 480)
    f_stet = stet.fepsp[(stet.fepsp.pathway == "S1") & stet.fepsp.time_min.between(TET, TET + 60)]
    f_aniso = aniso.fepsp[(aniso.fepsp.pathway == "S1") & aniso.fepsp.time_min.between(TET, TET + 60)]
    merged = f_stet.merge(f_aniso, on="time_min", suffixes=("_stet", "_aniso"))
    assert len(merged) >= 8
    diff = merged.fepsp_pct_aniso - merged.fepsp_pct_stet
    assert all(d in BANDS["aniso_first_hour_pp"] for d in diff), diff.tolist()
    assert aniso.state.proteins.max() < 0.1 * stet.state.proteins.max()


@pytest.mark.parametrize("protocol", ["WTET", "STET", "STET + anisomycin"])
def test_control_pathway_stays_at_baseline(ltp_phases, protocol):
    res = ltp_phases[1][protocol]
    for pathway in ("S2", "S3"):
        values = res.fepsp[res.fepsp.pathway == pathway].fepsp_pct
        assert len(values) > 100
        assert all(v in BANDS["control_pathway"] for v in values), (pathway, values.min(), values.max())


def test_fepsp_comes_from_the_simulated_response(ltp_phases):
    # the raw response is stored beside the normalised one
    res = ltp_phases[1]["STET"]
    f = res.fepsp[res.fepsp.pathway == "S1"]
    assert (f.epsp_amplitude_mV > 0.5).all()
    # units: below the slope's ceiling a somatic EPSP rises at most at its steepest slope,
    # and does so within the measurement window; the steepest rise over one fine step is
    # part of the amplitude (a slope reported in the wrong unit fails one of the bounds)
    window_ms = float(MEASURE_WINDOW / b2.ms)
    dt_ms = res.metadata["schedule"]["dt_ms"]
    below = f[f.epsp_amplitude_mV < float(SLOPE_CEILING / b2.mV)]
    assert len(below) > len(f) // 2
    assert (below.epsp_amplitude_mV <= below.epsp_slope_mV_per_ms * window_ms).all()
    assert (f.epsp_amplitude_mV >= f.epsp_slope_mV_per_ms * dt_ms).all()


def test_apv_blocks_induction():
    """NMDA receptors blocked during the weak tetanus: no early LTP (Collingridge et al. 1983)."""
    import biophys_ltp as bl
    from biophys_ltp.protocol import protocol_from_dict

    base = {"name": "WTET", "duration": "15 min", "baseline": "5 min", "test_interval": "1 min",
            "pathways": ["S1", "S2", "S3"],
            "events": [{"kind": "weak_tetanus", "pathway": "S1", "at": "5 min"}]}
    apv = dict(base, events=base["events"] + [{"kind": "drug", "drug": "apv", "start": "2 min",
                                                 "stop": "8 min"}])
    plain = bl.simulate(protocol_from_dict(base), progress=False)
    blocked = bl.simulate(protocol_from_dict(apv), progress=False)
    assert plain.fepsp_at("S1", 12) > 120
    assert blocked.fepsp_at("S1", 12) in BANDS["control_pathway"], blocked.fepsp_at("S1", 12)
    # the block is of NMDA receptors only: AMPA-mediated test responses under APV stay near baseline
    during = blocked.fepsp[(blocked.fepsp.pathway == "S2") & blocked.fepsp.time_min.between(2.5, 7.5)]
    assert all(v in BANDS["control_pathway"] for v in during.fepsp_pct)
