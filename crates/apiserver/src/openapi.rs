//! OpenAPI v3 documents: paths only, with the PATCH operations declaring `fieldValidation`, which
//! is what kubectl checks before it lets `create -f`, `apply` and `edit` send anything. No
//! schemas, so kubectl uses its built-in types for patch metadata, exactly as with a real cluster.

use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{json, Map, Value};

use ferry_api::resource::{group_versions, RESOURCES};

const QUERY_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn operation_id(verb: &str, group: &str, version: &str, kind: &str, namespaced: bool) -> String {
    let group_part: String = group
        .split('.')
        .next()
        .unwrap_or("")
        .split('-')
        .map(capitalize)
        .collect();
    let group_part = if group.is_empty() {
        "Core".to_string()
    } else {
        group_part
    };
    let scope = if namespaced { "Namespaced" } else { "" };
    format!("{verb}{group_part}{}{scope}{kind}", capitalize(version))
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The document for one group version, or `None` if it is not served.
pub(crate) fn group_version_document(group: &str, version: &str) -> Option<Value> {
    if !group_versions().contains(&(group, version)) {
        return None;
    }
    let mut paths = Map::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let parameters: Vec<Value> = QUERY_PARAMS
            .iter()
            .map(|p| json!({"name": p, "in": "query", "schema": {"type": "string"}, "uniqueItems": true}))
            .collect();
        let base = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let path = if r.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{base}/{}/{{name}}", r.plural)
        };
        let gvk = json!({"group": group, "version": version, "kind": r.kind});
        paths.insert(
            path,
            json!({
                "patch": {
                    "operationId": operation_id("patch", group, version, r.kind, r.namespaced),
                    "x-kubernetes-group-version-kind": gvk,
                    "x-kubernetes-action": "patch",
                    "parameters": parameters,
                    "responses": {"200": {"description": "OK"}},
                },
                "put": {
                    "operationId": operation_id("replace", group, version, r.kind, r.namespaced),
                    "x-kubernetes-group-version-kind": gvk,
                    "x-kubernetes-action": "put",
                    "parameters": parameters,
                    "responses": {"200": {"description": "OK"}},
                },
            }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::version::GIT_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

/// A stable content hash, used in `serverRelativeURL` so clients cache each document.
pub(crate) fn document_hash(doc: &Value) -> String {
    let mut h = DefaultHasher::new();
    doc.to_string().hash(&mut h);
    format!("{:016X}", h.finish())
}

/// The media type kubectl asks `/openapi/v2` for.
pub(crate) const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// `GET /openapi/v2` in protobuf: a Swagger 2.0 document with no definitions. kubectl reads it
/// only for group versions the v3 root does not list; finding no schema there, it skips
/// client-side validation and reports the unknown kind itself (`no matches for kind ...`), as it
/// does against a real cluster.
pub(crate) fn v2_protobuf() -> Vec<u8> {
    fn field(number: u8, payload: &[u8]) -> Vec<u8> {
        // Wire type 2 (length-delimited); every payload here is shorter than 128 bytes.
        let mut out = vec![(number << 3) | 2, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }
    let mut info = field(1, b"Kubernetes");
    info.extend(field(2, crate::version::GIT_VERSION.as_bytes()));
    let mut doc = field(1, b"2.0");
    doc.extend(field(2, &info));
    doc
}

/// `GET /openapi/v3`: where each group version's document is.
pub(crate) fn root() -> Value {
    let mut paths = Map::new();
    for (g, v) in group_versions() {
        if let Some(doc) = group_version_document(g, v) {
            let rel = gv_path(g, v);
            paths.insert(
                rel.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{rel}?hash={}", document_hash(&doc))}),
            );
        }
    }
    json!({"paths": paths})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_patch_declares_field_validation() {
        let doc = group_version_document("", "v1").unwrap_or_default();
        let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/services/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Service");
        assert_eq!(patch["operationId"], "patchCoreV1NamespacedService");
        let params = patch["parameters"].as_array().cloned().unwrap_or_default();
        assert!(params.iter().any(|p| p["name"] == "fieldValidation"));
    }

    #[test]
    fn v2_document_is_swagger_2_with_info() {
        let doc = v2_protobuf();
        assert_eq!(&doc[..5], b"\x0a\x032.0");
        assert!(doc.windows(10).any(|w| w == b"Kubernetes"));
    }

    #[test]
    fn root_links_every_group_version() {
        let r = root();
        assert!(r["paths"]["api/v1"]["serverRelativeURL"]
            .as_str()
            .is_some_and(|u| u.starts_with("/openapi/v3/api/v1?hash=")));
        assert!(r["paths"].get("apis/apps/v1").is_some());
        assert_eq!(
            operation_id("patch", "networking.k8s.io", "v1", "Ingress", true),
            "patchNetworkingV1NamespacedIngress"
        );
    }
}
