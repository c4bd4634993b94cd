#!/usr/bin/env bash
# Benchmarks how fast Services follow the cluster, in a two-node lab (bench/lab.sh: release
# build, fresh namespaces, everything stopped by PID and removed on exit): from a pod turning
# Ready to the first connection through its ClusterIP that reaches it (from a client pod on the
# other node), and from a Service's creation to its name resolving in a pod
# (bench/services-latency.py). Extra arguments go to the script (e.g. `--trials 50`). Needs root.
LAB_NODES=2
# shellcheck source=bench/lab.sh
. "$(dirname "$0")/lab.sh"

in_lab timeout 900 python3 "$root/bench/services-latency.py" \
    --kubeconfig "$tmp/data/kubeconfig" --cache-dir "$tmp/kube-cache" "$@"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
