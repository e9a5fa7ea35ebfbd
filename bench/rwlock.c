/*
 * mp_rwlock_t against a process-shared pthread_rwlock_t, in the same run (BENCHMARKS.md,
 * "Reader-writer lock"). bench/rwlock.sh builds it and runs every part:
 *
 *   rwlock pairs REPS           uncontended read pair and write pair, ns per pair (best of REPS)
 *   rwlock scale SECONDS        reads/s of 1 thread, and of 2 threads pinned to 2 CPUs
 *   rwlock mix SECONDS          1 writer + 3 readers (threads), ops/s, and the writer's share
 *   rwlock death N              kill -> admission of a blocked writer after a reader, then a
 *                               writer, holding the lock is SIGKILLed (N kills each)
 *   rwlock ir KIND N            N pairs of one KIND only (mp-read, mp-write, pt-read,
 *                               pt-write), for callgrind's instruction counts
 *
 * Timing numbers are never asserted anywhere; ratios are taken within one run.
 */
#define _GNU_SOURCE
#include "mpsync.h"
#include "../tools/latency.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CK(e) do { int r_ = (e); if (r_ != 0) { fprintf(stderr, "%s:%d: %s = %d\n", __FILE__, __LINE__, #e, r_); exit(1); } } while (0)
#define CKA(e) do { int r_ = (e); if (r_ != MP_OK && r_ != MP_OWNER_DEAD) { fprintf(stderr, "%s:%d: %s = %s\n", __FILE__, __LINE__, #e, mp_status_name(r_)); exit(1); } } while (0)

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static void *shared(size_t len) {
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) exit(1);
    return p;
}

static void pin(int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    sched_setaffinity(0, sizeof s, &s);
}

static pthread_rwlock_t *new_pthread_rwlock(int prefer_writer) {
    pthread_rwlock_t *l = shared(sizeof *l);
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (prefer_writer) pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    CK(pthread_rwlock_init(l, &a));
    return l;
}

static mp_rwlock_t *new_mp_rwlock(void) {
    mp_rwlock_t *l = shared(MP_RWLOCK_SIZE);
    CKA(mp_rwlock_init(l));
    return l;
}

enum kind { MP_READ, MP_WRITE, PT_READ, PT_WRITE };
static const char *const KIND_NAME[] = {"mp-read", "mp-write", "pt-read", "pt-write"};

static __attribute__((noinline)) void pairs(enum kind k, void *l, long n) {
    switch (k) {
    case MP_READ:
        for (long i = 0; i < n; i++) { CKA(mp_rwlock_acquire_read(l, true, MP_FOREVER)); CKA(mp_rwlock_release_read(l)); }
        break;
    case MP_WRITE:
        for (long i = 0; i < n; i++) { CKA(mp_rwlock_acquire_write(l, true, MP_FOREVER)); CKA(mp_rwlock_release_write(l)); }
        break;
    case PT_READ:
        for (long i = 0; i < n; i++) { CK(pthread_rwlock_rdlock(l)); CK(pthread_rwlock_unlock(l)); }
        break;
    case PT_WRITE:
        for (long i = 0; i < n; i++) { CK(pthread_rwlock_wrlock(l)); CK(pthread_rwlock_unlock(l)); }
        break;
    }
}

static void *lock_of(enum kind k) {
    return k == MP_READ || k == MP_WRITE ? (void *)new_mp_rwlock() : (void *)new_pthread_rwlock(0);
}

/* Uncontended pairs: best-of-REPS ns per pair, the four kinds interleaved per rep. */
static void cmd_pairs(int reps) {
    const long n = 2000000;
    double best[4] = {1e30, 1e30, 1e30, 1e30};
    void *locks[4];
    for (int k = 0; k < 4; k++) locks[k] = lock_of(k);
    for (int k = 0; k < 4; k++) pairs(k, locks[k], n / 10); /* warm up */
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < 4; k++) {
            double t0 = now_ns();
            pairs(k, locks[k], n);
            double ns = (now_ns() - t0) / n;
            if (ns < best[k]) best[k] = ns;
        }
    printf("pairs\tread\tmp %.2f ns\tpthread %.2f ns\tratio %.2f\n", best[MP_READ], best[PT_READ], best[MP_READ] / best[PT_READ]);
    printf("pairs\twrite\tmp %.2f ns\tpthread %.2f ns\tratio %.2f\n", best[MP_WRITE], best[PT_WRITE], best[MP_WRITE] / best[PT_WRITE]);
}

/* ---- scaling of readers -------------------------------------------------------------- */

struct reader_arg {
    enum kind k;
    void *lock;
    int cpu;
    atomic_int *go, *stop;
    long count;
    double cpu_s; /* the thread's own CPU time while counting */
};

static double thread_cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *reader(void *p) {
    struct reader_arg *a = p;
    pin(a->cpu);
    while (!atomic_load(a->go)) {}
    long c = 0;
    double c0 = thread_cpu_s();
    while (!atomic_load_explicit(a->stop, memory_order_relaxed)) {
        pairs(a->k, a->lock, 256);
        c += 256;
    }
    a->cpu_s = thread_cpu_s() - c0;
    a->count = c;
    return NULL;
}

/* Reads per CPU-second of `threads` reader threads (on CPUs 0..threads-1) for `secs`,
 * summed over the threads: each thread's count over its own CPU time, so that time other
 * work on the machine steals does not count (as section 4b of BENCHMARKS.md). */
static double reads_per_s(enum kind k, void *lock, int threads, double secs) {
    atomic_int go = 0, stop = 0;
    pthread_t t[2];
    struct reader_arg a[2];
    for (int i = 0; i < threads; i++) {
        a[i] = (struct reader_arg){k, lock, i, &go, &stop, 0, 0};
        pthread_create(&t[i], NULL, reader, &a[i]);
    }
    usleep(20000);
    double t0 = now_ns();
    atomic_store(&go, 1);
    usleep((useconds_t)(secs * 1e6));
    atomic_store(&stop, 1);
    (void)t0;
    double rate = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        rate += a[i].count / a[i].cpu_s;
    }
    return rate;
}

static void cmd_scale(double secs) {
    for (int k = MP_READ; k <= PT_READ; k += PT_READ - MP_READ) {
        void *lock = lock_of(k);
        double best1 = 0, best2 = 0;
        for (int r = 0; r < 3; r++) {
            double one = reads_per_s(k, lock, 1, secs), two = reads_per_s(k, lock, 2, secs);
            if (one > best1) best1 = one;
            if (two > best2) best2 = two;
        }
        printf("scale\t%s\t1 thread %.1f M reads/CPU-s\t2 threads %.1f M reads/CPU-s\tratio %.2f\n",
               k == MP_READ ? "mp" : "pthread", best1 / 1e6, best2 / 1e6, best2 / best1);
    }
}

/* ---- 1 writer + 3 readers -------------------------------------------------------------- */

struct mix_arg {
    enum kind k; /* MP_READ / MP_WRITE / PT_READ / PT_WRITE */
    void *lock;
    atomic_int *stop;
    volatile long *data;
    long count;
};

static void *mixer(void *p) {
    struct mix_arg *a = p;
    long c = 0;
    while (!atomic_load_explicit(a->stop, memory_order_relaxed)) {
        switch (a->k) {
        case MP_READ: CKA(mp_rwlock_acquire_read(a->lock, true, MP_FOREVER)); (void)*a->data; CKA(mp_rwlock_release_read(a->lock)); break;
        case MP_WRITE: CKA(mp_rwlock_acquire_write(a->lock, true, MP_FOREVER)); (*a->data)++; CKA(mp_rwlock_release_write(a->lock)); break;
        case PT_READ: CK(pthread_rwlock_rdlock(a->lock)); (void)*a->data; CK(pthread_rwlock_unlock(a->lock)); break;
        case PT_WRITE: CK(pthread_rwlock_wrlock(a->lock)); (*a->data)++; CK(pthread_rwlock_unlock(a->lock)); break;
        }
        c++;
        for (volatile int i = 0; i < 50; i++) {} /* a little work outside */
    }
    a->count = c;
    return NULL;
}

static void mix(const char *label, int mp, void *lock, double secs) {
    atomic_int stop = 0;
    volatile long data = 0;
    pthread_t t[4];
    struct mix_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct mix_arg){mp ? (i == 0 ? MP_WRITE : MP_READ) : (i == 0 ? PT_WRITE : PT_READ), lock, &stop, &data, 0};
        pthread_create(&t[i], NULL, mixer, &a[i]);
    }
    double t0 = now_ns();
    usleep((useconds_t)(secs * 1e6));
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    double el = (now_ns() - t0) / 1e9;
    long reads = a[1].count + a[2].count + a[3].count;
    printf("mix\t%s\t%.2f M ops/s\twrites %.2f M/s\treads %.2f M/s\n", label, (reads + a[0].count) / el / 1e6,
           a[0].count / el / 1e6, reads / el / 1e6);
}

static void cmd_mix(double secs) {
    for (int r = 0; r < 2; r++) {
        mix("mp_rwlock", 1, new_mp_rwlock(), secs);
        mix("pthread_rwlock (default: prefers readers)", 0, new_pthread_rwlock(0), secs);
        mix("pthread_rwlock (PREFER_WRITER_NONRECURSIVE)", 0, new_pthread_rwlock(1), secs);
    }
}

/* ---- kill -> admission of a blocked writer --------------------------------------------- */

struct death {
    mp_rwlock_t rw;
    struct latency_sample sample;
};

static void hold_read(void *rw) { CKA(mp_rwlock_acquire_read(rw, true, MP_FOREVER)); }
static void hold_write(void *rw) { CKA(mp_rwlock_acquire_write(rw, true, MP_FOREVER)); }

/* The blocked writer. */
static void wake_writer(void *rw, struct latency_sample *s) {
    int st = mp_rwlock_acquire_write(rw, true, 30000);
    s->woke_at = latency_now_us();
    mp_rwlock_release_write(rw);
    s->owner_dead = st == MP_OWNER_DEAD;
}

static double one_death(struct death *s, int victim_writes) {
    return latency_kill_sample(&s->sample, &s->rw, victim_writes ? hold_write : hold_read, wake_writer);
}

static void cmd_death(int n) {
    struct death *s = shared(sizeof *s);
    CKA(mp_rwlock_init(&s->rw));
    double *lat = calloc((size_t)n, sizeof *lat);
    for (int victim_writes = 0; victim_writes < 2; victim_writes++) {
        int failures = 0;
        for (int i = 0; i < n; i++) {
            lat[i] = one_death(s, victim_writes);
            if (lat[i] < 0) failures++, lat[i] = 1e9;
        }
        qsort(lat, (size_t)n, sizeof *lat, latency_cmp);
        printf("death\t%s killed\tn=%d\tp50 %.1f us\tp90 %.1f us\tp99 %.1f us\tmax %.1f us\tfailures %d\n",
               victim_writes ? "writer" : "reader", n, lat[n / 2], lat[n * 9 / 10], lat[n * 99 / 100], lat[n - 1], failures);
    }
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "pairs") == 0) cmd_pairs(atoi(argv[2]));
    else if (argc >= 3 && strcmp(argv[1], "scale") == 0) cmd_scale(atof(argv[2]));
    else if (argc >= 3 && strcmp(argv[1], "mix") == 0) cmd_mix(atof(argv[2]));
    else if (argc >= 3 && strcmp(argv[1], "death") == 0) cmd_death(atoi(argv[2]));
    else if (argc >= 4 && strcmp(argv[1], "ir") == 0) {
        for (int k = 0; k < 4; k++)
            if (strcmp(argv[2], KIND_NAME[k]) == 0) {
                void *l = lock_of(k);
                pairs(k, l, atol(argv[3]));
                return 0;
            }
        return 2;
    } else {
        fprintf(stderr, "usage: rwlock pairs REPS | scale SECONDS | mix SECONDS | death N | ir KIND N\n");
        return 2;
    }
    return 0;
}
