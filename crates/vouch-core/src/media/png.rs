//! PNG: the chunks walked from the signature to IEND, the header's size, and which chunks carry
//! no metadata.

use std::ops::Range;

use super::{be32, Malformed};

pub const SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n'];

pub struct Walked {
    pub size: (u32, u32),
    pub kept: Vec<Range<usize>>,
}

/// EXIF, the three text chunk kinds and the modification time.
fn is_metadata(kind: &[u8]) -> bool {
    matches!(kind, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME")
}

pub fn walk(b: &[u8]) -> Result<Walked, Malformed> {
    if !b.starts_with(SIGNATURE) {
        return Err(Malformed("no PNG signature"));
    }
    let mut kept = Vec::with_capacity(8);
    kept.push(0..SIGNATURE.len());
    let mut at = SIGNATURE.len();
    let mut size = None;
    let mut has_data = false;
    loop {
        let len = be32(b, at)? as usize;
        let kind = b.get(at + 4..at + 8).ok_or(Malformed("cut short"))?;
        let end = at
            .checked_add(12 + len)
            .filter(|&e| e <= b.len())
            .ok_or(Malformed("chunk runs past the end"))?;
        if size.is_none() && kind != b"IHDR" {
            return Err(Malformed("IHDR is not first"));
        }
        match kind {
            b"IHDR" => {
                if len != 13 {
                    return Err(Malformed("IHDR of the wrong length"));
                }
                size = Some((be32(b, at + 8)?, be32(b, at + 12)?));
            }
            b"IDAT" => has_data = true,
            _ => {}
        }
        if !is_metadata(kind) {
            kept.push(at..end);
        }
        if kind == b"IEND" {
            if !has_data {
                return Err(Malformed("no image data"));
            }
            return Ok(Walked {
                size: size.unwrap_or((0, 0)),
                kept,
            });
        }
        at = end;
    }
}
