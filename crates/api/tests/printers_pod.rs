//! Pod table rows for realistic pods, compared with the cells kube-apiserver v1.32 prints.

mod support;

use serde_json::{json, Value};
use support::ago;

fn row(object: &Value) -> Vec<Value> {
    match support::row("", "pods", object) {
        Value::Array(cells) => cells,
        other => vec![other],
    }
}

/// A pod `name` on node1 with the given spec additions and status.
fn pod(name: &str, spec: Value, status: Value) -> Value {
    let mut spec_full = json!({
        "containers": [{"name": "kubia", "image": "luksa/kubia"}],
        "nodeName": "node1",
    });
    merge(&mut spec_full, spec);
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": ago(303)},
        "spec": spec_full,
        "status": status,
    })
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        for (k, v) in b {
            a.insert(k, v);
        }
    }
}

fn running(name: &str, ready: bool, restarts: i32) -> Value {
    json!({"name": name, "ready": ready, "restartCount": restarts, "image": "luksa/kubia",
           "imageID": "", "state": {"running": {"startedAt": ago(200)}}})
}

#[test]
fn columns_match_upstream() {
    assert_eq!(
        support::columns("", "pods"),
        vec![
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ]
    );
    let pods = ferry_api::resource::find("", "v1", "pods").unwrap();
    assert_eq!(pods.ops.columns()[0].format, "name");
}

#[test]
fn pod_rows() {
    let cases: Vec<(Value, Value)> = vec![
        // A running, ready pod.
        (
            pod(
                "kubia-0abcd",
                json!({}),
                json!({
                "phase": "Running", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [running("kubia", true, 0)]}),
            ),
            json!([
                "kubia-0abcd",
                "1/1",
                "Running",
                "0",
                "5m3s",
                "10.244.1.5",
                "node1",
                "<none>",
                "<none>"
            ]),
        ),
        // Image still being pulled.
        (
            pod(
                "kubia-1abcd",
                json!({}),
                json!({
                "phase": "Pending",
                "containerStatuses": [{"name": "kubia", "ready": false, "restartCount": 0, "image": "luksa/kubia",
                    "imageID": "", "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
            ),
            json!([
                "kubia-1abcd",
                "0/1",
                "ContainerCreating",
                "0",
                "5m3s",
                "<none>",
                "node1",
                "<none>",
                "<none>"
            ]),
        ),
        // Crash looping, last restart five minutes ago.
        (
            pod(
                "crashy",
                json!({}),
                json!({
                "phase": "Running", "podIP": "10.244.1.9",
                "containerStatuses": [{"name": "kubia", "ready": false, "restartCount": 2, "image": "luksa/kubia",
                    "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                        "startedAt": ago(310), "finishedAt": ago(300)}}}]}),
            ),
            json!([
                "crashy",
                "0/1",
                "CrashLoopBackOff",
                "2 (5m ago)",
                "5m3s",
                "10.244.1.9",
                "node1",
                "<none>",
                "<none>"
            ]),
        ),
        // A finished job pod.
        (
            pod(
                "done",
                json!({"restartPolicy": "Never"}),
                json!({
                "phase": "Succeeded",
                "containerStatuses": [{"name": "kubia", "ready": false, "restartCount": 0, "image": "luksa/kubia",
                    "imageID": "", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
            ),
            json!([
                "done",
                "0/1",
                "Completed",
                "0",
                "5m3s",
                "<none>",
                "node1",
                "<none>",
                "<none>"
            ]),
        ),
        // Being deleted.
        (
            {
                let mut p = pod(
                    "leaving",
                    json!({}),
                    json!({
                    "phase": "Running", "podIP": "10.244.1.6",
                    "containerStatuses": [running("kubia", true, 0)]}),
                );
                p["metadata"]["deletionTimestamp"] = json!(ago(5));
                p
            },
            json!([
                "leaving",
                "1/1",
                "Terminating",
                "0",
                "5m3s",
                "10.244.1.6",
                "node1",
                "<none>",
                "<none>"
            ]),
        ),
        // Deleted while its node is unreachable.
        (
            {
                let mut p = pod(
                    "lost",
                    json!({}),
                    json!({
                    "phase": "Running", "reason": "NodeLost",
                    "containerStatuses": [running("kubia", true, 0)]}),
                );
                p["metadata"]["deletionTimestamp"] = json!(ago(5));
                p
            },
            json!(["lost", "1/1", "Unknown", "0", "5m3s", "<none>", "node1", "<none>", "<none>"]),
        ),
        // Not yet scheduled.
        (
            {
                let mut p = pod("unscheduled", json!({}), json!({"phase": "Pending"}));
                p["spec"].as_object_mut().unwrap().remove("nodeName");
                p
            },
            json!([
                "unscheduled",
                "0/1",
                "Pending",
                "0",
                "5m3s",
                "<none>",
                "<none>",
                "<none>",
                "<none>"
            ]),
        ),
        // Second of two init containers running.
        (
            pod(
                "init",
                json!({"initContainers": [
                    {"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}]}),
                json!({"phase": "Pending",
                    "initContainerStatuses": [
                        {"name": "a", "ready": true, "restartCount": 0, "image": "busybox", "imageID": "",
                         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        {"name": "b", "ready": false, "restartCount": 0, "image": "busybox", "imageID": "",
                         "state": {"running": {"startedAt": ago(10)}}}],
                    "containerStatuses": [{"name": "kubia", "ready": false, "restartCount": 0, "image": "luksa/kubia",
                        "imageID": "", "state": {"waiting": {"reason": "PodInitializing"}}}]}),
            ),
            json!(["init", "0/1", "Init:1/2", "0", "5m3s", "<none>", "node1", "<none>", "<none>"]),
        ),
        // Init container crash looping; its restarts count.
        (
            pod(
                "initcrash",
                json!({"initContainers": [{"name": "a", "image": "busybox"}]}),
                json!({"phase": "Pending",
                    "initContainerStatuses": [
                        {"name": "a", "ready": false, "restartCount": 3, "image": "busybox", "imageID": "",
                         "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(40)}}}]}),
            ),
            json!([
                "initcrash",
                "0/1",
                "Init:CrashLoopBackOff",
                "3 (40s ago)",
                "5m3s",
                "<none>",
                "node1",
                "<none>",
                "<none>"
            ]),
        ),
        // Init container failed without a reason, killed by a signal.
        (
            pod(
                "initsig",
                json!({"initContainers": [{"name": "a", "image": "busybox"}]}),
                json!({"phase": "Pending",
                    "initContainerStatuses": [
                        {"name": "a", "ready": false, "restartCount": 0, "image": "busybox", "imageID": "",
                         "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}),
            ),
            json!([
                "initsig",
                "0/1",
                "Init:Signal:9",
                "0",
                "5m3s",
                "<none>",
                "node1",
                "<none>",
                "<none>"
            ]),
        ),
        // A sidecar (restartable init container) counts as a container.
        (
            pod(
                "sidecar",
                json!({"initContainers": [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]}),
                json!({"phase": "Running", "podIP": "10.244.1.7",
                    "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
                    "initContainerStatuses": [
                        {"name": "proxy", "ready": true, "started": true, "restartCount": 1, "image": "envoy", "imageID": "",
                         "state": {"running": {"startedAt": ago(100)}},
                         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(130)}}}],
                    "containerStatuses": [running("kubia", true, 0)]}),
            ),
            json!([
                "sidecar",
                "2/2",
                "Running",
                "1 (2m10s ago)",
                "5m3s",
                "10.244.1.7",
                "node1",
                "<none>",
                "<none>"
            ]),
        ),
        // Evicted pods show the status reason.
        (
            pod(
                "evicted",
                json!({}),
                json!({"phase": "Failed", "reason": "Evicted",
                "message": "The node was low on resource: memory."}),
            ),
            json!([
                "evicted", "0/1", "Evicted", "0", "5m3s", "<none>", "node1", "<none>", "<none>"
            ]),
        ),
        // A container that died without a reason, by exit code.
        (
            pod(
                "exit",
                json!({}),
                json!({"phase": "Running",
                "containerStatuses": [{"name": "kubia", "ready": false, "restartCount": 0, "image": "luksa/kubia",
                    "imageID": "", "state": {"terminated": {"exitCode": 3}}}]}),
            ),
            json!([
                "exit",
                "0/1",
                "ExitCode:3",
                "0",
                "5m3s",
                "<none>",
                "node1",
                "<none>",
                "<none>"
            ]),
        ),
        // One container completed while the other still runs and the pod is Ready.
        (
            pod(
                "partial",
                json!({"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}),
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [
                        {"name": "a", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        running("b", true, 0)]}),
            ),
            json!([
                "partial", "1/2", "Running", "0", "5m3s", "<none>", "node1", "<none>", "<none>"
            ]),
        ),
        // The same without the Ready condition.
        (
            pod(
                "partial2",
                json!({"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}),
                json!({"phase": "Running",
                    "containerStatuses": [
                        {"name": "a", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        running("b", true, 0)]}),
            ),
            json!([
                "partial2", "1/2", "NotReady", "0", "5m3s", "<none>", "node1", "<none>", "<none>"
            ]),
        ),
        // Scheduling gates, a nominated node and readiness gates in the wide columns.
        (
            {
                let mut p = pod(
                    "gated",
                    json!({"readinessGates": [
                        {"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]}),
                    json!({"phase": "Pending", "nominatedNodeName": "node2",
                        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"},
                                       {"type": "example.com/lb", "status": "True"}]}),
                );
                p["spec"].as_object_mut().unwrap().remove("nodeName");
                p
            },
            json!([
                "gated",
                "0/1",
                "SchedulingGated",
                "0",
                "5m3s",
                "<none>",
                "<none>",
                "node2",
                "1/2"
            ]),
        ),
    ];
    for (object, want) in cases {
        let got = Value::Array(row(&object));
        assert_eq!(got, want, "{}", object["metadata"]["name"]);
    }
}

#[test]
fn pod_without_status_or_timestamp() {
    let object = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare"},
        "spec": {"containers": [{"name": "c", "image": "i"}]}});
    assert_eq!(
        Value::Array(row(&object)),
        json!([
            "bare",
            "0/1",
            "",
            "0",
            "<unknown>",
            "<none>",
            "<none>",
            "<none>",
            "<none>"
        ])
    );
}
