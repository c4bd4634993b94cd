//! The annotations a Deployment keeps on its ReplicaSets and itself: the revision (and the
//! history of revisions a rolled-back ReplicaSet had), the desired and maximum replicas that
//! proportional scaling measures against, and the Deployment's own annotations copied down.

use std::collections::BTreeMap;

/// `deployment.kubernetes.io/revision`.
pub(crate) const REVISION: &str = "deployment.kubernetes.io/revision";
pub(crate) const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub(crate) const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub(crate) const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";

/// How long the revision history annotation may grow (`maxRevHistoryLengthInChars`).
const MAX_REVISION_HISTORY_CHARS: usize = 2000;

pub(crate) type Annotations = BTreeMap<String, String>;

/// The revision an object's annotations record; 0 when missing or not a number.
pub(crate) fn revision(annotations: &Annotations) -> i64 {
    annotations
        .get(REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// An integer annotation, if present and valid.
pub(crate) fn int_annotation(annotations: &Annotations, key: &str) -> Option<i32> {
    annotations.get(key).and_then(|v| v.parse().ok())
}

fn skip_copy(key: &str) -> bool {
    [
        LAST_APPLIED,
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        ROLLBACK_TO,
    ]
    .contains(&key)
}

/// `copyDeploymentAnnotationsToReplicaSet`: true if anything changed.
fn copy_deployment_annotations(deployment: &Annotations, rs: &mut Annotations) -> bool {
    let mut changed = false;
    for (key, value) in deployment {
        if skip_copy(key) || rs.get(key) == Some(value) {
            continue;
        }
        rs.insert(key.clone(), value.clone());
        changed = true;
    }
    changed
}

/// `SetReplicasAnnotations`: true if anything changed.
pub(crate) fn set_replicas_annotations(rs: &mut Annotations, desired: i32, max: i32) -> bool {
    let mut changed = false;
    for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let value = value.to_string();
        if rs.get(key) != Some(&value) {
            rs.insert(key.to_string(), value);
            changed = true;
        }
    }
    changed
}

/// The Deployment's view for [`set_new_rs_annotations`].
pub(crate) struct NewRsAnnotations<'a> {
    pub deployment: &'a Annotations,
    pub revision: i64,
    /// The ReplicaSet is being created (then it gets the replicas annotations too).
    pub creating: bool,
    pub desired: i32,
    pub max: i32,
}

/// `SetNewReplicaSetAnnotations`: copies the Deployment's annotations, raises the revision to
/// `revision` (remembering the old one in the history when a ReplicaSet comes back), and on
/// creation records the replicas; true if anything changed.
pub(crate) fn set_new_rs_annotations(rs: &mut Annotations, wanted: &NewRsAnnotations<'_>) -> bool {
    let mut changed = copy_deployment_annotations(wanted.deployment, rs);
    let old = rs.get(REVISION).cloned();
    let old_number = match &old {
        Some(text) => match text.parse::<i64>() {
            Ok(n) => n,
            // Upstream gives up on a ReplicaSet whose revision is not a number.
            Err(_) => return changed,
        },
        None => 0,
    };
    if old_number < wanted.revision {
        rs.insert(REVISION.to_string(), wanted.revision.to_string());
        changed = true;
        if let Some(old) = old {
            append_history(rs, &old);
        }
    }
    if wanted.creating && set_replicas_annotations(rs, wanted.desired, wanted.max) {
        changed = true;
    }
    changed
}

/// Appends `old` to the revision history, dropping the oldest entries past the length limit.
fn append_history(rs: &mut Annotations, old: &str) {
    let history = rs.get(REVISION_HISTORY).cloned().unwrap_or_default();
    if history.is_empty() {
        rs.insert(REVISION_HISTORY.to_string(), old.to_string());
        return;
    }
    let entries: Vec<&str> = history.split(',').collect();
    let mut total = history.len() + old.len() + 1;
    let mut start = 0;
    while total > MAX_REVISION_HISTORY_CHARS && start < entries.len() {
        total -= entries[start].len() + 1;
        start += 1;
    }
    if total <= MAX_REVISION_HISTORY_CHARS {
        let mut kept: Vec<&str> = entries[start..].to_vec();
        kept.push(old);
        rs.insert(REVISION_HISTORY.to_string(), kept.join(","));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Annotations {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_new_replica_set_gets_revision_replicas_and_the_deployments_annotations() {
        let deployment = map(&[("team", "a"), (REVISION, "1"), (LAST_APPLIED, "{}")]);
        let mut rs = Annotations::new();
        let wanted = NewRsAnnotations {
            deployment: &deployment,
            revision: 2,
            creating: true,
            desired: 3,
            max: 4,
        };
        assert!(set_new_rs_annotations(&mut rs, &wanted));
        assert_eq!(
            rs,
            map(&[
                ("team", "a"),
                (REVISION, "2"),
                (DESIRED_REPLICAS, "3"),
                (MAX_REPLICAS, "4")
            ])
        );
        assert!(!set_new_rs_annotations(&mut rs, &wanted));
    }

    #[test]
    fn a_returning_replica_set_remembers_its_old_revisions() {
        let deployment = Annotations::new();
        let mut rs = map(&[(REVISION, "1")]);
        let wanted = |revision| NewRsAnnotations {
            deployment: &deployment,
            revision,
            creating: false,
            desired: 1,
            max: 2,
        };
        assert!(set_new_rs_annotations(&mut rs, &wanted(3)));
        assert!(set_new_rs_annotations(&mut rs, &wanted(5)));
        assert_eq!(rs, map(&[(REVISION, "5"), (REVISION_HISTORY, "1,3")]));
        // A lower revision never lowers it.
        assert!(!set_new_rs_annotations(&mut rs, &wanted(4)));
        assert_eq!(revision(&rs), 5);
    }

    #[test]
    fn replicas_annotations_change_only_when_the_numbers_do() {
        let mut rs = Annotations::new();
        assert!(set_replicas_annotations(&mut rs, 3, 4));
        assert!(!set_replicas_annotations(&mut rs, 3, 4));
        assert!(set_replicas_annotations(&mut rs, 5, 7));
        assert_eq!(int_annotation(&rs, MAX_REPLICAS), Some(7));
    }
}
