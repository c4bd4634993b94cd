//! The batch builder: tables, chains, sets, maps, elements and rules serialized into one
//! nfnetlink transaction (BATCH_BEGIN … BATCH_END) that the kernel applies atomically.

use std::time::Duration;

use crate::expr::{millis, put_data_value, put_verdict, Expr, SetRef, Verdict, ANONYMOUS_MAP_NAME};
use crate::nla::{self, MessageHeader};

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

    /// The NFPROTO number in nfgenmsg.
    pub(crate) fn number(self) -> u8 {
        match self {
            Family::Ip => 2,
            Family::Inet => 1,
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

/// One field of a set key or of map data, with nft's datatype so that `nft list` prints it by
/// name.
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
    /// A 32-bit number in host order that nft lists in hex (its `mark` type): for numbers
    /// inside concatenations, where nft can not size a plain integer and refuses to list.
    Tag32,
}

impl KeyField {
    fn datatype(self) -> u32 {
        match self {
            KeyField::Integer32 => 4,
            KeyField::Ipv4Addr => 7,
            KeyField::Tag32 => 19,
            KeyField::InetProto => 12,
            KeyField::InetService => 13,
        }
    }

    /// The length of the field's value in bytes.
    pub fn byte_len(self) -> u32 {
        match self {
            KeyField::Ipv4Addr | KeyField::Integer32 | KeyField::Tag32 => 4,
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
    /// A map to data (`: integer . ipv4_addr`), whose lookups load the data into registers.
    /// Its elements never make the kernel re-check the table's chains, unlike verdict maps'.
    Map { data: &'static [KeyField] },
}

/// A named set or map to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetSpec {
    pub name: String,
    pub key: Vec<KeyField>,
    pub kind: SetKind,
}

/// What an element of a map maps its key to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElementData {
    /// The verdict of a verdict map.
    Verdict(Verdict),
    /// The data of a data map, laid out like a key ([`Element::concat_key`]).
    Value(Vec<u8>),
}

/// One element of a set or map. The key of a concatenation is the fields' bytes, each padded
/// to a multiple of 4 bytes ([`Element::concat_key`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub key: Vec<u8>,
    /// `None` in sets; required in maps.
    pub data: Option<ElementData>,
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

// Message types: nfnetlink's batch control, and nf_tables' (subsystem 10 in the high byte).
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_DELCHAIN: u16 = 5;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_DELRULE: u16 = 8;
const NFT_MSG_NEWSET: u16 = 9;
const NFT_MSG_DELSET: u16 = 11;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
// Message flags.
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;
// Attributes of tables, chains, rules, sets and elements (linux/netfilter/nf_tables.h).
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_SET_TABLE: u16 = 1;
const NFTA_SET_NAME: u16 = 2;
const NFTA_SET_FLAGS: u16 = 3;
const NFTA_SET_KEY_TYPE: u16 = 4;
const NFTA_SET_KEY_LEN: u16 = 5;
const NFTA_SET_DATA_TYPE: u16 = 6;
const NFTA_SET_DATA_LEN: u16 = 7;
const NFTA_SET_DESC: u16 = 9;
const NFTA_SET_ID: u16 = 10;
const NFTA_SET_TIMEOUT: u16 = 11;
const NFTA_SET_USERDATA: u16 = 13;
const NFTA_SET_DESC_SIZE: u16 = 1;
const NFTA_SET_DESC_CONCAT: u16 = 2;
const NFTA_SET_FIELD_LEN: u16 = 1;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_SET_ELEM_LIST_SET_ID: u16 = 4;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;
// Set flags.
const NFT_SET_ANONYMOUS: u32 = 0x1;
const NFT_SET_CONSTANT: u32 = 0x2;
const NFT_SET_MAP: u32 = 0x8;
const NFT_SET_TIMEOUT: u32 = 0x10;
const NFT_SET_EVAL: u32 = 0x20;
const NFT_SET_CONCAT: u32 = 0x80;
const NFT_DATA_VERDICT: u32 = 0xffff_ff00;
const NF_ACCEPT: u32 = 1;
const DYNAMIC_SET_SIZE: u32 = 65535;
/// An element list is one netlink attribute, whose length field has 16 bits: a message's list
/// is closed once it passes this many bytes (an element takes at most a few hundred).
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
        batch.control(NFNL_MSG_BATCH_BEGIN, 0);
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
        let start = self.begin(table, NFT_MSG_NEWTABLE, NLM_F_CREATE);
        nla::put_str(&mut self.buf, NFTA_TABLE_NAME, &table.name);
        nla::end_message(&mut self.buf, start);
    }

    /// `delete table` with everything in it (an error if it does not exist).
    pub fn delete_table(&mut self, table: &Table) {
        let start = self.begin(table, NFT_MSG_DELTABLE, 0);
        nla::put_str(&mut self.buf, NFTA_TABLE_NAME, &table.name);
        nla::end_message(&mut self.buf, start);
    }

    /// `add chain` (no error if it exists); `base` makes it a base chain with policy accept.
    pub fn add_chain(&mut self, table: &Table, name: &str, base: Option<&BaseChain>) {
        let start = self.begin(table, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
        let buf = &mut self.buf;
        nla::put_str(buf, NFTA_CHAIN_TABLE, &table.name);
        nla::put_str(buf, NFTA_CHAIN_NAME, name);
        if let Some(base) = base {
            let hook = nla::begin_nested(buf, NFTA_CHAIN_HOOK);
            nla::put_u32(buf, NFTA_HOOK_HOOKNUM, hook_number(base.hook));
            nla::put_u32(buf, NFTA_HOOK_PRIORITY, base.priority as u32);
            nla::end_nested(buf, hook);
            nla::put_str(
                buf,
                NFTA_CHAIN_TYPE,
                match base.chain_type {
                    ChainType::Filter => "filter",
                    ChainType::Nat => "nat",
                },
            );
            nla::put_u32(buf, NFTA_CHAIN_POLICY, NF_ACCEPT);
        }
        nla::end_message(&mut self.buf, start);
    }

    /// `flush chain`: deletes every rule of the chain.
    pub fn flush_chain(&mut self, table: &Table, name: &str) {
        let start = self.begin(table, NFT_MSG_DELRULE, 0);
        nla::put_str(&mut self.buf, NFTA_RULE_TABLE, &table.name);
        nla::put_str(&mut self.buf, NFTA_RULE_CHAIN, name);
        nla::end_message(&mut self.buf, start);
    }

    /// `delete chain` (the chain must be empty and unreferenced by the end of the batch).
    pub fn delete_chain(&mut self, table: &Table, name: &str) {
        let start = self.begin(table, NFT_MSG_DELCHAIN, 0);
        nla::put_str(&mut self.buf, NFTA_CHAIN_TABLE, &table.name);
        nla::put_str(&mut self.buf, NFTA_CHAIN_NAME, name);
        nla::end_message(&mut self.buf, start);
    }

    /// `add rule` at the end of the chain.
    pub fn add_rule(&mut self, table: &Table, chain: &str, exprs: &[Expr]) {
        let start = self.begin(table, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
        let buf = &mut self.buf;
        nla::put_str(buf, NFTA_RULE_TABLE, &table.name);
        nla::put_str(buf, NFTA_RULE_CHAIN, chain);
        let list = nla::begin_nested(buf, NFTA_RULE_EXPRESSIONS);
        for expr in exprs {
            expr.encode(buf);
        }
        nla::end_nested(buf, list);
        nla::end_message(&mut self.buf, start);
    }

    /// `add set` / `add map` (no error if it exists with the same definition).
    pub fn add_set(&mut self, table: &Table, spec: &SetSpec) {
        let id = self.next_set_id();
        let start = self.begin(table, NFT_MSG_NEWSET, NLM_F_CREATE);
        let buf = &mut self.buf;
        nla::put_str(buf, NFTA_SET_TABLE, &table.name);
        nla::put_str(buf, NFTA_SET_NAME, &spec.name);
        put_field_types(buf, NFTA_SET_KEY_TYPE, NFTA_SET_KEY_LEN, &spec.key);
        let mut flags = 0;
        let mut size = None;
        match spec.kind {
            SetKind::Set => {}
            SetKind::Dynamic { timeout } => {
                flags |= NFT_SET_TIMEOUT | NFT_SET_EVAL;
                nla::put_u64(buf, NFTA_SET_TIMEOUT, millis(timeout));
                // nft gives dynamic sets this size; the packet path stops adding beyond it.
                size = Some(DYNAMIC_SET_SIZE);
            }
            SetKind::VerdictMap => {
                flags |= NFT_SET_MAP;
                nla::put_u32(buf, NFTA_SET_DATA_TYPE, NFT_DATA_VERDICT);
                nla::put_u32(buf, NFTA_SET_DATA_LEN, 0);
            }
            SetKind::Map { data } => {
                flags |= NFT_SET_MAP;
                put_field_types(buf, NFTA_SET_DATA_TYPE, NFTA_SET_DATA_LEN, data);
            }
        }
        if spec.key.len() > 1 {
            // The kernel wants the concat flag whenever the description lists fields.
            flags |= NFT_SET_CONCAT;
        }
        put_description(buf, size, &spec.key);
        nla::put_u32(buf, NFTA_SET_FLAGS, flags);
        nla::put_u32(buf, NFTA_SET_ID, id);
        nla::end_message(&mut self.buf, start);
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
        let start = self.begin(table, NFT_MSG_NEWSET, NLM_F_CREATE);
        let buf = &mut self.buf;
        let mut flags = NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_MAP;
        if key.len() > 1 {
            flags |= NFT_SET_CONCAT;
        }
        nla::put_str(buf, NFTA_SET_TABLE, &table.name);
        nla::put_str(buf, NFTA_SET_NAME, ANONYMOUS_MAP_NAME);
        nla::put_u32(buf, NFTA_SET_FLAGS, flags);
        put_field_types(buf, NFTA_SET_KEY_TYPE, NFTA_SET_KEY_LEN, key);
        if key == [KeyField::Integer32] {
            nla::put(buf, NFTA_SET_USERDATA, &host_order_key_userdata());
        }
        nla::put_u32(buf, NFTA_SET_DATA_TYPE, NFT_DATA_VERDICT);
        nla::put_u32(buf, NFTA_SET_DATA_LEN, 0);
        nla::put_u32(buf, NFTA_SET_ID, id);
        put_description(buf, Some(elements.len() as u32), key);
        nla::end_message(&mut self.buf, start);
        let set = SetRef::Anonymous(id);
        self.add_elements(table, &set, elements);
        set
    }

    /// `add element` (no error for elements that exist with the same data).
    pub fn add_elements(&mut self, table: &Table, set: &SetRef, elements: &[Element]) {
        self.elements(table, set, elements, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
    }

    /// `delete element` (an error for an element that does not exist).
    pub fn delete_elements(&mut self, table: &Table, set: &SetRef, elements: &[Element]) {
        self.elements(table, set, elements, NFT_MSG_DELSETELEM, 0);
    }

    /// `delete set` / `delete map`.
    pub fn delete_set(&mut self, table: &Table, name: &str) {
        let start = self.begin(table, NFT_MSG_DELSET, 0);
        nla::put_str(&mut self.buf, NFTA_SET_TABLE, &table.name);
        nla::put_str(&mut self.buf, NFTA_SET_NAME, name);
        nla::end_message(&mut self.buf, start);
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
        self.control(NFNL_MSG_BATCH_END, end_seq);
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

    /// Element messages, each holding as many elements as fit in one attribute.
    fn elements(
        &mut self,
        table: &Table,
        set: &SetRef,
        elements: &[Element],
        kind: u16,
        flags: u16,
    ) {
        // The open message and its element list, as offsets into `buf`.
        let mut open: Option<(usize, usize)> = None;
        for element in elements {
            let current = match open {
                Some((start, list)) if self.buf.len() - list <= MAX_ELEMENTS_BYTES => (start, list),
                Some((start, list)) => {
                    self.close_elements(start, list);
                    self.open_elements(table, set, kind, flags)
                }
                None => self.open_elements(table, set, kind, flags),
            };
            open = Some(current);
            put_element(&mut self.buf, element);
        }
        if let Some((start, list)) = open {
            self.close_elements(start, list);
        }
    }

    /// Starts an element message; returns the offsets of the message and of its list.
    fn open_elements(
        &mut self,
        table: &Table,
        set: &SetRef,
        kind: u16,
        flags: u16,
    ) -> (usize, usize) {
        let start = self.begin(table, kind, flags);
        let buf = &mut self.buf;
        nla::put_str(buf, NFTA_SET_ELEM_LIST_TABLE, &table.name);
        match set {
            SetRef::Name(name) => nla::put_str(buf, NFTA_SET_ELEM_LIST_SET, name),
            SetRef::Anonymous(id) => {
                nla::put_str(buf, NFTA_SET_ELEM_LIST_SET, ANONYMOUS_MAP_NAME);
                nla::put_u32(buf, NFTA_SET_ELEM_LIST_SET_ID, *id);
            }
        }
        (start, nla::begin_nested(buf, NFTA_SET_ELEM_LIST_ELEMENTS))
    }

    fn close_elements(&mut self, start: usize, list: usize) {
        nla::end_nested(&mut self.buf, list);
        nla::end_message(&mut self.buf, start);
    }

    fn next_set_id(&mut self) -> u32 {
        let id = self.next_set_id;
        self.next_set_id += 1;
        id
    }

    /// Starts an nf_tables message with the next sequence number; returns its offset.
    fn begin(&mut self, table: &Table, kind: u16, flags: u16) -> usize {
        let seq = self.offsets.len() as u32;
        let start = nla::begin_message(
            &mut self.buf,
            &MessageHeader {
                kind: (NFNL_SUBSYS_NFTABLES << 8) | kind,
                flags: NLM_F_REQUEST | flags,
                seq,
                family: table.family.number(),
                res_id: 0,
            },
        );
        self.offsets.push(start);
        start
    }

    fn control(&mut self, kind: u16, seq: u32) {
        let start = nla::begin_message(
            &mut self.buf,
            &MessageHeader {
                kind,
                flags: NLM_F_REQUEST,
                seq,
                family: 0,
                res_id: NFNL_SUBSYS_NFTABLES,
            },
        );
        nla::end_message(&mut self.buf, start);
        self.offsets.push(start);
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

fn hook_number(hook: HookPoint) -> u32 {
    match hook {
        HookPoint::Prerouting => 0,
        HookPoint::Input => 1,
        HookPoint::Forward => 2,
        HookPoint::Output => 3,
        HookPoint::Postrouting => 4,
    }
}

/// Type and length of a key or of map data: a single field's datatype, or nft's concatenated
/// type id (each field's datatype shifted in by 6 bits) with every field padded to 4 bytes.
fn put_field_types(buf: &mut Vec<u8>, type_attr: u16, len_attr: u16, fields: &[KeyField]) {
    let kind = fields
        .iter()
        .fold(0u32, |acc, field| (acc << 6) | field.datatype());
    let len: u32 = match fields {
        [single] => single.byte_len(),
        _ => fields
            .iter()
            .map(|field| field.byte_len().next_multiple_of(4))
            .sum(),
    };
    nla::put_u32(buf, type_attr, kind);
    nla::put_u32(buf, len_attr, len);
}

/// `NFTA_SET_DESC`: the size, if any, and for a concatenated key the unpadded length of each
/// field, so that the kernel knows the field boundaries (the key itself is the padded
/// concatenation).
fn put_description(buf: &mut Vec<u8>, size: Option<u32>, key: &[KeyField]) {
    if size.is_none() && key.len() < 2 {
        return;
    }
    let desc = nla::begin_nested(buf, NFTA_SET_DESC);
    if let Some(size) = size {
        nla::put_u32(buf, NFTA_SET_DESC_SIZE, size);
    }
    if key.len() > 1 {
        let concat = nla::begin_nested(buf, NFTA_SET_DESC_CONCAT);
        for field in key {
            let elem = nla::begin_nested(buf, NFTA_LIST_ELEM);
            nla::put_u32(buf, NFTA_SET_FIELD_LEN, field.byte_len());
            nla::end_nested(buf, elem);
        }
        nla::end_nested(buf, concat);
    }
    nla::end_nested(buf, desc);
}

/// nft's set user data saying the key is in host byte order (TLV type 0 = key byte order,
/// value 1 = host endian), so that `nft list` prints `numgen` keys as 0, 1, 2.
fn host_order_key_userdata() -> Vec<u8> {
    let mut data = vec![0, 4];
    data.extend_from_slice(&1u32.to_ne_bytes());
    data
}

fn put_element(buf: &mut Vec<u8>, element: &Element) {
    let elem = nla::begin_nested(buf, NFTA_LIST_ELEM);
    put_data_value(buf, NFTA_SET_ELEM_KEY, &element.key);
    match &element.data {
        None => {}
        Some(ElementData::Value(value)) => put_data_value(buf, NFTA_SET_ELEM_DATA, value),
        Some(ElementData::Verdict(verdict)) => put_verdict(buf, NFTA_SET_ELEM_DATA, verdict),
    }
    nla::end_nested(buf, elem);
}
