"""The package's error types: every problem the package reports on purpose is one of them.

* :class:`InputError` (a ``ValueError``): the user's input is wrong (a protocol, a model
  file, a parameter value, a sweep grid).  ``protocol check`` finds these before anything
  is simulated; the command line shows one line and exits with status 2.
* :class:`SetupError` (a ``RuntimeError``): the machine cannot run the model (no C++
  compiler, a full disk, a build lock or a program that exceeds its time limit).  The
  message says what to do; exit status 1.
* :class:`SimulationError` (a ``RuntimeError``): a run failed or recorded something that
  cannot be right (NaN, a program that stopped before the protocol's end); the message
  names the variable, compartment and time.  Exit status 1.
* :class:`ResultError` (a ``LookupError``): a value asked of a result is not in it (no test
  pulse near the requested time, no test pulse after an induction).

Anything else that escapes is a bug in the package: the command line says so and writes
the traceback to a log file.
"""

from __future__ import annotations

from typing import Any, Iterable

__all__ = ["BiophysLTPError", "InputError", "ProtocolError", "SetupError", "SimulationError", "ResultError",
           "known_names", "whole_number"]


class BiophysLTPError(Exception):
    """Base of every error the package reports on purpose."""


class InputError(BiophysLTPError, ValueError):
    """The user's input (protocol, model, parameter, grid) is invalid."""


class ProtocolError(InputError):
    """A protocol file or dictionary is invalid (or asks more than the model or engine can do)."""


class SetupError(BiophysLTPError, RuntimeError):
    """The machine cannot build or run the model: compiler, disk, time limits."""


class SimulationError(BiophysLTPError, RuntimeError):
    """The compiled program failed or recorded something inconsistent."""


class ResultError(BiophysLTPError, LookupError):
    """A value asked of a result is not in it."""


def known_names(names: Iterable[str] | None, known: Iterable[str], what: str,
                default: Iterable[str] | None = None) -> list[str]:
    """``names`` as a list (``default``, else every known name, for None), each one of
    ``known``; an InputError names the unknown ones (as ``what``) and lists the known."""
    known = list(known)
    names = list((known if default is None else default) if names is None else names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"unknown {what}(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
    return names


def whole_number(value: Any, what: str, least: int = 0, most: int | None = None, why: str = "") -> int:
    """``value`` as an int where it is a whole number (a Python or numpy integer, not a bool
    and not a float, which a count or a seed is never meant to be) from ``least`` to
    ``most``; an :class:`InputError` "``what`` must be a whole number >= least (why), got
    value" otherwise.  The counts, seeds and worker numbers that the Python API takes
    (simulate, simulate_many, sweeps, fits, screenings) and a model's structural counts are
    read here; a protocol's counts have their own messages (events.py)."""
    import numpy as np

    span = f">= {least}" if most is None else f"from {least} to {most}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < least or (most is not None and value > most):
        raise InputError(f"{what} must be a whole number {span}{f' ({why})' if why else ''}, got {value!r}")
    return int(value)
