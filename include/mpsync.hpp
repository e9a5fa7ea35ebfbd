// libmpsync for C++17: header-only RAII wrappers over the C API of mpsync.h.
//
// Every type here is a thin, move-only owner of one C object (no allocation and no
// virtual call on any lock, unlock or wait path; an uncontended lock()/unlock() pair
// compiles to the two C calls and two tests of their results, plus, for
// recursive_mutex, the test of one process-wide flag).
// The C header's contracts apply unchanged; this file adds:
//
// Lifecycles. Each synchronization type T (mutex, recursive_mutex, counting_semaphore,
// bounded_semaphore, condition_variable, event, barrier) is made by one of
//   T::init(storage, ...)      in place: mp_T_init on caller memory (e.g. a member of a
//                              struct in a MAP_SHARED mapping); the destructor calls
//                              mp_T_destroy, but only in the process that called init
//                              (a fork()ed child that inherits the wrapper leaves the
//                              shared object alone);
//   T::attach(storage)         a non-owning view of an object that another wrapper or
//                              process initialised (e.g. in a child, or in a process
//                              that mapped the same memory); the destructor does nothing;
//   T::anonymous(...)          mp_T_new: a new anonymous shared mapping, inherited by
//                              fork(); the destructor calls mp_T_close in whichever
//                              process runs it (each process closes its own mapping);
//   T::open(name, flags, mode, ...)  mp_T_open: a named object; destructor: mp_T_close;
//   T::unlink(name)            static: removes the name (mp_unlink).
// shared_array<T> and shared_memory have no in-place form (the C API has none).
//
// Destructor policy. Destructors never throw and never call std::terminate. A destroy
// or close that fails (e.g. MP_EBUSY: the calling thread still holds the lock) leaves
// the C object as it is (leaked, still usable through other handles) and reports the
// failure to the process-wide error handler (set_error_handler); the default handler
// prints one line to stderr. To handle the failure yourself, call close() first: it
// throws mpsync::error and keeps the wrapper owning the object, so you can retry.
// unlock() (noexcept, as the Lockable requirements want) reports a failed release the
// same way.
//
// Errors. A call that fails throws mpsync::error (a std::system_error whose code is in
// mpsync::category(), the category of mp_status). Outcomes are not errors: try_lock
// returns false on MP_TIMEOUT, and explicit calls return an acquire_status.
// MP_EINTR (a signal handler ran) is retried by every Lockable/TimedLockable call and
// every std-like wait, with the time that remains; the explicit acquire*() calls take an
// on_signal argument: on_signal::retry (default) or on_signal::report (hand
// acquire_status::interrupted back).
//
// Deadlines. Durations are rounded up to whole milliseconds (a wait never ends early).
// A wait until a steady_clock time point keeps that deadline across MP_EINTR retries;
// a time point of any other clock (system_clock, ...) is converted to a timeout on each
// retry and re-checked against that clock when the timeout expires (a clock that was
// set back keeps the wait going, as the standard requires).
//
// Owner death. recursive_mutex::lock() cannot return MP_OWNER_DEAD, so it records it
// per thread: owner_died() is true in the thread that holds the lock after an
// acquisition that reported the death of the previous owner, until that thread
// releases its last level. Only the owning thread can hold an RLock, and the record is
// thread_local, so the query cannot race with other threads. acquire() returns
// acquire_status::owner_dead explicitly, and set_owner_death_handler() installs a
// callback that lock() runs, with the lock held, to repair the data.
#ifndef MPSYNC_HPP
#define MPSYNC_HPP

#include "mpsync.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include <unistd.h>

#if defined(__GNUC__)
#define MPSYNC_HPP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define MPSYNC_HPP_UNLIKELY(x) (x)
#endif

#if __cplusplus >= 202002L && __has_include(<span>)
#include <span>
#define MPSYNC_HPP_HAS_SPAN 1
#endif

namespace mpsync {

// ======================================================================================
// Errors
// ======================================================================================

/// The status codes of mpsync.h as a std::error_code enum (errc::ebusy == MP_EBUSY).
/// Each enumerator is its C name in lower case without MP_, in the order of the library's
/// status table (the test suite checks both); names and messages are not copied
/// here: category() asks mp_status_name and mp_strerror.
enum class errc : std::int32_t {
    ok = MP_OK,
    timeout = MP_TIMEOUT,
    owner_dead = MP_OWNER_DEAD,
    einval = MP_EINVAL,
    ebadobj = MP_EBADOBJ,
    enotowner = MP_ENOTOWNER,
    eoverflow = MP_EOVERFLOW,
    eintr = MP_EINTR,
    ebroken = MP_EBROKEN,
    eexist = MP_EEXIST,
    enoent = MP_ENOENT,
    eacces = MP_EACCES,
    enomem = MP_ENOMEM,
    ebusy = MP_EBUSY,
    erange = MP_ERANGE,
    esys = MP_ESYS,
};

}  // namespace mpsync

namespace std {
template <>
struct is_error_code_enum<mpsync::errc> : true_type {};
}  // namespace std

namespace mpsync {

namespace detail {
class category_impl final : public std::error_category {
public:
    const char *name() const noexcept override { return "mpsync"; }
    std::string message(int code) const override {
        return std::string(mp_status_name(code)) + ": " + mp_strerror(code);
    }
    // The portable condition of each code, so that e.g.
    // `e.code() == std::errc::no_such_file_or_directory` works.
    std::error_condition default_error_condition(int code) const noexcept override {
        switch (code) {
        case MP_TIMEOUT: return std::errc::timed_out;
        case MP_EINVAL: return std::errc::invalid_argument;
        case MP_ENOTOWNER: return std::errc::operation_not_permitted;
        case MP_EOVERFLOW: return std::errc::value_too_large;
        case MP_EINTR: return std::errc::interrupted;
        case MP_EEXIST: return std::errc::file_exists;
        case MP_ENOENT: return std::errc::no_such_file_or_directory;
        case MP_EACCES: return std::errc::permission_denied;
        case MP_ENOMEM: return std::errc::not_enough_memory;
        case MP_EBUSY: return std::errc::device_or_resource_busy;
        case MP_ERANGE: return std::errc::result_out_of_range;
        case MP_OWNER_DEAD: return std::errc::owner_dead;
        default: return std::error_condition(code, *this);
        }
    }
};
}  // namespace detail

/// The error category of mp_status values: name() is "mpsync", message() gives the
/// code's name and mp_strerror's text.
inline const std::error_category &category() noexcept {
    static const detail::category_impl instance;
    return instance;
}

inline std::error_code make_error_code(errc e) noexcept {
    return std::error_code(static_cast<int>(e), category());
}

/// What every failing call throws: a std::system_error in mpsync::category().
class error : public std::system_error {
public:
    error(mp_status status, const char *what)
        : std::system_error(status, category(), what) {}
    /// The mp_status the C call returned.
    mp_status status() const noexcept { return code().value(); }
};

/// Handler for failures that cannot be thrown: a destructor's destroy/close, unlock().
/// `operation` names the C call (e.g. "mp_lock_close"), `object` is the C object.
using error_handler = void (*)(const char *operation, mp_status status,
                               const void *object) noexcept;

namespace detail {
inline void default_error_handler(const char *operation, mp_status status,
                                  const void *object) noexcept {
    std::fprintf(stderr, "mpsync: %s(%p) failed in a destructor or unlock: %s (%s); object left as it is\n",
                 operation, object, mp_status_name(status), mp_strerror(status));
}
inline std::atomic<error_handler> &error_handler_slot() noexcept {
    static std::atomic<error_handler> slot{&default_error_handler};
    return slot;
}
inline void report(const char *operation, mp_status status, const void *object) noexcept {
    error_handler h = error_handler_slot().load(std::memory_order_acquire);
    if (h) h(operation, status, object);
}
[[noreturn]] inline void throw_status(mp_status status, const char *what) {
    throw error(status, what);
}
}  // namespace detail

/// Installs the process-wide handler for failures that cannot be thrown (see the top of
/// this file) and returns the previous one. nullptr silences them. Thread-safe.
inline error_handler set_error_handler(error_handler handler) noexcept {
    return detail::error_handler_slot().exchange(handler, std::memory_order_acq_rel);
}

/// The result of an explicit (non-Lockable) acquisition or wait.
enum class acquire_status : std::int32_t {
    acquired = MP_OK,           ///< done / acquired / notified / set
    timeout = MP_TIMEOUT,       ///< not before the deadline
    owner_dead = MP_OWNER_DEAD, ///< acquired, but the previous owner died holding it
    interrupted = MP_EINTR,     ///< a signal handler ran (only with on_signal::report)
};

/// What an explicit call does when a signal handler interrupts it (MP_EINTR).
enum class on_signal {
    retry,  ///< wait again for the time that remains
    report, ///< return acquire_status::interrupted
};

/// Flags for T::open (the MP_CREATE / MP_EXCL / MP_ANY_OWNER bits). Combine with |.
struct open_flags {
    std::uint32_t bits;
};
constexpr open_flags operator|(open_flags a, open_flags b) noexcept { return {a.bits | b.bits}; }
/// Open an existing object only (MP_ENOENT otherwise).
constexpr open_flags open_existing{0};
/// Open the object, creating it if the name does not exist (MP_CREATE).
constexpr open_flags open_or_create{MP_CREATE};
/// Create the object; MP_EEXIST if the name exists (MP_CREATE | MP_EXCL).
constexpr open_flags create_only{MP_CREATE | MP_EXCL};
/// Also accept an existing object owned by another user (MP_ANY_OWNER).
constexpr open_flags any_owner{MP_ANY_OWNER};

/// Removes a name (mp_unlink). Throws mpsync::error (e.g. errc::enoent).
inline void unlink(const char *name) {
    mp_status st = mp_unlink(name);
    if (st != MP_OK) detail::throw_status(st, "mp_unlink");
}
/// Removes a name; returns false and sets `ec` instead of throwing.
inline bool unlink(const char *name, std::error_code &ec) noexcept {
    mp_status st = mp_unlink(name);
    ec = st == MP_OK ? std::error_code() : std::error_code(st, category());
    return st == MP_OK;
}

// ======================================================================================
// Deadlines
// ======================================================================================

namespace detail {

// Longest timeout passed to one C call (about 35 years); longer waits loop.
constexpr std::int64_t max_call_ms = std::int64_t(1) << 40;

// `d` rounded up to whole milliseconds, clamped to [0, max_call_ms].
template <class Rep, class Period>
std::int64_t ceil_ms(std::chrono::duration<Rep, Period> d) noexcept {
    if (d <= d.zero()) return 0;
    if (std::chrono::duration<long double, std::milli>(d) >=
        std::chrono::duration<long double, std::milli>(max_call_ms))
        return max_call_ms;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d);
    if (ms < d) ++ms;  // round up: never time out early
    return static_cast<std::int64_t>(ms.count());
}

// now + d on steady_clock, saturating at time_point::max() instead of overflowing.
template <class Rep, class Period>
std::chrono::steady_clock::time_point steady_deadline(std::chrono::duration<Rep, Period> d) noexcept {
    using sc = std::chrono::steady_clock;
    auto now = sc::now();
    if (d <= d.zero()) return now;
    if (std::chrono::duration<long double>(d) >=
        std::chrono::duration<long double>(sc::time_point::max() - now))
        return sc::time_point::max();
    auto step = std::chrono::duration_cast<sc::duration>(d);
    if (step < d) ++step;
    return now + step;
}

// The time from `now` to `abs`, in whole milliseconds rounded up, clamped to
// [0, max_call_ms]. Compared in long double first, so that time points far out (e.g.
// time_point<system_clock, hours>::max()) cannot overflow the conversion to a common
// duration; the exact integer difference is taken only when it is small.
template <class Clock, class D1, class D2>
std::int64_t remaining_ms(const std::chrono::time_point<Clock, D1> &abs,
                          const std::chrono::time_point<Clock, D2> &now) noexcept {
    using ldms = std::chrono::duration<long double, std::milli>;
    ldms left = ldms(abs.time_since_epoch()) - ldms(now.time_since_epoch());
    if (left <= ldms::zero()) return abs > now ? 1 : 0;  // below long double's resolution
    if (left >= ldms(max_call_ms)) return max_call_ms;
    return ceil_ms(abs - now);
}

// Calls `call(timeout_ms)` until it returns something other than MP_EINTR (unless
// `report_eintr`) or an early MP_TIMEOUT, passing the time that remains until `abs`
// on `Clock`. MP_TIMEOUT is re-checked against `Clock`: a clock other than
// steady_clock may have been set back, and waits longer than max_call_ms loop.
template <class Clock, class Duration, class Call>
mp_status wait_until(const std::chrono::time_point<Clock, Duration> &abs, bool report_eintr,
                     Call &&call) {
    for (;;) {
        std::int64_t ms = remaining_ms(abs, Clock::now());
        mp_status st = call(ms);
        if (st == MP_EINTR && !report_eintr) continue;
        if (st == MP_TIMEOUT && ms != 0 && remaining_ms(abs, Clock::now()) != 0) continue;
        return st;
    }
}

// Calls `call(MP_FOREVER)` until it returns something other than MP_EINTR.
template <class Call>
mp_status wait_forever(bool report_eintr, Call &&call) {
    for (;;) {
        mp_status st = call(std::int64_t(MP_FOREVER));
        if (st == MP_EINTR && !report_eintr) continue;
        return st;
    }
}

inline acquire_status outcome(mp_status st, const char *what) {
    if (st == MP_OK || st == MP_TIMEOUT || st == MP_OWNER_DEAD || st == MP_EINTR)
        return static_cast<acquire_status>(st);
    throw_status(st, what);
}

// ======================================================================================
// The lifecycle shared by every synchronization type
// ======================================================================================

enum class ownership : unsigned char { none, view, in_place, handle };

// One blocking attempt of an acquire call with a timeout, for wait_until/wait_forever.
template <class C, mp_status (*Acquire)(C *, bool, std::int64_t)>
struct timed_call {
    C *p;
    mp_status operator()(std::int64_t ms) const noexcept { return Acquire(p, true, ms); }
};

// Owns one C object of type C; Ops supplies destroy/close and their names.
template <class C, class Ops>
class object {
public:
    object(const object &) = delete;
    object &operator=(const object &) = delete;
    object(object &&other) noexcept
        : p_(std::exchange(other.p_, nullptr)),
          own_(std::exchange(other.own_, ownership::none)),
          pid_(other.pid_) {}
    object &operator=(object &&other) noexcept {
        if (this != &other) {
            release_quietly();
            p_ = std::exchange(other.p_, nullptr);
            own_ = std::exchange(other.own_, ownership::none);
            pid_ = other.pid_;
        }
        return *this;
    }
    ~object() { release_quietly(); }

    /// The C object (for the mp_* functions); nullptr after a move or close().
    C *native_handle() const noexcept { return p_; }
    /// Whether this wrapper refers to an object.
    explicit operator bool() const noexcept { return p_ != nullptr; }

    /// Ends the object now: mp_T_destroy (in place, in the process that made it),
    /// mp_T_close (anonymous or named), or nothing (a view). Throws mpsync::error on
    /// failure (e.g. errc::ebusy) and then still owns the object, so it can be retried.
    void close() {
        mp_status st = end();
        if (st != MP_OK) throw_status(st, own_ == ownership::in_place ? Ops::destroy_name : Ops::close_name);
        p_ = nullptr;
        own_ = ownership::none;
    }

protected:
    object() noexcept = default;
    object(C *p, ownership own) noexcept
        : p_(p), own_(own), pid_(own == ownership::in_place ? ::getpid() : 0) {}

    C *p_ = nullptr;

private:
    mp_status end() noexcept {
        switch (own_) {
        case ownership::in_place:
            // A fork()ed child inherited the wrapper, not the object: only the process
            // that initialised it may end it for everyone.
            return ::getpid() == pid_ ? Ops::destroy(p_) : MP_OK;
        case ownership::handle: return Ops::close(p_);
        default: return MP_OK;
        }
    }
    void release_quietly() noexcept {
        if (!p_) return;
        mp_status st = end();
        if (st != MP_OK)
            report(own_ == ownership::in_place ? Ops::destroy_name : Ops::close_name, st, p_);
        p_ = nullptr;
        own_ = ownership::none;
    }

    ownership own_ = ownership::none;
    pid_t pid_ = 0;
};

inline void check(mp_status st, const char *what) {
    if (st != MP_OK) throw_status(st, what);
}

#define MPSYNC_HPP_OPS(T)                                                                    \
    struct T##_ops {                                                                         \
        static constexpr const char *destroy_name = "mp_" #T "_destroy";                     \
        static constexpr const char *close_name = "mp_" #T "_close";                         \
        static mp_status destroy(mp_##T##_t *p) noexcept { return mp_##T##_destroy(p); }     \
        static mp_status close(mp_##T##_t *p) noexcept { return mp_##T##_close(p); }         \
    };
MPSYNC_HPP_OPS(lock)
MPSYNC_HPP_OPS(rlock)
MPSYNC_HPP_OPS(sem)
MPSYNC_HPP_OPS(cond)
MPSYNC_HPP_OPS(event)
MPSYNC_HPP_OPS(barrier)
#undef MPSYNC_HPP_OPS

// Cold paths, kept out of line so that lock()/unlock() inline to one call and a test.
[[noreturn]] [[gnu::cold]] [[gnu::noinline]] inline void lock_failed(mp_status st, const char *what) {
    throw_status(st, what);
}
[[gnu::cold]] [[gnu::noinline]] inline void unlock_failed(mp_status st, const char *what,
                                                         const void *obj) noexcept {
    report(what, st, obj);
}

// ---- the per-thread owner-death record --------------------------------------------------
// The RLocks this thread holds because an acquisition reported MP_OWNER_DEAD, with the
// pid of the process that recorded them (a fork()ed child's copy of the table is
// stale: a child never owns its parent's lock). A fixed table (no allocation, so
// recording cannot fail after the lock was taken).
constexpr unsigned owner_death_slots = 32;
struct owner_death_table {
    const void *lock[owner_death_slots];
    pid_t pid[owner_death_slots];
    unsigned count;
};
inline thread_local owner_death_table owner_deaths{};
// Whether any thread of this process ever recorded an owner death. The unlock path
// tests this process-wide flag, not the thread_local table: in position-independent
// code (a shared library) every thread_local access is a call to __tls_get_addr,
// which would cost more than the rest of the wrapper. A thread sets it before it
// records, so its own later unlocks see it; other threads' tables are not affected.
inline std::atomic<bool> owner_deaths_seen{false};

// False if the table is full (more than owner_death_slots such locks held at once).
inline bool owner_death_record(const void *lock) noexcept {
    owner_deaths_seen.store(true, std::memory_order_relaxed);
    owner_death_table &t = owner_deaths;
    if (t.count == owner_death_slots) return false;
    t.lock[t.count] = lock;
    t.pid[t.count] = ::getpid();
    t.count++;
    return true;
}
inline bool owner_death_recorded(const void *lock) noexcept {
    const owner_death_table &t = owner_deaths;
    if (t.count == 0) return false;
    pid_t me = ::getpid();
    for (unsigned i = 0; i < t.count; i++)
        if (t.lock[i] == lock && t.pid[i] == me) return true;
    return false;
}
// Drops the record of `lock`, and every record inherited from a parent process.
inline void owner_death_forget(const void *lock) noexcept {
    owner_death_table &t = owner_deaths;
    pid_t me = ::getpid();
    unsigned kept = 0;
    for (unsigned i = 0; i < t.count; i++) {
        if (t.lock[i] == lock || t.pid[i] != me) continue;
        t.lock[kept] = t.lock[i];
        t.pid[kept] = t.pid[i];
        kept++;
    }
    t.count = kept;
}

}  // namespace detail

// ======================================================================================
// mutex: multiprocessing.Lock (mp_lock_t)
// ======================================================================================

/// A non-recursive process-shared lock without an owner (CPython's Lock: any thread of
/// any process may unlock it). Lockable and TimedLockable. A holder that dies is not
/// detected (use recursive_mutex for that).
class mutex : public detail::object<mp_lock_t, detail::lock_ops> {
public:
    mutex() noexcept = default;
    /// In place: mp_lock_init on `storage` (e.g. inside a MAP_SHARED mapping).
    static mutex init(mp_lock_t &storage) {
        detail::check(mp_lock_init(&storage), "mp_lock_init");
        return mutex(&storage, detail::ownership::in_place);
    }
    /// A non-owning view of a lock initialised elsewhere.
    static mutex attach(mp_lock_t &lock) noexcept { return mutex(&lock, detail::ownership::view); }
    /// A new anonymous lock, inherited by fork()ed children (mp_lock_new).
    static mutex anonymous() {
        mp_lock_t *p = nullptr;
        detail::check(mp_lock_new(&p), "mp_lock_new");
        return mutex(p, detail::ownership::handle);
    }
    /// The named lock `name` (mp_lock_open); `mode` 0 means 0600.
    static mutex open(const char *name, open_flags flags = open_or_create, std::uint32_t mode = 0) {
        mp_lock_t *p = nullptr;
        detail::check(mp_lock_open(name, flags.bits, mode, &p), "mp_lock_open");
        return mutex(p, detail::ownership::handle);
    }
    static void unlink(const char *name) { mpsync::unlink(name); }

    /// Blocks until acquired (MP_EINTR retried). Throws mpsync::error on a bad object.
    void lock() {
        mp_status st = mp_lock_acquire(p_, true, MP_FOREVER);
        if (MPSYNC_HPP_UNLIKELY(st != MP_OK)) lock_slow(st);
    }
    /// One attempt; false if the lock is taken.
    bool try_lock() {
        mp_status st = mp_lock_acquire(p_, false, 0);
        if (st == MP_OK) return true;
        if (st == MP_TIMEOUT) return false;
        detail::lock_failed(st, "mp_lock_acquire");
    }
    /// Releases; failures (not locked, bad object) go to the error handler.
    void unlock() noexcept {
        mp_status st = mp_lock_release(p_);
        if (MPSYNC_HPP_UNLIKELY(st != MP_OK)) detail::unlock_failed(st, "mp_lock_release", p_);
    }
    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period> &rel) {
        return try_lock_until(detail::steady_deadline(rel));
    }
    template <class Clock, class Duration>
    bool try_lock_until(const std::chrono::time_point<Clock, Duration> &abs) {
        return acquire_until(abs) == acquire_status::acquired;
    }

    /// Explicit acquisition: acquired, or interrupted with on_signal::report.
    acquire_status acquire(on_signal sig = on_signal::retry) {
        return detail::outcome(detail::wait_forever(sig == on_signal::report, call()), "mp_lock_acquire");
    }
    template <class Rep, class Period>
    acquire_status acquire_for(const std::chrono::duration<Rep, Period> &rel,
                               on_signal sig = on_signal::retry) {
        return acquire_until(detail::steady_deadline(rel), sig);
    }
    template <class Clock, class Duration>
    acquire_status acquire_until(const std::chrono::time_point<Clock, Duration> &abs,
                                 on_signal sig = on_signal::retry) {
        return detail::outcome(detail::wait_until(abs, sig == on_signal::report, call()),
                               "mp_lock_acquire");
    }
    /// Whether the lock is held by anyone (a snapshot).
    bool is_locked() const {
        bool v = false;
        detail::check(mp_lock_is_locked(p_, &v), "mp_lock_is_locked");
        return v;
    }

private:
    mutex(mp_lock_t *p, detail::ownership o) noexcept : object(p, o) {}
    detail::timed_call<mp_lock_t, &mp_lock_acquire> call() const noexcept { return {p_}; }
    [[gnu::cold]] [[gnu::noinline]] void lock_slow(mp_status st) {
        if (st == MP_EINTR) st = detail::wait_forever(false, call());
        if (st != MP_OK) detail::lock_failed(st, "mp_lock_acquire");
    }
};

// ======================================================================================
// recursive_mutex: multiprocessing.RLock (mp_rlock_t)
// ======================================================================================

/// A recursive lock owned by one thread of one process, which reports the death of its
/// owner (see "Owner death" at the top of this file). Lockable and TimedLockable.
class recursive_mutex : public detail::object<mp_rlock_t, detail::rlock_ops> {
public:
    recursive_mutex() noexcept = default;
    recursive_mutex(recursive_mutex &&) noexcept = default;
    recursive_mutex &operator=(recursive_mutex &&) noexcept = default;

    static recursive_mutex init(mp_rlock_t &storage) {
        detail::check(mp_rlock_init(&storage), "mp_rlock_init");
        return recursive_mutex(&storage, detail::ownership::in_place);
    }
    static recursive_mutex attach(mp_rlock_t &lock) noexcept {
        return recursive_mutex(&lock, detail::ownership::view);
    }
    static recursive_mutex anonymous() {
        mp_rlock_t *p = nullptr;
        detail::check(mp_rlock_new(&p), "mp_rlock_new");
        return recursive_mutex(p, detail::ownership::handle);
    }
    static recursive_mutex open(const char *name, open_flags flags = open_or_create,
                                std::uint32_t mode = 0) {
        mp_rlock_t *p = nullptr;
        detail::check(mp_rlock_open(name, flags.bits, mode, &p), "mp_rlock_open");
        return recursive_mutex(p, detail::ownership::handle);
    }
    static void unlink(const char *name) { mpsync::unlink(name); }

    /// Blocks until acquired or re-entered (MP_EINTR retried). Owner death: recorded
    /// for owner_died(), then the owner-death handler (if any) runs with the lock held.
    void lock() {
        mp_status st = mp_rlock_acquire(p_, true, MP_FOREVER);
        if (MPSYNC_HPP_UNLIKELY(st != MP_OK)) lock_slow(st);
    }
    bool try_lock() {
        mp_status st = mp_rlock_acquire(p_, false, 0);
        if (st == MP_OK) return true;
        if (st == MP_TIMEOUT) return false;
        if (st != MP_OWNER_DEAD) detail::lock_failed(st, "mp_rlock_acquire");
        on_owner_death(true);
        return true;
    }
    /// Releases one level; failures (e.g. MP_ENOTOWNER) go to the error handler.
    void unlock() noexcept {
        mp_status st = mp_rlock_release(p_);
        if (MPSYNC_HPP_UNLIKELY(st != MP_OK)) detail::unlock_failed(st, "mp_rlock_release", p_);
        if (MPSYNC_HPP_UNLIKELY(detail::owner_deaths_seen.load(std::memory_order_relaxed)))
            forget_if_released();
    }
    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period> &rel) {
        return try_lock_until(detail::steady_deadline(rel));
    }
    template <class Clock, class Duration>
    bool try_lock_until(const std::chrono::time_point<Clock, Duration> &abs) {
        mp_status st = detail::wait_until(abs, false, call());
        if (st == MP_TIMEOUT) return false;
        if (st != MP_OK) lock_slow(st);
        return true;
    }

    /// Explicit acquisition: acquired, owner_dead (held at level 1: repair the data),
    /// or interrupted with on_signal::report. Runs no handler; owner_died() is set.
    acquire_status acquire(on_signal sig = on_signal::retry) {
        return finish(detail::wait_forever(sig == on_signal::report, call()));
    }
    template <class Rep, class Period>
    acquire_status acquire_for(const std::chrono::duration<Rep, Period> &rel,
                               on_signal sig = on_signal::retry) {
        return acquire_until(detail::steady_deadline(rel), sig);
    }
    template <class Clock, class Duration>
    acquire_status acquire_until(const std::chrono::time_point<Clock, Duration> &abs,
                                 on_signal sig = on_signal::retry) {
        return finish(detail::wait_until(abs, sig == on_signal::report, call()));
    }

    /// True in the calling thread while it holds this lock through an acquisition that
    /// reported the death of the previous owner (lock(), try_lock*(), acquire*(), or a
    /// condition_variable wait), until it releases the last level. thread_local: other
    /// threads never see or change it.
    bool owner_died() const noexcept { return detail::owner_death_recorded(p_); }

    /// Declares the guarded data repaired (mp_rlock_mark_consistent). For the lock of a
    /// shared_array, owner death stays reported to every acquisition until an owner calls
    /// this; for any other RLock it only checks ownership. Throws mpsync::error
    /// (errc::enotowner) unless the calling thread holds the lock.
    void mark_consistent() { detail::check(mp_rlock_mark_consistent(p_), "mp_rlock_mark_consistent"); }

    /// Runs `handler(*this)` in lock()/try_lock*() (and condition_variable waits) after an
    /// acquisition that reported owner death, with the lock held. If it throws, the
    /// acquisition is undone (the level released) and the exception propagates. Per
    /// wrapper object (process-local); set it before other threads use the wrapper.
    void set_owner_death_handler(std::function<void(recursive_mutex &)> handler) {
        on_death_ = std::move(handler);
    }

    bool is_mine() const {
        bool v = false;
        detail::check(mp_rlock_is_mine(p_, &v), "mp_rlock_is_mine");
        return v;
    }
    /// The calling thread's recursion level (0 if it does not own the lock).
    std::uint32_t level() const {
        std::uint32_t v = 0;
        detail::check(mp_rlock_count(p_, &v), "mp_rlock_count");
        return v;
    }
    /// Whether any thread of any process holds it (a snapshot that only reads).
    bool is_locked() const {
        bool v = false;
        detail::check(mp_rlock_is_locked(p_, &v), "mp_rlock_is_locked");
        return v;
    }

private:
    friend class condition_variable;
    recursive_mutex(mp_rlock_t *p, detail::ownership o) noexcept : object(p, o) {}
    detail::timed_call<mp_rlock_t, &mp_rlock_acquire> call() const noexcept { return {p_}; }
    // MP_OK/MP_OWNER_DEAD: held. Everything else except MP_TIMEOUT throws.
    [[gnu::cold]] [[gnu::noinline]] void lock_slow(mp_status st) {
        if (st == MP_EINTR) st = detail::wait_forever(false, call());
        if (st == MP_OWNER_DEAD) {
            on_owner_death(true);
            return;
        }
        if (st != MP_OK) detail::lock_failed(st, "mp_rlock_acquire");
    }
    acquire_status finish(mp_status st) {
        acquire_status r = detail::outcome(st, "mp_rlock_acquire");
        if (r == acquire_status::owner_dead) record_owner_death();
        return r;
    }
    void record_owner_death() noexcept {
        // Not silent: a thread holding more than owner_death_slots such locks at once
        // is told through the error handler that owner_died() will miss this one.
        if (!detail::owner_death_record(p_)) detail::report("mpsync owner-death record (table full)", MP_ENOMEM, p_);
    }
    // Called with the lock just acquired after owner death. `undo_on_throw`: release the
    // level just taken if the handler throws (lock(): the caller never got the lock); a
    // condition_variable wait keeps the levels its caller's lock object still holds.
    void on_owner_death(bool undo_on_throw) {
        record_owner_death();
        if (!on_death_) return;
        try {
            on_death_(*this);
        } catch (...) {
            if (undo_on_throw) unlock();
            throw;
        }
    }
    [[gnu::cold]] [[gnu::noinline]] void forget_if_released() noexcept {
        if (detail::owner_deaths.count == 0) return;
        bool mine = false;
        if (mp_rlock_is_mine(p_, &mine) != MP_OK || !mine) detail::owner_death_forget(p_);
    }

    std::function<void(recursive_mutex &)> on_death_;
};

// ======================================================================================
// Semaphores: multiprocessing.Semaphore / BoundedSemaphore (mp_sem_t)
// ======================================================================================

/// Tag of the undo semaphore constructors (MP_SEM_UNDO): the units a thread acquired
/// come back when it dies holding them, and one acquirer is told
/// (acquire_status::owner_dead from the explicit acquire calls).
struct undo_t {
    explicit undo_t() = default;
};
/// The tag value: `mpsync::counting_semaphore::anonymous(mpsync::undo, 1)`.
inline constexpr undo_t undo{};

namespace detail {
template <bool Bounded>
class semaphore : public object<mp_sem_t, sem_ops> {
public:
    semaphore() noexcept = default;
    /// In place with `value` units; the bound is `value` for bounded_semaphore and
    /// MP_SEM_VALUE_MAX for counting_semaphore unless `max_value` is given.
    static semaphore init(mp_sem_t &storage, std::uint32_t value) {
        return init(storage, value, default_max(value));
    }
    static semaphore init(mp_sem_t &storage, std::uint32_t value, std::uint32_t max_value) {
        check(mp_sem_init(&storage, value, max_value), "mp_sem_init");
        return semaphore(&storage, ownership::in_place);
    }
    static semaphore attach(mp_sem_t &sem) noexcept { return semaphore(&sem, ownership::view); }
    static semaphore anonymous(std::uint32_t value) { return anonymous(value, default_max(value)); }
    static semaphore anonymous(std::uint32_t value, std::uint32_t max_value) {
        mp_sem_t *p = nullptr;
        check(mp_sem_new(value, max_value, &p), "mp_sem_new");
        return semaphore(p, ownership::handle);
    }
    /// `value`/`max_value` are used only if this call creates the semaphore.
    static semaphore open(const char *name, open_flags flags, std::uint32_t mode, std::uint32_t value) {
        return open(name, flags, mode, value, default_max(value));
    }
    static semaphore open(const char *name, open_flags flags, std::uint32_t mode,
                          std::uint32_t value, std::uint32_t max_value) {
        mp_sem_t *p = nullptr;
        check(mp_sem_open(name, flags.bits, mode, value, max_value, &p), "mp_sem_open");
        return semaphore(p, ownership::handle);
    }
    /// An undo semaphore (MP_SEM_UNDO) in a new anonymous mapping; the default bound is
    /// `value` for bounded_semaphore and MP_SEM_UNDO_VALUE_MAX for counting_semaphore.
    /// Releases are matched to holders (errc::enotowner for a thread holding no unit);
    /// the blocking acquire() and the try_ calls count a unit that came back from a dead
    /// holder as acquired (the report is then not seen): use acquire(on_signal) or
    /// acquire_for/acquire_until, which return acquire_status::owner_dead.
    static semaphore anonymous(undo_t, std::uint32_t value) {
        return anonymous(undo, value, default_undo_max(value));
    }
    static semaphore anonymous(undo_t, std::uint32_t value, std::uint32_t max_value) {
        mp_sem_t *p = nullptr;
        check(mp_sem_new_ex(value, max_value, MP_SEM_UNDO, &p), "mp_sem_new_ex");
        return semaphore(p, ownership::handle);
    }
    /// Opens or creates the undo semaphore `name`; opening one of the other flavour
    /// throws errc::ebadobj.
    static semaphore open(const char *name, open_flags flags, std::uint32_t mode, undo_t,
                          std::uint32_t value) {
        return open(name, flags, mode, undo, value, default_undo_max(value));
    }
    static semaphore open(const char *name, open_flags flags, std::uint32_t mode, undo_t,
                          std::uint32_t value, std::uint32_t max_value) {
        mp_sem_t *p = nullptr;
        check(mp_sem_open_ex(name, flags.bits, mode, value, max_value, MP_SEM_UNDO, &p),
              "mp_sem_open_ex");
        return semaphore(p, ownership::handle);
    }
    static void unlink(const char *name) { mpsync::unlink(name); }

    /// The largest value this implementation supports (std::counting_semaphore::max).
    static constexpr std::ptrdiff_t max() noexcept { return MP_SEM_VALUE_MAX; }

    /// Takes one unit, waiting for it (MP_EINTR retried).
    void acquire() {
        mp_status st = mp_sem_acquire(p_, true, MP_FOREVER);
        if (MPSYNC_HPP_UNLIKELY(st != MP_OK)) {
            if (st == MP_EINTR) st = wait_forever(false, call());
            // MP_OWNER_DEAD (undo semaphore): the unit is taken.
            if (st != MP_OK && st != MP_OWNER_DEAD) lock_failed(st, "mp_sem_acquire");
        }
    }
    bool try_acquire() {
        mp_status st = mp_sem_acquire(p_, false, 0);
        if (st == MP_OK || st == MP_TIMEOUT) return st == MP_OK;
        if (st == MP_OWNER_DEAD) return true;  // undo semaphore: the unit is taken
        lock_failed(st, "mp_sem_acquire");
    }
    template <class Rep, class Period>
    bool try_acquire_for(const std::chrono::duration<Rep, Period> &rel) {
        return try_acquire_until(steady_deadline(rel));
    }
    template <class Clock, class Duration>
    bool try_acquire_until(const std::chrono::time_point<Clock, Duration> &abs) {
        acquire_status r = acquire_until(abs);
        return r == acquire_status::acquired || r == acquire_status::owner_dead;
    }
    /// Explicit acquisition: acquired, timeout, or interrupted with on_signal::report;
    /// an undo semaphore also returns owner_dead (a unit taken; a holder died holding
    /// units, which came back, and this caller is the one told).
    acquire_status acquire(on_signal sig) {
        return outcome(wait_forever(sig == on_signal::report, call()), "mp_sem_acquire");
    }
    template <class Rep, class Period>
    acquire_status acquire_for(const std::chrono::duration<Rep, Period> &rel,
                               on_signal sig = on_signal::retry) {
        return acquire_until(steady_deadline(rel), sig);
    }
    template <class Clock, class Duration>
    acquire_status acquire_until(const std::chrono::time_point<Clock, Duration> &abs,
                                 on_signal sig = on_signal::retry) {
        return outcome(wait_until(abs, sig == on_signal::report, call()), "mp_sem_acquire");
    }
    /// Adds `update` units, one at a time (mp_sem_release). Throws errc::eoverflow if
    /// the bound is reached; the units released before that stay released.
    void release(std::ptrdiff_t update = 1) {
        if (update < 0) throw_status(MP_EINVAL, "mpsync semaphore release: negative update");
        for (std::ptrdiff_t i = 0; i < update; i++) check(mp_sem_release(p_), "mp_sem_release");
    }
    /// The current number of units (a snapshot).
    std::uint32_t value() const {
        std::uint32_t v = 0;
        check(mp_sem_get_value(p_, &v), "mp_sem_get_value");
        return v;
    }
    /// This semaphore's bound.
    std::uint32_t max_value() const {
        std::uint32_t v = 0;
        check(mp_sem_get_max_value(p_, &v), "mp_sem_get_max_value");
        return v;
    }
    /// True for an undo semaphore (MP_SEM_UNDO).
    bool is_undo() const {
        std::uint32_t f = 0;
        check(mp_sem_get_flags(p_, &f), "mp_sem_get_flags");
        return (f & MP_SEM_UNDO) != 0;
    }
    /// Units of an undo semaphore the calling thread holds (0 for a plain one).
    std::uint32_t held() const {
        std::uint32_t v = 0;
        check(mp_sem_held(p_, &v), "mp_sem_held");
        return v;
    }

private:
    semaphore(mp_sem_t *p, ownership o) noexcept : object(p, o) {}
    static std::uint32_t default_max(std::uint32_t value) noexcept {
        return Bounded ? value : std::uint32_t(MP_SEM_VALUE_MAX);
    }
    static std::uint32_t default_undo_max(std::uint32_t value) noexcept {
        return Bounded ? value : std::uint32_t(MP_SEM_UNDO_VALUE_MAX);
    }
    detail::timed_call<mp_sem_t, &mp_sem_acquire> call() const noexcept { return {p_}; }
};
}  // namespace detail

/// multiprocessing.Semaphore: std::counting_semaphore's interface, bound MP_SEM_VALUE_MAX.
using counting_semaphore = detail::semaphore<false>;
/// multiprocessing.BoundedSemaphore: the bound is the initial value by default; a
/// release beyond it throws errc::eoverflow.
using bounded_semaphore = detail::semaphore<true>;

// ======================================================================================
// condition_variable: multiprocessing.Condition (mp_cond_t)
// ======================================================================================

/// A process-shared condition variable over a mutex or a recursive_mutex (or a
/// std::unique_lock of either). With a recursive_mutex held at level N, a wait releases
/// all N levels and returns with the lock held at level N again. MP_EINTR is retried
/// with the remaining time. Wake-ups are never spurious (but re-check the predicate).
class condition_variable : public detail::object<mp_cond_t, detail::cond_ops> {
public:
    condition_variable() noexcept = default;
    static condition_variable init(mp_cond_t &storage) {
        detail::check(mp_cond_init(&storage), "mp_cond_init");
        return condition_variable(&storage, detail::ownership::in_place);
    }
    static condition_variable attach(mp_cond_t &cond) noexcept {
        return condition_variable(&cond, detail::ownership::view);
    }
    static condition_variable anonymous() {
        mp_cond_t *p = nullptr;
        detail::check(mp_cond_new(&p), "mp_cond_new");
        return condition_variable(p, detail::ownership::handle);
    }
    static condition_variable open(const char *name, open_flags flags = open_or_create,
                                   std::uint32_t mode = 0) {
        mp_cond_t *p = nullptr;
        detail::check(mp_cond_open(name, flags.bits, mode, &p), "mp_cond_open");
        return condition_variable(p, detail::ownership::handle);
    }
    static void unlink(const char *name) { mpsync::unlink(name); }

    void notify_one() { detail::check(mp_cond_notify(p_, 1), "mp_cond_notify"); }
    void notify_all() { detail::check(mp_cond_notify_all(p_), "mp_cond_notify_all"); }
    /// Wakes up to `n` waiters.
    void notify(std::uint32_t n) { detail::check(mp_cond_notify(p_, n), "mp_cond_notify"); }
    /// Threads waiting for a notification that no notify has picked yet (a snapshot).
    std::uint32_t n_waiting() const {
        std::uint32_t v = 0;
        detail::check(mp_cond_n_waiting(p_, &v), "mp_cond_n_waiting");
        return v;
    }

    /// `L`: mutex, recursive_mutex, or std::unique_lock of either (locked).
    template <class L>
    void wait(L &lock) {
        (void)wait_impl(lock, [](auto &&call) { return detail::wait_forever(false, call); });
    }
    template <class L, class Predicate>
    void wait(L &lock, Predicate pred) {
        while (!pred()) wait(lock);
    }
    template <class L, class Rep, class Period>
    std::cv_status wait_for(L &lock, const std::chrono::duration<Rep, Period> &rel) {
        return wait_until(lock, detail::steady_deadline(rel));
    }
    template <class L, class Rep, class Period, class Predicate>
    bool wait_for(L &lock, const std::chrono::duration<Rep, Period> &rel, Predicate pred) {
        return wait_until(lock, detail::steady_deadline(rel), std::move(pred));
    }
    template <class L, class Clock, class Duration>
    std::cv_status wait_until(L &lock, const std::chrono::time_point<Clock, Duration> &abs) {
        mp_status st = wait_impl(lock, [&](auto &&call) { return detail::wait_until(abs, false, call); });
        return st == MP_TIMEOUT ? std::cv_status::timeout : std::cv_status::no_timeout;
    }
    template <class L, class Clock, class Duration, class Predicate>
    bool wait_until(L &lock, const std::chrono::time_point<Clock, Duration> &abs, Predicate pred) {
        while (!pred())
            if (wait_until(lock, abs) == std::cv_status::timeout) return pred();
        return true;
    }

private:
    condition_variable(mp_cond_t *p, detail::ownership o) noexcept : object(p, o) {}

    static mutex &lockable(mutex &m) noexcept { return m; }
    static recursive_mutex &lockable(recursive_mutex &m) noexcept { return m; }
    template <class M>
    static M &lockable(std::unique_lock<M> &l) {
        if (!l.owns_lock())
            detail::throw_status(MP_ENOTOWNER, "mpsync::condition_variable wait: unique_lock not locked");
        return *l.mutex();
    }

    template <class L, class Loop>
    mp_status wait_impl(L &lock, Loop &&loop) {
        auto &m = lockable(lock);
        return wait_on(m, loop);
    }
    template <class Loop>
    mp_status wait_on(mutex &m, Loop &loop) {
        mp_cond_t *c = p_;
        mp_lock_t *l = m.native_handle();
        mp_status st = loop([c, l](std::int64_t ms) { return mp_cond_wait_lock(c, l, ms); });
        if (st != MP_OK && st != MP_TIMEOUT) detail::throw_status(st, "mp_cond_wait_lock");
        return st;
    }
    template <class Loop>
    mp_status wait_on(recursive_mutex &m, Loop &loop) {
        mp_cond_t *c = p_;
        mp_rlock_t *l = m.native_handle();
        // The lock is released during the wait: a record of owner death made by this
        // holding ends here; the re-acquisition may make a new one.
        if (detail::owner_deaths_seen.load(std::memory_order_relaxed)) detail::owner_death_forget(l);
        mp_status st = loop([c, l](std::int64_t ms) { return mp_cond_wait(c, l, ms); });
        if (st == MP_OWNER_DEAD) {
            m.on_owner_death(false);
            return MP_OK;
        }
        if (st != MP_OK && st != MP_TIMEOUT) detail::throw_status(st, "mp_cond_wait");
        return st;
    }
};

// ======================================================================================
// event: multiprocessing.Event (mp_event_t)
// ======================================================================================

class event : public detail::object<mp_event_t, detail::event_ops> {
public:
    event() noexcept = default;
    static event init(mp_event_t &storage) {
        detail::check(mp_event_init(&storage), "mp_event_init");
        return event(&storage, detail::ownership::in_place);
    }
    static event attach(mp_event_t &e) noexcept { return event(&e, detail::ownership::view); }
    static event anonymous() {
        mp_event_t *p = nullptr;
        detail::check(mp_event_new(&p), "mp_event_new");
        return event(p, detail::ownership::handle);
    }
    static event open(const char *name, open_flags flags = open_or_create, std::uint32_t mode = 0) {
        mp_event_t *p = nullptr;
        detail::check(mp_event_open(name, flags.bits, mode, &p), "mp_event_open");
        return event(p, detail::ownership::handle);
    }
    static void unlink(const char *name) { mpsync::unlink(name); }

    void set() { detail::check(mp_event_set(p_), "mp_event_set"); }
    void clear() { detail::check(mp_event_clear(p_), "mp_event_clear"); }
    bool is_set() const {
        bool v = false;
        detail::check(mp_event_is_set(p_, &v), "mp_event_is_set");
        return v;
    }
    /// Waits until set (MP_EINTR retried).
    void wait() {
        mp_event_t *p = p_;
        detail::check(detail::wait_forever(false, [p](std::int64_t ms) { return mp_event_wait(p, ms); }),
                      "mp_event_wait");
    }
    /// True if the flag was set before the deadline.
    template <class Rep, class Period>
    bool wait_for(const std::chrono::duration<Rep, Period> &rel) {
        return wait_until(detail::steady_deadline(rel));
    }
    template <class Clock, class Duration>
    bool wait_until(const std::chrono::time_point<Clock, Duration> &abs) {
        mp_event_t *p = p_;
        mp_status st = detail::wait_until(abs, false, [p](std::int64_t ms) { return mp_event_wait(p, ms); });
        if (st == MP_TIMEOUT) return false;
        detail::check(st, "mp_event_wait");
        return true;
    }

private:
    event(mp_event_t *p, detail::ownership o) noexcept : object(p, o) {}
};

// ======================================================================================
// barrier: multiprocessing.Barrier (mp_barrier_t)
// ======================================================================================

/// Thrown when a barrier is broken (MP_EBROKEN): aborted, reset, timed out, or its
/// completion function failed.
class broken_barrier : public error {
public:
    explicit broken_barrier(const char *what) : error(MP_EBROKEN, what) {}
};

}  // namespace mpsync

extern "C" {
// The C-callable completion trampoline of mpsync::barrier: runs the C++ completion
// function and turns an exception into "break the barrier" (non-zero), keeping it for
// the waiting caller. No exception ever crosses into the C library.
inline int mpsync_hpp_barrier_completion(void *ctx) noexcept;
}

namespace mpsync {

class barrier : public detail::object<mp_barrier_t, detail::barrier_ops> {
public:
    barrier() noexcept = default;
    barrier(barrier &&) noexcept = default;
    barrier &operator=(barrier &&) noexcept = default;

    static barrier init(mp_barrier_t &storage, std::uint32_t parties) {
        detail::check(mp_barrier_init(&storage, parties), "mp_barrier_init");
        return barrier(&storage, detail::ownership::in_place);
    }
    static barrier attach(mp_barrier_t &b) noexcept { return barrier(&b, detail::ownership::view); }
    static barrier anonymous(std::uint32_t parties) {
        mp_barrier_t *p = nullptr;
        detail::check(mp_barrier_new(parties, &p), "mp_barrier_new");
        return barrier(p, detail::ownership::handle);
    }
    /// `parties` is used only if this call creates the barrier.
    static barrier open(const char *name, open_flags flags, std::uint32_t mode, std::uint32_t parties) {
        mp_barrier_t *p = nullptr;
        detail::check(mp_barrier_open(name, flags.bits, mode, parties, &p), "mp_barrier_open");
        return barrier(p, detail::ownership::handle);
    }
    static void unlink(const char *name) { mpsync::unlink(name); }

    /// The function the last arriving thread runs before anyone is released, if that
    /// thread is in this process and waits through this wrapper (each process sets its
    /// own). An exception from it breaks the barrier (the others get broken_barrier)
    /// and is rethrown from that thread's arrive_and_wait.
    void set_completion(std::function<void()> completion) { completion_ = std::move(completion); }

    /// Waits for all parties; returns this thread's arrival index (0 .. parties-1).
    /// Throws broken_barrier if the barrier is or becomes broken; MP_EINTR is retried
    /// as a fresh arrival.
    std::uint32_t arrive_and_wait() {
        return wait([] { return std::int64_t(MP_FOREVER); });
    }
    /// As arrive_and_wait, waiting at most `rel` (rounded up to milliseconds); a timeout
    /// breaks the barrier for everyone (as in CPython) and throws broken_barrier.
    /// A signal handler's MP_EINTR is retried (as a fresh arrival) with the time that
    /// remains until the steady_clock deadline.
    template <class Rep, class Period>
    std::uint32_t arrive_and_wait_for(const std::chrono::duration<Rep, Period> &rel) {
        auto deadline = detail::steady_deadline(rel);
        return wait([deadline] {
            auto now = std::chrono::steady_clock::now();
            return deadline <= now ? std::int64_t(0) : detail::ceil_ms(deadline - now);
        });
    }
    /// Breaks the barrier: waiters and later arrivals get broken_barrier until reset().
    void abort() { detail::check(mp_barrier_abort(p_), "mp_barrier_abort"); }
    void reset() { detail::check(mp_barrier_reset(p_), "mp_barrier_reset"); }
    std::uint32_t parties() const {
        std::uint32_t v = 0;
        detail::check(mp_barrier_parties(p_, &v), "mp_barrier_parties");
        return v;
    }
    std::uint32_t n_waiting() const {
        std::uint32_t v = 0;
        detail::check(mp_barrier_n_waiting(p_, &v), "mp_barrier_n_waiting");
        return v;
    }
    bool is_broken() const {
        bool v = false;
        detail::check(mp_barrier_is_broken(p_, &v), "mp_barrier_is_broken");
        return v;
    }

    struct completion_context {
        std::function<void()> *fn;
        std::exception_ptr failure;
    };

private:
    barrier(mp_barrier_t *p, detail::ownership o) noexcept : object(p, o) {}
    // `timeout()` gives each attempt's timeout in milliseconds.
    template <class Timeout>
    std::uint32_t wait(Timeout timeout) {
        completion_context ctx{&completion_, nullptr};
        int (*action)(void *) = completion_ ? &mpsync_hpp_barrier_completion : nullptr;
        std::uint32_t index = 0;
        mp_status st;
        do st = mp_barrier_wait(p_, timeout(), action, &ctx, &index);
        while (st == MP_EINTR);
        if (ctx.failure) std::rethrow_exception(ctx.failure);
        if (st == MP_EBROKEN) throw broken_barrier("mp_barrier_wait");
        detail::check(st, "mp_barrier_wait");
        return index;
    }
    std::function<void()> completion_;
};

}  // namespace mpsync

inline int mpsync_hpp_barrier_completion(void *ctx) noexcept {
    auto *c = static_cast<mpsync::barrier::completion_context *>(ctx);
    try {
        (*c->fn)();
        return 0;
    } catch (...) {
        c->failure = std::current_exception();
        return 1;
    }
}

namespace mpsync {

// ======================================================================================
// shared_array<T>: multiprocessing.Value / Array / RawValue / RawArray (mp_array_t)
// ======================================================================================

namespace detail {
template <class T> struct type_code;
#define MPSYNC_HPP_TYPE(T, code) \
    template <> struct type_code<T> { static constexpr mp_type value = code; };
MPSYNC_HPP_TYPE(char, MP_TYPE_CHAR)
MPSYNC_HPP_TYPE(signed char, MP_TYPE_BYTE)
MPSYNC_HPP_TYPE(unsigned char, MP_TYPE_UBYTE)
MPSYNC_HPP_TYPE(short, MP_TYPE_SHORT)
MPSYNC_HPP_TYPE(unsigned short, MP_TYPE_USHORT)
MPSYNC_HPP_TYPE(int, MP_TYPE_INT)
MPSYNC_HPP_TYPE(unsigned int, MP_TYPE_UINT)
MPSYNC_HPP_TYPE(long, MP_TYPE_LONG)
MPSYNC_HPP_TYPE(unsigned long, MP_TYPE_ULONG)
MPSYNC_HPP_TYPE(long long, MP_TYPE_LONGLONG)
MPSYNC_HPP_TYPE(unsigned long long, MP_TYPE_ULONGLONG)
MPSYNC_HPP_TYPE(float, MP_TYPE_FLOAT)
MPSYNC_HPP_TYPE(double, MP_TYPE_DOUBLE)
MPSYNC_HPP_TYPE(bool, MP_TYPE_BOOL)
#undef MPSYNC_HPP_TYPE
}  // namespace detail

/// A typed, fixed-size shared array, std::span-like: data(), size(), operator[]
/// (unchecked), at() (throws std::out_of_range), begin()/end(). `T` is one of the C
/// types of mp_type (char, signed/unsigned char, short, int, long, long long and their
/// unsigned forms, float, double, bool). With a lock (the default), get_lock() is its
/// recursive_mutex: hold it while touching elements directly; load()/store() copy one
/// element under it. Move-only; the destructor closes the array (mp_array_close).
template <class T>
class shared_array {
    static_assert(std::is_arithmetic<T>::value, "shared_array<T>: T must be an mp_type C type");

public:
    using element_type = T;
    using value_type = std::remove_cv_t<T>;
    using size_type = std::size_t;
    using iterator = T *;

    shared_array() noexcept = default;
    shared_array(const shared_array &) = delete;
    shared_array &operator=(const shared_array &) = delete;
    shared_array(shared_array &&o) noexcept
        : p_(std::exchange(o.p_, nullptr)), data_(std::exchange(o.data_, nullptr)),
          size_(std::exchange(o.size_, 0)), lock_(std::move(o.lock_)) {}
    shared_array &operator=(shared_array &&o) noexcept {
        if (this != &o) {
            close_quietly();
            p_ = std::exchange(o.p_, nullptr);
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
            lock_ = std::move(o.lock_);
        }
        return *this;
    }
    ~shared_array() { close_quietly(); }

    /// A zeroed anonymous array of `n` elements, inherited by fork() (mp_array_new).
    static shared_array anonymous(std::size_t n, bool with_lock = true) {
        mp_array_t *p = nullptr;
        detail::check(mp_array_new(detail::type_code<value_type>::value, n, with_lock, &p), "mp_array_new");
        return shared_array(p);
    }
    /// The named array `name`; an existing one must match T, `n` and `with_lock`.
    static shared_array open(const char *name, open_flags flags, std::uint32_t mode, std::size_t n,
                             bool with_lock = true) {
        mp_array_t *p = nullptr;
        detail::check(mp_array_open(name, flags.bits, mode, detail::type_code<value_type>::value, n,
                                    with_lock, &p),
                      "mp_array_open");
        return shared_array(p);
    }
    static void unlink(const char *name) { mpsync::unlink(name); }

    T *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    T *begin() const noexcept { return data_; }
    T *end() const noexcept { return data_ + size_; }
    T &operator[](std::size_t i) const noexcept { return data_[i]; }
    T &at(std::size_t i) const {
        if (i >= size_) throw std::out_of_range("mpsync::shared_array::at: index out of range");
        return data_[i];
    }
#ifdef MPSYNC_HPP_HAS_SPAN
    std::span<T> span() const noexcept { return {data_, size_}; }
    operator std::span<T>() const noexcept { return span(); }
#endif
    /// The array's lock; throws errc::einval for an array made without one.
    recursive_mutex &get_lock() {
        if (!lock_) detail::throw_status(MP_EINVAL, "mpsync::shared_array::get_lock: array has no lock");
        return lock_;
    }
    bool has_lock() const noexcept { return static_cast<bool>(lock_); }

    /// Element `i`, copied under the lock (mp_array_get). Owner death of the lock is
    /// reported as acquire_status::owner_dead in `*status` if given (else ignored).
    value_type load(std::size_t i, acquire_status *status = nullptr) const {
        value_type v{};
        mp_status st = mp_array_get(p_, i, &v);
        if (st == MP_ERANGE) throw std::out_of_range("mpsync::shared_array::load: index out of range");
        if (st != MP_OWNER_DEAD) detail::check(st, "mp_array_get");
        if (status) *status = st == MP_OWNER_DEAD ? acquire_status::owner_dead : acquire_status::acquired;
        return v;
    }
    /// Writes element `i` under the lock (mp_array_set); owner death as in load().
    void store(std::size_t i, value_type v, acquire_status *status = nullptr) {
        mp_status st = mp_array_set(p_, i, &v);
        if (st == MP_ERANGE) throw std::out_of_range("mpsync::shared_array::store: index out of range");
        if (st != MP_OWNER_DEAD) detail::check(st, "mp_array_set");
        if (status) *status = st == MP_OWNER_DEAD ? acquire_status::owner_dead : acquire_status::acquired;
    }

    /// Declares the elements repaired after an owner death (mp_array_mark_consistent):
    /// until then every locked access, and every acquisition of get_lock(), reports
    /// owner death. Hold get_lock() while calling it; throws mpsync::error
    /// (errc::enotowner) otherwise, and errc::einval for an array without a lock.
    void mark_consistent() { detail::check(mp_array_mark_consistent(p_), "mp_array_mark_consistent"); }

    mp_array_t *native_handle() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }

    /// Closes now; throws mpsync::error (e.g. errc::ebusy while this thread holds the
    /// lock) and then still owns the array.
    void close() {
        if (!p_) return;
        detail::check(mp_array_close(p_), "mp_array_close");
        forget();
    }

private:
    explicit shared_array(mp_array_t *p) : p_(p) {
        // The element size and count come from the library's private record, never
        // from the shared memory; check that they agree with T before handing out T*.
        if (mp_array_item_size(p) != sizeof(T)) {
            mp_array_close(p);
            detail::throw_status(MP_EBADOBJ, "mpsync::shared_array: element size differs from sizeof(T)");
        }
        data_ = static_cast<T *>(mp_array_data(p));
        size_ = mp_array_len(p);
        if (mp_rlock_t *l = mp_array_get_lock(p)) lock_ = recursive_mutex::attach(*l);
    }
    void forget() noexcept {
        lock_ = recursive_mutex();
        p_ = nullptr;
        data_ = nullptr;
        size_ = 0;
    }
    void close_quietly() noexcept {
        if (!p_) return;
        mp_status st = mp_array_close(p_);
        if (st != MP_OK) {
            detail::report("mp_array_close", st, p_);
            return;  // leaked: still mapped, as the policy says
        }
        forget();
    }

    mp_array_t *p_ = nullptr;
    T *data_ = nullptr;
    std::size_t size_ = 0;
    recursive_mutex lock_;
};

// ======================================================================================
// shared_memory: multiprocessing.shared_memory.SharedMemory (mp_shm_t)
// ======================================================================================

/// A mapped named shared-memory block: a span of bytes. Move-only; the destructor
/// unmaps it (mp_shm_close); the block lives until unlink() and the last close.
class shared_memory {
public:
    shared_memory() noexcept = default;
    shared_memory(const shared_memory &) = delete;
    shared_memory &operator=(const shared_memory &) = delete;
    shared_memory(shared_memory &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    shared_memory &operator=(shared_memory &&o) noexcept {
        if (this != &o) {
            close_quietly();
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    ~shared_memory() { close_quietly(); }

    /// mp_shm_open: `name` may be nullptr with MP_CREATE (a fresh psm_ name).
    static shared_memory open(const char *name, open_flags flags = open_existing, std::size_t size = 0,
                              std::uint32_t mode = 0) {
        mp_shm_t *p = nullptr;
        detail::check(mp_shm_open(name, flags.bits, size, mode, &p), "mp_shm_open");
        return shared_memory(p);
    }
    /// A new block of `size` bytes under a fresh name (see name()).
    static shared_memory create(std::size_t size, std::uint32_t mode = 0) {
        return open(nullptr, create_only, size, mode);
    }
    static void unlink(const char *name) { mpsync::unlink(name); }

    std::byte *data() const noexcept { return static_cast<std::byte *>(mp_shm_data(p_)); }
    std::size_t size() const noexcept { return mp_shm_size(p_); }
    std::byte *begin() const noexcept { return data(); }
    std::byte *end() const noexcept { return data() + size(); }
    std::byte &operator[](std::size_t i) const noexcept { return data()[i]; }
    std::byte &at(std::size_t i) const {
        if (i >= size()) throw std::out_of_range("mpsync::shared_memory::at: offset out of range");
        return data()[i];
    }
#ifdef MPSYNC_HPP_HAS_SPAN
    std::span<std::byte> span() const noexcept { return {data(), size()}; }
    operator std::span<std::byte>() const noexcept { return span(); }
#endif
    /// The block's name, without a leading '/', as Python shows it.
    std::string name() const {
        const char *n = mp_shm_name(p_);
        return n ? std::string(n) : std::string();
    }
    mp_shm_t *native_handle() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    void close() {
        if (!p_) return;
        detail::check(mp_shm_close(p_), "mp_shm_close");
        p_ = nullptr;
    }

private:
    explicit shared_memory(mp_shm_t *p) noexcept : p_(p) {}
    void close_quietly() noexcept {
        if (!p_) return;
        mp_status st = mp_shm_close(p_);
        if (st != MP_OK) detail::report("mp_shm_close", st, p_);
        p_ = nullptr;
    }
    mp_shm_t *p_ = nullptr;
};

}  // namespace mpsync

#endif  // MPSYNC_HPP
