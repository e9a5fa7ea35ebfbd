/*
 * test_queue.c — mp_queue_t: every function's results and errors, blocking with real
 * processes (forked and exec'ed), batches, end of stream, JoinableQueue counters, named
 * queues shared by unrelated processes, and the inspector's view of a queue.
 * The death-safety kill loop is c_tests/test_queue_kill.c.
 */
#define MPT_CHILD_MAIN
#include "mpt_util.h"

static mp_queue_t *new_queue(size_t cap) {
    mp_queue_t *q = NULL;
    CHECK_OK(mp_queue_new(cap, &q));
    CHECK(q != NULL);
    return q;
}

static size_t get_str(mp_queue_t *q, char *buf, size_t len, mp_status want) {
    size_t n = 12345;
    CHECK_ST(mp_queue_get(q, buf, len, &n, false, 0), want);
    return n;
}

TEST(queue_fifo_sizes_and_wrap_around) {
    mp_queue_t *q = new_queue(64);
    size_t n = 0, cap = 0;
    CHECK_OK(mp_queue_capacity(q, &cap));
    CHECK(cap == 64);
    char msg[64], buf[64];
    for (int round = 0; round < 500; round++) {
        size_t len = (size_t)(round % 29);
        memset(msg, 'a' + round % 26, len);
        CHECK_OK(mp_queue_put(q, msg, len, false, 0));
        CHECK_OK(mp_queue_put(q, "xy", 2, false, 0));
        CHECK_OK(mp_queue_size(q, &n));
        CHECK(n == 2);
        CHECK(get_str(q, buf, sizeof buf, MP_OK) == len);
        CHECK(memcmp(buf, msg, len) == 0);
        CHECK(get_str(q, buf, sizeof buf, MP_OK) == 2 && memcmp(buf, "xy", 2) == 0);
    }
    get_str(q, buf, sizeof buf, MP_TIMEOUT);
    CHECK_OK(mp_queue_size(q, &n));
    CHECK(n == 0);
    CHECK_OK(mp_queue_close(q));
}

TEST(queue_limits_and_small_buffers) {
    mp_queue_t *q = new_queue(16);
    char big[32] = {0}, buf[32];
    CHECK_ST(mp_queue_put(q, big, 13, true, MP_FOREVER), MP_EMSGSIZE);
    CHECK_OK(mp_queue_put(q, big, 12, false, 0));
    /* Full: a try-once put and a timed put give up, the timed one not early. */
    CHECK_ST(mp_queue_put(q, "", 0, false, 0), MP_TIMEOUT);
    int64_t t0 = mpt_now_ns();
    CHECK_ST(mp_queue_put(q, "", 0, true, 30), MP_TIMEOUT);
    CHECK_NOT_EARLY(t0, mpt_now_ns(), 30);
    /* Too small a buffer: the size needed, nothing consumed. */
    CHECK(get_str(q, buf, 5, MP_EBUFSIZE) == 12);
    CHECK(get_str(q, NULL, 0, MP_EBUFSIZE) == 12);
    CHECK(get_str(q, buf, 12, MP_OK) == 12);
    /* Empty: a timed get gives up, not early. */
    size_t n;
    t0 = mpt_now_ns();
    CHECK_ST(mp_queue_get(q, buf, sizeof buf, &n, true, 30), MP_TIMEOUT);
    CHECK_NOT_EARLY(t0, mpt_now_ns(), 30);
    CHECK_OK(mp_queue_close(q));
}

TEST(queue_errors) {
    mp_queue_t *q = NULL;
    size_t n;
    char buf[8];
    CHECK_ST(mp_queue_new(7, &q), MP_EINVAL);
    CHECK_ST(mp_queue_new(0, &q), MP_EINVAL);
    CHECK_ST(mp_queue_new(((size_t)1 << 40) + 1, &q), MP_EINVAL);
    CHECK_ST(mp_queue_new(64, NULL), MP_EINVAL);
    q = new_queue(64);
    CHECK_ST(mp_queue_put(NULL, "a", 1, false, 0), MP_EINVAL);
    CHECK_ST(mp_queue_put(q, NULL, 1, false, 0), MP_EINVAL);
    CHECK_OK(mp_queue_put(q, NULL, 0, false, 0));
    CHECK_ST(mp_queue_get(q, buf, sizeof buf, NULL, false, 0), MP_EINVAL);
    CHECK_ST(mp_queue_get(q, NULL, 4, &n, false, 0), MP_EINVAL);
    CHECK_ST(mp_queue_get(NULL, buf, sizeof buf, &n, false, 0), MP_EINVAL);
    CHECK_ST(mp_queue_size(q, NULL), MP_EINVAL);
    CHECK_ST(mp_queue_size(NULL, &n), MP_EINVAL);
    CHECK_ST(mp_queue_capacity(q, NULL), MP_EINVAL);
    CHECK_ST(mp_queue_close_producer(NULL), MP_EINVAL);
    CHECK_ST(mp_queue_task_done(NULL), MP_EINVAL);
    CHECK_ST(mp_queue_join(NULL, false, 0), MP_EINVAL);
    CHECK_ST(mp_queue_close(NULL), MP_EINVAL);
    size_t lens[2];
    CHECK_ST(mp_queue_get_many(q, buf, sizeof buf, lens, 0, &n, false, 0), MP_EINVAL);
    CHECK_ST(mp_queue_get_many(q, buf, sizeof buf, NULL, 2, &n, false, 0), MP_EINVAL);
    CHECK_ST(mp_queue_get_many(q, buf, sizeof buf, lens, 2, NULL, false, 0), MP_EINVAL);
    CHECK_ST(mp_queue_put_many(q, NULL, NULL, 1, false, 0), MP_EINVAL);
    CHECK_OK(mp_queue_put_many(q, NULL, NULL, 0, false, 0));
    /* Not a queue of this process: private memory, another type's handle, an interior
     * pointer. None is dereferenced. */
    static _Alignas(64) char junk[256];
    CHECK_ST(mp_queue_put((mp_queue_t *)junk, "a", 1, false, 0), MP_EBADOBJ);
    CHECK_ST(mp_queue_size((mp_queue_t *)junk, &n), MP_EBADOBJ);
    mp_lock_t *lock = NULL;
    CHECK_OK(mp_lock_new(&lock));
    CHECK_ST(mp_queue_put((mp_queue_t *)lock, "a", 1, false, 0), MP_EBADOBJ);
    CHECK_ST(mp_queue_close((mp_queue_t *)lock), MP_EBADOBJ);
    CHECK_OK(mp_lock_close(lock));
    CHECK_ST(mp_queue_put((mp_queue_t *)((char *)q + 64), "a", 1, false, 0), MP_EBADOBJ);
    /* Closed: every later call is MP_EBADOBJ, a second close too. */
    CHECK_OK(mp_queue_close(q));
    CHECK_ST(mp_queue_close(q), MP_EBADOBJ);
    CHECK_ST(mp_queue_put(q, "a", 1, false, 0), MP_EBADOBJ);
    CHECK_ST(mp_queue_get(q, buf, sizeof buf, &n, false, 0), MP_EBADOBJ);
    CHECK(strcmp(mp_status_name(MP_EMSGSIZE), "MP_EMSGSIZE") == 0);
    CHECK(strcmp(mp_status_name(MP_EBUFSIZE), "MP_EBUFSIZE") == 0);
    CHECK(strcmp(mp_status_name(MP_ECLOSED), "MP_ECLOSED") == 0);
}

static mp_queue_t *g_q;

static int put_later(void *arg) {
    usleep(50 * 1000);
    return mp_queue_put(g_q, arg, strlen(arg), true, 10000) == MP_OK ? 0 : 1;
}

static int get_later(void *arg) {
    (void)arg;
    usleep(50 * 1000);
    char buf[64];
    size_t n;
    return mp_queue_get(g_q, buf, sizeof buf, &n, true, 10000) == MP_OK ? 0 : 1;
}

TEST(queue_blocked_get_is_woken_by_a_put_in_another_process) {
    g_q = new_queue(256);
    pid_t pid = mpt_fork(put_later, "from the child");
    char buf[64];
    size_t n;
    CHECK_OK(mp_queue_get(g_q, buf, sizeof buf, &n, true, 20000));
    CHECK(n == 14 && memcmp(buf, "from the child", 14) == 0);
    mpt_wait_ok(pid);
}

TEST(queue_blocked_put_is_woken_by_a_get_in_another_process) {
    g_q = new_queue(16);
    CHECK_OK(mp_queue_put(g_q, "0123456789", 10, false, 0));
    pid_t pid = mpt_fork(get_later, NULL);
    CHECK_OK(mp_queue_put(g_q, "abcdefghij", 10, true, 20000));
    mpt_wait_ok(pid);
    char buf[16];
    CHECK(get_str(g_q, buf, sizeof buf, MP_OK) == 10 && memcmp(buf, "abcdefghij", 10) == 0);
}

TEST(queue_batches_are_all_or_nothing) {
    mp_queue_t *q = new_queue(32);
    const void *msgs[4] = {"a", "bb", "ccc", "dddddddddddddddddddd"};
    size_t lens[4] = {1, 2, 3, 20};
    /* 4+1 + 4+2 + 4+3 + 4+20 = 42 > 32: never fits. */
    CHECK_ST(mp_queue_put_many(q, msgs, lens, 4, true, MP_FOREVER), MP_EMSGSIZE);
    CHECK_OK(mp_queue_put_many(q, msgs, lens, 3, false, 0));
    /* 18 used, 14 free: the 24-byte record does not fit, so nothing is put. */
    CHECK_ST(mp_queue_put_many(q, msgs + 2, lens + 2, 2, false, 0), MP_TIMEOUT);
    size_t n;
    CHECK_OK(mp_queue_size(q, &n));
    CHECK(n == 3);
    /* get_many takes as many as fit in the buffer, in order. */
    char buf[64];
    size_t got_lens[8], got = 99;
    CHECK_OK(mp_queue_get_many(q, buf, 3, got_lens, 8, &got, false, 0));
    CHECK(got == 2 && got_lens[0] == 1 && got_lens[1] == 2 && memcmp(buf, "abb", 3) == 0);
    /* The first does not fit: nothing consumed, lens[0] is the size needed. */
    CHECK_ST(mp_queue_get_many(q, buf, 2, got_lens, 8, &got, false, 0), MP_EBUFSIZE);
    CHECK(got == 0 && got_lens[0] == 3);
    CHECK_OK(mp_queue_get_many(q, buf, sizeof buf, got_lens, 8, &got, false, 0));
    CHECK(got == 1 && got_lens[0] == 3 && memcmp(buf, "ccc", 3) == 0);
    CHECK_ST(mp_queue_get_many(q, buf, sizeof buf, got_lens, 8, &got, false, 0), MP_TIMEOUT);
    CHECK(got == 0);
    CHECK_OK(mp_queue_close(q));
}

static int get_until_closed(void *arg) {
    (void)arg;
    char buf[64];
    size_t n;
    return mp_queue_get(g_q, buf, sizeof buf, &n, true, 20000) == MP_ECLOSED ? 0 : 1;
}

TEST(queue_end_of_stream) {
    g_q = new_queue(64);
    pid_t waiter = mpt_fork(get_until_closed, NULL);
    usleep(50 * 1000);
    CHECK_OK(mp_queue_close_producer(g_q));
    mpt_wait_ok(waiter);
    CHECK_ST(mp_queue_put(g_q, "x", 1, true, MP_FOREVER), MP_ECLOSED);
    CHECK_OK(mp_queue_close_producer(g_q)); /* idempotent */
    char buf[8];
    size_t n;
    CHECK_ST(mp_queue_get(g_q, buf, sizeof buf, &n, true, MP_FOREVER), MP_ECLOSED);
    /* Messages put before the end are still delivered. */
    mp_queue_t *q = new_queue(64);
    CHECK_OK(mp_queue_put(q, "last", 4, false, 0));
    CHECK_OK(mp_queue_close_producer(q));
    CHECK(get_str(q, buf, sizeof buf, MP_OK) == 4);
    get_str(q, buf, sizeof buf, MP_ECLOSED);
    CHECK_OK(mp_queue_close(q));
}

static int task_done_later(void *arg) {
    (void)arg;
    usleep(50 * 1000);
    return mp_queue_task_done(g_q) == MP_OK ? 0 : 1;
}

TEST(queue_task_done_and_join) {
    g_q = new_queue(64);
    CHECK_ST(mp_queue_task_done(g_q), MP_EOVERFLOW);
    CHECK_OK(mp_queue_join(g_q, false, 0));
    CHECK_OK(mp_queue_put(g_q, "job", 3, false, 0));
    CHECK_ST(mp_queue_join(g_q, false, 0), MP_TIMEOUT);
    int64_t t0 = mpt_now_ns();
    CHECK_ST(mp_queue_join(g_q, true, 30), MP_TIMEOUT);
    CHECK_NOT_EARLY(t0, mpt_now_ns(), 30);
    pid_t pid = mpt_fork(task_done_later, NULL);
    CHECK_OK(mp_queue_join(g_q, true, 20000));
    mpt_wait_ok(pid);
    CHECK_ST(mp_queue_task_done(g_q), MP_EOVERFLOW);
}

/* Exec'ed helper: opens the named queue (any capacity) and echoes one message back
 * with a prefix. */
static int mpt_child(int argc, char **argv) {
    if (argc < 2) return 2;
    mp_queue_t *in = NULL, *out = NULL;
    if (mp_queue_open(argv[0], 0, 0, 0, &in) != MP_OK) return 3;
    if (mp_queue_open(argv[1], 0, 0, 256, &out) != MP_OK) return 4;
    char buf[128] = "echo:";
    size_t n;
    if (mp_queue_get(in, buf + 5, sizeof buf - 5, &n, true, 20000) != MP_OK) return 5;
    if (mp_queue_put(out, buf, n + 5, true, 20000) != MP_OK) return 6;
    return mp_queue_close(in) == MP_OK && mp_queue_close(out) == MP_OK ? 0 : 7;
}

TEST(queue_named_between_unrelated_processes) {
    char a[64], b[64];
    mpt_name(a, sizeof a, "q-in");
    mpt_name(b, sizeof b, "q-out");
    mp_queue_t *in = NULL, *out = NULL, *again = NULL;
    CHECK_ST(mp_queue_open(a, MP_CREATE, 0600, 0, &in), MP_EINVAL); /* 0: open only */
    CHECK_ST(mp_queue_open(a, 0, 0600, 128, &in), MP_ENOENT);
    CHECK_OK(mp_queue_open(a, MP_CREATE | MP_EXCL, 0600, 128, &in));
    CHECK_OK(mp_queue_open(b, MP_CREATE | MP_EXCL, 0600, 256, &out));
    CHECK_ST(mp_queue_open(a, MP_CREATE | MP_EXCL, 0600, 128, &again), MP_EEXIST);
    CHECK_ST(mp_queue_open(a, 0, 0, 64, &again), MP_EBADOBJ); /* other capacity */
    char lname[64];
    mp_lock_t *lock = NULL;
    CHECK_OK(mp_lock_open(mpt_name(lname, sizeof lname, "q-lock"), MP_CREATE, 0600, &lock));
    CHECK_ST(mp_queue_open(lname, 0, 0, 0, &again), MP_EBADOBJ); /* not a queue */
    CHECK_OK(mp_lock_close(lock));
    CHECK_OK(mp_unlink(lname));
    const char *args[] = {a, b, NULL};
    pid_t pid = mpt_spawn_child(args);
    CHECK_OK(mp_queue_put(in, "ping", 4, true, 20000));
    char buf[64];
    size_t n;
    CHECK_OK(mp_queue_get(out, buf, sizeof buf, &n, true, 20000));
    CHECK(n == 9 && memcmp(buf, "echo:ping", 9) == 0);
    mpt_wait_ok(pid);
    /* The inspector sees the queue: messages, bytes, capacity. */
    CHECK_OK(mp_queue_put(in, "abc", 3, false, 0));
    struct mp_object_info info;
    CHECK_OK(mp_inspect(a, &info, sizeof info));
    CHECK(info.entry_class == MP_CLASS_OBJECT && info.health == MP_HEALTH_OK);
    CHECK(info.length == 1 && info.value == 7 && info.max_value == 128);
    CHECK_OK(mp_queue_close_producer(in));
    CHECK_OK(mp_inspect(a, &info, sizeof info));
    CHECK(info.flags & MP_INFO_CLOSED);
    CHECK_OK(mp_queue_close(in));
    CHECK_OK(mp_queue_close(out));
    CHECK_OK(mp_unlink(a));
    CHECK_OK(mp_unlink(b));
}
