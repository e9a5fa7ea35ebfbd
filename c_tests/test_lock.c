/* mp_lock_t (CPython's multiprocessing.Lock) through the public header: mutual exclusion
 * across fork()ed processes and threads with exact counts, release by anyone, the
 * timeout rules, wake-ups of many sleepers, and objects mapped at two addresses. */
#include "mpt_util.h"

/* Shared state of the counting tests. */
struct count_shared {
    volatile long counter;   /* non-atomic read-modify-write under the lock */
    volatile int inside;     /* who is inside the critical section (0 = nobody) */
    volatile int violations; /* entrants that found someone else inside */
};

struct count_arg {
    mp_lock_t *lock;
    struct count_shared *s;
    int id;     /* non-zero */
    long iters;
    struct mpt_gate *gate; /* NULL: start at once */
};

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
        if (a->s->inside != 0) a->s->violations++;
        a->s->inside = a->id;
        long v = a->s->counter;
        if ((i & 1023) == 0) sched_yield(); /* sometimes get preempted inside */
        a->s->counter = v + 1;
        if (a->s->inside != a->id) a->s->violations++;
        a->s->inside = 0;
        CHECK_OK(mp_lock_release(a->lock));
    }
    return 0;
}

static void run_count(mp_lock_t *lock, int nproc, long iters) {
    struct count_shared *s = mpt_shared(sizeof *s);
    pid_t pids[16];
    struct count_arg args[16];
    struct mpt_gate gate;
    mpt_gate_init(&gate);
    for (int i = 0; i < nproc; i++) {
        args[i] = (struct count_arg){lock, s, i + 1, iters, &gate};
        pids[i] = mpt_fork(lock_counter_worker, &args[i]);
    }
    mpt_gate_open(&gate);
    mpt_wait_all(pids, nproc);
    CHECK(s->violations == 0);
    CHECK(s->counter == (long)nproc * iters);
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

static void *thread_counter(void *p) { return (void *)(intptr_t)lock_counter_worker(p); }

static int proc_with_threads(void *p) {
    struct count_arg *a = p;
    pthread_t t[3];
    struct count_arg ta[3];
    for (int i = 0; i < 3; i++) {
        ta[i] = *a;
        ta[i].id = a->id * 10 + i;
        CHECK(pthread_create(&t[i], NULL, thread_counter, &ta[i]) == 0);
    }
    for (int i = 0; i < 3; i++) CHECK(pthread_join(t[i], NULL) == 0);
    return 0;
}

/* 2 processes x 3 threads each: a Lock excludes threads of one process too. */
TEST(lock_exact_count_threads_and_processes) {
    mp_lock_t *l;
    CHECK_OK(mp_lock_new(&l));
    struct count_shared *s = mpt_shared(sizeof *s);
    struct count_arg a[2] = {{l, s, 1, 30000, NULL}, {l, s, 2, 30000, NULL}};
    pid_t p0 = mpt_fork(proc_with_threads, &a[0]);
    pid_t p1 = mpt_fork(proc_with_threads, &a[1]);
    mpt_wait_ok(p0);
    mpt_wait_ok(p1);
    CHECK(s->violations == 0);
    CHECK(s->counter == 6L * 30000);
    CHECK_OK(mp_lock_close(l));
}

/* block=false ignores the timeout; timeout 0 tries once; a positive timeout never
 * gives up before it elapsed; a free lock is taken whatever the timeout. */
TEST(lock_nonblocking_and_timed) {
    mp_lock_t *l;
    int64_t el;
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
    /* Held: block=false returns at once whatever the timeout (even "forever"). */
    TIMED_ST(el, mp_lock_acquire(l, false, 60000), MP_TIMEOUT);
    CHECK(el < 30000LL * 1000000);
    TIMED_ST(el, mp_lock_acquire(l, false, MP_FOREVER), MP_TIMEOUT);
    TIMED_ST(el, mp_lock_acquire(l, true, 0), MP_TIMEOUT);
    /* Timed: never MP_TIMEOUT before the timeout. */
    const int64_t timed[] = {1, 2, 10, 55, 120, 1001};
    for (size_t i = 0; i < sizeof timed / sizeof timed[0]; i++) {
        int64_t t0 = mpt_now_ns();
        CHECK_ST(mp_lock_acquire(l, true, timed[i]), MP_TIMEOUT);
        CHECK_NOT_EARLY(t0, mpt_now_ns(), timed[i]);
    }
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
    int fd = memfd_create("mpt-lock", MFD_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, 4096) == 0);
    mp_lock_t *a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    mp_lock_t *b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(a != MAP_FAILED && b != MAP_FAILED && a != b);
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
    munmap(a, 4096);
    munmap(b, 4096);
    close(fd);
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
