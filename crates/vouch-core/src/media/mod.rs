//! What the person uploads, checked before anything is stored: the type read from the bytes
//! (never from the file name or the browser's word), the size, the pixel dimensions read from
//! the headers, and the file's structure walked to its end, so that a truncated or padded file
//! is refused. Nothing is decoded here, so no file can make the server expand it (no
//! decompression bomb); the dimension limits protect the engines that will decode it.
//!
//! The copy kept for display loses its metadata (EXIF with its GPS position and camera serial,
//! XMP, IPTC, text chunks) by dropping those segments; the pixels are not re-encoded.

mod jpeg;
mod png;
mod webp;

use serde::Serialize;

/// A type vouch accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MediaType {
    Jpeg,
    Png,
    Webp,
    Pdf,
}

impl MediaType {
    pub const IMAGES: &'static [MediaType] = &[MediaType::Jpeg, MediaType::Png, MediaType::Webp];
    pub const IMAGES_AND_PDF: &'static [MediaType] = &[
        MediaType::Jpeg,
        MediaType::Png,
        MediaType::Webp,
        MediaType::Pdf,
    ];

    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
            MediaType::Webp => "image/webp",
            MediaType::Pdf => "application/pdf",
        }
    }

    pub fn from_mime(s: &str) -> Option<Self> {
        [Self::Jpeg, Self::Png, Self::Webp, Self::Pdf]
            .into_iter()
            .find(|t| t.mime() == s)
    }

    /// The `accept` attribute of a file input taking these types.
    pub fn accept(types: &[MediaType]) -> String {
        types.iter().map(|t| t.mime()).collect::<Vec<_>>().join(",")
    }
}

/// The server's limits on one file.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    /// Width × height at most (a 12-megapixel photo is 12,000,000).
    pub max_pixels: u64,
    /// Either side at most.
    pub max_side: u32,
    /// The shorter side at least: smaller images cannot be read by anyone.
    pub min_side: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 15 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_side: 12_000,
            min_side: 240,
        }
    }
}

/// Why a file was refused; each has its own message on the person's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No file was chosen.
    Empty,
    /// Over `max_bytes`.
    TooLarge,
    /// Not a type vouch accepts at all (SVG, GIF, HEIC, a document, …).
    Unsupported,
    /// An accepted type, but not for this capture (a PDF as a selfie).
    WrongKind,
    /// Claims to be one of the accepted types but is cut short or malformed.
    Damaged,
    /// More pixels than the limits allow.
    TooManyPixels,
    /// The shorter side is under `min_side`.
    TooSmall,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Empty => "empty",
            Refusal::TooLarge => "too_large",
            Refusal::Unsupported => "unsupported",
            Refusal::WrongKind => "wrong_kind",
            Refusal::Damaged => "damaged",
            Refusal::TooManyPixels => "too_many_pixels",
            Refusal::TooSmall => "too_small",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Empty,
            Self::TooLarge,
            Self::Unsupported,
            Self::WrongKind,
            Self::Damaged,
            Self::TooManyPixels,
            Self::TooSmall,
        ]
        .into_iter()
        .find(|r| r.code() == s)
    }
}

/// What the checks found in an accepted file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inspected {
    pub media_type: MediaType,
    /// Pixels; 0 for a PDF.
    pub width: u32,
    pub height: u32,
}

/// The type the bytes start with, if vouch accepts it.
pub fn sniff(bytes: &[u8]) -> Option<MediaType> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(MediaType::Jpeg)
    } else if bytes.starts_with(png::SIGNATURE) {
        Some(MediaType::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(MediaType::Webp)
    } else if bytes.starts_with(b"%PDF-") {
        Some(MediaType::Pdf)
    } else {
        None
    }
}

/// A malformed structure; the reader's detail is for tests and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// Checks a file for a capture that takes `allowed` types.
pub fn inspect(bytes: &[u8], allowed: &[MediaType], limits: &Limits) -> Result<Inspected, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(Refusal::TooLarge);
    }
    let media_type = sniff(bytes).ok_or(Refusal::Unsupported)?;
    if !allowed.contains(&media_type) {
        return Err(Refusal::WrongKind);
    }
    let (width, height) = match media_type {
        MediaType::Jpeg => jpeg::walk(bytes).map(|j| j.size),
        MediaType::Png => png::walk(bytes).map(|p| p.size),
        MediaType::Webp => webp::walk(bytes).map(|w| w.size),
        MediaType::Pdf => pdf_ends(bytes).map(|()| (0, 0)),
    }
    .map_err(|_| Refusal::Damaged)?;
    if media_type != MediaType::Pdf {
        if width == 0 || height == 0 {
            return Err(Refusal::Damaged);
        }
        if width > limits.max_side
            || height > limits.max_side
            || u64::from(width) * u64::from(height) > limits.max_pixels
        {
            return Err(Refusal::TooManyPixels);
        }
        if width.min(height) < limits.min_side {
            return Err(Refusal::TooSmall);
        }
    }
    Ok(Inspected {
        media_type,
        width,
        height,
    })
}

/// The copy of an inspected file kept for display: the same pixels without metadata. A PDF is
/// kept as it is.
pub fn without_metadata(bytes: &[u8], media_type: MediaType) -> Vec<u8> {
    let kept = match media_type {
        MediaType::Jpeg => jpeg::walk(bytes).map(|j| j.kept),
        MediaType::Png => png::walk(bytes).map(|p| p.kept),
        MediaType::Webp => return webp::without_metadata(bytes).unwrap_or_else(|_| bytes.to_vec()),
        MediaType::Pdf => return bytes.to_vec(),
    };
    match kept {
        Ok(ranges) => {
            let mut out = Vec::with_capacity(bytes.len());
            for r in ranges {
                out.extend_from_slice(&bytes[r]);
            }
            out
        }
        Err(_) => bytes.to_vec(),
    }
}

/// A PDF ends with `%%EOF` (and perhaps whitespace); one cut short does not.
fn pdf_ends(bytes: &[u8]) -> Result<(), Malformed> {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    let trimmed = tail
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(&tail[..0], |i| &tail[..=i]);
    if trimmed.ends_with(b"%%EOF") {
        Ok(())
    } else {
        Err(Malformed("no %%EOF at the end"))
    }
}

fn be16(b: &[u8], at: usize) -> Result<u16, Malformed> {
    b.get(at..at + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or(Malformed("cut short"))
}

fn be32(b: &[u8], at: usize) -> Result<u32, Malformed> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(Malformed("cut short"))
}

fn le32(b: &[u8], at: usize) -> Result<u32, Malformed> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(Malformed("cut short"))
}

#[cfg(test)]
pub(crate) mod samples;

#[cfg(test)]
mod tests;
