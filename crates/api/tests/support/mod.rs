//! Helpers shared by the printer tests: a fixed clock and a kind's cells and columns through
//! the same `KindOps` the API server uses.

#![allow(dead_code)]

use ferry_api::resource::find;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// The fixed "now" of every test.
pub fn now() -> Timestamp {
    "2024-05-01T12:00:00Z".parse().unwrap()
}

/// The RFC 3339 time `seconds` before [`now`].
pub fn ago(seconds: i64) -> String {
    let t = now() - SignedDuration::from_secs(seconds);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The cells of `object`'s row, as JSON.
pub fn row(group: &str, plural: &str, object: &Value) -> Value {
    let resource = find(group, "v1", plural).unwrap();
    let cells = resource.ops.cells(object, now()).unwrap();
    Value::Array(cells.iter().map(|c| c.to_json()).collect())
}

/// The kind's columns as (name, type, priority).
pub fn columns(group: &str, plural: &str) -> Vec<(&'static str, &'static str, i32)> {
    let resource = find(group, "v1", plural).unwrap();
    resource
        .ops
        .columns()
        .iter()
        .map(|c| (c.name, c.column_type, c.priority))
        .collect()
}
