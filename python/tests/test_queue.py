"""mpsync.Queue, SimpleQueue and JoinableQueue as drop-ins for multiprocessing's, in real
processes of every start method and in Pool workers; batches; end of stream; raw bytes
shared with a C program; and survival of producers and consumers killed mid-stream.
CPython's own _TestQueue runs against them in test_cpython_suite.py."""

import multiprocessing
import os
import pickle
import queue
import signal
import subprocess
import threading
import time

import pytest

import mpsync

METHODS = [m for m in ("fork", "spawn", "forkserver")
           if m in multiprocessing.get_all_start_methods()]


def _produce(q, start, n):
    for i in range(start, start + n):
        q.put((i, "x" * (i % 50), [i]))


def _consume_into(q, out, n):
    for _ in range(n):
        out.put(q.get(timeout=30))


@pytest.mark.parametrize("method", METHODS)
def test_objects_cross_processes_of_every_start_method(method):
    ctx = multiprocessing.get_context(method)
    q = mpsync.Queue(10)
    producers = [ctx.Process(target=_produce, args=(q, k * 1000, 200)) for k in range(2)]
    for p in producers:
        p.start()
    got = [q.get(timeout=30) for _ in range(400)]
    for p in producers:
        p.join(30)
        assert p.exitcode == 0
    for k in range(2):
        mine = [g[0] for g in got if k * 1000 <= g[0] < (k + 1) * 1000]
        assert mine == list(range(k * 1000, k * 1000 + 200))  # in order per producer
    assert got[0] == (got[0][0], "x" * (got[0][0] % 50), [got[0][0]])
    assert q.empty() and q.qsize() == 0


def test_passable_to_pool_workers():
    q = mpsync.Queue()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.starmap(_produce, [(q, 0, 5), (q, 100, 5)])
    assert sorted(q.get_nowait()[0] for _ in range(10)) == [0, 1, 2, 3, 4, 100, 101, 102, 103, 104]


def test_full_empty_timeouts_and_nowait():
    q = mpsync.Queue(2)
    q.put(1)
    q.put_nowait(2)
    assert q.full() and q.qsize() == 2
    with pytest.raises(queue.Full):
        q.put(3, block=False)
    t0 = time.monotonic()
    with pytest.raises(queue.Full):
        q.put(3, timeout=0.1)
    assert time.monotonic() - t0 >= 0.1
    assert [q.get(), q.get_nowait()] == [1, 2]
    with pytest.raises(queue.Empty):
        q.get_nowait()
    t0 = time.monotonic()
    with pytest.raises(queue.Empty):
        q.get(True, 0.1)
    assert time.monotonic() - t0 >= 0.1


def test_batches():
    q = mpsync.Queue(capacity=4096)
    q.put_many(range(10))
    assert q.get_many(max_messages_to_get=4) == [0, 1, 2, 3]
    assert q.get_many() == [4, 5, 6, 7, 8, 9]
    with pytest.raises(queue.Empty):
        q.get_many(timeout=0.05)
    with pytest.raises(ValueError, match="can never fit"):  # 40 x ~120 bytes > 4 KiB
        q.put_many([b"x" * 100] * 40)
    q.put_many([b"x" * 100] * 20)
    with pytest.raises(queue.Full):  # all or nothing: room for some, not for all
        q.put_many([b"x" * 100] * 20, block=False)
    assert q.qsize() == 20


def test_close_join_thread_and_end_of_stream():
    q = mpsync.Queue()
    q.put("a")
    with pytest.raises(AssertionError):
        q.join_thread()  # not closed yet, as multiprocessing
    q.cancel_join_thread()
    q.close()
    q.join_thread()
    with pytest.raises(ValueError, match="is closed"):
        q.put(1)
    with pytest.raises(ValueError, match="is closed"):
        q.get()
    e = mpsync.Queue()
    e.put("last")
    e.close_producers()
    with pytest.raises(ValueError, match="MP_ECLOSED"):
        e.put("more")
    assert e.get() == "last"
    with pytest.raises(EOFError):
        e.get()  # no waiting: end of stream


def test_joinable_queue_task_done_and_join():
    q = mpsync.JoinableQueue()
    q.put_many(["a", "b"])
    assert q.join(timeout=0.05) is False
    q.get(), q.get()
    q.task_done()
    q.task_done()
    assert q.join(timeout=5) is True
    with pytest.raises(ValueError, match="too many times"):
        q.task_done()


def _take_and_hold(q, n, ready):
    for _ in range(n):
        q.get(timeout=30)
    q.task_done()  # one of them done; the others held until the SIGKILL
    ready.set()
    time.sleep(600)


@pytest.mark.parametrize("method", METHODS)
def test_joinable_queue_join_returns_when_a_consumer_is_killed(method):
    ctx = multiprocessing.get_context(method)
    q = mpsync.JoinableQueue()
    for i in range(4):
        q.put(i)
    ready = ctx.Event()
    p = ctx.Process(target=_take_and_hold, args=(q, 3, ready))
    p.start()
    try:
        assert ready.wait(60)
        q.get(timeout=30)  # the fourth: held by this (live) process
        assert q.join(timeout=0.3) is False  # a live consumer's messages are waited for
        # Killed while this process sleeps in join (blocking, with a long timeout
        # only as the test's guard): join returns once the death is seen.
        threading.Timer(0.2, os.kill, (p.pid, signal.SIGKILL)).start()
        q.task_done()
        assert q.join(timeout=60) is True
        assert q.abandoned == 2
    finally:
        p.kill()
        p.join(30)
    assert q.join() is True
    with pytest.raises(ValueError, match="too many times"):
        q.task_done()


def test_unpicklable_objects_are_reported_like_the_feeder_thread_does(capsys):
    class NotPicklable:
        def __reduce__(self):
            raise AttributeError("no pickling")

    q = mpsync.Queue()
    q.put(NotPicklable())  # reported on stderr and dropped, as multiprocessing's
    assert "no pickling" in capsys.readouterr().err
    assert q.qsize() == 0
    with pytest.raises(AttributeError):
        mpsync.SimpleQueue().put(NotPicklable())  # SimpleQueue raises, as multiprocessing's


def test_too_big_for_the_capacity_is_a_clear_error():
    q = mpsync.Queue(capacity=64)
    with pytest.raises(ValueError, match="can never fit"):
        q.put(b"x" * 100)
    with pytest.raises(ValueError, match="capacity"):
        mpsync.Queue(capacity=4)


def test_pickles_by_name_and_keeps_its_class():
    q = mpsync.JoinableQueue(3, capacity=8192)
    q2 = pickle.loads(pickle.dumps(q))
    assert type(q2) is mpsync.JoinableQueue and q2.name == q.name
    assert (q2.maxsize, q2.capacity) == (3, 8192)
    q2.put("via the copy")
    assert q.get() == "via the copy"
    s0 = mpsync.SimpleQueue()  # alive while its pickle is opened
    s = pickle.loads(pickle.dumps(s0))
    assert type(s) is mpsync.SimpleQueue


def test_raw_bytes_with_a_c_program(cprog, uname):
    to_c = mpsync.Queue(raw=True, name=f"{uname}-in", create=True)
    from_c = mpsync.Queue(raw=True, name=f"{uname}-out", create=True)
    c = subprocess.Popen([cprog, "qecho", to_c.name, from_c.name])
    try:
        to_c.put_many([b"one", b"two", bytes(range(256))])
        to_c.close_producers()
        got = []
        while True:
            try:
                got.append(from_c.get(timeout=30))
            except EOFError:
                break
        assert c.wait(30) == 0
    finally:
        c.kill()
    assert got == [b"C:one", b"C:two", b"C:" + bytes(range(256))]


KILLED = """
import sys, mpsync, pickle
q = pickle.loads(bytes.fromhex(sys.argv[1]))
role = sys.argv[2]
print("ready", flush=True)
i = 0
while True:
    if role == "put":
        q.put(("victim", i)); i += 1
    else:
        q.get()
"""


@pytest.mark.parametrize("role", ["put", "get"])
def test_a_killed_producer_or_consumer_never_breaks_the_queue(role):
    q = mpsync.Queue(capacity=4096)
    if role == "get":
        q.put_many(range(100))
    for _ in range(20):
        victim = subprocess.Popen(
            [os.sys.executable, "-c", KILLED, pickle.dumps(q).hex(), role],
            stdout=subprocess.PIPE, text=True)
        assert victim.stdout.readline().strip() == "ready"
        time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(30)
        # Whatever it was doing, the queue works: every message is whole.
        while True:
            try:
                item = q.get(timeout=0.01)
            except queue.Empty:
                break
            assert isinstance(item, int) or (item[0] == "victim" and isinstance(item[1], int))
        q.put_many(range(100), timeout=30)
        assert q.get(timeout=30) == 0
