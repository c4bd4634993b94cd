//! A watcher: its catch-up events, then the live stream, filtered by prefix and start revision.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

use crate::cache::{Cache, Published, Subscription};
use crate::{Event, Revision, StoreError};

/// The events under a prefix from a start revision, in revision order and, within one
/// revision, in the order of the transaction's operations.
pub struct Watch {
    prefix: String,
    start: Revision,
    pending: VecDeque<Event>,
    /// Every event up to this revision has been put in `pending` or filtered out.
    covered: Revision,
    /// `None` once the stream has ended.
    live: Option<Receiver<Published>>,
    cache: Arc<Cache>,
}

impl Watch {
    pub(crate) fn new(prefix: &str, start: Revision, sub: Subscription, cache: Arc<Cache>) -> Self {
        Watch {
            prefix: prefix.to_owned(),
            start,
            pending: sub.pending,
            covered: sub.covered,
            live: Some(sub.live),
            cache,
        }
    }

    /// Puts catch-up events read from the log ahead of everything else.
    pub(crate) fn prepend(&mut self, events: Vec<Event>) {
        for event in events.into_iter().rev() {
            self.pending.push_front(event);
        }
    }

    /// The next event; `None` once the store has shut down (or after an error), and
    /// `Err(Lagged)` when this watcher fell too far behind: its client must re-list.
    pub async fn next(&mut self) -> Option<Result<Event, StoreError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            let live = self.live.as_mut()?;
            match live.recv().await {
                Ok(published) => self.accept(&published),
                Err(RecvError::Closed) => {
                    self.live = None;
                    return None;
                }
                Err(RecvError::Lagged(_)) => {
                    if let Err(e) = self.resync() {
                        self.live = None;
                        return match e {
                            StoreError::Closed => None,
                            e => Some(Err(e)),
                        };
                    }
                }
            }
        }
    }

    /// The watch as a `Stream`, for callers that combine it with other streams.
    pub fn into_stream(self) -> impl Stream<Item = Result<Event, StoreError>> + Send {
        futures_util::stream::unfold(self, |mut watch| async move {
            let item = watch.next().await?;
            Some((item, watch))
        })
    }

    fn accept(&mut self, published: &[Event]) {
        for event in published {
            let revision = event.revision();
            if revision > self.covered
                && revision >= self.start
                && event.kv.key.starts_with(&self.prefix)
            {
                self.pending.push_back(event.clone());
            }
        }
        if let Some(last) = published.last() {
            self.covered = self.covered.max(last.revision());
        }
    }

    /// Resumes from the ring after the live receiver lost messages.
    fn resync(&mut self) -> Result<(), StoreError> {
        let after = self.covered.max(self.start - 1);
        let sub = self.cache.resync(&self.prefix, after)?;
        self.pending.extend(sub.pending);
        self.covered = sub.covered;
        self.live = Some(sub.live);
        Ok(())
    }
}
