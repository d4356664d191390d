"""``biophys-ltp validate``: the held-out experiments, prediction beside model and experiment."""

from __future__ import annotations

import argparse
import math
import sys

from ..errors import ResultError
from ..model import DEFAULT_MODEL
from .args import PROG, table


def add_validate_parser(sub) -> None:
    p = sub.add_parser(
        "validate", help="run the held-out experiments and compare them with the committed predictions "
                         "and the experiments",
        description="Run the experiments the model was not tuned on (biophys_ltp/validation.py) and print, "
                    "for each, the experimental value and band (biophys_ltp/targets.toml, role validation), "
                    "the model's committed prediction (biophys_ltp/predictions.toml) and the model now.")
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments to run (default: all)")
    p.add_argument("--model", default=None, metavar="NAME", help=f"model name or file (default {DEFAULT_MODEL})")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes (default: $BIOPHYS_LTP_WORKERS or the CPU count)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--calibration", action="store_true",
                   help="first run every outcome that has a target (biophys_ltp/outcomes.py) and print each with "
                        "its band, those with a calibration target (the ones a fit uses) apart from the held-out "
                        "ones: for a model other than the default, whose outcomes the stored figures do not show")
    p.add_argument("--strict", action="store_true",
                   help="exit status 1 when the model misses an experiment (or, with --calibration, an "
                        "outcome's band)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=cmd_validate)


def _fmt(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1f}"


def _band(low: float, high: float) -> str:
    lo = "" if math.isinf(low) else f"{low:g}"
    hi = "" if math.isinf(high) else f"{high:g}"
    return f">= {lo}" if not hi else f"<= {hi}" if not lo else f"{lo} to {hi}"


def rows_for(values: dict[str, float], predictions: dict[str, float] | None) -> list[dict]:
    """One row per experiment: its target, the prediction, the model now and the verdict."""
    from ..targets import TARGETS
    from ..validation import EXPERIMENTS
    rows = []
    for name, value in values.items():
        exp = EXPERIMENTS[name]
        t = TARGETS[exp.target]
        rows.append({
            "experiment": name, "unit": exp.unit, "target": t.id, "role": t.role,
            "experiment_value": t.value, "experiment_sem": t.sem, "band_low": t.band[0], "band_high": t.band[1],
            "source": f"{t.paper}, {t.figure}",
            "prediction": (predictions or {}).get(name, float("nan")), "model": value,
            "met": bool(t.band[0] <= value <= t.band[1]),
        })
    return rows


def cmd_validate(args: argparse.Namespace) -> int:
    from ..targets import TARGETS
    from ..validation import EXPERIMENTS, experiment_names, load_predictions, model_digest, run_experiments
    if args.list:
        # the names and the model are checked as for a run: a typo is not listed away
        chosen = experiment_names(args.names or None)
        if args.model is not None:
            from ..model import load_model
            load_model(args.model)
        for name, e in ((n, EXPERIMENTS[n]) for n in chosen):
            t = TARGETS[e.target]
            print(f"{name}: {e.description} [{t.paper}, {t.figure}]")
        return 0
    names = experiment_names(args.names or None)
    calibration_misses = _calibration(args) if args.calibration else []
    try:
        pred = load_predictions()
    except ResultError as err:
        print(f"{PROG}: no committed predictions ({err})", file=sys.stderr)
        pred = None
    values = run_experiments(names, model=args.model, workers=args.workers,
                             progress=False if args.quiet else None)
    digest = model_digest(args.model)
    rows = rows_for(values, pred.values if pred else None)
    out = [("experiment", "experiment (band)", "prediction", "model now", "", "source")]
    for r in rows:
        exp = (f"{_fmt(r['experiment_value'])}" + (f" +- {r['experiment_sem']:g}" if r["experiment_sem"] else "")
               if r["experiment_value"] is not None else "")
        out.append((r["experiment"], f"{exp} ({_band(r['band_low'], r['band_high'])}) {r['unit']}".strip(),
                    _fmt(r["prediction"]), _fmt(r["model"]), "ok" if r["met"] else "MISS", r["source"]))
    print(table(out))
    misses = [r["experiment"] for r in rows if not r["met"]]
    print(f"\n{len(rows) - len(misses)} of {len(rows)} experiments within their band"
          + (f"; missed: {', '.join(misses)}" if misses else ""))
    if pred is not None:
        if pred.model_digest == digest:
            print(f"predictions committed on {pred.date} for this model and code (digest {digest}): "
                  f"the model now is the model that made them")
        else:
            print(f"the model or the code changed since the predictions of {pred.date} (digest "
                  f"{pred.model_digest}, now {digest}): 'model now' is not a prediction")
    return 1 if (args.strict and (misses or calibration_misses)) else 0


def _calibration(args: argparse.Namespace) -> list[str]:
    """Run the outcomes that have a target (biophys_ltp/outcomes.py) and print them in two
    tables, those with a calibration target (what a fit may use) and those with a held-out
    one; return the missed ones."""
    from ..fit import band_text, calibration_ids
    from ..outcomes import OUTCOMES, evaluate
    from ..targets import BANDS, TARGETS
    ids = calibration_ids()
    names = [n for n, o in OUTCOMES.items() if o.target in BANDS]
    values = evaluate(names, model=args.model, workers=args.workers, progress=False if args.quiet else None)
    misses = []
    for role, chosen in (("calibration", [n for n in names if OUTCOMES[n].target in ids]),
                         ("held-out", [n for n in names if OUTCOMES[n].target not in ids])):
        out = [(f"{role} outcome", "band", "model", "", "source")]
        missed = []
        for name in chosen:
            band, value = BANDS[OUTCOMES[name].target], values[name]
            met = value in band
            if not met:
                missed.append(name)
            t = TARGETS[OUTCOMES[name].target]
            shown = "-" if math.isnan(value) else f"{value:.2f}"  # two decimals: a value at a band's edge
            out.append((name, band_text(band), shown, "ok" if met else "MISS", f"{t.paper}, {t.figure}"))
        print(table(out))
        print(f"\n{len(chosen) - len(missed)} of {len(chosen)} {role} outcomes within their band"
              + (f"; missed: {', '.join(missed)}" if missed else "") + "\n")
        misses += missed
    return misses
