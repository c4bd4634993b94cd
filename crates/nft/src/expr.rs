//! Rule expressions (payload, meta, cmp, bitwise, immediate, lookup, numgen, nat, masq, ct,
//! counter, dynset, reject, notrack, fib) and their netlink encoding, each exactly as
//! `nft --debug=netlink` shows them.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::nla;

/// A register: 0 is the verdict register, 1–4 the 128-bit ones, 8–23 the 32-bit ones that
/// concatenations use (`nft --debug=netlink` prints the same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg(pub u32);

impl Reg {
    pub const VERDICT: Reg = Reg(0);
    pub const R1: Reg = Reg(1);
    pub const R2: Reg = Reg(2);

    /// The registers the fields of a concatenation are loaded into, given each field's length
    /// in bytes: every field starts on a fresh 32-bit register, the first one as `reg 1`, just as
    /// nft lays out `ip daddr . meta l4proto . th dport` (reg 1, 9, 10).
    pub fn concat_layout(field_lens: &[u32]) -> Vec<Reg> {
        let mut regs = Vec::with_capacity(field_lens.len());
        let mut offset = 0;
        for len in field_lens {
            regs.push(if offset == 0 {
                Reg::R1
            } else {
                Reg(8 + offset)
            });
            offset += len.div_ceil(4);
        }
        regs
    }
}

/// Where a payload load starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadBase {
    Network,
    Transport,
}

/// The packet metadata ferry reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaKey {
    Mark,
    L4Proto,
    NfProto,
}

/// Comparison operators of `cmp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
}

/// A verdict, as an immediate or as data of a verdict map element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    Return,
    Jump(String),
    Goto(String),
}

/// How a rule or element names a set: by name, or by the transaction id of a set created in
/// the same batch (anonymous sets, whose name the kernel picks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetRef {
    Name(String),
    Anonymous(u32),
}

/// Connection-tracking keys ferry reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtKey {
    /// The state bit mask: invalid 1, established 2, related 4, new 8, untracked 64.
    State,
    /// The status bit mask (`IPS_*`): destination NAT done is 0x20.
    Status,
}

/// What `reject` answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// A TCP reset (only valid for TCP packets).
    TcpReset,
    /// ICMP destination unreachable, port unreachable (what a plain `reject` sends).
    IcmpPortUnreachable,
}

/// Operations of `dynset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynsetOp {
    Add,
    Update,
}

/// One expression of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Payload {
        base: PayloadBase,
        offset: u32,
        len: u32,
        dreg: Reg,
    },
    Meta {
        key: MetaKey,
        dreg: Reg,
    },
    MetaSet {
        key: MetaKey,
        sreg: Reg,
    },
    Cmp {
        sreg: Reg,
        op: CmpOp,
        data: Vec<u8>,
    },
    /// `dreg = (sreg & mask) ^ xor` over `mask.len()` bytes.
    Bitwise {
        sreg: Reg,
        dreg: Reg,
        mask: Vec<u8>,
        xor: Vec<u8>,
    },
    Immediate {
        dreg: Reg,
        data: Vec<u8>,
    },
    Verdict(Verdict),
    /// Set membership (no `dreg`) or map lookup (`dreg` 0 for verdict maps).
    Lookup {
        sreg: Reg,
        set: SetRef,
        dreg: Option<Reg>,
        invert: bool,
    },
    /// `numgen random mod modulus`.
    NumgenRandom {
        dreg: Reg,
        modulus: u32,
    },
    /// IPv4 destination NAT to the address in `addr` and, when given, the port in `port`.
    Dnat {
        addr: Reg,
        port: Option<Reg>,
    },
    /// IPv4 destination NAT to the `address . port` a map lookup loaded at `addr` (the port
    /// on the next 32-bit register, `port`): `dnat ip to … map @m`, which nft sends as a
    /// one-address, one-port range.
    DnatMapped {
        addr: Reg,
        port: Reg,
    },
    Masquerade {
        fully_random: bool,
    },
    Ct {
        key: CtKey,
        dreg: Reg,
    },
    Counter,
    /// Adds or refreshes the key in `sreg_key` in a set with the timeout flag.
    Dynset {
        op: DynsetOp,
        set: String,
        sreg_key: Reg,
        timeout: Option<Duration>,
    },
    Reject(Reject),
    Notrack,
    /// `fib daddr type`: the route type (RTN_LOCAL = 2, …) of the destination address.
    FibDaddrType {
        dreg: Reg,
    },
}

// Attribute numbers and values from linux/netfilter/nf_tables.h.
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;
const NFTA_PAYLOAD_DREG: u16 = 1;
const NFTA_PAYLOAD_BASE: u16 = 2;
const NFTA_PAYLOAD_OFFSET: u16 = 3;
const NFTA_PAYLOAD_LEN: u16 = 4;
const NFT_PAYLOAD_NETWORK_HEADER: u32 = 1;
const NFT_PAYLOAD_TRANSPORT_HEADER: u32 = 2;
const NFTA_META_DREG: u16 = 1;
const NFTA_META_KEY: u16 = 2;
const NFTA_META_SREG: u16 = 3;
const NFT_META_MARK: u32 = 3;
const NFT_META_NFPROTO: u32 = 15;
const NFT_META_L4PROTO: u32 = 16;
const NFTA_CMP_SREG: u16 = 1;
const NFTA_CMP_OP: u16 = 2;
const NFTA_CMP_DATA: u16 = 3;
const NFT_CMP_EQ: u32 = 0;
const NFT_CMP_NEQ: u32 = 1;
const NFTA_BITWISE_SREG: u16 = 1;
const NFTA_BITWISE_DREG: u16 = 2;
const NFTA_BITWISE_LEN: u16 = 3;
const NFTA_BITWISE_MASK: u16 = 4;
const NFTA_BITWISE_XOR: u16 = 5;
const NFTA_IMMEDIATE_DREG: u16 = 1;
const NFTA_IMMEDIATE_DATA: u16 = 2;
const NFTA_LOOKUP_SET: u16 = 1;
const NFTA_LOOKUP_SREG: u16 = 2;
const NFTA_LOOKUP_DREG: u16 = 3;
const NFTA_LOOKUP_SET_ID: u16 = 4;
const NFTA_LOOKUP_FLAGS: u16 = 5;
const NFT_LOOKUP_F_INV: u32 = 1;
const NFTA_NG_DREG: u16 = 1;
const NFTA_NG_MODULUS: u16 = 2;
const NFTA_NG_TYPE: u16 = 3;
const NFT_NG_RANDOM: u32 = 1;
const NFTA_NAT_TYPE: u16 = 1;
const NFTA_NAT_FAMILY: u16 = 2;
const NFTA_NAT_REG_ADDR_MIN: u16 = 3;
const NFTA_NAT_REG_ADDR_MAX: u16 = 4;
const NFTA_NAT_REG_PROTO_MIN: u16 = 5;
const NFTA_NAT_REG_PROTO_MAX: u16 = 6;
const NFTA_NAT_FLAGS: u16 = 7;
const NFT_NAT_DNAT: u32 = 1;
const NFPROTO_IPV4: u32 = 2;
const NF_NAT_RANGE_MAP_IPS: u32 = 1 << 0;
const NF_NAT_RANGE_PROTO_SPECIFIED: u32 = 1 << 1;
const NF_NAT_RANGE_PROTO_RANDOM_FULLY: u32 = 1 << 4;
const NFTA_MASQ_FLAGS: u16 = 1;
const NFTA_CT_DREG: u16 = 1;
const NFTA_CT_KEY: u16 = 2;
const NFT_CT_STATE: u32 = 0;
const NFT_CT_STATUS: u32 = 2;
const NFTA_DYNSET_SET_NAME: u16 = 1;
const NFTA_DYNSET_OP: u16 = 3;
const NFTA_DYNSET_SREG_KEY: u16 = 4;
const NFTA_DYNSET_TIMEOUT: u16 = 6;
const NFT_DYNSET_OP_ADD: u32 = 0;
const NFT_DYNSET_OP_UPDATE: u32 = 1;
const NFTA_REJECT_TYPE: u16 = 1;
const NFTA_REJECT_ICMP_CODE: u16 = 2;
const NFT_REJECT_ICMP_UNREACH: u32 = 0;
const NFT_REJECT_TCP_RST: u32 = 1;
const ICMP_PORT_UNREACH: u8 = 3;
const NFTA_FIB_DREG: u16 = 1;
const NFTA_FIB_RESULT: u16 = 2;
const NFTA_FIB_FLAGS: u16 = 3;
const NFT_FIB_RESULT_ADDRTYPE: u32 = 3;
const NFTA_FIB_F_DADDR: u32 = 1 << 1;
const NFT_JUMP: u32 = -3i32 as u32;
const NFT_GOTO: u32 = -4i32 as u32;
const NFT_RETURN: u32 = -5i32 as u32;
const NF_DROP: u32 = 0;
const NF_ACCEPT: u32 = 1;

impl Expr {
    /// Appends the expression as one `NFTA_LIST_ELEM` of a rule's expression list.
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) {
        let elem = nla::begin_nested(buf, NFTA_LIST_ELEM);
        nla::put_str(buf, NFTA_EXPR_NAME, self.name());
        let data = nla::begin_nested(buf, NFTA_EXPR_DATA);
        self.encode_data(buf);
        nla::end_nested(buf, data);
        nla::end_nested(buf, elem);
    }

    /// The kernel's name of the expression type.
    fn name(&self) -> &'static str {
        match self {
            Expr::Payload { .. } => "payload",
            Expr::Meta { .. } | Expr::MetaSet { .. } => "meta",
            Expr::Cmp { .. } => "cmp",
            Expr::Bitwise { .. } => "bitwise",
            Expr::Immediate { .. } | Expr::Verdict(_) => "immediate",
            Expr::Lookup { .. } => "lookup",
            Expr::NumgenRandom { .. } => "numgen",
            Expr::Dnat { .. } | Expr::DnatMapped { .. } => "nat",
            Expr::Masquerade { .. } => "masq",
            Expr::Ct { .. } => "ct",
            Expr::Counter => "counter",
            Expr::Dynset { .. } => "dynset",
            Expr::Reject(_) => "reject",
            Expr::Notrack => "notrack",
            Expr::FibDaddrType { .. } => "fib",
        }
    }

    /// The attributes inside `NFTA_EXPR_DATA`.
    fn encode_data(&self, buf: &mut Vec<u8>) {
        match self {
            Expr::Payload {
                base,
                offset,
                len,
                dreg,
            } => {
                nla::put_u32(buf, NFTA_PAYLOAD_DREG, dreg.0);
                nla::put_u32(
                    buf,
                    NFTA_PAYLOAD_BASE,
                    match base {
                        PayloadBase::Network => NFT_PAYLOAD_NETWORK_HEADER,
                        PayloadBase::Transport => NFT_PAYLOAD_TRANSPORT_HEADER,
                    },
                );
                nla::put_u32(buf, NFTA_PAYLOAD_OFFSET, *offset);
                nla::put_u32(buf, NFTA_PAYLOAD_LEN, *len);
            }
            Expr::Meta { key, dreg } => {
                nla::put_u32(buf, NFTA_META_DREG, dreg.0);
                nla::put_u32(buf, NFTA_META_KEY, meta_key(*key));
            }
            Expr::MetaSet { key, sreg } => {
                nla::put_u32(buf, NFTA_META_KEY, meta_key(*key));
                nla::put_u32(buf, NFTA_META_SREG, sreg.0);
            }
            Expr::Cmp { sreg, op, data } => {
                nla::put_u32(buf, NFTA_CMP_SREG, sreg.0);
                nla::put_u32(
                    buf,
                    NFTA_CMP_OP,
                    match op {
                        CmpOp::Eq => NFT_CMP_EQ,
                        CmpOp::Neq => NFT_CMP_NEQ,
                    },
                );
                put_data_value(buf, NFTA_CMP_DATA, data);
            }
            Expr::Bitwise {
                sreg,
                dreg,
                mask,
                xor,
            } => {
                nla::put_u32(buf, NFTA_BITWISE_SREG, sreg.0);
                nla::put_u32(buf, NFTA_BITWISE_DREG, dreg.0);
                nla::put_u32(buf, NFTA_BITWISE_LEN, mask.len() as u32);
                put_data_value(buf, NFTA_BITWISE_MASK, mask);
                put_data_value(buf, NFTA_BITWISE_XOR, xor);
            }
            Expr::Immediate { dreg, data } => {
                nla::put_u32(buf, NFTA_IMMEDIATE_DREG, dreg.0);
                put_data_value(buf, NFTA_IMMEDIATE_DATA, data);
            }
            Expr::Verdict(verdict) => {
                nla::put_u32(buf, NFTA_IMMEDIATE_DREG, Reg::VERDICT.0);
                put_verdict(buf, NFTA_IMMEDIATE_DATA, verdict);
            }
            Expr::Lookup {
                sreg,
                set,
                dreg,
                invert,
            } => {
                match set {
                    SetRef::Name(name) => nla::put_str(buf, NFTA_LOOKUP_SET, name),
                    SetRef::Anonymous(id) => {
                        nla::put_str(buf, NFTA_LOOKUP_SET, ANONYMOUS_MAP_NAME);
                        nla::put_u32(buf, NFTA_LOOKUP_SET_ID, *id);
                    }
                }
                nla::put_u32(buf, NFTA_LOOKUP_SREG, sreg.0);
                if let Some(dreg) = dreg {
                    nla::put_u32(buf, NFTA_LOOKUP_DREG, dreg.0);
                }
                if *invert {
                    nla::put_u32(buf, NFTA_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
                }
            }
            Expr::NumgenRandom { dreg, modulus } => {
                nla::put_u32(buf, NFTA_NG_DREG, dreg.0);
                nla::put_u32(buf, NFTA_NG_MODULUS, *modulus);
                nla::put_u32(buf, NFTA_NG_TYPE, NFT_NG_RANDOM);
            }
            Expr::Dnat { addr, port } => {
                nla::put_u32(buf, NFTA_NAT_TYPE, NFT_NAT_DNAT);
                nla::put_u32(buf, NFTA_NAT_FAMILY, NFPROTO_IPV4);
                nla::put_u32(buf, NFTA_NAT_REG_ADDR_MIN, addr.0);
                if let Some(port) = port {
                    nla::put_u32(buf, NFTA_NAT_REG_PROTO_MIN, port.0);
                    nla::put_u32(buf, NFTA_NAT_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
                }
            }
            Expr::DnatMapped { addr, port } => {
                nla::put_u32(buf, NFTA_NAT_TYPE, NFT_NAT_DNAT);
                nla::put_u32(buf, NFTA_NAT_FAMILY, NFPROTO_IPV4);
                nla::put_u32(buf, NFTA_NAT_REG_ADDR_MIN, addr.0);
                nla::put_u32(buf, NFTA_NAT_REG_ADDR_MAX, addr.0);
                nla::put_u32(buf, NFTA_NAT_REG_PROTO_MIN, port.0);
                nla::put_u32(buf, NFTA_NAT_REG_PROTO_MAX, port.0);
                nla::put_u32(
                    buf,
                    NFTA_NAT_FLAGS,
                    NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED,
                );
            }
            Expr::Masquerade { fully_random } => {
                if *fully_random {
                    nla::put_u32(buf, NFTA_MASQ_FLAGS, NF_NAT_RANGE_PROTO_RANDOM_FULLY);
                }
            }
            Expr::Ct { key, dreg } => {
                nla::put_u32(buf, NFTA_CT_DREG, dreg.0);
                nla::put_u32(
                    buf,
                    NFTA_CT_KEY,
                    match key {
                        CtKey::State => NFT_CT_STATE,
                        CtKey::Status => NFT_CT_STATUS,
                    },
                );
            }
            Expr::Counter | Expr::Notrack => {}
            Expr::Dynset {
                op,
                set,
                sreg_key,
                timeout,
            } => {
                nla::put_str(buf, NFTA_DYNSET_SET_NAME, set);
                nla::put_u32(
                    buf,
                    NFTA_DYNSET_OP,
                    match op {
                        DynsetOp::Add => NFT_DYNSET_OP_ADD,
                        DynsetOp::Update => NFT_DYNSET_OP_UPDATE,
                    },
                );
                nla::put_u32(buf, NFTA_DYNSET_SREG_KEY, sreg_key.0);
                if let Some(timeout) = timeout {
                    nla::put_u64(buf, NFTA_DYNSET_TIMEOUT, millis(*timeout));
                }
            }
            Expr::Reject(reject) => {
                let (kind, code) = match reject {
                    Reject::TcpReset => (NFT_REJECT_TCP_RST, 0),
                    Reject::IcmpPortUnreachable => (NFT_REJECT_ICMP_UNREACH, ICMP_PORT_UNREACH),
                };
                nla::put_u32(buf, NFTA_REJECT_TYPE, kind);
                nla::put(buf, NFTA_REJECT_ICMP_CODE, &[code]);
            }
            Expr::FibDaddrType { dreg } => {
                nla::put_u32(buf, NFTA_FIB_DREG, dreg.0);
                nla::put_u32(buf, NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
                nla::put_u32(buf, NFTA_FIB_FLAGS, NFTA_FIB_F_DADDR);
            }
        }
    }
}

/// Short-hands for the matches and actions a service proxy writes; each returns the expressions
/// nft itself would emit for the same text.
pub mod build {
    use super::*;

    /// `ip saddr` (`offset` 12) or `ip daddr` (16) into `dreg`.
    pub fn ip_addr(field: IpField, dreg: Reg) -> Expr {
        Expr::Payload {
            base: PayloadBase::Network,
            offset: field.offset(),
            len: 4,
            dreg,
        }
    }

    /// `ip saddr ADDR` / `ip daddr != ADDR`.
    pub fn ip_addr_cmp(field: IpField, op: CmpOp, addr: Ipv4Addr) -> Vec<Expr> {
        vec![
            ip_addr(field, Reg::R1),
            Expr::Cmp {
                sreg: Reg::R1,
                op,
                data: addr.octets().to_vec(),
            },
        ]
    }

    /// `ip saddr NET/LEN` (or `!=`): load, mask, compare.
    pub fn ip_prefix_cmp(field: IpField, op: CmpOp, net: Ipv4Addr, prefix_len: u8) -> Vec<Expr> {
        let mask = prefix_mask(prefix_len);
        let net = u32::from(net) & mask;
        vec![
            ip_addr(field, Reg::R1),
            Expr::Bitwise {
                sreg: Reg::R1,
                dreg: Reg::R1,
                mask: mask.to_be_bytes().to_vec(),
                xor: vec![0; 4],
            },
            Expr::Cmp {
                sreg: Reg::R1,
                op,
                data: net.to_be_bytes().to_vec(),
            },
        ]
    }

    /// `meta l4proto PROTO` (IANA protocol number: 6 tcp, 17 udp, 132 sctp).
    pub fn l4proto_eq(proto: u8) -> Vec<Expr> {
        vec![
            Expr::Meta {
                key: MetaKey::L4Proto,
                dreg: Reg::R1,
            },
            Expr::Cmp {
                sreg: Reg::R1,
                op: CmpOp::Eq,
                data: vec![proto],
            },
        ]
    }

    /// `th dport` (or `th sport`) into `dreg`.
    pub fn th_port(field: PortField, dreg: Reg) -> Expr {
        Expr::Payload {
            base: PayloadBase::Transport,
            offset: match field {
                PortField::Source => 0,
                PortField::Destination => 2,
            },
            len: 2,
            dreg,
        }
    }

    /// `th dport PORT`.
    pub fn th_port_eq(field: PortField, port: u16) -> Vec<Expr> {
        vec![
            th_port(field, Reg::R1),
            Expr::Cmp {
                sreg: Reg::R1,
                op: CmpOp::Eq,
                data: port.to_be_bytes().to_vec(),
            },
        ]
    }

    /// `ip daddr . meta l4proto . th dport` loaded for a lookup starting at `reg 1`.
    pub fn daddr_proto_dport() -> Vec<Expr> {
        let regs = Reg::concat_layout(&[4, 1, 2]);
        vec![
            ip_addr(IpField::Destination, regs[0]),
            Expr::Meta {
                key: MetaKey::L4Proto,
                dreg: regs[1],
            },
            th_port(PortField::Destination, regs[2]),
        ]
    }

    /// `meta l4proto . th dport` loaded for a lookup starting at `reg 1`.
    pub fn proto_dport() -> Vec<Expr> {
        let regs = Reg::concat_layout(&[1, 2]);
        vec![
            Expr::Meta {
                key: MetaKey::L4Proto,
                dreg: regs[0],
            },
            th_port(PortField::Destination, regs[1]),
        ]
    }

    /// `ct state new`.
    pub fn ct_state_new() -> Vec<Expr> {
        ct_state_any(CT_STATE_NEW)
    }

    /// `ct state` has any of the `bits` (new 8, established 2, related 4…).
    pub fn ct_state_any(bits: u32) -> Vec<Expr> {
        ct_any(CtKey::State, bits)
    }

    /// `ct status` has any of the `bits` (dnat 0x20, snat 0x10…).
    pub fn ct_status_any(bits: u32) -> Vec<Expr> {
        ct_any(CtKey::Status, bits)
    }

    /// A conntrack bit mask (state or status, both in host order) has any of the `bits`.
    fn ct_any(key: CtKey, bits: u32) -> Vec<Expr> {
        vec![
            Expr::Ct { key, dreg: Reg::R1 },
            Expr::Bitwise {
                sreg: Reg::R1,
                dreg: Reg::R1,
                mask: bits.to_ne_bytes().to_vec(),
                xor: vec![0; 4],
            },
            Expr::Cmp {
                sreg: Reg::R1,
                op: CmpOp::Neq,
                data: vec![0; 4],
            },
        ]
    }

    /// `meta mark set mark or BITS`.
    pub fn mark_or(bits: u32) -> Vec<Expr> {
        vec![
            Expr::Meta {
                key: MetaKey::Mark,
                dreg: Reg::R1,
            },
            Expr::Bitwise {
                sreg: Reg::R1,
                dreg: Reg::R1,
                mask: (!bits).to_ne_bytes().to_vec(),
                xor: bits.to_ne_bytes().to_vec(),
            },
            Expr::MetaSet {
                key: MetaKey::Mark,
                sreg: Reg::R1,
            },
        ]
    }

    /// `meta mark set mark xor BITS`.
    pub fn mark_xor(bits: u32) -> Vec<Expr> {
        vec![
            Expr::Meta {
                key: MetaKey::Mark,
                dreg: Reg::R1,
            },
            Expr::Bitwise {
                sreg: Reg::R1,
                dreg: Reg::R1,
                mask: u32::MAX.to_ne_bytes().to_vec(),
                xor: bits.to_ne_bytes().to_vec(),
            },
            Expr::MetaSet {
                key: MetaKey::Mark,
                sreg: Reg::R1,
            },
        ]
    }

    /// `meta mark & BITS == 0`.
    pub fn mark_clear(bits: u32) -> Vec<Expr> {
        vec![
            Expr::Meta {
                key: MetaKey::Mark,
                dreg: Reg::R1,
            },
            Expr::Bitwise {
                sreg: Reg::R1,
                dreg: Reg::R1,
                mask: bits.to_ne_bytes().to_vec(),
                xor: vec![0; 4],
            },
            Expr::Cmp {
                sreg: Reg::R1,
                op: CmpOp::Eq,
                data: vec![0; 4],
            },
        ]
    }

    /// `meta l4proto PROTO dnat to ADDR:PORT`.
    pub fn dnat_to(proto: u8, addr: Ipv4Addr, port: u16) -> Vec<Expr> {
        let mut exprs = l4proto_eq(proto);
        exprs.extend([
            Expr::Immediate {
                dreg: Reg::R1,
                data: addr.octets().to_vec(),
            },
            Expr::Immediate {
                dreg: Reg::R2,
                data: port.to_be_bytes().to_vec(),
            },
            Expr::Dnat {
                addr: Reg::R1,
                port: Some(Reg::R2),
            },
        ]);
        exprs
    }

    /// The `ct state` bit of a new connection.
    pub const CT_STATE_NEW: u32 = 8;

    /// The `ct status` bit of a connection whose destination was translated (IPS_DST_NAT).
    pub const CT_STATUS_DNAT: u32 = 0x20;

    /// The two IPv4 address fields.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum IpField {
        Source,
        Destination,
    }

    impl IpField {
        fn offset(self) -> u32 {
            match self {
                IpField::Source => 12,
                IpField::Destination => 16,
            }
        }
    }

    /// The two transport port fields (TCP, UDP and SCTP put them at the same place).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum PortField {
        Source,
        Destination,
    }

    fn prefix_mask(prefix_len: u8) -> u32 {
        match prefix_len {
            0 => 0,
            len if len >= 32 => u32::MAX,
            len => u32::MAX << (32 - u32::from(len)),
        }
    }
}

/// Appends `NFTA_DATA_VALUE` nested in `attr`: the data of a comparison, an immediate, a key.
pub(crate) fn put_data_value(buf: &mut Vec<u8>, attr: u16, value: &[u8]) {
    let data = nla::begin_nested(buf, attr);
    nla::put(buf, NFTA_DATA_VALUE, value);
    nla::end_nested(buf, data);
}

/// Appends `NFTA_DATA_VERDICT` nested in `attr`: an immediate verdict or verdict-map data.
pub(crate) fn put_verdict(buf: &mut Vec<u8>, attr: u16, verdict: &Verdict) {
    let data = nla::begin_nested(buf, attr);
    let inner = nla::begin_nested(buf, NFTA_DATA_VERDICT);
    let (code, chain) = match verdict {
        Verdict::Accept => (NF_ACCEPT, None),
        Verdict::Drop => (NF_DROP, None),
        Verdict::Return => (NFT_RETURN, None),
        Verdict::Jump(chain) => (NFT_JUMP, Some(chain)),
        Verdict::Goto(chain) => (NFT_GOTO, Some(chain)),
    };
    nla::put_u32(buf, NFTA_VERDICT_CODE, code);
    if let Some(chain) = chain {
        nla::put_str(buf, NFTA_VERDICT_CHAIN, chain);
    }
    nla::end_nested(buf, inner);
    nla::end_nested(buf, data);
}

/// The name under which the kernel finds an anonymous set of this batch together with its id;
/// nft sends the same template.
pub(crate) const ANONYMOUS_MAP_NAME: &str = "__map%d";

fn meta_key(key: MetaKey) -> u32 {
    match key {
        MetaKey::Mark => NFT_META_MARK,
        MetaKey::L4Proto => NFT_META_L4PROTO,
        MetaKey::NfProto => NFT_META_NFPROTO,
    }
}

/// Milliseconds, as nf_tables wants timeouts; saturates instead of wrapping.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The encoded bytes of one expression list element, for tests comparing with nft's output.
#[cfg(test)]
pub(crate) fn encode(expr: &Expr) -> Vec<u8> {
    let mut buf = Vec::new();
    expr.encode(&mut buf);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{NlaBuffer, NlasIterator};

    /// The expression's name and its data attributes as (type, value) pairs, decoded from the
    /// bytes we send; the expected values are what `nft --debug=mnl` shows for the same text.
    fn decode(expr: &Expr) -> (String, Attrs) {
        let bytes = encode(expr);
        let elem = NlaBuffer::new_checked(&bytes[..]).unwrap();
        assert_eq!(elem.kind(), 1, "NFTA_LIST_ELEM");
        let mut name = String::new();
        let mut attrs = Vec::new();
        for nla in NlasIterator::new(elem.value()) {
            let nla = nla.unwrap();
            match nla.kind() {
                1 => name = String::from_utf8(nla.value().to_vec()).unwrap(),
                2 => {
                    for inner in NlasIterator::new(nla.value()) {
                        let inner = inner.unwrap();
                        attrs.push((inner.kind(), inner.value().to_vec()));
                    }
                }
                other => panic!("unexpected attribute {other}"),
            }
        }
        (name.trim_end_matches('\0').to_string(), attrs)
    }

    type Attrs = Vec<(u16, Vec<u8>)>;

    fn be(v: u32) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }

    #[test]
    fn numgen_bytes() {
        // [ numgen reg 1 = random mod 3 ]
        let expr = Expr::NumgenRandom {
            dreg: Reg::R1,
            modulus: 3,
        };
        let mut want = vec![0x2c, 0, 0x01, 0x80, 0x0b, 0, 0x01, 0];
        want.extend_from_slice(b"numgen\0\0");
        want.extend_from_slice(&[0x1c, 0, 0x02, 0x80]);
        for (kind, value) in [(1u8, 1u8), (2, 3), (3, 1)] {
            want.extend_from_slice(&[8, 0, kind, 0, 0, 0, 0, value]);
        }
        assert_eq!(encode(&expr), want);
    }

    #[test]
    fn hand_written_encoders_match_nft() {
        let table: Vec<(Expr, &str, Attrs)> = vec![
            // [ nat dnat ip addr_min reg 1 proto_min reg 2 flags 0x2 ]
            (
                Expr::Dnat {
                    addr: Reg::R1,
                    port: Some(Reg::R2),
                },
                "nat",
                vec![(1, be(1)), (2, be(2)), (3, be(1)), (5, be(2)), (7, be(2))],
            ),
            // [ masq flags 0x10 ]
            (
                Expr::Masquerade { fully_random: true },
                "masq",
                vec![(1, be(0x10))],
            ),
            // [ ct load state => reg 1 ]
            (
                Expr::Ct {
                    key: CtKey::State,
                    dreg: Reg::R1,
                },
                "ct",
                vec![(1, be(1)), (2, be(0))],
            ),
            // [ dynset update reg_key 1 set aff timeout 10800000ms ]
            (
                Expr::Dynset {
                    op: DynsetOp::Update,
                    set: "aff".into(),
                    sreg_key: Reg::R1,
                    timeout: Some(Duration::from_secs(10800)),
                },
                "dynset",
                vec![
                    (1, b"aff\0".to_vec()),
                    (3, be(1)),
                    (4, be(1)),
                    (6, 10_800_000u64.to_be_bytes().to_vec()),
                ],
            ),
            // [ reject type 1 code 0 ] (with tcp reset)
            (
                Expr::Reject(Reject::TcpReset),
                "reject",
                vec![(1, be(1)), (2, vec![0])],
            ),
            // [ reject type 0 code 3 ]
            (
                Expr::Reject(Reject::IcmpPortUnreachable),
                "reject",
                vec![(1, be(0)), (2, vec![3])],
            ),
            // [ fib daddr type => reg 1 ]
            (
                Expr::FibDaddrType { dreg: Reg::R1 },
                "fib",
                vec![(1, be(1)), (2, be(3)), (3, be(2))],
            ),
            (Expr::Notrack, "notrack", vec![]),
            (Expr::Counter, "counter", vec![]),
        ];
        for (expr, name, attrs) in table {
            assert_eq!(decode(&expr), (name.to_string(), attrs), "{expr:?}");
        }
    }

    #[test]
    fn concatenations_start_each_field_on_a_32_bit_register() {
        // ip daddr . meta l4proto . th dport => reg 1, reg 9, reg 10
        assert_eq!(
            Reg::concat_layout(&[4, 1, 2]),
            vec![Reg(1), Reg(9), Reg(10)]
        );
        // meta l4proto . th dport => reg 1, reg 9
        assert_eq!(Reg::concat_layout(&[1, 2]), vec![Reg(1), Reg(9)]);
        // a 16-byte field takes four registers
        assert_eq!(Reg::concat_layout(&[16, 2]), vec![Reg(1), Reg(12)]);
    }

    #[test]
    fn prefix_match_masks_and_compares_in_network_order() {
        // ip daddr != 10.96.0.0/12: [ bitwise reg 1 = ( reg 1 & 0x0000f0ff ) ^ 0x00000000 ]
        let exprs = build::ip_prefix_cmp(
            build::IpField::Destination,
            CmpOp::Neq,
            Ipv4Addr::new(10, 96, 1, 1),
            12,
        );
        assert_eq!(
            exprs[1],
            Expr::Bitwise {
                sreg: Reg::R1,
                dreg: Reg::R1,
                mask: vec![0xff, 0xf0, 0, 0],
                xor: vec![0; 4],
            }
        );
        assert_eq!(
            exprs[2],
            Expr::Cmp {
                sreg: Reg::R1,
                op: CmpOp::Neq,
                data: vec![10, 96, 0, 0],
            }
        );
    }
}
