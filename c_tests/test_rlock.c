/* mp_rlock_t (CPython's multiprocessing.RLock) through the public header: exact counts
 * across processes and threads, recursion, ownership per thread of a process (a fork()ed
 * child never owns its parent's lock), every wrong release, and the timeout rules. */
#include "count_check.h"

static void check_mine(mp_rlock_t *l, bool mine, uint32_t count) {
    bool m = !mine;
    uint32_t c = count + 1;
    CHECK_OK(mp_rlock_is_mine(l, &m));
    CHECK(m == mine);
    CHECK_OK(mp_rlock_count(l, &c));
    CHECK(c == count);
}

/* Critical section with an "inside" flag and a non-atomic increment; every 8th round
 * re-enters the lock (levels 2 and 3) and checks the level on the way. */
static int rlock_counter_worker(void *p) {
    struct count_arg *a = p;
    if (a->gate) mpt_gate_wait(a->gate);
    for (long i = 0; i < a->iters; i++) {
        switch (i % 3) {
        case 0: CHECK_OK(mp_rlock_acquire(a->lock, true, MP_FOREVER)); break;
        case 1: CHECK_OK(mp_rlock_acquire(a->lock, true, 600000)); break;
        default: {
            mp_status st;
            while ((st = mp_rlock_acquire(a->lock, false, 600000)) == MP_TIMEOUT) sched_yield();
            CHECK_OK(st);
        }
        }
        long v = count_enter(a);
        if ((i & 7) == 0) {
            CHECK_OK(mp_rlock_acquire(a->lock, false, 0));
            CHECK_OK(mp_rlock_acquire(a->lock, true, 5));
            check_mine(a->lock, true, 3);
            CHECK_OK(mp_rlock_release(a->lock));
            CHECK_OK(mp_rlock_release(a->lock));
            check_mine(a->lock, true, 1);
        }
        count_leave(a, i, v);
        CHECK_OK(mp_rlock_release(a->lock));
    }
    check_mine(a->lock, false, 0);
    return 0;
}

/* 4 processes x 100k acquire/increment/release. */
TEST(rlock_exact_count_4_processes) {
    mp_rlock_t *l;
    CHECK_OK(mp_rlock_new(&l));
    count_in_processes(l, rlock_counter_worker, 4, 100000);
    check_mine(l, false, 0);
    CHECK_OK(mp_rlock_acquire(l, false, 0)); /* free, and not "owner dead" */
    CHECK_OK(mp_rlock_release(l));
    CHECK_OK(mp_rlock_close(l));
}

/* Ownership is per thread: 2 processes x 3 threads, exact counts, in-place lock. */
TEST(rlock_exact_count_threads_and_processes) {
    mp_rlock_t *l = mpt_shared(4096);
    CHECK_OK(mp_rlock_init(l));
    count_in_threads_and_processes(l, rlock_counter_worker, 25000);
    CHECK_OK(mp_rlock_destroy(l));
}

/* What a thread that does not own the lock sees. */
static void *not_owner_thread(void *p) {
    mp_rlock_t *l = p;
    check_mine(l, false, 0);
    CHECK_ST(mp_rlock_release(l), MP_ENOTOWNER);
    CHECK_ST(mp_rlock_acquire(l, false, 0), MP_TIMEOUT);
    CHECK_ST(mp_rlock_acquire(l, true, 0), MP_TIMEOUT);
    int64_t t0 = mpt_now_ns();
    CHECK_ST(mp_rlock_acquire(l, true, 30), MP_TIMEOUT);
    CHECK_NOT_EARLY(t0, mpt_now_ns(), 30);
    check_mine(l, false, 0);
    return NULL;
}

static int not_owner_process(void *p) {
    not_owner_thread(p);
    return 0;
}

/* 10000 levels: count and is_mine at each level; another thread and another process
 * see count 0, is_mine false, cannot release or acquire it; the last release frees it. */
TEST(rlock_recursion_depth_10000) {
    mp_rlock_t *l;
    CHECK_OK(mp_rlock_new(&l));
    check_mine(l, false, 0);
    for (uint32_t i = 1; i <= 10000; i++) {
        switch (i % 3) {
        case 0: CHECK_OK(mp_rlock_acquire(l, true, MP_FOREVER)); break;
        case 1: CHECK_OK(mp_rlock_acquire(l, false, 0)); break; /* re-entry never waits */
        default: CHECK_OK(mp_rlock_acquire(l, true, 0)); break;
        }
        uint32_t c = 0;
        CHECK_OK(mp_rlock_count(l, &c));
        CHECK(c == i);
    }
    check_mine(l, true, 10000);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, not_owner_thread, l) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    mpt_wait_ok(mpt_fork(not_owner_process, l));
    /* The failed attempts changed nothing. */
    check_mine(l, true, 10000);
    for (uint32_t i = 10000; i >= 1; i--) {
        uint32_t c = 0;
        CHECK_OK(mp_rlock_count(l, &c));
        CHECK(c == i);
        CHECK_OK(mp_rlock_release(l));
    }
    check_mine(l, false, 0);
    CHECK_ST(mp_rlock_release(l), MP_ENOTOWNER);
    /* Now free for another process. */
    CHECK_OK(mp_rlock_acquire(l, false, 0));
    CHECK_OK(mp_rlock_release(l));
    CHECK_OK(mp_rlock_close(l));
}

static void *release_from_thread(void *p) { return (void *)(intptr_t)mp_rlock_release((mp_rlock_t *)p); }

static int release_from_process(void *p) {
    CHECK_ST(mp_rlock_release((mp_rlock_t *)p), MP_ENOTOWNER);
    return 0;
}

/* Every wrong release is MP_ENOTOWNER and changes nothing: when free, one extra time,
 * from a non-owner thread, from another process. */
TEST(rlock_wrong_releases) {
    mp_rlock_t *l;
    CHECK_OK(mp_rlock_new(&l));
    CHECK_ST(mp_rlock_release(l), MP_ENOTOWNER); /* free */
    for (int i = 0; i < 3; i++) CHECK_OK(mp_rlock_acquire(l, true, MP_FOREVER));
    pthread_t t;
    void *ret;
    CHECK(pthread_create(&t, NULL, release_from_thread, l) == 0);
    CHECK(pthread_join(t, &ret) == 0);
    CHECK_ST((mp_status)(intptr_t)ret, MP_ENOTOWNER);
    mpt_wait_ok(mpt_fork(release_from_process, l));
    check_mine(l, true, 3);
    for (int i = 0; i < 3; i++) CHECK_OK(mp_rlock_release(l));
    CHECK_ST(mp_rlock_release(l), MP_ENOTOWNER); /* 4th release after 3 acquires */
    CHECK_ST(mp_rlock_release(l), MP_ENOTOWNER);
    check_mine(l, false, 0);
    /* A thread that held it and released it fully is no longer the owner either. */
    CHECK(pthread_create(&t, NULL, release_from_thread, l) == 0);
    CHECK(pthread_join(t, &ret) == 0);
    CHECK_ST((mp_status)(intptr_t)ret, MP_ENOTOWNER);
    CHECK_OK(mp_rlock_acquire(l, false, 0));
    check_mine(l, true, 1);
    CHECK_OK(mp_rlock_release(l));
    CHECK_OK(mp_rlock_close(l));
}

struct fork_shared { volatile int child_done_trying; };
struct fork_arg { mp_rlock_t *lock; struct fork_shared *s; };

/* A fork()ed child of the owner: not the owner, cannot release, times out acquiring. */
static int child_of_owner(void *p) {
    struct fork_arg *a = p;
    check_mine(a->lock, false, 0);
    CHECK_ST(mp_rlock_release(a->lock), MP_ENOTOWNER);
    CHECK_ST(mp_rlock_acquire(a->lock, false, 0), MP_TIMEOUT);
    CHECK_ST(mp_rlock_acquire(a->lock, true, 0), MP_TIMEOUT);
    int64_t t0 = mpt_now_ns();
    CHECK_ST(mp_rlock_acquire(a->lock, true, 100), MP_TIMEOUT);
    CHECK_NOT_EARLY(t0, mpt_now_ns(), 100);
    check_mine(a->lock, false, 0);
    /* Then wait for the parent to let go: the child gets it normally (not OWNER_DEAD). */
    __atomic_store_n(&a->s->child_done_trying, 1, __ATOMIC_SEQ_CST);
    CHECK_OK(mp_rlock_acquire(a->lock, true, 60000));
    check_mine(a->lock, true, 1);
    CHECK_OK(mp_rlock_acquire(a->lock, true, MP_FOREVER));
    check_mine(a->lock, true, 2);
    CHECK_OK(mp_rlock_release(a->lock));
    CHECK_OK(mp_rlock_release(a->lock));
    check_mine(a->lock, false, 0);
    return 0;
}

/* A fork()ed child never owns its parent's RLock, even though it is a copy of the
 * owning thread; the parent keeps its ownership and level. */
TEST(rlock_forked_child_is_not_owner) {
    mp_rlock_t *l;
    CHECK_OK(mp_rlock_new(&l));
    struct fork_shared *s = mpt_shared(sizeof *s);
    struct fork_arg a = {l, s};
    for (int i = 0; i < 3; i++) CHECK_OK(mp_rlock_acquire(l, true, MP_FOREVER));
    pid_t pid = mpt_fork(child_of_owner, &a);
    MPT_WAIT_UNTIL(__atomic_load_n(&s->child_done_trying, __ATOMIC_SEQ_CST), 30);
    mpt_wait_sleeping(pid, 0);
    check_mine(l, true, 3);
    for (int i = 0; i < 3; i++) CHECK_OK(mp_rlock_release(l));
    mpt_wait_ok(pid);
    check_mine(l, false, 0);
    CHECK_OK(mp_rlock_acquire(l, false, 0)); /* the child released it: free, MP_OK */
    CHECK_OK(mp_rlock_release(l));
    CHECK_OK(mp_rlock_close(l));
}

static int child_takes_free_lock(void *p) {
    mp_rlock_t *l = p;
    CHECK_OK(mp_rlock_acquire(l, false, 0));
    check_mine(l, true, 1);
    CHECK_OK(mp_rlock_release(l));
    check_mine(l, false, 0);
    return 0;
}

/* An RLock the parent used but released is free for a forked child. */
TEST(rlock_forked_child_takes_free_lock) {
    mp_rlock_t *l;
    CHECK_OK(mp_rlock_new(&l));
    CHECK_OK(mp_rlock_acquire(l, true, MP_FOREVER));
    CHECK_OK(mp_rlock_release(l));
    mpt_wait_ok(mpt_fork(child_takes_free_lock, l));
    check_mine(l, false, 0);
    CHECK_OK(mp_rlock_acquire(l, false, 0));
    CHECK_OK(mp_rlock_release(l));
    CHECK_OK(mp_rlock_close(l));
}

struct holder {
    mp_rlock_t *lock;
    int pipe_rd;           /* the holder releases when this gets EOF */
    volatile int holding;
};

static void *hold_until_told(void *p) {
    struct holder *h = p;
    CHECK_OK(mp_rlock_acquire(h->lock, true, MP_FOREVER));
    __atomic_store_n(&h->holding, 1, __ATOMIC_SEQ_CST);
    char c;
    while (read(h->pipe_rd, &c, 1) < 0 && errno == EINTR) {}
    CHECK_OK(mp_rlock_release(h->lock));
    return NULL;
}

/* Held by another thread: block=false ignores the timeout, timeout 0 tries once, timed
 * waits never give up early; the owner itself re-enters at once with any of these. */
TEST(rlock_nonblocking_and_timed) {
    mp_rlock_t *l;
    int64_t el;
    CHECK_OK(mp_rlock_new(&l));
    int fds[2];
    CHECK(pipe(fds) == 0);
    struct holder h = {l, fds[0], 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, hold_until_told, &h) == 0);
    MPT_WAIT_UNTIL(__atomic_load_n(&h.holding, __ATOMIC_SEQ_CST), 30);
    TIMED_ST(el, mp_rlock_acquire(l, false, 60000), MP_TIMEOUT);
    CHECK(el < 30000LL * 1000000);
    TIMED_ST(el, mp_rlock_acquire(l, false, MP_FOREVER), MP_TIMEOUT);
    TIMED_ST(el, mp_rlock_acquire(l, true, 0), MP_TIMEOUT);
    const int64_t timed[] = {1, 2, 10, 55, 120, 260, 1001}; /* 260, 1001: past the RLock's 250 ms back-stop wake-ups */
    for (size_t i = 0; i < sizeof timed / sizeof timed[0]; i++) {
        int64_t t0 = mpt_now_ns();
        CHECK_ST(mp_rlock_acquire(l, true, timed[i]), MP_TIMEOUT);
        CHECK_NOT_EARLY(t0, mpt_now_ns(), timed[i]);
    }
    check_mine(l, false, 0);
    close(fds[1]);
    CHECK(pthread_join(t, NULL) == 0);
    close(fds[0]);
    /* Free: every form takes it; the owner re-enters with every form. */
    const int64_t tos[] = {0, 1, 100, MP_FOREVER, -5, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof tos / sizeof tos[0]; i++) {
        CHECK_OK(mp_rlock_acquire(l, i % 2 == 0, tos[i]));
        check_mine(l, true, (uint32_t)i + 1);
    }
    for (size_t i = 0; i < sizeof tos / sizeof tos[0]; i++) CHECK_OK(mp_rlock_release(l));
    check_mine(l, false, 0);
    CHECK_OK(mp_rlock_close(l));
}

struct rel_arg { mp_rlock_t *lock; pid_t waiter; int levels; };

/* Acquires at `levels`, tells the parent (via the shared word), waits until the parent
 * sleeps on the lock, then releases every level. */
static int hold_then_release(void *p) {
    struct rel_arg *a = p;
    for (int i = 0; i < a->levels; i++) CHECK_OK(mp_rlock_acquire(a->lock, true, MP_FOREVER));
    raise(SIGSTOP); /* the parent resumes us once it saw we hold it */
    mpt_wait_sleeping(a->waiter, 0);
    for (int i = 0; i < a->levels; i++) CHECK_OK(mp_rlock_release(a->lock));
    return 0;
}

/* A timed (and infinite, and huge-timeout) acquire succeeds when the holding process
 * releases in time; the waiter gets level 1 and MP_OK. */
TEST(rlock_timed_acquire_succeeds_on_release) {
    mp_rlock_t *l;
    CHECK_OK(mp_rlock_new(&l));
    const int64_t tos[] = {30000, MP_FOREVER, INT64_MAX};
    for (size_t i = 0; i < sizeof tos / sizeof tos[0]; i++) {
        struct rel_arg a = {l, getpid(), (int)i + 1};
        pid_t pid = mpt_fork(hold_then_release, &a);
        int st;
        CHECK(waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st));
        CHECK_ST(mp_rlock_acquire(l, false, 0), MP_TIMEOUT);
        kill(pid, SIGCONT);
        CHECK_OK(mp_rlock_acquire(l, true, tos[i]));
        check_mine(l, true, 1);
        mpt_wait_ok(pid);
        CHECK_OK(mp_rlock_release(l));
        check_mine(l, false, 0);
    }
    CHECK_OK(mp_rlock_close(l));
}

/* One memfd mapped at two addresses is one RLock (ownership and level included). */
TEST(rlock_same_memory_two_addresses) {
    struct mpt_two_maps m = mpt_map_twice();
    mp_rlock_t *a = m.a, *b = m.b;
    CHECK_OK(mp_rlock_init(a));
    CHECK_OK(mp_rlock_acquire(a, true, MP_FOREVER));
    check_mine(b, true, 1);
    CHECK_OK(mp_rlock_acquire(b, false, 0));
    check_mine(a, true, 2);
    CHECK_OK(mp_rlock_release(a));
    CHECK_OK(mp_rlock_release(b));
    check_mine(a, false, 0);
    CHECK_ST(mp_rlock_release(b), MP_ENOTOWNER);
    /* Used again through the other address. */
    CHECK_OK(mp_rlock_acquire(b, false, 0));
    CHECK_OK(mp_rlock_release(a));
    CHECK_OK(mp_rlock_destroy(a));
    CHECK_ST(mp_rlock_acquire(b, false, 0), MP_EBADOBJ);
    mpt_unmap_twice(&m);
}

/* In-place lifecycle: destroy while held is MP_EBUSY; after destroy MP_EBADOBJ. */
TEST(rlock_in_place_lifecycle) {
    mp_rlock_t *l = mpt_shared(sizeof(mp_rlock_t));
    bool mine;
    uint32_t c;
    CHECK_OK(mp_rlock_init(l));
    CHECK_OK(mp_rlock_acquire(l, false, 0));
    CHECK_OK(mp_rlock_acquire(l, false, 0));
    CHECK_ST(mp_rlock_destroy(l), MP_EBUSY);
    check_mine(l, true, 2);
    CHECK_OK(mp_rlock_release(l));
    CHECK_ST(mp_rlock_destroy(l), MP_EBUSY);
    CHECK_OK(mp_rlock_release(l));
    CHECK_OK(mp_rlock_destroy(l));
    CHECK_ST(mp_rlock_destroy(l), MP_EBADOBJ);
    CHECK_ST(mp_rlock_acquire(l, false, 0), MP_EBADOBJ);
    CHECK_ST(mp_rlock_release(l), MP_EBADOBJ);
    CHECK_ST(mp_rlock_is_mine(l, &mine), MP_EBADOBJ);
    CHECK_ST(mp_rlock_count(l, &c), MP_EBADOBJ);
    CHECK_OK(mp_rlock_init(l));
    check_mine(l, false, 0);
    CHECK_OK(mp_rlock_acquire(l, false, 0));
    CHECK_OK(mp_rlock_release(l));
    CHECK_OK(mp_rlock_destroy(l));
}
