"""The compiled network: the Brian2 objects of one model structure (assembled from the model's
mechanisms and the engine's control and measurement equations), what the program
records, and the measurement settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import brian2 as b2
import numpy as np
from brian2.units.constants import faraday_constant

from .. import mechanisms as mech
from ..drugs import TARGETS
from ..limits import PULSE_CAPACITY, SEGMENT_CAPACITY, SPIKE_CAPACITY
from ..model import Model
from ..units import format_quantity, si_unit_text
from . import gates


# The response to each pulse: the pathway's synaptic current (AMPA and NMDA receptors of
# its spines and of its population on the trunk, inward), its peak within SLOPE_WINDOW (the
# AMPA current peaks ~0.5 ms after the pulse), the current whose sink the initial slope of
# a field EPSP in stratum radiatum measures (the model's fEPSP); and, at the soma as in
# whole-cell recordings, the EPSP's amplitude (the peak within MEASURE_WINDOW; a test EPSP
# peaks 3-4 ms after the pulse) and its initial slope (the steepest rise within
# SLOPE_WINDOW, at 1-2 ms, before any spike).
MEASURE_WINDOW = 10 * b2.ms
SLOPE_WINDOW = 5 * b2.ms
# A test pulse on a strongly potentiated pathway can fire the cell.  As the population
# spike is left out of an EPSP's slope (taken on the initial rise), the slope is taken
# only while the soma is less than this far above its potential at the pulse: below the
# spike threshold (~15 mV above rest), above the ~5-mV baseline test EPSP, and above the
# point of steepest rise of larger EPSPs.
SLOPE_CEILING = 8 * b2.mV
SAMPLE_INTERVAL = 60 * b2.second  # slow variables sampled every biological minute
FAR_FUTURE = 1e9  # seconds: padding for unused capacity

#: what the fEPSP (fepsp.csv: synaptic_current_pA, fepsp_pct) is, for the results' metadata
FEPSP_MEASURE = ("peak inward AMPA and NMDA receptor current of the pathway's synapses (its spines and its"
                 " population on the trunk) within slope_window of the pulse; fepsp_pct: in % of its baseline mean")


def measurement_settings() -> dict[str, str]:
    """How the program measures EPSPs and samples slow variables (strings with units): for
    results' metadata and for the hashes of stored figure data."""
    settings = {name: format_quantity(value) for name, value in
                (("measure_window", MEASURE_WINDOW), ("slope_window", SLOPE_WINDOW),
                 ("slope_ceiling", SLOPE_CEILING), ("sample_interval", SAMPLE_INTERVAL))}
    settings["fepsp"] = FEPSP_MEASURE
    return settings


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

def _drug_targets(flag: str) -> str:
    """Declarations of the drug targets (biophys_ltp.drugs.TARGETS): set each step from the
    schedule's table (``shared``, the neuron's control state) or linked to it (the cell)."""
    return "".join(f"{name} : 1 ({flag})\n" for name in TARGETS)


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
""" + _drug_targets("shared") + """trace_on : 1 (shared)
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
    # signal), its conductance (pathway population), the mean late weight of its
    # original spines (slot = 0; growth of new spines) and its spines' synaptic current
    # (inward positive; read after the cable equation, with the NMDA receptors' unblocked
    # fraction it used for the step's new potential, mg_unblock)
    return (
        f"kin_path_pre = kin : 1 (summed)\n"
        f"pho_path_pre = pho_active : 1 (summed)\n"
        f"g_ampa_path_pre = g_ampa_syn : siemens (summed)\n"
        f"g_nmda_path_pre = g_nmda_syn : siemens (summed)\n"
        f"z_mean_pre = z_late*(1 - slot)/{n_syn} : 1 (summed)\n"
        f"i_syn_path_pre = g_ampa_syn*(E_ampa_post - v_post) + g_nmda_syn*mg_unblock_post*(E_nmda_post - v_post) : amp (summed)\n"
    )


# What the mechanisms record (biophys_ltp.mechanisms.Record).  A synapse variable is
# recorded per pathway: each synapse adds its share to the pathway's variable rec_<column>
# on the pathway's "record" event (a pathway of the Synapses), the monitors record after
# that, and the pathway resets them.  Means are over the pathway's original spines
# (slot = 0); sums over all its spines.
mech.records()  # raises if two records write the same column
SYNAPSE_RECORDS = mech.records("synapse")
NEURON_RECORDS = mech.records("neuron")
CELL_RECORDS = mech.records("cell")


def _pathway_var(record: mech.Record) -> str:
    return f"rec_{record.column}"


def _si_unit(record: mech.Record) -> str:
    """The SI unit a record's variable is held in (its column's unit is ``record.unit``)."""
    return "1" if record.unit == "1" else si_unit_text(b2.get_dimensions(getattr(b2, record.unit)))


def _record_shares(n_syn: int) -> str:
    return "\n".join(f"{_pathway_var(r)}_pre += {r.var}*(1 - slot)/{n_syn}" if r.reduce == "mean"
                     else f"{_pathway_var(r)}_pre += {r.var}" for r in SYNAPSE_RECORDS)


PATHWAY_EQS = """
k : integer
t_last : second
pending : 1
v_soma : volt (linked)
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
z_mean : 1
i_syn_path : amp
i_pop_path : amp
current_max : amp
measure_window : second (shared, constant)
slope_window : second (shared, constant)
slope_ceiling : volt (shared, constant)
sample_interval : second (shared, constant)
""" + "".join(f"{_pathway_var(r)} : {_si_unit(r)}\n" for r in SYNAPSE_RECORDS)

PATHWAY_TRACK = """
slope_now = (v_soma - v_prev)/dt
slope_max = slope_max + int(slope_now > slope_max and t < t_last + slope_window and v_soma - v0 < slope_ceiling)*(slope_now - slope_max)
amp_max = amp_max + int(v_soma - v0 > amp_max)*(v_soma - v0 - amp_max)
current_now = i_syn_path + i_pop_path
current_max = current_max + int(current_now > current_max and t < t_last + slope_window)*(current_now - current_max)
v_prev = v_soma
"""

# The cell group (gene expression) reads the control state of the neuron
CELL_EQS = """
warp : 1 (linked)
t_real : second (linked)
""" + _drug_targets("linked") + """
next_sample : second
sample_interval : second (shared, constant)
"""

# The branch group (each branch's proteins) reads the warp and the soma's proteins
BRANCH_EQS = """
warp : 1 (linked)
prp_soma : 1 (linked)
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
""" + "".join(f"{name} = seg_drug(seg*second, {k})\n" for k, name in enumerate(TARGETS)) + """trace_on = seg_trace(seg*second)
t_real = seg_real(seg*second) + dt*seg_warp(seg*second)*((growth_now - 1)/(growth - 1 + int(growth == 1)) + int(growth == 1)*seg_steps)
spike_now = int(t >= spike_time(kspk*second) - 0.5*dt)
step_until = spike_now*(t + step_duration) + (1 - spike_now)*step_until
kspk += spike_now
step_on = int(t < step_until - 0.5*dt)
stopping = stop_run_at(t, sim_end)
"""


def branch_of_spines(model: Model) -> np.ndarray:
    """The oblique branch (:meth:`Model.spine_branches` order) of every spine head, in the
    synapses' order: the original spines pathway by pathway, then the places for new
    spines (each on the branch of the spine it sits beside)."""
    n_path, n_syn, n_slots = len(model.pathways), model.n_syn, model.n_slots
    original = np.zeros((n_path, n_syn), dtype=int)
    for b, spines in enumerate(model.spine_branches()):
        for p, j in spines:
            original[p, j] = b
    slots = original[:, model.slot_spines()] if n_slots else np.zeros((n_path, 0), dtype=int)
    return np.concatenate([original.ravel(), slots.ravel()])


#: Crosstalk weights below this share are left out (mechanism crosstalk).
CROSSTALK_CUTOFF = 0.01


def crosstalk_pairs(model: Model, branch: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of spines (synapse indices, as :func:`branch_of_spines`) on the same branch
    that the crosstalk signal joins, both ways, and the share of one's signal the other
    receives, exp(-d/crosstalk_length) at their distance d along the branch (each spine in
    the middle of its own stretch; a place for a new spine where the spine it sits beside
    is); shares below :data:`CROSSTALK_CUTOFF` are left out.  ``branch``: the result of
    :func:`branch_of_spines`, where the caller has it."""
    n_path = len(model.pathways)
    length = float(model["crosstalk_length"] / b2.um)
    where = model.spine_positions()  # um from the branch's start
    slots = where[:, model.slot_spines()] if model.n_slots else np.zeros((n_path, 0))
    position = np.concatenate([where.ravel(), slots.ravel()])
    branch = branch_of_spines(model) if branch is None else branch
    i, j = np.nonzero((branch[:, None] == branch[None, :]) & ~np.eye(len(branch), dtype=bool))
    share = np.exp(-np.abs(position[i] - position[j]) / length) if length > 0 else np.zeros(len(i))
    keep = share >= CROSSTALK_CUTOFF
    return i[keep], j[keep], share[keep]


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
            "seg_drug": b2.TimedArray(zeros((SEGMENT_CAPACITY, len(TARGETS))), dt=1 * b2.second, name="seg_drug"),
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
        for name in ("warp", "t_real", *TARGETS):
            setattr(self.cell, name, b2.linked_var(self.neuron, name))
        self.cell.run_on_event("sample", "next_sample += sample_interval")

        self.pathway = b2.NeuronGroup(
            n_path, PATHWAY_EQS, threshold="t >= pulse_time(k*second, i) - 0.5*dt",
            reset="k += 1\nt_last = t\nv0 = v_soma\namp_max = 0*mV\nslope_max = 0*volt/second\ncurrent_max = 0*amp\npending = 1",
            events={"measure": "pending > 0.5 and t >= t_last + measure_window",
                    "sample": "t_real >= next_sample",
                    "trace": "trace_on > 0.5",
                    "record": "t_real >= next_sample or trace_on > 0.5"},
            namespace=ns, name="pathway")
        self.pathway.trace_on = b2.linked_var(self.neuron, "trace_on")
        self.pathway.v_soma = b2.linked_var(self.neuron, "v", index=np.zeros(n_path, dtype=int))
        self.pathway.t_real = b2.linked_var(self.neuron, "t_real")
        self.pathway.run_regularly(PATHWAY_TRACK, when="after_groups", name="pathway_track")
        self.pathway.run_on_event("measure", "pending = 0")
        self.pathway.run_on_event("sample", "next_sample += sample_interval")
        self.pathway.run_on_event("record", "\n".join(f"{_pathway_var(r)} = 0" for r in SYNAPSE_RECORDS))

        syn_eqs = model.brian_equations("synapse") + b2.Equations(_synapse_extra(n_syn))
        self.syn = b2.Synapses(self.pathway, self.neuron, model=syn_eqs,
                               on_pre={"pre": mech.on_pre(), "record": _record_shares(n_syn)},
                               on_event={"pre": "spike", "record": "record"},
                               method="exponential_euler", namespace=ns, name="synapses")
        heads, slot_heads = self.idx["head"], self.idx["slot_head"]
        n_slots = slot_heads.shape[1]
        # the original spines first (pathway by pathway), then the places for new spines
        self.syn.connect(i=np.concatenate([np.repeat(np.arange(n_path), n_syn), np.repeat(np.arange(n_path), n_slots)]),
                         j=np.concatenate([heads.ravel(), slot_heads.ravel()]))
        is_slot = np.concatenate([np.zeros(n_path * n_syn), np.ones(n_path * n_slots)])
        self.syn.slot = is_slot
        # (and the population's synaptic current, inward positive)
        pop_eqs = model.brian_equations("population") + b2.Equations(
            "n_syn : 1 (shared, constant)\n"
            "i_pop_path_pre = n_clones*(g_ampa_path_pre*(E_ampa_post - v_post)"
            " + g_nmda_path_pre*mg_unblock_post*(E_nmda_post - v_post))/n_syn : amp (summed)")
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
        # each spine head holds the potential at its spike site (v_spike_site: spike_coincidence;
        # the model's spike_site: the head itself, or where its branch leaves the trunk), copied
        # from there before each step's state updates
        sites = neck_heads if model.spike_site == "spine_head" else \
            np.concatenate([self.idx["root"].ravel(), self.idx["slot_root"].ravel()])
        self.spike_site = b2.Synapses(self.neuron, self.neuron, "v_spike_site_post = v_pre : volt (summed)",
                                      name="spike_site")
        self.spike_site.connect(i=sites, j=neck_heads)
        # each oblique branch's proteins (branch_proteins): every spine head holds its
        # branch's level, and the branch sums the consolidation its heads' synapses do
        n_branch = model.n_branches
        self.branch = b2.NeuronGroup(
            n_branch, b2.Equations(BRANCH_EQS) + model.brian_equations("branch"),
            method="exponential_euler", namespace=ns, name="branch")
        self.branch.warp = b2.linked_var(self.neuron, "warp")
        self.branch.prp_soma = b2.linked_var(self.cell, "prp_soma", index=np.zeros(n_branch, dtype=int))
        self.branch.branch_length = model["oblique_length"]
        branch_of = branch_of_spines(model)
        self.to_heads = b2.Synapses(self.branch, self.neuron, "prp_branch_post = prp_pre : 1 (summed)",
                                    name="to_heads")
        self.to_heads.connect(i=branch_of, j=neck_heads)
        self.to_branch = b2.Synapses(self.neuron, self.branch, "use_post = use_here_pre : Hz (summed)",
                                     name="to_branch")
        self.to_branch.connect(i=neck_heads, j=branch_of)
        # crosstalk: each spine head receives the Ras-like signal of the heads near it on its
        # branch (none where no two heads are near enough, e.g. crosstalk_length 0: ras_near
        # then stays 0)
        src, dst, share = crosstalk_pairs(model, branch_of)
        self.crosstalk = None
        if len(src):
            self.crosstalk = b2.Synapses(self.neuron, self.neuron,
                                         "w_ras : 1 (constant)\nras_near_post = w_ras*ras_here_pre : 1 (summed)",
                                         name="crosstalk")
            self.crosstalk.connect(i=neck_heads[src], j=neck_heads[dst])
            self.crosstalk.w_ras = share
        self.to_cell = b2.Synapses(self.pathway, self.cell,
                                   "kin_total_post = kin_path_pre : 1 (summed)\n"
                                   "pho_total_post = pho_path_pre : 1 (summed)",
                                   name="to_cell")
        self.to_cell.connect(i=np.arange(n_path), j=np.zeros(n_path, dtype=int))

        # structural per-compartment flags
        flags = {name: np.zeros(N) for name in ("is_soma", "is_dend", "is_apical", "is_head", "nmda_here")}
        flags["nmda_here"][heads.ravel()] = 1
        flags["nmda_here"][slot_heads.ravel()] = 1
        flags["nmda_here"][spots] = 1
        flags["is_soma"][self.idx["soma"]] = 1
        flags["is_dend"][self.idx["trunk"]] = 1
        flags["is_dend"][self.idx["oblique_all"]] = 1
        flags["is_dend"][self.idx["basal"]] = 1
        flags["is_dend"][self.idx["tuft"]] = 1
        # the apical dendrite, along which A-type K+ and Ih channels grow denser with distance
        flags["is_apical"][self.idx["trunk"]] = 1
        flags["is_apical"][self.idx["oblique_all"]] = 1
        flags["is_apical"][self.idx["tuft"]] = 1
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
        self.pathway.v_prev = -65 * b2.mV

        self.monitors = {
            "measure": b2.EventMonitor(self.pathway, "measure", variables=["t_last", "current_max", "amp_max", "slope_max"],
                                       name="measure_mon"),
            "path_sample": b2.EventMonitor(
                self.pathway, "sample", variables=[_pathway_var(r) for r in SYNAPSE_RECORDS],
                when="synapses", order=10, name="path_sample_mon"),  # after the record pathway
            "cell_sample": b2.EventMonitor(
                self.cell, "sample", variables=["t_real"] + [r.var for r in CELL_RECORDS], name="cell_sample_mon"),
        }
        self.monitors["trace_neuron"] = b2.EventMonitor(
            self.neuron, "trace", variables=[r.var for r in NEURON_RECORDS], name="trace_neuron")
        self.monitors["trace_path"] = b2.EventMonitor(
            self.pathway, "trace", variables=[_pathway_var(r) for r in SYNAPSE_RECORDS if r.traced],
            when="synapses", order=10, name="trace_path")
        self._order_within_step()
        objects = [self.cell, self.neuron, self.pathway, self.syn, self.population, self.neck, self.spike_site,
                   self.to_cell, self.branch, self.to_heads, self.to_branch,
                   *([self.crosstalk] if self.crosstalk is not None else []), *self.monitors.values()]
        self.net = b2.Network(*objects)
        self.objects = {o.name: o for o in objects}

    # the synaptic conductances the cable equation reads, and the synaptic current the
    # test pulse's measurement reads
    CONDUCTANCES = {"synapses": ("g_ampa_tot_post", "g_nmda_tot_post", "g_ampa_path_pre", "g_nmda_path_pre"),
                    "population": ("g_pop_ampa_post", "g_pop_nmda_post")}
    CURRENTS = {"synapses": ("i_syn_path_pre",), "population": ("i_pop_path_pre",)}

    def _order_within_step(self) -> None:
        """Within each step: the synapses' state is integrated, their conductances are
        summed into the compartments (the spine synapses' first, then the pathway
        population's, which reads the pathway's), the cable equation is solved with them,
        and the synaptic current is summed from the new conductances and potentials.

        Brian2's default sums every summed variable before any state is integrated, so the
        cable equation of a step read the conductances of the step before: the synaptic
        current lagged its conductance by one fine step.  During the AMPA receptors' 0.2-ms
        rise that lag moved the peak current of a strongly potentiated spine by ~3 % between
        dt = 0.05 and 0.025 ms (the fEPSP after a strong tetanus by 0.55 point, after
        spike-timing pairings by 0.70; with the conductances summed in order, 0.09 and 0.21:
        README, "The fine step")."""
        groups = {"synapses": self.syn, "population": self.population}
        # after the state updaters (order 0), before the cable solver (Brian2 gives it 1)
        for name, order in (("synapses", 1), ("population", 2)):
            for var in self.CONDUCTANCES[name]:
                groups[name].summed_updaters[var].order = order
        self.neuron.diffusion_state_updater.order = 3
        # after the cable solver, before the pathway's measurement reads it (after_groups, 0)
        for name, variables in self.CURRENTS.items():
            for var in variables:
                updater = groups[name].summed_updaters[var]
                updater.when, updater.order = "after_groups", -5

    def initialise(self) -> None:
        """Initial values (after the parameters are set: some are expressions of them): the
        mechanisms' (biophys_ltp.mechanisms), and the engine's own."""
        objects = {"neuron": self.neuron, "synapse": self.syn, "neck": self.neck, "population": self.population,
                   "cell": self.cell, "branch": self.branch}
        for group, obj in objects.items():
            for var, value in mech.initial_values(group).items():
                setattr(obj, var, value)
        self.neuron.fast = 1
        self.neuron.fast_prev = 1

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
# variable), names fixed in Network; the mechanisms' records by their column.  Values are
# plain numbers in SI units (Ca too: mmolar is Brian2's name for mol/m^3).
RESULTS = {
    "measure": {"t_sim": ("measure_mon", "t_last"), "i": ("measure_mon", "i"),
                "amp": ("measure_mon", "amp_max"), "slope": ("measure_mon", "slope_max"),
                "current": ("measure_mon", "current_max")},
    "path_samples": {"i": ("path_sample_mon", "i"), "t_sim": ("path_sample_mon", "t"),
                     **{r.column: ("path_sample_mon", _pathway_var(r)) for r in SYNAPSE_RECORDS}},
    "cell_samples": {"t_real": ("cell_sample_mon", "t_real"), "t_sim": ("cell_sample_mon", "t"),
                     **{r.column: ("cell_sample_mon", r.var) for r in CELL_RECORDS}},
    "traces": {"neuron_t_sim": ("trace_neuron", "t"), "neuron_i": ("trace_neuron", "i"),
               **{r.column: ("trace_neuron", r.var) for r in NEURON_RECORDS},
               "path_t_sim": ("trace_path", "t"), "path_i": ("trace_path", "i"),
               **{r.column: ("trace_path", _pathway_var(r)) for r in SYNAPSE_RECORDS if r.traced}},
}
RESULT_VARIABLES = sorted({source for part in RESULTS.values() for source in part.values()})


def raw_results(get) -> RawResults:
    """RawResults from ``get(monitor, variable)`` -> plain array (SI units)."""
    parts = {part: {key: get(*source) for key, source in keys.items()} for part, keys in RESULTS.items()}
    return RawResults(**parts)


#: A recorded value (SI units) of larger magnitude than this is a failed integration,
#: as Brian2 judges it after a run it launched: no variable of the model comes near it
#: (biophys_ltp.simulation.check_run refuses such a run, naming the variable and time).
INVALID_ABOVE = 1e50
