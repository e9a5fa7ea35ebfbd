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
#include "latency.h"
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

struct shared {
    mp_sem_undo_t sem;
    volatile int held;
    volatile double woke_at;
    volatile int status;
};

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
        s->woke_at = latency_now_us();
        s->status = st;
        if (st == MP_OK || st == MP_OWNER_DEAD) mp_sem_undo_release(sem);
        _exit(0);
    }
    latency_wait_blocked(waiter);
    usleep(1000);
    double t0 = latency_now_us();
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
    latency_report("undo semaphore kill -> admission", lat, n);
    printf("failures: %d\n", failures);
    return failures != 0;
}
