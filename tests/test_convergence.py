"""Are the fine step and the compartments adequate?  The protocols of tests/test_reference.py
at dt = 0.025 ms against the model's 0.05 ms (both warped, which agrees with the fixed step:
test_reference); and the outcomes that load the oblique branches most with more compartments
per spine on them (space_convergence in figures/tolerances.toml).

The slow variables (early and late weight, tag, proteins) must agree within
``step_convergence.state``, and every test pulse's fEPSP within
``step_convergence.fepsp_pct`` (0.5 percentage point; measured: README, "The fine step").
"""

from __future__ import annotations

import re

import pytest

from biophys_ltp.model import load_model
from biophys_ltp.regression import tolerances
from test_reference import FAST, SLOW, _jobs, states_agree

pytestmark = [pytest.mark.standalone, pytest.mark.slow]

FEPSP = tolerances("step_convergence")["fepsp_pct"]
STATE = tolerances("step_convergence")["state"]
STATE_COLUMNS = ("early_weight", "late_weight", "tag", "proteins")
PROTOCOLS = {**FAST, **SLOW}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, runs_once):
    """Each protocol at dt 0.05 ms (the warped runs of test_reference, shared) and 0.025 ms."""
    model = load_model()
    text = open(model.source).read()
    fine, n = re.subn(r'^dt = \{ value = "[^"]*"', 'dt = { value = "0.025 ms"', text, flags=re.M)
    assert n == 1
    path = tmp_path_factory.mktemp("model") / "ca1_spine_dt025.toml"
    path.write_text(fine)
    jobs = {(name, "0.025 ms"): {"protocol": proto, "model": str(path)} for name, (proto, _) in PROTOCOLS.items()}
    jobs.update({key: job for key, job in _jobs(PROTOCOLS).items() if key[1] == "warped"})
    got = runs_once(jobs)
    return {(name, "0.05 ms" if step == "warped" else step): res for (name, step), res in got.items()}


def _state_agrees(runs, name):
    a, b = runs[(name, "0.05 ms")], runs[(name, "0.025 ms")]
    assert b.metadata["schedule"]["dt_ms"] == pytest.approx(0.025)
    states_agree(a, b, STATE_COLUMNS, STATE)


def _fepsp_agrees(runs, name):
    a, b = runs[(name, "0.05 ms")], runs[(name, "0.025 ms")]
    m = a.fepsp.merge(b.fepsp, on=["time_min", "pathway"], suffixes=("_coarse", "_fine"))
    assert len(m) == len(a.fepsp)
    off = (m.fepsp_pct_coarse - m.fepsp_pct_fine).abs()
    worst = m.loc[off.idxmax(), ["time_min", "pathway", "fepsp_pct_coarse", "fepsp_pct_fine"]]
    assert off.max() <= FEPSP.abs, worst.to_dict()


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_synaptic_state_does_not_depend_on_the_fine_step(runs, name):
    _state_agrees(runs, name)


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_fepsp_does_not_depend_on_the_fine_step(runs, name):
    _fepsp_agrees(runs, name)


# ---------------------------------------------------------------------------
# The oblique branches' compartments (structure entry oblique_compartments_per_spine)

#: Outcomes whose runs load the oblique branches most: the strong tetanus (three 100-Hz
#: trains, the branches depolarised for a second each), the spine's Ca2+ with an EPSP and a
#: bAP, and a +10 ms pairing.
SPACE_FEPSP = ("stet_1h", "stet_8h", "stdp_+10ms")
SPACE_CELL = ("bap_250um", "ca_bap", "ca_supralinearity")
SPACE_PP = tolerances("space_convergence")["outcome_pp"]
SPACE_REL = tolerances("space_convergence")["cell_rel"]


@pytest.mark.parametrize("model, finer", [
    ("ca1_layout", "3"),
    pytest.param("ca1_spine", "3", marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
        "the default model's 20-um oblique compartments (one per spine) are not converged: with three per "
        "spine the strong tetanus's fEPSP is 0.9-1.0 points lower (stet_8h 147.44 against 148.36 %) and the "
        "Ca2+ per bAP 2.2 % lower (0.917 against 0.938 uM); measured, README 'The oblique compartments'"))),
])
def test_outcomes_do_not_depend_on_the_oblique_compartments(runs_once, model, finer):
    """The model's cell (one compartment per spine on its oblique branches) against the same
    cell with ``finer`` compartments per spine (an odd number: each neck then joins the
    compartment centred on its spine, as with one): the fEPSP outcomes of SPACE_FEPSP agree
    within space_convergence.outcome_pp, the cell's own outcomes (SPACE_CELL) within
    space_convergence.cell_rel (figures/tolerances.toml).  The layout cell's own runs are
    those of tests/test_layout.py (same keys: run once a session)."""
    from biophys_ltp.outcomes import jobs_for, measure, run_options

    names = SPACE_FEPSP + SPACE_CELL
    label = "layout" if model == "ca1_layout" else "default"
    jobs = {}
    for run, proto in jobs_for(names).items():
        jobs[f"{label} outcome: {run}"] = {"protocol": proto, "model": model, **run_options(run)}
        jobs[f"{label} outcome, {finer} compartments per spine: {run}"] = {
            "protocol": proto, "model": model, "params": {"oblique_compartments_per_spine": finer},
            **run_options(run)}
    done = runs_once(jobs)
    coarse = measure(names, {k.split(": ", 1)[1]: r for k, r in done.items() if k.startswith(f"{label} outcome:")})
    fine = measure(names, {k.split(": ", 1)[1]: r for k, r in done.items() if "per spine" in k})
    problems = [f"{n}: {coarse[n]:.3f} against {fine[n]:.3f} ({SPACE_PP.reason})" for n in SPACE_FEPSP
                if not abs(coarse[n] - fine[n]) <= SPACE_PP.abs]
    problems += [f"{n}: {coarse[n]:.4f} against {fine[n]:.4f} ({SPACE_REL.reason})" for n in SPACE_CELL
                 if not abs(coarse[n] - fine[n]) <= SPACE_REL.rel * abs(fine[n])]
    assert not problems, "\n".join(problems)
