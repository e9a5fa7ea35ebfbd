"""Python queues in one run: messages per second of a 3-tuple from N producer processes
to one consumer (the main process), for mpsync.Queue, multiprocessing.Queue and
faster_fifo.Queue (if installed), single put/get and batched (put_many/get_many where
the queue has them). Repetitions are interleaved so that every queue sees the same
machine load; the medians and the ratios are printed:
    Q <queue>_<N>to1 <msgs_per_s>
    RATIO mpsync/<other>_<N>to1 <x>
Run by bench/queue.sh, or alone: `python bench/py_queue.py [REPS] [MESSAGES]` (fork
start method; mpsync installed, faster-fifo optional: `pip install faster-fifo`).
Also prints the memory each kind of queue holds (MEM lines).
"""

import multiprocessing as mp
import os
import statistics
import sys
import time

import mpsync

try:
    import faster_fifo
except ImportError:  # the rows are then skipped
    faster_fifo = None

REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
MESSAGES = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
CAPACITY = 1 << 20
BATCH = 64


def make(kind):
    if kind.startswith("mpsync"):
        return mpsync.Queue(capacity=CAPACITY)
    if kind.startswith("faster_fifo"):
        return faster_fifo.Queue(max_size_bytes=CAPACITY)
    return mp.Queue()


def producer(kind, q, start, n, go):
    go.wait()
    item = (start, 2.5, "abc")
    if kind.endswith("_batch"):
        for i in range(start, start + n, BATCH):
            q.put_many([(j, 2.5, "abc") for j in range(i, min(i + BATCH, start + n))],
                       timeout=60)
        return
    put = q.put
    for i in range(start, start + n):
        put((i, 2.5, "abc"))
    del item


def consume(kind, q, n):
    got = 0
    if kind.endswith("_batch"):
        while got < n:
            got += len(q.get_many(timeout=60, max_messages_to_get=BATCH * 4))
        return
    get = q.get
    for _ in range(n):
        get()


def run(kind, producers):
    q = make(kind)
    go = mp.Event()
    per = MESSAGES // producers
    procs = [mp.Process(target=producer, args=(kind, q, k * per, per, go))
             for k in range(producers)]
    for p in procs:
        p.start()
    t0 = time.perf_counter()
    go.set()
    consume(kind, q, per * producers)
    dt = time.perf_counter() - t0
    for p in procs:
        p.join()
    return per * producers / dt


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def memory():
    """What a queue holds: shared memory (mpsync, faster-fifo: their buffers) and the
    process's resident memory after creating 20 and passing 1,000 messages through each."""
    for kind in ["mpsync", "faster_fifo", "multiprocessing"]:
        if kind == "faster_fifo" and faster_fifo is None:
            continue
        before = rss_kib()
        qs = [make(kind) for _ in range(20)]
        for q in qs:
            for i in range(1000):
                q.put((i, 2.5, "abc"))
            for i in range(1000):
                q.get()
        after = rss_kib()
        extra = ""
        if kind == "mpsync":
            extra = f", shared memory {qs[0].capacity + 1792} bytes (capacity + 1792)"
        if kind == "faster_fifo":
            extra = f", shared buffer {CAPACITY} bytes (max_size_bytes)"
        if kind == "multiprocessing":
            extra = ", a pipe (kernel buffer up to 64 KiB) and a feeder thread per queue"
        grew = max(0, after - before) / 20
        print(f"MEM {kind} {grew:.0f} KiB resident growth per queue{extra}")
        for q in qs:
            if hasattr(q, "close"):
                q.close()
            if hasattr(q, "join_thread"):
                q.join_thread()
        del qs


def main():
    mp.set_start_method("fork")
    kinds = ["mpsync", "mpsync_batch", "multiprocessing"]
    if faster_fifo is not None:
        kinds += ["faster_fifo", "faster_fifo_batch"]
    else:
        print("N faster-fifo is not installed: its rows are skipped")
    for producers in (1, 4):
        results = {k: [] for k in kinds}
        for _ in range(REPS):
            for k in kinds:
                results[k].append(run(k, producers))
        med = {k: statistics.median(v) for k, v in results.items()}
        for k in kinds:
            print(f"Q {k}_{producers}to1 {med[k]:.0f}")
        for other in kinds:
            if other.startswith("mpsync"):
                continue
            mine = "mpsync_batch" if other.endswith("_batch") else "mpsync"
            print(f"RATIO {mine}/{other}_{producers}to1 {med[mine] / med[other]:.2f}")
    memory()


if __name__ == "__main__":
    main()
