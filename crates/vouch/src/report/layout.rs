//! A small flowing layout on A4 pages: lines of wrapped text in three faces (DejaVu Sans, Sans
//! Bold, Sans Mono, embedded and subset by krilla, so every Latin, Greek, Cyrillic, Arabic or
//! Hebrew name renders), rules and images, laid out first and then drawn with page footers.

use std::sync::LazyLock;

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Size, Transform};
use krilla::image::Image;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use krilla::Document;

/// A4, in points.
const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 48.0;
const FOOTER: f32 = 28.0;
const WIDTH: f32 = PAGE_W - 2.0 * MARGIN;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Regular,
    Bold,
    Mono,
}

struct Loaded {
    font: Font,
    face: ttf_parser::Face<'static>,
}

struct Fonts {
    regular: Loaded,
    bold: Loaded,
    mono: Loaded,
}

fn load(bytes: &'static [u8]) -> Loaded {
    Loaded {
        font: Font::new(bytes.into(), 0).expect("DejaVu is a valid font"),
        face: ttf_parser::Face::parse(bytes, 0).expect("DejaVu is a valid font"),
    }
}

static FONTS: LazyLock<Fonts> = LazyLock::new(|| Fonts {
    regular: load(dejavu::sans::regular()),
    bold: load(dejavu::sans::bold()),
    mono: load(dejavu::sans_mono::regular()),
});

impl Face {
    fn loaded(self) -> &'static Loaded {
        match self {
            Face::Regular => &FONTS.regular,
            Face::Bold => &FONTS.bold,
            Face::Mono => &FONTS.mono,
        }
    }
}

/// The width of `text` in points.
fn width(text: &str, face: Face, size: f32) -> f32 {
    let f = &face.loaded().face;
    let upem = f32::from(f.units_per_em());
    let units: u32 = text
        .chars()
        .map(|c| {
            f.glyph_index(c)
                .and_then(|g| f.glyph_hor_advance(g))
                .unwrap_or(f.units_per_em() / 2) as u32
        })
        .sum();
    units as f32 * size / upem
}

/// `text` broken into lines no wider than `max`: at spaces, and inside words too long for a
/// line (hashes, URLs).
fn wrap(text: &str, face: Face, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split(' ') {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if width(&candidate, face, size) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone, broken where it must be.
            for c in word.chars() {
                line.push(c);
                if width(&line, face, size) > max {
                    line.pop();
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                }
            }
        }
        lines.push(line);
    }
    lines
}

enum Op {
    Text {
        x: f32,
        y: f32,
        face: Face,
        size: f32,
        gray: u8,
        text: String,
    },
    Rule {
        y: f32,
    },
    Image {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        image: Image,
    },
}

/// Content laid out onto pages, top to bottom.
pub struct Layout {
    pages: Vec<Vec<Op>>,
    y: f32,
    footer: String,
}

impl Layout {
    pub fn new(footer: String) -> Self {
        Layout {
            pages: vec![Vec::new()],
            y: MARGIN,
            footer,
        }
    }

    fn room(&mut self, h: f32) {
        if self.y + h > PAGE_H - MARGIN - FOOTER {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn push(&mut self, op: Op) {
        self.pages.last_mut().expect("a page").push(op);
    }

    /// A paragraph, wrapped, indented by `indent`.
    pub fn text(&mut self, text: &str, face: Face, size: f32, indent: f32) {
        self.text_in(text, face, size, indent, 0);
    }

    /// Likewise in gray (`0` black … `255` white).
    pub fn text_in(&mut self, text: &str, face: Face, size: f32, indent: f32, gray: u8) {
        let line_h = size * 1.35;
        for line in wrap(text, face, size, WIDTH - indent) {
            self.room(line_h);
            self.y += size;
            self.push(Op::Text {
                x: MARGIN + indent,
                y: self.y,
                face,
                size,
                gray,
                text: line,
            });
            self.y += line_h - size;
        }
    }

    /// `label: value`, the label bold, the value wrapped beside it.
    pub fn field(&mut self, label: &str, value: &str, indent: f32) {
        let size = 9.5;
        let label_w = 130.0_f32.min(WIDTH / 3.0);
        let lines = wrap(value, Face::Regular, size, WIDTH - indent - label_w);
        let line_h = size * 1.35;
        for (i, line) in lines.into_iter().enumerate() {
            self.room(line_h);
            self.y += size;
            if i == 0 {
                // A label too long for its column is cut to its first line.
                let label = wrap(label, Face::Bold, size, label_w - 6.0).swap_remove(0);
                self.push(Op::Text {
                    x: MARGIN + indent,
                    y: self.y,
                    face: Face::Bold,
                    size,
                    gray: 60,
                    text: label,
                });
            }
            self.push(Op::Text {
                x: MARGIN + indent + label_w,
                y: self.y,
                face: Face::Regular,
                size,
                gray: 0,
                text: line,
            });
            self.y += line_h - size;
        }
    }

    pub fn space(&mut self, h: f32) {
        self.y += h;
    }

    pub fn rule(&mut self) {
        self.room(8.0);
        self.y += 4.0;
        let y = self.y;
        self.push(Op::Rule { y });
        self.y += 4.0;
    }

    /// Images side by side, each scaled into `max_w` × `max_h`, with a caption under each.
    pub fn images(&mut self, images: Vec<(Image, String)>, max_w: f32, max_h: f32, indent: f32) {
        if images.is_empty() {
            return;
        }
        self.room(max_h + 16.0);
        let top = self.y + 4.0;
        let mut x = MARGIN + indent;
        for (image, caption) in images {
            let (iw, ih) = image.size();
            let scale = (max_w / iw as f32).min(max_h / ih as f32).min(1.0);
            let (w, h) = (iw as f32 * scale, ih as f32 * scale);
            if x + w > MARGIN + WIDTH {
                break;
            }
            self.push(Op::Image {
                x,
                y: top,
                w,
                h,
                image,
            });
            self.push(Op::Text {
                x,
                y: top + max_h + 10.0,
                face: Face::Regular,
                size: 7.5,
                gray: 90,
                text: caption,
            });
            x += w + 12.0;
        }
        self.y = top + max_h + 16.0;
    }

    /// The PDF: every page drawn, with its footer and number.
    pub fn finish(self, title: &str) -> Result<Vec<u8>, String> {
        let mut doc = Document::new();
        doc.set_metadata(
            krilla::metadata::Metadata::new()
                .title(title.to_string())
                .creator(format!("vouch {}", env!("CARGO_PKG_VERSION"))),
        );
        let total = self.pages.len();
        for (n, ops) in self.pages.into_iter().enumerate() {
            let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or("page size")?;
            let mut page = doc.start_page_with(settings);
            let mut surface = page.surface();
            for op in ops {
                draw(&mut surface, op);
            }
            draw(
                &mut surface,
                Op::Text {
                    x: MARGIN,
                    y: PAGE_H - MARGIN + 8.0,
                    face: Face::Regular,
                    size: 7.5,
                    gray: 110,
                    text: format!("{} · page {} of {total}", self.footer, n + 1),
                },
            );
            surface.finish();
            page.finish();
        }
        doc.finish().map_err(|e| format!("{e:?}"))
    }
}

fn draw(surface: &mut krilla::surface::Surface<'_>, op: Op) {
    match op {
        Op::Text {
            x,
            y,
            face,
            size,
            gray,
            text,
        } => {
            surface.set_fill(Some(Fill {
                paint: rgb::Color::new(gray, gray, gray).into(),
                opacity: NormalizedF32::ONE,
                rule: Default::default(),
            }));
            surface.draw_text(
                Point::from_xy(x, y),
                face.loaded().font.clone(),
                size,
                &text,
                false,
                TextDirection::Auto,
            );
        }
        Op::Rule { y } => {
            let mut pb = PathBuilder::new();
            pb.move_to(MARGIN, y);
            pb.line_to(MARGIN + WIDTH, y);
            if let Some(path) = pb.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: rgb::Color::new(200, 200, 200).into(),
                    width: 0.6,
                    ..Default::default()
                }));
                surface.draw_path(&path);
                surface.set_stroke(None);
            }
        }
        Op::Image { x, y, w, h, image } => {
            if let Some(size) = Size::from_wh(w, h) {
                surface.push_transform(&Transform::from_translate(x, y));
                surface.draw_image(image, size);
                surface.pop();
            }
        }
    }
}
