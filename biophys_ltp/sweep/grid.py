"""The sweep's grid: parsing and validating axes, each point's protocol and
parameters, and the outcomes read from a point's fEPSP table."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Sequence

import brian2 as b2
from brian2.units.fundamentalunits import DIMENSIONLESS
import numpy as np
import pandas as pd

from .. import readout
from ..model import Model
from ..protocol import Protocol
from ..errors import InputError
from ..units import UnitParseError, format_quantity, parse_quantity, strip_quotes


#: Times after each pathway's first induction at which ``points.csv`` reports the fEPSP.
DEFAULT_OUTCOME_TIMES: tuple[str, ...] = ("1 h", "3 h", "8 h")



# event keys that may be swept, with their dimension (None: a whole number)
_EVENT_KEYS: dict[str, Any] = {
    "at": b2.second, "start": b2.second, "stop": b2.second, "every": b2.second, "dt": b2.second,
    "frequency": b2.Hz, "burst_frequency": b2.Hz, "spike_frequency": b2.Hz,
    "pulses": None, "repeats": None, "burst_pulses": None, "pairs": None, "spikes": None,
}
_PROTOCOL_KEYS: dict[str, Any] = {"duration": b2.second, "baseline": b2.second,
                                  "test_interval": b2.second}
_EVENT_NAME = re.compile(r"^events\[\s*(-?\d+)\s*\]\.(\w+)$")
_PROTOCOL_NAME = re.compile(r"^protocol\.(\w+)$")
_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class SweepError(InputError):
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
class Axis:
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
                   dimension: Any) -> Axis:
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
    return Axis(name, kind, key, index, texts, canon, numbers, unit)


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


def _count_axis(name: str, kind: str, key: str, index: int | None, values: list[Any]) -> Axis:
    counts = []
    for v in values:
        try:
            x = float(v) if not isinstance(v, bool) else math.nan
        except (TypeError, ValueError):
            x = math.nan
        if not (math.isfinite(x) and x == int(x) and x >= 1):
            raise SweepError(f'"{name}": expected a whole number (>= 1), got {v!r}')
        counts.append(int(x))
    return Axis(name, kind, key, index, [str(c) for c in counts], list(counts),
                 [float(c) for c in counts], "")


def validate_grid(grid: Mapping[str, Any], proto: Protocol, model: Model) -> list[Axis]:
    if not isinstance(grid, Mapping) or not grid:
        raise SweepError("the grid is empty: give at least one NAME with values")
    from ..events import KIND_KEYS

    axes: list[Axis] = []
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
                    f"{name}: unknown parameter: not a parameter of {model.label} ({hint}see "
                    f"'biophys-ltp model show'), nor a protocol setting (events[i].KEY, protocol.KEY)")
            if isinstance(model[name], (list, tuple)):
                raise SweepError(f"{name}: a list-valued structure entry cannot be swept")
            if isinstance(model[name], str):
                raise SweepError(f"{name}: a structure entry that names a choice ({model[name]!r}) cannot be "
                                 f"swept; run the sweep once per value with --set {name}=VALUE")
            # the model checks the name and the unit of every value
            for v in values:
                model.with_overrides({name: v})
            if isinstance(model[name], (int, np.integer)) and not isinstance(model[name], bool):
                axis = _count_axis(name, "model", name, None, values)
            else:
                axis = _quantity_axis(name, "model", name, None, values, b2.get_dimensions(model[name]))
        if len(set(map(json.dumps, axis.canon))) != len(axis.canon):
            raise SweepError(f"{name}: the same value is listed twice ({', '.join(map(str, values))}, "
                             f"read as {', '.join(axis.texts)})")
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


def in_unit(axis: Axis, unit: str) -> Axis:
    """The axis with its numbers in ``unit`` (that of an existing sweep's columns)."""
    if unit == axis.unit or not unit or not axis.unit:
        return axis
    scale = float(np.asarray(parse_quantity(f"1 {unit}")))
    return replace(axis, unit=unit, numbers=[float(c[0]) / scale for c in axis.canon])


def make_point_id(axes: Sequence[Axis], choice: Sequence[int]) -> str:
    payload = {a.name: a.canon[k] for a, k in zip(axes, choice)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def point_protocol(proto: Protocol, axes: Sequence[Axis], choice: Sequence[int]) -> tuple[dict, str]:
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
class Point:
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


def parse_outcome_times(values: Sequence[Any]) -> list[tuple[str, float]]:
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


def outcome_columns(pathways: Sequence[str], times: Sequence[tuple[str, float]]) -> list[str]:
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
