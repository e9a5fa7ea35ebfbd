"""Drop-in details of multiprocessing that CPython's own tests check
(test_cpython_suite.py runs those) and a few they do not: raw shared ctypes objects,
shared ctypes of any type, SharedMemory._name, the Condition's invariant counts, the
errors of Value and Condition, a quiet exit while holding locks, and the type stubs."""

import ctypes
import multiprocessing
import multiprocessing.sharedctypes
import os
import pickle
import signal
import subprocess
import sys
import threading

import pytest

import mpsync

METHODS = [m for m in ("fork", "spawn") if m in multiprocessing.get_all_start_methods()]


class Point(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_double), ("tag", ctypes.c_char * 4)]


class Number(ctypes.Union):
    _fields_ = [("i", ctypes.c_int64), ("d", ctypes.c_double)]


# --- Value(..., lock=False), RawValue, RawArray: the raw ctypes object ---------------

def test_lock_false_gives_the_raw_ctypes_object():
    for raw in (mpsync.Value("i", 5, lock=False), mpsync.RawValue("i", 5),
                mpsync.Value(ctypes.c_int, 5, lock=False)):
        assert type(raw) is ctypes.c_int and raw.value == 5
        assert not hasattr(raw, "get_lock") and not hasattr(raw, "get_obj")
    for raw in (mpsync.Array("i", range(4), lock=False), mpsync.RawArray("i", range(4))):
        assert isinstance(raw, ctypes.Array) and raw._type_ is ctypes.c_int
        assert raw[:] == [0, 1, 2, 3] and len(raw) == 4
        assert not hasattr(raw, "get_lock") and not hasattr(raw, "get_obj")
    chars = mpsync.RawArray("c", b"hi\x00!")
    assert (chars.value, chars.raw) == (b"hi", b"hi\x00!")
    assert mpsync.RawArray("d", 0)[:] == []
    # With a lock (its own or one passed), it is the synchronized object, as before.
    assert mpsync.Value("i", 5).get_obj().value == 5
    lock = mpsync.Lock()
    assert mpsync.Array("i", 3, lock=lock).get_lock() is lock


def test_a_raw_object_is_shared_memory_seen_through_its_array():
    raw = mpsync.RawArray("q", [1, 2, 3])
    # The elements are the named library array's (what a C program opens by this name).
    again = mpsync.RawArray("q", 3, name=raw._wrapper.name)
    again[1] = 20
    assert raw[:] == [1, 20, 3]


def _bump_raw(value, array):
    value.value += 1
    for i in range(len(array)):
        array[i] *= 10


@pytest.mark.parametrize("method", METHODS)
def test_raw_objects_are_shared_with_children(method):
    value, array = mpsync.RawValue("i", 1), mpsync.RawArray("d", [1.0, 2.0])
    p = multiprocessing.get_context(method).Process(target=_bump_raw, args=(value, array))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    assert value.value == 2 and array[:] == [10.0, 20.0]


def test_a_raw_object_is_not_silently_copied_by_pickle():
    with pytest.raises(RuntimeError, match="Process arguments or by inheritance"):
        pickle.dumps(mpsync.RawValue("i", 1))
    with pytest.raises(RuntimeError, match="Process arguments or by inheritance"):
        pickle.dumps(mpsync.Value(Point, lock=False))


# --- Value/Array of any ctypes type -----------------------------------------------------

def test_value_of_a_structure_union_and_other_ctypes_types():
    p = mpsync.Value(Point, 3, 2.5, b"ab")
    assert (p.x, p.y, p.tag) == (3, 2.5, b"ab")
    assert repr(p).startswith("<SynchronizedPoint wrapper for <")
    with p.get_lock():
        p.x += 1
    assert p.get_obj().x == 4
    raw = mpsync.Value(Point, 7, lock=False)
    assert type(raw) is Point and raw.x == 7 and not hasattr(raw, "get_lock")
    u = mpsync.Value(Number)
    u.d = 1.0
    assert u.i == 0x3FF0000000000000
    assert mpsync.Value("u", "é").value == "é"
    assert mpsync.Value(ctypes.c_longdouble, 1.25).value == 1.25
    pair = mpsync.Value(ctypes.c_int * 2, 1, 2)
    assert pair[:] == [1, 2]
    points = mpsync.Array(Point, 2)
    points[1] = Point(5, 0.5, b"z")
    assert (points[1].x, points[1].tag) == (5, b"z")
    # A lock passed in is the one taken.
    lock = mpsync.RLock()
    q = mpsync.Value(Point, lock=lock)
    assert q.get_lock() is lock


def test_type_codes_are_the_librarys_for_c_programs():
    """A type code, a ctypes type or its subclass gives the library's typed array (the
    one a C program opens with mp_array_open and that type); other types are bytes."""
    class MyInt(ctypes.c_int):
        pass
    for arg, code in [("l", "l"), ("q", "q"), (ctypes.c_long, "l"), (ctypes.c_double, "d"),
                      (MyInt, "i"), (ctypes.c_bool, "?"), (Point, "B")]:
        assert mpsync.RawValue(arg)._wrapper.array.typecode == code, arg
    assert mpsync.Value("l").typecode == "l" and mpsync.Array("q", 2).typecode == "q"
    swapped = mpsync.RawValue(ctypes.c_int.__ctype_be__, 1)
    assert swapped.value == 1 and bytes(swapped._wrapper.array[:]) == b"\0\0\0\1"


def _double_point(point, points):
    with point.get_lock():
        point.x *= 2
    point.y *= 2
    for p in points:
        p.x *= 2


@pytest.mark.parametrize("method", METHODS)
def test_structures_are_shared_with_children(method):
    point, points = mpsync.Value(Point, 3, 1.5), mpsync.RawArray(Point, [(1,), (2,)])
    p = multiprocessing.get_context(method).Process(target=_double_point,
                                                    args=(point, points))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    assert (point.x, point.y) == (6, 3.0)
    assert [q.x for q in points] == [2, 4]


def test_a_synchronized_structure_pickles_by_name():
    point = mpsync.Value(Point, 1)
    again = pickle.loads(pickle.dumps(point))
    again.x = 42
    assert point.x == 42
    assert again.get_lock().name is None  # the array's own lock
    lock = mpsync.Lock()
    point = mpsync.Value(Point, lock=lock)
    again = pickle.loads(pickle.dumps(point))
    assert again.get_lock().name == lock.name


def test_copy_is_a_raw_shared_copy():
    original = Point(2, 5.0)
    copied = mpsync.copy(original)
    original.x = 0
    assert type(copied) is Point and (copied.x, copied.y) == (2, 5.0)
    assert copied._wrapper.name.startswith(mpsync._mpsync.ANONYMOUS_NAME_PREFIX)


def test_value_errors_are_multiprocessings():
    for args in [("i", "a"), ("d", "x"), ("i", 1, 2), ("c", "ab")]:
        with pytest.raises(TypeError) as ours:
            mpsync.Value(*args)
        with pytest.raises(TypeError) as theirs:
            multiprocessing.sharedctypes.Value(*args)
        assert str(ours.value) == str(theirs.value)
    v = mpsync.Value("i", 1)
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        v.value = "a"
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        mpsync.Array("i", 2)[0] = "a"
    with pytest.raises(TypeError, match="unsupported type code 'x'"):
        mpsync.Value("x")
    with pytest.raises(TypeError, match="neither a type code nor a ctypes type"):
        mpsync.Array(int, 2)


# --- SharedMemory._name ---------------------------------------------------------------

def test_shared_memory_name_with_slash():
    shm = mpsync.SharedMemory(create=True, size=8)
    try:
        assert shm.name.startswith("psm_") and len(shm.name) == 12
        assert shm._name == "/" + shm.name
        assert mpsync.SharedMemory(shm._name).name == shm.name
    finally:
        shm.close()
        shm.unlink()


# --- Condition ------------------------------------------------------------------------

def test_condition_refuses_other_locks_at_construction():
    for lock in (multiprocessing.RLock(), multiprocessing.Lock(), threading.RLock()):
        with pytest.raises(TypeError) as e:
            mpsync.Condition(lock)
        message = str(e.value)
        assert "mpsync.RLock or an mpsync.Lock" in message
        assert type(lock).__qualname__ in message
    mpsync.Condition(mpsync.Array("i", 2).get_lock())  # an array's lock is an RLock


def _wait_forever(cond, ready):
    with cond:
        ready.release()
        cond.wait()


def test_condition_invariant_counts():
    """`_sleeping_count - _woken_count` counts the waiters no notify picked, and
    `_wait_semaphore` the notifications handed out and not taken; a waiter that was
    killed takes the one it was handed to its grave, until notify_all."""
    cond = mpsync.Condition()
    counts = lambda: (cond._sleeping_count.get_value(), cond._woken_count.get_value(),
                      cond._wait_semaphore.get_value())
    assert counts() == (0, 0, 0)
    ready = mpsync.Semaphore(0)
    child = multiprocessing.get_context("fork").Process(target=_wait_forever,
                                                        args=(cond, ready))
    child.start()
    try:
        assert ready.acquire(timeout=60)
        with cond:  # the child is inside wait(): it let go of the lock
            assert counts() == (1, 0, 0)
        os.kill(child.pid, signal.SIGKILL)
        child.join(60)
        with cond:
            cond.notify()
        assert counts() == (0, 0, 1)
        with cond:
            cond.notify_all()
        assert counts() == (0, 0, 0)
    finally:
        child.kill()


def test_condition_wait_semaphore_of_an_unlinked_name_is_not_implemented(uname):
    lock = mpsync.Lock()
    cond = mpsync.Condition(lock, name=uname, create=True)
    mpsync.unlink(uname)
    with pytest.raises(NotImplementedError, match=f"Condition '{uname}'"):
        cond._wait_semaphore.get_value()


# --- Exiting while holding -------------------------------------------------------------

def test_exiting_while_holding_locks_prints_nothing():
    code = """if 1:
        import ctypes, mpsync
        rlock = mpsync.RLock(); rlock.acquire(); rlock.acquire()
        undo = mpsync.Semaphore(2, undo=True); undo.acquire()
        value = mpsync.Value("i"); value.get_lock().acquire()
        class S(ctypes.Structure):
            _fields_ = [("x", ctypes.c_int)]
        point = mpsync.Value(S); point.get_lock().acquire()
        cond = mpsync.Condition(); cond.acquire()
        print("held")
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (0, "held\n", "")


def test_a_named_value_or_array_gets_its_initial_contents_from_its_creator():
    """The call that creates a named Value/Array gives it its initial values; a later
    opener's values are ignored (the object keeps its contents)."""
    tag = f"init-{os.getpid()}"
    names = [f"{tag}-v", f"{tag}-a", f"{tag}-s", f"{tag}-raw"]
    try:
        v = mpsync.Value("i", 5, name=names[0], create=True)
        assert v.value == 5
        assert mpsync.Value("i", 7, name=names[0], create=True).value == 5
        a = mpsync.Array("d", [1.5, 2.5], name=names[1], create=True)
        assert list(a) == [1.5, 2.5]
        assert list(mpsync.Array("d", [9.0, 9.0], name=names[1], create=True)) == [1.5, 2.5]
        s = mpsync.Value(Point, 3, 4, name=names[2], create=True)
        assert (s.x, s.y) == (3, 4)
        r = mpsync.RawValue("q", -2, name=names[3], create=True)
        assert r.value == -2
        # Unchanged: an opener that gives no values sees the creator's.
        assert mpsync.Value("i", name=names[0]).value == 5
    finally:
        for n in names:
            try:
                mpsync.unlink(n)
            except FileNotFoundError:
                pass


def test_concurrent_creators_of_a_named_value_agree_on_one_creators_contents():
    """Processes that create one named Value at the same moment, each with its own
    initial value: one call creates it (the core tells it which), and every process
    sees that creator's value, never zeros nor a mix."""
    creators = 6
    for round_ in range(4):
        name = f"init-race-{os.getpid()}-{round_}"
        gate_rd, gate_wr = os.pipe()
        report_rd, report_wr = os.pipe()
        pids = []
        for i in range(creators):
            pid = os.fork()
            if pid == 0:  # the child: wait for the gate, create, report what it sees
                code = 1
                try:
                    os.close(gate_wr)
                    os.read(gate_rd, 1)
                    v = mpsync.Value("q", 1000 + i, name=name, create=True)
                    os.write(report_wr, f"{v.value}\n".encode())
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
        os.close(gate_rd)
        os.close(report_wr)
        os.close(gate_wr)  # everyone creates now
        try:
            with os.fdopen(report_rd) as report:
                seen = [int(line) for line in report]
            for pid in pids:
                assert os.waitpid(pid, 0)[1] == 0
            assert len(seen) == creators
            assert len(set(seen)) == 1 and seen[0] in range(1000, 1000 + creators), seen
            assert mpsync.Value("q", name=name).value == seen[0]
        finally:
            mpsync.unlink(name)
