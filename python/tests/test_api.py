"""Class by class, the behaviour multiprocessing documents (signatures, results,
exceptions, reprs), checked on mpsync's objects."""

import ctypes
import os
import pickle
import threading
import time
from multiprocessing import shared_memory as std_shm

import pytest

import mpsync


def in_thread(f):
    """Runs f in another thread and returns its result (or raises its exception)."""
    out = {}

    def run():
        try:
            out["r"] = f()
        except BaseException as e:  # noqa: BLE001 - handed back to the caller
            out["e"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join(30)
    assert not t.is_alive()
    if "e" in out:
        raise out["e"]
    return out["r"]


# --- Lock ---------------------------------------------------------------------------

def test_lock_acquire_release_and_timeouts():
    lock = mpsync.Lock()
    assert lock.acquire() is True
    assert lock.acquire(False) is False
    assert lock.acquire(block=False, timeout=10) is False  # block=False ignores timeout
    assert lock.acquire(timeout=0) is False
    assert lock.acquire(True, -1) is False  # negative: one try, as multiprocessing
    start = time.monotonic()
    assert lock.acquire(timeout=0.05) is False
    assert time.monotonic() - start >= 0.05
    # Any thread (or process) may release a Lock.
    in_thread(lock.release)
    assert lock.acquire(timeout=None) is True
    lock.release()
    with pytest.raises(ValueError):
        lock.release()


def test_lock_context_manager_and_repr():
    lock = mpsync.Lock()
    assert repr(lock) == "<Lock(owner=None)>"
    with lock as got:
        assert got is True
        assert repr(lock) == "<Lock(owner=MainProcess)>"
        assert in_thread(lambda: repr(lock)) == "<Lock(owner=SomeOtherThread)>"
    assert lock.acquire(False) is True
    lock.release()


# --- RLock --------------------------------------------------------------------------

def test_rlock_recursion_ownership_and_repr():
    lock = mpsync.RLock()
    assert repr(lock) == "<RLock(None, 0)>"
    assert lock.acquire() and lock.acquire(timeout=1)
    assert repr(lock) == "<RLock(MainProcess, 2)>"
    assert in_thread(lambda: lock.acquire(timeout=0.01)) is False
    assert in_thread(lambda: repr(lock)) == "<RLock(SomeOtherProcess, nonzero)>"
    with pytest.raises(AssertionError):
        in_thread(lock.release)  # a non-owner's release
    lock.release()
    lock.release()
    with pytest.raises(AssertionError):
        lock.release()
    with lock:
        assert lock._is_mine() and lock._count() == 1
    assert not lock._is_mine()


# --- Semaphore, BoundedSemaphore ----------------------------------------------------

def test_semaphore_counts_and_is_unbounded():
    sem = mpsync.Semaphore(2)
    assert repr(sem) == "<Semaphore(value=2)>"
    assert sem.acquire() and sem.acquire()
    assert sem.acquire(False) is False
    assert sem.acquire(timeout=0.02) is False
    assert sem.get_value() == 0
    for _ in range(5):
        sem.release()  # beyond the initial value: fine
    assert sem.get_value() == 5
    with pytest.raises(ValueError):
        mpsync.Semaphore(-1)
    assert mpsync.Semaphore().get_value() == 1


def test_bounded_semaphore_released_too_often_raises_value_error():
    sem = mpsync.BoundedSemaphore(2)
    assert isinstance(sem, mpsync.Semaphore)
    assert repr(sem) == "<BoundedSemaphore(value=2, maxvalue=2)>"
    with pytest.raises(ValueError):
        sem.release()
    with sem:
        assert sem.get_value() == 1
    assert sem.get_value() == 2


# --- Condition ----------------------------------------------------------------------

def test_condition_wait_notify_and_wait_for():
    cond = mpsync.Condition()
    with pytest.raises(AssertionError):
        cond.wait(0.01)  # without the lock
    with cond:
        assert cond.wait(0.02) is False
    items = []

    def consumer():
        with cond:
            return cond.wait_for(lambda: items, timeout=30)

    t_result = []
    t = threading.Thread(target=lambda: t_result.append(consumer()))
    t.start()
    time.sleep(0.05)
    with cond:
        items.append(1)
        cond.notify()
    t.join(30)
    assert t_result == [[1]]
    with cond:
        assert cond.wait_for(lambda: False, timeout=0.02) is False
        cond.notify_all()
    with pytest.raises(AssertionError):
        cond.notify()
    assert repr(cond).startswith("<Condition(<RLock(")


def test_condition_with_a_plain_lock():
    lock = mpsync.Lock()
    cond = mpsync.Condition(lock)
    with cond:
        assert cond.wait(0.01) is False
        assert lock.acquire(False) is False  # held again after the wait


# --- Event --------------------------------------------------------------------------

def test_event():
    ev = mpsync.Event()
    assert ev.is_set() is False
    assert ev.wait(0.01) is False
    assert ev.wait(0) is False
    threading.Timer(0.05, ev.set).start()
    assert ev.wait(30) is True
    assert ev.wait() is True
    ev.clear()
    assert ev.is_set() is False


# --- Barrier ------------------------------------------------------------------------

def test_barrier_indices_action_and_breaking():
    import threading as th
    ran = []
    bar = mpsync.Barrier(3, action=lambda: ran.append(1), timeout=30)
    assert (bar.parties, bar.n_waiting, bar.broken) == (3, 0, False)
    results = []
    threads = [th.Thread(target=lambda: results.append(bar.wait())) for _ in range(2)]
    for t in threads:
        t.start()
    results.append(bar.wait())
    for t in threads:
        t.join(30)
    assert sorted(results) == [0, 1, 2]
    assert ran == [1]
    # A timeout breaks the barrier for everyone.
    with pytest.raises(th.BrokenBarrierError):
        bar.wait(0.02)
    assert bar.broken
    with pytest.raises(th.BrokenBarrierError):
        bar.wait()
    bar.reset()
    assert not bar.broken
    bar.abort()
    with pytest.raises(th.BrokenBarrierError):
        bar.wait()


def test_barrier_action_exception_breaks_and_propagates():
    def boom():
        raise KeyError("in action")

    bar = mpsync.Barrier(1, action=boom)
    with pytest.raises(KeyError):
        bar.wait()
    assert bar.broken


# --- Value, Array, RawValue, RawArray -----------------------------------------------

def test_value():
    v = mpsync.Value("i", 7)
    assert v.value == 7
    assert repr(v) == "<Synchronized wrapper for c_int(7)>"
    with v.get_lock():
        v.value += 1
    assert v.value == 8
    assert v.get_obj().value == 8
    v.value = 2**40 + 5  # truncated to the C type, as ctypes does
    assert v.value == 5
    with pytest.raises(TypeError):
        v.value = 1.5
    d = mpsync.Value(ctypes.c_double, 1.5)
    assert d.value == 1.5
    c = mpsync.Value("c", b"x")
    assert c.value == b"x"
    b = mpsync.Value("?", True)
    assert b.value is True
    assert mpsync.Value("i").value == 0


def test_value_lock_argument():
    raw = mpsync.Value("i", 1, lock=False)
    assert repr(raw) == "c_int(1)"
    with pytest.raises(AttributeError):
        raw.get_lock()
    lock = mpsync.Lock()
    v = mpsync.Value("i", 1, lock=lock)
    assert v.get_lock() is lock
    with v:
        assert lock.acquire(False) is False
    with pytest.raises(AttributeError):
        mpsync.Value("i", 1, lock=object())
    assert repr(mpsync.RawValue("h", 3)) == "c_short(3)"


def test_array_indexing_slicing_and_length():
    a = mpsync.Array("i", [1, 2, 3, 4])
    assert len(a) == 4
    assert a[0] == 1 and a[-1] == 4
    assert a[1:3] == [2, 3]
    assert a[::2] == [1, 3]
    a[1:3] = [20, 30]
    a[::2] = [10, 40]
    assert a[:] == [10, 20, 40, 4]
    with pytest.raises(IndexError):
        a[4]
    with pytest.raises(ValueError):
        a[0:2] = [1]
    assert mpsync.Array("d", 3)[:] == [0.0, 0.0, 0.0]
    assert repr(a).startswith("<SynchronizedArray wrapper for <mpsync.c_int_Array_4 object")
    with a.get_lock():
        a[0] += 1
    assert a[0] == 11
    r = mpsync.RawArray(ctypes.c_ushort, 3)
    r[0] = 65535 + 2
    assert r[0] == 1
    with pytest.raises(AttributeError):
        r.get_lock()


def test_char_array_value_and_raw():
    s = mpsync.Array("c", b"hello")
    assert (s.value, s.raw) == (b"hello", b"hello")
    s.value = b"hi"
    assert s.value == b"hi"
    assert s.raw == b"hi\x00lo"
    assert s[:] == b"hi\x00lo"
    with pytest.raises(ValueError):
        s.value = b"too long!"
    s.raw = b"abcde"
    assert s.value == b"abcde"
    assert repr(s).startswith("<SynchronizedString wrapper for")
    with pytest.raises(AttributeError):
        mpsync.Array("i", 2).value


def test_buffer_protocol_is_zero_copy():
    a = mpsync.Array("d", [1.0, 2.0, 3.0])
    m = memoryview(a)
    assert (m.format, m.itemsize, m.shape, m.tolist()) == ("d", 8, (3,), [1.0, 2.0, 3.0])
    m[1] = 5.0
    assert a[1] == 5.0
    m.release()


def test_numpy_frombuffer_shares_memory():
    np = pytest.importorskip("numpy")
    a = mpsync.RawArray("q", 4)
    view = np.frombuffer(a, dtype=np.int64)
    view[2] = 42
    assert a[2] == 42
    shm = mpsync.SharedMemory(create=True, size=32)
    try:
        arr = np.frombuffer(shm.buf, dtype=np.uint8)
        arr[:] = 9
        assert bytes(shm.buf[:2]) == b"\x09\x09"
        del arr
    finally:
        shm.close()
        shm.unlink()


# --- SharedMemory, ShareableList ----------------------------------------------------

def test_shared_memory_create_attach_close_unlink():
    with pytest.raises(ValueError):
        mpsync.SharedMemory(create=True, size=0)
    with pytest.raises(ValueError):
        mpsync.SharedMemory()
    a = mpsync.SharedMemory(create=True, size=100)
    assert a.name.startswith("psm_") and a.size == 100
    assert repr(a) == f"SharedMemory({a.name!r}, size=100)"
    a.buf[:3] = b"abc"
    b = mpsync.SharedMemory(a.name)
    assert bytes(b.buf[:3]) == b"abc"
    # The standard class sees the same block.
    c = std_shm.SharedMemory(a.name, track=False) if _has_track() else None
    if c is not None:
        assert bytes(c.buf[:3]) == b"abc"
        c.close()
    c2 = pickle.loads(pickle.dumps(a))
    assert bytes(c2.buf[:3]) == b"abc"
    c2.close()
    view = b.buf[0:1]
    with pytest.raises(BufferError):
        b.close()  # a view of the block is still alive
    view.release()
    b.close()
    a.close()
    a.unlink()
    with pytest.raises(FileNotFoundError):
        mpsync.SharedMemory(a.name)


def _has_track():
    import inspect
    return "track" in inspect.signature(std_shm.SharedMemory).parameters


def test_shareable_list_interoperates_with_the_standard_one():
    sl = mpsync.ShareableList([1, 2.5, "text", b"bytes", None, True])
    try:
        assert list(sl) == [1, 2.5, "text", b"bytes", None, True]
        sl[0] = 99
        other = std_shm.ShareableList(name=sl.shm.name)
        assert other[0] == 99
        # The standard list registered with the resource tracker; undo that so that
        # the tracker does not unlink the block behind this test's back.
        from multiprocessing import resource_tracker
        resource_tracker.unregister("/" + sl.shm.name, "shared_memory")
        other.shm.close()
        assert isinstance(sl.shm, mpsync.SharedMemory)
        again = pickle.loads(pickle.dumps(sl))
        assert again[2] == "text"
        again.shm.close()
    finally:
        sl.shm.close()
        sl.shm.unlink()


# --- names, pickling, anonymous objects ---------------------------------------------

def test_named_objects_are_shared_and_exclusive_creation_refuses(uname):
    a = mpsync.Lock(name=uname, create=True, exclusive=True)
    with pytest.raises(FileExistsError):
        mpsync.Lock(name=uname, create=True, exclusive=True)
    b = mpsync.Lock(name=uname)
    with a:
        assert b.acquire(False) is False
    with pytest.raises(mpsync.BadObjectError):
        mpsync.RLock(name=uname)  # another type under that name
    with pytest.raises(FileNotFoundError):
        mpsync.Event(name=uname + "-missing")
    mpsync.unlink(uname)


def test_pickled_objects_are_the_same_objects():
    lock = mpsync.Lock()
    copy = pickle.loads(pickle.dumps(lock))
    with lock:
        assert copy.acquire(False) is False
    v = mpsync.Value("i", 3)
    assert pickle.loads(pickle.dumps(v)).value == 3
    sem = mpsync.BoundedSemaphore(2)
    s2 = pickle.loads(pickle.dumps(sem))
    assert type(s2) is mpsync.BoundedSemaphore and s2.get_value() == 2


def test_anonymous_names_go_away_with_their_objects():
    lock = mpsync.Lock()
    path = "/dev/shm/" + lock.name
    assert os.path.exists(path)
    del lock
    import gc
    gc.collect()
    assert not os.path.exists(path)
