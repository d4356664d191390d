"""``biophys-ltp fit``: the command-line side of :mod:`biophys_ltp.fit`.

The command costs one ``add_fit_parser(sub)`` call in :func:`biophys_ltp.cli.build_parser`;
the fitting module (and ``cma``) is imported only when the command runs.
"""

from __future__ import annotations

import argparse

FIT_HELP = "fit model parameters to the calibration targets with CMA-ES (resumable)"

FIT_DESCRIPTION = """\
Search the --params of the model with CMA-ES until the --outcomes fall in their
calibration targets' bands (biophys_ltp/targets.toml).  Each parameter is searched
between its bounds (default: start/3 to start*3; potentials start +- 10 mV) on a
log scale (potentials: linear).  The loss is the sum over the targets of
(distance outside the band / scale)^2, 0 inside, scale = the band's width or 10
percentage points for a one-sided band; a failed run adds a large penalty.  The
fit stops when every band is met, after --generations generations, or when
CMA-ES stops.  --band narrows an outcome's band for this fit (to hold a model
near another model's value as well as inside the experiment's band).

DIR receives design.json, evaluations.csv (every parameter set evaluated, after
each generation), history.csv (the loss per generation), and at the end
fitted_model.toml (the model file with the best values; use it with --model) and
report.md (each target before and after, the loss history, the time taken, the
command that reproduces the fit).  Running the same command again resumes the
fit where it stopped (a larger --generations continues it); a different fit in
DIR is refused.  Exit status: 0 when the best parameter set meets every band, 1
when the fit stopped without (the files are written all the same)."""

PARAMS_HELP = """\
parameters to fit, comma-separated (e.g. tau_early,tau_z), or 'slow' for the
slow-phase set: tau_early, K_prp, tau_z, k_signal, k_signal_pho, theta_signal,
tau_expr_off, tau_transport"""

OUTCOMES_HELP = """\
outcomes to fit, comma-separated (biophys_ltp.outcomes; each must have a
calibration target).  Default: for slow-phase parameters those of the
slow-phase outcomes wtet_30min, wtet_3h, stet_1h, stet_8h, stet_aniso_8h,
stc_s2_8h, wlfs_30min, wlfs_3h, slfs_8h and stet_aniso_first_hour_pp whose
target is a calibration target, else every outcome with a calibration target
(--list shows them)"""


def add_fit_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``fit`` subcommand to the ``biophys-ltp`` parser's subparsers."""
    from ..model import DEFAULT_MODEL

    p = sub.add_parser("fit", help=FIT_HELP, description=FIT_DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", default=None, metavar="A,B,...", help=PARAMS_HELP + " (required)")
    p.add_argument("--outcomes", default=None, metavar="A,B,...", help=OUTCOMES_HELP)
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (an existing fit there is resumed; required)")
    p.add_argument("--list", action="store_true",
                   help="list the outcomes a fit can use, each with its calibration target's band and the "
                        "parameters tuned on it, and the fitted parameters that have no target; then exit")
    p.add_argument("--model", default=None, metavar="NAME",
                   help=f"model name or file whose values are the start (default {DEFAULT_MODEL})")
    p.add_argument("--start", action="append", metavar="NAME=VALUE", default=[],
                   help='start a fitted parameter from this value instead of the model\'s, e.g. --start '
                        'tau_z="20 min" (repeatable)')
    p.add_argument("--perturb", default=None, metavar="P",
                   help="start from the start values each multiplied by 1 + P or 1 - P (e.g. 30%%; a potential "
                        "shifted by +- P * 10 mV); the signs are drawn from --seed")
    p.add_argument("--bound", action="append", metavar="NAME=LOW,HIGH", default=[],
                   help='bounds of a fitted parameter, e.g. --bound tau_z="5 min,45 min" (repeatable; default '
                        "start/3 to start*3, potentials start +- 10 mV)")
    p.add_argument("--band", action="append", metavar="OUTCOME=LOW,HIGH", default=[],
                   help="fit an outcome into the part of its target's band within LOW-HIGH (numbers in the "
                        "target's unit; a side may be empty), e.g. --band stdp_+10ms=126,136 to hold a model "
                        "near another's value as well (repeatable; recorded in the design and the report)")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help="seed of the perturbation's signs and of CMA-ES's samples (default 1)")
    p.add_argument("--popsize", type=int, default=None, metavar="N",
                   help="parameter sets per generation (default 4 + 3 ln(number of parameters))")
    p.add_argument("--generations", type=int, default=None, metavar="N",
                   help="stop after N generations at most (default 30)")
    p.add_argument("--sigma0", type=float, default=None, metavar="X",
                   help="CMA-ES's initial step, as a fraction of every parameter's range (default 0.25, at most 1/3)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default $BIOPHYS_LTP_WORKERS or the number of CPUs)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the simulations on a Dask cluster (e.g. tcp://host:8786); needs "
                        "pip install 'dask[distributed]'")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=cmd_fit)
    return p


def list_fittable() -> str:
    """The outcomes with a calibration target (outcome, target, band, the parameters tuned
    on it) and the parameters marked fitted that no calibration target names."""
    from ..fit import UNTARGETED, band_text, calibration_ids
    from ..outcomes import OUTCOMES
    from ..targets import BANDS, TARGETS

    ids = calibration_ids()
    lines = ["outcomes with a calibration target (what --outcomes takes):"]
    for name, o in OUTCOMES.items():
        if o.target in ids:
            t = TARGETS[o.target]
            lines.append(f"  {name}: {o.description}; target {o.target} ({t.paper}), band "
                         f"{band_text(BANDS[o.target])}; tuned on it: {', '.join(t.tuned) or 'none'}")
    lines.append("fitted parameters without a calibration target (a fit cannot re-derive them):")
    lines += [f"  {name}: {why}" for name, why in UNTARGETED.items()]
    return "\n".join(lines)


def cmd_fit(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..fit import DEFAULT_GENERATIONS, DEFAULT_SEED, DEFAULT_SIGMA0, fit
    from ..units import strip_quotes

    if args.list:
        print(list_fittable())
        return 0
    missing = [option for option, value in (("--params", args.params), ("--out", args.out)) if not value]
    if missing:
        raise InputError(f"fit needs {' and '.join(missing)} (or --list to see what can be fitted)")

    def pairs(items: list[str], option: str, example: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in items:
            name, sep, value = item.partition("=")
            if not sep or not name.strip() or not strip_quotes(value):
                raise InputError(f"{option} expects {example}, got {item!r}")
            if name.strip() in out:
                raise InputError(f"{option} {name.strip()} is given twice ({out[name.strip()]!r} and "
                                 f"{strip_quotes(value)!r}): give it once")
            out[name.strip()] = strip_quotes(value)
        return out

    start = pairs(args.start, "--start", 'NAME=VALUE (e.g. --start tau_z="20 min")')
    bounds = pairs(args.bound, "--bound", 'NAME=LOW,HIGH (e.g. --bound tau_z="5 min,45 min")')
    bands = pairs(args.band, "--band", "OUTCOME=LOW,HIGH (e.g. --band stdp_+10ms=126,136)")
    res = fit(args.params, args.outcomes, out=args.out, model=args.model, start=start or None, perturb=args.perturb,
              bounds=bounds or None, bands=bands or None, popsize=args.popsize,
              max_generations=DEFAULT_GENERATIONS if args.generations is None else args.generations,
              sigma0=DEFAULT_SIGMA0 if args.sigma0 is None else args.sigma0,
              seed=DEFAULT_SEED if args.seed is None else args.seed,
              workers=args.workers, scheduler=args.scheduler, progress=not args.quiet)
    n = len(res.outcomes)
    print(f"fit of {', '.join(res.params)}: {res.reason}; best loss {res.best_loss:.4g} (start "
          f"{res.start_loss:.4g}), {res.bands_met}/{n} bands met, {res.generations} generations, "
          f"{res.evaluations} parameter sets")
    print(res.table())
    print("fitted values: " + ", ".join(f"{k} = {v}" for k, v in res.best.items()))
    print(f"results: {res.files['report']}, {res.files['model']}")
    return 0 if res.bands_met == n else 1
