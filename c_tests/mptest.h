/*
 * mptest.h — a tiny test framework for libmpsync's C tests.
 *
 * Each test file defines tests with TEST(name) { ... } and includes this header once.
 * `./test_x` runs every test in its own fork()ed process (and process group) with a
 * time limit, prints one line per test ("ok", "FAIL", "TIMEOUT <name>") and a closing
 * "N passed, N failed" line, and exits non-zero if anything failed.
 *   ./test_x --list           lists the tests
 *   ./test_x name...          runs only the named tests
 *   MPTEST_TIMEOUT=secs       changes the per-test limit (default 120)
 * A file may define `int mpt_child(int argc, char **argv)` (via MPT_CHILD_MAIN) to act
 * as a helper program when exec'ed with "--child" as argv[1]: tests use this to start
 * *unrelated* processes (exec'ed, not just forked).
 */
#ifndef MPTEST_H
#define MPTEST_H
#define _GNU_SOURCE
#include "mpsync.h"
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef void (*mpt_fn)(void);
struct mpt_case { const char *name; mpt_fn fn; };
/* The registered tests, grown as constructors register them (no fixed limit). */
static struct mpt_case *mpt_cases;
static int mpt_ncases;
static const char *mpt_self; /* argv[0], for exec'ing helper children */

static void mpt_register(const char *name, mpt_fn fn) {
    struct mpt_case *grown = realloc(mpt_cases, (size_t)(mpt_ncases + 1) * sizeof *grown);
    if (!grown) {
        /* Never drop a test silently: a program that cannot register all of them fails. */
        fprintf(stderr, "mptest: out of memory registering test %s\n", name);
        _exit(1);
    }
    mpt_cases = grown;
    mpt_cases[mpt_ncases].name = name;
    mpt_cases[mpt_ncases].fn = fn;
    mpt_ncases++;
}

#define TEST(name)                                                                   \
    static void name(void);                                                          \
    __attribute__((constructor)) static void mpt_reg_##name(void) { mpt_register(#name, name); } \
    static void name(void)

#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); _exit(1); } } while (0)

/* Compare two mp_status values and print both names on mismatch. */
#define CHECK_ST(expr, expected) do { mp_status mpt_got_ = (expr); mp_status mpt_exp_ = (expected); \
    if (mpt_got_ != mpt_exp_) { fprintf(stderr, "%s:%d: %s returned %s (%d), expected %s (%d)\n", __FILE__, __LINE__, \
        #expr, mp_status_name(mpt_got_), mpt_got_, mp_status_name(mpt_exp_), mpt_exp_); _exit(1); } } while (0)

#define CHECK_OK(expr) CHECK_ST(expr, MP_OK)

/* Monotonic time in milliseconds (double). */
static inline double mpt_now_ms(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A zeroed MAP_SHARED|MAP_ANONYMOUS region shared with forked children. */
static inline void *mpt_shared(size_t len) {
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    return p;
}

/* fork() a child that runs fn(arg) and _exit()s with its return value. */
static inline pid_t mpt_fork(int (*fn)(void *), void *arg) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) _exit(fn(arg));
    return pid;
}

/* pipe(fds), then fork(): the child's pid (0 in the child), both ends open in both. */
static inline pid_t mpt_fork_with_pipe(int fds[2]) {
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    return pid;
}

/* Wait for a child; CHECK that it exited with status 0 (a signal is named). */
static inline void mpt_wait_ok(pid_t pid) {
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "child %d failed: signal %d (%s)\n", (int)pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
        _exit(1);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "child %d failed: exit %d\n", (int)pid, WEXITSTATUS(st));
        _exit(1);
    }
}

/* A unique object name for this test run ("/mpt-<pid>-<tag>"). */
static inline const char *mpt_name(char *buf, size_t len, const char *tag) {
    snprintf(buf, len, "/mpt-%d-%s", (int)getpid(), tag);
    return buf;
}

/* Spawn this very program as an unrelated process: argv = {self, "--child", args..., NULL}. */
static inline pid_t mpt_spawn_child(const char *const *args) {
    char *argv[32]; int n = 0;
    argv[n++] = (char *)mpt_self; argv[n++] = (char *)"--child";
    while (args && *args && n < 31) argv[n++] = (char *)*args++;
    argv[n] = NULL;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) { execv("/proc/self/exe", argv); _exit(127); }
    return pid;
}

#ifdef MPT_CHILD_MAIN
static int mpt_child(int argc, char **argv);
#endif

static int mpt_run_one(struct mpt_case *c, int timeout_s) {
    double t0 = mpt_now_ms();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* the runner was killed: so are we */
        c->fn();
        fflush(NULL);
        _exit(0);
    }
    setpgid(pid, pid);
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) break;
        if (mpt_now_ms() - t0 > timeout_s * 1000.0) {
            kill(-pid, SIGKILL); kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            printf("TIMEOUT %s (hung for more than %d s)\n", c->name, timeout_s);
            fflush(stdout);
            return 1;
        }
        usleep(2000);
    }
    kill(-pid, SIGKILL); /* leftover grandchildren */
    double ms = mpt_now_ms() - t0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) { printf("ok %s (%.0f ms)\n", c->name, ms); fflush(stdout); return 0; }
    if (WIFSIGNALED(st)) printf("FAIL %s (killed by signal %d)\n", c->name, WTERMSIG(st));
    else printf("FAIL %s (exit %d)\n", c->name, WEXITSTATUS(st));
    fflush(stdout);
    return 1;
}

int main(int argc, char **argv) {
    mpt_self = argv[0];
#ifdef MPT_CHILD_MAIN
    if (argc > 1 && strcmp(argv[1], "--child") == 0) return mpt_child(argc - 2, argv + 2);
#endif
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < mpt_ncases; i++) printf("%s\n", mpt_cases[i].name);
        return 0;
    }
    int timeout_s = getenv("MPTEST_TIMEOUT") ? atoi(getenv("MPTEST_TIMEOUT")) : 120;
    int passed = 0, failed = 0;
    for (int i = 0; i < mpt_ncases; i++) {
        if (argc > 1) {
            int want = 0;
            for (int j = 1; j < argc; j++) if (strcmp(argv[j], mpt_cases[i].name) == 0) want = 1;
            if (!want) continue;
        }
        if (mpt_run_one(&mpt_cases[i], timeout_s)) failed++; else passed++;
    }
    printf("%s: %d passed, %d failed\n", argv[0], passed, failed);
    return failed ? 1 : 0;
}
#endif
