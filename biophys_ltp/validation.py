"""Held-out experiments: what the model predicts for experiments it was not tuned on.

Each :class:`Experiment` names its runs (protocols as plain data), how its number is read
from them, and the experimental target it is compared with (``biophys_ltp/targets.toml``,
role ``validation``).  No parameter of the model cites any of these experiments as what it
was tuned on.

The procedure keeps prediction apart from comparison: :func:`predict` runs the experiments
and ``predictions.toml`` (this folder) stores the numbers with the digest of the model and
of the code that made them (:func:`model_digest`); that file is committed before the
experimental values are compared.  ``biophys-ltp validate`` runs the experiments again and
prints, side by side, the committed prediction, the model as it is now and the experiment,
and says whether the model changed since the predictions were made.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .errors import ResultError, known_names
from .experiments import induction_change, stdp_protocol

PREDICTIONS_FILE = Path(__file__).resolve().parent / "predictions.toml"

TET_MIN = 30.0  # every protocol's first induction starts at 30 min (after the baseline)


def _protocol(name: str, description: str, events: list[dict[str, Any]],
              pathways: tuple[str, ...] = ("S1", "S2")) -> dict[str, Any]:
    return {"name": name, "description": description, "duration": "10 h", "baseline": "30 min",
            "test_interval": "5 min", "pathways": list(pathways), "events": events}


def _drug(name: str, start: str, stop: str) -> dict[str, Any]:
    return {"kind": "drug", "drug": name, "start": start, "stop": stop}


STET = {"kind": "strong_tetanus", "pathway": "S1", "at": "30 min"}
SLFS = {"kind": "slfs", "pathway": "S1", "at": "30 min"}
SLFS_MIN = 15.0  # 900 bursts at 1 Hz
TRAIN = {"kind": "train", "pathway": "S1", "at": "30 min", "pulses": 100, "frequency": "100 Hz"}
# depotentiation (Fujii et al. 1991): 1000 pulses at 1 Hz, 20 or 100 min after a tetanus of
# 100 pulses at 100 Hz; the potentiation removed is read DEPOT_READ_MIN after the end of the
# low-frequency stimulation
DEPOT_PULSES = 1000
DEPOT_LAGS_MIN = {"depot_early": 20.0, "depot_late": 100.0}
DEPOT_READ_MIN = 30.0


# spike timing in CA1 slices (Inglebert et al. 2020): pairings at 0.3 Hz, pre-post 100
# times, post-pre 150 times (Fig. 1A's legend: slice_pairs); with postsynaptic bursts (Fig. 4A):
# run name -> somatic spikes per pre-post pairing at +10 ms; and the window's other sides
# (Fig. 1B): run name -> offset_ms
BURST_PAIRS, BURST_RATE_HZ, POST_PRE_PAIRS = 100, 0.3, 150
BURST_RUNS = {"stdp_1spike": 1, "stdp_3spikes": 3}
SLICE_STDP_RUNS = {"stdp_slice_-25ms": -25.0, "stdp_slice_+50ms": 50.0}


def slice_pairs(offset_ms: float) -> int:
    """Pairings of the CA1-slice protocol at ``offset_ms`` (spike minus pulse): BURST_PAIRS
    with the spike after the pulse, POST_PRE_PAIRS before it (Inglebert et al. 2020, Fig. 1A)."""
    return BURST_PAIRS if offset_ms > 0 else POST_PRE_PAIRS


def _lfs(start_min: float) -> dict[str, Any]:
    return {"kind": "train", "pathway": "S1", "at": f"{start_min:g} min", "pulses": DEPOT_PULSES,
            "frequency": "1 Hz"}


def _depot_read_min(lag_min: float) -> float:
    return TET_MIN + lag_min + (DEPOT_PULSES - 1) / 60.0 + DEPOT_READ_MIN


# run name -> protocol (plain data)
RUNS: dict[str, dict[str, Any]] = {
    "stet": _protocol("STET", "strong tetanus on S1", [STET]),
    "slfs": _protocol("SLFS", "strong low-frequency stimulation on S1", [SLFS]),
    # Frey & Morris 1998 (weak before strong): a weak tetanus on S2 before a strong one on S1
    "wbs_1h": _protocol("WTET S2, STET S1 1 h later", "weak before strong (Frey & Morris 1998)",
                        [{"kind": "weak_tetanus", "pathway": "S2", "at": "30 min"},
                         {"kind": "strong_tetanus", "pathway": "S1", "at": "90 min"}], ("S1", "S2", "S3")),
    "wbs_2h": _protocol("WTET S2, STET S1 2 h later", "weak before strong (Frey & Morris 1998)",
                        [{"kind": "weak_tetanus", "pathway": "S2", "at": "30 min"},
                         {"kind": "strong_tetanus", "pathway": "S1", "at": "150 min"}], ("S1", "S2", "S3")),
    # Frey & Morris 1997: a strong tetanus on S2 35 min after one on S1, under anisomycin
    # (from 15 min before to 1 h after S2's tetanus, as around the weak tetanus of Fig. 3)
    "stc_aniso_strong": _protocol("STET S1, STET S2 35 min later under anisomycin",
                                  "capture of S1's proteins by a strong tetanus under anisomycin",
                                  [STET, {"kind": "strong_tetanus", "pathway": "S2", "at": "65 min"},
                                   _drug("anisomycin", "50 min", "125 min")], ("S1", "S2", "S3")),
    # depotentiation: one 100-Hz train, then 1000 pulses at 1 Hz 20 or 100 min after it
    "train": _protocol("1 x 100 Hz", "one train of 100 pulses at 100 Hz on S1", [TRAIN]),
    **{run: _protocol(f"1 x 100 Hz, 1000 pulses at 1 Hz {lag:g} min after", "depotentiation (Fujii et al. 1991)",
                      [TRAIN, _lfs(TET_MIN + lag)]) for run, lag in DEPOT_LAGS_MIN.items()},
    # drugs (biophys_ltp/drugs.toml)
    "actd_around": _protocol("STET, actinomycin D around it", "", [STET, _drug("actinomycin_d", "20 min", "2 h")]),
    "actd_after": _protocol("STET, actinomycin D 2 h after it", "",
                            [STET, _drug("actinomycin_d", "170 min", "5 h")]),
    "kn62": _protocol("STET under KN-62", "", [STET, _drug("kn62", "20 min", "60 min")]),
    "kt5720": _protocol("STET, KT5720 around it", "", [STET, _drug("kt5720", "20 min", "2 h")]),
    "forskolin": _protocol("forskolin", "", [_drug("forskolin", "30 min", "45 min")]),
    "forskolin_aniso": _protocol("forskolin, anisomycin around it", "",
                                 [_drug("forskolin", "30 min", "45 min"), _drug("anisomycin", "15 min", "2 h")]),
    "zip_stet": _protocol("STET, ZIP 2.5-4.5 h after it", "", [STET, _drug("zip", "3 h", "5 h")]),
    "zip_slfs": _protocol("SLFS, ZIP 2.5-4.5 h after it", "", [SLFS, _drug("zip", "3 h", "5 h")]),
    # dopamine D1/D5 receptors (Sajikumar & Frey 2004; Huang & Kandel 1995)
    "d1_antagonist_stet": _protocol("STET under SCH 23390", "", [STET, _drug("sch23390", "20 min", "2 h")]),
    "d1_antagonist_slfs": _protocol("SLFS under SCH 23390", "", [SLFS, _drug("sch23390", "20 min", "2 h")]),
    "d1_agonist": _protocol("SKF 38393", "", [_drug("skf38393", "30 min", "45 min")]),
    # the NMDA receptor antagonist on the test-pulse response (Collingridge et al. 1983)
    "apv": _protocol("APV, test pulses only", "", [_drug("apv", "30 min", "90 min")]),
    # spike timing in CA1 slices (Inglebert et al. 2020): pairings at 0.3 Hz with the somatic
    # spike 10 ms after the pulse, or a burst of three (Fig. 4A); at -25 and +50 ms (Fig. 1B)
    **{run: stdp_protocol(10.0, spikes=spikes, pairs=BURST_PAIRS, rate_hz=BURST_RATE_HZ)
       for run, spikes in BURST_RUNS.items()},
    **{run: stdp_protocol(offset, pairs=slice_pairs(offset), rate_hz=BURST_RATE_HZ)
       for run, offset in SLICE_STDP_RUNS.items()},
}


def _at(run: str, hours: float, pathway: str = "S1", start_min: float = TET_MIN) -> Callable[[Mapping], float]:
    """fEPSP (%) ``hours`` after ``start_min`` (the induction) on ``pathway``."""
    return lambda r: r[run].fepsp_at(pathway, start_min + 60 * hours)


def _depotentiation(run: str) -> Callable[[Mapping], float]:
    """Part (%) of the potentiation present just before the low-frequency stimulation of
    ``run`` (the train alone, 5 min before it) that it removed, read against the train
    alone at the same time after it."""
    def read(r: Mapping) -> float:
        lag = DEPOT_LAGS_MIN[run]
        t = _depot_read_min(lag)
        before = r["train"].fepsp_at("S1", TET_MIN + lag - 5.0)
        alone, depot = r["train"].fepsp_at("S1", t), r[run].fepsp_at("S1", t)
        return 100.0 * (alone - depot) / (before - 100.0)
    return read


def _induction(run: str) -> Callable[[Mapping], float]:
    """fEPSP (%) of S1 60 min after the end of an induction protocol (biophys_ltp.experiments)."""
    return lambda r: induction_change(r[run])


def _minus(a: Callable[[Mapping], float], b: Callable[[Mapping], float]) -> Callable[[Mapping], float]:
    return lambda r: a(r) - b(r)


@dataclass(frozen=True)
class Experiment:
    """A held-out experiment: ``read(results)`` (run name -> Results) gives the number
    compared with the target ``target`` (an id of biophys_ltp/targets.toml)."""
    name: str
    description: str
    runs: tuple[str, ...]
    read: Callable[[Mapping[str, Any]], float] = field(repr=False)
    unit: str
    target: str


_PCT, _PP = "%", "percentage points"
_DEPOT_READ_H = 1.0  # read 1 h after the end of the low-frequency stimulation
EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in [
    Experiment("wbs_1h", "weak tetanus on S2 1 h before a strong tetanus on S1: S2 8 h after its tetanus",
               ("wbs_1h",), _at("wbs_1h", 8, "S2"), _PCT, "wbs_1h"),
    Experiment("wbs_2h", "weak tetanus on S2 2 h before a strong tetanus on S1: S2 8 h after its tetanus, minus "
               "the same 1 h before", ("wbs_2h", "wbs_1h"), _minus(_at("wbs_2h", 8, "S2"), _at("wbs_1h", 8, "S2")),
               _PP, "wbs_2h"),
    Experiment("stc_aniso_strong_s2", "strong tetanus on S2 under anisomycin 35 min after one on S1: "
               "S2 8 h after its tetanus", ("stc_aniso_strong",), _at("stc_aniso_strong", 8, "S2", 65.0), _PCT,
               "stc_aniso_strong_s2"),
    Experiment("depot_early", "1000 pulses at 1 Hz 20 min after a 100-Hz train: part of the potentiation removed, "
               "30 min after the low-frequency stimulation", ("depot_early", "train"), _depotentiation("depot_early"),
               "% of potentiation", "depot_early"),
    Experiment("depot_late", "1000 pulses at 1 Hz 100 min after a 100-Hz train: part of the potentiation removed, "
               "30 min after the low-frequency stimulation", ("depot_late", "train"), _depotentiation("depot_late"),
               "% of potentiation", "depot_late"),
    Experiment("actd_around_8h", "actinomycin D from 10 min before to 1.5 h after a strong tetanus: S1 at 8 h",
               ("actd_around",), _at("actd_around", 8), _PCT, "actd_around_8h"),
    Experiment("actd_first_hour_pp", "actinomycin D around a strong tetanus: S1 at 1 h minus STET alone",
               ("actd_around", "stet"), _minus(_at("actd_around", 1), _at("stet", 1)), _PP, "actd_first_hour_pp"),
    Experiment("actd_after_8h", "actinomycin D from 2.3 h to 4.5 h after a strong tetanus: S1 at 8 h",
               ("actd_after",), _at("actd_after", 8), _PCT, "actd_after_8h"),
    Experiment("kn62_1h", "KN-62 around a strong tetanus: S1 at 1 h", ("kn62",), _at("kn62", 1), _PCT, "kn62_1h"),
    Experiment("kt5720_8h", "KT5720 around a strong tetanus: S1 at 8 h", ("kt5720",), _at("kt5720", 8), _PCT,
               "kt5720_8h"),
    Experiment("forskolin_8h", "forskolin for 15 min, no stimulation: S1 8 h after", ("forskolin",),
               _at("forskolin", 8), _PCT, "forskolin_8h"),
    Experiment("forskolin_aniso_8h", "forskolin under anisomycin: S1 8 h after", ("forskolin_aniso",),
               _at("forskolin_aniso", 8), _PCT, "forskolin_aniso_8h"),
    Experiment("zip_stet_5h", "ZIP from 2.5 to 4.5 h after a strong tetanus: S1 at 5 h", ("zip_stet",),
               _at("zip_stet", 5), _PCT, "zip_stet_5h"),
    Experiment("zip_slfs_pp", "ZIP from 2.5 to 4.5 h after strong LFS: S1 at 5 h minus SLFS alone",
               ("zip_slfs", "slfs"), _minus(_at("zip_slfs", 5), _at("slfs", 5)), _PP, "zip_slfs_pp"),
    Experiment("d1_antagonist_stet", "D1/D5 antagonist around a strong tetanus: S1 at 8 h",
               ("d1_antagonist_stet",), _at("d1_antagonist_stet", 8), _PCT, "d1_antagonist_stet"),
    Experiment("d1_antagonist_slfs", "D1/D5 antagonist around strong LFS: S1 8 h after its end",
               ("d1_antagonist_slfs",), _at("d1_antagonist_slfs", 8, start_min=TET_MIN + SLFS_MIN), _PCT,
               "d1_antagonist_slfs"),
    Experiment("d1_agonist", "D1/D5 agonist for 15 min, no stimulation: S1 8 h after", ("d1_agonist",),
               _at("d1_agonist", 8), _PCT, "d1_agonist"),
    Experiment("apv_test_pulse", "APV from 30 to 90 min, test pulses only: S1 30 min into the drug", ("apv",),
               _at("apv", 0.5), _PCT, "apv_test_pulse"),
    Experiment("stdp_slice_+10ms", "100 pairings at 0.3 Hz, spike 10 ms after the pulse: S1 60 min after",
               ("stdp_1spike",), _induction("stdp_1spike"), _PCT, "stdp_slice_pre_post"),
    Experiment("stdp_slice_-25ms", "150 pairings at 0.3 Hz, spike 25 ms before the pulse: S1 60 min after",
               ("stdp_slice_-25ms",), _induction("stdp_slice_-25ms"), _PCT, "stdp_slice_post_pre"),
    Experiment("stdp_slice_+50ms", "100 pairings at 0.3 Hz, spike 50 ms after the pulse: S1 60 min after",
               ("stdp_slice_+50ms",), _induction("stdp_slice_+50ms"), _PCT, "stdp_slice_late_ltd"),
    Experiment("stdp_burst_gain_pp", "100 pairings at 0.3 Hz, spike 10 ms after the pulse: a burst of 3 somatic "
               "spikes minus a single spike, S1 60 min after", tuple(BURST_RUNS),
               _minus(_induction("stdp_3spikes"), _induction("stdp_1spike")), _PP, "stdp_burst_gain"),
]}


def experiment_names(names: Iterable[str] | None = None) -> list[str]:
    """``names`` (all the held-out experiments if None), checked: an unknown one raises
    InputError naming the known ones."""
    return known_names(names, EXPERIMENTS, "experiment")


def jobs_for(names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """The runs of the experiments ``names``, each once: run name -> protocol."""
    return {run: RUNS[run] for name in experiment_names(names) for run in EXPERIMENTS[name].runs}


def model_digest(model: str | Path | None = None) -> str:
    """Digest of what the predictions depend on: the model file's content and the code
    (:func:`biophys_ltp.provenance.code_digest`) and this module's experiments."""
    from .model import load_model
    from .provenance import code_digest, file_digest
    m = load_model(model)
    h = hashlib.sha256()
    h.update(Path(m.source).read_bytes())
    h.update(code_digest().encode())
    h.update(file_digest(Path(__file__)).encode())
    return h.hexdigest()[:16]


def run_experiments(names: Iterable[str] | None = None, model: str | Path | None = None,
                    workers: int | None = None, progress: bool | None = None) -> dict[str, float]:
    """The model's numbers for the experiments ``names`` (all by default)."""
    from .simulation import simulate_many
    names = experiment_names(names)
    jobs = {run: {"protocol": proto, "model": model} for run, proto in jobs_for(names).items()}
    results = simulate_many(jobs, workers=workers, progress=progress)
    return {name: float(EXPERIMENTS[name].read(results)) for name in names}


def _toml_key(name: str) -> str:
    """``name`` as a TOML key: bare where TOML allows it, else quoted (``stdp_slice_+10ms``)."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def write_predictions(values: Mapping[str, float], path: Path = PREDICTIONS_FILE,
                      model: str | Path | None = None) -> Path:
    """Write the predictions file: the numbers with the model's digest and versions."""
    from . import __version__
    from .model import load_model
    m = load_model(model)
    lines = [
        "# The model's predictions for the held-out experiments (biophys_ltp/validation.py),",
        "# written by biophys_ltp.validation.write_predictions before the experiments' values",
        "# were compared with them.  Never edit by hand: `biophys-ltp validate` compares the",
        "# model as it is now with these numbers and says whether model_digest changed.",
        f'model = "{m.name}"',
        f'model_digest = "{model_digest(model)}"',
        f'package_version = "{__version__}"',
        f'date = "{datetime.date.today().isoformat()}"',
        "",
    ]
    for name, value in values.items():
        e = EXPERIMENTS[name]
        lines += [f"[predictions.{_toml_key(name)}]", f'description = "{e.description}"', f"value = {value:.4f}",
                  f'unit = "{e.unit}"', ""]
    path.write_text("\n".join(lines))
    return path


@dataclass(frozen=True)
class Predictions:
    model: str
    model_digest: str
    date: str
    values: dict[str, float]


def load_predictions(path: Path = PREDICTIONS_FILE) -> Predictions:
    try:
        with Path(path).open("rb") as fh:
            d = tomllib.load(fh)
    except FileNotFoundError:
        raise ResultError(f"{path}: no predictions file") from None
    except tomllib.TOMLDecodeError as err:
        raise ResultError(f"{path}: not valid TOML: {err}") from None
    return Predictions(d["model"], d["model_digest"], d["date"],
                       {k: float(v["value"]) for k, v in d.get("predictions", {}).items()})
