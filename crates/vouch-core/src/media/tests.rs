use super::samples::{jpeg, pdf, png, webp};
use super::*;

fn check(b: &[u8], allowed: &[MediaType]) -> Result<Inspected, Refusal> {
    inspect(b, allowed, &Limits::default())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn each_accepted_type_is_read_from_its_bytes_with_its_size() {
    for (bytes, t, size) in [
        (jpeg(4000, 3000), MediaType::Jpeg, (4000, 3000)),
        (png(800, 600), MediaType::Png, (800, 600)),
        (webp(1024, 768), MediaType::Webp, (1024, 768)),
        (pdf(), MediaType::Pdf, (0, 0)),
    ] {
        let i = check(&bytes, MediaType::IMAGES_AND_PDF).unwrap();
        assert_eq!((i.media_type, (i.width, i.height)), (t, size));
    }
}

#[test]
fn metadata_leaves_the_display_copy_and_the_pixels_stay() {
    let j = jpeg(1000, 800);
    let s = without_metadata(&j, MediaType::Jpeg);
    assert!(contains(&j, b"GPSLatitude") && !contains(&s, b"GPSLatitude"));
    assert!(!contains(&s, b"SN-12345") && contains(&s, b"JFIF"));
    assert!(s.ends_with(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD0, 0x78, 0x9A, 0xFF, 0xD9]));
    assert_eq!(check(&s, MediaType::IMAGES).unwrap().width, 1000);

    let p = without_metadata(&png(800, 600), MediaType::Png);
    assert!(!contains(&p, b"Someone") && !contains(&p, b"GPS") && contains(&p, b"IDAT"));
    assert_eq!(check(&p, MediaType::IMAGES).unwrap().height, 600);

    let w = without_metadata(&webp(1024, 768), MediaType::Webp);
    assert!(!contains(&w, b"GPS") && !contains(&w, b"xmpmeta"));
    assert_eq!(
        w[20] & 0b1100,
        0,
        "the VP8X flags no longer announce EXIF or XMP"
    );
    assert_eq!(check(&w, MediaType::IMAGES).unwrap().width, 1024);
}

#[test]
fn a_file_cut_short_is_damaged_wherever_it_is_cut() {
    for bytes in [jpeg(1000, 800), png(800, 600), webp(1024, 768), pdf()] {
        for cut in 1..bytes.len() - 1 {
            let r = check(&bytes[..cut], MediaType::IMAGES_AND_PDF);
            assert!(
                matches!(r, Err(Refusal::Damaged) | Err(Refusal::Unsupported)),
                "{cut} of {}: {r:?}",
                bytes.len()
            );
        }
    }
}

#[test]
fn a_renamed_file_is_what_its_bytes_say() {
    // A PNG sent as "photo.jpg" with type image/jpeg is still a PNG: nothing here reads names.
    assert_eq!(sniff(&png(800, 600)), Some(MediaType::Png));
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    assert_eq!(check(svg, MediaType::IMAGES), Err(Refusal::Unsupported));
    assert_eq!(
        check(b"GIF89a....", MediaType::IMAGES),
        Err(Refusal::Unsupported)
    );
}

#[test]
fn limits_refuse_with_their_own_reason() {
    assert_eq!(check(&[], MediaType::IMAGES), Err(Refusal::Empty));
    assert_eq!(
        check(&jpeg(20_000, 20_000), MediaType::IMAGES),
        Err(Refusal::TooManyPixels)
    );
    assert_eq!(
        check(&jpeg(9_000, 9_000), MediaType::IMAGES),
        Err(Refusal::TooManyPixels)
    );
    assert_eq!(
        check(&jpeg(200, 150), MediaType::IMAGES),
        Err(Refusal::TooSmall)
    );
    assert_eq!(check(&pdf(), MediaType::IMAGES), Err(Refusal::WrongKind));
    let small = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    assert_eq!(
        inspect(&jpeg(1000, 800), MediaType::IMAGES, &small),
        Err(Refusal::TooLarge)
    );
    for r in [
        Refusal::Empty,
        Refusal::TooLarge,
        Refusal::Unsupported,
        Refusal::WrongKind,
        Refusal::Damaged,
        Refusal::TooManyPixels,
        Refusal::TooSmall,
    ] {
        assert_eq!(Refusal::parse(r.code()), Some(r));
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = check(&bytes, MediaType::IMAGES_AND_PDF);
        for t in [MediaType::Jpeg, MediaType::Png, MediaType::Webp, MediaType::Pdf] {
            let _ = without_metadata(&bytes, t);
        }
    }

    #[test]
    fn arbitrary_bytes_after_a_real_header_never_panic(
        which in 0usize..4,
        tail in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
    ) {
        let mut b = [jpeg(1000, 800), png(800, 600), webp(1024, 768), pdf()][which].clone();
        let keep = b.len() / 2;
        b.truncate(keep);
        b.extend(tail);
        let _ = check(&b, MediaType::IMAGES_AND_PDF);
        let _ = without_metadata(&b, MediaType::Webp);
    }
}
