"""Shared helpers for the mpsync test suite: unique names, a C compiler for the
cross-language tests, and subprocess runners with time limits."""

import faulthandler
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def lib_dir():
    """Where libmpsync.so is: MPSYNC_LIB_DIR, else target/debug (scripts/test.sh runs
    `cargo build --lib` first)."""
    return Path(os.environ.get("MPSYNC_LIB_DIR", ROOT / "target" / "debug"))


@pytest.fixture(autouse=True)
def time_limit():
    """Every test has a time limit: a hang (even one that holds the GIL) dumps every
    thread's traceback and ends the run, rather than blocking it forever."""
    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def uname():
    """A name no other test or run uses; removes what is left under it afterwards."""
    base = f"pyt-{os.getpid()}-{uuid.uuid4().hex[:10]}"
    yield base
    for entry in os.listdir("/dev/shm"):
        if entry.startswith(base):
            try:
                os.unlink(os.path.join("/dev/shm", entry))
            except OSError:
                pass


@pytest.fixture(scope="session")
def cprog(tmp_path_factory):
    """Compiles tests/helper.c against include/mpsync.h and libmpsync.so with the
    system C compiler, as tests/c_tests.rs does; skips if either is missing."""
    cc = shutil.which("cc") or shutil.which("gcc")
    lib = lib_dir()
    if cc is None:
        pytest.skip("no C compiler (cc) on PATH")
    if not (lib / "libmpsync.so").exists():
        pytest.skip(f"{lib}/libmpsync.so not built (run `cargo build --lib`)")
    exe = tmp_path_factory.mktemp("c") / "helper"
    subprocess.run(
        [cc, "-std=c11", "-Wall", "-Werror", "-I", str(ROOT / "include"),
         str(Path(__file__).with_name("helper.c")), "-o", str(exe), "-L", str(lib),
         f"-Wl,--disable-new-dtags,-rpath,{lib}", "-lmpsync", "-lpthread"],
        check=True,
    )
    return str(exe)


def python_code(code, *args, **kw):
    """Starts `python -c code args...` (the interpreter running the tests)."""
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)],
                            stdout=subprocess.PIPE, text=True, **kw)


def read_line(proc, timeout=30):
    """Reads one line from a child's stdout, failing (not hanging) after `timeout`."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        proc.kill()
        raise AssertionError(f"no output from {proc.args!r} within {timeout} s")
    return proc.stdout.readline().strip()
