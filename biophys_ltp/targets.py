"""Experimental targets the model is checked against, with their provenance.

The targets are data: ``biophys_ltp/targets.toml``, one table per target with the paper,
figure and panel, preparation, measure, reported value with SEM or range, n, the band
the model's number must fall in, and the target's role:

``calibration``
    a fitted parameter of the model names this experiment as what it was tuned on
    (``tuned`` lists them): reproducing it is calibration, not a test of the model;
``validation``
    no parameter was tuned on it: the model's number for it is a prediction
    (``biophys_ltp/validation.py``, ``biophys-ltp validate``);
``input``
    a number used directly as a parameter value (e.g. the Mg2+ block's coefficients).

Bands are two-sided where the data give them (mean +- 2 SEM, or the reported range);
a one-sided band states why in ``one_sided``.  The tests and the figures read the
targets from here (:data:`TARGETS`, and :data:`BANDS` for the bands alone).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TARGETS_FILE = Path(__file__).resolve().parent / "targets.toml"
ROLES = ("calibration", "validation", "input")

INF = float("inf")


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    unit: str
    source: str

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def describe(self) -> str:
        return f"[{self.low}, {self.high}] {self.unit} ({self.source})"


@dataclass(frozen=True)
class Target:
    id: str
    quantity: str
    measure: str
    unit: str
    band: tuple[float, float]
    paper: str
    figure: str
    preparation: str
    role: str
    approx: bool
    value: float | None = None
    sem: float | None = None
    range: tuple[float, float] | None = None
    n: int | None = None
    one_sided: str = ""
    tuned: tuple[str, ...] = ()
    note: str = ""
    protocol: str = ""  # the experimental time courses drawn beside the model (point_* targets)
    time_h: float | None = None
    protocol_description: str = ""

    @property
    def source(self) -> str:
        return f"{self.paper}, {self.figure}" + (" (approx.)" if self.approx else "")

    def as_band(self) -> Band:
        return Band(self.band[0], self.band[1], self.unit, self.source)


_REQUIRED = ("quantity", "measure", "unit", "band", "paper", "figure", "preparation", "role", "approx")


def load_targets(path: str | Path = TARGETS_FILE) -> dict[str, Target]:
    """Read and check the targets file; a ValueError naming the target for a bad entry."""
    path = Path(path)
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    out: dict[str, Target] = {}
    for tid, d in raw.items():
        if not isinstance(d, dict):
            raise ValueError(f"{path}: {tid!r} is not a table")
        missing = [k for k in _REQUIRED if k not in d]
        if missing:
            raise ValueError(f"{path}: target {tid!r} lacks {', '.join(missing)}")
        known = set(Target.__dataclass_fields__) - {"id"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"{path}: target {tid!r} has unknown key(s) {', '.join(unknown)}")
        if d["role"] not in ROLES:
            raise ValueError(f"{path}: target {tid!r}: role must be one of {ROLES}, not {d['role']!r}")
        low, high = (float(x) for x in d["band"])
        if not low <= high:
            raise ValueError(f"{path}: target {tid!r}: band [{low}, {high}] is empty")
        if (math.isinf(low) or math.isinf(high)) and not d.get("one_sided"):
            raise ValueError(f"{path}: target {tid!r}: a one-sided band needs its reason in 'one_sided'")
        kw: dict[str, Any] = dict(d)
        kw["band"] = (low, high)
        if "range" in kw:
            kw["range"] = tuple(float(x) for x in kw["range"])
        kw["tuned"] = tuple(kw.get("tuned", ()))
        out[tid] = Target(id=tid, **kw)
    return out


TARGETS: dict[str, Target] = load_targets()

# the bands alone, by target id (the tests' ``value in BANDS[id]``)
BANDS: dict[str, Band] = {tid: t.as_band() for tid, t in TARGETS.items() if not tid.startswith("point_")}


def ids_with_role(role: str) -> list[str]:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    return [tid for tid, t in TARGETS.items() if t.role == role]


def _points(protocols: tuple[str, ...]) -> list[tuple[str, float, float, float, str]]:
    """(protocol, time_h, fepsp_pct, sem_pct, source) of the ``point_*`` targets."""
    rows = []
    for tid, t in TARGETS.items():
        if tid.startswith("point_") and t.protocol in protocols:
            half = (t.band[1] - t.band[0]) / 2 if t.sem is None else t.sem
            rows.append((t.protocol, float(t.time_h), float(t.value), float(half), t.source))
    return rows


# Experimental time courses drawn beside the model (fEPSP % of baseline; time after the
# tetanus, or after the end of the low-frequency stimulation)
EXPERIMENTAL_POINTS = _points(("WTET", "STET", "STET + anisomycin"))
LTD_POINTS = _points(("WLFS", "SLFS"))
