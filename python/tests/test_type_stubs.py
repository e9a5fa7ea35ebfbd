"""The type stubs: installed with the package (py.typed, mpsync/__init__.pyi,
mpsync/_mpsync.pyi), accepted by mypy on a sample that uses the API, and matching the
installed package (mypy.stubtest). The mypy tests skip when mypy is not installed."""

import subprocess
import sys
from pathlib import Path

import pytest

import mpsync


def test_type_stubs_are_installed():
    package = Path(mpsync.__file__).parent
    for stub in ("py.typed", "__init__.pyi", "_mpsync.pyi"):
        assert (package / stub).is_file(), f"{stub} is not installed with the package"


SAMPLE = """
import mpsync

lock: mpsync.Lock = mpsync.Lock(name=None)
got: bool = lock.acquire(timeout=1.5)
lock.release()
cond = mpsync.Condition(mpsync.RLock())
ready: bool = cond.wait_for(lambda: True, timeout=0.1)
counter = mpsync.Value("i", 0)
barrier = mpsync.Barrier(2, timeout=1.0)
index: int = barrier.wait()
shm = mpsync.SharedMemory(create=True, size=16)
view: memoryview = shm.buf
sem = mpsync.BoundedSemaphore(2, undo=True)
units: int = sem.held()
mpsync.unlink(shm.name)
q = mpsync.JoinableQueue(4, capacity=4096)
q.put_many([1, 2])
items: list[object] = q.get_many(timeout=1.0)
q.task_done()
done: bool = q.join(timeout=0.1)
"""

SAMPLE_ERRORS = """
import mpsync
mpsync.Lock("positional")
mpsync.Condition(lock=3)
x: str = mpsync.Event().wait()
"""


def test_type_stubs_check_a_sample_with_mypy(tmp_path):
    api = pytest.importorskip("mypy.api", reason="mypy is not installed (pip install mypy)")
    (tmp_path / "sample.py").write_text(SAMPLE)
    (tmp_path / "errors.py").write_text(SAMPLE_ERRORS)
    stdout, stderr, status = api.run(["--strict", "--no-incremental",
                                      str(tmp_path / "sample.py")])
    assert status == 0, stdout + stderr
    stdout, _, status = api.run(["--no-incremental", str(tmp_path / "errors.py")])
    assert status == 1 and "Found 3 errors" in stdout, stdout


def test_type_stubs_match_the_runtime():
    pytest.importorskip("mypy.stubtest", reason="mypy is not installed (pip install mypy)")
    # The classes written in Rust can be subclassed but not combined with another
    # built-in base: newer stubtests ask for PEP 800's @disjoint_base, which older type
    # checkers do not know.
    allow = "|".join(f"mpsync._mpsync.{c}" for c in
                     ("Lock", "RLock", "RWLock", "Semaphore", "Event", "Barrier", "_Queue"))
    out = subprocess.run([sys.executable, "-m", "mypy.stubtest", "mpsync"],
                         capture_output=True, text=True, timeout=300)
    errors = [line for line in out.stdout.splitlines() if line.startswith("error: ")
              and not (line.split()[1] in allow.split("|") and "disjoint base" in line)]
    assert errors == [], out.stdout + out.stderr
