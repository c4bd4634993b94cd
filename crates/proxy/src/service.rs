//! One Service into its service ports, as kube-proxy's `serviceToServiceMap` and
//! `newBaseServiceInfo` compute them for the IPv4 family. Endpoints are filled in later.

use std::net::Ipv4Addr;
use std::time::Duration;

use k8s_openapi::api::core::v1::{LoadBalancerIngress, Service, ServiceSpec};

use crate::config::ProxyConfig;
use crate::meta::{selected_by_proxy, NamespacedName};
use crate::model::{ServicePort, ServicePortName, SessionAffinity, TransportProtocol};

/// `v1.DefaultClientIPServiceAffinitySeconds`: the API server's default for
/// `sessionAffinityConfig.clientIP.timeoutSeconds`.
const DEFAULT_CLIENT_IP_TIMEOUT_SECONDS: u64 = 10800;

/// Why a Service contributes no service ports.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    /// Labelled for another proxy, or as headless.
    NotSelected,
    /// `clusterIP: None`, or no cluster IP at all.
    Headless,
    ExternalName,
    /// Only IPv6 cluster IPs: this proxy programs IPv4 for now.
    NoIpv4ClusterIp,
    /// The agent serves this address itself.
    Excluded(Ipv4Addr),
}

/// The service ports of `service`, without endpoints, in `spec.ports` order.
pub(crate) fn service_ports(
    service: &Service,
    name: &NamespacedName,
    config: &ProxyConfig,
) -> Result<Vec<(ServicePortName, ServicePort)>, Skip> {
    if !selected_by_proxy(&service.metadata) {
        return Err(Skip::NotSelected);
    }
    let Some(spec) = service.spec.as_ref() else {
        return Err(Skip::Headless);
    };
    let cluster_ip = proxied_cluster_ip(spec)?;
    if config.excluded_cluster_ips.contains(&cluster_ip) {
        return Err(Skip::Excluded(cluster_ip));
    }
    let external_ips = external_ips(service);
    let session_affinity = session_affinity(spec);
    let ports = spec.ports.as_deref().unwrap_or_default();
    Ok(ports
        .iter()
        .filter_map(|port| {
            let port_name = service_port_name(name, port)?;
            let service_port = ServicePort {
                cluster_ip,
                port: u16::try_from(port.port).ok()?,
                node_port: port
                    .node_port
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p != 0),
                external_ips: external_ips.clone(),
                session_affinity,
                endpoints: Vec::new(),
            };
            Some((port_name, service_port))
        })
        .collect())
}

/// Parses a protocol as the API spells it; a missing one is the API's default, TCP.
pub(crate) fn transport_protocol(protocol: Option<&str>) -> Option<TransportProtocol> {
    match protocol.unwrap_or("TCP") {
        "TCP" => Some(TransportProtocol::Tcp),
        "UDP" => Some(TransportProtocol::Udp),
        "SCTP" => Some(TransportProtocol::Sctp),
        _ => None,
    }
}

fn service_port_name(
    service: &NamespacedName,
    port: &k8s_openapi::api::core::v1::ServicePort,
) -> Option<ServicePortName> {
    let Some(protocol) = transport_protocol(port.protocol.as_deref()) else {
        tracing::debug!(namespace = %service.namespace, name = %service.name, protocol = ?port.protocol, "skipping a service port with an unknown protocol");
        return None;
    };
    Some(ServicePortName {
        namespace: service.namespace.clone(),
        name: service.name.clone(),
        port: port.name.clone().unwrap_or_default(),
        protocol,
    })
}

/// The IPv4 cluster IP kube-proxy would program (`ShouldSkipService`, then
/// `GetClusterIPByFamily`).
fn proxied_cluster_ip(spec: &ServiceSpec) -> Result<Ipv4Addr, Skip> {
    let cluster_ip = spec.cluster_ip.as_deref().unwrap_or_default();
    if cluster_ip.is_empty() || cluster_ip == "None" {
        return Err(Skip::Headless);
    }
    if spec.type_.as_deref() == Some("ExternalName") {
        return Err(Skip::ExternalName);
    }
    let families = spec.ip_families.as_deref().unwrap_or_default();
    // An object written before dual-stack has no ipFamilies: its clusterIP is all there is.
    let ip = if families.is_empty() {
        Some(cluster_ip)
    } else {
        families
            .iter()
            .position(|family| family == "IPv4")
            .and_then(|i| spec.cluster_ips.as_ref()?.get(i))
            .map(String::as_str)
    };
    ip.and_then(|ip| ip.parse().ok())
        .ok_or(Skip::NoIpv4ClusterIp)
}

/// `spec.externalIPs`, then the VIP-mode load balancer ingress IPs, IPv4 only.
fn external_ips(service: &Service) -> Vec<Ipv4Addr> {
    let spec_ips = service
        .spec
        .as_ref()
        .and_then(|spec| spec.external_ips.as_deref())
        .unwrap_or_default()
        .iter()
        .map(String::as_str);
    let ingress_ips = service
        .status
        .as_ref()
        .and_then(|status| status.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_deref())
        .unwrap_or_default()
        .iter()
        .filter(|ingress| is_vip_mode(ingress))
        .filter_map(|ingress| ingress.ip.as_deref());
    spec_ips
        .chain(ingress_ips)
        .filter_map(|ip| ip.parse().ok())
        .collect()
}

/// `IsVIPMode`: a load balancer that proxies itself (`ipMode: Proxy`) must not be short-cut.
fn is_vip_mode(ingress: &LoadBalancerIngress) -> bool {
    ingress.ip_mode.as_deref().is_none_or(|mode| mode == "VIP")
}

fn session_affinity(spec: &ServiceSpec) -> Option<SessionAffinity> {
    if spec.session_affinity.as_deref() != Some("ClientIP") {
        return None;
    }
    let seconds = spec
        .session_affinity_config
        .as_ref()
        .and_then(|config| config.client_ip.as_ref())
        .and_then(|client_ip| client_ip.timeout_seconds)
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or(DEFAULT_CLIENT_IP_TIMEOUT_SECONDS);
    Some(SessionAffinity {
        timeout: Duration::from_secs(seconds),
    })
}
