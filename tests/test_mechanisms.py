"""The mechanism layer: each mechanism owns its parts across Brian2 objects (equations,
parameters, currents, initial values, records), and the model file groups parameters by
mechanism, which the loader checks."""

from __future__ import annotations

import re
from pathlib import Path

import brian2 as b2
import pytest

from biophys_ltp import mechanisms as mech
from biophys_ltp.model import ModelError, load_model

MODEL_FILE = Path(__file__).resolve().parent.parent / "models" / "ca1_spine.toml"


def _declared(group: str) -> set[str]:
    """Names the composed equations of ``group`` define (variables and subexpressions)."""
    text = load_model().equations(group)
    names = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^d?(\w+)(/dt)?\s*[=:]", line)
        if m:
            names.add(m.group(1))
    return names


def test_every_part_of_a_mechanism_names_something_of_its_own_object():
    declared = {g: _declared(g) for g in mech.GROUPS}
    declared["neuron"] |= {"v"}  # the SpatialNeuron's own
    for m in mech.ALL_MECHANISMS:
        for group, values in m.initial.items():
            for var in values:
                assert var in declared[group], f"{m.name}: initial value of undeclared {group}.{var}"
        for r in m.records:
            assert r.var in declared[r.group], f"{m.name}: record {r.column} of undeclared {r.group}.{r.var}"
            unit = b2.Unit(1) if r.unit == "1" else getattr(b2, r.unit)
            assert r.column.endswith(f"_{r.unit}") or r.unit == "1", f"{r.column}: unit {r.unit} not in its name"
            assert isinstance(unit, b2.Unit)
            assert r.reduce in ("mean", "sum")
        for c in m.currents:
            assert c.kind in ("membrane", "point")
            assert bool(c.at_step_start) == c.through_neck


def test_parameters_belong_to_one_mechanism_and_one_object():
    owning = mech.parameter_mechanism()
    owner = mech.parameter_owner()
    assert set(owning) == set(owner)
    model = load_model()
    assert set(model.parameters) == set(owning)
    for name, p in model.parameters.items():
        assert p.mechanism == owning[name] and p.group == owner[name]


def test_nmda_is_one_object_with_its_parts_in_three_objects_of_the_network():
    nmda = mech.NMDA
    assert set(nmda.groups()) == {"neuron", "synapse", "population"}
    assert "g_nmda_tot_post" in nmda.equations_in("synapse") and "B_mg" in nmda.equations_in("neuron")
    assert "N_r += released/U_rel" in mech.on_pre()
    # its current enters the cable equation and the head's current through the composition
    composed = mech.composed_currents()
    assert "(g_nmda_tot + g_pop_nmda)*mg_unblock*(E_nmda - v)" in composed
    assert "g_nmda_tot*B_mg*(E_nmda - v)" in composed.split("I_head =")[1]
    assert {r.column for r in nmda.records} == {"i_nmda_pA", "i_nmda_ca_pA"}


def test_results_carry_every_record_as_a_column(ltp_phases):
    _, runs = ltp_phases
    res = next(iter(runs.values()))
    columns = ["time_min", "pathway"] + [r.column for r in mech.records("synapse") + mech.records("cell")]
    assert list(res.state.columns) == columns
    assert res.state[columns[2:]].notna().all().all()


def _write(tmp_path, text):
    path = tmp_path / "m.toml"
    path.write_text(text)
    return path


def test_the_loader_checks_the_grouping_by_mechanism(tmp_path):
    text = MODEL_FILE.read_text()
    # a parameter in another mechanism's table
    moved = text.replace('[parameters.nmda]\n', '[parameters.nmda]\n' + re.search(r"(?m)^g_ampa = .*\n", text).group(0))
    moved = re.sub(r"(?m)^(\[parameters\.ampa\]\n(?:.*\n)*?)g_ampa = .*\n", r"\1", moved, count=1)
    with pytest.raises(ModelError, match=r"'g_ampa' is in \[parameters.nmda\] but belongs to the mechanism 'ampa'"):
        load_model(_write(tmp_path, moved))
    # a parameter outside any mechanism's table
    flat = text.replace("[parameters.membrane]\n", "[parameters]\n", 1)
    with pytest.raises(ModelError, match=r"'gL' is not in a mechanism's table.*\[parameters.membrane\]"):
        load_model(_write(tmp_path, flat))
    # a table no mechanism has
    unknown = text.replace("[parameters.nmda]", "[parameters.nmdar]")
    with pytest.raises(ModelError, match=r"no mechanism 'nmdar' \(did you mean nmda"):
        load_model(_write(tmp_path, unknown))


def test_the_build_key_follows_every_part_of_a_mechanism(monkeypatch):
    """Initial values, gates and records go into the compiled program: changing one changes
    the model's structure key (so the build key), not only changing equations."""
    import dataclasses

    before = load_model().structure_key()
    for change in ({"initial": {"neuron": {**mech.MEMBRANE.initial["neuron"], "m": 0.06}}},
                   {"gates": mech.MEMBRANE.gates[:2] + (dataclasses.replace(mech.MEMBRANE.gates[2], implicit=False),)},
                   {"records": ()}):
        changed = dataclasses.replace(mech.MEMBRANE, **change)
        monkeypatch.setattr(mech, "ALL_MECHANISMS", (changed,) + mech.ALL_MECHANISMS[1:])
        assert load_model().structure_key() != before, change


def test_the_readme_says_what_every_recorded_column_is():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    outputs = readme[readme.index("## Outputs"):readme.index("## Parameter sweeps")]
    missing = [r.column for r in mech.records() if f"`{r.column}`" not in outputs]
    assert not missing, f"README's Outputs section does not name {missing}"
