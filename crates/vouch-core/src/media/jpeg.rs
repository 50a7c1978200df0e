//! JPEG: the marker segments walked from SOI to EOI, the frame header's size, and which byte
//! ranges carry no metadata.

use std::ops::Range;

use super::{be16, Malformed};

pub struct Walked {
    pub size: (u32, u32),
    /// The file without its metadata segments, as ranges of the original.
    pub kept: Vec<Range<usize>>,
}

/// Segments that carry metadata rather than the image: APP1 (EXIF, XMP), APP3–APP13 (IPTC,
/// Photoshop, vendor data), APP15 and comments. APP0 (JFIF), APP2 (the ICC colour profile) and
/// APP14 (Adobe's colour transform) are needed to show the pixels right.
fn is_metadata(marker: u8) -> bool {
    matches!(marker, 0xE1 | 0xE3..=0xED | 0xEF | 0xFE)
}

/// Start-of-frame markers (all but DHT, JPG and DAC in C0–CF).
fn is_frame(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

pub fn walk(b: &[u8]) -> Result<Walked, Malformed> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return Err(Malformed("no SOI"));
    }
    let mut kept: Vec<Range<usize>> = Vec::new();
    let mut keep_from = 0usize;
    let mut size = None;
    let mut scans = 0;
    let mut at = 2;
    loop {
        // A marker: 0xFF, perhaps fill bytes, then its code.
        if b.get(at) != Some(&0xFF) {
            return Err(Malformed("expected a marker"));
        }
        let start = at;
        while b.get(at) == Some(&0xFF) {
            at += 1;
        }
        let marker = *b.get(at).ok_or(Malformed("cut short in a marker"))?;
        at += 1;
        match marker {
            0xD9 => {
                if size.is_none() || scans == 0 {
                    return Err(Malformed("EOI before a frame and a scan"));
                }
                kept.push(keep_from..at);
                return Ok(Walked {
                    size: size.unwrap_or((0, 0)),
                    kept,
                });
            }
            0xD0..=0xD7 | 0x01 => continue,
            0x00 | 0xD8 => return Err(Malformed("unexpected marker")),
            _ => {}
        }
        let len = usize::from(be16(b, at)?);
        if len < 2 || at + len > b.len() {
            return Err(Malformed("segment runs past the end"));
        }
        let body = at + 2..at + len;
        at += len;
        if is_metadata(marker) {
            kept.push(keep_from..start);
            keep_from = at;
            continue;
        }
        if is_frame(marker) {
            let h = be16(b, body.start + 1)?;
            let w = be16(b, body.start + 3)?;
            size = Some((u32::from(w), u32::from(h)));
        }
        if marker == 0xDA {
            if size.is_none() {
                return Err(Malformed("scan before a frame header"));
            }
            scans += 1;
            // Entropy-coded data up to the next marker that is not a stuffed byte or a restart.
            loop {
                let rel = b[at..]
                    .iter()
                    .position(|&x| x == 0xFF)
                    .ok_or(Malformed("scan data cut short"))?;
                at += rel;
                match b.get(at + 1) {
                    None => return Err(Malformed("scan data cut short")),
                    Some(0x00) | Some(0xD0..=0xD7) | Some(0xFF) => at += 1,
                    Some(_) => break,
                }
            }
        }
    }
}
