{#
biophys-ltp's run loop for Brian2's C++ standalone programs (replaces Brian2's network.cpp,
with the interface the rest of the generated program uses: Network::add, run, clear, t and
the static run flags).

The engine builds its network on one clock, so the loop keeps the code objects of each clock
in a plain list and, per step, calls the list of the clock whose time is earliest (with one
clock: every object, in the order added, no lookup).  The processor clock is read only where
a report or a maximum run time needs it; Brian2 2.9's loop reads std::clock() at every step,
a system call here.  ``clock_class`` is the standalone library's clock base class (Clock up
to Brian2 2.9, BaseClock from 2.10).
#}
{% macro cpp_file() %}

#include "network.h"
#include <stdlib.h>
#include <math.h>
#include <ctime>

double Network::_last_run_time = 0.0;
double Network::_last_run_completed_fraction = 0.0;
bool Network::_globally_stopped = false;
bool Network::_globally_running = false;

Network::Network() : t(0.0) {}

void Network::clear()
{
    objects.clear();
}

void Network::add({{ clock_class }} *clock, codeobj_func func)
{
    objects.push_back(std::make_pair(clock, func));
}

namespace {
    // the code objects of one clock, in the order they were added
    struct ClockGroup
    {
        {{ clock_class }} *clock;
        std::vector<codeobj_func> funcs;
    };

    inline double seconds_since(std::clock_t start)
    {
        return (double)(std::clock() - start) / CLOCKS_PER_SEC;
    }
}

void Network::run(const double duration,
                  void (*report_func)(const double, const double, const double, const double),
                  const double report_period)
{
    const std::clock_t start = std::clock();
    const double t_start = t;
    const double t_end = t + duration;

    std::vector<ClockGroup> groups;
    for (size_t i = 0; i < objects.size(); i++)
    {
        size_t g = 0;
        while (g < groups.size() && groups[g].clock != objects[i].first)
            g++;
        if (g == groups.size())
        {
            ClockGroup group;
            group.clock = objects[i].first;
            groups.push_back(group);
            group.clock->set_interval(t_start, t_end);
        }
        if (objects[i].second)
            groups[g].funcs.push_back(objects[i].second);
    }

    {% if maximum_run_time is not none %}
    const double max_run_time = {{ maximum_run_time }};
    {% else %}
    const double max_run_time = -1.0;
    {% endif %}
    const bool watch_time = report_func != NULL || max_run_time >= 0.0;
    double next_report = report_period;
    bool out_of_time = false;
    if (report_func)
        report_func(0.0, 0.0, t_start, duration);

    _globally_running = true;
    _globally_stopped = false;
    {{ clock_class }} *current = NULL;
    while (!_globally_stopped && !groups.empty())
    {
        // the clock due next: one that is still running, with the earliest time; clocks
        // within 1e-14 s of it run in the same step, in the order they were first used
        ClockGroup *first = NULL;
        for (size_t g = 0; g < groups.size(); g++)
            if (groups[g].clock->running() && (first == NULL || groups[g].clock->t[0] < first->clock->t[0]))
                first = &groups[g];
        if (first == NULL)
            break;
        current = first->clock;
        t = current->t[0];
        if (groups.size() == 1)
        {
            const std::vector<codeobj_func> &funcs = first->funcs;
            for (size_t k = 0; k < funcs.size(); k++)
                funcs[k]();
            current->tick();
        }
        else
        {
            std::vector<ClockGroup*> due;
            for (size_t g = 0; g < groups.size(); g++)
                if (groups[g].clock->running() && fabs(groups[g].clock->t[0] - t) <= 1e-14)
                    due.push_back(&groups[g]);
            for (size_t d = 0; d < due.size(); d++)
                for (size_t k = 0; k < due[d]->funcs.size(); k++)
                    due[d]->funcs[k]();
            for (size_t d = 0; d < due.size(); d++)
                due[d]->clock->tick();
        }
        if (watch_time)
        {
            const double elapsed = seconds_since(start);
            if (report_func && elapsed > next_report)
            {
                report_func(elapsed, (current->t[0] - t_start)/duration, t_start, duration);
                next_report += report_period;
            }
            if (max_run_time >= 0.0 && elapsed > max_run_time)
            {
                out_of_time = true;
                break;
            }
        }
    }
    _globally_running = false;

    // where the run ended: the clock's time if it was stopped or ran out of wall time
    t = (out_of_time || _globally_stopped) && current != NULL ? current->t[0] : t_end;
    _last_run_time = seconds_since(start);
    _last_run_completed_fraction = duration > 0 ? (t - t_start)/duration : 1.0;
    if (report_func)
        report_func(_last_run_time, _last_run_completed_fraction, t_start, duration);
}

{% endmacro %}

{% macro h_file() %}

#ifndef _BRIAN_NETWORK_H
#define _BRIAN_NETWORK_H

#include <vector>
#include <utility>
#include "brianlib/clocks.h"

typedef void (*codeobj_func)();

class Network
{
public:
    std::vector< std::pair< {{ clock_class }}*, codeobj_func > > objects;
    double t;
    static double _last_run_time;
    static double _last_run_completed_fraction;
    static bool _globally_stopped;
    static bool _globally_running;

    Network();
    void clear();
    void add({{ clock_class }} *clock, codeobj_func func);
    void run(const double duration,
             void (*report_func)(const double, const double, const double, const double),
             const double report_period);
};

#endif

{% endmacro %}
