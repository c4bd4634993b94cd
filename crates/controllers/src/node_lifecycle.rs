//! Node lifecycle, as kube-controller-manager's node lifecycle controller monitors health: a
//! node is alive while its kubelet renews its Lease in `kube-node-lease` or posts new Ready
//! heartbeats. When neither has been seen for the grace period (`--node-monitor-grace-period`;
//! `nodeStartupGracePeriod` for a node that never posted a Ready condition), its Ready (and
//! pressure) conditions become Unknown, `NodeNotReady` is recorded and its pods are marked not
//! ready.
//!
//! Like upstream, freshness is judged by when this controller *observed* a change, not by the
//! timestamps written in the objects, so clock skew between nodes does not matter; after a
//! restart every node gets a full grace period again.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use ferry_runtime::Client;

use crate::clock;
use crate::error::{write_error, Error};
use crate::events::{EventRecorder, EventType, InvolvedObject};
use crate::pod;
use crate::resources;
use crate::trigger::{next_pass, Trigger};

/// The event source of upstream's node lifecycle controller.
const COMPONENT: &str = "node-controller";
/// Where kubelets keep their heartbeat Leases.
const LEASE_NAMESPACE: &str = "kube-node-lease";
/// How often health is looked at even without events (`--node-monitor-period`).
const MONITOR_PERIOD: Duration = Duration::from_secs(5);
/// The conditions the controller sets to Unknown; NetworkUnavailable is the network's own.
const MONITORED: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The grace periods of node health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeMonitor {
    /// How long a node may go without a heartbeat before it is Unknown
    /// (`--node-monitor-grace-period`, 50 s in Kubernetes 1.32).
    pub grace_period: Duration,
    /// The same for a node that never posted a Ready condition (`--node-startup-grace-period`).
    pub startup_grace_period: Duration,
}

impl Default for NodeMonitor {
    fn default() -> Self {
        NodeMonitor {
            grace_period: Duration::from_secs(50),
            startup_grace_period: Duration::from_secs(60),
        }
    }
}

/// What the controller last observed of one node (`nodeHealthData`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Health {
    /// When a heartbeat (a new Ready heartbeat time, or a renewed Lease) was last seen.
    probed: Timestamp,
    /// The Ready condition's `lastHeartbeatTime` as last seen.
    heartbeat: Option<Time>,
    /// The Lease's `renewTime` as last seen.
    renewed: Option<Timestamp>,
    /// Whether the node has ever posted a Ready condition.
    has_ready: bool,
}

/// The heartbeat facts of a node as listed now.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Observed {
    pub created: Option<Timestamp>,
    pub heartbeat: Option<Time>,
    pub has_ready: bool,
    pub renewed: Option<Timestamp>,
}

/// `tryUpdateNodeHealth`'s bookkeeping: the probe time moves to `now` whenever a new heartbeat
/// or Lease renewal is seen; a node never seen before starts its grace period now (or at its
/// creation, if it never posted a Ready condition).
pub(crate) fn observe(previous: Option<&Health>, seen: &Observed, now: Timestamp) -> Health {
    let mut probed = match previous {
        None if !seen.has_ready => seen.created.unwrap_or(now),
        None => now,
        Some(prev) if seen.has_ready != prev.has_ready => now,
        Some(prev) if seen.has_ready && prev.heartbeat != seen.heartbeat => now,
        Some(prev) => prev.probed,
    };
    let lease_renewed = match (previous.and_then(|p| p.renewed), seen.renewed) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(before), Some(after)) => before < after,
    };
    if lease_renewed {
        probed = now;
    }
    Health {
        probed,
        heartbeat: seen.heartbeat.clone(),
        renewed: seen.renewed.or(previous.and_then(|p| p.renewed)),
        has_ready: seen.has_ready,
    }
}

/// When a node with this health stops being fresh.
pub(crate) fn deadline(health: &Health, monitor: &NodeMonitor) -> Timestamp {
    let grace = if health.has_ready {
        monitor.grace_period
    } else {
        monitor.startup_grace_period
    };
    let seconds = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
    clock::plus_seconds(health.probed, seconds)
}

/// The conditions of a node whose kubelet went quiet: each monitored condition Unknown
/// (`NodeStatusUnknown`), or added as Unknown (`NodeStatusNeverUpdated`) if it never was
/// posted. `None` if they already say so.
pub(crate) fn stale_conditions(node: &Node, now: Timestamp) -> Option<Vec<NodeCondition>> {
    let mut conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let created = node.metadata.creation_timestamp.clone();
    let mut changed = false;
    for kind in MONITORED {
        match conditions.iter_mut().find(|c| c.type_ == kind) {
            Some(c) if c.status != "Unknown" => {
                c.status = "Unknown".to_string();
                c.reason = Some("NodeStatusUnknown".to_string());
                c.message = Some("Kubelet stopped posting node status.".to_string());
                c.last_transition_time = Some(clock::time(now));
                changed = true;
            }
            Some(_) => {}
            None => {
                conditions.push(NodeCondition {
                    type_: kind.to_string(),
                    status: "Unknown".to_string(),
                    reason: Some("NodeStatusNeverUpdated".to_string()),
                    message: Some("Kubelet never posted node status.".to_string()),
                    last_heartbeat_time: created.clone(),
                    last_transition_time: Some(clock::time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(conditions)
}

/// Runs the controller until shutdown.
pub(crate) async fn run(client: Client, monitor: NodeMonitor, shutdown: CancellationToken) {
    let (Ok(nodes), Ok(leases)) = (resources::nodes(), resources::leases()) else {
        return;
    };
    let trigger = Trigger::new();
    trigger.watch(&client, nodes, &shutdown);
    trigger.watch(&client, leases, &shutdown);
    let mut lifecycle = NodeLifecycle {
        recorder: EventRecorder::new(client.clone(), COMPONENT),
        client,
        monitor,
        health: HashMap::new(),
    };
    let mut requeue = None;
    while trigger.wait(requeue, &shutdown).await {
        requeue = next_pass("node-lifecycle-controller", lifecycle.pass().await);
    }
}

struct NodeLifecycle {
    client: Client,
    recorder: EventRecorder,
    monitor: NodeMonitor,
    health: HashMap<String, Health>,
}

impl NodeLifecycle {
    async fn pass(&mut self) -> Result<Option<Duration>, Error> {
        let nodes: Vec<Node> = resources::list(&self.client, resources::nodes()?, None).await?;
        let leases: Vec<Lease> =
            resources::list(&self.client, resources::leases()?, Some(LEASE_NAMESPACE)).await?;
        let renewals: HashMap<&str, Timestamp> = leases
            .iter()
            .filter_map(|l| {
                let name = l.metadata.name.as_deref()?;
                let renewed = l.spec.as_ref()?.renew_time.as_ref()?.0;
                Some((name, renewed))
            })
            .collect();
        let now = clock::now();
        self.health.retain(|name, _| {
            nodes
                .iter()
                .any(|n| n.metadata.name.as_deref() == Some(name))
        });
        let mut next = MONITOR_PERIOD;
        for node in &nodes {
            let name = node.metadata.name.clone().unwrap_or_default();
            let ready = ready_condition(node);
            let seen = Observed {
                created: node.metadata.creation_timestamp.as_ref().map(|t| t.0),
                heartbeat: ready.and_then(|c| c.last_heartbeat_time.clone()),
                has_ready: ready.is_some(),
                renewed: renewals.get(name.as_str()).copied(),
            };
            let health = observe(self.health.get(&name), &seen, now);
            let stale_at = deadline(&health, &self.monitor);
            self.health.insert(name.clone(), health);
            if now > stale_at {
                self.mark_unknown(node, now).await?;
            } else {
                next = next.min(clock::until(now, stale_at) + Duration::from_secs(1));
            }
        }
        Ok(Some(next))
    }

    /// Sets the node's conditions to Unknown; if it was Ready, records `NodeNotReady` and marks
    /// its pods not ready.
    async fn mark_unknown(&self, node: &Node, now: Timestamp) -> Result<(), Error> {
        let Some(conditions) = stale_conditions(node, now) else {
            return Ok(());
        };
        let name = node.metadata.name.as_deref().unwrap_or("");
        let was_ready = ready_condition(node).is_some_and(|c| c.status == "True");
        let info = resources::nodes()?;
        let mut updated = node.clone();
        updated
            .status
            .get_or_insert_with(Default::default)
            .conditions = Some(conditions);
        let body = resources::to_body("node", &updated)?;
        self.client
            .update_subresource(info, None, name, "status", &body)
            .await
            .map_err(write_error("update status of", info.plural, None, name))?;
        tracing::info!(node = name, "node stopped posting status; marked Unknown");
        if was_ready {
            let message = format!("Node {name} status is now: NodeNotReady");
            self.recorder
                .record(
                    &InvolvedObject::node(name),
                    EventType::Normal,
                    "NodeNotReady",
                    &message,
                )
                .await;
            self.mark_pods_not_ready(name, now).await?;
        }
        Ok(())
    }

    /// `MarkPodsNotReady`: every pod on the node loses its Ready condition.
    async fn mark_pods_not_ready(&self, node: &str, now: Timestamp) -> Result<(), Error> {
        let info = resources::pods()?;
        let pods: Vec<Pod> = resources::list(&self.client, info, None).await?;
        for p in pods.iter().filter(|p| pod::node_name(p) == node) {
            let Some(updated) = not_ready(p, now) else {
                continue;
            };
            let (namespace, name) = (
                p.metadata.namespace.as_deref().unwrap_or(""),
                p.metadata.name.as_deref().unwrap_or(""),
            );
            let body = resources::to_body("pod", &updated)?;
            match self
                .client
                .update_subresource(info, Some(namespace), name, "status", &body)
                .await
            {
                Ok(_) => {
                    self.recorder
                        .record(
                            &InvolvedObject::of("v1", "Pod", &p.metadata),
                            EventType::Warning,
                            "NodeNotReady",
                            "Node is not ready",
                        )
                        .await;
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    return Err(write_error(
                        "update status of",
                        info.plural,
                        Some(namespace),
                        name,
                    )(e))
                }
            }
        }
        Ok(())
    }
}

fn ready_condition(node: &Node) -> Option<&NodeCondition> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
}

/// The pod with its Ready condition False, or `None` if it has none or it already is.
fn not_ready(p: &Pod, now: Timestamp) -> Option<Pod> {
    let mut updated = p.clone();
    let condition = updated
        .status
        .as_mut()?
        .conditions
        .as_mut()?
        .iter_mut()
        .find(|c| c.type_ == "Ready")?;
    if condition.status == "False" {
        return None;
    }
    condition.status = "False".to_string();
    condition.last_transition_time = Some(clock::time(now));
    Some(updated)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn seen(heartbeat: Option<&str>, renewed: Option<&str>) -> Observed {
        Observed {
            created: Some(at("2024-01-01T00:00:00Z")),
            heartbeat: heartbeat.map(|h| Time(at(h))),
            has_ready: heartbeat.is_some(),
            renewed: renewed.map(at),
        }
    }

    #[test]
    fn heartbeats_and_renewals_move_the_probe_time_as_observed() {
        let monitor = NodeMonitor {
            grace_period: Duration::from_secs(40),
            startup_grace_period: Duration::from_secs(60),
        };
        let t0 = at("2024-01-01T01:00:00Z");
        let first = observe(
            None,
            &seen(Some("2023-12-31T00:00:00Z"), Some("2023-12-31T00:00:00Z")),
            t0,
        );
        // A node first seen now gets a full grace period, whatever its stamps say.
        assert_eq!(deadline(&first, &monitor), at("2024-01-01T01:00:40Z"));
        let t1 = at("2024-01-01T01:00:30Z");
        let quiet = observe(
            Some(&first),
            &seen(Some("2023-12-31T00:00:00Z"), Some("2023-12-31T00:00:00Z")),
            t1,
        );
        assert_eq!(quiet.probed, t0);
        let renewed = observe(
            Some(&quiet),
            &seen(Some("2023-12-31T00:00:00Z"), Some("2024-01-01T01:00:29Z")),
            t1,
        );
        assert_eq!(renewed.probed, t1);
        let posted = observe(Some(&quiet), &seen(Some("2024-01-01T01:00:29Z"), None), t1);
        assert_eq!(posted.probed, t1);
        // A node that never posted Ready is judged from its creation, with the startup grace.
        let silent = observe(None, &seen(None, None), t0);
        assert_eq!(deadline(&silent, &monitor), at("2024-01-01T00:01:00Z"));
    }

    #[test]
    fn stale_nodes_get_unknown_conditions_as_upstream_words_them() {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n1", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                "lastHeartbeatTime": "2024-01-01T00:00:10Z", "lastTransitionTime": "2024-01-01T00:00:05Z"}]}
        }))
        .unwrap();
        let now = at("2024-01-01T00:01:00Z");
        let conditions = stale_conditions(&node, now).unwrap();
        let value = serde_json::to_value(&conditions).unwrap();
        assert_eq!(
            value[0],
            json!({"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
                "lastHeartbeatTime": "2024-01-01T00:00:10Z", "lastTransitionTime": "2024-01-01T00:01:00Z"})
        );
        assert_eq!(
            value[1],
            json!({"type": "MemoryPressure", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                "message": "Kubelet never posted node status.",
                "lastHeartbeatTime": "2024-01-01T00:00:00Z", "lastTransitionTime": "2024-01-01T00:01:00Z"})
        );
        assert_eq!(conditions.len(), 4);
        let mut settled = node.clone();
        settled.status.as_mut().unwrap().conditions = Some(conditions);
        assert!(stale_conditions(&settled, now).is_none());
    }

    #[test]
    fn pods_lose_readiness_once() {
        let p: Pod = serde_json::from_value(json!({"metadata": {"name": "p"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}))
        .unwrap();
        let now = at("2024-01-01T00:01:00Z");
        let updated = not_ready(&p, now).unwrap();
        assert!(!pod::is_ready(&updated));
        assert!(not_ready(&updated, now).is_none());
    }
}
