//! Renders JSON values the way Go's `fmt` prints the `map[string]interface{}` trees that
//! apimachinery patches, so error messages carry upstream's exact text.
//!
//! kube-apiserver decodes objects and patches with integers as `int64` and other numbers as
//! `float64`; `%v` then prints maps as `map[k:v ...]` with sorted keys, slices as `[a b]`, and
//! `nil` as `<nil>`.

use serde_json::{Number, Value};

/// The Go type a decoded JSON value has in apimachinery's unstructured maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GoType {
    Nil,
    Bool,
    Int64,
    Float64,
    String,
    Map,
    Slice,
}

impl GoType {
    pub(crate) fn of(value: &Value) -> GoType {
        match value {
            Value::Null => GoType::Nil,
            Value::Bool(_) => GoType::Bool,
            Value::Number(n) if n.as_i64().is_some() => GoType::Int64,
            Value::Number(_) => GoType::Float64,
            Value::String(_) => GoType::String,
            Value::Object(_) => GoType::Map,
            Value::Array(_) => GoType::Slice,
        }
    }

    /// `reflect.Type.String()`; a nil type prints as `%!s(<nil>)` because upstream formats it
    /// with `%s`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            GoType::Nil => "%!s(<nil>)",
            GoType::Bool => "bool",
            GoType::Int64 => "int64",
            GoType::Float64 => "float64",
            GoType::String => "string",
            GoType::Map => "map[string]interface {}",
            GoType::Slice => "[]interface {}",
        }
    }
}

/// Go's `==` on two `interface{}` values holding decoded JSON: same dynamic type and value.
/// Maps and slices are not comparable in Go; they never compare equal here.
pub(crate) fn go_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            (None, None) => x.as_f64() == y.as_f64(),
            _ => false,
        },
        _ => false,
    }
}

/// `fmt.Sprintf("%v", value)`.
pub(crate) fn go_v(value: &Value) -> String {
    let mut out = String::new();
    write_v(&mut out, value);
    out
}

/// `fmt.Sprintf("%s", value)`: strings bare, everything else with Go's `%!s(type=value)` marker.
pub(crate) fn go_s(value: &Value) -> String {
    let mut out = String::new();
    write_s(&mut out, value);
    out
}

/// `fmt.Sprint` of a slice of slices, as upstream prints the lists it compared.
pub(crate) fn go_v_lists(lists: &[&[Value]]) -> String {
    let inner: Vec<String> = lists
        .iter()
        .map(|l| {
            let items: Vec<String> = l.iter().map(go_v).collect();
            format!("[{}]", items.join(" "))
        })
        .collect();
    format!("[{}]", inner.join(" "))
}

fn write_v(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => write_list(out, items, write_v),
        Value::Object(map) => write_map(out, map, write_v),
    }
}

fn write_s(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("%!s(<nil>)"),
        Value::Bool(b) => out.push_str(&format!("%!s(bool={b})")),
        Value::Number(n) => {
            let ty = GoType::of(value).name();
            out.push_str(&format!("%!s({ty}={})", number(n)));
        }
        Value::String(s) => out.push_str(s),
        Value::Array(items) => write_list(out, items, write_s),
        Value::Object(map) => write_map(out, map, write_s),
    }
}

fn write_list(out: &mut String, items: &[Value], each: fn(&mut String, &Value)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        each(out, item);
    }
    out.push(']');
}

fn write_map(
    out: &mut String,
    map: &serde_json::Map<String, Value>,
    each: fn(&mut String, &Value),
) {
    // Go's fmt prints map entries sorted by key.
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    out.push_str("map[");
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(key);
        out.push(':');
        if let Some(v) = map.get(key.as_str()) {
            each(out, v);
        }
    }
    out.push(']');
}

fn number(n: &Number) -> String {
    match n.as_i64() {
        Some(i) => i.to_string(),
        None => go_float(n.as_f64().unwrap_or(0.0)),
    }
}

/// `%v` of a float64: the shortest representation, in exponent form when the decimal exponent
/// is below -4 or at least 6 (Go's `%g` with shortest precision).
fn go_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sign = if f < 0.0 { "-" } else { "" };
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{exp_sign}{:02}", exp.abs());
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        let zeros = "0".repeat(int_len - digits.len());
        format!("{sign}{digits}{zeros}")
    } else {
        let (int, frac) = digits.split_at(int_len);
        format!("{sign}{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn v_prints_like_go() {
        let cases = [
            (json!(null), "<nil>"),
            (json!({"port": 80, "name": null}), "map[name:<nil> port:80]"),
            (json!([{"a": "x"}, 1.5, true]), "[map[a:x] 1.5 true]"),
            (json!(1000000.0), "1e+06"),
            (json!(123456.0), "123456"),
            (json!(0.0001), "0.0001"),
            (json!(0.00001), "1e-05"),
            (json!(-2.5e-7), "-2.5e-07"),
            (json!(80.0), "80"),
        ];
        for (value, want) in cases {
            assert_eq!(go_v(&value), want, "{value}");
        }
    }

    #[test]
    fn s_marks_non_strings() {
        assert_eq!(go_s(&json!("merge")), "merge");
        assert_eq!(go_s(&json!(1)), "%!s(int64=1)");
        assert_eq!(go_s(&json!(null)), "%!s(<nil>)");
        assert_eq!(go_s(&json!(true)), "%!s(bool=true)");
    }

    #[test]
    fn equality_keeps_go_types_apart() {
        assert!(go_equal(&json!(80), &json!(80)));
        assert!(!go_equal(&json!(80), &json!(80.0)));
        assert!(!go_equal(&json!({}), &json!({})));
        assert!(go_equal(&json!(null), &json!(null)));
    }
}
