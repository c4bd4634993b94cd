//! The ReplicaSet and ReplicationController controllers, as kube-controller-manager's
//! `replica_set.go` (which serves both kinds): keep `spec.replicas` active pods that match the
//! selector and are controlled by the owner; adopt matching orphans, release owned pods that no
//! longer match, create pods from the template (`generateName: <owner>-`), delete the surplus in
//! upstream's order, and report the counts in the status.
//!
//! Every pass lists owners and pods through the API, so a pass sees its own earlier writes and
//! needs none of upstream's expectations bookkeeping.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures_util::future::join_all;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use ferry_api::selector::LabelSelector;
use ferry_api::ResourceInfo;
use ferry_runtime::Client;

use crate::clock;
use crate::error::{api_message, write_error, Error};
use crate::events::{EventRecorder, EventType, InvolvedObject};
use crate::owner::{self, Claim, Claimant};
use crate::pod::{self, Availability};
use crate::resources;
use crate::trigger::{next_pass, sooner, Trigger};

/// Pods created or deleted at most per owner and pass (`BurstReplicas`).
const BURST_REPLICAS: usize = 500;
/// The annotation that orders pods for deletion within a ReplicaSet.
const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";
/// A pod name can be this long; the `<owner>-` prefix must leave room to be valid.
const MAX_NAME_LENGTH: usize = 253;

/// Which of the two kinds one controller instance manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplicaKind {
    ReplicaSet,
    ReplicationController,
}

impl ReplicaKind {
    fn api_version(self) -> &'static str {
        match self {
            ReplicaKind::ReplicaSet => "apps/v1",
            ReplicaKind::ReplicationController => "v1",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            ReplicaKind::ReplicaSet => "ReplicaSet",
            ReplicaKind::ReplicationController => "ReplicationController",
        }
    }

    /// The event source, upstream's controller name.
    fn component(self) -> &'static str {
        match self {
            ReplicaKind::ReplicaSet => "replicaset-controller",
            ReplicaKind::ReplicationController => "replication-controller",
        }
    }

    fn info(self) -> Result<&'static ResourceInfo, Error> {
        match self {
            ReplicaKind::ReplicaSet => resources::replica_sets(),
            ReplicaKind::ReplicationController => resources::replication_controllers(),
        }
    }
}

/// A ReplicaSet or ReplicationController as the replica manager sees it.
#[derive(Clone, Debug)]
pub(crate) struct ReplicaOwner {
    kind: ReplicaKind,
    meta: ObjectMeta,
    replicas: i32,
    min_ready_seconds: i32,
    selector: LabelSelector,
    template: PodTemplateSpec,
    status: ReplicaStatus,
    /// The object as listed, for the status write.
    object: Value,
}

/// The status both kinds share.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReplicaStatus {
    #[serde(default)]
    replicas: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    fully_labeled_replicas: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    ready_replicas: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    available_replicas: i32,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    observed_generation: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    conditions: Vec<ReplicaCondition>,
}

/// `ReplicaSetCondition` / `ReplicationControllerCondition`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReplicaCondition {
    #[serde(rename = "type")]
    condition_type: String,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_transition_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

/// Why creating or deleting pods failed, for the `ReplicaFailure` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ManageFailure {
    reason: &'static str,
    message: String,
}

impl ReplicaOwner {
    fn from_replica_set(rs: ReplicaSet) -> Result<Self, Error> {
        let object = resources::to_body("replicaset", &rs)?;
        let spec = rs.spec.unwrap_or_default();
        let selector = serde_json::to_value(&spec.selector)
            .ok()
            .and_then(|s| LabelSelector::from_label_selector(&s).ok())
            .unwrap_or_else(LabelSelector::nothing);
        Ok(ReplicaOwner {
            kind: ReplicaKind::ReplicaSet,
            meta: rs.metadata,
            replicas: spec.replicas.unwrap_or(1),
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
            selector,
            template: spec.template.unwrap_or_default(),
            status: status_of(&object),
            object,
        })
    }

    fn from_replication_controller(rc: ReplicationController) -> Result<Self, Error> {
        let object = resources::to_body("replicationcontroller", &rc)?;
        let spec = rc.spec.unwrap_or_default();
        // An RC selects with a plain map; an empty one selects everything, as upstream's
        // `labels.Set(...).AsSelector()`.
        let selector = LabelSelector::from_label_selector(
            &json!({"matchLabels": spec.selector.unwrap_or_default()}),
        )
        .unwrap_or_else(|_| LabelSelector::nothing());
        Ok(ReplicaOwner {
            kind: ReplicaKind::ReplicationController,
            meta: rc.metadata,
            replicas: spec.replicas.unwrap_or(1),
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
            selector,
            template: spec.template.unwrap_or_default(),
            status: status_of(&object),
            object,
        })
    }

    fn name(&self) -> &str {
        self.meta.name.as_deref().unwrap_or("")
    }

    fn namespace(&self) -> &str {
        self.meta.namespace.as_deref().unwrap_or("")
    }

    fn deleting(&self) -> bool {
        self.meta.deletion_timestamp.is_some()
    }

    fn claimant(&self) -> Claimant<'_> {
        Claimant {
            uid: self.meta.uid.as_deref().unwrap_or(""),
            namespace: self.namespace(),
            deleting: self.deleting(),
        }
    }

    fn involved(&self) -> InvolvedObject {
        InvolvedObject::of(self.kind.api_version(), self.kind.kind(), &self.meta)
    }

    fn template_labels(&self) -> BTreeMap<String, String> {
        self.template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default()
    }
}

fn status_of(object: &Value) -> ReplicaStatus {
    object
        .get("status")
        .cloned()
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default()
}

fn labels(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// Runs the controller of one kind until shutdown.
pub(crate) async fn run(client: Client, kind: ReplicaKind, shutdown: CancellationToken) {
    let (Ok(owners), Ok(pods)) = (kind.info(), resources::pods()) else {
        return;
    };
    let trigger = Trigger::new();
    trigger.watch(&client, owners, &shutdown);
    trigger.watch(&client, pods, &shutdown);
    let manager = ReplicaManager {
        recorder: EventRecorder::new(client.clone(), kind.component()),
        client,
        kind,
    };
    let mut requeue = None;
    while trigger.wait(requeue, &shutdown).await {
        requeue = next_pass(kind.component(), manager.pass().await);
    }
}

struct ReplicaManager {
    client: Client,
    kind: ReplicaKind,
    recorder: EventRecorder,
}

impl ReplicaManager {
    async fn pass(&self) -> Result<Option<Duration>, Error> {
        let owners = self.list_owners().await?;
        let pods: Vec<Pod> = resources::list(&self.client, resources::pods()?, None).await?;
        let mut by_namespace: HashMap<&str, Vec<&Pod>> = HashMap::new();
        for p in &pods {
            by_namespace
                .entry(p.metadata.namespace.as_deref().unwrap_or(""))
                .or_default()
                .push(p);
        }
        let now = clock::now();
        let mut requeue = None;
        for owner in &owners {
            let in_namespace = by_namespace
                .get(owner.namespace())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let related = related_pods(owner, &owners, in_namespace);
            let result = self.sync(owner, in_namespace, &related, now).await;
            requeue = sooner(requeue, next_pass(self.kind.component(), result));
        }
        Ok(requeue)
    }

    async fn list_owners(&self) -> Result<Vec<ReplicaOwner>, Error> {
        let info = self.kind.info()?;
        match self.kind {
            ReplicaKind::ReplicaSet => resources::list::<ReplicaSet>(&self.client, info, None)
                .await?
                .into_iter()
                .map(ReplicaOwner::from_replica_set)
                .collect(),
            ReplicaKind::ReplicationController => {
                resources::list::<ReplicationController>(&self.client, info, None)
                    .await?
                    .into_iter()
                    .map(ReplicaOwner::from_replication_controller)
                    .collect()
            }
        }
    }

    /// `syncReplicaSet` for one owner: claim, create or delete, write the status.
    async fn sync(
        &self,
        owner: &ReplicaOwner,
        pods: &[&Pod],
        related: &[&Pod],
        now: Timestamp,
    ) -> Result<Option<Duration>, Error> {
        let claimed = self.claim_pods(owner, pods).await?;
        let failure = if owner.deleting() {
            None
        } else {
            self.manage(owner, &claimed, related, now).await.err()
        };
        let status = replica_status(owner, &claimed, failure.as_ref(), now);
        self.write_status(owner, status).await?;
        let retry = failure.map(|_| Duration::from_secs(1));
        Ok(sooner(retry, availability_requeue(owner, &claimed, now)))
    }

    /// The active pods this owner controls after adopting and releasing.
    async fn claim_pods<'p>(
        &self,
        owner: &ReplicaOwner,
        pods: &[&'p Pod],
    ) -> Result<Vec<&'p Pod>, Error> {
        let pods_info = resources::pods()?;
        let reference =
            owner::controller_ref(self.kind.api_version(), self.kind.kind(), &owner.meta);
        let mut claimed = Vec::new();
        let mut may_adopt = None;
        for &p in pods.iter().filter(|p| pod::is_active(p)) {
            let matches = owner.selector.matches(&labels(&p.metadata));
            match owner::claim(owner.claimant(), &p.metadata, matches) {
                Claim::Owned => claimed.push(p),
                Claim::Adopt => {
                    if may_adopt.is_none() {
                        may_adopt = Some(self.still_current(owner).await?);
                    }
                    let patch = owner::adopt_patch(&p.metadata, &reference);
                    if may_adopt == Some(true)
                        && owner::patch_owners(&self.client, pods_info, &p.metadata, &patch).await?
                    {
                        claimed.push(p);
                    }
                }
                Claim::Release => {
                    let patch = owner::release_patch(&p.metadata, &reference.uid);
                    owner::patch_owners(&self.client, pods_info, &p.metadata, &patch).await?;
                }
                Claim::Ignore => {}
            }
        }
        Ok(claimed)
    }

    /// Upstream re-reads the owner before adopting: an owner that was deleted (or replaced by
    /// a namesake) since the list must not adopt anything.
    async fn still_current(&self, owner: &ReplicaOwner) -> Result<bool, Error> {
        let info = self.kind.info()?;
        match self
            .client
            .get(info, Some(owner.namespace()), owner.name())
            .await
        {
            Ok(fresh) => Ok(fresh.pointer("/metadata/uid").and_then(Value::as_str)
                == owner.meta.uid.as_deref()
                && fresh.pointer("/metadata/deletionTimestamp").is_none()),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(write_error(
                "get",
                info.plural,
                Some(owner.namespace()),
                owner.name(),
            )(e)),
        }
    }

    /// `manageReplicas`: creates or deletes pods towards `spec.replicas`.
    async fn manage(
        &self,
        owner: &ReplicaOwner,
        claimed: &[&Pod],
        related: &[&Pod],
        now: Timestamp,
    ) -> Result<(), ManageFailure> {
        let wanted = usize::try_from(owner.replicas).unwrap_or(0);
        match claimed.len().cmp(&wanted) {
            Ordering::Less => {
                let missing = (wanted - claimed.len()).min(BURST_REPLICAS);
                self.create_pods(owner, missing).await
            }
            Ordering::Greater => {
                let surplus = (claimed.len() - wanted).min(BURST_REPLICAS);
                let doomed = pods_to_delete(claimed, related, surplus, now);
                let results = join_all(doomed.iter().map(|p| self.delete_pod(owner, p))).await;
                results.into_iter().collect()
            }
            Ordering::Equal => Ok(()),
        }
    }

    /// Creates `count` pods in batches of 1, 2, 4, ... (`slowStartBatch`), stopping at the
    /// first batch with a failure so a broken template costs one request, not hundreds.
    async fn create_pods(&self, owner: &ReplicaOwner, count: usize) -> Result<(), ManageFailure> {
        let mut remaining = count;
        let mut batch = 1;
        while remaining > 0 {
            let size = batch.min(remaining);
            let results = join_all((0..size).map(|_| self.create_pod(owner))).await;
            results.into_iter().collect::<Result<Vec<()>, _>>()?;
            remaining -= size;
            batch *= 2;
        }
        Ok(())
    }

    async fn create_pod(&self, owner: &ReplicaOwner) -> Result<(), ManageFailure> {
        let failure = |message: String| ManageFailure {
            reason: "FailedCreate",
            message,
        };
        let info = resources::pods().map_err(|e| failure(e.to_string()))?;
        let pod = pod_from_template(owner);
        let body = resources::to_body("pod", &pod).map_err(|e| failure(e.to_string()))?;
        match self
            .client
            .create(info, Some(owner.namespace()), &body)
            .await
        {
            Ok(created) => {
                let name = created
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                self.recorder
                    .record(
                        &owner.involved(),
                        EventType::Normal,
                        "SuccessfulCreate",
                        &format!("Created pod: {name}"),
                    )
                    .await;
                Ok(())
            }
            // Nothing can be created in a namespace that is going away; not a failure.
            Err(e) if api_message(&e).contains("because it is being terminated") => Ok(()),
            Err(e) => {
                let message = api_message(&e);
                self.recorder
                    .record(
                        &owner.involved(),
                        EventType::Warning,
                        "FailedCreate",
                        &format!("Error creating: {message}"),
                    )
                    .await;
                Err(failure(message))
            }
        }
    }

    async fn delete_pod(&self, owner: &ReplicaOwner, p: &Pod) -> Result<(), ManageFailure> {
        let failure = |message: String| ManageFailure {
            reason: "FailedDelete",
            message,
        };
        let info = resources::pods().map_err(|e| failure(e.to_string()))?;
        let name = p.metadata.name.as_deref().unwrap_or("");
        match self
            .client
            .delete(info, Some(owner.namespace()), name, None)
            .await
        {
            Ok(()) => {
                self.recorder
                    .record(
                        &owner.involved(),
                        EventType::Normal,
                        "SuccessfulDelete",
                        &format!("Deleted pod: {name}"),
                    )
                    .await;
                Ok(())
            }
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => {
                let message = api_message(&e);
                self.recorder
                    .record(
                        &owner.involved(),
                        EventType::Warning,
                        "FailedDelete",
                        &format!("Error deleting: {message}"),
                    )
                    .await;
                Err(failure(format!("unable to delete pods: {message}")))
            }
        }
    }

    /// `updateReplicaSetStatus`: writes the status when anything in it changed.
    async fn write_status(&self, owner: &ReplicaOwner, status: ReplicaStatus) -> Result<(), Error> {
        if status == owner.status {
            return Ok(());
        }
        let info = self.kind.info()?;
        let mut body = owner.object.clone();
        body["status"] = resources::to_body("status", &status)?;
        self.client
            .update_subresource(info, Some(owner.namespace()), owner.name(), "status", &body)
            .await
            .map(|_| ())
            .map_err(write_error(
                "update status of",
                info.plural,
                Some(owner.namespace()),
                owner.name(),
            ))
    }
}

/// Pods of the owner's siblings (owners with the same controller, e.g. the ReplicaSets of one
/// Deployment), for ranking pods by how crowded their node is
/// (`getIndirectlyRelatedPods`).
fn related_pods<'p>(
    owner: &ReplicaOwner,
    owners: &[ReplicaOwner],
    pods: &[&'p Pod],
) -> Vec<&'p Pod> {
    let Some(controller) = owner::controller_of(&owner.meta) else {
        return Vec::new();
    };
    let siblings: Vec<&ReplicaOwner> = owners
        .iter()
        .filter(|o| o.namespace() == owner.namespace())
        .filter(|o| owner::controller_of(&o.meta).is_some_and(|c| c.uid == controller.uid))
        .collect();
    pods.iter()
        .copied()
        .filter(|p| {
            siblings
                .iter()
                .any(|s| s.selector.matches(&labels(&p.metadata)))
        })
        .collect()
}

/// A pod of the owner, from its template (`GetPodFromTemplate`).
pub(crate) fn pod_from_template(owner: &ReplicaOwner) -> Pod {
    let template_meta = owner.template.metadata.clone().unwrap_or_default();
    let prefix = if owner.name().len() < MAX_NAME_LENGTH {
        format!("{}-", owner.name())
    } else {
        owner.name().to_string()
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(prefix),
            namespace: owner.meta.namespace.clone(),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![owner::controller_ref(
                owner.kind.api_version(),
                owner.kind.kind(),
                &owner.meta,
            )]),
            ..ObjectMeta::default()
        },
        spec: owner.template.spec.clone(),
        status: None,
    }
}

/// `calculateStatus`: counts over the owner's active pods, and the `ReplicaFailure` condition.
pub(crate) fn replica_status(
    owner: &ReplicaOwner,
    pods: &[&Pod],
    failure: Option<&ManageFailure>,
    now: Timestamp,
) -> ReplicaStatus {
    let template = owner.template_labels();
    let fully_labeled = pods
        .iter()
        .filter(|p| {
            let have = labels(&p.metadata);
            template.iter().all(|(k, v)| have.get(k) == Some(v))
        })
        .count();
    let ready = pods.iter().filter(|p| pod::is_ready(p)).count();
    let available = pods
        .iter()
        .filter(|p| pod::is_available(p, owner.min_ready_seconds, now))
        .count();
    let mut conditions = owner.status.conditions.clone();
    let has_failure = conditions
        .iter()
        .any(|c| c.condition_type == "ReplicaFailure");
    match failure {
        Some(f) if !has_failure => conditions.push(ReplicaCondition {
            condition_type: "ReplicaFailure".into(),
            status: "True".into(),
            last_transition_time: Some(clock::time(now)),
            reason: Some(f.reason.into()),
            message: Some(f.message.clone()),
        }),
        None if has_failure => conditions.retain(|c| c.condition_type != "ReplicaFailure"),
        _ => {}
    }
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    ReplicaStatus {
        replicas: count(pods.len()),
        fully_labeled_replicas: count(fully_labeled),
        ready_replicas: count(ready),
        available_replicas: count(available),
        observed_generation: owner.meta.generation.unwrap_or(0),
        conditions,
    }
}

/// When to look again so a pod that is ready but not yet available (`minReadySeconds`) gets
/// counted once it is.
fn availability_requeue(owner: &ReplicaOwner, pods: &[&Pod], now: Timestamp) -> Option<Duration> {
    pods.iter()
        .filter_map(|p| match pod::availability(p, owner.min_ready_seconds) {
            Availability::AvailableAfter(at) if at >= now && at < Timestamp::MAX => {
                Some(clock::until(now, at) + Duration::from_secs(1))
            }
            _ => None,
        })
        .min()
}

/// The `diff` pods to delete first, in upstream's order (`getPodsToDelete`): unscheduled before
/// scheduled, pending before unknown before running, not ready before ready, lower
/// deletion cost first, pods on nodes crowded with related pods first, more recently ready
/// first, more restarts first, newer first.
pub(crate) fn pods_to_delete<'p>(
    pods: &[&'p Pod],
    related: &[&Pod],
    diff: usize,
    now: Timestamp,
) -> Vec<&'p Pod> {
    if diff >= pods.len() {
        return pods.to_vec();
    }
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for p in related.iter().filter(|p| pod::is_active(p)) {
        *on_node.entry(pod::node_name(p)).or_default() += 1;
    }
    let mut ranked: Vec<(&Pod, usize)> = pods
        .iter()
        .map(|p| (*p, on_node.get(pod::node_name(p)).copied().unwrap_or(0)))
        .collect();
    ranked.sort_by(|a, b| deletion_order(a, b, now));
    ranked.into_iter().take(diff).map(|(p, _)| p).collect()
}

/// `ActivePodsWithRanks.Less` as an ordering: `Less` means "delete first".
fn deletion_order(a: &(&Pod, usize), b: &(&Pod, usize), now: Timestamp) -> Ordering {
    let ((pa, rank_a), (pb, rank_b)) = (a, b);
    let (node_a, node_b) = (pod::node_name(pa), pod::node_name(pb));
    if node_a != node_b && (node_a.is_empty() || node_b.is_empty()) {
        return if node_a.is_empty() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let by_phase = phase_ordinal(pa).cmp(&phase_ordinal(pb));
    if by_phase != Ordering::Equal {
        return by_phase;
    }
    let (ready_a, ready_b) = (pod::is_ready(pa), pod::is_ready(pb));
    if ready_a != ready_b {
        return if ready_a {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    let by_cost = deletion_cost(pa).cmp(&deletion_cost(pb));
    if by_cost != Ordering::Equal {
        return by_cost;
    }
    if rank_a != rank_b {
        return rank_b.cmp(rank_a);
    }
    if ready_a && ready_b {
        let (since_a, since_b) = (pod::ready_since(pa), pod::ready_since(pb));
        if since_a != since_b {
            return newer_first(since_a, since_b, pa, pb, now);
        }
    }
    let by_restarts = restarts(pb).cmp(&restarts(pa));
    if by_restarts != Ordering::Equal {
        return by_restarts;
    }
    let (created_a, created_b) = (
        pa.metadata.creation_timestamp.as_ref().map(|t| t.0),
        pb.metadata.creation_timestamp.as_ref().map(|t| t.0),
    );
    if created_a != created_b {
        return newer_first(created_a, created_b, pa, pb, now);
    }
    Ordering::Equal
}

/// Pending, then Unknown, then Running (`podPhaseToOrdinal`; other phases count as pending).
fn phase_ordinal(p: &Pod) -> u8 {
    match pod::phase(p) {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

fn deletion_cost(p: &Pod) -> i32 {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_DELETION_COST))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The most restarts of a regular container, then of a sidecar (restartable init) container.
fn restarts(p: &Pod) -> (i32, i32) {
    let status = p.status.clone().unwrap_or_default();
    let regular = status
        .container_statuses
        .unwrap_or_default()
        .iter()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    let sidecars: Vec<String> = p
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name)
        .collect();
    let sidecar = status
        .init_container_statuses
        .unwrap_or_default()
        .iter()
        .filter(|c| sidecars.contains(&c.name))
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    (regular, sidecar)
}

/// Newer before older, comparing ages on a log2 scale (`LogarithmicScaleDown`) so pods of
/// about the same age are ordered by uid, spreading deletions randomly among them; a missing
/// time sorts first.
fn newer_first(
    a: Option<Timestamp>,
    b: Option<Timestamp>,
    pa: &Pod,
    pb: &Pod,
    now: Timestamp,
) -> Ordering {
    let (Some(a), Some(b)) = (a, b) else {
        return match (a, b) {
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            _ => Ordering::Equal,
        };
    };
    let diff = log_age(a, now) - log_age(b, now);
    if diff == 0 {
        return pa.metadata.uid.cmp(&pb.metadata.uid);
    }
    diff.cmp(&0)
}

/// `int64(log2(now - t in nanoseconds))`, or -1 for a time not in the past.
fn log_age(t: Timestamp, now: Timestamp) -> i64 {
    let nanos = now.duration_since(t).as_nanos();
    if nanos > 0 {
        // Truncation is upstream's `int64(math.Log2(...))`.
        (nanos as f64).log2() as i64
    } else {
        -1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn pod(name: &str, spec: Value, status: Value, meta: Value) -> Pod {
        let mut metadata = json!({"name": name, "namespace": "default", "uid": format!("uid-{name}"),
            "labels": {"app": "kubia"}, "creationTimestamp": "2024-01-01T00:00:00Z"});
        if let (Some(m), Some(extra)) = (metadata.as_object_mut(), meta.as_object()) {
            m.extend(extra.clone());
        }
        serde_json::from_value(json!({"metadata": metadata, "spec": spec, "status": status}))
            .unwrap()
    }

    fn ready(since: &str) -> Value {
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": since}]})
    }

    fn owner(replicas: i32, min_ready: i32) -> ReplicaOwner {
        let rs: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": "kubia", "namespace": "default", "uid": "rs-uid", "generation": 3},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready,
                "selector": {"matchLabels": {"app": "kubia"}},
                "template": {"metadata": {"labels": {"app": "kubia", "tier": "web"}, "annotations": {"a": "b"}},
                    "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia"}]}}},
            "status": {"replicas": 1}
        }))
        .unwrap();
        ReplicaOwner::from_replica_set(rs).unwrap()
    }

    fn names(pods: &[&Pod]) -> Vec<String> {
        pods.iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn deletion_prefers_pods_earlier_in_their_start_up() {
        let now = at("2024-01-02T00:00:00Z");
        let node = |n: &str| json!({"nodeName": n});
        let pods = [
            pod(
                "running-ready",
                node("n1"),
                ready("2024-01-01T00:00:00Z"),
                json!({}),
            ),
            pod(
                "unscheduled",
                json!({}),
                json!({"phase": "Pending"}),
                json!({}),
            ),
            pod(
                "pending",
                node("n1"),
                json!({"phase": "Pending"}),
                json!({}),
            ),
            pod(
                "running-not-ready",
                node("n1"),
                json!({"phase": "Running"}),
                json!({}),
            ),
            pod(
                "unknown",
                node("n1"),
                json!({"phase": "Unknown"}),
                json!({}),
            ),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        assert_eq!(
            names(&pods_to_delete(&refs, &[], 4, now)),
            ["unscheduled", "pending", "unknown", "running-not-ready"]
        );
        assert_eq!(names(&pods_to_delete(&refs, &[], 5, now)).len(), 5);
    }

    #[test]
    fn among_ready_pods_cost_crowding_age_and_restarts_decide() {
        let now = at("2024-06-01T00:00:00Z");
        let on = |n: &str| json!({"nodeName": n});
        let costly = json!({"annotations": {POD_DELETION_COST: "100"}});
        let cases: Vec<(Vec<Pod>, Vec<Pod>, &str)> = vec![
            (
                vec![
                    pod("cheap", on("n1"), ready("2024-01-01T00:00:00Z"), json!({})),
                    pod("costly", on("n1"), ready("2024-05-31T23:59:00Z"), costly),
                ],
                vec![],
                "cheap",
            ),
            (
                vec![
                    pod("alone", on("n1"), ready("2024-05-01T00:00:00Z"), json!({})),
                    pod(
                        "crowded",
                        on("n2"),
                        ready("2024-01-01T00:00:00Z"),
                        json!({}),
                    ),
                ],
                vec![
                    pod(
                        "sibling-a",
                        on("n2"),
                        ready("2024-01-01T00:00:00Z"),
                        json!({}),
                    ),
                    pod(
                        "sibling-b",
                        on("n2"),
                        ready("2024-01-01T00:00:00Z"),
                        json!({}),
                    ),
                ],
                "crowded",
            ),
            (
                vec![
                    pod("old", on("n1"), ready("2024-01-01T00:00:00Z"), json!({})),
                    pod("young", on("n1"), ready("2024-05-31T23:00:00Z"), json!({})),
                ],
                vec![],
                "young",
            ),
            (
                vec![
                    pod("steady", on("n1"), ready("2024-05-01T00:00:00Z"), json!({})),
                    pod(
                        "flaky",
                        on("n1"),
                        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-05-01T00:00:00Z"}],
                            "containerStatuses": [{"name": "c", "restartCount": 4, "ready": true, "image": "i", "imageID": ""}]}),
                        json!({}),
                    ),
                ],
                vec![],
                "flaky",
            ),
        ];
        for (pods, related, first) in cases {
            let refs: Vec<&Pod> = pods.iter().collect();
            let related: Vec<&Pod> = related.iter().chain(pods.iter()).collect();
            assert_eq!(names(&pods_to_delete(&refs, &related, 1, now)), [first]);
        }
    }

    #[test]
    fn status_counts_labels_readiness_and_availability() {
        let now = at("2024-01-01T00:00:30Z");
        let full = json!({"labels": {"app": "kubia", "tier": "web"}});
        let pods = [
            pod("a", json!({}), ready("2024-01-01T00:00:00Z"), full.clone()),
            pod("b", json!({}), ready("2024-01-01T00:00:25Z"), full),
            pod("c", json!({}), json!({"phase": "Pending"}), json!({})),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let o = owner(3, 10);
        let status = replica_status(&o, &refs, None, now);
        assert_eq!(
            serde_json::to_value(&status).unwrap(),
            json!({"replicas": 3, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 1, "observedGeneration": 3})
        );
        assert_eq!(
            availability_requeue(&o, &refs, now),
            Some(Duration::from_secs(6))
        );
        let failure = ManageFailure {
            reason: "FailedCreate",
            message: "pods \"kubia-\" is forbidden".into(),
        };
        let failed = replica_status(&o, &refs, Some(&failure), now);
        assert_eq!(
            serde_json::to_value(&failed.conditions).unwrap(),
            json!([{"type": "ReplicaFailure", "status": "True", "lastTransitionTime": "2024-01-01T00:00:30Z",
                "reason": "FailedCreate", "message": "pods \"kubia-\" is forbidden"}])
        );
        let empty = replica_status(&owner(0, 0), &[], None, now);
        assert_eq!(
            serde_json::to_value(&empty).unwrap(),
            json!({"replicas": 0, "observedGeneration": 3})
        );
    }

    #[test]
    fn pods_come_from_the_template_with_a_controller_ref() {
        let p = pod_from_template(&owner(3, 0));
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "generateName": "kubia-", "namespace": "default",
                    "labels": {"app": "kubia", "tier": "web"}, "annotations": {"a": "b"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "kubia",
                        "uid": "rs-uid", "controller": true, "blockOwnerDeletion": true}]
                },
                "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia"}]}
            })
        );
    }
}
