//! The taint eviction controller, as kube-controller-manager's `taint-eviction-controller`: a
//! pod bound to a node with NoExecute taints is deleted (gracefully, as any client deletes it)
//! at once if it does not tolerate them all, else after the smallest `tolerationSeconds` among
//! the tolerations that matched, counted from when the controller first saw it so (never if
//! none of them has a limit). Before deleting, it records `TaintManagerEviction` and gives the
//! pod the `DisruptionTarget` condition (`DeletionByTaintManager`). A pending eviction is
//! cancelled (with a `Cancelling deletion` event) when the taints go or become tolerated.
//!
//! Its memory is upstream's timed worker queue: when each pending eviction is due, and which
//! pods were already evicted. Like upstream's, it is lost at restart, which restarts the wait.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, PodCondition, PodStatus, Taint, Toleration};
use k8s_openapi::jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use ferry_runtime::Client;

use crate::clock;
use crate::error::{write_error, Error};
use crate::events::{EventRecorder, EventType, InvolvedObject};
use crate::pod;
use crate::resources;
use crate::trigger::{next_pass, Trigger};

/// The event source, upstream's controller name.
const COMPONENT: &str = "taint-eviction-controller";
const NO_EXECUTE: &str = "NoExecute";

/// When a pod on a node with NoExecute taints is to be evicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Eviction {
    Now,
    After(Duration),
    Never,
}

/// `Toleration.ToleratesTaint`.
pub(crate) fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("") {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        "Exists" => true,
        _ => false,
    }
}

/// `GetMatchingTolerations` and `getMinTolerationTime`: each taint is matched by the first
/// toleration that tolerates it; an untolerated taint means now, a matched toleration with
/// `tolerationSeconds` of zero or less too; otherwise the smallest limit, or never.
pub(crate) fn eviction(tolerations: &[Toleration], taints: &[Taint]) -> Eviction {
    let mut smallest: Option<i64> = None;
    for taint in taints {
        let Some(used) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return Eviction::Now;
        };
        match used.toleration_seconds {
            Some(seconds) if seconds <= 0 => return Eviction::Now,
            Some(seconds) => smallest = Some(smallest.map_or(seconds, |s| s.min(seconds))),
            None => {}
        }
    }
    if taints.is_empty() {
        // Upstream never asks about an untainted node; with no matches its answer is "now".
        return Eviction::Now;
    }
    match smallest {
        Some(seconds) => Eviction::After(Duration::from_secs(seconds.unsigned_abs())),
        None => Eviction::Never,
    }
}

/// `UpdatePodCondition`: puts `condition` into `status`, keeping its transition time when its
/// status did not change (stamping `now` otherwise); true if anything changed.
pub(crate) fn update_pod_condition(
    status: &mut PodStatus,
    mut condition: PodCondition,
    now: Timestamp,
) -> bool {
    condition.last_transition_time = Some(clock::time(now));
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let Some(old) = conditions.iter_mut().find(|c| c.type_ == condition.type_) else {
        conditions.push(condition);
        return true;
    };
    if old.status == condition.status {
        condition.last_transition_time = old.last_transition_time.clone();
    }
    let changed = *old != condition;
    *old = condition;
    changed
}

/// The timed worker queue's entry for one pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheduled {
    /// To be evicted once this moment has passed.
    At(Timestamp),
    /// Evicted; kept so it is not evicted again while nothing changes.
    Done,
}

/// The NoExecute taints of a pod's node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum NodeTaints<'a> {
    /// The node is gone: pending evictions still fire, nothing new is decided.
    Gone,
    Tainted(&'a [Taint]),
}

/// What a pass does about one pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Nothing,
    /// Forget the pod's entry (with a `Cancelling deletion` event if an eviction was pending).
    Cancel,
    /// Evict now (cancelling, with its event, an eviction that was pending).
    Evict,
    Schedule(Timestamp),
}

/// `processPodOnNode` for a pod with entry `entry` on a node with `taints`.
pub(crate) fn step(
    entry: Option<Scheduled>,
    taints: NodeTaints<'_>,
    tolerations: &[Toleration],
    now: Timestamp,
) -> Step {
    let taints = match taints {
        NodeTaints::Gone => return Step::Nothing,
        NodeTaints::Tainted([]) => {
            return if entry.is_some() {
                Step::Cancel
            } else {
                Step::Nothing
            };
        }
        NodeTaints::Tainted(taints) => taints,
    };
    match (eviction(tolerations, taints), entry) {
        (Eviction::Never, Some(_)) => Step::Cancel,
        (Eviction::Never, None) => Step::Nothing,
        // Upstream evicts again at each change of the node's taints; a level-driven pass would
        // evict at every pass, so an evicted pod stays evicted.
        (_, Some(Scheduled::Done)) => Step::Nothing,
        (Eviction::Now, _) => Step::Evict,
        // A pending eviction keeps its time, as upstream's does.
        (Eviction::After(_), Some(Scheduled::At(_))) => Step::Nothing,
        (Eviction::After(wait), None) if wait.is_zero() => Step::Evict,
        (Eviction::After(wait), None) => {
            let seconds = i64::try_from(wait.as_secs()).unwrap_or(i64::MAX);
            Step::Schedule(clock::plus_seconds(now, seconds))
        }
    }
}

/// Runs the controller until shutdown.
pub(crate) async fn run(client: Client, shutdown: CancellationToken) {
    let (Ok(pods), Ok(nodes)) = (resources::pods(), resources::nodes()) else {
        return;
    };
    let trigger = Trigger::new();
    trigger.watch(&client, nodes, &shutdown);
    trigger.watch(&client, pods, &shutdown);
    let mut controller = TaintEviction {
        recorder: EventRecorder::new(client.clone(), COMPONENT),
        client,
        scheduled: HashMap::new(),
        evicted_uids: HashMap::new(),
    };
    let mut requeue = None;
    while trigger.wait(requeue, &shutdown).await {
        requeue = next_pass(COMPONENT, controller.pass().await);
    }
}

struct TaintEviction {
    client: Client,
    recorder: EventRecorder,
    /// By `namespace/name`, as upstream keys its queue.
    scheduled: HashMap<String, Scheduled>,
    /// The uid of each pod marked [`Scheduled::Done`]: a new pod of the same name is not the
    /// evicted one.
    evicted_uids: HashMap<String, String>,
}

impl TaintEviction {
    async fn pass(&mut self) -> Result<Option<Duration>, Error> {
        let nodes: Vec<Node> = resources::list(&self.client, resources::nodes()?, None).await?;
        let taints: HashMap<&str, Vec<Taint>> = nodes
            .iter()
            .map(|n| (n.metadata.name.as_deref().unwrap_or(""), no_execute(n)))
            .collect();
        if self.scheduled.is_empty() && taints.values().all(Vec::is_empty) {
            return Ok(None);
        }
        let pods: Vec<Pod> = resources::list(&self.client, resources::pods()?, None).await?;
        let now = clock::now();
        let listed: HashMap<String, &Pod> = pods.iter().map(|p| (key(p), p)).collect();
        let gone: Vec<String> = self
            .scheduled
            .keys()
            .filter(|k| !listed.contains_key(*k))
            .cloned()
            .collect();
        for k in gone {
            self.cancel(&k).await;
        }
        let mut failure = None;
        for (k, p) in &listed {
            let uid = p.metadata.uid.as_deref().unwrap_or("");
            if self
                .evicted_uids
                .get(k)
                .is_some_and(|evicted| evicted != uid)
            {
                self.scheduled.remove(k);
                self.evicted_uids.remove(k);
            }
            let node = pod::node_name(p);
            if node.is_empty() {
                continue;
            }
            let on = taints
                .get(node)
                .map_or(NodeTaints::Gone, |t| NodeTaints::Tainted(t));
            let tolerations = p
                .spec
                .as_ref()
                .and_then(|s| s.tolerations.as_deref())
                .unwrap_or(&[]);
            let due = matches!(self.scheduled.get(k), Some(Scheduled::At(at)) if *at <= now);
            match step(self.scheduled.get(k).copied(), on, tolerations, now) {
                Step::Nothing if due => failure = failure.or(self.evict(k, p).await.err()),
                Step::Nothing => {}
                Step::Cancel => self.cancel(k).await,
                Step::Evict => {
                    self.cancel(k).await;
                    failure = failure.or(self.evict(k, p).await.err());
                }
                Step::Schedule(at) => {
                    self.scheduled.insert(k.clone(), Scheduled::At(at));
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let next = self
            .scheduled
            .values()
            .filter_map(|s| match s {
                Scheduled::At(at) => Some(clock::until(now, *at) + Duration::from_secs(1)),
                Scheduled::Done => None,
            })
            .min();
        Ok(next)
    }

    /// `cancelWorkWithEvent`: forgets the pod's entry, with an event if an eviction was
    /// pending.
    async fn cancel(&mut self, k: &str) {
        self.evicted_uids.remove(k);
        if let Some(Scheduled::At(_)) = self.scheduled.remove(k) {
            let message = format!("Cancelling deletion of Pod {k}");
            self.recorder
                .record(
                    &pod_reference(k),
                    EventType::Normal,
                    "TaintManagerEviction",
                    &message,
                )
                .await;
        }
    }

    /// `deletePodHandler`: the event, the `DisruptionTarget` condition, then a plain delete.
    /// A failure leaves the entry as it was, so the next pass tries again.
    async fn evict(&mut self, k: &str, p: &Pod) -> Result<(), Error> {
        tracing::info!(
            pod = k,
            "deleting pod on a node with an untolerated NoExecute taint"
        );
        let message = format!("Marking for deletion Pod {k}");
        self.recorder
            .record(
                &pod_reference(k),
                EventType::Normal,
                "TaintManagerEviction",
                &message,
            )
            .await;
        let info = resources::pods()?;
        let (namespace, name) = (
            p.metadata.namespace.as_deref().unwrap_or(""),
            p.metadata.name.as_deref().unwrap_or(""),
        );
        let mut updated = p.clone();
        let condition = PodCondition {
            type_: "DisruptionTarget".to_string(),
            status: "True".to_string(),
            reason: Some("DeletionByTaintManager".to_string()),
            message: Some("Taint manager: deleting due to NoExecute taint".to_string()),
            ..PodCondition::default()
        };
        let status = updated.status.get_or_insert_with(Default::default);
        if update_pod_condition(status, condition, clock::now())
            && !resources::put_pod_status(&self.client, &updated).await?
        {
            self.scheduled.remove(k);
            return Ok(());
        }
        match self
            .client
            .delete(info, Some(namespace), name, p.metadata.uid.as_deref())
            .await
        {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(write_error("delete", info.plural, Some(namespace), name)(e)),
        }
        self.scheduled.insert(k.to_string(), Scheduled::Done);
        self.evicted_uids
            .insert(k.to_string(), p.metadata.uid.clone().unwrap_or_default());
        Ok(())
    }
}

/// The node's NoExecute taints.
fn no_execute(node: &Node) -> Vec<Taint> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[])
        .iter()
        .filter(|t| t.effect == NO_EXECUTE)
        .cloned()
        .collect()
}

fn key(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or(""),
        p.metadata.name.as_deref().unwrap_or("")
    )
}

/// The pod as upstream's events name it: by namespace and name only, no uid.
fn pod_reference(k: &str) -> InvolvedObject {
    let (namespace, name) = k.split_once('/').unwrap_or(("", k));
    InvolvedObject {
        api_version: "v1",
        kind: "Pod",
        namespace: Some(namespace.to_string()),
        name: name.to_string(),
        uid: String::new(),
        resource_version: None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn tolerations(value: Value) -> Vec<Toleration> {
        serde_json::from_value(value).unwrap()
    }

    fn taints(value: Value) -> Vec<Taint> {
        serde_json::from_value(value).unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn tolerations_match_taints_as_upstream() {
        let taint = &taints(json!([{"key": "dedicated", "value": "db", "effect": "NoExecute"}]))[0];
        let cases = [
            (json!({"key": "dedicated", "value": "db"}), true),
            (
                json!({"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoExecute"}),
                true,
            ),
            (json!({"key": "dedicated", "value": "web"}), false),
            (json!({"key": "dedicated", "operator": "Exists"}), true),
            (
                json!({"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}),
                false,
            ),
            (json!({"key": "other", "operator": "Exists"}), false),
            (json!({"operator": "Exists"}), true),
            (
                json!({"key": "dedicated", "operator": "Lt", "value": "db"}),
                false,
            ),
        ];
        for (toleration, expected) in cases {
            let t: Toleration = serde_json::from_value(toleration.clone()).unwrap();
            assert_eq!(tolerates(&t, taint), expected, "{toleration}");
        }
    }

    #[test]
    fn eviction_waits_for_the_smallest_matching_toleration() {
        let unreachable =
            taints(json!([{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]));
        let both = taints(json!([
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
            {"key": "dedicated", "value": "db", "effect": "NoExecute"}
        ]));
        let defaults = json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ]);
        let cases = [
            (json!([]), &unreachable, Eviction::Now),
            (
                defaults.clone(),
                &unreachable,
                Eviction::After(Duration::from_secs(300)),
            ),
            // The default toleration does not cover the other taint.
            (defaults, &both, Eviction::Now),
            (
                json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 2},
                       {"key": "dedicated", "operator": "Exists", "tolerationSeconds": 60}]),
                &both,
                Eviction::After(Duration::from_secs(2)),
            ),
            // Only the first matching toleration of a taint counts.
            (
                json!([{"operator": "Exists"},
                       {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 5}]),
                &unreachable,
                Eviction::Never,
            ),
            (
                json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 0}]),
                &unreachable,
                Eviction::Now,
            ),
            (
                json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": -5}]),
                &unreachable,
                Eviction::Now,
            ),
        ];
        for (given, node_taints, expected) in cases {
            assert_eq!(
                eviction(&tolerations(given.clone()), node_taints),
                expected,
                "{given}"
            );
        }
    }

    #[test]
    fn steps_schedule_keep_cancel_and_evict() {
        let now = at("2024-01-01T00:00:00Z");
        let later = at("2024-01-01T00:05:00Z");
        let tainted =
            taints(json!([{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]));
        let on = NodeTaints::Tainted(&tainted);
        let untainted = NodeTaints::Tainted(&[]);
        let five_minutes = tolerations(
            json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}]),
        );
        let forever =
            tolerations(json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists"}]));
        let pending = Some(Scheduled::At(later));
        let cases = [
            (None, on, &five_minutes, Step::Schedule(later)),
            (pending, on, &five_minutes, Step::Nothing),
            (pending, untainted, &five_minutes, Step::Cancel),
            (
                Some(Scheduled::Done),
                untainted,
                &five_minutes,
                Step::Cancel,
            ),
            (None, untainted, &five_minutes, Step::Nothing),
            (pending, on, &forever, Step::Cancel),
            (None, on, &forever, Step::Nothing),
            (None, on, &vec![], Step::Evict),
            (pending, on, &vec![], Step::Evict),
            (Some(Scheduled::Done), on, &vec![], Step::Nothing),
            (pending, NodeTaints::Gone, &vec![], Step::Nothing),
        ];
        for (entry, node, given, expected) in cases {
            assert_eq!(
                step(entry, node, given, now),
                expected,
                "{entry:?} {node:?} {given:?}"
            );
        }
    }

    #[test]
    fn conditions_keep_their_transition_time_while_their_status_holds() {
        let now = at("2024-01-01T00:00:00Z");
        let mut status = PodStatus::default();
        let condition = PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            reason: Some("DeletionByTaintManager".into()),
            ..PodCondition::default()
        };
        assert!(update_pod_condition(&mut status, condition.clone(), now));
        assert!(!update_pod_condition(
            &mut status,
            condition.clone(),
            at("2024-01-01T00:01:00Z")
        ));
        let stored = &status.conditions.as_ref().unwrap()[0];
        assert_eq!(stored.last_transition_time, Some(clock::time(now)));
        let other_reason = PodCondition {
            reason: Some("DeletionByPodGC".into()),
            ..condition
        };
        assert!(update_pod_condition(&mut status, other_reason, now));
    }

    #[test]
    fn events_name_the_pod_without_its_uid() {
        let reference = pod_reference("default/kubia");
        assert_eq!(
            (
                reference.namespace.as_deref(),
                reference.name.as_str(),
                reference.uid.as_str()
            ),
            (Some("default"), "kubia", "")
        );
    }
}
