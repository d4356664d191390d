"""Voltage-gated variables advanced from rate tables (as NEURON's ``TABLE`` does).

A mechanism's gates (:class:`biophys_ltp.mechanisms.Gate`) follow
``dx/dt = (x_inf(v) - x)/tau_x(v)``.  Once per fine step, before the cable equation is
solved, each gate is advanced by exponential Euler over the step's biological duration
``h = dt*fast`` (``fast``: the engine's warp factor for fast variables, 1 outside
compressed stretches)::

    x <- x_inf(v_half) + (x - x_inf(v_half)) * exp(-h/tau_x(v_half))

where ``v_half = v + h/2 * dv/dt`` is the membrane potential extrapolated to the middle
of the step from the last step's change (``Ic/Cm``).  Rates taken at the middle of the
step make the gates' update second order in ``dt``; taken at its start (as before), a
dendritic Na+ channel that activates within two fine steps lagged the voltage by a step,
and the initial slope of a test EPSP boosted by it moved by 2-3 % between dt = 0.05 ms
and 0.025 ms.

``x_inf``, ``exp(-dt/tau_x)`` and ``1/tau_x`` are evaluated once, in Python, from the
mechanism's own rate expressions and the model's parameters, on a grid of the membrane potential
(``V_MIN`` to ``V_MAX`` in steps of ``V_STEP``), and handed to the compiled program when it
starts (a TimedArray's values, like the protocol), so a parameter change needs no new
build.  The program interpolates linearly between grid points (``exp(-h/tau_x)`` from the
tabulated rate where ``fast`` is not 1): over the grid the
interpolated values differ from the expressions by less than 1e-6 (checked when the
table is built).  Outside the grid the end values hold.  A gate does nothing in
compartments where its ``where`` expression is 0 (the HH channels in spines, the VDCC
outside spine heads).
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import brian2 as b2
import numpy as np

from .. import mechanisms as mech
from ..errors import InputError

if TYPE_CHECKING:
    from ..model import Model

V_MIN = -150.0  # mV
V_MAX = 150.0  # mV
V_STEP = 0.05  # mV
ROWS = int(round((V_MAX - V_MIN) / V_STEP)) + 1
TABLE_NAME = "gate_table"
# largest difference allowed between interpolated and exact table entries
INTERPOLATION_TOLERANCE = 1e-6


def gates(group: str = "neuron") -> list[tuple[mech.Mechanism, mech.Gate]]:
    return [(m, g) for m in mech.mechanisms_for(group) for g in m.gates]


def tabulated(group: str = "neuron") -> list[tuple[mech.Mechanism, mech.Tabulated]]:
    return [(m, t) for m in mech.mechanisms_for(group) for t in m.tabulated]


def _width() -> int:
    """Columns of the table: COLUMNS per gate, then one per tabulated quantity."""
    return COLUMNS * len(gates()) + len(tabulated())


def rate_values(model: "Model", v: b2.Quantity) -> dict[str, b2.Quantity]:
    """Every quantity the gating mechanisms' ``rates`` define, at membrane potentials ``v``."""
    namespace = {name: value for name, value in vars(b2).items() if not name.startswith("_")}
    namespace["exprel"] = b2.DEFAULT_FUNCTIONS["exprel"].pyfunc
    namespace.update({name: p.value for name, p in model.parameters.items()})
    namespace["v"] = v
    for m in mech.mechanisms_for("neuron"):
        for line in textwrap.dedent(m.rates).strip().splitlines():
            name, expr = (part.strip() for part in line.split("=", 1))
            namespace[name] = eval(expr, {"__builtins__": {}}, namespace)  # noqa: S307 (the model's own rate expressions)
    return namespace


COLUMNS = 3  # per gate: x_inf, exp(-dt/tau_x), 1/tau_x (in 1/s)


def _columns(model: "Model", v_mV: np.ndarray) -> np.ndarray:
    values = rate_values(model, v_mV * b2.mV)
    dt = model.dt
    ones = np.ones_like(v_mV)
    cols = []
    for _, g in gates():
        if g.alpha:
            alpha, beta = values[g.alpha], values[g.beta]
            inf = alpha / (alpha + beta)
            rate = alpha + beta
        else:
            inf = values[g.inf]
            rate = 1 / values[g.tau]
        cols += [np.asarray(inf, dtype=float) * ones, np.asarray(np.exp(-dt * rate), dtype=float) * ones,
                 np.asarray(rate * b2.second, dtype=float) * ones]
    for _, t in tabulated():
        cols.append(np.asarray(values[t.expr], dtype=float) * ones)
    return np.column_stack(cols)


def gate_table(model: "Model") -> np.ndarray:
    """The table the compiled program interpolates: one row per grid potential, COLUMNS
    columns per gate.  Raises if linear interpolation on the grid departs from the
    expressions by more than INTERPOLATION_TOLERANCE (relative, for the rates)."""
    v = V_MIN + V_STEP * np.arange(ROWS)
    table = _columns(model, v)
    if not np.all(np.isfinite(table)):
        raise InputError("the Hodgkin-Huxley rates are not finite somewhere between "
                         f"{V_MIN} and {V_MIN + V_STEP * (ROWS - 1)} mV with these parameters (overridden: "
                         f"{dict(model.overrides) or 'none'})")
    mid = _columns(model, v[:-1] + V_STEP / 2)
    scale = np.ones(table.shape[1])
    rates = np.arange(2, COLUMNS * len(gates()), COLUMNS)
    scale[rates] = np.abs(table[:, rates]).max(axis=0)  # rates: relative to their largest value
    err = (np.abs(mid - 0.5 * (table[:-1] + table[1:])) / scale).max()
    if err > INTERPOLATION_TOLERANCE:
        raise InputError(f"the Hodgkin-Huxley rates change too steeply with voltage for their table with these "
                         f"parameters (overridden: {dict(model.overrides) or 'none'}): interpolation error {err:.2g} "
                         f"on a {V_STEP} mV grid exceeds {INTERPOLATION_TOLERANCE:g}")
    return table


def statements() -> str:
    """The run_regularly code run once per step before anything is integrated: the neuron
    mechanisms' ``every_step`` statements, then every gate advanced."""
    # the potential at the middle of this step, extrapolated from the last step's change
    # (v_step: the potential the last step started from; its length was dt*fast_prev)
    lines = ["v_gate = v + 0.5*(v - v_step)*fast/fast_prev", "v_gate_mV = v_gate/mV"]
    lines += [f"{t.name} = table_value(v/mV, {COLUMNS * len(gates()) + j}, {t.where})"
              for j, (_, t) in enumerate(tabulated())]
    lines += [line for m in mech.mechanisms_for("neuron")
              for line in textwrap.dedent(m.every_step).strip().splitlines()]
    for k, (_, g) in enumerate(gates()):
        if g.implicit:
            lines.append(f"d{g.name}_dv = gate_slope(v_gate_mV, {g.name}, {k}, {g.where}, dt*fast/second)/mV")
        lines.append(f"{g.name} = gate_step(v_gate_mV, {g.name}, {k}, {g.where}, dt*fast/second)")
    return "\n".join(lines)


def corrections() -> str:
    """The run_regularly code run once per step after the cable equation is solved: each
    implicit gate takes the value the solver used, at the step's actual midpoint potential."""
    return "\n".join(f"{g.name} = clip({g.name} + d{g.name}_dv*(0.5*(v + v_step) - v_gate), 0, 1)"
                     for _, g in gates() if g.implicit)


def table_timedarray() -> b2.TimedArray:
    """The TimedArray holding the table (values set when the program starts)."""
    return b2.TimedArray(np.zeros((ROWS, _width())), dt=1 * b2.second, name=TABLE_NAME)


def _row(v_mV):
    """Grid row and fraction for potentials v_mV (numpy), as the C++ code computes them."""
    r = np.clip(np.nan_to_num((np.asarray(v_mV, float) - V_MIN) / V_STEP, nan=0.0), 0.0, ROWS - 1.0)
    row = np.minimum(r.astype(int), ROWS - 2)
    return row, r - row


def table_functions(table: b2.TimedArray, dt: b2.Quantity) -> dict[str, b2.Function]:
    """The functions the neuron's per-step code calls, by name:

    * ``gate_step(v_mV, x, k, on, h_s)``: gate ``k`` advanced by a step of ``h_s`` seconds of
      biological time at ``v_mV`` (the tabulated decay where h_s is the fine step ``dt``),
      or ``x`` unchanged where ``on`` is 0;
    * ``table_value(v_mV, col, on)``: column ``col`` at ``v_mV``, or 0 where ``on`` is 0.
    """
    cols = _width()
    dt_s = float(dt / b2.second)
    # one copy of the row lookup and of the gate's interpolated steady state and decay,
    # shared by gate_step and gate_slope (a dependency of both): called with the same
    # arguments in one step's code, the compiler evaluates them once
    row_cpp = f"""
    // the table's row below v_mV (clamped to the grid; NaN -> the first row) and the
    // fraction of the way to the next
    static inline const double* _gate_table_row(const double v_mV, double &f)
    {{
        double r = (v_mV - ({V_MIN!r}))*{1.0 / V_STEP!r};
        if (!(r > 0.0))
            r = 0.0;
        else if (r > {ROWS - 1}.0)
            r = {ROWS - 1}.0;
        int row = (int)r;
        if (row > {ROWS - 2})
            row = {ROWS - 2};
        f = r - row;
        return _namespace{TABLE_NAME}_values + row*{cols};
    }}
    // gate k at v_mV: steady state, and decay over a step of h_s seconds (tabulated for
    // the fine step), with their derivatives against v_mV
    struct _gate_interp {{ double inf, d_inf, decay, d_decay; }};
    static inline _gate_interp _gate_at(const double v_mV, const int k, const double h_s)
    {{
        double f;
        const double* lo = _gate_table_row(v_mV, f) + {COLUMNS}*k;
        const double* hi = lo + {cols};
        _gate_interp g;
        g.inf = lo[0] + f*(hi[0] - lo[0]);
        g.d_inf = (hi[0] - lo[0])*{1.0 / V_STEP!r};
        if (h_s == {dt_s!r})
        {{
            g.decay = lo[1] + f*(hi[1] - lo[1]);
            g.d_decay = (hi[1] - lo[1])*{1.0 / V_STEP!r};
        }}
        else
        {{
            g.decay = exp(-h_s*(lo[2] + f*(hi[2] - lo[2])));
            g.d_decay = -h_s*g.decay*(hi[2] - lo[2])*{1.0 / V_STEP!r};
        }}
        return g;
    }}
    """
    gate_cpp = f"""
    static inline double gate_step(const double v_mV, const double x, const int k, const double on,
                                   const double h_s)
    {{
        if (on == 0.0)
            return x;
        const _gate_interp g = _gate_at(v_mV, k, h_s);
        return g.inf + (x - g.inf)*g.decay;
    }}
    """
    slope_cpp = f"""
    static inline double gate_slope(const double v_mV, const double x, const int k, const double on,
                                    const double h_s)
    {{
        if (on == 0.0)
            return 0.0;
        const _gate_interp g = _gate_at(v_mV, k, h_s);
        return g.d_inf*(1.0 - g.decay) + (x - g.inf)*g.d_decay;
    }}
    """
    value_cpp = f"""
    static inline double table_value(const double v_mV, const int col, const double on)
    {{
        if (on == 0.0)
            return 0.0;
        double f;
        const double* lo = _gate_table_row(v_mV, f) + col;
        return lo[0] + f*(lo[{cols}] - lo[0]);
    }}
    """
    values = table.values  # the numpy target reads the TimedArray's current values

    def gate_at(v_mV, x, k, on, h_s):
        """The arguments broadcast, and gate k's steady state and decay over h_s with their
        derivatives against v_mV (the C++ _gate_at)."""
        v_mV, x, k, on, h_s = np.broadcast_arrays(np.asarray(v_mV, float), np.asarray(x, float),
                                                  np.asarray(k, int), np.asarray(on, float),
                                                  np.asarray(h_s, float))
        row, f = _row(v_mV)
        tab = np.asarray(values)
        lo = lambda c: tab[row, COLUMNS * k + c]  # noqa: E731
        hi = lambda c: tab[row + 1, COLUMNS * k + c]  # noqa: E731
        inf = lo(0) + f * (hi(0) - lo(0))
        d_inf = (hi(0) - lo(0)) / V_STEP
        table_step = h_s == dt_s
        decay = np.where(table_step, lo(1) + f * (hi(1) - lo(1)), np.exp(-h_s * (lo(2) + f * (hi(2) - lo(2)))))
        d_decay = np.where(table_step, (hi(1) - lo(1)) / V_STEP, -h_s * decay * (hi(2) - lo(2)) / V_STEP)
        return x, on, inf, d_inf, decay, d_decay

    def gate_step(v_mV, x, k, on, h_s):
        x, on, inf, _, decay, _ = gate_at(v_mV, x, k, on, h_s)
        return np.where(on == 0, x, inf + (x - inf) * decay)

    def gate_slope(v_mV, x, k, on, h_s):
        x, on, inf, d_inf, decay, d_decay = gate_at(v_mV, x, k, on, h_s)
        return np.where(on == 0, 0.0, d_inf * (1 - decay) + (x - inf) * d_decay)

    def table_value(v_mV, col, on):
        v_mV, col, on = np.broadcast_arrays(np.asarray(v_mV, float), np.asarray(col, int), np.asarray(on, float))
        row, f = _row(v_mV)
        tab = np.asarray(values)
        lo, hi = tab[row, col], tab[row + 1, col]
        return np.where(on == 0, 0.0, lo + f * (hi - lo))

    funcs = {
        "gate_step": b2.Function(gate_step, arg_units=[1, 1, 1, 1, 1], return_unit=1,
                                 arg_types=["float", "float", "integer", "float", "float"],
                                 return_type="float", stateless=True),
        "gate_slope": b2.Function(gate_slope, arg_units=[1, 1, 1, 1, 1], return_unit=1,
                                  arg_types=["float", "float", "integer", "float", "float"],
                                  return_type="float", stateless=True),
        "table_value": b2.Function(table_value, arg_units=[1, 1, 1], return_unit=1,
                                   arg_types=["float", "integer", "float"], return_type="float",
                                   stateless=True),
    }
    # the shared C++ helpers, as a function the others depend on (Brian2 includes it once)
    helpers = b2.Function(lambda v_mV: v_mV, arg_units=[1], return_unit=1, stateless=True)
    helpers.implementations.add_implementation("cpp", row_cpp, name="_gate_table_row",
                                               dependencies={TABLE_NAME: table})
    for name, code in (("gate_step", gate_cpp), ("gate_slope", slope_cpp), ("table_value", value_cpp)):
        funcs[name].implementations.add_implementation("cpp", code, name=name,
                                                       dependencies={TABLE_NAME: table, "_gate_table_row": helpers})
    return funcs
