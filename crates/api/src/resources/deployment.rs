//! Deployment: defaults, validation and selectable fields.

use k8s_openapi::api::apps::v1::Deployment;

use crate::kind::Kind;
use crate::validation::NameRule;

impl Kind for Deployment {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;
}
