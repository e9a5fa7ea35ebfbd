/*
 * What the kill-to-recovery latency tools share: a monotonic clock in microseconds,
 * waiting until a process sleeps in the kernel, and the percentile report.
 * Header-only (static functions): each tool is one C file that includes it.
 */
#ifndef MPSYNC_TOOLS_LATENCY_H
#define MPSYNC_TOOLS_LATENCY_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

/* CLOCK_MONOTONIC in microseconds. */
static inline double latency_now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* Waits (up to ~2 s) until `pid` sleeps in futex() or futex_waitv(), read from
 * /proc/PID/syscall; returns at once where that file cannot be read. */
static inline void latency_wait_blocked(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    for (int i = 0; i < 2000; i++) {
        char buf[32] = {0};
        int fd = open(path, O_RDONLY);
        if (fd < 0) return;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        long nr = n > 0 ? atol(buf) : -1;
        if (nr == SYS_futex || nr == SYS_futex_waitv) return;
        usleep(1000);
    }
}

static inline int latency_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts the `n` latencies in `v` (microseconds) and prints their percentiles. */
static inline void latency_report(const char *what, double *v, int n) {
    if (n <= 0) {
        printf("%-34s no samples\n", what);
        return;
    }
    qsort(v, (size_t)n, sizeof *v, latency_cmp);
    printf("%-34s n=%d  p50 %8.1f us  p90 %8.1f us  p99 %8.1f us  max %8.1f us\n", what, n, v[n / 2],
           v[n * 9 / 10], v[n * 99 / 100], v[n - 1]);
}

#endif
