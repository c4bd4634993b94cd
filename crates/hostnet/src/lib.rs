//! Host networking for ferry over rtnetlink, without the `ip` binary: named network namespaces,
//! netlink connections inside any namespace, veth pairs, bridges, addresses, routes, the
//! sysctls a routed node needs, and removal of what a crashed ferry left.
//!
//! It knows nothing of Kubernetes or pods; kernel object names come from [`pod_veth_name`] and
//! the caller's prefixes.

mod cidr;
mod cleanup;
mod error;
mod names;
mod netlink;
mod netns;
mod sysctl;

pub use cidr::Ipv4Cidr;
pub use cleanup::{cleanup_leftovers, cleanup_links, cleanup_namespaces, Leftovers};
pub use error::Error;
pub use names::{pod_veth_name, POD_VETH_PREFIX};
pub use netlink::{Netlink, NextHop, PeerNamespace, Route};
pub use netns::{create_netns, delete_netns, in_netns, netns_names, netns_path, open_netns};
pub use sysctl::{enable_ip_forwarding, enable_proxy_arp};
