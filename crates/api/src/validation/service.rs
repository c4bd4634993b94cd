//! Service validation as kube-apiserver 1.32 runs it on a single-stack IPv4 cluster
//! (`ValidateService`, `ValidateServiceUpdate`, and the IP-family checks its service storage
//! makes before allocating), plus the update steps of its service strategy and storage that
//! need the stored object (`NormalizeClusterIPs`, `patchAllocatedValues`,
//! `dropTypeDependentFields`).
//!
//! Error order and texts follow upstream exactly: kubectl prints the list as is.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::validate_labels;
use super::network::{
    go_optional_string, go_string_slice, is_ipv6_string, port_num_errors, validate_cidr,
    validate_dns1123_label, validate_dns1123_subdomain, validate_ip, validate_non_special_ip,
    validate_port_num_or_name, validate_protocol, validate_qualified_name,
};
use crate::field::{go_quote, BadValue, ErrorList, FieldError, Path};

pub(crate) const TYPE_CLUSTER_IP: &str = "ClusterIP";
pub(crate) const TYPE_NODE_PORT: &str = "NodePort";
pub(crate) const TYPE_LOAD_BALANCER: &str = "LoadBalancer";
pub(crate) const TYPE_EXTERNAL_NAME: &str = "ExternalName";
/// `clusterIP: None`, a headless Service.
pub(crate) const CLUSTER_IP_NONE: &str = "None";
pub(crate) const IPV4: &str = "IPv4";
pub(crate) const IPV6: &str = "IPv6";
pub(crate) const SINGLE_STACK: &str = "SingleStack";
pub(crate) const PREFER_DUAL_STACK: &str = "PreferDualStack";
pub(crate) const REQUIRE_DUAL_STACK: &str = "RequireDualStack";
/// The longest `sessionAffinityConfig.clientIP.timeoutSeconds`, a day.
pub(crate) const MAX_CLIENT_IP_AFFINITY_SECONDS: i32 = 86400;

const SERVICE_TYPES: &[&str] = &[
    TYPE_CLUSTER_IP,
    TYPE_EXTERNAL_NAME,
    TYPE_LOAD_BALANCER,
    TYPE_NODE_PORT,
];
const SESSION_AFFINITIES: &[&str] = &["ClientIP", "None"];
const TRAFFIC_POLICIES: &[&str] = &["Cluster", "Local"];
const IP_FAMILIES: &[&str] = &[IPV4, IPV6];
const IP_FAMILY_POLICIES: &[&str] = &[PREFER_DUAL_STACK, REQUIRE_DUAL_STACK, SINGLE_STACK];
const TRAFFIC_DISTRIBUTIONS: &[&str] = &["PreferClose"];
const ANNOTATION_TOPOLOGY_HINTS: &str = "service.kubernetes.io/topology-aware-hints";
const ANNOTATION_TOPOLOGY_MODE: &str = "service.kubernetes.io/topology-mode";
const ANNOTATION_SOURCE_RANGES: &str = "service.beta.kubernetes.io/load-balancer-source-ranges";

/// `ValidateService`, beyond the ObjectMeta checks the framework runs.
pub fn validate_service(svc: &Service) -> ErrorList {
    with_spec(svc, |spec| validate_service_spec(svc, &spec))
}

fn validate_service_spec(svc: &Service, spec: &Spec) -> ErrorList {
    let mut errs = validate_topology_annotations(svc);
    errs.extend(validate_type_specifics(spec));
    errs.extend(validate_ports(spec));
    if let Some(selector) = &spec.0.selector {
        errs.extend(validate_labels(selector, &spec_path().child("selector")));
    }
    errs.extend(validate_session_affinity(spec));
    errs.extend(validate_cluster_ips_related_fields(spec));
    errs.extend(validate_external_ips(spec));
    errs.extend(validate_type(spec));
    errs.extend(validate_port_uniqueness(spec));
    errs.extend(validate_source_ranges(svc, spec));
    errs.extend(validate_allocate_node_ports(spec));
    errs.extend(validate_load_balancer_class(None, spec));
    errs.extend(validate_external_traffic_policy(spec));
    errs.extend(validate_internal_traffic_policy(spec));
    errs.extend(validate_traffic_distribution(spec));
    errs
}

/// `ValidateServiceUpdate`, beyond the ObjectMeta checks the framework runs.
pub fn validate_service_update(new: &Service, old: &Service) -> ErrorList {
    with_spec(new, |new_spec| {
        with_spec(old, |old_spec| {
            validate_update_specs(new, &new_spec, &old_spec)
        })
    })
}

fn validate_update_specs(new: &Service, new_spec: &Spec, old_spec: &Spec) -> ErrorList {
    let mut errs = validate_cluster_ips_change(new_spec, old_spec);
    errs.extend(validate_ip_families_change(new_spec, old_spec));
    errs.extend(validate_load_balancer_class(Some(old_spec), new_spec));
    if new_spec.needs_health_check()
        && old_spec.needs_health_check()
        && new_spec.0.health_check_node_port != old_spec.0.health_check_node_port
    {
        errs.push(FieldError::forbidden(
            spec_path().child("healthCheckNodePort"),
            "field is immutable",
        ));
    }
    errs.extend(validate_service_spec(new, new_spec));
    errs
}

/// The checks kube-apiserver's service storage makes before it allocates cluster IPs
/// (`initIPFamilyFields`) on a cluster whose only service CIDR is IPv4. Upstream answers with
/// these errors alone, before allocation and before [`validate_service`].
pub fn validate_ip_families(svc: &Service) -> ErrorList {
    with_spec(svc, |spec| validate_ip_families_of(&spec))
}

fn validate_ip_families_of(spec: &Spec) -> ErrorList {
    if spec.type_() == TYPE_EXTERNAL_NAME {
        return Vec::new();
    }
    let errs = validate_cluster_ips_related_fields(spec);
    if !errs.is_empty() {
        return errs;
    }
    let mut errs = validate_policy_against_values(spec);
    errs.extend(validate_cluster_ip_families(spec));
    if !errs.is_empty() || spec.is_headless_without_selector() {
        return errs;
    }
    if spec.0.ip_family_policy.as_deref() == Some(REQUIRE_DUAL_STACK) {
        errs.push(FieldError::invalid(
            spec_path().child("ipFamilyPolicy"),
            REQUIRE_DUAL_STACK,
            "this cluster is not configured for dual-stack services",
        ));
    }
    for (i, family) in spec.ip_families().iter().enumerate() {
        if family != IPV4 {
            errs.push(FieldError::invalid(
                spec_path().child("ipFamilies").index(i),
                family,
                "not configured on this cluster",
            ));
        }
    }
    errs
}

/// `ipFamilies` as kube-apiserver fills them in on an IPv4 single-stack cluster once
/// [`validate_ip_families`] passes: from the cluster IPs, else `[IPv4]`; a headless Service
/// without selector that is not `SingleStack` also gets `IPv6`, since its records come from
/// whatever endpoints it is given.
pub(crate) fn default_ip_families(spec: &mut ServiceSpec) {
    let mut families = spec.ip_families.take().unwrap_or_default();
    let headless_without_selector = Spec(spec).is_headless_without_selector();
    if !headless_without_selector {
        for (i, ip) in spec.cluster_ips.iter().flatten().enumerate() {
            if ip == CLUSTER_IP_NONE {
                break;
            }
            if i >= families.len() && !is_ipv6_string(ip) {
                families.push(IPV4.to_string());
            }
        }
    }
    if families.is_empty() {
        families.push(IPV4.to_string());
    }
    let single = spec.ip_family_policy.as_deref() == Some(SINGLE_STACK);
    if headless_without_selector && families.len() < 2 && !single {
        let other = if families[0] == IPV4 { IPV6 } else { IPV4 };
        families.push(other.to_string());
    }
    spec.ip_families = Some(families);
}

/// Before allocation on update: keep what was allocated when the client left it out
/// (`patchAllocatedValues`, which matches node ports by port *name*), then bring `clusterIPs`
/// in line with a changed `clusterIP` (`NormalizeClusterIPs`).
pub fn patch_update(new: &mut Service, old: &Service) {
    let old_spec = old.spec.clone().unwrap_or_default();
    let spec = new.spec.get_or_insert_with(Default::default);
    patch_allocated_values(spec, &old_spec);
    normalize_cluster_ips(spec, &old_spec);
}

/// After allocation on update (`PrepareForUpdate`): status stays the stored one, and fields the
/// new type has no use for are dropped when the client merely kept their old values.
pub fn prepare_update(new: &mut Service, old: &Service) {
    new.status = old.status.clone();
    let old_spec = old.spec.clone().unwrap_or_default();
    let spec = new.spec.get_or_insert_with(Default::default);
    drop_type_dependent_fields(spec, &old_spec);
    if spec.type_.as_deref() != Some(TYPE_LOAD_BALANCER) {
        if let Some(status) = new.status.as_mut() {
            status.load_balancer = Some(Default::default());
        }
    }
}

/// Warnings kube-apiserver 1.32 answers a Service write with (`GetWarningsForService`).
pub fn service_warnings(svc: &Service) -> Vec<String> {
    with_spec(svc, |spec| warnings_of(svc, &spec))
}

fn warnings_of(svc: &Service, spec: &Spec) -> Vec<String> {
    let mut warnings = Vec::new();
    if annotation(svc, ANNOTATION_TOPOLOGY_HINTS).is_some() {
        warnings.push(format!(
            "annotation {ANNOTATION_TOPOLOGY_HINTS} is deprecated, please use {ANNOTATION_TOPOLOGY_MODE} instead"
        ));
    }
    if !spec.cluster_ip().is_empty() && spec.cluster_ip() != CLUSTER_IP_NONE {
        for (i, ip) in spec.cluster_ips().iter().enumerate() {
            warnings.extend(super::network::ip_warnings(
                &spec_path().child("clusterIPs").index(i),
                ip,
            ));
        }
    }
    for (i, ip) in spec.external_ips().iter().enumerate() {
        warnings.extend(super::network::ip_warnings(
            &spec_path().child("externalIPs").index(i),
            ip,
        ));
    }
    if let Some(ip) = spec
        .0
        .load_balancer_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
    {
        warnings.extend(super::network::ip_warnings(
            &spec_path().child("loadBalancerIP"),
            ip,
        ));
    }
    for (i, cidr) in spec
        .0
        .load_balancer_source_ranges
        .iter()
        .flatten()
        .enumerate()
    {
        let path = spec_path().child("loadBalancerSourceRanges").index(i);
        warnings.extend(super::network::cidr_warnings(&path, cidr));
    }
    if spec.type_() == TYPE_EXTERNAL_NAME && !spec.external_ips().is_empty() {
        warnings.push("spec.externalIPs is ignored when spec.type is \"ExternalName\"".to_string());
    }
    let external_name = spec.0.external_name.as_deref().unwrap_or("");
    if spec.type_() != TYPE_EXTERNAL_NAME && !external_name.is_empty() {
        warnings.push(
            "spec.externalName is ignored when spec.type is not \"ExternalName\"".to_string(),
        );
    }
    warnings
}

/// Read access to a spec with upstream's zero values for absent fields.
struct Spec<'a>(&'a ServiceSpec);

/// Runs `f` on the Service's spec, or on an empty one (Go's zero value) when it has none.
fn with_spec<T>(svc: &Service, f: impl FnOnce(Spec) -> T) -> T {
    match &svc.spec {
        Some(spec) => f(Spec(spec)),
        None => f(Spec(&ServiceSpec::default())),
    }
}

impl<'a> Spec<'a> {
    fn type_(&self) -> &'a str {
        self.0.type_.as_deref().unwrap_or("")
    }

    fn cluster_ip(&self) -> &'a str {
        self.0.cluster_ip.as_deref().unwrap_or("")
    }

    fn cluster_ips(&self) -> &'a [String] {
        self.0.cluster_ips.as_deref().unwrap_or_default()
    }

    fn ip_families(&self) -> &'a [String] {
        self.0.ip_families.as_deref().unwrap_or_default()
    }

    fn external_ips(&self) -> &'a [String] {
        self.0.external_ips.as_deref().unwrap_or_default()
    }

    fn ports(&self) -> &'a [ServicePort] {
        self.0.ports.as_deref().unwrap_or_default()
    }

    fn external_traffic_policy(&self) -> &'a str {
        self.0.external_traffic_policy.as_deref().unwrap_or("")
    }

    /// `clusterIPs` is exactly `["None"]`.
    fn is_headless(&self) -> bool {
        self.cluster_ips() == [CLUSTER_IP_NONE]
    }

    fn is_headless_without_selector(&self) -> bool {
        self.cluster_ip() == CLUSTER_IP_NONE
            && self.0.selector.as_ref().is_none_or(BTreeMap::is_empty)
    }

    /// `apiservice.ExternallyAccessible`: reachable from outside through node ports, a load
    /// balancer or external IPs.
    fn externally_accessible(&self) -> bool {
        matches!(self.type_(), TYPE_LOAD_BALANCER | TYPE_NODE_PORT)
            || (self.type_() == TYPE_CLUSTER_IP && !self.external_ips().is_empty())
    }

    /// `apiservice.NeedsHealthCheck`.
    fn needs_health_check(&self) -> bool {
        self.type_() == TYPE_LOAD_BALANCER && self.external_traffic_policy() == "Local"
    }
}

/// Is `spec` one kube-apiserver gives traffic policies and node ports as `SetDefaults_Service`
/// and the strategy see it? (Shared with defaulting.)
pub(crate) fn externally_accessible(spec: &ServiceSpec) -> bool {
    Spec(spec).externally_accessible()
}

fn spec_path() -> Path {
    Path::new("spec")
}

fn annotation<'a>(svc: &'a Service, key: &str) -> Option<&'a str> {
    svc.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

fn validate_topology_annotations(svc: &Service) -> ErrorList {
    match (
        annotation(svc, ANNOTATION_TOPOLOGY_HINTS),
        annotation(svc, ANNOTATION_TOPOLOGY_MODE),
    ) {
        (Some(hints), Some(mode)) if hints != mode => vec![FieldError::invalid(
            Path::new("metadata")
                .child("annotations")
                .key(ANNOTATION_TOPOLOGY_MODE),
            mode,
            format!("must match annotations[{ANNOTATION_TOPOLOGY_HINTS}] when both are specified"),
        )],
        _ => Vec::new(),
    }
}

/// Ports are required unless headless or ExternalName; per type, what `clusterIPs`,
/// `ipFamilies` and `externalName` may hold.
fn validate_type_specifics(spec: &Spec) -> ErrorList {
    let mut errs = Vec::new();
    if spec.ports().is_empty() && !spec.is_headless() && spec.type_() != TYPE_EXTERNAL_NAME {
        errs.push(FieldError::required(spec_path().child("ports"), ""));
    }
    match spec.type_() {
        t @ (TYPE_LOAD_BALANCER | TYPE_NODE_PORT) if spec.is_headless() => {
            errs.push(FieldError::invalid(
                spec_path().child("clusterIPs").index(0),
                CLUSTER_IP_NONE,
                format!("may not be set to 'None' for {t} services"),
            ));
        }
        TYPE_EXTERNAL_NAME => errs.extend(validate_external_name(spec)),
        _ => {}
    }
    errs
}

fn validate_external_name(spec: &Spec) -> ErrorList {
    let mut errs = Vec::new();
    let forbidden = "may not be set for ExternalName services";
    if !spec.cluster_ips().is_empty() {
        errs.push(FieldError::forbidden(
            spec_path().child("clusterIPs"),
            forbidden,
        ));
    }
    if !spec.ip_families().is_empty() {
        errs.push(FieldError::forbidden(
            spec_path().child("ipFamilies"),
            forbidden,
        ));
    }
    if spec.0.ip_family_policy.is_some() {
        errs.push(FieldError::forbidden(
            spec_path().child("ipFamilyPolicy"),
            forbidden,
        ));
    }
    // The value is a CNAME and may end in a dot to mark it fully qualified.
    let external_name = spec.0.external_name.as_deref().unwrap_or("");
    let cname = external_name.strip_suffix('.').unwrap_or(external_name);
    if cname.is_empty() {
        errs.push(FieldError::required(spec_path().child("externalName"), ""));
    } else {
        errs.extend(validate_dns1123_subdomain(
            &spec_path().child("externalName"),
            cname,
        ));
    }
    errs
}

fn validate_ports(spec: &Spec) -> ErrorList {
    let require_name = spec.ports().len() > 1;
    let mut names = HashSet::new();
    let path = spec_path().child("ports");
    spec.ports()
        .iter()
        .enumerate()
        .flat_map(|(i, port)| validate_port(port, require_name, &mut names, &path.index(i)))
        .collect()
}

/// `validateServicePort`.
fn validate_port<'a>(
    port: &'a ServicePort,
    require_name: bool,
    names: &mut HashSet<&'a str>,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let name = port.name.as_deref().unwrap_or("");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    } else if !name.is_empty() {
        errs.extend(validate_dns1123_label(&path.child("name"), name));
        if !names.insert(name) {
            errs.push(FieldError::duplicate(path.child("name"), name));
        }
    }
    for msg in port_num_errors(i64::from(port.port)) {
        errs.push(FieldError::invalid(path.child("port"), port.port, msg));
    }
    errs.extend(validate_protocol(
        &path.child("protocol"),
        port.protocol.as_deref(),
    ));
    let target = port.target_port.clone().unwrap_or(IntOrString::Int(0));
    errs.extend(validate_port_num_or_name(
        &path.child("targetPort"),
        &target,
    ));
    if let Some(app_protocol) = &port.app_protocol {
        errs.extend(validate_qualified_name(
            &path.child("appProtocol"),
            app_protocol,
        ));
    }
    errs
}

fn validate_session_affinity(spec: &Spec) -> ErrorList {
    let path = spec_path().child("sessionAffinity");
    let affinity = spec.0.session_affinity.as_deref().unwrap_or("");
    let mut errs = Vec::new();
    if affinity.is_empty() {
        errs.push(FieldError::required(&path, ""));
    } else if !SESSION_AFFINITIES.contains(&affinity) {
        errs.push(FieldError::not_supported(
            &path,
            affinity,
            SESSION_AFFINITIES,
        ));
    }
    let config_path = spec_path().child("sessionAffinityConfig");
    match affinity {
        "ClientIP" => errs.extend(validate_client_ip_config(spec, &config_path)),
        "None" if spec.0.session_affinity_config.is_some() => errs.push(FieldError::forbidden(
            config_path,
            "must not be set when session affinity is None",
        )),
        _ => {}
    }
    errs
}

fn validate_client_ip_config(spec: &Spec, path: &Path) -> ErrorList {
    let detail = "when session affinity type is ClientIP";
    let Some(config) = &spec.0.session_affinity_config else {
        return vec![FieldError::required(path, detail)];
    };
    let Some(client_ip) = &config.client_ip else {
        return vec![FieldError::required(path.child("clientIP"), detail)];
    };
    let timeout_path = path.child("clientIP").child("timeoutSeconds");
    match client_ip.timeout_seconds {
        None => vec![FieldError::required(timeout_path, detail)],
        Some(t) if t <= 0 || t > MAX_CLIENT_IP_AFFINITY_SECONDS => vec![FieldError::invalid(
            timeout_path,
            t,
            format!("must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}"),
        )],
        Some(_) => Vec::new(),
    }
}

/// `ValidateServiceClusterIPsRelatedFields`: `clusterIP`, `clusterIPs`, `ipFamilies` and
/// `ipFamilyPolicy` each well formed and consistent with one another.
fn validate_cluster_ips_related_fields(spec: &Spec) -> ErrorList {
    if spec.type_() == TYPE_EXTERNAL_NAME {
        return Vec::new();
    }
    let ips_path = spec_path().child("clusterIPs");
    let ips = spec.cluster_ips();
    let ips_value = || go_string_slice("[]string", spec.0.cluster_ips.as_deref());
    let mut errs = Vec::new();
    if !spec.cluster_ip().is_empty() {
        if ips.is_empty() {
            errs.push(FieldError::required(&ips_path, ""));
        } else if ips[0] != spec.cluster_ip() {
            errs.push(FieldError::invalid(
                &ips_path,
                ips_value(),
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errs.push(FieldError::invalid(
            &ips_path,
            ips_value(),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    errs.extend(validate_ip_family_values(spec));
    let mut has_invalid_ips = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == CLUSTER_IP_NONE {
            if ips.len() > 1 {
                has_invalid_ips = true;
                errs.push(FieldError::invalid(
                    &ips_path,
                    ips_value(),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let ip_errs = validate_ip(&ips_path.index(i), ip);
        has_invalid_ips |= !ip_errs.is_empty();
        errs.extend(ip_errs);
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(
            &ips_path,
            ips_value(),
            "may only hold up to 2 values",
        ));
    }
    // Invalid IPs would skew the family checks below, so upstream stops here.
    if has_invalid_ips {
        return errs;
    }
    if ips.len() > 1 && !is_dual_stack(ips) {
        errs.push(FieldError::invalid(
            &ips_path,
            ips_value(),
            "may specify no more than one IP for each IP family",
        ));
    }
    if !spec.is_headless() {
        for (i, (ip, family)) in ips.iter().zip(spec.ip_families()).enumerate() {
            let expected = match (family.as_str(), is_ipv6_string(ip)) {
                (IPV4, true) => IPV4,
                (IPV6, false) => IPV6,
                _ => continue,
            };
            errs.push(FieldError::invalid(
                ips_path.index(i),
                ip,
                format!("expected an {expected} value as indicated by `ipFamilies[{i}]`"),
            ));
        }
    }
    errs
}

fn validate_ip_family_values(spec: &Spec) -> ErrorList {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, family) in spec.ip_families().iter().enumerate() {
        let path = spec_path().child("ipFamilies").index(i);
        if !IP_FAMILIES.contains(&family.as_str()) {
            errs.push(FieldError::not_supported(&path, family, IP_FAMILIES));
        }
        if !seen.insert(family) {
            errs.push(FieldError::duplicate(&path, family));
        }
    }
    if let Some(policy) = &spec.0.ip_family_policy {
        if !IP_FAMILY_POLICIES.contains(&policy.as_str()) {
            errs.push(FieldError::not_supported(
                spec_path().child("ipFamilyPolicy"),
                policy,
                IP_FAMILY_POLICIES,
            ));
        }
    }
    errs
}

/// Two IPs, one of each family (`netutils.IsDualStackIPStrings`).
fn is_dual_stack(ips: &[String]) -> bool {
    ips.len() == 2 && is_ipv6_string(&ips[0]) != is_ipv6_string(&ips[1])
}

/// `SingleStack` with two IPs or two families is a contradiction.
fn validate_policy_against_values(spec: &Spec) -> ErrorList {
    let mut errs = Vec::new();
    let Some(policy) = spec
        .0
        .ip_family_policy
        .as_deref()
        .filter(|p| *p == SINGLE_STACK)
    else {
        return errs;
    };
    let path = spec_path().child("ipFamilyPolicy");
    if spec.cluster_ips().len() == 2 {
        errs.push(FieldError::invalid(
            &path,
            policy,
            "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
        ));
    }
    if spec.ip_families().len() == 2 {
        errs.push(FieldError::invalid(
            &path,
            policy,
            "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
        ));
    }
    errs
}

/// Cluster IPs beyond the given families must be of a family the cluster has (IPv4).
fn validate_cluster_ip_families(spec: &Spec) -> ErrorList {
    let mut families = spec.ip_families().len();
    let mut errs = Vec::new();
    for (i, ip) in spec.cluster_ips().iter().enumerate() {
        if ip == CLUSTER_IP_NONE {
            break;
        }
        if i < families {
            continue;
        }
        if is_ipv6_string(ip) {
            errs.push(FieldError::invalid(
                spec_path().child("clusterIPs").index(i),
                go_string_slice("[]string", spec.0.cluster_ips.as_deref()),
                "IPv6 is not configured on this cluster",
            ));
        } else {
            families += 1;
        }
    }
    errs
}

fn validate_external_ips(spec: &Spec) -> ErrorList {
    let path = spec_path().child("externalIPs");
    let mut errs = Vec::new();
    for (i, ip) in spec.external_ips().iter().enumerate() {
        let ip_errs = validate_ip(&path.index(i), ip);
        if ip_errs.is_empty() {
            errs.extend(validate_non_special_ip(&path.index(i), ip));
        } else {
            errs.extend(ip_errs);
        }
    }
    errs
}

fn validate_type(spec: &Spec) -> ErrorList {
    let path = spec_path().child("type");
    let mut errs = match spec.type_() {
        "" => vec![FieldError::required(&path, "")],
        t if SERVICE_TYPES.contains(&t) => Vec::new(),
        t => vec![FieldError::not_supported(&path, t, SERVICE_TYPES)],
    };
    if spec.type_() == TYPE_CLUSTER_IP {
        for (i, port) in spec.ports().iter().enumerate() {
            if port.node_port.unwrap_or(0) != 0 {
                errs.push(FieldError::forbidden(
                    spec_path().child("ports").index(i).child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    errs
}

/// No two ports share a node port or a port number for one protocol.
fn validate_port_uniqueness(spec: &Spec) -> ErrorList {
    let path = spec_path().child("ports");
    let mut errs = Vec::new();
    let mut node_ports = HashSet::new();
    for (i, port) in spec.ports().iter().enumerate() {
        let node_port = port.node_port.unwrap_or(0);
        if node_port != 0 && !node_ports.insert((port.protocol.as_deref().unwrap_or(""), node_port))
        {
            errs.push(FieldError::duplicate(
                path.index(i).child("nodePort"),
                node_port,
            ));
        }
    }
    let mut ports = HashSet::new();
    for (i, port) in spec.ports().iter().enumerate() {
        let protocol = port.protocol.as_deref().unwrap_or("");
        if !ports.insert((protocol, port.port)) {
            errs.push(FieldError::duplicate(
                path.index(i),
                duplicate_port_value(protocol, port.port),
            ));
        }
    }
    errs
}

/// The `core.ServicePort{Protocol, Port}` key upstream reports a duplicate with, as Go's `%#v`
/// prints it.
fn duplicate_port_value(protocol: &str, port: i32) -> BadValue {
    BadValue::Raw(format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
        go_quote(protocol)
    ))
}

/// `loadBalancerSourceRanges` (or the older annotation) are CIDRs, for LoadBalancers only.
fn validate_source_ranges(svc: &Service, spec: &Spec) -> ErrorList {
    let only_lb = "may only be used when `type` is 'LoadBalancer'";
    let mut errs = Vec::new();
    let ranges = spec
        .0
        .load_balancer_source_ranges
        .as_deref()
        .unwrap_or_default();
    if !ranges.is_empty() {
        // Upstream's path really is capitalised here.
        let path = spec_path().child("LoadBalancerSourceRanges");
        if spec.type_() != TYPE_LOAD_BALANCER {
            errs.push(FieldError::forbidden(&path, only_lb));
        }
        for (i, range) in ranges.iter().enumerate() {
            // Space padding is tolerated, a leftover of the annotation days.
            errs.extend(validate_cidr(&path.index(i), range.trim()));
        }
    } else if let Some(value) = annotation(svc, ANNOTATION_SOURCE_RANGES) {
        let path = Path::new("metadata")
            .child("annotations")
            .key(ANNOTATION_SOURCE_RANGES);
        if spec.type_() != TYPE_LOAD_BALANCER {
            errs.push(FieldError::forbidden(&path, only_lb));
        }
        let value = value.trim();
        if !value.is_empty() {
            for range in value.split(',') {
                errs.extend(validate_cidr(&path, range.trim()));
            }
        }
    }
    errs
}

fn validate_allocate_node_ports(spec: &Spec) -> ErrorList {
    let set = spec.0.allocate_load_balancer_node_ports.is_some();
    match (spec.type_() == TYPE_LOAD_BALANCER, set) {
        (false, true) => vec![FieldError::forbidden(
            spec_path().child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        )],
        // Upstream's path lacks the `spec.` here.
        (true, false) => vec![FieldError::required("allocateLoadBalancerNodePorts", "")],
        _ => Vec::new(),
    }
}

/// `validateLoadBalancerClassField`: a qualified name, LoadBalancers only, fixed once set.
fn validate_load_balancer_class(old: Option<&Spec>, spec: &Spec) -> ErrorList {
    let path = spec_path().child("loadBalancerClass");
    let class = spec.0.load_balancer_class.as_deref();
    let is_lb = spec.type_() == TYPE_LOAD_BALANCER;
    let mut errs = Vec::new();
    if let Some(old) = old {
        if is_lb
            && old.type_() == TYPE_LOAD_BALANCER
            && old.0.load_balancer_class.as_deref() != class
        {
            errs.push(FieldError::invalid(
                &path,
                go_optional_string(class),
                "may not change once set",
            ));
        }
    }
    match class {
        Some(class) if is_lb => errs.extend(validate_qualified_name(&path, class)),
        Some(_) => errs.push(FieldError::forbidden(
            &path,
            "may only be used when `type` is 'LoadBalancer'",
        )),
        None => {}
    }
    errs
}

fn validate_external_traffic_policy(spec: &Spec) -> ErrorList {
    let mut errs = Vec::new();
    let etp_path = spec_path().child("externalTrafficPolicy");
    let etp = spec.external_traffic_policy();
    if !spec.externally_accessible() {
        if !etp.is_empty() {
            errs.push(FieldError::invalid(
                &etp_path,
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(FieldError::required(&etp_path, ""));
    } else if !TRAFFIC_POLICIES.contains(&etp) {
        errs.push(FieldError::not_supported(&etp_path, etp, TRAFFIC_POLICIES));
    }
    let hc_path = spec_path().child("healthCheckNodePort");
    let hc = spec.0.health_check_node_port.unwrap_or(0);
    if !spec.needs_health_check() {
        if hc != 0 {
            errs.push(FieldError::invalid(
                &hc_path,
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hc == 0 {
        errs.push(FieldError::required(&hc_path, ""));
    } else {
        for msg in port_num_errors(i64::from(hc)) {
            errs.push(FieldError::invalid(&hc_path, hc, msg));
        }
    }
    errs
}

fn validate_internal_traffic_policy(spec: &Spec) -> ErrorList {
    let path = spec_path().child("internalTrafficPolicy");
    match spec.0.internal_traffic_policy.as_deref() {
        // Not required for ExternalName: the check came after the field went beta.
        None if matches!(
            spec.type_(),
            TYPE_CLUSTER_IP | TYPE_NODE_PORT | TYPE_LOAD_BALANCER
        ) =>
        {
            vec![FieldError::required(path, "")]
        }
        Some(p) if !TRAFFIC_POLICIES.contains(&p) => {
            vec![FieldError::not_supported(path, p, TRAFFIC_POLICIES)]
        }
        _ => Vec::new(),
    }
}

fn validate_traffic_distribution(spec: &Spec) -> ErrorList {
    match spec.0.traffic_distribution.as_deref() {
        Some(d) if !TRAFFIC_DISTRIBUTIONS.contains(&d) => vec![FieldError::not_supported(
            spec_path().child("trafficDistribution"),
            d,
            TRAFFIC_DISTRIBUTIONS,
        )],
        _ => Vec::new(),
    }
}

/// `validateUpgradeDowngradeClusterIPs`: the primary cluster IP never changes, except to or
/// from ExternalName or between headless forms.
fn validate_cluster_ips_change(new: &Spec, old: &Spec) -> ErrorList {
    if new.type_() == TYPE_EXTERNAL_NAME || old.type_() == TYPE_EXTERNAL_NAME {
        return Vec::new();
    }
    if new.is_headless() && old.is_headless() {
        return Vec::new();
    }
    let (new_ips, old_ips) = (new.cluster_ips(), old.cluster_ips());
    let path = spec_path().child("clusterIPs");
    let value = || go_string_slice("[]string", new.0.cluster_ips.as_deref());
    let mut errs = Vec::new();
    if new_ips.len() == old_ips.len() {
        for (i, (a, b)) in old_ips.iter().zip(new_ips).enumerate() {
            if a != b {
                errs.push(FieldError::invalid(
                    path.index(i),
                    value(),
                    "may not change once set",
                ));
            }
        }
    } else if old_ips.len() > new_ips.len() {
        if new_ips.is_empty() {
            errs.push(FieldError::invalid(
                path.index(0),
                value(),
                "primary clusterIP can not be unset",
            ));
        }
        if !old_ips.is_empty() && !new_ips.is_empty() && new_ips[0] != old_ips[0] {
            errs.push(FieldError::invalid(
                path.index(0),
                value(),
                "may not change once set",
            ));
        }
        if new_ips.len() == 1 && new.0.ip_family_policy.as_deref() != Some(SINGLE_STACK) {
            errs.push(FieldError::invalid(
                spec_path().child("ipFamilyPolicy"),
                go_optional_string(new.0.ip_family_policy.as_deref()),
                "must be set to 'SingleStack' when releasing the secondary clusterIP",
            ));
        }
    } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
        errs.push(FieldError::invalid(
            path.index(0),
            value(),
            "may not change once set",
        ));
    }
    errs
}

/// `validateUpgradeDowngradeIPFamilies`: the primary family never changes (headless Services
/// excepted).
fn validate_ip_families_change(new: &Spec, old: &Spec) -> ErrorList {
    if new.type_() == TYPE_EXTERNAL_NAME || old.type_() == TYPE_EXTERNAL_NAME {
        return Vec::new();
    }
    if new.is_headless() || old.is_headless() {
        return Vec::new();
    }
    let (new_f, old_f) = (new.ip_families(), old.ip_families());
    let path = spec_path().child("ipFamilies").index(0);
    let families = || go_string_slice("[]core.IPFamily", new.0.ip_families.as_deref());
    // Upstream reports some of these with the cluster IPs as the value.
    let ips = || go_string_slice("[]string", new.0.cluster_ips.as_deref());
    let mut errs = Vec::new();
    if new_f.len() == old_f.len() {
        for (a, b) in old_f.iter().zip(new_f) {
            if a != b {
                errs.push(FieldError::invalid(
                    &path,
                    families(),
                    "may not change once set",
                ));
            }
        }
    } else if old_f.len() > new_f.len() {
        if new.cluster_ips().is_empty() {
            errs.push(FieldError::invalid(
                &path,
                families(),
                "primary ipFamily can not be unset",
            ));
        }
        if !new_f.is_empty() && new_f[0] != old_f[0] {
            errs.push(FieldError::invalid(&path, ips(), "may not change once set"));
        }
        if new_f.len() == 1 && new.0.ip_family_policy.as_deref() != Some(SINGLE_STACK) {
            errs.push(FieldError::invalid(
                spec_path().child("ipFamilyPolicy"),
                go_optional_string(new.0.ip_family_policy.as_deref()),
                "must be set to 'SingleStack' when releasing the secondary ipFamily",
            ));
        }
    } else if !old_f.is_empty() && !new_f.is_empty() && new_f[0] != old_f[0] {
        errs.push(FieldError::invalid(&path, ips(), "may not change once set"));
    }
    errs
}

fn needs_cluster_ip(spec: &ServiceSpec) -> bool {
    spec.type_.as_deref() != Some(TYPE_EXTERNAL_NAME)
}

fn needs_node_port(spec: &ServiceSpec) -> bool {
    matches!(
        spec.type_.as_deref(),
        Some(TYPE_NODE_PORT | TYPE_LOAD_BALANCER)
    )
}

fn needs_health_check_node_port(spec: &ServiceSpec) -> bool {
    Spec(spec).needs_health_check()
}

fn node_ports(spec: &ServiceSpec) -> BTreeSet<i32> {
    spec.ports
        .iter()
        .flatten()
        .filter_map(|p| p.node_port.filter(|&n| n != 0))
        .collect()
}

fn patch_allocated_values(spec: &mut ServiceSpec, old: &ServiceSpec) {
    if needs_cluster_ip(old) && needs_cluster_ip(spec) {
        if spec.cluster_ip.as_deref().unwrap_or("").is_empty() {
            spec.cluster_ip.clone_from(&old.cluster_ip);
        }
        if spec.cluster_ips.as_ref().is_none_or(Vec::is_empty)
            && old.cluster_ips.as_ref().is_some_and(|v| !v.is_empty())
        {
            spec.cluster_ips.clone_from(&old.cluster_ips);
        }
    }
    if needs_node_port(old) && needs_node_port(spec) {
        // Node ports both objects name are the user's own choice and cannot be patched in.
        let used: BTreeSet<i32> = node_ports(old)
            .intersection(&node_ports(spec))
            .copied()
            .collect();
        let by_name: BTreeMap<&str, i32> = old
            .ports
            .iter()
            .flatten()
            .map(|p| (p.name.as_deref().unwrap_or(""), p.node_port.unwrap_or(0)))
            .collect();
        for port in spec.ports.iter_mut().flatten() {
            if port.node_port.unwrap_or(0) == 0 {
                let old_value = by_name
                    .get(port.name.as_deref().unwrap_or(""))
                    .copied()
                    .unwrap_or(0);
                if old_value != 0 && !used.contains(&old_value) {
                    port.node_port = Some(old_value);
                }
            }
        }
    }
    if needs_health_check_node_port(old)
        && needs_health_check_node_port(spec)
        && spec.health_check_node_port.unwrap_or(0) == 0
    {
        spec.health_check_node_port = old.health_check_node_port;
    }
}

fn normalize_cluster_ips(spec: &mut ServiceSpec, old: &ServiceSpec) {
    let old_ip = old.cluster_ip.as_deref().unwrap_or("");
    let old_ips = old.cluster_ips.as_deref().unwrap_or_default();
    // An old client that patches other fields leaves clusterIPs out.
    if !old_ips.is_empty()
        && spec.cluster_ips.as_ref().is_none_or(Vec::is_empty)
        && spec.cluster_ip.as_deref().unwrap_or("") == old_ip
    {
        spec.cluster_ips = Some(old_ips.to_vec());
    }
    let new_ip = spec.cluster_ip.clone().unwrap_or_default();
    let same_plural = spec.cluster_ips.as_deref().unwrap_or_default() == old_ips;
    if new_ip != old_ip && same_plural {
        spec.cluster_ips = if new_ip.is_empty() {
            None
        } else {
            Some(vec![new_ip])
        };
    }
}

/// `dropTypeDependentFields`: wipe what the new type does not use when the client only kept
/// the old value (a changed value is the client's intent, and validation judges it).
fn drop_type_dependent_fields(spec: &mut ServiceSpec, old: &ServiceSpec) {
    if needs_cluster_ip(old) && !needs_cluster_ip(spec) {
        if spec.cluster_ip == old.cluster_ip && spec.cluster_ips == old.cluster_ips {
            spec.cluster_ip = None;
            spec.cluster_ips = None;
        }
        if spec.ip_families == old.ip_families {
            spec.ip_families = None;
        }
        if spec.ip_family_policy == old.ip_family_policy {
            spec.ip_family_policy = None;
        }
    }
    if needs_node_port(old)
        && !needs_node_port(spec)
        && node_ports(spec).is_subset(&node_ports(old))
    {
        for port in spec.ports.iter_mut().flatten() {
            port.node_port = None;
        }
    }
    if needs_health_check_node_port(old)
        && !needs_health_check_node_port(spec)
        && spec.health_check_node_port == old.health_check_node_port
    {
        spec.health_check_node_port = None;
    }
    let was_lb = old.type_.as_deref() == Some(TYPE_LOAD_BALANCER);
    let is_lb = spec.type_.as_deref() == Some(TYPE_LOAD_BALANCER);
    if was_lb && !is_lb {
        if spec.allocate_load_balancer_node_ports.is_some()
            && spec.allocate_load_balancer_node_ports == old.allocate_load_balancer_node_ports
        {
            spec.allocate_load_balancer_node_ports = None;
        }
        if spec.load_balancer_class == old.load_balancer_class {
            spec.load_balancer_class = None;
        }
    }
    if Spec(old).externally_accessible()
        && !Spec(spec).externally_accessible()
        && spec.external_traffic_policy == old.external_traffic_policy
    {
        spec.external_traffic_policy = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> ServiceSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn families_come_from_cluster_ips_or_the_cluster() {
        let mut s = spec(
            serde_json::json!({"clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5"], "ipFamilyPolicy": "SingleStack"}),
        );
        default_ip_families(&mut s);
        assert_eq!(s.ip_families, Some(vec![IPV4.to_string()]));
        let mut s = spec(
            serde_json::json!({"clusterIP": "None", "clusterIPs": ["None"], "ipFamilyPolicy": "RequireDualStack"}),
        );
        default_ip_families(&mut s);
        assert_eq!(
            s.ip_families,
            Some(vec![IPV4.to_string(), IPV6.to_string()])
        );
        let mut s = spec(
            serde_json::json!({"clusterIP": "None", "selector": {"app": "x"}, "ipFamilyPolicy": "SingleStack"}),
        );
        default_ip_families(&mut s);
        assert_eq!(s.ip_families, Some(vec![IPV4.to_string()]));
    }

    #[test]
    fn update_patches_allocated_values_by_port_name() {
        let old = spec(serde_json::json!({
            "type": "NodePort", "clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5"],
            "ports": [{"name": "http", "port": 80, "nodePort": 30080}, {"name": "https", "port": 443, "nodePort": 30443}]
        }));
        let mut new = spec(serde_json::json!({
            "type": "NodePort",
            "ports": [{"name": "https", "port": 8443}, {"name": "http", "port": 80, "nodePort": 30443}]
        }));
        patch_allocated_values(&mut new, &old);
        normalize_cluster_ips(&mut new, &old);
        assert_eq!(new.cluster_ip.as_deref(), Some("10.96.0.5"));
        assert_eq!(new.cluster_ips, Some(vec!["10.96.0.5".to_string()]));
        // 30443 is taken by the user for "http", so "https" gets nothing patched in.
        let got: Vec<Option<i32>> = new.ports.iter().flatten().map(|p| p.node_port).collect();
        assert_eq!(got, vec![None, Some(30443)]);
    }

    #[test]
    fn a_changed_cluster_ip_drags_cluster_ips_along() {
        let old = spec(serde_json::json!({"clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5"]}));
        let mut new =
            spec(serde_json::json!({"clusterIP": "10.96.0.6", "clusterIPs": ["10.96.0.5"]}));
        normalize_cluster_ips(&mut new, &old);
        assert_eq!(new.cluster_ips, Some(vec!["10.96.0.6".to_string()]));
    }

    #[test]
    fn leaving_node_port_drops_what_was_only_kept() {
        let old = spec(serde_json::json!({
            "type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000,
            "allocateLoadBalancerNodePorts": true, "ports": [{"port": 80, "nodePort": 30080}]
        }));
        let mut new = old.clone();
        new.type_ = Some(TYPE_CLUSTER_IP.to_string());
        drop_type_dependent_fields(&mut new, &old);
        assert_eq!(new.external_traffic_policy, None);
        assert_eq!(new.health_check_node_port, None);
        assert_eq!(new.allocate_load_balancer_node_ports, None);
        assert_eq!(new.ports.unwrap()[0].node_port, None);
    }
}
