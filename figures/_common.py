"""Shared helpers of the figure scripts: one style, saving, and input hashes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

import biophys_ltp as bl  # noqa: E402

FIGURES_DIR = Path(__file__).resolve().parent
DATA_DIR = FIGURES_DIR / "data"

PALETTE = {
    "WTET": "#4C72B0",
    "STET": "#C44E52",
    "STET + anisomycin": "#DD8452",
    "control (S3)": "#8C8C8C",
    "experiment": "black",
}


def style() -> None:
    sns.set_theme(context="paper", style="ticks", font_scale=1.1)
    plt.rcParams.update({"axes.spines.top": False, "axes.spines.right": False,
                         "figure.dpi": 110, "savefig.dpi": 150})


def save(fig, out_dir: Path, name: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.svg"]
    for p in paths:
        fig.savefig(p, bbox_inches="tight")
    plt.close(fig)
    return paths


def inputs_hash(protocols: Iterable[Any], extra: dict | None = None) -> str:
    """Digest of what a figure's data depend on: model, protocols, package version."""
    model = bl.load_model()
    payload = {
        "model": model.model_hash(),
        "protocols": [bl.load_protocol(p).to_dict() for p in protocols],
        "version": bl.__version__,
        "extra": extra or {},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_sidecar(data_dir: Path, name: str, info: dict) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / f"{name}.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
