/* Condition (mp_cond_t) across real processes: notify counts, timeouts that do not
 * consume notifications, killed waiters that never hang a notifier, EINTR with the lock
 * re-acquired, a 1,000,000-item producer/consumer, named objects used by an exec'ed
 * process, and bad input. */
#define MPT_CHILD_MAIN
#include "mpt_util.h"

#define WAIT_UNTIL(expr) MPT_WAIT_UNTIL(expr, 30)

struct cs {
    mp_rlock_t lock;
    mp_lock_t plock;
    mp_cond_t cond;
    volatile int ready;
    volatile int woken;
    volatile int got_signal;
    volatile int returned;
    volatile int status[16];
    volatile uint32_t count[16];
};

static struct cs *new_cs(void) {
    struct cs *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_rlock_init(&s->lock));
    CHECK_OK(mp_lock_init(&s->plock));
    CHECK_OK(mp_cond_init(&s->cond));
    return s;
}

/* Holding the lock with ready == n proves that n waiters registered (each raised `ready`
 * under the lock, and only wait released it). Returns with the lock held. */
static void lock_when_ready(struct cs *s, int n) {
    double t0 = mpt_now_ms();
    for (;;) {
        CHECK_OK(mp_rlock_acquire(&s->lock, true, MP_FOREVER));
        if (s->ready == n) return;
        CHECK_OK(mp_rlock_release(&s->lock));
        CHECK(mpt_now_ms() - t0 < 30000);
        usleep(200);
    }
}

/* A waiter process: takes the lock, raises ready, waits (timeout_ms), records the result
 * in status[slot], raises woken on MP_OK. Exit 0 unless something unexpected happened. */
static pid_t spawn_waiter(struct cs *s, int slot, int64_t timeout_ms) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) _exit(2);
        s->ready++;
        double t0 = mpt_now_ms();
        mp_status st = mp_cond_wait(&s->cond, &s->lock, timeout_ms);
        double ms = mpt_now_ms() - t0;
        s->status[slot] = st;
        uint32_t n = 0;
        mp_rlock_count(&s->lock, &n);
        s->count[slot] = n;
        if (st == MP_OK) s->woken++;
        if (mp_rlock_release(&s->lock) != MP_OK) _exit(3);
        if (st == MP_TIMEOUT && timeout_ms > 0 && ms < (double)timeout_ms) _exit(4); /* early */
        _exit(n == 1 ? 0 : 5);
    }
    return pid;
}

TEST(cond_timeout_restores_rlock_levels_and_lock) {
    struct cs *s = new_cs();
    for (int i = 0; i < 3; i++) CHECK_OK(mp_rlock_acquire(&s->lock, true, MP_FOREVER));
    for (int64_t t = 0; t <= 60; t += 30) {
        double t0 = mpt_now_ms();
        CHECK_ST(mp_cond_wait(&s->cond, &s->lock, t), MP_TIMEOUT);
        CHECK(mpt_now_ms() - t0 >= (double)t);
        uint32_t n = 0;
        bool mine = false;
        CHECK_OK(mp_rlock_count(&s->lock, &n));
        CHECK_OK(mp_rlock_is_mine(&s->lock, &mine));
        CHECK(n == 3 && mine);
    }
    for (int i = 0; i < 3; i++) CHECK_OK(mp_rlock_release(&s->lock));

    CHECK_OK(mp_lock_acquire(&s->plock, true, MP_FOREVER));
    double t0 = mpt_now_ms();
    CHECK_ST(mp_cond_wait_lock(&s->cond, &s->plock, 40), MP_TIMEOUT);
    CHECK(mpt_now_ms() - t0 >= 40.0);
    bool locked = false;
    CHECK_OK(mp_lock_is_locked(&s->plock, &locked));
    CHECK(locked);
    CHECK_OK(mp_lock_release(&s->plock));
    CHECK_OK(mp_cond_destroy(&s->cond));
}

static int wait_not_owner(void *arg) {
    struct cs *s = arg;
    /* The parent holds the RLock: a forked child does not own it. */
    return mp_cond_wait(&s->cond, &s->lock, 10) == MP_ENOTOWNER ? 0 : 1;
}

TEST(cond_wait_without_the_lock_is_enotowner) {
    struct cs *s = new_cs();
    CHECK_ST(mp_cond_wait(&s->cond, &s->lock, 0), MP_ENOTOWNER);
    CHECK_ST(mp_cond_wait(&s->cond, &s->lock, MP_FOREVER), MP_ENOTOWNER);
    CHECK_ST(mp_cond_wait_lock(&s->cond, &s->plock, MP_FOREVER), MP_ENOTOWNER);
    CHECK_OK(mp_rlock_acquire(&s->lock, true, MP_FOREVER));
    mpt_wait_ok(mpt_fork(wait_not_owner, s));
    CHECK_OK(mp_rlock_release(&s->lock));
    CHECK_OK(mp_cond_destroy(&s->cond)); /* nothing was left registered */
}

TEST(cond_notify_counts_with_six_waiters) {
    struct cs *s = new_cs();
    pid_t w[6];
    for (int i = 0; i < 6; i++) w[i] = spawn_waiter(s, i, 60000);
    lock_when_ready(s, 6);
    CHECK_OK(mp_cond_notify(&s->cond, 2));
    CHECK_OK(mp_rlock_release(&s->lock));
    WAIT_UNTIL(s->woken == 2);
    usleep(200000); /* nobody else may wake */
    CHECK(s->woken == 2);
    CHECK_OK(mp_rlock_acquire(&s->lock, true, MP_FOREVER));
    CHECK_OK(mp_cond_notify(&s->cond, 4));
    CHECK_OK(mp_rlock_release(&s->lock));
    WAIT_UNTIL(s->woken == 6);
    for (int i = 0; i < 6; i++) mpt_wait_ok(w[i]);
    for (int i = 0; i < 6; i++) CHECK(s->status[i] == MP_OK && s->count[i] == 1);
    /* 0 more: nobody waits, a notify is a no-op and is not remembered. */
    CHECK_OK(mp_cond_notify(&s->cond, 3));
    CHECK_OK(mp_cond_notify_all(&s->cond));
    s->ready = 0;
    pid_t late = spawn_waiter(s, 6, 300);
    mpt_wait_ok(late);
    CHECK(s->status[6] == MP_TIMEOUT);
    CHECK_OK(mp_cond_destroy(&s->cond));
}

/* voluntary_ctxt_switches of a process: it grows each time the process sleeps again
 * after a wake-up, so an unchanged count means the process was never woken. */
static long vol_switches(pid_t pid) {
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1) break;
    fclose(f);
    return v;
}

/* No thundering herd: notify(1) with 8 sleeping waiters wakes one process, and the seven
 * others are not woken at all (their context-switch counts do not move). */
TEST(cond_notify_one_wakes_one_sleeper_only) {
    struct cs *s = new_cs();
    pid_t w[8];
    long before[8];
    for (int i = 0; i < 8; i++) s->status[i] = 99; /* not returned yet */
    for (int i = 0; i < 8; i++) w[i] = spawn_waiter(s, i, MP_FOREVER);
    lock_when_ready(s, 8);
    CHECK_OK(mp_rlock_release(&s->lock));
    for (int i = 0; i < 8; i++) mpt_wait_sleeping(w[i], 0);
    usleep(20000);
    for (int i = 0; i < 8; i++) before[i] = vol_switches(w[i]);
    CHECK_OK(mp_cond_notify(&s->cond, 1));
    WAIT_UNTIL(s->woken == 1);
    usleep(100000);
    int moved = 0;
    for (int i = 0; i < 8; i++) {
        if (s->status[i] == MP_OK) continue; /* the one that was notified */
        long after = vol_switches(w[i]);
        if (getenv("MPT_DEBUG")) fprintf(stderr, "waiter %d: %ld -> %ld\n", i, before[i], after);
        if (after != before[i]) moved++;
    }
    CHECK(s->woken == 1);
    CHECK(moved == 0);
    CHECK_OK(mp_cond_notify_all(&s->cond));
    for (int i = 0; i < 8; i++) mpt_wait_ok(w[i]);
    CHECK(s->woken == 8);
}

TEST(cond_notify_never_wakes_a_later_waiter) {
    struct cs *s = new_cs();
    pid_t a = spawn_waiter(s, 0, 60000);
    lock_when_ready(s, 1);
    CHECK_OK(mp_cond_notify(&s->cond, 5)); /* one waiter: one notification used */
    CHECK_OK(mp_rlock_release(&s->lock));
    mpt_wait_ok(a);
    CHECK(s->status[0] == MP_OK);
    /* The other 4 are not kept for a waiter that arrives later. */
    pid_t b = spawn_waiter(s, 1, 300);
    mpt_wait_ok(b);
    CHECK(s->status[1] == MP_TIMEOUT);
    /* Same with a waiter that arrives between two notifications. */
    s->ready = 0;
    pid_t c = spawn_waiter(s, 2, 60000);
    lock_when_ready(s, 1);
    CHECK_OK(mp_cond_notify(&s->cond, 1));
    CHECK_OK(mp_rlock_release(&s->lock));
    pid_t d = spawn_waiter(s, 3, 300);
    mpt_wait_ok(c);
    mpt_wait_ok(d);
    CHECK(s->status[2] == MP_OK && s->status[3] == MP_TIMEOUT);
}

TEST(cond_timed_out_waiters_do_not_consume_notifications) {
    struct cs *s = new_cs();
    pid_t shortw[3], longw[2];
    for (int i = 0; i < 3; i++) shortw[i] = spawn_waiter(s, i, 100);
    for (int i = 0; i < 2; i++) longw[i] = spawn_waiter(s, 3 + i, 60000);
    lock_when_ready(s, 5);
    CHECK_OK(mp_rlock_release(&s->lock));
    for (int i = 0; i < 3; i++) mpt_wait_ok(shortw[i]); /* includes "not before the timeout" */
    for (int i = 0; i < 3; i++) CHECK(s->status[i] == MP_TIMEOUT);
    CHECK(s->woken == 0);
    /* Exactly one of the two long waiters per notify(1), none lost to the timed-out ones. */
    CHECK_OK(mp_rlock_acquire(&s->lock, true, MP_FOREVER));
    CHECK_OK(mp_cond_notify(&s->cond, 1));
    CHECK_OK(mp_rlock_release(&s->lock));
    WAIT_UNTIL(s->woken == 1);
    usleep(100000);
    CHECK(s->woken == 1);
    CHECK_OK(mp_cond_notify(&s->cond, 1));
    WAIT_UNTIL(s->woken == 2);
    for (int i = 0; i < 2; i++) mpt_wait_ok(longw[i]);
    CHECK_OK(mp_cond_destroy(&s->cond));
}

TEST(cond_killed_waiter_never_hangs_notify) {
    struct cs *s = new_cs();
    pid_t w[4];
    for (int i = 0; i < 4; i++) w[i] = spawn_waiter(s, i, 60000);
    lock_when_ready(s, 4);
    CHECK_OK(mp_rlock_release(&s->lock));
    for (int i = 0; i < 4; i++) mpt_wait_sleeping(w[i], 0);
    mpt_kill_and_reap(w[0]);
    /* notify(1) returns at once (CPython's blocks forever here: gh-75158); the dead waiter
     * may absorb it. notify_all then wakes every live waiter. Both must simply return. */
    double t0 = mpt_now_ms();
    CHECK_OK(mp_cond_notify(&s->cond, 1));
    CHECK_OK(mp_cond_notify_all(&s->cond));
    fprintf(stderr, "notify + notify_all with a dead waiter: %.3f ms\n", mpt_now_ms() - t0);
    WAIT_UNTIL(s->woken == 3);
    for (int i = 1; i < 4; i++) mpt_wait_ok(w[i]);
    /* The dead waiter was forgotten by notify_all: the condition can be destroyed. */
    CHECK_OK(mp_cond_destroy(&s->cond));
}

TEST(cond_killed_waiters_then_notify_one_by_one) {
    /* Two dead waiters absorb at most two notifications; every live waiter is still woken
     * by notify(1) calls and nothing hangs. */
    struct cs *s = new_cs();
    pid_t w[5];
    for (int i = 0; i < 5; i++) w[i] = spawn_waiter(s, i, 60000);
    lock_when_ready(s, 5);
    CHECK_OK(mp_rlock_release(&s->lock));
    for (int i = 0; i < 5; i++) mpt_wait_sleeping(w[i], 0);
    mpt_kill_and_reap(w[1]);
    mpt_kill_and_reap(w[3]);
    for (int i = 0; i < 5; i++) CHECK_OK(mp_cond_notify(&s->cond, 1));
    WAIT_UNTIL(s->woken == 3);
    mpt_wait_ok(w[0]);
    mpt_wait_ok(w[2]);
    mpt_wait_ok(w[4]);
}

static uint32_t n_waiting(mp_cond_t *c) {
    uint32_t n = 0xdead;
    CHECK_OK(mp_cond_n_waiting(c, &n));
    return n;
}

/* mp_cond_n_waiting counts the waiters that no notify has picked: registered ones, not
 * those that timed out, nor those picked (already at the return of the notify, before
 * they run); a SIGKILLed waiter until a notify picks it or notify_all. */
TEST(cond_n_waiting_counts_waiters_not_yet_notified) {
    struct cs *s = new_cs();
    CHECK(n_waiting(&s->cond) == 0);
    pid_t w[3];
    for (int i = 0; i < 3; i++) w[i] = spawn_waiter(s, i, 60000);
    pid_t shortw = spawn_waiter(s, 3, 100);
    lock_when_ready(s, 4);
    CHECK(n_waiting(&s->cond) == 4);
    CHECK_OK(mp_rlock_release(&s->lock));
    mpt_wait_ok(shortw);
    CHECK(s->status[3] == MP_TIMEOUT && n_waiting(&s->cond) == 3);
    for (int i = 0; i < 3; i++) mpt_wait_sleeping(w[i], 0);
    mpt_kill_and_reap(w[0]);
    CHECK(n_waiting(&s->cond) == 3);
    CHECK_OK(mp_cond_notify(&s->cond, 1)); /* picks one, perhaps the dead one */
    CHECK(n_waiting(&s->cond) == 2);
    CHECK_OK(mp_cond_notify_all(&s->cond));
    CHECK(n_waiting(&s->cond) == 0);
    for (int i = 1; i < 3; i++) mpt_wait_ok(w[i]);
    CHECK(s->status[1] == MP_OK && s->status[2] == MP_OK);

    /* Bad input; a NULL out-parameter is reported first, as by every getter. */
    uint32_t n = 77;
    mp_cond_t *zero = mpt_shared(sizeof *zero);
    CHECK_ST(mp_cond_n_waiting(NULL, &n), MP_EINVAL);
    CHECK_ST(mp_cond_n_waiting(&s->cond, NULL), MP_EINVAL);
    CHECK_ST(mp_cond_n_waiting(zero, NULL), MP_EINVAL);
    CHECK_ST(mp_cond_n_waiting(zero, &n), MP_EBADOBJ);
    CHECK_ST(mp_cond_n_waiting((mp_cond_t *)&s->lock, &n), MP_EBADOBJ); /* an RLock */
    CHECK_ST(mp_cond_n_waiting((mp_cond_t *)((char *)&s->cond + 4), &n), MP_EBADOBJ);
    CHECK(n == 77);
    CHECK_OK(mp_cond_destroy(&s->cond));
    CHECK_ST(mp_cond_n_waiting(&s->cond, &n), MP_EBADOBJ);
    CHECK(n == 77);
}

static volatile int g_signals;
static void on_usr1(int sig) {
    (void)sig;
    g_signals++;
}

static void install_usr1(void) {
    CHECK(mpt_install_handler(SIGUSR1, on_usr1, 0) == 0); /* no SA_RESTART */
}

/* Sends SIGUSR1 until the child reports that its wait returned. */
static void signal_until_returned(struct cs *s, pid_t pid) {
    double t0 = mpt_now_ms();
    while (!s->returned) {
        CHECK(mpt_now_ms() - t0 < 30000);
        kill(pid, SIGUSR1);
        usleep(5000);
    }
}

TEST(cond_eintr_reacquires_rlock_with_its_levels) {
    struct cs *s = new_cs();
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        install_usr1();
        for (int i = 0; i < 2; i++)
            if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) _exit(2);
        s->ready = 1;
        mp_status st = mp_cond_wait(&s->cond, &s->lock, 60000);
        s->got_signal = g_signals;
        uint32_t n = 0;
        mp_rlock_count(&s->lock, &n);
        s->status[0] = st;
        s->count[0] = n;
        s->returned = 1;
        for (uint32_t i = 0; i < n; i++)
            if (mp_rlock_release(&s->lock) != MP_OK) _exit(3);
        _exit(0);
    }
    lock_when_ready(s, 1);
    /* We hold the lock: the interrupted wait must not return before it can re-take it. */
    mpt_wait_sleeping(pid, 0);
    CHECK(kill(pid, SIGUSR1) == 0);
    usleep(100000);
    CHECK(!s->returned);
    CHECK_OK(mp_rlock_release(&s->lock));
    signal_until_returned(s, pid); /* in case the first signal came before the sleep */
    mpt_wait_ok(pid);
    CHECK(s->status[0] == MP_EINTR);
    CHECK(s->count[0] == 2);
    CHECK(s->got_signal >= 1);
    CHECK_OK(mp_cond_destroy(&s->cond)); /* the interrupted waiter withdrew */
}

TEST(cond_eintr_with_lock_then_notify_still_works) {
    struct cs *s = new_cs();
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        install_usr1();
        if (mp_lock_acquire(&s->plock, true, MP_FOREVER) != MP_OK) _exit(2);
        s->ready = 1;
        mp_status st = mp_cond_wait_lock(&s->cond, &s->plock, 60000);
        bool locked = false;
        mp_lock_is_locked(&s->plock, &locked);
        s->status[0] = st;
        s->count[0] = locked;
        s->returned = 1;
        /* Retry, as a caller ignoring signals would: a notify must still reach us. */
        while (st == MP_EINTR) st = mp_cond_wait_lock(&s->cond, &s->plock, 60000);
        s->status[1] = st;
        if (mp_lock_release(&s->plock) != MP_OK) _exit(3);
        _exit(0);
    }
    WAIT_UNTIL(s->ready);
    signal_until_returned(s, pid);
    CHECK(s->status[0] == MP_EINTR && s->count[0] == 1);
    /* The child still holds the Lock until it waits again; once we get the lock it waits. */
    CHECK_OK(mp_lock_acquire(&s->plock, true, 30000));
    CHECK_OK(mp_cond_notify(&s->cond, 1));
    CHECK_OK(mp_lock_release(&s->plock));
    mpt_wait_ok(pid);
    CHECK(s->status[1] == MP_OK);
}

/* ---- producer/consumer: one RLock, two conditions, a bounded ring ---- */

#define PC_ITEMS 1000000u
#define PC_RING 64u
#define PC_PRODUCERS 4u
#define PC_CONSUMERS 4u

struct pc {
    mp_rlock_t lock;
    mp_cond_t not_full, not_empty;
    uint32_t head, tail, count, taken;
    uint32_t ring[PC_RING];
    uint64_t sum[PC_CONSUMERS];
    uint32_t n[PC_CONSUMERS];
    uint32_t waits;
    unsigned char seen[PC_ITEMS];
};

static int producer(struct pc *s, uint32_t p) {
    for (uint32_t id = p; id < PC_ITEMS; id += PC_PRODUCERS) {
        if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) return 2;
        while (s->count == PC_RING) {
            s->waits++;
            if (mp_cond_wait(&s->not_full, &s->lock, 60000) != MP_OK) return 3;
        }
        s->ring[s->tail] = id;
        s->tail = (s->tail + 1) % PC_RING;
        s->count++;
        if (mp_cond_notify(&s->not_empty, 1) != MP_OK) return 4;
        if (mp_rlock_release(&s->lock) != MP_OK) return 5;
    }
    return 0;
}

static int consumer(struct pc *s, uint32_t c) {
    for (;;) {
        if (mp_rlock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) return 2;
        while (s->count == 0 && s->taken < PC_ITEMS) {
            s->waits++;
            if (mp_cond_wait(&s->not_empty, &s->lock, 60000) != MP_OK) return 3;
        }
        if (s->taken == PC_ITEMS) {
            mp_rlock_release(&s->lock);
            return 0;
        }
        uint32_t id = s->ring[s->head];
        s->head = (s->head + 1) % PC_RING;
        s->count--;
        s->taken++;
        if (s->taken == PC_ITEMS) mp_cond_notify_all(&s->not_empty); /* let the others out */
        if (mp_cond_notify(&s->not_full, 1) != MP_OK) return 4;
        if (mp_rlock_release(&s->lock) != MP_OK) return 5;
        if (id >= PC_ITEMS) return 6;
        __atomic_fetch_add(&s->seen[id], 1, __ATOMIC_RELAXED);
        s->sum[c] += id;
        s->n[c]++;
    }
}

TEST(cond_producer_consumer_1m_items_4x4_processes) {
    struct pc *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_rlock_init(&s->lock));
    CHECK_OK(mp_cond_init(&s->not_full));
    CHECK_OK(mp_cond_init(&s->not_empty));
    pid_t pids[PC_PRODUCERS + PC_CONSUMERS];
    double t0 = mpt_now_ms();
    for (uint32_t i = 0; i < PC_PRODUCERS + PC_CONSUMERS; i++) {
        pids[i] = fork();
        CHECK(pids[i] >= 0);
        if (pids[i] == 0)
            _exit(i < PC_PRODUCERS ? producer(s, i) : consumer(s, i - PC_PRODUCERS));
    }
    for (uint32_t i = 0; i < PC_PRODUCERS + PC_CONSUMERS; i++) mpt_wait_ok(pids[i]);
    double ms = mpt_now_ms() - t0;
    uint64_t sum = 0, n = 0;
    for (uint32_t c = 0; c < PC_CONSUMERS; c++) {
        sum += s->sum[c];
        n += s->n[c];
    }
    CHECK(n == PC_ITEMS);
    CHECK(sum == (uint64_t)PC_ITEMS * (PC_ITEMS - 1) / 2);
    for (uint32_t i = 0; i < PC_ITEMS; i++) CHECK(s->seen[i] == 1);
    CHECK(s->count == 0 && s->taken == PC_ITEMS);
    fprintf(stderr, "%u items in %.0f ms (%.2f us/item), %u waits\n", PC_ITEMS, ms,
            ms * 1000.0 / PC_ITEMS, s->waits);
    CHECK_OK(mp_cond_destroy(&s->not_full));
    CHECK_OK(mp_cond_destroy(&s->not_empty));
}

/* The same with a plain Lock (mp_cond_wait_lock), smaller. */
struct pcl {
    mp_lock_t lock;
    mp_cond_t not_full, not_empty;
    uint32_t head, tail, count, taken, items;
    uint32_t ring[8];
    uint64_t sum;
};

static int pcl_run(void *arg, int producer_id, int consumer_side) {
    struct pcl *s = arg;
    if (!consumer_side) {
        for (uint32_t id = (uint32_t)producer_id; id < s->items; id += 2) {
            if (mp_lock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) return 2;
            while (s->count == 8)
                if (mp_cond_wait_lock(&s->not_full, &s->lock, 60000) != MP_OK) return 3;
            s->ring[s->tail] = id;
            s->tail = (s->tail + 1) % 8;
            s->count++;
            mp_cond_notify(&s->not_empty, 1);
            mp_lock_release(&s->lock);
        }
        return 0;
    }
    for (;;) {
        if (mp_lock_acquire(&s->lock, true, MP_FOREVER) != MP_OK) return 2;
        while (s->count == 0 && s->taken < s->items)
            if (mp_cond_wait_lock(&s->not_empty, &s->lock, 60000) != MP_OK) return 3;
        if (s->taken == s->items) {
            mp_lock_release(&s->lock);
            return 0;
        }
        s->sum += s->ring[s->head];
        s->head = (s->head + 1) % 8;
        s->count--;
        if (++s->taken == s->items) mp_cond_notify_all(&s->not_empty);
        mp_cond_notify(&s->not_full, 1);
        mp_lock_release(&s->lock);
    }
}

static int pcl_p0(void *a) { return pcl_run(a, 0, 0); }
static int pcl_p1(void *a) { return pcl_run(a, 1, 0); }
static int pcl_c(void *a) { return pcl_run(a, 0, 1); }

TEST(cond_producer_consumer_with_plain_lock) {
    struct pcl *s = mpt_shared(sizeof *s);
    s->items = 100000;
    CHECK_OK(mp_lock_init(&s->lock));
    CHECK_OK(mp_cond_init(&s->not_full));
    CHECK_OK(mp_cond_init(&s->not_empty));
    pid_t p[4] = {mpt_fork(pcl_p0, s), mpt_fork(pcl_p1, s), mpt_fork(pcl_c, s), mpt_fork(pcl_c, s)};
    for (int i = 0; i < 4; i++) mpt_wait_ok(p[i]);
    CHECK(s->taken == s->items);
    CHECK(s->sum == (uint64_t)s->items * (s->items - 1) / 2);
}

/* ---- named objects used by an unrelated (exec'ed) process ---- */

static int mpt_child(int argc, char **argv) {
    if (argc != 4 || strcmp(argv[0], "cond-waiter") != 0) return 100;
    mp_cond_t *c;
    mp_rlock_t *l;
    mp_event_t *ready;
    if (mp_cond_open(argv[1], 0, 0, &c) != MP_OK) return 101;
    if (mp_rlock_open(argv[2], 0, 0, &l) != MP_OK) return 102;
    if (mp_event_open(argv[3], 0, 0, &ready) != MP_OK) return 103;
    if (mp_rlock_acquire(l, true, MP_FOREVER) != MP_OK) return 104;
    if (mp_event_set(ready) != MP_OK) return 105;
    mp_status st = mp_cond_wait(c, l, 30000);
    if (st != MP_OK) return 106;
    uint32_t n = 0;
    if (mp_rlock_count(l, &n) != MP_OK || n != 1) return 107;
    if (mp_rlock_release(l) != MP_OK) return 108;
    mp_cond_close(c);
    mp_rlock_close(l);
    mp_event_close(ready);
    return 0;
}

TEST(cond_named_with_exec_child) {
    char cn[64], ln[64], en[64];
    mpt_name(cn, sizeof cn, "cond");
    mpt_name(ln, sizeof ln, "cond-lock");
    mpt_name(en, sizeof en, "cond-ready");
    mp_cond_t *c, *c2;
    mp_rlock_t *l;
    mp_event_t *ready;
    CHECK_OK(mp_cond_open(cn, MP_CREATE | MP_EXCL, 0600, &c));
    CHECK_ST(mp_cond_open(cn, MP_CREATE | MP_EXCL, 0600, &c2), MP_EEXIST);
    CHECK_OK(mp_cond_open(cn, MP_CREATE, 0600, &c2)); /* same object */
    CHECK_OK(mp_rlock_open(ln, MP_CREATE, 0, &l));
    CHECK_OK(mp_event_open(en, MP_CREATE, 0, &ready));
    const char *args[] = {"cond-waiter", cn, ln, en, NULL};
    pid_t pid = mpt_spawn_child(args);
    CHECK_OK(mp_event_wait(ready, 30000));
    /* The child set `ready` holding the lock; holding it now means the child waits. */
    CHECK_OK(mp_rlock_acquire(l, true, 30000));
    CHECK_OK(mp_cond_notify(c2, 1));
    CHECK_OK(mp_rlock_release(l));
    mpt_wait_ok(pid);
    CHECK_OK(mp_cond_close(c));
    CHECK_OK(mp_cond_close(c2));
    CHECK_OK(mp_rlock_close(l));
    CHECK_OK(mp_event_close(ready));
    CHECK_OK(mp_unlink(cn));
    CHECK_OK(mp_unlink(ln));
    CHECK_OK(mp_unlink(en));
    CHECK_ST(mp_cond_open(cn, 0, 0, &c), MP_ENOENT);
}

TEST(cond_anonymous_shared_with_fork) {
    mp_cond_t *c;
    mp_rlock_t *l;
    CHECK_OK(mp_cond_new(&c));
    CHECK_OK(mp_rlock_new(&l));
    volatile int *flag = mpt_shared(sizeof(int));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (mp_rlock_acquire(l, true, MP_FOREVER) != MP_OK) _exit(2);
        while (!*flag)
            if (mp_cond_wait(c, l, 30000) != MP_OK) _exit(3);
        mp_rlock_release(l);
        _exit(0);
    }
    usleep(20000);
    CHECK_OK(mp_rlock_acquire(l, true, MP_FOREVER));
    *flag = 1;
    CHECK_OK(mp_cond_notify_all(c));
    CHECK_OK(mp_rlock_release(l));
    mpt_wait_ok(pid);
    CHECK_ST(mp_cond_destroy(c), MP_EINVAL); /* not in place: close it */
    CHECK_OK(mp_cond_close(c));
    CHECK_OK(mp_rlock_close(l));
}

TEST(cond_bad_input) {
    struct cs *s = new_cs();
    mp_cond_t *out = NULL;
    CHECK_ST(mp_cond_init(NULL), MP_EINVAL);
    CHECK_ST(mp_cond_init((mp_cond_t *)((char *)&s->cond + 1)), MP_EINVAL);
    CHECK_ST(mp_cond_destroy(NULL), MP_EINVAL);
    CHECK_ST(mp_cond_new(NULL), MP_EINVAL);
    CHECK_ST(mp_cond_open(NULL, MP_CREATE, 0, &out), MP_EINVAL);
    CHECK_ST(mp_cond_open("/bad/name", MP_CREATE, 0, &out), MP_EINVAL);
    CHECK_ST(mp_cond_open("..", MP_CREATE, 0, &out), MP_EINVAL);
    CHECK_ST(mp_cond_open("/mpt-cond-x", 8, 0, &out), MP_EINVAL);
    CHECK_ST(mp_cond_open("/mpt-cond-x", MP_CREATE, 0, NULL), MP_EINVAL);
    CHECK(out == NULL);
    CHECK_ST(mp_cond_close(NULL), MP_EINVAL);
    CHECK_ST(mp_cond_close(&s->cond), MP_EINVAL); /* in place: destroy it */
    CHECK_ST(mp_cond_notify(NULL, 1), MP_EINVAL);
    CHECK_ST(mp_cond_notify_all(NULL), MP_EINVAL);
    CHECK_ST(mp_cond_wait(NULL, &s->lock, 0), MP_EINVAL);
    CHECK_ST(mp_cond_wait(&s->cond, NULL, 0), MP_EINVAL);
    CHECK_ST(mp_cond_wait_lock(&s->cond, NULL, 0), MP_EINVAL);

    /* Memory that does not hold a condition. */
    mp_cond_t *zero = mpt_shared(sizeof *zero);
    CHECK_ST(mp_cond_notify(zero, 1), MP_EBADOBJ);
    CHECK_ST(mp_cond_notify_all(zero), MP_EBADOBJ);
    CHECK_ST(mp_cond_destroy(zero), MP_EBADOBJ);
    memset(zero, 0xa5, sizeof *zero);
    CHECK_ST(mp_cond_notify(zero, 1), MP_EBADOBJ);
    CHECK_ST(mp_cond_notify((mp_cond_t *)&s->lock, 1), MP_EBADOBJ); /* an RLock */
    CHECK_OK(mp_rlock_acquire(&s->lock, true, MP_FOREVER));
    CHECK_ST(mp_cond_wait((mp_cond_t *)&s->plock, &s->lock, 0), MP_EBADOBJ);
    CHECK_ST(mp_cond_wait(&s->cond, (mp_rlock_t *)&s->plock, 0), MP_EBADOBJ); /* a Lock */
    CHECK_ST(mp_cond_wait(&s->cond, (mp_rlock_t *)&s->cond, 0), MP_EBADOBJ);
    CHECK_OK(mp_rlock_release(&s->lock));
    CHECK_OK(mp_lock_acquire(&s->plock, true, MP_FOREVER));
    CHECK_ST(mp_cond_wait_lock(&s->cond, (mp_lock_t *)&s->lock, 0), MP_EBADOBJ); /* an RLock */
    CHECK_OK(mp_lock_release(&s->plock));

    /* A name that holds another type. */
    char name[64];
    mpt_name(name, sizeof name, "cond-not");
    mp_lock_t *lk;
    CHECK_OK(mp_lock_open(name, MP_CREATE, 0, &lk));
    CHECK_ST(mp_cond_open(name, 0, 0, &out), MP_EBADOBJ);
    CHECK_OK(mp_lock_close(lk));
    CHECK_OK(mp_unlink(name));

    /* Destroy while a process waits: MP_EBUSY; afterwards every call is MP_EBADOBJ. */
    pid_t w = spawn_waiter(s, 0, 60000);
    lock_when_ready(s, 1);
    CHECK_ST(mp_cond_destroy(&s->cond), MP_EBUSY);
    CHECK_OK(mp_cond_notify(&s->cond, 1));
    CHECK_OK(mp_rlock_release(&s->lock));
    mpt_wait_ok(w);
    CHECK_OK(mp_cond_destroy(&s->cond));
    CHECK_ST(mp_cond_destroy(&s->cond), MP_EBADOBJ);
    CHECK_ST(mp_cond_notify(&s->cond, 1), MP_EBADOBJ);
    CHECK_OK(mp_rlock_acquire(&s->lock, true, MP_FOREVER));
    CHECK_ST(mp_cond_wait(&s->cond, &s->lock, 0), MP_EBADOBJ);
    uint32_t n = 0;
    CHECK_OK(mp_rlock_count(&s->lock, &n));
    CHECK(n == 1); /* untouched */
    CHECK_OK(mp_rlock_release(&s->lock));
    CHECK_OK(mp_cond_init(&s->cond)); /* re-initialisable */
    CHECK_OK(mp_cond_notify_all(&s->cond));
}
