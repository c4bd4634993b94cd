//! Storage side effects of writes, done in the write's own store transaction: today the
//! Service registry's cluster IP and node port allocation. Per-kind create-time admission
//! (pods' default tolerations) hooks in here too, before validation as upstream's mutating
//! admission does.
//!
//! A write first reserves in memory (so concurrent writes in this process never pick the same
//! value), then claims the values in the store in the same transaction as the object (so they
//! survive restart and two API servers can never both win), then either commits or abandons.

pub(crate) mod pod;
pub(crate) mod service;

use serde_json::Value;

use ferry_api::{ApiError, ResourceInfo};
use ferry_store::{Compare, Op};

use crate::ApiServer;

/// What a write claims or releases, in the store and in memory.
#[derive(Debug, Default)]
pub(crate) struct Claims {
    /// Extra transaction conditions (claim keys that must not exist yet).
    pub compares: Vec<Compare>,
    /// Extra transaction operations (claim keys put or deleted).
    pub ops: Vec<Op>,
    /// Values reserved in memory for this write; released if it is abandoned.
    pub reserved: Vec<service::Allocation>,
    /// Values this write frees; released in memory once it commits.
    pub released: Vec<service::Allocation>,
}

pub(crate) fn prepare_create(
    srv: &ApiServer,
    info: &ResourceInfo,
    object: &mut Value,
) -> Result<Claims, ApiError> {
    match info.kind {
        "Service" => service::prepare_create(srv, object),
        "Pod" => pod::prepare_create(object),
        _ => Ok(Claims::default()),
    }
}

pub(crate) fn prepare_update(
    srv: &ApiServer,
    info: &ResourceInfo,
    new: &mut Value,
    old: &Value,
) -> Result<Claims, ApiError> {
    match info.kind {
        "Service" => service::prepare_update(srv, new, old),
        _ => Ok(Claims::default()),
    }
}

pub(crate) fn prepare_delete(info: &ResourceInfo, old: &Value) -> Claims {
    match info.kind {
        "Service" => service::prepare_delete(old),
        _ => Claims::default(),
    }
}

/// The write did not happen: give back what it reserved.
pub(crate) fn abandon(srv: &ApiServer, claims: Claims) {
    srv.allocators.release(&claims.reserved);
}

/// The write committed: forget what it freed.
pub(crate) fn committed(srv: &ApiServer, claims: Claims) {
    srv.allocators.release(&claims.released);
}
