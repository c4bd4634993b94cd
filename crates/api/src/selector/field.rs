//! Field selectors: `metadata.name=kubia,status.phase!=Running`, with `\` escaping `\`, `,`
//! and `=` in values, as apimachinery's `fields.ParseSelector`.

use std::fmt;

use super::SelectorError;

/// An AND of field requirements; empty matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

/// `field=value` (also written `==`) or `field!=value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub operator: FieldOperator,
    pub value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldOperator {
    Equals,
    NotEquals,
}

impl FieldSelector {
    /// Parses a `fieldSelector` query value. Terms are kept in the sorted order of their text,
    /// as upstream does, which fixes the canonical string.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut terms = split_terms(selector);
        terms.sort_unstable();
        let mut requirements = Vec::with_capacity(terms.len());
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let (field, operator, raw) =
                split_term(term).ok_or_else(|| SelectorError::FieldTerm {
                    selector: selector.to_string(),
                    term: term.to_string(),
                })?;
            let value = unescape_value(raw)?;
            // A term with neither field nor value (`=`) selects everything.
            if field.is_empty() && value.is_empty() {
                continue;
            }
            requirements.push(FieldRequirement {
                field: field.to_string(),
                operator,
                value,
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// The selector that matches everything.
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    /// True if the selector does not restrict anything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Whether an object matches; `get` reads a field by name, and a missing field reads as
    /// the empty string (upstream's `fields.Set.Get`).
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let actual = get(&r.field).unwrap_or_default();
            match r.operator {
                FieldOperator::Equals => actual == r.value,
                FieldOperator::NotEquals => actual != r.value,
            }
        })
    }

    /// The first field (in canonical order) a kind does not support, for upstream's
    /// `field label not supported: <field>` error.
    pub fn unsupported_field(&self, supported: &[&str]) -> Option<&str> {
        self.requirements
            .iter()
            .map(|r| r.field.as_str())
            .find(|f| !supported.contains(f))
    }

    /// The value an `=` requirement pins `field` to, if any (`RequiresExactMatch`).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    /// Upstream's `String()`: terms joined by `,`, values escaped, `==` printed as `=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = match r.operator {
                FieldOperator::Equals => "=",
                FieldOperator::NotEquals => "!=",
            };
            write!(f, "{}{op}{}", r.field, escape_value(&r.value))?;
        }
        Ok(())
    }
}

/// Splits at commas not escaped by a backslash; escapes stay in the terms.
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in selector.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits a term at its first operator; the field part has no escaping.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    const OPERATORS: [(&str, FieldOperator); 3] = [
        ("!=", FieldOperator::NotEquals),
        ("==", FieldOperator::Equals),
        ("=", FieldOperator::Equals),
    ];
    term.char_indices().find_map(|(i, _)| {
        let rest = &term[i..];
        OPERATORS
            .iter()
            .find(|(op, _)| rest.starts_with(op))
            .map(|(op, operator)| (&term[..i], *operator, &rest[op.len()..]))
    })
}

fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn unescape_value(raw: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(raw.len());
    let mut in_slash = false;
    for c in raw.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::FieldEscape(format!("\\{c}")));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => return Err(SelectorError::FieldUnescaped(c)),
            c => out.push(c),
        }
    }
    if in_slash {
        return Err(SelectorError::FieldEscape("\\".to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn parse_table() {
        let cases = [
            ("", Ok("")),
            ("metadata.name=kubia", Ok("metadata.name=kubia")),
            ("metadata.name==kubia", Ok("metadata.name=kubia")),
            (
                "involvedObject.name=kubia,involvedObject.namespace=default,involvedObject.kind=Service",
                Ok("involvedObject.kind=Service,involvedObject.name=kubia,involvedObject.namespace=default"),
            ),
            ("status.phase!=Running", Ok("status.phase!=Running")),
            ("a=b\\,c", Ok("a=b\\,c")),
            ("a=b\\=c\\\\", Ok("a=b\\=c\\\\")),
            ("a=", Ok("a=")),
            ("=", Ok("")),
            (",,a=b,", Ok("a=b")),
            (" a = b ", Ok(" a = b ")),
            ("a!==b", Err("invalid field selector: unescaped character in value: 61")),
            ("a=b,c", Err("invalid selector: 'a=b,c'; can't understand 'c'")),
            ("a", Err("invalid selector: 'a'; can't understand 'a'")),
            ("a=b=c", Err("invalid field selector: unescaped character in value: 61")),
            ("a=b\\x", Err("invalid field selector: invalid escape sequence: \\x")),
            ("a=b\\", Err("invalid field selector: invalid escape sequence: \\")),
        ];
        for (input, want) in cases {
            let got = FieldSelector::parse(input)
                .map(|s| s.to_string())
                .map_err(|e| e.to_string());
            assert_eq!(
                got,
                want.map(str::to_string).map_err(str::to_string),
                "{input:?}"
            );
        }
    }

    #[test]
    fn matching_table() {
        let fields: BTreeMap<&str, &str> = [
            ("metadata.name", "kubia"),
            ("metadata.namespace", "default"),
            ("status.phase", "Running"),
        ]
        .into();
        let get = |f: &str| fields.get(f).map(|v| v.to_string());
        let cases = [
            ("", true),
            ("metadata.name=kubia", true),
            ("metadata.name=other", false),
            ("metadata.name=kubia,metadata.namespace=default", true),
            ("metadata.name=kubia,metadata.namespace=kube-system", false),
            ("status.phase!=Running", false),
            ("status.phase!=Pending", true),
            ("spec.nodeName=", true),
            ("spec.nodeName!=", false),
        ];
        for (selector, want) in cases {
            let s = FieldSelector::parse(selector).unwrap();
            assert_eq!(s.matches(get), want, "{selector}");
        }
    }

    #[test]
    fn unsupported_fields_are_named() {
        let supported = ["metadata.name", "metadata.namespace"];
        let s = FieldSelector::parse("metadata.name=a,spec.foo=b,bar=c").unwrap();
        assert_eq!(s.unsupported_field(&supported), Some("bar"));
        let s = FieldSelector::parse("metadata.name=a").unwrap();
        assert_eq!(s.unsupported_field(&supported), None);
        assert_eq!(s.requires_exact_match("metadata.name"), Some("a"));
        assert_eq!(s.requires_exact_match("metadata.namespace"), None);
    }
}
