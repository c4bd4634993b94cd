//! nftables over netlink: tables, chains, sets, maps and rules in atomic batches, plus the
//! conntrack deletions a service proxy needs.
//!
//! Batches are encoded here, straight into bytes (netlink-packet-netfilter only parses the
//! kernel's replies and dumps), and sent on a NETLINK_NETFILTER socket. No `nft` binary at
//! runtime.
//! Must not know Kubernetes: its words are tables, chains, sets, rules and expressions.

mod batch;
mod conntrack;
mod describe;
mod error;
mod expr;
mod nla;
mod socket;

pub use batch::{
    BaseChain, Batch, ChainType, Element, ElementData, Family, HookPoint, KeyField, SetKind,
    SetSpec, Table,
};
pub use conntrack::FlowMatch;
pub use error::Error;
pub use expr::{
    build, CmpOp, CtKey, DynsetOp, Expr, MetaKey, PayloadBase, Reg, Reject, SetRef, Verdict,
};
pub use socket::Netlink;
