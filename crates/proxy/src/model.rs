//! The dataplane-neutral model of what the service proxy must program: one entry per service
//! port, with the addresses it answers on and the endpoints behind it, as kube-proxy's
//! `ServicePortMap` and `EndpointsMap` hold them after change tracking.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// The L4 protocol of a service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransportProtocol {
    Tcp,
    Udp,
    Sctp,
}

impl TransportProtocol {
    /// The lower-case name kube-proxy uses in chain names and logs (`tcp`, `udp`, `sctp`).
    pub fn as_str(self) -> &'static str {
        match self {
            TransportProtocol::Tcp => "tcp",
            TransportProtocol::Udp => "udp",
            TransportProtocol::Sctp => "sctp",
        }
    }
}

/// Names one port of one service: `namespace/name:port/protocol` (kube-proxy's
/// `ServicePortName`). `port` is the port's name, empty for a service's single unnamed port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServicePortName {
    pub namespace: String,
    pub name: String,
    pub port: String,
    pub protocol: TransportProtocol,
}

impl fmt::Display for ServicePortName {
    /// kube-proxy's form: `default/kubia:http` for a named port, `default/kubia` for an unnamed
    /// one, followed by `/tcp`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)?;
        if !self.port.is_empty() {
            write!(f, ":{}", self.port)?;
        }
        write!(f, "/{}", self.protocol.as_str())
    }
}

/// ClientIP session affinity: a client keeps its endpoint for `timeout` after its last packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionAffinity {
    pub timeout: Duration,
}

/// One endpoint of a service port, with the EndpointSlice conditions the proxy acts on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    /// The pod (or hand-made) address and the target port resolved for this service port.
    pub address: SocketAddrV4,
    /// `conditions.ready` (a missing condition counts as true, as upstream).
    pub ready: bool,
    /// `conditions.serving` (defaults to `ready` when missing).
    pub serving: bool,
    /// `conditions.terminating` (a missing condition counts as false).
    pub terminating: bool,
    /// Whether the endpoint runs on this proxy's own node (`nodeName` equals the node's name).
    pub is_local: bool,
}

/// Everything the dataplane must program for one service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    /// The service's IPv4 cluster IP (headless services, which have none, are left out of
    /// the model altogether).
    pub cluster_ip: Ipv4Addr,
    pub port: u16,
    /// The node port, for NodePort and LoadBalancer services.
    pub node_port: Option<u16>,
    /// `spec.externalIPs` and `status.loadBalancer.ingress[].ip`: more addresses the service
    /// answers on at `port`.
    pub external_ips: Vec<Ipv4Addr>,
    pub session_affinity: Option<SessionAffinity>,
    /// Every endpoint the slices list for this port, in a stable order; see
    /// [`ServicePort::usable_endpoints`] for the ones traffic may go to.
    pub endpoints: Vec<Endpoint>,
}

impl ServicePort {
    /// The endpoints new connections may go to, as kube-proxy's `CategorizeEndpoints` picks
    /// them for cluster traffic: the ready ones; when none is ready, the serving ones that are
    /// terminating (so a rolling restart does not drop traffic). Empty means "reject".
    pub fn usable_endpoints(&self) -> Vec<SocketAddrV4> {
        let ready: Vec<SocketAddrV4> = self
            .endpoints
            .iter()
            .filter(|e| e.ready)
            .map(|e| e.address)
            .collect();
        if !ready.is_empty() {
            return ready;
        }
        self.endpoints
            .iter()
            .filter(|e| e.serving && e.terminating)
            .map(|e| e.address)
            .collect()
    }
}

/// The whole desired state: every service port of every non-headless service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyModel {
    pub services: BTreeMap<ServicePortName, ServicePort>,
}

/// The service ports whose desired state changed since the last sync. A name present in the
/// model is to be (re)programmed; a name absent from it is to be removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangedServices {
    pub names: BTreeSet<ServicePortName>,
    /// Set when the dataplane must rebuild everything from the model (first sync, after a
    /// re-list): the names above are then irrelevant.
    pub full: bool,
}

/// A backend that programs the model into something that carries traffic.
pub trait Dataplane {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Brings the dataplane to `model`, touching only the service ports named in `changed`
    /// unless `changed.full` is set.
    fn sync(&mut self, model: &ProxyModel, changed: &ChangedServices) -> Result<(), Self::Error>;
}

impl fmt::Display for ProxyModel {
    /// One line per service port, for `ferry debug proxy`:
    /// `default/kubia:http/tcp 10.96.12.34:80 -> 10.244.1.5:8080 (ready), 10.244.2.3:8080 (not ready)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, port) in &self.services {
            writeln!(f, "{name} {port}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ServicePort {
    /// `10.96.12.34:80 nodePort 30080 externalIPs 1.2.3.4 sessionAffinity ClientIP 10800s -> …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.cluster_ip, self.port)?;
        if let Some(node_port) = self.node_port {
            write!(f, " nodePort {node_port}")?;
        }
        if !self.external_ips.is_empty() {
            let ips: Vec<String> = self.external_ips.iter().map(Ipv4Addr::to_string).collect();
            write!(f, " externalIPs {}", ips.join(","))?;
        }
        if let Some(affinity) = self.session_affinity {
            write!(
                f,
                " sessionAffinity ClientIP {}s",
                affinity.timeout.as_secs()
            )?;
        }
        if self.endpoints.is_empty() {
            return write!(f, " -> no endpoints");
        }
        let endpoints: Vec<String> = self.endpoints.iter().map(Endpoint::to_string).collect();
        write!(f, " -> {}", endpoints.join(", "))
    }
}

impl fmt::Display for Endpoint {
    /// `10.244.1.5:8080 (ready, local)`, `10.244.2.3:8080 (not ready, serving, terminating)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut states = vec![if self.ready { "ready" } else { "not ready" }];
        if self.serving && !self.ready {
            states.push("serving");
        }
        if self.terminating {
            states.push("terminating");
        }
        if self.is_local {
            states.push("local");
        }
        write!(f, "{} ({})", self.address, states.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endpoint at 10.244.1.`host`:8080 with conditions from `flags`: `r`eady, `s`erving,
    /// `t`erminating, `l`ocal.
    fn endpoint(host: u8, flags: &str) -> Endpoint {
        Endpoint {
            address: SocketAddrV4::new(Ipv4Addr::new(10, 244, 1, host), 8080),
            ready: flags.contains('r'),
            serving: flags.contains('s'),
            terminating: flags.contains('t'),
            is_local: flags.contains('l'),
        }
    }

    fn port(endpoints: Vec<Endpoint>) -> ServicePort {
        ServicePort {
            cluster_ip: Ipv4Addr::new(10, 96, 12, 34),
            port: 80,
            node_port: None,
            external_ips: Vec::new(),
            session_affinity: None,
            endpoints,
        }
    }

    /// Endpoints as (host, flags), and the hosts that may take new connections.
    type UsableCase = (&'static str, &'static [(u8, &'static str)], &'static [u8]);

    #[test]
    fn usable_endpoints() {
        let cases: &[UsableCase] = &[
            ("none", &[], &[]),
            (
                "ready ones only",
                &[(1, "rs"), (2, ""), (3, "st"), (4, "rsl")],
                &[1, 4],
            ),
            (
                "no ready: serving and terminating ones",
                &[(1, ""), (2, "st"), (3, "t"), (4, "s"), (5, "stl")],
                &[2, 5],
            ),
            (
                "no ready, none serving while terminating: reject",
                &[(1, ""), (2, "t"), (3, "s")],
                &[],
            ),
        ];
        for (name, endpoints, usable) in cases {
            let port = port(endpoints.iter().map(|(h, f)| endpoint(*h, f)).collect());
            let want: Vec<SocketAddrV4> = usable.iter().map(|h| endpoint(*h, "").address).collect();
            assert_eq!(port.usable_endpoints(), want, "{name}");
        }
    }

    #[test]
    fn display() {
        let name = |port: &str| ServicePortName {
            namespace: "default".to_string(),
            name: "kubia".to_string(),
            port: port.to_string(),
            protocol: TransportProtocol::Tcp,
        };
        let mut http = port(vec![endpoint(5, "rsl"), endpoint(6, ""), endpoint(7, "st")]);
        http.node_port = Some(30080);
        http.external_ips = vec![
            Ipv4Addr::new(192, 168, 1, 10),
            Ipv4Addr::new(172, 18, 255, 1),
        ];
        http.session_affinity = Some(SessionAffinity {
            timeout: Duration::from_secs(10800),
        });
        let model = ProxyModel {
            services: BTreeMap::from([(name("http"), http), (name(""), port(Vec::new()))]),
        };
        assert_eq!(
            model.to_string(),
            "default/kubia/tcp 10.96.12.34:80 -> no endpoints\n\
             default/kubia:http/tcp 10.96.12.34:80 nodePort 30080 externalIPs 192.168.1.10,172.18.255.1 \
             sessionAffinity ClientIP 10800s -> 10.244.1.5:8080 (ready, local), 10.244.1.6:8080 (not ready), \
             10.244.1.7:8080 (not ready, serving, terminating)\n"
        );
    }
}
