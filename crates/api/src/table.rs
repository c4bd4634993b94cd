//! `meta.k8s.io/v1` Table output: column definitions, cells, and the age format kubectl shows.
//!
//! k8s-openapi has no Table types, so they live here. The server computes every cell, as
//! kube-apiserver's printers do; kubectl only lays them out.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

/// One column of a kind's table (`TableColumnDefinition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    /// `string`, `integer`, `date`, ...
    pub column_type: &'static str,
    /// `name` for the Name column, empty otherwise.
    pub format: &'static str,
    pub description: &'static str,
    /// 0 = shown by default, 1 = only with `-o wide`.
    pub priority: i32,
}

impl Column {
    /// A plain string column shown by default.
    pub const fn text(name: &'static str, description: &'static str) -> Self {
        Column {
            name,
            column_type: "string",
            format: "",
            description,
            priority: 0,
        }
    }
    /// A string column shown only with `-o wide`.
    pub const fn wide(name: &'static str, description: &'static str) -> Self {
        Column {
            name,
            column_type: "string",
            format: "",
            description,
            priority: 1,
        }
    }
    /// An integer column shown by default.
    pub const fn integer(name: &'static str, description: &'static str) -> Self {
        Column {
            name,
            column_type: "integer",
            format: "",
            description,
            priority: 0,
        }
    }
    /// The Name column every printer starts with.
    pub const NAME: Column = Column {
        name: "Name",
        column_type: "string",
        format: "name",
        description: "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
        priority: 0,
    };
    /// The Age column.
    pub const AGE: Column = Column {
        name: "Age",
        column_type: "string",
        format: "",
        description: "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        priority: 0,
    };

    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.column_type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// One table cell: kubectl prints strings as given and integers in decimal.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}
impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}
impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}
impl From<i32> for Cell {
    fn from(v: i32) -> Self {
        Cell::Int(v.into())
    }
}

impl Cell {
    pub fn to_json(&self) -> Value {
        match self {
            Cell::Text(s) => Value::from(s.clone()),
            Cell::Int(v) => Value::from(*v),
        }
    }
}

/// The Age cell: `<unknown>` without a timestamp, else [`human_duration`] since it.
pub fn age(
    created: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    now: Timestamp,
) -> Cell {
    match created {
        None => Cell::from("<unknown>"),
        Some(t) => Cell::Text(human_duration(now.as_second() - t.0.as_second())),
    }
}

/// The current time, for Age cells.
pub fn now() -> Timestamp {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Timestamp::from_second(i64::try_from(seconds).unwrap_or(0)).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// apimachinery's `duration.HumanDuration` for a number of seconds: `45s`, `5m3s`, `66m`, `7h12m`, `3d`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// The `Table` object for a list of rows; `rows` are `{cells, object}` values made by [`row`].
pub fn table(
    columns: &[Column],
    rows: Vec<Value>,
    resource_version: &str,
    with_columns: bool,
) -> Value {
    let defs = if with_columns {
        Value::Array(columns.iter().map(Column::to_json).collect())
    } else {
        Value::Null
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": defs,
        "rows": rows,
    })
}

/// One row: the cells plus the object's metadata as `PartialObjectMetadata` (for `-A`, `-L`,
/// `--show-labels`).
pub fn row(cells: &[Cell], metadata: &Value) -> Value {
    json!({
        "cells": cells.iter().map(Cell::to_json).collect::<Vec<_>>(),
        "object": {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": metadata,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_upstream() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (45, "45s"),
            (119, "119s"),
            (120, "2m"),
            (303, "5m3s"),
            (66 * 60, "66m"),
            (7 * 3600 + 12 * 60, "7h12m"),
            (8 * 3600, "8h"),
            (3 * 86400, "3d"),
            (3 * 86400 + 3600, "3d1h"),
            (10 * 86400, "10d"),
            (3 * 365 * 86400, "3y"),
            (3 * 365 * 86400 + 86400 * 5, "3y5d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
    }
}
