"""Shared fixtures: simulations are expensive, so each is run once per test session."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

FIGURES = Path(__file__).resolve().parent.parent / "figures"


def load_figure(name: str):
    """Import ``figures/fig_<name>.py`` by path (figure scripts are not a package)."""
    if str(FIGURES) not in sys.path:
        sys.path.insert(0, str(FIGURES))
    spec = importlib.util.spec_from_file_location(f"fig_{name}", FIGURES / f"fig_{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def runs_once():
    """``get(jobs)``: the results of ``simulate_many(jobs)``, each job run at most once per
    session (keys name what is run: the reference comparison and the fine-step convergence
    share their warped runs)."""
    from biophys_ltp import simulate_many
    done = {}

    def get(jobs):
        missing = {key: job for key, job in jobs.items() if key not in done}
        if missing:
            done.update(simulate_many(missing))
        return {key: done[key] for key in jobs}

    return get


@pytest.fixture(scope="session")
def biophysics_run():
    """The biophysics protocol as the outcomes run it (biophys_ltp.outcomes: protocol and
    trace window), so that the measurements below and the fitting tool's read one run."""
    from biophys_ltp.outcomes import RUNS, run_options
    from biophys_ltp.simulation import simulate
    return simulate(RUNS["biophysics"](), progress=False, **run_options("biophysics"))


@pytest.fixture(scope="session")
def biophysics(biophysics_run):
    from biophys_ltp.experiments import biophysics_of
    return biophysics_of(biophysics_run)


@pytest.fixture(scope="session")
def ltp_phases():
    """The figure module and its simulations: WTET, STET and STET + anisomycin, 10 h each."""
    fig = load_figure("ltp_phases")
    return fig, fig.simulate_all()


@pytest.fixture(scope="session")
def tagging():
    """Frey & Morris 1997 figure: STC, STC + anisomycin around the weak tetanus, WTET alone."""
    fig = load_figure("tagging")
    return fig, fig.simulate_all()


@pytest.fixture(scope="session")
def ltd_crosstag():
    """Sajikumar figure: WLFS, SLFS, the two cross-tagging protocols and WTET alone."""
    fig = load_figure("ltd_crosstag")
    return fig, fig.simulate_all()


@pytest.fixture(scope="session")
def biophysics_figure():
    """Biophysics figure: one 2-s run per EPSP-spike offset."""
    fig = load_figure("biophysics")
    return fig, fig.simulate_all()


@pytest.fixture(scope="session")
def repetition():
    """One 100-Hz train, and 2-4 trains 1, 5 or 10 min apart (10 h each)."""
    from biophys_ltp import simulate_many
    from biophys_ltp.experiments import repetition_jobs
    return simulate_many(repetition_jobs())


@pytest.fixture(scope="session")
def learning_day():
    """One weak tetanus, six 100-Hz trains crammed, or the same six in two sessions 6 h
    apart (24 h each)."""
    from biophys_ltp import simulate_many
    from biophys_ltp.experiments import learning_day_jobs
    return simulate_many(learning_day_jobs())


@pytest.fixture(scope="session")
def tbs_spacing():
    """One theta burst, and two 10, 30 or 60 min apart (4 h each)."""
    from biophys_ltp import simulate_many
    from biophys_ltp.experiments import tbs_spacing_jobs
    return simulate_many(tbs_spacing_jobs())


@pytest.fixture(scope="session")
def induction(runs_once):
    """The induction figure's 45 runs: 900 pulses at 1-100 Hz and 60 pairings at -100 to
    +100 ms, each with and without APV, and 11 pairing protocols at 0.3 Hz (110 min each;
    slow run only).  The four of them that are held-out experiments' runs
    (biophys_ltp.validation.RUNS) are run once for both, under the validation's keys."""
    import json

    from biophys_ltp.validation import RUNS
    fig = load_figure("induction")
    held_out = {json.dumps(p, sort_keys=True): f"validation: {run}" for run, p in RUNS.items()}
    jobs, keys = fig.all_jobs(), {}
    for key, job in jobs.items():
        shared = held_out.get(json.dumps(job["protocol"], sort_keys=True)) if set(job) == {"protocol"} else None
        keys[key] = shared or f"induction: {key}"
    done = runs_once({keys[key]: job for key, job in jobs.items()})
    return fig, {key: done[k] for key, k in keys.items()}


# The default run's share of the induction figure: the bottom of the frequency response
# (1 Hz, LTD), the two sides of its crossing (10 and 20 Hz), the top (100 Hz) with and
# without APV, and the pairings at -10 and +10 ms with and without APV (~2.5 min on 2
# cores; the 1-Hz run, 900 isolated pulses, is the longest at ~1 min).
INDUCTION_SUBSET = [("frequency", 1.0, False), ("frequency", 10.0, False), ("frequency", 20.0, False),
                    ("frequency", 100.0, False),
                    ("frequency", 100.0, True), ("stdp", -10.0, False), ("stdp", 10.0, False),
                    ("stdp", 10.0, True)]


@pytest.fixture(scope="session")
def induction_subset():
    from biophys_ltp import simulate_many
    fig = load_figure("induction")
    jobs = fig.all_jobs()
    return fig, simulate_many({key: jobs[key] for key in INDUCTION_SUBSET})


@pytest.fixture(scope="session")
def validation_runs(runs_once):
    """``get(names)``: the runs ``names`` of the held-out experiments
    (biophys_ltp.validation.RUNS), by run name, each run at most once per session."""
    from biophys_ltp.validation import RUNS

    def get(names):
        done = runs_once({f"validation: {run}": {"protocol": RUNS[run]} for run in names})
        return {key.removeprefix("validation: "): res for key, res in done.items()}

    return get
