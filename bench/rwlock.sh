#!/usr/bin/env bash
# The reader-writer lock's rows of BENCHMARKS.md ("Reader-writer lock"): mp_rwlock_t and
# a process-shared pthread_rwlock_t in the same run, plus callgrind's instruction counts
# per pair (the stable figure). Prints the rows; nothing is asserted.
#
#   bash bench/rwlock.sh            (~1 minute on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/bench
mkdir -p "$OUT"
cargo build --release --quiet
gcc -O2 -g -Wall -Wextra -Iinclude bench/rwlock.c -Ltarget/release -lmpsync \
    -Wl,-rpath,"$PWD/target/release" -pthread -o "$OUT/rwlock"
B=$OUT/rwlock
"$B" pairs 15
"$B" scale 0.5
"$B" mix 1
"$B" death 300
if command -v valgrind > /dev/null 2>&1; then
    # Instructions per pair: (Ir of 12000 pairs - Ir of 2000 pairs) / 10000.
    for kind in mp-read pt-read mp-write pt-write; do
        ir() {
            valgrind --tool=callgrind --callgrind-out-file=/dev/null "$B" ir "$kind" "$1" 2>&1 |
                sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
        }
        small=$(ir 2000)
        large=$(ir 12000)
        echo -e "ir\t$kind\t$(( (large - small) / 10000 )) instructions per pair"
    done
else
    echo "ir: valgrind not installed (apt-get install valgrind): no instruction counts"
fi
