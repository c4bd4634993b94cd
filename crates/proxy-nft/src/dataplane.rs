//! [`NftDataplane`]: keeps what it programmed in memory and turns each sync into one
//! transaction: the whole table on a full sync, just the changed service ports otherwise.

use ferry_nft::{Batch, Element, ElementData, Family, Netlink, SetRef, Table, Verdict};
use ferry_proxy::{ChangedServices, Dataplane, ProxyModel};

use crate::config::NftConfig;
use crate::plan::{self, Data, Key, MapElement, Op, State};
use crate::rules::proto_number;
use crate::Error;

/// The nftables dataplane: ferry's own `ip` table in the calling thread's network namespace.
pub struct NftDataplane {
    config: NftConfig,
    table: Table,
    netlink: Netlink,
    /// `None` until the first full sync has programmed the table.
    state: Option<State>,
}

impl NftDataplane {
    /// Opens the netlink socket; the table is written by the first sync, which is always a
    /// full one (whatever `changed.full` says).
    pub fn new(config: NftConfig) -> Result<NftDataplane, Error> {
        let netlink = Netlink::open().map_err(Error::Open)?;
        Ok(NftDataplane {
            table: table(&config),
            config,
            netlink,
            state: None,
        })
    }

    /// Removes the table (on shutdown); the next sync rebuilds it.
    pub fn remove(&mut self) -> Result<(), Error> {
        self.state = None;
        self.netlink
            .delete_table_if_exists(&self.table)
            .map(|_| ())
            .map_err(|source| Error::Remove {
                table: self.table.name.clone(),
                source,
            })
    }
}

impl Dataplane for NftDataplane {
    type Error = Error;

    fn sync(&mut self, model: &ProxyModel, changed: &ChangedServices) -> Result<(), Error> {
        let (plan, state) = match self.state.take() {
            Some(mut state) if !changed.full => {
                let plan = plan::changes(model, changed, &mut state, &self.config);
                (plan, state)
            }
            _ => plan::full(model, &self.config),
        };
        let batch = to_batch(&plan.ops, &self.table);
        // Invariant: on failure the kernel applied nothing, but our state no longer matches
        // what we meant to program, so the next sync starts over with a full one.
        self.netlink.apply(batch).map_err(|source| Error::Program {
            table: self.table.name.clone(),
            source,
        })?;
        self.state = Some(state);
        self.netlink
            .delete_flows(
                proto_number(ferry_proxy::TransportProtocol::Udp),
                &plan.stale_udp_flows,
            )
            .map_err(Error::Conntrack)?;
        Ok(())
    }
}

/// Removes a table a previous run left behind (after a crash); `true` if there was one.
pub fn cleanup_leftovers(config: &NftConfig) -> Result<bool, Error> {
    let mut netlink = Netlink::open().map_err(Error::Open)?;
    let table = table(config);
    netlink
        .delete_table_if_exists(&table)
        .map_err(|source| Error::Remove {
            table: table.name.clone(),
            source,
        })
}

fn table(config: &NftConfig) -> Table {
    Table {
        family: Family::Ip,
        name: config.table.clone(),
    }
}

/// Encodes the operations, in order, into one batch.
pub(crate) fn to_batch(ops: &[Op], table: &Table) -> Batch {
    let mut batch = Batch::new();
    for op in ops {
        match op {
            Op::AddTable => batch.add_table(table),
            Op::DeleteTable => batch.delete_table(table),
            Op::AddChain { name, base } => batch.add_chain(table, name, base.as_ref()),
            Op::FlushChain(name) => batch.flush_chain(table, name),
            Op::DeleteChain(name) => batch.delete_chain(table, name),
            Op::AddRule { chain, rule } => {
                batch.add_rule(table, chain, &rule.exprs());
            }
            Op::AddSet(spec) => batch.add_set(table, spec),
            Op::DeleteSet(set) => batch.delete_set(table, &set.name()),
            Op::AddElements { set, elements } => {
                batch.add_elements(table, &SetRef::Name(set.name()), &encode(elements))
            }
            Op::DeleteElements { set, elements } => {
                batch.delete_elements(table, &SetRef::Name(set.name()), &encode(elements))
            }
        }
    }
    batch
}

fn encode(elements: &[MapElement]) -> Vec<Element> {
    elements
        .iter()
        .map(|element| Element {
            key: encode_key(&element.key),
            data: element.data.as_ref().map(|data| match data {
                Data::Goto(chain) => ElementData::Verdict(Verdict::Goto(chain.clone())),
                Data::Endpoint(endpoint) => ElementData::Value(Element::concat_key(&[
                    &endpoint.ip().octets(),
                    &endpoint.port().to_be_bytes(),
                ])),
            }),
        })
        .collect()
}

/// The key's bytes; slots are in host order, as `numgen` yields them.
fn encode_key(key: &Key) -> Vec<u8> {
    match *key {
        Key::Service(ip, proto, port) => {
            Element::concat_key(&[&ip.octets(), &[proto_number(proto)], &port.to_be_bytes()])
        }
        Key::NodePort(proto, port) => {
            Element::concat_key(&[&[proto_number(proto)], &port.to_be_bytes()])
        }
        Key::ServiceSlot(ip, proto, port, slot) => Element::concat_key(&[
            &ip.octets(),
            &[proto_number(proto)],
            &port.to_be_bytes(),
            &slot.to_ne_bytes(),
        ]),
        Key::NodePortSlot(proto, port, slot) => Element::concat_key(&[
            &[proto_number(proto)],
            &port.to_be_bytes(),
            &slot.to_ne_bytes(),
        ]),
        Key::Ip(ip) => ip.octets().to_vec(),
        Key::Hairpin(ip) => Element::concat_key(&[&ip.octets(), &ip.octets()]),
    }
}
