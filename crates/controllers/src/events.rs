//! Events about objects (core/v1 `Event`), recorded as client-go's `record.EventRecorder`
//! does: one Event per distinct (object, type, reason, message), later repeats folded into its
//! `count` and `lastTimestamp`. Recording is best effort: a failure is logged, never returned,
//! because an event must not stop the work it reports.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use ferry_runtime::Client;

use crate::clock;
use crate::error::report;
use crate::resources;

/// Repeats remembered at most; upstream's event cache holds as many.
const MAX_REMEMBERED: usize = 4096;

/// `type` of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// The object an event is about (`involvedObject`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct InvolvedObject {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    pub resource_version: Option<String>,
}

impl InvolvedObject {
    /// A reference to a stored object.
    pub(crate) fn of(api_version: &'static str, kind: &'static str, meta: &ObjectMeta) -> Self {
        InvolvedObject {
            api_version,
            kind,
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone(),
        }
    }

    /// A Node, referenced as upstream's node controllers and kubectl do: by name, with the
    /// name as uid.
    pub(crate) fn node(name: &str) -> Self {
        InvolvedObject {
            api_version: "v1",
            kind: "Node",
            namespace: None,
            name: name.to_string(),
            uid: name.to_string(),
            resource_version: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut reference = json!({
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "apiVersion": self.api_version,
        });
        if let Some(ns) = &self.namespace {
            reference["namespace"] = Value::from(ns.clone());
        }
        if let Some(rv) = &self.resource_version {
            reference["resourceVersion"] = Value::from(rv.clone());
        }
        reference
    }
}

/// What makes two events the same event (its count goes up instead of a new Event).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct EventKey {
    kind: &'static str,
    namespace: Option<String>,
    name: String,
    uid: String,
    event_type: EventType,
    reason: String,
    message: String,
}

/// An event already written.
#[derive(Clone, Debug)]
struct Recorded {
    name: String,
    namespace: String,
    count: i64,
}

/// Records events as one component (`source.component`, e.g. `default-scheduler`).
#[derive(Clone)]
pub(crate) struct EventRecorder {
    client: Client,
    component: &'static str,
    recorded: Arc<Mutex<HashMap<EventKey, Recorded>>>,
}

impl EventRecorder {
    pub(crate) fn new(client: Client, component: &'static str) -> Self {
        EventRecorder {
            client,
            component,
            recorded: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Records one occurrence of an event about `about`.
    pub(crate) async fn record(
        &self,
        about: &InvolvedObject,
        event_type: EventType,
        reason: &str,
        message: &str,
    ) {
        let Ok(info) = resources::events() else {
            return;
        };
        let key = EventKey {
            kind: about.kind,
            namespace: about.namespace.clone(),
            name: about.name.clone(),
            uid: about.uid.clone(),
            event_type,
            reason: reason.to_string(),
            message: message.to_string(),
        };
        let now = clock::now();
        let seen = self.remembered(&key);
        if let Some(seen) = seen {
            let patch = json!({"count": seen.count + 1, "lastTimestamp": clock::rfc3339(now)});
            match self
                .client
                .merge_patch(info, Some(&seen.namespace), &seen.name, &patch)
                .await
            {
                Ok(_) => {
                    self.remember(
                        key,
                        Recorded {
                            count: seen.count + 1,
                            ..seen
                        },
                    );
                    return;
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    tracing::warn!(reason, error = %report(&e), "could not update an event");
                    return;
                }
            }
        }
        let event = new_event(self.component, about, event_type, reason, message, now);
        let namespace = event_namespace(about);
        match self.client.create(info, Some(&namespace), &event).await {
            Ok(created) => {
                let name = created
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                self.remember(
                    key,
                    Recorded {
                        name,
                        namespace,
                        count: 1,
                    },
                );
            }
            Err(e) => tracing::warn!(reason, error = %report(&e), "could not record an event"),
        }
    }

    fn remembered(&self, key: &EventKey) -> Option<Recorded> {
        self.recorded.lock().ok()?.get(key).cloned()
    }

    fn remember(&self, key: EventKey, recorded: Recorded) {
        if let Ok(mut map) = self.recorded.lock() {
            if map.len() >= MAX_REMEMBERED && !map.contains_key(&key) {
                map.clear();
            }
            map.insert(key, recorded);
        }
    }
}

/// A new Event with count 1, reported by `component`.
fn new_event(
    component: &str,
    about: &InvolvedObject,
    event_type: EventType,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> Value {
    let at = clock::rfc3339(now);
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": event_name(&about.name, clock::exact_now()),
            "namespace": event_namespace(about),
        },
        "involvedObject": about.to_json(),
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": 1,
        "type": event_type.as_str(),
        "reportingComponent": component,
        "reportingInstance": "",
    })
}

/// Events live in their object's namespace; events about cluster-scoped objects in `default`.
fn event_namespace(about: &InvolvedObject) -> String {
    about
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

/// `<object name>.<nanoseconds since the epoch in hex>`, upstream's event names.
fn event_name(object: &str, at: Timestamp) -> String {
    format!("{object}.{:x}", at.as_nanosecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_namespaces_follow_upstream() {
        let at = Timestamp::from_nanosecond(1_700_000_000_123_456_789).unwrap();
        assert_eq!(
            event_name("kubia-x2b4k", at),
            "kubia-x2b4k.17979cfe3d85cd15"
        );
        let node = InvolvedObject::node("node-1");
        assert_eq!(event_namespace(&node), "default");
        assert_eq!(
            node.to_json(),
            json!({"kind": "Node", "name": "node-1", "uid": "node-1", "apiVersion": "v1"})
        );
    }

    #[test]
    fn events_carry_their_source_and_object() {
        let meta = ObjectMeta {
            name: Some("kubia".into()),
            namespace: Some("default".into()),
            uid: Some("u1".into()),
            resource_version: Some("7".into()),
            ..ObjectMeta::default()
        };
        let about = InvolvedObject::of("apps/v1", "ReplicaSet", &meta);
        let at = Timestamp::from_second(1_700_000_000).unwrap();
        let event = new_event(
            "replicaset-controller",
            &about,
            EventType::Normal,
            "SuccessfulCreate",
            "Created pod: kubia-x2b4k",
            at,
        );
        assert_eq!(event["metadata"]["namespace"], "default");
        assert_eq!(
            event["involvedObject"],
            json!({"kind": "ReplicaSet", "namespace": "default", "name": "kubia", "uid": "u1", "apiVersion": "apps/v1", "resourceVersion": "7"})
        );
        assert_eq!(
            event["source"],
            json!({"component": "replicaset-controller"})
        );
        assert_eq!(event["firstTimestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(
            (event["count"].clone(), event["type"].clone()),
            (json!(1), json!("Normal"))
        );
    }
}
