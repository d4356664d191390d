"""The ``biophys-ltp`` command.

Subcommands::

    biophys-ltp run PROTOCOL --out DIR [--model NAME] [--set NAME=VALUE ...]
                    [--seed N] [--reference] [--target cpp_standalone|runtime] [--quiet]
    biophys-ltp model show [NAME] [--set NAME=VALUE ...]
    biophys-ltp model list
    biophys-ltp protocols
    biophys-ltp protocol check FILE... [--model NAME] [--set NAME=VALUE ...] [--reference]
    biophys-ltp reproduce [NAME ...] [--list] [--recompute] [--check] [--out DIR] [--data DIR]
                          [--figures DIR]
    biophys-ltp sweep PROTOCOL --grid NAME=V1,V2,... [--grid ...] --out DIR [--workers N]
                      [--scheduler ADDRESS] [--model NAME] [--set NAME=VALUE ...]
                      [--outcome-times T1,T2,...] [--retry-failed] [--max-points N] [--quiet]
    biophys-ltp sensitivity --out DIR [--trajectories N] [--levels L] [--seed S] [--params A,B,...]
                            [--outcomes X,Y,...] [--range NAME=LOW,HIGH ...] [--model NAME]
                            [--workers N] [--scheduler ADDRESS] [--quick] [--margins] [--quiet]
    biophys-ltp fit --params A,B,...|slow --out DIR [--outcomes A,B,...] [--perturb P] [--seed N]
                    [--popsize N] [--generations N] [--workers N] [--scheduler ADDRESS] [--model NAME]
                    [--start NAME=VALUE ...] [--bound NAME=LOW,HIGH ...] [--sigma0 X] [--quiet]
    biophys-ltp validate [NAME ...] [--list] [--model NAME] [--workers N] [--strict] [--quiet]

``--set`` values are strings with units (``--set g_ampa="0.6 nS"``); a
dimensionless value is a bare number (``--set kappa_B=30``).

Invalid input (an unknown parameter, a wrong unit, a broken protocol file, a
protocol the model's fine step or the engine cannot carry) is reported as one
line ``biophys-ltp: error: ...`` on stderr with exit status 2; a problem of the
machine (no compiler, a full disk, a time limit) or a failed run as one line
with exit status 1.  Anything else is a bug: the command says so, writes the
traceback to a log file (``logs/`` in the build cache) and names it; exit
status 3.  ``--debug`` shows the full traceback instead.

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
import errno
import os
import sys
from pathlib import Path
from typing import Sequence

from .._version import __version__
from .args import PROG, parse_sets
from .args import error as _error
from .commands import (SUMMARY_OFFSETS, cmd_model_list, cmd_model_show, cmd_protocol_check, cmd_protocols,
                       cmd_run, summary_table)
from .reproduce import FIGURES_DIR, REPO_DIR, cmd_reproduce, discover_figures

__all__ = ["FIGURES_DIR", "REPO_DIR", "SUMMARY_OFFSETS", "build_parser", "discover_figures", "main", "parse_sets",
           "summary_table"]
from ..errors import BiophysLTPError, InputError
from ..model import DEFAULT_MODEL



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

    from .sweep import add_sweep_parser
    add_sweep_parser(sub)
    from .sensitivity import add_sensitivity_parser
    add_sensitivity_parser(sub)
    from .fit import add_fit_parser
    add_fit_parser(sub)

    from .validate import add_validate_parser
    add_validate_parser(sub)

    p = sub.add_parser("model", help="show or list models")
    msub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    q = msub.add_parser("show", help="print the composed equations and the parameter table")
    q.add_argument("name", nargs="?", default=None, metavar="NAME",
                   help=f"model name or file (default {DEFAULT_MODEL})")
    q.add_argument("--model", dest="model_option", default=None, metavar="NAME",
                   help="the same, as run and protocol check take it")
    _add_set(q)
    q.set_defaults(func=cmd_model_show)
    q = msub.add_parser("list", help="list the shipped models")
    q.set_defaults(func=cmd_model_list)

    p = sub.add_parser("protocols", help="list the shipped protocols")
    p.set_defaults(func=cmd_protocols)

    p = sub.add_parser("protocol", help="check protocol files")
    psub = p.add_subparsers(dest="protocol_command", metavar="ACTION", required=True)
    q = psub.add_parser("check", help="validate protocol files",
                        description="Check protocol files as `run` would: their content, then what the model's "
                                    "fine step and the engine can carry (nothing is simulated).")
    q.add_argument("files", nargs="+", metavar="FILE")
    q.add_argument("--model", default=None, metavar="NAME",
                   help=f"model name or file whose fine step the protocols are checked against (default {DEFAULT_MODEL})")
    _add_set(q)
    q.add_argument("--reference", action="store_true", help="check the fixed-step reference schedule")
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
    except InputError as err:
        if args.debug:
            raise
        _error(err)
        return 2
    except BiophysLTPError as err:  # the machine (SetupError), a failed run, a missing result
        if args.debug:
            raise
        _error(err)
        return 1
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
        if args.debug:
            raise
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            _error(f"no space left on the disk ({err}); free some space or point BIOPHYS_LTP_CACHE and "
                   f"--out at a disk with room")
            return 1
        if isinstance(err, OSError) and err.filename is not None:  # a folder or file of the user's
            _error(f"cannot use {err.filename}: {err.strerror or err}")
            return 1
        log = _internal_error_log(argv)
        _error(f"internal error ({type(err).__name__}: {err}): this is a bug in {PROG}, not a problem with your "
               f"input; the traceback is in {log}")
        return 3


def _internal_error_log(argv: Sequence[str] | None) -> str:
    """Write the current exception's traceback, the command line and the versions to a log
    file in the build cache (else the temporary folder); its path."""
    import platform
    import tempfile
    import time
    import traceback

    text = (f"{PROG} {__version__}, Python {platform.python_version()} on {platform.platform()}\n"
            f"command: {PROG} {' '.join(sys.argv[1:] if argv is None else argv)}\n\n{traceback.format_exc()}")
    name = f"error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    from ..engine import cache_dir
    for folder in (cache_dir() / "logs", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
            return str(folder / name)
        except OSError:
            continue
    print(text, file=sys.stderr)
    return "the output above"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
