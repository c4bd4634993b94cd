//! List element order after a strategic merge, as apimachinery's `normalizeElementOrder`
//! decides it.
//!
//! The merged list is split into items named by the patch (or by `$setElementOrder`) and
//! server-only items. Each part is sorted by its own reference order (the patch's, the live
//! list's), then server-only items are woven into the patch items wherever the live order
//! places them before one. Items missing from a reference order compare as "less" in both
//! directions, exactly like upstream's comparator; that comparator is not a strict weak order,
//! so the sort below replicates Go's `sort.SliceStable` step by step to land on the same result.

use serde_json::Value;

use super::go_fmt::{go_equal, GoType};
use super::strategic::{extract_to_delete_items, require_merge_key, StrategicError};

/// How list elements are identified: by a merge key for lists of maps, else by value.
#[derive(Clone, Copy)]
pub(crate) struct Identity<'a> {
    pub(crate) merge_key: &'a str,
    pub(crate) kind: GoType,
}

impl Identity<'_> {
    /// The value an element is compared by (Go's `index` helper).
    fn id<'v>(&self, item: &'v Value) -> Option<&'v Value> {
        if self.kind == GoType::Map {
            // A missing key and a null one both read as nil in Go.
            item.as_object()
                .and_then(|m| m.get(self.merge_key))
                .filter(|v| !v.is_null())
        } else {
            Some(item)
        }
    }

    /// The position of `item` in `list`, if any.
    fn index(&self, list: &[Value], item: &Value) -> Option<usize> {
        let want = self.id(item);
        list.iter().position(|v| match (want, self.id(v)) {
            (Some(a), Some(b)) => go_equal(a, b),
            (None, None) => true,
            _ => false,
        })
    }
}

/// Sorts `patch` items by `patch_order` and `server_only` items by `server_order`, then weaves
/// them together.
pub(crate) fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    identity: Identity<'_>,
) -> Result<Vec<Value>, StrategicError> {
    let patch = normalize_slice_order(patch, patch_order, identity)?;
    let server_only = normalize_slice_order(server_only, server_order, identity)?;
    Ok(merge_sorted(server_only, patch, server_order, identity))
}

/// Sorts `to_sort` by `order`; for lists of maps, `$patch: delete` items go last.
fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    identity: Identity<'_>,
) -> Result<Vec<Value>, StrategicError> {
    let (mut to_sort, to_delete) = if identity.kind == GoType::Map {
        for item in to_sort.iter().chain(order) {
            require_merge_key(item, identity.merge_key)?;
        }
        extract_to_delete_items(to_sort)?
    } else {
        (to_sort, Vec::new())
    };
    go_stable_sort(&mut to_sort, |a, b| {
        match (identity.index(order, a), identity.index(order, b)) {
            (Some(i), Some(j)) => i < j,
            _ => true,
        }
    });
    to_sort.extend(to_delete);
    Ok(to_sort)
}

/// Inserts each `left` (server-only) item before the first `right` (patch) item that the
/// server order places after it; relative orders within `left` and `right` are kept.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    identity: Identity<'_>,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (identity.index(server_order, l), identity.index(server_order, r)),
                (Some(i), Some(j)) if i < j
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// Go's `sort.SliceStable`: insertion sort on blocks of 20, then SymMerge passes. Written out
/// because the comparator above is inconsistent, so only the same algorithm gives the same
/// order (and Rust's own sorts may panic on such comparators).
pub(crate) fn go_stable_sort<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    const BLOCK: usize = 20;
    let n = v.len();
    let mut a = 0;
    let mut b = BLOCK;
    while b <= n {
        insertion_sort(v, a, b, &less);
        a = b;
        b += BLOCK;
    }
    insertion_sort(v, a, n, &less);
    let mut block = BLOCK;
    while block < n {
        a = 0;
        b = 2 * block;
        while b <= n {
            sym_merge(v, a, a + block, b, &less);
            a = b;
            b += 2 * block;
        }
        let m = a + block;
        if m < n {
            sym_merge(v, a, m, n, &less);
        }
        block *= 2;
    }
}

fn insertion_sort<T>(v: &mut [T], a: usize, b: usize, less: &impl Fn(&T, &T) -> bool) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// Merges the sorted runs `v[a..m]` and `v[m..b]` (Kim and Kutzner's SymMerge, as in Go).
fn sym_merge<T>(v: &mut [T], a: usize, m: usize, b: usize, less: &impl Fn(&T, &T) -> bool) {
    if m - a == 1 {
        // Binary search for the first element of v[m..b] not less than v[a], then rotate v[a]
        // to just before it.
        let (mut i, mut j) = (m, b);
        while i < j {
            let h = (i + j) / 2;
            if less(&v[h], &v[a]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        for k in a..i - 1 {
            v.swap(k, k + 1);
        }
        return;
    }
    if b - m == 1 {
        let (mut i, mut j) = (a, m);
        while i < j {
            let h = (i + j) / 2;
            if !less(&v[m], &v[h]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        let mut k = m;
        while k > i {
            v.swap(k, k - 1);
            k -= 1;
        }
        return;
    }
    let mid = (a + b) / 2;
    let n = mid + m;
    let (mut start, mut r) = if m > mid { (n - b, mid) } else { (a, m) };
    let p = n - 1;
    while start < r {
        let c = (start + r) / 2;
        if !less(&v[p - c], &v[c]) {
            start = c + 1;
        } else {
            r = c;
        }
    }
    let end = n - start;
    if start < m && m < end {
        rotate(v, start, m, end);
    }
    if a < start && start < mid {
        sym_merge(v, a, start, mid, less);
    }
    if mid < end && end < b {
        sym_merge(v, mid, end, b, less);
    }
}

/// Rotates `v[a..b]` so that `v[m..b]` comes first, by block swaps as Go does.
fn rotate<T>(v: &mut [T], a: usize, m: usize, b: usize) {
    let mut i = m - a;
    let mut j = b - m;
    while i != j {
        if i > j {
            swap_range(v, m - i, m, j);
            i -= j;
        } else {
            swap_range(v, m - i, m + j - i, i);
            j -= i;
        }
    }
    swap_range(v, m - i, m, i);
}

fn swap_range<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_sort_sorts_and_keeps_ties() {
        for n in [0, 1, 5, 20, 21, 39, 40, 41, 100, 257] {
            let mut v: Vec<(u32, usize)> = (0..n).map(|i| (((i * 7919) % 13) as u32, i)).collect();
            go_stable_sort(&mut v, |a, b| a.0 < b.0);
            let mut want = v.clone();
            want.sort_by_key(|x| x.0);
            assert_eq!(v, want, "n={n}");
        }
    }

    #[test]
    fn rotate_moves_tail_first() {
        let mut v = [1, 2, 3, 4, 5, 6, 7];
        rotate(&mut v, 1, 3, 7);
        assert_eq!(v, [1, 4, 5, 6, 7, 2, 3]);
    }
}
