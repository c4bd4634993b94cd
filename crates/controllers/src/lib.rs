//! The cluster's controllers, each an API client that reconciles levels, not events: garbage
//! collection by ownerReferences and namespace deletion. Later: endpoints, endpointslices,
//! workloads, node IPAM, the scheduler.
//!
//! Never touches the store: everything goes through [`ferry_runtime::Client`].

mod garbage_collector;
mod namespace;
mod trigger;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use ferry_runtime::Client;

/// Starts every controller; they stop when `shutdown` is cancelled.
pub fn spawn_all(client: Client, shutdown: CancellationToken, tasks: &mut JoinSet<()>) {
    tasks.spawn(garbage_collector::run(client.clone(), shutdown.clone()));
    tasks.spawn(namespace::run(client, shutdown));
}
