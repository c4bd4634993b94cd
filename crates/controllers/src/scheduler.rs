//! The scheduler: binds each pending pod to a node, as kube-scheduler's default profile would
//! for ferry's plain nodes. A node fits when it is schedulable (`NodeUnschedulable`), its
//! NoSchedule and NoExecute taints are tolerated (`TaintToleration`; the node lifecycle
//! controller taints nodes whose Ready condition is not True, and a node it has not tainted yet,
//! or that never posted Ready, counts as carrying that taint already) and its labels satisfy
//! the pod's `nodeSelector` (`NodeAffinity`); among fitting nodes the one running the fewest
//! pods wins, ties by name. Binding goes through the `pods/binding` subresource, which also
//! marks the pod `PodScheduled`; a pod that fits nowhere gets `PodScheduled: False` with
//! upstream's `0/N nodes are available: ...` message and a `FailedScheduling` event.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures_util::future::join_all;
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition, Taint};
use k8s_openapi::jiff::Timestamp;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use ferry_runtime::Client;

use crate::clock;
use crate::error::{write_error, Error};
use crate::events::{EventRecorder, EventType, InvolvedObject};
use crate::node_lifecycle::{NOT_READY_TAINT, UNREACHABLE_TAINT};
use crate::pod;
use crate::resources;
use crate::taint_eviction::tolerates;
use crate::trigger::{next_pass, Trigger};

/// The scheduler's name: pods asking for another scheduler are left alone.
const SCHEDULER_NAME: &str = "default-scheduler";
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";
/// Bindings written at once.
const BIND_BATCH: usize = 32;

/// Why no node fits a pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Unschedulable {
    /// The cluster has no nodes at all.
    NoNodes,
    /// Every node was filtered out; how many nodes gave each reason.
    Filtered {
        nodes: usize,
        reasons: BTreeMap<String, usize>,
    },
}

impl Unschedulable {
    /// The condition message (`FitError.Error()` with the preemption post-filter's verdict).
    pub(crate) fn message(&self) -> String {
        match self {
            Unschedulable::NoNodes => "no nodes available to schedule pods".to_string(),
            Unschedulable::Filtered { nodes, reasons } => {
                let mut histogram: Vec<String> = reasons
                    .iter()
                    .map(|(reason, n)| format!("{n} {reason}"))
                    .collect();
                histogram.sort();
                format!(
                    "0/{nodes} nodes are available: {}. preemption: 0/{nodes} nodes are available: {nodes} Preemption is not helpful for scheduling.",
                    histogram.join(", ")
                )
            }
        }
    }
}

/// Runs the scheduler until shutdown.
pub(crate) async fn run(client: Client, shutdown: CancellationToken) {
    let (Ok(pods), Ok(nodes)) = (resources::pods(), resources::nodes()) else {
        return;
    };
    let trigger = Trigger::new();
    trigger.watch(&client, pods, &shutdown);
    trigger.watch(&client, nodes, &shutdown);
    let scheduler = Scheduler {
        recorder: EventRecorder::new(client.clone(), SCHEDULER_NAME),
        client,
    };
    let mut requeue = None;
    while trigger.wait(requeue, &shutdown).await {
        requeue = next_pass(SCHEDULER_NAME, scheduler.pass().await);
    }
}

struct Scheduler {
    client: Client,
    recorder: EventRecorder,
}

impl Scheduler {
    async fn pass(&self) -> Result<Option<Duration>, Error> {
        let pods: Vec<Pod> = resources::list(&self.client, resources::pods()?, None).await?;
        let mut queue: Vec<&Pod> = pods.iter().filter(|p| waits_for_scheduling(p)).collect();
        if queue.is_empty() {
            return Ok(None);
        }
        let nodes: Vec<Node> = resources::list(&self.client, resources::nodes()?, None).await?;
        let mut load = pods_per_node(&pods);
        queue.sort_by_key(|p| {
            (
                Reverse(p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)),
                p.metadata.creation_timestamp.clone(),
                p.metadata.namespace.clone(),
                p.metadata.name.clone(),
            )
        });
        let now = clock::now();
        // Decide every pod first (each decision counts the pods placed before it), then write
        // the bindings a batch at a time: a burst of pods costs a few round trips, not one each.
        let mut placed: Vec<(&Pod, String)> = Vec::new();
        let mut results = Vec::new();
        for p in queue {
            if has_scheduling_gates(p) {
                results.push(self.gated(p, now).await);
                continue;
            }
            match pick_node(p, &nodes, &load) {
                Ok(node) => {
                    *load.entry(node.to_string()).or_default() += 1;
                    placed.push((p, node.to_string()));
                }
                Err(why) => results.push(self.unschedulable(p, &why, now).await),
            }
        }
        for batch in placed.chunks(BIND_BATCH) {
            let bound = join_all(batch.iter().map(|(p, node)| self.bind(p, node))).await;
            results.extend(bound.into_iter().map(|r| r.map(|_| ())));
        }
        let mut retry = None;
        for e in results.into_iter().filter_map(Result::err) {
            retry = next_pass(SCHEDULER_NAME, Err(e));
        }
        Ok(retry)
    }

    /// Binds through `pods/binding`; false if the pod was bound or deleted meanwhile (the next
    /// pass sees the load as it is).
    async fn bind(&self, p: &Pod, node: &str) -> Result<bool, Error> {
        let info = resources::pods()?;
        let (namespace, name) = (
            p.metadata.namespace.as_deref().unwrap_or(""),
            p.metadata.name.as_deref().unwrap_or(""),
        );
        let binding = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": p.metadata.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        match self
            .client
            .create_subresource(info, Some(namespace), name, "binding", &binding)
            .await
        {
            Ok(_) => {
                let message = format!("Successfully assigned {namespace}/{name} to {node}");
                self.recorder
                    .record(
                        &InvolvedObject::of("v1", "Pod", &p.metadata),
                        EventType::Normal,
                        "Scheduled",
                        &message,
                    )
                    .await;
                Ok(true)
            }
            Err(e) if e.is_conflict() || e.is_not_found() => Ok(false),
            Err(e) => Err(write_error("bind", info.plural, Some(namespace), name)(e)),
        }
    }

    /// Records that no node fits: the condition, and an event when the verdict is new.
    async fn unschedulable(
        &self,
        p: &Pod,
        why: &Unschedulable,
        now: Timestamp,
    ) -> Result<(), Error> {
        let message = why.message();
        if self
            .set_scheduled_condition(p, "Unschedulable", &message, now)
            .await?
        {
            self.recorder
                .record(
                    &InvolvedObject::of("v1", "Pod", &p.metadata),
                    EventType::Warning,
                    "FailedScheduling",
                    &message,
                )
                .await;
        }
        Ok(())
    }

    /// A pod with scheduling gates waits, and says why.
    async fn gated(&self, p: &Pod, now: Timestamp) -> Result<(), Error> {
        self.set_scheduled_condition(
            p,
            "SchedulingGated",
            "Scheduling is blocked due to non-empty scheduling gates",
            now,
        )
        .await
        .map(|_| ())
    }

    /// Sets `PodScheduled: False` with `reason` and `message` through `pods/status`; false if
    /// the pod already said exactly that.
    async fn set_scheduled_condition(
        &self,
        p: &Pod,
        reason: &str,
        message: &str,
        now: Timestamp,
    ) -> Result<bool, Error> {
        let current = pod::condition(p, "PodScheduled");
        if current.is_some_and(|c| {
            c.status == "False"
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(message)
        }) {
            return Ok(false);
        }
        let since = match current {
            Some(c) if c.status == "False" => c.last_transition_time.clone(),
            _ => Some(clock::time(now)),
        };
        let condition = PodCondition {
            type_: "PodScheduled".to_string(),
            status: "False".to_string(),
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            last_transition_time: since,
            ..PodCondition::default()
        };
        let mut updated = p.clone();
        let status = updated.status.get_or_insert_with(Default::default);
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        match conditions.iter_mut().find(|c| c.type_ == "PodScheduled") {
            Some(c) => *c = condition,
            None => conditions.push(condition),
        }
        let info = resources::pods()?;
        let (namespace, name) = (
            p.metadata.namespace.as_deref().unwrap_or(""),
            p.metadata.name.as_deref().unwrap_or(""),
        );
        let body = resources::to_body("pod", &updated)?;
        self.client
            .update_subresource(info, Some(namespace), name, "status", &body)
            .await
            .map_err(write_error(
                "update status of",
                info.plural,
                Some(namespace),
                name,
            ))?;
        Ok(true)
    }
}

/// Unbound, meant for this scheduler, and not finished or going away.
fn waits_for_scheduling(p: &Pod) -> bool {
    let scheduler = p
        .spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .unwrap_or(SCHEDULER_NAME);
    pod::node_name(p).is_empty()
        && (scheduler == SCHEDULER_NAME || scheduler.is_empty())
        && !pod::is_deleting(p)
        && !pod::is_terminal(p)
}

fn has_scheduling_gates(p: &Pod) -> bool {
    p.spec
        .as_ref()
        .and_then(|s| s.scheduling_gates.as_ref())
        .is_some_and(|g| !g.is_empty())
}

/// Pods that occupy each node: bound and not finished.
fn pods_per_node(pods: &[Pod]) -> HashMap<String, usize> {
    let mut load = HashMap::new();
    for p in pods.iter().filter(|p| !pod::is_terminal(p)) {
        let node = pod::node_name(p);
        if !node.is_empty() {
            *load.entry(node.to_string()).or_default() += 1;
        }
    }
    load
}

/// The node for `pod`: among the nodes it fits, the one with the fewest pods, ties by name.
pub(crate) fn pick_node<'n>(
    pod: &Pod,
    nodes: &'n [Node],
    load: &HashMap<String, usize>,
) -> Result<&'n str, Unschedulable> {
    if nodes.is_empty() {
        return Err(Unschedulable::NoNodes);
    }
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut best: Option<(usize, &str)> = None;
    for node in nodes {
        let name = node.metadata.name.as_deref().unwrap_or("");
        match fits(pod, node) {
            Ok(()) => {
                let candidate = (load.get(name).copied().unwrap_or(0), name);
                if best.is_none_or(|b| candidate < b) {
                    best = Some(candidate);
                }
            }
            Err(reason) => *reasons.entry(reason).or_default() += 1,
        }
    }
    best.map(|(_, name)| name).ok_or(Unschedulable::Filtered {
        nodes: nodes.len(),
        reasons,
    })
}

/// The filters, in upstream's plugin order; the first failing one gives the reason.
fn fits(pod: &Pod, node: &Node) -> Result<(), String> {
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    let spec = node.spec.clone().unwrap_or_default();
    if spec.unschedulable.unwrap_or(false) {
        let cordon = Taint {
            key: UNSCHEDULABLE_TAINT.to_string(),
            effect: "NoSchedule".to_string(),
            ..Taint::default()
        };
        if !tolerations.iter().any(|t| tolerates(t, &cordon)) {
            return Err("node(s) were unschedulable".to_string());
        }
    }
    let mut taints = spec.taints.unwrap_or_default();
    if let Some(implied) = readiness_taint(node) {
        if !taints
            .iter()
            .any(|t| t.key == implied.key && t.effect == implied.effect)
        {
            taints.push(implied);
        }
    }
    let untolerated = taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|taint| !tolerations.iter().any(|t| tolerates(t, taint)));
    if let Some(taint) = untolerated {
        return Err(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            taint.key,
            taint.value.as_deref().unwrap_or("")
        ));
    }
    let selector = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_selector.clone())
        .unwrap_or_default();
    let labels = node.metadata.labels.clone().unwrap_or_default();
    if !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
        return Err("node(s) didn't match Pod's node affinity/selector".to_string());
    }
    Ok(())
}

/// The `NoSchedule` taint the node lifecycle controller puts on a node that is not Ready:
/// `not-ready` for Ready False (or no Ready condition yet), `unreachable` for Unknown.
fn readiness_taint(node: &Node) -> Option<Taint> {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.as_str());
    let key = match ready {
        Some("True") => return None,
        Some("Unknown") => UNREACHABLE_TAINT,
        _ => NOT_READY_TAINT,
    };
    Some(Taint {
        key: key.to_string(),
        effect: "NoSchedule".to_string(),
        ..Taint::default()
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn node(name: &str, ready: &str, extra: Value) -> Node {
        let mut n = json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}});
        if let (Some(m), Some(e)) = (n.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                if k == "labels" {
                    m["metadata"]["labels"] = v.clone();
                } else {
                    m.insert(k.clone(), v.clone());
                }
            }
        }
        serde_json::from_value(n).unwrap()
    }

    fn pod(spec: Value) -> Pod {
        let mut s = json!({"containers": [{"name": "c", "image": "nginx"}]});
        if let (Some(m), Some(e)) = (s.as_object_mut(), spec.as_object()) {
            m.extend(e.clone());
        }
        serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "default"}, "spec": s}),
        )
        .unwrap()
    }

    fn load(pairs: &[(&str, usize)]) -> HashMap<String, usize> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn the_least_loaded_fitting_node_wins_ties_by_name() {
        let nodes = [
            node("b", "True", json!({})),
            node("a", "True", json!({})),
            node("c", "True", json!({})),
        ];
        let p = pod(json!({}));
        assert_eq!(pick_node(&p, &nodes, &load(&[])), Ok("a"));
        assert_eq!(
            pick_node(&p, &nodes, &load(&[("a", 2), ("b", 1), ("c", 1)])),
            Ok("b")
        );
        let picky = pod(json!({"nodeSelector": {"disk": "ssd"}}));
        let labelled = [
            node("a", "True", json!({})),
            node("z", "True", json!({"labels": {"disk": "ssd"}})),
        ];
        assert_eq!(pick_node(&picky, &labelled, &load(&[("z", 5)])), Ok("z"));
    }

    #[test]
    fn unfit_nodes_are_counted_by_reason_in_upstreams_message() {
        let nodes = [
            node("ready-elsewhere", "True", json!({})),
            node("down", "False", json!({})),
            node("gone", "Unknown", json!({})),
            node("cordoned", "True", json!({"spec": {"unschedulable": true}})),
            node(
                "tainted",
                "True",
                json!({"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}}),
            ),
        ];
        let p = pod(json!({"nodeSelector": {"kubernetes.io/hostname": "somewhere"}}));
        let why = pick_node(&p, &nodes, &load(&[])).unwrap_err();
        assert_eq!(
            why.message(),
            "0/5 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, \
             1 node(s) had untolerated taint {dedicated: db}, \
             1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, \
             1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, \
             1 node(s) were unschedulable. \
             preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling."
        );
        assert_eq!(
            pick_node(&p, &[], &load(&[])).unwrap_err().message(),
            "no nodes available to schedule pods"
        );
    }

    #[test]
    fn tolerations_admit_tainted_and_unready_nodes() {
        let down = [node("down", "False", json!({}))];
        let tolerant = pod(
            json!({"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}]}),
        );
        assert_eq!(pick_node(&tolerant, &down, &load(&[])), Ok("down"));
        let tainted = [node(
            "db",
            "True",
            json!({"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoExecute"}]}}),
        )];
        let equal = pod(
            json!({"tolerations": [{"key": "dedicated", "value": "db", "effect": "NoExecute"}]}),
        );
        let wrong_value = pod(json!({"tolerations": [{"key": "dedicated", "value": "web"}]}));
        let everything = pod(json!({"tolerations": [{"operator": "Exists"}]}));
        assert_eq!(pick_node(&equal, &tainted, &load(&[])), Ok("db"));
        assert!(pick_node(&wrong_value, &tainted, &load(&[])).is_err());
        assert_eq!(pick_node(&everything, &tainted, &load(&[])), Ok("db"));
        let prefer = [node(
            "soft",
            "True",
            json!({"spec": {"taints": [{"key": "k", "effect": "PreferNoSchedule"}]}}),
        )];
        assert_eq!(pick_node(&pod(json!({})), &prefer, &load(&[])), Ok("soft"));
    }
}
