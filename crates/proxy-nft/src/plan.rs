//! Pure rule generation: the proxy model in, the list of table operations out (kube-proxy's
//! nftables layout in one table of ferry's own), for a full rebuild or for a few changed
//! service ports given what is programmed now.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use ferry_nft::{BaseChain, ChainType, FlowMatch, HookPoint, KeyField, SetKind, SetSpec};
use ferry_proxy::{ChangedServices, ProxyModel, ServicePort, ServicePortName, TransportProtocol};

use crate::config::{NftConfig, PodEgress};
use crate::names::{endpoint_chain, service_chain};
use crate::rules::{
    Rule, AFFINITY, CLUSTER_IPS, NO_ENDPOINT_NODEPORTS, NO_ENDPOINT_SERVICES, REJECT_CHAIN,
    SERVICE_IPS, SERVICE_NODEPORTS,
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
    AddElements {
        set: &'static str,
        elements: Vec<MapElement>,
    },
    DeleteElements {
        set: &'static str,
        elements: Vec<MapElement>,
    },
}

/// An element of one of the table's maps or sets.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct MapElement {
    pub(crate) key: Key,
    /// The chain a verdict map element jumps to (`goto`); `None` in plain sets.
    pub(crate) goto: Option<String>,
}

/// The key of a map element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// `ip . proto . port`.
    Service(Ipv4Addr, TransportProtocol, u16),
    /// `proto . port` of a node port.
    NodePort(TransportProtocol, u16),
    /// An address (the `cluster-ips` set).
    Ip(Ipv4Addr),
}

/// What is programmed for one service port, to undo it later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Programmed {
    chains: Vec<String>,
    /// Identifies each endpoint in the shared `affinity` set; never reused, so a client's
    /// stale affinity entry can not lead to another service's endpoint.
    endpoint_ids: Vec<(SocketAddrV4, u32)>,
    elements: Vec<(&'static str, MapElement)>,
    cluster_ip: Ipv4Addr,
    port: u16,
    protocol: TransportProtocol,
    usable: Vec<SocketAddrV4>,
}

/// Everything programmed: per service port, and how many ports share each cluster IP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct State {
    services: HashMap<ServicePortName, Programmed>,
    cluster_ips: HashMap<Ipv4Addr, usize>,
    next_id: u32,
}

/// The operations of a sync and the UDP flows to forget once they are applied.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) ops: Vec<Op>,
    pub(crate) stale_udp_flows: Vec<FlowMatch>,
}

/// The chains of one service port, as desired.
struct Desired {
    programmed: Programmed,
    rules: Vec<(String, Vec<Rule>)>,
}

const RAW_PREROUTING: &str = "raw-prerouting";
const RAW_OUTPUT: &str = "raw-output";
const NAT_PREROUTING: &str = "nat-prerouting";
const NAT_OUTPUT: &str = "nat-output";
const NAT_POSTROUTING: &str = "nat-postrouting";
const FILTER_INPUT: &str = "filter-input";
const FILTER_FORWARD: &str = "filter-forward";
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
    let mut ops = vec![Op::AddTable, Op::DeleteTable, Op::AddTable];
    ops.extend(skeleton(config));
    let mut state = State::default();
    let mut elements: BTreeMap<&'static str, Vec<MapElement>> = BTreeMap::new();
    for (name, port) in &model.services {
        let Some(desired) = desired(name, port, config, None, &mut state.next_id) else {
            continue;
        };
        add_service(&mut ops, &desired);
        for (set, element) in &desired.programmed.elements {
            elements.entry(set).or_default().push(element.clone());
        }
        let count = state
            .cluster_ips
            .entry(desired.programmed.cluster_ip)
            .or_default();
        *count += 1;
        if *count == 1 {
            elements
                .entry(CLUSTER_IPS)
                .or_default()
                .push(plain(Key::Ip(desired.programmed.cluster_ip)));
        }
        state.services.insert(name.clone(), desired.programmed);
    }
    ops.extend(
        elements
            .into_iter()
            .map(|(set, elements)| Op::AddElements { set, elements }),
    );
    (
        Plan {
            ops,
            stale_udp_flows: Vec::new(),
        },
        state,
    )
}

/// Brings just the named service ports to the model, given what is programmed; updates
/// `state` to what the returned operations program.
pub(crate) fn changes(
    model: &ProxyModel,
    changed: &ChangedServices,
    state: &mut State,
    config: &NftConfig,
) -> Plan {
    let mut plan = Plan::default();
    let mut cluster_ip_delta: BTreeMap<Ipv4Addr, i64> = BTreeMap::new();
    for name in &changed.names {
        let old = state.services.remove(name);
        let new = model
            .services
            .get(name)
            .and_then(|port| desired(name, port, config, old.as_ref(), &mut state.next_id));
        if let Some(old) = &old {
            remove_service(&mut plan.ops, old, new.as_ref());
            *cluster_ip_delta.entry(old.cluster_ip).or_default() -= 1;
        }
        if let Some(new) = &new {
            add_service(&mut plan.ops, new);
            plan.ops
                .extend(group_elements(&new.programmed.elements, true));
            *cluster_ip_delta
                .entry(new.programmed.cluster_ip)
                .or_default() += 1;
        }
        plan.stale_udp_flows.extend(stale_udp_flows(
            old.as_ref(),
            new.as_ref().map(|d| &d.programmed),
        ));
        if let Some(new) = new {
            state.services.insert(name.clone(), new.programmed);
        }
    }
    let (mut add, mut delete) = (Vec::new(), Vec::new());
    for (ip, delta) in cluster_ip_delta {
        let before = state.cluster_ips.get(&ip).copied().unwrap_or(0);
        let after = (before as i64 + delta).max(0) as usize;
        match (before, after) {
            (0, 1..) => add.push(plain(Key::Ip(ip))),
            (1.., 0) => delete.push(plain(Key::Ip(ip))),
            _ => {}
        }
        if after == 0 {
            state.cluster_ips.remove(&ip);
        } else {
            state.cluster_ips.insert(ip, after);
        }
    }
    if !delete.is_empty() {
        plan.ops.push(Op::DeleteElements {
            set: CLUSTER_IPS,
            elements: delete,
        });
    }
    if !add.is_empty() {
        plan.ops.push(Op::AddElements {
            set: CLUSTER_IPS,
            elements: add,
        });
    }
    plan
}

/// The table's fixed part: maps, base chains and the rules that dispatch into the maps.
fn skeleton(config: &NftConfig) -> Vec<Op> {
    let mut ops = Vec::new();
    let service_key = vec![
        KeyField::Ipv4Addr,
        KeyField::InetProto,
        KeyField::InetService,
    ];
    let nodeport_key = vec![KeyField::InetProto, KeyField::InetService];
    for (name, key) in [
        (SERVICE_IPS, &service_key),
        (SERVICE_NODEPORTS, &nodeport_key),
        (NO_ENDPOINT_SERVICES, &service_key),
        (NO_ENDPOINT_NODEPORTS, &nodeport_key),
    ] {
        ops.push(Op::AddSet(SetSpec {
            name: name.to_string(),
            key: key.clone(),
            kind: SetKind::VerdictMap,
        }));
    }
    ops.push(Op::AddSet(SetSpec {
        name: CLUSTER_IPS.to_string(),
        key: vec![KeyField::Ipv4Addr],
        kind: SetKind::Set,
    }));
    ops.push(Op::AddSet(SetSpec {
        name: AFFINITY.to_string(),
        key: vec![KeyField::Ipv4Addr, KeyField::Integer32],
        // Each update gives its own service's timeout; this default is never used.
        kind: SetKind::Dynamic {
            timeout: DEFAULT_AFFINITY_TIMEOUT,
        },
    }));

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
        (FILTER_INPUT, base(ChainType::Filter, HookPoint::Input, -10)),
        (
            FILTER_FORWARD,
            base(ChainType::Filter, HookPoint::Forward, -10),
        ),
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

    let mut rules = vec![
        (NAT_PREROUTING, Rule::Jump(SERVICES)),
        (NAT_OUTPUT, Rule::Jump(SERVICES)),
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
        (FILTER_FORWARD, Rule::NewJump(SERVICE_ENDPOINTS_CHECK)),
        (FILTER_FORWARD, Rule::NewJump(CLUSTER_IPS_CHECK)),
        (FILTER_OUTPUT, Rule::NewJump(SERVICE_ENDPOINTS_CHECK)),
        (FILTER_OUTPUT_POST_DNAT, Rule::NewJump(CLUSTER_IPS_CHECK)),
        (SERVICE_ENDPOINTS_CHECK, Rule::NoEndpointDispatch),
        (NODEPORT_ENDPOINTS_CHECK, Rule::NoEndpointNodePortDispatch),
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
    ops.extend(rules.into_iter().map(|(chain, rule)| Op::AddRule {
        chain: chain.to_string(),
        rule,
    }));
    ops
}

/// The desired chains and map elements of one service port; `None` for the node-local DNS
/// address, which the agent answers itself. Ids of `old` are kept, new ones drawn from
/// `next_id`.
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
    let mut seen = std::collections::HashSet::new();
    usable.retain(|ep| seen.insert(*ep));
    let protocol = name.protocol;
    let addresses: Vec<Ipv4Addr> = std::iter::once(port.cluster_ip)
        .chain(port.external_ips.iter().copied())
        .collect();
    let mut draw = || {
        *next_id += 1;
        *next_id
    };
    let endpoint_ids: Vec<(SocketAddrV4, u32)> = usable
        .iter()
        .map(|ep| {
            let kept = old.and_then(|o| o.endpoint_ids.iter().find(|(e, _)| e == ep));
            (*ep, kept.map_or_else(&mut draw, |(_, id)| *id))
        })
        .collect();
    let mut desired = Desired {
        programmed: Programmed {
            chains: Vec::new(),
            endpoint_ids,
            elements: Vec::new(),
            cluster_ip: port.cluster_ip,
            port: port.port,
            protocol,
            usable: usable.clone(),
        },
        rules: Vec::new(),
    };
    let elements = &mut desired.programmed.elements;
    if usable.is_empty() {
        let reject = Some(REJECT_CHAIN.to_string());
        for ip in addresses {
            elements.push((
                NO_ENDPOINT_SERVICES,
                goto(Key::Service(ip, protocol, port.port), &reject),
            ));
        }
        if let Some(node_port) = port.node_port {
            elements.push((
                NO_ENDPOINT_NODEPORTS,
                goto(Key::NodePort(protocol, node_port), &reject),
            ));
        }
        return Some(desired);
    }
    let svc_chain = service_chain(name);
    let target = Some(svc_chain.clone());
    for ip in addresses {
        elements.push((
            SERVICE_IPS,
            goto(Key::Service(ip, protocol, port.port), &target),
        ));
    }
    if let Some(node_port) = port.node_port {
        elements.push((
            SERVICE_NODEPORTS,
            goto(Key::NodePort(protocol, node_port), &target),
        ));
    }
    let affinity = port.session_affinity.map(|a| a.timeout);
    let mut svc_rules = Vec::new();
    let mut ep_chains = Vec::new();
    for (ep, endpoint_id) in &desired.programmed.endpoint_ids {
        let chain = endpoint_chain(name, *ep);
        let mut rules = vec![Rule::Hairpin { endpoint: *ep.ip() }];
        if let Some(timeout) = affinity {
            svc_rules.push(Rule::AffinityCheck {
                endpoint_id: *endpoint_id,
                chain: chain.clone(),
            });
            rules.push(Rule::AffinityUpdate {
                endpoint_id: *endpoint_id,
                timeout,
            });
        }
        rules.push(Rule::Dnat {
            proto: protocol,
            endpoint: *ep,
        });
        ep_chains.push(chain.clone());
        desired.rules.push((chain, rules));
    }
    let n = ep_chains.len() as u32;
    for (i, chain) in ep_chains.iter().enumerate() {
        svc_rules.push(Rule::PickEndpoint {
            remaining: n - i as u32,
            chain: chain.clone(),
        });
    }
    // The service chain is written after its endpoint chains, which it names.
    desired.rules.push((svc_chain.clone(), svc_rules));
    desired.programmed.chains = ep_chains;
    desired.programmed.chains.push(svc_chain);
    Some(desired)
}

fn add_service(ops: &mut Vec<Op>, desired: &Desired) {
    for chain in &desired.programmed.chains {
        ops.push(Op::AddChain {
            name: chain.clone(),
            base: None,
        });
    }
    for (chain, rules) in &desired.rules {
        for rule in rules {
            ops.push(Op::AddRule {
                chain: chain.clone(),
                rule: rule.clone(),
            });
        }
    }
}

/// Undoes `old`: its map elements go, its chains are emptied, and the chains that `new` does
/// not keep are deleted (after everything that referred to them is gone).
fn remove_service(ops: &mut Vec<Op>, old: &Programmed, new: Option<&Desired>) {
    ops.extend(group_elements(&old.elements, false));
    for chain in &old.chains {
        ops.push(Op::FlushChain(chain.clone()));
    }
    let kept_chains: &[String] = new.map_or(&[], |n| &n.programmed.chains);
    for chain in &old.chains {
        if !kept_chains.contains(chain) {
            ops.push(Op::DeleteChain(chain.clone()));
        }
    }
}

/// kube-proxy's stale UDP fix: flows to endpoints that went away, and flows to the service
/// address that were set up while it had no endpoint (and so were rejected).
fn stale_udp_flows(old: Option<&Programmed>, new: Option<&Programmed>) -> Vec<FlowMatch> {
    let is_udp = |p: &Programmed| p.protocol == TransportProtocol::Udp;
    let mut flows = Vec::new();
    if let Some(old) = old.filter(|p| is_udp(p)) {
        let kept: &[SocketAddrV4] = new.map_or(&[], |n| &n.usable);
        flows.extend(
            old.usable
                .iter()
                .filter(|ep| !kept.contains(ep))
                .map(|ep| FlowMatch::ReplySource(*ep)),
        );
    }
    if let Some(new) = new.filter(|p| is_udp(p) && !p.usable.is_empty()) {
        if old.is_none_or(|o| o.usable.is_empty()) {
            flows.push(FlowMatch::OriginalDestination(SocketAddrV4::new(
                new.cluster_ip,
                new.port,
            )));
        }
    }
    flows
}

fn group_elements(elements: &[(&'static str, MapElement)], add: bool) -> Vec<Op> {
    let mut by_set: BTreeMap<&'static str, Vec<MapElement>> = BTreeMap::new();
    for (set, element) in elements {
        by_set.entry(set).or_default().push(element.clone());
    }
    by_set
        .into_iter()
        .map(|(set, elements)| {
            if add {
                Op::AddElements { set, elements }
            } else {
                Op::DeleteElements { set, elements }
            }
        })
        .collect()
}

fn goto(key: Key, chain: &Option<String>) -> MapElement {
    MapElement {
        key,
        goto: chain.clone(),
    }
}

fn plain(key: Key) -> MapElement {
    MapElement { key, goto: None }
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
            Op::AddElements { set, elements } => {
                write!(f, "add element {set} {{ {} }}", join(elements))
            }
            Op::DeleteElements { set, elements } => {
                write!(f, "delete element {set} {{ {} }}", join(elements))
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
            Key::Ip(ip) => write!(f, "{ip}")?,
        }
        if let Some(chain) = &self.goto {
            write!(f, " : goto {chain}")?;
        }
        Ok(())
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
                let mut blanked = String::new();
                for (i, part) in out.split("ep-").enumerate() {
                    if i > 0 {
                        blanked.push_str("ep-H");
                        blanked.push_str(&part[16.min(part.len())..]);
                    } else {
                        blanked.push_str(part);
                    }
                }
                blanked
            })
            .collect()
    }

    fn service_ops(plan: &Plan) -> Vec<String> {
        render(&plan.ops)
            .into_iter()
            .filter(|l| l.contains("svc-") || l.contains("ep-") || l.contains("element"))
            .collect()
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
        let ep5 = "ep-H-default/kubia/tcp/__10.244.0.5/8080";
        let ep6 = "ep-H-default/kubia/tcp/__10.244.0.6/8080";
        let svc = "svc-H-default/kubia/tcp/";
        let expected = vec![
            format!("add chain {ep5}"),
            format!("add chain {ep6}"),
            format!("add chain {svc}"),
            format!("add rule {ep5} ip saddr 10.244.0.5 meta mark set meta mark | 0x00004000"),
            format!("add rule {ep5} update @affinity {{ ip saddr . 1 timeout 60s }}"),
            format!("add rule {ep5} meta l4proto tcp dnat to 10.244.0.5:8080"),
            format!("add rule {ep6} ip saddr 10.244.0.6 meta mark set meta mark | 0x00004000"),
            format!("add rule {ep6} update @affinity {{ ip saddr . 2 timeout 60s }}"),
            format!("add rule {ep6} meta l4proto tcp dnat to 10.244.0.6:8080"),
            format!("add rule {svc} ip saddr . 1 @affinity goto {ep5}"),
            format!("add rule {svc} ip saddr . 2 @affinity goto {ep6}"),
            format!("add rule {svc} numgen random mod 2 == 0 goto {ep5}"),
            format!("add rule {svc} goto {ep6}"),
            "add element cluster-ips { 10.96.0.51, 10.96.0.50 }".to_string(),
            "add element no-endpoint-services { 10.96.0.51 . udp . 80 : goto reject-chain }"
                .to_string(),
            format!("add element service-ips {{ 10.96.0.50 . tcp . 80 : goto {svc} }}"),
        ];
        assert_eq!(service_ops(&plan), expected);
        // The DNS address gets notrack rules and no service entry.
        let all = render(&plan.ops).join("\n");
        assert!(all.contains(
            "add rule raw-prerouting ip daddr 10.96.0.10 meta l4proto udp th dport 53 notrack"
        ));
        assert!(!all.contains("kube-dns"));
        assert!(all.starts_with("add table\ndelete table\nadd table\n"));
    }

    #[test]
    fn change_touches_only_the_named_service() {
        let mut model = ProxyModel::default();
        let a = name("a", TransportProtocol::Udp);
        let b = name("b", TransportProtocol::Tcp);
        model.services.insert(
            a.clone(),
            port("10.96.0.1", &["10.244.0.5:53", "10.244.0.6:53"]),
        );
        model
            .services
            .insert(b.clone(), port("10.96.0.2", &["10.244.0.7:80"]));
        let config = NftConfig::default();
        let (_, mut state) = full(&model, &config);

        model.services.insert(
            a.clone(),
            port("10.96.0.1", &["10.244.0.5:53", "10.244.0.8:53"]),
        );
        let changed = ChangedServices {
            names: [a.clone()].into(),
            full: false,
        };
        let plan = changes(&model, &changed, &mut state, &config);
        let ep5 = "ep-H-default/a/udp/__10.244.0.5/53";
        let ep6 = "ep-H-default/a/udp/__10.244.0.6/53";
        let ep8 = "ep-H-default/a/udp/__10.244.0.8/53";
        let svc = "svc-H-default/a/udp/";
        let expected = vec![
            format!("delete element service-ips {{ 10.96.0.1 . udp . 80 : goto {svc} }}"),
            format!("flush chain {ep5}"),
            format!("flush chain {ep6}"),
            format!("flush chain {svc}"),
            format!("delete chain {ep6}"),
            format!("add chain {ep5}"),
            format!("add chain {ep8}"),
            format!("add chain {svc}"),
            format!("add rule {ep5} ip saddr 10.244.0.5 meta mark set meta mark | 0x00004000"),
            format!("add rule {ep5} meta l4proto udp dnat to 10.244.0.5:53"),
            format!("add rule {ep8} ip saddr 10.244.0.8 meta mark set meta mark | 0x00004000"),
            format!("add rule {ep8} meta l4proto udp dnat to 10.244.0.8:53"),
            format!("add rule {svc} numgen random mod 2 == 0 goto {ep5}"),
            format!("add rule {svc} goto {ep8}"),
            format!("add element service-ips {{ 10.96.0.1 . udp . 80 : goto {svc} }}"),
        ];
        assert_eq!(render(&plan.ops), expected);
        assert_eq!(
            plan.stale_udp_flows,
            vec![FlowMatch::ReplySource("10.244.0.6:53".parse().unwrap())]
        );

        // Removing the last endpoint: rejected at once, its flows forgotten; removing the
        // service: its cluster IP leaves the set.
        model.services.insert(a.clone(), port("10.96.0.1", &[]));
        let plan = changes(&model, &changed, &mut state, &config);
        let lines = render(&plan.ops);
        assert!(lines.contains(
            &"add element no-endpoint-services { 10.96.0.1 . udp . 80 : goto reject-chain }"
                .to_string()
        ));
        assert_eq!(plan.stale_udp_flows.len(), 2);
        model.services.remove(&a);
        let plan = changes(&model, &changed, &mut state, &config);
        assert_eq!(
            render(&plan.ops).last().unwrap(),
            "delete element cluster-ips { 10.96.0.1 }"
        );
        assert!(!render(&plan.ops).iter().any(|l| l.contains("/b/")));
    }
}
