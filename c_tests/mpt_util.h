/*
 * mpt_util.h — helpers shared by the C tests, on top of mptest.h:
 * nanosecond clocks and the "never MP_TIMEOUT early" check, start gates made from a
 * pipe (for forked and exec'ed children), shared files that unrelated processes map,
 * "wait until that process sleeps in futex()", killing and reaping a child, and a
 * SIGALRM handler without SA_RESTART. Everything here uses the public header only.
 */
#ifndef MPT_UTIL_H
#define MPT_UTIL_H
#include "mptest.h"
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>

/* CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t mpt_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The only timing assertion allowed: a call that gave up did not give up early. */
#define CHECK_NOT_EARLY(t0_ns, t1_ns, timeout_ms) do { int64_t mpt_el_ = (t1_ns) - (t0_ns); \
    if (mpt_el_ < (int64_t)(timeout_ms) * 1000000LL) { \
        fprintf(stderr, "%s:%d: returned after %.3f ms, before its %lld ms timeout\n", __FILE__, __LINE__, \
                mpt_el_ / 1e6, (long long)(timeout_ms)); _exit(1); } } while (0)

/* Times one call of `expr` and checks its status; returns the elapsed ns in *el. */
#define TIMED_ST(el, expr, expected) do { int64_t mpt_t0_ = mpt_now_ns(); CHECK_ST(expr, expected); \
    (el) = mpt_now_ns() - mpt_t0_; } while (0)

/* Polls `cond` every millisecond; CHECK-fails (naming the condition) if it is still
 * false after `secs` seconds, so that a lost wake-up fails instead of hanging. */
#define MPT_WAIT_UNTIL(cond, secs) do { int64_t mpt_wu_end_ = mpt_now_ns() + (int64_t)(secs) * 1000000000LL; \
    while (!(cond)) { if (mpt_now_ns() > mpt_wu_end_) { \
        fprintf(stderr, "%s:%d: still waiting after %d s for: %s\n", __FILE__, __LINE__, (int)(secs), #cond); \
        _exit(1); } usleep(1000); } } while (0)

/* The uint32_t that a getter such as mp_sem_get_value(obj, &out) reports, the call
 * CHECKed to succeed: CHECK(MPT_U32(mp_sem_get_value, s) == 1). */
#define MPT_U32(getter, obj) __extension__({ uint32_t mpt_u32_ = 0xdeadbeef; \
    CHECK_OK(getter((obj), &mpt_u32_)); mpt_u32_; })

/* fork() a child that acquires the RLock `l` (exit 3 if it cannot), sets *holds, and
 * sleeps holding it until killed. */
static inline pid_t mpt_fork_rlock_holder(mp_rlock_t *l, volatile int *holds) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (mp_rlock_acquire(l, true, MP_FOREVER) != MP_OK) _exit(3);
        *holds = 1;
        for (;;) pause();
    }
    return pid;
}

/* One page of shared memory (a memfd) mapped at two addresses: an object in it is one
 * object at two addresses. */
struct mpt_two_maps {
    void *a, *b;
    int fd;
};

static inline struct mpt_two_maps mpt_map_twice(void) {
    struct mpt_two_maps m;
    m.fd = memfd_create("mpt-twice", MFD_CLOEXEC);
    CHECK(m.fd >= 0);
    CHECK(ftruncate(m.fd, 4096) == 0);
    m.a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
    m.b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
    CHECK(m.a != MAP_FAILED && m.b != MAP_FAILED && m.a != m.b);
    return m;
}

static inline void mpt_unmap_twice(struct mpt_two_maps *m) {
    munmap(m->a, 4096);
    munmap(m->b, 4096);
    close(m->fd);
}

/* ---- start gates ---------------------------------------------------------------- */

/* A start gate: children block in read() until the parent closes the write end; then
 * all of them return from read() together. The write end is close-on-exec, so exec'ed
 * children hold only the read end (pass its number on the command line). */
struct mpt_gate { int rd, wr; };

static inline void mpt_gate_init(struct mpt_gate *g) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    CHECK(fcntl(fds[1], F_SETFD, FD_CLOEXEC) == 0);
    g->rd = fds[0];
    g->wr = fds[1];
}

/* Blocks until the gate opens (EOF on the read end). `wr` is -1 in exec'ed children. */
static inline void mpt_gate_wait_fd(int rd, int wr) {
    if (wr >= 0) close(wr);
    char c;
    ssize_t r;
    while ((r = read(rd, &c, 1)) < 0 && errno == EINTR) {}
    CHECK(r == 0);
    close(rd);
}

static inline void mpt_gate_wait(struct mpt_gate *g) { mpt_gate_wait_fd(g->rd, g->wr); }

/* Opens the gate (call after every child was started). */
static inline void mpt_gate_open(struct mpt_gate *g) {
    close(g->wr);
    close(g->rd);
}

/* A report pipe: children write one byte each ("I am ready"); the parent reads n. */
static inline void mpt_read_n(int fd, int n) {
    char c;
    for (int got = 0; got < n;) {
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) continue;
        CHECK(r == 1);
        got++;
    }
}

/* ---- shared files for unrelated (exec'ed) processes -------------------------------- */

/* Writes the path of the shared-memory file of `name` (with or without its leading '/'),
 * /dev/shm/<name>, to `buf` and returns `buf`; a path longer than `buf` is a test bug. */
static inline const char *mpt_shm_path(char *buf, size_t len, const char *name) {
    int n = snprintf(buf, len, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
    CHECK(n >= 0 && (size_t)n < len);
    return buf;
}

/* Creates (or with create == 0 opens) /dev/shm/<name> (name without a leading '/') of
 * `len` bytes and maps it MAP_SHARED. Unrelated processes that map the same path share
 * the bytes, each at its own address. */
static inline void *mpt_map_file(const char *name, size_t len, int create) {
    char path[512];
    int fd = open(mpt_shm_path(path, sizeof path, name), O_RDWR | (create ? O_CREAT | O_EXCL : 0) | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    if (create) CHECK(ftruncate(fd, (off_t)len) == 0);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    close(fd);
    return p;
}

static inline void mpt_unlink_file(const char *name) {
    char path[512];
    unlink(mpt_shm_path(path, sizeof path, name));
}

/* Permission bits of /dev/shm/<name>, or -1. */
static inline int mpt_file_mode(const char *name) {
    char path[512];
    struct stat st;
    if (stat(mpt_shm_path(path, sizeof path, name), &st) != 0) return -1;
    return (int)(st.st_mode & 07777);
}

static inline int mpt_file_exists(const char *name) { return mpt_file_mode(name) >= 0; }

/* ---- "that thread sleeps in futex() now" ---------------------------------------- */

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

/* Waits until thread `tid` of process `pid` (tid 0: the main thread) is inside the
 * futex or futex_waitv system call (an undo semaphore's waiter sleeps on the value and
 * its holders' words at once), i.e. really asleep on a lock word, so that what the test does
 * next (a release, a signal, a destroy) meets a sleeper and not a spinner. Reads
 * /proc/<pid>/task/<tid>/syscall; where /proc cannot tell, it falls back to a pause.
 * Never a timing assertion: only a way to wait for a state. */
static inline void mpt_wait_sleeping(pid_t pid, pid_t tid) {
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)(tid ? tid : pid));
    for (int i = 0; i < 20000; i++) { /* up to ~20 s */
        char buf[64] = {0};
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) break;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) break;
        if (buf[0] >= '0' && buf[0] <= '9') {
            long nr = atol(buf);
            if (nr == SYS_futex || nr == SYS_futex_waitv) {
                usleep(2000); /* let it settle: still asleep? */
                return;
            }
        } else if (strncmp(buf, "running", 7) != 0) {
            break; /* unknown format */
        }
        usleep(1000);
    }
    usleep(300 * 1000);
}

/* SIGKILLs a child and reaps it; CHECKs that SIGKILL is what ended it. */
static inline void mpt_kill_and_reap(pid_t pid) {
    CHECK(kill(pid, SIGKILL) == 0);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static inline pid_t mpt_gettid(void) { return (pid_t)syscall(SYS_gettid); }

/* ---- signals ----------------------------------------------------------------- */

static volatile sig_atomic_t mpt_alarms;
static void mpt_on_alarm(int sig) { (void)sig; mpt_alarms++; }

/* Installs `handler` for `sig` with `flags` (0: WITHOUT SA_RESTART, as CPython's handlers
 * are) and an empty mask; returns sigaction's result (0 on success). */
static inline int mpt_install_handler(int sig, void (*handler)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = flags;
    return sigaction(sig, &sa, NULL);
}

/* Installs a SIGALRM handler WITHOUT SA_RESTART (as CPython's handlers are). */
static inline void mpt_install_alarm(void) { CHECK(mpt_install_handler(SIGALRM, mpt_on_alarm, 0) == 0); }

/* Arms a periodic ITIMER_REAL: first SIGALRM after first_ms, then every every_ms
 * (0: once). mpt_timer(0, 0) disarms it. */
static inline void mpt_timer(int first_ms, int every_ms) {
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = first_ms / 1000;
    it.it_value.tv_usec = (first_ms % 1000) * 1000;
    it.it_interval.tv_sec = every_ms / 1000;
    it.it_interval.tv_usec = (every_ms % 1000) * 1000;
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

/* ---- Lock, RLock and Semaphore behind one handle ---------------------------- */

/* For tests that run the same checks on each of the three acquirable kinds. */
enum mpt_kind { MPT_LOCK, MPT_RLOCK, MPT_SEM };

static inline const char *mpt_kind_name(enum mpt_kind k) {
    switch (k) {
    case MPT_LOCK: return "lock";
    case MPT_RLOCK: return "rlock";
    default: return "sem";
    }
}

/* An object of one of the kinds; `p` is its mp_lock_t, mp_rlock_t or mp_sem_t. */
struct mpt_obj { enum mpt_kind kind; void *p; };

static inline mp_status mpt_acquire(struct mpt_obj *o, bool block, int64_t ms) {
    switch (o->kind) {
    case MPT_LOCK: return mp_lock_acquire(o->p, block, ms);
    case MPT_RLOCK: return mp_rlock_acquire(o->p, block, ms);
    default: return mp_sem_acquire(o->p, block, ms);
    }
}

static inline mp_status mpt_release(struct mpt_obj *o) {
    switch (o->kind) {
    case MPT_LOCK: return mp_lock_release(o->p);
    case MPT_RLOCK: return mp_rlock_release(o->p);
    default: return mp_sem_release(o->p);
    }
}

/* mp_*_close of an object from mp_*_new or mp_*_open. */
static inline mp_status mpt_close(struct mpt_obj *o) {
    switch (o->kind) {
    case MPT_LOCK: return mp_lock_close(o->p);
    case MPT_RLOCK: return mp_rlock_close(o->p);
    default: return mp_sem_close(o->p);
    }
}

/* The timeout rules on an object that cannot be acquired now: block=false gives up at
 * once whatever the timeout (even "forever"), so does timeout 0, and a positive
 * timeout never gives up before it elapsed. */
static inline void mpt_check_timeouts_when_unavailable(struct mpt_obj *o) {
    int64_t el;
    TIMED_ST(el, mpt_acquire(o, false, 60000), MP_TIMEOUT);
    CHECK(el < 30000LL * 1000000);
    TIMED_ST(el, mpt_acquire(o, false, MP_FOREVER), MP_TIMEOUT);
    TIMED_ST(el, mpt_acquire(o, true, 0), MP_TIMEOUT);
    const int64_t timed[] = {1, 2, 10, 55, 120, 1001};
    for (size_t i = 0; i < sizeof timed / sizeof timed[0]; i++) {
        int64_t t0 = mpt_now_ns();
        CHECK_ST(mpt_acquire(o, true, timed[i]), MP_TIMEOUT);
        CHECK_NOT_EARLY(t0, mpt_now_ns(), timed[i]);
    }
}

/* ---- misc ------------------------------------------------------------------- */

/* Deterministic pseudo-random bytes (xorshift). */
static inline void mpt_fill_random(void *p, size_t n, uint64_t seed) {
    unsigned char *b = p;
    uint64_t x = seed ? seed : 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        b[i] = (unsigned char)(x >> 24);
    }
}

/* waitpid for every pid, CHECKing that each exited with status 0. */
static inline void mpt_wait_all(const pid_t *pids, int n) {
    for (int i = 0; i < n; i++) mpt_wait_ok(pids[i]);
}

#endif
