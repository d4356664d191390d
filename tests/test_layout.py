"""The realistic-layout model (models/ca1_layout.toml): 50 spines per pathway, the three
pathways alternating along six shared oblique branches, and the spike-timing routes
reading the spine head's own potential (``spike_site = "spine_head"``).

Its calibration and held-out verdicts come from ``biophys-ltp validate --model ca1_layout
--calibration`` (README, "The realistic layout").  These tests check the layout itself;
the two properties that make the head a usable spike sensor on this cell, on signals only
(a test pulse is subthreshold, and in the spine head a pairing's spike stands above an
EPSP and a 20-Hz triplet, which it did not on the default model's crowded branch:
tests/test_induction.py); Ih's share of the resting potential; a 100-Hz train firing the
cell; the default model as its reduced variant; and the spacing result on this cell.
"""

from __future__ import annotations

import brian2 as b2
import pytest

from biophys_ltp import simulate
from biophys_ltp.experiments import spine_signatures
from biophys_ltp.model import load_model

pytestmark = [pytest.mark.standalone, pytest.mark.slow]

LAYOUT = "ca1_layout"

#: Outcomes and experiments with a target whose verdict differs between the layout cell and
#: its reduced variant, each with why; the test fails when another verdict differs or one of these agrees
#: again (then remove it here and in the README).
KNOWN_VERDICT_DIFFERENCES: dict[str, str] = {
    "ca_supralinearity": "calibration, a miss of the layout cell only: 1.28 against >= 1.3 (reduced variant 1.39); "
                         "its Ih holds the dendrite ~5 mV higher, where an EPSP alone raises the spine's Ca2+ by "
                         "2.0 uM against 1.6 without Ih, while an EPSP and a bAP raise it by 3.6 uM as before",
}

#: The cell's own calibration outcomes (not in units of the fEPSP, so held to the verdict
#: only), read from one short biophysics run of each cell; the stored validation table does
#: not hold them.
CELL_OUTCOMES = ("bap_250um", "ca_bap", "ca_supralinearity")

#: Blocking Ih lowers the resting potential of CA1 somata in slices by 4 mV (from
#: -67 to -71 mV; Golding et al. 2005, J Physiol 568:69, Table 1).
IH_REST_SHIFT_MV = 4.0


def test_the_layout_model_has_its_pathways_intermingled_on_shared_branches():
    """Not a simulation: the layout the model file's structure builds (metadata's cell)."""
    layout = load_model(LAYOUT).layout()
    assert layout["spines_per_pathway"] >= 50
    assert layout["branches_per_pathway"] == layout["oblique_branches"] > 1
    assert layout["pathways_per_branch"] == 3
    assert layout["shaft_synapses_per_pathway"] == 0  # every synapse an explicit spine
    assert len(layout["branch_origins_um"]) == layout["oblique_branches"]
    assert layout["spike_site"] == "spine_head"


def test_in_the_layout_cells_spine_heads_a_spike_stands_above_epsps_and_bursts():
    """What the head-read spike-timing routes need: in S1's first spine head every
    pairing's spike peaks above theta_bap, and an EPSP and one pathway's 20-Hz triplet (an
    SLFS burst, which must depress) stay below it; coincident pairings carry more NMDA
    receptor Ca2+ current than an EPSP alone or a spike before the pulse."""
    model = load_model(LAYOUT)
    sig = spine_signatures(LAYOUT).set_index("event")
    theta_bap = float(model["theta_bap"] / b2.mV)
    site = sig.v_spike_site_peak_mV
    assert (site == sig.v_peak_mV).all(), sig  # the site is the head itself
    pairings = [e for e in sig.index if e.startswith("pairing")]
    assert site[pairings].min() > theta_bap > max(site["epsp"], site["3 pulses at 20 Hz"]), sig
    nmda = sig.nmda_ca_peak_pA
    assert nmda[["pairing +5 ms", "pairing +10 ms", "pairing +20 ms"]].min() > \
        max(nmda["epsp"], nmda["pairing -10 ms"], nmda["pairing +50 ms"]), sig


def test_the_layout_cells_test_pulse_is_subthreshold():
    """50 spines per pathway at the layout's g_ampa: a test pulse of all three pathways
    (5 min of baseline) gives a somatic EPSP of a few mV, far from firing the cell (the
    default model's conductance per spine fired it with every pulse)."""
    proto = {"name": "baseline", "duration": "6 min", "baseline": "5.5 min", "test_interval": "5 min",
             "pathways": ["S1", "S2", "S3"]}
    res = simulate(proto, LAYOUT, trace_windows=[("5 min", "5.05 min")], progress=False)
    soma = res.traces[res.traces.compartment == "soma"].v_mV
    rise = soma.max() - soma.iloc[0]
    assert 1 < rise < 10 and soma.max() < -55, (soma.iloc[0], soma.max())


def test_on_the_layout_cell_ih_holds_the_soma_above_its_rest_without_ih():
    """The one measurement gh_soma was tuned on (IH_REST_SHIFT_MV): the layout cell's soma
    50 s after a test pulse (one a minute, S1 only), with its Ih and with gh_soma at 0,
    differs by that much within layout_ih.rest_shift_mv (figures/tolerances.toml)."""
    from biophys_ltp.regression import tolerances

    tol = tolerances("layout_ih")["rest_shift_mv"]
    proto = {"name": "rest", "duration": "2 min", "baseline": "1 min", "test_interval": "1 min", "pathways": ["S1"]}

    def soma_rest_mV(params):
        res = simulate(proto, LAYOUT, params=params, trace_windows=[("50 s", "50.05 s")], progress=False)
        return float(res.traces[res.traces.compartment == "soma"].v_mV.iloc[-1])

    with_ih, without = soma_rest_mV(None), soma_rest_mV({"gh_soma": "0 mS/cm**2"})
    assert abs((with_ih - without) - IH_REST_SHIFT_MV) <= tol.abs, (with_ih, without, tol.reason)


def test_a_100hz_train_fires_the_layout_cell_at_its_start():
    """In slices a 100-Hz tetanus fires CA1 pyramidal cells; on the layout cell (dendritic
    Na+, A-type K+ and Ih channels, 50 spines per pathway at 0.11 nS) one pathway's 1-s train
    brings the soma above 0 mV early in the train, while release is still high."""
    proto = {"name": "one 100-Hz train", "duration": "3 min", "baseline": "1 min", "test_interval": "5 min",
             "pathways": ["S1", "S2", "S3"],
             "events": [{"kind": "train", "pathway": "S1", "at": "2 min", "pulses": 100, "frequency": "100 Hz"}]}
    res = simulate(proto, LAYOUT, trace_windows=[("2 min", "2.03 min")], progress=False)
    soma = res.traces[res.traces.compartment == "soma"].sort_values("time_s")
    v, t = soma.v_mV.to_numpy(), soma.time_s.to_numpy()
    onsets = t[1:][(v[1:] >= 0) & (v[:-1] < 0)] - 120.0
    assert len(onsets) >= 1 and onsets[0] < 0.1, onsets


def test_the_small_cell_reproduces_the_layout_cells_outcomes(runs_once, biophysics_run):
    """The default model is the layout cell's reduced variant (five spines per pathway, each
    pathway alone on its branch, the rest of it as shaft synapses; the spike read at the
    branch point): kept because it reproduces the full cell's outcomes within a stated
    tolerance.  Every calibration outcome in the fEPSP's units lies within
    reduced_variant.calibration_pp (figures/tolerances.toml) of the layout cell's, and every
    outcome and held-out experiment with a target gets the same verdict on both, except
    those in KNOWN_VERDICT_DIFFERENCES (each with its reason).  The
    default model's numbers are its stored validation figure data (whose agreement with the
    model tests/test_validation.py checks), so only the layout cell is run here, but for
    CELL_OUTCOMES, read from each cell's biophysics run."""
    from conftest import load_figure

    from biophys_ltp import validation
    from biophys_ltp.fit import calibration_ids
    from biophys_ltp.outcomes import OUTCOMES, jobs_for, measure, run_options
    from biophys_ltp.regression import tolerances
    from biophys_ltp.targets import BANDS

    tol = tolerances("reduced_variant")["calibration_pp"]
    small = load_figure("validation").load()["validation"].set_index("name")
    names = [n for n in small.index if n in OUTCOMES]
    assert set(small.index) == set(names) | set(validation.EXPERIMENTS), "stored rows are not the table's"
    jobs = {f"layout outcome: {run}": {"protocol": p, "model": LAYOUT, **run_options(run)}
            for run, p in jobs_for(names + list(CELL_OUTCOMES)).items()}
    jobs.update({f"layout validation: {run}": {"protocol": p, "model": LAYOUT}
                 for run, p in validation.jobs_for().items()})
    done = runs_once(jobs)

    def runs(prefix):
        return {k.removeprefix(prefix): r for k, r in done.items() if k.startswith(prefix)}

    full = measure(names + list(CELL_OUTCOMES), runs("layout outcome: "))
    held = runs("layout validation: ")
    full.update({e.name: float(e.read(held)) for e in validation.EXPERIMENTS.values()})
    calibration = calibration_ids()
    assert set(KNOWN_VERDICT_DIFFERENCES) <= set(small.index) | set(CELL_OUTCOMES), "a known difference names no row"
    cell = measure(CELL_OUTCOMES, {"biophysics": biophysics_run})
    for name in CELL_OUTCOMES:
        target = OUTCOMES[name].target
        assert target in calibration and name not in small.index
        small.loc[name, ["target", "model", "met"]] = [target, cell[name], int(cell[name] in BANDS[target])]
    problems = []
    for name, row in small.iterrows():
        value, target = full[name], row.target
        if target in calibration and name not in CELL_OUTCOMES and abs(value - row.model) > tol.abs:
            problems.append(f"{name}: small cell {row.model:.2f}, layout {value:.2f} ({tol.reason})")
        differ = (value in BANDS[target]) != bool(row.met)
        if differ != (name in KNOWN_VERDICT_DIFFERENCES):
            problems.append(f"{name}: verdicts {'differ' if differ else 'agree, not a known difference any more'} "
                            f"(small cell {row.model:.2f}, layout {value:.2f}, band {BANDS[target].describe()})")
    assert not problems, "\n".join(problems)


def test_on_the_layout_cell_a_second_theta_burst_helps_after_an_hour_not_after_minutes(runs_once):
    """The spacing result (tests/test_structure.py on the default model) on the layout cell."""
    from biophys_ltp.experiments import tbs_added_pp, tbs_spacing_jobs

    done = runs_once({f"layout spacing: {gap}": job for gap, job in tbs_spacing_jobs(model=LAYOUT).items()})
    runs = {int(key.rsplit(" ", 1)[1]): res for key, res in done.items()}
    assert tbs_added_pp(runs, 60) >= 20
    assert tbs_added_pp(runs, 10) <= 10
    assert runs[60].state.proteins.max() > 0.05
    assert runs[10].state.proteins.max() < 0.01
