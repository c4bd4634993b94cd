//! The pod's routed network: one veth, the pod IP as /32 on `eth0` with a default route via the
//! link-local gateway, and on the node side the gateway address and a /32 route to the pod.
//! No bridge: the node routes every packet, so its conntrack sees both directions of each flow.

use std::net::Ipv4Addr;

use ferry_hostnet::{Ipv4Cidr, Netlink, NextHop, PeerNamespace, Route};
use ferry_sys::Pidfd;

use crate::Error;

/// The pod side of the veth.
const POD_LINK: &str = "eth0";

/// Creates and configures the veth of a sandbox whose init is `init`. The node side is
/// `veth` in the caller's network namespace.
pub(crate) async fn attach(
    veth: &str,
    ip: Ipv4Addr,
    gateway: Ipv4Addr,
    init: &Pidfd,
) -> Result<(), Error> {
    // A pid is positive; the kernel's pid_t is signed only to carry errors.
    let pid = init.pid().unsigned_abs();
    let node = Netlink::connect().map_err(Error::network("connect to netlink"))?;
    node.create_veth(veth, POD_LINK, PeerNamespace::Pid(pid))
        .await
        .map_err(Error::network("create the pod's veth"))?;
    // Holding the gateway address lets the node side answer the pod's ARP for it; the same
    // address on every pod's veth is fine, it is only ever used on-link.
    node.add_address(veth, Ipv4Cidr::host(gateway))
        .await
        .map_err(Error::network("add the gateway address"))?;
    node.set_up(veth)
        .await
        .map_err(Error::network("set the node side up"))?;
    node.add_route(&Route {
        destination: Ipv4Cidr::host(ip),
        next_hop: NextHop::Device(veth.to_string()),
    })
    .await
    .map_err(Error::network("route to the pod"))?;

    // The connection inside the pod is dropped at the end: a socket would keep the pod's
    // network namespace alive after its processes are gone.
    let pod = Netlink::connect_in(init)
        .await
        .map_err(Error::network("connect to netlink in the pod"))?;
    for link in ["lo", POD_LINK] {
        pod.set_up(link)
            .await
            .map_err(Error::network("set the pod's links up"))?;
    }
    pod.add_address(POD_LINK, Ipv4Cidr::host(ip))
        .await
        .map_err(Error::network("add the pod IP"))?;
    pod.add_route(&Route {
        destination: Ipv4Cidr::ANY,
        next_hop: NextHop::OnLinkGateway {
            gateway,
            device: POD_LINK.to_string(),
        },
    })
    .await
    .map_err(Error::network("add the pod's default route"))
}

/// Deletes the node side of the veth (the pod side goes with it, and with it the /32 route).
/// A veth already gone with the pod's network namespace is fine.
pub(crate) async fn detach(veth: &str) -> Result<(), Error> {
    let node = Netlink::connect().map_err(Error::network("connect to netlink"))?;
    node.delete_link(veth)
        .await
        .map_err(Error::network("delete the pod's veth"))?;
    Ok(())
}
