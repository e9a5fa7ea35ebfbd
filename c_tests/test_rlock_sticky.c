/* Sticky RLocks (mp_rlock_init_sticky, mp_rlock_new_sticky, MP_RLOCK_STICKY): after a
 * holder was SIGKILLed, every acquirer gets MP_OWNER_DEAD (holding the lock), re-entries
 * included, until a holder calls mp_rlock_mark_consistent; a holder that releases
 * without marking (or dies too) leaves it so. The mode is chosen at creation. */
#include "mpt_util.h"

struct shared {
    mp_rlock_t lock;
    volatile int ready;
    volatile int results[8];
};

static void wait_flag(volatile int *flag) {
    MPT_WAIT_UNTIL(*flag, 30);
}

/* A child that takes `lock` (any outcome that holds it), raises `ready`, and sleeps
 * until killed; returns once it holds the lock. */
static pid_t start_holder(struct shared *s, mp_rlock_t *lock) {
    s->ready = 0;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        mp_status st = mp_rlock_acquire(lock, true, MP_FOREVER);
        if (st != MP_OK && st != MP_OWNER_DEAD) _exit(3);
        s->ready = 1;
        for (;;) pause();
    }
    wait_flag(&s->ready);
    return pid;
}

/* start_holder, then SIGKILL it. */
static void kill_a_holder(struct shared *s, mp_rlock_t *lock) {
    mpt_kill_and_reap(start_holder(s, lock));
}

/* A forked child: one acquisition (at most 60 s), its status in `*result`, then a
 * release (no repair). */
static pid_t spawn_acquirer(mp_rlock_t *lock, volatile int *result) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        *result = mp_rlock_acquire(lock, true, 60000);
        _exit(mp_rlock_release(lock) == MP_OK ? 0 : 4);
    }
    return pid;
}

/* spawn_acquirer, waited for: its acquisition's status. */
static mp_status acquire_release_in_child(mp_rlock_t *lock, volatile int *result) {
    mpt_wait_ok(spawn_acquirer(lock, result));
    return *result;
}

/* The sticky protocol on `lock` (free, never held, sticky): see the file comment. */
static void check_sticky(struct shared *s, mp_rlock_t *lock) {
    CHECK_OK(mp_rlock_acquire(lock, false, 0)); /* no death yet: plain behaviour */
    CHECK_OK(mp_rlock_release(lock));
    kill_a_holder(s, lock);
    /* Three processes in turn: each gets the report, none repairs. */
    for (int i = 0; i < 3; i++) CHECK_ST(acquire_release_in_child(lock, &s->results[i]), MP_OWNER_DEAD);
    /* A holder that took the report and died too: still reported. */
    kill_a_holder(s, lock);
    CHECK_ST(mp_rlock_acquire(lock, true, 30000), MP_OWNER_DEAD);
    CHECK_ST(mp_rlock_acquire(lock, true, 0), MP_OWNER_DEAD); /* re-entry */
    uint32_t level = 0;
    CHECK_OK(mp_rlock_count(lock, &level));
    CHECK(level == 2);
    CHECK_OK(mp_rlock_release(lock));
    CHECK_OK(mp_rlock_release(lock));
    CHECK_ST(mp_rlock_mark_consistent(lock), MP_ENOTOWNER); /* only a holder repairs */
    bool locked = true;
    CHECK_OK(mp_rlock_is_locked(lock, &locked));
    CHECK(!locked);
    /* The repair: a holder marks it consistent; from then on MP_OK for everyone. */
    CHECK_ST(mp_rlock_acquire(lock, false, 0), MP_OWNER_DEAD);
    CHECK_OK(mp_rlock_mark_consistent(lock));
    CHECK_OK(mp_rlock_acquire(lock, false, 0));
    CHECK_OK(mp_rlock_release(lock));
    CHECK_OK(mp_rlock_release(lock));
    CHECK_OK(acquire_release_in_child(lock, &s->results[3]));
    CHECK_OK(mp_rlock_acquire(lock, false, 0));
    CHECK_OK(mp_rlock_release(lock));
}

TEST(sticky_in_place_reports_until_marked_consistent) {
    struct shared *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_rlock_init_sticky(&s->lock));
    check_sticky(s, &s->lock);
    CHECK_OK(mp_rlock_destroy(&s->lock));
    /* A plain RLock, for contrast: the next acquirer only. */
    CHECK_OK(mp_rlock_init(&s->lock));
    kill_a_holder(s, &s->lock);
    CHECK_ST(acquire_release_in_child(&s->lock, &s->results[0]), MP_OWNER_DEAD);
    CHECK_OK(acquire_release_in_child(&s->lock, &s->results[1]));
    CHECK_OK(mp_rlock_destroy(&s->lock));
    CHECK_ST(mp_rlock_init_sticky(NULL), MP_EINVAL);
}

TEST(sticky_anonymous_and_named) {
    struct shared *s = mpt_shared(sizeof *s);
    mp_rlock_t *anon = NULL;
    CHECK_ST(mp_rlock_new_sticky(NULL), MP_EINVAL);
    CHECK_OK(mp_rlock_new_sticky(&anon));
    check_sticky(s, anon);
    CHECK_OK(mp_rlock_close(anon));

    char name[64], plain[64];
    mpt_name(name, sizeof name, "sticky");
    mpt_name(plain, sizeof plain, "sticky-plain");
    mp_rlock_t *named = NULL, *again = NULL, *p = NULL;
    CHECK_ST(mp_rlock_open(name, MP_CREATE | MP_EXCL | MP_RLOCK_STICKY | MP_REPORT_CREATED, 0, &named),
             MP_CREATED);
    /* Openers without the bit accept it (the mode is the creator's); with it too. */
    CHECK_OK(mp_rlock_open(name, 0, 0, &again));
    CHECK_OK(mp_rlock_close(again));
    CHECK_OK(mp_rlock_open(name, MP_CREATE | MP_RLOCK_STICKY, 0, &again));
    check_sticky(s, again);
    CHECK_OK(mp_rlock_close(again));
    CHECK_OK(mp_rlock_close(named));
    /* A plain RLock is refused to an opener that asks for a sticky one. */
    CHECK_OK(mp_rlock_open(plain, MP_CREATE | MP_EXCL, 0, &p));
    again = NULL;
    CHECK_ST(mp_rlock_open(plain, MP_RLOCK_STICKY, 0, &again), MP_EBADOBJ);
    CHECK_ST(mp_rlock_open(plain, MP_CREATE | MP_RLOCK_STICKY, 0, &again), MP_EBADOBJ);
    CHECK(again == NULL);
    CHECK_OK(mp_rlock_close(p));
    /* The bit is the RLock's alone. */
    mp_lock_t *l = NULL;
    CHECK_ST(mp_lock_open(plain, MP_CREATE | MP_RLOCK_STICKY, 0, &l), MP_EINVAL);
    CHECK_OK(mp_unlink(name));
    CHECK_OK(mp_unlink(plain));
}

/* Waiters asleep when the holder is killed: every one of them gets the report in turn
 * (none repairs), not just the first. */
TEST(sticky_every_waiter_after_the_death_is_told) {
    struct shared *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_rlock_init_sticky(&s->lock));
    pid_t holder = start_holder(s, &s->lock);
    enum { WAITERS = 4 };
    pid_t waiters[WAITERS];
    for (int i = 0; i < WAITERS; i++) waiters[i] = spawn_acquirer(&s->lock, &s->results[i]);
    for (int i = 0; i < WAITERS; i++) mpt_wait_sleeping(waiters[i], 0);
    mpt_kill_and_reap(holder);
    for (int i = 0; i < WAITERS; i++) mpt_wait_ok(waiters[i]);
    for (int i = 0; i < WAITERS; i++) CHECK_ST(s->results[i], MP_OWNER_DEAD);
    CHECK_ST(mp_rlock_acquire(&s->lock, false, 0), MP_OWNER_DEAD);
    CHECK_OK(mp_rlock_mark_consistent(&s->lock));
    CHECK_OK(mp_rlock_release(&s->lock));
    CHECK_OK(mp_rlock_destroy(&s->lock));
}
