"""The ``biophys-ltp`` command.

Subcommands::

    biophys-ltp run PROTOCOL --out DIR [--model NAME] [--set NAME=VALUE ...]
                    [--seed N] [--reference] [--target cpp_standalone|runtime] [--quiet]
    biophys-ltp model show [NAME] [--set NAME=VALUE ...]
    biophys-ltp model list
    biophys-ltp protocols
    biophys-ltp protocol check FILE...
    biophys-ltp reproduce [NAME ...] [--list] [--recompute] [--check] [--out DIR] [--data DIR]
                          [--figures DIR]
    biophys-ltp sweep PROTOCOL --grid NAME=V1,V2,... [--grid ...] --out DIR [--workers N]
                      [--scheduler ADDRESS] [--model NAME] [--set NAME=VALUE ...]
                      [--outcome-times T1,T2,...] [--retry-failed] [--max-points N] [--quiet]

``--set`` values are strings with units (``--set g_ampa="0.6 nS"``); a
dimensionless value is a bare number (``--set kappa_B=30``).

Invalid input (an unknown parameter, a wrong unit, a broken protocol file)
is reported as one line ``biophys-ltp: error: ...`` on stderr with exit
status 2; ``--debug`` shows the full traceback instead.

Figure scripts
--------------
``reproduce`` runs the scripts ``figures/fig_*.py`` at the top level of the
repository, in file-name order.  Each is imported by path and provides:

``FIGURE``
    ``{"name": ..., "title": ..., "paper": ..., "panel": ...}``.
``compute(data_dir: Path) -> None``
    Runs the simulations and writes the figure's data into ``data_dir``
    (default ``figures/data/``): ``<name>.csv`` (or the files named in an
    optional module-level ``DATA_FILES``, relative to ``data_dir``) and a
    JSON sidecar ``<name>.json``.
``plot(data_dir: Path, out_dir: Path) -> list[Path]``
    Draws from the stored data only and writes PNG (and SVG) files into
    ``out_dir`` (default ``figures/``); returns their paths.
``inputs_hash() -> str`` (optional)
    A digest of everything the data depend on (model, protocols, settings).

Without ``--recompute`` the stored data are reused when the data files and
the sidecar exist and, where the module defines ``inputs_hash``, the
sidecar's ``"inputs_hash"`` equals ``inputs_hash()``; otherwise ``compute``
runs.  After ``compute`` the sidecar gets the ``"inputs_hash"`` key if it
lacks it (and is created if ``compute`` wrote none).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

import numpy as np

from . import __version__, readout
from ._cliargs import PROG, parse_sets
from ._cliargs import error as _error
from .model import DEFAULT_MODEL, ModelError, list_models, load_model
from .protocol import ProtocolError, list_protocols, load_protocol


#: Top level of the repository (the folder holding ``models/``, ``protocols/``, ``figures/``)
#: when the package runs from a source checkout (an editable install).
REPO_DIR = Path(__file__).resolve().parent.parent

#: Folder searched for figure scripts ``fig_*.py`` by default: the checkout's ``figures/``;
#: an installed package (which carries no figures) looks in ``figures/`` of the current folder.
FIGURES_DIR = REPO_DIR / "figures" if (REPO_DIR / "figures").is_dir() else Path("figures")

#: Times after a pathway's first induction reported by ``run`` (minutes, label).
SUMMARY_OFFSETS: tuple[tuple[float, str], ...] = (
    (30.0, "+30 min"),
    (60.0, "+1 h"),
    (180.0, "+3 h"),
    (480.0, "+8 h"),
)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def summary_table(results) -> str:
    """fEPSP (% of baseline) per pathway at fixed times after its first induction.

    Columns ``+30 min``, ``+1 h``, ``+3 h``, ``+8 h`` are shown where at least
    one pathway has a test pulse within half a test interval of that time;
    ``last`` is the last recorded value (the only one for pathways without
    induction).
    """
    proto = results.protocol
    fepsp = results.fepsp
    # a test pulse counts as "at" a time within half a test interval of it
    tol = readout.half_test_interval_min(proto)
    values = {
        pathway: [readout.fepsp_after(proto, fepsp, pathway, off, within_min=tol, without_induction="nan")
                  for off, _ in SUMMARY_OFFSETS]
        for pathway in proto.pathways
    }
    used = [k for k in range(len(SUMMARY_OFFSETS))
            if any(not math.isnan(v[k]) for v in values.values())]
    rows = [["pathway", "induction", *(SUMMARY_OFFSETS[k][1] for k in used), "last"]]
    for pathway in proto.pathways:
        pulses = readout.induction_min(proto, pathway)
        row = [pathway, "none" if pulses is None else f"{round(pulses[0], 2):g} min"]
        for k in used:
            v = values[pathway][k]
            row.append("-" if math.isnan(v) else f"{v:.1f}")
        last_min, last = readout.fepsp_last(fepsp, pathway)
        row.append("-" if math.isnan(last) else f"{last:.1f} ({round(last_min, 1):g} min)")
        rows.append(row)
    head = "fEPSP slope, % of baseline, after each pathway's first induction"
    return head + "\n" + _table(rows)


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    from .simulation import simulate

    params = parse_sets(args.set)
    # Check the inputs before anything is compiled.
    proto = load_protocol(args.protocol)
    load_model(args.model, overrides=params)
    results = simulate(proto, args.model, params=params or None, seed=args.seed,
                       reference=args.reference, target=args.target,
                       progress=not args.quiet)
    out = results.save(args.out)
    print(f"{proto.name}")
    print(summary_table(results))
    wall = results.metadata.get("wall_time_s")
    if wall is not None:
        print(f"wall time: {float(wall):.1f} s")
    print(f"results: {out}")
    return 0


# ---------------------------------------------------------------------------
# model / protocols
# ---------------------------------------------------------------------------

def cmd_model_show(args: argparse.Namespace) -> int:
    model = load_model(args.name, overrides=parse_sets(args.set))
    print(model.show())
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    for name in list_models():
        print(f"{name} (default)" if name == DEFAULT_MODEL else name)
    return 0


def cmd_protocols(args: argparse.Namespace) -> int:
    names = list_protocols()
    if not names:
        print("no protocol files shipped")
        return 0
    width = max(len(n) for n in names)
    for stem in names:
        try:
            title = load_protocol(stem).name
        except ProtocolError as err:
            title = f"(invalid: {' '.join(str(err).split())})"
        print(f"{stem:<{width}}  {title}")
    return 0


def cmd_protocol_check(args: argparse.Namespace) -> int:
    status = 0
    for item in args.files:
        try:
            proto = load_protocol(item)
        except ProtocolError as err:
            _error(err)
            status = 2
        else:
            print(f"OK {proto.source}: {proto.name}")
    return status


# ---------------------------------------------------------------------------
# reproduce
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
        raise ValueError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(mod_name, None)
        raise
    info = getattr(module, "FIGURE", None)
    if not isinstance(info, dict) or not info.get("name"):
        raise ValueError(f"{path}: needs a module-level dict FIGURE with a \"name\"")
    for fn in ("compute", "plot"):
        if not callable(getattr(module, fn, None)):
            raise ValueError(f"{path}: needs a function {fn}()")
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
            raise ValueError(f"{fig.path}: figure name {fig.name!r} is also used by {seen[fig.name]}")
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
        raise ValueError(f"unknown figure{plural} {', '.join(map(repr, unknown))}; known figures: {known}")
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

    from .regression import tolerances
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
            diff = np.abs(new[col].to_numpy(float) - old[col].to_numpy(float))
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
        rows = [["name", "paper", "panel", "title"]]
        rows += [[f.name, str(f.info.get("paper", "")), str(f.info.get("panel", "")),
                  str(f.info.get("title", ""))] for f in selected]
        print(_table(rows))
        return 0
    data_dir = Path(args.data) if args.data else folder / "data"
    if args.check:
        stale = [f.name for f in selected if not f.stored_data_valid(data_dir)]
        for f in selected:
            print(f"{f.name}: {'stale' if f.name in stale else 'current'}")
        if stale:
            print(f"stored data of {', '.join(stale)} do not match the current model, protocols, "
                  f"engine settings or package version: "
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
# Parser and entry point
# ---------------------------------------------------------------------------

def _add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set", action="append", metavar="NAME=VALUE", default=[],
        help='override a model parameter, e.g. --set g_ampa="0.6 nS" (repeatable; '
             "a dimensionless value is a bare number)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Early and late LTP in a compartmental CA1 neuron model (Brian2).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", help="simulate one protocol and save the results",
                       description="Simulate one protocol and save fepsp.csv, state.csv and "
                                   "metadata.json in the output folder.")
    p.add_argument("protocol", metavar="PROTOCOL",
                   help="protocol file, or the name of a shipped protocol (e.g. stet)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--model", default=None, metavar="NAME",
                   help=f"model name or file (default {DEFAULT_MODEL})")
    _add_set(p)
    p.add_argument("--seed", type=int, default=None, metavar="N", help="random seed")
    p.add_argument("--reference", action="store_true",
                   help="integrate every variable at the fine step (no time warping)")
    p.add_argument("--target", choices=("cpp_standalone", "runtime"), default="cpp_standalone",
                   help="Brian2 code generation target (default cpp_standalone)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=cmd_run)

    from ._sweep_cli import add_sweep_parser
    add_sweep_parser(sub)

    p = sub.add_parser("model", help="show or list models")
    msub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    q = msub.add_parser("show", help="print the composed equations and the parameter table")
    q.add_argument("name", nargs="?", default=None, metavar="NAME",
                   help=f"model name or file (default {DEFAULT_MODEL})")
    _add_set(q)
    q.set_defaults(func=cmd_model_show)
    q = msub.add_parser("list", help="list the shipped models")
    q.set_defaults(func=cmd_model_list)

    p = sub.add_parser("protocols", help="list the shipped protocols")
    p.set_defaults(func=cmd_protocols)

    p = sub.add_parser("protocol", help="check protocol files")
    psub = p.add_subparsers(dest="protocol_command", metavar="ACTION", required=True)
    q = psub.add_parser("check", help="validate protocol files")
    q.add_argument("files", nargs="+", metavar="FILE")
    q.set_defaults(func=cmd_protocol_check)

    p = sub.add_parser("reproduce", help="compute and draw the paper figures",
                       description="Run the figure scripts figures/fig_*.py: compute their data "
                                   "(unless stored data are current) and draw them.")
    p.add_argument("names", nargs="*", metavar="NAME", help="figures to reproduce (default: all)")
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    p.add_argument("--recompute", action="store_true", help="recompute the data even if stored")
    p.add_argument("--check", action="store_true",
                   help="only say whether each figure's stored data are current (exit status 1 if any "
                        "are not); nothing is computed or drawn")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="folder for the figure files (default: the figure scripts' folder)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="folder for the figure data (default: data/ in the figure scripts' folder)")
    p.add_argument("--figures", default=None, metavar="DIR",
                   help="folder of the figure scripts fig_*.py (default: the repository's figures/ "
                        "when running from a clone, else figures/ in the current folder)")
    p.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``biophys-ltp``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return int(args.func(args) or 0)
    except (ModelError, ProtocolError, ValueError) as err:
        if args.debug:
            raise
        _error(err)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # output piped into a command that stopped reading (e.g. head)
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except Exception as err:
        from .simulation import SimulationError

        if isinstance(err, SimulationError) and not args.debug:
            _error(err)
            return 1
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
