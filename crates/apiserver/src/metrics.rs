//! The API server's Prometheus metrics, under kube-apiserver's names.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of `apiserver_request_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub verb: String,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: String,
    pub code: String,
}

/// Labels of `apiserver_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DurationLabels {
    pub verb: String,
    pub group: String,
    pub version: String,
    pub resource: String,
}

/// Request counters and latencies.
#[derive(Clone)]
pub struct ApiMetrics {
    pub(crate) requests: Family<RequestLabels, Counter>,
    pub(crate) durations: Family<DurationLabels, Histogram>,
    pub(crate) registry: std::sync::Arc<std::sync::Mutex<Registry>>,
}

impl ApiMetrics {
    /// Registers the metrics into `registry`, which `/metrics` then serves whole.
    pub fn new(registry: std::sync::Arc<std::sync::Mutex<Registry>>) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<DurationLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        if let Ok(mut r) = registry.lock() {
            r.register(
                "apiserver_request",
                "Counter of apiserver requests broken out for each verb, group, version, resource and HTTP response code",
                requests.clone(),
            );
            r.register(
                "apiserver_request_duration_seconds",
                "Response latency distribution in seconds for each verb, group, version and resource",
                durations.clone(),
            );
        }
        ApiMetrics {
            requests,
            durations,
            registry,
        }
    }

    /// The text exposition of everything in the registry.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        }
        out
    }
}
