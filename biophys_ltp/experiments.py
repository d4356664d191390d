"""Short electrophysiology experiments on the model: Mg2+ block, spine calcium, bAPs.

These evaluate the model's own equations (not copies of them): ``mg_block`` evaluates the
NMDA mechanism's ``mg_unblocked`` rate (the one tabulated as ``B_mg``), and ``biophysics`` runs a
2-second protocol through the same compiled program as every other simulation and
measures its fast traces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import brian2 as b2
import numpy as np
import pandas as pd

from .errors import InputError
from .model import Model, load_model
from .protocol import protocol_from_dict
from .simulation import compartment_labels, simulate, trunk_distances


def mg_block(v: b2.Quantity, model: Model | None = None) -> np.ndarray:
    """Fraction of NMDA conductance left unblocked at membrane potential(s) ``v``."""
    from .engine.gates import rate_values
    model = model or load_model()
    # the model's own expression (the nmda mechanism's rates), the one tabulated for the program
    return np.asarray(rate_values(model, v)["mg_unblocked"], dtype=float)


# Spike-timing of the biophysics protocol (biological time).  The EPSP alone is a
# one-pulse train, not a test pulse: test pulses within 1 s of another pathway's
# induction are dropped (protocol.TEST_PULSE_MARGIN).
EPSP_AT = 1.0  # S1 pulse: EPSP alone in S1's spine (after S1's bAP has decayed)
PAIR_AT = 0.5  # S2 pulse followed PAIR_DT later by a somatic spike: pairing in S2's spine,
PAIR_DT = 0.010  # and a backpropagating AP alone in S1's spine
WINDOW = 0.35  # analysis window after each event (s)


def biophysics_protocol(pair_dt_ms: float = PAIR_DT * 1e3) -> dict[str, Any]:
    return {
        "name": "Biophysics: EPSP alone, spike alone, EPSP + spike",
        "duration": "2 s", "baseline": "0 s", "test_interval": "10 min",
        "pathways": ["S1", "S2", "S3"],
        "events": [{"kind": "train", "pathway": "S1", "at": f"{EPSP_AT} s", "pulses": 1,
                    "frequency": "1 Hz"},
                   {"kind": "pairing", "pathway": "S2", "at": f"{PAIR_AT} s", "pairs": 1,
                    "dt": f"{pair_dt_ms} ms"}],
    }


@dataclass
class Biophysics:
    ca_rest_uM: float
    ca_epsp_uM: float  # peak increase, EPSP alone
    ca_bap_uM: float  # peak increase, bAP alone
    ca_pair_uM: float  # peak increase, EPSP then spike
    ca_decay_ms: float  # decay time constant after the bAP
    supralinearity: float  # pair / (EPSP + bAP)
    v_rest_mV: float
    soma_ap_mV: float  # AP amplitude at the soma (from rest)
    bap: pd.DataFrame  # distance_um, amplitude_mV, fraction of somatic amplitude
    traces: pd.DataFrame


#: the trace window of :func:`biophysics_protocol` that :func:`biophysics_of` reads
BIOPHYSICS_TRACE_WINDOWS = [("0 s", "1.5 s")]


def biophysics(model: str | Model | None = None, params: Mapping[str, Any] | None = None,
               **kwargs) -> Biophysics:
    """Run :func:`biophysics_protocol` and measure it (:func:`biophysics_of`)."""
    res = simulate(protocol_from_dict(biophysics_protocol()), model, params=params,
                   trace_windows=BIOPHYSICS_TRACE_WINDOWS, progress=False, **kwargs)
    return biophysics_of(res)


def biophysics_of(res: Any) -> Biophysics:
    """Spine Ca2+ and the backpropagating AP, measured in a run of :func:`biophysics_protocol`
    with :data:`BIOPHYSICS_TRACE_WINDOWS`."""
    tr = res.traces

    def comp(name: str, t0: float) -> pd.DataFrame:
        c = tr[tr.compartment == name]
        return c[(c.time_s >= t0) & (c.time_s < t0 + WINDOW)]

    s1_epsp = comp("S1_spine", EPSP_AT)
    s1_bap = comp("S1_spine", PAIR_AT)
    s2_pair = comp("S2_spine", PAIR_AT)
    rest = float(s1_epsp.ca_uM.iloc[0])
    epsp = float(s1_epsp.ca_uM.max()) - rest
    bap = float(s1_bap.ca_uM.max()) - rest
    pair = float(s2_pair.ca_uM.max()) - rest
    decay = _decay_ms(s1_bap.time_s.to_numpy(), s1_bap.ca_uM.to_numpy() - rest)
    soma = comp("soma", PAIR_AT)
    v_rest = float(soma.v_mV.iloc[0])
    soma_amp = float(soma.v_mV.max()) - v_rest
    dists = trunk_distances(res.model)
    rows = []
    for k, d in enumerate(dists):
        c = comp(f"trunk_{k}", PAIR_AT)
        amp = float(c.v_mV.max() - c.v_mV.iloc[0])
        rows.append((d, amp, amp / soma_amp))
    bap_df = pd.DataFrame(rows, columns=["distance_um", "amplitude_mV", "fraction_of_soma"])
    return Biophysics(rest, epsp, bap, pair, decay, pair / (epsp + bap), v_rest, soma_amp, bap_df, tr)


def _decay_ms(t: np.ndarray, ca: np.ndarray) -> float:
    """Exponential decay time constant from the peak down to 10 % of it (log-linear fit)."""
    k = int(np.argmax(ca))
    sel = (np.arange(len(ca)) > k) & (ca > 0.1 * ca[k]) & (t > t[k] + 0.003)
    slope = np.polyfit(t[sel], np.log(ca[sel]), 1)[0]
    return float(-1e3 / slope)


def bap_amplitude_at(bio: Biophysics, distance_um: float) -> float:
    """bAP amplitude as a fraction of the somatic one, interpolated at ``distance_um``."""
    return float(np.interp(distance_um, bio.bap.distance_um, bio.bap.fraction_of_soma))


# Spine signatures of single events on one pathway: what the spine head sees for an EPSP,
# for pairings with a postsynaptic spike at several offsets (spike minus pulse), for one
# burst of the strong low-frequency stimulation (3 pulses at 20 Hz, Sajikumar & Frey 2004)
# and for the start of a tetanus (5 pulses at 100 Hz).  Events are SIGNATURE_SPACING apart
# so that release, calcium and voltage are back at rest (tau_rec 0.5 s); the 100-Hz train
# comes last because it changes the synapses' weights the most.
SIGNATURE_EVENTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("epsp", {"kind": "train", "pulses": 1, "frequency": "1 Hz"}),
    *((f"pairing {dt:+d} ms", {"kind": "pairing", "pairs": 1, "frequency": "1 Hz", "dt": f"{dt} ms"})
      for dt in (-10, 5, 10, 20, 50)),
    ("3 pulses at 20 Hz", {"kind": "train", "pulses": 3, "frequency": "20 Hz"}),
    ("5 pulses at 100 Hz", {"kind": "train", "pulses": 5, "frequency": "100 Hz"}),
)
SIGNATURE_SPACING = 3.0  # s between events
SIGNATURE_WINDOW = (-0.015, 0.3)  # s around each event's pulse (and spike) that is measured


def _signature_starts() -> list[float]:
    """Time (s) of each event of :data:`SIGNATURE_EVENTS` in :func:`signature_protocol`."""
    return [SIGNATURE_SPACING * (k + 1) for k in range(len(SIGNATURE_EVENTS))]


def signature_protocol(pathway: str = "S1") -> dict[str, Any]:
    events = [{**event, "pathway": pathway, "at": f"{t} s"}
              for (_, event), t in zip(SIGNATURE_EVENTS, _signature_starts())]
    # the test pulses at 0, 0.1 and 0.2 s (none of S1's events is within 1 s) form the baseline
    return {"name": "Spine signatures of single events", "baseline": "1 s", "test_interval": "10 min",
            "duration": f"{SIGNATURE_SPACING * (len(events) + 1)} s", "pathways": ["S1", "S2", "S3"],
            "events": events}


def spine_signatures(model: str | Model | None = None, params: Mapping[str, Any] | None = None,
                     pathway: str = "S1", **kwargs) -> pd.DataFrame:
    """Per event of :data:`SIGNATURE_EVENTS`: the peak rise of free Ca2+ in ``pathway``'s
    spine head above its level before the event (``ca_peak_increase_uM``), the peak
    head voltage (``v_peak_mV``), the peak Ca2+ current through its NMDA receptors
    (``nmda_ca_peak_pA``: ``i_nmda_ca`` of the nmda mechanism), the peak voltage
    where the pathway's branch leaves the trunk (``v_branch_peak_mV``) and the peak at the
    model's spike site (``v_spike_site_peak_mV``: what the spike_coincidence mechanism
    compares with theta_bap; the head's or the branch point's, by ``spike_site``).  The numbers behind the
    spike-timing discussion in the README.  The spine measured is the pathway's first one
    (the one traces record); the pathway's other spines, further out on its branch,
    depolarise more."""
    lo, hi = SIGNATURE_WINDOW
    starts = _signature_starts()
    windows = [(f"{t + lo} s", f"{t + hi} s") for t in starts]
    res = simulate(protocol_from_dict(signature_protocol(pathway)), model, params=params,
                   trace_windows=windows, progress=False, **kwargs)
    _, idx = res.model.morphology()
    branch = compartment_labels(res.model)[int(idx["root"][res.model.pathways.index(pathway), 0])]
    head = res.traces[res.traces.compartment == f"{pathway}_spine"]
    root = res.traces[res.traces.compartment == branch]
    rows = []
    for (label, _), t0 in zip(SIGNATURE_EVENTS, starts):
        w = head[(head.time_s >= t0 + lo) & (head.time_s < t0 + hi)].sort_values("time_s")
        r = root[(root.time_s >= t0 + lo) & (root.time_s < t0 + hi)]
        if w.empty or r.empty:
            raise RuntimeError(f"no trace samples for {label!r} at {t0} s")
        v_head, v_branch = float(w.v_mV.max()), float(r.v_mV.max())
        rows.append({"event": label, "ca_peak_increase_uM": float(w.ca_uM.max() - w.ca_uM.iloc[0]),
                     "v_peak_mV": v_head, "nmda_ca_peak_pA": float(w.i_nmda_ca_pA.max()),
                     "v_branch_peak_mV": v_branch,
                     "v_spike_site_peak_mV": v_head if res.model.spike_site == "spine_head" else v_branch})
    return pd.DataFrame(rows)


# Repetition and spacing of 100-Hz trains (Scharf et al. 2002, J Neurophysiol 87:2770;
# Woo et al. 2003, Hippocampus 13:293): the number of 1-s trains and their spacing,
# against L-LTP at 8 h.
REPETITION_TRAINS = (1, 2, 3, 4)
REPETITION_SPACING_MIN = (1, 5, 10)


def repetition_protocol(trains: int, spacing_min: float, duration: str = "10 h") -> dict[str, Any]:
    """``trains`` trains of 100 pulses at 100 Hz on S1, ``spacing_min`` minutes apart (onset
    to onset), after a 30-min baseline; S2 is the unstimulated control."""
    if trains < 1:
        raise InputError(f"trains must be at least 1, got {trains}")
    event = {"kind": "train", "pathway": "S1", "at": "30 min", "pulses": 100, "frequency": "100 Hz"}
    if trains > 1:
        event.update(repeats=trains, every=f"{spacing_min} min")
    return {
        "name": f"{trains} x 100 Hz, {spacing_min:g} min apart" if trains > 1 else "1 x 100 Hz",
        "description": "Repetition and spacing of high-frequency trains (Scharf et al. 2002; "
                       "Woo et al. 2003).",
        "duration": duration, "baseline": "30 min", "test_interval": "5 min",
        "pathways": ["S1", "S2"], "events": [event],
    }


def repetition_jobs(**kwargs: Any) -> dict[str, dict[str, Any]]:
    """Jobs for :func:`~biophys_ltp.simulation.simulate_many`: one train, and 2-4 trains at
    every spacing; keys ``"<trains>x<spacing>"`` (``"1x0"`` for one train)."""
    jobs = {"1x0": dict(protocol=repetition_protocol(1, 0), **kwargs)}
    for n in REPETITION_TRAINS[1:]:
        for sp in REPETITION_SPACING_MIN:
            jobs[f"{n}x{sp:g}"] = dict(protocol=repetition_protocol(n, sp), **kwargs)
    return jobs


# Spaced theta bursts (Kramar et al. 2012, PNAS 109:5121): a second TBS 10, 30 or 60 min
# after the first, on the same pathway; potentiation 2 h after the second against one TBS.
TBS_GAPS_MIN = (10, 30, 60)
TBS_FIRST_MIN = 30.0


def tbs_spacing_protocol(gap_min: float = 0, duration: str = "4 h") -> dict[str, Any]:
    """One theta burst (10 bursts of 4 pulses at 100 Hz, 5 Hz) on S1 at 30 min, and with
    ``gap_min`` > 0 a second one ``gap_min`` minutes later (onset to onset); S2 is the
    unstimulated control."""
    if gap_min < 0:
        raise InputError(f"gap_min must not be negative, got {gap_min}")
    # two events rather than one repeated event: test pulses go on between them
    events = [{"kind": "tbs", "pathway": "S1", "at": f"{t:g} min"}
              for t in ((TBS_FIRST_MIN, TBS_FIRST_MIN + gap_min) if gap_min else (TBS_FIRST_MIN,))]
    return {
        "name": f"2 x TBS, {gap_min:g} min apart" if gap_min else "1 x TBS",
        "description": "Spaced theta-burst stimulation (Kramar et al. 2012).",
        "duration": duration, "baseline": "30 min", "test_interval": "5 min",
        "pathways": ["S1", "S2"], "events": events,
    }


def tbs_spacing_jobs(**kwargs: Any) -> dict[str, dict[str, Any]]:
    """Jobs for :func:`~biophys_ltp.simulation.simulate_many`: one TBS (key ``0``) and two
    TBS ``gap`` minutes apart (key ``gap``) for every gap of ``TBS_GAPS_MIN``."""
    return {gap: dict(protocol=tbs_spacing_protocol(gap), **kwargs) for gap in (0, *TBS_GAPS_MIN)}


def tbs_added_pp(results: Mapping[Any, Any], gap_min: float, after_min: float = 120.0) -> float:
    """Percentage points that a second TBS ``gap_min`` minutes after the first adds,
    ``after_min`` minutes after the second, over one TBS alone at the same time."""
    t = TBS_FIRST_MIN + gap_min + after_min
    return results[gap_min].fepsp_at("S1", t) - results[0].fepsp_at("S1", t)


# "Learning a word" over a day: the same six 100-Hz trains (100 pulses each) on S1, crammed
# into one session or spread over two sessions 6 h apart, against a single brief exposure
# (one weak tetanus).  S2 is the unstimulated control.
LEARNING_DAY_HOURS = 24
LEARNING_SESSION_GAP_MIN = 360


def learning_day_protocols(duration: str = f"{LEARNING_DAY_HOURS} h") -> dict[str, dict[str, Any]]:
    """Protocols of the "learning a word" comparison, by key: ``"once"`` (one weak tetanus,
    21 pulses at 100 Hz), ``"crammed"`` (six trains 1 min apart), ``"spaced"`` (two sessions
    of three trains 10 min apart, ``LEARNING_SESSION_GAP_MIN`` apart).  All start at 30 min."""
    train = {"kind": "train", "pathway": "S1", "pulses": 100, "frequency": "100 Hz"}
    sessions = {
        "once": ("heard once: one weak tetanus", [{"kind": "weak_tetanus", "pathway": "S1", "at": "30 min"}]),
        "crammed": ("crammed: six 100-Hz trains 1 min apart",
                    [{**train, "at": "30 min", "repeats": 6, "every": "1 min"}]),
        "spaced": (f"spaced: three 100-Hz trains 10 min apart, twice, {LEARNING_SESSION_GAP_MIN / 60:g} h apart",
                   [{**train, "at": "30 min", "repeats": 3, "every": "10 min"},
                    {**train, "at": f"{30 + LEARNING_SESSION_GAP_MIN} min", "repeats": 3, "every": "10 min"}]),
    }
    return {key: {"name": name, "description": "Learning a word: one exposure, crammed or spaced practice.",
                  "duration": duration, "baseline": "30 min", "test_interval": "10 min",
                  "pathways": ["S1", "S2"], "events": events}
            for key, (name, events) in sessions.items()}


def learning_day_jobs(**kwargs: Any) -> dict[str, dict[str, Any]]:
    """Jobs for :func:`~biophys_ltp.simulation.simulate_many`, keyed as
    :func:`learning_day_protocols`."""
    return {key: dict(protocol=p, **kwargs) for key, p in learning_day_protocols().items()}


# Induction from spine calcium: the frequency response (Dudek & Bear 1992, PNAS 89:4363:
# 900 pulses at 1-50 Hz; Mulkey & Malenka 1992 for the APV block) and spike-timing-
# dependent plasticity (Bi & Poo 1998, J Neurosci 18:10464: 60 pairings at 1 Hz of a
# presynaptic pulse and a postsynaptic spike).  Every induction ends at INDUCTION_END_MIN
# (a test-pulse time), so that the change is read at a test pulse exactly
# INDUCTION_AFTER_MIN after the last pulse.  S2 is the unstimulated control.
FREQUENCIES_HZ = (1, 3, 5, 10, 20, 50, 100)
FREQUENCY_PULSES = 900
STDP_OFFSETS_MS = (-100, -50, -20, -10, -5, 5, 10, 20, 50, 100)
STDP_PAIRS = 60
STDP_RATE_HZ = 1.0
# the spikes of a postsynaptic burst, 10 ms apart: a choice (the spike interval of the
# bursts in Inglebert et al. 2020's Fig. 4 was not read)
BURST_SPIKE_HZ = 100.0
INDUCTION_END_MIN = 45.0
INDUCTION_AFTER_MIN = 60.0


def _induction_protocol(name: str, event: dict[str, Any], apv: bool) -> dict[str, Any]:
    duration = INDUCTION_END_MIN + INDUCTION_AFTER_MIN + 5
    events = [event]
    if apv:
        events.append({"kind": "drug", "drug": "apv", "start": "0 min", "stop": f"{duration:g} min"})
    return {"name": name + (" + APV" if apv else ""),
            "description": "NMDA receptors blocked throughout (APV)" if apv else "",
            "duration": f"{duration:g} min", "baseline": "30 min", "test_interval": "5 min",
            "pathways": ["S1", "S2"], "events": events}


def frequency_protocol(frequency_hz: float, apv: bool = False) -> dict[str, Any]:
    """900 pulses at ``frequency_hz`` on S1, ending at :data:`INDUCTION_END_MIN`; with
    ``apv`` the NMDA receptors are blocked throughout."""
    if not frequency_hz > 0:
        raise InputError(f"frequency_hz must be positive, got {frequency_hz}")
    start_s = INDUCTION_END_MIN * 60 - (FREQUENCY_PULSES - 1) / frequency_hz
    if start_s < 30 * 60:
        raise InputError(f"{FREQUENCY_PULSES} pulses at {frequency_hz} Hz do not fit between the 30-min "
                         f"baseline and {INDUCTION_END_MIN:g} min")
    event = {"kind": "train", "pathway": "S1", "at": f"{start_s:.6f} s", "pulses": FREQUENCY_PULSES,
             "frequency": f"{frequency_hz:g} Hz"}
    return _induction_protocol(f"{FREQUENCY_PULSES} pulses at {frequency_hz:g} Hz", event, apv)


def stdp_protocol(offset_ms: float, apv: bool = False, *, spikes: int = 1, pairs: int = STDP_PAIRS,
                  rate_hz: float = STDP_RATE_HZ) -> dict[str, Any]:
    """``pairs`` pairings (default 60) at ``rate_hz`` (default 1 Hz) on S1, each a
    presynaptic pulse and a somatic spike (2-ms current step) ``offset_ms`` after it
    (negative: the spike first), or a burst of ``spikes`` spikes :data:`BURST_SPIKE_HZ` apart
    starting then; the last pairing's pulse at :data:`INDUCTION_END_MIN`; with ``apv`` the
    NMDA receptors are blocked throughout."""
    start_s = INDUCTION_END_MIN * 60 - (pairs - 1) / rate_hz
    at_s = f"{start_s:.6f}".rstrip("0").rstrip(".")
    event = {"kind": "pairing", "pathway": "S1", "at": f"{at_s} s", "pairs": pairs,
             "frequency": f"{rate_hz:g} Hz", "dt": f"{offset_ms:g} ms"}
    name = f"STDP, {pairs} pairings, spike {offset_ms:+g} ms"
    if spikes > 1:
        event.update(spikes=spikes, spike_frequency=f"{BURST_SPIKE_HZ:g} Hz")
        name = f"STDP, {pairs} pairings at {rate_hz:g} Hz, {spikes} spikes from {offset_ms:+g} ms"
    elif (pairs, rate_hz) != (STDP_PAIRS, STDP_RATE_HZ):
        name = f"STDP, {pairs} pairings at {rate_hz:g} Hz, spike {offset_ms:+g} ms"
    return _induction_protocol(name, event, apv)


def frequency_jobs(frequencies: tuple[float, ...] = FREQUENCIES_HZ, apv: tuple[bool, ...] = (False, True),
                   **kwargs: Any) -> dict[tuple[float, bool], dict[str, Any]]:
    """Jobs for :func:`~biophys_ltp.simulation.simulate_many`, keyed ``(frequency_hz, apv)``."""
    return {(f, a): dict(protocol=frequency_protocol(f, a), **kwargs) for a in apv for f in frequencies}


def stdp_jobs(offsets: tuple[float, ...] = STDP_OFFSETS_MS, apv: tuple[bool, ...] = (False, True),
              **kwargs: Any) -> dict[tuple[float, bool], dict[str, Any]]:
    """Jobs for :func:`~biophys_ltp.simulation.simulate_many`, keyed ``(offset_ms, apv)``."""
    return {(d, a): dict(protocol=stdp_protocol(d, a), **kwargs) for a in apv for d in offsets}


def induction_change(res: Any, pathway: str = "S1") -> float:
    """fEPSP of ``pathway`` (% of baseline) :data:`INDUCTION_AFTER_MIN` after the end of the
    induction (the test pulse at that time)."""
    return res.fepsp_at(pathway, INDUCTION_END_MIN + INDUCTION_AFTER_MIN)


def frequency_crossings(freq: pd.DataFrame) -> list[float]:
    """Frequencies where the frequency-response curve without APV (an
    :func:`induction_table` keyed ``frequency_hz``) crosses 100 %, interpolated linearly in
    log frequency between the frequencies run."""
    d = freq[freq.apv == 0].sort_values("frequency_hz")
    x, y = np.log10(d.frequency_hz.to_numpy(float)), d.fepsp_pct.to_numpy(float) - 100
    out = []
    for k in range(len(y) - 1):
        if (y[k] < 0) != (y[k + 1] < 0):
            out.append(float(10 ** (x[k] + (x[k + 1] - x[k]) * (-y[k]) / (y[k + 1] - y[k]))))
    return out


def induction_table(results: Mapping[tuple[float, bool], Any], key_name: str) -> pd.DataFrame:
    """One row per run: ``key_name`` (frequency_hz or offset_ms), apv (0/1), the stimulated
    pathway's fEPSP and the control pathway's, both 60 min after the end of the induction."""
    rows = [{key_name: float(k), "apv": int(a), "fepsp_pct": induction_change(r, "S1"),
             "control_pct": induction_change(r, "S2")} for (k, a), r in results.items()]
    return pd.DataFrame(rows).sort_values(["apv", key_name], ignore_index=True)
