// Every lifecycle of every C++ type (in place in a shared mapping, anonymous shared
// with fork()ed children, named and opened by an exec'ed, unrelated process), moves,
// shared_array<T> and shared_memory, and the error category and exceptions.
#define CPT_CHILD_MAIN
#include "cpptest.hpp"

#include <cstring>
#include <mutex>
#include <stdexcept>
#include <type_traits>

using namespace std::chrono_literals;

namespace {

// Move-only owners; moves, destructors and unlock() never throw; the lock types meet
// the standard's Lockable shape.
template <class T>
constexpr bool move_only_nothrow() {
    return !std::is_copy_constructible<T>::value && !std::is_copy_assignable<T>::value &&
           std::is_nothrow_move_constructible<T>::value && std::is_nothrow_move_assignable<T>::value &&
           std::is_nothrow_destructible<T>::value;
}
static_assert(move_only_nothrow<mpsync::mutex>(), "mutex");
static_assert(move_only_nothrow<mpsync::recursive_mutex>(), "recursive_mutex");
static_assert(move_only_nothrow<mpsync::counting_semaphore>(), "counting_semaphore");
static_assert(move_only_nothrow<mpsync::bounded_semaphore>(), "bounded_semaphore");
static_assert(move_only_nothrow<mpsync::condition_variable>(), "condition_variable");
static_assert(move_only_nothrow<mpsync::event>(), "event");
static_assert(move_only_nothrow<mpsync::barrier>(), "barrier");
static_assert(move_only_nothrow<mpsync::shared_array<int>>(), "shared_array");
static_assert(move_only_nothrow<mpsync::shared_memory>(), "shared_memory");
static_assert(noexcept(std::declval<mpsync::mutex &>().unlock()), "mutex::unlock is noexcept");
static_assert(noexcept(std::declval<mpsync::recursive_mutex &>().unlock()), "recursive_mutex::unlock");
static_assert(std::is_same<decltype(std::declval<mpsync::mutex &>().try_lock()), bool>::value, "try_lock");
static_assert(std::is_base_of<std::system_error, mpsync::error>::value, "error is a system_error");
static_assert(std::is_error_code_enum<mpsync::errc>::value, "errc converts to std::error_code");

struct in_place_block {
    mp_lock_t lock;
    mp_rlock_t rlock;
    mp_sem_t sem;
    mp_cond_t cond;
    mp_event_t event;
    mp_barrier_t barrier;
    long value;
};

// In place: objects inside a struct in a MAP_SHARED mapping, initialised by the parent;
// a fork()ed child uses non-owning views; the parent's owners destroy them at the end.
TEST(in_place_in_a_shared_mapping) {
    auto *blk = cpt::shared<in_place_block>();
    {
        auto m = mpsync::mutex::init(blk->lock);
        auto r = mpsync::recursive_mutex::init(blk->rlock);
        auto s = mpsync::counting_semaphore::init(blk->sem, 0);
        auto c = mpsync::condition_variable::init(blk->cond);
        auto e = mpsync::event::init(blk->event);
        auto b = mpsync::barrier::init(blk->barrier, 2);
        pid_t kid = cpt::fork_child([blk] {
            auto m = mpsync::mutex::attach(blk->lock);
            auto r = mpsync::recursive_mutex::attach(blk->rlock);
            auto s = mpsync::counting_semaphore::attach(blk->sem);
            auto e = mpsync::event::attach(blk->event);
            auto b = mpsync::barrier::attach(blk->barrier);
            {
                std::scoped_lock g(m, r);
                blk->value = 42;
            }
            s.release();
            e.wait();
            b.arrive_and_wait();
            return 0;  // views: their destructors leave the objects alone
        });
        s.acquire();
        {
            std::scoped_lock g(m, r);
            CHECK(blk->value == 42);
        }
        e.set();
        b.arrive_and_wait();
        CHECK(cpt::wait_child(kid) == 0);
        (void)c;
    }  // the owners destroy every object
    CHECK(mp_lock_acquire(&blk->lock, false, 0) == MP_EBADOBJ);
    CHECK(mp_rlock_acquire(&blk->rlock, false, 0) == MP_EBADOBJ);
    CHECK(mp_sem_acquire(&blk->sem, false, 0) == MP_EBADOBJ);
    CHECK(mp_cond_notify_all(&blk->cond) == MP_EBADOBJ);
    CHECK(mp_event_set(&blk->event) == MP_EBADOBJ);
    CHECK(mp_barrier_abort(&blk->barrier) == MP_EBADOBJ);
}

// Anonymous: made by the parent, inherited by a fork()ed child, closed by each process.
TEST(anonymous_shared_with_fork) {
    auto m = mpsync::mutex::anonymous();
    auto r = mpsync::recursive_mutex::anonymous();
    auto s = mpsync::bounded_semaphore::anonymous(0, 1);
    auto c = mpsync::condition_variable::anonymous();
    auto e = mpsync::event::anonymous();
    auto b = mpsync::barrier::anonymous(2);
    auto a = mpsync::shared_array<double>::anonymous(4);
    m.lock();
    pid_t kid = cpt::fork_child([&] {
        if (m.try_lock()) return 1;  // the parent's lock, shared
        m.unlock();                  // a Lock has no owner: anyone may release it
        {
            std::lock_guard<mpsync::recursive_mutex> g(a.get_lock());
            a[3] = 2.5;
        }
        s.release();
        e.wait();
        {
            std::unique_lock<mpsync::recursive_mutex> l(r);
            c.notify_all();
        }
        b.arrive_and_wait();
        // Each process closes its own mappings: the parent's stay open.
        m.close();
        r.close();
        s.close();
        c.close();
        e.close();
        b.close();
        a.close();
        return 0;
    });
    s.acquire();
    CHECK(m.try_lock());
    m.unlock();
    CHECK(a.load(3) == 2.5);
    e.set();
    b.arrive_and_wait();
    CHECK(cpt::wait_child(kid) == 0);
    m.lock();  // still open in the parent
    m.unlock();
    CHECK(e.is_set() && b.parties() == 2 && a.load(3) == 2.5 && s.value() == 0);

    // Moves transfer ownership; a moved-from wrapper is empty and closes nothing.
    mpsync::mutex moved = std::move(m);
    CHECK(!m && moved);
    m = std::move(moved);
    CHECK(m && !moved);
    m.close();
    CHECK(!m);
}

// Named: created here, opened by name in an exec'ed process (no inherited memory).
constexpr int kNamedKinds = 7;
const char *const kTags[kNamedKinds] = {"lock", "rlock", "sem", "cond", "event", "barrier", "array"};

int named_child(const std::string &prefix) {
    auto n = [&](const char *tag) { return prefix + tag; };
    auto m = mpsync::mutex::open(n("lock").c_str(), mpsync::open_existing);
    auto r = mpsync::recursive_mutex::open(n("rlock").c_str(), mpsync::open_existing);
    auto s = mpsync::counting_semaphore::open(n("sem").c_str(), mpsync::open_existing, 0, 0);
    auto c = mpsync::condition_variable::open(n("cond").c_str(), mpsync::open_existing);
    auto e = mpsync::event::open(n("event").c_str(), mpsync::open_existing);
    auto b = mpsync::barrier::open(n("barrier").c_str(), mpsync::open_existing, 0, 2);
    auto a = mpsync::shared_array<long long>::open(n("array").c_str(), mpsync::open_existing, 0, 3);
    if (b.parties() != 2) return 10;
    if (!m.try_lock_for(10s)) return 11;  // the parent released it for us
    {
        std::lock_guard<mpsync::recursive_mutex> g(r);
        a.store(1, 77);
    }
    s.release();
    e.wait();
    {
        std::unique_lock<mpsync::recursive_mutex> l(r);
        c.notify_all();
    }
    m.unlock();
    return b.arrive_and_wait() <= 1 ? 0 : 12;
}

TEST(named_and_opened_by_an_exec_ed_process) {
    std::string prefix = cpt::name("");
    auto n = [&](const char *tag) { return prefix + tag; };
    auto m = mpsync::mutex::open(n("lock").c_str(), mpsync::create_only, 0600);
    auto r = mpsync::recursive_mutex::open(n("rlock").c_str(), mpsync::create_only);
    auto s = mpsync::counting_semaphore::open(n("sem").c_str(), mpsync::create_only, 0, 0);
    auto c = mpsync::condition_variable::open(n("cond").c_str(), mpsync::create_only);
    auto e = mpsync::event::open(n("event").c_str(), mpsync::create_only);
    auto b = mpsync::barrier::open(n("barrier").c_str(), mpsync::create_only, 0, 2);
    auto a = mpsync::shared_array<long long>::open(n("array").c_str(), mpsync::create_only, 0, 3);
    // Exclusive creation of an existing name fails; open_or_create gets the same object.
    CHECK_THROWS_STATUS(mpsync::mutex::open(n("lock").c_str(), mpsync::create_only), MP_EEXIST);
    auto m2 = mpsync::mutex::open(n("lock").c_str(), mpsync::open_or_create | mpsync::any_owner);
    m.lock();
    CHECK(m2.is_locked());
    pid_t kid = cpt::spawn_child({prefix});
    m.unlock();
    s.acquire();
    CHECK(a.load(1) == 77);
    e.set();
    CHECK(b.arrive_and_wait() <= 1);
    CHECK(cpt::wait_child(kid) == 0);
    for (const char *tag : kTags) mpsync::unlink(n(tag).c_str());
    CHECK_THROWS_STATUS(mpsync::mutex::open(n("lock").c_str(), mpsync::open_existing), MP_ENOENT);
    std::error_code ec;
    CHECK(!mpsync::unlink(n("lock").c_str(), ec));
    CHECK(ec == mpsync::errc::enoent);
}

// The error category: names, messages, portable conditions; mpsync::error is a
// std::system_error.
TEST(error_category_and_exceptions) {
    const std::error_category &cat = mpsync::category();
    CHECK(std::string(cat.name()) == "mpsync");
    CHECK(cat.message(MP_EBUSY).find("MP_EBUSY") != std::string::npos);
    std::error_code ec = mpsync::errc::enoent;
    CHECK(ec.category() == cat);
    CHECK(ec == std::errc::no_such_file_or_directory);
    CHECK(std::error_code(mpsync::errc::ebusy) == std::errc::device_or_resource_busy);
    CHECK(std::error_code(mpsync::errc::eexist) == std::errc::file_exists);
    CHECK(std::error_code(mpsync::errc::timeout) == std::errc::timed_out);
    CHECK(std::error_code(mpsync::errc::owner_dead) == std::errc::owner_dead);
    CHECK(std::error_code(mpsync::errc::ebroken) != std::errc::invalid_argument);

    bool caught = false;
    try {
        mpsync::event::open("/cpt-no-such-object-anywhere", mpsync::open_existing);
    } catch (const std::system_error &e) {  // catchable as the standard type
        caught = true;
        CHECK(e.code() == mpsync::errc::enoent);
        CHECK(e.code() == std::errc::no_such_file_or_directory);
        CHECK(std::string(e.what()).find("mp_event_open") != std::string::npos);
        CHECK(dynamic_cast<const mpsync::error *>(&e) != nullptr);
    }
    CHECK(caught);
    CHECK_THROWS_STATUS(mpsync::mutex::open("bad name!"), MP_EINVAL);
    CHECK_THROWS_STATUS(mpsync::barrier::anonymous(0), MP_EINVAL);
    mp_lock_t junk;
    std::memset(&junk, 0xab, sizeof junk);
    auto bad = mpsync::mutex::attach(junk);
    CHECK_THROWS_STATUS(bad.lock(), MP_EBADOBJ);
    CHECK_THROWS_STATUS(bad.try_lock_for(1ms), MP_EBADOBJ);
    CHECK_THROWS_STATUS(bad.is_locked(), MP_EBADOBJ);
    mp_rlock_t rjunk;
    std::memset(&rjunk, 0, sizeof rjunk);
    auto rbad = mpsync::recursive_mutex::attach(rjunk);
    CHECK_THROWS_STATUS(rbad.lock(), MP_EBADOBJ);
    CHECK_THROWS_STATUS(rbad.acquire(), MP_EBADOBJ);
    mpsync::mutex empty;  // default-constructed: no object
    CHECK_THROWS_STATUS(empty.lock(), MP_EINVAL);
}

TEST(shared_array_typed_access) {
    auto a = mpsync::shared_array<int>::anonymous(5);
    CHECK(a.size() == 5 && !a.empty() && a.has_lock());
    for (int &x : a) CHECK(x == 0);  // zeroed
    a[0] = 1;
    a.at(4) = 5;
    bool out_of_range = false;
    try {
        a.at(5) = 1;
    } catch (const std::out_of_range &) {
        out_of_range = true;
    }
    CHECK(out_of_range);
    out_of_range = false;
    try {
        a.store(5, 1);
    } catch (const std::out_of_range &) {
        out_of_range = true;
    }
    CHECK(out_of_range);
    CHECK(a.load(4) == 5);
#ifdef MPSYNC_HPP_HAS_SPAN
    std::span<int> sp = a;
    CHECK(sp.size() == 5 && sp[0] == 1);
#endif
    auto raw = mpsync::shared_array<unsigned char>::anonymous(0, false);
    CHECK(raw.size() == 0 && raw.begin() == raw.end() && !raw.has_lock());
    CHECK_THROWS_STATUS(raw.get_lock(), MP_EINVAL);

    // Owner death of the array's lock, seen by load()/store() as a result.
    pid_t kid = cpt::fork_child([&] {
        a.get_lock().lock();
        a[1] = 99;
        _exit(0);  // dies holding the array's lock
        return 0;
    });
    CHECK(cpt::wait_child(kid) == 0);
    // The elements may be torn: every locked access says so until someone repairs them.
    mpsync::acquire_status st = mpsync::acquire_status::acquired;
    CHECK(a.load(1, &st) == 99);
    CHECK(st == mpsync::acquire_status::owner_dead);
    a.store(1, 3, &st);
    CHECK(st == mpsync::acquire_status::owner_dead);
    CHECK_THROWS_STATUS(a.mark_consistent(), MP_ENOTOWNER);  // not without the lock
    {
        std::lock_guard<mpsync::recursive_mutex> g(a.get_lock());
        CHECK(a.get_lock().owner_died());
        a[1] = 4;  // repaired
        a.mark_consistent();
    }
    CHECK(a.load(1, &st) == 4);
    CHECK(st == mpsync::acquire_status::acquired);
    a.store(1, 3, &st);
    CHECK(st == mpsync::acquire_status::acquired);

    // A named array must match T, length and lock.
    std::string name = cpt::name("arr");
    auto n1 = mpsync::shared_array<short>::open(name.c_str(), mpsync::create_only, 0, 4);
    CHECK_THROWS_STATUS(mpsync::shared_array<int>::open(name.c_str(), mpsync::open_existing, 0, 4), MP_EBADOBJ);
    CHECK_THROWS_STATUS(mpsync::shared_array<short>::open(name.c_str(), mpsync::open_existing, 0, 5), MP_EBADOBJ);
    mpsync::shared_array<short>::unlink(name.c_str());
}

TEST(shared_memory_bytes) {
    auto shm = mpsync::shared_memory::create(10000);
    CHECK(shm.size() >= 10000);
    CHECK(shm.name().rfind("psm_", 0) == 0);
    pid_t kid = cpt::fork_child([&] {
        auto again = mpsync::shared_memory::open(shm.name().c_str());
        std::memcpy(again.data(), "hello", 5);
        again.at(9999) = std::byte{7};
        return 0;
    });
    CHECK(cpt::wait_child(kid) == 0);
    CHECK(std::memcmp(shm.data(), "hello", 5) == 0);
    CHECK(shm[9999] == std::byte{7});
#ifdef MPSYNC_HPP_HAS_SPAN
    std::span<std::byte> bytes = shm;
    CHECK(bytes.size() == shm.size());
#endif
    bool thrown = false;
    try {
        (void)shm.at(shm.size());
    } catch (const std::out_of_range &) {
        thrown = true;
    }
    CHECK(thrown);
    std::string name = shm.name();
    mpsync::shared_memory::unlink(name.c_str());
    shm.close();
    CHECK(!shm);
    CHECK_THROWS_STATUS(mpsync::shared_memory::open(name.c_str()), MP_ENOENT);
}

}  // namespace

static int cpt_child(int argc, char **argv) {
    if (argc != 1) return 99;
    return named_child(argv[0]);
}
