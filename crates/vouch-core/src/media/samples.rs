//! Files built byte by byte for the tests: the structure the checks walk, with made-up pixels.

fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(body);
    s
}

/// A baseline JPEG of `w` × `h` with JFIF, EXIF (a GPS tag) and a comment; its scan data holds
/// a stuffed 0xFF and a restart marker.
pub fn jpeg(w: u16, h: u16) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8];
    b.extend(segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
    b.extend(segment(0xE1, b"Exif\0\0GPSLatitude=48.8584"));
    b.extend(segment(0xFE, b"shot by camera SN-12345"));
    b.extend(segment(0xDB, &[0u8; 65]));
    let mut sof = vec![8];
    sof.extend_from_slice(&h.to_be_bytes());
    sof.extend_from_slice(&w.to_be_bytes());
    sof.extend_from_slice(&[1, 1, 0x11, 0]);
    b.extend(segment(0xC0, &sof));
    b.extend(segment(0xC4, &[0u8; 20]));
    b.extend(segment(0xDA, &[1, 1, 0, 0, 63, 0]));
    b.extend_from_slice(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD0, 0x78, 0x9A]);
    b.extend_from_slice(&[0xFF, 0xD9]);
    b
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    c.extend_from_slice(&[0, 0, 0, 0]);
    c
}

/// A PNG of `w` × `h` with a text chunk and an EXIF chunk.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let mut b = super::png::SIGNATURE.to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    b.extend(chunk(b"IHDR", &ihdr));
    b.extend(chunk(b"tEXt", b"Author\0Someone"));
    b.extend(chunk(b"eXIf", b"MM\0*GPS"));
    b.extend(chunk(b"IDAT", &[0x78, 0x9C, 1, 2, 3]));
    b.extend(chunk(b"IEND", &[]));
    b
}

fn riff_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = kind.to_vec();
    c.extend_from_slice(&(data.len() as u32).to_le_bytes());
    c.extend_from_slice(data);
    if data.len() % 2 == 1 {
        c.push(0);
    }
    c
}

fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = chunks.concat();
    let mut b = b"RIFF".to_vec();
    b.extend_from_slice(&((body.len() + 4) as u32).to_le_bytes());
    b.extend_from_slice(b"WEBP");
    b.extend(body);
    b
}

/// An extended WebP of `w` × `h` with EXIF and XMP chunks (flags set for both).
pub fn webp(w: u32, h: u32) -> Vec<u8> {
    let mut x = vec![0b0000_1100, 0, 0, 0];
    x.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
    x.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
    let mut vp8 = vec![0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A];
    vp8.extend_from_slice(&(w as u16).to_le_bytes());
    vp8.extend_from_slice(&(h as u16).to_le_bytes());
    vp8.extend_from_slice(&[1, 2, 3]);
    riff(&[
        riff_chunk(b"VP8X", &x),
        riff_chunk(b"VP8 ", &vp8),
        riff_chunk(b"EXIF", b"MM\0*GPS"),
        riff_chunk(b"XMP ", b"<x:xmpmeta/>"),
    ])
}

/// A small PDF.
pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}
