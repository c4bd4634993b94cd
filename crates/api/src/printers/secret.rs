//! The Secret table: Type and the number of data keys.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;

use super::name;
use crate::kind::Printer;
use crate::table::{age, Cell, Column};

static COLUMNS: &[Column] = &[
    Column::NAME,
    Column::text("Type", "Used to facilitate programmatic handling of secret data."),
    Column::text(
        "Data",
        "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'.",
    ),
    Column::AGE,
];

impl Printer for Secret {
    fn columns() -> &'static [Column] {
        COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        // The internal type the apiserver prints has stringData already merged into data.
        let keys: BTreeSet<&String> = self
            .data
            .iter()
            .flat_map(|d| d.keys())
            .chain(self.string_data.iter().flat_map(|d| d.keys()))
            .collect();
        vec![
            name(&self.metadata),
            Cell::Text(self.type_.clone().unwrap_or_default()),
            Cell::from(keys.len() as i64),
            age(self.metadata.creation_timestamp.as_ref(), now),
        ]
    }
}
