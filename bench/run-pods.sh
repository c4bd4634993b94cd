#!/usr/bin/env bash
# Benchmarks pod start-up: in a one-node lab (bench/lab.sh: release build, fresh namespaces,
# everything stopped by PID and removed on exit), bench/pods-latency.py creates 100 pods with
# one `kubectl apply` and times them to Running and Ready, with the agent's RSS. Extra
# arguments go to pods-latency.py (e.g. `--pods 50`). Needs root.
LAB_NODES=1
# shellcheck source=bench/lab.sh
. "$(dirname "$0")/lab.sh"

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
