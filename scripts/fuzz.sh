#!/usr/bin/env bash
# Fuzzes every mp_* entry point (fuzz/fuzz_targets/entry_points.rs) with libFuzzer and
# AddressSanitizer for a bounded time:
#   scripts/fuzz.sh [SECONDS] [extra libFuzzer arguments...]     (default 60 s)
# Needs only a nightly toolchain and crates.io: it builds the target with the same
# flags cargo-fuzz uses (libfuzzer-sys compiles libFuzzer itself), so cargo-fuzz need
# not be installed; `cargo fuzz run entry_points` works too where it is.
# A crash, a sanitizer report, a panic, a non-documented status, or one input running
# longer than 10 s (a hang: every blocking call in the target has a timeout of at
# most 2 ms) fails the run; the input is saved under fuzz/artifacts/entry_points/.
# MPSYNC_FUZZ_SKIP=rlock (comma-separated kinds) leaves object kinds out.
# fuzz/seeds/entry_points/ holds hand-written starting programs (one per kind); new
# inputs go to fuzz/corpus/entry_points/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
shift || true
toolchain="${MPSYNC_FUZZ_TOOLCHAIN:-nightly}"
target="$(rustc +"$toolchain" -vV | sed -n 's/^host: //p')"
# The flags of cargo-fuzz 0.12 (`cargo fuzz build -O`, address sanitizer, debug
# assertions on). --target keeps build scripts and proc-macros uninstrumented.
export RUSTFLAGS="${RUSTFLAGS:-} -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks \
-Cforce-frame-pointers -Zsanitizer=address -Cunsafe-allow-abi-mismatch=sanitizer"
export RUSTDOCFLAGS="$RUSTFLAGS"
t0=$(date +%s)
cargo +"$toolchain" build --release --target "$target" --bin entry_points
echo "build: $(( $(date +%s) - t0 )) s"
bin="${CARGO_TARGET_DIR:-target}/$target/release/entry_points"
mkdir -p corpus/entry_points artifacts/entry_points
# Named objects are unlinked by the target after each input; a crash can leave some.
export MPSYNC_FUZZ_PREFIX="mpfz$$-"
cleanup() { rm -f /dev/shm/"$MPSYNC_FUZZ_PREFIX"* 2>/dev/null || true; }
trap cleanup EXIT
# fuzz/lsan.supp: the one allocation that is leaked on purpose (see that file).
LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/lsan.supp:print_suppressions=0}" \
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}" \
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -max_len=4096 \
    -artifact_prefix=artifacts/entry_points/ -print_final_stats=1 "$@" \
    corpus/entry_points seeds/entry_points
