"""The ``sweep()`` entry point: plan the points, skip those already recorded, run the
rest on an executor and record each result."""

from __future__ import annotations

import contextlib
import itertools
import math
import sys
import traceback
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import brian2 as b2
import numpy as np
import pandas as pd

from .._version import __version__
from ..executor import Progress, WorkersDied, one_line, run_pool
from ..model import MODELS_DIR, Model, ModelError, load_model
from ..protocol import Protocol, ProtocolError, load_protocol, protocol_from_dict
from ..units import UnitParseError
from .executors import dask_client, run_dask, run_in_process, run_point
from .grid import (DEFAULT_OUTCOME_TIMES, Axis, Point, SweepError, in_unit, make_point_id, outcome_columns,
                   outcomes, parse_grid, parse_outcome_times, point_protocol, validate_grid)
from .store import FORMAT, TIMING_COLUMNS, Store, SweepResults, read_results


# ---------------------------------------------------------------------------
# sweep()
# ---------------------------------------------------------------------------

def _model_ref(model: Model) -> str:
    path = Path(model.source)
    return path.stem if path.parent.resolve() == MODELS_DIR.resolve() else str(path.resolve())


def late_outcomes(points: Sequence[Point], times: Sequence[tuple[str, float]]) -> str:
    """Which outcome columns will stay empty, and at how many of the points, or "": an
    outcome time with no test pulse near it (after the protocol's end, or inside an
    induction), found by reading each planned point's own test pulses as a run's fEPSP
    would be read (:func:`~biophys_ltp.sweep.grid.outcomes`)."""
    empty: dict[str, int] = {}
    planned = [p for p in points if p.error is None]
    for point in planned:
        proto = point.protocol
        fepsp = pd.concat([pd.DataFrame({"time_min": np.asarray(ts / b2.second, dtype=float) / 60,
                                         "pathway": pathway, "fepsp_pct": 100.0})
                           for pathway, ts in proto.test_pulses().items()], ignore_index=True)
        for column, value in outcomes(proto, fepsp, times).items():
            if "_fepsp_pct_" in column and not column.endswith("_last") and math.isnan(value):
                empty[column] = empty.get(column, 0) + 1
    if not empty:
        return ""
    n = len(planned)
    what = ", ".join(f"{c} ({'every point' if k == n else f'{k} of {n} points'})" for c, k in empty.items())
    return (f"outcome times with no test pulse near them (after the protocol's end, or inside an induction) "
            f"leave these columns empty: {what}; choose outcome times within the protocol")


def _plan(proto: Protocol, axes: Sequence[Axis], model_ref: str, fixed: Mapping[str, str],
          base_model: Model) -> list[Point]:
    points = []
    seen: set[str] = set()
    for choice in itertools.product(*(range(len(a.texts)) for a in axes)):
        pid = make_point_id(axes, choice)
        if pid in seen:  # cannot happen with distinct values; kept as a guard
            raise SweepError(f"two grid points have the same id {pid}")
        seen.add(pid)
        texts = {a.name: a.texts[k] for a, k in zip(axes, choice)}
        numbers = {a.column: a.numbers[k] for a, k in zip(axes, choice)}
        point = Point(pid, texts, numbers)
        params = dict(fixed)
        params.update({a.key: a.texts[k] for a, k in zip(axes, choice) if a.kind == "model"})
        raw, source = point_protocol(proto, axes, choice)
        try:
            point.protocol = protocol_from_dict(raw, source=source)
            missing = [p for p in point.protocol.pathways if p not in base_model.pathways]
            if missing:
                raise ProtocolError(f"{source}: pathway(s) {', '.join(missing)} not in the model")
        except (ProtocolError, ModelError, UnitParseError) as err:
            point.error = one_line(err)
            point.error_detail = traceback.format_exc()
        point.spec = {"point_id": pid, "protocol": raw, "source": source, "model": model_ref,
                      "params": params}
        points.append(point)
    return points


def sweep(protocol: str | Path | Mapping | Protocol, grid: Mapping[str, Any] | Sequence[str],
          out: str | Path, *, model: str | Path | Model | None = None,
          params: Mapping[str, Any] | None = None, workers: int | None = None,
          scheduler: str | None = None, client: Any = None, progress: bool | None = None,
          retry_failed: bool = False, max_points: int | None = None,
          outcome_times: Sequence[Any] = DEFAULT_OUTCOME_TIMES, save_points: bool = True,
          _runner: Callable[[Mapping[str, Any]], dict] | None = None) -> SweepResults:
    """Run ``protocol`` at every point of ``grid`` and record each point in ``out``.

    protocol
        As for :func:`~biophys_ltp.simulation.simulate`: a file, a shipped name, a dict
        or a :class:`~biophys_ltp.protocol.Protocol`.
    grid
        ``{name: values}`` (values: a list, or one comma-separated string), or a list of
        ``"NAME=V1,V2,..."`` strings; names as in the module docstring (model
        parameters, ``events[i].KEY``, ``protocol.KEY``).
    out
        Output folder (see the module docstring); an existing sweep there is resumed.
    model, params
        The model and fixed parameter overrides for every point (a grid name may not
        be among ``params``).
    workers
        Local worker processes (default ``$BIOPHYS_LTP_WORKERS`` or the CPU count);
        with 1, points run in this process.
    scheduler, client
        Run on a Dask cluster instead: a scheduler address, or a connected
        ``dask.distributed.Client``.
    progress
        Progress on stderr (default: when stderr is a terminal).
    retry_failed
        Run points recorded as failed again (by default they are skipped).
    max_points
        Record at most this many points in this call (the rest stay pending; run
        again to continue).
    outcome_times
        Times after each pathway's first induction reported in ``points.csv``.
    save_points
        Write each point's fepsp.csv, state.csv and metadata.json under ``points/``.

    Returns :class:`SweepResults` (what the folder holds after this call).
    """
    if scheduler is not None and client is not None:
        raise SweepError("give either a Dask scheduler address or a client, not both")
    if max_points is not None and max_points < 0:
        raise SweepError(f"max_points must not be negative, got {max_points}")
    if workers is not None:
        from ..simulation import worker_count
        worker_count(workers)
    proto = load_protocol(protocol)
    base = model if isinstance(model, Model) else load_model(model)
    fixed_in = {**dict(base.overrides), **dict(params or {})}
    fixed_model = base.with_overrides(fixed_in)  # checks names and units
    fixed = {k: fixed_model.all_parameters()[k].text for k in fixed_in}
    if isinstance(grid, str):  # one "NAME=V1,V2" item, not a sequence of characters
        grid = [grid]
    if not isinstance(grid, Mapping):
        grid = parse_grid(grid)
    axes = validate_grid(grid, proto, fixed_model)
    both = [a.name for a in axes if a.kind == "model" and a.name in fixed]
    if both:
        raise SweepError(f"{', '.join(both)}: both a fixed parameter and in the grid")
    times = parse_outcome_times(outcome_times)
    ref = _model_ref(base)
    points = _plan(proto, axes, ref, fixed, fixed_model)
    late = late_outcomes(points, times)
    if late:  # said before anything runs
        warnings.warn(late, UserWarning, stacklevel=2)

    proto_id = proto.to_dict()
    proto_id.pop("source", None)
    columns = ([a.column for a in axes] + outcome_columns(proto.pathways, times)
               + TIMING_COLUMNS + ["worker", "finished_at", "error"])
    manifest = {
        "format": FORMAT,
        "version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "protocol": proto_id,
        "protocol_source": proto.source,
        "model": {"name": fixed_model.name, "ref": ref, "model_hash": base.model_hash()},
        "params": fixed,
        "grid": {a.name: a.texts for a in axes},
        "units": {a.name: a.unit for a in axes},
        "outcome_times": [lab for lab, _ in times],
        "columns": columns,
        "points": [{"point_id": p.point_id, "values": p.texts} for p in points],
    }
    client_ = client
    if client_ is None and scheduler is not None:
        client_ = dask_client(scheduler)  # fails early when Dask is missing
    own_client = client is None and scheduler is not None

    out = Path(out)
    store = Store(out, manifest)
    ran = 0
    try:
        store.open()
        units = store.manifest["units"]
        if any(units.get(a.name, a.unit) != a.unit for a in axes):  # resumed, values written in other units
            axes = [in_unit(a, units.get(a.name, a.unit)) for a in axes]
            for p in points:
                p.numbers = {a.column: a.numbers[a.texts.index(p.texts[a.name])] for a in axes}
        done = store.done(retry_failed)
        todo = [p for p in points if p.point_id not in done]
        if max_points is not None:
            todo = todo[:max_points]
        if client_ is not None:
            try:
                where = f"on the Dask cluster at {client_.scheduler.address}"
            except AttributeError:
                where = "on the Dask cluster"
            n_workers = 0
        else:
            from ..simulation import worker_count
            n_workers = min(worker_count(workers), max(sum(p.error is None for p in todo), 1))
            where = "in this process" if n_workers <= 1 else f"in {n_workers} worker processes"
        if progress is None:
            progress = sys.stderr.isatty()
        skipped = sum(1 for p in points if p.point_id in done)
        bar = Progress(len(points), len(todo), skipped, progress, where)

        def on_result(point: Point, result: Mapping[str, Any]) -> None:
            nonlocal ran
            result = dict(result)
            outcome: dict[str, float] = {}
            if result.get("status") == "ok":
                try:
                    outcome = outcomes(point.protocol, result["fepsp"], times)
                except Exception as err:
                    result = {**result, "status": "failed", "error": f"outcomes: {one_line(err)}",
                              "traceback": traceback.format_exc()}
            ok = result.get("status") == "ok"
            store.record(point, result, outcome, save_points)
            ran += 1
            bar.step(point.label, ok, simulated=True)

        with bar:
            runnable = []
            for p in todo:
                if p.error is not None:
                    store.record(p, {"status": "failed", "error": p.error, "traceback": p.error_detail}, {},
                                 save_points)
                    ran += 1
                    bar.step(p.label, False, simulated=False)
                else:
                    runnable.append(p)
            runner = _runner or run_point
            if not runnable:
                pass
            elif client_ is not None:
                run_dask(runnable, client_, runner, on_result)
            elif n_workers <= 1:
                run_in_process(runnable, runner, on_result)
            else:
                try:
                    run_pool(runnable, n_workers, runner, on_result)
                except WorkersDied as err:
                    raise SweepError(str(err)) from None
    finally:
        store.close()
        if own_client and client_ is not None:
            with contextlib.suppress(Exception):
                client_.close()
    return read_results(out, store.manifest, ran=ran, skipped=skipped)
