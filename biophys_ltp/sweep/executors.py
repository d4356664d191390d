"""Running a sweep's points: one point in a worker (:func:`run_point`), and the executors
in this process and on a Dask cluster (the local process pool and the progress display
are :mod:`biophys_ltp.executor`, shared with the figures' simulations)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import traceback
from typing import Any, Callable, Mapping, Sequence

from ..executor import one_line
from ..protocol import protocol_from_dict
from .grid import Point, SweepError


# ---------------------------------------------------------------------------
# Running one point (in a worker)
# ---------------------------------------------------------------------------

_SIM_LOCK = threading.Lock()  # Brian2's device is per process: one simulation at a time


def _interrupt_flag(reset: bool = False) -> bool:
    """Whether Ctrl-C arrived while the compiled program ran (Brian2 then only sets a
    flag, and the program, interrupted too, fails)."""
    try:
        from brian2.core.network import Network
    except ImportError:  # pragma: no cover
        return False
    if reset:
        Network._globally_stopped = False
        return False
    return bool(getattr(Network, "_globally_stopped", False))


def run_point(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Run one sweep point; used by the local worker processes and by Dask tasks.

    ``spec`` holds plain data: ``protocol`` (the protocol content), ``source``
    (its label), ``model`` (a model name or path) and ``params`` (overrides as
    text).  Returns ``{"status": "ok", "fepsp", "state", "metadata", "timings",
    "worker"}`` or ``{"status": "failed", "error", "traceback", "worker"}``; an
    interruption (Ctrl-C) is raised, not returned.
    """
    from ..simulation import simulate

    worker = f"{socket.gethostname()}:{os.getpid()}"
    with _SIM_LOCK:
        t0 = time.perf_counter()
        _interrupt_flag(reset=True)
        try:
            proto = protocol_from_dict(spec["protocol"], source=spec.get("source", "<sweep point>"))
            res = simulate(proto, spec.get("model"), params=dict(spec.get("params") or {}) or None,
                           progress=False)
        except Exception as err:
            if _interrupt_flag():
                raise KeyboardInterrupt from err
            return {"status": "failed", "error": one_line(err), "traceback": traceback.format_exc(),
                    "worker": worker, "timings": {"wall_s": time.perf_counter() - t0}}
    timings = res.metadata.get("timings_s", {})
    return {"status": "ok", "fepsp": res.fepsp, "state": res.state, "metadata": res.metadata,
            "worker": worker,
            "timings": {"setup_s": timings.get("setup_s"), "build_s": timings.get("build_s"),
                        "run_s": timings.get("run_s"), "wall_s": time.perf_counter() - t0}}


# ---------------------------------------------------------------------------
# Executors
# ---------------------------------------------------------------------------

def run_in_process(points: Sequence[Point], runner: Callable, on_result: Callable) -> None:
    for point in points:
        on_result(point, runner(point.spec))
        if _interrupt_flag():  # Ctrl-C reached this process only: the program finished the point
            raise KeyboardInterrupt


def run_dask(points: Sequence[Point], client: Any, runner: Callable, on_result: Callable) -> None:
    from dask.distributed import as_completed

    futures = {}
    for point in points:
        key = f"biophys-ltp-point-{point.point_id}-{os.urandom(4).hex()}"
        futures[client.submit(runner, point.spec, key=key, pure=False)] = point
    try:
        for fut in as_completed(list(futures)):
            point = futures.pop(fut)
            if fut.status == "cancelled":  # cancelled from outside: the point stays pending
                continue
            if fut.status == "finished":
                result = fut.result()
            else:
                err = fut.exception()
                result = {"status": "failed", "error": one_line(err),
                          "traceback": "".join(traceback.format_exception(err))}
            on_result(point, result)
            fut.release()
    finally:
        if futures:
            with contextlib.suppress(Exception):
                client.cancel(list(futures))


def dask_client(scheduler: str) -> Any:
    try:
        from dask.distributed import Client
    except ImportError:
        raise SweepError(
            "running a sweep on a Dask cluster (--scheduler) needs Dask's distributed scheduler, "
            "which is not installed: pip install 'dask[distributed]' (or pip install -e '.[dask]')"
        ) from None
    try:
        return Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as err:
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: {one_line(err)}") from None
