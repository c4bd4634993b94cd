//! Server-side strategic merge patch, as kube-apiserver applies it with apimachinery's
//! `strategicpatch.StrategicMergeMapPatch` (parallel lists merged, unmatched nulls ignored).
//!
//! Maps merge recursively and `null` deletes a key. Lists whose field is tagged
//! `patchStrategy:"merge"` merge element-wise by their merge key (or as a set, for lists of
//! strings); other lists are replaced. Directives: `$patch` (`replace`, `delete`, and in list
//! elements `delete`/`replace`), `$retainKeys`, `$setElementOrder/<list>`,
//! `$deleteFromPrimitiveList/<list>`.
//!
//! The result is the map upstream hands to its typed decoder: like upstream, it can still hold
//! `null`s and directives inside values that were copied from the patch unmerged (new list
//! elements, replaced lists); typed decoding drops them.

use serde_json::{Map, Value};

use super::go_fmt::{go_equal, go_s, go_v, go_v_lists, GoType};
use super::merge_keys::{lookup, ListMerge, TypeSchema};
use super::order::{normalize_element_order, Identity};

type Object = Map<String, Value>;
type Schema = Option<&'static TypeSchema>;

const DIRECTIVE: &str = "$patch";
const DELETE: &str = "delete";
const REPLACE: &str = "replace";
const MERGE: &str = "merge";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// Why a strategic merge patch could not be applied; messages are apimachinery's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StrategicError {
    /// The live object is not a JSON object.
    #[error("invalid JSON document")]
    BadJsonDoc,
    /// A `$deleteFromPrimitiveList` key is not `$deleteFromPrimitiveList/<list>`.
    #[error("invalid patch format of primitive list")]
    BadPrimitiveListFormat,
    /// `$retainKeys` is not a list, or the patch sets a key the list does not retain.
    #[error("invalid patch format of retainKeys")]
    BadRetainKeysFormat,
    /// A `$setElementOrder` key is not `$setElementOrder/<list>`.
    #[error("invalid patch format of setElementOrder list")]
    BadSetElementOrderFormat,
    #[error("lists of lists are not supported")]
    ListOfLists,
    #[error("map: {map} does not contain declared merge key: {key}")]
    NoMergeKey { map: String, key: String },
    /// A value has the wrong JSON type (Go type names: `[]interface {}`, `string`, ...).
    #[error("expected a {expected}, but received a {actual}")]
    BadArgType {
        expected: &'static str,
        actual: &'static str,
    },
    #[error("unknown patch type: {directive} in map: {map}")]
    UnknownDirective { directive: String, map: String },
    /// `$patch: merge` inside a list.
    #[error("merging lists cannot yet be specified in the patch")]
    MergeDirectiveInList,
    /// A merge list of objects whose field has no merge key (element type named as Go does).
    #[error("cannot merge lists without merge key for {element}")]
    NoMergeKeyForList { element: &'static str },
    #[error("list element types are not identical: {lists}")]
    MixedElementTypes { lists: String },
    #[error("no elements in any of the given slices")]
    NoElements,
    #[error("value for key {index} is not a map")]
    NotAMap { index: usize },
    /// The patch list's items are not in `$setElementOrder`'s order.
    #[error("The order in patch list:\n{patch}\n doesn't match $setElementOrder list:\n{order}\n")]
    OrderMismatch { patch: String, order: String },
}

impl StrategicError {
    /// The HTTP status kube-apiserver answers with (`interpretStrategicMergePatchError`):
    /// malformed directives are 400, lists of lists 422, everything else an unwrapped error,
    /// which becomes a 500 with reason `""`.
    pub fn status_code(&self) -> u16 {
        match self {
            StrategicError::BadJsonDoc
            | StrategicError::BadPrimitiveListFormat
            | StrategicError::BadRetainKeysFormat
            | StrategicError::BadSetElementOrderFormat => 400,
            StrategicError::ListOfLists => 422,
            _ => 500,
        }
    }
}

/// Applies `patch` to `original`, whose type is described by `schema`.
pub(crate) fn strategic_merge(
    original: &Value,
    patch: Object,
    schema: &'static TypeSchema,
) -> Result<Value, StrategicError> {
    let Value::Object(original) = original else {
        return Err(StrategicError::BadJsonDoc);
    };
    merge_map(original.clone(), patch, Some(schema)).map(Value::Object)
}

fn merge_map(
    mut original: Object,
    mut patch: Object,
    ty: Schema,
) -> Result<Object, StrategicError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        let directive = directive.clone();
        return map_directive(&directive, patch);
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_ordered_lists(&mut original, &mut patch, ty)?;
    for (key, value) in patch {
        merge_field(&mut original, key, value, ty)?;
    }
    Ok(original)
}

/// `$patch` on a map: `replace` takes the patch as is, `delete` leaves an empty map.
fn map_directive(directive: &Value, mut patch: Object) -> Result<Object, StrategicError> {
    match directive.as_str() {
        Some(REPLACE) => {
            patch.shift_remove(DIRECTIVE);
            Ok(patch)
        }
        Some(DELETE) => Ok(Object::new()),
        _ => Err(StrategicError::UnknownDirective {
            directive: go_s(directive),
            map: go_v(&Value::Object(patch)),
        }),
    }
}

/// Merges one key of the patch into `original`.
fn merge_field(
    original: &mut Object,
    key: String,
    value: Value,
    ty: Schema,
) -> Result<(), StrategicError> {
    let (key, delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
        let list = list_key(&key, DELETE_FROM_PRIMITIVE_LIST)
            .ok_or(StrategicError::BadPrimitiveListFormat)?;
        (list, true)
    } else {
        (key, false)
    };
    if value.is_null() {
        original.shift_remove(&key);
        return Ok(());
    }
    match original.get_mut(&key) {
        Some(current) if GoType::of(current) == GoType::of(&value) => {
            let (child, strategy) = lookup(ty, &key);
            match (current, value) {
                (Value::Object(current), Value::Object(value)) => {
                    *current = merge_map(std::mem::take(current), value, child)?;
                }
                (Value::Array(current), Value::Array(value)) => {
                    let field = ListField {
                        ty: child,
                        strategy: strategy.list,
                        delete_list,
                    };
                    *current = merge_list(std::mem::take(current), value, field)?.items;
                }
                (current, value) => *current = value,
            }
        }
        // Absent from the object, or of another type: the patch value replaces it, except that
        // a deletion list never adds anything.
        _ if !delete_list => set_from_patch(original, key, value),
        _ => {}
    }
    Ok(())
}

/// Stores a patch value that is not merged with anything: its nulls and `$patch` maps go.
fn set_from_patch(original: &mut Object, key: String, mut value: Value) {
    discard_nulls(&mut value);
    match remove_directives(value) {
        Some(value) => {
            original.insert(key, value);
        }
        None => {
            original.shift_remove(&key);
        }
    }
}

/// `<prefix>/<list>` → `<list>`.
fn list_key(key: &str, prefix: &str) -> Option<String> {
    match key.split_once('/') {
        Some((head, list)) if head == prefix => Some(list.to_string()),
        _ => None,
    }
}

/// `$retainKeys`: drops every key of `original` the list does not name, after checking that
/// the patch itself only sets retained keys.
fn apply_retain_keys(original: &mut Object, patch: &mut Object) -> Result<(), StrategicError> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(StrategicError::BadRetainKeysFormat);
    };
    let retained = |key: &str| retain.iter().any(|v| v.as_str() == Some(key));
    let sets_other_key = patch.iter().any(|(key, value)| {
        !value.is_null()
            && !key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            && !key.starts_with(SET_ELEMENT_ORDER)
            && !retained(key)
    });
    if sets_other_key {
        return Err(StrategicError::BadRetainKeysFormat);
    }
    original.retain(|key, _| retained(key));
    Ok(())
}

/// `$setElementOrder/<list>`: merges the list (if the patch has it) and puts the result in
/// the given order, server-only items woven in by their live position.
fn merge_ordered_lists(
    original: &mut Object,
    patch: &mut Object,
    ty: Schema,
) -> Result<(), StrategicError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let Some(order) = patch.shift_remove(&key) else {
            continue;
        };
        let order = expect_list(order)?;
        let list =
            list_key(&key, SET_ELEMENT_ORDER).ok_or(StrategicError::BadSetElementOrderFormat)?;
        let live = original.get(&list).cloned().map(expect_list).transpose()?;
        let patched = patch.get(&list).cloned().map(expect_list).transpose()?;
        let (child, strategy) = lookup(ty, &list);
        let merge_key = strategy.merge_key().unwrap_or("");
        validate_order(patched.as_deref().unwrap_or_default(), &order, merge_key)?;
        let (merged, live) = match (live, &patched) {
            (None, None) => continue,
            (Some(live), None) => (live.clone(), live),
            (None, Some(patched)) => (remove_directives_in_list(patched.clone()), Vec::new()),
            (Some(live), Some(patched)) => {
                let field = ListField {
                    ty: child,
                    strategy: strategy.list,
                    delete_list: false,
                };
                let merged = merge_list(live, patched.clone(), field)?;
                (merged.items, merged.live_after)
            }
        };
        let (items, server_only) = partition(merged, &order, merge_key)?;
        let kind = slice_element_type(&[&live, patched.as_deref().unwrap_or_default()])?;
        let identity = Identity { merge_key, kind };
        let ordered = normalize_element_order(items, server_only, &order, &live, identity)?;
        original.insert(list.clone(), Value::Array(ordered));
        patch.shift_remove(&list);
    }
    Ok(())
}

fn expect_list(value: Value) -> Result<Vec<Value>, StrategicError> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(StrategicError::BadArgType {
            expected: GoType::Slice.name(),
            actual: GoType::of(&other).name(),
        }),
    }
}

/// Checks that the patch list's items appear in `$setElementOrder`'s relative order.
fn validate_order(patch: &[Value], order: &[Value], merge_key: &str) -> Result<(), StrategicError> {
    if order.is_empty() || patch.is_empty() {
        return Ok(());
    }
    let mut kept = Vec::with_capacity(patch.len());
    for item in patch {
        if merge_key.is_empty() || !is_delete_item(item)? {
            kept.push(item);
        }
    }
    let (mut p, mut o) = (0, 0);
    while p < kept.len() && o < order.len() {
        if kept[p]
            .as_object()
            .is_some_and(|m| m.contains_key(DIRECTIVE))
        {
            p += 1;
            continue;
        }
        if merge_key_value_equal(kept[p], &order[o], merge_key)? {
            p += 1;
        }
        o += 1;
    }
    if p < kept.len() {
        return Err(StrategicError::OrderMismatch {
            patch: go_v(&Value::Array(patch.to_vec())),
            order: go_v(&Value::Array(order.to_vec())),
        });
    }
    Ok(())
}

fn merge_key_value_equal(
    left: &Value,
    right: &Value,
    merge_key: &str,
) -> Result<bool, StrategicError> {
    if merge_key.is_empty() {
        return Ok(go_equal(left, right));
    }
    let left = as_map(left)?;
    let right = as_map(right)?;
    let l = left
        .get(merge_key)
        .ok_or_else(|| no_merge_key(left, merge_key))?;
    let r = right
        .get(merge_key)
        .ok_or_else(|| no_merge_key(right, merge_key))?;
    Ok(go_equal(l, r))
}

/// What is known about a list field being merged.
#[derive(Clone, Copy)]
struct ListField {
    /// The schema of one element.
    ty: Schema,
    strategy: ListMerge,
    /// The list came from `$deleteFromPrimitiveList/<list>`.
    delete_list: bool,
}

impl ListField {
    fn merge_key(&self) -> &'static str {
        match self.strategy {
            ListMerge::MergeByKey(key) => key,
            ListMerge::Replace | ListMerge::MergePrimitives => "",
        }
    }

    /// The Go kind of the field's element type, as upstream names it in errors: every primitive
    /// merge list of Kubernetes 1.32 is a `[]string`, other untagged lists hold structs.
    fn element_kind(&self) -> &'static str {
        match self.strategy {
            ListMerge::MergePrimitives => "string",
            ListMerge::Replace | ListMerge::MergeByKey(_) => "struct",
        }
    }
}

/// A merged list, and the live list as upstream's caller sees it afterwards.
struct MergedList {
    items: Vec<Value>,
    /// Go merges in the live list's backing array, and `$setElementOrder` then orders
    /// server-only items by that array: deletions shift it left (leaving the old tail behind)
    /// and appended elements land in the freed slots.
    live_after: Vec<Value>,
}

/// A list field of the patch: merged when its strategy is merge (or it is a deletion list),
/// else replaced by the patch's list.
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    field: ListField,
) -> Result<MergedList, StrategicError> {
    if field.strategy == ListMerge::Replace && !field.delete_list {
        return Ok(MergedList {
            items: patch,
            live_after: original,
        });
    }
    if original.is_empty() && patch.is_empty() {
        return Ok(MergedList {
            items: Vec::new(),
            live_after: original,
        });
    }
    let kind = slice_element_type(&[&original, &patch])?;
    if kind == GoType::Map {
        return merge_maps_by_key(original, patch, field);
    }
    let items = if field.delete_list {
        delete_from_slice(original.clone(), &patch)
    } else {
        let mut both = original.clone();
        both.extend(patch.iter().cloned());
        let merged = deduplicate(both);
        let (items, server_only) = partition(merged, &patch, "")?;
        normalize_element_order(
            items,
            server_only,
            &patch,
            &original,
            Identity {
                merge_key: "",
                kind,
            },
        )?
    };
    Ok(MergedList {
        items,
        live_after: original,
    })
}

/// Merges a list of maps element-wise by the field's merge key, honouring `$patch` elements.
fn merge_maps_by_key(
    original: Vec<Value>,
    patch: Vec<Value>,
    field: ListField,
) -> Result<MergedList, StrategicError> {
    let merge_key = field.merge_key();
    if merge_key.is_empty() {
        return Err(StrategicError::NoMergeKeyForList {
            element: field.element_kind(),
        });
    }
    let mut live = Backing::new(original);
    let (plain, replace) = apply_list_directives(&mut live, patch, merge_key)?;
    // With `$patch: replace` the other patch elements are the list, ordered by themselves.
    let (merged, server_order, patch) = if replace {
        (plain.clone(), plain, Vec::new())
    } else {
        let survivors = live.in_use().to_vec();
        merge_by_key(&mut live, &plain, merge_key, field.ty)?;
        (live.in_use().to_vec(), survivors, plain)
    };
    let (items, server_only) = partition(merged, &patch, merge_key)?;
    let identity = Identity {
        merge_key,
        kind: GoType::Map,
    };
    let items = normalize_element_order(items, server_only, &patch, &server_order, identity)?;
    Ok(MergedList {
        items,
        live_after: live.seen_by_caller(),
    })
}

/// A Go slice working in the backing array of the live list: `len` slots are in use, and the
/// caller that holds the live list keeps seeing the first `visible` slots.
struct Backing {
    slots: Vec<Value>,
    len: usize,
    visible: usize,
}

impl Backing {
    fn new(items: Vec<Value>) -> Self {
        let len = items.len();
        Backing {
            slots: items,
            len,
            visible: len,
        }
    }

    fn in_use(&self) -> &[Value] {
        &self.slots[..self.len]
    }

    /// `append(s[:i], s[i+1:]...)`: shifts the tail left; the last slot keeps its old value.
    fn delete(&mut self, index: usize) {
        for j in index..self.len - 1 {
            self.slots[j] = self.slots[j + 1].clone();
        }
        self.len -= 1;
    }

    /// `append(s, item)`: reuses the next slot while the array has one.
    fn push(&mut self, item: Value) {
        match self.slots.get_mut(self.len) {
            Some(slot) => *slot = item,
            None => self.slots.push(item),
        }
        self.len += 1;
    }

    fn seen_by_caller(&self) -> Vec<Value> {
        self.slots[..self.visible].to_vec()
    }
}

/// Handles `$patch` elements of a merge list: `delete` removes the matching live elements,
/// `replace` (returned as true) makes the patch's other elements the whole list. Returns the
/// patch elements without directives.
fn apply_list_directives(
    live: &mut Backing,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, bool), StrategicError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some(DELETE) => {
                let map = as_map(&item)?;
                let key = map
                    .get(merge_key)
                    .ok_or_else(|| no_merge_key(map, merge_key))?;
                while let Some(i) = find_by_key(live.in_use(), merge_key, key)? {
                    live.delete(i);
                }
            }
            Some(REPLACE) => replace = true,
            Some(MERGE) => return Err(StrategicError::MergeDirectiveInList),
            _ => {
                return Err(StrategicError::UnknownDirective {
                    directive: go_s(directive),
                    map: go_v(&item),
                })
            }
        }
    }
    Ok((plain, replace))
}

/// Merges each patch element into the live element with the same merge key, or appends it.
fn merge_by_key(
    live: &mut Backing,
    patch: &[Value],
    merge_key: &str,
    ty: Schema,
) -> Result<(), StrategicError> {
    for item in patch {
        let map = as_map(item)?;
        let key = map
            .get(merge_key)
            .ok_or_else(|| no_merge_key(map, merge_key))?;
        match find_by_key(live.in_use(), merge_key, key)? {
            Some(i) => {
                if let Value::Object(current) = &mut live.slots[i] {
                    *current = merge_map(std::mem::take(current), map.clone(), ty)?;
                }
            }
            None => live.push(item.clone()),
        }
    }
    Ok(())
}

/// The index of the first map in `list` whose `key` equals `value`.
fn find_by_key(list: &[Value], key: &str, value: &Value) -> Result<Option<usize>, StrategicError> {
    for (index, item) in list.iter().enumerate() {
        let map = item.as_object().ok_or(StrategicError::NotAMap { index })?;
        if map.get(key).is_some_and(|v| go_equal(v, value)) {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

/// Splits `merged` into items present in `by` (in `merged` order) and the rest.
fn partition(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), StrategicError> {
    let mut present = Vec::with_capacity(merged.len());
    let mut absent = Vec::with_capacity(merged.len());
    for item in merged {
        let found = if merge_key.is_empty() {
            by.iter().any(|b| go_equal(b, &item))
        } else {
            let map = as_map(&item)?;
            let key = map
                .get(merge_key)
                .ok_or_else(|| no_merge_key(map, merge_key))?;
            find_by_key(by, merge_key, key)?.is_some()
        };
        if found {
            present.push(item);
        } else {
            absent.push(item);
        }
    }
    Ok((present, absent))
}

/// `$deleteFromPrimitiveList`: the live items not listed for deletion.
fn delete_from_slice(current: Vec<Value>, to_delete: &[Value]) -> Vec<Value> {
    current
        .into_iter()
        .filter(|v| !to_delete.iter().any(|d| go_equal(d, v)))
        .collect()
}

/// Go's `deduplicateScalars`: a later duplicate is overwritten by the last item. The order it
/// leaves is fixed up by `normalize_element_order` afterwards.
fn deduplicate(mut items: Vec<Value>) -> Vec<Value> {
    let mut i = 0;
    while i + 1 < items.len() {
        let mut j = i + 1;
        while j < items.len() {
            if go_equal(&items[i], &items[j]) {
                items.swap_remove(j);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    items
}

/// The one Go type shared by all elements of the lists.
fn slice_element_type(lists: &[&[Value]]) -> Result<GoType, StrategicError> {
    let mut kind = None;
    for item in lists.iter().flat_map(|l| l.iter()) {
        let t = GoType::of(item);
        match kind {
            None if t == GoType::Slice => return Err(StrategicError::ListOfLists),
            None => kind = Some(t),
            Some(k) if k != t => {
                return Err(StrategicError::MixedElementTypes {
                    lists: go_v_lists(lists),
                })
            }
            Some(_) => {}
        }
    }
    kind.ok_or(StrategicError::NoElements)
}

/// Splits list elements into kept ones and `$patch: delete` ones; all must be maps.
pub(crate) fn extract_to_delete_items(
    items: Vec<Value>,
) -> Result<(Vec<Value>, Vec<Value>), StrategicError> {
    let mut keep = Vec::with_capacity(items.len());
    let mut delete = Vec::new();
    for item in items {
        if is_delete_item(&item)? {
            delete.push(item);
        } else {
            keep.push(item);
        }
    }
    Ok((keep, delete))
}

fn is_delete_item(item: &Value) -> Result<bool, StrategicError> {
    Ok(as_map(item)?.get(DIRECTIVE).and_then(Value::as_str) == Some(DELETE))
}

/// Fails unless `item` is a map carrying `merge_key`.
pub(crate) fn require_merge_key(item: &Value, merge_key: &str) -> Result<(), StrategicError> {
    let map = as_map(item)?;
    if map.contains_key(merge_key) {
        Ok(())
    } else {
        Err(no_merge_key(map, merge_key))
    }
}

fn as_map(item: &Value) -> Result<&Object, StrategicError> {
    item.as_object().ok_or(StrategicError::BadArgType {
        expected: GoType::Map.name(),
        actual: GoType::of(item).name(),
    })
}

fn no_merge_key(map: &Object, key: &str) -> StrategicError {
    StrategicError::NoMergeKey {
        map: go_v(&Value::Object(map.clone())),
        key: key.to_string(),
    }
}

/// Drops maps that carry `$patch` (and list items that are such maps), at any depth.
fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) if map.contains_key(DIRECTIVE) => None,
        Value::Object(map) => Some(Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                .collect(),
        )),
        Value::Array(items) => Some(Value::Array(remove_directives_in_list(items))),
        other => Some(other),
    }
}

fn remove_directives_in_list(items: Vec<Value>) -> Vec<Value> {
    items.into_iter().filter_map(remove_directives).collect()
}

/// Removes null map values at any depth (nulls inside lists stay).
fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}
