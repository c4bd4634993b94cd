//! Turning k8s-pb messages into the JSON a Go client would have sent for the same object.
//!
//! Every proto2 field decodes to an `Option`, but Go's protobuf writer emits non-pointer fields
//! even when they hold the zero value (`name: ""`, `replicas: 0`), while its JSON writer omits
//! them (`omitempty`). So each field is written with the rule of its Go type: plain strings,
//! numbers and bools are dropped when zero, pointer fields (`*int32`, `*bool`, `*string`) are
//! kept whenever they are present, whatever their value.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::jiff::Timestamp;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1::{
    Condition, FieldsV1, LabelSelector, LabelSelectorRequirement, ManagedFieldsEntry, ObjectMeta,
    OwnerReference, Time,
};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Map, Value};

/// A message that has a Kubernetes JSON form.
pub(crate) trait ToJson {
    fn to_json(&self) -> Value;
}

/// The JSON object of one message, built field by field.
#[derive(Default)]
pub(crate) struct Fields(Map<String, Value>);

impl Fields {
    pub(crate) fn new() -> Self {
        Fields::default()
    }

    pub(crate) fn build(self) -> Value {
        Value::Object(self.0)
    }

    fn put(mut self, key: &str, value: Value) -> Self {
        self.0.insert(key.to_string(), value);
        self
    }

    /// A Go `string`: omitted when empty.
    pub(crate) fn string(self, key: &str, value: &Option<String>) -> Self {
        match value.as_deref() {
            Some(s) if !s.is_empty() => self.put(key, Value::from(s)),
            _ => self,
        }
    }

    /// A Go `*string`: written whenever set, even to `""`.
    pub(crate) fn string_ptr(self, key: &str, value: &Option<String>) -> Self {
        match value {
            Some(s) => self.put(key, Value::from(s.as_str())),
            None => self,
        }
    }

    /// A Go integer with `omitempty`: omitted when zero.
    pub(crate) fn int<T: Into<i64> + Copy>(self, key: &str, value: Option<T>) -> Self {
        match value.map(Into::into) {
            Some(v) if v != 0 => self.put(key, Value::from(v)),
            _ => self,
        }
    }

    /// A Go integer without `omitempty` or a pointer to one: written whenever present.
    pub(crate) fn int_ptr<T: Into<i64> + Copy>(self, key: &str, value: Option<T>) -> Self {
        match value.map(Into::into) {
            Some(v) => self.put(key, Value::from(v)),
            None => self,
        }
    }

    /// A list of integers, omitted when empty.
    pub(crate) fn ints(self, key: &str, values: &[i64]) -> Self {
        if values.is_empty() {
            return self;
        }
        self.put(key, Value::from(values.to_vec()))
    }

    /// A Go `bool` with `omitempty`: omitted when false.
    pub(crate) fn bool(self, key: &str, value: Option<bool>) -> Self {
        match value {
            Some(true) => self.put(key, Value::Bool(true)),
            _ => self,
        }
    }

    /// A Go `*bool` or a `bool` without `omitempty`: written whenever present.
    pub(crate) fn bool_ptr(self, key: &str, value: Option<bool>) -> Self {
        match value {
            Some(b) => self.put(key, Value::Bool(b)),
            None => self,
        }
    }

    /// A nested message, written whenever present (possibly as `{}`).
    pub(crate) fn message<T: ToJson>(self, key: &str, value: &Option<T>) -> Self {
        match value {
            Some(m) => self.put(key, m.to_json()),
            None => self,
        }
    }

    /// An embedded Go struct (`json:",inline"`): its fields join this object.
    pub(crate) fn inline<T: ToJson>(mut self, value: &Option<T>) -> Self {
        if let Some(Value::Object(fields)) = value.as_ref().map(ToJson::to_json) {
            self.0.extend(fields);
        }
        self
    }

    /// A repeated message, omitted when empty.
    pub(crate) fn messages<T: ToJson>(self, key: &str, values: &[T]) -> Self {
        if values.is_empty() {
            return self;
        }
        let list = values.iter().map(ToJson::to_json).collect();
        self.put(key, Value::Array(list))
    }

    /// A repeated string, omitted when empty.
    pub(crate) fn strings(self, key: &str, values: &[String]) -> Self {
        if values.is_empty() {
            return self;
        }
        self.put(key, Value::from(values.to_vec()))
    }

    /// A `map<string, string>`, omitted when empty.
    pub(crate) fn string_map(self, key: &str, map: &BTreeMap<String, String>) -> Self {
        if map.is_empty() {
            return self;
        }
        let object = map
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        self.put(key, Value::Object(object))
    }

    /// A `map<string, bytes>` (Secret data, ConfigMap binaryData) as base64 strings.
    pub(crate) fn bytes_map(self, key: &str, map: &BTreeMap<String, Vec<u8>>) -> Self {
        if map.is_empty() {
            return self;
        }
        let engine = base64::engine::general_purpose::STANDARD;
        let object = map
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(engine.encode(v))))
            .collect();
        self.put(key, Value::Object(object))
    }

    /// A `map<string, Quantity>` (resource lists), omitted when empty.
    pub(crate) fn quantity_map(self, key: &str, map: &BTreeMap<String, Quantity>) -> Self {
        if map.is_empty() {
            return self;
        }
        let object = map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
        self.put(key, Value::Object(object))
    }

    /// A `metav1.Time`, omitted when zero (Go writes a zero time as an empty message).
    pub(crate) fn time(self, key: &str, value: &Option<Time>) -> Self {
        let stamp = value
            .as_ref()
            .and_then(|t| timestamp(t.seconds, t.nanos))
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
        match stamp {
            Some(s) => self.put(key, Value::from(s)),
            None => self,
        }
    }

    /// An `intstr.IntOrString`, written whenever present.
    pub(crate) fn int_or_string(self, key: &str, value: &Option<IntOrString>) -> Self {
        match value {
            Some(v) => self.put(key, v.to_json()),
            None => self,
        }
    }

    /// A Go `intstr.IntOrString` value field whose zero value means "unset" (Service
    /// `targetPort`): omitted when it is the integer 0.
    pub(crate) fn int_or_string_nonzero(self, key: &str, value: &Option<IntOrString>) -> Self {
        match value.as_ref().map(ToJson::to_json) {
            Some(v) if v != 0 && v != "" => self.put(key, v),
            _ => self,
        }
    }

    /// A `*resource.Quantity` or a Quantity value, written whenever it holds a string.
    pub(crate) fn quantity(self, key: &str, value: &Option<Quantity>) -> Self {
        match value.as_ref().and_then(|q| q.string.as_deref()) {
            Some(s) if !s.is_empty() => self.put(key, Value::from(s)),
            _ => self,
        }
    }
}

/// The instant of a protobuf `Timestamp`, `None` for Go's zero time (an empty message).
fn timestamp(seconds: Option<i64>, nanos: Option<i32>) -> Option<Timestamp> {
    let seconds = seconds?;
    Timestamp::new(seconds, nanos.unwrap_or(0)).ok()
}

impl ToJson for IntOrString {
    /// Type 0 is an integer, type 1 a string.
    fn to_json(&self) -> Value {
        match self.r#type {
            Some(1) => Value::from(self.str_val.clone().unwrap_or_default()),
            _ => Value::from(self.int_val.unwrap_or(0)),
        }
    }
}

impl ToJson for Quantity {
    fn to_json(&self) -> Value {
        Value::from(self.string.clone().unwrap_or_default())
    }
}

impl ToJson for ObjectMeta {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .string("generateName", &self.generate_name)
            .string("namespace", &self.namespace)
            .string("selfLink", &self.self_link)
            .string("uid", &self.uid)
            .string("resourceVersion", &self.resource_version)
            .int("generation", self.generation)
            .time("creationTimestamp", &self.creation_timestamp)
            .time("deletionTimestamp", &self.deletion_timestamp)
            .int_ptr(
                "deletionGracePeriodSeconds",
                self.deletion_grace_period_seconds,
            )
            .string_map("labels", &self.labels)
            .string_map("annotations", &self.annotations)
            .messages("ownerReferences", &self.owner_references)
            .strings("finalizers", &self.finalizers)
            .messages("managedFields", &self.managed_fields)
            .build()
    }
}

impl ToJson for OwnerReference {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("apiVersion", &self.api_version)
            .string("kind", &self.kind)
            .string("name", &self.name)
            .string("uid", &self.uid)
            .bool_ptr("controller", self.controller)
            .bool_ptr("blockOwnerDeletion", self.block_owner_deletion)
            .build()
    }
}

impl ToJson for ManagedFieldsEntry {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("manager", &self.manager)
            .string("operation", &self.operation)
            .string("apiVersion", &self.api_version)
            .time("time", &self.time)
            .string("fieldsType", &self.fields_type)
            .message("fieldsV1", &self.fields_v1)
            .string("subresource", &self.subresource)
            .build()
    }
}

impl ToJson for FieldsV1 {
    /// The raw bytes are the JSON of the field set; bytes that are not JSON carry no fields.
    fn to_json(&self) -> Value {
        let raw = self.raw.as_deref().unwrap_or(b"{}");
        serde_json::from_slice(raw).unwrap_or_else(|_| Value::Object(Map::new()))
    }
}

impl ToJson for LabelSelector {
    fn to_json(&self) -> Value {
        Fields::new()
            .string_map("matchLabels", &self.match_labels)
            .messages("matchExpressions", &self.match_expressions)
            .build()
    }
}

impl ToJson for LabelSelectorRequirement {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("key", &self.key)
            .string("operator", &self.operator)
            .strings("values", &self.values)
            .build()
    }
}

impl ToJson for Condition {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("type", &self.r#type)
            .string("status", &self.status)
            .int("observedGeneration", self.observed_generation)
            .time("lastTransitionTime", &self.last_transition_time)
            .string("reason", &self.reason)
            .string("message", &self.message)
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_zero_values_are_dropped_and_pointers_kept() {
        let value = Fields::new()
            .string("a", &Some(String::new()))
            .string_ptr("b", &Some(String::new()))
            .int("c", Some(0))
            .int_ptr("d", Some(0))
            .bool("e", Some(false))
            .bool_ptr("f", Some(false))
            .strings("g", &[])
            .build();
        assert_eq!(value, json!({"b": "", "d": 0, "f": false}));
    }

    #[test]
    fn times_print_like_metav1() {
        let t = Some(Time {
            seconds: Some(1_714_564_800),
            nanos: Some(0),
        });
        let value = Fields::new()
            .time("t", &t)
            .time("zero", &Some(Time::default()))
            .build();
        assert_eq!(value, json!({"t": "2024-05-01T12:00:00Z"}));
    }

    #[test]
    fn int_or_string_by_type() {
        let int = IntOrString {
            r#type: Some(0),
            int_val: Some(8080),
            str_val: Some(String::new()),
        };
        let string = IntOrString {
            r#type: Some(1),
            int_val: Some(0),
            str_val: Some("http".into()),
        };
        assert_eq!(int.to_json(), json!(8080));
        assert_eq!(string.to_json(), json!("http"));
        let zero = Some(IntOrString {
            r#type: Some(0),
            int_val: Some(0),
            str_val: Some(String::new()),
        });
        assert_eq!(
            Fields::new()
                .int_or_string_nonzero("targetPort", &zero)
                .build(),
            json!({})
        );
    }
}
