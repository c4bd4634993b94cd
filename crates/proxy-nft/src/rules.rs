//! The rules of ferry's table, by meaning: each renders as the nft text it is equivalent to
//! (for tests and errors) and encodes to ferry-nft expressions.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use ferry_ipam::Ipv4Cidr;
use ferry_nft::{
    build::{self, IpField, PortField},
    CmpOp, DynsetOp, Expr, Reg, Reject, SetRef, Verdict,
};
use ferry_proxy::TransportProtocol;

use crate::names::{nodeport_slots_map, slots_map};

/// The packet mark bit that asks the `masquerading` chain to masquerade (kube-proxy's).
pub(crate) const MASQ_MARK: u32 = 0x4000;
/// Route type of a local address (`fib daddr type local`).
const RTN_LOCAL: u32 = 2;

pub(crate) const SERVICE_IPS: &str = "service-ips";
pub(crate) const SERVICE_NODEPORTS: &str = "service-nodeports";
pub(crate) const NO_ENDPOINT_SERVICES: &str = "no-endpoint-services";
pub(crate) const NO_ENDPOINT_NODEPORTS: &str = "no-endpoint-nodeports";
pub(crate) const CLUSTER_IPS: &str = "cluster-ips";
pub(crate) const HAIRPIN: &str = "hairpin";
pub(crate) const REJECT_CHAIN: &str = "reject-chain";
pub(crate) const AFFINITY: &str = "affinity";

/// Where traffic reached a service port: at one of its addresses, or at its node port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Address,
    NodePort,
}

/// One rule of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// `jump CHAIN`.
    Jump(&'static str),
    /// `ct state new jump CHAIN`.
    NewJump(&'static str),
    /// `meta mark & 0x4000 == 0 return`.
    ReturnUnmarked,
    /// `meta mark set mark xor 0x4000`.
    ClearMark,
    /// `masquerade fully-random`.
    Masquerade,
    /// Service traffic from outside the cluster's pods is masqueraded (`--cluster-cidr`).
    MarkNonClusterSources { cluster: Ipv4Cidr },
    /// `ip daddr . meta l4proto . th dport vmap @service-ips`.
    ServiceDispatch,
    /// NodePort traffic (to a local address, not loopback) is always masqueraded.
    MarkNodePorts,
    /// `fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports`.
    NodePortDispatch,
    /// `ip daddr . meta l4proto . th dport @no-endpoint-services goto reject-chain`.
    NoEndpointReject,
    /// `fib daddr type local meta l4proto . th dport @no-endpoint-nodeports goto reject-chain`.
    NoEndpointNodePortReject,
    /// `ip daddr @cluster-ips goto reject-chain`.
    RejectClusterIps,
    /// `ip daddr CIDR drop`.
    DropServiceCidr { cidr: Ipv4Cidr },
    /// `meta l4proto tcp reject with tcp reset`.
    RejectTcpReset,
    /// `reject` (ICMP port unreachable).
    RejectIcmp,
    /// Pod traffic to outside both ranges leaves with the node's address.
    MasqueradePodEgress {
        cluster: Ipv4Cidr,
        service: Ipv4Cidr,
    },
    /// `ip daddr|saddr IP meta l4proto P th dport|sport 53 notrack`.
    Notrack {
        toward: bool,
        ip: Ipv4Addr,
        proto: TransportProtocol,
        port: u16,
    },
    /// `ct status dnat ip saddr . ip daddr @hairpin meta mark set mark | 0x4000`: a pod that
    /// reached itself through a service is masqueraded, so that its reply comes back through
    /// the node.
    MarkHairpin,
    /// `dnat ip to ip daddr . meta l4proto . th dport . numgen random mod N map @slots-N` (or,
    /// for node ports, `meta l4proto . th dport . numgen random mod N map
    /// @nodeport-slots-N`): every service port without affinity that has `count` endpoints
    /// shares one chain of these two rules; its endpoints are the map's elements under its
    /// address and slots 0..N, so that endpoint changes are element changes only.
    PickSlot { entry: Entry, count: u32 },
    /// `ip saddr . ENDPOINT-ID @affinity update @affinity { ip saddr . ENDPOINT-ID timeout T }
    /// meta l4proto P dnat to EP:PORT`: ClientIP affinity, checked before picking at random.
    KeepAffinity {
        endpoint_id: u32,
        timeout: Duration,
        proto: TransportProtocol,
        endpoint: SocketAddrV4,
    },
    /// `numgen random mod N == 0 update @affinity { ip saddr . ENDPOINT-ID timeout T } meta
    /// l4proto P dnat to EP:PORT`: endpoint `i` of `n` is taken with probability 1/(n-i) when
    /// the earlier ones were not, which picks uniformly (iptables' cascade); `remaining` is
    /// n-i, and the last endpoint's rule has no `numgen`.
    PickWithAffinity {
        remaining: u32,
        endpoint_id: u32,
        timeout: Duration,
        proto: TransportProtocol,
        endpoint: SocketAddrV4,
    },
}

/// The IANA protocol number.
pub(crate) fn proto_number(proto: TransportProtocol) -> u8 {
    match proto {
        TransportProtocol::Tcp => 6,
        TransportProtocol::Udp => 17,
        TransportProtocol::Sctp => 132,
    }
}

const LOOPBACK: Ipv4Cidr = Ipv4Cidr::constant(Ipv4Addr::new(127, 0, 0, 0), 8);

impl Rule {
    /// The rule's expressions.
    pub(crate) fn exprs(&self) -> Vec<Expr> {
        match self {
            Rule::Jump(chain) => vec![Expr::Verdict(Verdict::Jump(chain.to_string()))],
            Rule::NewJump(chain) => {
                let mut e = build::ct_state_new();
                e.push(Expr::Verdict(Verdict::Jump(chain.to_string())));
                e
            }
            Rule::ReturnUnmarked => {
                let mut e = build::mark_clear(MASQ_MARK);
                e.push(Expr::Verdict(Verdict::Return));
                e
            }
            Rule::ClearMark => build::mark_xor(MASQ_MARK),
            Rule::Masquerade => vec![Expr::Masquerade { fully_random: true }],
            Rule::MarkNonClusterSources { cluster } => {
                let mut e = prefix(IpField::Source, CmpOp::Neq, cluster);
                e.extend(build::daddr_proto_dport());
                e.push(lookup(SERVICE_IPS, None));
                e.extend(build::mark_or(MASQ_MARK));
                e
            }
            Rule::ServiceDispatch => vmap(build::daddr_proto_dport(), SERVICE_IPS),
            Rule::MarkNodePorts => {
                let mut e = local_non_loopback();
                e.extend(build::proto_dport());
                e.push(lookup(SERVICE_NODEPORTS, None));
                e.extend(build::mark_or(MASQ_MARK));
                e
            }
            Rule::NodePortDispatch => {
                let mut e = local_non_loopback();
                e.extend(vmap(build::proto_dport(), SERVICE_NODEPORTS));
                e
            }
            Rule::NoEndpointReject => {
                let mut e = build::daddr_proto_dport();
                e.push(lookup(NO_ENDPOINT_SERVICES, None));
                e.push(Expr::Verdict(Verdict::Goto(REJECT_CHAIN.to_string())));
                e
            }
            Rule::NoEndpointNodePortReject => {
                let mut e = local_daddr();
                e.extend(build::proto_dport());
                e.push(lookup(NO_ENDPOINT_NODEPORTS, None));
                e.push(Expr::Verdict(Verdict::Goto(REJECT_CHAIN.to_string())));
                e
            }
            Rule::RejectClusterIps => vec![
                build::ip_addr(IpField::Destination, Reg::R1),
                lookup(CLUSTER_IPS, None),
                Expr::Verdict(Verdict::Goto(REJECT_CHAIN.to_string())),
            ],
            Rule::DropServiceCidr { cidr } => {
                let mut e = prefix(IpField::Destination, CmpOp::Eq, cidr);
                e.push(Expr::Verdict(Verdict::Drop));
                e
            }
            Rule::RejectTcpReset => {
                let mut e = build::l4proto_eq(proto_number(TransportProtocol::Tcp));
                e.push(Expr::Reject(Reject::TcpReset));
                e
            }
            Rule::RejectIcmp => vec![Expr::Reject(Reject::IcmpPortUnreachable)],
            Rule::MasqueradePodEgress { cluster, service } => {
                let mut e = prefix(IpField::Source, CmpOp::Eq, cluster);
                e.extend(prefix(IpField::Destination, CmpOp::Neq, cluster));
                e.extend(prefix(IpField::Destination, CmpOp::Neq, service));
                e.push(Expr::Masquerade { fully_random: true });
                e
            }
            Rule::Notrack {
                toward,
                ip,
                proto,
                port,
            } => {
                let (addr, port_field) = if *toward {
                    (IpField::Destination, PortField::Destination)
                } else {
                    (IpField::Source, PortField::Source)
                };
                let mut e = build::ip_addr_cmp(addr, CmpOp::Eq, *ip);
                e.extend(build::l4proto_eq(proto_number(*proto)));
                e.extend(build::th_port_eq(port_field, *port));
                e.push(Expr::Notrack);
                e
            }
            Rule::MarkHairpin => {
                let mut e = build::ct_status_any(build::CT_STATUS_DNAT);
                let regs = Reg::concat_layout(&[4, 4]);
                e.push(build::ip_addr(IpField::Source, regs[0]));
                e.push(build::ip_addr(IpField::Destination, regs[1]));
                e.push(lookup(HAIRPIN, None));
                e.extend(build::mark_or(MASQ_MARK));
                e
            }
            Rule::PickSlot { entry, count } => {
                let (mut e, map, slot) = match entry {
                    Entry::NodePort => {
                        let regs = Reg::concat_layout(&[1, 2, 4]);
                        (build::proto_dport(), nodeport_slots_map(*count), regs[2])
                    }
                    Entry::Address => {
                        let regs = Reg::concat_layout(&[4, 1, 2, 4]);
                        (build::daddr_proto_dport(), slots_map(*count), regs[3])
                    }
                };
                // The slot is the key's last field; the data (address . port) comes back in
                // the key's first registers, as nft lays out `dnat ip to … map`.
                e.push(Expr::NumgenRandom {
                    dreg: slot,
                    modulus: *count,
                });
                e.push(lookup(&map, Some(Reg::R1)));
                let data = Reg::concat_layout(&[4, 2]);
                e.push(Expr::DnatMapped {
                    addr: data[0],
                    port: data[1],
                });
                e
            }
            Rule::KeepAffinity {
                endpoint_id,
                timeout,
                proto,
                endpoint,
            } => {
                let mut e = client_and_endpoint(*endpoint_id);
                e.push(lookup(AFFINITY, None));
                e.push(affinity_update(*timeout));
                e.extend(build::dnat_to(
                    proto_number(*proto),
                    *endpoint.ip(),
                    endpoint.port(),
                ));
                e
            }
            Rule::PickWithAffinity {
                remaining,
                endpoint_id,
                timeout,
                proto,
                endpoint,
            } => {
                let mut e = Vec::new();
                if *remaining > 1 {
                    e.push(Expr::NumgenRandom {
                        dreg: Reg::R1,
                        modulus: *remaining,
                    });
                    e.push(Expr::Cmp {
                        sreg: Reg::R1,
                        op: CmpOp::Eq,
                        data: vec![0; 4],
                    });
                }
                e.extend(client_and_endpoint(*endpoint_id));
                e.push(affinity_update(*timeout));
                e.extend(build::dnat_to(
                    proto_number(*proto),
                    *endpoint.ip(),
                    endpoint.port(),
                ));
                e
            }
        }
    }
}

/// `update @affinity { ip saddr . ENDPOINT-ID timeout T }`, with the key loaded.
fn affinity_update(timeout: Duration) -> Expr {
    Expr::Dynset {
        op: DynsetOp::Update,
        set: AFFINITY.to_string(),
        sreg_key: Reg::R1,
        timeout: Some(timeout),
    }
}

/// `ip saddr . ENDPOINT-ID`, the key of the affinity set.
fn client_and_endpoint(endpoint_id: u32) -> Vec<Expr> {
    let regs = Reg::concat_layout(&[4, 4]);
    vec![
        build::ip_addr(IpField::Source, regs[0]),
        Expr::Immediate {
            dreg: regs[1],
            data: endpoint_id.to_ne_bytes().to_vec(),
        },
    ]
}

fn prefix(field: IpField, op: CmpOp, cidr: &Ipv4Cidr) -> Vec<Expr> {
    build::ip_prefix_cmp(field, op, cidr.network(), cidr.prefix())
}

fn lookup(set: &str, dreg: Option<Reg>) -> Expr {
    Expr::Lookup {
        sreg: Reg::R1,
        set: SetRef::Name(set.to_string()),
        dreg,
        invert: false,
    }
}

fn vmap(mut load: Vec<Expr>, map: &str) -> Vec<Expr> {
    load.push(lookup(map, Some(Reg::VERDICT)));
    load
}

fn local_daddr() -> Vec<Expr> {
    vec![
        Expr::FibDaddrType { dreg: Reg::R1 },
        Expr::Cmp {
            sreg: Reg::R1,
            op: CmpOp::Eq,
            data: RTN_LOCAL.to_ne_bytes().to_vec(),
        },
    ]
}

/// Node ports answer on the node's addresses but not on loopback (as kube-proxy without
/// route_localnet).
fn local_non_loopback() -> Vec<Expr> {
    let mut e = local_daddr();
    e.extend(prefix(IpField::Destination, CmpOp::Neq, &LOOPBACK));
    e
}

impl fmt::Display for Rule {
    /// The nft text of the rule, as `nft list table` prints it (close enough to read).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Jump(chain) => write!(f, "jump {chain}"),
            Rule::NewJump(chain) => write!(f, "ct state new jump {chain}"),
            Rule::ReturnUnmarked => write!(f, "meta mark & 0x{MASQ_MARK:08x} == 0x0 return"),
            Rule::ClearMark => write!(f, "meta mark set meta mark ^ 0x{MASQ_MARK:08x}"),
            Rule::Masquerade => write!(f, "masquerade fully-random"),
            Rule::MarkNonClusterSources { cluster } => write!(
                f,
                "ip saddr != {cluster} ip daddr . meta l4proto . th dport @{SERVICE_IPS} meta mark set meta mark | 0x{MASQ_MARK:08x}"
            ),
            Rule::ServiceDispatch => {
                write!(f, "ip daddr . meta l4proto . th dport vmap @{SERVICE_IPS}")
            }
            Rule::MarkNodePorts => write!(
                f,
                "fib daddr type local ip daddr != {LOOPBACK} meta l4proto . th dport @{SERVICE_NODEPORTS} meta mark set meta mark | 0x{MASQ_MARK:08x}"
            ),
            Rule::NodePortDispatch => write!(
                f,
                "fib daddr type local ip daddr != {LOOPBACK} meta l4proto . th dport vmap @{SERVICE_NODEPORTS}"
            ),
            Rule::NoEndpointReject => write!(
                f,
                "ip daddr . meta l4proto . th dport @{NO_ENDPOINT_SERVICES} goto {REJECT_CHAIN}"
            ),
            Rule::NoEndpointNodePortReject => write!(
                f,
                "fib daddr type local meta l4proto . th dport @{NO_ENDPOINT_NODEPORTS} goto {REJECT_CHAIN}"
            ),
            Rule::RejectClusterIps => write!(f, "ip daddr @{CLUSTER_IPS} goto {REJECT_CHAIN}"),
            Rule::DropServiceCidr { cidr } => write!(f, "ip daddr {cidr} drop"),
            Rule::RejectTcpReset => write!(f, "meta l4proto tcp reject with tcp reset"),
            Rule::RejectIcmp => write!(f, "reject"),
            Rule::MasqueradePodEgress { cluster, service } => write!(
                f,
                "ip saddr {cluster} ip daddr != {cluster} ip daddr != {service} masquerade fully-random"
            ),
            Rule::Notrack {
                toward,
                ip,
                proto,
                port,
            } => {
                let (a, p) = if *toward {
                    ("daddr", "dport")
                } else {
                    ("saddr", "sport")
                };
                write!(
                    f,
                    "ip {a} {ip} meta l4proto {} th {p} {port} notrack",
                    proto.as_str()
                )
            }
            Rule::MarkHairpin => write!(
                f,
                "ct status dnat ip saddr . ip daddr @{HAIRPIN} meta mark set meta mark | 0x{MASQ_MARK:08x}"
            ),
            Rule::PickSlot { entry, count } => {
                let (key, map) = match entry {
                    Entry::NodePort => ("meta l4proto . th dport", nodeport_slots_map(*count)),
                    Entry::Address => ("ip daddr . meta l4proto . th dport", slots_map(*count)),
                };
                write!(
                    f,
                    "dnat ip to {key} . numgen random mod {count} map @{map}"
                )
            }
            Rule::KeepAffinity {
                endpoint_id,
                timeout,
                proto,
                endpoint,
            } => write!(
                f,
                "ip saddr . {endpoint_id} @{AFFINITY} update @{AFFINITY} {{ ip saddr . {endpoint_id} timeout {}s }} meta l4proto {} dnat to {endpoint}",
                timeout.as_secs(),
                proto.as_str()
            ),
            Rule::PickWithAffinity {
                remaining,
                endpoint_id,
                timeout,
                proto,
                endpoint,
            } => {
                if *remaining > 1 {
                    write!(f, "numgen random mod {remaining} == 0 ")?;
                }
                write!(
                    f,
                    "update @{AFFINITY} {{ ip saddr . {endpoint_id} timeout {}s }} meta l4proto {} dnat to {endpoint}",
                    timeout.as_secs(),
                    proto.as_str()
                )
            }
        }
    }
}
