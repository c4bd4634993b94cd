//! The batch builder: tables, chains, sets, maps, elements and rules serialized into one
//! nfnetlink transaction (BATCH_BEGIN … BATCH_END) that the kernel applies atomically.

use std::time::Duration;

use netlink_packet_core::{
    DefaultNla, Emitable, NetlinkMessage, NLA_F_NESTED, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE,
    NLM_F_REQUEST,
};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, DataAttribute, Hook, InetHookNumber, ListAttribute,
    NfTablesMessage, RuleAttribute, RuleMessage, SetAttribute, SetDescription, SetElementAttribute,
    SetElementList, SetElementMessage, SetFlags, SetMessage, TableAttribute, TableMessage,
};
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};

use crate::expr::{millis, verdict_data, Expr, SetRef, Verdict, ANONYMOUS_MAP_NAME};

/// An nftables address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// `ip`: IPv4 only.
    Ip,
    /// `inet`: IPv4 and IPv6.
    Inet,
}

impl Family {
    /// The keyword `nft` uses (`nft list table ip ferry`).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Inet => "inet",
        }
    }

    fn proto(self) -> NetfilterProtoFamily {
        match self {
            Family::Ip => NetfilterProtoFamily::IPv4,
            Family::Inet => NetfilterProtoFamily::Inet,
        }
    }
}

/// A table, named within its family.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Table {
    pub family: Family,
    pub name: String,
}

/// The kind of a base chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainType {
    Filter,
    Nat,
}

/// A netfilter hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookPoint {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

/// What makes a chain a base chain: its type, hook and priority (policy accept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaseChain {
    pub chain_type: ChainType,
    pub hook: HookPoint,
    /// `raw` is -300, `dstnat` -100, `filter` 0, `srcnat` 100.
    pub priority: i32,
}

/// One field of a set key, with nft's datatype so that `nft list` prints it by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyField {
    /// `ipv4_addr`, 4 bytes.
    Ipv4Addr,
    /// `inet_proto`, 1 byte.
    InetProto,
    /// `inet_service`, 2 bytes, network order.
    InetService,
    /// A 32-bit integer in host order, as `numgen` produces.
    Integer32,
}

impl KeyField {
    fn datatype(self) -> u32 {
        match self {
            KeyField::Integer32 => 4,
            KeyField::Ipv4Addr => 7,
            KeyField::InetProto => 12,
            KeyField::InetService => 13,
        }
    }

    /// The length of the field's value in bytes.
    pub fn byte_len(self) -> u32 {
        match self {
            KeyField::Ipv4Addr | KeyField::Integer32 => 4,
            KeyField::InetProto => 1,
            KeyField::InetService => 2,
        }
    }
}

/// What a set holds besides its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetKind {
    /// A plain set.
    Set,
    /// A set the packet path adds to (`update @set { ip saddr }`), with a default timeout for
    /// its elements (`flags dynamic,timeout`).
    Dynamic { timeout: Duration },
    /// A verdict map (`: verdict`).
    VerdictMap,
}

/// A named set or map to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetSpec {
    pub name: String,
    pub key: Vec<KeyField>,
    pub kind: SetKind,
}

/// One element of a set or map. The key of a concatenation is the fields' bytes, each padded
/// to a multiple of 4 bytes ([`Element::concat_key`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub key: Vec<u8>,
    pub verdict: Option<Verdict>,
}

impl Element {
    /// The key of a concatenation: each field's bytes, zero-padded to a 32-bit boundary, as
    /// the registers hold them.
    pub fn concat_key(fields: &[&[u8]]) -> Vec<u8> {
        let mut key = Vec::with_capacity(fields.len() * 4);
        for field in fields {
            key.extend_from_slice(field);
            key.resize(key.len().next_multiple_of(4), 0);
        }
        key
    }
}

/// Builds one nftables transaction. Each message carries its own sequence number (its index
/// in the batch, starting at 1), so that an error the kernel reports names the message.
#[derive(Debug)]
pub struct Batch {
    buf: Vec<u8>,
    /// Byte offset of each message in `buf`, indexed by sequence number (0 is BATCH_BEGIN).
    offsets: Vec<usize>,
    next_set_id: u32,
    ack_every_message: bool,
}

impl Default for Batch {
    fn default() -> Self {
        Batch::new()
    }
}

// The nfnetlink subsystem id of nf_tables, carried in the batch messages' res_id.
const NFNL_SUBSYS_NFTABLES: u16 = 10;
// Attribute numbers the crate does not type.
const NFTA_SET_FIELD_LEN: u16 = 1;
const NFTA_LIST_ELEM: u16 = 1;
const NFT_DATA_VERDICT: u32 = 0xffff_ff00;
const DYNAMIC_SET_SIZE: u32 = 65535;
/// Elements are sent in messages whose element list stays under this many bytes: the list is
/// one netlink attribute, whose length field has 16 bits.
const MAX_ELEMENTS_BYTES: usize = 60_000;

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        let mut batch = Batch {
            buf: Vec::with_capacity(4096),
            offsets: Vec::new(),
            next_set_id: 1,
            ack_every_message: false,
        };
        batch.push_control(
            netlink_packet_netfilter::none::ControlMessage::BatchBegin,
            0,
        );
        batch
    }

    /// Asks the kernel to acknowledge every message, not only the last one. Errors are reported
    /// per message either way; this only costs time (one reply per message) and is meant for
    /// tests and debugging.
    pub fn ack_every_message(&mut self) {
        self.ack_every_message = true;
    }

    /// Number of messages between BATCH_BEGIN and BATCH_END.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether the batch has no message yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `add table` (no error if it exists).
    pub fn add_table(&mut self, table: &Table) {
        let msg = NfTablesMessage::NewTable(TableMessage {
            attributes: vec![TableAttribute::Name(table.name.clone())],
        });
        self.push(table.family, msg, NLM_F_CREATE);
    }

    /// `delete table` with everything in it (an error if it does not exist).
    pub fn delete_table(&mut self, table: &Table) {
        let msg = NfTablesMessage::DeleteTable(TableMessage {
            attributes: vec![TableAttribute::Name(table.name.clone())],
        });
        self.push(table.family, msg, 0);
    }

    /// `add chain` (no error if it exists); `base` makes it a base chain with policy accept.
    pub fn add_chain(&mut self, table: &Table, name: &str, base: Option<&BaseChain>) {
        let mut attributes = vec![
            ChainAttribute::Table(table.name.clone()),
            ChainAttribute::Name(name.to_string()),
        ];
        if let Some(base) = base {
            attributes.push(ChainAttribute::Hook(vec![
                Hook::Number(hook_number(base.hook).into()),
                Hook::Priority(base.priority as u32),
            ]));
            attributes.push(ChainAttribute::Type(
                match base.chain_type {
                    ChainType::Filter => "filter",
                    ChainType::Nat => "nat",
                }
                .to_string(),
            ));
            attributes.push(ChainAttribute::Policy(1));
        }
        let msg = NfTablesMessage::NewChain(ChainMessage { attributes });
        self.push(table.family, msg, NLM_F_CREATE);
    }

    /// `flush chain`: deletes every rule of the chain.
    pub fn flush_chain(&mut self, table: &Table, name: &str) {
        let msg = NfTablesMessage::DeleteRule(RuleMessage {
            attributes: vec![
                RuleAttribute::Table(table.name.clone()),
                RuleAttribute::Chain(name.to_string()),
            ],
        });
        self.push(table.family, msg, 0);
    }

    /// `delete chain` (the chain must be empty and unreferenced by the end of the batch).
    pub fn delete_chain(&mut self, table: &Table, name: &str) {
        let msg = NfTablesMessage::DeleteChain(ChainMessage {
            attributes: vec![
                ChainAttribute::Table(table.name.clone()),
                ChainAttribute::Name(name.to_string()),
            ],
        });
        self.push(table.family, msg, 0);
    }

    /// `add rule` at the end of the chain.
    pub fn add_rule(&mut self, table: &Table, chain: &str, exprs: &[Expr]) {
        let msg = NfTablesMessage::NewRule(RuleMessage {
            attributes: vec![
                RuleAttribute::Table(table.name.clone()),
                RuleAttribute::Chain(chain.to_string()),
                RuleAttribute::Expressions(exprs.iter().map(Expr::to_netlink).collect()),
            ],
        });
        self.push(table.family, msg, NLM_F_CREATE | NLM_F_APPEND);
    }

    /// `add set` / `add map` (no error if it exists with the same definition).
    pub fn add_set(&mut self, table: &Table, spec: &SetSpec) {
        let mut attributes = vec![
            SetAttribute::Table(table.name.clone()),
            SetAttribute::Name(spec.name.clone()),
        ];
        attributes.extend(key_attributes(&spec.key));
        let mut flags = SetFlags::empty();
        match spec.kind {
            SetKind::Set => {}
            SetKind::Dynamic { timeout } => {
                flags |= SetFlags::Timeout | SetFlags::Eval;
                attributes.push(SetAttribute::Timeout(millis(timeout)));
                // nft gives dynamic sets this size; the packet path stops adding beyond it.
                attributes.push(SetAttribute::Description(vec![SetDescription::Size(
                    DYNAMIC_SET_SIZE,
                )]));
            }
            SetKind::VerdictMap => {
                flags |= SetFlags::Map;
                attributes.push(SetAttribute::DataType(NFT_DATA_VERDICT));
                attributes.push(SetAttribute::DataLen(0));
            }
        }
        if spec.key.len() > 1 {
            // The kernel wants the concat flag whenever the description lists fields.
            flags |= SetFlags::Concat;
            attributes.push(SetAttribute::Description(vec![concat_description(
                &spec.key,
            )]));
        }
        attributes.push(SetAttribute::Flags(flags));
        let id = self.next_set_id();
        attributes.push(SetAttribute::Id(id));
        let msg = NfTablesMessage::NewSet(SetMessage { attributes });
        self.push(table.family, msg, NLM_F_CREATE);
    }

    /// Creates an anonymous constant verdict map (`vmap { 0 : goto a, 1 : goto b }`) in this
    /// batch and returns the reference a lookup uses; the kernel frees it with its rule.
    pub fn add_anonymous_vmap(
        &mut self,
        table: &Table,
        key: &[KeyField],
        elements: &[Element],
    ) -> SetRef {
        let id = self.next_set_id();
        let mut flags = SetFlags::Anonymous | SetFlags::Constant | SetFlags::Map;
        let mut description = vec![SetDescription::Size(elements.len() as u32)];
        if key.len() > 1 {
            flags |= SetFlags::Concat;
            description.push(concat_description(key));
        }
        let mut attributes = vec![
            SetAttribute::Table(table.name.clone()),
            SetAttribute::Name(ANONYMOUS_MAP_NAME.to_string()),
            SetAttribute::Flags(flags),
        ];
        attributes.extend(key_attributes(key));
        if key == [KeyField::Integer32] {
            attributes.push(SetAttribute::UserData(host_order_key_userdata()));
        }
        attributes.extend([
            SetAttribute::DataType(NFT_DATA_VERDICT),
            SetAttribute::DataLen(0),
            SetAttribute::Id(id),
            SetAttribute::Description(description),
        ]);
        self.push(
            table.family,
            NfTablesMessage::NewSet(SetMessage { attributes }),
            NLM_F_CREATE,
        );
        let set = SetRef::Anonymous(id);
        self.add_elements(table, &set, elements);
        set
    }

    /// `add element` (no error for elements that exist with the same data).
    pub fn add_elements(&mut self, table: &Table, set: &SetRef, elements: &[Element]) {
        self.elements(table, set, elements, true);
    }

    /// `delete element` (an error for an element that does not exist).
    pub fn delete_elements(&mut self, table: &Table, set: &SetRef, elements: &[Element]) {
        self.elements(table, set, elements, false);
    }

    /// `delete set` / `delete map`.
    pub fn delete_set(&mut self, table: &Table, name: &str) {
        let msg = NfTablesMessage::DeleteSet(SetMessage {
            attributes: vec![
                SetAttribute::Table(table.name.clone()),
                SetAttribute::Name(name.to_string()),
            ],
        });
        self.push(table.family, msg, 0);
    }

    /// The serialized transaction, BATCH_END included, and the offsets of its messages.
    pub(crate) fn finish(mut self) -> FinishedBatch {
        let last = self.offsets.len() - 1;
        if self.ack_every_message {
            for offset in &self.offsets[1..] {
                set_ack(&mut self.buf, *offset);
            }
        } else if last > 0 {
            // Invariant: the reply to the last message arrives after the kernel has reported
            // every error of the batch, so it tells the reader the transaction is complete.
            set_ack(&mut self.buf, self.offsets[last]);
        }
        let end_seq = self.offsets.len() as u32;
        self.push_control(
            netlink_packet_netfilter::none::ControlMessage::BatchEnd,
            end_seq,
        );
        FinishedBatch {
            buf: self.buf,
            offsets: self.offsets,
            acks_expected: if self.ack_every_message {
                last
            } else {
                last.min(1)
            },
        }
    }

    fn elements(&mut self, table: &Table, set: &SetRef, elements: &[Element], add: bool) {
        let mut chunk: Vec<ListAttribute<SetElementAttribute>> = Vec::new();
        let mut chunk_bytes = 0;
        for element in elements {
            let attr = element_attribute(element);
            let len = attr.buffer_len();
            if chunk_bytes + len > MAX_ELEMENTS_BYTES && !chunk.is_empty() {
                self.push_elements(table, set, std::mem::take(&mut chunk), add);
                chunk_bytes = 0;
            }
            chunk.push(attr);
            chunk_bytes += len;
        }
        if !chunk.is_empty() {
            self.push_elements(table, set, chunk, add);
        }
    }

    fn push_elements(
        &mut self,
        table: &Table,
        set: &SetRef,
        elements: Vec<ListAttribute<SetElementAttribute>>,
        add: bool,
    ) {
        let mut attributes = vec![SetElementList::Table(table.name.clone())];
        match set {
            SetRef::Name(name) => attributes.push(SetElementList::Set(name.clone())),
            SetRef::Anonymous(id) => {
                attributes.push(SetElementList::Set(ANONYMOUS_MAP_NAME.to_string()));
                attributes.push(SetElementList::SetId(*id));
            }
        }
        attributes.push(SetElementList::Elements(elements));
        let message = SetElementMessage { attributes };
        if add {
            self.push(
                table.family,
                NfTablesMessage::NewSetElement(message),
                NLM_F_CREATE,
            );
        } else {
            self.push(table.family, NfTablesMessage::DeleteSetElement(message), 0);
        }
    }

    fn next_set_id(&mut self) -> u32 {
        let id = self.next_set_id;
        self.next_set_id += 1;
        id
    }

    fn push(&mut self, family: Family, msg: NfTablesMessage, flags: u16) {
        let seq = self.offsets.len() as u32;
        let header = NetfilterHeader::new(family.proto(), 0, 0);
        self.emit(NetfilterMessage::new(header, msg), flags, seq);
    }

    fn push_control(&mut self, msg: netlink_packet_netfilter::none::ControlMessage, seq: u32) {
        let header = NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, NFNL_SUBSYS_NFTABLES);
        self.emit(NetfilterMessage::new(header, msg), 0, seq);
    }

    fn emit(&mut self, msg: NetfilterMessage, flags: u16, seq: u32) {
        let mut nl = NetlinkMessage::from(msg);
        nl.header.flags = NLM_F_REQUEST | flags;
        nl.header.sequence_number = seq;
        nl.finalize();
        let start = self.buf.len();
        self.offsets.push(start);
        self.buf.resize(start + nl.buffer_len(), 0);
        nl.serialize(&mut self.buf[start..]);
    }
}

/// A serialized batch ready for the socket.
#[derive(Debug)]
pub(crate) struct FinishedBatch {
    pub(crate) buf: Vec<u8>,
    /// Offsets of BATCH_BEGIN and every message, indexed by sequence number.
    pub(crate) offsets: Vec<usize>,
    /// How many acknowledgements (success or error) end the exchange.
    pub(crate) acks_expected: usize,
}

impl FinishedBatch {
    /// The serialized message with sequence number `seq`.
    pub(crate) fn message(&self, seq: u32) -> Option<&[u8]> {
        let start = *self.offsets.get(seq as usize)?;
        let end = self
            .offsets
            .get(seq as usize + 1)
            .copied()
            .unwrap_or(self.buf.len());
        self.buf.get(start..end)
    }
}

/// Sets NLM_F_ACK in the header of the message at `offset` (flags are bytes 6..8, host order).
fn set_ack(buf: &mut [u8], offset: usize) {
    let flags = u16::from_ne_bytes([buf[offset + 6], buf[offset + 7]]) | NLM_F_ACK;
    buf[offset + 6..offset + 8].copy_from_slice(&flags.to_ne_bytes());
}

fn hook_number(hook: HookPoint) -> InetHookNumber {
    match hook {
        HookPoint::Prerouting => InetHookNumber::PreRouting,
        HookPoint::Input => InetHookNumber::LocalIn,
        HookPoint::Forward => InetHookNumber::Forward,
        HookPoint::Output => InetHookNumber::LocalOut,
        HookPoint::Postrouting => InetHookNumber::PostRouting,
    }
}

/// Key type and length: a single field's datatype, or nft's concatenated type id (each field's
/// datatype shifted in by 6 bits) with every field padded to 4 bytes.
fn key_attributes(key: &[KeyField]) -> [SetAttribute; 2] {
    let key_type = key
        .iter()
        .fold(0u32, |acc, field| (acc << 6) | field.datatype());
    let key_len: u32 = if key.len() == 1 {
        key[0].byte_len()
    } else {
        key.iter()
            .map(|field| field.byte_len().next_multiple_of(4))
            .sum()
    };
    [
        SetAttribute::KeyType(key_type),
        SetAttribute::KeyLen(key_len),
    ]
}

/// `NFTA_SET_DESC_CONCAT`: the unpadded length of each field of a concatenated key, so that the
/// kernel knows the field boundaries (the key itself is the padded concatenation).
fn concat_description(key: &[KeyField]) -> SetDescription {
    SetDescription::Concat(
        key.iter()
            .map(|field| {
                let len =
                    DefaultNla::new(NFTA_SET_FIELD_LEN, field.byte_len().to_be_bytes().to_vec());
                let mut value = vec![0; len.buffer_len()];
                len.emit(&mut value);
                DefaultNla::new(NFTA_LIST_ELEM | NLA_F_NESTED, value)
            })
            .collect(),
    )
}

/// nft's set user data saying the key is in host byte order (TLV type 0 = key byte order,
/// value 1 = host endian), so that `nft list` prints `numgen` keys as 0, 1, 2.
fn host_order_key_userdata() -> Vec<u8> {
    let mut data = vec![0, 4];
    data.extend_from_slice(&1u32.to_ne_bytes());
    data
}

fn element_attribute(element: &Element) -> ListAttribute<SetElementAttribute> {
    let mut attrs = vec![SetElementAttribute::Key(DataAttribute::Value(
        element.key.clone(),
    ))];
    if let Some(verdict) = &element.verdict {
        attrs.push(SetElementAttribute::Data(verdict_data(verdict)));
    }
    ListAttribute::Element(attrs)
}
