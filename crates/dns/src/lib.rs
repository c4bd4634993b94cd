//! Node-local cluster DNS per the Kubernetes DNS-Based Service Discovery specification: each
//! node's agent answers for the cluster domain from its own watch of Services, EndpointSlices
//! and Namespaces, and forwards other names to the node's upstream resolvers. It knows nothing
//! of nftables, netlink or pods' network namespaces: the caller binds the sockets.
//!
//! [`run`] is the whole server; [`Cache`] and [`serve`] are its parts, for callers (the
//! benchmark) that fill the cache themselves.

mod cache;
mod config;
mod error;
mod forward;
mod records;
mod runner;
mod server;
mod wire;

pub use cache::{Cache, Watched};
pub use config::{DnsConfig, Upstream};
pub use error::Error;
pub use runner::run;
pub use server::{serve, Sockets};
pub use wire::{answer, Answer, Transport};
