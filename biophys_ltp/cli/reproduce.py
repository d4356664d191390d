"""``biophys-ltp reproduce``: the figure scripts, their stored data and the hashes that say
whether the data are current (conventions: :mod:`biophys_ltp.cli`)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from .args import PROG
from .args import table



#: Top level of the repository (the folder holding ``models/``, ``protocols/``, ``figures/``)
#: when the package runs from a source checkout (an editable install).
REPO_DIR = Path(__file__).resolve().parent.parent.parent

#: Folder searched for figure scripts ``fig_*.py`` by default: the checkout's ``figures/``;
#: an installed package (which carries no figures) looks in ``figures/`` of the current folder.
FIGURES_DIR = REPO_DIR / "figures" if (REPO_DIR / "figures").is_dir() else Path("figures")

# ---------------------------------------------------------------------------

@dataclass
class FigureScript:
    """One figure script ``figures/fig_*.py``."""

    path: Path
    module: ModuleType

    @property
    def info(self) -> dict[str, Any]:
        return self.module.FIGURE

    @property
    def name(self) -> str:
        return str(self.info["name"])

    def data_files(self, data_dir: Path) -> list[Path]:
        names = getattr(self.module, "DATA_FILES", None) or [f"{self.name}.csv"]
        return [data_dir / n for n in names]

    def sidecar(self, data_dir: Path) -> Path:
        return data_dir / f"{self.name}.json"

    def inputs_hash(self) -> str | None:
        fn = getattr(self.module, "inputs_hash", None)
        return None if fn is None else str(fn())

    def stored_data_valid(self, data_dir: Path) -> bool:
        """Data files and sidecar exist and the sidecar's inputs hash is current."""
        sidecar = self.sidecar(data_dir)
        if not sidecar.is_file() or not all(p.is_file() for p in self.data_files(data_dir)):
            return False
        expected = self.inputs_hash()
        if expected is None:
            return True
        try:
            stored = json.loads(sidecar.read_text()).get("inputs_hash")
        except (OSError, ValueError, AttributeError):
            return False
        return stored == expected


def _load_figure(path: Path) -> FigureScript:
    mod_name = f"_biophys_ltp_figure_{path.stem}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(mod_name, None)
        raise
    info = getattr(module, "FIGURE", None)
    if not isinstance(info, dict) or not info.get("name"):
        raise InputError(f"{path}: needs a module-level dict FIGURE with a \"name\"")
    for fn in ("compute", "plot"):
        if not callable(getattr(module, fn, None)):
            raise InputError(f"{path}: needs a function {fn}()")
    return FigureScript(path, module)


def discover_figures(figures_dir: Path | None = None) -> list[FigureScript]:
    """Figure scripts ``fig_*.py`` in ``figures_dir`` (default :data:`FIGURES_DIR`), by file name."""
    folder = Path(figures_dir) if figures_dir is not None else FIGURES_DIR
    if not folder.is_dir():
        return []
    paths = sorted(folder.glob("fig_*.py"))
    if paths and str(folder) not in sys.path:
        sys.path.insert(0, str(folder))  # figure scripts may share helper modules
    figures = [_load_figure(p) for p in paths]
    seen: dict[str, Path] = {}
    for fig in figures:
        if fig.name in seen:
            raise InputError(f"{fig.path}: figure name {fig.name!r} is also used by {seen[fig.name]}")
        seen[fig.name] = fig.path
    return figures


def _select(figures: list[FigureScript], names: Sequence[str], folder: Path) -> list[FigureScript]:
    if not names:
        return figures
    chosen: list[FigureScript] = []
    unknown = []
    for name in names:
        match = [f for f in figures
                 if name in (f.name, f.path.stem, f.path.stem.removeprefix("fig_"), f.path.name)]
        if not match:
            unknown.append(name)
        for f in match:
            if f not in chosen:
                chosen.append(f)
    if unknown:
        known = ", ".join(f.name for f in figures) or f"none (no fig_*.py in {folder})"
        plural = "s" if len(unknown) > 1 else ""
        raise InputError(f"unknown figure{plural} {', '.join(map(repr, unknown))}; known figures: {known}")
    return chosen


def _finish_sidecar(fig: FigureScript, data_dir: Path, inputs_hash: str | None) -> None:
    sidecar = fig.sidecar(data_dir)
    try:
        meta = json.loads(sidecar.read_text()) if sidecar.is_file() else None
    except ValueError:
        meta = None
    if isinstance(meta, dict) and "inputs_hash" in meta:
        return
    if meta is None or not isinstance(meta, dict):
        meta = {"figure": fig.name, "title": fig.info.get("title", "")}
    meta["inputs_hash"] = inputs_hash
    sidecar.write_text(json.dumps(meta, indent=2) + "\n")


def _read_tables(paths: list[Path]) -> dict[str, Any]:
    import pandas as pd
    out = {}
    for p in paths:
        if p.suffix == ".csv" and p.is_file():
            try:
                out[p.name] = pd.read_csv(p)
            except (OSError, ValueError):
                pass
    return out


def _what_moved(figure: str, before: dict[str, Any], after: dict[str, Any], folder: Path) -> list[str]:
    """One line per data file: how far each numeric column moved from the stored data
    (largest change, and how many rows moved by more than the figure's tolerance, from
    ``folder``'s tolerances.toml)."""
    from pandas.api.types import is_numeric_dtype

    from ..regression import tolerances
    try:
        tol = tolerances(figure, folder / "tolerances.toml")
    except (KeyError, FileNotFoundError):
        tol = {}
    lines = []
    for name, new in after.items():
        old = before.get(name)
        if old is None:
            lines.append(f"{name}: new file ({len(new)} rows)")
            continue
        if list(old.columns) != list(new.columns) or len(old) != len(new):
            lines.append(f"{name}: layout changed ({len(old)} -> {len(new)} rows, "
                         f"columns {list(old.columns)} -> {list(new.columns)})")
            continue
        moved = []
        for col in new.columns:
            if not (is_numeric_dtype(new[col]) and is_numeric_dtype(old[col])):
                continue
            a, b = new[col].to_numpy(float), old[col].to_numpy(float)
            with np.errstate(invalid="ignore"):  # equal infinities (open band ends) have not moved
                diff = np.where(a == b, 0.0, np.abs(a - b))
            if not np.nanmax(diff, initial=0.0) > 0:
                continue
            text = f"{col} max |change| {np.nanmax(diff):.4g}"
            if col in tol:
                bound = tol[col].abs + tol[col].rel * np.abs(old[col].to_numpy(float))
                text += f" ({int(np.sum(diff > bound))} of {len(diff)} rows beyond tolerance)"
            moved.append(text)
        lines.append(f"{name}: " + ("; ".join(moved) if moved else "unchanged"))
    return lines


def cmd_reproduce(args: argparse.Namespace) -> int:
    folder = Path(args.figures) if args.figures else FIGURES_DIR
    figures = discover_figures(folder)
    if not figures and not args.names:
        print(f"no figure scripts found (looked for fig_*.py in {folder.resolve()}); nothing to reproduce. "
              f"The figure scripts and their stored data are in the repository's figures/ folder: "
              f"run from a clone's top folder or pass --figures DIR")
        return 0
    selected = _select(figures, args.names, folder)
    if args.list:
        # a block per figure, wrapped: the papers and panels are too long for one row each
        for f in selected:
            print(textwrap.fill(f"{f.name}: {f.info.get('title', '')}", width=100, subsequent_indent="    ",
                                break_on_hyphens=False, break_long_words=False))
            for key in ("paper", "panel"):
                if f.info.get(key):
                    print(textwrap.fill(str(f.info[key]), width=100, initial_indent=f"    {key}: ",
                                        subsequent_indent=" " * (6 + len(key)),
                                        break_on_hyphens=False, break_long_words=False))
        return 0
    data_dir = Path(args.data) if args.data else folder / "data"
    if args.check:
        stale = [f.name for f in selected if not f.stored_data_valid(data_dir)]
        for f in selected:
            print(f"{f.name}: {'stale' if f.name in stale else 'current'}")
        if stale:
            print(f"stored data of {', '.join(stale)} do not match the current model, protocols, "
                  f"engine settings, package version or the code that computes them: "
                  f"run '{PROG} reproduce --recompute {' '.join(stale)}'", file=sys.stderr)
            return 1
        return 0
    os.environ.setdefault("MPLBACKEND", "Agg")
    out_dir = Path(args.out) if args.out else folder
    data_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    for fig in selected:
        if not args.recompute and fig.stored_data_valid(data_dir):
            print(f"reusing stored data for {fig.name}")
        else:
            print(f"computing data for {fig.name} ...", flush=True)
            h = fig.inputs_hash()
            t0 = time.perf_counter()
            before = _read_tables(fig.data_files(data_dir))
            fig.module.compute(data_dir)
            _finish_sidecar(fig, data_dir, h)
            missing = [str(p) for p in fig.data_files(data_dir) if not p.is_file()]
            if missing:
                print(f"warning: {fig.name}: compute() did not write {', '.join(missing)}",
                      file=sys.stderr)
            print(f"computed {fig.name} in {time.perf_counter() - t0:.0f} s")
            for line in _what_moved(fig.name, before, _read_tables(fig.data_files(data_dir)), folder):
                print(f"  {line}")
        written = fig.module.plot(data_dir, out_dir) or []
        for path in written:
            print(f"wrote {path}")
    return 0


# ---------------------------------------------------------------------------
