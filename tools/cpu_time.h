/*
 * cpu_time.h — what the tools that time one pinned thread share: the calling thread's
 * CPU time (a descheduled thread's wait does not count) and pinning it to one CPU
 * (so that it keeps its caches and meets one core's load). Header-only, like latency.h.
 */
#ifndef MPSYNC_TOOLS_CPU_TIME_H
#define MPSYNC_TOOLS_CPU_TIME_H

#include <sched.h>
#include <stdio.h>
#include <time.h>

/* The calling thread's CPU time, in nanoseconds. */
static inline double thread_cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Pins the calling thread to `cpu`; says so on stderr (and runs unpinned) if it cannot. */
static inline void pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) perror("sched_setaffinity (not pinned)");
}

#endif
