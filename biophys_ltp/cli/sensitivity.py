"""``biophys-ltp sensitivity``: the command-line side of :mod:`biophys_ltp.sensitivity`.

The command costs one ``add_sensitivity_parser(sub)`` call in
:func:`biophys_ltp.cli.build_parser`; the screening (and SALib) is imported only when the
command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SENSITIVITY_HELP = "Morris screening of the fitted parameters on the main outcomes (resumable)"

SENSITIVITY_DESCRIPTION = """\
A global sensitivity screening (Morris elementary effects, SALib): every fitted
parameter is moved across its plausible range (biophys_ltp/sensitivity_ranges.toml:
a factor of 2 either side in log space, +-5 mV for potentials) along N random
one-at-a-time trajectories, and every main outcome is evaluated for each of the
N x (parameters + 1) parameter sets (all outcomes of one set: 13 runs, ~22 s on two
cores).  DIR gets design.json, design.csv, evaluations.csv (one row per set, appended
as each batch finishes: running the same command again resumes), morris.csv (one row
per outcome and parameter, in the outcome's unit per whole range of the parameter:
mu*, its 95 % confidence half-width (none from one trajectory), mu, sigma, mu*
relative to the outcome's largest and its share of the outcome's summed mu*, with the
outcome's unit and the trajectories used and dropped) and summary.json (the
parameters no outcome depends on, the outcomes that hang on a single parameter,
failed sets); a DIR that holds anything else is refused.  --margins instead
measures how far each fitted threshold lies from the protocol signatures it was fitted between (a few short
runs): DIR/margins.csv and DIR/signatures.csv.  Exit status: 0, or 1 when a run of
some parameter set failed (its trajectory is left out of the outcomes it reads)."""


def add_sensitivity_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``sensitivity`` subcommand to the ``biophys-ltp`` parser's subparsers."""
    from ..model import DEFAULT_MODEL

    p = sub.add_parser("sensitivity", help=SENSITIVITY_HELP, description=SENSITIVITY_DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder (a screening of the same design there is resumed)")
    p.add_argument("--trajectories", type=int, default=None, metavar="N",
                   help="Morris trajectories (default 4; --quick: 1)")
    p.add_argument("--levels", type=int, default=None, metavar="L", help="grid levels, even (default 4)")
    p.add_argument("--seed", type=int, default=None, metavar="S", help="seed of the trajectories (default 1)")
    p.add_argument("--params", default=None, metavar="A,B,...",
                   help="parameters to screen (default: every fitted parameter with a range)")
    p.add_argument("--outcomes", default=None, metavar="X,Y,...",
                   help="outcomes (default: the main ones, biophys_ltp.outcomes.MAIN)")
    p.add_argument("--range", action="append", default=[], metavar="NAME=LOW,HIGH[,log|linear]",
                   help="replace a parameter's range, e.g. --range k_ins=0.1/s,0.2/s (repeatable)")
    p.add_argument("--model", default=None, metavar="NAME",
                   help=f"model name or file (default {DEFAULT_MODEL})")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default $BIOPHYS_LTP_WORKERS or the number of CPUs)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on a Dask cluster (e.g. tcp://host:8786); needs pip install 'dask[distributed]'")
    p.add_argument("--quick", action="store_true",
                   help="a smoke test: 1 trajectory over k_ins, theta_signal and tau_bap on wtet_30min and "
                        "stet_8h (8 runs); options given explicitly win")
    p.add_argument("--margins", action="store_true",
                   help="measure the fitted thresholds' margins to the protocol signatures instead")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=cmd_sensitivity)
    return p


def _list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from .. import sensitivity as sens
    from ..errors import InputError

    out = Path(args.out)
    if args.margins:
        extra = [flag for flag, given in (("--trajectories", args.trajectories), ("--levels", args.levels),
                                          ("--seed", args.seed), ("--params", args.params),
                                          ("--outcomes", args.outcomes), ("--range", args.range or None),
                                          ("--quick", args.quick or None), ("--scheduler", args.scheduler))
                 if given is not None]
        if extra:
            raise InputError(f"--margins measures the fitted thresholds only; it takes --out, --model, --workers "
                             f"and --quiet, not {', '.join(extra)}")
        return _margins(args, out)
    params = _list(args.params)
    outcomes = _list(args.outcomes)
    trajectories = args.trajectories
    if args.quick:
        params = params if params is not None else list(sens.QUICK_PARAMS)
        outcomes = outcomes if outcomes is not None else list(sens.QUICK_OUTCOMES)
        trajectories = trajectories if trajectories is not None else 1
    ranges = {}
    for item in args.range:
        r = sens.parse_range(item)
        ranges[r.name] = r
    if params is not None and not params:
        raise InputError("--params names no parameter")
    if outcomes is not None and not outcomes:
        raise InputError("--outcomes names no outcome")
    unused = sorted(set(ranges) - set(params if params is not None else sens.default_parameters(args.model)))
    if unused:
        raise InputError(f"--range given for {', '.join(unused)}, which this screening does not cover (--params)")
    res = sens.morris(params, outcomes,
                      trajectories=sens.DEFAULT_TRAJECTORIES if trajectories is None else trajectories,
                      levels=sens.DEFAULT_LEVELS if args.levels is None else args.levels,
                      seed=sens.DEFAULT_SEED if args.seed is None else args.seed,
                      workers=args.workers, scheduler=args.scheduler, out=out, model=args.model,
                      ranges=ranges or None, progress=not args.quiet)
    print(summary(res))
    return 1 if res.failed else 0


def summary(res) -> str:
    """The ranking of every outcome, the two summaries, failures and where the files are."""
    from .. import sensitivity as sens

    d = res.design
    lines = [f"Morris screening: {len(d['params'])} parameters, {len(d['outcomes'])} outcomes, "
             f"{d['trajectories']} trajectories x {len(d['params']) + 1} = {d['sets']} parameter sets "
             f"({res.ran} evaluated now, {res.skipped} stored before); levels {d['levels']}, seed {d['seed']}",
             "mu*: mean |elementary effect|, in the outcome's unit per whole range of the parameter", ""]
    lines.append(sens.ranking(res.table))
    lines.append("")
    none = sens.insensitive(res.table)
    lines.append(f"parameters no outcome depends on (mu* < {sens.INSENSITIVE_BELOW:.0%} of each outcome's "
                 f"largest): {', '.join(none) if none else 'none'}")
    single = sens.single_parameter(res.table)
    if len(single):
        lines.append(f"outcomes that hang on a single parameter (more than {sens.SINGLE_PARAMETER_SHARE:.0%} of "
                     f"the summed mu*):")
        lines += [f"  {r.outcome}: {r.parameter} ({r.share:.0%})" for r in single.itertuples()]
    else:
        lines.append(f"outcomes that hang on a single parameter (more than {sens.SINGLE_PARAMETER_SHARE:.0%} of "
                     f"the summed mu*): none")
    dropped = {o: n for o, n in res.dropped.items() if n}
    if res.failed:
        lines.append(f"{len(res.failed)} parameter set(s) with a failed run, e.g. set "
                     f"{next(iter(res.failed))}: {next(iter(res.failed.values()))}")
    if dropped:
        lines.append("trajectories left out (a NaN outcome): "
                     + ", ".join(f"{o} {n}" for o, n in dropped.items()))
    if res.out is not None:
        lines.append(f"results: {res.out / sens.TABLE}, {res.out / sens.SUMMARY}, {res.out / sens.EVALUATIONS}")
    return "\n".join(lines)


def _margins(args: argparse.Namespace, out: Path) -> int:
    from .. import sensitivity as sens

    if out.exists() and not out.is_dir():
        from ..errors import InputError
        raise InputError(f"--out {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    signatures = sens.measure_signatures(args.model, workers=args.workers, progress=not args.quiet)
    margins = sens.threshold_margins(signatures, model=args.model)
    margins_csv, signatures_csv, margins_json = (out / name for name in sens.MARGINS_FILES)
    signatures.to_csv(signatures_csv, index=False)
    margins.to_csv(margins_csv, index=False)
    margins_json.write_text(json.dumps({"thresholds": {k: v[1] for k, v in sens.THRESHOLDS.items()}},
                                       indent=2) + "\n")
    print(sens.margins_text(margins))
    print(f"results: {margins_csv}, {signatures_csv}", file=sys.stdout)
    return 0
