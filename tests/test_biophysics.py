"""Electrophysiology of the compartmental model against experimental bands (biophys_ltp/targets.toml).

Most bands here are calibration targets (``role = "calibration"`` in
biophys_ltp/targets.toml, whose ``tuned`` names the parameters fitted to them): these tests
check that the fit still holds after a change, they are not evidence that the model
predicts them.  Predictions are in tests/test_validation.py (held-out experiments) and
tests/test_causes.py (the fitted mechanisms knocked out).
"""

from __future__ import annotations

import brian2 as b2
import numpy as np
import pytest

from biophys_ltp import simulate
from biophys_ltp.experiments import bap_amplitude_at, mg_block
from biophys_ltp.model import load_model
from biophys_ltp.targets import BANDS


def test_mg_block_matches_jahr_stevens():
    """Role input (the expression is Jahr & Stevens' own): a check that the model's rate
    expression gives the published block, not a prediction."""
    b = mg_block(np.array([-65.0, 0.0]) * b2.mV)
    assert b[0] in BANDS["mg_block_minus65mV"], b[0]
    assert b[1] in BANDS["mg_block_0mV"], b[1]


def test_mg_block_follows_the_mg_parameter():
    # with no Mg2+ there is no block; doubling Mg2+ blocks more
    free = mg_block(-65 * b2.mV, load_model(overrides={"Mg": "0 mM"}))
    more = mg_block(-65 * b2.mV, load_model(overrides={"Mg": "2 mM"}))
    assert free == pytest.approx(1.0)
    assert more < mg_block(-65 * b2.mV)


@pytest.mark.standalone
def test_resting_spine_calcium(biophysics):
    """Role input: the compiled model at rest holds the resting Ca2+ it was given (with
    the leak through the NMDA receptors and Ca2+ channels at rest), not a prediction."""
    assert biophysics.ca_rest_uM in BANDS["ca_rest"], biophysics.ca_rest_uM


@pytest.mark.standalone
def test_spine_calcium_decay(biophysics):
    """Role input (tau_ca is the quoted decay): the decay measured after a pulse in the
    compiled model, with buffering and the neck, stays in the quoted range."""
    assert biophysics.ca_decay_ms in BANDS["ca_decay"], biophysics.ca_decay_ms


@pytest.mark.standalone
def test_backpropagating_ap_calcium(biophysics):
    assert biophysics.ca_bap_uM in BANDS["ca_bap"], biophysics.ca_bap_uM


@pytest.mark.standalone
def test_pairing_is_supralinear(biophysics):
    assert biophysics.supralinearity in BANDS["ca_supralinearity"], (
        biophysics.ca_pair_uM, biophysics.ca_epsp_uM, biophysics.ca_bap_uM)


@pytest.mark.standalone
def test_ap_backpropagates_with_attenuation(biophysics):
    at_250 = bap_amplitude_at(biophysics, 250.0)
    assert at_250 in BANDS["bap_250um"], at_250
    # and it does attenuate: smaller at 250 um than next to the soma
    assert at_250 < bap_amplitude_at(biophysics, 12.5)
    assert biophysics.soma_ap_mV > 80, "the soma fires a full action potential"


def test_pairing_is_supralinear_only_when_the_spike_follows(biophysics_figure):
    """Spine Ca against the EPSP-spike offset (Sabatini et al. 2002; the basis of STDP)."""
    fig, results = biophysics_figure
    pairing = fig.tidy(results)["pairing"].set_index("offset_ms")
    assert pairing.loc[10.0, "ratio_to_sum"] in BANDS["ca_supralinearity"]
    # spike before the EPSP: the bAP's Ca has decayed and the NMDA receptors see no
    # depolarisation: less than the sum of the two alone
    assert (pairing.loc[[-20.0, -10.0, -5.0], "ratio_to_sum"] < 1.0).all()
    assert pairing.loc[10.0, "ca_peak_increase_uM"] > 1.5 * pairing.loc[-10.0, "ca_peak_increase_uM"]


@pytest.fixture(scope="module")
def dendritic_channels(biophysics):
    """The default cell (which leaves them out) with the layout model's A-type K+ density, and
    with Ih at the somatic density modellers quote from Magee 1998 (the default model leaves
    it out; the layout has it at 0.07 mS/cm2: gh_soma's source), each alone, and the A-type
    density without its rise along the dendrite: runtime parameters, the default model's
    build."""
    from biophys_ltp.experiments import biophysics as run
    ka = {"gKA_soma": load_model("ca1_layout")["gKA_soma"]}
    return {"none": biophysics, "ka": run(params=ka), "ka_flat": run(params={**ka, "ka_gradient": "0 1/um"}),
            "ih": run(params={"gh_soma": "0.15 mS/cm**2"})}


@pytest.mark.standalone
def test_a_type_channels_rising_with_distance_attenuate_the_bap(dendritic_channels):
    """Hoffman et al. 1997: the A-type K+ density rising along the apical dendrite limits the
    backpropagating spike there.  With the rise, the bAP 250 um out is smaller than with
    the soma's density everywhere, which itself changes it little."""
    at_250 = {k: bap_amplitude_at(b, 250.0) for k, b in dendritic_channels.items()}
    assert at_250["ka"] < at_250["ka_flat"] - 0.05 and at_250["ka"] < at_250["none"] - 0.05, at_250
    assert abs(at_250["ka_flat"] - at_250["none"]) < 0.03, at_250
    # near the soma the densities hardly differ
    near = {k: bap_amplitude_at(b, 12.5) for k, b in dendritic_channels.items()}
    assert abs(near["ka"] - near["ka_flat"]) < 0.02, near


@pytest.mark.standalone
def test_ih_depolarises_the_resting_cell(dendritic_channels):
    """Ih is open at rest and carries an inward current (E_h above rest): the cell rests
    higher with it (Golding et al. 2005, J Physiol 568:69, Table 1: blocking Ih lowers the
    somatic rest from -67 to -71 mV), and the A-type channels, a K+ current partly open at
    rest, lower it."""
    rest = {k: b.v_rest_mV for k, b in dendritic_channels.items()}
    assert rest["ih"] > rest["none"] + 1.0, rest
    assert rest["ka"] < rest["none"], rest


@pytest.mark.standalone
def test_with_ih_the_cell_is_at_rest_when_a_compressed_gap_ends():
    """Between test pulses the engine compresses time with long cable steps; the cell must
    come out of such a gap at the rest the fine step holds, whatever its channels.  Ih
    falls as the potential rises, a feedback stronger than the leak: with its gate outside
    the cable solver the two swung from step to step, and on this cell the soma came out
    of a gap 1.6 mV above rest (the layout cell's 5.5 mV), so successive test pulses met
    different potentials (their fEPSPs varied by up to 5 %).  The default cell with the
    layout model's A-type K+ density and Ih at 0.08 mS/cm2 (runtime parameters)."""
    proto = {"name": "baseline", "duration": "2.2 min", "baseline": "2 min", "test_interval": "0.5 min",
             "pathways": ["S1", "S2", "S3"]}
    params = {"gh_soma": "0.08 mS/cm**2", "gKA_soma": load_model("ca1_layout")["gKA_soma"]}
    res = simulate(proto, params=params, trace_windows=[("1.49 min", "1.52 min")], progress=False)
    soma = res.traces[res.traces.compartment == "soma"].sort_values("time_s")
    start, settled = soma.v_mV.iloc[0], soma[soma.time_s <= 89.5].v_mV.iloc[-1]  # the pulse comes at 90 s
    assert abs(start - settled) < 0.05, (start, settled)
    s1 = res.fepsp[res.fepsp.pathway == "S1"].synaptic_current_pA
    assert s1.max() - s1.min() < 1e-3 * s1.mean(), s1.tolist()


def test_a_dendritic_channel_density_that_falls_with_distance_is_refused():
    """The A-type and Ih densities rise along the apical dendrite (gKA_soma*(1 + ka_gradient*
    distance)); a falling one is refused with one line naming the parameter (the model
    entries' range: beyond 1/|gradient| from the soma it would be negative)."""
    from biophys_ltp.model import ModelError
    for name in ("ka_gradient", "h_gradient"):
        with pytest.raises(ModelError, match=name):
            load_model("ca1_layout", overrides={name: "-0.001 1/um"})
