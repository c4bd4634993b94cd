//! What controllers ask of a pod: is it active, ready, available (`podutil` upstream).

use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::jiff::Timestamp;

use crate::clock;

pub(crate) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

pub(crate) fn node_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

pub(crate) fn is_deleting(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Not finished and not being deleted (`controller.IsPodActive`).
pub(crate) fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && !is_deleting(pod)
}

/// Not finished (it still occupies its node).
pub(crate) fn is_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

pub(crate) fn condition<'a>(pod: &'a Pod, condition_type: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == condition_type))
}

pub(crate) fn is_ready(pod: &Pod) -> bool {
    condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

/// When the pod became ready, if it is.
pub(crate) fn ready_since(pod: &Pod) -> Option<Timestamp> {
    condition(pod, "Ready")
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// Whether a pod counts as available to its controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Availability {
    NotReady,
    Available,
    /// Ready, and available once this moment has passed (`minReadySeconds` after it became
    /// ready).
    AvailableAfter(Timestamp),
}

pub(crate) fn availability(pod: &Pod, min_ready_seconds: i32) -> Availability {
    if !is_ready(pod) {
        return Availability::NotReady;
    }
    if min_ready_seconds <= 0 {
        return Availability::Available;
    }
    match ready_since(pod) {
        Some(since) => {
            Availability::AvailableAfter(clock::plus_seconds(since, i64::from(min_ready_seconds)))
        }
        // No transition time: upstream never counts such a pod available.
        None => Availability::AvailableAfter(Timestamp::MAX),
    }
}

/// Ready for longer than `min_ready_seconds` (`podutil.IsPodAvailable`).
pub(crate) fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match availability(pod, min_ready_seconds) {
        Availability::NotReady => false,
        Availability::Available => true,
        Availability::AvailableAfter(at) => at < now,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "status": status})).unwrap()
    }

    #[test]
    fn availability_waits_min_ready_seconds_after_readiness() {
        let ready = pod(json!({"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}
        ]}));
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert!(is_available(&ready, 0, at("2024-01-01T00:00:00Z")));
        assert!(!is_available(&ready, 10, at("2024-01-01T00:00:10Z")));
        assert!(is_available(&ready, 10, at("2024-01-01T00:00:11Z")));
        let not_ready = pod(json!({"phase": "Running", "conditions": [
            {"type": "Ready", "status": "False"}
        ]}));
        assert!(!is_available(&not_ready, 0, at("2024-01-01T00:00:00Z")));
        assert!(is_active(&not_ready));
        assert!(!is_active(&pod(json!({"phase": "Succeeded"}))));
    }
}
