"""Tests for biophys_ltp.units: reading and writing quantities as text."""

import numpy as np
import pytest
from brian2 import (
    Hz,
    kHz,
    Mohm,
    amp,
    cm,
    get_dimensions,
    metre,
    mM,
    ms,
    mV,
    nS,
    ohm,
    pA,
    psiemens,
    second,
    siemens,
    uF,
    uM,
    um,
    volt,
)
from brian2.units.fundamentalunits import DIMENSIONLESS

from biophys_ltp.units import UnitParseError, format_quantity, parse_quantity


@pytest.mark.parametrize(
    "text, expected",
    [
        ("10 h", 36000 * second),
        ("30 min", 1800 * second),
        ("100 Hz", 100 * Hz),
        ("-10 ms", -10 * ms),
        ("0.5 s", 0.5 * second),
        ("0.5 nS", 0.5 * nS),
        ("1 mM", 1 * mM),
        ("2.5 uM", 2.5 * uM),
        ("1 M", 1000 * mM),
        ("-65 mV", -65 * mV),
        ("190 Mohm", 190 * Mohm),
        ("150 ohm*cm", 150 * ohm * cm),
        ("1 uF/cm**2", 1 * uF / cm**2),
        ("0.062 1/mV", 0.062 / mV),
        ("5 um", 5 * um),
        ("10 pA", 10 * pA),
        ("20 pS", 20 * psiemens),
        ("1e-3 s", 1 * ms),
        ("2 hour", 7200 * second),
        ("1 minute", 60 * second),
        ("3 (mV*ms)/ms", 3 * mV),
        ("1 mV^2", 1 * mV**2),
        ("100 /s", 100 * Hz),
        ("  7   ms ", 7 * ms),
    ],
)
def test_parse_values(text, expected):
    q = parse_quantity(text)
    assert get_dimensions(q) == get_dimensions(expected)
    assert float(q) == pytest.approx(float(expected), rel=1e-12)


def test_parse_with_dimension_accepts_matching_units():
    assert parse_quantity("30 min", dimension=second) == 1800 * second
    assert parse_quantity("100 Hz", dimension=Hz) == 100 * Hz
    assert parse_quantity("-65 mV", dimension=volt) == -65 * mV
    # A Dimension object works as well as a unit.
    assert parse_quantity("0.5 nS", dimension=get_dimensions(siemens)) == 0.5 * nS


def test_bare_number_is_dimensionless_without_expected_dimension():
    q = parse_quantity("3")
    assert get_dimensions(q) is DIMENSIONLESS
    assert float(q) == 3.0
    assert float(parse_quantity("3", dimension=1)) == 3.0


def test_missing_unit_message():
    with pytest.raises(UnitParseError) as err:
        parse_quantity("100", dimension=Hz, what="frequency")
    assert str(err.value) == (
        "\"frequency\": '100' has no unit (expected a frequency, e.g. '100 Hz')"
    )


def test_plain_number_counts_as_missing_unit():
    with pytest.raises(UnitParseError, match="has no unit"):
        parse_quantity(30, dimension=second, what="at")


def test_wrong_dimension_message():
    with pytest.raises(UnitParseError) as err:
        parse_quantity("30 Hz", dimension=second, what="at")
    assert str(err.value).startswith("\"at\": '30 Hz' is not a time")
    assert "frequency" in str(err.value)


def test_wrong_dimension_of_quantity_argument():
    assert parse_quantity(5 * ms, dimension=second) == 5 * ms
    with pytest.raises(UnitParseError, match="is not a time"):
        parse_quantity(5 * mV, dimension=second, what="at")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("30 mins", "unknown unit 'mins'"),
        ("abc", "does not start with a number"),
        ("3 ms ms", "cannot read the unit"),
        ("3 (ms", "missing ')'"),
        ("3 ms**x", "integer exponent"),
        ("3 2/ms", "unexpected number"),
        ("", "does not start with a number"),
    ],
)
def test_malformed_text(text, fragment):
    with pytest.raises(UnitParseError) as err:
        parse_quantity(text, what="thing")
    assert fragment in str(err.value)
    assert '"thing"' in str(err.value)


def test_unit_parse_error_is_value_error():
    assert issubclass(UnitParseError, ValueError)


def test_no_eval_of_user_text():
    for text in ("1 __import__('os')", "1 second.__class__", "1 open"):
        with pytest.raises(UnitParseError):
            parse_quantity(text)


@pytest.mark.parametrize(
    "q, text",
    [
        (0.5 * nS, "0.5 nS"),
        (1800 * second, "30 min"),
        (36000 * second, "10 h"),
        (100 * Hz, "100 Hz"),
        (-65 * mV, "-65 mV"),
        (190 * Mohm, "190 Mohm"),
        (-10 * ms, "-10 ms"),
        (0 * second, "0 s"),
        # densities, resistivities and inverse lengths and voltages in the unit papers use
        # (Brian2 would write "0.67 S/(m^2)", "10000 m**-1", "62 V^-1"); zeros likewise
        (parse_quantity("0.067 mS/cm**2"), "0.067 mS/cm**2"),
        (parse_quantity("0 mS/cm**2"), "0 mS/cm**2"),
        (parse_quantity("0.01 1/um"), "0.01 1/um"),
        (parse_quantity("0.062 1/mV"), "0.062 1/mV"),
        (parse_quantity("150 ohm*cm"), "150 ohm*cm"),
        (0 * mV, "0 mV"),
    ],
)
def test_format_quantity_short_forms(q, text):
    assert format_quantity(q) == text
    assert parse_quantity(text) == q


def test_format_quantity_round_trips_exactly():
    rng = np.random.default_rng(1)
    values = rng.standard_normal(80) * 10.0 ** rng.integers(-12, 6, 80)
    units = [second, siemens, volt, amp, ohm * metre, uF / cm**2, 1 / mV, mM, metre / second]
    for value in values:
        for unit in units:
            q = value * unit
            text = format_quantity(q)
            back = parse_quantity(text)
            assert get_dimensions(back) == get_dimensions(q), text
            assert float(back) == float(q), text


def test_format_quantity_rejects_arrays():
    with pytest.raises(TypeError):
        format_quantity(np.array([1.0, 2.0]) * ms)


def test_format_approx_rounds_a_message_number_in_its_unit():
    from biophys_ltp.units import format_approx
    assert format_approx(1 / (12 * kHz)) == "83.33 us"
    assert format_approx(parse_quantity("9 uM")) == "9 uM"
    assert format_approx(0.123456) == "0.1235"
    # a density written exactly needs more digits than 12 in its usual unit: the shortest exact form
    assert format_quantity(729.8 * siemens / metre**2) == "729.8 S/(m^2)"
