//! The served resources the controllers read and write, and typed listing: every pass lists
//! what it needs through the API (never a cache that could lag behind its own writes).

use k8s_openapi::api::core::v1::Pod;
use serde::de::DeserializeOwned;

use ferry_api::{resource, ResourceInfo};
use ferry_runtime::Client;

use crate::error::{write_error, Error};

fn find(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
) -> Result<&'static ResourceInfo, Error> {
    resource::find(group, version, plural).ok_or(Error::UnknownResource(plural))
}

pub(crate) fn pods() -> Result<&'static ResourceInfo, Error> {
    find("", "v1", "pods")
}

pub(crate) fn nodes() -> Result<&'static ResourceInfo, Error> {
    find("", "v1", "nodes")
}

pub(crate) fn events() -> Result<&'static ResourceInfo, Error> {
    find("", "v1", "events")
}

pub(crate) fn replication_controllers() -> Result<&'static ResourceInfo, Error> {
    find("", "v1", "replicationcontrollers")
}

pub(crate) fn replica_sets() -> Result<&'static ResourceInfo, Error> {
    find("apps", "v1", "replicasets")
}

pub(crate) fn deployments() -> Result<&'static ResourceInfo, Error> {
    find("apps", "v1", "deployments")
}

pub(crate) fn leases() -> Result<&'static ResourceInfo, Error> {
    find("coordination.k8s.io", "v1", "leases")
}

pub(crate) fn services() -> Result<&'static ResourceInfo, Error> {
    find("", "v1", "services")
}

pub(crate) fn endpoints() -> Result<&'static ResourceInfo, Error> {
    find("", "v1", "endpoints")
}

pub(crate) fn endpoint_slices() -> Result<&'static ResourceInfo, Error> {
    find("discovery.k8s.io", "v1", "endpointslices")
}

/// Lists `info` (in `namespace`, or everywhere) as typed objects. An object that does not
/// decode is skipped with a warning: one bad object must not stop a controller.
pub(crate) async fn list<T: DeserializeOwned>(
    client: &Client,
    info: &'static ResourceInfo,
    namespace: Option<&str>,
) -> Result<Vec<T>, Error> {
    let (items, _) = client
        .list(info, namespace, None)
        .await
        .map_err(|source| Error::List {
            resource: info.plural,
            source,
        })?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match serde_json::from_value(item) {
            Ok(object) => out.push(object),
            Err(e) => {
                tracing::warn!(resource = info.plural, error = %e, "skipping an object that does not decode")
            }
        }
    }
    Ok(out)
}

/// An object as a JSON body for a write.
pub(crate) fn to_body<T: serde::Serialize>(
    what: &'static str,
    object: &T,
) -> Result<serde_json::Value, Error> {
    serde_json::to_value(object).map_err(|source| Error::Encode { what, source })
}

/// PUTs `pod`'s status; `Ok(false)` when the pod is gone already (nothing left to update).
pub(crate) async fn put_pod_status(client: &Client, pod: &Pod) -> Result<bool, Error> {
    let info = pods()?;
    let (namespace, name) = (
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.name.as_deref().unwrap_or(""),
    );
    let body = to_body("pod", pod)?;
    match client
        .update_subresource(info, Some(namespace), name, "status", &body)
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(write_error(
            "update status of",
            info.plural,
            Some(namespace),
            name,
        )(e)),
    }
}
