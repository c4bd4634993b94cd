//! `pod-template-hash`: the name suffix and label that tie a ReplicaSet to one pod template of
//! its Deployment, computed as upstream's `ComputeHash` does: FNV-32a over the template (here
//! its canonical JSON, keys sorted), then the collision count, rendered as the decimal number's
//! digits mapped through `rand.SafeEncodeString`'s alphabet.

use serde_json::Value;

/// The label (on ReplicaSet selectors, templates and pods) carrying the hash.
pub(crate) const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// apimachinery's alphabet without vowels and look-alikes.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
const FNV32_OFFSET: u32 = 0x811c_9dc5;
const FNV32_PRIME: u32 = 0x0100_0193;

/// The hash of a pod template (as JSON) and the Deployment's `status.collisionCount`.
pub(crate) fn pod_template_hash(template: &Value, collision_count: Option<i32>) -> String {
    let mut text = String::new();
    canonical_json(template, &mut text);
    let mut hash = fnv32a(FNV32_OFFSET, text.as_bytes());
    if let Some(count) = collision_count {
        // Upstream writes the count as a little-endian uint32 into an 8-byte buffer.
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&count.to_le_bytes());
        hash = fnv32a(hash, &bytes);
    }
    safe_encode(&hash.to_string())
}

fn fnv32a(mut hash: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(FNV32_PRIME);
    }
    hash
}

/// `rand.SafeEncodeString`: each character mapped to the alphabet by its code point.
fn safe_encode(s: &str) -> String {
    s.chars()
        .map(|c| SAFE_ALPHABET[(c as usize) % SAFE_ALPHABET.len()] as char)
        .collect()
}

/// JSON with object keys sorted, so equal templates hash equally whatever their key order.
fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                canonical_json(&map[key.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fnv32a_matches_the_reference_vectors() {
        assert_eq!(fnv32a(FNV32_OFFSET, b""), 0x811c_9dc5);
        assert_eq!(fnv32a(FNV32_OFFSET, b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(FNV32_OFFSET, b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn digits_map_to_the_safe_alphabet() {
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    #[test]
    fn hashes_ignore_key_order_and_change_with_content_and_collisions() {
        let a = json!({"metadata": {"labels": {"app": "kubia"}}, "spec": {"containers": [{"name": "c", "image": "luksa/kubia"}]}});
        let b = json!({"spec": {"containers": [{"image": "luksa/kubia", "name": "c"}]}, "metadata": {"labels": {"app": "kubia"}}});
        let h = pod_template_hash(&a, None);
        assert_eq!(h, pod_template_hash(&b, None));
        assert!(
            h.len() <= 10 && h.chars().all(|c| "456789bcdf".contains(c)),
            "{h}"
        );
        let v2 = json!({"metadata": {"labels": {"app": "kubia"}}, "spec": {"containers": [{"name": "c", "image": "luksa/kubia:v2"}]}});
        assert_ne!(h, pod_template_hash(&v2, None));
        assert_ne!(h, pod_template_hash(&a, Some(1)));
        assert_ne!(
            pod_template_hash(&a, Some(1)),
            pod_template_hash(&a, Some(2))
        );
    }
}
