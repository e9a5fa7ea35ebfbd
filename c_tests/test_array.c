/* Shared arrays (mp_array_t): CPython's Value, Array, RawValue, RawArray. */
#define MPT_CHILD_MAIN
#include "mpt_util.h"

#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>

/* Round trip of one type: new (with and without a lock), zeroed data, get/set,
 * read/write, direct access through mp_array_data. `vals` holds 4 distinct items. */
static void round_trip(mp_type t, size_t size, const void *vals) {
    for (int lock = 0; lock < 2; lock++) {
        mp_array_t *a = NULL;
        CHECK_OK(mp_array_new(t, 4, lock, &a));
        CHECK(a != NULL);
        CHECK(mp_array_len(a) == 4);
        CHECK(mp_array_item_size(a) == size);
        CHECK(mp_array_type(a) == t);
        CHECK((mp_array_get_lock(a) != NULL) == (lock == 1));
        unsigned char *data = mp_array_data(a);
        CHECK(data != NULL && ((uintptr_t)data % 16) == 0);
        for (size_t i = 0; i < 4 * size; i++) CHECK(data[i] == 0);
        unsigned char item[16], buf[64];
        const unsigned char *v = vals;
        for (size_t i = 0; i < 4; i++) CHECK_OK(mp_array_set(a, i, v + i * size));
        CHECK(memcmp(data, vals, 4 * size) == 0);
        for (size_t i = 0; i < 4; i++) {
            memset(item, 0xAA, sizeof item);
            CHECK_OK(mp_array_get(a, i, item));
            CHECK(memcmp(item, v + i * size, size) == 0);
            CHECK(item[size] == 0xAA); /* exactly item_size bytes written */
        }
        memset(buf, 0, sizeof buf);
        CHECK_OK(mp_array_read(a, 1, 3, buf));
        CHECK(memcmp(buf, v + size, 3 * size) == 0);
        /* write reversed order, read back */
        for (size_t i = 0; i < 4; i++) memcpy(buf + i * size, v + (3 - i) * size, size);
        CHECK_OK(mp_array_write(a, 0, 4, buf));
        for (size_t i = 0; i < 4; i++) CHECK(memcmp(data + i * size, v + (3 - i) * size, size) == 0);
        /* unaligned user buffers are fine */
        CHECK_OK(mp_array_get(a, 3, buf + 1));
        CHECK(memcmp(buf + 1, v, size) == 0);
        CHECK_OK(mp_array_close(a));
    }
}

TEST(array_every_type_round_trips) {
    char c[4] = {'a', 'z', '\0', (char)0xff};
    signed char b[4] = {SCHAR_MIN, -1, 1, SCHAR_MAX};
    unsigned char B[4] = {0, 1, 128, UCHAR_MAX};
    short h[4] = {SHRT_MIN, -2, 2, SHRT_MAX};
    unsigned short H[4] = {0, 1, 40000, USHRT_MAX};
    int i[4] = {INT_MIN, -3, 3, INT_MAX};
    unsigned int I[4] = {0, 1, 3000000000u, UINT_MAX};
    long l[4] = {LONG_MIN, -4, 4, LONG_MAX};
    unsigned long L[4] = {0, 1, ULONG_MAX - 1, ULONG_MAX};
    long long q[4] = {LLONG_MIN, -5, 5, LLONG_MAX};
    unsigned long long Q[4] = {0, 1, 1ull << 63, ULLONG_MAX};
    float f[4] = {-FLT_MAX, -0.5f, 1.25f, FLT_MAX};
    double d[4] = {-DBL_MAX, -0.25, 3.5, DBL_MAX};
    bool bo[4] = {true, false, true, true};
    round_trip(MP_TYPE_CHAR, sizeof(char), c);
    round_trip(MP_TYPE_BYTE, sizeof(signed char), b);
    round_trip(MP_TYPE_UBYTE, sizeof(unsigned char), B);
    round_trip(MP_TYPE_SHORT, sizeof(short), h);
    round_trip(MP_TYPE_USHORT, sizeof(unsigned short), H);
    round_trip(MP_TYPE_INT, sizeof(int), i);
    round_trip(MP_TYPE_UINT, sizeof(unsigned int), I);
    round_trip(MP_TYPE_LONG, sizeof(long), l);
    round_trip(MP_TYPE_ULONG, sizeof(unsigned long), L);
    round_trip(MP_TYPE_LONGLONG, sizeof(long long), q);
    round_trip(MP_TYPE_ULONGLONG, sizeof(unsigned long long), Q);
    round_trip(MP_TYPE_FLOAT, sizeof(float), f);
    round_trip(MP_TYPE_DOUBLE, sizeof(double), d);
    round_trip(MP_TYPE_BOOL, sizeof(bool), bo);
}

TEST(array_type_codes_are_python_characters) {
    CHECK(MP_TYPE_CHAR == 'c' && MP_TYPE_BYTE == 'b' && MP_TYPE_UBYTE == 'B');
    CHECK(MP_TYPE_SHORT == 'h' && MP_TYPE_USHORT == 'H' && MP_TYPE_INT == 'i');
    CHECK(MP_TYPE_UINT == 'I' && MP_TYPE_LONG == 'l' && MP_TYPE_ULONG == 'L');
    CHECK(MP_TYPE_LONGLONG == 'q' && MP_TYPE_ULONGLONG == 'Q' && MP_TYPE_FLOAT == 'f');
    CHECK(MP_TYPE_DOUBLE == 'd' && MP_TYPE_BOOL == '?');
    /* Every other byte value is refused, and nothing is returned. */
    for (int t = 0; t < 256; t++) {
        if (strchr("cbBhHiIlLqQfd?", t) && t != 0) continue;
        mp_array_t *a = (mp_array_t *)1;
        CHECK_ST(mp_array_new((mp_type)t, 1, true, &a), MP_EINVAL);
        CHECK(a == (mp_array_t *)1);
    }
}

TEST(array_bounds_and_bad_arguments) {
    mp_array_t *a;
    int x = 7, out[4] = {0};
    CHECK_OK(mp_array_new(MP_TYPE_INT, 3, true, &a));
    CHECK_ST(mp_array_get(a, 3, &x), MP_ERANGE);
    CHECK_ST(mp_array_set(a, 3, &x), MP_ERANGE);
    CHECK_ST(mp_array_get(a, SIZE_MAX, &x), MP_ERANGE);
    CHECK_ST(mp_array_read(a, 1, 3, out), MP_ERANGE);
    CHECK_ST(mp_array_write(a, 2, 2, out), MP_ERANGE);
    CHECK_ST(mp_array_read(a, 4, 0, out), MP_ERANGE);
    CHECK_ST(mp_array_read(a, 2, SIZE_MAX, out), MP_ERANGE); /* start + count overflows */
    CHECK_ST(mp_array_write(a, SIZE_MAX, 2, out), MP_ERANGE);
    CHECK_ST(mp_array_read(a, 1, SIZE_MAX / 4 + 1, out), MP_ERANGE); /* count*size overflows */
    CHECK_OK(mp_array_read(a, 3, 0, out));                      /* empty slice at the end */
    CHECK_OK(mp_array_write(a, 0, 0, out));
    CHECK_ST(mp_array_get(a, 0, NULL), MP_EINVAL);
    CHECK_ST(mp_array_set(a, 0, NULL), MP_EINVAL);
    CHECK_ST(mp_array_read(a, 0, 1, NULL), MP_EINVAL);
    CHECK_ST(mp_array_write(a, 0, 1, NULL), MP_EINVAL);
    /* Nothing changed by the failed calls. */
    CHECK_OK(mp_array_read(a, 0, 3, out));
    CHECK(out[0] == 0 && out[1] == 0 && out[2] == 0);
    CHECK_OK(mp_array_close(a));

    /* NULL and foreign objects: status calls say so, getters return NULL/0. */
    CHECK_ST(mp_array_new(MP_TYPE_INT, 1, true, NULL), MP_EINVAL);
    CHECK_ST(mp_array_get(NULL, 0, &x), MP_EINVAL);
    CHECK_ST(mp_array_close(NULL), MP_EINVAL);
    CHECK(mp_array_data(NULL) == NULL && mp_array_len(NULL) == 0);
    CHECK(mp_array_item_size(NULL) == 0 && mp_array_type(NULL) == 0);
    CHECK(mp_array_get_lock(NULL) == NULL);
    static _Alignas(4096) unsigned char fake[8192];
    mp_array_t *f = (mp_array_t *)fake;
    CHECK_ST(mp_array_get(f, 0, &x), MP_EBADOBJ);
    CHECK_ST(mp_array_close(f), MP_EBADOBJ);
    CHECK(mp_array_data(f) == NULL && mp_array_len(f) == 0 && mp_array_get_lock(f) == NULL);
    /* Other objects from this library are not arrays. */
    mp_lock_t *l;
    mp_shm_t *s;
    CHECK_OK(mp_lock_new(&l));
    CHECK_ST(mp_array_get((mp_array_t *)l, 0, &x), MP_EBADOBJ);
    CHECK_ST(mp_array_close((mp_array_t *)l), MP_EBADOBJ);
    CHECK_OK(mp_lock_close(l));
    CHECK_OK(mp_shm_open(NULL, MP_CREATE, 4096, 0, &s));
    CHECK_ST(mp_array_get((mp_array_t *)mp_shm_data(s), 0, &x), MP_EBADOBJ);
    CHECK_OK(mp_unlink(mp_shm_name(s)));
    CHECK_OK(mp_shm_close(s));

    /* Sizes that do not fit in the address space. */
    CHECK_ST(mp_array_new(MP_TYPE_DOUBLE, SIZE_MAX / 4, false, &a), MP_ENOMEM);
    CHECK_ST(mp_array_new(MP_TYPE_CHAR, SIZE_MAX, false, &a), MP_ENOMEM);
}

TEST(array_length_zero_is_allowed) {
    for (int lock = 0; lock < 2; lock++) {
        mp_array_t *a;
        int x = 0;
        CHECK_OK(mp_array_new(MP_TYPE_INT, 0, lock, &a));
        CHECK(mp_array_len(a) == 0 && mp_array_item_size(a) == 4);
        CHECK(mp_array_data(a) != NULL);
        CHECK_ST(mp_array_get(a, 0, &x), MP_ERANGE);
        CHECK_OK(mp_array_read(a, 0, 0, &x));
        CHECK_OK(mp_array_close(a));
    }
}

TEST(array_value_is_length_one) {
    mp_array_t *v;
    double d = 0;
    CHECK_OK(mp_array_new(MP_TYPE_DOUBLE, 1, true, &v));
    CHECK_OK(mp_array_get(v, 0, &d));
    CHECK(d == 0.0);
    d = 3.25;
    CHECK_OK(mp_array_set(v, 0, &d));
    CHECK(*(double *)mp_array_data(v) == 3.25);
    CHECK_OK(mp_array_close(v));
}

TEST(array_lock_is_an_embedded_rlock) {
    mp_array_t *a;
    int x = 1;
    uint32_t n = 0;
    CHECK_OK(mp_array_new(MP_TYPE_INT, 2, true, &a));
    mp_rlock_t *lk = mp_array_get_lock(a);
    CHECK(lk != NULL);
    CHECK(mp_array_get_lock(a) == lk);
    /* with arr.get_lock(): accesses inside re-enter it. */
    CHECK_OK(mp_rlock_acquire(lk, true, MP_FOREVER));
    CHECK_OK(mp_array_set(a, 0, &x));
    CHECK_OK(mp_array_get(a, 0, &x));
    CHECK_OK(mp_rlock_count(lk, &n));
    CHECK(n == 1);
    /* It belongs to the array: neither closable nor destroyable on its own. */
    CHECK_ST(mp_rlock_close(lk), MP_EINVAL);
    CHECK_ST(mp_rlock_destroy(lk), MP_EINVAL);
    /* Another process is kept out while we hold it, and sees our write after. */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (mp_rlock_acquire(lk, false, 0) != MP_TIMEOUT) _exit(1);
        if (mp_rlock_acquire(lk, true, 50) != MP_TIMEOUT) _exit(2);
        _exit(0);
    }
    mpt_wait_ok(pid);
    CHECK_OK(mp_rlock_release(lk));
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int y = 0;
        _exit(mp_array_get(a, 0, &y) == MP_OK && y == 1 ? 0 : 1);
    }
    mpt_wait_ok(pid);
    CHECK_OK(mp_array_close(a));

    mp_array_t *r;
    CHECK_OK(mp_array_new(MP_TYPE_INT, 2, false, &r));
    CHECK(mp_array_get_lock(r) == NULL);
    CHECK_OK(mp_array_close(r));
}

/* Synchronized array: N processes do read-modify-write under the embedded lock. */
enum { PROCS = 4, ITERS = 5000 };

static int locked_increments(void *arg) {
    mp_array_t *a = arg;
    mp_rlock_t *lk = mp_array_get_lock(a);
    for (int k = 0; k < ITERS; k++) {
        long v;
        if (mp_rlock_acquire(lk, true, MP_FOREVER) != MP_OK) return 10;
        if (mp_array_get(a, 0, &v) != MP_OK) return 11;
        v += 1;
        if (mp_array_set(a, 0, &v) != MP_OK) return 12;
        if (mp_rlock_release(lk) != MP_OK) return 13;
        /* Single locked calls: a whole-array read-modify-write, one call each way. */
        long all[3];
        if (mp_rlock_acquire(lk, true, MP_FOREVER) != MP_OK) return 14;
        if (mp_array_read(a, 1, 2, all) != MP_OK) return 15;
        all[0] += 2;
        all[1] -= 1;
        if (mp_array_write(a, 1, 2, all) != MP_OK) return 16;
        if (mp_rlock_release(lk) != MP_OK) return 17;
    }
    return 0;
}

TEST(array_multiprocess_updates_under_the_lock_are_exact) {
    mp_array_t *a;
    CHECK_OK(mp_array_new(MP_TYPE_LONG, 3, true, &a));
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) pids[i] = mpt_fork(locked_increments, a);
    for (int i = 0; i < PROCS; i++) mpt_wait_ok(pids[i]);
    long out[3];
    CHECK_OK(mp_array_read(a, 0, 3, out));
    CHECK(out[0] == (long)PROCS * ITERS);
    CHECK(out[1] == 2L * PROCS * ITERS);
    CHECK(out[2] == -(long)PROCS * ITERS);
    CHECK_OK(mp_array_close(a));
}

/* Raw array: each process owns one stripe; no lock anywhere. */
static int raw_writer(void *arg) {
    mp_array_t *a = ((void **)arg)[0];
    int who = (int)(intptr_t)((void **)arg)[1];
    size_t n = mp_array_len(a) / PROCS;
    for (size_t i = 0; i < n; i++) {
        unsigned int v = (unsigned int)(who * 100000 + i);
        if (mp_array_set(a, who * n + i, &v) != MP_OK) return 1;
    }
    /* And a bulk write of the same values through mp_array_write. */
    unsigned int buf[64];
    for (size_t i = 0; i < n && i < 64; i++) buf[i] = (unsigned int)(who * 100000 + i);
    if (mp_array_write(a, who * n, n < 64 ? n : 64, buf) != MP_OK) return 2;
    return 0;
}

TEST(array_raw_multiprocess_stripes) {
    mp_array_t *a;
    CHECK_OK(mp_array_new(MP_TYPE_UINT, PROCS * 256, false, &a));
    CHECK(mp_array_get_lock(a) == NULL);
    void *args[PROCS][2];
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        args[i][0] = a;
        args[i][1] = (void *)(intptr_t)i;
        pids[i] = mpt_fork(raw_writer, args[i]);
    }
    for (int i = 0; i < PROCS; i++) mpt_wait_ok(pids[i]);
    const unsigned int *data = mp_array_data(a);
    for (int w = 0; w < PROCS; w++)
        for (unsigned i = 0; i < 256; i++) CHECK(data[w * 256 + i] == (unsigned)(w * 100000 + i));
    CHECK_OK(mp_array_close(a));
}

static int die_holding(void *arg) {
    mp_array_t *a = arg;
    if (mp_rlock_acquire(mp_array_get_lock(a), true, MP_FOREVER) != MP_OK) return 1;
    int half = 5;
    mp_array_set(a, 0, &half);
    raise(SIGKILL);
    return 2;
}

TEST(array_owner_death_is_reported_after_the_copy) {
    mp_array_t *a;
    CHECK_OK(mp_array_new(MP_TYPE_INT, 2, true, &a));
    pid_t pid = mpt_fork(die_holding, a);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    int v = 42, got = 0;
    /* The first access after the death is told, and still does its copy; so is every
     * later one (the data may be torn) until a lock holder marks it consistent. */
    CHECK_ST(mp_array_set(a, 1, &v), MP_OWNER_DEAD);
    CHECK_ST(mp_array_get(a, 1, &got), MP_OWNER_DEAD);
    CHECK(got == 42);
    CHECK_ST(mp_array_get(a, 0, &got), MP_OWNER_DEAD);
    CHECK(got == 5);
    bool mine = true;
    CHECK_OK(mp_rlock_is_mine(mp_array_get_lock(a), &mine));
    CHECK(!mine); /* released again */
    CHECK_ST(mp_array_mark_consistent(a), MP_ENOTOWNER);
    CHECK_ST(mp_rlock_acquire(mp_array_get_lock(a), true, MP_FOREVER), MP_OWNER_DEAD);
    CHECK_OK(mp_array_mark_consistent(a));
    CHECK_OK(mp_rlock_release(mp_array_get_lock(a)));
    CHECK_OK(mp_array_get(a, 0, &got));
    CHECK_OK(mp_array_close(a));
}

/* ---- named arrays and unrelated processes ---- */

/* Exec'ed child: open <name> <type> <len> <lock>; exit 0 after checking and updating
 * the data (type 'd': a[i] == i * 1.5 + bump, then each element += 1 under the lock),
 * or 100 + (-status) if the open fails. */
static int mpt_child(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[0], "array") != 0) return 99;
    mp_array_t *a;
    mp_status st = mp_array_open(argv[1], 0, 0, (mp_type)argv[2][0], (size_t)atol(argv[3]),
                                 atoi(argv[4]) != 0, &a);
    if (st != MP_OK) return 100 - st;
    if (mp_array_type(a) != 'd') return 0;
    size_t n = mp_array_len(a);
    mp_rlock_t *lk = mp_array_get_lock(a);
    if (lk && mp_rlock_acquire(lk, true, MP_FOREVER) != MP_OK) return 3;
    for (size_t i = 0; i < n; i++) {
        double d;
        if (mp_array_get(a, i, &d) != MP_OK || d != i * 1.5) return 4;
        d += 1.0;
        if (mp_array_set(a, i, &d) != MP_OK) return 5;
    }
    if (lk && mp_rlock_release(lk) != MP_OK) return 6;
    return mp_array_close(a) == MP_OK ? 0 : 7;
}

static int child_exit(const char *const *args) {
    int st;
    pid_t pid = mpt_spawn_child(args);
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
    return WEXITSTATUS(st);
}

TEST(array_named_shared_with_unrelated_process) {
    char name[64];
    mpt_name(name, sizeof name, "arr");
    mp_unlink(name);
    mp_array_t *a;
    CHECK_OK(mp_array_open(name, MP_CREATE | MP_EXCL, 0, MP_TYPE_DOUBLE, 8, true, &a));
    for (size_t i = 0; i < 8; i++) {
        double d = i * 1.5;
        CHECK_OK(mp_array_set(a, i, &d));
    }
    const char *ok[] = {"array", name, "d", "8", "1", NULL};
    CHECK(child_exit(ok) == 0);
    for (size_t i = 0; i < 8; i++) {
        double d;
        CHECK_OK(mp_array_get(a, i, &d));
        CHECK(d == i * 1.5 + 1.0);
        d -= 1.0;
        CHECK_OK(mp_array_set(a, i, &d));
    }
    /* Wrong type, wrong length, wrong lock flag: MP_EBADOBJ in the other process. */
    const char *bad_type[] = {"array", name, "q", "8", "1", NULL};
    const char *bad_len[] = {"array", name, "d", "7", "1", NULL};
    const char *bad_len2[] = {"array", name, "d", "9", "1", NULL};
    const char *bad_lock[] = {"array", name, "d", "8", "0", NULL};
    const char *bad_size_match[] = {"array", name, "i", "16", "1", NULL}; /* same bytes */
    CHECK(child_exit(bad_type) == 100 - MP_EBADOBJ);
    CHECK(child_exit(bad_len) == 100 - MP_EBADOBJ);
    CHECK(child_exit(bad_len2) == 100 - MP_EBADOBJ);
    CHECK(child_exit(bad_lock) == 100 - MP_EBADOBJ);
    CHECK(child_exit(bad_size_match) == 100 - MP_EBADOBJ);
    /* ...and in this one, also with MP_CREATE (the existing object is never replaced). */
    mp_array_t *b = NULL;
    CHECK_ST(mp_array_open(name, 0, 0, MP_TYPE_FLOAT, 8, true, &b), MP_EBADOBJ);
    CHECK_ST(mp_array_open(name, MP_CREATE, 0, MP_TYPE_DOUBLE, 4, true, &b), MP_EBADOBJ);
    CHECK_ST(mp_array_open(name, MP_CREATE | MP_EXCL, 0, MP_TYPE_DOUBLE, 8, true, &b), MP_EEXIST);
    CHECK(b == NULL);
    CHECK_ST(mp_array_open(name, 0, 0, 'x', 8, true, &b), MP_EINVAL);
    /* The right arguments give the same object. */
    CHECK_OK(mp_array_open(name, MP_CREATE, 0, MP_TYPE_DOUBLE, 8, true, &b));
    CHECK(b != a);
    double d;
    CHECK_OK(mp_array_get(b, 7, &d));
    CHECK(d == 7 * 1.5);
    CHECK_OK(mp_array_close(b));
    CHECK_OK(mp_unlink(name));
    const char *gone[] = {"array", name, "d", "8", "1", NULL};
    CHECK(child_exit(gone) == 100 - MP_ENOENT);
    CHECK_OK(mp_array_close(a));
}

static int racer(void *arg) {
    const char *name = arg;
    mp_array_t *a;
    if (mp_array_open(name, MP_CREATE, 0, MP_TYPE_LONGLONG, 2, true, &a) != MP_OK) return 1;
    for (int k = 0; k < 500; k++) {
        long long v;
        mp_rlock_t *lk = mp_array_get_lock(a);
        if (mp_rlock_acquire(lk, true, MP_FOREVER) != MP_OK) return 2;
        mp_array_get(a, 1, &v);
        v++;
        mp_array_set(a, 1, &v);
        mp_rlock_release(lk);
    }
    return mp_array_close(a) == MP_OK ? 0 : 3;
}

TEST(array_named_concurrent_create_gives_one_object) {
    char name[64];
    mpt_name(name, sizeof name, "race");
    mp_unlink(name);
    pid_t pids[6];
    for (int i = 0; i < 6; i++) pids[i] = mpt_fork(racer, name);
    for (int i = 0; i < 6; i++) mpt_wait_ok(pids[i]);
    mp_array_t *a;
    long long v = 0;
    CHECK_OK(mp_array_open(name, 0, 0, MP_TYPE_LONGLONG, 2, true, &a));
    CHECK_OK(mp_array_get(a, 1, &v));
    CHECK(v == 6 * 500);
    CHECK_OK(mp_array_close(a));
    CHECK_OK(mp_unlink(name));
}

TEST(array_named_zeroed_mode_and_layout) {
    char name[64], path[96];
    mpt_name(name, sizeof name, "lay");
    mp_unlink(name);
    mode_t old = umask(077);
    mp_array_t *a;
    CHECK_OK(mp_array_open(name, MP_CREATE, 0644, MP_TYPE_SHORT, 5, false, &a));
    umask(old);
    struct stat sb;
    CHECK(stat(mpt_shm_path(path, sizeof path, name), &sb) == 0);
    CHECK((sb.st_mode & 07777) == 0644);
    CHECK((size_t)sb.st_size == MP_ARRAY_DATA_OFFSET + 5 * sizeof(short));
    CHECK((unsigned char *)mp_array_data(a) == (unsigned char *)a + MP_ARRAY_DATA_OFFSET);
    const short *s = mp_array_data(a);
    for (int i = 0; i < 5; i++) CHECK(s[i] == 0);
    CHECK_OK(mp_array_close(a));
    CHECK_OK(mp_unlink(name));
    /* mode 0 means 0600. */
    CHECK_OK(mp_array_open(name, MP_CREATE, 0, MP_TYPE_SHORT, 5, false, &a));
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0600);
    CHECK_OK(mp_array_close(a));
    CHECK_OK(mp_unlink(name));
}

/* Files under an array's name that are not that array: refused before mapping. */
TEST(array_named_truncated_grown_and_foreign_files) {
    char name[64], path[96];
    mpt_name(name, sizeof name, "bad");
    mpt_shm_path(path, sizeof path, name);
    mp_unlink(name);
    mp_array_t *a = NULL;
    size_t total = MP_ARRAY_DATA_OFFSET + 4 * sizeof(int);
    int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
    CHECK(fd >= 0);
    /* empty, tiny, one short, one long, right size but foreign bytes */
    size_t sizes[] = {0, 8, total - 1, total + 1};
    for (size_t k = 0; k < 4; k++) {
        CHECK(ftruncate(fd, (off_t)sizes[k]) == 0);
        CHECK_ST(mp_array_open(name, 0, 0, MP_TYPE_INT, 4, true, &a), MP_EBADOBJ);
        CHECK_ST(mp_array_open(name, MP_CREATE, 0, MP_TYPE_INT, 4, true, &a), MP_EBADOBJ);
    }
    CHECK(ftruncate(fd, 0) == 0 && ftruncate(fd, (off_t)total) == 0);
    unsigned char junk[512];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 37 + 11);
    CHECK(pwrite(fd, junk, total, 0) == (ssize_t)total);
    CHECK_ST(mp_array_open(name, 0, 0, MP_TYPE_INT, 4, true, &a), MP_EBADOBJ);
    close(fd);
    CHECK(a == NULL);
    CHECK_OK(mp_unlink(name));

    /* A genuine array whose header was later corrupted: refused (open and access). */
    CHECK_OK(mp_array_open(name, MP_CREATE | MP_EXCL, 0, MP_TYPE_INT, 4, true, &a));
    int x = 1;
    fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    uint64_t huge = 1ull << 40;
    CHECK(pwrite(fd, &huge, 8, 16) == 8); /* the length field */
    mp_array_t *b = NULL;
    CHECK_ST(mp_array_open(name, 0, 0, MP_TYPE_INT, 4, true, &b), MP_EBADOBJ);
    CHECK_ST(mp_array_get(a, 3, &x), MP_EBADOBJ); /* no out-of-bounds access */
    CHECK(mp_array_len(a) == 0 && mp_array_data(a) == NULL);
    uint64_t four = 4;
    CHECK(pwrite(fd, &four, 8, 16) == 8);
    CHECK_OK(mp_array_get(a, 3, &x));
    uint32_t zero = 0;
    CHECK(pwrite(fd, &zero, 4, 64) == 4); /* the embedded lock's magic */
    CHECK_ST(mp_array_set(a, 0, &x), MP_EBADOBJ);
    CHECK(mp_array_get_lock(a) == NULL);
    close(fd);
    CHECK_OK(mp_array_close(a));
    CHECK_OK(mp_unlink(name));

    /* Another object, or a zero-filled block of exactly the right size, is not an array. */
    mp_lock_t *l;
    CHECK_OK(mp_lock_open(name, MP_CREATE | MP_EXCL, 0, &l));
    CHECK_ST(mp_array_open(name, MP_CREATE, 0, MP_TYPE_CHAR, 0, false, &a), MP_EBADOBJ);
    CHECK_OK(mp_lock_close(l));
    CHECK_OK(mp_unlink(name));
    mp_shm_t *s;
    CHECK_OK(mp_shm_open(name, MP_CREATE | MP_EXCL, total, 0, &s));
    CHECK_ST(mp_array_open(name, MP_CREATE, 0, MP_TYPE_INT, 4, true, &a), MP_EBADOBJ);
    CHECK_OK(mp_shm_close(s));
    CHECK_OK(mp_unlink(name));
}
