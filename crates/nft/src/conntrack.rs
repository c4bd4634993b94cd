//! Deleting conntrack entries over ctnetlink: a dump of the IPv4 table, filtered here, then one
//! IPCTNL_MSG_CT_DELETE per match by its original tuple. Used to flush stale UDP flows whose
//! service or endpoint went away (UDP has no connection end that would expire them).

use std::net::{IpAddr, SocketAddrV4};

use netlink_packet_netfilter::conntrack::{
    ConntrackAttribute, ConntrackMessage, IPTuple, ProtoTuple, Protocol, Tuple,
};
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterMessageInner};

use crate::socket::Netlink;
use crate::Error;

/// Which flows to delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlowMatch {
    /// Flows whose original destination is this address and port (a service's VIP:port).
    OriginalDestination(SocketAddrV4),
    /// Flows whose reply comes from this address and port (an endpoint DNAT picked).
    ReplySource(SocketAddrV4),
}

/// The addresses and ports of one direction of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FlowTuple {
    src: SocketAddrV4,
    dst: SocketAddrV4,
    proto: u8,
}

impl Netlink {
    /// Deletes the flows of IP protocol `proto` (17 for UDP) that match any of `matches`;
    /// returns how many were deleted. Flows that vanish meanwhile are not an error.
    pub fn delete_flows(&mut self, proto: u8, matches: &[FlowMatch]) -> Result<usize, Error> {
        if matches.is_empty() {
            return Ok(0);
        }
        let mut doomed = Vec::new();
        let request = NetfilterMessage::new(
            NetfilterHeader::new(netlink_packet_netfilter::NetfilterProtoFamily::IPv4, 0, 0),
            ConntrackMessage::Get(vec![]),
        );
        self.dump(request, "conntrack dump", |msg| {
            if let NetfilterMessageInner::Conntrack(ConntrackMessage::New(attrs)) = msg.inner {
                let (orig, reply) = flow_tuples(&attrs);
                if let (Some(orig), Some(reply)) = (orig, reply) {
                    if orig.proto == proto && matches.iter().any(|m| m.matches(&orig, &reply)) {
                        doomed.push(orig);
                    }
                }
            }
        })?;
        let mut deleted = 0;
        for orig in doomed {
            match self.request(delete_request(&orig), 0, "conntrack delete") {
                Ok(()) => deleted += 1,
                Err(Error::Request { source, .. })
                    if source.raw_os_error() == Some(nix::libc::ENOENT) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(deleted)
    }
}

impl FlowMatch {
    fn matches(&self, orig: &FlowTuple, reply: &FlowTuple) -> bool {
        match self {
            FlowMatch::OriginalDestination(addr) => orig.dst == *addr,
            FlowMatch::ReplySource(addr) => reply.src == *addr,
        }
    }
}

fn flow_tuples(attrs: &[ConntrackAttribute]) -> (Option<FlowTuple>, Option<FlowTuple>) {
    let mut orig = None;
    let mut reply = None;
    for attr in attrs {
        match attr {
            ConntrackAttribute::CtaTupleOrig(tuple) => orig = flow_tuple(tuple),
            ConntrackAttribute::CtaTupleReply(tuple) => reply = flow_tuple(tuple),
            _ => {}
        }
    }
    (orig, reply)
}

fn flow_tuple(tuple: &[Tuple]) -> Option<FlowTuple> {
    let mut src = None;
    let mut dst = None;
    let mut proto = None;
    let mut sport = 0;
    let mut dport = 0;
    for part in tuple {
        match part {
            Tuple::Ip(ips) => {
                for ip in ips {
                    match ip {
                        IPTuple::SourceAddress(IpAddr::V4(a)) => src = Some(*a),
                        IPTuple::DestinationAddress(IpAddr::V4(a)) => dst = Some(*a),
                        _ => {}
                    }
                }
            }
            Tuple::Proto(protos) => {
                for p in protos {
                    match p {
                        ProtoTuple::Protocol(p) => proto = Some(u8::from(*p)),
                        ProtoTuple::SourcePort(p) => sport = *p,
                        ProtoTuple::DestinationPort(p) => dport = *p,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(FlowTuple {
        src: SocketAddrV4::new(src?, sport),
        dst: SocketAddrV4::new(dst?, dport),
        proto: proto?,
    })
}

fn delete_request(orig: &FlowTuple) -> NetfilterMessage {
    let tuple = vec![
        Tuple::Ip(vec![
            IPTuple::SourceAddress(IpAddr::V4(*orig.src.ip())),
            IPTuple::DestinationAddress(IpAddr::V4(*orig.dst.ip())),
        ]),
        Tuple::Proto(vec![
            ProtoTuple::Protocol(Protocol::from(orig.proto)),
            ProtoTuple::SourcePort(orig.src.port()),
            ProtoTuple::DestinationPort(orig.dst.port()),
        ]),
    ];
    NetfilterMessage::new(
        NetfilterHeader::new(netlink_packet_netfilter::NetfilterProtoFamily::IPv4, 0, 0),
        ConntrackMessage::Delete(vec![ConntrackAttribute::CtaTupleOrig(tuple)]),
    )
}
