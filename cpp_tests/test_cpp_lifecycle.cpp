// Every lifecycle of every C++ type (in place in a shared mapping, anonymous shared
// with fork()ed children, named and opened by an exec'ed, unrelated process), moves,
// default construction (a real anonymous object, never an empty one), unlink on every
// named type, shared_array<T> and shared_memory, and the error category and exceptions
// (what() names the object, the operation, the C call and the reason).
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
static_assert(move_only_nothrow<mpsync::semaphore>(), "semaphore");
static_assert(move_only_nothrow<mpsync::counting_semaphore<4>>(), "counting_semaphore<4>");
static_assert(move_only_nothrow<mpsync::binary_semaphore>(), "binary_semaphore");
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
        auto s = mpsync::semaphore::init(blk->sem, 0);
        auto c = mpsync::condition_variable::init(blk->cond);
        auto e = mpsync::event::init(blk->event);
        auto b = mpsync::barrier::init(blk->barrier, 2);
        pid_t kid = cpt::fork_child([blk] {
            auto m = mpsync::mutex::attach(blk->lock);
            auto r = mpsync::recursive_mutex::attach(blk->rlock);
            auto s = mpsync::semaphore::attach(blk->sem);
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
    // The parent made a mpsync::semaphore; its bound, MP_SEM_VALUE_MAX, is counting_semaphore<>'s.
    auto s = mpsync::counting_semaphore<>::open(n("sem").c_str(), mpsync::open_existing, 0, 0);
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
    auto s = mpsync::semaphore::open(n("sem").c_str(), mpsync::create_only, 0, 0);
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
}

// No wrapper has an empty default state. As std::mutex is usable at once, a
// default-constructed mutex, recursive_mutex, condition_variable or event is a new
// anonymous object (shared with fork()ed children); the types whose std:: counterpart
// needs arguments take the same ones (explicitly), and so do the multiprocessing types.
static_assert(std::is_default_constructible<mpsync::mutex>::value, "mutex m; as std::mutex");
static_assert(std::is_default_constructible<mpsync::recursive_mutex>::value, "recursive_mutex");
static_assert(std::is_default_constructible<mpsync::condition_variable>::value, "condition_variable");
static_assert(std::is_default_constructible<mpsync::event>::value, "event");
static_assert(!std::is_default_constructible<mpsync::counting_semaphore<4>>::value, "needs desired, as std::");
static_assert(!std::is_default_constructible<mpsync::binary_semaphore>::value, "needs desired, as std::");
static_assert(!std::is_default_constructible<mpsync::semaphore>::value, "needs a value");
static_assert(!std::is_default_constructible<mpsync::bounded_semaphore>::value, "needs a value");
static_assert(!std::is_default_constructible<mpsync::barrier>::value, "needs expected, as std::");
static_assert(!std::is_default_constructible<mpsync::shared_array<int>>::value, "needs a length");
static_assert(!std::is_default_constructible<mpsync::shared_memory>::value, "made by open()/create()");
static_assert(std::is_constructible<mpsync::counting_semaphore<4>, std::ptrdiff_t>::value &&
                  !std::is_convertible<std::ptrdiff_t, mpsync::counting_semaphore<4>>::value,
              "explicit counting_semaphore(desired), as std::");
static_assert(std::is_constructible<mpsync::barrier, std::ptrdiff_t>::value &&
                  !std::is_convertible<std::ptrdiff_t, mpsync::barrier>::value,
              "explicit barrier(expected), as std::");
static_assert(!std::is_convertible<std::size_t, mpsync::shared_array<int>>::value, "explicit shared_array(n)");

TEST(default_constructed_objects_are_real_anonymous_objects) {
    mpsync::mutex m;
    mpsync::recursive_mutex r;
    mpsync::condition_variable cv;
    mpsync::event e;
    mpsync::counting_semaphore<1> s(0);
    mpsync::semaphore plain(0);
    mpsync::bounded_semaphore bounded(1);
    mpsync::barrier b(2);
    mpsync::shared_array<int> a(2);  // with a lock, as anonymous(2)
    CHECK(m && r && cv && e && s && plain && bounded && b && a && a.has_lock());
    CHECK(bounded.max_value() == 1 && plain.max_value() == MP_SEM_VALUE_MAX);

    // Shared with a fork()ed child, as anonymous() objects are.
    m.lock();
    pid_t kid = cpt::fork_child([&] {
        if (m.try_lock()) return 1;  // the parent holds it
        {
            std::lock_guard<mpsync::recursive_mutex> g(r);
            a[0] = 7;
            cv.notify_all();
        }
        s.release();
        plain.release();
        e.wait();
        b.arrive_and_wait();
        return 0;
    });
    {
        std::unique_lock<mpsync::recursive_mutex> l(r);
        cv.wait(l, [&] { return a[0] == 7; });
    }
    s.acquire();
    plain.acquire();
    e.set();
    b.arrive_and_wait();
    CHECK(cpt::wait_child(kid) == 0);
    m.unlock();

    // The one wrapper without an object is a moved-from (or closed) one, and a call
    // on it says so.
    mpsync::mutex moved = std::move(m);
    CHECK(!m && moved);
    std::string what = WHAT_OF(m.lock(), MP_EINVAL);
    CHECK_CONTAINS(what, "mpsync::mutex (no object): lock (mp_lock_acquire): this wrapper holds no object: "
                         "it was moved from or closed: MP_EINVAL");
    e.close();
    CHECK_CONTAINS(WHAT_OF(e.set(), MP_EINVAL), "mpsync::event (no object): set (mp_event_set): this wrapper");
    mpsync::shared_array<int> a2 = std::move(a);
    CHECK(!a && !a.has_lock() && a2.has_lock());
    CHECK_CONTAINS(WHAT_OF(a.load(0), MP_EINVAL), "mpsync::shared_array<int> (no object): load (mp_array_get)");
}

// Every named type has static unlink(name) (throws, naming the type and the name) and
// unlink(name, ec) (noexcept, std::filesystem style).
template <class T, class Open>
void check_unlink(const std::string &name, Open open) {
    std::error_code ec = mpsync::errc::ebusy;
    static_assert(noexcept(T::unlink(name.c_str(), ec)), "unlink(name, ec) is noexcept");
    { auto obj = open(name.c_str()); }
    CHECK(T::unlink(name.c_str(), ec));
    CHECK(!ec);  // cleared on success
    CHECK(!T::unlink(name.c_str(), ec));
    CHECK(ec == mpsync::errc::enoent && ec == std::errc::no_such_file_or_directory);
    CHECK(!T::unlink("bad name", ec));
    CHECK(ec == mpsync::errc::einval);

    { auto obj = open(name.c_str()); }
    T::unlink(name.c_str());
    std::string what = WHAT_OF(T::unlink(name.c_str()), MP_ENOENT);
    CHECK_CONTAINS(what, T::type_name() + " \"" + name + "\": unlink (mp_unlink): MP_ENOENT");
    what = WHAT_OF(T::unlink("/a/b"), MP_EINVAL);
    CHECK_CONTAINS(what, T::type_name() + " \"/a/b\": unlink (mp_unlink): '/' at offset 2: a '/' is allowed "
                                          "only as the first character");
}

TEST(unlink_on_every_named_type_throws_or_sets_error_code) {
    std::string base = cpt::name("unl-");
    auto flags = mpsync::create_only;
    check_unlink<mpsync::mutex>(base + "lock", [&](const char *n) { return mpsync::mutex::open(n, flags); });
    check_unlink<mpsync::recursive_mutex>(base + "rlock",
                                          [&](const char *n) { return mpsync::recursive_mutex::open(n, flags); });
    check_unlink<mpsync::semaphore>(base + "sem", [&](const char *n) { return mpsync::semaphore::open(n, flags, 0, 1); });
    check_unlink<mpsync::bounded_semaphore>(
        base + "bsem", [&](const char *n) { return mpsync::bounded_semaphore::open(n, flags, 0, 1); });
    check_unlink<mpsync::counting_semaphore<3>>(
        base + "csem", [&](const char *n) { return mpsync::counting_semaphore<3>::open(n, flags, 0, 1); });
    check_unlink<mpsync::binary_semaphore>(
        base + "bin", [&](const char *n) { return mpsync::binary_semaphore::open(n, flags, 0, 1); });
    check_unlink<mpsync::condition_variable>(
        base + "cond", [&](const char *n) { return mpsync::condition_variable::open(n, flags); });
    check_unlink<mpsync::event>(base + "event", [&](const char *n) { return mpsync::event::open(n, flags); });
    check_unlink<mpsync::barrier>(base + "barrier", [&](const char *n) { return mpsync::barrier::open(n, flags, 0, 2); });
    check_unlink<mpsync::shared_array<int>>(
        base + "array", [&](const char *n) { return mpsync::shared_array<int>::open(n, flags, 0, 3); });
    check_unlink<mpsync::shared_memory>(
        base + "shm", [&](const char *n) { return mpsync::shared_memory::open(n, flags, 4096); });
    // The free function names the name only.
    CHECK_CONTAINS(WHAT_OF(mpsync::unlink((base + "none").c_str()), MP_ENOENT),
                   "name \"" + base + "none\": unlink (mp_unlink): MP_ENOENT");
}

// Every exception names the object (type; name, or how it was made), the operation,
// the C call, and the reason where the header can tell; for bad names, which rule
// the name breaks (1 to 200 of [A-Za-z0-9._-], optionally after one leading '/').
TEST(exceptions_name_the_object_and_the_reason) {
    const std::string rule = "(a name is 1 to 200 characters of A-Z a-z 0-9 . _ -, optionally after one leading '/')";
    CHECK_CONTAINS(WHAT_OF(mpsync::mutex::open("/a b"), MP_EINVAL),
                   "mpsync::mutex \"/a b\": open (mp_lock_open): character ' ' at offset 2 is not allowed " + rule +
                       ": MP_EINVAL: invalid argument");
    CHECK_CONTAINS(WHAT_OF(mpsync::event::open("a/b"), MP_EINVAL),
                   "mpsync::event \"a/b\": open (mp_event_open): '/' at offset 1: a '/' is allowed only as the "
                   "first character");
    CHECK_CONTAINS(WHAT_OF(mpsync::recursive_mutex::open(""), MP_EINVAL), "the name is empty " + rule);
    CHECK_CONTAINS(WHAT_OF(mpsync::condition_variable::open("/"), MP_EINVAL), "nothing follows the leading '/'");
    CHECK_CONTAINS(WHAT_OF(mpsync::mutex::open(".."), MP_EINVAL), "\".\" and \"..\" are not names");
    CHECK_CONTAINS(WHAT_OF(mpsync::mutex::open("/.."), MP_EINVAL), "\".\" and \"..\" are not names");
    CHECK_CONTAINS(WHAT_OF(mpsync::semaphore::open(nullptr, mpsync::open_or_create, 0, 1), MP_EINVAL),
                   "mpsync::semaphore (null name): open (mp_sem_open): the name is a null pointer");
    CHECK_CONTAINS(WHAT_OF(mpsync::mutex::open("x\xff"), MP_EINVAL),
                   "mpsync::mutex \"x\\xff\": open (mp_lock_open): byte 0xff at offset 1 is not allowed");
    std::string longest(200, 'n'), too_long(201, 'n');
    CHECK_CONTAINS(WHAT_OF(mpsync::mutex::open(("/" + too_long).c_str()), MP_EINVAL),
                   "201 characters after the '/', more than MP_NAME_MAX (200)");
    {
        // The rule's edge is the library's: 200 characters are a name.
        auto ok = mpsync::mutex::open(("/" + longest).c_str(), mpsync::create_only);
        mpsync::mutex::unlink(longest.c_str());
    }
    // Several problems at once are all told.
    CHECK_CONTAINS(WHAT_OF(mpsync::mutex::open(("a b" + too_long).c_str(), mpsync::open_flags{MP_EXCL}, 01000),
                           MP_EINVAL),
                   "character ' ' at offset 1 is not allowed; 204 characters, more than MP_NAME_MAX (200) " + rule +
                       "; MP_EXCL without MP_CREATE means nothing (create_only is MP_CREATE | MP_EXCL); mode 01000 "
                       "has bits outside 0777");

    std::string name = cpt::name("why");
    CHECK_CONTAINS(WHAT_OF(mpsync::mutex::open(name.c_str(), mpsync::open_flags{64}), MP_EINVAL),
                   "flags have unknown bits 0x40 (only MP_CREATE, MP_EXCL, MP_ANY_OWNER and MP_REPORT_CREATED "
                   "exist, and MP_RLOCK_STICKY for an RLock)");
    CHECK_CONTAINS(WHAT_OF(mpsync::event::open(name.c_str(), mpsync::open_existing), MP_ENOENT),
                   "mpsync::event \"" + name + "\": open (mp_event_open): open_existing does not create it "
                   "(open_or_create or create_only would): MP_ENOENT: no object of that name");
    auto lock = mpsync::mutex::open(name.c_str(), mpsync::create_only);
    CHECK_CONTAINS(WHAT_OF(mpsync::mutex::open(name.c_str(), mpsync::create_only), MP_EEXIST),
                   "create_only refuses a name that exists (open_or_create would open it): MP_EEXIST");
    CHECK_CONTAINS(WHAT_OF(mpsync::event::open(name.c_str(), mpsync::open_existing), MP_EBADOBJ),
                   "mpsync::event \"" + name + "\": open (mp_event_open): the name holds an object of another kind");
    CHECK_CONTAINS(WHAT_OF(mpsync::shared_array<int>::open(name.c_str(), mpsync::open_existing, 0, 1), MP_EBADOBJ),
                   "or an array of another element type, length or with_lock");
    mpsync::mutex::unlink(name.c_str());
    {
        auto plain = mpsync::semaphore::open(name.c_str(), mpsync::create_only, 0, 1);
        CHECK_CONTAINS(WHAT_OF(mpsync::undo_semaphore::open(name.c_str(), mpsync::open_existing, 0, 1), MP_EBADOBJ),
                       "mpsync::undo_semaphore \"" + name + "\": open (mp_sem_undo_open): the name holds an object "
                       "of another kind, or a plain (not undo) semaphore");
        mpsync::semaphore::unlink(name.c_str());
    }

    // Values, for anonymous objects too.
    CHECK_CONTAINS(WHAT_OF(mpsync::semaphore::anonymous(3, 2), MP_EINVAL),
                   "mpsync::semaphore (anonymous): create (mp_sem_new): the initial value 3 is above the bound 2");
    CHECK_CONTAINS(WHAT_OF(mpsync::undo_semaphore::anonymous(1, 9000000), MP_EINVAL),
                   "the bound 9000000 is above MP_SEM_UNDO_VALUE_MAX (8388607)");
    CHECK_CONTAINS(WHAT_OF(mpsync::barrier::anonymous(0), MP_EINVAL),
                   "mpsync::barrier (anonymous): create (mp_barrier_new): parties 0 is outside 1..65535");
    CHECK_CONTAINS(WHAT_OF(mpsync::barrier(-1), MP_EINVAL), "expected -1 is outside 1..max() = 65535");
    CHECK_CONTAINS(WHAT_OF(mpsync::counting_semaphore<4>(5), MP_EINVAL),
                   "mpsync::counting_semaphore<4> (anonymous): create (mp_sem_new): desired 5 is outside "
                   "0..max() = 4");

    // Operations on an object say which object and which call.
    mp_lock_t junk;
    std::memset(&junk, 0xab, sizeof junk);
    auto bad = mpsync::mutex::attach(junk);
    CHECK_CONTAINS(WHAT_OF(bad.lock(), MP_EBADOBJ), "mpsync::mutex (attached at 0x");
    CHECK_CONTAINS(WHAT_OF(bad.lock(), MP_EBADOBJ), "): lock (mp_lock_acquire): MP_EBADOBJ");
    std::string sem_name = cpt::name("full");
    auto full = mpsync::bounded_semaphore::open(sem_name.c_str(), mpsync::create_only, 0, 1);
    mpsync::bounded_semaphore::unlink(sem_name.c_str());
    CHECK_CONTAINS(WHAT_OF(full.release(), MP_EOVERFLOW),
                   "mpsync::bounded_semaphore \"" + sem_name + "\": release (mp_sem_release): the semaphore is at "
                   "its bound 1: MP_EOVERFLOW");
    full.acquire();
    CHECK_CONTAINS(WHAT_OF(full.release(3), MP_EOVERFLOW), "at its bound 1, after 1 of 3 units (those stay released)");
    auto cv = mpsync::condition_variable::anonymous();
    mpsync::mutex m;
    std::unique_lock<mpsync::mutex> unlocked(m, std::defer_lock);
    CHECK_CONTAINS(WHAT_OF(cv.wait(unlocked), MP_ENOTOWNER),
                   "mpsync::condition_variable (anonymous): wait (mp_cond_wait): the std::unique_lock passed to "
                   "wait does not hold its mutex");
    auto *storage = cpt::shared<mp_rlock_t>();
    auto r = mpsync::recursive_mutex::init(*storage);
    r.lock();
    CHECK_CONTAINS(WHAT_OF(r.close(), MP_EBUSY), "mpsync::recursive_mutex (in place at 0x");
    CHECK_CONTAINS(WHAT_OF(r.close(), MP_EBUSY), "): close (mp_rlock_destroy): MP_EBUSY");
    r.unlock();
    mpsync::barrier b(1);
    b.abort();
    try {
        b.arrive_and_wait();
        cpt::fail(__FILE__, __LINE__, "arrive_and_wait on an aborted barrier returned");
    } catch (const mpsync::broken_barrier &e) {
        CHECK_CONTAINS(e.what(), "mpsync::barrier (anonymous): arrive_and_wait (mp_barrier_wait): aborted, reset, "
                                 "timed out");
    }
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

// created(): whether the call that made the wrapper created the object (open() passes
// MP_REPORT_CREATED); of concurrent creators of one name exactly one is told so.
TEST(open_tells_whether_it_created) {
    std::string prefix = cpt::name("created-");
    auto n = [&](const char *tag) { return prefix + tag; };
    {
        auto m = mpsync::mutex::open(n("lock").c_str());
        auto m2 = mpsync::mutex::open(n("lock").c_str());
        CHECK(m.created() && !m2.created());
        auto moved = std::move(m);
        CHECK(moved.created());
        auto r = mpsync::recursive_mutex::open(n("rlock").c_str(), mpsync::create_only);
        CHECK(r.created() && !mpsync::recursive_mutex::open(n("rlock").c_str(), mpsync::open_existing).created());
        CHECK(mpsync::semaphore::open(n("sem").c_str(), mpsync::open_or_create, 0, 1).created());
        CHECK(!mpsync::semaphore::open(n("sem").c_str(), mpsync::open_or_create, 0, 1).created());
        CHECK(mpsync::counting_semaphore<4>::open(n("csem").c_str(), mpsync::open_or_create, 0, 2).created());
        CHECK(!mpsync::counting_semaphore<4>::open(n("csem").c_str(), mpsync::open_or_create, 0, 2).created());
        CHECK(mpsync::condition_variable::open(n("cond").c_str()).created());
        CHECK(!mpsync::condition_variable::open(n("cond").c_str()).created());
        CHECK(mpsync::event::open(n("event").c_str()).created());
        CHECK(!mpsync::event::open(n("event").c_str()).created());
        CHECK(mpsync::barrier::open(n("barrier").c_str(), mpsync::open_or_create, 0, 2).created());
        CHECK(!mpsync::barrier::open(n("barrier").c_str(), mpsync::open_or_create, 0, 2).created());
        auto a = mpsync::shared_array<int>::open(n("array").c_str(), mpsync::open_or_create, 0, 3);
        CHECK(a.created() && !mpsync::shared_array<int>::open(n("array").c_str(), mpsync::open_or_create, 0, 3).created());
        auto q = mpsync::queue::open(n("queue").c_str(), mpsync::open_or_create, 0, 4096);
        CHECK(q.created() && !mpsync::queue::open(n("queue").c_str(), mpsync::open_or_create, 0, 0).created());
        auto shm = mpsync::shared_memory::open(n("shm").c_str(), mpsync::open_or_create, 4096);
        CHECK(shm.created() && !mpsync::shared_memory::open(n("shm").c_str()).created());
        // Anonymous objects are made by their call; in-place ones and views are not.
        CHECK(mpsync::mutex().created() && mpsync::shared_array<int>(2).created());
        CHECK(mpsync::shared_memory::create(4096).created());
        mp_lock_t storage;
        auto in_place = mpsync::mutex::init(storage);
        CHECK(!in_place.created() && !mpsync::mutex::attach(storage).created());
    }
    for (const char *tag : {"lock", "rlock", "sem", "csem", "cond", "event", "barrier", "array", "shm", "queue"})
        mpsync::unlink(n(tag).c_str());

    // Concurrent creators: forked processes released together, one name per round.
    constexpr int kProcs = 6;
    for (int round = 0; round < 5; round++) {
        std::string name = n("race-") + std::to_string(round);
        int gate[2], report[2];
        CHECK(pipe(gate) == 0 && pipe(report) == 0);
        pid_t kids[kProcs];
        for (int i = 0; i < kProcs; i++) {
            kids[i] = fork();
            CHECK(kids[i] >= 0);
            if (kids[i] == 0) {
                close(gate[1]);
                char c;
                while (read(gate[0], &c, 1) < 0 && errno == EINTR) {}
                char created = mpsync::recursive_mutex::open(name.c_str()).created() ? 'c' : 'o';
                _exit(write(report[1], &created, 1) == 1 ? 0 : 1);
            }
        }
        close(gate[0]);
        close(gate[1]);  // everyone opens now
        close(report[1]);
        int created = 0;
        for (int i = 0; i < kProcs; i++) {
            char c = 0;
            CHECK(read(report[0], &c, 1) == 1);
            created += c == 'c';
        }
        close(report[0]);
        for (pid_t kid : kids) CHECK(cpt::wait_child(kid) == 0);
        CHECK(created == 1);
        mpsync::unlink(name.c_str());
    }
}

}  // namespace

static int cpt_child(int argc, char **argv) {
    if (argc != 1) return 99;
    return named_child(argv[0]);
}
