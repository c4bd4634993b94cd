//! The dataplane's error type.

/// What failed while programming the node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("open netlink socket to nf_tables")]
    Open(#[source] ferry_nft::Error),
    #[error("program table {table}")]
    Program {
        table: String,
        #[source]
        source: ferry_nft::Error,
    },
    #[error("remove table {table}")]
    Remove {
        table: String,
        #[source]
        source: ferry_nft::Error,
    },
    #[error("delete stale UDP conntrack entries")]
    Conntrack(#[source] ferry_nft::Error),
}
