"""Python's own locks, for reference: ns per acquire()+release() pair.

Run by bench/run.sh as a separate python3 process. Prints one record per lock:
    P <name> <median_ns> <min_ns> <max_ns>
over REPS timeit repetitions of N pairs. The figures include the interpreter's call
overhead (two bound-method calls per pair, ~30-50 ns), which is the point: it is what
a Python program pays per `with lock:` today.
"""

import multiprocessing
import statistics
import sys
import threading
import timeit

N = 500_000
REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 7


def main() -> None:
    locks = [
        ("py_mp_lock", multiprocessing.Lock()),
        ("py_mp_rlock", multiprocessing.RLock()),
        ("py_mp_semaphore", multiprocessing.Semaphore(1)),
        ("py_threading_lock", threading.Lock()),
    ]
    for name, lock in locks:
        ns = {"a": lock.acquire, "r": lock.release}
        times = timeit.repeat("a(); r()", globals=ns, number=N, repeat=REPS)
        per = [t / N * 1e9 for t in times]
        print(f"P\t{name}\t{statistics.median(per):.1f}\t{min(per):.1f}\t{max(per):.1f}", flush=True)
    print(f"N\tpython: {sys.implementation.name} {sys.version.split()[0]}", flush=True)


if __name__ == "__main__":
    main()
