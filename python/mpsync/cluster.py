"""mpsync.cluster: Lock, RLock, Semaphore, BoundedSemaphore, Event and Barrier on an
etcd v3 cluster, for processes on several machines (docs/cluster.md).

They come in a separately installed package, ``mpsync-cluster`` (``pip install
./cluster/python``, which needs protoc to build), so that ``pip install ./python``
never needs it; this module re-exports it (its ``__all__``).
"""

try:
    from mpsync_cluster import *  # noqa: F401,F403
    from mpsync_cluster import __all__  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on what is installed
    raise ImportError(
        "mpsync.cluster needs the package mpsync-cluster: pip install ./cluster/python "
        "(building it needs protoc: apt-get install protobuf-compiler)"
    ) from e
