"""The runner: owns the Brian2 device, builds (or reuses) the compiled model, runs it.

Only this package (``runner``) calls ``set_device``.  One compiled program serves every
protocol and every parameter value of a model structure:

* parameters are ``(shared, constant)`` variables set through ``run_args``;
* the protocol (segments with warp factors and drug states, pulse times,
  somatic current steps) lives in TimedArrays of fixed capacity, also set
  through ``run_args``;
* the compiled run is long enough for any protocol (``MAX_SIM_DURATION``);
  the program stops itself at the end of the protocol's simulated time, which
  is also set through ``run_args`` (``stop_run_at``: a C++ function that sets
  Brian2's own stop flag), so no step is spent after the protocol.

Build directories live under the cache (``$BIOPHYS_LTP_CACHE`` or
``~/.cache/biophys-ltp``), keyed by the model's structure hash;
a file lock serialises building (one build however many processes ask at once), a mark
shows a build in progress (a build killed half-way is redone from scratch), and every run
writes its results into a directory of its own, so parallel runs never collide.

Modules: ``runner`` (device, build key, building and running), ``buildcache`` (the lock and
its time limit, the mark of a build in progress, the compiler check, a full disk, the
program's time limit), ``network`` (the Brian2 objects, assembled from the model's
mechanisms, and what the program records), ``launch`` (the program's inputs and its direct
start), ``gates`` (rate tables of voltage-gated channels), ``device`` (Brian2's standalone
device with this package's code templates in ``templates/``).
"""

from .launch import RUN_DIR_PREFIX, process_alive, program_inputs, scratch_dir
from ..limits import MAX_SIM_DURATION
from .network import (CONTROL, MEASURE_WINDOW, SAMPLE_INTERVAL, SLOPE_CEILING, SLOPE_WINDOW,
                      Network, RawResults, measurement_settings)
from .runner import build_key, cache_dir, run_compiled, runtime_numpy

__all__ = ["CONTROL", "MAX_SIM_DURATION", "MEASURE_WINDOW", "RUN_DIR_PREFIX", "process_alive", "SAMPLE_INTERVAL", "SLOPE_CEILING",
           "SLOPE_WINDOW", "Network", "RawResults", "build_key", "cache_dir", "measurement_settings",
           "program_inputs", "run_compiled", "runtime_numpy", "scratch_dir"]
