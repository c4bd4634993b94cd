#!/usr/bin/env python3
"""Times how fast Services follow the cluster, for bench/run-services.sh.

(a) Programming latency: a kubia pod on node-1 behind Service `lat` flips its readiness probe
(period 1 s); a client pod on node-2 keeps connecting to the ClusterIP every millisecond. Per
trial: from the pod's Ready=True watch event (stamped with the local clock when kubectl prints
it, so the time the API server published it plus the watch's delivery) to the client's first
connection that the pod accepts (stamped by the client with the same machine clock).

(b) DNS latency: per trial a new Service is created while the client resolves its name every
millisecond; from the Service's ADDED watch event to the first answer in the pod.

Prints p50/p99/max per measure and one `SUMMARY {json}` line.
"""

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time

MANIFEST = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "lat-target", "labels": {"app": "lat"}},
            "spec": {
                "nodeName": "node-1",
                "containers": [{
                    "name": "kubia", "image": "luksa/kubia",
                    "readinessProbe": {"exec": {"command": ["ls", "/var/ready"]},
                                       "periodSeconds": 1},
                }],
            },
        },
        {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "lat-client"},
            "spec": {"nodeName": "node-2",
                     "containers": [{"name": "main", "image": "busybox"}]},
        },
        {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "lat"},
            "spec": {"selector": {"app": "lat"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    ],
}

# Runs in the client pod: waits until connections are refused (armed), then connects every
# millisecond until one succeeds and prints that moment.
CONNECT = r"""
import socket, sys, time
vip = sys.argv[1]
def attempt():
    s = socket.socket()
    s.settimeout(0.2)
    try:
        s.connect((vip, 80))
        return True
    except OSError:
        return False
    finally:
        s.close()
deadline = time.time() + 30
while attempt():
    if time.time() > deadline:
        sys.exit("still reachable")
    time.sleep(0.01)
print("armed", flush=True)
while not attempt():
    if time.time() > deadline + 30:
        sys.exit("never reachable")
    time.sleep(0.001)
print(repr(time.time()), flush=True)
"""

# Runs in the client pod: resolves the name every millisecond until it has an answer.
RESOLVE = r"""
import socket, sys, time
name = sys.argv[1]
def attempt():
    try:
        socket.getaddrinfo(name, 80, socket.AF_INET)
        return True
    except OSError:
        return False
if attempt():
    sys.exit("resolves already")
print("armed", flush=True)
deadline = time.time() + 30
while not attempt():
    if time.time() > deadline:
        sys.exit("never resolved")
    time.sleep(0.001)
print(repr(time.time()), flush=True)
"""


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--cache-dir", required=True)
    p.add_argument("--trials", type=int, default=30)
    return p.parse_args()


def kubectl_cmd(args, *rest):
    return ["kubectl", f"--kubeconfig={args.kubeconfig}", f"--cache-dir={args.cache_dir}", *rest]


def kubectl(args, *rest, stdin=None):
    return subprocess.run(kubectl_cmd(args, *rest), input=stdin, capture_output=True,
                          text=True, check=True, timeout=60).stdout


class Stamps:
    """Local times of watch lines, for the watch `kubectl get -w -o jsonpath` prints."""

    def __init__(self, args, *watch):
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(kubectl_cmd(args, "get", *watch, "-w"),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append((time.time(), line.strip()))
                self.cond.notify_all()

    def first_after(self, since, wanted, timeout=30):
        """The time of the first line equal to `wanted` stamped after `since`."""
        end = time.time() + timeout
        with self.cond:
            while True:
                for stamp, line in self.lines:
                    if stamp >= since and line == wanted:
                        return stamp
                left = end - time.time()
                if left <= 0:
                    raise TimeoutError(f"no {wanted!r} watch line")
                self.cond.wait(left)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)


def in_client(args, script, arg):
    """Starts `script` in the client pod; returns the process once it printed `armed`."""
    proc = subprocess.Popen(
        kubectl_cmd(args, "exec", "lat-client", "--", "python3", "-c", script, arg),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if line != "armed":
        raise RuntimeError(f"client: {line!r} {proc.stderr.read()}")
    return proc


def finish(proc):
    line = proc.stdout.readline().strip()
    proc.wait(timeout=60)
    if proc.returncode != 0 or not line:
        raise RuntimeError(f"client failed: {proc.stderr.read()}")
    return float(line)


def wait_until(what, check, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if check():
            return
        time.sleep(0.1)
    raise TimeoutError(what)


def programming(args, vip):
    ready = Stamps(args, "pod", "lat-target", "-o",
                   'jsonpath={.status.conditions[?(@.type=="Ready")].status}{"\\n"}')
    samples = []
    try:
        for _ in range(args.trials):
            kubectl(args, "exec", "lat-target", "--", "rm", "-f", "/var/ready")
            client = in_client(args, CONNECT, vip)
            since = time.time()
            kubectl(args, "exec", "lat-target", "--", "touch", "/var/ready")
            connected = finish(client)
            samples.append(connected - ready.first_after(since, "True"))
    finally:
        ready.stop()
    return samples


def dns(args):
    added = Stamps(args, "services", "-o", 'jsonpath={.metadata.name}{"\\n"}')
    samples = []
    try:
        for i in range(args.trials):
            name = f"dns-{i}"
            client = in_client(args, RESOLVE, f"{name}.default.svc.cluster.local.")
            since = time.time()
            kubectl(args, "create", "service", "clusterip", name, "--tcp=80")
            resolved = finish(client)
            samples.append(resolved - added.first_after(since, name))
    finally:
        added.stop()
    return samples


def summary(samples):
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p99_ms": round(p99, 1),
            "max_ms": round(ms[-1], 1), "min_ms": round(ms[0], 1)}


def main():
    args = parse_args()
    kubectl(args, "apply", "-f", "-", stdin=json.dumps(MANIFEST))
    wait_until("pods running", lambda: kubectl(
        args, "get", "pods", "lat-target", "lat-client", "-o",
        "jsonpath={.items[*].status.phase}") == "Running Running")
    vip = kubectl(args, "get", "svc", "lat", "-o", "jsonpath={.spec.clusterIP}")
    results = {
        "ready_to_routed": summary(programming(args, vip)),
        "service_to_dns_answer": summary(dns(args)),
    }
    print(f"{'measure':<24} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, r in results.items():
        print(f"{name:<24} {r['n']:>4} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['max_ms']:>8}")
    print("SUMMARY " + json.dumps({"bench": "services-latency", **results}))


if __name__ == "__main__":
    sys.exit(main())
