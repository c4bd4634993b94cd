//! Node: defaults, validation and selectable fields.

use k8s_openapi::api::core::v1::Node;

use crate::kind::Kind;
use crate::validation::NameRule;

impl Kind for Node {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;
}
