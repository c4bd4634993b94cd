//! The sysctls a routed node needs, written in the calling thread's network namespace (run
//! them through [`crate::in_netns`] for another one).

use crate::netlink::check_link_name;
use crate::Error;

/// Turns on IPv4 forwarding (`net.ipv4.ip_forward=1`): the node routes every pod packet.
pub fn enable_ip_forwarding() -> Result<(), Error> {
    write_sysctl("net/ipv4/ip_forward", "1")
}

/// Turns on proxy ARP on `link` (`net.ipv4.conf.LINK.proxy_arp=1`), so the node answers ARP
/// for any address it has a route to out of another link. A pod whose gateway address is not
/// held by the node side of its veth (Calico's way) needs it; ferry's design puts
/// 169.254.1.1/32 on the node side instead, which answers ARP for the gateway by itself.
pub fn enable_proxy_arp(link: &str) -> Result<(), Error> {
    check_link_name(link)?;
    write_sysctl(&format!("net/ipv4/conf/{link}/proxy_arp"), "1")
}

fn write_sysctl(key: &str, value: &str) -> Result<(), Error> {
    std::fs::write(format!("/proc/sys/{key}"), value).map_err(|source| Error::Sysctl {
        key: key.replace('/', "."),
        source,
    })
}
