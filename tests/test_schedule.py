"""The warped schedule: which stretches run in real time and how the gaps are compressed."""

from __future__ import annotations

import brian2 as b2
import numpy as np
import pytest

from biophys_ltp.protocol import protocol_from_dict
from biophys_ltp.schedule import ScheduleSettings, build_schedule, ramp_sum

DT = 0.05 * b2.ms
S = ScheduleSettings()


def _protocol(events, duration="3 min", pathways=("S1", "S2", "S3")):
    return protocol_from_dict({"name": "schedule test", "duration": duration, "baseline": "1 min",
                               "test_interval": "1 min", "pathways": list(pathways), "events": events})


def _real_time_stretches(schedule):
    """(start, stop) in biological steps of the stretches run at warp 1 (no growth)."""
    real = schedule.seg_real_start
    out = []
    for k in range(1, schedule.n_segments - 1):  # skip the frozen start and end
        if schedule.seg_warp[k] == 1.0 and schedule.seg_growth[k] == 1.0:
            a, b = int(round(real[k])), int(round(real[k + 1]))
            if out and out[-1][1] == a:
                out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
    return out


def _steps(q):
    return int(round(float(q / DT)))


def _stretch_of(schedule, step):
    return [s for s in _real_time_stretches(schedule) if s[0] <= step < s[1]]


def test_test_pulse_runs_in_real_time_for_its_measurement():
    sched = build_schedule(_protocol([], pathways=("S1",)), DT)
    pulse = int(sched.test_real["S1"][1])
    assert _stretch_of(sched, pulse) == [(pulse - _steps(S.pre), pulse + _steps(S.test_tail))]


def test_isolated_induction_pulse_runs_in_real_time_for_its_tail_only():
    sched = build_schedule(_protocol([{"kind": "train", "pathway": "S1", "at": "90 s", "pulses": 3,
                                       "frequency": "1 Hz"}], pathways=("S1",)), DT)
    pulse = _steps(91 * b2.second)
    assert _stretch_of(sched, pulse) == [(pulse - _steps(S.pre), pulse + _steps(S.isolated_tail))]


def test_train_keeps_the_long_tail_after_its_last_pulse():
    # 21 pulses at 100 Hz: NMDA conductances sum and the dendrite stays depolarised
    sched = build_schedule(_protocol([{"kind": "weak_tetanus", "pathway": "S1", "at": "90 s"}],
                                     pathways=("S1",)), DT)
    last = int(sched.pulse_real["S1"][sched.pulse_real["S1"] < _steps(100 * b2.second)].max())
    assert _stretch_of(sched, last)[0][1] == last + _steps(S.tail)


def test_pulses_of_a_strong_lfs_burst_are_isolated_with_a_compressed_gap_between():
    # 20-Hz bursts: pulses 50 ms apart, more than train_window; each runs in real time for
    # an isolated pulse's tail (not a train's), and the gap between them is compressed, by
    # at most short_gap_max_warp
    sched = build_schedule(_protocol([{"kind": "slfs", "pathway": "S1", "at": "90 s", "pulses": 2}],
                                     pathways=("S1",)), DT)
    first = _steps(90 * b2.second)
    second = first + _steps(50 * b2.ms)
    assert second in set(sched.pulse_real["S1"].tolist())
    assert _stretch_of(sched, first) == [(first - _steps(S.pre), first + _steps(S.isolated_tail))]
    assert _stretch_of(sched, second) == [(second - _steps(S.pre), second + _steps(S.isolated_tail))]
    k = np.searchsorted(sched.pulse_real["S1"], first)
    between = sched.warp_of_sim(np.arange(sched.pulse_sim["S1"][k], sched.pulse_sim["S1"][k + 1]))
    assert 1 < between.max() <= S.short_gap_max_warp * (1 + 1e-12)


def test_staggered_test_pulses_each_run_in_real_time_with_a_slow_gap_between():
    # test pulses of S1-S3 are 100 ms apart: each has its own real-time stretch, and the
    # short gap between them is compressed by at most short_gap_max_warp
    sched = build_schedule(_protocol([]), DT)
    s1, s2 = int(sched.test_real["S1"][1]), int(sched.test_real["S2"][1])
    assert _stretch_of(sched, s1)[0][1] == s1 + _steps(S.test_tail)
    assert _stretch_of(sched, s2)[0][0] == s2 - _steps(S.pre)
    between = sched.warp_of_sim(np.arange(sched.pulse_sim["S1"][1], sched.pulse_sim["S2"][1]))
    assert between.max() <= S.short_gap_max_warp * (1 + 1e-12)
    assert between.max() > 1


def test_a_gap_grows_its_steps_by_the_growth_factor_up_to_max_warp():
    sched = build_schedule(_protocol([], pathways=("S1",)), DT)
    start = sched.pulse_sim["S1"][1] + _steps(S.test_tail)
    warps = sched.warp_of_sim(np.arange(start, sched.pulse_sim["S1"][2]))
    ratios = warps[1:] / warps[:-1]
    assert warps[0] == pytest.approx(1.0)
    # never faster than growth, and by exactly growth while the warp is below its cap
    assert ratios.max() <= S.growth * (1 + 1e-12)
    assert np.median(ratios[ratios > 1.0 + 1e-9]) == pytest.approx(S.growth, rel=1e-9)
    assert S.max_warp / S.growth < warps.max() <= S.max_warp
    # the minute between two test pulses costs a few hundred steps
    assert len(warps) < 400


def test_biological_time_is_continuous_and_ends_at_the_protocol_end():
    sched = build_schedule(_protocol([{"kind": "weak_tetanus", "pathway": "S1", "at": "90 s"},
                                      {"kind": "drug", "drug": "apv", "start": "100 s", "stop": "130 s"}]), DT)
    # each segment starts where the one before it ended, in biological time
    for k in range(1, sched.n_segments - 1):
        n = sched.seg_sim_start[k + 1] - sched.seg_sim_start[k]
        end = sched.seg_real_start[k] + sched.seg_warp[k] * ramp_sum(sched.seg_growth[k], n)
        assert end == pytest.approx(sched.seg_real_start[k + 1], abs=1e-6)
    assert sched.seg_real_start[-1] == _steps(180 * b2.second)
    # drug states change only at segment starts and the steps never run slower than real time
    assert sched.seg_warp[1:-1].min() >= 1.0


def test_trace_windows_run_in_real_time():
    window = (10 * b2.second, 12 * b2.second)
    sched = build_schedule(_protocol([], pathways=("S1",)), DT, trace_windows=[window])
    inside = _stretch_of(sched, _steps(window[0]))
    assert inside and inside[0][1] >= _steps(window[1])


def test_reference_schedule_never_compresses():
    sched = build_schedule(_protocol([]), DT, reference=True)
    assert np.all(sched.seg_warp[1:-1] == 1.0) and np.all(sched.seg_growth == 1.0)
    assert sched.speedup() == pytest.approx(1.0)
