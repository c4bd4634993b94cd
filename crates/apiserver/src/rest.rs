//! The generic resource handlers: get, list, create, update, patch, delete, deletecollection.
//!
//! Objects are JSON values; the kind's typed rules are reached through `KindOps`. The order of
//! a write is kube-apiserver's: decode → system metadata → defaults → allocation (registry) →
//! validation → one store transaction guarded by the object's mod revision.

use bytes::Bytes;
use http::{Response, StatusCode};
use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use ferry_api::selector::{FieldSelector, LabelSelector};
use ferry_api::status::success_status;
use ferry_api::ApiError;
use ferry_store::{KeyValue, Txn};

use crate::context::Ctx;
use crate::graceful::{self, Grace};
use crate::object::{self, collection_prefix, object_key};
use crate::registry::{self, Claims};
use crate::request::Format;
use crate::response::{self, Body};
use crate::ApiServer;

/// Requests larger than this are refused, as kube-apiserver does (3 MiB).
pub(crate) const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Kinds whose `metadata.generation` the server maintains.
const GENERATION_KINDS: &[&str] = &[
    "Deployment",
    "ReplicaSet",
    "ReplicationController",
    "Ingress",
    "EndpointSlice",
    "IngressClass",
];

/// Kinds a PUT may create when the object does not exist yet (`AllowCreateOnUpdate`).
const CREATE_ON_UPDATE_KINDS: &[&str] = &["Endpoints", "Event", "Lease"];

/// Namespaces that may never be deleted.
const PROTECTED_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

type Reply = Result<Response<Body>, ApiError>;

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

/// Parses a stored record and stamps its resourceVersion.
pub(crate) fn decode_stored(kv: &KeyValue) -> Result<Value, ApiError> {
    let mut v: Value = serde_json::from_slice(&kv.value).map_err(internal)?;
    object::set_resource_version(&mut v, kv.mod_revision);
    Ok(v)
}

/// The stored form: the object without its resourceVersion (the store's revision is the truth).
pub(crate) fn encode_for_store(object: &Value) -> Result<Bytes, ApiError> {
    let mut copy = object.clone();
    object::remove_path(&mut copy, &["metadata", "resourceVersion"]);
    serde_json::to_vec(&copy).map(Bytes::from).map_err(internal)
}

impl ApiServer {
    pub(crate) async fn load(&self, key: &str) -> Result<Option<(Value, i64)>, ApiError> {
        match self.store.get(key).await.map_err(internal)? {
            Some(kv) => Ok(Some((decode_stored(&kv)?, kv.mod_revision))),
            None => Ok(None),
        }
    }

    async fn load_existing(&self, ctx: &Ctx) -> Result<(Value, i64), ApiError> {
        let key = object_key(ctx.info, ctx.namespace(), ctx.name());
        self.load(&key)
            .await?
            .ok_or_else(|| ApiError::not_found(&ctx.info.group_resource(), ctx.name()))
    }

    /// Refuses writes into a missing or terminating namespace.
    async fn check_namespace(&self, ctx: &Ctx) -> Result<(), ApiError> {
        let Some(ns) = ctx.namespace() else {
            return Ok(());
        };
        let key = format!("/registry/namespaces/{ns}");
        match self.load(&key).await? {
            None => Err(ApiError::not_found(
                &ferry_api::status::GroupResource::new("", "namespaces"),
                ns,
            )),
            Some((nsobj, _)) if object::is_deleting(&nsobj) => {
                Err(ApiError::namespace_terminating(ns))
            }
            Some(_) => Ok(()),
        }
    }
}

/// The object in the format the client asked for (a one-row Table or JSON).
fn render_one(ctx: &Ctx, object: &Value, code: StatusCode) -> Reply {
    match ctx.format {
        Format::Table => {
            let rv = object::meta_str(object, "resourceVersion")
                .unwrap_or("")
                .to_string();
            let row = table_row(ctx, object, ferry_api::table::now())?;
            Ok(response::json(
                code,
                &ferry_api::table::table(ctx.info.ops.columns(), vec![row], &rv, true),
            ))
        }
        Format::Json => Ok(response::json(code, object)),
    }
}

pub(crate) fn table_row(ctx: &Ctx, object: &Value, now: Timestamp) -> Result<Value, ApiError> {
    let cells = ctx
        .info
        .ops
        .cells(object, now)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut row = match ctx.query.get("includeObject") {
        Some("Object") => {
            json!({"cells": cells.iter().map(|c| c.to_json()).collect::<Vec<_>>(), "object": object})
        }
        Some("None") => json!({"cells": cells.iter().map(|c| c.to_json()).collect::<Vec<_>>()}),
        _ => ferry_api::table::row(&cells, object.get("metadata").unwrap_or(&Value::Null)),
    };
    if let Some(meta) = row
        .pointer_mut("/object/metadata")
        .and_then(Value::as_object_mut)
    {
        meta.remove("managedFields");
    }
    Ok(row)
}

pub(crate) async fn get(srv: &ApiServer, ctx: &Ctx) -> Reply {
    let (object, _) = srv.load_existing(ctx).await?;
    render_one(ctx, &object, StatusCode::OK)
}

/// The label and field selectors of a list or watch.
pub(crate) struct Selectors {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Selectors {
    pub fn from_ctx(ctx: &Ctx) -> Result<Self, ApiError> {
        let labels = match ctx.query.get("labelSelector").filter(|s| !s.is_empty()) {
            Some(s) => {
                Some(LabelSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?)
            }
            None => None,
        };
        let fields = match ctx.query.get("fieldSelector").filter(|s| !s.is_empty()) {
            Some(s) => {
                let f =
                    FieldSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?;
                let supported = supported_fields(ctx.info.kind);
                if let Some(bad) = f.unsupported_field(&supported) {
                    return Err(ApiError::bad_request(format!(
                        "\"{bad}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
                    )));
                }
                Some(f)
            }
            None => None,
        };
        Ok(Selectors { labels, fields })
    }

    /// No selector at all: every object matches.
    pub fn is_everything(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    pub fn matches(&self, ctx: &Ctx, object: &Value) -> bool {
        if let Some(l) = &self.labels {
            if !l.matches(&object::labels(object)) {
                return false;
            }
        }
        if let Some(f) = &self.fields {
            let extra = ctx.info.ops.field_labels(object).unwrap_or_default();
            let get = |field: &str| -> Option<String> {
                match field {
                    "metadata.name" => Some(object::name(object).to_string()),
                    "metadata.namespace" => {
                        Some(object::namespace(object).unwrap_or("").to_string())
                    }
                    other => extra
                        .iter()
                        .find(|(k, _)| *k == other)
                        .map(|(_, v)| v.clone()),
                }
            };
            if !f.matches(get) {
                return false;
            }
        }
        true
    }
}

/// The field selectors each kind supports, beyond `metadata.name` and `metadata.namespace`.
fn supported_fields(kind: &str) -> Vec<&'static str> {
    let mut fields = vec!["metadata.name", "metadata.namespace"];
    fields.extend_from_slice(match kind {
        "Pod" => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ][..],
        "Event" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ][..],
        "Secret" => &["type"][..],
        "Namespace" => &["status.phase"][..],
        "Node" => &["spec.unschedulable"][..],
        "ReplicaSet" | "ReplicationController" => &["status.replicas"][..],
        _ => &[][..],
    });
    fields
}

pub(crate) async fn list(srv: &ApiServer, ctx: &Ctx) -> Reply {
    let selectors = Selectors::from_ctx(ctx)?;
    let prefix = collection_prefix(ctx.info, ctx.namespace());
    let listed = srv.store.list(&prefix, None).await.map_err(internal)?;
    let rv = listed.revision.to_string();
    if ctx.format == Format::Json && selectors.is_everything() {
        if let Some(body) = spliced_list(ctx, &listed.kvs, &rv) {
            let mut resp = http::Response::new(response::full(body));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            return Ok(resp);
        }
    }
    let metadata_rows = !matches!(ctx.query.get("includeObject"), Some("Object" | "None"));
    if ctx.format == Format::Table && selectors.is_everything() && metadata_rows {
        return table_from_stored(ctx, &listed.kvs, &rv);
    }
    let mut items = Vec::with_capacity(listed.kvs.len());
    for kv in &listed.kvs {
        let object = decode_stored(kv)?;
        if selectors.matches(ctx, &object) {
            items.push(object);
        }
    }
    match ctx.format {
        Format::Table => {
            let now = ferry_api::table::now();
            let rows = items
                .iter()
                .map(|o| table_row(ctx, o, now))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(response::json(
                StatusCode::OK,
                &ferry_api::table::table(ctx.info.ops.columns(), rows, &rv, true),
            ))
        }
        Format::Json => Ok(response::json(
            StatusCode::OK,
            &json!({
                "kind": ctx.info.list_kind(),
                "apiVersion": ctx.info.api_version(),
                "metadata": {"resourceVersion": rv},
                "items": items,
            }),
        )),
    }
}

/// A Table of every stored object, each decoded once straight into its kind.
fn table_from_stored(ctx: &Ctx, kvs: &[KeyValue], rv: &str) -> Reply {
    let now = ferry_api::table::now();
    let mut rows = Vec::with_capacity(kvs.len());
    for kv in kvs {
        let (cells, mut metadata) = ctx
            .info
            .ops
            .cells_from_slice(&kv.value, now)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if let Some(meta) = metadata.as_object_mut() {
            meta.insert(
                "resourceVersion".into(),
                Value::from(kv.mod_revision.to_string()),
            );
            meta.remove("managedFields");
        }
        rows.push(ferry_api::table::row(&cells, &metadata));
    }
    Ok(response::json(
        StatusCode::OK,
        &ferry_api::table::table(ctx.info.ops.columns(), rows, rv, true),
    ))
}

/// A JSON list built from the stored bytes without decoding them: each object gets its
/// resourceVersion spliced in as the first field of its metadata. `None` if some record does
/// not have the layout this relies on (then the caller decodes).
fn spliced_list(ctx: &Ctx, kvs: &[KeyValue], rv: &str) -> Option<Vec<u8>> {
    let head = json!({
        "kind": ctx.info.list_kind(),
        "apiVersion": ctx.info.api_version(),
        "metadata": {"resourceVersion": rv},
    });
    let mut out = serde_json::to_vec(&head).ok()?;
    out.pop();
    out.extend_from_slice(br#","items":["#);
    let total: usize = kvs.iter().map(|kv| kv.value.len() + 40).sum();
    out.reserve(total + 2);
    for (i, kv) in kvs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        splice_resource_version(&kv.value, kv.mod_revision, &mut out)?;
    }
    out.extend_from_slice(b"]}");
    Some(out)
}

/// Appends `stored` with `"resourceVersion":"<rev>"` inserted at the start of its top-level
/// metadata. Stored objects are written by this server in the k8s-openapi field order
/// (`apiVersion`, `kind`, `metadata`, ...), so `"metadata":{` is found before any nested object.
fn splice_resource_version(stored: &[u8], revision: i64, out: &mut Vec<u8>) -> Option<()> {
    const MARKER: &[u8] = br#""metadata":{"#;
    let at = stored.windows(MARKER.len()).position(|w| w == MARKER)? + MARKER.len();
    // Only the two plain strings apiVersion and kind may come before metadata.
    if stored[1..at - 1].contains(&b'{') {
        return None;
    }
    out.extend_from_slice(&stored[..at]);
    out.extend_from_slice(format!(r#""resourceVersion":"{revision}""#).as_bytes());
    if stored.get(at) != Some(&b'}') {
        out.push(b',');
    }
    out.extend_from_slice(&stored[at..]);
    Some(())
}

/// Decodes a request body by its content type: JSON, YAML or Kubernetes protobuf.
pub(crate) fn decode_body(ctx: &Ctx, body: &[u8]) -> Result<Value, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let content_type = ctx.header("content-type").unwrap_or("application/json");
    let media = content_type.split(';').next().unwrap_or("").trim();
    let value: Value = match media {
        "application/json" | "" | "*/*" => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        "application/yaml" => yaml_serde::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; yaml parse error: {e}"))
        })?,
        "application/vnd.kubernetes.protobuf" => ferry_api::protobuf::decode_protobuf(body)
            .map_err(|e| ApiError::bad_request(format!("failed to decode protobuf body: {e}")))?,
        other => {
            return Err(ApiError::unsupported_media_type(
                other,
                &[
                    "application/json",
                    "application/yaml",
                    "application/vnd.kubernetes.protobuf",
                ],
            ))
        }
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "couldn't get version/kind; json parse error: the request body is not a JSON object",
        ));
    }
    Ok(value)
}

/// Checks `apiVersion`/`kind` of a body against the URL's resource.
fn check_type_meta(ctx: &Ctx, body: &Value) -> Result<(), ApiError> {
    let expected_version = ctx.info.api_version();
    if let Some(v) = body
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
    {
        if v != expected_version {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected_version})"
            )));
        }
    }
    if let Some(k) = body
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
    {
        if k != ctx.info.kind {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                ctx.info.kind
            )));
        }
    }
    Ok(())
}

/// Decodes into the kind's type and applies `fieldValidation` to fields the type does not know.
fn decode_typed(ctx: &Ctx, body: &Value, warnings: &mut Vec<String>) -> Result<Value, ApiError> {
    check_type_meta(ctx, body)?;
    let (object, unknown) = ctx
        .info
        .ops
        .decode(body)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !unknown.is_empty() {
        let described: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        match ctx.query.get("fieldValidation").unwrap_or("Warn") {
            "Strict" => {
                return Err(ApiError::bad_request(format!(
                    "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                    described.join(", "),
                    kind = ctx.info.kind,
                    version = ctx.info.version,
                )))
            }
            "Ignore" => {}
            _ => warnings.extend(described),
        }
    }
    Ok(object)
}

/// Checks the body's namespace against the URL's and fills it in.
fn settle_namespace(ctx: &Ctx, object: &mut Value) -> Result<(), ApiError> {
    match ctx.namespace() {
        Some(ns) => {
            if let Some(given) = object::namespace(object) {
                if given != ns {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
            }
            object::set_meta(object, "namespace", Value::from(ns));
        }
        None => object::remove_path(object, &["metadata", "namespace"]),
    }
    Ok(())
}

/// The status a new object starts with, for kinds whose status the server owns.
fn initial_status(kind: &str) -> Option<Value> {
    match kind {
        "Service" | "Ingress" => Some(json!({"loadBalancer": {}})),
        "Deployment" | "ReplicaSet" | "ReplicationController" => Some(json!({})),
        "Pod" => Some(json!({"phase": "Pending", "qosClass": "BestEffort"})),
        "Namespace" => Some(json!({"phase": "Active"})),
        _ => None,
    }
}

/// Fills the system fields of a new object (name from generateName, uid, timestamps, status).
fn prepare_for_create(ctx: &Ctx, object: &mut Value) -> Result<(), ApiError> {
    settle_namespace(ctx, object)?;
    if object::name(object).is_empty() {
        if let Some(base) = object::meta_str(object, "generateName").map(str::to_string) {
            if !base.is_empty() {
                let base: String = base.chars().take(58).collect();
                object::set_meta(
                    object,
                    "name",
                    Value::from(format!("{base}{}", object::random_suffix())),
                );
            }
        }
    }
    let Some(meta) = object::metadata_mut(object) else {
        return Err(ApiError::bad_request("the object has no metadata"));
    };
    for field in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    ] {
        meta.remove(field);
    }
    meta.insert("uid".into(), Value::from(uuid::Uuid::new_v4().to_string()));
    meta.insert(
        "creationTimestamp".into(),
        Value::from(object::now_rfc3339()),
    );
    if GENERATION_KINDS.contains(&ctx.info.kind) {
        meta.insert("generation".into(), Value::from(1));
    } else {
        meta.remove("generation");
    }
    if let Some(status) = initial_status(ctx.info.kind) {
        object["status"] = status;
    }
    Ok(())
}

fn invalid(ctx: &Ctx, object: &Value, errors: &[ferry_api::field::FieldError]) -> ApiError {
    ApiError::invalid(ctx.info.group, ctx.info.kind, object::name(object), errors)
}

/// The common create path, for POST and for PUT/apply of a missing object.
async fn create_object(
    srv: &ApiServer,
    ctx: &Ctx,
    body: &Value,
    warnings: &mut Vec<String>,
) -> Result<Value, ApiError> {
    let mut object = decode_typed(ctx, body, warnings)?;
    prepare_for_create(ctx, &mut object)?;
    ctx.info
        .ops
        .set_defaults(&mut object)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if object::name(&object).is_empty() {
        let errs = [ferry_api::field::FieldError::required(
            "metadata.name",
            "name or generateName is required",
        )];
        return Err(invalid(ctx, &object, &errs));
    }
    let key = object_key(ctx.info, ctx.namespace(), object::name(&object));
    // An existing name is the clearer answer than an allocation error for its cluster IP.
    if srv.store.get(&key).await.map_err(internal)?.is_some() {
        return Err(ApiError::already_exists(
            &ctx.info.group_resource(),
            object::name(&object),
        ));
    }
    let claims = registry::prepare_create(srv, ctx.info, &mut object)?;
    let errors = ctx
        .info
        .ops
        .validate_create(&object, ctx.info.namespaced)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !errors.is_empty() {
        registry::abandon(srv, claims);
        return Err(invalid(ctx, &object, &errors));
    }
    warnings.extend(ctx.info.ops.warnings(&object).unwrap_or_default());
    if ctx.dry_run() {
        registry::abandon(srv, claims);
        return Ok(object);
    }
    let value = encode_for_store(&object)?;
    let mut txn = Txn::create(key, value);
    txn.compares.extend(claims.compares.iter().cloned());
    txn.success.extend(claims.ops.iter().cloned());
    let resp = srv.store.txn(txn).await.map_err(internal)?;
    if !resp.succeeded {
        let exists = resp.current.first().is_some_and(Option::is_some);
        registry::abandon(srv, claims);
        if exists {
            return Err(ApiError::already_exists(
                &ctx.info.group_resource(),
                object::name(&object),
            ));
        }
        return Err(ApiError::conflict(
            &ctx.info.group_resource(),
            object::name(&object),
            "an allocated address or port was taken concurrently; please retry",
        ));
    }
    registry::committed(srv, claims);
    object::set_resource_version(&mut object, resp.revision);
    Ok(object)
}

pub(crate) async fn create(srv: &ApiServer, ctx: &Ctx, body: &[u8]) -> Reply {
    let body = decode_body(ctx, body)?;
    srv.check_namespace(ctx).await?;
    let mut warnings = Vec::new();
    let object = create_object(srv, ctx, &body, &mut warnings).await?;
    let mut resp = render_one(ctx, &object, StatusCode::CREATED)?;
    response::add_warnings(&mut resp, &warnings);
    Ok(resp)
}

/// Which part of the object an update may change.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpdateScope {
    /// The main resource: everything but status.
    Main,
    /// The status subresource: status only.
    Status,
    /// A namespace's `finalize` subresource: `spec.finalizers` only.
    Finalize,
}

/// The result of merging a request's object with the stored one.
fn merge_update(
    ctx: &Ctx,
    mut new: Value,
    old: &Value,
    scope: UpdateScope,
) -> Result<Value, ApiError> {
    if scope == UpdateScope::Finalize {
        let mut merged = old.clone();
        merged["spec"]["finalizers"] = new
            .pointer("/spec/finalizers")
            .cloned()
            .unwrap_or(json!([]));
        return Ok(merged);
    }
    if scope == UpdateScope::Status {
        let mut merged = old.clone();
        merged["status"] = new.get("status").cloned().unwrap_or(Value::Null);
        if merged["status"].is_null() {
            if let Some(map) = merged.as_object_mut() {
                map.remove("status");
            }
        }
        return Ok(merged);
    }
    settle_namespace(ctx, &mut new)?;
    let old_meta = object::metadata(old).cloned().unwrap_or_default();
    if let Some(meta) = object::metadata_mut(&mut new) {
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old_meta.get(field) {
                Some(v) => meta.insert(field.to_string(), v.clone()),
                None => meta.remove(field),
            };
        }
    }
    ctx.info
        .ops
        .prepare_for_update(&mut new, old)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if ctx.info.has_subresource("status") {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(map) = new.as_object_mut() {
                    map.remove("status");
                }
            }
        }
    }
    Ok(new)
}

/// Bumps `metadata.generation` when anything but metadata and status changed.
fn bump_generation(ctx: &Ctx, new: &mut Value, old: &Value) {
    if !GENERATION_KINDS.contains(&ctx.info.kind) {
        return;
    }
    let strip = |v: &Value| {
        let mut c = v.clone();
        if let Some(m) = c.as_object_mut() {
            m.remove("metadata");
            m.remove("status");
        }
        c
    };
    if strip(new) != strip(old) {
        let generation = object::metadata(old)
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        object::set_meta(new, "generation", Value::from(generation + 1));
    }
}

/// Is this object done: marked for deletion with no finalizers left?
fn ready_to_remove(kind: &str, object: &Value) -> bool {
    if !object::is_deleting(object) || !object::finalizers(object).is_empty() {
        return false;
    }
    if kind == "Namespace" {
        let spec_finalizers = object
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        return !spec_finalizers;
    }
    true
}

/// The common update path: validate `new` (already merged) against `old` and write it.
async fn write_update(
    srv: &ApiServer,
    ctx: &Ctx,
    mut new: Value,
    old: &Value,
    old_revision: i64,
    warnings: &mut Vec<String>,
) -> Result<Value, ApiError> {
    ctx.info
        .ops
        .set_defaults(&mut new)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let claims = registry::prepare_update(srv, ctx.info, &mut new, old)?;
    let errors = ctx
        .info
        .ops
        .validate_update(&new, old, ctx.info.namespaced)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !errors.is_empty() {
        registry::abandon(srv, claims);
        return Err(invalid(ctx, &new, &errors));
    }
    bump_generation(ctx, &mut new, old);
    warnings.extend(ctx.info.ops.warnings(&new).unwrap_or_default());
    let key = object_key(ctx.info, ctx.namespace(), ctx.name());
    let unchanged = encode_for_store(&new)? == encode_for_store(old)?;
    if ctx.dry_run() || unchanged {
        registry::abandon(srv, claims);
        object::set_resource_version(&mut new, old_revision);
        return Ok(new);
    }
    if ready_to_remove(ctx.info.kind, &new) {
        registry::abandon(srv, claims);
        remove_object(srv, ctx, &key, old, old_revision).await?;
        return Ok(new);
    }
    let mut txn = Txn::update(key, old_revision, encode_for_store(&new)?);
    txn.compares.extend(claims.compares.iter().cloned());
    txn.success.extend(claims.ops.iter().cloned());
    let resp = srv.store.txn(txn).await.map_err(internal)?;
    if !resp.succeeded {
        registry::abandon(srv, claims);
        return Err(ApiError::stale(&ctx.info.group_resource(), ctx.name()));
    }
    registry::committed(srv, claims);
    object::set_resource_version(&mut new, resp.revision);
    Ok(new)
}

/// Deletes the stored object and releases what it held.
async fn remove_object(
    srv: &ApiServer,
    ctx: &Ctx,
    key: &str,
    old: &Value,
    revision: i64,
) -> Result<(), ApiError> {
    let claims: Claims = registry::prepare_delete(ctx.info, old);
    let mut txn = Txn::delete(key.to_string(), revision);
    txn.success.extend(claims.ops.iter().cloned());
    let resp = srv.store.txn(txn).await.map_err(internal)?;
    if !resp.succeeded {
        return Err(ApiError::stale(&ctx.info.group_resource(), ctx.name()));
    }
    registry::committed(srv, claims);
    Ok(())
}

fn body_resource_version(object: &Value) -> Option<i64> {
    object::meta_str(object, "resourceVersion")
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
}

pub(crate) async fn update(srv: &ApiServer, ctx: &Ctx, body: &[u8], scope: UpdateScope) -> Reply {
    let body = decode_body(ctx, body)?;
    let mut warnings = Vec::new();
    let decoded = decode_typed(ctx, &body, &mut warnings)?;
    let body_name = object::name(&decoded);
    if body_name != ctx.name() {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            ctx.name()
        )));
    }
    let key = object_key(ctx.info, ctx.namespace(), ctx.name());
    let Some((old, revision)) = srv.load(&key).await? else {
        if CREATE_ON_UPDATE_KINDS.contains(&ctx.info.kind) && scope == UpdateScope::Main {
            srv.check_namespace(ctx).await?;
            let object = create_object(srv, ctx, &body, &mut warnings).await?;
            let mut resp = render_one(ctx, &object, StatusCode::CREATED)?;
            response::add_warnings(&mut resp, &warnings);
            return Ok(resp);
        }
        return Err(ApiError::not_found(&ctx.info.group_resource(), ctx.name()));
    };
    if let Some(rv) = body_resource_version(&decoded) {
        if rv != revision {
            return Err(ApiError::stale(&ctx.info.group_resource(), ctx.name()));
        }
    }
    let merged = merge_update(ctx, decoded, &old, scope)?;
    let object = write_update(srv, ctx, merged, &old, revision, &mut warnings).await?;
    let mut resp = render_one(ctx, &object, StatusCode::OK)?;
    response::add_warnings(&mut resp, &warnings);
    Ok(resp)
}

/// How many times a patch is re-applied when the object changed underneath it.
const PATCH_RETRIES: usize = 5;

pub(crate) async fn patch(srv: &ApiServer, ctx: &Ctx, body: &[u8], scope: UpdateScope) -> Reply {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let content_type = ctx.header("content-type").unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    let Some(patch_type) = ferry_api::patch::PatchType::from_content_type(media) else {
        return Err(ApiError::unsupported_media_type(
            media,
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ],
        ));
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (current, revision) = srv.load_existing(ctx).await?;
        let patched = ferry_api::patch::apply_patch(
            ferry_api::patch::PatchKindRef::new(ctx.info.group, ctx.info.kind),
            &current,
            patch_type,
            body,
        )
        .map_err(patch_error)?;
        let patched = strip_directives(patched);
        let pinned = body_resource_version(&patched).filter(|rv| *rv != revision);
        if pinned.is_some() {
            return Err(ApiError::stale(&ctx.info.group_resource(), ctx.name()));
        }
        let mut warnings = Vec::new();
        let decoded = decode_typed(ctx, &patched, &mut warnings)?;
        if object::name(&decoded) != ctx.name() {
            return Err(ApiError::bad_request(
                "metadata.name: the name may not be changed by a patch",
            ));
        }
        let merged = merge_update(ctx, decoded, &current, scope)?;
        match write_update(srv, ctx, merged, &current, revision, &mut warnings).await {
            Err(e) if e.reason == "Conflict" && attempt < PATCH_RETRIES => continue,
            Err(e) => return Err(e),
            Ok(object) => {
                let mut resp = render_one(ctx, &object, StatusCode::OK)?;
                response::add_warnings(&mut resp, &warnings);
                return Ok(resp);
            }
        }
    }
}

/// Drops `$`-prefixed patch directives a strategic merge patch leaves inside values it copied
/// from the patch; upstream's typed decoding drops them the same way.
fn strip_directives(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k, strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_directives).collect()),
        other => other,
    }
}

/// A patch that does not apply, with the code and reason kube-apiserver answers with.
fn patch_error(e: ferry_api::patch::PatchError) -> ApiError {
    let code = e.status_code();
    let reason = match code {
        400 => "BadRequest",
        413 => "RequestEntityTooLarge",
        422 => "Invalid",
        _ => "",
    };
    ApiError {
        code,
        reason,
        message: e.to_string(),
        details: None,
    }
}

/// `DeleteOptions` as far as ferry honours them.
struct DeleteOptions {
    propagation: String,
    grace_period_seconds: Option<i64>,
    precondition_uid: Option<String>,
    precondition_rv: Option<String>,
}

fn delete_options(ctx: &Ctx, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    let parsed: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid delete options: {e}")))?
    };
    let propagation = parsed
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .or(ctx.query.get("propagationPolicy"))
        .map(str::to_string)
        .unwrap_or_else(|| DEFAULT_PROPAGATION.to_string());
    if !["Background", "Foreground", "Orphan"].contains(&propagation.as_str()) {
        let errs = [ferry_api::field::FieldError::not_supported(
            "propagationPolicy",
            propagation.as_str(),
            &["Foreground", "Background", "Orphan", "nil"],
        )];
        return Err(ApiError::invalid("", "DeleteOptions", "", &errs));
    }
    let grace_period_seconds = match parsed.get("gracePeriodSeconds") {
        Some(Value::Null) | None => ctx
            .query
            .get("gracePeriodSeconds")
            .map(|s| {
                s.parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid gracePeriodSeconds {s:?}")))
            })
            .transpose()?,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            ApiError::bad_request(format!("invalid delete options: gracePeriodSeconds {v}"))
        })?),
    };
    Ok(DeleteOptions {
        propagation,
        grace_period_seconds,
        precondition_uid: parsed
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string),
        precondition_rv: parsed
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// Kinds whose registry answers a delete with the deleted object (`ReturnDeletedObject`);
/// the others answer with a Success Status.
const RETURN_DELETED_OBJECT: &[&str] = &["Service", "Pod", "Namespace"];

/// The propagation of a delete that names none (kubectl always sends `Background`).
const DEFAULT_PROPAGATION: &str = "Background";

pub(crate) async fn delete(srv: &ApiServer, ctx: &Ctx, body: &[u8]) -> Reply {
    let options = delete_options(ctx, body)?;
    let (object, revision) = srv.load_existing(ctx).await?;
    let deleted = delete_one(srv, ctx, object, revision, &options).await?;
    match deleted {
        Deleted::Pending(object) => render_one(ctx, &object, StatusCode::ACCEPTED),
        // Upstream answers a graceful pod deletion with 200 and the terminating pod.
        Deleted::Graceful(object) => render_one(ctx, &object, StatusCode::OK),
        Deleted::Gone(object) => {
            let uid = object::meta_str(&object, "uid").unwrap_or("").to_string();
            if RETURN_DELETED_OBJECT.contains(&ctx.info.kind) {
                render_one(ctx, &object, StatusCode::OK)
            } else {
                Ok(response::json(
                    StatusCode::OK,
                    &success_status(&ctx.info.group_resource(), ctx.name(), &uid),
                ))
            }
        }
    }
}

enum Deleted {
    /// Marked for deletion; finalizers or the namespace controller still have work to do.
    Pending(Value),
    /// A pod marked terminating for its grace period; its node agent finishes the deletion.
    Graceful(Value),
    Gone(Value),
}

async fn delete_one(
    srv: &ApiServer,
    ctx: &Ctx,
    mut object: Value,
    revision: i64,
    options: &DeleteOptions,
) -> Result<Deleted, ApiError> {
    let name = object::name(&object).to_string();
    let gr = ctx.info.group_resource();
    if let Some(uid) = &options.precondition_uid {
        if object::meta_str(&object, "uid") != Some(uid.as_str()) {
            return Err(ApiError::conflict(
                &gr,
                &name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    object::meta_str(&object, "uid").unwrap_or("")
                ),
            ));
        }
    }
    if let Some(rv) = &options.precondition_rv {
        if rv != &revision.to_string() {
            return Err(ApiError::stale(&gr, &name));
        }
    }
    if ctx.info.kind == "Namespace" && PROTECTED_NAMESPACES.contains(&name.as_str()) {
        return Err(ApiError::forbidden(format!(
            "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
        )));
    }
    if ctx.info.kind == "Pod" {
        let now = time::OffsetDateTime::now_utc();
        match graceful::pod_grace(&object, options.grace_period_seconds, now) {
            Grace::Immediate => {}
            Grace::Pending => return Ok(Deleted::Graceful(object)),
            Grace::Mark {
                deletion_timestamp,
                seconds,
            } => {
                if let Some(meta) = object::metadata_mut(&mut object) {
                    meta.insert("deletionTimestamp".into(), Value::from(deletion_timestamp));
                    meta.insert("deletionGracePeriodSeconds".into(), Value::from(seconds));
                }
                if ctx.dry_run() {
                    return Ok(Deleted::Graceful(object));
                }
                let key = object_key(ctx.info, ctx.namespace(), &name);
                let resp = srv
                    .store
                    .txn(Txn::update(key, revision, encode_for_store(&object)?))
                    .await
                    .map_err(internal)?;
                if !resp.succeeded {
                    return Err(ApiError::stale(&gr, &name));
                }
                object::set_resource_version(&mut object, resp.revision);
                return Ok(Deleted::Graceful(object));
            }
        }
    }
    let mut finalizers = object::finalizers(&object);
    match options.propagation.as_str() {
        "Orphan" => finalizers.push("orphan".to_string()),
        "Foreground" => finalizers.push("foregroundDeletion".to_string()),
        _ => {}
    }
    finalizers.dedup();
    let namespace_needs_finalize = ctx.info.kind == "Namespace"
        && object
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
    if finalizers.is_empty() && !namespace_needs_finalize {
        if ctx.dry_run() {
            return Ok(Deleted::Gone(object));
        }
        let key = object_key(ctx.info, ctx.namespace(), &name);
        remove_object(srv, ctx, &key, &object, revision).await?;
        return Ok(Deleted::Gone(object));
    }
    if object::is_deleting(&object) && object::finalizers(&object) == finalizers {
        return Ok(Deleted::Pending(object));
    }
    if let Some(meta) = object::metadata_mut(&mut object) {
        meta.entry("deletionTimestamp")
            .or_insert_with(|| Value::from(object::now_rfc3339()));
        meta.insert("deletionGracePeriodSeconds".into(), Value::from(0));
        if !finalizers.is_empty() {
            meta.insert("finalizers".into(), json!(finalizers));
        }
    }
    if ctx.info.kind == "Namespace" {
        object["status"] = json!({"phase": "Terminating"});
    }
    if ctx.dry_run() {
        return Ok(Deleted::Pending(object));
    }
    let key = object_key(ctx.info, ctx.namespace(), &name);
    let resp = srv
        .store
        .txn(Txn::update(key, revision, encode_for_store(&object)?))
        .await
        .map_err(internal)?;
    if !resp.succeeded {
        return Err(ApiError::stale(&gr, &name));
    }
    object::set_resource_version(&mut object, resp.revision);
    Ok(Deleted::Pending(object))
}

pub(crate) async fn delete_collection(srv: &ApiServer, ctx: &Ctx, body: &[u8]) -> Reply {
    let options = delete_options(ctx, body)?;
    let selectors = Selectors::from_ctx(ctx)?;
    let prefix = collection_prefix(ctx.info, ctx.namespace());
    let listed = srv.store.list(&prefix, None).await.map_err(internal)?;
    let mut items = Vec::new();
    for kv in &listed.kvs {
        let object = decode_stored(kv)?;
        if !selectors.matches(ctx, &object) {
            continue;
        }
        match delete_one(srv, ctx, object, kv.mod_revision, &options).await {
            Ok(Deleted::Gone(o) | Deleted::Pending(o) | Deleted::Graceful(o)) => items.push(o),
            Err(e) if e.code == 404 || e.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(response::json(
        StatusCode::OK,
        &json!({
            "kind": ctx.info.list_kind(),
            "apiVersion": ctx.info.api_version(),
            "metadata": {"resourceVersion": listed.revision.to_string()},
            "items": items,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spliced(stored: &str) -> Option<Value> {
        let mut out = Vec::new();
        splice_resource_version(stored.as_bytes(), 42, &mut out)?;
        serde_json::from_slice(&out).ok()
    }

    #[test]
    fn resource_version_is_spliced_into_metadata() {
        let v = spliced(
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"kubia"},"spec":{}}"#,
        );
        assert_eq!(
            v,
            Some(
                json!({"apiVersion":"v1","kind":"Service","metadata":{"resourceVersion":"42","name":"kubia"},"spec":{}})
            )
        );
        let empty = spliced(r#"{"apiVersion":"v1","kind":"X","metadata":{}}"#);
        assert_eq!(
            empty.and_then(|v| v["metadata"]["resourceVersion"]
                .as_str()
                .map(str::to_string)),
            Some("42".into())
        );
        assert!(
            spliced(r#"{"spec":{"metadata":{}},"metadata":{}}"#).is_none(),
            "nested metadata first"
        );
        assert!(spliced(r#"{"kind":"X"}"#).is_none());
    }
}
