//! The nftables dataplane of the service proxy: programs ferry-proxy's model into one `ip`
//! table of ferry's own, after kube-proxy's nftables layout but with endpoints as map
//! elements: `service-ips` (keyed `ip . proto . port`) leads a port without affinity to the
//! chain shared by all ports with as many endpoints, N, which DNATs with `numgen random` into
//! that count's `slots-N` map (`ip . proto . port . slot : ip . port`); a port with ClientIP
//! affinity has one chain of its own. Masquerade only where Kubernetes does (outside sources,
//! node ports, hairpin through an `ip . ip` set), reject for ports without endpoints and for
//! unknown ClusterIP ports. A pod turning ready or unready changes map elements only, which
//! the kernel applies without re-checking the table's chains (see `plan`).
//!
//! Must not know Kubernetes types (only the proxy model) nor other dataplanes.

mod config;
mod dataplane;
mod error;
mod names;
mod plan;
mod rules;

pub use config::{NftConfig, PodEgress};
pub use dataplane::{cleanup_leftovers, NftDataplane};
pub use error::Error;
