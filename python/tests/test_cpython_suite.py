"""CPython's own multiprocessing tests, run against mpsync.

``test._test_multiprocessing`` (the test suite that ships with CPython) defines its
tests of the synchronization primitives as mixins (``_TestLock``, ``_TestCondition``,
...) that reach the classes under test through attributes of the test case
(``self.Lock``, ``self.Value``, ...) and through a few module globals
(``shared_memory``, and ``Value``/``copy`` from ``multiprocessing.sharedctypes``).
This module combines each of those mixins with one that points all of them at mpsync,
once per start method (fork and spawn), as CPython combines them with its
``ProcessesMixin``; pytest collects the resulting ``unittest`` classes. The autouse
``time_limit`` fixture of conftest.py bounds each test.

A spawn child imports this module (the processes are of a class defined here), so the
module globals are pointed at mpsync there too.
"""

import multiprocessing
import multiprocessing.shared_memory
import types
import unittest

import pytest

import mpsync

try:
    from test import _test_multiprocessing as cpython_tests
except ImportError as e:  # a Python installed without its test suite
    pytest.skip(
        "CPython's test suite (test._test_multiprocessing) cannot be imported "
        f"({e}); on Debian and Ubuntu, the package libpython3.X-testsuite provides it",
        allow_module_level=True,
    )

START_METHODS = [m for m in ("fork", "spawn") if m in multiprocessing.get_all_start_methods()]

# The CPython classes run here, and the ones among their tests that are not run (each
# with the reason, shown by pytest as the skip message).
CPYTHON_CLASSES = [
    "_TestLock",
    "_TestSemaphore",
    "_TestCondition",
    "_TestEvent",
    "_TestBarrier",
    "_TestValue",
    "_TestArray",
    "_TestSharedCTypes",
    "_TestSharedMemory",
    "_TestQueue",
]
# Classes whose test case gets mpsync's queues (the others keep multiprocessing's, which
# their tests use as plumbing).
WITH_MPSYNC_QUEUES = {"_TestQueue"}
NOT_RUN = {}

# The module globals the CPython tests use besides the test case's attributes: the
# `shared_memory` module (SharedMemory, ShareableList), and sharedctypes' `Value` and
# `copy`, which _TestSharedCTypes calls directly.
mpsync_shared_memory = types.ModuleType("mpsync_shared_memory")
mpsync_shared_memory.__dict__.update(vars(multiprocessing.shared_memory))
mpsync_shared_memory.SharedMemory = mpsync.SharedMemory
mpsync_shared_memory.ShareableList = mpsync.ShareableList
cpython_tests.shared_memory = mpsync_shared_memory
cpython_tests.Value = mpsync.Value
cpython_tests.copy = mpsync.copy


class SuiteProcess(multiprocessing.Process):
    """A Process of the start method the running test class set; being defined here, it
    makes a spawn child import this module (and so point the globals above at mpsync)
    before it runs the CPython test's target."""


class MpsyncMixin(cpython_tests.BaseMixin):
    """CPython's ProcessesMixin with mpsync's classes; `START_METHOD` is set by the
    generated classes. Queues, pipes and the process machinery stay multiprocessing's."""

    TYPE = "processes"
    START_METHOD = None
    Process = SuiteProcess
    connection = multiprocessing.connection
    current_process = staticmethod(multiprocessing.current_process)
    parent_process = staticmethod(multiprocessing.parent_process)
    active_children = staticmethod(multiprocessing.active_children)
    Pipe = staticmethod(multiprocessing.Pipe)
    Queue = staticmethod(multiprocessing.Queue)
    JoinableQueue = staticmethod(multiprocessing.JoinableQueue)
    Lock = staticmethod(mpsync.Lock)
    RLock = staticmethod(mpsync.RLock)
    Semaphore = staticmethod(mpsync.Semaphore)
    BoundedSemaphore = staticmethod(mpsync.BoundedSemaphore)
    Condition = staticmethod(mpsync.Condition)
    Event = staticmethod(mpsync.Event)
    Barrier = staticmethod(mpsync.Barrier)
    Value = staticmethod(mpsync.Value)
    Array = staticmethod(mpsync.Array)
    RawValue = staticmethod(mpsync.RawValue)
    RawArray = staticmethod(mpsync.RawArray)

    @classmethod
    def setUpClass(cls):
        # As CPython's suite does for a whole module: the objects the tests make with
        # multiprocessing itself (queues, the barrier tests' counters) must be of the
        # start method of the processes they are passed to.
        cls.previous_start_method = multiprocessing.get_start_method(allow_none=True)
        multiprocessing.set_start_method(cls.START_METHOD, force=True)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        multiprocessing.set_start_method(cls.previous_start_method, force=True)


def _not_run(reason):
    def test(self):
        self.skipTest(reason)
    return test


def _make_class(cpython_name, method):
    base = getattr(cpython_tests, cpython_name)
    name = f"Test{method.capitalize()}{cpython_name[len('_Test'):]}"
    body = {"START_METHOD": method, "__module__": __name__, "__qualname__": name}
    if cpython_name in WITH_MPSYNC_QUEUES:
        body["Queue"] = staticmethod(mpsync.Queue)
        body["JoinableQueue"] = staticmethod(mpsync.JoinableQueue)
    for test_name, reason in NOT_RUN.get(cpython_name, {}).items():
        body[test_name] = _not_run(reason)
    return type(name, (base, MpsyncMixin, unittest.TestCase), body)


for _method in START_METHODS:
    for _cpython_name in CPYTHON_CLASSES:
        _cls = _make_class(_cpython_name, _method)
        globals()[_cls.__name__] = _cls
del _method, _cpython_name, _cls
