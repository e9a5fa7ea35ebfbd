#!/usr/bin/env bash
# The Queue benchmarks (BENCHMARKS.md, "Queue"), all rows of a table in one run:
#   bash bench/queue.sh [REPS]      (default 5; ~3 minutes on 2 cores)
# - C: bench/queue_c.c, mp_queue_t vs POSIX mq_send/mq_receive, 64-byte and 4 KiB
#   messages, one producer process -> one consumer process;
# - Python: bench/py_queue.py, mpsync.Queue vs multiprocessing.Queue vs faster-fifo,
#   a 3-tuple per message, 1 -> 1 and 4 -> 1 processes.
# Builds the release library, and a venv under target/bench/venv with maturin,
# faster-fifo (from PyPI) and this checkout's Python package.
# Not part of the test suite: timing numbers are never asserted anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/bench
REPS=${1:-5}
mkdir -p "$OUT"
cargo build --release --lib
cc -O2 -std=c11 -Wall -I include bench/queue_c.c -o "$OUT/queue_c" -L target/release \
    -Wl,-rpath,"$ROOT/target/release" -lmpsync -lrt
VENV=$OUT/venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q maturin faster-fifo
fi
PATH="$VENV/bin:$PATH" "$VENV/bin/pip" install -q --no-build-isolation --force-reinstall \
    --no-deps ./python
echo "== C: mp_queue_t vs POSIX mq ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
"$OUT/queue_c" "$REPS"
echo "== Python: mpsync.Queue vs multiprocessing.Queue vs faster-fifo"
"$VENV/bin/python" bench/py_queue.py "$REPS" 100000
