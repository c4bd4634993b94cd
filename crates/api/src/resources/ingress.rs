//! Ingress: defaults, validation and selectable fields.

use k8s_openapi::api::networking::v1::Ingress;

use crate::kind::Kind;
use crate::validation::NameRule;

impl Kind for Ingress {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;
}
