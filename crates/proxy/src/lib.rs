//! The service proxy's front half: one change tracker turns Services and EndpointSlices into a
//! dataplane-neutral [`ProxyModel`]; dataplanes (nftables today, a userspace proxy later)
//! implement [`Dataplane`] and program it. [`proxy`] runs the tracker against the API and syncs
//! a dataplane.
//!
//! Must not know nftables, netlink or sockets: everything kernel-facing lives in the dataplane
//! crates, which in turn never see Kubernetes types.

mod config;
mod endpoint_slice;
mod error;
mod meta;
mod model;
mod runner;
mod service;
mod tracker;

pub use config::ProxyConfig;
pub use error::Error;
pub use model::{
    ChangedServices, Dataplane, Endpoint, ProxyModel, ServicePort, ServicePortName,
    SessionAffinity, TransportProtocol,
};
pub use runner::proxy;
pub use tracker::ChangeTracker;
