//! Table printers: the columns and cells of `kubectl get`, as kube-apiserver's
//! `pkg/printers/internalversion/printers.go` computes them.
//!
//! kube-apiserver always prints the wide form (`GenerateOptions{Wide: true}`) and lets kubectl
//! hide the priority-1 columns, so every printer here returns every cell, and nothing is clipped
//! to the narrow width (a LoadBalancer's long address list included).

mod configmap;
mod endpoints;
mod event;
mod ingress;
mod lease;
mod namespace;
mod node;
mod pod;
mod secret;
mod service;
mod workload;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use crate::table::{human_duration, Cell, Column};
use crate::validation::names;

/// The description kube-apiserver gives the Containers column of every workload.
const CONTAINERS_DESCRIPTION: &str = "Names of each container in the template.";
/// The description kube-apiserver gives the Images column of every workload.
const IMAGES_DESCRIPTION: &str = "Images referenced by each container in the template.";

/// The wide Containers column of workloads.
const CONTAINERS: Column = Column::wide("Containers", CONTAINERS_DESCRIPTION);
/// The wide Images column of workloads.
const IMAGES: Column = Column::wide("Images", IMAGES_DESCRIPTION);

/// The Name cell.
fn name(meta: &ObjectMeta) -> Cell {
    Cell::Text(meta.name.clone().unwrap_or_default())
}

/// `translateTimestampSince`: `<unknown>` for a zero time, else the human age.
fn since(time: Option<&Time>, now: Timestamp) -> String {
    since_timestamp(time.map(|t| t.0), now)
}

/// `translateMicroTimestampSince`, the same for a `MicroTime`.
fn since_micro(time: Option<&MicroTime>, now: Timestamp) -> String {
    since_timestamp(time.map(|t| t.0), now)
}

fn since_timestamp(time: Option<Timestamp>, now: Timestamp) -> String {
    match time {
        None => "<unknown>".to_string(),
        Some(t) => human_duration(now.as_second() - t.as_second()),
    }
}

/// `labels.FormatLabels`: `k=v` pairs sorted by key and joined by `,`, or `<none>`.
fn format_labels(labels: Option<&BTreeMap<String, String>>) -> String {
    let pairs: Vec<String> = labels
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if pairs.is_empty() {
        "<none>".to_string()
    } else {
        pairs.join(",")
    }
}

/// A label selector that `metav1.LabelSelectorAsSelector` rejects.
#[derive(Debug)]
struct InvalidSelector;

/// `metav1.LabelSelectorAsSelector(s).String()`: requirements sorted by key, `k=v`,
/// `k in (a,b)`, `k notin (a,b)`, `k`, `!k`; empty for a missing or empty selector.
fn selector_string(selector: Option<&LabelSelector>) -> Result<String, InvalidSelector> {
    let Some(selector) = selector else {
        return Ok(String::new());
    };
    let mut requirements: Vec<(String, String)> = Vec::new();
    for (key, value) in selector.match_labels.iter().flatten() {
        check_key_and_values(key, std::slice::from_ref(value))?;
        requirements.push((key.clone(), format!("{key}={value}")));
    }
    for expression in selector.match_expressions.iter().flatten() {
        let key = &expression.key;
        let mut values = expression.values.clone().unwrap_or_default();
        check_key_and_values(key, &values)?;
        values.sort();
        let text = match (expression.operator.as_str(), values.is_empty()) {
            ("In", false) => format!("{key} in ({})", values.join(",")),
            ("NotIn", false) => format!("{key} notin ({})", values.join(",")),
            ("Exists", true) => key.clone(),
            ("DoesNotExist", true) => format!("!{key}"),
            _ => return Err(InvalidSelector),
        };
        requirements.push((key.clone(), text));
    }
    // Invariant: stable, so a key in both matchLabels and matchExpressions keeps that order.
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    let texts: Vec<String> = requirements.into_iter().map(|(_, text)| text).collect();
    Ok(texts.join(","))
}

fn check_key_and_values(key: &str, values: &[String]) -> Result<(), InvalidSelector> {
    let bad_value = values.iter().any(|v| !names::label_value(v).is_empty());
    if !names::qualified_name(key).is_empty() || bad_value {
        return Err(InvalidSelector);
    }
    Ok(())
}

/// `metav1.FormatLabelSelector`: the selector string, `<none>` when empty, `<error>` when invalid.
fn format_label_selector(selector: Option<&LabelSelector>) -> String {
    match selector_string(selector) {
        Err(InvalidSelector) => "<error>".to_string(),
        Ok(s) if s.is_empty() => "<none>".to_string(),
        Ok(s) => s,
    }
}

/// `layoutContainerCells`: container names and images, each joined by `,`.
fn layout_containers(containers: &[Container]) -> (Cell, Cell) {
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    let images: Vec<&str> = containers
        .iter()
        .map(|c| c.image.as_deref().unwrap_or(""))
        .collect();
    (Cell::Text(names.join(",")), Cell::Text(images.join(",")))
}

/// `listWithMoreString`: the first entries, ` + N more...` past three, `<unset>` for none.
fn list_with_more(list: &[String], total: usize, max: usize) -> String {
    let joined = list.join(",");
    if total > max {
        format!("{joined} + {} more...", total - max)
    } else if joined.is_empty() {
        "<unset>".to_string()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn selector(value: serde_json::Value) -> LabelSelector {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn selectors_print_like_apimachinery() {
        let cases = [
            (
                json!({"matchLabels": {"b": "2", "a": "1"}}),
                "a=1,b=2",
                "a=1,b=2",
            ),
            (json!({}), "", "<none>"),
            (
                json!({"matchLabels": {"app": "kubia"}, "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["web", "api"]},
                    {"key": "env", "operator": "NotIn", "values": ["prod"]},
                    {"key": "zz", "operator": "Exists"},
                    {"key": "canary", "operator": "DoesNotExist"}]}),
                "app=kubia,!canary,env notin (prod),tier in (api,web),zz",
                "app=kubia,!canary,env notin (prod),tier in (api,web),zz",
            ),
        ];
        for (value, plain, formatted) in cases {
            let s = selector(value);
            assert_eq!(selector_string(Some(&s)).unwrap(), plain);
            assert_eq!(format_label_selector(Some(&s)), formatted);
        }
        assert_eq!(format_label_selector(None), "<none>");
    }

    #[test]
    fn invalid_selectors_are_reported() {
        let bad = [
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
            json!({"matchLabels": {"a b": "c"}}),
        ];
        for value in bad {
            assert_eq!(format_label_selector(Some(&selector(value))), "<error>");
        }
    }

    #[test]
    fn lists_are_cut_after_three() {
        let list: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(list_with_more(&list, 3, 3), "a,b,c");
        assert_eq!(list_with_more(&list, 5, 3), "a,b,c + 2 more...");
        assert_eq!(list_with_more(&[], 0, 3), "<unset>");
    }
}
