//! Service, Endpoints, EndpointSlice, Ingress and IngressClass rows, compared with the cells
//! kube-apiserver v1.32 prints (`kubectl get svc,ep,endpointslices,ing,ingressclass -o wide`).

mod support;

use serde_json::{json, Value};
use support::{ago, columns, row};

fn column_names(group: &str, plural: &str) -> Vec<(&'static str, i32)> {
    columns(group, plural)
        .into_iter()
        .map(|(name, _, priority)| (name, priority))
        .collect()
}

fn service(name: &str, spec: Value, status: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": "default", "creationTimestamp": ago(66 * 60)},
           "spec": spec, "status": status})
}

#[test]
fn service_columns() {
    assert_eq!(
        column_names("", "services"),
        vec![
            ("Name", 0),
            ("Type", 0),
            ("Cluster-IP", 0),
            ("External-IP", 0),
            ("Port(s)", 0),
            ("Age", 0),
            ("Selector", 1)
        ]
    );
}

#[test]
fn service_rows() {
    let cases = [
        (
            service(
                "kubernetes",
                json!({"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}),
                json!({}),
            ),
            json!([
                "kubernetes",
                "ClusterIP",
                "10.96.0.1",
                "<none>",
                "443/TCP",
                "66m",
                "<none>"
            ]),
        ),
        (
            service(
                "kubia-nodeport",
                json!({"type": "NodePort", "clusterIP": "10.111.254.223",
                "clusterIPs": ["10.111.254.223"], "selector": {"app": "kubia"},
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30123},
                          {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443, "nodePort": 30124}]}),
                json!({}),
            ),
            json!([
                "kubia-nodeport",
                "NodePort",
                "10.111.254.223",
                "<none>",
                "80:30123/TCP,443:30124/TCP",
                "66m",
                "app=kubia"
            ]),
        ),
        (
            service(
                "kubia-loadbalancer",
                json!({"type": "LoadBalancer", "clusterIP": "10.111.241.153",
                "selector": {"app": "kubia"},
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 32143}]}),
                json!({"loadBalancer": {}}),
            ),
            json!([
                "kubia-loadbalancer",
                "LoadBalancer",
                "10.111.241.153",
                "<pending>",
                "80:32143/TCP",
                "66m",
                "app=kubia"
            ]),
        ),
        (
            // Ingress addresses deduplicated and sorted, external IPs appended, nothing clipped.
            service(
                "lb",
                json!({"type": "LoadBalancer", "clusterIP": "10.96.5.5",
                "externalIPs": ["192.0.2.10"], "selector": {"tier": "web", "app": "kubia"},
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080},
                          {"port": 53, "protocol": "UDP", "targetPort": 53, "nodePort": 30053}]}),
                json!({"loadBalancer": {"ingress": [{"ip": "130.211.53.173"}, {"hostname": "lb.example.com"},
                                                    {"ip": "130.211.53.173"}]}}),
            ),
            json!([
                "lb",
                "LoadBalancer",
                "10.96.5.5",
                "130.211.53.173,lb.example.com,192.0.2.10",
                "80:30080/TCP,53:30053/UDP",
                "66m",
                "app=kubia,tier=web"
            ]),
        ),
        (
            service(
                "external-service",
                json!({"type": "ExternalName", "externalName": "api.somecompany.com",
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}),
                json!({}),
            ),
            json!([
                "external-service",
                "ExternalName",
                "<none>",
                "api.somecompany.com",
                "80/TCP",
                "66m",
                "<none>"
            ]),
        ),
        (
            service(
                "external-noports",
                json!({"type": "ExternalName", "externalName": "api.example.com"}),
                json!({}),
            ),
            json!([
                "external-noports",
                "ExternalName",
                "<none>",
                "api.example.com",
                "<none>",
                "66m",
                "<none>"
            ]),
        ),
        (
            service(
                "kubia-headless",
                json!({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"],
                "selector": {"app": "kubia"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}),
                json!({}),
            ),
            json!([
                "kubia-headless",
                "ClusterIP",
                "None",
                "<none>",
                "80/TCP",
                "66m",
                "app=kubia"
            ]),
        ),
        (
            service(
                "with-external-ips",
                json!({"type": "ClusterIP", "clusterIP": "10.96.1.1",
                "externalIPs": ["1.2.3.4", "5.6.7.8"], "ports": [{"port": 80, "protocol": "SCTP", "targetPort": 80}]}),
                json!({}),
            ),
            json!([
                "with-external-ips",
                "ClusterIP",
                "10.96.1.1",
                "1.2.3.4,5.6.7.8",
                "80/SCTP",
                "66m",
                "<none>"
            ]),
        ),
    ];
    for (object, want) in cases {
        assert_eq!(
            row("", "services", &object),
            want,
            "{}",
            object["metadata"]["name"]
        );
    }
}

fn endpoints(name: &str, subsets: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Endpoints",
           "metadata": {"name": name, "namespace": "default", "creationTimestamp": ago(45)},
           "subsets": subsets})
}

fn addresses(ips: &[&str]) -> Value {
    Value::Array(ips.iter().map(|ip| json!({"ip": ip})).collect())
}

#[test]
fn endpoints_rows() {
    assert_eq!(
        column_names("", "endpoints"),
        vec![("Name", 0), ("Endpoints", 0), ("Age", 0)]
    );
    let cases = [
        (
            endpoints(
                "kubia",
                json!([{"addresses": addresses(&["10.1.0.5", "10.1.0.6", "10.1.0.7"]),
                "ports": [{"port": 8080, "protocol": "TCP"}]}]),
            ),
            json!(["kubia", "10.1.0.5:8080,10.1.0.6:8080,10.1.0.7:8080", "45s"]),
        ),
        (
            endpoints(
                "many",
                json!([{"addresses": addresses(&["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5"]),
                "ports": [{"port": 8080}]}]),
            ),
            json!([
                "many",
                "10.1.0.1:8080,10.1.0.2:8080,10.1.0.3:8080 + 2 more...",
                "45s"
            ]),
        ),
        (
            // Two ports: every (port, address) pair counts.
            endpoints(
                "two-ports",
                json!([{"addresses": addresses(&["10.0.0.1", "10.0.0.2"]),
                "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}]),
            ),
            json!([
                "two-ports",
                "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
                "45s"
            ]),
        ),
        (
            endpoints("empty", json!(null)),
            json!(["empty", "<none>", "45s"]),
        ),
        (
            // A headless Service without ports lists bare IPs.
            endpoints(
                "headless",
                json!([{"addresses": addresses(&["10.1.0.5", "10.1.0.6"])}]),
            ),
            json!(["headless", "10.1.0.5,10.1.0.6", "45s"]),
        ),
        (
            // Only not-ready addresses: a subset exists, so not `<none>`, but nothing is listed.
            endpoints(
                "unready",
                json!([{"notReadyAddresses": addresses(&["10.1.0.5"]), "ports": [{"port": 80}]}]),
            ),
            json!(["unready", "", "45s"]),
        ),
        (
            endpoints(
                "v6",
                json!([{"addresses": addresses(&["fd00::5"]), "ports": [{"port": 80}]}]),
            ),
            json!(["v6", "[fd00::5]:80", "45s"]),
        ),
    ];
    for (object, want) in cases {
        assert_eq!(
            row("", "endpoints", &object),
            want,
            "{}",
            object["metadata"]["name"]
        );
    }
}

fn slice(name: &str, ports: Value, endpoints: Value) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": name, "namespace": "default", "creationTimestamp": ago(3 * 86400 + 3600)},
           "addressType": "IPv4", "ports": ports, "endpoints": endpoints})
}

#[test]
fn endpoint_slice_rows() {
    assert_eq!(
        column_names("discovery.k8s.io", "endpointslices"),
        vec![
            ("Name", 0),
            ("AddressType", 0),
            ("Ports", 0),
            ("Endpoints", 0),
            ("Age", 0)
        ]
    );
    let ready = |ip: &str| json!({"addresses": [ip], "conditions": {"ready": true}});
    let cases = [
        (
            slice(
                "kubia-x7k2p",
                json!([{"name": "", "port": 8080, "protocol": "TCP"}]),
                json!([ready("10.1.0.5"), ready("10.1.0.6"), ready("10.1.0.7")]),
            ),
            json!([
                "kubia-x7k2p",
                "IPv4",
                "8080",
                "10.1.0.5,10.1.0.6,10.1.0.7",
                "3d1h"
            ]),
        ),
        (
            slice(
                "big",
                json!([{"port": 80}, {"port": 443}, {"name": "dns"}, {}]),
                json!([ready("10.1.0.1"), {"addresses": ["10.1.0.2", "10.1.0.3"], "conditions": {"ready": false}},
                       ready("10.1.0.4")]),
            ),
            json!([
                "big",
                "IPv4",
                "80,443,dns + 1 more...",
                "10.1.0.1,10.1.0.2,10.1.0.3 + 1 more...",
                "3d1h"
            ]),
        ),
        (
            slice("wildcard", json!([{}]), json!([])),
            json!(["wildcard", "IPv4", "*", "<unset>", "3d1h"]),
        ),
        (
            slice("nothing", json!(null), json!([])),
            json!(["nothing", "IPv4", "<unset>", "<unset>", "3d1h"]),
        ),
    ];
    for (object, want) in cases {
        assert_eq!(
            row("discovery.k8s.io", "endpointslices", &object),
            want,
            "{}",
            object["metadata"]["name"]
        );
    }
}

fn ingress(name: &str, spec: Value, status: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": name, "namespace": "default", "creationTimestamp": ago(7 * 3600 + 12 * 60)},
           "spec": spec, "status": status})
}

fn rule(host: Option<&str>) -> Value {
    let mut r = json!({"http": {"paths": [{"path": "/", "pathType": "Prefix",
        "backend": {"service": {"name": "kubia-nodeport", "port": {"number": 80}}}}]}});
    if let Some(h) = host {
        r["host"] = json!(h);
    }
    r
}

#[test]
fn ingress_rows() {
    assert_eq!(
        column_names("networking.k8s.io", "ingresses"),
        vec![
            ("Name", 0),
            ("Class", 0),
            ("Hosts", 0),
            ("Address", 0),
            ("Ports", 0),
            ("Age", 0)
        ]
    );
    let cases = [
        (
            ingress(
                "kubia",
                json!({"rules": [rule(Some("kubia.example.com"))]}),
                json!({}),
            ),
            json!(["kubia", "<none>", "kubia.example.com", "", "80", "7h12m"]),
        ),
        (
            ingress(
                "kubia-tls",
                json!({"ingressClassName": "nginx",
                "tls": [{"hosts": ["kubia.example.com"], "secretName": "tls-secret"}],
                "rules": [rule(Some("kubia.example.com")), rule(Some("foo.example.com"))]}),
                json!({"loadBalancer": {"ingress": [{"ip": "172.18.0.5"}, {"hostname": "lb.example.com"}]}}),
            ),
            json!([
                "kubia-tls",
                "nginx",
                "kubia.example.com,foo.example.com",
                "172.18.0.5,lb.example.com",
                "80, 443",
                "7h12m"
            ]),
        ),
        (
            ingress(
                "catch-all",
                json!({"defaultBackend": {"service": {"name": "kubia", "port": {"number": 80}}}}),
                json!({}),
            ),
            json!(["catch-all", "<none>", "*", "", "80", "7h12m"]),
        ),
        (
            ingress("hostless", json!({"rules": [rule(None)]}), json!({})),
            json!(["hostless", "<none>", "*", "", "80", "7h12m"]),
        ),
        (
            ingress(
                "many",
                json!({"rules": [rule(Some("a.com")), rule(Some("b.com")), rule(Some("c.com")),
                rule(Some("d.com")), rule(None)]}),
                json!({}),
            ),
            json!([
                "many",
                "<none>",
                "a.com,b.com,c.com + 2 more...",
                "",
                "80",
                "7h12m"
            ]),
        ),
    ];
    for (object, want) in cases {
        assert_eq!(
            row("networking.k8s.io", "ingresses", &object),
            want,
            "{}",
            object["metadata"]["name"]
        );
    }
}

#[test]
fn ingress_class_rows() {
    assert_eq!(
        column_names("networking.k8s.io", "ingressclasses"),
        vec![
            ("Name", 0),
            ("Controller", 0),
            ("Parameters", 0),
            ("Age", 0)
        ]
    );
    let class = |name: &str, spec: Value| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
               "metadata": {"name": name, "creationTimestamp": ago(10 * 86400)}, "spec": spec})
    };
    let cases = [
        (
            class("nginx", json!({"controller": "k8s.io/ingress-nginx"})),
            json!(["nginx", "k8s.io/ingress-nginx", "<none>", "10d"]),
        ),
        (
            class(
                "external-lb",
                json!({"controller": "example.com/ingress-controller",
                "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}),
            ),
            json!([
                "external-lb",
                "example.com/ingress-controller",
                "IngressParameters.k8s.example.com/external-lb",
                "10d"
            ]),
        ),
        (
            class(
                "core-params",
                json!({"controller": "ferry.dev/ingress",
                "parameters": {"kind": "ConfigMap", "name": "params", "scope": "Namespace", "namespace": "kube-system"}}),
            ),
            json!([
                "core-params",
                "ferry.dev/ingress",
                "ConfigMap/params",
                "10d"
            ]),
        ),
    ];
    for (object, want) in cases {
        assert_eq!(
            row("networking.k8s.io", "ingressclasses", &object),
            want,
            "{}",
            object["metadata"]["name"]
        );
    }
}
