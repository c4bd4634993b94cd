//! Label and field selectors as apimachinery parses and matches them (`labels.Parse`,
//! `metav1.LabelSelectorAsSelector`, `fields.ParseSelector`), with upstream's error messages.
//!
//! Which fields a kind can be selected by is decided by the kind; this module only parses,
//! prints and matches.

mod field;
mod label;

pub use field::{FieldOperator, FieldRequirement, FieldSelector};
pub use label::{LabelOperator, LabelRequirement, LabelSelector};

use crate::field::go_quote;

/// Why a selector could not be parsed; the `Display` text is upstream's error message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The label selector string is not well formed between requirements.
    #[error("{0}")]
    LabelSyntax(String),
    /// One requirement of a label selector string does not parse or validate.
    #[error("unable to parse requirement: {0}")]
    LabelRequirement(String),
    /// A requirement of a `metav1.LabelSelector` is invalid (aggregated field errors).
    #[error("{0}")]
    InvalidRequirement(String),
    /// A `matchExpressions` operator other than In, NotIn, Exists, DoesNotExist.
    #[error("{} is not a valid label selector operator", go_quote(.0))]
    UnknownOperator(String),
    /// A `metav1.LabelSelector` value that is not shaped like one.
    #[error("malformed label selector: {0}")]
    MalformedLabelSelector(&'static str),
    /// A field selector term without `=`, `==` or `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldTerm { selector: String, term: String },
    /// A backslash in a field selector value not followed by `\`, `,` or `=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    FieldEscape(String),
    /// An unescaped `,` or `=` in a field selector value (upstream prints the code point).
    #[error("invalid field selector: unescaped character in value: {}", u32::from(*.0))]
    FieldUnescaped(char),
}
