//! The service proxy's front half: one change tracker turns Services and EndpointSlices into a
//! dataplane-neutral [`ProxyModel`]; dataplanes (nftables today, a userspace proxy later)
//! implement [`Dataplane`] and program it.
//!
//! Must not know nftables, netlink or sockets: everything kernel-facing lives in the dataplane
//! crates, which in turn never see Kubernetes types.

mod model;

pub use model::{
    ChangedServices, Dataplane, Endpoint, ProxyModel, ServicePort, ServicePortName,
    SessionAffinity, TransportProtocol,
};
