# Type stubs of the extension module mpsync._mpsync (python/src). The package's public
# names are re-exported, and documented, by mpsync/__init__.pyi.

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, SupportsIndex, final

from typing_extensions import Self

__all__ = [
    "ANONYMOUS_NAME_PREFIX",
    "ARRAY_DATA_OFFSET",
    "BadObjectError",
    "Barrier",
    "BusyError",
    "Event",
    "Lock",
    "NAME_MAX",
    "QUEUE_DEFAULT_CAPACITY",
    "RLock",
    "RawCondition",
    "SEM_VALUE_MAX",
    "STATUS_CODES",
    "Semaphore",
    "SharedArray",
    "SharedMemoryBlock",
    "sweep_orphans",
    "unlink",
    "unlink_anonymous",
    "_Queue",
]

ARRAY_DATA_OFFSET: int
NAME_MAX: int
SEM_VALUE_MAX: int
ANONYMOUS_NAME_PREFIX: str
QUEUE_DEFAULT_CAPACITY: int
# The library's status table: (name, code, message) for every code, in table order.
STATUS_CODES: tuple[tuple[str, int, str], ...]

class BadObjectError(ValueError): ...
class BusyError(RuntimeError): ...

class Lock:
    def __new__(
        cls,
        *,
        name: str | None = None,
        create: bool = False,
        exclusive: bool = False,
        mode: int = 0o600,
        any_owner: bool = False,
    ) -> Self: ...
    def acquire(self, block: bool = True, timeout: float | None = None) -> bool: ...
    def release(self) -> None: ...
    def __enter__(self) -> bool: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    @property
    def name(self) -> str: ...

class RLock:
    def __new__(
        cls,
        *,
        name: str | None = None,
        create: bool = False,
        exclusive: bool = False,
        mode: int = 0o600,
        any_owner: bool = False,
        raise_owner_died: bool = False,
    ) -> Self: ...
    def acquire(self, block: bool = True, timeout: float | None = None) -> bool: ...
    def release(self) -> None: ...
    def __enter__(self) -> bool: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    @property
    def owner_died(self) -> bool: ...
    def mark_consistent(self) -> None: ...
    @property
    def name(self) -> str | None: ...

class Semaphore:
    def __new__(
        cls,
        value: int = 1,
        *,
        maxvalue: int | None = None,
        name: str | None = None,
        create: bool = False,
        exclusive: bool = False,
        mode: int = 0o600,
        any_owner: bool = False,
        undo: bool = False,
        raise_owner_died: bool = False,
    ) -> Self: ...
    def acquire(self, block: bool = True, timeout: float | None = None) -> bool: ...
    def release(self) -> None: ...
    def __enter__(self) -> bool: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def get_value(self) -> int: ...
    def held(self) -> int: ...
    @property
    def maxvalue(self) -> int: ...
    @property
    def undo(self) -> bool: ...
    @property
    def owner_died(self) -> bool: ...
    @property
    def name(self) -> str: ...

@final
class RawCondition:
    def __new__(
        cls,
        *,
        name: str | None = None,
        create: bool = False,
        exclusive: bool = False,
        mode: int = 0o600,
        any_owner: bool = False,
    ) -> Self: ...
    def wait(self, lock: Lock | RLock, timeout: float | None = None) -> tuple[bool, bool]: ...
    def notify(self, n: int = 1) -> None: ...
    def notify_all(self) -> None: ...
    def n_waiting(self) -> int: ...
    def n_signalled(self) -> int: ...
    @property
    def name(self) -> str: ...

class Event:
    def __new__(
        cls,
        *,
        name: str | None = None,
        create: bool = False,
        exclusive: bool = False,
        mode: int = 0o600,
        any_owner: bool = False,
    ) -> Self: ...
    def is_set(self) -> bool: ...
    def set(self) -> None: ...
    def clear(self) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...
    @property
    def name(self) -> str: ...

class Barrier:
    def __new__(
        cls,
        parties: int,
        action: Callable[[], object] | None = None,
        timeout: float | None = None,
        *,
        name: str | None = None,
        create: bool = False,
        exclusive: bool = False,
        mode: int = 0o600,
        any_owner: bool = False,
    ) -> Self: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def abort(self) -> None: ...
    def reset(self) -> None: ...
    @property
    def parties(self) -> int: ...
    @property
    def n_waiting(self) -> int: ...
    @property
    def broken(self) -> bool: ...
    @property
    def name(self) -> str: ...

@final
class SharedArray:
    """A synchronized Value or Array of a type code (made by mpsync.Value/Array)."""

    def __new__(
        cls,
        typecode: str,
        length: int,
        with_lock: bool,
        is_value: bool,
        lock: Any = None,
        *,
        name: str | None = None,
        create: bool = False,
        exclusive: bool = False,
        mode: int = 0o600,
        any_owner: bool = False,
        initial: bytes | None = None,
    ) -> Self: ...
    def __len__(self) -> int: ...
    def __getitem__(self, key: SupportsIndex | slice, /) -> Any: ...
    def __setitem__(self, key: SupportsIndex | slice, value: Any, /) -> None: ...
    value: Any
    raw: bytes
    def get_lock(self) -> Any: ...
    def get_obj(self) -> SharedArray: ...
    def acquire(self, block: bool = True, timeout: float | None = None) -> bool: ...
    def release(self) -> None: ...
    def __enter__(self) -> bool: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    @property
    def typecode(self) -> str: ...
    @property
    def name(self) -> str: ...

@final
class SharedMemoryBlock:
    def __new__(
        cls,
        name: str | None,
        create: bool,
        size: int,
        mode: int = 0o600,
        any_owner: bool = False,
    ) -> Self: ...
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...

class _Queue:
    def __new__(
        cls,
        maxsize: int = 0,
        *,
        capacity: int = ...,
        raw: bool = False,
        name: str | None = None,
        create: bool = False,
        exclusive: bool = False,
        mode: int = 0o600,
        any_owner: bool = False,
    ) -> Self: ...
    def put(self, obj: Any, block: bool = True, timeout: float | None = None) -> None: ...
    def put_nowait(self, obj: Any) -> None: ...
    def get(self, block: bool = True, timeout: float | None = None) -> Any: ...
    def get_nowait(self) -> Any: ...
    def put_many(
        self, objs: Iterable[Any], block: bool = True, timeout: float | None = None
    ) -> None: ...
    def get_many(
        self,
        block: bool = True,
        timeout: float | None = None,
        max_messages_to_get: int = 1000,
    ) -> list[Any]: ...
    def qsize(self) -> int: ...
    def empty(self) -> bool: ...
    def full(self) -> bool: ...
    def close(self) -> None: ...
    def close_producers(self) -> None: ...
    def _task_done(self) -> None: ...
    def _join(self, timeout: float | None = None) -> bool: ...
    @property
    def _closed(self) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def capacity(self) -> int: ...
    @property
    def maxsize(self) -> int: ...
    @property
    def raw(self) -> bool: ...

def unlink(name: str) -> None: ...
def unlink_anonymous() -> None: ...
def sweep_orphans() -> int: ...
