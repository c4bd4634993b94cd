//! Event: defaults, validation and selectable fields.

use k8s_openapi::api::core::v1::Event;

use crate::kind::Kind;
use crate::validation::NameRule;

impl Kind for Event {
    const NAME_RULE: NameRule = NameRule::PathSegment;
}
