/* Barrier (mp_barrier_t) across real processes: 1,000 generations of 5 parties with index
 * and action checks, abort/reset while others wait, timeouts and failing actions break it,
 * a dead party never hangs the survivors, EINTR withdraws the caller, a late arrival (during
 * the action) affects only the next generation, named objects used by exec'ed processes,
 * and bad input. */
#define MPT_CHILD_MAIN
#include "mpt_util.h"

#define WAIT_UNTIL(expr) MPT_WAIT_UNTIL(expr, 30)

static uint32_t n_waiting(mp_barrier_t *b) {
    uint32_t n = 99;
    CHECK_OK(mp_barrier_n_waiting(b, &n));
    return n;
}

static bool is_broken(mp_barrier_t *b) {
    bool x = false;
    CHECK_OK(mp_barrier_is_broken(b, &x));
    return x;
}

#define GENS 1000
#define PARTIES 5

struct gs {
    mp_barrier_t b;
    uint32_t actions;               /* total action runs */
    uint32_t runs[GENS];            /* action runs per generation */
    uint32_t seen[GENS][PARTIES];   /* how often each index was handed out per generation */
    volatile int status[16];
    volatile uint32_t index[16];
};

struct actx {
    struct gs *s;
    uint32_t gen;
};

static int count_action(void *p) {
    struct actx *a = p;
    __atomic_fetch_add(&a->s->runs[a->gen], 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&a->s->actions, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static int generations_party(void *arg) {
    struct gs *s = arg;
    struct actx a = {s, 0};
    for (uint32_t g = 0; g < GENS; g++) {
        uint32_t idx = 99;
        a.gen = g;
        mp_status st = mp_barrier_wait(&s->b, 60000, count_action, &a, &idx);
        if (st != MP_OK) return 2;
        if (idx >= PARTIES) return 3;
        /* The action of generation g ran before anyone was released from it. */
        if (__atomic_load_n(&s->runs[g], __ATOMIC_SEQ_CST) != 1) return 4;
        if (__atomic_load_n(&s->actions, __ATOMIC_SEQ_CST) < g + 1) return 5;
        __atomic_fetch_add(&s->seen[g][idx], 1, __ATOMIC_SEQ_CST);
    }
    return 0;
}

TEST(barrier_1000_generations_5_processes) {
    struct gs *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_barrier_init(&s->b, PARTIES));
    pid_t p[PARTIES];
    double t0 = mpt_now_ms();
    for (int i = 0; i < PARTIES; i++) p[i] = mpt_fork(generations_party, s);
    for (int i = 0; i < PARTIES; i++) mpt_wait_ok(p[i]);
    fprintf(stderr, "%d generations of %d processes: %.0f ms\n", GENS, PARTIES, mpt_now_ms() - t0);
    CHECK(s->actions == GENS);
    for (int g = 0; g < GENS; g++) {
        CHECK(s->runs[g] == 1);
        for (int i = 0; i < PARTIES; i++) CHECK(s->seen[g][i] == 1); /* a permutation of 0..4 */
    }
    CHECK(!is_broken(&s->b));
    CHECK(n_waiting(&s->b) == 0);
    CHECK_OK(mp_barrier_destroy(&s->b));
}

static int fail_action(void *p) {
    (void)p;
    return 1;
}

TEST(barrier_single_party_and_null_index) {
    mp_barrier_t *b;
    CHECK_OK(mp_barrier_new(1, &b));
    uint32_t idx = 99, parties = 0;
    CHECK_OK(mp_barrier_parties(b, &parties));
    CHECK(parties == 1);
    struct gs *s = mpt_shared(sizeof *s);
    struct actx a = {s, 0};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(mp_barrier_wait(b, 0, count_action, &a, &idx));
        CHECK(idx == 0);
    }
    CHECK(s->actions == 3);
    CHECK_OK(mp_barrier_wait(b, MP_FOREVER, NULL, NULL, NULL));
    CHECK_ST(mp_barrier_wait(b, MP_FOREVER, fail_action, NULL, &idx), MP_EBROKEN);
    CHECK(is_broken(b));
    CHECK_OK(mp_barrier_reset(b));
    CHECK(!is_broken(b));
    CHECK_OK(mp_barrier_close(b));
}

/* A party process: waits, records the status and index. */
static pid_t spawn_party(struct gs *s, mp_barrier_t *b, int slot, int64_t timeout_ms) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        uint32_t idx = 99;
        double t0 = mpt_now_ms();
        mp_status st = mp_barrier_wait(b, timeout_ms, NULL, NULL, &idx);
        s->status[slot] = st;
        s->index[slot] = idx;
        if (st != MP_OK && idx != 99) _exit(6); /* index written only on success */
        if (timeout_ms > 0 && st == MP_EBROKEN && mpt_now_ms() - t0 < (double)timeout_ms &&
            s->status[15] == 0)
            _exit(4);
        _exit(0);
    }
    return pid;
}

/* One full generation: `n` parties in slots first..first+n-1 and the caller; every wait
 * succeeds and the indices are distinct (0..n). */
static void full_generation(struct gs *s, mp_barrier_t *b, int first, int n) {
    pid_t v[8];
    for (int i = 0; i < n; i++) v[i] = spawn_party(s, b, first + i, 60000);
    uint32_t idx = 99;
    CHECK_OK(mp_barrier_wait(b, 60000, NULL, NULL, &idx));
    for (int i = 0; i < n; i++) mpt_wait_ok(v[i]);
    uint32_t mask = 1u << idx;
    for (int i = first; i < first + n; i++) {
        CHECK(s->status[i] == MP_OK);
        mask |= 1u << s->index[i];
    }
    CHECK(mask == (1u << (n + 1)) - 1);
}

TEST(barrier_abort_while_others_wait) {
    struct gs *s = mpt_shared(sizeof *s);
    mp_barrier_t *b = &s->b;
    CHECK_OK(mp_barrier_init(b, 3));
    s->status[15] = 1; /* EBROKEN before the timeout is expected here */
    pid_t w[2] = {spawn_party(s, b, 0, 60000), spawn_party(s, b, 1, 60000)};
    WAIT_UNTIL(n_waiting(b) == 2);
    CHECK_ST(mp_barrier_destroy(b), MP_EBUSY);
    CHECK_OK(mp_barrier_abort(b));
    for (int i = 0; i < 2; i++) mpt_wait_ok(w[i]);
    CHECK(s->status[0] == MP_EBROKEN && s->status[1] == MP_EBROKEN);
    CHECK(is_broken(b));
    CHECK(n_waiting(b) == 0);
    CHECK_ST(mp_barrier_wait(b, MP_FOREVER, NULL, NULL, NULL), MP_EBROKEN);
    CHECK_OK(mp_barrier_abort(b)); /* idempotent */
    CHECK_OK(mp_barrier_reset(b));
    CHECK(!is_broken(b));
    /* Usable again: a full generation with distinct indices. */
    full_generation(s, b, 2, 2);
    CHECK_OK(mp_barrier_destroy(b));
}

TEST(barrier_reset_while_others_wait) {
    struct gs *s = mpt_shared(sizeof *s);
    mp_barrier_t *b = &s->b;
    CHECK_OK(mp_barrier_init(b, 4));
    s->status[15] = 1;
    pid_t w[3] = {spawn_party(s, b, 0, 60000), spawn_party(s, b, 1, 60000),
                  spawn_party(s, b, 2, 60000)};
    WAIT_UNTIL(n_waiting(b) == 3);
    CHECK_OK(mp_barrier_reset(b));
    for (int i = 0; i < 3; i++) mpt_wait_ok(w[i]);
    for (int i = 0; i < 3; i++) CHECK(s->status[i] == MP_EBROKEN);
    CHECK(!is_broken(b)); /* reset leaves it usable */
    CHECK(n_waiting(b) == 0);
    CHECK_OK(mp_barrier_reset(b)); /* nobody waiting: no-op */
    for (int round = 0; round < 3; round++) full_generation(s, b, 3, 3);
}

TEST(barrier_timeout_breaks_it_for_everyone) {
    struct gs *s = mpt_shared(sizeof *s);
    mp_barrier_t *b = &s->b;
    CHECK_OK(mp_barrier_init(b, 3));
    s->status[15] = 1;
    pid_t w = spawn_party(s, b, 0, MP_FOREVER);
    WAIT_UNTIL(n_waiting(b) == 1);
    double t0 = mpt_now_ms();
    CHECK_ST(mp_barrier_wait(b, 100, NULL, NULL, NULL), MP_EBROKEN);
    CHECK(mpt_now_ms() - t0 >= 100.0);
    mpt_wait_ok(w);
    CHECK(s->status[0] == MP_EBROKEN);
    CHECK(is_broken(b));
    CHECK_ST(mp_barrier_wait(b, MP_FOREVER, NULL, NULL, NULL), MP_EBROKEN);
    CHECK_OK(mp_barrier_reset(b));
    /* timeout 0 does not wait: it breaks the barrier unless it completes it (CPython). */
    CHECK_ST(mp_barrier_wait(b, 0, NULL, NULL, NULL), MP_EBROKEN);
    CHECK(is_broken(b));
    CHECK_OK(mp_barrier_reset(b));
}

TEST(barrier_failing_action_breaks_it) {
    struct gs *s = mpt_shared(sizeof *s);
    mp_barrier_t *b = &s->b;
    CHECK_OK(mp_barrier_init(b, 2));
    s->status[15] = 1;
    pid_t w = spawn_party(s, b, 0, 60000);
    WAIT_UNTIL(n_waiting(b) == 1);
    CHECK_ST(mp_barrier_wait(b, 60000, fail_action, NULL, NULL), MP_EBROKEN);
    mpt_wait_ok(w);
    CHECK(s->status[0] == MP_EBROKEN);
    CHECK(is_broken(b));
}

TEST(barrier_dead_party_never_hangs_survivors) {
    struct gs *s = mpt_shared(sizeof *s);
    mp_barrier_t *b = &s->b;
    CHECK_OK(mp_barrier_init(b, 3));
    pid_t dead = spawn_party(s, b, 0, MP_FOREVER);
    WAIT_UNTIL(n_waiting(b) == 1);
    mpt_wait_sleeping(dead, 0);
    CHECK(kill(dead, SIGKILL) == 0);
    int st;
    CHECK(waitpid(dead, &st, 0) == dead && WIFSIGNALED(st));
    /* The dead party counted as arrived: the two survivors complete the generation and
     * are released (CPython's releasing party hangs in notify_all: gh-123899). */
    pid_t w = spawn_party(s, b, 1, 60000);
    WAIT_UNTIL(n_waiting(b) == 2);
    uint32_t idx = 99;
    CHECK_OK(mp_barrier_wait(b, 60000, NULL, NULL, &idx));
    mpt_wait_ok(w);
    CHECK(s->status[1] == MP_OK);
    CHECK(idx == 2 && s->index[1] == 1);
    /* Next generation with three live parties works. */
    pid_t v[2] = {spawn_party(s, b, 2, 60000), spawn_party(s, b, 3, 60000)};
    CHECK_OK(mp_barrier_wait(b, 60000, NULL, NULL, &idx));
    for (int i = 0; i < 2; i++) mpt_wait_ok(v[i]);
    CHECK(s->status[2] == MP_OK && s->status[3] == MP_OK);
    /* A dead party in an incomplete generation: the survivors' timeout breaks it, then
     * reset makes the barrier usable (and destroyable) again. */
    s->status[15] = 1;
    dead = spawn_party(s, b, 4, MP_FOREVER);
    WAIT_UNTIL(n_waiting(b) == 1);
    CHECK(kill(dead, SIGKILL) == 0);
    CHECK(waitpid(dead, &st, 0) == dead);
    CHECK_ST(mp_barrier_wait(b, 50, NULL, NULL, NULL), MP_EBROKEN);
    CHECK_OK(mp_barrier_reset(b));
    CHECK(n_waiting(b) == 0);
    CHECK_OK(mp_barrier_destroy(b));
}

static volatile int g_signals;
static void on_usr1(int sig) {
    (void)sig;
    g_signals++;
}

TEST(barrier_eintr_withdraws_the_caller) {
    struct gs *s = mpt_shared(sizeof *s);
    mp_barrier_t *b = &s->b;
    CHECK_OK(mp_barrier_init(b, 3));
    /* Party A (index 0) is interrupted while B (index 1) waits above it. */
    pid_t a = fork();
    CHECK(a >= 0);
    if (a == 0) {
        if (mpt_install_handler(SIGUSR1, on_usr1, 0) != 0) _exit(2); /* no SA_RESTART */
        uint32_t idx = 99;
        mp_status st = mp_barrier_wait(b, 60000, NULL, NULL, &idx);
        s->status[0] = st;
        s->index[0] = idx;
        if (st != MP_EINTR || idx != 99) _exit(3);
        /* Retry: a fresh arrival. */
        while (s->status[14] == 0) usleep(200); /* until the parent has checked n_waiting */
        st = mp_barrier_wait(b, 60000, NULL, NULL, &idx);
        s->status[1] = st;
        s->index[1] = idx;
        _exit(st == MP_OK ? 0 : 4);
    }
    WAIT_UNTIL(n_waiting(b) == 1);
    pid_t bparty = spawn_party(s, b, 2, 60000);
    WAIT_UNTIL(n_waiting(b) == 2);
    mpt_wait_sleeping(a, 0);
    double t0 = mpt_now_ms();
    while (s->status[0] == 0) {
        CHECK(mpt_now_ms() - t0 < 30000);
        kill(a, SIGUSR1);
        usleep(5000);
    }
    CHECK(s->status[0] == MP_EINTR);
    CHECK(n_waiting(b) == 1); /* withdrawn */
    CHECK(!is_broken(b));
    s->status[14] = 1;
    WAIT_UNTIL(n_waiting(b) == 2); /* A is back (it takes the index it gave back) */
    uint32_t idx = 99;
    CHECK_OK(mp_barrier_wait(b, 60000, NULL, NULL, &idx));
    mpt_wait_ok(a);
    mpt_wait_ok(bparty);
    CHECK(s->status[1] == MP_OK && s->status[2] == MP_OK);
    CHECK((1u << idx | 1u << s->index[1] | 1u << s->index[2]) == 7u);
    CHECK(s->index[1] == 0 && s->index[2] == 1 && idx == 2);
}

TEST(barrier_sigint_to_every_waiter_withdraws_them_all) {
    /* Like Ctrl-C to a process group: every waiter is interrupted, in any order. */
    struct gs *s = mpt_shared(sizeof *s);
    mp_barrier_t *b = &s->b;
    CHECK_OK(mp_barrier_init(b, 6));
    pid_t w[5];
    for (int i = 0; i < 5; i++) {
        w[i] = fork();
        CHECK(w[i] >= 0);
        if (w[i] == 0) {
            if (mpt_install_handler(SIGUSR1, on_usr1, 0) != 0) _exit(2);
            mp_status st = mp_barrier_wait(b, 60000, NULL, NULL, NULL);
            s->status[i] = st;
            _exit(st == MP_EINTR ? 0 : 3);
        }
        WAIT_UNTIL(n_waiting(b) == (uint32_t)i + 1);
    }
    for (int i = 0; i < 5; i++) mpt_wait_sleeping(w[i], 0);
    /* Lowest index first: the worst order for a single hole. */
    double t0 = mpt_now_ms();
    for (;;) {
        int left = 0;
        for (int i = 0; i < 5; i++)
            if (s->status[i] == 0) {
                kill(w[i], SIGUSR1);
                left++;
            }
        if (!left) break;
        CHECK(mpt_now_ms() - t0 < 30000);
        usleep(2000);
    }
    for (int i = 0; i < 5; i++) mpt_wait_ok(w[i]);
    CHECK(n_waiting(b) == 0);
    CHECK(!is_broken(b));
    CHECK_OK(mp_barrier_destroy(b));
}

/* ---- Defect 6: a late arrival belongs to the next generation ----------------------- */

struct late {
    mp_barrier_t b;
    volatile int action_started, action_done;
    volatile int status[4];
    volatile uint32_t index[4];
};

static int slow_action(void *p) {
    struct late *l = p;
    l->action_started = 1;
    usleep(300 * 1000); /* the generation is sealed meanwhile */
    l->action_done = 1;
    return 0;
}

/* A member of the first generation; slot 1 completes it and runs the slow action. */
static pid_t late_party(struct late *l, int slot, int64_t timeout_ms, bool with_action) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        uint32_t idx = 99;
        mp_status st =
            mp_barrier_wait(&l->b, timeout_ms, with_action ? slow_action : NULL, l, &idx);
        l->status[slot] = st;
        l->index[slot] = idx;
        _exit(0);
    }
    return pid;
}

/* Barrier(2) whose action takes 300 ms: A and B arrive and the action runs; meanwhile C
 * waits with a 50 ms timeout and D waits forever. C's timeout breaks C's generation (the
 * next one, which D joined), never the one A and B completed: A and B get their indices
 * (CPython: the same), C and D get MP_EBROKEN, and the barrier stays broken until reset. */
TEST(barrier_late_timeout_breaks_only_its_own_generation) {
    struct late *l = mpt_shared(sizeof *l);
    CHECK_OK(mp_barrier_init(&l->b, 2));
    pid_t a = late_party(l, 0, MP_FOREVER, false);
    WAIT_UNTIL(n_waiting(&l->b) == 1);
    pid_t b = late_party(l, 1, MP_FOREVER, true);
    WAIT_UNTIL(l->action_started);
    pid_t d = late_party(l, 3, MP_FOREVER, false); /* a late arrival without a timeout */
    mpt_wait_sleeping(d, 0);
    double t0 = mpt_now_ms();
    uint32_t idx = 99;
    mp_status c = mp_barrier_wait(&l->b, 50, NULL, NULL, &idx); /* C */
    double waited = mpt_now_ms() - t0;
    bool action_was_running = !l->action_done;
    mpt_wait_ok(a);
    mpt_wait_ok(b);
    mpt_wait_ok(d);
    fprintf(stderr, "A=%s/%u B=%s/%u C=%s after %.0f ms (action still running: %d) D=%s\n",
            mp_status_name(l->status[0]), l->index[0], mp_status_name(l->status[1]),
            l->index[1], mp_status_name(c), waited, action_was_running,
            mp_status_name(l->status[3]));
    CHECK(l->status[0] == MP_OK && l->status[1] == MP_OK);
    CHECK((1u << l->index[0] | 1u << l->index[1]) == 3u);
    CHECK_ST(c, MP_EBROKEN);
    CHECK(idx == 99);
    CHECK(waited >= 50.0);
    CHECK(l->status[3] == MP_EBROKEN);
    CHECK(is_broken(&l->b)); /* C's generation broke: broken until reset, as in CPython */
    CHECK_ST(mp_barrier_wait(&l->b, MP_FOREVER, NULL, NULL, NULL), MP_EBROKEN);
    CHECK_OK(mp_barrier_reset(&l->b));
    CHECK(!is_broken(&l->b));
    l->status[0] = l->status[1] = 0;
    a = late_party(l, 0, 60000, false);
    b = late_party(l, 1, 60000, false);
    mpt_wait_ok(a);
    mpt_wait_ok(b);
    CHECK(l->status[0] == MP_OK && l->status[1] == MP_OK);
    CHECK_OK(mp_barrier_destroy(&l->b));
}

/* abort() from outside while the action runs breaks the generation an arrival would join
 * then (the next one); reset() then, or a late arrival's signal, leaves the completed
 * generation alone as well. */
TEST(barrier_abort_reset_eintr_during_action_spare_the_sealed_generation) {
    struct late *l = mpt_shared(sizeof *l);
    CHECK_OK(mp_barrier_init(&l->b, 2));
    for (int op = 0; op < 3; op++) {
        memset((void *)l->status, 0, sizeof l->status);
        l->action_started = l->action_done = 0;
        pid_t a = late_party(l, 0, 60000, false);
        WAIT_UNTIL(n_waiting(&l->b) == 1);
        pid_t b = late_party(l, 1, 60000, true);
        WAIT_UNTIL(l->action_started);
        if (op == 0) {
            CHECK_OK(mp_barrier_abort(&l->b));
            CHECK(is_broken(&l->b));
            CHECK_ST(mp_barrier_wait(&l->b, 60000, NULL, NULL, NULL), MP_EBROKEN);
        } else if (op == 1) {
            CHECK_OK(mp_barrier_reset(&l->b));
        } else {
            pid_t c = fork(); /* a late arrival interrupted by a signal handler */
            CHECK(c >= 0);
            if (c == 0) {
                if (mpt_install_handler(SIGUSR1, on_usr1, 0) != 0) _exit(2);
                l->status[2] = mp_barrier_wait(&l->b, 60000, NULL, NULL, NULL);
                _exit(0);
            }
            mpt_wait_sleeping(c, 0);
            double t0 = mpt_now_ms();
            while (l->status[2] == 0) {
                CHECK(mpt_now_ms() - t0 < 30000);
                kill(c, SIGUSR1);
                usleep(5000);
            }
            mpt_wait_ok(c);
            /* Interrupted while the action ran, or (a slow machine) it joined the next
             * generation and was interrupted there: never a broken barrier. */
            CHECK(l->status[2] == MP_EINTR);
        }
        mpt_wait_ok(a);
        mpt_wait_ok(b);
        fprintf(stderr, "op %d: A=%s B=%s\n", op, mp_status_name(l->status[0]),
                mp_status_name(l->status[1]));
        CHECK(l->status[0] == MP_OK && l->status[1] == MP_OK);
        CHECK((1u << l->index[0] | 1u << l->index[1]) == 3u);
        CHECK(is_broken(&l->b) == (op == 0));
        CHECK_OK(mp_barrier_reset(&l->b));
        CHECK(n_waiting(&l->b) == 0);
    }
    CHECK_OK(mp_barrier_destroy(&l->b));
}

/* Shared memory is untrusted: a state word that no barrier can hold (another process
 * wrote it) makes wait fail with MP_EBADOBJ, never hand out an index >= parties; reset
 * repairs it. (Offsets: the state word is the u64 at +8, COUNT in bits 0..16 and the
 * withdrawn index HOLE in bits 16..32; parties is the u32 at +20.) */
TEST(barrier_overwritten_state_is_ebadobj_and_reset_repairs_it) {
    struct gs *s = mpt_shared(sizeof *s);
    mp_barrier_t *b = &s->b;
    CHECK_OK(mp_barrier_init(b, 2));
    volatile uint64_t *state = (volatile uint64_t *)((char *)b + 8);
    volatile uint32_t *parties = (volatile uint32_t *)((char *)b + 20);
    *state = 5 | (uint64_t)3 << 16; /* 5 indices handed out of 2, index 3 given back */
    uint32_t idx = 99;
    mp_status st = mp_barrier_wait(b, 0, NULL, NULL, &idx);
    fprintf(stderr, "wait on an overwritten state: %s, index %u\n", mp_status_name(st), idx);
    CHECK_ST(st, MP_EBADOBJ);
    CHECK(idx == 99);
    CHECK_OK(mp_barrier_reset(b));
    CHECK(!is_broken(b) && n_waiting(b) == 0);
    pid_t w = spawn_party(s, b, 0, 60000);
    CHECK_OK(mp_barrier_wait(b, 60000, NULL, NULL, &idx));
    mpt_wait_ok(w);
    CHECK(s->status[0] == MP_OK && (1u << idx | 1u << s->index[0]) == 3u);
    *parties = 0;
    CHECK_ST(mp_barrier_wait(b, 0, NULL, NULL, &idx), MP_EBADOBJ);
    *parties = 1;
    CHECK_OK(mp_barrier_wait(b, 0, NULL, NULL, &idx));
    CHECK(idx == 0);
}

static int mpt_child(int argc, char **argv) {
    if (argc != 2 || strcmp(argv[0], "barrier-party") != 0) return 100;
    mp_barrier_t *b;
    if (mp_barrier_open(argv[1], 0, 0, 1, &b) != MP_OK) return 101;
    uint32_t parties = 0, idx = 99;
    if (mp_barrier_parties(b, &parties) != MP_OK || parties != 3) return 102;
    if (mp_barrier_wait(b, 30000, NULL, NULL, &idx) != MP_OK) return 103;
    mp_barrier_close(b);
    return (int)idx + 10;
}

TEST(barrier_named_with_exec_children) {
    char name[64];
    mpt_name(name, sizeof name, "barrier");
    mp_barrier_t *b, *dup;
    CHECK_ST(mp_barrier_open(name, MP_CREATE, 0, 0, &b), MP_EINVAL); /* parties == 0 */
    CHECK_OK(mp_barrier_open(name, MP_CREATE | MP_EXCL, 0600, 3, &b));
    CHECK_ST(mp_barrier_open(name, MP_CREATE | MP_EXCL, 0600, 3, &dup), MP_EEXIST);
    const char *args[] = {"barrier-party", name, NULL};
    pid_t c1 = mpt_spawn_child(args), c2 = mpt_spawn_child(args);
    uint32_t idx = 99;
    CHECK_OK(mp_barrier_wait(b, 30000, NULL, NULL, &idx));
    int st1, st2;
    CHECK(waitpid(c1, &st1, 0) == c1 && waitpid(c2, &st2, 0) == c2);
    CHECK(WIFEXITED(st1) && WIFEXITED(st2));
    int i1 = WEXITSTATUS(st1) - 10, i2 = WEXITSTATUS(st2) - 10;
    CHECK(i1 >= 0 && i1 < 3 && i2 >= 0 && i2 < 3);
    CHECK((1u << idx | 1u << i1 | 1u << i2) == 7u);
    CHECK_OK(mp_barrier_close(b));
    CHECK_OK(mp_unlink(name));
}

TEST(barrier_bad_input) {
    struct gs *s = mpt_shared(sizeof *s);
    mp_barrier_t *out = NULL;
    uint32_t u;
    bool x;
    CHECK_ST(mp_barrier_init(&s->b, 0), MP_EINVAL);
    CHECK_ST(mp_barrier_init(&s->b, MP_BARRIER_PARTIES_MAX + 1), MP_EINVAL);
    CHECK_ST(mp_barrier_init(NULL, 2), MP_EINVAL);
    CHECK_ST(mp_barrier_init((mp_barrier_t *)((char *)&s->b + 2), 2), MP_EINVAL);
    CHECK_ST(mp_barrier_new(0, &out), MP_EINVAL);
    CHECK_ST(mp_barrier_new(2, NULL), MP_EINVAL);
    CHECK_ST(mp_barrier_open(NULL, MP_CREATE, 0, 2, &out), MP_EINVAL);
    CHECK_ST(mp_barrier_open("", MP_CREATE, 0, 2, &out), MP_EINVAL);
    CHECK(out == NULL);
    /* Not initialised yet (zeroed memory). */
    CHECK_ST(mp_barrier_wait(&s->b, 0, NULL, NULL, NULL), MP_EBADOBJ);
    CHECK_ST(mp_barrier_abort(&s->b), MP_EBADOBJ);
    CHECK_ST(mp_barrier_reset(&s->b), MP_EBADOBJ);
    CHECK_ST(mp_barrier_parties(&s->b, &u), MP_EBADOBJ);
    CHECK_ST(mp_barrier_n_waiting(&s->b, &u), MP_EBADOBJ);
    CHECK_ST(mp_barrier_is_broken(&s->b, &x), MP_EBADOBJ);
    CHECK_ST(mp_barrier_destroy(&s->b), MP_EBADOBJ);
    CHECK_OK(mp_barrier_init(&s->b, MP_BARRIER_PARTIES_MAX));
    CHECK_OK(mp_barrier_parties(&s->b, &u));
    CHECK(u == MP_BARRIER_PARTIES_MAX);
    CHECK_ST(mp_barrier_wait(NULL, 0, NULL, NULL, NULL), MP_EINVAL);
    CHECK_ST(mp_barrier_abort(NULL), MP_EINVAL);
    CHECK_ST(mp_barrier_reset(NULL), MP_EINVAL);
    CHECK_ST(mp_barrier_parties(&s->b, NULL), MP_EINVAL);
    CHECK_ST(mp_barrier_n_waiting(NULL, &u), MP_EINVAL);
    CHECK_ST(mp_barrier_is_broken(&s->b, NULL), MP_EINVAL);
    CHECK_ST(mp_barrier_close(&s->b), MP_EINVAL); /* in place */
    CHECK_ST(mp_barrier_close(NULL), MP_EINVAL);
    mp_event_t *ev;
    CHECK_OK(mp_event_new(&ev));
    CHECK_ST(mp_barrier_abort((mp_barrier_t *)ev), MP_EBADOBJ);
    CHECK_OK(mp_event_close(ev));
    char name[64];
    mpt_name(name, sizeof name, "barrier-not");
    mp_cond_t *c;
    CHECK_OK(mp_cond_open(name, MP_CREATE, 0, &c));
    CHECK_ST(mp_barrier_open(name, 0, 0, 2, &out), MP_EBADOBJ);
    CHECK_OK(mp_cond_close(c));
    CHECK_OK(mp_unlink(name));
    CHECK_OK(mp_barrier_destroy(&s->b));
    CHECK_ST(mp_barrier_wait(&s->b, 0, NULL, NULL, NULL), MP_EBADOBJ);
    CHECK_ST(mp_barrier_destroy(&s->b), MP_EBADOBJ);
}
