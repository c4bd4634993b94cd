//! The Event table: Last Seen, Type, Reason, Object `kind/name`, Message, and the wide Subobject,
//! Source, First Seen, Count and Name columns.

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;

use super::{since, since_micro};
use crate::kind::Printer;
use crate::table::{Cell, Column};

static COLUMNS: &[Column] = &[
    Column::text(
        "Last Seen",
        "The time at which the most recent occurrence of this event was recorded.",
    ),
    Column::text("Type", "Type of this event (Normal, Warning), new types could be added in the future"),
    Column::text(
        "Reason",
        "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    ),
    Column::text("Object", "The object that this event is about."),
    Column::wide(
        "Subobject",
        "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].",
    ),
    Column::wide(
        "Source",
        "The component reporting this event. Should be a short machine understandable string.",
    ),
    Column::text(
        "Message",
        "A human-readable description of the status of this operation.",
    ),
    Column::wide(
        "First Seen",
        "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
    ),
    Column::wide(
        "Count",
        "The number of times this event has occurred.",
    ),
    Column {
        priority: 1,
        ..Column::NAME
    },
];

impl Printer for Event {
    fn columns() -> &'static [Column] {
        COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        let first_seen = match &self.first_timestamp {
            Some(t) => since(Some(t), now),
            None => since_micro(self.event_time.as_ref(), now),
        };
        let mut last_seen = match &self.last_timestamp {
            Some(t) => since(Some(t), now),
            None => first_seen.clone(),
        };
        let count = match &self.series {
            Some(series) => {
                last_seen = since_micro(series.last_observed_time.as_ref(), now);
                series.count.unwrap_or(0)
            }
            // Singleton events of the events.k8s.io API carry no count.
            None => self.count.filter(|c| *c != 0).unwrap_or(1),
        };
        let involved = &self.involved_object;
        let kind = involved.kind.as_deref().unwrap_or("").to_lowercase();
        let object = match involved.name.as_deref().filter(|n| !n.is_empty()) {
            Some(name) => format!("{kind}/{name}"),
            None => kind,
        };
        vec![
            Cell::Text(last_seen),
            Cell::Text(self.type_.clone().unwrap_or_default()),
            Cell::Text(self.reason.clone().unwrap_or_default()),
            Cell::Text(object),
            Cell::Text(involved.field_path.clone().unwrap_or_default()),
            Cell::Text(source(self)),
            Cell::Text(self.message.as_deref().unwrap_or("").trim().to_string()),
            Cell::Text(first_seen),
            Cell::from(count),
            Cell::Text(self.metadata.name.clone().unwrap_or_default()),
        ]
    }
}

/// `formatEventSource`: component (or reporting controller), then `, host` (or instance).
fn source(event: &Event) -> String {
    let source = event.source.as_ref();
    let component = first_non_empty(
        source.and_then(|s| s.component.as_deref()),
        event.reporting_component.as_deref(),
    );
    let host = first_non_empty(
        source.and_then(|s| s.host.as_deref()),
        event.reporting_instance.as_deref(),
    );
    if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    }
}

fn first_non_empty<'a>(a: Option<&'a str>, b: Option<&'a str>) -> &'a str {
    a.filter(|s| !s.is_empty())
        .or(b.filter(|s| !s.is_empty()))
        .unwrap_or("")
}
