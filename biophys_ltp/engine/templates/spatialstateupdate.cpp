{#
USES_VARIABLES { Cm, dt, v, N, Ic, Ri, area, r_length_1, r_length_2,
                 _starts, _ends, _morph_parent_i, _invr, _invr0, _invrn,
                 _gtot_all, _I0_all, _v_previous, fast }

biophys-ltp's cable solver for Brian2's C++ standalone SpatialNeuron (replaces Brian2's
spatialstateupdate.cpp).  It solves the same backward-Euler system as Brian2's solver, on
the same discretisation:

* compartment i, with its membrane current linearised around its potential at the start of
  the step (Brian2's per-compartment gtot and I0: Im ~ I0 - gtot*v),
      Cm*area/dt*(v_i - v_i_old) = area*(I0_i - gtot_i*v_i) + sum_j G_ij*(v_j - v_i)
  where j runs over its neighbours: the adjacent compartments of its section, with the
  conductance between their centres, and, for the first and last compartment of a section,
  the section's start and end node (centre-to-end conductance r_length/Ri);
* each node (a section's end, where its children start) holds no charge: the currents into
  it sum to zero.  The root section's start is a sealed end (Brian2 attaches every other
  section to the end of its parent, never to the root's start).

The step is dt*fast in biological time: ``fast`` (a shared variable of the neuron, the
engine's warp factor for fast variables, 1 outside compressed stretches) lets the membrane
relax in biological time where the engine compresses quiet stretches; backward Euler stays
stable for any step.  Ic is the capacitive current over that step.

Compartments and nodes form a tree, so the system is solved by one elimination from the
leaves to the root and one substitution back (Hines 1984): sections are visited in reverse
order (a child section always comes after its parent), each section's end node first, then
its compartments from last to first, into the section's start node.  One division per
unknown, no fill-in; what does not change from step to step (capacitances, axial
conductances) is computed once.  Brian2's solver instead solves three tridiagonal systems per section
and a coupling system between sections, with divisions in long serial chains; for a cell
whose sections are mostly single compartments (spine necks and heads) most of its time
went there.  Results agree with Brian2's solver to rounding (tests/test_engine.py).
#}
{% extends 'common_group.cpp' %}

{% block extra_headers %}
#include <vector>
namespace {
    // per compartment: membrane capacitance (F), the sum of its axial conductances (S), and
    // the diagonal and right-hand side of the system being eliminated (1/diagonal once
    // eliminated); per node (0: the root section's start; s + 1: the end of section s):
    // the same
    std::vector<double> _cable_cap, _cable_axial, _cable_diag, _cable_rhs;
    std::vector<double> _node_axial, _node_diag, _node_rhs;
}
{% endblock %}

{% block before_code %}
    const double _Ri = {{Ri}};
    const int _n_sections = _num_starts;
    // conductance between the centres of compartment i - 1 and i of the same section
    // (0 where a section starts)
    for (int _i = 0; _i < N; _i++)
        {{_invr}}[_i] = 0.0;
    for (int _s = 0; _s < _n_sections; _s++)
    {
        const int _first = {{_starts}}[_s];
        const int _end = {{_ends}}[_s];
        for (int _i = _first + 1; _i < _end; _i++)
            {{_invr}}[_i] = 1.0/(_Ri*(1.0/{{r_length_2}}[_i - 1] + 1.0/{{r_length_1}}[_i]));
        // from the first compartment's centre to the section's start, from the last
        // compartment's centre to its end
        {{_invr0}}[_s] = {{r_length_1}}[_first]/_Ri;
        {{_invrn}}[_s] = {{r_length_2}}[_end - 1]/_Ri;
    }
{% endblock %}

{% block maincode %}
    int _vectorisation_idx = 1;

    //// MAIN CODE ////////////
    {{scalar_code|autoindent}}

    // STEP 1: the linearised membrane current of each compartment.  Every compartment's
    // code is independent of the others' and the arrays it writes are not read in it:
    // ivdep lets the compiler vectorise the loop (it gives up on proving that for the
    // two dozen arrays involved)
    #pragma GCC ivdep
    for (int _i = 0; _i < N; _i++)
    {
        const int _idx = _i;
        const int _vectorisation_idx = _idx;

        {{vector_code|autoindent}}
        {{_gtot_all}}[_idx] = _gtot;
        {{_I0_all}}[_idx] = _I0;
        {{_v_previous}}[_idx] = {{v}}[_idx];
    }

    const int _n_sections = _num_starts;
    if ((int)_cable_diag.size() != N)
    {
        // what does not change from step to step
        _cable_cap.assign(N, 0.0);
        _cable_axial.assign(N, 0.0);
        _cable_diag.assign(N, 0.0);
        _cable_rhs.assign(N, 0.0);
        _node_axial.assign(_n_sections + 1, 0.0);
        _node_diag.assign(_n_sections + 1, 0.0);
        _node_rhs.assign(_n_sections + 1, 0.0);
        for (int _i = 0; _i < N; _i++)
        {
            _cable_cap[_i] = {{Cm}}[_i]*{{area}}[_i];
            _cable_axial[_i] = {{_invr}}[_i] + (_i + 1 < N ? {{_invr}}[_i + 1] : 0.0);
        }
        for (int _s = 0; _s < _n_sections; _s++)
        {
            _cable_axial[{{_ends}}[_s] - 1] += {{_invrn}}[_s];
            _node_axial[_s + 1] += {{_invrn}}[_s];
            if (_s > 0)  // the root section's start is sealed
            {
                _cable_axial[{{_starts}}[_s]] += {{_invr0}}[_s];
                _node_axial[{{_morph_parent_i}}[_s]] += {{_invr0}}[_s];
            }
        }
    }
    const double* const _cap = &_cable_cap[0];
    const double* const _axial = &_cable_axial[0];
    double* const _d = &_cable_diag[0];
    double* const _b = &_cable_rhs[0];
    double* const _dn = &_node_diag[0];
    double* const _bn = &_node_rhs[0];
    // one step in biological time
    const double _inv_dt = 1.0/({{dt}}*{{fast}});

    // STEP 2: the system (in currents, not current densities: symmetric)
    for (int _i = 0; _i < N; _i++)
    {
        const double _c = _cap[_i]*_inv_dt;
        _d[_i] = _c + {{_gtot_all}}[_i]*{{area}}[_i] + _axial[_i];
        _b[_i] = _c*{{v}}[_i] + {{_I0_all}}[_i]*{{area}}[_i];
    }
    for (int _k = 0; _k <= _n_sections; _k++)
    {
        _dn[_k] = _node_axial[_k];
        _bn[_k] = 0.0;
    }

    // STEP 3: elimination from the leaves to the root; each eliminated diagonal is
    // replaced by its inverse for the substitution
    for (int _s = _n_sections - 1; _s >= 0; _s--)
    {
        const int _first = {{_starts}}[_s];
        const int _last = {{_ends}}[_s] - 1;
        // the section's end node into its last compartment
        const double _gn = {{_invrn}}[_s];
        const double _inv_n = 1.0/_dn[_s + 1];
        _dn[_s + 1] = _inv_n;
        _d[_last] -= _gn*_gn*_inv_n;
        _b[_last] += _gn*_inv_n*_bn[_s + 1];
        // each compartment into the one before it
        for (int _i = _last; _i > _first; _i--)
        {
            const double _g = {{_invr}}[_i];
            const double _inv = 1.0/_d[_i];
            _d[_i] = _inv;
            _d[_i - 1] -= _g*_g*_inv;
            _b[_i - 1] += _g*_inv*_b[_i];
        }
        // the first compartment into the section's start node
        const double _inv_first = 1.0/_d[_first];
        _d[_first] = _inv_first;
        if (_s > 0)
        {
            const double _g0 = {{_invr0}}[_s];
            const int _k = {{_morph_parent_i}}[_s];
            _dn[_k] -= _g0*_g0*_inv_first;
            _bn[_k] += _g0*_inv_first*_b[_first];
        }
    }

    // STEP 4: substitution from the root to the leaves
    for (int _s = 0; _s < _n_sections; _s++)
    {
        const int _first = {{_starts}}[_s];
        const int _last = {{_ends}}[_s] - 1;
        double _v_here = _b[_first];
        if (_s > 0)
            _v_here += {{_invr0}}[_s]*_bn[{{_morph_parent_i}}[_s]];
        _v_here *= _d[_first];
        {{v}}[_first] = _v_here;
        for (int _i = _first + 1; _i <= _last; _i++)
        {
            _v_here = (_b[_i] + {{_invr}}[_i]*_v_here)*_d[_i];
            {{v}}[_i] = _v_here;
        }
        // the end node's potential, kept in its right-hand side for the children
        _bn[_s + 1] = (_bn[_s + 1] + {{_invrn}}[_s]*_v_here)*_dn[_s + 1];
    }

    for (int _i = 0; _i < N; _i++)
        {{Ic}}[_i] = {{Cm}}[_i]*({{v}}[_i] - {{_v_previous}}[_i])*_inv_dt;
{% endblock %}
