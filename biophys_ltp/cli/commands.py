"""``biophys-ltp run``, ``model show``, ``model list``, ``protocols`` and ``protocol check``."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from .. import readout
from ..errors import InputError
from .args import parse_sets
from .args import error as _error
from .args import table
from ..model import DEFAULT_MODEL, list_models, load_model
from ..protocol import ProtocolError, list_protocols, load_protocol
from ..units import format_quantity



#: Times after a pathway's first induction reported by ``run`` (minutes, label).
SUMMARY_OFFSETS: tuple[tuple[float, str], ...] = (
    (30.0, "+30 min"),
    (60.0, "+1 h"),
    (180.0, "+3 h"),
    (480.0, "+8 h"),
)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def summary_table(results) -> str:
    """fEPSP (% of baseline) per pathway at fixed times after its first induction.

    Columns ``+30 min``, ``+1 h``, ``+3 h``, ``+8 h`` are shown where at least
    one pathway has a test pulse within half a test interval of that time;
    ``last`` is the last recorded value (the only one for pathways without
    induction).
    """
    proto = results.protocol
    fepsp = results.fepsp
    # a test pulse counts as "at" a time within half a test interval of it
    tol = readout.half_test_interval_min(proto)
    values = {
        pathway: [readout.fepsp_after(proto, fepsp, pathway, off, within_min=tol, without_induction="nan")
                  for off, _ in SUMMARY_OFFSETS]
        for pathway in proto.pathways
    }
    used = [k for k in range(len(SUMMARY_OFFSETS))
            if any(not math.isnan(v[k]) for v in values.values())]
    rows = [["pathway", "induction", *(SUMMARY_OFFSETS[k][1] for k in used), "last"]]
    for pathway in proto.pathways:
        pulses = readout.induction_min(proto, pathway)
        row = [pathway, "none" if pulses is None else f"{round(pulses[0], 2):g} min"]
        for k in used:
            v = values[pathway][k]
            row.append("-" if math.isnan(v) else f"{v:.1f}")
        last_min, last = readout.fepsp_last(fepsp, pathway)
        row.append("-" if math.isnan(last) else f"{last:.1f} ({round(last_min, 1):g} min)")
        rows.append(row)
    head = ("fEPSP (the pathway's synaptic current at its test pulses), % of baseline, "
            "after each pathway's first induction")
    notes = [f"note: pathway {pathway}: {why}" for pathway, why in readout.fepsp_gaps(proto).items()]
    return "\n".join([head, table(rows), *notes])


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    from ..simulation import simulate

    params = parse_sets(args.set)
    # Check the inputs, and that the results can be written, before anything is compiled.
    proto = load_protocol(args.protocol)
    load_model(args.model, overrides=params)
    check_writable(args.out)
    results = simulate(proto, args.model, params=params or None, seed=args.seed,
                       reference=args.reference, target=args.target,
                       progress=not args.quiet)
    out = results.save(args.out)
    print(f"{proto.name}")
    print(summary_table(results))
    wall = results.metadata.get("wall_time_s")
    if wall is not None:
        print(f"wall time: {float(wall):.1f} s")
    print(f"results: {out}")
    return 0


def check_writable(out: str) -> None:
    """Refuse an output folder that cannot be written (before a run, not after it)."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out {out}: not a folder")
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"--out {out}: cannot write into {existing}")


# ---------------------------------------------------------------------------
# model / protocols
# ---------------------------------------------------------------------------

def cmd_model_show(args: argparse.Namespace) -> int:
    if args.name is not None and args.model_option is not None and args.name != args.model_option:
        raise InputError(f"model show: two models given ({args.name!r} and --model {args.model_option!r})")
    model = load_model(args.name or args.model_option, overrides=parse_sets(args.set))
    print(model.show())
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    for name in list_models():
        print(f"{name} (default)" if name == DEFAULT_MODEL else name)
    return 0


def cmd_protocols(args: argparse.Namespace) -> int:
    names = list_protocols()
    if not names:
        print("no protocol files shipped")
        return 0
    width = max(len(n) for n in names)
    for stem in names:
        try:
            title = load_protocol(stem).name
        except ProtocolError as err:
            title = f"(invalid: {' '.join(str(err).split())})"
        print(f"{stem:<{width}}  {title}")
    return 0


def cmd_protocol_check(args: argparse.Namespace) -> int:
    """Each file as ``run`` would take it: read and checked on its own, then against the
    model's fine step and the engine's capacity (its schedule is built; nothing runs)."""
    from ..limits import check_protocol

    model = load_model(args.model, overrides=parse_sets(args.set))
    status = 0
    for item in args.files:
        try:
            proto = load_protocol(item)
            schedule = check_protocol(proto, model, reference=args.reference)
        except ProtocolError as err:
            _error(err)
            status = 2
        else:
            print(f"OK {proto.source}: {proto.name} ({schedule.n_segments} schedule segments, "
                  f"{float(schedule.sim_duration):.4g} s simulated at dt = {format_quantity(model.dt)})")
            for pathway, why in readout.fepsp_gaps(proto).items():
                print(f"   note: pathway {pathway}: {why}")
    return status


# ---------------------------------------------------------------------------
# reproduce
