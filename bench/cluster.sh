#!/usr/bin/env bash
# Cluster lock benchmark (by hand; not part of the tests): starts a 3-member etcd cluster
# on loopback (ports 24379-24384, data under target/bench/etcd), installs mpsync.cluster
# and python-etcd3 into target/pyvenv, runs bench/cluster.py, stops the cluster.
#   bash bench/cluster.sh [N]
# Needs etcd-server, etcd-client (etcdctl) and protobuf-compiler (apt-get install ...).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
DIR=$PWD/target/bench/etcd
rm -rf "$DIR" && mkdir -p "$DIR"
venv=target/pyvenv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
export PATH="$PWD/$venv/bin:$PATH"
pip=("$venv/bin/python" -m pip -q --disable-pip-version-check)
"${pip[@]}" install maturin etcd3
# The packages as built by scripts/test.sh, or a release build here (several minutes).
"$venv/bin/python" -c "import mpsync.cluster" 2>/dev/null ||
    "${pip[@]}" install --no-build-isolation --no-deps ./python ./cluster/python
# python-etcd3's generated code predates protobuf 4's C++ descriptors.
export PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python
cluster="e1=http://127.0.0.1:24382,e2=http://127.0.0.1:24383,e3=http://127.0.0.1:24384"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for i in 1 2 3; do
    etcd --name "e$i" --data-dir "$DIR/e$i" \
        --listen-client-urls "http://127.0.0.1:$((24378 + i))" --advertise-client-urls "http://127.0.0.1:$((24378 + i))" \
        --listen-peer-urls "http://127.0.0.1:$((24381 + i))" --initial-advertise-peer-urls "http://127.0.0.1:$((24381 + i))" \
        --initial-cluster "$cluster" --initial-cluster-state new >"$DIR/e$i.log" 2>&1 &
    pids+=($!)
done
eps="http://127.0.0.1:24379,http://127.0.0.1:24380,http://127.0.0.1:24381"
until ETCDCTL_API=3 etcdctl --endpoints="$eps" endpoint health >/dev/null 2>&1; do sleep 0.2; done
"$venv/bin/python" bench/cluster.py "$eps" "$N"
