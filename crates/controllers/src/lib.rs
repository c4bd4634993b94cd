//! The cluster's controllers, each an API client that reconciles levels, not events: garbage
//! collection by ownerReferences, namespace deletion, ReplicaSets and ReplicationControllers,
//! Deployments, the scheduler, node IPAM, node lifecycle (health, condition taints, pods
//! marked not ready), taint eviction (pods deleted from nodes with NoExecute taints they do not
//! tolerate), pod garbage collection (pods of deleted nodes, unscheduled terminating pods,
//! terminated pods over the threshold), Endpoints, EndpointSlices and the mirroring of
//! hand-made Endpoints into EndpointSlices.
//!
//! Never touches the store: everything goes through [`ferry_runtime::Client`]. Each controller
//! lists what it needs at every pass (triggered by watches, coalesced), computes with pure
//! functions, and writes through the API; its memory is only ever derived, so a restart
//! resumes where the objects say things are.

mod clock;
mod deployment;
mod endpoint_slice;
mod endpoints;
mod endpointslice_mirroring;
mod error;
mod events;
mod garbage_collector;
mod namespace;
mod node_ipam;
mod node_lifecycle;
mod owner;
mod pod;
mod pod_gc;
mod replica_set;
mod resources;
mod scheduler;
mod taint_eviction;
mod trigger;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use ferry_runtime::Client;

pub use node_ipam::PodCidrs;
pub use node_lifecycle::NodeMonitor;

use replica_set::ReplicaKind;

/// What the controllers are configured with (kube-controller-manager's flags of the same
/// meaning).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where node pod CIDRs come from.
    pub pod_cidrs: PodCidrs,
    /// How long nodes may go without a heartbeat.
    pub node_monitor: NodeMonitor,
}

/// Starts every controller; they stop when `shutdown` is cancelled.
pub fn spawn_all(
    client: Client,
    config: &Config,
    shutdown: CancellationToken,
    tasks: &mut JoinSet<()>,
) {
    tasks.spawn(garbage_collector::run(client.clone(), shutdown.clone()));
    tasks.spawn(namespace::run(client.clone(), shutdown.clone()));
    tasks.spawn(replica_set::run(
        client.clone(),
        ReplicaKind::ReplicaSet,
        shutdown.clone(),
    ));
    tasks.spawn(replica_set::run(
        client.clone(),
        ReplicaKind::ReplicationController,
        shutdown.clone(),
    ));
    tasks.spawn(deployment::run(client.clone(), shutdown.clone()));
    tasks.spawn(endpoints::run(client.clone(), shutdown.clone()));
    tasks.spawn(endpoint_slice::run(client.clone(), shutdown.clone()));
    tasks.spawn(endpointslice_mirroring::run(
        client.clone(),
        shutdown.clone(),
    ));
    tasks.spawn(scheduler::run(client.clone(), shutdown.clone()));
    tasks.spawn(node_ipam::run(
        client.clone(),
        config.pod_cidrs,
        shutdown.clone(),
    ));
    tasks.spawn(node_lifecycle::run(
        client.clone(),
        config.node_monitor,
        shutdown.clone(),
    ));
    tasks.spawn(taint_eviction::run(client.clone(), shutdown.clone()));
    tasks.spawn(pod_gc::run(client, shutdown));
}
