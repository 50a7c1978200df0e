//! API key material: generation, hashing and display parts. Keys are stored only as hashes.

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};
use vouch_core::session::Environment;

/// Random characters after the prefix: 40 alphanumerics ≈ 238 bits.
const SECRET_LEN: usize = 40;

pub struct GeneratedKey {
    pub key: String,
    pub hash: [u8; 32],
    pub prefix: String,
    pub last4: String,
}

pub fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

pub fn generate(mode: Environment) -> GeneratedKey {
    let tag = match mode {
        Environment::Live => "vk_live_",
        Environment::Sandbox => "vk_test_",
    };
    let secret = Alphanumeric.sample_string(&mut rand::rng(), SECRET_LEN);
    let key = format!("{tag}{secret}");
    GeneratedKey {
        hash: hash(&key),
        prefix: key[..tag.len() + 4].to_string(),
        last4: key[key.len() - 4..].to_string(),
        key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hashed() {
        let a = generate(Environment::Live);
        let b = generate(Environment::Sandbox);
        assert!(a.key.starts_with("vk_live_") && b.key.starts_with("vk_test_"));
        assert_ne!(a.key, generate(Environment::Live).key);
        assert_eq!(a.hash, hash(&a.key));
        assert!(a.key.starts_with(&a.prefix) && a.key.ends_with(&a.last4));
        assert_eq!(a.key.len(), 8 + SECRET_LEN);
    }
}
