"""The build cache's safeguards: the build lock and its time limit, the mark of a build in
progress, the check for a compiler and ``make``, a full disk, and the time limits read from
the environment.

A build folder ``builds/<key>/`` holds the program (``program/``), its launch record
(``launch.json``), the lock (``program.lock``) and, while a build runs, the mark
``building``.  Only the holder of the lock writes there: it removes the launch record and
writes the mark before it builds, and removes the mark only after the program and its
launch record are complete.  A mark found by the next holder of the lock is the trace of a
build that was killed or failed; the program folder is then emptied and built again from
scratch (a half-written object file could otherwise look up to date to ``make``).  A
program is started directly only when its launch record is there and no mark is.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import json
import logging
import math
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import brian2 as b2

from ..errors import InputError, SetupError

log = logging.getLogger("biophys_ltp")

LAUNCH_RECORD = "launch.json"
BUILD_MARKER = "building"
LOCK_FILE = "program.lock"
BUILD_LOG = "build.log"
# staging folders of Brian2's static arrays, in the program folder (runner)
STATIC_STAGING_PREFIX = ".static_arrays-"

BUILD_TIMEOUT_ENV = "BIOPHYS_LTP_BUILD_TIMEOUT"
RUN_TIMEOUT_ENV = "BIOPHYS_LTP_RUN_TIMEOUT"
DEFAULT_BUILD_TIMEOUT_S = 1800.0
DEFAULT_RUN_TIMEOUT_S = 7200.0

# a build takes ~10 MB in its folder; the compiler's temporary files come on top
MIN_FREE_FOR_BUILD = 200 * 2**20
# below this, a failed compile or an incomplete result is put down to a full disk
LOW_FREE = 16 * 2**20

DISK_FULL_ERRNOS = {errno.ENOSPC} | ({errno.EDQUOT} if hasattr(errno, "EDQUOT") else set())
DISK_FULL_TEXTS = ("No space left on device", "Disk quota exceeded")

INSTALL_HINT = ("install them: Debian/Ubuntu `sudo apt install g++ make`, Fedora `sudo dnf install gcc-c++ "
                "make`, conda `conda install -c conda-forge cxx-compiler make`, macOS `xcode-select --install`")


# --- time limits ------------------------------------------------------------------------

def env_seconds(name: str, default: float) -> float:
    """A time limit in seconds from the environment variable ``name`` (``default`` when it
    is unset or empty)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{name} must be a number of seconds greater than 0 (default {default:g}), not {text!r}")
    return value


def build_timeout() -> float:
    """How long a run waits for another process's build: ``$BIOPHYS_LTP_BUILD_TIMEOUT``."""
    return env_seconds(BUILD_TIMEOUT_ENV, DEFAULT_BUILD_TIMEOUT_S)


def run_timeout() -> float:
    """How long the compiled program may run: ``$BIOPHYS_LTP_RUN_TIMEOUT``."""
    return env_seconds(RUN_TIMEOUT_ENV, DEFAULT_RUN_TIMEOUT_S)


def seconds_text(s: float) -> str:
    return f"{s:.0f} s" if s >= 10 else f"{s:.2g} s"


def run_timeout_error(build_dir: Path, timeout: float) -> SetupError:
    """The error for a program stopped at its time limit."""
    return SetupError(f"the compiled program in {build_dir} ran longer than its limit of {seconds_text(timeout)} and "
                      f"was stopped; if the protocol needs longer, set {RUN_TIMEOUT_ENV} higher (seconds, default "
                      f"{DEFAULT_RUN_TIMEOUT_S:g})")


# --- a full disk ------------------------------------------------------------------------

def free_bytes(folder: Path) -> int | None:
    """Free space on the file system of ``folder`` (or of its nearest existing parent)."""
    p = Path(folder)
    while not p.exists() and p.parent != p:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def _size_text(n: int | None) -> str:
    if n is None:
        return "free space unknown"
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit} free"
    return f"{n} bytes free"


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def disk_full_error(folder: Path, what: str) -> SetupError:
    """The error for a full disk (or an exceeded quota) at ``folder``, saying what failed
    (``what``) and what to do."""
    folder = Path(folder)
    if str(folder).startswith("/dev/shm"):
        advice = ("/dev/shm is memory: remove what other programs left there, or free memory; a run needs "
                  "a few MB there for its inputs and results")
    else:
        advice = ("free space there, or set BIOPHYS_LTP_CACHE to a folder on a disk with room (builds and "
                  "their launch records live there)")
    return SetupError(f"no space left on the disk of {folder} ({_size_text(free_bytes(folder))}): {what}; {advice}")


@contextlib.contextmanager
def disk_errors(folder: Path, what: str):
    """A full disk (ENOSPC, EDQUOT) inside becomes a :class:`SetupError` naming ``folder``."""
    try:
        yield
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(folder, f"{what} ({exc.strerror})") from exc
        raise


def check_free_space(folder: Path, need: int = MIN_FREE_FOR_BUILD) -> None:
    """Refuse to start a build on a nearly full disk."""
    free = free_bytes(folder)
    if free is not None and free < need:
        raise SetupError(f"only {_size_text(free)} on the disk of {folder}; building the model's program "
                         f"asks for {need // 2**20} MB: free space there, or set BIOPHYS_LTP_CACHE to a folder "
                         "on a disk with room")


# --- the compiler and make --------------------------------------------------------------

def _make_default_cxx(make: str) -> str | None:
    """The C++ compiler ``make`` uses when ``$CXX`` is not set (its built-in ``CXX``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CXX", "MAKEFLAGS", "MFLAGS")}
    try:
        out = subprocess.run([make, "-p", "-f", os.devnull], capture_output=True, text=True, timeout=20,
                             cwd=tempfile.gettempdir(), env=env).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if line.startswith("CXX = "):
            return line[len("CXX = "):].strip() or None
    return None


def check_toolchain() -> None:
    """Before a build: ``make`` and the C++ compiler it will call (``$CXX``, else make's own
    default, g++ with GNU make) must be there.  Brian2's generated makefile compiles with
    ``$(CXX)``; ``make`` is Brian2's ``devices.cpp_standalone.make_cmd_unix``."""
    if os.name == "nt":  # Brian2 uses MSVC's nmake there
        return
    make_cmd = shlex.split(str(b2.prefs.devices.cpp_standalone.make_cmd_unix)) or ["make"]
    make = shutil.which(make_cmd[0])
    if make is None:
        raise SetupError(f"building the model's C++ program needs `{make_cmd[0]}` (and a C++ compiler), and "
                         f"`{make_cmd[0]}` is not on PATH; {INSTALL_HINT}")
    cxx_env = os.environ.get("CXX", "").strip()
    if cxx_env:
        words, source = shlex.split(cxx_env), f"$CXX ({cxx_env!r})"
    else:
        words, source = shlex.split(_make_default_cxx(make) or "g++"), "make's default C++ compiler"
    if not words or shutil.which(words[0]) is None:
        name = words[0] if words else cxx_env
        raise SetupError(f"building the model's C++ program needs a C++ compiler, and {source} `{name}` is not "
                         f"on PATH; {INSTALL_HINT}; or set CXX to the C++ compiler to use")


# --- the lock, the mark of a build, leftovers -------------------------------------------

def _builder(base: Path) -> str | None:
    """Who started the build marked there, and when (from its mark)."""
    try:
        mark = json.loads((base / BUILD_MARKER).read_text())
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(mark["started"])))
        return f"process {mark['pid']} on {mark['host']}, started {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


def _unlock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)


def _open_lock(base: Path) -> int:
    with disk_errors(base, "cannot create the build lock"):
        base.mkdir(parents=True, exist_ok=True)
        return os.open(base / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)


@contextlib.contextmanager
def build_lock(base: Path, timeout: float):
    """Hold the build lock of ``base`` (waiting at most ``timeout`` seconds for another
    process's build: then a :class:`SetupError`)."""
    path = base / LOCK_FILE
    fd = _open_lock(base)
    try:
        start = time.monotonic()
        delay = 0.02
        while not _try_flock(fd):
            waited = time.monotonic() - start
            if waited >= timeout:
                builder = _builder(base)
                holder = f"the build of {builder}" if builder else "another process holds it"
                raise SetupError(
                    f"waited {seconds_text(waited)} for the build lock {path} ({holder}); a build takes "
                    "a minute or two: if none is running, the process holding the lock hangs (stop it); "
                    f"to wait longer, set {BUILD_TIMEOUT_ENV} (seconds, default {DEFAULT_BUILD_TIMEOUT_S:g}, "
                    f"now {timeout:g})")
            time.sleep(min(delay, timeout - waited))
            delay = min(2 * delay, 1.0)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


def build_incomplete(base: Path) -> bool:
    """Whether the build there is marked as not (yet) complete."""
    return (base / BUILD_MARKER).exists()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def clear_incomplete_build(base: Path) -> bool:
    """Under the build lock: if the last build there did not complete (its mark is still
    there: a build killed or failed half-way), remove its launch record and empty its
    program folder, so that the next build starts from scratch.  Run folders under
    ``program/results`` stay (a run may still use its own).  True if there was one."""
    if not build_incomplete(base):
        return False
    log.warning("the build in %s did not complete (%s); building it again from scratch", base,
                _builder(base) or "no trace of its builder")
    (base / LAUNCH_RECORD).unlink(missing_ok=True)
    program = base / "program"
    if program.is_dir():
        for entry in program.iterdir():
            if entry.name != "results":
                _remove(entry)
    return True


def _staging_leftovers(base: Path) -> list[Path]:
    return list(base.glob(f".{LAUNCH_RECORD}.*")) + list((base / "program").glob(f"{STATIC_STAGING_PREFIX}*"))


def clear_staging(base: Path, locked: bool = False) -> None:
    """Remove what killed builds left half-written beside the program (the launch record's
    and the static arrays' staging).  Only the holder of the build lock writes these, so
    whatever is there while one holds the lock is a leftover; without the lock (``locked``
    False) it is tried once and, when another process builds, left for later."""
    if not _staging_leftovers(base):
        return
    if locked:
        for path in _staging_leftovers(base):
            _remove(path)
        return
    try:
        fd = os.open(base / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return
    try:
        if _try_flock(fd):
            try:
                for path in _staging_leftovers(base):
                    _remove(path)
            finally:
                _unlock(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def building(base: Path):
    """Under the build lock, around a build and the writing of its launch record: the
    launch record goes first (no run starts a program being rewritten), the mark is
    written, and it is removed only when the code inside completes.  A full disk becomes
    a :class:`SetupError`."""
    mark = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    with disk_errors(base, "cannot start a build"):
        (base / LAUNCH_RECORD).unlink(missing_ok=True)
        (base / BUILD_MARKER).write_text(json.dumps(mark))
    with disk_errors(base, "the build could not write its files"):
        yield
    (base / BUILD_MARKER).unlink()


def output_tail(text: str, lines: int = 30) -> str:
    """The last ``lines`` lines of a program's output, indented, for a message."""
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join("  " + line for line in kept) if kept else "  (no output)"


def compile_program(build, base: Path) -> None:
    """Run ``build()`` (Brian2's code generation and ``make``) with its console output
    captured (Brian2 shows the compiler's output only when the compile fails).  A failed
    compile becomes a :class:`SetupError` with the compiler's last lines (all of them in
    ``build.log`` beside the program); one that failed for a full disk says so."""
    out, err = io.StringIO(), io.StringIO()

    def echo():
        sys.stdout.write(out.getvalue())
        sys.stderr.write(err.getvalue())

    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            build()
    except RuntimeError as exc:
        text = out.getvalue() + err.getvalue()
        failed_compile = "compilation failed" in str(exc).lower()
        free = free_bytes(base)
        if any(t in text for t in DISK_FULL_TEXTS) or (failed_compile and free is not None and free < LOW_FREE):
            raise disk_full_error(base, "the C++ compiler could not write its files") from exc
        if not failed_compile:
            echo()
            raise
        logged = ""
        with contextlib.suppress(OSError):
            (base / BUILD_LOG).write_text(text)
            logged = f" (all of it in {base / BUILD_LOG})"
        raise SetupError(f"compiling the model's C++ program in {base / 'program'} failed ({exc}); the "
                         f"compiler's last lines{logged}:\n{output_tail(text)}\nCheck that the C++ compiler "
                         "works; one killed for lack of memory says 'Killed'") from exc
    except BaseException:
        echo()
        raise
    echo()
