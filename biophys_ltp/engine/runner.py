"""The runner: owns the Brian2 device, builds (or reuses) the compiled program for a model
structure in the build cache (keyed by :func:`build_key`) and runs a schedule on it, started
directly from the build's launch record (through Brian2 with ``$BIOPHYS_LTP_LAUNCH=brian2``).
The build's safeguards (lock, mark of a build in progress, compiler, disk, time limits) are
in :mod:`.buildcache`."""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import io
import json
import logging
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

import brian2 as b2
import numpy as np

from ..errors import InputError, SimulationError
from ..model import Model
from ..schedule import Schedule, ScheduleSettings
from . import buildcache
from .device import DEVICE_NAME, templates_digest
from .launch import (RUN_DIR_PREFIX, program_inputs, read_launch_record, run_command, run_direct,
                     write_launch_record)
from ..limits import MAX_SIM_DURATION
from .network import Network, RawResults


@functools.lru_cache(maxsize=None)
def engine_source_digest() -> str:
    """The engine's own code (every module of this package: its equations, its C++
    functions) and the code templates (read once per process: build_key is asked for at
    every run)."""
    h = hashlib.sha256(templates_digest().encode())
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _toolchain() -> dict[str, str]:
    """What else goes into the generated code and its compiler flags: the Brian2 and numpy
    versions and the interpreter (its include paths), so that two environments sharing a
    cache folder do not rebuild each other's programs."""
    return {"brian2": b2.__version__, "numpy": np.__version__, "python": sys.version,
            "prefix": sys.prefix}


def build_key(model: Model) -> str:
    """Key of ``model``'s compiled program (its folder in the build cache): the model's
    structure and equations (not parameter values), the engine source that turns them into
    a network, and the toolchain."""
    payload = {"structure": model.structure_key(), "engine": engine_source_digest(), "toolchain": _toolchain()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def cache_dir() -> Path:
    root = os.environ.get("BIOPHYS_LTP_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "biophys-ltp"


def _install_atomic_static_arrays() -> None:
    """Make Brian2's rewrite of a build's ``static_arrays`` atomic.

    Every ``device.build()`` rewrites the files in ``static_arrays/`` in place (truncate,
    then write), even when nothing changed.  Worker processes share one build directory:
    a worker that builds while another worker's program starts and reads those files
    could hand it a half-written array.  Here Brian2 writes them into a private folder
    and each file then replaces the shared one with one rename, so a starting program
    reads either the old or the new file, both complete and identical.
    """
    from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
    original = getattr(CPPStandaloneDevice, "write_static_arrays", None)
    if original is None:  # another Brian2 layout: nothing to make atomic here
        return
    if getattr(original, "_biophys_ltp_atomic", False):
        return

    def write_static_arrays(self, directory):
        staging = Path(directory) / f"{buildcache.STATIC_STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
        (staging / "static_arrays").mkdir(parents=True)
        try:
            original(self, str(staging))
            target = Path(directory) / "static_arrays"
            target.mkdir(exist_ok=True)
            for f in (staging / "static_arrays").iterdir():
                os.replace(f, target / f.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    write_static_arrays._biophys_ltp_atomic = True
    CPPStandaloneDevice.write_static_arrays = write_static_arrays


def _brian_prefs() -> None:
    """Brian2's preferences for the engine: quiet logs, parallel make, one thread per run."""
    b2.prefs.logging.console_log_level = "WARNING"
    b2.prefs.logging.file_log = False
    b2.prefs.logging.delete_log_on_exit = True
    b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{max(os.cpu_count() or 1, 1)}"]
    # one thread per simulation (runs go in parallel as processes); the engine's loop
    # templates carry no OpenMP pragmas and the build key does not record a thread count
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    for name in ("brian2", "brian2.devices", "brian2.codegen"):
        logging.getLogger(name).setLevel(logging.WARNING)


def run_compiled(model: Model, schedule: Schedule, settings: ScheduleSettings, *,
                 target: str = "cpp_standalone") -> RawResults:
    """Build (or reuse) the compiled program for ``model`` and run ``schedule`` on it.

    A build (under the build folder's lock: one build per structure, however many
    processes ask for it at once) generates the code through Brian2, compiles it and
    leaves a launch record beside the program (``launch.json``: the program's command-line
    inputs and where it writes its results).  Every run then starts the program directly
    from that record: no Brian2 objects, no code generation (``$BIOPHYS_LTP_LAUNCH=brian2``
    always builds and launches through Brian2).  Time limits: ``$BIOPHYS_LTP_BUILD_TIMEOUT``
    for the wait on another process's build, ``$BIOPHYS_LTP_RUN_TIMEOUT`` for the program.
    """
    _brian_prefs()
    t0 = time.perf_counter()
    if target == "runtime":
        return _run_runtime(model, schedule, settings, float(schedule.sim_duration) + float(model.dt))
    if target != "cpp_standalone":
        raise ValueError(f"unknown target {target!r} (use 'cpp_standalone' or 'runtime')")
    launch = os.environ.get("BIOPHYS_LTP_LAUNCH", "auto")
    if launch not in ("auto", "brian2"):
        raise InputError(f"BIOPHYS_LTP_LAUNCH must be 'auto' or 'brian2', not {launch!r}")
    limits = (buildcache.build_timeout(), buildcache.run_timeout())
    key = build_key(model)
    base = cache_dir() / "builds" / key
    build_dir = base / "program"
    inputs = program_inputs(model, schedule, settings)
    buildcache.clear_staging(base)
    if launch == "auto":
        record = read_launch_record(base, key, inputs)
        if record is not None:
            return run_direct(build_dir, record, inputs, t0, timeout=limits[1])
    return _build_and_run(model, inputs, base, key, t0, through_brian=launch == "brian2", limits=limits)


@contextlib.contextmanager
def _standalone_device():
    """Brian2's standalone device (this package's), fresh, for the code inside; the
    runtime device after it."""
    _install_atomic_static_arrays()
    # Brian2 suffixes the names of automatically named objects (state updaters, spike
    # queues, ...) while objects of an earlier network are still alive; different names
    # mean different generated code and a full recompile.  Collect them first.
    gc.collect()
    b2.set_device(DEVICE_NAME, build_on_run=False)
    b2.device.reinit()
    b2.device.activate(build_on_run=False)
    try:
        yield
    finally:
        b2.device.reinit()
        b2.set_device("runtime")
        gc.collect()


def _generate(model: Model) -> Network:
    """The model's network on the standalone device, its code generated (not yet built)."""
    b2.defaultclock.dt = model.dt
    net = Network(model)
    net.net.run(MAX_SIM_DURATION, report=None)
    return net


def _build(base: Path, key: str, net: Network, inputs) -> dict:
    """Compile the generated code into ``base/program`` and write its launch record, marked
    as a build in progress until both are complete (under the build lock)."""
    build_dir = base / "program"
    with buildcache.building(base):
        buildcache.compile_program(
            lambda: b2.device.build(directory=str(build_dir), compile=True, run=False, with_output=False), base)
        return write_launch_record(base, key, net, inputs)


def _build_and_run(model, inputs, base: Path, key: str, t0: float, *, through_brian: bool,
                   limits: tuple[float, float]) -> RawResults:
    """Under the build lock: clear what an earlier build left incomplete, build unless
    another process has just done so (or ``through_brian``), then run."""
    build_dir = base / "program"
    with contextlib.ExitStack() as device:
        net = None
        with buildcache.build_lock(base, limits[0]):
            buildcache.clear_incomplete_build(base)
            buildcache.clear_staging(base, locked=True)
            record = None if through_brian else read_launch_record(base, key, inputs)
            t1 = t2 = time.perf_counter()
            if record is None:
                buildcache.check_toolchain()
                buildcache.check_free_space(base)
                device.enter_context(_standalone_device())
                net = _generate(model)
                t1 = time.perf_counter()
                record = _build(base, key, net, inputs)
                t2 = time.perf_counter()
        if through_brian:
            raw = _launch_through_brian(net, inputs, build_dir, limits[1])
        net = None
    if not through_brian:
        raw = run_direct(build_dir, record, inputs, t2, timeout=limits[1])
    raw.timings["setup_s"] = raw.timings.get("setup_s", 0.0) + (t1 - t0)
    raw.timings["build_s"] = t2 - t1
    return raw


def _launch_through_brian(net: Network, inputs, build_dir: Path, timeout: float) -> RawResults:
    """Launch the program just built through Brian2 (``device.run``), limited to
    ``timeout`` seconds where coreutils' ``timeout`` is there."""
    b2.prefs.devices.cpp_standalone.run_cmd_unix = run_command(timeout)
    results_rel = os.path.join("results", f"{RUN_DIR_PREFIX}{os.getpid()}-{uuid.uuid4().hex}")
    t2 = time.perf_counter()
    try:
        # Brian2 prints a failed program's output; the error below carries its last lines
        with buildcache.disk_errors(build_dir, "cannot write the program's results"), \
                contextlib.redirect_stdout(io.StringIO()):
            b2.device.run(directory=str(build_dir), results_directory=results_rel, run_args=net.run_args(inputs),
                          with_output=False)
    except RuntimeError as exc:
        elapsed = time.perf_counter() - t2
        stdout = build_dir / results_rel / "stdout.txt"
        output = stdout.read_text(errors="replace") if stdout.exists() else ""
        shutil.rmtree(build_dir / results_rel, ignore_errors=True)
        if elapsed >= timeout:
            raise buildcache.run_timeout_error(build_dir, timeout) from None
        raise SimulationError(f"the compiled program in {build_dir} failed (launched through Brian2: {exc}); "
                              f"its last output lines:\n{buildcache.output_tail(output)}") from None
    t3 = time.perf_counter()
    raw = net.read()
    raw.timings = {"run_s": t3 - t2, "read_s": time.perf_counter() - t3}
    # simulated time the program ran (it stops itself at the protocol's end)
    raw.sim_run_s = float(b2.device._last_run_completed_fraction) * float(MAX_SIM_DURATION)
    raw.build_dir = str(build_dir)
    raw.launch = "brian2"
    shutil.rmtree(build_dir / results_rel, ignore_errors=True)
    return raw


@contextlib.contextmanager
def runtime_numpy():
    """Brian2's runtime device with the numpy target, in a fresh scope, for the code inside
    (small networks outside the model, e.g. biophys_ltp.crosscheck); the device and target
    that were active before are put back after it."""
    from brian2.devices.device import reset_device, runtime_device

    previous_target = b2.prefs.codegen.target
    switched = b2.get_device() is not runtime_device
    if switched:
        b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    try:
        b2.start_scope()
        yield
    finally:
        b2.prefs.codegen.target = previous_target
        if switched:
            reset_device()
        gc.collect()


def _run_runtime(model, schedule, settings, duration_s) -> RawResults:
    """Runtime (numpy) target for debugging: slow, no compiler involved; runs only the
    protocol's simulated time."""
    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    gc.collect()
    b2.defaultclock.dt = model.dt
    net = Network(model)
    for var, value in net.run_args(program_inputs(model, schedule, settings)).items():
        if isinstance(var, b2.TimedArray):
            var.values[:] = np.asarray(value).reshape(var.values.shape)
        else:
            var.set_item(slice(None), value)
    net.initialise()
    t0 = time.perf_counter()
    net.net.run(duration_s * b2.second, report=None)
    raw = net.read()
    raw.timings = {"run_s": time.perf_counter() - t0}
    raw.sim_run_s = duration_s
    raw.build_dir = "(runtime)"
    raw.launch = "runtime"
    return raw
