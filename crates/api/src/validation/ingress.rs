//! Ingress and IngressClass validation as kube-apiserver 1.32 runs it for networking.k8s.io/v1
//! (`ValidateIngressCreate`, `ValidateIngressUpdate`, `ValidateIngressClass`).

use k8s_openapi::api::core::v1::TypedLocalObjectReference;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, Ingress, IngressBackend, IngressClass, IngressClassParametersReference,
    IngressRule, IngressSpec,
};

use super::names;
use super::network::{
    dns1123_label_errors, parse_ip_sloppy, port_name_errors, port_num_errors,
    validate_domain_prefixed_path, wildcard_dns1123_subdomain_errors,
};
use crate::field::{BadValue, ErrorList, FieldError, Path};

/// The annotation that named an Ingress's class before `spec.ingressClassName`.
pub(crate) const ANNOTATION_INGRESS_CLASS: &str = "kubernetes.io/ingress.class";
const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];
const INVALID_PATH_SEQUENCES: &[&str] = &["//", "/./", "/../", "%2f", "%2F"];
const INVALID_PATH_SUFFIXES: &[&str] = &["/..", "/."];
const PARAMETER_SCOPES: &[&str] = &["Cluster", "Namespace"];
const MAX_CONTROLLER_LENGTH: usize = 250;

/// Rules an update may keep breaking because the stored object already broke them.
#[derive(Clone, Copy, Default)]
struct Leniency {
    invalid_secret_names: bool,
    invalid_wildcard_host_rules: bool,
}

/// `ValidateIngressCreate`, beyond the ObjectMeta checks.
pub fn validate_ingress(ingress: &Ingress) -> ErrorList {
    let mut errs = validate_spec(ingress, Leniency::default());
    let annotation = ingress
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_INGRESS_CLASS));
    let class_name = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_ref());
    if let (Some(annotation), Some(class_name)) = (annotation, class_name) {
        if annotation != class_name {
            errs.push(FieldError::invalid(
                // Upstream's path, without `metadata.`.
                Path::new("annotations").child(ANNOTATION_INGRESS_CLASS),
                annotation,
                "must match `ingressClassName` when both are specified",
            ));
        }
    }
    errs
}

/// `ValidateIngressUpdate`: as on create, but invalid TLS secret names and rules under
/// wildcard hosts the stored object already had stay allowed.
pub fn validate_ingress_update(new: &Ingress, old: &Ingress) -> ErrorList {
    let old_spec = old.spec.as_ref();
    let tls = old_spec.and_then(|s| s.tls.as_ref()).into_iter().flatten();
    let rules = old_spec
        .and_then(|s| s.rules.as_ref())
        .into_iter()
        .flatten();
    let leniency = Leniency {
        invalid_secret_names: tls
            .map(|t| t.secret_name.as_deref().unwrap_or(""))
            .any(|name| !secret_name_errors(name).is_empty()),
        invalid_wildcard_host_rules: rules.into_iter().any(|rule| {
            rule.host.as_deref().unwrap_or("").contains('*')
                && !validate_rule_value(rule, &Path::default()).is_empty()
        }),
    };
    validate_spec(new, leniency)
}

fn validate_spec(ingress: &Ingress, leniency: Leniency) -> ErrorList {
    let path = Path::new("spec");
    let default = IngressSpec::default();
    let spec = ingress.spec.as_ref().unwrap_or(&default);
    let rules = spec.rules.as_deref().unwrap_or_default();
    let mut errs = Vec::new();
    if rules.is_empty() && spec.default_backend.is_none() {
        let shown = match &spec.rules {
            None => "[]networking.IngressRule(nil)",
            Some(_) => "[]networking.IngressRule{}",
        };
        errs.push(FieldError::invalid(
            &path,
            BadValue::Raw(shown.to_string()),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(backend) = &spec.default_backend {
        errs.extend(validate_backend(backend, &path.child("defaultBackend")));
    }
    for (i, rule) in rules.iter().enumerate() {
        errs.extend(validate_rule(rule, &path.child("rules").index(i), leniency));
    }
    errs.extend(validate_tls(spec, &path.child("tls"), leniency));
    if let Some(class_name) = &spec.ingress_class_name {
        for msg in names::dns1123_subdomain(class_name) {
            errs.push(FieldError::invalid(
                path.child("ingressClassName"),
                class_name,
                msg,
            ));
        }
    }
    errs
}

fn validate_rule(rule: &IngressRule, path: &Path, leniency: Leniency) -> ErrorList {
    let mut errs = Vec::new();
    let host = rule.host.as_deref().unwrap_or("");
    let wildcard = host.contains('*');
    if !host.is_empty() {
        let host_path = path.child("host");
        if parse_ip_sloppy(host).is_some() {
            errs.push(FieldError::invalid(
                &host_path,
                host,
                "must be a DNS name, not an IP address",
            ));
        }
        let msgs = if wildcard {
            wildcard_dns1123_subdomain_errors(host)
        } else {
            names::dns1123_subdomain(host)
        };
        errs.extend(
            msgs.into_iter()
                .map(|msg| FieldError::invalid(&host_path, host, msg)),
        );
    }
    if !wildcard || !leniency.invalid_wildcard_host_rules {
        errs.extend(validate_rule_value(rule, path));
    }
    errs
}

fn validate_rule_value(rule: &IngressRule, path: &Path) -> ErrorList {
    let Some(http) = &rule.http else {
        return Vec::new();
    };
    let path = path.child("http");
    let mut errs = Vec::new();
    if http.paths.is_empty() {
        errs.push(FieldError::required(path.child("paths"), ""));
    }
    for (i, p) in http.paths.iter().enumerate() {
        errs.extend(validate_http_path(p, &path.child("paths").index(i)));
    }
    errs
}

/// `validateHTTPIngressPath`: a path type, a path that suits it, and a backend.
fn validate_http_path(http_path: &HTTPIngressPath, path: &Path) -> ErrorList {
    if http_path.path_type.is_empty() {
        return vec![FieldError::required(
            path.child("pathType"),
            "pathType must be specified",
        )];
    }
    let mut errs = Vec::new();
    let value = http_path.path.as_deref().unwrap_or("");
    let path_field = path.child("path");
    match http_path.path_type.as_str() {
        "Exact" | "Prefix" => {
            if !value.starts_with('/') {
                errs.push(FieldError::invalid(
                    &path_field,
                    value,
                    "must be an absolute path",
                ));
            }
            for seq in INVALID_PATH_SEQUENCES.iter().filter(|s| value.contains(*s)) {
                errs.push(FieldError::invalid(
                    &path_field,
                    value,
                    format!("must not contain '{seq}'"),
                ));
            }
            for suffix in INVALID_PATH_SUFFIXES.iter().filter(|s| value.ends_with(*s)) {
                errs.push(FieldError::invalid(
                    &path_field,
                    value,
                    format!("cannot end with '{suffix}'"),
                ));
            }
        }
        "ImplementationSpecific" => {
            if !value.is_empty() && !value.starts_with('/') {
                errs.push(FieldError::invalid(
                    &path_field,
                    value,
                    "must be an absolute path",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            path.child("pathType"),
            other,
            PATH_TYPES,
        )),
    }
    errs.extend(validate_backend(&http_path.backend, &path.child("backend")));
    errs
}

/// `validateIngressBackend`: exactly one of a resource or a Service with a port name or number.
fn validate_backend(backend: &IngressBackend, path: &Path) -> ErrorList {
    match (&backend.resource, &backend.service) {
        (Some(_), Some(_)) => vec![FieldError::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        )],
        (Some(resource), None) => {
            validate_local_object_reference(resource, &path.child("resource"))
        }
        (None, Some(service)) => {
            let mut errs = Vec::new();
            let name_path = path.child("service").child("name");
            if service.name.is_empty() {
                errs.push(FieldError::required(&name_path, ""));
            } else {
                for msg in names::dns1035_label(&service.name) {
                    errs.push(FieldError::invalid(&name_path, &service.name, msg));
                }
            }
            let port = service.port.clone().unwrap_or_default();
            let name = port.name.as_deref().unwrap_or("");
            let number = port.number.unwrap_or(0);
            let port_path = path.child("service").child("port");
            match (name.is_empty(), number == 0) {
                (false, false) => errs.push(FieldError::invalid(
                    path,
                    "",
                    "cannot set both port name & port number",
                )),
                (false, true) => errs.extend(
                    port_name_errors(name)
                        .into_iter()
                        .map(|msg| FieldError::invalid(port_path.child("name"), name, msg)),
                ),
                (true, false) => errs.extend(
                    port_num_errors(i64::from(number))
                        .into_iter()
                        .map(|msg| FieldError::invalid(port_path.child("number"), number, msg)),
                ),
                (true, true) => errs.push(FieldError::required(
                    path,
                    "port name or number is required",
                )),
            }
            errs
        }
        (None, None) => vec![FieldError::invalid(
            path,
            "",
            "resource or service backend is required",
        )],
    }
}

fn validate_local_object_reference(
    reference: &TypedLocalObjectReference,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    if let Some(group) = &reference.api_group {
        for msg in names::dns1123_subdomain(group) {
            errs.push(FieldError::invalid(path.child("apiGroup"), group, msg));
        }
    }
    errs.extend(validate_path_segment(&path.child("kind"), &reference.kind));
    errs.extend(validate_path_segment(&path.child("name"), &reference.name));
    errs
}

fn validate_path_segment(path: &Path, value: &str) -> ErrorList {
    if value.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    names::path_segment(value, false)
        .into_iter()
        .map(|msg| FieldError::invalid(path, value, msg))
        .collect()
}

/// TLS hosts are (wildcard) DNS names; secret names, when given, are Secret names.
fn validate_tls(spec: &IngressSpec, path: &Path, leniency: Leniency) -> ErrorList {
    let mut errs = Vec::new();
    for (i, tls) in spec.tls.iter().flatten().enumerate() {
        for (j, host) in tls.hosts.iter().flatten().enumerate() {
            let msgs = if host.contains('*') {
                wildcard_dns1123_subdomain_errors(host)
            } else {
                names::dns1123_subdomain(host)
            };
            let host_path = path.index(i).child("hosts").index(j);
            errs.extend(
                msgs.into_iter()
                    .map(|msg| FieldError::invalid(&host_path, host, msg)),
            );
        }
        if !leniency.invalid_secret_names {
            let name = tls.secret_name.as_deref().unwrap_or("");
            for msg in secret_name_errors(name) {
                errs.push(FieldError::invalid(
                    path.index(i).child("secretName"),
                    name,
                    msg,
                ));
            }
        }
    }
    errs
}

fn secret_name_errors(name: &str) -> Vec<String> {
    if name.is_empty() {
        Vec::new()
    } else {
        names::dns1123_subdomain(name)
    }
}

/// `ValidateIngressClass`, beyond the ObjectMeta checks.
pub fn validate_ingress_class(class: &IngressClass) -> ErrorList {
    let path = Path::new("spec");
    let spec = class.spec.clone().unwrap_or_default();
    let mut errs = Vec::new();
    let controller = spec.controller.as_deref().unwrap_or("");
    let controller_path = path.child("controller");
    if controller.is_empty() {
        errs.push(FieldError::required(&controller_path, ""));
    } else {
        if controller.len() > MAX_CONTROLLER_LENGTH {
            errs.push(FieldError::too_long(
                &controller_path,
                MAX_CONTROLLER_LENGTH,
            ));
        }
        errs.extend(validate_domain_prefixed_path(&controller_path, controller));
    }
    if let Some(parameters) = &spec.parameters {
        errs.extend(validate_parameters(parameters, &path.child("parameters")));
    }
    errs
}

/// `ValidateIngressClassUpdate`: the controller is fixed.
pub fn validate_ingress_class_update(new: &IngressClass, old: &IngressClass) -> ErrorList {
    let controller = |c: &IngressClass| {
        c.spec
            .as_ref()
            .and_then(|s| s.controller.clone())
            .unwrap_or_default()
    };
    let mut errs = Vec::new();
    if controller(new) != controller(old) {
        errs.push(FieldError::invalid(
            "spec.controller",
            controller(new),
            "field is immutable",
        ));
    }
    errs.extend(validate_ingress_class(new));
    errs
}

fn validate_parameters(params: &IngressClassParametersReference, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    if let Some(group) = &params.api_group {
        for msg in names::dns1123_subdomain(group) {
            errs.push(FieldError::invalid(path.child("apiGroup"), group, msg));
        }
    }
    errs.extend(validate_path_segment(&path.child("kind"), &params.kind));
    errs.extend(validate_path_segment(&path.child("name"), &params.name));
    let Some(scope) = params.scope.as_deref() else {
        errs.push(FieldError::required(path.child("scope"), ""));
        return errs;
    };
    let namespace_path = path.child("namespace");
    match (scope, params.namespace.as_deref()) {
        (s, _) if !PARAMETER_SCOPES.contains(&s) => {
            errs.push(FieldError::not_supported(
                path.child("scope"),
                s,
                PARAMETER_SCOPES,
            ));
        }
        ("Namespace", None) => {
            errs.push(FieldError::required(
                namespace_path,
                "`parameters.scope` is set to 'Namespace'",
            ));
        }
        ("Namespace", Some(ns)) => {
            for msg in dns1123_label_errors(ns) {
                errs.push(FieldError::invalid(&namespace_path, ns, msg));
            }
        }
        ("Cluster", Some(_)) => {
            errs.push(FieldError::forbidden(
                namespace_path,
                "`parameters.scope` is set to 'Cluster'",
            ));
        }
        _ => {}
    }
    errs
}
