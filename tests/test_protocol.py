"""Tests for biophys_ltp.protocol: stimulation protocols read from TOML."""

import json

import numpy as np
import pytest
from brian2 import Hz, ms, second

from biophys_ltp.protocol import (
    DRUGS,
    PROTOCOLS_DIR,
    TEST_STAGGER,
    Protocol,
    ProtocolError,
    list_protocols,
    load_protocol,
    protocol_from_dict,
)

MIN = 60.0  # seconds


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def to_toml(d):
    """Write a protocol dictionary as TOML (top-level scalars, then [[events]])."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in d.items() if k != "events"]
    for event in d.get("events", []):
        lines.append("")
        lines.append("[[events]]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in event.items())
    return "\n".join(lines) + "\n"


def base(*events, **top):
    """A valid protocol dictionary: 10 h, 30 min baseline, 5 min tests, S1-S3."""
    d = {
        "name": "test protocol",
        "duration": "10 h",
        "baseline": "30 min",
        "test_interval": "5 min",
        "pathways": ["S1", "S2", "S3"],
        "events": [dict(e) for e in events],
    }
    d.update(top)
    return d


def write(tmp_path, d, name="proto.toml"):
    path = tmp_path / name
    path.write_text(to_toml(d))
    return path


def secs(q):
    """Quantity (scalar or array) as float seconds."""
    return np.asarray(q / second, dtype=float)


def load_error(tmp_path, d):
    """Load `d` from a TOML file, expect a ProtocolError; return (path, message)."""
    path = write(tmp_path, d)
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    return str(path), str(err.value)


WTET_S1 = {"kind": "weak_tetanus", "pathway": "S1", "at": "30 min"}
STET_S1 = {"kind": "strong_tetanus", "pathway": "S1", "at": "30 min"}


# ---------------------------------------------------------------------------
# Named kinds: pulse counts and exact times
# ---------------------------------------------------------------------------

def test_weak_tetanus_pulses():
    p = protocol_from_dict(base(WTET_S1))
    t = secs(p.induction_pulses()["S1"])
    assert len(t) == 21
    assert t[0] == 1800.0
    assert t[-1] == 1800.2
    np.testing.assert_allclose(np.diff(t), 0.01, atol=1e-9)


def test_strong_tetanus_pulses():
    p = protocol_from_dict(base(STET_S1))
    t = secs(p.induction_pulses()["S1"])
    assert len(t) == 300
    # Three trains starting 10 min apart, each 100 pulses at 100 Hz.
    assert list(t[[0, 100, 200]]) == [1800.0, 2400.0, 3000.0]
    assert t[-1] == 3000.99  # 30 min + 20 min + 0.99 s, exact to the ns
    assert t[-1] == pytest.approx(30 * MIN + 20 * MIN + 0.99, abs=1e-9)
    np.testing.assert_allclose(np.diff(t[:100]), 0.01, atol=1e-9)
    # Times are rounded to whole nanoseconds.
    np.testing.assert_array_equal(np.round(t * 1e9) / 1e9, t)


def test_strong_tetanus_preset_can_be_overridden():
    p = protocol_from_dict(base({**STET_S1, "repeats": 4, "every": "5 min"}))
    t = secs(p.induction_pulses()["S1"])
    assert len(t) == 400
    assert list(t[[0, 100, 200, 300]]) == [1800.0, 2100.0, 2400.0, 2700.0]
    ev = p.events[0]
    assert ev.repeats == 4 and ev.pulses == 100 and ev.frequency == 100 * Hz


def test_wlfs_pulses():
    p = protocol_from_dict(base({"kind": "wlfs", "pathway": "S2", "at": "1 h"}))
    t = secs(p.induction_pulses()["S2"])
    assert len(t) == 900
    assert t[0] == 3600.0 and t[-1] == 3600.0 + 899.0
    np.testing.assert_allclose(np.diff(t), 1.0, atol=1e-9)


def test_slfs_pulses():
    p = protocol_from_dict(base({"kind": "slfs", "pathway": "S1", "at": "1 h"}))
    t = secs(p.induction_pulses()["S1"])
    assert len(t) == 2700
    assert list(t[:4]) == [3600.0, 3600.05, 3600.1, 3601.0]
    assert t[-1] == pytest.approx(3600 + 899 + 0.1, abs=1e-9)
    ev = p.events[0]
    assert ev.burst_pulses == 3 and ev.burst_frequency == 20 * Hz


def test_tbs_pulses():
    p = protocol_from_dict(base({"kind": "tbs", "pathway": "S3", "at": "40 min"}))
    t = secs(p.induction_pulses()["S3"])
    assert len(t) == 40
    assert list(t[:5]) == [2400.0, 2400.01, 2400.02, 2400.03, 2400.2]
    assert t[-1] == pytest.approx(2400 + 9 * 0.2 + 3 * 0.01, abs=1e-9)


def test_generic_train_with_repeats_and_bursts():
    ev = {
        "kind": "train",
        "pathway": "S2",
        "at": "65 min",
        "pulses": 5,
        "frequency": "2 Hz",
        "repeats": 2,
        "every": "30 s",
        "burst_pulses": 2,
        "burst_frequency": "50 Hz",
    }
    p = protocol_from_dict(base(ev))
    t = secs(p.induction_pulses()["S2"])
    at = 65 * MIN
    expected = sorted(
        at + r * 30 + b / 2 + i / 50 for r in range(2) for b in range(5) for i in range(2)
    )
    assert len(t) == 20
    np.testing.assert_allclose(t, expected, rtol=0, atol=1e-9)
    first, last = p.events[0].span()
    assert secs(first) == at and secs(last) == pytest.approx(at + 30 + 2 + 0.02, abs=1e-9)


def test_generic_train_defaults():
    ev = {"kind": "train", "pathway": "S2", "at": "65 min", "pulses": 21, "frequency": "100 Hz"}
    p = protocol_from_dict(base(ev))
    e = p.events[0]
    assert (e.repeats, e.burst_pulses, e.every, e.burst_frequency) == (1, 1, None, None)
    assert len(p.induction_pulses()["S2"]) == 21


# ---------------------------------------------------------------------------
# Test pulses
# ---------------------------------------------------------------------------

def test_test_pulses_without_induction_are_staggered():
    p = protocol_from_dict(base())
    tests = p.test_pulses()
    assert set(tests) == {"S1", "S2", "S3"}
    assert TEST_STAGGER == 100 * ms
    for k, name in enumerate(["S1", "S2", "S3"]):
        t = secs(tests[name])
        assert len(t) == 120  # 10 h / 5 min
        np.testing.assert_allclose(t, np.arange(120) * 300.0 + k * 0.1, rtol=0, atol=1e-9)
        assert t[-1] < 36000


def test_test_pulses_stop_before_duration():
    p = protocol_from_dict(base(duration="61 min", baseline="5 min", test_interval="10 min"))
    t = secs(p.test_pulses()["S1"])
    assert list(t) == [0, 600, 1200, 1800, 2400, 3000, 3600]
    p = protocol_from_dict(base(duration="60 min", baseline="5 min", test_interval="10 min"))
    assert list(secs(p.test_pulses()["S1"])) == [0, 600, 1200, 1800, 2400, 3000]


def test_test_pulses_dropped_during_induction():
    p = protocol_from_dict(base(STET_S1))
    tests = p.test_pulses()
    s1 = secs(tests["S1"])
    # STET spans 30 min .. 50 min + 0.99 s: the tests at 30, 35, 40, 45 and 50 min go.
    dropped = {30 * MIN, 35 * MIN, 40 * MIN, 45 * MIN, 50 * MIN}
    assert len(s1) == 115
    assert not dropped & set(s1)
    assert 25 * MIN in s1 and 55 * MIN in s1
    # the other pathways lose only the test pulses that fall during a train (+- 1 s)
    s2 = secs(tests["S2"])
    assert len(s2) == 117 and len(tests["S3"]) == 117
    assert 30 * MIN + 0.1 not in s2 and 40 * MIN + 0.1 not in s2
    assert 35 * MIN + 0.1 in s2


def test_test_pulse_margin_is_one_second():
    def s1_tests(at):
        ev = {"kind": "weak_tetanus", "pathway": "S1", "at": at}
        return set(secs(protocol_from_dict(base(ev)).test_pulses()["S1"]))

    # The weak tetanus lasts 0.2 s.  Test pulses fall every 300 s on S1.
    assert 2100.0 not in s1_tests("2099 s")  # 0.8 s after the last pulse
    assert 2100.0 not in s1_tests("2098.8 s")  # exactly 1 s after the last pulse
    assert 2100.0 in s1_tests("2098.7 s")  # 1.1 s after
    assert 1800.0 not in s1_tests("1801 s")  # exactly 1 s before the first pulse
    assert 1800.0 in s1_tests("1801.5 s")


# ---------------------------------------------------------------------------
# Pairing and drugs
# ---------------------------------------------------------------------------

def test_pairing_defaults_and_positive_dt():
    p = protocol_from_dict(base({"kind": "pairing", "pathway": "S2", "at": "40 min"}))
    pulses = secs(p.induction_pulses()["S2"])
    spikes = secs(p.somatic_spikes())
    assert len(pulses) == 60 and len(spikes) == 60
    np.testing.assert_allclose(pulses, 2400 + np.arange(60), rtol=0, atol=1e-9)
    np.testing.assert_allclose(spikes, pulses + 0.01, rtol=0, atol=1e-9)
    ev = p.events[0]
    assert (ev.pairs, ev.frequency, ev.dt) == (60, 1 * Hz, 10 * ms)


def test_pairing_negative_dt_spike_first():
    ev = {
        "kind": "pairing",
        "pathway": "S1",
        "at": "40 min",
        "pairs": 10,
        "frequency": "5 Hz",
        "dt": "-10 ms",
    }
    p = protocol_from_dict(base(ev))
    pulses = secs(p.induction_pulses()["S1"])
    spikes = secs(p.somatic_spikes())
    assert len(pulses) == 10
    np.testing.assert_allclose(pulses, 2400 + 0.2 * np.arange(10), rtol=0, atol=1e-9)
    np.testing.assert_allclose(spikes, pulses - 0.01, rtol=0, atol=1e-9)
    assert spikes[0] == 2399.99
    first, last = p.events[0].span()
    assert secs(first) == 2399.99 and secs(last) == pytest.approx(2401.8, abs=1e-9)
    assert secs(p.induction_onsets()["S1"]) == 2400.0


def test_pairing_with_a_postsynaptic_burst():
    """Each pulse is paired with a burst of somatic spikes, the first ``dt`` after the pulse
    (postsynaptic bursts as in Inglebert et al. 2020, Fig. 4); the burst's spikes are
    protocol times like any spike, and the event writes itself back."""
    ev = {"kind": "pairing", "pathway": "S1", "at": "40 min", "pairs": 4, "frequency": "5 Hz", "dt": "-15 ms",
          "spikes": 3, "spike_frequency": "100 Hz"}
    p = protocol_from_dict(base(ev))
    pulses = secs(p.induction_pulses()["S1"])
    spikes = secs(p.somatic_spikes())
    np.testing.assert_allclose(pulses, 2400 + 0.2 * np.arange(4), rtol=0, atol=1e-9)
    expected = (pulses[:, None] - 0.015 + np.array([0.0, 0.01, 0.02])[None, :]).ravel()
    np.testing.assert_allclose(spikes, expected, rtol=0, atol=1e-9)
    first, last = p.events[0].span()
    assert secs(first) == pytest.approx(2399.985, abs=1e-9) and secs(last) == pytest.approx(2400.605, abs=1e-9)
    d = p.to_dict()["events"][0]
    assert (d["spikes"], d["spike_frequency"]) == (3, "100 Hz")
    again = protocol_from_dict(base({k: v for k, v in d.items()}))
    np.testing.assert_array_equal(secs(again.somatic_spikes()), spikes)


def test_no_pairing_gives_empty_spikes():
    p = protocol_from_dict(base(WTET_S1))
    assert len(p.somatic_spikes()) == 0
    assert p.somatic_spikes().dim == second.dim


def test_drug_windows():
    p = protocol_from_dict(
        base(
            STET_S1,
            {"kind": "drug", "drug": "anisomycin", "start": "5 h", "stop": "6 h"},
            {"kind": "drug", "drug": "apv", "start": "20 min", "stop": "40 min"},
            {"kind": "drug", "drug": "anisomycin", "start": "0 min", "stop": "150 min"},
        )
    )
    windows = p.drug_windows()
    assert set(windows) == set(DRUGS)
    assert [(secs(a), secs(b)) for a, b in windows["anisomycin"]] == [(0, 9000), (18000, 21600)]
    assert [(secs(a), secs(b)) for a, b in windows["apv"]] == [(1200, 2400)]
    # Drugs touch no pathway: the S1 schedule is that of a plain STET.
    assert len(p.induction_pulses()["S1"]) == 300


def test_no_drugs_gives_empty_lists():
    windows = protocol_from_dict(base(WTET_S1)).drug_windows()
    assert set(windows) == set(DRUGS) >= {"anisomycin", "apv"} and not any(windows.values())


def test_drug_windows_may_touch_and_different_drugs_may_overlap():
    p = protocol_from_dict(
        base(
            {"kind": "drug", "drug": "apv", "start": "0 min", "stop": "1 h"},
            {"kind": "drug", "drug": "apv", "start": "1 h", "stop": "2 h"},
            {"kind": "drug", "drug": "anisomycin", "start": "30 min", "stop": "90 min"},
        )
    )
    assert len(p.drug_windows()["apv"]) == 2


def test_induction_pulses_and_onsets_per_pathway():
    p = protocol_from_dict(
        base(
            STET_S1,
            {"kind": "weak_tetanus", "pathway": "S2", "at": "65 min"},
        )
    )
    pulses = p.induction_pulses()
    assert list(pulses) == ["S1", "S2", "S3"]
    assert len(pulses["S2"]) == 21 and len(pulses["S3"]) == 0
    assert pulses["S3"].dim == second.dim
    onsets = p.induction_onsets()
    assert secs(onsets["S1"]) == 1800 and secs(onsets["S2"]) == 3900 and onsets["S3"] is None


def test_two_inductions_on_one_pathway_are_merged_sorted():
    p = protocol_from_dict(
        base(
            {"kind": "weak_tetanus", "pathway": "S1", "at": "2 h"},
            {"kind": "weak_tetanus", "pathway": "S1", "at": "1 h"},
        )
    )
    t = secs(p.induction_pulses()["S1"])
    assert len(t) == 42 and np.all(np.diff(t) > 0) and t[0] == 3600.0


# ---------------------------------------------------------------------------
# Loading, metadata, sweeps
# ---------------------------------------------------------------------------

def test_shipped_protocols_load():
    names = list_protocols()
    assert {"wtet", "stet", "stet_anisomycin"} <= set(names)
    for name in names:
        p = load_protocol(name)
        assert isinstance(p, Protocol)
        assert p.description
        json.dumps(p.to_dict())
        json.dumps(p.raw)


def test_shipped_wtet_stet_anisomycin():
    wtet = load_protocol("wtet")
    assert wtet.name == "WTET: weak tetanus on S1"
    assert secs(wtet.duration) == 36000 and secs(wtet.baseline) == 1800
    assert secs(wtet.test_interval) == 300 and wtet.pathways == ("S1", "S2", "S3")
    assert len(wtet.induction_pulses()["S1"]) == 21

    stet = load_protocol("stet.toml")
    assert len(stet.induction_pulses()["S1"]) == 300
    assert stet.drug_windows()["anisomycin"] == []

    aniso = load_protocol(PROTOCOLS_DIR / "stet_anisomycin.toml")
    assert len(aniso.induction_pulses()["S1"]) == 300
    [(start, stop)] = aniso.drug_windows()["anisomycin"]
    assert secs(start) == 0 and secs(stop) == 150 * MIN
    assert aniso.source.endswith("stet_anisomycin.toml")


def test_load_from_path_and_dict(tmp_path):
    d = base(WTET_S1, description="a test")
    from_file = load_protocol(write(tmp_path, d))
    from_str = load_protocol(str(tmp_path / "proto.toml"))
    from_dict = load_protocol(d)
    assert from_file.source == str(tmp_path / "proto.toml") == from_str.source
    assert from_dict.source == "<dict>"
    assert from_file.raw == d == from_dict.raw
    assert from_file.description == "a test"
    np.testing.assert_array_equal(
        secs(from_file.induction_pulses()["S1"]), secs(from_dict.induction_pulses()["S1"])
    )


def test_load_unknown_name_lists_shipped():
    with pytest.raises(ProtocolError) as err:
        load_protocol("no_such_protocol")
    assert "no_such_protocol" in str(err.value) and "stet" in str(err.value)


def test_invalid_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "x\n')
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    assert str(path) in str(err.value) and "not valid TOML" in str(err.value)


def test_to_dict_fills_defaults_and_round_trips():
    p = protocol_from_dict(
        base(
            STET_S1,
            {"kind": "pairing", "pathway": "S2", "at": "2 h", "dt": "-10 ms"},
            {"kind": "drug", "drug": "anisomycin", "start": "0 min", "stop": "150 min"},
        )
    )
    d = p.to_dict()
    json.dumps(d)
    assert d["source"] == "<dict>"
    assert d["duration"] == "10 h" and d["baseline"] == "30 min"
    assert d["events"][0] == {
        "kind": "strong_tetanus",
        "pathway": "S1",
        "at": "30 min",
        "pulses": 100,
        "frequency": "100 Hz",
        "repeats": 3,
        "every": "10 min",
        "burst_pulses": 1,
    }
    assert d["events"][1] == {
        "kind": "pairing",
        "pathway": "S2",
        "at": "2 h",
        "pairs": 60,
        "frequency": "1 Hz",
        "dt": "-10 ms",
    }
    assert d["events"][2] == {
        "kind": "drug",
        "drug": "anisomycin",
        "start": "0 s",
        "stop": "150 min",
    }
    again = protocol_from_dict({k: v for k, v in d.items() if k != "source"})
    for name in p.pathways:
        np.testing.assert_array_equal(
            secs(again.induction_pulses()[name]), secs(p.induction_pulses()[name])
        )
    np.testing.assert_array_equal(secs(again.somatic_spikes()), secs(p.somatic_spikes()))


def test_dict_may_hold_quantities():
    d = base({"kind": "weak_tetanus", "pathway": "S1", "at": 45 * 60 * second})
    p = protocol_from_dict(d)
    assert p.raw["events"][0]["at"] == "45 min"
    assert secs(p.induction_onsets()["S1"]) == 2700


def test_replace_event_time():
    p = protocol_from_dict(base(WTET_S1, {"kind": "weak_tetanus", "pathway": "S2", "at": "1 h"}))
    moved = p.replace_event_time(0, 60 * MIN * second)
    assert secs(moved.induction_onsets()["S1"]) == 3600
    assert secs(moved.induction_onsets()["S2"]) == 3600
    assert moved.raw["events"][0]["at"] == "1 h"
    # Test pulses follow the moved event.
    assert 1800.0 in set(secs(moved.test_pulses()["S1"]))
    assert 3600.0 not in set(secs(moved.test_pulses()["S1"]))
    # The original is unchanged.
    assert secs(p.induction_onsets()["S1"]) == 1800
    assert p.raw["events"][0]["at"] == "30 min"
    # Strings with units are accepted too.
    moved = p.replace_event_time(1, "95 min")
    assert secs(moved.induction_pulses()["S2"])[0] == 5700
    assert moved.raw["events"][1]["at"] == "95 min"


def test_replace_event_time_revalidates():
    p = protocol_from_dict(base(WTET_S1, {"kind": "weak_tetanus", "pathway": "S1", "at": "1 h"}))
    with pytest.raises(ProtocolError, match=r"event 1 \(weak_tetanus\).*before the end of the baseline"):
        p.replace_event_time(0, "10 min")
    with pytest.raises(ProtocolError, match=r"event 2 \(weak_tetanus\): overlaps event 1"):
        p.replace_event_time(0, "60 min")
    with pytest.raises(ProtocolError, match="has no unit"):
        p.replace_event_time(0, "60")
    with pytest.raises(IndexError):
        p.replace_event_time(2, "60 min")


def test_replace_event_time_moves_drug_window():
    p = protocol_from_dict(
        base(STET_S1, {"kind": "drug", "drug": "apv", "start": "20 min", "stop": "40 min"})
    )
    moved = p.replace_event_time(1, "1 h")
    [(start, stop)] = moved.drug_windows()["apv"]
    assert (secs(start), secs(stop)) == (3600, 4800)


# ---------------------------------------------------------------------------
# Validation: one test per failure; each message names file, event, problem
# ---------------------------------------------------------------------------

def assert_message(msg, path, *fragments):
    assert msg.startswith(path + ": "), msg
    for fragment in fragments:
        assert fragment in msg, f"{fragment!r} not in {msg!r}"


def test_error_is_value_error():
    assert issubclass(ProtocolError, ValueError)


def test_unknown_top_level_key(tmp_path):
    path, msg = load_error(tmp_path, base(WTET_S1, durration="10 h"))
    assert_message(msg, path, "unknown top-level key 'durration'", "duration")


def test_missing_top_level_key(tmp_path):
    d = base(WTET_S1)
    del d["baseline"]
    path, msg = load_error(tmp_path, d)
    assert_message(msg, path, 'missing required key "baseline"')


@pytest.mark.parametrize(
    "event, key",
    [
        ({**WTET_S1, "dt": "10 ms"}, "'dt'"),
        ({**STET_S1, "pairs": 3}, "'pairs'"),
        ({"kind": "pairing", "pathway": "S1", "at": "1 h", "repeats": 2}, "'repeats'"),
        (
            {"kind": "drug", "drug": "apv", "start": "0 s", "stop": "1 h", "pathway": "S1"},
            "'pathway'",
        ),
    ],
)
def test_unknown_event_key(tmp_path, event, key):
    path, msg = load_error(tmp_path, base(event))
    kind = event["kind"]
    assert_message(msg, path, f"event 1 ({kind})", f"unknown key {key}", f"a {kind} event accepts")


def test_unknown_kind_lists_known_kinds(tmp_path):
    path, msg = load_error(tmp_path, base(WTET_S1, {"kind": "tetanus", "pathway": "S2", "at": "1 h"}))
    assert_message(
        msg, path, "event 2 (tetanus)", "unknown kind 'tetanus'", "weak_tetanus", "pairing", "drug"
    )


def test_missing_kind(tmp_path):
    path, msg = load_error(tmp_path, base({"pathway": "S2", "at": "1 h"}))
    assert_message(msg, path, "event 1", 'missing required key "kind"')


@pytest.mark.parametrize(
    "event, key",
    [
        ({"kind": "train", "pathway": "S2", "at": "1 h", "frequency": "100 Hz"}, "pulses"),
        ({"kind": "train", "pathway": "S2", "at": "1 h", "pulses": 5}, "frequency"),
        ({"kind": "weak_tetanus", "pathway": "S2"}, "at"),
        ({"kind": "pairing", "at": "1 h"}, "pathway"),
        ({"kind": "drug", "drug": "apv", "start": "0 s"}, "stop"),
        ({"kind": "drug", "start": "0 s", "stop": "1 h"}, "drug"),
        (
            {"kind": "train", "pathway": "S2", "at": "1 h", "pulses": 5, "frequency": "1 Hz",
             "repeats": 2},
            "every",
        ),
        (
            {"kind": "train", "pathway": "S2", "at": "1 h", "pulses": 5, "frequency": "1 Hz",
             "burst_pulses": 3},
            "burst_frequency",
        ),
    ],
)
def test_missing_event_key(tmp_path, event, key):
    path, msg = load_error(tmp_path, base(WTET_S1, event))
    assert_message(msg, path, f"event 2 ({event['kind']})", f'missing required key "{key}"')


def test_missing_unit(tmp_path):
    event = {"kind": "train", "pathway": "S2", "at": "1 h", "pulses": 5, "frequency": "100"}
    path, msg = load_error(tmp_path, base(WTET_S1, event))
    assert_message(msg, path, "event 2 (train)", "\"frequency\": '100' has no unit", "'100 Hz'")


def test_missing_unit_as_toml_number(tmp_path):
    path, msg = load_error(tmp_path, base({"kind": "weak_tetanus", "pathway": "S1", "at": 1800}))
    assert_message(msg, path, "event 1 (weak_tetanus)", '"at"', "has no unit")


def test_missing_unit_top_level(tmp_path):
    path, msg = load_error(tmp_path, base(WTET_S1, duration="36000"))
    assert_message(msg, path, "\"duration\": '36000' has no unit")


def test_wrong_dimension(tmp_path):
    path, msg = load_error(tmp_path, base({"kind": "weak_tetanus", "pathway": "S1", "at": "30 Hz"}))
    assert_message(msg, path, "event 1 (weak_tetanus)", "\"at\": '30 Hz' is not a time")


def test_wrong_dimension_frequency(tmp_path):
    path, msg = load_error(tmp_path, base({**STET_S1, "frequency": "10 ms"}))
    assert_message(msg, path, "event 1 (strong_tetanus)", "'10 ms' is not a frequency")


def test_unknown_unit(tmp_path):
    path, msg = load_error(tmp_path, base({**WTET_S1, "at": "30 mins"}))
    assert_message(msg, path, "event 1 (weak_tetanus)", "unknown unit 'mins'")


@pytest.mark.parametrize(
    "event, fragment",
    [
        ({"kind": "weak_tetanus", "pathway": "S1", "at": "-1 min"}, '"at" must not be negative'),
        ({"kind": "drug", "drug": "apv", "start": "-5 min", "stop": "1 h"},
         '"start" must not be negative'),
        ({**STET_S1, "every": "-10 min"}, '"every" must be positive'),
        ({**STET_S1, "every": "0 s"}, '"every" must be positive'),
    ],
)
def test_negative_times(tmp_path, event, fragment):
    path, msg = load_error(tmp_path, base(event, baseline="0 s"))
    assert_message(msg, path, f"event 1 ({event['kind']})", fragment)


@pytest.mark.parametrize(
    "top, fragment",
    [
        ({"baseline": "-1 min"}, '"baseline" must not be negative'),
        ({"duration": "-1 h"}, '"duration" must be positive'),
        ({"test_interval": "0 s"}, '"test_interval" must be positive'),
        ({"baseline": "10 h"}, '"baseline" (10 h) must be shorter than "duration" (10 h)'),
        ({"test_interval": "150 ms"}, '"test_interval" (150 ms) is shorter than 20 s'),
    ],
)
def test_bad_top_level_times(tmp_path, top, fragment):
    path, msg = load_error(tmp_path, base(**top))
    assert_message(msg, path, fragment)


@pytest.mark.parametrize("frequency", ["0 Hz", "-100 Hz"])
def test_non_positive_frequency(tmp_path, frequency):
    path, msg = load_error(tmp_path, base({**WTET_S1, "frequency": frequency}))
    assert_message(msg, path, "event 1 (weak_tetanus)", '"frequency" must be a positive frequency')


def test_non_positive_burst_frequency(tmp_path):
    path, msg = load_error(tmp_path, base({"kind": "tbs", "pathway": "S1", "at": "1 h",
                                           "burst_frequency": "0 Hz"}))
    assert_message(msg, path, "event 1 (tbs)", '"burst_frequency" must be a positive frequency')


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("pulses", 2.5, '"pulses" must be a whole number'),
        ("pulses", "21", '"pulses" must be a whole number'),
        ("repeats", 0, '"repeats" must be at least 1'),
        ("burst_pulses", -2, '"burst_pulses" must be at least 1'),
        ("pulses", True, '"pulses" must be a whole number'),
    ],
)
def test_non_integer_counts(tmp_path, key, value, fragment):
    path, msg = load_error(tmp_path, base({**STET_S1, key: value}))
    assert_message(msg, path, "event 1 (strong_tetanus)", fragment)


def test_non_integer_pairs(tmp_path):
    path, msg = load_error(tmp_path, base({"kind": "pairing", "pathway": "S1", "at": "1 h",
                                           "pairs": 1.5}))
    assert_message(msg, path, "event 1 (pairing)", '"pairs" must be a whole number')


def test_every_must_exceed_repeat_length(tmp_path):
    path, msg = load_error(tmp_path, base({**STET_S1, "every": "0.5 s"}))
    assert_message(msg, path, "event 1 (strong_tetanus)", '"every" (0.5 s) must exceed',
                   "990 ms")


def test_burst_must_be_shorter_than_period(tmp_path):
    event = {"kind": "slfs", "pathway": "S1", "at": "1 h", "burst_pulses": 21}
    path, msg = load_error(tmp_path, base(event))
    assert_message(msg, path, "event 1 (slfs)", "a burst of 21 pulses at 20 Hz lasts 1 s",
                   "not shorter than the period 1 s")


@pytest.mark.parametrize(
    "event, fragment",
    [
        ({"kind": "wlfs", "pathway": "S1", "at": "590 min"},
         "its last pulse at 36299 s is not before the end of the protocol at 36000 s (duration 10 h)"),
        ({"kind": "weak_tetanus", "pathway": "S1", "at": "10 h"}, "its last pulse at"),
        ({"kind": "drug", "drug": "anisomycin", "start": "9 h", "stop": "11 h"},
         '"stop" (11 h) is after the end of the protocol (duration 10 h)'),
        ({"kind": "pairing", "pathway": "S2", "at": "35999.995 s", "pairs": 1},
         "its last somatic spike at 36000.005 s is not before the end"),
    ],
)
def test_event_past_duration(tmp_path, event, fragment):
    path, msg = load_error(tmp_path, base(WTET_S1, event))
    assert_message(msg, path, f"event 2 ({event['kind']})", fragment)


def test_event_ending_just_before_duration_is_fine():
    p = protocol_from_dict(base({"kind": "wlfs", "pathway": "S1", "at": "35100.5 s"}))
    assert secs(p.induction_pulses()["S1"])[-1] == 35999.5
    p = protocol_from_dict(base({"kind": "drug", "drug": "apv", "start": "9 h", "stop": "10 h"}))
    assert len(p.drug_windows()["apv"]) == 1


def test_induction_before_baseline_ends(tmp_path):
    path, msg = load_error(tmp_path, base({**WTET_S1, "at": "29 min"}))
    assert_message(msg, path, "event 1 (weak_tetanus)", '"at" (29 min) is before the end of the baseline (30 min)')


def test_induction_at_baseline_end_and_drug_during_baseline_are_fine():
    p = protocol_from_dict(
        base(WTET_S1, {"kind": "drug", "drug": "apv", "start": "0 s", "stop": "20 min"})
    )
    assert secs(p.induction_onsets()["S1"]) == 1800


def test_unknown_pathway(tmp_path):
    path, msg = load_error(tmp_path, base(WTET_S1, {**STET_S1, "pathway": "S4", "at": "1 h"}))
    assert_message(msg, path, "event 2 (strong_tetanus)", "unknown pathway 'S4'", "S1, S2, S3")


def test_duplicated_pathways(tmp_path):
    path, msg = load_error(tmp_path, base(WTET_S1, pathways=["S1", "S2", "S1"]))
    assert_message(msg, path, "\"pathways\" names 'S1' more than once")


@pytest.mark.parametrize("pathways", [[], "S1", ["S1", 2], ["S1", ""]])
def test_pathways_must_be_non_empty_list_of_names(tmp_path, pathways):
    path, msg = load_error(tmp_path, base(pathways=pathways))
    assert_message(msg, path, '"pathways" must be a non-empty list of names')


def test_overlapping_events_on_one_pathway(tmp_path):
    path, msg = load_error(
        tmp_path, base(STET_S1, {"kind": "weak_tetanus", "pathway": "S1", "at": "35 min"})
    )
    assert_message(
        msg, path, "event 2 (weak_tetanus)", "overlaps event 1 (strong_tetanus) on pathway S1"
    )


def test_overlap_when_last_and_first_pulse_coincide(tmp_path):
    path, msg = load_error(
        tmp_path,
        base(WTET_S1, {"kind": "weak_tetanus", "pathway": "S1", "at": "1800.2 s"}),
    )
    assert_message(msg, path, "event 2 (weak_tetanus)", "overlaps event 1 (weak_tetanus)")


def test_same_time_on_different_pathways_is_fine():
    p = protocol_from_dict(base(STET_S1, {**STET_S1, "pathway": "S2"}))
    assert len(p.induction_pulses()["S2"]) == 300


def test_overlapping_drug_windows(tmp_path):
    path, msg = load_error(
        tmp_path,
        base(
            WTET_S1,
            {"kind": "drug", "drug": "anisomycin", "start": "0 min", "stop": "150 min"},
            {"kind": "drug", "drug": "anisomycin", "start": "2 h", "stop": "3 h"},
        ),
    )
    assert_message(
        msg, path, "event 3 (drug)", "anisomycin window 120 min to 180 min overlaps the window 0 min to 150 min", "event 2 (drug)"
    )


def test_unknown_drug(tmp_path):
    path, msg = load_error(tmp_path, base({"kind": "drug", "drug": "aspirin", "start": "0 s",
                                           "stop": "1 h"}))
    assert_message(msg, path, "event 1 (drug)", "unknown drug 'aspirin'", "known drugs: apv, anisomycin, actinomycin_d")


def test_drug_stop_before_start(tmp_path):
    path, msg = load_error(tmp_path, base({"kind": "drug", "drug": "apv", "start": "2 h",
                                           "stop": "1 h"}))
    assert_message(msg, path, "event 1 (drug)", '"stop" (1 h) must be after "start" (2 h)')


def test_pairing_spikes_before_time_zero(tmp_path):
    event = {"kind": "pairing", "pathway": "S1", "at": "5 ms", "dt": "-10 ms"}
    path, msg = load_error(tmp_path, base(event, baseline="0 s"))
    assert_message(msg, path, "event 1 (pairing)", "first somatic spike would be at -5 ms",
                   "before time 0")


def test_only_first_problem_is_reported(tmp_path):
    d = base({**WTET_S1, "at": "30"}, {"kind": "nonsense"})
    path, msg = load_error(tmp_path, d)
    assert msg.count(path) == 1
    assert "event 1 (weak_tetanus)" in msg and "event 2" not in msg
