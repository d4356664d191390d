"""From a protocol in biological time to a warped simulation-time schedule.

The compiled program runs one Brian2 ``run()`` at the fine step ``dt``.  What
it simulates is set by data (TimedArrays given through ``run_args``), never by
code, so a new protocol or new timings reuse the same build:

* **segments** of simulation time, each with a warp factor (biological
  seconds per simulated second), and the drug state (APV, anisomycin) that
  holds during it;
* **pulse times** per pathway and **somatic current steps**, in simulation
  time.

Active segments surround every pulse and current step (from ``pre`` before to
``tail`` after, merged where they overlap) and run at warp 1, so that
voltages, conductances and calcium evolve exactly as in real time.  Quiet gaps
between them are compressed to at most ``max_warp`` biological seconds per
simulated second (never shorter than ``min_gap``); only the slow variables,
whose rates carry the warp factor, move during a gap, and only in response to
themselves.  Drug boundaries split segments so that drug states are constant
within each.  The reference schedule (``reference=True``) uses warp 1
everywhere: every variable at the fine step all the time.

All times are handled as integer numbers of fine steps, so that pulses land
exactly on the simulation grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

import brian2 as b2
import numpy as np

from .units import format_quantity

if TYPE_CHECKING:
    from .protocol import Protocol


# Warp factor while biological time stands still (settling at the start, padding at the
# end).  Not zero: the exponential-Euler update of a slow variable divides its constant
# term by its linear coefficient, and both carry the warp factor.
FROZEN = 1e-9


@dataclass(frozen=True)
class ScheduleSettings:
    pre: b2.Quantity = field(default_factory=lambda: 2 * b2.ms)  # active time before each pulse or step
    # Active time after a pulse or step: the fast variables' return to rest.  After a train
    # (an event with another within train_window before it) NMDA conductances have summed
    # and the dendrite is depolarised: ``tail``.  After an isolated event (a test pulse, a
    # 1-Hz LFS pulse) calcium is back below every plasticity threshold within tens of ms:
    # ``isolated_tail``.  What is left then decays in the gap with the warp factor
    # (synaptic conductances, calcium) or within min_gap (voltage, membrane tau ~15 ms).
    tail: b2.Quantity = field(default_factory=lambda: 250 * b2.ms)
    isolated_tail: b2.Quantity = field(default_factory=lambda: 120 * b2.ms)
    train_window: b2.Quantity = field(default_factory=lambda: 75 * b2.ms)  # < test-pulse stagger (100 ms)
    max_warp: float = 20000.0  # biological seconds per simulated second in a gap
    min_gap: b2.Quantity = field(default_factory=lambda: 20 * b2.ms)  # shortest simulated duration of a gap
    # gaps shorter than this are not compressed (between the pulses of a 5-Hz train, say):
    # compressing them would gain little and let the voltage relax for less than it should
    short_gap: b2.Quantity = field(default_factory=lambda: 150 * b2.ms)
    settle: b2.Quantity = field(default_factory=lambda: 500 * b2.ms)  # frozen-slow-time start: fast variables settle
    # After induction (not after test pulses) the kinase and phosphatase activities decay
    # over tens of seconds and drive the receptor count meanwhile; the integrator holds them
    # constant over a step, so steps stay short there: at most relax_max_warp for relax.
    relax: b2.Quantity = field(default_factory=lambda: 60 * b2.second)
    relax_max_warp: float = 200.0
    step_duration: b2.Quantity = field(default_factory=lambda: 2 * b2.ms)  # somatic current step (Bi & Poo 1998)

    def as_dict(self) -> dict[str, str | float]:
        """Every setting, quantities as strings with their unit (``"120 ms"``): for results'
        metadata and for the hashes of stored figure data."""
        return {f.name: (format_quantity(v) if isinstance(v := getattr(self, f.name), b2.Quantity) else v)
                for f in fields(self)}


@dataclass
class Schedule:
    dt: b2.Quantity
    seg_sim_start: np.ndarray  # int steps, one per segment
    seg_real_start: np.ndarray  # int steps
    seg_warp: np.ndarray  # float
    seg_apv: np.ndarray  # 0/1
    seg_anisomycin: np.ndarray  # 0/1
    seg_trace: np.ndarray  # 0/1: record fast traces
    pulse_sim: dict[str, np.ndarray]  # int steps per pathway (all pulses)
    pulse_real: dict[str, np.ndarray]  # int steps per pathway
    test_real: dict[str, np.ndarray]  # int steps per pathway (test pulses only)
    spike_sim: np.ndarray  # int steps
    total_sim_steps: int  # sum of segment lengths, settling included (before padding)
    settle_steps: int  # the frozen-time start
    duration_steps: int  # biological duration of the protocol
    reference: bool

    @property
    def n_segments(self) -> int:
        return len(self.seg_sim_start)

    @property
    def sim_duration(self) -> b2.Quantity:
        return self.total_sim_steps * self.dt

    def real_time_of_sim(self, sim_steps: np.ndarray) -> np.ndarray:
        """Map simulation-time steps to biological-time steps (float)."""
        sim_steps = np.asarray(sim_steps, dtype=float)
        j = np.searchsorted(self.seg_sim_start, sim_steps, side="right") - 1
        j = np.clip(j, 0, self.n_segments - 1)
        return self.seg_real_start[j] + (sim_steps - self.seg_sim_start[j]) * self.seg_warp[j]

    def speedup(self) -> float:
        """Biological time per simulated time of the protocol (settling excluded)."""
        return self.duration_steps / max(self.total_sim_steps - self.settle_steps, 1)


def _steps(q: b2.Quantity, dt: b2.Quantity) -> np.ndarray:
    return np.round(np.asarray(q / dt, dtype=float)).astype(np.int64)


def build_schedule(protocol: "Protocol", dt: b2.Quantity, settings: ScheduleSettings | None = None,
                   reference: bool = False, trace_windows=()) -> Schedule:
    """Segments and pulse times for ``protocol``; ``trace_windows`` are (start, stop)
    biological times during which fast traces are recorded."""
    s = settings or ScheduleSettings()
    duration = int(_steps(protocol.duration, dt))
    pre, tail = int(_steps(s.pre, dt)), int(_steps(s.tail, dt))
    iso_tail, train_window = int(_steps(s.isolated_tail, dt)), int(_steps(s.train_window, dt))
    step_len = int(_steps(s.step_duration, dt))

    tests = protocol.test_pulses()
    inductions = protocol.induction_pulses()
    pulse_real: dict[str, np.ndarray] = {}
    test_real: dict[str, np.ndarray] = {}
    for name in protocol.pathways:
        t = _steps(tests[name], dt) if len(tests[name]) else np.zeros(0, np.int64)
        ind = _steps(inductions[name], dt) if len(inductions[name]) else np.zeros(0, np.int64)
        test_real[name] = t
        pulse_real[name] = np.unique(np.concatenate([t, ind]))
    spikes = protocol.somatic_spikes()
    spike_real = _steps(spikes, dt) if len(spikes) else np.zeros(0, np.int64)

    # active intervals [start, stop) in biological steps
    starts, stops = [], []
    induction_real = {name: (_steps(inductions[name], dt) if len(inductions[name]) else np.zeros(0, np.int64))
                      for name in protocol.pathways}
    relax = int(_steps(s.relax, dt))
    relax_windows = sorted((int(t) + tail, int(t) + tail + relax)
                           for arr in list(induction_real.values()) + [spike_real] for t in arr)
    events = np.sort(np.concatenate([*pulse_real.values(), spike_real]))
    for arr, extra in [(p, 0) for p in pulse_real.values()] + [(spike_real, step_len)]:
        if len(arr):
            # another pulse or step less than train_window before (the event itself excluded)
            before = np.searchsorted(events, arr, side="left") - np.searchsorted(events, arr - train_window,
                                                                                  side="right")
            starts.append(arr - pre)
            stops.append(arr + extra + np.where(before > 0, tail, iso_tail))
    breakpoints = {0, duration}
    active: list[tuple[int, int]] = []
    if starts:
        a = np.clip(np.concatenate(starts), 0, duration)
        b = np.clip(np.concatenate(stops), 0, duration)
        order = np.argsort(a)
        a, b = a[order], b[order]
        cur_a, cur_b = int(a[0]), int(b[0])
        for x, y in zip(a[1:], b[1:]):
            if x <= cur_b:
                cur_b = max(cur_b, int(y))
            else:
                active.append((cur_a, cur_b))
                cur_a, cur_b = int(x), int(y)
        active.append((cur_a, cur_b))
        for x, y in active:
            breakpoints.update((x, y))

    drugs = protocol.drug_windows()
    drug_steps = {}
    for drug in ("apv", "anisomycin"):
        windows = [(int(_steps(w0, dt)), int(_steps(w1, dt))) for w0, w1 in drugs.get(drug, [])]
        drug_steps[drug] = windows
        for w0, w1 in windows:
            breakpoints.update((min(max(w0, 0), duration), min(max(w1, 0), duration)))

    # merge relaxation windows and cut gaps at their ends
    merged_relax: list[list[int]] = []
    for a0, a1 in relax_windows:
        if merged_relax and a0 <= merged_relax[-1][1]:
            merged_relax[-1][1] = max(merged_relax[-1][1], a1)
        else:
            merged_relax.append([a0, a1])
    for a0, a1 in merged_relax:
        breakpoints.update((min(max(a0, 0), duration), min(max(a1, 0), duration)))
    relax_a = np.array([a for a, _ in merged_relax], dtype=np.int64)
    relax_b = np.array([b for _, b in merged_relax], dtype=np.int64)

    def relaxing(r0: int) -> bool:
        if not len(relax_a):
            return False
        k = np.searchsorted(relax_a, r0, side="right") - 1
        return k >= 0 and r0 < relax_b[k]

    trace_steps = [(int(_steps(w0, dt)), int(_steps(w1, dt))) for w0, w1 in trace_windows]
    for w0, w1 in trace_steps:
        breakpoints.update((min(max(w0, 0), duration), min(max(w1, 0), duration)))

    bps = np.array(sorted(breakpoints), dtype=np.int64)
    act_a = np.array([x for x, _ in active], dtype=np.int64)
    act_b = np.array([y for _, y in active], dtype=np.int64)

    def is_active(r0: int, r1: int) -> bool:
        if not len(act_a):
            return False
        k = np.searchsorted(act_a, r0, side="right") - 1
        return k >= 0 and r1 <= act_b[k]

    def drug_on(drug: str, r0: int) -> int:
        return int(any(w0 <= r0 < w1 for w0, w1 in drug_steps[drug]))

    def tracing(r0: int) -> int:
        return int(any(w0 <= r0 < w1 for w0, w1 in trace_steps))

    settle = int(_steps(s.settle, dt))
    min_gap = max(int(_steps(s.min_gap, dt)), 1)
    short_gap = int(_steps(s.short_gap, dt))
    seg_sim, seg_real, seg_warp = [0], [0], [FROZEN]
    seg_apv, seg_aniso, seg_trace = [drug_on("apv", 0)], [drug_on("anisomycin", 0)], [0]
    sim = settle
    for r0, r1 in zip(bps[:-1], bps[1:]):
        r0, r1 = int(r0), int(r1)
        length = r1 - r0
        if length <= 0:
            continue
        # fast traces are recorded in real time: trace windows are not compressed
        if reference or is_active(r0, r1) or length < short_gap or tracing(r0):
            sim_len = length
        else:
            cap = s.relax_max_warp if relaxing(r0) else s.max_warp
            sim_len = max(min_gap, int(np.ceil(length / cap)))
            sim_len = min(sim_len, length)
        seg_sim.append(sim)
        seg_real.append(r0)
        seg_warp.append(length / sim_len)
        seg_apv.append(drug_on("apv", r0))
        seg_aniso.append(drug_on("anisomycin", r0))
        seg_trace.append(tracing(r0))
        sim += sim_len
    total = sim
    # after the protocol: biological time stands still until the compiled run ends
    seg_sim.append(sim)
    seg_real.append(duration)
    seg_warp.append(FROZEN)
    seg_apv.append(0)
    seg_aniso.append(0)
    seg_trace.append(0)

    seg_sim_a = np.array(seg_sim, dtype=np.int64)
    seg_real_a = np.array(seg_real, dtype=np.int64)
    seg_warp_a = np.array(seg_warp, dtype=float)

    def to_sim(real_steps: np.ndarray) -> np.ndarray:
        if not len(real_steps):
            return np.zeros(0, np.int64)
        j = np.searchsorted(seg_real_a[1:], real_steps, side="right")  # segment index (0 is settle)
        j = np.clip(j, 1, len(seg_sim_a) - 2)
        offset = real_steps - seg_real_a[j]
        if not reference and np.any(seg_warp_a[j] != 1.0):
            raise AssertionError("a pulse fell outside an active segment")
        return seg_sim_a[j] + offset

    return Schedule(
        dt=dt,
        seg_sim_start=seg_sim_a,
        seg_real_start=seg_real_a,
        seg_warp=seg_warp_a,
        seg_apv=np.array(seg_apv, dtype=float),
        seg_anisomycin=np.array(seg_aniso, dtype=float),
        seg_trace=np.array(seg_trace, dtype=float),
        pulse_sim={k: to_sim(v) for k, v in pulse_real.items()},
        pulse_real=pulse_real,
        test_real=test_real,
        spike_sim=to_sim(spike_real),
        total_sim_steps=int(total),
        settle_steps=settle,
        duration_steps=duration,
        reference=reference,
    )
