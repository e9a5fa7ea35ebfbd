/*
 * Out of memory: no entry point may abort the process when the heap is exhausted.
 *
 * Rust's default reaction to a failed allocation is to print "memory allocation of N
 * bytes failed" and abort, which for a library means killing its host program. Every
 * call must instead return a status (MP_ENOMEM, or its usual outcome when it did not
 * need the memory), and a blocking call must finish its wait without allocating.
 *
 * Two ways to run out of memory are tested:
 * - this program interposes malloc, calloc, realloc, posix_memalign, aligned_alloc,
 *   memalign, valloc and pvalloc (the executable's definitions come before libc's for
 *   libmpsync.so and for libc itself; each forwards to glibc's __libc_* function) with
 *   a switch: refuse every allocation from now on, or refuse only the Nth one;
 * - RLIMIT_AS lowered after start and the heap filled up with malloc until it fails,
 *   with some address space given back so that new mappings (the objects) still fit.
 * Each test runs in a fresh process (mptest.h forks one per test) that has not called
 * the library before ("without warm-up": the thread's first call happens while
 * allocation fails), or that first ran every call once with allocation working ("with
 * warm-up"). A helper process forked beforehand creates the named objects and holds an
 * RLock, a Lock and a unit of an undo semaphore, so that the blocking calls must wait.
 */
#include "mpt_util.h"
#include <dirent.h>
#include <stdarg.h>
#include <sys/resource.h>

/* ---- the allocator switch --------------------------------------------------------- */

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void *__libc_valloc(size_t n);
extern void *__libc_pvalloc(size_t n);

enum { OOM_OFF, OOM_ALL, OOM_NTH, OOM_COUNT };
static int oom_mode;     /* OOM_*, accessed atomically (threads may allocate) */
static long oom_seen;    /* allocations asked for since the switch was set */
static long oom_nth;     /* OOM_NTH: the one that fails (1 = the first) */
static long oom_refused; /* allocations refused since the switch was set */

static void oom_set(int mode, long nth) {
    __atomic_store_n(&oom_seen, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&oom_refused, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&oom_nth, nth, __ATOMIC_SEQ_CST);
    __atomic_store_n(&oom_mode, mode, __ATOMIC_SEQ_CST);
}

static void oom_off(void) { __atomic_store_n(&oom_mode, OOM_OFF, __ATOMIC_SEQ_CST); }

/* True if this allocation must fail. */
static int oom_refuse(void) {
    int mode = __atomic_load_n(&oom_mode, __ATOMIC_SEQ_CST);
    if (mode == OOM_OFF) return 0;
    long n = __atomic_add_fetch(&oom_seen, 1, __ATOMIC_SEQ_CST);
    if (mode == OOM_ALL || (mode == OOM_NTH && n == __atomic_load_n(&oom_nth, __ATOMIC_SEQ_CST))) {
        __atomic_add_fetch(&oom_refused, 1, __ATOMIC_SEQ_CST);
        errno = ENOMEM;
        return 1;
    }
    return 0;
}

void *malloc(size_t n) { return oom_refuse() ? NULL : __libc_malloc(n); }
void *calloc(size_t n, size_t size) { return oom_refuse() ? NULL : __libc_calloc(n, size); }
void *realloc(void *p, size_t n) {
    if (p != NULL && n == 0) return __libc_realloc(p, 0); /* a free, not an allocation */
    return oom_refuse() ? NULL : __libc_realloc(p, n);
}
void *memalign(size_t align, size_t n) { return oom_refuse() ? NULL : __libc_memalign(align, n); }
void *aligned_alloc(size_t align, size_t n) { return oom_refuse() ? NULL : __libc_memalign(align, n); }
void *valloc(size_t n) { return oom_refuse() ? NULL : __libc_valloc(n); }
void *pvalloc(size_t n) { return oom_refuse() ? NULL : __libc_pvalloc(n); }
int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    if (oom_refuse()) return ENOMEM;
    void *p = __libc_memalign(align, n);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

/* ---- checking results without allocating --------------------------------------- */

/* Fails the test (allocation switched off first, so that reporting works) unless `got`
 * is one of the allowed codes (a list ending with 99). */
static void expect_in(const char *what, int line, mp_status got, ...) {
    va_list ap;
    va_start(ap, got);
    for (;;) {
        int allowed = va_arg(ap, int);
        if (allowed == 99) break;
        if (got == allowed) { va_end(ap); return; }
    }
    va_end(ap);
    oom_off();
    fprintf(stderr, "test_oom.c:%d: %s returned %s (%d)\n", line, what, mp_status_name(got), got);
    _exit(1);
}
#define EXPECT(expr, ...) expect_in(#expr, __LINE__, (expr), __VA_ARGS__, 99)
/* MP_OK, or MP_ENOMEM (nothing done): true for MP_OK. */
#define OK_OR_ENOMEM(expr) (expect_in(#expr, __LINE__, st_ = (expr), MP_OK, MP_ENOMEM, 99), st_ == MP_OK)
#define CHECK_ALWAYS(cond) do { if (!(cond)) { oom_off(); CHECK(cond); } } while (0)

/* ---- the objects the calls work on -------------------------------------------------- */

struct shared {
    mp_rlock_t held_rlock; /* held by the helper: an acquire must wait */
    mp_lock_t held_lock;   /* held by the helper */
    mp_rlock_t free_rlock; /* for Condition waits */
    mp_lock_t free_lock;
    mp_cond_t cond;    /* never notified */
    mp_event_t event;  /* never set */
    mp_barrier_t bar;  /* 2 parties, only one arrives: the wait times out */
    mp_sem_t empty_sem; /* no units: an acquire must wait */
    mp_sem_undo_t undo_sem; /* the helper holds its only unit */
    volatile int ready;
    char prefix[64]; /* "/mpt-<pid>-oom": the names are prefix + "-" + tag */
};

static const char *const KINDS[] = {"lock", "rlock", "sem", "usem", "cond", "event", "bar", "arr", "shm"};
#define NKINDS (int)(sizeof KINDS / sizeof KINDS[0])

static const char *name_of(const struct shared *s, char *buf, size_t len, const char *tag) {
    snprintf(buf, len, "%s-%s", s->prefix, tag);
    return buf;
}

/* Creates kind `k` under `name` (allocation working): the helper's named objects. */
static void create_named(int k, const char *name) {
    mp_lock_t *l; mp_rlock_t *r; mp_sem_t *sem; mp_sem_undo_t *usem; mp_cond_t *c; mp_event_t *e;
    mp_barrier_t *b; mp_array_t *a; mp_shm_t *m;
    uint32_t f = MP_CREATE | MP_EXCL;
    switch (k) {
    case 0: CHECK_OK(mp_lock_open(name, f, 0, &l)); break;
    case 1: CHECK_OK(mp_rlock_open(name, f, 0, &r)); break;
    case 2: CHECK_OK(mp_sem_open(name, f, 0, 1, 1, &sem)); break;
    case 3: CHECK_OK(mp_sem_undo_open(name, f, 0, 1, 1, &usem)); break;
    case 4: CHECK_OK(mp_cond_open(name, f, 0, &c)); break;
    case 5: CHECK_OK(mp_event_open(name, f, 0, &e)); break;
    case 6: CHECK_OK(mp_barrier_open(name, f, 0, 2, &b)); break;
    case 7: CHECK_OK(mp_array_open(name, f, 0, MP_TYPE_INT, 4, true, &a)); break;
    case 8: CHECK_OK(mp_shm_open(name, f, 4096, 0, &m)); break;
    }
}

/* Opens (or with `flags` creates) kind `k` under `name` while allocation may fail:
 * MP_OK or MP_ENOMEM; an object made is used once and closed. */
static void open_use_close(int k, const char *name, uint32_t flags) {
    mp_status st_;
    mp_lock_t *l; mp_rlock_t *r; mp_sem_t *sem; mp_sem_undo_t *usem; mp_cond_t *c; mp_event_t *e; mp_barrier_t *b;
    mp_array_t *a; mp_shm_t *m;
    int32_t v = 7;
    switch (k) {
    case 0:
        if (OK_OR_ENOMEM(mp_lock_open(name, flags, 0, &l))) {
            EXPECT(mp_lock_acquire(l, false, 0), MP_OK);
            EXPECT(mp_lock_release(l), MP_OK);
            EXPECT(mp_lock_close(l), MP_OK);
        }
        break;
    case 1:
        if (OK_OR_ENOMEM(mp_rlock_open(name, flags, 0, &r))) {
            if (OK_OR_ENOMEM(mp_rlock_acquire(r, true, 1000))) EXPECT(mp_rlock_release(r), MP_OK);
            EXPECT(mp_rlock_close(r), MP_OK);
        }
        break;
    case 2:
        if (OK_OR_ENOMEM(mp_sem_open(name, flags, 0, 1, 1, &sem))) EXPECT(mp_sem_close(sem), MP_OK);
        break;
    case 3:
        if (OK_OR_ENOMEM(mp_sem_undo_open(name, flags, 0, 1, 1, &usem))) {
            if (flags & MP_CREATE) {
                if (OK_OR_ENOMEM(mp_sem_undo_acquire(usem, false, 0))) EXPECT(mp_sem_undo_release(usem), MP_OK);
            }
            EXPECT(mp_sem_undo_close(usem), MP_OK);
        }
        break;
    case 4:
        if (OK_OR_ENOMEM(mp_cond_open(name, flags, 0, &c))) {
            EXPECT(mp_cond_notify_all(c), MP_OK);
            EXPECT(mp_cond_close(c), MP_OK);
        }
        break;
    case 5:
        if (OK_OR_ENOMEM(mp_event_open(name, flags, 0, &e))) EXPECT(mp_event_close(e), MP_OK);
        break;
    case 6:
        if (OK_OR_ENOMEM(mp_barrier_open(name, flags, 0, 2, &b))) EXPECT(mp_barrier_close(b), MP_OK);
        break;
    case 7:
        if (OK_OR_ENOMEM(mp_array_open(name, flags, 0, MP_TYPE_INT, 4, true, &a))) {
            EXPECT(mp_array_set(a, 1, &v), MP_OK, MP_ENOMEM);
            EXPECT(mp_array_get(a, 1, &v), MP_OK, MP_ENOMEM);
            EXPECT(mp_array_close(a), MP_OK);
        }
        break;
    case 8:
        if (OK_OR_ENOMEM(mp_shm_open(name, flags, 4096, 0, &m))) {
            CHECK_ALWAYS(mp_shm_size(m) == 4096 && mp_shm_name(m) != NULL);
            EXPECT(mp_shm_close(m), MP_OK);
        }
        break;
    }
}

/* Every anonymous constructor, used once and closed. */
static void anonymous_calls(void) {
    mp_status st_;
    mp_lock_t *l; mp_rlock_t *r; mp_sem_t *sem; mp_sem_undo_t *usem; mp_cond_t *c; mp_event_t *e; mp_barrier_t *b;
    mp_array_t *a; mp_shm_t *m;
    uint32_t idx;
    double d = 1.5;
    if (OK_OR_ENOMEM(mp_lock_new(&l))) {
        EXPECT(mp_lock_acquire(l, true, 1000), MP_OK);
        EXPECT(mp_lock_release(l), MP_OK);
        EXPECT(mp_lock_close(l), MP_OK);
    }
    if (OK_OR_ENOMEM(mp_rlock_new(&r))) {
        if (OK_OR_ENOMEM(mp_rlock_acquire(r, true, 1000))) {
            EXPECT(mp_rlock_acquire(r, true, 1000), MP_OK); /* re-entry */
            EXPECT(mp_rlock_release(r), MP_OK);
            EXPECT(mp_rlock_release(r), MP_OK);
        }
        EXPECT(mp_rlock_close(r), MP_OK);
    }
    if (OK_OR_ENOMEM(mp_sem_new(1, 1, &sem))) {
        EXPECT(mp_sem_acquire(sem, true, 1000), MP_OK);
        EXPECT(mp_sem_release(sem), MP_OK);
        EXPECT(mp_sem_close(sem), MP_OK);
    }
    if (OK_OR_ENOMEM(mp_sem_undo_new(2, 2, &usem))) {
        if (OK_OR_ENOMEM(mp_sem_undo_acquire(usem, true, 1000))) EXPECT(mp_sem_undo_release(usem), MP_OK);
        EXPECT(mp_sem_undo_close(usem), MP_OK);
    }
    if (OK_OR_ENOMEM(mp_array_new(MP_TYPE_INT, 16, true, &a))) {
        int32_t in[4] = {1, 2, 3, 4}, out[4];
        EXPECT(mp_array_write(a, 2, 4, in), MP_OK, MP_ENOMEM);
        EXPECT(mp_array_read(a, 2, 4, out), MP_OK, MP_ENOMEM);
        EXPECT(mp_array_close(a), MP_OK);
    }
    if (OK_OR_ENOMEM(mp_array_new(MP_TYPE_DOUBLE, 1, false, &a))) { /* a RawValue */
        EXPECT(mp_array_set(a, 0, &d), MP_OK);
        EXPECT(mp_array_close(a), MP_OK);
    }
    if (OK_OR_ENOMEM(mp_cond_new(&c))) EXPECT(mp_cond_close(c), MP_OK);
    if (OK_OR_ENOMEM(mp_event_new(&e))) {
        EXPECT(mp_event_set(e), MP_OK);
        EXPECT(mp_event_wait(e, 1000), MP_OK);
        EXPECT(mp_event_close(e), MP_OK);
    }
    if (OK_OR_ENOMEM(mp_barrier_new(1, &b))) {
        EXPECT(mp_barrier_wait(b, 1000, NULL, NULL, &idx), MP_OK);
        EXPECT(mp_barrier_close(b), MP_OK);
    }
    if (OK_OR_ENOMEM(mp_shm_open(NULL, MP_CREATE, 100, 0, &m))) {
        const char *n = mp_shm_name(m);
        CHECK_ALWAYS(n != NULL);
        EXPECT(mp_unlink(n), MP_OK);
        EXPECT(mp_shm_close(m), MP_OK);
    }
    (void)mp_robust_mode();
}

/* In-place objects in this process's own memory: init, use, destroy. */
static void inplace_calls(void) {
    static mp_rlock_t r;
    static mp_lock_t l;
    static mp_sem_t sem;
    static mp_cond_t c;
    static mp_event_t e;
    static mp_barrier_t b;
    bool mine;
    uint32_t n;
    mp_status st_;
    EXPECT(mp_rlock_init(&r), MP_OK);
    if (OK_OR_ENOMEM(mp_rlock_acquire(&r, true, 1000))) {
        EXPECT(mp_rlock_is_mine(&r, &mine), MP_OK);
        EXPECT(mp_rlock_count(&r, &n), MP_OK);
        CHECK_ALWAYS(mine && n == 1);
        EXPECT(mp_rlock_mark_consistent(&r), MP_OK);
        EXPECT(mp_rlock_destroy(&r), MP_EBUSY);
        EXPECT(mp_rlock_release(&r), MP_OK);
    }
    EXPECT(mp_rlock_destroy(&r), MP_OK);
    EXPECT(mp_lock_init(&l), MP_OK);
    EXPECT(mp_lock_destroy(&l), MP_OK);
    EXPECT(mp_sem_init(&sem, 1, 1), MP_OK);
    EXPECT(mp_sem_destroy(&sem), MP_OK);
    EXPECT(mp_cond_init(&c), MP_OK);
    EXPECT(mp_cond_notify(&c, 1), MP_OK);
    EXPECT(mp_cond_destroy(&c), MP_OK);
    EXPECT(mp_event_init(&e), MP_OK);
    EXPECT(mp_event_destroy(&e), MP_OK);
    EXPECT(mp_barrier_init(&b, 3), MP_OK);
    EXPECT(mp_barrier_abort(&b), MP_OK);
    EXPECT(mp_barrier_destroy(&b), MP_OK);
}

/* Every named kind: opening the helper's object, and creating a fresh one (`round`
 * keeps the fresh names of successive rounds apart). */
static void named_calls(const struct shared *s, int round) {
    char name[128], tag[32];
    struct mp_object_info info;
    for (int k = 0; k < NKINDS; k++) open_use_close(k, name_of(s, name, sizeof name, KINDS[k]), 0);
    for (int k = 0; k < NKINDS; k++) {
        snprintf(tag, sizeof tag, "new%d-%s", round, KINDS[k]);
        name_of(s, name, sizeof name, tag);
        open_use_close(k, name, MP_CREATE | MP_EXCL);
        EXPECT(mp_unlink(name), MP_OK, MP_ENOENT);
    }
    EXPECT(mp_inspect(name_of(s, name, sizeof name, "rlock"), &info, sizeof info), MP_OK, MP_ENOMEM);
    EXPECT(mp_inspect(name_of(s, name, sizeof name, "usem"), &info, sizeof info), MP_OK, MP_ENOMEM);
    EXPECT(mp_inspect(name_of(s, name, sizeof name, "shm"), &info, sizeof info), MP_OK, MP_ENOMEM);
}

/* The blocking calls that must wait (and time out), except the undo semaphore's. */
static void blocking_calls(struct shared *s) {
    mp_status st_;
    uint32_t idx;
    EXPECT(mp_lock_acquire(&s->held_lock, true, 30), MP_TIMEOUT);
    EXPECT(mp_sem_acquire(&s->empty_sem, true, 30), MP_TIMEOUT);
    EXPECT(mp_event_wait(&s->event, 30), MP_TIMEOUT);
    /* Longer than the RLock's back-stop interval (250 ms): the waiter looks at /proc. */
    EXPECT(mp_rlock_acquire(&s->held_rlock, true, 400), MP_TIMEOUT, MP_ENOMEM);
    if (OK_OR_ENOMEM(mp_rlock_acquire(&s->free_rlock, true, 1000))) {
        EXPECT(mp_cond_wait(&s->cond, &s->free_rlock, 30), MP_TIMEOUT);
        EXPECT(mp_rlock_release(&s->free_rlock), MP_OK);
    }
    EXPECT(mp_lock_acquire(&s->free_lock, true, 1000), MP_OK);
    EXPECT(mp_cond_wait_lock(&s->cond, &s->free_lock, 30), MP_TIMEOUT);
    EXPECT(mp_lock_release(&s->free_lock), MP_OK);
    EXPECT(mp_barrier_wait(&s->bar, 30, NULL, NULL, &idx), MP_EBROKEN);
    EXPECT(mp_barrier_reset(&s->bar), MP_OK);
}

/* The undo semaphore's blocking acquire: the helper holds the only unit. (The helper
 * initialised it; this process uses it as it is: no declaration, nothing to allocate.) */
static void undo_wait_call(struct shared *s) {
    EXPECT(mp_sem_undo_acquire(&s->undo_sem, true, 300), MP_TIMEOUT, MP_ENOMEM);
}

/* ---- the helper ---------------------------------------------------------------------- */

/* Removes every name of this test run ("mpt-<pid>-oom..." in /dev/shm). Plain system
 * calls: it also runs in processes that must not call the library. */
static void unlink_test_names(const char *prefix) {
    DIR *d = opendir("/dev/shm");
    if (d == NULL) return;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strncmp(e->d_name, prefix + 1, strlen(prefix + 1)) == 0) unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

struct helper { pid_t pid; int wr; };

/* Maps the shared objects and forks the helper, which creates the named objects, holds
 * the locks and the undo unit, and then waits until the test process closes the pipe
 * (at `stop_helper`, or when it dies, however: a failed check exits at once) to remove
 * every name of the run. Nothing of the library runs in the calling process. */
static struct shared *start_helper(struct helper *h) {
    struct shared *s = mpt_shared(sizeof *s);
    snprintf(s->prefix, sizeof s->prefix, "/mpt-%d-oom", (int)getpid());
    int fds[2];
    pid_t pid = mpt_fork_with_pipe(fds);
    if (pid == 0) {
        close(fds[1]);
        /* Its own process group: the runner kills the test's group when the test ends,
         * and the helper must outlive a failed test long enough to remove the names. */
        setpgid(0, 0);
        char name[128];
        for (int k = 0; k < NKINDS; k++) create_named(k, name_of(s, name, sizeof name, KINDS[k]));
        CHECK_OK(mp_rlock_init(&s->held_rlock));
        CHECK_OK(mp_lock_init(&s->held_lock));
        CHECK_OK(mp_rlock_init(&s->free_rlock));
        CHECK_OK(mp_lock_init(&s->free_lock));
        CHECK_OK(mp_cond_init(&s->cond));
        CHECK_OK(mp_event_init(&s->event));
        CHECK_OK(mp_barrier_init(&s->bar, 2));
        CHECK_OK(mp_sem_init(&s->empty_sem, 0, 1));
        CHECK_OK(mp_sem_undo_init(&s->undo_sem, 1, 1));
        CHECK_OK(mp_rlock_acquire(&s->held_rlock, false, 0));
        CHECK_OK(mp_lock_acquire(&s->held_lock, false, 0));
        CHECK_OK(mp_sem_undo_acquire(&s->undo_sem, false, 0));
        s->ready = 1;
        char c;
        while (read(fds[0], &c, 1) < 0 && errno == EINTR) {}
        unlink_test_names(s->prefix);
        _exit(0);
    }
    close(fds[0]);
    CHECK(fcntl(fds[1], F_SETFD, FD_CLOEXEC) == 0);
    h->pid = pid;
    h->wr = fds[1];
    MPT_WAIT_UNTIL(s->ready, 30);
    return s;
}

/* Ends the helper: it removes the names and exits. */
static void stop_helper(struct helper *h) {
    close(h->wr);
    mpt_wait_ok(h->pid);
}

/* Runs `fn(s)` in a child process while every allocation fails (after a round with
 * allocation working if `warm`), and checks that the child exits normally. */
static void in_child_with_every_allocation_failing(struct shared *s, int warm, void (*fn)(struct shared *)) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (warm) fn(s);
        oom_set(OOM_ALL, 0);
        fn(s);
        long refused = __atomic_load_n(&oom_refused, __ATOMIC_SEQ_CST);
        oom_off();
        fprintf(stderr, "%s warm-up: %ld allocations refused\n", warm ? "with" : "without", refused);
        _exit(0);
    }
    mpt_wait_ok(pid);
}

static int round_no;

/* One round with a fresh helper process: `fn` in a child whose every allocation fails
 * (after a warm-up if `warm`). */
static void with_helper_every_allocation_failing(int warm, void (*fn)(struct shared *)) {
    struct helper h;
    struct shared *s = start_helper(&h);
    in_child_with_every_allocation_failing(s, warm, fn);
    stop_helper(&h);
}

static void everything_but_the_undo_wait(struct shared *s) {
    inplace_calls();
    anonymous_calls();
    named_calls(s, round_no++);
    blocking_calls(s);
}

TEST(every_allocation_failing_without_warm_up) { with_helper_every_allocation_failing(0, everything_but_the_undo_wait); }

TEST(every_allocation_failing_with_warm_up) { with_helper_every_allocation_failing(1, everything_but_the_undo_wait); }

/* A thread made while allocation works, whose first library call comes while every
 * allocation fails (the thread's identity and its record of held locks are set up
 * then), and which then exits (its record is retired). */
static volatile int thread_go;

static void *late_thread(void *arg) {
    struct shared *s = arg;
    while (!__atomic_load_n(&thread_go, __ATOMIC_SEQ_CST)) usleep(1000);
    inplace_calls();
    anonymous_calls();
    blocking_calls(s);
    return NULL;
}

static void first_call_in_a_new_thread(struct shared *s) {
    pthread_t t;
    oom_off();
    thread_go = 0;
    CHECK(pthread_create(&t, NULL, late_thread, s) == 0);
    oom_set(OOM_ALL, 0);
    __atomic_store_n(&thread_go, 1, __ATOMIC_SEQ_CST);
    CHECK_ALWAYS(pthread_join(t, NULL) == 0);
}

TEST(every_allocation_failing_in_a_new_thread) {
    struct helper h;
    struct shared *s = start_helper(&h);
    in_child_with_every_allocation_failing(s, 0, first_call_in_a_new_thread);
    in_child_with_every_allocation_failing(s, 1, first_call_in_a_new_thread);
    stop_helper(&h);
}

/* Apart, because the undo semaphore's wait loop belongs to other code than the rest. */
TEST(undo_semaphore_wait_without_warm_up) { with_helper_every_allocation_failing(0, undo_wait_call); }

TEST(undo_semaphore_wait_with_warm_up) { with_helper_every_allocation_failing(1, undo_wait_call); }

/* ---- the Nth allocation fails ------------------------------------------------------ */

/* Lines of /proc/self/maps that name a shared-memory file or an anonymous shared
 * mapping: the objects this process has mapped. Called with allocation working. */
static int shared_mappings(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f != NULL);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "/dev/shm/") || strstr(line, "/dev/zero")) n++;
    fclose(f);
    return n;
}

/* One lifetime of every kind: create, open again, use, inspect, close, unlink. */
static void sequence(const char *prefix) {
    mp_status st_;
    char name[128];
    struct mp_object_info info;
    mp_rlock_t *r, *r2;
    mp_sem_undo_t *u;
    mp_array_t *a;
    mp_shm_t *m;
    int32_t v = 3;
    snprintf(name, sizeof name, "%s-seq-rlock", prefix);
    if (OK_OR_ENOMEM(mp_rlock_open(name, MP_CREATE | MP_EXCL, 0, &r))) {
        if (OK_OR_ENOMEM(mp_rlock_open(name, 0, 0, &r2))) {
            if (OK_OR_ENOMEM(mp_rlock_acquire(r2, true, 1000))) EXPECT(mp_rlock_release(r2), MP_OK);
            EXPECT(mp_rlock_close(r2), MP_OK);
        }
        if (OK_OR_ENOMEM(mp_rlock_acquire(r, true, 1000))) EXPECT(mp_rlock_release(r), MP_OK);
        EXPECT(mp_inspect(name, &info, sizeof info), MP_OK, MP_ENOMEM);
        EXPECT(mp_rlock_close(r), MP_OK);
        EXPECT(mp_unlink(name), MP_OK);
    }
    snprintf(name, sizeof name, "%s-seq-usem", prefix);
    if (OK_OR_ENOMEM(mp_sem_undo_open(name, MP_CREATE | MP_EXCL, 0, 1, 1, &u))) {
        if (OK_OR_ENOMEM(mp_sem_undo_acquire(u, false, 0))) EXPECT(mp_sem_undo_release(u), MP_OK);
        EXPECT(mp_sem_undo_close(u), MP_OK);
        EXPECT(mp_unlink(name), MP_OK);
    }
    if (OK_OR_ENOMEM(mp_array_new(MP_TYPE_INT, 8, true, &a))) {
        EXPECT(mp_array_set(a, 7, &v), MP_OK, MP_ENOMEM);
        EXPECT(mp_array_close(a), MP_OK);
    }
    if (OK_OR_ENOMEM(mp_shm_open(NULL, MP_CREATE, 10, 0, &m))) {
        EXPECT(mp_unlink(mp_shm_name(m)), MP_OK);
        EXPECT(mp_shm_close(m), MP_OK);
    }
    anonymous_calls();
}

/* In a fresh child: (a round with allocation working if `warm`, then) the sequence
 * with the `nth` allocation failing (0: none fails, only count). Checks that nothing
 * stays mapped or named; returns how many allocations the sequence asked for. */
static long nth_in_child(const char *prefix, int warm, long nth) {
    int pipefd[2];
    pid_t pid = mpt_fork_with_pipe(pipefd);
    if (pid == 0) {
        close(pipefd[0]);
        int before = shared_mappings();
        if (warm) sequence(prefix);
        oom_set(nth ? OOM_NTH : OOM_COUNT, nth);
        sequence(prefix);
        long seen = __atomic_load_n(&oom_seen, __ATOMIC_SEQ_CST);
        oom_off();
        char path[256];
        snprintf(path, sizeof path, "/dev/shm/%s-seq-rlock", prefix + 1);
        CHECK(access(path, F_OK) != 0);
        snprintf(path, sizeof path, "/dev/shm/%s-seq-usem", prefix + 1);
        CHECK(access(path, F_OK) != 0);
        int after = shared_mappings();
        if (after != before) {
            fprintf(stderr, "allocation %ld failing: %d shared mappings before, %d after\n", nth, before, after);
            _exit(1);
        }
        CHECK(write(pipefd[1], &seen, sizeof seen) == (ssize_t)sizeof seen);
        _exit(0);
    }
    close(pipefd[1]);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    unlink_test_names(prefix); /* whatever a failed child left */
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "allocation %ld failing: the child %s %d\n", nth,
                WIFEXITED(st) ? "exited with" : "died of signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        _exit(1);
    }
    long seen = -1;
    CHECK(read(pipefd[0], &seen, sizeof seen) == (ssize_t)sizeof seen);
    close(pipefd[0]);
    return seen;
}

static void nth_allocation_fails(int warm) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "/mpt-%d-oomnth", (int)getpid());
    long total = nth_in_child(prefix, warm, 0);
    CHECK(total > 0 && total < 5000);
    fprintf(stderr, "%s warm-up: the sequence asks for %ld allocations\n", warm ? "with" : "without", total);
    /* Failing an allocation may make the rest of the sequence take another path with
     * more allocations: go a little past the count. */
    for (long n = 1; n <= total + 8; n++) nth_in_child(prefix, warm, n);
}

TEST(nth_allocation_fails_without_warm_up) { nth_allocation_fails(0); }

TEST(nth_allocation_fails_with_warm_up) { nth_allocation_fails(1); }

/* ---- RLIMIT_AS ---------------------------------------------------------------------- */

/* Current address-space size in bytes (VmSize of /proc/self/status). */
static size_t vm_size(void) {
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f != NULL);
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %zu kB", &kb) == 1) break;
    fclose(f);
    CHECK(kb > 0);
    return kb * 1024;
}

__attribute__((noinline)) static void touch_stack(void) {
    /* Grows the stack's mapping now: later growth would need address space. */
    volatile char buf[1 << 20];
    memset((char *)buf, 1, sizeof buf);
}

/* Lowers RLIMIT_AS to just above what the process uses, fills the heap until malloc
 * fails (the memory is kept), then gives back a little address space: enough for some
 * mappings, but less than malloc asks the kernel for when its heap cannot grow (it
 * maps 1 MiB at least), and a guard right after the program break keeps the heap from
 * growing into it with brk. */
static void exhaust_heap_keeping_room_for_mappings(void) {
    touch_stack();
    const size_t room = 512 * 1024;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t brk_end = ((uintptr_t)sbrk(0) + page - 1) & ~(page - 1);
    void *guard = mmap((void *)brk_end, page, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(guard == (void *)brk_end || (guard == MAP_FAILED && errno == EEXIST));
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_AS, &rl) == 0);
    rl.rlim_cur = vm_size() + (32u << 20);
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    void *spare = mmap(NULL, room, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(spare != MAP_FAILED);
    size_t kept = 0;
    for (size_t size = 1 << 20; size > 0; size /= 2)
        for (void *p; (p = malloc(size)) != NULL;) kept += size;
    CHECK(malloc(1) == NULL);
    CHECK(munmap(spare, room) == 0);
    CHECK(malloc(1) == NULL);
    fprintf(stderr, "heap filled with %zu bytes; %zu bytes of address space left\n", kept, room);
}

static void under_rlimit_as(int warm, void (*fn)(struct shared *)) {
    struct helper h;
    struct shared *s = start_helper(&h);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (warm) fn(s);
        exhaust_heap_keeping_room_for_mappings();
        fn(s);
        _exit(0);
    }
    mpt_wait_ok(pid);
    stop_helper(&h);
}

TEST(rlimit_as_without_warm_up) { under_rlimit_as(0, everything_but_the_undo_wait); }

TEST(rlimit_as_with_warm_up) { under_rlimit_as(1, everything_but_the_undo_wait); }

TEST(rlimit_as_undo_semaphore_wait) { under_rlimit_as(0, undo_wait_call); }
