#!/usr/bin/env bash
# Runs the lock-word state machines' unit tests under Miri (undefined behaviour, data
# races, and the atomic-ordering choices exercised with threads in one process), with
# three different seeds. Not part of CI (slow; needs the nightly toolchain with Miri):
#   rustup component add --toolchain nightly miri rust-src
#
# Covered: raw::{lock, rlock, sem, cond, event, barrier, spin, header}, status, sys::time,
# the ffi status tables. Under Miri the per-thread slot is a Rust thread-local and robust
# mode is off (Miri runs neither the inline initial-exec TLS access nor the robust-list
# and /proc system calls). Not covered: anything that maps shared memory (MAP_SHARED),
# opens /dev/shm files or reads /proc — named objects, arrays, the owner-death back-stop;
# the multi-process C tests exercise those.
set -euo pipefail
cd "$(dirname "$0")/.."
for seed in 1 2 3; do
    MIRIFLAGS="-Zmiri-seed=$seed" cargo +nightly miri test --lib -- \
        raw::lock raw::rlock raw::sem raw::cond raw::event raw::barrier raw::spin raw::header \
        status sys::time ffi::tests
done
