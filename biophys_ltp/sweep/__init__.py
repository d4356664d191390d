"""Parameter sweeps: one protocol over a grid of model parameters and protocol timings.

::

    from biophys_ltp.sweep import sweep    # the package exports it too: biophys_ltp.sweep(...)

    res = sweep("stc_strong_weak", {"events[1].at": ["35 min", "65 min", "95 min"],
                                    "tau_z": ["15 min", "30 min"]},
                out="out/stc-sweep", workers=4)
    res.points                      # one row per point: parameters, outcomes, status
    res.timecourse()                # fEPSP time course of every point (long format)

or ``biophys-ltp sweep stc_strong_weak --grid events[1].at=35min,65min,95min
--grid tau_z=15min,30min --out out/stc-sweep``.

Grid names
----------
``NAME``
    A model parameter (``biophys-ltp model show`` lists them), e.g. ``tau_z``.
    Entries under ``[parameters.<mechanism>]`` never recompile; an entry under
    ``[structure]`` compiles one program per distinct value (each cached).
``events[i].KEY``
    Key ``KEY`` of event ``i`` of the protocol, counted from 0 as in the file's
    list of ``[[events]]`` (``events[1]`` is the second event; protocol error
    messages number events from 1 and call it "event 2").  Times: ``at``,
    ``every``, ``dt`` (pairing), ``start`` and ``stop`` (drug); frequencies:
    ``frequency``, ``burst_frequency``, ``spike_frequency`` (pairing); whole numbers:
    ``pulses``, ``repeats``, ``burst_pulses``, ``pairs``, ``spikes`` (pairing).  ``at`` of a
    drug event moves its window and
    keeps its length (as :meth:`Protocol.replace_event_time`).
``protocol.KEY``
    ``protocol.duration``, ``protocol.baseline`` or ``protocol.test_interval``.

Values are strings with units (``"35 min"``, ``"0.6 nS"``), Brian2 quantities,
or bare numbers for dimensionless values and counts.  Names, units and event
indices are checked before anything runs (:class:`SweepError`, or the model's
:class:`~biophys_ltp.model.ModelError`).  A combination of values that makes
the protocol invalid (an event after the end, overlapping inductions) is not
an input error: that point is recorded as failed, with the protocol's message,
and the others run.

The points are the Cartesian product of the grid's values.  A point's id is a
hash of its parameter values (in SI units, so ``"35 min"`` and ``"2100 s"`` are
the same point).

Output folder
-------------
``sweep.json``
    The manifest: protocol, model, fixed parameters, grid, outcome times, the
    column layout and every point with its values.  A later sweep into the same
    folder must be the same sweep (same protocol, model, fixed parameters,
    outcome times and set of points), else :class:`SweepError`.
``points.csv``
    One row per finished point (appended and flushed to disk as each point
    finishes): ``point_id``, ``status`` (``ok`` or ``failed``), one column per
    grid name with the value in the unit of the grid's first value, named
    ``<name>_<unit>`` (``tau_z_min``, ``events[1].at_min``, ``g_ampa_nS``; no
    suffix for dimensionless values and counts), the outcomes, the timings
    ``setup_s``, ``build_s`` (the build check: about 0.5 s when nothing is
    recompiled; 0 when the program starts from the build's launch record, as every
    run after a build's first does), ``run_s`` (the compiled program), ``wall_s`` (the whole
    point), ``worker`` (host:pid), ``finished_at`` (UTC) and ``error`` (the
    exception in one line, empty when ``ok``).
``timecourse.csv``
    Long format: ``point_id``, ``pathway``, ``time_min``, ``fepsp_pct``, one
    row per test pulse of every successful point.
``points/<point_id>/``
    The point's own ``fepsp.csv``, ``state.csv`` and ``metadata.json`` (as
    :meth:`Results.save`), or ``error.txt`` with the traceback of a failure.

Outcomes, per pathway ``P`` of the protocol:

* ``P_induction_min``: the first induction pulse of ``P`` (empty without induction);
* ``P_fepsp_pct_<T>`` for each outcome time ``T`` (default 1 h, 3 h, 8 h): the
  fEPSP (% of baseline) of the test pulse nearest ``T`` after ``P``'s first
  induction pulse, or after the protocol start (time 0) for a pathway without
  induction; empty where no test pulse of ``P`` lies within half a test
  interval of that time (beyond the end of the protocol);
* ``P_fepsp_pct_last``: the last test pulse of ``P``.

Resuming
--------
Running the same sweep again (after Ctrl-C, a killed worker, a crash, or with
``max_points``) skips the points already in ``points.csv`` and runs the rest;
nothing recorded is lost: a point is written completely (its folder, its time
course, then its row, each flushed to disk) before the next result is taken,
and an incomplete write left by a kill is dropped when the folder is opened
again.  Failed points are skipped too, unless ``retry_failed`` (``--retry-failed``)
is given; a retried point appends a new row, and the last row of a point counts.

If a local worker process dies (killed, out of memory), the points it was
running are run again one at a time; a point that kills its worker when it runs
alone is recorded as failed.

Execution
---------
Locally, points run in ``workers`` worker processes ("spawn"), each point a
:func:`~biophys_ltp.simulation.simulate` call: every point runs the model's
compiled program (shared by all processes through the build cache and its file
lock) with its own parameters and protocol passed at start-up, and writes its
results into a folder of its own.  With ``scheduler`` (an address such as
``tcp://host:8786``) or ``client`` (a ``dask.distributed.Client``) the points run
as tasks on a Dask cluster; each worker machine compiles once into its own
build cache (``$BIOPHYS_LTP_CACHE``).  Dask is optional
(``pip install 'dask[distributed]'``).

Layout
------
``grid`` (axes, each point's protocol and parameters, outcomes), ``store`` (the output
folder and :class:`SweepResults`), ``executors`` (one point in a worker, progress, the
local pool and Dask), ``run`` (:func:`sweep` itself).
"""

from .executors import run_point
from .grid import DEFAULT_OUTCOME_TIMES, SweepError, outcomes, parse_grid
from .run import sweep
from .store import SweepResults, load_sweep

__all__ = ["SweepError", "SweepResults", "sweep", "load_sweep", "parse_grid", "run_point", "outcomes",
           "DEFAULT_OUTCOME_TIMES"]
