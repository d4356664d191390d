"""Practice: repetition and spacing of 100-Hz trains, and the spine-head volume.

The model's answer to two experimental findings, with no experimental points (none are
given for these protocols in SCIENCE.md): every curve is the model's.

- Scharf et al. 2002, J Neurophysiol 87:2770-2777; Woo et al. 2003, Hippocampus
  13:293-300: 100-Hz trains given minutes apart (spaced) give more, and more
  protein-synthesis-dependent, late LTP than the same trains crowded together (massed;
  in Scharf et al. four trains 20 s versus 5 min apart).  In the model the kinase route
  to the nucleus desensitises with use and recovers in minutes (``tau_ready``,
  ``k_desens``): the second of two trains 1 min apart finds it still desensitised, so
  the nuclear signal stays below the protein-synthesis threshold ``theta_signal``;
  5 or 10 min apart the route has recovered and the signal crosses it.
- Matsuzaki et al. 2004 (doi:10.1038/nature02617): the spine head enlarges with LTP;
  Tanaka et al. 2008 (doi:10.1126/science.1152864): the enlargement lasts only with
  protein synthesis.  In the model the spine-head volume follows the potentiation
  (early plus late) over ~30 min, so it shrinks back after early LTP and stays enlarged
  after consolidation.

Protocols (``biophys_ltp.experiments.repetition_jobs``): one train of 100 pulses at
100 Hz on S1 at 30 min, or 2, 3 or 4 such trains 1, 5 or 10 min apart (onset to onset);
S2 is the unstimulated control; 10 h each.

Panel A: S1's fEPSP over 10 h for one train, two trains 1 min apart (massed), two trains
10 min apart (spaced) and four trains 10 min apart, with the control pathway S2.
Panel B: S1's fEPSP 8 h after the first train against the number of trains, one line per
spacing.  Panel C: S1's spine-head volume in the runs of A.  Panel D: the nuclear signal
and the readiness of the route to the nucleus after two massed and two spaced trains,
with the protein-synthesis threshold.
"""

from __future__ import annotations

import time
from pathlib import Path

import brian2 as b2
import numpy as np
import pandas as pd

import biophys_ltp as bl
from biophys_ltp.experiments import REPETITION_SPACING_MIN, REPETITION_TRAINS, repetition_jobs

import _common as common

FIGURE = {
    "name": "practice",
    "title": "Practice: repetition and spacing of 100-Hz trains, and the spine-head volume",
    "paper": ("Scharf et al. 2002 (J Neurophysiol 87:2770); Woo et al. 2003 (Hippocampus 13:293); "
              "Matsuzaki et al. 2004 (doi:10.1038/nature02617); "
              "Tanaka et al. 2008 (doi:10.1126/science.1152864)"),
    "panel": ("late LTP against number and spacing of 100-Hz trains (massed vs spaced); "
              "spine-head enlargement after early and late LTP (model curves, no experimental points)"),
}
NAME = FIGURE["name"]
DATA_FILES = [f"{NAME}_fepsp.csv", f"{NAME}_state.csv", f"{NAME}_summary.csv"]
TABLES = ("fepsp", "state", "summary")
# The state is recorded about once a minute; 1-min grid: the nuclear signal after trains
# 1-10 min apart changes within minutes (a 5-min grid would miss its peaks).
STATE_STEP_MIN = 1.0
STATE_COLUMNS = ["spine_volume", "early_weight", "late_weight", "proteins", "signal", "signal_ready"]
LATE_MIN = 480.0  # "8 h": after the first train
# runs of panels A and C: key -> label
SHOWN = {
    "1x0": "1 train",
    "2x1": "2 trains, 1 min apart (massed)",
    "2x10": "2 trains, 10 min apart (spaced)",
    "4x10": "4 trains, 10 min apart",
}
COLORS = {"1x0": "#8172B3", "2x1": "#DD8452", "2x10": "#4C72B0", "4x10": "#C44E52"}
SPACING_COLORS = {1: "#DD8452", 5: "#55A868", 10: "#4C72B0"}
COLUMNS = {
    "key": "run: <trains>x<spacing in min> ('1x0': one train)",
    "trains": "number of 100-Hz trains (100 pulses each) on S1",
    "spacing_min": "onset-to-onset interval of the trains, minutes (0 for one train)",
    "pathway": "S1 (tetanised) or S2 (unstimulated control)",
    "time_min": "minutes from the start of the protocol (first train at 30 min)",
    "fepsp_pct": "fEPSP: the pathway's synaptic current at the test pulse, % of the baseline mean",
    "spine_volume": "S1's spine-head volume relative to its initial volume",
    "early_weight": "S1's early change of AMPA receptors (fraction of baseline)",
    "late_weight": "S1's consolidated change (fraction of baseline)",
    "proteins": "PRP level at S1's dendrite (0-1)",
    "signal": "nuclear signal (dimensionless; protein synthesis above theta_signal)",
    "signal_ready": "readiness of the kinase route to the nucleus (1: recovered, 0: desensitised)",
    "fepsp_pct_8h": "S1's fEPSP 8 h after the first train (% of baseline)",
    "spine_volume_8h": "S1's spine-head volume 8 h after the first train (relative)",
    "proteins_max": "largest PRP level at S1's dendrite during the run",
}


def _split(key: str) -> tuple[int, float]:
    trains, spacing = key.split("x")
    return int(trains), float(spacing)


def inputs_hash() -> str:
    jobs = repetition_jobs()
    return common.inputs_hash([job["protocol"] for job in jobs.values()],
                              {"keys": list(jobs), "state_step_min": STATE_STEP_MIN, "late_min": LATE_MIN})


def simulate_all() -> dict[str, bl.Results]:
    return bl.simulate_many(repetition_jobs())


def tidy(results: dict[str, bl.Results]) -> dict[str, pd.DataFrame]:
    """fEPSP of S1 and S2, S1's slow state on a 1-min grid, and one summary row per run."""
    fepsp, state, summary = [], [], []
    for key, res in results.items():
        trains, spacing = _split(key)
        f = res.fepsp[res.fepsp.pathway.isin(["S1", "S2"])][["pathway", "time_min", "fepsp_pct"]].copy()
        f["time_min"] = f.time_min.round(4)  # the key of the stored rows
        f.insert(0, "spacing_min", spacing)
        f.insert(0, "trains", trains)
        f.insert(0, "key", key)
        fepsp.append(f)
        raw = res.state[res.state.pathway == "S1"]
        grid = np.arange(0.0, float(res.protocol.duration / b2.second) / 60 + 1e-9, STATE_STEP_MIN)
        s = pd.DataFrame({"key": key, "trains": trains, "spacing_min": spacing, "time_min": grid})
        for col in STATE_COLUMNS:
            s[col] = np.interp(grid, raw.time_min, raw[col])
        state.append(s)
        first = res.induction_min("S1")[0]
        summary.append({"trains": trains, "spacing_min": spacing,
                        "fepsp_pct_8h": res.fepsp_after("S1", LATE_MIN),
                        "spine_volume_8h": res.state_at("S1", first + LATE_MIN, "spine_volume"),
                        "proteins_max": float(raw.proteins.max())})
    return {"fepsp": pd.concat(fepsp, ignore_index=True),
            "state": pd.concat(state, ignore_index=True),
            "summary": pd.DataFrame(summary).sort_values(["trains", "spacing_min"], ignore_index=True)}


def compute(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    t0 = time.perf_counter()
    results = simulate_all()
    tables = tidy(results)
    common.write_tables(data_dir, dict(zip(DATA_FILES, (tables["fepsp"].round(4), tables["state"].round(6),
                                                     tables["summary"].round(6)))))
    common.write_sidecar(data_dir, NAME, common.run_sidecar(
        FIGURE, inputs_hash(), results, t0, COLUMNS,
        inductions_min={key: res.induction_min("S1") for key, res in results.items()},
        theta_signal=float(bl.load_model()["theta_signal"]), state_step_min=STATE_STEP_MIN))
    return tables


def load(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    return {key: pd.read_csv(data_dir / f) for key, f in zip(TABLES, DATA_FILES)}


def _train_onsets_h(key: str, first_min: float = 30.0) -> list[float]:
    trains, spacing = _split(key)
    return [(first_min + k * spacing) / 60 for k in range(trains)]


def plot(data_dir: Path = common.DATA_DIR, out_dir: Path = common.FIGURES_DIR) -> list[Path]:
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    common.style()
    d = load(data_dir)
    fepsp, state, summary = d["fepsp"], d["state"], d["summary"]
    theta = float(bl.load_model()["theta_signal"])
    fig = plt.figure(figsize=(13, 9))
    gs = GridSpec(2, 2, figure=fig, hspace=0.32, wspace=0.22)

    # A: fEPSP over 10 h
    ax = fig.add_subplot(gs[0, 0])
    for key, label in SHOWN.items():
        f = fepsp[(fepsp.key == key) & (fepsp.pathway == "S1")]
        ax.plot(f.time_min / 60, f.fepsp_pct, "o-", ms=2.2, lw=1.2, color=COLORS[key], label=label)
    ctrl = fepsp[(fepsp.key == "4x10") & (fepsp.pathway == "S2")]
    ax.plot(ctrl.time_min / 60, ctrl.fepsp_pct, "o-", ms=1.8, lw=0.9, color=common.PALETTE["control (S3)"],
            label="control pathway S2 (4 trains run)")
    ax.annotate("", xy=(0.5, 0.92), xycoords=("data", "axes fraction"), xytext=(0.5, 0.99),
                arrowprops=dict(arrowstyle="->", color="black"))
    ax.text(0.58, 0.955, "first train", transform=ax.get_xaxis_transform(), ha="left", va="center",
            fontsize=8)
    ax.axhline(100, color="0.6", lw=0.8, ls=":")
    ax.set(xlabel="time (h)", ylabel="fEPSP slope of S1 (% of baseline)", xlim=(0, 10), ylim=(90, 215),
           title="A  Massed versus spaced 100-Hz trains")
    ax.legend(frameon=False, fontsize=7.5, loc="upper right")  # above the curves

    # B: fEPSP at 8 h against the number of trains
    ax = fig.add_subplot(gs[0, 1])
    one = summary[summary.trains == 1]
    markers, offsets = ("o", "s", "^"), (-0.04, 0.0, 0.04)  # offsets: overlapping points stay visible
    for sp, marker, dx in zip(REPETITION_SPACING_MIN, markers, offsets):
        s = pd.concat([one, summary[summary.spacing_min == sp]]).sort_values("trains")
        ax.plot(s.trains + dx, s.fepsp_pct_8h, marker=marker, ls="-", ms=6, lw=1.5, color=SPACING_COLORS[sp],
                label=f"{sp:g} min apart" + (" (massed)" if sp == min(REPETITION_SPACING_MIN) else ""))
    ax.axhline(100, color="0.6", lw=0.8, ls=":")
    ax.set(xlabel="number of 100-Hz trains", ylabel="fEPSP slope of S1 8 h after the first train (%)",
           xticks=list(REPETITION_TRAINS), title="B  Late LTP: more trains, and spaced trains, help")
    ax.legend(frameon=False, fontsize=9, title="spacing of the trains", title_fontsize=9, loc="upper left")

    # C: spine-head volume
    ax = fig.add_subplot(gs[1, 0])
    for key, label in SHOWN.items():
        s = state[state.key == key]
        ax.plot(s.time_min / 60, s.spine_volume, lw=1.5, color=COLORS[key], label=label)
    ax.axhline(1, color="0.6", lw=0.8, ls=":")
    ax.set(xlabel="time (h)", ylabel="spine-head volume of S1 (relative to start)", xlim=(0, 10),
           title="C  Spine head: enlarged after late LTP, back to size after early LTP")
    ax.legend(frameon=False, fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 0.13))

    # D: nuclear signal and readiness of the route to the nucleus
    sub = gs[1, 1].subgridspec(2, 1, hspace=0.12, height_ratios=[1.4, 1])
    ax1 = fig.add_subplot(sub[0])
    ax2 = fig.add_subplot(sub[1], sharex=ax1)
    for key in ("2x1", "2x10"):
        s = state[(state.key == key) & (state.time_min <= 150)]
        t = s.time_min - 30  # minutes from the first train
        ax1.plot(t, s.signal, lw=1.6, color=COLORS[key], label=SHOWN[key])
        ax2.plot(t, s.signal_ready, lw=1.6, color=COLORS[key])
        for t_h in _train_onsets_h(key):
            for a in (ax1, ax2):
                a.axvline(t_h * 60 - 30, color=COLORS[key], lw=0.7, ls=":", alpha=0.8)
    ax1.axhline(theta, color="black", lw=1.0, ls="--")
    ax1.text(118, theta, "threshold for protein synthesis", ha="right", va="bottom", fontsize=8)
    ax1.set(ylabel="signal to the nucleus", xlim=(-5, 120), ylim=(-0.1, 3.1),
            title="D  Signal to the nucleus: the route needs minutes to recover")
    ax1.tick_params(labelbottom=False)
    ax1.legend(frameon=False, fontsize=8, loc="upper right", bbox_to_anchor=(1.0, 0.74))
    ax2.set(xlabel="time from the first train (min)", ylabel="route ready\n(1 = recovered)",
            ylim=(-0.05, 1.08))
    return common.save(fig, out_dir, NAME)


if __name__ == "__main__":
    compute()
    print("\n".join(map(str, plot())))
