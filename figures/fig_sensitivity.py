"""Global sensitivity: a Morris screening of every fitted parameter on the main outcomes.

Every fitted parameter of the default model (a model entry whose source says "fitted: ...")
is moved across a plausible range (``biophys_ltp/sensitivity_ranges.toml``: a factor of 2
either side in log space, +-5 mV for the two potentials, 1-3 for n_clones) along Morris
one-at-a-time trajectories (Morris 1991, Technometrics 33:161; mu*: Campolongo et al.
2007, Environ Model Softw 22:1509; SALib), and the 15 main outcomes
(``biophys_ltp.outcomes.MAIN``: WTET at 30 min and 3 h, STET at 1 h and 8 h, STET under
anisomycin, tagging, WLFS, SLFS, 900 pulses at 1, 10 and 100 Hz, spike timing +-10 ms,
spaced minus massed trains) are evaluated for every parameter set.

mu* is the mean absolute elementary effect: the change of the outcome (in its unit, % of
baseline or percentage points) per whole range of the parameter, as a linear
extrapolation of the screening's steps; sigma, the spread of the effects, says how much
the effect depends on the other parameters (interactions, thresholds).  Panel A: mu* of
every (outcome, parameter), relative to the outcome's largest mu*, parameters ordered by
their largest relative effect; parameters that no outcome depends on (mu* below 5 % of
every outcome's largest) are labelled in grey, and an outcome that hangs on a single
parameter (more than half the summed mu*) names it.  Panels B-D: mu* against sigma for
three outcomes, with mu*'s 95 % bootstrap interval.

The screening is not run here: it is ~144 parameter sets of 13 runs each (about 35 minutes
on two cores), run by ``biophys-ltp sensitivity --out out/sensitivity`` (resumable).
:func:`compute` copies a finished screening from ``out/sensitivity`` (or the folder in
$BIOPHYS_LTP_SENSITIVITY_DIR, or its ``screening`` argument) into ``figures/data`` as
``sensitivity_morris.csv`` and ``sensitivity_evaluations.csv`` with the sidecar
``sensitivity.json`` (the design, the summaries, and the inputs hash when the screening's
design, model, code and engine settings are the current ones); without a screening folder
it keeps the stored data (and says whether they are current), and without either it
stops with the command to run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

import biophys_ltp as bl
from biophys_ltp import sensitivity as sens
from biophys_ltp.errors import ResultError
from biophys_ltp.outcomes import MAIN, OUTCOMES, jobs_for

import _common as common

FIGURE = {
    "name": "sensitivity",
    "title": "Global sensitivity: Morris screening of the fitted parameters on the main outcomes",
    "paper": "Morris 1991 (Technometrics 33:161); Campolongo et al. 2007 (Environ Model Softw 22:1509)",
    "panel": "heatmap of mu* relative to each outcome's largest (outcomes x fitted parameters); "
             "mu* against sigma for three outcomes",
}
NAME = FIGURE["name"]
DATA_FILES = [f"{NAME}_morris.csv", f"{NAME}_evaluations.csv"]
#: Where `biophys-ltp sensitivity --out ...` is expected to have written the screening (ignored by git).
SCREENING_DIR = common.FIGURES_DIR.parent / "out" / NAME
SCREENING_ENV = "BIOPHYS_LTP_SENSITIVITY_DIR"
COMMAND = f"biophys-ltp sensitivity --out {SCREENING_DIR.relative_to(common.FIGURES_DIR.parent)}"
#: Outcomes of panels B-D (the first three present otherwise).
KEY_OUTCOMES = ("wtet_30min", "stet_8h", "spaced_minus_massed_8h")
#: Parameters named in each mu*-sigma panel.
LABELLED = 5

COLUMNS = {
    "outcome": "outcome (biophys_ltp.outcomes)",
    "unit": "unit of the outcome, and of mu, mu_star, mu_star_conf and sigma (per whole range of the parameter)",
    "parameter": "fitted parameter (its range: design.ranges in the sidecar)",
    "mu": "mean elementary effect (signed)",
    "mu_star": "mean absolute elementary effect",
    "mu_star_conf": "half-width of mu_star's 95 % bootstrap interval",
    "sigma": "standard deviation of the elementary effects (NaN with one trajectory)",
    "mu_star_rel": "mu_star / the outcome's largest mu_star",
    "share": "mu_star / the outcome's summed mu_star",
    "trajectories": "trajectories analysed for the outcome",
    "dropped": "trajectories left out for the outcome (a failed run: NaN)",
}


# where a point's name may go, in points from the point (first free one wins)
LABEL_OFFSETS = ((3, 3), (3, 12), (3, -11), (3, 21), (-3, 12), (-3, -11), (3, 30), (3, -20))


def _label(ax, name: str, x: float, y: float, dx: float, dy: float):
    """``name`` at (dx, dy) points from the point (x, y); a line joins it when set apart."""
    return ax.annotate(name, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=7,
                       ha="left" if dx > 0 else "right",
                       arrowprops=dict(arrowstyle="-", color="0.7", lw=0.5) if abs(dy) > 3 else None)


def _label_points(ax, points) -> None:
    """Name each point (name, x, y) beside it, at the first offset of LABEL_OFFSETS where
    its text does not overlap a name already placed (the first offset if none is free)."""
    fig = ax.figure
    fig.canvas.draw()  # the axes' final limits and size, for the data -> pixel transform
    renderer = fig.canvas.get_renderer()
    placed = []
    for name, x, y in sorted(points, key=lambda p: -p[1]):  # the largest effects first
        for dx, dy in LABEL_OFFSETS:
            text = _label(ax, name, x, y, dx, dy)
            box = text.get_window_extent(renderer).expanded(1.05, 1.15)
            if not any(box.overlaps(other) for other in placed):
                placed.append(box)
                break
            text.remove()
        else:
            _label(ax, name, x, y, *LABEL_OFFSETS[0])


def figure_design() -> dict:
    """The screening this figure shows: the command's defaults."""
    names = sens.default_parameters()
    return {"params": names, "ranges": {n: sens.RANGES[n].as_dict() for n in names},
            "trajectories": sens.DEFAULT_TRAJECTORIES, "levels": sens.DEFAULT_LEVELS, "seed": sens.DEFAULT_SEED,
            "outcomes": list(MAIN)}


def inputs_hash() -> str:
    return common.inputs_hash(list(jobs_for(MAIN).values()), {"design": sens.identity(
        {**figure_design(), "format": sens.FORMAT})})


def _current_design() -> dict:
    d = figure_design()
    return sens.make_design(d["params"], sens.RANGES, d["outcomes"], d["trajectories"], d["levels"], d["seed"],
                            bl.load_model())


def _finished(folder: Path) -> bool:
    return all((folder / f).is_file() for f in (sens.TABLE, sens.DESIGN_JSON, sens.EVALUATIONS, sens.SUMMARY))


def _source(screening: Path | str | None) -> Path | None:
    """The screening folder to copy from, or None to keep the stored data."""
    given = screening if screening is not None else os.environ.get(SCREENING_ENV) or None
    if given is not None:
        folder = Path(given)
        if not _finished(folder):
            raise ResultError(f"{folder}: not a finished screening (it needs {sens.TABLE}, {sens.DESIGN_JSON}, "
                              f"{sens.EVALUATIONS} and {sens.SUMMARY}); run '{COMMAND}' first")
        return folder
    if not _finished(SCREENING_DIR):
        return None
    design = json.loads((SCREENING_DIR / sens.DESIGN_JSON).read_text())
    wanted = figure_design()
    if any(design.get(k) != wanted[k] for k in ("params", "trajectories", "levels", "seed", "outcomes")) or \
            sens.identity(design)["ranges"] != sens.identity(wanted)["ranges"]:
        print(f"{NAME}: {SCREENING_DIR} holds another screening than this figure's ({COMMAND}); "
              f"keeping the stored data", file=sys.stderr)
        return None
    return SCREENING_DIR


def compute(data_dir: Path = common.DATA_DIR, screening: Path | str | None = None) -> pd.DataFrame:
    """Copy a finished screening into ``data_dir`` (see the module's docstring); never runs it."""
    t0 = time.perf_counter()
    data_dir = Path(data_dir)
    source = _source(screening)
    sidecar = data_dir / f"{NAME}.json"
    if source is not None:
        design = json.loads((source / sens.DESIGN_JSON).read_text())
        summary = json.loads((source / sens.SUMMARY).read_text())
        data_dir.mkdir(parents=True, exist_ok=True)
        # byte for byte: the stored values are the screening's own
        shutil.copyfile(source / sens.TABLE, data_dir / DATA_FILES[0])
        shutil.copyfile(source / sens.EVALUATIONS, data_dir / DATA_FILES[1])
        origin = _shown(source)
    elif all((data_dir / f).is_file() for f in DATA_FILES) and sidecar.is_file():
        stored = json.loads(sidecar.read_text())
        design, summary, origin = stored["design"], stored["summary"], stored.get("screening", "")
        print(f"{NAME}: no screening folder ({SCREENING_DIR} or ${SCREENING_ENV}): the stored data are kept",
              file=sys.stderr)
    else:
        raise ResultError(f"{NAME}: no stored screening in {data_dir} and none in {SCREENING_DIR}: the screening "
                          f"is not run by 'reproduce' (~144 parameter sets x ~22 s on two cores); run "
                          f"'{COMMAND}' (resumable), then 'biophys-ltp reproduce {NAME}'")
    stale = sens.identity_differences(design, _current_design())
    inputs = inputs_hash() if not stale else "not current: " + ", ".join(stale)
    if stale:
        print(f"{NAME}: the screening differs from the current one in {', '.join(stale)}: its data are marked "
              f"stale (run '{COMMAND}' into a new folder to redo it)", file=sys.stderr)
    common.write_sidecar(data_dir, NAME, {
        "figure": FIGURE, "inputs_hash": inputs, "model_hash": design.get("model_hash"),
        "versions": design.get("versions"), "screening": origin, "stale": stale,
        "design": design, "summary": summary, "wall_time_s": time.perf_counter() - t0,
        "evaluations": "one row per parameter set: set, trajectory, wall_s (summed run time), errors (failed "
                       "runs), the parameter values as given to the runs, each outcome (NaN: its run failed)",
        "columns": COLUMNS,
    })
    return pd.read_csv(data_dir / DATA_FILES[0])


def _plural(n, one: str, many: str) -> str:
    return one if n == 1 else many


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(common.FIGURES_DIR.parent))
    except ValueError:
        return str(path)


def load(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    return {"morris": pd.read_csv(Path(data_dir) / DATA_FILES[0]),
            "evaluations": pd.read_csv(Path(data_dir) / DATA_FILES[1])}


def _sidecar(data_dir: Path) -> dict:
    try:
        return json.loads((Path(data_dir) / f"{NAME}.json").read_text())
    except (OSError, ValueError):
        return {}


def plot(data_dir: Path = common.DATA_DIR, out_dir: Path = common.FIGURES_DIR) -> list[Path]:
    import matplotlib.pyplot as plt
    import seaborn as sns

    common.style()
    table = pd.read_csv(Path(data_dir) / DATA_FILES[0])
    design = _sidecar(data_dir).get("design", {})
    present = list(dict.fromkeys(table.outcome))
    outcomes = [o for o in MAIN if o in present] + [o for o in present if o not in MAIN]
    rel = table.pivot(index="outcome", columns="parameter", values="mu_star_rel").reindex(outcomes)
    order = rel.max(axis=0, skipna=True).fillna(-1.0).sort_values(ascending=False, kind="stable").index
    rel = rel[order]
    quiet = set(sens.insensitive(table))
    single = {r.outcome: (r.parameter, r.share) for r in sens.single_parameter(table).itertuples()}
    keys = [o for o in KEY_OUTCOMES if o in outcomes] or outcomes[:3]

    n_out, n_par = rel.shape
    width = max(10.0, 0.36 * n_par + 5.0)
    heat_h = max(2.4, 0.36 * n_out + 1.8)
    fig = plt.figure(figsize=(width, heat_h + 4.4))
    grid = fig.add_gridspec(2, max(len(keys), 1), height_ratios=[heat_h, 3.4], hspace=0.5, wspace=0.3)

    # A: heatmap
    ax = fig.add_subplot(grid[0, :])
    cmap = sns.color_palette("mako_r", as_cmap=True).with_extremes(bad="0.85")
    values = rel.to_numpy(float)
    im = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap=cmap, vmin=0.0, vmax=1.0,
                   interpolation="nearest")
    for i in range(n_out):
        for j in range(n_par):
            v = values[i, j]
            if np.isfinite(v) and v >= 0.1:
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=6.5,
                        color="white" if v > 0.55 else "black")
    ax.set_xticks(range(n_par), list(rel.columns), rotation=60, ha="right", rotation_mode="anchor", fontsize=8)
    for label in ax.get_xticklabels():
        if label.get_text() in quiet:
            label.set_color("0.55")
            label.set_fontstyle("italic")
    ylabels = [f"{o}  [{single[o][0]} {single[o][1]:.0%}]" if o in single else o for o in outcomes]
    ax.set_yticks(range(n_out), ylabels, fontsize=8)
    for label, o in zip(ax.get_yticklabels(), outcomes):
        if o in single:
            label.set_fontweight("bold")
    ax.tick_params(length=0)
    first = table.drop_duplicates("outcome").set_index("outcome")
    for i, o in enumerate(outcomes):
        if int(first.loc[o, "dropped"]):
            ax.text(1.005, i, f"{int(first.loc[o, 'trajectories'])} of "
                              f"{int(first.loc[o, 'trajectories'] + first.loc[o, 'dropped'])} trajectories",
                    transform=ax.get_yaxis_transform(), fontsize=6.5, va="center", color="0.35")
    r, levels = design.get("trajectories", "?"), design.get("levels", "?")
    sets = design.get("sets", "?")
    ax.set_title(f"A  mu* relative to each outcome's largest ({r} {_plural(r, 'trajectory', 'trajectories')}, "
                 f"{levels} levels, {sets} parameter sets)\n"
                 f"grey italic: no outcome depends on the parameter (< {sens.INSENSITIVE_BELOW:.0%} of each largest); "
                 f"bold [parameter share]: the outcome hangs on one parameter "
                 f"(> {sens.SINGLE_PARAMETER_SHARE:.0%} of the summed mu*)", loc="left", fontsize=9)
    cbar = fig.colorbar(im, ax=ax, fraction=0.025, pad=0.09 if any(first.dropped) else 0.01)
    cbar.set_label("mu* / outcome's largest", fontsize=8)

    # B-D: mu* against sigma
    for k, o in enumerate(keys):
        ax = fig.add_subplot(grid[1, k])
        t = table[table.outcome == o].sort_values("mu_star", ascending=False)
        t = t[np.isfinite(t.mu_star.to_numpy(float))]
        sigma = t.sigma.to_numpy(float)
        undefined = not np.any(np.isfinite(sigma))
        y = np.where(np.isfinite(sigma), sigma, 0.0)
        x = t.mu_star.to_numpy(float)
        ax.errorbar(x, y, xerr=t.mu_star_conf.to_numpy(float), fmt="o", ms=4, color=common.PALETTE["STET"],
                    ecolor="0.7", elinewidth=0.8, capsize=0, alpha=0.9)
        top = max(float(np.nanmax(x)) if len(x) else 1.0, float(np.nanmax(y)) if len(y) else 0.0, 1e-9)
        ax.plot([0, 1.1 * top], [0, 1.1 * top], ls="--", color="0.6", lw=0.8)
        ax.text(1.05 * top, 1.05 * top, "sigma = mu*", fontsize=7, color="0.5", ha="right", va="bottom")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        named = t[t.mu_star_rel.to_numpy(float) >= sens.INSENSITIVE_BELOW].head(LABELLED)
        _label_points(ax, [(row.parameter, row.mu_star, row.sigma if np.isfinite(row.sigma) else 0.0)
                           for _, row in named.iterrows()])
        unit = t.unit.iloc[0] if len(t) else ""
        ax.set_xlabel(f"mu* ({unit} per range)", fontsize=8)
        ax.set_ylabel("sigma" + (" (undefined: one trajectory)" if undefined else ""), fontsize=8)
        desc = textwrap.shorten(OUTCOMES[o].description if o in OUTCOMES else o, 70, placeholder="...")
        ax.set_title(f"{'BCD'[k] if k < 3 else ''}  {o}\n{desc}", loc="left", fontsize=8)
        ax.tick_params(labelsize=7)
    return common.save(fig, Path(out_dir), NAME)


if __name__ == "__main__":
    compute()
    print("\n".join(map(str, plot())))
