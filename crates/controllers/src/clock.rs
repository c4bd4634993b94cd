//! Wall-clock time as Kubernetes writes it into objects: UTC, whole seconds. Controllers take
//! `now` as a parameter of their pure parts so tests can pin it.

use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Now, truncated to whole seconds (what a stored timestamp can hold).
pub(crate) fn now() -> Timestamp {
    let now = exact_now();
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// Now, to the nanosecond (jiff is built without its clock here, so from `SystemTime`).
pub(crate) fn exact_now() -> Timestamp {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
    let nanos = i32::try_from(since_epoch.subsec_nanos()).unwrap_or(0);
    Timestamp::new(seconds, nanos).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// `2024-05-01T10:00:00Z`.
pub(crate) fn rfc3339(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(crate) fn time(at: Timestamp) -> Time {
    Time(at)
}

/// `at + seconds`, saturating at the ends of time.
pub(crate) fn plus_seconds(at: Timestamp, seconds: i64) -> Timestamp {
    at.saturating_add(SignedDuration::from_secs(seconds))
        .unwrap_or(at)
}

/// How long from `now` until `later`; zero if it has passed.
pub(crate) fn until(now: Timestamp, later: Timestamp) -> std::time::Duration {
    let span = later.duration_since(now);
    std::time::Duration::try_from(span).unwrap_or(std::time::Duration::ZERO)
}
