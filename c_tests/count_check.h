/*
 * count_check.h — the exact-count checks shared by c_tests/test_lock.c and
 * c_tests/test_rlock.c: processes (and threads in them) increment a shared counter
 * with a deliberately non-atomic read-modify-write under the lock under test, and check
 * on entry and exit that nobody else is inside. Each test file's worker loop acquires
 * and releases in its own ways; the entry/exit checks and the runs are here.
 */
#ifndef COUNT_CHECK_H
#define COUNT_CHECK_H
#include "mpt_util.h"

/* Shared state of the counting tests. */
struct count_shared {
    volatile long counter;   /* non-atomic read-modify-write under the lock */
    volatile int inside;     /* who is inside the critical section (0 = nobody) */
    volatile int violations; /* entrants that found someone else inside */
};

struct count_arg {
    void *lock; /* the lock under test (mp_lock_t or mp_rlock_t) */
    struct count_shared *s;
    int id; /* non-zero */
    long iters;
    struct mpt_gate *gate;   /* NULL: start at once */
    int (*worker)(void *);   /* the counting loop run on each thread (count_in_threads) */
};

/* Entering the critical section (lock held): a violation if someone else is inside;
 * returns the counter, read as the first step of the non-atomic increment. */
static inline long count_enter(struct count_arg *a) {
    if (a->s->inside != 0) a->s->violations++;
    a->s->inside = a->id;
    return a->s->counter;
}

/* Leaving it (round i, `v` from count_enter): writes v + 1, sometimes after a yield so
 * that the holder is preempted inside; a violation if another entrant came in. */
static inline void count_leave(struct count_arg *a, long i, long v) {
    if ((i & 1023) == 0) sched_yield();
    a->s->counter = v + 1;
    if (a->s->inside != a->id) a->s->violations++;
    a->s->inside = 0;
}

static void *count_thread(void *p) {
    struct count_arg *a = p;
    return (void *)(intptr_t)a->worker(p);
}

/* A child process: a->worker on 3 threads, with ids a->id * 10 + 0..2. */
static int count_in_threads(void *p) {
    struct count_arg *a = p;
    pthread_t t[3];
    struct count_arg ta[3];
    for (int i = 0; i < 3; i++) {
        ta[i] = *a;
        ta[i].id = a->id * 10 + i;
        CHECK(pthread_create(&t[i], NULL, count_thread, &ta[i]) == 0);
    }
    for (int i = 0; i < 3; i++) CHECK(pthread_join(t[i], NULL) == 0);
    return 0;
}

/* `nproc` processes (at most 16) run `worker` `iters` times each on `lock`, started
 * together by a gate; CHECKs the exact count and that nobody found another inside. */
static void count_in_processes(void *lock, int (*worker)(void *), int nproc, long iters) {
    struct count_shared *s = mpt_shared(sizeof *s);
    pid_t pids[16];
    struct count_arg args[16];
    struct mpt_gate gate;
    mpt_gate_init(&gate);
    for (int i = 0; i < nproc; i++) {
        args[i] = (struct count_arg){lock, s, i + 1, iters, &gate, worker};
        pids[i] = mpt_fork(worker, &args[i]);
    }
    mpt_gate_open(&gate);
    mpt_wait_all(pids, nproc);
    CHECK(s->violations == 0);
    CHECK(s->counter == (long)nproc * iters);
}

/* 2 processes x 3 threads run `worker` `iters` times each on `lock`: the same checks. */
static void count_in_threads_and_processes(void *lock, int (*worker)(void *), long iters) {
    struct count_shared *s = mpt_shared(sizeof *s);
    struct count_arg a[2] = {{lock, s, 1, iters, NULL, worker}, {lock, s, 2, iters, NULL, worker}};
    pid_t p0 = mpt_fork(count_in_threads, &a[0]);
    pid_t p1 = mpt_fork(count_in_threads, &a[1]);
    mpt_wait_ok(p0);
    mpt_wait_ok(p1);
    CHECK(s->violations == 0);
    CHECK(s->counter == 6L * iters);
}

#endif
