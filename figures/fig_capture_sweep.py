"""Capture window: S2 at 8 h against the WTET-STET interval and the protein-synthesis threshold.

A sweep of the two-pathway tagging experiment (protocol ``stc_delay``): a strong tetanus
(STET, 3 x 100 pulses at 100 Hz, 10 min apart) on S1 at 4 h 30 min, and a weak tetanus
(WTET, 21 pulses at 100 Hz) on S2 from 4 h before to 4 h after the STET onset, at every
protein-synthesis threshold ``theta_signal`` of the grid (the nuclear-signal level above
which the cell makes plasticity-related proteins, PRPs; model default 2.5).  The readout
is the fEPSP of S2 8 h after its weak tetanus, which stays potentiated only when S2's
tag captures PRPs made for S1.

Experiments:

* Frey & Morris (1997), Nature 385:533-536 (doi:10.1038/385533a0): a weak tetanus after
  a strong one on another input gives late LTP; the synaptic tag decays in less than
  3 h.
* Frey & Morris (1998), Neuropharmacology 37:545-552 (PubMed 9704995), "Weak before
  strong": a weak tetanus 5 min or 1 h *before* the strong one gives late LTP on S2,
  weaker or none at 2 and 4 h; the rescue needs protein synthesis during the strong
  tetanus.
* Review: Frey & Morris (1998), Trends Neurosci 21:181-188 (doi:10.1016/S0166-2236(97)01189-2).

Panel A: heatmap of S2's fEPSP 8 h after WTET (% of baseline) over interval x threshold.
Panel B: the default threshold's row as a curve, with S1 (STET) 8 h after its tetanus,
and the experimental findings above as text; the model's numbers are not fitted to
them.

What the model gives (stored data, default threshold): weak before strong, S2 is partly
consolidated when the WTET comes 30 min or 1 h before the STET and not at all 2 h or
more before it (its tag has decayed before the proteins arrive); weak after strong, S2
stays potentiated at every interval up to +4 h, because the dendritic PRP level made for
S1 is still above the half-capture level ``K_prp`` 4 h after the STET: the sweep does
not reach the end of the weak-after-strong window.  Thresholds from 2 to 3.5 change
little; at 1.5 the WTET alone crosses the threshold, so S2 is consolidated at every
interval; at 4 the STET alone no longer crosses it, but a WTET 0.5-2 h after it (or up to 4 h
before it, the sweep's earliest) lifts the signal over it: the slow kinase cascade set off by the first
stimulus amplifies the nuclear signal of the second (``tau_mapk``, ``g_mapk``).

The data come from :func:`biophys_ltp.sweep` (one 17-h simulation per point, run in
``default_workers()`` processes) into ``out/capture_sweep/<inputs hash>/`` (resumable:
an interrupted compute continues where it stopped), and are stored as one tidy row per
point in ``figures/data/capture_sweep.csv``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

import biophys_ltp as bl
from biophys_ltp.simulation import default_workers

import _common as common

FIGURE = {
    "name": "capture_sweep",
    "title": "Capture window: S2 8 h after WTET vs the WTET-STET interval and the protein-synthesis threshold",
    "paper": "Frey & Morris 1997 (doi:10.1038/385533a0); Frey & Morris 1998 (Neuropharmacology 37:545, weak before strong)",
    "panel": "sweep: S2 at 8 h over WTET-STET interval (-4 to +4 h) x theta_signal (heatmap), default-threshold curve",
}
NAME = FIGURE["name"]
DATA_FILES = [f"{NAME}.csv"]
PROTOCOL = "stc_delay"
#: STET onset in the protocol (events[0].at), minutes from the start.
STET_MIN = 270.0
#: WTET onset minus STET onset (h); 0 is left out (the two inductions would overlap).
DELAYS_H = [-4.0, -3.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0, 4.0]
#: Protein-synthesis thresholds.  The nuclear signal peaks at about 1.6 after WTET alone,
#: about 3.3 after STET alone and up to about 3.9 when WTET comes within half an hour of
#: STET: 1.5 is crossed by WTET alone, 3.5 only when the two tetani add up, and 4 is above
#: every peak (no proteins, no capture: as a protein-synthesis inhibitor).
THETAS = [1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
DEFAULT_THETA = 2.5
OUTCOME_H = 8.0
#: Early LTP of S2 is read 45 min after its WTET: the test pulses that fall in the STET
#: window (at 0, 10 and 20 min after its onset) are dropped, which would leave no S2 test
#: pulse at 30 min (delay -0.5 h) or 1 h (delay -1 h) after the WTET.
EARLY_MIN = 45.0
OUTCOME_TIMES = [f"{EARLY_MIN:g} min", f"{OUTCOME_H:g} h"]
#: Sweep folders (ignored by git), one per inputs hash.
SWEEP_ROOT = common.FIGURES_DIR.parent / "out" / NAME

COLUMNS = {
    "delay_h": "WTET onset on S2 minus STET onset on S1 (h); negative: weak before strong",
    "theta_signal": "protein-synthesis threshold of the nuclear signal (dimensionless; default 2.5)",
    "wtet_min": "WTET onset, minutes from the start of the protocol (STET at 270 min)",
    "s2_fepsp_pct_45min": "S2 fEPSP 45 min after its WTET (% of baseline): early LTP",
    "s2_fepsp_pct_8h": "S2 fEPSP 8 h after its WTET (% of baseline)",
    "s1_fepsp_pct_8h": "S1 fEPSP 8 h after its STET onset (% of baseline)",
    "s2_late_weight_8h": "S2 consolidated (late) weight 8 h after its WTET (fraction of baseline receptors)",
    "signal_peak": "peak of the nuclear signal over the run (dimensionless; compare theta_signal)",
}


def _at(delay_h: float) -> str:
    return f"{STET_MIN + 60 * delay_h:g} min"


def grid(delays_h=DELAYS_H, thetas=THETAS) -> dict[str, list[str]]:
    """The sweep grid: WTET time (events[1].at) x theta_signal."""
    return {"events[1].at": [_at(d) for d in delays_h], "theta_signal": [f"{t:g}" for t in thetas]}


def inputs_hash() -> str:
    return common.inputs_hash([PROTOCOL], {"grid": grid(), "outcome_times": OUTCOME_TIMES,
                                           "stet_min": STET_MIN})


def run_sweep(out: Path, delays_h=DELAYS_H, thetas=THETAS, workers: int | None = None,
              progress: bool = True) -> "bl.SweepResults":
    """Run (or resume) the sweep of the given grid into ``out``."""
    return bl.sweep(PROTOCOL, grid(delays_h, thetas), out,
                    workers=workers or default_workers(), progress=progress,
                    outcome_times=OUTCOME_TIMES)


def tidy(res: "bl.SweepResults") -> pd.DataFrame:
    """One row per point: interval, threshold, S2 and S1 outcomes (plain numbers)."""
    pts = res.points
    failed = pts[pts.status != "ok"]
    if len(failed) or res.pending:
        raise RuntimeError(f"{res.out}: {len(failed)} failed and {len(res.pending)} pending points, e.g. "
                           + "; ".join(failed.error.astype(str).head(3)))
    pts = pts.reset_index(drop=True)
    out = pd.DataFrame({
        "delay_h": ((pts["events[1].at_min"].astype(float) - STET_MIN) / 60).round(4),
        "theta_signal": pts["theta_signal"].astype(float),
        "wtet_min": pts["events[1].at_min"].astype(float).round(4),
        "s2_fepsp_pct_45min": pts[f"S2_fepsp_pct_{EARLY_MIN:g}min"].astype(float),
        "s2_fepsp_pct_8h": pts[f"S2_fepsp_pct_{OUTCOME_H:g}h"].astype(float),
        "s1_fepsp_pct_8h": pts[f"S1_fepsp_pct_{OUTCOME_H:g}h"].astype(float),
    })
    late, peak = [], []
    for pid, wtet in zip(pts.point_id, out.wtet_min):
        state = pd.read_csv(res.point_results(pid) / "state.csv")
        s2 = state[state.pathway == "S2"].sort_values("time_min")
        late.append(float(np.interp(wtet + 60 * OUTCOME_H, s2.time_min, s2.late_weight)))
        peak.append(float(state.signal.max()))
    out["s2_late_weight_8h"] = late
    out["signal_peak"] = peak
    out = out.sort_values(["theta_signal", "delay_h"], kind="stable").reset_index(drop=True)
    return out.round({"s2_fepsp_pct_45min": 4, "s2_fepsp_pct_8h": 4, "s1_fepsp_pct_8h": 4,
                      "s2_late_weight_8h": 6, "signal_peak": 6})


def compute(data_dir: Path = common.DATA_DIR, sweep_dir: Path | None = None) -> pd.DataFrame:
    t0 = time.perf_counter()
    h = inputs_hash()
    sweep_dir = Path(sweep_dir) if sweep_dir is not None else SWEEP_ROOT / h
    res = run_sweep(sweep_dir)
    data = tidy(res)
    common.write_tables(data_dir, {DATA_FILES[0]: data})
    meta = json.loads((res.point_results(res.points.point_id.iloc[0]) / "metadata.json").read_text())
    pts = res.points
    common.write_sidecar(data_dir, NAME, {
        # the default model's hash (a point's metadata hashes the model with its theta_signal)
        "figure": FIGURE, "inputs_hash": h, "model_hash": bl.load_model().model_hash(),
        "versions": meta["versions"], "protocol": PROTOCOL,
        "grid": {"delays_h": DELAYS_H, "theta_signal": THETAS, "sweep": grid()},
        "stet_onset_min": STET_MIN, "default_theta_signal": DEFAULT_THETA,
        "outcome": f"fEPSP of the test pulse nearest {' and '.join(OUTCOME_TIMES)} after each "
                   "pathway's first induction pulse (biophys_ltp.sweep outcome convention); "
                   "s2_late_weight_8h interpolated from the point's state.csv",
        "sweep": {"folder": _shown(sweep_dir), "points": int(len(pts)),
                  "workers": default_workers(),
                  "run_s_mean": float(pts.run_s.astype(float).mean()),
                  "wall_s_sum": float(pts.wall_s.astype(float).sum())},
        "wall_time_s": time.perf_counter() - t0,
        "references": {
            "Frey & Morris 1997": "Nature 385:533-536, doi:10.1038/385533a0 (tag decays in < 3 h)",
            "Frey & Morris 1998a": "Neuropharmacology 37:545-552, PubMed 9704995 (weak before strong: "
                                   "late LTP at -5 min and -1 h, weaker or none at -2 h and -4 h)",
            "Frey & Morris 1998b": "Trends Neurosci 21:181-188, doi:10.1016/S0166-2236(97)01189-2 (review)",
        },
        "columns": COLUMNS,
    })
    return data


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(common.FIGURES_DIR.parent))
    except ValueError:
        return str(path)


def load(data_dir: Path = common.DATA_DIR) -> pd.DataFrame:
    return pd.read_csv(data_dir / DATA_FILES[0])


def plot(data_dir: Path = common.DATA_DIR, out_dir: Path = common.FIGURES_DIR) -> list[Path]:
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    common.style()
    d = load(data_dir)
    delays = sorted(d.delay_h.unique())
    thetas = sorted(d.theta_signal.unique())
    table = d.pivot(index="theta_signal", columns="delay_h", values="s2_fepsp_pct_8h").loc[thetas, delays]

    fig, axes = plt.subplots(1, 2, figsize=(15, 5.0), gridspec_kw={"width_ratios": [1.25, 1]})

    # A: heatmap, delay on x, threshold on y (lowest threshold at the bottom)
    ax = axes[0]
    values = table.to_numpy(float)
    vmax = max(float(np.nanmax(values)), 101.0)
    vmin = min(float(np.nanmin(values)), 99.0)
    span = max(vmax - 100, 100 - vmin)
    norm = TwoSlopeNorm(vcenter=100.0, vmin=100 - span, vmax=100 + span)
    im = ax.imshow(values, origin="lower", aspect="auto", cmap="RdBu_r", norm=norm)
    for i in range(len(thetas)):
        for j in range(len(delays)):
            v = values[i, j]
            if np.isnan(v):
                continue
            dark = abs(v - 100) > 0.6 * span
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=9,
                    color="white" if dark else "black")
    ax.set_xticks(range(len(delays)), [f"{x:+g}" for x in delays])
    ax.set_yticks(range(len(thetas)),
                  [f"{t:g} (default)" if t == DEFAULT_THETA else f"{t:g}" for t in thetas])
    split = sum(x < 0 for x in delays) - 0.5
    ax.axvline(split, color="black", lw=1.2)
    ax.text(split - 0.1, 1.01, "weak before strong", transform=ax.get_xaxis_transform(), ha="right",
            va="bottom", fontsize=8.5)
    ax.text(split + 0.1, 1.01, "weak after strong", transform=ax.get_xaxis_transform(), ha="left",
            va="bottom", fontsize=8.5)
    ax.set_xlabel("WTET on S2 minus STET on S1 (h)")
    ax.set_ylabel(r"protein-synthesis threshold $\theta_\mathrm{signal}$")
    ax.set_title("A  S2 fEPSP 8 h after WTET (% of baseline)", pad=18)
    cbar = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    cbar.set_label("S2 fEPSP 8 h after WTET (% of baseline)")
    cbar.ax.set_ylim(min(vmin, 95.0), vmax)  # the scale is centred at 100 %; show the data's range

    # B: default threshold
    ax = axes[1]
    row = d[d.theta_signal == DEFAULT_THETA].sort_values("delay_h")
    before, after = row[row.delay_h < 0], row[row.delay_h > 0]
    for part in (before, after):
        ax.plot(part.delay_h, part.s2_fepsp_pct_8h, "o-", color=common.PALETTE["S2"], lw=1.6, ms=5)
        ax.plot(part.delay_h, part.s1_fepsp_pct_8h, "s--", color=common.PALETTE["S1"], lw=1.0, ms=3.5,
                alpha=0.8)
    ax.plot([], [], "o-", color=common.PALETTE["S2"], label="S2 (WTET), 8 h after WTET")
    ax.plot([], [], "s--", color=common.PALETTE["S1"], label="S1 (STET), 8 h after STET")
    ax.axhline(100, color="0.6", lw=0.8, ls=":")
    ax.axvline(0, color="black", lw=0.8)
    ax.text(0, 0.02, " STET on S1 ", transform=ax.get_xaxis_transform(), ha="center", va="bottom",
            fontsize=7.5, color=common.PALETTE["S1"], backgroundcolor="white")
    # experimental findings (Frey & Morris 1997, 1998), as text only
    lo, hi = -4.4, 4.4
    ax.axvspan(lo, -3.0, color="0.85", lw=0, zorder=0)
    ax.text((lo - 3.0) / 2, 0.30, "tag set > 3 h\nbefore STET:\nthe tag decays\nin < 3 h\n(Frey & Morris\n1997)",
            transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=7.5)
    for x, what in ((-1.0, "late LTP"), (-5 / 60, "late LTP"), (-2.0, "weaker\nor none"),
                    (-4.0, "weaker\nor none")):
        ax.annotate(what, xy=(x, 0.86), xycoords=("data", "axes fraction"), xytext=(x, 0.93),
                    textcoords=("data", "axes fraction"), ha="center", va="bottom", fontsize=7.5,
                    arrowprops=dict(arrowstyle="-", color="0.4", lw=0.8))
    ax.text(-1.6, 0.80, "weak before strong in slices\n(Frey & Morris 1998)",
            transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=7.5, color="0.3")
    ymin = min(95.0, float(np.nanmin(row[["s2_fepsp_pct_8h", "s1_fepsp_pct_8h"]].to_numpy())) - 5)
    ymax = max(float(np.nanmax(row[["s2_fepsp_pct_8h", "s1_fepsp_pct_8h"]].to_numpy())), 110) * 1.2
    ax.set(xlim=(lo, hi), ylim=(ymin, ymax), xticks=delays,
           xlabel="WTET on S2 minus STET on S1 (h)", ylabel="fEPSP slope (% of baseline)",
           title=rf"B  Default threshold ($\theta_\mathrm{{signal}}$ = {DEFAULT_THETA:g})")
    ax.set_xticklabels([f"{x:+g}" for x in delays])
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    fig.tight_layout()
    return common.save(fig, out_dir, NAME)


if __name__ == "__main__":
    compute()
    print("\n".join(map(str, plot())))
