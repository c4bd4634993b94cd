//! The Deployment controller, as kube-controller-manager's: a Deployment owns ReplicaSets named
//! `<deployment>-<pod-template-hash>`, one per pod template it has had; the one matching the
//! current template is "new", the rest "old". A RollingUpdate grows the new one within
//! `maxSurge` and shrinks old ones as far as `maxUnavailable` and the new pods' availability
//! allow; Recreate empties the old ones before the new one starts. Replica count changes are
//! spread proportionally; revisions, the status, `Available` and `Progressing` (with its
//! deadline) and the revision history limit follow upstream.
//!
//! The arithmetic is pure (`rollout`, `status`, `annotations`, `hash`); this file lists,
//! claims, and writes. Each pass lists Deployments and ReplicaSets through the API.

mod annotations;
mod hash;
mod rollout;
mod status;

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector as MetaSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use ferry_api::selector::LabelSelector;
use ferry_runtime::{Client, ClientError};

use crate::clock;
use crate::error::{api_message, write_error, Error};
use crate::events::{EventRecorder, EventType, InvolvedObject};
use crate::owner::{self, Claim, Claimant};
use crate::pod;
use crate::resources;
use crate::trigger::{is_deletion, next_pass, sooner, Trigger};

use annotations::{Annotations, NewRsAnnotations};
use hash::{pod_template_hash, POD_TEMPLATE_HASH};
use rollout::{RollingStep, RolloutSpec, RsState, Strategy};
use status::{DeploymentFacts, ReplicaFailure};

/// The event source, upstream's controller name.
const COMPONENT: &str = "deployment-controller";
const API_VERSION: &str = "apps/v1";
const KIND: &str = "Deployment";
/// Upstream's `FailedRSCreateReason`.
const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";

/// Runs the controller until shutdown.
pub(crate) async fn run(client: Client, shutdown: CancellationToken) {
    let (Ok(deployments), Ok(sets), Ok(pods)) = (
        resources::deployments(),
        resources::replica_sets(),
        resources::pods(),
    ) else {
        return;
    };
    let trigger = Trigger::new();
    trigger.watch(&client, deployments, &shutdown);
    trigger.watch(&client, sets, &shutdown);
    // A Recreate rollout waits for the old pods to be gone.
    trigger.watch_filtered(&client, pods, is_deletion, &shutdown);
    let controller = DeploymentController {
        recorder: EventRecorder::new(client.clone(), COMPONENT),
        client,
    };
    let mut requeue = None;
    while trigger.wait(requeue, &shutdown).await {
        requeue = next_pass(COMPONENT, controller.pass().await);
    }
}

struct DeploymentController {
    client: Client,
    recorder: EventRecorder,
}

impl DeploymentController {
    async fn pass(&self) -> Result<Option<Duration>, Error> {
        let deployments: Vec<Deployment> =
            resources::list(&self.client, resources::deployments()?, None).await?;
        if deployments.is_empty() {
            return Ok(None);
        }
        let sets: Vec<ReplicaSet> =
            resources::list(&self.client, resources::replica_sets()?, None).await?;
        let mut requeue = None;
        for d in deployments {
            let candidates: Vec<ReplicaSet> = sets
                .iter()
                .filter(|rs| rs.metadata.namespace == d.metadata.namespace)
                .cloned()
                .collect();
            let mut sync = DeploymentSync {
                ctl: self,
                d,
                sets: Vec::new(),
                now: clock::now(),
            };
            let result = sync.run(candidates).await;
            requeue = sooner(requeue, next_pass(COMPONENT, result));
        }
        Ok(requeue)
    }
}

/// One Deployment's sync. `d` and `sets` are kept equal to what is stored: every write
/// replaces them with what the server answered.
struct DeploymentSync<'c> {
    ctl: &'c DeploymentController,
    d: Deployment,
    sets: Vec<ReplicaSet>,
    now: Timestamp,
}

impl DeploymentSync<'_> {
    /// `syncDeployment`.
    async fn run(&mut self, candidates: Vec<ReplicaSet>) -> Result<Option<Duration>, Error> {
        let spec = self.d.spec.clone().unwrap_or_default();
        if selects_everything(&spec.selector) {
            return self.refuse_select_all().await;
        }
        self.sets = self.claim_replica_sets(candidates, &spec.selector).await?;
        if self.d.metadata.deletion_timestamp.is_some() {
            let new = self.sync_revision(false).await?;
            return self.sync_status(new.as_deref()).await;
        }
        let paused = spec.paused.unwrap_or(false);
        if let Some(condition) = status::paused_condition(&self.facts(), paused, self.now) {
            let mut changed = self.current_status();
            status::set_condition(&mut changed, condition);
            self.write_status(changed).await?;
        }
        if paused {
            return self.scale(true).await;
        }
        if self.is_scaling_event().await? {
            return self.scale(false).await;
        }
        match self.rollout_spec().strategy {
            Strategy::Recreate => self.recreate().await,
            Strategy::RollingUpdate { .. } => self.rolling().await,
        }
    }

    fn name(&self) -> &str {
        self.d.metadata.name.as_deref().unwrap_or("")
    }

    fn namespace(&self) -> &str {
        self.d.metadata.namespace.as_deref().unwrap_or("")
    }

    fn involved(&self) -> InvolvedObject {
        InvolvedObject::of(API_VERSION, KIND, &self.d.metadata)
    }

    fn current_status(&self) -> DeploymentStatus {
        self.d.status.clone().unwrap_or_default()
    }

    fn rollout_spec(&self) -> RolloutSpec {
        let spec = self.d.spec.clone().unwrap_or_default();
        let strategy = spec.strategy.unwrap_or_default();
        let replicas = spec.replicas.unwrap_or(1);
        if strategy.type_.as_deref() == Some("Recreate") {
            return RolloutSpec {
                replicas,
                strategy: Strategy::Recreate,
            };
        }
        let rolling = strategy.rolling_update.unwrap_or_default();
        RolloutSpec {
            replicas,
            strategy: Strategy::RollingUpdate {
                max_surge: rolling.max_surge.unwrap_or(IntOrString::Int(0)),
                max_unavailable: rolling.max_unavailable.unwrap_or(IntOrString::Int(0)),
            },
        }
    }

    fn facts(&self) -> DeploymentFacts {
        let spec = self.d.spec.clone().unwrap_or_default();
        DeploymentFacts {
            name: self.name().to_string(),
            replicas: spec.replicas.unwrap_or(1),
            generation: self.d.metadata.generation.unwrap_or(0),
            max_unavailable: self.rollout_spec().max_unavailable(),
            progress_deadline: spec.progress_deadline_seconds.filter(|s| *s != i32::MAX),
            status: self.current_status(),
        }
    }

    fn annotations(&self) -> Annotations {
        self.d.metadata.annotations.clone().unwrap_or_default()
    }

    /// The ReplicaSets as the rollout arithmetic sees them.
    fn states(&self) -> Vec<RsState> {
        self.sets.iter().map(rs_state).collect()
    }

    /// The new ReplicaSet's state (by name) and the old ones'.
    fn split(&self, new: Option<&str>) -> (Option<RsState>, Vec<RsState>) {
        let (news, olds): (Vec<RsState>, Vec<RsState>) = self
            .states()
            .into_iter()
            .partition(|rs| Some(rs.name.as_str()) == new);
        (news.into_iter().next(), olds)
    }

    /// An empty selector would take every pod in the namespace: upstream refuses to act.
    async fn refuse_select_all(&mut self) -> Result<Option<Duration>, Error> {
        self.ctl
            .recorder
            .record(
                &self.involved(),
                EventType::Warning,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            )
            .await;
        let mut current = self.current_status();
        let generation = self.d.metadata.generation.unwrap_or(0);
        if current.observed_generation.unwrap_or(0) < generation {
            current.observed_generation = Some(generation);
            self.write_status(current).await?;
        }
        Ok(None)
    }

    /// `getReplicaSetsForDeployment`: adopt matching orphans, release what no longer matches.
    async fn claim_replica_sets(
        &self,
        candidates: Vec<ReplicaSet>,
        selector: &MetaSelector,
    ) -> Result<Vec<ReplicaSet>, Error> {
        let info = resources::replica_sets()?;
        let selector = serde_json::to_value(selector)
            .ok()
            .and_then(|s| LabelSelector::from_label_selector(&s).ok())
            .unwrap_or_else(LabelSelector::nothing);
        let claimant = Claimant {
            uid: self.d.metadata.uid.as_deref().unwrap_or(""),
            namespace: self.namespace(),
            deleting: self.d.metadata.deletion_timestamp.is_some(),
        };
        let reference = owner::controller_ref(API_VERSION, KIND, &self.d.metadata);
        let mut owned = Vec::new();
        let mut may_adopt = None;
        for rs in candidates {
            let matches = selector.matches(&rs.metadata.labels.clone().unwrap_or_default());
            match owner::claim(claimant, &rs.metadata, matches) {
                Claim::Owned => owned.push(rs),
                Claim::Adopt => {
                    if may_adopt.is_none() {
                        may_adopt = Some(self.still_current().await?);
                    }
                    let patch = owner::adopt_patch(&rs.metadata, &reference);
                    if may_adopt == Some(true)
                        && owner::patch_owners(&self.ctl.client, info, &rs.metadata, &patch).await?
                    {
                        owned.push(rs);
                    }
                }
                Claim::Release => {
                    let patch = owner::release_patch(&rs.metadata, &reference.uid);
                    owner::patch_owners(&self.ctl.client, info, &rs.metadata, &patch).await?;
                }
                Claim::Ignore => {}
            }
        }
        Ok(owned)
    }

    /// The Deployment as just read from the server is the one we listed and not being deleted
    /// (upstream's check before adopting).
    async fn still_current(&self) -> Result<bool, Error> {
        let info = resources::deployments()?;
        match self
            .ctl
            .client
            .get(info, Some(self.namespace()), self.name())
            .await
        {
            Ok(fresh) => Ok(fresh.pointer("/metadata/uid").and_then(Value::as_str)
                == self.d.metadata.uid.as_deref()
                && fresh.pointer("/metadata/deletionTimestamp").is_none()),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(write_error(
                "get",
                info.plural,
                Some(self.namespace()),
                self.name(),
            )(e)),
        }
    }

    /// `getAllReplicaSetsAndSyncRevision`: finds the new ReplicaSet (creating it if asked),
    /// brings its revision and annotations up to date, and the Deployment's revision with it.
    async fn sync_revision(&mut self, create: bool) -> Result<Option<String>, Error> {
        let template = template_without_hash(self.d.spec.as_ref().map(|s| &s.template));
        let mut by_age: Vec<&ReplicaSet> = self.sets.iter().collect();
        by_age.sort_by(|a, b| rollout::by_creation(&rs_state(a), &rs_state(b)));
        let new = by_age
            .into_iter()
            .find(|rs| {
                template_without_hash(rs.spec.as_ref().and_then(|s| s.template.as_ref()))
                    == template
            })
            .and_then(|rs| rs.metadata.name.clone());
        let max_old = self
            .states()
            .iter()
            .filter(|rs| Some(&rs.name) != new.as_ref())
            .map(|rs| rs.revision)
            .max()
            .unwrap_or(0);
        let revision = max_old + 1;
        match new {
            Some(name) => {
                self.sync_existing_new(&name, revision).await?;
                Ok(Some(name))
            }
            None if create => self.create_new(revision).await.map(Some),
            None => Ok(None),
        }
    }

    async fn sync_existing_new(&mut self, name: &str, revision: i64) -> Result<(), Error> {
        let spec = self.rollout_spec();
        let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
        let Some(rs) = self
            .sets
            .iter()
            .find(|rs| rs.metadata.name.as_deref() == Some(name))
        else {
            return Ok(());
        };
        let mut wanted = rs.metadata.annotations.clone().unwrap_or_default();
        let deployment_annotations = self.annotations();
        let changed = annotations::set_new_rs_annotations(
            &mut wanted,
            &NewRsAnnotations {
                deployment: &deployment_annotations,
                revision,
                creating: false,
                desired: spec.replicas,
                max: spec.replicas + spec.max_surge(),
            },
        );
        let rs_min_ready = rs.spec.as_ref().and_then(|s| s.min_ready_seconds);
        if changed || rs_min_ready.unwrap_or(0) != min_ready.unwrap_or(0) {
            let patch = json!({
                "metadata": {"annotations": wanted, "resourceVersion": rs.metadata.resource_version},
                "spec": {"minReadySeconds": min_ready.unwrap_or(0)},
            });
            self.patch_replica_set(name, &patch).await?;
            return Ok(());
        }
        if let Some(rs_revision) = wanted.get(annotations::REVISION) {
            self.set_deployment_revision(rs_revision).await?;
        }
        let facts = self.facts();
        if facts.progress_deadline.is_some()
            && status::condition(&facts.status, status::PROGRESSING).is_none()
        {
            let mut changed = facts.status;
            status::set_condition(
                &mut changed,
                status::new_condition(
                    status::PROGRESSING,
                    "True",
                    status::FOUND_NEW_RS,
                    format!("Found new replica set \"{name}\""),
                    self.now,
                ),
            );
            self.write_status(changed).await?;
        }
        Ok(())
    }

    /// Creates the ReplicaSet of the current template, sized by `NewRSNewReplicas`.
    async fn create_new(&mut self, revision: i64) -> Result<String, Error> {
        let info = resources::replica_sets()?;
        let spec = self.rollout_spec();
        let deployment_spec = self.d.spec.clone().unwrap_or_default();
        let collision_count = self.current_status().collision_count;
        let template_value = resources::to_body("pod template", &deployment_spec.template)?;
        let pod_hash = pod_template_hash(&template_value, collision_count);
        let name = format!("{}-{pod_hash}", self.name());

        let mut template = deployment_spec.template.clone();
        let template_meta = template.metadata.get_or_insert_with(ObjectMeta::default);
        template_meta
            .labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH.to_string(), pod_hash.clone());
        let labels = template_meta.labels.clone();
        let mut selector = deployment_spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH.to_string(), pod_hash);

        let mut sizing = rs_state_named(&name);
        let states = self.states();
        let all: Vec<&RsState> = states.iter().chain(std::iter::once(&sizing)).collect();
        let replicas = rollout::new_rs_new_replicas(&spec, &all, &sizing);
        sizing.replicas = replicas;
        let mut rs_annotations = Annotations::new();
        let deployment_annotations = self.annotations();
        annotations::set_new_rs_annotations(
            &mut rs_annotations,
            &NewRsAnnotations {
                deployment: &deployment_annotations,
                revision,
                creating: true,
                desired: spec.replicas,
                max: spec.replicas + spec.max_surge(),
            },
        );
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: self.d.metadata.namespace.clone(),
                labels,
                annotations: Some(rs_annotations),
                owner_references: Some(vec![owner::controller_ref(
                    API_VERSION,
                    KIND,
                    &self.d.metadata,
                )]),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: deployment_spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let body = resources::to_body("replicaset", &rs)?;
        let created = match self
            .ctl
            .client
            .create(info, Some(self.namespace()), &body)
            .await
        {
            Ok(created) => {
                self.remember_replica_set(created)?;
                true
            }
            Err(e) if is_already_exists(&e) => {
                if !self.adopt_existing_namesake(&name).await? {
                    return Err(self.hash_collision(e, &name).await);
                }
                false
            }
            Err(e) => return Err(self.creation_failed(e, &name).await),
        };
        if created && replicas > 0 {
            let message = format!("Scaled up replica set {name} from 0 to {replicas}");
            self.ctl
                .recorder
                .record(
                    &self.involved(),
                    EventType::Normal,
                    "ScalingReplicaSet",
                    &message,
                )
                .await;
        }
        self.set_deployment_revision(&revision.to_string()).await?;
        let facts = self.facts();
        if created && facts.progress_deadline.is_some() {
            let mut changed = facts.status;
            status::set_condition(
                &mut changed,
                status::new_condition(
                    status::PROGRESSING,
                    "True",
                    status::NEW_RS_CREATED,
                    format!("Created new replica set \"{name}\""),
                    self.now,
                ),
            );
            self.write_status(changed).await?;
        }
        Ok(name)
    }

    /// A ReplicaSet of that name exists already: it is ours if we control it and it has our
    /// template (we made it and have not seen it yet); then it joins the list.
    async fn adopt_existing_namesake(&mut self, name: &str) -> Result<bool, Error> {
        let info = resources::replica_sets()?;
        let existing = self
            .ctl
            .client
            .get(info, Some(self.namespace()), name)
            .await
            .map_err(write_error(
                "get",
                info.plural,
                Some(self.namespace()),
                name,
            ))?;
        let rs: ReplicaSet =
            serde_json::from_value(existing.clone()).map_err(|source| Error::Encode {
                what: "replicaset",
                source,
            })?;
        let ours = owner::controller_of(&rs.metadata)
            .is_some_and(|c| Some(&c.uid) == self.d.metadata.uid.as_ref());
        let same_template =
            template_without_hash(rs.spec.as_ref().and_then(|s| s.template.as_ref()))
                == template_without_hash(self.d.spec.as_ref().map(|s| &s.template));
        if ours && same_template {
            self.remember_replica_set(existing)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Another ReplicaSet has our name: bump `collisionCount` so the next hash differs.
    async fn hash_collision(&mut self, error: ClientError, name: &str) -> Error {
        let mut changed = self.current_status();
        changed.collision_count = Some(changed.collision_count.unwrap_or(0) + 1);
        if let Err(e) = self.write_status(changed).await {
            return e;
        }
        write_error("create", "replicasets", Some(self.namespace()), name)(error)
    }

    /// Creating the new ReplicaSet failed: say so in `Progressing` and an event.
    async fn creation_failed(&mut self, error: ClientError, name: &str) -> Error {
        let message = format!(
            "Failed to create new replica set \"{name}\": {}",
            api_message(&error)
        );
        let facts = self.facts();
        if facts.progress_deadline.is_some() {
            let mut changed = facts.status;
            status::set_condition(
                &mut changed,
                status::new_condition(
                    status::PROGRESSING,
                    "False",
                    FAILED_RS_CREATE,
                    message.clone(),
                    self.now,
                ),
            );
            // The creation failure is the error worth reporting; this write is best effort.
            let _ = self.write_status(changed).await;
        }
        self.ctl
            .recorder
            .record(
                &self.involved(),
                EventType::Warning,
                FAILED_RS_CREATE,
                &message,
            )
            .await;
        write_error("create", "replicasets", Some(self.namespace()), name)(error)
    }

    /// `isScalingEvent`: an active ReplicaSet was sized for another replica count.
    async fn is_scaling_event(&mut self) -> Result<bool, Error> {
        self.sync_revision(false).await?;
        let replicas = self.rollout_spec().replicas;
        Ok(self.states().iter().filter(|rs| rs.replicas > 0).any(|rs| {
            rs.desired_annotation
                .is_some_and(|desired| desired != replicas)
        }))
    }

    /// `sync`: resize for a new replica count (or a paused Deployment) without rolling out.
    async fn scale(&mut self, paused: bool) -> Result<Option<Duration>, Error> {
        let new = self.sync_revision(false).await?;
        let (new_state, olds) = self.split(new.as_deref());
        let status_replicas = self.current_status().replicas.unwrap_or(0);
        let plan = rollout::scale_plan(
            &self.rollout_spec(),
            new_state.as_ref(),
            &olds,
            status_replicas,
        );
        for step in plan {
            self.scale_replica_set(&step.name, step.replicas, step.refresh_annotations)
                .await?;
        }
        if paused {
            self.cleanup(new.as_deref()).await?;
        }
        self.sync_status(new.as_deref()).await
    }

    /// `rolloutRolling`.
    async fn rolling(&mut self) -> Result<Option<Duration>, Error> {
        let Some(new) = self.sync_revision(true).await? else {
            return Ok(None);
        };
        let (Some(new_state), olds) = self.split(Some(&new)) else {
            return Ok(None);
        };
        let scaled = match rollout::rolling_step(&self.rollout_spec(), &new_state, &olds) {
            RollingStep::ScaleNew(replicas) => {
                self.scale_replica_set(&new, replicas, false).await?
            }
            RollingStep::ScaleOld(steps) => {
                let mut any = false;
                for step in steps {
                    any |= self
                        .scale_replica_set(&step.name, step.replicas, false)
                        .await?;
                }
                any
            }
            RollingStep::Steady => false,
        };
        if !scaled && status::is_complete(&self.facts(), &self.current_status()) {
            self.cleanup(Some(&new)).await?;
        }
        self.sync_rollout_status(Some(&new)).await
    }

    /// `rolloutRecreate`: old ReplicaSets to zero, wait for their pods to go, then the new one
    /// to full size.
    async fn recreate(&mut self) -> Result<Option<Duration>, Error> {
        let new = self.sync_revision(false).await?;
        let (_, olds) = self.split(new.as_deref());
        let mut scaled = false;
        for old in olds.iter().filter(|rs| rs.replicas > 0) {
            scaled |= self.scale_replica_set(&old.name, 0, false).await?;
        }
        if scaled || self.old_pods_running(new.as_deref()).await? {
            return self.sync_rollout_status(new.as_deref()).await;
        }
        let new = match new {
            Some(name) => name,
            None => match self.sync_revision(true).await? {
                Some(name) => name,
                None => return Ok(None),
            },
        };
        let replicas = self.rollout_spec().replicas;
        self.scale_replica_set(&new, replicas, false).await?;
        if status::is_complete(&self.facts(), &self.current_status()) {
            self.cleanup(Some(&new)).await?;
        }
        self.sync_rollout_status(Some(&new)).await
    }

    /// `oldPodsRunning`: old ReplicaSets still report pods, or pods they controlled have not
    /// finished.
    async fn old_pods_running(&self, new: Option<&str>) -> Result<bool, Error> {
        let (_, olds) = self.split(new);
        if olds.iter().map(|rs| rs.current).sum::<i32>() > 0 {
            return Ok(true);
        }
        let old_uids: Vec<&str> = self
            .sets
            .iter()
            .filter(|rs| rs.metadata.name.as_deref() != new)
            .filter_map(|rs| rs.metadata.uid.as_deref())
            .collect();
        let pods: Vec<Pod> =
            resources::list(&self.ctl.client, resources::pods()?, Some(self.namespace())).await?;
        Ok(pods.iter().any(|p| {
            owner::controller_of(&p.metadata).is_some_and(|c| old_uids.contains(&c.uid.as_str()))
                && !pod::is_terminal(p)
        }))
    }

    /// `cleanupDeployment`: deletes the old revisions beyond `revisionHistoryLimit`.
    async fn cleanup(&self, new: Option<&str>) -> Result<(), Error> {
        let Some(limit) = self.d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
            return Ok(());
        };
        let info = resources::replica_sets()?;
        let (_, olds) = self.split(new);
        for name in rollout::history_to_delete(&olds, limit) {
            match self
                .ctl
                .client
                .delete(info, Some(self.namespace()), &name, None)
                .await
            {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    return Err(write_error(
                        "delete",
                        info.plural,
                        Some(self.namespace()),
                        &name,
                    )(e))
                }
            }
        }
        Ok(())
    }

    /// `scaleReplicaSet`: writes a new size (and the replicas annotations with it); an
    /// unchanged size is written only to refresh the annotations when asked. True if the size
    /// changed.
    async fn scale_replica_set(
        &mut self,
        name: &str,
        replicas: i32,
        refresh_annotations: bool,
    ) -> Result<bool, Error> {
        let spec = self.rollout_spec();
        let Some(rs) = self
            .sets
            .iter()
            .find(|rs| rs.metadata.name.as_deref() == Some(name))
        else {
            return Ok(false);
        };
        let current = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let mut wanted = rs.metadata.annotations.clone().unwrap_or_default();
        let annotations_changed = annotations::set_replicas_annotations(
            &mut wanted,
            spec.replicas,
            spec.replicas + spec.max_surge(),
        );
        let resized = current != replicas;
        if !(resized || refresh_annotations && annotations_changed) {
            return Ok(false);
        }
        let patch = json!({
            "metadata": {"annotations": wanted, "resourceVersion": rs.metadata.resource_version},
            "spec": {"replicas": replicas},
        });
        self.patch_replica_set(name, &patch).await?;
        if resized {
            let direction = if current < replicas { "up" } else { "down" };
            let message =
                format!("Scaled {direction} replica set {name} from {current} to {replicas}");
            self.ctl
                .recorder
                .record(
                    &self.involved(),
                    EventType::Normal,
                    "ScalingReplicaSet",
                    &message,
                )
                .await;
        }
        Ok(resized)
    }

    async fn patch_replica_set(&mut self, name: &str, patch: &Value) -> Result<(), Error> {
        let info = resources::replica_sets()?;
        let patched = self
            .ctl
            .client
            .merge_patch(info, Some(self.namespace()), name, patch)
            .await
            .map_err(write_error(
                "patch",
                info.plural,
                Some(self.namespace()),
                name,
            ))?;
        self.remember_replica_set(patched)
    }

    /// Puts a ReplicaSet as the server answered into the list, replacing its old version.
    fn remember_replica_set(&mut self, object: Value) -> Result<(), Error> {
        let rs: ReplicaSet = serde_json::from_value(object).map_err(|source| Error::Encode {
            what: "replicaset",
            source,
        })?;
        self.sets
            .retain(|old| old.metadata.name != rs.metadata.name);
        self.sets.push(rs);
        Ok(())
    }

    /// `SetDeploymentRevision`, written with a patch (a status write cannot carry annotations).
    async fn set_deployment_revision(&mut self, revision: &str) -> Result<(), Error> {
        if self
            .annotations()
            .get(annotations::REVISION)
            .map(String::as_str)
            == Some(revision)
        {
            return Ok(());
        }
        let info = resources::deployments()?;
        let patch = json!({"metadata": {
            "annotations": {annotations::REVISION: revision},
            "resourceVersion": self.d.metadata.resource_version,
        }});
        let patched = self
            .ctl
            .client
            .merge_patch(info, Some(self.namespace()), self.name(), &patch)
            .await
            .map_err(write_error(
                "patch",
                info.plural,
                Some(self.namespace()),
                self.name(),
            ))?;
        self.adopt_metadata(&patched);
        Ok(())
    }

    /// `syncRolloutStatus`.
    async fn sync_rollout_status(&mut self, new: Option<&str>) -> Result<Option<Duration>, Error> {
        let facts = self.facts();
        let states = self.states();
        let all: Vec<&RsState> = states.iter().collect();
        let new_state = states.iter().find(|rs| Some(rs.name.as_str()) == new);
        let failures = self.replica_failures(new);
        let computed = status::rollout_status(&facts, &all, new_state, &failures, self.now);
        if normalized(&computed) == normalized(&facts.status) {
            return Ok(status::stuck_requeue(&facts, &computed, self.now));
        }
        self.write_status(computed).await?;
        Ok(None)
    }

    /// `syncDeploymentStatus`: the counts and `Available`, without judging progress.
    async fn sync_status(&mut self, new: Option<&str>) -> Result<Option<Duration>, Error> {
        let facts = self.facts();
        let states = self.states();
        let all: Vec<&RsState> = states.iter().collect();
        let new_state = states.iter().find(|rs| Some(rs.name.as_str()) == new);
        let computed = status::calculate_status(&facts, &all, new_state, self.now);
        if normalized(&computed) != normalized(&facts.status) {
            self.write_status(computed).await?;
        }
        Ok(None)
    }

    /// `getReplicaFailures`: the new ReplicaSet's failures, else any old one's.
    fn replica_failures(&self, new: Option<&str>) -> Vec<ReplicaFailure> {
        let (news, olds): (Vec<&ReplicaSet>, Vec<&ReplicaSet>) = self
            .sets
            .iter()
            .partition(|rs| rs.metadata.name.as_deref() == new);
        let from_new: Vec<ReplicaFailure> =
            news.into_iter().flat_map(replica_failures_of).collect();
        if !from_new.is_empty() {
            return from_new;
        }
        olds.into_iter().flat_map(replica_failures_of).collect()
    }

    async fn write_status(&mut self, new_status: DeploymentStatus) -> Result<(), Error> {
        let info = resources::deployments()?;
        let mut body = self.d.clone();
        body.status = Some(new_status.clone());
        let body = resources::to_body("deployment", &body)?;
        let written = self
            .ctl
            .client
            .update_subresource(info, Some(self.namespace()), self.name(), "status", &body)
            .await
            .map_err(write_error(
                "update status of",
                info.plural,
                Some(self.namespace()),
                self.name(),
            ))?;
        self.adopt_metadata(&written);
        self.d.status = Some(new_status);
        Ok(())
    }

    /// Takes the resourceVersion and annotations the server answered with.
    fn adopt_metadata(&mut self, written: &Value) {
        if let Some(rv) = written
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        {
            self.d.metadata.resource_version = Some(rv.to_string());
        }
        if let Some(annotations) = written
            .pointer("/metadata/annotations")
            .cloned()
            .and_then(|a| serde_json::from_value(a).ok())
        {
            self.d.metadata.annotations = Some(annotations);
        }
    }
}

/// A selector with no requirements at all.
fn selects_everything(selector: &MetaSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(|e| e.is_empty())
}

fn is_already_exists(error: &ClientError) -> bool {
    matches!(error, ClientError::Api { reason, .. } if reason == "AlreadyExists")
}

/// A pod template as JSON without the `pod-template-hash` label (`EqualIgnoreHash`).
fn template_without_hash(template: Option<&PodTemplateSpec>) -> Value {
    let mut value = serde_json::to_value(template).unwrap_or(Value::Null);
    if let Some(labels) = value
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(POD_TEMPLATE_HASH);
    }
    value
}

fn rs_state(rs: &ReplicaSet) -> RsState {
    let annotations = rs.metadata.annotations.clone().unwrap_or_default();
    let status = rs.status.clone().unwrap_or_default();
    RsState {
        name: rs.metadata.name.clone().unwrap_or_default(),
        created: rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
        revision: annotations::revision(&annotations),
        replicas: rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        current: status.replicas,
        ready: status.ready_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
        desired_annotation: annotations::int_annotation(
            &annotations,
            annotations::DESIRED_REPLICAS,
        ),
        max_annotation: annotations::int_annotation(&annotations, annotations::MAX_REPLICAS),
        deleting: rs.metadata.deletion_timestamp.is_some(),
        generation: rs.metadata.generation.unwrap_or(0),
        observed_generation: status.observed_generation.unwrap_or(0),
    }
}

/// A ReplicaSet about to be created: no pods, no history.
fn rs_state_named(name: &str) -> RsState {
    RsState {
        name: name.to_string(),
        created: None,
        revision: 0,
        replicas: 0,
        current: 0,
        ready: 0,
        available: 0,
        desired_annotation: None,
        max_annotation: None,
        deleting: false,
        generation: 0,
        observed_generation: 0,
    }
}

fn replica_failures_of(rs: &ReplicaSet) -> Vec<ReplicaFailure> {
    rs.status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ == status::REPLICA_FAILURE)
        .map(|c| ReplicaFailure {
            status: c.status,
            reason: c.reason,
            message: c.message,
            since: c.last_transition_time.map(|t| t.0),
        })
        .collect()
}

/// A status with zero counts left out, as upstream's `omitempty` writes it, for comparing.
fn normalized(status: &DeploymentStatus) -> DeploymentStatus {
    let nonzero = |n: Option<i32>| n.filter(|n| *n != 0);
    DeploymentStatus {
        available_replicas: nonzero(status.available_replicas),
        collision_count: status.collision_count,
        conditions: status.conditions.clone().filter(|c| !c.is_empty()),
        observed_generation: status.observed_generation.filter(|g| *g != 0),
        ready_replicas: nonzero(status.ready_replicas),
        replicas: nonzero(status.replicas),
        unavailable_replicas: nonzero(status.unavailable_replicas),
        updated_replicas: nonzero(status.updated_replicas),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_compare_without_the_hash_label() {
        let with_hash: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "kubia", "pod-template-hash": "5d9f8b7c46"}},
            "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia"}]}
        }))
        .unwrap();
        let plain: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "kubia"}},
            "spec": {"containers": [{"image": "luksa/kubia", "name": "kubia"}]}
        }))
        .unwrap();
        assert_eq!(
            template_without_hash(Some(&with_hash)),
            template_without_hash(Some(&plain))
        );
        let mut v2 = plain.clone();
        if let Some(spec) = v2.spec.as_mut() {
            spec.containers[0].image = Some("luksa/kubia:v2".into());
        }
        assert_ne!(
            template_without_hash(Some(&v2)),
            template_without_hash(Some(&plain))
        );
    }

    #[test]
    fn only_a_selector_without_requirements_selects_everything() {
        assert!(selects_everything(&MetaSelector::default()));
        let by_app: MetaSelector =
            serde_json::from_value(json!({"matchLabels": {"app": "kubia"}})).unwrap();
        assert!(!selects_everything(&by_app));
    }
}
