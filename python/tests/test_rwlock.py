"""mpsync.RWLock: read()/write() context managers, acquire_*/release_* with block and
timeout, errors, and owner-death reports from fork and spawn children killed holding
either side."""

import multiprocessing
import os
import signal
import threading

import pytest

import mpsync

METHODS = [m for m in ("fork", "spawn") if m in multiprocessing.get_all_start_methods()]


def _hold_and_die(lock, write):
    if write:
        assert lock.acquire_write(timeout=30)
    else:
        assert lock.acquire_read(timeout=30)
    os.kill(os.getpid(), signal.SIGKILL)


def _count(lock, value, n):
    for i in range(n):
        if i % 4 == 0:
            with lock.write(timeout=60):
                value.value += 1
        else:
            with lock.read(timeout=60):
                assert value.value >= 0


def test_read_and_write_context_managers_and_errors():
    lock = mpsync.RWLock()
    assert lock.READERS == 64
    with lock.read():
        with lock.read():  # re-entry
            assert lock._read_level() == 2
        with pytest.raises(RuntimeError, match="MP_EDEADLK"):
            lock.acquire_write()  # upgrade refused, never a silent deadlock
        other = []
        t = threading.Thread(target=lambda: other.append(
            (lock.acquire_read(timeout=1), lock.release_read(), lock.acquire_write(False))))
        t.start()
        t.join()
        assert other == [(True, None, False)]
    with lock.write():
        assert lock._is_writer()
        with pytest.raises(RuntimeError):
            lock.acquire_read()
        t = threading.Thread(target=lambda: other.append(lock.acquire_read(timeout=0.05)))
        t.start()
        t.join()
        assert other[-1] is False
    with pytest.raises(AssertionError, match="MP_ENOTOWNER"):
        lock.release_read()
    with pytest.raises(AssertionError):
        lock.release_write()
    assert not lock.owner_died
    assert "not held" in repr(lock)


def test_write_timeout_raises_timeout_error():
    lock = mpsync.RWLock()
    assert lock.acquire_read()
    t = threading.Thread(target=lambda: pytest.raises(TimeoutError, lambda: lock.write(timeout=0.05).__enter__()))
    t.start()
    t.join()
    lock.release_read()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("write", [True, False])
def test_a_killed_holder_is_reported_once(method, write):
    ctx = multiprocessing.get_context(method)
    lock = mpsync.RWLock()
    p = ctx.Process(target=_hold_and_die, args=(lock, write))
    p.start()
    p.join(60)
    assert p.exitcode == -signal.SIGKILL
    assert lock.acquire_write(timeout=30)
    assert lock.owner_died
    lock.release_write()
    with lock.read():
        assert not lock.owner_died  # told once


def test_raise_owner_died_raises_with_the_lock_held():
    lock = mpsync.RWLock(raise_owner_died=True)
    p = multiprocessing.get_context("fork").Process(target=_hold_and_die, args=(lock, True))
    p.start()
    p.join(60)
    with pytest.raises(mpsync.OwnerDiedError):
        lock.acquire_read(timeout=30)
    lock.release_read()  # it IS held


@pytest.mark.parametrize("method", METHODS)
def test_children_count_under_the_lock(method):
    ctx = multiprocessing.get_context(method)
    lock = mpsync.RWLock()
    value = mpsync.RawValue("q", 0)
    procs = [ctx.Process(target=_count, args=(lock, value, 400)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert value.value == 300


def test_named_rwlock_is_shared_by_name():
    name = "mpsync-py-rwlock-%d" % os.getpid()
    a = mpsync.RWLock(name=name, create=True, exclusive=True)
    b = mpsync.RWLock(name=name)
    with a.write():
        assert b._is_writer()
    mpsync.unlink(name)
