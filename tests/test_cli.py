"""Command-line interface: fast checks, no compilation and no simulation."""

from __future__ import annotations

import itertools
import json
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from biophys_ltp import __version__, cli, load_model, load_protocol


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------

def test_version(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0
    assert __version__ in out


def test_model_show_lists_every_parameter_with_unit_and_source(capsys):
    code, out, err = run_cli(capsys, "model", "show")
    assert code == 0, err
    model = load_model()
    lines = out.splitlines()
    for p in model.all_parameters().values():
        row = [line for line in lines if line.split() and line.split()[0] == p.name]
        assert row, f"parameter {p.name} missing from model show"
        assert p.text in row[0], f"value with unit of {p.name} missing: {row[0]!r}"
        assert p.source in row[0], f"source of {p.name} missing: {row[0]!r}"
    # a few parameters with units, spelled out
    assert any(line.split()[:3] == ["g_ampa", "0.5", "nS"] for line in lines if line.split())
    # the equations
    for group in ("neuron", "neck", "synapse", "population", "cell"):
        for eq_line in model.equations(group).splitlines():
            assert eq_line in out
    assert "On each presynaptic pulse" in out


def test_model_show_named_model(capsys):
    code, out, _ = run_cli(capsys, "model", "show", "ca1_spine")
    assert code == 0
    assert out.startswith("Model ca1_spine")


def test_model_show_set_shows_new_value(capsys):
    code, out, err = run_cli(capsys, "model", "show", "--set", "g_ampa=0.6 nS")
    assert code == 0, err
    row = [line for line in out.splitlines() if line.startswith("g_ampa ")]
    assert len(row) == 1
    assert "0.6 nS *" in row[0]


def test_model_show_set_accepts_quoted_and_dimensionless_values(capsys):
    code, out, err = run_cli(capsys, "model", "show", "--set", 'g_ampa="0.7 nS"',
                             "--set", "kappa_B=30")
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert "0.7 nS *" in rows["g_ampa"]
    assert "30 *" in rows["kappa_B"]


def test_set_unknown_parameter_fails_naming_it(capsys):
    code, out, err = run_cli(capsys, "model", "show", "--set", "g_ampx=0.6 nS")
    assert code == 2
    assert "g_ampx" in err
    assert err.startswith("biophys-ltp: error:")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert out == ""


def test_set_wrong_unit_fails_naming_the_parameter(capsys):
    code, _, err = run_cli(capsys, "model", "show", "--set", "g_ampa=0.6 mV")
    assert code == 2
    assert "g_ampa" in err
    assert err.startswith("biophys-ltp: error:")
    assert len(err.strip().splitlines()) == 1


def test_set_without_equals_sign_fails(capsys):
    code, _, err = run_cli(capsys, "model", "show", "--set", "g_ampa")
    assert code == 2
    assert "NAME=VALUE" in err


def test_unknown_model_fails(capsys):
    code, _, err = run_cli(capsys, "model", "show", "no_such_model")
    assert code == 2
    assert "no_such_model" in err


def test_run_rejects_bad_parameter_before_compiling(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "smoke", "--out", str(tmp_path / "out"),
                           "--set", "tau_nope=1 min")
    assert code == 2
    assert "tau_nope" in err
    assert not (tmp_path / "out").exists()


def test_model_list(capsys):
    code, out, _ = run_cli(capsys, "model", "list")
    assert code == 0
    assert "ca1_spine" in out


def test_model_list_has_the_layout_model_and_show_prints_its_spike_site(capsys):
    code, out, _ = run_cli(capsys, "model", "list")
    assert code == 0 and "ca1_layout" in out.split()
    code, out, err = run_cli(capsys, "model", "show", "ca1_layout")
    assert code == 0, err
    assert any(line.split()[:2] == ["spike_site", "spine_head"] for line in out.splitlines() if line.split())


def test_validate_calibration_prints_each_outcome_with_its_band_and_verdict(capsys, monkeypatch):
    """``validate --calibration`` (for a model whose outcomes no stored figure shows): every
    outcome with a target, those with a calibration target apart from the held-out ones,
    each with its band, its value to two decimals (a value just past a band's edge, 85.004 for
    a 70-85 % band, reads as the miss it is) and its verdict; with --strict a miss fails the command."""
    from biophys_ltp import outcomes, validation
    from biophys_ltp.fit import calibration_ids
    from biophys_ltp.targets import BANDS
    with_target = [n for n, o in outcomes.OUTCOMES.items() if o.target in BANDS]
    names = [n for n in with_target if outcomes.OUTCOMES[n].target in calibration_ids()]
    held_out = [n for n in with_target if n not in names]
    assert names and held_out
    inside = {n: (BANDS[outcomes.OUTCOMES[n].target].low if np.isfinite(BANDS[outcomes.OUTCOMES[n].target].low)
                  else BANDS[outcomes.OUTCOMES[n].target].high) for n in with_target}
    edge = "freq_1hz"
    assert BANDS[outcomes.OUTCOMES[edge].target].high == 85
    values = dict(inside, **{edge: 85.004})
    monkeypatch.setattr(outcomes, "evaluate", lambda names, **kw: {n: values[n] for n in names})
    monkeypatch.setattr(validation, "run_experiments", lambda names, **kw: {})
    code, out, err = run_cli(capsys, "validate", "--calibration", "--quiet", "--strict")
    assert code == 1, err
    rows = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert set(with_target) <= set(rows)
    assert "85.00" in rows[edge] and " MISS " in rows[edge]
    assert all(" ok " in rows[n] for n in with_target if n != edge)
    assert f"{len(names) - 1} of {len(names)} calibration outcomes within their band; missed: {edge}" in out
    assert f"{len(held_out)} of {len(held_out)} held-out outcomes within their band" in out
    assert out.index("calibration outcome") < out.index("held-out outcome")
    monkeypatch.setattr(outcomes, "evaluate", lambda names, **kw: {n: inside[n] for n in names})
    code, out, err = run_cli(capsys, "validate", "--calibration", "--quiet", "--strict")
    assert code == 0, err


def test_parse_sets():
    assert cli.parse_sets(["g_ampa=0.6 nS", "tau_ca='20 ms'", "g_ampa=0.7 nS"]) == {
        "g_ampa": "0.7 nS", "tau_ca": "20 ms"}
    with pytest.raises(ValueError):
        cli.parse_sets(["=1"])


# ---------------------------------------------------------------------------
# protocols
# ---------------------------------------------------------------------------

def test_protocols_lists_shipped_protocols_with_names(capsys):
    code, out, _ = run_cli(capsys, "protocols")
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    for stem in ("wtet", "stet", "stet_anisomycin"):
        assert stem in rows
        assert load_protocol(stem).name in rows[stem]


def test_protocol_check_ok(capsys):
    code, out, err = run_cli(capsys, "protocol", "check", str(cli.REPO_DIR / "protocols" / "stet.toml"))
    assert code == 0, err
    assert out.startswith("OK ")


BROKEN = """\
name = "broken"
duration = "2 h"
baseline = "30 min"
test_interval = "5 min"
pathways = ["S1", "S2"]

[[events]]
kind = "weak_tetanus"
pathway = "S1"
at = "30 min"

[[events]]
kind = "strong_tetanus"
pathway = "S7"
at = "40 min"
"""


def test_protocol_check_broken_file_names_file_and_event(capsys, tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text(BROKEN)
    code, _, err = run_cli(capsys, "protocol", "check", str(bad))
    assert code == 2
    assert str(bad) in err
    assert "event 2 (strong_tetanus)" in err
    assert "S7" in err
    assert len(err.strip().splitlines()) == 1


def test_protocol_check_reports_every_file(capsys, tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text(BROKEN)
    invalid = tmp_path / "invalid.toml"
    invalid.write_text("name = \n")
    good = cli.REPO_DIR / "protocols" / "wtet.toml"
    code, out, err = run_cli(capsys, "protocol", "check", str(bad), str(good), str(invalid))
    assert code == 2
    assert out.count("OK ") == 1
    assert str(bad) in err and str(invalid) in err
    assert "not valid TOML" in err


# ---------------------------------------------------------------------------
# run summary (from made-up results)
# ---------------------------------------------------------------------------

def test_summary_table():
    proto = load_protocol({
        "name": "t", "duration": "4 h", "baseline": "30 min", "test_interval": "5 min",
        "pathways": ["S1", "S2"],
        "events": [{"kind": "weak_tetanus", "pathway": "S1", "at": "30 min"}],
    })
    t = np.arange(0, 240, 5.0)
    fepsp = pd.concat([
        pd.DataFrame({"time_min": t, "pathway": "S1", "fepsp_pct": 100 + t}),
        pd.DataFrame({"time_min": t + 0.1 / 60, "pathway": "S2", "fepsp_pct": 100.0}),
    ], ignore_index=True)
    text = cli.summary_table(SimpleNamespace(protocol=proto, fepsp=fepsp))
    lines = text.splitlines()
    header = lines[1].split()
    assert header[:2] == ["pathway", "induction"]
    assert "+30" in header and "+1" in header and "+3" in header
    assert "+8" not in header  # the protocol is too short
    s1 = lines[2].split()
    assert s1[0] == "S1" and s1[1:3] == ["30", "min"]
    assert s1[3:6] == ["160.0", "190.0", "310.0"]  # 60, 90 and 210 min
    s2 = lines[3].split()
    assert s2[:5] == ["S2", "none", "-", "-", "-"]
    assert s2[5] == "100.0"


def test_summary_table_drops_times_without_a_test_pulse():
    # 1 h protocol: the last test pulse is at 55 min, 25 min after the induction
    proto = load_protocol(str(cli.REPO_DIR / "protocols" / "smoke.toml"))
    t = np.arange(0, 60, 5.0)
    fepsp = pd.DataFrame({"time_min": np.concatenate([t, t + 0.1 / 60]),
                          "pathway": ["S1"] * len(t) + ["S2"] * len(t),
                          "fepsp_pct": 100.0})
    text = cli.summary_table(SimpleNamespace(protocol=proto, fepsp=fepsp))
    assert text.splitlines()[1].split() == ["pathway", "induction", "last"]
    assert text.splitlines()[3].split() == ["S2", "none", "100.0", "(55", "min)"]
    assert text.splitlines()[4].split() == ["S3", "none", "-"]


# ---------------------------------------------------------------------------
# reproduce
# ---------------------------------------------------------------------------

FIGURE_SCRIPT = """\
import json
from pathlib import Path

FIGURE = {"name": "demo", "title": "Demo figure", "paper": "Frey & Morris 1997", "panel": "Fig. 1a"}
CALLS = []
HASH = "h1"


def inputs_hash():
    return HASH


def compute(data_dir):
    CALLS.append("compute")
    (Path(data_dir) / "demo.csv").write_text("time_min,fepsp_pct\\n0,100\\n")
    (Path(data_dir) / "demo.json").write_text(json.dumps({"inputs_hash": HASH}))


def plot(data_dir, out_dir):
    CALLS.append("plot")
    out = Path(out_dir) / "demo.png"
    out.write_bytes(b"png")
    return [out]
"""


@pytest.fixture
def figures_dir(tmp_path, monkeypatch):
    folder = tmp_path / "figures"
    folder.mkdir()
    (folder / "fig_demo.py").write_text(FIGURE_SCRIPT)
    monkeypatch.setattr(cli.reproduce, "FIGURES_DIR", folder)
    return folder


def _module(name="demo"):
    import sys
    return sys.modules[f"_biophys_ltp_figure_fig_{name}"]


def test_reproduce_list_shipped(capsys):
    code, out, err = run_cli(capsys, "reproduce", "--list")
    assert code == 0, err
    assert out.strip()


def test_reproduce_list(capsys, figures_dir):
    code, out, _ = run_cli(capsys, "reproduce", "--list")
    assert code == 0
    lines = out.splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith("demo:"))
    block = [lines[k], *itertools.takewhile(lambda line: line.startswith(" "), lines[k + 1:])]  # paper, panel
    text = " ".join(block)
    assert "Frey & Morris 1997" in text and "Fig. 1a" in text, out
    assert all(len(line) <= 100 for line in out.splitlines()), out


def test_reproduce_without_figures(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(cli.reproduce, "FIGURES_DIR", tmp_path / "empty")
    code, out, _ = run_cli(capsys, "reproduce")
    assert code == 0
    assert "no figure scripts" in out


def test_reproduce_computes_then_reuses(capsys, figures_dir):
    code, out, err = run_cli(capsys, "reproduce")
    assert code == 0, err
    assert (figures_dir / "data" / "demo.csv").is_file()
    assert (figures_dir / "demo.png").is_file()
    assert _module().CALLS == ["compute", "plot"]
    assert "computing data for demo" in out

    code, out, _ = run_cli(capsys, "reproduce", "demo")
    assert code == 0
    assert "reusing stored data for demo" in out
    assert _module().CALLS == ["plot"]

    code, out, _ = run_cli(capsys, "reproduce", "--recompute")
    assert code == 0
    assert _module().CALLS == ["compute", "plot"]


def test_reproduce_recomputes_when_inputs_change(capsys, figures_dir):
    assert run_cli(capsys, "reproduce")[0] == 0
    (figures_dir / "fig_demo.py").write_text(FIGURE_SCRIPT.replace('HASH = "h1"', 'HASH = "h2"'))
    code, out, _ = run_cli(capsys, "reproduce")
    assert code == 0
    assert "reusing" not in out
    assert _module().CALLS == ["compute", "plot"]
    assert json.loads((figures_dir / "data" / "demo.json").read_text())["inputs_hash"] == "h2"


def test_reproduce_out_dir(capsys, figures_dir, tmp_path):
    code, out, _ = run_cli(capsys, "reproduce", "--out", str(tmp_path / "pictures"))
    assert code == 0
    assert (tmp_path / "pictures" / "demo.png").is_file()


def test_reproduce_unknown_figure_lists_known(capsys, figures_dir):
    code, _, err = run_cli(capsys, "reproduce", "fig9")
    assert code == 2
    assert "fig9" in err and "demo" in err


def test_reproduce_check_reports_stale_data(capsys, figures_dir):
    code, out, err = run_cli(capsys, "reproduce", "--check")
    assert code == 1 and "demo: stale" in out and "--recompute demo" in err
    assert _module().CALLS == []  # nothing computed or drawn
    assert run_cli(capsys, "reproduce")[0] == 0
    code, out, _ = run_cli(capsys, "reproduce", "--check")
    assert code == 0 and "demo: current" in out


def test_reproduce_recompute_says_what_moved(capsys, figures_dir):
    assert run_cli(capsys, "reproduce")[0] == 0
    script = FIGURE_SCRIPT.replace("0,100", "0,101")
    (figures_dir / "fig_demo.py").write_text(script)
    code, out, _ = run_cli(capsys, "reproduce", "--recompute")
    assert code == 0
    assert "demo.csv: fepsp_pct max |change| 1" in out


def test_reproduce_recompute_takes_equal_infinities_as_unchanged(capsys, figures_dir):
    """An open band end (inf in both the stored and the new data) has not moved."""
    script = FIGURE_SCRIPT.replace("time_min,fepsp_pct\\n0,100", "time_min,fepsp_pct,band_high\\n0,100,inf")
    assert script != FIGURE_SCRIPT
    (figures_dir / "fig_demo.py").write_text(script)
    assert run_cli(capsys, "reproduce")[0] == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        code, out, _ = run_cli(capsys, "reproduce", "--recompute")
    assert code == 0
    assert "demo.csv: unchanged" in out


def test_shipped_figure_data_are_current(capsys):
    """The stored data of every shipped figure match the current model and protocols."""
    code, out, err = run_cli(capsys, "reproduce", "--check")
    assert code == 0, out + err


def test_validate_list_checks_its_names_and_model(capsys):
    """``validate --list NAME`` lists that experiment; a typo in a name or the model is an
    error, as it is for a run (it once listed everything and said nothing)."""
    code, out, _ = run_cli(capsys, "validate", "--list", "apv_test_pulse")
    assert code == 0 and out.startswith("apv_test_pulse: ") and len(out.strip().splitlines()) == 1
    for argv, fragment in ((("validate", "--list", "apv_tset_pulse"), "unknown experiment(s) 'apv_tset_pulse'"),
                           (("validate", "--list", "--model", "ca1_spin"), "no model 'ca1_spin'")):
        code, _, err = run_cli(capsys, *argv)
        assert code == 2 and fragment in err, err
