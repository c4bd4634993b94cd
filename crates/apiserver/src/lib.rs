//! ferry's Kubernetes API server: HTTPS, discovery, OpenAPI, Table output, list/watch with
//! resourceVersion semantics, JSON/merge/strategic-merge patch, Status errors, the status and
//! scale subresources, and the Service registry's IP and node-port allocation.
//!
//! The only user of `ferry-store`. Knows nothing of nodes' kernels: it stores desired state and
//! serves it; controllers and agents act on it through this API.

mod binding;
mod bootstrap;
mod context;
mod discovery;
mod event_cache;
mod graceful;
mod handler;
mod metrics;
mod object;
mod openapi;
mod registry;
mod request;
mod response;
mod rest;
mod scale;
mod server;
mod streaming;
mod version;
mod watch;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use ferry_store::Store;

pub use handler::User;
pub use metrics::ApiMetrics;
pub use response::Body;
pub use server::{serve, ServeError};
pub use version::GIT_VERSION;

/// What the API server is configured with.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// The service CIDR cluster IPs come from.
    pub service_cidr: ferry_ipam::Ipv4Cidr,
    /// The node port range.
    pub node_ports: ferry_ipam::PortRange,
    /// The address the `kubernetes` Service's endpoints point at.
    pub advertise_address: Ipv4Addr,
    /// The port the API server listens on (the `kubernetes` Service's target port).
    pub secure_port: u16,
    /// The cluster IP of the `kube-dns` Service created at start, if the cluster has DNS.
    pub cluster_dns: Option<Ipv4Addr>,
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// TLS toward node agents for exec, attach and logs: trusts the cluster CA and presents
    /// the API server's kubelet-client certificate (`kube-apiserver-kubelet-client` in
    /// `system:masters`). ALPN is set to HTTP/1.1 here, whatever the configuration says.
    pub kubelet_client: Arc<rustls::ClientConfig>,
}

/// The API server's state, shared by every request.
pub struct ApiServer {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: ApiConfig,
    pub(crate) allocators: registry::service::Allocators,
    pub(crate) metrics: ApiMetrics,
    pub(crate) event_cache: Arc<event_cache::EventCache>,
    /// `config.kubelet_client` speaking HTTP/1.1, which upgrades need.
    pub(crate) agent_tls: Arc<rustls::ClientConfig>,
}

/// Why the API server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("load allocations from the store")]
    Store(#[from] ferry_store::StoreError),
    #[error("create default object {what}: {message}")]
    Bootstrap { what: String, message: String },
}

impl ApiServer {
    /// Loads allocation state from the store and creates the objects every cluster has
    /// (default namespaces, the `kubernetes` Service and its endpoints).
    pub async fn start(
        store: Arc<dyn Store>,
        config: ApiConfig,
        metrics: ApiMetrics,
    ) -> Result<Arc<Self>, StartError> {
        let allocators = registry::service::Allocators::new(config.service_cidr, config.node_ports);
        allocators.load(store.as_ref()).await?;
        let mut agent_tls = (*config.kubelet_client).clone();
        agent_tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let server = Arc::new(ApiServer {
            store,
            config,
            allocators,
            metrics,
            event_cache: Arc::default(),
            agent_tls: Arc::new(agent_tls),
        });
        bootstrap::ensure_defaults(&server).await?;
        Ok(server)
    }
}
