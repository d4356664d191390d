"""The model's main outcomes: named numbers, each read off one or two runs.

An :class:`Outcome` names the runs it needs (protocols as plain data, so a worker process
or a Dask worker can run them) and how its number is read from their results.  Outcomes
that read the same run share it: :func:`jobs_for` returns each run once.  The fitting
tool (:mod:`biophys_ltp.fit`), the sensitivity map and ``biophys-ltp validate`` evaluate
outcomes for many parameter sets through :func:`evaluate_many`, which runs every
(parameter set, run) pair in the project's executor (local worker processes, or a Dask
cluster) and records a failed run as NaN for the outcomes that need it, never as a number.

Times follow the experiments: tetani are read after the first pulse of the pathway's
induction, low-frequency stimulation after its last pulse (Sajikumar & Frey 2004 count
from the end of the 15-min stimulation), the frequency response and spike timing 60 min
after the end of the induction (:mod:`biophys_ltp.experiments`).
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from .errors import InputError, known_names
from .experiments import (BIOPHYSICS_TRACE_WINDOWS, FREQUENCIES_HZ, bap_amplitude_at, biophysics_of,
                          biophysics_protocol, frequency_crossings, frequency_protocol, induction_change,
                          induction_table, repetition_protocol, stdp_protocol)
from .executor import one_line

__all__ = ["Outcome", "OUTCOMES", "MAIN", "RUNS", "outcome_names", "jobs_for", "run_options", "measure", "evaluate",
           "evaluate_many"]


@dataclass(frozen=True)
class Outcome:
    """One number of the model: ``runs`` (names of :data:`RUNS`) and ``read(results)``
    (``results``: run name -> :class:`~biophys_ltp.simulation.Results`)."""
    name: str
    description: str
    unit: str
    runs: tuple[str, ...]
    read: Callable[[Mapping[str, Any]], float] = field(repr=False)
    target: str | None = None  # the experimental target (biophys_ltp.targets) it is compared with


def _shipped(name: str) -> Callable[[], dict[str, Any]]:
    def load() -> dict[str, Any]:
        import tomllib

        from .protocol import _resolve_path
        with _resolve_path(name).open("rb") as fh:
            return tomllib.load(fh)
    return load


# spike-timing pairings (ms from the pulse to the spike) and the calibration target each
# is held to: +-10 ms are the main outcomes; the bands hold at 5 ms as at 10 ms
# (tests/test_induction.py); +-50 ms are outside the window
STDP_TARGETS = {10: "stdp_pre_post", -10: "stdp_post_pre", 5: "stdp_pre_post", -5: "stdp_post_pre",
                50: "stdp_far", -50: "stdp_far"}
STDP_OFFSETS_MS = tuple(STDP_TARGETS)

# run name -> a function that returns the protocol (plain data)
RUNS: dict[str, Callable[[], dict[str, Any]]] = {
    "wtet": _shipped("wtet"),
    "stet": _shipped("stet"),
    "stet_anisomycin": _shipped("stet_anisomycin"),
    "stc": _shipped("stc_strong_weak"),
    "wlfs": _shipped("wlfs"),
    "slfs": _shipped("slfs"),
    **{f"freq_{hz}hz": partial(frequency_protocol, hz) for hz in FREQUENCIES_HZ},
    **{f"stdp_{ms:+d}ms": partial(stdp_protocol, ms) for ms in STDP_OFFSETS_MS},
    "massed_2x1min": partial(repetition_protocol, 2, 1),
    "spaced_2x10min": partial(repetition_protocol, 2, 10),
    "biophysics": biophysics_protocol,
}


def run_options(run: str) -> dict[str, Any]:
    """What a run needs of :func:`~biophys_ltp.simulation.simulate` besides its protocol
    (plain data): the trace window that the biophysics outcomes read."""
    if run == "biophysics":
        return {"trace_windows": [list(w) for w in BIOPHYSICS_TRACE_WINDOWS]}
    return {}


def _after(run: str, pathway: str, minutes: float, *, from_end: bool = False) -> Callable[[Mapping[str, Any]], float]:
    return lambda results: results[run].fepsp_after(pathway, minutes, from_end=from_end)


def _induction(run: str) -> Callable[[Mapping[str, Any]], float]:
    def read(results: Mapping[str, Any]) -> float:
        return induction_change(results[run])
    return read


def _farthest_from_baseline(run: str, pathway: str) -> Callable[[Mapping[str, Any]], float]:
    """The test pulse of ``pathway`` farthest from 100 % (a band "at every test pulse")."""
    def read(results: Mapping[str, Any]) -> float:
        fepsp = results[run].fepsp
        values = fepsp[fepsp.pathway == pathway].fepsp_pct.to_numpy(float)
        return float(values[np.argmax(np.abs(values - 100.0))])
    return read


def _aniso_first_hour_pp(results: Mapping[str, Any]) -> float:
    """Anisomycin's effect on S1 in the first hour after the strong tetanus: of the test
    pulses from its first pulse to 60 min later, the difference (with anisomycin minus
    without, percentage points) that is largest in magnitude."""
    stet, aniso = results["stet"], results["stet_anisomycin"]
    t0 = stet.induction_min("S1")[0]

    def first_hour(res):
        f = res.fepsp[(res.fepsp.pathway == "S1") & res.fepsp.time_min.between(t0, t0 + 60)]
        return f[["time_min", "fepsp_pct"]]
    merged = first_hour(stet).merge(first_hour(aniso), on="time_min", suffixes=("_stet", "_aniso"))
    diff = (merged.fepsp_pct_aniso - merged.fepsp_pct_stet).to_numpy(float)
    return float(diff[np.argmax(np.abs(diff))]) if len(diff) else float("nan")


def _biophysics_measure(read: Callable[[Any], float]) -> Callable[[Mapping[str, Any]], float]:
    def measure_(results: Mapping[str, Any]) -> float:
        return float(read(biophysics_of(results["biophysics"])))
    return measure_


def _frequency_crossing_hz(results: Mapping[str, Any]) -> float:
    """Where the frequency-response curve crosses 100 % (log-interpolated); where it does
    not cross, the end of the range run on its side (1 Hz for a curve above 100 % all
    along, 100 Hz for one below), so that a fit sees how far off it is; NaN where it
    crosses more than once (no single crossing to compare)."""
    table = induction_table({(hz, False): results[f"freq_{hz}hz"] for hz in FREQUENCIES_HZ}, "frequency_hz")
    crossings = frequency_crossings(table)
    if len(crossings) == 1:
        return crossings[0]
    if not crossings:
        return float(FREQUENCIES_HZ[0] if (table.fepsp_pct >= 100).all() else FREQUENCIES_HZ[-1])
    return float("nan")


def _spaced_minus_massed(results: Mapping[str, Any]) -> float:
    return (results["spaced_2x10min"].fepsp_after("S1", 480)
            - results["massed_2x1min"].fepsp_after("S1", 480))


_PCT = "% of baseline"


def _stdp(ms: int) -> Outcome:
    """The outcome of 60 pairings with the spike ``ms`` after the pulse (before it if negative)."""
    run = f"stdp_{ms:+d}ms"
    order = "after" if ms > 0 else "before"
    return Outcome(run, f"60 pairings, spike {abs(ms)} ms {order} the pulse: S1 60 min after", _PCT, (run,),
                   _induction(run), STDP_TARGETS[ms])


OUTCOMES: dict[str, Outcome] = {o.name: o for o in [
    Outcome("wtet_30min", "weak tetanus: S1 30 min after it", _PCT, ("wtet",), _after("wtet", "S1", 30),
            "wtet_30min"),
    Outcome("wtet_3h", "weak tetanus: S1 3 h after it", _PCT, ("wtet",), _after("wtet", "S1", 180), "wtet_3h"),
    Outcome("stet_1h", "strong tetanus: S1 1 h after it", _PCT, ("stet",), _after("stet", "S1", 60), "stet_1h"),
    Outcome("stet_8h", "strong tetanus: S1 8 h after it", _PCT, ("stet",), _after("stet", "S1", 480), "stet_8h"),
    Outcome("stet_aniso_8h", "strong tetanus under anisomycin: S1 8 h after it", _PCT, ("stet_anisomycin",),
            _after("stet_anisomycin", "S1", 480), "stet_aniso_8h"),
    Outcome("stc_s2_8h", "tagging: weak tetanus on S2 35 min after a strong one on S1, S2 8 h after it", _PCT,
            ("stc",), _after("stc", "S2", 480), "stc_weak_8h"),
    Outcome("wlfs_30min", "weak LFS: S1 30 min after its end", _PCT, ("wlfs",),
            _after("wlfs", "S1", 30, from_end=True), "wlfs_30min"),
    Outcome("wlfs_3h", "weak LFS: S1 3 h after its end", _PCT, ("wlfs",),
            _after("wlfs", "S1", 180, from_end=True), "wlfs_3h"),
    Outcome("slfs_8h", "strong LFS: S1 8 h after its end", _PCT, ("slfs",),
            _after("slfs", "S1", 480, from_end=True), "slfs_6h_8h"),
    Outcome("freq_1hz", "900 pulses at 1 Hz: S1 60 min after", _PCT, ("freq_1hz",), _induction("freq_1hz"),
            "freq_1hz"),
    Outcome("freq_10hz", "900 pulses at 10 Hz: S1 60 min after", _PCT, ("freq_10hz",), _induction("freq_10hz"),
            "freq_10hz"),
    Outcome("freq_100hz", "900 pulses at 100 Hz: S1 60 min after", _PCT, ("freq_100hz",),
            _induction("freq_100hz"), "freq_50_100hz"),
    *(_stdp(ms) for ms in (10, -10)),
    Outcome("spaced_minus_massed_8h", "two 100-Hz trains 10 min apart minus 1 min apart: S1 8 h after the first",
            "percentage points", ("spaced_2x10min", "massed_2x1min"), _spaced_minus_massed, None),
    # the rest of the calibration targets, so that the fitting tool reaches every parameter
    # fitted to one (tests/test_fit.py checks that each calibration target has an outcome)
    Outcome("control_s2_stet", "strong tetanus: the unstimulated pathway S2, its test pulse farthest from "
            "baseline", _PCT, ("stet",), _farthest_from_baseline("stet", "S2"), "control_pathway"),
    Outcome("stet_aniso_first_hour_pp", "strong tetanus under anisomycin minus without: S1, the test pulse of "
            "the first hour where they differ most", "percentage points", ("stet", "stet_anisomycin"),
            _aniso_first_hour_pp, "aniso_first_hour_pp"),
    Outcome("bap_250um", "backpropagating AP 250 um from the soma on the apical trunk, of the somatic AP",
            "of somatic AP", ("biophysics",), _biophysics_measure(lambda bio: bap_amplitude_at(bio, 250.0)),
            "bap_250um"),
    Outcome("ca_bap", "peak spine-head Ca2+ rise from one backpropagating AP", "uM", ("biophysics",),
            _biophysics_measure(lambda bio: bio.ca_bap_uM), "ca_bap"),
    Outcome("ca_supralinearity", "spine-head Ca2+ peak of an EPSP followed 10 ms later by a bAP, over the sum "
            "of the two alone", "x sum", ("biophysics",), _biophysics_measure(lambda bio: bio.supralinearity),
            "ca_supralinearity"),
    Outcome("freq_crossing_hz", "frequency (900 pulses) where the frequency-response curve crosses baseline",
            "Hz", tuple(f"freq_{hz}hz" for hz in FREQUENCIES_HZ), _frequency_crossing_hz, "freq_crossing_hz"),
    *(_stdp(ms) for ms in (5, -5, 50, -50)),
]}

# the outcomes of the sensitivity map (`fit` uses every outcome whose target is a
# calibration target: biophys_ltp.fit.default_outcomes)
MAIN: tuple[str, ...] = ("wtet_30min", "wtet_3h", "stet_1h", "stet_8h", "stet_aniso_8h", "stc_s2_8h",
                         "wlfs_30min", "wlfs_3h", "slfs_8h", "freq_1hz", "freq_10hz", "freq_100hz",
                         "stdp_+10ms", "stdp_-10ms", "spaced_minus_massed_8h")


def outcome_names(names: Iterable[str] | None) -> list[str]:
    """``names`` as a list (:data:`MAIN` for None), each a known outcome; an InputError
    names the unknown ones."""
    names = known_names(names, OUTCOMES, "outcome", default=MAIN)
    if not names:
        raise InputError("no outcomes given")
    return names


def jobs_for(names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """The runs the outcomes ``names`` need, each once: run name -> protocol (plain data)."""
    runs: dict[str, dict[str, Any]] = {}
    for name in outcome_names(names):
        for run in OUTCOMES[name].runs:
            if run not in runs:
                runs[run] = RUNS[run]()
    return runs


def measure(names: Iterable[str] | None, results: Mapping[str, Any]) -> dict[str, float]:
    """The outcomes ``names`` read from ``results`` (run name -> Results); NaN for an outcome
    whose run is missing (it failed)."""
    out = {}
    for name in outcome_names(names):
        o = OUTCOMES[name]
        out[name] = float(o.read(results)) if all(r in results for r in o.runs) else float("nan")
    return out


def evaluate(names: Iterable[str] | None = None, params: Mapping[str, Any] | None = None,
             model: str | None = None, **kwargs: Any) -> dict[str, float]:
    """The outcomes ``names`` for one parameter set (overrides ``params`` of ``model``)."""
    return evaluate_many([params or {}], names, model=model, **kwargs)[0].values


@dataclass
class Evaluation:
    """The outcomes of one parameter set: ``values`` (NaN where a run failed) and the
    ``errors`` of the failed runs (run name -> one line)."""
    params: dict[str, str]
    values: dict[str, float]
    errors: dict[str, str]
    wall_s: float


@dataclass(frozen=True)
class _Task:
    index: int
    run: str
    spec: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"set {self.index}: {self.run}"

    @property
    def point_id(self) -> str:  # for the Dask executor's task keys
        return f"{self.index}-{self.run}"


def run_task(spec: Mapping[str, Any]) -> dict[str, Any]:
    """One run of one parameter set, in a worker: ``{"status": "ok", "results"}`` or
    ``{"status": "failed", "error", "traceback"}`` (a bad parameter value or a run that
    fails is a result of the parameter set, not a failure of the evaluation)."""
    from .simulation import simulate
    from .sweep.executors import _SIM_LOCK
    t0 = time.perf_counter()
    with _SIM_LOCK:
        try:
            res = simulate(spec["protocol"], spec.get("model"), params=dict(spec.get("params") or {}) or None,
                           progress=False, **dict(spec.get("options") or {}))
        except Exception as err:
            return {"status": "failed", "error": one_line(err), "traceback": traceback.format_exc(),
                    "worker": f"{socket.gethostname()}:{os.getpid()}", "wall_s": time.perf_counter() - t0}
    return {"status": "ok", "results": res, "wall_s": time.perf_counter() - t0}


def evaluate_many(param_sets: Sequence[Mapping[str, Any]], names: Iterable[str] | None = None, *,
                  model: str | None = None, workers: int | None = None, scheduler: str | None = None,
                  progress: bool | None = None, title: str = "outcomes") -> list[Evaluation]:
    """The outcomes ``names`` for every parameter set of ``param_sets`` (overrides by name:
    quantities, numbers or strings with units).

    Every (parameter set, run) pair is one task of the project's executor: ``workers``
    local processes (default :func:`~biophys_ltp.simulation.default_workers`), or the Dask
    cluster at ``scheduler``.  A run that fails makes its outcomes NaN for that set and
    its error is kept in :attr:`Evaluation.errors`; nothing is retried.
    """
    import sys

    from .executor import Progress, run_pool
    from .simulation import worker_count
    from .sweep.executors import dask_client, run_dask, run_in_process

    names = outcome_names(names)
    runs = jobs_for(names)
    sets = [{k: _as_text(v) for k, v in p.items()} for p in param_sets]
    tasks = [_Task(i, run, {"protocol": proto, "model": model, "params": p, "options": run_options(run)})
             for i, p in enumerate(sets) for run, proto in runs.items()]
    results: list[dict[str, Any]] = [{} for _ in sets]
    errors: list[dict[str, str]] = [{} for _ in sets]
    walls = [0.0] * len(sets)
    if progress is None:
        progress = sys.stderr.isatty()

    def on_result(task: _Task, result: Mapping[str, Any]) -> None:
        ok = result.get("status") == "ok"
        if ok:
            results[task.index][task.run] = result["results"]
        else:
            errors[task.index][task.run] = str(result.get("error"))
        walls[task.index] += float(result.get("wall_s") or 0.0)
        bar.step(task.label, ok, simulated=True)

    n = min(worker_count(workers), len(tasks))
    where = (f"on the Dask cluster at {scheduler}" if scheduler else
             "in this process" if n <= 1 else f"in {n} worker processes")
    with Progress(len(tasks), len(tasks), 0, progress, where, noun="runs", title=title,
                  resume="the results of this call are lost") as bar:
        if scheduler:
            run_dask(tasks, dask_client(scheduler), run_task, on_result)
        elif n <= 1:
            run_in_process(tasks, run_task, on_result)
        else:
            run_pool(tasks, n, run_task, on_result)
    out = []
    for i, p in enumerate(sets):
        values = {}
        for name in names:
            try:
                values[name] = measure([name], results[i])[name]
            except Exception as err:  # a run that ended without the test pulse read
                errors[i][name] = one_line(err)
                values[name] = float("nan")
        out.append(Evaluation(p, values, errors[i], walls[i]))
    return out


def _as_text(value: Any) -> str:
    """A parameter value as text with its unit (what crosses to a worker or a file)."""
    import brian2 as b2
    if isinstance(value, b2.Quantity):
        from .units import format_quantity
        return format_quantity(value)
    if isinstance(value, (float, int, np.floating, np.integer)):
        return repr(float(value))
    return str(value)
