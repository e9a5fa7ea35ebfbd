#!/usr/bin/env bash
# Builds the library with AddressSanitizer (nightly rustc, -Zsanitizer=address) and the
# C tests with AddressSanitizer + UndefinedBehaviorSanitizer (gcc), and runs every C test
# against it. Usage:
#   scripts/sanitize.sh [test_program...]        e.g. scripts/sanitize.sh test_barrier
# Needs the nightly toolchain and gcc. If the nightly build of the sanitized library is
# not possible, MPSYNC_SANITIZE_RUST=0 links the C tests against a normal debug build
# (only the C side is then instrumented).
# Tests that cannot run under ASan are skipped by name, with the reason, below.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
out="$root/target/sanitize"
mkdir -p "$out/bin"
t0=$(date +%s)

# test name -> why it cannot run under ASan ("name|reason" lines).
skips=(
    "handles_stay_unique_in_a_small_address_space|it lowers RLIMIT_AS, and ASan's shadow memory needs terabytes of address space"
    "objects_work_without_an_arena|it lowers RLIMIT_AS below what ASan's shadow memory needs"
)

# program -> why none of its tests can run under ASan ("program|reason" lines).
program_skips=(
    "test_oom|it replaces malloc and friends, which AddressSanitizer's allocator owns (ASan aborts at start-up)"
)

if [ "${MPSYNC_SANITIZE_RUST:-1}" = 1 ]; then
    target="$(rustc +nightly -vV | sed -n 's/^host: //p')"
    # --target keeps build scripts uninstrumented; the C runtime (libasan) comes from
    # gcc, whose interface the rustc instrumentation shares.
    RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers -Cunsafe-allow-abi-mismatch=sanitizer" \
        cargo +nightly build --lib --target "$target" --target-dir "$out/cargo"
    libdir="$out/cargo/$target/debug"
else
    cargo build --lib --target-dir "$out/cargo"
    libdir="$out/cargo/debug"
fi
echo "library built: $(( $(date +%s) - t0 )) s"

cflags=(-std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-unused-function
        -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
        -I "$root/include" -I "$root/c_tests")
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export MPTEST_TIMEOUT="${MPTEST_TIMEOUT:-200}"

programs=("$@")
if [ ${#programs[@]} -eq 0 ]; then
    for f in c_tests/test_*.c; do programs+=("$(basename "$f" .c)"); done
fi
failed=()
for prog in "${programs[@]}"; do
    skip=""
    for s in "${program_skips[@]}"; do
        if [ "${s%%|*}" = "$prog" ]; then skip="${s#*|}"; fi
    done
    if [ -n "$skip" ]; then echo "SKIP $prog under ASan: $skip"; continue; fi
    exe="$out/bin/$prog"
    gcc "${cflags[@]}" "c_tests/$prog.c" -o "$exe" -L "$libdir" \
        -Wl,--disable-new-dtags,-rpath,"$libdir" -lmpsync -lpthread -lm
    # A program that cannot even list its tests fails: never a silent skip.
    if ! "$exe" --list > "$out/bin/$prog.list"; then
        echo "FAIL $prog: --list failed under ASan"
        failed+=("$prog")
        continue
    fi
    mapfile -t names < "$out/bin/$prog.list"
    run=()
    for n in "${names[@]}"; do
        skip=""
        for s in "${skips[@]+"${skips[@]}"}"; do
            if [ "${s%%|*}" = "$n" ]; then skip="${s#*|}"; fi
        done
        if [ -n "$skip" ]; then echo "SKIP $prog/$n under ASan: $skip"; else run+=("$n"); fi
    done
    [ ${#run[@]} -eq 0 ] && continue
    echo "== $prog"
    if ! env -u LD_LIBRARY_PATH "$exe" "${run[@]}"; then failed+=("$prog"); fi
done
echo "sanitize: $(( $(date +%s) - t0 )) s"
if [ ${#failed[@]} -ne 0 ]; then
    echo "FAILED under ASan/UBSan: ${failed[*]}"
    exit 1
fi
echo "all C tests passed under ASan/UBSan"
