"""Induction from spine calcium: frequency response and spike timing (figure induction).

Targets: biophys_ltp.targets (``freq_*``, ``stdp_*``).  The full set of 34 runs is in the
slow run (CI step 2); the default run checks a subset on both sides of every target it
can reach cheaply.
"""

from __future__ import annotations

import pytest

from biophys_ltp.experiments import FREQUENCIES_HZ, STDP_OFFSETS_MS, induction_change
from biophys_ltp.regression import compare
from biophys_ltp.targets import BANDS

pytestmark = pytest.mark.standalone

STDP_BLOCKED = ("with one backpropagating spike per pairing the spine calcium of a +5 or +10 ms pairing "
                "(3.3-4.1 uM) stays below that of a 20-Hz triplet (6.0 uM), which must depress (SLFS), and "
                "that of +5 ms below that of +50 ms (3.5 uM): the bAP that follows an EPSP by 5 ms is smaller "
                "(head -6 mV against +9 mV at +50 ms); a post-before-pre pairing adds almost nothing to an "
                "EPSP's calcium (experiments.spine_signatures; figure biophysics, panel C; "
                "test_the_spine_signatures_behind_the_blocked_window_still_hold): a calcium-level rule cannot "
                "give the window; nor can a rule on the NMDA receptors' own Ca2+ current (a CaMKII-NMDA "
                "receptor nanodomain): 0.68 pA for a +10 ms pairing, 0.62 pA for a 20-Hz triplet, which "
                "depolarises the spine head to -31 mV behind its neck (0.19 pA for an EPSP alone); nor does "
                "a dendritic A-type K+ current (Hoffman et al. 1997 gradient, Migliore et al. 1999 kinetics, "
                "tried at several densities): one pathway's EPSP has left the oblique branch within 5 ms, so "
                "it inactivates too few channels to boost the bAP, and the channel lowers the pairings' "
                "calcium (+10 ms: 3.2-3.6 uM) while the triplet's stays at 5.1-6.2 uM; nor a neck of twice "
                "the diameter (the EPSP depolarises the whole oblique branch: head -40 mV, triplet 5.6 uM, "
                "+10 ms 4.0 uM); a burst of three spikes at 100 Hz from +10 ms gives 6.2 uM, no more than "
                "the triplet; nor a kinase route on NMDA receptor Ca2+ current (> 0.5 pA) during VDCC current "
                "(> 0.1 pA, a spike in the head): +5/+10 ms then give +26/+33 %, |dt| >= 50 ms nothing, but SLFS "
                "potentiates (184 % at 60 min), because the pathway's other spines, further out on the "
                "oblique, reach -16 to -1 mV, 6.8-8.4 uM and 0.94-1.12 pA of NMDA receptor Ca2+ current "
                "in a 20-Hz triplet without any spike (enough to open their VDCCs), more than in a +10 ms pairing "
                "(4.4-4.8 uM, 0.69 pA); spine_signatures measures the pathway's first spine")


def test_the_spine_signatures_behind_the_blocked_window_still_hold():
    """The spike-timing tests below are expected failures for the reasons in STDP_BLOCKED;
    this checks the measurements that reason rests on, so that a model change that alters
    them shows up here and the window is looked at again."""
    from biophys_ltp.experiments import spine_signatures
    sig = spine_signatures().set_index("event")
    ca, v = sig.ca_peak_increase_uM, sig.v_peak_mV
    triplet = ca["3 pulses at 20 Hz"]
    assert ca["pairing +5 ms"] < triplet and ca["pairing +10 ms"] < triplet, sig
    assert ca["pairing +5 ms"] < ca["pairing +50 ms"], sig
    assert v["pairing +5 ms"] < v["pairing +50 ms"], sig
    # the table measures what it claims to: every pairing's window holds the spike (the
    # head goes tens of mV above an EPSP's peak), and a pairing is more than an EPSP
    pairings = [e for e in sig.index if e.startswith("pairing")]
    assert (v[pairings] > v["epsp"] + 25).all(), sig
    assert (ca[pairings] > ca["epsp"]).all(), sig


def _run(results, experiment, value, apv=False):
    return results[(experiment, float(value), apv)]


# --- default run -----------------------------------------------------------------------

def test_frequency_response_crosses_baseline_between_10_and_20_hz(induction_subset):
    """Dudek & Bear 1992: no change near 10 Hz, LTP above; 100 Hz potentiates."""
    _, res = induction_subset
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
    crossings = fig.crossing_hz(freq)
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
@pytest.mark.xfail(strict=True, reason=STDP_BLOCKED)
def test_stdp_pre_before_post_potentiates(induction):
    fig, res = induction
    stdp = fig.tidy(res)["stdp"]
    for dt in (5.0, 10.0):
        v = float(stdp[(stdp.apv == 0) & (stdp.offset_ms == dt)].fepsp_pct.iloc[0])
        assert v in BANDS["stdp_pre_post"], f"dt = {dt:+g} ms: {v:.1f} %"


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=STDP_BLOCKED)
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
