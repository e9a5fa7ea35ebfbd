/* Undo semaphores (mp_sem_undo_t): units of a thread that dies holding them come back,
 * exactly one acquirer is told (MP_OWNER_DEAD), releases are matched to acquirers, the
 * holder table is bounded. Real fork()ed, exec'ed and SIGKILLed processes. */
#include "mptest.h"
#include "mpt_util.h"
#include <sched.h>
#include <sys/prctl.h>

#define K 2 /* units of the kill loop's Semaphore(K) */
#define HOLDERS 4

static mp_sem_undo_t *new_undo_inplace(uint32_t value, uint32_t max) {
    mp_sem_undo_t *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_sem_undo_init(s, value, max));
    return s;
}

static uint32_t value_of(mp_sem_undo_t *s) { return MPT_U32(mp_sem_undo_get_value, s); }

static uint32_t held_of(mp_sem_undo_t *s) { return MPT_U32(mp_sem_undo_held, s); }

static void wait_flag(volatile int *f) { MPT_WAIT_UNTIL(*f, 20); }

TEST(api_sizes_arguments_and_types) {
    /* sizeof is the object's real size, like every mp_*_t. */
    CHECK(sizeof(mp_sem_undo_t) == MP_SEM_UNDO_SIZE);
    CHECK(_Alignof(mp_sem_undo_t) == MP_SEM_UNDO_ALIGN);
    CHECK(MP_SEM_UNDO_SIZE >= MP_SEM_SIZE + 64 * MP_SEM_UNDO_HOLDERS);
    mp_sem_undo_t *mem = mpt_shared(sizeof *mem);
    CHECK_ST(mp_sem_undo_init(mem, 2, 1), MP_EINVAL); /* value > max */
    CHECK_ST(mp_sem_undo_init(mem, 0, MP_SEM_UNDO_VALUE_MAX + 1), MP_EINVAL);
    CHECK_ST(mp_sem_undo_init(NULL, 0, 1), MP_EINVAL);
    CHECK_ST(mp_sem_undo_init((mp_sem_undo_t *)((char *)mem + 4), 0, 1), MP_EINVAL); /* misaligned */
    CHECK_OK(mp_sem_undo_init(mem, 1, MP_SEM_UNDO_VALUE_MAX));
    uint32_t m = 0;
    CHECK_OK(mp_sem_undo_get_max_value(mem, &m));
    CHECK(m == MP_SEM_UNDO_VALUE_MAX);
    CHECK(held_of(mem) == 0);
    CHECK_ST(mp_sem_undo_get_value(mem, NULL), MP_EINVAL);
    CHECK_ST(mp_sem_undo_acquire(NULL, false, 0), MP_EINVAL);
    CHECK_OK(mp_sem_undo_destroy(mem));
    CHECK_ST(mp_sem_undo_acquire(mem, false, 0), MP_EBADOBJ);

    mp_sem_undo_t *a = NULL, *b = NULL;
    CHECK_ST(mp_sem_undo_new(2, 1, &a), MP_EINVAL);
    CHECK_ST(mp_sem_undo_new(1, 1, NULL), MP_EINVAL);
    CHECK_OK(mp_sem_undo_new(1, 1, &a));
    CHECK(value_of(a) == 1);
    CHECK_ST(mp_sem_undo_destroy(a), MP_EINVAL); /* a handle: close it */
    CHECK_OK(mp_sem_undo_close(a));
    CHECK_ST(mp_sem_undo_close(a), MP_EBADOBJ);

    char name[64];

    mpt_name(name, sizeof name, "undo");
    CHECK_OK(mp_sem_undo_open(name, MP_CREATE | MP_EXCL, 0, 3, 3, &a));
    /* The type is part of the object: a plain semaphore's calls refuse it. */
    mp_sem_t *plain = NULL;
    CHECK_ST(mp_sem_open(name, 0, 0, 0, 1, &plain), MP_EBADOBJ);
    CHECK_ST(mp_sem_open(name, MP_CREATE, 0, 0, 1, &plain), MP_EBADOBJ);
    CHECK_OK(mp_sem_undo_open(name, 0, 0, 0, 1, &b));
    CHECK_OK(mp_sem_undo_acquire(a, true, 1000));
    CHECK(value_of(b) == 2);
    /* Holding a unit through `a`: `a` may not be closed by this thread (its slot is
     * linked in the thread's robust list through that mapping). */
    CHECK_ST(mp_sem_undo_close(a), MP_EBUSY);
    CHECK_OK(mp_sem_undo_release(b)); /* matched by thread, whichever mapping */
    CHECK(value_of(a) == 3);
    CHECK_OK(mp_sem_undo_close(b));
    CHECK_OK(mp_sem_undo_close(a));
    CHECK_OK(mp_unlink(name));
    mpt_name(name, sizeof name, "plain");
    CHECK_OK(mp_sem_open(name, MP_CREATE | MP_EXCL, 0, 1, 1, &plain));
    CHECK_ST(mp_sem_undo_open(name, 0, 0, 0, 1, &b), MP_EBADOBJ);
    CHECK_ST(mp_sem_undo_open(name, MP_CREATE, 0, 0, 1, &b), MP_EBADOBJ);
    CHECK_OK(mp_sem_close(plain));
    CHECK_OK(mp_unlink(name));
}

TEST(releases_are_matched_to_acquirers) {
    mp_sem_undo_t *s = new_undo_inplace(2, 2);
    CHECK_ST(mp_sem_undo_release(s), MP_ENOTOWNER);
    CHECK_OK(mp_sem_undo_acquire(s, false, 0));
    CHECK_OK(mp_sem_undo_acquire(s, false, 0));
    CHECK_ST(mp_sem_undo_acquire(s, false, 0), MP_TIMEOUT);
    CHECK(held_of(s) == 2);
    CHECK_ST(mp_sem_undo_destroy(s), MP_EBUSY);
    pid_t pid = fork();
    if (pid == 0) {
        /* Another process (even a fork child) holds nothing of ours. */
        if (mp_sem_undo_release(s) != MP_ENOTOWNER) _exit(2);
        if (mp_sem_undo_acquire(s, false, 0) != MP_TIMEOUT) _exit(3);
        _exit(0);
    }
    mpt_wait_ok(pid);
    CHECK_OK(mp_sem_undo_release(s));
    CHECK_OK(mp_sem_undo_release(s));
    CHECK_ST(mp_sem_undo_release(s), MP_ENOTOWNER);
    CHECK(value_of(s) == 2);
    for (int i = 0; i < 10000; i++) {
        CHECK_OK(mp_sem_undo_acquire(s, true, MP_FOREVER));
        CHECK_OK(mp_sem_undo_release(s));
    }
    CHECK_OK(mp_sem_undo_destroy(s));
}

/* ---- a full holder table ------------------------------------------------------------- */

struct table_arg { mp_sem_undo_t *s; atomic_int *ready; atomic_int *go; };

static void *hold_one(void *p) {
    struct table_arg *a = p;
    if (mp_sem_undo_acquire(a->s, true, 5000) != MP_OK) return (void *)1;
    atomic_fetch_add(a->ready, 1);
    while (!atomic_load(a->go)) usleep(1000);
    return (void *)(intptr_t)(mp_sem_undo_release(a->s) != MP_OK);
}

TEST(holder_past_the_table_gets_ebusy) {
    mp_sem_undo_t *s = new_undo_inplace(MP_SEM_UNDO_HOLDERS + 3, MP_SEM_UNDO_VALUE_MAX);
    atomic_int ready = 0, go = 0;
    struct table_arg a = {s, &ready, &go};
    pthread_t t[MP_SEM_UNDO_HOLDERS];
    for (int i = 0; i < MP_SEM_UNDO_HOLDERS; i++) CHECK(pthread_create(&t[i], NULL, hold_one, &a) == 0);
    MPT_WAIT_UNTIL(atomic_load(&ready) == MP_SEM_UNDO_HOLDERS, 20);
    CHECK(value_of(s) == 3);
    CHECK_ST(mp_sem_undo_acquire(s, true, 100), MP_EBUSY);
    CHECK(value_of(s) == 3); /* nothing taken */
    atomic_store(&go, 1);
    for (int i = 0; i < MP_SEM_UNDO_HOLDERS; i++) {
        void *r;
        CHECK(pthread_join(t[i], &r) == 0);
        CHECK(r == NULL);
    }
    CHECK_OK(mp_sem_undo_acquire(s, false, 0));
    CHECK_OK(mp_sem_undo_release(s));
    CHECK(value_of(s) == MP_SEM_UNDO_HOLDERS + 3);
}

/* ---- waiters take no holder slot ------------------------------------------------------ */

/* More blocked waiters than the table has slots (the CLI once ran 70 `mpsync acquire`s on
 * an undo Semaphore(1), and 4 of them exited with MP_EBUSY). */
#define CROWD (MP_SEM_UNDO_HOLDERS + 6)

struct crowd {
    volatile int holder_ready, release_now, latecomer_done;
    _Atomic int inside, max_inside, admitted, busy, other;
    volatile int started[CROWD];
};

static void crowd_waiter(mp_sem_undo_t *s, struct crowd *c, int i) {
    c->started[i] = 1;
    mp_status r = mp_sem_undo_acquire(s, true, 60000);
    if (r == MP_EBUSY) atomic_fetch_add(&c->busy, 1);
    if (r != MP_OK) {
        if (r != MP_EBUSY) atomic_fetch_add(&c->other, 1);
        _exit(1);
    }
    int now = atomic_fetch_add(&c->inside, 1) + 1;
    int seen = atomic_load(&c->max_inside);
    while (now > seen && !atomic_compare_exchange_weak(&c->max_inside, &seen, now)) {}
    usleep(1000);
    atomic_fetch_sub(&c->inside, 1);
    atomic_fetch_add(&c->admitted, 1);
    _exit(mp_sem_undo_release(s) != MP_OK);
}

/* A waiter costs no holder slot: with one holder of an undo Semaphore(1) and more
 * blocked waiter processes than there are slots, another acquire times out (not
 * MP_EBUSY), no waiter ever gets MP_EBUSY, and after the release every waiter gets
 * its turn, one at a time. */
TEST(blocked_waiters_use_no_holder_slots) {
    mp_sem_undo_t *s = new_undo_inplace(1, 1);
    struct crowd *c = mpt_shared(sizeof *c);
    pid_t holder = fork();
    CHECK(holder >= 0);
    if (holder == 0) {
        if (mp_sem_undo_acquire(s, false, 0) != MP_OK) _exit(2);
        c->holder_ready = 1;
        while (!c->release_now) usleep(1000);
        _exit(mp_sem_undo_release(s) != MP_OK);
    }
    wait_flag(&c->holder_ready);
    pid_t w[CROWD];
    for (int i = 0; i < CROWD; i++) {
        w[i] = fork();
        CHECK(w[i] >= 0);
        if (w[i] == 0) crowd_waiter(s, c, i);
    }
    for (int i = 0; i < CROWD; i++) {
        wait_flag(&c->started[i]);
        mpt_wait_sleeping(w[i], 0);
    }
    /* This process holds no unit: it needs a slot of its own, and waiting costs none. */
    int64_t t0 = mpt_now_ns();
    CHECK_ST(mp_sem_undo_acquire(s, true, 500), MP_TIMEOUT);
    CHECK_NOT_EARLY(t0, mpt_now_ns(), 500);
    CHECK(held_of(s) == 0);
    CHECK(atomic_load(&c->busy) == 0 && atomic_load(&c->other) == 0);
    CHECK(atomic_load(&c->admitted) == 0);
    c->release_now = 1;
    mpt_wait_ok(holder);
    for (int i = 0; i < CROWD; i++) mpt_wait_ok(w[i]);
    CHECK(atomic_load(&c->busy) == 0);
    CHECK(atomic_load(&c->admitted) == CROWD);
    CHECK(atomic_load(&c->max_inside) == 1);
    CHECK(value_of(s) == 1);
    CHECK_OK(mp_sem_undo_destroy(s));
}

/* ---- deaths --------------------------------------------------------------------------- */

struct death { volatile int ready; volatile int admitted; volatile int64_t t_admit; volatile int status; };

/* One round: a holder of both units is killed while three waiters block; the two its
 * units admit must include the one told (the third, admitted later, is not). The window
 * this guards — an acquirer taking a returned unit before the reclaimer has published
 * the report — is a few instructions wide, so the test runs many rounds. */
static void one_death_two_admitted(void) {
    mp_sem_undo_t *s = new_undo_inplace(2, 2);
    struct death *d = mpt_shared(sizeof *d);
    pid_t holder = fork();
    if (holder == 0) {
        if (mp_sem_undo_acquire(s, true, MP_FOREVER) != MP_OK) _exit(2);
        if (mp_sem_undo_acquire(s, true, MP_FOREVER) != MP_OK) _exit(2);
        d->ready = 1;
        for (;;) pause();
    }
    wait_flag(&d->ready);
    /* Three waiters; the dead holder's two units admit two of them, one is told. */
    volatile int *st = mpt_shared(4096);
    pid_t w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = fork();
        if (w[i] == 0) {
            mp_status r = mp_sem_undo_acquire(s, true, 20000);
            st[i] = r;
            st[8 + i] = 1;
            if (r == MP_OK || r == MP_OWNER_DEAD) {
                while (!st[16]) usleep(1000);
                _exit(mp_sem_undo_release(s) != MP_OK);
            }
            _exit(0);
        }
    }
    for (int i = 0; i < 3; i++) mpt_wait_sleeping(w[i], 0);
    mpt_kill_and_reap(holder);
    MPT_WAIT_UNTIL(st[8] + st[9] + st[10] == 2, 20);
    int told = 0, ok = 0;
    for (int i = 0; i < 3; i++) {
        if (!st[8 + i]) continue;
        if (st[i] == MP_OWNER_DEAD) told++;
        else if (st[i] == MP_OK) ok++;
    }
    CHECK(told == 1 && ok == 1);
    st[16] = 1; /* the two release; the third is admitted */
    for (int i = 0; i < 3; i++) mpt_wait_ok(w[i]);
    told = ok = 0;
    for (int i = 0; i < 3; i++) {
        if (st[i] == MP_OWNER_DEAD) told++;
        else if (st[i] == MP_OK) ok++;
    }
    CHECK(told == 1 && ok == 2);
    CHECK(value_of(s) == 2);
    CHECK_OK(mp_sem_undo_destroy(s));
}

TEST(killed_holder_blocked_waiters_exactly_one_told) {
    for (int round = 0; round < 60; round++) one_death_two_admitted();
}

TEST(dead_holder_without_waiters_next_acquirer_is_told) {
    mp_sem_undo_t *s = new_undo_inplace(3, 3);
    struct death *d = mpt_shared(sizeof *d);
    pid_t holder = fork();
    if (holder == 0) {
        for (int i = 0; i < 3; i++)
            if (mp_sem_undo_acquire(s, true, MP_FOREVER) != MP_OK) _exit(2);
        d->ready = 1;
        for (;;) pause();
    }
    wait_flag(&d->ready);
    CHECK(value_of(s) == 0);
    mpt_kill_and_reap(holder);
    /* The dead holder's units count as available at once ... */
    CHECK(value_of(s) == 3);
    /* ... and come back to whoever needs them, even without blocking. */
    int told = 0;
    for (int i = 0; i < 3; i++) {
        mp_status r = mp_sem_undo_acquire(s, false, 0);
        CHECK(r == MP_OK || r == MP_OWNER_DEAD);
        told += r == MP_OWNER_DEAD;
    }
    CHECK(told == 1);
    CHECK(held_of(s) == 3);
    for (int i = 0; i < 3; i++) CHECK_OK(mp_sem_undo_release(s));
    CHECK_OK(mp_sem_undo_acquire(s, false, 0)); /* told once only */
    CHECK_OK(mp_sem_undo_release(s));
    CHECK(value_of(s) == 3);
}

static void *take_two_and_exit(void *p) {
    mp_sem_undo_t *s = p;
    if (mp_sem_undo_acquire(s, true, 5000) != MP_OK) return (void *)1;
    if (mp_sem_undo_acquire(s, true, 5000) != MP_OK) return (void *)1;
    return NULL; /* the thread exits holding two units */
}

TEST(thread_exit_while_holding_gives_units_back) {
    mp_sem_undo_t *s = new_undo_inplace(2, 2);
    pthread_t t;
    void *r;
    CHECK(pthread_create(&t, NULL, take_two_and_exit, s) == 0);
    CHECK(pthread_join(t, &r) == 0);
    CHECK(r == NULL);
    CHECK(value_of(s) == 2);
    mp_status a = mp_sem_undo_acquire(s, true, 5000), b = mp_sem_undo_acquire(s, true, 5000);
    CHECK((a == MP_OWNER_DEAD) + (b == MP_OWNER_DEAD) == 1);
    CHECK((a == MP_OK) + (b == MP_OK) == 1);
    CHECK_OK(mp_sem_undo_release(s));
    CHECK_OK(mp_sem_undo_release(s));
    CHECK_OK(mp_sem_undo_destroy(s));
}

TEST(exec_while_holding_gives_units_back_to_a_blocked_waiter) {
    mp_sem_undo_t *s = new_undo_inplace(1, 1);
    struct death *d = mpt_shared(sizeof *d);
    pid_t holder = fork();
    if (holder == 0) {
        if (mp_sem_undo_acquire(s, true, MP_FOREVER) != MP_OK) _exit(2);
        d->ready = 1;
        execl("/bin/sleep", "sleep", "60", (char *)NULL);
        _exit(127);
    }
    wait_flag(&d->ready);
    mp_status r = mp_sem_undo_acquire(s, true, 20000);
    CHECK_ST(r, MP_OWNER_DEAD); /* the exec'ed image holds nothing */
    CHECK_OK(mp_sem_undo_release(s));
    mpt_kill_and_reap(holder);
    CHECK(value_of(s) == 1);
}

TEST(close_and_destroy_while_holding_are_busy) {
    mp_sem_undo_t *s = NULL;
    CHECK_OK(mp_sem_undo_new(1, 1, &s));
    CHECK_OK(mp_sem_undo_acquire(s, false, 0));
    CHECK_ST(mp_sem_undo_close(s), MP_EBUSY);
    CHECK_OK(mp_sem_undo_release(s));
    CHECK_OK(mp_sem_undo_close(s));
    mp_sem_undo_t *t = new_undo_inplace(1, 1);
    CHECK_OK(mp_sem_undo_acquire(t, false, 0));
    CHECK_ST(mp_sem_undo_destroy(t), MP_EBUSY);
    CHECK_OK(mp_sem_undo_release(t));
    CHECK_OK(mp_sem_undo_destroy(t));
}

/* ---- detaching (the step before unmapping) while holding --------------------------------- */

struct rl_node { struct rl_node *next; };
struct rl_head { struct rl_node list; long futex_offset; struct rl_node *pending; };

/* How many entries of the calling thread's robust list, walked as the kernel walks it
 * at the thread's death, lie in [start, start + len); -1 if the thread has no list. */
static int robust_entries_in(const void *start, size_t len) {
    struct rl_head *head = NULL;
    size_t head_len = 0;
    CHECK(syscall(SYS_get_robust_list, 0, &head, &head_len) == 0);
    if (!head) return -1;
    int n = 0, steps = 0;
    const char *lo = start, *hi = lo + len;
    for (struct rl_node *e = (struct rl_node *)((uintptr_t)head->list.next & ~(uintptr_t)1); e != &head->list;
         e = (struct rl_node *)((uintptr_t)e->next & ~(uintptr_t)1)) {
        CHECK(++steps < 4096);
        if ((const char *)e >= lo && (const char *)e < hi) n++;
    }
    return n;
}

struct detach_shared {
    pthread_mutex_t m;
    char name[64];
    mp_sem_undo_t *s;
    volatile int done;
};

/* In a second mapping of the file, used as it is (no declaration step): hold a unit,
 * try to detach (refused, nothing changed), release, detach, unmap, put other memory of
 * ours at that address and keep using locks. Then wait to be killed holding `m`. */
static int detach_while_holding(void *arg) {
    struct detach_shared *w = arg;
    /* Locked first: it lies behind libmpsync's part of the robust list, so it is reported
     * at our death only if the kernel's walk gets through that part. */
    CHECK(pthread_mutex_lock(&w->m) == 0);
    mp_sem_undo_t *t = mpt_map_file(w->name + 1, sizeof *t, 0);
    CHECK_OK(mp_sem_undo_detach(t)); /* holding nothing: fine at any time */
    CHECK_OK(mp_sem_undo_acquire(t, false, 0));
    int linked = robust_entries_in(t, sizeof *t);
    CHECK(linked == 1 || (linked == -1 && mp_robust_mode() == MP_ROBUST_OFF));
    CHECK_ST(mp_sem_undo_detach(t), MP_EBUSY);
    /* Nothing changed: the unit still ours, the slot still linked. */
    CHECK(held_of(t) == 1);
    CHECK(value_of(t) == 0);
    CHECK(robust_entries_in(t, sizeof *t) == linked);
    CHECK_OK(mp_sem_undo_release(t));
    CHECK(robust_entries_in(t, sizeof *t) == (linked < 0 ? -1 : 0));
    CHECK_OK(mp_sem_undo_detach(t));
    CHECK(munmap(t, sizeof *t) == 0);
    /* Private memory of ours where the semaphore was: no robust-list update may write
     * into it. */
    unsigned char *q = mmap(t, sizeof *t, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(q == (unsigned char *)t);
    memset(q, 0xa5, sizeof *t);
    mp_rlock_t *l = NULL;
    CHECK_OK(mp_rlock_new(&l));
    for (int i = 0; i < 100; i++) {
        CHECK_OK(mp_rlock_acquire(l, true, MP_FOREVER));
        CHECK_OK(mp_sem_undo_acquire(w->s, true, 5000)); /* the first mapping */
        if (i % 2) CHECK_OK(mp_rlock_release(l));
        CHECK_OK(mp_sem_undo_release(w->s));
        if (!(i % 2)) CHECK_OK(mp_rlock_release(l));
    }
    CHECK_OK(mp_rlock_close(l));
    for (size_t k = 0; k < sizeof *t; k++) CHECK(q[k] == 0xa5);
    CHECK(robust_entries_in(q, sizeof *t) <= 0);
    w->done = 1;
    for (;;) pause();
}

/* mp_sem_undo_detach(sem), the step before unmapping, by a thread that holds a unit
 * through `sem`: MP_EBUSY, and nothing changes (as mp_sem_undo_close and
 * mp_sem_undo_destroy). Once released, it succeeds, and after the unmap the thread's
 * robust list is intact: its later lock operations write nothing into memory mapped at
 * that address, and the kernel's walk at its death still reaches an older glibc robust
 * mutex. */
TEST(detaching_an_undo_semaphore_while_holding_is_busy_and_changes_nothing) {
    struct detach_shared *w = mpt_shared(sizeof *w);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    CHECK(pthread_mutex_init(&w->m, &a) == 0);
    mpt_name(w->name, sizeof w->name, "detach");
    w->s = mpt_map_file(w->name + 1, sizeof *w->s, 1);
    CHECK_OK(mp_sem_undo_init(w->s, 1, 1));
    pid_t pid = mpt_fork(detach_while_holding, w);
    int64_t end = mpt_now_ns() + 20000000000LL;
    while (!w->done) {
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "the child ended: %s %d\n", WIFSIGNALED(st) ? "signal" : "exit",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            CHECK(0);
        }
        CHECK(mpt_now_ns() < end);
        usleep(500);
    }
    mpt_kill_and_reap(pid);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 3;
    CHECK(pthread_mutex_timedlock(&w->m, &ts) == EOWNERDEAD);
    CHECK(pthread_mutex_consistent(&w->m) == 0);
    CHECK(pthread_mutex_unlock(&w->m) == 0);
    CHECK(value_of(w->s) == 1);
    CHECK_OK(mp_sem_undo_destroy(w->s));
    mpt_unlink_file(w->name + 1);
    munmap(w->s, sizeof *w->s);
}

/* A handle: mp_sem_undo_detach reports the same (MP_EBUSY while holding, MP_OK after)
 * and changes nothing; the handle stays usable and still closes. */
TEST(detaching_an_undo_handle_changes_nothing) {
    mp_sem_undo_t *h = NULL;
    CHECK_OK(mp_sem_undo_new(1, 1, &h));
    CHECK_OK(mp_sem_undo_acquire(h, false, 0));
    CHECK_ST(mp_sem_undo_detach(h), MP_EBUSY);
    CHECK(held_of(h) == 1);
    CHECK_OK(mp_sem_undo_release(h));
    CHECK_OK(mp_sem_undo_detach(h));
    CHECK(value_of(h) == 1);
    CHECK_OK(mp_sem_undo_acquire(h, false, 0));
    CHECK_OK(mp_sem_undo_release(h));
    CHECK_OK(mp_sem_undo_close(h));
}

/* Plain and undo semaphores side by side: the plain one keeps CPython's semantics (any
 * process may release; a dead holder's unit stays taken), the undo one gives back. */
TEST(interplay_with_plain_semaphores) {
    struct both { mp_sem_t plain; char pad[64]; } *p = mpt_shared(sizeof *p);
    mp_sem_undo_t *u = new_undo_inplace(1, 1);
    CHECK_OK(mp_sem_init(&p->plain, 1, 1));
    struct death *d = mpt_shared(sizeof *d);
    pid_t holder = fork();
    if (holder == 0) {
        if (mp_sem_acquire(&p->plain, true, MP_FOREVER) != MP_OK) _exit(2);
        if (mp_sem_undo_acquire(u, true, MP_FOREVER) != MP_OK) _exit(2);
        d->ready = 1;
        for (;;) pause();
    }
    wait_flag(&d->ready);
    mpt_kill_and_reap(holder);
    CHECK_ST(mp_sem_acquire(&p->plain, true, 50), MP_TIMEOUT); /* still taken */
    CHECK_ST(mp_sem_undo_acquire(u, true, 5000), MP_OWNER_DEAD);
    /* A plain release by anyone still works; an undo release only by the holder. */
    CHECK_OK(mp_sem_release(&p->plain));
    CHECK_OK(mp_sem_acquire(&p->plain, false, 0));
    pid_t other = fork();
    if (other == 0) _exit(mp_sem_release(&p->plain) != MP_OK || mp_sem_undo_release(u) != MP_ENOTOWNER);
    mpt_wait_ok(other);
    CHECK_OK(mp_sem_undo_release(u));
    for (int i = 0; i < 1000; i++) {
        CHECK_OK(mp_sem_undo_acquire(u, false, 0));
        CHECK_OK(mp_sem_acquire(&p->plain, false, 0));
        CHECK_OK(mp_sem_release(&p->plain));
        CHECK_OK(mp_sem_undo_release(u));
    }
    CHECK_OK(mp_sem_undo_destroy(u));
    CHECK_OK(mp_sem_destroy(&p->plain));
}

/* ---- fallback (robust mode off) ------------------------------------------------------- */

static void fallback_once(mp_sem_undo_t *s, struct death *d, double *latency_ms) {
    d->ready = 0;
    d->admitted = 0;
    pid_t holder = fork();
    if (holder == 0) {
        if (mp_sem_undo_acquire(s, true, MP_FOREVER) != MP_OK) _exit(2);
        d->ready = 1;
        for (;;) pause();
    }
    wait_flag(&d->ready);
    pid_t waiter = fork();
    if (waiter == 0) {
        mp_status r = mp_sem_undo_acquire(s, true, 10000);
        d->t_admit = mpt_now_ns();
        d->status = r;
        d->admitted = 1;
        _exit(r == MP_OWNER_DEAD && mp_sem_undo_release(s) == MP_OK ? 0 : 1);
    }
    mpt_wait_sleeping(waiter, 0);
    int64_t t0 = mpt_now_ns();
    mpt_kill_and_reap(holder);
    mpt_wait_ok(waiter);
    CHECK_ST(d->status, MP_OWNER_DEAD);
    *latency_ms = (d->t_admit - t0) / 1e6;
}

TEST(fallback_mode_admits_a_waiter_by_the_backstop) {
    setenv("MPSYNC_NO_ROBUST", "1", 1);
    CHECK(mp_robust_mode() == MP_ROBUST_OFF);
    mp_sem_undo_t *s = new_undo_inplace(1, 1);
    struct death *d = mpt_shared(sizeof *d);
    double worst = 0;
    for (int i = 0; i < 10; i++) {
        double ms;
        fallback_once(s, d, &ms);
        if (ms > worst) worst = ms;
    }
    fprintf(stderr, "fallback mode: kill -> admission at most %.1f ms over 10 kills\n", worst);
    CHECK(value_of(s) == 1);
}

/* ---- PID namespaces ---------------------------------------------------------------------- */

struct ns_hold { volatile int ready, release_now, release_status, inner_pid, holder_pid; };

/* A holder in a new PID namespace (PID 1 there), in memory shared with us. Returns the
 * outer child, or -1 (test skipped) when namespaces are unavailable. */
static pid_t holder_in_new_pidns(mp_sem_undo_t *s, struct ns_hold *h) {
    pid_t outer = fork();
    CHECK(outer >= 0);
    if (outer == 0) {
        if (unshare(CLONE_NEWPID) != 0) _exit(77);
        pid_t inner = fork();
        if (inner == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (mp_sem_undo_acquire(s, true, MP_FOREVER) != MP_OK) _exit(2);
            h->holder_pid = getpid();
            h->ready = 1;
            while (!h->release_now) usleep(1000);
            h->release_status = mp_sem_undo_release(s);
            _exit(0);
        }
        h->inner_pid = inner;
        int st = 0;
        waitpid(inner, &st, 0);
        _exit(0);
    }
    int64_t end = mpt_now_ns() + 20000000000LL;
    /* Both: the holder may be ready before the outer child has stored its pid (and a
     * kill(0, ...) would hit our own process group). */
    while (!h->ready || h->inner_pid == 0) {
        int st = 0;
        if (waitpid(outer, &st, WNOHANG) == outer) {
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 77);
            fprintf(stderr, "SKIP: PID namespaces unavailable (needs root)\n");
            return -1;
        }
        CHECK(mpt_now_ns() < end);
        usleep(500);
    }
    CHECK(h->holder_pid == 1);
    return outer;
}

TEST(holder_killed_in_another_pid_namespace_gives_its_unit_back) {
    mp_sem_undo_t *s = new_undo_inplace(1, 1);
    struct ns_hold *h = mpt_shared(sizeof *h);
    pid_t outer = holder_in_new_pidns(s, h);
    if (outer < 0) return;
    /* The kernel compares the slot's TID (1) in the dying thread's own namespace. */
    CHECK(kill(h->inner_pid, SIGKILL) == 0);
    mpt_wait_ok(outer);
    CHECK_ST(mp_sem_undo_acquire(s, true, 5000), MP_OWNER_DEAD);
    CHECK_OK(mp_sem_undo_release(s));
    CHECK(value_of(s) == 1);
}

TEST(live_holder_in_another_pid_namespace_keeps_its_unit) {
    /* The holder's ids (PID 1) mean something else in our /proc: through several
     * back-stop rounds the waiter must keep waiting (a live holder's unit is never
     * taken). */
    mp_sem_undo_t *s = new_undo_inplace(1, 1);
    struct ns_hold *h = mpt_shared(sizeof *h);
    pid_t outer = holder_in_new_pidns(s, h);
    if (outer < 0) return;
    CHECK_ST(mp_sem_undo_acquire(s, true, 1500), MP_TIMEOUT); /* several back-stop rounds */
    h->release_now = 1;
    mpt_wait_ok(outer);
    CHECK_ST(h->release_status, MP_OK);
    CHECK_OK(mp_sem_undo_acquire(s, true, 2000));
    CHECK_OK(mp_sem_undo_release(s));
}

/* ---- a peer that scribbles -------------------------------------------------------------- */

TEST(hostile_peer_scribbling_on_the_slot_table_crashes_nobody) {
    mp_sem_undo_t *victim = new_undo_inplace(2, 2);
    mp_sem_undo_t *bystander = new_undo_inplace(2, 2);
    volatile int *stop = mpt_shared(4096);
    pid_t users[2];
    for (int u = 0; u < 2; u++) {
        users[u] = fork();
        if (users[u] == 0) {
            /* Users of the damaged semaphore may see any status, never crash. */
            while (!*stop) {
                mp_status r = mp_sem_undo_acquire(victim, true, 20);
                if (r == MP_OK || r == MP_OWNER_DEAD) (void)mp_sem_undo_release(victim);
                (void)mp_sem_undo_release(victim);
                uint32_t v;
                (void)mp_sem_undo_get_value(victim, &v);
                (void)mp_sem_undo_held(victim, &v);
            }
            _exit(0);
        }
    }
    pid_t scribbler = fork();
    if (scribbler == 0) {
        uint64_t x = 88172645463325252ull;
        while (!*stop) {
            /* Random words anywhere after the header: value, tags, slot words, states,
             * nodes, records. */
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            size_t off = 8 + (x % ((MP_SEM_UNDO_SIZE - 8) / 4)) * 4;
            *(volatile uint32_t *)((char *)victim + off) = (uint32_t)(x >> 32);
        }
        _exit(0);
    }
    int64_t end = mpt_now_ns() + 2000000000LL;
    while (mpt_now_ns() < end) {
        /* The bystander in the same process keeps working throughout. */
        CHECK_OK(mp_sem_undo_acquire(bystander, true, 5000));
        CHECK_OK(mp_sem_undo_release(bystander));
    }
    *stop = 1;
    mpt_wait_ok(scribbler);
    mpt_wait_ok(users[0]);
    mpt_wait_ok(users[1]);
    CHECK(value_of(bystander) == 2);
}

/* ---- the kill loop ---------------------------------------------------------------------- */

enum { PH_IDLE, PH_ACQUIRING, PH_HOLDING, PH_RELEASING };

struct loop {
    char sem[MP_SEM_UNDO_SIZE];
    _Atomic uint64_t in_use;     /* bit i: holder i is between acquire and release */
    _Atomic uint64_t reports;    /* MP_OWNER_DEAD seen by holders */
    _Atomic uint64_t errors;
    volatile int phase[HOLDERS];
    volatile int parked[HOLDERS];
    volatile int started[HOLDERS];
    volatile int pause;     /* 0: run; n: park for pause number n */
    volatile int stop;
    char error[200];
};

static void loop_fail(struct loop *l, const char *what, mp_status st) {
    if (atomic_fetch_add(&l->errors, 1) == 0) snprintf(l->error, sizeof l->error, "%s: %s", what, mp_status_name(st));
}

static void holder_main(struct loop *l, int me) {
    mp_sem_undo_t *s = (mp_sem_undo_t *)l->sem;
    l->started[me] = 1;
    while (!l->stop) {
        int gen = l->pause;
        if (gen) {
            /* Parked for pause number `gen`: the parent waits for exactly that. */
            l->parked[me] = gen;
            while (l->pause == gen && !l->stop) usleep(50);
            continue;
        }
        l->phase[me] = PH_ACQUIRING;
        mp_status st = mp_sem_undo_acquire(s, true, 10000);
        if (st != MP_OK && st != MP_OWNER_DEAD) {
            loop_fail(l, "holder acquire", st);
            l->phase[me] = PH_IDLE;
            continue;
        }
        l->phase[me] = PH_HOLDING;
        if (st == MP_OWNER_DEAD) atomic_fetch_add(&l->reports, 1);
        uint64_t before = atomic_fetch_or(&l->in_use, 1ull << me);
        if (__builtin_popcountll(before | (1ull << me)) > K) loop_fail(l, "more than K units in use", MP_OK);
        usleep(50); /* hold for a while, so that the others wait */
        atomic_fetch_and(&l->in_use, ~(1ull << me));
        l->phase[me] = PH_RELEASING;
        st = mp_sem_undo_release(s);
        if (st != MP_OK) loop_fail(l, "holder release", st);
        l->phase[me] = PH_IDLE;
        usleep(20); /* think time: 4 holders on 2 CPUs still contend for K units */
    }
    _exit(0);
}

static pid_t spawn_holder(struct loop *l, int me) {
    l->started[me] = 0;
    l->parked[me] = 0;
    l->phase[me] = PH_IDLE;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) holder_main(l, me);
    return pid;
}

/* Waits (yielding, up to 20 s) until *flag is set or a holder reported an error. */
static void spin_until(volatile int *flag, struct loop *l) {
    int64_t end = mpt_now_ns() + 20000000000LL;
    while (!*flag && !l->errors) {
        if (mpt_now_ns() > end) {
            fprintf(stderr, "kill loop: a holder is stuck\n");
            CHECK(0);
        }
        sched_yield();
    }
}

static void spin_until_eq(volatile int *word, int value, struct loop *l) {
    int64_t end = mpt_now_ns() + 20000000000LL;
    while (*word != value && !l->errors) {
        if (mpt_now_ns() > end) {
            fprintf(stderr, "kill loop: a holder never parked\n");
            CHECK(0);
        }
        sched_yield();
    }
}

/* With everyone idle and every dead holder's units taken back: the value word plus the
 * units recorded in all holder slots is exactly K, and no operation that changed the
 * value is left uncommitted (raw layout, docs/abi.md: value word at +8, slots of 64
 * bytes from +64, state at slot + 8). */
static void check_conservation(struct loop *l, long it) {
    uint32_t raw = *(volatile uint32_t *)(l->sem + 8);
    long total = raw & MP_SEM_UNDO_VALUE_MAX;
    for (int j = 0; j < MP_SEM_UNDO_HOLDERS; j++) {
        uint64_t st = *(volatile uint64_t *)(l->sem + 64 + 64 * j + 8);
        total += (long)(st & 0xffffff);
        /* A dead holder's operation that never reached the value word may stay pending
         * (nobody needed that slot yet); one that did must have been settled. */
        int pending = (st >> 48) & 1, pending_parity = !((st >> 50) & 1);
        int tagged = ((raw >> 23) & 0x7f) == (uint32_t)j + 1 && (int)((raw >> 30) & 1) == pending_parity;
        if (pending && tagged) {
            fprintf(stderr, "kill %ld: slot %d has an unsettled operation (state %llx, value word %08x)\n", it, j,
                    (unsigned long long)st, raw);
            CHECK(0);
        }
    }
    if (total != K) {
        fprintf(stderr, "kill %ld: value word %08x, units in all = %ld, want %d\n", it, raw, total, K);
        CHECK(0);
    }
}

static void kill_loop(long kills, unsigned seed) {
    struct loop *l = mpt_shared(sizeof *l);
    int robust = mp_robust_mode() != MP_ROBUST_OFF;
    mp_sem_undo_t *s = (mp_sem_undo_t *)l->sem;
    CHECK_OK(mp_sem_undo_init(s, K, K));
    pid_t pids[HOLDERS];
    for (int i = 0; i < HOLDERS; i++) pids[i] = spawn_holder(l, i);
    srand(seed);
    long holding = 0, idle = 0, ambiguous = 0, reported = 0;
    long by_holders = 0;
    int prev_phase = -1;
    int64_t t0 = mpt_now_ns();
    for (long it = 0; it < kills; it++) {
        int v = rand() % HOLDERS;
        spin_until(&l->started[v], l);
        usleep(rand() % 300);
        kill(pids[v], SIGSTOP);
        int wst;
        CHECK(waitpid(pids[v], &wst, WUNTRACED) == pids[v]);
        int phase = l->phase[v];
        atomic_fetch_and(&l->in_use, ~(1ull << v)); /* it is stopped: exact */
        kill(pids[v], SIGKILL);
        CHECK(waitpid(pids[v], NULL, 0) == pids[v]);
        /* Everyone idle: the value is K again (the dead one's units count, once the
         * kernel marked its slot; in fallback mode only after a waiter's back-stop). */
        l->pause = (int)it + 1;
        for (int i = 0; i < HOLDERS; i++)
            if (i != v) spin_until_eq(&l->parked[i], (int)it + 1, l);
        if (l->errors) break;
        uint32_t val = value_of(s);
        if (robust && val != K) {
            fprintf(stderr, "kill %ld (phase %d): value %u with everyone idle, want %d\n", it, phase, val, K);
            CHECK(0);
        }
        /* Take every unit ourselves: this collects a death report nobody took yet. */
        uint64_t seen = atomic_exchange(&l->reports, 0);
        uint64_t from_holders = seen;
        by_holders += (long)seen;
        for (int i = 0; i < K; i++) {
            mp_status st = mp_sem_undo_acquire(s, true, 5000);
            CHECK(st == MP_OK || st == MP_OWNER_DEAD);
            seen += st == MP_OWNER_DEAD;
        }
        for (int i = 0; i < K; i++) CHECK_OK(mp_sem_undo_release(s));
        val = value_of(s);
        if (val != K) {
            fprintf(stderr, "kill %ld (phase %d): value %u after taking every unit back, want %d\n", it, phase, val, K);
            CHECK(0);
        }
        check_conservation(l, it);
        reported += (long)seen;
        if (phase == PH_HOLDING) {
            holding++;
            if (seen != 1) {
                fprintf(stderr, "kill %ld: killed holding, %llu reports (%llu to holders); previous kill's phase %d\n", it,
                        (unsigned long long)seen, (unsigned long long)from_holders, prev_phase);
                CHECK(0);
            }
        } else if (phase == PH_IDLE) {
            idle++;
            if (seen != 0) { fprintf(stderr, "kill %ld: killed idle, %llu reports\n", it, (unsigned long long)seen); CHECK(0); }
        } else {
            ambiguous++;
            if (seen > 1) { fprintf(stderr, "kill %ld: %llu reports for one death\n", it, (unsigned long long)seen); CHECK(0); }
        }
        prev_phase = phase;
        pids[v] = spawn_holder(l, v);
        l->pause = 0;
    }
    l->stop = 1;
    for (int i = 0; i < HOLDERS; i++) waitpid(pids[i], NULL, 0);
    if (l->errors) { fprintf(stderr, "%s\n", l->error); CHECK(0); }
    CHECK(value_of(s) == K);
    fprintf(stderr, "kill loop: %ld kills in %.1f s (%ld holding, %ld idle, %ld inside acquire/release; %ld reports, "
            "%ld of them to the other holders)\n", kills, (mpt_now_ns() - t0) / 1e9, holding, idle, ambiguous, reported,
            by_holders);
}

TEST(kill_loop_10000_kills_over_4_holders) { kill_loop(getenv("SEM_UNDO_KILLS") ? atol(getenv("SEM_UNDO_KILLS")) : 10000, 1234); }

TEST(kill_loop_fallback_mode_100_kills) {
    setenv("MPSYNC_NO_ROBUST", "1", 1);
    kill_loop(100, 99);
}
