"""Spacing: spaced theta bursts, and "learning a word" over a day.

The model's answer to one experimental finding and one everyday picture.  No
experimental points are drawn: the project's references give no numbers for these
protocols, so every curve and bar is the model's.

- Kramar et al. 2012, PNAS 109:5121-5126: a second theta burst (TBS) on the same
  pathway adds no further LTP when it comes 10 or 30 min after the first, but adds LTP
  when it comes 60 min after it.  Panel B draws the thresholds that the tests check as a
  guide (not as data): at most 10 percentage points added 2 h after the second TBS at 10 min, and
  at least 20 at 60 min.
- "Learning a word": the same six 100-Hz trains on S1 either crammed into one session
  (1 min apart) or spread over two sessions of three trains (10 min apart) 6 h apart,
  against a single brief exposure (one weak tetanus).  In the model a synapse that has
  been consolidated again and again grows a new spine onto the pathway, so the spine
  count of S1 (5 at the start) rises only after repeated, spaced consolidation.

Protocols (``biophys_ltp.experiments.tbs_spacing_jobs`` and ``learning_day_jobs``): one
TBS (10 bursts of 4 pulses at 100 Hz, 5 Hz) on S1 at 30 min, or two TBS 10, 30 or 60 min
apart, 4 h each; the three learning-day runs, 24 h each.  S2 is the unstimulated control
in every run.

Panel A: S1's fEPSP over 4 h after one TBS and after two TBS 10, 30 or 60 min apart (the
TBS times marked), with the control pathway S2 (test pulses every 5 min go on between the
two bursts).  Panel B: percentage points
the second TBS adds 2 h after it, over one TBS at the same time, against the gap.
Panel C: S1's fEPSP over the 24-h learning day.  Panel D: S1's spine count and spine-head volume over
the day.
"""

from __future__ import annotations

import time
from pathlib import Path

import brian2 as b2
import numpy as np
import pandas as pd

import biophys_ltp as bl
from biophys_ltp.experiments import (LEARNING_SESSION_GAP_MIN, TBS_FIRST_MIN, TBS_GAPS_MIN, learning_day_jobs,
                                     tbs_added_pp, tbs_spacing_jobs)

import _common as common

FIGURE = {
    "name": "spacing",
    "title": "Spacing: spaced theta bursts, and learning a word once, crammed or spaced over a day",
    "paper": "Kramar et al. 2012 (PNAS 109:5121)",
    "panel": ("LTP added by a second theta burst 10, 30 or 60 min after the first; one exposure versus "
              "crammed versus spaced practice over 24 h: fEPSP, spine count and spine-head volume "
              "(model curves, no experimental points)"),
}
NAME = FIGURE["name"]
DATA_FILES = [f"{NAME}_tbs_fepsp.csv", f"{NAME}_tbs_summary.csv", f"{NAME}_day_fepsp.csv", f"{NAME}_day_state.csv"]
TABLES = ("tbs_fepsp", "tbs_summary", "day_fepsp", "day_state")
STATE_STEP_MIN = 10.0  # the learning day's slow state of S1: 10-min grid over 24 h
STATE_COLUMNS = ["early_weight", "late_weight", "spine_volume", "spine_count", "proteins"]
AFTER_MIN = 120.0  # "2 h after the second TBS"
# the thresholds the tests check (a guide in panel B, not data)
TARGET_10_MAX_PP = 10.0
TARGET_60_MIN_PP = 20.0
TBS_LABELS = {0: "one TBS", 10: "two TBS, 10 min apart", 30: "two TBS, 30 min apart",
              60: "two TBS, 60 min apart"}
TBS_COLORS = {0: "#8172B3", 10: "#DD8452", 30: "#55A868", 60: "#C44E52"}
DAY_LABELS = {"once": "heard once", "crammed": "crammed practice (6 trains in 5 min)",
              "spaced": "spaced practice (3 + 3 trains, 6 h apart)"}
DAY_COLORS = {"once": "#8172B3", "crammed": "#DD8452", "spaced": "#4C72B0"}
COLUMNS = {
    "gap_min": "onset-to-onset interval of the two theta bursts, minutes (0: one TBS)",
    "key": "learning-day run: 'once' (one weak tetanus), 'crammed' (six 100-Hz trains 1 min apart), "
           "'spaced' (three trains 10 min apart, twice, 6 h apart)",
    "pathway": "S1 (stimulated) or S2 (unstimulated control)",
    "time_min": "minutes from the start of the protocol (first stimulation at 30 min)",
    "fepsp_pct": "fEPSP: the pathway's synaptic current at the test pulse, % of the baseline mean",
    "added_pp_2h": "percentage points of S1's fEPSP that the second TBS adds 2 h after it, over one TBS "
                   "at the same time",
    "proteins_max": "largest PRP level at S1's dendrite during the two-TBS run (0-1)",
    "early_weight": "S1's early change of AMPA receptors (fraction of baseline)",
    "late_weight": "S1's consolidated change (fraction of baseline)",
    "spine_volume": "S1's mean spine-head volume relative to its initial volume",
    "spine_count": "spines with a synapse on S1 (5 at the start; a growing new spine counts by its progress)",
    "proteins": "PRP level at S1's dendrite (0-1)",
}


def inputs_hash() -> str:
    tbs, day = tbs_spacing_jobs(), learning_day_jobs()
    return common.inputs_hash([job["protocol"] for job in (*tbs.values(), *day.values())],
                              {"tbs_keys": list(tbs), "day_keys": list(day), "state_step_min": STATE_STEP_MIN,
                               "after_min": AFTER_MIN})


def simulate_all() -> tuple[dict[int, bl.Results], dict[str, bl.Results]]:
    """The four TBS runs and the three learning-day runs, all in one pool of workers."""
    tbs, day = tbs_spacing_jobs(), learning_day_jobs()
    jobs = {f"tbs:{k}": job for k, job in tbs.items()}
    jobs.update({f"day:{k}": job for k, job in day.items()})
    done = bl.simulate_many(jobs)
    return {k: done[f"tbs:{k}"] for k in tbs}, {k: done[f"day:{k}"] for k in day}


def _fepsp(res: bl.Results) -> pd.DataFrame:
    f = res.fepsp[res.fepsp.pathway.isin(["S1", "S2"])][["pathway", "time_min", "fepsp_pct"]].copy()
    f["time_min"] = f.time_min.round(4)  # the key of the stored rows
    return f


def tidy(tbs_results: dict[int, bl.Results], day_results: dict[str, bl.Results]) -> dict[str, pd.DataFrame]:
    """fEPSP of S1 and S2 and one summary row per gap of the TBS runs; fEPSP of S1 and S2 and
    S1's slow state on a 10-min grid of the learning-day runs."""
    tbs_fepsp, summary = [], []
    for gap, res in tbs_results.items():
        f = _fepsp(res)
        f.insert(0, "gap_min", int(gap))
        tbs_fepsp.append(f)
        if gap:
            summary.append({"gap_min": int(gap), "added_pp_2h": tbs_added_pp(tbs_results, gap, AFTER_MIN),
                            "proteins_max": float(res.state[res.state.pathway == "S1"].proteins.max())})
    day_fepsp, day_state = [], []
    for key, res in day_results.items():
        f = _fepsp(res)
        f.insert(0, "key", key)
        day_fepsp.append(f)
        raw = res.state[res.state.pathway == "S1"]
        grid = np.arange(0.0, float(res.protocol.duration / b2.second) / 60 + 1e-9, STATE_STEP_MIN)
        s = pd.DataFrame({"key": key, "time_min": grid})
        for col in STATE_COLUMNS:
            s[col] = np.interp(grid, raw.time_min, raw[col])
        day_state.append(s)
    return {"tbs_fepsp": pd.concat(tbs_fepsp, ignore_index=True),
            "tbs_summary": pd.DataFrame(summary).sort_values("gap_min", ignore_index=True),
            "day_fepsp": pd.concat(day_fepsp, ignore_index=True),
            "day_state": pd.concat(day_state, ignore_index=True)}


def compute(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    t0 = time.perf_counter()
    tbs_results, day_results = simulate_all()
    tables = tidy(tbs_results, day_results)
    common.write_tables(data_dir, dict(zip(DATA_FILES, (
        tables["tbs_fepsp"].round(4), tables["tbs_summary"].round(6),
        tables["day_fepsp"].round(4), tables["day_state"].round(6)))))
    runs = {**{f"tbs:{gap}": res for gap, res in tbs_results.items()},
            **{f"day:{key}": res for key, res in day_results.items()}}
    common.write_sidecar(data_dir, NAME, common.run_sidecar(
        FIGURE, inputs_hash(), runs, t0, COLUMNS,
        inductions_min={key: res.induction_min("S1") for key, res in runs.items()},
        state_step_min=STATE_STEP_MIN, after_min=AFTER_MIN))
    return tables


def load(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    return {key: pd.read_csv(data_dir / f) for key, f in zip(TABLES, DATA_FILES)}


def _tbs_onsets_min(gap: int) -> list[float]:
    return [TBS_FIRST_MIN] + ([TBS_FIRST_MIN + gap] if gap else [])


def _day_sessions_h() -> dict[str, list[float]]:
    return {"once": [0.5], "crammed": [0.5], "spaced": [0.5, 0.5 + LEARNING_SESSION_GAP_MIN / 60]}


def plot(data_dir: Path = common.DATA_DIR, out_dir: Path = common.FIGURES_DIR) -> list[Path]:
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    common.style()
    d = load(data_dir)
    tbs, summary, day, state = d["tbs_fepsp"], d["tbs_summary"], d["day_fepsp"], d["day_state"]
    fig = plt.figure(figsize=(13, 9))
    gs = GridSpec(2, 2, figure=fig, hspace=0.32, wspace=0.22)

    # A: fEPSP over 4 h after one or two theta bursts
    ax = fig.add_subplot(gs[0, 0])
    for gap, label in TBS_LABELS.items():
        t, y = common.broken_line(tbs[(tbs.gap_min == gap) & (tbs.pathway == "S1")], 5.0)
        ax.plot(t / 60, y, "o-", ms=2.2, lw=1.2, color=TBS_COLORS[gap], label=label)
    ctrl = tbs[(tbs.gap_min == max(TBS_GAPS_MIN)) & (tbs.pathway == "S2")]
    ax.plot(ctrl.time_min / 60, ctrl.fepsp_pct, "o-", ms=1.8, lw=0.9, color=common.PALETTE["control (S3)"],
            label="control pathway S2", zorder=1)  # below S1's baselines
    ymin, ymax = 85, 215
    # TBS times at the top: the first (all runs) in black, the second in its run's colour
    ax.plot(TBS_FIRST_MIN / 60, ymax - 5, marker="v", ms=8, color="black", ls="none", zorder=5)
    ax.text(TBS_FIRST_MIN / 60, ymax - 12, "first TBS", ha="center", va="top", fontsize=8)
    for gap in TBS_GAPS_MIN:
        ax.plot(_tbs_onsets_min(gap)[1] / 60, ymax - 5, marker="v", ms=8, color=TBS_COLORS[gap], ls="none",
                zorder=5)
    ax.text((TBS_FIRST_MIN + max(TBS_GAPS_MIN)) / 60 + 0.08, ymax - 5, "second TBS", ha="left", va="center",
            fontsize=8)
    ax.axhline(100, color="0.6", lw=0.8, ls=":")
    ax.set(xlabel="time (h)", ylabel="fEPSP slope of S1 (% of baseline)", xlim=(0, 4), ylim=(ymin, ymax),
           title="A  Spaced theta bursts (Kramar et al. 2012)")
    ax.legend(frameon=False, fontsize=8, loc="upper right", bbox_to_anchor=(1.0, 0.9))

    # B: points added 2 h after the second TBS against the gap
    ax = fig.add_subplot(gs[0, 1])
    gaps = summary.gap_min.to_numpy()
    added = summary.added_pp_2h.to_numpy()
    x = np.arange(len(gaps))
    ax.bar(x, added, width=0.55, color=[TBS_COLORS[int(g)] for g in gaps], zorder=2)
    for xi, a in zip(x, added):
        ax.text(xi, a + (1.0 if a >= 0 else -1.0), f"{a:+.1f}", ha="center", va="bottom" if a >= 0 else "top",
                fontsize=9)
    i10 = int(np.flatnonzero(gaps == 10)[0])
    i60 = int(np.flatnonzero(gaps == 60)[0])
    ax.fill_between([i10 - 0.4, i10 + 0.4], -TARGET_10_MAX_PP, TARGET_10_MAX_PP, color="0.85", zorder=1,
                    label=f"target: at most {TARGET_10_MAX_PP:g} at 10 min")
    ax.plot([i60 - 0.4, i60 + 0.4], [TARGET_60_MIN_PP] * 2, color="black", lw=1.5, ls="--", zorder=3,
            label=f"target: \u2265 {TARGET_60_MIN_PP:g} at 60 min")
    ax.axhline(0, color="0.4", lw=0.8)
    top = max(float(np.max(added)), TARGET_60_MIN_PP) + 10
    ax.set(xlabel="time between the two theta bursts (min)", xticks=x, xticklabels=[f"{g:g}" for g in gaps],
           ylabel="LTP added by the second burst,\n2 h after it (percentage points)",
           ylim=(min(-TARGET_10_MAX_PP - 3, float(np.min(added)) - 5), top), xlim=(-0.6, len(gaps) - 0.4),
           title="B  A second burst adds LTP only an hour later")
    ax.legend(frameon=False, fontsize=8, loc="upper left")

    # C: fEPSP over the learning day
    ax = fig.add_subplot(gs[1, 0])
    for key, label in DAY_LABELS.items():
        t, y = common.broken_line(day[(day.key == key) & (day.pathway == "S1")], 10.0)
        ax.plot(t / 60, y, "-", lw=1.5, color=DAY_COLORS[key], label=label)
    ctrl = day[(day.key == "spaced") & (day.pathway == "S2")]
    ax.plot(ctrl.time_min / 60, ctrl.fepsp_pct, "-", lw=1.0, color=common.PALETTE["control (S3)"],
            label="control pathway S2", zorder=1)
    ax.axhline(100, color="0.6", lw=0.8, ls=":")
    ax.set(xlabel="time (h)", ylabel="fEPSP slope of S1 (% of baseline)", xlim=(0, 24), ylim=(90, 262),
           xticks=np.arange(0, 25, 4), title="C  Learning a word: once, crammed or spaced")
    for t in _day_sessions_h()["spaced"]:
        ax.annotate("", xy=(t, 0.92), xycoords=("data", "axes fraction"), xytext=(t, 0.99),
                    arrowprops=dict(arrowstyle="->", color="black"))
    ax.text(_day_sessions_h()["spaced"][0] + 0.4, 0.955, "first exposure", transform=ax.get_xaxis_transform(),
            ha="left", va="center", fontsize=8)
    ax.text(_day_sessions_h()["spaced"][1] + 0.4, 0.955, "second session (spaced only)",
            transform=ax.get_xaxis_transform(), ha="left", va="center", fontsize=8)
    ax.legend(frameon=False, fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 0.04))

    # D: spine count and spine-head volume over the day
    sub = gs[1, 1].subgridspec(2, 1, hspace=0.12, height_ratios=[1.3, 1])
    ax1 = fig.add_subplot(sub[0])
    ax2 = fig.add_subplot(sub[1], sharex=ax1)
    for key, label in DAY_LABELS.items():
        s = state[state.key == key]
        ax1.plot(s.time_min / 60, s.spine_count, lw=1.6, color=DAY_COLORS[key], label=label)
        ax2.plot(s.time_min / 60, s.spine_volume, lw=1.6, color=DAY_COLORS[key])
    ax1.set(ylabel="spines on S1", xlim=(0, 24), title="D  Spaced practice grows a new spine")
    ax1.tick_params(labelbottom=False)
    ax1.legend(frameon=False, fontsize=8, loc="upper left")
    ax2.axhline(1, color="0.6", lw=0.8, ls=":")
    ax2.set(xlabel="time (h)", ylabel="spine-head volume\n(relative to start)", xticks=np.arange(0, 25, 4))
    return common.save(fig, out_dir, NAME)


if __name__ == "__main__":
    compute()
    print("\n".join(map(str, plot())))
