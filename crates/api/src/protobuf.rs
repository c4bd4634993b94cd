//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), as
//! `kubectl create secret|configmap|namespace|deployment|service|ingress` sends them.
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` whose `typeMeta` names the
//! kind and whose `raw` holds the object encoded with the upstream `generated.proto` messages.
//! [`decode_protobuf`] turns it into the JSON a JSON client would have sent for the same
//! object, so the rest of the API server only ever sees JSON.

mod apps;
mod core_group;
mod json;
mod networking;
mod pod;

use k8s_pb::api::apps::v1 as apps_v1;
use k8s_pb::api::core::v1 as core_v1;
use k8s_pb::api::discovery::v1 as discovery_v1;
use k8s_pb::api::networking::v1 as networking_v1;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{Map, Value};

use self::json::ToJson;

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Why a protobuf body could not be turned into JSON.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    #[error("protobuf body does not start with the k8s\\0 magic")]
    MissingMagic,
    #[error("decode runtime.Unknown envelope")]
    Envelope(#[source] prost::DecodeError),
    #[error("protobuf envelope has no apiVersion and kind")]
    MissingTypeMeta,
    #[error("unsupported protobuf content encoding {0:?}")]
    ContentEncoding(String),
    #[error("no kind {kind:?} is registered for version {api_version:?}")]
    UnknownKind { api_version: String, kind: String },
    #[error("decode {kind} in version {api_version:?}")]
    Object {
        api_version: String,
        kind: String,
        #[source]
        source: prost::DecodeError,
    },
}

/// Decodes a protobuf request body into the object's JSON form, `apiVersion` and `kind`
/// included.
pub fn decode_protobuf(body: &[u8]) -> Result<Value, ProtobufError> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or(ProtobufError::MissingMagic)?;
    let unknown = Unknown::decode(envelope).map_err(ProtobufError::Envelope)?;
    if let Some(encoding) = unknown.content_encoding.filter(|e| !e.is_empty()) {
        return Err(ProtobufError::ContentEncoding(encoding));
    }
    let type_meta = unknown.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    if api_version.is_empty() || kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta);
    }
    let raw = unknown.raw.unwrap_or_default();
    let fields = object_fields(&api_version, &kind, &raw).map_err(|e| match e {
        Decode::Unknown => ProtobufError::UnknownKind {
            api_version: api_version.clone(),
            kind: kind.clone(),
        },
        Decode::Failed(source) => ProtobufError::Object {
            api_version: api_version.clone(),
            kind: kind.clone(),
            source,
        },
    })?;
    let mut object = Map::new();
    object.insert("apiVersion".to_string(), Value::from(api_version));
    object.insert("kind".to_string(), Value::from(kind));
    if let Value::Object(fields) = fields {
        object.extend(fields);
    }
    Ok(Value::Object(object))
}

/// Why `raw` did not decode.
enum Decode {
    Unknown,
    Failed(prost::DecodeError),
}

/// The JSON fields (metadata, spec, ...) of `raw` decoded as `kind` of `api_version`.
fn object_fields(api_version: &str, kind: &str, raw: &[u8]) -> Result<Value, Decode> {
    match (api_version, kind) {
        ("v1", "ConfigMap") => decode::<core_v1::ConfigMap>(raw),
        ("v1", "Endpoints") => decode::<core_v1::Endpoints>(raw),
        ("v1", "Namespace") => decode::<core_v1::Namespace>(raw),
        ("v1", "Pod") => decode::<core_v1::Pod>(raw),
        ("v1", "ReplicationController") => decode::<core_v1::ReplicationController>(raw),
        ("v1", "Secret") => decode::<core_v1::Secret>(raw),
        ("v1", "Service") => decode::<core_v1::Service>(raw),
        ("apps/v1", "Deployment") => decode::<apps_v1::Deployment>(raw),
        ("apps/v1", "ReplicaSet") => decode::<apps_v1::ReplicaSet>(raw),
        ("discovery.k8s.io/v1", "EndpointSlice") => decode::<discovery_v1::EndpointSlice>(raw),
        ("networking.k8s.io/v1", "Ingress") => decode::<networking_v1::Ingress>(raw),
        ("networking.k8s.io/v1", "IngressClass") => decode::<networking_v1::IngressClass>(raw),
        _ => Err(Decode::Unknown),
    }
}

fn decode<M: Message + Default + ToJson>(raw: &[u8]) -> Result<Value, Decode> {
    let message = M::decode(raw).map_err(Decode::Failed)?;
    Ok(message.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_is_required() {
        assert!(matches!(
            decode_protobuf(b"{\"kind\":\"Secret\"}"),
            Err(ProtobufError::MissingMagic)
        ));
    }
}
