# Sourced by the lab benchmarks (run-pods.sh, run-services.sh): builds ferry in release mode and
# runs `ferry up --nodes $LAB_NODES` on a temporary data dir inside fresh network and mount
# namespaces (only loopback up; the lab makes its own namespaces inside), waits for every node
# to be Ready, and stops ferry by PID (it stops its agents and pods) and removes the temp dir on
# exit, whatever happens. Defines: $tmp, $holder_pid, $ferry_pid, kubectl(), in_lab().
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
port=6443
LAB_NODES=${LAB_NODES:-1}

cargo build --release --manifest-path "$root/Cargo.toml" -p ferry

tmp=$(mktemp -d -t ferry-bench.XXXXXX)
holder_pid=
ferry_pid=
stop_pid() { # pid, seconds: SIGTERM, then SIGKILL if still there after that long
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 1 $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
    # ferry up gives its agents 40 s to stop the pods, then removes the lab's namespaces.
    [ -n "$ferry_pid" ] && stop_pid "$ferry_pid" 60
    if [ -n "$holder_pid" ]; then
        stop_pid "$holder_pid" 5
        wait "$holder_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

echo "machine: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "$(awk '/MemAvailable/ {printf "%.1f GiB available", $2/1048576}' /proc/meminfo)"

# A shell holds the new namespaces (ferry moves its own main thread into the lab's cluster
# namespace, so /proc/<ferry>/ns/net would not be the caller's) and runs ferry in the background.
unshare --net --mount -- sh -c \
    'ip link set lo up && "$0" up --nodes "$4" --data-dir "$1" --port "$2" >"$3/up.log" 2>&1 &
     echo $! >"$3/ferry.pid"; wait' \
    "$target/release/ferry" "$tmp/data" "$port" "$tmp" "$LAB_NODES" &
holder_pid=$!

for _ in $(seq 1 100); do
    [ -s "$tmp/ferry.pid" ] && break
    sleep 0.1
done
ferry_pid=$(cat "$tmp/ferry.pid" 2>/dev/null || true)
[ -n "$ferry_pid" ] || { echo "ferry up did not start" >&2; exit 1; }

# Runs a command in the caller's side of the lab (where the API answers on loopback).
in_lab() {
    nsenter --net="/proc/$holder_pid/ns/net" -- "$@"
}

kubectl() {
    in_lab timeout 10 kubectl --kubeconfig="$tmp/data/kubeconfig" --cache-dir="$tmp/kube-cache" "$@"
}

ready=
node_deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$node_deadline" ]; do
    kill -0 "$ferry_pid" 2>/dev/null || break
    if [ -s "$tmp/data/kubeconfig" ] &&
        [ "$(kubectl get nodes --no-headers 2>/dev/null | grep -c ' Ready ')" -eq "$LAB_NODES" ]; then
        ready=1
        break
    fi
    sleep 0.1
done
if [ -z "$ready" ]; then
    echo "the nodes did not get Ready; ferry log:" >&2
    cat "$tmp/up.log" >&2
    exit 1
fi
