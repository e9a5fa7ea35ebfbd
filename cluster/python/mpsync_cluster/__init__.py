"""The cluster primitives of mpsync, on an etcd v3 cluster (docs/cluster.md).

Import it as ``mpsync.cluster`` (the ``mpsync`` package re-exports this module)::

    import mpsync.cluster
    c = mpsync.cluster.connect("http://127.0.0.1:2379", ttl=10)
    with c.Lock("jobs") as lock:
        token = lock.fence      # strictly increasing across holders
"""

from ._native import (
    Barrier,
    BoundedSemaphore,
    Cluster,
    Event,
    LeaseLostError,
    Lock,
    RLock,
    Semaphore,
    connect,
)

__all__ = [
    "Barrier",
    "BoundedSemaphore",
    "Cluster",
    "Event",
    "LeaseLostError",
    "Lock",
    "RLock",
    "Semaphore",
    "connect",
]
