{# biophys-ltp: Brian2's standalone run loop (templates/network.cpp of Brian2) with a fast path
   for a network on a single clock, which is what biophys_ltp.engine builds: the objects are
   called in order without a clock lookup per object and step, and the processor clock is
   read only when a report or a maximum run time asks for it (Brian2 2.9 reads std::clock()
   every step, a system call here).  Several clocks take Brian2's general loop. #}
{% macro cpp_file() %}

#include "network.h"
#include<stdlib.h>
#include<iostream>
#include <ctime>
#include<utility>

{{ openmp_pragma('include') }}

#define Clock_epsilon 1e-14

double Network::_last_run_time = 0.0;
double Network::_last_run_completed_fraction = 0.0;
bool Network::_globally_stopped = false;
bool Network::_globally_running = false;

Network::Network()
{
    t = 0.0;
}

void Network::clear()
{
    objects.clear();
}

void Network::add(Clock* clock, codeobj_func func)
{
    objects.push_back(std::make_pair(clock, func));
}

static double _ltp_cpu_seconds(std::clock_t start)
{
    return (double)(std::clock() - start) / CLOCKS_PER_SEC;
}

void Network::run(const double duration, void (*report_func)(const double, const double, const double, const double), const double report_period)
{
    std::clock_t start = std::clock();
    const double t_start = t;
    const double t_end = t + duration;
    double next_report_time = report_period;
    compute_clocks();
    for(std::set<Clock*>::iterator i=clocks.begin(); i!=clocks.end(); i++)
        (*i)->set_interval(t, t_end);
    if (report_func)
        report_func(0.0, 0.0, t_start, duration);

    {% if maximum_run_time is not none %}
    const bool check_time = true;
    {% else %}
    const bool check_time = report_func != NULL;
    {% endif %}
    bool did_break_early = false;
    Network::_globally_running = true;
    Network::_globally_stopped = false;
    Clock* clock = NULL;

    if (clocks.size() == 1)
    {
        // one clock: every object runs at every step, in the order added
        clock = *clocks.begin();
        std::vector<codeobj_func> funcs;
        for(size_t i=0; i<objects.size(); i++)
            if (objects[i].second)
                funcs.push_back(objects[i].second);
        const size_t n_funcs = funcs.size();
        codeobj_func* const f = funcs.empty() ? NULL : &funcs[0];
        while(clock->running() && !Network::_globally_stopped)
        {
            t = clock->t[0];
            for(size_t i=0; i<n_funcs; i++)
                f[i]();
            clock->tick();
            if (check_time)
            {
                const double elapsed = _ltp_cpu_seconds(start);
                if (report_func && elapsed > next_report_time)
                {
                    report_func(elapsed, (clock->t[0]-t_start)/duration, t_start, duration);
                    next_report_time += report_period;
                }
                {% if maximum_run_time is not none %}
                if (elapsed > {{maximum_run_time}})
                {
                    did_break_early = true;
                    break;
                }
                {% endif %}
            }
        }
    }
    else
    {
        clock = next_clocks();
        while(clock && clock->running() && !Network::_globally_stopped)
        {
            t = clock->t[0];
            for(size_t i=0; i<objects.size(); i++)
            {
                Clock *obj_clock = objects[i].first;
                if (curclocks.find(obj_clock) != curclocks.end())
                {
                    codeobj_func func = objects[i].second;
                    if (func)
                        func();
                }
            }
            for(std::set<Clock*>::iterator i=curclocks.begin(); i!=curclocks.end(); i++)
                (*i)->tick();
            clock = next_clocks();
            if (check_time)
            {
                const double elapsed = _ltp_cpu_seconds(start);
                if (report_func && elapsed > next_report_time)
                {
                    report_func(elapsed, (clock->t[0]-t_start)/duration, t_start, duration);
                    next_report_time += report_period;
                }
                {% if maximum_run_time is not none %}
                if (elapsed > {{maximum_run_time}})
                {
                    did_break_early = true;
                    break;
                }
                {% endif %}
            }
        }
    }
    Network::_globally_running = false;
    const double elapsed_realtime = _ltp_cpu_seconds(start);

    if(!did_break_early && !Network::_globally_stopped)
        t = t_end;
    else
        t = clock->t[0];

    _last_run_time = elapsed_realtime;
    if(duration>0)
        _last_run_completed_fraction = (t-t_start)/duration;
    else
        _last_run_completed_fraction = 1.0;
    if (report_func)
        report_func(elapsed_realtime, _last_run_completed_fraction, t_start, duration);
}

void Network::compute_clocks()
{
    clocks.clear();
    for(size_t i=0; i<objects.size(); i++)
        clocks.insert(objects[i].first);
}

Clock* Network::next_clocks()
{
    if (clocks.empty())
        return NULL;
    Clock *minclock = *clocks.begin();
    for(std::set<Clock*>::iterator i=clocks.begin(); i!=clocks.end(); i++)
        if((*i)->t[0]<minclock->t[0])
            minclock = *i;
    curclocks.clear();
    double t = minclock->t[0];
    for(std::set<Clock*>::iterator i=clocks.begin(); i!=clocks.end(); i++)
    {
        double s = (*i)->t[0];
        if(s==t || fabs(s-t)<=Clock_epsilon)
            curclocks.insert(*i);
    }
    return minclock;
}

{% endmacro %}

{% macro h_file() %}

#ifndef _BRIAN_NETWORK_H
#define _BRIAN_NETWORK_H

#include<vector>
#include<utility>
#include<set>
#include "brianlib/clocks.h"

typedef void (*codeobj_func)();

class Network
{
    std::set<Clock*> clocks, curclocks;
    void compute_clocks();
    Clock* next_clocks();
public:
    std::vector< std::pair< Clock*, codeobj_func > > objects;
    double t;
    static double _last_run_time;
    static double _last_run_completed_fraction;
    static bool _globally_stopped;
    static bool _globally_running;

    Network();
    void clear();
    void add(Clock *clock, codeobj_func func);
    void run(const double duration, void (*report_func)(const double, const double, const double, const double), const double report_period);
};

#endif

{% endmacro %}
