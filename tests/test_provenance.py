"""The code digest in the figures' inputs hash (biophys_ltp/provenance.py, figures/_common.py):
a change of code that computes results marks stored data stale, a change of a comment or
a docstring does not."""

from __future__ import annotations

import ast
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from biophys_ltp import provenance

FIGURES = Path(__file__).resolve().parent.parent / "figures"


@pytest.fixture
def package(tmp_path):
    """A copy of the package's sources."""
    root = tmp_path / "biophys_ltp"
    shutil.copytree(provenance.PACKAGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


def _change_a_number(path: Path) -> None:
    """Change the first number in the code of a Python file (a line of code, not a comment)."""
    data = path.read_bytes()
    tree = ast.parse(data)
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.Constant) and type(n.value) in (int, float))
    lines = data.splitlines(keepends=True)
    assert node.lineno == node.end_lineno
    line = lines[node.lineno - 1]
    # col offsets are byte offsets of the UTF-8 source
    new = repr(node.value + 1).encode()
    lines[node.lineno - 1] = line[:node.col_offset] + new + line[node.end_col_offset:]
    path.write_bytes(b"".join(lines))
    assert ast.dump(ast.parse(path.read_bytes())) != ast.dump(tree)


def _change_comments(path: Path) -> None:
    """Add comment lines and blank lines, and a comment at the end of a line of code."""
    lines = path.read_bytes().splitlines(keepends=True)
    tree = ast.parse(b"".join(lines))
    stmt = next(n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))
    i = stmt.end_lineno - 1
    lines[i] = lines[i].rstrip(b"\r\n") + b"  # a comment added by the test\n"
    lines.insert(i + 1, b"\n# another comment\n\n")
    lines.append(b"\n# a last comment\n")
    path.write_bytes(b"".join(lines))


def _change_docstrings(path: Path) -> None:
    """Rewrite the module's docstring and the first function's docstring (if any)."""
    data = path.read_bytes()
    tree = ast.parse(data)
    docs = [tree.body[0]]
    docs += [fn.body[0] for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
             and ast.get_docstring(fn) is not None][:1]
    assert all(isinstance(d, ast.Expr) and isinstance(d.value.value, str) for d in docs)
    lines = data.splitlines(keepends=True)
    for doc in sorted(docs, key=lambda d: d.lineno, reverse=True):
        first, last = lines[doc.lineno - 1], lines[doc.end_lineno - 1]
        lines[doc.lineno - 1:doc.end_lineno] = [first[:doc.col_offset] + b'"""Other words,\n\non two lines."""'
                                                + last[doc.end_col_offset:]]
    path.write_bytes(b"".join(lines))


def test_covered_files_name_the_code_that_computes_results():
    names = {p.relative_to(provenance.PACKAGE_DIR).as_posix() for p in provenance.covered_files()}
    for name in ("engine/network.py", "engine/launch.py", "engine/runner.py", "engine/gates.py",
                 "engine/device.py", "engine/templates/network.cpp", "engine/templates/spatialstateupdate.cpp",
                 "schedule.py", "protocol.py", "events.py", "mechanisms.py", "mechanism_types.py", "model.py",
                 "units.py", "simulation.py", "readout.py"):
        assert name in names
    for name in ("cli/__init__.py", "sweep/run.py", "executor.py", "crosscheck.py", "provenance.py"):
        assert name not in names


def test_digest_does_not_depend_on_where_the_package_is(package):
    assert provenance.code_digest(package) == provenance.code_digest()


@pytest.mark.parametrize("part", ["engine/network.py", "engine/launch.py", "schedule.py", "readout.py",
                                  "simulation.py", "events.py", "mechanisms.py"])
def test_a_changed_line_of_code_changes_the_digest(package, part):
    before = provenance.code_digest(package)
    _change_a_number(package / part)
    assert provenance.code_digest(package) != before


def test_a_changed_template_changes_the_digest(package):
    before = provenance.code_digest(package)
    template = package / "engine" / "templates" / "network.cpp"
    lines = template.read_text().splitlines(keepends=True)
    template.write_text("".join(lines[:1] + ["static int unused_by_the_test = 0;\n"] + lines[1:]))
    assert provenance.code_digest(package) != before


@pytest.mark.parametrize("part", ["engine/network.py", "schedule.py", "readout.py", "simulation.py"])
def test_comments_and_docstrings_leave_the_digest_unchanged(package, part):
    before = provenance.code_digest(package)
    _change_comments(package / part)
    _change_docstrings(package / part)
    assert provenance.code_digest(package) == before


def test_a_file_outside_the_covered_code_leaves_the_digest_unchanged(package):
    before = provenance.code_digest(package)
    (package / "executor.py").write_text((package / "executor.py").read_text() + "\nEXTRA = 1\n")
    assert provenance.code_digest(package) == before


def test_a_covered_file_that_is_gone_is_an_error(package):
    (package / "readout.py").unlink()
    with pytest.raises(FileNotFoundError, match="readout.py"):
        provenance.code_digest(package)


def test_normalised_python_ignores_only_what_does_not_run():
    code = 'def f(x):\n    """Doc."""\n    return x + 1  # note\n'
    assert provenance.normalised_python(code) == provenance.normalised_python(
        '"""Module."""\n\n\ndef f(x):\n    # a comment\n    """Other doc."""\n\n    return x + 1\n')
    assert provenance.normalised_python(code) != provenance.normalised_python(code.replace("+ 1", "+ 2"))
    # a string that is a value is code
    assert provenance.normalised_python('X = "a"\n') != provenance.normalised_python('X = "b"\n')


# --- the figures' inputs hash -------------------------------------------------------------

def _load_script(path: Path, name: str):
    if str(FIGURES) not in sys.path:
        sys.path.insert(0, str(FIGURES))  # for _common
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tagging():
    return _load_script(FIGURES / "fig_tagging.py", "_provenance_test_fig_tagging")


def test_figure_inputs_hash_follows_the_package_code(tagging, monkeypatch):
    before = tagging.inputs_hash()
    assert tagging.inputs_hash() == before
    monkeypatch.setattr(provenance, "code_digest", lambda root=provenance.PACKAGE_DIR: "0" * 16)
    assert tagging.inputs_hash() != before


def test_figure_inputs_hash_follows_the_figure_script(tagging, tmp_path):
    """The script that calls ``_common.inputs_hash`` is part of it, by content: a copy
    elsewhere has the same hash, a copy with a comment changed too, one with code changed
    does not."""
    before = tagging.inputs_hash()
    copy = tmp_path / "fig_tagging.py"
    shutil.copy(FIGURES / "fig_tagging.py", copy)
    assert _load_script(copy, "_provenance_test_copy").inputs_hash() == before
    _change_comments(copy)
    _change_docstrings(copy)
    assert _load_script(copy, "_provenance_test_comments").inputs_hash() == before
    copy.write_text(copy.read_text() + "\nEXTRA_SETTING = 2\n")
    assert _load_script(copy, "_provenance_test_code").inputs_hash() != before


def test_figure_inputs_hash_follows_common(tagging, monkeypatch, tmp_path):
    import _common as common

    before = tagging.inputs_hash()
    changed = tmp_path / "_common.py"
    changed.write_text(Path(common.__file__).read_text() + "\nEXTRA_SETTING = 2\n")
    monkeypatch.setattr(common, "__file__", str(changed))
    assert tagging.inputs_hash() != before


def test_inputs_hash_takes_the_script_it_is_given(tmp_path):
    if str(FIGURES) not in sys.path:
        sys.path.insert(0, str(FIGURES))
    import _common as common

    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("X = 1\n")
    b.write_text("X = 2\n")
    assert common.inputs_hash(["smoke"], script=a) != common.inputs_hash(["smoke"], script=b)
    assert common.inputs_hash(["smoke"], script=a) == common.inputs_hash(["smoke"], script=a)
