"""Unnamed objects of a creator killed with SIGKILL leave no garbage: the next
``import mpsync`` removes their names once the creator provably no longer exists, and
leaves every other name alone."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import python_code, read_line

import mpsync

SHM = "/dev/shm"
PREFIX = mpsync._mpsync.ANONYMOUS_NAME_PREFIX

# A creator: makes one unnamed object of each kind (and a SharedMemory block, whose
# name is the caller's to remove, as in multiprocessing), prints their names, then
# waits to be killed. With "fork", a child keeps the objects mapped and, once the
# names are gone, shows that its mappings still work.
CREATOR = r"""
import json, os, sys, time
import mpsync
objs = {
    "lock": mpsync.Lock(), "rlock": mpsync.RLock(), "sem": mpsync.Semaphore(2),
    "bsem": mpsync.BoundedSemaphore(1), "event": mpsync.Event(),
    "cond": mpsync.Condition(), "barrier": mpsync.Barrier(2),
    "value": mpsync.Value("i", 7), "array": mpsync.Array("d", 4),
    "raw": mpsync.RawArray("b", 16),
}
names = {k: o.name for k, o in objs.items() if k != "raw"}
names["raw"] = objs["raw"]._wrapper.name  # a raw ctypes array: its shared array's name
names["cond_lock"] = objs["cond"]._lock.name
names["cond"] = objs["cond"]._cond.name
shm = mpsync.SharedMemory(create=True, size=64)
names["shm"] = shm.name
if len(sys.argv) > 1 and sys.argv[1] == "fork" and os.fork() == 0:
    deadline = time.monotonic() + 60
    while os.path.exists("/dev/shm/" + names["lock"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    with objs["lock"]:
        objs["value"].value += 1
    print("child", objs["value"].value, flush=True)
    os._exit(0)
print(json.dumps(names), flush=True)
time.sleep(600)
"""


def shm_entries():
    return set(os.listdir(SHM))


def start_creator(*args):
    proc = python_code(CREATOR, *args)
    line = read_line(proc)
    names = json.loads(line)
    return proc, names


def kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def import_mpsync_elsewhere():
    """A fresh interpreter imports mpsync (which sweeps); returns what a second sweep
    in it found (0: the import did it all)."""
    out = subprocess.run(
        [sys.executable, "-c", "import mpsync; print(mpsync._mpsync.sweep_orphans())"],
        capture_output=True, text=True, timeout=60, check=True)
    return int(out.stdout.strip())


def proc_is_ours():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return line.split()[1:] == [str(os.getpid())]
    return False


def cleanup(names):
    for n in names:
        try:
            os.unlink(os.path.join(SHM, n))
        except OSError:
            pass


def test_names_record_their_creator():
    lock = mpsync.Lock()
    pid, start, ns = lock.name[len("mpsync-anon-"):].split("-")[:3]
    assert lock.name.startswith("mpsync-anon-")
    assert int(pid) == os.getpid()
    assert int(ns) == os.stat("/proc/self/ns/pid").st_ino
    with open(f"/proc/{os.getpid()}/stat") as f:
        assert int(f.read().rsplit(")", 1)[1].split()[19]) == int(start)
    assert len(lock.name) <= mpsync.NAME_MAX


def test_import_removes_exactly_a_killed_creators_names():
    if not proc_is_ours():
        pytest.skip("/proc does not show our PID namespace: nothing can be proven")
    dead, dead_names = start_creator()
    live, live_names = start_creator()
    decoys = []
    try:
        anon = lambda names: {v for k, v in names.items() if k != "shm"}
        for n in list(dead_names.values()) + list(live_names.values()):
            assert os.path.exists(os.path.join(SHM, n)), n
        # Names that look like the library's but must stay: garbage, an unknown start
        # time, another PID namespace, a free-standing file of the user.
        d = dead.pid
        start, ns = dead_names["lock"][len(PREFIX):].split("-")[1:3]
        decoys += [f"{PREFIX}{d}-{start}-{ns}-0-zzzzzzzz",
                  f"{PREFIX}{d}-0-{ns}-0-0000abcd",
                  f"{PREFIX}{d}-{start}-{int(ns) + 1}-0-0000abcd",
                  f"mpsync-{d}-0-0000abcd"]
        for n in decoys:
            with open(os.path.join(SHM, n), "wb") as f:
                f.write(b"x")
        kill(dead)
        before = shm_entries()
        assert import_mpsync_elsewhere() == 0
        after = shm_entries()
        gone = before - after
        assert anon(dead_names) <= gone, "a dead creator's names were kept"
        assert dead_names["shm"] in after, "a SharedMemory block (caller-owned) was removed"
        assert not (set(live_names.values()) & gone), "a live creator's names were removed"
        assert not (set(decoys) & gone), "an unprovable or foreign name was removed"
    finally:
        cleanup(decoys)
        for p in (dead, live):
            if p.poll() is None:
                kill(p)
        cleanup(dead_names.values())
        cleanup(live_names.values())


def test_children_keep_using_a_killed_creators_objects():
    if not proc_is_ours():
        pytest.skip("/proc does not show our PID namespace: nothing can be proven")
    creator, names = start_creator("fork")
    try:
        kill(creator)
        import_mpsync_elsewhere()
        assert not os.path.exists(os.path.join(SHM, names["lock"]))
        # The fork child (still running, stdout shared) used the lock and the value
        # through its mappings after the names were removed.
        assert read_line(creator) == "child 8"
    finally:
        cleanup(names.values())


# Run inside a new PID namespace: writes a name recorded by pid 2 of that namespace
# (nobody: the interpreter is its pid 1) and prints 1 if a sweep there kept it.
IN_NAMESPACE = r"""
import os, mpsync
ns = os.stat("/proc/self/ns/pid").st_ino
prefix = f"/dev/shm/{mpsync._mpsync.ANONYMOUS_NAME_PREFIX}"
# pid 1 is this very process, recorded with a start time it does not have: only a /proc
# of this namespace can prove that the recorded pid 1 is another (gone) process.
# pid 2 does not exist in this namespace: the kernel's ESRCH proves its creator gone.
paths = [f"{prefix}{pid}-12345-{ns}-0-0000abcd" for pid in (1, 2)]
for path in paths:
    open(path, "wb").close()
mpsync._mpsync.sweep_orphans()
print(" ".join(str(int(os.path.exists(path))) for path in paths))
for path in paths:
    try:
        os.unlink(path)
    except OSError:
        pass
"""


def test_other_namespaces_and_their_proc_prove_nothing():
    """A name recorded in another PID namespace is never removed. Inside `unshare -p -f`
    without a new /proc, /proc shows the parent namespace's pids, so it proves nothing
    about names recorded in the new namespace (host pid 1 is init, of another start
    time: judging by that /proc would remove a live creator's name); only the kernel's
    ESRCH for a pid that no process of the new namespace has is evidence there."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        print("SKIP: needs root and unshare(1)")
        pytest.skip("needs root and unshare(1)")
    if not proc_is_ours():
        pytest.skip("/proc does not show our PID namespace: nothing can be proven")
    # An orphan of our namespace: a reaped process of ours.
    p = subprocess.Popen(["true"])
    p.wait()
    with open(f"/proc/{os.getpid()}/stat") as f:
        start = f.read().rsplit(")", 1)[1].split()[19]
    ns = os.stat("/proc/self/ns/pid").st_ino
    name = f"{PREFIX}{p.pid}-{start}-{ns}-0-0000abcd"
    with open(os.path.join(SHM, name), "wb") as f:
        f.write(b"x")
    try:
        kept = {}
        for new_proc in (False, True):
            cmd = ["unshare", "-p", "-f"] + (["--mount-proc"] if new_proc else [])
            out = subprocess.run(cmd + [sys.executable, "-c", IN_NAMESPACE],
                                 capture_output=True, text=True, timeout=60)
            if out.returncode != 0:
                print(f"SKIP: unshare failed: {out.stderr.strip()}")
                pytest.skip(f"unshare failed: {out.stderr.strip()}")
            kept[new_proc] = out.stdout.strip()
            assert os.path.exists(os.path.join(SHM, name)), f"swept from inside {cmd}"
        assert kept[False] == "1 0", "judged by a /proc of another namespace (or ESRCH ignored)"
        assert kept[True] == "0 0", "its own namespace's orphans were kept"
        # From our own namespace it is provably an orphan.
        assert import_mpsync_elsewhere() == 0
        assert not os.path.exists(os.path.join(SHM, name))
    finally:
        cleanup([name])
