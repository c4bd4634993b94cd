//! Label selectors: the string syntax of apimachinery's `labels.Parse`
//! (`app=web,tier in (fe,be),!canary`) and the `metav1.LabelSelector` object.
//!
//! The lexer and parser follow upstream token by token so that every error message, including
//! its odd corners, is the one kubectl users see from kube-apiserver.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use super::SelectorError;
use crate::field::{go_quote, BadValue, FieldError};
use crate::validation::names::{label_value, qualified_name};

/// An AND of label requirements, or the selector that matches nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelSelector {
    selection: Selection,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Selection {
    /// Sorted by key; empty matches everything.
    All(Vec<LabelRequirement>),
    /// A nil `metav1.LabelSelector`.
    Nothing,
}

/// One requirement: a key, an operator and its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelRequirement {
    key: String,
    operator: LabelOperator,
    values: Vec<String>,
}

/// `selection.Operator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelOperator {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl LabelSelector {
    /// Parses a `labelSelector` string.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut requirements = Parser::new(selector).parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            selection: Selection::All(requirements),
        })
    }

    /// A `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`), as
    /// `LabelSelectorAsSelector`: `null` matches nothing, `{}` everything.
    pub fn from_label_selector(selector: &Value) -> Result<Self, SelectorError> {
        let object = match selector {
            Value::Null => return Ok(LabelSelector::nothing()),
            Value::Object(object) => object,
            _ => return Err(SelectorError::MalformedLabelSelector("not an object")),
        };
        let mut requirements = Vec::new();
        for (key, value) in match_labels(object.get("matchLabels"))? {
            let requirement =
                LabelRequirement::new(key, LabelOperator::Equals, vec![value.to_string()]);
            requirements.push(requirement.map_err(SelectorError::InvalidRequirement)?);
        }
        for expression in match_expressions(object.get("matchExpressions"))? {
            requirements.push(expression_requirement(expression)?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            selection: Selection::All(requirements),
        })
    }

    /// The selector that matches every object.
    pub fn everything() -> Self {
        LabelSelector {
            selection: Selection::All(Vec::new()),
        }
    }

    /// The selector that matches no object (a nil `metav1.LabelSelector`).
    pub fn nothing() -> Self {
        LabelSelector {
            selection: Selection::Nothing,
        }
    }

    /// True if the selector does not restrict anything (false for [`LabelSelector::nothing`]).
    pub fn is_empty(&self) -> bool {
        matches!(&self.selection, Selection::All(r) if r.is_empty())
    }

    /// The requirements, sorted by key; none for both `everything` and `nothing`.
    pub fn requirements(&self) -> &[LabelRequirement] {
        match &self.selection {
            Selection::All(requirements) => requirements,
            Selection::Nothing => &[],
        }
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match &self.selection {
            Selection::All(requirements) => requirements.iter().all(|r| r.matches(labels)),
            Selection::Nothing => false,
        }
    }
}

impl fmt::Display for LabelSelector {
    /// Upstream's `String()`: requirements sorted by key, joined by `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl LabelRequirement {
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> LabelOperator {
        self.operator
    }

    /// The values as given (a parsed selector's are sorted and distinct).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// `NewRequirement`: validates key, operator arity and values; the error is upstream's
    /// aggregate of field errors.
    fn new(key: &str, operator: LabelOperator, values: Vec<String>) -> Result<Self, String> {
        let mut errors = Vec::new();
        let key_errors = qualified_name(key);
        if !key_errors.is_empty() {
            errors.push(FieldError::invalid("key", key, key_errors.join("; ")));
        }
        errors.extend(arity_errors(operator, &values));
        for (i, value) in values.iter().enumerate() {
            let value_errors = label_value(value);
            if !value_errors.is_empty() {
                let path = format!("values[{i}][{key}]");
                errors.push(FieldError::invalid(path, value, value_errors.join("; ")));
            }
        }
        if !errors.is_empty() {
            return Err(aggregate(&errors));
        }
        Ok(LabelRequirement {
            key: key.to_string(),
            operator,
            values,
        })
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let actual = labels.get(&self.key);
        let listed = |v: &String| self.values.contains(v);
        match self.operator {
            LabelOperator::In | LabelOperator::Equals | LabelOperator::DoubleEquals => {
                actual.is_some_and(listed)
            }
            LabelOperator::NotIn | LabelOperator::NotEquals => !actual.is_some_and(listed),
            LabelOperator::Exists => actual.is_some(),
            LabelOperator::DoesNotExist => actual.is_none(),
            LabelOperator::GreaterThan | LabelOperator::LessThan => {
                let (Some(actual), [wanted]) = (actual, self.values.as_slice()) else {
                    return false;
                };
                match (actual.parse::<i64>(), wanted.parse::<i64>()) {
                    (Ok(a), Ok(w)) if self.operator == LabelOperator::GreaterThan => a > w,
                    (Ok(a), Ok(w)) => a < w,
                    _ => false,
                }
            }
        }
    }
}

impl fmt::Display for LabelRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            LabelOperator::Exists => return f.write_str(&self.key),
            LabelOperator::DoesNotExist => return write!(f, "!{}", self.key),
            LabelOperator::Equals => "=",
            LabelOperator::DoubleEquals => "==",
            LabelOperator::NotEquals => "!=",
            LabelOperator::In => " in ",
            LabelOperator::NotIn => " notin ",
            LabelOperator::GreaterThan => ">",
            LabelOperator::LessThan => "<",
        };
        let values = if let [one] = self.values.as_slice() {
            one.clone()
        } else {
            let mut sorted = self.values.clone();
            sorted.sort();
            sorted.join(",")
        };
        if matches!(self.operator, LabelOperator::In | LabelOperator::NotIn) {
            write!(f, "{}{op}({values})", self.key)
        } else {
            write!(f, "{}{op}{values}", self.key)
        }
    }
}

/// Operator-specific checks of `NewRequirement`.
fn arity_errors(operator: LabelOperator, values: &[String]) -> Vec<FieldError> {
    let invalid = |detail: &str| FieldError::invalid("values", go_string_slice(values), detail);
    match operator {
        LabelOperator::In | LabelOperator::NotIn if values.is_empty() => {
            vec![invalid(
                "for 'in', 'notin' operators, values set can't be empty",
            )]
        }
        LabelOperator::Equals | LabelOperator::DoubleEquals | LabelOperator::NotEquals
            if values.len() != 1 =>
        {
            vec![invalid(
                "exact-match compatibility requires one single value",
            )]
        }
        LabelOperator::Exists | LabelOperator::DoesNotExist if !values.is_empty() => {
            vec![invalid(
                "values set must be empty for exists and does not exist",
            )]
        }
        LabelOperator::GreaterThan | LabelOperator::LessThan => {
            let mut errors = Vec::new();
            if values.len() != 1 {
                errors.push(invalid(
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    errors.push(FieldError::invalid(
                        format!("values[{i}]"),
                        v,
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    ));
                }
            }
            errors
        }
        _ => Vec::new(),
    }
}

/// Go's `%#v` of a `[]string`; an empty one is the nil slice `LabelSelectorAsSelector` builds.
fn go_string_slice(values: &[String]) -> BadValue {
    if values.is_empty() {
        return BadValue::Raw("[]string(nil)".to_string());
    }
    let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
    BadValue::Raw(format!("[]string{{{}}}", quoted.join(", ")))
}

/// apimachinery's aggregate error text: one message bare, several (distinct) in brackets.
fn aggregate(errors: &[FieldError]) -> String {
    let mut messages: Vec<String> = Vec::with_capacity(errors.len());
    for message in errors.iter().map(ToString::to_string) {
        if !messages.contains(&message) {
            messages.push(message);
        }
    }
    if let [one] = messages.as_slice() {
        one.clone()
    } else {
        format!("[{}]", messages.join(", "))
    }
}

fn match_labels(value: Option<&Value>) -> Result<Vec<(&str, &str)>, SelectorError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let object = value
        .as_object()
        .ok_or(SelectorError::MalformedLabelSelector(
            "matchLabels is not an object",
        ))?;
    object
        .iter()
        .map(|(k, v)| match v.as_str() {
            Some(v) => Ok((k.as_str(), v)),
            None => Err(SelectorError::MalformedLabelSelector(
                "a matchLabels value is not a string",
            )),
        })
        .collect()
}

fn match_expressions(value: Option<&Value>) -> Result<&[Value], SelectorError> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(SelectorError::MalformedLabelSelector(
            "matchExpressions is not a list",
        )),
    }
}

fn expression_requirement(expression: &Value) -> Result<LabelRequirement, SelectorError> {
    let malformed = SelectorError::MalformedLabelSelector;
    let object = expression
        .as_object()
        .ok_or(malformed("a matchExpressions item is not an object"))?;
    // Absent fields are Go's zero values.
    let text = |name: &str| match object.get(name) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(_) => Err(malformed(
            "a matchExpressions key or operator is not a string",
        )),
    };
    let operator = match text("operator")? {
        "In" => LabelOperator::In,
        "NotIn" => LabelOperator::NotIn,
        "Exists" => LabelOperator::Exists,
        "DoesNotExist" => LabelOperator::DoesNotExist,
        other => return Err(SelectorError::UnknownOperator(other.to_string())),
    };
    let values = match object.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or(malformed("a matchExpressions value is not a string"))?,
        Some(_) => return Err(malformed("matchExpressions values is not a list")),
    };
    LabelRequirement::new(text("key")?, operator, values).map_err(SelectorError::InvalidRequirement)
}

/// Lexer tokens of upstream's label selector grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

/// Whether `in`/`notin` are keywords (after a key) or plain identifiers (everywhere else).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

fn keyword(text: &[u8]) -> Option<Token> {
    Some(match text {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Upstream's byte lexer. A NUL byte reads like the end of input, as it does upstream.
struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn read(&mut self) -> u8 {
        match self.s.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos -= 1;
    }

    fn lex(&mut self) -> (Token, String) {
        let mut b = self.read();
        while is_whitespace(b) {
            b = self.read();
        }
        if b == 0 {
            return (Token::EndOfString, String::new());
        }
        self.unread();
        if is_special(b) {
            self.special_symbol()
        } else {
            self.identifier_or_keyword()
        }
    }

    fn identifier_or_keyword(&mut self) -> (Token, String) {
        let start = self.pos;
        let mut end = start;
        loop {
            let b = self.read();
            if b == 0 {
                break;
            }
            if is_special(b) || is_whitespace(b) {
                self.unread();
                break;
            }
            end = self.pos;
        }
        let text = &self.s[start..end];
        let token = match keyword(text) {
            Some(t @ (Token::In | Token::NotIn)) => t,
            _ => Token::Identifier,
        };
        (token, String::from_utf8_lossy(text).into_owned())
    }

    /// The longest run of special characters that is an operator (every single special
    /// character is one, so this always yields a token).
    fn special_symbol(&mut self) -> (Token, String) {
        let start = self.pos;
        let mut last = (Token::EndOfString, String::new());
        loop {
            let b = self.read();
            if b == 0 {
                break;
            }
            if !is_special(b) {
                self.unread();
                break;
            }
            let text = &self.s[start..self.pos];
            match keyword(text) {
                Some(token) => last = (token, String::from_utf8_lossy(text).into_owned()),
                None => {
                    self.unread();
                    break;
                }
            }
        }
        last
    }
}

/// Upstream's recursive-descent parser over the scanned tokens.
struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

impl Parser {
    fn new(selector: &str) -> Self {
        let mut lexer = Lexer {
            s: selector.as_bytes(),
            pos: 0,
        };
        let mut items = Vec::new();
        loop {
            let item = lexer.lex();
            let end = item.0 == Token::EndOfString;
            items.push(item);
            if end {
                break;
            }
        }
        Parser { items, position: 0 }
    }

    fn lookahead(&self, context: Context) -> (Token, &str) {
        let (token, literal) = self
            .items
            .get(self.position)
            .map_or((Token::EndOfString, ""), |(t, l)| (*t, l.as_str()));
        (in_context(token, context), literal)
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let (token, literal) = self.lookahead(context);
        let literal = literal.to_string();
        self.position += 1;
        (token, literal)
    }

    fn parse(&mut self) -> Result<Vec<LabelRequirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    let requirement = self
                        .requirement()
                        .map_err(SelectorError::LabelRequirement)?;
                    requirements.push(requirement);
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (next, literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(SelectorError::LabelSyntax(format!(
                                    "found '{literal}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(SelectorError::LabelSyntax(format!(
                                "found '{literal}', expected: ',' or 'end of string'"
                            )))
                        }
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(SelectorError::LabelSyntax(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    )))
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<LabelRequirement, String> {
        let (key, operator) = self.key_and_inferred_operator()?;
        if let Some(operator @ (LabelOperator::Exists | LabelOperator::DoesNotExist)) = operator {
            return LabelRequirement::new(&key, operator, Vec::new());
        }
        let operator = self.operator()?;
        let values = match operator {
            LabelOperator::In | LabelOperator::NotIn => self.values()?,
            _ => self.exact_value()?,
        };
        LabelRequirement::new(&key, operator, values.into_iter().collect())
    }

    /// The key, and `Exists`/`DoesNotExist` when no binary operator follows.
    fn key_and_inferred_operator(&mut self) -> Result<(String, Option<LabelOperator>), String> {
        let mut operator = None;
        let (mut token, mut literal) = self.consume(Context::Values);
        if token == Token::DoesNotExist {
            operator = Some(LabelOperator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        let errors = qualified_name(&literal);
        if !errors.is_empty() {
            // Upstream validates with a nil field path, which prints as `<nil>`.
            return Err(FieldError::invalid("<nil>", &literal, errors.join("; ")).to_string());
        }
        let (next, _) = self.lookahead(Context::Values);
        if matches!(next, Token::EndOfString | Token::Comma) && operator.is_none() {
            operator = Some(LabelOperator::Exists);
        }
        Ok((literal, operator))
    }

    fn operator(&mut self) -> Result<LabelOperator, String> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => LabelOperator::In,
            Token::Equals => LabelOperator::Equals,
            Token::DoubleEquals => LabelOperator::DoubleEquals,
            Token::GreaterThan => LabelOperator::GreaterThan,
            Token::LessThan => LabelOperator::LessThan,
            Token::NotIn => LabelOperator::NotIn,
            Token::NotEquals => LabelOperator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{literal}', expected: in, notin, =, ==, !=, gt, lt"
                ))
            }
        })
    }

    /// `(a,b,c)`; empty items are the empty value, duplicates collapse.
    fn values(&mut self) -> Result<BTreeSet<String>, String> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.identifiers()?;
                // `identifiers` only returns before a `)`.
                self.consume(Context::Values);
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            )),
        }
    }

    fn identifiers(&mut self) -> Result<BTreeSet<String>, String> {
        let mut values = BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal);
                    let (next, literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        _ => return Err(format!("found '{literal}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    // A leading, trailing or doubled comma stands for the empty value.
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    match self.lookahead(Context::Values).0 {
                        Token::ClosedPar => {
                            values.insert(String::new());
                            return Ok(values);
                        }
                        Token::Comma => {
                            self.consume(Context::Values);
                            values.insert(String::new());
                        }
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<BTreeSet<String>, String> {
        let (token, _) = self.lookahead(Context::Values);
        if matches!(token, Token::EndOfString | Token::Comma) {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(BTreeSet::from([literal]))
        } else {
            Err(format!("found '{literal}', expected: identifier"))
        }
    }
}

/// In value position `in` and `notin` are identifiers.
fn in_context(token: Token, context: Context) -> Token {
    match (token, context) {
        (Token::In | Token::NotIn, Context::Values) => Token::Identifier,
        _ => token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: &str) -> Result<String, String> {
        LabelSelector::parse(input)
            .map(|s| s.to_string())
            .map_err(|e| e.to_string())
    }

    const KEY_REGEX_ERROR: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const VALUE_REGEX_ERROR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    #[test]
    fn parse_table() {
        let cases: Vec<(&str, Result<&str, String>)> = vec![
            ("", Ok("")),
            ("  ", Ok("")),
            ("app=web", Ok("app=web")),
            ("app==web", Ok("app==web")),
            ("app!=web", Ok("app!=web")),
            ("app", Ok("app")),
            ("!app", Ok("!app")),
            ("! app", Ok("!app")),
            ("tier in (fe,be)", Ok("tier in (be,fe)")),
            ("tier in(fe, be, fe)", Ok("tier in (be,fe)")),
            ("tier notin (fe)", Ok("tier notin (fe)")),
            ("x in (foo,,baz),y,z notin ()", Ok("x in (,baz,foo),y,z notin ()")),
            ("x in (,)", Ok("x in ()")),
            ("x in (in,notin)", Ok("x in (in,notin)")),
            ("in=notin", Ok("in=notin")),
            ("zeta=1, alpha = 2 ,mid", Ok("alpha=2,mid,zeta=1")),
            ("kubernetes.io/service-name=kubia", Ok("kubernetes.io/service-name=kubia")),
            ("a=", Ok("a=")),
            ("a>1,b<-0", Err(format!("unable to parse requirement: values[0][b]: Invalid value: \"-0\": {VALUE_REGEX_ERROR}"))),
            ("a>1,b<10", Ok("a>1,b<10")),
            ("a>b", Err("unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer".to_string())),
            ("app web", Err("unable to parse requirement: found 'web', expected: in, notin, =, ==, !=, gt, lt".to_string())),
            ("app=web tier", Err("found 'tier', expected: ',' or 'end of string'".to_string())),
            ("app,", Err("found '', expected: identifier after ','".to_string())),
            ("app,,b", Err("found ',', expected: identifier after ','".to_string())),
            (",app", Err("found ',', expected: !, identifier, or 'end of string'".to_string())),
            ("=app", Err("found '=', expected: !, identifier, or 'end of string'".to_string())),
            ("app(x)", Err("unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt".to_string())),
            ("app in x", Err("unable to parse requirement: found 'x' expected: '('".to_string())),
            ("app in (x", Err("unable to parse requirement: found '', expected: ',' or ')'".to_string())),
            ("app in (x y)", Err("unable to parse requirement: found 'y', expected: ',' or ')'".to_string())),
            ("app in (=)", Err("unable to parse requirement: found '=', expected: ',', ')' or identifier".to_string())),
            ("app in (x,=)", Err("unable to parse requirement: found '=', expected: ',', or identifier".to_string())),
            ("app=(x)", Err("unable to parse requirement: found '(', expected: identifier".to_string())),
            ("!", Err("unable to parse requirement: found '', expected: identifier".to_string())),
            ("!!a", Err("unable to parse requirement: found '!', expected: identifier".to_string())),
            ("!a=b", Err("found '=', expected: ',' or 'end of string'".to_string())),
            ("a=!b", Err("unable to parse requirement: found '!', expected: identifier".to_string())),
            ("Foo_=x", Err(format!("unable to parse requirement: <nil>: Invalid value: \"Foo_\": {KEY_REGEX_ERROR}"))),
            ("_foo=x", Err(format!("unable to parse requirement: <nil>: Invalid value: \"_foo\": {KEY_REGEX_ERROR}"))),
            ("a=b_", Err(format!("unable to parse requirement: values[0][a]: Invalid value: \"b_\": {VALUE_REGEX_ERROR}"))),
            ("a\0b", Err("unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt".to_string())),
            ("a \0 b", Ok("a")),
        ];
        let failures: Vec<String> = cases
            .into_iter()
            .filter_map(|(input, want)| {
                let got = parsed(input);
                let want = want.map(str::to_string);
                (got != want).then(|| format!("{input:?}\n  got:  {got:?}\n  want: {want:?}"))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
