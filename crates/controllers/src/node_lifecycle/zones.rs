//! Zones of nodes and how fast NoExecute taints may be added in each, as the node lifecycle
//! controller's `handleDisruption` decides it. A zone (a node's region and zone labels) is fully
//! disrupted when none of its nodes is Ready, partially disrupted when more than two and at
//! least 55 % of them are not, and normal otherwise. Each zone adds taints through a token
//! bucket of one token at `--node-eviction-rate` (0.1 nodes/s); a partially disrupted zone of at
//! most 50 nodes adds none, a larger one 0.01/s. When every zone is fully disrupted the
//! controller blames itself (its view of the nodes) rather than the nodes: it adds no taints
//! at all and has the caller remove those it added.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// `--node-eviction-rate`: nodes tainted per second and zone.
const EVICTION_RATE: f64 = 0.1;
/// `--secondary-node-eviction-rate`: the same in a partially disrupted large zone.
const SECONDARY_EVICTION_RATE: f64 = 0.01;
/// `--large-cluster-size-threshold`: a zone with more nodes is large.
const LARGE_CLUSTER_THRESHOLD: usize = 50;
/// `--unhealthy-zone-threshold`: the share of not-Ready nodes that disrupts a zone.
const UNHEALTHY_ZONE_THRESHOLD: f64 = 0.55;
/// Nodes with this label do not count towards their zone's state.
const EXCLUDE_DISRUPTION_LABEL: &str = "node.kubernetes.io/exclude-disruption";
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
const BETA_ZONE_LABEL: &str = "failure-domain.beta.kubernetes.io/zone";
const REGION_LABEL: &str = "topology.kubernetes.io/region";
const BETA_REGION_LABEL: &str = "failure-domain.beta.kubernetes.io/region";

/// How healthy a zone is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ZoneState {
    /// Seen for the first time; its rate is the default one.
    Initial,
    Normal,
    PartialDisruption,
    FullDisruption,
}

/// A token bucket holding at most one token, refilled at `qps`
/// (`NewTokenBucketRateLimiter(qps, 1)`); at `qps` 0 it never gives one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Limiter {
    qps: f64,
    /// When the bucket holds its token again.
    refilled: Timestamp,
}

impl Limiter {
    /// A full bucket.
    fn full(qps: f64, now: Timestamp) -> Self {
        Limiter { qps, refilled: now }
    }

    fn has_token(&self, now: Timestamp) -> bool {
        self.qps > 0.0 && now >= self.refilled
    }

    /// Takes the token if there is one (`TryAccept`).
    pub(crate) fn try_accept(&mut self, now: Timestamp) -> bool {
        if !self.has_token(now) {
            return false;
        }
        let period = SignedDuration::from_secs_f64(1.0 / self.qps);
        self.refilled = now.saturating_add(period).unwrap_or(now);
        true
    }

    /// When a token is next to be had, if ever.
    pub(crate) fn next_token(&self) -> Option<Timestamp> {
        (self.qps > 0.0).then_some(self.refilled)
    }

    /// `SwapLimiter`: a new bucket at `qps`, empty if this one was.
    fn swap(&mut self, qps: f64, now: Timestamp) {
        if self.qps.to_bits() == qps.to_bits() {
            return;
        }
        let drained = !self.has_token(now);
        *self = Limiter::full(qps, now);
        if drained {
            self.try_accept(now);
        }
    }
}

/// One zone's state and tainting rate.
#[derive(Clone, Debug, PartialEq)]
struct Zone {
    state: ZoneState,
    limiter: Limiter,
}

/// What the caller has to do after [`Zones::handle_disruption`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Disruption {
    Unchanged,
    /// Every zone just became fully disrupted: remove the NoExecute readiness taints of every
    /// node ("master disruption mode").
    Entered,
    /// A node is Ready again after every zone was down: every node starts a new grace period.
    Exited,
}

/// The zones the controller knows, by [`zone_key`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Zones {
    zones: BTreeMap<String, Zone>,
}

impl Zones {
    /// Keeps exactly the zones of `nodes`; a new one starts `Initial` with a full bucket at
    /// the default rate (`addPodEvictorForNewZone`).
    pub(crate) fn observe<'a>(&mut self, nodes: impl Iterator<Item = &'a Node>, now: Timestamp) {
        let keys: Vec<String> = nodes.map(zone_key).collect();
        self.zones.retain(|k, _| keys.contains(k));
        for key in keys {
            self.zones.entry(key).or_insert(Zone {
                state: ZoneState::Initial,
                limiter: Limiter::full(EVICTION_RATE, now),
            });
        }
    }

    pub(crate) fn limiter(&mut self, zone: &str) -> Option<&mut Limiter> {
        self.zones.get_mut(zone).map(|z| &mut z.limiter)
    }

    /// `handleDisruption`: `ready` holds, per zone, the Ready status of each of its nodes not
    /// excluded from disruption checks (`None` for a node without one).
    pub(crate) fn handle_disruption(
        &mut self,
        ready: &BTreeMap<String, Vec<Option<String>>>,
        now: Timestamp,
    ) -> Disruption {
        let new_states: BTreeMap<&str, ZoneState> = ready
            .iter()
            .map(|(zone, statuses)| (zone.as_str(), zone_state(statuses)))
            .collect();
        let all_are_down = new_states.values().all(|s| *s == ZoneState::FullDisruption);
        let all_were_down = self
            .zones
            .iter()
            .filter(|(k, _)| ready.contains_key(*k))
            .all(|(_, z)| z.state == ZoneState::FullDisruption);
        if all_are_down && all_were_down {
            return Disruption::Unchanged;
        }
        if all_are_down {
            for zone in self.zones.values_mut() {
                zone.limiter.swap(0.0, now);
                zone.state = ZoneState::FullDisruption;
            }
            return Disruption::Entered;
        }
        for (key, zone) in &mut self.zones {
            let Some(&state) = new_states.get(key.as_str()) else {
                continue;
            };
            if !all_were_down && zone.state == state {
                continue;
            }
            let size = ready.get(key).map_or(0, Vec::len);
            if let Some(qps) = rate(state, size) {
                zone.limiter.swap(qps, now);
            }
            zone.state = state;
        }
        if all_were_down {
            Disruption::Exited
        } else {
            Disruption::Unchanged
        }
    }
}

/// `GetZoneKey`: region and zone (GA labels first, then the beta ones), or "" without either.
pub(crate) fn zone_key(node: &Node) -> String {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let label = |ga: &str, beta: &str| {
        labels
            .get(ga)
            .or_else(|| labels.get(beta))
            .cloned()
            .unwrap_or_default()
    };
    let zone = label(ZONE_LABEL, BETA_ZONE_LABEL);
    let region = label(REGION_LABEL, BETA_REGION_LABEL);
    if zone.is_empty() && region.is_empty() {
        return String::new();
    }
    format!("{region}:\0:{zone}")
}

pub(crate) fn excluded_from_disruption(node: &Node) -> bool {
    node.metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(EXCLUDE_DISRUPTION_LABEL))
}

/// `ComputeZoneState`.
fn zone_state(ready: &[Option<String>]) -> ZoneState {
    let up = ready
        .iter()
        .filter(|s| s.as_deref() == Some("True"))
        .count();
    let down = ready.len() - up;
    if up == 0 && down > 0 {
        return ZoneState::FullDisruption;
    }
    // Counts of nodes are far below 2^52, so the ratio is exact enough.
    #[allow(clippy::cast_precision_loss)]
    let share = down as f64 / ready.len().max(1) as f64;
    if down > 2 && share >= UNHEALTHY_ZONE_THRESHOLD {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// The tainting rate of a zone in `state` with `size` nodes (`setLimiterInZone`); `None` leaves
/// it as it is.
fn rate(state: ZoneState, size: usize) -> Option<f64> {
    match state {
        ZoneState::Initial => None,
        ZoneState::Normal | ZoneState::FullDisruption => Some(EVICTION_RATE),
        ZoneState::PartialDisruption if size > LARGE_CLUSTER_THRESHOLD => {
            Some(SECONDARY_EVICTION_RATE)
        }
        ZoneState::PartialDisruption => Some(0.0),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    fn statuses(list: &[&str]) -> Vec<Option<String>> {
        list.iter()
            .map(|s| (!s.is_empty()).then(|| s.to_string()))
            .collect()
    }

    fn node(labels: serde_json::Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": "n", "labels": labels}})).unwrap()
    }

    #[test]
    fn zone_states_follow_upstreams_thresholds() {
        let cases = [
            (vec!["True"], ZoneState::Normal),
            (vec!["Unknown"], ZoneState::FullDisruption),
            (vec!["", "False"], ZoneState::FullDisruption),
            (vec!["True", "Unknown"], ZoneState::Normal),
            // Two down of three is a majority but not more than two nodes.
            (vec!["True", "Unknown", "Unknown"], ZoneState::Normal),
            (
                vec!["True", "Unknown", "Unknown", "False"],
                ZoneState::PartialDisruption,
            ),
            (
                vec!["True", "True", "True", "Unknown", "Unknown", "False"],
                ZoneState::Normal,
            ),
        ];
        for (given, expected) in cases {
            assert_eq!(zone_state(&statuses(&given)), expected, "{given:?}");
        }
        assert_eq!(rate(ZoneState::PartialDisruption, 50), Some(0.0));
        assert_eq!(
            rate(ZoneState::PartialDisruption, 51),
            Some(SECONDARY_EVICTION_RATE)
        );
        assert_eq!(rate(ZoneState::FullDisruption, 3), Some(EVICTION_RATE));
    }

    #[test]
    fn zone_keys_prefer_ga_labels() {
        assert_eq!(zone_key(&node(json!({}))), "");
        assert_eq!(
            zone_key(&node(json!({"topology.kubernetes.io/zone": "a",
                "failure-domain.beta.kubernetes.io/zone": "b",
                "failure-domain.beta.kubernetes.io/region": "r"}))),
            "r:\0:a"
        );
        assert!(excluded_from_disruption(&node(
            json!({"node.kubernetes.io/exclude-disruption": ""})
        )));
    }

    #[test]
    fn the_bucket_gives_one_token_every_ten_seconds() {
        let mut limiter = Limiter::full(EVICTION_RATE, at(0));
        assert!(limiter.try_accept(at(0)));
        assert!(!limiter.try_accept(at(9)));
        assert_eq!(limiter.next_token(), Some(at(10)));
        assert!(limiter.try_accept(at(25)));
        // No saving up: the next token is ten seconds after the last one was taken.
        assert!(!limiter.try_accept(at(34)));
        limiter.swap(0.0, at(40));
        assert!(!limiter.try_accept(at(100)));
        assert_eq!(limiter.next_token(), None);
        // Leaving a stop starts with an empty bucket.
        limiter.swap(EVICTION_RATE, at(100));
        assert!(!limiter.try_accept(at(100)));
        assert!(limiter.try_accept(at(110)));
    }

    #[test]
    fn every_zone_down_stops_tainting_until_a_node_is_back() {
        let mut zones = Zones::default();
        let nodes = [node(json!({}))];
        zones.observe(nodes.iter(), at(0));
        let one = |status: &str| BTreeMap::from([(String::new(), statuses(&[status]))]);
        assert_eq!(
            zones.handle_disruption(&one("True"), at(0)),
            Disruption::Unchanged
        );
        assert!(zones.limiter("").unwrap().try_accept(at(0)));
        assert_eq!(
            zones.handle_disruption(&one("Unknown"), at(20)),
            Disruption::Entered
        );
        assert!(!zones.limiter("").unwrap().try_accept(at(30)));
        assert_eq!(
            zones.handle_disruption(&one("Unknown"), at(40)),
            Disruption::Unchanged
        );
        assert_eq!(
            zones.handle_disruption(&one("True"), at(50)),
            Disruption::Exited
        );
        assert!(!zones.limiter("").unwrap().try_accept(at(50)));
        assert!(zones.limiter("").unwrap().try_accept(at(60)));
    }

    #[test]
    fn one_zone_down_among_others_keeps_tainting() {
        let mut zones = Zones::default();
        let nodes = [
            node(json!({"topology.kubernetes.io/zone": "a"})),
            node(json!({"topology.kubernetes.io/zone": "b"})),
        ];
        zones.observe(nodes.iter(), at(0));
        let ready = BTreeMap::from([
            (":\0:a".to_string(), statuses(&["Unknown"])),
            (":\0:b".to_string(), statuses(&["True"])),
        ]);
        assert_eq!(
            zones.handle_disruption(&ready, at(0)),
            Disruption::Unchanged
        );
        assert!(zones.limiter(":\0:a").unwrap().try_accept(at(0)));
        // A partially disrupted small zone adds no taints.
        let partial = BTreeMap::from([
            (
                ":\0:a".to_string(),
                statuses(&["Unknown", "Unknown", "Unknown", "True"]),
            ),
            (":\0:b".to_string(), statuses(&["True"])),
        ]);
        zones.handle_disruption(&partial, at(30));
        assert!(!zones.limiter(":\0:a").unwrap().try_accept(at(60)));
        assert!(zones.limiter(":\0:b").unwrap().try_accept(at(60)));
    }
}
