/* Event (mp_event_t) across real processes: set wakes every waiter (even if cleared at
 * once), a killed waiter never hangs set, EINTR, timeouts, named objects used by an
 * exec'ed process, and bad input. */
#define MPT_CHILD_MAIN
#include "mpt_util.h"

#define WAIT_UNTIL(expr) MPT_WAIT_UNTIL(expr, 30)

struct es {
    mp_event_t ev;
    volatile int ready;
    volatile int returned;
    volatile int status[16];
};

static struct es *new_es(void) {
    struct es *s = mpt_shared(sizeof *s);
    CHECK_OK(mp_event_init(&s->ev));
    return s;
}

static pid_t spawn_waiter(struct es *s, int slot, int64_t timeout_ms) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        __atomic_fetch_add(&s->ready, 1, __ATOMIC_SEQ_CST);
        double t0 = mpt_now_ms();
        mp_status st = mp_event_wait(&s->ev, timeout_ms);
        s->status[slot] = st;
        if (st == MP_TIMEOUT && timeout_ms > 0 && mpt_now_ms() - t0 < (double)timeout_ms) _exit(4);
        _exit(0);
    }
    return pid;
}

/* Starts `n` waiters in slots 0..n-1 (no timeout) and returns once all of them sleep. */
static void spawn_sleeping_waiters(struct es *s, pid_t *w, int n) {
    for (int i = 0; i < n; i++) w[i] = spawn_waiter(s, i, 60000);
    WAIT_UNTIL(s->ready == n);
    for (int i = 0; i < n; i++) mpt_wait_sleeping(w[i], 0);
}

TEST(event_set_clear_is_set_and_timeouts) {
    struct es *s = new_es();
    bool set = true;
    CHECK_OK(mp_event_is_set(&s->ev, &set));
    CHECK(!set);
    CHECK_ST(mp_event_wait(&s->ev, 0), MP_TIMEOUT);
    for (int64_t t = 10; t <= 70; t += 30) {
        double t0 = mpt_now_ms();
        CHECK_ST(mp_event_wait(&s->ev, t), MP_TIMEOUT);
        CHECK(mpt_now_ms() - t0 >= (double)t);
    }
    CHECK_OK(mp_event_set(&s->ev));
    CHECK_OK(mp_event_set(&s->ev)); /* idempotent */
    CHECK_OK(mp_event_is_set(&s->ev, &set));
    CHECK(set);
    CHECK_OK(mp_event_wait(&s->ev, 0));
    CHECK_OK(mp_event_wait(&s->ev, MP_FOREVER));
    CHECK_OK(mp_event_clear(&s->ev));
    CHECK_OK(mp_event_clear(&s->ev));
    CHECK_OK(mp_event_is_set(&s->ev, &set));
    CHECK(!set);
    CHECK_ST(mp_event_wait(&s->ev, 0), MP_TIMEOUT);
    CHECK_OK(mp_event_destroy(&s->ev));
}

TEST(event_set_wakes_every_waiter_even_if_cleared_at_once) {
    struct es *s = new_es();
    pid_t w[5];
    spawn_sleeping_waiters(s, w, 5);
    CHECK_ST(mp_event_destroy(&s->ev), MP_EBUSY);
    CHECK_OK(mp_event_set(&s->ev));
    CHECK_OK(mp_event_clear(&s->ev));
    for (int i = 0; i < 5; i++) mpt_wait_ok(w[i]);
    for (int i = 0; i < 5; i++) CHECK(s->status[i] == MP_OK);
    bool set = true;
    CHECK_OK(mp_event_is_set(&s->ev, &set));
    CHECK(!set);
    /* Waiters that arrive after the pulse wait for the next one. */
    pid_t late = spawn_waiter(s, 5, 200);
    mpt_wait_ok(late);
    CHECK(s->status[5] == MP_TIMEOUT);
    CHECK_OK(mp_event_destroy(&s->ev));
}

TEST(event_killed_waiter_never_hangs_set) {
    struct es *s = new_es();
    pid_t w[3];
    spawn_sleeping_waiters(s, w, 3);
    CHECK(kill(w[1], SIGKILL) == 0);
    int st;
    CHECK(waitpid(w[1], &st, 0) == w[1] && WIFSIGNALED(st));
    double t0 = mpt_now_ms();
    CHECK_OK(mp_event_set(&s->ev)); /* CPython's Event.set() hangs here (gh-75158) */
    fprintf(stderr, "set with a dead waiter: %.3f ms\n", mpt_now_ms() - t0);
    mpt_wait_ok(w[0]);
    mpt_wait_ok(w[2]);
    CHECK(s->status[0] == MP_OK && s->status[2] == MP_OK);
    /* Later rounds work normally. */
    CHECK_OK(mp_event_clear(&s->ev));
    s->ready = 0;
    pid_t again = spawn_waiter(s, 3, 60000);
    WAIT_UNTIL(s->ready == 1);
    CHECK_OK(mp_event_set(&s->ev));
    mpt_wait_ok(again);
    CHECK(s->status[3] == MP_OK);
    /* The dead waiter is still counted, but nobody sleeps: destroy succeeds. */
    CHECK_OK(mp_event_destroy(&s->ev));
}

static volatile int g_signals;
static void on_usr1(int sig) {
    (void)sig;
    g_signals++;
}

/* Once the child `pid` is ready, sends it SIGUSR1 every 5 ms until its wait returned. */
static void signal_until_returned(struct es *s, pid_t pid) {
    WAIT_UNTIL(s->ready);
    double t0 = mpt_now_ms();
    while (!s->returned) {
        CHECK(mpt_now_ms() - t0 < 30000);
        kill(pid, SIGUSR1);
        usleep(5000);
    }
}

TEST(event_wait_interrupted_by_signal_is_eintr) {
    struct es *s = new_es();
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (mpt_install_handler(SIGUSR1, on_usr1, 0) != 0) _exit(2); /* no SA_RESTART */
        s->ready = 1;
        mp_status st = mp_event_wait(&s->ev, 60000);
        s->status[0] = st;
        s->returned = 1;
        /* A retry then sees the set. */
        s->status[1] = mp_event_wait(&s->ev, 60000);
        _exit(g_signals >= 1 ? 0 : 3);
    }
    signal_until_returned(s, pid);
    CHECK(s->status[0] == MP_EINTR);
    CHECK_OK(mp_event_set(&s->ev));
    mpt_wait_ok(pid);
    CHECK(s->status[1] == MP_OK);
    CHECK_OK(mp_event_destroy(&s->ev));
}

TEST(event_wait_interrupted_by_sa_restart_handler_is_eintr_too) {
    struct es *s = new_es();
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* SA_RESTART: the kernel would restart an untimed futex wait. */
        if (mpt_install_handler(SIGUSR1, on_usr1, SA_RESTART) != 0) _exit(2);
        s->ready = 1;
        s->status[0] = mp_event_wait(&s->ev, MP_FOREVER);
        s->returned = 1;
        _exit(0);
    }
    signal_until_returned(s, pid);
    mpt_wait_ok(pid);
    CHECK(s->status[0] == MP_EINTR);
}

TEST(event_anonymous_shared_with_fork) {
    mp_event_t *e, *go;
    CHECK_OK(mp_event_new(&e));
    CHECK_OK(mp_event_new(&go));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (mp_event_wait(go, 30000) != MP_OK) _exit(2);
        _exit(mp_event_set(e) == MP_OK ? 0 : 3);
    }
    CHECK_OK(mp_event_set(go));
    CHECK_OK(mp_event_wait(e, 30000));
    mpt_wait_ok(pid);
    CHECK_ST(mp_event_destroy(e), MP_EINVAL);
    CHECK_OK(mp_event_close(e));
    CHECK_OK(mp_event_close(go));
}

static int mpt_child(int argc, char **argv) {
    if (argc != 3 || strcmp(argv[0], "event-waiter") != 0) return 100;
    mp_event_t *go, *ack;
    if (mp_event_open(argv[1], 0, 0, &go) != MP_OK) return 101;
    if (mp_event_open(argv[2], 0, 0, &ack) != MP_OK) return 102;
    if (mp_event_wait(go, 30000) != MP_OK) return 103;
    if (mp_event_set(ack) != MP_OK) return 104;
    mp_event_close(go);
    mp_event_close(ack);
    return 0;
}

TEST(event_named_with_exec_child) {
    char gn[64], an[64];
    mpt_name(gn, sizeof gn, "ev-go");
    mpt_name(an, sizeof an, "ev-ack");
    mp_event_t *go, *ack, *dup;
    CHECK_OK(mp_event_open(gn, MP_CREATE | MP_EXCL, 0600, &go));
    CHECK_ST(mp_event_open(gn, MP_CREATE | MP_EXCL, 0600, &dup), MP_EEXIST);
    CHECK_OK(mp_event_open(an, MP_CREATE, 0, &ack));
    const char *args[] = {"event-waiter", gn, an, NULL};
    pid_t pid = mpt_spawn_child(args);
    usleep(20000);
    CHECK_OK(mp_event_set(go));
    CHECK_OK(mp_event_wait(ack, 30000));
    mpt_wait_ok(pid);
    CHECK_OK(mp_event_close(go));
    CHECK_OK(mp_event_close(ack));
    CHECK_OK(mp_unlink(gn));
    CHECK_OK(mp_unlink(an));
    CHECK_ST(mp_event_open(gn, 0, 0, &go), MP_ENOENT);
}

TEST(event_bad_input) {
    struct es *s = new_es();
    mp_event_t *out = NULL;
    bool b;
    CHECK_ST(mp_event_init(NULL), MP_EINVAL);
    CHECK_ST(mp_event_init((mp_event_t *)((char *)&s->ev + 4)), MP_EINVAL);
    CHECK_ST(mp_event_destroy(NULL), MP_EINVAL);
    CHECK_ST(mp_event_new(NULL), MP_EINVAL);
    CHECK_ST(mp_event_open(NULL, MP_CREATE, 0, &out), MP_EINVAL);
    CHECK_ST(mp_event_open("a/b", MP_CREATE, 0, &out), MP_EINVAL);
    CHECK_ST(mp_event_open("/mpt-ev-x", 4, 0, &out), MP_EINVAL);
    CHECK(out == NULL);
    CHECK_ST(mp_event_close(NULL), MP_EINVAL);
    CHECK_ST(mp_event_close(&s->ev), MP_EINVAL);
    CHECK_ST(mp_event_set(NULL), MP_EINVAL);
    CHECK_ST(mp_event_clear(NULL), MP_EINVAL);
    CHECK_ST(mp_event_wait(NULL, 0), MP_EINVAL);
    CHECK_ST(mp_event_is_set(NULL, &b), MP_EINVAL);
    CHECK_ST(mp_event_is_set(&s->ev, NULL), MP_EINVAL);
    mp_event_t *zero = mpt_shared(sizeof *zero);
    CHECK_ST(mp_event_set(zero), MP_EBADOBJ);
    CHECK_ST(mp_event_clear(zero), MP_EBADOBJ);
    CHECK_ST(mp_event_wait(zero, 0), MP_EBADOBJ);
    CHECK_ST(mp_event_is_set(zero, &b), MP_EBADOBJ);
    mp_lock_t *lk;
    CHECK_OK(mp_lock_new(&lk));
    CHECK_ST(mp_event_set((mp_event_t *)lk), MP_EBADOBJ);
    CHECK_OK(mp_lock_close(lk));
    char name[64];
    mpt_name(name, sizeof name, "ev-not");
    mp_sem_t *sem;
    CHECK_OK(mp_sem_open(name, MP_CREATE, 0, 0, 1, &sem));
    CHECK_ST(mp_event_open(name, 0, 0, &out), MP_EBADOBJ);
    CHECK_OK(mp_sem_close(sem));
    CHECK_OK(mp_unlink(name));
    CHECK_OK(mp_event_destroy(&s->ev));
    CHECK_ST(mp_event_set(&s->ev), MP_EBADOBJ);
    CHECK_ST(mp_event_destroy(&s->ev), MP_EBADOBJ);
}
