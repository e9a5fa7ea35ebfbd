// cpptest.hpp: the C++ counterpart of c_tests/mptest.h, for the tests of mpsync.hpp.
//
// TEST(name) { ... } registers a test; `./test_x` runs each test in its own fork()ed
// process (and process group) with a time limit, prints "ok", "FAIL" or
// "TIMEOUT <name>" per test and a closing "N passed, N failed" line, and exits non-zero
// if anything failed.
//   ./test_x --list            lists the tests
//   ./test_x name...           runs only the named tests
//   MPTEST_TIMEOUT=secs        per-test limit (default 120)
//   ./test_x --child args...   runs cpt_child(args) (define CPT_CHILD_MAIN and the
//                              function), so that tests can exec unrelated processes.
#ifndef CPPTEST_HPP
#define CPPTEST_HPP

#include "mpsync.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cpt {

struct test_case {
    const char *name;
    void (*fn)();
};
inline std::vector<test_case> &cases() {
    static std::vector<test_case> v;
    return v;
}
struct registrar {
    registrar(const char *name, void (*fn)()) { cases().push_back({name, fn}); }
};
inline const char *&self() {
    static const char *s = nullptr;
    return s;
}

[[noreturn]] inline void fail(const char *file, int line, const std::string &what) {
    std::fprintf(stderr, "%s:%d: %s\n", file, line, what.c_str());
    std::fflush(nullptr);
    _exit(1);
}

/// A zeroed MAP_SHARED | MAP_ANONYMOUS object of type T, shared with fork()ed children.
template <class T>
T *shared() {
    void *p = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail(__FILE__, __LINE__, "mmap failed");
    return static_cast<T *>(p);
}

/// fork() a child that runs fn() and _exit()s with its result (1 on an exception).
template <class F>
pid_t fork_child(F fn) {
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) fail(__FILE__, __LINE__, "fork failed");
    if (pid == 0) {
        int rc = 1;
        try {
            rc = fn();
        } catch (const std::exception &e) {
            std::fprintf(stderr, "child: exception: %s\n", e.what());
        }
        std::fflush(nullptr);
        _exit(rc);
    }
    return pid;
}

/// Waits for a child and returns its exit status (-signal if it was killed).
inline int wait_child(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) fail(__FILE__, __LINE__, "waitpid failed");
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

/// Execs this program as an unrelated process: argv = {self, "--child", args...}.
inline pid_t spawn_child(std::vector<std::string> args) {
    std::vector<char *> argv;
    argv.push_back(const_cast<char *>(self()));
    argv.push_back(const_cast<char *>("--child"));
    for (auto &a : args) argv.push_back(&a[0]);
    argv.push_back(nullptr);
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) fail(__FILE__, __LINE__, "fork failed");
    if (pid == 0) {
        execv("/proc/self/exe", argv.data());
        _exit(127);
    }
    return pid;
}

/// A unique object name for this test run ("/cpt-<pid>-<tag>").
inline std::string name(const char *tag) { return "/cpt-" + std::to_string(getpid()) + "-" + tag; }

inline double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

inline int run_one(const test_case &c, int timeout_s) {
    double t0 = now_ms();
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) {
        std::perror("fork");
        return 1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        try {
            c.fn();
        } catch (const std::exception &e) {
            std::fprintf(stderr, "uncaught exception: %s\n", e.what());
            std::fflush(nullptr);
            _exit(1);
        }
        std::fflush(nullptr);
        _exit(0);
    }
    setpgid(pid, pid);
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) break;
        if (now_ms() - t0 > timeout_s * 1000.0) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            std::printf("TIMEOUT %s (hung for more than %d s)\n", c.name, timeout_s);
            std::fflush(stdout);
            return 1;
        }
        usleep(2000);
    }
    kill(-pid, SIGKILL);
    double ms = now_ms() - t0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        std::printf("ok %s (%.0f ms)\n", c.name, ms);
        std::fflush(stdout);
        return 0;
    }
    if (WIFSIGNALED(st))
        std::printf("FAIL %s (killed by signal %d)\n", c.name, WTERMSIG(st));
    else
        std::printf("FAIL %s (exit %d)\n", c.name, WEXITSTATUS(st));
    std::fflush(stdout);
    return 1;
}

}  // namespace cpt

#define TEST(name)                                                   \
    static void name();                                              \
    static const cpt::registrar cpt_reg_##name(#name, &name);        \
    static void name()

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) cpt::fail(__FILE__, __LINE__, std::string("CHECK failed: ") + #cond); \
    } while (0)

// CHECK that `expr` throws mpsync::error (or a subclass) with status `st`.
#define CHECK_THROWS_STATUS(expr, st)                                                             \
    do {                                                                                          \
        bool cpt_thrown_ = false;                                                                 \
        try {                                                                                     \
            (void)(expr);                                                                         \
        } catch (const mpsync::error &cpt_e_) {                                                   \
            cpt_thrown_ = true;                                                                   \
            if (cpt_e_.status() != (st))                                                          \
                cpt::fail(__FILE__, __LINE__,                                                     \
                          std::string(#expr " threw ") + mp_status_name(cpt_e_.status()) +       \
                              ", expected " + mp_status_name(st));                               \
        }                                                                                         \
        if (!cpt_thrown_) cpt::fail(__FILE__, __LINE__, std::string(#expr " did not throw"));     \
    } while (0)

namespace cpt {
// The what() of the mpsync::error that `f()` throws with status `st` (see WHAT_OF).
template <class F>
std::string what_of(F f, mp_status st, const char *expr, const char *file, int line) {
    try {
        f();
    } catch (const mpsync::error &e) {
        if (e.status() != st)
            fail(file, line, std::string(expr) + " threw " + mp_status_name(e.status()) + ", expected " +
                                 mp_status_name(st) + ": " + e.what());
        return e.what();
    }
    fail(file, line, std::string(expr) + " did not throw");
}
}  // namespace cpt

// The what() of the mpsync::error (or subclass) that `expr` throws, which must have
// status `st`; the test fails if it throws nothing or another status.
#define WHAT_OF(expr, st) cpt::what_of([&] { (void)(expr); }, (st), #expr, __FILE__, __LINE__)

// CHECK that the string `text` contains `part`; on failure, prints both.
#define CHECK_CONTAINS(text, part)                                                                   \
    do {                                                                                             \
        const std::string cpt_text_(text), cpt_part_(part);                                          \
        if (cpt_text_.find(cpt_part_) == std::string::npos)                                          \
            cpt::fail(__FILE__, __LINE__, "CHECK_CONTAINS failed:\n  text: " + cpt_text_ +           \
                                              "\n  lacks: " + cpt_part_);                           \
    } while (0)

#ifdef CPT_CHILD_MAIN
static int cpt_child(int argc, char **argv);
#endif

int main(int argc, char **argv) {
    cpt::self() = argv[0];
#ifdef CPT_CHILD_MAIN
    if (argc > 1 && std::strcmp(argv[1], "--child") == 0) {
        try {
            return cpt_child(argc - 2, argv + 2);
        } catch (const std::exception &e) {
            std::fprintf(stderr, "child: exception: %s\n", e.what());
            return 1;
        }
    }
#endif
    if (argc > 1 && std::strcmp(argv[1], "--list") == 0) {
        for (auto &c : cpt::cases()) std::printf("%s\n", c.name);
        return 0;
    }
    int timeout_s = std::getenv("MPTEST_TIMEOUT") ? std::atoi(std::getenv("MPTEST_TIMEOUT")) : 120;
    int passed = 0, failed = 0;
    for (auto &c : cpt::cases()) {
        if (argc > 1) {
            bool want = false;
            for (int j = 1; j < argc; j++)
                if (std::strcmp(argv[j], c.name) == 0) want = true;
            if (!want) continue;
        }
        if (cpt::run_one(c, timeout_s))
            failed++;
        else
            passed++;
    }
    std::printf("%s: %d passed, %d failed\n", argv[0], passed, failed);
    return failed ? 1 : 0;
}

#endif
