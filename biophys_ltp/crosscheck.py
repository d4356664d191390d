"""Cross-check of the passive cable solution against NEURON.

The project's morphology reduced to soma + one branch + one spine, with the
model's own geometry and passive parameters (``soma_diameter``,
``oblique_diameter``, ``oblique_length``, the spine neck and head, ``Cm``,
``Ri``, ``gL``, ``EL`` and the integration step ``dt``), is built twice: as a
Brian2 ``SpatialNeuron`` and as NEURON sections.  Everything is passive (a leak
``gL`` to ``EL`` in every compartment); the active channels, the synapse model
and the rest of the tree (trunk, basal, tuft, the other branches and spines)
are left out, so that the comparison is about the cable equation alone: the
morphology, the compartmentalisation, the axial coupling at branch points and
the time stepping.

Cell::

    soma ── dendrite, proximal half ──┬── dendrite, distal half (sealed end)
                                      └── spine neck ── spine head

* soma: a sphere of ``soma_diameter`` in Brian2 (one isopotential compartment);
  in NEURON a cylinder with length = diameter and ``nseg = 1``, which has the
  same membrane area (pi d^2).  The dendrite is connected to the soma's
  centre (``soma(0.5)``), so there is no axial resistance inside the soma, as
  in Brian2 (whose ``Soma`` has a negligible internal resistance).
* dendrite: one cylinder of ``oblique_diameter`` and ``oblique_length`` in
  ``n_dend`` compartments, built as two halves of ``n_dend / 2`` compartments
  so that the spine can sit at its middle (a spine on a branch point is how the
  full model attaches its spines).  Brian2 places its compartments' centres at
  the middles of ``n`` equal pieces of a ``Cylinder``, as NEURON does for
  ``nseg``; the same counts are used in both.
* spine: a neck (``n_neck`` compartments) and a head (one compartment, a
  cylinder ``spine_head_diameter`` x ``spine_head_length``), as in the model.

Both simulators integrate with fully implicit (backward) Euler at the model's
``dt``: Brian2's ``SpatialNeuron`` solves the cable equation implicitly with
the membrane conductance taken at the start of the step; NEURON does the same
with ``secondorder = 0`` (its default).  Crank-Nicolson (``secondorder = 2``)
would be second-order in time but is not what Brian2 computes, so the two
would differ by an O(dt) discretisation error rather than only by rounding (at
dt = 0.05 ms, ~18 % of the peak of the fast spine-head EPSP).

Two experiments:

* ``soma_step``: a current step into the soma (``h.IClamp`` in NEURON).
  NEURON evaluates point-process currents at the middle of each step, so the
  Brian2 step is written as on when ``t + dt/2`` lies in ``[start, stop)``.
* ``spine_synapse``: a conductance with a difference-of-exponentials time
  course and reversal potential ``syn_E_mV`` into the spine head: an
  ``h.Exp2Syn`` activated by one event at ``syn_onset_ms``, and in Brian2 the
  same waveform, normalised to the same peak, written as a function of ``t``.
  With the onset on the time grid the two are identical on every step: NEURON
  delivers the event at the start of the step at ``t = onset`` (g = 0 during
  that step) and its ``cnexp`` update of the two exponentials is exact.

:func:`crosscheck` runs both experiments in both simulators and returns the
traces and, per experiment and recording site (soma, spine head), the peak
deflection from rest and the largest absolute difference between the two
simulators.  NEURON is an optional dependency (``pip install -e '.[neuron]'``).
"""

from __future__ import annotations

import math
import os
from typing import Any

import brian2 as b2
import numpy as np

from .engine import runtime_numpy
from .model import Model, load_model

INSTALL_HINT = "pip install -e '.[neuron]'  (or: pip install neuron)"

EXPERIMENTS = ("soma_step", "spine_synapse")
SITES = ("soma", "head")


def _neuron_h():
    """NEURON's ``h``, or an ImportError that says how to install it."""
    # no graphics: avoids NEURON's "no DISPLAY" warning on import
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    try:
        import neuron
        from neuron import h
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"the NEURON cross-check needs the NEURON simulator; install it with {INSTALL_HINT}") from exc
    return neuron, h


def _geometry(model: Model) -> dict[str, float]:
    """Geometry (um), passive parameters and dt as plain numbers in NEURON's units."""
    s, p = model.structure, model.parameters
    um = b2.um
    return {
        "soma_diam_um": float(s["soma_diameter"].value / um),
        "dend_diam_um": float(s["oblique_diameter"].value / um),
        "dend_length_um": float(s["oblique_length"].value / um),
        "neck_diam_um": float(s["spine_neck_diameter"].value / um),
        "neck_length_um": float(s["spine_neck_length"].value / um),
        "head_diam_um": float(s["spine_head_diameter"].value / um),
        "head_length_um": float(s["spine_head_length"].value / um),
        "cm_uF_per_cm2": float(s["Cm"].value / (b2.uF / b2.cm**2)),
        "Ra_ohm_cm": float(s["Ri"].value / (b2.ohm * b2.cm)),
        "g_pas_S_per_cm2": float(p["gL"].value / (b2.siemens / b2.cm**2)),
        "e_pas_mV": float(p["EL"].value / b2.mV),
        "dt_ms": float(s["dt"].value / b2.ms),
    }


def exp2_peak_factor(tau_rise_ms: float, tau_decay_ms: float) -> float:
    """The factor that makes ``exp(-t/tau_decay) - exp(-t/tau_rise)`` peak at 1
    (NEURON's Exp2Syn normalisation)."""
    t_peak = tau_rise_ms * tau_decay_ms / (tau_decay_ms - tau_rise_ms) * math.log(tau_decay_ms / tau_rise_ms)
    return 1.0 / (math.exp(-t_peak / tau_decay_ms) - math.exp(-t_peak / tau_rise_ms))


# ---------------------------------------------------------------------------- Brian2
_BRIAN_EQS = """
Im = gL*(EL - v) : amp/meter**2
I_step = step_amp * int(t + 0.5*dt >= step_start) * int(t + 0.5*dt < step_stop) : amp (point current)
s_syn = (t - syn_onset) * int(t >= syn_onset) : second  # time since onset, 0 before it
I_syn = syn_gmax * syn_norm * (exp(-s_syn/syn_tau_decay) - exp(-s_syn/syn_tau_rise)) * (syn_E - v) : amp (point current)
step_amp : amp (constant)
syn_gmax : siemens (constant)
"""


def _run_brian(g: dict[str, float], n_dend: int, n_neck: int, duration_ms: float,
               stim: dict[str, float]) -> dict[str, np.ndarray]:
    um, ms, mV = b2.um, b2.ms, b2.mV
    soma = b2.Soma(diameter=g["soma_diam_um"] * um)
    half = g["dend_length_um"] / 2 * um
    soma.dend = b2.Cylinder(diameter=g["dend_diam_um"] * um, length=half, n=n_dend // 2)
    soma.dend.distal = b2.Cylinder(diameter=g["dend_diam_um"] * um, length=half, n=n_dend // 2)
    soma.dend.neck = b2.Cylinder(diameter=g["neck_diam_um"] * um, length=g["neck_length_um"] * um, n=n_neck)
    soma.dend.neck.head = b2.Cylinder(diameter=g["head_diam_um"] * um, length=g["head_length_um"] * um, n=1)
    dt = g["dt_ms"] * ms
    namespace = {
        "gL": g["g_pas_S_per_cm2"] * b2.siemens / b2.cm**2,
        "EL": g["e_pas_mV"] * mV,
        "step_start": stim["step_start_ms"] * ms,
        "step_stop": (stim["step_start_ms"] + stim["step_duration_ms"]) * ms,
        "syn_onset": stim["syn_onset_ms"] * ms,
        "syn_tau_rise": stim["syn_tau_rise_ms"] * ms,
        "syn_tau_decay": stim["syn_tau_decay_ms"] * ms,
        "syn_norm": exp2_peak_factor(stim["syn_tau_rise_ms"], stim["syn_tau_decay_ms"]),
        "syn_E": stim["syn_E_mV"] * mV,
    }
    cell = b2.SpatialNeuron(morphology=soma, model=_BRIAN_EQS,
                            Cm=g["cm_uF_per_cm2"] * b2.uF / b2.cm**2, Ri=g["Ra_ohm_cm"] * b2.ohm * b2.cm,
                            method="exponential_euler", namespace=namespace, dt=dt,
                            name="crosscheck_cell*")
    cell.v = g["e_pas_mV"] * mV
    cell.step_amp[0] = stim["step_pA"] * b2.pA
    i_head = int(cell.dend.neck.head.indices[0])
    cell.syn_gmax[i_head] = stim["syn_gmax_nS"] * b2.nS
    mon = b2.StateMonitor(cell, "v", record=[0, i_head], dt=dt, name="crosscheck_v*")
    net = b2.Network(cell, mon)
    net.run(duration_ms * ms, report=None, namespace={})
    return {"time_ms": np.asarray(mon.t / ms), "soma": np.asarray(mon.v[0] / mV),
            "head": np.asarray(mon.v[1] / mV)}


def _brian_experiment(g, n_dend, n_neck, duration_ms, stim):
    """Run one Brian2 simulation on the runtime device with the numpy target (the engine
    switches the device, and puts back the one that was active before)."""
    with runtime_numpy():
        return _run_brian(g, n_dend, n_neck, duration_ms, stim)


# ---------------------------------------------------------------------------- NEURON
def _neuron_experiment(h, g, n_dend, n_neck, duration_ms, stim) -> dict[str, np.ndarray]:
    def section(name, length, diam, nseg):
        sec = h.Section(name=f"crosscheck_{name}")
        sec.L, sec.diam, sec.nseg = length, diam, nseg
        sec.Ra, sec.cm = g["Ra_ohm_cm"], g["cm_uF_per_cm2"]
        sec.insert("pas")
        for seg in sec:
            seg.pas.g, seg.pas.e = g["g_pas_S_per_cm2"], g["e_pas_mV"]
        return sec

    # a cylinder with length = diameter has the membrane area of the sphere, pi d^2
    soma = section("soma", g["soma_diam_um"], g["soma_diam_um"], 1)
    dend = section("dend", g["dend_length_um"] / 2, g["dend_diam_um"], n_dend // 2)
    distal = section("dend_distal", g["dend_length_um"] / 2, g["dend_diam_um"], n_dend // 2)
    neck = section("neck", g["neck_length_um"], g["neck_diam_um"], n_neck)
    head = section("head", g["head_length_um"], g["head_diam_um"], 1)
    dend.connect(soma(0.5))  # the soma's centre: isopotential soma, as Brian2's Soma
    distal.connect(dend(1))
    neck.connect(dend(1))
    head.connect(neck(1))

    clamp = h.IClamp(soma(0.5))
    clamp.delay, clamp.dur = stim["step_start_ms"], stim["step_duration_ms"]
    clamp.amp = stim["step_pA"] * 1e-3  # nA
    syn = h.Exp2Syn(head(0.5))
    syn.tau1, syn.tau2, syn.e = stim["syn_tau_rise_ms"], stim["syn_tau_decay_ms"], stim["syn_E_mV"]
    netcon = h.NetCon(None, syn)
    netcon.weight[0] = stim["syn_gmax_nS"] * 1e-3  # uS; Exp2Syn's peak conductance equals the weight

    t_rec, v_soma, v_head = h.Vector(), h.Vector(), h.Vector()
    t_rec.record(h._ref_t)
    v_soma.record(soma(0.5)._ref_v)
    v_head.record(head(0.5)._ref_v)

    cvode = h.CVode()
    saved = {"dt": h.dt, "secondorder": h.secondorder, "cvode": cvode.active()}
    try:
        cvode.active(0)
        h.secondorder = 0  # backward Euler, as Brian2's implicit cable solver
        h.dt = g["dt_ms"]
        h.finitialize(g["e_pas_mV"])
        if stim["syn_gmax_nS"] != 0:
            netcon.event(stim["syn_onset_ms"])
        for _ in range(int(round(duration_ms / g["dt_ms"]))):
            h.fadvance()
        out = {"time_ms": np.array(t_rec), "soma": np.array(v_soma), "head": np.array(v_head)}
    finally:
        h.dt, h.secondorder = saved["dt"], saved["secondorder"]
        cvode.active(saved["cvode"])
    return out


# ---------------------------------------------------------------------------- comparison
def crosscheck(model: Model | str | None = None, *, n_dend: int = 10, n_neck: int = 1,
               duration_ms: float = 60.0,
               step_pA: float = 10.0, step_start_ms: float = 5.0, step_duration_ms: float = 20.0,
               syn_gmax_nS: float = 0.5, syn_tau_rise_ms: float = 0.2, syn_tau_decay_ms: float = 2.0,
               syn_E_mV: float = 0.0, syn_onset_ms: float = 5.0) -> dict[str, Any]:
    """Run both experiments in Brian2 and in NEURON and compare the voltages.

    The morphology is the model's (``load_model()`` by default) reduced to soma +
    one branch + one spine, with the model's own passive parameters (see the
    module docstring).  ``n_dend`` (even) is the number of dendrite compartments,
    ``n_neck`` that of the spine neck; the same counts are used in both simulators
    (Brian2's ``n`` = NEURON's ``nseg``).  The default step (10 pA) depolarises
    this small cell (input resistance ~1 GOhm) by several mV.

    Returns a dict with ``"experiments"``: for ``"soma_step"`` and
    ``"spine_synapse"``, the traces ``time_ms``, ``v_soma_brian_mV``,
    ``v_soma_neuron_mV``, ``v_head_brian_mV``, ``v_head_neuron_mV`` (NEURON's
    interpolated onto Brian2's time grid) and ``"sites"``: for ``"soma"`` and
    ``"head"``, ``peak_deflection_mV`` (largest |v - EL| in the Brian2 trace),
    ``max_abs_diff_mV`` (largest |Brian2 - NEURON|) and ``relative_diff``
    (their ratio).  It also holds the settings used (``geometry``,
    ``compartments``, ``stimulus``) and ``neuron_version``.
    """
    neuron, h = _neuron_h()
    if n_dend < 2 or n_dend % 2:
        raise ValueError(f"n_dend must be even and >= 2 (the spine sits at the middle), got {n_dend}")
    if n_neck < 1:
        raise ValueError(f"n_neck must be >= 1, got {n_neck}")
    if not isinstance(model, Model):
        model = load_model(model)
    g = _geometry(model)
    for name, value in (("step_start_ms", step_start_ms), ("syn_onset_ms", syn_onset_ms)):
        if abs(value / g["dt_ms"] - round(value / g["dt_ms"])) > 1e-9:
            raise ValueError(f"{name} = {value} must be a multiple of dt = {g['dt_ms']} ms")
    step = dict(step_pA=step_pA, step_start_ms=step_start_ms, step_duration_ms=step_duration_ms,
                syn_gmax_nS=0.0, syn_tau_rise_ms=syn_tau_rise_ms, syn_tau_decay_ms=syn_tau_decay_ms,
                syn_E_mV=syn_E_mV, syn_onset_ms=syn_onset_ms)
    synapse = dict(step, step_pA=0.0, syn_gmax_nS=syn_gmax_nS)

    experiments = {}
    for name, stim in (("soma_step", step), ("spine_synapse", synapse)):
        b = _brian_experiment(g, n_dend, n_neck, duration_ms, stim)
        n = _neuron_experiment(h, g, n_dend, n_neck, duration_ms, stim)
        t = b["time_ms"]
        exp: dict[str, Any] = {"time_ms": t}
        sites = {}
        for site in SITES:
            v_b = b[site]
            v_n = np.interp(t, n["time_ms"], n[site])
            exp[f"v_{site}_brian_mV"] = v_b
            exp[f"v_{site}_neuron_mV"] = v_n
            peak = float(np.max(np.abs(v_b - g["e_pas_mV"])))
            diff = float(np.max(np.abs(v_b - v_n)))
            sites[site] = {"peak_deflection_mV": peak, "max_abs_diff_mV": diff,
                           "relative_diff": diff / peak if peak > 0 else math.inf}
        exp["sites"] = sites
        experiments[name] = exp
    return {
        "experiments": experiments,
        "geometry": g,
        "compartments": {"soma": 1, "dend": n_dend, "neck": n_neck, "head": 1},
        "stimulus": {"step_pA": step_pA, "step_start_ms": step_start_ms, "step_duration_ms": step_duration_ms,
                     "syn_gmax_nS": syn_gmax_nS, "syn_tau_rise_ms": syn_tau_rise_ms,
                     "syn_tau_decay_ms": syn_tau_decay_ms, "syn_E_mV": syn_E_mV,
                     "syn_onset_ms": syn_onset_ms, "duration_ms": duration_ms},
        "neuron_version": getattr(neuron, "__version__", "unknown"),
    }
