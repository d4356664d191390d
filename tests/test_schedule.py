"""The warped schedule: which stretches run in real time and which are compressed."""

from __future__ import annotations

import brian2 as b2
import numpy as np
import pytest

from biophys_ltp.protocol import protocol_from_dict
from biophys_ltp.schedule import ScheduleSettings, build_schedule

DT = 0.05 * b2.ms
S = ScheduleSettings()


def _protocol(events, duration="3 min", pathways=("S1", "S2", "S3")):
    return protocol_from_dict({"name": "schedule test", "duration": duration, "baseline": "1 min",
                               "test_interval": "1 min", "pathways": list(pathways), "events": events})


def _real_time_stretches(schedule):
    """(start, stop) in biological steps of the stretches run at warp 1."""
    real = schedule.seg_real_start
    out = []
    for k in range(1, schedule.n_segments - 1):  # skip the frozen start and end
        if schedule.seg_warp[k] == 1.0:
            a, b = int(real[k]), int(real[k + 1])
            if out and out[-1][1] == a:
                out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
    return out


def _steps(q):
    return int(round(float(q / DT)))


def test_isolated_pulse_runs_in_real_time_for_its_tail_only():
    sched = build_schedule(_protocol([], pathways=("S1",)), DT)
    pulse = int(sched.test_real["S1"][1])
    stretch = [s for s in _real_time_stretches(sched) if s[0] <= pulse < s[1]]
    assert stretch == [(pulse - _steps(S.pre), pulse + _steps(S.isolated_tail))]


def test_train_keeps_the_long_tail_after_its_last_pulse():
    # 21 pulses at 100 Hz: NMDA conductances sum and the dendrite stays depolarised
    sched = build_schedule(_protocol([{"kind": "weak_tetanus", "pathway": "S1", "at": "90 s"}],
                                     pathways=("S1",)), DT)
    last = int(sched.pulse_real["S1"][sched.pulse_real["S1"] < _steps(100 * b2.second)].max())
    stretch = [s for s in _real_time_stretches(sched) if s[0] <= last < s[1]]
    assert stretch[0][1] == last + _steps(S.tail)


def test_staggered_test_pulses_of_other_pathways_are_isolated():
    # test pulses of S1-S3 are 100 ms apart: each is an isolated pulse, not a train
    sched = build_schedule(_protocol([]), DT)
    s2 = int(sched.test_real["S2"][1])
    stretch = [s for s in _real_time_stretches(sched) if s[0] <= s2 < s[1]][0]
    # the three overlapping stretches merge into one, which ends one isolated tail after
    # S3's pulse (not a train's tail)
    s3 = int(sched.test_real["S3"][1])
    assert stretch[1] == s3 + _steps(S.isolated_tail)


def test_short_gaps_are_not_compressed():
    # 5 Hz: 200 ms between pulses, shorter than short_gap once the tails are subtracted
    sched = build_schedule(_protocol([{"kind": "train", "pathway": "S1", "at": "90 s", "pulses": 10,
                                       "frequency": "5 Hz"}], pathways=("S1",)), DT)
    first = _steps(90 * b2.second)
    stretch = [s for s in _real_time_stretches(sched) if s[0] <= first < s[1]][0]
    assert stretch[1] >= first + _steps(1.8 * b2.second)


def test_trace_windows_run_in_real_time():
    window = (10 * b2.second, 12 * b2.second)
    sched = build_schedule(_protocol([], pathways=("S1",)), DT, trace_windows=[window])
    inside = [(a, b) for a, b in _real_time_stretches(sched) if a <= _steps(window[0]) < b]
    assert inside and inside[0][1] >= _steps(window[1])


def test_reference_schedule_never_compresses():
    sched = build_schedule(_protocol([]), DT, reference=True)
    assert np.all(sched.seg_warp[1:-1] == 1.0)
    assert sched.speedup() == pytest.approx(1.0)
