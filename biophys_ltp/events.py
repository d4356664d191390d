"""Protocol events: the kinds (trains and their presets, pairings, drugs), their keys,
parsing and validation of one event with messages that name it, and the pulse and
spike times an event gives."""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from brian2 import Hz, Quantity, second

from . import drugs as _drugs
from .errors import ProtocolError
from .limits import PULSE_CAPACITY, SPIKE_CAPACITY
from .units import UnitParseError, format_quantity, parse_quantity

#: Drugs a ``drug`` event may apply (the drug table, biophys_ltp/drugs.toml).
DRUGS: tuple[str, ...] = tuple(_drugs.DRUGS)

def _plain(name: Any) -> str:
    """A drug's name lower-case, without spaces, hyphens and underscores."""
    return "".join(c for c in str(name).lower() if c not in " -_")


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

_PAIRING_DEFAULTS: dict[str, Any] = {"pairs": 60, "frequency": "1 Hz", "dt": "10 ms", "spikes": 1}

_TRAIN_KINDS = ("train", *PRESETS)

#: Allowed keys per event kind.
KIND_KEYS: dict[str, tuple[str, ...]] = {
    **{kind: ("kind", "pathway", "at", *_TRAIN_KEYS) for kind in _TRAIN_KINDS},
    "pairing": ("kind", "pathway", "at", "pairs", "frequency", "dt", "spikes", "spike_frequency"),
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


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def to_seconds(q: Quantity) -> float:
    """Value of a time quantity in seconds, as a float."""
    return float(np.asarray(q / second))


def round_ns(values: np.ndarray) -> np.ndarray:
    """Round times in seconds to the nearest nanosecond."""
    return np.round(np.asarray(values, dtype=float) * 1e9) / 1e9


def times_of(values_s: np.ndarray | list[float]) -> Quantity:
    """Sorted times (seconds, rounded to 1 ns) as a Brian2 quantity array."""
    arr = round_ns(np.sort(np.asarray(values_s, dtype=float)))
    return arr * second


def time_of(value_s: float) -> Quantity:
    return float(round_ns(np.asarray(value_s))) * second


def fmt(q: Quantity) -> str:
    return format_quantity(q)


def fmt_times(*values_s: float) -> list[str]:
    """Times (seconds) of one message in one unit: hours or minutes where every one of
    them is a whole number of it, seconds otherwise (a message never mixes them)."""
    t = [float(round_ns(np.asarray(v))) for v in values_s]
    for unit, size in (("h", 3600.0), ("min", 60.0)):
        if all(abs(v / size - round(v / size)) < 1e-9 for v in t):
            return [f"{round(v / size):g} {unit}" for v in t]
    return [f"{v:.10g} s" for v in t]


def normalise(value: Any) -> Any:
    """Deep copy of dict content with scalar quantities written as strings."""
    if isinstance(value, Quantity):
        if np.ndim(value) == 0:
            return format_quantity(value)
        return value
    if isinstance(value, Mapping):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    return copy.deepcopy(value)


class Context:
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
    ``burst_frequency``; ``pairing`` uses ``at``, ``pairs``, ``frequency``,
    ``dt``, ``spikes`` and ``spike_frequency`` (a burst of ``spikes`` somatic
    spikes, the first ``dt`` after each pulse); ``drug`` uses ``drug``,
    ``start`` and ``stop``.  Unused fields are ``None``.
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
    spikes: int | None = None
    spike_frequency: Quantity | None = None
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

    def pulse_seconds(self) -> np.ndarray:
        if self.is_train:
            at = to_seconds(self.at)
            every = to_seconds(self.every) if self.every is not None else 0.0
            freq = float(self.frequency / Hz)
            burst_freq = float(self.burst_frequency / Hz) if self.burst_frequency is not None else 1.0
            r = np.arange(self.repeats)[:, None, None] * every
            b = np.arange(self.pulses)[None, :, None] / freq
            i = np.arange(self.burst_pulses)[None, None, :] / burst_freq
            return np.sort(round_ns((at + r + b + i).ravel()))
        if self.kind == "pairing":
            at = to_seconds(self.at)
            return round_ns(at + np.arange(self.pairs) / float(self.frequency / Hz))
        return np.zeros(0)

    def spike_seconds(self) -> np.ndarray:
        if self.kind != "pairing":
            return np.zeros(0)
        burst = np.zeros(1) if self.spikes == 1 else np.arange(self.spikes) / float(self.spike_frequency / Hz)
        return np.sort(round_ns((self.pulse_seconds()[:, None] + to_seconds(self.dt) + burst[None, :]).ravel()))

    def pulse_times(self) -> Quantity:
        """Times of this event's presynaptic pulses (empty for a drug)."""
        return self.pulse_seconds() * second

    def spike_times(self) -> Quantity:
        """Onsets of this event's somatic spikes (pairing only; else empty)."""
        return self.spike_seconds() * second

    def span_seconds(self) -> tuple[float, float]:
        if self.is_drug:
            return to_seconds(self.start), to_seconds(self.stop)
        times = np.concatenate([self.pulse_seconds(), self.spike_seconds()])
        return float(times.min()), float(times.max())

    def span(self) -> tuple[Quantity, Quantity]:
        """``(first, last)`` time of the event.

        For trains, the first and last pulse; for a pairing, the first and
        last of its pulses and somatic spikes; for a drug, ``(start, stop)``.
        """
        first, last = self.span_seconds()
        return time_of(first), time_of(last)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description, in the protocol file format."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.is_drug:
            out.update(drug=self.drug, start=fmt(self.start), stop=fmt(self.stop))
            return out
        out.update(pathway=self.pathway, at=fmt(self.at))
        if self.kind == "pairing":
            out.update(pairs=self.pairs, frequency=fmt(self.frequency), dt=fmt(self.dt))
            if self.spikes != 1:  # a single spike per pairing, as protocols without the key
                out["spikes"] = self.spikes
            if self.spike_frequency is not None:
                out["spike_frequency"] = fmt(self.spike_frequency)
            return out
        out.update(pulses=self.pulses, frequency=fmt(self.frequency), repeats=self.repeats)
        if self.every is not None:
            out["every"] = fmt(self.every)
        out["burst_pulses"] = self.burst_pulses
        if self.burst_frequency is not None:
            out["burst_frequency"] = fmt(self.burst_frequency)
        return out


def event_label(index: int, data: Any) -> str:
    kind = data.get("kind") if isinstance(data, Mapping) else None
    if isinstance(kind, str):
        return f"event {index + 1} ({kind})"
    return f"event {index + 1}"


def parse_event(data: Any, index: int, source: str) -> Event:
    """Check one event's keys and values on their own (no timing checks)."""
    ctx = Context(source, event_label(index, data))
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
            # the same name but for case, spaces, hyphens and underscores ("Actinomycin D"),
            # else the nearest names so written
            plain, given_plain = {_plain(d): d for d in DRUGS}, _plain(drug)
            close = [plain[given_plain]] if given_plain in plain else \
                [plain[c] for c in difflib.get_close_matches(given_plain, list(plain), n=2)]
            hint = f"did you mean {' or '.join(repr(d) for d in close)}? " if close else ""
            raise ctx.fail(f"unknown drug {drug!r} ({hint}known drugs: {', '.join(DRUGS)})")
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
        spikes = ctx.count(given, "spikes")
        if pairs * spikes > SPIKE_CAPACITY - 1:
            what = f'"pairs" ({pairs}) is' if spikes == 1 else \
                f'{pairs * spikes} somatic spikes ("pairs" {pairs} x "spikes" {spikes}) are'
            raise ctx.fail(f"{what} more than the engine holds ({SPIKE_CAPACITY - 1} somatic current steps in a "
                           f"protocol)")
        frequency = ctx.frequency(given, "frequency")
        spike_frequency = None
        if "spike_frequency" in given:
            spike_frequency = ctx.frequency(given, "spike_frequency")
        elif spikes > 1:
            raise ctx.fail(f'missing required key "spike_frequency" (spikes = {spikes})')
        burst_length = (spikes - 1) / spike_frequency if spikes > 1 else 0 * second
        dt = ctx.time(given, "dt", allow_negative=True)
        if abs(dt) >= 0.5 / frequency or abs(dt + burst_length) >= 0.5 / frequency:
            what = f'"dt" ({fmt(dt)})' if spikes == 1 else f'the burst\'s spikes ({fmt(dt)} to {fmt(dt + burst_length)})'
            raise ctx.fail(
                f'{what} must lie within plus or minus half the period of "frequency" '
                f"({fmt(frequency)}: {fmt(0.5 / frequency)}), so that each somatic spike pairs with its own pulse")
        return Event(kind=kind, pathway=pathway, at=at, pairs=pairs, frequency=frequency, dt=dt, spikes=spikes,
                     spike_frequency=spike_frequency)

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
                f"a burst of {burst_pulses} pulses at {fmt(burst_frequency)} lasts "
                f"{fmt(burst_length)}, which is not shorter than the period "
                f"{fmt(1 / frequency)} of \"frequency\" ({fmt(frequency)})"
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
                f'"every" ({fmt(every)}) must exceed the length of one repeat '
                f"({fmt(repeat_length)})"
            )
    total = pulses * repeats * burst_pulses  # Python integers: exact, before any array is built
    if total > PULSE_CAPACITY - 1:
        raise ctx.fail(
            f"{total} pulses (pulses {pulses} x repeats {repeats} x burst_pulses {burst_pulses}) are more than "
            f"the engine holds ({PULSE_CAPACITY - 1} per pathway, test pulses included)")
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


def check_event_timing(
    event: Event,
    ctx: Context,
    *,
    pathways: tuple[str, ...],
    duration: Quantity,
    baseline: Quantity,
) -> None:
    """Check an event against the protocol's pathways, baseline and duration."""
    duration_s = to_seconds(duration)
    if event.is_drug:
        if event.stop > duration:
            raise ctx.fail(
                f'"stop" ({fmt(event.stop)}) is after the end of the protocol '
                f"(duration {fmt(duration)})"
            )
        return
    if event.pathway not in pathways:
        raise ctx.fail(
            f"unknown pathway {event.pathway!r} (pathways: {', '.join(pathways)})"
        )
    if event.at < baseline:
        raise ctx.fail(
            f'"at" ({fmt(event.at)}) is before the end of the baseline ({fmt(baseline)})'
        )
    spikes = event.spike_seconds()
    if spikes.size and spikes.min() < 0:
        raise ctx.fail(
            f"its first somatic spike would be at {fmt(time_of(spikes.min()))}, before time 0 "
            f'("at" {fmt(event.at)}, "dt" {fmt(event.dt)})'
        )
    pulses = event.pulse_seconds()
    if pulses.max() >= duration_s:
        last, end = fmt_times(pulses.max(), duration_s)
        raise ctx.fail(f"its last pulse at {last} is not before the end of the protocol at {end} "
                       f"(duration {fmt(duration)})")
    if spikes.size and spikes.max() >= duration_s:
        last, end = fmt_times(spikes.max(), duration_s)
        raise ctx.fail(f"its last somatic spike at {last} is not before the end of the protocol at {end} "
                       f"(duration {fmt(duration)})")


def check_overlaps(events: tuple[Event, ...], source: str) -> None:
    """Reject overlapping inductions on one pathway and overlapping drug windows."""
    for j, later in enumerate(events):
        j0, j1 = later.span_seconds()
        for i in range(j):
            earlier = events[i]
            i0, i1 = earlier.span_seconds()
            if later.is_drug and earlier.is_drug and later.drug == earlier.drug:
                if i0 < j1 and j0 < i1:
                    a0, a1, b0, b1 = fmt_times(j0, j1, i0, i1)
                    raise Context(source, f"event {j + 1} ({later.kind})").fail(
                        f"{later.drug} window {a0} to {a1} overlaps the window {b0} to {b1} of "
                        f"event {i + 1} ({earlier.kind})"
                    )
            elif (
                not later.is_drug
                and not earlier.is_drug
                and later.pathway == earlier.pathway
                and i0 <= j1
                and j0 <= i1
            ):
                a0, a1, b0, b1 = fmt_times(j0, j1, i0, i1)
                raise Context(source, f"event {j + 1} ({later.kind})").fail(
                    f"overlaps event {i + 1} ({earlier.kind}) on pathway {later.pathway}: "
                    f"{a0} to {a1} against {b0} to {b1}"
                )
