"""Heterosynaptic crosstalk: a neighbour's potentiation lowers a spine's threshold for minutes.

Harvey & Svoboda (2007, Nature 450:1195; abstract read): after LTP at one spine, stimuli
too weak to potentiate by themselves give robust LTP at spines nearby; the lowered
threshold lasts ~10 min and spreads over ~10 um of dendrite.  Harvey et al. (2008, Science
321:136; abstract read): the Ras activity a potentiated spine makes decays in ~5 min and
spreads ~10 um along the dendrite into neighbouring spines, and its spread is needed for
the lowered threshold.

In the model (mechanism ``crosstalk``): a spine's kinase activity above the insertion
threshold activates a Ras-like signal that decays with tau_ras (5 min); a spine at
distance d along the same branch receives exp(-d/crosstalk_length) of it (5 um), and the
signal reaching a spine from its neighbours lowers the Ca2+ threshold of its fast kinase
route by up to g_ras (0.3, a model choice: the size of the fall was not read).

The experiment here is a pathway-level analogue of the single-spine one, on the realistic
layout (``models/ca1_layout.toml``) in the two arrangements of Figure spatial_capture:

- **shared**: the model's six oblique branches, each carrying spines of all three
  pathways alternating, so most S2 spines have S1 spines 4 and 8 um away (those at a
  branch's ends one);
- **separate**: eighteen branches of a third of the length, one pathway each, so no S2
  spine has an S1 spine on its branch.

S2 gets a short burst at 50 Hz at 75 min, alone or 1-40 min after a weak tetanus (WTET,
early LTP) on S1; the readout is S2's fEPSP 30 min after its burst (the burst comes at the
same time in every run, on a test pulse's time, so S2 is read at the same time
everywhere).  S3 is the control.  Panel A: S2's potentiation against the delay after S1's tetanus.  Panel B:
against the number of pulses in S2's burst, alone or 2 min after S1's tetanus.  Panel C:
the Ca2+ threshold of the fast kinase route at S1's and S2's spines (the model's theta_kin
lowered by the crosstalk signal, mean over the pathway's spines, sampled every minute)
after S1's tetanus alone (at 35 min).  Panel D: the
time courses of the 3-pulse burst 2 min after S1's tetanus.

What the model does with it: on shared branches S2's spines receive a signal of 0.58
(mean over them, sampled 1 min after S1's tetanus: their threshold falls from 9 to 7.5
uM) that decays with tau_ras; a burst of 3 pulses that alone leaves S2 at 119.6 % leaves
it at 123.8 % 1 min after S1's tetanus, 123.0 % after 2, 121.5 % after 5, 120.3 % after
10, 119.7 % after 20 and as alone after 40: the window of ~10 min in the data follows
from the 5-min decay taken from Harvey et al. 2008, not from a fit.  Bursts of 4 and 5
pulses gain 1.9 and 1.5 points.  On separate branches S1's tetanus changes nothing
(within 0.01 point); there S2's burst alone gives less (116.4 % for 3 pulses), although
its spines, ~4 um apart on its own short branches, raise each other's signal more (0.87
against 0.13 on shared branches): the two arrangements are different cells, whose
branches' electrical responses to the burst differ.  A burst of 2 pulses, which alone
does not potentiate, does not potentiate 2 min after S1's tetanus either: with g_ras at
0.3 (a model choice, not fitted) the model makes a near-threshold stimulus potentiate
more, not a failing one succeed, so the single-spine result (stimuli too weak by themselves give
robust LTP) is reproduced only in part.  Within a pathway the signal acts too: on
separate branches S1's own spines sit ~4 um apart and their threshold falls to 6.5 uM
after its tetanus (8.6 uM on shared branches, 12 um apart).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import brian2 as b2
import numpy as np
import pandas as pd

import biophys_ltp as bl

import _common as common
import fig_spatial_capture as spatial

FIGURE = {
    "name": "heterosynaptic",
    "title": "Heterosynaptic crosstalk: a neighbour's potentiation lowers a spine's threshold for minutes",
    "paper": "Harvey & Svoboda 2007 (Nature 450:1195); Harvey et al. 2008 (Science 321:136)",
    "panel": ("model curves on the realistic layout, no experimental points: a weak burst on S2 after a weak "
              "tetanus on S1, on shared or separate branches, against delay and burst size; the data's "
              "~10 min and ~10 um marked"),
}
NAME = FIGURE["name"]
MODEL = spatial.MODEL
DATA_FILES = [f"{NAME}_fepsp.csv", f"{NAME}_state.csv", f"{NAME}_summary.csv"]
TABLES = ("fepsp", "state", "summary")
ARRANGEMENTS = spatial.ARRANGEMENTS
FIRST_MIN = 35.0  # S1's weak tetanus in the runs without a burst on S2 (panel C)
BURST_HZ = 50.0
PULSES = (2, 3, 4, 5)
PULSES_DRAWN = 3  # the burst of panels A, C and D
DELAYS_MIN = (1.0, 2.0, 5.0, 10.0, 20.0, 40.0)
DELAY_DRAWN = 2.0  # the delay of panels B and D
READ_AFTER_MIN = 30.0  # S2's readout, after its burst
# S2's burst comes at the same time in every run, on a test pulse, so that S2 is read the
# same time after it everywhere; S1's tetanus comes the delay before it
BURST_MIN = FIRST_MIN + max(DELAYS_MIN)
DURATION_MIN = BURST_MIN + READ_AFTER_MIN + 5
COLUMNS = {
    "arrangement": spatial.COLUMNS["arrangement"],
    "s1": f"S1's stimulus: wtet (a weak tetanus, delay_min before S2's burst; at {FIRST_MIN:g} min in the runs "
          "without a burst) or none",
    "pulses": "pulses in S2's burst at 50 Hz (0: no burst)",
    "delay_min": f"minutes from S1's tetanus to S2's burst (S2's burst at {BURST_MIN:g} min in every run; S1's "
                 f"tetanus alone at {FIRST_MIN:g} min)",
    "pathway": "S1, S2 or S3 (control)",
    "time_min": "minutes from the start of the protocol",
    "fepsp_pct": "fEPSP: the pathway's synaptic current at the test pulse, % of the baseline mean",
    "crosstalk": "mean over the pathway's spines of the Ras-like signal reaching them from their neighbours (0-1)",
    "threshold_uM": "Ca2+ threshold of the fast kinase route at the pathway's spines, theta_kin*(1 - g_ras*crosstalk) "
                    "(uM; mean over its spines)",
    "s1_pct": "S1's fEPSP at read_min (% of baseline)",
    "read_min": f"when S2 is read: its first test pulse {READ_AFTER_MIN:g} min or more after its burst (minutes "
                "from the start)",
    "s2_pct": "S2's fEPSP at read_min (% of baseline)",
    "s2_crosstalk_max": "largest crosstalk signal at S2's spines (mean over them) of the samples taken every minute",
}


def layout_model() -> bl.Model:
    return bl.load_model(MODEL)


def run_keys() -> list[tuple[str, str, int, float]]:
    """(arrangement, S1's stimulus, pulses in S2's burst, delay): S1's tetanus alone; each
    burst alone and 2 min after S1's tetanus; the drawn burst at every delay."""
    keys = []
    for a in ARRANGEMENTS:
        keys.append((a, "wtet", 0, 0.0))
        keys += [(a, "none", n, 0.0) for n in PULSES]
        keys += [(a, "wtet", n, DELAY_DRAWN) for n in PULSES]
        keys += [(a, "wtet", PULSES_DRAWN, d) for d in DELAYS_MIN if d != DELAY_DRAWN]
    return keys


def s1_min(key: tuple[str, str, int, float]) -> float:
    """When S1's weak tetanus comes (minutes from the start)."""
    _, _, pulses, delay = key
    return BURST_MIN - delay if pulses else FIRST_MIN


def protocol(key: tuple[str, str, int, float]) -> dict[str, Any]:
    _, s1, pulses, delay = key
    events = []
    if s1 == "wtet":
        events.append({"kind": "weak_tetanus", "pathway": "S1", "at": f"{s1_min(key):g} min"})
    if pulses:
        events.append({"kind": "train", "pathway": "S2", "at": f"{BURST_MIN:g} min", "pulses": pulses,
                       "frequency": f"{BURST_HZ:g} Hz"})
    what = (f"WTET on S1" if s1 == "wtet" else "no S1") + (f", {pulses} pulses at {BURST_HZ:g} Hz on S2"
                                                          + (f" {delay:g} min later" if s1 == "wtet" else "")
                                                          if pulses else "")
    return {"name": f"heterosynaptic: {what}",
            "description": "WTET on S1; a short burst on S2 (Harvey & Svoboda 2007, at the level of pathways)",
            "duration": f"{DURATION_MIN:g} min", "baseline": "30 min", "test_interval": "5 min",
            "pathways": ["S1", "S2", "S3"], "events": events}


def job(key: tuple[str, str, int, float]) -> dict[str, Any]:
    params = spatial.arrangement_params(layout_model(), key[0])
    return dict(protocol=protocol(key), model=MODEL, params=params, progress=False)


def inputs_hash() -> str:
    model = layout_model()
    return common.inputs_hash([protocol(k) for k in run_keys()],
                              {"layout_model": model.model_hash(), "runs": [list(k) for k in run_keys()],
                               "arrangements": {a: {k: str(v) for k, v in spatial.arrangement_params(model, a).items()}
                                                for a in ARRANGEMENTS},
                               "read_after_min": READ_AFTER_MIN})


def simulate(keys=None) -> dict[tuple, bl.Results]:
    keys = run_keys() if keys is None else keys
    return bl.simulate_many({k: job(k) for k in keys})


def read_min(res: bl.Results, burst: float) -> float:
    """When S2 is read: its first test pulse READ_AFTER_MIN or more after its burst (the
    burst comes on a test pulse's time, so exactly READ_AFTER_MIN after it)."""
    times = res.fepsp[res.fepsp.pathway == "S2"].time_min
    return float(times[times >= burst + READ_AFTER_MIN - 1e-6].min())


def threshold_uM(crosstalk: np.ndarray | pd.Series, model: bl.Model | None = None) -> np.ndarray:
    """The fast kinase route's Ca2+ threshold (uM) at a crosstalk signal (mechanism crosstalk)."""
    model = model or layout_model()
    return float(model["theta_kin"] / b2.umolar) * (1 - float(model["g_ras"]) * np.clip(crosstalk, 0, 1))


def tidy(results: dict[tuple, bl.Results]) -> dict[str, pd.DataFrame]:
    """fEPSP of S1-S3 and the crosstalk signal of S1 and S2 (as sampled, every minute) of
    every run, and one summary row per run."""
    fepsp, state, summary = [], [], []
    model = layout_model()
    for key, res in results.items():
        arrangement, s1, pulses, delay = key
        ids = {"arrangement": arrangement, "s1": s1, "pulses": pulses, "delay_min": delay}
        f = res.fepsp[["pathway", "time_min", "fepsp_pct"]].copy()
        f["time_min"] = f.time_min.round(4)
        fepsp.append(f.assign(**ids))
        s = res.state[res.state.pathway.isin(["S1", "S2"])][["pathway", "time_min", "crosstalk"]].copy()
        s["time_min"] = s.time_min.round(4)
        s["threshold_uM"] = threshold_uM(s.crosstalk, model)
        state.append(s.assign(**ids))
        read = read_min(res, BURST_MIN)
        s2 = res.state[res.state.pathway == "S2"]
        summary.append({**ids, "read_min": read, "s1_pct": res.fepsp_at("S1", read),
                        "s2_pct": res.fepsp_at("S2", read), "s2_crosstalk_max": float(s2.crosstalk.max())})
    order = list(summary[0])[:4]
    fepsp = pd.concat(fepsp, ignore_index=True)[order + ["pathway", "time_min", "fepsp_pct"]]
    state = pd.concat(state, ignore_index=True)[order + ["pathway", "time_min", "crosstalk", "threshold_uM"]]
    return {"fepsp": fepsp.round(4), "state": state.round(6), "summary": pd.DataFrame(summary).round(4)}


def compute(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    t0 = time.perf_counter()
    results = simulate()
    tables = tidy(results)
    common.write_tables(data_dir, {f: tables[key] for key, f in zip(TABLES, DATA_FILES)})
    model = layout_model()
    common.write_sidecar(data_dir, NAME, common.run_sidecar(
        FIGURE, inputs_hash(), results, t0, COLUMNS, model=MODEL, read_after_min=READ_AFTER_MIN,
        burst_hz=BURST_HZ,
        crosstalk={k: str(model[k]) for k in ("crosstalk_length", "k_ras", "tau_ras", "g_ras", "theta_kin")},
        arrangements={a: {k: str(v) for k, v in spatial.arrangement_params(model, a).items()}
                      for a in ARRANGEMENTS},
        cells={a: next(r for k, r in results.items() if k[0] == a).metadata["cell"] for a in ARRANGEMENTS}))
    return tables


def load(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    return {key: pd.read_csv(data_dir / f) for key, f in zip(TABLES, DATA_FILES)}


def alone_pct(summary: pd.DataFrame, arrangement: str, pulses: int) -> float:
    """S2's fEPSP after its burst alone (no tetanus on S1)."""
    row = summary[(summary.arrangement == arrangement) & (summary.s1 == "none") & (summary.pulses == pulses)]
    return float(row.s2_pct.iloc[0])


def neighbour_distances_um() -> tuple[float, float]:
    """On the model's shared branches, the distances from an S2 spine to the S1 spines on
    either side of it (the pathways alternate S1, S2, S3 along a branch)."""
    model = layout_model()
    spacing = float(model.spine_stretch(model.spine_branches()[0]) / b2.um)
    return spacing, 2 * spacing


ARRANGEMENT_STYLE = spatial.ARRANGEMENT_STYLE
DATA_COLOR = "#C44E52"


def plot(data_dir: Path = common.DATA_DIR, out_dir: Path = common.FIGURES_DIR) -> list[Path]:
    import matplotlib.pyplot as plt

    common.style()
    d = load(data_dir)
    fepsp, state, summary = d["fepsp"], d["state"], d["summary"]
    fig, axes = plt.subplots(2, 2, figsize=(12.5, 8.6))
    after = summary[summary.s1 == "wtet"]

    ax = axes[0, 0]
    for arrangement, ls in ARRANGEMENT_STYLE.items():
        a = after[(after.arrangement == arrangement) & (after.pulses == PULSES_DRAWN)].sort_values("delay_min")
        ax.plot(a.delay_min, a.s2_pct, ls, marker="o", ms=4, color=common.PALETTE["S2"],
                label=f"{arrangement} branches, after S1's WTET")
        ax.axhline(alone_pct(summary, arrangement, PULSES_DRAWN), color="0.5", lw=1.0, ls=ls,
                   label=f"{arrangement} branches, burst alone")
    ax.axvspan(0, 10, color=DATA_COLOR, alpha=0.07, lw=0)
    ax.text(0.5, 0.3, "Harvey & Svoboda 2007:\nthe lowered threshold\nlasts ~10 min", transform=ax.get_xaxis_transform(),
            fontsize=7.5, color=DATA_COLOR, va="center")
    ax.set(xlabel="delay from S1's WTET to S2's burst (min)", ylabel=f"S2 {READ_AFTER_MIN:g} min after its burst (%)",
           title=f"A  {PULSES_DRAWN} pulses at {BURST_HZ:g} Hz on S2, after S1's WTET")
    ax.legend(frameon=False, fontsize=7.5, loc="upper right")

    ax = axes[0, 1]
    for arrangement, ls in ARRANGEMENT_STYLE.items():
        alone = summary[(summary.arrangement == arrangement) & (summary.s1 == "none")].sort_values("pulses")
        near = after[(after.arrangement == arrangement) & (after.delay_min == DELAY_DRAWN)
                     & (after.pulses > 0)].sort_values("pulses")
        ax.plot(alone.pulses, alone.s2_pct, ls, marker="s", ms=4, color="0.5", label=f"{arrangement}, burst alone")
        ax.plot(near.pulses, near.s2_pct, ls, marker="o", ms=4, color=common.PALETTE["S2"],
                label=f"{arrangement}, {DELAY_DRAWN:g} min after S1's WTET")
    ax.axhline(100, color="0.6", lw=0.8, ls=":")
    ax.set(xlabel=f"pulses in S2's burst at {BURST_HZ:g} Hz", ylabel=f"S2 {READ_AFTER_MIN:g} min after its burst (%)",
           xticks=list(PULSES), title="B  The burst's size: alone and next to a potentiated neighbour")
    ax.legend(frameon=False, fontsize=7.5, loc="upper left")

    ax = axes[1, 0]
    only = state[(state.s1 == "wtet") & (state.pulses == 0)]
    for arrangement, ls in ARRANGEMENT_STYLE.items():
        for pathway in ("S2", "S1"):
            s = only[(only.arrangement == arrangement) & (only.pathway == pathway)]
            ax.plot(s.time_min - FIRST_MIN, s.threshold_uM, ls, color=common.PALETTE[pathway], lw=1.3,
                    label=f"{pathway}'s spines, {arrangement} branches")
    ax.axvspan(0, 10, color=DATA_COLOR, alpha=0.07, lw=0)
    near = neighbour_distances_um()
    shares = [100 * np.exp(-x / float(layout_model()["crosstalk_length"] / b2.um)) for x in near]
    ax.text(0.98, 0.5, f"shared branches: most S2 spines have S1 spines {near[0]:.0f} and {near[1]:.0f} um away\n"
            f"(it gets {shares[0]:.0f} % and {shares[1]:.0f} % of their signal); separate: none.\n"
            "Harvey & Svoboda 2007: within ~10 um", transform=ax.transAxes, fontsize=7.5, color="0.3",
            ha="right", va="center")
    ax.set(xlabel="time after S1's WTET (min)", ylabel="fast kinase route's Ca2+ threshold (uM)",
           xlim=(-5, DURATION_MIN - FIRST_MIN), title="C  The threshold at the spines (S1's WTET alone)")
    ax.legend(frameon=False, fontsize=7.5, loc="lower right")

    ax = axes[1, 1]
    for arrangement, ls in ARRANGEMENT_STYLE.items():
        run = fepsp[(fepsp.arrangement == arrangement) & (fepsp.s1 == "wtet") & (fepsp.pulses == PULSES_DRAWN)
                    & (fepsp.delay_min == DELAY_DRAWN)]
        for pathway in ("S1", "S2"):
            t, y = common.broken_line(run[run.pathway == pathway], 5.0)
            ax.plot(t, y, ls, color=common.PALETTE[pathway], lw=1.3, label=f"{pathway}, {arrangement} branches")
        alone = fepsp[(fepsp.arrangement == arrangement) & (fepsp.s1 == "none") & (fepsp.pulses == PULSES_DRAWN)
                      & (fepsp.pathway == "S2")]
        t, y = common.broken_line(alone, 5.0)
        ax.plot(t, y, ls, color="0.5", lw=1.0, label=f"S2, burst alone, {arrangement}")
    ax.axhline(100, color="0.6", lw=0.8, ls=":")
    for t_min, pathway in ((BURST_MIN - DELAY_DRAWN, "S1"), (BURST_MIN, "S2")):
        ax.axvline(t_min, color=common.PALETTE[pathway], lw=0.8, ls=":")
    ax.set(xlabel="time (min)", ylabel="fEPSP (% of baseline)", xlim=(BURST_MIN - 30, DURATION_MIN),
           title=f"D  S1's WTET at {BURST_MIN - DELAY_DRAWN:g} min, S2's burst {DELAY_DRAWN:g} min later")
    ax.legend(frameon=False, fontsize=7.5, loc="center left")
    fig.tight_layout()
    return common.save(fig, out_dir, NAME)


if __name__ == "__main__":
    compute()
    print("\n".join(map(str, plot())))
