//! EndpointSlice: defaults, validation and selectable fields.

use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::kind::Kind;
use crate::validation::NameRule;

impl Kind for EndpointSlice {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;
}
