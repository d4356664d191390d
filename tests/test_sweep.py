"""Parameter sweeps (biophys_ltp.sweep): grid names and units, the output folder,
resuming after an interruption, failed points, and the same sweep on a local Dask
cluster.

Fast tests use a stand-in for the simulation (``fake_runner``); the tests marked
``standalone`` simulate the 12-minute protocol ``wtet_short`` (a point takes 10-20 s).
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pandas as pd
import pytest

from biophys_ltp import ModelError
from biophys_ltp import cli
from biophys_ltp.protocol import protocol_from_dict
from biophys_ltp.sweep import SweepError, load_sweep, parse_grid, sweep

PROTO = "wtet_short"  # 12 min, weak tetanus on S1 at 5 min (event 0)
# 13 min is after the end of the protocol: that point fails, the others run
GRID = {"events[0].at": ["5 min", "7 min", "13 min"]}
TIMES = ("2 min", "5 min")
FEPSP = ["S1_fepsp_pct_2min", "S1_fepsp_pct_5min", "S1_fepsp_pct_last", "S2_fepsp_pct_2min",
         "S2_fepsp_pct_last", "S3_fepsp_pct_last"]


def sweep_cli(argv):
    """``biophys-ltp sweep ARGV``; the exit status."""
    return cli.main(["sweep", *argv])


def fake_runner(spec):
    """Stands in for ``run_point`` without simulating: fEPSP 100 % + the S1 onset in minutes.

    ``$SWEEP_TEST_CRASH`` (a value text, e.g. "7 min") makes the worker process die on
    that point: the first time only, or always with ``$SWEEP_TEST_CRASH_ALWAYS``;
    ``$SWEEP_TEST_FAIL`` makes that point fail."""
    proto = protocol_from_dict(spec["protocol"], source=spec["source"])
    crash = os.environ.get("SWEEP_TEST_CRASH")
    if crash and spec["source"].endswith(f"={crash}]"):
        mark = os.environ["SWEEP_TEST_MARK"]
        if os.environ.get("SWEEP_TEST_CRASH_ALWAYS") or not os.path.exists(mark):
            open(mark, "w").close()
            os._exit(3)
    fail = os.environ.get("SWEEP_TEST_FAIL")
    if fail and spec["source"].endswith(f"={fail}]"):
        return {"status": "failed", "error": "RuntimeError: told to fail", "worker": "test"}
    onset = float(proto.induction_onsets()["S1"]) / 60
    rows = [(float(t) / 60, p, 100.0 + onset) for p, ts in proto.test_pulses().items() for t in ts]
    return {"status": "ok", "fepsp": pd.DataFrame(rows, columns=["time_min", "pathway", "fepsp_pct"]),
            "state": None, "metadata": {}, "timings": {"wall_s": 0.0}, "worker": f"test:{os.getpid()}"}


def fake_sweep(out, grid=GRID, **kw):
    kw.setdefault("workers", 1)
    return sweep(PROTO, grid, out, outcome_times=TIMES, progress=False, _runner=fake_runner, **kw)


def data_lines(path) -> int:
    return len(path.read_text().splitlines()) - 1


# ---------------------------------------------------------------------------
# Grid: names, units, errors (no simulation)
# ---------------------------------------------------------------------------

def test_parse_grid_reads_names_and_values_with_units():
    grid = parse_grid(["tau_z=15min, 30 min", "events[1].at='35 min',65min", "theta_signal=2,2.5"])
    assert grid == {"tau_z": ["15min", "30 min"], "events[1].at": ["35 min", "65min"],
                    "theta_signal": ["2", "2.5"]}


@pytest.mark.parametrize("items, message", [
    (["tau_z"], "NAME=V1,V2"),
    (["tau_z=1min", "tau_z=2min"], "given twice"),
    (["tau_z=1min,,2min"], "empty value"),
])
def test_parse_grid_errors(items, message):
    with pytest.raises(SweepError, match=message):
        parse_grid(items)


@pytest.mark.parametrize("grid, error, message", [
    ({"tau_zz": "1 min"}, SweepError, r"unknown parameter.*did you mean tau_z"),
    ({"tau_z": "20"}, ModelError, r"tau_z.*no unit"),
    ({"tau_z": "20 mV"}, ModelError, r"tau_z.*not a time"),
    ({"events[0].at": "5"}, SweepError, r"events\[0\]\.at.*no unit"),
    ({"events[0].at": "5 nS"}, SweepError, r"events\[0\]\.at.*not a time"),
    ({"events[1].at": "5 min"}, SweepError, r"event index 1 out of range.*1 event, numbered from 0"),
    ({"events[0].drug": "apv"}, SweepError, r"no sweepable key 'drug'.*at, pulses"),
    ({"events[0].pulses": "2.5"}, SweepError, r"whole number"),
    ({"protocol.name": "x"}, SweepError, r"unknown protocol key"),
    ({"tau_z": ["1 min", "60 s"]}, SweepError, r"same value is listed twice"),
    ({"pathways": "S1"}, SweepError, r"cannot be swept"),
    ({"spike_site": "spine_head, branch_root"}, SweepError, r"spike_site.*names a choice.*--set spike_site=VALUE"),
])
def test_grid_errors_name_the_problem_before_anything_runs(tmp_path, grid, error, message):
    with pytest.raises(error, match=message):
        fake_sweep(tmp_path / "out", grid=grid)
    assert not (tmp_path / "out").exists()


def test_a_pairing_burst_is_swept_by_its_spike_count_and_frequency(tmp_path):
    """events[i].spikes and events[i].spike_frequency of a pairing are grid names: each
    point's protocol pairs every pulse with that many somatic spikes at that frequency."""
    from brian2 import second
    seen = []

    def runner(spec):
        proto = protocol_from_dict(spec["protocol"], source=spec["source"])
        spikes = np.asarray(proto.somatic_spikes() / second)
        seen.append((len(spikes), round(float(spikes[1] - spikes[0]), 9)))
        return fake_runner(spec)

    pairing = {"name": "burst pairings", "duration": "12 min", "baseline": "5 min", "test_interval": "1 min",
               "pathways": ["S1", "S2"], "events": [{"kind": "pairing", "pathway": "S1", "at": "5 min", "pairs": 10,
                                                     "frequency": "0.3 Hz", "dt": "10 ms", "spikes": 2,
                                                     "spike_frequency": "100 Hz"}]}
    res = sweep(pairing, {"events[0].spikes": "2, 4", "events[0].spike_frequency": "50 Hz, 100 Hz"},
                tmp_path / "out", outcome_times=("1 min",), progress=False, workers=1, _runner=runner)
    assert len(res.points) == 4
    assert sorted(seen) == [(20, 0.01), (20, 0.02), (40, 0.01), (40, 0.02)]
    with pytest.raises(SweepError, match=r"no sweepable key 'spikes'"):
        fake_sweep(tmp_path / "bad", grid={"events[0].spikes": "2, 3"})  # a train has no spikes


def test_point_id_depends_on_values_not_on_how_they_are_written(tmp_path):
    a = fake_sweep(tmp_path / "a", grid={"events[0].at": "5 min, 7 min", "theta_signal": "2.5"})
    b = fake_sweep(tmp_path / "b", grid={"events[0].at": ["420 s", "300 s"],
                                         "theta_signal": [2.5]})
    assert set(a.points.point_id) == set(b.points.point_id)
    # the columns carry the unit of the grid's first value
    assert list(a.points["events[0].at_min"]) == [5.0, 7.0]
    assert sorted(b.points["events[0].at_s"]) == [300.0, 420.0]


def test_dask_missing_gives_the_install_hint(tmp_path, monkeypatch):
    for name in ("dask", "dask.distributed", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails
    with pytest.raises(SweepError, match=r"pip install 'dask\[distributed\]'"):
        fake_sweep(tmp_path / "out", scheduler="tcp://127.0.0.1:8786")
    code = sweep_cli([PROTO, "--grid", "events[0].at=5min", "--out", str(tmp_path / "cli"),
                      "--scheduler", "tcp://127.0.0.1:8786"])
    assert code == 2


# ---------------------------------------------------------------------------
# The output folder (stand-in simulation)
# ---------------------------------------------------------------------------

def test_a_folder_holding_another_sweep_is_refused(tmp_path):
    fake_sweep(tmp_path / "out", max_points=1)
    with pytest.raises(SweepError, match=r"different sweep.*grid.*7 min"):
        fake_sweep(tmp_path / "out", grid={"events[0].at": ["5 min", "6 min"]})
    with pytest.raises(SweepError, match="different sweep.*fixed parameters"):
        fake_sweep(tmp_path / "out", params={"tau_z": "20 min"})
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match="not empty"):
        fake_sweep(other)
    # the same sweep written differently is the same sweep, and keeps its columns' units
    res = fake_sweep(tmp_path / "out", grid={"events[0].at": "780 s, 300 s, 420 s"})
    assert (res.ran, res.skipped) == (2, 1)
    assert sorted(res.points["events[0].at_min"]) == [5.0, 7.0, 13.0]


def test_an_interrupted_write_is_dropped_and_the_point_rerun(tmp_path):
    out = tmp_path / "out"
    res = fake_sweep(out)
    first = res.points.set_index("point_id")
    lost = first.index[1]
    # what a kill in the middle of recording point `lost` leaves: its time course written,
    # its row cut short
    rows = (out / "points.csv").read_text().splitlines(keepends=True)
    keep = [r for r in rows if not r.startswith(lost)]
    tail = [r for r in rows if r.startswith(lost)][0]
    (out / "points.csv").write_text("".join(keep) + tail[: len(tail) // 2])
    res = fake_sweep(out)
    assert (res.ran, res.skipped) == (1, 2)
    assert data_lines(out / "points.csv") == 3
    tc = res.timecourse()
    assert not tc.duplicated(["point_id", "pathway", "time_min"]).any()
    assert set(tc.point_id) == set(res.points.point_id[res.points.status == "ok"])
    pd.testing.assert_frame_equal(res.points.set_index("point_id").drop(columns="finished_at"),
                                  first.drop(columns="finished_at"))


def test_failed_points_are_skipped_unless_retried(tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("SWEEP_TEST_FAIL", "7 min")
    res = fake_sweep(out)
    assert list(res.points.status) == ["ok", "failed", "failed"]
    assert res.points.error[1] == "RuntimeError: told to fail"
    assert "not before the end of the protocol" in res.points.error[2]
    assert (out / "points" / res.points.point_id[2] / "error.txt").is_file()
    monkeypatch.delenv("SWEEP_TEST_FAIL")
    assert fake_sweep(out).ran == 0
    res = fake_sweep(out, retry_failed=True)
    assert res.ran == 2  # both failed points ran again; 13 min fails again
    assert list(res.points.status) == ["ok", "ok", "failed"]
    assert data_lines(out / "points.csv") == 5  # append-only: the last row of a point counts


def test_a_killed_worker_loses_no_point(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEP_TEST_MARK", str(tmp_path / "crashed"))
    monkeypatch.setenv("SWEEP_TEST_CRASH", "6 min")
    grid = {"events[0].at": ["5 min", "6 min", "7 min"]}
    res = fake_sweep(tmp_path / "once", grid=grid, workers=2)
    assert (tmp_path / "crashed").exists()
    assert list(res.points.status) == ["ok", "ok", "ok"]
    # a point that kills its worker every time is recorded as failed, the others run
    monkeypatch.setenv("SWEEP_TEST_CRASH_ALWAYS", "1")
    res = fake_sweep(tmp_path / "always", grid=grid, workers=2)
    assert list(res.points.status) == ["ok", "failed", "ok"]
    assert res.points.error[1].startswith("WorkerDied")


# ---------------------------------------------------------------------------
# Real simulations
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "local"
    return sweep(PROTO, GRID, out, workers=2, outcome_times=TIMES, progress=False)


@pytest.mark.standalone
def test_local_sweep_writes_one_row_per_point(local_sweep):
    res = local_sweep
    pts = res.points
    assert len(pts) == 3 and (res.ran, res.skipped, res.pending) == (3, 0, [])
    assert list(pts["events[0].at_min"]) == [5.0, 7.0, 13.0]
    assert list(pts.status) == ["ok", "ok", "failed"]
    assert "not before the end of the protocol" in pts.error[2]
    ok = pts[pts.status == "ok"]
    assert list(ok.S1_induction_min) == [5.0, 7.0]
    assert ok.S1_fepsp_pct_2min.between(120, 200).all()  # early LTP on the tetanised pathway
    assert ok.S2_fepsp_pct_last.between(95, 105).all()  # control pathways stay at baseline
    assert np.isnan(ok.S1_fepsp_pct_5min.iloc[1])  # 7 + 5 min is past the end (12 min)
    assert (ok.run_s > 0).all() and ok.worker.str.contains(":").all()
    manifest = json.loads((res.out / "sweep.json").read_text())
    assert manifest["grid"] == {"events[0].at": ["5 min", "7 min", "13 min"]}
    tc = res.timecourse()
    assert set(tc.point_id) == set(ok.point_id)
    assert list(tc.columns) == ["point_id", "pathway", "time_min", "fepsp_pct"]
    folder = res.point_results(ok.point_id.iloc[1])
    assert {p.name for p in folder.iterdir()} == {"fepsp.csv", "state.csv", "metadata.json"}
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["protocol"]["events"][0]["at"] == "7 min"  # the point's own protocol
    assert meta["sweep"]["grid_values"] == {"events[0].at": "7 min"}
    own = pd.read_csv(folder / "fepsp.csv")[["pathway", "time_min", "fepsp_pct"]]
    mine = tc[tc.point_id == ok.point_id.iloc[1]].drop(columns="point_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, own, rtol=0, atol=1e-9)


@pytest.mark.standalone
def test_an_interrupted_sweep_resumes_without_rerunning_or_losing_points(tmp_path, local_sweep, capfd):
    out = tmp_path / "resume"
    first = sweep(PROTO, GRID, out, workers=1, outcome_times=TIMES, max_points=1, progress=False)
    assert (first.ran, len(first.points), len(first.pending)) == (1, 1, 2)
    before = first.points.iloc[0]
    capfd.readouterr()
    res = sweep(PROTO, GRID, out, workers=1, outcome_times=TIMES, progress=True)
    err = capfd.readouterr().err
    assert "1 already done" in err and "1 failed" in err and "left" in err
    assert (res.ran, res.skipped) == (2, 1)
    assert data_lines(out / "points.csv") == 3
    after = res.points.iloc[0]
    assert (after.finished_at, after.worker) == (before.finished_at, before.worker)  # not run again
    # the same values as the sweep that ran in one go (the model is deterministic)
    pd.testing.assert_frame_equal(res.points[FEPSP], local_sweep.points[FEPSP], rtol=0, atol=1e-9)
    # the command line: nothing left to run; exit status 1 because a point failed
    argv = [PROTO, "--grid", "events[0].at=5min,7min,13min", "--out", str(out),
            "--outcome-times", "2min,5min", "--quiet"]
    assert sweep_cli(argv) == 1
    text = capfd.readouterr().out
    assert "3 points: 2 ok, 1 failed, 0 not run yet (this run: 0 recorded, 3 already done)" in text
    assert load_sweep(out).ran == 0


@pytest.mark.standalone
def test_dask_cluster_gives_the_results_of_the_local_run(tmp_path, local_sweep):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        res = sweep(PROTO, GRID, tmp_path / "dask", scheduler=cluster.scheduler_address,
                    outcome_times=TIMES, progress=False)
    assert list(res.points.status) == ["ok", "ok", "failed"]
    assert res.points.worker[:2].notna().all()
    pd.testing.assert_frame_equal(res.points[["point_id", *FEPSP]],
                                  local_sweep.points[["point_id", *FEPSP]], rtol=0, atol=1e-9)
    key = ["point_id", "pathway", "time_min"]
    pd.testing.assert_frame_equal(res.timecourse().sort_values(key).reset_index(drop=True),
                                  local_sweep.timecourse().sort_values(key).reset_index(drop=True),
                                  rtol=0, atol=1e-9)


def test_a_grid_may_be_one_text_item(tmp_path):
    """``sweep(PROTOCOL, "NAME=V1,V2", ...)``: one item, as on the command line (it was read
    one character at a time)."""
    res = sweep(PROTO, "events[0].at=5 min,7 min", tmp_path / "out", outcome_times=TIMES, progress=False,
                workers=1, _runner=fake_runner)
    assert sorted(res.points["events[0].at_min"]) == [5.0, 7.0]


def test_outcome_times_after_the_protocols_end_are_said_before_running(tmp_path, capsys):
    # an induction at 5 min leaves S1's 6-min outcome inside the 12-min protocol; at 7 min it is past the end
    with pytest.warns(UserWarning, match=r"leave these columns empty: S1_fepsp_pct_6min \(1 of 2 points\);"):
        res = sweep(PROTO, {"events[0].at": ["5 min", "7 min"]}, tmp_path / "a", outcome_times=("2 min", "6 min"),
                    progress=False, workers=1, _runner=fake_runner)
    late = res.points.set_index("events[0].at_min")["S1_fepsp_pct_6min"]
    assert np.isnan(late[7.0]) and not np.isnan(late[5.0])  # what the warning said
    assert sweep_cli([PROTO, "--grid", "events[0].at=5 min", "--out", str(tmp_path / "b"), "--quiet",
                      "--outcome-times", "2 min,10 min", "--max-points", "0"]) == 0
    err = capsys.readouterr().err
    assert err.count("biophys-ltp: warning: ") == 1 and "S1_fepsp_pct_10min (every point)" in err


@pytest.mark.parametrize("argv, message", [
    (["--outcome-times", "1h,,3h"], "--outcome-times expects T1,T2,..."),
    (["--outcome-times", ""], "--outcome-times expects T1,T2,..."),
    (["--out", "{file}", "--outcome-times", "2 min"], "not a folder"),
])
def test_the_command_refuses_empty_outcome_times_and_a_file_as_its_folder(tmp_path, capsys, argv, message):
    (tmp_path / "file").write_text("x")
    args = [a.replace("{file}", str(tmp_path / "file")) for a in argv]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    assert sweep_cli([PROTO, "--grid", "events[0].at=5 min", "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
