"""Early and late LTD, and cross-tagging between LTP and LTD.

Reproduces Sajikumar & Frey (2004), Neurobiol Learn Mem 82:12-25
(doi:10.1016/j.nlm.2004.03.003) and Sajikumar, Navakkode, Sacktor & Frey (2005),
J Neurosci 25:5750-5756 (doi:10.1523/JNEUROSCI.1104-05.2005):

* weak low-frequency stimulation (WLFS, 900 pulses at 1 Hz) gives early LTD that
  recovers within about 3 h; strong LFS (SLFS, 900 bursts of 3 pulses at 20 Hz, at 1 Hz)
  gives late LTD that lasts >= 8 h and needs protein synthesis;
* cross-tagging: a weak tetanus on S2 after SLFS on S1 gives late LTP on S2, and WLFS on
  S2 after a strong tetanus on S1 gives late LTD on S2: the tags of either sign capture
  the proteins made by the other pathway's induction.

Panel A: WLFS and SLFS on S1, with S3 and the experimental values (black squares).
Panel B: SLFS on S1, WTET on S2 60 min after its start; WTET alone (dashed, shifted to
the same onset).  Panel C: STET on S1, WLFS on S2 35 min later; WLFS alone (dashed,
shifted to the same onset).  Panel D: the mechanism: early and late weight of the
depressed pathway and the PRP level in WLFS, SLFS and STET + WLFS.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import biophys_ltp as bl
from biophys_ltp.targets import LTD_POINTS

import _common as common

FIGURE = {
    "name": "ltd_crosstag",
    "title": "Early and late LTD; cross-tagging between LTP and LTD",
    "paper": "Sajikumar & Frey 2004 (doi:10.1016/j.nlm.2004.03.003); "
             "Sajikumar et al. 2005 (doi:10.1523/JNEUROSCI.1104-05.2005)",
    "panel": "WLFS/SLFS time courses; cross-tagging SLFS->WTET and STET->WLFS (S2 time courses)",
}
NAME = FIGURE["name"]
DATA_FILES = common.two_pathway_files(NAME)
PROTOCOLS = {
    "WLFS": "wlfs",
    "SLFS": "slfs",
    "SLFS S1 + WTET S2": "slfs_wtet",
    "STET S1 + WLFS S2": "stet_wlfs",
    "WTET": "wtet",
}


def inputs_hash() -> str:
    return common.inputs_hash(PROTOCOLS.values())


def simulate_all() -> dict[str, bl.Results]:
    return common.simulate_protocols(PROTOCOLS)


def tidy(results: dict[str, bl.Results]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """fEPSP of S1-S3 and the slow state of S1 and S2 (5-min grid) for every run."""
    return common.two_pathway_tidy(results)


def compute(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    return common.two_pathway_compute(FIGURE, PROTOCOLS, inputs_hash(), data_dir)


def load(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    return common.two_pathway_load(NAME, data_dir)


def plot(data_dir: Path = common.DATA_DIR, out_dir: Path = common.FIGURES_DIR) -> list[Path]:
    import matplotlib.pyplot as plt

    common.style()
    d = load(data_dir)
    fepsp, state = d["fepsp"], d["state"]

    def series(label, pathway, shift_min=0.0):
        f = fepsp[(fepsp.protocol == label) & (fepsp.pathway == pathway)]
        return (f.time_min + shift_min) / 60, f.fepsp_pct

    def mark(ax, t_h, txt, y=0.98):
        ax.annotate(txt, xy=(t_h, y - 0.08), xycoords=("data", "axes fraction"), xytext=(t_h, y),
                    textcoords=("data", "axes fraction"), ha="center", fontsize=8,
                    arrowprops=dict(arrowstyle="->", color="black"))

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    axes = axes.ravel()
    lfs_start, lfs_end = 30.0, 45.0  # min: 900 pulses (bursts) at 1 Hz

    ax = axes[0]
    for label in ("WLFS", "SLFS"):
        ax.plot(*series(label, "S1"), "o-", ms=2.5, lw=1.1, color=common.PALETTE[label], label=f"{label} (S1)")
    ax.plot(*series("SLFS", "S3"), "o-", ms=2, lw=1, color=common.PALETTE["S3"], label="S3: control")
    for proto, t_h, value, err, _src in LTD_POINTS:
        ax.errorbar(lfs_end / 60 + t_h, value, yerr=err, fmt="s", ms=7, mfc=common.PALETTE[proto],
                    mec="black", ecolor="black", capsize=3, zorder=5)
    ax.errorbar([], [], yerr=[], fmt="s", mfc="white", mec="black", ecolor="black",
                label="experiment (approx.)")
    ax.axvspan(lfs_start / 60, lfs_end / 60, color="0.85", lw=0)
    ax.set(title="A  Early (WLFS) and late (SLFS) LTD", ylim=(50, 115))
    ax.legend(frameon=False, fontsize=8, loc="lower right")

    def cross(ax, label, s1, s2, alone, shift_min):
        """S1-S3 of a cross-tagging run, and S2's induction alone shifted to the same onset."""
        for pathway, what, ms, lw in (("S1", s1, 2.5, 1.1), ("S2", s2, 2.5, 1.1), ("S3", "S3: control", 2, 1)):
            ax.plot(*series(label, pathway), "o-", ms=ms, lw=lw, color=common.PALETTE[pathway], label=what)
        ax.plot(*series(alone, "S1", shift_min=shift_min), "--", lw=1.3, color=common.PALETTE["S2"],
                alpha=0.6, label=f"{alone} alone (same onset)")

    ax = axes[1]
    cross(ax, "SLFS S1 + WTET S2", "S1: SLFS", "S2: WTET 60 min after SLFS onset", "WTET", 60.0)
    ax.axvspan(lfs_start / 60, lfs_end / 60, color="0.85", lw=0)
    mark(ax, 1.5, "WTET S2")
    ax.set(title="B  Cross-tagging: SLFS (S1) then WTET (S2)", ylim=(40, 165))  # legend below S1
    ax.legend(frameon=False, fontsize=8, loc="lower right")

    ax = axes[2]
    cross(ax, "STET S1 + WLFS S2", "S1: STET", "S2: WLFS 35 min later", "WLFS", 35.0)
    ax.axvspan(65 / 60, 80 / 60, color="0.85", lw=0)
    for k in range(3):
        mark(ax, 0.5 + k / 6, "STET" if k == 0 else "")
    ax.set(title="C  Cross-tagging: STET (S1) then WLFS (S2)", ylim=(50, 185))
    # between S1's late LTP and the control pathway, clear of S2's depression
    ax.legend(frameon=False, fontsize=8, loc="center right", bbox_to_anchor=(1.0, 0.6))

    for ax in axes[:3]:
        ax.axhline(100, color="0.6", lw=0.8, ls=":")
        ax.set(xlabel="time (h)", ylabel="fEPSP slope (% of baseline)", xlim=(0, 10))

    ax = axes[3]
    runs = {"WLFS": ("S1", "-"), "SLFS": ("S1", "--"), "STET S1 + WLFS S2": ("S2", ":")}
    for label, (pathway, ls) in runs.items():
        s = state[(state.protocol == label) & (state.pathway == pathway)]
        ax.plot(s.time_min / 60, s.early_weight, ls, color="black", lw=1.2)
        ax.plot(s.time_min / 60, s.late_weight, ls, color=common.PALETTE["SLFS"], lw=1.6)
        ax.plot(s.time_min / 60, s.proteins, ls, color="#937860", lw=1.2)
    for color, what in (("black", "early weight"), (common.PALETTE["SLFS"], "late weight"),
                        ("#937860", "PRPs at the dendrites")):
        ax.plot([], [], color=color, label=what)
    for label, (pathway, ls) in runs.items():
        ax.plot([], [], ls, color="0.4", label=f"{label} ({pathway})")
    ax.axhline(0, color="0.6", lw=0.8, ls=":")
    ax.set(xlabel="time (h)", ylabel="fraction of baseline receptors; PRP level", xlim=(0, 10),
           title="D  Depression is consolidated by capture")
    ax.legend(frameon=False, fontsize=7.5, loc="upper right")
    fig.tight_layout()
    return common.save(fig, out_dir, NAME)


if __name__ == "__main__":
    compute()
    print("\n".join(map(str, plot())))
