//! The Lease table: the holder identity.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;

use super::name;
use crate::kind::Printer;
use crate::table::{age, Cell, Column};

static COLUMNS: &[Column] = &[
    Column::NAME,
    Column::text(
        "Holder",
        "holderIdentity contains the identity of the holder of a current lease.",
    ),
    Column::AGE,
];

impl Printer for Lease {
    fn columns() -> &'static [Column] {
        COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        let holder = self.spec.as_ref().and_then(|s| s.holder_identity.clone());
        vec![
            name(&self.metadata),
            Cell::Text(holder.unwrap_or_default()),
            age(self.metadata.creation_timestamp.as_ref(), now),
        ]
    }
}
