"""Benchmark: a parameter sweep of 10-hour STC points against single runs and recompiling.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--points 6] [--workers 2]``
(``--quick``: 4 points of the 1-hour smoke protocol, to check that it works).

The sweep moves the weak tetanus of ``stc_strong_weak`` (``events[1].at``, 35 min
onwards in steps of 10 min).  Printed:

* throughput: points per minute of wall time, with ``--workers`` worker processes;
* the cost of one point in the sweep (wall time x workers / points: what a point
  costs a worker, including process start-up, scheduling and writing the results)
  and its ratio to one warm ``simulate()`` of the same protocol in this process
  (target: at most 1.5);
* the ratio of recompiling per point (one cold build, timed in a fresh cache folder
  in a separate process, plus a warm run) to the sweep's cost per point.

The model's one compiled program (it serves every protocol and duration) is built
before anything is timed.  Timings depend on what else runs on the machine: the cores
are shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

import brian2 as b2  # noqa: E402

import biophys_ltp as bl  # noqa: E402
from biophys_ltp.sweep import sweep  # noqa: E402

COLD_BUILD = """
import json, warnings
warnings.filterwarnings("ignore")
import biophys_ltp as bl
res = bl.simulate("wtet_short", progress=False)
print(json.dumps(res.metadata["timings_s"]))
"""


def grid_for(quick: bool, points: int) -> tuple[str, dict[str, list[str]]]:
    if quick:  # smoke: weak tetanus on S1 (event 0) at 30 min, 1 h in all
        return "smoke", {"events[0].at": [f"{30 + 5 * k} min" for k in range(points)]}
    return "stc_strong_weak", {"events[1].at": [f"{35 + 10 * k} min" for k in range(points)]}


def warm_build(name: str) -> None:
    """Build (untimed) the compiled program the sweep's points share."""
    bl.simulate(name, progress=False)


def cold_build_s() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-sweep-cache-") as cache:
        env = dict(os.environ, BIOPHYS_LTP_CACHE=cache)
        out = subprocess.run([sys.executable, "-c", COLD_BUILD], env=env, check=True,
                             capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=None, help="sweep points (default 6; 4 with --quick)")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--quick", action="store_true", help="4 points of the 1-hour smoke protocol")
    ap.add_argument("--no-cold-build", action="store_true", help="skip timing a build in a fresh cache")
    ap.add_argument("--compile-s", type=float, default=None, metavar="S",
                    help="use this compile time (s) instead of timing a build in a fresh cache")
    args = ap.parse_args()
    n = args.points or (4 if args.quick else 6)
    name, grid = grid_for(args.quick, n)
    what = "1-h smoke" if args.quick else "10-h STC"
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"Python {platform.python_version()}, brian2 {b2.__version__}")

    t0 = time.perf_counter()
    warm_build(name)
    print(f"warm-up: compiled program ready in {time.perf_counter() - t0:.0f} s")

    t0 = time.perf_counter()
    single = bl.simulate(name, progress=False)
    single_wall = time.perf_counter() - t0
    st = single.metadata["timings_s"]
    print(f"one warm simulate() of {name}: {single_wall:.1f} s (set-up {st['setup_s']:.1f} s, "
          f"build check {st['build_s']:.1f} s, compiled program {st['run_s']:.1f} s)")

    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        t0 = time.perf_counter()
        res = sweep(name, grid, Path(tmp) / "sweep", workers=args.workers, progress=True)
        wall = time.perf_counter() - t0
        pts = res.points
    if res.n_failed:
        print(f"warning: {res.n_failed} points failed: {list(pts.error.dropna())}")
    per_point = wall * args.workers / n
    print(f"sweep: {n} {what} points with {args.workers} workers in {wall:.1f} s -> "
          f"{n / wall * 60:.2f} points per minute")
    print(f"  inside the workers, per point: wall {pts.wall_s.mean():.1f} s (set-up {pts.setup_s.mean():.1f} s, "
          f"build check {pts.build_s.mean():.2f} s, max {pts.build_s.max():.2f} s, "
          f"compiled program {pts.run_s.mean():.1f} s)")
    ratio = per_point / single_wall
    print(f"cost per point (wall x workers / points): {per_point:.1f} s = {ratio:.2f}x one warm simulate() "
          f"-> target <= 1.5x {'met' if ratio <= 1.5 else 'NOT met'}")

    if args.compile_s is not None:
        compile_s = args.compile_s
        print(f"compile time (given): {compile_s:.0f} s")
    elif args.no_cold_build:
        return
    else:
        t0 = time.perf_counter()
        cold = cold_build_s()
        compile_s = cold["build_s"]
        print(f"cold build (fresh cache, separate process): compile {compile_s:.0f} s, set-up "
              f"{cold['setup_s']:.1f} s, whole run {time.perf_counter() - t0:.0f} s")
    recompile = compile_s + single_wall
    print(f"recompiling per point would cost ~{recompile:.0f} s per point (compile + warm run) = "
          f"{recompile / per_point:.1f}x the sweep's cost per point")


if __name__ == "__main__":
    main()
