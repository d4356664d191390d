"""Compare two result folders of the smoke protocol (``biophys-ltp run protocols/smoke.toml``):
the default interpreter's and the newest Python's (``.ci/run``, step 5).

Both runs must have the same files, columns, pathways and number of rows per pathway;
every numeric column of ``fepsp.csv`` and ``state.csv`` must agree within the tolerances
of the ``[smoke]`` section of ``figures/tolerances.toml`` (``smoke.<column>``, or
``smoke.state`` for a state column without an entry of its own).  Rows are matched by
pathway and position (the n-th row of a pathway in each file), so that ``time_min`` is
compared as a value, within its tolerance, not used as a key.

Prints the largest difference of every column; exits with status 1 and a message naming
the file and column when the runs do not agree, 2 when a folder cannot be read.

    .venv/bin/python .ci/compare_smoke.py out/smoke-default out/smoke-newest
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from biophys_ltp.regression import Tolerance, compare, tolerances

ROOT = Path(__file__).resolve().parent.parent
SECTION = "smoke"
FILES = ("fepsp.csv", "state.csv")
KEYS = ["pathway", "row"]


def _read(folder: Path, name: str) -> pd.DataFrame:
    path = folder / name
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise SystemExit(f"compare_smoke: cannot read {path}: {err}") from err
    if "pathway" not in table:
        raise SystemExit(f"compare_smoke: {path} has no pathway column")
    table = table.copy()
    table["row"] = table.groupby("pathway", sort=False).cumcount()
    return table.sort_values(KEYS, kind="stable").reset_index(drop=True)


def _layout_problems(name: str, a: pd.DataFrame, b: pd.DataFrame, labels: tuple[str, str]) -> list[str]:
    """Differences of columns, pathways and rows per pathway (the values are compared after)."""
    problems = []
    if list(a.columns) != list(b.columns):
        problems.append(f"{name}: columns differ: {labels[0]} {list(a.columns)}, {labels[1]} {list(b.columns)}")
    pa, pb = list(dict.fromkeys(a.pathway)), list(dict.fromkeys(b.pathway))
    if pa != pb:
        problems.append(f"{name}: pathways differ: {labels[0]} {pa}, {labels[1]} {pb}")
    ca, cb = a.pathway.value_counts().to_dict(), b.pathway.value_counts().to_dict()
    if ca != cb:
        problems.append(f"{name}: rows per pathway differ: {labels[0]} {ca}, {labels[1]} {cb}")
    return problems


def _column_tolerances(name: str, columns: list[str], table: dict[str, Tolerance]) -> dict[str, Tolerance]:
    out = {}
    for col in columns:
        if col in table:
            out[col] = table[col]
        elif name == "state.csv" and "state" in table:
            out[col] = table["state"]
        else:
            raise SystemExit(f"compare_smoke: no tolerance for {name} column {col!r}: add [{SECTION}.{col}] "
                             f"to figures/tolerances.toml")
    return out


def _largest_differences(name: str, a: pd.DataFrame, b: pd.DataFrame, tol: dict[str, Tolerance]) -> list[str]:
    both = a.merge(b, on=KEYS, suffixes=("_a", "_b"))
    lines = []
    for col, t in tol.items():
        x, y = both[f"{col}_a"].to_numpy(float), both[f"{col}_b"].to_numpy(float)
        diff = np.abs(y - x)
        diff[np.isnan(x) & np.isnan(y)] = 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(diff > 0, diff / np.abs(x), 0.0)
        lines.append(f"  {name} {col:24s} max |diff| {np.nanmax(diff, initial=0.0):.3g}"
                     f"  max rel {np.nanmax(rel, initial=0.0):.3g}"
                     f"  (tolerance {t.abs:g} + {t.rel:g}*|value|)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", type=Path, help="result folder of one run (the default interpreter's)")
    parser.add_argument("second", type=Path, help="result folder of the other run (the newest Python's)")
    parser.add_argument("--tolerances", type=Path, default=ROOT / "figures" / "tolerances.toml",
                        help="tolerances file (default: figures/tolerances.toml, section [smoke])")
    args = parser.parse_args(argv)
    labels = (str(args.first), str(args.second))
    try:
        table = tolerances(SECTION, args.tolerances)
    except (KeyError, OSError) as err:
        print(f"compare_smoke: {err}", file=sys.stderr)
        return 2
    problems: list[str] = []
    for name in FILES:
        try:
            a, b = _read(args.first, name), _read(args.second, name)
        except SystemExit as err:
            print(err, file=sys.stderr)
            return 2
        layout = _layout_problems(name, a, b, labels)
        problems += layout
        if layout:
            continue
        numeric = [c for c in a.columns if c not in KEYS and is_numeric_dtype(a[c]) and is_numeric_dtype(b[c])]
        other = [c for c in a.columns if c not in KEYS and c not in numeric]
        for col in other:
            if not a[col].astype(str).equals(b[col].astype(str)):
                problems.append(f"{name}: column {col!r} differs")
        tol = _column_tolerances(name, numeric, table)
        print("\n".join(_largest_differences(name, a, b, tol)))
        # a value missing (NaN) in both runs agrees; compare() counts NaN as a difference
        # (same layout, both sorted by KEYS: the rows correspond one to one)
        for col in numeric:
            gone = a[col].isna().to_numpy() & b[col].isna().to_numpy()
            a.loc[gone, col] = b.loc[gone, col] = 0.0
        problems += compare(f"{SECTION} {name}", a, b, KEYS, tol)
    if problems:
        print(f"\nsmoke runs disagree ({labels[0]} vs {labels[1]}):\n\n" + "\n\n".join(problems), file=sys.stderr)
        return 1
    print(f"smoke runs agree within the [{SECTION}] tolerances ({labels[0]} vs {labels[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
