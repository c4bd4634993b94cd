//! Label and field selectors through the public API: matching tables, `metav1.LabelSelector`
//! objects, and the canonical string as a fixed point of parsing.

use std::collections::BTreeMap;

use ferry_api::selector::{FieldSelector, LabelSelector};
use proptest::prelude::*;
use serde_json::json;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn label_matching_table() {
    let pod = labels(&[
        ("app", "kubia"),
        ("tier", "fe"),
        ("rank", "5"),
        ("kubernetes.io/service-name", "kubia"),
    ]);
    let cases = [
        ("", true),
        ("app=kubia", true),
        ("app==kubia", true),
        ("app=other", false),
        ("app!=other", true),
        ("app!=kubia", false),
        ("missing!=x", true),
        ("tier in (fe,be)", true),
        ("tier in (be)", false),
        ("missing in (x)", false),
        ("tier notin (be)", true),
        ("tier notin (fe)", false),
        ("missing notin (x)", true),
        ("app", true),
        ("missing", false),
        ("!missing", true),
        ("!app", false),
        ("rank>4", true),
        ("rank>5", false),
        ("rank<6", true),
        ("app>1", false),
        ("missing<1", false),
        ("app=kubia,tier=fe", true),
        ("app=kubia,tier=be", false),
        ("kubernetes.io/service-name=kubia", true),
        ("app=", false),
        ("missing=", false),
    ];
    for (selector, want) in cases {
        let s = LabelSelector::parse(selector).unwrap();
        assert_eq!(s.matches(&pod), want, "{selector}");
    }
    assert!(LabelSelector::parse("missing notin (x),app")
        .unwrap()
        .matches(&labels(&[("app", "")])));
    assert!(LabelSelector::parse("app=")
        .unwrap()
        .matches(&labels(&[("app", "")])));
}

#[test]
fn label_selector_objects() {
    let pod = labels(&[("app", "web"), ("tier", "fe")]);
    let cases = [
        (json!({"matchLabels": {"tier": "fe", "app": "web"}}), Ok("app=web,tier=fe"), true),
        (json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]}]}),
         Ok("app=web,tier in (be,fe)"), true),
        (json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["fe"]}]}), Ok("tier notin (fe)"), false),
        (json!({"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}, {"key": "app", "operator": "Exists"}]}),
         Ok("app,!canary"), true),
        (json!({}), Ok(""), true),
        (json!({"matchLabels": null, "matchExpressions": []}), Ok(""), true),
        (json!(null), Ok(""), false),
        (json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}), Err("\"Gt\" is not a valid label selector operator"), false),
        (json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
         Err("values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"), false),
        (json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x", "y"]}]}),
         Err("values: Invalid value: []string{\"x\", \"y\"}: values set must be empty for exists and does not exist"), false),
        (json!({"matchLabels": {"app": "a b"}}),
         Err("values[0][app]: Invalid value: \"a b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"), false),
        (json!({"matchLabels": {"-app": "a"}}),
         Err("key: Invalid value: \"-app\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"), false),
    ];
    for (object, want, matches) in cases {
        let got = LabelSelector::from_label_selector(&object);
        assert_eq!(
            got.as_ref()
                .map(ToString::to_string)
                .map_err(ToString::to_string),
            want.map(str::to_string).map_err(str::to_string),
            "{object}"
        );
        if let Ok(selector) = got {
            assert_eq!(selector.matches(&pod), matches, "{object}");
        }
    }
    let nothing = LabelSelector::from_label_selector(&json!(null)).unwrap();
    assert!(!nothing.is_empty());
    assert!(!nothing.matches(&BTreeMap::new()));
    assert!(LabelSelector::everything().is_empty());
    assert!(LabelSelector::everything().matches(&BTreeMap::new()));
}

/// Strings built from the selector grammar's pieces, so that many of them parse.
fn selector_like() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "app", "tier", "a.b/c", "x", "in", "notin", "=", "==", "!=", "!", "(", ")", ",", " ", ">",
        "<", "1", "fe", "be", "", "-", "_", "\t", "é", "\0",
    ]);
    prop::collection::vec(piece, 0..16).prop_map(|p| p.concat())
}

proptest! {
    #[test]
    fn label_parse_never_panics(s in any::<String>()) {
        let _ = LabelSelector::parse(&s);
    }

    #[test]
    fn label_display_is_a_fixed_point(s in selector_like()) {
        if let Ok(selector) = LabelSelector::parse(&s) {
            let canonical = selector.to_string();
            let again = LabelSelector::parse(&canonical).expect("canonical string parses");
            prop_assert_eq!(&again, &selector);
            prop_assert_eq!(again.to_string(), canonical);
        }
    }

    #[test]
    fn field_parse_never_panics(s in any::<String>()) {
        let _ = FieldSelector::parse(&s);
    }

    #[test]
    fn field_display_round_trips_requirements(s in "[a-z.=!,\\\\ ]{0,24}") {
        if let Ok(selector) = FieldSelector::parse(&s) {
            let canonical = selector.to_string();
            let again = FieldSelector::parse(&canonical).expect("canonical string parses");
            let mut want = selector.requirements().to_vec();
            let mut got = again.requirements().to_vec();
            want.sort_by(|a, b| (&a.field, &a.value).cmp(&(&b.field, &b.value)));
            got.sort_by(|a, b| (&a.field, &a.value).cmp(&(&b.field, &b.value)));
            prop_assert_eq!(got, want);
            // Term order follows the text, so the string settles after one more round.
            let settled = again.to_string();
            prop_assert_eq!(FieldSelector::parse(&settled).expect("parses").to_string(), settled);
        }
    }
}
