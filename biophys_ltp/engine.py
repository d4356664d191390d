"""The runner: owns the Brian2 device, builds (or reuses) the compiled model, runs it.

Only this module calls ``set_device``.  One compiled program serves every
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
a file lock serialises building, and every run writes its results into a
directory of its own, so parallel runs never collide.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import gc
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brian2 as b2
import numpy as np

from brian2.units.constants import faraday_constant

from . import gates
from . import mechanisms as mech
from .device import DEVICE_NAME, templates_digest
from .model import Model
from .schedule import Schedule, ScheduleSettings
from .units import format_quantity

PULSE_CAPACITY = 4096  # pulses per pathway (SLFS: 2700 + test pulses)
SPIKE_CAPACITY = 1024  # somatic current steps
SEGMENT_CAPACITY = 32768  # schedule segments (SLFS: ~9 per burst)
# EPSP amplitude: the peak within this window after each pulse (a test EPSP peaks 3-4 ms
# after the pulse at the soma, its initial slope is steepest at 1-2 ms)
MEASURE_WINDOW = 10 * b2.ms
SLOPE_WINDOW = 5 * b2.ms  # initial slope: steepest rise within this window (before any spike)
# A test pulse on a strongly potentiated pathway can fire the cell.  As the population
# spike is left out of a field EPSP's slope (taken on the initial rise), the slope is taken
# only while the soma is less than this far above its potential at the pulse: below the
# spike threshold (~15 mV above rest), above the ~5-mV baseline test EPSP, and above the
# point of steepest rise of larger EPSPs.
SLOPE_CEILING = 8 * b2.mV
SAMPLE_INTERVAL = 60 * b2.second  # slow variables sampled every biological minute
FAR_FUTURE = 1e9  # seconds: padding for unused capacity
# The compiled run's duration: any protocol's simulated time (settling included) must fit.
# The program stops at the protocol's own end (``sim_end``), so a long compiled duration
# costs nothing.  36 h of simulated time: the 10-h protocols simulate minutes, and even the
# fixed-step reference of a 10-h protocol fits.
MAX_SIM_DURATION = 131072 * b2.second

log = logging.getLogger("biophys_ltp")


# the modules whose code goes into the compiled program besides the model's equations
_ENGINE_SOURCES = ("engine.py", "device.py", "gates.py")


@functools.lru_cache(maxsize=None)
def _engine_source_digest() -> str:
    """The engine's own equations, its C++ functions and the code templates (read once per
    process: build_key is asked for at every run)."""
    h = hashlib.sha256(templates_digest().encode())
    for name in _ENGINE_SOURCES:
        h.update((Path(__file__).resolve().parent / name).read_bytes())
    return h.hexdigest()[:16]


def _toolchain() -> dict[str, str]:
    """What else goes into the generated code and its compiler flags: the Brian2 and numpy
    versions and the interpreter (its include paths), so that two environments sharing a
    cache folder do not rebuild each other's programs."""
    return {"brian2": b2.__version__, "numpy": np.__version__, "python": sys.version,
            "prefix": sys.prefix}


def build_key(model: Model) -> str:
    """Key of ``model``'s compiled program (its folder in the build cache): the model's
    structure and equations (not parameter values), the engine source that turns them into
    a network, and the toolchain."""
    payload = {"structure": model.structure_key(), "engine": _engine_source_digest(), "toolchain": _toolchain()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def measurement_settings() -> dict[str, str]:
    """How the program measures EPSPs and samples slow variables (strings with units): for
    results' metadata and for the hashes of stored figure data."""
    return {name: format_quantity(value) for name, value in
            (("measure_window", MEASURE_WINDOW), ("slope_window", SLOPE_WINDOW),
             ("slope_ceiling", SLOPE_CEILING), ("sample_interval", SAMPLE_INTERVAL))}


def cache_dir() -> Path:
    root = os.environ.get("BIOPHYS_LTP_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "biophys-ltp"


@b2.implementation("cpp", """
double stop_run_at(const double t, const double t_end)
{
    // Brian2's own flag (also set by Ctrl-C): the run loop ends after this step
    if (t >= t_end)
        Network::_globally_stopped = true;
    return 0.0;
}
""", headers=['"network.h"'])
@b2.check_units(t=b2.second, t_end=b2.second, result=1)
def stop_run_at(t, t_end):
    """Ends the compiled run once ``t >= t_end`` (C++ only; the runtime target runs the
    protocol's duration exactly and ignores it)."""
    return 0.0


@dataclass
class RawResults:
    """What the compiled program recorded, as plain arrays in SI units."""
    measure: dict[str, np.ndarray]
    path_samples: dict[str, np.ndarray]
    cell_samples: dict[str, np.ndarray]
    traces: dict[str, np.ndarray]
    timings: dict[str, float] = field(default_factory=dict)
    build_dir: str = ""
    sim_run_s: float = float("nan")  # simulated time the compiled program ran
    # how the program was started: "brian2" (through Brian2's code generation and build),
    # "direct" (from the build's launch record) or "runtime" (numpy target, no program)
    launch: str = ""


@contextlib.contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _install_atomic_static_arrays() -> None:
    """Make Brian2's rewrite of a build's ``static_arrays`` atomic.

    Every ``device.build()`` rewrites the files in ``static_arrays/`` in place (truncate,
    then write), even when nothing changed.  Worker processes share one build directory:
    a worker that builds while another worker's program starts and reads those files
    could hand it a half-written array.  Here Brian2 writes them into a private folder
    and each file then replaces the shared one with one rename, so a starting program
    reads either the old or the new file, both complete and identical.
    """
    from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
    original = getattr(CPPStandaloneDevice, "write_static_arrays", None)
    if original is None:  # another Brian2 layout: nothing to make atomic here
        return
    if getattr(original, "_biophys_ltp_atomic", False):
        return

    def write_static_arrays(self, directory):
        staging = Path(directory) / f".static_arrays-{os.getpid()}-{uuid.uuid4().hex}"
        (staging / "static_arrays").mkdir(parents=True)
        try:
            original(self, str(staging))
            target = Path(directory) / "static_arrays"
            target.mkdir(exist_ok=True)
            for f in (staging / "static_arrays").iterdir():
                os.replace(f, target / f.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    write_static_arrays._biophys_ltp_atomic = True
    CPPStandaloneDevice.write_static_arrays = write_static_arrays


def _run_command() -> list[str]:
    """The command that starts the compiled program: under ``setpriv --pdeathsig KILL``
    where util-linux has it (Linux), so that the program dies with the Python process that
    waits for it (a killed test run or worker no longer leaves it running for minutes)."""
    setpriv = shutil.which("setpriv")
    if setpriv and sys.platform.startswith("linux"):
        return [setpriv, "--pdeathsig", "KILL", "./main"]
    return ["./main"]


def _quiet_brian() -> None:
    b2.prefs.logging.console_log_level = "WARNING"
    b2.prefs.logging.file_log = False
    b2.prefs.logging.delete_log_on_exit = True
    b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{max(os.cpu_count() or 1, 1)}"]
    b2.prefs.devices.cpp_standalone.run_cmd_unix = _run_command()
    for name in ("brian2", "brian2.devices", "brian2.codegen"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _neuron_extra() -> str:
    # The run's control state, one value for the whole cell (shared, so that everything
    # computed from it is computed once per step): the schedule segment and its warp factor
    # and drug states, biological time, the somatic current step and the end of the run
    # (set each step by CONTROL).  fast: the warp factor seen by the fast variables
    # (membrane potential, gates, conductances, calcium); 1 while biological time stands
    # still (settling), so that they still relax then.  The cable solver
    # (templates/spatialstateupdate.cpp) reads it by this name.
    return """
seg : integer (shared)
seg_steps : 1 (shared)
growth : 1 (shared)
growth_now : 1 (shared)
warp : 1 (shared)
fast : 1 (shared)
fast_prev : 1 (shared)
apv : 1 (shared)
anisomycin : 1 (shared)
trace_on : 1 (shared)
t_real : second (shared)
kspk : integer (shared)
spike_now : 1 (shared)
step_until : second (shared)
step_on : 1 (shared)
stopping : 1 (shared)
step_duration : second (shared, constant)
sim_end : second (shared, constant)
trace_here : 1 (constant)
v_gate : volt
"""


def _synapse_extra(n_syn: int) -> str:
    # what the pathway needs at every step: its kinase and phosphatase totals (nuclear
    # signal), its conductance (pathway population) and the mean late weight of its
    # original spines (slot = 0; growth of new spines)
    return (
        f"kin_path_pre = kin : 1 (summed)\n"
        f"pho_path_pre = pho_active : 1 (summed)\n"
        f"g_ampa_path_pre = g_ampa_syn : siemens (summed)\n"
        f"g_nmda_path_pre = g_nmda_syn : siemens (summed)\n"
        f"z_mean_pre = z_late*(1 - slot)/{n_syn} : 1 (summed)\n"
    )


# Pathway means only for the records (state samples every biological minute, traces): each
# synapse adds its share on the pathway's "record" event (a pathway of the Synapses), the
# monitors record after that, and the pathway resets them.  Means are over the pathway's
# original spines (slot = 0); new spines count in its number of spines.
MEANS = ("e_mean", "tag_mean", "ampar_mean", "vol_mean", "kin_mean", "pho_mean")
MEAN_OF = {"e_mean": "e_early", "tag_mean": "tag", "ampar_mean": "ampar", "vol_mean": "spine_volume",
           "kin_mean": "kin", "pho_mean": "pho"}


def _record_means(n_syn: int) -> str:
    lines = [f"{mean}_pre += {MEAN_OF[mean]}*(1 - slot)/{n_syn}" for mean in MEANS]
    return "\n".join(lines + ["spines_pre += present"])


PATHWAY_EQS = """
k : integer
prp : 1
t_last : second
pending : 1
v_soma : volt (linked)
v_branch_point : volt (linked)
v_branch : volt
t_real : second (linked)
trace_on : 1 (linked)
v_prev : volt
v0 : volt
amp_max : volt
slope_max : volt/second
next_sample : second
kin_path : 1
pho_path : 1
g_ampa_path : siemens
g_nmda_path : siemens
e_mean : 1
vol_mean : 1
z_mean : 1
tag_mean : 1
ampar_mean : 1
kin_mean : 1
pho_mean : 1
spines : 1
measure_window : second (shared, constant)
slope_window : second (shared, constant)
slope_ceiling : volt (shared, constant)
sample_interval : second (shared, constant)
"""

PATHWAY_TRACK = """
slope_now = (v_soma - v_prev)/dt
slope_max = slope_max + int(slope_now > slope_max and t < t_last + slope_window and v_soma - v0 < slope_ceiling)*(slope_now - slope_max)
amp_max = amp_max + int(v_soma - v0 > amp_max)*(v_soma - v0 - amp_max)
v_prev = v_soma
v_branch = v_branch_point
"""

# The cell group (gene expression) reads the control state of the neuron
CELL_EQS = """
warp : 1 (linked)
anisomycin : 1 (linked)
t_real : second (linked)
next_sample : second
sample_interval : second (shared, constant)
"""

@b2.implementation("cpp", """
static inline double ramp_power(const double growth, const double n)
{
    return growth == 1.0 ? 1.0 : pow(growth, n);
}
""")
@b2.check_units(growth=1, n=1, result=1)
def ramp_power(growth, n):
    """growth**n, the warp's growth over n steps of a segment; without the C library's pow()
    where the warp is constant (growth 1: the active stretches, the whole reference run)."""
    growth, n = np.broadcast_arrays(np.asarray(growth, float), np.asarray(n, float))
    return np.where(growth == 1.0, 1.0, growth ** n)


# The schedule, run once per step on the neuron's shared control variables
CONTROL = """
seg += int(t >= seg_sim((seg + 1)*second) - 0.5*dt)
seg_steps = floor((t - seg_sim(seg*second))/dt + 0.5)
growth = seg_growth(seg*second)
growth_now = ramp_power(growth, seg_steps)
warp = seg_warp(seg*second)*growth_now
fast_prev = fast
fast = clip(warp, 1, 1e12)
apv = seg_apv(seg*second)
anisomycin = seg_aniso(seg*second)
trace_on = seg_trace(seg*second)
t_real = seg_real(seg*second) + dt*seg_warp(seg*second)*((growth_now - 1)/(growth - 1 + int(growth == 1)) + int(growth == 1)*seg_steps)
spike_now = int(t >= spike_time(kspk*second) - 0.5*dt)
step_until = spike_now*(t + step_duration) + (1 - spike_now)*step_until
kspk += spike_now
step_on = int(t < step_until - 0.5*dt)
stopping = stop_run_at(t, sim_end)
"""


# The Brian2 objects' names (fixed in Network) that parameters of each model group go to.
GROUP_OBJECTS = {"neuron": "neuron", "neck": "neck", "synapse": "synapses", "cell": "cell",
                 "population": "population"}


def program_inputs(model: Model, schedule: Schedule, settings: ScheduleSettings) -> dict[str, Any]:
    """Every value the compiled program takes when it starts (parameters, protocol data), by
    its Brian2 command-line name (``object.variable``, or ``timedarray.values``)."""
    dt = schedule.dt
    n_path = len(model.pathways)
    args: dict[str, Any] = {}
    for name, p in model.parameters.items():
        args[f"{GROUP_OBJECTS[p.group]}.{name}"] = p.value
    args["population.n_syn"] = float(model.n_syn)
    if settings.test_tail <= MEASURE_WINDOW:
        raise ValueError(f"test_tail ({settings.test_tail}) must outlast the EPSP measurement window "
                         f"({MEASURE_WINDOW}), which must lie in real time")
    args["pathway.measure_window"] = MEASURE_WINDOW
    args["pathway.slope_window"] = SLOPE_WINDOW
    args["pathway.slope_ceiling"] = SLOPE_CEILING
    args["pathway.sample_interval"] = SAMPLE_INTERVAL
    args["cell.sample_interval"] = SAMPLE_INTERVAL
    args["neuron.step_duration"] = settings.step_duration
    if schedule.sim_duration > MAX_SIM_DURATION:
        raise ValueError(f"protocol needs {schedule.sim_duration} of simulated time; the compiled run "
                         f"holds {MAX_SIM_DURATION}")
    # the last step of the protocol's simulated time (the runtime target stops there too)
    args["neuron.sim_end"] = schedule.sim_duration + model.dt

    nseg = schedule.n_segments
    if nseg + 1 > SEGMENT_CAPACITY:
        raise ValueError(f"protocol needs {nseg} schedule segments; capacity is {SEGMENT_CAPACITY - 1}")

    def padded(values, fill):
        out = np.full(SEGMENT_CAPACITY, fill, dtype=float)
        out[:len(values)] = values
        return out

    dt_s = float(dt)
    args["seg_sim.values"] = padded(schedule.seg_sim_start * dt_s, FAR_FUTURE) * b2.second
    args["seg_real.values"] = padded(schedule.seg_real_start * dt_s, 0.0) * b2.second
    args["seg_warp.values"] = padded(schedule.seg_warp, 0.0)
    args["seg_growth.values"] = padded(schedule.seg_growth, 1.0)
    args["seg_apv.values"] = padded(schedule.seg_apv, 0.0)
    args["seg_aniso.values"] = padded(schedule.seg_anisomycin, 0.0)
    args["seg_trace.values"] = padded(schedule.seg_trace, 0.0)
    spikes = np.full(SPIKE_CAPACITY, FAR_FUTURE)
    if len(schedule.spike_sim) > SPIKE_CAPACITY - 1:
        raise ValueError(f"protocol has {len(schedule.spike_sim)} somatic steps; capacity is {SPIKE_CAPACITY - 1}")
    spikes[:len(schedule.spike_sim)] = schedule.spike_sim * dt_s
    args["spike_time.values"] = spikes * b2.second
    pulses = np.full((PULSE_CAPACITY, n_path), FAR_FUTURE)
    for p, name in enumerate(model.pathways):
        # a protocol may leave some of the model's pathways unstimulated
        times = schedule.pulse_sim.get(name, np.zeros(0, dtype=np.int64))
        if len(times) > PULSE_CAPACITY - 1:
            raise ValueError(f"pathway {name} has {len(times)} pulses; capacity is {PULSE_CAPACITY - 1}")
        pulses[:len(times), p] = times * dt_s
    args["pulse_time.values"] = pulses * b2.second
    args[f"{gates.TABLE_NAME}.values"] = gates.gate_table(model)
    return args


class Network:
    """The Brian2 objects of one model structure, built inside a fresh device."""

    def __init__(self, model: Model):
        self.model = model
        n_path, n_syn = len(model.pathways), model.n_syn
        morpho, self.idx = model.morphology()
        s = model.structure
        zeros = np.zeros
        self.ta = {
            "seg_sim": b2.TimedArray(zeros(SEGMENT_CAPACITY) * b2.second, dt=1 * b2.second, name="seg_sim"),
            "seg_real": b2.TimedArray(zeros(SEGMENT_CAPACITY) * b2.second, dt=1 * b2.second, name="seg_real"),
            "seg_warp": b2.TimedArray(zeros(SEGMENT_CAPACITY), dt=1 * b2.second, name="seg_warp"),
            "seg_growth": b2.TimedArray(zeros(SEGMENT_CAPACITY), dt=1 * b2.second, name="seg_growth"),
            "seg_apv": b2.TimedArray(zeros(SEGMENT_CAPACITY), dt=1 * b2.second, name="seg_apv"),
            "seg_aniso": b2.TimedArray(zeros(SEGMENT_CAPACITY), dt=1 * b2.second, name="seg_aniso"),
            "seg_trace": b2.TimedArray(zeros(SEGMENT_CAPACITY), dt=1 * b2.second, name="seg_trace"),
            "spike_time": b2.TimedArray(zeros(SPIKE_CAPACITY) * b2.second, dt=1 * b2.second, name="spike_time"),
            "pulse_time": b2.TimedArray(zeros((PULSE_CAPACITY, n_path)) * b2.second, dt=1 * b2.second,
                                        name="pulse_time"),
        }
        self.ta[gates.TABLE_NAME] = gates.table_timedarray()
        ns = dict(self.ta)
        ns.update(gates.table_functions(self.ta[gates.TABLE_NAME], model.dt))
        ns["faraday_constant"] = faraday_constant
        ns["stop_run_at"] = stop_run_at
        ns["ramp_power"] = ramp_power

        self.neuron = b2.SpatialNeuron(
            morpho, model.brian_equations("neuron") + b2.Equations(_neuron_extra()),
            Cm=s["Cm"].value, Ri=s["Ri"].value, method="exponential_euler", namespace=ns, name="neuron",
            events={"trace": "trace_on > 0.5 and trace_here > 0.5"})
        N = len(self.neuron)
        self.neuron.run_regularly(CONTROL, when="start", order=-10, name="control")
        # values held over the step and voltage-gated channels, once per step before the cable equation
        self.neuron.run_regularly(gates.statements(), when="before_groups", name="neuron_step")
        if gates.corrections():
            self.neuron.run_regularly(gates.corrections(), when="after_groups", order=-1, name="neuron_gates_after")

        self.cell = b2.NeuronGroup(
            1, b2.Equations(CELL_EQS) + model.brian_equations("cell"),
            method="exponential_euler", events={"sample": "t_real >= next_sample"},
            namespace=ns, name="cell")
        for name in ("warp", "anisomycin", "t_real"):
            setattr(self.cell, name, b2.linked_var(self.neuron, name))
        self.cell.run_on_event("sample", "next_sample += sample_interval")

        self.pathway = b2.NeuronGroup(
            n_path, PATHWAY_EQS, threshold="t >= pulse_time(k*second, i) - 0.5*dt",
            reset="k += 1\nt_last = t\nv0 = v_soma\namp_max = 0*mV\nslope_max = 0*volt/second\npending = 1",
            events={"measure": "pending > 0.5 and t >= t_last + measure_window",
                    "sample": "t_real >= next_sample",
                    "trace": "trace_on > 0.5",
                    "record": "t_real >= next_sample or trace_on > 0.5"},
            namespace=ns, name="pathway")
        self.pathway.trace_on = b2.linked_var(self.neuron, "trace_on")
        self.pathway.v_soma = b2.linked_var(self.neuron, "v", index=np.zeros(n_path, dtype=int))
        # the voltage where the pathway's branch leaves the trunk, copied each step into
        # v_branch (which the synapses read as v_branch_pre: spike_coincidence)
        self.pathway.v_branch_point = b2.linked_var(self.neuron, "v", index=self.idx["branch_point"])
        self.pathway.t_real = b2.linked_var(self.neuron, "t_real")
        self.pathway.run_regularly(PATHWAY_TRACK, when="after_groups", name="pathway_track")
        self.pathway.run_on_event("measure", "pending = 0")
        self.pathway.run_on_event("sample", "next_sample += sample_interval")
        self.pathway.run_on_event("record", "\n".join(f"{v} = 0" for v in MEANS + ("spines",)))

        syn_eqs = model.brian_equations("synapse") + b2.Equations(_synapse_extra(n_syn))
        self.syn = b2.Synapses(self.pathway, self.neuron, model=syn_eqs,
                               on_pre={"pre": mech.ON_PRE, "record": _record_means(n_syn)},
                               on_event={"pre": "spike", "record": "record"},
                               method="exponential_euler", namespace=ns, name="synapses")
        heads, slot_heads = self.idx["head"], self.idx["slot_head"]
        n_slots = slot_heads.shape[1]
        # the original spines first (pathway by pathway), then the places for new spines
        self.syn.connect(i=np.concatenate([np.repeat(np.arange(n_path), n_syn), np.repeat(np.arange(n_path), n_slots)]),
                         j=np.concatenate([heads.ravel(), slot_heads.ravel()]))
        is_slot = np.concatenate([np.zeros(n_path * n_syn), np.ones(n_path * n_slots)])
        self.syn.slot = is_slot
        pop_eqs = model.brian_equations("population") + b2.Equations("n_syn : 1 (shared, constant)")
        self.population = b2.Synapses(self.pathway, self.neuron, model=pop_eqs, namespace=ns,
                                      name="population")
        # the population's synapses are spread along the apical trunk (Schaffer collaterals
        # contact the whole stratum radiatum), not crowded on the pathway's own branch
        trunk = self.idx["trunk"]
        spots = trunk[np.round(np.linspace(2, len(trunk) - 1, n_syn)).astype(int)]
        self.population.connect(i=np.repeat(np.arange(n_path), n_syn), j=np.tile(spots, n_path))
        # spine necks: the share of a grown spine's head current that its wider neck
        # carries, from each head into the compartment its neck leaves from
        neck_heads = np.concatenate([heads.ravel(), slot_heads.ravel()])
        neck_parents = np.concatenate([self.idx["oblique"].ravel(), self.idx["slot_neck_parent"].ravel()])
        self.neck = b2.Synapses(self.neuron, self.neuron, model=model.brian_equations("neck"), namespace=ns,
                                name="neck")
        self.neck.connect(i=neck_heads, j=neck_parents)
        # the proteins that reach the pathway's branch, copied from the cell each step
        self.to_pathway = b2.Synapses(self.cell, self.pathway, "prp_post = prp_pre : 1 (summed)",
                                      name="to_pathway")
        self.to_pathway.connect(i=np.zeros(n_path, dtype=int), j=np.arange(n_path))
        self.to_cell = b2.Synapses(self.pathway, self.cell,
                                   "kin_total_post = kin_path_pre : 1 (summed)\n"
                                   "pho_total_post = pho_path_pre : 1 (summed)",
                                   name="to_cell")
        self.to_cell.connect(i=np.arange(n_path), j=np.zeros(n_path, dtype=int))

        # structural per-compartment flags
        flags = {name: np.zeros(N) for name in ("is_soma", "is_dend", "is_head", "nmda_here")}
        flags["nmda_here"][heads.ravel()] = 1
        flags["nmda_here"][slot_heads.ravel()] = 1
        flags["nmda_here"][spots] = 1
        flags["is_soma"][self.idx["soma"]] = 1
        flags["is_dend"][self.idx["trunk"]] = 1
        flags["is_dend"][self.idx["oblique"].ravel()] = 1
        flags["is_dend"][self.idx["basal"]] = 1
        flags["is_dend"][self.idx["tuft"]] = 1
        flags["is_head"][heads.ravel()] = 1
        flags["is_head"][slot_heads.ravel()] = 1
        # compartments whose fast variables are recorded in trace windows: the soma, the
        # first spine of each pathway (head and neck) and its parent dendrite, and the trunk
        flags["trace_here"] = np.zeros(N)
        flags["trace_here"][self.idx["soma"]] = 1
        flags["trace_here"][heads[:, 0]] = 1
        flags["trace_here"][self.idx["neck"][:, 0]] = 1
        flags["trace_here"][self.idx["oblique"][:, 0]] = 1
        flags["trace_here"][self.idx["trunk"]] = 1
        for name, values in flags.items():
            setattr(self.neuron, name, values)

        # parameters (values come from run_args) before any initial value reads them
        if hasattr(b2.get_device(), "apply_run_args"):
            b2.device.apply_run_args()
            self.initialise()
        self.syn.x_res = 1
        self.cell.ready = 1
        self.syn.present = 1 - is_slot
        self.pathway.v_prev = -65 * b2.mV

        self.monitors = {
            "measure": b2.EventMonitor(self.pathway, "measure", variables=["t_last", "amp_max", "slope_max"],
                                       name="measure_mon"),
            "path_sample": b2.EventMonitor(
                self.pathway, "sample",
                variables=["e_mean", "z_mean", "tag_mean", "ampar_mean", "kin_mean", "pho_mean", "vol_mean",
                           "spines"],
                when="synapses", order=10, name="path_sample_mon"),  # after the record pathway
            "cell_sample": b2.EventMonitor(
                self.cell, "sample", variables=["t_real", "signal", "ready", "mapk", "expression", "prp_soma", "prp"],
                name="cell_sample_mon"),
        }
        self.monitors["trace_neuron"] = b2.EventMonitor(
            self.neuron, "trace", variables=["v", "Ca", "i_nmda", "i_nmda_ca", "g_ampa_tot", "I_head"],
            name="trace_neuron")
        self.monitors["trace_path"] = b2.EventMonitor(
            self.pathway, "trace", variables=["kin_mean", "pho_mean", "ampar_mean", "e_mean"],
            when="synapses", order=10, name="trace_path")
        objects = [self.cell, self.neuron, self.pathway, self.syn, self.population, self.neck, self.to_cell,
                   self.to_pathway,
                   *self.monitors.values()]
        self.net = b2.Network(*objects)
        self.objects = {o.name: o for o in objects}

    def initialise(self) -> None:
        """Initial values that depend on parameters (after the parameters are set)."""
        self.neuron.v = "V_hh"
        self.neuron.v_step = "V_hh"
        self.neuron.fast = 1
        self.neuron.fast_prev = 1
        # gates start near their resting values and settle during the frozen-time start
        self.neuron.m = 0.053
        self.neuron.h = 0.6
        self.neuron.n = 0.32
        self.neuron.Ca = "Ca_rest"
        self.syn.spine_volume = "base"
        self.syn.ca_slow = "Ca_rest"

    # ------------------------------------------------------------------
    def variable(self, name: str):
        """The Brian2 object a program input's command-line name stands for."""
        owner, var = name.rsplit(".", 1)
        if var == "values":
            return self.ta[owner]
        return getattr(self.objects[owner], var)

    def run_args(self, inputs: dict[str, Any]) -> dict:
        """Brian2's ``run_args`` for :func:`program_inputs`."""
        return {self.variable(name): value for name, value in inputs.items()}

    def read(self) -> RawResults:
        """The recorded results, read through Brian2 (after a run it launched)."""
        return raw_results(lambda mon, var: np.asarray(getattr(self.objects[mon], var)[:]))

    def result_files(self) -> dict[str, dict[str, str]]:
        """Where the compiled program writes each recorded variable (file name in its results
        directory, numpy dtype), by ``monitor.variable``."""
        out = {}
        for mon, var in RESULT_VARIABLES:
            v = self.objects[mon].variables[var]
            out[f"{mon}.{var}"] = {"file": b2.device.get_array_filename(v), "dtype": np.dtype(v.dtype).str}
        return out


# What the compiled program records, by part of RawResults and key there: (monitor,
# variable), names fixed in Network.  Values are plain numbers in SI units (Ca too: mmolar
# is Brian2's name for mol/m^3).
RESULTS = {
    "measure": {"t_sim": ("measure_mon", "t_last"), "i": ("measure_mon", "i"),
                "amp": ("measure_mon", "amp_max"), "slope": ("measure_mon", "slope_max")},
    "path_samples": {"i": ("path_sample_mon", "i"), "t_sim": ("path_sample_mon", "t"),
                     **{v: ("path_sample_mon", v) for v in ("e_mean", "z_mean", "tag_mean", "ampar_mean",
                                                             "kin_mean", "pho_mean", "vol_mean", "spines")}},
    "cell_samples": {"t_real": ("cell_sample_mon", "t_real"), "t_sim": ("cell_sample_mon", "t"),
                     **{v: ("cell_sample_mon", v) for v in ("signal", "ready", "mapk", "expression",
                                                             "prp_soma", "prp")}},
    "traces": {"neuron_t_sim": ("trace_neuron", "t"), "neuron_i": ("trace_neuron", "i"),
               "v": ("trace_neuron", "v"), "Ca": ("trace_neuron", "Ca"), "i_nmda": ("trace_neuron", "i_nmda"),
               "i_nmda_ca": ("trace_neuron", "i_nmda_ca"),
               "g_ampa": ("trace_neuron", "g_ampa_tot"), "i_head": ("trace_neuron", "I_head"),
               "path_t_sim": ("trace_path", "t"), "path_i": ("trace_path", "i"),
               **{v: ("trace_path", v) for v in ("kin_mean", "pho_mean", "ampar_mean", "e_mean")}},
}
RESULT_VARIABLES = sorted({source for part in RESULTS.values() for source in part.values()})


def raw_results(get) -> RawResults:
    """RawResults from ``get(monitor, variable)`` -> plain array (SI units)."""
    parts = {part: {key: get(*source) for key, source in keys.items()} for part, keys in RESULTS.items()}
    return RawResults(**parts)


def run_compiled(model: Model, schedule: Schedule, settings: ScheduleSettings, *,
                 target: str = "cpp_standalone") -> RawResults:
    """Build (or reuse) the compiled program for ``model`` and run ``schedule`` on it.

    The first run of a build goes through Brian2 (code generation, ``make``, launch) and
    leaves a launch record beside the program (``launch.json``: the program's command-line
    inputs and where it writes its results).  Later runs of the same build start the
    program directly from that record: no Brian2 objects, no code generation, the same
    program with the same inputs (``$BIOPHYS_LTP_LAUNCH=brian2`` always goes through Brian2).
    """
    _quiet_brian()
    t0 = time.perf_counter()
    if target == "runtime":
        return _run_runtime(model, schedule, settings, float(schedule.sim_duration) + float(model.dt))
    if target != "cpp_standalone":
        raise ValueError(f"unknown target {target!r} (use 'cpp_standalone' or 'runtime')")
    key = build_key(model)
    base = cache_dir() / "builds" / key
    build_dir = base / "program"
    inputs = program_inputs(model, schedule, settings)
    launch = os.environ.get("BIOPHYS_LTP_LAUNCH", "auto")
    if launch not in ("auto", "brian2"):
        raise ValueError(f"BIOPHYS_LTP_LAUNCH must be 'auto' or 'brian2', not {launch!r}")
    if launch == "auto":
        record = _launch_record(base, key, inputs)
        if record is not None:
            return _run_direct(build_dir, record, inputs, t0)
    return _run_through_brian(model, inputs, base, key, t0)


def _run_through_brian(model, inputs, base, key, t0) -> RawResults:
    _install_atomic_static_arrays()
    # Brian2 suffixes the names of automatically named objects (state updaters, spike
    # queues, ...) while objects of an earlier network are still alive; different names
    # mean different generated code and a full recompile.  Collect them first.
    gc.collect()
    build_dir = base / "program"
    b2.set_device(DEVICE_NAME, build_on_run=False)
    b2.device.reinit()
    b2.device.activate(build_on_run=False)
    try:
        b2.defaultclock.dt = model.dt
        net = Network(model)
        net.net.run(MAX_SIM_DURATION, report=None)
        with _file_lock(base / "program.lock"):
            t1 = time.perf_counter()
            b2.device.build(directory=str(build_dir), compile=True, run=False, with_output=False)
            t2 = time.perf_counter()
            _write_launch_record(base, key, net, inputs)
        run_args = net.run_args(inputs)
        results_rel = os.path.join("results", uuid.uuid4().hex)
        b2.device.run(directory=str(build_dir), results_directory=results_rel, run_args=run_args,
                      with_output=False)
        t3 = time.perf_counter()
        raw = net.read()
        raw.timings = {"setup_s": t1 - t0, "build_s": t2 - t1, "run_s": t3 - t2,
                       "read_s": time.perf_counter() - t3}
        # simulated time the program ran (it stops itself at the protocol's end)
        raw.sim_run_s = float(b2.device._last_run_completed_fraction) * float(MAX_SIM_DURATION)
        raw.build_dir = str(build_dir)
        raw.launch = "brian2"
        shutil.rmtree(build_dir / results_rel, ignore_errors=True)
        return raw
    finally:
        net = None
        b2.device.reinit()
        b2.set_device("runtime")
        gc.collect()


LAUNCH_RECORD = "launch.json"


def _program_stamp(program: Path) -> dict[str, int]:
    st = program.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _input_spec(var) -> dict[str, Any]:
    if isinstance(var, b2.TimedArray):
        return {"dtype": np.dtype(var.values.dtype).str, "size": int(var.values.size)}
    return {"dtype": np.dtype(var.variable.dtype).str, "size": int(var.variable.size)}


def _write_launch_record(base: Path, key: str, net: Network, inputs: dict[str, Any]) -> None:
    """Record, beside a program just built, what starting it takes (under the build lock)."""
    env = {**b2.prefs["devices.cpp_standalone.run_environment_variables"],
           **getattr(b2.device, "run_environment_variables", {})}
    record = {"key": key, "brian2": b2.__version__, "program": _program_stamp(base / "program" / "main"),
              "inputs": {name: _input_spec(net.variable(name)) for name in inputs},
              "results": net.result_files(), "environment": {k: str(v) for k, v in env.items()}}
    tmp = base / f".{LAUNCH_RECORD}.{os.getpid()}.{uuid.uuid4().hex}"
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(tmp, base / LAUNCH_RECORD)


def _launch_record(base: Path, key: str, inputs: dict[str, Any]) -> dict | None:
    """The launch record of the build, if it belongs to the program there now and takes
    exactly these inputs; None otherwise (then Brian2 builds and launches)."""
    try:
        record = json.loads((base / LAUNCH_RECORD).read_text())
        stamp = _program_stamp(base / "program" / "main")
    except (OSError, ValueError):
        return None
    if record.get("key") != key or record.get("brian2") != b2.__version__ or record.get("program") != stamp:
        return None
    if set(record.get("inputs", {})) != set(inputs) or set(record.get("results", {})) != {
            f"{mon}.{var}" for mon, var in RESULT_VARIABLES}:
        return None
    return record


def _warn_invalid(raw: RawResults) -> None:
    """As Brian2 does after a run it launched: a warning for NaN or huge recorded values."""
    for part in ("measure", "path_samples", "cell_samples", "traces"):
        for name, values in getattr(raw, part).items():
            if values.dtype.kind == "f" and (np.isnan(values).any() or (np.abs(values) > 1e50).any()):
                log.warning("%s %r has NaN or very large values: the integration failed", part, name)


def _scratch_dir(build_dir: Path) -> Path:
    """Where a run's input and results files go: a memory file system (/dev/shm) where there
    is one, else the build's results folder.  The program writes one file per variable of
    the network at its end (hundreds); on a disk that took ~0.4 s per run here."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return build_dir / "results"


RUN_DIR_PREFIX = "biophys-ltp-run-"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def _clear_stale_runs(scratch: Path) -> None:
    """Remove run folders whose Python process is gone: a run's folder is removed when it
    ends, but not when its process is killed, and /dev/shm is memory."""
    for d in scratch.glob(f"{RUN_DIR_PREFIX}*"):
        try:
            pid = int(d.name[len(RUN_DIR_PREFIX):].split("-")[0])
        except ValueError:
            continue
        if not _process_alive(pid):
            shutil.rmtree(d, ignore_errors=True)


def _run_direct(build_dir: Path, record: dict, inputs: dict[str, Any], t0: float) -> RawResults:
    """Start the compiled program with ``inputs`` as Brian2 would (same command line: scalars
    as text, arrays as binary files) and read its results files."""
    scratch = _scratch_dir(build_dir)
    _clear_stale_runs(scratch)
    results_dir = scratch / f"{RUN_DIR_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
    inputs_dir = results_dir / "inputs"
    inputs_dir.mkdir(parents=True)
    try:
        argv = ["--results_dir", f"{results_dir}{os.sep}"]
        for name, value in inputs.items():
            spec = record["inputs"][name]
            values = np.asarray(value, dtype=np.dtype(spec["dtype"]))  # quantities: SI values
            if values.size == 1:
                argv.append(f"{name}={values.item()!r}")
                continue
            if values.size != spec["size"]:
                raise ValueError(f"{name}: {values.size} values for a program input of {spec['size']}")
            fname = inputs_dir / f"{name}.dat"
            values.ravel().tofile(fname)
            argv.append(f"{name}={fname}")
        env = {**os.environ, **record["environment"]}
        t1 = time.perf_counter()
        with open(results_dir / "stdout.txt", "w") as out:
            rc = subprocess.call(_run_command() + argv, cwd=build_dir, stdout=out, env=env)
        t2 = time.perf_counter()
        if rc:
            text = (results_dir / "stdout.txt").read_text(errors="replace")
            raise RuntimeError(f"the compiled program failed (exit status {rc}; program directory "
                               f"{build_dir}):\n{text}")
        files = record["results"]

        def get(mon, var):
            spec = files[f"{mon}.{var}"]
            return np.fromfile(results_dir / spec["file"], dtype=np.dtype(spec["dtype"]))

        raw = raw_results(get)
        _warn_invalid(raw)
        _, completed = (results_dir / "last_run_info.txt").read_text().split()
        raw.sim_run_s = float(completed) * float(MAX_SIM_DURATION)
        raw.timings = {"setup_s": t1 - t0, "build_s": 0.0, "run_s": t2 - t1,
                       "read_s": time.perf_counter() - t2}
        raw.build_dir = str(build_dir)
        raw.launch = "direct"
        return raw
    finally:
        shutil.rmtree(results_dir, ignore_errors=True)


@contextlib.contextmanager
def runtime_numpy():
    """Brian2's runtime device with the numpy target, in a fresh scope, for the code inside
    (small networks outside the model, e.g. biophys_ltp.crosscheck); the device and target
    that were active before are put back after it."""
    from brian2.devices.device import reset_device, runtime_device

    previous_target = b2.prefs.codegen.target
    switched = b2.get_device() is not runtime_device
    if switched:
        b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    try:
        b2.start_scope()
        yield
    finally:
        b2.prefs.codegen.target = previous_target
        if switched:
            reset_device()
        gc.collect()


def _run_runtime(model, schedule, settings, duration_s) -> RawResults:
    """Runtime (numpy) target for debugging: slow, no compiler involved; runs only the
    protocol's simulated time."""
    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    gc.collect()
    b2.defaultclock.dt = model.dt
    net = Network(model)
    for var, value in net.run_args(program_inputs(model, schedule, settings)).items():
        if isinstance(var, b2.TimedArray):
            var.values[:] = np.asarray(value).reshape(var.values.shape)
        else:
            var.set_item(slice(None), value)
    net.initialise()
    t0 = time.perf_counter()
    net.net.run(duration_s * b2.second, report=None)
    raw = net.read()
    raw.timings = {"run_s": time.perf_counter() - t0}
    raw.sim_run_s = duration_s
    raw.build_dir = "(runtime)"
    raw.launch = "runtime"
    return raw
