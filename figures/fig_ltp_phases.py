"""Early versus late LTP: weak tetanus, strong tetanus, strong tetanus under anisomycin.

Reproduces the classic time courses of Frey & Morris (1997), Nature 385:533-536
(doi:10.1038/385533a0), Fig. 1 (one weak tetanus gives early LTP that decays within
about 3 h; three 100-Hz trains give late LTP that lasts >= 8 h) and of Frey, Krug,
Reymann & Matthies (1988), Brain Res 452:57-65 (doi:10.1016/0006-8993(88)90008-X)
(anisomycin around the strong tetanus leaves the first hours intact and abolishes the
late phase).

Panel A: fEPSP slope (% of baseline) of the tetanised pathway S1 over 10 h for WTET,
STET and STET + anisomycin, with the unstimulated control pathway S3, beside the
experimental values (black, see biophys_ltp.targets).
Panel B: the mechanism during and after STET: spine-head voltage and NMDA current
during the first train, spine calcium, and over 10 h the AMPA receptor count, tag,
plasticity-related proteins and late weight of S1's synapses.
"""

from __future__ import annotations

import time
from pathlib import Path

import brian2 as b2
import numpy as np
import pandas as pd

import biophys_ltp as bl
from biophys_ltp.units import parse_quantity
from biophys_ltp.targets import EXPERIMENTAL_POINTS

import _common as common

FIGURE = {
    "name": "ltp_phases",
    "title": "Early and late LTP: WTET, STET, STET + anisomycin",
    "paper": "Frey & Morris 1997 (doi:10.1038/385533a0); Frey et al. 1988 (doi:10.1016/0006-8993(88)90008-X)",
    "panel": "Frey & Morris 1997 Fig. 1 (time courses); Frey et al. 1988 Fig. 1 (anisomycin)",
}
NAME = FIGURE["name"]
DATA_FILES = [f"{NAME}.csv", f"{NAME}_state.csv", f"{NAME}_traces.csv"]
PROTOCOLS = {"WTET": "wtet", "STET": "stet", "STET + anisomycin": "stet_anisomycin"}
# fast traces of the first strong train: inside its active window, so recording them does
# not change the schedule
TRACE_WINDOW = ("1800 s", "1801.2 s")
STATE_COLUMNS = ["early_weight", "late_weight", "tag", "proteins", "ampar_rel"]


def inputs_hash() -> str:
    return common.inputs_hash(PROTOCOLS.values(), {"trace_window": TRACE_WINDOW})


def simulate_all() -> dict[str, bl.Results]:
    jobs = {label: {"protocol": proto, "trace_windows": [TRACE_WINDOW] if label == "STET" else None}
            for label, proto in PROTOCOLS.items()}
    return bl.simulate_many(jobs)


def tidy(results: dict[str, bl.Results]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The figure's data from the simulations: fEPSP, slow state and the fast traces."""
    fepsp, state = [], []
    for label, res in results.items():
        f = res.fepsp[res.fepsp.pathway.isin(["S1", "S3"])][["time_min", "pathway", "fepsp_pct"]].copy()
        f["time_min"] = f.time_min.round(4)  # the key of the stored rows
        f.insert(0, "protocol", label)
        fepsp.append(f)
        raw = res.state[res.state.pathway == "S1"]
        grid = np.arange(0.0, float(res.protocol.duration / b2.second) / 60 + 1e-9, 5.0)
        s = pd.DataFrame({"time_min": grid})
        for col in STATE_COLUMNS:
            s[col] = np.interp(grid, raw.time_min, raw[col])
        s.insert(0, "protocol", label)
        state.append(s)
    tr = results["STET"].traces
    spine = tr[tr.compartment == "S1_spine"].sort_values("time_s")
    syn = tr[tr.compartment == "S1_synapses"].sort_values("time_s")
    t0 = float(parse_quantity(TRACE_WINDOW[0]) / b2.second)
    grid = np.arange(0.0, 1.2, 0.0005)  # 0.5 ms
    traces = pd.DataFrame({
        "time_ms": grid * 1e3,
        "v_spine_mV": np.interp(grid, spine.time_s - t0, spine.v_mV),
        "i_nmda_pA": np.interp(grid, spine.time_s - t0, spine.i_nmda_pA),
        "ca_spine_uM": np.interp(grid, spine.time_s - t0, spine.ca_uM),
        "kinase": np.interp(grid, syn.time_s - t0, syn.kinase),
        "phosphatase": np.interp(grid, syn.time_s - t0, syn.phosphatase),
    })
    return (pd.concat(fepsp, ignore_index=True), pd.concat(state, ignore_index=True).reset_index(drop=True),
            traces)


def compute(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    t0 = time.perf_counter()
    results = simulate_all()
    fepsp, state, traces = tidy(results)
    common.write_tables(data_dir, dict(zip(DATA_FILES, (fepsp.round(4), state.round(6), traces.round(5)))))
    meta = results["STET"].metadata
    common.write_sidecar(data_dir, NAME, {
        "figure": FIGURE, "inputs_hash": inputs_hash(), "model_hash": meta["model_hash"],
        "versions": meta["versions"], "protocols": PROTOCOLS, "trace_window": TRACE_WINDOW,
        "wall_time_s": time.perf_counter() - t0,
        "columns": {"time_min": "minutes from the start of the protocol",
                    "fepsp_pct": "fEPSP: the pathway's synaptic current at the test pulse, % of the baseline mean",
                    "early_weight": "early change of AMPA receptors (fraction of baseline)",
                    "late_weight": "consolidated change (fraction of baseline)",
                    "tag": "mean tag of S1's synapses (0-1)", "proteins": "dendritic PRP level (0-1)",
                    "ampar_rel": "AMPA receptors relative to baseline"},
    })
    return {"fepsp": fepsp, "state": state, "traces": traces}


def load(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    return {key: pd.read_csv(data_dir / f) for key, f in zip(("fepsp", "state", "traces"), DATA_FILES)}


def plot(data_dir: Path = common.DATA_DIR, out_dir: Path = common.FIGURES_DIR) -> list[Path]:
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    common.style()
    d = load(data_dir)
    fepsp, state, traces = d["fepsp"], d["state"], d["traces"]
    fig = plt.figure(figsize=(13, 6.5))
    gs = GridSpec(4, 2, figure=fig, width_ratios=[1.35, 1], hspace=0.55, wspace=0.25)

    ax = fig.add_subplot(gs[:, 0])
    for label in PROTOCOLS:
        f = fepsp[(fepsp.protocol == label) & (fepsp.pathway == "S1")]
        ax.plot(f.time_min / 60, f.fepsp_pct, "o-", ms=2.5, lw=1.2, color=common.PALETTE[label],
                label=f"{label} (S1)")
    ctrl = fepsp[(fepsp.protocol == "STET") & (fepsp.pathway == "S3")]
    ax.plot(ctrl.time_min / 60, ctrl.fepsp_pct, "o-", ms=2, lw=1, color=common.PALETTE["control (S3)"],
            label="control pathway (S3)")
    tet_h = 0.5
    for proto, t_h, value, err, _src in EXPERIMENTAL_POINTS:
        ax.errorbar(tet_h + t_h, value, yerr=err, fmt="s", ms=7, mfc=common.PALETTE[proto],
                    mec="black", ecolor="black", capsize=3, zorder=5)
    ax.errorbar([], [], yerr=[], fmt="s", mfc="white", mec="black", ecolor="black",
                label="experiment (colour: protocol)")
    ax.axvspan(0, 2.5, ymin=0.0, ymax=0.03, color=common.PALETTE["STET + anisomycin"], alpha=0.6)
    ax.text(1.25, 0.045, "anisomycin", transform=ax.get_xaxis_transform(), ha="center", fontsize=8)
    for k in range(3):
        ax.annotate("", xy=(0.5 + k / 6, 0.93), xycoords=("data", "axes fraction"),
                    xytext=(0.5 + k / 6, 0.99), arrowprops=dict(arrowstyle="->", color="black"))
    ax.axhline(100, color="0.6", lw=0.8, ls=":")
    ax.set(xlabel="time (h)", ylabel="fEPSP slope (% of baseline)", xlim=(0, 10),
           title="A  Early and late LTP")
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(0.27, 1.0), fontsize=9)

    ax1 = fig.add_subplot(gs[0, 1])
    ax1.plot(traces.time_ms, traces.v_spine_mV, color="black", lw=0.8)
    ax1.set(ylabel="spine V (mV)", title="B  Mechanism during and after STET (S1)")
    ax1b = ax1.twinx()
    ax1b.plot(traces.time_ms, traces.i_nmda_pA, color=common.PALETTE["STET"], lw=0.8)
    ax1b.set_ylabel("NMDA current (pA)", color=common.PALETTE["STET"])
    ax2 = fig.add_subplot(gs[1, 1], sharex=ax1)
    ax2.plot(traces.time_ms, traces.ca_spine_uM, color="#55A868", lw=0.8)
    ax2.set(ylabel="spine Ca$^{2+}$ (uM)", xlabel="time from the first train (ms)")
    st = state[state.protocol == "STET"]
    ax3 = fig.add_subplot(gs[2, 1])
    ax3.plot(st.time_min / 60, st.ampar_rel, color="black", label="AMPA receptors (rel.)")
    ax3.plot(st.time_min / 60, 1 + st.late_weight, color=common.PALETTE["STET"], ls="--",
             label="1 + late weight")
    ax3.set(ylabel="receptors", xlim=(0, 10))
    ax3.legend(frameon=False, fontsize=8, loc="upper right")
    ax4 = fig.add_subplot(gs[3, 1], sharex=ax3)
    ax4.plot(st.time_min / 60, st.tag, color="#8172B3", label="tag")
    ax4.plot(st.time_min / 60, st.proteins / max(st.proteins.max(), 1e-9), color="#937860",
             label="proteins (norm.)")
    ax4.set(ylabel="tag, PRPs", xlabel="time (h)", ylim=(-0.05, 1.1))
    ax4.legend(frameon=False, fontsize=8, loc="upper right")
    return common.save(fig, out_dir, NAME)


if __name__ == "__main__":
    compute()
    print("\n".join(map(str, plot())))
