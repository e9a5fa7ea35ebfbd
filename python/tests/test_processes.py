"""Objects passed to fork, spawn and forkserver children as Process arguments (pickled
by name for spawn/forkserver) work there as in the parent, with exact counts."""

import multiprocessing

import pytest

import mpsync

METHODS = [m for m in ("fork", "spawn", "forkserver")
           if m in multiprocessing.get_all_start_methods()]
N = 2_000
CHILDREN = 3


def _child(lock, rlock, value, raw, arr, sem, bounded, event, barrier, cond, shm):
    barrier.wait(timeout=60)
    for _ in range(N):
        with value.get_lock():
            value.value += 1
        with lock:
            raw.value += 1
        with rlock:
            with rlock:
                arr[0] += 1
    with sem:
        pass
    bounded.release()
    shm.buf[0] += 0  # attached and writable
    shm.close()
    with cond:
        arr[1] += 1
        cond.notify_all()
    assert event.wait(60)


@pytest.mark.parametrize("method", METHODS)
def test_children_share_every_kind_of_object(method):
    ctx = multiprocessing.get_context(method)
    lock, rlock = mpsync.Lock(), mpsync.RLock()
    value = mpsync.Value("q", 0)
    raw = mpsync.RawValue("q", 0)
    arr = mpsync.Array("i", 2, lock=rlock)
    sem = mpsync.Semaphore(1)
    bounded = mpsync.BoundedSemaphore(CHILDREN)
    for _ in range(CHILDREN):
        bounded.acquire()
    event = mpsync.Event()
    barrier = mpsync.Barrier(CHILDREN + 1)
    cond = mpsync.Condition(rlock)
    shm = mpsync.SharedMemory(create=True, size=64)
    args = (lock, rlock, value, raw, arr, sem, bounded, event, barrier, cond, shm)
    procs = [ctx.Process(target=_child, args=args) for _ in range(CHILDREN)]
    try:
        for p in procs:
            p.start()
        assert barrier.wait(timeout=60) in range(CHILDREN + 1)
        with cond:
            assert cond.wait_for(lambda: arr[1] == CHILDREN, timeout=60)
        event.set()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
    finally:
        for p in procs:
            p.kill()
        shm.close()
        shm.unlink()
    assert value.value == CHILDREN * N
    assert raw.value == CHILDREN * N
    assert arr[0] == CHILDREN * N
    assert sem.get_value() == 1
    assert bounded.get_value() == CHILDREN
    with pytest.raises(ValueError):
        bounded.release()


def _count_named(name, n):
    lock = mpsync.RLock(name=name + "-lock")
    value = mpsync.Value("q", lock=lock, name=name + "-val")
    for _ in range(n):
        with lock:
            value.value += 1


def test_unrelated_processes_share_objects_by_name(uname):
    lock = mpsync.RLock(name=uname + "-lock", create=True)
    value = mpsync.Value("q", lock=lock, name=uname + "-val", create=True)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_count_named, args=(uname, N)) for _ in range(2)]
    for p in procs:
        p.start()
    _count_named(uname, N)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert value.value == 3 * N
