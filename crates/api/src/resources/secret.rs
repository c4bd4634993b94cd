//! Secret: the `Opaque` type default, `ValidateSecret` (keys, size, the keys each type needs),
//! the update rules of `type` and `immutable`, and the `type` field label.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;

use super::pod::config_key_errors;
use crate::field::{ErrorList, FieldError, Path};
use crate::kind::Kind;
use crate::validation::NameRule;

/// `core.MaxSecretSize`, the limit of a Secret's or ConfigMap's data in total.
pub(super) const MAX_DATA_SIZE: usize = 1024 * 1024;

impl Kind for Secret {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    fn set_defaults(&mut self) {
        if self.type_.as_deref().unwrap_or("").is_empty() {
            self.type_ = Some("Opaque".to_string());
        }
    }

    fn validate_create(&self) -> ErrorList {
        let data = merged_data(self);
        let data_path = Path::new("data");
        let mut errs = Vec::new();
        for key in data.keys() {
            for msg in config_key_errors(key) {
                errs.push(FieldError::invalid(data_path.key(key), key.as_str(), msg));
            }
        }
        let total: usize = data.values().map(Vec::len).sum();
        if total > MAX_DATA_SIZE {
            errs.push(FieldError::too_long(&data_path, MAX_DATA_SIZE));
        }
        errs.extend(required_keys(self, &data));
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = Vec::new();
        let new_type = self.type_.clone().unwrap_or_default();
        if new_type != old.type_.clone().unwrap_or_default() {
            errs.push(FieldError::invalid("type", new_type, "field is immutable"));
        }
        if old.immutable == Some(true) {
            if self.immutable != Some(true) {
                errs.push(FieldError::forbidden(
                    "immutable",
                    "field is immutable when `immutable` is set",
                ));
            }
            if merged_data(self) != merged_data(old) {
                errs.push(FieldError::forbidden(
                    "data",
                    "field is immutable when `immutable` is set",
                ));
            }
        }
        errs.extend(self.validate_create());
        errs
    }

    fn field_labels(&self) -> Vec<(&'static str, String)> {
        vec![("type", self.type_.clone().unwrap_or_default())]
    }
}

/// `data` with `stringData` written over it, as the internal type the apiserver validates has it.
fn merged_data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut data: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (k, v) in secret.string_data.iter().flatten() {
        data.insert(k.clone(), v.clone().into_bytes());
    }
    data
}

/// The keys and annotations each well-known Secret type requires.
fn required_keys(secret: &Secret, data: &BTreeMap<String, Vec<u8>>) -> ErrorList {
    let data_path = Path::new("data");
    let required = |key: &str| FieldError::required(data_path.key(key), "");
    let mut errs = Vec::new();
    match secret.type_.as_deref().unwrap_or("") {
        "kubernetes.io/service-account-token" => {
            let annotation = "kubernetes.io/service-account.name";
            let named = secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(annotation))
                .is_some_and(|v| !v.is_empty());
            if !named {
                errs.push(FieldError::required(
                    Path::new("metadata").child("annotations").key(annotation),
                    "",
                ));
            }
        }
        kind @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let key = if kind == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            match data.get(key) {
                None => errs.push(required(key)),
                Some(bytes) => {
                    if let Err(e) =
                        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes)
                    {
                        errs.push(FieldError::invalid(
                            data_path.key(key),
                            "<secret contents redacted>",
                            e.to_string(),
                        ));
                    }
                }
            }
        }
        // Username or password may be empty, but one of the keys must be there.
        "kubernetes.io/basic-auth"
            if !data.contains_key("username") && !data.contains_key("password") =>
        {
            errs.push(required("username"));
            errs.push(required("password"));
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(Vec::is_empty) => {
            errs.push(required("ssh-privatekey"));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !data.contains_key(key) {
                    errs.push(required(key));
                }
            }
        }
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::resource::find_kind;

    fn check(object: Value) -> (Value, Vec<String>) {
        let ops = find_kind("v1", "Secret").unwrap().ops;
        let mut object = object;
        ops.set_defaults(&mut object).unwrap();
        let errs = ops.validate_create(&object, true).unwrap();
        (object, errs.iter().map(ToString::to_string).collect())
    }

    fn secret(type_: Option<&str>, data: Value) -> Value {
        let mut s = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "tls-secret", "namespace": "default"}, "data": data});
        if let Some(t) = type_ {
            s["type"] = json!(t);
        }
        s
    }

    #[test]
    fn type_defaults_to_opaque() {
        let (s, errs) = check(secret(None, json!({"a": "Yg=="})));
        assert_eq!(s["type"], "Opaque");
        assert!(errs.is_empty());
        let ops = find_kind("v1", "Secret").unwrap().ops;
        assert_eq!(
            ops.field_labels(&s).unwrap(),
            vec![("type", "Opaque".to_string())]
        );
    }

    #[test]
    fn typed_secrets_need_their_keys() {
        let cases = [
            (
                secret(Some("kubernetes.io/tls"), json!({})),
                vec!["data[tls.crt]: Required value", "data[tls.key]: Required value"],
            ),
            (
                secret(Some("kubernetes.io/tls"), json!({"tls.crt": "Yw==", "tls.key": "aw=="})),
                vec![],
            ),
            (
                secret(Some("kubernetes.io/basic-auth"), json!({})),
                vec!["data[username]: Required value", "data[password]: Required value"],
            ),
            (
                secret(Some("kubernetes.io/dockerconfigjson"), json!({".dockerconfigjson": "bm90IGpzb24="})),
                vec!["data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": expected ident at line 1 column 2"],
            ),
            (
                secret(Some("kubernetes.io/service-account-token"), json!({})),
                vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"],
            ),
            (
                secret(None, json!({"bad key": "eA=="})),
                vec!["data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"],
            ),
        ];
        for (object, want) in cases {
            assert_eq!(check(object.clone()).1, want, "{object}");
        }
        // stringData counts, as it is merged into data before validation.
        let mut tls = secret(Some("kubernetes.io/tls"), json!({"tls.crt": "Yw=="}));
        tls["stringData"] = json!({"tls.key": "key"});
        assert!(check(tls).1.is_empty());
    }

    #[test]
    fn updates_keep_type_and_immutable_data() {
        let ops = find_kind("v1", "Secret").unwrap().ops;
        let mut old = secret(Some("Opaque"), json!({"a": "Yg=="}));
        old["immutable"] = json!(true);
        let mut new = old.clone();
        new["type"] = json!("kubernetes.io/basic-auth");
        new["data"] = json!({"a": "Yw==", "username": "dQ=="});
        let errs: Vec<String> = ops
            .validate_update(&new, &old, true)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec![
                "type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable",
                "data: Forbidden: field is immutable when `immutable` is set",
            ]
        );
    }
}
