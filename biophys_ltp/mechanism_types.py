"""What a mechanism is made of (:mod:`biophys_ltp.mechanisms` holds the model's own):
:class:`Mechanism`, and its :class:`Gate`, :class:`Tabulated`, :class:`Current` and
:class:`Record` parts."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Mapping

#: The Brian2 objects that carry a mechanism's equations.
GROUPS = ("neuron", "neck", "synapse", "population", "cell", "branch")


@dataclass(frozen=True)
class Gate:
    """A voltage-gated variable of a mechanism's neuron part, ``dx/dt = (x_inf(v) - x)/tau_x(v)``,
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
    """A quantity of a mechanism's neuron part that is a function of the membrane potential
    alone (``expr``: the name of a quantity the mechanism's ``rates`` define), set once per
    step by interpolation in the engine's table over v (biophys_ltp.engine.gates), in compartments
    where ``where`` is 1 (0 elsewhere)."""
    name: str
    expr: str
    where: str


@dataclass(frozen=True)
class Current:
    """A current a mechanism adds to each compartment: ``expr`` is a density (A/m^2) for
    ``kind="membrane"`` or a current (A) for ``kind="point"``, inward positive.

    ``through_neck``: a spine-head current.  The compiled neck carries ``neck_keep`` of it
    (the rest enters the neck's parent compartment through ``I_neck``: spine_neck), and
    ``at_step_start`` is its value at the start of the step (in A), the part of the head's
    current ``I_head`` that the wider neck of a grown spine carries."""
    expr: str
    kind: str = "membrane"
    through_neck: bool = False
    at_step_start: str = ""


@dataclass(frozen=True)
class Record:
    """A quantity recorded of a mechanism, written as the output column ``column`` (its unit
    in the name: ``v_mV``; ``unit`` is that unit, a Brian2 unit name, "1" for none).

    * a ``neuron`` variable is recorded per compartment in trace windows (``traces.csv``);
    * a ``synapse`` variable is recorded per pathway every biological minute (``state.csv``)
      as the mean over the pathway's original spines (``reduce="mean"``) or the sum over its
      spines present (``"sum"``), and also in trace windows where ``traced``;
    * a ``cell`` variable is recorded every biological minute (``state.csv``, interpolated
      to the pathways' sample times)."""
    column: str
    var: str
    group: str
    description: str
    unit: str = "1"
    reduce: str = "mean"
    traced: bool = False


@dataclass(frozen=True)
class Mechanism:
    name: str
    summary: str
    equations: Mapping[str, str]  # Brian2 object -> equations
    parameters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # Brian2 object -> names
    currents: tuple[Current, ...] = ()
    # statements defining the voltage-dependent rates of the mechanism's gates as functions
    # of v (membrane potential) and parameters; they are tabulated over v, not compiled
    rates: str = ""
    gates: tuple[Gate, ...] = ()
    tabulated: tuple[Tabulated, ...] = ()
    # statements evaluated once per step in every compartment before anything is integrated
    # (values that then hold over the step)
    every_step: str = ""
    # statements of the synapse on each presynaptic pulse (in mechanism order)
    on_pre: str = ""
    # initial values by Brian2 object: a number, or an expression of parameters and constants
    initial: Mapping[str, Mapping[str, str | float]] = field(default_factory=dict)
    records: tuple[Record, ...] = ()

    def groups(self) -> tuple[str, ...]:
        """The Brian2 objects this mechanism has a part in."""
        used = set(self.equations) | set(self.parameters) | set(self.initial) | {r.group for r in self.records}
        if self.currents or self.gates or self.tabulated or self.every_step or self.rates:
            used.add("neuron")
        if self.on_pre:
            used.add("synapse")
        return tuple(g for g in GROUPS if g in used)

    def equations_in(self, group: str) -> str:
        return textwrap.dedent(self.equations.get(group, "")).strip("\n")

    def parameters_in(self, group: str) -> tuple[str, ...]:
        return tuple(self.parameters.get(group, ()))

    def all_parameters(self) -> tuple[str, ...]:
        return tuple(p for g in GROUPS for p in self.parameters_in(g))
