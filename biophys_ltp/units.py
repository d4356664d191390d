"""Reading and writing physical quantities given as text.

Protocol files and command-line options give physical values as strings
such as ``"30 min"``, ``"100 Hz"``, ``"-65 mV"`` or ``"1 uF/cm**2"``.
:func:`parse_quantity` turns such a string into a :class:`brian2.Quantity`,
checking its dimension, and :func:`format_quantity` writes a quantity back
as a string that :func:`parse_quantity` reads to exactly the same value.

Unit names are looked up in Brian2's unit registry (``brian2.units.allunits``
and ``brian2.units.stdunits``, by attribute name and by display name, e.g.
``msecond``/``ms``, ``mmolar``/``mM``, ``molar``/``M``, ``Mohm``) plus a few
aliases: ``min``/``minute`` (60 s), ``h``/``hour`` (3600 s) and ``L`` (litre).

The unit expression is parsed by a small recursive-descent parser over the
tokens *name*, ``*``, ``/``, ``**`` (or ``^``) followed by an integer,
parentheses and the literal ``1`` (as in ``"0.062 1/mV"``); user text is
never passed to :func:`eval`.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Any

import numpy as np
from brian2 import Quantity, Unit, get_dimensions
from brian2.units import allunits as _allunits
from brian2.units import stdunits as _stdunits
from brian2.units.fundamentalunits import DIMENSIONLESS, Dimension
from .errors import InputError

__all__ = [
    "UnitParseError",
    "parse_quantity",
    "format_quantity",
    "dimension_name",
    "UNIT_REGISTRY",
]


class UnitParseError(InputError):
    """A text value could not be read as a quantity of the expected dimension."""


# ---------------------------------------------------------------------------
# Unit registry: name -> (scale in SI units, Dimension)
# ---------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _build_registry() -> dict[str, tuple[float, Dimension]]:
    registry: dict[str, tuple[float, Dimension]] = {}
    for module in (_allunits, _stdunits):
        for attr in dir(module):
            unit = getattr(module, attr)
            if not isinstance(unit, Unit):
                continue
            entry = (float(unit), get_dimensions(unit))
            for key in (attr, unit.dispname):
                if _IDENT.fullmatch(key) and key not in registry:
                    registry[key] = entry
    second_dim = get_dimensions(_allunits.second)
    aliases = {
        "min": (60.0, second_dim),
        "minute": (60.0, second_dim),
        "h": (3600.0, second_dim),
        "hour": (3600.0, second_dim),
        "L": registry["l"],
    }
    for key, entry in aliases.items():
        registry.setdefault(key, entry)
    return registry


#: All unit names understood by :func:`parse_quantity`.
UNIT_REGISTRY: dict[str, tuple[float, Dimension]] = _build_registry()


# ---------------------------------------------------------------------------
# Dimension names for messages
# ---------------------------------------------------------------------------

def _dim(unit_name: str) -> Dimension:
    return UNIT_REGISTRY[unit_name][1]


# (dimension, article + name, example unit)
_DIMENSION_NAMES: list[tuple[Dimension, str, str]] = [
    (DIMENSIONLESS, "a dimensionless number", ""),
    (_dim("second"), "a time", "ms"),
    (_dim("Hz"), "a frequency", "Hz"),
    (_dim("volt"), "a voltage", "mV"),
    (_dim("amp"), "a current", "pA"),
    (_dim("siemens"), "a conductance", "nS"),
    (_dim("ohm"), "a resistance", "Mohm"),
    (_dim("farad"), "a capacitance", "pF"),
    (_dim("molar"), "a concentration", "mM"),
    (_dim("metre"), "a length", "um"),
    (_dim("metre") ** 2, "an area", "um**2"),
    (_dim("metre") ** -1, "an inverse length", "1/um"),
    (_dim("ohm") * _dim("metre"), "a resistivity", "ohm*cm"),
    (_dim("farad") / _dim("metre") ** 2, "a specific capacitance", "uF/cm**2"),
    (_dim("siemens") / _dim("metre") ** 2, "a conductance density", "mS/cm**2"),
    (_dim("amp") / _dim("metre") ** 2, "a current density", "uA/cm**2"),
    (_dim("volt") ** -1, "an inverse voltage", "1/mV"),
    (_dim("molar") ** -1, "an inverse concentration", "1/mM"),
    (_dim("mole"), "an amount of substance", "mol"),
    (_dim("kelvin"), "a temperature", "kelvin"),
]

# SI base units used when no nicer unit writes a value exactly.
_SI_BASE_NAMES = ("metre", "kilogram", "second", "amp", "kelvin", "mole", "candela")
_SI_BASE_SYMBOLS = ("m", "kg", "s", "A", "K", "mol", "candela")


def _as_dimension(dimension: Any) -> Dimension:
    """Return the :class:`Dimension` of a unit, quantity, dimension or number."""
    if isinstance(dimension, Dimension):
        return dimension
    return get_dimensions(dimension)


def _key(dim: Dimension) -> tuple[float, ...]:
    """Hashable exponents of a dimension (fast to compare)."""
    return tuple(float(x) for x in dim._dims)


def _same_dimension(a: Dimension, b: Dimension) -> bool:
    return a is b or _key(a) == _key(b)


_DIMENSION_LOOKUP: dict[tuple[float, ...], tuple[str, str]] = {}
for _known, _name, _example_text in _DIMENSION_NAMES:
    _DIMENSION_LOOKUP.setdefault(_key(_known), (_name, _example_text))


#: Dimensions written in their conventional unit (the example unit above) wherever that
#: writes the value exactly: Brian2's own choice for them is a power of ten of S/m^2,
#: F/m^2, A/m^2, ohm*m, 1/m or 1/V, which no paper uses.  A zero is written in the
#: example unit of its dimension ("0 mV", "0 um"; a zero time stays "0 s").
_CONVENTIONAL_FIRST = {_key(d) for d in (_dim("farad") / _dim("metre") ** 2,
                                        _dim("siemens") / _dim("metre") ** 2,
                                        _dim("amp") / _dim("metre") ** 2,
                                        _dim("ohm") * _dim("metre"),
                                        _dim("metre") ** -1,
                                        _dim("volt") ** -1)}


def _lookup_dimension(dim: Dimension) -> tuple[str, str] | None:
    return _DIMENSION_LOOKUP.get(_key(dim))


def dimension_name(dimension: Any) -> str:
    """Describe a dimension in words, e.g. ``"a time"`` for ``second``."""
    dim = _as_dimension(dimension)
    found = _lookup_dimension(dim)
    if found is not None:
        return found[0]
    return f"a quantity in {dim}"


def _example_unit(dim: Dimension) -> str:
    found = _lookup_dimension(dim)
    if found is not None:
        return found[1]
    return _si_expression(dim)


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

_NUMBER = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)")
_TOKEN = re.compile(r"\s*(?:(\*\*|\^)|([*/()])|([A-Za-z_][A-Za-z0-9_]*)|(\d+))")
_INT = re.compile(r"\s*([+-]?\d+)")


class _UnitExpressionParser:
    """Recursive-descent parser for unit expressions such as ``uF/cm**2``.

    Grammar::

        expr   := power (('*' | '/') power)*
        power  := atom (('**' | '^') signed_int)?
        atom   := NAME | '1' | '(' expr ')'

    Evaluates to a ``(scale, Dimension)`` pair; raises ``ValueError`` with a
    short reason on malformed input.
    """

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def parse(self) -> tuple[float, Dimension]:
        value = self._expr()
        if self.text[self.pos:].strip():
            raise ValueError(f"unexpected {self.text[self.pos:].strip()!r}")
        return value

    def _peek(self) -> tuple[str, str] | None:
        match = _TOKEN.match(self.text, self.pos)
        if match is None:
            rest = self.text[self.pos:].strip()
            if rest:
                raise ValueError(f"unexpected {rest!r}")
            return None
        power, op, name, integer = match.groups()
        if power:
            return "pow", power
        if op:
            return "op", op
        if name:
            return "name", name
        return "int", integer

    def _advance(self) -> None:
        match = _TOKEN.match(self.text, self.pos)
        assert match is not None
        self.pos = match.end()

    def _expr(self) -> tuple[float, Dimension]:
        scale, dim = self._power()
        while True:
            token = self._peek()
            if token is None or token[0] != "op" or token[1] not in "*/":
                return scale, dim
            self._advance()
            other_scale, other_dim = self._power()
            if token[1] == "*":
                scale, dim = scale * other_scale, dim * other_dim
            else:
                scale, dim = scale / other_scale, dim / other_dim

    def _power(self) -> tuple[float, Dimension]:
        scale, dim = self._atom()
        token = self._peek()
        if token is not None and token[0] == "pow":
            self._advance()
            match = _INT.match(self.text, self.pos)
            if match is None:
                raise ValueError("expected an integer exponent after '**'")
            self.pos = match.end()
            exponent = int(match.group(1))
            scale, dim = scale**exponent, dim**exponent
        return scale, dim

    def _atom(self) -> tuple[float, Dimension]:
        token = self._peek()
        if token is None:
            raise ValueError("unit expression ends too early")
        kind, value = token
        if kind == "name":
            self._advance()
            if value not in UNIT_REGISTRY:
                close = difflib.get_close_matches(value, UNIT_REGISTRY, n=3)
                hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
                raise _UnknownUnit(f"unknown unit {value!r}{hint}")
            return UNIT_REGISTRY[value]
        if kind == "int":
            if value != "1":
                raise ValueError(f"unexpected number {value!r} in the unit")
            self._advance()
            return 1.0, DIMENSIONLESS
        if kind == "op" and value == "(":
            self._advance()
            result = self._expr()
            closing = self._peek()
            if closing != ("op", ")"):
                raise ValueError("missing ')'")
            self._advance()
            return result
        raise ValueError(f"unexpected {value!r}")


class _UnknownUnit(ValueError):
    pass


def _parse_unit_expression(text: str) -> tuple[float, Dimension]:
    return _UnitExpressionParser(text).parse()


def _check_dimension(
    quantity: Quantity, expected: Dimension | None, text: str, what: str
) -> Quantity:
    if expected is None:
        return quantity
    got = get_dimensions(quantity)
    if not _same_dimension(got, expected):
        raise UnitParseError(
            f'"{what}": {text!r} is not {dimension_name(expected)}'
            f" (it is {dimension_name(got)})"
        )
    return quantity


def parse_quantity(
    text: Any, *, dimension: Any = None, what: str = "value"
) -> Quantity:
    """Read a physical quantity from text such as ``"30 min"`` or ``"1 uF/cm**2"``.

    Parameters
    ----------
    text
        A number followed by a unit expression (``"100 Hz"``, ``"-10 ms"``,
        ``"150 ohm*cm"``, ``"0.062 1/mV"``).  A :class:`brian2.Quantity` is
        accepted as is (its dimension is still checked); a plain ``int`` or
        ``float`` is treated like a bare number.
    dimension
        The expected dimension, as a Brian2 unit, quantity or
        :class:`~brian2.units.fundamentalunits.Dimension` (``second``,
        ``Hz``, ``volt``, ...), or ``None`` to accept any dimension.  A bare
        number is only accepted when ``dimension`` is ``None`` or
        dimensionless.
    what
        Name of the value, used in error messages.

    Returns
    -------
    Quantity
        A scalar Brian2 quantity.

    Raises
    ------
    UnitParseError
        If the text is not a number with a known unit, has no unit where one
        is needed, or has the wrong dimension.  The message names ``what``
        and the offending text.
    """
    expected = None if dimension is None else _as_dimension(dimension)

    if isinstance(text, Quantity):
        if np.ndim(text) != 0:
            raise UnitParseError(f'"{what}": expected a single value, got {text!r}')
        if not np.isfinite(float(np.asarray(text))):
            raise UnitParseError(f'"{what}": {text!r} is not a finite number')
        return _check_dimension(text, expected, str(text), what)
    if isinstance(text, bool):
        raise UnitParseError(f'"{what}": expected a number with a unit, got {text!r}')
    if isinstance(text, (int, float, np.integer, np.floating)):
        number, unit_text, shown = float(text), "", repr(text)
    elif isinstance(text, str):
        shown = text
        match = _NUMBER.match(text)
        if match is None:
            raise UnitParseError(
                f'"{what}": {text!r} does not start with a number'
                + _expected_hint(expected, "1")
            )
        number = float(match.group(1))
        # the micro sign and the Greek mu as papers write them ("9 µM")
        unit_text = text[match.end():].strip().replace("\u00b5", "u").replace("\u03bc", "u")
        if unit_text.startswith("/"):  # "100 /s" means "100 1/s"
            unit_text = "1" + unit_text
    else:
        raise UnitParseError(
            f'"{what}": expected a string such as '
            f"'{_example(expected, '1')}', got {type(text).__name__} {text!r}"
        )

    if not math.isfinite(number):
        raise UnitParseError(f'"{what}": {shown!r} is not a finite number')

    if not unit_text:
        if expected is not None and not _same_dimension(expected, DIMENSIONLESS):
            raise UnitParseError(
                f'"{what}": {shown!r} has no unit'
                f" (expected {dimension_name(expected)}, e.g. '{_example(expected, shown)}')"
            )
        return Quantity(number, dim=DIMENSIONLESS)

    try:
        scale, dim = _parse_unit_expression(unit_text)
    except _UnknownUnit as err:
        raise UnitParseError(f'"{what}": {err} in {shown!r}') from None
    except ValueError as err:
        raise UnitParseError(
            f'"{what}": cannot read the unit {unit_text!r} in {shown!r}: {err}'
        ) from None
    if not math.isfinite(number * scale):  # finite as written, but not in SI units
        raise UnitParseError(f'"{what}": {shown!r} is beyond the range of a floating-point number in SI units')
    quantity = Quantity(number * scale, dim=dim)
    return _check_dimension(quantity, expected, shown, what)


def _example(expected: Dimension | None, number_text: str) -> str:
    number_text = number_text.strip()
    if expected is None or _same_dimension(expected, DIMENSIONLESS):
        return number_text
    return f"{number_text} {_example_unit(expected)}"


def _expected_hint(expected: Dimension | None, number_text: str) -> str:
    if expected is None:
        return ""
    return f" (expected {dimension_name(expected)}, e.g. '{_example(expected, number_text)}')"


# ---------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------

def _format_number(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def _si_expression(dim: Dimension, symbols: bool = False) -> str:
    """Write a dimension in SI base units (``"metre * second**-1"`` or ``"m * s**-1"``)."""
    names = _SI_BASE_SYMBOLS if symbols else _SI_BASE_NAMES
    parts = []
    for name, exponent in zip(names, dim._dims):
        if exponent == 0:
            continue
        exponent = int(exponent) if float(exponent).is_integer() else exponent
        parts.append(name if exponent == 1 else f"{name}**{exponent}")
    return " * ".join(parts)


def _candidate_units(value: float, quantity: Quantity) -> list[tuple[list[str], bool]]:
    """Unit expressions to try when writing ``quantity``.

    Returns tiers of candidates, each with whether only its short form (12 significant
    digits) may be used: the dimension's conventional unit first where it has one,
    single named units next, compound SI expressions only as a fall-back.  Within a tier
    the earlier entry wins ties.
    """
    dim = get_dimensions(quantity)
    found = _lookup_dimension(dim)
    if found is not None and found[1] and ((value == 0 and not _same_dimension(dim, _dim("second")))
                                            or _key(dim) in _CONVENTIONAL_FIRST):
        # densities per membrane area and resistivities: the one unit a reader expects
        # ("0.067 mS/cm**2", not "0.67 S/(m^2)"), wherever it writes the value exactly in
        # at most 12 significant digits (else the shortest exact form below)
        return [([found[1]], True)] + [(t, False) for t in _candidate_units_named(value, quantity, dim, None)]
    return [(t, False) for t in _candidate_units_named(value, quantity, dim, found)]


def _candidate_units_named(value: float, quantity: Quantity, dim: Dimension,
                           found: tuple[str, str] | None) -> list[list[str]]:
    named: list[str] = []
    if _same_dimension(dim, _dim("second")):
        # Times: whole hours or minutes, else seconds, else ms/us/ns.
        if abs(value) >= 60.0:
            if value % 3600 == 0:
                named.append("h")
            if value % 60 == 0:
                named.append("min")
        if abs(value) >= 1.0:
            named.append("s")
            return [named]
    try:
        with np.errstate(over="ignore"):  # Brian2 divides by every candidate unit's scale
            named.append(quantity.get_best_unit().dispname)
    except Exception:  # pragma: no cover - defensive: odd dimensions
        pass
    if found is not None and found[1]:
        named.append(found[1])
    named.append(_si_expression(dim, symbols=True))
    named = [text for text in named if " " not in text]
    compound = [_si_expression(dim, symbols=True), _si_expression(dim)]
    return [named, compound]


def format_quantity(quantity: Any) -> str:
    """Write a scalar quantity as text that :func:`parse_quantity` reads back exactly.

    Times are written in ``h`` or ``min`` when they are a whole number of
    hours or minutes, else in ``s`` from one second up, else in ``ms``,
    ``us`` or ``ns``.  Other values use the unit Brian2 would choose for
    display (``"0.5 nS"``, ``"100 Hz"``, ``"-65 mV"``, ``"190 Mohm"``) or a
    conventional unit (``"1 uF/cm**2"``, ``"0.062 1/mV"``), whichever gives
    the shortest number that reads back to exactly the same floating-point
    value; SI base units are the fall-back, which always round-trips.
    Dimensionless values are written as plain numbers.

    Raises ``TypeError`` for arrays and ``ValueError`` for non-finite values.
    """
    if not isinstance(quantity, Quantity):
        if isinstance(quantity, (int, float, np.integer, np.floating)) and not isinstance(
            quantity, bool
        ):
            return _format_number(float(quantity))
        raise TypeError(f"format_quantity needs a scalar quantity, got {quantity!r}")
    if np.ndim(quantity) != 0:
        raise TypeError(f"format_quantity needs a scalar quantity, got {quantity!r}")
    dim = get_dimensions(quantity)
    value = float(np.asarray(quantity))
    if not math.isfinite(value):
        raise ValueError(f"cannot write a non-finite quantity: {quantity!r}")
    if _same_dimension(dim, DIMENSIONLESS):
        return _format_number(value)

    for tier, short_only in _candidate_units(value, quantity):
        best: tuple[int, str] | None = None
        for unit_text in tier:
            try:
                scale, unit_dim = _parse_unit_expression(unit_text)
            except ValueError:
                continue
            if not _same_dimension(unit_dim, dim) or scale == 0:
                continue
            scaled = value / scale
            short = _format_number(float(f"{scaled:.12g}"))
            for number_text in (short,) if short_only else (short, _format_number(scaled)):
                text = f"{number_text} {unit_text}"
                if _roundtrips(text, value, dim):
                    if best is None or len(number_text) < best[0]:
                        best = (len(number_text), text)
                    break
        if best is not None:
            return best[1]
    raise ValueError(f"cannot write {quantity!r} exactly")  # pragma: no cover


def format_approx(quantity: Any, digits: int = 4) -> str:
    """A scalar quantity for a message: in the unit :func:`format_quantity` chooses for it,
    its number rounded to ``digits`` significant digits ("83.33 us", not
    "83.33333333333333 us"); not meant to be read back exactly."""
    number, _, unit = format_quantity(quantity).partition(" ")
    return f"{float(number):.{digits}g}" + (f" {unit}" if unit else "")


def _roundtrips(text: str, value: float, dim: Dimension) -> bool:
    try:
        back = parse_quantity(text)
    except UnitParseError:
        return False
    return _same_dimension(get_dimensions(back), dim) and float(np.asarray(back)) == value


def strip_quotes(text: str) -> str:
    """A value written with quotes around it (``'20 ms'``, as shells and TOML leave them), without them."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text


_SI_BASE = ("metre", "kilogram", "second", "amp", "kelvin", "mole", "candela")


def si_unit_text(dim) -> str:
    """A unit expression for a dimension that Brian2's equation parser always reads (SI
    base units, e.g. ``metre**-2*kilogram**-1*second**3*amp**2``; ``1`` when dimensionless):
    for the declarations of the compiled program's variables."""
    parts = [f"{name}**{int(p) if float(p).is_integer() else p}" for name, p in zip(_SI_BASE, dim._dims) if p]
    return "*".join(parts) if parts else "1"
