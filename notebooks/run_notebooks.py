"""Execute the notebooks in this folder from top to bottom.

    python notebooks/run_notebooks.py                    # quick check (BIOPHYS_LTP_QUICK=1)
    python notebooks/run_notebooks.py --full             # the real thing: 10-h protocols, full grids
    python notebooks/run_notebooks.py --write            # also store the outputs in the notebooks
    python notebooks/run_notebooks.py 01_tutorial.ipynb  # only the notebooks named

By default the notebooks run with ``BIOPHYS_LTP_QUICK=1``: short protocols and tiny
parameter grids, a few minutes in all once the model is compiled; this is what CI runs, so
that a notebook that breaks fails the build.  ``--full`` runs them without it (as a reader
would), which takes tens of minutes.

Each notebook runs in a fresh kernel of the Python interpreter that runs this script (run it
with the project's environment, e.g. ``.venv/bin/python``), with the notebook's folder as
working directory.  The first failing notebook stops the run: its name and the error are
printed and the exit status is 1.  Without ``--write`` the notebook files are not changed.

Needs ``nbclient``, ``nbformat``, ``ipykernel`` and ``ipywidgets`` besides the package.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from traitlets import default
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

HERE = Path(__file__).resolve().parent
KERNEL_NAME = "python3"
QUICK_VARIABLE = "BIOPHYS_LTP_QUICK"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class _ThisInterpreter(KernelSpecManager):
    """Kernel specs as usual, except that ``python3`` is always this interpreter.

    A ``python3`` kernel spec installed in a user or system folder may start another
    Python, one without the package; the notebooks must run in this environment.
    """

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name == KERNEL_NAME:
            from ipykernel.kernelspec import RESOURCES
            return KernelSpec(resource_dir=RESOURCES, display_name="Python 3 (ipykernel)", language="python",
                              argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"])
        return super().get_kernel_spec(kernel_name)


class _KernelManager(KernelManager):
    @default("kernel_spec_manager")
    def _this_interpreter(self) -> KernelSpecManager:
        return _ThisInterpreter(data_dir=self.data_dir)


def find_notebooks(names: list[str]) -> list[Path]:
    if not names:
        return sorted(p for p in HERE.glob("*.ipynb") if not p.name.startswith("."))
    found = []
    for name in names:
        path = Path(name)
        for candidate in (path, HERE / path.name, HERE / f"{path.name}.ipynb"):
            if candidate.is_file():
                found.append(candidate.resolve())
                break
        else:
            raise SystemExit(f"run_notebooks: no notebook {name!r} (looked in {HERE})")
    return found


def execute(path: Path, timeout: int, write: bool) -> float:
    """Run one notebook in a new kernel; return its wall time.  Raises on the first failing cell."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name=KERNEL_NAME, kernel_manager_class=_KernelManager, timeout=timeout,
                            startup_timeout=120, resources={"metadata": {"path": str(path.parent)}},
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])
    t0 = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - t0
    if write:
        nbformat.write(nb, path)
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: every notebooks/*.ipynb)")
    parser.add_argument("--full", action="store_true",
                        help=f"run the full notebooks (without {QUICK_VARIABLE}=1): long protocols, big grids")
    parser.add_argument("--write", action="store_true", help="write the outputs back into the notebooks")
    parser.add_argument("--timeout", type=int, default=1200, metavar="S",
                        help="time limit per cell in seconds (default 1200)")
    args = parser.parse_args(argv)

    if args.full:
        os.environ.pop(QUICK_VARIABLE, None)
    else:
        os.environ[QUICK_VARIABLE] = "1"
    paths = find_notebooks(args.notebooks)
    if not paths:
        print(f"run_notebooks: no notebooks in {HERE}", file=sys.stderr)
        return 1
    mode = "full" if args.full else f"quick ({QUICK_VARIABLE}=1)"
    print(f"Running {len(paths)} notebook(s), {mode}, kernel {sys.executable}", flush=True)
    total = 0.0
    for path in paths:
        print(f"{path.name} ...", end=" ", flush=True)
        t0 = time.perf_counter()
        try:
            wall = execute(path, args.timeout, args.write)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
            print(f"FAILED after {time.perf_counter() - t0:.0f} s", flush=True)
            print(f"\nrun_notebooks: {path.name} failed:\n{_ANSI.sub('', str(err))}", file=sys.stderr)
            return 1
        except Exception as err:  # kernel did not start, unreadable notebook, ...
            print(f"FAILED after {time.perf_counter() - t0:.0f} s", flush=True)
            print(f"\nrun_notebooks: {path.name} failed: {type(err).__name__}: {_ANSI.sub('', str(err))}",
                  file=sys.stderr)
            return 1
        total += wall
        print(f"ok, {wall:.0f} s" + (" (outputs written)" if args.write else ""), flush=True)
    print(f"All {len(paths)} notebook(s) ran in {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
