"""Drugs as data: what a protocol's ``drug`` events may apply and what each does.

The drug table (``drugs.toml`` beside this module) names, for each drug, the drug target
it acts on, the target's level while it is present, and its source.  A drug target is a
factor between 0 and 1 that the mechanisms read (:data:`TARGETS`: the variable each acts
on); the schedule sets every target per segment of simulation time from the protocol's
drug windows, and the compiled program takes them as data, so a new drug on an existing
target needs no new build.  A new target is a new entry of :data:`TARGETS` and a term in
the mechanism it acts on (``biophys_ltp/mechanisms.py``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

DRUG_TABLE = Path(__file__).resolve().parent / "drugs.toml"

#: Drug targets, in the order of the compiled program's drug table, with the model variable
#: each acts on (mechanism: what the target does there).
TARGETS: dict[str, str] = {
    "nmda_block": "nmda: the NMDA receptor conductance is scaled by 1 - nmda_block",
    "translation_block": "gene_expression: protein synthesis (prp_soma) is scaled by 1 - translation_block",
    "transcription_block": "gene_expression: expression cannot switch on (scaled by 1 - transcription_block) and "
                           "decays as if the nuclear signal were off",
    "camkii_block": "kinase_phosphatase: the fast (CaMKII-like) kinase route, spike-timing route included, is "
                    "scaled by 1 - camkii_block",
    "pka_block": "kinase_phosphatase: the slow (cAMP/PKA) kinase route is scaled by 1 - pka_block",
    "camp_boost": "kinase_phosphatase: the slow (cAMP/PKA) kinase route is on at level camp_boost whatever the "
                  "spine's calcium",
    "pkmzeta_block": "consolidation: a positive late weight decays with tau_zip (its PKMzeta-kept maintenance "
                     "stops)",
    "d1_block": "gene_expression: the nuclear signal's rise (from kinase and phosphatase activity) is scaled by "
                "1 - d1_block",
}


@dataclass(frozen=True)
class Drug:
    key: str
    name: str
    action: str
    target: str
    level: float
    source: str


def load_drugs(path: Path = DRUG_TABLE) -> dict[str, Drug]:
    """The drug table, checked: every drug names a known target, a level in [0, 1] and a
    source."""
    with open(path, "rb") as fh:
        table = tomllib.load(fh)
    out = {}
    for key, entry in table.items():
        missing = [k for k in ("name", "action", "target", "level", "source") if k not in entry]
        if missing:
            raise ValueError(f"{path}: [{key}] lacks {', '.join(missing)}")
        if entry["target"] not in TARGETS:
            raise ValueError(f"{path}: [{key}] acts on an unknown target {entry['target']!r} "
                             f"(targets: {', '.join(TARGETS)})")
        level = float(entry["level"])
        if not 0.0 <= level <= 1.0:
            raise ValueError(f"{path}: [{key}] level must lie in [0, 1], got {level}")
        out[key] = Drug(key, entry["name"], entry["action"], entry["target"], level, entry["source"])
    return out


#: The drugs, by the name a protocol's drug event gives.
DRUGS: dict[str, Drug] = load_drugs()


def target_levels(present: Iterable[str]) -> np.ndarray:
    """Level of every target (in the order of :data:`TARGETS`) while the drugs ``present``
    are applied: for each target the highest level of the drugs acting on it, else 0."""
    levels = np.zeros(len(TARGETS))
    order = list(TARGETS)
    for name in present:
        drug = DRUGS[name]
        k = order.index(drug.target)
        levels[k] = max(levels[k], drug.level)
    return levels
