"""Parameter sweeps: one protocol over a grid of model parameters and protocol timings.

::

    from biophys_ltp.sweep import sweep    # the package exports it too: biophys_ltp.sweep(...)

    res = sweep("stc_strong_weak", {"events[1].at": ["35 min", "65 min", "95 min"],
                                    "tau_z": ["15 min", "30 min"]},
                out="out/stc-sweep", workers=4)
    res.points                      # one row per point: parameters, outcomes, status
    res.timecourse()                # fEPSP time course of every point (long format)

or ``biophys-ltp sweep stc_strong_weak --grid events[1].at=35min,65min,95min
--grid tau_z=15min,30min --out out/stc-sweep``.

Grid names
----------
``NAME``
    A model parameter (``biophys-ltp model show`` lists them), e.g. ``tau_z``.
    Entries under ``[parameters]`` never recompile; an entry under
    ``[structure]`` compiles one program per distinct value (each cached).
``events[i].KEY``
    Key ``KEY`` of event ``i`` of the protocol, counted from 0 as in the file's
    list of ``[[events]]`` (``events[1]`` is the second event; protocol error
    messages number events from 1 and call it "event 2").  Times: ``at``,
    ``every``, ``dt`` (pairing), ``start`` and ``stop`` (drug); frequencies:
    ``frequency``, ``burst_frequency``; whole numbers: ``pulses``, ``repeats``,
    ``burst_pulses``, ``pairs``.  ``at`` of a drug event moves its window and
    keeps its length (as :meth:`Protocol.replace_event_time`).
``protocol.KEY``
    ``protocol.duration``, ``protocol.baseline`` or ``protocol.test_interval``.

Values are strings with units (``"35 min"``, ``"0.6 nS"``), Brian2 quantities,
or bare numbers for dimensionless values and counts.  Names, units and event
indices are checked before anything runs (:class:`SweepError`, or the model's
:class:`~biophys_ltp.model.ModelError`).  A combination of values that makes
the protocol invalid (an event after the end, overlapping inductions) is not
an input error: that point is recorded as failed, with the protocol's message,
and the others run.

The points are the Cartesian product of the grid's values.  A point's id is a
hash of its parameter values (in SI units, so ``"35 min"`` and ``"2100 s"`` are
the same point).

Output folder
-------------
``sweep.json``
    The manifest: protocol, model, fixed parameters, grid, outcome times, the
    column layout and every point with its values.  A later sweep into the same
    folder must be the same sweep (same protocol, model, fixed parameters,
    outcome times and set of points), else :class:`SweepError`.
``points.csv``
    One row per finished point (appended and flushed to disk as each point
    finishes): ``point_id``, ``status`` (``ok`` or ``failed``), one column per
    grid name with the value in the unit of the grid's first value, named
    ``<name>_<unit>`` (``tau_z_min``, ``events[1].at_min``, ``g_ampa_nS``; no
    suffix for dimensionless values and counts), the outcomes, the timings
    ``setup_s``, ``build_s`` (the build check: about 0.5 s when nothing is
    recompiled; 0 when the program starts from the build's launch record, as every
    run after a build's first does), ``run_s`` (the compiled program), ``wall_s`` (the whole
    point), ``worker`` (host:pid), ``finished_at`` (UTC) and ``error`` (the
    exception in one line, empty when ``ok``).
``timecourse.csv``
    Long format: ``point_id``, ``pathway``, ``time_min``, ``fepsp_pct``, one
    row per test pulse of every successful point.
``points/<point_id>/``
    The point's own ``fepsp.csv``, ``state.csv`` and ``metadata.json`` (as
    :meth:`Results.save`), or ``error.txt`` with the traceback of a failure.

Outcomes, per pathway ``P`` of the protocol:

* ``P_induction_min``: the first induction pulse of ``P`` (empty without induction);
* ``P_fepsp_pct_<T>`` for each outcome time ``T`` (default 1 h, 3 h, 8 h): the
  fEPSP (% of baseline) of the test pulse nearest ``T`` after ``P``'s first
  induction pulse, or after the protocol start (time 0) for a pathway without
  induction; empty where no test pulse of ``P`` lies within half a test
  interval of that time (beyond the end of the protocol);
* ``P_fepsp_pct_last``: the last test pulse of ``P``.

Resuming
--------
Running the same sweep again (after Ctrl-C, a killed worker, a crash, or with
``max_points``) skips the points already in ``points.csv`` and runs the rest;
nothing recorded is lost: a point is written completely (its folder, its time
course, then its row, each flushed to disk) before the next result is taken,
and an incomplete write left by a kill is dropped when the folder is opened
again.  Failed points are skipped too, unless ``retry_failed`` (``--retry-failed``)
is given; a retried point appends a new row, and the last row of a point counts.

If a local worker process dies (killed, out of memory), the points it was
running are run again one at a time; a point that kills its worker when it runs
alone is recorded as failed.

Execution
---------
Locally, points run in ``workers`` worker processes ("spawn"), each point a
:func:`~biophys_ltp.simulation.simulate` call: every point runs the model's
compiled program (shared by all processes through the build cache and its file
lock) with its own parameters and protocol passed at start-up, and writes its
results into a folder of its own.  With ``scheduler`` (an address such as
``tcp://host:8786``) or ``client`` (a ``dask.distributed.Client``) the points run
as tasks on a Dask cluster; each worker machine compiles once into its own
build cache (``$BIOPHYS_LTP_CACHE``).  Dask is optional
(``pip install 'dask[distributed]'``).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import fcntl
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import re
import socket
import sys
import threading
import time
import traceback
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import brian2 as b2
import numpy as np
import pandas as pd

from . import __version__, readout
from ._cliargs import strip_quotes
from .model import MODELS_DIR, Model, ModelError, load_model
from .protocol import Protocol, ProtocolError, load_protocol, protocol_from_dict
from .units import UnitParseError, format_quantity, parse_quantity
from brian2.units.fundamentalunits import DIMENSIONLESS

__all__ = ["SweepError", "SweepResults", "sweep", "load_sweep", "parse_grid", "run_point",
           "DEFAULT_OUTCOME_TIMES"]

#: Times after each pathway's first induction at which ``points.csv`` reports the fEPSP.
DEFAULT_OUTCOME_TIMES: tuple[str, ...] = ("1 h", "3 h", "8 h")

MANIFEST = "sweep.json"
POINTS = "points.csv"
TIMECOURSE = "timecourse.csv"
POINT_DIR = "points"
_LOCK = ".sweep.lock"
_FORMAT = "biophys-ltp sweep 1"
_TIMECOURSE_COLUMNS = ["point_id", "pathway", "time_min", "fepsp_pct"]
_TIMING_COLUMNS = ["setup_s", "build_s", "run_s", "wall_s"]

# event keys that may be swept, with their dimension (None: a whole number)
_EVENT_KEYS: dict[str, Any] = {
    "at": b2.second, "start": b2.second, "stop": b2.second, "every": b2.second, "dt": b2.second,
    "frequency": b2.Hz, "burst_frequency": b2.Hz,
    "pulses": None, "repeats": None, "burst_pulses": None, "pairs": None,
}
_PROTOCOL_KEYS: dict[str, Any] = {"duration": b2.second, "baseline": b2.second,
                                  "test_interval": b2.second}
_EVENT_NAME = re.compile(r"^events\[\s*(-?\d+)\s*\]\.(\w+)$")
_PROTOCOL_NAME = re.compile(r"^protocol\.(\w+)$")
_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class SweepError(ValueError):
    """A sweep's input is invalid, or its output folder holds something else."""


# ---------------------------------------------------------------------------
# Grid
# ---------------------------------------------------------------------------

def parse_grid(items: Iterable[str]) -> dict[str, list[str]]:
    """``["tau_z=15min,30min", "events[1].at=35 min, 65 min"]`` -> ``{name: [values]}``.

    Each item is ``NAME=V1,V2,...``; values are kept as text (units are checked
    by :func:`sweep`).  A name given twice, an empty value or a value listed
    twice is an error.
    """
    grid: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = str(item).partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise SweepError(f"--grid expects NAME=V1,V2,... (e.g. --grid tau_z=15min,30min), got {item!r}")
        if name in grid:
            raise SweepError(f"--grid {name}: given twice (list all its values in one --grid)")
        parts = [strip_quotes(v) for v in values.split(",")]
        if any(not p for p in parts):
            raise SweepError(f"--grid {name}: empty value in {values!r}")
        grid[name] = parts
    return grid


@dataclass
class _Axis:
    """One grid name with its validated values."""
    name: str
    kind: str  # "model", "event" or "protocol"
    key: str  # the model parameter, the event key or the protocol key
    index: int | None  # event index
    texts: list[str]  # exact text of each value (reads back to the same number)
    canon: list[Any]  # unit-independent form of each value, for point ids
    numbers: list[float]  # values in `unit`
    unit: str  # "" for dimensionless values and counts

    @property
    def column(self) -> str:
        return f"{self.name}_{_unit_suffix(self.unit)}" if self.unit else self.name


def _unit_suffix(unit: str) -> str:
    text = unit.replace(" ", "")
    if text.startswith("1/"):
        text = text[1:]
    text = text.replace("**", "").replace("^", "").replace("/", "_per_").replace("*", "_")
    return text.strip("_")


def _as_list(values: Any) -> list[Any]:
    if isinstance(values, str):
        return [strip_quotes(v) for v in values.split(",")]
    if isinstance(values, b2.Quantity) and np.ndim(values) == 0:
        return [values]
    if isinstance(values, Iterable):
        return list(values)
    return [values]


def _quantity_axis(name: str, kind: str, key: str, index: int | None, values: list[Any],
                   dimension: Any) -> _Axis:
    quantities = []
    for v in values:
        try:
            quantities.append(parse_quantity(v, dimension=dimension, what=name))
        except UnitParseError as err:
            raise SweepError(str(err)) from None
    texts = [format_quantity(q) for q in quantities]
    dim = b2.get_dimensions(quantities[0])
    if dim is DIMENSIONLESS:
        unit, scale = "", 1.0
    else:
        unit = _written_unit(values[0]) or texts[0].split(" ", 1)[1]
        scale = float(np.asarray(parse_quantity(f"1 {unit}")))
    dims = [float(x) for x in dim._dims]  # SI exponents: independent of unit display
    canon = [[repr(float(np.asarray(q))), dims] for q in quantities]
    numbers = [float(np.asarray(q)) / scale for q in quantities]
    return _Axis(name, kind, key, index, texts, canon, numbers, unit)


def _written_unit(value: Any) -> str | None:
    """The unit as written in a value's text (``"420 s"`` -> ``"s"``), if any."""
    if not isinstance(value, str):
        return None
    match = _NUMBER.match(value)
    unit = value[match.end():].strip() if match else ""
    try:
        return unit if unit and parse_quantity(f"1 {unit}") else None
    except UnitParseError:
        return None


def _count_axis(name: str, kind: str, key: str, index: int | None, values: list[Any]) -> _Axis:
    counts = []
    for v in values:
        try:
            x = float(v) if not isinstance(v, bool) else math.nan
        except (TypeError, ValueError):
            x = math.nan
        if not (math.isfinite(x) and x == int(x) and x >= 1):
            raise SweepError(f'"{name}": expected a whole number (>= 1), got {v!r}')
        counts.append(int(x))
    return _Axis(name, kind, key, index, [str(c) for c in counts], list(counts),
                 [float(c) for c in counts], "")


def _validate_grid(grid: Mapping[str, Any], proto: Protocol, model: Model) -> list[_Axis]:
    if not isinstance(grid, Mapping) or not grid:
        raise SweepError("the grid is empty: give at least one NAME with values")
    from .protocol import KIND_KEYS

    axes: list[_Axis] = []
    for name, raw_values in grid.items():
        name = str(name).strip()
        values = _as_list(raw_values)
        if not values:
            raise SweepError(f"{name}: no values")
        ev, top = _EVENT_NAME.match(name), _PROTOCOL_NAME.match(name)
        if ev:
            index, key = int(ev.group(1)), ev.group(2)
            n = len(proto.events)
            if not 0 <= index < n:
                listing = ", ".join(f"events[{k}] {e.kind}" + (f" on {e.pathway}" if e.pathway else f" {e.drug}")
                                    for k, e in enumerate(proto.events)) or "none"
                raise SweepError(f"{name}: event index {index} out of range: {proto.source} has {n} "
                                 f"event{'s' if n != 1 else ''}, numbered from 0 ({listing})")
            event = proto.events[index]
            allowed = [k for k in KIND_KEYS[event.kind] if k in _EVENT_KEYS]
            if event.is_drug:
                allowed = ["at", *allowed]
            if key not in allowed:
                raise SweepError(f"{name}: a {event.kind} event has no sweepable key {key!r} "
                                 f"(keys: {', '.join(allowed)})")
            dim = _EVENT_KEYS[key]
            axis = (_count_axis(name, "event", key, index, values) if dim is None
                    else _quantity_axis(name, "event", key, index, values, dim))
        elif top:
            key = top.group(1)
            if key not in _PROTOCOL_KEYS:
                raise SweepError(f"{name}: unknown protocol key {key!r} "
                                 f"(keys: {', '.join('protocol.' + k for k in _PROTOCOL_KEYS)})")
            axis = _quantity_axis(name, "protocol", key, None, values, _PROTOCOL_KEYS[key])
        else:
            if name not in model.parameters and name not in model.structure:
                import difflib
                close = difflib.get_close_matches(name, [*model.parameters, *model.structure], n=3)
                hint = f"did you mean {', '.join(close)}? " if close else ""
                raise SweepError(
                    f"{name}: unknown parameter: not a parameter of model {model.name!r} ({hint}see "
                    f"'biophys-ltp model show'), nor a protocol setting (events[i].KEY, protocol.KEY)")
            if isinstance(model[name], (list, tuple)):
                raise SweepError(f"{name}: a list-valued structure entry cannot be swept")
            # the model checks the name and the unit of every value
            for v in values:
                model.with_overrides({name: v})
            if isinstance(model[name], (int, np.integer)) and not isinstance(model[name], bool):
                axis = _count_axis(name, "model", name, None, values)
            else:
                axis = _quantity_axis(name, "model", name, None, values, b2.get_dimensions(model[name]))
        if len(set(map(json.dumps, axis.canon))) != len(axis.canon):
            raise SweepError(f"{name}: the same value is listed twice ({', '.join(axis.texts)})")
        axes.append(axis)
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        raise SweepError(f"a grid name is given twice: {', '.join(names)}")
    for a in axes:
        if a.kind == "event" and a.key == "at" and proto.events[a.index].is_drug:
            other = [b.name for b in axes
                     if b.kind == "event" and b.index == a.index and b.key in ("start", "stop")]
            if other:
                raise SweepError(f"{a.name} moves the whole drug window; it cannot be swept together "
                                 f"with {', '.join(other)}")
    return axes


def _in_unit(axis: _Axis, unit: str) -> _Axis:
    """The axis with its numbers in ``unit`` (that of an existing sweep's columns)."""
    if unit == axis.unit or not unit or not axis.unit:
        return axis
    scale = float(np.asarray(parse_quantity(f"1 {unit}")))
    return replace(axis, unit=unit, numbers=[float(c[0]) / scale for c in axis.canon])


def _point_id(axes: Sequence[_Axis], choice: Sequence[int]) -> str:
    payload = {a.name: a.canon[k] for a, k in zip(axes, choice)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def _point_protocol(proto: Protocol, axes: Sequence[_Axis], choice: Sequence[int]) -> tuple[dict, str]:
    """The protocol content of one point (not yet validated) and its source label."""
    raw = copy.deepcopy(proto.raw)
    raw.pop("source", None)
    labels = []
    for a, k in zip(axes, choice):
        if a.kind == "model":
            continue
        labels.append(f"{a.name}={a.texts[k]}")
        value: Any = int(a.canon[k]) if a.unit == "" and isinstance(a.canon[k], int) else a.texts[k]
        if a.kind == "protocol":
            raw[a.key] = value
            continue
        event_raw = raw["events"][a.index]
        event = proto.events[a.index]
        if event.is_drug and a.key == "at":
            start = parse_quantity(a.texts[k])
            event_raw["start"] = format_quantity(start)
            event_raw["stop"] = format_quantity(start + (event.stop - event.start))
        else:
            event_raw[a.key] = value
    source = f"{proto.source} [{', '.join(labels)}]" if labels else proto.source
    return raw, source


# ---------------------------------------------------------------------------
# Points and their outcomes
# ---------------------------------------------------------------------------

@dataclass
class _Point:
    point_id: str
    texts: dict[str, str]  # grid name -> value text
    numbers: dict[str, float]  # column -> value in the column's unit
    spec: dict[str, Any] | None = None  # what a worker needs to run it
    protocol: Protocol | None = None
    error: str | None = None  # set when the point cannot even be set up
    error_detail: str = ""

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.texts.items())


def _outcome_times(values: Sequence[Any]) -> list[tuple[str, float]]:
    """(column label, minutes) of each outcome time."""
    out = []
    for v in values:
        try:
            q = parse_quantity(v, dimension=b2.second, what="outcome time")
        except UnitParseError as err:
            raise SweepError(str(err)) from None
        minutes = float(np.asarray(q)) / 60.0
        if not minutes > 0:
            raise SweepError(f"outcome time {v!r} must be positive")
        if minutes % 60 == 0:
            label = f"{minutes / 60:g}h"
        elif minutes == round(minutes):
            label = f"{minutes:g}min"
        else:
            label = f"{minutes * 60:g}s"
        out.append((label, minutes))
    labels = [lab for lab, _ in out]
    if len(set(labels)) != len(labels):
        raise SweepError(f"an outcome time is given twice: {', '.join(map(str, values))}")
    return out


def _outcome_columns(pathways: Sequence[str], times: Sequence[tuple[str, float]]) -> list[str]:
    cols = []
    for p in pathways:
        cols.append(f"{p}_induction_min")
        cols += [f"{p}_fepsp_pct_{label}" for label, _ in times]
        cols.append(f"{p}_fepsp_pct_last")
    return cols


def outcomes(proto: Protocol, fepsp: pd.DataFrame, times: Sequence[tuple[str, float]]) -> dict[str, float]:
    """The summary outcomes of one point (see the module docstring for the convention)."""
    out: dict[str, float] = {}
    tol = readout.half_test_interval_min(proto)
    for p in proto.pathways:
        pulses = readout.induction_min(proto, p)
        out[f"{p}_induction_min"] = math.nan if pulses is None else pulses[0]
        for label, minutes in times:
            out[f"{p}_fepsp_pct_{label}"] = readout.fepsp_after(proto, fepsp, p, minutes, within_min=tol,
                                                                without_induction="start")
        out[f"{p}_fepsp_pct_last"] = readout.fepsp_last(fepsp, p)[1]
    return out


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
    from .simulation import simulate

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
            return {"status": "failed", "error": _one_line(err), "traceback": traceback.format_exc(),
                    "worker": worker, "timings": {"wall_s": time.perf_counter() - t0}}
    timings = res.metadata.get("timings_s", {})
    return {"status": "ok", "fepsp": res.fepsp, "state": res.state, "metadata": res.metadata,
            "worker": worker,
            "timings": {"setup_s": timings.get("setup_s"), "build_s": timings.get("build_s"),
                        "run_s": timings.get("run_s"), "wall_s": time.perf_counter() - t0}}


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


# ---------------------------------------------------------------------------
# The output folder
# ---------------------------------------------------------------------------

def _fsync(fh) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        x = float(value)
        return "" if math.isnan(x) else repr(x)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return str(value)


def _drop_partial_line(path: Path) -> None:
    """Cut an incomplete last line (a write interrupted by a kill)."""
    if not path.is_file():
        return
    size = path.stat().st_size
    if size == 0:
        return
    with open(path, "rb+") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        block = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            k = chunk.rfind(b"\n")
            if k >= 0:
                fh.truncate(start + k + 1)
                return
            pos = start
        fh.truncate(0)


def _read_csv(path: Path, **kw: Any) -> pd.DataFrame:
    """``pd.read_csv`` that reads floats back exactly (the default from pandas 3 on)."""
    if int(pd.__version__.split(".")[0]) < 3:
        kw.setdefault("float_precision", "round_trip")
    return pd.read_csv(path, **kw)


def _read_points(path: Path) -> pd.DataFrame:
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame()
    return _read_csv(path, dtype={"point_id": str, "status": str, "error": str, "worker": str,
                                  "finished_at": str},
                     keep_default_na=False, na_values=[""])


class _Store:
    """The sweep's output folder: manifest, append-only tables, per-point folders."""

    def __init__(self, out: Path, manifest: dict[str, Any]):
        self.out = out
        self.manifest = manifest
        self.columns: list[str] = manifest["columns"]
        self._lock_fh = None
        self._points_fh = None
        self._tc_fh = None

    # -- opening -------------------------------------------------------------
    def open(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock_fh = open(self.out / _LOCK, "w")
        try:
            fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_fh.close()
            self._lock_fh = None
            raise SweepError(f"{self.out}: another sweep is writing into this folder") from None
        manifest_path = self.out / MANIFEST
        if manifest_path.is_file():
            try:
                stored = json.loads(manifest_path.read_text())
            except ValueError as err:
                raise SweepError(f"{manifest_path}: not a readable sweep manifest ({err})") from None
            _check_same_sweep(self.out, stored, self.manifest)
            # the stored layout wins (units of the columns come from the first run)
            self.manifest = {**self.manifest, "columns": stored["columns"], "grid": stored["grid"],
                             "units": stored["units"], "created": stored.get("created")}
            self.columns = stored["columns"]
        else:
            ours = {MANIFEST, _LOCK}
            others = [p.name for p in self.out.iterdir() if p.name not in ours]
            if others:
                raise SweepError(f"{self.out}: folder is not empty and holds no sweep ({MANIFEST} missing); "
                                 f"choose another output folder")
            tmp = manifest_path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(self.manifest, indent=2) + "\n")
            os.replace(tmp, manifest_path)
        self._repair()
        points_path = self.out / POINTS
        new = not points_path.is_file() or points_path.stat().st_size == 0
        self._points_fh = open(points_path, "a", newline="")
        self._points = csv.writer(self._points_fh)
        if new:
            self._points.writerow(["point_id", "status", *self.columns])
            _fsync(self._points_fh)
        tc_path = self.out / TIMECOURSE
        new = not tc_path.is_file() or tc_path.stat().st_size == 0
        self._tc_fh = open(tc_path, "a", newline="")
        self._tc = csv.writer(self._tc_fh)
        if new:
            self._tc.writerow(_TIMECOURSE_COLUMNS)
            _fsync(self._tc_fh)

    def _repair(self) -> None:
        points_path, tc_path = self.out / POINTS, self.out / TIMECOURSE
        _drop_partial_line(points_path)
        _drop_partial_line(tc_path)
        if points_path.is_file() and points_path.stat().st_size:
            with open(points_path, newline="") as fh:
                header = next(csv.reader(fh), None)
            if header != ["point_id", "status", *self.columns]:
                raise SweepError(f"{points_path}: its columns do not match the manifest; the folder was "
                                 f"changed by hand or by another program")
        if not tc_path.is_file() or tc_path.stat().st_size == 0:
            return
        # time-course rows of a point whose row never made it into points.csv
        rows = self.rows()
        committed = set(rows.point_id[rows.status == "ok"]) if len(rows) else set()
        ids = pd.read_csv(tc_path, usecols=["point_id"], dtype={"point_id": str}).point_id
        if ids.isin(committed).all():
            return
        tc = _read_csv(tc_path, dtype={"point_id": str, "pathway": str})
        tc = tc[tc.point_id.isin(committed)]
        # each committed point keeps one block of rows (the first, in case of a repeat)
        tc = tc[~tc.duplicated(subset=["point_id", "pathway", "time_min"], keep="first")]
        tmp = tc_path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(_TIMECOURSE_COLUMNS)
            for row in tc.itertuples(index=False):
                w.writerow([row.point_id, row.pathway, _cell(row.time_min), _cell(row.fepsp_pct)])
            _fsync(fh)
        os.replace(tmp, tc_path)

    def rows(self) -> pd.DataFrame:
        """Every row of points.csv (a retried point has several; the last counts)."""
        return _read_points(self.out / POINTS)

    def done(self, retry_failed: bool) -> dict[str, str]:
        """point id -> status of the last row of every recorded point to skip."""
        rows = self.rows()
        if rows.empty:
            return {}
        last = rows.drop_duplicates("point_id", keep="last")
        status = dict(zip(last.point_id, last.status))
        if retry_failed:
            status = {k: v for k, v in status.items() if v == "ok"}
        return status

    # -- writing ---------------------------------------------------------------
    def record(self, point: _Point, result: Mapping[str, Any], outcome: Mapping[str, float],
               save_point: bool) -> None:
        folder = self.out / POINT_DIR / point.point_id
        ok = result.get("status") == "ok"
        if save_point or not ok:
            folder.mkdir(parents=True, exist_ok=True)
        if ok and save_point:
            result["fepsp"].to_csv(folder / "fepsp.csv", index=False)
            if result.get("state") is not None:
                result["state"].to_csv(folder / "state.csv", index=False)
            meta = dict(result.get("metadata") or {})
            meta["sweep"] = {"point_id": point.point_id, "grid_values": point.texts}
            with open(folder / "metadata.json", "w") as fh:
                json.dump(meta, fh, indent=2, default=str)
        if not ok:
            (folder / "error.txt").write_text(
                f"{point.label}\n\n{result.get('traceback') or result.get('error')}\n")
        if ok:
            f = result["fepsp"]
            for p, t, y in zip(f.pathway.to_numpy(), f.time_min.to_numpy(float), f.fepsp_pct.to_numpy(float)):
                self._tc.writerow([point.point_id, p, _cell(t), _cell(y)])
            _fsync(self._tc_fh)
        timings = result.get("timings") or {}
        values = {**point.numbers, **outcome, **{k: timings.get(k) for k in _TIMING_COLUMNS},
                  "worker": result.get("worker", ""),
                  "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "error": "" if ok else result.get("error", "failed")}
        self._points.writerow([point.point_id, "ok" if ok else "failed",
                               *(_cell(values.get(c)) for c in self.columns)])
        _fsync(self._points_fh)

    def close(self) -> None:
        for fh in (self._points_fh, self._tc_fh):
            if fh is not None:
                fh.close()
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
        self._points_fh = self._tc_fh = self._lock_fh = None


def _identity(manifest: Mapping[str, Any]) -> dict[str, Any]:
    return {k: manifest[k] for k in ("protocol", "model", "params", "outcome_times")} | {
        "parameters": sorted(manifest["grid"]),
        "points": sorted(p["point_id"] for p in manifest["points"])}


def _check_same_sweep(out: Path, stored: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    if stored.get("format") != _FORMAT:
        raise SweepError(f"{out / MANIFEST}: not a sweep manifest of this version ({stored.get('format')!r})")
    a, b = _identity(stored), _identity(given)
    if a == b:
        return
    what = {"protocol": "the protocol", "model": "the model", "params": "the fixed parameters (--set)",
            "outcome_times": "the outcome times", "parameters": "the grid's names",
            "points": "the grid's values"}
    differs = [what[k] for k in a if a[k] != b[k]]
    details = []
    if a["parameters"] != b["parameters"] or a["points"] != b["points"]:
        details.append(f"stored grid: {_grid_text(stored['grid'])}; given: {_grid_text(given['grid'])}")
    if a["outcome_times"] != b["outcome_times"]:
        details.append(f"stored outcome times: {', '.join(a['outcome_times'])}; "
                       f"given: {', '.join(b['outcome_times'])}")
    if a["params"] != b["params"]:
        details.append(f"stored fixed parameters: {_params_text(a['params'])}; given: {_params_text(b['params'])}")
    detail = f" ({'; '.join(details)})" if details else ""
    raise SweepError(f"{out} holds a different sweep: {' and '.join(differs)} differ{detail}; "
                     f"write this sweep into another folder")


def _grid_text(grid: Mapping[str, Sequence[str]]) -> str:
    return " ".join(f"{k}={','.join(v)}" for k, v in grid.items())


def _params_text(params: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "none"


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------

@dataclass
class SweepResults:
    """What a sweep's output folder holds (see :func:`load_sweep`)."""
    out: Path
    points: pd.DataFrame  # the last row of every recorded point, in grid order
    manifest: dict[str, Any] = field(repr=False)
    pending: list[str] = field(default_factory=list)  # ids of points not recorded yet
    ran: int = 0  # points simulated (or set up and failed) by this call
    skipped: int = 0  # points found recorded already

    @property
    def n_failed(self) -> int:
        return int((self.points.status == "failed").sum()) if len(self.points) else 0

    @property
    def n_ok(self) -> int:
        return int((self.points.status == "ok").sum()) if len(self.points) else 0

    def timecourse(self) -> pd.DataFrame:
        """fEPSP of every recorded point, long format (``point_id``, ``pathway``, ``time_min``,
        ``fepsp_pct``)."""
        path = self.out / TIMECOURSE
        if not path.is_file() or path.stat().st_size == 0:
            return pd.DataFrame(columns=_TIMECOURSE_COLUMNS)
        return _read_csv(path, dtype={"point_id": str, "pathway": str})

    def point_results(self, point_id: str) -> Path:
        """Folder with the point's fepsp.csv, state.csv and metadata.json (or error.txt)."""
        return self.out / POINT_DIR / point_id


def load_sweep(out: str | Path) -> SweepResults:
    """Read a sweep's output folder (finished or not)."""
    out = Path(out)
    path = out / MANIFEST
    if not path.is_file():
        raise SweepError(f"{out}: no sweep here ({MANIFEST} missing)")
    manifest = json.loads(path.read_text())
    return _results(out, manifest)


def _results(out: Path, manifest: dict[str, Any], ran: int = 0, skipped: int = 0) -> SweepResults:
    rows = _read_points(out / POINTS)
    order = {p["point_id"]: k for k, p in enumerate(manifest["points"])}
    if not rows.empty:
        rows = rows.drop_duplicates("point_id", keep="last")
        rows = rows.assign(_order=rows.point_id.map(order)).sort_values("_order", kind="stable")
        rows = rows.drop(columns="_order").reset_index(drop=True)
    else:
        rows = pd.DataFrame(columns=["point_id", "status", *manifest["columns"]])
    recorded = set(rows.point_id)
    pending = [p["point_id"] for p in manifest["points"] if p["point_id"] not in recorded]
    return SweepResults(out, rows, manifest, pending, ran, skipped)


# ---------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------

def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class _Progress:
    """Points done and failed, elapsed and estimated time left, on stderr."""

    def __init__(self, total: int, to_run: int, skipped: int, enabled: bool, where: str,
                 width: int = 24):
        self.total, self.to_run, self.skipped = total, to_run, skipped
        self.enabled, self.where, self.width = enabled, where, width
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
            print(f"sweep: all {self.total} points already done" if self.skipped
                  else "sweep: nothing to run", file=sys.stderr, flush=True)
            return
        print(f"sweep: {self.total} points{skip}; running {self.to_run} {self.where}",
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
        return (f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.to_run} points done"
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

    def finish(self, interrupted: bool = False) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            sys.stderr.write("\r" + self._line() + "\x1b[K\n")
        if self.enabled and interrupted:
            sys.stderr.write(f"sweep interrupted: {self.done} of {self.to_run} points recorded in this "
                             f"run; run the same sweep again to resume\n")
        sys.stderr.flush()


# ---------------------------------------------------------------------------
# Executors
# ---------------------------------------------------------------------------

_WORKER_DIED = ("the worker process running this point died twice while it ran on its own "
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


def _run_in_process(points: Sequence[_Point], runner: Callable, on_result: Callable) -> None:
    for point in points:
        on_result(point, runner(point.spec))
        if _interrupt_flag():  # Ctrl-C reached this process only: the program finished the point
            raise KeyboardInterrupt


def _run_pool(points: Sequence[_Point], workers: int, runner: Callable, on_result: Callable) -> None:
    """Run points in worker processes, at most ``workers`` at a time.

    When the pool breaks (a worker died: killed, out of memory, a crash), every
    point in flight goes back and runs again alone; a point whose worker dies
    twice while it runs alone is recorded as failed, so a kill from outside
    costs a rerun and blames nobody.  Worker processes that die three times
    before any point comes back stop the sweep (they cannot run anything).
    """
    ctx = multiprocessing.get_context("spawn")  # Brian2's device state must not be forked
    queue: deque[_Point] = deque(points)
    suspects: deque[_Point] = deque()
    in_flight: dict[Any, _Point] = {}
    pool: ProcessPoolExecutor | None = None
    any_result = False
    deaths = 0
    solo_deaths: dict[str, int] = {}

    def take(point: _Point, result: Mapping[str, Any]) -> None:
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
                    raise SweepError("worker processes die before any point comes back; check that "
                                     "'import biophys_ltp' works in a fresh Python process, or run "
                                     "with one worker")
                continue
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            broken: list[_Point] = []
            for fut in done:
                point = in_flight.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    broken.append(point)
                    continue
                except Exception as err:  # e.g. a result that cannot be pickled
                    result = {"status": "failed", "error": _one_line(err),
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
                pid = broken[0].point_id
                solo_deaths[pid] = solo_deaths.get(pid, 0) + 1
                if solo_deaths[pid] >= 2 and any_result:
                    on_result(broken[0], {"status": "failed", "error": f"WorkerDied: {_WORKER_DIED}"})
                    continue
            if not any_result and deaths >= 3:
                raise SweepError("worker processes die before any point comes back (nothing was recorded "
                                 "for the points they ran); check that 'import biophys_ltp' works in a "
                                 "fresh Python process, or run with one worker")
            suspects.extend(broken)
    finally:
        if pool is not None:
            if in_flight:
                _terminate(pool)
            else:
                pool.shutdown(wait=True)


def _run_dask(points: Sequence[_Point], client: Any, runner: Callable, on_result: Callable) -> None:
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
                result = {"status": "failed", "error": _one_line(err),
                          "traceback": "".join(traceback.format_exception(err))}
            on_result(point, result)
            fut.release()
    finally:
        if futures:
            with contextlib.suppress(Exception):
                client.cancel(list(futures))


def _dask_client(scheduler: str) -> Any:
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
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: {_one_line(err)}") from None


# ---------------------------------------------------------------------------
# sweep()
# ---------------------------------------------------------------------------

def _model_ref(model: Model) -> str:
    path = Path(model.source)
    return path.stem if path.parent.resolve() == MODELS_DIR.resolve() else str(path.resolve())


def _plan(proto: Protocol, axes: Sequence[_Axis], model_ref: str, fixed: Mapping[str, str],
          base_model: Model) -> list[_Point]:
    points = []
    seen: set[str] = set()
    for choice in itertools.product(*(range(len(a.texts)) for a in axes)):
        pid = _point_id(axes, choice)
        if pid in seen:  # cannot happen with distinct values; kept as a guard
            raise SweepError(f"two grid points have the same id {pid}")
        seen.add(pid)
        texts = {a.name: a.texts[k] for a, k in zip(axes, choice)}
        numbers = {a.column: a.numbers[k] for a, k in zip(axes, choice)}
        point = _Point(pid, texts, numbers)
        params = dict(fixed)
        params.update({a.key: a.texts[k] for a, k in zip(axes, choice) if a.kind == "model"})
        raw, source = _point_protocol(proto, axes, choice)
        try:
            point.protocol = protocol_from_dict(raw, source=source)
            missing = [p for p in point.protocol.pathways if p not in base_model.pathways]
            if missing:
                raise ProtocolError(f"{source}: pathway(s) {', '.join(missing)} not in the model")
        except (ProtocolError, ModelError, UnitParseError) as err:
            point.error = _one_line(err)
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
    if workers is not None and workers < 1:
        raise SweepError(f"workers must be at least 1, got {workers}")
    proto = load_protocol(protocol)
    base = model if isinstance(model, Model) else load_model(model)
    fixed_in = {**dict(base.overrides), **dict(params or {})}
    fixed_model = base.with_overrides(fixed_in)  # checks names and units
    fixed = {k: fixed_model.all_parameters()[k].text for k in fixed_in}
    if not isinstance(grid, Mapping):
        grid = parse_grid(grid)
    axes = _validate_grid(grid, proto, fixed_model)
    both = [a.name for a in axes if a.kind == "model" and a.name in fixed]
    if both:
        raise SweepError(f"{', '.join(both)}: both a fixed parameter and in the grid")
    times = _outcome_times(outcome_times)
    ref = _model_ref(base)
    points = _plan(proto, axes, ref, fixed, fixed_model)

    proto_id = proto.to_dict()
    proto_id.pop("source", None)
    columns = ([a.column for a in axes] + _outcome_columns(proto.pathways, times)
               + _TIMING_COLUMNS + ["worker", "finished_at", "error"])
    manifest = {
        "format": _FORMAT,
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
        client_ = _dask_client(scheduler)  # fails early when Dask is missing
    own_client = client is None and scheduler is not None

    out = Path(out)
    store = _Store(out, manifest)
    interrupted = False
    ran = 0
    try:
        store.open()
        units = store.manifest["units"]
        if any(units.get(a.name, a.unit) != a.unit for a in axes):  # resumed, values written in other units
            axes = [_in_unit(a, units.get(a.name, a.unit)) for a in axes]
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
            from .simulation import default_workers
            n_workers = min(workers or default_workers(), max(sum(p.error is None for p in todo), 1))
            where = "in this process" if n_workers <= 1 else f"in {n_workers} worker processes"
        if progress is None:
            progress = sys.stderr.isatty()
        skipped = sum(1 for p in points if p.point_id in done)
        bar = _Progress(len(points), len(todo), skipped, progress, where)

        def on_result(point: _Point, result: Mapping[str, Any]) -> None:
            nonlocal ran
            result = dict(result)
            outcome: dict[str, float] = {}
            if result.get("status") == "ok":
                try:
                    outcome = outcomes(point.protocol, result["fepsp"], times)
                except Exception as err:
                    result = {**result, "status": "failed", "error": f"outcomes: {_one_line(err)}",
                              "traceback": traceback.format_exc()}
            ok = result.get("status") == "ok"
            store.record(point, result, outcome, save_points)
            ran += 1
            bar.step(point.label, ok, simulated=True)

        bar.start()
        try:
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
                _run_dask(runnable, client_, runner, on_result)
            elif n_workers <= 1:
                _run_in_process(runnable, runner, on_result)
            else:
                _run_pool(runnable, n_workers, runner, on_result)
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            bar.finish(interrupted)
    finally:
        store.close()
        if own_client and client_ is not None:
            with contextlib.suppress(Exception):
                client_.close()
    return _results(out, store.manifest, ran=ran, skipped=skipped)
