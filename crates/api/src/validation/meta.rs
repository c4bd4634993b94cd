//! ObjectMeta validation on create and update (`ValidateObjectMeta`, `ValidateObjectMetaUpdate`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::names;
use super::NameRule;
use crate::field::{ErrorList, FieldError, Path};

/// The total size limit of all annotations of one object.
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Common checks of a new or updated object's metadata.
pub fn validate_object_meta(meta: &ObjectMeta, namespaced: bool, rule: NameRule) -> ErrorList {
    let path = Path::new("metadata");
    let mut errs = Vec::new();
    if let Some(generate_name) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        for msg in rule.check(generate_name, true) {
            errs.push(FieldError::invalid(
                path.child("generateName"),
                generate_name,
                msg,
            ));
        }
    }
    match meta.name.as_deref().filter(|n| !n.is_empty()) {
        None => errs.push(FieldError::required(
            path.child("name"),
            "name or generateName is required",
        )),
        Some(name) => {
            for msg in rule.check(name, false) {
                errs.push(FieldError::invalid(path.child("name"), name, msg));
            }
        }
    }
    let namespace = meta.namespace.as_deref().unwrap_or("");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required(path.child("namespace"), ""));
        } else {
            for msg in names::dns1123_label(namespace) {
                errs.push(FieldError::invalid(path.child("namespace"), namespace, msg));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            path.child("namespace"),
            "not allowed on this type",
        ));
    }
    if meta.generation.is_some_and(|g| g < 0) {
        errs.push(FieldError::invalid(
            path.child("generation"),
            meta.generation.unwrap_or_default(),
            "must be greater than or equal to 0",
        ));
    }
    if let Some(labels) = &meta.labels {
        errs.extend(validate_labels(labels, &path.child("labels")));
    }
    if let Some(annotations) = &meta.annotations {
        errs.extend(validate_annotations(
            annotations,
            &path.child("annotations"),
        ));
    }
    errs
}

/// `ValidateLabels`: keys are qualified names, values label values.
pub fn validate_labels(
    labels: &std::collections::BTreeMap<String, String>,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    for (key, value) in labels {
        for msg in names::qualified_name(key) {
            errs.push(FieldError::invalid(path, key.as_str(), msg));
        }
        for msg in names::label_value(value) {
            errs.push(FieldError::invalid(path, value.as_str(), msg));
        }
    }
    errs
}

/// `ValidateAnnotations`: qualified-name keys, at most 256 KiB in all.
pub fn validate_annotations(
    annotations: &std::collections::BTreeMap<String, String>,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let mut total = 0;
    for (key, value) in annotations {
        for msg in names::qualified_name(&key.to_lowercase()) {
            errs.push(FieldError::invalid(path, key.as_str(), msg));
        }
        total += key.len() + value.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

/// `ValidateObjectMetaUpdate`: fields that never change after create.
pub fn validate_object_meta_update(new: &ObjectMeta, old: &ObjectMeta) -> ErrorList {
    let path = Path::new("metadata");
    let mut errs = Vec::new();
    let immutable = |field: &str, a: Option<&str>, b: Option<&str>, errs: &mut ErrorList| {
        if a.unwrap_or("") != b.unwrap_or("") {
            errs.push(FieldError::invalid(
                path.child(field),
                a.unwrap_or(""),
                "field is immutable",
            ));
        }
    };
    immutable("name", new.name.as_deref(), old.name.as_deref(), &mut errs);
    immutable(
        "namespace",
        new.namespace.as_deref(),
        old.namespace.as_deref(),
        &mut errs,
    );
    immutable("uid", new.uid.as_deref(), old.uid.as_deref(), &mut errs);
    if new.creation_timestamp != old.creation_timestamp {
        let shown = new
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_default();
        errs.push(FieldError::invalid(
            path.child("creationTimestamp"),
            shown,
            "field is immutable",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: namespace.map(str::to_string),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn name_and_namespace_rules() {
        assert!(validate_object_meta(
            &meta("kubia", Some("default")),
            true,
            NameRule::Dns1035Label
        )
        .is_empty());
        let errs = validate_object_meta(&meta("", Some("default")), true, NameRule::Dns1035Label);
        assert_eq!(
            errs[0].to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
        let errs = validate_object_meta(&meta("x", Some("default")), false, NameRule::Dns1123Label);
        assert_eq!(
            errs[0].to_string(),
            "metadata.namespace: Forbidden: not allowed on this type"
        );
        let errs =
            validate_object_meta(&meta("1abc", Some("default")), true, NameRule::Dns1035Label);
        assert!(errs[0]
            .to_string()
            .starts_with("metadata.name: Invalid value: \"1abc\": a DNS-1035 label"));
    }

    #[test]
    fn generate_name_may_end_in_a_dash() {
        let m = ObjectMeta {
            generate_name: Some("kubia-".into()),
            name: Some("kubia-x7k2p".into()),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        };
        assert!(validate_object_meta(&m, true, NameRule::Dns1123Subdomain).is_empty());
    }

    #[test]
    fn bad_label_value_is_reported() {
        let mut m = meta("a", Some("default"));
        m.labels = Some([("app".to_string(), "-bad".to_string())].into());
        let errs = validate_object_meta(&m, true, NameRule::Dns1123Subdomain);
        assert_eq!(errs.len(), 1);
        assert!(errs[0]
            .to_string()
            .starts_with("metadata.labels: Invalid value: \"-bad\": a valid label must be"));
    }
}
