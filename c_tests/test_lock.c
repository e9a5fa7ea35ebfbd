/* mp_lock_t (CPython's multiprocessing.Lock) through the public header: mutual exclusion
 * across fork()ed processes and threads with exact counts, release by anyone, the
 * timeout rules, wake-ups of many sleepers, and objects mapped at two addresses. */
#include "count_check.h"

/* The critical section: checks the "inside" flag on entry and exit, then a
 * deliberately non-atomic increment. Alternates the three ways to acquire. */
static int lock_counter_worker(void *p) {
    struct count_arg *a = p;
    if (a->gate) mpt_gate_wait(a->gate);
    for (long i = 0; i < a->iters; i++) {
        switch (i % 4) {
        case 0: CHECK_OK(mp_lock_acquire(a->lock, true, MP_FOREVER)); break;
        case 1: CHECK_OK(mp_lock_acquire(a->lock, true, 600000)); break;
        case 2: { /* polling with block=false: a timeout here must be ignored */
            mp_status st;
            while ((st = mp_lock_acquire(a->lock, false, 600000)) == MP_TIMEOUT) sched_yield();
            CHECK_OK(st);
            break;
        }
        default: CHECK_OK(mp_lock_acquire(a->lock, true, -7)); break;
        }
        long v = count_enter(a);
        count_leave(a, i, v);
        CHECK_OK(mp_lock_release(a->lock));
    }
    return 0;
}

static void run_count(mp_lock_t *lock, int nproc, long iters) {
    count_in_processes(lock, lock_counter_worker, nproc, iters);
    bool locked = true;
    CHECK_OK(mp_lock_is_locked(lock, &locked));
    CHECK(!locked);
}

/* 4 processes x 100k acquire/increment/release on a lock from mp_lock_new. */
TEST(lock_exact_count_4_processes) {
    mp_lock_t *l;
    CHECK_OK(mp_lock_new(&l));
    run_count(l, 4, 100000);
    CHECK_OK(mp_lock_close(l));
}

/* The same with an in-place lock embedded in the caller's own MAP_SHARED struct. */
TEST(lock_exact_count_in_place) {
    mp_lock_t *l = mpt_shared(4096);
    CHECK_OK(mp_lock_init(l));
    run_count(l, 5, 40000);
    CHECK_OK(mp_lock_destroy(l));
}

/* 2 processes x 3 threads each: a Lock excludes threads of one process too. */
TEST(lock_exact_count_threads_and_processes) {
    mp_lock_t *l;
    CHECK_OK(mp_lock_new(&l));
    count_in_threads_and_processes(l, lock_counter_worker, 30000);
    CHECK_OK(mp_lock_close(l));
}

/* block=false ignores the timeout; timeout 0 tries once; a positive timeout never
 * gives up before it elapsed; a free lock is taken whatever the timeout. */
TEST(lock_nonblocking_and_timed) {
    mp_lock_t *l;
    CHECK_OK(mp_lock_new(&l));
    /* Free lock: taken by every form, even block=false / timeout 0 / negative. */
    const int64_t tos[] = {0, 1, 100, MP_FOREVER, -5, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof tos / sizeof tos[0]; i++) {
        CHECK_OK(mp_lock_acquire(l, true, tos[i]));
        CHECK_OK(mp_lock_release(l));
        CHECK_OK(mp_lock_acquire(l, false, tos[i]));
        CHECK_OK(mp_lock_release(l));
    }
    CHECK_OK(mp_lock_acquire(l, true, MP_FOREVER));
    /* Held: block=false and timeout 0 give up at once, a timeout never early. */
    mpt_check_timeouts_when_unavailable(&(struct mpt_obj){MPT_LOCK, l});
    bool locked = false;
    CHECK_OK(mp_lock_is_locked(l, &locked));
    CHECK(locked);
    CHECK_OK(mp_lock_release(l));
    CHECK_OK(mp_lock_is_locked(l, &locked));
    CHECK(!locked);
    CHECK_OK(mp_lock_close(l));
}

struct holder_arg { mp_lock_t *lock; pid_t waiter; };

/* Holds nothing itself: waits until the waiter sleeps, then releases the waiter's lock. */
static int release_when_waiter_sleeps(void *p) {
    struct holder_arg *h = p;
    mpt_wait_sleeping(h->waiter, 0);
    CHECK_OK(mp_lock_release(h->lock));
    return 0;
}

/* A timed (and an infinite, and a huge-timeout) acquire succeeds when another process
 * releases the lock while it waits. */
TEST(lock_timed_acquire_succeeds_on_release) {
    mp_lock_t *l;
    CHECK_OK(mp_lock_new(&l));
    const int64_t tos[] = {30000, MP_FOREVER, -2, INT64_MAX, 86400000};
    for (size_t i = 0; i < sizeof tos / sizeof tos[0]; i++) {
        CHECK_OK(mp_lock_acquire(l, true, MP_FOREVER));
        struct holder_arg h = {l, getpid()};
        pid_t pid = mpt_fork(release_when_waiter_sleeps, &h);
        CHECK_OK(mp_lock_acquire(l, true, tos[i]));
        mpt_wait_ok(pid);
        bool locked = false;
        CHECK_OK(mp_lock_is_locked(l, &locked));
        CHECK(locked);
        CHECK_OK(mp_lock_release(l));
    }
    CHECK_OK(mp_lock_close(l));
}

static int release_once(void *p) {
    CHECK_OK(mp_lock_release((mp_lock_t *)p));
    /* It was released once: a second release is an over-release. */
    CHECK_ST(mp_lock_release((mp_lock_t *)p), MP_EOVERFLOW);
    return 0;
}

static void *release_thread(void *p) { return (void *)(intptr_t)mp_lock_release((mp_lock_t *)p); }

/* Release rules: unlocked -> MP_EOVERFLOW with nothing changed; another process or
 * another thread may release a held lock (CPython semantics) -> MP_OK. */
TEST(lock_release_rules) {
    mp_lock_t *l;
    bool locked = true;
    CHECK_OK(mp_lock_new(&l));
    CHECK_ST(mp_lock_release(l), MP_EOVERFLOW);
    CHECK_ST(mp_lock_release(l), MP_EOVERFLOW);
    CHECK_OK(mp_lock_is_locked(l, &locked));
    CHECK(!locked);
    /* Over-release left it a normal, binary lock. */
    CHECK_OK(mp_lock_acquire(l, false, 0));
    CHECK_ST(mp_lock_acquire(l, false, 0), MP_TIMEOUT);
    /* Released by another process while we hold it. */
    mpt_wait_ok(mpt_fork(release_once, l));
    CHECK_OK(mp_lock_is_locked(l, &locked));
    CHECK(!locked);
    CHECK_ST(mp_lock_release(l), MP_EOVERFLOW);
    /* Released by another thread. */
    CHECK_OK(mp_lock_acquire(l, true, MP_FOREVER));
    pthread_t t;
    void *ret;
    CHECK(pthread_create(&t, NULL, release_thread, l) == 0);
    CHECK(pthread_join(t, &ret) == 0);
    CHECK_ST((mp_status)(intptr_t)ret, MP_OK);
    CHECK_ST(mp_lock_release(l), MP_EOVERFLOW);
    CHECK_OK(mp_lock_close(l));
}

struct waiter_shared { volatile int done; };
struct waiter_arg { mp_lock_t *lock; struct waiter_shared *s; };

static int acquire_then_release(void *p) {
    struct waiter_arg *a = p;
    CHECK_OK(mp_lock_acquire(a->lock, true, MP_FOREVER));
    __atomic_add_fetch(&a->s->done, 1, __ATOMIC_SEQ_CST);
    CHECK_OK(mp_lock_release(a->lock));
    return 0;
}

/* Six processes asleep on a held lock: one release lets all of them through in turn
 * (each one's release wakes the next; no lost wake-up). */
TEST(lock_many_sleepers_all_get_through) {
    mp_lock_t *l;
    CHECK_OK(mp_lock_new(&l));
    struct waiter_shared *s = mpt_shared(sizeof *s);
    struct waiter_arg a = {l, s};
    pid_t pids[6];
    CHECK_OK(mp_lock_acquire(l, true, MP_FOREVER));
    for (int i = 0; i < 6; i++) pids[i] = mpt_fork(acquire_then_release, &a);
    for (int i = 0; i < 6; i++) mpt_wait_sleeping(pids[i], 0);
    CHECK(s->done == 0);
    CHECK_OK(mp_lock_release(l));
    mpt_wait_all(pids, 6);
    CHECK(s->done == 6);
    bool locked = true;
    CHECK_OK(mp_lock_is_locked(l, &locked));
    CHECK(!locked);
    CHECK_OK(mp_lock_close(l));
}

/* The lock holds no pointers: one memfd mapped at two addresses is one lock. */
TEST(lock_same_memory_two_addresses) {
    struct mpt_two_maps m = mpt_map_twice();
    mp_lock_t *a = m.a, *b = m.b;
    CHECK_OK(mp_lock_init(a));
    CHECK_OK(mp_lock_acquire(a, true, MP_FOREVER));
    bool locked = false;
    CHECK_OK(mp_lock_is_locked(b, &locked));
    CHECK(locked);
    CHECK_ST(mp_lock_acquire(b, false, 0), MP_TIMEOUT);
    CHECK_OK(mp_lock_release(b));
    CHECK_ST(mp_lock_release(a), MP_EOVERFLOW);
    CHECK_OK(mp_lock_destroy(b));
    CHECK_ST(mp_lock_acquire(a, false, 0), MP_EBADOBJ);
    mpt_unmap_twice(&m);
}

/* In-place lifecycle: destroy while held is MP_EBUSY (and changes nothing); after
 * destroy every call is MP_EBADOBJ; init again makes a fresh, unlocked lock. */
TEST(lock_in_place_lifecycle) {
    mp_lock_t *l = mpt_shared(sizeof(mp_lock_t));
    bool locked;
    CHECK_OK(mp_lock_init(l));
    CHECK_OK(mp_lock_acquire(l, false, 0));
    CHECK_ST(mp_lock_destroy(l), MP_EBUSY);
    CHECK_OK(mp_lock_is_locked(l, &locked));
    CHECK(locked);
    CHECK_OK(mp_lock_release(l));
    CHECK_OK(mp_lock_destroy(l));
    CHECK_ST(mp_lock_destroy(l), MP_EBADOBJ);
    CHECK_ST(mp_lock_acquire(l, false, 0), MP_EBADOBJ);
    CHECK_ST(mp_lock_release(l), MP_EBADOBJ);
    CHECK_ST(mp_lock_is_locked(l, &locked), MP_EBADOBJ);
    CHECK_OK(mp_lock_init(l));
    CHECK_OK(mp_lock_is_locked(l, &locked));
    CHECK(!locked);
    CHECK_OK(mp_lock_acquire(l, false, 0));
    CHECK_OK(mp_lock_release(l));
    CHECK_OK(mp_lock_destroy(l));
}

static int child_uses_inherited(void *p) {
    mp_lock_t *l = p;
    /* The parent holds it: the child sees that, and may release it. */
    bool locked = false;
    CHECK_OK(mp_lock_is_locked(l, &locked));
    CHECK(locked);
    CHECK_ST(mp_lock_acquire(l, true, 20), MP_TIMEOUT);
    CHECK_OK(mp_lock_release(l));
    CHECK_OK(mp_lock_acquire(l, false, 0));
    /* close in the child unmaps the child's copy only */
    CHECK_OK(mp_lock_close(l));
    return 0;
}

/* mp_lock_new is inherited by fork(); closing in the child leaves the parent's lock. */
TEST(lock_inherited_by_fork) {
    mp_lock_t *l;
    CHECK_OK(mp_lock_new(&l));
    CHECK_OK(mp_lock_acquire(l, false, 0));
    mpt_wait_ok(mpt_fork(child_uses_inherited, l));
    bool locked = false;
    CHECK_OK(mp_lock_is_locked(l, &locked));
    CHECK(locked); /* the child re-acquired it */
    CHECK_OK(mp_lock_release(l));
    CHECK_OK(mp_lock_close(l));
}

static void *new_close_loop(void *p) {
    (void)p;
    for (int i = 0; i < 500; i++) {
        mp_lock_t *l;
        CHECK_OK(mp_lock_new(&l));
        CHECK_OK(mp_lock_acquire(l, false, 0));
        CHECK_ST(mp_lock_acquire(l, false, 0), MP_TIMEOUT);
        CHECK_OK(mp_lock_release(l));
        CHECK_OK(mp_lock_close(l));
    }
    return NULL;
}

/* mp_lock_new / mp_lock_close from 4 threads at once: every object is distinct and
 * every close finds its own mapping. */
TEST(lock_new_and_close_from_threads) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, new_close_loop, NULL) == 0);
    for (int i = 0; i < 4; i++) CHECK(pthread_join(t[i], NULL) == 0);
}
