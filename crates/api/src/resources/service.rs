//! Service: defaults, validation and selectable fields.

use k8s_openapi::api::core::v1::Service;

use crate::kind::Kind;
use crate::validation::NameRule;

impl Kind for Service {
    const NAME_RULE: NameRule = NameRule::Dns1035Label;
}
