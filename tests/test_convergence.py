"""Is the fine step adequate?  The protocols of tests/test_reference.py at dt = 0.025 ms
against the model's 0.05 ms (both warped, which agrees with the fixed step: test_reference).

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
