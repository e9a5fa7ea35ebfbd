"""A C program (tests/helper.c, built against include/mpsync.h and libmpsync.so) and
Python share named objects: exact counts, owner death across languages, and
SharedMemory blocks made by C that Python attaches to and leaves intact."""

import multiprocessing
import os
import subprocess
import sys
import time

import pytest

import mpsync
from conftest import python_code, read_line


def test_c_and_python_share_a_named_rlock_condition_and_array(cprog, uname):
    n = 20_000
    lock = mpsync.RLock(name=f"{uname}-lock", create=True)
    cond = mpsync.Condition(lock, name=f"{uname}-cond", create=True)
    arr = mpsync.Array("q", 2, lock=lock, name=f"{uname}-arr", create=True)
    c = subprocess.Popen([cprog, "count", uname, str(n)], stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(n):
            with lock:
                arr[0] += 1
        with cond:
            # C sets arr[1] = 1 and notifies after its n increments.
            assert cond.wait_for(lambda: arr[1] == 1, timeout=60)
            assert arr[0] == 2 * n
            arr[1] = 2
            cond.notify_all()
        out, _ = c.communicate(timeout=60)
    finally:
        c.kill()
    assert c.returncode == 0, out
    assert out.strip() == str(2 * n)
    assert arr[:] == [2 * n, 2]


HOLDER = """
import sys, time, mpsync
lock = mpsync.RLock(name=sys.argv[1], create=True)
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def _killed_holder(name):
    holder = python_code(HOLDER, name)
    assert read_line(holder) == "held"
    return holder


def test_c_waiter_learns_that_the_python_holder_was_killed(cprog, uname):
    name = f"{uname}-rlock"
    holder = _killed_holder(name)
    waiter = subprocess.Popen([cprog, "wait", name], stdout=subprocess.PIPE, text=True)
    try:
        assert read_line(waiter) == "waiting"
        time.sleep(0.2)  # let the C side block (the result is the same if it has not)
        holder.kill()
        holder.wait(timeout=30)
        assert read_line(waiter, timeout=30) == "MP_OWNER_DEAD"
        assert waiter.wait(timeout=30) == 0
    finally:
        holder.kill()
        waiter.kill()


def test_python_waiter_learns_that_the_python_holder_was_killed(uname):
    name = f"{uname}-rlock"
    holder = _killed_holder(name)
    try:
        lock = mpsync.RLock(name=name)
        assert lock.acquire(timeout=0.05) is False
        holder.kill()
        holder.wait(timeout=30)
        assert lock.acquire(timeout=30) is True
        assert lock.owner_died is True
        lock.release()
        with lock:
            assert lock.owner_died is False
    finally:
        holder.kill()


def test_owner_death_as_an_exception_keeps_the_lock_held(uname):
    name = f"{uname}-rlock"
    holder = _killed_holder(name)
    holder.kill()
    holder.wait(timeout=30)
    lock = mpsync.RLock(name=name, raise_owner_died=True)
    with pytest.raises(mpsync.OwnerDiedError):
        with lock:
            pass  # not reached: __enter__ raised
    assert lock._is_mine()
    lock.release()
    with lock:  # the death was reported once
        pass


STICKY_HOLDER = """
import sys, time, mpsync
lock = mpsync.RLock(name=sys.argv[1], create=True, sticky=True)
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""

STICKY_ACQUIRER = """
import sys, mpsync
lock = mpsync.RLock(name=sys.argv[1])
assert lock.acquire(timeout=30)
print("owner_died" if lock.owner_died else "ok", lock.sticky, flush=True)
lock.release()  # no repair
"""


def test_a_sticky_rlock_reports_the_death_until_marked_consistent(uname):
    """RLock(sticky=True): after its holder was SIGKILLed, every acquirer (each a new
    process that does not repair, then this one) is told, until a holder calls
    mark_consistent(); a plain RLock of the same name is refused to sticky=True."""
    name = f"{uname}-sticky"
    holder = python_code(STICKY_HOLDER, name)
    try:
        assert read_line(holder) == "held"
        holder.kill()
        holder.wait(timeout=30)
        for _ in range(3):
            acquirer = python_code(STICKY_ACQUIRER, name)
            assert read_line(acquirer, timeout=60) == "owner_died True"
            assert acquirer.wait(timeout=60) == 0
        lock = mpsync.RLock(name=name, sticky=True)
        assert lock.sticky
        with lock:
            assert lock.owner_died
            with lock:  # re-entry: still reported
                assert lock.owner_died
        with lock:
            assert lock.owner_died
            lock.mark_consistent()
        with lock:
            assert not lock.owner_died
        acquirer = python_code(STICKY_ACQUIRER, name)
        assert read_line(acquirer, timeout=60) == "ok True"
        assert acquirer.wait(timeout=60) == 0
    finally:
        holder.kill()
    assert not mpsync.RLock(sticky=False).sticky and mpsync.RLock(sticky=True).sticky
    mpsync.RLock(name=f"{uname}-plain", create=True)
    with pytest.raises(mpsync.BadObjectError):
        mpsync.RLock(name=f"{uname}-plain", sticky=True)


def _attach_and_close(name):
    shm = mpsync.SharedMemory(name)
    assert shm.buf[250] == 250 % 251
    shm.close()


def test_a_block_made_by_c_survives_python_attaching_and_closing(cprog, uname):
    name = f"{uname}-shm"
    size = 10_000
    made = subprocess.run([cprog, "shm", name, str(size)], capture_output=True, text=True,
                          timeout=60)
    assert made.stdout.strip() == "made", made
    shm = mpsync.SharedMemory(name)
    assert shm.size == size
    assert bytes(shm.buf[:5]) == bytes(range(5))
    shm.close()
    # Another interpreter attaches and exits; and a spawn child, which runs with
    # multiprocessing's resource tracker (which unlinks every block the standard
    # SharedMemory registers, at exit).
    subprocess.run([sys.executable, "-c",
                    "import mpsync, sys; s = mpsync.SharedMemory(sys.argv[1]); s.close()", name],
                   check=True, timeout=60)
    ctx = multiprocessing.get_context("spawn")
    p = ctx.Process(target=_attach_and_close, args=(name,))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    time.sleep(0.2)
    assert os.path.exists(f"/dev/shm/{name}")
    check = subprocess.run([cprog, "shmcheck", name], capture_output=True, text=True,
                           timeout=60)
    assert check.stdout.strip() == "intact", check
    mpsync.unlink(name)
