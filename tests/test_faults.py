"""Faults of the machine around a run, each a clear error and none a silently wrong result:
a build killed half-way (rebuilt from scratch), a build lock or a program that takes too
long, no C++ compiler, a full disk, a program that fails, leftovers of killed builds; and
many processes asking for the same build at once (one build)."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import biophys_ltp as bl
from biophys_ltp.engine import RUN_DIR_PREFIX, build_key, buildcache, launch, runner, scratch_dir
from biophys_ltp.engine.network import RESULT_VARIABLES
from biophys_ltp.errors import InputError, SetupError, SimulationError
from biophys_ltp.model import load_model
from biophys_ltp.protocol import load_protocol
from biophys_ltp.schedule import ScheduleSettings, build_schedule

needs_toolchain = pytest.mark.skipif(not (shutil.which("make") and (shutil.which("g++") or shutil.which("c++"))),
                                     reason="needs make and a C++ compiler")
HINTS = ("apt install g++ make", "conda install -c conda-forge cxx-compiler make", "xcode-select --install")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private, empty build cache."""
    root = tmp_path / "cache"
    monkeypatch.setenv("BIOPHYS_LTP_CACHE", str(root))
    for name in ("BIOPHYS_LTP_LAUNCH", buildcache.BUILD_TIMEOUT_ENV, buildcache.RUN_TIMEOUT_ENV):
        monkeypatch.delenv(name, raising=False)
    return root


def _smoke():
    model = load_model()
    settings = ScheduleSettings()
    schedule = build_schedule(load_protocol("smoke"), model.dt, settings)
    return model, schedule, settings


def _fake_build(cache: Path) -> tuple[Path, dict]:
    """A build folder of the default model with a launch record that matches its program (a
    shell script) and the smoke protocol's inputs, as a completed build leaves them."""
    model, schedule, settings = _smoke()
    key = build_key(model)
    base = cache / "builds" / key
    (base / "program").mkdir(parents=True)
    main = base / "program" / "main"
    main.write_text("#!/bin/sh\nexit 0\n")
    main.chmod(0o755)
    inputs = launch.program_inputs(model, schedule, settings)
    st = main.stat()
    record = {"key": key, "brian2": launch.b2.__version__, "program": {"size": st.st_size, "mtime_ns": st.st_mtime_ns},
              "inputs": {name: {"dtype": "<f8", "size": 1} for name in inputs},
              "results": {f"{mon}.{var}": {"file": f"{mon}_{var}", "dtype": "<f8"} for mon, var in RESULT_VARIABLES},
              "environment": {}}
    (base / buildcache.LAUNCH_RECORD).write_text(json.dumps(record))
    assert launch.read_launch_record(base, key, inputs) == record
    return base, record


def _program(folder: Path, script: str) -> Path:
    """A stand-in for the compiled program: ``folder/main``, a shell script."""
    folder.mkdir(parents=True, exist_ok=True)
    main = folder / "main"
    main.write_text("#!/bin/sh\n" + textwrap.dedent(script))
    main.chmod(0o755)
    return folder


EMPTY_RECORD = {"inputs": {}, "results": {}, "environment": {}}


class _Reached(Exception):
    """Raised by a stand-in to show that the code got there."""


# --- time limits ------------------------------------------------------------------------

@pytest.mark.parametrize("name", [buildcache.BUILD_TIMEOUT_ENV, buildcache.RUN_TIMEOUT_ENV])
@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf", "10 min"])
def test_bad_time_limits_are_refused_before_simulating(cache, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(InputError, match=f"{name} must be a number of seconds greater than 0 .*not {value!r}"):
        bl.simulate("smoke", progress=False)
    assert not (cache / "builds").exists()


def test_time_limits_default_when_unset_or_empty(monkeypatch):
    monkeypatch.setenv(buildcache.RUN_TIMEOUT_ENV, "")
    monkeypatch.delenv(buildcache.BUILD_TIMEOUT_ENV, raising=False)
    assert buildcache.run_timeout() == buildcache.DEFAULT_RUN_TIMEOUT_S == 7200
    assert buildcache.build_timeout() == buildcache.DEFAULT_BUILD_TIMEOUT_S == 1800
    monkeypatch.setenv(buildcache.RUN_TIMEOUT_ENV, " 2.5 ")
    assert buildcache.run_timeout() == 2.5


HOLDER = """
import fcntl, os, sys, time
fh = open(sys.argv[1], "w")
fcntl.flock(fh, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""


@pytest.fixture
def held_lock(cache):
    """The build lock of the default model, held by another process."""
    base = cache / "builds" / build_key(load_model())
    base.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(base / buildcache.LOCK_FILE)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield base, proc
    finally:
        proc.kill()
        proc.wait()


def test_waiting_for_the_build_lock_has_a_limit(held_lock, monkeypatch):
    base, proc = held_lock
    monkeypatch.setenv(buildcache.BUILD_TIMEOUT_ENV, "1")
    t0 = time.monotonic()
    with pytest.raises(SetupError) as err:
        bl.simulate("smoke", progress=False)
    assert 1.0 <= time.monotonic() - t0 < 10
    msg = str(err.value)
    assert str(base / "program.lock") in msg and re.search(r"waited 1(\.\d)? s ", msg)
    assert "BIOPHYS_LTP_BUILD_TIMEOUT" in msg and "another process holds it" in msg
    # with the mark of the holder's build, the message names the holder
    (base / buildcache.BUILD_MARKER).write_text(json.dumps({"pid": proc.pid, "host": "lab-pc", "started": time.time()}))
    with pytest.raises(SetupError, match=f"the build of process {proc.pid} on lab-pc, started "):
        with buildcache.build_lock(base, 0.2):
            pass


def test_the_lock_is_taken_when_it_is_free(tmp_path):
    with buildcache.build_lock(tmp_path / "b", 0.5):
        with pytest.raises(SetupError, match="waited 0\\.2\\d* s "):
            with buildcache.build_lock(tmp_path / "b", 0.2):  # flock: another open file is another holder
                pass
    with buildcache.build_lock(tmp_path / "b", 0.5):
        pass


def test_a_program_that_runs_too_long_is_killed(tmp_path, monkeypatch):
    folder = _program(tmp_path / "program", f"""\
        echo $$ > {tmp_path / 'pid'}
        exec sleep 60
        """)
    monkeypatch.setenv(buildcache.RUN_TIMEOUT_ENV, "1")
    t0 = time.monotonic()
    with pytest.raises(SetupError) as err:
        launch.run_direct(folder, EMPTY_RECORD, {}, time.perf_counter())
    assert time.monotonic() - t0 < 10
    msg = str(err.value)
    assert f"the compiled program in {folder} ran longer than its limit of 1 s and was stopped" in msg
    assert "set BIOPHYS_LTP_RUN_TIMEOUT higher (seconds, default 7200)" in msg
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not list(scratch_dir(folder).glob(f"{RUN_DIR_PREFIX}{os.getpid()}-*"))


def test_a_launch_through_brian_is_limited_too():
    cmd = launch.run_command(5.0)
    assert cmd[-1] == "./main" and launch.run_command()[-1] == "./main"
    if shutil.which("timeout"):
        assert [c for c in cmd if c.endswith("timeout")] and "5.0s" in cmd


# --- a failed program -------------------------------------------------------------------

def test_a_failing_program_is_a_simulation_error_with_its_output(tmp_path):
    folder = _program(tmp_path / "program", """\
        for i in $(seq 1 50); do echo "step $i"; done
        echo "fatal: the cable solver diverged" >&2
        exit 3
        """)
    with pytest.raises(SimulationError) as err:
        launch.run_direct(folder, EMPTY_RECORD, {}, time.perf_counter(), timeout=30)
    msg = str(err.value)
    assert f"the compiled program in {folder} failed (exit status 3)" in msg
    assert "fatal: the cable solver diverged" in msg and "step 50" in msg
    assert "step 10\n" not in msg  # its last lines only


def test_a_program_killed_by_a_signal_says_which(tmp_path):
    folder = _program(tmp_path / "program", "kill -SEGV $$\n")
    with pytest.raises(SimulationError, match="failed \\(killed by SIGSEGV\\)"):
        launch.run_direct(folder, EMPTY_RECORD, {}, time.perf_counter(), timeout=30)


def _machine_ready(monkeypatch):
    """A compiler and room on the disk, as far as the checks before a build go."""
    monkeypatch.setattr(buildcache, "check_toolchain", lambda: None)
    monkeypatch.setattr(buildcache, "check_free_space", lambda base: None)


def _half_written(tmp_path) -> tuple[Path, dict]:
    """A program that exits normally with one results file shorter than its monitor's other."""
    folder = _program(tmp_path / "program", """\
        dir="$2"
        printf 'aaaaaaaabbbbbbbbcccccccc' > "${dir}mon_a"
        printf 'aaaaaaaa' > "${dir}mon_b"
        echo "0.1 0.5" > "${dir}last_run_info.txt"
        """)
    record = dict(EMPTY_RECORD, results={"mon.a": {"file": "mon_a", "dtype": "<f8"},
                                         "mon.b": {"file": "mon_b", "dtype": "<f8"}})
    return folder, record


def test_incomplete_results_are_an_error(tmp_path):
    folder, record = _half_written(tmp_path)
    with pytest.raises(SimulationError, match="exited normally but left incomplete results \\(the results files "
                                              "of mon hold different numbers of values"):
        launch.run_direct(folder, record, {}, time.perf_counter(), timeout=30)


def test_incomplete_results_on_a_full_disk_say_so(tmp_path, monkeypatch):
    folder, record = _half_written(tmp_path)
    monkeypatch.setattr(launch, "free_bytes", lambda folder: 0)
    with pytest.raises(SetupError, match="no space left on the disk of .*the program's results are incomplete"):
        launch.run_direct(folder, record, {}, time.perf_counter(), timeout=30)


# --- a full disk ------------------------------------------------------------------------

def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_scratch_folder_is_a_setup_error(tmp_path, monkeypatch):
    folder = _program(tmp_path / "program", "exit 0\n")
    monkeypatch.setattr(launch, "_write_inputs", _no_space)
    with pytest.raises(SetupError) as err:
        launch.run_direct(folder, EMPTY_RECORD, {}, time.perf_counter(), timeout=30)
    msg = str(err.value)
    assert f"no space left on the disk of {scratch_dir(folder)} (" in msg and " free)" in msg
    assert "cannot write the program's inputs (No space left on device)" in msg
    assert not list(scratch_dir(folder).glob(f"{RUN_DIR_PREFIX}{os.getpid()}-*"))


@pytest.mark.parametrize("code", sorted(buildcache.DISK_FULL_ERRNOS))
def test_a_full_disk_during_a_build_is_a_setup_error_and_leaves_it_incomplete(tmp_path, code):
    base = tmp_path / "builds" / "k"
    base.mkdir(parents=True)
    (base / buildcache.LAUNCH_RECORD).write_text("{}")
    with pytest.raises(SetupError) as err:
        with buildcache.building(base):
            raise OSError(code, os.strerror(code))
    msg = str(err.value)
    assert f"no space left on the disk of {base} (" in msg and "free space there, or set BIOPHYS_LTP_CACHE" in msg
    assert buildcache.build_incomplete(base) and not (base / buildcache.LAUNCH_RECORD).exists()


def test_a_compile_that_fills_the_disk_is_a_setup_error(tmp_path):
    def build():
        print("g++ -c code_objects/neuron_stateupdater_codeobject.cpp")
        print("/usr/bin/ld: final link failed: No space left on device", file=sys.stderr)
        raise RuntimeError("Project compilation failed (error code: 512).")

    with pytest.raises(SetupError, match=f"no space left on the disk of {tmp_path} .*the C\\+\\+ compiler could not"):
        buildcache.compile_program(build, tmp_path)


def test_a_failed_compile_shows_the_compiler_output(tmp_path, capsys):
    def build():
        print("objects.cpp:12:1: error: 'foo' was not declared in this scope", file=sys.stderr)
        raise RuntimeError("Project compilation failed (error code: 512).")

    with pytest.raises(SetupError) as err:
        buildcache.compile_program(build, tmp_path)
    msg = str(err.value)
    assert f"compiling the model's C++ program in {tmp_path / 'program'} failed" in msg
    assert "'foo' was not declared" in msg and str(tmp_path / "build.log") in msg
    assert "'foo' was not declared" in (tmp_path / "build.log").read_text()

    buildcache.compile_program(lambda: print("a warning"), tmp_path)  # output of a good build passes
    assert "a warning" in capsys.readouterr().out


def test_a_nearly_full_disk_is_refused_before_building(tmp_path, monkeypatch):
    monkeypatch.setattr(buildcache, "free_bytes", lambda folder: 50 * 2**20)
    with pytest.raises(SetupError, match="only 50.0 MB free on the disk of .* asks for 200 MB.*BIOPHYS_LTP_CACHE"):
        buildcache.check_free_space(tmp_path)


# --- the compiler -----------------------------------------------------------------------

def test_no_make_and_no_compiler(tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(SetupError, match="needs `make`") as err:
        buildcache.check_toolchain()
    assert all(h in str(err.value) for h in HINTS)


@needs_toolchain
def test_make_without_its_compiler(tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "make").symlink_to(shutil.which("make"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(SetupError, match="needs a C\\+\\+ compiler, and make's default C\\+\\+ compiler `g\\+\\+` "
                                         "is not on PATH") as err:
        buildcache.check_toolchain()
    assert all(h in str(err.value) for h in HINTS) and "set CXX" in str(err.value)


@needs_toolchain
def test_a_compiler_named_by_cxx_must_exist(monkeypatch):
    monkeypatch.setenv("CXX", "/nowhere/clang++ -std=c++17")
    with pytest.raises(SetupError, match="\\$CXX .*`/nowhere/clang\\+\\+` is not on PATH"):
        buildcache.check_toolchain()
    monkeypatch.setenv("CXX", shutil.which("g++") or shutil.which("c++"))
    buildcache.check_toolchain()


def test_a_build_without_compiler_fails_before_generating_code(cache, tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(runner, "_generate", lambda model: pytest.fail("generated code without a compiler"))
    with pytest.raises(SetupError, match="apt install g\\+\\+ make"):
        bl.simulate("smoke", progress=False)


def test_a_complete_build_runs_without_compiler(cache, tmp_path, monkeypatch):
    _fake_build(cache)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(runner, "run_direct", lambda *a, **k: "started directly")
    assert runner.run_compiled(*_smoke()) == "started directly"


# --- a build killed half-way, leftovers -------------------------------------------------

def test_a_marked_build_is_not_started(cache):
    base, record = _fake_build(cache)
    model, schedule, settings = _smoke()
    inputs = launch.program_inputs(model, schedule, settings)
    (base / buildcache.BUILD_MARKER).write_text("{}")
    assert launch.read_launch_record(base, record["key"], inputs) is None


def test_an_incomplete_build_is_built_again_from_scratch(cache, monkeypatch):
    base, record = _fake_build(cache)
    program = base / "program"
    # what a build killed during the compile leaves: its mark, half-written objects
    (base / buildcache.BUILD_MARKER).write_text(json.dumps({"pid": 999999999, "host": "h", "started": 0}))
    (program / "code_objects").mkdir()
    (program / "code_objects" / "neuron.o").write_bytes(b"\x7fELF half")
    (program / ".static_arrays-999999999-abc" / "static_arrays").mkdir(parents=True)
    (base / ".launch.json.999999999.abc").write_text("{")
    (program / "results" / f"{RUN_DIR_PREFIX}1-x").mkdir(parents=True)  # a run's folder stays
    seen = {}

    def compile_program(build, where):
        seen["program"] = sorted(p.relative_to(program).as_posix() for p in program.rglob("*"))
        seen["marked"] = buildcache.build_incomplete(base)
        seen["record"] = (base / buildcache.LAUNCH_RECORD).exists()
        (program / "main").write_text("#!/bin/sh\n")

    _machine_ready(monkeypatch)
    monkeypatch.setattr(runner, "_generate", lambda model: "net")
    monkeypatch.setattr(buildcache, "compile_program", compile_program)
    monkeypatch.setattr(runner, "write_launch_record", lambda base, key, net, inputs: record)
    monkeypatch.setattr(runner, "run_direct", lambda build_dir, rec, inputs, t0, timeout: launch.RawResults(
        {}, {}, {}, {}, timings={"setup_s": 0.0, "build_s": 0.0}))
    raw = runner.run_compiled(*_smoke())
    assert seen == {"program": ["results", f"results/{RUN_DIR_PREFIX}1-x"], "marked": True, "record": False}
    assert not buildcache.build_incomplete(base) and raw.timings["build_s"] > 0
    assert not list(base.glob(".launch.json.*")) and not list(program.glob(".static_arrays-*"))


def test_a_failed_build_stays_marked(cache, monkeypatch):
    base, record = _fake_build(cache)

    def compile_program(build, where):
        raise SetupError("compiling failed")

    monkeypatch.setenv("BIOPHYS_LTP_LAUNCH", "brian2")  # builds although the record is valid
    _machine_ready(monkeypatch)
    monkeypatch.setattr(runner, "_generate", lambda model: "net")
    monkeypatch.setattr(buildcache, "compile_program", compile_program)
    with pytest.raises(SetupError, match="compiling failed"):
        runner.run_compiled(*_smoke())
    assert buildcache.build_incomplete(base) and not (base / buildcache.LAUNCH_RECORD).exists()


def test_another_process_build_is_used_not_repeated(cache, monkeypatch):
    """A run that waited for the lock finds the launch record the builder wrote."""
    base, record = _fake_build(cache)
    answers = [None, record]  # before the lock, and under it
    monkeypatch.setattr(runner, "read_launch_record", lambda base, key, inputs: answers.pop(0))
    monkeypatch.setattr(runner, "_generate", lambda model: pytest.fail("built again"))
    monkeypatch.setattr(runner, "run_direct", lambda *a, **k: launch.RawResults({}, {}, {}, {}, timings={}))
    assert runner.run_compiled(*_smoke()).timings["build_s"] == 0


def test_leftovers_of_killed_builds_go_at_the_next_start(cache, monkeypatch):
    base, record = _fake_build(cache)
    leftovers = [base / ".launch.json.999999999.abc", base / "program" / ".static_arrays-999999999-abc"]
    leftovers[0].write_text("{")
    leftovers[1].mkdir()
    monkeypatch.setattr(runner, "run_direct", lambda *a, **k: "started directly")
    with buildcache.build_lock(base, 1):  # while a build runs they may be its own: they stay
        runner.run_compiled(*_smoke())
        assert all(p.exists() for p in leftovers)
    assert runner.run_compiled(*_smoke()) == "started directly"
    assert not any(p.exists() for p in leftovers)


# --- real builds ------------------------------------------------------------------------

RUN_SMOKE = """
import json, sys, time
from pathlib import Path
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
import biophys_ltp as bl

out = Path(sys.argv[1])
counter = Path(sys.argv[2])
original = CPPStandaloneDevice.compile_source

def compile_source(self, *args, **kwargs):
    with open(counter, "a") as fh:  # one line per compile (make) in any process
        fh.write(f"{time.time()}\\n")
    return original(self, *args, **kwargs)

CPPStandaloneDevice.compile_source = compile_source
res = bl.simulate("smoke", progress=False)
res.fepsp.to_pickle(out.with_suffix(".pkl"))
out.with_suffix(".json").write_text(json.dumps(res.metadata["timings_s"]))
"""


def _start_smoke(cache: Path, out: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "BIOPHYS_LTP_CACHE": str(cache), **popen.pop("env", {})}
    env.pop("BIOPHYS_LTP_LAUNCH", None)
    return subprocess.Popen([sys.executable, "-c", RUN_SMOKE, str(out), str(cache / "compiles.txt")], env=env,
                            **popen)


def _result(out: Path) -> tuple[pd.DataFrame, dict]:
    return pd.read_pickle(out.with_suffix(".pkl")), json.loads(out.with_suffix(".json").read_text())


def _compiles(cache: Path) -> int:
    path = cache / "compiles.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture(scope="module")
def smoke_reference(tmp_path_factory):
    """The smoke protocol's fEPSP from a build of its own (one process, nothing in the way)."""
    folder = tmp_path_factory.mktemp("reference")
    proc = _start_smoke(folder / "cache", folder / "out")
    assert proc.wait(timeout=900) == 0
    assert _compiles(folder / "cache") == 1
    return _result(folder / "out")[0]


def _no_compiler_path(tmp_path: Path) -> str:
    """PATH with neither make nor a C++ compiler."""
    (tmp_path / "nobin").mkdir(exist_ok=True)
    return str(tmp_path / "nobin")


@pytest.mark.slow
@pytest.mark.standalone
def test_many_processes_at_once_share_one_build(tmp_path, smoke_reference):
    """8 processes start the smoke protocol on a cold cache at once: one compiles, the others
    wait for its build and start its program; every result equals a run of its own."""
    cache = tmp_path / "cache"
    procs = [_start_smoke(cache, tmp_path / f"out{i}") for i in range(8)]
    try:
        assert [p.wait(timeout=900) for p in procs] == [0] * 8
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert _compiles(cache) == 1
    results = [_result(tmp_path / f"out{i}") for i in range(8)]
    assert sum(timings["build_s"] > 0 for _, timings in results) == 1
    for fepsp, _ in results:
        pd.testing.assert_frame_equal(fepsp, smoke_reference, check_exact=True)
    # a serial run afterwards, on a machine without compiler: the build is complete
    proc = _start_smoke(cache, tmp_path / "serial", env={"PATH": _no_compiler_path(tmp_path)})
    assert proc.wait(timeout=300) == 0
    fepsp, timings = _result(tmp_path / "serial")
    assert timings["build_s"] == 0 and _compiles(cache) == 1
    pd.testing.assert_frame_equal(fepsp, smoke_reference, check_exact=True)


def _objects(program: Path) -> list[Path]:
    return list(program.glob("*.o")) + list(program.glob("code_objects/*.o"))


@pytest.mark.slow
@pytest.mark.standalone
def test_a_build_killed_during_the_compile_is_built_again(tmp_path, smoke_reference):
    """A build killed while the compiler runs leaves its mark and no launch record; the next
    run builds again from scratch (a half-written object file is not reused) and gives the
    results of a build that was never interrupted."""
    cache = tmp_path / "cache"
    proc = _start_smoke(cache, tmp_path / "killed", start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline:
            programs = list(cache.glob("builds/*/program"))
            if programs and _objects(programs[0]) and not (programs[0] / "main").exists():
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the build ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # the build and its make and compilers
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    [base] = cache.glob("builds/*")
    program = base / "program"
    assert buildcache.build_incomplete(base) and not (base / buildcache.LAUNCH_RECORD).exists()
    assert not (program / "main").exists()
    # an object file cut short by the kill, newer than its source: make alone would keep it
    obj = _objects(program)[0]
    obj.write_bytes(obj.read_bytes()[:100])
    later = time.time() + 5
    os.utime(obj, (later, later))

    proc = _start_smoke(cache, tmp_path / "again")
    assert proc.wait(timeout=900) == 0
    fepsp, timings = _result(tmp_path / "again")
    assert timings["build_s"] > 0 and _compiles(cache) == 2
    assert not buildcache.build_incomplete(base) and (base / buildcache.LAUNCH_RECORD).exists()
    assert obj.stat().st_size > 100
    pd.testing.assert_frame_equal(fepsp, smoke_reference, check_exact=True)
