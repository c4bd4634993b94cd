//! Events about a pod's containers, as the kubelet records them (source `kubelet` on the
//! node, the container named in `fieldPath`).

use serde_json::json;

use crate::clock::{now_micro, now_time};
use crate::node::{error_chain, resource};
use crate::pods::worker::PodEntry;
use crate::pods::Pods;

/// Whether an event is routine or a problem.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Normal,
    Warning,
}

/// Records an event about `container` of the pod; failures are logged, never fatal.
pub(crate) async fn record(
    pods: &Pods,
    entry: &PodEntry,
    container: &str,
    kind: Kind,
    reason: &str,
    message: &str,
) {
    let now = now_time();
    let micro = now_micro();
    let suffix: String = micro.chars().filter(char::is_ascii_digit).collect();
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": format!("{}.{suffix}", entry.pod_ref.name),
            "namespace": entry.pod_ref.namespace,
        },
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "namespace": entry.pod_ref.namespace,
            "name": entry.pod_ref.name,
            "uid": entry.uid,
            "fieldPath": format!("spec.containers{{{container}}}"),
        },
        "reason": reason,
        "message": message,
        "type": match kind { Kind::Normal => "Normal", Kind::Warning => "Warning" },
        "source": {"component": "kubelet", "host": pods.config.node_name},
        "reportingComponent": "kubelet",
        "reportingInstance": pods.config.node_name,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    });
    let created = pods
        .client
        .create(resource("events"), Some(&entry.pod_ref.namespace), &event)
        .await;
    if let Err(e) = created {
        tracing::debug!(pod = %entry.pod_ref, error = %error_chain(&e), "record an event");
    }
}
