// The C++ face (include/mpsync_cluster.hpp) against a real etcd cluster (endpoints in
// argv[1]): Lockable/TimedLockable mutexes with fencing, the recursive mutex, semaphore,
// event and barrier, errors as mpsync::error with the status and the object's name, and
// the owner death of a SIGKILLed holder. Exits 0 on success.
#include "mpsync_cluster.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                                  \
        }                                                                                  \
    } while (0)

namespace mc = mpsync::cluster;
using namespace std::chrono_literals;

// Runs `f`, which must throw mpsync::error with `status` and a message naming `part`.
template <class F>
static void expect_error(F f, mp_status status, const char *part) {
    try {
        f();
    } catch (const mpsync::error &e) {
        if (e.status() != status || std::string(e.what()).find(part) == std::string::npos) {
            std::fprintf(stderr, "unexpected error %d: %s\n", e.status(), e.what());
            std::exit(1);
        }
        return;
    }
    std::fprintf(stderr, "no error (expected %s about %s)\n", mp_status_name(status), part);
    std::exit(1);
}

static mc::options short_lease() {
    mc::options o;
    o.ttl = 2s;
    return o;
}

static void locks_and_fencing(const mc::connection &c) {
    mc::mutex a(c, "cpp-lock"), b(c, "cpp-lock");
    std::int64_t first = 0;
    {
        std::lock_guard<mc::mutex> g(a);
        CHECK(!a.owner_died());
        first = a.fence();
        CHECK(first > 0);
        CHECK(!b.try_lock());
        CHECK(!b.try_lock_for(100ms));
        CHECK(a.fenced_put("/cpp/res", "v") > first);
    }
    std::unique_lock<mc::mutex> ul(b, std::defer_lock);
    CHECK(ul.try_lock_for(2s));
    CHECK(b.fence() > first);
    ul.unlock();
    expect_error([&] { (void)a.fence(); }, MP_ENOTOWNER, "mpsync::cluster::mutex \"cpp-lock\"");
    expect_error([&] { mc::mutex bad(c, "a/b"); }, MP_EINVAL, "\"a/b\"");
    mc::recursive_mutex r(c, "cpp-rlock");
    r.lock();
    CHECK(r.try_lock());
    r.unlock();
    r.unlock();
}

static void semaphore_event_barrier(const mc::connection &c) {
    mc::semaphore s(c, "cpp-sem", 2);
    s.acquire();
    CHECK(s.try_acquire_for(1s));
    CHECK(!s.try_acquire_for(100ms));
    s.release();
    s.release();
    expect_error([&] { s.release(); }, MP_EOVERFLOW, "semaphore \"cpp-sem\"");
    mc::event e(c, "cpp-event");
    CHECK(!e.is_set());
    CHECK(!e.wait_for(100ms));
    e.set();
    e.wait();
    e.clear();
    mc::barrier b(c, "cpp-barrier", 1);
    CHECK(b.wait_for(1s) == 0);
    b.abort();
    expect_error([&] { (void)b.wait(); }, MP_EBROKEN, "barrier \"cpp-barrier\"");
    try {
        (void)b.wait();
        CHECK(false);
    } catch (const mpsync::broken_barrier &) {
    }
    b.reset();
    CHECK(b.wait() == 0);
}

static void owner_death(const std::string &endpoints, const mc::connection &c) {
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        // Connect after fork: a connection's runtime thread does not survive fork().
        mc::connection mine(endpoints, short_lease());
        mc::mutex m(mine, "cpp-death");
        m.lock();
        CHECK(write(ready[1], "h", 1) == 1);
        for (;;) pause();
    }
    char byte;
    CHECK(read(ready[0], &byte, 1) == 1);
    CHECK(kill(child, SIGKILL) == 0);
    CHECK(waitpid(child, nullptr, 0) == child);
    mc::mutex m(c, "cpp-death");
    CHECK(m.try_lock_for(c.ttl() + 10s));
    CHECK(m.owner_died());
    m.unlock();
    CHECK(m.try_lock());
    CHECK(!m.owner_died());
    m.unlock();
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    expect_error([] { mc::connection none(""); }, MP_EINVAL, "connect");
    mc::connection c(argv[1], short_lease());
    CHECK(c.ttl() >= 1s);
    locks_and_fencing(c);
    semaphore_event_barrier(c);
    owner_death(argv[1], c);
    std::puts("test_cluster_cpp: ok");
    return 0;
}
