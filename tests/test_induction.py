"""Induction from spine calcium: frequency response and spike timing (figure induction).

Targets: biophys_ltp.targets (``freq_*``, ``stdp_*``).  The full set of 45 runs is in the
slow run (CI step 2; the pairings at 0.3 Hz as in CA1 slices are held-out experiments,
tested in tests/test_validation.py); the default run checks a subset on both sides of every target it
can reach cheaply.

Most bands here are calibration targets (``role = "calibration"`` in
biophys_ltp/targets.toml, whose ``tuned`` names the parameters fitted to them): these tests
check that the fit still holds after a change, they are not evidence that the model
predicts them.  Predictions are in tests/test_validation.py (held-out experiments) and
tests/test_causes.py (the fitted mechanisms knocked out).
"""

from __future__ import annotations

import pytest

from biophys_ltp.experiments import FREQUENCIES_HZ, STDP_OFFSETS_MS, frequency_crossings, induction_change
from biophys_ltp.regression import compare
from biophys_ltp.targets import BANDS

pytestmark = pytest.mark.standalone


def test_the_spike_is_read_where_the_branch_leaves_the_trunk():
    """Why the default model's spike_coincidence reads a passing spike at the branch point
    (spike_site = "branch_root") and not in the spine: in the spine head a 20-Hz triplet
    (one SLFS burst, which must depress) gives more calcium than a +5 or +10 ms pairing,
    while at the branch point every pairing's spike peaks far above the highest a train
    reaches; and a pairing with the spike 5-20 ms after
    the pulse carries more NMDA receptor Ca2+ current than an EPSP alone, a post-before-pre
    or a +50 ms pairing (first spine of S1; the realistic layout's heads, which can tell
    them apart, are tests/test_layout.py's).  Signals only, compared with each other: where
    the fitted thresholds theta_bap and theta_nmda_ca sit between them, and by what margin,
    is reported by ``biophys-ltp sensitivity --margins`` (README), and that the +10 ms
    potentiation goes through the coincidence route is tests/test_causes.py's."""
    from biophys_ltp.experiments import spine_signatures
    sig = spine_signatures().set_index("event")
    ca, v, nmda, root = sig.ca_peak_increase_uM, sig.v_peak_mV, sig.nmda_ca_peak_pA, sig.v_branch_peak_mV
    assert (sig.v_spike_site_peak_mV == root).all(), sig  # the default's site is the branch point
    triplet = ca["3 pulses at 20 Hz"]
    assert ca["pairing +5 ms"] < triplet and ca["pairing +10 ms"] < triplet, sig
    pairings = [e for e in sig.index if e.startswith("pairing")]
    trains = ["epsp", "3 pulses at 20 Hz", "5 pulses at 100 Hz"]
    # at the branch point a passing spike and the trains are tens of mV apart
    assert root[pairings].min() > root[trains].max() + 20, sig
    coincident = ["pairing +5 ms", "pairing +10 ms", "pairing +20 ms"]
    apart = ["epsp", "pairing -10 ms", "pairing +50 ms"]
    assert nmda[coincident].min() > nmda[apart].max(), sig
    # the table measures what it claims to: every pairing's window holds the spike (the
    # head goes tens of mV above an EPSP's peak), and a pairing is more than an EPSP
    assert (v[pairings] > v["epsp"] + 25).all(), sig
    assert (ca[pairings] > ca["epsp"]).all(), sig


def test_a_pairing_with_a_burst_fires_the_cell_once_per_spike_of_the_burst(runs_once):
    """A pairing event with ``spikes`` = 3 at 100 Hz (the held-out experiment
    stdp_burst_gain_pp, Inglebert et al. 2020) drives three somatic action potentials 10 ms
    apart after each pulse: the burst is delivered as the protocol says, not merged into
    one long step or dropped."""
    import numpy as np
    protocol = {"name": "two burst pairings", "duration": "3 min", "baseline": "1 min", "test_interval": "5 min",
                "pathways": ["S1", "S2"],
                "events": [{"kind": "pairing", "pathway": "S1", "at": "61 s", "pairs": 2, "frequency": "0.3 Hz",
                            "dt": "10 ms", "spikes": 3, "spike_frequency": "100 Hz"}]}
    res = runs_once({"induction: two burst pairings": {"protocol": protocol,
                                                        "trace_windows": [("60.9 s", "64.6 s")]}})
    tr = res["induction: two burst pairings"].traces
    soma = tr[tr.compartment == "soma"].sort_values("time_s")
    t, v = soma.time_s.to_numpy(), soma.v_mV.to_numpy()
    crossings = t[1:][(v[1:] > 0) & (v[:-1] <= 0)]
    expected = np.array([61.0, 64.333333333]).repeat(3) + np.tile([0.010, 0.020, 0.030], 2)
    assert len(crossings) == 6, crossings
    # each action potential peaks within ~1.5 ms of its 2-ms step's onset
    assert np.all((crossings >= expected) & (crossings < expected + 0.0025)), crossings - expected


def _run(results, experiment, value, apv=False):
    return results[(experiment, float(value), apv)]


# --- default run -----------------------------------------------------------------------

def test_frequency_response_depresses_at_1_hz_and_crosses_baseline_between_10_and_20_hz(induction_subset):
    """Dudek & Bear 1992: LTD at 1 Hz, no change near 10 Hz, LTP above; 100 Hz potentiates."""
    _, res = induction_subset
    f1 = induction_change(_run(res, "frequency", 1))
    assert f1 in BANDS["freq_1hz"], f"1 Hz: {f1:.1f} % not in {BANDS['freq_1hz'].describe()}"
    f10 = induction_change(_run(res, "frequency", 10))
    f20 = induction_change(_run(res, "frequency", 20))
    f100 = induction_change(_run(res, "frequency", 100))
    assert f10 in BANDS["freq_10hz"], f"10 Hz: {f10:.1f} % not in {BANDS['freq_10hz'].describe()}"
    assert f10 < 100 < f20, f"the curve should cross 100 % between 10 Hz ({f10:.1f}) and 20 Hz ({f20:.1f})"
    assert f100 in BANDS["freq_50_100hz"], f"100 Hz: {f100:.1f} %"


def test_apv_blocks_potentiation_by_100_hz_and_by_pairing(induction_subset):
    _, res = induction_subset
    for key in (("frequency", 100.0, True), ("stdp", 10.0, True)):
        value = induction_change(res[key])
        band = BANDS["freq_apv"] if key[0] == "frequency" else BANDS["stdp_apv"]
        assert value in band, f"{key}: {value:.1f} % with APV, not in {band.describe()}"


def test_spike_timing_sign_follows_the_order_at_10_ms(induction_subset):
    """Bi & Poo 1998: a spike 10 ms after the pulse potentiates, 10 ms before it depresses
    (every offset: the slow run)."""
    _, res = induction_subset
    pre_post = induction_change(_run(res, "stdp", 10))
    post_pre = induction_change(_run(res, "stdp", -10))
    assert pre_post in BANDS["stdp_pre_post"], f"+10 ms: {pre_post:.1f} %"
    assert post_pre in BANDS["stdp_post_pre"], f"-10 ms: {post_pre:.1f} %"


def test_induction_subset_matches_stored_data(induction_subset):
    fig, res = induction_subset
    new = fig.tidy(res)
    stored = fig.load()
    problems = []
    for part, key in (("frequency", "frequency_hz"), ("stdp", "offset_ms")):
        rows = new[part]
        want = stored[part].merge(rows[[key, "apv"]], on=[key, "apv"])
        assert len(want) == len(rows), f"{part}: stored data lack rows {rows[[key, 'apv']].to_dict('records')}"
        problems += compare("induction", want, rows, keys=[key, "apv"])
    fe = new["fepsp"]
    keys = ["experiment", "value", "apv", "pathway", "time_min"]
    want = stored["fepsp"].merge(fe[keys], on=keys)
    problems += compare("induction", want, fe, keys=keys)
    assert not problems, "\n\n".join(problems)


# --- slow run: every frequency and offset ------------------------------------------------

@pytest.mark.slow
def test_frequency_response_targets(induction):
    fig, res = induction
    freq = fig.tidy(res)["frequency"]
    model = dict(zip(freq[freq.apv == 0].frequency_hz, freq[freq.apv == 0].fepsp_pct))
    assert sorted(model) == sorted(map(float, FREQUENCIES_HZ))
    assert model[1.0] in BANDS["freq_1hz"], f"1 Hz: {model[1.0]:.1f} %"
    assert model[10.0] in BANDS["freq_10hz"], f"10 Hz: {model[10.0]:.1f} %"
    for f in (50.0, 100.0):
        assert model[f] in BANDS["freq_50_100hz"], f"{f:g} Hz: {model[f]:.1f} %"
    crossings = frequency_crossings(freq)
    assert len(crossings) == 1 and crossings[0] in BANDS["freq_crossing_hz"], \
        f"crossings of 100 %: {crossings} ({model})"
    apv = freq[freq.apv == 1]
    assert all(v in BANDS["freq_apv"] for v in apv.fepsp_pct), apv.to_string()
    assert all(v in BANDS["control_pathway"] for v in freq.control_pct)


@pytest.mark.slow
def test_stdp_far_offsets_and_apv(induction):
    """|dt| >= 50 ms: less than +-10 %; with APV less than +-5 % at every offset."""
    fig, res = induction
    stdp = fig.tidy(res)["stdp"]
    assert sorted(stdp[stdp.apv == 0].offset_ms) == sorted(map(float, STDP_OFFSETS_MS))
    far = stdp[(stdp.apv == 0) & (stdp.offset_ms.abs() >= 50)]
    assert all(v in BANDS["stdp_far"] for v in far.fepsp_pct), far.to_string()
    apv = stdp[stdp.apv == 1]
    assert all(v in BANDS["stdp_apv"] for v in apv.fepsp_pct), apv.to_string()


@pytest.mark.slow
def test_stdp_pre_before_post_potentiates(induction):
    fig, res = induction
    stdp = fig.tidy(res)["stdp"]
    for dt in (5.0, 10.0):
        v = float(stdp[(stdp.apv == 0) & (stdp.offset_ms == dt)].fepsp_pct.iloc[0])
        assert v in BANDS["stdp_pre_post"], f"dt = {dt:+g} ms: {v:.1f} %"


@pytest.mark.slow
def test_stdp_post_before_pre_depresses(induction):
    fig, res = induction
    stdp = fig.tidy(res)["stdp"]
    for dt in (-5.0, -10.0):
        v = float(stdp[(stdp.apv == 0) & (stdp.offset_ms == dt)].fepsp_pct.iloc[0])
        assert v in BANDS["stdp_post_pre"], f"dt = {dt:+g} ms: {v:.1f} %"


@pytest.mark.slow
def test_induction_data_match_stored(induction):
    fig, res = induction
    new, stored = fig.tidy(res), fig.load()
    problems = compare("induction", stored["frequency"], new["frequency"], keys=["frequency_hz", "apv"])
    problems += compare("induction", stored["stdp"], new["stdp"], keys=["offset_ms", "apv"])
    problems += compare("induction", stored["slice"], new["slice"], keys=["experiment", "offset_ms", "spikes"])
    problems += compare("induction", stored["fepsp"], new["fepsp"],
                        keys=["experiment", "value", "apv", "pathway", "time_min"])
    assert not problems, "\n\n".join(problems)


# --- protocols -------------------------------------------------------------------------

def test_every_induction_ends_at_the_same_test_pulse_time():
    from biophys_ltp.experiments import (FREQUENCY_PULSES, INDUCTION_END_MIN, STDP_PAIRS, frequency_protocol,
                                         stdp_protocol)
    from biophys_ltp.protocol import protocol_from_dict
    for f in FREQUENCIES_HZ:
        p = protocol_from_dict(frequency_protocol(f))
        pulses = p.induction_pulses()["S1"]
        assert len(pulses) == FREQUENCY_PULSES
        assert abs(float(pulses[-1]) / 60 - INDUCTION_END_MIN) < 1e-6
        assert float(pulses[0]) >= 30 * 60  # after the baseline
    p = protocol_from_dict(stdp_protocol(-10, apv=True))
    pulses = p.induction_pulses()["S1"]
    assert len(pulses) == STDP_PAIRS and abs(float(pulses[-1]) / 60 - INDUCTION_END_MIN) < 1e-6
    assert any(e.kind == "drug" for e in p.events)


def test_frequency_protocol_rejects_what_does_not_fit():
    from biophys_ltp.experiments import frequency_protocol
    with pytest.raises(ValueError, match="positive"):
        frequency_protocol(0)
    with pytest.raises(ValueError, match="do not fit"):
        frequency_protocol(0.5)  # 900 pulses at 0.5 Hz last 30 min
