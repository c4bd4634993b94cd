//! Objects every cluster has, created through the API itself at start-up: the default
//! namespaces, the `kubernetes` Service (10.96.0.1:443) with endpoints at this API server, and
//! the `kube-dns` Service (10.96.0.10:53).

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::handler::User;
use crate::{ApiServer, StartError};

const NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

fn system_user() -> User {
    User {
        name: "system:apiserver".to_string(),
        groups: vec!["system:masters".to_string()],
    }
}

async fn send(
    srv: &ApiServer,
    method: Method,
    uri: &str,
    body: &Value,
) -> Result<StatusCode, StartError> {
    let bytes = serde_json::to_vec(body).map_err(|e| StartError::Bootstrap {
        what: uri.to_string(),
        message: e.to_string(),
    })?;
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Bytes::from(bytes))
        .map_err(|e| StartError::Bootstrap {
            what: uri.to_string(),
            message: e.to_string(),
        })?;
    let resp = srv.handle(req, Some(system_user())).await;
    Ok(resp.status())
}

/// Creates `body` at `uri` unless it exists.
async fn ensure(srv: &ApiServer, uri: &str, body: Value) -> Result<(), StartError> {
    let code = send(srv, Method::POST, uri, &body).await?;
    if code.is_success() || code == StatusCode::CONFLICT {
        return Ok(());
    }
    Err(StartError::Bootstrap {
        what: format!("{uri} {}", body["metadata"]["name"]),
        message: code.to_string(),
    })
}

pub(crate) async fn ensure_defaults(srv: &ApiServer) -> Result<(), StartError> {
    for ns in NAMESPACES {
        ensure(
            srv,
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await?;
    }
    let first_ip = srv
        .config
        .service_cidr
        .nth_host(1)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    ensure(
        srv,
        "/api/v1/namespaces/default/services",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {
                "clusterIP": first_ip,
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": srv.config.secure_port}],
                "sessionAffinity": "None",
                "type": "ClusterIP",
            },
        }),
    )
    .await?;
    if let Some(ip) = srv.config.cluster_dns {
        ensure_kube_dns(srv, ip).await?;
    }
    publish_endpoints(srv).await
}

/// The `kube-dns` Service as kubeadm creates it for CoreDNS, so the cluster looks like one. Every
/// node agent answers at its cluster IP itself (node-local DNS); no pod carries the selected
/// label, so its Endpoints stay empty and the service proxy leaves this IP alone.
async fn ensure_kube_dns(srv: &ApiServer, ip: std::net::Ipv4Addr) -> Result<(), StartError> {
    ensure(
        srv,
        "/api/v1/namespaces/kube-system/services",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {
                "name": "kube-dns",
                "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"},
            },
            "spec": {
                "clusterIP": ip.to_string(),
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                ],
                "selector": {"k8s-app": "kube-dns"},
                "type": "ClusterIP",
            },
        }),
    )
    .await
}

/// Points the `kubernetes` Service's Endpoints and EndpointSlice at this API server.
async fn publish_endpoints(srv: &ApiServer) -> Result<(), StartError> {
    if srv.config.advertise_address.is_loopback() {
        // Endpoints may not hold loopback addresses (pods could never reach them); until the
        // API server advertises a routable address, the Service has no endpoints.
        tracing::warn!(
            address = %srv.config.advertise_address,
            "not publishing endpoints for the kubernetes service: the advertise address is loopback"
        );
        return Ok(());
    }
    let address = srv.config.advertise_address.to_string();
    let port = srv.config.secure_port;
    let endpoints = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": address}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    });
    let code = send(
        srv,
        Method::PUT,
        "/api/v1/namespaces/default/endpoints/kubernetes",
        &endpoints,
    )
    .await?;
    if !code.is_success() {
        return Err(StartError::Bootstrap {
            what: "endpoints/kubernetes".into(),
            message: code.to_string(),
        });
    }
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    });
    let uri = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";
    let code = send(srv, Method::POST, uri, &slice).await?;
    if code == StatusCode::CONFLICT {
        send(srv, Method::PUT, &format!("{uri}/kubernetes"), &slice).await?;
    }
    Ok(())
}
