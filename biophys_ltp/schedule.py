"""From a protocol in biological time to a warped simulation-time schedule.

The compiled program runs one Brian2 ``run()`` at the fine step ``dt``.  What
it simulates is set by data (TimedArrays given through ``run_args``), never by
code, so a new protocol or new timings reuse the same build:

* **segments** of simulation time, each with a warp factor (biological
  seconds per simulated second) at its first step, a growth factor of the warp
  per step, and the level of each drug target (biophys_ltp.drugs) that holds during it;
* **pulse times** per pathway and **somatic current steps**, in simulation
  time.

Active stretches surround every pulse and current step (from ``pre`` before to
a tail after, merged where they overlap) and run at warp 1, so that voltages,
gates, conductances and calcium evolve at the fine step.  The tail after a
test pulse covers its measurement (``test_tail``), the tail after an isolated
induction pulse or step its synaptic response (``isolated_tail``), the tail
after the last pulse of a train the summed response (``tail``).  The quiet
gaps between active stretches are compressed: there the warp grows by
``growth`` per step, from 1 up to ``max_warp`` (``relax_max_warp`` in the
minute after an induction, while kinase and phosphatase activities decay), so
that each step is longer than the one before by a constant fraction while the
last pulse's response dies away, and a long gap costs a few hundred steps.
Every rate carries the warp: slow variables follow biological time exactly,
fast ones (membrane potential, gates, conductances, calcium) relax over steps
that grow as they settle (biophys_ltp.mechanisms).  Drug boundaries split
segments so that drug states are constant within each.  The reference schedule
(``reference=True``) uses warp 1 everywhere: every variable at the fine step
all the time.

All event times are integer numbers of fine steps, so that pulses land exactly
on the simulation grid; a compressed gap ends exactly where the next active
stretch begins.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

import brian2 as b2
import numpy as np

from .drugs import target_levels
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
    # Active time after an event.  After a test pulse: its EPSP is measured over the
    # engine's measurement window (biophys_ltp.engine.MEASURE_WINDOW, 10 ms: the somatic
    # EPSP peaks 3-4 ms after the pulse), which must lie in real time.  After an isolated
    # induction pulse or somatic step: its EPSP or spike and the peak of spine calcium.
    # After the last pulse of a train (an event with another within train_window before
    # it): NMDA conductances have summed and the dendrite is depolarised.  What is left
    # then decays in the gap, over steps that grow from real time.  Shortened from 31, 20
    # and 75 ms (issue 19): the warped runs still agree with the fixed-step reference on
    # every family of protocols (tests/test_reference.py) with 1/3 fewer fine steps.
    test_tail: b2.Quantity = field(default_factory=lambda: 11 * b2.ms)
    isolated_tail: b2.Quantity = field(default_factory=lambda: 12 * b2.ms)
    tail: b2.Quantity = field(default_factory=lambda: 30 * b2.ms)
    # pulses closer than this form a train: 100-Hz tetani and theta bursts (10 ms); the
    # 20-Hz pulses of strong-LFS bursts (50 ms) are isolated, with a compressed gap between
    train_window: b2.Quantity = field(default_factory=lambda: 40 * b2.ms)
    # In a gap each step's warp is `growth` times the last one's, from 1 after an active
    # stretch up to max_warp (biological seconds per simulated second).
    growth: float = 1.05
    # In gaps shorter than short_gap (between the staggered test pulses of the pathways,
    # 100 ms apart; within bursts) the warp stays below short_gap_max_warp: long steps relax
    # the membrane potential more slowly than it does (backward Euler), which the next
    # pulse would see, while a longer gap ends with steps so long that it is at rest.
    short_gap: b2.Quantity = field(default_factory=lambda: 150 * b2.ms)
    short_gap_max_warp: float = 10.0
    max_warp: float = 20000.0
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
    seg_real_start: np.ndarray  # biological time in (fractional) steps
    seg_warp: np.ndarray  # warp factor of the segment's first step
    seg_growth: np.ndarray  # factor by which the warp grows per step (1: constant)
    seg_drug: np.ndarray  # (segments, drug targets): each target's level (biophys_ltp.drugs.TARGETS)
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
        return self.seg_real_start[j] + self.seg_warp[j] * ramp_sum(self.seg_growth[j], sim_steps - self.seg_sim_start[j])

    def warp_of_sim(self, sim_steps: np.ndarray) -> np.ndarray:
        """The warp factor of the steps that start at these simulation-time steps."""
        sim_steps = np.asarray(sim_steps, dtype=float)
        j = np.clip(np.searchsorted(self.seg_sim_start, sim_steps, side="right") - 1, 0, self.n_segments - 1)
        return self.seg_warp[j] * self.seg_growth[j] ** (sim_steps - self.seg_sim_start[j])

    def speedup(self) -> float:
        """Biological time per simulated time of the protocol (settling excluded)."""
        return self.duration_steps / max(self.total_sim_steps - self.settle_steps, 1)


def ramp_sum(growth, k):
    """Biological steps covered by ``k`` steps whose warp starts at 1 and grows by
    ``growth`` per step: sum of growth**i for i < k (k where growth is 1).  The compiled
    program evaluates the same expression (biophys_ltp.engine.CONTROL)."""
    growth, k = np.asarray(growth, dtype=float), np.asarray(k, dtype=float)
    ramp = growth != 1.0
    return np.where(ramp, (growth ** k - 1.0) / np.where(ramp, growth - 1.0, 1.0), k)


def _gap_segments(length: int, w0: float, growth: float, cap: float) -> list[tuple[int, float, float, float]]:
    """Segments covering a compressed gap of ``length`` biological steps: the warp starts
    at ``w0`` and grows by ``growth`` per step up to ``cap``, and the last steps share
    what is left at a constant warp of at least 1.  (sim steps, warp, growth, real steps)
    for each segment."""
    out = []
    w0 = min(max(w0, 1.0), cap)
    k = 0
    if growth > 1.0 and w0 < cap:
        # ramp steps: all with warp below the cap, leaving at least one biological step
        k_cap = int(np.ceil(np.log(cap / w0) / np.log(growth)))
        k_fit = int(np.floor(np.log(1.0 + (length - 1) * (growth - 1.0) / w0) / np.log(growth)))
        k = max(min(k_cap, k_fit), 0)
        if k:
            out.append((k, w0, growth, float(w0 * ramp_sum(growth, k))))
    covered = out[0][3] if out else 0.0
    rest = length - covered
    if rest > 1e-9:
        w_next = min(w0 * growth ** k, cap)
        n = max(int(np.ceil(rest / w_next - 1e-9)), 1)
        if rest / n < 1.0:  # never slower than real time
            n = max(int(np.floor(rest)), 1)
        out.append((n, rest / n, 1.0, rest))
    return out


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
    test_tail = int(_steps(s.test_tail, dt))
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
    kinds = [(induction_real[name], 0, iso_tail) for name in protocol.pathways]
    kinds += [(np.setdiff1d(test_real[name], induction_real[name]), 0, test_tail) for name in protocol.pathways]
    kinds += [(spike_real, step_len, iso_tail)]
    for arr, extra, own_tail in kinds:
        if len(arr):
            # another pulse or step less than train_window before (the event itself excluded)
            before = np.searchsorted(events, arr, side="left") - np.searchsorted(events, arr - train_window,
                                                                                  side="right")
            starts.append(arr - pre)
            stops.append(arr + extra + np.where(before > 0, max(tail, own_tail), own_tail))
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
    for drug, windows_q in drugs.items():
        windows = [(int(_steps(w0, dt)), int(_steps(w1, dt))) for w0, w1 in windows_q]
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

    def drug_levels(r0: int) -> np.ndarray:
        return target_levels({drug for drug, windows in drug_steps.items()
                              if any(w0 <= r0 < w1 for w0, w1 in windows)})

    def tracing(r0: int) -> int:
        return int(any(w0 <= r0 < w1 for w0, w1 in trace_steps))

    settle = int(_steps(s.settle, dt))
    short_gap = int(_steps(s.short_gap, dt))

    def gap_length(r0: int) -> int:
        """Length of the whole quiet stretch (between active stretches) that contains r0."""
        k = np.searchsorted(act_a, r0, side="right")
        start = act_b[k - 1] if k > 0 else 0
        stop = act_a[k] if k < len(act_a) else duration
        return int(stop - start)

    seg_sim, seg_real, seg_warp, seg_growth = [0], [0.0], [FROZEN], [1.0]
    seg_drug, seg_trace = [drug_levels(0)], [0]
    sim = settle
    warp_end = 1.0  # warp of the step that ended the last segment (a gap continues its ramp)
    for r0, r1 in zip(bps[:-1], bps[1:]):
        r0, r1 = int(r0), int(r1)
        length = r1 - r0
        if length <= 0:
            continue
        # fast traces are recorded in real time: trace windows are not compressed
        if reference or is_active(r0, r1) or tracing(r0):
            pieces = [(length, 1.0, 1.0, float(length))]
            warp_end = 1.0
        else:
            cap = s.relax_max_warp if relaxing(r0) else s.max_warp
            if gap_length(r0) < short_gap:
                cap = min(cap, s.short_gap_max_warp)
            pieces = _gap_segments(length, warp_end, s.growth, cap)
            n, w, g, _ = pieces[-1]
            warp_end = w * g ** n
        real = float(r0)
        levels = drug_levels(r0)
        for n, w, g, real_len in pieces:
            seg_sim.append(sim)
            seg_real.append(real)
            seg_warp.append(w)
            seg_growth.append(g)
            seg_drug.append(levels)
            seg_trace.append(tracing(r0))
            sim += n
            real += real_len
    total = sim
    # after the protocol: biological time stands still until the compiled run ends
    seg_sim.append(sim)
    seg_real.append(float(duration))
    seg_warp.append(FROZEN)
    seg_growth.append(1.0)
    seg_drug.append(target_levels(set()))
    seg_trace.append(0)

    seg_sim_a = np.array(seg_sim, dtype=np.int64)
    seg_real_a = np.array(seg_real, dtype=float)
    seg_warp_a = np.array(seg_warp, dtype=float)
    seg_growth_a = np.array(seg_growth, dtype=float)

    def to_sim(real_steps: np.ndarray) -> np.ndarray:
        if not len(real_steps):
            return np.zeros(0, np.int64)
        j = np.searchsorted(seg_real_a[1:], real_steps, side="right")  # segment index (0 is settle)
        j = np.clip(j, 1, len(seg_sim_a) - 2)
        offset = real_steps - seg_real_a[j]
        if not reference and np.any((seg_warp_a[j] != 1.0) | (seg_growth_a[j] != 1.0)):
            raise AssertionError("a pulse fell outside an active segment")
        return seg_sim_a[j] + np.round(offset).astype(np.int64)

    return Schedule(
        dt=dt,
        seg_sim_start=seg_sim_a,
        seg_real_start=seg_real_a,
        seg_warp=seg_warp_a,
        seg_growth=seg_growth_a,
        seg_drug=np.array(seg_drug, dtype=float),
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
