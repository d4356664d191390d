"""Compare recomputed figure data with the stored data, with tolerances from one file.

``figures/tolerances.toml`` holds, per figure and column, an absolute and a relative
tolerance and the reason for them.  :func:`compare` returns a readable report of every
row and column that moved by more than its tolerance.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TOLERANCES_FILE = Path(__file__).resolve().parent.parent / "figures" / "tolerances.toml"


@dataclass(frozen=True)
class Tolerance:
    abs: float
    rel: float
    reason: str


def tolerances(figure: str, path: Path = TOLERANCES_FILE) -> dict[str, Tolerance]:
    with open(path, "rb") as f:
        table = tomllib.load(f).get(figure, {})
    if not table:
        raise KeyError(f"no tolerances for figure {figure!r} in {path}")
    return {col: Tolerance(float(t["abs"]), float(t["rel"]), t["reason"]) for col, t in table.items()}


def compare(figure: str, stored: pd.DataFrame, new: pd.DataFrame, keys: list[str],
            tol: dict[str, Tolerance] | None = None) -> list[str]:
    """Problems found comparing ``new`` with ``stored`` (empty list: they agree)."""
    tol = tol if tol is not None else tolerances(figure)
    problems: list[str] = []
    merged = stored.merge(new, on=keys, how="outer", suffixes=("_stored", "_new"), indicator=True)
    missing = merged[merged._merge != "both"]
    if len(missing):
        problems.append(f"{figure}: {len(missing)} rows present in only one of stored/new, e.g.\n"
                        f"{missing[keys + ['_merge']].head().to_string(index=False)}")
    both = merged[merged._merge == "both"]
    for col, t in tol.items():
        if f"{col}_stored" not in both:
            continue
        s, r = both[f"{col}_stored"].to_numpy(float), both[f"{col}_new"].to_numpy(float)
        bound = t.abs + t.rel * np.abs(s)
        bad = ~(np.abs(r - s) <= bound)
        if bad.any():
            rows = both.loc[bad, keys].assign(stored=s[bad], new=r[bad], diff=(r - s)[bad])
            problems.append(
                f"{figure}.{col}: {int(bad.sum())} of {len(s)} rows differ by more than "
                f"{t.abs} + {t.rel}*|stored| (max |diff| {np.max(np.abs(r - s)[bad]):.4g}; {t.reason}):\n"
                + rows.head(8).to_string(index=False))
    return problems
