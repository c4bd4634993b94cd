//! The Kubernetes object model as ferry serves it: the resource table, per-kind defaults,
//! validation and table columns, patching, selectors, and Status errors.
//!
//! Pure data and functions: no IO, no tokio, no sockets. Knows nothing of the store or HTTP.

pub mod field;
pub mod kind;
pub mod patch;
pub mod printers;
pub mod protobuf;
pub mod query;
pub mod resource;
mod resources;
pub mod selector;
pub mod status;
pub mod table;
pub mod validation;

pub use kind::{Kind, KindOps, Printer};
pub use resource::{ResourceInfo, RESOURCES};
pub use status::ApiError;
