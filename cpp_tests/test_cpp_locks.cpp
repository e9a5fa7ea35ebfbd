// mpsync::mutex and mpsync::recursive_mutex: the standard lock types over them, timed
// locks with steady and system clocks, deadlines kept across MP_EINTR, owner death
// through std::lock_guard after a SIGKILL, and the destructor/unlock error policy.
#include "cpptest.hpp"

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <sys/time.h>

using namespace std::chrono_literals;

namespace {

struct shared_locks {
    mp_lock_t lock;
    mp_rlock_t rlock;
    mp_lock_t lock2;
    long counter;
    int ready;
};

// 4 processes x 20000 increments under std::lock_guard / std::unique_lock /
// std::scoped_lock: the total is exact only if the wrappers exclude each other.
TEST(standard_lock_types_exclude_across_processes) {
    auto *s = cpt::shared<shared_locks>();
    auto m = mpsync::mutex::init(s->lock);
    auto r = mpsync::recursive_mutex::init(s->rlock);
    auto m2 = mpsync::mutex::init(s->lock2);
    std::vector<pid_t> kids;
    for (int w = 0; w < 4; w++) {
        kids.push_back(cpt::fork_child([&, w] {
            for (int i = 0; i < 20000; i++) {
                if (w == 0) {
                    std::lock_guard<mpsync::mutex> g(m);
                    s->counter++;
                } else if (w == 1) {
                    std::unique_lock<mpsync::mutex> g(m);
                    s->counter++;
                    g.unlock();
                } else if (w == 2) {
                    std::scoped_lock g(m, r, m2);  // std::lock's deadlock avoidance
                    s->counter++;
                } else {
                    std::scoped_lock g(m2, m);
                    std::lock_guard<mpsync::recursive_mutex> g2(r);
                    std::lock_guard<mpsync::recursive_mutex> g3(r);  // re-entered
                    s->counter++;
                }
            }
            return 0;
        }));
    }
    for (pid_t k : kids) CHECK(cpt::wait_child(k) == 0);
    CHECK(s->counter == 80000);
    CHECK(!m.is_locked());
    CHECK(r.level() == 0);
    CHECK(!r.is_locked());
    r.lock();
    CHECK(r.is_locked());
    r.unlock();
}

TEST(try_lock_and_unique_lock_defer) {
    auto m = mpsync::mutex::anonymous();
    auto r = mpsync::recursive_mutex::anonymous();
    std::unique_lock<mpsync::mutex> ul(m, std::defer_lock);
    CHECK(ul.try_lock());
    pid_t kid = cpt::fork_child([&] {
        // Held by the parent: every attempt fails, and no attempt waits forever.
        if (m.try_lock()) return 1;
        std::unique_lock<mpsync::mutex> l2(m, std::try_to_lock);
        if (l2.owns_lock()) return 2;
        if (m.try_lock_for(30ms)) return 3;
        // A child never owns its parent's RLock: it can take it afresh.
        std::unique_lock<mpsync::recursive_mutex> rl(r, 50ms);
        return rl.owns_lock() ? 0 : 4;
    });
    CHECK(cpt::wait_child(kid) == 0);
    ul.unlock();
    CHECK(m.try_lock());
    m.unlock();
}

// Timed locks: steady_clock and system_clock deadlines, durations of every period,
// never returning before the deadline (durations are rounded up to whole ms).
TEST(timed_locks_with_steady_and_system_clocks) {
    auto m = mpsync::mutex::anonymous();
    auto r = mpsync::recursive_mutex::anonymous();
    m.lock();
    pid_t kid = cpt::fork_child([&] {
        r.lock();
        pause();
        return 0;
    });
    while (r.try_lock()) {  // wait until the child holds the RLock
        r.unlock();
        usleep(1000);
    }
    auto t0 = std::chrono::steady_clock::now();
    CHECK(!m.try_lock_for(1500us));  // 1.5 ms rounds up to 2 ms
    CHECK(std::chrono::steady_clock::now() - t0 >= 1500us);

    auto until = std::chrono::steady_clock::now() + 40ms;
    CHECK(!m.try_lock_until(until));
    CHECK(std::chrono::steady_clock::now() >= until);

    auto sys_until = std::chrono::system_clock::now() + 40ms;
    CHECK(!r.try_lock_until(sys_until));
    CHECK(std::chrono::system_clock::now() >= sys_until);

    CHECK(!r.try_lock_for(std::chrono::duration<double, std::milli>(2.5)));
    CHECK(!m.try_lock_for(-5s));  // a past deadline tries once
    CHECK(!m.try_lock_until(std::chrono::system_clock::now() - 1h));
    CHECK(m.acquire_for(1ns) == mpsync::acquire_status::timeout);

    // Available: a timed lock succeeds at once, even with a huge timeout.
    m.unlock();
    CHECK(m.try_lock_for(std::chrono::hours::max()));
    m.unlock();
    CHECK(m.try_lock_until(std::chrono::system_clock::time_point::max()));
    m.unlock();
    // A far-out time point of a coarse duration must not overflow into "already past":
    // the lock is held, another thread releases it 50 ms later, the wait must get it.
    using far_point = std::chrono::time_point<std::chrono::system_clock, std::chrono::hours>;
    CHECK(mpsync::detail::remaining_ms(far_point::max(), std::chrono::system_clock::now()) ==
          mpsync::detail::max_call_ms);
    m.lock();
    std::thread releaser([&] {
        std::this_thread::sleep_for(50ms);
        m.unlock();  // a Lock has no owner: any thread may release it
    });
    CHECK(m.try_lock_until(far_point::max()));
    releaser.join();
    m.unlock();
    kill(kid, SIGKILL);
    cpt::wait_child(kid);
}

std::atomic<int> g_signals{0};
void on_alarm(int) { g_signals.fetch_add(1, std::memory_order_relaxed); }

// A signal every 5 ms (no SA_RESTART) interrupts the C wait again and again with
// MP_EINTR. try_lock_for must keep its steady_clock deadline across the retries: with
// a fresh 300 ms timeout per retry it would never return (the test's time limit would
// catch that hang); the Lockable calls never surface MP_EINTR; the explicit call
// hands it back with on_signal::report.
TEST(deadline_is_kept_across_eintr) {
    struct sigaction sa {};
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, nullptr) == 0);
    auto m = mpsync::mutex::anonymous();
    m.lock();
    itimerval it{};
    it.it_interval.tv_usec = 5000;
    it.it_value.tv_usec = 5000;
    CHECK(setitimer(ITIMER_REAL, &it, nullptr) == 0);

    auto t0 = std::chrono::steady_clock::now();
    CHECK(!m.try_lock_for(300ms));
    CHECK(std::chrono::steady_clock::now() - t0 >= 300ms);
    CHECK(g_signals.load() > 3);

    auto r = mpsync::recursive_mutex::anonymous();
    pid_t kid = cpt::fork_child([&] {
        r.lock();
        pause();
        return 0;
    });
    while (r.try_lock()) {
        r.unlock();
        usleep(1000);
    }
    int before = g_signals.load();
    CHECK(!r.try_lock_until(std::chrono::system_clock::now() + 200ms));
    CHECK(g_signals.load() > before);

    auto st = m.acquire_for(10s, mpsync::on_signal::report);
    CHECK(st == mpsync::acquire_status::interrupted);

    it = itimerval{};
    setitimer(ITIMER_REAL, &it, nullptr);
    kill(kid, SIGKILL);
    cpt::wait_child(kid);
}

// A fork()ed child locks `r`, says so through `s->ready`, and is SIGKILLed holding it.
void sigkill_a_holder(shared_locks *s, mpsync::recursive_mutex &r) {
    __atomic_store_n(&s->ready, 0, __ATOMIC_SEQ_CST);
    pid_t kid = cpt::fork_child([&] {
        r.lock();
        __atomic_store_n(&s->ready, 1, __ATOMIC_SEQ_CST);
        pause();
        return 0;
    });
    while (!__atomic_load_n(&s->ready, __ATOMIC_SEQ_CST)) usleep(1000);
    CHECK(kill(kid, SIGKILL) == 0);
    CHECK(cpt::wait_child(kid) == -SIGKILL);
}

// Owner death through std::lock_guard: a child holding the RLock is SIGKILLed; the
// parent's lock_guard gets the lock, owner_died() tells that thread (and only it), the
// handler ran with the lock held, and the record ends with the last release.
TEST(owner_death_through_lock_guard_after_sigkill) {
    auto *s = cpt::shared<shared_locks>();
    auto r = mpsync::recursive_mutex::init(s->rlock);
    int handler_calls = 0;
    r.set_owner_death_handler([&](mpsync::recursive_mutex &held) {
        handler_calls++;
        CHECK(held.is_mine());
        s->counter = 0;  // "repair" the protected data
    });
    pid_t kid = cpt::fork_child([&] {
        auto view = mpsync::recursive_mutex::attach(s->rlock);
        std::lock_guard<mpsync::recursive_mutex> g(view);
        s->counter = 12345;  // half-updated data
        __atomic_store_n(&s->ready, 1, __ATOMIC_SEQ_CST);
        pause();
        return 0;
    });
    while (!__atomic_load_n(&s->ready, __ATOMIC_SEQ_CST)) usleep(1000);
    CHECK(kill(kid, SIGKILL) == 0);
    CHECK(cpt::wait_child(kid) == -SIGKILL);

    std::atomic<bool> other_saw_death{true};
    {
        std::lock_guard<mpsync::recursive_mutex> g(r);
        CHECK(r.owner_died());
        CHECK(handler_calls == 1);
        CHECK(s->counter == 0);
        // Another thread asks about the same lock while this one holds it: it is not
        // the owner, so it is told nothing.
        std::thread t([&] { other_saw_death = r.owner_died(); });
        t.join();
        CHECK(!other_saw_death.load());
        {
            std::lock_guard<mpsync::recursive_mutex> g2(r);  // re-entry keeps the record
            CHECK(r.owner_died());
        }
        CHECK(r.owner_died());
    }
    CHECK(!r.owner_died());
    // The next holder, in another thread, is not told: the death was reported once.
    std::thread t([&] {
        std::lock_guard<mpsync::recursive_mutex> g(r);
        other_saw_death = r.owner_died();
    });
    t.join();
    CHECK(!other_saw_death.load());
    CHECK(handler_calls == 1);

    // The explicit call returns it as a result.
    auto holder_view = mpsync::recursive_mutex::attach(s->rlock);
    sigkill_a_holder(s, holder_view);
    auto view = mpsync::recursive_mutex::attach(s->rlock);  // no handler on this wrapper
    CHECK(view.acquire() == mpsync::acquire_status::owner_dead);
    CHECK(view.acquire() == mpsync::acquire_status::acquired);  // re-entry: level 2
    view.unlock();
    CHECK(view.owner_died() && r.owner_died());  // one lock, whichever wrapper asks
    view.unlock();
    CHECK(!view.owner_died());
}

// Several threads of the next process race for the lock after its owner was killed:
// exactly one of them is told (the one whose acquisition got MP_OWNER_DEAD), however
// the threads interleave; each asks only about its own holding.
TEST(owner_death_is_told_to_exactly_one_of_many_threads) {
    for (int round = 0; round < 20; round++) {
        auto r = mpsync::recursive_mutex::anonymous();
        auto ready = mpsync::event::anonymous();
        pid_t kid = cpt::fork_child([&] {
            r.lock();
            ready.set();
            pause();
            return 0;
        });
        ready.wait();
        std::atomic<int> told{0}, entered{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; t++)
            threads.emplace_back([&] {
                for (int k = 0; k < 50; k++) {
                    std::lock_guard<mpsync::recursive_mutex> g(r);
                    if (r.owner_died()) told++;
                    entered++;
                }
            });
        usleep(1000);
        kill(kid, SIGKILL);
        for (auto &t : threads) t.join();
        CHECK(cpt::wait_child(kid) == -SIGKILL);
        CHECK(entered.load() == 200);
        CHECK(told.load() == 1);
    }
}

// A sticky recursive_mutex (mpsync::sticky): after its owner was SIGKILLed, every
// lock() reports the death (owner_died(), the handler) until a holder calls
// mark_consistent(); the anonymous, in-place and named factories all make one.
TEST(sticky_reports_owner_death_until_marked_consistent) {
    auto *s = cpt::shared<shared_locks>();
    std::string name = cpt::name("sticky");
    auto named = mpsync::recursive_mutex::open(name.c_str(), mpsync::create_only, 0, mpsync::sticky);
    CHECK(named.created());
    auto plain_name = cpt::name("sticky-plain");
    auto plain = mpsync::recursive_mutex::open(plain_name.c_str(), mpsync::create_only);
    CHECK_THROWS_STATUS(mpsync::recursive_mutex::open(plain_name.c_str(), mpsync::open_existing, 0, mpsync::sticky),
                        MP_EBADOBJ);
    mpsync::recursive_mutex anonymous(mpsync::sticky);
    auto in_place = mpsync::recursive_mutex::init(s->rlock, mpsync::sticky);
    for (mpsync::recursive_mutex *r : {&anonymous, &in_place, &named}) {
        sigkill_a_holder(s, *r);
        int handler_calls = 0;
        r->set_owner_death_handler([&](mpsync::recursive_mutex &) { handler_calls++; });
        for (int i = 0; i < 3; i++) {  // nobody repairs: every holder is told
            std::lock_guard<mpsync::recursive_mutex> g(*r);
            CHECK(r->owner_died());
        }
        CHECK(handler_calls == 3);
        std::thread([&] { CHECK(r->acquire() == mpsync::acquire_status::owner_dead); r->unlock(); }).join();
        {
            std::lock_guard<mpsync::recursive_mutex> g(*r);
            r->mark_consistent();  // repaired
        }
        std::lock_guard<mpsync::recursive_mutex> g(*r);
        CHECK(!r->owner_died() && handler_calls == 4);
    }
    mpsync::unlink(name.c_str());
    mpsync::unlink(plain_name.c_str());
}

// try_lock() also reports owner death (through owner_died()).
TEST(owner_death_through_try_lock) {
    auto r = mpsync::recursive_mutex::anonymous();
    pid_t kid = cpt::fork_child([&] {
        r.lock();
        _exit(0);
        return 0;
    });
    CHECK(cpt::wait_child(kid) == 0);
    std::unique_lock<mpsync::recursive_mutex> l(r, std::try_to_lock);
    CHECK(l.owns_lock());
    CHECK(r.owner_died());
}

// A handler that throws: lock() gives the level back and propagates the exception.
TEST(owner_death_handler_exception_undoes_the_acquisition) {
    auto r = mpsync::recursive_mutex::anonymous();
    pid_t kid = cpt::fork_child([&] {
        r.lock();
        _exit(0);  // dies holding it (exit: the kernel reports it like a kill)
        return 0;
    });
    CHECK(cpt::wait_child(kid) == 0);
    r.set_owner_death_handler([](mpsync::recursive_mutex &) { throw std::runtime_error("cannot repair"); });
    bool thrown = false;
    try {
        std::lock_guard<mpsync::recursive_mutex> g(r);
    } catch (const std::runtime_error &) {
        thrown = true;
    }
    CHECK(thrown);
    CHECK(r.level() == 0);
    CHECK(!r.owner_died());
}

struct report_log {
    int calls;
    mp_status last;
    char op[64];
};
report_log *g_log;
void record_report(const char *op, mp_status st, const void *) noexcept {
    g_log->calls++;
    g_log->last = st;
    std::snprintf(g_log->op, sizeof g_log->op, "%s", op);
}

// The destructor policy: a destroy/close that fails does not throw or terminate; it
// reports to the error handler and leaks the object, which stays usable. close()
// throws instead and keeps ownership, so the caller can fix things and retry.
TEST(destructor_that_cannot_close_reports_and_leaks) {
    auto *s = cpt::shared<shared_locks>();
    g_log = cpt::shared<report_log>();
    auto previous = mpsync::set_error_handler(&record_report);
    CHECK(previous != nullptr);
    {
        auto m = mpsync::mutex::init(s->lock);
        m.lock();
    }  // ~mutex: mp_lock_destroy -> MP_EBUSY (held)
    CHECK(g_log->calls == 1);
    CHECK(g_log->last == MP_EBUSY);
    CHECK(std::string(g_log->op) == "mp_lock_destroy");
    auto view = mpsync::mutex::attach(s->lock);  // leaked, still a live lock
    CHECK(view.is_locked());
    view.unlock();

    auto r = mpsync::recursive_mutex::init(s->rlock);
    r.lock();
    CHECK_THROWS_STATUS(r.close(), MP_EBUSY);
    CHECK(r.native_handle() != nullptr);  // still owned: unlock and retry
    r.unlock();
    r.close();
    CHECK(!r);

    // An in-place RLock whose owner is destroyed while this thread holds it: reported,
    // left initialised.
    {
        auto r2 = mpsync::recursive_mutex::init(s->rlock);
        r2.lock();
    }
    CHECK(g_log->calls == 2);
    CHECK(g_log->last == MP_EBUSY);
    CHECK(std::string(g_log->op) == "mp_rlock_destroy");
    CHECK(mp_rlock_release(&s->rlock) == MP_OK);  // the leaked lock is intact
    CHECK(mp_rlock_destroy(&s->rlock) == MP_OK);

    // unlock() is noexcept: a release of an unlocked Lock is reported, not thrown.
    auto m3 = mpsync::mutex::anonymous();
    m3.unlock();
    CHECK(g_log->calls == 3);
    CHECK(g_log->last == MP_EOVERFLOW);
    CHECK(std::string(g_log->op) == "mp_lock_release");
    mpsync::set_error_handler(previous);
}

// A fork()ed child inherits an in-place owner but must not destroy the object for the
// parent when its copy is destroyed.
TEST(in_place_owner_in_a_child_does_not_destroy) {
    auto *s = cpt::shared<shared_locks>();
    auto m = mpsync::mutex::init(s->lock);
    pid_t kid = cpt::fork_child([&] {
        mpsync::mutex mine = std::move(m);
        mine.lock();
        mine.unlock();
        return 0;  // ~mutex runs here, in the child
    });
    CHECK(cpt::wait_child(kid) == 0);
    m.lock();  // still a live lock in the parent
    m.unlock();
    m.close();  // and the parent can destroy it
    CHECK(mp_lock_is_locked(&s->lock, nullptr) == MP_EINVAL);
    bool locked = true;
    CHECK(mp_lock_is_locked(&s->lock, &locked) == MP_EBADOBJ);
}

// An undo semaphore (mpsync::undo_semaphore): the unit of a SIGKILLed holder comes back
// to a blocked waiter, which is told with acquire_status::owner_dead; releases are matched.
TEST(undo_semaphore_gives_back_a_killed_holders_unit) {
    auto *s = cpt::shared<shared_locks>();
    auto sem = mpsync::undo_semaphore::anonymous(1, 1);
    CHECK(sem.max_value() == 1);
    CHECK_THROWS_STATUS(sem.release(), MP_ENOTOWNER);
    pid_t kid = cpt::fork_child([&] {
        sem.acquire();
        __atomic_store_n(&s->ready, 1, __ATOMIC_SEQ_CST);
        pause();
        return 0;
    });
    while (!__atomic_load_n(&s->ready, __ATOMIC_SEQ_CST)) usleep(1000);
    CHECK(!sem.try_acquire());
    CHECK(kill(kid, SIGKILL) == 0);
    CHECK(cpt::wait_child(kid) == -SIGKILL);
    CHECK(sem.acquire_for(std::chrono::seconds(10)) == mpsync::acquire_status::owner_dead);
    CHECK(sem.held() == 1);
    sem.release();
    CHECK(sem.held() == 0);
    CHECK(sem.acquire_for(std::chrono::seconds(1)) == mpsync::acquire_status::acquired);
    sem.release();
}

// In place: init, attach at another address (a second mapping would do the same), and
// detach, which refuses while the calling thread holds a unit.
TEST(undo_semaphore_in_place_attach_and_detach) {
    auto *storage = cpt::shared<mp_sem_undo_t>();
    static_assert(sizeof(mp_sem_undo_t) == MP_SEM_UNDO_SIZE, "sizeof is the object's size");
    auto sem = mpsync::undo_semaphore::init(*storage, 2, 2);
    auto view = mpsync::undo_semaphore::attach(*storage);
    view.detach();
    CHECK(sem.try_acquire());
    CHECK_THROWS_STATUS(view.detach(), MP_EBUSY);
    CHECK(view.held() == 1 && view.value() == 1);
    view.release();
    view.detach();
    CHECK_THROWS_STATUS(mpsync::undo_semaphore::init(*storage, 3, 2), MP_EINVAL);
}

}  // namespace
