"""The package installed like any other (a wheel, not the source checkout): it finds its
shipped model and protocols from any folder, runs a protocol, and says where the figure
scripts are."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.standalone


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The package built as a wheel."""
    tmp = tmp_path_factory.mktemp("wheel")
    # built from a copy of what a wheel is made of (setuptools leaves build/ in the source
    # folder and reuses it), with this environment's setuptools (no download)
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("biophys_ltp", "models", "protocols"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp / "wheel"), str(src)], capture_output=True, text=True)
    if build.returncode:
        pytest.fail(f"building the wheel failed:\n{build.stdout}\n{build.stderr}")
    (built,) = (tmp / "wheel").glob("biophys_ltp-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """The wheel unpacked into a folder of its own (its dependencies are this
    environment's); the folder to put first on the import path."""
    site = tmp_path_factory.mktemp("install") / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    return site


def _cli(site, cwd, *argv):
    env = dict(os.environ, PYTHONPATH=str(site), MPLBACKEND="Agg")
    code = ("import sys, biophys_ltp, biophys_ltp.cli as c; "
            f"assert biophys_ltp.__file__.startswith({str(site)!r}), biophys_ltp.__file__; "
            "sys.exit(c.main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, env=env, capture_output=True, text=True)


def test_wheel_carries_the_shipped_model_and_protocols(installed):
    assert (installed / "biophys_ltp" / "models" / "ca1_spine.toml").is_file()
    shipped = sorted(p.name for p in (ROOT / "protocols").glob("*.toml"))
    assert sorted(p.name for p in (installed / "biophys_ltp" / "protocols").glob("*.toml")) == shipped


def test_installed_package_lists_protocols_and_shows_the_model_from_any_folder(installed, tmp_path):
    got = _cli(installed, tmp_path, "protocols")
    assert got.returncode == 0, got.stderr
    assert "stet" in got.stdout and "wtet" in got.stdout
    got = _cli(installed, tmp_path, "model", "show")
    assert got.returncode == 0, got.stderr
    assert "g_ampa" in got.stdout and "tau_ca" in got.stdout


def test_installed_package_runs_a_shipped_protocol(installed, tmp_path):
    got = _cli(installed, tmp_path, "run", "smoke", "--out", "out", "--quiet")
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "out" / "fepsp.csv").stat().st_size > 0


def test_installed_package_says_where_the_figure_scripts_are(installed, tmp_path):
    got = _cli(installed, tmp_path, "reproduce", "--list")
    assert got.returncode == 0, got.stderr
    assert "no figure scripts" in got.stdout and "--figures" in got.stdout
    # pointed at the repository's figures, it finds them
    got = _cli(installed, tmp_path, "reproduce", "--list", "--figures", str(ROOT / "figures"))
    assert got.returncode == 0, got.stderr
    assert "ltp_phases" in got.stdout and "Frey & Morris 1997" in got.stdout


@pytest.mark.slow
def test_wheel_installed_into_a_fresh_venv_runs_a_protocol_from_another_folder(wheel, tmp_path):
    """pip install of the wheel into a new virtual environment (its dependencies taken from
    this environment's site-packages, so nothing is downloaded): the environment's own
    ``biophys-ltp`` program runs a shipped protocol from a folder outside the checkout (a
    build of its own: the build key covers the interpreter's prefix)."""
    import site

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    py = venv / "bin" / "python"
    venv_site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                    check=True, capture_output=True, text=True).stdout.strip())
    # the dependencies: this environment's site-packages, after the venv's own (a path in a
    # .pth file is added as it is; the .pth files there, such as an editable install's, are not read)
    (venv_site / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    got = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
                         capture_output=True, text=True)
    assert got.returncode == 0, got.stdout + got.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"MPLBACKEND": "Agg"}
    where = subprocess.run([str(py), "-c", "import biophys_ltp; print(biophys_ltp.__file__)"], cwd=elsewhere,
                           env=env, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    program = venv / "bin" / "biophys-ltp"
    got = subprocess.run([str(program), "run", "smoke", "--out", "out", "--quiet"], cwd=elsewhere, env=env,
                         capture_output=True, text=True)
    assert got.returncode == 0, got.stdout + got.stderr
    fepsp = (elsewhere / "out" / "fepsp.csv").read_text().splitlines()
    assert "fepsp_pct" in fepsp[0].split(",") and len(fepsp) > 2
