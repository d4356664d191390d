"""Synaptic tagging and capture: a weak tetanus after a strong one on another pathway.

Reproduces the two-pathway experiment of Frey & Morris (1997), Nature 385:533-536
(doi:10.1038/385533a0): a weak tetanus (WTET, 21 pulses at 100 Hz) on S2 alone gives
early LTP that is gone within about 3 h; given 35 min after a strong tetanus (STET,
3 x 100 pulses at 100 Hz) on S1, it lasts for the whole 8 h, because the tag it sets
captures the plasticity-related proteins (PRPs) made for S1.  With anisomycin from
15 min before to 1 h after the weak tetanus only, S2 still lasts: the proteins made for
S1 before the drug are enough (the paper's protein-synthesis-inhibitor experiment).

Panel A: fEPSP slope of S1 (STET), S2 (WTET 35 min later) and the control pathway S3,
beside S2 after WTET alone.  Panel B: the same with anisomycin around the weak tetanus.
Panel C: S2's tag, the dendritic PRP level and S2's late (consolidated) weight in the
three runs.  The model has no protocol-specific rule: S1, S2 and S3 sit on different
oblique branches; PRPs are made in the soma and reach every branch.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import biophys_ltp as bl

import _common as common

FIGURE = {
    "name": "tagging",
    "title": "Synaptic tagging and capture (STET on S1, WTET on S2 35 min later)",
    "paper": "Frey & Morris 1997 (doi:10.1038/385533a0)",
    "panel": "two-pathway tagging experiment and its anisomycin variant (S2 time courses)",
}
NAME = FIGURE["name"]
DATA_FILES = common.two_pathway_files(NAME)
PROTOCOLS = {
    "STC": "stc_strong_weak",
    "STC + anisomycin around WTET": "stc_anisomycin_weak",
    "WTET on S2 alone": "wtet_s2",
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
    strong_h, weak_h = 0.5, 65 / 60
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), gridspec_kw={"width_ratios": [1, 1, 0.9]})

    def curves(ax, label, title):
        for pathway, what in (("S1", "S1: STET"), ("S2", "S2: WTET 35 min later"), ("S3", "S3: control")):
            f = fepsp[(fepsp.protocol == label) & (fepsp.pathway == pathway)]
            ax.plot(f.time_min / 60, f.fepsp_pct, "o-", ms=2.5, lw=1.1, color=common.PALETTE[pathway],
                    label=what)
        alone = fepsp[(fepsp.protocol == "WTET on S2 alone") & (fepsp.pathway == "S2")]
        ax.plot(alone.time_min / 60, alone.fepsp_pct, "--", lw=1.3, color=common.PALETTE["S2"],
                alpha=0.6, label="S2: WTET alone")
        for t_h in (strong_h, strong_h + 1 / 6, strong_h + 2 / 6, weak_h):
            ax.annotate("", xy=(t_h, 0.90), xycoords=("data", "axes fraction"), xytext=(t_h, 0.97),
                        arrowprops=dict(arrowstyle="->", color=common.PALETTE["S2" if t_h == weak_h else "S1"]))
        ax.text(strong_h + 1 / 6, 0.985, "STET S1", transform=ax.get_xaxis_transform(), ha="center",
                fontsize=8, color=common.PALETTE["S1"])
        ax.text(weak_h + 0.15, 0.92, "WTET S2", transform=ax.get_xaxis_transform(), ha="left",
                fontsize=8, color=common.PALETTE["S2"])
        ax.axhline(100, color="0.6", lw=0.8, ls=":")
        ax.set(xlabel="time (h)", ylabel="fEPSP slope (% of baseline)", xlim=(0, 10), ylim=(85, 185),
               title=title)

    curves(axes[0], "STC", "A  Tagging and capture")
    axes[0].legend(frameon=False, fontsize=8, loc="upper right", bbox_to_anchor=(1.0, 0.9))
    curves(axes[1], "STC + anisomycin around WTET", "B  Anisomycin around the weak tetanus")
    axes[1].axvspan(50 / 60, 125 / 60, color=common.PALETTE["anisomycin"], alpha=0.15, lw=0)
    axes[1].text(87.5 / 60, 0.03, "anisomycin", transform=axes[1].get_xaxis_transform(), ha="center",
                 fontsize=8)

    ax = axes[2]
    styles = {"STC": "-", "STC + anisomycin around WTET": "--", "WTET on S2 alone": ":"}
    for label, ls in styles.items():
        s2 = state[(state.protocol == label) & (state.pathway == "S2")]
        ax.plot(s2.time_min / 60, s2.tag, ls, color="#8172B3", lw=1.3)
        ax.plot(s2.time_min / 60, s2.proteins, ls, color="#937860", lw=1.3)
        ax.plot(s2.time_min / 60, s2.late_weight, ls, color=common.PALETTE["S2"], lw=1.6)
    for color, what in (("#8172B3", "S2 tag"), ("#937860", "PRPs at the dendrites"),
                        (common.PALETTE["S2"], "S2 late weight")):
        ax.plot([], [], color=color, label=what)
    for label, ls in styles.items():
        ax.plot([], [], ls, color="black", label=label)
    ax.set(xlabel="time (h)", ylabel="level", xlim=(0, 10), title="C  Tag, proteins, capture (S2)")
    ax.legend(frameon=False, fontsize=7.5, loc="upper right")
    fig.tight_layout()
    return common.save(fig, out_dir, NAME)


if __name__ == "__main__":
    compute()
    print("\n".join(map(str, plot())))
