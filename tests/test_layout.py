"""The realistic-layout model (models/ca1_layout.toml): 50 spines per pathway, the three
pathways alternating along six shared oblique branches, and the spike-timing routes
reading the spine head's own potential (``spike_site = "spine_head"``).

Its calibration and held-out verdicts come from ``biophys-ltp validate --model ca1_layout
--calibration`` (README, "The realistic layout"); these tests check the two properties
that make the head a usable spike sensor on this cell, on signals only: a test pulse is
subthreshold, and in the spine head a pairing's spike stands above an EPSP and a 20-Hz
triplet, which it did not on the default model's crowded branch (tests/test_induction.py).
"""

from __future__ import annotations

import brian2 as b2
import pytest

from biophys_ltp import simulate
from biophys_ltp.experiments import spine_signatures
from biophys_ltp.model import load_model

pytestmark = [pytest.mark.standalone, pytest.mark.slow]

LAYOUT = "ca1_layout"


def test_the_layout_model_has_its_pathways_intermingled_on_shared_branches():
    """Not a simulation: the layout the model file's structure builds (metadata's cell)."""
    layout = load_model(LAYOUT).layout()
    assert layout["spines_per_pathway"] >= 50
    assert layout["branches_per_pathway"] == layout["oblique_branches"] > 1
    assert layout["pathways_per_branch"] == 3
    assert layout["shaft_synapses_per_pathway"] == 0  # every synapse an explicit spine
    assert len(layout["branch_origins_um"]) == layout["oblique_branches"]
    assert layout["spike_site"] == "spine_head"


def test_in_the_layout_cells_spine_heads_a_spike_stands_above_epsps_and_bursts():
    """What the head-read spike-timing routes need: in S1's first spine head every
    pairing's spike peaks above theta_bap, and an EPSP and one pathway's 20-Hz triplet (an
    SLFS burst, which must depress) stay below it; coincident pairings carry more NMDA
    receptor Ca2+ current than an EPSP alone or a spike before the pulse."""
    model = load_model(LAYOUT)
    sig = spine_signatures(LAYOUT).set_index("event")
    theta_bap = float(model["theta_bap"] / b2.mV)
    site = sig.v_spike_site_peak_mV
    assert (site == sig.v_peak_mV).all(), sig  # the site is the head itself
    pairings = [e for e in sig.index if e.startswith("pairing")]
    assert site[pairings].min() > theta_bap > max(site["epsp"], site["3 pulses at 20 Hz"]), sig
    nmda = sig.nmda_ca_peak_pA
    assert nmda[["pairing +5 ms", "pairing +10 ms", "pairing +20 ms"]].min() > \
        max(nmda["epsp"], nmda["pairing -10 ms"], nmda["pairing +50 ms"]), sig


def test_the_layout_cells_test_pulse_is_subthreshold():
    """50 spines per pathway at the layout's g_ampa: a test pulse of all three pathways
    (5 min of baseline) gives a somatic EPSP of a few mV, far from firing the cell (the
    default model's conductance per spine fired it with every pulse)."""
    proto = {"name": "baseline", "duration": "6 min", "baseline": "5.5 min", "test_interval": "5 min",
             "pathways": ["S1", "S2", "S3"]}
    res = simulate(proto, LAYOUT, trace_windows=[("5 min", "5.05 min")], progress=False)
    soma = res.traces[res.traces.compartment == "soma"].v_mV
    rise = soma.max() - soma.iloc[0]
    assert 1 < rise < 10 and soma.max() < -55, (soma.iloc[0], soma.max())
