#!/usr/bin/env bash
# Runs the lock-word state machines' unit tests under Miri (undefined behaviour, data
# races, and every atomic-ordering choice exercised with threads in one process). Not
# part of CI (slow; needs the nightly toolchain with the miri component):
#   rustup component add --toolchain nightly miri rust-src
#
# Covered: raw::lock, raw::sem, raw::event, raw::barrier, the Condition tests that need
# no RLock, raw::header, status, sys::time, ffi status tables.
# Not covered, because Miri cannot execute them: tests that mmap shared memory
# (MAP_SHARED), open /dev/shm files, read /proc, or touch the per-thread slot (inline
# initial-exec TLS assembly on x86_64) — i.e. RLock, Condition, arrays and named objects;
# those are exercised by the multi-process C tests instead.
set -euo pipefail
cd "$(dirname "$0")/.."
for seed in 1 2 3; do
    MIRIFLAGS="-Zmiri-seed=$seed" cargo +nightly miri test --lib -- \
        raw::lock raw::sem raw::header status sys::time ffi::tests raw::event raw::barrier \
        raw::cond::tests::layout raw::cond::tests::tokens raw::cond::tests::closed \
        raw::cond::tests::notify_all_forgets raw::cond::tests::overflow raw::cond::tests::bounded_buffer
done
