/*
 * bench_cond.c — cost of a notify + wake-up round trip between two processes:
 * mp_cond_t (with an mp_lock_t and with an mp_rlock_t) next to a process-shared
 * pthread_cond_t + pthread_mutex_t, in the same run.
 *
 * One round trip: process A sets turn = 1 and notifies, then waits until turn == 0;
 * process B waits until turn == 1, sets turn = 0 and notifies. Both sleep on the
 * condition every time (the other side holds the lock while it notifies), so a round
 * trip is two notify -> futex wake -> re-acquire hand-offs.
 *
 * Build and run (release library):
 *   cargo build --release
 *   cc -O2 -Iinclude examples/bench_cond.c -o target/release/bench_cond \
 *      -Ltarget/release -lmpsync -lpthread -Wl,-rpath,$PWD/target/release
 *   target/release/bench_cond [round_trips_per_batch] [batches]
 * Prints the median (and min/max) over batches of the mean µs per round trip.
 */
#define _GNU_SOURCE
#include "mpsync.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum kind { MP_WITH_LOCK, MP_WITH_RLOCK, PTHREAD };
static const char *names[] = {"mp_cond_t + mp_lock_t", "mp_cond_t + mp_rlock_t",
                              "pthread_cond_t + pthread_mutex_t (pshared)"};

struct shared {
    mp_lock_t lock;
    mp_rlock_t rlock;
    mp_cond_t cond;
    pthread_mutex_t m;
    pthread_cond_t c;
    volatile int turn;
    volatile int stop;
};

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what, int st) {
    fprintf(stderr, "%s failed: %d\n", what, st);
    exit(1);
}

static void lk(struct shared *s, enum kind k) {
    int st = k == MP_WITH_LOCK    ? mp_lock_acquire(&s->lock, true, MP_FOREVER)
             : k == MP_WITH_RLOCK ? mp_rlock_acquire(&s->rlock, true, MP_FOREVER)
                                  : pthread_mutex_lock(&s->m);
    if (st) die("lock", st);
}

static void unlk(struct shared *s, enum kind k) {
    int st = k == MP_WITH_LOCK    ? mp_lock_release(&s->lock)
             : k == MP_WITH_RLOCK ? mp_rlock_release(&s->rlock)
                                  : pthread_mutex_unlock(&s->m);
    if (st) die("unlock", st);
}

static void wait_(struct shared *s, enum kind k) {
    int st = k == MP_WITH_LOCK    ? mp_cond_wait_lock(&s->cond, &s->lock, MP_FOREVER)
             : k == MP_WITH_RLOCK ? mp_cond_wait(&s->cond, &s->rlock, MP_FOREVER)
                                  : pthread_cond_wait(&s->c, &s->m);
    if (st) die("wait", st);
}

static void notify(struct shared *s, enum kind k) {
    int st = k == PTHREAD ? pthread_cond_signal(&s->c) : mp_cond_notify(&s->cond, 1);
    if (st) die("notify", st);
}

/* B: answers until stop. */
static void responder(struct shared *s, enum kind k) {
    lk(s, k);
    for (;;) {
        while (s->turn != 1 && !s->stop) wait_(s, k);
        if (s->stop) break;
        s->turn = 0;
        notify(s, k);
    }
    unlk(s, k);
}

static double batch(struct shared *s, enum kind k, int n) {
    lk(s, k);
    double t0 = now_us();
    for (int i = 0; i < n; i++) {
        s->turn = 1;
        notify(s, k);
        while (s->turn != 0) wait_(s, k);
    }
    double us = (now_us() - t0) / n;
    unlk(s, k);
    return us;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int per = argc > 1 ? atoi(argv[1]) : 2000;
    int batches = argc > 2 ? atoi(argv[2]) : 31;
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) return 1;
    if (mp_lock_init(&s->lock) || mp_rlock_init(&s->rlock) || mp_cond_init(&s->cond)) return 1;
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->m, &ma);
    pthread_cond_init(&s->c, &ca);

    printf("%d round trips per batch, %d batches, %ld CPUs online\n", per, batches,
           sysconf(_SC_NPROCESSORS_ONLN));
    double *res[3];
    for (int k = 0; k < 3; k++) res[k] = calloc((size_t)batches, sizeof(double));
    /* Interleave the kinds batch by batch so that machine noise hits all of them. */
    for (int b = -1; b < batches; b++) {
        for (int k = 0; k < 3; k++) {
            s->turn = 0;
            s->stop = 0;
            pid_t pid = fork();
            if (pid < 0) return 1;
            if (pid == 0) {
                responder(s, (enum kind)k);
                _exit(0);
            }
            double us = batch(s, (enum kind)k, per);
            lk(s, (enum kind)k);
            s->stop = 1;
            if (k == PTHREAD) pthread_cond_broadcast(&s->c);
            else mp_cond_notify_all(&s->cond);
            unlk(s, (enum kind)k);
            waitpid(pid, NULL, 0);
            if (b >= 0) res[k][b] = us; /* batch -1 is a warm-up */
        }
    }
    for (int k = 0; k < 3; k++) {
        qsort(res[k], (size_t)batches, sizeof(double), cmp);
        printf("%-44s median %6.2f us/round trip  (min %6.2f, max %6.2f)\n", names[k],
               res[k][batches / 2], res[k][0], res[k][batches - 1]);
    }
    return 0;
}
