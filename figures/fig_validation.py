"""Experiment against model for every target with a model outcome, calibration and
validation marked.

Calibration targets (``role = "calibration"`` in biophys_ltp/targets.toml) are the ones a
fitted parameter was tuned on: the model meeting them shows the fit, not a test.
Validation targets are experiments no parameter was tuned on (biophys_ltp/validation.py;
their predictions were committed in biophys_ltp/predictions.toml before the comparison).

The model's numbers: the outcomes in the fEPSP's units (biophys_ltp/outcomes.py: WTET,
STET, STET + anisomycin, tagging, WLFS, SLFS, the frequency response, spike timing, the
control pathway) and the held-out experiments (biophys_ltp/validation.py), each run
once.  Each row shows the target's band
(grey), the reported mean +- SEM where the paper gives them (black), and the model (a
dot, filled when inside the band, open and red-edged when it misses).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

import biophys_ltp as bl
from biophys_ltp import outcomes, validation
from biophys_ltp.targets import TARGETS, TARGETS_FILE

import _common as common

FIGURE = {
    "name": "validation",
    "title": "Experiment against model: calibration and held-out validation targets",
    "paper": "biophys_ltp/targets.toml (each target's paper and figure)",
    "panel": "every target with a model outcome; role calibration or validation",
}
NAME = FIGURE["name"]
DATA_FILES = [f"{NAME}.csv"]
ROLE_COLORS = {"calibration": "#4C72B0", "validation": "#DD8452"}
#: One panel per unit of the rows: (unit, title); the first fills the left column.
PANELS = [("% of baseline", "A  fEPSP after the protocol (% of baseline)"),
          ("percentage points", "B  Differences between runs (percentage points)"),
          ("% of potentiation", "C  Depotentiation: part of the potentiation removed (%)")]
COLUMNS = {
    "target": "id in biophys_ltp/targets.toml",
    "name": "the model's outcome (biophys_ltp/outcomes.py) or held-out experiment (biophys_ltp/validation.py)",
    "role": "calibration (a fitted parameter was tuned on it) or validation (none was)",
    "unit": "unit of the values in this row",
    "band_low": "lower edge of the target's band (-inf: open)",
    "band_high": "upper edge of the target's band (inf: open)",
    "experiment_value": "reported mean (empty where the paper gives none)",
    "experiment_sem": "reported SEM (empty where not reported)",
    "measure": "what the experiment measured (fEPSP slope, population spike amplitude, ...)",
    "model": "the model's number",
    "met": "1 when the model's number is inside the band",
    "source": "paper and figure of the target",
}


# the outcomes compared with an experiment in the fEPSP's units (the panels'); those in
# units of their own (the bAP, spine Ca2+, the frequency response's crossing) are drawn
# with their bands in the biophysics and induction figures
OUTCOMES = [name for name, o in outcomes.OUTCOMES.items() if o.target and o.unit in {u for u, _ in PANELS}]


def _jobs() -> dict[str, dict]:
    jobs = {f"outcome: {run}": {"protocol": p, **outcomes.run_options(run)}
            for run, p in outcomes.jobs_for(OUTCOMES).items()}
    jobs.update({f"validation: {run}": {"protocol": p} for run, p in validation.jobs_for().items()})
    return jobs


def inputs_hash() -> str:
    from biophys_ltp import provenance
    jobs = _jobs()
    return common.inputs_hash([job["protocol"] for job in jobs.values()],
                              {"targets": provenance.file_digest(TARGETS_FILE),
                               "validation": provenance.file_digest(validation.__file__),
                               "outcomes": provenance.file_digest(outcomes.__file__),
                               "run_options": {k: {o: v for o, v in job.items() if o != "protocol"}
                                               for k, job in jobs.items()}})


def simulate_all() -> dict[str, bl.Results]:
    return bl.simulate_many(_jobs())


def tidy(results: dict[str, bl.Results]) -> pd.DataFrame:
    def strip(prefix: str) -> dict[str, bl.Results]:
        return {k.removeprefix(prefix): r for k, r in results.items() if k.startswith(prefix)}

    rows = []
    found = outcomes.measure(OUTCOMES, strip("outcome: "))
    named = [(name, outcomes.OUTCOMES[name].target, outcomes.OUTCOMES[name].unit, found[name]) for name in OUTCOMES]
    runs = strip("validation: ")
    named += [(e.name, e.target, e.unit, float(e.read(runs))) for e in validation.EXPERIMENTS.values()]
    for name, tid, unit, value in named:
        t = TARGETS[tid]
        # the held-out experiments' "%" is the fEPSP in % of baseline, as the outcomes'
        unit = "% of baseline" if unit == "%" else unit
        rows.append({"target": tid, "name": name, "role": t.role, "unit": unit,
                     "band_low": t.band[0], "band_high": t.band[1],
                     "experiment_value": t.value, "experiment_sem": t.sem, "measure": t.measure, "model": value,
                     "met": int(t.band[0] <= value <= t.band[1]), "source": t.source})
    return pd.DataFrame(rows)


def compute(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    t0 = time.perf_counter()
    results = simulate_all()
    table = tidy(results)
    data_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(data_dir / f"{NAME}.csv", index=False, float_format="%.6g")
    common.write_sidecar(data_dir, NAME, common.run_sidecar(FIGURE, inputs_hash(), results, t0, COLUMNS))
    return {"validation": table}


def load(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    return {"validation": pd.read_csv(data_dir / f"{NAME}.csv")}


def _panel(ax, rows: pd.DataFrame, unit: str, title: str) -> None:
    if rows.empty:
        ax.set_axis_off()
        return
    finite = np.concatenate([rows.model.to_numpy(float), rows.experiment_value.dropna().to_numpy(float),
                             rows.band_low[np.isfinite(rows.band_low)].to_numpy(float),
                             rows.band_high[np.isfinite(rows.band_high)].to_numpy(float)])
    lo, hi = float(np.nanmin(finite)), float(np.nanmax(finite))
    pad = 0.12 * (hi - lo or 10.0)
    xmin, xmax = lo - pad, hi + pad
    for y, r in enumerate(rows.itertuples()):
        b0 = xmin if math.isinf(r.band_low) else r.band_low
        b1 = xmax if math.isinf(r.band_high) else r.band_high
        ax.plot([b0, b1], [y, y], color="0.82", lw=7, solid_capstyle="butt", zorder=1)
        for edge, open_ in ((b0, math.isinf(r.band_low)), (b1, math.isinf(r.band_high))):
            if open_:
                ax.annotate("", xy=(edge, y), xytext=(edge + (pad * 0.6 if edge == xmin else -pad * 0.6), y),
                            arrowprops=dict(arrowstyle="->", color="0.6", lw=1))
        if not pd.isna(r.experiment_value):
            sem = 0.0 if pd.isna(r.experiment_sem) else r.experiment_sem
            # a mean of another measure than the fEPSP slope (population spike) is drawn open
            slope = "slope" in str(r.measure).lower()
            ax.errorbar(r.experiment_value, y, xerr=sem, fmt="s", ms=4, color="black", capsize=2, zorder=3,
                        mfc="black" if slope else "white")
        color = ROLE_COLORS[r.role]
        ax.plot(r.model, y, "o", ms=7, zorder=4, mfc=color if r.met else "white",
                mec=color if r.met else "#C44E52", mew=1.6)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{r.name}" for r in rows.itertuples()], fontsize=7.5)
    for tick, role in zip(ax.get_yticklabels(), rows.role):
        tick.set_color(ROLE_COLORS[role])
    ax.set(xlim=(xmin, xmax), ylim=(len(rows) - 0.5, -0.5), xlabel=unit, title=title)
    if unit == "% of baseline":
        ax.axvline(100, color="0.6", lw=0.8, ls=":")
    else:
        ax.axvline(0, color="0.6", lw=0.8, ls=":")


def plot(data_dir: Path = common.DATA_DIR, out_dir: Path = common.FIGURES_DIR) -> list[Path]:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    common.style()
    d = load(data_dir)["validation"].sort_values(["role", "name"], kind="stable", ignore_index=True)
    parts = [(d[d.unit == unit].reset_index(drop=True), unit, title) for unit, title in PANELS]
    left, right = parts[0], parts[1:]
    n_right = sum(len(p[0]) for p in right)
    fig = plt.figure(figsize=(13, 0.3 * len(left[0]) + 2.2))
    grid = fig.add_gridspec(len(right), 2, width_ratios=[1.4, 1],
                            height_ratios=[max(len(p[0]), 1) + 2 for p in right])
    _panel(fig.add_subplot(grid[:, 0]), *left)
    for i, part in enumerate(right):
        _panel(fig.add_subplot(grid[i, 1]), *part)
    assert len(left[0]) + n_right == len(d), "a row whose unit has no panel"
    met = d.met.astype(bool)
    counts = {role: f"{int(met[d.role == role].sum())}/{int((d.role == role).sum())}" for role in ROLE_COLORS}
    handles = [Line2D([], [], color="0.82", lw=7, label="target band"),
               Line2D([], [], marker="s", ls="", color="black", label="experiment, mean +- SEM (fEPSP slope)"),
               Line2D([], [], marker="s", ls="", color="black", mfc="white",
                      label="experiment, another measure (population spike)"),
               Line2D([], [], marker="o", ls="", color=ROLE_COLORS["calibration"],
                      label=f"model, calibration target ({counts['calibration']} in band)"),
               Line2D([], [], marker="o", ls="", color=ROLE_COLORS["validation"],
                      label=f"model, validation target ({counts['validation']} in band)"),
               Line2D([], [], marker="o", ls="", mfc="white", mec="#C44E52", mew=1.6, color="#C44E52",
                      label="model outside the band")]
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(handles=handles, frameon=False, fontsize=8, loc="lower center", ncol=3)
    return common.save(fig, out_dir, NAME)


if __name__ == "__main__":
    compute()
    print("\n".join(map(str, plot())))
