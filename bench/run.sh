#!/usr/bin/env bash
# libmpsync benchmarks: one command builds everything, measures every row side by side
# on this machine, and rewrites the generated part of BENCHMARKS.md.
#
#   bash bench/run.sh            full run (~2-3 minutes on 2 cores)
#   bash bench/run.sh --quick    fewer repetitions, for trying changes (not for BENCHMARKS.md)
#
# Steps: install Boost headers if missing (apt, best effort) -> cargo build --release
# -> compile bench/*.c, *.cpp with -O2 against include/mpsync.h and
# target/release/libmpsync.so -> run the phases (uncontended, contended, hand-off,
# Condition, array threads) -> Python's locks -> callgrind instruction counts -> perf (if the CPU
# counters are available) -> bench/report.py writes BENCHMARKS.md (the hand-written
# analysis below its marker line is kept).
#
# Not part of the test suite: timing numbers are never asserted anywhere.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/bench
RAW=$OUT/raw.tsv
QUICK=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        *) echo "usage: bash bench/run.sh [--quick]" >&2; exit 2 ;;
    esac
done

# Uncontended rows: U_PROCS fresh processes, U_REPS repetitions each. A process keeps
# its addresses (stack, heap, TLS) and its threads' tokens for its whole life, and
# where those meet the objects' page offsets decides some costs (4K aliasing, see
# BENCHMARKS.md): every ratio is reported as the median and the spread over processes.
if [ "$QUICK" = 1 ]; then
    U_PROCS=10 U_REPS=3 C_REPS=2 C_SECS=0.2 H_REPS=2 V_REPS=2 PY_REPS=3
else
    U_PROCS=12 U_REPS=5 C_REPS=10 C_SECS=0.15 H_REPS=5 V_REPS=5 PY_REPS=7
fi
CG_SMALL=2000
CG_LARGE=12000

log() { printf '[bench] %s\n' "$*" >&2; }
mkdir -p "$OUT"
: > "$RAW"
note() { printf 'N\t%s\n' "$*" >> "$RAW"; }
T_START=$(date +%s)

# --- Boost.Interprocess headers (Debian libboost-dev): install only if missing ------------
BOOST_HDR=/usr/include/boost/interprocess/sync/interprocess_mutex.hpp
if [ ! -f "$BOOST_HDR" ] && command -v apt-get > /dev/null 2>&1; then
    log "Boost headers missing: apt-get install -y libboost-dev"
    if ! apt-get install -y libboost-dev > "$OUT/apt.log" 2>&1; then
        # The package lists may be stale or absent; refresh once and retry.
        { apt-get update && apt-get install -y libboost-dev; } >> "$OUT/apt.log" 2>&1 || true
    fi
fi
HAVE_BOOST=0
if [ -f "$BOOST_HDR" ] && command -v g++ > /dev/null 2>&1; then
    HAVE_BOOST=1
else
    note "Boost.Interprocess rows skipped: libboost-dev not installed and apt-get install failed or unavailable (see target/bench/apt.log)"
fi

# --- Build --------------------------------------------------------------------------------
log "cargo build --release"
cargo build --release --quiet
LIB=$ROOT/target/release
CFLAGS=(-O2 -g -Wall -Wextra -I"$ROOT/include" -I"$ROOT/bench")
log "compiling the bench programs (-O2)"
gcc "${CFLAGS[@]}" -fPIC -shared -o "$OUT/libmpfloor.so" bench/floor.c
LINK=(-L"$OUT" -lmpfloor -L"$LIB" -lmpsync -Wl,-rpath,"$LIB:$OUT" -pthread)
# C++ parts, linked with g++: the mpsync.hpp rows (hpp.cpp) and, with Boost, bip.cpp.
DEFS=()
CXX_OBJS=()
if command -v g++ > /dev/null 2>&1; then
    g++ "${CFLAGS[@]}" -std=c++17 -c bench/hpp.cpp -o "$OUT/hpp.o"
    DEFS+=(-DHAVE_HPP)
    CXX_OBJS+=("$OUT/hpp.o")
else
    note "mpsync.hpp rows skipped: no C++ compiler (g++)"
fi
if [ "$HAVE_BOOST" = 1 ]; then
    g++ "${CFLAGS[@]}" -std=c++17 -c bench/bip.cpp -o "$OUT/bip.o"
    DEFS+=(-DHAVE_BOOST)
    CXX_OBJS+=("$OUT/bip.o")
fi
gcc "${CFLAGS[@]}" -std=gnu11 "${DEFS[@]}" -c bench/mpbench.c -o "$OUT/mpbench.o"
if [ ${#CXX_OBJS[@]} -gt 0 ]; then
    g++ -o "$OUT/mpbench" "$OUT/mpbench.o" "${CXX_OBJS[@]}" "${LINK[@]}"
else
    gcc -o "$OUT/mpbench" "$OUT/mpbench.o" "${LINK[@]}"
fi
BENCH=$OUT/mpbench

# Measure at a higher CPU priority when allowed (root): on a shared machine other work
# then steals fewer time slices from the measured processes. All of them run at the same
# priority, so their behaviour towards each other is unchanged.
PRIO=()
if nice -n -10 true 2> /dev/null; then PRIO=(nice -n -10); fi

# --- Machine description --------------------------------------------------------------------
{
    printf 'cpu\t%s\n' "$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
    printf 'cpus\t%s\n' "$(nproc) online ($(lscpu | sed -n 's/^Thread(s) per core:[[:space:]]*//p' | head -1) thread(s) per core; $(lscpu | sed -n 's/^Hypervisor vendor:[[:space:]]*/hypervisor /p' | head -1))"
    printf 'kernel\t%s\n' "$(uname -sr)"
    printf 'glibc\t%s\n' "$(getconf GNU_LIBC_VERSION 2> /dev/null || ldd --version | head -1)"
    printf 'rustc\t%s\n' "$(rustc -V)"
    printf 'cc\t%s\n' "$(gcc --version | head -1)"
    printf 'python\t%s\n' "$(python3 -V 2>&1)"
    printf 'valgrind\t%s\n' "$(valgrind --version 2> /dev/null || echo 'not installed')"
    printf 'commit\t%s\n' "$(git log -1 --format=%h -- src include Cargo.toml 2> /dev/null || echo unknown) (last commit touching src/, include/, Cargo.toml; checkout at $(git rev-parse --short HEAD 2> /dev/null || echo unknown))$(git diff --quiet HEAD -- src include Cargo.toml 2> /dev/null || echo ', with uncommitted changes in src/')"
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'priority\t%s\n' "$([ ${#PRIO[@]} -gt 0 ] && echo 'measured at nice -10' || echo 'measured at the default priority')"
    printf 'load_start\t%s (1, 5, 15 min; other work on the machine inflates contended and hand-off figures)\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'command\t%s\n' "bash bench/run.sh${1:+ $*}"
    printf 'reps\tuncontended %s fresh processes x %s, contended %s x %s s, hand-off %s, Condition %s, Python %s\n' \
        "$U_PROCS" "$U_REPS" "$C_REPS" "$C_SECS" "$H_REPS" "$V_REPS" "$PY_REPS"
} > "$OUT/machine.tsv"

# --- Measurements ---------------------------------------------------------------------------
run_phase() {
    local name=$1
    shift
    log "$name"
    local rc=0
    timeout 300 "${PRIO[@]}" "$@" >> "$RAW" || rc=$?
    if [ "$rc" != 0 ]; then
        log "phase $name FAILED (exit status $rc)"
        note "phase $name failed (exit status $rc): its rows are missing or incomplete"
    fi
}
for proc in $(seq 1 "$U_PROCS"); do
    run_phase "uncontended (process $proc of $U_PROCS, $U_REPS reps)" "$BENCH" uncontended "$U_REPS" "$proc"
done
run_phase "contended ($C_REPS reps x 28 runs x $C_SECS s)" "$BENCH" contended "$C_REPS" "$C_SECS"
run_phase "hand-off ($H_REPS reps)" "$BENCH" handoff "$H_REPS"
run_phase "Condition ($V_REPS reps)" "$BENCH" cond "$V_REPS"
run_phase "array threads ($V_REPS reps)" "$BENCH" arraythreads "$V_REPS"
if command -v python3 > /dev/null 2>&1; then
    run_phase "Python locks ($PY_REPS reps)" python3 bench/py_locks.py "$PY_REPS"
    # The mpsync package against multiprocessing, in the venv scripts/test.sh builds.
    if [ -x "$ROOT/target/pyvenv/bin/python" ] && "$ROOT/target/pyvenv/bin/python" -c "import mpsync" 2> /dev/null; then
        run_phase "mpsync package vs multiprocessing ($PY_REPS reps)" \
            "$ROOT/target/pyvenv/bin/python" bench/py_mpsync.py "$PY_REPS"
    else
        note "mpsync Python package not installed in target/pyvenv (run scripts/test.sh): its rows are skipped"
    fi
else
    note "python3 not found: Python rows skipped"
fi

# --- callgrind: Ir per pair = (Ir(LARGE pairs) - Ir(SMALL pairs)) / (LARGE - SMALL) ----------
CG=$OUT/callgrind
rm -rf "$CG"
mkdir -p "$CG"
if command -v valgrind > /dev/null 2>&1; then
    log "callgrind ($("$BENCH" list | wc -l) primitives x 2 runs)"
    export BENCH CG
    "$BENCH" list | while read -r name; do
        printf '%s %s\n%s %s\n' "$name" "$CG_SMALL" "$name" "$CG_LARGE"
    done | xargs -P "$(nproc)" -n 2 sh -c \
        'valgrind --tool=callgrind --callgrind-out-file="$CG/$0.$1.out" "$BENCH" ir "$0" "$1" > /dev/null 2> "$CG/$0.$1.log" || echo "callgrind $0 $1 failed" >&2'
    printf 'G\t%s\t%s\n' "$CG_SMALL" "$CG_LARGE" >> "$RAW"
else
    note "valgrind not installed: instruction counts skipped"
fi

# --- perf: hardware counters, if this machine exposes them ----------------------------------
PERF=$OUT/perf
rm -rf "$PERF"
if command -v perf > /dev/null 2>&1 &&
    perf stat -x, -e instructions:u true 2>&1 > /dev/null | grep -q '^[0-9]'; then
    mkdir -p "$PERF"
    log "perf stat (cycles, instructions)"
    for name in floor mp_lock mp_rlock mp_sem pthread_pshared pthread_robust_recursive sem_t; do
        for n in 1000000 6000000; do
            perf stat -x, -e cycles:u,instructions:u -o "$PERF/$name.$n.csv" \
                "$BENCH" ir "$name" "$n" > /dev/null 2>&1 || true
        done
    done
    printf 'Q\t1000000\t6000000\n' >> "$RAW"
else
    note "perf stat: CPU cycle/instruction counters are not available on this machine (perf stat -e instructions reports <not supported>); instruction counts come from callgrind only"
fi

T_END=$(date +%s)
printf 'elapsed\t%s s\n' "$((T_END - T_START))" >> "$OUT/machine.tsv"
printf 'load_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.tsv"

# --- Report ---------------------------------------------------------------------------------
if [ "$QUICK" = 1 ]; then
    python3 bench/report.py --raw "$RAW" --machine "$OUT/machine.tsv" --callgrind "$CG" --perf "$PERF" \
        --out "$OUT/BENCHMARKS.quick.md"
    log "quick run: report in target/bench/BENCHMARKS.quick.md (BENCHMARKS.md untouched)"
else
    python3 bench/report.py --raw "$RAW" --machine "$OUT/machine.tsv" --callgrind "$CG" --perf "$PERF" \
        --out BENCHMARKS.md
    log "wrote BENCHMARKS.md ($((T_END - T_START)) s)"
fi
