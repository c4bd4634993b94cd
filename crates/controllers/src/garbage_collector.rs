//! Garbage collection by ownerReferences, as kube-controller-manager's garbage collector does
//! it: a dependent whose owners are all gone is deleted (background propagation); an owner
//! deleted with `foregroundDeletion` waits for its dependents; one deleted with `orphan` has
//! its dependents' references to it removed first.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use ferry_api::{ResourceInfo, RESOURCES};
use ferry_runtime::{Client, ClientError};

use crate::trigger::{is_deletion, watch_into};

/// A full resync even without events, as the upstream collector's periodic resync.
const RESYNC: Duration = Duration::from_secs(30);
/// Sweeps are at least this far apart, so bursts of deletions cost one sweep.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// One object as the collector sees it.
#[derive(Clone)]
struct Node {
    info: &'static ResourceInfo,
    namespace: Option<String>,
    name: String,
    uid: String,
    owners: Vec<String>,
    finalizers: Vec<String>,
    deleting: bool,
    owner_references: Vec<Value>,
}

pub(crate) async fn run(client: Client, shutdown: CancellationToken) {
    let notify = Arc::new(Notify::new());
    for info in RESOURCES.iter().filter(|r| r.verbs.contains(&"watch")) {
        tokio::spawn(watch_into(
            client.clone(),
            info,
            notify.clone(),
            is_deletion,
            shutdown.clone(),
        ));
    }
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = notify.notified() => {}
            _ = tokio::time::sleep(RESYNC) => {}
        }
        if let Err(e) = sweep(&client).await {
            tracing::warn!(error = %e, "garbage collection sweep failed");
        }
        tokio::time::sleep(MIN_INTERVAL).await;
    }
}

async fn snapshot(client: &Client) -> Result<Vec<Node>, ClientError> {
    let mut nodes = Vec::new();
    for info in RESOURCES.iter().filter(|r| r.verbs.contains(&"list")) {
        let (items, _) = client.list(info, None, None).await?;
        for item in items {
            let meta = item.get("metadata").cloned().unwrap_or(Value::Null);
            let refs: Vec<Value> = meta
                .get("ownerReferences")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            nodes.push(Node {
                info,
                namespace: meta
                    .get("namespace")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                name: meta
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                uid: meta
                    .get("uid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                owners: refs
                    .iter()
                    .filter_map(|r| r.get("uid").and_then(Value::as_str).map(str::to_string))
                    .collect(),
                finalizers: meta
                    .get("finalizers")
                    .and_then(Value::as_array)
                    .map(|f| {
                        f.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                deleting: meta.get("deletionTimestamp").is_some_and(|t| !t.is_null()),
                owner_references: refs,
            });
        }
    }
    Ok(nodes)
}

/// What to do with one dependent, given its owners' state.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Keep,
    Delete,
    /// Remove the references to these owner uids.
    Orphan(Vec<String>),
}

fn judge(dependent: &Node, by_uid: &HashMap<&str, &Node>) -> Verdict {
    if dependent.owners.is_empty() || dependent.deleting {
        return Verdict::Keep;
    }
    let mut orphan_from = Vec::new();
    let mut alive = 0;
    for uid in &dependent.owners {
        match by_uid.get(uid.as_str()) {
            None => {}
            Some(owner) if owner.deleting && owner.finalizers.iter().any(|f| f == "orphan") => {
                orphan_from.push(uid.clone());
            }
            Some(owner)
                if owner.deleting && owner.finalizers.iter().any(|f| f == "foregroundDeletion") => {
            }
            Some(_) => alive += 1,
        }
    }
    if !orphan_from.is_empty() {
        return Verdict::Orphan(orphan_from);
    }
    if alive == 0 {
        Verdict::Delete
    } else {
        Verdict::Keep
    }
}

async fn sweep(client: &Client) -> Result<(), ClientError> {
    let nodes = snapshot(client).await?;
    let by_uid: HashMap<&str, &Node> = nodes.iter().map(|n| (n.uid.as_str(), n)).collect();
    let mut pending_dependents: HashMap<&str, usize> = HashMap::new();
    for dependent in &nodes {
        match judge(dependent, &by_uid) {
            Verdict::Keep => {
                for uid in &dependent.owners {
                    *pending_dependents.entry(uid.as_str()).or_default() +=
                        usize::from(dependent.deleting);
                }
            }
            Verdict::Delete => {
                for uid in &dependent.owners {
                    *pending_dependents.entry(uid.as_str()).or_default() += 1;
                }
                tracing::info!(resource = dependent.info.plural, namespace = ?dependent.namespace, name = %dependent.name, "deleting dependent whose owners are gone");
                ignore_gone(
                    client
                        .delete(
                            dependent.info,
                            dependent.namespace.as_deref(),
                            &dependent.name,
                            Some(&dependent.uid),
                        )
                        .await,
                )?;
            }
            Verdict::Orphan(uids) => {
                let remaining: Vec<&Value> = dependent
                    .owner_references
                    .iter()
                    .filter(|r| {
                        !r.get("uid")
                            .and_then(Value::as_str)
                            .is_some_and(|u| uids.iter().any(|x| x == u))
                    })
                    .collect();
                let patch = json!({"metadata": {"ownerReferences": if remaining.is_empty() { Value::Null } else { json!(remaining) }}});
                ignore_gone(
                    client
                        .merge_patch(
                            dependent.info,
                            dependent.namespace.as_deref(),
                            &dependent.name,
                            &patch,
                        )
                        .await
                        .map(|_| ()),
                )?;
            }
        }
    }
    for owner in nodes.iter().filter(|n| n.deleting) {
        let waiting = pending_dependents
            .get(owner.uid.as_str())
            .copied()
            .unwrap_or(0);
        let has_dependents = nodes.iter().any(|d| d.owners.contains(&owner.uid));
        let drop: &[&str] = if has_dependents && waiting > 0 {
            &[]
        } else {
            &["orphan", "foregroundDeletion"]
        };
        let remaining: Vec<&String> = owner
            .finalizers
            .iter()
            .filter(|f| !drop.contains(&f.as_str()))
            .collect();
        if remaining.len() != owner.finalizers.len() && !has_dependents_blocking(owner, &nodes) {
            let patch = json!({"metadata": {"finalizers": if remaining.is_empty() { Value::Null } else { json!(remaining) }}});
            ignore_gone(
                client
                    .merge_patch(owner.info, owner.namespace.as_deref(), &owner.name, &patch)
                    .await
                    .map(|_| ()),
            )?;
        }
    }
    Ok(())
}

/// A foreground owner still has dependents; an orphaning one still has references to it.
fn has_dependents_blocking(owner: &Node, nodes: &[Node]) -> bool {
    nodes.iter().any(|d| d.owners.contains(&owner.uid))
}

fn ignore_gone(result: Result<(), ClientError>) -> Result<(), ClientError> {
    match result {
        Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(uid: &str, owners: &[&str], deleting: bool, finalizers: &[&str]) -> Node {
        Node {
            info: &RESOURCES[0],
            namespace: Some("default".into()),
            name: uid.into(),
            uid: uid.into(),
            owners: owners.iter().map(|s| s.to_string()).collect(),
            finalizers: finalizers.iter().map(|s| s.to_string()).collect(),
            deleting,
            owner_references: owners.iter().map(|u| json!({"uid": u})).collect(),
        }
    }

    #[test]
    fn verdicts_follow_owner_state() {
        let rs = node("rs", &[], false, &[]);
        let gone_owner = node("pod1", &["deleted-rs"], false, &[]);
        let live = node("pod2", &["rs"], false, &[]);
        let orphaning = node("rs2", &[], true, &["orphan"]);
        let orphaned = node("pod3", &["rs2"], false, &[]);
        let foreground = node("rs3", &[], true, &["foregroundDeletion"]);
        let fg_child = node("pod4", &["rs3"], false, &[]);
        let nodes = [
            rs, gone_owner, live, orphaning, orphaned, foreground, fg_child,
        ];
        let by_uid: HashMap<&str, &Node> = nodes.iter().map(|n| (n.uid.as_str(), n)).collect();
        assert_eq!(judge(&nodes[1], &by_uid), Verdict::Delete);
        assert_eq!(judge(&nodes[2], &by_uid), Verdict::Keep);
        assert_eq!(
            judge(&nodes[4], &by_uid),
            Verdict::Orphan(vec!["rs2".into()])
        );
        assert_eq!(judge(&nodes[6], &by_uid), Verdict::Delete);
    }
}
