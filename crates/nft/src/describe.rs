//! One-line descriptions of nf_tables messages (`add rule to ip ferry svc-…`), so that an error
//! the kernel reports for one message of a large batch says which object it was about.

use netlink_packet_netfilter::nftables::{
    ChainAttribute, NfTablesMessage, RuleAttribute, SetAttribute, SetElementList, TableAttribute,
};

/// Describes an nf_tables message by its verb and the names it carries.
pub(crate) fn nftables_message(msg: &NfTablesMessage) -> String {
    match msg {
        NfTablesMessage::NewTable(m) => format!("add table {}", table_name(&m.attributes)),
        NfTablesMessage::DeleteTable(m) => format!("delete table {}", table_name(&m.attributes)),
        NfTablesMessage::NewChain(m) => format!("add chain {}", chain_name(&m.attributes)),
        NfTablesMessage::DeleteChain(m) => format!("delete chain {}", chain_name(&m.attributes)),
        NfTablesMessage::NewRule(m) => format!("add rule to chain {}", rule_chain(&m.attributes)),
        NfTablesMessage::DeleteRule(m) => {
            format!("flush chain {}", rule_chain(&m.attributes))
        }
        NfTablesMessage::NewSet(m) => format!("add set {}", set_name(&m.attributes)),
        NfTablesMessage::DeleteSet(m) => format!("delete set {}", set_name(&m.attributes)),
        NfTablesMessage::NewSetElement(m) => {
            format!("add elements to set {}", element_set(&m.attributes))
        }
        NfTablesMessage::DeleteSetElement(m) => {
            format!("delete elements from set {}", element_set(&m.attributes))
        }
        other => format!("{:?}", other.message_type()),
    }
}

fn table_name(attrs: &[TableAttribute]) -> String {
    attrs
        .iter()
        .find_map(|a| match a {
            TableAttribute::Name(name) => Some(name.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn chain_name(attrs: &[ChainAttribute]) -> String {
    let mut table = "";
    let mut name = "";
    for attr in attrs {
        match attr {
            ChainAttribute::Table(t) => table = t,
            ChainAttribute::Name(n) => name = n,
            _ => {}
        }
    }
    format!("{table} {name}")
}

fn rule_chain(attrs: &[RuleAttribute]) -> String {
    let mut table = "";
    let mut chain = "";
    for attr in attrs {
        match attr {
            RuleAttribute::Table(t) => table = t,
            RuleAttribute::Chain(c) => chain = c,
            _ => {}
        }
    }
    format!("{table} {chain}")
}

fn set_name(attrs: &[SetAttribute]) -> String {
    let mut table = "";
    let mut name = "";
    for attr in attrs {
        match attr {
            SetAttribute::Table(t) => table = t,
            SetAttribute::Name(n) => name = n,
            _ => {}
        }
    }
    format!("{table} {name}")
}

fn element_set(attrs: &[SetElementList]) -> String {
    let mut table = "";
    let mut name = "";
    for attr in attrs {
        match attr {
            SetElementList::Table(t) => table = t,
            SetElementList::Set(n) => name = n,
            _ => {}
        }
    }
    format!("{table} {name}")
}
