"""What the command's modules share: the program's name, its error line, ``--set
NAME=VALUE`` parsing and plain-text tables."""

from __future__ import annotations

import sys
from typing import Any, Sequence

from ..errors import InputError
from ..units import strip_quotes

PROG = "biophys-ltp"


def error(message: Any) -> None:
    """One line on stderr: ``biophys-ltp: error: MESSAGE``."""
    text = " ".join(str(message).split("\n")).strip()
    print(f"{PROG}: error: {text}", file=sys.stderr)


def parse_sets(items: Sequence[str] | None) -> dict[str, str]:
    """``["g_ampa=0.6 nS", ...]`` -> ``{"g_ampa": "0.6 nS", ...}`` (later ones win)."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name, value = name.strip(), strip_quotes(value)
        if not sep or not name or not value:
            raise InputError(
                f"--set expects NAME=VALUE (e.g. --set g_ampa=\"0.6 nS\"), got {item!r}"
            )
        out[name] = value
    return out


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned columns."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)
