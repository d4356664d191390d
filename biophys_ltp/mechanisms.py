"""The model's mechanisms, one small set of Brian2 equations each.

Each :class:`Mechanism` names the Brian2 object it lives in (``group``), its
equations, and the parameters it reads.  Parameters are declared in the
model file (``models/<name>.toml``) with a unit and a source; here they only
appear by name.  The engine declares every parameter as a ``(shared,
constant)`` variable of its group, so that its value is set when the compiled
program starts (Brian2 ``run_args``) and never compiled into the code.

Time warping
------------
Fast variables (voltages, gates, conductances, calcium) are integrated in
simulation time ``t``.  Slow variables (vesicle recovery, kinase and
phosphatase activity, AMPA receptor trafficking, tag, gene expression,
proteins, late weight) are integrated in biological ("real") time: every slow
rate is multiplied by ``warp`` = d(real time)/d(simulation time).  While
anything fast happens (a pulse, a spike, their relaxation) ``warp`` is 1; in
quiet stretches the fast variables sit at rest and the engine compresses the
stretch by a large ``warp``.  The slow dynamics only see calcium through
thresholds, which calcium at rest never crosses, so the compressed and the
reference (``warp`` = 1 throughout) integrations describe the same
biological time course.  ``biophys_ltp.schedule`` builds the schedule.

What is left of a pulse when a gap begins (the tail of the NMDA conductance,
calcium a little above rest, the membrane's return to rest) relaxes in
biological time too: every fast rate is multiplied by ``fast`` = max(``warp``,
1).  The cable solver takes steps of ``dt*fast`` (backward Euler, with the
Hodgkin-Huxley gates implicit in it: stable for any step length), the gates
and calcium influx and extrusion carry the same factor, so the next pulse
finds the cell at rest as it would in real time.  In a gap the warp grows
from 1 by a constant factor per step (``ScheduleSettings.growth``), so the
steps stay short while the response dies away and lengthen as it settles.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Gate:
    """A voltage-gated variable of a ``neuron`` mechanism, ``dx/dt = (x_inf(v) - x)/tau_x(v)``,
    given either by opening and closing rates (``alpha``, ``beta``: x_inf = alpha/(alpha +
    beta), 1/tau_x = alpha + beta) or by ``inf`` and ``tau``, each the name of a quantity the
    mechanism's ``rates`` define (or a parameter).  It acts only in compartments where the
    expression ``where`` is 1.  The engine advances it once per step by exponential Euler,
    ``x <- x_inf + (x - x_inf)*exp(-dt/tau_x)``, with x_inf and exp(-dt/tau_x) interpolated in
    a table over the membrane potential (biophys_ltp.engine.gates)."""
    name: str
    where: str
    alpha: str = ""
    beta: str = ""
    inf: str = ""
    tau: str = ""
    # also give the cable solver the gate's dependence on the step's potential: the engine
    # sets d<name>_dv (the slope of the advanced gate against the potential at the middle
    # of the step), and the mechanism's currents use <name>_lin (biophys_ltp.engine.gates)
    implicit: bool = False


@dataclass(frozen=True)
class Tabulated:
    """A quantity of a ``neuron`` mechanism that is a function of the membrane potential
    alone (``expr``: the name of a quantity the mechanism's ``rates`` define), set once per
    step by interpolation in the engine's table over v (biophys_ltp.engine.gates), in compartments
    where ``where`` is 1 (0 elsewhere)."""
    name: str
    expr: str
    where: str


@dataclass(frozen=True)
class Mechanism:
    name: str
    group: str  # "neuron", "neck", "synapse", "population" or "cell"
    summary: str
    equations: str
    parameters: tuple[str, ...] = field(default_factory=tuple)
    # statements defining the voltage-dependent rates of the mechanism's gates as functions
    # of v (membrane potential) and parameters; they are tabulated over v, not compiled
    rates: str = ""
    gates: tuple[Gate, ...] = ()
    tabulated: tuple[Tabulated, ...] = ()
    # statements evaluated once per step in every row before anything is integrated
    # (values that then hold over the step)
    every_step: str = ""


# --------------------------------------------------------------------------
# Neuron (Brian2 SpatialNeuron): one row per compartment
# --------------------------------------------------------------------------

MEMBRANE = Mechanism(
    "membrane",
    "neuron",
    "Leak and Hodgkin-Huxley Na+/K+ channels (soma and dendrite; none in spines)",
    """
    Im = gL*(EL - v) + gNa*m_lin**3*h_lin*(ENa - v) + gK*n_lin**4*(EK - v) + neck_keep*i_vdcc : amp/meter**2
    m_lin = m + dm_dv*(0.5*(v + v_step) - v_gate) : 1
    h_lin = h + dh_dv*(0.5*(v + v_step) - v_gate) : 1
    n_lin = n + dn_dv*(0.5*(v + v_step) - v_gate) : 1
    gNa = gNa_soma*is_soma + gNa_dend*is_dend : siemens/meter**2
    gK = gK_soma*is_soma + gK_dend*is_dend : siemens/meter**2
    m : 1
    dm_dv : 1/volt
    h : 1
    dh_dv : 1/volt
    n : 1
    dn_dv : 1/volt
    is_soma : 1 (constant)
    is_dend : 1 (constant)
    is_head : 1 (constant)
    """,
    ("gL", "EL", "ENa", "EK", "gNa_soma", "gNa_dend", "gK_soma", "gK_dend", "phi_hh", "V_hh"),
    rates="""
    u_hh = (v - V_hh)/mV
    alpham = phi_hh/exprel((25 - u_hh)/10)/ms
    betam = phi_hh*4*exp(-u_hh/18)/ms
    alphah = phi_hh*0.07*exp(-u_hh/20)/ms
    betah = phi_hh/(exp((30 - u_hh)/10) + 1)/ms
    alphan = phi_hh*0.1/exprel((10 - u_hh)/10)/ms
    betan = phi_hh*0.125*exp(-u_hh/80)/ms
    """,
    gates=(Gate("m", "is_soma + is_dend", alpha="alpham", beta="betam", implicit=True),
           Gate("h", "is_soma + is_dend", alpha="alphah", beta="betah", implicit=True),
           Gate("n", "is_soma + is_dend", alpha="alphan", beta="betan", implicit=True)),
)

VDCC = Mechanism(
    "vdcc",
    "neuron",
    "High-voltage-activated Ca2+ channels in the spine head (m^2 gating)",
    """
    i_vdcc = g_vdcc*is_head*m_ca**2*(E_ca - v) : amp/meter**2
    m_ca : 1
    """,
    ("g_vdcc", "E_ca", "V_half_ca", "k_ca", "tau_m_ca"),
    rates="""
    m_ca_inf = 1/(1 + exp(-(v - V_half_ca)/k_ca))
    """,
    gates=(Gate("m_ca", "is_head", inf="m_ca_inf", tau="tau_m_ca"),),
)

SYNAPTIC_CURRENT = Mechanism(
    "synaptic_current",
    "neuron",
    "AMPA and NMDA currents in the spine head; NMDA with the Jahr-Stevens Mg2+ block;"
    " a brief somatic current step for postsynaptic spikes",
    """
    I_point = neck_keep*((g_ampa_tot + g_pop_ampa)*(E_ampa - v) + (g_nmda_tot + g_pop_nmda)*mg_unblock*(E_nmda - v)) + I_neck + I_step*is_soma*step_on : amp (point current)
    mg_unblock = B_mg + dB_mg*(v - v_step) : 1
    i_nmda = g_nmda_tot*B_mg*(E_nmda - v) : amp
    B_mg : 1
    dB_mg : 1/volt
    v_step : volt
    nmda_here : 1 (constant)
    g_ampa_tot : siemens
    g_nmda_tot : siemens
    g_pop_ampa : siemens
    g_pop_nmda : siemens
    """,
    ("E_ampa", "E_nmda", "Mg", "mg_k", "mg_slope", "I_step"),
    # the unblocked fraction B_mg and its slope at the potential the step starts from: the
    # cable solver linearises the NMDA current there (mg_unblock equals B_mg at v_step and
    # has its slope), so the block is evaluated once per step, in the compartments that have
    # NMDA receptors (spine heads, the pathway population's places on the trunk)
    rates="""
    mg_unblocked = 1/(1 + Mg/mg_k*exp(-mg_slope*v))
    """,
    tabulated=(Tabulated("B_mg", "mg_unblocked", "nmda_here"),),
    every_step="""
    v_step = v
    dB_mg = mg_slope*B_mg*(1 - B_mg)
    """,
)

SPINE_CALCIUM = Mechanism(
    "spine_calcium",
    "neuron",
    "Free Ca2+ in each compartment: NMDA receptor Ca2+ influx (a fraction f_ca_nmda of the"
    " NMDA conductance, driven towards E_ca) and VDCC influx,"
    " fast buffering (kappa_B), first-order extrusion to the resting level; a grown spine"
    " head (head_growth, from the synapse's spine volume) dilutes the same influx",
    """
    dCa/dt = fast*((Ca_rest - Ca)/tau_ca + (i_nmda_ca + i_vdcc*area)/(2*faraday_constant*volume*(1 + head_growth)*(1 + kappa_B))) : mmolar
    head_growth : 1
    i_nmda_ca = f_ca_nmda*g_nmda_tot*B_mg*(E_ca - v) : amp
    """,
    ("Ca_rest", "tau_ca", "f_ca_nmda", "kappa_B"),
)

SPINE_NECK = Mechanism(
    "spine_neck",
    "neuron",
    "The neck follows the head: an enlarged head (head_growth > 0) gets a wider, shorter neck"
    " whose conductance grows in proportion, by a factor 1 + neck_scaling*head_growth; a head"
    " at or below its initial size keeps the compiled neck.  The head's capacitance is tiny"
    " (time constant through the neck ~2 us, far below dt), so its voltage is set by the"
    " balance of its currents and the neck: a neck (1 + x) times more conductive is exactly"
    " a head whose synaptic and Ca2+-channel currents drive the compiled neck with 1/(1 + x)"
    " of their value (neck_keep) while the rest (I_neck, through a head -> parent row) enters"
    " the compartment the neck leaves from.  The head's Ca2+ influx is the full current",
    """
    neck_keep : 1
    I_head = is_head*(g_ampa_tot*(E_ampa - v) + g_nmda_tot*B_mg*(E_nmda - v) + i_vdcc*area) : amp
    I_neck : amp
    """,
    ("neck_scaling",),
    every_step="""
    neck_keep = 1/(1 + neck_scaling*is_head*clip(head_growth, 0, 100))
    """,
)

NEURON_MECHANISMS = (MEMBRANE, VDCC, SYNAPTIC_CURRENT, SPINE_CALCIUM, SPINE_NECK)

# --------------------------------------------------------------------------
# Spine necks (Brian2 Synapses): one row per spine, head -> the compartment its neck
# leaves from
# --------------------------------------------------------------------------

NECK_SHARE = Mechanism(
    "neck_share",
    "neck",
    "The part of a grown spine's head current that its wider neck carries beyond the"
    " compiled one (see spine_neck), into the neck's parent compartment",
    """
    I_neck_post = (1 - neck_keep_pre)*I_head_pre : amp (summed)
    """,
)

# --------------------------------------------------------------------------
# Synapses (Brian2 Synapses from the pathway group onto spine heads)
# --------------------------------------------------------------------------

RELEASE = Mechanism(
    "release",
    "synapse",
    "Presynaptic release from a depleting vesicle store with facilitation (Tsodyks-Markram"
    " with facilitation, Markram et al. 1998); the store recovers and facilitation decays in"
    " real time",
    """
    dx_res/dt = warp_post*(1 - x_res)/tau_rec : 1 (clock-driven)
    du_fac/dt = -warp_post*u_fac/tau_fac : 1 (clock-driven)
    """,
    ("U_rel", "tau_rec", "tau_fac"),
)

AMPA = Mechanism(
    "ampa",
    "synapse",
    "AMPA receptor conductance (dual exponential), proportional to the receptor count",
    """
    dA_r/dt = -fast_post*A_r/tau_ampa_r : 1 (clock-driven)
    dA_d/dt = -fast_post*A_d/tau_ampa_d : 1 (clock-driven)
    g_ampa_syn = g_ampa*present*ampar*(A_d - A_r)/peak_ampa : siemens
    g_ampa_tot_post = g_ampa_syn : siemens (summed)
    peak_ampa = (tau_ampa_r/tau_ampa_d)**(tau_ampa_r/(tau_ampa_d - tau_ampa_r)) - (tau_ampa_r/tau_ampa_d)**(tau_ampa_d/(tau_ampa_d - tau_ampa_r)) : 1
    """,
    ("g_ampa", "tau_ampa_r", "tau_ampa_d"),
)

NMDA = Mechanism(
    "nmda",
    "synapse",
    "NMDA receptor conductance (dual exponential); blocked by APV",
    """
    dN_r/dt = -fast_post*N_r/tau_nmda_r : 1 (clock-driven)
    dN_d/dt = -fast_post*N_d/tau_nmda_d : 1 (clock-driven)
    g_nmda_syn = g_nmda*present*base*(1 - apv_post)*(N_d - N_r)/peak_nmda : siemens
    g_nmda_tot_post = g_nmda_syn : siemens (summed)
    peak_nmda = (tau_nmda_r/tau_nmda_d)**(tau_nmda_r/(tau_nmda_d - tau_nmda_r)) - (tau_nmda_r/tau_nmda_d)**(tau_nmda_d/(tau_nmda_d - tau_nmda_r)) : 1
    """,
    ("g_nmda", "tau_nmda_r", "tau_nmda_d"),
)

KINASE_PHOSPHATASE = Mechanism(
    "kinase_phosphatase",
    "synapse",
    "Ca2+-activated kinase activity and phosphatase (calcineurin/PP1-like, lower threshold)"
    " activity.  The kinase has two routes: a fast one (CaMKII-like) above a high spine Ca2+"
    " level, and a slow one (Ca2+/calmodulin-stimulated adenylyl cyclase, cAMP, PKA) that"
    " follows the spine Ca2+ averaged over tens of seconds (ca_slow) and opens when a sustained"
    " moderate level is kept up, as in minutes-long stimulation at 20 Hz and above; the"
    " spike-coincidence route (kin_spike, see spike_coincidence) adds to the fast one",
    """
    dkin/dt = warp_post*((k_kin*int(Ca_post > theta_kin) + k_pka*int(ca_slow > theta_camp) + kin_spike)*present*(1 - kin) - kin/tau_kin) : 1 (clock-driven)
    dpho/dt = warp_post*(k_pho*present*int(Ca_post > theta_pho)*(1 - pho) - pho/tau_pho) : 1 (clock-driven)
    dca_slow/dt = warp_post*(Ca_post - ca_slow)/tau_camp : mmolar (clock-driven)
    """,
    ("k_kin", "theta_kin", "tau_kin", "k_pho", "theta_pho", "tau_pho", "k_pka", "theta_camp", "tau_camp"),
)

SPIKE_COINCIDENCE = Mechanism(
    "spike_coincidence",
    "synapse",
    "Spike timing: two routes that need a backpropagating action potential, seen where the"
    " pathway's branch leaves the apical trunk (v_branch above theta_bap; a local NMDA plateau"
    " on the branch does not reach there).  Kinase: NMDA receptor Ca2+ entry above"
    " theta_nmda_ca while the spike passes, i.e. glutamate bound shortly before it (kin_spike)."
    "  Depression: NMDA receptor Ca2+ entry above theta_dep while the spike's trace (bap,"
    " decaying with tau_bap) is up activates a depression activity (dep, decaying with the"
    " phosphatase's tau_pho) that removes AMPA receptors; it follows the spike in both"
    " orders, so a spike after glutamate nets potentiation and one before it depression."
    "  Both need NMDA receptors (APV blocks them)",
    """
    kin_spike = k_bap*int(i_nmda_ca_post > theta_nmda_ca)*int(v_branch_pre > theta_bap) : Hz
    dbap/dt = fast_post*(int(v_branch_pre > theta_bap)*(1 - bap)/tau_bap_on - bap/tau_bap) : 1 (clock-driven)
    ddep/dt = warp_post*(k_dep*present*bap*int(i_nmda_ca_post > theta_dep)*(1 - dep) - dep/tau_pho) : 1 (clock-driven)
    """,
    ("k_bap", "theta_nmda_ca", "theta_bap", "tau_bap_on", "tau_bap", "k_dep", "theta_dep"),
)

TRAFFICKING = Mechanism(
    "ampar_trafficking",
    "synapse",
    "Early phase: kinase activity above kin_min inserts AMPA receptors from a reserve pool,"
    " phosphatase activity above pho_min and the spike-timing depression activity (dep) remove"
    " them (isolated test pulses stay below both thresholds);"
    " the early change relaxes to baseline unless it is captured (consolidation)",
    """
    de_early/dt = warp_post*(k_ins*kin_active*(e_max*spine_volume - e_early) - (k_rem*pho_active + k_rem_dep*dep)*(e_early - e_min) - e_early/tau_early - capture*e_early) : 1 (clock-driven)
    kin_active = clip(kin - kin_min, 0, 1) : 1
    pho_active = clip(pho - pho_min, 0, 1) : 1
    ampar = base + e_early + z_late : 1
    """,
    ("k_ins", "e_max", "k_rem", "k_rem_dep", "e_min", "tau_early", "kin_min", "pho_min"),
)

TAG = Mechanism(
    "tag",
    "synapse",
    "Synaptic tag: set while the early change exceeds theta_tag, then lost",
    """
    dtag/dt = warp_post*(int(abs(e_early) > theta_tag)*(1 - tag)/tau_tag_on - int(abs(e_early) <= theta_tag)*tag/tau_tag_off) : 1 (clock-driven)
    """,
    ("theta_tag", "tau_tag_on", "tau_tag_off"),
)

CONSOLIDATION = Mechanism(
    "consolidation",
    "synapse",
    "Capture: while a synapse is tagged and plasticity-related proteins are present, its early"
    " change (potentiation or depression) is converted into a lasting late weight; the late"
    " weight saturates (z_max: repeated consolidation adds less and less) and decays only"
    " over days",
    """
    capture = tag*prp_pre/(prp_pre + K_prp)/tau_z : Hz
    dz_late/dt = warp_post*(capture*e_early*(1 - clip(z_late, 0, z_max)/z_max) - z_late/tau_late) : 1 (clock-driven)
    """,
    ("K_prp", "tau_z", "tau_late", "z_max"),
)

POPULATION = Mechanism(
    "pathway_population",
    "population",
    "The rest of the stimulated fibre bundle: each modelled spine synapse stands for n_clones"
    " synapses of the same pathway spread along the apical trunk, with the pathway's mean"
    " release, receptor and plasticity state (a mean-field population); they carry the"
    " dendritic depolarisation during trains and most of the field response",
    """
    g_pop_ampa_post = n_clones*g_ampa_path_pre/n_syn : siemens (summed)
    g_pop_nmda_post = n_clones*g_nmda_path_pre/n_syn : siemens (summed)
    """,
    ("n_clones",),
)

SPINE_STRUCTURE = Mechanism(
    "spine_structure",
    "synapse",
    "Spine-head volume (relative to the initial head) follows the synapse's potentiation,"
    " early plus late, with a lag: a spine enlarges with LTP and keeps the larger head only"
    " while the potentiation lasts, so it shrinks back after early LTP alone and stays"
    " enlarged after consolidation; the head's receptor capacity (e_max) and its calcium"
    " volume scale with it, and its neck widens with it (spine_neck)",
    """
    dspine_volume/dt = warp_post*(base + vol_per_ampar*clip(e_early + z_late, 0, 100) - spine_volume)/tau_volume : 1 (clock-driven)
    head_growth_post = spine_volume - 1 : 1 (summed)
    """,
    ("vol_per_ampar", "tau_volume"),
)

SPINE_GROWTH = Mechanism(
    "spine_growth",
    "synapse",
    "New spines: each pathway has places on its branch (``slot`` = 1) where a spine can grow;"
    " one appears, with rate 1/tau_sprout, once the pathway's mean late weight (over its"
    " original spines: z_mean) exceeds theta_sprout, which one consolidation does not reach and"
    " a repeated one does.  A new spine starts small (receptor content and head volume"
    " new_spine_size of an original spine) and follows the same plasticity; ``present`` scales"
    " its receptors and its plasticity while it grows (0 before it appears, 1 for the original"
    " spines)",
    """
    dpresent/dt = warp_post*slot*int(z_mean_pre > theta_sprout)*(1 - present)/tau_sprout : 1 (clock-driven)
    base = 1 - slot*(1 - new_spine_size) : 1
    slot : 1 (constant)
    """,
    ("theta_sprout", "tau_sprout", "new_spine_size"),
)

SYNAPSE_MECHANISMS = (RELEASE, AMPA, NMDA, KINASE_PHOSPHATASE, SPIKE_COINCIDENCE, TRAFFICKING, TAG,
                      CONSOLIDATION, SPINE_STRUCTURE, SPINE_GROWTH)

ON_PRE = """
u_fac += U_rel*(1 - u_fac)
released = u_fac*x_res
x_res -= released
A_r += released/U_rel
A_d += released/U_rel
N_r += released/U_rel
N_d += released/U_rel
"""

# --------------------------------------------------------------------------
# Cell: one row; gene expression and plasticity-related proteins
# --------------------------------------------------------------------------

GENE_EXPRESSION = Mechanism(
    "gene_expression",
    "cell",
    "Late phase: a nuclear signal integrates the cell's summed kinase activity and its summed"
    " phosphatase activity above pho_min (strong LFS, for L-LTD); the kinase route"
    " desensitises with use and recovers over minutes (``ready``), so trains minutes apart"
    " add more signal than trains crowded together (spaced versus massed); above"
    " threshold it switches on transcription/translation, which makes plasticity-related"
    " proteins (PRPs) in the soma; anisomycin blocks translation; PRPs reach the"
    " dendrites with a first-order delay",
    """
    dsignal/dt = warp*(k_signal*kin_total*ready*(1 + g_mapk*mapk) + k_signal_pho*pho_total - signal/tau_signal) : 1
    dready/dt = warp*((1 - ready)/tau_ready - k_desens*kin_total*ready) : 1
    dexpression/dt = warp*(int(signal > theta_signal)*(1 - expression)/tau_expr_on - int(signal <= theta_signal)*expression/tau_expr_off) : 1
    dprp_soma/dt = warp*(expression*(1 - anisomycin)*(1 - prp_soma)/tau_prp_syn - prp_soma/tau_prp) : 1
    dprp/dt = warp*(prp_soma - prp)/tau_transport : 1
    kin_total : 1
    pho_total : 1
    """,
    ("k_signal", "k_signal_pho", "tau_signal", "tau_ready", "k_desens", "theta_signal", "tau_expr_on", "tau_expr_off", "tau_prp_syn", "tau_prp", "tau_transport"),
)

DELAYED_PRIMING = Mechanism(
    "delayed_priming",
    "cell",
    "A slow kinase cascade (MAPK/ERK-like, four first-order stages): kinase activity sets off"
    " its first stage, and its last stage (``mapk``) peaks about 3 tau_mapk later; while it is"
    " up, kinase activity adds more nuclear signal (gain g_mapk).  A second stimulus adds"
    " most when it comes near that peak, about an hour after the first, and little when it"
    " comes minutes after it (spaced versus massed theta bursts)",
    """
    dmapk_1/dt = warp*(k_mapk*kin_total*(1 - mapk_1) - mapk_1/tau_mapk) : 1
    dmapk_2/dt = warp*(mapk_1 - mapk_2)/tau_mapk : 1
    dmapk_3/dt = warp*(mapk_2 - mapk_3)/tau_mapk : 1
    dmapk/dt = warp*(mapk_3 - mapk)/tau_mapk : 1
    """,
    ("k_mapk", "tau_mapk", "g_mapk"),
)

CELL_MECHANISMS = (GENE_EXPRESSION, DELAYED_PRIMING)

ALL_MECHANISMS = NEURON_MECHANISMS + (NECK_SHARE,) + SYNAPSE_MECHANISMS + (POPULATION,) + CELL_MECHANISMS


def mechanisms_for(group: str) -> tuple[Mechanism, ...]:
    return tuple(m for m in ALL_MECHANISMS if m.group == group)


def parameter_owner() -> dict[str, str]:
    """Map each parameter name to the group whose equations declare it."""
    owner: dict[str, str] = {}
    for mech in ALL_MECHANISMS:
        for p in mech.parameters:
            if p in owner and owner[p] != mech.group:
                raise ValueError(f"parameter {p!r} is declared in two groups")
            owner[p] = mech.group
    return owner
