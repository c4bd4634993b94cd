//! The arithmetic of a Deployment's rollout, as upstream's `deployment/util` and `rolling.go`
//! compute it: surge and unavailability fenceposts, how far the new ReplicaSet may grow, which
//! old ReplicaSets shrink and by how much, proportional scaling, and revision history cleanup.
//! Pure: ReplicaSets in, sizes out.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

/// A ReplicaSet as the rollout arithmetic sees it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RsState {
    pub name: String,
    pub created: Option<Timestamp>,
    /// `deployment.kubernetes.io/revision`, 0 when missing.
    pub revision: i64,
    /// `spec.replicas`.
    pub replicas: i32,
    /// `status.replicas`, `readyReplicas`, `availableReplicas`.
    pub current: i32,
    pub ready: i32,
    pub available: i32,
    /// `deployment.kubernetes.io/desired-replicas` and `max-replicas`.
    pub desired_annotation: Option<i32>,
    pub max_annotation: Option<i32>,
    pub deleting: bool,
    pub generation: i64,
    pub observed_generation: i64,
}

/// How a Deployment replaces its pods.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Strategy {
    Recreate,
    RollingUpdate {
        max_surge: IntOrString,
        max_unavailable: IntOrString,
    },
}

/// The rollout parameters of a Deployment.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RolloutSpec {
    pub replicas: i32,
    pub strategy: Strategy,
}

/// A ReplicaSet size to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ScaleTo {
    pub name: String,
    pub replicas: i32,
    /// Write even when the size is unchanged, to refresh the replicas annotations
    /// (proportional scaling does, upstream's other scale paths do not).
    pub refresh_annotations: bool,
}

/// One step of a rolling update (`rolloutRolling`): grow the new ReplicaSet, or shrink old
/// ones, or nothing left to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RollingStep {
    ScaleNew(i32),
    ScaleOld(Vec<ScaleTo>),
    Steady,
}

/// `intstr.GetScaledValueFromIntOrPercent`: an int as is, a percentage of `total` rounded up
/// or down; `None` for a string that is no percentage (validation refuses those).
pub(crate) fn scaled_value(value: &IntOrString, total: i32, round_up: bool) -> Option<i32> {
    match value {
        IntOrString::Int(n) => Some(*n),
        IntOrString::String(s) => {
            let percent: i64 = s.strip_suffix('%')?.parse().ok()?;
            let product = percent * i64::from(total);
            let scaled = if round_up {
                product.div_euclid(100) + i64::from(product.rem_euclid(100) != 0)
            } else {
                product.div_euclid(100)
            };
            i32::try_from(scaled).ok()
        }
    }
}

impl RolloutSpec {
    fn is_rolling(&self) -> bool {
        matches!(self.strategy, Strategy::RollingUpdate { .. })
    }

    /// `ResolveFenceposts`: surge rounds up, unavailability down, and both zero means one
    /// pod may be unavailable.
    fn fenceposts(&self) -> (i32, i32) {
        let Strategy::RollingUpdate {
            max_surge,
            max_unavailable,
        } = &self.strategy
        else {
            return (0, 0);
        };
        let surge = scaled_value(max_surge, self.replicas, true).unwrap_or(0);
        let unavailable = scaled_value(max_unavailable, self.replicas, false).unwrap_or(0);
        if surge == 0 && unavailable == 0 {
            return (0, 1);
        }
        (surge, unavailable)
    }

    /// `MaxSurge`.
    pub(crate) fn max_surge(&self) -> i32 {
        if !self.is_rolling() {
            return 0;
        }
        self.fenceposts().0
    }

    /// `MaxUnavailable`: never more than the replicas.
    pub(crate) fn max_unavailable(&self) -> i32 {
        if !self.is_rolling() || self.replicas == 0 {
            return 0;
        }
        self.fenceposts().1.min(self.replicas)
    }
}

fn total_replicas(sets: &[&RsState]) -> i32 {
    sets.iter().map(|rs| rs.replicas).sum()
}

/// Oldest first, ties by name (`ReplicaSetsByCreationTimestamp`).
pub(crate) fn by_creation(a: &RsState, b: &RsState) -> Ordering {
    a.created.cmp(&b.created).then_with(|| a.name.cmp(&b.name))
}

/// `NewRSNewReplicas`: how big the new ReplicaSet may be now.
pub(crate) fn new_rs_new_replicas(spec: &RolloutSpec, all: &[&RsState], new: &RsState) -> i32 {
    match &spec.strategy {
        Strategy::Recreate => spec.replicas,
        Strategy::RollingUpdate { max_surge, .. } => {
            let surge = scaled_value(max_surge, spec.replicas, true).unwrap_or(0);
            let current = total_replicas(all);
            let max_total = spec.replicas + surge;
            if current >= max_total {
                return new.replicas;
            }
            let up = (max_total - current).min(spec.replicas - new.replicas);
            new.replicas + up
        }
    }
}

/// The next step of a rolling update (`reconcileNewReplicaSet`, then `reconcileOldReplicaSets`).
pub(crate) fn rolling_step(spec: &RolloutSpec, new: &RsState, olds: &[RsState]) -> RollingStep {
    if new.replicas != spec.replicas {
        let target = if new.replicas > spec.replicas {
            spec.replicas
        } else {
            let all: Vec<&RsState> = olds.iter().chain(std::iter::once(new)).collect();
            new_rs_new_replicas(spec, &all, new)
        };
        if target != new.replicas {
            return RollingStep::ScaleNew(target);
        }
    }
    let downs = scale_down_old(spec, new, olds);
    if downs.is_empty() {
        RollingStep::Steady
    } else {
        RollingStep::ScaleOld(downs)
    }
}

/// `reconcileOldReplicaSets`: first scale down old ReplicaSets' unhealthy pods, then as many
/// more as availability allows (`minAvailable = replicas - maxUnavailable`), oldest first.
fn scale_down_old(spec: &RolloutSpec, new: &RsState, olds: &[RsState]) -> Vec<ScaleTo> {
    let mut olds: Vec<RsState> = olds.iter().filter(|rs| rs.replicas > 0).cloned().collect();
    olds.sort_by(by_creation);
    let old_pods: i32 = olds.iter().map(|rs| rs.replicas).sum();
    if old_pods == 0 {
        return Vec::new();
    }
    let all_pods = old_pods + new.replicas;
    let min_available = spec.replicas - spec.max_unavailable();
    let new_unavailable = new.replicas - new.available;
    let max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Vec::new();
    }
    let mut sizes: BTreeMap<usize, i32> = BTreeMap::new();
    // Unhealthy replicas first: removing them cannot lower availability.
    let mut cleaned = 0;
    for (i, rs) in olds.iter_mut().enumerate() {
        if cleaned >= max_scaled_down {
            break;
        }
        if rs.replicas == 0 || rs.replicas == rs.available {
            continue;
        }
        let down = (max_scaled_down - cleaned).min(rs.replicas - rs.available);
        rs.replicas -= down;
        cleaned += down;
        sizes.insert(i, rs.replicas);
    }
    let available: i32 = olds.iter().map(|rs| rs.available).sum::<i32>() + new.available;
    if available > min_available {
        let wanted = available - min_available;
        let mut done = 0;
        for (i, rs) in olds.iter_mut().enumerate() {
            if done >= wanted {
                break;
            }
            if rs.replicas == 0 {
                continue;
            }
            let down = rs.replicas.min(wanted - done);
            rs.replicas -= down;
            done += down;
            sizes.insert(i, rs.replicas);
        }
    }
    sizes
        .into_iter()
        .map(|(i, replicas)| ScaleTo {
            name: olds[i].name.clone(),
            replicas,
            refresh_annotations: false,
        })
        .collect()
}

/// `IsSaturated`: the new ReplicaSet runs every replica and all of them are available.
fn is_saturated(spec: &RolloutSpec, new: Option<&RsState>) -> bool {
    new.is_some_and(|rs| {
        rs.replicas == spec.replicas
            && rs.desired_annotation == Some(spec.replicas)
            && rs.available == spec.replicas
    })
}

/// `scale`: sizes for a Deployment whose replica count changed (or that is paused). One active
/// ReplicaSet takes the whole count; a saturated new one empties the old ones; otherwise a
/// rolling Deployment spreads the change over its active ReplicaSets in proportion to their
/// sizes.
pub(crate) fn scale_plan(
    spec: &RolloutSpec,
    new: Option<&RsState>,
    olds: &[RsState],
    status_replicas: i32,
) -> Vec<ScaleTo> {
    if let Some(rs) = active_or_latest(new, olds) {
        if rs.replicas == spec.replicas {
            return Vec::new();
        }
        return vec![ScaleTo {
            name: rs.name.clone(),
            replicas: spec.replicas,
            refresh_annotations: false,
        }];
    }
    if is_saturated(spec, new) {
        return olds
            .iter()
            .filter(|rs| rs.replicas > 0)
            .map(|rs| ScaleTo {
                name: rs.name.clone(),
                replicas: 0,
                refresh_annotations: false,
            })
            .collect();
    }
    if !spec.is_rolling() {
        return Vec::new();
    }
    proportional(spec, new, olds, status_replicas)
}

/// `FindActiveOrLatest`: the only active ReplicaSet; with none active, the newest one.
fn active_or_latest<'a>(new: Option<&'a RsState>, olds: &'a [RsState]) -> Option<&'a RsState> {
    let mut olds: Vec<&RsState> = olds.iter().collect();
    olds.sort_by(|a, b| by_creation(b, a));
    let active: Vec<&RsState> = olds
        .iter()
        .copied()
        .chain(new)
        .filter(|rs| rs.replicas > 0)
        .collect();
    match active.len() {
        0 => new.or(olds.first().copied()),
        1 => Some(active[0]),
        _ => None,
    }
}

fn proportional(
    spec: &RolloutSpec,
    new: Option<&RsState>,
    olds: &[RsState],
    status_replicas: i32,
) -> Vec<ScaleTo> {
    let mut active: Vec<&RsState> = olds
        .iter()
        .chain(new)
        .filter(|rs| rs.replicas > 0)
        .collect();
    let current = total_replicas(&active);
    let allowed = if spec.replicas > 0 {
        spec.replicas + spec.max_surge()
    } else {
        0
    };
    let to_add = allowed - current;
    // Larger first; among equals, newer first when growing and older first when shrinking.
    match to_add.cmp(&0) {
        Ordering::Greater => {
            active.sort_by(|a, b| b.replicas.cmp(&a.replicas).then_with(|| by_creation(b, a)))
        }
        Ordering::Less => {
            active.sort_by(|a, b| b.replicas.cmp(&a.replicas).then_with(|| by_creation(a, b)))
        }
        Ordering::Equal => {}
    }
    let mut added = 0;
    let mut sizes: Vec<i32> = Vec::with_capacity(active.len());
    for rs in &active {
        if to_add == 0 {
            sizes.push(rs.replicas);
            continue;
        }
        let share = proportion(spec, rs, to_add, added, status_replicas);
        sizes.push(rs.replicas + share);
        added += share;
    }
    if to_add != 0 {
        if let Some(first) = sizes.first_mut() {
            *first = (*first + to_add - added).max(0);
        }
    }
    active
        .iter()
        .zip(sizes)
        .map(|(rs, replicas)| ScaleTo {
            name: rs.name.clone(),
            replicas,
            refresh_annotations: true,
        })
        .collect()
}

/// `GetProportion`: this ReplicaSet's share of the replicas to add (or remove), bounded by
/// what is left to add.
fn proportion(
    spec: &RolloutSpec,
    rs: &RsState,
    to_add: i32,
    added: i32,
    status_replicas: i32,
) -> i32 {
    if rs.replicas == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = replica_set_fraction(spec, rs, status_replicas);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// `getReplicaSetFraction`: the change that keeps this ReplicaSet's share of the Deployment's
/// maximum size, measured against the maximum recorded in its `max-replicas` annotation.
fn replica_set_fraction(spec: &RolloutSpec, rs: &RsState, status_replicas: i32) -> i32 {
    if spec.replicas == 0 {
        return -rs.replicas;
    }
    let max_now = spec.replicas + spec.max_surge();
    let max_before = match rs.max_annotation {
        Some(n) if n != 0 => n,
        _ => status_replicas,
    };
    if max_before == 0 {
        return 0;
    }
    let size = f64::from(rs.replicas) * f64::from(max_now) / f64::from(max_before);
    // `integer.RoundToInt32`: half away from zero, then truncation.
    (size + 0.5) as i32 - rs.replicas
}

/// `cleanupDeployment`: the oldest revisions beyond `revisionHistoryLimit` that are fully
/// scaled down and settled.
pub(crate) fn history_to_delete(olds: &[RsState], limit: i32) -> Vec<String> {
    let mut alive: Vec<&RsState> = olds.iter().filter(|rs| !rs.deleting).collect();
    let excess = i32::try_from(alive.len()).unwrap_or(i32::MAX) - limit;
    if excess <= 0 {
        return Vec::new();
    }
    alive.sort_by(|a, b| a.revision.cmp(&b.revision).then_with(|| by_creation(a, b)));
    alive
        .into_iter()
        .take(usize::try_from(excess).unwrap_or(0))
        .filter(|rs| rs.current == 0 && rs.replicas == 0 && rs.generation <= rs.observed_generation)
        .map(|rs| rs.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percent(s: &str) -> IntOrString {
        IntOrString::String(s.into())
    }

    fn rolling(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> RolloutSpec {
        RolloutSpec {
            replicas,
            strategy: Strategy::RollingUpdate {
                max_surge: surge,
                max_unavailable: unavailable,
            },
        }
    }

    /// A ReplicaSet `name` created at second `age_rank` with `replicas` of which `available`
    /// are available.
    fn rs(name: &str, created: i64, replicas: i32, available: i32) -> RsState {
        RsState {
            name: name.into(),
            created: Some(Timestamp::from_second(created).unwrap()),
            revision: created,
            replicas,
            current: replicas,
            ready: available,
            available,
            desired_annotation: None,
            max_annotation: None,
            deleting: false,
            generation: 1,
            observed_generation: 1,
        }
    }

    #[test]
    fn scaled_values_round_surge_up_and_unavailability_down() {
        let cases = [
            (percent("25%"), 3, true, Some(1)),
            (percent("25%"), 3, false, Some(0)),
            (percent("25%"), 10, true, Some(3)),
            (percent("25%"), 10, false, Some(2)),
            (percent("100%"), 7, false, Some(7)),
            (IntOrString::Int(2), 10, false, Some(2)),
            (percent("2"), 10, false, None),
        ];
        for (value, total, up, want) in cases {
            assert_eq!(
                scaled_value(&value, total, up),
                want,
                "{value:?} of {total}"
            );
        }
        let zero_zero = rolling(3, IntOrString::Int(0), percent("25%"));
        assert_eq!((zero_zero.max_surge(), zero_zero.max_unavailable()), (0, 1));
        let recreate = RolloutSpec {
            replicas: 3,
            strategy: Strategy::Recreate,
        };
        assert_eq!((recreate.max_surge(), recreate.max_unavailable()), (0, 0));
    }

    /// A rolling update of 3 replicas with the defaults (25%: surge 1, unavailable 0), step by
    /// step as the new pods become available.
    #[test]
    fn a_default_rolling_update_goes_one_pod_at_a_time() {
        let spec = rolling(3, percent("25%"), percent("25%"));
        let old = rs("old", 1, 3, 3);
        let new = rs("new", 2, 0, 0);
        assert_eq!(
            rolling_step(&spec, &new, std::slice::from_ref(&old)),
            RollingStep::ScaleNew(1)
        );
        // The new pod is not available yet: nothing may go.
        let new = rs("new", 2, 1, 0);
        assert_eq!(
            rolling_step(&spec, &new, std::slice::from_ref(&old)),
            RollingStep::Steady
        );
        // It is: one old pod goes.
        let new = rs("new", 2, 1, 1);
        assert_eq!(
            rolling_step(&spec, &new, &[old]),
            RollingStep::ScaleOld(vec![ScaleTo {
                name: "old".into(),
                replicas: 2,
                refresh_annotations: false
            }])
        );
        let old = rs("old", 1, 2, 2);
        assert_eq!(
            rolling_step(&spec, &new, std::slice::from_ref(&old)),
            RollingStep::ScaleNew(2)
        );
        let new = rs("new", 2, 3, 3);
        let old = rs("old", 1, 0, 0);
        assert_eq!(rolling_step(&spec, &new, &[old]), RollingStep::Steady);
    }

    #[test]
    fn unhealthy_old_pods_go_first_and_availability_bounds_the_rest() {
        let spec = rolling(10, percent("25%"), percent("25%"));
        // maxSurge 3, maxUnavailable 2: 13 pods may exist, 8 must be available.
        let new = rs("new", 3, 3, 0);
        let older = rs("older", 1, 5, 2);
        let old = rs("old", 2, 5, 5);
        // all 13, minAvailable 8, new unavailable 3: 2 may go, both from older's unhealthy 3.
        assert_eq!(
            rolling_step(&spec, &new, &[old.clone(), older.clone()]),
            RollingStep::ScaleOld(vec![ScaleTo {
                name: "older".into(),
                replicas: 3,
                refresh_annotations: false
            }])
        );
        let new = rs("new", 3, 3, 3);
        // 5 may go: older's 3 unhealthy pods, then 2 more as available 10 > 8, oldest first.
        assert_eq!(
            rolling_step(&spec, &new, &[old, older]),
            RollingStep::ScaleOld(vec![ScaleTo {
                name: "older".into(),
                replicas: 0,
                refresh_annotations: false
            }])
        );
    }

    #[test]
    fn the_new_replica_set_grows_within_the_surge() {
        let spec = rolling(10, percent("30%"), IntOrString::Int(0));
        let old = rs("old", 1, 10, 10);
        let new = rs("new", 2, 0, 0);
        let all = [&old, &new];
        assert_eq!(new_rs_new_replicas(&spec, &all, &new), 3);
        let full = rs("new", 2, 3, 0);
        let all = [&old, &full];
        assert_eq!(new_rs_new_replicas(&spec, &all, &full), 3);
    }

    #[test]
    fn scaling_follows_active_saturated_and_proportional_rules() {
        let spec = rolling(5, percent("25%"), percent("25%"));
        // One active ReplicaSet takes the count.
        let only = rs("only", 1, 3, 3);
        assert_eq!(
            scale_plan(&spec, Some(&only), &[rs("gone", 0, 0, 0)], 3),
            vec![ScaleTo {
                name: "only".into(),
                replicas: 5,
                refresh_annotations: false
            }]
        );
        // Mid-rollout 10 -> 20 (surge 25%: 3 then 5): 8 old + 5 new, max 13 before, 25 after.
        let spec = rolling(20, percent("25%"), percent("25%"));
        let mut old = rs("old", 1, 8, 8);
        old.max_annotation = Some(13);
        let mut new = rs("new", 2, 5, 0);
        new.max_annotation = Some(13);
        let plan = scale_plan(&spec, Some(&new), &[old], 13);
        assert_eq!(
            plan,
            vec![
                ScaleTo {
                    name: "old".into(),
                    replicas: 15,
                    refresh_annotations: true
                },
                ScaleTo {
                    name: "new".into(),
                    replicas: 10,
                    refresh_annotations: true
                },
            ]
        );
        // A saturated new ReplicaSet empties the old ones.
        let spec = rolling(3, percent("25%"), percent("25%"));
        let mut new = rs("new", 2, 3, 3);
        new.desired_annotation = Some(3);
        let plan = scale_plan(
            &spec,
            Some(&new),
            &[rs("old", 1, 1, 1), rs("older", 0, 1, 1)],
            5,
        );
        assert_eq!(
            plan.iter()
                .map(|s| (s.name.as_str(), s.replicas))
                .collect::<Vec<_>>(),
            [("old", 0), ("older", 0)]
        );
    }

    #[test]
    fn history_keeps_the_newest_revisions_and_anything_still_running() {
        let mut busy = rs("r2", 2, 1, 1);
        busy.revision = 2;
        let olds = [
            rs("r1", 1, 0, 0),
            busy,
            rs("r3", 3, 0, 0),
            rs("r4", 4, 0, 0),
        ];
        assert_eq!(history_to_delete(&olds, 2), ["r1"]);
        assert_eq!(history_to_delete(&olds, 0), ["r1", "r3", "r4"]);
        assert!(history_to_delete(&olds, 10).is_empty());
    }
}
