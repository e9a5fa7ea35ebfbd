/*
 * Owner-death latency: time from kill(SIGKILL) of an RLock holder to a blocked waiter
 * returning with MP_OWNER_DEAD, over many kills; and, for reference, the same for a
 * glibc robust pthread_mutex_t (EOWNERDEAD). Build and run:
 *
 *   cargo build --release
 *   cc -O2 -Iinclude tools/death_latency.c -Ltarget/release -lmpsync \
 *      -Wl,-rpath,$PWD/target/release -lpthread -o target/death_latency && target/death_latency 1000
 *
 * Set MPSYNC_NO_ROBUST=1 to measure the fallback (liveness back-stop) instead.
 */
#define _GNU_SOURCE
#include "mpsync.h"
#include "latency.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
    mp_rlock_t lock;
    pthread_mutex_t mutex;
    struct latency_sample sample;
};

static void rlock_hold(void *l) { mp_rlock_acquire(l, true, MP_FOREVER); }

static void rlock_wake(void *l, struct latency_sample *s) {
    mp_status st = mp_rlock_acquire(l, true, 30000);
    s->woke_at = latency_now_us();
    mp_rlock_release(l);
    s->owner_dead = st == MP_OWNER_DEAD;
}

static void mutex_hold(void *m) { pthread_mutex_lock(m); }

static void mutex_wake(void *m, struct latency_sample *s) {
    int st = pthread_mutex_lock(m);
    pthread_mutex_consistent(m);
    s->woke_at = latency_now_us();
    pthread_mutex_unlock(m);
    s->owner_dead = st == EOWNERDEAD;
}

/* One kill; returns the latency in microseconds (or -1 on failure). */
static double one(struct shared *s, int use_pthread) {
    if (use_pthread) return latency_kill_sample(&s->sample, &s->mutex, mutex_hold, mutex_wake);
    return latency_kill_sample(&s->sample, &s->lock, rlock_hold, rlock_wake);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    mp_rlock_init(&s->lock);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&s->mutex, &a);
    double *lat = calloc(n, sizeof *lat), *ref = calloc(n, sizeof *ref);
    int failures = 0;
    printf("robust mode of this process: %d (0 off, 1 glibc list, 2 own list)\n", mp_robust_mode());
    for (int i = 0; i < n; i++) {
        lat[i] = one(s, 0);
        ref[i] = one(s, 1);
        if (lat[i] < 0 || ref[i] < 0) failures++;
    }
    latency_report("mp_rlock  kill -> MP_OWNER_DEAD", lat, n);
    latency_report("pthread robust kill -> EOWNERDEAD", ref, n);
    printf("failures: %d\n", failures);
    return failures != 0;
}
