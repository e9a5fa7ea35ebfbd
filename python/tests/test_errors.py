"""Errors that say which object and why: the type and the name, the argument at fault,
what a name holds when it holds something else, who owns it; and `filename` on the
OSErrors of named objects, as the standard library sets it."""

import ctypes
import multiprocessing
import os
import pickle
import re

import pytest

import mpsync

# Every constructor of a named object, with a name.
NAMED = {
    "Lock": lambda name, **kw: mpsync.Lock(name=name, **kw),
    "RLock": lambda name, **kw: mpsync.RLock(name=name, **kw),
    "Semaphore": lambda name, **kw: mpsync.Semaphore(1, name=name, **kw),
    "Condition": lambda name, **kw: mpsync.Condition(mpsync.Lock(), name=name, **kw),
    "Event": lambda name, **kw: mpsync.Event(name=name, **kw),
    "Barrier": lambda name, **kw: mpsync.Barrier(2, name=name, **kw),
    "Value": lambda name, **kw: mpsync.Value("i", name=name, **kw),
    "Array": lambda name, **kw: mpsync.Array("d", 3, name=name, **kw),
    "SharedMemory": lambda name, **kw: mpsync.SharedMemory(name, **kw),
}


@pytest.mark.parametrize("kind", NAMED)
def test_an_invalid_name_is_named_with_the_reason(kind):
    with pytest.raises(ValueError) as e:
        NAMED[kind]("a/b")
    message = str(e.value)
    assert message.startswith(f"{kind}: name 'a/b' is invalid ('/' is not allowed): "), message
    assert "[A-Za-z0-9._-]" in message and f"NAME_MAX ({mpsync.NAME_MAX})" in message
    assert "MP_EINVAL" in message


def test_each_kind_of_invalid_name_says_why():
    reasons = {
        "": "it is empty",
        "..": "'..' is not a name",
        "x" * (mpsync.NAME_MAX + 1): f"it is {mpsync.NAME_MAX + 1} bytes long",
        "tab\there": r"'\t' is not allowed",
        "nul\0": r"'\0' is not allowed",
        "é": "'é' is not allowed",
    }
    for name, reason in reasons.items():
        with pytest.raises(ValueError, match=re.escape(f"is invalid ({reason})")):
            mpsync.RLock(name=name, create=True)
    long = "x" * 300
    with pytest.raises(ValueError) as e:
        mpsync.Lock(name=long)
    assert long not in str(e.value)  # shortened in the message


def test_other_invalid_arguments_are_named(uname):
    with pytest.raises(ValueError, match=rf"^Lock '{uname}': mode 0o1600 is invalid"):
        mpsync.Lock(name=uname, create=True, mode=0o1600)
    with pytest.raises(ValueError,
                       match=rf"^Event '{uname}': exclusive=True needs create=True"):
        mpsync.Event(name=uname, exclusive=True)
    with pytest.raises(ValueError, match=rf"^Semaphore '{uname}': value 5 is above maxvalue 2"):
        mpsync.Semaphore(5, maxvalue=2, name=uname, create=True)
    with pytest.raises(ValueError, match=r"^Semaphore: value 2147483648 is above SEM_VALUE_MAX"):
        mpsync.Semaphore(2**31)
    with pytest.raises(ValueError, match="above SEM_UNDO_VALUE_MAX"):
        mpsync.Semaphore(1, maxvalue=2**30, undo=True)
    with pytest.raises(ValueError, match="parties must be at most 65535, not 70000"):
        mpsync.Barrier(70000)
    with pytest.raises(ValueError, match=r"^unlink: name 'a/b' is invalid"):
        mpsync.unlink("a/b")


@pytest.mark.parametrize("kind", NAMED)
def test_file_not_found_has_the_name_as_filename(kind, uname):
    with pytest.raises(FileNotFoundError) as e:
        NAMED[kind](uname)
    assert e.value.filename == uname
    assert e.value.errno == 2
    assert f"no {kind} of that name" in str(e.value)
    assert "create=True creates it" in str(e.value)


def test_unlink_of_a_missing_name_has_filename(uname):
    with pytest.raises(FileNotFoundError) as e:
        mpsync.unlink(uname)
    assert e.value.filename == uname


def test_file_exists_has_filename_and_says_what_the_name_holds(uname):
    lock = mpsync.Lock(name=uname, create=True)
    try:
        with pytest.raises(FileExistsError) as e:
            mpsync.Lock(name=uname, create=True, exclusive=True)
        assert e.value.filename == uname
        assert "holds an mpsync.Lock" in str(e.value)
        with pytest.raises(FileExistsError) as e:
            mpsync.SharedMemory(uname, create=True, size=8)
        assert e.value.filename == uname
    finally:
        del lock
        mpsync.unlink(uname)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a name to another user")
def test_permission_error_has_filename_and_names_the_owner(uname):
    lock = mpsync.Lock(name=uname, create=True)
    try:
        os.chown(f"/dev/shm/{uname}", 4242, 4242)
        with pytest.raises(PermissionError) as e:
            mpsync.Lock(name=uname)
        assert e.value.filename == uname
        assert "belongs to uid 4242" in str(e.value) and "any_owner=True" in str(e.value)
    finally:
        del lock
        mpsync.unlink(uname)


def test_bad_object_says_what_the_name_holds(uname):
    lock = mpsync.Lock(name=f"{uname}-lock", create=True)
    arr = mpsync.Array("i", 4, name=f"{uname}-arr", create=True)
    undo = mpsync.Semaphore(1, undo=True, name=f"{uname}-sem", create=True)
    shm = mpsync.SharedMemory(f"{uname}-blk", create=True, size=64)
    try:
        cases = [
            (lambda: mpsync.RLock(name=f"{uname}-lock"),
             f"RLock '{uname}-lock': the name holds an mpsync.Lock, not an mpsync.RLock"),
            (lambda: mpsync.Array("d", 4, name=f"{uname}-arr"),
             f"Array '{uname}-arr': the name holds an array of type 'i', length 4, with a "
             "lock, not an array of type 'd', length 4, with a lock"),
            (lambda: mpsync.RawArray("i", 4, name=f"{uname}-arr"), "without a lock"),
            (lambda: mpsync.Semaphore(1, name=f"{uname}-sem"),
             "holds an undo Semaphore (undo=True), not a Semaphore"),
            (lambda: mpsync.Barrier(2, name=f"{uname}-arr"), "not a Barrier (parties=2)"),
            (lambda: mpsync.Event(name=f"{uname}-blk"),
             "holds a SharedMemory block (not a libmpsync object), not an Event"),
        ]
        for make, expected in cases:
            with pytest.raises(mpsync.BadObjectError) as e:
                make()
            assert expected in str(e.value)
            assert "MP_EBADOBJ" in str(e.value)
    finally:
        shm.close()
        for suffix in ("lock", "arr", "sem", "blk"):
            mpsync.unlink(f"{uname}-{suffix}")


def test_the_package_exceptions_belong_to_the_package():
    assert mpsync.BadObjectError.__module__ == "mpsync"
    assert mpsync.BusyError.__module__ == "mpsync"
    error = pickle.loads(pickle.dumps(mpsync.BadObjectError("why")))
    assert type(error) is mpsync.BadObjectError and str(error) == "why"


# Errors of calls on an existing object: the same class as before, and a message that
# starts with the object's type, its name ("(anonymous)" without one) and the operation.

def _subject(kind, name):
    return f"{kind} '{name}'" if name else f"{kind} (anonymous)"


@pytest.fixture(params=["named", "anonymous"])
def name_or_none(request, uname):
    if request.param == "anonymous":
        yield None
        return
    yield uname
    for suffix in ("", "-arr"):
        try:
            mpsync.unlink(uname + suffix)
        except FileNotFoundError:
            pass


def _named(name, **kw):
    return dict(name=name, create=True, **kw) if name else {}


def test_releasing_an_unheld_lock_names_the_lock(name_or_none):
    lock = mpsync.Lock(**_named(name_or_none))
    with pytest.raises(ValueError) as e:
        lock.release()
    assert str(e.value).startswith(f"{_subject('Lock', name_or_none)}: release: "), e.value
    assert "MP_EOVERFLOW" in str(e.value)


def test_an_rlock_released_by_a_non_owner_names_the_lock(name_or_none):
    import threading
    lock = mpsync.RLock(**_named(name_or_none))
    taken, done = threading.Event(), threading.Event()

    def hold():
        with lock:
            taken.set()
            done.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert taken.wait(10)
        with pytest.raises(AssertionError) as e:
            lock.release()
    finally:
        done.set()
        t.join()
    assert str(e.value).startswith(f"{_subject('RLock', name_or_none)}: release: "), e.value
    assert "MP_ENOTOWNER" in str(e.value)


def test_an_arrays_lock_released_by_a_non_owner_names_the_array(name_or_none):
    name = name_or_none and name_or_none + "-arr"
    array = mpsync.Array("i", 3, **_named(name))
    with pytest.raises(AssertionError) as e:
        array.get_lock().release()
    assert str(e.value).startswith(f"RLock of {_subject('Array', name)}: release: "), e.value


@pytest.mark.parametrize("kind", ["Semaphore", "BoundedSemaphore"])
def test_a_semaphore_released_past_its_bound_names_the_semaphore(kind, name_or_none):
    if kind == "BoundedSemaphore":
        sem = mpsync.BoundedSemaphore(1, **_named(name_or_none))
    else:
        sem = mpsync.Semaphore(1, maxvalue=1, **_named(name_or_none))
    with pytest.raises(ValueError) as e:
        sem.release()
    assert str(e.value).startswith(f"{_subject(kind, name_or_none)}: release: "), e.value
    assert "MP_EOVERFLOW" in str(e.value)


def test_a_barrier_wait_after_abort_names_the_barrier(name_or_none):
    import threading
    barrier = mpsync.Barrier(2, **_named(name_or_none))
    barrier.abort()
    with pytest.raises(threading.BrokenBarrierError) as e:
        barrier.wait(timeout=5)
    assert str(e.value).startswith(f"{_subject('Barrier', name_or_none)}: wait: "), e.value
    assert "MP_EBROKEN" in str(e.value)


@pytest.mark.parametrize("kind", ["Array", "Value"])
def test_an_index_out_of_range_names_the_array(kind, name_or_none):
    kw = _named(name_or_none)
    if kind == "Array":
        array, shown = mpsync.Array("i", 3, **kw), "Array"
    else:
        # A Value is indexed through its shared object.
        array, shown = mpsync.Value("i", **kw).get_obj(), "Value"
    for op, access in [("__getitem__", lambda: array[5]),
                       ("__setitem__", lambda: array.__setitem__(-9, 1))]:
        with pytest.raises(IndexError) as e:
            access()
        message = str(e.value)
        assert message.startswith(f"{_subject(shown, name_or_none)}: {op}: "), message
        assert "invalid index" in message


class _Point(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int)]


def _index_errors(view, subject):
    """Both accesses of `view` out of range raise an IndexError naming `subject` (a
    regular expression), the operation and the index."""
    for op, index, access in [("__getitem__", 7, lambda: view[7]),
                              ("__setitem__", -9, lambda: view.__setitem__(-9, view[0]))]:
        with pytest.raises(IndexError) as e:
            access()
        expected = f"{subject}: {re.escape(op)}: invalid index {index} \\(length 3\\)"
        assert re.fullmatch(expected, str(e.value)), e.value


def _child_index_error(view, subject):
    _index_errors(view, subject)


def test_raw_ctypes_views_name_the_array_in_their_index_errors(name_or_none):
    """Array(..., lock=False), Value(<ctypes array type>, lock=False) and the
    synchronized wrapper of an array of Structures are ctypes objects: their IndexError
    comes from ctypes, and names the shared array, the operation and the index as
    mpsync's own errors do (also in a child process the view was passed to)."""
    second = dict(name=name_or_none + "-arr", create=True) if name_or_none else {}
    raw = mpsync.Array("i", [1, 2, 3], lock=False, **_named(name_or_none))
    assert isinstance(raw, ctypes.Array) and type(raw).__name__ == "c_int_Array_3"
    assert raw[:] == [1, 2, 3] and raw[-1] == 3
    _index_errors(raw, re.escape(_subject("Array", name_or_none)))
    value = mpsync.Value(ctypes.c_double * 3, lock=False, **second)
    _index_errors(value, re.escape(_subject("Value", name_or_none and name_or_none + "-arr")))
    points = mpsync.Array(_Point, 3)
    _index_errors(points, re.escape("Array (anonymous)"))
    # The slots are replaced only on a subclass of a ctypes array type.
    for not_a_view in (int, ctypes.Array, ctypes.c_int * 3, type(raw).__mro__[1]):
        with pytest.raises(TypeError):
            mpsync._mpsync._name_index_errors(not_a_view)
    # In the child, an anonymous array is one it opened by its generated name.
    in_child = re.escape(_subject("Array", name_or_none)) if name_or_none else "Array '[^']+'"
    ctx = multiprocessing.get_context("spawn")  # the view is pickled for the child
    child = ctx.Process(target=_child_index_error, args=(raw, in_child))
    child.start()
    child.join(60)
    assert child.exitcode == 0
