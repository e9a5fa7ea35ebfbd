"""Undo semaphores (``undo=True``): a SIGKILLed holder's unit comes back to a waiting
process, which is told through ``owner_died`` (or ``OwnerDiedError``); releases are
matched to holders; the flavour survives pickling."""

import multiprocessing
import os
import pickle
import signal

import pytest

import mpsync

METHODS = [m for m in ("fork", "spawn", "forkserver")
           if m in multiprocessing.get_all_start_methods()]


def _hold_and_die(sem, ready):
    assert sem.acquire(timeout=30)
    ready.set()
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("method", METHODS)
def test_killed_holders_unit_comes_back_to_a_waiter(method):
    ctx = multiprocessing.get_context(method)
    sem = mpsync.BoundedSemaphore(1, undo=True)
    assert sem.undo and not sem.owner_died
    ready = mpsync.Event()
    p = ctx.Process(target=_hold_and_die, args=(sem, ready))
    p.start()
    assert ready.wait(60)
    # Blocks until the holder dies and its unit comes back.
    assert sem.acquire(timeout=30) is True
    assert sem.owner_died is True
    assert sem.held() == 1
    p.join(30)
    assert p.exitcode == -signal.SIGKILL
    sem.release()
    assert sem.get_value() == 1
    assert sem.acquire(timeout=0) is True
    assert sem.owner_died is False
    sem.release()


def test_raise_owner_died_and_matched_release():
    sem = mpsync.Semaphore(1, undo=True, raise_owner_died=True)
    with pytest.raises(AssertionError):
        sem.release()  # this thread holds no unit
    pid = os.fork()
    if pid == 0:
        sem.acquire()
        os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    with pytest.raises(mpsync.OwnerDiedError):
        sem.acquire(timeout=30)
    assert sem.held() == 1  # the unit IS taken
    sem.release()
    plain = mpsync.Semaphore(1)
    assert plain.undo is False and plain.held() == 0


def test_undo_flavour_survives_pickling():
    sem = mpsync.BoundedSemaphore(2, undo=True)
    copy = pickle.loads(pickle.dumps(sem))
    assert copy.undo is True and copy.maxvalue == 2
    assert copy.acquire(timeout=0)
    assert sem.get_value() == 1
    copy.release()
