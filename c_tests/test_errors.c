/* Bad input to the Lock/RLock/Semaphore entry points, through the public header only:
 * memory that holds no live object of the right type (zeroed, random, destroyed,
 * another type) -> MP_EBADOBJ with nothing written; NULL -> MP_EINVAL for every pointer
 * argument; misaligned pointers; destroy/close misuse; every bad name, flag and mode;
 * status strings and the version. Out-parameters must be untouched on failure. */
#include "mpt_util.h"

#define OUT_SENTINEL 0x5a

/* ---- the entry points, as "call this on that memory" ------------------------ */

typedef mp_status (*entry_fn)(void *mem);
struct entry { const char *name; entry_fn fn; };

/* Calls a function with one out-parameter and checks it was not written on failure. */
#define OUT_CALL(type, call_with_out) do { \
    union { type v; unsigned char b[sizeof(type)]; } o_; memset(&o_, OUT_SENTINEL, sizeof o_); \
    mp_status st_ = call_with_out(&o_.v); \
    if (st_ != MP_OK) for (size_t i_ = 0; i_ < sizeof o_; i_++) CHECK(o_.b[i_] == OUT_SENTINEL); \
    return st_; } while (0)

static mp_status l_try(void *m) { return mp_lock_acquire(m, false, 0); }
static mp_status l_timed(void *m) { return mp_lock_acquire(m, true, 50); }
static mp_status l_forever(void *m) { return mp_lock_acquire(m, true, MP_FOREVER); }
static mp_status l_release(void *m) { return mp_lock_release(m); }
#define L_LOCKED(o) mp_lock_is_locked(m, o)
static mp_status l_is_locked(void *m) { OUT_CALL(bool, L_LOCKED); }
static mp_status l_destroy(void *m) { return mp_lock_destroy(m); }
static mp_status l_close(void *m) { return mp_lock_close(m); }
static const struct entry lock_entries[] = {
    {"mp_lock_acquire(false)", l_try}, {"mp_lock_acquire(50ms)", l_timed},
    {"mp_lock_acquire(forever)", l_forever}, {"mp_lock_release", l_release},
    {"mp_lock_is_locked", l_is_locked}, {"mp_lock_destroy", l_destroy}, {"mp_lock_close", l_close},
};

static mp_status r_try(void *m) { return mp_rlock_acquire(m, false, 0); }
static mp_status r_timed(void *m) { return mp_rlock_acquire(m, true, 50); }
static mp_status r_forever(void *m) { return mp_rlock_acquire(m, true, MP_FOREVER); }
static mp_status r_release(void *m) { return mp_rlock_release(m); }
#define R_MINE(o) mp_rlock_is_mine(m, o)
#define R_COUNT(o) mp_rlock_count(m, o)
static mp_status r_is_mine(void *m) { OUT_CALL(bool, R_MINE); }
static mp_status r_count(void *m) { OUT_CALL(uint32_t, R_COUNT); }
static mp_status r_destroy(void *m) { return mp_rlock_destroy(m); }
static mp_status r_close(void *m) { return mp_rlock_close(m); }
static const struct entry rlock_entries[] = {
    {"mp_rlock_acquire(false)", r_try}, {"mp_rlock_acquire(50ms)", r_timed},
    {"mp_rlock_acquire(forever)", r_forever}, {"mp_rlock_release", r_release},
    {"mp_rlock_is_mine", r_is_mine}, {"mp_rlock_count", r_count},
    {"mp_rlock_destroy", r_destroy}, {"mp_rlock_close", r_close},
};

static mp_status s_try(void *m) { return mp_sem_acquire(m, false, 0); }
static mp_status s_timed(void *m) { return mp_sem_acquire(m, true, 50); }
static mp_status s_forever(void *m) { return mp_sem_acquire(m, true, MP_FOREVER); }
static mp_status s_release(void *m) { return mp_sem_release(m); }
#define S_VALUE(o) mp_sem_get_value(m, o)
#define S_MAX(o) mp_sem_get_max_value(m, o)
static mp_status s_get_value(void *m) { OUT_CALL(uint32_t, S_VALUE); }
static mp_status s_get_max(void *m) { OUT_CALL(uint32_t, S_MAX); }
static mp_status s_destroy(void *m) { return mp_sem_destroy(m); }
static mp_status s_close(void *m) { return mp_sem_close(m); }
static const struct entry sem_entries[] = {
    {"mp_sem_acquire(false)", s_try}, {"mp_sem_acquire(50ms)", s_timed},
    {"mp_sem_acquire(forever)", s_forever}, {"mp_sem_release", s_release},
    {"mp_sem_get_value", s_get_value}, {"mp_sem_get_max_value", s_get_max},
    {"mp_sem_destroy", s_destroy}, {"mp_sem_close", s_close},
};

struct family { const char *name; const struct entry *e; size_t n; };
static const struct family families[] = {
    {"lock", lock_entries, sizeof lock_entries / sizeof lock_entries[0]},
    {"rlock", rlock_entries, sizeof rlock_entries / sizeof rlock_entries[0]},
    {"sem", sem_entries, sizeof sem_entries / sizeof sem_entries[0]},
};

/* Every entry point of `f` on `mem` returns `expected` and leaves the 64 bytes as
 * they were (no silent corruption). */
static void expect_all(const struct family *f, void *mem, mp_status expected, const char *what) {
    unsigned char before[64];
    memcpy(before, mem, 64);
    for (size_t i = 0; i < f->n; i++) {
        mp_status st = f->e[i].fn(mem);
        if (st != expected) {
            fprintf(stderr, "%s on %s returned %s (%d), expected %s\n", f->e[i].name, what, mp_status_name(st), st,
                    mp_status_name(expected));
            _exit(1);
        }
        if (memcmp(before, mem, 64) != 0) {
            fprintf(stderr, "%s on %s changed the memory\n", f->e[i].name, what);
            _exit(1);
        }
    }
}

/* Zeroed, all-ones and random memory is no object: MP_EBADOBJ from every entry point. */
TEST(errors_badobj_for_garbage_memory) {
    unsigned char *mem = mpt_shared(4096);
    for (size_t fi = 0; fi < 3; fi++) {
        memset(mem, 0, 4096);
        expect_all(&families[fi], mem, MP_EBADOBJ, "zeroed memory");
        memset(mem, 0xff, 4096);
        expect_all(&families[fi], mem, MP_EBADOBJ, "0xff bytes");
        for (uint64_t seed = 1; seed <= 50; seed++) {
            mpt_fill_random(mem, 4096, seed * 7919);
            expect_all(&families[fi], mem, MP_EBADOBJ, "random bytes");
        }
    }
}

static void init_kind(int kind, void *mem) {
    switch (kind) {
    case 0: CHECK_OK(mp_lock_init(mem)); break;
    case 1: CHECK_OK(mp_rlock_init(mem)); break;
    default: CHECK_OK(mp_sem_init(mem, 1, 1)); break;
    }
}

static void destroy_kind(int kind, void *mem) {
    switch (kind) {
    case 0: CHECK_OK(mp_lock_destroy(mem)); break;
    case 1: CHECK_OK(mp_rlock_destroy(mem)); break;
    default: CHECK_OK(mp_sem_destroy(mem)); break;
    }
}

/* The object still works as its own type after the other family's calls failed. */
static void still_works(int kind, void *mem) {
    switch (kind) {
    case 0: CHECK_OK(mp_lock_acquire(mem, false, 0)); CHECK_OK(mp_lock_release(mem)); break;
    case 1: CHECK_OK(mp_rlock_acquire(mem, false, 0)); CHECK_OK(mp_rlock_release(mem)); break;
    default: {
        uint32_t v = 0;
        CHECK_OK(mp_sem_get_value(mem, &v));
        CHECK(v == 1);
        CHECK_OK(mp_sem_acquire(mem, false, 0));
        CHECK_OK(mp_sem_release(mem));
    }
    }
}

/* A destroyed object is MP_EBADOBJ for every entry point of its family. */
TEST(errors_badobj_for_destroyed_objects) {
    unsigned char *mem = mpt_shared(4096);
    for (int k = 0; k < 3; k++) {
        memset(mem, 0, 4096);
        init_kind(k, mem);
        destroy_kind(k, mem);
        expect_all(&families[k], mem, MP_EBADOBJ, "a destroyed object");
        /* and init makes it live again */
        init_kind(k, mem);
        still_works(k, mem);
        destroy_kind(k, mem);
    }
}

/* Another type's live object (in place, anonymous, or named) is MP_EBADOBJ for every
 * entry point (mp_lock_acquire on an mp_sem_t, mp_sem_close on an mp_lock_t, ...), and
 * that object is left intact and working. */
TEST(errors_badobj_for_other_types) {
    unsigned char *mem = mpt_shared(4096);
    for (int k = 0; k < 3; k++) {
        for (int f = 0; f < 3; f++) {
            if (f == k) continue;
            /* in place */
            memset(mem, 0, 4096);
            init_kind(k, mem);
            expect_all(&families[f], mem, MP_EBADOBJ, "another type's in-place object");
            still_works(k, mem);
            destroy_kind(k, mem);
            /* anonymous (close of the wrong type must not unmap it) */
            void *obj;
            switch (k) {
            case 0: CHECK_OK(mp_lock_new((mp_lock_t **)&obj)); break;
            case 1: CHECK_OK(mp_rlock_new((mp_rlock_t **)&obj)); break;
            default: CHECK_OK(mp_sem_new(1, 1, (mp_sem_t **)&obj)); break;
            }
            expect_all(&families[f], obj, MP_EBADOBJ, "another type's anonymous object");
            still_works(k, obj);
            switch (k) {
            case 0: CHECK_OK(mp_lock_close(obj)); break;
            case 1: CHECK_OK(mp_rlock_close(obj)); break;
            default: CHECK_OK(mp_sem_close(obj)); break;
            }
        }
    }
}

/* NULL for every pointer argument of every Lock/RLock/Sem function -> MP_EINVAL. */
TEST(errors_null_pointers) {
    char name[64];
    mpt_name(name, sizeof name, "null");
    mp_lock_t *lock;
    mp_rlock_t *rlock;
    mp_sem_t *sem;
    bool b;
    uint32_t u;
    CHECK_OK(mp_lock_new(&lock));
    CHECK_OK(mp_rlock_new(&rlock));
    CHECK_OK(mp_sem_new(1, 1, &sem));

    CHECK_ST(mp_lock_init(NULL), MP_EINVAL);
    CHECK_ST(mp_lock_destroy(NULL), MP_EINVAL);
    CHECK_ST(mp_lock_new(NULL), MP_EINVAL);
    CHECK_ST(mp_lock_close(NULL), MP_EINVAL);
    CHECK_ST(mp_lock_acquire(NULL, true, MP_FOREVER), MP_EINVAL);
    CHECK_ST(mp_lock_acquire(NULL, false, 0), MP_EINVAL);
    CHECK_ST(mp_lock_release(NULL), MP_EINVAL);
    CHECK_ST(mp_lock_is_locked(NULL, &b), MP_EINVAL);
    CHECK_ST(mp_lock_is_locked(lock, NULL), MP_EINVAL);
    CHECK_ST(mp_lock_is_locked(NULL, NULL), MP_EINVAL);

    CHECK_ST(mp_rlock_init(NULL), MP_EINVAL);
    CHECK_ST(mp_rlock_destroy(NULL), MP_EINVAL);
    CHECK_ST(mp_rlock_new(NULL), MP_EINVAL);
    CHECK_ST(mp_rlock_close(NULL), MP_EINVAL);
    CHECK_ST(mp_rlock_acquire(NULL, true, MP_FOREVER), MP_EINVAL);
    CHECK_ST(mp_rlock_acquire(NULL, false, 0), MP_EINVAL);
    CHECK_ST(mp_rlock_release(NULL), MP_EINVAL);
    CHECK_ST(mp_rlock_is_mine(NULL, &b), MP_EINVAL);
    CHECK_ST(mp_rlock_is_mine(rlock, NULL), MP_EINVAL);
    CHECK_ST(mp_rlock_is_mine(NULL, NULL), MP_EINVAL);
    CHECK_ST(mp_rlock_count(NULL, &u), MP_EINVAL);
    CHECK_ST(mp_rlock_count(rlock, NULL), MP_EINVAL);
    CHECK_ST(mp_rlock_count(NULL, NULL), MP_EINVAL);

    CHECK_ST(mp_sem_init(NULL, 1, 1), MP_EINVAL);
    CHECK_ST(mp_sem_destroy(NULL), MP_EINVAL);
    CHECK_ST(mp_sem_new(1, 1, NULL), MP_EINVAL);
    CHECK_ST(mp_sem_close(NULL), MP_EINVAL);
    CHECK_ST(mp_sem_acquire(NULL, true, MP_FOREVER), MP_EINVAL);
    CHECK_ST(mp_sem_acquire(NULL, false, 0), MP_EINVAL);
    CHECK_ST(mp_sem_release(NULL), MP_EINVAL);
    CHECK_ST(mp_sem_get_value(NULL, &u), MP_EINVAL);
    CHECK_ST(mp_sem_get_value(sem, NULL), MP_EINVAL);
    CHECK_ST(mp_sem_get_value(NULL, NULL), MP_EINVAL);
    CHECK_ST(mp_sem_get_max_value(NULL, &u), MP_EINVAL);
    CHECK_ST(mp_sem_get_max_value(sem, NULL), MP_EINVAL);
    CHECK_ST(mp_sem_get_max_value(NULL, NULL), MP_EINVAL);

    /* open: NULL name, NULL out (and then nothing may be created), both. */
    const uint32_t flags[] = {0, MP_CREATE, MP_CREATE | MP_EXCL};
    for (size_t i = 0; i < 3; i++) {
        mp_lock_t *lo = (mp_lock_t *)(uintptr_t)0x77;
        mp_rlock_t *ro = (mp_rlock_t *)(uintptr_t)0x77;
        mp_sem_t *so = (mp_sem_t *)(uintptr_t)0x77;
        CHECK_ST(mp_lock_open(NULL, flags[i], 0, &lo), MP_EINVAL);
        CHECK_ST(mp_lock_open(name, flags[i], 0, NULL), MP_EINVAL);
        CHECK_ST(mp_lock_open(NULL, flags[i], 0, NULL), MP_EINVAL);
        CHECK_ST(mp_rlock_open(NULL, flags[i], 0, &ro), MP_EINVAL);
        CHECK_ST(mp_rlock_open(name, flags[i], 0, NULL), MP_EINVAL);
        CHECK_ST(mp_rlock_open(NULL, flags[i], 0, NULL), MP_EINVAL);
        CHECK_ST(mp_sem_open(NULL, flags[i], 0, 1, 1, &so), MP_EINVAL);
        CHECK_ST(mp_sem_open(name, flags[i], 0, 1, 1, NULL), MP_EINVAL);
        CHECK_ST(mp_sem_open(NULL, flags[i], 0, 1, 1, NULL), MP_EINVAL);
        CHECK(lo == (mp_lock_t *)(uintptr_t)0x77 && ro == (mp_rlock_t *)(uintptr_t)0x77 &&
              so == (mp_sem_t *)(uintptr_t)0x77);
        CHECK(!mpt_file_exists(name));
    }
    CHECK_ST(mp_unlink(NULL), MP_EINVAL);

    /* The valid objects were not disturbed. */
    CHECK_OK(mp_lock_acquire(lock, false, 0));
    CHECK_OK(mp_rlock_acquire(rlock, false, 0));
    CHECK_OK(mp_sem_acquire(sem, false, 0));
    CHECK_OK(mp_lock_release(lock));
    CHECK_OK(mp_rlock_release(rlock));
    CHECK_OK(mp_sem_release(sem));
    CHECK_OK(mp_lock_close(lock));
    CHECK_OK(mp_rlock_close(rlock));
    CHECK_OK(mp_sem_close(sem));
}

/* init on a misaligned pointer is MP_EINVAL (documented: MP_*_ALIGN-aligned memory);
 * every other call on a misaligned pointer returns an error (MP_EBADOBJ or MP_EINVAL),
 * never crashes, and writes nothing. */
TEST(errors_misaligned_pointers) {
    unsigned char *mem = mpt_shared(4096);
    const size_t align[] = {MP_LOCK_ALIGN, MP_RLOCK_ALIGN, MP_SEM_ALIGN};
    for (int k = 0; k < 3; k++) {
        for (size_t off = 1; off < 16; off++) {
            if (off % align[k] == 0) continue;
            memset(mem, 0, 4096);
            void *p = mem + 64 + off;
            switch (k) {
            case 0: CHECK_ST(mp_lock_init(p), MP_EINVAL); break;
            case 1: CHECK_ST(mp_rlock_init(p), MP_EINVAL); break;
            default: CHECK_ST(mp_sem_init(p, 1, 1), MP_EINVAL); break;
            }
            for (int i = 0; i < 4096; i++) CHECK(mem[i] == 0);
            const struct family *f = &families[k];
            for (size_t i = 0; i < f->n; i++) {
                mp_status st = f->e[i].fn(p);
                CHECK(st == MP_EBADOBJ || st == MP_EINVAL);
            }
            for (int i = 0; i < 4096; i++) CHECK(mem[i] == 0);
        }
        /* A live object seen through a pointer shifted off its start. */
        memset(mem, 0, 4096);
        init_kind(k, mem + 64);
        for (size_t off = 1; off < 16; off++) {
            const struct family *f = &families[k];
            for (size_t i = 0; i < f->n; i++) {
                mp_status st = f->e[i].fn(mem + 64 + off);
                CHECK(st == MP_EBADOBJ || st == MP_EINVAL);
            }
        }
        still_works(k, mem + 64);
        destroy_kind(k, mem + 64);
    }
}

struct busy_arg { mp_rlock_t *lock; int hold_rd; int hold_wr; int report_wr; };

static int hold_rlock_in_child(void *p) {
    struct busy_arg *a = p;
    close(a->hold_wr);
    CHECK_OK(mp_rlock_acquire(a->lock, true, MP_FOREVER));
    CHECK(write(a->report_wr, "x", 1) == 1);
    char c;
    while (read(a->hold_rd, &c, 1) < 0 && errno == EINTR) {}
    CHECK_OK(mp_rlock_release(a->lock));
    return 0;
}

/* destroy while held -> MP_EBUSY (by us or by another process), and nothing changes. */
TEST(errors_destroy_while_held) {
    mp_lock_t *l = mpt_shared(4096);
    CHECK_OK(mp_lock_init(l));
    CHECK_OK(mp_lock_acquire(l, false, 0));
    CHECK_ST(mp_lock_destroy(l), MP_EBUSY);
    CHECK_ST(mp_lock_acquire(l, false, 0), MP_TIMEOUT);
    CHECK_OK(mp_lock_release(l));
    CHECK_OK(mp_lock_destroy(l));

    mp_rlock_t *r = mpt_shared(4096);
    CHECK_OK(mp_rlock_init(r));
    CHECK_OK(mp_rlock_acquire(r, false, 0));
    CHECK_ST(mp_rlock_destroy(r), MP_EBUSY);
    CHECK_OK(mp_rlock_release(r));
    CHECK_OK(mp_rlock_destroy(r));

    /* held by another process */
    CHECK_OK(mp_rlock_init(r));
    int hold[2], rep[2];
    CHECK(pipe(hold) == 0 && pipe(rep) == 0);
    struct busy_arg a = {r, hold[0], hold[1], rep[1]};
    pid_t pid = mpt_fork(hold_rlock_in_child, &a);
    mpt_read_n(rep[0], 1);
    CHECK_ST(mp_rlock_destroy(r), MP_EBUSY);
    close(hold[1]);
    mpt_wait_ok(pid);
    CHECK_OK(mp_rlock_destroy(r));
}

/* destroy on a new()- or open()-made object -> MP_EINVAL (use close), and the object
 * keeps working; close on an in-place object -> MP_EINVAL (use destroy), and it keeps
 * working; close on a copy of a new()-made object at another address -> MP_EINVAL. */
TEST(errors_destroy_and_close_mixups) {
    char name[64];
    mpt_name(name, sizeof name, "mixup");
    mp_lock_t *ln, *lo;
    mp_rlock_t *rn, *ro;
    mp_sem_t *sn, *so;
    CHECK_OK(mp_lock_new(&ln));
    CHECK_OK(mp_rlock_new(&rn));
    CHECK_OK(mp_sem_new(1, 1, &sn));
    CHECK_ST(mp_lock_destroy(ln), MP_EINVAL);
    CHECK_ST(mp_rlock_destroy(rn), MP_EINVAL);
    CHECK_ST(mp_sem_destroy(sn), MP_EINVAL);
    still_works(0, ln);
    still_works(1, rn);
    still_works(2, sn);

    /* A byte copy of an anonymous object elsewhere: not a mapping of this library. */
    unsigned char *copy = mpt_shared(4096);
    memcpy(copy, ln, 64);
    CHECK_ST(mp_lock_close((mp_lock_t *)copy), MP_EINVAL);
    memcpy(copy, rn, 64);
    CHECK_ST(mp_rlock_close((mp_rlock_t *)copy), MP_EINVAL);
    memcpy(copy, sn, 64);
    CHECK_ST(mp_sem_close((mp_sem_t *)copy), MP_EINVAL);
    copy[0] ^= 1; /* still mapped and writable */

    CHECK_OK(mp_lock_close(ln));
    CHECK_OK(mp_rlock_close(rn));
    CHECK_OK(mp_sem_close(sn));

    char n1[80], n2[80], n3[80];
    snprintf(n1, sizeof n1, "%s-l", name);
    snprintf(n2, sizeof n2, "%s-r", name);
    snprintf(n3, sizeof n3, "%s-s", name);
    CHECK_OK(mp_lock_open(n1, MP_CREATE, 0, &lo));
    CHECK_OK(mp_rlock_open(n2, MP_CREATE, 0, &ro));
    CHECK_OK(mp_sem_open(n3, MP_CREATE, 0, 1, 1, &so));
    CHECK_ST(mp_lock_destroy(lo), MP_EINVAL);
    CHECK_ST(mp_rlock_destroy(ro), MP_EINVAL);
    CHECK_ST(mp_sem_destroy(so), MP_EINVAL);
    still_works(0, lo);
    still_works(1, ro);
    still_works(2, so);
    CHECK_OK(mp_lock_close(lo));
    CHECK_OK(mp_rlock_close(ro));
    CHECK_OK(mp_sem_close(so));
    CHECK_OK(mp_unlink(n1));
    CHECK_OK(mp_unlink(n2));
    CHECK_OK(mp_unlink(n3));

    unsigned char *mem = mpt_shared(4096);
    for (int k = 0; k < 3; k++) {
        init_kind(k, mem);
        switch (k) {
        case 0: CHECK_ST(mp_lock_close((mp_lock_t *)mem), MP_EINVAL); break;
        case 1: CHECK_ST(mp_rlock_close((mp_rlock_t *)mem), MP_EINVAL); break;
        default: CHECK_ST(mp_sem_close((mp_sem_t *)mem), MP_EINVAL); break;
        }
        still_works(k, mem);
        destroy_kind(k, mem);
    }
}

/* ---- names, flags, modes ---------------------------------------------------- */

static void expect_bad_name(const char *bad) {
    const uint32_t flags[] = {0, MP_CREATE, MP_CREATE | MP_EXCL};
    for (size_t i = 0; i < 3; i++) {
        mp_lock_t *lo = (mp_lock_t *)(uintptr_t)0x99;
        mp_rlock_t *ro = (mp_rlock_t *)(uintptr_t)0x99;
        mp_sem_t *so = (mp_sem_t *)(uintptr_t)0x99;
        mp_status a = mp_lock_open(bad, flags[i], 0, &lo);
        mp_status b = mp_rlock_open(bad, flags[i], 0, &ro);
        mp_status c = mp_sem_open(bad, flags[i], 0, 1, 1, &so);
        if (a != MP_EINVAL || b != MP_EINVAL || c != MP_EINVAL) {
            fprintf(stderr, "name \"%s\" flags %u: lock %s rlock %s sem %s (expected MP_EINVAL)\n", bad ? bad : "(null)",
                    flags[i], mp_status_name(a), mp_status_name(b), mp_status_name(c));
            _exit(1);
        }
        CHECK(lo == (mp_lock_t *)(uintptr_t)0x99 && ro == (mp_rlock_t *)(uintptr_t)0x99 &&
              so == (mp_sem_t *)(uintptr_t)0x99);
    }
    mp_status u = mp_unlink(bad);
    if (u != MP_EINVAL) {
        fprintf(stderr, "mp_unlink(\"%s\") returned %s (expected MP_EINVAL)\n", bad ? bad : "(null)", mp_status_name(u));
        _exit(1);
    }
}

/* Every bad name -> MP_EINVAL from every open function (all flag combinations) and
 * from mp_unlink, writing nothing. */
TEST(errors_bad_names) {
    static const char *bad[] = {
        NULL, "", "/", "//", "//a", "a/b", "/a/b", "a/", "/a/", "..", ".", "/..", "/.", "../x", "./x",
        " ", "a b", " a", "a ", "a\\b", "a*b", "a?b", "a:b", "a%b", "a~b", "a+b", "a@b", "a#b", "a$b", "a!b",
        "a=b", "a,b", "a;b", "a'b", "a\"b", "a(b", "a[b", "a{b", "a<b", "a|b", "a&b", "\t", "a\nb", "a\x01" "b",
        "a\x7f", "\xc3\xa9", "caf\xc3\xa9", "a\xff", "\x80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) expect_bad_name(bad[i]);
    char longname[260];
    memset(longname, 'x', 201);
    longname[201] = 0;
    expect_bad_name(longname); /* 201 characters */
    longname[0] = '/';
    memset(longname + 1, 'y', 201);
    longname[202] = 0;
    expect_bad_name(longname); /* "/" + 201 characters */
    memset(longname, 'z', 255);
    longname[255] = 0;
    expect_bad_name(longname);
}

/* Unusual but valid names work: exactly 200 characters (with and without the "/",
 * which name the same object), and names made of '.', '_', '-'. */
TEST(errors_edge_names_are_valid) {
    char n200[210], slash200[220];
    int len = snprintf(n200, sizeof n200, "mpt-%d-", (int)getpid());
    memset(n200 + len, 'N', 200 - len);
    n200[200] = 0;
    CHECK(strlen(n200) == 200);
    snprintf(slash200, sizeof slash200, "/%s", n200);
    mp_lock_t *a, *b;
    CHECK_OK(mp_lock_open(n200, MP_CREATE | MP_EXCL, 0, &a));
    CHECK_OK(mp_lock_open(slash200, 0, 0, &b));
    CHECK_OK(mp_lock_acquire(a, false, 0));
    CHECK_ST(mp_lock_acquire(b, false, 0), MP_TIMEOUT);
    CHECK_OK(mp_lock_release(b));
    CHECK_OK(mp_lock_close(a));
    CHECK_OK(mp_lock_close(b));
    CHECK_OK(mp_unlink(slash200));
    CHECK_ST(mp_unlink(n200), MP_ENOENT);

    mp_rlock_t *r;
    CHECK_OK(mp_rlock_open(n200, MP_CREATE | MP_EXCL, 0, &r));
    CHECK_OK(mp_rlock_close(r));
    CHECK_OK(mp_unlink(n200));
    mp_sem_t *s;
    CHECK_OK(mp_sem_open(slash200, MP_CREATE | MP_EXCL, 0, 2, 2, &s));
    CHECK_OK(mp_sem_close(s));
    CHECK_OK(mp_unlink(n200));

    const char *shapes[] = {"...%d", ".x%d", "-%d", "_%d", "a..b%d", "A-Z_a-z.0-9-%d"};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, shapes[i], (int)getpid());
        mp_lock_t *l;
        CHECK_OK(mp_lock_open(nm, MP_CREATE | MP_EXCL, 0, &l));
        CHECK_OK(mp_lock_close(l));
        CHECK_OK(mp_unlink(nm));
    }
}

/* Unknown flag bits, MP_EXCL without MP_CREATE, and mode bits outside 0777 are
 * MP_EINVAL; nothing is created. */
TEST(errors_bad_flags_and_modes) {
    char name[64];
    mpt_name(name, sizeof name, "flags");
    const uint32_t bad_flags[] = {MP_EXCL, 4, 8, 0x100, 0x80000000u, MP_CREATE | 4, MP_EXCL | 4,
                                  MP_CREATE | MP_EXCL | 8, 0xffffffffu};
    for (size_t i = 0; i < sizeof bad_flags / sizeof bad_flags[0]; i++) {
        mp_lock_t *lo = NULL;
        mp_rlock_t *ro = NULL;
        mp_sem_t *so = NULL;
        CHECK_ST(mp_lock_open(name, bad_flags[i], 0, &lo), MP_EINVAL);
        CHECK_ST(mp_rlock_open(name, bad_flags[i], 0, &ro), MP_EINVAL);
        CHECK_ST(mp_sem_open(name, bad_flags[i], 0, 1, 1, &so), MP_EINVAL);
        CHECK(!lo && !ro && !so);
        CHECK(!mpt_file_exists(name));
    }
    const uint32_t bad_modes[] = {01000, 02000, 04000, 04755, 010000, 0100600, 0x80000000u, 0xffffffffu};
    const uint32_t create_flags[] = {MP_CREATE, MP_CREATE | MP_EXCL};
    for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
        for (size_t j = 0; j < 2; j++) {
            mp_lock_t *lo = NULL;
            mp_rlock_t *ro = NULL;
            mp_sem_t *so = NULL;
            CHECK_ST(mp_lock_open(name, create_flags[j], bad_modes[i], &lo), MP_EINVAL);
            CHECK_ST(mp_rlock_open(name, create_flags[j], bad_modes[i], &ro), MP_EINVAL);
            CHECK_ST(mp_sem_open(name, create_flags[j], bad_modes[i], 1, 1, &so), MP_EINVAL);
            CHECK(!lo && !ro && !so);
            CHECK(!mpt_file_exists(name));
        }
    }
    /* Bad flags are refused for an existing name too (and leave it alone). */
    mp_lock_t *l;
    CHECK_OK(mp_lock_open(name, MP_CREATE, 0, &l));
    mp_lock_t *l2 = NULL;
    CHECK_ST(mp_lock_open(name, MP_EXCL, 0, &l2), MP_EINVAL);
    CHECK_ST(mp_lock_open(name, 4, 0, &l2), MP_EINVAL);
    CHECK(!l2);
    CHECK_OK(mp_lock_close(l));
    CHECK_OK(mp_unlink(name));
}

/* ---- strings and version ------------------------------------------------------ */

/* mp_strerror / mp_status_name are never NULL (known and unknown codes); the names
 * are the macro names; the messages of the known codes are distinct. */
TEST(errors_status_strings) {
    static const struct { mp_status code; const char *name; } known[] = {
        {MP_OK, "MP_OK"}, {MP_TIMEOUT, "MP_TIMEOUT"}, {MP_OWNER_DEAD, "MP_OWNER_DEAD"},
        {MP_CREATED, "MP_CREATED"}, {MP_EINVAL, "MP_EINVAL"}, {MP_EBADOBJ, "MP_EBADOBJ"}, {MP_ENOTOWNER, "MP_ENOTOWNER"},
        {MP_EOVERFLOW, "MP_EOVERFLOW"}, {MP_EINTR, "MP_EINTR"}, {MP_EBROKEN, "MP_EBROKEN"},
        {MP_EEXIST, "MP_EEXIST"}, {MP_ENOENT, "MP_ENOENT"}, {MP_EACCES, "MP_EACCES"},
        {MP_ENOMEM, "MP_ENOMEM"}, {MP_EBUSY, "MP_EBUSY"}, {MP_ERANGE, "MP_ERANGE"}, {MP_ESYS, "MP_ESYS"},
        {MP_EDEADLK, "MP_EDEADLK"},
        {MP_EMSGSIZE, "MP_EMSGSIZE"}, {MP_EBUFSIZE, "MP_EBUFSIZE"}, {MP_ECLOSED, "MP_ECLOSED"},
        {MP_ELEASE, "MP_ELEASE"},
    };
    const size_t n = sizeof known / sizeof known[0];
    CHECK(n == 22);
    for (size_t i = 0; i < n; i++) {
        const char *nm = mp_status_name(known[i].code);
        const char *msg = mp_strerror(known[i].code);
        CHECK(nm != NULL && msg != NULL);
        if (strcmp(nm, known[i].name) != 0) {
            fprintf(stderr, "mp_status_name(%d) = \"%s\", expected \"%s\"\n", known[i].code, nm, known[i].name);
            _exit(1);
        }
        CHECK(strlen(msg) > 0);
        CHECK(strcmp(msg, "unknown status code") != 0);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(msg, mp_strerror(known[j].code)) != 0);
    }
    const mp_status unknown[] = {4, 5, 42, 1000, -19, -100, INT32_MIN, INT32_MAX, INT32_MIN + 1};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *nm = mp_status_name(unknown[i]);
        const char *msg = mp_strerror(unknown[i]);
        CHECK(nm != NULL && msg != NULL);
        CHECK(strcmp(nm, "MP_UNKNOWN") == 0);
        CHECK(strcmp(msg, "unknown status code") == 0);
    }
}

/* mp_version() == the header's macros == mp_version_string(). */
TEST(errors_version_matches_header) {
    CHECK(mp_version() == (uint32_t)MP_VERSION);
    CHECK(mp_version() == (((uint32_t)MP_VERSION_MAJOR << 16) | ((uint32_t)MP_VERSION_MINOR << 8) |
                           (uint32_t)MP_VERSION_PATCH));
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", MP_VERSION_MAJOR, MP_VERSION_MINOR, MP_VERSION_PATCH);
    CHECK(mp_version_string() != NULL);
    if (strcmp(mp_version_string(), want) != 0) {
        fprintf(stderr, "mp_version_string() = \"%s\", header says %s\n", mp_version_string(), want);
        _exit(1);
    }
    CHECK(sizeof(mp_lock_t) == MP_LOCK_SIZE && _Alignof(mp_lock_t) == MP_LOCK_ALIGN);
    CHECK(sizeof(mp_rlock_t) == MP_RLOCK_SIZE && _Alignof(mp_rlock_t) == MP_RLOCK_ALIGN);
    CHECK(sizeof(mp_sem_t) == MP_SEM_SIZE && _Alignof(mp_sem_t) == MP_SEM_ALIGN);
    int rm = mp_robust_mode();
    CHECK(rm == MP_ROBUST_OFF || rm == MP_ROBUST_GLIBC || rm == MP_ROBUST_OWN);
}

/* Objects embedded in a user struct (as the API intends) at their natural alignment. */
struct user_struct {
    char tag;
    mp_lock_t lock;
    short x;
    mp_rlock_t rlock;
    char y;
    mp_sem_t sem;
};

TEST(errors_embedded_in_user_struct) {
    struct user_struct *u = mpt_shared(sizeof *u);
    CHECK_OK(mp_lock_init(&u->lock));
    CHECK_OK(mp_rlock_init(&u->rlock));
    CHECK_OK(mp_sem_init(&u->sem, 2, 2));
    still_works(0, &u->lock);
    still_works(1, &u->rlock);
    CHECK_OK(mp_sem_acquire(&u->sem, false, 0));
    CHECK_OK(mp_sem_release(&u->sem));
    CHECK_OK(mp_lock_destroy(&u->lock));
    CHECK_OK(mp_rlock_destroy(&u->rlock));
    CHECK_OK(mp_sem_destroy(&u->sem));
}

/* A NULL out-parameter is checked before anything else in every constructor that
 * writes one: the status is MP_EINVAL even where the other arguments would give
 * another code (an existing name of another type: MP_EBADOBJ; no such name: MP_ENOENT;
 * MP_EXCL on an existing name: MP_EEXIST), and MP_CREATE creates nothing. */
TEST(errors_null_out_is_checked_first) {
    char other[64], absent[64];
    mpt_name(other, sizeof other, "nullout-ev");
    mpt_name(absent, sizeof absent, "nullout-no");
    mp_event_t *ev;
    CHECK_OK(mp_event_open(other, MP_CREATE | MP_EXCL, 0, &ev));

    /* Reference: with a real out-parameter these calls fail with other codes. */
    mp_cond_t *c;
    mp_array_t *a;
    mp_sem_t *s;
    mp_sem_undo_t *u;
    CHECK_ST(mp_cond_open(other, 0, 0, &c), MP_EBADOBJ);
    CHECK_ST(mp_array_open(other, 0, 0, MP_TYPE_INT, 1, true, &a), MP_EBADOBJ);
    CHECK_ST(mp_sem_open(other, 0, 0, 1, 1, &s), MP_EBADOBJ);
    CHECK_ST(mp_sem_undo_open(other, 0, 0, 1, 1, &u), MP_EBADOBJ);
    CHECK_ST(mp_cond_open(absent, 0, 0, &c), MP_ENOENT);
    CHECK_ST(mp_array_open(absent, 0, 0, MP_TYPE_INT, 1, true, &a), MP_ENOENT);
    CHECK_ST(mp_sem_open(absent, 0, 0, 1, 1, &s), MP_ENOENT);
    CHECK_ST(mp_sem_undo_open(absent, 0, 0, 1, 1, &u), MP_ENOENT);
    CHECK_ST(mp_cond_open(other, MP_CREATE | MP_EXCL, 0, &c), MP_EEXIST);

    const char *names[] = {other, absent};
    const uint32_t flags[] = {0, MP_CREATE, MP_CREATE | MP_EXCL};
    for (size_t n = 0; n < 2; n++) {
        for (size_t i = 0; i < 3; i++) {
            const char *nm = names[n];
            CHECK_ST(mp_cond_open(nm, flags[i], 0, NULL), MP_EINVAL);
            CHECK_ST(mp_array_open(nm, flags[i], 0, MP_TYPE_INT, 1, true, NULL), MP_EINVAL);
            CHECK_ST(mp_sem_open(nm, flags[i], 0, 1, 1, NULL), MP_EINVAL);
            CHECK_ST(mp_sem_undo_open(nm, flags[i], 0, 1, 1, NULL), MP_EINVAL);
            /* Bad values too: the out-parameter is still what is reported. */
            CHECK_ST(mp_array_open(nm, flags[i], 0, (mp_type)0, 1, true, NULL), MP_EINVAL);
            CHECK_ST(mp_sem_open(nm, flags[i], 0, 2, 1, NULL), MP_EINVAL);
            CHECK_ST(mp_sem_undo_open(nm, flags[i], 0, 2, 1, NULL), MP_EINVAL);
            CHECK(!mpt_file_exists(absent));
        }
    }
    CHECK_ST(mp_cond_new(NULL), MP_EINVAL);
    CHECK_ST(mp_array_new(MP_TYPE_INT, 1, false, NULL), MP_EINVAL);
    CHECK_ST(mp_array_new((mp_type)0, 1, false, NULL), MP_EINVAL);
    CHECK_ST(mp_sem_new(2, 1, NULL), MP_EINVAL);
    CHECK_ST(mp_sem_undo_new(1, 1, NULL), MP_EINVAL);
    CHECK_ST(mp_sem_undo_new(2, 1, NULL), MP_EINVAL);

    /* The event under the name was not disturbed. */
    CHECK_OK(mp_event_set(ev));
    CHECK_OK(mp_event_wait(ev, 0));
    CHECK_OK(mp_event_close(ev));
    CHECK_OK(mp_unlink(other));
}
