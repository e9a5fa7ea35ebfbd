"""mpsync: multiprocessing's synchronization primitives on libmpsync.

``Lock``, ``RLock``, ``Semaphore``, ``BoundedSemaphore``, ``Condition``, ``Event``,
``Barrier``, ``Value``, ``Array``, ``RawValue``, ``RawArray``, ``SharedMemory`` and
``ShareableList`` behave as multiprocessing's (signatures, results, exceptions), and
also:

* work in fork, spawn and forkserver children (pass them as ``Process`` arguments) and,
  by name, in unrelated processes and other languages: ``RLock(name="jobs",
  create=True)`` is the lock a C program gets from ``mp_rlock_open("jobs", ...)``;
* report the death of an RLock's owner (``lock.owner_died``, or ``OwnerDiedError``
  with ``raise_owner_died=True``) instead of hanging;
* release the GIL during every blocking wait, and let Ctrl-C interrupt it;
* never register ``SharedMemory`` with multiprocessing's resource tracker unless
  ``track=True``;
* leave nothing in ``/dev/shm`` when the creator of unnamed objects is killed: the
  next ``import mpsync`` removes their names once that creator provably no longer
  exists (without a tracker process).
"""

import atexit as _atexit
import time as _time
import types as _types
from multiprocessing import shared_memory as _std_shm

from . import _mpsync
from ._mpsync import (
    ARRAY_DATA_OFFSET,
    NAME_MAX,
    SEM_VALUE_MAX,
    BadObjectError,
    BusyError,
    Event,
    Lock,
    RLock,
    Semaphore,
    Barrier,
    unlink,
)

__all__ = [
    "Lock",
    "RLock",
    "Semaphore",
    "BoundedSemaphore",
    "Condition",
    "Event",
    "Barrier",
    "Value",
    "Array",
    "RawValue",
    "RawArray",
    "SharedMemory",
    "ShareableList",
    "OwnerDiedError",
    "BadObjectError",
    "BusyError",
    "unlink",
    "SEM_VALUE_MAX",
    "NAME_MAX",
    "ARRAY_DATA_OFFSET",
]

# Objects made without a name are named objects under a fresh name (so that spawn and
# forkserver children can open them); the creating process removes those names when
# the objects are collected, and the rest at exit. The names record their creator
# (``mpsync-anon-<pid>-<start>-<pidns>-...``), so the names of a creator that was
# killed before it could remove them are removed here, by the next import anywhere,
# once that creator provably no longer exists.
_atexit.register(_mpsync.unlink_anonymous)
_mpsync.sweep_orphans()


class OwnerDiedError(RuntimeError):
    """Raised by ``acquire``/``with`` of an RLock made with ``raise_owner_died=True``
    when the previous owner died holding it. The lock IS held when this is raised:
    repair the protected data, call ``lock.mark_consistent()`` if it guards an array,
    then ``lock.release()``. Also raised by an undo semaphore (``undo=True``) made with
    ``raise_owner_died=True`` when a holder died holding units: the unit IS taken."""


class BoundedSemaphore(Semaphore):
    """``multiprocessing.BoundedSemaphore(value=1)``: ``release`` beyond the initial
    value raises ``ValueError``."""

    def __new__(cls, value=1, **kwargs):
        kwargs.setdefault("maxvalue", value)
        return super().__new__(cls, value, **kwargs)


class Condition:
    """``multiprocessing.Condition(lock=None)``, with an ``RLock`` (default) or a
    ``Lock``. A named condition (``name=...``) is shared with C's ``mp_cond_open``;
    give it a named lock too."""

    def __init__(self, lock=None, *, name=None, create=False, exclusive=False, mode=0o600,
                 any_owner=False):
        self._lock = lock if lock is not None else RLock()
        self._cond = _mpsync.RawCondition(name=name, create=create, exclusive=exclusive,
                                          mode=mode, any_owner=any_owner)
        self.acquire = self._lock.acquire
        self.release = self._lock.release

    @classmethod
    def _from_parts(cls, lock, cond):
        self = cls.__new__(cls)
        self._lock = lock
        self._cond = cond
        self.acquire = lock.acquire
        self.release = lock.release
        return self

    def __reduce__(self):
        return (Condition._from_parts, (self._lock, self._cond))

    def __enter__(self):
        return self._lock.__enter__()

    def __exit__(self, *args):
        return self._lock.__exit__(*args)

    @property
    def name(self):
        """The name a C program opens the condition by."""
        return self._cond.name

    @property
    def owner_died(self):
        """True if the last re-acquisition found the lock's owner dead (RLock only)."""
        return getattr(self._lock, "owner_died", False)

    def _check_owned(self):
        is_mine = getattr(self._lock, "_is_mine", None)
        if is_mine is not None:
            assert is_mine(), "lock is not owned"

    def wait(self, timeout=None):
        """Releases the lock, waits for a notification or the timeout, re-acquires the
        lock; True unless the timeout expired."""
        notified, _died = self._cond.wait(self._lock, timeout)
        return notified

    def wait_for(self, predicate, timeout=None):
        """Waits until ``predicate()`` is true (or the timeout); returns its last value."""
        result = predicate()
        if result:
            return result
        if timeout is not None:
            endtime = _time.monotonic() + timeout
        else:
            endtime = None
            waittime = None
        while not result:
            if endtime is not None:
                waittime = endtime - _time.monotonic()
                if waittime <= 0:
                    break
            self.wait(waittime)
            result = predicate()
        return result

    def notify(self, n=1):
        """Wakes up to ``n`` waiters (the lock must be held)."""
        self._check_owned()
        self._cond.notify(n)

    def notify_all(self):
        """Wakes every waiter (the lock must be held)."""
        self._check_owned()
        self._cond.notify_all()

    def __repr__(self):
        # multiprocessing.Condition's format: the lock, then the threads waiting for a
        # notification that no notify has picked yet.
        try:
            num_waiters = self._cond.n_waiting()
        except Exception:
            num_waiters = "unknown"
        return "<%s(%s, %s)>" % (self.__class__.__name__, self._lock, num_waiters)


# --- Value, Array, RawValue, RawArray -----------------------------------------------

def _typecode(typecode_or_type):
    if isinstance(typecode_or_type, str):
        return typecode_or_type
    code = getattr(typecode_or_type, "_type_", None)
    if isinstance(code, str):
        return code
    raise TypeError("unsupported type %r" % (typecode_or_type,))


def _lock_args(lock):
    """(with_lock, external lock) for multiprocessing's ``lock`` argument."""
    if lock is False:
        return False, None
    if lock is True or lock is None:
        return True, None
    if not hasattr(lock, "acquire"):
        raise AttributeError("%r has no method 'acquire'" % lock)
    return False, lock


def _make(typecode, length, with_lock, is_value, ext, named):
    return _mpsync.SharedArray(typecode, length, with_lock, is_value, ext, **named)


def Value(typecode_or_type, *args, lock=True, name=None, create=False, exclusive=False,
          mode=0o600, any_owner=False):
    """``multiprocessing.Value``: a synchronized shared value. With ``name``, the array
    of length 1 a C program opens with ``mp_array_open(name, ..., 1, with_lock)``; a
    named value keeps its contents (``*args`` initialise only unnamed values)."""
    code = _typecode(typecode_or_type)
    with_lock, ext = _lock_args(lock)
    obj = _make(code, 1, with_lock, True, ext, dict(name=name, create=create,
                exclusive=exclusive, mode=mode, any_owner=any_owner))
    if args and name is None:
        obj.value = args[0]
    return obj


def RawValue(typecode_or_type, *args, name=None, create=False, exclusive=False, mode=0o600,
             any_owner=False):
    """``multiprocessing.RawValue``: a shared value without a lock."""
    return Value(typecode_or_type, *args, lock=False, name=name, create=create,
                 exclusive=exclusive, mode=mode, any_owner=any_owner)


def Array(typecode_or_type, size_or_initializer, *, lock=True, name=None, create=False,
          exclusive=False, mode=0o600, any_owner=False):
    """``multiprocessing.Array``: a synchronized shared array (``'c'`` arrays have
    ``.value`` and ``.raw``). With ``name``, the array a C program opens with
    ``mp_array_open``; a named array keeps its contents."""
    code = _typecode(typecode_or_type)
    with_lock, ext = _lock_args(lock)
    if isinstance(size_or_initializer, int):
        length, init = size_or_initializer, None
    else:
        init = size_or_initializer
        if not isinstance(init, (bytes, bytearray)):
            init = list(init)
        length = len(init)
    if length < 0:
        raise ValueError("array size must be non-negative")
    obj = _make(code, length, with_lock, False, ext, dict(name=name, create=create,
                exclusive=exclusive, mode=mode, any_owner=any_owner))
    if init is not None and name is None and length:
        obj[:] = bytes(init) if isinstance(init, bytearray) else init
    return obj


def RawArray(typecode_or_type, size_or_initializer, *, name=None, create=False,
             exclusive=False, mode=0o600, any_owner=False):
    """``multiprocessing.RawArray``: a shared array without a lock."""
    return Array(typecode_or_type, size_or_initializer, lock=False, name=name,
                 create=create, exclusive=exclusive, mode=mode, any_owner=any_owner)


# --- SharedMemory, ShareableList -----------------------------------------------------

class SharedMemory:
    """``multiprocessing.shared_memory.SharedMemory(name=None, create=False, size=0)``.

    Unlike the standard class it never registers with multiprocessing's resource
    tracker unless ``track=True``: attaching to a block that a C program made, then
    exiting, leaves the block alone. ``unlink()`` removes the name.
    """

    def __init__(self, name=None, create=False, size=0, *, track=False, mode=0o600,
                 any_owner=False):
        if not size >= 0:
            raise ValueError("'size' must be a positive integer")
        if create and size == 0:
            raise ValueError("'size' must be a positive number different from zero")
        if name is None and not create:
            raise ValueError("'name' can only be None if create=True")
        self._blk = _mpsync.SharedMemoryBlock(name, bool(create), size, mode, any_owner)
        self._buf = memoryview(self._blk)
        self._track = track
        if track:
            from multiprocessing import resource_tracker
            resource_tracker.register("/" + self.name, "shared_memory")

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __reduce__(self):
        return (self.__class__, (self.name, False, self.size))

    def __repr__(self):
        return f"{self.__class__.__name__}({self.name!r}, size={self.size})"

    @property
    def buf(self):
        """A memoryview of the whole block (zero-copy)."""
        return self._buf

    @property
    def name(self):
        """The block's name, without a leading slash."""
        return self._blk.name

    @property
    def size(self):
        """The block's size in bytes."""
        return self._blk.size

    def close(self):
        """Unmaps the block in this process (``BufferError`` while views remain)."""
        if self._buf is not None:
            self._buf.release()
            self._buf = None
        self._blk.close()

    def unlink(self):
        """Removes the block's name (call it once, in one process)."""
        unlink(self.name)
        if self._track:
            from multiprocessing import resource_tracker
            resource_tracker.unregister("/" + self.name, "shared_memory")


def _with_our_shared_memory(function):
    """The standard ShareableList's method, reading ``SharedMemory`` as this module's."""
    scope = dict(function.__globals__)
    scope["SharedMemory"] = SharedMemory
    copy = _types.FunctionType(function.__code__, scope, function.__name__,
                               function.__defaults__, function.__closure__)
    copy.__kwdefaults__ = function.__kwdefaults__
    return copy


class ShareableList(_std_shm.ShareableList):
    """``multiprocessing.shared_memory.ShareableList`` on :class:`SharedMemory` (so it
    never registers with the resource tracker); same layout, so the standard class and
    this one can share a list."""

    __init__ = _with_our_shared_memory(_std_shm.ShareableList.__init__)


# --- pickling -----------------------------------------------------------------------

def _rebuild(kind, name, any_owner, *extra):
    """Opens by name the object a pickle describes (see each class's ``__reduce__``)."""
    if kind == "Lock":
        return Lock(name=name, any_owner=any_owner)
    if kind == "RLock":
        return RLock(name=name, any_owner=any_owner, raise_owner_died=extra[0])
    if kind == "Semaphore":
        undo, raise_owner_died = extra
        return Semaphore(0, name=name, any_owner=any_owner,
                         undo=undo, raise_owner_died=raise_owner_died)
    if kind == "BoundedSemaphore":
        undo, raise_owner_died = extra
        return BoundedSemaphore(0, maxvalue=1, name=name, any_owner=any_owner, undo=undo,
                                raise_owner_died=raise_owner_died)
    if kind == "RawCondition":
        return _mpsync.RawCondition(name=name, any_owner=any_owner)
    if kind == "Event":
        return Event(name=name, any_owner=any_owner)
    if kind == "Barrier":
        action, timeout = extra
        return Barrier(1, action, timeout, name=name, any_owner=any_owner)
    if kind == "SharedArray":
        typecode, length, with_lock, is_value, ext = extra
        return _mpsync.SharedArray(typecode, length, with_lock, is_value, ext, name=name,
                                   any_owner=any_owner)
    raise ValueError("unknown mpsync object kind %r" % (kind,))
