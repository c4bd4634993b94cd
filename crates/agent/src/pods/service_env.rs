//! The service environment variables the kubelet gives every container (`{SVC}_SERVICE_HOST`,
//! `{SVC}_PORT_80_TCP`, …), Docker-links style, for the services of the pod's namespace (with
//! `enableServiceLinks`) and always for the `kubernetes` service of the `default` namespace.

use k8s_openapi::api::core::v1::Service;

/// The variables of one service with a cluster IP; headless and ExternalName services have
/// none.
pub(crate) fn service_env(service: &Service) -> Vec<(String, String)> {
    let Some(name) = service.metadata.name.as_deref() else {
        return Vec::new();
    };
    let Some(spec) = &service.spec else {
        return Vec::new();
    };
    let ip = match spec.cluster_ip.as_deref() {
        Some(ip) if !ip.is_empty() && ip != "None" => ip,
        _ => return Vec::new(),
    };
    let prefix = name.to_uppercase().replace('-', "_");
    let ports = spec.ports.as_deref().unwrap_or_default();
    let mut env = vec![(format!("{prefix}_SERVICE_HOST"), ip.to_string())];
    let Some(first) = ports.first() else {
        return env;
    };
    env.push((format!("{prefix}_SERVICE_PORT"), first.port.to_string()));
    for port in ports {
        if let Some(port_name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let port_name = port_name.to_uppercase().replace('-', "_");
            env.push((
                format!("{prefix}_SERVICE_PORT_{port_name}"),
                port.port.to_string(),
            ));
        }
    }
    let protocol = |p: &k8s_openapi::api::core::v1::ServicePort| {
        p.protocol.as_deref().unwrap_or("TCP").to_string()
    };
    env.push((
        format!("{prefix}_PORT"),
        format!("{}://{ip}:{}", protocol(first).to_lowercase(), first.port),
    ));
    for port in ports {
        let proto = protocol(port);
        let base = format!("{prefix}_PORT_{}_{proto}", port.port);
        env.push((
            base.clone(),
            format!("{}://{ip}:{}", proto.to_lowercase(), port.port),
        ));
        env.push((format!("{base}_PROTO"), proto.to_lowercase()));
        env.push((format!("{base}_PORT"), port.port.to_string()));
        env.push((format!("{base}_ADDR"), ip.to_string()));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn service(name: &str, ip: &str, ports: &[(Option<&str>, i32)]) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                cluster_ip: Some(ip.into()),
                ports: Some(
                    ports
                        .iter()
                        .map(|(n, p)| ServicePort {
                            name: n.map(str::to_string),
                            port: *p,
                            protocol: Some("TCP".into()),
                            ..ServicePort::default()
                        })
                        .collect(),
                ),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        }
    }

    #[test]
    fn the_book_s_kubia_variables() {
        let env = service_env(&service("kubia", "10.111.249.153", &[(None, 80)]));
        let text: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            text,
            [
                "KUBIA_SERVICE_HOST=10.111.249.153",
                "KUBIA_SERVICE_PORT=80",
                "KUBIA_PORT=tcp://10.111.249.153:80",
                "KUBIA_PORT_80_TCP=tcp://10.111.249.153:80",
                "KUBIA_PORT_80_TCP_PROTO=tcp",
                "KUBIA_PORT_80_TCP_PORT=80",
                "KUBIA_PORT_80_TCP_ADDR=10.111.249.153",
            ]
        );
    }

    #[test]
    fn named_ports_and_dashes() {
        let env = service_env(&service(
            "my-svc",
            "10.96.0.9",
            &[(Some("http-alt"), 8080), (Some("https"), 8443)],
        ));
        assert!(env.contains(&("MY_SVC_SERVICE_PORT_HTTP_ALT".into(), "8080".into())));
        assert!(env.contains(&("MY_SVC_PORT_8443_TCP_ADDR".into(), "10.96.0.9".into())));
    }

    #[test]
    fn headless_services_have_none() {
        assert!(service_env(&service("db", "None", &[(None, 5432)])).is_empty());
    }
}
