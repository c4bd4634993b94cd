//! Turns watch events of several resources into a coalesced "something changed" signal, so a
//! controller reconciles once per burst and re-lists when a watch ends; [`Trigger`] adds the
//! wait of a reconcile loop (a change, a requested requeue, or the periodic resync).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use ferry_api::ResourceInfo;
use ferry_runtime::{Client, WatchEvent};

use crate::error::{report, Error};

/// How long to wait before re-watching after an error.
const RETRY: Duration = Duration::from_secs(1);
/// A full pass even without events, to heal anything a lost event left behind.
const RESYNC: Duration = Duration::from_secs(30);
/// How soon a pass that failed is retried.
const RETRY_PASS: Duration = Duration::from_secs(1);
/// How soon a pass that lost a write race is retried.
const RETRY_RACE: Duration = Duration::from_millis(100);

/// The change signal of one controller, fed by watches of the resources it reads.
pub(crate) struct Trigger {
    notify: Arc<Notify>,
}

impl Trigger {
    pub(crate) fn new() -> Self {
        Trigger {
            notify: Arc::new(Notify::new()),
        }
    }

    /// Feeds every event of `info` (all namespaces) into this trigger until shutdown.
    pub(crate) fn watch(
        &self,
        client: &Client,
        info: &'static ResourceInfo,
        shutdown: &CancellationToken,
    ) {
        tokio::spawn(watch_into(
            client.clone(),
            info,
            self.notify.clone(),
            |_| true,
            shutdown.clone(),
        ));
    }

    /// Feeds the events of `info` that `interesting` picks into this trigger until shutdown.
    pub(crate) fn watch_filtered(
        &self,
        client: &Client,
        info: &'static ResourceInfo,
        interesting: fn(&WatchEvent) -> bool,
        shutdown: &CancellationToken,
    ) {
        tokio::spawn(watch_into(
            client.clone(),
            info,
            self.notify.clone(),
            interesting,
            shutdown.clone(),
        ));
    }

    /// Waits for a change, for `requeue` to pass, or for the resync period; false at shutdown.
    /// Changes that arrive while a pass runs are kept, so the next wait returns at once.
    pub(crate) async fn wait(
        &self,
        requeue: Option<Duration>,
        shutdown: &CancellationToken,
    ) -> bool {
        let timeout = requeue.unwrap_or(RESYNC).min(RESYNC);
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = self.notify.notified() => true,
            _ = tokio::time::sleep(timeout) => true,
        }
    }
}

/// Turns the result of a pass into the next requeue, logging failures.
pub(crate) fn next_pass(
    controller: &'static str,
    result: Result<Option<Duration>, Error>,
) -> Option<Duration> {
    match result {
        Ok(requeue) => requeue,
        Err(e) if e.is_race() => {
            tracing::debug!(controller, error = %report(&e), "write lost a race; retrying");
            Some(RETRY_RACE)
        }
        Err(e) => {
            tracing::warn!(controller, error = %report(&e), "reconcile failed");
            Some(RETRY_PASS)
        }
    }
}

/// The earlier of two requeues.
pub(crate) fn sooner(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

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
