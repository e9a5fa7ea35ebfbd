/*
 * demo.c: libmpsync in a few minutes. Processes share a Lock, an RLock and a Semaphore.
 *
 *   Part 1  Lock       4 fork()ed workers each add 1 to a shared counter 5000000 times.
 *                      Under the lock the total is exact.
 *   Part 2  RLock      3 *unrelated* processes (this program exec'ed again, so they share
 *                      nothing but two names) open a named RLock and add to a counter in a
 *                      named shared-memory block. They take the lock recursively.
 *   Part 3  Semaphore  6 workers and a BoundedSemaphore(2): at most 2 of them work at once.
 *                      A timed acquire times out, and an extra release is refused.
 *   Part 4  Owner death  A process is SIGKILLed while it holds an RLock. The next acquirer
 *                      gets the lock with MP_OWNER_DEAD instead of waiting forever.
 *
 * Run it with scripts/demo.sh, or build with CMake (-DMPSYNC_BUILD_EXAMPLES=ON) and
 * run ./demo. The exit status is 0 if every check held.
 *
 * Every libmpsync call returns an mp_status: MP_OK (0), a positive outcome such as
 * MP_TIMEOUT or MP_OWNER_DEAD, or a negative error. A blocking call that a signal
 * handler interrupts returns MP_EINTR with nothing acquired, so callers that do not
 * care about signals simply retry (see lock()).
 */
#define _GNU_SOURCE
#include "mpsync.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { LOCK_WORKERS = 4, LOCK_ITERS = 5000000 };
enum { RLOCK_WORKERS = 3, RLOCK_ITERS = 5000 };
enum { SEM_WORKERS = 6, SEM_SLOTS = 2, SEM_WORK_MS = 50 };

static int failures;

/* Prints a failed call and exits: the demo's error handling, kept short. */
static void must(mp_status st, const char *what) {
    if (st != MP_OK) {
        fprintf(stderr, "%s failed: %s (%s)\n", what, mp_status_name(st), mp_strerror(st));
        exit(1);
    }
}

/* Prints one result line ending in OK or FAILED, and counts failures. */
static void report(bool ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("  %s\n", ok ? "OK" : "FAILED");
    if (!ok) failures++;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Acquire and wait forever, retrying if a signal handler interrupts the wait. */
static void lock(mp_lock_t *l) {
    mp_status st;
    do st = mp_lock_acquire(l, true, MP_FOREVER);
    while (st == MP_EINTR);
    must(st, "mp_lock_acquire");
}

static mp_status rlock(mp_rlock_t *l) {
    mp_status st;
    do st = mp_rlock_acquire(l, true, MP_FOREVER);
    while (st == MP_EINTR);
    /* MP_OWNER_DEAD also means "acquired" (see Part 4). */
    if (st != MP_OWNER_DEAD) must(st, "mp_rlock_acquire");
    return st;
}

static void sem_take(mp_sem_t *s) {
    mp_status st;
    do st = mp_sem_acquire(s, true, MP_FOREVER);
    while (st == MP_EINTR);
    must(st, "mp_sem_acquire");
}

/* A zeroed MAP_SHARED mapping: fork()ed children see the same memory. */
static void *shared_page(void) {
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

/* fork() n children that each run fn(i, arg) and exit with its result; wait for all.
 * With a `start` gate (a semaphore at 0 that each child first takes a unit of), the
 * children start their loops together: the parent releases n units once all exist.
 * Returns the number of children that did not exit with status 0. */
static int run_children_gated(int n, int (*fn)(int, void *), void *arg, mp_sem_t *start) {
    pid_t pids[16];
    int bad = 0;
    fflush(NULL); /* nothing buffered may be printed twice by the children */
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            perror("fork");
            exit(1);
        }
        if (pids[i] == 0) _exit(fn(i, arg));
    }
    for (int i = 0; start && i < n; i++) must(mp_sem_release(start), "mp_sem_release");
    for (int i = 0; i < n; i++) {
        int st = 0;
        if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad++;
    }
    return bad;
}

static int run_children(int n, int (*fn)(int, void *), void *arg) {
    return run_children_gated(n, fn, arg, NULL);
}

/* ---- Part 1: Lock ------------------------------------------------------------------- */

struct part1 {
    mp_lock_t *lock; /* NULL: no locking, to show what goes wrong */
    volatile long *counter;
    mp_sem_t *start; /* a start gate: workers wait here until all exist */
};

static int part1_worker(int i, void *arg) {
    struct part1 *p = arg;
    (void)i;
    sem_take(p->start);
    for (int k = 0; k < LOCK_ITERS; k++) {
        if (p->lock) lock(p->lock);
        long v = *p->counter; /* read ... */
        *p->counter = v + 1;  /* ... modify, write: two steps another process can split */
        if (p->lock) must(mp_lock_release(p->lock), "mp_lock_release");
    }
    return 0;
}

static void part1(void) {
    printf("\n== Part 1: Lock shared by %d fork()ed processes ==\n", LOCK_WORKERS);
    mp_lock_t *l;
    mp_sem_t *start;
    /* Anonymous objects: shared mappings that fork()ed children inherit, like
     * multiprocessing.Lock(). */
    must(mp_lock_new(&l), "mp_lock_new");
    must(mp_sem_new(0, MP_SEM_VALUE_MAX, &start), "mp_sem_new");
    long *counter = shared_page();
    const long want = (long)LOCK_WORKERS * LOCK_ITERS;

    struct part1 without = {NULL, counter, start};
    if (run_children_gated(LOCK_WORKERS, part1_worker, &without, start)) failures++;
    long lost = want - *counter;
    printf("Without a lock: %d workers x %d increments gave %ld; %ld increments were lost%s\n",
           LOCK_WORKERS, LOCK_ITERS, *counter, lost,
           lost ? "." : " (this time: such races depend on timing).");

    *counter = 0;
    struct part1 with = {l, counter, start};
    double t0 = now_ms();
    if (run_children_gated(LOCK_WORKERS, part1_worker, &with, start)) failures++;
    double ms = now_ms() - t0;
    report(*counter == want, "With mp_lock_t:  total %ld, expected %ld:", *counter, want);
    printf("(%ld acquire/release pairs by %d processes took %.0f ms, fork() included)\n", want, LOCK_WORKERS, ms);

    bool locked = true;
    must(mp_lock_is_locked(l, &locked), "mp_lock_is_locked");
    report(!locked, "The lock is free again: %s", locked ? "no" : "yes");
    must(mp_lock_close(l), "mp_lock_close");
    must(mp_sem_close(start), "mp_sem_close");
    munmap(counter, 4096);
}

/* ---- Part 2: named RLock, unrelated processes ------------------------------------------ */

static long *map_counter(const char *name, int oflags) {
    int fd = shm_open(name, oflags | O_RDWR, 0600);
    if (fd < 0 || ((oflags & O_CREAT) && ftruncate(fd, 4096) != 0)) {
        perror("shm_open");
        exit(1);
    }
    long *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

static void add_one(mp_rlock_t *l, long *counter, uint32_t *depth) {
    rlock(l); /* the owner may take an RLock again: the level goes up */
    must(mp_rlock_count(l, depth), "mp_rlock_count");
    (*counter)++;
    must(mp_rlock_release(l), "mp_rlock_release");
}

static void add_two(mp_rlock_t *l, long *counter, uint32_t *depth) {
    rlock(l); /* both additions happen as one step for the other processes */
    add_one(l, counter, depth);
    add_one(l, counter, depth);
    must(mp_rlock_release(l), "mp_rlock_release");
}

/* main() of an exec'ed worker: argv = {rlock name, counter name, iterations}. */
static int part2_worker_main(char **argv) {
    mp_rlock_t *l;
    /* flags 0: open an existing object; MP_ENOENT if there is none. */
    must(mp_rlock_open(argv[0], 0, 0, &l), "mp_rlock_open (worker)");
    long *counter = map_counter(argv[1], 0);
    int iters = atoi(argv[2]);
    uint32_t depth = 0;
    for (int k = 0; k < iters; k++) add_two(l, counter, &depth);
    printf("  worker pid %d (exec'ed): added %d, RLock level inside add_one() was %u\n",
           (int)getpid(), 2 * iters, depth);
    must(mp_rlock_close(l), "mp_rlock_close");
    return depth == 2 ? 0 : 1;
}

static void part2(void) {
    printf("\n== Part 2: named RLock shared by %d exec'ed, unrelated processes ==\n", RLOCK_WORKERS);
    char lname[64], cname[64], iters[16];
    snprintf(lname, sizeof lname, "/mpsync-demo-%d-rlock", (int)getpid());
    snprintf(cname, sizeof cname, "/mpsync-demo-%d-counter", (int)getpid());
    snprintf(iters, sizeof iters, "%d", RLOCK_ITERS);

    mp_rlock_t *l;
    /* MP_CREATE | MP_EXCL: create it, and fail with MP_EEXIST if the name is taken. */
    must(mp_rlock_open(lname, MP_CREATE | MP_EXCL, 0600, &l), "mp_rlock_open");
    long *counter = map_counter(cname, O_CREAT | O_EXCL);
    printf("Created RLock \"%s\" and counter block \"%s\"\n", lname, cname);

    pid_t pids[RLOCK_WORKERS];
    fflush(NULL);
    for (int i = 0; i < RLOCK_WORKERS; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            char *argv[] = {"demo", "--worker", lname, cname, iters, NULL};
            execv("/proc/self/exe", argv); /* a fresh program image: nothing inherited */
            perror("execv");
            _exit(127);
        }
    }
    int bad = 0;
    for (int i = 0; i < RLOCK_WORKERS; i++) {
        int st = 0;
        if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad++;
    }
    const long want = 2L * RLOCK_WORKERS * RLOCK_ITERS;
    report(*counter == want && !bad, "Named RLock:    total %ld, expected %ld:", *counter, want);
    if (bad) printf("(%d worker(s) failed)\n", bad);

    must(mp_rlock_close(l), "mp_rlock_close");
    munmap(counter, 4096);
    /* Names live until unlinked (like files); mappings stay valid until closed. */
    must(mp_unlink(lname), "mp_unlink");
    must(mp_unlink(cname), "mp_unlink");
}

/* ---- Part 3: Semaphore ------------------------------------------------------------------- */

struct part3 {
    mp_sem_t *sem;
    long *inside; /* [0]: workers inside now, [1]: most seen at once */
};

static int part3_worker(int i, void *arg) {
    struct part3 *p = arg;
    sem_take(p->sem);
    long n = __atomic_add_fetch(&p->inside[0], 1, __ATOMIC_SEQ_CST);
    long max = __atomic_load_n(&p->inside[1], __ATOMIC_SEQ_CST);
    while (n > max && !__atomic_compare_exchange_n(&p->inside[1], &max, n, false, __ATOMIC_SEQ_CST,
                                                   __ATOMIC_SEQ_CST)) {
    }
    printf("  worker %d starts work  (%ld at work)\n", i, n);
    usleep(SEM_WORK_MS * 1000);
    n = __atomic_sub_fetch(&p->inside[0], 1, __ATOMIC_SEQ_CST);
    printf("  worker %d done         (%ld at work)\n", i, n);
    must(mp_sem_release(p->sem), "mp_sem_release");
    return 0;
}

static void part3(void) {
    printf("\n== Part 3: a BoundedSemaphore(%d) limits %d processes to %d at a time ==\n", SEM_SLOTS,
           SEM_WORKERS, SEM_SLOTS);
    mp_sem_t *s;
    /* value 2, max_value 2: a BoundedSemaphore(2). A plain Semaphore(2) would use
     * max_value = MP_SEM_VALUE_MAX. */
    must(mp_sem_new(SEM_SLOTS, SEM_SLOTS, &s), "mp_sem_new");
    struct part3 p = {s, shared_page()};
    if (run_children(SEM_WORKERS, part3_worker, &p)) failures++;
    report(p.inside[1] >= 1 && p.inside[1] <= SEM_SLOTS, "Most workers at work at once: %ld (limit %d):",
           p.inside[1], SEM_SLOTS);

    /* Take both units, then try for a third with a 200 ms timeout. */
    must(mp_sem_acquire(s, false, 0), "mp_sem_acquire");
    must(mp_sem_acquire(s, false, 0), "mp_sem_acquire");
    double t0 = now_ms();
    mp_status st = mp_sem_acquire(s, true, 200);
    double waited = now_ms() - t0;
    report(st == MP_TIMEOUT && waited >= 200, "A third acquire with a 200 ms timeout returned %s after %.0f ms",
           mp_status_name(st), waited);
    must(mp_sem_release(s), "mp_sem_release");
    must(mp_sem_release(s), "mp_sem_release");
    st = mp_sem_release(s);
    report(st == MP_EOVERFLOW, "Releasing a third time (above max_value) returned %s", mp_status_name(st));
    must(mp_sem_close(s), "mp_sem_close");
    munmap(p.inside, 4096);
}

/* ---- Part 4: owner death ------------------------------------------------------------------- */

static int part4_victim(int i, void *arg) {
    mp_rlock_t *l = arg;
    (void)i;
    rlock(l);
    printf("  child pid %d holds the RLock and is killed with SIGKILL\n", (int)getpid());
    fflush(stdout);
    raise(SIGKILL); /* dies holding the lock: no cleanup code runs */
    return 0;
}

static void part4(void) {
    printf("\n== Part 4: the owner of an RLock dies while holding it ==\n");
    int mode = mp_robust_mode();
    printf("Owner death is detected here by %s\n",
           mode == MP_ROBUST_OFF ? "a liveness check of the owner (robust list unavailable)"
                                 : "the kernel (robust futex list)");
    mp_rlock_t *l;
    must(mp_rlock_new(&l), "mp_rlock_new");
    run_children(1, part4_victim, l); /* the child is killed: a "failure" we expect */
    double t0 = now_ms();
    mp_status st;
    do st = mp_rlock_acquire(l, true, 10000);
    while (st == MP_EINTR);
    report(st == MP_OWNER_DEAD, "The next acquire returned %s after %.0f ms", mp_status_name(st), now_ms() - t0);
    if (st == MP_OWNER_DEAD)
        printf("(We own the lock now. The data it guards may be half-updated: check or repair it.)\n");
    if (st == MP_OK || st == MP_OWNER_DEAD) {
        must(mp_rlock_release(l), "mp_rlock_release");
        st = mp_rlock_acquire(l, false, 0);
        report(st == MP_OK, "Afterwards the lock works normally: acquire returned %s", mp_status_name(st));
        if (st == MP_OK) must(mp_rlock_release(l), "mp_rlock_release");
    }
    must(mp_rlock_close(l), "mp_rlock_close");
}

int main(int argc, char **argv) {
    /* One write per line, even into a pipe: lines from different processes do not mix. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 5 && strcmp(argv[1], "--worker") == 0) return part2_worker_main(argv + 2);

    printf("libmpsync %s (compiled against the header of %d.%d.%d)\n", mp_version_string(), MP_VERSION_MAJOR,
           MP_VERSION_MINOR, MP_VERSION_PATCH);
    if (mp_version() != MP_VERSION) {
        printf("The library does not match the header this program was compiled with.  FAILED\n");
        failures++;
    }
    part1();
    part2();
    part3();
    part4();
    if (failures) {
        printf("\n%d check(s) FAILED\n", failures);
        return 1;
    }
    printf("\nAll checks passed.\n");
    return 0;
}
