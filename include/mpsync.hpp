// libmpsync for C++17: header-only RAII wrappers over the C API of mpsync.h.
//
// Every type here is a thin, move-only owner of one C object (no allocation and no
// virtual call on any lock, unlock or wait path; an uncontended lock()/unlock() pair
// compiles to the two C calls and two tests of their results, plus, for
// recursive_mutex, the test of one process-wide flag).
// The C header's contracts apply unchanged; this file adds:
//
// Construction. A wrapper holds an object from the moment it exists: there is no empty
// default state to misuse. As with std::mutex, a default-constructed mutex,
// recursive_mutex, condition_variable or event is a new anonymous object (mp_T_new),
// usable at once and shared with fork()ed children. The types whose std:: counterpart
// needs arguments take the same ones: counting_semaphore<N> s(desired), barrier
// b(expected[, completion]); so do the multiprocessing types: semaphore s(value),
// bounded_semaphore s(value), shared_array<T> a(n[, with_lock]). shared_memory is made
// by its factories only (a block always has a name, and a constructor that created
// names would leave them behind). Unlike std::mutex's, these constructors are not
// constexpr or noexcept: they map shared memory and throw mpsync::error
// (errc::enomem) when that fails. A wrapper that open() will fill is best initialised
// from open() directly (e.g. in a member initializer list): default-constructing it
// first makes an anonymous object only to close it again.
// The one wrapper without an object is one that was moved from or closed; any call on
// it throws mpsync::error (errc::einval) saying so.
//
// Lifecycles. Besides the constructors, each synchronization type T is made by one of
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
//   T::unlink(name)            static: removes the name (mp_unlink); throws mpsync::error.
//   T::unlink(name, ec)        static, noexcept: the same, reporting through `ec`.
// mp_unlink removes whatever object the name holds: T only names the type in messages.
// shared_array<T> and shared_memory have no in-place form (the C API has none).
//
// Semaphores. counting_semaphore<LeastMaxValue> (and binary_semaphore =
// counting_semaphore<1>) is std::counting_semaphore's interface; its bound is exactly
// max() == LeastMaxValue, enforced by the library (a release past it throws
// errc::eoverflow instead of being undefined behaviour), and opening or attaching a
// semaphore with another bound throws errc::ebadobj. semaphore and bounded_semaphore
// are multiprocessing.Semaphore and BoundedSemaphore, with the bound chosen at run time
// (semaphore is the type that this header called counting_semaphore before that name
// became the std:: template).
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
// mpsync::category(), the category of mp_status; broken_barrier for MP_EBROKEN). Its
// what() names the object (its C++ type, then its name if it was opened by name, else
// how it was made), the operation and the C call, then the reason where this header
// can tell it, then the status:
//   mpsync::mutex "/a b": open (mp_lock_open): character ' ' at offset 2 is not allowed
//   (a name is 1 to 200 characters of A-Z a-z 0-9 . _ -, optionally after one leading
//   '/'): MP_EINVAL: invalid argument
// The reasons follow the library's documented rules (names, flags, modes, values: see
// docs/api-conventions.md) but are looked up only after the library refused a call, so
// the library stays the only judge of what is valid.
// Outcomes are not errors: try_lock returns false on MP_TIMEOUT, and explicit calls
// return an acquire_status.
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
//
// Not provided: barrier::arrive() and barrier::arrive_and_drop() (declared deleted, see
// barrier): the C API arrives and waits in one call and has no way to drop a party.
#ifndef MPSYNC_HPP
#define MPSYNC_HPP

#include "mpsync.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

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
    created = MP_CREATED,
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
    edeadlk = MP_EDEADLK,
    emsgsize = MP_EMSGSIZE,
    ebufsize = MP_EBUFSIZE,
    eclosed = MP_ECLOSED,
    elease = MP_ELEASE,
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
        case MP_EDEADLK: return std::errc::resource_deadlock_would_occur;
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

/// What every failing call throws: a std::system_error in mpsync::category(). what()
/// names the object, the operation, the C call and the reason (see the top of this
/// file), then the status.
class error : public std::system_error {
public:
    error(mp_status status, const char *what)
        : std::system_error(status, category(), what) {}
    error(mp_status status, const std::string &what)
        : std::system_error(status, category(), what) {}
    /// The mp_status the C call returned.
    mp_status status() const noexcept { return code().value(); }
};

/// Thrown when a barrier is broken (MP_EBROKEN): aborted, reset, timed out, or its
/// completion function failed.
class broken_barrier : public error {
public:
    explicit broken_barrier(const char *what) : error(MP_EBROKEN, what) {}
    explicit broken_barrier(const std::string &what) : error(MP_EBROKEN, what) {}
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

// ======================================================================================
// Explaining failures
// ======================================================================================
//
// Every exception says which object failed (its C++ type, and its name or how it was
// made), in which operation and C call, and why, as far as this header can tell. The
// "why" for MP_EINVAL re-checks the arguments against the library's documented rules
// (docs/api-conventions.md: names, flags, modes; mpsync.h: each type's values). These
// checks run only after the library refused a call: the library stays the judge of
// what is valid, and a rule it relaxes one day can make a message vaguer, never make a
// valid call fail here.

namespace detail {

inline void append_problem(std::string &problems, const std::string &problem) {
    if (problem.empty()) return;
    if (!problems.empty()) problems += "; ";
    problems += problem;
}

// `s` in double quotes, with quotes, backslashes and unprintable bytes escaped; a
// very long string is cut (the length is said), so a message stays readable.
inline std::string quoted(const char *s) {
    if (!s) return "(null name)";
    constexpr std::size_t shown_max = 240;
    std::size_t len = std::strlen(s);
    std::string out = "\"";
    for (std::size_t i = 0; i < len && i < shown_max; i++) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
    if (len > shown_max) out += " (cut; " + std::to_string(len) + " bytes in all)";
    return out;
}

inline std::string address_text(const void *p) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%p", p);
    return buf;
}

inline std::string errno_text(int err) {
    return "errno " + std::to_string(err) + ": " + std::strerror(err);
}

// Why `name` breaks the library's name rules, or "" if it follows them: 1 to
// MP_NAME_MAX characters of [A-Za-z0-9._-], optionally after one leading '/', and
// neither "." nor "..".
inline std::string name_problem(const char *name) {
    const std::string rule = "a name is 1 to " + std::to_string(MP_NAME_MAX) +
                             " characters of A-Z a-z 0-9 . _ -, optionally after one leading '/'";
    if (!name) return "the name is a null pointer (" + rule + ")";
    const std::size_t skip = name[0] == '/' ? 1 : 0;
    const char *bare = name + skip;
    const std::size_t len = std::strlen(bare);
    std::string problems;
    if (len == 0) append_problem(problems, skip ? "nothing follows the leading '/'" : "the name is empty");
    for (std::size_t i = 0; i < len; i++) {
        unsigned char c = static_cast<unsigned char>(bare[i]);
        bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '_' || c == '-';
        if (allowed) continue;
        std::string where = " at offset " + std::to_string(i + skip);
        if (c == '/') {
            append_problem(problems, "'/'" + where + ": a '/' is allowed only as the first character");
        } else if (c >= 0x20 && c < 0x7f) {
            append_problem(problems, std::string("character '") + static_cast<char>(c) + "'" + where +
                                         " is not allowed");
        } else {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02x", c);
            append_problem(problems, std::string("byte ") + hex + where + " is not allowed");
        }
        break;  // the first offending character is enough to fix the name
    }
    if (len > MP_NAME_MAX)
        append_problem(problems, std::to_string(len) + " characters" + (skip ? " after the '/'" : "") +
                                     ", more than MP_NAME_MAX (" + std::to_string(MP_NAME_MAX) + ")");
    if (std::strcmp(bare, ".") == 0 || std::strcmp(bare, "..") == 0)
        append_problem(problems, "\".\" and \"..\" are not names");
    if (problems.empty()) return problems;
    return problems + " (" + rule + ")";
}

// Why `flags` are refused by *_open, or "".
inline std::string flags_problem(std::uint32_t flags) {
    const std::uint32_t known = std::uint32_t(MP_CREATE) | std::uint32_t(MP_EXCL) | std::uint32_t(MP_ANY_OWNER) |
                                std::uint32_t(MP_REPORT_CREATED);
    std::string problems;
    if (flags & ~known) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%x", static_cast<unsigned>(flags & ~known));
        append_problem(problems, std::string("flags have unknown bits ") + hex +
                                     " (only MP_CREATE, MP_EXCL, MP_ANY_OWNER and MP_REPORT_CREATED exist, and "
                                     "MP_RLOCK_STICKY for an RLock)");
    }
    if ((flags & (std::uint32_t(MP_CREATE) | std::uint32_t(MP_EXCL))) == std::uint32_t(MP_EXCL))
        append_problem(problems, "MP_EXCL without MP_CREATE means nothing (create_only is MP_CREATE | MP_EXCL)");
    return problems;
}

// Why `mode` is refused by *_open, or "".
inline std::string mode_problem(std::uint32_t mode) {
    if ((mode & ~std::uint32_t(0777)) == 0) return {};
    char oct[24];
    std::snprintf(oct, sizeof oct, "0%o", static_cast<unsigned>(mode));
    return std::string("mode ") + oct + " has bits outside 0777 (permission bits only; 0 means 0600)";
}

inline std::string alignment_problem(const void *storage, std::size_t align) {
    if (!storage) return "the storage is a null pointer";
    if (reinterpret_cast<std::uintptr_t>(storage) % align == 0) return {};
    return "the storage at " + address_text(storage) + " is not aligned to " + std::to_string(align) +
           " bytes (the type's MP_*_ALIGN)";
}

inline std::string sem_values_problem(std::uint32_t value, std::uint32_t max_value, bool undo) {
    const std::uint32_t limit = undo ? std::uint32_t(MP_SEM_UNDO_VALUE_MAX) : std::uint32_t(MP_SEM_VALUE_MAX);
    std::string problems;
    if (max_value > limit)
        append_problem(problems, "the bound " + std::to_string(max_value) + " is above " +
                                     (undo ? "MP_SEM_UNDO_VALUE_MAX (" : "MP_SEM_VALUE_MAX (") +
                                     std::to_string(limit) + ")");
    if (value > max_value)
        append_problem(problems, "the initial value " + std::to_string(value) + " is above the bound " +
                                     std::to_string(max_value));
    return problems;
}

inline std::string barrier_parties_problem(std::uint32_t parties) {
    if (parties >= 1 && parties <= MP_BARRIER_PARTIES_MAX) return {};
    return "parties " + std::to_string(parties) + " is outside 1.." + std::to_string(MP_BARRIER_PARTIES_MAX) +
           " (MP_BARRIER_PARTIES_MAX)";
}

// What a call that makes or opens an object was given, kept as plain values (no
// allocation) so that errno survives until the failure is explained.
struct call_args {
    enum class made { anonymous, in_place, named };
    enum class values { none, semaphore, barrier, block };
    made how = made::anonymous;
    const char *name = nullptr;
    std::uint32_t flags = 0;
    std::uint32_t mode = 0;
    const void *storage = nullptr;
    std::size_t align = 0;
    values checks = values::none;
    std::uint32_t value = 0, max_value = 0, parties = 0;
    bool undo = false;
    std::size_t size = 0;
    // For MP_EBADOBJ from an open: what else the name may hold that this type refuses.
    const char *mismatch = "an object of another kind";

    static call_args anonymous() noexcept { return call_args(); }
    static call_args in_place(const void *storage, std::size_t align) noexcept {
        call_args a;
        a.how = made::in_place;
        a.storage = storage;
        a.align = align;
        return a;
    }
    static call_args named(const char *name, open_flags flags, std::uint32_t mode) noexcept {
        call_args a;
        a.how = made::named;
        a.name = name;
        a.flags = flags.bits;
        a.mode = mode;
        return a;
    }
    call_args semaphore(std::uint32_t v, std::uint32_t max, bool undo_flavour) const noexcept {
        call_args a = *this;
        a.checks = values::semaphore;
        a.value = v;
        a.max_value = max;
        a.undo = undo_flavour;
        a.mismatch = undo_flavour ? "an object of another kind, or a plain (not undo) semaphore"
                                  : "an object of another kind, or an undo semaphore";
        return a;
    }
    call_args barrier(std::uint32_t n) const noexcept {
        call_args a = *this;
        a.checks = values::barrier;
        a.parties = n;
        return a;
    }
    call_args block(std::size_t bytes) const noexcept {
        call_args a = *this;
        a.checks = values::block;
        a.size = bytes;
        a.mismatch = "something that is not a shared-memory block (not a regular, non-empty file)";
        return a;
    }
    call_args array() const noexcept {
        call_args a = *this;
        a.mismatch = "an object of another kind, or an array of another element type, length or "
                     "with_lock";
        return a;
    }
};

// A block opened with a null name and MP_CREATE gets a fresh name from the library.
inline bool fresh_block_name(const call_args &a) noexcept {
    return a.checks == call_args::values::block && !a.name && (a.flags & std::uint32_t(MP_CREATE));
}

inline std::string identity_of(const std::string &type, const call_args &a) {
    switch (a.how) {
    case call_args::made::anonymous: return type + " (anonymous)";
    case call_args::made::in_place: return type + " (in place at " + address_text(a.storage) + ")";
    default: return type + " " + (fresh_block_name(a) ? std::string("(fresh name)") : quoted(a.name));
    }
}

inline std::string invalid_args_reason(const call_args &a) {
    std::string problems;
    if (a.how == call_args::made::named) {
        if (a.name || !fresh_block_name(a)) {
            if (!a.name && a.checks == call_args::values::block)
                append_problem(problems, "a null name is allowed only with MP_CREATE (the library then picks "
                                         "a fresh psm_ name)");
            else
                append_problem(problems, name_problem(a.name));
        }
        append_problem(problems, flags_problem(a.flags));
        append_problem(problems, mode_problem(a.mode));
    }
    if (a.how == call_args::made::in_place) append_problem(problems, alignment_problem(a.storage, a.align));
    switch (a.checks) {
    case call_args::values::semaphore:
        append_problem(problems, sem_values_problem(a.value, a.max_value, a.undo));
        break;
    case call_args::values::barrier: append_problem(problems, barrier_parties_problem(a.parties)); break;
    case call_args::values::block:
        if (a.size == 0 && (a.flags & std::uint32_t(MP_CREATE)))
            append_problem(problems, "size 0: a block that may be created needs a size above 0");
        break;
    default: break;
    }
    if (problems.empty())
        problems = "none of the rules this header knows (name, flags, mode, values) explains it; see the "
                   "C function's documentation in mpsync.h";
    return problems;
}

inline std::string open_reason(mp_status st, const call_args &a, int err) {
    const bool create = (a.flags & std::uint32_t(MP_CREATE)) != 0;
    switch (st) {
    case MP_EINVAL: return invalid_args_reason(a);
    case MP_ENOENT:
        return create ? std::string() : "open_existing does not create it (open_or_create or create_only would)";
    case MP_EEXIST: return "create_only refuses a name that exists (open_or_create would open it)";
    case MP_EACCES:
        return (a.flags & std::uint32_t(MP_ANY_OWNER))
                   ? "the file's permission bits refuse this user"
                   : "the file's permission bits refuse this user, or it belongs to another user (any_owner "
                     "accepts that; pass it only if that user is trusted)";
    case MP_EBADOBJ: return std::string("the name holds ") + a.mismatch;
    case MP_ESYS: return errno_text(err);
    default: return {};
    }
}

inline std::string what_text(const std::string &identity, const char *operation, const char *c_call,
                             const std::string &reason) {
    std::string w = identity + ": " + operation + " (" + c_call + ")";
    if (!reason.empty()) w += ": " + reason;
    return w;
}

[[noreturn]] inline void throw_failure(mp_status st, const std::string &what) {
    if (st == MP_EBROKEN) throw broken_barrier(what);
    throw error(st, what);
}

// A call that makes or opens an object of type `type_name()` failed with `st`.
[[noreturn]] [[gnu::cold]] [[gnu::noinline]] inline void creation_failed(mp_status st, std::string (*type_name)(),
                                                                         const char *operation, const char *c_call,
                                                                         const call_args &a) {
    const int err = errno;  // first: explaining allocates, which may change errno
    const std::string reason = a.how == call_args::made::named ? open_reason(st, a, err)
                               : st == MP_EINVAL               ? invalid_args_reason(a)
                               : st == MP_ESYS                 ? errno_text(err)
                                                               : std::string();
    throw_failure(st, what_text(identity_of(type_name(), a), operation, c_call, reason));
}

// A check that this header makes itself (an argument that the C call cannot take)
// failed before any C call.
[[noreturn]] [[gnu::cold]] [[gnu::noinline]] inline void refused(mp_status st, std::string (*type_name)(),
                                                                 const char *operation, const char *c_call,
                                                                 const call_args &a, const std::string &reason) {
    throw_failure(st, what_text(identity_of(type_name(), a), operation, c_call, reason));
}

inline std::string unlink_reason(mp_status st, const char *name, int err) {
    switch (st) {
    case MP_EINVAL: return name_problem(name);
    case MP_EACCES:
        return "no permission to remove it (in the sticky /dev/shm only the file's owner, or root, may)";
    case MP_ESYS: return errno_text(err);
    default: return {};
    }
}

// mp_unlink on behalf of `type` ("" for the free function mpsync::unlink).
inline void unlink_or_throw(const char *type, const char *name) {
    mp_status st = mp_unlink(name);
    if (st == MP_OK) return;
    const int err = errno;
    std::string identity = (*type ? std::string(type) + " " : std::string("name ")) + quoted(name);
    throw_failure(st, what_text(identity, "unlink", "mp_unlink", unlink_reason(st, name, err)));
}

}  // namespace detail

/// Removes a name (mp_unlink), whatever object it holds. Throws mpsync::error (e.g.
/// errc::enoent) naming the name and the reason.
inline void unlink(const char *name) { detail::unlink_or_throw("", name); }
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

// Owns one C object of type C for the wrapper type Derived, which provides
// `static std::string type_name()` (for messages); Ops supplies destroy/close and
// their names.
template <class Derived, class C, class Ops>
class object {
public:
    object(const object &) = delete;
    object &operator=(const object &) = delete;
    object(object &&other) noexcept
        : p_(std::exchange(other.p_, nullptr)),
          name_(std::move(other.name_)),
          created_(other.created_),
          own_(std::exchange(other.own_, ownership::none)),
          pid_(other.pid_) {}
    object &operator=(object &&other) noexcept {
        if (this != &other) {
            release_quietly();
            p_ = std::exchange(other.p_, nullptr);
            name_ = std::move(other.name_);
            own_ = std::exchange(other.own_, ownership::none);
            pid_ = other.pid_;
            created_ = other.created_;
        }
        return *this;
    }
    ~object() { release_quietly(); }

    /// The C object (for the mp_* functions); nullptr after a move or close().
    C *native_handle() const noexcept { return p_; }
    /// Whether this wrapper refers to an object (false only after a move or close()).
    explicit operator bool() const noexcept { return p_ != nullptr; }
    /// Whether the call that made this wrapper created the object: true for open()
    /// when the name held no object (of concurrent creators exactly one is told so:
    /// MP_REPORT_CREATED / MP_CREATED) and for a new anonymous object; false for open()
    /// of an existing object, init() and attach().
    bool created() const noexcept { return created_; }

    /// Ends the object now: mp_T_destroy (in place, in the process that made it),
    /// mp_T_close (anonymous or named), or nothing (a view). Throws mpsync::error on
    /// failure (e.g. errc::ebusy) and then still owns the object, so it can be retried.
    void close() {
        mp_status st = end();
        if (st != MP_OK) fail(st, "close", own_ == ownership::in_place ? Ops::destroy_name : Ops::close_name);
        p_ = nullptr;
        own_ = ownership::none;
        name_.clear();
    }

    // The constructors of the types made without arguments (mutex, recursive_mutex,
    // shared_mutex, condition_variable, event: their Ops come from MPSYNC_HPP_PLAIN_OPS;
    // they befriend this base). Each
    // throws mpsync::error naming the type, the call and the reason.

    /// In place: mp_T_init on `storage` (e.g. inside a MAP_SHARED mapping); the object
    /// ends (mp_T_destroy) with the wrapper, in the process that made it.
    static Derived init(C &storage) {
        mp_status st = Ops::init(&storage);
        if (st != MP_OK)
            creation_failed(st, &Derived::type_name, "init", Ops::init_name,
                            call_args::in_place(&storage, Ops::align));
        return Derived(&storage, ownership::in_place);
    }
    /// A non-owning view of an object initialised elsewhere.
    static Derived attach(C &existing) noexcept { return Derived(&existing, ownership::view); }
    /// A new anonymous object, inherited by fork()ed children (mp_T_new); the same as
    /// the default constructor.
    static Derived anonymous() { return Derived(); }
    /// The object called `name` (mp_T_open); `mode` 0 means 0600.
    static Derived open(const char *name, open_flags flags = open_or_create, std::uint32_t mode = 0) {
        std::string kept = name ? name : "";
        C *p = nullptr;
        mp_status st = Ops::open(name, flags.bits | MP_REPORT_CREATED, mode, &p);
        if (st != MP_OK && st != MP_CREATED)
            creation_failed(st, &Derived::type_name, "open", Ops::open_name, call_args::named(name, flags, mode));
        Derived made(p, ownership::handle, std::move(kept));
        made.created_ = st == MP_CREATED;
        return made;
    }

    /// Removes the name (mp_unlink); throws mpsync::error naming this type, the name
    /// and the reason. mp_unlink removes whatever object the name holds.
    static void unlink(const char *name) { unlink_or_throw(Derived::type_name().c_str(), name); }
    /// Removes the name; returns false and sets `ec` instead of throwing.
    static bool unlink(const char *name, std::error_code &ec) noexcept { return mpsync::unlink(name, ec); }

protected:
    // `name`: the name it was opened by (empty otherwise), for messages. Taken by
    // value from the caller, which builds it before the C call, so that nothing can
    // fail between making the C object and owning it.
    object(C *p, ownership own, std::string name = std::string()) noexcept
        : p_(p), name_(std::move(name)), created_(own == ownership::handle && name_.empty()), own_(own),
          pid_(own == ownership::in_place ? ::getpid() : 0) {}

    // "mpsync::mutex \"/jobs\"", "mpsync::event (anonymous)", ...: how messages name
    // this object.
    std::string identity() const {
        std::string type = Derived::type_name();
        if (!p_) return type + " (no object)";
        if (!name_.empty()) return type + " " + quoted(name_.c_str());
        switch (own_) {
        case ownership::in_place: return type + " (in place at " + address_text(p_) + ")";
        case ownership::view: return type + " (attached at " + address_text(p_) + ")";
        default: return type + " (anonymous)";
        }
    }

    // Throws for `st` from `c_call` in `operation`, naming this object. `reason`, if
    // given, is what the caller knows; otherwise the reason is found here.
    [[noreturn]] [[gnu::cold]] [[gnu::noinline]] void fail(mp_status st, const char *operation, const char *c_call,
                                                           const char *reason = nullptr) const {
        const int err = errno;  // first: explaining allocates, which may change errno
        std::string why = reason ? reason : "";
        if (!p_ && st == MP_EINVAL)
            why = "this wrapper holds no object: it was moved from or closed";
        else if (st == MP_ESYS && why.empty())
            why = errno_text(err);
        throw_failure(st, what_text(identity(), operation, c_call, why));
    }
    [[noreturn]] [[gnu::cold]] [[gnu::noinline]] void fail(mp_status st, const char *operation, const char *c_call,
                                                           const std::string &reason) const {
        fail(st, operation, c_call, reason.c_str());
    }
    void check(mp_status st, const char *operation, const char *c_call) const {
        if (MPSYNC_HPP_UNLIKELY(st != MP_OK)) fail(st, operation, c_call);
    }
    // A query's value: `fn` writes it through its out parameter; a failure throws.
    template <class V, class P>
    V query(mp_status (*fn)(P, V *), const char *operation, const char *c_call) const {
        V v{};
        check(fn(p_, &v), operation, c_call);
        return v;
    }
    // The acquire_status of an explicit call; anything else throws.
    acquire_status outcome(mp_status st, const char *operation, const char *c_call) const {
        if (st == MP_OK || st == MP_TIMEOUT || st == MP_OWNER_DEAD || st == MP_EINTR)
            return static_cast<acquire_status>(st);
        fail(st, operation, c_call);
    }

    // What the default constructor of a plain type maps: mp_T_new's object.
    static C *new_anonymous() {
        C *p = nullptr;
        mp_status st = Ops::create(&p);
        if (st != MP_OK) creation_failed(st, &Derived::type_name, "create", Ops::new_name, call_args::anonymous());
        return p;
    }

    C *p_ = nullptr;
    std::string name_;
    // Set by the factories that made the object (see created()).
    bool created_ = false;

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

#define MPSYNC_HPP_OPS(T)                                                                    \
    struct T##_ops {                                                                         \
        static constexpr const char *destroy_name = "mp_" #T "_destroy";                     \
        static constexpr const char *close_name = "mp_" #T "_close";                         \
        static mp_status destroy(mp_##T##_t *p) noexcept { return mp_##T##_destroy(p); }     \
        static mp_status close(mp_##T##_t *p) noexcept { return mp_##T##_close(p); }         \
    };
// The types made without arguments add what object's plain constructors call.
#define MPSYNC_HPP_PLAIN_OPS(T, ALIGN)                                                       \
    struct T##_ops {                                                                         \
        static constexpr const char *destroy_name = "mp_" #T "_destroy";                     \
        static constexpr const char *close_name = "mp_" #T "_close";                         \
        static constexpr const char *init_name = "mp_" #T "_init";                           \
        static constexpr const char *new_name = "mp_" #T "_new";                             \
        static constexpr const char *open_name = "mp_" #T "_open";                           \
        static constexpr std::size_t align = ALIGN;                                          \
        static mp_status destroy(mp_##T##_t *p) noexcept { return mp_##T##_destroy(p); }     \
        static mp_status close(mp_##T##_t *p) noexcept { return mp_##T##_close(p); }         \
        static mp_status init(mp_##T##_t *p) noexcept { return mp_##T##_init(p); }           \
        static mp_status create(mp_##T##_t **p) noexcept { return mp_##T##_new(p); }         \
        static mp_status open(const char *name, std::uint32_t flags, std::uint32_t mode,     \
                              mp_##T##_t **p) noexcept {                                     \
            return mp_##T##_open(name, flags, mode, p);                                      \
        }                                                                                    \
    };
MPSYNC_HPP_PLAIN_OPS(lock, MP_LOCK_ALIGN)
MPSYNC_HPP_PLAIN_OPS(rlock, MP_RLOCK_ALIGN)
MPSYNC_HPP_OPS(sem)
MPSYNC_HPP_OPS(sem_undo)
MPSYNC_HPP_PLAIN_OPS(cond, MP_COND_ALIGN)
MPSYNC_HPP_PLAIN_OPS(event, MP_EVENT_ALIGN)
MPSYNC_HPP_PLAIN_OPS(rwlock, MP_RWLOCK_ALIGN)
MPSYNC_HPP_OPS(barrier)
#undef MPSYNC_HPP_OPS
#undef MPSYNC_HPP_PLAIN_OPS
// A queue is never in place: only close ends it.
struct queue_ops {
    static constexpr const char *destroy_name = "mp_queue_close";
    static constexpr const char *close_name = "mp_queue_close";
    static mp_status destroy(mp_queue_t *p) noexcept { return mp_queue_close(p); }
    static mp_status close(mp_queue_t *p) noexcept { return mp_queue_close(p); }
};

// Cold path of unlock(), kept out of line so that unlock() inlines to one call and a test.
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
class mutex : public detail::object<mutex, mp_lock_t, detail::lock_ops> {
public:
    /// A new anonymous lock, usable at once like std::mutex and inherited by fork()ed
    /// children (mp_lock_new). Throws mpsync::error (errc::enomem).
    mutex() : object(new_anonymous(), detail::ownership::handle) {}
    /// How exception messages name this type.
    static std::string type_name() { return "mpsync::mutex"; }

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
        fail(st, "try_lock", "mp_lock_acquire");
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
        return outcome(detail::wait_forever(sig == on_signal::report, call()), "acquire", "mp_lock_acquire");
    }
    template <class Rep, class Period>
    acquire_status acquire_for(const std::chrono::duration<Rep, Period> &rel,
                               on_signal sig = on_signal::retry) {
        return acquire_until(detail::steady_deadline(rel), sig);
    }
    template <class Clock, class Duration>
    acquire_status acquire_until(const std::chrono::time_point<Clock, Duration> &abs,
                                 on_signal sig = on_signal::retry) {
        return outcome(detail::wait_until(abs, sig == on_signal::report, call()), "acquire_until",
                       "mp_lock_acquire");
    }
    /// Whether the lock is held by anyone (a snapshot).
    bool is_locked() const {
        return query<bool>(mp_lock_is_locked, "is_locked", "mp_lock_is_locked");
    }

private:
    friend object;  // its plain constructors make this type
    mutex(mp_lock_t *p, detail::ownership o, std::string name = std::string()) noexcept
        : object(p, o, std::move(name)) {}
    detail::timed_call<mp_lock_t, &mp_lock_acquire> call() const noexcept { return {p_}; }
    [[gnu::cold]] [[gnu::noinline]] void lock_slow(mp_status st) {
        if (st == MP_EINTR) st = detail::wait_forever(false, call());
        if (st != MP_OK) fail(st, "lock", "mp_lock_acquire");
    }
};

// ======================================================================================
// recursive_mutex: multiprocessing.RLock (mp_rlock_t)
// ======================================================================================

/// Tag of the sticky recursive_mutex factories (mp_rlock_init_sticky,
/// mp_rlock_new_sticky, MP_RLOCK_STICKY): after an owner died holding the lock, every
/// acquisition reports it (owner_died(), the owner-death handler, acquire_status::
/// owner_dead) until a holder calls mark_consistent().
struct sticky_t {
    explicit sticky_t() = default;
};
/// The tag value: `mpsync::recursive_mutex(mpsync::sticky)`.
inline constexpr sticky_t sticky{};

/// A recursive lock owned by one thread of one process, which reports the death of its
/// owner (see "Owner death" at the top of this file). Lockable and TimedLockable.
class recursive_mutex : public detail::object<recursive_mutex, mp_rlock_t, detail::rlock_ops> {
public:
    /// A new anonymous RLock, usable at once like std::recursive_mutex and inherited by
    /// fork()ed children (mp_rlock_new). Throws mpsync::error (errc::enomem).
    recursive_mutex() : object(new_anonymous(), detail::ownership::handle) {}
    /// A new anonymous sticky RLock (mp_rlock_new_sticky; see sticky_t).
    explicit recursive_mutex(sticky_t) : object(new_sticky(), detail::ownership::handle) {}
    recursive_mutex(recursive_mutex &&) noexcept = default;
    recursive_mutex &operator=(recursive_mutex &&) noexcept = default;

    // init(storage), attach(lock), anonymous(): the base's (mp_rlock_init, ...).
    using object::anonymous;
    using object::init;
    /// In place, sticky (mp_rlock_init_sticky; see sticky_t).
    static recursive_mutex init(mp_rlock_t &storage, sticky_t) {
        mp_status st = mp_rlock_init_sticky(&storage);
        if (st != MP_OK)
            detail::creation_failed(st, &type_name, "init", "mp_rlock_init_sticky",
                                    detail::call_args::in_place(&storage, MP_RLOCK_ALIGN));
        return recursive_mutex(&storage, detail::ownership::in_place);
    }
    static recursive_mutex anonymous(sticky_t) { return recursive_mutex(sticky); }
    /// The named sticky RLock `name` (mp_rlock_open with MP_RLOCK_STICKY): created
    /// sticky, and an existing RLock that is not sticky throws errc::ebadobj. The plain
    /// open() opens either mode.
    static recursive_mutex open(const char *name, open_flags flags, std::uint32_t mode, sticky_t) {
        return open(name, flags | open_flags{MP_RLOCK_STICKY}, mode);
    }
    static recursive_mutex open(const char *name, open_flags flags = open_or_create,
                                std::uint32_t mode = 0) {
        std::string kept = name ? name : "";
        mp_rlock_t *p = nullptr;
        mp_status st = mp_rlock_open(name, flags.bits | MP_REPORT_CREATED, mode, &p);
        if (st != MP_OK && st != MP_CREATED) {
            // The RLock's own bit is no problem of the flags (detail::flags_problem).
            const std::uint32_t sticky_bit = flags.bits & std::uint32_t(MP_RLOCK_STICKY);
            detail::call_args where = detail::call_args::named(name, open_flags{flags.bits & ~sticky_bit}, mode);
            if (sticky_bit) where.mismatch = "an object of another kind, or a plain (not sticky) RLock";
            detail::creation_failed(st, &type_name, "open", "mp_rlock_open", where);
        }
        recursive_mutex made(p, detail::ownership::handle, std::move(kept));
        made.created_ = st == MP_CREATED;
        return made;
    }
    /// How exception messages name this type.
    static std::string type_name() { return "mpsync::recursive_mutex"; }

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
        if (st != MP_OWNER_DEAD) fail(st, "try_lock", "mp_rlock_acquire");
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

    /// Declares the guarded data repaired (mp_rlock_mark_consistent). For a sticky lock
    /// (sticky_t) and the lock of a shared_array, owner death stays reported to every
    /// acquisition until an owner calls this; for any other RLock it only checks
    /// ownership. Throws mpsync::error
    /// (errc::enotowner) unless the calling thread holds the lock.
    void mark_consistent() { check(mp_rlock_mark_consistent(p_), "mark_consistent", "mp_rlock_mark_consistent"); }

    /// Runs `handler(*this)` in lock()/try_lock*() (and condition_variable waits) after an
    /// acquisition that reported owner death, with the lock held. If it throws, the
    /// acquisition is undone (the level released) and the exception propagates. Per
    /// wrapper object (process-local); set it before other threads use the wrapper.
    void set_owner_death_handler(std::function<void(recursive_mutex &)> handler) {
        on_death_ = std::move(handler);
    }

    bool is_mine() const {
        return query<bool>(mp_rlock_is_mine, "is_mine", "mp_rlock_is_mine");
    }
    /// The calling thread's recursion level (0 if it does not own the lock).
    std::uint32_t level() const {
        return query<std::uint32_t>(mp_rlock_count, "level", "mp_rlock_count");
    }
    /// Whether any thread of any process holds it (a snapshot that only reads).
    bool is_locked() const {
        return query<bool>(mp_rlock_is_locked, "is_locked", "mp_rlock_is_locked");
    }

private:
    friend object;  // its plain constructors make this type
    friend class condition_variable;
    recursive_mutex(mp_rlock_t *p, detail::ownership o, std::string name = std::string()) noexcept
        : object(p, o, std::move(name)) {}
    static mp_rlock_t *new_sticky() {
        mp_rlock_t *p = nullptr;
        mp_status st = mp_rlock_new_sticky(&p);
        if (st != MP_OK)
            detail::creation_failed(st, &type_name, "create", "mp_rlock_new_sticky", detail::call_args::anonymous());
        return p;
    }
    detail::timed_call<mp_rlock_t, &mp_rlock_acquire> call() const noexcept { return {p_}; }
    // MP_OK/MP_OWNER_DEAD: held. Everything else except MP_TIMEOUT throws.
    [[gnu::cold]] [[gnu::noinline]] void lock_slow(mp_status st) {
        if (st == MP_EINTR) st = detail::wait_forever(false, call());
        if (st == MP_OWNER_DEAD) {
            on_owner_death(true);
            return;
        }
        if (st != MP_OK) fail(st, "lock", "mp_rlock_acquire");
    }
    acquire_status finish(mp_status st) {
        acquire_status r = outcome(st, "acquire", "mp_rlock_acquire");
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
// shared_mutex: a reader-writer lock (mp_rwlock_t)
// ======================================================================================

/// A process-shared reader-writer lock that reports the death of a writer or a reader
/// holding it (docs/rwlock.md). Meets Lockable, TimedLockable, SharedLockable and
/// SharedTimedLockable, so std::unique_lock, std::shared_lock and std::lock_guard work.
/// Fair both ways; a thread may re-enter the shared side; lock() while holding either
/// side throws mpsync::error (errc::edeadlk) instead of deadlocking. Owner death: the
/// acquisition told still acquires, and owner_died() says so (the explicit acquire*()
/// calls return acquire_status::owner_dead).
class shared_mutex : public detail::object<shared_mutex, mp_rwlock_t, detail::rwlock_ops> {
public:
    /// A new anonymous lock, inherited by fork()ed children (mp_rwlock_new).
    shared_mutex() : object(new_anonymous(), detail::ownership::handle) {}
    shared_mutex(shared_mutex &&other) noexcept
        : object(std::move(other)), died_(other.died_.load(std::memory_order_relaxed)) {}

    /// How exception messages name this type.
    static std::string type_name() { return "mpsync::shared_mutex"; }

    // ---- exclusive (write) side ----
    void lock() { held(detail::wait_forever(false, write_call()), "lock", "mp_rwlock_acquire_write"); }
    bool try_lock() { return try_with(mp_rwlock_acquire_write(p_, false, 0), "try_lock", "mp_rwlock_acquire_write"); }
    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period> &rel) {
        return try_lock_until(detail::steady_deadline(rel));
    }
    template <class Clock, class Duration>
    bool try_lock_until(const std::chrono::time_point<Clock, Duration> &abs) {
        return try_with(detail::wait_until(abs, false, write_call()), "try_lock_until", "mp_rwlock_acquire_write");
    }
    void unlock() noexcept {
        mp_status st = mp_rwlock_release_write(p_);
        if (MPSYNC_HPP_UNLIKELY(st != MP_OK)) detail::unlock_failed(st, "mp_rwlock_release_write", p_);
    }

    // ---- shared (read) side ----
    void lock_shared() { held(detail::wait_forever(false, read_call()), "lock_shared", "mp_rwlock_acquire_read"); }
    bool try_lock_shared() {
        return try_with(mp_rwlock_acquire_read(p_, false, 0), "try_lock_shared", "mp_rwlock_acquire_read");
    }
    template <class Rep, class Period>
    bool try_lock_shared_for(const std::chrono::duration<Rep, Period> &rel) {
        return try_lock_shared_until(detail::steady_deadline(rel));
    }
    template <class Clock, class Duration>
    bool try_lock_shared_until(const std::chrono::time_point<Clock, Duration> &abs) {
        return try_with(detail::wait_until(abs, false, read_call()), "try_lock_shared_until", "mp_rwlock_acquire_read");
    }
    void unlock_shared() noexcept {
        mp_status st = mp_rwlock_release_read(p_);
        if (MPSYNC_HPP_UNLIKELY(st != MP_OK)) detail::unlock_failed(st, "mp_rwlock_release_read", p_);
    }

    // ---- explicit acquisitions (acquired, owner_dead, timeout, interrupted) ----
    template <class Rep, class Period>
    acquire_status acquire_for(const std::chrono::duration<Rep, Period> &rel, on_signal sig = on_signal::retry) {
        return note(outcome(detail::wait_until(detail::steady_deadline(rel), sig == on_signal::report, write_call()),
                            "acquire_for", "mp_rwlock_acquire_write"));
    }
    template <class Rep, class Period>
    acquire_status acquire_shared_for(const std::chrono::duration<Rep, Period> &rel, on_signal sig = on_signal::retry) {
        return note(outcome(detail::wait_until(detail::steady_deadline(rel), sig == on_signal::report, read_call()),
                            "acquire_shared_for", "mp_rwlock_acquire_read"));
    }

    /// True if the most recent acquisition through this wrapper was told that a writer
    /// or a reader died holding the lock.
    bool owner_died() const noexcept { return died_.load(std::memory_order_relaxed); }
    /// The calling thread's shared level (0 if it does not hold the shared side).
    std::uint32_t shared_level() const {
        return query<std::uint32_t>(mp_rwlock_read_level, "shared_level", "mp_rwlock_read_level");
    }
    /// Whether the calling thread holds the exclusive side.
    bool is_writer() const { return query<bool>(mp_rwlock_is_writer, "is_writer", "mp_rwlock_is_writer"); }

private:
    friend object;  // its plain constructors make this type
    shared_mutex(mp_rwlock_t *p, detail::ownership o, std::string name = std::string()) noexcept
        : object(p, o, std::move(name)) {}
    detail::timed_call<mp_rwlock_t, &mp_rwlock_acquire_write> write_call() const noexcept { return {p_}; }
    detail::timed_call<mp_rwlock_t, &mp_rwlock_acquire_read> read_call() const noexcept { return {p_}; }
    acquire_status note(acquire_status r) noexcept {
        if (r == acquire_status::acquired || r == acquire_status::owner_dead)
            died_.store(r == acquire_status::owner_dead, std::memory_order_relaxed);
        return r;
    }
    void held(mp_status st, const char *operation, const char *c_call) {
        if (st != MP_OK && st != MP_OWNER_DEAD) fail(st, operation, c_call);
        died_.store(st == MP_OWNER_DEAD, std::memory_order_relaxed);
    }
    bool try_with(mp_status st, const char *operation, const char *c_call) {
        if (st == MP_TIMEOUT) return false;
        held(st, operation, c_call);
        return true;
    }

    std::atomic<bool> died_{false};
};

// ======================================================================================
// Semaphores: std::counting_semaphore, and multiprocessing.Semaphore /
// BoundedSemaphore (mp_sem_t)
// ======================================================================================

namespace detail {

// The C calls of a semaphore type: mp_sem_t (plain) or mp_sem_undo_t (undo).
template <class C>
struct sem_calls;
template <>
struct sem_calls<mp_sem_t> {
    using ops = sem_ops;
    static mp_status acquire(mp_sem_t *s, bool b, std::int64_t ms) noexcept { return mp_sem_acquire(s, b, ms); }
    static mp_status release(mp_sem_t *s) noexcept { return mp_sem_release(s); }
    static mp_status get_value(const mp_sem_t *s, std::uint32_t *v) noexcept { return mp_sem_get_value(s, v); }
    static mp_status get_max_value(const mp_sem_t *s, std::uint32_t *v) noexcept {
        return mp_sem_get_max_value(s, v);
    }
    static constexpr const char *acquire_name = "mp_sem_acquire";
    static constexpr const char *release_name = "mp_sem_release";
    static constexpr const char *get_value_name = "mp_sem_get_value";
    static constexpr const char *get_max_value_name = "mp_sem_get_max_value";
};
template <>
struct sem_calls<mp_sem_undo_t> {
    using ops = sem_undo_ops;
    static mp_status acquire(mp_sem_undo_t *s, bool b, std::int64_t ms) noexcept {
        return mp_sem_undo_acquire(s, b, ms);
    }
    static mp_status release(mp_sem_undo_t *s) noexcept { return mp_sem_undo_release(s); }
    static mp_status get_value(const mp_sem_undo_t *s, std::uint32_t *v) noexcept {
        return mp_sem_undo_get_value(s, v);
    }
    static mp_status get_max_value(const mp_sem_undo_t *s, std::uint32_t *v) noexcept {
        return mp_sem_undo_get_max_value(s, v);
    }
    static constexpr const char *acquire_name = "mp_sem_undo_acquire";
    static constexpr const char *release_name = "mp_sem_undo_release";
    static constexpr const char *get_value_name = "mp_sem_undo_get_value";
    static constexpr const char *get_max_value_name = "mp_sem_undo_get_max_value";
};

// What every semaphore type does once it exists; Derived adds the ways to make one. C is
// the C type (mp_sem_t, or mp_sem_undo_t for undo_semaphore).
template <class Derived, class C = mp_sem_t>
class semaphore_base : public object<Derived, C, typename sem_calls<C>::ops> {
    using base = object<Derived, C, typename sem_calls<C>::ops>;
    using calls = sem_calls<C>;

public:
    /// Takes one unit, waiting for it (MP_EINTR retried).
    void acquire() {
        mp_status st = calls::acquire(this->p_, true, MP_FOREVER);
        if (MPSYNC_HPP_UNLIKELY(st != MP_OK)) {
            if (st == MP_EINTR) st = wait_forever(false, call());
            // MP_OWNER_DEAD (undo semaphore): the unit is taken.
            if (st != MP_OK && st != MP_OWNER_DEAD) acquire_failed(st, "acquire");
        }
    }
    bool try_acquire() {
        mp_status st = calls::acquire(this->p_, false, 0);
        if (st == MP_OK || st == MP_TIMEOUT) return st == MP_OK;
        if (st == MP_OWNER_DEAD) return true;  // undo semaphore: the unit is taken
        acquire_failed(st, "try_acquire");
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
        mp_status st = wait_forever(sig == on_signal::report, call());
        if (st == MP_EBUSY) acquire_failed(st, "acquire");
        return this->outcome(st, "acquire", calls::acquire_name);
    }
    template <class Rep, class Period>
    acquire_status acquire_for(const std::chrono::duration<Rep, Period> &rel,
                               on_signal sig = on_signal::retry) {
        return acquire_until(steady_deadline(rel), sig);
    }
    template <class Clock, class Duration>
    acquire_status acquire_until(const std::chrono::time_point<Clock, Duration> &abs,
                                 on_signal sig = on_signal::retry) {
        mp_status st = wait_until(abs, sig == on_signal::report, call());
        if (st == MP_EBUSY) acquire_failed(st, "acquire_until");
        return this->outcome(st, "acquire_until", calls::acquire_name);
    }
    /// Adds `update` units, one at a time (mp_sem_release). Throws errc::eoverflow if
    /// the bound is reached; the units released before that stay released.
    void release(std::ptrdiff_t update = 1) {
        if (update < 0)
            this->fail(MP_EINVAL, "release", calls::release_name, "update is negative (release needs update >= 0)");
        for (std::ptrdiff_t i = 0; i < update; i++) {
            mp_status st = calls::release(this->p_);
            if (MPSYNC_HPP_UNLIKELY(st != MP_OK)) release_failed(st, i, update);
        }
    }
    /// The current number of units (a snapshot).
    std::uint32_t value() const {
        std::uint32_t v = 0;
        this->check(calls::get_value(this->p_, &v), "value", calls::get_value_name);
        return v;
    }
    /// This semaphore's bound, as the library holds it.
    std::uint32_t max_value() const {
        std::uint32_t v = 0;
        this->check(calls::get_max_value(this->p_, &v), "max_value", calls::get_max_value_name);
        return v;
    }

protected:
    using base::base;

private:
    timed_call<C, &calls::acquire> call() const noexcept { return {this->p_}; }
    [[noreturn]] [[gnu::cold]] [[gnu::noinline]] void acquire_failed(mp_status st, const char *operation) const {
        if (st == MP_EBUSY)
            this->fail(st, operation, calls::acquire_name,
                       "the undo semaphore's holder table is full (at most MP_SEM_UNDO_HOLDERS = " +
                           std::to_string(MP_SEM_UNDO_HOLDERS) + " threads hold units at once); nothing taken");
        this->fail(st, operation, calls::acquire_name);
    }
    [[noreturn]] [[gnu::cold]] [[gnu::noinline]] void release_failed(mp_status st, std::ptrdiff_t done,
                                                                     std::ptrdiff_t update) const {
        std::string why;
        if (st == MP_EOVERFLOW) {
            std::uint32_t bound = 0;
            why = calls::get_max_value(this->p_, &bound) == MP_OK
                      ? "the semaphore is at its bound " + std::to_string(bound)
                      : std::string("the semaphore is at its bound");
            if (update > 1)
                why += ", after " + std::to_string(done) + " of " + std::to_string(update) +
                       " units (those stay released)";
        } else if (st == MP_ENOTOWNER) {
            why = "an undo semaphore takes a release only from a thread that holds one of its units";
        }
        this->fail(st, "release", calls::release_name, why);
    }
};

// multiprocessing.Semaphore (Bounded = false) and BoundedSemaphore (true): the bound is
// chosen at run time.
template <bool Bounded>
class mp_semaphore : public semaphore_base<mp_semaphore<Bounded>> {
    using base = semaphore_base<mp_semaphore<Bounded>>;

public:
    /// A new anonymous semaphore with `value` units (as anonymous(value)).
    explicit mp_semaphore(std::uint32_t value)
        : base(make(value, default_max(value)), ownership::handle) {}

    /// In place with `value` units; the bound is `value` for bounded_semaphore and
    /// MP_SEM_VALUE_MAX for semaphore unless `max_value` is given.
    static mp_semaphore init(mp_sem_t &storage, std::uint32_t value) {
        return init(storage, value, default_max(value));
    }
    static mp_semaphore init(mp_sem_t &storage, std::uint32_t value, std::uint32_t max_value) {
        mp_status st = mp_sem_init(&storage, value, max_value);
        if (st != MP_OK)
            creation_failed(st, &type_name, "init", "mp_sem_init",
                            call_args::in_place(&storage, MP_SEM_ALIGN).semaphore(value, max_value, false));
        return mp_semaphore(&storage, ownership::in_place);
    }
    static mp_semaphore attach(mp_sem_t &sem) noexcept { return mp_semaphore(&sem, ownership::view); }
    static mp_semaphore anonymous(std::uint32_t value) { return mp_semaphore(value); }
    static mp_semaphore anonymous(std::uint32_t value, std::uint32_t max_value) {
        return mp_semaphore(make(value, max_value), ownership::handle);
    }
    /// `value`/`max_value` are used only if this call creates the semaphore.
    static mp_semaphore open(const char *name, open_flags flags, std::uint32_t mode, std::uint32_t value) {
        return open(name, flags, mode, value, default_max(value));
    }
    static mp_semaphore open(const char *name, open_flags flags, std::uint32_t mode, std::uint32_t value,
                             std::uint32_t max_value) {
        std::string kept = name ? name : "";
        mp_sem_t *p = nullptr;
        mp_status st = mp_sem_open(name, flags.bits | MP_REPORT_CREATED, mode, value, max_value, &p);
        if (st != MP_OK && st != MP_CREATED)
            creation_failed(st, &type_name, "open", "mp_sem_open",
                            call_args::named(name, flags, mode).semaphore(value, max_value, false));
        mp_semaphore made(p, ownership::handle, std::move(kept));
        made.created_ = st == MP_CREATED;
        return made;
    }
    /// How exception messages name this type.
    static std::string type_name() { return Bounded ? "mpsync::bounded_semaphore" : "mpsync::semaphore"; }

    /// The largest bound this implementation supports (MP_SEM_VALUE_MAX); this
    /// semaphore's own bound is max_value().
    static constexpr std::ptrdiff_t max() noexcept { return MP_SEM_VALUE_MAX; }

private:
    mp_semaphore(mp_sem_t *p, ownership o, std::string name = std::string()) noexcept
        : base(p, o, std::move(name)) {}
    static std::uint32_t default_max(std::uint32_t value) noexcept {
        return Bounded ? value : std::uint32_t(MP_SEM_VALUE_MAX);
    }
    static mp_sem_t *make(std::uint32_t value, std::uint32_t max_value) {
        mp_sem_t *p = nullptr;
        mp_status st = mp_sem_new(value, max_value, &p);
        if (st != MP_OK)
            creation_failed(st, &type_name, "create", "mp_sem_new",
                            call_args::anonymous().semaphore(value, max_value, false));
        return p;
    }
};

}  // namespace detail

/// multiprocessing.Semaphore: the bound is MP_SEM_VALUE_MAX unless given. (This header
/// called it counting_semaphore before that name became the std:: template below;
/// counting_semaphore<>, whose bound is also MP_SEM_VALUE_MAX, replaces it where no
/// other bound is passed.)
using semaphore = detail::mp_semaphore<false>;
/// multiprocessing.BoundedSemaphore: the bound is the initial value by default; a
/// release beyond it throws errc::eoverflow.
using bounded_semaphore = detail::mp_semaphore<true>;

/// An undo semaphore (mp_sem_undo_t): a semaphore (a bounded one if max_value is given)
/// whose units come back when the thread holding them dies (exit, SIGKILL, exec, thread
/// exit). Releases are matched to holders (errc::enotowner for a thread holding no
/// unit); at most MP_SEM_UNDO_HOLDERS threads hold units at once (errc::ebusy for one
/// more; waiters do not count). The blocking acquire() and the try_ calls count a unit
/// that came back from a dead holder as acquired (the report is then not seen): use
/// acquire(on_signal) or acquire_for/acquire_until, which return
/// acquire_status::owner_dead. In place, it is used at any address by any process that
/// maps it (attach); call detach() before unmapping memory that others go on using.
class undo_semaphore : public detail::semaphore_base<undo_semaphore, mp_sem_undo_t> {
    using base = detail::semaphore_base<undo_semaphore, mp_sem_undo_t>;

public:
    /// A new anonymous undo semaphore with `value` units, bound MP_SEM_UNDO_VALUE_MAX
    /// (the same as anonymous(value)).
    explicit undo_semaphore(std::uint32_t value) : undo_semaphore(make(value, MP_SEM_UNDO_VALUE_MAX)) {}

    static undo_semaphore init(mp_sem_undo_t &storage, std::uint32_t value,
                               std::uint32_t max_value = MP_SEM_UNDO_VALUE_MAX) {
        mp_status st = mp_sem_undo_init(&storage, value, max_value);
        if (st != MP_OK)
            detail::creation_failed(
                st, &type_name, "init", "mp_sem_undo_init",
                detail::call_args::in_place(&storage, MP_SEM_UNDO_ALIGN).semaphore(value, max_value, true));
        return undo_semaphore(&storage, detail::ownership::in_place);
    }
    static undo_semaphore attach(mp_sem_undo_t &sem) noexcept {
        return undo_semaphore(&sem, detail::ownership::view);
    }
    static undo_semaphore anonymous(std::uint32_t value, std::uint32_t max_value = MP_SEM_UNDO_VALUE_MAX) {
        return undo_semaphore(make(value, max_value));
    }
    /// `value`/`max_value` are used only if this call creates it; a plain semaphore of
    /// that name throws errc::ebadobj.
    static undo_semaphore open(const char *name, open_flags flags, std::uint32_t mode, std::uint32_t value,
                               std::uint32_t max_value = MP_SEM_UNDO_VALUE_MAX) {
        std::string kept = name ? name : "";
        mp_sem_undo_t *p = nullptr;
        mp_status st = mp_sem_undo_open(name, flags.bits | MP_REPORT_CREATED, mode, value, max_value, &p);
        if (st != MP_OK && st != MP_CREATED)
            detail::creation_failed(st, &type_name, "open", "mp_sem_undo_open",
                                    detail::call_args::named(name, flags, mode).semaphore(value, max_value, true));
        undo_semaphore made(p, detail::ownership::handle, std::move(kept));
        made.created_ = st == MP_CREATED;
        return made;
    }
    /// Units the calling thread holds.
    std::uint32_t held() const {
        std::uint32_t v = 0;
        this->check(mp_sem_undo_held(this->p_, &v), "held", "mp_sem_undo_held");
        return v;
    }
    /// The step before unmapping in-place memory of this semaphore that others go on
    /// using: throws errc::ebusy while the calling thread holds units of it (its holder
    /// slot is linked into the thread's robust list); changes nothing.
    void detach() const { this->check(mp_sem_undo_detach(this->p_), "detach", "mp_sem_undo_detach"); }
    /// How exception messages name this type.
    static std::string type_name() { return "mpsync::undo_semaphore"; }

private:
    explicit undo_semaphore(mp_sem_undo_t *p) noexcept : base(p, detail::ownership::handle) {}
    undo_semaphore(mp_sem_undo_t *p, detail::ownership o, std::string name = std::string()) noexcept
        : base(p, o, std::move(name)) {}
    static mp_sem_undo_t *make(std::uint32_t value, std::uint32_t max_value) {
        mp_sem_undo_t *p = nullptr;
        mp_status st = mp_sem_undo_new(value, max_value, &p);
        if (st != MP_OK)
            detail::creation_failed(st, &type_name, "create", "mp_sem_undo_new",
                                    detail::call_args::anonymous().semaphore(value, max_value, true));
        return p;
    }
};

/// std::counting_semaphore<LeastMaxValue> across processes: the bound is exactly max()
/// == LeastMaxValue. A release past it throws errc::eoverflow (for std:: it is
/// undefined behaviour); opening or attaching a semaphore whose bound differs throws
/// errc::ebadobj, so max() always tells the truth. Plus the lifecycles (init, attach,
/// anonymous, open, unlink), the explicit acquire calls and value().
template <std::ptrdiff_t LeastMaxValue = MP_SEM_VALUE_MAX>
class counting_semaphore : public detail::semaphore_base<counting_semaphore<LeastMaxValue>> {
    static_assert(LeastMaxValue >= 0 && LeastMaxValue <= MP_SEM_VALUE_MAX,
                  "mpsync::counting_semaphore<LeastMaxValue>: LeastMaxValue must be 0 .. MP_SEM_VALUE_MAX");
    using base = detail::semaphore_base<counting_semaphore<LeastMaxValue>>;

public:
    /// A new anonymous semaphore with `desired` units (0 .. max()), shared with
    /// fork()ed children, as std::counting_semaphore(desired).
    explicit counting_semaphore(std::ptrdiff_t desired)
        : base(make(units(desired, "create", "mp_sem_new", detail::call_args::anonymous())),
               detail::ownership::handle) {}

    /// The bound: LeastMaxValue.
    static constexpr std::ptrdiff_t max() noexcept { return LeastMaxValue; }

    static counting_semaphore init(mp_sem_t &storage, std::ptrdiff_t desired) {
        auto where = detail::call_args::in_place(&storage, MP_SEM_ALIGN);
        std::uint32_t value = units(desired, "init", "mp_sem_init", where);
        mp_status st = mp_sem_init(&storage, value, bound);
        if (st != MP_OK)
            detail::creation_failed(st, &type_name, "init", "mp_sem_init", where.semaphore(value, bound, false));
        return counting_semaphore(&storage, detail::ownership::in_place);
    }
    /// A non-owning view; throws errc::ebadobj unless `sem` is a live semaphore whose
    /// bound is max().
    static counting_semaphore attach(mp_sem_t &sem) {
        counting_semaphore s(&sem, detail::ownership::view);
        s.require_bound("attach");
        return s;
    }
    static counting_semaphore anonymous(std::ptrdiff_t desired) { return counting_semaphore(desired); }
    /// `desired` is used only if this call creates the semaphore; an existing one must
    /// have the bound max() (errc::ebadobj otherwise).
    static counting_semaphore open(const char *name, open_flags flags, std::uint32_t mode, std::ptrdiff_t desired) {
        return open_named(name, flags, mode, desired);
    }
    /// How exception messages name this type.
    static std::string type_name() {
        return "mpsync::counting_semaphore<" + std::to_string(LeastMaxValue) + ">";
    }

private:
    static constexpr std::uint32_t bound = static_cast<std::uint32_t>(LeastMaxValue);

    counting_semaphore(mp_sem_t *p, detail::ownership o, std::string name = std::string()) noexcept
        : base(p, o, std::move(name)) {}

    // `desired` as a count of units; std:: requires 0 <= desired <= max().
    static std::uint32_t units(std::ptrdiff_t desired, const char *operation, const char *c_call,
                               const detail::call_args &where) {
        if (desired < 0 || desired > LeastMaxValue)
            detail::refused(MP_EINVAL, &type_name, operation, c_call, where,
                            "desired " + std::to_string(desired) + " is outside 0..max() = " +
                                std::to_string(LeastMaxValue));
        return static_cast<std::uint32_t>(desired);
    }
    static mp_sem_t *make(std::uint32_t value) {
        mp_sem_t *p = nullptr;
        mp_status st = mp_sem_new(value, bound, &p);
        if (st != MP_OK)
            detail::creation_failed(st, &type_name, "create", "mp_sem_new",
                                    detail::call_args::anonymous().semaphore(value, bound, false));
        return p;
    }
    static counting_semaphore open_named(const char *name, open_flags flags, std::uint32_t mode,
                                         std::ptrdiff_t desired) {
        auto where = detail::call_args::named(name, flags, mode);
        std::uint32_t value = units(desired, "open", "mp_sem_open", where);
        std::string kept = name ? name : "";
        mp_sem_t *p = nullptr;
        mp_status st = mp_sem_open(name, flags.bits | MP_REPORT_CREATED, mode, value, bound, &p);
        if (st != MP_OK && st != MP_CREATED)
            detail::creation_failed(st, &type_name, "open", "mp_sem_open", where.semaphore(value, bound, false));
        counting_semaphore s(p, detail::ownership::handle, std::move(kept));
        s.created_ = st == MP_CREATED;
        s.require_bound("open");  // an existing semaphore keeps its own bound
        return s;
    }
    // max() must be the bound the library enforces: refuse any other (the wrapper,
    // if it owns a handle, closes it while the exception propagates).
    void require_bound(const char *operation) const {
        std::uint32_t actual = 0;
        this->check(mp_sem_get_max_value(this->p_, &actual), operation, "mp_sem_get_max_value");
        if (actual != bound)
            this->fail(MP_EBADOBJ, operation, "mp_sem_get_max_value",
                       "its bound is " + std::to_string(actual) + ", not max() = " + std::to_string(LeastMaxValue) +
                           " (use mpsync::semaphore, or counting_semaphore<" + std::to_string(actual) + ">)");
    }
};

/// std::binary_semaphore across processes: a counting_semaphore whose bound is 1.
using binary_semaphore = counting_semaphore<1>;

// ======================================================================================
// condition_variable: multiprocessing.Condition (mp_cond_t)
// ======================================================================================

/// A process-shared condition variable over a mutex or a recursive_mutex (or a
/// std::unique_lock of either). With a recursive_mutex held at level N, a wait releases
/// all N levels and returns with the lock held at level N again. MP_EINTR is retried
/// with the remaining time. Wake-ups are never spurious (but re-check the predicate).
class condition_variable : public detail::object<condition_variable, mp_cond_t, detail::cond_ops> {
public:
    /// A new anonymous condition variable, usable at once like
    /// std::condition_variable and inherited by fork()ed children (mp_cond_new).
    condition_variable() : object(new_anonymous(), detail::ownership::handle) {}
    /// How exception messages name this type.
    static std::string type_name() { return "mpsync::condition_variable"; }

    void notify_one() { check(mp_cond_notify(p_, 1), "notify_one", "mp_cond_notify"); }
    void notify_all() { check(mp_cond_notify_all(p_), "notify_all", "mp_cond_notify_all"); }
    /// Wakes up to `n` waiters.
    void notify(std::uint32_t n) { check(mp_cond_notify(p_, n), "notify", "mp_cond_notify"); }
    /// Threads waiting for a notification that no notify has picked yet (a snapshot).
    std::uint32_t n_waiting() const {
        return query<std::uint32_t>(mp_cond_n_waiting, "n_waiting", "mp_cond_n_waiting");
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
    friend object;  // its plain constructors make this type
    condition_variable(mp_cond_t *p, detail::ownership o, std::string name = std::string()) noexcept
        : object(p, o, std::move(name)) {}

    static mutex &lockable(mutex &m) noexcept { return m; }
    static recursive_mutex &lockable(recursive_mutex &m) noexcept { return m; }
    template <class M>
    M &lockable(std::unique_lock<M> &l) const {
        if (!l.owns_lock())
            fail(MP_ENOTOWNER, "wait", "mp_cond_wait", "the std::unique_lock passed to wait does not hold its mutex");
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
        if (st != MP_OK && st != MP_TIMEOUT) fail(st, "wait", "mp_cond_wait_lock");
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
        if (st != MP_OK && st != MP_TIMEOUT) fail(st, "wait", "mp_cond_wait");
        return st;
    }
};

// ======================================================================================
// event: multiprocessing.Event (mp_event_t)
// ======================================================================================

/// A flag that processes set, clear and wait for (multiprocessing.Event).
class event : public detail::object<event, mp_event_t, detail::event_ops> {
public:
    /// A new anonymous event, not set, inherited by fork()ed children (mp_event_new).
    event() : object(new_anonymous(), detail::ownership::handle) {}
    /// How exception messages name this type.
    static std::string type_name() { return "mpsync::event"; }

    void set() { check(mp_event_set(p_), "set", "mp_event_set"); }
    void clear() { check(mp_event_clear(p_), "clear", "mp_event_clear"); }
    bool is_set() const {
        return query<bool>(mp_event_is_set, "is_set", "mp_event_is_set");
    }
    /// Waits until set (MP_EINTR retried).
    void wait() {
        mp_event_t *p = p_;
        check(detail::wait_forever(false, [p](std::int64_t ms) { return mp_event_wait(p, ms); }), "wait",
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
        check(st, "wait_until", "mp_event_wait");
        return true;
    }

private:
    friend object;  // its plain constructors make this type
    event(mp_event_t *p, detail::ownership o, std::string name = std::string()) noexcept
        : object(p, o, std::move(name)) {}
};

// ======================================================================================
// barrier: multiprocessing.Barrier (mp_barrier_t)
// ======================================================================================

}  // namespace mpsync

extern "C" {
// The C-callable completion trampoline of mpsync::barrier: runs the C++ completion
// function and turns an exception into "break the barrier" (non-zero), keeping it for
// the waiting caller. No exception ever crosses into the C library.
inline int mpsync_hpp_barrier_completion(void *ctx) noexcept;
}

namespace mpsync {

/// A reusable barrier for a fixed number of parties in any processes
/// (multiprocessing.Barrier, with std::barrier's constructor and arrive_and_wait).
class barrier : public detail::object<barrier, mp_barrier_t, detail::barrier_ops> {
public:
    /// A new anonymous barrier for `expected` parties (1 .. max()), shared with
    /// fork()ed children, as std::barrier(expected).
    explicit barrier(std::ptrdiff_t expected)
        : object(new_anonymous(parties_of(expected)), detail::ownership::handle) {}
    /// The same, with a completion function (see set_completion), as
    /// std::barrier(expected, completion).
    barrier(std::ptrdiff_t expected, std::function<void()> completion) : barrier(expected) {
        completion_ = std::move(completion);
    }
    barrier(barrier &&) noexcept = default;
    barrier &operator=(barrier &&) noexcept = default;

    static barrier init(mp_barrier_t &storage, std::uint32_t parties) {
        mp_status st = mp_barrier_init(&storage, parties);
        if (st != MP_OK)
            detail::creation_failed(st, &type_name, "init", "mp_barrier_init",
                                    detail::call_args::in_place(&storage, MP_BARRIER_ALIGN).barrier(parties));
        return barrier(&storage, detail::ownership::in_place);
    }
    static barrier attach(mp_barrier_t &b) noexcept { return barrier(&b, detail::ownership::view); }
    static barrier anonymous(std::uint32_t parties) {
        return barrier(new_anonymous(parties), detail::ownership::handle);
    }
    /// `parties` is used only if this call creates the barrier.
    static barrier open(const char *name, open_flags flags, std::uint32_t mode, std::uint32_t parties) {
        std::string kept = name ? name : "";
        mp_barrier_t *p = nullptr;
        mp_status st = mp_barrier_open(name, flags.bits | MP_REPORT_CREATED, mode, parties, &p);
        if (st != MP_OK && st != MP_CREATED)
            detail::creation_failed(st, &type_name, "open", "mp_barrier_open",
                                    detail::call_args::named(name, flags, mode).barrier(parties));
        barrier made(p, detail::ownership::handle, std::move(kept));
        made.created_ = st == MP_CREATED;
        return made;
    }
    /// How exception messages name this type.
    static std::string type_name() { return "mpsync::barrier"; }
    /// The largest number of parties (MP_BARRIER_PARTIES_MAX), as std::barrier::max().
    static constexpr std::ptrdiff_t max() noexcept { return MP_BARRIER_PARTIES_MAX; }

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

    // Not provided, and declared deleted so that a call names this comment instead of
    // "no member named ...":
    //  - arrive(): std::barrier's arrival without waiting (a token to wait on later).
    //    The C API has no such split: mp_barrier_wait arrives and waits in one call.
    //    Emulating it with a helper thread that waits in the caller's place was
    //    rejected: a thread per arrival, the completion function run on that thread,
    //    and a thread that must outlive the call yet not the wrapper.
    //  - arrive_and_drop(): leaving for good, lowering the number of parties of later
    //    phases. A barrier's party count is fixed when it is created, and no C call
    //    changes it.
    // Both would need new calls in the C API (mp_barrier_arrive returning a phase
    // token with a matching wait, and mp_barrier_arrive_and_drop).
    void arrive(std::ptrdiff_t update = 1) = delete;
    void arrive_and_drop() = delete;

    /// Breaks the barrier: waiters and later arrivals get broken_barrier until reset().
    void abort() { check(mp_barrier_abort(p_), "abort", "mp_barrier_abort"); }
    void reset() { check(mp_barrier_reset(p_), "reset", "mp_barrier_reset"); }
    std::uint32_t parties() const {
        return query<std::uint32_t>(mp_barrier_parties, "parties", "mp_barrier_parties");
    }
    std::uint32_t n_waiting() const {
        return query<std::uint32_t>(mp_barrier_n_waiting, "n_waiting", "mp_barrier_n_waiting");
    }
    bool is_broken() const {
        return query<bool>(mp_barrier_is_broken, "is_broken", "mp_barrier_is_broken");
    }

    struct completion_context {
        std::function<void()> *fn;
        std::exception_ptr failure;
    };

private:
    barrier(mp_barrier_t *p, detail::ownership o, std::string name = std::string()) noexcept
        : object(p, o, std::move(name)) {}
    // `expected` as the C API's party count; values that do not even fit are refused
    // here, the rest is for the library to judge.
    static std::uint32_t parties_of(std::ptrdiff_t expected) {
        if (expected < 0 || static_cast<std::uintmax_t>(expected) > std::numeric_limits<std::uint32_t>::max())
            detail::refused(MP_EINVAL, &type_name, "create", "mp_barrier_new", detail::call_args::anonymous(),
                            "expected " + std::to_string(expected) + " is outside 1..max() = " +
                                std::to_string(MP_BARRIER_PARTIES_MAX));
        return static_cast<std::uint32_t>(expected);
    }
    static mp_barrier_t *new_anonymous(std::uint32_t parties) {
        mp_barrier_t *p = nullptr;
        mp_status st = mp_barrier_new(parties, &p);
        if (st != MP_OK)
            detail::creation_failed(st, &type_name, "create", "mp_barrier_new",
                                    detail::call_args::anonymous().barrier(parties));
        return p;
    }
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
        if (st == MP_EBROKEN)
            fail(st, "arrive_and_wait", "mp_barrier_wait",
                 "aborted, reset, timed out (a timeout breaks it for every party) or its completion function "
                 "failed; reset() makes it usable again");
        check(st, "arrive_and_wait", "mp_barrier_wait");
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
#define MPSYNC_HPP_TYPE(T, code)                        \
    template <> struct type_code<T> {                   \
        static constexpr mp_type value = code;          \
        static constexpr const char *cpp_name = #T;     \
    };
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

    /// A zeroed anonymous array of `n` elements, inherited by fork() (as anonymous()).
    explicit shared_array(std::size_t n, bool with_lock = true) : shared_array(make(n, with_lock), std::string()) {
        created_ = true;
    }
    shared_array(const shared_array &) = delete;
    shared_array &operator=(const shared_array &) = delete;
    shared_array(shared_array &&o) noexcept
        : p_(std::exchange(o.p_, nullptr)), data_(std::exchange(o.data_, nullptr)),
          size_(std::exchange(o.size_, 0)), lock_(std::move(o.lock_)), name_(std::move(o.name_)),
          created_(o.created_) {
        o.lock_.reset();
    }
    shared_array &operator=(shared_array &&o) noexcept {
        if (this != &o) {
            close_quietly();
            p_ = std::exchange(o.p_, nullptr);
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
            lock_ = std::move(o.lock_);
            o.lock_.reset();
            name_ = std::move(o.name_);
            created_ = o.created_;
        }
        return *this;
    }
    ~shared_array() { close_quietly(); }

    /// A zeroed anonymous array of `n` elements, inherited by fork() (mp_array_new).
    static shared_array anonymous(std::size_t n, bool with_lock = true) { return shared_array(n, with_lock); }
    /// The named array `name`; an existing one must match T, `n` and `with_lock`.
    static shared_array open(const char *name, open_flags flags, std::uint32_t mode, std::size_t n,
                             bool with_lock = true) {
        std::string kept = name ? name : "";
        mp_array_t *p = nullptr;
        mp_status st = mp_array_open(name, flags.bits | MP_REPORT_CREATED, mode, detail::type_code<value_type>::value, n, with_lock, &p);
        if (st != MP_OK && st != MP_CREATED)
            detail::creation_failed(st, &type_name, "open", "mp_array_open",
                                    detail::call_args::named(name, flags, mode).array());
        shared_array made(p, std::move(kept));
        made.created_ = st == MP_CREATED;
        return made;
    }
    /// Removes the name (mp_unlink); see mpsync::unlink.
    static void unlink(const char *name) { detail::unlink_or_throw(type_name().c_str(), name); }
    static bool unlink(const char *name, std::error_code &ec) noexcept { return mpsync::unlink(name, ec); }
    /// How exception messages name this type.
    static std::string type_name() {
        return std::string("mpsync::shared_array<") + detail::type_code<value_type>::cpp_name + ">";
    }

    T *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    T *begin() const noexcept { return data_; }
    T *end() const noexcept { return data_ + size_; }
    T &operator[](std::size_t i) const noexcept { return data_[i]; }
    T &at(std::size_t i) const {
        if (i >= size_) throw std::out_of_range(out_of_range_text("at", i));
        return data_[i];
    }
#ifdef MPSYNC_HPP_HAS_SPAN
    std::span<T> span() const noexcept { return {data_, size_}; }
    operator std::span<T>() const noexcept { return span(); }
#endif
    /// The array's lock; throws errc::einval for an array made without one.
    recursive_mutex &get_lock() {
        if (!lock_) fail(MP_EINVAL, "get_lock", "mp_array_get_lock", "the array was made without a lock (with_lock = false)");
        return *lock_;
    }
    bool has_lock() const noexcept { return lock_.has_value(); }

    /// Element `i`, copied under the lock (mp_array_get). Owner death of the lock is
    /// reported as acquire_status::owner_dead in `*status` if given (else ignored).
    value_type load(std::size_t i, acquire_status *status = nullptr) const {
        value_type v{};
        mp_status st = mp_array_get(p_, i, &v);
        if (st == MP_ERANGE) throw std::out_of_range(out_of_range_text("load", i));
        if (st != MP_OWNER_DEAD && st != MP_OK) fail(st, "load", "mp_array_get");
        if (status) *status = st == MP_OWNER_DEAD ? acquire_status::owner_dead : acquire_status::acquired;
        return v;
    }
    /// Writes element `i` under the lock (mp_array_set); owner death as in load().
    void store(std::size_t i, value_type v, acquire_status *status = nullptr) {
        mp_status st = mp_array_set(p_, i, &v);
        if (st == MP_ERANGE) throw std::out_of_range(out_of_range_text("store", i));
        if (st != MP_OWNER_DEAD && st != MP_OK) fail(st, "store", "mp_array_set");
        if (status) *status = st == MP_OWNER_DEAD ? acquire_status::owner_dead : acquire_status::acquired;
    }

    /// Declares the elements repaired after an owner death (mp_array_mark_consistent):
    /// until then every locked access, and every acquisition of get_lock(), reports
    /// owner death. Hold get_lock() while calling it; throws mpsync::error
    /// (errc::enotowner) otherwise, and errc::einval for an array without a lock.
    void mark_consistent() {
        mp_status st = mp_array_mark_consistent(p_);
        if (st != MP_OK)
            fail(st, "mark_consistent", "mp_array_mark_consistent",
                 st == MP_EINVAL && p_ && !lock_ ? "the array was made without a lock (with_lock = false)" : nullptr);
    }

    mp_array_t *native_handle() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    /// Whether the call that made this array created it: open() when the name held no
    /// array (of concurrent creators exactly one: MP_CREATED), or a new anonymous array.
    bool created() const noexcept { return created_; }

    /// Closes now; throws mpsync::error (e.g. errc::ebusy while this thread holds the
    /// lock) and then still owns the array.
    void close() {
        if (!p_) return;
        mp_status st = mp_array_close(p_);
        if (st != MP_OK) fail(st, "close", "mp_array_close");
        forget();
    }

private:
    // Takes ownership of `p` at once, so that a check below that throws closes it.
    shared_array(mp_array_t *p, std::string name) : p_(p), name_(std::move(name)) {
        // The element size and count come from the library's private record, never
        // from the shared memory; check that they agree with T before handing out T*.
        std::size_t item = mp_array_item_size(p);
        if (item != sizeof(T)) {
            close_quietly();
            mismatch(item);
        }
        data_ = static_cast<T *>(mp_array_data(p));
        size_ = mp_array_len(p);
        if (mp_rlock_t *l = mp_array_get_lock(p)) lock_.emplace(recursive_mutex::attach(*l));
    }
    static mp_array_t *make(std::size_t n, bool with_lock) {
        mp_array_t *p = nullptr;
        mp_status st = mp_array_new(detail::type_code<value_type>::value, n, with_lock, &p);
        if (st != MP_OK)
            detail::creation_failed(st, &type_name, "create", "mp_array_new", detail::call_args::anonymous());
        return p;
    }
    std::string identity() const {
        if (!p_) return type_name() + " (no object)";
        return type_name() + " " + (name_.empty() ? std::string("(anonymous)") : detail::quoted(name_.c_str()));
    }
    std::string out_of_range_text(const char *operation, std::size_t i) const {
        return identity() + ": " + operation + ": index " + std::to_string(i) + " is not below the size " +
               std::to_string(size_);
    }
    [[noreturn]] [[gnu::cold]] [[gnu::noinline]] void fail(mp_status st, const char *operation, const char *c_call,
                                                           const char *reason = nullptr) const {
        const int err = errno;
        std::string why = reason ? reason : "";
        if (!p_ && st == MP_EINVAL)
            why = "this wrapper holds no object: it was moved from or closed";
        else if (st == MP_ESYS && why.empty())
            why = detail::errno_text(err);
        detail::throw_failure(st, detail::what_text(identity(), operation, c_call, why));
    }
    [[noreturn]] [[gnu::cold]] void mismatch(std::size_t item) const {
        detail::throw_failure(MP_EBADOBJ, detail::what_text(type_name() + (name_.empty() ? std::string(" (anonymous)")
                                                                                         : " " + detail::quoted(name_.c_str())),
                                                            "open", "mp_array_item_size",
                                                            "the library's element size " + std::to_string(item) +
                                                                " differs from sizeof(T) = " + std::to_string(sizeof(T))));
    }
    void forget() noexcept {
        lock_.reset();
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
    std::optional<recursive_mutex> lock_;
    std::string name_;
    bool created_ = false;
};

// ======================================================================================
// shared_memory: multiprocessing.shared_memory.SharedMemory (mp_shm_t)
// ======================================================================================

/// A mapped named shared-memory block: a span of bytes. Move-only; the destructor
/// unmaps it (mp_shm_close); the block lives until unlink() and the last close. Made by
/// open() and create() only: every block has a name, which the creator removes.
class shared_memory {
public:
    shared_memory(const shared_memory &) = delete;
    shared_memory &operator=(const shared_memory &) = delete;
    shared_memory(shared_memory &&o) noexcept : p_(std::exchange(o.p_, nullptr)), created_(o.created_) {}
    shared_memory &operator=(shared_memory &&o) noexcept {
        if (this != &o) {
            close_quietly();
            p_ = std::exchange(o.p_, nullptr);
            created_ = o.created_;
        }
        return *this;
    }
    ~shared_memory() { close_quietly(); }

    /// mp_shm_open: `name` may be nullptr with MP_CREATE (a fresh psm_ name).
    static shared_memory open(const char *name, open_flags flags = open_existing, std::size_t size = 0,
                              std::uint32_t mode = 0) {
        mp_shm_t *p = nullptr;
        mp_status st = mp_shm_open(name, flags.bits | MP_REPORT_CREATED, size, mode, &p);
        if (st != MP_OK && st != MP_CREATED)
            detail::creation_failed(st, &type_name, "open", "mp_shm_open",
                                    detail::call_args::named(name, flags, mode).block(size));
        shared_memory made(p);
        made.created_ = st == MP_CREATED;
        return made;
    }
    /// A new block of `size` bytes under a fresh name (see name()).
    static shared_memory create(std::size_t size, std::uint32_t mode = 0) {
        return open(nullptr, create_only, size, mode);
    }
    /// Removes the name (mp_unlink); see mpsync::unlink.
    static void unlink(const char *name) { detail::unlink_or_throw(type_name().c_str(), name); }
    static bool unlink(const char *name, std::error_code &ec) noexcept { return mpsync::unlink(name, ec); }
    /// How exception messages name this type.
    static std::string type_name() { return "mpsync::shared_memory"; }

    std::byte *data() const noexcept { return static_cast<std::byte *>(mp_shm_data(p_)); }
    std::size_t size() const noexcept { return mp_shm_size(p_); }
    std::byte *begin() const noexcept { return data(); }
    std::byte *end() const noexcept { return data() + size(); }
    std::byte &operator[](std::size_t i) const noexcept { return data()[i]; }
    std::byte &at(std::size_t i) const {
        if (i >= size())
            throw std::out_of_range(identity() + ": at: offset " + std::to_string(i) + " is not below the size " +
                                    std::to_string(size()));
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
    /// Whether the call that made this wrapper created the block (create(), or open()
    /// when the name held no block: of concurrent creators exactly one, MP_CREATED).
    bool created() const noexcept { return created_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    void close() {
        if (!p_) return;
        mp_status st = mp_shm_close(p_);
        if (st != MP_OK) detail::throw_failure(st, detail::what_text(identity(), "close", "mp_shm_close", ""));
        p_ = nullptr;
    }

private:
    explicit shared_memory(mp_shm_t *p) noexcept : p_(p) {}
    std::string identity() const {
        if (!p_) return type_name() + " (no object)";
        return type_name() + " " + detail::quoted(name().c_str());
    }
    void close_quietly() noexcept {
        if (!p_) return;
        mp_status st = mp_shm_close(p_);
        if (st != MP_OK) detail::report("mp_shm_close", st, p_);
        p_ = nullptr;
    }
    mp_shm_t *p_ = nullptr;
    bool created_ = false;
};

// ======================================================================================
// queue: a shared-memory queue of byte messages (mp_queue_t; docs/queue.md)
// ======================================================================================

/// A bounded multi-producer, multi-consumer queue of byte messages shared by processes
/// (mp_queue_t): a put is invisible until complete and a get consumes a message whole,
/// even when a process is killed in the middle of one. Messages are pointer + size, or
/// std::span<const std::byte> under C++20. Blocking calls retry after a signal handler
/// (MP_EINTR). put() throws mpsync::error with errc::emsgsize for a message that can
/// never fit and errc::eclosed after close_producer(); get() throws errc::eclosed once
/// the queue is closed and empty, and errc::ebufsize for a buffer too small (nothing
/// consumed; the std::vector overloads grow instead). Move-only; the destructor closes it.
class queue : public detail::object<queue, mp_queue_t, detail::queue_ops> {
public:
    /// An empty anonymous queue of `capacity_bytes` ring bytes, inherited by fork()
    /// (mp_queue_new). A message takes 4 bytes more than its length.
    explicit queue(std::size_t capacity_bytes) : object(make(capacity_bytes), detail::ownership::handle) {}
    /// The named queue `name` (mp_queue_open); `capacity_bytes == 0` opens an existing
    /// queue of any capacity.
    static queue open(const char *name, open_flags flags, std::uint32_t mode, std::size_t capacity_bytes) {
        std::string kept = name ? name : "";
        mp_queue_t *p = nullptr;
        mp_status st = mp_queue_open(name, flags.bits | MP_REPORT_CREATED, mode, capacity_bytes, &p);
        if (st != MP_OK && st != MP_CREATED)
            detail::creation_failed(st, &type_name, "open", "mp_queue_open", detail::call_args::named(name, flags, mode));
        queue made(p, std::move(kept));
        made.created_ = st == MP_CREATED;
        return made;
    }
    /// How exception messages name this type.
    static std::string type_name() { return "mpsync::queue"; }

    /// Puts one message, waiting for room as long as needed.
    void put(const void *data, std::size_t len) {
        check(detail::wait_forever(false, put_call{p_, data, len}), "put", "mp_queue_put");
    }
    /// Puts one message if there is room now; false if not.
    bool try_put(const void *data, std::size_t len) { return timed(mp_queue_put(p_, data, len, false, 0), "try_put", "mp_queue_put"); }
    /// Puts one message, waiting for room at most `d`; false if none in time.
    template <class Rep, class Period>
    bool try_put_for(const void *data, std::size_t len, std::chrono::duration<Rep, Period> d) {
        return try_put_until(data, len, detail::steady_deadline(d));
    }
    template <class Clock, class Duration>
    bool try_put_until(const void *data, std::size_t len, const std::chrono::time_point<Clock, Duration> &t) {
        return timed(detail::wait_until(t, false, put_call{p_, data, len}), "try_put_until", "mp_queue_put");
    }
    /// Puts all of `n` messages or none, contiguously, under one lock acquisition,
    /// waiting as long as needed (mp_queue_put_many).
    void put_many(const void *const *msgs, const std::size_t *lens, std::size_t n) {
        check(detail::wait_forever(false, [&](std::int64_t ms) { return mp_queue_put_many(p_, msgs, lens, n, true, ms); }),
              "put_many", "mp_queue_put_many");
    }

    /// Takes the oldest message into `buf` (`len` bytes), waiting as long as needed;
    /// returns its length.
    std::size_t get(void *buf, std::size_t len) {
        std::size_t n = 0;
        mp_status st = detail::wait_forever(false, get_call{p_, buf, len, &n});  // before reading n
        check(st, "get", "mp_queue_get", n);
        return n;
    }
    /// The oldest message if one is there now (its length), else nullopt.
    std::optional<std::size_t> try_get(void *buf, std::size_t len) {
        std::size_t n = 0;
        mp_status st = mp_queue_get(p_, buf, len, &n, false, 0);
        if (!timed(st, "try_get", "mp_queue_get", n)) return std::nullopt;
        return n;
    }
    /// The oldest message within `d` (its length), else nullopt.
    template <class Rep, class Period>
    std::optional<std::size_t> try_get_for(void *buf, std::size_t len, std::chrono::duration<Rep, Period> d) {
        std::size_t n = 0;
        mp_status st = detail::wait_until(detail::steady_deadline(d), false, get_call{p_, buf, len, &n});
        if (!timed(st, "try_get_for", "mp_queue_get", n)) return std::nullopt;
        return n;
    }
    /// Takes the oldest message into `out` (resized to it), waiting as long as needed.
    void get(std::vector<std::byte> &out) {
        for (;;) {
            std::size_t n = 0;
            mp_status st = detail::wait_forever(false, get_call{p_, out.data(), out.size(), &n});
            if (st == MP_EBUFSIZE) {
                out.resize(n);
                continue;
            }
            check(st, "get", "mp_queue_get", n);
            out.resize(n);
            return;
        }
    }
    /// The oldest message, as a new vector, waiting as long as needed.
    std::vector<std::byte> get() {
        std::vector<std::byte> out;
        get(out);
        return out;
    }
#ifdef MPSYNC_HPP_HAS_SPAN
    void put(std::span<const std::byte> msg) { put(msg.data(), msg.size()); }
    bool try_put(std::span<const std::byte> msg) { return try_put(msg.data(), msg.size()); }
    template <class Rep, class Period>
    bool try_put_for(std::span<const std::byte> msg, std::chrono::duration<Rep, Period> d) {
        return try_put_for(msg.data(), msg.size(), d);
    }
    /// Takes the oldest message into `buf`; returns the part of `buf` it fills.
    std::span<std::byte> get(std::span<std::byte> buf) { return buf.first(get(buf.data(), buf.size())); }
#endif

    /// Messages in the queue now (mp_queue_size).
    std::size_t size() const {
        std::size_t n = 0;
        check(mp_queue_size(p_, &n), "size", "mp_queue_size");
        return n;
    }
    /// The ring's size in bytes (mp_queue_capacity).
    std::size_t capacity() const {
        std::size_t n = 0;
        check(mp_queue_capacity(p_, &n), "capacity", "mp_queue_capacity");
        return n;
    }
    /// End of stream for every process (mp_queue_close_producer).
    void close_producer() { check(detail::wait_forever(false, [&](std::int64_t) { return mp_queue_close_producer(p_); }), "close_producer", "mp_queue_close_producer"); }
    /// One message processed (mp_queue_task_done); errc::eoverflow if none is unfinished.
    void task_done() { check(detail::wait_forever(false, [&](std::int64_t) { return mp_queue_task_done(p_); }), "task_done", "mp_queue_task_done"); }
    /// Waits until every message put is done, or was taken by a consumer process found
    /// dead (mp_queue_join; such messages are counted by abandoned()).
    void join() { check(detail::wait_forever(false, timed_join{p_}), "join", "mp_queue_join"); }
    template <class Rep, class Period>
    bool join_for(std::chrono::duration<Rep, Period> d) {
        return timed(detail::wait_until(detail::steady_deadline(d), false, timed_join{p_}), "join_for", "mp_queue_join");
    }
    /// Unfinished messages abandoned so far: taken by a consumer process that died before
    /// its task_done (mp_queue_abandoned).
    std::uint64_t abandoned() const {
        std::uint64_t n = 0;
        check(mp_queue_abandoned(p_, &n), "abandoned", "mp_queue_abandoned");
        return n;
    }

private:
    queue(mp_queue_t *p, std::string name) noexcept : object(p, detail::ownership::handle, std::move(name)) {}
    static mp_queue_t *make(std::size_t capacity_bytes) {
        mp_queue_t *p = nullptr;
        mp_status st = mp_queue_new(capacity_bytes, &p);
        if (st != MP_OK)
            detail::creation_failed(st, &type_name, "create", "mp_queue_new", detail::call_args::anonymous());
        return p;
    }
    struct put_call {
        mp_queue_t *p;
        const void *data;
        std::size_t len;
        mp_status operator()(std::int64_t ms) const noexcept { return mp_queue_put(p, data, len, true, ms); }
    };
    struct get_call {
        mp_queue_t *p;
        void *buf;
        std::size_t len;
        std::size_t *n;
        mp_status operator()(std::int64_t ms) const noexcept { return mp_queue_get(p, buf, len, n, true, ms); }
    };
    struct timed_join {
        mp_queue_t *p;
        mp_status operator()(std::int64_t ms) const noexcept {
            mp_status st = mp_queue_join(p, true, ms);
            return st == MP_OWNER_DEAD ? MP_OK : st;  // done; some abandoned (see abandoned())
        }
    };
    // True for MP_OK, false for MP_TIMEOUT; throws for the rest.
    bool timed(mp_status st, const char *operation, const char *c_call, std::size_t needed = 0) const {
        if (st == MP_TIMEOUT) return false;
        check(st, operation, c_call, needed);
        return true;
    }
    void check(mp_status st, const char *operation, const char *c_call, std::size_t needed = 0) const {
        if (!MPSYNC_HPP_UNLIKELY(st != MP_OK)) return;
        if (st == MP_EBUFSIZE)
            fail(st, operation, c_call, "the buffer is too small: the message has " + std::to_string(needed) + " bytes");
        fail(st, operation, c_call);
    }
};

}  // namespace mpsync

#endif  // MPSYNC_HPP
