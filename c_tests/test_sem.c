/* mp_sem_t (CPython's multiprocessing.Semaphore / BoundedSemaphore) through the public
 * header: never more than k inside, bounds and MP_EOVERFLOW, creation arguments,
 * get_value / get_max_value, the timeout rules, exact counts, wake-ups of sleepers,
 * destroy while waited on (also by a waiter that was killed). */
#include "mpt_util.h"

static uint32_t value_of(mp_sem_t *s) { return MPT_U32(mp_sem_get_value, s); }

static uint32_t max_of(mp_sem_t *s) { return MPT_U32(mp_sem_get_max_value, s); }

struct k_shared {
    int in_flight;     /* atomic */
    int max_seen;      /* atomic */
    int over;          /* atomic: entries that saw more than k inside */
};

struct k_arg { mp_sem_t *sem; struct k_shared *s; int k; int iters; struct mpt_gate *gate; };

static int k_worker(void *p) {
    struct k_arg *a = p;
    mpt_gate_wait(a->gate);
    for (int i = 0; i < a->iters; i++) {
        if (i % 2) CHECK_OK(mp_sem_acquire(a->sem, true, MP_FOREVER));
        else CHECK_OK(mp_sem_acquire(a->sem, true, 600000));
        int now = __atomic_add_fetch(&a->s->in_flight, 1, __ATOMIC_SEQ_CST);
        if (now > a->k) __atomic_add_fetch(&a->s->over, 1, __ATOMIC_SEQ_CST);
        int m = __atomic_load_n(&a->s->max_seen, __ATOMIC_SEQ_CST);
        while (now > m && !__atomic_compare_exchange_n(&a->s->max_seen, &m, now, false, __ATOMIC_SEQ_CST,
                                                       __ATOMIC_SEQ_CST)) {}
        if (i % 8 == 0) usleep(50); /* sleep inside: the others fill the free slots */
        else sched_yield();
        __atomic_sub_fetch(&a->s->in_flight, 1, __ATOMIC_SEQ_CST);
        CHECK_OK(mp_sem_release(a->sem));
    }
    return 0;
}

/* Semaphore(3) shared by 6 processes: never more than 3 inside, and 3 is reached. */
TEST(sem_never_admits_more_than_k) {
    const int k = 3, nproc = 6;
    mp_sem_t *sem;
    CHECK_OK(mp_sem_new(k, MP_SEM_VALUE_MAX, &sem));
    struct k_shared *s = mpt_shared(sizeof *s);
    struct mpt_gate gate;
    mpt_gate_init(&gate);
    pid_t pids[6];
    struct k_arg a = {sem, s, k, 3000, &gate};
    for (int i = 0; i < nproc; i++) pids[i] = mpt_fork(k_worker, &a);
    mpt_gate_open(&gate);
    mpt_wait_all(pids, nproc);
    CHECK(s->over == 0);
    CHECK(s->max_seen <= k);
    CHECK(s->max_seen == k);
    CHECK(s->in_flight == 0);
    CHECK(value_of(sem) == (uint32_t)k);
    CHECK_OK(mp_sem_close(sem));
}

struct hold_arg { mp_sem_t *sem; int report_wr; int release_rd; int release_wr; };

static int hold_one_unit(void *p) {
    struct hold_arg *a = p;
    CHECK_OK(mp_sem_acquire(a->sem, true, 60000));
    CHECK(write(a->report_wr, "x", 1) == 1);
    close(a->release_wr); /* else our own copy keeps read() from seeing EOF */
    char c;
    while (read(a->release_rd, &c, 1) < 0 && errno == EINTR) {}
    CHECK_OK(mp_sem_release(a->sem));
    return 0;
}

/* Deterministic k: k processes each hold one unit of a BoundedSemaphore(k) at the
 * same time; the (k+1)-th cannot get in; when they leave the value is k again. */
TEST(sem_exactly_k_inside_together) {
    const int k = 4;
    mp_sem_t *sem;
    CHECK_OK(mp_sem_new(k, k, &sem));
    int rep[2], rel[2];
    CHECK(pipe(rep) == 0 && pipe(rel) == 0);
    struct hold_arg a = {sem, rep[1], rel[0], rel[1]};
    pid_t pids[4];
    for (int i = 0; i < k; i++) pids[i] = mpt_fork(hold_one_unit, &a);
    mpt_read_n(rep[0], k);
    CHECK(value_of(sem) == 0);
    CHECK_ST(mp_sem_acquire(sem, false, 0), MP_TIMEOUT);
    int64_t t0 = mpt_now_ns();
    CHECK_ST(mp_sem_acquire(sem, true, 40), MP_TIMEOUT);
    CHECK_NOT_EARLY(t0, mpt_now_ns(), 40);
    close(rel[1]);
    mpt_wait_all(pids, k);
    CHECK(value_of(sem) == (uint32_t)k);
    CHECK_ST(mp_sem_release(sem), MP_EOVERFLOW);
    CHECK_OK(mp_sem_close(sem));
}

/* BoundedSemaphore: over-release -> MP_EOVERFLOW with nothing changed;
 * BoundedSemaphore(0) is accepted and can never be acquired or released. */
TEST(sem_bounded_overflow) {
    mp_sem_t *s;
    CHECK_OK(mp_sem_new(2, 2, &s));
    CHECK(value_of(s) == 2 && max_of(s) == 2);
    CHECK_ST(mp_sem_release(s), MP_EOVERFLOW);
    CHECK(value_of(s) == 2);
    CHECK_OK(mp_sem_acquire(s, false, 0));
    CHECK(value_of(s) == 1);
    CHECK_OK(mp_sem_release(s));
    CHECK_ST(mp_sem_release(s), MP_EOVERFLOW);
    CHECK(value_of(s) == 2);
    CHECK_OK(mp_sem_acquire(s, false, 0));
    CHECK_OK(mp_sem_acquire(s, false, 0));
    CHECK_ST(mp_sem_acquire(s, false, 0), MP_TIMEOUT);
    CHECK(value_of(s) == 0);
    CHECK_OK(mp_sem_close(s));

    mp_sem_t *z;
    CHECK_OK(mp_sem_new(0, 0, &z));
    CHECK(value_of(z) == 0 && max_of(z) == 0);
    CHECK_ST(mp_sem_acquire(z, false, 0), MP_TIMEOUT);
    int64_t t0 = mpt_now_ns();
    CHECK_ST(mp_sem_acquire(z, true, 20), MP_TIMEOUT);
    CHECK_NOT_EARLY(t0, mpt_now_ns(), 20);
    CHECK_ST(mp_sem_release(z), MP_EOVERFLOW);
    CHECK(value_of(z) == 0);
    CHECK_OK(mp_sem_close(z));

    mp_sem_t *in_place = mpt_shared(sizeof(mp_sem_t));
    CHECK_OK(mp_sem_init(in_place, 0, 0));
    CHECK_ST(mp_sem_release(in_place), MP_EOVERFLOW);
    CHECK_OK(mp_sem_destroy(in_place));
}

/* A plain Semaphore's bound is MP_SEM_VALUE_MAX; value > max and max > MP_SEM_VALUE_MAX
 * are MP_EINVAL for init, new and open, and write nothing. */
TEST(sem_value_limits) {
    mp_sem_t *s;
    CHECK_OK(mp_sem_new(MP_SEM_VALUE_MAX, MP_SEM_VALUE_MAX, &s));
    CHECK(value_of(s) == MP_SEM_VALUE_MAX && max_of(s) == MP_SEM_VALUE_MAX);
    CHECK_ST(mp_sem_release(s), MP_EOVERFLOW);
    CHECK(value_of(s) == MP_SEM_VALUE_MAX);
    CHECK_OK(mp_sem_acquire(s, false, 0));
    CHECK(value_of(s) == MP_SEM_VALUE_MAX - 1);
    CHECK_OK(mp_sem_release(s));
    CHECK_ST(mp_sem_release(s), MP_EOVERFLOW);
    CHECK_OK(mp_sem_close(s));

    CHECK_OK(mp_sem_new(MP_SEM_VALUE_MAX - 2, MP_SEM_VALUE_MAX, &s));
    CHECK_OK(mp_sem_release(s));
    CHECK_OK(mp_sem_release(s));
    CHECK_ST(mp_sem_release(s), MP_EOVERFLOW);
    CHECK(value_of(s) == MP_SEM_VALUE_MAX);
    CHECK_OK(mp_sem_close(s));

    struct { uint32_t v, max; } bad[] = {
        {1, 0}, {3, 2}, {MP_SEM_VALUE_MAX, 5}, {0, (uint32_t)MP_SEM_VALUE_MAX + 1},
        {(uint32_t)MP_SEM_VALUE_MAX + 1, (uint32_t)MP_SEM_VALUE_MAX + 1}, {0, UINT32_MAX},
        {UINT32_MAX, UINT32_MAX}, {UINT32_MAX, 0}, {(uint32_t)MP_SEM_VALUE_MAX + 1, MP_SEM_VALUE_MAX},
    };
    mp_sem_t *mem = mpt_shared(sizeof(mp_sem_t));
    char name[64];
    mpt_name(name, sizeof name, "semlim");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mp_sem_t *out = (mp_sem_t *)(uintptr_t)0x1234;
        CHECK_ST(mp_sem_new(bad[i].v, bad[i].max, &out), MP_EINVAL);
        CHECK(out == (mp_sem_t *)(uintptr_t)0x1234);
        CHECK_ST(mp_sem_init(mem, bad[i].v, bad[i].max), MP_EINVAL);
        CHECK_ST(mp_sem_get_value(mem, &(uint32_t){0}), MP_EBADOBJ); /* init wrote nothing live */
        CHECK_ST(mp_sem_open(name, MP_CREATE, 0, bad[i].v, bad[i].max, &out), MP_EINVAL);
        CHECK(out == (mp_sem_t *)(uintptr_t)0x1234);
        CHECK(!mpt_file_exists(name));
    }
    /* Edge values that are fine. */
    CHECK_OK(mp_sem_init(mem, 0, MP_SEM_VALUE_MAX));
    CHECK(value_of(mem) == 0 && max_of(mem) == MP_SEM_VALUE_MAX);
    CHECK_OK(mp_sem_destroy(mem));
    CHECK_OK(mp_sem_init(mem, 7, 7));
    CHECK(value_of(mem) == 7 && max_of(mem) == 7);
    CHECK_OK(mp_sem_destroy(mem));
}

/* get_value follows acquire and release exactly. */
TEST(sem_get_value_tracks_operations) {
    mp_sem_t *s;
    CHECK_OK(mp_sem_new(5, 10, &s));
    for (uint32_t i = 5; i > 0; i--) {
        CHECK(value_of(s) == i);
        CHECK_OK(mp_sem_acquire(s, i % 2 == 0, 0));
    }
    CHECK(value_of(s) == 0);
    for (uint32_t i = 0; i < 10; i++) {
        CHECK(value_of(s) == i);
        CHECK_OK(mp_sem_release(s));
    }
    CHECK(value_of(s) == 10);
    CHECK_ST(mp_sem_release(s), MP_EOVERFLOW);
    CHECK(max_of(s) == 10);
    CHECK_OK(mp_sem_close(s));
}

/* Empty semaphore: block=false ignores the timeout, timeout 0 tries once, timed waits
 * never give up early; with a unit available every form takes it. */
TEST(sem_nonblocking_and_timed) {
    mp_sem_t *s;
    CHECK_OK(mp_sem_new(0, MP_SEM_VALUE_MAX, &s));
    mpt_check_timeouts_when_unavailable(&(struct mpt_obj){MPT_SEM, s});
    CHECK(value_of(s) == 0);
    const int64_t tos[] = {0, 1, 100, MP_FOREVER, -5, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof tos / sizeof tos[0]; i++) {
        CHECK_OK(mp_sem_release(s));
        CHECK_OK(mp_sem_acquire(s, i % 2 == 0, tos[i]));
        CHECK(value_of(s) == 0);
    }
    CHECK_OK(mp_sem_close(s));
}

struct rel_arg { mp_sem_t *sem; pid_t waiter; int units; };

static int release_when_waiter_sleeps(void *p) {
    struct rel_arg *a = p;
    mpt_wait_sleeping(a->waiter, 0);
    for (int i = 0; i < a->units; i++) CHECK_OK(mp_sem_release(a->sem));
    return 0;
}

/* A timed (or infinite) acquire succeeds when another process releases in time. */
TEST(sem_timed_acquire_succeeds_on_release) {
    mp_sem_t *s;
    CHECK_OK(mp_sem_new(0, 1, &s));
    const int64_t tos[] = {30000, MP_FOREVER, -3, INT64_MAX};
    for (size_t i = 0; i < sizeof tos / sizeof tos[0]; i++) {
        struct rel_arg a = {s, getpid(), 1};
        pid_t pid = mpt_fork(release_when_waiter_sleeps, &a);
        CHECK_OK(mp_sem_acquire(s, true, tos[i]));
        mpt_wait_ok(pid);
        CHECK(value_of(s) == 0);
    }
    CHECK_OK(mp_sem_close(s));
}

struct wake_shared { int done; };
struct wake_arg { mp_sem_t *sem; struct wake_shared *s; };

static int take_one(void *p) {
    struct wake_arg *a = p;
    CHECK_OK(mp_sem_acquire(a->sem, true, MP_FOREVER));
    __atomic_add_fetch(&a->s->done, 1, __ATOMIC_SEQ_CST);
    return 0;
}

/* Five processes asleep on an empty semaphore; five quick releases (one at a time,
 * then in a burst) wake every one of them: no lost wake-up. */
TEST(sem_every_sleeper_is_woken) {
    mp_sem_t *s;
    CHECK_OK(mp_sem_new(0, MP_SEM_VALUE_MAX, &s));
    struct wake_shared *sh = mpt_shared(sizeof *sh);
    struct wake_arg a = {s, sh};
    pid_t pids[5];
    for (int round = 0; round < 2; round++) {
        sh->done = 0;
        for (int i = 0; i < 5; i++) pids[i] = mpt_fork(take_one, &a);
        for (int i = 0; i < 5; i++) mpt_wait_sleeping(pids[i], 0);
        for (int i = 0; i < 5; i++) {
            CHECK_OK(mp_sem_release(s));
            /* round 0: one at a time (the next release only after a sleeper took the
             * unit); round 1: all five in a burst */
            if (round == 0) MPT_WAIT_UNTIL(__atomic_load_n(&sh->done, __ATOMIC_SEQ_CST) == i + 1, 30);
        }
        mpt_wait_all(pids, 5);
        CHECK(sh->done == 5);
        CHECK(value_of(s) == 0);
    }
    CHECK_OK(mp_sem_close(s));
}

struct mutex_shared { volatile long counter; volatile int inside; volatile int violations; };
struct mutex_arg { mp_sem_t *sem; struct mutex_shared *s; int id; long iters; struct mpt_gate *gate; };

static int sem_mutex_worker(void *p) {
    struct mutex_arg *a = p;
    mpt_gate_wait(a->gate);
    for (long i = 0; i < a->iters; i++) {
        if (i % 2) CHECK_OK(mp_sem_acquire(a->sem, true, MP_FOREVER));
        else {
            mp_status st;
            while ((st = mp_sem_acquire(a->sem, false, 100)) == MP_TIMEOUT) sched_yield();
            CHECK_OK(st);
        }
        if (a->s->inside) a->s->violations++;
        a->s->inside = a->id;
        long v = a->s->counter;
        if ((i & 1023) == 0) sched_yield();
        a->s->counter = v + 1;
        if (a->s->inside != a->id) a->s->violations++;
        a->s->inside = 0;
        CHECK_OK(mp_sem_release(a->sem));
    }
    return 0;
}

/* BoundedSemaphore(1) as a mutex: 4 processes x 100k, exact count (in place). */
TEST(sem_binary_exact_count_4_processes) {
    mp_sem_t *sem = mpt_shared(4096);
    CHECK_OK(mp_sem_init(sem, 1, 1));
    struct mutex_shared *s = mpt_shared(sizeof *s);
    struct mpt_gate gate;
    mpt_gate_init(&gate);
    pid_t pids[4];
    struct mutex_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct mutex_arg){sem, s, i + 1, 100000, &gate};
        pids[i] = mpt_fork(sem_mutex_worker, &a[i]);
    }
    mpt_gate_open(&gate);
    mpt_wait_all(pids, 4);
    CHECK(s->violations == 0);
    CHECK(s->counter == 400000);
    CHECK(value_of(sem) == 1);
    CHECK_OK(mp_sem_destroy(sem));
}

struct pc_shared { long consumed; };
struct pc_arg { mp_sem_t *items; struct pc_shared *s; int n; struct mpt_gate *gate; };

static int producer(void *p) {
    struct pc_arg *a = p;
    mpt_gate_wait(a->gate);
    for (int i = 0; i < a->n; i++) CHECK_OK(mp_sem_release(a->items));
    return 0;
}

static int consumer(void *p) {
    struct pc_arg *a = p;
    mpt_gate_wait(a->gate);
    for (int i = 0; i < a->n; i++) {
        CHECK_OK(mp_sem_acquire(a->items, true, MP_FOREVER));
        __atomic_add_fetch(&a->s->consumed, 1, __ATOMIC_SEQ_CST);
    }
    return 0;
}

/* 3 producers release and 3 consumers acquire 30k units each: every unit is counted
 * exactly once and the semaphore ends at 0. */
TEST(sem_producers_consumers_exact) {
    mp_sem_t *items;
    CHECK_OK(mp_sem_new(0, MP_SEM_VALUE_MAX, &items));
    struct pc_shared *s = mpt_shared(sizeof *s);
    struct mpt_gate gate;
    mpt_gate_init(&gate);
    struct pc_arg a = {items, s, 30000, &gate};
    pid_t pids[6];
    for (int i = 0; i < 3; i++) pids[i] = mpt_fork(consumer, &a);
    for (int i = 3; i < 6; i++) pids[i] = mpt_fork(producer, &a);
    mpt_gate_open(&gate);
    mpt_wait_all(pids, 6);
    CHECK(s->consumed == 90000);
    CHECK(value_of(items) == 0);
    CHECK_OK(mp_sem_close(items));
}

struct race_shared { int ok; int overflow; };
struct race_arg { mp_sem_t *sem; struct race_shared *s; struct mpt_gate *gate; };

static int release_race(void *p) {
    struct race_arg *a = p;
    mpt_gate_wait(a->gate);
    for (int i = 0; i < 200; i++) {
        mp_status st = mp_sem_release(a->sem);
        if (st == MP_OK) __atomic_add_fetch(&a->s->ok, 1, __ATOMIC_SEQ_CST);
        else if (st == MP_EOVERFLOW) __atomic_add_fetch(&a->s->overflow, 1, __ATOMIC_SEQ_CST);
        else CHECK_OK(st);
    }
    return 0;
}

/* The bound holds under concurrent releases (CPython's check-then-post does not):
 * 6 processes x 200 releases on an empty BoundedSemaphore(5): exactly 5 succeed. */
TEST(sem_bound_holds_under_concurrent_release) {
    for (int round = 0; round < 5; round++) {
        mp_sem_t *sem;
        CHECK_OK(mp_sem_new(0, 5, &sem));
        struct race_shared *s = mpt_shared(sizeof *s);
        struct mpt_gate gate;
        mpt_gate_init(&gate);
        struct race_arg a = {sem, s, &gate};
        pid_t pids[6];
        for (int i = 0; i < 6; i++) pids[i] = mpt_fork(release_race, &a);
        mpt_gate_open(&gate);
        mpt_wait_all(pids, 6);
        CHECK(s->ok == 5);
        CHECK(s->overflow == 6 * 200 - 5);
        CHECK(value_of(sem) == 5);
        CHECK_OK(mp_sem_close(sem));
        munmap(s, sizeof *s);
    }
}

static int block_on_sem(void *p) {
    CHECK_OK(mp_sem_acquire((mp_sem_t *)p, true, MP_FOREVER));
    return 0;
}

/* destroy with a sleeper is MP_EBUSY (and the sleeper still gets its unit). */
TEST(sem_destroy_busy_while_waited_on) {
    mp_sem_t *sem = mpt_shared(sizeof(mp_sem_t));
    CHECK_OK(mp_sem_init(sem, 0, 3));
    pid_t pid = mpt_fork(block_on_sem, sem);
    mpt_wait_sleeping(pid, 0);
    CHECK_ST(mp_sem_destroy(sem), MP_EBUSY);
    CHECK_OK(mp_sem_release(sem));
    mpt_wait_ok(pid);
    CHECK(value_of(sem) == 0);
    CHECK_OK(mp_sem_destroy(sem));
    CHECK_ST(mp_sem_destroy(sem), MP_EBADOBJ);
    CHECK_ST(mp_sem_release(sem), MP_EBADOBJ);
    CHECK_ST(mp_sem_acquire(sem, false, 0), MP_EBADOBJ);
    CHECK_ST(mp_sem_get_value(sem, &(uint32_t){0}), MP_EBADOBJ);
    CHECK_ST(mp_sem_get_max_value(sem, &(uint32_t){0}), MP_EBADOBJ);
    CHECK_OK(mp_sem_init(sem, 1, 1));
    CHECK(value_of(sem) == 1);
    CHECK_OK(mp_sem_destroy(sem));
}

/* A waiter that was SIGKILLed while asleep is no waiter (a regression: src/raw/sem.rs
 * kept it counted in `sleepers`, so the semaphore could never be destroyed: MP_EBUSY
 * forever). destroy must ask the kernel, not trust the count; a live sleeper still
 * makes it MP_EBUSY. */
TEST(sem_destroy_after_killed_waiter) {
    mp_sem_t *s = mpt_shared(4096);
    CHECK_OK(mp_sem_init(s, 0, 1));
    pid_t pid = mpt_fork(block_on_sem, s);
    mpt_wait_sleeping(pid, 0);
    CHECK(kill(pid, SIGKILL) == 0);
    CHECK(waitpid(pid, NULL, 0) == pid);
    /* The semaphore itself still works. */
    CHECK_OK(mp_sem_release(s));
    CHECK_OK(mp_sem_acquire(s, false, 0));
    pid_t live = mpt_fork(block_on_sem, s);
    mpt_wait_sleeping(live, 0);
    CHECK_ST(mp_sem_destroy(s), MP_EBUSY);
    CHECK(kill(live, SIGKILL) == 0);
    CHECK(waitpid(live, NULL, 0) == live);
    mp_status st = mp_sem_destroy(s);
    if (st == MP_EBUSY) {
        fprintf(stderr, "mp_sem_destroy is MP_EBUSY forever after a waiter was killed\n");
        _exit(1);
    }
    CHECK_OK(st);
}

/* One memfd mapped at two addresses is one semaphore. */
TEST(sem_same_memory_two_addresses) {
    struct mpt_two_maps m = mpt_map_twice();
    mp_sem_t *a = m.a, *b = m.b;
    CHECK_OK(mp_sem_init(a, 2, 2));
    CHECK_OK(mp_sem_acquire(b, false, 0));
    CHECK(value_of(a) == 1);
    CHECK_OK(mp_sem_acquire(a, false, 0));
    CHECK_ST(mp_sem_acquire(b, false, 0), MP_TIMEOUT);
    CHECK_OK(mp_sem_release(b));
    CHECK_OK(mp_sem_release(a));
    CHECK_ST(mp_sem_release(b), MP_EOVERFLOW);
    CHECK_OK(mp_sem_destroy(a));
    CHECK_ST(mp_sem_get_value(b, &(uint32_t){0}), MP_EBADOBJ);
    mpt_unmap_twice(&m);
}
