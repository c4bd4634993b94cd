//! Namespace deletion: once a namespace is marked for deletion, delete everything in it, then
//! clear its `kubernetes` finalizer through the `finalize` subresource so the API server removes
//! it, as kube-controller-manager's namespace controller does.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use ferry_api::{resource, RESOURCES};
use ferry_runtime::{Client, ClientError};

use crate::trigger::watch_into;

/// How soon to look again while a namespace still has content.
const REQUEUE: Duration = Duration::from_millis(500);

pub(crate) async fn run(client: Client, shutdown: CancellationToken) {
    let Some(namespaces) = resource::find("", "v1", "namespaces") else {
        return;
    };
    let notify = Arc::new(Notify::new());
    tokio::spawn(watch_into(
        client.clone(),
        namespaces,
        notify.clone(),
        |_| true,
        shutdown.clone(),
    ));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = notify.notified() => {}
        }
        loop {
            match reconcile_all(&client).await {
                Ok(true) => tokio::time::sleep(REQUEUE).await,
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "namespace cleanup failed");
                    tokio::time::sleep(REQUEUE).await;
                }
            }
            if shutdown.is_cancelled() {
                return;
            }
        }
    }
}

/// Reconciles every terminating namespace; true if some still has content.
async fn reconcile_all(client: &Client) -> Result<bool, ClientError> {
    let Some(namespaces) = resource::find("", "v1", "namespaces") else {
        return Ok(false);
    };
    let (items, _) = client.list(namespaces, None, None).await?;
    let mut busy = false;
    for ns in items.iter().filter(|n| {
        n.pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
    }) {
        let name = ns
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if name.is_empty() {
            continue;
        }
        if empty_namespace(client, name).await? {
            let mut finalized = ns.clone();
            finalized["spec"]["finalizers"] = json!([]);
            match client
                .update_subresource(namespaces, None, name, "finalize", &finalized)
                .await
            {
                Ok(_) => tracing::info!(namespace = name, "namespace deleted"),
                Err(e) if e.is_not_found() || e.is_conflict() => busy = true,
                Err(e) => return Err(e),
            }
        } else {
            busy = true;
        }
    }
    Ok(busy)
}

/// Deletes what is left in `namespace`; true once nothing is left.
async fn empty_namespace(client: &Client, namespace: &str) -> Result<bool, ClientError> {
    let mut empty = true;
    for info in RESOURCES.iter().filter(|r| r.namespaced) {
        let (items, _) = client.list(info, Some(namespace), None).await?;
        for item in items {
            empty = false;
            let name = item
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            match client.delete(info, Some(namespace), name, None).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() || e.is_conflict() => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(empty)
}
