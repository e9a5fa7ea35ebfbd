// mpsync::shared_mutex meets SharedTimedLockable: std::shared_lock / std::unique_lock /
// std::lock_guard across processes with an exact count, try_lock_shared_for and
// try_lock_for with timeouts, re-entry of the shared side, the refused upgrade
// (errc::edeadlk), and owner death of a writer and a reader killed with SIGKILL.
#include "cpptest.hpp"

#include <atomic>
#include <string>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct shared_state {
    mp_rwlock_t rw;
    long counter;
    long readers_seen_torn;
};

template <class M>
constexpr bool shared_timed_lockable =
    std::is_same_v<decltype(std::declval<M &>().try_lock_shared_for(1ms)), bool> &&
    std::is_same_v<decltype(std::declval<M &>().try_lock_shared_until(std::chrono::steady_clock::now())), bool> &&
    std::is_same_v<decltype(std::declval<M &>().try_lock_for(1ms)), bool> &&
    std::is_same_v<decltype(std::declval<M &>().unlock_shared()), void>;
static_assert(shared_timed_lockable<mpsync::shared_mutex>);

TEST(standard_lock_types_count_exactly_across_processes) {
    auto *s = cpt::shared<shared_state>();
    auto m = mpsync::shared_mutex::init(s->rw);
    std::vector<pid_t> kids;
    for (int w = 0; w < 4; w++) {
        kids.push_back(cpt::fork_child([&, w] {
            for (int i = 0; i < 5000; i++) {
                if ((i + w) % 3 == 0) {
                    std::unique_lock<mpsync::shared_mutex> g(m);
                    long c = s->counter;
                    s->counter = c + 1;
                } else if ((i + w) % 3 == 1) {
                    std::lock_guard<mpsync::shared_mutex> g(m);
                    s->counter++;
                } else {
                    std::shared_lock<mpsync::shared_mutex> g(m);
                    long a = s->counter;
                    std::this_thread::yield();
                    if (s->counter != a) s->readers_seen_torn++;
                }
            }
            return 0;
        }));
    }
    long writes = 0;
    for (int w = 0; w < 4; w++)
        for (int i = 0; i < 5000; i++) writes += (i + w) % 3 != 2;
    for (pid_t k : kids) CHECK(cpt::wait_child(k) == 0);
    CHECK(s->counter == writes);
    CHECK(s->readers_seen_torn == 0);
}

TEST(timed_shared_and_exclusive_tries) {
    mpsync::shared_mutex m;
    std::shared_lock<mpsync::shared_mutex> r1(m);
    CHECK(m.try_lock_shared_for(10ms));  // re-entry, no wait
    CHECK(m.shared_level() == 2);
    m.unlock_shared();
    // Upgrade refused, never a silent deadlock.
    CHECK_THROWS_STATUS(m.lock(), MP_EDEADLK);
    CHECK_THROWS_STATUS(m.try_lock_for(1s), MP_EDEADLK);
    std::thread t([&] {
        CHECK(!m.try_lock_for(20ms));  // a reader holds it
        std::shared_lock<mpsync::shared_mutex> r2(m, 50ms);
        CHECK(r2.owns_lock());
    });
    t.join();
    r1.unlock();
    std::unique_lock<mpsync::shared_mutex> w(m, std::defer_lock);
    CHECK(w.try_lock_for(1s));
    CHECK(m.is_writer());
    std::thread t2([&] {
        std::shared_lock<mpsync::shared_mutex> r3(m, std::defer_lock);
        CHECK(!r3.try_lock_for(20ms));
        CHECK(!m.try_lock_shared_until(std::chrono::system_clock::now() + 20ms));
    });
    t2.join();
}

// The factories are the shared lifecycle's (detail::object): a named open tells the one
// creator (created()), init()/attach() share an in-place lock.
TEST(named_and_in_place_factories) {
    std::string name = cpt::name("rwlock");
    auto made = mpsync::shared_mutex::open(name.c_str(), mpsync::create_only);
    CHECK(made.created());
    auto found = mpsync::shared_mutex::open(name.c_str(), mpsync::open_existing);
    CHECK(!found.created());
    made.lock();
    CHECK(found.is_writer());
    made.unlock();
    mpsync::shared_mutex::unlink(name.c_str());
    auto *s = cpt::shared<shared_state>();
    auto in_place = mpsync::shared_mutex::init(s->rw);
    auto view = mpsync::shared_mutex::attach(s->rw);
    std::shared_lock<mpsync::shared_mutex> r(in_place);
    CHECK(view.shared_level() == 1);
}

TEST(killed_writer_and_reader_are_reported_once) {
    auto *s = cpt::shared<shared_state>();
    auto m = mpsync::shared_mutex::init(s->rw);
    for (int write = 1; write >= 0; write--) {
        pid_t kid = cpt::fork_child([&] {
            if (write)
                m.lock();
            else
                m.lock_shared();
            kill(getpid(), SIGKILL);
            return 0;
        });
        CHECK(cpt::wait_child(kid) == -SIGKILL);
        CHECK(m.acquire_for(10s) == mpsync::acquire_status::owner_dead);
        CHECK(m.owner_died());
        m.unlock();
        {
            std::shared_lock<mpsync::shared_mutex> r(m);
            CHECK(!m.owner_died());  // told once
        }
    }
}

}  // namespace
