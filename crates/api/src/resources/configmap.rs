//! ConfigMap: defaults, validation and selectable fields.

use k8s_openapi::api::core::v1::ConfigMap;

use crate::kind::Kind;
use crate::validation::NameRule;

impl Kind for ConfigMap {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;
}
