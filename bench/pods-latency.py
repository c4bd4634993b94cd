#!/usr/bin/env python3
"""Times pods from `kubectl apply` to Running and to Ready, for bench/run-pods.sh.

Creates N pods (luksa/kubia with a tcpSocket readiness probe, period 1 s) with one
`kubectl apply -f` of a List, while `kubectl get pods -w --output-watch-events -o json` runs;
each watch event is stamped with the local clock when its last line is read. Per pod it reports
the time from the batch's send and from the pod's own ADDED event (the create's effect, as close
to a per-pod send time as one apply allows) to the first event with phase Running and with
condition Ready=True; then the same from the API objects' own timestamps (1 s resolution).
Prints a table and one `SUMMARY {json}` line; exits non-zero if not every pod got Ready in time.
"""

import argparse
import datetime
import json
import subprocess
import sys
import threading
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--cache-dir", required=True)
    p.add_argument("--workdir", required=True, help="where the manifest is written")
    p.add_argument("--agent-pid", type=int, required=True)
    p.add_argument("--pods", type=int, default=100)
    p.add_argument("--timeout", type=float, default=180.0, help="seconds for all pods to be Ready")
    return p.parse_args()


def kubectl_cmd(args, *rest):
    return ["kubectl", f"--kubeconfig={args.kubeconfig}", f"--cache-dir={args.cache_dir}", *rest]


def manifest(n):
    """A List of n kubia pods; the probe makes Ready mean the app accepts connections."""
    pods = []
    for i in range(n):
        pods.append({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"bench-{i:03d}", "labels": {"app": "pods-bench"}},
            "spec": {
                "containers": [{
                    "name": "kubia",
                    "image": "luksa/kubia",
                    "ports": [{"containerPort": 8080}],
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                }],
            },
        })
    return {"apiVersion": "v1", "kind": "List", "items": pods}


class Watch:
    """First local times at which each pod was seen ADDED, Running and Ready."""

    def __init__(self, args):
        self.added, self.running, self.ready = {}, {}, {}
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            kubectl_cmd(args, "get", "pods", "-w", "--output-watch-events", "-o", "json"),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        # With --output-watch-events kubectl prints one compact JSON event per line; joining
        # lines until they parse also copes with indented output.
        lines = []
        for line in self.proc.stdout:
            lines.append(line)
            if not line.rstrip().endswith("}"):
                continue
            now = time.time()
            try:
                event = json.loads("".join(lines))
            except json.JSONDecodeError:
                continue
            lines = []
            self._record(event, now)

    def _record(self, event, now):
        pod = event.get("object", {})
        name = pod.get("metadata", {}).get("name", "")
        if not name.startswith("bench-"):
            return
        status = pod.get("status", {})
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in status.get("conditions", []))
        with self.lock:
            self.added.setdefault(name, now)
            if status.get("phase") == "Running":
                self.running.setdefault(name, now)
            if ready:
                self.ready.setdefault(name, now)

    def ready_count(self):
        with self.lock:
            return len(self.ready)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def percentile(values, q):
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def stats(values_s):
    ms = [round(v * 1000.0, 1) for v in values_s]
    return {"n": len(ms), "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99),
            "max_ms": max(ms) if ms else None}


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def api_latencies(args):
    """Running and Ready latencies from the objects' own (1 s) timestamps."""
    out = subprocess.run(kubectl_cmd(args, "get", "pods", "-l", "app=pods-bench", "-o", "json"),
                         capture_output=True, text=True, timeout=60, check=True)
    running, ready = [], []
    for pod in json.loads(out.stdout)["items"]:
        created = parse_time(pod["metadata"]["creationTimestamp"])
        status = pod.get("status", {})
        statuses = status.get("containerStatuses") or [{}]
        started = statuses[0].get("state", {}).get("running", {}).get("startedAt")
        if started:
            running.append(parse_time(started) - created)
        for c in status.get("conditions", []):
            if c.get("type") == "Ready" and c.get("status") == "True":
                ready.append(parse_time(c["lastTransitionTime"]) - created)
    return running, ready


def main():
    args = parse_args()
    path = f"{args.workdir}/pods.json"
    with open(path, "w") as f:
        json.dump(manifest(args.pods), f)

    watch = Watch(args)
    time.sleep(2.0)  # let the watch be established before the first create
    rss_before = rss_kib(args.agent_pid)

    sent = time.time()
    subprocess.run(kubectl_cmd(args, "apply", "-f", path), stdout=subprocess.DEVNULL,
                   timeout=120, check=True)
    applied = time.time()

    deadline = sent + args.timeout
    while watch.ready_count() < args.pods and time.time() < deadline:
        time.sleep(0.05)
    all_ready = time.time()
    rss_after = rss_kib(args.agent_pid)
    time.sleep(0.5)
    watch.stop()

    with watch.lock:
        added, running, ready = dict(watch.added), dict(watch.running), dict(watch.ready)
    api_running, api_ready = api_latencies(args)
    figures = {
        "pods": args.pods,
        "apply_s": round(applied - sent, 3),
        "all_ready_s": round(all_ready - sent, 3),
        "running_from_batch": stats([t - sent for t in running.values()]),
        "ready_from_batch": stats([t - sent for t in ready.values()]),
        "running_from_added": stats([t - added[n] for n, t in running.items() if n in added]),
        "ready_from_added": stats([t - added[n] for n, t in ready.items() if n in added]),
        "api_running": stats(api_running),
        "api_ready": stats(api_ready),
        "agent_rss_kib_before": rss_before,
        "agent_rss_kib_after": rss_after,
    }
    p50 = figures["running_from_added"]["p50_ms"]
    figures["aim_running_p50_le_100ms"] = p50 is not None and p50 <= 100.0
    report(figures)
    return 0 if len(ready) == args.pods else 1


def report(f):
    print(f"{f['pods']} pods: apply took {f['apply_s']} s; all Ready after {f['all_ready_s']} s")
    print(f"{'latency (ms)':<44}{'n':>5}{'p50':>10}{'p99':>10}{'max':>10}")
    rows = [
        ("apply sent -> watch shows Running", "running_from_batch"),
        ("apply sent -> watch shows Ready", "ready_from_batch"),
        ("pod ADDED -> watch shows Running", "running_from_added"),
        ("pod ADDED -> watch shows Ready", "ready_from_added"),
        ("creationTimestamp -> startedAt (1 s res.)", "api_running"),
        ("creationTimestamp -> Ready (1 s res.)", "api_ready"),
    ]
    fmt = lambda v: "-" if v is None else f"{v:.0f}"
    for label, key in rows:
        s = f[key]
        print(f"{label:<44}{s['n']:>5}{fmt(s['p50_ms']):>10}{fmt(s['p99_ms']):>10}"
              f"{fmt(s['max_ms']):>10}")
    print(f"agent RSS: {f['agent_rss_kib_before']} KiB before, {f['agent_rss_kib_after']} KiB "
          f"with {f['pods']} pods")
    print("SUMMARY " + json.dumps(f, separators=(",", ":")))


if __name__ == "__main__":
    sys.exit(main())
