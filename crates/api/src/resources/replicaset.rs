//! ReplicaSet: defaults, validation and selectable fields.

use k8s_openapi::api::apps::v1::ReplicaSet;

use crate::kind::Kind;
use crate::validation::NameRule;

impl Kind for ReplicaSet {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;
}
