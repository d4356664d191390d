"""The passive cable solution against NEURON (biophys_ltp/crosscheck.py).

The model's morphology reduced to soma + one branch + one spine, with its own
passive parameters, is simulated in Brian2 and in NEURON: a current step into
the soma and a synaptic conductance into the spine head.  Skipped where NEURON
is not installed (``pip install -e '.[neuron]'``), except in continuous integration
(the environment variable ``CI`` set and not empty, as ``.ci/run`` does): there a
missing NEURON fails every test of this file, so that the cross-check cannot drop out
of CI unnoticed.  Windows, where NEURON has no wheels (``pyproject.toml``), skips it.
"""

from __future__ import annotations

import importlib
import os
import sys

import brian2 as b2
import pytest

try:
    importlib.import_module("neuron")
except ImportError as err:
    NEURON_MISSING: str | None = (f"NEURON cannot be imported ({err}); the cross-check against NEURON must run "
                                  f"in CI (CI={os.environ.get('CI', '')!r}): pip install -e '.[test]'")
    if not os.environ.get("CI") or sys.platform == "win32":
        pytest.skip(f"NEURON is not installed ({err})", allow_module_level=True)
else:
    NEURON_MISSING = None

from biophys_ltp.crosscheck import EXPERIMENTS, SITES, crosscheck  # noqa: E402

# Acceptance bound of the cross-check: the two simulators' voltages agree within
# 2 % of the peak deflection from rest, at the soma and in the spine head.
MAX_RELATIVE_DIFF = 0.02

# Smallest peak deflections for the comparison to mean something (a response of a
# fraction of a mV would pass the relative bound for trivial reasons).
MIN_PEAK_MV = {
    ("soma_step", "soma"): 0.5,
    ("soma_step", "head"): 0.5,
    ("spine_synapse", "soma"): 0.5,
    ("spine_synapse", "head"): 2.0,
}


@pytest.fixture(scope="module")
def result():
    if NEURON_MISSING:
        pytest.fail(NEURON_MISSING, pytrace=False)
    before = {"device": b2.get_device(), "target": b2.prefs.codegen.target}
    out = crosscheck()
    out["brian2_before"] = before
    return out


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("site", SITES)
def test_brian2_matches_neuron(result, experiment, site):
    r = result["experiments"][experiment]["sites"][site]
    assert r["peak_deflection_mV"] > MIN_PEAK_MV[(experiment, site)], r
    assert r["max_abs_diff_mV"] <= MAX_RELATIVE_DIFF * r["peak_deflection_mV"], r


def test_spine_head_depolarises_more_than_soma_for_a_spine_synapse(result):
    # the neck resistance separates the head from the dendrite: the responses differ
    sites = result["experiments"]["spine_synapse"]["sites"]
    assert sites["head"]["peak_deflection_mV"] > 2 * sites["soma"]["peak_deflection_mV"], sites


def test_traces_are_on_one_grid(result):
    dt = result["geometry"]["dt_ms"]
    for exp in result["experiments"].values():
        t = exp["time_ms"]
        assert t[0] == 0.0 and t[1] - t[0] == pytest.approx(dt)
        for site in SITES:
            assert exp[f"v_{site}_brian_mV"].shape == t.shape
            assert exp[f"v_{site}_neuron_mV"].shape == t.shape


def test_leaves_brian2_device_and_target_as_they_were(result):
    # the project's engine switches devices in the same process; the cross-check
    # runs on the runtime device with the numpy target and puts both back
    assert b2.get_device() is result["brian2_before"]["device"]
    assert b2.prefs.codegen.target == result["brian2_before"]["target"]
