//! Pure rule generation: the proxy model in, the list of table operations out, for a full
//! rebuild or for a few changed service ports given what is programmed now.
//!
//! The layout keeps the kernel's work per change small. nf_tables re-checks every chain
//! reachable from the base chains (for loops and hook restrictions) after any transaction that
//! adds a rule with a jump, a lookup, NAT or an immediate, or a verdict-map element that jumps;
//! elements of plain sets and data maps never cost that. So a service port without affinity
//! has no chain of its own: `service-ips` sends it to the shared chain of its endpoint count,
//! `endpoints-N`, which DNATs to `ip daddr . meta l4proto . th dport . numgen random mod N map
//! @slots-N`, and its endpoints are that data map's elements under its address and slots
//! 0..N. An endpoint that comes or goes while the count stays the same changes elements only;
//! a new count moves the port's slots to another map and re-points its `service-ips` element,
//! and the check then walks a table of a few dozen rules (and the `service-ips` elements).
//! Each count has maps of its own because a rule that looks into a map makes the kernel walk
//! all of the map's elements: a new count's chain binds to an empty one. Ports with ClientIP
//! affinity (rare) keep a chain each.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::hash::Hash;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use ferry_nft::{BaseChain, ChainType, FlowMatch, HookPoint, KeyField, SetKind, SetSpec};
use ferry_proxy::{ChangedServices, ProxyModel, ServicePort, ServicePortName, TransportProtocol};

use crate::config::{NftConfig, PodEgress};
use crate::names::{nodeport_slots_map, picker_chain, service_chain, slots_map};
use crate::rules::{
    Entry, Rule, AFFINITY, CLUSTER_IPS, HAIRPIN, NO_ENDPOINT_NODEPORTS, NO_ENDPOINT_SERVICES,
    REJECT_CHAIN, SERVICE_IPS, SERVICE_NODEPORTS,
};

/// One operation on ferry's table, in batch order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    AddTable,
    DeleteTable,
    AddChain {
        name: String,
        base: Option<BaseChain>,
    },
    FlushChain(String),
    DeleteChain(String),
    AddRule {
        chain: String,
        rule: Rule,
    },
    AddSet(SetSpec),
    DeleteSet(SetId),
    AddElements {
        set: SetId,
        elements: Vec<MapElement>,
    },
    DeleteElements {
        set: SetId,
        elements: Vec<MapElement>,
    },
}

/// One of the table's sets and maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum SetId {
    /// One of the fixed part.
    Fixed(&'static str),
    /// The endpoints by slot of the service addresses that have this many: one map per count,
    /// so that the chain of a new count binds to an empty map (binding a lookup walks the
    /// whole map).
    Slots(u32),
    /// The same for node ports.
    NodePortSlots(u32),
}

impl SetId {
    /// Its name in the table.
    pub(crate) fn name(self) -> String {
        match self {
            SetId::Fixed(name) => name.to_string(),
            SetId::Slots(count) => slots_map(count),
            SetId::NodePortSlots(count) => nodeport_slots_map(count),
        }
    }
}

/// An element of one of the table's maps or sets.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct MapElement {
    pub(crate) key: Key,
    /// `None` in plain sets.
    pub(crate) data: Option<Data>,
}

/// The key of an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Key {
    /// `ip . proto . port`.
    Service(Ipv4Addr, TransportProtocol, u16),
    /// `proto . port` of a node port.
    NodePort(TransportProtocol, u16),
    /// `ip . proto . port . slot`: one endpoint of a service address.
    ServiceSlot(Ipv4Addr, TransportProtocol, u16, u32),
    /// `proto . port . slot`: one endpoint of a node port.
    NodePortSlot(TransportProtocol, u16, u32),
    /// An address (the `cluster-ips` set).
    Ip(Ipv4Addr),
    /// `ip . ip`: an endpoint reaching itself (the `hairpin` set).
    Hairpin(Ipv4Addr),
}

/// What a map element maps to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Data {
    /// `goto CHAIN` in a verdict map.
    Goto(String),
    /// `ip . port` of an endpoint in a slot map.
    Endpoint(SocketAddrV4),
}

/// Where a service port's traffic goes to pick an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Picker {
    /// The shared chain of ports without affinity with this many endpoints.
    Shared(u32),
    /// A chain of its own (ClientIP affinity).
    Own(String),
}

/// What is programmed for one service port, to undo or update it later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Programmed {
    /// `None` when it has no endpoint (and rejects).
    picker: Option<Picker>,
    /// The usable endpoints by slot. A kept endpoint keeps its slot across changes, so that a
    /// change rewrites only the slots of the endpoints that came or went.
    slots: Vec<SocketAddrV4>,
    /// With affinity, each endpoint's id in the shared `affinity` set; never reused, so a
    /// client's stale affinity entry can not lead to another service's endpoint.
    endpoint_ids: Vec<(SocketAddrV4, u32)>,
    /// The elements only this port owns (not the shared `cluster-ips` and `hairpin` ones).
    elements: Vec<(SetId, MapElement)>,
    cluster_ip: Ipv4Addr,
    port: u16,
    protocol: TransportProtocol,
}

/// Everything programmed: per service port, and how many ports share each cluster IP, hairpin
/// address and picker chain.
#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    services: HashMap<ServicePortName, Programmed>,
    cluster_ips: RefCounts<Ipv4Addr>,
    hairpins: RefCounts<Ipv4Addr>,
    pickers: RefCounts<u32>,
    next_id: u32,
}

/// The operations of a sync and the UDP flows to forget once they are applied.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) ops: Vec<Op>,
    pub(crate) stale_udp_flows: Vec<FlowMatch>,
}

/// One service port as desired: what to program and the rules of its own chain, if any.
struct Desired {
    programmed: Programmed,
    own_rules: Vec<Rule>,
}

/// How many users each shared element or chain has.
#[derive(Clone, Debug)]
struct RefCounts<K>(HashMap<K, usize>);

impl<K> Default for RefCounts<K> {
    fn default() -> Self {
        RefCounts(HashMap::new())
    }
}

/// Which shared keys a batch of changes brings in and which it drops.
struct Shift<K> {
    added: Vec<K>,
    removed: Vec<K>,
}

impl<K: Copy + Eq + Hash + Ord> RefCounts<K> {
    /// Applies the per-key changes of user counts; returns the keys that went from no user to
    /// some and from some to none, sorted.
    fn apply(&mut self, deltas: HashMap<K, i64>) -> Shift<K> {
        let mut shift = Shift {
            added: Vec::new(),
            removed: Vec::new(),
        };
        for (key, delta) in deltas {
            let before = self.0.get(&key).copied().unwrap_or(0);
            let after = (before as i64 + delta).max(0) as usize;
            match (before, after) {
                (0, 1..) => shift.added.push(key),
                (1.., 0) => shift.removed.push(key),
                _ => {}
            }
            if after == 0 {
                self.0.remove(&key);
            } else {
                self.0.insert(key, after);
            }
        }
        shift.added.sort();
        shift.removed.sort();
        shift
    }
}

/// The per-key user count changes of one sync, for each kind of shared object.
#[derive(Default)]
struct SharedDeltas {
    cluster_ips: HashMap<Ipv4Addr, i64>,
    hairpins: HashMap<Ipv4Addr, i64>,
    pickers: HashMap<u32, i64>,
}

impl SharedDeltas {
    /// Counts `programmed`'s uses, positively (`sign` 1) or negatively (-1).
    fn count(&mut self, programmed: &Programmed, sign: i64) {
        *self.cluster_ips.entry(programmed.cluster_ip).or_default() += sign;
        let ips: HashSet<Ipv4Addr> = programmed.slots.iter().map(|ep| *ep.ip()).collect();
        for ip in ips {
            *self.hairpins.entry(ip).or_default() += sign;
        }
        if let Some(Picker::Shared(count)) = programmed.picker {
            *self.pickers.entry(count).or_default() += sign;
        }
    }
}

const RAW_PREROUTING: &str = "raw-prerouting";
const RAW_OUTPUT: &str = "raw-output";
const NAT_PREROUTING: &str = "nat-prerouting";
const NAT_OUTPUT: &str = "nat-output";
const NAT_POSTROUTING: &str = "nat-postrouting";
const FILTER_PREROUTING: &str = "filter-prerouting";
const FILTER_INPUT: &str = "filter-input";
const FILTER_OUTPUT: &str = "filter-output";
const FILTER_OUTPUT_POST_DNAT: &str = "filter-output-post-dnat";
const SERVICES: &str = "services";
const MASQUERADING: &str = "masquerading";
const SERVICE_ENDPOINTS_CHECK: &str = "service-endpoints-check";
const NODEPORT_ENDPOINTS_CHECK: &str = "nodeport-endpoints-check";
const CLUSTER_IPS_CHECK: &str = "cluster-ips-check";
const DNS_PORT: u16 = 53;
/// sessionAffinityConfig.clientIP.timeoutSeconds' default, 3 hours.
const DEFAULT_AFFINITY_TIMEOUT: Duration = Duration::from_secs(10800);

/// Rebuilds the table from scratch: one transaction that replaces any table of the same name
/// (also one a crashed run left) with the model's.
pub(crate) fn full(model: &ProxyModel, config: &NftConfig) -> (Plan, State) {
    let mut state = State::default();
    let mut diff = Diff::default();
    for (name, port) in &model.services {
        if let Some(new) = desired(name, port, config, None, &mut state.next_id) {
            diff.port(None, Some(&new));
            state.services.insert(name.clone(), new.programmed);
        }
    }
    let mut ops = vec![Op::AddTable, Op::DeleteTable, Op::AddTable];
    ops.extend(skeleton(config));
    ops.extend(diff.into_plan(&mut state).ops);
    // Flows of the table being replaced are not known, so none is called stale (as before a
    // restart, kube-proxy leaves them to time out).
    let plan = Plan {
        ops,
        stale_udp_flows: Vec::new(),
    };
    (plan, state)
}

/// Brings just the named service ports to the model, given what is programmed; updates
/// `state` to what the returned operations program.
pub(crate) fn changes(
    model: &ProxyModel,
    changed: &ChangedServices,
    state: &mut State,
    config: &NftConfig,
) -> Plan {
    let mut diff = Diff::default();
    for name in &changed.names {
        let old = state.services.remove(name);
        let new = model
            .services
            .get(name)
            .and_then(|port| desired(name, port, config, old.as_ref(), &mut state.next_id));
        diff.port(old.as_ref(), new.as_ref());
        if let Some(new) = new {
            state.services.insert(name.clone(), new.programmed);
        }
    }
    diff.into_plan(state)
}

/// The differences between what is programmed for some service ports and what is desired.
#[derive(Default)]
struct Diff {
    deleted: Vec<(SetId, MapElement)>,
    added: Vec<(SetId, MapElement)>,
    own_chains: Vec<OwnChain>,
    gone_chains: Vec<String>,
    deltas: SharedDeltas,
    stale_udp_flows: Vec<FlowMatch>,
}

/// A port's own chain to write.
struct OwnChain {
    name: String,
    rules: Vec<Rule>,
    programmed: ChainProgrammed,
}

/// Whether a chain exists already (and is to be emptied) or is to be created.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ChainProgrammed {
    Already,
    NotYet,
}

impl Diff {
    /// Adds one port's differences.
    fn port(&mut self, old: Option<&Programmed>, new: Option<&Desired>) {
        let no_elements = Vec::new();
        let old_elements = old.map_or(&no_elements, |o| &o.elements);
        let new_elements = new.map_or(&no_elements, |n| &n.programmed.elements);
        self.deleted
            .extend(missing_from(old_elements, new_elements));
        self.added.extend(missing_from(new_elements, old_elements));
        let old_own = old.and_then(own_chain);
        let new_own = new.and_then(|n| own_chain(&n.programmed));
        if let Some(chain) = old_own.filter(|chain| new_own != Some(*chain)) {
            self.gone_chains.push(chain.to_string());
        }
        if let (Some(chain), Some(new)) = (new_own, new) {
            self.own_chains.push(OwnChain {
                name: chain.to_string(),
                rules: new.own_rules.clone(),
                programmed: if old_own == Some(chain) {
                    ChainProgrammed::Already
                } else {
                    ChainProgrammed::NotYet
                },
            });
        }
        if let Some(old) = old {
            self.deltas.count(old, -1);
        }
        if let Some(new) = new {
            self.deltas.count(&new.programmed, 1);
        }
        self.stale_udp_flows
            .extend(stale_udp_flows(old, new.map(|d| &d.programmed)));
    }

    /// The operations, in an order the kernel accepts: new chains before the elements that
    /// lead to them, element deletions before additions (a map's element is replaced by
    /// deleting and adding it), chains that went last, once nothing leads to them.
    fn into_plan(self, state: &mut State) -> Plan {
        let mut ops = Vec::new();
        let pickers = state.pickers.apply(self.deltas.pickers);
        for count in &pickers.added {
            add_picker(&mut ops, *count);
        }
        for chain in self.own_chains {
            add_own_chain(&mut ops, chain);
        }
        ops.extend(
            by_set(self.deleted)
                .into_iter()
                .map(|(set, elements)| Op::DeleteElements { set, elements }),
        );
        ops.extend(
            by_set(self.added)
                .into_iter()
                .map(|(set, elements)| Op::AddElements { set, elements }),
        );
        let cluster_ips = state.cluster_ips.apply(self.deltas.cluster_ips);
        shared_elements(&mut ops, SetId::Fixed(CLUSTER_IPS), cluster_ips, cluster_ip);
        let hairpins = state.hairpins.apply(self.deltas.hairpins);
        shared_elements(&mut ops, SetId::Fixed(HAIRPIN), hairpins, hairpin);
        for chain in self.gone_chains {
            ops.push(Op::FlushChain(chain.clone()));
            ops.push(Op::DeleteChain(chain));
        }
        for count in pickers.removed {
            ops.push(Op::FlushChain(picker_chain(count)));
            ops.push(Op::DeleteChain(picker_chain(count)));
            ops.push(Op::DeleteSet(SetId::Slots(count)));
            ops.push(Op::DeleteSet(SetId::NodePortSlots(count)));
        }
        Plan {
            ops,
            stale_udp_flows: self.stale_udp_flows,
        }
    }
}

/// The deletions and additions of a shared set's elements.
fn shared_elements(
    ops: &mut Vec<Op>,
    set: SetId,
    shift: Shift<Ipv4Addr>,
    element: fn(Ipv4Addr) -> MapElement,
) {
    if !shift.removed.is_empty() {
        ops.push(Op::DeleteElements {
            set,
            elements: shift.removed.into_iter().map(element).collect(),
        });
    }
    if !shift.added.is_empty() {
        ops.push(Op::AddElements {
            set,
            elements: shift.added.into_iter().map(element).collect(),
        });
    }
}

/// The table's fixed part: maps, base chains and the rules that dispatch into the maps.
fn skeleton(config: &NftConfig) -> Vec<Op> {
    let mut ops = sets();
    let base = |chain_type, hook, priority| {
        Some(BaseChain {
            chain_type,
            hook,
            priority,
        })
    };
    let mut chains = vec![
        (
            NAT_PREROUTING,
            base(ChainType::Nat, HookPoint::Prerouting, -100),
        ),
        (NAT_OUTPUT, base(ChainType::Nat, HookPoint::Output, -100)),
        (
            NAT_POSTROUTING,
            base(ChainType::Nat, HookPoint::Postrouting, 100),
        ),
        // After DNAT (-100): what is still addressed to a service here was not load-balanced.
        // Rejected here, before routing: a node without a route for the service CIDR (a lab
        // node has no default route) would otherwise answer with a rate-limited ICMP network
        // unreachable instead of a reset.
        (
            FILTER_PREROUTING,
            base(ChainType::Filter, HookPoint::Prerouting, -10),
        ),
        (FILTER_INPUT, base(ChainType::Filter, HookPoint::Input, -10)),
        (
            FILTER_OUTPUT,
            base(ChainType::Filter, HookPoint::Output, -10),
        ),
        (
            FILTER_OUTPUT_POST_DNAT,
            base(ChainType::Filter, HookPoint::Output, -90),
        ),
        (SERVICES, None),
        (MASQUERADING, None),
        (SERVICE_ENDPOINTS_CHECK, None),
        (NODEPORT_ENDPOINTS_CHECK, None),
        (CLUSTER_IPS_CHECK, None),
        (REJECT_CHAIN, None),
    ];
    if config.dns_ip.is_some() {
        chains.push((
            RAW_PREROUTING,
            base(ChainType::Filter, HookPoint::Prerouting, -300),
        ));
        chains.push((RAW_OUTPUT, base(ChainType::Filter, HookPoint::Output, -300)));
    }
    for (name, base) in chains {
        ops.push(Op::AddChain {
            name: name.to_string(),
            base,
        });
    }
    ops.extend(
        skeleton_rules(config)
            .into_iter()
            .map(|(chain, rule)| Op::AddRule {
                chain: chain.to_string(),
                rule,
            }),
    );
    ops
}

const SERVICE_KEY: [KeyField; 3] = [
    KeyField::Ipv4Addr,
    KeyField::InetProto,
    KeyField::InetService,
];
const NODEPORT_KEY: [KeyField; 2] = [KeyField::InetProto, KeyField::InetService];

/// The table's fixed sets and maps.
fn sets() -> Vec<Op> {
    let service = SERVICE_KEY;
    let nodeport = NODEPORT_KEY;
    let specs = [
        (SERVICE_IPS, service.to_vec(), SetKind::VerdictMap),
        (SERVICE_NODEPORTS, nodeport.to_vec(), SetKind::VerdictMap),
        (NO_ENDPOINT_SERVICES, service.to_vec(), SetKind::Set),
        (NO_ENDPOINT_NODEPORTS, nodeport.to_vec(), SetKind::Set),
        (CLUSTER_IPS, vec![KeyField::Ipv4Addr], SetKind::Set),
        (
            HAIRPIN,
            vec![KeyField::Ipv4Addr, KeyField::Ipv4Addr],
            SetKind::Set,
        ),
        (
            AFFINITY,
            vec![KeyField::Ipv4Addr, KeyField::Tag32],
            // Each update gives its own service's timeout; this default is never used.
            SetKind::Dynamic {
                timeout: DEFAULT_AFFINITY_TIMEOUT,
            },
        ),
    ];
    specs
        .into_iter()
        .map(|(name, key, kind)| {
            Op::AddSet(SetSpec {
                name: name.to_string(),
                key,
                kind,
            })
        })
        .collect()
}

/// The rules of the fixed chains.
fn skeleton_rules(config: &NftConfig) -> Vec<(&'static str, Rule)> {
    let mut rules = vec![
        (NAT_PREROUTING, Rule::Jump(SERVICES)),
        (NAT_OUTPUT, Rule::Jump(SERVICES)),
        (NAT_POSTROUTING, Rule::MarkHairpin),
        (NAT_POSTROUTING, Rule::Jump(MASQUERADING)),
        (MASQUERADING, Rule::ReturnUnmarked),
        (MASQUERADING, Rule::ClearMark),
        (MASQUERADING, Rule::Masquerade),
        (
            SERVICES,
            Rule::MarkNonClusterSources {
                cluster: config.cluster_cidr,
            },
        ),
        (SERVICES, Rule::ServiceDispatch),
        (SERVICES, Rule::MarkNodePorts),
        (SERVICES, Rule::NodePortDispatch),
        (FILTER_INPUT, Rule::NewJump(SERVICE_ENDPOINTS_CHECK)),
        (FILTER_INPUT, Rule::NewJump(NODEPORT_ENDPOINTS_CHECK)),
        (FILTER_PREROUTING, Rule::NewJump(SERVICE_ENDPOINTS_CHECK)),
        (FILTER_PREROUTING, Rule::NewJump(CLUSTER_IPS_CHECK)),
        (FILTER_OUTPUT, Rule::NewJump(SERVICE_ENDPOINTS_CHECK)),
        (FILTER_OUTPUT_POST_DNAT, Rule::NewJump(CLUSTER_IPS_CHECK)),
        (SERVICE_ENDPOINTS_CHECK, Rule::NoEndpointReject),
        (NODEPORT_ENDPOINTS_CHECK, Rule::NoEndpointNodePortReject),
        (CLUSTER_IPS_CHECK, Rule::RejectClusterIps),
        (
            CLUSTER_IPS_CHECK,
            Rule::DropServiceCidr {
                cidr: config.service_cidr,
            },
        ),
        (REJECT_CHAIN, Rule::RejectTcpReset),
        (REJECT_CHAIN, Rule::RejectIcmp),
    ];
    if config.pod_egress == PodEgress::Masquerade {
        rules.push((
            NAT_POSTROUTING,
            Rule::MasqueradePodEgress {
                cluster: config.cluster_cidr,
                service: config.service_cidr,
            },
        ));
    }
    if let Some(ip) = config.dns_ip {
        for chain in [RAW_PREROUTING, RAW_OUTPUT] {
            for toward in [true, false] {
                for proto in [TransportProtocol::Udp, TransportProtocol::Tcp] {
                    rules.push((
                        chain,
                        Rule::Notrack {
                            toward,
                            ip,
                            proto,
                            port: DNS_PORT,
                        },
                    ));
                }
            }
        }
    }
    rules
}

/// The desired state of one service port; `None` for the node-local DNS address, which the
/// agent answers itself. Slots and ids of `old` are kept, new ids drawn from `next_id`.
fn desired(
    name: &ServicePortName,
    port: &ServicePort,
    config: &NftConfig,
    old: Option<&Programmed>,
    next_id: &mut u32,
) -> Option<Desired> {
    if Some(port.cluster_ip) == config.dns_ip {
        return None;
    }
    let mut usable = port.usable_endpoints();
    let mut seen = HashSet::new();
    usable.retain(|ep| seen.insert(*ep));
    let slots = assign_slots(old.map_or(&[], |o| &o.slots), &usable);
    let affinity = port.session_affinity.map(|a| a.timeout);
    let endpoint_ids = match affinity {
        Some(_) => endpoint_ids(&slots, old, next_id),
        None => Vec::new(),
    };
    let picker = match (slots.len(), affinity) {
        (0, _) => None,
        (n, None) => Some(Picker::Shared(n as u32)),
        (_, Some(_)) => Some(Picker::Own(service_chain(name))),
    };
    let own_rules = match affinity {
        Some(timeout) => affinity_rules(name.protocol, &endpoint_ids, timeout),
        None => Vec::new(),
    };
    let programmed = Programmed {
        elements: elements(name.protocol, port, picker.as_ref(), &slots),
        picker,
        slots,
        endpoint_ids,
        cluster_ip: port.cluster_ip,
        port: port.port,
        protocol: name.protocol,
    };
    Some(Desired {
        programmed,
        own_rules,
    })
}

/// The endpoints by slot: those of `old` keep their slots, new ones fill the slots of the
/// ones that went and then follow; when fewer came than went, the last ones move down into
/// the holes.
fn assign_slots(old: &[SocketAddrV4], usable: &[SocketAddrV4]) -> Vec<SocketAddrV4> {
    let wanted: HashSet<&SocketAddrV4> = usable.iter().collect();
    let had: HashSet<&SocketAddrV4> = old.iter().collect();
    let mut fresh = usable.iter().filter(|ep| !had.contains(ep)).copied();
    let mut slots: Vec<Option<SocketAddrV4>> = old
        .iter()
        .map(|ep| match wanted.contains(ep) {
            true => Some(*ep),
            false => fresh.next(),
        })
        .collect();
    slots.extend(fresh.map(Some));
    let mut i = 0;
    while i < slots.len() {
        if slots[i].is_some() {
            i += 1;
        } else {
            // The last slot moves into the hole (or the hole, when last, goes).
            slots.swap_remove(i);
        }
    }
    slots.into_iter().flatten().collect()
}

/// Each endpoint's affinity id: the one it had, or a fresh one.
fn endpoint_ids(
    slots: &[SocketAddrV4],
    old: Option<&Programmed>,
    next_id: &mut u32,
) -> Vec<(SocketAddrV4, u32)> {
    let kept: HashMap<SocketAddrV4, u32> = old
        .map(|o| o.endpoint_ids.iter().copied().collect())
        .unwrap_or_default();
    slots
        .iter()
        .map(|ep| {
            let id = kept.get(ep).copied().unwrap_or_else(|| {
                *next_id += 1;
                *next_id
            });
            (*ep, id)
        })
        .collect()
}

/// The chain of a port with affinity: a client's remembered endpoint first, else one at
/// random, remembered.
fn affinity_rules(
    proto: TransportProtocol,
    endpoint_ids: &[(SocketAddrV4, u32)],
    timeout: Duration,
) -> Vec<Rule> {
    let n = endpoint_ids.len() as u32;
    let keep = endpoint_ids
        .iter()
        .map(|(endpoint, endpoint_id)| Rule::KeepAffinity {
            endpoint_id: *endpoint_id,
            timeout,
            proto,
            endpoint: *endpoint,
        });
    let pick = endpoint_ids
        .iter()
        .enumerate()
        .map(|(i, (endpoint, endpoint_id))| Rule::PickWithAffinity {
            remaining: n - i as u32,
            endpoint_id: *endpoint_id,
            timeout,
            proto,
            endpoint: *endpoint,
        });
    keep.chain(pick).collect()
}

/// The elements a service port owns: where its addresses and node port lead and, for the
/// shared pickers, its endpoints by slot; or, without endpoints, the entries that reject.
fn elements(
    protocol: TransportProtocol,
    port: &ServicePort,
    picker: Option<&Picker>,
    slots: &[SocketAddrV4],
) -> Vec<(SetId, MapElement)> {
    let addresses = std::iter::once(port.cluster_ip).chain(port.external_ips.iter().copied());
    let mut elements = Vec::new();
    let Some(picker) = picker else {
        for ip in addresses {
            let key = Key::Service(ip, protocol, port.port);
            elements.push((SetId::Fixed(NO_ENDPOINT_SERVICES), plain(key)));
        }
        if let Some(node_port) = port.node_port {
            let key = Key::NodePort(protocol, node_port);
            elements.push((SetId::Fixed(NO_ENDPOINT_NODEPORTS), plain(key)));
        }
        return elements;
    };
    let (chain, count) = match picker {
        Picker::Shared(count) => (picker_chain(*count), Some(*count)),
        Picker::Own(chain) => (chain.clone(), None),
    };
    let goto = |key| MapElement {
        key,
        data: Some(Data::Goto(chain.clone())),
    };
    let endpoint = |key, endpoint: &SocketAddrV4| MapElement {
        key,
        data: Some(Data::Endpoint(*endpoint)),
    };
    for ip in addresses {
        let key = Key::Service(ip, protocol, port.port);
        elements.push((SetId::Fixed(SERVICE_IPS), goto(key)));
        if let Some(count) = count {
            for (k, ep) in slots.iter().enumerate() {
                let key = Key::ServiceSlot(ip, protocol, port.port, k as u32);
                elements.push((SetId::Slots(count), endpoint(key, ep)));
            }
        }
    }
    if let Some(node_port) = port.node_port {
        let key = Key::NodePort(protocol, node_port);
        elements.push((SetId::Fixed(SERVICE_NODEPORTS), goto(key)));
        if let Some(count) = count {
            for (k, ep) in slots.iter().enumerate() {
                let key = Key::NodePortSlot(protocol, node_port, k as u32);
                elements.push((SetId::NodePortSlots(count), endpoint(key, ep)));
            }
        }
    }
    elements
}

fn own_chain(programmed: &Programmed) -> Option<&str> {
    match &programmed.picker {
        Some(Picker::Own(chain)) => Some(chain),
        _ => None,
    }
}

/// The shared chain for ports of `count` endpoints without affinity, with its slot maps.
fn add_picker(ops: &mut Vec<Op>, count: u32) {
    const SLOT_DATA: &[KeyField] = &[KeyField::Ipv4Addr, KeyField::InetService];
    for (set, key) in [
        (SetId::Slots(count), SERVICE_KEY.as_slice()),
        (SetId::NodePortSlots(count), NODEPORT_KEY.as_slice()),
    ] {
        ops.push(Op::AddSet(SetSpec {
            name: set.name(),
            key: [key, &[KeyField::Tag32]].concat(),
            kind: SetKind::Map { data: SLOT_DATA },
        }));
    }
    let chain = picker_chain(count);
    ops.push(Op::AddChain {
        name: chain.clone(),
        base: None,
    });
    for entry in [Entry::Address, Entry::NodePort] {
        ops.push(Op::AddRule {
            chain: chain.clone(),
            rule: Rule::PickSlot { entry, count },
        });
    }
}

/// A port's own chain with its rules; one that exists is emptied first.
fn add_own_chain(ops: &mut Vec<Op>, chain: OwnChain) {
    match chain.programmed {
        ChainProgrammed::Already => ops.push(Op::FlushChain(chain.name.clone())),
        ChainProgrammed::NotYet => ops.push(Op::AddChain {
            name: chain.name.clone(),
            base: None,
        }),
    }
    ops.extend(chain.rules.into_iter().map(|rule| Op::AddRule {
        chain: chain.name.clone(),
        rule,
    }));
}

/// The elements of `these` that `those` does not hold as they are (a different data counts as
/// missing: maps replace an element by deleting and adding it).
fn missing_from(
    these: &[(SetId, MapElement)],
    those: &[(SetId, MapElement)],
) -> Vec<(SetId, MapElement)> {
    let those: HashSet<&(SetId, MapElement)> = those.iter().collect();
    these
        .iter()
        .filter(|element| !those.contains(element))
        .cloned()
        .collect()
}

/// kube-proxy's stale UDP fix: flows to endpoints that went away, and flows to the service
/// address that were set up while it had no endpoint (and so were rejected).
fn stale_udp_flows(old: Option<&Programmed>, new: Option<&Programmed>) -> Vec<FlowMatch> {
    let is_udp = |p: &Programmed| p.protocol == TransportProtocol::Udp;
    let mut flows = Vec::new();
    if let Some(old) = old.filter(|p| is_udp(p)) {
        let kept: &[SocketAddrV4] = new.map_or(&[], |n| &n.slots);
        flows.extend(
            old.slots
                .iter()
                .filter(|ep| !kept.contains(ep))
                .map(|ep| FlowMatch::ReplySource(*ep)),
        );
    }
    if let Some(new) = new.filter(|p| is_udp(p) && !p.slots.is_empty()) {
        if old.is_none_or(|o| o.slots.is_empty()) {
            flows.push(FlowMatch::OriginalDestination(SocketAddrV4::new(
                new.cluster_ip,
                new.port,
            )));
        }
    }
    flows
}

/// Elements grouped by set, in set order.
fn by_set(elements: Vec<(SetId, MapElement)>) -> BTreeMap<SetId, Vec<MapElement>> {
    let mut by_set: BTreeMap<SetId, Vec<MapElement>> = BTreeMap::new();
    for (set, element) in elements {
        by_set.entry(set).or_default().push(element);
    }
    by_set
}

fn plain(key: Key) -> MapElement {
    MapElement { key, data: None }
}

fn cluster_ip(ip: Ipv4Addr) -> MapElement {
    plain(Key::Ip(ip))
}

fn hairpin(ip: Ipv4Addr) -> MapElement {
    plain(Key::Hairpin(ip))
}

impl fmt::Display for Op {
    /// nft's command syntax, one line per operation (in `ip <table>`, left out).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::AddTable => write!(f, "add table"),
            Op::DeleteTable => write!(f, "delete table"),
            Op::AddChain { name, base: None } => write!(f, "add chain {name}"),
            Op::AddChain {
                name,
                base: Some(base),
            } => write!(
                f,
                "add chain {name} {{ type {} hook {} priority {} ; }}",
                match base.chain_type {
                    ChainType::Filter => "filter",
                    ChainType::Nat => "nat",
                },
                format!("{:?}", base.hook).to_lowercase(),
                base.priority
            ),
            Op::FlushChain(name) => write!(f, "flush chain {name}"),
            Op::DeleteChain(name) => write!(f, "delete chain {name}"),
            Op::AddRule { chain, rule } => write!(f, "add rule {chain} {rule}"),
            Op::AddSet(spec) => write!(f, "add set {} {:?} {:?}", spec.name, spec.key, spec.kind),
            Op::DeleteSet(set) => write!(f, "delete set {}", set.name()),
            Op::AddElements { set, elements } => {
                write!(f, "add element {} {{ {} }}", set.name(), join(elements))
            }
            Op::DeleteElements { set, elements } => {
                write!(f, "delete element {} {{ {} }}", set.name(), join(elements))
            }
        }
    }
}

fn join(elements: &[MapElement]) -> String {
    elements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for MapElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key {
            Key::Service(ip, proto, port) => write!(f, "{ip} . {} . {port}", proto.as_str())?,
            Key::NodePort(proto, port) => write!(f, "{} . {port}", proto.as_str())?,
            Key::ServiceSlot(ip, proto, port, slot) => {
                write!(f, "{ip} . {} . {port} . {slot}", proto.as_str())?
            }
            Key::NodePortSlot(proto, port, slot) => {
                write!(f, "{} . {port} . {slot}", proto.as_str())?
            }
            Key::Ip(ip) => write!(f, "{ip}")?,
            Key::Hairpin(ip) => write!(f, "{ip} . {ip}")?,
        }
        match &self.data {
            None => Ok(()),
            Some(Data::Goto(chain)) => write!(f, " : goto {chain}"),
            Some(Data::Endpoint(endpoint)) => {
                write!(f, " : {} . {}", endpoint.ip(), endpoint.port())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proxy::{Endpoint, SessionAffinity};

    fn name(name: &str, protocol: TransportProtocol) -> ServicePortName {
        ServicePortName {
            namespace: "default".into(),
            name: name.into(),
            port: String::new(),
            protocol,
        }
    }

    fn endpoint(addr: &str, ready: bool) -> Endpoint {
        Endpoint {
            address: addr.parse().unwrap(),
            ready,
            serving: ready,
            terminating: false,
            is_local: true,
        }
    }

    fn port(vip: &str, eps: &[&str]) -> ServicePort {
        ServicePort {
            cluster_ip: vip.parse().unwrap(),
            port: 80,
            node_port: None,
            external_ips: vec![],
            session_affinity: None,
            endpoints: eps.iter().map(|e| endpoint(e, true)).collect(),
        }
    }

    fn addrs(eps: &[&str]) -> Vec<SocketAddrV4> {
        eps.iter().map(|e| e.parse().unwrap()).collect()
    }

    /// The operations as nft-like lines, with the hashes of generated names blanked out.
    fn render(ops: &[Op]) -> Vec<String> {
        ops.iter()
            .map(|op| {
                let line = op.to_string();
                let mut out = String::new();
                for (i, part) in line.split("svc-").enumerate() {
                    if i > 0 {
                        out.push_str("svc-H");
                        out.push_str(&part[16.min(part.len())..]);
                    } else {
                        out.push_str(part);
                    }
                }
                out
            })
            .collect()
    }

    /// The lines about services: their chains, rules and elements (after the table's
    /// replacement and fixed part).
    fn service_ops(plan: &Plan, config: &NftConfig) -> Vec<String> {
        render(&plan.ops[3 + skeleton(config).len()..])
    }

    fn only(names: &[&ServicePortName]) -> ChangedServices {
        ChangedServices {
            names: names.iter().map(|n| (*n).clone()).collect(),
            full: false,
        }
    }

    #[test]
    fn full_plan_per_service_shape() {
        let mut model = ProxyModel::default();
        let mut kubia = port("10.96.0.50", &["10.244.0.5:8080", "10.244.0.6:8080"]);
        kubia.session_affinity = Some(SessionAffinity {
            timeout: Duration::from_secs(60),
        });
        model
            .services
            .insert(name("kubia", TransportProtocol::Tcp), kubia);
        let mut web = port("10.96.0.52", &["10.244.0.5:8080", "10.244.0.7:8080"]);
        web.node_port = Some(30080);
        model
            .services
            .insert(name("web", TransportProtocol::Tcp), web);
        model.services.insert(
            name("empty", TransportProtocol::Udp),
            port("10.96.0.51", &[]),
        );
        let mut dns = port("10.96.0.10", &["10.244.0.9:53"]);
        dns.port = 53;
        model
            .services
            .insert(name("kube-dns", TransportProtocol::Udp), dns);
        let config = NftConfig {
            dns_ip: Some("10.96.0.10".parse().unwrap()),
            ..NftConfig::default()
        };
        let (plan, _) = full(&model, &config);
        let svc = "svc-H-default/kubia/tcp/";
        let expected = vec![
            "add set slots-2 [Ipv4Addr, InetProto, InetService, Tag32] Map { data: [Ipv4Addr, InetService] }".to_string(),
            "add set nodeport-slots-2 [InetProto, InetService, Tag32] Map { data: [Ipv4Addr, InetService] }".to_string(),
            "add chain endpoints-2".to_string(),
            "add rule endpoints-2 dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @slots-2".to_string(),
            "add rule endpoints-2 dnat ip to meta l4proto . th dport . numgen random mod 2 map @nodeport-slots-2".to_string(),
            format!("add chain {svc}"),
            format!("add rule {svc} ip saddr . 1 @affinity update @affinity {{ ip saddr . 1 timeout 60s }} meta l4proto tcp dnat to 10.244.0.5:8080"),
            format!("add rule {svc} ip saddr . 2 @affinity update @affinity {{ ip saddr . 2 timeout 60s }} meta l4proto tcp dnat to 10.244.0.6:8080"),
            format!("add rule {svc} numgen random mod 2 == 0 update @affinity {{ ip saddr . 1 timeout 60s }} meta l4proto tcp dnat to 10.244.0.5:8080"),
            format!("add rule {svc} update @affinity {{ ip saddr . 2 timeout 60s }} meta l4proto tcp dnat to 10.244.0.6:8080"),
            "add element no-endpoint-services { 10.96.0.51 . udp . 80 }".to_string(),
            format!("add element service-ips {{ 10.96.0.50 . tcp . 80 : goto {svc}, 10.96.0.52 . tcp . 80 : goto endpoints-2 }}"),
            "add element service-nodeports { tcp . 30080 : goto endpoints-2 }".to_string(),
            "add element slots-2 { 10.96.0.52 . tcp . 80 . 0 : 10.244.0.5 . 8080, 10.96.0.52 . tcp . 80 . 1 : 10.244.0.7 . 8080 }".to_string(),
            "add element nodeport-slots-2 { tcp . 30080 . 0 : 10.244.0.5 . 8080, tcp . 30080 . 1 : 10.244.0.7 . 8080 }".to_string(),
            "add element cluster-ips { 10.96.0.50, 10.96.0.51, 10.96.0.52 }".to_string(),
            "add element hairpin { 10.244.0.5 . 10.244.0.5, 10.244.0.6 . 10.244.0.6, 10.244.0.7 . 10.244.0.7 }".to_string(),
        ];
        assert_eq!(service_ops(&plan, &config), expected);
        // The DNS address gets notrack rules and no service entry.
        let all = render(&plan.ops).join("\n");
        assert!(all.contains(
            "add rule raw-prerouting ip daddr 10.96.0.10 meta l4proto udp th dport 53 notrack"
        ));
        assert!(!all.contains("kube-dns") && !all.contains("10.244.0.9"));
        assert!(all.starts_with("add table\ndelete table\nadd table\n"));
    }

    #[test]
    fn endpoint_change_with_the_same_count_changes_elements_only() {
        let mut model = ProxyModel::default();
        let a = name("a", TransportProtocol::Udp);
        let b = name("b", TransportProtocol::Tcp);
        model.services.insert(
            a.clone(),
            port("10.96.0.1", &["10.244.0.5:53", "10.244.0.6:53"]),
        );
        model.services.insert(
            b.clone(),
            port("10.96.0.2", &["10.244.0.7:80", "10.244.0.8:80"]),
        );
        let config = NftConfig::default();
        let (_, mut state) = full(&model, &config);

        model.services.insert(
            a.clone(),
            port("10.96.0.1", &["10.244.0.8:53", "10.244.0.5:53"]),
        );
        let plan = changes(&model, &only(&[&a]), &mut state, &config);
        // 10.244.0.5 keeps its slot, 10.244.0.8 takes 10.244.0.6's; the hairpin set still holds
        // 10.244.0.8, which b uses too.
        assert_eq!(
            render(&plan.ops),
            vec![
                "delete element slots-2 { 10.96.0.1 . udp . 80 . 1 : 10.244.0.6 . 53 }",
                "add element slots-2 { 10.96.0.1 . udp . 80 . 1 : 10.244.0.8 . 53 }",
                "delete element hairpin { 10.244.0.6 . 10.244.0.6 }",
            ]
        );
        assert_eq!(
            plan.stale_udp_flows,
            vec![FlowMatch::ReplySource("10.244.0.6:53".parse().unwrap())]
        );
    }

    #[test]
    fn count_changes_move_the_port_to_another_picker() {
        let mut model = ProxyModel::default();
        let a = name("a", TransportProtocol::Tcp);
        let b = name("b", TransportProtocol::Tcp);
        model.services.insert(
            a.clone(),
            port("10.96.0.1", &["10.244.0.5:80", "10.244.0.6:80"]),
        );
        model
            .services
            .insert(b.clone(), port("10.96.0.2", &["10.244.0.7:80"]));
        let config = NftConfig::default();
        let (_, mut state) = full(&model, &config);

        // a goes down to one endpoint: it joins b's picker, and the picker of two goes.
        model
            .services
            .insert(a.clone(), port("10.96.0.1", &["10.244.0.6:80"]));
        let plan = changes(&model, &only(&[&a]), &mut state, &config);
        assert_eq!(
            render(&plan.ops),
            vec![
                "delete element service-ips { 10.96.0.1 . tcp . 80 : goto endpoints-2 }",
                "delete element slots-2 { 10.96.0.1 . tcp . 80 . 0 : 10.244.0.5 . 80, 10.96.0.1 . tcp . 80 . 1 : 10.244.0.6 . 80 }",
                "add element service-ips { 10.96.0.1 . tcp . 80 : goto endpoints-1 }",
                "add element slots-1 { 10.96.0.1 . tcp . 80 . 0 : 10.244.0.6 . 80 }",
                "delete element hairpin { 10.244.0.5 . 10.244.0.5 }",
                "flush chain endpoints-2",
                "delete chain endpoints-2",
                "delete set slots-2",
                "delete set nodeport-slots-2",
            ]
        );

        // No endpoint: rejected; removed: its cluster IP leaves the set, b is not touched.
        model.services.insert(a.clone(), port("10.96.0.1", &[]));
        let plan = changes(&model, &only(&[&a]), &mut state, &config);
        assert!(render(&plan.ops)
            .contains(&"add element no-endpoint-services { 10.96.0.1 . tcp . 80 }".to_string()));
        model.services.remove(&a);
        let plan = changes(&model, &only(&[&a]), &mut state, &config);
        assert_eq!(
            render(&plan.ops),
            vec![
                "delete element no-endpoint-services { 10.96.0.1 . tcp . 80 }",
                "delete element cluster-ips { 10.96.0.1 }",
            ]
        );
    }

    #[test]
    fn affinity_ports_keep_their_chain_and_endpoint_ids() {
        let mut model = ProxyModel::default();
        let a = name("a", TransportProtocol::Tcp);
        let mut with_affinity = port("10.96.0.1", &["10.244.0.5:80", "10.244.0.6:80"]);
        with_affinity.session_affinity = Some(SessionAffinity {
            timeout: Duration::from_secs(10),
        });
        model.services.insert(a.clone(), with_affinity.clone());
        let config = NftConfig::default();
        let (_, mut state) = full(&model, &config);

        with_affinity.endpoints.remove(0);
        model.services.insert(a.clone(), with_affinity);
        let plan = changes(&model, &only(&[&a]), &mut state, &config);
        let svc = "svc-H-default/a/tcp/";
        assert_eq!(
            render(&plan.ops),
            vec![
                format!("flush chain {svc}"),
                format!("add rule {svc} ip saddr . 2 @affinity update @affinity {{ ip saddr . 2 timeout 10s }} meta l4proto tcp dnat to 10.244.0.6:80"),
                format!("add rule {svc} update @affinity {{ ip saddr . 2 timeout 10s }} meta l4proto tcp dnat to 10.244.0.6:80"),
                "delete element hairpin { 10.244.0.5 . 10.244.0.5 }".to_string(),
            ]
        );

        // Without affinity it moves to a shared picker and its chain goes.
        model.services.get_mut(&a).unwrap().session_affinity = None;
        let plan = changes(&model, &only(&[&a]), &mut state, &config);
        let lines = render(&plan.ops);
        assert!(lines[0].starts_with("add set slots-1 "), "{lines:?}");
        assert_eq!(lines[2], "add chain endpoints-1");
        assert_eq!(
            lines[lines.len() - 2..],
            [format!("flush chain {svc}"), format!("delete chain {svc}")]
        );
    }

    #[test]
    fn slots_are_kept_and_holes_filled() {
        type Case = (
            &'static str,
            &'static [&'static str],
            &'static [&'static str],
            &'static [&'static str],
        );
        let cases: &[Case] = &[
            (
                "fresh",
                &[],
                &["1.1.1.1:1", "1.1.1.2:1"],
                &["1.1.1.1:1", "1.1.1.2:1"],
            ),
            (
                "same, reordered",
                &["1.1.1.1:1", "1.1.1.2:1"],
                &["1.1.1.2:1", "1.1.1.1:1"],
                &["1.1.1.1:1", "1.1.1.2:1"],
            ),
            (
                "one replaced",
                &["1.1.1.1:1", "1.1.1.2:1", "1.1.1.3:1"],
                &["1.1.1.1:1", "1.1.1.9:1", "1.1.1.3:1"],
                &["1.1.1.1:1", "1.1.1.9:1", "1.1.1.3:1"],
            ),
            (
                "first removed: the last moves down",
                &["1.1.1.1:1", "1.1.1.2:1", "1.1.1.3:1"],
                &["1.1.1.2:1", "1.1.1.3:1"],
                &["1.1.1.3:1", "1.1.1.2:1"],
            ),
            (
                "two removed, last among them",
                &["1.1.1.1:1", "1.1.1.2:1", "1.1.1.3:1", "1.1.1.4:1"],
                &["1.1.1.2:1", "1.1.1.3:1"],
                &["1.1.1.3:1", "1.1.1.2:1"],
            ),
            (
                "added at the end",
                &["1.1.1.1:1"],
                &["1.1.1.2:1", "1.1.1.1:1"],
                &["1.1.1.1:1", "1.1.1.2:1"],
            ),
            ("all gone", &["1.1.1.1:1"], &[], &[]),
        ];
        for (what, old, usable, want) in cases {
            assert_eq!(
                assign_slots(&addrs(old), &addrs(usable)),
                addrs(want),
                "{what}"
            );
        }
    }
}
