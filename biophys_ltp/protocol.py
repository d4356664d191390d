"""Stimulation protocols, read from TOML files.

A protocol describes one experiment: its total duration, a baseline period
with test pulses only, the recorded pathways, the test-pulse interval, and
a list of events (tetani, low-frequency trains, pairings, drug
applications).  Everything is checked when the protocol is loaded, before
any simulation, and every problem is reported as a :class:`ProtocolError`
whose message names the file, the event and what is wrong.

File format (times, durations and frequencies are strings with units)::

    name = "STC: strong tetanus S1, weak tetanus S2"
    duration = "10 h"            # total, including baseline
    baseline = "30 min"          # test pulses only, before the first induction
    test_interval = "5 min"      # one test pulse per pathway per interval
    pathways = ["S1", "S2", "S3"]
    description = "optional free text"

    [[events]]
    kind = "strong_tetanus"
    pathway = "S1"
    at = "30 min"

    [[events]]
    kind = "train"
    pathway = "S2"
    at = "65 min"
    pulses = 21
    frequency = "100 Hz"

    [[events]]
    kind = "drug"
    drug = "anisomycin"
    start = "0 min"
    stop = "150 min"

Event kinds:

``train``
    ``pulses`` (bursts) at ``frequency``; optional ``repeats`` (default 1)
    started ``every`` apart, and ``burst_pulses`` (default 1) pulses per
    burst at ``burst_frequency``.  Pulse *i* of burst *b* of repeat *r* is
    at ``at + r*every + b/frequency + i/burst_frequency``.
``weak_tetanus``, ``strong_tetanus``, ``wlfs``, ``slfs``, ``tbs``
    Presets of ``train`` (see :data:`PRESETS`); any train key given
    explicitly overrides the preset.
``pairing``
    ``pairs`` (default 60) presynaptic pulses at ``frequency`` (default
    1 Hz), each with a somatic spike ``dt`` (default 10 ms, may be negative)
    after the pulse.
``drug``
    ``drug`` (``"anisomycin"`` or ``"apv"``) present from ``start`` to
    ``stop``.

All times returned by :class:`Protocol` are Brian2 quantities in seconds,
rounded to the nearest nanosecond, and arrays are sorted.
"""

from __future__ import annotations

import copy
import math
import tomllib
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from brian2 import Hz, Quantity, ms, second

from ._paths import shipped
from .units import UnitParseError, format_quantity, parse_quantity

__all__ = [
    "ProtocolError",
    "Event",
    "Protocol",
    "load_protocol",
    "protocol_from_dict",
    "list_protocols",
    "PROTOCOLS_DIR",
    "TEST_STAGGER",
    "TEST_PULSE_MARGIN",
    "DRUGS",
    "KINDS",
    "PRESETS",
]

#: Folder holding the protocol files shipped with the package.
PROTOCOLS_DIR = shipped("protocols")

#: Offset of the test pulse of pathway *k* (0-based) within each test interval.
TEST_STAGGER = 100 * ms

#: Test pulses within this margin of an induction event of the same pathway
#: are dropped.
TEST_PULSE_MARGIN = 1 * second

#: Drugs a ``drug`` event may apply.
DRUGS = ("anisomycin", "apv")

_TRAIN_KEYS = ("pulses", "frequency", "repeats", "every", "burst_pulses", "burst_frequency")

#: Named presets of the generic ``train`` event (values as in a protocol file).
PRESETS: dict[str, dict[str, Any]] = {
    # Frey & Morris 1997: 1 train of 21 pulses at 100 Hz.
    "weak_tetanus": {"pulses": 21, "frequency": "100 Hz"},
    # Frey & Morris 1997: 3 trains of 100 pulses at 100 Hz, 10 min apart.
    "strong_tetanus": {"pulses": 100, "frequency": "100 Hz", "repeats": 3, "every": "10 min"},
    # Weak low-frequency stimulation: 900 pulses at 1 Hz.
    "wlfs": {"pulses": 900, "frequency": "1 Hz"},
    # Strong low-frequency stimulation: 900 bursts at 1 Hz of 3 pulses at 20 Hz.
    "slfs": {"pulses": 900, "frequency": "1 Hz", "burst_pulses": 3, "burst_frequency": "20 Hz"},
    # Theta-burst stimulation: 10 bursts at 5 Hz of 4 pulses at 100 Hz.
    "tbs": {"pulses": 10, "frequency": "5 Hz", "burst_pulses": 4, "burst_frequency": "100 Hz"},
}

_PAIRING_DEFAULTS: dict[str, Any] = {"pairs": 60, "frequency": "1 Hz", "dt": "10 ms"}

_TRAIN_KINDS = ("train", *PRESETS)

#: Allowed keys per event kind.
KIND_KEYS: dict[str, tuple[str, ...]] = {
    **{kind: ("kind", "pathway", "at", *_TRAIN_KEYS) for kind in _TRAIN_KINDS},
    "pairing": ("kind", "pathway", "at", "pairs", "frequency", "dt"),
    "drug": ("kind", "drug", "start", "stop"),
}

#: Keys an event of each kind must give (after presets are applied).
_REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    **{kind: ("pathway", "at", "pulses", "frequency") for kind in _TRAIN_KINDS},
    "pairing": ("pathway", "at"),
    "drug": ("drug", "start", "stop"),
}

#: All event kinds, in the order they are listed in messages.
KINDS: tuple[str, ...] = tuple(KIND_KEYS)

_TOP_LEVEL_KEYS = (
    "name",
    "description",
    "duration",
    "baseline",
    "test_interval",
    "pathways",
    "events",
)
_TOP_LEVEL_REQUIRED = ("name", "duration", "baseline", "test_interval", "pathways")


class ProtocolError(ValueError):
    """A protocol file or dictionary is invalid."""


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _seconds(q: Quantity) -> float:
    """Value of a time quantity in seconds, as a float."""
    return float(np.asarray(q / second))


def _round_ns(values: np.ndarray) -> np.ndarray:
    """Round times in seconds to the nearest nanosecond."""
    return np.round(np.asarray(values, dtype=float) * 1e9) / 1e9


def _times(values_s: np.ndarray | list[float]) -> Quantity:
    """Sorted times (seconds, rounded to 1 ns) as a Brian2 quantity array."""
    arr = _round_ns(np.sort(np.asarray(values_s, dtype=float)))
    return arr * second


def _time(value_s: float) -> Quantity:
    return float(_round_ns(np.asarray(value_s))) * second


def _fmt(q: Quantity) -> str:
    return format_quantity(q)


def _normalise(value: Any) -> Any:
    """Deep copy of dict content with scalar quantities written as strings."""
    if isinstance(value, Quantity):
        if np.ndim(value) == 0:
            return format_quantity(value)
        return value
    if isinstance(value, Mapping):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    return copy.deepcopy(value)


class _Context:
    """Where a value comes from, for error messages."""

    def __init__(self, source: str, where: str | None = None):
        self.source = source
        self.where = where

    def fail(self, problem: str) -> ProtocolError:
        if self.where:
            return ProtocolError(f"{self.source}: {self.where}: {problem}")
        return ProtocolError(f"{self.source}: {problem}")

    def quantity(self, data: Mapping, key: str, dimension: Any) -> Quantity:
        try:
            return parse_quantity(data[key], dimension=dimension, what=key)
        except UnitParseError as err:
            raise self.fail(str(err)) from None

    def time(self, data: Mapping, key: str, *, allow_negative: bool = False) -> Quantity:
        value = self.quantity(data, key, second)
        if not allow_negative and value < 0 * second:
            raise self.fail(f'"{key}" must not be negative, got {data[key]!r}')
        return value

    def positive_time(self, data: Mapping, key: str) -> Quantity:
        value = self.quantity(data, key, second)
        if value <= 0 * second:
            raise self.fail(f'"{key}" must be positive, got {data[key]!r}')
        return value

    def frequency(self, data: Mapping, key: str) -> Quantity:
        value = self.quantity(data, key, Hz)
        if value <= 0 * Hz:
            raise self.fail(f'"{key}" must be a positive frequency, got {data[key]!r}')
        return value

    def count(self, data: Mapping, key: str) -> int:
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise self.fail(f'"{key}" must be a whole number (>= 1), got {value!r}')
        if value < 1:
            raise self.fail(f'"{key}" must be at least 1, got {value!r}')
        return int(value)


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Event:
    """One validated protocol event, with all defaults filled in.

    Train kinds (``train`` and its presets) use ``at``, ``pulses``,
    ``frequency``, ``repeats``, ``every``, ``burst_pulses`` and
    ``burst_frequency``; ``pairing`` uses ``at``, ``pairs``, ``frequency``
    and ``dt``; ``drug`` uses ``drug``, ``start`` and ``stop``.  Unused
    fields are ``None``.
    """

    kind: str
    pathway: str | None = None
    at: Quantity | None = None
    pulses: int | None = None
    frequency: Quantity | None = None
    repeats: int | None = None
    every: Quantity | None = None
    burst_pulses: int | None = None
    burst_frequency: Quantity | None = None
    pairs: int | None = None
    dt: Quantity | None = None
    drug: str | None = None
    start: Quantity | None = None
    stop: Quantity | None = None

    @property
    def is_drug(self) -> bool:
        """True for a drug application."""
        return self.kind == "drug"

    @property
    def is_train(self) -> bool:
        """True for ``train`` and its presets."""
        return self.kind in _TRAIN_KINDS

    def _pulse_seconds(self) -> np.ndarray:
        if self.is_train:
            at = _seconds(self.at)
            every = _seconds(self.every) if self.every is not None else 0.0
            freq = float(self.frequency / Hz)
            burst_freq = float(self.burst_frequency / Hz) if self.burst_frequency is not None else 1.0
            r = np.arange(self.repeats)[:, None, None] * every
            b = np.arange(self.pulses)[None, :, None] / freq
            i = np.arange(self.burst_pulses)[None, None, :] / burst_freq
            return np.sort(_round_ns((at + r + b + i).ravel()))
        if self.kind == "pairing":
            at = _seconds(self.at)
            return _round_ns(at + np.arange(self.pairs) / float(self.frequency / Hz))
        return np.zeros(0)

    def _spike_seconds(self) -> np.ndarray:
        if self.kind != "pairing":
            return np.zeros(0)
        return _round_ns(self._pulse_seconds() + _seconds(self.dt))

    def pulse_times(self) -> Quantity:
        """Times of this event's presynaptic pulses (empty for a drug)."""
        return self._pulse_seconds() * second

    def spike_times(self) -> Quantity:
        """Onsets of this event's somatic spikes (pairing only; else empty)."""
        return self._spike_seconds() * second

    def _span_seconds(self) -> tuple[float, float]:
        if self.is_drug:
            return _seconds(self.start), _seconds(self.stop)
        times = np.concatenate([self._pulse_seconds(), self._spike_seconds()])
        return float(times.min()), float(times.max())

    def span(self) -> tuple[Quantity, Quantity]:
        """``(first, last)`` time of the event.

        For trains, the first and last pulse; for a pairing, the first and
        last of its pulses and somatic spikes; for a drug, ``(start, stop)``.
        """
        first, last = self._span_seconds()
        return _time(first), _time(last)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description, in the protocol file format."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.is_drug:
            out.update(drug=self.drug, start=_fmt(self.start), stop=_fmt(self.stop))
            return out
        out.update(pathway=self.pathway, at=_fmt(self.at))
        if self.kind == "pairing":
            out.update(pairs=self.pairs, frequency=_fmt(self.frequency), dt=_fmt(self.dt))
            return out
        out.update(pulses=self.pulses, frequency=_fmt(self.frequency), repeats=self.repeats)
        if self.every is not None:
            out["every"] = _fmt(self.every)
        out["burst_pulses"] = self.burst_pulses
        if self.burst_frequency is not None:
            out["burst_frequency"] = _fmt(self.burst_frequency)
        return out


def _event_label(index: int, data: Any) -> str:
    kind = data.get("kind") if isinstance(data, Mapping) else None
    if isinstance(kind, str):
        return f"event {index + 1} ({kind})"
    return f"event {index + 1}"


def _parse_event(data: Any, index: int, source: str) -> Event:
    """Check one event's keys and values on their own (no timing checks)."""
    ctx = _Context(source, _event_label(index, data))
    if not isinstance(data, Mapping):
        raise ctx.fail(f"must be a table of keys, got {data!r}")
    if "kind" not in data:
        raise ctx.fail(f'missing required key "kind" (one of {", ".join(KINDS)})')
    kind = data["kind"]
    if not isinstance(kind, str) or kind not in KIND_KEYS:
        raise ctx.fail(f"unknown kind {kind!r} (known kinds: {', '.join(KINDS)})")
    allowed = KIND_KEYS[kind]
    unknown = [key for key in data if key not in allowed]
    if unknown:
        raise ctx.fail(
            f"unknown key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(k) for k in unknown)} "
            f"(a {kind} event accepts: {', '.join(k for k in allowed if k != 'kind')})"
        )
    given = dict(data)
    if kind in PRESETS:
        given = {**PRESETS[kind], **given}
    elif kind == "pairing":
        given = {**_PAIRING_DEFAULTS, **given}
    for key in _REQUIRED_KEYS[kind]:
        if key not in given:
            raise ctx.fail(f'missing required key "{key}"')

    if kind == "drug":
        drug = given["drug"]
        if drug not in DRUGS:
            raise ctx.fail(f"unknown drug {drug!r} (known drugs: {', '.join(DRUGS)})")
        start = ctx.time(given, "start")
        stop = ctx.time(given, "stop")
        if stop <= start:
            raise ctx.fail(
                f'"stop" ({given["stop"]}) must be after "start" ({given["start"]})'
            )
        return Event(kind=kind, drug=drug, start=start, stop=stop)

    pathway = given["pathway"]
    if not isinstance(pathway, str):
        raise ctx.fail(f'"pathway" must be a string, got {pathway!r}')
    at = ctx.time(given, "at")

    if kind == "pairing":
        pairs = ctx.count(given, "pairs")
        frequency = ctx.frequency(given, "frequency")
        dt = ctx.time(given, "dt", allow_negative=True)
        return Event(kind=kind, pathway=pathway, at=at, pairs=pairs, frequency=frequency, dt=dt)

    pulses = ctx.count(given, "pulses")
    frequency = ctx.frequency(given, "frequency")
    repeats = ctx.count(given, "repeats") if "repeats" in given else 1
    burst_pulses = ctx.count(given, "burst_pulses") if "burst_pulses" in given else 1
    burst_frequency = None
    if "burst_frequency" in given:
        burst_frequency = ctx.frequency(given, "burst_frequency")
    elif burst_pulses > 1:
        raise ctx.fail(f'missing required key "burst_frequency" (burst_pulses = {burst_pulses})')
    burst_length = 0 * second
    if burst_pulses > 1:
        burst_length = (burst_pulses - 1) / burst_frequency
        if burst_length >= 1 / frequency:
            raise ctx.fail(
                f"a burst of {burst_pulses} pulses at {_fmt(burst_frequency)} lasts "
                f"{_fmt(burst_length)}, which is not shorter than the period "
                f"{_fmt(1 / frequency)} of \"frequency\" ({_fmt(frequency)})"
            )
    every = None
    if "every" in given:
        every = ctx.positive_time(given, "every")
    elif repeats > 1:
        raise ctx.fail(f'missing required key "every" (repeats = {repeats})')
    if every is not None and repeats > 1:
        repeat_length = (pulses - 1) / frequency + burst_length
        if every <= repeat_length:
            raise ctx.fail(
                f'"every" ({_fmt(every)}) must exceed the length of one repeat '
                f"({_fmt(repeat_length)})"
            )
    return Event(
        kind=kind,
        pathway=pathway,
        at=at,
        pulses=pulses,
        frequency=frequency,
        repeats=repeats,
        every=every,
        burst_pulses=burst_pulses,
        burst_frequency=burst_frequency,
    )


def _check_event_timing(
    event: Event,
    ctx: _Context,
    *,
    pathways: tuple[str, ...],
    duration: Quantity,
    baseline: Quantity,
) -> None:
    """Check an event against the protocol's pathways, baseline and duration."""
    duration_s = _seconds(duration)
    if event.is_drug:
        if event.stop > duration:
            raise ctx.fail(
                f'"stop" ({_fmt(event.stop)}) is after the end of the protocol '
                f"(duration {_fmt(duration)})"
            )
        return
    if event.pathway not in pathways:
        raise ctx.fail(
            f"unknown pathway {event.pathway!r} (pathways: {', '.join(pathways)})"
        )
    if event.at < baseline:
        raise ctx.fail(
            f'"at" ({_fmt(event.at)}) is before the end of the baseline ({_fmt(baseline)})'
        )
    spikes = event._spike_seconds()
    if spikes.size and spikes.min() < 0:
        raise ctx.fail(
            f"its first somatic spike would be at {_fmt(_time(spikes.min()))}, before time 0 "
            f'("at" {_fmt(event.at)}, "dt" {_fmt(event.dt)})'
        )
    pulses = event._pulse_seconds()
    if pulses.max() >= duration_s:
        raise ctx.fail(
            f"its last pulse at {_fmt(_time(pulses.max()))} is not before the end "
            f"of the protocol (duration {_fmt(duration)})"
        )
    if spikes.size and spikes.max() >= duration_s:
        raise ctx.fail(
            f"its last somatic spike at {_fmt(_time(spikes.max()))} is not before the end "
            f"of the protocol (duration {_fmt(duration)})"
        )


def _check_overlaps(events: tuple[Event, ...], source: str) -> None:
    """Reject overlapping inductions on one pathway and overlapping drug windows."""
    for j, later in enumerate(events):
        j0, j1 = later._span_seconds()
        for i in range(j):
            earlier = events[i]
            i0, i1 = earlier._span_seconds()
            if later.is_drug and earlier.is_drug and later.drug == earlier.drug:
                if i0 < j1 and j0 < i1:
                    raise _Context(source, f"event {j + 1} ({later.kind})").fail(
                        f"{later.drug} window {_fmt(_time(j0))} to {_fmt(_time(j1))} overlaps "
                        f"the window {_fmt(_time(i0))} to {_fmt(_time(i1))} of "
                        f"event {i + 1} ({earlier.kind})"
                    )
            elif (
                not later.is_drug
                and not earlier.is_drug
                and later.pathway == earlier.pathway
                and i0 <= j1
                and j0 <= i1
            ):
                raise _Context(source, f"event {j + 1} ({later.kind})").fail(
                    f"overlaps event {i + 1} ({earlier.kind}) on pathway {later.pathway}: "
                    f"{_fmt(_time(j0))} to {_fmt(_time(j1))} against "
                    f"{_fmt(_time(i0))} to {_fmt(_time(i1))}"
                )


# ---------------------------------------------------------------------------
# Protocol
# ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Protocol:
    """A validated stimulation protocol.

    Build one with :func:`load_protocol` or :func:`protocol_from_dict`.
    All times are Brian2 quantities (seconds).
    """

    name: str
    source: str
    duration: Quantity
    baseline: Quantity
    test_interval: Quantity
    pathways: tuple[str, ...]
    events: tuple[Event, ...]
    raw: dict = field(repr=False)
    description: str = ""

    # -- derived schedules -------------------------------------------------

    def induction_pulses(self) -> dict[str, Quantity]:
        """Presynaptic pulses other than test pulses, per pathway (sorted).

        Includes the pulses of trains, bursts and pairings.  Every pathway
        of :attr:`pathways` is a key; its array is empty where it has no
        induction.
        """
        out = {}
        for pathway in self.pathways:
            parts = [e._pulse_seconds() for e in self.events if e.pathway == pathway]
            out[pathway] = _times(np.concatenate(parts) if parts else np.zeros(0))
        return out

    def test_pulses(self) -> dict[str, Quantity]:
        """Test pulses per pathway (sorted).

        One test pulse per :attr:`test_interval` from time 0 up to (not
        including) :attr:`duration`; pathway *k* (0-based, in the order of
        :attr:`pathways`) is offset by ``k * TEST_STAGGER`` within each
        interval.  A test pulse is dropped where it would fall inside an
        induction event of its own pathway (the event's span widened by
        :data:`TEST_PULSE_MARGIN` on both sides), or within that margin of
        any induction pulse or somatic current step of another pathway: no
        response is measured while the cell is being driven.
        """
        duration_s = _seconds(self.duration)
        interval_s = _seconds(self.test_interval)
        stagger_s = _seconds(TEST_STAGGER)
        margin_s = _seconds(TEST_PULSE_MARGIN)
        n_intervals = int(math.ceil(duration_s / interval_s)) + 1
        starts = _round_ns(np.arange(n_intervals) * interval_s)
        starts = starts[starts < duration_s]
        drive = [e._pulse_seconds() for e in self.events if not e.is_drug]
        drive += [e._spike_seconds() for e in self.events if not e.is_drug]
        drive_s = np.sort(np.concatenate(drive)) if drive else np.zeros(0)
        out = {}
        for k, pathway in enumerate(self.pathways):
            times = _round_ns(starts + k * stagger_s)
            keep = times < duration_s
            for event in self.events:
                if event.pathway != pathway:
                    continue
                first, last = event._span_seconds()
                keep &= ~((times >= first - margin_s) & (times <= last + margin_s))
            if len(drive_s):
                j = np.searchsorted(drive_s, times)
                before = drive_s[np.clip(j - 1, 0, len(drive_s) - 1)]
                after = drive_s[np.clip(j, 0, len(drive_s) - 1)]
                near = (np.abs(times - before) <= margin_s) | (np.abs(after - times) <= margin_s)
                keep &= ~near
            out[pathway] = _times(times[keep])
        return out

    def somatic_spikes(self) -> Quantity:
        """Onset times of the somatic current steps of all pairings (sorted)."""
        parts = [e._spike_seconds() for e in self.events if e.kind == "pairing"]
        return _times(np.concatenate(parts) if parts else np.zeros(0))

    def drug_windows(self) -> dict[str, list[tuple[Quantity, Quantity]]]:
        """``(start, stop)`` windows of each drug in :data:`DRUGS`, sorted by start."""
        out: dict[str, list[tuple[Quantity, Quantity]]] = {drug: [] for drug in DRUGS}
        for event in sorted(
            (e for e in self.events if e.is_drug), key=lambda e: _seconds(e.start)
        ):
            out[event.drug].append((event.start, event.stop))
        return out

    def induction_onsets(self) -> dict[str, Quantity | None]:
        """Time of the first induction pulse of each pathway (``None`` if none)."""
        return {
            pathway: (pulses[0] if len(pulses) else None)
            for pathway, pulses in self.induction_pulses().items()
        }

    # -- description and variants ------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (values as strings with units).

        Apart from the ``"source"`` key, the result is in the protocol file
        format with all defaults filled in, so ``protocol_from_dict`` of it
        (without ``"source"``) gives the same schedule.
        """
        out: dict[str, Any] = {"name": self.name, "source": self.source}
        if self.description:
            out["description"] = self.description
        out.update(
            duration=_fmt(self.duration),
            baseline=_fmt(self.baseline),
            test_interval=_fmt(self.test_interval),
            pathways=list(self.pathways),
            events=[event.to_dict() for event in self.events],
        )
        return out

    def replace_event_time(self, index: int, at: Quantity | str) -> "Protocol":
        """Copy of this protocol with event ``index`` (0-based) moved to ``at``.

        ``at`` is a time quantity or a string with a unit.  For a drug event
        the window keeps its length and starts at ``at``.  The new protocol
        is validated again, so a move that makes it invalid raises
        :class:`ProtocolError`.
        """
        if not 0 <= index < len(self.events):
            raise IndexError(
                f"{self.source}: event index {index} out of range "
                f"(the protocol has {len(self.events)} events, numbered from 0)"
            )
        ctx = _Context(self.source, f"event {index + 1} ({self.events[index].kind})")
        new_at = ctx.time({"at": at}, "at")
        raw = copy.deepcopy(self.raw)
        event_raw = raw["events"][index]
        event = self.events[index]
        if event.is_drug:
            event_raw["start"] = format_quantity(new_at)
            event_raw["stop"] = format_quantity(new_at + (event.stop - event.start))
        else:
            event_raw["at"] = format_quantity(new_at)
        return protocol_from_dict(raw, source=self.source)


def protocol_from_dict(d: Mapping[str, Any], source: str = "<dict>") -> Protocol:
    """Validate protocol content (as read from TOML) and build a :class:`Protocol`.

    Scalar Brian2 quantities in ``d`` are accepted where the file format
    expects strings with units; they are stored in :attr:`Protocol.raw` as
    such strings.
    """
    top = _Context(source)
    if not isinstance(d, Mapping):
        raise top.fail(f"a protocol must be a table of keys, got {type(d).__name__}")
    raw = _normalise(d)

    unknown = [key for key in raw if key not in _TOP_LEVEL_KEYS]
    if unknown:
        raise top.fail(
            f"unknown top-level key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(k) for k in unknown)} (allowed: {', '.join(_TOP_LEVEL_KEYS)})"
        )
    for key in _TOP_LEVEL_REQUIRED:
        if key not in raw:
            raise top.fail(f'missing required key "{key}"')

    name = raw["name"]
    if not isinstance(name, str) or not name.strip():
        raise top.fail(f'"name" must be a non-empty string, got {name!r}')
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise top.fail(f'"description" must be a string, got {description!r}')

    duration = top.positive_time(raw, "duration")
    baseline = top.time(raw, "baseline")
    if baseline >= duration:
        raise top.fail(
            f'"baseline" ({_fmt(baseline)}) must be shorter than "duration" ({_fmt(duration)})'
        )
    test_interval = top.positive_time(raw, "test_interval")

    pathways = raw["pathways"]
    if (
        not isinstance(pathways, list)
        or not pathways
        or not all(isinstance(p, str) and p.strip() for p in pathways)
    ):
        raise top.fail(f'"pathways" must be a non-empty list of names, got {pathways!r}')
    seen: set[str] = set()
    for pathway in pathways:
        if pathway in seen:
            raise top.fail(f'"pathways" names {pathway!r} more than once')
        seen.add(pathway)
    pathways_t = tuple(pathways)
    if (len(pathways_t) - 1) * TEST_STAGGER >= test_interval:
        raise top.fail(
            f'"test_interval" ({_fmt(test_interval)}) is too short for the test pulses of '
            f"{len(pathways_t)} pathways staggered by {_fmt(TEST_STAGGER)}"
        )

    raw_events = raw.get("events", [])
    if not isinstance(raw_events, list):
        raise top.fail(f'"events" must be a list of tables ([[events]]), got {raw_events!r}')
    events = []
    for index, data in enumerate(raw_events):
        event = _parse_event(data, index, source)
        _check_event_timing(
            event,
            _Context(source, _event_label(index, data)),
            pathways=pathways_t,
            duration=duration,
            baseline=baseline,
        )
        events.append(event)
    events_t = tuple(events)
    _check_overlaps(events_t, source)

    return Protocol(
        name=name,
        source=source,
        duration=duration,
        baseline=baseline,
        test_interval=test_interval,
        pathways=pathways_t,
        events=events_t,
        raw=raw,
        description=description,
    )


def list_protocols() -> list[str]:
    """Names (file stems) of the protocol files shipped in :data:`PROTOCOLS_DIR`."""
    if not PROTOCOLS_DIR.is_dir():
        return []
    return sorted(p.stem for p in PROTOCOLS_DIR.glob("*.toml"))


def _resolve_path(source: str | PathLike) -> Path:
    path = Path(source)
    if path.is_file():
        return path
    if path.parent == Path("."):
        for candidate in (PROTOCOLS_DIR / path.name, PROTOCOLS_DIR / f"{path.name}.toml"):
            if candidate.is_file():
                return candidate
    shipped = ", ".join(list_protocols()) or "none"
    raise ProtocolError(
        f"{source}: no such protocol file (shipped protocols in {PROTOCOLS_DIR}: {shipped})"
    )


def load_protocol(source: str | PathLike | Mapping[str, Any] | Protocol) -> Protocol:
    """Load and validate a protocol.

    ``source`` is a path to a TOML file, the name of a file in
    :data:`PROTOCOLS_DIR` (with or without ``.toml``), a dictionary with the
    same content (source ``"<dict>"``), or a :class:`Protocol` (returned as
    is).
    """
    if isinstance(source, Protocol):
        return source
    if isinstance(source, Mapping):
        return protocol_from_dict(source)
    path = _resolve_path(source)
    try:
        with path.open("rb") as fh:
            content = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ProtocolError(f"{path}: not valid TOML: {err}") from None
    return protocol_from_dict(content, source=str(path))
