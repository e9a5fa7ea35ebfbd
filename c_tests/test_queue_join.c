/*
 * test_queue_join.c — JoinableQueue's join when consumers die (docs/queue.md,
 * "JoinableQueue"): a consumer SIGKILLed between its get and its task_done must not
 * leave join waiting for ever; its messages count as abandoned, exactly.
 *
 *   - queue_join_after_consumer_killed: a consumer holding 3 messages (of 4 it got) is
 *     killed while the parent sleeps in join: join returns MP_OWNER_DEAD, abandoned is 3;
 *   - queue_join_waits_for_live_consumers: a live consumer's messages are waited for
 *     (timeout), and task_done by a process that took nothing still works;
 *   - queue_join_kill_loop: a consumer killed at random points of a get/task_done loop
 *     (JQ_KILLS times; `MPT_QUEUE_JOIN_KILLS` overrides): afterwards the parent takes the
 *     rest and holds H of them; then exactly H task_dones end join, one more is
 *     MP_EOVERFLOW, and the abandoned count is what the consumer held when it died.
 */
#include "mpt_util.h"

#define JQ_KILLS_DEFAULT 200
#define JQ_ROUND_MSGS 1024

struct jq_shared {
    volatile int ready;
    /* The consumer's own log: gets and task_dones begun and finished. */
    volatile uint64_t got_begun, got_done, done_begun, done_done;
};

static mp_queue_t *g_q;
static struct jq_shared *S;

static mp_queue_t *jq_new(void) {
    mp_queue_t *q = NULL;
    CHECK_OK(mp_queue_new(1 << 14, &q));
    return q;
}

static uint64_t jq_abandoned(void) {
    uint64_t n = 0;
    CHECK_OK(mp_queue_abandoned(g_q, &n));
    return n;
}

static void jq_put(int n) {
    for (int i = 0; i < n; i++) CHECK_OK(mp_queue_put(g_q, &i, sizeof i, false, 0));
}

static int jq_get(void) {
    int v = 0;
    size_t len = 0;
    return mp_queue_get(g_q, &v, sizeof v, &len, true, 10000) == MP_OK ? 0 : 1;
}

/* A fresh queue with `msgs` messages and a consumer child running `consumer`, once it
 * said it is ready. */
static pid_t jq_start(int msgs, int (*consumer)(void *)) {
    g_q = jq_new();
    S = mpt_shared(sizeof *S);
    jq_put(msgs);
    pid_t c = mpt_fork(consumer, NULL);
    MPT_WAIT_UNTIL(S->ready, 10);
    return c;
}

/* Gets 4, marks 1 done, then waits to be killed. */
static int hold_three(void *arg) {
    (void)arg;
    for (int i = 0; i < 4; i++)
        if (jq_get()) return 1;
    if (mp_queue_task_done(g_q) != MP_OK) return 2;
    S->ready = 1;
    for (;;) pause();
}

static int kill_later(void *arg) {
    usleep(100 * 1000);
    return kill(*(pid_t *)arg, SIGKILL) == 0 ? 0 : 1;
}

TEST(queue_join_after_consumer_killed) {
    pid_t holder = jq_start(5, hold_three);
    CHECK_ST(mp_queue_join(g_q, false, 0), MP_TIMEOUT);
    CHECK(jq_get() == 0); /* the fifth, held by us: join must wait for it too */
    pid_t killer = mpt_fork(kill_later, &holder);
    CHECK_ST(mp_queue_join(g_q, true, 300), MP_TIMEOUT);
    mpt_wait_ok(killer);
    int st;
    CHECK(waitpid(holder, &st, 0) == holder && WIFSIGNALED(st));
    CHECK_ST(mp_queue_join(g_q, false, 0), MP_TIMEOUT); /* ours is still unfinished */
    CHECK(jq_abandoned() == 3);
    CHECK_OK(mp_queue_task_done(g_q));
    CHECK_OK(mp_queue_join(g_q, false, 0)); /* nothing abandoned during this call */
    CHECK_ST(mp_queue_task_done(g_q), MP_EOVERFLOW);
    CHECK(jq_abandoned() == 3);
    CHECK_OK(mp_queue_close(g_q));
}

/* A blocked join woken by the death: the holder dies while we sleep in join. */
TEST(queue_join_blocked_until_consumer_killed) {
    pid_t holder = jq_start(4, hold_three);
    pid_t killer = mpt_fork(kill_later, &holder);
    CHECK_ST(mp_queue_join(g_q, true, 20000), MP_OWNER_DEAD);
    CHECK(jq_abandoned() == 3);
    mpt_wait_ok(killer);
    CHECK(waitpid(holder, NULL, 0) == holder);
    CHECK_OK(mp_queue_join(g_q, false, 0));
    CHECK_OK(mp_queue_close(g_q));
}

static int get_one_and_wait(void *arg) {
    (void)arg;
    if (jq_get()) return 1;
    S->ready = 1;
    while (S->ready != 2) usleep(1000);
    return mp_queue_task_done(g_q) == MP_OK ? 0 : 2;
}

TEST(queue_join_waits_for_live_consumers) {
    pid_t c = jq_start(2, get_one_and_wait);
    /* The live consumer's message is waited for; judging it is no reason to stop. */
    CHECK_ST(mp_queue_join(g_q, true, 450), MP_TIMEOUT);
    /* A task_done by a process that took nothing (the queued message) is allowed. */
    CHECK_OK(mp_queue_task_done(g_q));
    CHECK_ST(mp_queue_join(g_q, false, 0), MP_TIMEOUT);
    S->ready = 2;
    CHECK_OK(mp_queue_join(g_q, true, 20000));
    mpt_wait_ok(c);
    CHECK(jq_abandoned() == 0);
    CHECK_OK(mp_queue_close(g_q));
}

/* Gets and marks done in a tight loop, sometimes leaving messages undone, logging what
 * it began and finished; killed at a random moment. */
static int churn(void *arg) {
    uint64_t x = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    S->ready = 1;
    for (;;) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        S->got_begun++;
        if (jq_get()) return 1;
        S->got_done++;
        if (x % 3 == 0) continue; /* left undone: held until death */
        S->done_begun++;
        if (mp_queue_task_done(g_q) != MP_OK) return 2;
        S->done_done++;
    }
}

TEST(queue_join_kill_loop) {
    int kills = getenv("MPT_QUEUE_JOIN_KILLS") ? atoi(getenv("MPT_QUEUE_JOIN_KILLS"))
                                                : JQ_KILLS_DEFAULT;
    g_q = jq_new();
    S = mpt_shared(sizeof *S);
    uint64_t x = 88172645463325252ull;
    int rounds_held = 0, rounds_abandoned = 0, rounds_ambiguous = 0;
    for (int round = 0; round < kills; round++) {
        memset((void *)S, 0, sizeof *S);
        uint64_t abandoned_before = jq_abandoned();
        jq_put(JQ_ROUND_MSGS);
        pid_t c = mpt_fork(churn, (void *)(uintptr_t)(round + 1));
        MPT_WAIT_UNTIL(S->ready, 10);
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        usleep((useconds_t)(x % 500));
        mpt_kill_and_reap(c);
        /* Take what is left, and hold it. */
        int held = 0;
        int v;
        size_t len;
        while (mp_queue_get(g_q, &v, sizeof v, &len, false, 0) == MP_OK) held++;
        /* The consumer held between got - done_begun and got_begun - done_done. */
        mp_status st = mp_queue_join(g_q, false, 0);
        uint64_t abandoned = jq_abandoned() - abandoned_before;
        uint64_t lo = S->got_done - S->done_begun, hi = S->got_begun - S->done_done;
        if (abandoned < lo || abandoned > hi) {
            fprintf(stderr, "round %d: abandoned %llu outside [%llu, %llu]\n", round,
                    (unsigned long long)abandoned, (unsigned long long)lo,
                    (unsigned long long)hi);
            CHECK(0);
        }
        rounds_held += held > 0;
        rounds_abandoned += abandoned > 0;
        rounds_ambiguous += lo != hi;
        /* Exactly `held` remain unfinished: join ends with the last of our task_dones. */
        if (held > 0) {
            CHECK_ST(st, MP_TIMEOUT);
            for (int i = 0; i < held - 1; i++) CHECK_OK(mp_queue_task_done(g_q));
            CHECK_ST(mp_queue_join(g_q, false, 0), MP_TIMEOUT);
            CHECK_OK(mp_queue_task_done(g_q));
        }
        st = mp_queue_join(g_q, false, 0);
        CHECK(st == MP_OK || st == MP_OWNER_DEAD);
        CHECK_ST(mp_queue_task_done(g_q), MP_EOVERFLOW);
    }
    printf("%d kills: %d left messages to take, %d abandoned some, %d inside a get, a "
           "task_done or asleep\n", kills, rounds_held, rounds_abandoned, rounds_ambiguous);
    CHECK_OK(mp_queue_close(g_q));
}
