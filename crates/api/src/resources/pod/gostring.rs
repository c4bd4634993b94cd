//! Go's `%#v` renderings of the composite values upstream puts in field errors, such as
//! `map[string]string{"app":"x"}` in "`selector` does not match template `labels`".

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::field::{go_quote, BadValue};

/// `map[string]string{"a":"1", "b":"2"}`, or `map[string]string(nil)` for a missing map.
pub(in crate::resources) fn go_string_map(map: Option<&BTreeMap<String, String>>) -> BadValue {
    BadValue::Raw(string_map(map))
}

fn string_map(map: Option<&BTreeMap<String, String>>) -> String {
    match map {
        None => "map[string]string(nil)".to_string(),
        Some(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
                .collect();
            format!("map[string]string{{{}}}", entries.join(", "))
        }
    }
}

fn string_slice(values: Option<&Vec<String>>) -> String {
    match values {
        None => "[]string(nil)".to_string(),
        Some(values) => {
            let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
    }
}

/// `v1.LabelSelector{MatchLabels:..., MatchExpressions:...}`.
pub(in crate::resources) fn go_label_selector(selector: &LabelSelector) -> BadValue {
    let expressions = match &selector.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|r| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(&r.key),
                        go_quote(&r.operator),
                        string_slice(r.values.as_ref())
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    BadValue::Raw(format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        string_map(selector.match_labels.as_ref()),
        expressions
    ))
}

/// `intstr.IntOrString{Type:1, IntVal:0, StrVal:"30%"}`.
pub(in crate::resources) fn go_int_or_string(value: &IntOrString) -> BadValue {
    let (kind, int, string) = match value {
        IntOrString::Int(i) => (0, *i, String::new()),
        IntOrString::String(s) => (1, 0, s.clone()),
    };
    BadValue::Raw(format!(
        "intstr.IntOrString{{Type:{kind}, IntVal:{int}, StrVal:{}}}",
        go_quote(&string)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renderings_match_go() {
        let labels: BTreeMap<String, String> =
            [("b".into(), "2".into()), ("app".into(), "x".into())].into();
        assert_eq!(
            go_string_map(Some(&labels)).to_string(),
            r#"map[string]string{"app":"x", "b":"2"}"#
        );
        assert_eq!(go_string_map(None).to_string(), "map[string]string(nil)");
        assert_eq!(
            go_int_or_string(&IntOrString::String("110%".into())).to_string(),
            r#"intstr.IntOrString{Type:1, IntVal:0, StrVal:"110%"}"#
        );
        assert_eq!(
            go_label_selector(&LabelSelector::default()).to_string(),
            "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
    }
}
