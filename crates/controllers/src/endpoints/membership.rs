//! Which pods back a Service and at which ports: the rules the Endpoints and EndpointSlice
//! controllers share (upstream's `k8s.io/endpointslice/util` and `podutil.FindPort`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::pod;

/// Set (empty) on the Endpoints and EndpointSlices of a Service without a cluster IP.
pub(crate) const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// When the change that led to this Endpoints or EndpointSlice content happened.
pub(crate) const LAST_CHANGE_TRIGGER_TIME: &str =
    "endpoints.kubernetes.io/last-change-trigger-time";
/// client-go's leader election record on an Endpoints object: such objects are never
/// treated as a Service's endpoints.
pub(crate) const LEADER_ELECTION_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";

/// Whether terminating pods (deletionTimestamp set) still count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Terminating {
    Include,
    Exclude,
}

/// The IP family a Service's endpoints are picked from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    pub(crate) fn of(ip: &str) -> Option<IpFamily> {
        match ip.parse::<IpAddr>().ok()? {
            IpAddr::V4(_) => Some(IpFamily::V4),
            IpAddr::V6(_) => Some(IpFamily::V6),
        }
    }

    /// The EndpointSlice `addressType` of this family.
    pub(crate) fn address_type(self) -> &'static str {
        match self {
            IpFamily::V4 => "IPv4",
            IpFamily::V6 => "IPv6",
        }
    }
}

/// The `targetRef` of an endpoint for `pod`, as both controllers write it.
pub(crate) fn pod_reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".to_string()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..ObjectReference::default()
    }
}

/// The Service's selector, if it selects pods at all. A missing selector means "endpoints
/// are managed by hand"; an empty one is treated the same, because kube-apiserver's storage
/// turns `selector: {}` into no selector before any controller sees it.
pub(crate) fn selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    svc.spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .filter(|s| !s.is_empty())
}

pub(crate) fn is_external_name(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName")
}

/// Does a Service with this selector pick the pod (`labels.Set(selector).AsSelector()`)?
pub(crate) fn selects(selector: &BTreeMap<String, String>, pod: &Pod) -> bool {
    let labels = pod.metadata.labels.as_ref();
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// The pods of the Service's namespace its selector picks; empty without a selector.
pub(crate) fn selected_pods<'p>(svc: &Service, in_namespace: &[&'p Pod]) -> Vec<&'p Pod> {
    let Some(selector) = selector(svc) else {
        return Vec::new();
    };
    in_namespace
        .iter()
        .filter(|p| selects(selector, p))
        .copied()
        .collect()
}

pub(crate) fn cluster_ip(svc: &Service) -> &str {
    svc.spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .unwrap_or("")
}

/// `isServiceIPSet`: false for headless Services (`None`) and for those without a cluster IP.
pub(crate) fn is_ip_set(svc: &Service) -> bool {
    let ip = cluster_ip(svc);
    ip != "None" && !ip.is_empty()
}

pub(crate) fn ports(svc: &Service) -> &[ServicePort] {
    svc.spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or(&[])
}

pub(crate) fn publish_not_ready_addresses(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

pub(crate) fn ip_families(svc: &Service) -> Vec<IpFamily> {
    svc.spec
        .as_ref()
        .and_then(|s| s.ip_families.as_deref())
        .unwrap_or(&[])
        .iter()
        .filter_map(|f| match f.as_str() {
            "IPv4" => Some(IpFamily::V4),
            "IPv6" => Some(IpFamily::V6),
            _ => None,
        })
        .collect()
}

/// `ShouldPodBeInEndpoints`: not terminal, has an IP, and (unless terminating pods count) not
/// being deleted.
pub(crate) fn should_pod_be_in_endpoints(pod: &Pod, terminating: Terminating) -> bool {
    if pod::is_terminal(pod) {
        return false;
    }
    let status = pod.status.as_ref();
    let has_ip = status
        .and_then(|s| s.pod_ip.as_deref())
        .is_some_and(|ip| !ip.is_empty())
        || status
            .and_then(|s| s.pod_ips.as_ref())
            .is_some_and(|ips| !ips.is_empty());
    if !has_ip {
        return false;
    }
    terminating == Terminating::Include || !pod::is_deleting(pod)
}

/// `ShouldSetHostname`: the pod names itself and lives in this Service's subdomain.
pub(crate) fn should_set_hostname(pod: &Pod, svc: &Service) -> bool {
    let spec = pod.spec.as_ref();
    let hostname = spec.and_then(|s| s.hostname.as_deref()).unwrap_or("");
    let subdomain = spec.and_then(|s| s.subdomain.as_deref()).unwrap_or("");
    !hostname.is_empty()
        && subdomain == svc.metadata.name.as_deref().unwrap_or("")
        && svc.metadata.namespace == pod.metadata.namespace
}

/// The pod's hostname, when [`should_set_hostname`] says it belongs on its endpoint.
pub(crate) fn hostname(pod: &Pod, svc: &Service) -> Option<String> {
    should_set_hostname(pod, svc)
        .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
        .flatten()
}

/// The pod's IPs as listed in `status.podIPs`.
pub(crate) fn pod_ips(pod: &Pod) -> Vec<&str> {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ips.as_deref())
        .unwrap_or(&[])
        .iter()
        .map(|ip| ip.ip.as_str())
        .collect()
}

/// The protocol of a Service port, defaulted as the API server does.
pub(crate) fn protocol(port: &ServicePort) -> &str {
    port.protocol.as_deref().unwrap_or("TCP")
}

/// `FindPort`: the pod's port a Service port sends to. A number is taken as is; a name is
/// looked up among the containers' ports (then sidecars') with the same name and protocol.
/// `None` if the pod has no such port, which leaves the pod out for this Service port.
pub(crate) fn find_port(pod: &Pod, svc_port: &ServicePort) -> Option<i32> {
    let name = match &svc_port.target_port {
        Some(IntOrString::Int(n)) => return Some(*n),
        Some(IntOrString::String(name)) => name,
        // The API server defaults targetPort to the port.
        None => return Some(svc_port.port),
    };
    let spec = pod.spec.as_ref()?;
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| {
            p.name.as_deref() == Some(name.as_str())
                && p.protocol.as_deref().unwrap_or("TCP") == protocol(svc_port)
        })
        .map(|p| p.container_port)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    fn port(value: serde_json::Value) -> ServicePort {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn named_target_ports_resolve_per_pod_and_protocol() {
        let p = pod(json!({"metadata": {"name": "a"}, "spec": {
            "containers": [{"name": "c", "ports": [
                {"name": "dns", "containerPort": 5353, "protocol": "UDP"},
                {"name": "http", "containerPort": 8080}]}],
            "initContainers": [
                {"name": "once", "ports": [{"name": "metrics", "containerPort": 1}]},
                {"name": "side", "restartPolicy": "Always", "ports": [{"name": "admin", "containerPort": 9000}]}]}}));
        let cases = [
            (json!({"port": 80, "targetPort": "http"}), Some(8080)),
            (json!({"port": 80, "targetPort": 81}), Some(81)),
            (json!({"port": 80}), Some(80)),
            (json!({"port": 53, "targetPort": "dns"}), None),
            (
                json!({"port": 53, "targetPort": "dns", "protocol": "UDP"}),
                Some(5353),
            ),
            (json!({"port": 1, "targetPort": "metrics"}), None),
            (json!({"port": 9, "targetPort": "admin"}), Some(9000)),
            (json!({"port": 9, "targetPort": "missing"}), None),
        ];
        for (svc_port, want) in cases {
            assert_eq!(find_port(&p, &port(svc_port.clone())), want, "{svc_port}");
        }
    }

    #[test]
    fn pods_need_an_ip_and_must_not_be_finished() {
        let with = |status: serde_json::Value, deleting: bool| {
            let mut meta = json!({"name": "p"});
            if deleting {
                meta["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
            }
            pod(json!({"metadata": meta, "status": status}))
        };
        let running =
            json!({"phase": "Running", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}]});
        let cases = [
            (with(running.clone(), false), Terminating::Exclude, true),
            (with(running.clone(), true), Terminating::Exclude, false),
            (with(running, true), Terminating::Include, true),
            (
                with(json!({"phase": "Pending"}), false),
                Terminating::Include,
                false,
            ),
            (
                with(json!({"phase": "Succeeded", "podIP": "10.244.1.5"}), false),
                Terminating::Include,
                false,
            ),
        ];
        for (i, (p, terminating, want)) in cases.iter().enumerate() {
            assert_eq!(
                should_pod_be_in_endpoints(p, *terminating),
                *want,
                "case {i}"
            );
        }
    }

    #[test]
    fn empty_selector_selects_nothing() {
        let svc = |selector: serde_json::Value| -> Service {
            serde_json::from_value(
                json!({"metadata": {"name": "s"}, "spec": {"selector": selector}}),
            )
            .unwrap()
        };
        assert!(selector(&svc(json!({}))).is_none());
        assert!(selector(&svc(serde_json::Value::Null)).is_none());
        let kubia = svc(json!({"app": "kubia"}));
        let labelled =
            pod(json!({"metadata": {"name": "p", "labels": {"app": "kubia", "x": "y"}}}));
        let other = pod(json!({"metadata": {"name": "q", "labels": {"app": "other"}}}));
        assert_eq!(selected_pods(&kubia, &[&labelled, &other]).len(), 1);
    }
}
