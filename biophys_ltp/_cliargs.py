"""What the command-line modules share (:mod:`biophys_ltp.cli` and
:mod:`biophys_ltp._sweep_cli`, which import this and nothing of each other): the program's
name, its error line, and ``--set NAME=VALUE`` parsing."""

from __future__ import annotations

import sys
from typing import Any, Sequence

PROG = "biophys-ltp"


def error(message: Any) -> None:
    """One line on stderr: ``biophys-ltp: error: MESSAGE``."""
    text = " ".join(str(message).split("\n")).strip()
    print(f"{PROG}: error: {text}", file=sys.stderr)


def strip_quotes(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text


def parse_sets(items: Sequence[str] | None) -> dict[str, str]:
    """``["g_ampa=0.6 nS", ...]`` -> ``{"g_ampa": "0.6 nS", ...}`` (later ones win)."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name, value = name.strip(), strip_quotes(value)
        if not sep or not name or not value:
            raise ValueError(
                f"--set expects NAME=VALUE (e.g. --set g_ampa=\"0.6 nS\"), got {item!r}"
            )
        out[name] = value
    return out
