//! Lease: defaults, validation and selectable fields.

use k8s_openapi::api::coordination::v1::Lease;

use crate::kind::Kind;
use crate::validation::NameRule;

impl Kind for Lease {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;
}
