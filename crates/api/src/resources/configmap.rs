//! ConfigMap: `ValidateConfigMap` (valid keys, no key in both bags, 1 MiB in all) and the
//! update rules of `immutable`.

use k8s_openapi::api::core::v1::ConfigMap;

use super::pod::config_key_errors;
use super::secret::MAX_DATA_SIZE;
use crate::field::{ErrorList, FieldError, Path};
use crate::kind::Kind;
use crate::validation::NameRule;

impl Kind for ConfigMap {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    fn validate_create(&self) -> ErrorList {
        let mut errs = Vec::new();
        let mut total = 0;
        let data_path = Path::new("data");
        let binary_path = Path::new("binaryData");
        for (key, value) in self.data.iter().flatten() {
            for msg in config_key_errors(key) {
                errs.push(FieldError::invalid(data_path.key(key), key.as_str(), msg));
            }
            if self
                .binary_data
                .as_ref()
                .is_some_and(|b| b.contains_key(key))
            {
                errs.push(FieldError::invalid(
                    data_path.key(key),
                    key.as_str(),
                    "duplicate of key present in binaryData",
                ));
            }
            total += value.len();
        }
        for (key, value) in self.binary_data.iter().flatten() {
            for msg in config_key_errors(key) {
                errs.push(FieldError::invalid(binary_path.key(key), key.as_str(), msg));
            }
            total += value.0.len();
        }
        if total > MAX_DATA_SIZE {
            errs.push(FieldError::too_long("", MAX_DATA_SIZE));
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = Vec::new();
        if old.immutable == Some(true) {
            let immutable = "field is immutable when `immutable` is set";
            if self.immutable != Some(true) {
                errs.push(FieldError::forbidden("immutable", immutable));
            }
            let empty_data = |c: &ConfigMap| c.data.clone().filter(|d| !d.is_empty());
            if empty_data(self) != empty_data(old) {
                errs.push(FieldError::forbidden("data", immutable));
            }
            let empty_binary = |c: &ConfigMap| c.binary_data.clone().filter(|d| !d.is_empty());
            if empty_binary(self) != empty_binary(old) {
                errs.push(FieldError::forbidden("binaryData", immutable));
            }
        }
        errs.extend(self.validate_create());
        errs
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::resource::find_kind;

    fn errors(extra: Value) -> Vec<String> {
        let ops = find_kind("v1", "ConfigMap").unwrap().ops;
        let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "fortune-config", "namespace": "default"}});
        if let (Value::Object(o), Value::Object(extra)) = (&mut object, extra) {
            o.extend(extra);
        }
        let errs = ops.validate_create(&object, true).unwrap();
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn keys_are_config_keys() {
        assert!(
            errors(json!({"data": {"sleep-interval": "25", "my-nginx-config.conf": "x"}}))
                .is_empty()
        );
        assert_eq!(
            errors(json!({"data": {"..": "x"}, "binaryData": {"a/b": "AA=="}})),
            vec![
                "data[..]: Invalid value: \"..\": must not be '..'",
                "binaryData[a/b]: Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            ]
        );
        assert_eq!(
            errors(json!({"data": {"k": "x"}, "binaryData": {"k": "AA=="}})),
            vec!["data[k]: Invalid value: \"k\": duplicate of key present in binaryData"]
        );
    }

    #[test]
    fn immutable_config_maps_keep_their_data() {
        let ops = find_kind("v1", "ConfigMap").unwrap().ops;
        let old = json!({"apiVersion": "v1", "kind": "ConfigMap", "immutable": true,
            "metadata": {"name": "c", "namespace": "default"}, "data": {"k": "v"}});
        let mut new = old.clone();
        new["data"]["k"] = json!("w");
        new["immutable"] = json!(false);
        let errs: Vec<String> = ops
            .validate_update(&new, &old, true)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec![
                "immutable: Forbidden: field is immutable when `immutable` is set",
                "data: Forbidden: field is immutable when `immutable` is set",
            ]
        );
    }
}
