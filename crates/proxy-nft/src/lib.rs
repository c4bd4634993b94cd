//! The nftables dataplane of the service proxy: programs ferry-proxy's model into one `ip`
//! table of ferry's own, in kube-proxy's nftables layout — verdict maps keyed by
//! `ip . proto . port` leading to a chain per service port that picks an endpoint chain with
//! `numgen random` (or a ClientIP affinity set), DNAT there, masquerade only where
//! Kubernetes does, reject for ports without endpoints and for unknown ClusterIP ports.
//!
//! Must not know Kubernetes types (only the proxy model) nor other dataplanes.

mod config;
mod dataplane;
mod error;
mod names;
mod plan;
mod rules;

pub use config::{Cidr, NftConfig, PodEgress};
pub use dataplane::{cleanup_leftovers, NftDataplane};
pub use error::Error;
