"""Models: parameter files under ``models/`` composed with the mechanisms.

A model file (TOML) holds two tables of entries, each ``{value, source,
description}``:

* ``[structure]``: morphology, number of synapses, integration step.  These
  shape the compiled program; changing one means a new build.
* ``[parameters.<mechanism>]``: everything the equations read, one table per
  mechanism (``biophys_ltp.mechanisms``), each parameter in the table of the
  mechanism that owns it (the loader checks).  These are set when the compiled
  program starts (Brian2 ``run_args``), so changing one never recompiles.

``load_model(name)`` returns a :class:`Model`; ``Model.with_overrides`` returns
a copy with some values replaced (unknown names and wrong units are errors that
name the parameter); ``Model.show()`` prints the composed equations and the
parameter table for a methods section.
"""

from __future__ import annotations

import hashlib
import math
import re
import json
import textwrap
import tomllib
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any, Mapping

import brian2 as b2
import numpy as np

from . import mechanisms as mech
from .errors import InputError, whole_number
from ._paths import shipped
from .units import UnitParseError, format_quantity, parse_quantity, si_unit_text

MODELS_DIR = shipped("models")
# the Brian2 objects that carry equations (biophys_ltp.mechanisms)
GROUPS = mech.GROUPS
DEFAULT_MODEL = "ca1_spine"

# Structure entries that are plain values rather than quantities.
_PLAIN_STRUCTURE = {"pathways": list, "synapses_per_pathway": int, "new_spine_slots": int,
                    "trunk_compartments": int, "oblique_branches": int, "pathways_per_branch": int,
                    "spike_site": str}

#: Where the spike-timing routes (mechanism spike_coincidence) sense a passing spike: in the
#: spine head itself, a signal the synapse has, or where the synapse's branch leaves the
#: apical trunk, which a cell with few, strong synapses per branch needs (there a burst of
#: one pathway drives the branch into an NMDA plateau that reaches every head on it).
SPIKE_SITES = ("spine_head", "branch_root")
# Structure entries whose value is one of a few names.
_CHOICES = {"spike_site": SPIKE_SITES}
#: The whole-number structure entries and their (lowest, highest) values (None: no bound
#: but MAX_SPINES): a trunk section of 200 compartments has 0.75-um compartments.
COUNT_RANGES = {"synapses_per_pathway": (1, None), "new_spine_slots": (0, None), "oblique_branches": (1, None),
                "pathways_per_branch": (1, None), "trunk_compartments": (1, 200)}
#: Spines in a cell, places for new ones included: the layout cell's 165 cost seven times
#: the default's 18 (a 10-h protocol ~10 s against ~1.5 s warm); 2000 would take minutes.
MAX_SPINES = 2000
#: Oblique compartments per spine at most: ten give the layout cell 1849 compartments
#: (499 with one).
MAX_COMPARTMENTS_PER_SPINE = 10.0
_PATHWAY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
#: What an entry of a model file may hold, and the keys of the file itself.
_ENTRY_KEYS = ("value", "source", "description", "range")
_FILE_KEYS = ("name", "description", "structure", "parameters")


class ModelError(InputError):
    """A model file or a parameter override is invalid."""


@dataclass(frozen=True)
class Parameter:
    name: str
    value: Any  # a brian2 Quantity, a float (dimensionless), an int or a list
    source: str
    description: str
    group: str  # "structure" or the Brian2 object the parameter belongs to
    mechanism: str = ""  # the mechanism that owns it ("" for structure entries)
    # (lowest, highest) allowed value where the model file narrows the range its unit allows
    # (biophys_ltp.model.physical_range); None for no bound on that side
    bounds: tuple[Any, Any] = (None, None)

    @property
    def text(self) -> str:
        if isinstance(self.value, (list, tuple)):
            return ", ".join(map(str, self.value))
        if isinstance(self.value, str):
            return self.value
        if isinstance(self.value, (int, np.integer)) and not isinstance(self.value, bool):
            return str(self.value)
        return format_quantity(self.value)

    @property
    def unit(self) -> str:
        if isinstance(self.value, str):
            return ""  # a named choice (spike_site)
        if isinstance(self.value, b2.Quantity) and not self.value.is_dimensionless:
            return self.text.partition(" ")[2]  # the unit the value is written in
        return "1"


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    source: str
    structure: Mapping[str, Parameter]
    parameters: Mapping[str, Parameter]
    overrides: Mapping[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ values
    def __getitem__(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name].value
        if name in self.structure:
            return self.structure[name].value
        raise KeyError(name)

    @property
    def pathways(self) -> tuple[str, ...]:
        return tuple(self.structure["pathways"].value)

    @property
    def n_syn(self) -> int:
        return int(self.structure["synapses_per_pathway"].value)

    @property
    def n_slots(self) -> int:
        """Places per pathway where a new spine can grow (0 in models without spine growth)."""
        entry = self.structure.get("new_spine_slots")
        return int(entry.value) if entry is not None else 0

    @property
    def pathways_per_branch(self) -> int:
        """Pathways whose spines share each oblique branch (1: a pathway to itself)."""
        entry = self.structure.get("pathways_per_branch")
        return int(entry.value) if entry is not None else 1

    @property
    def n_branches(self) -> int:
        """Oblique branches carrying the pathways' spines (default: one per pathway)."""
        entry = self.structure.get("oblique_branches")
        return int(entry.value) if entry is not None else len(self.pathways) // self.pathways_per_branch

    @property
    def spike_site(self) -> str:
        """Where the spike-timing routes sense a passing spike (:data:`SPIKE_SITES`; a model
        file without the entry has the first layout's ``"branch_root"``)."""
        entry = self.structure.get("spike_site")
        return str(entry.value) if entry is not None else "branch_root"

    def spine_branches(self) -> list[list[tuple[int, int]]]:
        """Which spine sits where: for each oblique branch, its spines from the trunk
        outwards as (pathway index, spine index).  The pathways go in groups of
        ``pathways_per_branch`` that share ``oblique_branches / groups`` branches; along
        the branches of a group its pathways' spines alternate (spine 0 of each pathway,
        then spine 1, ...), and each branch takes the next stretch of that sequence."""
        n_path, per = len(self.pathways), self.pathways_per_branch
        if n_path % per:
            raise ModelError(f"{self.label}: {n_path} pathways do not go in groups of "
                             f"pathways_per_branch = {per}")
        groups = n_path // per
        if self.n_branches % groups:
            raise ModelError(f"{self.label}: oblique_branches = {self.n_branches} is not a multiple of "
                             f"the {groups} groups of pathways sharing branches")
        per_group = self.n_branches // groups
        if per_group > self.n_syn * per:
            raise ModelError(f"{self.label}: {per_group} branches per group of pathways but only "
                             f"{self.n_syn * per} spines to put on them")
        branches = []
        for g in range(groups):
            sequence = [(p, k) for k in range(self.n_syn) for p in range(g * per, (g + 1) * per)]
            bounds = np.linspace(0, len(sequence), per_group + 1).round().astype(int)
            branches += [sequence[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        return branches

    def spine_stretch(self, spines: list[tuple[int, int]]) -> Any:
        """The length of branch each spine of a branch (one list of :meth:`spine_branches`)
        takes: the branch's length shared evenly, each spine in the middle of its stretch."""
        return self.structure["oblique_length"].value / len(spines)

    def oblique_compartments(self, spines: list[tuple[int, int]]) -> int:
        """Compartments of a branch carrying ``spines`` (one list of :meth:`spine_branches`):
        ``oblique_compartments_per_spine`` times the spines, rounded up (at least one; one
        per spine where the model file leaves the entry out)."""
        entry = self.structure.get("oblique_compartments_per_spine")
        per_spine = float(entry.value) if entry is not None else 1.0
        return max(1, int(np.ceil(len(spines) * per_spine - 1e-9)))

    def spine_positions(self) -> np.ndarray:
        """Where each spine (pathway, spine) sits along its branch, um from the trunk: the
        middle of its stretch (:meth:`spine_stretch`); :meth:`morphology` joins its neck to
        the compartment holding that point (with one compartment per spine, the stretch)."""
        where = np.zeros((len(self.pathways), self.n_syn))
        for spines in self.spine_branches():
            stretch = float(self.spine_stretch(spines) / b2.um)
            for k, (p, j) in enumerate(spines):
                where[p, j] = (k + 0.5) * stretch
        return where

    def slot_spines(self) -> list[int]:
        """For each place for a new spine, the pathway's spine it sits beside (the places are
        spread evenly over the pathway's spines)."""
        return [int((k + 0.5) * self.n_syn / self.n_slots) for k in range(self.n_slots)]

    def check_structure(self) -> None:
        """Refuse a layout the cell cannot be built from or that no run could afford
        (:class:`ModelError`): the pathways' names, the counts' ranges
        (:data:`COUNT_RANGES`, at most :data:`MAX_SPINES` spines in all), the origins' spread
        within the distal trunk, and the branches' share of the spines."""
        s, where = self.structure, self.label
        names = s["pathways"].value
        if not isinstance(names, (list, tuple)) or not names:
            raise ModelError(f"{where}: pathways must be a non-empty list of names, got {names!r}")
        bad = [n for n in names if not isinstance(n, str) or not _PATHWAY_NAME.fullmatch(n)]
        if bad:
            raise ModelError(f"{where}: pathway names are a letter followed by letters and digits (e.g. S1), "
                             f"got {', '.join(repr(n) for n in bad)}")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ModelError(f"{where}: pathways name {', '.join(twice)} more than once")
        for name, (low, high) in COUNT_RANGES.items():
            if name in s:
                try:
                    whole_number(s[name].value, f"{where}: {name}", low, high)
                except InputError as err:
                    raise ModelError(str(err)) from None
        spines = len(names) * (self.n_syn + self.n_slots)
        if spines > MAX_SPINES:
            raise ModelError(f"{where}: {spines} spines ({len(names)} pathways x (synapses_per_pathway + "
                             f"new_spine_slots)): at most {MAX_SPINES} (a run's cost grows with them: the layout "
                             f"cell's 165 take seven times the default's 18)")
        if self.n_slots > self.n_syn:
            raise ModelError(f"{where}: new_spine_slots ({self.n_slots}) must not exceed synapses_per_pathway "
                             f"({self.n_syn}): each place sits beside one of the pathway's spines")
        entry = s.get("oblique_origin_spread")
        if entry is not None and not 0 <= float(entry.value) <= 1:
            raise ModelError(f"{where}: oblique_origin_spread is a share of the distal trunk, from 0 to 1, "
                             f"got {entry.text}")
        entry = s.get("oblique_compartments_per_spine")
        if entry is not None and not 0 < float(entry.value) <= MAX_COMPARTMENTS_PER_SPINE:
            raise ModelError(f"{where}: oblique_compartments_per_spine is above 0 and at most "
                             f"{MAX_COMPARTMENTS_PER_SPINE:g} (a run's cost grows with the compartments), got {entry.text}")
        self.spine_branches(), self.branch_origins()

    @property
    def label(self) -> str:
        """How messages name the model: its name, and its file where that is not the shipped one."""
        shipped = (MODELS_DIR / f"{self.name}.toml").resolve()
        try:
            own = Path(self.source).resolve() if self.source else shipped
        except (OSError, TypeError):  # pragma: no cover - defensive
            own = shipped
        return f"model {self.name!r}" if own == shipped else f"model {self.name!r} ({self.source})"

    def branch_origins(self) -> list[int]:
        """Where each oblique branch (in :meth:`spine_branches` order) leaves the apical
        trunk, in distal-trunk compartments beyond the end of its proximal section: evenly
        over the share ``oblique_origin_spread`` of the distal trunk (0, the default: all at
        the proximal section's end), on compartment boundaries."""
        entry = self.structure.get("oblique_origin_spread")
        spread = float(entry.value) if entry is not None else 0.0
        nt = int(self.structure["trunk_compartments"].value)
        return [int(round(x)) for x in np.linspace(0.0, spread * nt, self.n_branches)]

    @property
    def dt(self) -> b2.Quantity:
        return self.structure["dt"].value

    def all_parameters(self) -> dict[str, Parameter]:
        return {**self.structure, **self.parameters}

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> "Model":
        """Copy with values replaced.  Values are Quantities, numbers or unit strings."""
        if overrides is not None and not isinstance(overrides, Mapping):
            raise ModelError(f"{self.label}: parameter overrides are a mapping of names to values "
                             f"(e.g. {{'g_ampa': '0.6 nS'}}), not a {type(overrides).__name__}")
        if not overrides:
            return self
        structure = dict(self.structure)
        parameters = dict(self.parameters)
        applied = dict(self.overrides)
        for name, value in overrides.items():
            if name in parameters:
                table = parameters
            elif name in structure:
                table = structure
            else:
                close = _close_names(name, list(parameters) + list(structure))
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise ModelError(f"{self.label}: unknown parameter {name!r}{hint}")
            old = table[name]
            new_value = _coerce_like(old, value, f"parameter {name!r}")
            check_value(name, new_value, old.bounds, self.label)
            table[name] = replace(old, value=new_value)
            applied[name] = table[name].text
        out = replace(self, structure=structure, parameters=parameters, overrides=applied)
        out.check_structure()
        return out

    # -------------------------------------------------------------- equations
    def equations(self, group: str) -> str:
        """The composed equation block of one Brian2 object (without parameter declarations)."""
        blocks = []
        if group == "neuron":
            blocks.append("# currents: the sum of the mechanisms' currents (spine-head currents scaled by"
                          " neck_keep: spine_neck)\n" + mech.composed_currents())
        for m in mech.mechanisms_for(group):
            body = m.equations_in(group)
            blocks.append(f"# {m.name}: {m.summary}" + (f"\n{body}" if body else ""))
            if group != "neuron":
                continue
            if m.every_step:
                stmts = textwrap.indent(textwrap.dedent(m.every_step).strip("\n"), "#   ")
                blocks.append(f"# once per step, before integration:\n{stmts}")
            if m.gates:
                rates = textwrap.indent(textwrap.dedent(m.rates).strip("\n"), "#   ")
                gates = "\n".join(
                    f"#   d{g.name}/dt = " + (f"{g.alpha}*(1 - {g.name}) - {g.beta}*{g.name}" if g.alpha
                                            else f"({g.inf} - {g.name})/{g.tau}") + f"  where {g.where}"
                    for g in m.gates)
                blocks.append("# gates (biophys_ltp.engine.gates: exponential Euler once per step, rates tabulated"
                              f" over v):\n{gates}\n# with\n{rates}")
        return "\n".join(blocks)

    def parameter_declarations(self, group: str) -> str:
        lines = []
        for name, p in self.parameters.items():
            if p.group == group:
                lines.append(f"{name} : {si_unit_text(b2.get_dimensions(p.value))} (shared, constant)")
        return "\n".join(lines)

    def brian_equations(self, group: str) -> b2.Equations:
        text = self.equations(group) + "\n" + self.parameter_declarations(group)
        return b2.Equations(text)

    # ------------------------------------------------------------ identities
    def _structure_payload(self) -> dict[str, Any]:
        return {
            "structure": {k: _stable(p.value) for k, p in self.structure.items()},
            "equations": {g: self.equations(g) for g in GROUPS},
            "on_pre": mech.on_pre(),
            "rates": {m.name: m.rates for m in mech.ALL_MECHANISMS if m.rates},
            "every_step": {m.name: m.every_step for m in mech.ALL_MECHANISMS if m.every_step},
            # everything else of the mechanisms that goes into the compiled program (gates,
            # tabulated quantities, currents, initial values, records)
            "mechanisms": [repr(m) for m in mech.ALL_MECHANISMS],
            "parameters": sorted((k, p.group, si_unit_text(b2.get_dimensions(p.value)))
                                 for k, p in self.parameters.items()),
        }

    def structure_key(self) -> str:
        """Key of the model's structure and equations (not parameter values): what its
        compiled program depends on besides the engine (``biophys_ltp.engine.build_key``)."""
        return _digest(self._structure_payload())

    def model_hash(self) -> str:
        """Hash of the model itself: structure, equations and every parameter value.

        The engine's source is not part of it (it is part of the build key), so stored
        figure data stays valid across engine changes that do not change the model."""
        return _digest({"structure": _digest(self._structure_payload()),
                        "values": {k: _stable(p.value) for k, p in self.parameters.items()}})

    def parameter_records(self) -> list[dict[str, str]]:
        return [
            {"name": p.name, "value": p.text, "unit": p.unit, "group": p.group, "mechanism": p.mechanism,
             "source": p.source, "description": p.description,
             "overridden": p.name in self.overrides}
            for p in self.all_parameters().values()
        ]

    def show(self) -> str:
        """Composed equations and parameter table (plain text)."""
        out = [f"Model {self.name}", "=" * (6 + len(self.name)), self.description.strip(), ""]
        titles = {"neuron": "Neuron (per compartment; Brian2 SpatialNeuron)",
                  "neck": "Spine neck (one row per spine, head -> the compartment its neck leaves from; Brian2 Synapses)",
                  "synapse": "Synapse (per synapse; Brian2 Synapses onto spine heads)",
                  "population": "Pathway population (Brian2 Synapses onto the apical trunk)",
                  "cell": "Cell (one per neuron)",
                  "branch": "Branch (one per oblique branch carrying spines)"}
        for group, title in titles.items():
            out += [title, "-" * len(title), self.equations(group), ""]
        out += ["On each presynaptic pulse", "-------------------------",
                mech.on_pre(), ""]
        out += ["Time warping: slow variables are multiplied by warp = d(real time)/d(simulation time);",
                "see biophys_ltp.mechanisms.", ""]
        rows = [("name", "value", "mechanism", "source")]
        for p in self.all_parameters().values():
            mark = " *" if p.name in self.overrides else ""
            rows.append((p.name, p.text + mark, p.mechanism or p.group, p.source))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        out.append("Parameters (* = overridden)")
        out.append("---------------------------")
        for r in rows:
            out.append(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")
        return "\n".join(out)

    # ------------------------------------------------------------ morphology
    def morphology(self) -> tuple[b2.Morphology, dict[str, np.ndarray]]:
        """Build the Brian2 morphology; return it and index arrays of its parts."""
        s = self.structure
        soma = b2.Soma(diameter=s["soma_diameter"].value)
        nt = int(s["trunk_compartments"].value)
        soma.trunk = b2.Cylinder(diameter=s["trunk_diameter"].value,
                                 length=s["trunk_proximal_length"].value, n=nt)
        # the distal trunk, in pieces where oblique branches leave it (one piece unless the
        # branches' origins are spread: oblique_origin_spread)
        origins = self.branch_origins()
        ends: dict[int, Any] = {0: soma.trunk}
        parent, done = soma.trunk, 0
        comp_len = s["trunk_distal_length"].value / nt
        for cut in sorted(set(origins) - {0} | {nt}):
            piece = b2.Cylinder(diameter=s["trunk_diameter"].value, length=(cut - done) * comp_len, n=cut - done)
            parent["distal" if parent is soma.trunk else "next"] = piece
            ends[cut], parent, done = piece, piece, cut
        distal = [ends[c] for c in sorted(ends) if c]
        # lumped basal dendrites and apical tuft: they load the soma and the trunk
        soma.basal = b2.Cylinder(diameter=s["basal_diameter"].value, length=s["basal_length"].value, n=3)
        distal[-1].tuft = b2.Cylinder(diameter=s["tuft_diameter"].value, length=s["tuft_length"].value, n=3)
        n_path = len(self.pathways)
        heads: list[list[Any]] = [[None] * self.n_syn for _ in range(n_path)]
        necks: list[list[Any]] = [[None] * self.n_syn for _ in range(n_path)]
        obliques: list[list[Any]] = [[None] * self.n_syn for _ in range(n_path)]
        # where each spine's branch leaves the trunk (its compartment is read once the tree is whole)
        root_secs: list[list[Any]] = [[None] * self.n_syn for _ in range(n_path)]
        branch_secs: list[list[Any]] = [[] for _ in range(self.n_branches)]
        for b, spines in enumerate(self.spine_branches()):
            # the branch leaves the trunk at its origin: its compartments in a row, in
            # sections that each end in a compartment holding spines (the necks of the spines
            # that sit in it leave from there; with one compartment per spine, each spine's
            # stretch is a section), and a last section beyond the last spine's compartment
            parent = root = ends[origins[b]]
            n_comp = self.oblique_compartments(spines)
            comp_len = s["oblique_length"].value / n_comp
            sec, built = None, 0  # built: the branch's compartments so far
            for k, (p, j) in enumerate(spines):
                # the compartment holding the middle of the spine's stretch (exactly: on a
                # boundary between two, the outer one)
                c = min((2 * k + 1) * n_comp // (2 * len(spines)), n_comp - 1)
                if c >= built:
                    sec = b2.Cylinder(diameter=s["oblique_diameter"].value, length=(c + 1 - built) * comp_len,
                                      n=c + 1 - built)
                    parent[f"{self.pathways[p]}_{j}" if built == 0 else f"b{j}_{self.pathways[p]}"] = sec
                    parent, built = sec, c + 1
                    branch_secs[b].append(sec)
                neck = b2.Cylinder(diameter=s["spine_neck_diameter"].value, length=s["spine_neck_length"].value,
                                   n=1)
                sec[f"neck_{self.pathways[p]}_{j}"] = neck
                neck["head"] = b2.Cylinder(diameter=s["spine_head_diameter"].value,
                                           length=s["spine_head_length"].value, n=1)
                obliques[p][j], necks[p][j], heads[p][j] = sec, neck, neck.head
                root_secs[p][j] = root
            if built < n_comp:
                sec = b2.Cylinder(diameter=s["oblique_diameter"].value, length=(n_comp - built) * comp_len,
                                  n=n_comp - built)
                parent[f"end{b}"] = sec
                branch_secs[b].append(sec)
        slots: list[list[Any]] = []
        for p in range(n_path):
            # places for new spines: beside the pathway's spines, spread over them
            slots.append([])
            for k, j in enumerate(self.slot_spines()):
                host = obliques[p][j]
                name = f"slot_{self.pathways[p]}_{k}"  # a compartment may hold several pathways' places
                host[name] = b2.Cylinder(diameter=s["spine_neck_diameter"].value,
                                         length=s["spine_neck_length"].value, n=1)
                host[name]["head"] = b2.Cylinder(diameter=s["spine_head_diameter"].value,
                                                 length=s["spine_head_length"].value, n=1)
                slots[p].append(host[name])
        # compartment indices only now: adding a section renumbers the compartments after it
        roots = np.array([[int(sec.indices[-1]) for sec in row] for row in root_secs], dtype=int)
        slot_spines = self.slot_spines()
        # the compartment each spine's neck leaves from: the last of its section
        oblique = np.array([[sec.indices[-1] for sec in row] for row in obliques])
        idx = {
            "soma": np.array([0]),
            # where each spine's branch leaves it: original spines (pathway, spine), new ones (pathway, place)
            "root": roots,
            "slot_root": roots[:, slot_spines].reshape(n_path, self.n_slots),
            "trunk": np.concatenate([soma.trunk.indices[:]] + [sec.indices[:] for sec in distal]),
            # distance from the soma (um) of the centre of each trunk compartment
            "trunk_um": np.concatenate([np.asarray(sec.distance / b2.um) for sec in [soma.trunk] + distal]),
            # ... and of its far end
            "trunk_end_um": np.concatenate([np.asarray((sec.distance + sec.length / 2) / b2.um)
                                            for sec in [soma.trunk] + distal]),
            "basal": soma.basal.indices[:],
            "tuft": distal[-1].tuft.indices[:],
            "oblique": oblique,
            # every compartment of the oblique branches, whether or not a spine sits on it
            "oblique_all": np.concatenate([sec.indices[:] for secs in branch_secs for sec in secs]).astype(int),
            # an original spine's neck leaves from its own oblique compartment ("oblique");
            # a slot's from the one it sits on
            "slot_neck_parent": oblique[:, slot_spines].reshape(n_path, self.n_slots),
            "neck": np.array([[sec.indices[0] for sec in row] for row in necks]),
            "head": np.array([[sec.indices[0] for sec in row] for row in heads]),
            "slot_neck": np.array([[sec.indices[0] for sec in row] for row in slots], dtype=int).reshape(
                len(self.pathways), self.n_slots),
            "slot_head": np.array([[sec.head.indices[0] for sec in row] for row in slots], dtype=int).reshape(
                len(self.pathways), self.n_slots),
        }
        return soma, idx

    def layout(self) -> dict[str, Any]:
        """How the cell is laid out, as counts (for results' metadata): compartments, and per
        pathway its spines, its places for new spines, the oblique branches its spines sit
        on, the pathways sharing those branches, and the shaft synapses on the trunk that
        its population stands for; and where the spike-timing routes sense a spike."""
        morpho, idx = self.morphology()
        on = [{p for p, _ in spines} for spines in self.spine_branches()]
        return {"compartments": int(morpho.total_compartments),
                "spines_per_pathway": self.n_syn,
                "new_spine_places_per_pathway": self.n_slots,
                "branches_per_pathway": max(sum(p in ps for ps in on) for p in range(len(self.pathways))),
                "pathways_per_branch": max(len(ps) for ps in on),
                "oblique_branches": len(on),
                # where the branches leave the apical trunk, distance from the soma
                "branch_origins_um": sorted({round(float(idx["trunk_end_um"][list(idx["trunk"]).index(r)]), 3)
                                             for r in idx["root"].ravel()}),
                # the pathway population: one shaft place per spine, each standing for n_clones synapses
                "shaft_synapses_per_pathway": int(round(self.n_syn * float(self["n_clones"]))),
                "spike_site": self.spike_site}


# Structure entries a model file may leave out: without them the cell has the first
# layout (no places for new spines, each pathway alone on one branch leaving the trunk at
# the end of its proximal section, one compartment per spine on it); see the Model
# properties and methods of the same names.
_OPTIONAL_STRUCTURE = ("new_spine_slots", "oblique_branches", "oblique_origin_spread", "pathways_per_branch",
                       "spike_site", "oblique_compartments_per_spine")


# ---------------------------------------------------------------------------
def list_models() -> list[str]:
    return sorted(p.stem for p in MODELS_DIR.glob("*.toml"))


def load_model(name_or_path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Model:
    """Load a model by name (a file in ``models/``) or path, with optional overrides."""
    if isinstance(name_or_path, Model):
        return name_or_path.with_overrides(overrides)
    if name_or_path is not None and not isinstance(name_or_path, (str, PathLike)):
        raise ModelError(f"a model is a name ({', '.join(list_models())}), a path to a model file or a Model, "
                         f"not a {type(name_or_path).__name__} ({name_or_path!r})")
    name_or_path = name_or_path or DEFAULT_MODEL
    path = Path(name_or_path)
    if not path.suffix:
        path = MODELS_DIR / f"{name_or_path}.toml"
    if not path.exists():
        raise ModelError(f"no model {str(name_or_path)!r}; known models: {', '.join(list_models())}")
    where = str(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ModelError(f"{where}: not valid TOML: {err}") from None
    unknown = [k for k in data if k not in _FILE_KEYS]
    if unknown:
        raise ModelError(f"{where}: unknown top-level key(s) {', '.join(map(repr, unknown))} (a model file has "
                         f"{', '.join(_FILE_KEYS)})")
    for table in ("structure", "parameters"):
        if not isinstance(data.get(table), dict):
            raise ModelError(f"{where}: no [{table}] table (a model file has [structure] and "
                             f"[parameters.<mechanism>] tables; see {MODELS_DIR / (DEFAULT_MODEL + '.toml')})")
    owner = mech.parameter_owner()
    structure = {}
    for name, entry in data.get("structure", {}).items():
        value = _parse_entry(where, name, entry, plain=_PLAIN_STRUCTURE.get(name))
        bounds = _parse_bounds(where, name, entry, value)
        check_value(name, value, bounds, where)
        structure[name] = Parameter(name, value, entry["source"], entry.get("description", ""), "structure",
                                    bounds=bounds)
    parameters = {}
    owning = mech.parameter_mechanism()
    known = mech.by_name()
    for table, entries in data.get("parameters", {}).items():
        if isinstance(entries, dict) and "value" in entries:
            hint = f" (it belongs in [parameters.{owning[table]}])" if table in owning else ""
            raise ModelError(f"{where}: parameter {table!r} is not in a mechanism's table: parameters are "
                             f"grouped by mechanism, [parameters.<mechanism>]{hint}")
        if table not in known:
            close = _close_names(table, list(known))
            hint = f" (did you mean {', '.join(close)}?)" if close else f" (mechanisms: {', '.join(known)})"
            raise ModelError(f"{where}: [parameters.{table}]: no mechanism {table!r}{hint}")
        for name, entry in entries.items():
            if name not in owner:
                hint = " (it is a [structure] entry)" if name in _structure_names() else ""
                raise ModelError(f"{where}: parameter {name!r} is not used by any mechanism{hint}")
            if owning[name] != table:
                raise ModelError(f"{where}: parameter {name!r} is in [parameters.{table}] but belongs to the "
                                 f"mechanism {owning[name]!r}: move it to [parameters.{owning[name]}]")
            if name in parameters:
                raise ModelError(f"{where}: parameter {name!r} is given twice")
            value = _parse_entry(where, name, entry)
            bounds = _parse_bounds(where, name, entry, value)
            check_value(name, value, bounds, where)
            parameters[name] = Parameter(name, value, entry["source"], entry.get("description", ""), owner[name],
                                         table, bounds)
    missing = sorted(set(owner) - set(parameters))
    if missing:
        moved = [f"{n} is in [structure] but belongs in [parameters.{owning[n]}]" for n in missing if n in structure]
        raise ModelError(f"{where}: no value for {', '.join(missing)}" + (f" ({'; '.join(moved)})" if moved else ""))
    if path.resolve() != (MODELS_DIR / f"{DEFAULT_MODEL}.toml").resolve():
        # the equations fix each parameter's dimension; the default model's file states it
        reference = load_model(DEFAULT_MODEL)
        lacking = sorted(set(reference.structure) - set(structure) - set(_OPTIONAL_STRUCTURE))
        if lacking:
            raise ModelError(f"{where}: [structure] has no {', '.join(lacking)}")
        unknown = sorted(set(structure) - set(reference.structure))
        if unknown:
            owning_of = mech.parameter_mechanism()
            moved = [f"{n} belongs in [parameters.{owning_of[n]}]" for n in unknown if n in owning_of]
            raise ModelError(f"{where}: [structure] entries the model does not use: {', '.join(unknown)} "
                             + (f"({'; '.join(moved)})" if moved else f"(it uses {', '.join(reference.structure)})"))
        references = reference.all_parameters()
        for name, p in {**structure, **parameters}.items():
            ref = references.get(name)
            if ref is not None and not isinstance(ref.value, (list, int, str)) and \
                    b2.get_dimensions(p.value) is not b2.get_dimensions(ref.value):
                raise ModelError(f"{where}: {name!r} = {p.text!r} has the wrong unit: the equations take "
                                 f"{_kind(ref.value)} (e.g. {ref.text!r}, as in the default model)")
    model = Model(data.get("name", path.stem), data.get("description", ""), where, structure, parameters)
    if overrides:
        return model.with_overrides(overrides)  # checks the layout with the overrides applied
    model.check_structure()
    return model


def _structure_names() -> set[str]:
    """The names of the default model's [structure] entries (for a message about one put
    among the parameters), read from its file."""
    with open(MODELS_DIR / f"{DEFAULT_MODEL}.toml", "rb") as f:
        return set(tomllib.load(f).get("structure", {}))


def _parse_entry(where: str, name: str, entry: Any, plain: type | None = None) -> Any:
    if not isinstance(entry, dict) or "value" not in entry or "source" not in entry:
        raise ModelError(f"{where}: entry {name!r} needs a value and a source")
    unknown = [k for k in entry if k not in _ENTRY_KEYS]
    if unknown:
        close = _close_names(unknown[0], list(_ENTRY_KEYS))
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ModelError(f"{where}: entry {name!r}: unknown key(s) {', '.join(map(repr, unknown))} ({hint}an entry "
                         f"holds {', '.join(_ENTRY_KEYS)})")
    value = entry["value"]
    if plain is not None:
        if not isinstance(value, plain):
            kind = {"list": "a list of names", "int": "a whole number", "str": "a name"}[plain.__name__]
            raise ModelError(f"{where}: {name!r} must be {kind}, got {value!r}")
        _check_choice(name, value, f"{where}: {name!r}")
        return value
    try:
        q = parse_quantity(str(value), what=name)
    except UnitParseError as err:
        raise ModelError(f"{where}: {err}") from None
    return q


# Physical ranges by dimension: what a value of that kind can be at all.  Times, lengths,
# capacitance and axial resistivity are positive; conductances, rates, concentrations and
# the Mg2+ block's slope cannot be negative; potentials and currents may have either sign.
# A dimensionless parameter is not negative unless its model entry says otherwise
# (``range = ["-1", "0"]``); an entry's range narrows the one of its dimension.
# Potentials (reversals, half-activations, slopes) lie within +-MAX_POTENTIAL: a lipid
# membrane breaks down (electroporation) at a few hundred mV across it, and no ion's
# reversal in a cell comes near (Nernst, 100-fold gradient at 35 C: 61 mV per charge).
_POSITIVE = tuple(b2.get_dimensions(u) for u in (b2.second, b2.metre, b2.farad / b2.metre**2, b2.ohm * b2.metre))
_NON_NEGATIVE = tuple(b2.get_dimensions(u) for u in (b2.siemens, b2.siemens / b2.metre**2, b2.hertz,
                                                     b2.mole / b2.metre**3, 1 / b2.volt, 1.0))


MAX_POTENTIAL = 0.5 * b2.volt
#: The largest magnitude of a kind that a neuron's model can hold, at least 50 times any
#: the shipped models use (a value beyond it is a slip of the unit or the exponent: a
#: g_ampa of 1e30 nS ran and gave an fEPSP of 1e8 %), with why.
MAX_BY_DIMENSION = (
    (1 * b2.usiemens, "1 uS", "a synapse's conductance is 0.1-1 nS, Matsuzaki et al. 2001"),
    (10 * b2.siemens / b2.cm**2, "10 S/cm**2", "above any channel density, nodes of Ranvier's ~3 S/cm2 included"),
    (1 * b2.molar, "1 M", "no concentration in a cell or its bath comes near it"),
    (1 * b2.uamp, "1 uA", "currents into a neuron are pA to nA"),
    (1 * b2.cm, "1 cm", "a dendrite, spine or soma is well under it"),
)


def physical_range(value: Any) -> tuple[float | None, bool]:
    """(lowest value, whether it is excluded) that a value of this dimension may have;
    ``(None, False)`` for potentials, currents and other signed quantities."""
    dim = b2.get_dimensions(value)
    for dims, open_ in ((_POSITIVE, True), (_NON_NEGATIVE, False)):
        if dim in dims:
            return 0.0, open_
    return None, False


def check_value(name: str, value: Any, bounds: tuple[Any, Any] = (None, None), where: str = "") -> None:
    """Refuse a value outside the physical range of its dimension or the entry's own range
    (:class:`ModelError` naming the parameter, the value and the range)."""
    if isinstance(value, (list, tuple, str)):
        return
    prefix = f"{where}: " if where else ""
    x = float(np.asarray(value))
    if not np.isfinite(x):
        raise ModelError(f"{prefix}parameter {name!r} must be finite, got {value!r}")
    shown = value if isinstance(value, (int, np.integer)) else format_quantity(value)
    lo, hi = bounds
    if b2.get_dimensions(value) is b2.volt.dim and abs(x) > float(MAX_POTENTIAL):
        raise ModelError(f"{prefix}parameter {name!r} must lie within +-{float(MAX_POTENTIAL / b2.mV):g} mV "
                         f"(a membrane breaks down at a few hundred mV), got {shown}")
    for most, most_text, why in MAX_BY_DIMENSION:
        if b2.get_dimensions(value) is b2.get_dimensions(most) and abs(x) > float(most):
            raise ModelError(f"{prefix}parameter {name!r} must be at most {most_text} in magnitude ({why}), "
                             f"got {shown}")
    dimensionless = b2.get_dimensions(value) is b2.get_dimensions(1.0)
    low, open_ = physical_range(value)
    if dimensionless and (lo is not None or hi is not None):
        low = None  # a dimensionless entry's own range replaces "not negative"
    elif low is not None and lo is not None and float(np.asarray(lo)) == low:
        open_ = False  # an entry whose range starts at 0 admits 0 (a use, a length that may vanish)
    if low is not None and (x < low or (open_ and x == low)):
        why = ("dimensionless parameters are not negative unless their model entry gives a range" if dimensionless
               else f"a {'negative or zero' if open_ else 'negative'} {_kind(value)} has no physical meaning")
        raise ModelError(f"{prefix}parameter {name!r} must be {'positive' if open_ else 'at least 0'} ({why}), "
                         f"got {shown}")
    if (lo is not None and x < float(np.asarray(lo))) or (hi is not None and x > float(np.asarray(hi))):
        span = f"{'-inf' if lo is None else format_quantity(lo)} to {'inf' if hi is None else format_quantity(hi)}"
        raise ModelError(f"{prefix}parameter {name!r} must lie in {span} (its model entry's range), got {shown}")


def _kind(value: Any) -> str:
    from .units import dimension_name
    name = dimension_name(b2.get_dimensions(value))
    for article in ("a ", "an "):
        if name.startswith(article):
            return name[len(article):]
    return name


def _parse_bounds(where: str, name: str, entry: Mapping[str, Any], value: Any) -> tuple[Any, Any]:
    """The entry's optional ``range = [low, high]`` (strings with the value's unit; "" for no
    bound on that side)."""
    if "range" not in entry:
        return (None, None)
    if isinstance(value, (list, str, int, np.integer)):
        raise ModelError(f"{where}: entry {name!r}: a range is for quantities and numbers with a fraction, "
                         f"not for {'a whole number' if isinstance(value, (int, np.integer)) else 'names'}")
    rng = entry["range"]
    if not isinstance(rng, list) or len(rng) != 2:
        raise ModelError(f"{where}: entry {name!r}: range must be [low, high], got {rng!r}")
    out = []
    for side in rng:
        if side in ("", None):
            out.append(None)
            continue
        try:
            out.append(parse_quantity(str(side), dimension=b2.get_dimensions(value), what=f"{name} range"))
        except UnitParseError as err:
            raise ModelError(f"{where}: {err}") from None
    if out[0] is not None and out[1] is not None and float(np.asarray(out[0])) > float(np.asarray(out[1])):
        raise ModelError(f"{where}: entry {name!r}: range {rng!r} has its low end above its high end")
    return out[0], out[1]


def _check_choice(name: str, value: Any, where: str) -> None:
    choices = _CHOICES.get(name)
    if choices is not None and value not in choices:
        raise ModelError(f"{where}: {value!r} is not one of {', '.join(choices)}")


def _coerce_like(old: Parameter, value: Any, what: str) -> Any:
    if isinstance(value, (bool, np.bool_)):
        raise ModelError(f"{what}: expected {'a name' if isinstance(old.value, str) else 'a number'}, got {value!r}")
    if isinstance(old.value, str):
        _check_choice(old.name, value, what)
        return value
    if isinstance(old.value, list):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)) or not value:
            raise ModelError(f"{what}: expected a list of names")
        return list(value)
    if isinstance(old.value, (int, np.integer)) and not isinstance(old.value, bool):
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            raise ModelError(f"{what}: expected a whole number, got {value!r}") from None
        if not math.isfinite(as_float) or as_float != int(as_float):
            raise ModelError(f"{what}: expected a whole number, got {value!r}")
        return int(as_float)  # its range: Model.check_structure
    dim = b2.get_dimensions(old.value)
    if isinstance(value, str):
        name = what.split("'")[1] if "'" in what else what
        try:
            return parse_quantity(value, dimension=dim, what=name)
        except UnitParseError as err:
            # the error names the value already ('"g_ampa": ...'): say the name once
            text = str(err).removeprefix(f'"{name}": ')
            raise ModelError(f"{what}: {text} (the model's value: {old.text})") from None
    if isinstance(value, b2.Quantity) or np.isscalar(value):
        if b2.get_dimensions(value) is not dim:
            want = b2.get_unit(dim)
            raise ModelError(
                f"{what}: {value!r} has the wrong unit (expected {want!r}, e.g. {format_quantity(old.value)!r})")
        return b2.Quantity(value, dim=dim) if not isinstance(value, b2.Quantity) else value
    raise ModelError(f"{what}: cannot use {value!r} as a value")


def _close_names(name: str, names: list[str]) -> list[str]:
    import difflib
    return difflib.get_close_matches(name, names, n=3)


def _stable(value: Any) -> Any:
    """A representation of a value that does not depend on Brian2's unit display state."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return [repr(float(value)), si_unit_text(b2.get_dimensions(value))]


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
