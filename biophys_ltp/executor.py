"""Running tasks in worker processes, and their progress on stderr: one executor for the
simulations of figures (:func:`biophys_ltp.simulation.simulate_many`) and the points of
sweeps (:mod:`biophys_ltp.sweep`).

Workers are started with "spawn" (Brian2's device state must not be forked).  A worker
that dies (killed, out of memory, a crash) does not lose the work: its tasks run again,
each alone, and a task whose worker dies twice while it runs alone is reported as failed.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import threading
import time
import traceback
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Mapping, Sequence


class WorkersDied(RuntimeError):
    """Worker processes die before any task comes back: they cannot run anything."""


def one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__

def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"

class Progress:
    """Tasks done and failed, elapsed and estimated time left, on stderr: a line that
    updates itself on a terminal, a line per task otherwise.  ``noun`` names the tasks
    ("points", "simulations"), ``title`` the work ("sweep"); ``resume`` is what to say when
    it is interrupted."""

    def __init__(self, total: int, to_run: int, skipped: int, enabled: bool, where: str,
                 width: int = 24, *, noun: str = "points", title: str = "sweep",
                 resume: str = "run the same sweep again to resume"):
        self.total, self.to_run, self.skipped = total, to_run, skipped
        self.enabled, self.where, self.width = enabled, where, width
        self.noun, self.title, self.resume = noun, title, resume
        self.done = self.failed = self.simulated = 0
        self.t0 = time.perf_counter()
        self.tty = enabled and sys.stderr.isatty()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        if not self.enabled:
            return
        skip = f", {self.skipped} already done" if self.skipped else ""
        if not self.to_run:
            print(f"{self.title}: all {self.total} {self.noun} already done" if self.skipped
                  else f"{self.title}: nothing to run", file=sys.stderr, flush=True)
            return
        print(f"{self.title}: {self.total} {self.noun}{skip}; running {self.to_run} {self.where}",
              file=sys.stderr, flush=True)
        if self.tty:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def _line(self) -> str:
        elapsed = time.perf_counter() - self.t0
        frac = self.done / self.to_run if self.to_run else 1.0
        filled = int(round(self.width * frac))
        if self.done >= self.to_run:
            left = "done"
        elif self.simulated:
            # remaining points at the rate of the points simulated so far
            left = f"~{_duration(elapsed / self.simulated * (self.to_run - self.done))} left"
        else:
            left = "estimating time left"
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.to_run} {self.noun} done"
                f"{failed}, {_duration(elapsed)} elapsed, {left}")

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                sys.stderr.write("\r" + self._line() + "\x1b[K")
                sys.stderr.flush()

    def step(self, label: str, ok: bool, simulated: bool) -> None:
        self.done += 1
        self.failed += not ok
        self.simulated += simulated
        if not self.enabled:
            return
        with self._lock:
            if self.tty:
                if not ok:
                    sys.stderr.write(f"\r\x1b[Kfailed: {label}\n")
                sys.stderr.write("\r" + self._line() + "\x1b[K")
            else:
                sys.stderr.write(f"{self._line()} ({label}: {'ok' if ok else 'failed'})\n")
            sys.stderr.flush()

    def __enter__(self) -> "Progress":
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.finish(interrupted=exc_type is not None and issubclass(exc_type, KeyboardInterrupt))
        return False

    def finish(self, interrupted: bool = False) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            sys.stderr.write("\r" + self._line() + "\x1b[K\n")
        if self.enabled and interrupted:
            sys.stderr.write(f"{self.title} interrupted: {self.done} of {self.to_run} {self.noun} done in "
                             f"this run; {self.resume}\n")
        sys.stderr.flush()

_WORKER_DIED = ("the worker process running this task died twice while it ran on its own "
                "(killed, out of memory, or a crash)")

def _terminate(pool: ProcessPoolExecutor | None) -> None:
    if pool is None:
        return
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            if p.is_alive():
                p.terminate()
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(timeout=5)

def run_pool(points: Sequence[Any], workers: int, runner: Callable, on_result: Callable) -> None:
    """Run tasks (``points``: objects with the ``spec`` that ``runner(spec)`` takes) in worker
    processes, at most ``workers`` at a time; ``on_result(point, result)`` gets each result
    (a mapping with ``status``: "ok" or "failed") in this process as it comes back.

    When the pool breaks (a worker died: killed, out of memory, a crash), every
    point in flight goes back and runs again alone; a point whose worker dies
    twice while it runs alone is recorded as failed, so a kill from outside
    costs a rerun and blames nobody.  Worker processes that die three times
    before any task comes back stop the run with WorkersDied (they cannot run anything).
    """
    ctx = multiprocessing.get_context("spawn")  # Brian2's device state must not be forked
    queue: deque[Any] = deque(points)
    suspects: deque[Any] = deque()
    in_flight: dict[Any, Any] = {}
    pool: ProcessPoolExecutor | None = None
    any_result = False
    deaths = 0
    solo_deaths: dict[int, int] = {}

    def take(point: Any, result: Mapping[str, Any]) -> None:
        nonlocal any_result
        any_result = True
        on_result(point, result)

    try:
        while queue or suspects or in_flight:
            if pool is None:
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
            refused = False  # the pool broke between two points: submit() refuses
            while len(in_flight) < workers and (queue or suspects):
                if suspects:
                    if in_flight:
                        break
                    try:
                        in_flight[pool.submit(runner, suspects[0].spec)] = suspects[0]
                    except BrokenProcessPool:
                        refused = True
                    else:
                        suspects.popleft()
                    break  # a suspect runs alone
                try:
                    in_flight[pool.submit(runner, queue[0].spec)] = queue[0]
                except BrokenProcessPool:
                    refused = True
                    break
                queue.popleft()
            if refused and not in_flight:
                # a worker died after its point came back: nothing to blame, start a new pool
                _terminate(pool)
                pool = None
                deaths += 1
                if not any_result and deaths >= 3:
                    raise WorkersDied("worker processes die before any task comes back; check that "
                                     "'import biophys_ltp' works in a fresh Python process, or run "
                                     "with one worker")
                continue
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            broken: list[Any] = []
            for fut in done:
                point = in_flight.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    broken.append(point)
                    continue
                except Exception as err:  # e.g. a result that cannot be pickled
                    result = {"status": "failed", "error": one_line(err),
                              "traceback": "".join(traceback.format_exception(err))}
                take(point, result)
            if not broken:
                continue
            # the pool is gone: everything still in flight failed with it
            alone = len(broken) + len(in_flight) == 1
            for fut, point in list(in_flight.items()):
                try:
                    result = fut.result(timeout=10)
                except BaseException:
                    broken.append(point)
                else:
                    take(point, result)
            in_flight.clear()
            _terminate(pool)
            pool = None
            deaths += 1
            if alone:
                pid = id(broken[0])
                solo_deaths[pid] = solo_deaths.get(pid, 0) + 1
                if solo_deaths[pid] >= 2 and any_result:
                    on_result(broken[0], {"status": "failed", "error": f"WorkerDied: {_WORKER_DIED}"})
                    continue
            if not any_result and deaths >= 3:
                raise WorkersDied("worker processes die before any task comes back (nothing was recorded "
                                 "for the tasks they ran); check that 'import biophys_ltp' works in a "
                                 "fresh Python process, or run with one worker")
            suspects.extend(broken)
    finally:
        if pool is not None:
            if in_flight:
                _terminate(pool)
            else:
                pool.shutdown(wait=True)
