//! Service cluster IP and node port allocation, as kube-apiserver's service REST storage does
//! it: requested values honoured, the rest allocated, values kept across updates, released on
//! delete. Claims are store keys under `/registry/ranges/`, written with the Service itself.

use std::net::Ipv4Addr;
use std::sync::Mutex;

use serde_json::{json, Value};

use ferry_api::field::FieldError;
use ferry_api::ApiError;
use ferry_ipam::{Ipv4Cidr, PortAllocator, PortRange, ServiceIpAllocator};
use ferry_store::{Compare, Op, Store};

use super::Claims;
use crate::object;
use crate::ApiServer;

const IP_CLAIMS: &str = "/registry/ranges/serviceips/";
const PORT_CLAIMS: &str = "/registry/ranges/servicenodeports/";

/// One allocated value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Allocation {
    ClusterIp(Ipv4Addr),
    NodePort(u16),
}

impl Allocation {
    fn claim_key(self) -> String {
        match self {
            Allocation::ClusterIp(ip) => format!("{IP_CLAIMS}{ip}"),
            Allocation::NodePort(port) => format!("{PORT_CLAIMS}{port}"),
        }
    }
}

/// The in-memory view of what is allocated; the store's claim keys are the truth.
pub(crate) struct Allocators {
    inner: Mutex<Inner>,
}

struct Inner {
    ips: ServiceIpAllocator,
    ports: PortAllocator,
}

impl Allocators {
    pub fn new(service_cidr: Ipv4Cidr, node_ports: PortRange) -> Self {
        Allocators {
            inner: Mutex::new(Inner {
                ips: ServiceIpAllocator::new(service_cidr),
                ports: PortAllocator::new(node_ports),
            }),
        }
    }

    /// Marks every claim in the store as allocated (at start-up).
    pub async fn load(&self, store: &dyn Store) -> Result<(), ferry_store::StoreError> {
        let ips = store.list(IP_CLAIMS, None).await?;
        let ports = store.list(PORT_CLAIMS, None).await?;
        let mut inner = self.lock();
        for kv in ips.kvs {
            if let Ok(ip) = kv.key.trim_start_matches(IP_CLAIMS).parse::<Ipv4Addr>() {
                let _ = inner.ips.allocate(ip);
            }
        }
        for kv in ports.kvs {
            if let Ok(port) = kv.key.trim_start_matches(PORT_CLAIMS).parse::<u16>() {
                let _ = inner.ports.allocate(port);
            }
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means another request panicked mid-allocation; the bitmap is
        // still consistent with the store's claims, so keep serving.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn release(&self, allocations: &[Allocation]) {
        let mut inner = self.lock();
        for a in allocations {
            match *a {
                Allocation::ClusterIp(ip) => inner.ips.release(ip),
                Allocation::NodePort(port) => inner.ports.release(port),
            }
        }
    }

    fn allocate_ip(&self, requested: Option<Ipv4Addr>) -> Result<Ipv4Addr, ferry_ipam::IpamError> {
        let mut inner = self.lock();
        match requested {
            Some(ip) => inner.ips.allocate(ip).map(|()| ip),
            None => inner.ips.allocate_next(),
        }
    }

    fn allocate_port(&self, requested: Option<u16>) -> Result<u16, ferry_ipam::IpamError> {
        let mut inner = self.lock();
        match requested {
            Some(port) => inner.ports.allocate(port).map(|()| port),
            None => inner.ports.allocate_next(),
        }
    }
}

fn spec_str<'a>(svc: &'a Value, field: &str) -> Option<&'a str> {
    svc.get("spec")?.get(field)?.as_str()
}

fn service_type(svc: &Value) -> &str {
    spec_str(svc, "type").unwrap_or("ClusterIP")
}

fn wants_node_ports(svc: &Value) -> bool {
    match service_type(svc) {
        "NodePort" => true,
        "LoadBalancer" => svc
            .pointer("/spec/allocateLoadBalancerNodePorts")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        _ => false,
    }
}

/// Adds a claim to `claims` for a freshly reserved value.
fn claim(claims: &mut Claims, allocation: Allocation, owner: &str) {
    let key = allocation.claim_key();
    claims.compares.push(Compare::ModRevision {
        key: key.clone(),
        revision: 0,
    });
    claims.ops.push(Op::Put {
        key,
        value: owner.as_bytes().to_vec().into(),
    });
    claims.reserved.push(allocation);
}

fn unclaim(claims: &mut Claims, allocation: Allocation) {
    claims.ops.push(Op::Delete {
        key: allocation.claim_key(),
    });
    claims.released.push(allocation);
}

fn owner(svc: &Value) -> String {
    format!(
        "{}/{}",
        object::namespace(svc).unwrap_or(""),
        object::name(svc)
    )
}

/// Allocates the cluster IP a new (or newly non-ExternalName) Service needs.
fn allocate_cluster_ip(
    srv: &ApiServer,
    svc: &mut Value,
    claims: &mut Claims,
) -> Result<(), ApiError> {
    if service_type(svc) == "ExternalName" {
        return Ok(());
    }
    let requested = spec_str(svc, "clusterIP")
        .filter(|s| !s.is_empty())
        .or_else(|| svc.pointer("/spec/clusterIPs/0").and_then(Value::as_str))
        .map(str::to_string);
    if requested.as_deref() == Some("None") {
        svc["spec"]["clusterIP"] = json!("None");
        svc["spec"]["clusterIPs"] = json!(["None"]);
        return Ok(());
    }
    let requested_ip = match requested.as_deref() {
        None | Some("") => None,
        Some(text) => match ferry_ipam::parse_ipv4_sloppy(text) {
            Some(ip) => Some(ip),
            // Not an IPv4 address: validation reports it with upstream's message.
            None => return Ok(()),
        },
    };
    match srv.allocators.allocate_ip(requested_ip) {
        Ok(ip) => {
            svc["spec"]["clusterIP"] = json!(ip.to_string());
            svc["spec"]["clusterIPs"] = json!([ip.to_string()]);
            claim(claims, Allocation::ClusterIp(ip), &owner(svc));
            Ok(())
        }
        Err(e) => {
            let shown = requested.unwrap_or_default();
            let errs = [FieldError::invalid(
                "spec.clusterIPs",
                ferry_api::field::BadValue::Raw(format!("[]string{{\"{shown}\"}}")),
                format!("failed to allocate IP {shown}: {e}"),
            )];
            Err(ApiError::invalid("", "Service", object::name(svc), &errs))
        }
    }
}

/// Allocates node ports for every port without one (and honours requested ones).
fn allocate_node_ports(
    srv: &ApiServer,
    svc: &mut Value,
    keep: &[u16],
    claims: &mut Claims,
) -> Result<(), ApiError> {
    if !wants_node_ports(svc) && service_type(svc) != "LoadBalancer" {
        return Ok(());
    }
    let auto = wants_node_ports(svc);
    let name = object::name(svc).to_string();
    let owner = owner(svc);
    let Some(ports) = svc.pointer_mut("/spec/ports").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    let mut taken_here: Vec<u16> = Vec::new();
    for (i, port) in ports.iter_mut().enumerate() {
        let requested = port
            .get("nodePort")
            .and_then(Value::as_i64)
            .filter(|p| *p != 0);
        let requested = match requested {
            Some(p) => match u16::try_from(p) {
                Ok(p) => Some(p),
                Err(_) => return Err(node_port_error(&name, i, p, "provided port is not in the valid range. The range of valid ports is 30000-32767")),
            },
            None if auto => None,
            None => continue,
        };
        if let Some(p) = requested {
            // Kept from the old object, or shared by two protocols of one port number.
            if keep.contains(&p) || taken_here.contains(&p) {
                continue;
            }
        }
        match srv.allocators.allocate_port(requested) {
            Ok(p) => {
                port["nodePort"] = json!(p);
                taken_here.push(p);
                claim(claims, Allocation::NodePort(p), &owner);
            }
            Err(e) => {
                super::abandon(srv, std::mem::take(claims));
                return Err(node_port_error(
                    &name,
                    i,
                    i64::from(requested.unwrap_or(0)),
                    &e.to_string(),
                ));
            }
        }
    }
    Ok(())
}

fn node_port_error(name: &str, index: usize, port: i64, detail: &str) -> ApiError {
    let errs = [FieldError::invalid(
        format!("spec.ports[{index}].nodePort"),
        port,
        detail,
    )];
    ApiError::invalid("", "Service", name, &errs)
}

fn allocated_ip(svc: &Value) -> Option<Ipv4Addr> {
    spec_str(svc, "clusterIP").and_then(ferry_ipam::parse_ipv4_sloppy)
}

fn health_check_port(svc: &Value) -> Option<u16> {
    svc.pointer("/spec/healthCheckNodePort")
        .and_then(Value::as_u64)
        .filter(|p| *p != 0)
        .and_then(|p| u16::try_from(p).ok())
}

/// Does the Service need a health check node port (LoadBalancer with local traffic policy)?
fn needs_health_check_port(svc: &Value) -> bool {
    service_type(svc) == "LoadBalancer" && spec_str(svc, "externalTrafficPolicy") == Some("Local")
}

/// Allocates `spec.healthCheckNodePort` when the Service needs one and does not keep `old`.
fn allocate_health_check_port(
    srv: &ApiServer,
    svc: &mut Value,
    old: Option<u16>,
    claims: &mut Claims,
) -> Result<(), ApiError> {
    if !needs_health_check_port(svc) {
        return Ok(());
    }
    let requested = health_check_port(svc).or(old);
    if requested.is_some() && requested == old {
        svc["spec"]["healthCheckNodePort"] = json!(requested);
        return Ok(());
    }
    match srv.allocators.allocate_port(requested) {
        Ok(port) => {
            svc["spec"]["healthCheckNodePort"] = json!(port);
            claim(claims, Allocation::NodePort(port), &owner(svc));
            Ok(())
        }
        Err(e) => {
            let errs = [FieldError::invalid(
                "spec.healthCheckNodePort",
                i64::from(requested.unwrap_or(0)),
                e.to_string(),
            )];
            Err(ApiError::invalid("", "Service", object::name(svc), &errs))
        }
    }
}

fn allocated_ports(svc: &Value) -> Vec<u16> {
    svc.pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
                .filter_map(|p| u16::try_from(p).ok())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn prepare_create(srv: &ApiServer, svc: &mut Value) -> Result<Claims, ApiError> {
    let mut claims = Claims::default();
    allocate_cluster_ip(srv, svc, &mut claims)?;
    let allocated = allocate_node_ports(srv, svc, &[], &mut claims)
        .and_then(|()| allocate_health_check_port(srv, svc, None, &mut claims));
    if let Err(e) = allocated {
        super::abandon(srv, claims);
        return Err(e);
    }
    Ok(claims)
}

/// Carries allocated values over an update that left them out, as upstream's
/// `patchAllocatedValues` does, then allocates and releases what the change needs.
pub(crate) fn prepare_update(
    srv: &ApiServer,
    new: &mut Value,
    old: &Value,
) -> Result<Claims, ApiError> {
    let mut claims = Claims::default();
    let old_type = service_type(old).to_string();
    let new_type = service_type(new).to_string();
    let old_ip = allocated_ip(old);
    if new_type == "ExternalName" {
        if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
            if spec
                .get("clusterIP")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
                || old_type != "ExternalName"
            {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
            }
        }
        if let Some(ip) = old_ip {
            unclaim(&mut claims, Allocation::ClusterIp(ip));
        }
    } else if old_type == "ExternalName" {
        allocate_cluster_ip(srv, new, &mut claims)?;
    } else if spec_str(new, "clusterIP").unwrap_or("").is_empty() {
        if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
            if let Some(ip) = old.pointer("/spec/clusterIP") {
                spec.insert("clusterIP".into(), ip.clone());
            }
            if let Some(ips) = old.pointer("/spec/clusterIPs") {
                spec.insert("clusterIPs".into(), ips.clone());
            }
        }
    }
    keep_old_node_ports(new, old, &new_type);
    let old_ports = allocated_ports(old);
    if let Err(e) = allocate_node_ports(srv, new, &old_ports, &mut claims) {
        super::abandon(srv, claims);
        return Err(e);
    }
    let old_health = health_check_port(old);
    if let Err(e) = allocate_health_check_port(srv, new, old_health, &mut claims) {
        super::abandon(srv, claims);
        return Err(e);
    }
    if !needs_health_check_port(new) {
        if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("healthCheckNodePort");
        }
    }
    let mut new_ports = allocated_ports(new);
    new_ports.extend(health_check_port(new));
    let mut old_ports = old_ports;
    old_ports.extend(old_health);
    for p in old_ports {
        if !new_ports.contains(&p) {
            unclaim(&mut claims, Allocation::NodePort(p));
        }
    }
    Ok(claims)
}

/// Ports that lost their nodePort in the new object get the old one back, while the type
/// still has node ports; a change to ClusterIP drops them.
fn keep_old_node_ports(new: &mut Value, old: &Value, new_type: &str) {
    let old_ports: Vec<Value> = old
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let Some(ports) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) else {
        return;
    };
    for port in ports.iter_mut() {
        let has = port
            .get("nodePort")
            .and_then(Value::as_i64)
            .is_some_and(|p| p != 0);
        if new_type == "ClusterIP" || new_type == "ExternalName" {
            let kept_from_old = old_ports
                .iter()
                .any(|o| o.get("nodePort") == port.get("nodePort"));
            if has && kept_from_old {
                if let Some(map) = port.as_object_mut() {
                    map.remove("nodePort");
                }
            }
            continue;
        }
        if has {
            continue;
        }
        let same = old_ports.iter().find(|o| {
            o.get("port") == port.get("port")
                && o.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
                    == port
                        .get("protocol")
                        .and_then(Value::as_str)
                        .unwrap_or("TCP")
        });
        if let Some(np) = same.and_then(|o| o.get("nodePort")) {
            port["nodePort"] = np.clone();
        }
    }
}

pub(crate) fn prepare_delete(old: &Value) -> Claims {
    let mut claims = Claims::default();
    if let Some(ip) = allocated_ip(old) {
        unclaim(&mut claims, Allocation::ClusterIp(ip));
    }
    let mut seen = Vec::new();
    for p in allocated_ports(old)
        .into_iter()
        .chain(health_check_port(old))
    {
        if !seen.contains(&p) {
            unclaim(&mut claims, Allocation::NodePort(p));
            seen.push(p);
        }
    }
    claims
}
