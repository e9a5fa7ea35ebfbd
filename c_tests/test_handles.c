/* Stale handles (issue 9, defect 8): a handle that was closed must never reach another
 * object. mmap readily hands a closed mapping's address to the next mapping, so a
 * stale copy of a handle used to equal a newer one: closing it again closed the newer
 * object, whose owner then faulted on its data. Now every close is decided by the
 * process's private registry, and a closed address is never handed out again:
 * closing twice is MP_EBADOBJ, with every handle kind, and the newer object still
 * works. The same registry must hold as many live objects as the process can map. */
#include "mpt_util.h"
#include <inttypes.h>

/* One handle kind: make (anonymous or named), prove it works, close. */
struct kind {
    const char *tag;
    mp_status (*make)(const char *name, void **out);
    void (*works)(void *h);
    mp_status (*close)(void *h);
};

static mp_status lock_make(const char *n, void **o) {
    return n ? mp_lock_open(n, MP_CREATE | MP_EXCL, 0, (mp_lock_t **)o) : mp_lock_new((mp_lock_t **)o);
}
static void lock_works(void *h) {
    CHECK_OK(mp_lock_acquire(h, false, 0));
    CHECK_OK(mp_lock_release(h));
}
static mp_status lock_close(void *h) { return mp_lock_close(h); }

static mp_status rlock_make(const char *n, void **o) {
    return n ? mp_rlock_open(n, MP_CREATE | MP_EXCL, 0, (mp_rlock_t **)o) : mp_rlock_new((mp_rlock_t **)o);
}
static void rlock_works(void *h) {
    CHECK_OK(mp_rlock_acquire(h, false, 0));
    CHECK_OK(mp_rlock_release(h));
}
static mp_status rlock_close(void *h) { return mp_rlock_close(h); }

static mp_status sem_make(const char *n, void **o) {
    return n ? mp_sem_open(n, MP_CREATE | MP_EXCL, 0, 1, 1, (mp_sem_t **)o) : mp_sem_new(1, 1, (mp_sem_t **)o);
}
static void sem_works(void *h) {
    CHECK_OK(mp_sem_acquire(h, false, 0));
    CHECK_OK(mp_sem_release(h));
}
static mp_status sem_close(void *h) { return mp_sem_close(h); }

static mp_status cond_make(const char *n, void **o) {
    return n ? mp_cond_open(n, MP_CREATE | MP_EXCL, 0, (mp_cond_t **)o) : mp_cond_new((mp_cond_t **)o);
}
static void cond_works(void *h) { CHECK_OK(mp_cond_notify_all(h)); }
static mp_status cond_close(void *h) { return mp_cond_close(h); }

static mp_status event_make(const char *n, void **o) {
    return n ? mp_event_open(n, MP_CREATE | MP_EXCL, 0, (mp_event_t **)o) : mp_event_new((mp_event_t **)o);
}
static void event_works(void *h) {
    bool set = true;
    CHECK_OK(mp_event_is_set(h, &set));
    CHECK(!set);
    CHECK_OK(mp_event_set(h));
    CHECK_OK(mp_event_clear(h));
}
static mp_status event_close(void *h) { return mp_event_close(h); }

static mp_status barrier_make(const char *n, void **o) {
    return n ? mp_barrier_open(n, MP_CREATE | MP_EXCL, 0, 1, (mp_barrier_t **)o)
             : mp_barrier_new(1, (mp_barrier_t **)o);
}
static void barrier_works(void *h) { CHECK_OK(mp_barrier_wait(h, MP_FOREVER, NULL, NULL, NULL)); }
static mp_status barrier_close(void *h) { return mp_barrier_close(h); }

static mp_status array_make(const char *n, void **o) {
    return n ? mp_array_open(n, MP_CREATE | MP_EXCL, 0, MP_TYPE_INT, 16, true, (mp_array_t **)o)
             : mp_array_new(MP_TYPE_INT, 16, true, (mp_array_t **)o);
}
static void array_works(void *h) {
    int x = 7, y = 0;
    CHECK_OK(mp_array_set(h, 3, &x));
    CHECK_OK(mp_array_get(h, 3, &y));
    CHECK(y == 7);
    ((int *)mp_array_data(h))[15] = 1; /* the data is still mapped */
}
static mp_status array_close(void *h) { return mp_array_close(h); }

static mp_status shm_make(const char *n, void **o) {
    /* Anonymous: a generated name (unlinked by the caller via mp_shm_name). */
    return mp_shm_open(n, MP_CREATE | MP_EXCL, 4096, 0, (mp_shm_t **)o);
}
static void shm_works(void *h) {
    CHECK(mp_shm_size(h) == 4096);
    CHECK(mp_shm_name(h) != NULL);
    unsigned char *d = mp_shm_data(h);
    CHECK(d != NULL);
    d[0] = 1;
    d[4095] = 2; /* the data is still mapped */
}
static mp_status shm_close(void *h) { return mp_shm_close(h); }

static const struct kind kinds[] = {
    {"lock", lock_make, lock_works, lock_close},
    {"rlock", rlock_make, rlock_works, rlock_close},
    {"sem", sem_make, sem_works, sem_close},
    {"cond", cond_make, cond_works, cond_close},
    {"event", event_make, event_works, event_close},
    {"barrier", barrier_make, barrier_works, barrier_close},
    {"array", array_make, array_works, array_close},
    {"shm", shm_make, shm_works, shm_close},
};
enum { NKINDS = sizeof kinds / sizeof kinds[0] };

static void unlink_handle(const struct kind *k, const char *name, void *h) {
    if (strcmp(k->tag, "shm") == 0) CHECK_OK(mp_unlink(mp_shm_name(h)));
    else if (name) CHECK_OK(mp_unlink(name));
}

/* open A, close A, open B (same kind and size: before the fix, usually at A's
 * address), close A again -> MP_EBADOBJ, and B still works and closes once. */
static void stale_close(const struct kind *k, int named) {
    char na[64], nb[64], tag[48];
    snprintf(tag, sizeof tag, "%s-a", k->tag);
    const char *name_a = named ? mpt_name(na, sizeof na, tag) : NULL;
    snprintf(tag, sizeof tag, "%s-b", k->tag);
    const char *name_b = named ? mpt_name(nb, sizeof nb, tag) : NULL;
    void *a = NULL, *b = NULL;
    CHECK_OK(k->make(name_a, &a));
    k->works(a);
    unlink_handle(k, name_a, a);
    CHECK_OK(k->close(a));
    CHECK_OK(k->make(name_b, &b));
    unlink_handle(k, name_b, b);
    if (a == b) fprintf(stderr, "%s: the new handle equals the closed one\n", k->tag);
    CHECK_ST(k->close(a), MP_EBADOBJ);
    k->works(b);
    /* Every other kind's close refuses B too, and leaves it alone. */
    for (int j = 0; j < NKINDS; j++)
        if (&kinds[j] != k) CHECK(kinds[j].close(b) != MP_OK);
    k->works(b);
    CHECK_OK(k->close(b));
    CHECK_ST(k->close(b), MP_EBADOBJ);
    CHECK_ST(k->close(a), MP_EBADOBJ);
}

TEST(double_close_is_ebadobj_for_anonymous_handles) {
    for (int i = 0; i < NKINDS; i++) stale_close(&kinds[i], 0);
}

TEST(double_close_is_ebadobj_for_named_handles) {
    for (int i = 0; i < NKINDS; i++) stale_close(&kinds[i], 1);
}

/* The accessors of a closed block answer "no block" instead of reading freed state. */
TEST(closed_shm_handle_reads_as_closed) {
    mp_shm_t *s = NULL;
    CHECK_OK(mp_shm_open(NULL, MP_CREATE, 100, 0, &s));
    CHECK_OK(mp_unlink(mp_shm_name(s)));
    CHECK_OK(mp_shm_close(s));
    CHECK(mp_shm_data(s) == NULL && mp_shm_size(s) == 0 && mp_shm_name(s) == NULL);
}

/* Many rounds, handles of all kinds interleaved: no closed handle ever comes back, and
 * every stale close is refused while the live objects keep working. */
TEST(handles_are_never_reused) {
    enum { ROUNDS = 200 };
    static void *closed[ROUNDS * NKINDS];
    int nclosed = 0;
    for (int r = 0; r < ROUNDS; r++) {
        void *live[NKINDS];
        for (int i = 0; i < NKINDS; i++) {
            CHECK_OK(kinds[i].make(NULL, &live[i]));
            unlink_handle(&kinds[i], NULL, live[i]);
            for (int c = 0; c < nclosed; c++) CHECK(closed[c] != live[i]);
        }
        for (int i = 0; i < NKINDS; i++) {
            if (nclosed > 0) CHECK_ST(kinds[i].close(closed[(r * 7 + i) % nclosed]), MP_EBADOBJ);
            kinds[i].works(live[i]);
            CHECK_OK(kinds[i].close(live[i]));
            closed[nclosed++] = live[i];
        }
    }
}

/* A forked child inherits the handles: it can close them once, and its closes do not
 * affect the parent's. */
TEST(child_closes_inherited_handles_once) {
    void *h[NKINDS];
    for (int i = 0; i < NKINDS; i++) {
        CHECK_OK(kinds[i].make(NULL, &h[i]));
        unlink_handle(&kinds[i], NULL, h[i]);
    }
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        for (int i = 0; i < NKINDS; i++) {
            kinds[i].works(h[i]);
            CHECK_OK(kinds[i].close(h[i]));
            CHECK_ST(kinds[i].close(h[i]), MP_EBADOBJ);
        }
        _exit(0);
    }
    mpt_wait_ok(pid);
    for (int i = 0; i < NKINDS; i++) {
        kinds[i].works(h[i]);
        CHECK_OK(kinds[i].close(h[i]));
    }
}

/* destroy on a closed handle is MP_EBADOBJ too (the closed address is never read). */
TEST(destroy_of_closed_handle_is_ebadobj) {
    mp_lock_t *l;
    mp_sem_t *s;
    CHECK_OK(mp_lock_new(&l));
    CHECK_OK(mp_sem_new(1, 1, &s));
    CHECK_OK(mp_lock_close(l));
    CHECK_OK(mp_sem_close(s));
    CHECK_ST(mp_lock_destroy(l), MP_EBADOBJ);
    CHECK_ST(mp_sem_destroy(s), MP_EBADOBJ);
}

/* A raw block's bytes are the caller's: an in-place object at its very start is still
 * an in-place object (close: MP_EINVAL; destroy works), and the block closes normally. */
TEST(in_place_object_at_the_start_of_a_block) {
    mp_shm_t *s;
    CHECK_OK(mp_shm_open(NULL, MP_CREATE, 4096, 0, &s));
    CHECK_OK(mp_unlink(mp_shm_name(s)));
    mp_lock_t *l = mp_shm_data(s);
    CHECK_OK(mp_lock_init(l));
    CHECK_ST(mp_lock_close(l), MP_EINVAL);
    CHECK_ST(mp_sem_close((mp_sem_t *)l), MP_EBADOBJ);
    lock_works(l);
    CHECK_OK(mp_lock_destroy(l));
    CHECK_OK(mp_shm_close(s));
}

/* ---- a limited address space (RLIMIT_AS) ------------------------------------------ */

#include <sys/resource.h>

/* This process's virtual size in bytes (VmSize), or 0. */
static uint64_t vm_size(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %" SCNu64 " kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024;
}

/* Limits the address space to `extra` bytes above the current size; false (with a
 * message) where that cannot be done. Must run before the library maps anything in
 * this process: each test runs in a fresh fork of the runner, which never does. */
static bool limit_address_space(uint64_t extra, const char *test) {
    uint64_t now = vm_size();
    struct rlimit rl = {now + extra, now + extra};
    if (now == 0 || setrlimit(RLIMIT_AS, &rl) != 0) {
        fprintf(stderr, "%s: cannot read VmSize or set RLIMIT_AS; skipped\n", test);
        return false;
    }
    return true;
}

/* The largest inaccessible anonymous mapping of this process (the arena's unused part
 * if there is one), in bytes. */
static uint64_t largest_reservation(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f != NULL);
    char line[512];
    uint64_t best = 0;
    while (fgets(line, sizeof line, f)) {
        uint64_t lo, hi, ino;
        char perms[8];
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %" SCNu64, &lo, &hi, perms, &ino) == 4 &&
            strcmp(perms, "---p") == 0 && ino == 0 && hi - lo > best)
            best = hi - lo;
    }
    fclose(f);
    return best;
}

/* With 1.5 GiB of address space to spare, the 1 TiB arena is refused but a smaller one
 * is reserved: handles stay unique and stale closes are still detected. */
TEST(handles_stay_unique_in_a_small_address_space) {
    if (!limit_address_space(1536ull << 20, "handles_stay_unique_in_a_small_address_space")) return;
    for (int i = 0; i < NKINDS; i++) stale_close(&kinds[i], 0);
    for (int i = 0; i < NKINDS; i++) stale_close(&kinds[i], 1);
    uint64_t r = largest_reservation();
    CHECK(r >= (64ull << 20) && r < (1536ull << 20));
}

/* With no room for any arena, objects still work (placed by the kernel; a stale
 * handle is then detected only while its address is not reused, as documented). */
TEST(objects_work_without_an_arena) {
    if (!limit_address_space(64ull << 20, "objects_work_without_an_arena")) return;
    for (int round = 0; round < 50; round++)
        for (int i = 0; i < NKINDS; i++) {
            void *h;
            CHECK_OK(kinds[i].make(NULL, &h));
            unlink_handle(&kinds[i], NULL, h);
            kinds[i].works(h);
            CHECK_OK(kinds[i].close(h));
        }
    CHECK(largest_reservation() < (64ull << 20));
}

/* CPython lets a process hold tens of thousands of Locks (each sem_open is one mapping;
 * the limit is vm.max_map_count, 65530). A regression: the process's record of its
 * mappings (src/sys/shm/registry.rs) had a small fixed size, and mp_lock_new failed
 * after 4096 live objects. */
TEST(more_than_4096_objects_per_process) {
    enum { N = 10000 };
    static mp_lock_t *locks[N];
    int n = 0;
    mp_status st = MP_OK;
    for (; n < N; n++) {
        st = mp_lock_new(&locks[n]);
        if (st != MP_OK) break;
    }
    for (int i = 0; i < n; i++) CHECK_OK(mp_lock_close(locks[i]));
    if (n < N) {
        fprintf(stderr, "mp_lock_new failed with %s after %d live objects\n", mp_status_name(st), n);
        _exit(1);
    }
}
