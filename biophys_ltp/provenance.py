"""Digests of the code that computes stored results.

The figures' stored data (``figures/data``) carry an inputs hash
(``figures/_common.py: inputs_hash``) that ``biophys-ltp reproduce --check`` compares
with the current one.  Besides the model, the protocols and the engine's settings, that
hash covers the code that turns them into numbers: :func:`code_digest` digests the
package's files named in :data:`COVERED`.

Python files are digested in a normalised form, the canonical text of their syntax tree
with docstrings and other bare string statements removed (the parser already drops
comments, blank lines and layout), so that editing a comment or a docstring does not
mark data stale, while any change of what the code does does.  The canonical text leaves
out empty fields and does not depend on the Python version's ``ast.dump`` layout, so
interpreters from 3.11 on give the same digest for the same code.  Other files (the C++
templates) are digested as they are, with line endings made uniform.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path
from typing import Iterable

PACKAGE_DIR = Path(__file__).resolve().parent

#: Files of the package (glob patterns relative to the package folder) whose code can move
#: a stored value.  Why each is here:
#:
#: * ``engine/*.py``: the Brian2 network, its control code, the measurement of the EPSP,
#:   what is recorded and how the program's inputs are written (``network``, ``launch``),
#:   rate tables (``gates``), the device and the build (``device``, ``runner``);
#: * ``engine/templates/*``: the C++ code templates compiled into the program;
#: * ``schedule.py``: biological time to warped simulation time, pulse and spike steps;
#: * ``protocol.py``, ``events.py``: pulse times of every event, test pulses, presets;
#: * ``drugs.py``, ``drugs.toml``: what each drug does (its target and level);
#: * ``mechanisms.py``, ``mechanism_types.py``: the model's equations and how their parts
#:   become Brian2 code;
#: * ``model.py``: parameter loading, units and overrides, the equations' declarations;
#: * ``units.py``: quantities in text (parameter values, protocol times);
#: * ``simulation.py``: records into the fEPSP, state and trace tables;
#: * ``readout.py``: "the fEPSP at time T" and "T after induction";
#: * ``experiments.py``: protocols built in code and analyses whose numbers are stored
#:   columns (Mg block, bAP amplitude, added potentiation, induction tables);
#: * ``sweep/grid.py``: how a sweep point changes the protocol and the parameters, and the
#:   point's outcomes (fEPSP after induction), stored by the capture sweep figure.
#:
#: Not covered, because they do not change a computed value: ``cli/`` (the command
#: line), the rest of ``sweep/`` (``run``, ``store``, ``executors``: planning, the
#: resumable folder, which stores floats exactly, and the Dask executor), ``executor.py``
#: (the process pool hands results over unchanged), ``crosscheck.py`` (the NEURON
#: cross-check, no figure data), ``regression.py`` (tolerances of the comparison),
#: ``targets.py`` (experimental targets, drawn but not computed), ``errors.py`` (error
#: types), ``_paths.py`` (where shipped files are; their content is in the model hash and
#: the protocols), ``_version.py`` (the version is a separate part of the inputs hash),
#: ``__init__.py`` and ``provenance.py`` itself.
COVERED: tuple[str, ...] = (
    "engine/*.py",
    "engine/templates/*",
    "schedule.py",
    "protocol.py",
    "events.py",
    "drugs.py",
    "drugs.toml",
    "mechanisms.py",
    "mechanism_types.py",
    "model.py",
    "units.py",
    "simulation.py",
    "readout.py",
    "experiments.py",
    "sweep/grid.py",
)


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` with every statement that is a bare string constant removed (docstrings of
    modules, classes and functions, and strings documenting attributes), and the empty
    string pieces of f-strings."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if isinstance(body, list):
                body[:] = [stmt for stmt in body
                           if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
                                   and isinstance(stmt.value.value, str))]
        if isinstance(node, ast.JoinedStr):
            # empty pieces of an f-string, which some interpreters (3.12.1) keep
            node.values = [v for v in node.values if not (isinstance(v, ast.Constant) and v.value == "")]
    return tree


def _canonical(node: object) -> str:
    """Text of a syntax tree that depends only on its nodes and their values: node type and
    fields by name, empty fields (None, []) left out, no positions."""
    if isinstance(node, ast.AST):
        parts = []
        for name in node._fields:
            value = getattr(node, name, None)
            if value is None or (isinstance(value, list) and not value):
                continue
            parts.append(f"{name}={_canonical(value)}")
        return f"{type(node).__name__}({','.join(parts)})"
    if isinstance(node, list):
        return "[" + ",".join(_canonical(v) for v in node) + "]"
    return repr(node)


def normalised_python(source: str | bytes, filename: str = "<source>") -> str:
    """The canonical form of Python ``source``: its syntax tree without comments, layout
    and docstrings."""
    return _canonical(_without_docstrings(ast.parse(source, filename=filename)))


def file_digest(path: str | Path) -> str:
    """SHA-256 of one file: a ``.py`` file's normalised form, any other file's bytes with
    line endings made uniform."""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix != ".py":
        return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()
    # parsing is the slow part; the same bytes give the same digest
    raw = hashlib.sha256(data).hexdigest()
    if raw not in _PYTHON_DIGESTS:
        _PYTHON_DIGESTS[raw] = hashlib.sha256(normalised_python(data, str(path)).encode()).hexdigest()
    return _PYTHON_DIGESTS[raw]


#: Digests of normalised Python sources by the digest of their bytes.
_PYTHON_DIGESTS: dict[str, str] = {}


def covered_files(root: str | Path = PACKAGE_DIR, patterns: Iterable[str] = COVERED) -> list[Path]:
    """The files under ``root`` that :data:`COVERED` names, sorted by relative path.  A
    pattern that names no file is an error (a renamed module would drop out silently)."""
    root = Path(root)
    files: set[Path] = set()
    for pattern in patterns:
        found = [p for p in root.glob(pattern) if p.is_file()]
        if not found:
            raise FileNotFoundError(f"{root}: no file matches {pattern!r} (biophys_ltp.provenance.COVERED)")
        files.update(found)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def code_digest(root: str | Path = PACKAGE_DIR) -> str:
    """Digest of the code that computes results: every file of :func:`covered_files` by its
    path relative to ``root`` and its :func:`file_digest`."""
    root = Path(root)
    h = hashlib.sha256()
    for path in covered_files(root):
        h.update(f"{path.relative_to(root).as_posix()}\0{file_digest(path)}\n".encode())
    return h.hexdigest()[:16]
