#!/usr/bin/env bash
# Runs every test: the Rust unit tests, the C tests (tests/c_tests.rs builds each
# c_tests/test_*.c against include/mpsync.h and libmpsync.so and runs it; they fork,
# exec and SIGKILL real processes), the header compile checks (C99, C11, C++17) and the
# header freshness check, then the Python package's pytest suite (python/tests). Extra
# arguments go to `cargo test` (and skip the Python step), e.g.
#   scripts/test.sh --test c_tests test_smoke
set -euo pipefail
cd "$(dirname "$0")/.."
# tests/c_tests.rs links the C tests against the library in target/debug/deps, which
# `cargo test` rebuilds; `cargo build --lib` also refreshes target/debug/libmpsync.so for
# anyone running the C test binaries by hand.
cargo build --lib
cargo test "$@"

# The Python package (python/): built and installed into a venv under target/ with pip
# (as `pip install ./python` does on a user's machine), then its pytest suite runs against
# the library just built. Only for a full run: arguments select cargo tests.
python_tests() {
    if ! command -v python3 > /dev/null 2>&1; then
        echo "SKIP: python3 not found: the Python package's tests did not run"
        return 0
    fi
    local venv=target/pyvenv
    local pip=("$venv/bin/python" -m pip -q --disable-pip-version-check)
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    # maturin's build hook runs the `maturin` program it finds on PATH.
    export PATH="$PWD/$venv/bin:$PATH"
    "${pip[@]}" install maturin pytest
    # numpy is optional: the zero-copy numpy tests skip without it.
    "${pip[@]}" install numpy || echo "NOTE: numpy could not be installed: its tests skip"
    # mypy checks the type stubs (python/tests/test_type_stubs.py); optional like numpy.
    # Pinned to a minor release: a newer mypy may judge the same stubs differently.
    "${pip[@]}" install "mypy~=2.4.1" || echo "NOTE: mypy could not be installed: the stub checks skip"
    # The build tools are in the venv already: no isolated build environment needed.
    "${pip[@]}" install --no-build-isolation --force-reinstall --no-deps ./python
    # Each test has its own time limit (python/tests/conftest.py); this one bounds the run.
    MPSYNC_LIB_DIR="$PWD/target/debug" timeout 900 "$venv/bin/python" -m pytest -q python/tests
    # The documentation's Python samples run only where `import mpsync` works: again,
    # with the venv (and so the package just installed) first on PATH.
    cargo test --test docs_samples
}
# The cluster library (cluster/, not a default member): its tests start a real 3-member
# etcd cluster on loopback. They need protoc (to build etcd-client) and etcd; without
# them they are skipped with a message (.ci/run installs both, so CI runs them).
cluster_tests() {
    if ! command -v protoc > /dev/null 2>&1; then
        echo "SKIP: protoc not found (apt-get install protobuf-compiler): the cluster tests did not run"
        return 0
    fi
    if ! command -v etcd > /dev/null 2>&1; then
        echo "SKIP: etcd not found (apt-get install etcd-server): the cluster tests did not run"
        return 0
    fi
    cargo test -p mpsync-cluster
    # `mpsync --etcd` (the CLI's `etcd` feature, off by default).
    cargo test -p mpsync-cli --features etcd --test etcd
    # The Python face (the separately installed package mpsync-cluster, imported as
    # mpsync.cluster), in the venv python_tests made; a debug build reuses the crates
    # just built for the tests.
    local venv=target/pyvenv
    if [ -x "$venv/bin/python" ]; then
        PATH="$PWD/$venv/bin:$PATH" MATURIN_PEP517_ARGS="--profile dev" "$venv/bin/python" -m pip -q \
            --disable-pip-version-check install --no-build-isolation --force-reinstall --no-deps ./cluster/python
        timeout 600 "$venv/bin/python" -m pytest -q cluster/python/tests
    else
        echo "SKIP: no Python venv: the mpsync.cluster tests did not run"
    fi
}
if [ $# -eq 0 ]; then
    python_tests
    cluster_tests
fi
