//! What the API server needs to know about one kind, and its type-erased form.
//!
//! Each served kind implements [`Kind`] (defaults, validation, selectable fields) in
//! `resources/<kind>.rs` and [`Printer`] (table columns) in `printers/`. The API server works
//! on `serde_json::Value` and reaches the typed code through [`KindOps`], which [`Typed`]
//! provides for every kind by decoding into the k8s-openapi type.

use std::marker::PhantomData;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::field::ErrorList;
use crate::table::{Cell, Column};
use crate::validation::{self, NameRule};

/// A served kind: a k8s-openapi type plus kube-apiserver's strategy for it.
pub trait Kind:
    k8s_openapi::Resource
    + k8s_openapi::Metadata<Ty = ObjectMeta>
    + Serialize
    + DeserializeOwned
    + Clone
    + Send
    + Sync
    + 'static
{
    /// How `metadata.name` is validated (upstream's per-kind `ValidateNameFunc`).
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    /// Field defaulting as the scheme's defaulters do it (`SetDefaults_Service`, ...).
    fn set_defaults(&mut self) {}

    /// The update strategy's `PrepareForUpdate`: carry over from the stored object what a
    /// client may leave out or may not change through the main resource.
    fn prepare_for_update(&mut self, _old: &Self) {}

    /// Validation of a new object, beyond the common ObjectMeta checks the framework runs.
    fn validate_create(&self) -> ErrorList {
        Vec::new()
    }

    /// Validation of an update against the stored object, beyond the common ObjectMeta checks.
    fn validate_update(&self, _old: &Self) -> ErrorList {
        self.validate_create()
    }

    /// Values of the kind's own selectable fields (`spec.nodeName`, `status.phase`, ...);
    /// `metadata.name` and `metadata.namespace` are handled for every kind.
    fn field_labels(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// `Warning` headers a write of this object answers with.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The table columns of a kind, as kube-apiserver's printers compute them.
pub trait Printer: Kind {
    /// Column definitions; the default is the apiserver's Name / Created At.
    fn columns() -> &'static [Column] {
        DEFAULT_COLUMNS
    }

    /// The cells of one row, in column order.
    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        let _ = now;
        let meta = self.metadata();
        let created = meta
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        vec![
            Cell::Text(meta.name.clone().unwrap_or_default()),
            Cell::Text(created),
        ]
    }
}

/// Name and Created At, the apiserver's table for kinds without a printer.
pub const DEFAULT_COLUMNS: &[Column] = &[
    Column::NAME,
    Column {
        name: "Created At",
        column_type: "date",
        format: "",
        description: "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        priority: 0,
    },
];

/// A body that could not be turned into the kind's type.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{message}")]
    Malformed { message: String },
}

/// The type-erased operations of one kind, on JSON values.
pub trait KindOps: Send + Sync {
    /// Decodes a body into the kind's canonical JSON (fields the type does not know are
    /// dropped and reported as paths like `spec.prots`, for `fieldValidation`).
    fn decode(&self, body: &Value) -> Result<(Value, Vec<String>), DecodeError>;
    /// Applies defaults to a decoded object.
    fn set_defaults(&self, object: &mut Value) -> Result<(), DecodeError>;
    /// Runs the kind's update strategy on a main-resource update.
    fn prepare_for_update(&self, object: &mut Value, old: &Value) -> Result<(), DecodeError>;
    /// Full create validation: ObjectMeta plus the kind's rules.
    fn validate_create(&self, object: &Value, namespaced: bool) -> Result<ErrorList, DecodeError>;
    /// Full update validation against the stored object.
    fn validate_update(
        &self,
        object: &Value,
        old: &Value,
        namespaced: bool,
    ) -> Result<ErrorList, DecodeError>;
    fn columns(&self) -> &'static [Column];
    fn cells(&self, object: &Value, now: Timestamp) -> Result<Vec<Cell>, DecodeError>;
    /// The cells and the metadata of a stored object, decoded straight from its JSON bytes
    /// (one pass instead of bytes → value → typed, for listing thousands as a Table).
    fn cells_from_slice(
        &self,
        stored: &[u8],
        now: Timestamp,
    ) -> Result<(Vec<Cell>, Value), DecodeError>;
    fn field_labels(&self, object: &Value) -> Result<Vec<(&'static str, String)>, DecodeError>;
    fn warnings(&self, object: &Value) -> Result<Vec<String>, DecodeError>;
}

/// [`KindOps`] for a typed kind.
pub struct Typed<K>(PhantomData<fn() -> K>);

impl<K> Typed<K> {
    pub const fn new() -> Self {
        Typed(PhantomData)
    }
}

impl<K> Default for Typed<K> {
    fn default() -> Self {
        Self::new()
    }
}

fn typed<K: Kind>(value: &Value) -> Result<K, DecodeError> {
    K::deserialize(value).map_err(|e| DecodeError::Malformed {
        message: format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {e}",
            kind = K::KIND,
            version = K::VERSION
        ),
    })
}

fn to_value<K: Kind>(object: &K) -> Result<Value, DecodeError> {
    serde_json::to_value(object).map_err(|e| DecodeError::Malformed {
        message: e.to_string(),
    })
}

impl<K: Printer> KindOps for Typed<K> {
    fn decode(&self, body: &Value) -> Result<(Value, Vec<String>), DecodeError> {
        let object: K = typed(body)?;
        let canonical = to_value(&object)?;
        let mut unknown = Vec::new();
        unknown_fields(body, &canonical, "", &mut unknown);
        Ok((canonical, unknown))
    }

    fn set_defaults(&self, object: &mut Value) -> Result<(), DecodeError> {
        let mut typed_object: K = typed(object)?;
        typed_object.set_defaults();
        *object = to_value(&typed_object)?;
        Ok(())
    }

    fn prepare_for_update(&self, object: &mut Value, old: &Value) -> Result<(), DecodeError> {
        let mut new_object: K = typed(object)?;
        let old_object: K = typed(old)?;
        new_object.prepare_for_update(&old_object);
        *object = to_value(&new_object)?;
        Ok(())
    }

    fn validate_create(&self, object: &Value, namespaced: bool) -> Result<ErrorList, DecodeError> {
        let typed_object: K = typed(object)?;
        let mut errors = validation::meta::validate_object_meta(
            typed_object.metadata(),
            namespaced,
            K::NAME_RULE,
        );
        errors.extend(typed_object.validate_create());
        Ok(errors)
    }

    fn validate_update(
        &self,
        object: &Value,
        old: &Value,
        namespaced: bool,
    ) -> Result<ErrorList, DecodeError> {
        let new_object: K = typed(object)?;
        let old_object: K = typed(old)?;
        let mut errors =
            validation::meta::validate_object_meta(new_object.metadata(), namespaced, K::NAME_RULE);
        errors.extend(validation::meta::validate_object_meta_update(
            new_object.metadata(),
            old_object.metadata(),
        ));
        errors.extend(new_object.validate_update(&old_object));
        Ok(errors)
    }

    fn columns(&self) -> &'static [Column] {
        K::columns()
    }

    fn cells(&self, object: &Value, now: Timestamp) -> Result<Vec<Cell>, DecodeError> {
        Ok(typed::<K>(object)?.cells(now))
    }

    fn cells_from_slice(
        &self,
        stored: &[u8],
        now: Timestamp,
    ) -> Result<(Vec<Cell>, Value), DecodeError> {
        let object: K = serde_json::from_slice(stored).map_err(|e| DecodeError::Malformed {
            message: e.to_string(),
        })?;
        let metadata =
            serde_json::to_value(object.metadata()).map_err(|e| DecodeError::Malformed {
                message: e.to_string(),
            })?;
        Ok((object.cells(now), metadata))
    }

    fn field_labels(&self, object: &Value) -> Result<Vec<(&'static str, String)>, DecodeError> {
        Ok(typed::<K>(object)?.field_labels())
    }

    fn warnings(&self, object: &Value) -> Result<Vec<String>, DecodeError> {
        Ok(typed::<K>(object)?.warnings())
    }
}

/// Collects the paths of fields present (and not null) in `given` but absent from `canonical`.
fn unknown_fields(given: &Value, canonical: &Value, path: &str, out: &mut Vec<String>) {
    match (given, canonical) {
        (Value::Object(g), Value::Object(c)) => {
            for (key, value) in g {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match c.get(key) {
                    None if !value.is_null() => out.push(child),
                    Some(cv) => unknown_fields(value, cv, &child, out),
                    None => {}
                }
            }
        }
        (Value::Array(g), Value::Array(c)) => {
            for (i, (gv, cv)) in g.iter().zip(c).enumerate() {
                unknown_fields(gv, cv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Service;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_reported_with_paths() {
        let body = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubia", "creationTimestamp": null},
            "spec": {"prots": [{"port": 80}], "ports": [{"port": 80, "nodeport": 1}]}
        });
        let (_, unknown) = Typed::<Service>::new().decode(&body).unwrap();
        assert_eq!(
            unknown,
            vec![
                "spec.prots".to_string(),
                "spec.ports[0].nodeport".to_string()
            ]
        );
    }
}
