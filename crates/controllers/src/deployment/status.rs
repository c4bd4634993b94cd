//! A Deployment's status and conditions, as upstream's `calculateStatus` and
//! `syncRolloutStatus` compute them: counts summed over its ReplicaSets, `Available` from the
//! minimum availability, `Progressing` from the rollout's progress against its deadline, and
//! the ReplicaSets' `ReplicaFailure` carried over. Pure.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};
use k8s_openapi::jiff::Timestamp;

use super::rollout::RsState;
use crate::clock;

pub(crate) const AVAILABLE: &str = "Available";
pub(crate) const PROGRESSING: &str = "Progressing";
pub(crate) const REPLICA_FAILURE: &str = "ReplicaFailure";

pub(crate) const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
pub(crate) const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
pub(crate) const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub(crate) const RS_UPDATED: &str = "ReplicaSetUpdated";
pub(crate) const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub(crate) const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub(crate) const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub(crate) const PAUSED: &str = "DeploymentPaused";
pub(crate) const RESUMED: &str = "DeploymentResumed";

/// What the status computation needs of the Deployment.
#[derive(Clone, Debug)]
pub(crate) struct DeploymentFacts {
    pub name: String,
    pub replicas: i32,
    pub generation: i64,
    pub max_unavailable: i32,
    /// `progressDeadlineSeconds`, unless unset or "never" (MaxInt32).
    pub progress_deadline: Option<i32>,
    /// The status as stored.
    pub status: DeploymentStatus,
}

/// The `ReplicaFailure` condition of a ReplicaSet.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ReplicaFailure {
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub since: Option<Timestamp>,
}

fn count(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

fn get(n: Option<i32>) -> i32 {
    n.unwrap_or(0)
}

pub(crate) fn condition<'a>(
    status: &'a DeploymentStatus,
    kind: &str,
) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .find(|c| c.type_ == kind)
}

/// `NewDeploymentCondition`.
pub(crate) fn new_condition(
    kind: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: kind.to_string(),
        status: status.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message),
        last_update_time: Some(clock::time(now)),
        last_transition_time: Some(clock::time(now)),
    }
}

/// `SetDeploymentCondition`: no change for the same status and reason; the transition time
/// kept while the status stays.
pub(crate) fn set_condition(status: &mut DeploymentStatus, mut new: DeploymentCondition) {
    if let Some(current) = condition(status, &new.type_) {
        if current.status == new.status && current.reason == new.reason {
            return;
        }
        if current.status == new.status {
            new.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove_condition(status, &new.type_);
    status.conditions.get_or_insert_with(Vec::new).push(new);
}

pub(crate) fn remove_condition(status: &mut DeploymentStatus, kind: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != kind);
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}

/// `DeploymentComplete`.
pub(crate) fn is_complete(facts: &DeploymentFacts, status: &DeploymentStatus) -> bool {
    get(status.updated_replicas) == facts.replicas
        && get(status.replicas) == facts.replicas
        && get(status.available_replicas) == facts.replicas
        && status.observed_generation.unwrap_or(0) >= facts.generation
}

/// `calculateStatus`: the counts and the `Available` condition.
pub(crate) fn calculate_status(
    facts: &DeploymentFacts,
    all: &[&RsState],
    new: Option<&RsState>,
    now: Timestamp,
) -> DeploymentStatus {
    let available: i32 = all.iter().map(|rs| rs.available).sum();
    let wanted: i32 = all.iter().map(|rs| rs.replicas).sum();
    let mut status = DeploymentStatus {
        observed_generation: (facts.generation != 0).then_some(facts.generation),
        replicas: count(all.iter().map(|rs| rs.current).sum()),
        updated_replicas: count(new.map_or(0, |rs| rs.current)),
        ready_replicas: count(all.iter().map(|rs| rs.ready).sum()),
        available_replicas: count(available),
        unavailable_replicas: count((wanted - available).max(0)),
        collision_count: facts.status.collision_count,
        conditions: facts.status.conditions.clone(),
    };
    let minimum = if available >= facts.replicas - facts.max_unavailable {
        new_condition(
            AVAILABLE,
            "True",
            MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.".into(),
            now,
        )
    } else {
        new_condition(
            AVAILABLE,
            "False",
            MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.".into(),
            now,
        )
    };
    set_condition(&mut status, minimum);
    status
}

/// `syncRolloutStatus`: `calculateStatus` plus the `Progressing` and `ReplicaFailure`
/// conditions.
pub(crate) fn rollout_status(
    facts: &DeploymentFacts,
    all: &[&RsState],
    new: Option<&RsState>,
    failures: &[ReplicaFailure],
    now: Timestamp,
) -> DeploymentStatus {
    let mut status = calculate_status(facts, all, new, now);
    let Some(deadline) = facts.progress_deadline else {
        remove_condition(&mut status, PROGRESSING);
        return with_failure(status, failures);
    };
    let current = condition(&facts.status, PROGRESSING);
    let rollout_done = get(status.replicas) == get(status.updated_replicas)
        && current.is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE));
    if rollout_done {
        return with_failure(status, failures);
    }
    let subject = match new {
        Some(rs) => format!("ReplicaSet \"{}\"", rs.name),
        None => format!("Deployment \"{}\"", facts.name),
    };
    if is_complete(facts, &status) {
        let done = new_condition(
            PROGRESSING,
            "True",
            NEW_RS_AVAILABLE,
            format!("{subject} has successfully progressed."),
            now,
        );
        set_condition(&mut status, done);
    } else if made_progress(&facts.status, &status) {
        let mut progressing = new_condition(
            PROGRESSING,
            "True",
            RS_UPDATED,
            format!("{subject} is progressing."),
            now,
        );
        // Unlike other conditions, Progressing moves its update time on every bit of progress.
        if let Some(c) = current {
            if c.status == "True" {
                progressing.last_transition_time = c.last_transition_time.clone();
            }
            remove_condition(&mut status, PROGRESSING);
        }
        set_condition(&mut status, progressing);
    } else if timed_out(&status, deadline, now) {
        let stuck = new_condition(
            PROGRESSING,
            "False",
            TIMED_OUT,
            format!("{subject} has timed out progressing."),
            now,
        );
        set_condition(&mut status, stuck);
    }
    with_failure(status, failures)
}

/// The first `ReplicaFailure` of the ReplicaSets (the new one's first) becomes the
/// Deployment's; none removes it.
fn with_failure(mut status: DeploymentStatus, failures: &[ReplicaFailure]) -> DeploymentStatus {
    match failures.first() {
        Some(f) => {
            let since = f.since.map(clock::time);
            set_condition(
                &mut status,
                DeploymentCondition {
                    type_: REPLICA_FAILURE.to_string(),
                    status: f.status.clone(),
                    reason: f.reason.clone(),
                    message: f.message.clone(),
                    last_update_time: since.clone(),
                    last_transition_time: since,
                },
            );
        }
        None => remove_condition(&mut status, REPLICA_FAILURE),
    }
    status
}

/// `DeploymentProgressing`: more updated, ready or available pods, or fewer old ones.
fn made_progress(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let old_old = get(old.replicas) - get(old.updated_replicas);
    let new_old = get(new.replicas) - get(new.updated_replicas);
    get(new.updated_replicas) > get(old.updated_replicas)
        || new_old < old_old
        || get(new.ready_replicas) > get(old.ready_replicas)
        || get(new.available_replicas) > get(old.available_replicas)
}

/// `DeploymentTimedOut`: no progress reported for `deadline` seconds.
fn timed_out(status: &DeploymentStatus, deadline: i32, now: Timestamp) -> bool {
    let Some(c) = condition(status, PROGRESSING) else {
        return false;
    };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => c
            .last_update_time
            .as_ref()
            .is_some_and(|t| clock::plus_seconds(t.0, i64::from(deadline)) < now),
    }
}

/// `requeueStuckDeployment`: when to look again to notice a rollout that stops progressing.
pub(crate) fn stuck_requeue(
    facts: &DeploymentFacts,
    status: &DeploymentStatus,
    now: Timestamp,
) -> Option<Duration> {
    let deadline = facts.progress_deadline?;
    let current = condition(&facts.status, PROGRESSING)?;
    if is_complete(facts, status) || current.reason.as_deref() == Some(TIMED_OUT) {
        return None;
    }
    let updated = current.last_update_time.as_ref()?.0;
    let at = clock::plus_seconds(updated, i64::from(deadline));
    Some(clock::until(now, at) + Duration::from_secs(1))
}

/// `checkPausedConditions`: a paused rollout says so instead of timing out; a resumed one
/// says that too.
pub(crate) fn paused_condition(
    facts: &DeploymentFacts,
    paused: bool,
    now: Timestamp,
) -> Option<DeploymentCondition> {
    facts.progress_deadline?;
    let current = condition(&facts.status, PROGRESSING);
    let reason = current.and_then(|c| c.reason.as_deref());
    if reason == Some(TIMED_OUT) {
        return None;
    }
    let paused_recorded = reason == Some(PAUSED);
    if paused && !paused_recorded {
        return Some(new_condition(
            PROGRESSING,
            "Unknown",
            PAUSED,
            "Deployment is paused".into(),
            now,
        ));
    }
    if !paused && paused_recorded {
        return Some(new_condition(
            PROGRESSING,
            "Unknown",
            RESUMED,
            "Deployment is resumed".into(),
            now,
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn rs(name: &str, replicas: i32, ready: i32, available: i32) -> RsState {
        RsState {
            name: name.into(),
            created: None,
            revision: 1,
            replicas,
            current: replicas,
            ready,
            available,
            desired_annotation: None,
            max_annotation: None,
            deleting: false,
            generation: 1,
            observed_generation: 1,
        }
    }

    fn facts(status: serde_json::Value) -> DeploymentFacts {
        DeploymentFacts {
            name: "kubia".into(),
            replicas: 3,
            generation: 2,
            max_unavailable: 0,
            progress_deadline: Some(600),
            status: serde_json::from_value(status).unwrap(),
        }
    }

    fn conditions(status: &DeploymentStatus) -> Vec<(String, String, String)> {
        status
            .conditions
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.type_, c.status, c.reason.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn a_rollout_in_progress_then_complete() {
        let now = at("2024-01-01T00:01:00Z");
        let started = facts(
            json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "availableReplicas": 3,
            "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetCreated",
                "lastUpdateTime": "2024-01-01T00:00:00Z", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}),
        );
        let old = rs("kubia-old", 3, 3, 3);
        let new = rs("kubia-new", 1, 0, 0);
        let status = rollout_status(&started, &[&old, &new], Some(&new), &[], now);
        assert_eq!(
            (
                status.replicas,
                status.updated_replicas,
                status.available_replicas,
                status.unavailable_replicas
            ),
            (Some(4), Some(1), Some(3), Some(1))
        );
        assert_eq!(
            conditions(&status),
            [
                (
                    "Available".into(),
                    "True".into(),
                    "MinimumReplicasAvailable".into()
                ),
                (
                    "Progressing".into(),
                    "True".into(),
                    "ReplicaSetUpdated".into()
                ),
            ]
        );
        let progressing = condition(&status, PROGRESSING).unwrap();
        assert_eq!(
            progressing.message.as_deref(),
            Some("ReplicaSet \"kubia-new\" is progressing.")
        );
        assert_eq!(
            progressing.last_transition_time.as_ref().unwrap().0,
            at("2024-01-01T00:00:00Z")
        );
        assert_eq!(progressing.last_update_time.as_ref().unwrap().0, now);

        let mut later = started.clone();
        later.status = status;
        let new = rs("kubia-new", 3, 3, 3);
        let done = rollout_status(
            &later,
            &[&rs("kubia-old", 0, 0, 0), &new],
            Some(&new),
            &[],
            now,
        );
        let progressing = condition(&done, PROGRESSING).unwrap();
        assert_eq!(
            progressing.reason.as_deref(),
            Some("NewReplicaSetAvailable")
        );
        assert_eq!(
            progressing.message.as_deref(),
            Some("ReplicaSet \"kubia-new\" has successfully progressed.")
        );
        assert!(is_complete(&later, &done));
        assert_eq!(stuck_requeue(&later, &done, now), None);
    }

    #[test]
    fn no_progress_past_the_deadline_times_out() {
        let stalled = facts(
            json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3,
            "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                "lastUpdateTime": "2024-01-01T00:00:00Z", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}),
        );
        let old = rs("kubia-old", 3, 3, 3);
        let new = rs("kubia-new", 1, 0, 0);
        let before = at("2024-01-01T00:09:00Z");
        let status = rollout_status(&stalled, &[&old, &new], Some(&new), &[], before);
        assert_eq!(
            condition(&status, PROGRESSING).unwrap().reason.as_deref(),
            Some("ReplicaSetUpdated")
        );
        assert_eq!(
            stuck_requeue(&stalled, &status, before),
            Some(Duration::from_secs(61))
        );
        let after = at("2024-01-01T00:10:01Z");
        let status = rollout_status(&stalled, &[&old, &new], Some(&new), &[], after);
        let c = condition(&status, PROGRESSING).unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_deref()),
            ("False", Some("ProgressDeadlineExceeded"))
        );
        assert_eq!(
            c.message.as_deref(),
            Some("ReplicaSet \"kubia-new\" has timed out progressing.")
        );
    }

    #[test]
    fn too_few_available_pods_make_the_deployment_unavailable() {
        let f = facts(json!({}));
        let new = rs("kubia-new", 3, 1, 1);
        let failure = ReplicaFailure {
            status: "True".into(),
            reason: Some("FailedCreate".into()),
            message: Some("quota".into()),
            since: Some(at("2024-01-01T00:00:00Z")),
        };
        let status = rollout_status(
            &f,
            &[&new],
            Some(&new),
            &[failure],
            at("2024-01-01T00:00:05Z"),
        );
        assert_eq!(
            conditions(&status),
            [
                (
                    "Available".into(),
                    "False".into(),
                    "MinimumReplicasUnavailable".into()
                ),
                (
                    "Progressing".into(),
                    "True".into(),
                    "ReplicaSetUpdated".into()
                ),
                (
                    "ReplicaFailure".into(),
                    "True".into(),
                    "FailedCreate".into()
                ),
            ]
        );
        assert_eq!(
            condition(&status, AVAILABLE).unwrap().message.as_deref(),
            Some("Deployment does not have minimum availability.")
        );
    }

    #[test]
    fn pausing_and_resuming_are_recorded_once() {
        let now = at("2024-01-01T00:00:00Z");
        let running = facts(json!({}));
        assert_eq!(
            paused_condition(&running, true, now)
                .unwrap()
                .reason
                .as_deref(),
            Some("DeploymentPaused")
        );
        assert!(paused_condition(&running, false, now).is_none());
        let paused = facts(
            json!({"conditions": [{"type": "Progressing", "status": "Unknown", "reason": "DeploymentPaused"}]}),
        );
        assert!(paused_condition(&paused, true, now).is_none());
        assert_eq!(
            paused_condition(&paused, false, now)
                .unwrap()
                .message
                .as_deref(),
            Some("Deployment is resumed")
        );
    }
}
