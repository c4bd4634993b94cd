//! The benchmark's watchers: each on its own HTTPS connection (like one kube-proxy per node),
//! reading the watch stream as raw lines and noting when each update's `bench-seq` label
//! arrives. Lines are scanned, not parsed, so the watchers cost the shared CPUs little.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use ferry_runtime::{HttpsTransport, ResponseBody, Transport};

/// The label each update sets, its value the update's sequence number.
pub(crate) const SEQ_LABEL: &str = "bench-seq";

/// How the label's key appears in compact JSON.
const SEQ_KEY: &str = "\"bench-seq\":";

/// Running watchers.
pub(crate) struct Watchers {
    tasks: Vec<JoinHandle<anyhow::Result<Deliveries>>>,
    events: Vec<Arc<AtomicU64>>,
}

/// What one watcher saw: every event counted, and when each update arrived.
pub(crate) struct Deliveries {
    /// `(sequence number, arrival)` per update seen.
    pub(crate) arrivals: Vec<(usize, Instant)>,
}

impl Watchers {
    /// Opens `count` watches on `path` and waits (until `deadline`) for each to deliver its
    /// first event, so all are established before anything is measured. Each watcher stops
    /// after seeing update `last_seq`, or at `stop_by`.
    pub(crate) async fn start(
        kubeconfig: &Path,
        path: &str,
        count: usize,
        last_seq: usize,
        deadline: Instant,
        stop_by: Instant,
    ) -> anyhow::Result<Watchers> {
        let mut tasks = Vec::with_capacity(count);
        let mut events = Vec::with_capacity(count);
        let mut established = Vec::with_capacity(count);
        for _ in 0..count {
            let transport = HttpsTransport::from_kubeconfig(kubeconfig)?;
            let counter = Arc::new(AtomicU64::new(0));
            let (first_event, first_event_seen) = oneshot::channel();
            let watch = Watch {
                counter: counter.clone(),
                last_seq,
                stop_by,
            };
            tasks.push(tokio::spawn(watch.run(
                transport,
                path.to_string(),
                first_event,
            )));
            events.push(counter);
            established.push(first_event_seen);
        }
        for seen in established {
            match tokio::time::timeout_at(deadline.into(), seen).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => bail!("a watcher ended before its first event"),
                Err(_) => bail!("a watcher saw no event before the deadline"),
            }
        }
        Ok(Watchers { tasks, events })
    }

    /// The fewest events any watcher has seen so far.
    pub(crate) fn min_events(&self) -> u64 {
        self.events
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    }

    /// The events seen per watcher, fewest and most.
    pub(crate) fn event_range(&self) -> (u64, u64) {
        let counts = self.events.iter().map(|c| c.load(Ordering::Relaxed));
        (counts.clone().min().unwrap_or(0), counts.max().unwrap_or(0))
    }

    /// Waits for every watcher to stop and returns what each saw.
    pub(crate) async fn finish(self) -> anyhow::Result<Vec<Deliveries>> {
        let mut all = Vec::with_capacity(self.tasks.len());
        for task in self.tasks {
            all.push(task.await.context("watcher task")??);
        }
        Ok(all)
    }
}

struct Watch {
    counter: Arc<AtomicU64>,
    last_seq: usize,
    stop_by: Instant,
}

impl Watch {
    async fn run(
        self,
        transport: HttpsTransport,
        path: String,
        first_event: oneshot::Sender<()>,
    ) -> anyhow::Result<Deliveries> {
        let request = Request::get(path)
            .header("accept", "application/json")
            .body(Bytes::new())?;
        let response = transport.send(request).await.context("open watch")?;
        if !response.status().is_success() {
            bail!("watch answered {}", response.status());
        }
        let mut body = response.into_body();
        let mut first_event = Some(first_event);
        let mut pending = Vec::new();
        let mut deliveries = Deliveries {
            arrivals: Vec::new(),
        };
        while let Some(chunk) = self.next_chunk(&mut body).await? {
            let arrived = Instant::now();
            pending.extend_from_slice(&chunk);
            let mut done = false;
            let mut start = 0;
            while let Some(end) = pending[start..].iter().position(|b| *b == b'\n') {
                let line = &pending[start..start + end];
                start += end + 1;
                self.counter.fetch_add(1, Ordering::Relaxed);
                if let Some(seq) = seq_label(line) {
                    deliveries.arrivals.push((seq, arrived));
                    done |= seq == self.last_seq;
                }
            }
            pending.drain(..start);
            if start > 0 {
                if let Some(first) = first_event.take() {
                    let _ = first.send(());
                }
            }
            if done {
                break;
            }
        }
        Ok(deliveries)
    }

    /// The next data chunk; `None` when the stream ends or the stop time passes.
    async fn next_chunk(&self, body: &mut ResponseBody) -> anyhow::Result<Option<Bytes>> {
        loop {
            let frame = match tokio::time::timeout_at(self.stop_by.into(), body.frame()).await {
                Err(_) | Ok(None) => return Ok(None),
                Ok(Some(frame)) => frame
                    .map_err(|e| anyhow::anyhow!(e))
                    .context("read watch")?,
            };
            if let Ok(data) = frame.into_data() {
                return Ok(Some(data));
            }
        }
    }
}

/// The `bench-seq` label's value in one event line, if it has one.
fn seq_label(line: &[u8]) -> Option<usize> {
    // str::find skips ahead with a byte search; most lines (creates) have no label at all.
    let line = std::str::from_utf8(line).ok()?;
    let key = line.find(SEQ_KEY)?;
    let rest = line[key + SEQ_KEY.len()..].trim_start();
    let digits = rest.strip_prefix('"')?;
    let len = digits.bytes().take_while(u8::is_ascii_digit).count();
    digits[..len].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_labels_in_event_lines() {
        let cases = [
            (
                r#"{"type":"MODIFIED","object":{"metadata":{"labels":{"bench-seq":"42"}}}}"#,
                Some(42),
            ),
            (
                r#"{"type":"MODIFIED","object":{"metadata":{"labels":{"bench-seq": "7"}}}}"#,
                Some(7),
            ),
            (
                r#"{"type":"ADDED","object":{"metadata":{"name":"svc-00001"}}}"#,
                None,
            ),
            (r#"{"labels":{"bench-seq":""}}"#, None),
        ];
        for (line, want) in cases {
            assert_eq!(seq_label(line.as_bytes()), want, "{line}");
        }
    }
}
