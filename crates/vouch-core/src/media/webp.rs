//! WebP: the RIFF chunks, the bitstream's or the extended header's canvas size, and a copy
//! without the EXIF and XMP chunks (with the extended header's flags for them cleared).

use super::{le32, Malformed};

pub struct Walked {
    pub size: (u32, u32),
}

struct Chunk<'a> {
    kind: &'a [u8],
    data: &'a [u8],
    /// The chunk with its header and padding, as it sits in the file.
    whole: &'a [u8],
}

fn chunks(b: &[u8]) -> Result<Vec<Chunk<'_>>, Malformed> {
    let riff = le32(b, 4)? as usize;
    if riff.checked_add(8) != Some(b.len()) {
        return Err(Malformed("RIFF size does not match the file"));
    }
    let mut out = Vec::new();
    let mut at = 12;
    while at < b.len() {
        let kind = b.get(at..at + 4).ok_or(Malformed("cut short"))?;
        let len = le32(b, at + 4)? as usize;
        let padded = len + (len & 1);
        let end = (at + 8)
            .checked_add(padded)
            .filter(|&e| e <= b.len())
            .ok_or(Malformed("chunk runs past the end"))?;
        out.push(Chunk {
            kind,
            data: &b[at + 8..at + 8 + len],
            whole: &b[at..end],
        });
        at = end;
    }
    Ok(out)
}

fn le24(d: &[u8], at: usize) -> Result<u32, Malformed> {
    d.get(at..at + 3)
        .map(|s| u32::from(s[0]) | u32::from(s[1]) << 8 | u32::from(s[2]) << 16)
        .ok_or(Malformed("cut short"))
}

pub fn walk(b: &[u8]) -> Result<Walked, Malformed> {
    let cs = chunks(b)?;
    let first = cs.first().ok_or(Malformed("no chunk"))?;
    let size = match first.kind {
        b"VP8X" => (le24(first.data, 4)? + 1, le24(first.data, 7)? + 1),
        b"VP8 " => {
            let d = first.data;
            if d.get(3..6) != Some(&[0x9D, 0x01, 0x2A]) {
                return Err(Malformed("no VP8 start code"));
            }
            let w = d.get(6..8).ok_or(Malformed("cut short"))?;
            let h = d.get(8..10).ok_or(Malformed("cut short"))?;
            (
                u32::from(u16::from_le_bytes([w[0], w[1]]) & 0x3FFF),
                u32::from(u16::from_le_bytes([h[0], h[1]]) & 0x3FFF),
            )
        }
        b"VP8L" => {
            let d = first.data;
            if d.first() != Some(&0x2F) {
                return Err(Malformed("no VP8L signature"));
            }
            let bits = le32(d, 1)?;
            ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        }
        _ => return Err(Malformed("no image chunk first")),
    };
    if !cs
        .iter()
        .any(|c| matches!(c.kind, b"VP8 " | b"VP8L" | b"ANMF"))
    {
        return Err(Malformed("no image data"));
    }
    Ok(Walked { size })
}

pub fn without_metadata(b: &[u8]) -> Result<Vec<u8>, Malformed> {
    let cs = chunks(b)?;
    let mut body: Vec<u8> = Vec::with_capacity(b.len());
    body.extend_from_slice(b"WEBP");
    for c in cs {
        match c.kind {
            b"EXIF" | b"XMP " => {}
            b"VP8X" => {
                let mut whole = c.whole.to_vec();
                // Flags: bit 3 EXIF, bit 2 XMP.
                whole[8] &= !0b0000_1100;
                body.extend_from_slice(&whole);
            }
            _ => body.extend_from_slice(c.whole),
        }
    }
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}
