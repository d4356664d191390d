"""Results helpers that locate times relative to a pathway's induction (no simulation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biophys_ltp.errors import ResultError
from biophys_ltp.protocol import protocol_from_dict
from biophys_ltp.simulation import Results


def _results():
    proto = protocol_from_dict({
        "name": "t", "duration": "3 h", "baseline": "30 min", "test_interval": "5 min",
        "pathways": ["S1", "S2"],
        "events": [{"kind": "wlfs", "pathway": "S1", "at": "30 min"}]})  # 900 s of pulses
    times = np.arange(0, 181, 5.0)
    fepsp = pd.concat([pd.DataFrame({"time_min": times, "pathway": p, "fepsp_pct": 100 + times + k})
                       for k, p in enumerate(["S1", "S2"])], ignore_index=True)
    return Results(fepsp, pd.DataFrame(), {}, protocol=proto)


def test_induction_min_gives_first_and_last_pulse():
    first, last = _results().induction_min("S1")
    assert first == pytest.approx(30.0)
    assert last == pytest.approx(30.0 + 899 / 60)


def test_fepsp_after_counts_from_the_first_or_the_last_pulse():
    res = _results()
    assert res.fepsp_after("S1", 60) == 100 + 90  # test pulse at 90 min
    # the last pulse is at 44.98 min: the test pulse nearest 104.98 min is at 105 min
    assert res.fepsp_after("S1", 60, from_end=True) == 100 + 105


def test_fepsp_after_needs_an_induction():
    with pytest.raises(ResultError, match="no induction on pathway S2"):
        _results().fepsp_after("S2", 60)


# ---------------------------------------------------------------------------
# The one writer of result folders
# ---------------------------------------------------------------------------

def _tables(value: float):
    fepsp = pd.DataFrame({"time_min": [0.0, 5.0], "pathway": ["S1", "S1"], "fepsp_pct": [100.0, value]})
    state = pd.DataFrame({"time_min": [0.0], "pathway": ["S1"], "tag": [value / 1000]})
    return fepsp, state


def test_a_result_folder_is_replaced_whole_and_never_half_written(tmp_path, monkeypatch):
    from biophys_ltp.simulation import write_result_folder

    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    fepsp, state = _tables(150.0)
    traces = pd.DataFrame({"time_s": [0.0], "compartment": ["soma"], "v_mV": [-65.0]})
    write_result_folder(out, fepsp, state, {"run": 1}, traces)
    assert sorted(p.name for p in out.iterdir()) == ["fepsp.csv", "metadata.json", "notes.txt", "state.csv",
                                                     "traces.csv"]
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    # a write that fails half-way leaves the folder as it was (and no staging folder behind)
    real = pd.DataFrame.to_csv

    def failing(self, path, *args, **kwargs):
        if str(path).endswith("state.csv"):
            raise OSError("No space left on device")
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing)
    with pytest.raises(OSError, match="No space left"):
        write_result_folder(out, *_tables(120.0), {"run": 2})
    monkeypatch.setattr(pd.DataFrame, "to_csv", real)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]

    # a later run without traces: its files replace the earlier ones, the earlier traces go,
    # the user's own file stays
    write_result_folder(out, *_tables(120.0), {"run": 3})
    assert sorted(p.name for p in out.iterdir()) == ["fepsp.csv", "metadata.json", "notes.txt", "state.csv"]
    assert pd.read_csv(out / "fepsp.csv").fepsp_pct.iloc[-1] == 120.0
    assert (out / "notes.txt").read_text() == "mine"


def test_the_temporary_folder_of_a_killed_writer_is_removed_at_the_next_write(tmp_path):
    import subprocess
    import sys

    from biophys_ltp.simulation import write_result_folder

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a process id that no longer runs
    left = tmp_path / f".run.writing-{dead.pid}-0123"
    left.mkdir()
    (left / "fepsp.csv").write_text("half")
    alive = tmp_path / ".run.writing-1-4567"  # init's: a writer that still runs
    alive.mkdir()
    write_result_folder(tmp_path / "run", *_tables(150.0), {"version": "x"})
    assert not left.exists() and alive.exists()
    assert (tmp_path / "run" / "metadata.json").exists()
