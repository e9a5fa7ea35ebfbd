"""mpsync.cluster: Lock, RLock, Semaphore, BoundedSemaphore, Event and Barrier on an
etcd v3 cluster, for processes on several machines (docs/cluster.md).

They come in a separately installed package, ``mpsync-cluster`` (``pip install
./cluster/python``, which needs protoc to build), so that ``pip install ./python``
never needs it. This module hands out its names on first use (``mpsync.cluster.connect``
...), and says how to get it when it is missing.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        # Module protocol probes (__all__, __path__, ...) are this module's own.
        raise AttributeError(name)
    try:
        import mpsync_cluster  # type: ignore
    except ImportError as e:
        raise ImportError(
            "mpsync.cluster needs the package mpsync-cluster: pip install ./cluster/python "
            "(building it needs protoc: apt-get install protobuf-compiler)"
        ) from e
    return getattr(mpsync_cluster, name)
