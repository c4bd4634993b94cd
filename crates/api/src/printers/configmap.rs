//! The ConfigMap table: the number of `data` plus `binaryData` keys.

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::Timestamp;

use super::name;
use crate::kind::Printer;
use crate::table::{age, Cell, Column};

static COLUMNS: &[Column] = &[
    Column::NAME,
    Column::text(
        "Data",
        "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'.",
    ),
    Column::AGE,
];

impl Printer for ConfigMap {
    fn columns() -> &'static [Column] {
        COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        let data = self.data.as_ref().map_or(0, |d| d.len());
        let binary = self.binary_data.as_ref().map_or(0, |d| d.len());
        vec![
            name(&self.metadata),
            Cell::from((data + binary) as i64),
            age(self.metadata.creation_timestamp.as_ref(), now),
        ]
    }
}
