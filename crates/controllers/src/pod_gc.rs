//! Pod garbage collection, as kube-controller-manager's pod GC controller does it every 20 s,
//! in its order:
//! - terminated pods (phase neither Pending, Running nor Unknown) beyond
//!   `--terminated-pod-gc-threshold`, evicted ones first, then oldest first;
//! - terminating pods on a node that is not Ready and is tainted
//!   `node.kubernetes.io/out-of-service`;
//! - orphans: pods bound to a node that does not exist, once it has been missing for a 40 s
//!   quarantine and a GET confirms it is gone; they get `DisruptionTarget` (`DeletionByPodGC`);
//! - terminating pods that were never scheduled.
//!
//! Each is marked `Failed` first (unless it already finished: with no node left, nothing else
//! would ever finish it) and then deleted with grace period 0, which removes it at once.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use k8s_openapi::jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use ferry_runtime::Client;

use crate::clock;
use crate::error::{write_error, Error};
use crate::pod;
use crate::resources;
use crate::taint_eviction::update_pod_condition;
use crate::trigger::{is_deletion, next_pass, Trigger};

/// How often the collector runs (`gcCheckPeriod`).
const CHECK_PERIOD: Duration = Duration::from_secs(20);
/// How long a node must be missing before its pods are orphans (`quarantineTime`).
const QUARANTINE_SECONDS: i64 = 40;
/// `--terminated-pod-gc-threshold`: terminated pods kept (0 keeps them all).
const TERMINATED_POD_GC_THRESHOLD: usize = 12500;
const OUT_OF_SERVICE_TAINT: &str = "node.kubernetes.io/out-of-service";

/// `isPodTerminated`: any phase but Pending, Running and Unknown (an empty one included).
pub(crate) fn is_terminated(p: &Pod) -> bool {
    !matches!(pod::phase(p), "Pending" | "Running" | "Unknown")
}

/// The terminated pods beyond `threshold`, in the order they go: evicted ones first, then
/// by creation, then by name (`byEvictionAndCreationTimestamp`).
pub(crate) fn terminated_over_threshold(pods: &[Pod], threshold: usize) -> Vec<&Pod> {
    if threshold == 0 {
        return Vec::new();
    }
    let mut terminated: Vec<&Pod> = pods.iter().filter(|p| is_terminated(p)).collect();
    let Some(excess) = terminated.len().checked_sub(threshold) else {
        return Vec::new();
    };
    terminated.sort_by(|a, b| deletion_order(a, b));
    terminated.truncate(excess);
    terminated
}

/// Terminating pods on a node that is not Ready and is out of service (`gcTerminating`).
pub(crate) fn terminating_out_of_service<'a>(pods: &'a [Pod], nodes: &[Node]) -> Vec<&'a Pod> {
    let out_of_service: HashSet<&str> = nodes
        .iter()
        .filter(|n| !is_ready(n) && has_taint_key(n, OUT_OF_SERVICE_TAINT))
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    let mut found: Vec<&Pod> = pods
        .iter()
        .filter(|p| pod::is_deleting(p) && out_of_service.contains(pod::node_name(p)))
        .collect();
    found.sort_by(|a, b| deletion_order(a, b));
    found
}

/// The nodes pods are bound to that are not among `nodes`.
pub(crate) fn missing_nodes(pods: &[Pod], nodes: &[Node]) -> BTreeSet<String> {
    let existing: HashSet<&str> = nodes
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    pods.iter()
        .map(pod::node_name)
        .filter(|n| !n.is_empty() && !existing.contains(n))
        .map(str::to_string)
        .collect()
}

/// Pods being deleted that were never bound to a node (`gcUnscheduledTerminating`).
pub(crate) fn unscheduled_terminating(pods: &[Pod]) -> Vec<&Pod> {
    pods.iter()
        .filter(|p| pod::is_deleting(p) && pod::node_name(p).is_empty())
        .collect()
}

/// The pod as it is to be stored before its deletion: `Failed`, with `condition` if given;
/// `None` if it already finished (`markFailedAndDeletePodWithCondition`).
pub(crate) fn failed(p: &Pod, condition: Option<PodCondition>, now: Timestamp) -> Option<Pod> {
    if matches!(pod::phase(p), "Succeeded" | "Failed") {
        return None;
    }
    let mut updated = p.clone();
    let status = updated.status.get_or_insert_with(Default::default);
    status.phase = Some("Failed".to_string());
    if let Some(condition) = condition {
        update_pod_condition(status, condition, now);
    }
    Some(updated)
}

/// Runs the collector until shutdown.
pub(crate) async fn run(client: Client, shutdown: CancellationToken) {
    let Ok(nodes) = resources::nodes() else {
        return;
    };
    let trigger = Trigger::new();
    // A deleted node starts its pods' quarantine at once rather than at the next period.
    trigger.watch_filtered(&client, nodes, is_deletion, &shutdown);
    let mut collector = PodGc {
        client,
        quarantine: HashMap::new(),
    };
    let mut requeue = None;
    while trigger.wait(requeue, &shutdown).await {
        requeue = next_pass("pod-garbage-collector", collector.pass().await);
    }
}

struct PodGc {
    client: Client,
    /// Nodes pods are bound to but that were not listed, with when their quarantine ends.
    quarantine: HashMap<String, Timestamp>,
}

impl PodGc {
    async fn pass(&mut self) -> Result<Option<Duration>, Error> {
        let pods: Vec<Pod> = resources::list(&self.client, resources::pods()?, None).await?;
        let nodes: Vec<Node> = resources::list(&self.client, resources::nodes()?, None).await?;
        let now = clock::now();
        let mut gc = Collection::default();
        for p in terminated_over_threshold(&pods, TERMINATED_POD_GC_THRESHOLD) {
            gc.add(p, None);
        }
        for p in terminating_out_of_service(&pods, &nodes) {
            gc.add(p, None);
        }
        let gone = self.gone_nodes(&pods, &nodes, now).await;
        for p in pods.iter().filter(|p| gone.contains(pod::node_name(p))) {
            tracing::info!(
                namespace = p.metadata.namespace.as_deref().unwrap_or(""),
                name = p.metadata.name.as_deref().unwrap_or(""),
                node = pod::node_name(p),
                "found an orphaned pod assigned to a node that is gone, deleting"
            );
            gc.add(p, Some(orphan_condition()));
        }
        for p in unscheduled_terminating(&pods) {
            gc.add(p, None);
        }
        let mut failure = None;
        for (p, condition) in gc.pods {
            if let Err(e) = self.mark_failed_and_delete(p, condition, now).await {
                failure = failure.or(Some(e));
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let quarantine_ends = self
            .quarantine
            .values()
            .map(|at| clock::until(now, *at) + Duration::from_secs(1))
            .min();
        Ok(Some(
            quarantine_ends.map_or(CHECK_PERIOD, |q| q.min(CHECK_PERIOD)),
        ))
    }

    /// `gcOrphaned`'s quarantine: missing nodes start one; those whose quarantine has ended
    /// are asked for once more and returned if they really are gone.
    async fn gone_nodes(
        &mut self,
        pods: &[Pod],
        nodes: &[Node],
        now: Timestamp,
    ) -> HashSet<String> {
        let missing = missing_nodes(pods, nodes);
        for name in &missing {
            self.quarantine
                .entry(name.clone())
                .or_insert_with(|| clock::plus_seconds(now, QUARANTINE_SECONDS));
        }
        let ended: Vec<String> = self
            .quarantine
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(name, _)| name.clone())
            .collect();
        let mut gone = HashSet::new();
        for name in ended {
            self.quarantine.remove(&name);
            if !missing.contains(&name) {
                continue;
            }
            match self.node_exists(&name).await {
                Ok(false) => {
                    gone.insert(name);
                }
                Ok(true) => {}
                // Quarantined again at the next pass if still missing.
                Err(e) => {
                    tracing::warn!(node = name, error = %crate::error::report(&e), "could not get a missing node")
                }
            }
        }
        gone
    }

    async fn node_exists(&self, name: &str) -> Result<bool, Error> {
        let info = resources::nodes()?;
        match self.client.get(info, None, name).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(write_error("get", info.plural, None, name)(e)),
        }
    }

    /// `markFailedAndDeletePodWithCondition`.
    async fn mark_failed_and_delete(
        &self,
        p: &Pod,
        condition: Option<PodCondition>,
        now: Timestamp,
    ) -> Result<(), Error> {
        let info = resources::pods()?;
        let (namespace, name) = (
            p.metadata.namespace.as_deref().unwrap_or(""),
            p.metadata.name.as_deref().unwrap_or(""),
        );
        tracing::info!(namespace, name, "pod GC is force deleting a pod");
        if let Some(updated) = failed(p, condition, now) {
            if !resources::put_pod_status(&self.client, &updated).await? {
                return Ok(());
            }
        }
        let uid = p.metadata.uid.as_deref().unwrap_or("");
        match self
            .client
            .delete_now(info, Some(namespace), name, uid)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(write_error("delete", info.plural, Some(namespace), name)(e)),
        }
    }
}

/// The pods one pass deletes, each once, with the condition it gets.
#[derive(Default)]
struct Collection<'a> {
    pods: Vec<(&'a Pod, Option<PodCondition>)>,
    seen: HashSet<&'a str>,
}

impl<'a> Collection<'a> {
    fn add(&mut self, p: &'a Pod, condition: Option<PodCondition>) {
        let uid = p.metadata.uid.as_deref().unwrap_or("");
        if self.seen.insert(uid) {
            self.pods.push((p, condition));
        }
    }
}

fn orphan_condition() -> PodCondition {
    PodCondition {
        type_: "DisruptionTarget".to_string(),
        status: "True".to_string(),
        reason: Some("DeletionByPodGC".to_string()),
        message: Some("PodGC: node no longer exists".to_string()),
        ..PodCondition::default()
    }
}

/// Evicted pods (`Failed` with reason `Evicted`) first, then by creation, then by name.
fn deletion_order(a: &Pod, b: &Pod) -> Ordering {
    let evicted = |p: &Pod| {
        pod::phase(p) == "Failed"
            && p.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted")
    };
    evicted(b)
        .cmp(&evicted(a))
        .then_with(|| {
            let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            created(a).cmp(&created(b))
        })
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

fn has_taint_key(node: &Node, key: &str) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| t.iter().any(|t| t.key == key))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn pod(name: &str, extra: Value) -> Pod {
        let mut p = json!({"metadata": {"name": name, "namespace": "default", "uid": name,
            "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            "status": {"phase": "Running"}});
        merge(&mut p, extra);
        serde_json::from_value(p).unwrap()
    }

    fn merge(into: &mut Value, extra: Value) {
        if let (Value::Object(into), Value::Object(extra)) = (into, extra) {
            for (k, v) in extra {
                match into.get_mut(&k) {
                    Some(existing @ Value::Object(_)) if v.is_object() => merge(existing, v),
                    _ => {
                        into.insert(k, v);
                    }
                }
            }
        }
    }

    fn node(name: &str, ready: &str, taints: Value) -> Node {
        serde_json::from_value(
            json!({"metadata": {"name": name}, "spec": {"taints": taints},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}}),
        )
        .unwrap()
    }

    fn names(pods: &[&Pod]) -> Vec<String> {
        pods.iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn terminated_pods_beyond_the_threshold_go_evicted_first_then_oldest() {
        let pods = [
            pod("running", json!({})),
            pod("pending", json!({"status": {"phase": "Pending"}})),
            pod("unknown", json!({"status": {"phase": "Unknown"}})),
            pod(
                "new-done",
                json!({"metadata": {"creationTimestamp": "2024-01-03T00:00:00Z"},
                "status": {"phase": "Succeeded"}}),
            ),
            pod("old-failed", json!({"status": {"phase": "Failed"}})),
            pod(
                "evicted",
                json!({"metadata": {"creationTimestamp": "2024-01-05T00:00:00Z"},
                "status": {"phase": "Failed", "reason": "Evicted"}}),
            ),
            pod(
                "b-done",
                json!({"metadata": {"creationTimestamp": "2024-01-02T00:00:00Z"},
                "status": {"phase": "Succeeded"}}),
            ),
            pod(
                "a-done",
                json!({"metadata": {"creationTimestamp": "2024-01-02T00:00:00Z"},
                "status": {"phase": "Succeeded"}}),
            ),
            pod(
                "no-phase",
                json!({"metadata": {"creationTimestamp": "2024-01-09T00:00:00Z"},
                "status": {"phase": null}}),
            ),
        ];
        let cases = [
            (0, vec![]),
            (6, vec![]),
            (5, vec!["evicted"]),
            (2, vec!["evicted", "old-failed", "a-done", "b-done"]),
            (
                1,
                vec!["evicted", "old-failed", "a-done", "b-done", "new-done"],
            ),
        ];
        for (threshold, expected) in cases {
            assert_eq!(
                names(&terminated_over_threshold(&pods, threshold)),
                expected,
                "threshold {threshold}"
            );
        }
    }

    #[test]
    fn orphans_unscheduled_and_out_of_service_pods_are_found() {
        let deleting = json!({"metadata": {"deletionTimestamp": "2024-01-01T00:01:00Z"}});
        let mut on_gone = json!({"spec": {"nodeName": "gone"}});
        merge(&mut on_gone, deleting.clone());
        let pods = [
            pod("bound", json!({"spec": {"nodeName": "n1"}})),
            pod("orphan", json!({"spec": {"nodeName": "gone"}})),
            pod("terminating-orphan", on_gone),
            pod("unbound", json!({})),
            pod("unbound-deleting", deleting.clone()),
            pod("on-dead", {
                let mut p = json!({"spec": {"nodeName": "dead"}});
                merge(&mut p, deleting.clone());
                p
            }),
            pod("running-on-dead", json!({"spec": {"nodeName": "dead"}})),
            pod("on-cordoned-ready", {
                let mut p = json!({"spec": {"nodeName": "ready-oos"}});
                merge(&mut p, deleting);
                p
            }),
        ];
        let oos =
            json!([{"key": OUT_OF_SERVICE_TAINT, "value": "nodeshutdown", "effect": "NoExecute"}]);
        let nodes = [
            node("n1", "True", json!([])),
            node("dead", "Unknown", oos.clone()),
            node("ready-oos", "True", oos),
        ];
        assert_eq!(
            missing_nodes(&pods, &nodes),
            BTreeSet::from(["gone".to_string()])
        );
        assert_eq!(names(&unscheduled_terminating(&pods)), ["unbound-deleting"]);
        assert_eq!(
            names(&terminating_out_of_service(&pods, &nodes)),
            ["on-dead"]
        );
    }

    #[test]
    fn deleted_pods_are_failed_first_unless_finished() {
        let now: Timestamp = "2024-01-01T00:02:00Z".parse().unwrap();
        let running = pod(
            "p",
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        let updated = failed(&running, Some(orphan_condition()), now).unwrap();
        let status = serde_json::to_value(updated.status).unwrap();
        assert_eq!(status["phase"], "Failed");
        assert_eq!(
            status["conditions"][1],
            json!({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                "message": "PodGC: node no longer exists", "lastTransitionTime": "2024-01-01T00:02:00Z"})
        );
        let plain = failed(&running, None, now).unwrap();
        assert_eq!(plain.status.unwrap().conditions.unwrap().len(), 1);
        let done = pod("d", json!({"status": {"phase": "Succeeded"}}));
        assert!(failed(&done, Some(orphan_condition()), now).is_none());
    }
}
