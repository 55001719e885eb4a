//! The one typeface of every document, Carebill Sans (Liberation Sans cut to Latin text, without
//! hinting: SIL OFL 1.1, `fonts/README.md`), in regular and bold: 23 KB each in the binary, subset
//! again into each PDF by krilla.
//!
//! There is no text shaper: statements, receipts and summaries are Latin text (English and
//! Spanish, names, providers), for which a glyph per character from the font's own character map,
//! with its advance width, is the whole of shaping. A character the font lacks is drawn as `?`
//! and written as `?`, so the text a reader extracts is the text on the page.

use std::sync::LazyLock;

use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

static REGULAR_DATA: &[u8] = include_bytes!("../fonts/CarebillSans-Regular.ttf");
static BOLD_DATA: &[u8] = include_bytes!("../fonts/CarebillSans-Bold.ttf");

/// Characters whose glyph and advance are looked up once: ASCII, Latin-1 and Latin Extended-A.
const TABLE: usize = 0x180;

/// A face: krilla's font for drawing, and what layout needs to measure.
pub(crate) struct Face {
    pub font: Font,
    /// (glyph, advance in em) for the characters below `TABLE`; glyph 0 where the font has none.
    table: Vec<(u32, f32)>,
    data: &'static [u8],
    upem: f32,
    /// (glyph, advance) of `?`, for characters the font lacks.
    fallback: (u32, f32),
}

pub(crate) static REGULAR: LazyLock<Face> = LazyLock::new(|| Face::load(REGULAR_DATA));
pub(crate) static BOLD: LazyLock<Face> = LazyLock::new(|| Face::load(BOLD_DATA));

impl Face {
    fn load(data: &'static [u8]) -> Face {
        // Both files are part of this crate, read at build time: they parse, or nothing works.
        #[allow(clippy::expect_used)]
        let font = Font::new(data.into(), 0).expect("the embedded font parses");
        #[allow(clippy::expect_used)]
        let face = FontRef::new(data).expect("the embedded font parses");
        let upem = f32::from(face.metrics(Size::unscaled(), LocationRef::default()).units_per_em);
        let mut me = Face {
            font,
            table: Vec::new(),
            data,
            upem,
            fallback: (0, 0.5),
        };
        me.fallback = me.lookup('?').unwrap_or((0, 0.5));
        me.table = (0..TABLE as u32)
            .map(|c| char::from_u32(c).and_then(|c| me.lookup(c)).unwrap_or((0, 0.0)))
            .collect();
        me
    }

    fn lookup(&self, c: char) -> Option<(u32, f32)> {
        let face = FontRef::new(self.data).ok()?;
        let glyph = face.charmap().map(c)?;
        let advance = face
            .glyph_metrics(Size::unscaled(), LocationRef::default())
            .advance_width(glyph)?;
        Some((glyph.to_u32(), advance / self.upem))
    }

    /// The glyph and advance (in em) for a character, if the font has it.
    fn glyph(&self, c: char) -> Option<(u32, f32)> {
        match self.table.get(c as usize) {
            Some(&(0, _)) => None,
            Some(&found) => Some(found),
            None => self.lookup(c),
        }
    }

    /// The width of a text at a size, in points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| self.glyph(c).unwrap_or(self.fallback).1)
            .sum::<f32>()
            * size
    }

    /// The text as drawn (characters the font lacks become `?`) and its glyphs.
    pub fn shape(&self, text: &str) -> (String, Vec<KrillaGlyph>) {
        let mut drawn = String::with_capacity(text.len());
        let mut glyphs = Vec::with_capacity(text.len());
        for c in text.chars() {
            // Line breaks and tabs never reach here (layout splits on them); any other control
            // character is not text.
            let c = if c.is_control() { ' ' } else { c };
            let (c, (glyph, advance)) = match self.glyph(c) {
                Some(found) => (c, found),
                None => ('?', self.fallback),
            };
            let start = drawn.len();
            drawn.push(c);
            glyphs.push(KrillaGlyph::new(
                GlyphId::new(glyph),
                advance,
                0.0,
                0.0,
                0.0,
                start..drawn.len(),
                None,
            ));
        }
        (drawn, glyphs)
    }
}

/// Splits a text into lines no wider than `width` points (at a word boundary where there is one;
/// a word wider than the line is cut).
pub(crate) fn wrap(face: &Face, text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if face.width(&candidate, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A word longer than the line: cut it where it no longer fits.
            let mut rest = word;
            while face.width(rest, size) > width {
                let mut cut = rest.len();
                for (i, _) in rest.char_indices().skip(1) {
                    if face.width(&rest[..i], size) > width {
                        break;
                    }
                    cut = i;
                }
                if cut == rest.len() {
                    cut = rest.char_indices().nth(1).map_or(rest.len(), |(i, _)| i);
                }
                lines.push(rest[..cut].to_string());
                rest = &rest[cut..];
            }
            line = rest.to_string();
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_text_is_measured_and_a_missing_character_becomes_a_question_mark() {
        let w = REGULAR.width("Statement", 10.0);
        assert!(w > 30.0 && w < 60.0, "{w}");
        assert!(BOLD.width("Statement", 10.0) > w, "bold is wider");
        let (drawn, glyphs) = REGULAR.shape("Año ✓ 5");
        assert_eq!(drawn, "Año ? 5");
        assert_eq!(glyphs.len(), 7);
        assert!(
            glyphs.iter().all(|g| g.glyph_id.to_u32() != 0),
            "every glyph is a real one"
        );
    }

    #[test]
    fn wrapping_keeps_every_word_and_fits_the_width() {
        let text =
            "Office visit, established patient, moderate complexity, with an extraordinarilylongwordthatdoesnotfit";
        let lines = wrap(&REGULAR, text, 10.0, 120.0);
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| REGULAR.width(l, 10.0) <= 120.0), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
    }
}
