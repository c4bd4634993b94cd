//! The Kubernetes DNS-Based Service Discovery specification (schema 1.1.0): which records a
//! question about the cluster domain gets, from the cache alone. Pure; the wire format and the
//! upstream are elsewhere. Where the specification leaves room, this does what CoreDNS's
//! `kubernetes` plugin does with kubeadm's Corefile (`pods insecure`, `ttl 30`, reverse zones
//! falling through to `forward`), with three deliberate differences, all towards RFC 2308
//! (a name that exists answers NODATA for types it lacks): `dns-version.<zone>` answers NODATA
//! for other types (CoreDNS: NXDOMAIN), a SOA question below the apex gets NODATA or NXDOMAIN
//! like any other type (CoreDNS: always NOERROR), and a TXT question for a namespace name gets
//! NODATA (CoreDNS: NXDOMAIN).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::cache::{Cache, Index, Service, ServiceKind, Zone};

/// The TTL of every record (kubeadm's Corefile sets `ttl 30`), and the SOA minimum, so also the
/// negative TTL.
const TTL: u32 = 30;
/// The TTL of `dns-version.<zone>` (CoreDNS's).
const VERSION_TTL: u32 = 28800;
/// The DNS schema version this implements.
const SCHEMA_VERSION: &str = "1.1.0";
/// CNAMEs followed inside the zone before giving up (CoreDNS's `maxCnameChainLength`).
const MAX_CNAME_CHAIN: usize = 10;

/// What the server does with a question.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolution {
    /// Answered from the cache.
    Local(Local),
    /// Not ours: a name outside the cluster domain, or a reverse name the cluster does not own.
    Forward,
}

/// An answer from the cache.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Local {
    pub(crate) rcode: ResponseCode,
    pub(crate) authoritative: bool,
    pub(crate) answers: Vec<Record>,
    /// Whether the zone's SOA goes in the authority section (negative answers); it is built by
    /// the encoder ([`soa`]), once per cache generation and response code.
    pub(crate) with_soa: bool,
    pub(crate) additionals: Vec<Record>,
    /// An ExternalName target outside the cluster domain: the server appends the upstream's
    /// records of this type for it after the CNAME, as the specification's example shows.
    pub(crate) chase: Option<(Name, RecordType)>,
}

/// Resolves `qname` (lowercase, fully qualified) and `qtype` against the cache.
pub(crate) fn resolve(cache: &Cache, qname: &Name, qtype: RecordType) -> Resolution {
    let zone = cache.zone();
    let index = cache.read();
    if zone.name.zone_of(qname) {
        return Resolution::Local(authoritative(&index, zone, qname, qtype));
    }
    match reverse(&index, zone, qname, qtype) {
        Some(local) => Resolution::Local(local),
        None => Resolution::Forward,
    }
}

/// A question about the cluster domain.
fn authoritative(index: &Index, zone: &Zone, qname: &Name, qtype: RecordType) -> Local {
    let labels = relative_labels(qname, &zone.name);
    match qtype {
        RecordType::AXFR | RecordType::IXFR => return Local::refused(),
        RecordType::SOA if labels.is_empty() => {
            return Local::positive(vec![soa(index, zone)], Vec::new());
        }
        RecordType::NS if labels.is_empty() => return name_server(zone),
        _ => {}
    }
    let entries = match lookup(index, zone, &labels) {
        Ok(entries) => entries,
        Err(NameError) => return negative(index, ResponseCode::NXDomain),
    };
    let mut followed = Followed::default();
    let (answers, additionals) = match qtype {
        RecordType::A | RecordType::AAAA => {
            let within = Aliasing { index, zone, qtype };
            let answers = addresses(&within, qname, &entries, &mut followed);
            (answers, Vec::new())
        }
        RecordType::SRV => services(qname, &entries),
        RecordType::TXT => (texts(qname, &entries), Vec::new()),
        RecordType::CNAME => (aliases(qname, &entries), Vec::new()),
        _ => (Vec::new(), Vec::new()),
    };
    if answers.is_empty() {
        return negative(index, ResponseCode::NoError);
    }
    let mut local = Local::positive(answers, additionals);
    local.chase = followed.chase;
    local
}

impl Local {
    fn positive(answers: Vec<Record>, additionals: Vec<Record>) -> Local {
        Local {
            rcode: ResponseCode::NoError,
            authoritative: true,
            answers,
            with_soa: false,
            additionals,
            chase: None,
        }
    }

    fn refused() -> Local {
        Local {
            rcode: ResponseCode::Refused,
            authoritative: false,
            answers: Vec::new(),
            with_soa: false,
            additionals: Vec::new(),
            chase: None,
        }
    }

    /// Whether the answer says only "no such data": the same bytes for every name.
    pub(crate) fn is_negative(&self) -> bool {
        self.answers.is_empty() && self.additionals.is_empty()
    }
}

/// NXDOMAIN or NODATA (`NoError`, no answers) with the zone's SOA. Before the cache is synced
/// a missing name may only not be known yet: SERVFAIL instead of NXDOMAIN, as CoreDNS does.
fn negative(index: &Index, rcode: ResponseCode) -> Local {
    let rcode = if rcode == ResponseCode::NXDomain && !index.synced() {
        ResponseCode::ServFail
    } else {
        rcode
    };
    Local {
        rcode,
        authoritative: true,
        answers: Vec::new(),
        with_soa: true,
        additionals: Vec::new(),
        chase: None,
    }
}

/// The zone's SOA record.
pub(crate) fn zone_soa(cache: &Cache) -> Record {
    soa(&cache.read(), cache.zone())
}

/// CoreDNS's SOA: `ns.dns.<zone>. hostmaster.<zone>.`, the data's last change as serial,
/// refresh 7200, retry 1800, expire 86400, minimum = the record TTL.
fn soa(index: &Index, zone: &Zone) -> Record {
    let soa = SOA::new(
        prefixed(&["ns", "dns"], &zone.name),
        prefixed(&["hostmaster"], &zone.name),
        index.serial,
        7200,
        1800,
        86400,
        TTL,
    );
    Record::from_rdata(zone.name.clone(), TTL, RData::SOA(soa))
}

/// The apex NS record, `ns.dns.<zone>.`, with its address when configured.
fn name_server(zone: &Zone) -> Local {
    let host = prefixed(&["ns", "dns"], &zone.name);
    let ns = Record::from_rdata(zone.name.clone(), TTL, RData::NS(NS(host.clone())));
    let extra = zone
        .nameserver
        .map(|ip| address_record(host, ip))
        .into_iter()
        .collect();
    Local::positive(vec![ns], extra)
}

/// `labels` (static, valid) in front of `zone`.
fn prefixed(labels: &[&str], zone: &Name) -> Name {
    child(labels, zone).unwrap_or_else(|| zone.clone())
}

/// `labels` in front of `zone`; `None` when that is not a valid name (too long).
fn child(labels: &[&str], zone: &Name) -> Option<Name> {
    Name::from_labels(labels.iter().map(|l| l.as_bytes()))
        .ok()?
        .append_name(zone)
        .ok()
}

/// The labels of `qname` left of `zone`, lowercase, in query order.
fn relative_labels(qname: &Name, zone: &Name) -> Vec<String> {
    let count = usize::from(qname.num_labels().saturating_sub(zone.num_labels()));
    qname
        .iter()
        .take(count)
        .map(|label| String::from_utf8_lossy(label).to_ascii_lowercase())
        .collect()
}

/// The name does not exist (NXDOMAIN).
#[derive(Debug, Clone, Copy, PartialEq)]
struct NameError;

/// What a name under the zone stands for, before the question's type is looked at (CoreDNS's
/// `msg.Service`).
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    target: Target,
    /// `None`: no port (an object without ports); such entries get no SRV record.
    port: Option<u16>,
    /// The entry's own name: the SRV target, and the owner of its additional address record.
    name: Name,
}

#[derive(Debug, Clone, PartialEq)]
enum Target {
    Address(IpAddr),
    Alias(Name),
    Text(&'static str),
}

/// The entries of a name under the zone (`labels` relative to it): `Ok` and empty for a name
/// that exists without data of its own, `Err` for one that does not exist. The names are those
/// of CoreDNS's `parseRequest`: `[[_port._proto.|endpoint.]service.]namespace.(svc|pod)`.
fn lookup(index: &Index, zone: &Zone, labels: &[String]) -> Result<Vec<Entry>, NameError> {
    let own = |labels: &[&str]| child(labels, &zone.name).ok_or(NameError);
    let texts: Vec<&str> = labels.iter().map(String::as_str).collect();
    match texts.as_slice() {
        [] => return Ok(Vec::new()),
        ["dns-version"] => {
            return Ok(vec![Entry {
                target: Target::Text(SCHEMA_VERSION),
                port: None,
                name: own(&texts)?,
            }]);
        }
        ["ns", "dns"] => {
            let name = own(&texts)?;
            return Ok(zone
                .nameserver
                .map(|ip| Entry {
                    target: Target::Address(ip),
                    port: None,
                    name,
                })
                .into_iter()
                .collect());
        }
        _ => {}
    }
    let (kind, rest) = texts.split_last().ok_or(NameError)?;
    if *kind != "svc" && *kind != "pod" {
        return Err(NameError);
    }
    let Some((namespace, rest)) = rest.split_last() else {
        return Ok(Vec::new());
    };
    if !index.namespaces.contains(*namespace) {
        return Err(NameError);
    }
    let Some((name, rest)) = rest.split_last() else {
        return Ok(Vec::new());
    };
    let query = match rest {
        [] => Query::default(),
        [endpoint] => Query {
            endpoint,
            ..Query::default()
        },
        [port, protocol] => Query {
            port: port.strip_prefix('_').unwrap_or(port),
            protocol: protocol.strip_prefix('_').unwrap_or(protocol),
            ..Query::default()
        },
        _ => return Err(NameError),
    };
    if *kind == "pod" {
        return pod(name, own(&[name, namespace, kind])?);
    }
    let service = ServiceRef {
        namespace,
        name,
        service: index.service(namespace, name).ok_or(NameError)?,
        fqdn: own(&[name, namespace, kind])?,
    };
    service_entries(index, &service, &query)
}

/// A Service being answered for, with its names.
struct ServiceRef<'a> {
    namespace: &'a str,
    name: &'a str,
    service: &'a Service,
    /// `<service>.<namespace>.svc.<zone>`.
    fqdn: Name,
}

/// The labels left of `<service>.<namespace>.svc`: an endpoint, or a port and protocol; empty
/// ones match anything.
#[derive(Default)]
struct Query<'a> {
    endpoint: &'a str,
    port: &'a str,
    protocol: &'a str,
}

impl Query<'_> {
    fn matches_port(&self, name: &str, protocol: &str) -> bool {
        (self.port.is_empty() || self.port == name)
            && (self.protocol.is_empty() || self.protocol == protocol)
    }
}

/// `a-b-c-d.<ns>.pod.<zone>` without checking that such a pod exists (`pods insecure`).
fn pod(label: &str, name: Name) -> Result<Vec<Entry>, NameError> {
    let text = if label.matches('-').count() == 3 && !label.contains("--") {
        label.replace('-', ".")
    } else {
        label.replace('-', ":")
    };
    let address: IpAddr = text.parse().map_err(|_| NameError)?;
    // CoreDNS gives pod entries port 0, so an SRV question gets a record with port 0.
    Ok(vec![Entry {
        target: Target::Address(address.to_canonical()),
        port: Some(0),
        name,
    }])
}

fn service_entries(
    index: &Index,
    svc: &ServiceRef<'_>,
    query: &Query<'_>,
) -> Result<Vec<Entry>, NameError> {
    let (service, service_name) = (svc.service, &svc.fqdn);
    let entries = match &service.kind {
        ServiceKind::ExternalName(target) => {
            let plain = query.endpoint.is_empty() && query.port.is_empty();
            match target {
                Some(target) if plain && query.protocol.is_empty() => vec![Entry {
                    target: Target::Alias(target.clone()),
                    port: None,
                    name: service_name.clone(),
                }],
                _ => Vec::new(),
            }
        }
        ServiceKind::Headless => endpoint_entries(index, svc, query),
        ServiceKind::ClusterIp(_) if !query.endpoint.is_empty() => {
            endpoint_entries(index, svc, query)
        }
        ServiceKind::ClusterIp(ips) => {
            let mut entries = Vec::new();
            let mut matched = false;
            for port in service
                .ports
                .iter()
                .filter(|p| query.matches_port(&p.name, &p.protocol))
            {
                matched = true;
                entries.extend(ips.iter().map(|ip| Entry {
                    target: Target::Address(*ip),
                    port: port.number,
                    name: service_name.clone(),
                }));
            }
            // A matching port makes the name exist even without an address.
            if matched {
                return Ok(entries);
            }
            Vec::new()
        }
    };
    if entries.is_empty() {
        Err(NameError)
    } else {
        Ok(entries)
    }
}

/// The published endpoints of a Service matching `query`, each named
/// `<hostname>.<service>.<ns>.svc.<zone>`; no ready endpoint means the name does not exist.
fn endpoint_entries(index: &Index, svc: &ServiceRef<'_>, query: &Query<'_>) -> Vec<Entry> {
    let service_name = &svc.fqdn;
    let mut entries = Vec::new();
    for (endpoint, ports) in index.endpoints(svc.namespace, svc.service, svc.name) {
        if !query.endpoint.is_empty() && query.endpoint != endpoint.hostname {
            continue;
        }
        let Some(endpoint_name) = child(&[endpoint.hostname.as_str()], service_name) else {
            continue;
        };
        for port in ports
            .iter()
            .filter(|p| query.matches_port(&p.name, &p.protocol))
        {
            entries.push(Entry {
                target: Target::Address(endpoint.address),
                port: port.number,
                name: endpoint_name.clone(),
            });
        }
    }
    entries
}

/// What address answers are looked up in: the cache, the zone and the asked type.
struct Aliasing<'a> {
    index: &'a Index,
    zone: &'a Zone,
    qtype: RecordType,
}

/// The CNAMEs followed so far (against loops and long chains) and the one left for upstream.
#[derive(Default)]
struct Followed {
    chain: Vec<Name>,
    chase: Option<(Name, RecordType)>,
}

/// A and AAAA answers: the entries' addresses of the asked family (each once), and for an
/// alias its CNAME followed by the target's addresses: looked up here when the target is in
/// the zone, else left to the server (`chase`).
fn addresses(
    within: &Aliasing<'_>,
    owner: &Name,
    entries: &[Entry],
    followed: &mut Followed,
) -> Vec<Record> {
    let (index, zone, qtype) = (within.index, within.zone, within.qtype);
    let mut records = Vec::new();
    let mut seen: Vec<IpAddr> = Vec::new();
    for entry in entries {
        match &entry.target {
            Target::Address(ip) if family(*ip) == qtype && !seen.contains(ip) => {
                seen.push(*ip);
                records.push(address_record(owner.clone(), *ip));
            }
            Target::Alias(target) => {
                if target == owner
                    || followed.chain.len() > MAX_CNAME_CHAIN
                    || followed.chain.contains(target)
                {
                    continue;
                }
                let cname =
                    Record::from_rdata(owner.clone(), TTL, RData::CNAME(CNAME(target.clone())));
                if !zone.name.zone_of(target) {
                    records.push(cname);
                    followed.chase = Some((target.to_lowercase(), qtype));
                    continue;
                }
                let target = target.to_lowercase();
                let Ok(next) = lookup(index, zone, &relative_labels(&target, &zone.name)) else {
                    continue;
                };
                followed.chain.push(target.clone());
                let answers = addresses(within, &target, &next, followed);
                if !answers.is_empty() {
                    records.push(cname);
                    records.extend(answers);
                }
            }
            _ => {}
        }
    }
    records
}

fn family(ip: IpAddr) -> RecordType {
    match ip {
        IpAddr::V4(_) => RecordType::A,
        IpAddr::V6(_) => RecordType::AAAA,
    }
}

fn address_record(owner: Name, ip: IpAddr) -> Record {
    let rdata = match ip {
        IpAddr::V4(v4) => RData::A(v4.into()),
        IpAddr::V6(v6) => RData::AAAA(v6.into()),
    };
    Record::from_rdata(owner, TTL, rdata)
}

/// SRV answers as CoreDNS computes them: priority 0, the weight 100 split evenly over all
/// entries (at least 1), one record per (target, port), and each target's address in the
/// additional section. Aliases (ExternalName) have no SRV records.
fn services(owner: &Name, entries: &[Entry]) -> (Vec<Record>, Vec<Record>) {
    let entries: Vec<&Entry> = entries
        .iter()
        .filter(|e| matches!(e.target, Target::Address(_)))
        .collect();
    let total = 100.0 * entries.len() as f64;
    // Same float arithmetic as CoreDNS, so that the weights match to the unit.
    let weight = ((100.0 / total) * 100.0).floor().max(1.0) as u16;
    let mut records = Vec::new();
    let mut additionals = Vec::new();
    let mut seen_srv: Vec<(&Name, u16)> = Vec::new();
    let mut seen_address: Vec<(&Name, IpAddr)> = Vec::new();
    for entry in entries {
        let (Target::Address(ip), Some(port)) = (&entry.target, entry.port) else {
            continue;
        };
        if !seen_srv.contains(&(&entry.name, port)) {
            seen_srv.push((&entry.name, port));
            let srv = SRV::new(0, weight, port, entry.name.clone());
            records.push(Record::from_rdata(owner.clone(), TTL, RData::SRV(srv)));
        }
        if !seen_address.contains(&(&entry.name, *ip)) {
            seen_address.push((&entry.name, *ip));
            additionals.push(address_record(entry.name.clone(), *ip));
        }
    }
    (records, additionals)
}

fn texts(owner: &Name, entries: &[Entry]) -> Vec<Record> {
    entries
        .iter()
        .filter_map(|entry| match entry.target {
            Target::Text(text) => {
                let txt = TXT::new(vec![text.to_string()]);
                Some(Record::from_rdata(
                    owner.clone(),
                    VERSION_TTL,
                    RData::TXT(txt),
                ))
            }
            _ => None,
        })
        .collect()
}

/// A CNAME question: the first entry's alias, if it is one.
fn aliases(owner: &Name, entries: &[Entry]) -> Vec<Record> {
    match entries.first().map(|e| &e.target) {
        Some(Target::Alias(target)) => vec![Record::from_rdata(
            owner.clone(),
            TTL,
            RData::CNAME(CNAME(target.clone())),
        )],
        _ => Vec::new(),
    }
}

/// A PTR question for a cluster address: the Service holding it as cluster IP, else every
/// endpoint holding it (`<hostname>.<service>.<ns>.svc.<zone>`). `None` for any other reverse
/// name or type, which then goes upstream (CoreDNS's `fallthrough in-addr.arpa ip6.arpa`).
fn reverse(index: &Index, zone: &Zone, qname: &Name, qtype: RecordType) -> Option<Local> {
    if qtype != RecordType::PTR {
        return None;
    }
    let ip = reverse_address(qname)?;
    let mut targets: Vec<Name> = Vec::new();
    if let Some((namespace, name)) = index.service_by_cluster_ip(ip) {
        targets.extend(child(&[name, namespace, "svc"], &zone.name));
    } else {
        for (namespace, service, hostname) in index.endpoints_by_ip(ip) {
            if let Some(target) = child(&[hostname, service, namespace, "svc"], &zone.name) {
                if !targets.contains(&target) {
                    targets.push(target);
                }
            }
        }
    }
    if targets.is_empty() {
        return None;
    }
    let records = targets
        .into_iter()
        .map(|target| Record::from_rdata(qname.clone(), TTL, RData::PTR(PTR(target))))
        .collect();
    Some(Local::positive(records, Vec::new()))
}

/// The address of a complete reverse name: `d.c.b.a.in-addr.arpa.` or 32 nibbles and
/// `ip6.arpa.`.
fn reverse_address(qname: &Name) -> Option<IpAddr> {
    let labels: Vec<String> = qname
        .iter()
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .collect();
    let texts: Vec<&str> = labels.iter().map(String::as_str).collect();
    match texts.as_slice() {
        [d, c, b, a, "in-addr", "arpa"] => {
            let text = format!("{a}.{b}.{c}.{d}");
            text.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
        }
        [nibbles @ .., "ip6", "arpa"] if nibbles.len() == 32 => {
            let mut value: u128 = 0;
            for nibble in nibbles.iter().rev() {
                let digit = u8::from_str_radix(nibble, 16).ok()?;
                if nibble.len() != 1 {
                    return None;
                }
                value = (value << 4) | u128::from(digit);
            }
            Some(IpAddr::V6(Ipv6Addr::from(value)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
