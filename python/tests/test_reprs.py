"""The reprs follow CPython's ``multiprocessing`` formats: each object is compared with
the CPython object of the same kind in the same state (addresses masked), and a
Condition counts its waiters across real processes."""

import multiprocessing
import os
import re
import signal
import time

import pytest

import mpsync

FORK = multiprocessing.get_context("fork")


def masked(text):
    """The repr with addresses replaced, and CPython's module path shortened."""
    text = re.sub(r"0x[0-9a-f]+", "0x?", text)
    return text.replace("multiprocessing.synchronize.", "mpsync.")


def test_lock_rlock_and_semaphore_match_cpython():
    ours, theirs = mpsync.Lock(), FORK.Lock()
    assert repr(ours) == repr(theirs) == "<Lock(owner=None)>"
    with ours, theirs:
        assert repr(ours) == repr(theirs) == "<Lock(owner=MainProcess)>"
    ours, theirs = mpsync.RLock(), FORK.RLock()
    assert repr(ours) == repr(theirs) == "<RLock(None, 0)>"
    with ours, theirs:
        with ours, theirs:
            assert repr(ours) == repr(theirs) == "<RLock(MainProcess, 2)>"
    assert repr(mpsync.Semaphore(3)) == repr(FORK.Semaphore(3))
    assert repr(mpsync.BoundedSemaphore(2)) == repr(FORK.BoundedSemaphore(2))


def test_subclasses_show_their_own_name():
    class MyLock(mpsync.Lock):
        pass

    class MyRLock(mpsync.RLock):
        pass

    class MyCondition(mpsync.Condition):
        pass

    assert repr(MyLock()) == "<MyLock(owner=None)>"
    assert repr(MyRLock()) == "<MyRLock(None, 0)>"
    assert repr(MyCondition(MyRLock())) == "<MyCondition(<MyRLock(None, 0)>, 0)>"


def test_condition_without_waiters_matches_cpython():
    for ours, theirs in (
        (mpsync.Condition(), FORK.Condition()),
        (mpsync.Condition(mpsync.Lock()), FORK.Condition(FORK.Lock())),
    ):
        assert repr(ours) == repr(theirs)
        with ours, theirs:
            assert repr(ours) == repr(theirs)
    assert repr(mpsync.Condition()) == "<Condition(<RLock(None, 0)>, 0)>"


def test_event_matches_cpython():
    ours, theirs = mpsync.Event(), FORK.Event()
    assert masked(repr(ours)) == masked(repr(theirs)) == "<Event at 0x? unset>"
    ours.set()
    theirs.set()
    assert masked(repr(ours)) == masked(repr(theirs)) == "<Event at 0x? set>"
    assert f"at {id(ours):#x} " in repr(ours)


def test_barrier_matches_cpython():
    ours, theirs = mpsync.Barrier(2), FORK.Barrier(2)
    assert masked(repr(ours)) == masked(repr(theirs)) == "<mpsync.Barrier at 0x?: waiters=0/2>"
    assert f"at {id(ours):#x}:" in repr(ours)
    ours.abort()
    theirs.abort()
    assert masked(repr(ours)) == masked(repr(theirs)) == "<mpsync.Barrier at 0x?: broken>"


def _waiter(cond, ready):
    with cond:
        ready.value += 1
        cond.wait(60)


def _start_waiters(cond, ready, n):
    """n processes wait on cond. Returns with the lock held once all n registered: each
    raised `ready` under the lock, and only its wait released it."""
    procs = [FORK.Process(target=_waiter, args=(cond, ready)) for _ in range(n)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + 60
    while True:
        cond.acquire()
        if ready.value == n:
            return procs
        cond.release()
        assert time.monotonic() < deadline, "the waiters did not start"
        time.sleep(0.001)


def _join(procs):
    for p in procs:
        p.join(60)
        if p.is_alive():
            p.kill()
            pytest.fail("a waiter hung")


@pytest.mark.parametrize("module", ["mpsync", "multiprocessing"])
def test_condition_counts_waiting_processes(module):
    """Three processes wait: the repr says 3; a notify(1) that has returned leaves 2;
    notify_all leaves 0. The same steps give the same reprs with CPython's Condition."""
    if module == "mpsync":
        cond, ready = mpsync.Condition(), mpsync.RawValue("i", 0)
    else:
        cond, ready = FORK.Condition(), FORK.RawValue("i", 0)
    procs = _start_waiters(cond, ready, 3)
    try:
        assert repr(cond) == "<Condition(<RLock(MainProcess, 1)>, 3)>"
        cond.notify(1)
        assert repr(cond) == "<Condition(<RLock(MainProcess, 1)>, 2)>"
        cond.notify_all()
        assert repr(cond) == "<Condition(<RLock(MainProcess, 1)>, 0)>"
    finally:
        cond.notify_all()  # a failed assertion must not leave the waiters waiting
        cond.release()
        _join(procs)
    assert repr(cond) == "<Condition(<RLock(None, 0)>, 0)>"


def test_condition_counts_a_killed_waiter_until_notified():
    """A waiter SIGKILLed inside wait still counts (it never withdrew); notify_all,
    which never blocks on it, forgets it."""
    cond, ready = mpsync.Condition(mpsync.Lock()), mpsync.RawValue("i", 0)
    procs = _start_waiters(cond, ready, 2)
    try:
        os.kill(procs[0].pid, signal.SIGKILL)
        procs[0].join(60)
        assert procs[0].exitcode == -signal.SIGKILL
        assert repr(cond) == "<Condition(<Lock(owner=MainProcess)>, 2)>"
        cond.notify_all()
        assert repr(cond) == "<Condition(<Lock(owner=MainProcess)>, 0)>"
    finally:
        cond.notify_all()
        cond.release()
        _join(procs)


def test_condition_timed_out_waiter_is_not_counted():
    cond = mpsync.Condition()
    with cond:
        assert cond.wait(0.01) is False
        assert repr(cond) == "<Condition(<RLock(MainProcess, 1)>, 0)>"


def test_rlock_repr_leaves_the_owner_death_report_to_the_next_acquirer():
    """The repr only reads the lock: after the owner's SIGKILL, repr() does not take the
    MP_OWNER_DEAD report (a trial acquire would), so the next acquire still gets it."""
    lock, ready = mpsync.RLock(), mpsync.RawValue("i", 0)

    def hold():
        lock.acquire()
        ready.value = 1
        time.sleep(60)

    holder = FORK.Process(target=hold)
    holder.start()
    deadline = time.monotonic() + 60
    while not ready.value:
        assert time.monotonic() < deadline, "the holder did not start"
        time.sleep(0.001)
    assert repr(lock) == "<RLock(SomeOtherProcess, nonzero)>"
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(60)
    for _ in range(3):
        repr(lock)
    assert lock.acquire(timeout=30)
    try:
        assert lock.owner_died
        assert repr(lock) == "<RLock(MainProcess, 1)>"
    finally:
        lock.release()
    assert repr(lock) == "<RLock(None, 0)>"
