"""Tagging and capture in space: pathways sharing branches or not, and proteins used up.

The realistic layout (``models/ca1_layout.toml``: three pathways of 50 spines each) in two
arrangements of the same spines on the same amount of oblique dendrite:

- **shared**: the model as it is, six oblique branches of 100 um, each carrying spines of
  all three pathways, alternating (Schaffer collateral bundles intermingle);
- **separate**: eighteen branches of a third of the length, each carrying spines of one
  pathway only (every pathway on six branches of its own).

Each branch holds its own pool of plasticity-related proteins (mechanism
``branch_proteins``), a concentration: the somatic proteins reach it with a delay, and
its synapses use them up as they consolidate, a branch of length L losing prp_use/L of a
full pool per unit of late weight (``prp_use``, a model choice: 5 um in the layout; drawn
here at 0, that value and four times it).  A short branch's pool is drawn down faster by
the same capture, so the two arrangements hold the same protein in all.  Synthesis is
either full or limited to a quarter of its rate (``tau_prp_syn`` four times longer; a
model choice standing for "reduced protein synthesis", the condition under which Fonseca
et al. 2004 report competition; the dose is not matched).

Protocols (8 h, S3 is the control): a strong tetanus (STET) on S1 at 30 min, alone, or
followed 35 min later by a weak tetanus (WTET; tagging and capture, Frey & Morris 1997)
or by a second strong tetanus on S2 (competition).

Panel A: S1's fEPSP with and without the strong tetanus on S2, under limited synthesis and
the largest consumption, shared against separate branches.  Panel B: the proteins at S1's
branches in the same runs.  Panel C: what S2's strong tetanus costs S1 at 7 h after its
own (fEPSP points with S2 minus without), against consumption.  Panel D: S2's capture
after the weak tetanus (fEPSP at 7 h), against consumption.

What the experiments say, and what the model does with it:

- Fonseca et al. 2004 (Neuron 44:1011): under reduced protein synthesis, inducing
  protein-synthesis-dependent LTP on a second pathway is paid for by the maintenance of
  the first's ("competitive maintenance").  In the model a second strong input costs the
  first only where they share branches: 0.7 points at the layout's prp_use with full
  synthesis, 1.6 with limited, and 5.0 and 3.2 at four times it; on separate branches it adds to the first (its tetanus adds to the
  soma's synthesis).  Once captured, the model's late weight no longer needs proteins, so
  the competition is for the capture itself, not for maintenance.
- Govindarajan et al. 2011 (Neuron 69:132): capture between two spines is favoured when
  they are near each other and share a branch.  Not reproduced: the proteins come only
  from the soma and reach every branch alike, so where a weak input sits changes its
  capture (here by less than 2 points) through how fast capture draws its branches'
  pools down and through the two arrangements being different cells (0.2 points apart
  without use), not through being near the strong input.  A branch-local source of proteins would be needed (local translation:
  Bradshaw et al. 2003); the model has none yet.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import brian2 as b2
import numpy as np
import pandas as pd

import biophys_ltp as bl

import _common as common

FIGURE = {
    "name": "spatial_capture",
    "title": "Tagging and capture in space: pathways sharing branches or not, proteins used up by capture",
    "paper": "Fonseca et al. 2004 (Neuron 44:1011); Govindarajan et al. 2011 (Neuron 69:132)",
    "panel": ("model curves on the realistic layout, no experimental points: competition between two "
              "strong inputs and capture of a weak one, on shared or separate branches, against "
              "protein consumption and under full or limited synthesis"),
}
NAME = FIGURE["name"]
MODEL = "ca1_layout"
DATA_FILES = [f"{NAME}_fepsp.csv", f"{NAME}_state.csv", f"{NAME}_summary.csv"]
TABLES = ("fepsp", "state", "summary")
ARRANGEMENTS = ("shared", "separate")
SYNTHESIS = ("full", "limited")
SYNTHESIS_SLOWDOWN = 4  # limited synthesis: translation at a quarter of its rate
USE_FACTORS = (0, 1, 4)  # prp_use: none, the model's value, four times it
PROTOCOL_KEYS = ("strong alone", "weak after strong", "strong and strong")
STRONG_MIN, SECOND_MIN = 30.0, 65.0
READ_MIN = STRONG_MIN + 7 * 60  # 7 h after the strong tetanus on S1
STATE_STEP_MIN = 10.0
STATE_COLUMNS = ["late_weight", "tag", "proteins"]
COLUMNS = {
    "arrangement": "shared: six 100-um branches, each with spines of all three pathways; separate: eighteen "
                   "33-um branches, each with spines of one pathway",
    "prp_use_um": "stretch of branch (um) whose full protein pool one unit of consolidated late weight uses",
    "synthesis": "full, or limited (tau_prp_syn four times the model's: a quarter of the rate)",
    "protocol": "strong alone (STET on S1 at 30 min), weak after strong (and WTET on S2 at 65 min), "
                "strong and strong (and STET on S2 at 65 min)",
    "pathway": "S1, S2 or S3 (control)",
    "time_min": "minutes from the start of the protocol",
    "fepsp_pct": "fEPSP: the pathway's synaptic current at the test pulse, % of the baseline mean",
    "late_weight": "the pathway's consolidated change (fraction of baseline receptors)",
    "tag": "mean tag of the pathway's synapses (0-1)",
    "proteins": "protein level at the branches of the pathway's spines (0-1, mean over its spines)",
    "s1_pct": "S1's fEPSP 7 h after its strong tetanus (% of baseline)",
    "s2_pct": "S2's fEPSP at the same time (% of baseline)",
    "s1_proteins_max": "largest protein level at S1's branches",
}


def layout_model() -> bl.Model:
    return bl.load_model(MODEL)


def arrangement_params(model: bl.Model, arrangement: str) -> dict[str, Any]:
    """Structure overrides of an arrangement: none for the model's own shared branches;
    for separate branches three times as many, each a third as long, one pathway each."""
    if arrangement == "shared":
        return {}
    n = model.n_branches * model.pathways_per_branch
    return {"pathways_per_branch": 1, "oblique_branches": n,
            "oblique_length": model["oblique_length"] * model.n_branches / n}


def protocol(key: str) -> dict[str, Any]:
    events = [{"kind": "strong_tetanus", "pathway": "S1", "at": f"{STRONG_MIN:g} min"}]
    if key == "weak after strong":
        events.append({"kind": "weak_tetanus", "pathway": "S2", "at": f"{SECOND_MIN:g} min"})
    elif key == "strong and strong":
        events.append({"kind": "strong_tetanus", "pathway": "S2", "at": f"{SECOND_MIN:g} min"})
    return {"name": f"spatial capture: {key}",
            "description": "STET on S1; WTET or STET on S2 35 min later (Frey & Morris 1997; Fonseca et al. 2004)",
            "duration": "8 h", "baseline": "30 min", "test_interval": "5 min",
            "pathways": ["S1", "S2", "S3"], "events": events}


def model_use_um() -> float:
    """The layout's prp_use, in um."""
    return float(layout_model()["prp_use"] / b2.um)


def run_keys() -> list[tuple[str, float, str, str]]:
    uses = [round(f * model_use_um(), 6) for f in USE_FACTORS]
    return list(itertools.product(ARRANGEMENTS, uses, SYNTHESIS, PROTOCOL_KEYS))


def job(key: tuple[str, float, str, str]) -> dict[str, Any]:
    arrangement, use, synthesis, proto = key
    model = layout_model()
    params = {**arrangement_params(model, arrangement), "prp_use": use * b2.um}
    if synthesis == "limited":
        params["tau_prp_syn"] = model["tau_prp_syn"] * SYNTHESIS_SLOWDOWN
    return dict(protocol=protocol(proto), model=MODEL, params=params, progress=False)


def inputs_hash() -> str:
    return common.inputs_hash([protocol(k) for k in PROTOCOL_KEYS],
                              {"layout_model": layout_model().model_hash(), "runs": [list(k) for k in run_keys()],
                               "read_min": READ_MIN, "state_step_min": STATE_STEP_MIN,
                               "slowdown": SYNTHESIS_SLOWDOWN})


def simulate(keys=None) -> dict[tuple, bl.Results]:
    keys = run_keys() if keys is None else keys
    return bl.simulate_many({k: job(k) for k in keys})


def tidy(results: dict[tuple, bl.Results]) -> dict[str, pd.DataFrame]:
    """fEPSP of S1-S3 and slow state of S1 and S2 (10-min grid) of every run, and one
    summary row per run."""
    fepsp, state, summary = [], [], []
    for (arrangement, use, synthesis, proto), res in results.items():
        ids = {"arrangement": arrangement, "prp_use_um": use, "synthesis": synthesis, "protocol": proto}
        f = res.fepsp[["pathway", "time_min", "fepsp_pct"]].copy()
        f["time_min"] = f.time_min.round(4)
        fepsp.append(f.assign(**ids))
        grid = np.arange(0.0, float(res.protocol.duration / b2.second) / 60 + 1e-9, STATE_STEP_MIN)
        for pathway in ("S1", "S2"):
            raw = res.state[res.state.pathway == pathway]
            s = pd.DataFrame({"pathway": pathway, "time_min": grid})
            for col in STATE_COLUMNS:
                s[col] = np.interp(grid, raw.time_min, raw[col])
            state.append(s.assign(**ids))
        s1 = res.state[res.state.pathway == "S1"]
        summary.append({**ids, "s1_pct": res.fepsp_at("S1", READ_MIN), "s2_pct": res.fepsp_at("S2", READ_MIN),
                        "s1_proteins_max": float(s1.proteins.max())})
    order = ["arrangement", "prp_use_um", "synthesis", "protocol"]
    fepsp = pd.concat(fepsp, ignore_index=True)[order + ["pathway", "time_min", "fepsp_pct"]]
    state = pd.concat(state, ignore_index=True)[order + ["pathway", "time_min"] + STATE_COLUMNS]
    return {"fepsp": fepsp.round(4), "state": state.round(6), "summary": pd.DataFrame(summary).round(4)}


def compute(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    t0 = time.perf_counter()
    results = simulate()
    tables = tidy(results)
    common.write_tables(data_dir, {f: tables[key] for key, f in zip(TABLES, DATA_FILES)})
    common.write_sidecar(data_dir, NAME, common.run_sidecar(
        FIGURE, inputs_hash(), results, t0, COLUMNS, model=MODEL, read_min=READ_MIN,
        arrangements={a: {k: str(v) for k, v in arrangement_params(layout_model(), a).items()}
                      for a in ARRANGEMENTS},
        cells={a: next(r for k, r in results.items() if k[0] == a).metadata["cell"] for a in ARRANGEMENTS}))
    return tables


def load(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    return {key: pd.read_csv(data_dir / f) for key, f in zip(TABLES, DATA_FILES)}


def competition_cost(summary: pd.DataFrame) -> pd.DataFrame:
    """What the strong tetanus on S2 costs S1 (fEPSP points at the readout, with minus
    without), by arrangement, consumption and synthesis."""
    keys = ["arrangement", "prp_use_um", "synthesis"]
    s = summary.set_index(keys + ["protocol"]).s1_pct.unstack("protocol")
    return (s["strong and strong"] - s["strong alone"]).rename("cost_pp").reset_index()


def _mark_model_value(ax) -> None:
    x = model_use_um()
    ax.axvline(x, color="0.8", lw=0.8)
    ax.annotate("the layout's value", xy=(x, 0.5), xycoords=("data", "axes fraction"), xytext=(-3, 0),
                textcoords="offset points", rotation=90, fontsize=7, color="0.5", va="center", ha="right")


ARRANGEMENT_STYLE = {"shared": "-", "separate": "--"}
SYNTHESIS_COLOR = {"full": "#55A868", "limited": "#8172B3"}


def plot(data_dir: Path = common.DATA_DIR, out_dir: Path = common.FIGURES_DIR) -> list[Path]:
    import matplotlib.pyplot as plt

    common.style()
    d = load(data_dir)
    fepsp, state, summary = d["fepsp"], d["state"], d["summary"]
    use_max = float(summary.prp_use_um.max())
    fig, axes = plt.subplots(2, 2, figsize=(12.5, 8.6))

    def pick(frame, arrangement, protocol, pathway):
        return frame[(frame.arrangement == arrangement) & (frame.prp_use_um == use_max) & (frame.synthesis == "limited")
                     & (frame.protocol == protocol) & (frame.pathway == pathway)]

    ax = axes[0, 0]
    for arrangement, ls in ARRANGEMENT_STYLE.items():
        for proto, color in (("strong and strong", common.PALETTE["S1"]), ("strong alone", "0.45")):
            t, y = common.broken_line(pick(fepsp, arrangement, proto, "S1"), 5.0)
            ax.plot(t / 60, y, ls, color=color, lw=1.3,
                    label=f"S1, {arrangement} branches" + (", S2 strong too" if proto != "strong alone" else ", alone"))
        t, y = common.broken_line(pick(fepsp, arrangement, "strong and strong", "S2"), 5.0)
        ax.plot(t / 60, y, ls, color=common.PALETTE["S2"], lw=1.0, alpha=0.7,
                label=f"S2 (STET at {SECOND_MIN:g} min), {arrangement}")
    for t_min, pathway, what, ha in ((STRONG_MIN, "S1", "STET S1 ", "right"), (SECOND_MIN, "S2", " STET S2", "left")):
        ax.annotate("", xy=(t_min / 60, 0.86), xycoords=("data", "axes fraction"), xytext=(t_min / 60, 0.93),
                    arrowprops=dict(arrowstyle="->", color=common.PALETTE[pathway]))
        ax.text(t_min / 60, 0.95, what, transform=ax.get_xaxis_transform(), ha=ha, fontsize=8,
                color=common.PALETTE[pathway])
    ax.axhline(100, color="0.6", lw=0.8, ls=":")
    ax.set(xlabel="time (h)", ylabel="fEPSP (% of baseline)", xlim=(0, 8), ylim=(95, 190),
           title=f"A  Two strong inputs, limited synthesis, prp_use {use_max:g} um")
    ax.legend(frameon=False, fontsize=7.5, loc="upper right", bbox_to_anchor=(1.0, 0.88))

    ax = axes[0, 1]
    for arrangement, ls in ARRANGEMENT_STYLE.items():
        for proto, color in (("strong and strong", common.PALETTE["S1"]), ("strong alone", "0.45")):
            s = pick(state, arrangement, proto, "S1")
            ax.plot(s.time_min / 60, s.proteins, ls, color=color, lw=1.3,
                    label=f"{arrangement}, " + ("S2 strong too" if proto != "strong alone" else "S1 alone"))
    ax.set(xlabel="time (h)", ylabel="proteins at S1's branches (0-1)", xlim=(0, 8), ylim=(0, None),
           title="B  Proteins where S1's spines are (same runs)")
    ax.legend(frameon=False, fontsize=7.5, loc="upper right")

    ax = axes[1, 0]
    cost = competition_cost(summary)
    for (arrangement, synthesis), c in cost.groupby(["arrangement", "synthesis"]):
        ax.plot(c.prp_use_um, c.cost_pp, ARRANGEMENT_STYLE[arrangement], marker="o", ms=4,
                color=SYNTHESIS_COLOR[synthesis], label=f"{arrangement} branches, {synthesis} synthesis")
    ax.axhline(0, color="0.6", lw=0.8, ls=":")
    _mark_model_value(ax)
    ax.set(xlabel="prp_use (um of branch whose pool one unit of late weight uses)",
           ylabel="S1 with S2 strong minus S1 alone (points)",
           title="C  Competition: what S2's strong tetanus costs S1 at 7 h")
    ax.legend(frameon=False, fontsize=7.5)

    ax = axes[1, 1]
    weak = summary[summary.protocol == "weak after strong"]
    for (arrangement, synthesis), w in weak.groupby(["arrangement", "synthesis"]):
        ax.plot(w.prp_use_um, w.s2_pct, ARRANGEMENT_STYLE[arrangement], marker="o", ms=4,
                color=SYNTHESIS_COLOR[synthesis], label=f"{arrangement} branches, {synthesis} synthesis")
    _mark_model_value(ax)
    ax.set(xlabel="prp_use (um of branch whose pool one unit of late weight uses)", ylabel="S2's fEPSP at 7 h (% of baseline)",
           title="D  Capture: WTET on S2 35 min after STET on S1")
    ax.text(0.98, 0.97, "Govindarajan et al. 2011: capture favoured near the strong input, within its branch;\n"
            "not reproduced (the proteins come only from the soma)", transform=ax.transAxes, fontsize=7.5,
            color="0.3", ha="right", va="top")
    ax.legend(frameon=False, fontsize=7.5, loc="lower left")
    fig.tight_layout()
    return common.save(fig, out_dir, NAME)


if __name__ == "__main__":
    compute()
    print("\n".join(map(str, plot())))
