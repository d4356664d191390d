"""Shared fixtures: simulations are expensive, so each is run once per test session."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory):
    """Builds go to the user's cache unless BIOPHYS_LTP_CACHE says otherwise (CI sets it)."""
    yield os.environ.get("BIOPHYS_LTP_CACHE")


@pytest.fixture(scope="session")
def biophysics():
    from biophys_ltp.experiments import biophysics as run
    return run()


@pytest.fixture(scope="session")
def ltp_runs():
    """WTET, STET and STET + anisomycin (10 h each), the foundation experiments."""
    import biophys_ltp as bl
    return {name: bl.simulate(name, progress=False) for name in ("wtet", "stet", "stet_anisomycin")}
