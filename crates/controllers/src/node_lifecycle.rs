//! Node lifecycle, as kube-controller-manager's node lifecycle controller does it.
//!
//! Health: a node is alive while its kubelet renews its Lease in `kube-node-lease` or posts new
//! Ready heartbeats. When neither has been seen for the grace period
//! (`--node-monitor-grace-period`; `nodeStartupGracePeriod` for a node that never posted a
//! Ready condition), its Ready (and pressure) conditions become Unknown, `NodeNotReady` is
//! recorded and its pods' Ready condition turns False (`MarkPodsNotReady`), so Endpoints drop
//! them; pods newly seen on a node that is not Ready get the same.
//!
//! Taints: every unhealthy condition (and `spec.unschedulable`) gets its NoSchedule taint, so
//! the scheduler places nothing new there; Ready False or Unknown gets the NoExecute taint
//! `node.kubernetes.io/not-ready` or `node.kubernetes.io/unreachable`, which the taint eviction
//! controller turns into pod deletions. NoExecute taints are added at a rate limited per zone
//! and not at all while every zone is down (see [`zones`]); all are removed once the node is
//! Ready again.
//!
//! Like upstream, freshness is judged by when this controller *observed* a change, not by the
//! timestamps written in the objects, so clock skew between nodes does not matter; after a
//! restart every node gets a full grace period again.

mod taints;
mod zones;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use ferry_runtime::Client;

use crate::clock;
use crate::error::{write_error, Error};
use crate::events::{EventRecorder, EventType, InvolvedObject};
use crate::pod;
use crate::resources;
use crate::trigger::{next_pass, Trigger};

pub(crate) use taints::{NOT_READY as NOT_READY_TAINT, UNREACHABLE as UNREACHABLE_TAINT};

use taints::NoExecuteStep;
use zones::{Disruption, Zones};

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
        zones: Zones::default(),
        retry: HashSet::new(),
        seen_pods: HashSet::new(),
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
    zones: Zones,
    /// Nodes whose pods are still to be marked not ready (`nodesToRetry`).
    retry: HashSet<String>,
    /// The uids of the pods bound to a node at the last pass: the others are new.
    seen_pods: HashSet<String>,
}

/// One node during a pass.
struct Tracked {
    /// The node as stored now (after this pass's status write, if any).
    node: Node,
    /// Its Ready status as listed at the start of the pass.
    observed: Option<String>,
    /// Its taints as they are to be at the end of the pass.
    taints: Vec<Taint>,
    /// Waiting for a NoExecute taint from its zone's rate-limited queue.
    queued: bool,
}

impl Tracked {
    fn name(&self) -> &str {
        self.node.metadata.name.as_deref().unwrap_or("")
    }

    fn ready(&self) -> Option<&str> {
        ready_condition(&self.node).map(|c| c.status.as_str())
    }
}

impl NodeLifecycle {
    async fn pass(&mut self) -> Result<Option<Duration>, Error> {
        let mut nodes: Vec<Node> = resources::list(&self.client, resources::nodes()?, None).await?;
        let leases: Vec<Lease> =
            resources::list(&self.client, resources::leases()?, Some(LEASE_NAMESPACE)).await?;
        let pods: Vec<Pod> = resources::list(&self.client, resources::pods()?, None).await?;
        nodes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let renewals: HashMap<&str, Timestamp> = leases
            .iter()
            .filter_map(|l| {
                let name = l.metadata.name.as_deref()?;
                let renewed = l.spec.as_ref()?.renew_time.as_ref()?.0;
                Some((name, renewed))
            })
            .collect();
        let now = clock::now();
        let names: HashSet<&str> = nodes
            .iter()
            .filter_map(|n| n.metadata.name.as_deref())
            .collect();
        self.health.retain(|name, _| names.contains(name.as_str()));
        self.retry.retain(|name| names.contains(name.as_str()));
        let mut failed = Failed::default();
        let mut next = MONITOR_PERIOD;
        let mut tracked = Vec::with_capacity(nodes.len());
        let mut marked = HashSet::new();
        for node in nodes {
            let name = node.metadata.name.clone().unwrap_or_default();
            let observed = ready_condition(&node).map(|c| c.status.clone());
            let (current, stale_in) = match self.monitor_health(node, &renewals, now).await {
                Ok(result) => result,
                Err(e) => {
                    // Upstream skips the node's pods and taints until its status is written.
                    failed.keep(e);
                    continue;
                }
            };
            if let Some(wait) = stale_in {
                next = next.min(wait);
            }
            let on_node: Vec<&Pod> = pods.iter().filter(|p| pod::node_name(p) == name).collect();
            match self
                .pods_after_health(&current, observed.as_deref(), &on_node, now)
                .await
            {
                Ok(true) => {
                    marked.insert(name);
                }
                Ok(false) => {}
                Err(e) => failed.keep(e),
            }
            tracked.push(Tracked {
                taints: current
                    .spec
                    .as_ref()
                    .and_then(|s| s.taints.clone())
                    .unwrap_or_default(),
                node: current,
                observed,
                queued: false,
            });
        }
        if let Err(e) = self.new_pods_not_ready(&pods, &tracked, &marked, now).await {
            failed.keep(e);
        }
        match self.sync_taints(&mut tracked, now).await {
            Ok(Some(wait)) => next = next.min(wait),
            Ok(None) => {}
            Err(e) => failed.keep(e),
        }
        failed.into_result(Some(next))
    }

    /// `tryUpdateNodeHealth`: returns the node as stored now and, while it is fresh, how long
    /// until it goes stale.
    async fn monitor_health(
        &mut self,
        node: Node,
        renewals: &HashMap<&str, Timestamp>,
        now: Timestamp,
    ) -> Result<(Node, Option<Duration>), Error> {
        let name = node.metadata.name.clone().unwrap_or_default();
        let ready = ready_condition(&node);
        let seen = Observed {
            created: node.metadata.creation_timestamp.as_ref().map(|t| t.0),
            heartbeat: ready.and_then(|c| c.last_heartbeat_time.clone()),
            has_ready: ready.is_some(),
            renewed: renewals.get(name.as_str()).copied(),
        };
        let health = observe(self.health.get(&name), &seen, now);
        let stale_at = deadline(&health, &self.monitor);
        self.health.insert(name, health);
        if now > stale_at {
            let current = self.mark_unknown(&node, now).await?;
            return Ok((current.unwrap_or(node), None));
        }
        let wait = clock::until(now, stale_at) + Duration::from_secs(1);
        Ok((node, Some(wait)))
    }

    /// Sets the node's conditions to Unknown; returns the stored node, or `None` if its
    /// conditions already said so.
    async fn mark_unknown(&self, node: &Node, now: Timestamp) -> Result<Option<Node>, Error> {
        let Some(conditions) = stale_conditions(node, now) else {
            return Ok(None);
        };
        let name = node.metadata.name.as_deref().unwrap_or("");
        let info = resources::nodes()?;
        let mut updated = node.clone();
        updated
            .status
            .get_or_insert_with(Default::default)
            .conditions = Some(conditions);
        let body = resources::to_body("node", &updated)?;
        let stored = self
            .client
            .update_subresource(info, None, name, "status", &body)
            .await
            .map_err(write_error("update status of", info.plural, None, name))?;
        tracing::info!(node = name, "node stopped posting status; marked Unknown");
        Ok(Some(serde_json::from_value(stored).unwrap_or(updated)))
    }

    /// What follows a node's health check for its pods: when this pass turned a Ready node
    /// not Ready, `NodeNotReady` is recorded and its pods are marked not ready, as again on
    /// later passes while that fails. True if its pods were marked.
    async fn pods_after_health(
        &mut self,
        current: &Node,
        observed: Option<&str>,
        pods: &[&Pod],
        now: Timestamp,
    ) -> Result<bool, Error> {
        let name = current.metadata.name.as_deref().unwrap_or("");
        let was_ready = observed == Some("True");
        let is_ready = ready_condition(current).is_some_and(|c| c.status == "True");
        let went_down = was_ready && !is_ready;
        if went_down {
            let message = format!("Node {name} status is now: NodeNotReady");
            self.recorder
                .record(
                    &InvolvedObject::node(name),
                    EventType::Normal,
                    "NodeNotReady",
                    &message,
                )
                .await;
        }
        let retrying = self.retry.contains(name) && !was_ready;
        if !went_down && !retrying {
            self.retry.remove(name);
            return Ok(false);
        }
        match self.mark_pods_not_ready(pods, now).await {
            Ok(()) => {
                self.retry.remove(name);
                Ok(true)
            }
            Err(e) => {
                self.retry.insert(name.to_string());
                Err(e)
            }
        }
    }

    /// `processPod`: a pod first seen bound to a node whose Ready condition is not True is
    /// marked not ready (at start, that is every such pod).
    async fn new_pods_not_ready(
        &mut self,
        pods: &[Pod],
        tracked: &[Tracked],
        marked: &HashSet<String>,
        now: Timestamp,
    ) -> Result<(), Error> {
        let not_ready: HashSet<&str> = tracked
            .iter()
            .filter(|t| t.ready().is_some_and(|s| s != "True"))
            .map(Tracked::name)
            .collect();
        let mut seen = HashSet::new();
        let mut fresh = Vec::new();
        for p in pods.iter().filter(|p| !pod::node_name(p).is_empty()) {
            let Some(uid) = p.metadata.uid.clone() else {
                continue;
            };
            let node = pod::node_name(p);
            if !self.seen_pods.contains(&uid) && not_ready.contains(node) && !marked.contains(node)
            {
                fresh.push(p);
            }
            seen.insert(uid);
        }
        self.seen_pods = seen;
        let result = self.mark_pods_not_ready(&fresh, now).await;
        if result.is_err() {
            // Try these pods again at the next pass.
            for p in fresh {
                if let Some(uid) = &p.metadata.uid {
                    self.seen_pods.remove(uid);
                }
            }
        }
        result
    }

    /// `MarkPodsNotReady`: each pod's Ready condition becomes False (its reason and message
    /// kept) through `pods/status`, with a `NodeNotReady` event.
    async fn mark_pods_not_ready(&self, pods: &[&Pod], now: Timestamp) -> Result<(), Error> {
        let info = resources::pods()?;
        let mut failed = Failed::default();
        for p in pods {
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
                Err(e) if e.is_not_found() => continue,
                Err(e) => failed.keep(write_error(
                    "update status of",
                    info.plural,
                    Some(namespace),
                    name,
                )(e)),
                Ok(_) => {}
            }
            // Upstream records the event after any write that did not find the pod gone.
            self.recorder
                .record(
                    &InvolvedObject::of("v1", "Pod", &p.metadata),
                    EventType::Warning,
                    "NodeNotReady",
                    "Node is not ready",
                )
                .await;
        }
        failed.into_result(())
    }

    /// Brings every node's taints to what its conditions call for and writes the changed
    /// ones; returns when the next zone token is due if some node still waits for one.
    async fn sync_taints(
        &mut self,
        tracked: &mut [Tracked],
        now: Timestamp,
    ) -> Result<Option<Duration>, Error> {
        let exact = clock::exact_now();
        for t in tracked.iter_mut() {
            let wanted = taints::no_schedule_taints(&t.node);
            t.taints = taints::sync_no_schedule(&t.taints, &wanted, now);
            match taints::no_execute_step(t.observed.as_deref(), &t.taints) {
                NoExecuteStep::Clear => t.taints = taints::without_readiness_no_execute(&t.taints),
                NoExecuteStep::Swap { add, remove } => {
                    t.taints = taints::swap(
                        &t.taints,
                        &[taints::taint(add, taints::NO_EXECUTE, Some(now))],
                        &[(remove, taints::NO_EXECUTE)],
                    );
                }
                NoExecuteStep::Queue => t.queued = true,
                NoExecuteStep::Keep => {}
            }
        }
        self.handle_disruption(tracked, exact, now);
        let wait = self.taint_queued(tracked, exact, now);
        let mut failed = Failed::default();
        for t in tracked.iter() {
            if let Err(e) = self.write_taints(t).await {
                failed.keep(e);
            }
        }
        failed.into_result(wait)
    }

    /// Zone states from the nodes' Ready conditions now; entering "every zone down" removes
    /// every node's NoExecute readiness taints, leaving it restarts every grace period.
    fn handle_disruption(&mut self, tracked: &mut [Tracked], exact: Timestamp, now: Timestamp) {
        self.zones.observe(tracked.iter().map(|t| &t.node), exact);
        let mut ready: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
        for t in tracked
            .iter()
            .filter(|t| !zones::excluded_from_disruption(&t.node))
        {
            ready
                .entry(zones::zone_key(&t.node))
                .or_default()
                .push(t.ready().map(str::to_string));
        }
        match self.zones.handle_disruption(&ready, exact) {
            Disruption::Unchanged => {}
            Disruption::Entered => {
                tracing::info!("every node is not Ready; entering master disruption mode");
                for t in tracked.iter_mut() {
                    t.taints = taints::without_readiness_no_execute(&t.taints);
                    t.queued = false;
                }
            }
            Disruption::Exited => {
                tracing::info!("some nodes are Ready again; exiting master disruption mode");
                for health in self.health.values_mut() {
                    health.probed = now;
                }
            }
        }
    }

    /// `doNoExecuteTaintingPass`: queued nodes get their NoExecute taint, one per token of
    /// their zone; returns how long until a node left waiting may have its turn.
    fn taint_queued(
        &mut self,
        tracked: &mut [Tracked],
        exact: Timestamp,
        now: Timestamp,
    ) -> Option<Duration> {
        let mut wait: Option<Duration> = None;
        for t in tracked.iter_mut().filter(|t| t.queued) {
            let Some(limiter) = self.zones.limiter(&zones::zone_key(&t.node)) else {
                continue;
            };
            if !limiter.try_accept(exact) {
                if let Some(at) = limiter.next_token() {
                    let until = clock::until(exact, at);
                    wait = Some(wait.map_or(until, |w| w.min(until)));
                }
                continue;
            }
            t.queued = false;
            if let Some((add, remove)) = taints::queued_taint(t.ready()) {
                t.taints = taints::swap(
                    &t.taints,
                    &[taints::taint(add, taints::NO_EXECUTE, Some(now))],
                    &[(remove, taints::NO_EXECUTE)],
                );
            }
        }
        wait
    }

    /// Writes the node's taints if they changed, guarded by its resourceVersion so a
    /// concurrent change is never overwritten.
    async fn write_taints(&self, t: &Tracked) -> Result<(), Error> {
        let stored = t
            .node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        if stored == t.taints {
            return Ok(());
        }
        let info = resources::nodes()?;
        let name = t.name();
        let taints = if t.taints.is_empty() {
            serde_json::Value::Null
        } else {
            resources::to_body("taints", &t.taints)?
        };
        let patch = json!({
            "metadata": {"resourceVersion": t.node.metadata.resource_version},
            "spec": {"taints": taints},
        });
        self.client
            .merge_patch(info, None, name, &patch)
            .await
            .map_err(write_error("taint", info.plural, None, name))?;
        tracing::info!(node = name, taints = ?keys(&t.taints), "node taints changed");
        Ok(())
    }
}

/// The first error of a pass that goes on after failures, so one node cannot stall the rest.
#[derive(Default)]
struct Failed(Option<Error>);

impl Failed {
    fn keep(&mut self, e: Error) {
        if self.0.is_none() {
            self.0 = Some(e);
        } else {
            tracing::debug!(error = %crate::error::report(&e), "node lifecycle write failed");
        }
    }

    fn into_result<T>(self, value: T) -> Result<T, Error> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }
}

fn keys(taints: &[Taint]) -> Vec<String> {
    taints
        .iter()
        .map(|t| format!("{}:{}", t.key, t.effect))
        .collect()
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
