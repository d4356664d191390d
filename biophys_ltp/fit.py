"""Fitting model parameters to the calibration targets (``biophys-ltp fit``).

The search is CMA-ES (the ``cma`` package, Hansen's reference implementation): it needs
no gradients, ranks candidates rather than using the loss's size, and copes with the
ruggedness that thresholds (tag, protein synthesis trigger) give the outcomes.  Every
generation's candidates run through :func:`biophys_ltp.outcomes.evaluate_many`, so a fit
uses local worker processes or a Dask cluster like a sweep.

Search space
    Each parameter is searched on a normalised axis x in [0, 1] between its bounds: a
    positive quantity linearly in log(value / start), a membrane potential linearly in
    the value.  The default bounds are start/3 to start*3 (positive quantities) and
    start +- 10 mV (potentials), narrowed to the range the model file's entry allows.
    Candidates are rounded to :data:`SIGNIFICANT_DIGITS` significant digits before they
    are evaluated (CMA-ES is told the loss of the rounded value at its own sample).
    ``sigma0`` (default 0.25, at most 1/3) is CMA-ES's initial step on that axis: a quarter
    of every parameter's range, so that the first generations reach across the bounds.  Structure
    entries (they change the compiled program), whole numbers, lists and parameters whose
    value is zero or negative (no log scale) are refused.

Loss
    The sum over the chosen outcomes of ``(distance outside the target's band / scale)**2``,
    0 inside the band.  ``scale`` is the band's width for a two-sided band and
    :data:`ONE_SIDED_SCALE` (10 percentage points) for a one-sided band.  An outcome whose
    run failed (NaN) adds :data:`FAILED_PENALTY`, a large finite number, so that CMA-ES
    ranks the candidate last and goes on.  The fit stops when the loss is 0 (every
    band met), after ``max_generations`` generations, or when CMA-ES's own termination
    criteria stop it.

    ``bands`` narrows a target's band for one fit to its intersection with a band given
    (``--band stdp_+10ms=126.6,136.6``): to hold a model near another model's values as
    well as inside the experiment's band (a reduced variant and its full cell), or near
    one laboratory's value.  The narrowed band replaces the target's in the loss (its width,
    or for a band still one-sided :data:`ONE_SIDED_SCALE`, is the scale of a miss), in the
    bands met and in the report, which shows both; it is part of the fit's design.

Start
    The model's values, those given in ``start``, and with ``perturb`` = p each of them
    multiplied by 1 + p or 1 - p (a potential shifted by +- p * 10 mV).  The signs are
    drawn, in the order of the parameters, from ``numpy.random.default_rng(seed)``: sign
    +1 where ``integers(0, 2)`` gives 1, -1 where it gives 0.  CMA-ES samples from a
    separate generator, ``numpy.random.default_rng([1, seed])`` (never numpy's global
    state), so the same seed gives the same candidates whatever else runs in the process.

Output folder (resumable)
    ``design.json`` (what is fitted, to what, from where, the seed, the population;
    versions), ``evaluations.csv`` (one row per evaluated parameter set, appended after
    every generation; generation 0 is the start), ``history.csv`` (per generation: the
    best and median loss, the best so far, the bands it meets, CMA-ES's step size), and
    at the end ``fitted_model.toml`` (the model file with the best values) and
    ``report.md``.  Running the same fit into the same folder replays the stored
    generations into a fresh CMA-ES with the same seed (it asks the same candidates,
    which is checked, and is told the stored losses) and continues where it stopped; a
    larger ``max_generations`` continues a fit that ran out of them.  A different design
    in the folder is refused.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import re
import shlex
import statistics
import sys
import time
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import outcomes as _outcomes
from .errors import InputError, whole_number
from .outcomes import OUTCOMES
from .targets import BANDS, Band

__all__ = ["SLOW_PARAMS", "SLOW_OUTCOMES", "PARAMETER_SETS", "UNTARGETED", "FITTED_BUDGET", "ONE_SIDED_SCALE",
           "FAILED_PENALTY", "FitResult", "band_text", "calibration_ids", "default_outcomes", "fit", "loss", "parse_fraction",
           "resolve_params", "target_loss", "write_fitted_model"]

# the slow (late-phase) parameters, and the outcomes that measure them: `--params slow`
SLOW_PARAMS: tuple[str, ...] = ("tau_early", "K_prp", "tau_z", "k_signal", "k_signal_pho", "theta_signal",
                                "tau_expr_off", "tau_transport")
SLOW_OUTCOMES: tuple[str, ...] = ("wtet_30min", "wtet_3h", "stet_1h", "stet_8h", "stet_aniso_8h", "stc_s2_8h",
                                  "wlfs_30min", "wlfs_3h", "slfs_8h", "stet_aniso_first_hour_pp")
PARAMETER_SETS: dict[str, tuple[str, ...]] = {"slow": SLOW_PARAMS}

# Parameters the model file gives as fitted ("fitted: ..." in their source) that no
# calibration target names in its ``tuned``: the fitting tool cannot re-derive them, as
# what they were fitted to is not an experimental number with a band.  Every other fitted
# parameter has a calibration target that an outcome measures (tests/test_fit.py).
UNTARGETED: dict[str, str] = {
    "EL": "the resting potential with the HH channels (near -65 mV, Spruston 2008; the default cell rests at"
          " -70.9 mV): no target with a band",
    "gNa_soma": "the somatic action potential (Magee & Johnston 1995 densities scaled to HH kinetics): no target",
    "gK_soma": "the somatic action potential's repolarisation: no target",
    "g_nmda": "spine Ca2+ per EPSP (Sabatini et al. 2002) and the NMDA/AMPA current ratio: no target with a band",
    "n_clones": "a somatic test EPSP of ~5 mV that stays below threshold after potentiation: no target",
    "z_max": "Figure practice (a second consolidation adds less): no experimental number",
    "theta_sprout": "Figure practice (a new spine after repeated, not single, consolidation): no experimental number",
    "tau_ready": "spaced against massed 100-Hz trains (Scharf et al. 2002; Woo et al. 2003): no band with a number",
    "k_desens": "as tau_ready",
    "tau_mapk": "spaced theta bursts (Kramar et al. 2012): the tests' thresholds, no experimental number",
    "g_mapk": "as tau_mapk",
}

# How many parameters the model file may give as fitted: a change of the model may replace
# fitted parameters or turn them into measured ones, not add to them (tests/test_fit.py).
FITTED_BUDGET = 35

# The scale of a one-sided band (percentage points of the fEPSP): such a band has no width.
# 10 points is about the s.e.m. of the late fEPSP in the sources of these bands (Frey et al.
# 1988: +-14 and +-19 %) and of the order of the two-sided fEPSP bands' widths (20-60 points),
# so a miss by one s.e.m. costs about 1.
ONE_SIDED_SCALE = 10.0
# Added for each outcome whose run failed: a miss by 100 band scales, more than any
# parameter set whose runs succeed is likely to cost, and finite, so that CMA-ES goes on.
FAILED_PENALTY = 1.0e4
LOG_RANGE = 3.0  # default bounds of a positive quantity: start / 3 to start * 3
POTENTIAL_RANGE_MV = 10.0  # default bounds of a potential: start +- 10 mV
# Candidates (and perturbed starts and default bounds) are rounded to 4 significant digits
# before they are evaluated: values that read well in the model file, at a resolution (1e-4
# relative) far below what the targets can tell apart.  CMA-ES is told the loss of the
# rounded value at its own sample.
SIGNIFICANT_DIGITS = 4
DEFAULT_SIGMA0 = 0.25
DEFAULT_GENERATIONS = 30
DEFAULT_SEED = 1

#: 2: values written in the unit a reader expects ("1.5 nS"; 1 wrote some in SI base units).
FORMAT = "biophys-ltp fit 2"
DESIGN = "design.json"
EVALUATIONS = "evaluations.csv"
HISTORY = "history.csv"
MODEL_FILE = "fitted_model.toml"
REPORT = "report.md"
_LOCK = ".fit.lock"
_HISTORY_COLUMNS = ["generation", "evaluations", "best_loss", "median_loss", "best_loss_so_far",
                    "bands_met_so_far", "sigma"]


# ---------------------------------------------------------------------------
# Targets and the loss
# ---------------------------------------------------------------------------

def calibration_ids() -> set[str]:
    """The ids of the calibration targets (role "calibration" in biophys_ltp/targets.toml):
    the bands a fit may use; a validation target's band is never fitted."""
    from .targets import ids_with_role
    return set(ids_with_role("calibration"))


def band_scale(band: Band) -> float:
    """What a miss of the band is measured in: its width, or :data:`ONE_SIDED_SCALE`."""
    if math.isfinite(band.low) and math.isfinite(band.high):
        return band.high - band.low
    return ONE_SIDED_SCALE


def target_loss(value: float, band: Band) -> float:
    """0 inside the band, ``(distance / scale)**2`` outside, :data:`FAILED_PENALTY` for NaN."""
    if not math.isfinite(value):
        return FAILED_PENALTY
    if value < band.low:
        miss = band.low - value
    elif value > band.high:
        miss = value - band.high
    else:
        return 0.0
    return (miss / band_scale(band)) ** 2


def target_band(outcome: str) -> Band:
    """The band of ``outcome``'s experimental target."""
    return BANDS[OUTCOMES[outcome].target]


def fitted_band(outcome: str, bands: Mapping[str, Band] | None = None) -> Band:
    """The band ``outcome`` is fitted to: its entry in ``bands`` (:func:`narrowed_bands`),
    else its target's."""
    return (bands or {}).get(outcome) or target_band(outcome)


def loss(values: Mapping[str, float], outcomes: Sequence[str], bands: Mapping[str, Band] | None = None) -> float:
    """The fit's loss of one parameter set's outcome values (see the module's docstring);
    ``bands``: outcome -> the band it is fitted to, where not its target's."""
    return float(sum(target_loss(values[o], fitted_band(o, bands)) for o in outcomes))


def _met(values: Mapping[str, float], outcomes: Sequence[str], bands: Mapping[str, Band] | None = None) -> int:
    return sum(1 for o in outcomes if math.isfinite(values[o]) and values[o] in fitted_band(o, bands))


def narrowed_bands(given: Mapping[str, Any] | None, outcomes: Sequence[str]) -> dict[str, Band]:
    """outcome -> its target's band narrowed to the band ``given`` for it: their
    intersection.  A band is ``"LOW,HIGH"`` in the target's unit or a pair ``(low, high)``;
    a side left empty (or None) sets no limit.  An InputError for an outcome not fitted, a
    band that cannot be read, is reversed, or leaves the target's band as it was or with
    no width (a point has no scale for the loss), or one that does not overlap it."""
    out: dict[str, Band] = {}
    for name, text in (given or {}).items():
        if name not in outcomes:
            raise InputError(f"--band {name}: not an outcome of this fit ({', '.join(outcomes)})")
        target = target_band(name)
        where = f"--band {name}={_band_arg(text)}"
        if isinstance(text, str):
            parts = [p.strip() for p in text.split(",")]
        elif isinstance(text, (tuple, list)):
            parts = ["" if p is None else str(p).strip() for p in text]
        else:
            parts = []
        if len(parts) != 2 or not (parts[0] or parts[1]):
            raise InputError(f"{where}: expects LOW,HIGH in {target.unit} (either may be empty for no limit), "
                             f"e.g. --band {name}=126,136")
        try:
            low, high = (float(p) if p else sign * math.inf for p, sign in zip(parts, (-1, 1)))
        except ValueError:
            raise InputError(f"{where}: LOW and HIGH are plain numbers in the target's unit "
                             f"({target.unit})") from None
        if any(p and not math.isfinite(x) for p, x in zip(parts, (low, high))):
            raise InputError(f"{where}: LOW and HIGH are finite numbers (leave a side empty for no limit)")
        if low > high:
            raise InputError(f"{where}: LOW must not exceed HIGH")
        new_low, new_high = max(low, target.low), min(high, target.high)
        if new_low > new_high:
            raise InputError(f"{where} does not overlap the target's band ({band_text(target)}): a fit must stay "
                             f"inside the experiment's band")
        if new_low == new_high:
            raise InputError(f"{where} leaves the target's band ({band_text(target)}) no width: a miss is "
                             f"measured in the band's width")
        if (new_low, new_high) == (target.low, target.high):
            raise InputError(f"{where} does not narrow the target's band ({band_text(target)})")
        out[name] = Band(new_low, new_high, target.unit, f"{target.source}; narrowed for this fit")
    return out


def _band_arg(given: Any) -> str:
    """A band as given, for a message."""
    if isinstance(given, (tuple, list)):
        return ",".join("" if g is None else str(g) for g in given)
    return str(given)


def band_text(band: Band) -> str:
    """A band as the fit's report writes it: "120-160 %", ">= 130 %", "<= 110 %"."""
    unit = band.unit
    if math.isfinite(band.low) and math.isfinite(band.high):
        return f"{band.low:g}-{band.high:g} {unit}"
    if math.isfinite(band.low):
        return f">= {band.low:g} {unit}"
    return f"<= {band.high:g} {unit}"


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

def parse_fraction(text: str | float) -> float:
    """``"30%"`` -> 0.3; a bare number is a fraction (``"0.3"`` -> 0.3)."""
    if isinstance(text, (int, float)):
        return float(text)
    raw = str(text).strip()
    try:
        return float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise InputError(f"--perturb expects a percentage (e.g. 30%) or a fraction (0.3), got {text!r}") from None


def _split(names: str | Sequence[str]) -> list[str]:
    if isinstance(names, str):
        return [n.strip() for n in names.split(",") if n.strip()]
    return [str(n).strip() for n in names]


def resolve_params(names: str | Sequence[str]) -> list[str]:
    """Parameter names, with the named sets of :data:`PARAMETER_SETS` (``slow``) expanded."""
    out: list[str] = []
    for name in _split(names):
        for p in PARAMETER_SETS.get(name, (name,)):
            if p in out:
                raise InputError(f"parameter {p!r} is given twice")
            out.append(p)
    if not out:
        raise InputError("no parameters to fit (--params a,b,c or --params slow)")
    return out


def default_outcomes(params: Sequence[str]) -> list[str]:
    """The outcomes a fit of ``params`` uses by default: those of the slow-phase outcomes
    (:data:`SLOW_OUTCOMES`) whose target is a calibration target when every parameter is a
    slow-phase one, else every outcome with a calibration target."""
    ids = calibration_ids()
    names = SLOW_OUTCOMES if set(params) <= set(SLOW_PARAMS) else tuple(OUTCOMES)
    return [name for name in names if OUTCOMES[name].target in ids]


def _resolve_outcomes(names: str | Sequence[str] | None, params: Sequence[str]) -> list[str]:
    names = default_outcomes(params) if names is None else _split(names)
    if not names:
        raise InputError("no outcomes to fit")
    ids = calibration_ids()
    seen: set[str] = set()
    for name in names:
        if name not in OUTCOMES:
            raise InputError(f"unknown outcome {name!r}; known: {', '.join(OUTCOMES)}")
        if name in seen:
            raise InputError(f"outcome {name!r} is given twice")
        seen.add(name)
        target = OUTCOMES[name].target
        if target is None or target not in BANDS:
            raise InputError(f"outcome {name!r} has no experimental target to fit it to")
        if target not in ids:
            raise InputError(f"outcome {name!r}: its target {target!r} is not a calibration target (a "
                             f"validation target must not be fitted)")
    return names


@dataclass(frozen=True)
class _Axis:
    """One searched parameter: its normalised axis x in [0, 1] between ``low`` and ``high``
    (SI values), log-scaled (positive quantities) or linear (potentials)."""
    name: str
    dim: Any  # brian2 Dimension
    log: bool
    start: float
    low: float
    high: float
    model_value: float

    def to_x(self, value: float) -> float:
        if self.log:
            return math.log(value / self.low) / math.log(self.high / self.low)
        return (value - self.low) / (self.high - self.low)

    def value(self, x: float) -> float:
        x = min(max(float(x), 0.0), 1.0)
        if self.log:
            return self.low * math.exp(x * math.log(self.high / self.low))
        return self.low + x * (self.high - self.low)

    def candidate(self, x: float) -> float:
        """The value at ``x`` rounded to :data:`SIGNIFICANT_DIGITS` (within the bounds)."""
        value = self.value(x)
        rounded = _round(value)
        return rounded if self.low <= rounded <= self.high else value

    def text(self, value: float) -> str:
        """``value`` with its unit, in the unit a reader expects (``"1.5 nS"``): through 12
        significant digits in Brian2's display unit, since the exact float of 3 x 0.5 nS
        would be written in SI base units (format_quantity writes what reads back exactly;
        this reads back to 12 significant digits)."""
        import brian2 as b2

        from .units import UnitParseError, format_quantity, parse_quantity
        q = b2.Quantity(value, dim=self.dim)
        if not isinstance(q, b2.Quantity) or q.is_dimensionless:  # a plain number
            return format_quantity(float(value))
        try:
            return format_quantity(parse_quantity(q.in_best_unit(precision=12), dimension=self.dim))
        except UnitParseError:
            return format_quantity(q)


def _round(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _si(value: Any) -> float:
    return float(np.asarray(value))


def _coerce(model: Any, name: str, value: Any, what: str) -> float:
    """``value`` (text with unit, number, Quantity) as the SI value of parameter ``name``,
    checked against the parameter's physical and model-file range."""
    from .model import ModelError
    try:
        return _si(model.with_overrides({name: value})[name])
    except ModelError as err:
        text = str(err)
        prefix = f"{model.label}: "
        raise InputError(f"{what}: {text[len(prefix):] if text.startswith(prefix) else text}") from None


def _axes(model: Any, params: Sequence[str], start: Mapping[str, Any] | None, perturb: float | None, seed: int,
          bounds: Mapping[str, Any] | None) -> list[_Axis]:
    import brian2 as b2
    start = dict(start or {})
    bounds = dict(bounds or {})
    for what, given in (("start", start), ("bounds", bounds)):
        extra = [n for n in given if n not in params]
        if extra:
            raise InputError(f"{what} given for {', '.join(map(repr, extra))}, which is not fitted "
                             f"(fitted: {', '.join(params)})")
    if perturb is not None and not 0 <= perturb < 1:
        raise InputError(f"--perturb must be at least 0 % and below 100 % (a value multiplied by 1 - p must stay "
                         f"positive), got {perturb * 100:g} %")
    volt = b2.get_dimensions(b2.volt)
    signs = np.where(np.random.default_rng(seed).integers(0, 2, size=len(params)) == 1, 1.0, -1.0)
    axes = []
    for i, name in enumerate(params):
        if name in model.structure:
            raise InputError(f"{name!r} is a structure entry (changing it means a new build of the program): "
                             f"fit entries of [parameters.*] only")
        if name not in model.parameters:
            import difflib
            close = difflib.get_close_matches(name, list(model.parameters), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise InputError(f"model {model.name!r}: unknown parameter {name!r}{hint}")
        p = model.parameters[name]
        if isinstance(p.value, (list, tuple, bool, int, np.integer)):
            raise InputError(f"parameter {name!r} is not a quantity ({p.text}): it cannot be fitted")
        dim = b2.get_dimensions(p.value)
        linear = dim is volt
        model_value = _si(p.value)
        value = _coerce(model, name, start[name], f"start of {name}") if name in start else model_value
        if not linear and not value > 0:
            raise InputError(f"parameter {name!r} = {p.text if name not in start else start[name]} is not positive: "
                             f"it cannot be searched on a log scale (only potentials are searched linearly)")
        if perturb:
            value = _round(value + signs[i] * perturb * POTENTIAL_RANGE_MV * 1e-3 if linear
                           else value * (1 + signs[i] * perturb))
            value = _coerce(model, name, b2.Quantity(value, dim=dim), f"perturbed start of {name}")
        if name in bounds:
            low, high = _bounds(model, name, bounds[name])
        else:
            if linear:
                low, high = value - POTENTIAL_RANGE_MV * 1e-3, value + POTENTIAL_RANGE_MV * 1e-3
            else:
                low, high = value / LOG_RANGE, value * LOG_RANGE
            low, high = _round(low), _round(high)
            lo, hi = p.bounds
            if lo is not None:
                low = max(low, _si(lo))
            if hi is not None:
                high = min(high, _si(hi))
        axis = _Axis(name, dim, not linear, value, low, high, model_value)
        if not low < high:
            raise InputError(f"bounds of {name}: the lower bound {axis.text(low)} must be below the upper "
                             f"{axis.text(high)}")
        if not linear and not low > 0:
            raise InputError(f"bounds of {name}: a lower bound of {axis.text(low)} cannot be searched on a log "
                             f"scale (it must be positive)")
        if not low <= value <= high:
            raise InputError(f"bounds of {name}, {axis.text(low)} to {axis.text(high)}, exclude its start value "
                             f"{axis.text(value)}")
        axes.append(axis)
    return axes


def _bounds(model: Any, name: str, given: Any) -> tuple[float, float]:
    if isinstance(given, str):
        parts = [s.strip() for s in given.split(",")]
    else:
        parts = list(given)
    if len(parts) != 2 or any(p in ("", None) for p in parts):
        raise InputError(f"bounds of {name}: expected LOW,HIGH (e.g. --bound {name}=LOW,HIGH with units), "
                         f"got {given!r}")
    return (_coerce(model, name, parts[0], f"lower bound of {name}"),
            _coerce(model, name, parts[1], f"upper bound of {name}"))


# ---------------------------------------------------------------------------
# The output folder
# ---------------------------------------------------------------------------

_IDENTITY = {"model_hash": "the model", "params": "the parameters, their bounds or start",
             "outcomes": "the outcomes, their targets or their bands (--band)", "seed": "the seed",
             "popsize": "the population size",
             "sigma0": "sigma0", "perturb": "the perturbation", "loss": "the loss's definition",
             "format": "the folder's format"}


def _identity(design: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: design.get(k) for k in _IDENTITY}
    # how a start or a bound was given (or that it was the default) does not matter
    out["params"] = [{k: p.get(k) for k in ("name", "scale", "start", "low", "high")}
                     for p in design.get("params") or []]
    return out


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def _fsync(fh: Any) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        fh.write(text)
        _fsync(fh)
    os.replace(tmp, path)


class _Folder:
    """A fit's output folder: the design, the append-only evaluations, a lock."""

    def __init__(self, out: Path, design: dict[str, Any], columns: list[str]):
        self.out, self.design, self.columns = out, design, columns
        self._lock = None
        self._made_lock = False

    def open(self) -> list[dict[str, str]]:
        """Lock the folder, check or write the design; the stored rows of complete generations."""
        self.out.mkdir(parents=True, exist_ok=True)
        self._made_lock = not (self.out / _LOCK).exists()
        self._lock = open(self.out / _LOCK, "w")
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self.close()
                raise InputError(f"{self.out}: another fit is writing into this folder") from None
        path = self.out / DESIGN
        if path.is_file():
            try:
                stored = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                self.close(refused=True)
                raise InputError(f"{path}: not a readable fit design ({' '.join(str(err).split())})") from None
            if stored.get("format") != FORMAT:
                self.close(refused=True)
                raise InputError(f"{self.out} holds a fit written by another version of biophys-ltp (format "
                                 f"{stored.get('format')!r}, this one writes {FORMAT!r}); write this fit into a new "
                                 f"folder")
            a, b = _identity(stored), _identity(self.design)
            if a != b:
                self.close(refused=True)
                differs = [_IDENTITY[k] for k in a if a[k] != b[k]]
                verb = "differs" if len(differs) == 1 else "differ"
                raise InputError(f"{self.out} holds a different fit: {', '.join(differs)} {verb} (stored "
                                 f"command: {stored.get('command', '?')}); write this fit into another folder")
            # the stored design holds the versions that wrote the evaluations; this call may
            # ask for more generations
            self.design = {**stored, "command": self.design["command"],
                           "max_generations": self.design["max_generations"]}
            _write_atomic(path, json.dumps(self.design, indent=2) + "\n")
        else:
            others = [p.name for p in self.out.iterdir() if p.name != _LOCK]
            if others:
                self.close(refused=True)
                raise InputError(f"{self.out} is not empty and holds no fit ({', '.join(sorted(others)[:3])}"
                                 f"{', ...' if len(others) > 3 else ''}); write the fit into a new folder")
            _write_atomic(path, json.dumps(self.design, indent=2) + "\n")
        return self._read()

    def _read(self) -> list[dict[str, str]]:
        path = self.out / EVALUATIONS
        if not path.is_file() or path.stat().st_size == 0:
            _write_atomic(path, ",".join(self.columns) + "\n")
            return []
        text = path.read_text()
        lines = text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines = lines[:-1]  # a write cut by a kill
        if not lines:
            _write_atomic(path, ",".join(self.columns) + "\n")
            return []
        rows = list(csv.DictReader(lines))
        if next(csv.reader(lines[:1])) != self.columns:
            raise InputError(f"{path}: its columns are not those of this fit; write the fit into a new folder")
        # keep complete generations only (generation 0: the start; then popsize rows each)
        keep: list[dict[str, str]] = []
        popsize = int(self.design["popsize"])
        generation, expected = 0, 1
        while True:
            chunk = rows[len(keep):len(keep) + expected]
            if len(chunk) < expected or [(r["generation"], r["index"]) for r in chunk] != \
                    [(str(generation), str(i)) for i in range(expected)]:
                break
            keep += chunk
            generation, expected = generation + 1, popsize
        if len(keep) != len(rows) or len(lines) != len(text.splitlines(keepends=True)):
            _write_atomic(path, "".join(lines[:1 + len(keep)]))
        return keep

    def append(self, rows: Sequence[Mapping[str, Any]]) -> None:
        with open(self.out / EVALUATIONS, "a", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            for row in rows:
                writer.writerow([_cell(row.get(c, "")) for c in self.columns])
            _fsync(fh)

    def write_history(self, history: Sequence[Mapping[str, Any]]) -> None:
        lines = [",".join(_HISTORY_COLUMNS)]
        lines += [",".join(_cell(h[c]) for c in _HISTORY_COLUMNS) for h in history]
        _write_atomic(self.out / HISTORY, "\n".join(lines) + "\n")

    def close(self, refused: bool = False) -> None:
        """Release the lock; ``refused``: the folder was not taken, so a lock file this call
        made goes too (a refused fit leaves the folder as it found it)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None
            if refused and self._made_lock:
                (self.out / _LOCK).unlink(missing_ok=True)


# ---------------------------------------------------------------------------
# The fit
# ---------------------------------------------------------------------------

@dataclass
class FitResult:
    """What a fit's folder holds when it stops (see :func:`fit`)."""
    out: Path
    params: list[str]
    outcomes: list[str]
    start: dict[str, str]  # parameter -> value text (generation 0)
    best: dict[str, str]  # parameter -> value text of the lowest loss
    start_values: dict[str, float]
    best_values: dict[str, float]
    start_loss: float
    best_loss: float
    best_generation: int
    generations: int  # generations of CMA-ES done (not counting the start)
    evaluations: int
    history: list[dict[str, Any]]
    reason: str
    elapsed_s: float  # wall-clock time of all generations, over every session
    ran: int = 0  # generations run by this call (the others were replayed)
    files: dict[str, Path] = field(default_factory=dict)
    bands: dict[str, Band] = field(default_factory=dict)  # outcome -> narrowed band (``--band``)

    @property
    def bands_met(self) -> int:
        return _met(self.best_values, self.outcomes, self.bands)

    @property
    def start_kept(self) -> bool:
        """No set the search evaluated did better than the start (whose values came from
        elsewhere: the model, ``start``, ``perturb``)."""
        return self.best_generation == 0

    def table(self) -> str:
        """The targets before and after (a Markdown table)."""
        return _targets_table(self.outcomes, self.start_values, self.best_values, self.bands)


def _versions() -> dict[str, str]:
    import brian2
    import cma

    from ._version import __version__
    return {"biophys_ltp": __version__, "cma": cma.__version__, "numpy": np.__version__,
            "brian2": brian2.__version__, "python": platform.python_version()}


def _command(design: Mapping[str, Any], out: Path) -> str:
    params = [p["name"] for p in design["params"]]
    names = "slow" if tuple(params) == SLOW_PARAMS else ",".join(params)
    argv = ["biophys-ltp", "fit", "--params", names]
    outcomes = [o["name"] for o in design["outcomes"]]
    if outcomes != default_outcomes(params):
        argv += ["--outcomes", ",".join(outcomes)]
    if design.get("model_arg"):
        argv += ["--model", str(design["model_arg"])]
    for p in design["params"]:
        if p.get("start_given"):
            argv += ["--start", f"{p['name']}={p['start_given']}"]
    if design.get("perturb"):
        argv += ["--perturb", f"{design['perturb'] * 100:g}%"]
    for p in design["params"]:
        if p.get("bounds_given"):
            argv += ["--bound", f"{p['name']}={p['low']},{p['high']}"]
    for o in design["outcomes"]:
        if o.get("narrowed"):  # the band it was fitted to narrows the target to itself
            argv += ["--band", f"{o['name']}={','.join('' if x is None else repr(float(x)) for x in o['band'])}"]
    argv += ["--seed", str(design["seed"]), "--popsize", str(design["popsize"])]
    if design["sigma0"] != DEFAULT_SIGMA0:
        argv += ["--sigma0", repr(design["sigma0"])]
    argv += ["--generations", str(design.get("max_generations", DEFAULT_GENERATIONS)), "--out", str(out)]
    return shlex.join(argv)


def fit(params: str | Sequence[str], outcomes: str | Sequence[str] | None = None, *, out: str | Path,
        model: str | Path | None = None, start: Mapping[str, Any] | None = None, perturb: float | str | None = None,
        bounds: Mapping[str, Any] | None = None, bands: Mapping[str, Any] | None = None,
        popsize: int | None = None, max_generations: int = DEFAULT_GENERATIONS,
        sigma0: float = DEFAULT_SIGMA0, seed: int = DEFAULT_SEED,
        workers: int | None = None, scheduler: str | None = None,
        progress: bool | Callable[[str], None] = False) -> FitResult:
    """Fit ``params`` (names, or ``"slow"``) of ``model`` so that ``outcomes`` (default:
    :func:`default_outcomes`) fall in their targets' bands, with CMA-ES; write the fit into
    the folder ``out`` (resumable: see the module's docstring).

    ``start``: values (text with units) to start from instead of the model's; ``perturb``:
    multiply each start value by 1 +- perturb (``"30%"`` or 0.3), signs from ``seed``;
    ``bounds``: name -> ``"LOW,HIGH"`` or ``(low, high)``; ``bands``: outcome ->
    ``"LOW,HIGH"`` or ``(low, high)`` (numbers in the target's unit, a side empty or None
    for no limit), the target's band narrowed to it for this fit (:func:`narrowed_bands`);
    ``popsize``: candidates per
    generation (default CMA-ES's 4 + 3 ln n); ``sigma0``: initial step on the normalised
    axes (0 to 1 between the bounds).  ``workers`` / ``scheduler`` go to
    :func:`~biophys_ltp.outcomes.evaluate_many`.  ``progress``: True prints a line per
    generation on stderr; a callable gets each line.
    """
    from .model import load_model

    params = resolve_params(params)
    outcome_names = _resolve_outcomes(outcomes, params)
    fit_bands = narrowed_bands(bands, outcome_names)
    seed = whole_number(seed, "--seed", 0)
    n = len(params)
    if popsize is None:
        popsize = 4 + int(3 * math.log(n))
    popsize = whole_number(popsize, "--popsize", 2, why="CMA-ES recombines the better half")
    max_generations = whole_number(max_generations, "--generations", 1)
    if isinstance(sigma0, bool) or not (isinstance(sigma0, (int, float)) and 0 < sigma0 <= 1 / 3):
        raise InputError(f"--sigma0 must lie in (0, 1/3] (a fraction of every parameter's range; CMA-ES keeps its "
                         f"steps below a third of the range), got {sigma0!r}")
    if workers is not None:
        from .simulation import worker_count
        worker_count(workers)
    perturb_f = None if perturb is None else parse_fraction(perturb)
    base = load_model(model)
    axes = _axes(base, params, start, perturb_f, seed, bounds)
    try:
        import cma
    except ImportError:
        raise InputError("fitting needs the cma package (CMA-ES), which is not installed: "
                         "pip install 'biophys-ltp[fit]' (or pip install cma)") from None

    out = Path(out)
    design: dict[str, Any] = {
        "format": FORMAT,
        "model": str(base.source), "model_arg": None if model is None else str(model),
        "model_hash": base.model_hash(),
        "params": [{"name": a.name, "scale": "log" if a.log else "linear", "start": a.text(a.start),
                    "low": a.text(a.low), "high": a.text(a.high), "model_value": a.text(a.model_value),
                    "start_given": None if start is None or a.name not in start else str(start[a.name]),
                    "bounds_given": bool(bounds and a.name in bounds)} for a in axes],
        "outcomes": [{"name": o, "target": OUTCOMES[o].target,
                      "band": [_finite(fitted_band(o, fit_bands).low), _finite(fitted_band(o, fit_bands).high)],
                      "unit": target_band(o).unit,
                      **({"target_band": [_finite(target_band(o).low), _finite(target_band(o).high)],
                          "narrowed": True} if o in fit_bands else {})}
                     for o in outcome_names],
        "perturb": perturb_f or None, "seed": seed, "popsize": int(popsize), "sigma0": float(sigma0),
        "loss": {"one_sided_scale": ONE_SIDED_SCALE, "failed_penalty": FAILED_PENALTY,
                 "form": "sum of (distance outside the band / scale)**2"},
        "optimiser": "CMA-ES (cma.CMAEvolutionStrategy), bounds [0, 1] on each normalised axis "
                     "(BoundTransform), samples from numpy.random.default_rng([1, seed])",
        "max_generations": int(max_generations),
        "versions": _versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    design["command"] = _command(design, out)
    columns = ["generation", "index", *params, *outcome_names, "loss", "bands_met", "wall_s", "generation_s",
               "finished_at", "errors"]
    folder = _Folder(out, design, columns)
    say = _printer(progress)
    for name in (n for n in params if n in UNTARGETED):
        say(f"fit: note: {name} was fitted to {UNTARGETED[name]}; this fit moves it to serve the "
            f"calibration targets instead")
    try:
        stored = folder.open()
        return _run(folder, stored, axes, outcome_names, cma, int(popsize), float(sigma0), seed,
                    int(max_generations), model, workers, scheduler, say, bool(progress), fit_bands)
    finally:
        folder.close()


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _printer(progress: bool | Callable[[str], None]) -> Callable[[str], None]:
    if callable(progress):
        return progress
    if progress:
        return lambda line: print(line, file=sys.stderr, flush=True)
    return lambda line: None


def _duration(seconds: float) -> str:
    from .executor import _duration as duration
    return duration(seconds)


def _run(folder: _Folder, stored: list[dict[str, str]], axes: list[_Axis], outcomes: list[str], cma: Any,
         popsize: int, sigma0: float, seed: int, max_generations: int, model: Any, workers: int | None,
         scheduler: str | None, say: Callable[[str], None], show_runs: bool,
         bands: Mapping[str, Band]) -> FitResult:
    n = len(axes)
    rng = np.random.default_rng([1, seed])
    options = {"bounds": [[0.0] * n, [1.0] * n], "popsize": popsize, "seed": np.nan,
               "randn": lambda *shape: rng.standard_normal(shape),
               "verbose": -9, "verb_log": 0, "verb_disp": 0, "signals_filename": ""}
    if n == 1:
        # cma (4.x) fails when it caps the step at a third of the bounds' range in one
        # dimension; there the boundary transformation alone keeps the samples in bounds
        options["maxstd_boundrange"] = np.inf
    es = cma.CMAEvolutionStrategy([a.to_x(a.start) for a in axes], sigma0, options)
    names = [a.name for a in axes]
    try:
        rows: list[dict[str, Any]] = [_parse_row(r, names, outcomes) for r in stored]
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f"{folder.out / EVALUATIONS}: not a readable table of evaluations ({err}); write the fit "
                         f"into a new folder") from None
    history: list[dict[str, Any]] = []
    gen_times: list[float] = []

    def record(generation: int, batch: list[dict[str, Any]], sigma: float) -> None:
        losses = [r["loss"] for r in batch]
        upto = 1 + generation * popsize  # the sets evaluated up to this generation, the start included
        best = min(rows[:upto], key=lambda r: r["loss"])
        history.append({"generation": generation, "evaluations": upto, "best_loss": min(losses),
                        "median_loss": float(statistics.median(losses)), "best_loss_so_far": best["loss"],
                        "bands_met_so_far": best["bands_met"], "sigma": float(sigma)})

    # replay the stored generations
    done = 0
    stop: Mapping[str, Any] = {}
    if rows:
        record(0, rows[:1], sigma0)
    generation = 1
    while len(rows) >= 1 + generation * popsize:
        batch = rows[1 + (generation - 1) * popsize:1 + generation * popsize]
        X = es.ask()
        texts = [[a.text(a.candidate(x)) for a, x in zip(axes, xs)] for xs in X]
        if texts != [[r["texts"][nm] for nm in names] for r in batch]:
            raise InputError(f"{folder.out / EVALUATIONS}: generation {generation} does not hold the candidates "
                             f"that CMA-ES asks with this seed (was it edited, or written with another version "
                             f"of cma: stored {folder.design.get('versions', {}).get('cma', '?')}?); write the "
                             f"fit into a new folder")
        es.tell(X, [r["loss"] for r in batch])
        stop = es.stop()
        gen_times.append(batch[0]["generation_s"])
        record(generation, batch, es.sigma)
        done = generation
        generation += 1

    n_runs = len({run for o in outcomes for run in OUTCOMES[o].runs})
    if not scheduler:
        from .simulation import worker_count
        workers = worker_count(workers)
    where = (f"on the Dask cluster at {scheduler}" if scheduler else
             "in this process" if workers == 1 else f"in up to {workers} worker processes")
    resumed = f"; resuming after generation {done} ({len(rows)} sets stored)" if rows else ""
    say(f"fit: {n} parameter{'s' if n != 1 else ''} ({', '.join(names)}), {len(outcomes)} targets, "
        f"population {popsize}, at most {max_generations} generations of {popsize} sets ({n_runs} runs each) "
        f"{where}{resumed}")
    t_session = time.perf_counter()
    ran = 0
    while True:
        best = min(rows, key=lambda r: r["loss"]) if rows else None
        if best is not None and best["loss"] == 0:
            reason = "every band met"
            break
        if done >= max_generations:
            reason = f"{max_generations} generations done"
            break
        if stop:
            reason = "CMA-ES stopped: " + ", ".join(f"{k} = {v}" for k, v in stop.items())
            break
        generation = done + 1
        X = es.ask()
        batch_sets = [{a.name: a.text(a.candidate(x)) for a, x in zip(axes, xs)} for xs in X]
        first = not rows
        if first:
            batch_sets.insert(0, {a.name: a.text(a.start) for a in axes})
        if not gen_times:
            say(f"fit: generation {generation}/{max_generations}: {len(batch_sets)} sets"
                f"{' (with the start)' if first else ''}; the time left is estimated after this generation")
        t0 = time.perf_counter()
        try:
            evs = _outcomes.evaluate_many(batch_sets, outcomes, model=None if model is None else str(model),
                                          workers=workers, scheduler=scheduler,
                                          progress=show_runs and sys.stderr.isatty(),
                                          title=f"fit generation {generation}")
        except KeyboardInterrupt:
            say(f"fit interrupted in generation {generation}: the {done} generations done are kept in "
                f"{folder.out}; run the same command again to resume")
            raise
        elapsed = time.perf_counter() - t0
        finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
        new_rows = []
        for k, ev in enumerate(evs):
            g, i = (0, 0) if first and k == 0 else (generation, k - 1 if first else k)
            values = {o: float(ev.values[o]) for o in outcomes}
            new_rows.append({"generation": g, "index": i, "texts": dict(batch_sets[k]), "values": values,
                             "loss": loss(values, outcomes, bands), "bands_met": _met(values, outcomes, bands),
                             "wall_s": float(ev.wall_s), "generation_s": elapsed, "finished_at": finished,
                             "errors": "; ".join(f"{k2}: {v}" for k2, v in ev.errors.items())})
        folder.append([_row_cells(r, names, outcomes) for r in new_rows])
        rows += new_rows
        if first:
            record(0, new_rows[:1], sigma0)
        batch = new_rows[1:] if first else new_rows
        es.tell(X, [r["loss"] for r in batch])
        stop = es.stop()
        gen_times.append(elapsed)
        record(generation, batch, es.sigma)
        folder.write_history(history)
        done, ran = generation, ran + 1
        best = min(rows, key=lambda r: r["loss"])
        per_gen = sum(gen_times) / len(gen_times)
        left = max_generations - done
        eta = "" if best["loss"] == 0 or not left else \
            f", ~{_duration(per_gen * left)} left at most ({left} more generations at {_duration(per_gen)} each)"
        say(f"fit: generation {done}/{max_generations}: best loss {best['loss']:.4g} (this generation "
            f"{min(r['loss'] for r in batch):.4g}), bands met {best['bands_met']}/{len(outcomes)}, sigma "
            f"{es.sigma:.3g}, {_duration(time.perf_counter() - t_session)} elapsed{eta}")
    folder.write_history(history)
    result = _result(folder, axes, outcomes, rows, history, reason, done, sum(gen_times), ran, bands)
    _finish(folder, result, axes, model)
    say(f"fit: stopped ({reason}) after {done} generations; best loss {result.best_loss:.4g}, bands met "
        f"{result.bands_met}/{len(outcomes)}")
    return result


def _parse_row(row: Mapping[str, str], names: Sequence[str], outcomes: Sequence[str]) -> dict[str, Any]:
    def num(text: str) -> float:
        return float(text) if text != "" else float("nan")
    return {"generation": int(row["generation"]), "index": int(row["index"]),
            "texts": {n: row[n] for n in names}, "values": {o: num(row[o]) for o in outcomes},
            "loss": float(row["loss"]), "bands_met": int(row["bands_met"]), "wall_s": num(row["wall_s"]),
            "generation_s": num(row["generation_s"]), "finished_at": row["finished_at"], "errors": row["errors"]}


def _row_cells(row: Mapping[str, Any], names: Sequence[str], outcomes: Sequence[str]) -> dict[str, Any]:
    return {"generation": row["generation"], "index": row["index"], **row["texts"], **row["values"],
            "loss": row["loss"], "bands_met": row["bands_met"], "wall_s": row["wall_s"],
            "generation_s": row["generation_s"], "finished_at": row["finished_at"], "errors": row["errors"]}


def _result(folder: _Folder, axes: list[_Axis], outcomes: list[str], rows: list[dict[str, Any]],
            history: list[dict[str, Any]], reason: str, done: int, elapsed: float, ran: int,
            bands: Mapping[str, Band]) -> FitResult:
    start, best = rows[0], min(rows, key=lambda r: r["loss"])
    names = [a.name for a in axes]
    return FitResult(folder.out, names, list(outcomes), dict(start["texts"]), dict(best["texts"]),
                     dict(start["values"]), dict(best["values"]), start["loss"], best["loss"], best["generation"],
                     done, len(rows), history, reason, elapsed, ran, bands=dict(bands))


# ---------------------------------------------------------------------------
# The fitted model file and the report
# ---------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]\s*(#.*)?$")
_BASIC = r'"(?:[^"\\\n]|\\.)*"'
_LITERAL = r"'[^'\n]*'"
_ARRAY = r"\[(?:[^\]\"']|" + _BASIC + "|" + _LITERAL + r")*\]"
_VALUE = "(" + _BASIC + "|" + _LITERAL + "|" + _ARRAY + r"|[^,{}\[\]\"'\s][^,{}]*?)"
_PAIR = re.compile(r"\s*([A-Za-z0-9_\-]+)\s*=\s*" + _VALUE + r"\s*(,|$)")


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def _edit_entry(line: str, name: str, value: str, source: str) -> str | None:
    """The one-line entry ``name = { value = ..., source = ..., ... }`` with its value and
    source replaced; None when ``line`` is not that entry."""
    m = re.match(r"^(\s*)" + re.escape(name) + r"(\s*=\s*)\{(.*)\}(\s*(#.*)?)(\r?\n)?$", line)
    if not m:
        return None
    body = m.group(3)
    start_body = m.start(3)
    spans: dict[str, tuple[int, int]] = {}
    pos = 0
    while pos < len(body) and body[pos:].strip():
        p = _PAIR.match(body, pos)
        if not p:
            return None
        spans[p.group(1)] = p.span(2)
        pos = p.end()
    if "value" not in spans or "source" not in spans:
        return None
    out = line
    for key, new in sorted((("value", value), ("source", source)), key=lambda kv: -spans[kv[0]][0]):
        a, b = spans[key]
        out = out[:start_body + a] + _toml_string(new) + out[start_body + b:]
    return out


def write_fitted_model(model_file: str | Path, values: Mapping[str, str], source: str, path: str | Path) -> Path:
    """Write a copy of the model file ``model_file`` with the ``values`` (name -> text with
    unit) of its parameters and their ``source`` replaced, everything else byte for byte
    the same; checked by reading it back (TOML and :func:`~biophys_ltp.model.load_model`)."""
    from .model import load_model
    model_file, path = Path(model_file), Path(path)
    raw = model_file.read_bytes()
    text = raw.decode("utf-8")
    data = tomllib.loads(text)
    owners = {name: table for table, entries in data.get("parameters", {}).items() if isinstance(entries, dict)
              for name in entries}
    lines = text.splitlines(keepends=True)
    table = None
    edited: set[str] = set()
    for i, line in enumerate(lines):
        h = _HEADER.match(line)
        if h:
            table = h.group(1)
            continue
        for name, value in values.items():
            if name in edited or table != f"parameters.{owners.get(name)}":
                continue
            new = _edit_entry(line, name, value, source)
            if new is not None:
                lines[i] = new
                edited.add(name)
    missing = [n for n in values if n not in edited]
    if missing:
        raise InputError(f"{model_file}: cannot write the fitted value of {', '.join(missing)} into a copy of the "
                         f"model file (a fitted entry must be written on one line, name = {{ value = ..., "
                         f"source = ..., ... }}, in its [parameters.<mechanism>] table)")
    new_text = "".join(lines)
    expected = tomllib.loads(text)
    for name, value in values.items():
        entry = expected["parameters"][owners[name]][name]
        entry["value"], entry["source"] = value, source
    if tomllib.loads(new_text) != expected:  # pragma: no cover - the edit above is exact
        raise RuntimeError(f"writing the fitted model changed more than the fitted entries of {model_file}")
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    tmp.write_bytes(new_text.encode("utf-8"))
    try:
        fitted = load_model(tmp)
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    from .units import parse_quantity
    for name, value in values.items():
        if _si(fitted[name]) != _si(parse_quantity(value)):  # pragma: no cover
            raise RuntimeError(f"{path}: {name} reads back as {fitted.parameters[name].text}, not {value}")
    return path


def _targets_table(outcomes: Sequence[str], start: Mapping[str, float], best: Mapping[str, float],
                   bands: Mapping[str, Band] | None = None) -> str:
    """Each outcome before and after, against the band it was fitted to (and its target's,
    where ``bands`` narrowed it)."""
    bands = bands or {}

    def cell(value: float, band: Band) -> str:
        if not math.isfinite(value):
            return "failed (out)"
        return f"{value:.1f} ({'in' if value in band else 'out'})"
    rows = ["| target | outcome | band | start | best |", "|---|---|---|---|---|"]
    for o in outcomes:
        band = fitted_band(o, bands)
        text = band_text(band) if o not in bands else \
            f"{band_text(band)} (narrowed; the target's {band_text(target_band(o))})"
        rows.append(f"| {OUTCOMES[o].target} | {o} | {text} | {cell(start[o], band)} | "
                    f"{cell(best[o], band)} |")
    return "\n".join(rows)


def _finish(folder: _Folder, result: FitResult, axes: list[_Axis], model: Any) -> None:
    """Write fitted_model.toml and report.md."""
    from .model import load_model
    design = folder.design
    out = folder.out
    targets = list(dict.fromkeys(OUTCOMES[o].target for o in result.outcomes))  # each once
    rows = _read_rows_for_dates(out)
    date = (rows[-1] if rows else datetime.now(timezone.utc).isoformat())[:10]
    narrowed = "".join(f"; {o} fitted to {band_text(b)}" for o, b in result.bands.items())
    source = (f"fitted: biophys-ltp fit on {', '.join(targets)}{narrowed}{_kept_note(result)} ({date}, "
              f"report {out / REPORT})")
    base = load_model(model)
    model_path = write_fitted_model(base.source, result.best, source, out / MODEL_FILE)
    result.files = {"design": out / DESIGN, "evaluations": out / EVALUATIONS, "history": out / HISTORY,
                    "model": model_path, "report": out / REPORT}
    _write_atomic(out / REPORT, _report(design, result, axes, base))


def _kept_note(result: FitResult) -> str:
    """Where no set the fit evaluated did better than its start, a clause saying that the
    values are the start's (which came from elsewhere), not found by the search."""
    if not result.start_kept:
        return ""
    met = result.bands_met == len(result.outcomes)
    return ("; the start values, kept: " + ("they met every band" if met else "no set evaluated did better"))


def _read_rows_for_dates(out: Path) -> list[str]:
    with open(out / EVALUATIONS, newline="") as fh:
        return [r["finished_at"] for r in csv.DictReader(fh) if r.get("finished_at")]


def _report(design: Mapping[str, Any], result: FitResult, axes: list[_Axis], base: Any) -> str:
    met = result.bands_met
    n = len(result.outcomes)
    lines = [f"# Fit of {', '.join(result.params)}", "",
             f"{'Every band met' if met == n else f'{met} of {n} bands met'} by the best parameter set "
             f"(loss {result.best_loss:.4g}, generation {result.best_generation}); the start: loss "
             f"{result.start_loss:.4g}, {_met(result.start_values, result.outcomes, result.bands)} of {n} bands met.  "
             f"Stopped: {result.reason}, after {result.generations} generations ({result.evaluations} parameter "
             f"sets evaluated, the start included)." + (
                 "  The best set is the start: the fitted values are the start values, which the search "
                 "did not move." if result.start_kept else ""), "",
             "## Targets", "", result.table(), "",
             "## Parameters", "",
             "| parameter | model | start | bounds | fitted | fitted / model | model file's source |",
             "|---|---|---|---|---|---|---|"]
    from .units import parse_quantity
    for a in axes:
        fitted = _si(parse_quantity(result.best[a.name]))
        ratio = f"{fitted / a.model_value:.3f}" if a.model_value else "-"
        lines.append(f"| {a.name} | {a.text(a.model_value)} | {result.start[a.name]} | {a.text(a.low)} to "
                     f"{a.text(a.high)} ({'log' if a.log else 'linear'}) | {result.best[a.name]} | {ratio} | "
                     f"{base.parameters[a.name].source} |")
    lines += ["", "## Loss history", "",
              "| generation | sets | best | median | best so far | bands met so far | sigma |",
              "|---|---|---|---|---|---|---|"]
    for h in result.history:
        lines.append(f"| {h['generation']} | {h['evaluations']} | {h['best_loss']:.4g} | {h['median_loss']:.4g} | "
                     f"{h['best_loss_so_far']:.4g} | {h['bands_met_so_far']}/{n} | {h['sigma']:.3g} |")
    per_gen = result.elapsed_s / result.generations if result.generations else float("nan")
    lines += ["", "## Time", "",
              f"{_duration(result.elapsed_s)} ({result.elapsed_s:.0f} s) of wall-clock time over "
              f"{result.generations} generations, {per_gen:.0f} s per generation on average (the first one "
              f"also evaluates the start); {os.cpu_count()} CPUs on {platform.node() or 'this machine'}.", "",
              "## Loss", "",
              f"Sum over the targets of (distance outside the band / scale)^2, 0 inside; scale: the band's width "
              f"(two-sided bands), {ONE_SIDED_SCALE:g} percentage points (one-sided bands); a failed run adds "
              f"{FAILED_PENALTY:g} per outcome it misses.  CMA-ES (cma {design['versions']['cma']}), population "
              f"{design['popsize']}, sigma0 {design['sigma0']:g} on axes normalised to [0, 1] between the bounds, "
              f"seed {design['seed']}" + (f", start perturbed by {design['perturb'] * 100:g} %"
                                          if design.get("perturb") else "") + ".", "",
              "## Files", "",
              f"`{MODEL_FILE}` (the model with the fitted values; load it with `--model {result.out / MODEL_FILE}`), "
              f"`{EVALUATIONS}` (every parameter set evaluated), `{HISTORY}`, `{DESIGN}`.", "",
              "## Reproduce", "", "```", design["command"], "```", ""]
    return "\n".join(lines)
