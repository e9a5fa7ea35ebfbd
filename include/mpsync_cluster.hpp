// mpsync_cluster.hpp: C++17 wrappers of libmpsync_cluster (include/mpsync_cluster.h),
// the primitives on an etcd cluster. Header-only; link with -lmpsync_cluster.
//
//   mpsync::cluster::connection c("http://127.0.0.1:2379", {std::chrono::seconds(10)});
//   mpsync::cluster::mutex m(c, "jobs");
//   {
//       std::lock_guard<mpsync::cluster::mutex> g(m);   // Lockable
//       if (m.owner_died()) { /* the previous holder's lease expired: repair */ }
//       m.fenced_put("/jobs/state", "done");             // only while still the holder
//   }
//
// Semantics (network time inside timeouts, lease expiry of a live but partitioned
// holder, fencing tokens) are in docs/cluster.md. Every failure throws mpsync::error
// (include/mpsync.hpp) whose code() is in mpsync::category(): errc::elease when the
// connection's lease expired (everything it held is lost), errc::esys when the cluster
// did not answer in time. what() names the object, the operation and the C call.
// Handles are move-only; a destructor closes the handle (releasing what it holds) and
// reports a failure to mpsync::set_error_handler's handler instead of throwing.
#ifndef MPSYNC_CLUSTER_HPP
#define MPSYNC_CLUSTER_HPP

#include "mpsync.hpp"
#include "mpsync_cluster.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace mpsync {
namespace cluster {

/// Connection options (mp_cluster_options_t): the lease TTL, and how long connecting
/// and calls without a timeout of their own (release, open, fenced put) may take.
struct options {
    std::chrono::seconds ttl{10};
    std::chrono::milliseconds request_timeout{5000};
};

namespace detail {

// Throws for `st` from `c_call` in `operation` on the object `who`.
[[noreturn]] [[gnu::cold]] inline void fail(mp_status st, const std::string &who, const char *operation,
                                            const char *c_call) {
    mpsync::detail::throw_failure(st, who + ": " + operation + " (" + c_call + ") failed: " +
                                          mp_status_name(st) + ", " + mp_strerror(st));
}

inline void check(mp_status st, const std::string &who, const char *operation, const char *c_call) {
    if (st != MP_OK) fail(st, who, operation, c_call);
}

// Milliseconds for a C call: rounded up (never returns before the time asked), at
// least 0; at most INT64_MAX.
template <class Rep, class Period>
std::int64_t timeout_ms(const std::chrono::duration<Rep, Period> &d) {
    if (d <= d.zero()) return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(d);
    return static_cast<std::int64_t>(ms.count());
}

// A move-only owner of a C handle `T *` closed by `Close`.
template <class T, mp_status (*Close)(T *)>
class handle {
public:
    handle(const handle &) = delete;
    handle &operator=(const handle &) = delete;
    handle(handle &&o) noexcept : p_(std::exchange(o.p_, nullptr)), who_(std::move(o.who_)) {}
    handle &operator=(handle &&o) noexcept {
        if (this != &o) {
            end();
            p_ = std::exchange(o.p_, nullptr);
            who_ = std::move(o.who_);
        }
        return *this;
    }
    ~handle() { end(); }
    /// The C handle (for the mp_cluster_* functions).
    T *native_handle() const noexcept { return p_; }

protected:
    handle(T *p, std::string who) noexcept : p_(p), who_(std::move(who)) {}
    T *p_ = nullptr;
    std::string who_;  // "mpsync::cluster::mutex \"jobs\"": how messages name it

private:
    void end() noexcept {
        if (!p_) return;
        mp_status st = Close(p_);
        if (st != MP_OK) mpsync::detail::report("mp_cluster_*_close", st, p_);
        p_ = nullptr;
    }
};

// "mpsync::cluster::mutex \"jobs\"".
inline std::string identity(const char *type, const char *name) {
    return std::string("mpsync::cluster::") + type + " \"" + (name ? name : "") + "\"";
}

}  // namespace detail

/// A connection and its lease (mp_cluster_connect / mp_cluster_close). Objects opened
/// through it keep it alive until they are closed too.
class connection : public detail::handle<mp_cluster_t, &mp_cluster_close> {
public:
    explicit connection(const std::string &endpoints, options o = {})
        : handle(open(endpoints, o), "mpsync::cluster::connection " + endpoints) {}
    /// The lease TTL the cluster granted (etcd may raise the one asked for).
    std::chrono::seconds ttl() const {
        std::int64_t secs = 0;
        detail::check(mp_cluster_ttl(p_, &secs), who_, "ttl", "mp_cluster_ttl");
        return std::chrono::seconds(secs);
    }

private:
    static mp_cluster_t *open(const std::string &endpoints, const options &o) {
        mp_cluster_options_t c{static_cast<std::int64_t>(o.ttl.count()),
                               static_cast<std::int64_t>(o.request_timeout.count())};
        mp_cluster_t *p = nullptr;
        detail::check(mp_cluster_connect(endpoints.c_str(), &c, &p), "mpsync::cluster::connection " + endpoints,
                      "connect", "mp_cluster_connect");
        return p;
    }
};

namespace detail {

// The C calls of one owned lock type (Lock or RLock), for basic_mutex.
struct lock_calls {
    using type = mp_cluster_lock_t;
    static constexpr const char *name = "mutex";
    static mp_status open(const mp_cluster_t *c, const char *n, type **o) { return mp_cluster_lock_open(c, n, o); }
    static mp_status acquire(const type *l, bool b, std::int64_t t) { return mp_cluster_lock_acquire(l, b, t); }
    static mp_status release(const type *l) { return mp_cluster_lock_release(l); }
    static mp_status fence(const type *l, std::int64_t *t) { return mp_cluster_lock_fence(l, t); }
    static mp_status put(const type *l, const std::uint8_t *k, std::size_t kl, const std::uint8_t *v,
                         std::size_t vl, std::int64_t *r) {
        return mp_cluster_lock_fenced_put(l, k, kl, v, vl, r);
    }
    static mp_status close(type *l) { return mp_cluster_lock_close(l); }
};
struct rlock_calls {
    using type = mp_cluster_rlock_t;
    static constexpr const char *name = "recursive_mutex";
    static mp_status open(const mp_cluster_t *c, const char *n, type **o) { return mp_cluster_rlock_open(c, n, o); }
    static mp_status acquire(const type *l, bool b, std::int64_t t) { return mp_cluster_rlock_acquire(l, b, t); }
    static mp_status release(const type *l) { return mp_cluster_rlock_release(l); }
    static mp_status fence(const type *l, std::int64_t *t) { return mp_cluster_rlock_fence(l, t); }
    static mp_status put(const type *l, const std::uint8_t *k, std::size_t kl, const std::uint8_t *v,
                         std::size_t vl, std::int64_t *r) {
        return mp_cluster_rlock_fenced_put(l, k, kl, v, vl, r);
    }
    static mp_status close(type *l) { return mp_cluster_rlock_close(l); }
};

/// A cluster lock: Lockable and TimedLockable (std::lock_guard, std::unique_lock).
/// Fencing: fence() is the token of the current hold; fenced_put writes an etcd key
/// only while this handle still holds the lock.
template <class Calls>
class basic_mutex : public handle<typename Calls::type, &Calls::close> {
    using base = handle<typename Calls::type, &Calls::close>;

public:
    basic_mutex(const connection &c, const std::string &name)
        : base(open(c, name), identity(Calls::name, name.c_str())) {}

    /// Waits as long as it takes. Throws on a lost lease or an unreachable cluster.
    void lock() { take(true, -1, "lock"); }
    /// One round trip; false if another holder has it.
    bool try_lock() { return take(false, 0, "try_lock"); }
    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period> &d) {
        return take(true, timeout_ms(d), "try_lock_for");
    }
    template <class Clock, class Duration>
    bool try_lock_until(const std::chrono::time_point<Clock, Duration> &t) {
        return try_lock_for(t - Clock::now());
    }
    /// Releases; a failure (e.g. errc::elease: the lease expired while holding) goes to
    /// the error handler, as Lockable's unlock() cannot throw.
    void unlock() noexcept {
        mp_status st = Calls::release(this->p_);
        if (st != MP_OK) mpsync::detail::report("mp_cluster_*_release", st, this->p_);
    }
    /// Whether the last acquisition found that the previous holder's lease expired
    /// while it held the lock (its data may need repair).
    bool owner_died() const noexcept { return owner_died_; }
    /// The fencing token of the current hold, strictly greater than every earlier one.
    std::int64_t fence() const {
        std::int64_t token = 0;
        check(Calls::fence(this->p_, &token), this->who_, "fence", "mp_cluster_*_fence");
        return token;
    }
    /// Writes etcd key `key` = `value` only while this handle holds the lock (one
    /// transaction); the revision of the write. Throws errc::elease if no longer held.
    std::int64_t fenced_put(std::string_view key, std::string_view value) {
        std::int64_t rev = 0;
        check(Calls::put(this->p_, reinterpret_cast<const std::uint8_t *>(key.data()), key.size(),
                         reinterpret_cast<const std::uint8_t *>(value.data()), value.size(), &rev),
              this->who_, "fenced_put", "mp_cluster_*_fenced_put");
        return rev;
    }

private:
    static typename Calls::type *open(const connection &c, const std::string &name) {
        typename Calls::type *p = nullptr;
        check(Calls::open(c.native_handle(), name.c_str(), &p), identity(Calls::name, name.c_str()), "open",
              "mp_cluster_*_open");
        return p;
    }
    bool take(bool block, std::int64_t ms, const char *operation) {
        mp_status st = Calls::acquire(this->p_, block, ms);
        if (st == MP_TIMEOUT) return false;
        if (st != MP_OK && st != MP_OWNER_DEAD) fail(st, this->who_, operation, "mp_cluster_*_acquire");
        owner_died_ = st == MP_OWNER_DEAD;
        return true;
    }
    bool owner_died_ = false;
};

}  // namespace detail

/// multiprocessing.Lock on the cluster (mp_cluster_lock_*).
using mutex = detail::basic_mutex<detail::lock_calls>;
/// multiprocessing.RLock on the cluster (mp_cluster_rlock_*): recursive for its thread.
using recursive_mutex = detail::basic_mutex<detail::rlock_calls>;

/// A counting semaphore on the cluster (mp_cluster_sem_*): the first opener sets the
/// value; units belong to the handle that took them and come back when its lease ends.
class semaphore : public detail::handle<mp_cluster_sem_t, &mp_cluster_sem_close> {
public:
    semaphore(const connection &c, const std::string &name, std::uint32_t value)
        : handle(open(c, name, value), detail::identity("semaphore", name.c_str())) {}
    void acquire() { (void)take(true, -1, "acquire"); }
    bool try_acquire() { return take(false, 0, "try_acquire"); }
    template <class Rep, class Period>
    bool try_acquire_for(const std::chrono::duration<Rep, Period> &d) {
        return take(true, detail::timeout_ms(d), "try_acquire_for");
    }
    void release() { detail::check(mp_cluster_sem_release(p_), who_, "release", "mp_cluster_sem_release"); }

private:
    static mp_cluster_sem_t *open(const connection &c, const std::string &name, std::uint32_t value) {
        mp_cluster_sem_t *p = nullptr;
        detail::check(mp_cluster_sem_open(c.native_handle(), name.c_str(), value, &p),
                      detail::identity("semaphore", name.c_str()), "open", "mp_cluster_sem_open");
        return p;
    }
    bool take(bool block, std::int64_t ms, const char *operation) {
        mp_status st = mp_cluster_sem_acquire(p_, block, ms);
        if (st == MP_TIMEOUT) return false;
        detail::check(st, who_, operation, "mp_cluster_sem_acquire");
        return true;
    }
};

/// multiprocessing.Event on the cluster (mp_cluster_event_*).
class event : public detail::handle<mp_cluster_event_t, &mp_cluster_event_close> {
public:
    event(const connection &c, const std::string &name)
        : handle(open(c, name), detail::identity("event", name.c_str())) {}
    void set() { detail::check(mp_cluster_event_set(p_), who_, "set", "mp_cluster_event_set"); }
    void clear() { detail::check(mp_cluster_event_clear(p_), who_, "clear", "mp_cluster_event_clear"); }
    bool is_set() const {
        bool v = false;
        detail::check(mp_cluster_event_is_set(p_, &v), who_, "is_set", "mp_cluster_event_is_set");
        return v;
    }
    void wait() { (void)until(-1, "wait"); }
    template <class Rep, class Period>
    bool wait_for(const std::chrono::duration<Rep, Period> &d) {
        return until(detail::timeout_ms(d), "wait_for");
    }

private:
    static mp_cluster_event_t *open(const connection &c, const std::string &name) {
        mp_cluster_event_t *p = nullptr;
        detail::check(mp_cluster_event_open(c.native_handle(), name.c_str(), &p),
                      detail::identity("event", name.c_str()), "open", "mp_cluster_event_open");
        return p;
    }
    bool until(std::int64_t ms, const char *operation) {
        mp_status st = mp_cluster_event_wait(p_, ms);
        if (st == MP_TIMEOUT) return false;
        detail::check(st, who_, operation, "mp_cluster_event_wait");
        return true;
    }
};

/// multiprocessing.Barrier on the cluster (mp_cluster_barrier_*): the first opener sets
/// the number of parties. A broken barrier throws mpsync::broken_barrier.
class barrier : public detail::handle<mp_cluster_barrier_t, &mp_cluster_barrier_close> {
public:
    barrier(const connection &c, const std::string &name, std::uint32_t parties)
        : handle(open(c, name, parties), detail::identity("barrier", name.c_str())) {}
    /// Waits for the other parties; this arrival's index (0 .. parties-1).
    std::uint32_t wait() { return arrive(-1, "wait"); }
    /// As wait(); a timeout breaks the barrier for everyone (as in CPython) and throws.
    template <class Rep, class Period>
    std::uint32_t wait_for(const std::chrono::duration<Rep, Period> &d) {
        return arrive(detail::timeout_ms(d), "wait_for");
    }
    void abort() { detail::check(mp_cluster_barrier_abort(p_), who_, "abort", "mp_cluster_barrier_abort"); }
    void reset() { detail::check(mp_cluster_barrier_reset(p_), who_, "reset", "mp_cluster_barrier_reset"); }

private:
    static mp_cluster_barrier_t *open(const connection &c, const std::string &name, std::uint32_t parties) {
        mp_cluster_barrier_t *p = nullptr;
        detail::check(mp_cluster_barrier_open(c.native_handle(), name.c_str(), parties, &p),
                      detail::identity("barrier", name.c_str()), "open", "mp_cluster_barrier_open");
        return p;
    }
    std::uint32_t arrive(std::int64_t ms, const char *operation) {
        std::uint32_t index = 0;
        detail::check(mp_cluster_barrier_wait(p_, ms, &index), who_, operation, "mp_cluster_barrier_wait");
        return index;
    }
};

}  // namespace cluster
}  // namespace mpsync

#endif
