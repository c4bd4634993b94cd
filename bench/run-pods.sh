#!/usr/bin/env bash
# Benchmarks pod start-up: builds ferry in release mode, runs `ferry up --nodes 1` on a
# temporary data dir inside fresh network and mount namespaces (only loopback up; the lab makes
# its own namespaces inside), waits for the node to be Ready, then bench/pods-latency.py creates
# 100 pods with one `kubectl apply` and times them to Running and Ready, with the agent's RSS.
# On exit ferry is stopped by PID (it stops its agent and pods) and the temp dir removed,
# whatever happens. Extra arguments go to pods-latency.py (e.g. `--pods 50`). Needs root.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
port=6443

cargo build --release --manifest-path "$root/Cargo.toml" -p ferry

tmp=$(mktemp -d -t ferry-pods-bench.XXXXXX)
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
    # ferry up gives its agent 40 s to stop the pods, then removes the lab's namespaces.
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
    'ip link set lo up && "$0" up --nodes 1 --data-dir "$1" --port "$2" >"$3/up.log" 2>&1 &
     echo $! >"$3/ferry.pid"; wait' \
    "$target/release/ferry" "$tmp/data" "$port" "$tmp" &
holder_pid=$!

for _ in $(seq 1 100); do
    [ -s "$tmp/ferry.pid" ] && break
    sleep 0.1
done
ferry_pid=$(cat "$tmp/ferry.pid" 2>/dev/null || true)
[ -n "$ferry_pid" ] || { echo "ferry up did not start" >&2; exit 1; }

kubectl() {
    nsenter --net="/proc/$holder_pid/ns/net" -- timeout 10 kubectl \
        --kubeconfig="$tmp/data/kubeconfig" --cache-dir="$tmp/kube-cache" "$@"
}

ready=
node_deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$node_deadline" ]; do
    kill -0 "$ferry_pid" 2>/dev/null || break
    if [ -s "$tmp/data/kubeconfig" ] &&
        kubectl get nodes --no-headers 2>/dev/null | grep -q ' Ready '; then
        ready=1
        break
    fi
    sleep 0.1
done
if [ -z "$ready" ]; then
    echo "the node did not get Ready; ferry log:" >&2
    cat "$tmp/up.log" >&2
    exit 1
fi
agent_pid=$(sed -n 's/.*agent pid \([0-9]*\),.*/\1/p' "$tmp/up.log" | head -n 1)
[ -n "$agent_pid" ] || { echo "no agent pid in ferry's output" >&2; cat "$tmp/up.log" >&2; exit 1; }

status=0
nsenter --net="/proc/$holder_pid/ns/net" -- timeout 300 python3 "$root/bench/pods-latency.py" \
    --kubeconfig "$tmp/data/kubeconfig" --cache-dir "$tmp/kube-cache" --workdir "$tmp" \
    --agent-pid "$agent_pid" "$@" || status=$?
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg);" \
    "ferry RSS: $(awk '/VmRSS/ {print $2, $3}' "/proc/$ferry_pid/status" 2>/dev/null || echo gone)"
if [ "$status" -ne 0 ]; then
    echo "pods-latency failed ($status); agent log tail:" >&2
    tail -n 50 "$tmp/data/nodes/node-1/agent.log" >&2 || true
fi
exit "$status"
