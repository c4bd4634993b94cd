//! Deployment, ReplicaSet, ReplicationController, Node, Namespace, Event, Secret, ConfigMap and
//! Lease rows, compared with the cells kube-apiserver v1.32 prints.

mod support;

use serde_json::{json, Value};
use support::{ago, columns, row};

fn template() -> Value {
    json!({"metadata": {"labels": {"app": "kubia"}},
           "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia:v1"},
                                   {"name": "sidecar", "image": "busybox"}]}})
}

#[test]
fn deployment_rows() {
    assert_eq!(
        columns("apps", "deployments"),
        vec![
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "string", 0),
            ("Available", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ]
    );
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "kubia", "namespace": "default", "creationTimestamp": ago(90)},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "kubia"}}, "template": template()},
        "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2}});
    assert_eq!(
        row("apps", "deployments", &deployment),
        json!([
            "kubia",
            "2/3",
            3,
            2,
            "90s",
            "kubia,sidecar",
            "luksa/kubia:v1,busybox",
            "app=kubia"
        ])
    );
    // A fresh deployment without status, and a selector with an expression.
    let fresh = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "fresh", "namespace": "default", "creationTimestamp": ago(1)},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "kubia"},
                 "matchExpressions": [{"key": "env", "operator": "In", "values": ["qa", "dev"]}]},
                 "template": template()}});
    assert_eq!(
        row("apps", "deployments", &fresh),
        json!([
            "fresh",
            "0/1",
            0,
            0,
            "1s",
            "kubia,sidecar",
            "luksa/kubia:v1,busybox",
            "app=kubia,env in (dev,qa)"
        ])
    );
}

#[test]
fn replica_set_and_controller_rows() {
    let expected_columns = vec![
        ("Name", "string", 0),
        ("Desired", "integer", 0),
        ("Current", "integer", 0),
        ("Ready", "integer", 0),
        ("Age", "string", 0),
        ("Containers", "string", 1),
        ("Images", "string", 1),
        ("Selector", "string", 1),
    ];
    assert_eq!(columns("apps", "replicasets"), expected_columns);
    assert_eq!(columns("", "replicationcontrollers"), expected_columns);

    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "kubia-5b7f8c9d4", "namespace": "default", "creationTimestamp": ago(600)},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "kubia", "pod-template-hash": "5b7f8c9d4"}},
                 "template": template()},
        "status": {"replicas": 3, "readyReplicas": 3, "availableReplicas": 3}});
    assert_eq!(
        row("apps", "replicasets", &rs),
        json!([
            "kubia-5b7f8c9d4",
            3,
            3,
            3,
            "10m",
            "kubia,sidecar",
            "luksa/kubia:v1,busybox",
            "app=kubia,pod-template-hash=5b7f8c9d4"
        ])
    );

    let rc = json!({"apiVersion": "v1", "kind": "ReplicationController",
        "metadata": {"name": "kubia", "namespace": "default", "creationTimestamp": ago(3 * 3600)},
        "spec": {"replicas": 3, "selector": {"app": "kubia"}, "template": template()},
        "status": {"replicas": 3, "readyReplicas": 2}});
    assert_eq!(
        row("", "replicationcontrollers", &rc),
        json!([
            "kubia",
            3,
            3,
            2,
            "3h",
            "kubia,sidecar",
            "luksa/kubia:v1,busybox",
            "app=kubia"
        ])
    );
    let scaled_down = json!({"apiVersion": "v1", "kind": "ReplicationController",
        "metadata": {"name": "idle", "namespace": "default", "creationTimestamp": ago(3 * 3600)},
        "spec": {"replicas": 0, "template": template()}, "status": {"replicas": 0}});
    assert_eq!(
        row("", "replicationcontrollers", &scaled_down),
        json!([
            "idle",
            0,
            0,
            0,
            "3h",
            "kubia,sidecar",
            "luksa/kubia:v1,busybox",
            "<none>"
        ])
    );
}

fn node(name: &str, labels: Value, spec: Value, status: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": name, "labels": labels, "creationTimestamp": ago(20 * 86400)},
           "spec": spec, "status": status})
}

#[test]
fn node_rows() {
    assert_eq!(
        columns("", "nodes"),
        vec![
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ]
    );
    let info = json!({"kubeletVersion": "v1.32.4", "osImage": "Debian GNU/Linux 12 (bookworm)",
        "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "containerd://1.7.13",
        "architecture": "amd64", "operatingSystem": "linux", "bootID": "", "machineID": "",
        "systemUUID": "", "kubeProxyVersion": ""});
    let cases = [
        (
            node(
                "control-plane",
                json!({"kubernetes.io/hostname": "control-plane",
                    "node-role.kubernetes.io/control-plane": ""}),
                json!({}),
                json!({"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "172.18.0.2"},
                                     {"type": "Hostname", "address": "control-plane"}],
                       "nodeInfo": info}),
            ),
            json!([
                "control-plane",
                "Ready",
                "control-plane",
                "20d",
                "v1.32.4",
                "172.18.0.2",
                "<none>",
                "Debian GNU/Linux 12 (bookworm)",
                "6.1.0-18-amd64",
                "containerd://1.7.13"
            ]),
        ),
        (
            node(
                "worker",
                json!({"kubernetes.io/role": "worker", "node-role.kubernetes.io/master": "",
                    "node-role.kubernetes.io/": "x"}),
                json!({"unschedulable": true}),
                json!({"conditions": [{"type": "Ready", "status": "Unknown"}],
                       "addresses": [{"type": "ExternalIP", "address": "203.0.113.7"},
                                     {"type": "InternalIP", "address": "10.0.0.7"},
                                     {"type": "InternalIP", "address": "10.0.0.8"}],
                       "nodeInfo": info}),
            ),
            json!([
                "worker",
                "NotReady,SchedulingDisabled",
                "master,worker",
                "20d",
                "v1.32.4",
                "10.0.0.7",
                "203.0.113.7",
                "Debian GNU/Linux 12 (bookworm)",
                "6.1.0-18-amd64",
                "containerd://1.7.13"
            ]),
        ),
        (
            node("new", json!({}), json!({}), json!({})),
            json!([
                "new",
                "Unknown",
                "<none>",
                "20d",
                "",
                "<none>",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ]),
        ),
    ];
    for (object, want) in cases {
        assert_eq!(
            row("", "nodes", &object),
            want,
            "{}",
            object["metadata"]["name"]
        );
    }
}

#[test]
fn namespace_secret_configmap_lease_rows() {
    assert_eq!(
        columns("", "namespaces"),
        vec![
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Age", "string", 0)
        ]
    );
    let ns = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "default", "creationTimestamp": ago(3 * 86400)},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
    assert_eq!(
        row("", "namespaces", &ns),
        json!(["default", "Active", "3d"])
    );

    assert_eq!(
        columns("", "secrets"),
        vec![
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Data", "string", 0),
            ("Age", "string", 0)
        ]
    );
    let tls = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "tls-secret", "namespace": "default", "creationTimestamp": ago(1)},
        "type": "kubernetes.io/tls", "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"}});
    assert_eq!(
        row("", "secrets", &tls),
        json!(["tls-secret", "kubernetes.io/tls", 2, "1s"])
    );
    let mixed = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "mixed", "namespace": "default", "creationTimestamp": ago(1)},
        "type": "Opaque", "data": {"a": "Yg=="}, "stringData": {"a": "c", "d": "e"}});
    assert_eq!(
        row("", "secrets", &mixed),
        json!(["mixed", "Opaque", 2, "1s"])
    );

    assert_eq!(
        columns("", "configmaps"),
        vec![
            ("Name", "string", 0),
            ("Data", "string", 0),
            ("Age", "string", 0)
        ]
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "fortune-config", "namespace": "default", "creationTimestamp": ago(150)},
        "data": {"sleep-interval": "25", "my-nginx-config.conf": "server {}"}, "binaryData": {"blob": "AP8="}});
    assert_eq!(
        row("", "configmaps", &cm),
        json!(["fortune-config", 3, "2m30s"])
    );
    let empty = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "empty", "namespace": "default", "creationTimestamp": ago(150)}});
    assert_eq!(row("", "configmaps", &empty), json!(["empty", 0, "2m30s"]));

    let lease = |holder: Value| {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
               "metadata": {"name": "node1", "namespace": "kube-node-lease", "creationTimestamp": ago(400 * 86400)},
               "spec": {"holderIdentity": holder, "leaseDurationSeconds": 40}})
    };
    let leases = ferry_api::resource::find("coordination.k8s.io", "v1", "leases").unwrap();
    let names: Vec<&str> = leases.ops.columns().iter().map(|c| c.name).collect();
    assert_eq!(names, vec!["Name", "Holder", "Age"]);
    assert_eq!(
        row("coordination.k8s.io", "leases", &lease(json!("node1"))),
        json!(["node1", "node1", "400d"])
    );
    assert_eq!(
        row("coordination.k8s.io", "leases", &lease(Value::Null)),
        json!(["node1", "", "400d"])
    );
}

#[test]
fn event_rows() {
    assert_eq!(
        columns("", "events"),
        vec![
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "string", 1),
            ("Name", "string", 1),
        ]
    );
    let event = |name: &str, extra: Value| {
        let mut e = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "default", "creationTimestamp": ago(120)},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "kubia-0abcd",
                               "apiVersion": "v1", "uid": "c984c03c"}});
        if let (Value::Object(a), Value::Object(b)) = (&mut e, extra) {
            a.extend(b);
        }
        e
    };
    let cases = [
        (
            event(
                "kubia-0abcd.17c1",
                json!({"reason": "Scheduled", "type": "Normal",
                "message": "Successfully assigned default/kubia-0abcd to node1",
                "source": {"component": "default-scheduler"},
                "firstTimestamp": ago(120), "lastTimestamp": ago(120), "count": 1}),
            ),
            json!([
                "2m",
                "Normal",
                "Scheduled",
                "pod/kubia-0abcd",
                "",
                "default-scheduler",
                "Successfully assigned default/kubia-0abcd to node1",
                "2m",
                1,
                "kubia-0abcd.17c1"
            ]),
        ),
        (
            event(
                "kubia-0abcd.17c2",
                json!({"reason": "Unhealthy", "type": "Warning",
                "message": "Readiness probe failed: ls: /var/ready: No such file or directory\n",
                "source": {"component": "kubelet", "host": "node1"},
                "involvedObject": {"kind": "Pod", "name": "kubia-0abcd", "fieldPath": "spec.containers{kubia}"},
                "firstTimestamp": ago(3 * 3600), "lastTimestamp": ago(5), "count": 1080}),
            ),
            json!([
                "5s",
                "Warning",
                "Unhealthy",
                "pod/kubia-0abcd",
                "spec.containers{kubia}",
                "kubelet, node1",
                "Readiness probe failed: ls: /var/ready: No such file or directory",
                "3h",
                1080,
                "kubia-0abcd.17c2"
            ]),
        ),
        (
            // events.k8s.io style: eventTime and series instead of timestamps and count.
            event(
                "kubia.17c3",
                json!({"reason": "ScalingReplicaSet", "type": "Normal", "message": "Scaled up",
                "involvedObject": {"kind": "Deployment", "name": "kubia"},
                "reportingComponent": "deployment-controller", "reportingInstance": "",
                "eventTime": "2024-05-01T11:50:00.123456Z",
                "series": {"count": 4, "lastObservedTime": "2024-05-01T11:59:30.000000Z"}}),
            ),
            json!([
                "30s",
                "Normal",
                "ScalingReplicaSet",
                "deployment/kubia",
                "",
                "deployment-controller",
                "Scaled up",
                "10m",
                4,
                "kubia.17c3"
            ]),
        ),
        (
            // No timestamps, no count, no object name.
            event(
                "node.17c4",
                json!({"reason": "Starting", "type": "Normal",
                "involvedObject": {"kind": "Node"}}),
            ),
            json!([
                "<unknown>",
                "Normal",
                "Starting",
                "node",
                "",
                "",
                "",
                "<unknown>",
                1,
                "node.17c4"
            ]),
        ),
    ];
    for (object, want) in cases {
        assert_eq!(
            row("", "events", &object),
            want,
            "{}",
            object["metadata"]["name"]
        );
    }
}
