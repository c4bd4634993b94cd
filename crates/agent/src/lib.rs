//! ferry's node agent: the kubelet's role on a node. It registers the Node and heartbeats it
//! (status and a Lease), runs the pods bound to the node in sandboxes (`ferry-sandbox`), keeps
//! their status in the API, and serves `kubectl exec`, `attach` and `logs` through its
//! streaming server, whose [`streaming::ContainerRuntime`] is the pod runtime here.
//!
//! An API client: it never touches the store, and reaches the kernel only through
//! `ferry-sandbox` (and so `ferry-sys` and `ferry-hostnet`).

mod clock;
mod error;
mod node;
mod pods;
pub mod streaming;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use ferry_runtime::Client;
use ferry_sandbox::InitCommand;

pub use error::AgentError;

/// The kubelet version a ferry node reports (the Kubernetes version ferry serves).
pub const KUBELET_VERSION: &str = "v1.32.4";

/// Everything a node agent needs to know about itself.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    pub node_name: String,
    /// The node's address: its InternalIP, where the API server reaches the streaming server.
    pub node_ip: Ipv4Addr,
    /// The pod CIDR to use while the Node has no `spec.podCIDR`.
    pub pod_cidr: Option<String>,
    /// Where pod state and logs live (`<data_dir>/sandboxes`, `<data_dir>/pods`).
    pub data_dir: PathBuf,
    /// ferry's version, for `containerRuntimeVersion: ferry://<version>`.
    pub version: String,
    /// The ferry binary, which serves the built-in apps (`<ferry> app <name>`).
    pub ferry: PathBuf,
    /// How sandboxes start their init (the ferry binary's hidden init subcommand).
    pub init: InitCommand,
    /// The port the Node advertises for the streaming server.
    pub streaming_port: u16,
}

/// The streaming server's listener, certificates and clients.
pub struct Streaming {
    pub listen: SocketAddr,
    pub tls: Arc<rustls::ServerConfig>,
    pub allowed: streaming::AllowedClients,
}

/// Runs the node until `shutdown`: removes what an earlier run left, registers the Node,
/// runs its pods and the streaming server; on shutdown stops every pod and removes its
/// sandbox.
pub async fn run(
    config: AgentConfig,
    client: Client,
    streaming_config: Streaming,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    let pods = pods::Pods::open(&config, client.clone()).await?;
    let server = streaming::StreamingServer::bind(streaming::StreamingConfig {
        listen: streaming_config.listen,
        tls: streaming_config.tls,
        allowed: streaming_config.allowed,
    })
    .await
    .map_err(AgentError::Streaming)?;
    let serving = tokio::spawn(server.serve(pods.clone(), shutdown.clone()));
    let (cidr_tx, cidr_rx) = watch::channel(None);
    let node = tokio::spawn(node::run(
        client.clone(),
        config.clone(),
        cidr_tx,
        shutdown.clone(),
    ));
    let worked = pods.clone().run(cidr_rx, shutdown.clone()).await;
    let _ = serving.await;
    let heartbeats = node.await.unwrap_or(Ok(()));
    let removed = pods.shutdown().await;
    worked.and(heartbeats).and(removed)
}
