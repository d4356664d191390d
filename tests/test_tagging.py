"""Synaptic tagging and capture and early LTD (Frey & Morris 1997; Sajikumar & Frey 2004).

The parts of the two-pathway experiments that the model reproduces with the parameter
set of the foundation experiments; bands as in ../shared/SCIENCE.md section 3.
"""

from __future__ import annotations

import pytest

import biophys_ltp as bl

pytestmark = pytest.mark.standalone

WEAK = 65.0  # min: the weak tetanus on S2 in the STC protocols


@pytest.fixture(scope="module")
def stc():
    return {name: bl.simulate(name, progress=False) for name in ("stc_strong_weak", "wtet_s2")}


def test_weak_tetanus_after_strong_one_is_captured(stc):
    res = stc["stc_strong_weak"]
    assert res.fepsp_at("S2", WEAK + 480) >= 120, res.fepsp_at("S2", WEAK + 480)
    assert res.state_at("S2", WEAK + 480, "late_weight") > 0.15


def test_weak_tetanus_alone_decays(stc):
    res = stc["wtet_s2"]
    assert res.fepsp_at("S2", WEAK + 30) > 120
    assert res.fepsp_at("S2", WEAK + 180) <= 110, res.fepsp_at("S2", WEAK + 180)


def test_control_pathway_in_stc(stc):
    values = stc["stc_strong_weak"].fepsp.query("pathway == 'S3'").fepsp_pct
    assert values.between(90, 110).all(), (values.min(), values.max())


def test_weak_low_frequency_stimulation_gives_early_ltd():
    res = bl.simulate("wlfs", progress=False)
    end = 45.0  # 900 pulses at 1 Hz from 30 min
    assert 70 <= res.fepsp_at("S1", end + 30) <= 90, res.fepsp_at("S1", end + 30)
    assert res.fepsp_at("S1", end + 180) >= 95, res.fepsp_at("S1", end + 180)
    assert res.fepsp.query("pathway == 'S3'").fepsp_pct.between(90, 110).all()
