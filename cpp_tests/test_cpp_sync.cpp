// mpsync::condition_variable (with an RLock held at level 3, across processes),
// a producer/consumer across processes built only from the C++ types, the semaphores
// (std::counting_semaphore's template and the multiprocessing ones), event, and
// barrier (std::barrier's constructors, arrival indices, completion function, an
// exception thrown by it, reset, abort; arrive() and arrive_and_drop() declined).
#include "cpptest.hpp"

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

#include <sys/time.h>

using namespace std::chrono_literals;

namespace {

// The parent holds an RLock at level 3 and waits on the condition: the child can only
// take the lock (to set the state and notify) if the wait released all three levels;
// the parent must come back at level 3. A timed wait at level 3 times out at level 3
// (std::condition_variable_any would release one level only).
TEST(condition_variable_with_rlock_at_level_3_across_processes) {
    auto r = mpsync::recursive_mutex::anonymous();
    auto cv = mpsync::condition_variable::anonymous();
    auto state = mpsync::shared_array<int>::anonymous(2, false);
    r.lock();
    r.lock();
    std::unique_lock<mpsync::recursive_mutex> ul(r);  // level 3
    CHECK(r.level() == 3);

    CHECK(cv.wait_for(ul, 20ms) == std::cv_status::timeout);
    CHECK(r.level() == 3);
    CHECK(!cv.wait_until(ul, std::chrono::system_clock::now() + 20ms, [&] { return state[0] == 1; }));
    CHECK(r.level() == 3);

    pid_t kid = cpt::fork_child([&] {
        std::lock_guard<mpsync::recursive_mutex> g(r);  // blocks until the parent waits
        state[1] = static_cast<int>(r.level());
        state[0] = 1;
        cv.notify_one();
        return 0;
    });
    cv.wait(ul, [&] { return state[0] == 1; });
    CHECK(r.level() == 3);
    CHECK(state[1] == 1);  // the child held it at its own level 1
    CHECK(cpt::wait_child(kid) == 0);

    // notify_all / notify(n) wake waiters in several processes.
    state[0] = 0;
    state[1] = 0;
    std::vector<pid_t> kids;
    for (int i = 0; i < 3; i++)
        kids.push_back(cpt::fork_child([&] {
            std::unique_lock<mpsync::recursive_mutex> l(r);
            state[1]++;
            bool ok = cv.wait_for(l, 30s, [&] { return state[0] >= 1; });
            return ok ? 0 : 1;
        }));
    ul.unlock();
    r.unlock();
    r.unlock();
    CHECK(r.level() == 0);
    for (;;) {
        std::lock_guard<mpsync::recursive_mutex> g(r);
        if (state[1] == 3) break;
    }
    {
        std::lock_guard<mpsync::recursive_mutex> g(r);
        state[0] = 1;
        CHECK(cv.n_waiting() == 3);  // each registered before releasing the lock
        cv.notify(1);
        CHECK(cv.n_waiting() == 2);  // the picked one no longer counts
        cv.notify_all();
        CHECK(cv.n_waiting() == 0);
    }
    for (pid_t k : kids) CHECK(cpt::wait_child(k) == 0);
}

// The re-acquisition at the end of a wait finds that the lock's owner died: the wait
// returns normally and owner_died() tells the waiting thread.
TEST(condition_wait_reports_owner_death) {
    auto r = mpsync::recursive_mutex::anonymous();
    auto cv = mpsync::condition_variable::anonymous();
    auto flag = mpsync::shared_array<int>::anonymous(1, false);
    std::unique_lock<mpsync::recursive_mutex> ul(r);
    pid_t kid = cpt::fork_child([&] {
        r.lock();  // possible once the parent waits
        __atomic_store_n(&flag[0], 1, __ATOMIC_SEQ_CST);
        pause();
        return 0;
    });
    // Another thread kills the child once it holds the lock; meanwhile this thread
    // waits (lock released), and its re-acquisition blocks until the kill.
    std::thread killer([&] {
        while (!__atomic_load_n(&flag[0], __ATOMIC_SEQ_CST)) usleep(1000);
        kill(kid, SIGKILL);
    });
    while (!__atomic_load_n(&flag[0], __ATOMIC_SEQ_CST)) (void)cv.wait_for(ul, 5ms);
    // The child set the flag while holding the lock and never released it, so the
    // wait that saw the flag re-acquired the lock only through the owner's death.
    killer.join();
    CHECK(cpt::wait_child(kid) == -SIGKILL);
    CHECK(r.owner_died());
    CHECK(r.level() == 1);
    ul.unlock();
    CHECK(!r.owner_died());
}

TEST(condition_variable_with_a_mutex) {
    auto m = mpsync::mutex::anonymous();
    auto cv = mpsync::condition_variable::anonymous();
    auto flag = mpsync::shared_array<int>::anonymous(1, false);
    std::unique_lock<mpsync::mutex> ul(m);
    pid_t kid = cpt::fork_child([&] {
        std::lock_guard<mpsync::mutex> g(m);
        flag[0] = 1;
        cv.notify_one();
        return 0;
    });
    CHECK(cv.wait_until(ul, std::chrono::steady_clock::now() + 30s, [&] { return flag[0] == 1; }));
    CHECK(ul.owns_lock() && m.is_locked());
    CHECK(cpt::wait_child(kid) == 0);
    auto t0 = std::chrono::steady_clock::now();
    CHECK(cv.wait_for(ul, 1500us) == std::cv_status::timeout);
    CHECK(std::chrono::steady_clock::now() - t0 >= 1500us);
    ul.unlock();
    CHECK_THROWS_STATUS(cv.wait(ul), MP_ENOTOWNER);  // not locked
}

// Bounded buffer across processes: 2 producers, 2 consumers, ring buffer in a
// shared_array, slots counted by two semaphores, indices under a mutex. Only mpsync
// C++ types are used. Every item is consumed exactly once.
TEST(producer_consumer_across_processes) {
    constexpr int kSlots = 8, kItems = 5000;
    auto ring = mpsync::shared_array<long>::anonymous(kSlots, false);
    auto idx = mpsync::shared_array<long>::anonymous(4, false);  // head, tail, sum, count
    mpsync::counting_semaphore<kSlots> free_slots(kSlots);  // std:: style: anonymous, inherited
    mpsync::counting_semaphore<kSlots> used_slots(0);
    auto m = mpsync::mutex::anonymous();
    std::vector<pid_t> kids;
    for (int p = 0; p < 2; p++)
        kids.push_back(cpt::fork_child([&, p] {
            for (long i = 1; i <= kItems; i++) {
                free_slots.acquire();
                {
                    std::lock_guard<mpsync::mutex> g(m);
                    ring[static_cast<std::size_t>(idx[0]++ % kSlots)] = i + p * kItems;
                }
                used_slots.release();
            }
            return 0;
        }));
    for (int c = 0; c < 2; c++)
        kids.push_back(cpt::fork_child([&] {
            for (long i = 0; i < kItems; i++) {
                used_slots.acquire();
                {
                    std::lock_guard<mpsync::mutex> g(m);
                    idx[2] += ring[static_cast<std::size_t>(idx[1]++ % kSlots)];
                    idx[3]++;
                }
                free_slots.release();
            }
            return 0;
        }));
    for (pid_t k : kids) CHECK(cpt::wait_child(k) == 0);
    long n = 2 * kItems;
    CHECK(idx[3] == n);
    CHECK(idx[2] == n * (n + 1) / 2);
    CHECK(free_slots.value() == kSlots);
    CHECK(used_slots.value() == 0);
}

TEST(semaphores) {
    auto s = mpsync::semaphore::anonymous(0);
    CHECK(s.max_value() == MP_SEM_VALUE_MAX);
    CHECK(mpsync::semaphore::max() == MP_SEM_VALUE_MAX);
    CHECK(!s.try_acquire());
    auto t0 = std::chrono::steady_clock::now();
    CHECK(!s.try_acquire_for(15ms));
    CHECK(std::chrono::steady_clock::now() - t0 >= 15ms);
    CHECK(!s.try_acquire_until(std::chrono::system_clock::now() + 5ms));
    CHECK(s.acquire_for(2ms) == mpsync::acquire_status::timeout);
    pid_t kid = cpt::fork_child([&] {
        s.acquire();  // blocks until the parent releases
        s.acquire();
        return s.value() == 1 ? 0 : 1;
    });
    s.release(3);
    CHECK(cpt::wait_child(kid) == 0);
    CHECK(s.value() == 1);
    CHECK(s.try_acquire());

    auto b = mpsync::bounded_semaphore::anonymous(2);
    CHECK(b.max_value() == 2 && b.value() == 2);
    b.acquire();
    b.release();
    CHECK_THROWS_STATUS(b.release(), MP_EOVERFLOW);
    b.acquire();
    CHECK_THROWS_STATUS(b.release(2), MP_EOVERFLOW);  // the first unit went back
    CHECK(b.value() == 2);
    auto b2 = mpsync::bounded_semaphore::anonymous(1, 5);
    CHECK(b2.max_value() == 5);
    CHECK_THROWS_STATUS(mpsync::semaphore::anonymous(3, 2), MP_EINVAL);
}

// counting_semaphore<LeastMaxValue> and binary_semaphore have std::'s shape: a
// template, max(), acquire, try_acquire, try_acquire_for/until, release(n).
template <class S>
constexpr bool has_std_semaphore_shape() {
    using namespace std::chrono;
    return std::is_same<decltype(S::max()), std::ptrdiff_t>::value &&
           std::is_same<decltype(std::declval<S &>().acquire()), void>::value &&
           std::is_same<decltype(std::declval<S &>().try_acquire()), bool>::value &&
           std::is_same<decltype(std::declval<S &>().try_acquire_for(milliseconds(1))), bool>::value &&
           std::is_same<decltype(std::declval<S &>().try_acquire_until(steady_clock::now())), bool>::value &&
           std::is_same<decltype(std::declval<S &>().try_acquire_until(system_clock::now())), bool>::value &&
           std::is_same<decltype(std::declval<S &>().release()), void>::value &&
           std::is_same<decltype(std::declval<S &>().release(std::ptrdiff_t(2))), void>::value &&
           std::is_constructible<S, std::ptrdiff_t>::value && !std::is_copy_constructible<S>::value;
}
static_assert(has_std_semaphore_shape<mpsync::counting_semaphore<4>>(), "counting_semaphore<4>");
static_assert(has_std_semaphore_shape<mpsync::counting_semaphore<>>(), "counting_semaphore<>");
static_assert(has_std_semaphore_shape<mpsync::binary_semaphore>(), "binary_semaphore");
static_assert(std::is_same<mpsync::binary_semaphore, mpsync::counting_semaphore<1>>::value, "as std::");
static_assert(mpsync::counting_semaphore<4>::max() == 4, "max() is LeastMaxValue");
static_assert(mpsync::binary_semaphore::max() == 1, "binary");
static_assert(mpsync::counting_semaphore<>::max() == MP_SEM_VALUE_MAX, "the default is the largest bound");

TEST(counting_semaphore_template_as_in_std) {
    mpsync::counting_semaphore<4> s(2);  // anonymous, inherited by fork()ed children
    CHECK(s.max_value() == 4 && s.value() == 2);
    s.acquire();
    CHECK(s.try_acquire());
    CHECK(!s.try_acquire());
    CHECK(!s.try_acquire_for(5ms));
    CHECK(!s.try_acquire_until(std::chrono::system_clock::now() + 5ms));
    pid_t kid = cpt::fork_child([&] {
        s.acquire();  // blocks until the parent releases
        s.acquire();
        return 0;
    });
    s.release(3);
    CHECK(cpt::wait_child(kid) == 0);
    CHECK(s.value() == 1);

    // The bound is exactly max(), and the library enforces it: a release past it
    // throws (std:: leaves it undefined).
    s.release(3);
    CHECK(s.value() == 4);
    CHECK_THROWS_STATUS(s.release(), MP_EOVERFLOW);
    CHECK_THROWS_STATUS(s.release(-1), MP_EINVAL);
    CHECK_THROWS_STATUS(mpsync::counting_semaphore<4>(5), MP_EINVAL);
    CHECK_THROWS_STATUS(mpsync::counting_semaphore<4>(-1), MP_EINVAL);

    // binary_semaphore as a signal between processes.
    mpsync::binary_semaphore ready(0);
    kid = cpt::fork_child([&] {
        ready.release();
        return 0;
    });
    CHECK(ready.try_acquire_for(30s));
    CHECK(cpt::wait_child(kid) == 0);
    ready.release();
    CHECK_THROWS_STATUS(ready.release(), MP_EOVERFLOW);

    // By name: an existing semaphore must have the bound max(), so that max() never
    // lies; mpsync::semaphore (the run-time-bound type) opens any.
    std::string name = cpt::name("csem");
    auto made = mpsync::counting_semaphore<4>::open(name.c_str(), mpsync::create_only, 0, 1);
    auto same = mpsync::counting_semaphore<4>::open(name.c_str(), mpsync::open_existing, 0, 0);
    CHECK(same.value() == 1 && same.max_value() == 4);
    CHECK_CONTAINS(WHAT_OF(mpsync::counting_semaphore<8>::open(name.c_str(), mpsync::open_existing, 0, 0), MP_EBADOBJ),
                   "mpsync::counting_semaphore<8> \"" + name + "\": open (mp_sem_get_max_value): its bound is 4, not "
                   "max() = 8 (use mpsync::semaphore, or counting_semaphore<4>)");
    auto any = mpsync::semaphore::open(name.c_str(), mpsync::open_existing, 0, 0);
    CHECK(any.max_value() == 4);
    CHECK_THROWS_STATUS(mpsync::counting_semaphore<4>::open(name.c_str(), mpsync::open_existing, 0, 5), MP_EINVAL);
    mpsync::counting_semaphore<4>::unlink(name.c_str());

    // In place and attached: the same rule.
    auto *storage = cpt::shared<mp_sem_t>();
    auto in_place = mpsync::counting_semaphore<2>::init(*storage, 1);
    auto view = mpsync::counting_semaphore<2>::attach(*storage);
    CHECK(view.try_acquire() && !in_place.try_acquire());
    CHECK_THROWS_STATUS(mpsync::counting_semaphore<3>::attach(*storage), MP_EBADOBJ);
}

// std::barrier's constructors and max(); arrive() and arrive_and_drop() are declined
// (the C API arrives and waits in one call, and a barrier's party count is fixed):
// they are deleted, so that a call fails to compile at a comment that says why.
template <class B, class = void>
struct can_arrive : std::false_type {};
template <class B>
struct can_arrive<B, std::void_t<decltype(std::declval<B &>().arrive())>> : std::true_type {};
template <class B, class = void>
struct can_arrive_and_drop : std::false_type {};
template <class B>
struct can_arrive_and_drop<B, std::void_t<decltype(std::declval<B &>().arrive_and_drop())>> : std::true_type {};
static_assert(!can_arrive<mpsync::barrier>::value, "barrier::arrive is declined");
static_assert(!can_arrive_and_drop<mpsync::barrier>::value, "barrier::arrive_and_drop is declined");
static_assert(mpsync::barrier::max() == MP_BARRIER_PARTIES_MAX, "std::barrier::max()");

TEST(barrier_std_constructors_and_declined_members) {
    auto runs = mpsync::shared_array<int>::anonymous(1, false);
    mpsync::barrier b(2, [&] { __atomic_fetch_add(&runs[0], 1, __ATOMIC_SEQ_CST); });
    CHECK(b.parties() == 2);
    pid_t kid = cpt::fork_child([&] { return b.arrive_and_wait() <= 1 ? 0 : 1; });
    CHECK(b.arrive_and_wait() <= 1);
    CHECK(cpt::wait_child(kid) == 0);
    CHECK(runs[0] == 1);  // once per phase, by the last arrival (either process)
    CHECK_THROWS_STATUS(mpsync::barrier(0), MP_EINVAL);
    CHECK_THROWS_STATUS(mpsync::barrier(-1), MP_EINVAL);
    CHECK_THROWS_STATUS(mpsync::barrier(mpsync::barrier::max() + 1), MP_EINVAL);
    CHECK_THROWS_STATUS(mpsync::barrier(std::ptrdiff_t(1) << 40), MP_EINVAL);
    mpsync::barrier largest(mpsync::barrier::max());
    CHECK(largest.parties() == MP_BARRIER_PARTIES_MAX);
}

TEST(event_across_processes) {
    auto e = mpsync::event::anonymous();
    CHECK(!e.is_set());
    CHECK(!e.wait_for(10ms));
    CHECK(!e.wait_until(std::chrono::system_clock::now() + 10ms));
    pid_t kid = cpt::fork_child([&] { return e.wait_for(30s) ? 0 : 1; });
    pid_t kid2 = cpt::fork_child([&] {
        e.wait();
        return 0;
    });
    usleep(20000);
    e.set();
    CHECK(cpt::wait_child(kid) == 0);
    CHECK(cpt::wait_child(kid2) == 0);
    CHECK(e.is_set());
    e.wait();
    e.clear();
    CHECK(!e.wait_for(1ms));
}

// 3 processes, 20 generations: indices 0..2 distinct in each, the completion function
// runs once per generation (in whichever process arrives last), before the release.
TEST(barrier_indices_and_completion_across_processes) {
    constexpr int kRounds = 20;
    auto b = mpsync::barrier::anonymous(3);
    CHECK(b.parties() == 3);
    auto log = mpsync::shared_array<int>::anonymous(3 * kRounds + 1, false);
    auto done = mpsync::shared_array<int>::anonymous(kRounds, false);
    auto m = mpsync::mutex::anonymous();
    int round = 0;
    b.set_completion([&] {
        std::lock_guard<mpsync::mutex> g(m);
        done[static_cast<std::size_t>(round)]++;
    });
    auto party = [&](int who) {
        for (round = 0; round < kRounds; round++) {
            std::uint32_t i = b.arrive_and_wait();
            if (done[static_cast<std::size_t>(round)] != 1) return 2;  // completion ran first
            log[static_cast<std::size_t>(round * 3) + i] = who + 1;
        }
        return 0;
    };
    pid_t k1 = cpt::fork_child([&] { return party(1); });
    pid_t k2 = cpt::fork_child([&] { return party(2); });
    CHECK(party(0) == 0);
    CHECK(cpt::wait_child(k1) == 0);
    CHECK(cpt::wait_child(k2) == 0);
    for (int rd = 0; rd < kRounds; rd++) {
        std::set<int> who;
        for (int i = 0; i < 3; i++) who.insert(log[static_cast<std::size_t>(rd * 3 + i)]);
        CHECK(who == (std::set<int>{1, 2, 3}));
        CHECK(done[static_cast<std::size_t>(rd)] == 1);
    }
    CHECK(!b.is_broken());
    CHECK(b.n_waiting() == 0);
}

// An exception from the completion function breaks the barrier: the other party gets
// broken_barrier, the last arrival gets the exception itself (it never crossed the C
// library). reset() makes the barrier usable again; abort() breaks it.
TEST(barrier_completion_exception_breaks_and_reaches_caller) {
    auto b = mpsync::barrier::anonymous(2);
    auto seen = mpsync::shared_array<int>::anonymous(2, false);  // [0]: logic_error, [1]: broken
    b.set_completion([] { throw std::logic_error("completion failed"); });
    auto party = [&] {
        try {
            b.arrive_and_wait();
            return 1;
        } catch (const std::logic_error &e) {
            if (std::string(e.what()) != "completion failed") return 2;
            __atomic_fetch_add(&seen[0], 1, __ATOMIC_SEQ_CST);
        } catch (const mpsync::broken_barrier &e) {
            if (e.status() != MP_EBROKEN || e.code() != mpsync::errc::ebroken) return 3;
            __atomic_fetch_add(&seen[1], 1, __ATOMIC_SEQ_CST);
        }
        return 0;
    };
    pid_t kid = cpt::fork_child(party);
    CHECK(party() == 0);
    CHECK(cpt::wait_child(kid) == 0);
    CHECK(seen[0] == 1 && seen[1] == 1);
    CHECK(b.is_broken());
    CHECK_THROWS_STATUS(b.arrive_and_wait(), MP_EBROKEN);

    b.reset();
    CHECK(!b.is_broken());
    b.set_completion(nullptr);
    kid = cpt::fork_child([&] { return b.arrive_and_wait() <= 1 ? 0 : 1; });
    CHECK(b.arrive_and_wait() <= 1);
    CHECK(cpt::wait_child(kid) == 0);

    CHECK_THROWS_STATUS(b.arrive_and_wait_for(10ms), MP_EBROKEN);  // timeout breaks it
    b.reset();
    b.abort();
    CHECK_THROWS_STATUS(b.arrive_and_wait(), MP_EBROKEN);
}

std::atomic<int> g_signals{0};
void on_alarm(int) { g_signals.fetch_add(1, std::memory_order_relaxed); }

// A barrier wait interrupted every 5 ms keeps its deadline across the retries: it
// ends (broken by its own timeout) instead of restarting a fresh timeout forever.
TEST(barrier_deadline_is_kept_across_eintr) {
    struct sigaction sa {};
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, nullptr) == 0);
    itimerval it{};
    it.it_interval.tv_usec = 5000;
    it.it_value.tv_usec = 5000;
    CHECK(setitimer(ITIMER_REAL, &it, nullptr) == 0);
    auto b = mpsync::barrier::anonymous(2);
    auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_STATUS(b.arrive_and_wait_for(200ms), MP_EBROKEN);
    CHECK(std::chrono::steady_clock::now() - t0 >= 200ms);
    CHECK(g_signals.load() > 3);
    it = itimerval{};
    setitimer(ITIMER_REAL, &it, nullptr);
}

}  // namespace
