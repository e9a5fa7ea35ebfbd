"""mpsync.cluster (the package mpsync-cluster) against a real single-member etcd on
loopback, started by the fixture and always stopped; skipped where etcd is missing."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import socket

import pytest

etcd_bin = shutil.which("etcd")
pytestmark = pytest.mark.skipif(etcd_bin is None, reason="etcd is not installed (apt-get install etcd-server)")

pytest.importorskip("mpsync_cluster", reason="the package mpsync-cluster is not installed (pip install ./cluster/python)")
import mpsync.cluster as cluster  # noqa: E402


def free_port_pair():
    """Two adjacent loopback ports nobody listens on, below the kernel's ephemeral range
    (32768 and up by default: a port there may be any connection's local end, and etcd
    would then fail to bind it) and above the Rust harness's (cluster/tests/support:
    20000-31999), starting at a place that differs per process."""
    first = 32000 + (os.getpid() % 383) * 2
    for k in range(383):
        port = 32000 + (first - 32000 + 2 * k) % 766
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    pytest.skip("no two free adjacent loopback ports in 32000-32767")


@pytest.fixture(scope="module")
def endpoint():
    port = free_port_pair()
    data = tempfile.mkdtemp(prefix="mpsync-etcd-")
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [etcd_bin, "--name", "py", "--data-dir", data,
         "--listen-client-urls", url, "--advertise-client-urls", url,
         "--listen-peer-urls", f"http://127.0.0.1:{port + 1}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{port + 1}",
         "--initial-cluster", f"py=http://127.0.0.1:{port + 1}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                cluster.connect(url, ttl=2, timeout=1.0).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "etcd did not start"
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)


def test_lock_fence_and_context_manager(endpoint):
    c = cluster.connect(endpoint, ttl=2)
    assert c.ttl >= 2
    a, b = c.Lock("py-lock"), c.Lock("py-lock")
    with a:
        token = a.fence
        assert token > 0
        assert not a.owner_died
        assert b.acquire(timeout=0.2) is False
        assert b.acquire(False) is False
        assert a.fenced_put(b"/py/resource", b"x") > token
    assert b.acquire(timeout=5)
    assert b.fence > token
    b.release()
    with pytest.raises(ValueError):
        b.release()
    with pytest.raises(ValueError):
        c.Lock("bad/name")


def test_killed_holder_is_reported_owner_dead(endpoint):
    code = (
        "import mpsync.cluster, sys, time\n"
        f"c = mpsync.cluster.connect({endpoint!r}, ttl=2)\n"
        "l = c.Lock('py-death'); l.acquire(); print('held', flush=True); time.sleep(600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        child.kill()
        child.wait()
        lock = cluster.connect(endpoint, ttl=2).Lock("py-death")
        assert lock.acquire(timeout=15)
        assert lock.owner_died
        lock.release()
    finally:
        child.kill()
        child.wait()


def test_rlock_semaphore_event_barrier(endpoint):
    c = cluster.connect(endpoint, ttl=2)
    r = c.RLock("py-r")
    with r:
        with r:
            pass
    with pytest.raises(AssertionError):
        r.release()
    s = c.BoundedSemaphore("py-s", 2)
    assert s.value == 2
    assert s.acquire() and s.acquire()
    assert s.acquire(timeout=0.2) is False
    s.release()
    s.release()
    with pytest.raises(ValueError):
        s.release()
    e = c.Event("py-e")
    assert not e.is_set()
    assert e.wait(0.2) is False
    threading.Timer(0.3, e.set).start()
    assert e.wait(10)
    e.clear()
    b = c.Barrier("py-b", 2)
    got = []
    t = threading.Thread(target=lambda: got.append(c.Barrier("py-b", 2).wait(10)))
    t.start()
    got.append(b.wait(10))
    t.join()
    assert sorted(got) == [0, 1]
    with pytest.raises(threading.BrokenBarrierError):
        b.wait(0.2)
    b.reset()
    assert not b.broken
