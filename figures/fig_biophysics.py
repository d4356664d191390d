"""The electrophysiology under the plasticity: Mg2+ block, spine calcium, backpropagation.

Checks the compartmental model against the measurements its plasticity rests on:

* the NMDA receptor Mg2+ block against voltage, as fitted by Jahr & Stevens (1990),
  J Neurosci 10:3178-3182 (doi:10.1523/JNEUROSCI.10-09-03178.1990): B(-65 mV) = 0.06,
  B(0 mV) = 0.78 at 1 mM Mg2+;
* spine-head calcium for an EPSP alone, a backpropagating action potential alone and
  EPSP-spike pairings at several offsets (Sabatini, Oertner & Svoboda 2002, Neuron
  33:439-452, doi:10.1016/S0896-6273(02)00573-1: resting Ca 50-100 nM, ~1 uM per bAP,
  decay 12-20 ms; pre-before-post pairing is supralinear);
* the amplitude of the backpropagating action potential along the apical trunk
  (Golding, Kath & Spruston 2001, J Neurophysiol 86:2998-3010,
  doi:10.1152/jn.2001.86.6.2998: less than 50 % attenuation within ~280 um).

Panel A: B(V) of the model's own equation with the two Jahr & Stevens values.
Panel B: spine Ca for EPSP alone, bAP alone and EPSP followed 10 ms later by a spike.
Panel C: peak spine Ca against the pairing offset (spike minus EPSP), beside the
linear sum of EPSP alone and bAP alone.  Panel D: bAP amplitude against distance from
the soma (fraction of the somatic amplitude), with the experimental bound.
"""

from __future__ import annotations

import time
from pathlib import Path

import brian2 as b2
import numpy as np
import pandas as pd

import biophys_ltp as bl
from biophys_ltp import experiments as ex
from biophys_ltp.protocol import protocol_from_dict
from biophys_ltp.targets import BANDS

import _common as common

FIGURE = {
    "name": "biophysics",
    "title": "Mg2+ block, spine calcium and backpropagation",
    "paper": "Jahr & Stevens 1990 (doi:10.1523/JNEUROSCI.10-09-03178.1990); Sabatini et al. 2002 "
             "(doi:10.1016/S0896-6273(02)00573-1); Golding et al. 2001 (doi:10.1152/jn.2001.86.6.2998)",
    "panel": "B(V) at 1 mM Mg; spine Ca for EPSP, bAP and pairings; bAP amplitude against distance",
}
NAME = FIGURE["name"]
DATA_FILES = [f"{NAME}_mg.csv", f"{NAME}_ca_traces.csv", f"{NAME}_pairing.csv", f"{NAME}_bap.csv"]
PAIR_OFFSETS_MS = [-50.0, -20.0, -10.0, -5.0, 5.0, 10.0, 20.0, 50.0]
V_GRID_MV = np.arange(-100.0, 40.0 + 1e-9, 2.5)


def inputs_hash() -> str:
    protocols = [protocol_from_dict(ex.biophysics_protocol(dt)) for dt in PAIR_OFFSETS_MS]
    return common.inputs_hash(protocols, {"offsets_ms": PAIR_OFFSETS_MS, "v_grid": V_GRID_MV.tolist()})


def simulate_all() -> dict[str, "bl.Results"]:
    """One 2-s run per pairing offset (each also holds the EPSP alone and the bAP alone)."""
    jobs = {f"{dt:g}": {"protocol": ex.biophysics_protocol(dt), "trace_windows": [("0 s", "1.5 s")]}
            for dt in PAIR_OFFSETS_MS}
    return bl.simulate_many(jobs)


def _window(tr: pd.DataFrame, compartment: str, t0: float) -> pd.DataFrame:
    c = tr[tr.compartment == compartment].sort_values("time_s")
    return c[(c.time_s >= t0 - 0.06) & (c.time_s < t0 + ex.WINDOW)]


def tidy(results: dict[str, "bl.Results"]) -> dict[str, pd.DataFrame]:
    mg = pd.DataFrame({"v_mV": V_GRID_MV, "unblocked_fraction": ex.mg_block(V_GRID_MV * b2.mV)})
    ref = results[f"{10.0:g}"]
    tr = ref.traces
    grid = np.arange(-0.05, 0.2 + 1e-9, 0.0005)
    epsp = _window(tr, "S1_spine", ex.EPSP_AT)
    bap = _window(tr, "S1_spine", ex.PAIR_AT)
    pair = _window(tr, "S2_spine", ex.PAIR_AT)
    traces = pd.DataFrame({
        "time_ms": (grid * 1e3).round(3),
        "ca_epsp_uM": np.interp(grid, epsp.time_s - ex.EPSP_AT, epsp.ca_uM),
        "ca_bap_uM": np.interp(grid, bap.time_s - ex.PAIR_AT, bap.ca_uM),
        "ca_pair_10ms_uM": np.interp(grid, pair.time_s - ex.PAIR_AT, pair.ca_uM),
    })
    rest = float(epsp.ca_uM.iloc[0])
    d_epsp = float(epsp.ca_uM.max()) - rest
    d_bap = float(bap.ca_uM.max()) - rest
    rows = []
    for dt in PAIR_OFFSETS_MS:
        t = results[f"{dt:g}"].traces
        # the pairing protocol puts the EPSP at PAIR_AT and the spike dt later; for negative
        # offsets the spike comes first, so the window starts at the earlier of the two
        p = _window(t, "S2_spine", ex.PAIR_AT + min(dt, 0.0) / 1e3)
        rows.append((dt, float(p.ca_uM.max()) - rest, d_epsp + d_bap))
    pairing = pd.DataFrame(rows, columns=["offset_ms", "ca_peak_increase_uM", "linear_sum_uM"])
    pairing["ratio_to_sum"] = pairing.ca_peak_increase_uM / pairing.linear_sum_uM
    soma = _window(tr, "soma", ex.PAIR_AT)
    soma_amp = float(soma.v_mV.max() - soma.v_mV.iloc[0])
    dists = bl.simulation.trunk_distances(ref.model)
    bap_rows = [(0.0, soma_amp, 1.0)]
    for k, d in enumerate(dists):
        c = _window(tr, f"trunk_{k}", ex.PAIR_AT)
        amp = float(c.v_mV.max() - c.v_mV.iloc[0])
        bap_rows.append((float(d), amp, amp / soma_amp))
    bap_df = pd.DataFrame(bap_rows, columns=["distance_um", "amplitude_mV", "fraction_of_soma"])
    return {"mg": mg.round(6), "ca_traces": traces.round(5), "pairing": pairing.round(5),
            "bap": bap_df.round(5)}


def compute(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    t0 = time.perf_counter()
    results = simulate_all()
    data = tidy(results)
    common.write_tables(data_dir, dict(zip(DATA_FILES, data.values())))
    meta = next(iter(results.values())).metadata
    common.write_sidecar(data_dir, NAME, {
        "figure": FIGURE, "inputs_hash": inputs_hash(), "model_hash": meta["model_hash"],
        "versions": meta["versions"], "pair_offsets_ms": PAIR_OFFSETS_MS,
        "wall_time_s": time.perf_counter() - t0,
        "columns": {"unblocked_fraction": "NMDA conductance left unblocked by 1 mM Mg2+",
                    "ca_*_uM": "free Ca2+ in the spine head (S1: EPSP at 0, bAP; S2: pairing)",
                    "offset_ms": "somatic spike onset minus presynaptic pulse",
                    "ca_peak_increase_uM": "peak spine Ca above rest during the pairing",
                    "linear_sum_uM": "EPSP-alone plus bAP-alone peak increases",
                    "fraction_of_soma": "bAP amplitude (from the local resting potential) / somatic"},
    })
    return data


def load(data_dir: Path = common.DATA_DIR) -> dict[str, pd.DataFrame]:
    return {key: pd.read_csv(data_dir / f) for key, f in zip(("mg", "ca_traces", "pairing", "bap"), DATA_FILES)}


def plot(data_dir: Path = common.DATA_DIR, out_dir: Path = common.FIGURES_DIR) -> list[Path]:
    import matplotlib.pyplot as plt

    common.style()
    d = load(data_dir)
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.0))

    ax = axes[0]
    ax.plot(d["mg"].v_mV, d["mg"].unblocked_fraction, color="black", label="model")
    ax.errorbar([-65, 0], [0.060, 0.78], fmt="s", ms=7, mfc="white", mec="black", label="Jahr & Stevens 1990")
    ax.set(xlabel="membrane potential (mV)", ylabel="unblocked NMDA fraction", title="A  Mg$^{2+}$ block (1 mM)")
    ax.legend(frameon=False, fontsize=8)

    ax = axes[1]
    tr = d["ca_traces"]
    for col, label, color in (("ca_epsp_uM", "EPSP alone", common.PALETTE["WTET"]),
                              ("ca_bap_uM", "bAP alone", common.PALETTE["control (S3)"]),
                              ("ca_pair_10ms_uM", "EPSP, spike 10 ms later", common.PALETTE["STET"])):
        ax.plot(tr.time_ms, tr[col], color=color, label=label)
    ax.set(xlabel="time from the presynaptic pulse (ms)", ylabel="spine Ca$^{2+}$ (uM)",
           title="B  Spine calcium", xlim=(-20, 150))
    ax.legend(frameon=False, fontsize=8)

    ax = axes[2]
    pr = d["pairing"]
    ax.plot(pr.offset_ms, pr.ca_peak_increase_uM, "o-", color=common.PALETTE["STET"], label="pairing")
    ax.axhline(pr.linear_sum_uM.iloc[0], color="0.5", ls="--", label="EPSP alone + bAP alone (peaks)")
    ax.axvline(0, color="0.8", lw=0.8)
    ax.set(xlabel="spike - EPSP offset (ms)", ylabel="peak Ca$^{2+}$ increase (uM)",
           title="C  Pairing: supralinear when the spike follows")
    ax.legend(frameon=False, fontsize=8)

    ax = axes[3]
    bp = d["bap"]
    ax.plot(bp.distance_um, bp.fraction_of_soma, "o-", color="black", label="model")
    band = BANDS["bap_250um"]
    ax.fill_between([0, 280], 0, band.low, color="0.9", lw=0)
    ax.text(140, band.low / 2, "excluded by Golding et al. 2001:\n< 50 % loss within ~280 um",
            ha="center", va="center", fontsize=8)
    ax.set(xlabel="distance from the soma (um)", ylabel="bAP amplitude / somatic", ylim=(0, 1.1),
           title="D  Backpropagating AP along the trunk")
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    fig.tight_layout()
    return common.save(fig, out_dir, NAME)


if __name__ == "__main__":
    compute()
    print("\n".join(map(str, plot())))
