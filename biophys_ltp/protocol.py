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
    after the pulse; optional ``spikes`` (default 1): a burst of that many
    somatic spikes at ``spike_frequency``, the first ``dt`` after the pulse.
``drug``
    ``drug`` (a drug of the drug table, :data:`biophys_ltp.drugs.DRUGS`:
    ``"apv"``, ``"anisomycin"``, ``"actinomycin_d"``, ``"kn62"``, ``"kt5720"``,
    ``"forskolin"``, ``"zip"``) present from ``start`` to ``stop``.

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
from brian2 import Quantity, ms, second

from ._paths import shipped
from .events import (DRUGS, KINDS, PRESETS, Context, Event, ProtocolError, check_event_timing,
                     check_overlaps, event_label, fmt, normalise, parse_event, round_ns, times_of, to_seconds)
from .limits import MAX_DURATION, MIN_TEST_INTERVAL, PULSE_CAPACITY
from .units import format_quantity

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
            parts = [e.pulse_seconds() for e in self.events if e.pathway == pathway]
            out[pathway] = times_of(np.concatenate(parts) if parts else np.zeros(0))
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
        duration_s = to_seconds(self.duration)
        interval_s = to_seconds(self.test_interval)
        stagger_s = to_seconds(TEST_STAGGER)
        margin_s = to_seconds(TEST_PULSE_MARGIN)
        n_intervals = int(math.ceil(duration_s / interval_s)) + 1
        starts = round_ns(np.arange(n_intervals) * interval_s)
        starts = starts[starts < duration_s]
        drive = [e.pulse_seconds() for e in self.events if not e.is_drug]
        drive += [e.spike_seconds() for e in self.events if not e.is_drug]
        drive_s = np.sort(np.concatenate(drive)) if drive else np.zeros(0)
        out = {}
        for k, pathway in enumerate(self.pathways):
            times = round_ns(starts + k * stagger_s)
            keep = times < duration_s
            for event in self.events:
                if event.pathway != pathway:
                    continue
                first, last = event.span_seconds()
                keep &= ~((times >= first - margin_s) & (times <= last + margin_s))
            if len(drive_s):
                j = np.searchsorted(drive_s, times)
                before = drive_s[np.clip(j - 1, 0, len(drive_s) - 1)]
                after = drive_s[np.clip(j, 0, len(drive_s) - 1)]
                near = (np.abs(times - before) <= margin_s) | (np.abs(after - times) <= margin_s)
                keep &= ~near
            out[pathway] = times_of(times[keep])
        return out

    def somatic_spikes(self) -> Quantity:
        """Onset times of the somatic current steps of all pairings (sorted)."""
        parts = [e.spike_seconds() for e in self.events if e.kind == "pairing"]
        return times_of(np.concatenate(parts) if parts else np.zeros(0))

    def drug_windows(self) -> dict[str, list[tuple[Quantity, Quantity]]]:
        """``(start, stop)`` windows of each drug in :data:`DRUGS`, sorted by start."""
        out: dict[str, list[tuple[Quantity, Quantity]]] = {drug: [] for drug in DRUGS}
        for event in sorted(
            (e for e in self.events if e.is_drug), key=lambda e: to_seconds(e.start)
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

    def __eq__(self, other: object) -> bool:
        """Two protocols are equal when their content is (:meth:`to_dict` without where
        each came from: name, description, timing, pathways and events)."""
        if not isinstance(other, Protocol):
            return NotImplemented
        return {k: v for k, v in self.to_dict().items() if k != "source"} == \
            {k: v for k, v in other.to_dict().items() if k != "source"}

    __hash__ = None  # type: ignore[assignment]  # mutable content (raw), compared by value

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (values as strings with units).

        Apart from the ``"source"`` key, the result is in the protocol file
        format with all defaults filled in, so ``protocol_from_dict`` of it gives the
        same protocol (which takes the ``"source"`` key as where it came from).
        """
        out: dict[str, Any] = {"name": self.name, "source": self.source}
        if self.description:
            out["description"] = self.description
        out.update(
            duration=fmt(self.duration),
            baseline=fmt(self.baseline),
            test_interval=fmt(self.test_interval),
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
        ctx = Context(self.source, f"event {index + 1} ({self.events[index].kind})")
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
    such strings.  A dict given in Python (``source`` not given) may carry a ``"source"``
    key, text naming where it came from, as :meth:`Protocol.to_dict` writes it (so that a
    result's ``metadata["protocol"]`` runs again); a file may not.
    """
    if source == "<dict>" and isinstance(d, Mapping) and "source" in d:
        recorded = d["source"]
        if not isinstance(recorded, str) or not recorded.strip():
            raise Context(source).fail(f'"source" names where the protocol came from (text), got {recorded!r}')
        d, source = {k: v for k, v in d.items() if k != "source"}, recorded
    top = Context(source)
    if not isinstance(d, Mapping):
        raise top.fail(f"a protocol must be a table of keys, got {type(d).__name__}")
    raw = normalise(d)

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
    if duration > MAX_DURATION:
        raise top.fail(f'"duration" ({fmt(duration)}) is longer than a protocol may be ({fmt(MAX_DURATION)})')
    baseline = top.time(raw, "baseline")
    if baseline >= duration:
        raise top.fail(
            f'"baseline" ({fmt(baseline)}) must be shorter than "duration" ({fmt(duration)})'
        )
    test_interval = top.positive_time(raw, "test_interval")
    if test_interval < MIN_TEST_INTERVAL:
        raise top.fail(
            f'"test_interval" ({fmt(test_interval)}) is shorter than {fmt(MIN_TEST_INTERVAL)}: test pulses that '
            f"frequent stimulate the synapses themselves (biophys_ltp.limits.MIN_TEST_INTERVAL)")
    n_tests = math.ceil(to_seconds(duration) / to_seconds(test_interval))  # per pathway, before any array
    if n_tests > PULSE_CAPACITY - 1:
        raise top.fail(
            f"{n_tests} test pulses per pathway ({fmt(duration)} every {fmt(test_interval)}) are more than the "
            f"engine holds ({PULSE_CAPACITY - 1} pulses per pathway): lengthen test_interval or shorten the protocol")

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
    if (len(pathways_t) - 1) * TEST_STAGGER >= test_interval:  # MIN_TEST_INTERVAL allows 200 pathways
        raise top.fail(
            f'"test_interval" ({fmt(test_interval)}) is too short for the test pulses of '
            f"{len(pathways_t)} pathways staggered by {fmt(TEST_STAGGER)}"
        )

    raw_events = raw.get("events", [])
    if not isinstance(raw_events, list):
        raise top.fail(f'"events" must be a list of tables ([[events]]), got {raw_events!r}')
    events = []
    for index, data in enumerate(raw_events):
        event = parse_event(data, index, source)
        check_event_timing(
            event,
            Context(source, event_label(index, data)),
            pathways=pathways_t,
            duration=duration,
            baseline=baseline,
        )
        events.append(event)
    events_t = tuple(events)
    check_overlaps(events_t, source)

    protocol = Protocol(
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
    _check_test_pulses(protocol, top)
    return protocol


def _check_test_pulses(protocol: Protocol, top: Context) -> None:
    """Every pathway's fEPSP is normalised to its baseline test pulses: a pathway with test
    pulses needs one in the baseline; and its pulses must fit the engine."""
    tests = protocol.test_pulses()
    inductions = protocol.induction_pulses()
    baseline_s = to_seconds(protocol.baseline)
    for k, pathway in enumerate(protocol.pathways):
        times = np.asarray(tests[pathway] / second)
        if len(times) and not (times < baseline_s).any():
            raise top.fail(
                f'the baseline ({fmt(protocol.baseline)}) holds no test pulse of pathway {pathway} (its test pulses '
                f"start at {fmt(k * TEST_STAGGER)} in each test interval and none may fall within "
                f"{fmt(TEST_PULSE_MARGIN)} of an induction), so its fEPSP could not be normalised: lengthen "
                f'"baseline" or move the first induction later')
        total = len(times) + len(inductions[pathway])
        if total > PULSE_CAPACITY - 1:
            raise top.fail(
                f"pathway {pathway} has {total} pulses ({len(inductions[pathway])} induction, {len(times)} test); "
                f"the engine holds {PULSE_CAPACITY - 1} per pathway: lengthen test_interval or shorten the protocol")


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
    if not isinstance(source, (str, PathLike)):
        raise ProtocolError(f"a protocol is a file, the name of a shipped protocol, a dict or a Protocol, "
                            f"not {source!r}")
    path = _resolve_path(source)
    try:
        with path.open("rb") as fh:
            content = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ProtocolError(f"{path}: not valid TOML: {err}") from None
    return protocol_from_dict(content, source=str(path))
