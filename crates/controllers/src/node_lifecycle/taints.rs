//! The taints the node lifecycle controller owns, computed from a node's conditions:
//! `doNoScheduleTaintingPass` (a NoSchedule taint per unhealthy condition and for
//! `spec.unschedulable`) and the NoExecute `not-ready`/`unreachable` taints of
//! `processTaintBaseEviction` and `doNoExecuteTaintingPass`. Pure: the caller writes the result.

use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::jiff::Timestamp;

use crate::clock;

pub(crate) const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub(crate) const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub(crate) const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
pub(crate) const NO_SCHEDULE: &str = "NoSchedule";
pub(crate) const NO_EXECUTE: &str = "NoExecute";

/// `nodeConditionToTaintKeyStatusMap`: (condition type, status, taint key).
const CONDITION_TAINTS: [(&str, &str, &str); 6] = [
    ("Ready", "False", NOT_READY),
    ("Ready", "Unknown", UNREACHABLE),
    (
        "MemoryPressure",
        "True",
        "node.kubernetes.io/memory-pressure",
    ),
    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
    (
        "NetworkUnavailable",
        "True",
        "node.kubernetes.io/network-unavailable",
    ),
    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
];

/// What happens to a node's NoExecute readiness taints, given the Ready status the controller
/// observed (`processTaintBaseEviction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoExecuteStep {
    /// Ready: remove both (`markNodeAsReachable`).
    Clear,
    /// The node carries the other one: swap at once, not rate limited.
    Swap {
        add: &'static str,
        remove: &'static str,
    },
    /// The node lacks its taint: it waits in its zone's rate-limited queue.
    Queue,
    /// Nothing to do.
    Keep,
}

/// A taint with the given key and effect, stamped with `added` (`SwapNodeControllerTaint`
/// stamps every taint it adds, NoSchedule ones too).
pub(crate) fn taint(key: &str, effect: &str, added: Option<Timestamp>) -> Taint {
    Taint {
        key: key.to_string(),
        effect: effect.to_string(),
        time_added: added.map(clock::time),
        value: None,
    }
}

/// `TaintExists` by key and effect.
pub(crate) fn has(taints: &[Taint], key: &str, effect: &str) -> bool {
    taints.iter().any(|t| t.key == key && t.effect == effect)
}

/// The NoSchedule taints the node's conditions and `spec.unschedulable` call for, in the order
/// of its conditions, unstamped.
pub(crate) fn no_schedule_taints(node: &Node) -> Vec<Taint> {
    let conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or(&[]);
    let mut taints: Vec<Taint> = conditions
        .iter()
        .filter_map(|c| {
            CONDITION_TAINTS
                .iter()
                .find(|(kind, status, _)| *kind == c.type_ && *status == c.status)
                .map(|(_, _, key)| taint(key, NO_SCHEDULE, None))
        })
        .collect();
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        taints.push(taint(UNSCHEDULABLE, NO_SCHEDULE, None));
    }
    taints
}

/// The node's taints with the controller's own NoSchedule taints made `wanted`: the missing
/// ones appended (stamped `now`), those no longer called for removed, everything else kept.
pub(crate) fn sync_no_schedule(taints: &[Taint], wanted: &[Taint], now: Timestamp) -> Vec<Taint> {
    let owned = |t: &Taint| t.effect == NO_SCHEDULE && is_controller_key(&t.key);
    let add: Vec<Taint> = wanted
        .iter()
        .filter(|w| !has(taints, &w.key, &w.effect))
        .map(|w| taint(&w.key, &w.effect, Some(now)))
        .collect();
    let remove: Vec<(&str, &str)> = taints
        .iter()
        .filter(|t| owned(t) && !has(wanted, &t.key, &t.effect))
        .map(|t| (t.key.as_str(), t.effect.as_str()))
        .collect();
    swap(taints, &add, &remove)
}

/// `processTaintBaseEviction`: the step for a node observed with Ready `observed` (`None`
/// when it never posted one, which upstream treats as Unknown).
pub(crate) fn no_execute_step(observed: Option<&str>, taints: &[Taint]) -> NoExecuteStep {
    let (own, other) = match observed {
        Some("True") => return NoExecuteStep::Clear,
        Some("False") => (NOT_READY, UNREACHABLE),
        Some("Unknown") | None => (UNREACHABLE, NOT_READY),
        Some(_) => return NoExecuteStep::Keep,
    };
    if has(taints, other, NO_EXECUTE) {
        NoExecuteStep::Swap {
            add: own,
            remove: other,
        }
    } else if has(taints, own, NO_EXECUTE) {
        NoExecuteStep::Keep
    } else {
        NoExecuteStep::Queue
    }
}

/// The NoExecute taint the tainting queue adds for a node whose Ready condition now says
/// `current`, and the opposite one it removes; `None` when Ready, or without a Ready condition
/// (upstream keeps such a node queued until it has one).
pub(crate) fn queued_taint(current: Option<&str>) -> Option<(&'static str, &'static str)> {
    match current {
        Some("False") => Some((NOT_READY, UNREACHABLE)),
        Some("Unknown") => Some((UNREACHABLE, NOT_READY)),
        _ => None,
    }
}

/// `taints` with each of `add` put in place of the taint of the same key and effect (or
/// appended), then every taint matching one of `remove` dropped (`AddOrUpdateTaintOnNode`,
/// then `RemoveTaintOffNode`).
pub(crate) fn swap(taints: &[Taint], add: &[Taint], remove: &[(&str, &str)]) -> Vec<Taint> {
    let mut out = taints.to_vec();
    for new in add {
        match out
            .iter_mut()
            .find(|t| t.key == new.key && t.effect == new.effect)
        {
            Some(existing) => *existing = new.clone(),
            None => out.push(new.clone()),
        }
    }
    out.retain(|t| !remove.iter().any(|(k, e)| t.key == *k && t.effect == *e));
    out
}

/// The node's taints without the NoExecute readiness taints (`markNodeAsReachable`).
pub(crate) fn without_readiness_no_execute(taints: &[Taint]) -> Vec<Taint> {
    swap(
        taints,
        &[],
        &[(UNREACHABLE, NO_EXECUTE), (NOT_READY, NO_EXECUTE)],
    )
}

/// `taintKeyToNodeConditionMap` plus the unschedulable taint.
fn is_controller_key(key: &str) -> bool {
    key == UNSCHEDULABLE || CONDITION_TAINTS.iter().any(|(_, _, k)| *k == key)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn node(conditions: Value, spec: Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": "n"}, "spec": spec,
            "status": {"conditions": conditions}}))
        .unwrap()
    }

    fn taints(value: Value) -> Vec<Taint> {
        serde_json::from_value(value).unwrap()
    }

    fn keys(taints: &[Taint]) -> Vec<String> {
        taints
            .iter()
            .map(|t| format!("{}:{}", t.key, t.effect))
            .collect()
    }

    #[test]
    fn conditions_map_to_no_schedule_taints() {
        let cases = [
            (
                json!([{"type": "Ready", "status": "True"}]),
                json!({}),
                vec![],
            ),
            (
                json!([{"type": "Ready", "status": "Unknown"}]),
                json!({}),
                vec!["node.kubernetes.io/unreachable:NoSchedule"],
            ),
            (
                json!([{"type": "Ready", "status": "False"}, {"type": "DiskPressure", "status": "True"},
                       {"type": "MemoryPressure", "status": "False"}]),
                json!({}),
                vec![
                    "node.kubernetes.io/not-ready:NoSchedule",
                    "node.kubernetes.io/disk-pressure:NoSchedule",
                ],
            ),
            (
                json!([{"type": "NetworkUnavailable", "status": "True"}, {"type": "PIDPressure", "status": "True"}]),
                json!({"unschedulable": true}),
                vec![
                    "node.kubernetes.io/network-unavailable:NoSchedule",
                    "node.kubernetes.io/pid-pressure:NoSchedule",
                    "node.kubernetes.io/unschedulable:NoSchedule",
                ],
            ),
            (json!([]), json!({}), vec![]),
        ];
        for (conditions, spec, expected) in cases {
            let wanted = no_schedule_taints(&node(conditions.clone(), spec));
            assert_eq!(keys(&wanted), expected, "{conditions}");
        }
    }

    #[test]
    fn only_the_controllers_no_schedule_taints_change() {
        let now: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let before = taints(json!([
            {"key": "dedicated", "value": "db", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "timeAdded": "2023-01-01T00:00:00Z"},
            {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "timeAdded": "2023-01-01T00:00:00Z"}
        ]));
        let wanted = vec![taint(UNREACHABLE, NO_SCHEDULE, None)];
        let after = sync_no_schedule(&before, &wanted, now);
        assert_eq!(
            serde_json::to_value(&after).unwrap(),
            json!([
                {"key": "dedicated", "value": "db", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "timeAdded": "2023-01-01T00:00:00Z"},
                {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": "2024-01-01T00:00:00Z"}
            ])
        );
        // Already as wanted: nothing changes, stamps included.
        assert_eq!(sync_no_schedule(&after, &wanted, now), after);
        assert_eq!(
            keys(&sync_no_schedule(&after, &[], now)),
            [
                "dedicated:NoSchedule",
                "node.kubernetes.io/not-ready:NoExecute"
            ]
        );
    }

    #[test]
    fn no_execute_taints_follow_the_observed_ready_status() {
        let none = taints(json!([]));
        let not_ready =
            taints(json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]));
        let unreachable =
            taints(json!([{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]));
        let cases = [
            (Some("True"), &not_ready, NoExecuteStep::Clear),
            (Some("True"), &none, NoExecuteStep::Clear),
            (Some("False"), &none, NoExecuteStep::Queue),
            (Some("False"), &not_ready, NoExecuteStep::Keep),
            (
                Some("False"),
                &unreachable,
                NoExecuteStep::Swap {
                    add: NOT_READY,
                    remove: UNREACHABLE,
                },
            ),
            (Some("Unknown"), &none, NoExecuteStep::Queue),
            (Some("Unknown"), &unreachable, NoExecuteStep::Keep),
            (
                Some("Unknown"),
                &not_ready,
                NoExecuteStep::Swap {
                    add: UNREACHABLE,
                    remove: NOT_READY,
                },
            ),
            (None, &none, NoExecuteStep::Queue),
        ];
        for (observed, given, expected) in cases {
            assert_eq!(
                no_execute_step(observed, given),
                expected,
                "{observed:?} {given:?}"
            );
        }
        assert_eq!(
            queued_taint(Some("Unknown")),
            Some((UNREACHABLE, NOT_READY))
        );
        assert_eq!(queued_taint(Some("False")), Some((NOT_READY, UNREACHABLE)));
        assert_eq!(queued_taint(Some("True")), None);
        assert_eq!(queued_taint(None), None);
        let both = swap(&unreachable, &not_ready, &[]);
        assert!(without_readiness_no_execute(&both).is_empty());
    }
}
