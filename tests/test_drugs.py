"""Drugs in time windows, as data (biophys_ltp/drugs.toml): each acts on its target, and
what it does to LTP and LTD is compared with the experiments in biophys_ltp.targets.

The model was not tuned on any of these experiments: the drugs' targets were written from
their known molecular actions and the runs below came after.  Two of them the model misses
(strict xfail, with the reason): blocking PKA leaves the model's late LTP, and anisomycin
only halves the lasting potentiation that forskolin gives.
"""

from __future__ import annotations

import numpy as np
import pytest

from biophys_ltp import drugs
from biophys_ltp.drugs import DRUGS, TARGETS, target_levels
from biophys_ltp.limits import check_protocol
from biophys_ltp.model import load_model
from biophys_ltp.protocol import protocol_from_dict
from biophys_ltp.targets import BANDS

STET_AT_MIN = 30.0
STET = {"kind": "strong_tetanus", "pathway": "S1", "at": f"{STET_AT_MIN:g} min"}


def _drug(name, start, stop):
    return {"kind": "drug", "drug": name, "start": start, "stop": stop}


def _protocol(name, events):
    return {"name": name, "duration": "10 h", "baseline": "30 min", "test_interval": "5 min",
            "pathways": ["S1", "S2"], "events": events}


@pytest.fixture(scope="module")
def runs(validation_runs):
    """The drug experiments' runs (biophys_ltp.validation.RUNS), shared with test_validation."""
    return validation_runs(["stet", "slfs", "actd_around", "actd_after", "kn62", "kt5720", "forskolin",
                            "forskolin_aniso", "zip_stet", "zip_slfs", "apv"])


def _at(runs, key, hours_after, pathway="S1"):
    """fEPSP (%) ``hours_after`` the tetanus (protocol time 30 min + hours)."""
    return runs[key].fepsp_at(pathway, STET_AT_MIN + 60 * hours_after)


def _check(name, value):
    band = BANDS[name]
    assert value in band, f"{name}: {value:.1f} outside {band.describe()}"


# ---------------------------------------------------------------------------
# The table and the schedule (no simulation)
# ---------------------------------------------------------------------------

def test_every_drug_names_a_target_a_level_and_a_source():
    assert {"apv", "anisomycin", "actinomycin_d", "kn62", "kt5720", "forskolin", "zip"} <= set(DRUGS)
    for drug in DRUGS.values():
        assert drug.target in TARGETS and 0 < drug.level <= 1 and len(drug.source) > 20


def test_a_bad_drug_table_is_refused(tmp_path):
    path = tmp_path / "drugs.toml"
    path.write_text('[x]\nname = "x"\naction = "y"\ntarget = "nowhere"\nlevel = 1\nsource = "z"\n')
    with pytest.raises(ValueError, match="unknown target 'nowhere'"):
        drugs.load_drugs(path)


def test_the_schedule_sets_each_target_only_while_its_drug_is_present():
    proto = protocol_from_dict(_protocol("windows", [STET, _drug("zip", "3 h", "5 h"),
                                                     _drug("apv", "4 h", "6 h")]))
    schedule = check_protocol(proto, load_model())
    dt_s = float(schedule.dt)
    t_min = schedule.seg_real_start * dt_s / 60.0
    zip_k, apv_k = list(TARGETS).index("pkmzeta_block"), list(TARGETS).index("nmda_block")
    zip_on = schedule.seg_drug[:, zip_k] > 0
    apv_on = schedule.seg_drug[:, apv_k] > 0
    body = slice(1, -1)  # the settling segment and the padding after the end carry no drug
    assert np.all(zip_on[body] == ((t_min[body] >= 180) & (t_min[body] < 300)))
    assert np.all(apv_on[body] == ((t_min[body] >= 240) & (t_min[body] < 360)))
    others = [k for k in range(len(TARGETS)) if k not in (zip_k, apv_k)]
    assert not schedule.seg_drug[:, others].any()
    levels = target_levels({"apv", "zip"})
    assert levels[apv_k] == DRUGS["apv"].level and levels[zip_k] == DRUGS["zip"].level
    assert not levels[others].any() and not target_levels(set()).any()


# ---------------------------------------------------------------------------
# Outcomes against the experiments
# ---------------------------------------------------------------------------

def test_apv_leaves_the_fepsp_but_not_the_somatic_epsp_slope(runs):
    """APV after the baseline: the fEPSP (the pathway's synaptic current) stays where the
    experiments saw no effect; the somatic EPSP's initial slope, which dendritic Na+
    channels boost, falls further, because the small NMDA receptor current is amplified
    into it (README, "What the model is": fEPSP)."""
    f = runs["apv"].fepsp
    s1 = f[f.pathway == "S1"]
    baseline = s1[s1.time_min < 30.0]
    during = s1.iloc[(s1.time_min - 60.0).abs().argmin()]
    _check("apv_test_pulse", during.fepsp_pct)
    assert during.fepsp_pct < 100.0  # the NMDA receptors carry a little of the current
    slope_pct = 100.0 * during.epsp_slope_mV_per_ms / baseline.epsp_slope_mV_per_ms.mean()
    assert slope_pct < during.fepsp_pct
    after = s1.iloc[(s1.time_min - 120.0).abs().argmin()]  # 30 min after the drug
    _check("control_pathway", after.fepsp_pct)


def test_actinomycin_d_blocks_the_late_phase_only_around_the_tetanus(runs):
    _check("actd_around_8h", _at(runs, "actd_around", 8))
    _check("actd_first_hour_pp", _at(runs, "actd_around", 1) - _at(runs, "stet", 1))
    _check("actd_after_8h", _at(runs, "actd_after", 8))


def test_kn62_blocks_ltp_induction(runs):
    _check("kn62_1h", _at(runs, "kn62", 1))
    _check("control_pathway", _at(runs, "kn62", 1, "S2"))


@pytest.mark.xfail(strict=True, reason="model miss: the model's strong tetanus (three 1-s trains) does not keep "
                   "spine calcium up long enough to open the slow cAMP/PKA kinase route, so its late phase runs "
                   "on the fast route alone and blocking PKA changes nothing (experiments: PKA inhibition blocks "
                   "late LTP after tetani)")
def test_kt5720_blocks_the_late_phase(runs):
    _check("kt5720_first_hour_pp", _at(runs, "kt5720", 1) - _at(runs, "stet", 1))
    _check("kt5720_8h", _at(runs, "kt5720", 8))


def test_forskolin_potentiates_every_pathway_for_hours(runs):
    for pathway in ("S1", "S2"):
        _check("forskolin_8h", _at(runs, "forskolin", 8, pathway))
    # and protein synthesis carries part of it
    assert _at(runs, "forskolin_aniso", 8) < _at(runs, "forskolin", 8) - 20


@pytest.mark.xfail(strict=True, reason="model miss: proteins made after the anisomycin window still meet tags set "
                   "by forskolin's long kinase activity, so a third of the potentiation is captured "
                   "(experiments: anisomycin blocks the lasting cAMP-induced potentiation)")
def test_anisomycin_blocks_the_lasting_forskolin_potentiation(runs):
    _check("forskolin_aniso_8h", _at(runs, "forskolin_aniso", 8))


def test_zip_reverses_late_ltp_but_not_late_ltd(runs):
    assert _at(runs, "zip_stet", 2) == pytest.approx(_at(runs, "stet", 2))  # before ZIP
    _check("zip_stet_5h", _at(runs, "zip_stet", 5))
    _check("stet_8h", _at(runs, "stet", 8))
    _check("zip_slfs_pp", _at(runs, "zip_slfs", 5) - _at(runs, "slfs", 5))
