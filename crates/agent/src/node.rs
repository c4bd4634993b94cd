//! The agent's Node: registration, status heartbeats (addresses, capacity, node info, the
//! Ready condition) and the Lease in `kube-node-lease` that the kubelet renews, as upstream
//! every 10 s. The node's pod CIDR (set by the node IPAM controller) is read back on every
//! heartbeat and published to the pod workers.

use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use ferry_api::resource::ResourceInfo;
use ferry_runtime::Client;

use crate::clock::{now_micro, now_time};
use crate::{AgentConfig, AgentError, KUBELET_VERSION};

/// How often the Node status and the Lease are renewed (the kubelet's
/// `nodeStatusUpdateFrequency` with leases, and its lease renew interval).
const HEARTBEAT: Duration = Duration::from_secs(10);

/// The kubelet's `nodeLeaseDurationSeconds`.
const LEASE_DURATION_SECONDS: i64 = 40;

/// The kubelet's default `maxPods`.
const MAX_PODS: &str = "110";

pub(crate) fn resource(plural: &str) -> &'static ResourceInfo {
    let group = if plural == "leases" {
        "coordination.k8s.io"
    } else {
        ""
    };
    ferry_api::resource::find(group, "v1", plural).unwrap_or_else(|| {
        // The resource table is compiled in; a missing core resource is a build defect.
        panic!("resource {plural} is not in ferry-api's table")
    })
}

/// Registers the node, then heartbeats until `shutdown`. `pod_cidr` receives the node's pod
/// CIDR whenever it is known.
pub(crate) async fn run(
    client: Client,
    config: AgentConfig,
    pod_cidr: watch::Sender<Option<String>>,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    // The API server may not be up yet (lab mode starts agents beside it): keep trying.
    while let Err(e) = register(&client, &config).await {
        tracing::warn!(error = %error_chain(&e), "node registration failed; retrying");
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    let mut ready_since = now_time();
    let mut first = true;
    loop {
        match heartbeat(&client, &config, &ready_since, first).await {
            Ok(node) => {
                first = false;
                let cidr = node
                    .pointer("/spec/podCIDR")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| config.pod_cidr.clone());
                pod_cidr.send_if_modified(|old| {
                    let changed = *old != cidr;
                    *old = cidr.clone();
                    changed
                });
            }
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "node heartbeat failed");
                ready_since = now_time();
            }
        }
        if let Err(e) = renew_lease(&client, &config.node_name).await {
            tracing::warn!(error = %error_chain(&e), "node lease renewal failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(HEARTBEAT) => {}
        }
    }
}

/// Creates the Node if it does not exist (the kubelet's `registerWithAPIServer`).
async fn register(client: &Client, config: &AgentConfig) -> Result<(), AgentError> {
    let nodes = resource("nodes");
    match client.get(nodes, None, &config.node_name).await {
        Ok(_) => return Ok(()),
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(AgentError::api("read the node")(e)),
    }
    let mut node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": config.node_name,
            "labels": {
                "kubernetes.io/hostname": config.node_name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
                "beta.kubernetes.io/os": "linux",
            },
        },
    });
    // A pod CIDR given on the command line is published, so that other nodes route it here
    // (the node IPAM controller leaves a node's existing pod CIDR alone).
    if let Some(cidr) = &config.pod_cidr {
        node["spec"] = json!({"podCIDR": cidr, "podCIDRs": [cidr]});
    }
    match client.create(nodes, None, &node).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_conflict() => Ok(()),
        Err(e) => Err(AgentError::api("register the node")(e)),
    }
}

/// Patches the node's status; returns the node as the API server answered.
async fn heartbeat(
    client: &Client,
    config: &AgentConfig,
    ready_since: &str,
    first: bool,
) -> Result<Value, AgentError> {
    let status = node_status(config, &now_time(), ready_since);
    let name = format!("{}/status", config.node_name);
    let node = client
        .merge_patch(resource("nodes"), None, &name, &json!({ "status": status }))
        .await
        .map_err(AgentError::api("update the node status"))?;
    if first {
        tracing::info!(node = %config.node_name, "node registered and ready");
    }
    Ok(node)
}

/// The node's status as the kubelet reports it.
pub(crate) fn node_status(config: &AgentConfig, now: &str, ready_since: &str) -> Value {
    let capacity = json!({
        "cpu": cpu_count().to_string(),
        "memory": format!("{}Ki", memory_kib()),
        "pods": MAX_PODS,
    });
    json!({
        "addresses": addresses(config.node_ip, &config.node_name),
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [{
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
            "lastHeartbeatTime": now,
            "lastTransitionTime": ready_since,
        }],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": config.streaming_port}},
        "nodeInfo": {
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
            "kernelVersion": kernel_version(),
            "osImage": "ferry",
            "containerRuntimeVersion": format!("ferry://{}", config.version),
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
        },
    })
}

fn addresses(ip: Ipv4Addr, name: &str) -> Value {
    json!([
        {"type": "InternalIP", "address": ip.to_string()},
        {"type": "Hostname", "address": name},
    ])
}

fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `MemTotal` from /proc/meminfo, in KiB.
fn memory_kib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Creates or renews the node's Lease.
async fn renew_lease(client: &Client, node: &str) -> Result<(), AgentError> {
    let leases = resource("leases");
    let namespace = Some("kube-node-lease");
    let renew = json!({"spec": {"holderIdentity": node, "leaseDurationSeconds": LEASE_DURATION_SECONDS, "renewTime": now_micro()}});
    match client.merge_patch(leases, namespace, node, &renew).await {
        Ok(_) => return Ok(()),
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(AgentError::api("renew the node lease")(e)),
    }
    let mut lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": node, "namespace": "kube-node-lease"},
    });
    lease["spec"] = renew["spec"].clone();
    client
        .create(leases, namespace, &lease)
        .await
        .map(|_| ())
        .map_err(AgentError::api("create the node lease"))
}

/// `error: cause: cause…` for log lines.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
