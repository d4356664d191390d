"""Global sensitivity of the model's main outcomes to its fitted parameters: a Morris
screening (elementary effects), and the margins of the fitted thresholds.

Morris screening
----------------
Every fitted parameter (a model entry whose source says "fitted: ...") is given a
plausible range in ``sensitivity_ranges.toml`` (:data:`RANGES`; the file states the
rule: a factor of 2 either side, in log space, for positive quantities; +-5 mV for
potentials).  :func:`morris` draws ``trajectories`` Morris trajectories on the unit
hypercube with SALib (``SALib.sample.morris.sample``, ``levels`` grid levels), maps each
coordinate ``u`` in [0, 1] onto its parameter's range (log scale: ``low *
(high/low)**u``; linear: ``low + u*(high - low)``), evaluates every parameter set's
outcomes (:func:`biophys_ltp.outcomes.evaluate_many`) and analyses each outcome with
``SALib.analyze.morris.analyze``.

Units of the result: an elementary effect is the change of the outcome divided by the
step of the *normalised* coordinate ``u`` (SALib's ``delta``), for every parameter, log
or linear.  ``mu``, ``mu_star``, ``mu_star_conf`` and ``sigma`` are therefore in the
outcome's unit (``% of baseline``, percentage points) per whole range of the parameter:
``mu_star = 20`` means that moving the parameter across its range (a factor of 4 for a
factor-2 range) moves the outcome by about 20 points, as a linear extrapolation of the
steps the screening took.  This puts all parameters, whatever their unit, on one scale.
``mu_star_rel`` divides ``mu_star`` by the largest ``mu_star`` of the same outcome, and
``share`` by the sum over the parameters.

A parameter set whose run failed gives NaN for the outcomes that read that run; the
Morris analysis needs complete trajectories, so a trajectory with a NaN for an outcome
is left out of that outcome's analysis (columns ``trajectories`` and ``dropped``).

The output folder (resumable)
-----------------------------
``design.json``
    What the screening is: parameters and their ranges, trajectories, levels, seed,
    outcomes, the model and its hash, the package version and code digest
    (:func:`biophys_ltp.provenance.code_digest`), engine settings, versions.  A later
    call with the same folder must describe the same screening, else :class:`InputError`.
``design.csv``
    The unit-hypercube coordinates of every parameter set (set, trajectory, one column
    per parameter); a later call checks that the sampler gives the same.
``evaluations.csv``
    One row per evaluated set, appended after each batch: set, trajectory, wall_s,
    errors, the parameter values as text (what the runs were given), each outcome.
    A later call skips the sets stored here.
``morris.csv``, ``summary.json``
    The tidy result (:func:`analyse`) and the summaries (:func:`insensitive`,
    :func:`single_parameter`, failed sets, dropped trajectories).

Threshold margins
-----------------
:func:`threshold_margins` measures, with a few short runs (:func:`measure_signatures`),
what each fitted threshold is compared with in the protocols it was fitted to (the
"protocol signatures": spine Ca2+ peaks, averaged spine Ca2+, NMDA receptor Ca2+
currents, phosphatase levels, nuclear-signal peaks, late weights) and gives its
relative distance to the nearest signature below and above it.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import brian2 as b2
import numpy as np
import pandas as pd

from . import outcomes as _outcomes
from ._version import __version__
from .errors import InputError, whole_number
from .model import Model, ModelError, load_model
from .units import UnitParseError, format_quantity, parse_quantity

__all__ = ["RANGES", "EXCLUDED", "RANGES_FILE", "Range", "MorrisResult", "morris", "analyse", "insensitive",
           "single_parameter", "fitted_parameters", "default_parameters", "parse_range", "check_ranges",
           "design_matrix", "parameter_sets", "measure_signatures", "threshold_margins",
           "INSENSITIVE_BELOW", "SINGLE_PARAMETER_SHARE"]

RANGES_FILE = Path(__file__).resolve().parent / "sensitivity_ranges.toml"
FORMAT = "biophys-ltp sensitivity 1"

DEFAULT_TRAJECTORIES = 4
DEFAULT_LEVELS = 4
DEFAULT_SEED = 1
#: Parameter sets per call of evaluate_many: the folder gets each batch as it finishes, so
#: an interruption costs at most one batch (8 sets: ~3 min on 2 cores for all outcomes).
BATCH = 8
#: Bootstrap resamples for mu_star_conf (SALib's default is 100; 1000 costs nothing here
#: and steadies the interval).
RESAMPLES = 1000
CONF_LEVEL = 0.95

# The two cut-offs of the summaries, in one place.
#
# INSENSITIVE_BELOW: a parameter "no outcome depends on" has mu_star under 5 % of the
# largest mu_star of every outcome.  Morris screenings usually draw this line at 5-10 % of
# the largest effect; the lower end is taken so that a parameter is called non-influential
# only when it is clearly so with the few trajectories (r = 4) a screening of this model
# can afford.  For the fEPSP outcomes, whose largest effects are tens of points, 5 % is
# about a point: below the scatter of the experiments the parameters were fitted to.
INSENSITIVE_BELOW = 0.05
# SINGLE_PARAMETER_SHARE: an outcome "hangs on a single parameter" when that parameter's
# mu_star is more than half of the summed mu_star of all screened parameters: all the others
# together move it less than that one does.
SINGLE_PARAMETER_SHARE = 0.5

# Columns of the tidy result table.
TABLE_COLUMNS = ["outcome", "unit", "parameter", "mu", "mu_star", "mu_star_conf", "sigma", "mu_star_rel", "share",
                 "trajectories", "dropped"]

# The --quick screening: one trajectory over three parameters (one for each outcome below,
# and one, tau_bap, that neither reads) and two outcomes that need one run each.
QUICK_PARAMS = ("k_ins", "theta_signal", "tau_bap")
QUICK_OUTCOMES = ("wtet_30min", "stet_8h")


# ---------------------------------------------------------------------------
# Ranges
# ---------------------------------------------------------------------------

_DIMENSIONLESS = b2.get_dimensions(1.0)
#: Significant digits of a parameter value of the design.
DIGITS = 10


@dataclass(frozen=True)
class Range:
    """A parameter's plausible range: ``low`` and ``high`` (Brian2 quantities, or floats for
    dimensionless values), the ``scale`` on which the screening's levels are spaced ("log"
    or "linear"), the reason for it, and the ``unit`` its values are written in (the unit
    of the low end as given: ``"mS/cm**2"``; "" for a dimensionless range)."""
    name: str
    low: Any
    high: Any
    scale: str = "log"
    reason: str = ""
    unit: str = ""

    @property
    def _bounds(self) -> tuple[float, float]:
        return float(np.asarray(self.low)), float(np.asarray(self.high))

    @property
    def dimension(self) -> Any:
        return b2.get_dimensions(self.low)

    @property
    def _unit_si(self) -> float:
        return float(np.asarray(parse_quantity(f"1 {self.unit}"))) if self.unit else 1.0

    def text(self, u: float) -> str:
        """The value at the normalised coordinate ``u`` in [0, 1] (clipped to it), as text in
        the range's unit with :data:`DIGITS` significant digits: what the runs are given.
        Log scale: ``low * (high/low)**u``; linear: ``low + u*(high - low)``."""
        lo, hi = self._bounds
        u = float(u)
        if u <= 0:
            x = lo
        elif u >= 1:
            x = hi
        elif self.scale == "log":
            x = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        else:
            x = lo + u * (hi - lo)
        x = min(max(x, lo), hi)
        number = f"{x / self._unit_si:.{DIGITS}g}"
        return f"{number} {self.unit}" if self.unit else number

    def value(self, u: float) -> Any:
        """:meth:`text` read back: a quantity (a float when dimensionless)."""
        q = parse_quantity(self.text(u))
        return float(np.asarray(q)) if self.dimension is _DIMENSIONLESS else q

    def position(self, value: Any) -> float:
        """The normalised coordinate of ``value`` (the inverse of :meth:`value`)."""
        lo, hi = self._bounds
        x = float(np.asarray(parse_quantity(value) if isinstance(value, str) else value))
        if self.scale == "log":
            return (math.log(x) - math.log(lo)) / (math.log(hi) - math.log(lo))
        return (x - lo) / (hi - lo)

    def contains(self, value: Any) -> bool:
        lo, hi = self._bounds
        x = float(np.asarray(parse_quantity(value) if isinstance(value, str) else value))
        return lo <= x <= hi

    def as_dict(self) -> dict[str, str]:
        return {"low": self.text(0.0), "high": self.text(1.0), "scale": self.scale, "reason": self.reason}


def _unit_text(given: Any, quantity: Any) -> str:
    """The unit part of a value as given ("30 mS/cm**2" -> "mS/cm**2"), else of its
    :func:`format_quantity`; "" when dimensionless."""
    if b2.get_dimensions(quantity) is _DIMENSIONLESS:
        return ""
    text = given if isinstance(given, str) else format_quantity(quantity)
    parts = text.strip().split(None, 1)
    if len(parts) == 2:
        return parts[1].strip()
    return format_quantity(quantity).split(None, 1)[1]


def make_range(name: str, low: Any, high: Any, scale: str = "log", reason: str = "", where: str = "") -> Range:
    """A :class:`Range` from text (or quantities); :class:`InputError` naming the parameter
    for a bad unit, a low end not below the high end, an unknown scale, or a log range
    that does not lie above zero."""
    prefix = f"{where}: " if where else ""
    try:
        lo = parse_quantity(low, what=f"{name} low end")
        hi = parse_quantity(high, what=f"{name} high end")
    except UnitParseError as err:
        raise InputError(f"{prefix}range of {name!r}: {err}") from None
    if b2.get_dimensions(lo) is not b2.get_dimensions(hi):
        raise InputError(f"{prefix}range of {name!r}: {format_quantity(lo)} and {format_quantity(hi)} have "
                         f"different units")
    if scale not in ("log", "linear"):
        raise InputError(f"{prefix}range of {name!r}: scale must be 'log' or 'linear', got {scale!r}")
    a, b = float(np.asarray(lo)), float(np.asarray(hi))
    if not (math.isfinite(a) and math.isfinite(b)) or not a < b:
        raise InputError(f"{prefix}range of {name!r}: the low end ({format_quantity(lo)}) must be below the "
                         f"high end ({format_quantity(hi)})")
    if scale == "log" and not a > 0:
        raise InputError(f"{prefix}range of {name!r}: a log-scale range must lie above zero, got "
                         f"{format_quantity(lo)} to {format_quantity(hi)} (use scale 'linear')")
    unit = _unit_text(low, lo)
    if b2.get_dimensions(lo) is _DIMENSIONLESS:
        lo, hi = a, b
    return Range(name, lo, hi, scale, reason, unit)


def load_ranges(path: str | Path = RANGES_FILE) -> tuple[dict[str, Range], dict[str, str]]:
    """The ranges file: (parameter -> :class:`Range`, excluded parameter -> reason)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path}: not valid TOML: {err}") from None
    ranges = {}
    for name, entry in (data.get("ranges") or {}).items():
        if not isinstance(entry, dict) or "low" not in entry or "high" not in entry:
            raise InputError(f"{path}: range of {name!r} needs low and high")
        ranges[name] = make_range(name, entry["low"], entry["high"], entry.get("scale", "log"),
                                  str(entry.get("reason", "")), where=str(path))
    excluded = {str(k): str(v) for k, v in (data.get("excluded") or {}).items()}
    both = sorted(set(ranges) & set(excluded))
    if both:
        raise InputError(f"{path}: {', '.join(both)} both have a range and are excluded")
    return ranges, excluded


#: The plausible range of every fitted parameter, and the fitted parameters left out (with why).
RANGES, EXCLUDED = load_ranges()


def parse_range(text: str) -> Range:
    """``"NAME=LOW,HIGH"`` or ``"NAME=LOW,HIGH,SCALE"`` (the command's ``--range``) ->
    :class:`Range`; without a scale, the one of :data:`RANGES` (else log for a range above
    zero, linear otherwise)."""
    name, sep, rest = str(text).partition("=")
    name = name.strip()
    parts = [p.strip() for p in rest.split(",")]
    if not sep or not name or len(parts) not in (2, 3) or not all(parts):
        raise InputError(f"--range expects NAME=LOW,HIGH or NAME=LOW,HIGH,log|linear (e.g. "
                         f"--range k_ins=0.1/s,0.2/s), got {text!r}")
    if len(parts) == 3:
        scale = parts[2]
    elif name in RANGES:
        scale = RANGES[name].scale
    else:
        try:
            scale = "log" if float(np.asarray(parse_quantity(parts[0], what=f"{name} low end"))) > 0 else "linear"
        except UnitParseError as err:
            raise InputError(f"range of {name!r}: {err}") from None
    return make_range(name, parts[0], parts[1], scale, "given with --range")


def fitted_parameters(model: str | Model | None = None) -> list[str]:
    """The model's fitted runtime parameters (source starting with "fitted"), in model order."""
    mdl = model if isinstance(model, Model) else load_model(model)
    return [p.name for p in mdl.parameters.values() if p.source.strip().lower().startswith("fitted")]


def default_parameters(model: str | Model | None = None) -> list[str]:
    """The parameters a screening covers by default: every fitted one not in :data:`EXCLUDED`."""
    return [n for n in fitted_parameters(model) if n not in EXCLUDED]


def check_ranges(names: Sequence[str], ranges: Mapping[str, Range], model: Model) -> None:
    """Refuse (:class:`InputError`, one line) a parameter the model does not have, one
    without a range, a range in the wrong unit, outside the parameter's physical limits
    (the model's own checks) or not containing the model's value."""
    import difflib
    for name in names:
        if name not in model.parameters:
            where = " (a structure entry: it changes the compiled program, not screened)" \
                if name in model.structure else ""
            close = difflib.get_close_matches(name, list(model.parameters), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close and not where else ""
            raise InputError(f"unknown parameter {name!r} of {model.label}{where}{hint}")
        if name not in ranges:
            why = f" (excluded: {EXCLUDED[name]})" if name in EXCLUDED else ""
            raise InputError(f"no range for parameter {name!r}{why}: give one with --range {name}=LOW,HIGH "
                             f"(or add it to {RANGES_FILE.name})")
        rng = ranges[name]
        value = model.parameters[name].value
        if b2.get_dimensions(rng.low) is not b2.get_dimensions(value):
            raise InputError(f"range of {name!r} ({format_quantity(rng.low)} to {format_quantity(rng.high)}) has "
                             f"the wrong unit: the model's value is {format_quantity(value)}")
        for end in (rng.low, rng.high):
            try:
                model.with_overrides({name: end})
            except ModelError as err:
                raise InputError(f"range of {name!r} ({format_quantity(rng.low)} to {format_quantity(rng.high)}) "
                                 f"leaves the parameter's physical limits: {err}") from None
        if not rng.contains(value):
            raise InputError(f"range of {name!r} ({format_quantity(rng.low)} to {format_quantity(rng.high)}) does "
                             f"not contain the model's value {format_quantity(value)}")


# ---------------------------------------------------------------------------
# The design
# ---------------------------------------------------------------------------

def _problem(names: Sequence[str]) -> dict[str, Any]:
    # the unit hypercube: SALib's elementary effects are then per normalised unit
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def design_matrix(names: Sequence[str], trajectories: int, levels: int, seed: int) -> np.ndarray:
    """Morris trajectories on the unit hypercube: ``trajectories * (len(names) + 1)`` rows,
    one column per parameter (SALib's sampler, no trajectory optimisation)."""
    from SALib.sample import morris as sampler
    return np.asarray(sampler.sample(_problem(names), int(trajectories), num_levels=int(levels), seed=int(seed)),
                      dtype=float)


def parameter_sets(X: np.ndarray, names: Sequence[str], ranges: Mapping[str, Range]) -> list[dict[str, str]]:
    """Each row of ``X`` (unit coordinates) as parameter values, text with units."""
    return [{name: ranges[name].text(u) for name, u in zip(names, row)} for row in np.asarray(X)]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version
    out = {"python": sys.version.split()[0]}
    for pkg in ("brian2", "numpy", "pandas", "SALib"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def environment() -> dict[str, Any]:
    """What besides the design the numbers depend on: package version, code digest, the
    engine's schedule and measurement settings."""
    from .engine import measurement_settings
    from .provenance import code_digest
    from .schedule import ScheduleSettings
    return {"version": __version__, "code": code_digest(), "schedule": ScheduleSettings().as_dict(),
            "measurement": measurement_settings()}


#: The entries of design.json that make two screenings the same (a resumed folder must match).
IDENTITY = ("format", "params", "ranges", "trajectories", "levels", "seed", "outcomes", "model_hash", "version",
            "code", "schedule", "measurement")
_IDENTITY_TEXT = {"format": "the file format", "params": "the parameters", "ranges": "the ranges",
                  "trajectories": "the number of trajectories", "levels": "the number of levels",
                  "seed": "the seed", "outcomes": "the outcomes", "model_hash": "the model (its hash)",
                  "version": "the package version", "code": "the package's code (its digest)",
                  "schedule": "the engine's schedule settings", "measurement": "the engine's measurement settings"}


def identity(design: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of a design that make it the same screening (ranges without their reasons)."""
    out = {k: design.get(k) for k in IDENTITY}
    out["ranges"] = {n: {k: v for k, v in r.items() if k != "reason"}
                     for n, r in (design.get("ranges") or {}).items()}
    return out


def identity_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The :data:`IDENTITY` entries in which two designs differ, in words."""
    ia, ib = identity(a), identity(b)
    same = [json.dumps(ia[k], sort_keys=True) == json.dumps(ib[k], sort_keys=True) for k in IDENTITY]
    return [_IDENTITY_TEXT[k] for k, equal in zip(IDENTITY, same) if not equal]


def make_design(names: Sequence[str], ranges: Mapping[str, Range], outcome_names: Sequence[str], trajectories: int,
                levels: int, seed: int, model: Model) -> dict[str, Any]:
    from .outcomes import OUTCOMES
    k = len(names)
    return {
        "format": FORMAT, "params": list(names), "ranges": {n: ranges[n].as_dict() for n in names},
        "trajectories": int(trajectories), "levels": int(levels), "seed": int(seed),
        "outcomes": list(outcome_names), "units": {o: OUTCOMES[o].unit for o in outcome_names},
        "sets": int(trajectories) * (k + 1), "model": model.name, "model_file": model.source,
        "model_hash": model.model_hash(), **environment(), "versions": _versions(),
        "cutoffs": {"insensitive_below": INSENSITIVE_BELOW, "single_parameter_share": SINGLE_PARAMETER_SHARE},
        "effects": "elementary effects per unit of the normalised [0, 1] coordinate of each parameter's range "
                   "(log scale: u = log(value/low)/log(high/low)), in the outcome's unit",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# ---------------------------------------------------------------------------
# The output folder
# ---------------------------------------------------------------------------

DESIGN_JSON = "design.json"
DESIGN_CSV = "design.csv"
EVALUATIONS = "evaluations.csv"
TABLE = "morris.csv"
SUMMARY = "summary.json"
_LOCK = ".sensitivity.lock"
#: What ``biophys-ltp sensitivity --margins`` writes into its folder.
MARGINS_FILES = ("margins.csv", "signatures.csv", "margins.json")


def _cell(x: float) -> str:
    return "nan" if not math.isfinite(x) else repr(float(x))


def _number(text: str) -> float:
    try:
        return float(text) if text not in ("", None) else float("nan")
    except ValueError:
        return float("nan")


class _Store:
    """The screening's output folder: design, evaluations appended batch by batch."""

    def __init__(self, out: Path, design: dict[str, Any], X: np.ndarray):
        self.out, self.design, self.X = Path(out), design, X
        self._lock_fh = None

    @property
    def columns(self) -> list[str]:
        return ["set", "trajectory", "wall_s", "errors", *self.design["params"], *self.design["outcomes"]]

    def open(self) -> dict[int, dict[str, Any]]:
        """Create or check the folder; the stored evaluations by set."""
        out = self.out
        if out.exists() and not out.is_dir():
            raise InputError(f"--out {out} is a file, not a folder")
        out.mkdir(parents=True, exist_ok=True)
        made_lock = not (out / _LOCK).exists()
        self._lock()
        try:
            self._check_folder()
        except InputError:
            # refused: the folder is left as it was found (no lock file of this call)
            self.close()
            if made_lock:
                (out / _LOCK).unlink(missing_ok=True)
            raise
        return self._read_evaluations()

    def _check_folder(self) -> None:
        """Check a stored design against this one, or write it into a folder that holds
        nothing else; an :class:`InputError` where the folder holds something else."""
        out = self.out
        path = out / DESIGN_JSON
        if path.is_file():
            try:
                stored = json.loads(path.read_text())
            except ValueError as err:
                raise InputError(f"{path}: not readable ({err}); write this screening into another folder") from None
            differs = identity_differences(stored, self.design)
            if differs:
                verb = "differs" if len(differs) == 1 else "differ"
                raise InputError(f"{out} holds a screening with another design ({', '.join(differs)} {verb}); "
                                 f"write this screening into another folder")
            self._check_design_csv()
        elif (out / EVALUATIONS).exists():
            raise InputError(f"{out} has {EVALUATIONS} but no {DESIGN_JSON}: not a screening folder this command "
                             f"can resume; write this screening into another folder")
        else:
            # the margins (--margins) may share the folder: they are the same command's
            others = sorted(p.name for p in out.iterdir() if p.name not in (_LOCK, *MARGINS_FILES))
            if others:
                raise InputError(f"{out} is not empty and holds no screening ({', '.join(others[:3])}"
                                 f"{', ...' if len(others) > 3 else ''}); write the screening into a new folder")
            self._write_json(DESIGN_JSON, self.design)
            self._write_design_csv()

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # no advisory locks (Windows): one screening per folder is up to the user
            return
        fh = open(self.out / _LOCK, "a")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise InputError(f"another screening is writing into {self.out}; wait for it or use another "
                             f"folder") from None
        self._lock_fh = fh

    def close(self) -> None:
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def _write_json(self, name: str, data: Any) -> None:
        tmp = self.out / f".{name}.tmp"
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.replace(tmp, self.out / name)

    def _write_design_csv(self) -> None:
        k = len(self.design["params"])
        with open(self.out / DESIGN_CSV, "w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["set", "trajectory", *self.design["params"]])
            for i, row in enumerate(self.X):
                w.writerow([i, i // (k + 1), *(repr(float(u)) for u in row)])

    def _check_design_csv(self) -> None:
        path = self.out / DESIGN_CSV
        if not path.is_file():
            self._write_design_csv()
            return
        try:
            with open(path, newline="") as fh:
                rows = list(csv.DictReader(fh))
            X = np.array([[float(r[p]) for p in self.design["params"]] for r in rows], dtype=float)
        except (ValueError, KeyError, TypeError) as err:
            raise InputError(f"{path}: not readable ({' '.join(str(err).split())})") from None
        if X.shape != self.X.shape or not np.array_equal(X, self.X):
            raise InputError(f"{path}: the sampler now gives another design for the same seed (SALib "
                             f"{_versions()['SALib']}; the folder was made with SALib "
                             f"{json.loads((self.out / DESIGN_JSON).read_text()).get('versions', {}).get('SALib')}); "
                             f"write this screening into another folder")

    def _read_evaluations(self) -> dict[int, dict[str, Any]]:
        path = self.out / EVALUATIONS
        if not path.is_file() or path.stat().st_size == 0:
            with open(path, "w", newline="") as fh:
                csv.writer(fh, lineterminator="\n").writerow(self.columns)
            return {}
        text = path.read_text()
        if not text.endswith("\n"):  # a write cut short (a kill): drop the partial last line
            text = text[: text.rfind("\n") + 1]
            path.write_text(text)
        rows = list(csv.reader(text.splitlines()))
        if not rows or rows[0] != self.columns:
            raise InputError(f"{path}: its columns are not those of this screening; write this screening into "
                             f"another folder")
        n = self.X.shape[0]
        done: dict[int, dict[str, Any]] = {}
        params, names = self.design["params"], self.design["outcomes"]
        for row in rows[1:]:
            if len(row) != len(self.columns):
                continue
            try:
                i = int(row[0])
            except ValueError:
                continue
            if not 0 <= i < n:
                continue
            rec = dict(zip(self.columns, row))
            done[i] = {"params": {p: rec[p] for p in params}, "values": {o: _number(rec[o]) for o in names},
                       "errors": rec["errors"], "wall_s": _number(rec["wall_s"])}
        return done

    def append(self, records: Mapping[int, Mapping[str, Any]]) -> None:
        k = len(self.design["params"])
        with open(self.out / EVALUATIONS, "a", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            for i, rec in records.items():
                w.writerow([i, i // (k + 1), _cell(rec["wall_s"]), rec["errors"],
                            *(rec["params"][p] for p in self.design["params"]),
                            *(_cell(rec["values"][o]) for o in self.design["outcomes"])])
            fh.flush()
            os.fsync(fh.fileno())

    def finish(self, table: pd.DataFrame, summary: Mapping[str, Any]) -> None:
        tmp = self.out / f".{TABLE}.tmp"
        table.to_csv(tmp, index=False)
        os.replace(tmp, self.out / TABLE)
        self._write_json(SUMMARY, summary)


# ---------------------------------------------------------------------------
# The screening
# ---------------------------------------------------------------------------

@dataclass
class MorrisResult:
    """A finished screening: the tidy :attr:`table` (:func:`analyse`), the design, every
    evaluated set, and the summaries."""
    table: pd.DataFrame
    design: dict[str, Any]
    evaluations: pd.DataFrame
    summary: dict[str, Any]
    out: Path | None = None
    ran: int = 0  # sets evaluated by this call
    skipped: int = 0  # sets found in the folder
    failed: dict[int, str] = field(default_factory=dict)  # set -> errors of its failed runs
    dropped: dict[str, int] = field(default_factory=dict)  # outcome -> trajectories left out


def _validated(params, outcomes, trajectories, levels, seed, model, ranges, batch, workers):
    trajectories = whole_number(trajectories, "the number of trajectories", 1)
    levels = whole_number(levels, "the number of levels", 2)
    if levels % 2:
        raise InputError(f"the number of levels must be even (Morris steps of half the levels), got {levels}")
    seed = whole_number(seed, "the seed", 0)
    batch = whole_number(batch, "the batch size", 1)
    if workers is not None:
        from .simulation import worker_count
        worker_count(workers)
    mdl = model if isinstance(model, Model) else load_model(model)
    names = list(default_parameters(mdl) if params is None else params)
    if not names:
        raise InputError("no parameters to screen")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"parameter(s) given twice: {', '.join(twice)}")
    all_ranges = {**RANGES, **dict(ranges or {})}
    check_ranges(names, all_ranges, mdl)
    out_names = _outcome_names(outcomes)
    clash = sorted(set(names) & set(out_names))
    if clash:
        raise InputError(f"{', '.join(clash)}: both a parameter and an outcome")
    return names, out_names, trajectories, levels, seed, mdl, all_ranges, batch


def _outcome_names(names: Sequence[str] | None) -> list[str]:
    from .outcomes import outcome_names
    names = outcome_names(names)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"outcome(s) given twice: {', '.join(twice)}")
    return names


def morris(params: Sequence[str] | None = None, outcomes: Sequence[str] | None = None,
           trajectories: int = DEFAULT_TRAJECTORIES, levels: int = DEFAULT_LEVELS, seed: int = DEFAULT_SEED,
           workers: int | None = None, scheduler: str | None = None, out: str | Path | None = None, *,
           model: str | Model | None = None, ranges: Mapping[str, Range] | None = None, batch: int = BATCH,
           progress: bool | None = None) -> MorrisResult:
    """Morris screening of ``params`` (default: every fitted parameter with a range, see
    :func:`default_parameters`) on ``outcomes`` (default :data:`~biophys_ltp.outcomes.MAIN`).

    ``trajectories`` (r) Morris trajectories with ``levels`` grid levels (even), drawn with
    ``seed``: ``r * (k + 1)`` parameter sets for k parameters, each evaluated for every
    outcome with :func:`biophys_ltp.outcomes.evaluate_many` (``workers`` local processes or
    the Dask cluster at ``scheduler``) in batches of ``batch`` sets.  ``ranges`` replaces
    entries of :data:`RANGES`; ``model`` is a model name or file (default the default
    model).  With ``out`` every batch is stored as it finishes and a later call with the
    same design resumes (the module's docstring describes the folder).  ``progress``: a
    line per batch on stderr (default: when stderr is a terminal)."""
    names, out_names, trajectories, levels, seed, mdl, all_ranges, batch = _validated(
        params, outcomes, trajectories, levels, seed, model, ranges, batch, workers)
    if progress is None:
        progress = sys.stderr.isatty()
    X = design_matrix(names, trajectories, levels, seed)
    sets = parameter_sets(X, names, all_ranges)
    design = make_design(names, all_ranges, out_names, trajectories, levels, seed, mdl)
    n = len(sets)
    # what the workers load: a name or a file (a Model object by its file)
    model_arg = mdl.source if isinstance(model, Model) else model
    store = _Store(Path(out), design, X) if out is not None else None
    try:
        done = store.open() if store is not None else {}
        for i, rec in done.items():
            if rec["params"] != sets[i]:
                raise InputError(f"{store.out / EVALUATIONS}: set {i} was evaluated with other parameter values "
                                 f"than this design gives; write this screening into another folder")
        skipped = len(done)
        pending = [i for i in range(n) if i not in done]
        t0 = time.perf_counter()
        if progress:
            where = f"on the Dask cluster at {scheduler}" if scheduler else \
                f"{workers} worker(s)" if workers else "the default workers"
            print(f"sensitivity: {n} parameter sets ({trajectories} trajectories x {len(names) + 1}) x "
                  f"{len(out_names)} outcomes; {skipped} already stored, {len(pending)} to evaluate with {where}",
                  file=sys.stderr, flush=True)
        batches = [pending[j:j + batch] for j in range(0, len(pending), batch)]
        for b, chunk in enumerate(batches):
            evals = _outcomes.evaluate_many([sets[i] for i in chunk], out_names, model=model_arg, workers=workers,
                                            scheduler=scheduler, progress=progress and sys.stderr.isatty(),
                                            title=f"sensitivity batch {b + 1}/{len(batches)}")
            if len(evals) != len(chunk):
                raise RuntimeError(f"evaluate_many returned {len(evals)} evaluations for {len(chunk)} sets")
            records = {i: {"params": dict(sets[i]), "values": {o: float(ev.values.get(o, float("nan")))
                                                                for o in out_names},
                           "errors": "; ".join(f"{k}: {' '.join(str(v).split())}"
                                               for k, v in sorted(ev.errors.items())),
                           "wall_s": float(ev.wall_s)} for i, ev in zip(chunk, evals)}
            if store is not None:
                store.append(records)
            done.update(records)
            if progress:
                ran = sum(len(c) for c in batches[:b + 1])
                elapsed = time.perf_counter() - t0
                failed = sum(1 for r in done.values() if r["errors"])
                print(f"sensitivity: {skipped + ran}/{n} sets done ({failed} with a failed run), "
                      f"{_duration(elapsed)} elapsed, ~{_duration(elapsed / ran * (len(pending) - ran))} left",
                      file=sys.stderr, flush=True)
        Y = {o: np.array([done[i]["values"][o] for i in range(n)], dtype=float) for o in out_names}
        table = analyse(X, Y, names, levels, units=design["units"], seed=seed)
        failed = {i: done[i]["errors"] for i in range(n) if done[i]["errors"]}
        dropped = {o: int(table.loc[table.outcome == o, "dropped"].iloc[0]) for o in out_names}
        summary = {
            "insensitive": insensitive(table), "single_parameter": single_parameter(table).to_dict("records"),
            "cutoffs": design["cutoffs"], "sets": n, "failed_sets": {str(i): e for i, e in failed.items()},
            "dropped_trajectories": dropped, "evaluated_this_run": len(pending), "stored_before": skipped,
            "run_wall_s_sum": float(sum(done[i]["wall_s"] for i in range(n) if math.isfinite(done[i]["wall_s"]))),
        }
        if store is not None:
            store.finish(table, summary)
    finally:
        if store is not None:
            store.close()
    evaluations = pd.DataFrame([{"set": i, "trajectory": i // (len(names) + 1), "wall_s": done[i]["wall_s"],
                                 "errors": done[i]["errors"], **done[i]["params"], **done[i]["values"]}
                                for i in range(n)])
    return MorrisResult(table, design, evaluations, summary, Path(out) if out is not None else None, len(pending),
                        skipped, failed, dropped)


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def analyse(X: np.ndarray, results: Mapping[str, Sequence[float]], names: Sequence[str], levels: int,
            units: Mapping[str, str] | None = None, seed: int | None = None) -> pd.DataFrame:
    """Morris statistics of every outcome of ``results`` (outcome -> one value per row of
    the unit-coordinate design ``X``): one row per (outcome, parameter), columns
    :data:`TABLE_COLUMNS`, each outcome's parameters by decreasing ``mu_star``.  A
    trajectory with a NaN for an outcome is left out of that outcome (``dropped``)."""
    from SALib.analyze import morris as analyser
    X = np.asarray(X, dtype=float)
    k = len(names)
    size = k + 1
    if X.ndim != 2 or X.shape[1] != k or X.shape[0] % size:
        raise InputError(f"the design has shape {X.shape}, not (trajectories x {size}, {k})")
    n_traj = X.shape[0] // size
    problem = _problem(names)
    frames = []
    for outcome, values in results.items():
        y = np.asarray(values, dtype=float)
        if y.shape != (X.shape[0],):
            raise InputError(f"outcome {outcome!r}: {y.size} values for {X.shape[0]} parameter sets")
        keep = [t for t in range(n_traj) if np.all(np.isfinite(y[t * size:(t + 1) * size]))]
        stats = {key: np.full(k, np.nan) for key in ("mu", "mu_star", "mu_star_conf", "sigma")}
        if keep:
            rows = np.concatenate([np.arange(t * size, (t + 1) * size) for t in keep])
            with warnings.catch_warnings():
                # one trajectory: sigma (ddof 1) is undefined, NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                si = analyser.analyze(problem, X[rows], y[rows], num_resamples=RESAMPLES, conf_level=CONF_LEVEL,
                                      num_levels=int(levels), seed=seed)
            for key in stats:
                stats[key] = np.ma.filled(np.ma.asarray(si[key], dtype=float), np.nan)
            if len(keep) < 2:
                # one elementary effect per parameter: its bootstrap has no spread to give
                # (SALib returns ~1e-14), so there is no interval, as there is no sigma
                stats["mu_star_conf"][:] = np.nan
        mu_star = stats["mu_star"]
        top = np.nanmax(mu_star) if np.any(np.isfinite(mu_star)) else np.nan
        total = np.nansum(mu_star)
        frame = pd.DataFrame({
            "outcome": outcome, "unit": (units or {}).get(outcome, ""), "parameter": list(names),
            **stats,
            "mu_star_rel": mu_star / top if top > 0 else np.where(np.isfinite(mu_star), 0.0, np.nan),
            "share": mu_star / total if total > 0 else np.where(np.isfinite(mu_star), 0.0, np.nan),
            "trajectories": len(keep), "dropped": n_traj - len(keep)})
        frames.append(frame.sort_values("mu_star", ascending=False, kind="stable", na_position="last"))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TABLE_COLUMNS)
    return table[TABLE_COLUMNS]


def insensitive(table: pd.DataFrame, threshold: float = INSENSITIVE_BELOW) -> list[str]:
    """The parameters no outcome depends on: ``mu_star_rel`` below ``threshold`` for every
    outcome that could be analysed (see :data:`INSENSITIVE_BELOW`), in the table's order."""
    t = table[np.isfinite(table.mu_star_rel.to_numpy(float))]
    if t.empty:
        return []
    worst = t.groupby("parameter", sort=False).mu_star_rel.max()
    return [p for p in dict.fromkeys(table.parameter) if p in worst.index and worst[p] < threshold]


def single_parameter(table: pd.DataFrame, share: float = SINGLE_PARAMETER_SHARE) -> pd.DataFrame:
    """The outcomes that hang on one parameter: rows (outcome, parameter, share) where that
    parameter's ``mu_star`` is more than ``share`` of the outcome's summed ``mu_star`` (see
    :data:`SINGLE_PARAMETER_SHARE`)."""
    rows = []
    for outcome, t in table.groupby("outcome", sort=False):
        s = t.share.to_numpy(float)
        if not np.any(np.isfinite(s)):
            continue
        j = int(np.nanargmax(s))
        if s[j] > share:
            rows.append({"outcome": outcome, "parameter": t.parameter.iloc[j], "share": float(s[j])})
    return pd.DataFrame(rows, columns=["outcome", "parameter", "share"])


def ranking(table: pd.DataFrame, top: int = 5) -> str:
    """A few lines per outcome: its ``top`` parameters by ``mu_star``."""
    lines = []
    for outcome, t in table.groupby("outcome", sort=False):
        t = t[np.isfinite(t.mu_star.to_numpy(float))].head(top)
        unit = t.unit.iloc[0] if len(t) else ""
        head = f"{outcome} ({unit}; mu* per range"
        first = table[table.outcome == outcome].iloc[0]
        n = int(first.trajectories)
        head += f", {n} {'trajectory' if n == 1 else 'trajectories'}" + \
            (f", {int(first.dropped)} left out" if first.dropped else "") + ")"
        lines.append(head)
        if t.empty:
            lines.append("  no complete trajectory")
        for _, r in t.iterrows():
            sigma = "-" if not math.isfinite(r.sigma) else f"{r.sigma:.3g}"
            conf = "-" if not math.isfinite(r.mu_star_conf) else f"{r.mu_star_conf:.2g}"
            lines.append(f"  {r.parameter:<14} mu* {r.mu_star:8.3g} +- {conf:<8} mu {r.mu:8.3g}  "
                         f"sigma {sigma:<8} rel {r.mu_star_rel:.2f}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Threshold margins
# ---------------------------------------------------------------------------

#: The fitted thresholds, the unit of their signatures and what is compared with them.
THRESHOLDS: dict[str, tuple[str, str]] = {
    "theta_kin": ("uM", "peak free Ca2+ in S1's first spine head (experiments.spine_signatures: peak increase "
                        "above the level before the event, plus Ca_rest)"),
    "theta_camp": ("uM", "free Ca2+ in S1's first spine head averaged over 1-s windows during 900 pulses (the "
                         "largest window; the slow route's ca_slow follows it with tau_camp)"),
    "theta_nmda_ca": ("pA", "peak NMDA receptor Ca2+ current in S1's first spine head, for the events whose "
                            "spike passes the synapse's spike site (v_spike_site above theta_bap; spine_signatures)"),
    "pho_min": ("1", "phosphatase activity of S1 (mean over its synapses): peak after one test pulse, the "
                     "level before it, and the mean over the last 3 s of 60 pulses or bursts at 1 Hz"),
    "theta_signal": ("1", "peak of the nuclear signal (sampled once a minute: up to ~3 % below the true peak)"),
    "theta_sprout": ("1", "largest mean late weight of S1's original spines (what theta_sprout is compared with)"),
}

_UNITS = {"uM": b2.umolar, "pA": b2.pA, "1": 1.0}

# the averaged-Ca runs: 900 pulses at these frequencies, from 2 s
CAMP_FREQUENCIES_HZ = (10, 20)
_CAMP_START_S = 2.0
# the phosphatase run: one test pulse, then 60 pulses at 1 Hz (WLFS-like), then 60 bursts of
# 3 pulses at 20 Hz at 1 Hz (SLFS-like); pho settles within ~3 tau_pho (10 s) under each
_PHO_PULSE_S = 40.0
_PHO_LFS_S = 60.0
_PHO_BURSTS_S = 135.0
_PHO_PULSES = 60
# the nuclear-signal runs (read over their first 3 h; the strong tetanus over 10 h, for
# theta_sprout too): run name of biophys_ltp.outcomes -> label
SIGNAL_RUNS = {"wtet": "WTET", "stet": "STET", "massed_2x1min": "two 100-Hz trains 1 min apart (massed)",
               "spaced_2x10min": "two 100-Hz trains 10 min apart (spaced)", "wlfs": "WLFS", "slfs": "SLFS"}
# the late-weight runs: the strong tetanus above, and the learning day's crammed and spaced practice
SPROUT_RUNS = {"stet": "one STET (3 trains 10 min apart)", "day_crammed": "six 100-Hz trains 1 min apart",
               "day_spaced": "two sessions of three 100-Hz trains, 6 h apart"}


def _camp_protocol(hz: float) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    end = _CAMP_START_S + 899 / hz
    proto = {"name": f"900 pulses at {hz:g} Hz (averaged spine Ca)", "duration": f"{end + 1:g} s",
             "baseline": "1 s", "test_interval": "10 min", "pathways": ["S1", "S2", "S3"],
             "events": [{"kind": "train", "pathway": "S1", "at": f"{_CAMP_START_S:g} s", "pulses": 900,
                         "frequency": f"{hz:g} Hz"}]}
    starts = [_CAMP_START_S + 20.0, (_CAMP_START_S + end) / 2, end - 1.0]
    return proto, [(f"{t:.6g} s", f"{t + 1:.6g} s") for t in starts]


def _pho_protocol() -> tuple[dict[str, Any], list[tuple[str, str]]]:
    lfs_end = _PHO_LFS_S + _PHO_PULSES - 1
    burst_end = _PHO_BURSTS_S + _PHO_PULSES - 1
    proto = {"name": "phosphatase: one test pulse, 1-Hz pulses, 1-Hz bursts", "duration": f"{burst_end + 6:g} s",
             "baseline": "1 s", "test_interval": "10 min", "pathways": ["S1", "S2", "S3"],
             "events": [{"kind": "train", "pathway": "S1", "at": f"{_PHO_PULSE_S:g} s", "pulses": 1,
                         "frequency": "1 Hz"},
                        {"kind": "train", "pathway": "S1", "at": f"{_PHO_LFS_S:g} s", "pulses": _PHO_PULSES,
                         "frequency": "1 Hz"},
                        {"kind": "train", "pathway": "S1", "at": f"{_PHO_BURSTS_S:g} s", "pulses": _PHO_PULSES,
                         "frequency": "1 Hz", "burst_pulses": 3, "burst_frequency": "20 Hz"}]}
    windows = [(f"{_PHO_PULSE_S - 0.015:g} s", f"{_PHO_PULSE_S + 0.5:g} s"),
               (f"{lfs_end - 3:g} s", f"{lfs_end:g} s"), (f"{burst_end - 3:g} s", f"{burst_end:g} s")]
    return proto, windows


def signature_jobs(model: str | None = None, params: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The runs of :func:`measure_signatures` besides the spine signatures, as jobs for
    :func:`~biophys_ltp.simulation.simulate_many`."""
    from .experiments import learning_day_protocols
    from .outcomes import RUNS
    common = {"model": model, "params": dict(params) if params else None}
    jobs: dict[str, dict[str, Any]] = {}
    for hz in CAMP_FREQUENCIES_HZ:
        proto, windows = _camp_protocol(hz)
        jobs[f"camp_{hz:g}hz"] = {"protocol": proto, "trace_windows": windows, **common}
    proto, windows = _pho_protocol()
    jobs["pho"] = {"protocol": proto, "trace_windows": windows, **common}
    for run in SIGNAL_RUNS:
        proto = dict(RUNS[run]())
        if run != "stet":
            proto["duration"] = "3 h"
        jobs[run] = {"protocol": proto, **common}
    day = learning_day_protocols(duration="16 h")
    jobs["day_crammed"] = {"protocol": day["crammed"], **common}
    jobs["day_spaced"] = {"protocol": day["spaced"], **common}
    return jobs


def _window(frame: pd.DataFrame, window: tuple[str, str]) -> pd.DataFrame:
    a, b = (float(parse_quantity(w) / b2.second) for w in window)
    return frame[(frame.time_s >= a) & (frame.time_s < b)]


def measure_signatures(model: str | None = None, params: Mapping[str, Any] | None = None,
                       workers: int | None = None, progress: bool | None = None) -> pd.DataFrame:
    """What the fitted thresholds are compared with (:data:`THRESHOLDS`), measured with the
    model: one row per (threshold, signature) with its value in the threshold's unit.

    Runs: the spine signatures (:func:`~biophys_ltp.experiments.spine_signatures`, 27 s),
    900 pulses at 10 and 20 Hz with three 1-s trace windows each, one phosphatase run
    (200 s), WTET, WLFS, SLFS, massed and spaced trains over 3 h, STET over 10 h and the
    learning day's crammed and spaced practice over 16 h: a minute or two on two cores."""
    from .experiments import spine_signatures
    from .simulation import simulate_many
    mdl = load_model(model).with_overrides(params)
    rows: list[dict[str, Any]] = []

    def add(threshold: str, signature: str, value: float) -> None:
        rows.append({"threshold": threshold, "signature": signature, "value": float(value),
                     "unit": THRESHOLDS[threshold][0]})

    sig = spine_signatures(mdl)
    ca_rest = float(mdl["Ca_rest"] / b2.umolar)
    theta_bap = float(mdl["theta_bap"] / b2.mV)
    for _, r in sig.iterrows():
        add("theta_kin", f"spine Ca peak: {r.event}", r.ca_peak_increase_uM + ca_rest)
    for _, r in sig.iterrows():
        if r.v_spike_site_peak_mV > theta_bap:
            add("theta_nmda_ca", f"NMDA receptor Ca2+ current: {r.event}", r.nmda_ca_peak_pA)
    jobs = signature_jobs(model, params)
    res = simulate_many(jobs, workers=workers, progress=progress)
    for hz in CAMP_FREQUENCIES_HZ:
        key = f"camp_{hz:g}hz"
        head = res[key].traces[res[key].traces.compartment == "S1_spine"]
        means = [float(_window(head, w).ca_uM.mean()) for w in jobs[key]["trace_windows"]]
        add("theta_camp", f"averaged spine Ca: 900 pulses at {hz:g} Hz", max(means))
    pho = res["pho"].traces[res["pho"].traces.compartment == "S1_synapses"]
    w_pulse, w_lfs, w_bursts = (_window(pho, w) for w in jobs["pho"]["trace_windows"])
    add("pho_min", "before a test pulse", float(w_pulse.sort_values("time_s").phosphatase.iloc[0]))
    add("pho_min", "one test pulse (peak)", float(w_pulse.phosphatase.max()))
    add("pho_min", "pulses at 1 Hz, as WLFS (mean)", float(w_lfs.phosphatase.mean()))
    add("pho_min", "3-pulse 20-Hz bursts at 1 Hz, as SLFS (mean)", float(w_bursts.phosphatase.mean()))
    for run, label in SIGNAL_RUNS.items():
        s = res[run].state
        add("theta_signal", f"nuclear signal peak: {label}", float(s[s.pathway == "S1"].signal.max()))
    for run, label in SPROUT_RUNS.items():
        s = res[run].state
        add("theta_sprout", f"late weight peak: {label}", float(s[s.pathway == "S1"].late_weight.max()))
    return pd.DataFrame(rows, columns=["threshold", "signature", "value", "unit"])


def threshold_margins(signatures: pd.DataFrame | None = None, model: str | None = None,
                      params: Mapping[str, Any] | None = None, workers: int | None = None,
                      progress: bool | None = None) -> pd.DataFrame:
    """Each fitted threshold of :data:`THRESHOLDS` against its protocol signatures
    (:func:`measure_signatures`, run here unless given): one row per threshold with its
    value, the nearest signature at or below it and the nearest above it (label, value),
    their relative distances ``(threshold - below)/threshold`` and ``(above -
    threshold)/threshold``, the smaller of the two (``margin``) and which side it is on."""
    if signatures is None:
        signatures = measure_signatures(model, params, workers=workers, progress=progress)
    mdl = load_model(model).with_overrides(params)
    rows = []
    for name, (unit, _) in THRESHOLDS.items():
        value = float(mdl[name] / _UNITS[unit]) if unit != "1" else float(mdl[name])
        s = signatures[signatures.threshold == name]
        below = s[s.value <= value].sort_values("value")
        above = s[s.value > value].sort_values("value")
        lo = below.iloc[-1] if len(below) else None
        hi = above.iloc[0] if len(above) else None
        m_lo = (value - lo.value) / abs(value) if lo is not None else np.nan
        m_hi = (hi.value - value) / abs(value) if hi is not None else np.nan
        margin = np.nanmin([m_lo, m_hi]) if np.isfinite([m_lo, m_hi]).any() else np.nan
        nearest = ("below" if not np.isfinite(m_hi) or (np.isfinite(m_lo) and m_lo <= m_hi) else "above") \
            if np.isfinite(margin) else ""
        rows.append({"threshold": name, "value": value, "unit": unit,
                     "below": lo.signature if lo is not None else "", "below_value": lo.value if lo is not None
                     else np.nan, "above": hi.signature if hi is not None else "",
                     "above_value": hi.value if hi is not None else np.nan,
                     "margin_below": m_lo, "margin_above": m_hi, "margin": margin, "nearest": nearest})
    return pd.DataFrame(rows)


def margins_text(margins: pd.DataFrame) -> str:
    """The margins table as a few readable lines."""
    lines = []
    for _, r in margins.iterrows():
        unit = "" if r.unit == "1" else f" {r.unit}"
        below = f"{r.below} = {r.below_value:.4g}{unit}, {r.margin_below:.0%} below" if r.below else "none"
        above = f"{r.above} = {r.above_value:.4g}{unit}, {r.margin_above:.0%} above" if r.above else "none"
        lines.append(f"{r.threshold} = {r.value:.4g}{unit}: margin {r.margin:.0%} ({r.nearest})\n"
                     f"  below: {below}\n  above: {above}")
    return "\n".join(lines)

