//! Watch fan-out latency: each update's send and acknowledgement times against its arrival at
//! every watcher.

use std::time::{Duration, Instant};

use crate::phases::UpdateTimes;
use crate::stats::Summary;
use crate::watchers::Deliveries;

/// Fan-out figures over all deliveries and per update.
pub(crate) struct Fanout {
    /// From the update's send to its arrival, over every (update, watcher) delivery.
    pub(crate) send_to_delivery: Summary,
    /// From the update's acknowledgement to its arrival; zero for deliveries that came first.
    pub(crate) ack_to_delivery: Summary,
    /// Deliveries that arrived before the writer had its acknowledgement.
    pub(crate) before_ack: usize,
    /// From the update's send to its arrival at the last of all watchers, per update that
    /// reached them all.
    pub(crate) send_to_all: Summary,
    /// Expected (update, watcher) deliveries that never arrived.
    pub(crate) missing: usize,
}

pub(crate) fn fanout(updates: &[UpdateTimes], watchers: &[Deliveries]) -> Fanout {
    let mut send_to_delivery = Vec::new();
    let mut ack_to_delivery = Vec::new();
    let mut before_ack = 0;
    let mut reached = vec![0usize; updates.len()];
    let mut last_arrival: Vec<Option<Instant>> = vec![None; updates.len()];
    for watcher in watchers {
        let mut seen = vec![false; updates.len()];
        for &(seq, arrived) in &watcher.arrivals {
            let Some(times) = updates.get(seq) else {
                continue;
            };
            if std::mem::replace(&mut seen[seq], true) {
                continue;
            }
            reached[seq] += 1;
            send_to_delivery.push(arrived.saturating_duration_since(times.sent));
            match arrived.checked_duration_since(times.acknowledged) {
                Some(d) => ack_to_delivery.push(d),
                None => {
                    before_ack += 1;
                    ack_to_delivery.push(Duration::ZERO);
                }
            }
            last_arrival[seq] = last_arrival[seq].max(Some(arrived));
        }
    }
    let mut send_to_all: Vec<Duration> = updates
        .iter()
        .zip(&reached)
        .zip(&last_arrival)
        .filter(|((_, n), _)| **n == watchers.len())
        .filter_map(|((times, _), last)| {
            last.map(|last| last.saturating_duration_since(times.sent))
        })
        .collect();
    let delivered: usize = reached.iter().sum();
    Fanout {
        send_to_delivery: Summary::of(&mut send_to_delivery),
        ack_to_delivery: Summary::of(&mut ack_to_delivery),
        before_ack,
        send_to_all: Summary::of(&mut send_to_all),
        missing: updates.len() * watchers.len() - delivered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_against_send_and_ack() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let updates = [
            UpdateTimes {
                sent: at(0),
                acknowledged: at(4),
            },
            UpdateTimes {
                sent: at(10),
                acknowledged: at(12),
            },
        ];
        let watchers = [
            // Update 0 arrives before its ack; a duplicate and an unknown sequence are ignored.
            Deliveries {
                arrivals: vec![(0, at(3)), (1, at(15)), (1, at(16)), (7, at(20))],
            },
            // Update 1 never reaches this watcher.
            Deliveries {
                arrivals: vec![(0, at(6))],
            },
        ];
        let f = fanout(&updates, &watchers);
        let ms = Duration::from_millis;
        assert_eq!(
            (
                f.send_to_delivery.count,
                f.send_to_delivery.p50,
                f.send_to_delivery.max
            ),
            (3, ms(5), ms(6))
        );
        assert_eq!(
            (f.ack_to_delivery.p50, f.ack_to_delivery.max, f.before_ack),
            (ms(2), ms(3), 1)
        );
        assert_eq!(
            (f.send_to_all.count, f.send_to_all.max, f.missing),
            (1, ms(6), 1)
        );
    }
}
