"""``simulate()``: one protocol on one model, returning tidy pandas frames.

The frames use plain numbers with the unit in the column name (``time_min``,
``fepsp_pct``); inside, everything is a Brian2 quantity.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import brian2 as b2
import numpy as np
import pandas as pd

from . import readout
from ._version import __version__
from .errors import InputError, ResultError, SimulationError, whole_number
from .executor import Progress, WorkersDied, one_line, run_pool
from . import mechanisms as mech
from .engine import MAX_SIM_DURATION, RawResults, build_key, cache_dir, measurement_settings, process_alive, run_compiled
from .engine.network import INVALID_ABOVE
from .model import Model, load_model
from .events import fmt_times
from .protocol import Protocol, load_protocol
from .limits import check_protocol
from .schedule import Schedule, ScheduleSettings

# Estimated wall-clock cost of one simulated second, used only to show progress; updated
# from each run of the same structure.
_COST_FILE = "run_cost.json"


@dataclass(eq=False)
class Results:
    """Outcome of one simulation."""
    fepsp: pd.DataFrame
    state: pd.DataFrame
    metadata: dict[str, Any]
    traces: pd.DataFrame | None = None
    protocol: Protocol | None = field(default=None, repr=False)
    model: Model | None = field(default=None, repr=False)

    def fepsp_at(self, pathway: str, time_min: float, within_min: float | None = None) -> float:
        """fEPSP (% of baseline) of ``pathway`` at its test pulse nearest ``time_min`` (minutes
        from the protocol's start, or a time with a unit: ``"55 min"``).

        A :class:`~biophys_ltp.errors.ResultError` where no test pulse of the pathway lies
        within ``within_min`` (default: half the test interval) of ``time_min``."""
        time_min = _minutes(time_min, "time_min")
        self._require_test_pulses(pathway)
        tol = readout.half_test_interval_min(self._protocol()) if within_min is None else _minutes(
            within_min, "within_min")
        if tol < 0:
            raise InputError(f"within_min must not be negative, got {within_min!r}")
        value = readout.fepsp_near(self.fepsp, pathway, time_min, tol)
        if np.isnan(value):
            raise ResultError(f"{self._name}: no test pulse of pathway {pathway} within {tol:.4g} min of "
                              f"{time_min:g} min ({self._nearest(pathway, time_min)})")
        return value

    def induction_min(self, pathway: str) -> tuple[float, float]:
        """(first, last) induction pulse of ``pathway``, in minutes from the protocol start."""
        pulses = readout.induction_min(self._protocol(), pathway)
        if pulses is None:
            raise ResultError(f"{self._name}: no induction on pathway {pathway}")
        return pulses

    def fepsp_after(self, pathway: str, minutes: float, *, from_end: bool = False,
                    within_min: float | None = None) -> float:
        """fEPSP (% of baseline) of ``pathway`` at the test pulse nearest ``minutes`` after
        the first pulse of its induction (``from_end``: after the last pulse); a
        :class:`~biophys_ltp.errors.ResultError` where none lies within ``within_min``
        (default: half the test interval)."""
        minutes = _minutes(minutes, "minutes")
        first, last = self.induction_min(pathway)
        self._require_test_pulses(pathway)
        why = self.metadata.get("fepsp_missing", {}).get(pathway)
        if why:  # test pulses before the induction only
            raise ResultError(f"{self._name}: pathway {pathway}: {why}")
        return self.fepsp_at(pathway, (last if from_end else first) + minutes, within_min)

    @property
    def _name(self) -> str:
        return self.protocol.name if self.protocol is not None else "results"

    def _nearest(self, pathway: str, time_min: float) -> str:
        t = self.fepsp.time_min[self.fepsp.pathway == pathway].to_numpy(float)
        k = int(np.argmin(np.abs(t - time_min)))
        return f"the nearest is at {t[k]:.4g} min"

    def _protocol(self) -> Protocol:
        if self.protocol is None:
            raise ResultError("these results carry no protocol")
        return self.protocol

    def _require_test_pulses(self, pathway: str) -> None:
        if not (self.fepsp.pathway == pathway).any():
            known = sorted(set(self.fepsp.pathway)) if not self.fepsp.empty else []
            why = self.metadata.get("fepsp_missing", {}).get(pathway)
            raise ResultError(f"{self._name}: no fEPSP recorded on pathway {pathway!r}"
                              + (f": {why}" if why else f" (recorded: {', '.join(known) or 'none'})"))

    def state_at(self, pathway: str, time_min: float, column: str) -> float:
        """A sampled variable (a column of :attr:`state`) of ``pathway`` at ``time_min``,
        interpolated between the samples (one per biological minute); a
        :class:`~biophys_ltp.errors.ResultError` outside the sampled time."""
        time_min = _minutes(time_min, "time_min")
        if not isinstance(column, str):
            raise InputError(f"column: the name of one state column, got {column!r}")
        if column not in self.state.columns or column in ("time_min", "pathway"):
            cols = [c for c in self.state.columns if c not in ("time_min", "pathway")]
            raise ResultError(f"{self._name}: no state column {column!r} (columns: {', '.join(cols)})")
        s = self.state[self.state.pathway == pathway]
        if s.empty:
            raise ResultError(f"{self._name}: no samples of pathway {pathway!r}")
        t = s.time_min.to_numpy(float)
        step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
        if not t.min() - 1e-9 <= time_min <= t.max() + 1e-9:
            raise ResultError(f"{self._name}: {time_min:g} min is outside the samples of pathway {pathway} "
                              f"({t.min():.4g} to {t.max():.4g} min, every {step:.3g} min)")
        return float(np.interp(time_min, t, s[column].to_numpy()))

    def save(self, out_dir: str | Path) -> Path:
        """Write ``fepsp.csv``, ``state.csv``, ``traces.csv`` (if recorded) and
        ``metadata.json`` into ``out_dir`` (:meth:`load` reads them back)."""
        return write_result_folder(_folder(out_dir, "save"), self.fepsp, self.state, self.metadata, self.traces)

    @classmethod
    def load(cls, folder: str | Path) -> "Results":
        """The results in a folder written by :meth:`save`, ``biophys-ltp run`` or a sweep's
        point: its tables, its metadata and the protocol it records (the model is not
        rebuilt: :attr:`model` is None; its name, parameters and overrides are in
        :attr:`metadata`)."""
        from .protocol import protocol_from_dict

        folder = _folder(folder, "load")
        if not (folder / "metadata.json").is_file() or not (folder / "fepsp.csv").is_file():
            raise ResultError(f"{folder}: not a complete result folder (it needs fepsp.csv and metadata.json; "
                              f"a folder being written has no metadata.json yet)")
        metadata = json.loads((folder / "metadata.json").read_text())
        fepsp = pd.read_csv(folder / "fepsp.csv")
        state = _read_table(folder / "state.csv")
        traces = _read_table(folder / "traces.csv") if (folder / "traces.csv").is_file() else None
        recorded = metadata.get("protocol")
        proto = (protocol_from_dict({k: v for k, v in recorded.items() if k != "source"},
                                    source=recorded.get("source") or str(folder)) if recorded else None)
        return cls(fepsp, state, metadata, traces, proto, None)


def _folder(folder: Any, what: str) -> Path:
    """A result folder given to :meth:`Results.save` or :meth:`Results.load`: a non-empty
    path (``""`` is not taken for the current folder)."""
    if not isinstance(folder, (str, os.PathLike)) or not str(folder).strip():
        raise InputError(f"Results.{what}: expected a folder (a path), got {folder!r}")
    return Path(folder)


def _read_table(path: Path) -> pd.DataFrame:
    """A table of a result folder; an empty one where the file is missing or was written
    from an empty table (a file with no columns)."""
    if not path.is_file():
        return pd.DataFrame()
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


#: Brian2's code generation targets a run may use (``simulate(target=...)``, ``run --target``).
CODE_TARGETS = ("cpp_standalone", "runtime")

#: The files a run's result folder holds (others in the folder are left alone).
RESULT_FILES = ("fepsp.csv", "state.csv", "traces.csv", "metadata.json")


def write_result_folder(out_dir: str | Path, fepsp: pd.DataFrame, state: pd.DataFrame | None,
                        metadata: Mapping[str, Any], traces: pd.DataFrame | None = None) -> Path:
    """The one writer of a run's result folder (``Results.save`` and each point of a sweep):
    ``fepsp.csv``, ``state.csv`` and ``traces.csv`` where given, ``metadata.json``.

    Nothing is half-written: every file is written in full into a temporary folder beside
    ``out_dir`` first, and only then moved into place, each with one rename; if writing
    fails, ``out_dir`` is left as it was.  ``metadata.json`` marks a complete folder: it is
    removed before the other files are replaced and put back last.  A result file of an
    earlier run that this one does not have (its ``traces.csv``) is removed, so the folder
    never mixes two runs; other files in the folder are left alone.  The temporary folder of
    a writer that was killed is removed at the next write beside it."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: not a folder (results are a folder of files)")
    out.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{out.name}.writing-"
    for left in out.parent.glob(f"{prefix}*"):  # of a writer that was killed
        pid = left.name[len(prefix):].split("-")[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(left, ignore_errors=True)
    staging = out.parent / f"{prefix}{os.getpid()}-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        fepsp.to_csv(staging / "fepsp.csv", index=False)
        for name, table in (("state", state), ("traces", traces)):
            if table is not None:
                table.to_csv(staging / f"{name}.csv", index=False)
        with open(staging / "metadata.json", "w") as f:
            json.dump(dict(metadata), f, indent=2, default=str)
        out.mkdir(exist_ok=True)
        # metadata.json marks a complete folder: gone while the files change, back last
        (out / "metadata.json").unlink(missing_ok=True)
        for name in RESULT_FILES[:-1]:
            if (staging / name).exists():
                os.replace(staging / name, out / name)
            else:
                (out / name).unlink(missing_ok=True)
        os.replace(staging / "metadata.json", out / "metadata.json")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def simulate(protocol: str | Path | Mapping | Protocol, model: str | Model | None = None, *,
             params: Mapping[str, Any] | None = None, seed: int | None = None,
             reference: bool = False, target: str = "cpp_standalone",
             trace_windows=None, progress: bool | None = None,
             settings: ScheduleSettings | None = None) -> Results:
    """Run ``protocol`` on ``model`` and return :class:`Results`.

    protocol
        A protocol file path, the name of a shipped protocol (``"stet"``), a dict with
        the file's content, or a :class:`~biophys_ltp.protocol.Protocol`.
    model
        A model name (default ``"ca1_spine"``), a path, or a :class:`~biophys_ltp.model.Model`.
    params
        Parameter overrides by name: Brian2 quantities, numbers (dimensionless) or
        strings with units (``{"g_ampa": "0.6 nS"}``).
    seed
        Recorded in the metadata and passed to Brian2's random number generator.
        The default model is deterministic.
    reference
        Integrate every variable at the fine step all the time (no time warping).
    target
        ``"cpp_standalone"`` (compiled, default) or ``"runtime"`` (numpy; for debugging; with
        ``reference=True`` only).
    trace_windows
        (start, stop) pairs of biological times (quantities or strings with units) in
        which fast traces are recorded: soma, trunk, and the first spine head of each
        pathway with its dendrite (voltage, calcium, NMDA current, AMPA conductance),
        plus per-pathway kinase, phosphatase and AMPA receptor means.  A trace window
        is simulated in real time (never compressed), so keep it to seconds.
    progress
        Show progress on stderr (default: when stderr is a terminal).
    """
    t_start = time.perf_counter()
    if target not in CODE_TARGETS:
        raise InputError(f"target must be one of {', '.join(CODE_TARGETS)}, got {target!r}")
    if settings is not None and not isinstance(settings, ScheduleSettings):
        raise InputError(f"settings must be a biophys_ltp.schedule.ScheduleSettings, got {settings!r}")
    if target == "runtime" and not reference:
        raise InputError("the runtime target (numpy) runs only the fixed-step reference (reference=True, "
                         "--reference): its cable solver is Brian2's own, which steps the clock's dt, while "
                         "the warped schedule's gaps step the membrane by dt times the warp factor "
                         "(templates/spatialstateupdate.cpp)")
    proto = load_protocol(protocol)
    mdl = model if isinstance(model, Model) else load_model(model)
    mdl = mdl.with_overrides(params)
    settings = settings or ScheduleSettings()
    windows = _trace_windows(trace_windows, proto)
    seed = _seed(seed)
    # everything the model's fine step or the engine cannot carry is refused before running
    schedule = check_protocol(proto, mdl, settings, reference=reference, trace_windows=windows)
    if seed is not None:
        b2.seed(seed)
    if progress is None:
        progress = sys.stderr.isatty()
    label = f"{proto.name} ({'reference' if reference else 'warped'})"
    with _Progress(label, mdl, schedule, enabled=progress) as prog:
        raw = run_compiled(mdl, schedule, settings, target=target)
        prog.record(raw)
    check_run(proto, mdl, schedule, raw)
    fepsp = _fepsp_frame(proto, schedule, raw, mdl)
    state = _state_frame(proto, mdl, schedule, raw)
    traces = _trace_frame(mdl, schedule, raw) if windows else None
    wall = time.perf_counter() - t_start
    metadata = {
        "package": "biophys-ltp",
        "version": __version__,
        "model": mdl.name,
        "model_file": mdl.source,
        "model_hash": mdl.model_hash(),
        "structure_hash": mdl.structure_key(),
        "build_key": build_key(mdl),
        "cell": mdl.layout(),
        "parameters": {p["name"]: {k: p[k] for k in ("value", "unit", "source")} for p in mdl.parameter_records()},
        "overrides": dict(mdl.overrides),
        "protocol": proto.to_dict(),
        "seed": seed,
        "trace_windows_s": [[float(a / b2.second), float(b / b2.second)] for a, b in windows],
        "reference": reference,
        "target": target,
        "schedule": {"simulated_s": float(schedule.sim_duration), "biological_s": float(proto.duration),
                     "speedup": schedule.speedup(), "segments": schedule.n_segments,
                     "dt_ms": float(mdl.dt / b2.ms), "program_ran_s": raw.sim_run_s,
                     "settings": settings.as_dict()},
        "measurement": measurement_settings(),
        "timings_s": {**raw.timings, "wall": wall},
        "wall_time_s": wall,
        "build_dir": raw.build_dir,
        "launch": raw.launch,
        "versions": _versions(),
        # pathways whose fEPSP is missing after their induction (or everywhere), and why
        "fepsp_missing": readout.fepsp_gaps(proto),
    }
    return Results(fepsp, state, metadata, traces, proto, mdl)


def check_run(proto: Protocol, model: Model, schedule: Schedule, raw: RawResults) -> None:
    """A run whose program stopped before the protocol's end, or that recorded NaN, an
    infinite value or one beyond :data:`~biophys_ltp.engine.network.INVALID_ABOVE`, is an error naming the variable, the compartment or pathway and the
    biological time of the first bad value."""
    resolution = 1e-5 * float(MAX_SIM_DURATION)  # last_run_info holds 6 significant digits
    if not raw.sim_run_s >= float(schedule.sim_duration) - resolution:
        ran = float(schedule.real_time_of_sim(np.array([raw.sim_run_s / float(schedule.dt)]))[0]) * float(schedule.dt)
        raise SimulationError(
            f"{proto.name}: the compiled program stopped after {raw.sim_run_s:.6g} s of simulated time "
            f"(biological {ran / 60:.4g} min), before the protocol's end ({float(proto.duration) / 60:.4g} min); "
            f"program folder {raw.build_dir}")
    dt_s = float(schedule.dt)
    # (part, variable, its times, its index, what the index numbers)
    recorded = [("measure", name, "t_sim", "i", "pathway") for name in ("current", "slope", "amp")]
    recorded += [("path_samples", r.column, "t_sim", "i", "pathway") for r in mech.records("synapse")]
    recorded += [("cell_samples", r.column, "t_sim", None, None) for r in mech.records("cell")]
    if raw.traces:
        recorded += [("traces", r.column, "neuron_t_sim", "neuron_i", "compartment") for r in mech.records("neuron")]
        recorded += [("traces", r.column, "path_t_sim", "path_i", "pathway")
                     for r in mech.records("synapse") if r.traced]
    for part, name, t_key, index, kind in recorded:
        data = getattr(raw, part)
        values = np.asarray(data[name], dtype=float)
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(~(np.abs(values) <= INVALID_ABOVE))
        if not len(bad):
            continue
        k = int(bad[0])
        t_real = float(schedule.real_time_of_sim(np.round(data[t_key][k:k + 1] / dt_s))[0]) * dt_s
        where = "the cell"
        if kind == "pathway":
            where = f"pathway {model.pathways[int(data[index][k])]}"
        elif kind == "compartment":
            i = int(data[index][k])
            where = f"compartment {compartment_labels(model).get(i, i)}"
        raise SimulationError(
            f"{proto.name}: the run recorded {values[k]} for {name} of {where} at {t_real / 60:.4g} min "
            f"(biological time): the integration failed; parameters overridden: "
            f"{dict(model.overrides) or 'none'}")


def _versions() -> dict[str, str]:
    import matplotlib
    import seaborn
    return {"python": platform.python_version(), "brian2": b2.__version__, "numpy": np.__version__,
            "pandas": pd.__version__, "seaborn": seaborn.__version__, "matplotlib": matplotlib.__version__,
            "biophys_ltp": __version__, "platform": platform.platform()}


def _fepsp_frame(proto: Protocol, schedule: Schedule, raw: RawResults, model: Model) -> pd.DataFrame:
    dt_s = float(schedule.dt)
    m = raw.measure
    steps = np.round(m["t_sim"] / dt_s).astype(np.int64)
    rows = []
    baseline_steps = int(round(float(proto.baseline) / dt_s))
    for name in proto.pathways:
        k = list(model.pathways).index(name)  # the program numbers pathways as the model does
        test_sim = schedule.pulse_sim[name][np.isin(schedule.pulse_real[name], schedule.test_real[name])]
        test_real = schedule.real_time_of_sim(test_sim)
        if not len(test_sim):
            continue
        sel = m["i"] == k
        lookup = dict(zip(steps[sel], zip(m["slope"][sel], m["amp"][sel], m["current"][sel])))
        got = [lookup.get(int(s)) for s in test_sim]
        if any(g is None for g in got):
            raise SimulationError(f"pathway {name}: {sum(g is None for g in got)} test pulses without a response")
        slope = np.array([g[0] for g in got])
        amp = np.array([g[1] for g in got])
        current = np.array([g[2] for g in got])
        base = test_real < baseline_steps
        if not base.any():  # protocol_from_dict refuses a protocol without baseline test pulses
            raise SimulationError(f"pathway {name}: no test pulse in the baseline")
        # the fEPSP: the pathway's synaptic current (the field's sink), % of its baseline mean
        ref = current[base].mean()
        if not ref > 0:
            raise SimulationError(f"{proto.name}: pathway {name}: no baseline response (mean synaptic current "
                                  f"{ref:.3g} A): the model's synapses carry no current at its test pulses; "
                                  f"parameters overridden: {dict(model.overrides) or 'none'}")
        for t, s, a, c in zip(test_real, slope, amp, current):
            # slope in V/s, which is mV/ms; amplitude in V; current in A
            rows.append((t * dt_s / 60.0, name, 100.0 * c / ref, s, a * 1e3, c * 1e12))
    return pd.DataFrame(rows, columns=["time_min", "pathway", "fepsp_pct", "epsp_slope_mV_per_ms",
                                       "epsp_amplitude_mV", "synaptic_current_pA"])


def _state_frame(proto: Protocol, model: Model, schedule: Schedule, raw: RawResults) -> pd.DataFrame:
    ps, cs = raw.path_samples, raw.cell_samples
    dt_s = float(schedule.dt)
    # samples hold the values at the end of the step they were taken in
    t_real = schedule.real_time_of_sim(np.round(ps["t_sim"] / dt_s) + 1) * dt_s
    cell_t = schedule.real_time_of_sim(np.round(cs["t_sim"] / dt_s) + 1) * dt_s
    # minutes to 1e-9 (the first sample at 8e-16 min is at 0)
    frame = pd.DataFrame({"time_min": np.round(t_real / 60.0, 9), "pathway": np.asarray(model.pathways)[ps["i"]]})
    for r in mech.records("synapse"):
        frame[r.column] = ps[r.column] * _scale(r)
    for r in mech.records("cell"):
        frame[r.column] = np.interp(t_real, cell_t, cs[r.column] * _scale(r))
    frame = frame[frame.pathway.isin(proto.pathways)]
    return frame.sort_values(["pathway", "time_min"], kind="stable").reset_index(drop=True)


def compartment_labels(model: Model) -> dict[int, str]:
    """Readable names of the compartments recorded in trace windows."""
    _, idx = model.morphology()
    labels = {0: "soma"}
    for k, c in enumerate(idx["trunk"]):
        labels[int(c)] = f"trunk_{k}"
    dendrite: dict[int, list[str]] = {}  # pathways whose first spine sits on a compartment
    for p, name in enumerate(model.pathways):
        labels[int(idx["head"][p, 0])] = f"{name}_spine"
        labels[int(idx["neck"][p, 0])] = f"{name}_neck"
        dendrite.setdefault(int(idx["oblique"][p, 0]), []).append(name)
    for c, names in dendrite.items():  # several where spines share compartments
        labels[c] = "_".join(names) + "_dendrite"
    return labels


def trunk_distances(model: Model) -> np.ndarray:
    """Distance from the soma (um) of the centre of each trunk compartment."""
    return model.morphology()[1]["trunk_um"]


def _scale(record) -> float:
    """Factor from a recorded variable's SI value to its column's unit."""
    return 1.0 if record.unit == "1" else float(1 / getattr(b2, record.unit))


def _trace_frame(model: Model, schedule: Schedule, raw: RawResults) -> pd.DataFrame:
    tr = raw.traces
    dt_s = float(schedule.dt)
    labels = compartment_labels(model)
    t_real = schedule.real_time_of_sim(np.round(tr["neuron_t_sim"] / dt_s)) * dt_s
    neuron = pd.DataFrame({
        "time_s": t_real, "compartment": [labels.get(int(i), f"c{int(i)}") for i in tr["neuron_i"]],
        **{r.column: tr[r.column] * _scale(r) for r in mech.records("neuron")}})
    pt = schedule.real_time_of_sim(np.round(tr["path_t_sim"] / dt_s)) * dt_s
    path = pd.DataFrame({
        "time_s": pt, "compartment": [f"{model.pathways[int(i)]}_synapses" for i in tr["path_i"]],
        **{r.column: tr[r.column] * _scale(r) for r in mech.records("synapse") if r.traced}})
    return pd.concat([neuron, path], ignore_index=True)


def _time(x: Any, what: str) -> b2.Quantity:
    from .units import parse_quantity
    return parse_quantity(x, dimension=b2.second, what=what)


#: Brian2's random number generator takes seeds from 0 to 2**32 - 1.
MAX_SEED = 2**32 - 1


def _seed(seed: Any) -> int | None:
    """``seed`` as a whole number from 0 to :data:`MAX_SEED`, or None."""
    return None if seed is None else whole_number(seed, "the seed", 0, MAX_SEED)


def _trace_windows(trace_windows: Any, proto: Protocol) -> list[tuple[b2.Quantity, b2.Quantity]]:
    """``trace_windows`` as (start, stop) times, each window inside the protocol and
    starting before it stops; an :class:`InputError` naming the window otherwise."""
    if trace_windows is None:
        return []
    if isinstance(trace_windows, (str, Mapping)) or not np.iterable(trace_windows):
        raise InputError(f"trace_windows is a list of (start, stop) pairs, e.g. [('30 min', '30.5 min')], "
                         f"got {trace_windows!r}")
    out = []
    for k, w in enumerate(trace_windows):
        if isinstance(w, (str, Mapping)) or not np.iterable(w) or len(w) != 2:
            raise InputError(f"trace window {k}: expected a (start, stop) pair, got {w!r}")
        start, stop = (_time(x, f"trace window {k}") for x in w)
        if not 0 * b2.second <= start < stop <= proto.duration:
            t0, t1, end = fmt_times(*(float(t / b2.second) for t in (start, stop, proto.duration)))
            raise InputError(f"trace window {k}: {t0} to {t1} is not a stretch of the protocol "
                             f"(0 to {end}, start before stop)")
        out.append((start, stop))
    return out


def _minutes(x: Any, what: str) -> float:
    """A time given to :class:`Results`: a number of minutes, a quantity or a string with
    a unit (``"55 min"``), as minutes."""
    if isinstance(x, (bool, np.bool_)):
        raise InputError(f"{what}: expected a time in minutes, got {x!r}")
    if isinstance(x, str) or (isinstance(x, b2.Quantity) and not x.is_dimensionless):
        return float(_time(x, what) / b2.second) / 60
    if isinstance(x, (int, float, np.integer, np.floating, np.ndarray)) and np.ndim(x) == 0:
        value = float(np.asarray(x))  # a number of minutes (also a 0-d array or a dimensionless quantity)
        if not np.isfinite(value):
            raise InputError(f"{what}: expected a finite time in minutes, got {x!r}")
        return value
    raise InputError(f"{what}: expected a time in minutes (a number, or a string with a unit such as "
                     f"'55 min'), got {x!r}")


class _Progress:
    """Elapsed time and an estimate of the fraction done, on stderr, while the program runs."""

    def __init__(self, label: str, model: Model, schedule: Schedule, enabled: bool):
        self.label, self.enabled = label, enabled
        self.sim_s = float(schedule.sim_duration)
        self.cost_path = cache_dir() / "builds" / build_key(model) / _COST_FILE
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _cost(self) -> float | None:
        try:
            return float(json.loads(self.cost_path.read_text())["wall_per_sim_s"])
        except Exception:
            return None

    def record(self, raw: RawResults) -> None:
        run = raw.timings.get("run_s")
        if run and self.sim_s > 0:
            try:
                self.cost_path.parent.mkdir(parents=True, exist_ok=True)
                self.cost_path.write_text(json.dumps({"wall_per_sim_s": run / self.sim_s}))
            except OSError:
                pass

    def __enter__(self):
        if self.enabled:
            self._t0 = time.perf_counter()
            self._expected = (self._cost() or 0.0) * self.sim_s
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def _loop(self):
        while not self._stop.wait(0.5):
            el = time.perf_counter() - self._t0
            if self._expected > 0:
                frac = min(el / (self._expected + 8.0), 0.99)
                bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
                msg = f"\r{self.label}: [{bar}] {el:5.0f} s (about {self._expected + 8:.0f} s)"
            else:
                msg = f"\r{self.label}: building/running, {el:5.0f} s elapsed (first run compiles the model)"
            sys.stderr.write(msg)
            sys.stderr.flush()

    def __exit__(self, exc_type, *exc):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            outcome = "done in" if exc_type is None else "stopped after"
            sys.stderr.write(f"\r{self.label}: {outcome} {time.perf_counter() - self._t0:.1f} s" + " " * 30 + "\n")
        return False


def _simulate_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """One job of :func:`simulate_many` in a worker: its Results, or the exception it raised
    (handed back to be raised in the calling process)."""
    try:
        return {"status": "ok", "results": simulate(**job)}
    except Exception as err:
        return {"status": "failed", "error": one_line(err), "exception": err, "traceback": traceback.format_exc()}


@dataclass(frozen=True)
class _Job:
    key: Any
    spec: Mapping[str, Any]

    @property
    def label(self) -> str:
        return str(self.key)


def default_workers() -> int:
    """Worker processes for :func:`simulate_many`: ``$BIOPHYS_LTP_WORKERS`` or the CPU count."""
    env = os.environ.get("BIOPHYS_LTP_WORKERS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise InputError(f"BIOPHYS_LTP_WORKERS must be a whole number, not {env!r}") from None
        if n < 1:
            raise InputError(f"BIOPHYS_LTP_WORKERS must be at least 1, not {n}")
        return n
    return max(os.cpu_count() or 1, 1)


def worker_count(workers: Any = None) -> int:
    """The worker processes a call asked for: ``workers`` (a whole number, at least 1) or,
    where it is None, :func:`default_workers`.  Every entry point that takes ``workers``
    (simulations, sweeps, fits, screenings) reads it through here."""
    return default_workers() if workers is None else whole_number(workers, "workers", 1)


def simulate_many(jobs: Mapping[str, Mapping[str, Any]], *, workers: int | None = None,
                  progress: bool | None = None) -> dict[str, Results]:
    """Run several simulations, in parallel worker processes, and return them by key.

    ``jobs`` maps a key to the keyword arguments of :func:`simulate` (``protocol`` is
    required).  All jobs of one model structure share one compiled program: the first
    worker that needs it builds it (under a file lock) and the others reuse it; each run
    writes into its own results folder.  ``workers``: see :func:`worker_count`;
    with one worker (or one job) everything runs in this process.
    """
    jobs = {key: dict(job) for key, job in jobs.items()}
    for key, job in jobs.items():
        if "protocol" not in job:
            raise InputError(f"job {key!r} has no 'protocol'")
        job.setdefault("progress", False)
    n = min(worker_count(workers), len(jobs))
    if progress is None:
        progress = sys.stderr.isatty()
    done: dict[str, Results] = {}

    def on_result(job: _Job, result: Mapping[str, Any]) -> None:
        if result.get("status") != "ok":
            err = result.get("exception")
            if isinstance(err, BaseException):
                raise err
            raise SimulationError(f"{job.label}: {result.get('error')}\n{result.get('traceback', '')}")
        done[job.key] = result["results"]
        bar.step(job.label, True, simulated=True)

    where = "in this process" if n <= 1 else f"in {n} worker processes"
    with Progress(len(jobs), len(jobs), 0, progress, where, noun="simulations", title="simulate_many",
                  resume="the results of this run are lost") as bar:
        if n <= 1:
            for key, job in jobs.items():
                done[key] = simulate(**job)
                bar.step(str(key), True, simulated=True)
        else:
            try:
                # one executor for figures and sweeps: a worker that dies costs a rerun of its jobs
                run_pool([_Job(key, job) for key, job in jobs.items()], n, _simulate_job, on_result)
            except WorkersDied as err:
                raise SimulationError(str(err)) from None
    return {key: done[key] for key in jobs}
