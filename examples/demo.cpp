// The C++ API (mpsync.hpp) in one program you can copy:
//   1. 4 fork()ed workers add to a shared counter under an mpsync::mutex, through
//      std::lock_guard; the total is exact.
//   2. A producer process hands items to a consumer through a condition variable and
//      a recursive_mutex held at level 2 (the wait releases both levels).
//   3. A worker is SIGKILLed while holding a recursive_mutex; the next std::lock_guard
//      gets the lock and owner_died() tells it to repair the data.
// Exits with status 0 only if every check held.
//
// Build, in a checkout after `cargo build --release`:
//   c++ -std=c++17 -Iinclude examples/demo.cpp -Ltarget/release -lmpsync -Wl,-rpath,$PWD/target/release -o demo-cpp
// or against the installed package:
//   c++ -std=c++17 examples/demo.cpp $(pkg-config --cflags --libs mpsync) -o demo-cpp
#include <mpsync.hpp>

#include <csignal>
#include <cstdio>
#include <mutex>

#include <sys/wait.h>
#include <unistd.h>

namespace {

// Runs fn() in a fork()ed child; the child's exit status is fn()'s result.
template <class F>
pid_t spawn(F fn) {
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = 1;
        try {
            rc = fn();
        } catch (const std::exception &e) {
            std::fprintf(stderr, "worker: %s\n", e.what());
        }
        _exit(rc);
    }
    return pid;
}

bool exited_ok(pid_t pid) {
    int st = 0;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

bool counter_demo() {
    // Anonymous objects live in shared mappings that fork()ed children inherit.
    auto lock = mpsync::mutex::anonymous();
    auto counter = mpsync::shared_array<long>::anonymous(1, /*with_lock=*/false);
    pid_t workers[4];
    for (pid_t &w : workers)
        w = spawn([&] {
            for (int i = 0; i < 100000; i++) {
                std::lock_guard<mpsync::mutex> guard(lock);  // MP_EINTR is retried inside
                counter[0]++;
            }
            return 0;
        });
    bool ok = true;
    for (pid_t w : workers) ok = exited_ok(w) && ok;
    std::printf("1. counter = %ld (expected 400000)\n", counter[0]);
    return ok && counter[0] == 400000;
}

bool condition_demo() {
    auto lock = mpsync::recursive_mutex::anonymous();
    auto ready = mpsync::condition_variable::anonymous();
    auto box = mpsync::shared_array<int>::anonymous(2, false);  // [0]: item, [1]: full?
    pid_t producer = spawn([&] {
        for (int item = 1; item <= 5; item++) {
            std::unique_lock<mpsync::recursive_mutex> l(lock);
            ready.wait(l, [&] { return box[1] == 0; });
            box[0] = item;
            box[1] = 1;
            ready.notify_all();
        }
        return 0;
    });
    int sum = 0;
    std::lock_guard<mpsync::recursive_mutex> outer(lock);  // level 1 ...
    for (int i = 0; i < 5; i++) {
        std::unique_lock<mpsync::recursive_mutex> l(lock);  // ... and level 2
        // Waits with both levels released; returns with both held again.
        if (!ready.wait_for(l, std::chrono::seconds(30), [&] { return box[1] == 1; })) return false;
        sum += box[0];
        box[1] = 0;
        ready.notify_all();
    }
    std::printf("2. consumed items sum to %d (expected 15), lock level %u\n", sum, lock.level());
    bool ok = sum == 15 && lock.level() == 1;
    lock.unlock();  // let the producer finish ...
    ok = exited_ok(producer) && ok;
    lock.lock();  // ... and give `outer` its level back
    return ok;
}

bool owner_death_demo() {
    auto lock = mpsync::recursive_mutex::anonymous();
    auto data = mpsync::shared_array<int>::anonymous(2, false);  // [0]: balance, [1]: started
    data[0] = 100;
    pid_t victim = spawn([&] {
        std::lock_guard<mpsync::recursive_mutex> guard(lock);
        data[0] = -1;  // half-way through an update ...
        __atomic_store_n(&data[1], 1, __ATOMIC_SEQ_CST);
        pause();       // ... when it is killed
        return 0;
    });
    while (!__atomic_load_n(&data[1], __ATOMIC_SEQ_CST)) usleep(1000);
    kill(victim, SIGKILL);
    waitpid(victim, nullptr, 0);

    std::lock_guard<mpsync::recursive_mutex> guard(lock);
    bool repaired = false;
    if (lock.owner_died()) {  // only this thread, while it holds the lock, is told
        data[0] = 100;        // repair: e.g. roll back from a journal
        repaired = true;
    }
    std::printf("3. owner died: %s; balance after repair %d\n", repaired ? "yes" : "no", data[0]);
    return repaired && data[0] == 100;
}

}  // namespace

int main() {
    try {
        bool ok = counter_demo();
        ok = condition_demo() && ok;
        ok = owner_death_demo() && ok;
        std::printf("%s\n", ok ? "all checks passed" : "SOME CHECKS FAILED");
        return ok ? 0 : 1;
    } catch (const mpsync::error &e) {  // a std::system_error in mpsync::category()
        std::fprintf(stderr, "mpsync error: %s (%s)\n", e.what(), e.code().message().c_str());
        return 1;
    }
}
