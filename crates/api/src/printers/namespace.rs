//! The Namespace table: the phase (`Active`, `Terminating`).

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::jiff::Timestamp;

use super::name;
use crate::kind::Printer;
use crate::table::{age, Cell, Column};

static COLUMNS: &[Column] = &[
    Column::NAME,
    Column::text("Status", "The status of the namespace"),
    Column::AGE,
];

impl Printer for Namespace {
    fn columns() -> &'static [Column] {
        COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        let phase = self.status.as_ref().and_then(|s| s.phase.clone());
        vec![
            name(&self.metadata),
            Cell::Text(phase.unwrap_or_default()),
            age(self.metadata.creation_timestamp.as_ref(), now),
        ]
    }
}
