"""Cluster lock benchmark (run by hand through bench/cluster.sh, never asserted):
acquire+release of one lock on a loopback etcd cluster, in the same run, through

* mpsync.cluster's Lock (Python face of the Rust core),
* python-etcd3's Lock (PyPI etcd3), and
* `etcdctl lock NAME -- true` (the Go concurrency Mutex; a process per acquisition),

as latency per acquire+release (uncontended), round trips per acquire+release counted
from etcd's own gRPC counters (/metrics), and a contended hand-off (two processes
alternating through one lock: time per hand-off).

usage: python bench/cluster.py ENDPOINTS [N]
"""

import os
import re
import subprocess
import sys
import time
import urllib.request

import mpsync.cluster

ENDPOINTS = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 200
FIRST = ENDPOINTS.split(",")[0]


def grpc_counts():
    """Unary gRPC requests and stream messages handled, summed over the members."""
    total = {}
    for ep in ENDPOINTS.split(","):
        text = urllib.request.urlopen(ep + "/metrics").read().decode()
        for m in re.finditer(r'grpc_server_(handled|msg_received)_total\{[^}]*grpc_method="(\w+)"[^}]*\} (\d+)', text):
            kind, method, n = m.group(1), m.group(2), int(m.group(3))
            if kind == "handled" or method in ("Watch", "LeaseKeepAlive"):
                key = method if kind == "handled" else method + "(msg)"
                total[key] = total.get(key, 0) + n
    return total


def diff(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


def measure(label, setup, op, n, per_op_rpc=True):
    state = setup()
    op(state)  # warm-up (connection, lease)
    before = grpc_counts()
    t0 = time.perf_counter()
    for _ in range(n):
        op(state)
    dt = time.perf_counter() - t0
    rpcs = diff(before, grpc_counts())
    unary = sum(v for k, v in rpcs.items() if not k.endswith("(msg)") and k not in ("Watch", "LeaseKeepAlive"))
    print(f"{label:<34} {dt / n * 1e3:8.2f} ms/op   {unary / n:5.2f} unary RPCs/op   {rpcs}")
    return dt / n


def mpsync_setup():
    c = mpsync.cluster.connect(ENDPOINTS, ttl=10)
    return c, c.Lock("bench-mpsync")


def mpsync_op(state):
    lock = state[1]
    lock.acquire()
    lock.release()


def etcd3_setup():
    import etcd3

    host, port = FIRST.split("//")[1].split(":")
    client = etcd3.client(host=host, port=int(port))
    return client, client.lock("bench-etcd3", ttl=10)


def etcd3_op(state):
    lock = state[1]
    lock.acquire()
    lock.release()


def etcdctl_op(_state):
    subprocess.run(["etcdctl", f"--endpoints={ENDPOINTS}", "lock", "bench-etcdctl", "--", "true"],
                   env=dict(os.environ, ETCDCTL_API="3"), check=True, stdout=subprocess.DEVNULL)


HANDOFF_CHILD = """
import sys, time, mpsync.cluster
c = mpsync.cluster.connect(sys.argv[1], ttl=10)
lock, n = c.Lock("bench-handoff"), int(sys.argv[2])
for _ in range(n):
    lock.acquire(); lock.release()
"""


def handoff(n):
    """Two processes alternating through one lock, each n acquisitions."""
    procs = [subprocess.Popen([sys.executable, "-c", HANDOFF_CHILD, ENDPOINTS, str(n)]) for _ in range(2)]
    t0 = time.perf_counter()
    for p in procs:
        p.wait()
    return (time.perf_counter() - t0) / (2 * n)


print(f"# {N} acquire+release each, endpoints {ENDPOINTS}")
mp = measure("mpsync.cluster Lock", mpsync_setup, mpsync_op, N)
try:
    e3 = measure("python-etcd3 Lock", etcd3_setup, etcd3_op, N)
    print(f"ratio mpsync / python-etcd3 latency: {mp / e3:.2f}")
except ImportError as e:
    print(f"python-etcd3 Lock: skipped ({e})")
ctl = measure("etcdctl lock -- true (process each)", lambda: None, etcdctl_op, max(N // 10, 5))
print(f"contended: 2 processes through one mpsync.cluster Lock: {handoff(N // 2) * 1e3:.2f} ms per acquire+release")
