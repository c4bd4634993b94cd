//! Validation helpers shared by every kind: names, labels, ObjectMeta.
//!
//! Messages are apimachinery's `validation` package's, word for word, because kubectl prints them.

pub mod endpoints;
pub mod ingress;
pub mod meta;
pub mod names;
pub mod network;
pub mod service;

/// How a kind's `metadata.name` is validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain (most kinds).
    Dns1123Subdomain,
    /// RFC 1123 label (namespaces).
    Dns1123Label,
    /// RFC 1035 label (services).
    Dns1035Label,
    /// Any name that is a valid path segment (events, leases, ...).
    PathSegment,
}

impl NameRule {
    /// The error messages for `name`; `prefix` is true for `generateName`, whose trailing dash
    /// is allowed because a random suffix follows.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked;
        let name = if prefix && name.ends_with('-') {
            masked = format!("{}a", &name[..name.len() - 1]);
            masked.as_str()
        } else {
            name
        };
        match self {
            NameRule::Dns1123Subdomain => names::dns1123_subdomain(name),
            NameRule::Dns1123Label => names::dns1123_label(name),
            NameRule::Dns1035Label => names::dns1035_label(name),
            NameRule::PathSegment => names::path_segment(name, prefix),
        }
    }
}
