"""A sweep's output folder: the manifest, ``points.csv``, ``timecourse.csv`` and one folder
per point, written so that a kill at any moment leaves it readable and resumable; and
:class:`SweepResults`, what a sweep returns and :func:`load_sweep` reads back."""

from __future__ import annotations

import csv
import fcntl
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..simulation import write_result_folder
from .grid import Point, SweepError


MANIFEST = "sweep.json"
POINTS = "points.csv"
TIMECOURSE = "timecourse.csv"
POINT_DIR = "points"
_LOCK = ".sweep.lock"
FORMAT = "biophys-ltp sweep 1"
_TIMECOURSE_COLUMNS = ["point_id", "pathway", "time_min", "fepsp_pct"]
TIMING_COLUMNS = ["setup_s", "build_s", "run_s", "wall_s"]

# ---------------------------------------------------------------------------
# The output folder
# ---------------------------------------------------------------------------

def _fsync(fh) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        x = float(value)
        return "" if math.isnan(x) else repr(x)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return str(value)


def _drop_partial_line(path: Path) -> None:
    """Cut an incomplete last line (a write interrupted by a kill)."""
    if not path.is_file():
        return
    size = path.stat().st_size
    if size == 0:
        return
    with open(path, "rb+") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        block = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            k = chunk.rfind(b"\n")
            if k >= 0:
                fh.truncate(start + k + 1)
                return
            pos = start
        fh.truncate(0)


def _read_csv(path: Path, **kw: Any) -> pd.DataFrame:
    """``pd.read_csv`` that reads floats back exactly (the default from pandas 3 on)."""
    if int(pd.__version__.split(".")[0]) < 3:
        kw.setdefault("float_precision", "round_trip")
    try:
        return pd.read_csv(path, **kw)
    except (ValueError, pd.errors.ParserError) as err:  # a damaged table (edited, or cut by a full disk)
        raise SweepError(f"{path}: not a readable sweep table ({' '.join(str(err).split())}); running the "
                         f"sweep again into this folder repairs an interrupted last line") from None


def _read_points(path: Path) -> pd.DataFrame:
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame()
    return _read_csv(path, dtype={"point_id": str, "status": str, "error": str, "worker": str,
                                  "finished_at": str},
                     keep_default_na=False, na_values=[""])


class Store:
    """The sweep's output folder: manifest, append-only tables, per-point folders."""

    def __init__(self, out: Path, manifest: dict[str, Any]):
        self.out = out
        self.manifest = manifest
        self.columns: list[str] = manifest["columns"]
        self._lock_fh = None
        self._points_fh = None
        self._tc_fh = None

    # -- opening -------------------------------------------------------------
    def open(self) -> None:
        if self.out.exists() and not self.out.is_dir():
            raise SweepError(f"{self.out}: not a folder (a sweep writes a folder of files)")
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock_fh = open(self.out / _LOCK, "w")
        try:
            fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_fh.close()
            self._lock_fh = None
            raise SweepError(f"{self.out}: another sweep is writing into this folder") from None
        manifest_path = self.out / MANIFEST
        if manifest_path.is_file():
            try:
                stored = json.loads(manifest_path.read_text())
            except ValueError as err:
                raise SweepError(f"{manifest_path}: not a readable sweep manifest ({err})") from None
            _check_same_sweep(self.out, stored, self.manifest)
            # the stored layout wins (units of the columns come from the first run)
            self.manifest = {**self.manifest, "columns": stored["columns"], "grid": stored["grid"],
                             "units": stored["units"], "created": stored.get("created")}
            self.columns = stored["columns"]
        else:
            ours = {MANIFEST, _LOCK}
            others = [p.name for p in self.out.iterdir() if p.name not in ours]
            if others:
                raise SweepError(f"{self.out}: folder is not empty and holds no sweep ({MANIFEST} missing); "
                                 f"choose another output folder")
            tmp = manifest_path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(self.manifest, indent=2) + "\n")
            os.replace(tmp, manifest_path)
        self._repair()
        points_path = self.out / POINTS
        new = not points_path.is_file() or points_path.stat().st_size == 0
        self._points_fh = open(points_path, "a", newline="")
        self._points = csv.writer(self._points_fh)
        if new:
            self._points.writerow(["point_id", "status", *self.columns])
            _fsync(self._points_fh)
        tc_path = self.out / TIMECOURSE
        new = not tc_path.is_file() or tc_path.stat().st_size == 0
        self._tc_fh = open(tc_path, "a", newline="")
        self._tc = csv.writer(self._tc_fh)
        if new:
            self._tc.writerow(_TIMECOURSE_COLUMNS)
            _fsync(self._tc_fh)

    def _repair(self) -> None:
        points_path, tc_path = self.out / POINTS, self.out / TIMECOURSE
        _drop_partial_line(points_path)
        _drop_partial_line(tc_path)
        if points_path.is_file() and points_path.stat().st_size:
            with open(points_path, newline="") as fh:
                header = next(csv.reader(fh), None)
            if header != ["point_id", "status", *self.columns]:
                raise SweepError(f"{points_path}: its columns do not match the manifest; the folder was "
                                 f"changed by hand or by another program")
        if not tc_path.is_file() or tc_path.stat().st_size == 0:
            return
        # time-course rows of a point whose row never made it into points.csv
        rows = self.rows()
        committed = set(rows.point_id[rows.status == "ok"]) if len(rows) else set()
        ids = pd.read_csv(tc_path, usecols=["point_id"], dtype={"point_id": str}).point_id
        if ids.isin(committed).all():
            return
        tc = _read_csv(tc_path, dtype={"point_id": str, "pathway": str})
        tc = tc[tc.point_id.isin(committed)]
        # each committed point keeps one block of rows (the first, in case of a repeat)
        tc = tc[~tc.duplicated(subset=["point_id", "pathway", "time_min"], keep="first")]
        tmp = tc_path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(_TIMECOURSE_COLUMNS)
            for row in tc.itertuples(index=False):
                w.writerow([row.point_id, row.pathway, _cell(row.time_min), _cell(row.fepsp_pct)])
            _fsync(fh)
        os.replace(tmp, tc_path)

    def rows(self) -> pd.DataFrame:
        """Every row of points.csv (a retried point has several; the last counts)."""
        return _read_points(self.out / POINTS)

    def done(self, retry_failed: bool) -> dict[str, str]:
        """point id -> status of the last row of every recorded point to skip."""
        rows = self.rows()
        if rows.empty:
            return {}
        last = rows.drop_duplicates("point_id", keep="last")
        status = dict(zip(last.point_id, last.status))
        if retry_failed:
            status = {k: v for k, v in status.items() if v == "ok"}
        return status

    # -- writing ---------------------------------------------------------------
    def record(self, point: Point, result: Mapping[str, Any], outcome: Mapping[str, float],
               save_point: bool) -> None:
        folder = self.out / POINT_DIR / point.point_id
        ok = result.get("status") == "ok"
        if save_point or not ok:
            folder.mkdir(parents=True, exist_ok=True)
        if ok and save_point:
            meta = dict(result.get("metadata") or {})
            meta["sweep"] = {"point_id": point.point_id, "grid_values": point.texts}
            write_result_folder(folder, result["fepsp"], result.get("state"), meta)
        if not ok:
            (folder / "error.txt").write_text(
                f"{point.label}\n\n{result.get('traceback') or result.get('error')}\n")
        if ok:
            f = result["fepsp"]
            for p, t, y in zip(f.pathway.to_numpy(), f.time_min.to_numpy(float), f.fepsp_pct.to_numpy(float)):
                self._tc.writerow([point.point_id, p, _cell(t), _cell(y)])
            _fsync(self._tc_fh)
        timings = result.get("timings") or {}
        values = {**point.numbers, **outcome, **{k: timings.get(k) for k in TIMING_COLUMNS},
                  "worker": result.get("worker", ""),
                  "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "error": "" if ok else result.get("error", "failed")}
        self._points.writerow([point.point_id, "ok" if ok else "failed",
                               *(_cell(values.get(c)) for c in self.columns)])
        _fsync(self._points_fh)

    def close(self) -> None:
        for fh in (self._points_fh, self._tc_fh):
            if fh is not None:
                fh.close()
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
        self._points_fh = self._tc_fh = self._lock_fh = None


def _identity(manifest: Mapping[str, Any]) -> dict[str, Any]:
    return {k: manifest[k] for k in ("protocol", "model", "params", "outcome_times")} | {
        "parameters": sorted(manifest["grid"]),
        "points": sorted(p["point_id"] for p in manifest["points"])}


def _check_same_sweep(out: Path, stored: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    if stored.get("format") != FORMAT:
        raise SweepError(f"{out / MANIFEST}: not a sweep manifest of this version ({stored.get('format')!r})")
    a, b = _identity(stored), _identity(given)
    if a == b:
        return
    what = {"protocol": "the protocol", "model": "the model", "params": "the fixed parameters (--set)",
            "outcome_times": "the outcome times", "parameters": "the grid's names",
            "points": "the grid's values"}
    differs = [what[k] for k in a if a[k] != b[k]]
    details = []
    if a["parameters"] != b["parameters"] or a["points"] != b["points"]:
        details.append(f"stored grid: {_grid_text(stored['grid'])}; given: {_grid_text(given['grid'])}")
    if a["outcome_times"] != b["outcome_times"]:
        details.append(f"stored outcome times: {', '.join(a['outcome_times'])}; "
                       f"given: {', '.join(b['outcome_times'])}")
    if a["params"] != b["params"]:
        details.append(f"stored fixed parameters: {_params_text(a['params'])}; given: {_params_text(b['params'])}")
    detail = f" ({'; '.join(details)})" if details else ""
    verb = "differs" if len(differs) == 1 else "differ"
    raise SweepError(f"{out} holds a different sweep: {' and '.join(differs)} {verb}{detail}; "
                     f"write this sweep into another folder")


def _grid_text(grid: Mapping[str, Sequence[str]]) -> str:
    return " ".join(f"{k}={','.join(v)}" for k, v in grid.items())


def _params_text(params: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "none"


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------

@dataclass
class SweepResults:
    """What a sweep's output folder holds (see :func:`load_sweep`)."""
    out: Path
    points: pd.DataFrame  # the last row of every recorded point, in grid order
    manifest: dict[str, Any] = field(repr=False)
    pending: list[str] = field(default_factory=list)  # ids of points not recorded yet
    ran: int = 0  # points simulated (or set up and failed) by this call
    skipped: int = 0  # points found recorded already

    @property
    def n_failed(self) -> int:
        return int((self.points.status == "failed").sum()) if len(self.points) else 0

    @property
    def n_ok(self) -> int:
        return int((self.points.status == "ok").sum()) if len(self.points) else 0

    def timecourse(self) -> pd.DataFrame:
        """fEPSP of every recorded point, long format (``point_id``, ``pathway``, ``time_min``,
        ``fepsp_pct``)."""
        path = self.out / TIMECOURSE
        if not path.is_file() or path.stat().st_size == 0:
            return pd.DataFrame(columns=_TIMECOURSE_COLUMNS)
        return _read_csv(path, dtype={"point_id": str, "pathway": str})

    def point_results(self, point_id: str) -> Path:
        """Folder with the point's fepsp.csv, state.csv and metadata.json (or error.txt)."""
        return self.out / POINT_DIR / point_id


def load_sweep(out: str | Path) -> SweepResults:
    """Read a sweep's output folder (finished or not)."""
    out = Path(out)
    path = out / MANIFEST
    if not path.is_file():
        raise SweepError(f"{out}: no sweep here ({MANIFEST} missing)")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as err:
        raise SweepError(f"{path}: not a readable sweep manifest ({err})") from None
    return read_results(out, manifest)


def read_results(out: Path, manifest: dict[str, Any], ran: int = 0, skipped: int = 0) -> SweepResults:
    rows = _read_points(out / POINTS)
    order = {p["point_id"]: k for k, p in enumerate(manifest["points"])}
    if not rows.empty:
        rows = rows.drop_duplicates("point_id", keep="last")
        rows = rows.assign(_order=rows.point_id.map(order)).sort_values("_order", kind="stable")
        rows = rows.drop(columns="_order").reset_index(drop=True)
    else:
        rows = pd.DataFrame(columns=["point_id", "status", *manifest["columns"]])
    recorded = set(rows.point_id)
    pending = [p["point_id"] for p in manifest["points"] if p["point_id"] not in recorded]
    return SweepResults(out, rows, manifest, pending, ran, skipped)
