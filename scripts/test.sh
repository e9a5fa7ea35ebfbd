#!/usr/bin/env bash
# Runs every test: the Rust unit tests, the C tests (tests/c_tests.rs builds each
# c_tests/test_*.c against include/mpsync.h and libmpsync.so and runs it; they fork,
# exec and SIGKILL real processes), the header compile checks (C99, C11, C++17) and the
# header freshness check. Extra arguments go to `cargo test`, e.g.
#   scripts/test.sh --test c_tests test_smoke
set -euo pipefail
cd "$(dirname "$0")/.."
# tests/c_tests.rs links the C tests against the library in target/debug/deps, which
# `cargo test` rebuilds; `cargo build --lib` also refreshes target/debug/libmpsync.so for
# anyone running the C test binaries by hand.
cargo build --lib
cargo test "$@"
