"""One executor for figures and sweeps (biophys_ltp.executor): simulate_many runs its jobs
on the sweep's process pool, with the same progress display, and hands a job's error back
to the caller."""

from __future__ import annotations

import pytest

from biophys_ltp import simulate_many
from biophys_ltp.protocol import ProtocolError

pytestmark = pytest.mark.standalone


def test_simulate_many_raises_a_jobs_error_in_the_caller_with_its_type(capsys):
    jobs = {"bad": {"protocol": "no_such_protocol"}, "good": {"protocol": "smoke"}}
    with pytest.raises(ProtocolError, match="no_such_protocol"):
        simulate_many(jobs, workers=2, progress=True)
    err = capsys.readouterr().err
    assert "simulate_many: 2 simulations; running 2 in 2 worker processes" in err
    assert "simulate_many interrupted" not in err
