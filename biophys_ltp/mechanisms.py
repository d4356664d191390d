"""The model's mechanisms: one object each, owning all of its parts.

A :class:`Mechanism` (NMDA receptors, AMPA receptors, release, spine calcium, the tag, ...)
holds everything of it, whichever Brian2 objects the parts live in:

* its equations in each Brian2 object (``equations``: ``"neuron"``, the compartments of the
  ``SpatialNeuron``; ``"synapse"``, one row per spine synapse, from the pathway's fibres
  onto the spine head; ``"neck"``, one row per spine, head -> the compartment its neck
  leaves from; ``"population"``, the rest of the pathway's synapses on the trunk;
  ``"cell"``, one row for the nucleus; ``"branch"``, one row per oblique branch carrying
  spines);
* the parameters it reads (``parameters``, by object: each is declared there as a shared
  constant and set when the compiled program starts); the model file lists them under the
  mechanism's own table, ``[parameters.<name>]``, with a unit and a source;
* the currents it adds to the membrane (:class:`Current`), from which the engine composes
  the cable equation's ``Im`` and ``I_point`` and the spine head's current ``I_head``;
* voltage-gated variables (:class:`Gate`) and quantities tabulated over the membrane
  potential (:class:`Tabulated`), from ``rates``; statements evaluated once per step
  (``every_step``);
* what it does on each presynaptic pulse (``on_pre``), its initial values (``initial``) and
  what is recorded of it (:class:`Record`).

The parts are defined in :mod:`biophys_ltp.mechanism_types`.  The engine
(:mod:`biophys_ltp.engine.network`) assembles the network from :data:`ALL_MECHANISMS`;
adding a recorded variable is one :class:`Record` in its mechanism.

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
Hodgkin-Huxley and Ih gates implicit in it: stable for any step length), the gates
and calcium influx and extrusion carry the same factor, so the next pulse
finds the cell at rest as it would in real time.  In a gap the warp grows
from 1 by a constant factor per step (``ScheduleSettings.growth``), so the
steps stay short while the response dies away and lengthen as it settles.
"""

from __future__ import annotations

import textwrap

from .mechanism_types import GROUPS, Current, Gate, Mechanism, Record, Tabulated


# --------------------------------------------------------------------------
# The membrane and its channels
# --------------------------------------------------------------------------

MEMBRANE = Mechanism(
    "membrane",
    "Leak and Hodgkin-Huxley Na+/K+ channels (soma and dendrite; none in spines); the"
    " potential each step starts from (v_step) and the kinds of compartment",
    {"neuron": """
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
    v_step : volt
    is_soma : 1 (constant)
    is_dend : 1 (constant)
    is_apical : 1 (constant)
    is_head : 1 (constant)
    """},
    {"neuron": ("gL", "EL", "ENa", "EK", "gNa_soma", "gNa_dend", "gK_soma", "gK_dend", "phi_hh", "V_hh")},
    currents=(Current("gL*(EL - v)"), Current("gNa*m_lin**3*h_lin*(ENa - v)"), Current("gK*n_lin**4*(EK - v)")),
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
    every_step="""
    v_step = v
    """,
    # gates start near their resting values and settle during the frozen-time start
    initial={"neuron": {"v": "V_hh", "v_step": "V_hh", "m": 0.053, "h": 0.6, "n": 0.32}},
    records=(Record("v_mV", "v", "neuron", "membrane potential", unit="mV"),),
)

VDCC = Mechanism(
    "vdcc",
    "High-voltage-activated Ca2+ channels in the spine head (m^2 gating)",
    {"neuron": """
    i_vdcc = g_vdcc*is_head*m_ca**2*(E_ca - v) : amp/meter**2
    m_ca : 1
    """},
    {"neuron": ("g_vdcc", "E_ca", "V_half_ca", "k_ca", "tau_m_ca")},
    currents=(Current("i_vdcc", through_neck=True, at_step_start="i_vdcc*area"),),
    rates="""
    m_ca_inf = 1/(1 + exp(-(v - V_half_ca)/k_ca))
    """,
    gates=(Gate("m_ca", "is_head", inf="m_ca_inf", tau="tau_m_ca"),),
)

# where the A-type gates are advanced: soma and dendrites, on a cell with the channels
_KA_HERE = "(is_soma + is_dend)*int(gKA_soma > 0*siemens/meter**2)"

A_TYPE_K = Mechanism(
    "a_type_k",
    "Transient (A-type) K+ channels of the soma and dendrites (Hoffman et al. 1997): fast"
    " activation, inactivation within milliseconds, a density that rises linearly with the"
    " distance from the soma along the apical dendrite (trunk, oblique branches, tuft; the"
    " basal dendrite keeps the soma's); it shapes the backpropagating spike and the dendrite's"
    " response to clustered input.  None in spines",
    {"neuron": """
    gKA = gKA_soma*(is_soma + is_dend)*(1 + ka_gradient*is_apical*distance) : siemens/meter**2
    a_ka : 1
    b_ka : 1
    """},
    {"neuron": ("gKA_soma", "ka_gradient", "V_half_a_ka", "k_a_ka", "tau_a_ka", "V_half_b_ka", "k_b_ka",
                "tau_b_ka")},
    currents=(Current("gKA*a_ka*b_ka*(EK - v)"),),
    rates="""
    a_ka_inf = 1/(1 + exp(-(v - V_half_a_ka)/k_a_ka))
    b_ka_inf = 1/(1 + exp((v - V_half_b_ka)/k_b_ka))
    """,
    # (advanced only where the channels are: nowhere on a cell without them)
    gates=tuple(Gate(name, _KA_HERE, inf=f"{name}_inf", tau=f"tau_{name}") for name in ("a_ka", "b_ka")),
    initial={"neuron": {"a_ka": 0.01, "b_ka": 0.8}},
)

H_CURRENT = Mechanism(
    "h_current",
    "Hyperpolarisation-activated cation channels (Ih; Magee 1998): open at rest and more so"
    " below it, slow, with a density that rises linearly with the distance from the soma"
    " along the apical dendrite (the basal dendrite keeps the soma's); they lower the"
    " dendrite's input resistance and shorten its EPSPs.  None in spines",
    {"neuron": """
    gh = gh_soma*(is_soma + is_dend)*(1 + h_gradient*is_apical*distance) : siemens/meter**2
    q_h_lin = q_h + dq_h_dv*(0.5*(v + v_step) - v_gate) : 1
    q_h : 1
    dq_h_dv : 1/volt
    """},
    {"neuron": ("gh_soma", "h_gradient", "E_h", "V_half_h", "k_h", "tau_h")},
    currents=(Current("gh*q_h_lin*(E_h - v)"),),
    rates="""
    q_h_inf = 1/(1 + exp((v - V_half_h)/k_h))
    """,
    # implicit in the cable solver, as the HH gates: the Ih current falls as the potential
    # rises, a feedback that in the dendrite outweighs the leak several times over, so
    # with the gate one long warped step behind the potential the two swing from step to
    # step instead of settling at rest (the layout cell's soma was left 5.5 mV above it)
    gates=(Gate("q_h", "(is_soma + is_dend)*int(gh_soma > 0*siemens/meter**2)", inf="q_h_inf", tau="tau_h",
                implicit=True),),
    initial={"neuron": {"q_h": 0.1}},
)

SOMATIC_STEP = Mechanism(
    "somatic_step",
    "A brief somatic current step for each postsynaptic spike of a protocol (the engine's"
    " schedule switches step_on)",
    {},
    {"neuron": ("I_step",)},
    currents=(Current("I_step*is_soma*step_on", kind="point"),),
)

# --------------------------------------------------------------------------
# Synaptic transmission
# --------------------------------------------------------------------------

RELEASE = Mechanism(
    "release",
    "Presynaptic release from a depleting vesicle store with facilitation (Tsodyks-Markram"
    " with facilitation, Markram et al. 1998); the store recovers and facilitation decays in"
    " real time",
    {"synapse": """
    dx_res/dt = warp_post*(1 - x_res)/tau_rec : 1 (clock-driven)
    du_fac/dt = -warp_post*u_fac/tau_fac : 1 (clock-driven)
    """},
    {"synapse": ("U_rel", "tau_rec", "tau_fac")},
    # the fraction of the store released by this pulse (released/U_rel: 1 for the first
    # pulse of a rested synapse), which the receptors' on_pre read
    on_pre="""
    u_fac += U_rel*(1 - u_fac)
    released = u_fac*x_res
    x_res -= released
    """,
    initial={"synapse": {"x_res": 1}},
)

AMPA = Mechanism(
    "ampa",
    "AMPA receptor conductance (dual exponential), proportional to the receptor count, in"
    " the spine head and in the pathway's population on the trunk",
    {"synapse": """
    dA_r/dt = -fast_post*A_r/tau_ampa_r : 1 (clock-driven)
    dA_d/dt = -fast_post*A_d/tau_ampa_d : 1 (clock-driven)
    g_ampa_syn = g_ampa*present*ampar*(A_d - A_r)/peak_ampa : siemens
    g_ampa_tot_post = g_ampa_syn : siemens (summed)
    peak_ampa = (tau_ampa_r/tau_ampa_d)**(tau_ampa_r/(tau_ampa_d - tau_ampa_r)) - (tau_ampa_r/tau_ampa_d)**(tau_ampa_d/(tau_ampa_d - tau_ampa_r)) : 1
    """,
     "neuron": """
    g_ampa_tot : siemens
    g_pop_ampa : siemens
    """,
     "population": """
    g_pop_ampa_post = n_clones*g_ampa_path_pre/n_syn : siemens (summed)
    """},
    {"synapse": ("g_ampa", "tau_ampa_r", "tau_ampa_d"), "neuron": ("E_ampa",)},
    currents=(Current("(g_ampa_tot + g_pop_ampa)*(E_ampa - v)", kind="point", through_neck=True,
                      at_step_start="g_ampa_tot*(E_ampa - v)"),),
    on_pre="""
    A_r += released/U_rel
    A_d += released/U_rel
    """,
    records=(Record("g_ampa_nS", "g_ampa_tot", "neuron", "AMPA receptor conductance of the spine synapses",
                    unit="nS"),),
)

NMDA = Mechanism(
    "nmda",
    "NMDA receptor conductance (dual exponential) with the Jahr-Stevens Mg2+ block, in the"
    " spine head and in the pathway's population on the trunk; a fraction f_ca_nmda of its"
    " current is carried by Ca2+; blocked by APV (drug target nmda_block, biophys_ltp.drugs)",
    {"synapse": """
    dN_r/dt = -fast_post*N_r/tau_nmda_r : 1 (clock-driven)
    dN_d/dt = -fast_post*N_d/tau_nmda_d : 1 (clock-driven)
    g_nmda_syn = g_nmda*present*base*(1 - nmda_block_post)*(N_d - N_r)/peak_nmda : siemens
    g_nmda_tot_post = g_nmda_syn : siemens (summed)
    peak_nmda = (tau_nmda_r/tau_nmda_d)**(tau_nmda_r/(tau_nmda_d - tau_nmda_r)) - (tau_nmda_r/tau_nmda_d)**(tau_nmda_d/(tau_nmda_d - tau_nmda_r)) : 1
    """,
     "neuron": """
    mg_unblock = B_mg + dB_mg*(v - v_step) : 1
    i_nmda = g_nmda_tot*B_mg*(E_nmda - v) : amp
    i_nmda_ca = f_ca_nmda*g_nmda_tot*B_mg*(E_ca - v) : amp
    B_mg : 1
    dB_mg : 1/volt
    nmda_here : 1 (constant)
    g_nmda_tot : siemens
    g_pop_nmda : siemens
    """,
     "population": """
    g_pop_nmda_post = n_clones*g_nmda_path_pre/n_syn : siemens (summed)
    """},
    {"synapse": ("g_nmda", "tau_nmda_r", "tau_nmda_d"), "neuron": ("E_nmda", "Mg", "mg_k", "mg_slope", "f_ca_nmda")},
    currents=(Current("(g_nmda_tot + g_pop_nmda)*mg_unblock*(E_nmda - v)", kind="point", through_neck=True,
                      at_step_start="g_nmda_tot*B_mg*(E_nmda - v)"),),
    # the unblocked fraction B_mg and its slope at the potential the step starts from: the
    # cable solver linearises the NMDA current there (mg_unblock equals B_mg at v_step and
    # has its slope), so the block is evaluated once per step, in the compartments that have
    # NMDA receptors (spine heads, the pathway population's places on the trunk)
    rates="""
    mg_unblocked = 1/(1 + Mg/mg_k*exp(-mg_slope*v))
    """,
    tabulated=(Tabulated("B_mg", "mg_unblocked", "nmda_here"),),
    every_step="""
    dB_mg = mg_slope*B_mg*(1 - B_mg)
    """,
    on_pre="""
    N_r += released/U_rel
    N_d += released/U_rel
    """,
    records=(Record("i_nmda_pA", "i_nmda", "neuron", "NMDA receptor current of the spine synapses, inward positive",
                    unit="pA"),
             Record("i_nmda_ca_pA", "i_nmda_ca", "neuron", "its Ca2+ part, inward positive", unit="pA")),
)

POPULATION = Mechanism(
    "pathway_population",
    "The rest of the stimulated fibre bundle: each modelled spine synapse stands for n_clones"
    " synapses of the same pathway spread along the apical trunk, with the pathway's mean"
    " release, receptor and plasticity state (a mean-field population, whose conductances"
    " are the AMPA and NMDA mechanisms' population parts); they carry the dendritic"
    " depolarisation during trains and most of the field response",
    {},
    {"population": ("n_clones",)},
)

# --------------------------------------------------------------------------
# The spine: calcium, neck, structure, new spines
# --------------------------------------------------------------------------

SPINE_CALCIUM = Mechanism(
    "spine_calcium",
    "Free Ca2+ in each compartment: NMDA receptor Ca2+ influx (i_nmda_ca) and VDCC influx,"
    " fast buffering (kappa_B), first-order extrusion to the resting level; a grown spine"
    " head (head_growth, from the synapse's spine volume) dilutes the same influx",
    {"neuron": """
    dCa/dt = fast*((Ca_rest - Ca)/tau_ca + (i_nmda_ca + i_vdcc*area)/(2*faraday_constant*volume*(1 + head_growth)*(1 + kappa_B))) : mmolar
    """},
    {"neuron": ("Ca_rest", "tau_ca", "kappa_B")},
    initial={"neuron": {"Ca": "Ca_rest"}},
    records=(Record("ca_uM", "Ca", "neuron", "free Ca2+ concentration", unit="uM"),),
)

SPINE_NECK = Mechanism(
    "spine_neck",
    "The neck follows the head: an enlarged head (head_growth > 0) gets a wider, shorter neck"
    " whose conductance grows in proportion, by a factor 1 + neck_scaling*head_growth; a head"
    " at or below its initial size keeps the compiled neck.  The head's capacitance is tiny"
    " (time constant through the neck ~2 us, far below dt), so its voltage is set by the"
    " balance of its currents and the neck: a neck (1 + x) times more conductive is exactly"
    " a head whose synaptic and Ca2+-channel currents (the mechanisms' head currents) drive"
    " the compiled neck with 1/(1 + x) of their value (neck_keep) while the rest (I_neck,"
    " through a head -> parent row) enters the compartment the neck leaves from.  The head's"
    " Ca2+ influx is the full current",
    {"neuron": """
    neck_keep : 1
    I_neck : amp
    """,
     "neck": """
    I_neck_post = (1 - neck_keep_pre)*I_head_pre : amp (summed)
    """},
    {"neuron": ("neck_scaling",)},
    currents=(Current("I_neck", kind="point"),),
    every_step="""
    neck_keep = 1/(1 + neck_scaling*is_head*clip(head_growth, 0, 100))
    """,
    records=(Record("i_head_pA", "I_head", "neuron",
                    "spine heads only: the head's synaptic and Ca2+-channel current, inward positive",
                    unit="pA"),),
)

SPINE_STRUCTURE = Mechanism(
    "spine_structure",
    "Spine-head volume (relative to the initial head) follows the synapse's potentiation,"
    " early plus late, with a lag: a spine enlarges with LTP and keeps the larger head only"
    " while the potentiation lasts, so it shrinks back after early LTP alone and stays"
    " enlarged after consolidation; the head's receptor capacity (e_max) and its calcium"
    " volume scale with it (head_growth), and its neck widens with it (spine_neck)",
    {"synapse": """
    dspine_volume/dt = warp_post*(base + vol_per_ampar*clip(e_early + z_late, 0, 100) - spine_volume)/tau_volume : 1 (clock-driven)
    head_growth_post = spine_volume - 1 : 1 (summed)
    """,
     "neuron": """
    head_growth : 1
    """},
    {"synapse": ("vol_per_ampar", "tau_volume")},
    initial={"synapse": {"spine_volume": "base"}},
    records=(Record("spine_volume", "spine_volume", "synapse", "spine-head volume relative to the initial head"),),
)

SPINE_GROWTH = Mechanism(
    "spine_growth",
    "New spines: each pathway has places on its branch (``slot`` = 1) where a spine can grow;"
    " one appears, with rate 1/tau_sprout, once the pathway's mean late weight (over its"
    " original spines: z_mean) exceeds theta_sprout, which one consolidation does not reach and"
    " a repeated one does.  A new spine starts small (receptor content and head volume"
    " new_spine_size of an original spine) and follows the same plasticity; ``present`` scales"
    " its receptors and its plasticity while it grows (0 before it appears, 1 for the original"
    " spines)",
    {"synapse": """
    dpresent/dt = warp_post*slot*int(z_mean_pre > theta_sprout)*(1 - present)/tau_sprout : 1 (clock-driven)
    base = 1 - slot*(1 - new_spine_size) : 1
    slot : 1 (constant)
    """},
    {"synapse": ("theta_sprout", "tau_sprout", "new_spine_size")},
    initial={"synapse": {"present": "1 - slot"}},
    records=(Record("spine_count", "present", "synapse",
                    "spines with a synapse on the pathway's branch (a growing new spine counts by its progress)",
                    reduce="sum"),),
)

# --------------------------------------------------------------------------
# Early phase: kinase and phosphatase, spike timing, receptor trafficking
# --------------------------------------------------------------------------

KINASE_PHOSPHATASE = Mechanism(
    "kinase_phosphatase",
    "Ca2+-activated kinase activity and phosphatase (calcineurin/PP1-like, lower threshold)"
    " activity.  The kinase has two routes: a fast one (CaMKII-like) above a high spine Ca2+"
    " level, and a slow one (Ca2+/calmodulin-stimulated adenylyl cyclase, cAMP, PKA) that"
    " follows the spine Ca2+ averaged over tens of seconds (ca_slow) and opens when a sustained"
    " moderate level is kept up, as in minutes-long stimulation at 20 Hz and above; the"
    " spike-coincidence route (kin_spike, see spike_coincidence) adds to the fast one.  Drug"
    " targets (biophys_ltp.drugs): camkii_block (KN-62) scales the fast route, pka_block"
    " (KT5720) the slow one, and camp_boost (forskolin) opens the slow one whatever the calcium."
    "  The fast route's threshold is theta_kin where no neighbour has potentiated (theta_kin_here:"
    " crosstalk)",
    {"synapse": """
    dkin/dt = warp_post*(((k_kin*int(Ca_post > theta_kin_here) + kin_spike)*(1 - camkii_block_post) + k_pka*clip(int(ca_slow > theta_camp) + camp_boost_post, 0, 1)*(1 - pka_block_post))*present*(1 - kin) - kin/tau_kin) : 1 (clock-driven)
    dpho/dt = warp_post*(k_pho*present*int(Ca_post > theta_pho)*(1 - pho) - pho/tau_pho) : 1 (clock-driven)
    dca_slow/dt = warp_post*(Ca_post - ca_slow)/tau_camp : mmolar (clock-driven)
    """},
    {"synapse": ("k_kin", "theta_kin", "tau_kin", "k_pho", "theta_pho", "tau_pho", "k_pka", "theta_camp",
                 "tau_camp")},
    initial={"synapse": {"ca_slow": "Ca_rest"}},
    records=(Record("kinase", "kin", "synapse", "kinase activity", traced=True),
             Record("phosphatase", "pho", "synapse", "phosphatase activity", traced=True)),
)

SPIKE_COINCIDENCE = Mechanism(
    "spike_coincidence",
    "Spike timing: two routes that need a backpropagating action potential, seen as the"
    " potential at the synapse's spike site above theta_bap (v_spike_site, held by the spine"
    " head's compartment and set each step by the engine; the model's structure entry"
    " spike_site: the spine head itself, or, on a cell whose few strong synapses per branch"
    " drive it into an NMDA plateau that reaches the heads, where the branch leaves the"
    " apical trunk).  Kinase: NMDA receptor Ca2+ entry above"
    " theta_nmda_ca while the spike passes, i.e. glutamate bound shortly before it (kin_spike)."
    "  Depression: NMDA receptor Ca2+ entry above theta_dep while the spike's trace (bap,"
    " decaying with tau_bap) is up activates a depression activity (dep, decaying with the"
    " phosphatase's tau_pho) that removes AMPA receptors; it follows the spike in both"
    " orders, so a spike after glutamate nets potentiation and one before it depression."
    "  Both need NMDA receptors (APV blocks them)",
    {"neuron": """
    v_spike_site : volt
    """, "synapse": """
    kin_spike = k_bap*int(i_nmda_ca_post > theta_nmda_ca)*int(v_spike_site_post > theta_bap) : Hz
    dbap/dt = fast_post*(int(v_spike_site_post > theta_bap)*(1 - bap)/tau_bap_on - bap/tau_bap) : 1 (clock-driven)
    ddep/dt = warp_post*(k_dep*present*bap*int(i_nmda_ca_post > theta_dep)*(1 - dep) - dep/tau_pho) : 1 (clock-driven)
    """},
    {"synapse": ("k_bap", "theta_nmda_ca", "theta_bap", "tau_bap_on", "tau_bap", "k_dep", "theta_dep")},
)

CROSSTALK = Mechanism(
    "crosstalk",
    "Heterosynaptic crosstalk between neighbouring spines: kinase activity above the insertion"
    " threshold (kin_active) activates a Ras-like signal in the spine (ras: rate k_ras, decay"
    " tau_ras) that spreads along the dendrite into the spines near it; a spine at distance d"
    " along the same branch receives exp(-d/crosstalk_length) of it (the steady state of"
    " diffusion with inactivation along a thin dendrite; weights set by the engine from the"
    " morphology, pairs below 1 % left out; a spine's own signal does not act on it).  The"
    " signal reaching a spine from its neighbours (ras_near, summed, at most 1 counted) lowers"
    " the Ca2+ threshold of its fast kinase route by the fraction g_ras at full strength, so"
    " for minutes after a neighbour potentiates, a stimulus near its threshold potentiates it"
    " more (Harvey & Svoboda 2007; Harvey et al. 2008)",
    {"neuron": """
    ras_here : 1
    ras_near : 1
    """, "synapse": """
    dras/dt = warp_post*(k_ras*kin_active*(1 - ras) - ras/tau_ras) : 1 (clock-driven)
    ras_here_post = ras : 1 (summed)
    ras_nearby = clip(ras_near_post, 0, 1) : 1
    theta_kin_here = theta_kin*(1 - g_ras*ras_nearby) : mmolar
    """},
    {"synapse": ("k_ras", "tau_ras", "g_ras")},
    records=(Record("crosstalk", "ras_nearby", "synapse",
                    "Ras-like signal reaching the pathway's spines from their neighbours (0-1)"),),
)

TRAFFICKING = Mechanism(
    "ampar_trafficking",
    "Early phase: kinase activity above kin_min inserts AMPA receptors from a reserve pool,"
    " phosphatase activity above pho_min and the spike-timing depression activity (dep) remove"
    " them (isolated test pulses stay below both thresholds);"
    " the early change relaxes to baseline unless it is captured (consolidation)",
    {"synapse": """
    de_early/dt = warp_post*(k_ins*kin_active*(e_max*spine_volume - e_early) - (k_rem*pho_active + k_rem_dep*dep)*(e_early - e_min) - e_early/tau_early - capture*e_early) : 1 (clock-driven)
    kin_active = clip(kin - kin_min, 0, 1) : 1
    pho_active = clip(pho - pho_min, 0, 1) : 1
    ampar = base + e_early + z_late : 1
    """},
    {"synapse": ("k_ins", "e_max", "k_rem", "k_rem_dep", "e_min", "tau_early", "kin_min", "pho_min")},
    records=(Record("early_weight", "e_early", "synapse", "early change of the AMPA receptor content",
                    traced=True),
             Record("ampar_rel", "ampar", "synapse", "AMPA receptor content relative to an initial spine",
                    traced=True)),
)

# --------------------------------------------------------------------------
# Late phase: tag, capture, nuclear signal and proteins
# --------------------------------------------------------------------------

TAG = Mechanism(
    "tag",
    "Synaptic tag: set while the early change exceeds theta_tag, then lost",
    {"synapse": """
    dtag/dt = warp_post*(int(abs(e_early) > theta_tag)*(1 - tag)/tau_tag_on - int(abs(e_early) <= theta_tag)*tag/tau_tag_off) : 1 (clock-driven)
    """},
    {"synapse": ("theta_tag", "tau_tag_on", "tau_tag_off")},
    records=(Record("tag", "tag", "synapse", "synaptic tag"),),
)

CONSOLIDATION = Mechanism(
    "consolidation",
    "Capture: while a synapse is tagged and plasticity-related proteins are present on its"
    " branch (prp_syn: branch_proteins), its early change (potentiation or depression) is"
    " converted into a lasting late weight; the late weight saturates (z_max: repeated"
    " consolidation adds less and less) and decays only over days.  Its positive part is"
    " kept up by PKMzeta: while pkmzeta_block is on (ZIP, biophys_ltp.drugs) it decays with"
    " tau_zip; a negative late weight (late LTD) is not touched",
    {"synapse": """
    prp_syn = clip(prp_branch_post, 0, 1) : 1
    capture = tag*prp_syn/(prp_syn + K_prp)/tau_z : Hz
    consolidating = capture*e_early*(1 - clip(z_late, 0, z_max)/z_max) : Hz
    dz_late/dt = warp_post*(consolidating - z_late/tau_late - pkmzeta_block_post*clip(z_late, 0, z_max)/tau_zip) : 1 (clock-driven)
    """},
    {"synapse": ("K_prp", "tau_z", "tau_late", "z_max", "tau_zip")},
    records=(Record("late_weight", "z_late", "synapse", "late (consolidated) weight"),),
)

GENE_EXPRESSION = Mechanism(
    "gene_expression",
    "Late phase: a nuclear signal integrates the cell's summed kinase activity and its summed"
    " phosphatase activity above pho_min (strong LFS, for L-LTD); the kinase route"
    " desensitises with use and recovers over minutes (``ready``), so trains minutes apart"
    " add more signal than trains crowded together (spaced versus massed); above"
    " threshold it switches on transcription/translation, which makes plasticity-related"
    " proteins (PRPs) in the soma; actinomycin D blocks transcription (expression cannot switch"
    " on, and decays), anisomycin translation; a D1/D5 antagonist (d1_block) keeps the nuclear"
    " signal from rising: in slices a strong stimulus also releases dopamine, whose D1/D5"
    " receptors gate the protein synthesis of late LTP and late LTD; the PRPs reach the"
    " branches (branch_proteins)",
    {"cell": """
    dsignal/dt = warp*((k_signal*kin_total*ready*(1 + g_mapk*mapk) + k_signal_pho*pho_total)*(1 - d1_block) - signal/tau_signal) : 1
    dready/dt = warp*((1 - ready)/tau_ready - k_desens*kin_total*ready) : 1
    dexpression/dt = warp*(int(signal > theta_signal)*(1 - transcription_block)*(1 - expression)/tau_expr_on - (int(signal <= theta_signal) + int(signal > theta_signal)*transcription_block)*expression/tau_expr_off) : 1
    dprp_soma/dt = warp*(expression*(1 - translation_block)*(1 - prp_soma)/tau_prp_syn - prp_soma/tau_prp) : 1
    kin_total : 1
    pho_total : 1
    """},
    {"cell": ("k_signal", "k_signal_pho", "tau_signal", "tau_ready", "k_desens", "theta_signal", "tau_expr_on",
              "tau_expr_off", "tau_prp_syn", "tau_prp")},
    initial={"cell": {"ready": 1}},
    records=(Record("signal", "signal", "cell", "nuclear signal"),
             Record("signal_ready", "ready", "cell", "readiness of the kinase route to the nucleus"),
             Record("expression", "expression", "cell", "gene expression"),
             Record("prp_soma", "prp_soma", "cell", "plasticity-related proteins in the soma")),
)

BRANCH_PROTEINS = Mechanism(
    "branch_proteins",
    "Each oblique branch carrying spines holds its own pool of plasticity-related proteins"
    " (prp: a concentration, 0-1 of the level the soma's synthesis saturates at): the"
    " somatic PRPs reach it with a first-order delay (tau_transport), and its synapses use"
    " them up as they consolidate, either sign: per unit of late weight consolidated the"
    " pool of a branch of length branch_length loses prp_use/branch_length (prp_use, a"
    " length: the stretch of branch whose full pool one unit of late weight uses), so"
    " synapses capturing at once on one branch compete for its proteins, the more so on a"
    " short branch.  Each spine head holds its branch's level (prp_branch, copied by the"
    " engine every step) and the consolidation its synapse does (use_here), which the"
    " engine sums over the branch (use); the engine sets branch_length",
    {"neuron": """
    prp_branch : 1
    use_here : Hz
    """, "synapse": """
    prp_here = prp_branch_post : 1
    use_here_post = abs(consolidating) : Hz (summed)
    """, "branch": """
    dprp/dt = warp*((prp_soma - prp)/tau_transport - prp_use*use/branch_length) : 1
    use : Hz
    branch_length : meter (constant)
    """},
    {"branch": ("tau_transport", "prp_use")},
    records=(Record("proteins", "prp_here", "synapse",
                    "plasticity-related proteins at the branches of the pathway's spines"),),
)

DELAYED_PRIMING = Mechanism(
    "delayed_priming",
    "A slow kinase cascade (MAPK/ERK-like, four first-order stages): kinase activity sets off"
    " its first stage, and its last stage (``mapk``) peaks about 3 tau_mapk later; while it is"
    " up, kinase activity adds more nuclear signal (gain g_mapk).  A second stimulus adds"
    " most when it comes near that peak, about an hour after the first, and little when it"
    " comes minutes after it (spaced versus massed theta bursts)",
    {"cell": """
    dmapk_1/dt = warp*(k_mapk*kin_total*(1 - mapk_1) - mapk_1/tau_mapk) : 1
    dmapk_2/dt = warp*(mapk_1 - mapk_2)/tau_mapk : 1
    dmapk_3/dt = warp*(mapk_2 - mapk_3)/tau_mapk : 1
    dmapk/dt = warp*(mapk_3 - mapk)/tau_mapk : 1
    """},
    {"cell": ("k_mapk", "tau_mapk", "g_mapk")},
    records=(Record("signal_priming", "mapk", "cell", "last stage of the slow kinase cascade"),),
)

#: Every mechanism, in the order their parts are assembled (gates, every-step statements and
#: on_pre statements run in this order).
ALL_MECHANISMS = (MEMBRANE, A_TYPE_K, H_CURRENT, VDCC, SOMATIC_STEP, RELEASE, AMPA, NMDA, POPULATION,
                  SPINE_CALCIUM, SPINE_NECK, TRAFFICKING, CONSOLIDATION, TAG, KINASE_PHOSPHATASE,
                  CROSSTALK, SPIKE_COINCIDENCE, SPINE_STRUCTURE, SPINE_GROWTH, GENE_EXPRESSION,
                  BRANCH_PROTEINS, DELAYED_PRIMING)

def mechanisms_for(group: str) -> tuple[Mechanism, ...]:
    """The mechanisms with a part in the Brian2 object ``group``."""
    return tuple(m for m in ALL_MECHANISMS if group in m.groups())


def by_name() -> dict[str, Mechanism]:
    return {m.name: m for m in ALL_MECHANISMS}


def parameter_owner() -> dict[str, str]:
    """Map each parameter name to the Brian2 object whose equations declare it."""
    owner: dict[str, str] = {}
    for m in ALL_MECHANISMS:
        for group in GROUPS:
            for p in m.parameters_in(group):
                if p in owner and owner[p] != group:
                    raise ValueError(f"parameter {p!r} is declared in two groups")
                owner[p] = group
    return owner


def parameter_mechanism() -> dict[str, str]:
    """Map each parameter name to the mechanism that owns it (its table in the model file)."""
    out: dict[str, str] = {}
    for m in ALL_MECHANISMS:
        for p in m.all_parameters():
            if p in out:
                raise ValueError(f"parameter {p!r} is owned by two mechanisms: {out[p]} and {m.name}")
            out[p] = m.name
    return out


def _lines(text: str) -> list[str]:
    return [line for line in textwrap.dedent(text).strip().splitlines() if line.strip()]


def on_pre() -> str:
    """The synapse's statements on each presynaptic pulse, mechanism by mechanism."""
    return "\n".join(line for m in ALL_MECHANISMS for line in _lines(m.on_pre))


def composed_currents() -> str:
    """The neuron's current equations composed from every mechanism's :class:`Current`:
    ``Im`` (densities) and ``I_point`` (currents) for the cable equation, the spine-head
    currents scaled by ``neck_keep`` (spine_neck); and ``I_head``, the head's current at the
    start of the step."""
    def parts(kind, neck):
        return [c.expr for m in ALL_MECHANISMS for c in m.currents if c.kind == kind and c.through_neck == neck]

    def total(kind):
        terms = parts(kind, False)
        head = parts(kind, True)
        if head:
            terms.append(f"neck_keep*({' + '.join(head)})" if len(head) > 1 else f"neck_keep*{head[0]}")
        return " + ".join(terms) or "0"

    head_now = [c.at_step_start for m in ALL_MECHANISMS for c in m.currents if c.through_neck]
    return "\n".join([
        f"Im = {total('membrane')} : amp/meter**2",
        f"I_point = {total('point')} : amp (point current)",
        f"I_head = is_head*({' + '.join(head_now) or '0'}) : amp",
    ])


def initial_values(group: str) -> dict[str, str | float]:
    """Initial values of the variables of the Brian2 object ``group``, by name."""
    out: dict[str, str | float] = {}
    for m in ALL_MECHANISMS:
        for var, value in m.initial.get(group, {}).items():
            if var in out:
                raise ValueError(f"initial value of {group}.{var} given by two mechanisms")
            out[var] = value
    return out


def records(group: str | None = None) -> tuple[Record, ...]:
    """What is recorded (of the Brian2 object ``group``, or of all), in mechanism order."""
    found = tuple(r for m in ALL_MECHANISMS for r in m.records if group is None or r.group == group)
    columns = [r.column for r in found]
    if len(set(columns)) != len(columns):
        raise ValueError(f"two records write the same column: {sorted(c for c in columns if columns.count(c) > 1)}")
    return found
