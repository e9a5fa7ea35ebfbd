/* Synchronized arrays whose writers die inside mp_array_write: the "possibly torn" state
 * stays visible to every locked access until a repairer marks the data consistent. */
#include "mpt_util.h"

#define N 16384 /* longs: 128 KiB, so that a kill often lands inside the copy */

struct death_shared {
    volatile int victim_started;
    volatile int stop;
    volatile long ok_reads;
    volatile long dead_reads;
    volatile long failures;
    char failure[256];
};

static void fail(struct death_shared *s, const char *what) {
    if (__atomic_fetch_add(&s->failures, 1, __ATOMIC_SEQ_CST) == 0)
        snprintf(s->failure, sizeof s->failure, "%s", what);
}

/* True if every element equals the first: the data of one complete write. */
static int uniform(const long *v) {
    for (int i = 1; i < N; i++)
        if (v[i] != v[0]) return 0;
    return 1;
}

/* Writes whole-array generations forever (until killed). */
static void victim(mp_array_t *a, struct death_shared *s, long base) {
    static long buf[N];
    s->victim_started = 1;
    for (long k = base;; k++) {
        for (int i = 0; i < N; i++) buf[i] = k;
        mp_status st = mp_array_write(a, 0, N, buf);
        if (st != MP_OK && st != MP_OWNER_DEAD) fail(s, "victim write failed");
    }
}

/* Reads in a loop: an MP_OK read must never show torn data. */
static void reader(mp_array_t *a, struct death_shared *s) {
    static long buf[N];
    while (!s->stop) {
        mp_status st = mp_array_read(a, 0, N, buf);
        if (st == MP_OK) {
            __atomic_fetch_add(&s->ok_reads, 1, __ATOMIC_RELAXED);
            if (!uniform(buf)) fail(s, "reader: MP_OK on torn data");
        } else if (st == MP_OWNER_DEAD) {
            __atomic_fetch_add(&s->dead_reads, 1, __ATOMIC_RELAXED);
        } else {
            fail(s, "reader: unexpected status");
        }
        usleep(100);
    }
    _exit(0);
}

TEST(writers_killed_inside_write_never_give_an_ok_read_of_torn_data) {
    mp_array_t *a;
    CHECK_OK(mp_array_new(MP_TYPE_LONG, N, true, &a));
    mp_rlock_t *lk = mp_array_get_lock(a);
    struct death_shared *s = mpt_shared(sizeof *s);
    pid_t readers[2];
    for (int i = 0; i < 2; i++) {
        readers[i] = fork();
        CHECK(readers[i] >= 0);
        if (readers[i] == 0) reader(a, s);
    }
    static long buf[N];
    long deaths_seen = 0, clean_kills = 0;
    srand((unsigned)getpid());
    for (int it = 0; it < 400 && !s->failures; it++) {
        s->victim_started = 0;
        pid_t v = fork();
        CHECK(v >= 0);
        if (v == 0) victim(a, s, (long)it * 1000000);
        while (!s->victim_started) usleep(10);
        usleep(200 + rand() % 800);
        mpt_kill_and_reap(v);
        /* The test's own locked accesses. */
        mp_status first = mp_array_read(a, 0, N, buf);
        CHECK(first == MP_OK || first == MP_OWNER_DEAD);
        if (first == MP_OK) {
            /* Nobody died holding the lock since the last repair: the data is whole. */
            CHECK(uniform(buf));
            clean_kills++;
            continue;
        }
        deaths_seen++;
        /* Sticky: again for the next read, for a plain acquire of the lock, and for a
         * re-entry while holding it. */
        CHECK_ST(mp_array_read(a, 0, N, buf), MP_OWNER_DEAD);
        CHECK_ST(mp_array_mark_consistent(a), MP_ENOTOWNER);
        CHECK_ST(mp_rlock_acquire(lk, true, 10000), MP_OWNER_DEAD);
        CHECK_ST(mp_array_read(a, 0, N, buf), MP_OWNER_DEAD);
        /* Repair under the lock, then declare it consistent. */
        for (int i = 0; i < N; i++) buf[i] = -it;
        CHECK_ST(mp_array_write(a, 0, N, buf), MP_OWNER_DEAD);
        CHECK_OK(mp_array_mark_consistent(a));
        CHECK_OK(mp_array_read(a, 0, N, buf));
        CHECK(uniform(buf) && buf[0] == -it);
        CHECK_OK(mp_rlock_release(lk));
        CHECK_OK(mp_array_read(a, 0, N, buf));
        CHECK(uniform(buf));
    }
    s->stop = 1;
    mpt_wait_all(readers, 2);
    fprintf(stderr, "kills: %ld inside the lock (sticky until repaired), %ld outside; readers: %ld ok, %ld owner-dead\n",
            deaths_seen, clean_kills, s->ok_reads, s->dead_reads);
    if (s->failures) fprintf(stderr, "%s\n", s->failure);
    CHECK(s->failures == 0);
    CHECK(deaths_seen > 0);
    CHECK_OK(mp_array_close(a));
}

TEST(plain_rlock_users_of_the_array_lock_see_the_state_too) {
    /* A holder of mp_array_get_lock() (not inside a copy) dies: the array's copies and
     * other holders of the lock all report it until it is marked consistent. */
    mp_array_t *a;
    CHECK_OK(mp_array_new(MP_TYPE_INT, 8, true, &a));
    mp_rlock_t *lk = mp_array_get_lock(a);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (mp_rlock_acquire(lk, true, MP_FOREVER) != MP_OK) _exit(2);
        raise(SIGKILL);
        _exit(3);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st));
    for (int round = 0; round < 3; round++) {
        pid_t c = fork();
        CHECK(c >= 0);
        if (c == 0) {
            int x = 0;
            if (mp_rlock_acquire(lk, true, 5000) != MP_OWNER_DEAD) _exit(4);
            if (mp_rlock_release(lk) != MP_OK) _exit(5);
            _exit(mp_array_get(a, 0, &x) == MP_OWNER_DEAD ? 0 : 6);
        }
        mpt_wait_ok(c);
    }
    CHECK_ST(mp_rlock_acquire(lk, true, 5000), MP_OWNER_DEAD);
    CHECK_OK(mp_rlock_mark_consistent(lk));
    CHECK_OK(mp_rlock_release(lk));
    int x = 0;
    CHECK_OK(mp_array_get(a, 0, &x));
    CHECK_OK(mp_rlock_acquire(lk, true, 0));
    CHECK_OK(mp_rlock_release(lk));
    /* A raw array has no lock to mark. */
    mp_array_t *raw;
    CHECK_OK(mp_array_new(MP_TYPE_INT, 1, false, &raw));
    CHECK_ST(mp_array_mark_consistent(raw), MP_EINVAL);
    CHECK_ST(mp_array_mark_consistent(NULL), MP_EINVAL);
    CHECK_OK(mp_array_close(raw));
    CHECK_OK(mp_array_close(a));
}
