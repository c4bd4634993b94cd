//! Graceful deletion of pods, as kube-apiserver's `rest.BeforeDelete` with the pod strategy's
//! `CheckGracefulDelete`: a DELETE of a pod bound to a node marks it with a
//! `deletionTimestamp` in the future and `deletionGracePeriodSeconds`, and keeps it; the node
//! agent stops the containers and deletes the pod again with grace period 0.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The grace period of a pod whose spec names none (the API's default).
const DEFAULT_GRACE_SECONDS: i64 = 30;

/// What a DELETE does to a pod.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Grace {
    /// Remove it now (or as finalizers allow), like any object.
    Immediate,
    /// It is already terminating and the request does not shorten that: answer with the pod
    /// unchanged.
    Pending,
    /// Mark it terminating: these become `deletionTimestamp` and
    /// `deletionGracePeriodSeconds`.
    Mark {
        deletion_timestamp: String,
        seconds: i64,
    },
}

/// Decides a pod DELETE with `requested` grace seconds (from DeleteOptions), at `now`.
pub(crate) fn pod_grace(pod: &Value, requested: Option<i64>, now: OffsetDateTime) -> Grace {
    // Negative values are treated as 1 s on the delete path.
    let requested = requested.map(|s| if s < 0 { 1 } else { s });
    let meta = &pod["metadata"];
    if let Some(since) = meta.get("deletionTimestamp").and_then(Value::as_str) {
        let current = meta
            .get("deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if current == 0 {
            return Grace::Immediate;
        }
        return match requested {
            Some(0) => Grace::Immediate,
            Some(shorter) if shorter < current => {
                let end = OffsetDateTime::parse(since, &Rfc3339).unwrap_or(now)
                    - Duration::seconds(current)
                    + Duration::seconds(shorter);
                Grace::Mark {
                    deletion_timestamp: format(end),
                    seconds: shorter,
                }
            }
            _ => Grace::Pending,
        };
    }
    let mut period = requested.unwrap_or_else(|| {
        pod.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_GRACE_SECONDS)
    });
    let unscheduled = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    let finished = matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Failed" | "Succeeded")
    );
    if unscheduled || finished {
        period = 0;
    }
    if period == 0 {
        return Grace::Immediate;
    }
    Grace::Mark {
        deletion_timestamp: format(now + Duration::seconds(period)),
        seconds: period,
    }
}

fn format(at: OffsetDateTime) -> String {
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2024-05-01T10:00:00Z", &Rfc3339).unwrap()
    }

    fn mark(at: &str, seconds: i64) -> Grace {
        Grace::Mark {
            deletion_timestamp: at.to_string(),
            seconds,
        }
    }

    #[test]
    fn a_bound_pod_gets_its_grace_period() {
        let pod =
            json!({"metadata": {}, "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 5}});
        assert_eq!(
            pod_grace(&pod, None, now()),
            mark("2024-05-01T10:00:05Z", 5)
        );
        assert_eq!(
            pod_grace(&pod, Some(60), now()),
            mark("2024-05-01T10:01:00Z", 60)
        );
        assert_eq!(
            pod_grace(&pod, Some(-3), now()),
            mark("2024-05-01T10:00:01Z", 1)
        );
        assert_eq!(pod_grace(&pod, Some(0), now()), Grace::Immediate);
        let default = json!({"metadata": {}, "spec": {"nodeName": "n1"}});
        assert_eq!(
            pod_grace(&default, None, now()),
            mark("2024-05-01T10:00:30Z", 30)
        );
    }

    #[test]
    fn unscheduled_and_finished_pods_go_at_once() {
        let unscheduled = json!({"metadata": {}, "spec": {"terminationGracePeriodSeconds": 5}});
        assert_eq!(pod_grace(&unscheduled, None, now()), Grace::Immediate);
        let done =
            json!({"metadata": {}, "spec": {"nodeName": "n1"}, "status": {"phase": "Succeeded"}});
        assert_eq!(pod_grace(&done, None, now()), Grace::Immediate);
    }

    #[test]
    fn a_terminating_pod_may_only_be_shortened() {
        let pod = json!({"metadata": {"deletionTimestamp": "2024-05-01T10:00:30Z", "deletionGracePeriodSeconds": 30}, "spec": {"nodeName": "n1"}});
        assert_eq!(pod_grace(&pod, None, now()), Grace::Pending);
        assert_eq!(pod_grace(&pod, Some(45), now()), Grace::Pending);
        assert_eq!(
            pod_grace(&pod, Some(10), now()),
            mark("2024-05-01T10:00:10Z", 10)
        );
        assert_eq!(pod_grace(&pod, Some(0), now()), Grace::Immediate);
        let zero = json!({"metadata": {"deletionTimestamp": "2024-05-01T10:00:00Z", "deletionGracePeriodSeconds": 0}});
        assert_eq!(pod_grace(&zero, None, now()), Grace::Immediate);
    }
}
