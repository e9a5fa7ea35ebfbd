/* MP_EINTR: a blocked acquire of a Lock, RLock or Semaphore returns MP_EINTR, with
 * nothing acquired, when a signal handler runs (SIGALRM from setitimer; installed
 * without SA_RESTART, and with it); a caller that loops on MP_EINTR acquires once the
 * object is released, and a caller that re-waits for the remaining time (by hand, or
 * with mp_deadline_after_ms / mp_ms_left) keeps its total deadline. */
#include "mpt_util.h"

/* One object of any of the three kinds, made so that "held" means: a Lock or RLock is
 * acquired, a BoundedSemaphore(1) has value 0. */
static struct mpt_obj make(enum mpt_kind k) {
    struct mpt_obj o = {k, NULL};
    switch (k) {
    case MPT_LOCK: CHECK_OK(mp_lock_new((mp_lock_t **)&o.p)); break;
    case MPT_RLOCK: CHECK_OK(mp_rlock_new((mp_rlock_t **)&o.p)); break;
    case MPT_SEM: CHECK_OK(mp_sem_new(1, 1, (mp_sem_t **)&o.p)); break;
    }
    return o;
}

static void drop(struct mpt_obj *o) { CHECK_OK(mpt_close(o)); }

/* The caller holds nothing: for an RLock, not the owner; for a Lock or Semaphore, the
 * object is still held by the other party (checked by the caller after it lets go). */
static void check_not_acquired_by_me(struct mpt_obj *o) {
    if (o->kind == MPT_RLOCK) {
        bool mine = true;
        uint32_t c = 99;
        CHECK_OK(mp_rlock_is_mine(o->p, &mine));
        CHECK_OK(mp_rlock_count(o->p, &c));
        CHECK(!mine && c == 0);
        CHECK_ST(mp_rlock_release(o->p), MP_ENOTOWNER);
    } else if (o->kind == MPT_SEM) {
        uint32_t v = 99;
        CHECK_OK(mp_sem_get_value(o->p, &v));
        CHECK(v == 0);
    } else {
        bool locked = false;
        CHECK_OK(mp_lock_is_locked(o->p, &locked));
        CHECK(locked);
    }
}

/* After the holder let go: the object is free, i.e. the interrupted call took nothing. */
static void check_free_after_holder_left(struct mpt_obj *o) {
    if (o->kind == MPT_LOCK) {
        bool locked = true;
        CHECK_OK(mp_lock_is_locked(o->p, &locked));
        CHECK(!locked);
        CHECK_ST(mp_lock_release(o->p), MP_EOVERFLOW);
    } else if (o->kind == MPT_SEM) {
        uint32_t v = 0;
        CHECK_OK(mp_sem_get_value(o->p, &v));
        CHECK(v == 1);
        CHECK_ST(mp_sem_release(o->p), MP_EOVERFLOW);
    }
    /* And it works normally (MP_OK, not MP_OWNER_DEAD, no lost wake-up state). */
    CHECK_OK(mpt_acquire(o, false, 0));
    CHECK_OK(mpt_release(o));
}

/* ---- a holder process ----------------------------------------------------------- */

struct ctl {
    int eintrs;         /* EINTRs the waiter has seen (atomic) */
    int release_after;  /* the holder releases once eintrs >= this (0: when told) */
    int release_now;    /* set by the waiter */
    int holding;        /* set by the holder */
};

struct holder_arg { struct mpt_obj o; struct ctl *c; };

static int holder(void *p) {
    struct holder_arg *a = p;
    CHECK_OK(mpt_acquire(&a->o, true, MP_FOREVER));
    __atomic_store_n(&a->c->holding, 1, __ATOMIC_SEQ_CST);
    MPT_WAIT_UNTIL((a->c->release_after > 0 && __atomic_load_n(&a->c->eintrs, __ATOMIC_SEQ_CST) >= a->c->release_after) ||
                       __atomic_load_n(&a->c->release_now, __ATOMIC_SEQ_CST),
                   60);
    CHECK_OK(mpt_release(&a->o));
    return 0;
}

static pid_t start_holder(struct mpt_obj *o, struct ctl *c) {
    static struct holder_arg a; /* copied into the child by fork() */
    a.o = *o;
    a.c = c;
    pid_t pid = mpt_fork(holder, &a);
    MPT_WAIT_UNTIL(__atomic_load_n(&c->holding, __ATOMIC_SEQ_CST), 30);
    return pid;
}

/* ---- tests ------------------------------------------------------------------------ */

/* Lets the holder release and exit, checks that the object is free, and drops it. */
static void release_holder_and_drop(struct mpt_obj *o, struct ctl *c, pid_t pid) {
    __atomic_store_n(&c->release_now, 1, __ATOMIC_SEQ_CST);
    mpt_wait_ok(pid);
    check_free_after_holder_left(o);
    drop(o);
}

/* A retry loop started at `t0` with a `timeout_ms` deadline, just ended with `st` after
 * `eintrs` interruptions: it must have ended with MP_TIMEOUT, not before the deadline
 * and not stretched by the interruptions (generous upper bound only), and been
 * interrupted at least once. */
static void check_timed_out_at_deadline(enum mpt_kind k, mp_status st, int64_t t0, int64_t timeout_ms, int eintrs) {
    int64_t t1 = mpt_now_ns();
    if (st != MP_TIMEOUT) {
        fprintf(stderr, "%s: ended with %s, expected MP_TIMEOUT\n", mpt_kind_name(k), mp_status_name(st));
        _exit(1);
    }
    CHECK_NOT_EARLY(t0, t1, timeout_ms);
    if (t1 - t0 > (timeout_ms + 10000) * 1000000) {
        fprintf(stderr, "%s: a %lld ms deadline took %.0f ms with %d interruptions\n", mpt_kind_name(k),
                (long long)timeout_ms, (t1 - t0) / 1e6, eintrs);
        _exit(1);
    }
    CHECK(eintrs >= 1);
}

/* A blocked acquire (infinite and timed) returns MP_EINTR when SIGALRM's handler runs;
 * nothing is acquired: after the holder releases, the object is free. */
static void interrupted_acquire(enum mpt_kind k) {
    struct mpt_obj o = make(k);
    struct ctl *c = mpt_shared(sizeof *c);
    pid_t pid = start_holder(&o, c);
    mpt_install_alarm();
    const int64_t tos[] = {MP_FOREVER, 60000, -9};
    for (size_t i = 0; i < sizeof tos / sizeof tos[0]; i++) {
        mpt_alarms = 0;
        mpt_timer(30, 30); /* repeats, in case one lands before the waiter sleeps */
        mp_status st = mpt_acquire(&o, true, tos[i]);
        mpt_timer(0, 0);
        if (st != MP_EINTR) {
            fprintf(stderr, "%s: blocked acquire(timeout %lld) returned %s, expected MP_EINTR\n", mpt_kind_name(k),
                    (long long)tos[i], mp_status_name(st));
            _exit(1);
        }
        CHECK(mpt_alarms >= 1);
        check_not_acquired_by_me(&o);
    }
    release_holder_and_drop(&o, c, pid);
}

TEST(eintr_lock_blocked_acquire) { interrupted_acquire(MPT_LOCK); }
TEST(eintr_rlock_blocked_acquire) { interrupted_acquire(MPT_RLOCK); }
TEST(eintr_sem_blocked_acquire) { interrupted_acquire(MPT_SEM); }

/* Single process: a Lock blocks its own holder and a Semaphore(0) blocks everyone;
 * MP_EINTR leaves the Lock held once and the in-place Semaphore with no leftover
 * sleeper (destroy is not MP_EBUSY). */
TEST(eintr_single_process) {
    mpt_install_alarm();
    mp_lock_t *l;
    CHECK_OK(mp_lock_new(&l));
    CHECK_OK(mp_lock_acquire(l, true, MP_FOREVER));
    mpt_timer(30, 30);
    mp_status st = mp_lock_acquire(l, true, MP_FOREVER);
    mpt_timer(0, 0);
    CHECK_ST(st, MP_EINTR);
    CHECK_OK(mp_lock_release(l));
    CHECK_ST(mp_lock_release(l), MP_EOVERFLOW);
    CHECK_OK(mp_lock_close(l));

    mp_sem_t *s = mpt_shared(sizeof(mp_sem_t));
    CHECK_OK(mp_sem_init(s, 0, 5));
    mpt_timer(30, 30);
    st = mp_sem_acquire(s, true, 60000);
    mpt_timer(0, 0);
    CHECK_ST(st, MP_EINTR);
    uint32_t v = 99;
    CHECK_OK(mp_sem_get_value(s, &v));
    CHECK(v == 0);
    CHECK_OK(mp_sem_destroy(s)); /* no sleeper left registered */
}

/* A caller that retries on MP_EINTR (infinite wait, and a timed wait with the
 * remaining time) acquires once the holder releases, here after 3 interruptions. */
static void retry_until_released(enum mpt_kind k, bool timed) {
    struct mpt_obj o = make(k);
    struct ctl *c = mpt_shared(sizeof *c);
    c->release_after = 3;
    pid_t pid = start_holder(&o, c);
    mpt_install_alarm();
    int64_t deadline = mpt_now_ns() + 60000LL * 1000000;
    mpt_timer(20, 20);
    mp_status st;
    for (;;) {
        int64_t ms = timed ? (deadline - mpt_now_ns() + 999999) / 1000000 : MP_FOREVER;
        if (timed && ms < 1) ms = 1;
        st = mpt_acquire(&o, true, ms);
        if (st != MP_EINTR) break;
        __atomic_add_fetch(&c->eintrs, 1, __ATOMIC_SEQ_CST);
    }
    mpt_timer(0, 0);
    if (st != MP_OK) {
        fprintf(stderr, "%s: retry loop ended with %s, expected MP_OK\n", mpt_kind_name(k), mp_status_name(st));
        _exit(1);
    }
    CHECK(c->eintrs >= 3);
    mpt_wait_ok(pid);
    if (k == MPT_RLOCK) {
        uint32_t n = 0;
        CHECK_OK(mp_rlock_count(o.p, &n));
        CHECK(n == 1);
    }
    CHECK_ST(mpt_acquire(&o, false, 0), k == MPT_RLOCK ? MP_OK : MP_TIMEOUT);
    if (k == MPT_RLOCK) CHECK_OK(mpt_release(&o));
    CHECK_OK(mpt_release(&o));
    check_free_after_holder_left(&o);
    drop(&o);
}

TEST(eintr_lock_retry_loop_acquires) { retry_until_released(MPT_LOCK, false); retry_until_released(MPT_LOCK, true); }
TEST(eintr_rlock_retry_loop_acquires) { retry_until_released(MPT_RLOCK, false); retry_until_released(MPT_RLOCK, true); }
TEST(eintr_sem_retry_loop_acquires) { retry_until_released(MPT_SEM, false); retry_until_released(MPT_SEM, true); }

/* Held throughout; SIGALRM every 20 ms; the caller re-waits for the remaining time
 * after each MP_EINTR. The total wait ends with the library's MP_TIMEOUT, not before
 * the 400 ms deadline, and the interruptions do not stretch it (each MP_EINTR
 * returns instead of restarting a full wait): generous upper bound only. */
static void retry_keeps_deadline(enum mpt_kind k) {
    const int64_t timeout_ms = 400;
    struct mpt_obj o = make(k);
    struct ctl *c = mpt_shared(sizeof *c);
    pid_t pid = start_holder(&o, c);
    mpt_install_alarm();
    int eintrs = 0;
    int64_t t0 = mpt_now_ns();
    int64_t deadline = t0 + timeout_ms * 1000000;
    mpt_timer(20, 20);
    mp_status st;
    for (;;) {
        int64_t ms = (deadline - mpt_now_ns() + 999999) / 1000000;
        if (ms < 1) ms = 1;
        st = mpt_acquire(&o, true, ms);
        if (st != MP_EINTR) break;
        eintrs++;
    }
    mpt_timer(0, 0);
    check_timed_out_at_deadline(k, st, t0, timeout_ms, eintrs);
    check_not_acquired_by_me(&o);
    release_holder_and_drop(&o, c, pid);
}

TEST(eintr_lock_retry_keeps_deadline) { retry_keeps_deadline(MPT_LOCK); }
TEST(eintr_rlock_retry_keeps_deadline) { retry_keeps_deadline(MPT_RLOCK); }
TEST(eintr_sem_retry_keeps_deadline) { retry_keeps_deadline(MPT_SEM); }

/* Non-blocking calls make no system call to interrupt: under a storm of SIGALRMs they
 * return MP_TIMEOUT, never MP_EINTR. */
TEST(eintr_never_from_nonblocking_calls) {
    mpt_install_alarm();
    for (int k = 0; k < 3; k++) {
        struct mpt_obj o = make((enum mpt_kind)k);
        struct ctl *c = mpt_shared(sizeof *c);
        pid_t pid = start_holder(&o, c);
        mpt_alarms = 0;
        mpt_timer(1, 1);
        while (mpt_alarms < 20) {
            CHECK_ST(mpt_acquire(&o, false, 0), MP_TIMEOUT);
            CHECK_ST(mpt_acquire(&o, false, MP_FOREVER), MP_TIMEOUT);
            CHECK_ST(mpt_acquire(&o, true, 0), MP_TIMEOUT);
        }
        mpt_timer(0, 0);
        __atomic_store_n(&c->release_now, 1, __ATOMIC_SEQ_CST);
        mpt_wait_ok(pid);
        drop(&o);
    }
}

/* The header's retry idiom with an SA_RESTART handler (what a pthread program installs):
 * the library still returns MP_EINTR, and a caller that retries with
 * mp_ms_left(mp_deadline_after_ms(timeout)) gets MP_TIMEOUT at the original deadline:
 * never before it, and not stretched by the interruptions (generous upper bound only). */
static void helper_keeps_deadline_with_sa_restart(enum mpt_kind k) {
    const int64_t timeout_ms = 400;
    struct mpt_obj o = make(k);
    struct ctl *c = mpt_shared(sizeof *c);
    pid_t pid = start_holder(&o, c);
    CHECK(mpt_install_handler(SIGALRM, mpt_on_alarm, SA_RESTART) == 0);
    int eintrs = 0;
    int64_t t0 = mpt_now_ns();
    int64_t deadline = mp_deadline_after_ms(timeout_ms);
    CHECK(deadline >= 0);
    mpt_timer(20, 20);
    mp_status st;
    while ((st = mpt_acquire(&o, true, mp_ms_left(deadline))) == MP_EINTR) eintrs++;
    mpt_timer(0, 0);
    check_timed_out_at_deadline(k, st, t0, timeout_ms, eintrs);
    CHECK(mp_ms_left(deadline) == 0);
    check_not_acquired_by_me(&o);
    release_holder_and_drop(&o, c, pid);
}

TEST(eintr_lock_helper_keeps_deadline_sa_restart) { helper_keeps_deadline_with_sa_restart(MPT_LOCK); }
TEST(eintr_rlock_helper_keeps_deadline_sa_restart) { helper_keeps_deadline_with_sa_restart(MPT_RLOCK); }
TEST(eintr_sem_helper_keeps_deadline_sa_restart) { helper_keeps_deadline_with_sa_restart(MPT_SEM); }

/* The helpers' sentinels: MP_FOREVER stays forever, 0 is "try once" (0 left at once),
 * a deadline that cannot be represented is forever, and the time left of a fresh
 * deadline is its whole timeout (rounded up by at most 1 ms). */
TEST(eintr_deadline_helper_sentinels) {
    CHECK(mp_deadline_after_ms(MP_FOREVER) == MP_FOREVER);
    CHECK(mp_deadline_after_ms(-77) == MP_FOREVER);
    CHECK(mp_ms_left(MP_FOREVER) == MP_FOREVER);
    CHECK(mp_ms_left(mp_deadline_after_ms(-5)) == MP_FOREVER);
    CHECK(mp_ms_left(mp_deadline_after_ms(0)) == 0);
    CHECK(mp_deadline_after_ms(INT64_MAX) == MP_FOREVER);
    int64_t left = mp_ms_left(mp_deadline_after_ms(60000));
    CHECK(left > 0 && left <= 60001);
    /* A forever deadline with an SA_RESTART handler: the retry loop acquires once the
     * holder lets go (after 3 interruptions). */
    struct mpt_obj o = make(MPT_LOCK);
    struct ctl *c = mpt_shared(sizeof *c);
    c->release_after = 3;
    pid_t pid = start_holder(&o, c);
    CHECK(mpt_install_handler(SIGALRM, mpt_on_alarm, SA_RESTART) == 0);
    int64_t forever = mp_deadline_after_ms(MP_FOREVER);
    mp_status st;
    mpt_timer(20, 20);
    while ((st = mpt_acquire(&o, true, mp_ms_left(forever))) == MP_EINTR)
        __atomic_add_fetch(&c->eintrs, 1, __ATOMIC_SEQ_CST);
    mpt_timer(0, 0);
    CHECK_ST(st, MP_OK);
    CHECK(c->eintrs >= 3);
    mpt_wait_ok(pid);
    CHECK_OK(mpt_release(&o));
    drop(&o);
}
