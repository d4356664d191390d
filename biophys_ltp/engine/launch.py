"""Starting the compiled program: the values it takes when it starts (parameters and the
protocol's data, :func:`program_inputs`), the launch record a build leaves beside its
program, and the direct start from that record (no Brian2 objects, no code generation)
with its time limit and its checks of the program's exit and results."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import brian2 as b2
import numpy as np

from ..errors import SimulationError
from ..model import Model
from ..schedule import Schedule, ScheduleSettings
from . import gates
from .buildcache import (LAUNCH_RECORD, LOW_FREE, build_incomplete, disk_errors, disk_full_error, free_bytes,
                         output_tail, run_timeout, run_timeout_error)
from ..limits import MAX_SIM_DURATION, PULSE_CAPACITY, SEGMENT_CAPACITY, SPIKE_CAPACITY
from .network import (FAR_FUTURE, MEASURE_WINDOW, RESULT_VARIABLES, SAMPLE_INTERVAL, SLOPE_CEILING, SLOPE_WINDOW,
                      Network, RawResults, raw_results)


def run_command(timeout: float | None = None) -> list[str]:
    """The command that starts the compiled program: under ``setpriv --pdeathsig KILL``
    where util-linux has it (Linux), so that the program dies with the Python process that
    waits for it (a killed test run or worker no longer leaves it running for minutes).
    With ``timeout`` (for a launch through Brian2, which waits without a limit), under
    coreutils' ``timeout`` where there is one: killed after that many seconds."""
    setpriv = shutil.which("setpriv")
    guard = [setpriv, "--pdeathsig", "KILL"] if setpriv and sys.platform.startswith("linux") else []
    limiter = shutil.which("timeout") if timeout is not None else None
    if limiter:
        # the guard on both: the limiter dies with Python, the program with the limiter
        return guard + [limiter, "--signal=KILL", f"{timeout!r}s"] + guard + ["./main"]
    return guard + ["./main"]

# The Brian2 objects' names (fixed in Network) that parameters of each model group go to.
GROUP_OBJECTS = {"neuron": "neuron", "neck": "neck", "synapse": "synapses", "cell": "cell",
                 "population": "population", "branch": "branch"}


def program_inputs(model: Model, schedule: Schedule, settings: ScheduleSettings) -> dict[str, Any]:
    """Every value the compiled program takes when it starts (parameters, protocol data), by
    its Brian2 command-line name (``object.variable``, or ``timedarray.values``)."""
    dt = schedule.dt
    n_path = len(model.pathways)
    args: dict[str, Any] = {}
    for name, p in model.parameters.items():
        args[f"{GROUP_OBJECTS[p.group]}.{name}"] = p.value
    args["population.n_syn"] = float(model.n_syn)
    if settings.test_tail <= MEASURE_WINDOW:
        raise ValueError(f"test_tail ({settings.test_tail}) must outlast the EPSP measurement window "
                         f"({MEASURE_WINDOW}), which must lie in real time")
    args["pathway.measure_window"] = MEASURE_WINDOW
    args["pathway.slope_window"] = SLOPE_WINDOW
    args["pathway.slope_ceiling"] = SLOPE_CEILING
    args["pathway.sample_interval"] = SAMPLE_INTERVAL
    args["cell.sample_interval"] = SAMPLE_INTERVAL
    args["neuron.step_duration"] = settings.step_duration
    if schedule.sim_duration > MAX_SIM_DURATION:
        raise ValueError(f"protocol needs {schedule.sim_duration} of simulated time; the compiled run "
                         f"holds {MAX_SIM_DURATION}")
    # the last step of the protocol's simulated time (the runtime target stops there too)
    args["neuron.sim_end"] = schedule.sim_duration + model.dt

    nseg = schedule.n_segments
    if nseg + 1 > SEGMENT_CAPACITY:
        raise ValueError(f"protocol needs {nseg} schedule segments; capacity is {SEGMENT_CAPACITY - 1}")

    def padded(values, fill):
        out = np.full(SEGMENT_CAPACITY, fill, dtype=float)
        out[:len(values)] = values
        return out

    dt_s = float(dt)
    args["seg_sim.values"] = padded(schedule.seg_sim_start * dt_s, FAR_FUTURE) * b2.second
    args["seg_real.values"] = padded(schedule.seg_real_start * dt_s, 0.0) * b2.second
    args["seg_warp.values"] = padded(schedule.seg_warp, 0.0)
    args["seg_growth.values"] = padded(schedule.seg_growth, 1.0)
    drug = np.zeros((SEGMENT_CAPACITY, schedule.seg_drug.shape[1]))
    drug[:len(schedule.seg_drug)] = schedule.seg_drug
    args["seg_drug.values"] = drug
    args["seg_trace.values"] = padded(schedule.seg_trace, 0.0)
    spikes = np.full(SPIKE_CAPACITY, FAR_FUTURE)
    if len(schedule.spike_sim) > SPIKE_CAPACITY - 1:
        raise ValueError(f"protocol has {len(schedule.spike_sim)} somatic steps; capacity is {SPIKE_CAPACITY - 1}")
    spikes[:len(schedule.spike_sim)] = schedule.spike_sim * dt_s
    args["spike_time.values"] = spikes * b2.second
    pulses = np.full((PULSE_CAPACITY, n_path), FAR_FUTURE)
    for p, name in enumerate(model.pathways):
        # a protocol may leave some of the model's pathways unstimulated
        times = schedule.pulse_sim.get(name, np.zeros(0, dtype=np.int64))
        if len(times) > PULSE_CAPACITY - 1:
            raise ValueError(f"pathway {name} has {len(times)} pulses; capacity is {PULSE_CAPACITY - 1}")
        pulses[:len(times), p] = times * dt_s
    args["pulse_time.values"] = pulses * b2.second
    args[f"{gates.TABLE_NAME}.values"] = gates.gate_table(model)
    return args


def _program_stamp(program: Path) -> dict[str, int]:
    st = program.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _input_spec(var) -> dict[str, Any]:
    if isinstance(var, b2.TimedArray):
        return {"dtype": np.dtype(var.values.dtype).str, "size": int(var.values.size)}
    return {"dtype": np.dtype(var.variable.dtype).str, "size": int(var.variable.size)}


def write_launch_record(base: Path, key: str, net: Network, inputs: dict[str, Any]) -> dict:
    """Record, beside a program just built, what starting it takes (under the build lock);
    returns the record."""
    env = {**b2.prefs["devices.cpp_standalone.run_environment_variables"],
           **getattr(b2.device, "run_environment_variables", {})}
    record = {"key": key, "brian2": b2.__version__, "program": _program_stamp(base / "program" / "main"),
              "inputs": {name: _input_spec(net.variable(name)) for name in inputs},
              "results": net.result_files(), "environment": {k: str(v) for k, v in env.items()}}
    tmp = base / f".{LAUNCH_RECORD}.{os.getpid()}.{uuid.uuid4().hex}"
    try:
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
        os.replace(tmp, base / LAUNCH_RECORD)
    finally:
        tmp.unlink(missing_ok=True)
    return record


def read_launch_record(base: Path, key: str, inputs: dict[str, Any]) -> dict | None:
    """The launch record of the build, if its build is complete (no build mark there), it
    belongs to the program there now and takes exactly these inputs; None otherwise (then
    the program is built first)."""
    if build_incomplete(base):
        return None
    try:
        record = json.loads((base / LAUNCH_RECORD).read_text())
        stamp = _program_stamp(base / "program" / "main")
    except (OSError, ValueError):
        return None
    if record.get("key") != key or record.get("brian2") != b2.__version__ or record.get("program") != stamp:
        return None
    if set(record.get("inputs", {})) != set(inputs) or set(record.get("results", {})) != {
            f"{mon}.{var}" for mon, var in RESULT_VARIABLES}:
        return None
    return record


def scratch_dir(build_dir: Path) -> Path:
    """Where a run's input and results files go: a memory file system (/dev/shm) where there
    is one, else the build's results folder.  The program writes one file per variable of
    the network at its end (hundreds); on a disk that took ~0.4 s per run here."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return build_dir / "results"


RUN_DIR_PREFIX = "biophys-ltp-run-"


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def clear_stale_runs(scratch: Path) -> None:
    """Remove run folders whose Python process is gone: a run's folder is removed when it
    ends, but not when its process is killed, and /dev/shm is memory."""
    for d in scratch.glob(f"{RUN_DIR_PREFIX}*"):
        try:
            pid = int(d.name[len(RUN_DIR_PREFIX):].split("-")[0])
        except ValueError:
            continue
        if not process_alive(pid):
            shutil.rmtree(d, ignore_errors=True)


def exit_text(rc: int) -> str:
    """A program's exit status in words."""
    if rc >= 0:
        return f"exit status {rc}"
    try:
        name = signal.Signals(-rc).name
    except ValueError:
        name = f"signal {-rc}"
    text = f"killed by {name}"
    if -rc == signal.SIGKILL:
        text += " (by another process, or by the system for lack of memory)"
    return text


def _run_program(argv: list[str], build_dir: Path, env: dict[str, str], output: Path, timeout: float) -> int:
    """Run the program, its output (stdout and stderr) into ``output``; killed after
    ``timeout`` seconds (a :class:`SetupError`).  Returns its exit status."""
    with open(output, "w") as out:
        proc = subprocess.Popen(run_command() + argv, cwd=build_dir, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise run_timeout_error(build_dir, timeout) from None
        except BaseException:  # interrupted: the program goes too
            proc.kill()
            proc.wait()
            raise


def _write_inputs(inputs: dict[str, Any], record: dict, inputs_dir: Path) -> list[str]:
    """The program's command-line arguments for ``inputs``: scalars as text, arrays as
    binary files written into ``inputs_dir``."""
    argv = []
    for name, value in inputs.items():
        spec = record["inputs"][name]
        values = np.asarray(value, dtype=np.dtype(spec["dtype"]))  # quantities: SI values
        if values.size == 1:
            argv.append(f"{name}={values.item()!r}")
            continue
        if values.size != spec["size"]:
            raise ValueError(f"{name}: {values.size} values for a program input of {spec['size']}")
        fname = inputs_dir / f"{name}.dat"
        values.ravel().tofile(fname)
        argv.append(f"{name}={fname}")
    return argv


def _read_results(results_dir: Path, files: dict[str, dict[str, str]]) -> tuple[dict[str, np.ndarray], float]:
    """The program's results files and the fraction of its run it completed; a
    ``ValueError`` naming what is missing or cut short (each monitor records the same
    number of values of each of its variables)."""
    arrays = {}
    for name, spec in files.items():
        path = results_dir / spec["file"]
        dtype = np.dtype(spec["dtype"])
        try:
            size = path.stat().st_size
        except OSError:
            raise ValueError(f"no results file for {name}") from None
        if size % dtype.itemsize:
            raise ValueError(f"the results file of {name} ends in the middle of a value")
        arrays[name] = np.fromfile(path, dtype=dtype)
    counts: dict[str, dict[str, int]] = {}
    for name, values in arrays.items():
        counts.setdefault(name.split(".")[0], {})[name] = values.size
    for mon, sizes in counts.items():
        if len(set(sizes.values())) > 1:
            raise ValueError(f"the results files of {mon} hold different numbers of values: {sizes}")
    try:
        _, completed = (results_dir / "last_run_info.txt").read_text().split()
        return arrays, float(completed)
    except (OSError, ValueError):
        raise ValueError("no complete last_run_info.txt") from None


def run_direct(build_dir: Path, record: dict, inputs: dict[str, Any], t0: float,
               timeout: float | None = None) -> RawResults:
    """Start the compiled program with ``inputs`` as Brian2 would (same command line: scalars
    as text, arrays as binary files) and read its results files.  The program may run
    ``timeout`` seconds (default: ``$BIOPHYS_LTP_RUN_TIMEOUT``)."""
    timeout = run_timeout() if timeout is None else timeout
    scratch = scratch_dir(build_dir)
    clear_stale_runs(scratch)
    clear_stale_runs(build_dir / "results")  # also the folders of runs launched through Brian2
    results_dir = scratch / f"{RUN_DIR_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
    inputs_dir = results_dir / "inputs"
    try:
        with disk_errors(scratch, "cannot write the program's inputs"):
            inputs_dir.mkdir(parents=True)
            argv = ["--results_dir", f"{results_dir}{os.sep}"] + _write_inputs(inputs, record, inputs_dir)
        env = {**os.environ, **record["environment"]}
        t1 = time.perf_counter()
        with disk_errors(scratch, "cannot write the program's output"):
            rc = _run_program(argv, build_dir, env, results_dir / "stdout.txt", timeout)
        t2 = time.perf_counter()
        output = (results_dir / "stdout.txt").read_text(errors="replace")
        if rc:
            raise SimulationError(f"the compiled program in {build_dir} failed ({exit_text(rc)}); its last "
                                  f"output lines:\n{output_tail(output)}")
        try:
            arrays, completed = _read_results(results_dir, record["results"])
            if "Error writing" in output:
                raise ValueError("it could not write some of its results")
        except ValueError as exc:
            free = free_bytes(scratch)
            if free is not None and free < LOW_FREE:
                raise disk_full_error(scratch, f"the program's results are incomplete ({exc})") from None
            raise SimulationError(f"the compiled program in {build_dir} exited normally but left incomplete "
                                  f"results ({exc}); its last output lines:\n{output_tail(output)}") from None
        raw = raw_results(lambda mon, var: arrays[f"{mon}.{var}"])
        raw.sim_run_s = completed * float(MAX_SIM_DURATION)
        raw.timings = {"setup_s": t1 - t0, "build_s": 0.0, "run_s": t2 - t1,
                       "read_s": time.perf_counter() - t2}
        raw.build_dir = str(build_dir)
        raw.launch = "direct"
        return raw
    finally:
        shutil.rmtree(results_dir, ignore_errors=True)
