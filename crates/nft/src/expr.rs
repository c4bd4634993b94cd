//! Rule expressions: the typed ones of netlink-packet-netfilter (payload, meta, cmp, bitwise,
//! immediate, lookup) and hand-written encoders for the rest (numgen, nat, masq, ct, counter,
//! dynset, reject, notrack, fib), each exactly as `nft --debug=netlink` shows them.

use std::net::Ipv4Addr;
use std::time::Duration;

use netlink_packet_core::DefaultNla;
#[cfg(test)]
use netlink_packet_core::Emitable;
use netlink_packet_netfilter::nftables::{
    Bitwise, Cmp, DataAttribute, ExpressionAttribute, Expressions, Immediate, ListAttribute,
    Lookup, Meta, MetaKey as NlMetaKey, Operator, Payload, Register, VerdictAttribute,
};

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

// Attribute numbers from linux/netfilter/nf_tables.h for the expressions the crate does not type.
const NFTA_NG_DREG: u16 = 1;
const NFTA_NG_MODULUS: u16 = 2;
const NFTA_NG_TYPE: u16 = 3;
const NFT_NG_RANDOM: u32 = 1;
const NFTA_NAT_TYPE: u16 = 1;
const NFTA_NAT_FAMILY: u16 = 2;
const NFTA_NAT_REG_ADDR_MIN: u16 = 3;
const NFTA_NAT_REG_PROTO_MIN: u16 = 5;
const NFTA_NAT_FLAGS: u16 = 7;
const NFT_NAT_DNAT: u32 = 1;
const NFPROTO_IPV4: u32 = 2;
const NF_NAT_RANGE_PROTO_SPECIFIED: u32 = 1 << 1;
const NF_NAT_RANGE_PROTO_RANDOM_FULLY: u32 = 1 << 4;
const NFTA_MASQ_FLAGS: u16 = 1;
const NFTA_CT_DREG: u16 = 1;
const NFTA_CT_KEY: u16 = 2;
const NFT_CT_STATE: u32 = 0;
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
const NFT_LOOKUP_F_INV: u32 = 1;
const NFT_JUMP: u32 = -3i32 as u32;
const NFT_GOTO: u32 = -4i32 as u32;
const NFT_RETURN: u32 = -5i32 as u32;
const NF_DROP: u32 = 0;
const NF_ACCEPT: u32 = 1;

impl Expr {
    /// The netlink form of the expression: one `NFTA_LIST_ELEM` of a rule's expression list.
    pub(crate) fn to_netlink(&self) -> ListAttribute<ExpressionAttribute> {
        self.expressions().into()
    }

    fn expressions(&self) -> Expressions {
        match self {
            Expr::Payload {
                base,
                offset,
                len,
                dreg,
            } => Expressions::Payload(vec![
                Payload::DestinationRegister(register(*dreg)),
                Payload::Base(match base {
                    PayloadBase::Network => 1,
                    PayloadBase::Transport => 2,
                }),
                Payload::Offset(*offset),
                Payload::Len(*len),
            ]),
            Expr::Meta { key, dreg } => Expressions::Meta(vec![
                Meta::DestinationRegister(register(*dreg)),
                Meta::Key(meta_key(*key)),
            ]),
            Expr::MetaSet { key, sreg } => Expressions::Meta(vec![
                Meta::Key(meta_key(*key)),
                Meta::SourceRegister(register(*sreg)),
            ]),
            Expr::Cmp { sreg, op, data } => Expressions::Cmp(vec![
                Cmp::SourceRegister(register(*sreg)),
                Cmp::Op(match op {
                    CmpOp::Eq => Operator::Equal,
                    CmpOp::Neq => Operator::NotEqual,
                }),
                Cmp::Data(DataAttribute::Value(data.clone())),
            ]),
            Expr::Bitwise {
                sreg,
                dreg,
                mask,
                xor,
            } => Expressions::Bitwise(vec![
                Bitwise::SourceRegister(register(*sreg)),
                Bitwise::DestinationRegister(register(*dreg)),
                Bitwise::Length(mask.len() as u32),
                Bitwise::Mask(DataAttribute::Value(mask.clone())),
                Bitwise::Xor(DataAttribute::Value(xor.clone())),
            ]),
            Expr::Immediate { dreg, data } => Expressions::Immediate(vec![
                Immediate::DestinationRegister(register(*dreg)),
                Immediate::Data(DataAttribute::Value(data.clone())),
            ]),
            Expr::Verdict(verdict) => Expressions::Immediate(vec![
                Immediate::DestinationRegister(Register::Verdict),
                Immediate::Data(verdict_data(verdict)),
            ]),
            Expr::Lookup {
                sreg,
                set,
                dreg,
                invert,
            } => {
                let mut attrs = set_ref_lookup(set);
                attrs.push(Lookup::SourceRegister(register(*sreg)));
                if let Some(dreg) = dreg {
                    attrs.push(Lookup::DestinationRegister(register(*dreg)));
                }
                if *invert {
                    attrs.push(Lookup::Flags(NFT_LOOKUP_F_INV));
                }
                Expressions::Lookup(attrs)
            }
            Expr::NumgenRandom { dreg, modulus } => other(
                "numgen",
                vec![
                    u32_nla(NFTA_NG_DREG, dreg.0),
                    u32_nla(NFTA_NG_MODULUS, *modulus),
                    u32_nla(NFTA_NG_TYPE, NFT_NG_RANDOM),
                ],
            ),
            Expr::Dnat { addr, port } => {
                let mut attrs = vec![
                    u32_nla(NFTA_NAT_TYPE, NFT_NAT_DNAT),
                    u32_nla(NFTA_NAT_FAMILY, NFPROTO_IPV4),
                    u32_nla(NFTA_NAT_REG_ADDR_MIN, addr.0),
                ];
                if let Some(port) = port {
                    attrs.push(u32_nla(NFTA_NAT_REG_PROTO_MIN, port.0));
                    attrs.push(u32_nla(NFTA_NAT_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED));
                }
                other("nat", attrs)
            }
            Expr::Masquerade { fully_random } => {
                let attrs = if *fully_random {
                    vec![u32_nla(NFTA_MASQ_FLAGS, NF_NAT_RANGE_PROTO_RANDOM_FULLY)]
                } else {
                    Vec::new()
                };
                other("masq", attrs)
            }
            Expr::Ct { key, dreg } => other(
                "ct",
                vec![
                    u32_nla(NFTA_CT_DREG, dreg.0),
                    u32_nla(
                        NFTA_CT_KEY,
                        match key {
                            CtKey::State => NFT_CT_STATE,
                        },
                    ),
                ],
            ),
            Expr::Counter => other("counter", Vec::new()),
            Expr::Dynset {
                op,
                set,
                sreg_key,
                timeout,
            } => {
                let mut attrs = vec![
                    string_nla(NFTA_DYNSET_SET_NAME, set),
                    u32_nla(
                        NFTA_DYNSET_OP,
                        match op {
                            DynsetOp::Add => NFT_DYNSET_OP_ADD,
                            DynsetOp::Update => NFT_DYNSET_OP_UPDATE,
                        },
                    ),
                    u32_nla(NFTA_DYNSET_SREG_KEY, sreg_key.0),
                ];
                if let Some(timeout) = timeout {
                    attrs.push(u64_nla(NFTA_DYNSET_TIMEOUT, millis(*timeout)));
                }
                other("dynset", attrs)
            }
            Expr::Reject(reject) => other(
                "reject",
                match reject {
                    Reject::TcpReset => vec![
                        u32_nla(NFTA_REJECT_TYPE, NFT_REJECT_TCP_RST),
                        DefaultNla::new(NFTA_REJECT_ICMP_CODE, vec![0]),
                    ],
                    Reject::IcmpPortUnreachable => vec![
                        u32_nla(NFTA_REJECT_TYPE, NFT_REJECT_ICMP_UNREACH),
                        DefaultNla::new(NFTA_REJECT_ICMP_CODE, vec![ICMP_PORT_UNREACH]),
                    ],
                },
            ),
            Expr::Notrack => other("notrack", Vec::new()),
            Expr::FibDaddrType { dreg } => other(
                "fib",
                vec![
                    u32_nla(NFTA_FIB_DREG, dreg.0),
                    u32_nla(NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE),
                    u32_nla(NFTA_FIB_FLAGS, NFTA_FIB_F_DADDR),
                ],
            ),
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
        vec![
            Expr::Ct {
                key: CtKey::State,
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

/// The netlink data of a verdict (immediate or verdict-map element data).
pub(crate) fn verdict_data(verdict: &Verdict) -> DataAttribute {
    let attrs = match verdict {
        Verdict::Accept => vec![VerdictAttribute::Code(code(NF_ACCEPT))],
        Verdict::Drop => vec![VerdictAttribute::Code(code(NF_DROP))],
        Verdict::Return => vec![VerdictAttribute::Code(code(NFT_RETURN))],
        Verdict::Jump(chain) => vec![
            VerdictAttribute::Code(code(NFT_JUMP)),
            VerdictAttribute::Chain(chain.clone()),
        ],
        Verdict::Goto(chain) => vec![
            VerdictAttribute::Code(code(NFT_GOTO)),
            VerdictAttribute::Chain(chain.clone()),
        ],
    };
    DataAttribute::Verdict(attrs)
}

/// The name under which the kernel finds an anonymous set of this batch together with its id;
/// nft sends the same template.
pub(crate) const ANONYMOUS_MAP_NAME: &str = "__map%d";

fn set_ref_lookup(set: &SetRef) -> Vec<Lookup> {
    match set {
        SetRef::Name(name) => vec![Lookup::Set(name.clone())],
        SetRef::Anonymous(id) => vec![
            Lookup::Set(ANONYMOUS_MAP_NAME.to_string()),
            Lookup::SetId(*id),
        ],
    }
}

fn code(value: u32) -> netlink_packet_netfilter::nftables::Verdict {
    value.into()
}

fn register(reg: Reg) -> Register {
    reg.0.into()
}

fn meta_key(key: MetaKey) -> NlMetaKey {
    match key {
        MetaKey::Mark => NlMetaKey::Mark,
        MetaKey::L4Proto => NlMetaKey::L4Proto,
        MetaKey::NfProto => NlMetaKey::Nfproto,
    }
}

fn other(name: &str, attributes: Vec<DefaultNla>) -> Expressions {
    Expressions::Other {
        expression_type: name.to_string(),
        attributes,
    }
}

fn u32_nla(kind: u16, value: u32) -> DefaultNla {
    DefaultNla::new(kind, value.to_be_bytes().to_vec())
}

fn u64_nla(kind: u16, value: u64) -> DefaultNla {
    DefaultNla::new(kind, value.to_be_bytes().to_vec())
}

fn string_nla(kind: u16, value: &str) -> DefaultNla {
    let mut bytes = Vec::with_capacity(value.len() + 1);
    bytes.extend_from_slice(value.as_bytes());
    bytes.push(0);
    DefaultNla::new(kind, bytes)
}

/// Milliseconds, as nf_tables wants timeouts; saturates instead of wrapping.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The encoded bytes of one expression list element, for tests comparing with nft's output.
#[cfg(test)]
pub(crate) fn encode(expr: &Expr) -> Vec<u8> {
    let attr = expr.to_netlink();
    let mut buf = vec![0; attr.buffer_len()];
    attr.emit(&mut buf);
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
