"""Induction from spine calcium: the frequency response and the spike-timing window.

The same parameter set as every other figure.  The change of the synapse is set by its
spine calcium (the kinase's fast route above ``theta_kin``, its slow cAMP/PKA-like route
while the calcium averaged over ``tau_camp`` stays above ``theta_camp``, the phosphatase
above ``theta_pho``) and, when the cell fires, by NMDA receptor Ca2+ entry during and
after a backpropagating spike (the ``spike_coincidence`` mechanism):

- Frequency response: 900 pulses on S1 at 1, 3, 5, 10, 20, 50 or 100 Hz (Dudek & Bear
  1992, PNAS 89:4363-4367), with and without APV throughout (Dudek & Bear 1992; Mulkey &
  Malenka 1992, Neuron 9:967-975).
- Spike timing: 60 pairings at 1 Hz of a presynaptic pulse on S1 and a somatic spike (a
  2-ms current step) ``dt`` after it, dt from -100 to +100 ms (Bi & Poo 1998, J Neurosci
  18:10464-10472), with and without APV.
- Spike timing as in CA1 slices (Inglebert et al. 2020, PNAS 117:33402-33411): pairings
  at 0.3 Hz, 100 with the spike after the pulse, 150 with it before (their Fig. 1A's legend), at
  -50 to +50 ms; and at +10 ms with a burst of 1-4 spikes 10 ms apart (their Fig. 4A).
  The held-out experiments ``stdp_slice_*`` and ``stdp_burst_gain_pp``
  (biophys_ltp/validation.py) are four of these runs.

The change is read 60 min after the last pulse.  The project's references give ranges,
not points, for both experiments (biophys_ltp.targets: ``freq_*``, ``stdp_*``): they are
drawn as grey boxes (approx.).  A spike-timing route reads the spike where the pathway's
branch leaves the trunk, because in the spine head a 20-Hz triplet (which must depress in
SLFS) gives more calcium than a pairing (``biophys_ltp.experiments.spine_signatures``).

Protocols: ``biophys_ltp.experiments.frequency_jobs`` and ``stdp_jobs`` (every induction
ends at 45 min; S2 is the unstimulated control; 110 min each).

Panel A: S1's fEPSP 60 min after the end of the 900 pulses against the frequency.
Panel B: the same after 60 pairings against the offset dt.  Panel C: S1's fEPSP over time
at 1, 10, 20 and 100 Hz, with APV at 1 and 100 Hz.  Panel D: S1's fEPSP over time for
dt = -10, +10 and +50 ms, with APV at +10 ms.  Panel E: S1's fEPSP 60 min after the
pairings at 0.3 Hz against dt, beside the directions of Inglebert et al.'s Fig. 1B (3 mM
Ca2+; no magnitudes read: a change must leave the 90-110 % of an unchanged input).  Panel
F: the same at +10 ms against the number of spikes per pairing.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

import biophys_ltp as bl
from biophys_ltp.experiments import (BURST_SPIKE_HZ, FREQUENCY_PULSES, INDUCTION_AFTER_MIN, INDUCTION_END_MIN,
                                     STDP_PAIRS, frequency_jobs, induction_change, induction_table, stdp_jobs,
                                     stdp_protocol)
from biophys_ltp.targets import BANDS
from biophys_ltp.validation import BURST_PAIRS, BURST_RATE_HZ, POST_PRE_PAIRS, slice_pairs

import _common as common

FIGURE = {
    "name": "induction",
    "title": "Induction from spine calcium: frequency response and spike-timing window",
    "paper": "Dudek & Bear 1992 (PNAS 89:4363); Mulkey & Malenka 1992 (Neuron 9:967); Bi & Poo 1998 "
             "(J Neurosci 18:10464); Inglebert et al. 2020 (PNAS 117:33402)",
    "panel": ("fEPSP 60 min after 900 pulses at 1-100 Hz and after 60 spike-timing pairings at -100 to "
              "+100 ms, with and without APV, beside the experimental ranges (approx.); pairings at 0.3 Hz "
              "at -50 to +50 ms and with bursts of 1-4 spikes, beside the directions seen in CA1 slices"),
}
NAME = FIGURE["name"]
DATA_FILES = [f"{NAME}_frequency.csv", f"{NAME}_stdp.csv", f"{NAME}_fepsp.csv", f"{NAME}_slice.csv"]
TABLES = ("frequency", "stdp", "fepsp", "slice")
# pairings as in CA1 slices (Inglebert et al. 2020): offsets at 0.3 Hz, and spikes per
# pairing at +10 ms (one spike: the window's +10 ms run)
SLICE_OFFSETS_MS = (-50, -25, -10, -5, 5, 10, 25, 50)
SLICE_SPIKES = (1, 2, 3, 4)
SLICE_BURST_AT_MS = 10.0
COLUMNS = {
    "frequency_hz": "frequency of the 900 pulses on S1",
    "offset_ms": "time of the somatic spike after the presynaptic pulse (negative: spike first)",
    "apv": "1: NMDA receptors blocked throughout (APV), 0: not",
    "fepsp_pct": "S1's fEPSP 60 min after the last induction pulse, % of the baseline mean",
    "control_pct": "S2's (unstimulated) fEPSP at the same time, % of the baseline mean",
    "experiment": "'frequency', 'stdp' (60 pairings at 1 Hz), 'slice_window' (pairings at 0.3 Hz) or "
                  "'slice_burst' (pairings at 0.3 Hz, +10 ms, with a burst of spikes)",
    "value": "frequency_hz (frequency), offset_ms (stdp, slice_window) or spikes (slice_burst)",
    "spikes": "somatic spikes per pairing, 10 ms apart (slice table)",
    "pairs": "pairings at 0.3 Hz (slice table: 100 with the spike after the pulse, 150 before it)",
    "pathway": "S1 (stimulated) or S2 (control)",
    "time_min": "minutes from the start of the protocol (the induction ends at 45 min)",
}
SHOWN_FREQ = {1.0: "1 Hz", 10.0: "10 Hz", 20.0: "20 Hz", 100.0: "100 Hz"}
SHOWN_STDP = {-10.0: "dt = -10 ms", 10.0: "dt = +10 ms", 50.0: "dt = +50 ms"}
FREQ_COLORS = {1.0: "#64B5CD", 10.0: "#55A868", 20.0: "#8172B3", 100.0: "#C44E52"}
STDP_COLORS = {-10.0: "#4C72B0", 10.0: "#C44E52", 50.0: "#8172B3"}
MODEL_COLOR, APV_COLOR = "black", "#DD8452"


def slice_jobs() -> dict[tuple[str, float, bool], dict]:
    """Pairings at 0.3 Hz at each of :data:`SLICE_OFFSETS_MS`, and at +10 ms with bursts of
    2-4 spikes (one spike is the window's +10 ms run)."""
    jobs = {("slice_window", float(d), False): {"protocol": stdp_protocol(
        d, pairs=slice_pairs(d), rate_hz=BURST_RATE_HZ)} for d in SLICE_OFFSETS_MS}
    jobs.update({("slice_burst", float(n), False): {"protocol": stdp_protocol(
        SLICE_BURST_AT_MS, spikes=n, pairs=BURST_PAIRS, rate_hz=BURST_RATE_HZ)} for n in SLICE_SPIKES if n > 1})
    return jobs


def all_jobs() -> dict[tuple[str, float, bool], dict]:
    jobs = {("frequency", f, a): job for (f, a), job in frequency_jobs().items()}
    jobs.update({("stdp", d, a): job for (d, a), job in stdp_jobs().items()})
    jobs.update(slice_jobs())
    return jobs


def inputs_hash() -> str:
    jobs = all_jobs()
    return common.inputs_hash([job["protocol"] for job in jobs.values()],
                              {"keys": [list(map(str, k)) for k in jobs], "after_min": INDUCTION_AFTER_MIN})


def simulate_all() -> dict[tuple[str, float, bool], bl.Results]:
    """All 45 runs (7 frequencies and 10 offsets, each with and without APV; 8 offsets and 3
    bursts at 0.3 Hz) in one pool."""
    return bl.simulate_many(all_jobs())


def tidy(results: dict[tuple[str, float, bool], bl.Results]) -> dict[str, pd.DataFrame]:
    """One summary row per run of each experiment, and the fEPSP of S1 and S2 over time."""
    tables: dict[str, pd.DataFrame] = {}
    for experiment, key_name in (("frequency", "frequency_hz"), ("stdp", "offset_ms")):
        sub = {(v, a): r for (e, v, a), r in results.items() if e == experiment}
        if sub:
            tables[experiment] = induction_table(sub, key_name).round(4)
    slice_rows = []
    for (experiment, value, _), res in results.items():
        if experiment == "slice_window":
            spikes, offset = 1, value
        elif experiment == "slice_burst":
            spikes, offset = int(value), SLICE_BURST_AT_MS
        else:
            continue
        row = {"experiment": experiment, "offset_ms": float(offset), "spikes": spikes,
               "pairs": slice_pairs(offset), "fepsp_pct": induction_change(res, "S1"),
               "control_pct": induction_change(res, "S2")}
        slice_rows.append(row)
        if experiment == "slice_window" and value == SLICE_BURST_AT_MS:
            slice_rows.append({**row, "experiment": "slice_burst"})  # one spike of the burst series
    if slice_rows:
        tables["slice"] = (pd.DataFrame(slice_rows).sort_values(["experiment", "offset_ms", "spikes"],
                                                                ignore_index=True).round(4))
    rows = []
    for (experiment, value, apv), res in results.items():
        f = res.fepsp[res.fepsp.pathway.isin(["S1", "S2"])][["pathway", "time_min", "fepsp_pct"]].copy()
        f["time_min"] = f.time_min.round(4)
        f.insert(0, "apv", int(apv))
        f.insert(0, "value", float(value))
        f.insert(0, "experiment", experiment)
        rows.append(f)
    tables["fepsp"] = (pd.concat(rows, ignore_index=True)
                       .sort_values(["experiment", "apv", "value", "pathway", "time_min"], ignore_index=True)
                       .round(4))
    return tables


def compute(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    t0 = time.perf_counter()
    results = simulate_all()
    tables = tidy(results)
    common.write_tables(data_dir, {f: tables[key] for key, f in zip(TABLES, DATA_FILES)})
    common.write_sidecar(data_dir, NAME, common.run_sidecar(
        FIGURE, inputs_hash(), results, t0, COLUMNS,
        induction_end_min=INDUCTION_END_MIN, after_min=INDUCTION_AFTER_MIN))
    return tables


def load(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    return {key: pd.read_csv(data_dir / f) for key, f in zip(TABLES, DATA_FILES)}


def _box(ax, x0, x1, band, top, bottom, label=None):
    lo = max(band.low, bottom)
    hi = min(band.high, top)
    ax.fill_between([x0, x1], lo, hi, color="0.85", lw=0, zorder=0, label=label)


def _model_with_apv(ax, table: pd.DataFrame, x: str, apv_band) -> None:
    """The APV band of the experiment, the model's curve without and with APV, and 100 %."""
    ax.axhspan(apv_band.low, apv_band.high, color=APV_COLOR, alpha=0.12, lw=0, label="APV: experiment, approx.")
    for apv, color, label in ((0, MODEL_COLOR, "model"), (1, APV_COLOR, "model + APV")):
        s = table[table.apv == apv]
        ax.plot(s[x], s.fepsp_pct, "o-", color=color, ms=5, lw=1.5, label=label, zorder=3)
    ax.axhline(100, color="0.6", lw=0.8, ls=":")


def plot(data_dir: Path = common.DATA_DIR, out_dir: Path = common.FIGURES_DIR) -> list[Path]:
    import matplotlib.pyplot as plt

    common.style()
    d = load(data_dir)
    freq, stdp, fepsp, slices = d["frequency"], d["stdp"], d["fepsp"], d["slice"]
    fig, axes = plt.subplots(3, 2, figsize=(12.5, 13.5), gridspec_kw={"hspace": 0.4, "wspace": 0.25})

    # A: frequency response
    ax = axes[0, 0]
    lo, hi = 55.0, 160.0
    _box(ax, 0.85, 1.18, BANDS["freq_1hz"], hi, lo, "experiment, approx. (Dudek & Bear 1992)")
    _box(ax, 8.5, 11.8, BANDS["freq_10hz"], hi, lo)
    _box(ax, 42, 118, BANDS["freq_50_100hz"], hi, lo)
    ax.axvspan(BANDS["freq_crossing_hz"].low, BANDS["freq_crossing_hz"].high, ymin=0, ymax=0.04, color="0.55",
               lw=0, label="where the curve should cross 100 %")
    _model_with_apv(ax, freq, "frequency_hz", BANDS["freq_apv"])
    ax.set_xscale("log")
    ax.set(xlabel="stimulation frequency (Hz), 900 pulses", ylabel="fEPSP 60 min after (% of baseline)",
           ylim=(lo, hi), xlim=(0.7, 140), title="A  Frequency response")
    ax.set_xticks([1, 3, 5, 10, 20, 50, 100], labels=["1", "3", "5", "10", "20", "50", "100"])
    ax.legend(frameon=False, fontsize=8, loc="upper left")

    # B: spike-timing window
    ax = axes[0, 1]
    lo, hi = 55.0, 160.0
    _box(ax, 3.5, 11.5, BANDS["stdp_pre_post"], hi, lo, "experiment, approx. (Bi & Poo 1998)")
    _box(ax, -11.5, -3.5, BANDS["stdp_post_pre"], hi, lo)
    for x0, x1 in ((-105, -48), (48, 105)):
        _box(ax, x0, x1, BANDS["stdp_far"], hi, lo)
    _model_with_apv(ax, stdp, "offset_ms", BANDS["stdp_apv"])
    ax.axvline(0, color="0.6", lw=0.8, ls=":")
    ax.set(xlabel="spike time after the presynaptic pulse, dt (ms)", ylabel="fEPSP 60 min after (% of baseline)",
           ylim=(lo, hi), xlim=(-108, 108), title=f"B  Spike-timing window ({STDP_PAIRS} pairings at 1 Hz)")
    ax.legend(frameon=False, fontsize=8, loc="upper left")

    # C, D: time courses
    def course(ax, experiment, shown, colors, apv_values, title):
        for value, label in shown.items():
            s = fepsp[(fepsp.experiment == experiment) & (fepsp.value == value) & (fepsp.apv == 0)
                      & (fepsp.pathway == "S1")]
            ax.plot(*common.broken_line(s, 5.0), "o-", ms=2.5, lw=1.3, color=colors[value], label=label)
        for value in apv_values:
            s = fepsp[(fepsp.experiment == experiment) & (fepsp.value == value) & (fepsp.apv == 1)
                      & (fepsp.pathway == "S1")]
            ax.plot(*common.broken_line(s, 5.0), "o--", ms=2.5, lw=1.0, color=colors[value], alpha=0.8,
                    label=f"{shown[value]} + APV")
        ctrl = fepsp[(fepsp.experiment == experiment) & (fepsp.value == list(shown)[0]) & (fepsp.apv == 0)
                     & (fepsp.pathway == "S2")]
        ax.plot(ctrl.time_min, ctrl.fepsp_pct, "-", lw=0.9, color=common.PALETTE["control (S3)"],
                label="control pathway S2", zorder=1)
        ax.axvline(INDUCTION_END_MIN, color="0.4", lw=0.8, ls="--")
        ax.axvline(INDUCTION_END_MIN + INDUCTION_AFTER_MIN, color="0.75", lw=0.8, ls=":")
        ax.axhline(100, color="0.6", lw=0.8, ls=":")
        ax.set(xlabel="time (min); induction ends at the dashed line", ylabel="fEPSP slope of S1 (% of baseline)",
               title=title, xlim=(0, INDUCTION_END_MIN + INDUCTION_AFTER_MIN + 5))
        ax.legend(frameon=False, fontsize=8, loc="upper left", ncol=2)

    course(axes[1, 0], "frequency", SHOWN_FREQ, FREQ_COLORS, [1.0, 100.0],
           f"C  {FREQUENCY_PULSES} pulses: time courses")
    axes[1, 0].set_ylim(60, 175)
    course(axes[1, 1], "stdp", SHOWN_STDP, STDP_COLORS, [10.0], "D  Pairings: time courses")
    axes[1, 1].set_ylim(60, 175)

    # E: the window with pairings at 0.3 Hz, beside the directions seen in CA1 slices
    ax = axes[2, 0]
    lo, hi = 55.0, 160.0
    _box(ax, 5, 25, BANDS["stdp_slice_pre_post"], hi, lo,
         "Inglebert et al. 2020, 3 mM Ca2+: t-LTP / t-LTD (direction only)")
    _box(ax, -25, -5, BANDS["stdp_slice_post_pre"], hi, lo)
    _box(ax, 40, 60, BANDS["stdp_slice_late_ltd"], hi, lo)
    unchanged = BANDS["control_pathway"]
    ax.axhspan(unchanged.low, unchanged.high, color="0.6", alpha=0.08, lw=0, label="unchanged input (90-110 %)")
    w = slices[slices.experiment == "slice_window"].sort_values("offset_ms")
    ax.plot(w.offset_ms, w.fepsp_pct, "o-", color=MODEL_COLOR, ms=5, lw=1.5, label="model", zorder=3)
    ax.axhline(100, color="0.6", lw=0.8, ls=":")
    ax.axvline(0, color="0.6", lw=0.8, ls=":")
    ax.set(xlabel="spike time after the presynaptic pulse, dt (ms)", ylabel="fEPSP 60 min after (% of baseline)",
           ylim=(lo, hi), xlim=(-55, 55),
           title=f"E  Pairings at {BURST_RATE_HZ:g} Hz ({BURST_PAIRS} pre-post, {POST_PRE_PAIRS} post-pre)")
    ax.legend(frameon=False, fontsize=8, loc="upper left")

    # F: spikes per pairing at +10 ms
    ax = axes[2, 1]
    b = slices[slices.experiment == "slice_burst"].sort_values("spikes")
    ax.plot(b.spikes, b.fepsp_pct, "o-", color=MODEL_COLOR, ms=6, lw=1.5, label="model", zorder=3)
    ax.axhspan(unchanged.low, unchanged.high, color="0.6", alpha=0.08, lw=0)
    ax.axhline(100, color="0.6", lw=0.8, ls=":")
    ax.text(0.03, 0.05, "Inglebert et al. 2020, Fig. 4A (1.8 mM Ca2+): 1 spike t-LTD, 2 none on average,\n"
            "3 or 4 t-LTP. The model has no extracellular Ca2+; its single-spike pairings\n"
            "potentiate, as at 3 mM (panel E): the held-out test compares the direction only",
            transform=ax.transAxes, fontsize=7.5, va="bottom")
    ax.set(xlabel=f"somatic spikes per pairing ({BURST_SPIKE_HZ:g} Hz), first 10 ms after the pulse",
           ylabel="fEPSP 60 min after (% of baseline)", ylim=(55, 160), xlim=(0.6, 4.4),
           title=f"F  Postsynaptic bursts at +10 ms ({BURST_PAIRS} pairings at {BURST_RATE_HZ:g} Hz)")
    ax.set_xticks(list(SLICE_SPIKES))
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return common.save(fig, out_dir, NAME)


if __name__ == "__main__":
    compute()
    print("\n".join(map(str, plot())))
