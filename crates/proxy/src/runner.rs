//! The proxy's async shell: reflects Services and EndpointSlices into the [`ChangeTracker`] and
//! syncs the dataplane as soon as anything changed. A burst is coalesced by draining every
//! queued event before a sync, never by waiting, so that a pod turning Ready reaches the rules
//! in one sync's time.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use ferry_runtime::{reflect, Client, ReflectorEvent};

use crate::config::ProxyConfig;
use crate::error::Error;
use crate::model::{Dataplane, ProxyModel};
use crate::tracker::ChangeTracker;

/// The wait before retrying a failed sync; it doubles on every failure in a row.
const FIRST_RETRY: Duration = Duration::from_millis(250);
/// The longest wait between retries.
const MAX_RETRY: Duration = Duration::from_secs(10);

/// The service proxy for one node: returns the model as last programmed into `dataplane` (for
/// `ferry debug proxy`; empty until the first sync), and the future that runs the proxy until
/// `shutdown`. The first sync is full and waits until Services and EndpointSlices were both
/// listed; a failed sync is logged and retried in full after a back-off.
pub fn proxy<D>(
    client: Client,
    config: ProxyConfig,
    dataplane: D,
    shutdown: CancellationToken,
) -> (
    watch::Receiver<Arc<ProxyModel>>,
    impl Future<Output = Result<(), Error>> + Send + 'static,
)
where
    D: Dataplane + Send + 'static,
{
    let (programmed, model) = watch::channel(Arc::new(ProxyModel::default()));
    let runner = Runner {
        tracker: ChangeTracker::new(config),
        programmed,
        backoff: Backoff::new(),
    };
    (model, runner.run(client, dataplane, shutdown))
}

struct Runner {
    tracker: ChangeTracker,
    programmed: watch::Sender<Arc<ProxyModel>>,
    backoff: Backoff,
}

impl Runner {
    async fn run<D>(
        mut self,
        client: Client,
        mut dataplane: D,
        shutdown: CancellationToken,
    ) -> Result<(), Error>
    where
        D: Dataplane + Send + 'static,
    {
        // The reflectors stop with the proxy, also when it returns an error.
        let stop = shutdown.child_token();
        let _stop_reflectors = stop.clone().drop_guard();
        let mut services = Input::<Service>::start(client.clone(), stop.clone())?;
        let mut slices = Input::<EndpointSlice>::start(client, stop)?;
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                event = services.events.recv() => services.apply(&mut self.tracker, event)?,
                event = slices.events.recv() => slices.apply(&mut self.tracker, event)?,
                _ = tokio::time::sleep_until(self.backoff.deadline()), if self.backoff.is_waiting() => {
                    self.backoff.expire();
                }
            }
            drain(&mut self.tracker, &mut services, &mut slices);
            let ready = services.listed && slices.listed && !self.backoff.is_waiting();
            if ready && self.tracker.has_changes() {
                dataplane = self.sync(dataplane).await?;
            }
        }
    }

    /// Hands the model and its changes to the dataplane on a blocking thread, and takes the
    /// dataplane back.
    async fn sync<D>(&mut self, dataplane: D) -> Result<D, Error>
    where
        D: Dataplane + Send + 'static,
    {
        let changes = self.tracker.take_changes();
        let (full, changed) = (changes.full, changes.names.len());
        let model = Arc::new(self.tracker.model().clone());
        let synced = Arc::clone(&model);
        let started = Instant::now();
        let (dataplane, result) = tokio::task::spawn_blocking(move || {
            let mut dataplane = dataplane;
            let result = dataplane.sync(&synced, &changes);
            (dataplane, result)
        })
        .await
        .map_err(Error::SyncTask)?;
        match result {
            Ok(()) => {
                tracing::debug!(full, changed, elapsed = ?started.elapsed(), "synced dataplane");
                self.programmed.send_replace(model);
                self.backoff.reset();
            }
            Err(e) => {
                let retry_in = self.backoff.fail();
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    ?retry_in,
                    "dataplane sync failed; retrying with a full sync"
                );
                self.tracker.request_full_sync();
            }
        }
        Ok(dataplane)
    }
}

/// A kind of object the tracker follows.
trait Tracked: DeserializeOwned {
    const GROUP: &'static str;
    const RESOURCE: &'static str;
    fn upsert(tracker: &mut ChangeTracker, object: &Self);
    fn delete(tracker: &mut ChangeTracker, object: &Self);
    fn replace(tracker: &mut ChangeTracker, objects: &[Self]);
}

impl Tracked for Service {
    const GROUP: &'static str = "";
    const RESOURCE: &'static str = "services";
    fn upsert(tracker: &mut ChangeTracker, object: &Self) {
        tracker.upsert_service(object);
    }
    fn delete(tracker: &mut ChangeTracker, object: &Self) {
        tracker.delete_service(object);
    }
    fn replace(tracker: &mut ChangeTracker, objects: &[Self]) {
        tracker.replace_services(objects);
    }
}

impl Tracked for EndpointSlice {
    const GROUP: &'static str = "discovery.k8s.io";
    const RESOURCE: &'static str = "endpointslices";
    fn upsert(tracker: &mut ChangeTracker, object: &Self) {
        tracker.upsert_endpoint_slice(object);
    }
    fn delete(tracker: &mut ChangeTracker, object: &Self) {
        tracker.delete_endpoint_slice(object);
    }
    fn replace(tracker: &mut ChangeTracker, objects: &[Self]) {
        tracker.replace_endpoint_slices(objects);
    }
}

/// One reflected collection.
struct Input<T> {
    events: mpsc::Receiver<ReflectorEvent>,
    /// Whether the collection was listed at least once.
    listed: bool,
    kind: PhantomData<fn() -> T>,
}

impl<T: Tracked> Input<T> {
    fn start(client: Client, stop: CancellationToken) -> Result<Self, Error> {
        let info = ferry_api::resource::find(T::GROUP, "v1", T::RESOURCE)
            .ok_or(Error::UnknownResource(T::RESOURCE))?;
        Ok(Input {
            events: reflect(client, info, stop),
            listed: false,
            kind: PhantomData,
        })
    }

    /// Applies an event from `recv`; a closed channel while the proxy runs is an error.
    fn apply(
        &mut self,
        tracker: &mut ChangeTracker,
        event: Option<ReflectorEvent>,
    ) -> Result<(), Error> {
        let event = event.ok_or(Error::ReflectorStopped(T::RESOURCE))?;
        match event {
            ReflectorEvent::Relisted(items) => {
                let objects: Vec<T> = items.into_iter().filter_map(decode::<T>).collect();
                T::replace(tracker, &objects);
                self.listed = true;
            }
            ReflectorEvent::Applied(object) => {
                if let Some(object) = decode::<T>(object) {
                    T::upsert(tracker, &object);
                }
            }
            ReflectorEvent::Deleted(object) => {
                if let Some(object) = decode::<T>(object) {
                    T::delete(tracker, &object);
                }
            }
        }
        Ok(())
    }

    /// Applies one already queued event; false when none is. A closed channel counts as empty
    /// here: the next `recv` reports it.
    fn drain_one(&mut self, tracker: &mut ChangeTracker) -> bool {
        match self.events.try_recv() {
            Ok(event) => self.apply(tracker, Some(event)).is_ok(),
            Err(_) => false,
        }
    }
}

/// Applies every event already queued in either input, so that one sync covers a whole burst.
fn drain(
    tracker: &mut ChangeTracker,
    services: &mut Input<Service>,
    slices: &mut Input<EndpointSlice>,
) {
    loop {
        let from_services = services.drain_one(tracker);
        let from_slices = slices.drain_one(tracker);
        if !from_services && !from_slices {
            return;
        }
    }
}

/// An object from the API as `T`; one that does not decode is skipped with a warning, so that
/// it cannot stop the proxy.
fn decode<T: Tracked>(object: Value) -> Option<T> {
    serde_json::from_value(object)
        .inspect_err(|e| {
            tracing::warn!(resource = T::RESOURCE, error = %e, "skipping an object that does not decode");
        })
        .ok()
}

/// When to retry after failed syncs.
struct Backoff {
    next_delay: Duration,
    retry_at: Option<Instant>,
}

impl Backoff {
    fn new() -> Self {
        Backoff {
            next_delay: FIRST_RETRY,
            retry_at: None,
        }
    }

    /// Schedules a retry; returns its delay.
    fn fail(&mut self) -> Duration {
        let delay = self.next_delay;
        self.retry_at = Some(Instant::now() + delay);
        self.next_delay = (delay * 2).min(MAX_RETRY);
        delay
    }

    fn reset(&mut self) {
        *self = Backoff::new();
    }

    /// Whether a retry is scheduled (no sync before it).
    fn is_waiting(&self) -> bool {
        self.retry_at.is_some()
    }

    fn deadline(&self) -> Instant {
        self.retry_at.unwrap_or_else(Instant::now)
    }

    /// The scheduled retry is due.
    fn expire(&mut self) {
        self.retry_at = None;
    }
}
