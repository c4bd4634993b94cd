//! Namespace: defaults, validation and selectable fields.

use k8s_openapi::api::core::v1::Namespace;

use crate::kind::Kind;
use crate::validation::NameRule;

impl Kind for Namespace {
    const NAME_RULE: NameRule = NameRule::Dns1123Label;
}
