//! The pod runtime of a node: list+watch of the pods bound to it, one worker per pod (sandbox,
//! containers, status), and the [`crate::streaming::ContainerRuntime`] over them.

mod cri;
mod events;
mod files;
mod image;
mod ips;
mod probe;
mod service_env;
mod status;
mod worker;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use ferry_runtime::{Client, Selectors, WatchParams};
use ferry_sandbox::{Runtime, RuntimeConfig};

use crate::node::{error_chain, resource};
use crate::{AgentConfig, AgentError};
use ips::IpPool;
use worker::PodEntry;

/// A full resync of the node's pods at least this often, whatever the watch says.
const RESYNC: Duration = Duration::from_secs(10);

/// The node's pods and what runs them.
pub(crate) struct Pods {
    config: AgentConfig,
    client: Client,
    runtime: Runtime,
    /// Running pods by UID.
    table: Mutex<HashMap<String, Arc<PodEntry>>>,
    ips: Mutex<Option<IpPool>>,
}

impl Pods {
    /// Opens the node's sandbox runtime and removes what an earlier run left.
    pub(crate) async fn open(
        config: &AgentConfig,
        client: Client,
    ) -> Result<Arc<Pods>, AgentError> {
        let runtime = Runtime::open(RuntimeConfig {
            state_root: config.data_dir.join("sandboxes"),
            cgroup_subtree: cgroup_subtree(config),
            init: config.init.clone(),
        })
        .map_err(AgentError::sandbox("open the sandbox runtime"))?;
        let leftovers = runtime
            .cleanup_leftovers()
            .await
            .map_err(AgentError::sandbox("remove leftover sandboxes"))?;
        if !leftovers.sandboxes.is_empty() || !leftovers.links.is_empty() {
            tracing::info!(?leftovers, "removed what an earlier run left");
        }
        let logs = config.data_dir.join("pods");
        let _ = std::fs::remove_dir_all(&logs);
        Ok(Arc::new(Pods {
            config: config.clone(),
            client,
            runtime,
            table: Mutex::default(),
            ips: Mutex::default(),
        }))
    }

    pub(crate) fn logs_root(&self) -> PathBuf {
        self.config.data_dir.join("pods")
    }

    /// Lists and watches the node's pods and keeps the table in line until `shutdown`.
    pub(crate) async fn run(
        self: Arc<Self>,
        mut pod_cidr: watch::Receiver<Option<String>>,
        shutdown: CancellationToken,
    ) -> Result<(), AgentError> {
        // No pod can get an address before the node knows its pod CIDR.
        let cidr = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            cidr = pod_cidr.wait_for(Option::is_some) => cidr.ok().and_then(|c| c.clone()),
        };
        let Some(cidr) = cidr else {
            return Err(AgentError::NoPodCidr {
                node: self.config.node_name.clone(),
            });
        };
        *self.ips.lock().unwrap_or_else(|p| p.into_inner()) = Some(IpPool::new(&cidr)?);
        tracing::info!(%cidr, "running pods");
        while !shutdown.is_cancelled() {
            if let Err(e) = self.clone().list_and_watch(&shutdown).await {
                tracing::warn!(error = %error_chain(&e), "pod watch failed; listing again");
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
        Ok(())
    }

    /// One list, then the watch from its revision until it ends or a resync is due.
    async fn list_and_watch(
        self: Arc<Self>,
        shutdown: &CancellationToken,
    ) -> Result<(), AgentError> {
        let pods = resource("pods");
        // Only this node's pods, as the kubelet asks for them.
        let field = format!("spec.nodeName={}", self.config.node_name);
        let selectors = Selectors {
            labels: None,
            fields: Some(&field),
        };
        let (items, rv) = self
            .client
            .list_selected(pods, None, selectors)
            .await
            .map_err(AgentError::api("list pods"))?;
        let mut known: HashMap<String, Value> = HashMap::new();
        for item in items {
            if let Some(uid) = self.mine(&item) {
                known.insert(uid, item);
            }
        }
        self.sync(&known).await;
        let mut watch = self
            .client
            .watch_selected(
                pods,
                None,
                &WatchParams {
                    resource_version: &rv,
                    selectors,
                    timeout: None,
                },
            )
            .await
            .map_err(AgentError::api("watch pods"))?;
        let resync = tokio::time::sleep(RESYNC);
        tokio::pin!(resync);
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = &mut resync => return Ok(()),
                event = watch.next() => event,
            };
            let Some(event) = event else {
                return Ok(());
            };
            let event = event.map_err(AgentError::api("watch pods"))?;
            let Some(uid) = self.mine(&event.object) else {
                continue;
            };
            match event.event_type.as_str() {
                "ADDED" | "MODIFIED" => {
                    known.insert(uid, event.object);
                }
                "DELETED" => {
                    known.remove(&uid);
                }
                _ => continue,
            }
            self.sync(&known).await;
        }
    }

    /// The pod's UID when it is bound to this node.
    fn mine(&self, pod: &Value) -> Option<String> {
        let node = pod.pointer("/spec/nodeName").and_then(Value::as_str)?;
        if node != self.config.node_name {
            return None;
        }
        pod.pointer("/metadata/uid")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// Starts workers for new pods, stops those of pods that are gone or being deleted.
    async fn sync(self: &Arc<Self>, known: &HashMap<String, Value>) {
        let running: Vec<(String, Arc<PodEntry>)> = self
            .table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(uid, entry)| (uid.clone(), entry.clone()))
            .collect();
        for (uid, entry) in &running {
            match known.get(uid) {
                None => entry.stop(Some(0)),
                Some(pod) if pod.pointer("/metadata/deletionTimestamp").is_some() => {
                    let grace = pod
                        .pointer("/metadata/deletionGracePeriodSeconds")
                        .and_then(Value::as_i64);
                    entry.stop(Some(grace.unwrap_or(0)));
                }
                Some(_) => {}
            }
        }
        for (uid, object) in known {
            let present = running.iter().any(|(u, _)| u == uid);
            if present {
                continue;
            }
            if object.pointer("/metadata/deletionTimestamp").is_some() {
                // Nothing of it runs here (any more): the deletion can complete.
                let pod = crate::streaming::PodRef {
                    namespace: str_at(object, "/metadata/namespace"),
                    name: str_at(object, "/metadata/name"),
                };
                let (client, uid) = (self.client.clone(), uid.clone());
                tokio::spawn(async move { worker::finish_deletion(&client, &pod, &uid).await });
                continue;
            }
            if matches!(
                object.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            ) {
                continue;
            }
            match serde_json::from_value::<Pod>(object.clone()) {
                Ok(pod) => self.start(uid.clone(), pod),
                Err(source) => {
                    let e = AgentError::Decode {
                        what: format!("pod {uid}"),
                        source,
                    };
                    tracing::warn!(error = %error_chain(&e), "skipping a pod");
                }
            }
        }
    }

    /// Gives the pod an address and starts its worker.
    fn start(self: &Arc<Self>, uid: String, pod: Pod) {
        let ip = {
            let mut ips = self.ips.lock().unwrap_or_else(|p| p.into_inner());
            match ips.as_mut().map(IpPool::allocate) {
                Some(Ok(ip)) => ip,
                Some(Err(e)) => {
                    tracing::warn!(error = %error_chain(&e), "no address for a pod");
                    return;
                }
                None => return,
            }
        };
        let entry = Arc::new(PodEntry::new(
            &uid,
            pod,
            ip,
            self.config.node_ip,
            &self.logs_root(),
        ));
        self.table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(uid.clone(), entry.clone());
        let pods = self.clone();
        tokio::spawn(async move {
            worker::run(pods.clone(), entry.clone()).await;
            pods.table
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&uid);
            if let Some(ips) = pods.ips.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                ips.release(entry.ip);
            }
        });
    }

    /// Stops every pod (without grace: the node is going away) and removes the runtime: its
    /// sandboxes, its cgroup subtree and its state directory.
    pub(crate) async fn shutdown(self: Arc<Self>) -> Result<(), AgentError> {
        let entries: Vec<Arc<PodEntry>> = self
            .table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for entry in &entries {
            entry.stop(Some(0));
        }
        for entry in &entries {
            entry.wait_stopped().await;
        }
        drop(entries);
        // The workers drop their handles right after they report stopped.
        let mut pods = self;
        for _ in 0..100 {
            match Arc::try_unwrap(pods) {
                Ok(owned) => {
                    let _ = std::fs::remove_dir_all(owned.logs_root());
                    return owned
                        .runtime
                        .remove_all()
                        .await
                        .map(|_| ())
                        .map_err(AgentError::sandbox("remove the node's sandboxes"));
                }
                Err(shared) => pods = shared,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        pods.runtime
            .cleanup_leftovers()
            .await
            .map(|_| ())
            .map_err(AgentError::sandbox("remove the node's sandboxes"))
    }
}

fn str_at(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The node's cgroup subtree: named after the node and its data dir, so that two agents (of
/// one lab, or of two labs) never clean up each other's pods, and a restarted agent finds
/// what it left.
fn cgroup_subtree(config: &AgentConfig) -> String {
    // FNV-1a: stable across builds, unlike the standard library's hasher.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in config.data_dir.as_os_str().as_encoded_bytes() {
        hash = (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193);
    }
    format!("ferry-{}-{hash:08x}", config.node_name)
}
