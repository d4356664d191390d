"""What a protocol may ask of the model, in one place.

Some limits hold for any model and are checked when a protocol is read
(:func:`biophys_ltp.protocol.protocol_from_dict`); the others depend on the model's fine
step and on the schedule, and :func:`check_schedule` checks them before anything is
simulated (``simulate`` and ``biophys-ltp protocol check`` call it).  Every refusal is a
:class:`~biophys_ltp.protocol.ProtocolError` naming the file, the event and the limit.

The engine's capacities are sizes of the compiled program's input arrays: they are part of
the build, and a protocol that needs more is refused before it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import brian2 as b2
import numpy as np

from .errors import ProtocolError
from .units import format_approx as _fmt_approx
from .units import format_quantity as _fmt

if TYPE_CHECKING:
    from .model import Model
    from .protocol import Protocol
    from .schedule import Schedule, ScheduleSettings

# -- the engine's capacities (sizes of the compiled program's input arrays) ------------------
#: Pulses per pathway, test pulses included (strong LFS: 2700 pulses + test pulses); one
#: element is kept free as padding.
PULSE_CAPACITY = 4096
#: Somatic current steps of all pairings together.
SPIKE_CAPACITY = 1024
#: Schedule segments (strong LFS: ~9 per burst).
SEGMENT_CAPACITY = 32768
#: The compiled run's duration: a protocol's simulated time (settling included) must fit.
#: The program stops at the protocol's own end, so a long compiled duration costs nothing:
#: 36 h of simulated time, while a 10-h protocol simulates minutes and even its fixed-step
#: reference fits.
MAX_SIM_DURATION = 131072 * b2.second

# -- limits of any protocol -------------------------------------------------------------------
#: Longest protocol: keeps the schedule's integer step arithmetic exact at any fine step
#: (a year of 1-us steps is 3e13, far below 2**63); the engine's own limits (simulated
#: time, segments, pulses) are checked against the model by check_schedule.
MAX_DURATION = 365 * 86400 * b2.second
#: Shortest test-pulse interval.  Test pulses are meant to sample the synapse, not to
#: change it, but every pulse activates its phosphatase a little, and closer pulses sum.
#: Measured on the default model (3 h of test pulses only, fEPSP at the end): every 10 s
#: -10.5 %, 20 s -2.5 %, 30 s -1.2 %, 1 min -0.5 %, 2 min -0.2 %, 5 min -0.1 %.  Below
#: 20 s the test pulses are a low-frequency stimulus of their own; from 20 s on their
#: effect is that slow drift, which the README states (tests/test_inputs.py measures it on
#: the model as it is).
MIN_TEST_INTERVAL = 20 * b2.second
#: Pulses of one pathway (and somatic steps) must be this many fine steps apart, so that
#: rounding each to the step grid (at most half a step) never merges two.
MIN_PULSE_STEPS = 2


def _at(steps: int, dt: b2.Quantity) -> str:
    return _fmt(float(np.round(steps * float(dt), 9)) * b2.second)


def check_schedule(protocol: "Protocol", model: "Model", schedule: "Schedule",
                   settings: "ScheduleSettings") -> None:
    """Refuse, before it runs, a protocol that the model's fine step or the engine cannot
    carry: pulses closer than :data:`MIN_PULSE_STEPS` fine steps, somatic current steps that
    overlap, more somatic steps or schedule segments than the engine holds, more simulated
    time than its run.  (Pulses per pathway are counted when the protocol is read.)"""
    source = protocol.source
    dt = schedule.dt
    min_gap = MIN_PULSE_STEPS * dt
    for index, event in enumerate(protocol.events):
        if event.is_drug:
            continue
        where = f"{source}: event {index + 1} ({event.kind})"
        pulses = np.round(event.pulse_seconds() / float(dt)).astype(np.int64)
        if len(pulses) > 1 and np.diff(np.sort(pulses)).min() < MIN_PULSE_STEPS:
            fastest = max(event.frequency, event.burst_frequency or 0 * b2.Hz)
            raise ProtocolError(
                f"{where}: pulses {_fmt_approx(1 / fastest)} apart ({_fmt_approx(fastest)}) are closer than "
                f"{MIN_PULSE_STEPS} fine steps ({_fmt(min_gap)} at the model's dt = {_fmt(dt)}): at most "
                f"{_fmt(1 / min_gap)}")
        if event.kind == "pairing" and event.pairs > 1 and 1 / event.frequency <= settings.step_duration + min_gap:
            raise ProtocolError(
                f"{where}: pairings {_fmt_approx(1 / event.frequency)} apart ({_fmt_approx(event.frequency)}) "
                f"would overlap their somatic current steps ({_fmt(settings.step_duration)} each): the period must "
                f"exceed {_fmt(settings.step_duration + min_gap)}")
        if event.kind == "pairing" and event.spikes > 1:
            if 1 / event.spike_frequency <= settings.step_duration + min_gap:
                raise ProtocolError(
                    f"{where}: a burst's spikes {_fmt_approx(1 / event.spike_frequency)} apart "
                    f"({_fmt(event.spike_frequency)}) would overlap their somatic current steps "
                    f"({_fmt(settings.step_duration)} each): the interval must exceed "
                    f"{_fmt(settings.step_duration + min_gap)}")
            burst = (event.spikes - 1) / event.spike_frequency
            if event.pairs > 1 and 1 / event.frequency - burst <= settings.step_duration + min_gap:
                raise ProtocolError(
                    f"{where}: a burst of {event.spikes} spikes at {_fmt(event.spike_frequency)} lasts "
                    f"{_fmt_approx(burst)}, so its last spike's current step would overlap the next pairing's first "
                    f"({_fmt_approx(1 / event.frequency)} apart): the pairings' period must exceed the burst by "
                    f"{_fmt(settings.step_duration + min_gap)}")
    inductions = protocol.induction_pulses()
    for name in protocol.pathways:
        steps = np.sort(np.concatenate([np.round(np.asarray(inductions[name] / dt)).astype(np.int64),
                                        schedule.test_real[name]]))
        close = np.flatnonzero(np.diff(steps) < MIN_PULSE_STEPS)
        if len(close):
            raise ProtocolError(
                f"{source}: pathway {name}: two pulses at {_at(int(steps[close[0]]), dt)} and "
                f"{_at(int(steps[close[0] + 1]), dt)} are closer than {MIN_PULSE_STEPS} fine steps "
                f"({_fmt(min_gap)} at the model's dt = {_fmt(dt)})")
    spikes = np.sort(schedule.spike_sim)
    step_len = int(np.round(float(settings.step_duration / dt)))
    overlap = np.flatnonzero(np.diff(spikes) < step_len + MIN_PULSE_STEPS)
    if len(overlap):
        first = schedule.real_time_of_sim(spikes[overlap[:1]])[0]
        raise ProtocolError(
            f"{source}: two somatic current steps ({_fmt(settings.step_duration)} each) overlap near "
            f"{_at(int(round(first)), dt)}: pairings on different pathways must not drive the soma at "
            f"the same time")
    if len(spikes) > SPIKE_CAPACITY - 1:
        raise ProtocolError(f"{source}: {len(spikes)} somatic current steps; the engine holds "
                            f"{SPIKE_CAPACITY - 1}")
    if schedule.n_segments + 1 > SEGMENT_CAPACITY:
        raise ProtocolError(
            f"{source}: the schedule needs {schedule.n_segments} segments (about 9 per isolated pulse, 2 per "
            f"test pulse); the engine holds {SEGMENT_CAPACITY - 1}: shorten the protocol, lengthen "
            f"test_interval or split the stimulation into several runs")
    if schedule.sim_duration > MAX_SIM_DURATION:
        kind = "fixed-step reference" if schedule.reference else "schedule"
        raise ProtocolError(
            f"{source}: the {kind} needs {_fmt(schedule.sim_duration)} of simulated time; the compiled run "
            f"holds {_fmt(MAX_SIM_DURATION)}")


def check_protocol(protocol: "Protocol", model: "Model", settings: "ScheduleSettings | None" = None, *,
                   reference: bool = False, trace_windows=()) -> "Schedule":
    """The schedule of ``protocol`` on ``model``, after :func:`check_schedule` found nothing
    the model's fine step or the engine cannot carry."""
    from .schedule import ScheduleSettings, build_schedule

    settings = settings or ScheduleSettings()
    missing = [p for p in protocol.pathways if p not in model.pathways]
    if missing:  # before the schedule, which numbers the model's pathways
        raise ProtocolError(f"{protocol.source}: pathway(s) {', '.join(missing)} not in model {model.name!r} "
                            f"(it has {', '.join(model.pathways)})")
    schedule = build_schedule(protocol, model.dt, settings, reference=reference, trace_windows=trace_windows)
    check_schedule(protocol, model, schedule, settings)
    return schedule
