//! Latency samples reduced to count, p50, p99 and max (nearest-rank percentiles).

use std::time::Duration;

/// The figures one phase reports for a set of latencies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Summary {
    pub(crate) count: usize,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) max: Duration,
}

impl Summary {
    /// Summarizes `samples` (sorting them); all zero when there are none.
    pub(crate) fn of(samples: &mut [Duration]) -> Summary {
        samples.sort_unstable();
        Summary {
            count: samples.len(),
            p50: percentile(samples, 50),
            p99: percentile(samples, 99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

/// The nearest-rank `p`th percentile of sorted samples: the smallest sample with at least
/// `p` percent of the samples at or below it.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// Milliseconds with microsecond resolution, for tables and JSON.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let hundred: Vec<u64> = (1..=100).collect();
        let cases: [(&[u64], [u64; 3]); 5] = [
            (&[], [0, 0, 0]),
            (&[7], [7, 7, 7]),
            (&[3, 1, 2], [2, 3, 3]),
            (&hundred, [50, 99, 100]),
            (&[5, 1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 5, 5]),
        ];
        for (samples, [p50, p99, max]) in cases {
            let summary = Summary::of(&mut millis(samples));
            assert_eq!(
                (summary.count, summary.p50, summary.p99, summary.max),
                (
                    samples.len(),
                    Duration::from_millis(p50),
                    Duration::from_millis(p99),
                    Duration::from_millis(max)
                ),
                "{samples:?}"
            );
        }
        assert_eq!(ms(Duration::from_micros(1234)), 1.234);
    }
}
