//! The `endpoints.kubernetes.io/last-change-trigger-time` annotation, as upstream's
//! `TriggerTimeTracker` computes it: the earliest change (a pod's Ready transition, or the
//! Service's creation) seen since the previous pass over the Service. Its memory is only ever
//! derived; after a restart every Service counts as new and reports its creation time.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::jiff::Timestamp;

use crate::pod;

/// `namespace/name` of a Service.
pub(crate) type ServiceKey = (String, String);

/// What the previous pass saw of one Service.
#[derive(Clone, Debug, Default)]
struct Seen {
    service: Option<Timestamp>,
    pods: BTreeMap<String, Timestamp>,
}

/// Trigger times per Service, one tracker per controller.
#[derive(Debug, Default)]
pub(crate) struct TriggerTimes {
    services: HashMap<ServiceKey, Seen>,
}

impl TriggerTimes {
    /// `ComputeEndpointLastChangeTriggerTime` for the Service and the pods its selector picks;
    /// `None` means "no annotation". Records what was seen for the next pass.
    pub(crate) fn compute(&mut self, svc: &Service, pods: &[&Pod]) -> Option<Timestamp> {
        let key = key_of(svc);
        let known = self.services.get(&key);
        let previous = known.cloned().unwrap_or_default();
        let mut earliest: Option<Timestamp> = None;
        let mut seen = Seen::default();
        for p in pods {
            let Some(at) = pod_trigger_time(p) else {
                continue;
            };
            let name = p.metadata.name.clone().unwrap_or_default();
            if previous.pods.get(&name).is_none_or(|before| at > *before) {
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
            }
            seen.pods.insert(name, at);
        }
        let created = svc.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(at) = created {
            if previous.service.is_none_or(|before| at > before) {
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
            }
        }
        seen.service = created;
        let was_known = known.is_some();
        self.services.insert(key, seen);
        if was_known {
            earliest
        } else {
            created
        }
    }

    /// Forgets Services that are gone (`DeleteService`).
    pub(crate) fn retain(&mut self, live: impl Fn(&ServiceKey) -> bool) {
        self.services.retain(|k, _| live(k));
    }
}

pub(crate) fn key_of(svc: &Service) -> ServiceKey {
    (
        svc.metadata.namespace.clone().unwrap_or_default(),
        svc.metadata.name.clone().unwrap_or_default(),
    )
}

/// A pod's change is its last Ready transition.
fn pod_trigger_time(p: &Pod) -> Option<Timestamp> {
    pod::condition(p, "Ready")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn pod(name: &str, ready_since: &str) -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": name}, "status": {"conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": ready_since}]}}),
        )
        .unwrap()
    }

    #[test]
    fn new_services_report_creation_then_the_earliest_change() {
        let svc: Service =
            serde_json::from_value(json!({"metadata": {"name": "kubia", "namespace": "default",
            "creationTimestamp": "2024-01-01T00:00:00Z"}}))
            .unwrap();
        let mut times = TriggerTimes::default();
        let a = pod("a", "2024-01-01T00:01:00Z");
        assert_eq!(times.compute(&svc, &[&a]), Some(at("2024-01-01T00:00:00Z")));
        assert_eq!(times.compute(&svc, &[&a]), None);
        let b = pod("b", "2024-01-01T00:03:00Z");
        let a2 = pod("a", "2024-01-01T00:02:00Z");
        assert_eq!(
            times.compute(&svc, &[&a2, &b]),
            Some(at("2024-01-01T00:02:00Z"))
        );
        times.retain(|_| false);
        assert_eq!(
            times.compute(&svc, &[&a2, &b]),
            Some(at("2024-01-01T00:00:00Z"))
        );
    }
}
