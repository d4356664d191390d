"""``biophys-ltp sweep``: the command-line side of :mod:`biophys_ltp.sweep`.

The command costs one ``add_sweep_parser(sub)`` call in :func:`biophys_ltp.cli.build_parser`;
the sweep package is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings

from ..errors import InputError
from .args import PROG

SWEEP_HELP = "run one protocol over a grid of parameter values (resumable)"

SWEEP_DESCRIPTION = """\
Run PROTOCOL at every combination of the --grid values and record each point in
DIR as soon as it finishes: DIR/points.csv (one row per point: its values, status,
the fEPSP of each pathway 1 h, 3 h and 8 h after its first induction, or after
the start for a pathway without induction, and the last one), DIR/timecourse.csv
(every test pulse of every point) and DIR/points/<id>/ (each point's own results).
Running the same command again skips the points already recorded, so an
interrupted sweep resumes where it stopped; a failed point is recorded with its
error and the sweep goes on.  Exit status: 0, or 1 when some point failed."""

GRID_HELP = """\
NAME=V1,V2,...: values with units (tau_z=15min,30min; g_ampa=0.5nS,0.6nS; a
dimensionless value is a bare number).  NAME is a model parameter ('biophys-ltp
model show'), a protocol event's key events[i].KEY with i counted from 0 (times:
at, every, dt, start, stop; frequencies: frequency, burst_frequency,
spike_frequency; counts: pulses, repeats, burst_pulses, pairs, spikes), or
protocol.duration, protocol.baseline,
protocol.test_interval.  Repeatable: the points are all combinations."""


def add_sweep_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to the ``biophys-ltp`` parser's subparsers."""
    from ..model import DEFAULT_MODEL

    p = sub.add_parser("sweep", help=SWEEP_HELP, description=SWEEP_DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("protocol", metavar="PROTOCOL",
                   help="protocol file, or the name of a shipped protocol (e.g. stc_strong_weak)")
    p.add_argument("--grid", action="append", required=True, metavar="NAME=V1,V2,...", help=GRID_HELP)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (an existing sweep there is resumed)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default $BIOPHYS_LTP_WORKERS or the number of CPUs)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the points on a Dask cluster (e.g. tcp://host:8786); needs "
                        "pip install 'dask[distributed]'")
    p.add_argument("--model", default=None, metavar="NAME",
                   help=f"model name or file (default {DEFAULT_MODEL})")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", default=[],
                   help='fix a model parameter for every point, e.g. --set g_ampa="0.6 nS" (repeatable)')
    p.add_argument("--outcome-times", default=None, metavar="T1,T2,...",
                   help="times after each pathway's first induction reported in points.csv "
                        "(default 1h,3h,8h)")
    p.add_argument("--retry-failed", action="store_true", help="run points recorded as failed again")
    p.add_argument("--max-points", type=int, default=None, metavar="N",
                   help="record at most N more points, then stop (run again to continue)")
    p.add_argument("--no-point-files", action="store_true",
                   help="do not write each point's fepsp.csv, state.csv and metadata.json under DIR/points/")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=cmd_sweep)
    return p


def cmd_sweep(args: argparse.Namespace) -> int:
    from .args import parse_sets
    from ..sweep import DEFAULT_OUTCOME_TIMES, parse_grid, sweep

    grid = parse_grid(args.grid)
    times = DEFAULT_OUTCOME_TIMES
    if args.outcome_times is not None:
        times = tuple(t.strip() for t in args.outcome_times.split(","))
        if not all(times):
            raise InputError(f"--outcome-times expects T1,T2,... with a unit each (e.g. 1h,3h,8h), "
                             f"got {args.outcome_times!r}")
    with warnings.catch_warnings():
        # the sweep's warnings (outcome times with no test pulse near them) as one line each,
        # when it gives them, before its points run (they would reach Brian2's log otherwise)
        warnings.simplefilter("always", UserWarning)
        warnings.showwarning = lambda message, *_, **__: print(f"{PROG}: warning: {message}", file=sys.stderr,
                                                               flush=True)
        res = sweep(args.protocol, grid, args.out, model=args.model, params=parse_sets(args.set) or None,
                    workers=args.workers, scheduler=args.scheduler, progress=not args.quiet,
                    retry_failed=args.retry_failed, max_points=args.max_points, outcome_times=times,
                    save_points=not args.no_point_files)
    print(summary(res))
    return 1 if res.n_failed else 0


def summary(res) -> str:
    """A few lines: counts, and a table of the points when there are not too many."""
    total = len(res.manifest["points"])
    noun = "point" if total == 1 else "points"
    lines = [f"{total} {noun}: {res.n_ok} ok, {res.n_failed} failed, {len(res.pending)} not run yet "
             f"(this run: {res.ran} recorded, {res.skipped} already done)"]
    rows = res.points
    if 0 < len(rows) <= 40:
        grid_cols = [c for c in res.manifest["columns"] if c in _grid_columns(res)]
        induced = [p for p in _pathways(res)
                   if rows.get(f"{p}_induction_min") is not None and rows[f"{p}_induction_min"].notna().any()]
        out_cols = [f"{p}_fepsp_pct_{t}" for p in induced for t in res.manifest["outcome_times"]]
        out_cols = [c for c in out_cols if c in rows and rows[c].notna().any()]
        table = [["point_id", "status", *grid_cols, *out_cols]]
        for _, r in rows.iterrows():
            table.append([str(r.point_id), str(r.status), *(_fmt(r[c]) for c in grid_cols),
                          *(_fmt(r[c]) for c in out_cols)])
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    failed = rows[rows.status == "failed"] if len(rows) else rows
    for _, r in failed.head(5).iterrows():
        lines.append(f"failed {r.point_id}: {r.error}")
    if len(failed) > 5:
        lines.append(f"... and {len(failed) - 5} more failed points (see the error column)")
    lines.append(f"results: {res.out / 'points.csv'}, {res.out / 'timecourse.csv'}")
    return "\n".join(lines)


def _grid_columns(res) -> list[str]:
    columns = res.manifest["columns"]
    n = len(res.manifest["grid"])
    return columns[:n]


def _pathways(res) -> list[str]:
    return list(res.manifest["protocol"].get("pathways", []))


def _fmt(value) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.6g}"
    return str(value)
