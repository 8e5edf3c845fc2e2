//! The fonts printed documents use: DejaVu Sans regular and bold, shipped in
//! `assets/fonts/` under their open licence and embedded in every PDF, so
//! umlauts and ß print the same on every machine. Parsed once per process.

use std::sync::OnceLock;

use printpdf::ParsedFont;

use super::PrintError;

static REGULAR: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

pub struct Fonts {
    /// For measuring text: glyph advances straight from the font tables.
    regular: ttf_parser::Face<'static>,
    bold: ttf_parser::Face<'static>,
    /// For embedding.
    pub regular_pdf: ParsedFont,
    pub bold_pdf: ParsedFont,
}

static FONTS: OnceLock<Result<Fonts, String>> = OnceLock::new();

/// The parsed fonts, loaded on first use.
pub fn get() -> Result<&'static Fonts, PrintError> {
    FONTS
        .get_or_init(load)
        .as_ref()
        .map_err(|e| PrintError::Font(e.clone()))
}

fn load() -> Result<Fonts, String> {
    let face = |bytes: &'static [u8], name: &str| {
        ttf_parser::Face::parse(bytes, 0).map_err(|e| format!("{name}: {e}"))
    };
    let parsed = |bytes: &[u8], name: &str| {
        ParsedFont::from_bytes(bytes, 0, &mut Vec::new())
            .ok_or_else(|| format!("{name}: not a usable TrueType font"))
    };
    Ok(Fonts {
        regular: face(REGULAR, "DejaVuSans.ttf")?,
        bold: face(BOLD, "DejaVuSans-Bold.ttf")?,
        regular_pdf: parsed(REGULAR, "DejaVuSans.ttf")?,
        bold_pdf: parsed(BOLD, "DejaVuSans-Bold.ttf")?,
    })
}

impl Fonts {
    /// Width of `text` at `size` points, from the glyphs' advance widths.
    pub fn measure(&self, text: &str, bold: bool, size: f32) -> f32 {
        let face = if bold { &self.bold } else { &self.regular };
        let units: u32 = text
            .chars()
            .map(|c| {
                let glyph = face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
                u32::from(face.glyph_hor_advance(glyph).unwrap_or(0))
            })
            .sum();
        units as f32 * size / f32::from(face.units_per_em())
    }
}
