//! Controller references (`ownerReferences` with `controller: true`) and the claim rules of
//! upstream's `ControllerRefManager`: a controller adopts matching orphans, keeps what it owns
//! while the selector matches, and releases what it owns once it no longer matches.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::{json, Value};

use ferry_api::ResourceInfo;
use ferry_runtime::Client;

use crate::error::{write_error, Error};

/// What a controller does with one candidate dependent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Already ours, and the selector matches.
    Owned,
    /// An orphan that matches: make it ours.
    Adopt,
    /// Ours, but the selector no longer matches: let it go.
    Release,
    /// Someone else's, or nothing to do with us.
    Ignore,
}

/// The owner a dependent is judged against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claimant<'a> {
    pub uid: &'a str,
    pub namespace: &'a str,
    pub deleting: bool,
}

/// `ClaimObject`: what `owner` does with a dependent whose labels do or do not match.
pub(crate) fn claim(owner: Claimant<'_>, dependent: &ObjectMeta, matches: bool) -> Claim {
    if let Some(controller) = controller_of(dependent) {
        if controller.uid != owner.uid {
            return Claim::Ignore;
        }
        if matches {
            return Claim::Owned;
        }
        return if owner.deleting {
            Claim::Ignore
        } else {
            Claim::Release
        };
    }
    let same_namespace = dependent.namespace.as_deref().unwrap_or("") == owner.namespace;
    if owner.deleting || !matches || dependent.deletion_timestamp.is_some() || !same_namespace {
        return Claim::Ignore;
    }
    Claim::Adopt
}

/// The controller reference of an object, if it has one.
pub(crate) fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .find(|r| r.controller == Some(true))
}

/// `metav1.NewControllerRef`: a reference that marks `owner` as the controller and blocks its
/// foreground deletion until the dependent is gone.
pub(crate) fn controller_ref(api_version: &str, kind: &str, owner: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        name: owner.name.clone().unwrap_or_default(),
        uid: owner.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The merge patch that adds `reference` to a dependent, guarded by its resourceVersion.
pub(crate) fn adopt_patch(dependent: &ObjectMeta, reference: &OwnerReference) -> Value {
    let mut refs: Vec<OwnerReference> = dependent.owner_references.clone().unwrap_or_default();
    refs.retain(|r| r.uid != reference.uid);
    refs.push(reference.clone());
    json!({"metadata": {"ownerReferences": refs, "resourceVersion": dependent.resource_version}})
}

/// The merge patch that removes the reference to `owner_uid`, guarded by the resourceVersion.
pub(crate) fn release_patch(dependent: &ObjectMeta, owner_uid: &str) -> Value {
    let refs: Vec<OwnerReference> = dependent
        .owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.uid != owner_uid)
        .collect();
    let refs = if refs.is_empty() {
        Value::Null
    } else {
        json!(refs)
    };
    json!({"metadata": {"ownerReferences": refs, "resourceVersion": dependent.resource_version}})
}

/// Applies an adopt or release patch; false if the dependent is gone (nothing to claim).
pub(crate) async fn patch_owners(
    client: &Client,
    info: &'static ResourceInfo,
    dependent: &ObjectMeta,
    patch: &Value,
) -> Result<bool, Error> {
    let name = dependent.name.as_deref().unwrap_or("");
    let namespace = dependent.namespace.as_deref();
    match client.merge_patch(info, namespace, name, patch).await {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(write_error("patch", info.plural, namespace, name)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(owners: Value, deleting: bool) -> ObjectMeta {
        let mut m = json!({"name": "p", "namespace": "default", "resourceVersion": "5", "ownerReferences": owners});
        if deleting {
            m["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        }
        serde_json::from_value(m).unwrap()
    }

    fn ours() -> Value {
        json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-uid", "controller": true}])
    }

    #[test]
    fn claims_follow_controller_ref_manager() {
        let owner = Claimant {
            uid: "rs-uid",
            namespace: "default",
            deleting: false,
        };
        let deleting_owner = Claimant {
            deleting: true,
            ..owner
        };
        let theirs = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": "other", "controller": true}]);
        let gc_only = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "cm"}]);
        let cases = [
            (owner, meta(ours(), false), true, Claim::Owned),
            (owner, meta(ours(), false), false, Claim::Release),
            (deleting_owner, meta(ours(), false), false, Claim::Ignore),
            (deleting_owner, meta(ours(), false), true, Claim::Owned),
            (owner, meta(theirs, false), true, Claim::Ignore),
            (owner, meta(gc_only.clone(), false), true, Claim::Adopt),
            (owner, meta(gc_only.clone(), false), false, Claim::Ignore),
            (owner, meta(Value::Null, true), true, Claim::Ignore),
            (deleting_owner, meta(gc_only, false), true, Claim::Ignore),
        ];
        for (i, (claimant, dependent, matches, want)) in cases.into_iter().enumerate() {
            assert_eq!(claim(claimant, &dependent, matches), want, "case {i}");
        }
    }

    #[test]
    fn patches_keep_other_owners_and_pin_the_version() {
        let reference = controller_ref(
            "apps/v1",
            "ReplicaSet",
            &serde_json::from_value(json!({"name": "rs", "uid": "rs-uid"})).unwrap(),
        );
        let orphan = meta(
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "cm"}]),
            false,
        );
        assert_eq!(
            adopt_patch(&orphan, &reference),
            json!({"metadata": {"resourceVersion": "5", "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "cm"},
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-uid", "controller": true, "blockOwnerDeletion": true}
            ]}})
        );
        assert_eq!(
            release_patch(&meta(ours(), false), "rs-uid"),
            json!({"metadata": {"ownerReferences": null, "resourceVersion": "5"}})
        );
    }
}
