# Type stubs of the mpsync package (python/mpsync/__init__.py; the classes written in
# Rust are in _mpsync.pyi). Value, Array, RawValue and RawArray return ctypes objects
# or synchronized wrappers whose type depends on the arguments: they are typed Any.

from collections.abc import Callable, Iterable
from multiprocessing import shared_memory as _std_shm
from typing import Any, TypeVar

from typing_extensions import Self, Unpack

from . import _mpsync
from ._mpsync import (
    ARRAY_DATA_OFFSET as ARRAY_DATA_OFFSET,
    NAME_MAX as NAME_MAX,
    SEM_VALUE_MAX as SEM_VALUE_MAX,
    BadObjectError as BadObjectError,
    Barrier as Barrier,
    BusyError as BusyError,
    Event as Event,
    Lock as Lock,
    RLock as RLock,
    Semaphore as Semaphore,
)
from ._mpsync import (
    RWLock as _RWLock,
    unlink as unlink,
)
from ._mpsync import _OpenArgs

_T = TypeVar("_T")
_SLT = TypeVar("_SLT", int, float, bool, str, bytes, None)

__all__ = [
    "Lock",
    "RLock",
    "RWLock",
    "Semaphore",
    "BoundedSemaphore",
    "Condition",
    "Event",
    "Barrier",
    "Value",
    "Array",
    "RawValue",
    "RawArray",
    "copy",
    "SharedMemory",
    "ShareableList",
    "Queue",
    "SimpleQueue",
    "JoinableQueue",
    "OwnerDiedError",
    "BadObjectError",
    "BusyError",
    "unlink",
    "SEM_VALUE_MAX",
    "NAME_MAX",
    "ARRAY_DATA_OFFSET",
]

class OwnerDiedError(RuntimeError): ...

class _Side:
    def __init__(
        self,
        acquire: Callable[[bool, float | None], bool],
        release: Callable[[], None],
        timeout: float | None,
    ) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc_info: object) -> None: ...

class RWLock(_RWLock):
    def read(self, timeout: float | None = None) -> _Side: ...
    def write(self, timeout: float | None = None) -> _Side: ...

class BoundedSemaphore(Semaphore): ...  # Semaphore's signature and methods

class Condition:
    def __init__(
        self,
        lock: Lock | RLock | None = None,
        **kwargs: Unpack[_OpenArgs],
    ) -> None: ...
    # The lock's own methods (instance attributes).
    acquire: Callable[..., bool]
    release: Callable[[], None]
    def __enter__(self) -> bool: ...
    def __exit__(self, *exc_info: object) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def owner_died(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...
    def wait_for(self, predicate: Callable[[], _T], timeout: float | None = None) -> _T: ...
    def notify(self, n: int = 1) -> None: ...
    def notify_all(self) -> None: ...

def Value(
    typecode_or_type: str | type[Any],
    *args: Any,
    lock: Any = True,
    **kwargs: Unpack[_OpenArgs],
) -> Any: ...
def RawValue(
    typecode_or_type: str | type[Any],
    *args: Any,
    **kwargs: Unpack[_OpenArgs],
) -> Any: ...
def Array(
    typecode_or_type: str | type[Any],
    size_or_initializer: int | Iterable[Any],
    *,
    lock: Any = True,
    **kwargs: Unpack[_OpenArgs],
) -> Any: ...
def RawArray(
    typecode_or_type: str | type[Any],
    size_or_initializer: int | Iterable[Any],
    **kwargs: Unpack[_OpenArgs],
) -> Any: ...
def copy(obj: _T) -> _T: ...

class SharedMemory:
    def __init__(
        self,
        name: str | None = None,
        create: bool = False,
        size: int = 0,
        *,
        track: bool = False,
        mode: int = 0o600,
        any_owner: bool = False,
    ) -> None: ...
    @property
    def buf(self) -> memoryview: ...
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    def close(self) -> None: ...
    def unlink(self) -> None: ...
    def __del__(self) -> None: ...

class ShareableList(_std_shm.ShareableList[_SLT]):
    def __init__(
        self, sequence: Iterable[_SLT] | None = None, *, name: str | None = None
    ) -> None: ...

class Queue(_mpsync._Queue):
    """``multiprocessing.Queue`` in shared memory; see the package's documentation."""
    def __new__(cls, maxsize: int = 0, *, ctx: Any = None, capacity: int = ...,
                raw: bool = False, name: str | None = None, create: bool = False,
                exclusive: bool = False, mode: int = 0o600,
                any_owner: bool = False) -> Self: ...
    def __init__(self, maxsize: int = 0, *, ctx: Any = None, capacity: int = ...,
                 raw: bool = False, name: str | None = None, create: bool = False,
                 exclusive: bool = False, mode: int = 0o600,
                 any_owner: bool = False) -> None: ...
    def join_thread(self) -> None: ...
    def cancel_join_thread(self) -> None: ...
    @staticmethod
    def _on_queue_feeder_error(e: BaseException, obj: object) -> None: ...

class JoinableQueue(Queue):
    def task_done(self) -> None: ...
    def join(self, timeout: float | None = None) -> bool: ...
    @property
    def abandoned(self) -> int: ...

class SimpleQueue(_mpsync._Queue):
    def __new__(cls, *, ctx: Any = None, capacity: int = ..., raw: bool = False,
                name: str | None = None, create: bool = False, exclusive: bool = False,
                mode: int = 0o600, any_owner: bool = False) -> Self: ...
    def __init__(self, *, ctx: Any = None, capacity: int = ..., raw: bool = False,
                 name: str | None = None, create: bool = False, exclusive: bool = False,
                 mode: int = 0o600, any_owner: bool = False) -> None: ...
