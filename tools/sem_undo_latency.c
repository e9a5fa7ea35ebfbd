/*
 * Undo-semaphore admission latency: time from kill(SIGKILL) of the process holding the
 * only unit of an undo semaphore (mp_sem_undo_t) with value 1 to a waiter, blocked in
 * mp_sem_undo_acquire, returning with that unit (MP_OWNER_DEAD), over many kills. Build and run:
 *
 *   cargo build --release
 *   cc -O2 -Iinclude tools/sem_undo_latency.c -Ltarget/release -lmpsync \
 *      -Wl,-rpath,$PWD/target/release -o target/sem_undo_latency && target/sem_undo_latency 1000
 *
 * Set MPSYNC_NO_ROBUST=1 to measure the fallback (the /proc back-stop) instead.
 */
#define _GNU_SOURCE
#include "mpsync.h"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

struct shared {
    mp_sem_undo_t sem;
    volatile int held;
    volatile double woke_at;
    volatile int status;
};

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Waits (up to ~2 s) until `pid` sleeps in futex() or futex_waitv(). */
static void wait_blocked(pid_t pid) {
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

/* One kill; returns the latency in microseconds (or -1 on failure). */
static double one(struct shared *s) {
    mp_sem_undo_t *sem = &s->sem;
    s->held = 0;
    s->status = 0;
    pid_t holder = fork();
    if (holder == 0) {
        if (mp_sem_undo_acquire(sem, true, MP_FOREVER) != MP_OK) _exit(1);
        s->held = 1;
        for (;;) pause();
    }
    while (!s->held) usleep(20);
    pid_t waiter = fork();
    if (waiter == 0) {
        int st = mp_sem_undo_acquire(sem, true, 30000);
        s->woke_at = now_us();
        s->status = st;
        if (st == MP_OK || st == MP_OWNER_DEAD) mp_sem_undo_release(sem);
        _exit(0);
    }
    wait_blocked(waiter);
    usleep(1000);
    double t0 = now_us();
    kill(holder, SIGKILL);
    waitpid(waiter, NULL, 0);
    waitpid(holder, NULL, 0);
    return s->status == MP_OWNER_DEAD ? s->woke_at - t0 : -1;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    if (n < 1) n = 1;
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED || mp_sem_undo_init(&s->sem, 1, 1) != MP_OK) return 2;
    double *lat = calloc(n, sizeof *lat);
    int failures = 0;
    printf("robust mode of this process: %d (0 off, 1 glibc list, 2 own list)\n", mp_robust_mode());
    for (int i = 0; i < n; i++) {
        lat[i] = one(s);
        if (lat[i] < 0) failures++;
    }
    qsort(lat, n, sizeof *lat, cmp);
    printf("undo semaphore kill -> admission n=%d  p50 %8.1f us  p90 %8.1f us  p99 %8.1f us  max %8.1f us\n", n,
           lat[n / 2], lat[n * 9 / 10], lat[n * 99 / 100], lat[n - 1]);
    printf("failures: %d\n", failures);
    return failures != 0;
}
