#!/usr/bin/env bash
# Builds libmpsync (cargo, release) and the C demo examples/demo.c, then runs the demo:
# processes sharing a Lock, a named RLock, a Semaphore, and an RLock whose owner dies.
# Needs only Rust (cargo) and a C compiler. Exit status 0 if every check in the demo held.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --lib
mkdir -p target/demo
"${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -Werror -Iinclude examples/demo.c -o target/demo/demo \
    -Ltarget/release -lmpsync -Wl,-rpath,"$PWD/target/release"
echo "+ target/demo/demo"
exec target/demo/demo "$@"
