"""mpsync from Python against multiprocessing, in one run: ns per operation.

Run by bench/run.sh (or alone: `python3 bench/py_mpsync.py [REPS]` with the mpsync
package installed). Prints one record per row,
    R <name> <mpsync_ns> <multiprocessing_ns> <ratio>
(medians over REPS timeit repetitions, measured interleaved so that both sides see the
same machine load) and the target: ratio <= 1.2. Rows:
  lock / rlock / semaphore: uncontended acquire()+release() pairs;
  value_increment: `with v.get_lock(): v.value += 1` on Value('i').
"""

import multiprocessing
import statistics
import sys
import timeit

import mpsync

N = 200_000
REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 7


def pair(lock):
    return "a(); r()", {"a": lock.acquire, "r": lock.release}


def increment(value):
    return "with l:\n    v.value += 1", {"l": value.get_lock(), "v": value}


def main() -> None:
    rows = [
        ("lock", pair(mpsync.Lock()), pair(multiprocessing.Lock())),
        ("rlock", pair(mpsync.RLock()), pair(multiprocessing.RLock())),
        ("semaphore", pair(mpsync.Semaphore(1)), pair(multiprocessing.Semaphore(1))),
        ("value_increment", increment(mpsync.Value("i", 0)),
         increment(multiprocessing.Value("i", 0))),
    ]
    worst = 0.0
    for name, (ours_stmt, ours_ns), (theirs_stmt, theirs_ns) in rows:
        ours, theirs = [], []
        for _ in range(REPS):
            ours.append(timeit.timeit(ours_stmt, globals=ours_ns, number=N) / N * 1e9)
            theirs.append(timeit.timeit(theirs_stmt, globals=theirs_ns, number=N) / N * 1e9)
        o, t = statistics.median(ours), statistics.median(theirs)
        worst = max(worst, o / t)
        print(f"R\t{name}\t{o:.1f}\t{t:.1f}\t{o / t:.2f}", flush=True)
    print(f"N\tpython: {sys.version.split()[0]}; worst ratio {worst:.2f} (target <= 1.2)",
          flush=True)


if __name__ == "__main__":
    main()
