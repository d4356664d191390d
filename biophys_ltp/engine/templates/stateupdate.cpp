{#
biophys-ltp's per-element loop for state updates and run_regularly code (replaces Brian2's
stateupdate.cpp; same code, same order).  Two changes let the compiler vectorise the loop:

* ``#pragma GCC ivdep``: an element's code reads and writes only its own entries of the
  group's arrays and reads other groups' (Brian2 runs this loop in parallel under OpenMP for
  the same reason), but with two dozen arrays the compiler does not try to prove it;
* inside the loop, ``exp`` is ``_ltp_exp_v`` (``engine/device.py``): the C library's
  exp, which the compiler replaces by the vector math library's (glibc's libmvec, within
  4 ulp) in a vectorised loop.  ``_ltp_exp`` (a polynomial for small arguments, else the
  scalar exp) has a branch around a call, which no loop can vectorise; it stays in the
  scalar code before the loop.  A group of one element (the cell's gene expression) has no
  loop to vectorise and keeps ``_ltp_exp``.

Brian2's OpenMP pragma is left out: the engine runs each simulation on one thread
(``engine/runner.py`` sets ``openmp_threads`` to 0; runs go in parallel as processes).
#}
{# USES_VARIABLES { N } #}
{# ALLOWS_SCALAR_WRITE #}
{% extends 'common_group.cpp' %}

{% block maincode %}
    //// MAIN CODE ////////////
    // scalar code
    const size_t _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    {# N is a constant in most cases (NeuronGroup, etc.), but a scalar array for
       synapses #}
    const int _N = {{constant_or_scalar('N', variables['N'])}};
    {% set _single = variables['N'].value is defined and variables['N'].value == 1 %}
    {% if not _single %}
    #define _ltp_exp(x) _ltp_exp_v(x)
    {% endif %}
    #pragma GCC ivdep
    for(int _idx=0; _idx<_N; _idx++)
    {
        // vector code
        const size_t _vectorisation_idx = _idx;
        {{vector_code|autoindent}}
    }
    {% if not _single %}
    #undef _ltp_exp
    {% endif %}
{% endblock %}
