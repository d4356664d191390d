"""Where the shipped model and protocol files are.

They live in the repository's top-level ``models/`` and ``protocols/``; an installed
package (``pip install .``, a wheel) carries them inside it, as ``biophys_ltp/models`` and
``biophys_ltp/protocols`` (``pyproject.toml``, package data).  A source checkout (an
editable install) reads the top-level folders."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """The folder of the shipped ``name`` files (``"models"`` or ``"protocols"``)."""
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name
