//! Service: defaults, validation, warnings and selectable fields, as kube-apiserver 1.32 on a
//! single-stack IPv4 cluster.
//!
//! The API server's write path is: decode → [`Kind::set_defaults`] → allocation of cluster IP
//! and node ports (writing `clusterIP`, `clusterIPs`, `nodePort`, `healthCheckNodePort`) →
//! [`Kind::validate_create`]. Nothing here allocates.

use k8s_openapi::api::core::v1::{ClientIPConfig, Service, ServiceSpec, SessionAffinityConfig};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::field::ErrorList;
use crate::kind::Kind;
use crate::validation::service::{
    default_ip_families, externally_accessible, service_warnings, validate_ip_families,
    validate_service, validate_service_update, CLUSTER_IP_NONE, REQUIRE_DUAL_STACK, SINGLE_STACK,
    TYPE_CLUSTER_IP, TYPE_EXTERNAL_NAME, TYPE_LOAD_BALANCER, TYPE_NODE_PORT,
};
use crate::validation::NameRule;

/// `DefaultClientIPServiceAffinitySeconds`: three hours.
const DEFAULT_CLIENT_IP_AFFINITY_SECONDS: i32 = 10800;

/// The annotation KiA uses to publish unready endpoints; the endpoints controller stopped
/// reading it in Kubernetes 1.24.
const TOLERATE_UNREADY_ENDPOINTS: &str = "service.alpha.kubernetes.io/tolerate-unready-endpoints";

impl Kind for Service {
    const NAME_RULE: NameRule = NameRule::Dns1035Label;

    /// `SetDefaults_Service`, the create half of `NormalizeClusterIPs`, and the IP-family
    /// defaults the service storage fills in (`initIPFamilyFields`).
    fn prepare_for_update(&mut self, old: &Self) {
        crate::validation::service::patch_update(self, old);
        crate::validation::service::prepare_update(self, old);
    }

    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(ServiceSpec::default);
        default_session_affinity(spec);
        if spec.type_.as_deref().unwrap_or("").is_empty() {
            spec.type_ = Some(TYPE_CLUSTER_IP.to_string());
        }
        default_ports(spec);
        default_traffic_fields(spec);
        default_load_balancer_ip_modes(self);
        let spec = self.spec.get_or_insert_with(ServiceSpec::default);
        mirror_cluster_ip(spec);
        if spec.type_.as_deref() != Some(TYPE_EXTERNAL_NAME) {
            default_ip_family_policy(spec);
            // Families are only filled in for input the allocator would accept, so that
            // errors name what the user wrote.
            if validate_ip_families(self).is_empty() {
                if let Some(spec) = self.spec.as_mut() {
                    default_ip_families(spec);
                }
            }
        }
    }

    fn validate_create(&self) -> ErrorList {
        let errs = validate_ip_families(self);
        if !errs.is_empty() {
            return errs;
        }
        validate_service(self)
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let errs = validate_ip_families(self);
        if !errs.is_empty() {
            return errs;
        }
        validate_service_update(self, old)
    }

    fn field_labels(&self) -> Vec<(&'static str, String)> {
        let spec = self.spec.as_ref();
        let field =
            |f: fn(&ServiceSpec) -> Option<&String>| spec.and_then(f).cloned().unwrap_or_default();
        vec![
            ("spec.clusterIP", field(|s| s.cluster_ip.as_ref())),
            ("spec.type", field(|s| s.type_.as_ref())),
        ]
    }

    fn warnings(&self) -> Vec<String> {
        let mut warnings = service_warnings(self);
        let annotations = self.metadata.annotations.as_ref();
        if annotations.is_some_and(|a| a.contains_key(TOLERATE_UNREADY_ENDPOINTS)) {
            warnings.push(format!(
                "metadata.annotations[{TOLERATE_UNREADY_ENDPOINTS}]: has no effect since Kubernetes 1.24; use spec.publishNotReadyAddresses instead"
            ));
        }
        warnings
    }
}

/// `sessionAffinity` defaults to None (which drops any config); ClientIP gets a three-hour
/// timeout unless one is given.
fn default_session_affinity(spec: &mut ServiceSpec) {
    let affinity = spec.session_affinity.get_or_insert_with(String::new);
    if affinity.is_empty() {
        *affinity = "None".to_string();
    }
    match affinity.as_str() {
        "None" => spec.session_affinity_config = None,
        "ClientIP" => {
            let has_timeout = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .is_some_and(|c| c.timeout_seconds.is_some());
            if !has_timeout {
                spec.session_affinity_config = Some(SessionAffinityConfig {
                    client_ip: Some(ClientIPConfig {
                        timeout_seconds: Some(DEFAULT_CLIENT_IP_AFFINITY_SECONDS),
                    }),
                });
            }
        }
        _ => {}
    }
}

/// Ports default to TCP, and to the same number on the pods.
fn default_ports(spec: &mut ServiceSpec) {
    for port in spec.ports.iter_mut().flatten() {
        if port.protocol.as_deref().unwrap_or("").is_empty() {
            port.protocol = Some("TCP".to_string());
        }
        let unset = match &port.target_port {
            None => true,
            Some(IntOrString::Int(n)) => *n == 0,
            Some(IntOrString::String(s)) => s.is_empty(),
        };
        if unset {
            port.target_port = Some(IntOrString::Int(port.port));
        }
    }
}

fn default_traffic_fields(spec: &mut ServiceSpec) {
    if externally_accessible(spec)
        && spec
            .external_traffic_policy
            .as_deref()
            .unwrap_or("")
            .is_empty()
    {
        spec.external_traffic_policy = Some("Cluster".to_string());
    }
    let type_ = spec.type_.as_deref().unwrap_or("");
    let has_cluster_traffic =
        matches!(type_, TYPE_NODE_PORT | TYPE_LOAD_BALANCER | TYPE_CLUSTER_IP);
    if spec.internal_traffic_policy.is_none() && has_cluster_traffic {
        spec.internal_traffic_policy = Some("Cluster".to_string());
    }
    if type_ == TYPE_LOAD_BALANCER && spec.allocate_load_balancer_node_ports.is_none() {
        spec.allocate_load_balancer_node_ports = Some(true);
    }
}

/// Load balancer ingress IPs without a mode are VIPs.
fn default_load_balancer_ip_modes(svc: &mut Service) {
    let is_lb = svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some(TYPE_LOAD_BALANCER);
    let ingress = svc
        .status
        .as_mut()
        .and_then(|s| s.load_balancer.as_mut())
        .and_then(|lb| lb.ingress.as_mut());
    if let (true, Some(ingress)) = (is_lb, ingress) {
        for ing in ingress {
            if ing.ip.as_deref().is_some_and(|ip| !ip.is_empty()) && ing.ip_mode.is_none() {
                ing.ip_mode = Some("VIP".to_string());
            }
        }
    }
}

/// A client that only sets `clusterIP` gets `clusterIPs` to match.
fn mirror_cluster_ip(spec: &mut ServiceSpec) {
    let ip = spec.cluster_ip.as_deref().unwrap_or("");
    if !ip.is_empty() && spec.cluster_ips.as_ref().is_none_or(Vec::is_empty) {
        spec.cluster_ips = Some(vec![ip.to_string()]);
    }
}

/// SingleStack, except a headless Service without selector, which takes its records from
/// whatever endpoints it is given and so defaults to RequireDualStack.
fn default_ip_family_policy(spec: &mut ServiceSpec) {
    if spec.ip_family_policy.is_some() {
        return;
    }
    let headless = spec.cluster_ip.as_deref() == Some(CLUSTER_IP_NONE);
    let no_selector = spec.selector.as_ref().is_none_or(|s| s.is_empty());
    let policy = if headless && no_selector {
        REQUIRE_DUAL_STACK
    } else {
        SINGLE_STACK
    };
    spec.ip_family_policy = Some(policy.to_string());
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// A Service named `kubia` with the given spec (YAML), defaulted as the API server does.
    fn service(spec_yaml: &str) -> Service {
        let spec: Value = yaml_serde::from_str(spec_yaml).unwrap();
        let mut svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "kubia", "namespace": "default"},
            "spec": spec,
        }))
        .unwrap();
        svc.set_defaults();
        svc
    }

    fn texts(errs: ErrorList) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    /// Validates a new Service with the given spec.
    fn check(spec_yaml: &str, want: &[&str]) {
        assert_eq!(
            texts(service(spec_yaml).validate_create()),
            want,
            "{spec_yaml}"
        );
    }

    fn defaulted_spec(spec_yaml: &str) -> Value {
        serde_json::to_value(service(spec_yaml).spec).unwrap()
    }

    #[test]
    fn defaults_of_a_kubectl_expose_service() {
        assert_eq!(
            defaulted_spec("selector: {app: kubia}\nports: [{port: 80, targetPort: 8080}]"),
            json!({
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
                "selector": {"app": "kubia"},
                "sessionAffinity": "None",
                "type": "ClusterIP",
            })
        );
    }

    #[test]
    fn defaults_per_type() {
        let cases = [
            (
                "type: NodePort\nports: [{port: 80, nodePort: 30123}]",
                json!({
                    "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
                    "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                    "ports": [{"nodePort": 30123, "port": 80, "protocol": "TCP", "targetPort": 80}],
                    "sessionAffinity": "None", "type": "NodePort",
                }),
            ),
            (
                "type: LoadBalancer\nports: [{port: 80, protocol: UDP, targetPort: 0}]",
                json!({
                    "allocateLoadBalancerNodePorts": true,
                    "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
                    "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                    "ports": [{"port": 80, "protocol": "UDP", "targetPort": 80}],
                    "sessionAffinity": "None", "type": "LoadBalancer",
                }),
            ),
            (
                "type: ExternalName\nexternalName: api.somecompany.com\nports: [{port: 80}]",
                json!({
                    "externalName": "api.somecompany.com",
                    "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                    "sessionAffinity": "None", "type": "ExternalName",
                }),
            ),
            (
                "clusterIP: None\nselector: {app: kubia}\nports: [{port: 80, targetPort: http}]",
                json!({
                    "clusterIP": "None", "clusterIPs": ["None"], "internalTrafficPolicy": "Cluster",
                    "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                    "ports": [{"port": 80, "protocol": "TCP", "targetPort": "http"}],
                    "selector": {"app": "kubia"}, "sessionAffinity": "None", "type": "ClusterIP",
                }),
            ),
            (
                "clusterIP: None\nports: [{port: 80}]",
                json!({
                    "clusterIP": "None", "clusterIPs": ["None"], "internalTrafficPolicy": "Cluster",
                    "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "RequireDualStack",
                    "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                    "sessionAffinity": "None", "type": "ClusterIP",
                }),
            ),
            (
                "clusterIP: 10.96.0.10\nsessionAffinity: ClientIP\nports: [{port: 53, protocol: UDP}]",
                json!({
                    "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                    "internalTrafficPolicy": "Cluster",
                    "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                    "ports": [{"port": 53, "protocol": "UDP", "targetPort": 53}],
                    "sessionAffinity": "ClientIP",
                    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                    "type": "ClusterIP",
                }),
            ),
        ];
        for (yaml, want) in cases {
            assert_eq!(defaulted_spec(yaml), want, "{yaml}");
        }
    }

    #[test]
    fn affinity_none_drops_its_config_and_external_ips_get_a_traffic_policy() {
        let spec = defaulted_spec(
            "sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\nexternalIPs: [1.2.3.4]\nports: [{port: 80}]",
        );
        assert_eq!(spec["sessionAffinityConfig"], Value::Null);
        assert_eq!(spec["externalTrafficPolicy"], json!("Cluster"));
    }

    #[test]
    fn valid_services_pass() {
        for yaml in [
            "selector: {app: kubia}\nports: [{port: 80, targetPort: 8080}]",
            "type: NodePort\nports: [{port: 80, targetPort: 8080, nodePort: 30123}]",
            "type: LoadBalancer\nports: [{port: 80, targetPort: 8080}]",
            "sessionAffinity: ClientIP\nports: [{name: http, port: 80}, {name: https, port: 443}]",
            "clusterIP: None\nselector: {app: kubia}",
            "clusterIP: None",
            "type: ExternalName\nexternalName: api.somecompany.com",
            "type: ExternalName\nexternalName: api.somecompany.com.",
            "clusterIP: 10.96.0.10\nports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]",
            "ports: [{port: 80, targetPort: http, appProtocol: kubernetes.io/h2c}]",
        ] {
            check(yaml, &[]);
        }
    }

    #[test]
    fn the_seed_workflows_bad_services() {
        // A node port outside the range is refused by the allocator (ferry-ipam), not here.
        check("type: NodePort\nports: [{port: 80, nodePort: 80}]", &[]);
        check(
            "sessionAffinity: Cookie\nports: [{port: 80}]",
            &[
                r#"spec.sessionAffinity: Unsupported value: "Cookie": supported values: "ClientIP", "None""#,
            ],
        );
        check("selector: {app: kubia}", &["spec.ports: Required value"]);
        check(
            "ports: [{name: http, port: 80}, {name: http, port: 8080}]",
            &[r#"spec.ports[1].name: Duplicate value: "http""#],
        );
        // `kubectl create svc clusterip two-ports --tcp 80:80,443,443`.
        check(
            "ports: [{name: 80-80, port: 80, targetPort: 80}, {name: '443', port: 443, targetPort: 443}, {name: '443', port: 443, targetPort: 443}]",
            &[
                r#"spec.ports[2].name: Duplicate value: "443""#,
                r#"spec.ports[2]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:443, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}"#,
            ],
        );
    }

    #[test]
    fn port_rules() {
        let cases: &[(&str, &[&str])] = &[
            (
                "ports: [{port: 80}, {port: 81}]",
                &["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"],
            ),
            (
                "ports: [{port: 70000}]",
                &[
                    "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
                    "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                ],
            ),
            (
                "ports: [{port: 80, protocol: HTTP}]",
                &[r#"spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP""#],
            ),
            (
                "ports: [{port: 80, targetPort: web_1}]",
                &[r#"spec.ports[0].targetPort: Invalid value: "web_1": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"#],
            ),
            (
                "ports: [{name: HTTP, port: 80}]",
                &[r#"spec.ports[0].name: Invalid value: "HTTP": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#],
            ),
            (
                "ports: [{name: a.b, port: 80}]",
                &[r#"spec.ports[0].name: Invalid value: "a.b": must not contain dots"#],
            ),
            (
                "type: NodePort\nports: [{name: a, port: 80, nodePort: 30080}, {name: b, port: 81, nodePort: 30080}]",
                &["spec.ports[1].nodePort: Duplicate value: 30080"],
            ),
            (
                "ports: [{port: 80, nodePort: 30080}]",
                &["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
            ),
            (
                "ports: [{port: 80, appProtocol: 'a/b/c'}]",
                &["spec.ports[0].appProtocol: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"],
            ),
        ];
        for (yaml, want) in cases {
            check(yaml, want);
        }
    }

    #[test]
    fn type_and_affinity_rules() {
        let cases: &[(&str, &[&str])] = &[
            (
                "type: Foo\nports: [{port: 80}]",
                &[r#"spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort""#],
            ),
            (
                "sessionAffinity: ClientIP\nsessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}\nports: [{port: 80}]",
                &["spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400"],
            ),
            (
                "sessionAffinity: ClientIP\nsessionAffinityConfig: {clientIP: {timeoutSeconds: 86401}}\nports: [{port: 80}]",
                &["spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400"],
            ),
            (
                "selector: {app: -kubia}\nports: [{port: 80}]",
                &["spec.selector: Invalid value: \"-kubia\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"],
            ),
            (
                "internalTrafficPolicy: Node\nports: [{port: 80}]",
                &[r#"spec.internalTrafficPolicy: Unsupported value: "Node": supported values: "Cluster", "Local""#],
            ),
            (
                "trafficDistribution: PreferSameZone\nports: [{port: 80}]",
                &[r#"spec.trafficDistribution: Unsupported value: "PreferSameZone": supported values: "PreferClose""#],
            ),
        ];
        for (yaml, want) in cases {
            check(yaml, want);
        }
    }

    #[test]
    fn external_name_rules() {
        let cases: &[(&str, &[&str])] = &[
            ("type: ExternalName", &["spec.externalName: Required value"]),
            (
                "type: ExternalName\nexternalName: Api.Example.com",
                &[
                    r#"spec.externalName: Invalid value: "Api.Example.com": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
                ],
            ),
            (
                "type: ExternalName\nexternalName: api.example.com\nclusterIP: 10.96.0.5",
                &["spec.clusterIPs: Forbidden: may not be set for ExternalName services"],
            ),
            (
                "type: ExternalName\nexternalName: api.example.com\nipFamilyPolicy: SingleStack",
                &["spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services"],
            ),
        ];
        for (yaml, want) in cases {
            check(yaml, want);
        }
    }

    #[test]
    fn cluster_ip_and_family_rules() {
        let cases: &[(&str, &[&str])] = &[
            (
                "clusterIP: 10.1.1\nports: [{port: 80}]",
                &[
                    r#"spec.clusterIPs[0]: Invalid value: "10.1.1": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#,
                ],
            ),
            (
                "clusterIP: 10.96.0.5\nclusterIPs: [10.96.0.6]\nports: [{port: 80}]",
                &[
                    r#"spec.clusterIPs: Invalid value: []string{"10.96.0.6"}: first value must match `clusterIP`"#,
                ],
            ),
            (
                "clusterIPs: [10.96.0.6]\nports: [{port: 80}]",
                &[
                    r#"spec.clusterIPs: Invalid value: []string{"10.96.0.6"}: must be empty when `clusterIP` is not specified"#,
                ],
            ),
            (
                "clusterIP: fd00::1\nports: [{port: 80}]",
                &[
                    r#"spec.clusterIPs[0]: Invalid value: []string{"fd00::1"}: IPv6 is not configured on this cluster"#,
                ],
            ),
            (
                "ipFamilies: [IPv6]\nports: [{port: 80}]",
                &[r#"spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster"#],
            ),
            (
                "ipFamilies: [IPv5]\nports: [{port: 80}]",
                &[
                    r#"spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6""#,
                ],
            ),
            (
                "ipFamilyPolicy: RequireDualStack\nports: [{port: 80}]",
                &[
                    r#"spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services"#,
                ],
            ),
            (
                "ipFamilyPolicy: SingleStack\nipFamilies: [IPv4, IPv6]\nports: [{port: 80}]",
                &[
                    r#"spec.ipFamilyPolicy: Invalid value: "SingleStack": must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"#,
                ],
            ),
            (
                "type: LoadBalancer\nclusterIP: None\nports: [{port: 80}]",
                &[
                    r#"spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for LoadBalancer services"#,
                ],
            ),
            ("ipFamilyPolicy: PreferDualStack\nports: [{port: 80}]", &[]),
        ];
        for (yaml, want) in cases {
            check(yaml, want);
        }
    }

    #[test]
    fn external_access_rules() {
        let cases: &[(&str, &[&str])] = &[
            (
                "externalTrafficPolicy: Local\nports: [{port: 80}]",
                &[r#"spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services"#],
            ),
            (
                "type: NodePort\nexternalTrafficPolicy: Global\nports: [{port: 80}]",
                &[r#"spec.externalTrafficPolicy: Unsupported value: "Global": supported values: "Cluster", "Local""#],
            ),
            (
                "type: NodePort\nhealthCheckNodePort: 31000\nports: [{port: 80}]",
                &["spec.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"],
            ),
            (
                "type: LoadBalancer\nexternalTrafficPolicy: Local\nports: [{port: 80}]",
                &["spec.healthCheckNodePort: Required value"],
            ),
            (
                "type: LoadBalancer\nloadBalancerSourceRanges: [10.0.0/8, ' 10.0.0.0/8 ']\nports: [{port: 80}]",
                &[r#"spec.LoadBalancerSourceRanges[0]: Invalid value: "10.0.0/8": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"#],
            ),
            (
                "loadBalancerSourceRanges: [10.0.0.0/8]\nports: [{port: 80}]",
                &["spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"],
            ),
            (
                "allocateLoadBalancerNodePorts: false\nports: [{port: 80}]",
                &["spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"],
            ),
            (
                "loadBalancerClass: example.com/lb\nports: [{port: 80}]",
                &["spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'"],
            ),
            (
                "externalIPs: [127.0.0.1, 1.2.3]\nports: [{port: 80}]",
                &[
                    r#"spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)"#,
                    r#"spec.externalIPs[1]: Invalid value: "1.2.3": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#,
                ],
            ),
        ];
        for (yaml, want) in cases {
            check(yaml, want);
        }
    }

    #[test]
    fn the_lb_source_ranges_annotation_is_checked_too() {
        let mut svc = service("ports: [{port: 80}]");
        svc.metadata.annotations = Some(
            [(
                "service.beta.kubernetes.io/load-balancer-source-ranges".to_string(),
                "10.0.0.0/8, bad".to_string(),
            )]
            .into(),
        );
        assert_eq!(
            texts(svc.validate_create()),
            [
                "metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]: Forbidden: may only be used when `type` is 'LoadBalancer'",
                "metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]: Invalid value: \"bad\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ]
        );
    }

    /// A stored Service: defaulted and given what allocation would give it.
    fn stored(spec_yaml: &str) -> Service {
        let mut svc = service(spec_yaml);
        if let Some(spec) = svc.spec.as_mut() {
            if spec.cluster_ip.is_none() && spec.type_.as_deref() != Some(TYPE_EXTERNAL_NAME) {
                spec.cluster_ip = Some("10.96.0.5".to_string());
                spec.cluster_ips = Some(vec!["10.96.0.5".to_string()]);
            }
        }
        svc
    }

    #[test]
    fn cluster_ips_may_not_change() {
        let old = stored("ports: [{port: 80}]");
        let mut new = old.clone();
        let spec = new.spec.as_mut().unwrap();
        spec.cluster_ip = Some("10.96.0.6".to_string());
        spec.cluster_ips = Some(vec!["10.96.0.6".to_string()]);
        assert_eq!(
            texts(new.validate_update(&old)),
            [
                r#"spec.clusterIPs[0]: Invalid value: []string{"10.96.0.6"}: may not change once set"#
            ]
        );
        assert!(old.validate_update(&old).is_empty());
    }

    #[test]
    fn moving_to_and_from_external_name_is_allowed() {
        let old = stored("ports: [{port: 80}]");
        let new = stored("type: ExternalName\nexternalName: api.example.com\nports: [{port: 80}]");
        assert!(new.validate_update(&old).is_empty());
        assert!(old.validate_update(&new).is_empty());
    }

    #[test]
    fn health_check_node_port_is_fixed() {
        let mut old = stored("type: LoadBalancer\nexternalTrafficPolicy: Local\nports: [{port: 80, nodePort: 30080}]");
        old.spec.as_mut().unwrap().health_check_node_port = Some(31000);
        let mut new = old.clone();
        new.spec.as_mut().unwrap().health_check_node_port = Some(31001);
        assert_eq!(
            texts(new.validate_update(&old)),
            ["spec.healthCheckNodePort: Forbidden: field is immutable"]
        );
    }

    #[test]
    fn load_balancer_class_is_fixed() {
        let mut old = stored("type: LoadBalancer\nports: [{port: 80, nodePort: 30080}]");
        old.spec.as_mut().unwrap().load_balancer_class = Some("example.com/a".to_string());
        let mut new = old.clone();
        new.spec.as_mut().unwrap().load_balancer_class = None;
        assert_eq!(
            texts(new.validate_update(&old)),
            ["spec.loadBalancerClass: Invalid value: null: may not change once set"]
        );
    }

    #[test]
    fn warnings_name_the_dead_annotation_and_ignored_fields() {
        let mut svc = service("clusterIP: None\nports: [{port: 80}]");
        svc.metadata.annotations =
            Some([(TOLERATE_UNREADY_ENDPOINTS.to_string(), "true".to_string())].into());
        assert_eq!(
            svc.warnings(),
            ["metadata.annotations[service.alpha.kubernetes.io/tolerate-unready-endpoints]: has no effect since Kubernetes 1.24; use spec.publishNotReadyAddresses instead"]
        );
        let svc = service("externalName: example.com\nclusterIP: 010.96.0.1\nports: [{port: 80}]");
        assert_eq!(
            svc.warnings(),
            [
                "spec.clusterIPs[0]: IP address was accepted, but will be invalid in a future Kubernetes release: ParseAddr(\"010.96.0.1\"): IPv4 field has octet with leading zero",
                "spec.externalName is ignored when spec.type is not \"ExternalName\"",
            ]
        );
        assert!(service("ports: [{port: 80}]").warnings().is_empty());
    }

    #[test]
    fn selectable_fields() {
        let svc = stored("type: NodePort\nports: [{port: 80}]");
        assert_eq!(
            svc.field_labels(),
            [
                ("spec.clusterIP", "10.96.0.5".to_string()),
                ("spec.type", "NodePort".to_string())
            ]
        );
    }
}
