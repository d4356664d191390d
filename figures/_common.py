"""Shared helpers of the figure scripts: one style, saving, and input hashes."""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

import brian2 as b2  # noqa: E402

import biophys_ltp as bl  # noqa: E402

FIGURES_DIR = Path(__file__).resolve().parent
DATA_DIR = FIGURES_DIR / "data"

PALETTE = {
    "WTET": "#4C72B0",
    "STET": "#C44E52",
    "STET + anisomycin": "#DD8452",
    "control (S3)": "#8C8C8C",
    "experiment": "black",
    "WLFS": "#64B5CD",
    "SLFS": "#8172B3",
    "S1": "#C44E52",
    "S2": "#4C72B0",
    "S3": "#8C8C8C",
    "anisomycin": "#DD8452",
}


def style() -> None:
    sns.set_theme(context="paper", style="ticks", font_scale=1.1)
    plt.rcParams.update({"axes.spines.top": False, "axes.spines.right": False,
                         "figure.dpi": 110, "savefig.dpi": 150,
                         # the same SVG for the same figure: fixed ids instead of random ones
                         "svg.hashsalt": "biophys-ltp"})


def save(fig, out_dir: Path, name: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.svg"]
    for p in paths:
        # no date in the files, so that redrawing an unchanged figure leaves them unchanged
        fig.savefig(p, bbox_inches="tight", metadata={"Date": None} if p.suffix == ".svg" else None)
    plt.close(fig)
    return paths


def inputs_hash(protocols: Iterable[Any], extra: dict | None = None, script: str | Path | None = None) -> str:
    """Digest of what a figure's data depend on: model, protocols, the engine's schedule
    settings and measurement windows, package version, and the code that computes them
    (the package's, :func:`biophys_ltp.provenance.code_digest`; the figure script's and
    this module's, each in its normalised form, so comments and docstrings do not count).

    ``script`` is the figure script; by default the file of the module that calls this
    function (each ``fig_*.py`` calls it from its own ``inputs_hash``)."""
    from biophys_ltp import engine, provenance, schedule

    if script is None:
        # the module that called this function: its __file__ (None in an interactive session)
        frame = inspect.currentframe()
        caller = frame.f_back if frame is not None else None
        script = caller.f_globals.get("__file__") if caller is not None else None
        del frame, caller
    model = bl.load_model()
    payload = {
        "model": model.model_hash(),
        "schedule": schedule.ScheduleSettings().as_dict(),
        "measurement": engine.measurement_settings(),
        # the protocols' content, not where the files are (a fresh clone elsewhere has the same)
        "protocols": [{k: v for k, v in bl.load_protocol(p).to_dict().items() if k != "source"}
                      for p in protocols],
        "version": bl.__version__,
        "code": {
            "package": provenance.code_digest(),
            # by content, not by name or place: a moved or renamed script keeps its data
            "script": provenance.file_digest(script) if script is not None else None,
            "common": provenance.file_digest(__file__),
        },
        "extra": extra or {},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_tables(data_dir: Path, tables: Mapping[str, pd.DataFrame]) -> None:
    """Write a figure's tables (file name -> table, rounded by the caller) into ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for fname, table in tables.items():
        table.to_csv(data_dir / fname, index=False)


def write_sidecar(data_dir: Path, name: str, info: dict) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / f"{name}.json").write_text(json.dumps(info, indent=2, default=str) + "\n")


def broken_line(f: pd.DataFrame, step_min: float) -> tuple[np.ndarray, np.ndarray]:
    """Time (min) and fEPSP of a run's rows with a gap (NaN) wherever test pulses were left
    out (during an induction), so that no straight line is drawn across it."""
    t, y = f.time_min.to_numpy(float), f.fepsp_pct.to_numpy(float)
    cut = np.flatnonzero(np.diff(t) > 1.5 * step_min) + 1
    return np.insert(t, cut, np.nan), np.insert(y, cut, np.nan)


def run_label(key: Any) -> str:
    """A run's key as the sidecar names it (tuples joined by spaces)."""
    return " ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def run_sidecar(figure: Mapping[str, Any], inputs: str, results: Mapping[Any, "bl.Results"], t0: float,
                columns: Mapping[str, str], **extra: Any) -> dict:
    """A figure's sidecar: what its data were computed with (inputs hash, model hash,
    versions, the protocol of every run), ``extra`` entries, the wall time since ``t0``
    (``time.perf_counter()``) and the meaning of its columns."""
    meta = next(iter(results.values())).metadata
    return {"figure": dict(figure), "inputs_hash": inputs, "model_hash": meta["model_hash"],
            "versions": meta["versions"],
            "protocols": {run_label(key): res.protocol.name for key, res in results.items()},
            **extra, "wall_time_s": time.perf_counter() - t0, "columns": dict(columns)}


def simulate_protocols(protocols: Mapping[str, str], **kwargs: Any) -> dict[str, "bl.Results"]:
    """Run a figure's protocols (label -> protocol name) in parallel worker processes."""
    return bl.simulate_many({label: dict(protocol=name, **kwargs) for label, name in protocols.items()})


def induction_min(res: "bl.Results", pathway: str) -> tuple[float, float]:
    """(first, last) induction pulse of ``pathway`` in minutes from the protocol start."""
    return res.induction_min(pathway)


def fepsp_table(results: Mapping[str, "bl.Results"], pathways: Iterable[str]) -> pd.DataFrame:
    """Tidy fEPSP rows (protocol, pathway, time_min, fepsp_pct) of the given pathways."""
    rows = []
    pathways = list(pathways)
    for label, res in results.items():
        f = res.fepsp[res.fepsp.pathway.isin(pathways)][["time_min", "pathway", "fepsp_pct"]].copy()
        f["time_min"] = f.time_min.round(4)  # the key of the stored rows
        f.insert(0, "protocol", label)
        rows.append(f)
    return pd.concat(rows, ignore_index=True)


def state_table(results: Mapping[str, "bl.Results"], pathways: Iterable[str], columns: Iterable[str],
                step_min: float = 5.0) -> pd.DataFrame:
    """Slow state of the given pathways on a regular grid (protocol, pathway, time_min, ...)."""
    rows = []
    columns = list(columns)
    for label, res in results.items():
        duration_min = float(res.protocol.duration / b2.second) / 60
        grid = np.arange(0.0, duration_min + 1e-9, step_min)
        for pathway in pathways:
            raw = res.state[res.state.pathway == pathway]
            s = pd.DataFrame({"protocol": label, "pathway": pathway, "time_min": grid})
            for col in columns:
                s[col] = np.interp(grid, raw.time_min, raw[col])
            rows.append(s)
    return pd.concat(rows, ignore_index=True)


# --- two-pathway figures (tagging, ltd_crosstag): the same tidy data and files ---------

TWO_PATHWAY_STATE = ["early_weight", "late_weight", "tag", "proteins"]
TWO_PATHWAY_COLUMNS = {
    "time_min": "minutes from the start of the protocol",
    "fepsp_pct": "fEPSP: the pathway's synaptic current at the test pulse, % of the baseline mean",
    "early_weight": "early change of AMPA receptors (fraction of baseline)",
    "late_weight": "consolidated change (fraction of baseline)",
    "tag": "mean tag of the pathway's synapses (0-1)",
    "proteins": "PRP level at the dendrites (0-1)",
}


def two_pathway_files(name: str) -> list[str]:
    return [f"{name}.csv", f"{name}_state.csv"]


def two_pathway_tidy(results: Mapping[str, "bl.Results"]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """fEPSP of S1-S3 and the slow state of S1 and S2 (5-min grid) for every run."""
    return (fepsp_table(results, ("S1", "S2", "S3")),
            state_table(results, ("S1", "S2"), TWO_PATHWAY_STATE).round(6))


def two_pathway_compute(figure: Mapping[str, Any], protocols: Mapping[str, str], inputs: str,
                        data_dir: Path) -> dict[str, pd.DataFrame]:
    """Simulate a two-pathway figure's protocols, write its data and sidecar."""
    t0 = time.perf_counter()
    results = simulate_protocols(protocols)
    fepsp, state = two_pathway_tidy(results)
    files = two_pathway_files(figure["name"])
    write_tables(data_dir, {files[0]: fepsp.round(4), files[1]: state})
    meta = next(iter(results.values())).metadata
    write_sidecar(data_dir, figure["name"], {
        "figure": dict(figure), "inputs_hash": inputs, "model_hash": meta["model_hash"],
        "versions": meta["versions"], "protocols": dict(protocols),
        "inductions_min": {label: {p: induction_min(res, p) for p in ("S1", "S2")
                                   if len(res.protocol.induction_pulses()[p])}
                           for label, res in results.items()},
        "wall_time_s": time.perf_counter() - t0,
        "columns": TWO_PATHWAY_COLUMNS,
    })
    return {"fepsp": fepsp, "state": state}


def two_pathway_load(name: str, data_dir: Path) -> dict[str, pd.DataFrame]:
    return {key: pd.read_csv(data_dir / f) for key, f in zip(("fepsp", "state"), two_pathway_files(name))}
