//! Turns watch events of several resources into a coalesced "something changed" signal, so a
//! controller reconciles once per burst and re-lists when a watch ends.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use ferry_api::ResourceInfo;
use ferry_runtime::{Client, WatchEvent};

/// How long to wait before re-watching after an error.
const RETRY: Duration = Duration::from_secs(1);

/// Watches `info` (all namespaces) and notifies when `interesting` says an event matters.
pub(crate) async fn watch_into(
    client: Client,
    info: &'static ResourceInfo,
    notify: Arc<Notify>,
    interesting: fn(&WatchEvent) -> bool,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        let rv = match client.list(info, None, None).await {
            Ok((_, rv)) => rv,
            Err(e) => {
                tracing::debug!(resource = info.plural, error = %e, "list failed");
                tokio::select! { _ = shutdown.cancelled() => return, _ = tokio::time::sleep(RETRY) => continue }
            }
        };
        notify.notify_one();
        let mut stream = match client.watch(info, None, &rv).await {
            Ok(s) => s,
            Err(_) => {
                tokio::select! { _ = shutdown.cancelled() => return, _ = tokio::time::sleep(RETRY) => continue }
            }
        };
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                next = stream.next() => next,
            };
            match next {
                Some(Ok(event)) if event.event_type == "ERROR" => break,
                Some(Ok(event)) => {
                    if interesting(&event) {
                        notify.notify_one();
                    }
                }
                Some(Err(_)) | None => break,
            }
        }
    }
}

/// Is this event a deletion, or an object being marked for deletion?
pub(crate) fn is_deletion(event: &WatchEvent) -> bool {
    event.event_type == "DELETED"
        || event
            .object
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
}
