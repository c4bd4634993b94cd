//! Kernel names of the links ferry creates, from one function each.

/// The prefix of every pod's host-side veth; [`crate::cleanup_links`] with it finds them all.
/// It is not a prefix of other ferry names (which start with `ferry`), so removing pod links
/// never touches a lab's bridges or namespaces.
pub const POD_VETH_PREFIX: &str = "fpod";

/// The name of the host-side veth of the pod sandbox `pod_id`: the prefix and 11 hex digits of
/// a stable hash of the id, 15 bytes, the kernel's limit for interface names.
pub fn pod_veth_name(pod_id: &str) -> String {
    format!(
        "{POD_VETH_PREFIX}{:011x}",
        fnv1a(pod_id.as_bytes()) & 0xfff_ffff_ffff
    )
}

/// FNV-1a, 64 bits: stable across Rust releases and processes, unlike `DefaultHasher`, so the
/// name of a pod's veth is the same after a restart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_veth_names_fit_the_kernel_limit_and_are_stable() {
        let name = pod_veth_name("5f0e8c2a-6b1d-4f5e-9a3c-2d7b8e9f0a1b");
        assert_eq!(name.len(), 15);
        assert!(name.starts_with(POD_VETH_PREFIX));
        assert_eq!(name, pod_veth_name("5f0e8c2a-6b1d-4f5e-9a3c-2d7b8e9f0a1b"));
        assert_ne!(name, pod_veth_name("5f0e8c2a-6b1d-4f5e-9a3c-2d7b8e9f0a1c"));
    }

    #[test]
    fn the_hash_is_fnv1a() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
