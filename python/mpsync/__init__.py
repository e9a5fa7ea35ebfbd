"""mpsync: multiprocessing's synchronization primitives on libmpsync.

``Lock``, ``RLock``, ``Semaphore``, ``BoundedSemaphore``, ``Condition``, ``Event``,
``Barrier``, ``Value``, ``Array``, ``RawValue``, ``RawArray`` (of any ctypes type),
``copy``, ``SharedMemory`` and ``ShareableList`` behave as multiprocessing's
(signatures, results, exceptions), and also:

* work in fork, spawn and forkserver children (pass them as ``Process`` arguments) and,
  by name, in unrelated processes and other languages: ``RLock(name="jobs",
  create=True)`` is the lock a C program gets from ``mp_rlock_open("jobs", ...)``;
* report the death of an RLock's owner (``lock.owner_died``, or ``OwnerDiedError``
  with ``raise_owner_died=True``) instead of hanging;
* add ``RWLock``, a reader-writer lock (``with lock.read():`` / ``with lock.write():``)
  that reports its writers' and readers' deaths the same way;
* release the GIL during every blocking wait, and let Ctrl-C interrupt it;
* never register ``SharedMemory`` with multiprocessing's resource tracker unless
  ``track=True``;
* leave nothing in ``/dev/shm`` when the creator of unnamed objects is killed: the
  next ``import mpsync`` removes their names once that creator provably no longer
  exists (without a tracker process).
"""

import atexit as _atexit
import ctypes as _ctypes
import time as _time
import types as _types
import weakref as _weakref
from multiprocessing import context as _mp_context
from multiprocessing import reduction as _mp_reduction
from multiprocessing import shared_memory as _std_shm
from multiprocessing import sharedctypes as _std_sharedctypes

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
from ._mpsync import RWLock as _RWLock

__all__ = [
    "Lock",
    "RLock",
    "RWLock",
    "Semaphore",
    "BoundedSemaphore",
    "Condition",
    "Event",
    "Barrier",
    "Value",
    "Array",
    "RawValue",
    "RawArray",
    "copy",
    "SharedMemory",
    "ShareableList",
    "Queue",
    "SimpleQueue",
    "JoinableQueue",
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


class _Side:
    """The context manager of ``RWLock.read()`` / ``RWLock.write()``: acquires on
    entry (``TimeoutError`` if ``timeout`` passes first), releases on exit."""

    __slots__ = ("_acquire", "_release", "_timeout")

    def __init__(self, acquire, release, timeout):
        self._acquire, self._release, self._timeout = acquire, release, timeout

    def __enter__(self):
        if not self._acquire(True, self._timeout):
            raise TimeoutError("RWLock: not acquired within %r s" % (self._timeout,))
        return self

    def __exit__(self, *exc):
        self._release()


class RWLock(_RWLock):
    """A reader-writer lock shared between processes (the C ``mp_rwlock_t``): any
    number of readers (up to ``RWLock.READERS`` threads at once) or one writer, each
    side held by the thread that acquired it. Neither side starves the other. When a
    writer or a reader dies holding it, its share comes back and the next acquisition
    told sets ``owner_died`` (or raises ``OwnerDiedError`` with the lock held, if made
    with ``raise_owner_died=True``). A thread may re-enter the read side; taking the
    write side while holding either side raises ``RuntimeError`` (no silent deadlock).

    ``with lock.read():`` / ``with lock.write(timeout=5):`` hold one side for a block.
    """

    __slots__ = ()

    def read(self, timeout=None):
        """Context manager holding the read side (``TimeoutError`` after ``timeout``)."""
        return _Side(self.acquire_read, self.release_read, timeout)

    def write(self, timeout=None):
        """Context manager holding the write side (``TimeoutError`` after ``timeout``)."""
        return _Side(self.acquire_write, self.release_write, timeout)


class BoundedSemaphore(Semaphore):
    """``multiprocessing.BoundedSemaphore(value=1)``: ``release`` beyond the initial
    value raises ``ValueError``."""

    def __new__(cls, value=1, **kwargs):
        kwargs.setdefault("maxvalue", value)
        return super().__new__(cls, value, **kwargs)


class _Count:
    """A read-only count with the ``get_value()`` of multiprocessing's semaphores."""

    __slots__ = ("get_value",)

    def __init__(self, get_value):
        self.get_value = get_value


class Condition:
    """``multiprocessing.Condition(lock=None)``, with an ``RLock`` (default) or a
    ``Lock``. A named condition (``name=...``) is shared with C's ``mp_cond_open``;
    give it a named lock too."""

    def __init__(self, lock=None, *, name=None, create=False, exclusive=False, mode=0o600,
                 any_owner=False):
        if lock is None:
            lock = RLock()
        elif not isinstance(lock, (RLock, Lock)):
            # The library waits on the lock's own word: another package's lock (such as
            # multiprocessing's) cannot be released and re-taken by wait().
            raise TypeError("a Condition's lock must be an mpsync.RLock or an mpsync.Lock "
                            "(or None for a new RLock), not %s.%s"
                            % (type(lock).__module__, type(lock).__qualname__))
        self._lock = lock
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

    # multiprocessing's Condition counts sleeping and woken waiters in two semaphores and
    # posts notifications to a third; its own tests check them (sleepers minus woken, and
    # the wait semaphore, are 0 when nobody waits). These give the same counts, read from
    # the library's condition (snapshots).

    @property
    def _sleeping_count(self):
        """Waiters that no notify has picked yet (``get_value()``)."""
        return _Count(self._cond.n_waiting)

    @property
    def _woken_count(self):
        """Woken waiters still counted as sleepers: always 0, since the library's count of
        sleepers leaves out a waiter as soon as a notify picks it."""
        return _Count(lambda: 0)

    @property
    def _wait_semaphore(self):
        """Notifications handed out and not yet taken: picked waiters still on their way
        out of ``wait()`` (read through the condition's name; ``NotImplementedError`` if
        the name no longer holds it)."""
        return _Count(self._cond.n_signalled)

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

# ctypes' type for each type code: multiprocessing.sharedctypes' table, plus '?'.
_TYPECODE_TO_CTYPE = {
    "c": _ctypes.c_char, "u": _ctypes.c_wchar,
    "b": _ctypes.c_byte, "B": _ctypes.c_ubyte,
    "h": _ctypes.c_short, "H": _ctypes.c_ushort,
    "i": _ctypes.c_int, "I": _ctypes.c_uint,
    "l": _ctypes.c_long, "L": _ctypes.c_ulong,
    "q": _ctypes.c_longlong, "Q": _ctypes.c_ulonglong,
    "f": _ctypes.c_float, "d": _ctypes.c_double,
    "?": _ctypes.c_bool,
}

# The ctypes types the library stores as typed elements (an mp_array_t of the type's
# code, which a C program opens with mp_array_open), and their subclasses. Any other
# ctypes type (Structure, Union, array types, c_wchar, c_longdouble, pointers,
# byte-swapped variants) is stored as its bytes, in an array of type 'B'.
_CORE_CTYPES = frozenset(ctype for code, ctype in _TYPECODE_TO_CTYPE.items() if code != "u")


def _element(typecode_or_type):
    """(ctypes type, the library's type code or None) for a type code or a ctypes type."""
    if isinstance(typecode_or_type, str):
        try:
            ctype = _TYPECODE_TO_CTYPE[typecode_or_type]
        except KeyError:
            raise TypeError("unsupported type code %r (type codes: %s; or a ctypes type)"
                            % (typecode_or_type, " ".join(_TYPECODE_TO_CTYPE))) from None
        return ctype, (typecode_or_type if ctype in _CORE_CTYPES else None)
    if isinstance(typecode_or_type, type):
        try:
            _ctypes.sizeof(typecode_or_type)
        except TypeError:
            pass
        else:
            # c_longlong may be c_long itself (same size): its code is then 'l'.
            base = next((c for c in typecode_or_type.__mro__ if c in _CORE_CTYPES), None)
            return typecode_or_type, (base._type_ if base is not None else None)
    raise TypeError("%r is neither a type code nor a ctypes type" % (typecode_or_type,))


def _lock_args(lock):
    """(with_lock, external lock) for multiprocessing's ``lock`` argument."""
    if lock is False:
        return False, None
    if lock is True or lock is None:
        return True, None
    if not hasattr(lock, "acquire"):
        raise AttributeError("%r has no method 'acquire'" % lock)
    return False, lock


class _SharedBuffer:
    """The shared array under a raw ctypes object, kept as the object's ``_wrapper`` as
    multiprocessing keeps its heap buffer there: multiprocessing's pickling of shared
    ctypes objects for a child process (``sharedctypes.reduce_ctype``) calls
    ``create_memoryview()`` on it in the child, which here opens the array by name.
    ``name`` is that name; ``kind`` how errors call it (``"Value"``, ``"Array"``)."""

    __slots__ = ("array", "kind")

    def __init__(self, array, kind):
        self.array = array
        self.kind = kind

    @property
    def name(self):
        return self.array.name

    def create_memoryview(self):
        return memoryview(self.array)

    def __reduce__(self):
        if _mp_context.get_spawning_popen() is None:
            raise RuntimeError(
                "a raw shared ctypes object (RawValue, RawArray, or lock=False) is given to "
                "child processes as Process arguments or by inheritance, as "
                "multiprocessing's: pickled otherwise it would arrive as a private copy. "
                "Pass a Value or Array (pickled by name) instead, or open it by name")
        return (_SharedBuffer, (self.array, self.kind))

    def __repr__(self):
        return "<mpsync shared buffer %r>" % (self.name,)


# The ctypes array types of raw views, each with IndexErrors that name the shared
# array (see _view_type), by the plain ctypes array type.
_view_types = _weakref.WeakKeyDictionary()


def _view_type(base):
    """``base`` (a ctypes array type) whose IndexErrors name the shared array under the
    object, the operation and the index, as every mpsync error does ("Array 'jobs':
    __getitem__: invalid index 5 (length 3)"), instead of ctypes' bare "invalid index".
    A subclass, so the object stays a ctypes array of that type (same name). ``view[i]``
    and ``view[i] = v`` keep ctypes' speed: the extension puts C slots in front of
    ctypes' own, which only act on an IndexError (``_mpsync._name_index_errors``); the
    Python methods below serve explicit ``view.__getitem__(i)`` calls."""
    cls = _view_types.get(base)
    if cls is not None:
        return cls
    getitem, setitem = base.__getitem__, base.__setitem__

    def __getitem__(self, index):
        try:
            return getitem(self, index)
        except IndexError:
            raise _index_error(self, "__getitem__", index) from None

    def __setitem__(self, index, value):
        try:
            setitem(self, index, value)
        except IndexError:
            raise _index_error(self, "__setitem__", index) from None

    cls = type(base.__name__, (base,), {"__getitem__": _ExplicitCall(__getitem__),
                                        "__setitem__": _ExplicitCall(__setitem__),
                                        "__module__": base.__module__})
    cls.__qualname__ = base.__qualname__
    _mpsync._name_index_errors(cls)
    _mp_reduction.ForkingPickler.register(cls, _reduce_view)
    _view_types[base] = cls
    return cls


class _ExplicitCall:
    """A method of a raw view's class for explicit calls (``view.__getitem__(i)``): not a
    plain function, so that the interpreter does not call it for ``view[i]`` in place of
    the class's C slot (CPython 3.11+ specializes subscripts of Python ``__getitem__``)."""

    __slots__ = ("func",)

    def __init__(self, func):
        self.func = func

    def __get__(self, obj, objtype=None):
        return self.func if obj is None else _types.MethodType(self.func, obj)


def _index_error(view, op, index):
    """The IndexError of a raw array view (``_view_type``) for ``op`` at ``index``."""
    subject = view._wrapper.array._subject(view._wrapper.kind)
    return IndexError("%s: %s: invalid index %r (length %d)"
                      % (subject, op, index, view._length_))


def _reduce_view(obj):
    """Pickles a raw array view for a child process as ``sharedctypes.reduce_ctype``
    does, rebuilt there as the same kind of view (``_view_type``)."""
    _mp_context.assert_spawning(obj)
    return _rebuild_view, (obj._wrapper, obj._type_, obj._length_)


def _rebuild_view(wrapper, ctype, length):
    return _raw_view(wrapper.array, ctype, length, wrapper.kind)


def _raw_view(array, ctype, length, kind=None):
    """The ctypes object (``ctype``, or an array of ``length`` of them) over the shared
    array's elements, pickled for child processes as multiprocessing's are; an array
    names the shared array in its IndexErrors (``_view_type``) as a ``kind`` (by default
    a Value without ``length``, else an Array)."""
    if kind is None:
        kind = "Value" if length is None else "Array"
    type_ = ctype if length is None else ctype * length
    _mp_reduction.ForkingPickler.register(type_, _std_sharedctypes.reduce_ctype)
    if issubclass(type_, _ctypes.Array):
        type_ = _view_type(type_)
    obj = type_.from_buffer(array)
    obj._wrapper = _SharedBuffer(array, kind)
    return obj


class _PickledByName:
    """Makes multiprocessing's synchronized wrapper of a ctypes object pickle by the
    name of the shared array under it (as every mpsync object pickles), rather than only
    for a spawned child."""

    def __reduce__(self):
        return (_rebuild_synchronized, self._mpsync_state)


class _Synchronized(_PickledByName, _std_sharedctypes.Synchronized):
    pass


class _SynchronizedArray(_PickledByName, _std_sharedctypes.SynchronizedArray):
    pass


class _SynchronizedString(_PickledByName, _std_sharedctypes.SynchronizedString):
    pass


for _cls in (_Synchronized, _SynchronizedArray, _SynchronizedString):
    _cls.__name__ = _cls.__qualname__ = _cls.__name__.lstrip("_")  # as in their reprs
del _cls

# The wrapper class of each Structure or Union type, made as multiprocessing makes it
# (a property per field, each access under the lock).
_synchronized_classes = _weakref.WeakKeyDictionary()


def _synchronize(obj, lock, state):
    """multiprocessing's synchronized wrapper of ``obj`` taking ``lock``; ``state`` is
    what ``_rebuild_synchronized`` needs to open it again by name."""
    if isinstance(obj, _ctypes._SimpleCData):
        cls = _Synchronized
    elif isinstance(obj, _ctypes.Array):
        cls = _SynchronizedString if obj._type_ is _ctypes.c_char else _SynchronizedArray
    else:
        ctype = type(obj)
        cls = _synchronized_classes.get(ctype)
        if cls is None:
            fields = {field[0]: _std_sharedctypes.make_property(field[0])
                      for field in ctype._fields_}
            cls = type("Synchronized" + ctype.__name__,
                       (_PickledByName, _std_sharedctypes.SynchronizedBase), fields)
            _synchronized_classes[ctype] = cls
    wrapper = cls(obj, lock)
    wrapper._mpsync_state = state
    return wrapper


def _rebuild_synchronized(array, ctype, length, external_lock):
    """Unpickles a synchronized wrapper: the view of the array (opened by name), with the
    lock that was passed, or else the array's own."""
    lock = external_lock if external_lock is not None else array.get_lock()
    return _synchronize(_raw_view(array, ctype, length), lock,
                        (array, ctype, length, external_lock))


def _shared(ctype, code, length, init, lock, named):
    """The object behind Value (``length`` None) and Array, of ``ctype`` stored as the
    library's type ``code`` (None: as bytes): ``init`` is a ctypes object of the right
    type holding the initial contents, or None to keep them (zeros)."""
    with_lock, external = _lock_args(lock)
    count = 1 if length is None else length
    is_value = length is None
    # The initial contents are written by the library when this call creates the array,
    # before any other process can open it; an existing named array keeps its contents.
    initial = bytes(init) if init is not None and count else None
    if code is not None:
        # Typed elements: with a lock (its own or the caller's), the library's
        # synchronized array is the object; without, a ctypes view of its elements.
        raw = not with_lock and external is None
        array = _mpsync.SharedArray(code, count, with_lock, is_value, external,
                                    initial=initial, **named)
        obj = _raw_view(array, ctype, length) if raw else array
    else:
        array = _mpsync.SharedArray("B", _ctypes.sizeof(ctype) * count, with_lock, False,
                                    None, initial=initial, **named)
        obj = _raw_view(array, ctype, length)
        if with_lock or external is not None:
            lock = external if external is not None else array.get_lock()
            obj = _synchronize(obj, lock, (array, ctype, length, external))
    return obj


def Value(typecode_or_type, *args, lock=True, name=None, create=False, exclusive=False,
          mode=0o600, any_owner=False):
    """``multiprocessing.Value``: a synchronized shared ctypes object of any ctypes type
    (or type code); ``lock=False`` gives the raw ctypes object. With ``name``, for a
    type code or simple ctypes type, the array of length 1 a C program opens with
    ``mp_array_open(name, ..., 1, with_lock)``: the call that creates it gives it
    ``*args`` (before any other process can open it); opening an existing value keeps
    its contents."""
    ctype, code = _element(typecode_or_type)
    # The initial value made by ctypes itself: its conversions and errors.
    init = ctype(*args) if args else None
    return _shared(ctype, code, None, init, lock, dict(name=name, create=create,
                   exclusive=exclusive, mode=mode, any_owner=any_owner))


def RawValue(typecode_or_type, *args, name=None, create=False, exclusive=False, mode=0o600,
             any_owner=False):
    """``multiprocessing.RawValue``: a ctypes object in shared memory, without a lock."""
    return Value(typecode_or_type, *args, lock=False, name=name, create=create,
                 exclusive=exclusive, mode=mode, any_owner=any_owner)


def Array(typecode_or_type, size_or_initializer, *, lock=True, name=None, create=False,
          exclusive=False, mode=0o600, any_owner=False):
    """``multiprocessing.Array``: a synchronized shared array (``'c'`` arrays have
    ``.value`` and ``.raw``); ``lock=False`` gives the raw ctypes array. With ``name``,
    the array a C program opens with ``mp_array_open``: the call that creates it gives
    it the initializer (before any other process can open it); opening an existing
    array keeps its contents."""
    ctype, code = _element(typecode_or_type)
    if isinstance(size_or_initializer, int):
        if size_or_initializer < 0:
            raise ValueError("array size must be non-negative")
        length, init = size_or_initializer, None
    else:
        items = list(size_or_initializer)
        length = len(items)
        init = (ctype * length)(*items)
    return _shared(ctype, code, length, init, lock, dict(name=name, create=create,
                   exclusive=exclusive, mode=mode, any_owner=any_owner))


def RawArray(typecode_or_type, size_or_initializer, *, name=None, create=False,
             exclusive=False, mode=0o600, any_owner=False):
    """``multiprocessing.RawArray``: a ctypes array in shared memory, without a lock."""
    return Array(typecode_or_type, size_or_initializer, lock=False, name=name,
                 create=create, exclusive=exclusive, mode=mode, any_owner=any_owner)


def copy(obj):
    """``multiprocessing.sharedctypes.copy``: a raw shared ctypes object holding a copy of
    the ctypes object ``obj``."""
    new_obj = RawValue(type(obj))
    _ctypes.pointer(new_obj)[0] = obj
    return new_obj


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
        if name is None:
            self._blk = self._create_fresh(size, mode)
        else:
            self._blk = _mpsync.SharedMemoryBlock(name, bool(create), size, mode, any_owner)
        self._buf = memoryview(self._blk)
        self._track = track
        if track:
            from multiprocessing import resource_tracker
            resource_tracker.register("/" + self.name, "shared_memory")

    @staticmethod
    def _create_fresh(size, mode):
        """A new block under a fresh name, chosen as multiprocessing chooses it (its
        ``_make_filename``: ``/psm_`` and 8 random hex digits), retried while taken."""
        make_filename = getattr(_std_shm, "_make_filename", None)
        if make_filename is None:  # not in this Python: the library picks the same form
            return _mpsync.SharedMemoryBlock(None, True, size, mode, False)
        while True:
            try:
                return _mpsync.SharedMemoryBlock(make_filename(), True, size, mode, False)
            except FileExistsError:
                continue

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
    def _name(self):
        """The name with its leading slash, as multiprocessing's ``_name`` (what
        ``shm_open`` was given)."""
        return "/" + self._blk.name

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

class Queue(_mpsync._Queue):
    """``multiprocessing.Queue(maxsize=0)`` in shared memory: ``put``/``get`` (with
    ``block``/``timeout``), ``put_nowait``/``get_nowait``, ``qsize``/``empty``/``full``,
    ``close``/``join_thread``/``cancel_join_thread``, ``queue.Empty``/``queue.Full``;
    works with fork, spawn and forkserver children and ``Pool`` workers (it pickles by
    name). Also ``put_many``/``get_many`` (one lock acquisition for a batch),
    ``close_producers()`` (end of stream for every process: gets then raise
    ``EOFError`` once it is empty), and ``raw=True`` (bytes in, bytes out: a C program
    using ``mp_queue_open(queue.name, ...)`` can be the other end).

    Differences, by design: objects are pickled in the calling thread (no feeder
    thread), so a put is in the queue when it returns; the queue holds at most
    ``capacity`` bytes (default 1 MiB; each message takes its pickle's size + 4), so a
    put can wait for room even with ``maxsize=0``, and an object whose pickle can never
    fit raises ``ValueError``. A process killed at any moment never leaves a torn
    message or a stuck lock (docs/queue.md)."""

    __slots__ = ()

    def __new__(cls, maxsize=0, *, ctx=None, **kwargs):
        return super().__new__(cls, maxsize, **kwargs)

    def __init__(self, maxsize=0, *, ctx=None, **kwargs):
        pass

    def join_thread(self):
        """No feeder thread to join; as multiprocessing, only after ``close()``."""
        assert self._closed, "Queue {0!r} not closed".format(self)

    def cancel_join_thread(self):
        """No feeder thread: nothing to cancel."""

    @staticmethod
    def _on_queue_feeder_error(e, obj):
        """Called (as multiprocessing's feeder thread does) when ``obj`` cannot be
        pickled: prints the traceback; the object is dropped."""
        import traceback
        traceback.print_exception(type(e), e, e.__traceback__)

    def __repr__(self):
        return "<%s name=%r maxsize=%d capacity=%d%s>" % (
            type(self).__name__, self.name, self.maxsize, self.capacity,
            " raw" if self.raw else "")


class JoinableQueue(Queue):
    """``multiprocessing.JoinableQueue(maxsize=0)``: a ``Queue`` with ``task_done()``
    and ``join()``. The count of unfinished messages lives in the shared queue and is
    raised by the put itself. Unlike multiprocessing's, a consumer process killed
    between its ``get()`` and its ``task_done()`` does not make ``join`` wait for ever:
    once that process is provably dead, its messages count as *abandoned*
    (``abandoned``) and ``join`` returns (see docs/queue.md, "JoinableQueue")."""

    __slots__ = ()

    def task_done(self):
        """One message processed; ``ValueError`` if called more times than put."""
        self._task_done()

    def join(self, timeout=None):
        """Waits until every message put has been marked done. With a ``timeout``
        (an mpsync extension): returns False if it passed first."""
        return self._join(timeout)

    @property
    def abandoned(self):
        """How many unfinished messages were abandoned so far: taken by a consumer
        process that died before its ``task_done()`` (an mpsync extension)."""
        return self._abandoned()


class SimpleQueue(_mpsync._Queue):
    """``multiprocessing.SimpleQueue()``: ``put``, ``get``, ``empty``, ``close``, in
    shared memory (unbounded in messages, ``capacity`` bytes). Unlike ``Queue``, an
    object that cannot be pickled raises from ``put``."""

    __slots__ = ()

    def __new__(cls, *, ctx=None, **kwargs):
        return super().__new__(cls, 0, **kwargs)

    def __init__(self, *, ctx=None, **kwargs):
        pass

    def __repr__(self):
        return "<SimpleQueue name=%r>" % (self.name,)


def _rebuild(kind, name, any_owner, *extra):
    """Opens by name the object a pickle describes (see each class's ``__reduce__``)."""
    if kind == "Queue":
        cls, maxsize, capacity, raw = extra
        cls = {"SimpleQueue": SimpleQueue, "JoinableQueue": JoinableQueue}.get(cls, Queue)
        kwargs = dict(capacity=capacity, raw=raw, name=name, any_owner=any_owner)
        if cls is SimpleQueue:
            return SimpleQueue(**kwargs)
        return cls(maxsize, **kwargs)
    if kind == "Lock":
        return Lock(name=name, any_owner=any_owner)
    if kind == "RLock":
        return RLock(name=name, any_owner=any_owner, raise_owner_died=extra[0])
    if kind == "RWLock":
        return RWLock(name=name, any_owner=any_owner, raise_owner_died=extra[0])
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
