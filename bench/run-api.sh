#!/usr/bin/env bash
# Benchmarks ferry's API server: builds release binaries, starts `ferry server` on a temporary
# data dir inside a fresh network namespace (only loopback, up), runs api-bench inside that
# namespace, and stops ferry by PID and removes the data dir on exit, whatever happens.
# Extra arguments go to api-bench (e.g. `bench/run-api.sh --clients 32`). Needs root.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
port=6443

cargo build --release --manifest-path "$root/Cargo.toml" -p ferry -p ferry-bench

tmp=$(mktemp -d -t ferry-bench.XXXXXX)
ferry_pid=
cleanup() {
    if [ -n "$ferry_pid" ]; then
        kill -TERM "$ferry_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$ferry_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$ferry_pid" 2>/dev/null || true
        wait "$ferry_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

echo "machine: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "$(awk '/MemAvailable/ {printf "%.1f GiB available", $2/1048576}' /proc/meminfo)"

# unshare execs sh, which execs ferry: $! is ferry's PID.
unshare --net -- sh -c 'ip link set lo up && exec "$0" server --data-dir "$1" --port "$2"' \
    "$target/release/ferry" "$tmp/data" "$port" >"$tmp/ferry.log" 2>&1 &
ferry_pid=$!

for _ in $(seq 1 300); do
    [ -s "$tmp/data/kubeconfig" ] && break
    kill -0 "$ferry_pid" 2>/dev/null || { cat "$tmp/ferry.log" >&2; exit 1; }
    sleep 0.1
done
[ -s "$tmp/data/kubeconfig" ] || { echo "ferry wrote no kubeconfig" >&2; cat "$tmp/ferry.log" >&2; exit 1; }

# api-bench waits for /readyz itself (bounded) before measuring.
status=0
nsenter --net="/proc/$ferry_pid/ns/net" -- \
    "$target/release/api-bench" --kubeconfig "$tmp/data/kubeconfig" "$@" || status=$?
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); ferry RSS: $(awk '/VmRSS/ {print $2, $3}' "/proc/$ferry_pid/status" 2>/dev/null || echo gone)"
if [ "$status" -ne 0 ]; then
    echo "api-bench failed ($status); ferry log tail:" >&2
    tail -n 50 "$tmp/ferry.log" >&2
fi
exit "$status"
