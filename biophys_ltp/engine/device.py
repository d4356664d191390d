"""Brian2's C++ standalone device with this package's code object templates.

``biophys_ltp/engine/templates/`` holds templates that replace Brian2's own of the same name
(Brian2 looks there first and falls back on its own for every other template).  Each
template says at its top what it changes and why.  Only :mod:`biophys_ltp.engine` sets
this device.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
from brian2.core.functions import DEFAULT_FUNCTIONS
from brian2.devices.device import all_devices

DEVICE_NAME = "biophys_ltp_standalone"
TEMPLATES = Path(__file__).resolve().parent / "templates"


def _clock_class() -> str:
    """The C++ clock base class of this Brian2's standalone library (BaseClock from 2.10 on)."""
    import brian2
    major, minor = (int(x) for x in brian2.__version__.split(".")[:2])
    return "BaseClock" if (major, minor) >= (2, 10) else "Clock"


class LTPCodeObject(CPPStandaloneCodeObject):
    """Brian2's standalone code object, templates looked up here first."""

    templater = CPPStandaloneCodeObject.templater.derive(
        "biophys_ltp.engine", templates_dir="templates", env_globals={"clock_class": _clock_class()})


class LTPStandaloneDevice(CPPStandaloneDevice):
    """Brian2's C++ standalone device generating code with :class:`LTPCodeObject`."""

    def code_object_class(self, codeobj_class=None, fallback_pref=None):
        if codeobj_class is None or codeobj_class is CPPStandaloneCodeObject:
            return LTPCodeObject
        return codeobj_class


def templates_digest() -> str:
    """A digest of the templates (part of the compiled program's build key)."""
    h = hashlib.sha256()
    for f in sorted(TEMPLATES.glob("*.cpp")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


# exp() in the generated code: most arguments are a rate times one fine step (exponential
# Euler factors), far below 5e-3 in magnitude, where a degree-6 Taylor polynomial is exact to
# rounding (truncation below 2e-20 relative) and several times cheaper than the C library's
# exp(), which takes every other argument.
_EXP_CPP = """
static inline double _ltp_exp(const double x)
{
    if (fabs(x) < 5e-3)
    {
        // Estrin's scheme: the terms in pairs, four dependent multiply-adds instead of seven
        const double x2 = x*x;
        return (1.0 + x) + x2*((0.5 + x*(1.0/6.0)) + x2*((1.0/24.0 + x*(1.0/120.0)) + x2*(1.0/720.0)));
    }
    return exp(x);
}
// exp() in the per-element loops (templates/stateupdate.cpp): no branch, so a loop can be
// vectorised.  With GCC on x86-64 and glibc 2.22 or later (the first with libmvec) the C
// library's exp is declared to have vector versions (libmvec, within 4 ulp; the compiler
// picks them in vectorised loops; glibc declares them itself only under
// -ffinite-math-only, which Brian2's flags turn off).  Elsewhere the loops are not
// vectorised and keep _ltp_exp, with its fast path.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 22))
extern "C" __attribute__((__simd__("notinbranch"), __const__)) double exp(double) __THROW;
static inline double _ltp_exp_v(const double x)
{
    return exp(x);
}
#else
static inline double _ltp_exp_v(const double x)
{
    return _ltp_exp(x);
}
#endif
"""
DEFAULT_FUNCTIONS["exp"].implementations.add_implementation(LTPCodeObject, code=_EXP_CPP, name="_ltp_exp")

# clip() without branches (Brian2's returns from inside two ifs, which stops a loop from being
# vectorised); the same value for every input, NaN included
_CLIP_CPP = """
template <typename T>
static inline T _clip(const T value, const double a_min, const double a_max)
{
    const T above = value < a_min ? a_min : value;
    return above > a_max ? a_max : above;
}
"""
DEFAULT_FUNCTIONS["clip"].implementations.add_implementation(LTPCodeObject, code=_CLIP_CPP, name="_clip")

if DEVICE_NAME not in all_devices:
    all_devices[DEVICE_NAME] = LTPStandaloneDevice()
