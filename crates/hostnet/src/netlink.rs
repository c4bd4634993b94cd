//! A route-netlink connection bound to one network namespace, and the link, address and route
//! operations ferry needs, by link name.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use futures_util::TryStreamExt;
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute};
use netlink_packet_route::route::{RouteMessage, RouteScope};
use rtnetlink::{LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};
use tokio::task::JoinHandle;

use crate::error::netlink_errno;
use crate::{Error, Ipv4Cidr};

const ENODEV: i32 = 19;
const ESRCH: i32 = 3;
const EEXIST: i32 = 17;
const EADDRNOTAVAIL: i32 = 99;

/// The longest interface name the kernel accepts (IFNAMSIZ - 1).
const MAX_LINK_NAME: usize = 15;

/// A netlink connection whose socket lives in one network namespace: every operation acts on
/// that namespace, whichever thread runs it. Dropping it closes the socket, which releases
/// the namespace (important for a pod's namespace, which should end with its processes).
#[derive(Debug)]
pub struct Netlink {
    handle: rtnetlink::Handle,
    connection: JoinHandle<()>,
}

/// The network namespace the peer of a new veth is created in.
#[derive(Clone, Copy, Debug)]
pub enum PeerNamespace<'a> {
    /// An nsfs file ([`crate::open_netns`], `/proc/PID/ns/net`).
    Fd(BorrowedFd<'a>),
    /// The network namespace of this process (as seen from the caller's pid namespace).
    Pid(u32),
}

/// An IPv4 route in the main table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Host bits are cleared before use.
    pub destination: Ipv4Cidr,
    pub next_hop: NextHop,
}

/// Where a route sends packets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextHop {
    /// Straight out of this link, to a neighbour on it (`dev X scope link`), as the node's /32
    /// route to a pod through its veth.
    Device(String),
    /// Through a gateway the kernel can already reach (`via G`), as another node's pod CIDR
    /// through that node's IP.
    Gateway(Ipv4Addr),
    /// Through a gateway assumed to be on `device` even though no route says so
    /// (`via G dev X onlink`), as a pod's default route via 169.254.1.1.
    OnLinkGateway { gateway: Ipv4Addr, device: String },
}

impl Netlink {
    /// Connects in the calling thread's network namespace. Must be called inside a tokio
    /// runtime, which then drives the connection.
    pub fn connect() -> Result<Netlink, Error> {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(Error::Connect)?;
        Ok(Netlink {
            handle,
            connection: tokio::spawn(connection),
        })
    }

    /// Connects inside the network namespace `netns` (an nsfs file or a pidfd): the socket is
    /// created on a thread that joined it, then driven by the caller's runtime.
    pub async fn connect_in(netns: impl AsFd) -> Result<Netlink, Error> {
        let runtime = tokio::runtime::Handle::current();
        let (connection, handle, _) = crate::in_netns(netns, move || {
            let _entered = runtime.enter();
            rtnetlink::new_connection()
        })
        .await?
        .map_err(Error::Connect)?;
        Ok(Netlink {
            handle,
            connection: tokio::spawn(connection),
        })
    }

    /// The index of link `name`, or `None` if there is no such link.
    pub async fn link_index(&self, name: &str) -> Result<Option<u32>, Error> {
        check_link_name(name)?;
        let mut links = self.handle.link().get().match_name(name).execute();
        match links.try_next().await {
            Ok(link) => Ok(link.map(|l| l.header.index)),
            Err(e) if netlink_errno(&e) == Some(ENODEV) => Ok(None),
            Err(source) => Err(link_error("look up", name, source)),
        }
    }

    /// The names of all links, in index order.
    pub async fn link_names(&self) -> Result<Vec<String>, Error> {
        let links: Vec<_> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| Error::ListLinks(Box::new(e)))?;
        Ok(links
            .iter()
            .filter_map(|link| {
                link.attributes
                    .iter()
                    .find_map(|attribute| match attribute {
                        LinkAttribute::IfName(name) => Some(name.clone()),
                        _ => None,
                    })
            })
            .collect())
    }

    /// Creates the veth pair `name` (here) and `peer` (created directly in `peer_netns`, so a
    /// peer called `eth0` never clashes with a link of that name here). Both start down.
    pub async fn create_veth(
        &self,
        name: &str,
        peer: &str,
        peer_netns: PeerNamespace<'_>,
    ) -> Result<(), Error> {
        check_link_name(name)?;
        check_link_name(peer)?;
        let peer_message = LinkMessageBuilder::<LinkUnspec>::new().name(peer);
        let peer_message = match peer_netns {
            PeerNamespace::Fd(fd) => peer_message.setns_by_fd(fd.as_raw_fd()),
            PeerNamespace::Pid(pid) => peer_message.setns_by_pid(pid),
        }
        .build();
        let message = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(name)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_message)))
            .build();
        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .map_err(|source| link_error("create veth", name, source))
    }

    /// Creates the bridge `name`, up.
    pub async fn create_bridge(&self, name: &str) -> Result<(), Error> {
        check_link_name(name)?;
        self.handle
            .link()
            .add(LinkBridge::new(name).build())
            .execute()
            .await
            .map_err(|source| link_error("create bridge", name, source))
    }

    /// Makes `link` a port of `bridge`.
    pub async fn attach_to_bridge(&self, link: &str, bridge: &str) -> Result<(), Error> {
        let index = self.require_index(link).await?;
        let bridge_index = self.require_index(bridge).await?;
        let message = LinkUnspec::new_with_index(index)
            .controller(bridge_index)
            .build();
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .map_err(|source| link_error("attach to a bridge", link, source))
    }

    /// Sets `link` administratively up.
    pub async fn set_up(&self, link: &str) -> Result<(), Error> {
        let index = self.require_index(link).await?;
        let message = LinkUnspec::new_with_index(index).up().build();
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .map_err(|source| link_error("set up", link, source))
    }

    /// Deletes `link` (both ends, for a veth). Returns whether there was one to delete.
    pub async fn delete_link(&self, link: &str) -> Result<bool, Error> {
        let Some(index) = self.link_index(link).await? else {
            return Ok(false);
        };
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(true),
            Err(e) if netlink_errno(&e) == Some(ENODEV) => Ok(false),
            Err(source) => Err(link_error("delete", link, source)),
        }
    }

    /// Adds `address` to `link` (a /32 is fine); an address already there is not an error.
    pub async fn add_address(&self, link: &str, address: Ipv4Cidr) -> Result<(), Error> {
        let index = self.require_index(link).await?;
        let result = self
            .handle
            .address()
            .add(index, IpAddr::V4(address.addr()), address.prefix_len())
            .execute()
            .await;
        match result {
            Ok(()) => Ok(()),
            Err(e) if netlink_errno(&e) == Some(EEXIST) => Ok(()),
            Err(source) => Err(address_error("add", address, link, source)),
        }
    }

    /// Removes `address` from `link`. Returns whether it was there.
    pub async fn delete_address(&self, link: &str, address: Ipv4Cidr) -> Result<bool, Error> {
        let Some(index) = self.link_index(link).await? else {
            return Ok(false);
        };
        let found: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .set_address_filter(IpAddr::V4(address.addr()))
            .set_prefix_length_filter(address.prefix_len())
            .execute()
            .try_collect()
            .await
            .map_err(|source| address_error("look up", address, link, source))?;
        let mut deleted = false;
        for message in found {
            match self.handle.address().del(message).execute().await {
                Ok(()) => deleted = true,
                Err(e) if netlink_errno(&e) == Some(EADDRNOTAVAIL) => {}
                Err(source) => return Err(address_error("delete", address, link, source)),
            }
        }
        Ok(deleted)
    }

    /// Adds `route`, replacing a route to the same destination (`ip route replace`), so that
    /// calling it again with the same route is harmless.
    pub async fn add_route(&self, route: &Route) -> Result<(), Error> {
        let message = self.route_message(route).await?;
        self.handle
            .route()
            .add(message)
            .replace()
            .execute()
            .await
            .map_err(|source| route_error("add", route, source))
    }

    /// Deletes `route`. Returns whether it was there.
    pub async fn delete_route(&self, route: &Route) -> Result<bool, Error> {
        let message = match self.route_message(route).await {
            Ok(message) => message,
            // The route's device is gone, and its routes with it.
            Err(Error::NoSuchLink { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        match self.handle.route().del(message).execute().await {
            Ok(()) => Ok(true),
            Err(e) if netlink_errno(&e) == Some(ESRCH) => Ok(false),
            Err(source) => Err(route_error("delete", route, source)),
        }
    }

    async fn route_message(&self, route: &Route) -> Result<RouteMessage, Error> {
        let destination = route.destination.network();
        let builder = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(destination.addr(), destination.prefix_len());
        let builder = match &route.next_hop {
            NextHop::Device(device) => builder
                .output_interface(self.require_index(device).await?)
                .scope(RouteScope::Link),
            NextHop::Gateway(gateway) => builder.gateway(*gateway),
            NextHop::OnLinkGateway { gateway, device } => builder
                .gateway(*gateway)
                .output_interface(self.require_index(device).await?)
                .onlink(),
        };
        Ok(builder.build())
    }

    async fn require_index(&self, name: &str) -> Result<u32, Error> {
        self.link_index(name)
            .await?
            .ok_or_else(|| Error::NoSuchLink {
                name: name.to_string(),
            })
    }
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

pub(crate) fn check_link_name(name: &str) -> Result<(), Error> {
    let bad = name.is_empty()
        || name.len() > MAX_LINK_NAME
        || name.contains(['/', ':'])
        || name.contains(char::is_whitespace);
    if bad {
        return Err(Error::LinkName {
            name: name.to_string(),
        });
    }
    Ok(())
}

fn link_error(operation: &'static str, name: &str, source: rtnetlink::Error) -> Error {
    Error::Link {
        operation,
        name: name.to_string(),
        source: Box::new(source),
    }
}

fn address_error(
    operation: &'static str,
    address: Ipv4Cidr,
    link: &str,
    source: rtnetlink::Error,
) -> Error {
    Error::Address {
        operation,
        address: address.to_string(),
        link: link.to_string(),
        source: Box::new(source),
    }
}

fn route_error(operation: &'static str, route: &Route, source: rtnetlink::Error) -> Error {
    Error::Route {
        operation,
        destination: route.destination.network().to_string(),
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_follow_the_kernel_rules() {
        for good in ["eth0", "fpod0123456789a", "ferry-br0"] {
            assert!(check_link_name(good).is_ok(), "{good}");
        }
        for bad in ["", "sixteen-bytes-xx", "a/b", "a b", "a:1"] {
            assert!(check_link_name(bad).is_err(), "{bad}");
        }
    }
}
