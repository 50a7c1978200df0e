use super::*;

#[test]
fn a_sealed_file_opens_only_with_its_key_id_and_variant() {
    let k1 = XChaCha20Poly1305::new(&[1u8; 32].into());
    let k2 = XChaCha20Poly1305::new(&[2u8; 32].into());
    let (a, b) = (MediaId::from_u128(1), MediaId::from_u128(2));
    let sealed = seal(&k1, &aad(a, Variant::Display), b"the pixels");
    assert!(!sealed.windows(10).any(|w| w == b"the pixels"));
    assert_eq!(
        open(&k1, &aad(a, Variant::Display), &sealed).as_deref(),
        Some(&b"the pixels"[..])
    );
    assert_eq!(open(&k2, &aad(a, Variant::Display), &sealed), None);
    assert_eq!(
        open(&k1, &aad(b, Variant::Display), &sealed),
        None,
        "moved to another id"
    );
    assert_eq!(open(&k1, &aad(a, Variant::Original), &sealed), None);
    let mut flipped = sealed.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert_eq!(open(&k1, &aad(a, Variant::Display), &flipped), None);
}

#[test]
fn master_keys_are_hex_or_base64_of_32_bytes() {
    assert_eq!(parse_master(&"ab".repeat(32)).unwrap(), [0xab; 32]);
    let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    assert_eq!(parse_master(&b64).unwrap(), [7; 32]);
    assert!(parse_master("short").is_err());
    assert!(parse_master(&"ab".repeat(16)).is_err());
}
