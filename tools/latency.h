/*
 * What the kill-to-recovery latency tools share (and bench/rwlock.c's death rows): a
 * monotonic clock in microseconds, one kill-to-wake-up sample, waiting until a process
 * sleeps in the kernel, and the percentile report.
 * Header-only (static functions): each tool is one C file that includes it.
 */
#ifndef MPSYNC_TOOLS_LATENCY_H
#define MPSYNC_TOOLS_LATENCY_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
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

/* What one kill-to-wake-up sample shares with its two children (in MAP_SHARED memory). */
struct latency_sample {
    volatile int held, waiting;
    volatile double woke_at; /* latency_now_us() when the waiter's acquire returned */
    volatile int owner_dead; /* the waiter was told that the holder had died */
};

/* One sample on `obj`: a forked holder runs hold(obj) (it takes the object) and sleeps;
 * once it holds, a forked waiter runs wake(obj, s), which blocks on the object, sets
 * s->woke_at as its acquire returns and s->owner_dead from the acquire's answer, and
 * releases; 2 ms after the waiter started, the holder is SIGKILLed. Returns the time
 * from the kill to the waiter's wake-up in microseconds, or -1 if the waiter was not
 * told of the death. */
static inline double latency_kill_sample(struct latency_sample *s, void *obj, void (*hold)(void *),
                                         void (*wake)(void *, struct latency_sample *)) {
    s->held = s->waiting = 0;
    s->owner_dead = 0;
    pid_t holder = fork();
    if (holder == 0) {
        hold(obj);
        s->held = 1;
        for (;;) pause();
    }
    while (!s->held) usleep(20);
    pid_t waiter = fork();
    if (waiter == 0) {
        s->waiting = 1;
        wake(obj, s);
        _exit(0);
    }
    while (!s->waiting) usleep(20);
    usleep(2000); /* let the waiter block in the kernel */
    double t0 = latency_now_us();
    kill(holder, SIGKILL);
    waitpid(waiter, NULL, 0);
    waitpid(holder, NULL, 0);
    return s->owner_dead ? s->woke_at - t0 : -1;
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
