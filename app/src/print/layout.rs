//! A small layout engine for printed letters: A4 pages with a header and a
//! "Seite 1 von 2" footer, paragraphs wrapped by the fonts' real glyph
//! advances, checklists with drawn boxes, label/value rows and tables that
//! continue on a new page when the page is full.
//!
//! Coordinates are PDF points from the bottom-left corner of the page; `y` is
//! the top of the free space on the current page and moves down.

use printpdf::{
    Color, Greyscale, Line, LinePoint, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, TextItem,
};

use super::PrintError;
use super::fonts::{self, Fonts};

const MM: f32 = 72.0 / 25.4;
/// A4 in points.
pub const PAGE_WIDTH: f32 = 210.0 * MM;
pub const PAGE_HEIGHT: f32 = 297.0 * MM;
/// Wide enough that a frame drawn half a line outside the text still keeps
/// 20 mm from the paper's edge.
const MARGIN_X: f32 = 24.0 * MM;
const MARGIN_TOP: f32 = 20.0 * MM;
const MARGIN_BOTTOM: f32 = 20.0 * MM;
/// Line height as a multiple of the font size.
const LEADING: f32 = 1.3;
/// Where the baseline sits below the top of a line box, in font sizes
/// (DejaVu Sans' ascender is 0.93 em; the rest of the leading goes above).
const BASELINE: f32 = 1.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

/// What stands before a list item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// An empty box to tick, drawn as a rectangle.
    Checkbox,
    /// A small filled square.
    Bullet,
}

/// One column of a table: its title and its share of the width left after
/// the `fit` columns, which are as wide as their widest cell.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    pub title: &'a str,
    pub share: f32,
    pub fit: bool,
}

impl<'a> Column<'a> {
    /// A column that takes `share` of the remaining width.
    pub fn share(title: &'a str, share: f32) -> Self {
        Column {
            title,
            share,
            fit: false,
        }
    }

    /// A column as wide as its content (case numbers, counts, dates).
    pub fn fit(title: &'a str) -> Self {
        Column {
            title,
            share: 0.0,
            fit: true,
        }
    }
}

/// What every page repeats: the issuer at the top, a label in the footer.
#[derive(Debug, Clone)]
pub struct Frame {
    pub issuer: String,
    pub contact: String,
    pub footer: String,
}

pub struct Layout {
    fonts: &'static Fonts,
    doc: PdfDocument,
    regular: PdfFontHandle,
    bold: PdfFontHandle,
    pages: Vec<Vec<Op>>,
    y: f32,
    /// Body text size in points.
    pub body: f32,
    frame: Frame,
}

impl Layout {
    /// A document with its metadata and a first page; `body` is the body text
    /// size in points.
    pub fn new(title: &str, author: &str, body: f32, frame: Frame) -> Result<Layout, PrintError> {
        let fonts = fonts::get()?;
        let mut doc = PdfDocument::new(title);
        let info = &mut doc.metadata.info;
        info.author = author.to_string();
        info.creator = "Sprechtag".to_string();
        info.producer = "Sprechtag (printpdf)".to_string();
        let now = chrono::Utc::now().timestamp();
        if let Ok(now) = printpdf::OffsetDateTime::from_unix_timestamp(now) {
            info.creation_date = now;
            info.modification_date = now;
            info.metadata_date = now;
        }
        let regular = PdfFontHandle::External(doc.add_font(&fonts.regular_pdf));
        let bold = PdfFontHandle::External(doc.add_font(&fonts.bold_pdf));
        let mut layout = Layout {
            fonts,
            doc,
            regular,
            bold,
            pages: Vec::new(),
            y: 0.0,
            body,
            frame,
        };
        layout.new_page();
        Ok(layout)
    }

    /// The width available for text.
    pub fn text_width(&self) -> f32 {
        PAGE_WIDTH - 2.0 * MARGIN_X
    }

    pub fn left(&self) -> f32 {
        MARGIN_X
    }

    pub fn right(&self) -> f32 {
        PAGE_WIDTH - MARGIN_X
    }

    /// The top of the free space on the current page.
    pub fn y(&self) -> f32 {
        self.y
    }

    fn footer_size(&self) -> f32 {
        (self.body * 0.85).max(12.0).min(self.body)
    }

    /// The lowest point text may reach: above the footer.
    fn bottom(&self) -> f32 {
        MARGIN_BOTTOM + self.footer_size() * LEADING + 8.0
    }

    pub fn line_height(size: f32) -> f32 {
        size * LEADING
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Starts a new page with the header.
    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = PAGE_HEIGHT - MARGIN_TOP;
        // The header stays at 14 pt even in large print: it is read once,
        // and the body below keeps more room.
        let size = self.body.min(14.0);
        let width = self.text_width();
        let issuer = self.frame.issuer.clone();
        let contact = self.frame.contact.clone();
        for line in self.wrap(&issuer, Weight::Bold, size, width) {
            self.line_at(MARGIN_X, &line, Weight::Bold, size);
        }
        for line in self.wrap(&contact, Weight::Regular, size, width) {
            self.line_at(MARGIN_X, &line, Weight::Regular, size);
        }
        self.y -= 4.0;
        let y = self.y;
        self.rule(y, 1.0);
        self.y -= size * 0.9;
    }

    /// Ensures `height` points are free on this page, else starts a new one.
    pub fn ensure(&mut self, height: f32) {
        if self.y - height < self.bottom() {
            self.new_page();
        }
    }

    /// Vertical space; never starts a page by itself.
    pub fn space(&mut self, points: f32) {
        self.y -= points;
    }

    /// Width of `text` in points.
    pub fn measure(&self, text: &str, weight: Weight, size: f32) -> f32 {
        self.fonts.measure(text, weight == Weight::Bold, size)
    }

    /// Breaks `text` into lines no wider than `width`: at spaces, after a
    /// hyphen ("Müller-" / "Lüdenscheidt") when a word does not fit, and
    /// inside a word only when a part alone is too wide. Line breaks in the
    /// text are kept.
    pub fn wrap(&self, text: &str, weight: Weight, size: f32, width: f32) -> Vec<String> {
        let space = self.measure(" ", weight, size);
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            let mut line_width = 0.0;
            for word in paragraph.split_whitespace() {
                for (index, part) in hyphen_parts(word).enumerate() {
                    let part_width = self.measure(part, weight, size);
                    let joiner = if index == 0 && !line.is_empty() {
                        space
                    } else {
                        0.0
                    };
                    if !line.is_empty() {
                        if line_width + joiner + part_width <= width {
                            if joiner > 0.0 {
                                line.push(' ');
                            }
                            line.push_str(part);
                            line_width += joiner + part_width;
                            continue;
                        }
                        lines.push(std::mem::take(&mut line));
                        line_width = 0.0;
                    }
                    if part_width <= width {
                        line.push_str(part);
                        line_width = part_width;
                        continue;
                    }
                    // A part wider than the line: break it where it must.
                    for c in part.chars() {
                        let mut buf = [0u8; 4];
                        let w = self.measure(c.encode_utf8(&mut buf), weight, size);
                        if !line.is_empty() && line_width + w > width {
                            lines.push(std::mem::take(&mut line));
                            line_width = 0.0;
                        }
                        line.push(c);
                        line_width += w;
                    }
                }
            }
            lines.push(line);
        }
        lines
    }

    /// Draws one line of text whose line box starts at `self.y`, and moves
    /// down by one line. No page break: callers ensure space first.
    fn line_at(&mut self, x: f32, text: &str, weight: Weight, size: f32) {
        let baseline = self.y - size * BASELINE;
        self.text(x, baseline, text, weight, size);
        self.y -= size * LEADING;
    }

    /// Draws `text` with its baseline at (x, baseline).
    pub fn text(&mut self, x: f32, baseline: f32, text: &str, weight: Weight, size: f32) {
        if text.is_empty() {
            return;
        }
        let font = match weight {
            Weight::Regular => self.regular.clone(),
            Weight::Bold => self.bold.clone(),
        };
        self.ops().extend([
            Op::StartTextSection,
            Op::SetFont {
                font,
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point {
                    x: Pt(x),
                    y: Pt(baseline),
                },
            },
            Op::ShowText {
                items: vec![TextItem::Text(text.to_string())],
            },
            Op::EndTextSection,
        ]);
    }

    /// A horizontal line across the text width at `y`.
    pub fn rule(&mut self, y: f32, thickness: f32) {
        let (left, right) = (self.left(), self.right());
        self.line(left, y, right, y, thickness);
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, thickness: f32) {
        let point = |x: f32, y: f32| LinePoint {
            p: Point { x: Pt(x), y: Pt(y) },
            bezier: false,
        };
        self.ops().extend([
            Op::SetOutlineThickness { pt: Pt(thickness) },
            Op::DrawLine {
                line: Line {
                    points: vec![point(x1, y1), point(x2, y2)],
                    is_closed: false,
                },
            },
        ]);
    }

    /// A rectangle with its lower-left corner at (x, y).
    pub fn rect(&mut self, x: f32, y: f32, width: f32, height: f32, mode: PaintMode, grey: f32) {
        let colour = Color::Greyscale(Greyscale::new(grey, None));
        self.ops().extend([
            Op::SetFillColor {
                col: colour.clone(),
            },
            Op::SetOutlineColor { col: colour },
            Op::SetOutlineThickness { pt: Pt(1.2) },
            Op::DrawRectangle {
                rectangle: Rect {
                    x: Pt(x),
                    y: Pt(y),
                    width: Pt(width),
                    height: Pt(height),
                    mode: Some(mode),
                    winding_order: None,
                },
            },
            Op::SetFillColor {
                col: Color::Greyscale(Greyscale::new(0.0, None)),
            },
            Op::SetOutlineColor {
                col: Color::Greyscale(Greyscale::new(0.0, None)),
            },
        ]);
    }

    /// The document's title, large and bold.
    pub fn title(&mut self, text: &str) {
        let size = self.body * 1.5;
        let lines = self.wrap(text, Weight::Bold, size, self.text_width());
        self.ensure(Self::line_height(size) * lines.len() as f32);
        for line in lines {
            self.line_at(MARGIN_X, &line, Weight::Bold, size);
        }
        self.space(self.body * 0.5);
    }

    /// A section heading, kept on one page with the two lines after it.
    pub fn heading(&mut self, text: &str) {
        self.heading_keeping(text, 2.0 * Self::line_height(self.body));
    }

    /// A section heading, kept on one page with `keep` points after it.
    fn heading_keeping(&mut self, text: &str, keep: f32) {
        let size = self.body * 1.2;
        self.space(self.body * 0.8);
        let lines = self.wrap(text, Weight::Bold, size, self.text_width());
        let height = Self::line_height(size) * lines.len() as f32;
        self.ensure(height + keep);
        for line in lines {
            self.line_at(MARGIN_X, &line, Weight::Bold, size);
        }
        self.space(self.body * 0.2);
    }

    /// Body text, wrapped, continuing on the next page when needed.
    pub fn paragraph(&mut self, text: &str, weight: Weight) {
        self.paragraph_at(0.0, text, weight, self.body);
    }

    /// Text indented by `indent` points, at `size`.
    pub fn paragraph_at(&mut self, indent: f32, text: &str, weight: Weight, size: f32) {
        let lines = self.wrap(text, weight, size, self.text_width() - indent);
        for line in lines {
            self.ensure(Self::line_height(size));
            self.line_at(MARGIN_X + indent, &line, weight, size);
        }
    }

    /// A list item with a box or bullet before its first line and later lines
    /// aligned with the text.
    pub fn item(&mut self, marker: Marker, text: &str, weight: Weight) {
        let size = self.body;
        let indent = size * 1.6;
        let lines = self.wrap(text, weight, size, self.text_width() - indent);
        let gap = size * 0.25;
        if lines.len() <= 4 {
            // Short items stay in one piece.
            self.ensure(Self::line_height(size) * lines.len() as f32 + gap);
        }
        for (i, line) in lines.iter().enumerate() {
            self.ensure(Self::line_height(size) + gap);
            if i == 0 {
                let baseline = self.y - size * BASELINE;
                match marker {
                    Marker::Checkbox => {
                        let side = size * 0.85;
                        self.rect(
                            MARGIN_X,
                            baseline - size * 0.08,
                            side,
                            side,
                            PaintMode::Stroke,
                            0.0,
                        );
                    }
                    Marker::Bullet => {
                        let side = size * 0.3;
                        self.rect(
                            MARGIN_X + size * 0.25,
                            baseline + size * 0.22,
                            side,
                            side,
                            PaintMode::Fill,
                            0.0,
                        );
                    }
                }
            }
            self.line_at(MARGIN_X + indent, line, weight, size);
        }
        self.space(gap);
    }

    /// Label/value rows: labels bold in a column as wide as the widest label
    /// (at most 40 % of the line), values wrapped beside them.
    pub fn key_values(&mut self, rows: &[(&str, String)]) {
        self.key_values_in(rows, self.text_width());
    }

    /// Like `key_values`, within the left `width` points of the text column.
    pub fn key_values_in(&mut self, rows: &[(&str, String)], width: f32) {
        let size = self.body;
        let gap = size * 0.8;
        let widest = rows
            .iter()
            .map(|(label, _)| self.measure(label, Weight::Bold, size))
            .fold(0.0, f32::max);
        let label_width = widest.min(width * 0.4);
        let value_width = width - label_width - gap;
        for (label, value) in rows {
            let labels = self.wrap(label, Weight::Bold, size, label_width);
            let values = self.wrap(value, Weight::Regular, size, value_width);
            let lines = labels.len().max(values.len());
            self.ensure(Self::line_height(size) * lines.min(4) as f32);
            for i in 0..lines {
                self.ensure(Self::line_height(size));
                let baseline = self.y - size * BASELINE;
                if let Some(label) = labels.get(i) {
                    self.text(MARGIN_X, baseline, label, Weight::Bold, size);
                }
                if let Some(value) = values.get(i) {
                    let x = MARGIN_X + label_width + gap;
                    self.text(x, baseline, value, Weight::Regular, size);
                }
                self.y -= Self::line_height(size);
            }
        }
    }

    /// A heading and a table below it, the heading kept on the page of the
    /// table's first row.
    pub fn table_with_heading(
        &mut self,
        heading: &str,
        columns: &[Column<'_>],
        rows: &[Vec<String>],
        size: f32,
    ) {
        let (widths, padding) = self.column_widths(columns, rows, size);
        let titles: Vec<String> = columns.iter().map(|c| c.title.to_string()).collect();
        let mut keep = self.row_height(&titles, &widths, Weight::Bold, size, padding);
        if let Some(first) = rows.first() {
            keep += self.row_height(first, &widths, Weight::Regular, size, padding);
        }
        self.heading_keeping(heading, keep);
        self.table(columns, rows, size);
    }

    fn row_height(
        &self,
        cells: &[String],
        widths: &[f32],
        weight: Weight,
        size: f32,
        padding: f32,
    ) -> f32 {
        let lines = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| self.wrap(cell, weight, size, width - 2.0 * padding).len())
            .max()
            .unwrap_or(1);
        lines as f32 * Self::line_height(size) + padding
    }

    /// A table whose cells wrap; a row never splits across pages, and the
    /// column titles repeat on every page the table continues on.
    pub fn table(&mut self, columns: &[Column<'_>], rows: &[Vec<String>], size: f32) {
        let (widths, padding) = self.column_widths(columns, rows, size);
        let cell_lines = |layout: &Layout, cells: &[String], weight: Weight| -> Vec<Vec<String>> {
            cells
                .iter()
                .zip(&widths)
                .map(|(cell, width)| layout.wrap(cell, weight, size, width - 2.0 * padding))
                .collect()
        };
        let titles: Vec<String> = columns.iter().map(|c| c.title.to_string()).collect();
        let title_lines = cell_lines(self, &titles, Weight::Bold);
        let row_height = |lines: &[Vec<String>]| {
            let count = lines.iter().map(Vec::len).max().unwrap_or(1);
            count as f32 * Self::line_height(size) + padding
        };
        let title_height = row_height(&title_lines);
        let mut first = true;
        for row in rows {
            let lines = cell_lines(self, row, Weight::Regular);
            let height = row_height(&lines);
            let before = self.pages.len();
            if first {
                self.ensure(title_height + height);
            } else {
                self.ensure(height);
            }
            if first || self.pages.len() != before {
                self.table_row(&title_lines, &widths, Weight::Bold, size, padding);
                let y = self.y;
                self.rule(y, 0.8);
                first = false;
            }
            self.table_row(&lines, &widths, Weight::Regular, size, padding);
            let y = self.y;
            self.ops().push(Op::SetOutlineColor {
                col: Color::Greyscale(Greyscale::new(0.6, None)),
            });
            self.rule(y, 0.4);
            self.ops().push(Op::SetOutlineColor {
                col: Color::Greyscale(Greyscale::new(0.0, None)),
            });
        }
    }

    /// Column widths in points, and the cell padding.
    fn column_widths(
        &self,
        columns: &[Column<'_>],
        rows: &[Vec<String>],
        size: f32,
    ) -> (Vec<f32>, f32) {
        let padding = size * 0.35;
        let natural = |index: usize, title: &str| {
            rows.iter()
                .filter_map(|row| row.get(index))
                .map(|cell| self.measure(cell, Weight::Regular, size))
                .fold(self.measure(title, Weight::Bold, size), f32::max)
                + 2.0 * padding
                + 1.0
        };
        let mut widths: Vec<f32> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if c.fit {
                    natural(i, c.title).min(self.text_width() * 0.3)
                } else {
                    0.0
                }
            })
            .collect();
        // Share columns are at least as wide as their longest word (or part
        // of a hyphenated word), so that words break inside only when the
        // table cannot be made to fit otherwise.
        let longest_word = |index: usize| {
            rows.iter()
                .filter_map(|row| row.get(index))
                .flat_map(|cell| cell.split_whitespace().flat_map(hyphen_parts))
                .map(|part| self.measure(part, Weight::Regular, size))
                .fold(0.0, f32::max)
                + 2.0 * padding
                + 1.0
        };
        let mut free = self.text_width() - widths.iter().sum::<f32>();
        let mut open: Vec<usize> = (0..columns.len()).filter(|&i| !columns[i].fit).collect();
        loop {
            let shares: f32 = open.iter().map(|&i| columns[i].share).sum();
            if shares <= 0.0 {
                break;
            }
            for &i in &open {
                widths[i] = free * columns[i].share / shares;
            }
            let Some(position) = open.iter().position(|&i| widths[i] < longest_word(i)) else {
                break;
            };
            let i = open.remove(position);
            widths[i] = longest_word(i).min(self.text_width() * 0.45).min(free);
            free -= widths[i];
        }
        (widths, padding)
    }

    fn table_row(
        &mut self,
        lines: &[Vec<String>],
        widths: &[f32],
        weight: Weight,
        size: f32,
        padding: f32,
    ) {
        let top = self.y - padding / 2.0;
        let mut x = MARGIN_X;
        let mut count = 1;
        for (cell, width) in lines.iter().zip(widths) {
            for (i, line) in cell.iter().enumerate() {
                let baseline = top - i as f32 * Self::line_height(size) - size * BASELINE;
                self.text(x + padding, baseline, line, weight, size);
            }
            count = count.max(cell.len());
            x += width;
        }
        self.y = top - count as f32 * Self::line_height(size) - padding / 2.0;
    }

    /// Draws the QR code of `data` with its top-right corner at (right, top).
    pub fn qr_code(
        &mut self,
        data: &str,
        right: f32,
        top: f32,
        side: f32,
    ) -> Result<(), PrintError> {
        let ops = super::qr::ops(data, right - side, top - side, side)?;
        self.ops().extend(ops);
        Ok(())
    }

    /// Starts a framed block (see `frame_since`): returns where it starts
    /// and leaves room for the frame's top edge.
    pub fn frame_start(&mut self) -> (usize, f32) {
        let start = (self.page_index(), self.y);
        self.space(self.body * 0.4);
        start
    }

    /// A frame drawn around the lines from `top` down to the current
    /// position, if both are on the same page (`page` as from `page_index`).
    pub fn frame_since(&mut self, page: usize, top: f32) {
        if page != self.page_index() {
            return;
        }
        let pad = self.body * 0.5;
        let bottom = self.y - pad * 0.5;
        self.rect(
            MARGIN_X - pad,
            bottom,
            self.text_width() + 2.0 * pad,
            top - bottom,
            PaintMode::Stroke,
            0.0,
        );
        self.y = bottom - pad;
    }

    pub fn page_index(&self) -> usize {
        self.pages.len().saturating_sub(1)
    }

    /// Adds the footers ("Seite 1 von 2") and serialises the PDF.
    pub fn finish(mut self) -> Result<Vec<u8>, PrintError> {
        let total = self.pages.len();
        let size = self.footer_size();
        let label = self.frame.footer.clone();
        let mut pages = Vec::with_capacity(total);
        for (index, ops) in std::mem::take(&mut self.pages).into_iter().enumerate() {
            self.pages.push(ops);
            let page = format!("Seite {} von {total}", index + 1);
            let page_width = self.measure(&page, Weight::Regular, size);
            let right = self.right();
            let label_lines = self.wrap(
                &label,
                Weight::Regular,
                size,
                self.text_width() - page_width - size,
            );
            let baseline = MARGIN_BOTTOM;
            self.text(right - page_width, baseline, &page, Weight::Regular, size);
            if let Some(first) = label_lines.first() {
                self.text(MARGIN_X, baseline, first, Weight::Regular, size);
            }
            self.rule(baseline + size * LEADING, 0.5);
            let ops = self.pages.pop().unwrap_or_default();
            pages.push(PdfPage::new(printpdf::Mm(210.0), printpdf::Mm(297.0), ops));
        }
        let mut warnings = Vec::new();
        let bytes = self
            .doc
            .with_pages(pages)
            .save(&PdfSaveOptions::default(), &mut warnings);
        if bytes.is_empty() {
            return Err(PrintError::Pdf(format!("{warnings:?}")));
        }
        Ok(bytes)
    }
}

/// A word split after each hyphen that is followed by a letter: "Müller-" +
/// "Lüdenscheidt", but "KMR-0042" stays whole.
fn hyphen_parts(word: &str) -> impl Iterator<Item = &str> {
    let mut breaks: Vec<usize> = word
        .char_indices()
        .filter(|&(i, c)| {
            c == '-'
                && i > 0
                && word[i + 1..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphabetic)
        })
        .map(|(i, _)| i + 1)
        .collect();
    breaks.push(word.len());
    let mut start = 0;
    breaks.into_iter().map(move |end| {
        let part = &word[start..end];
        start = end;
        part
    })
}

#[cfg(test)]
mod tests {
    use super::{Frame, Layout, Weight, hyphen_parts};

    #[test]
    fn wrapped_lines_fit_the_width_and_keep_every_character() {
        let frame = Frame {
            issuer: "Landkreis".into(),
            contact: String::new(),
            footer: String::new(),
        };
        let layout = Layout::new("t", "a", 14.0, frame).expect("fonts load");
        let text = "Einkommen der letzten 12 Monate (Lohnabrechnungen oder Rentenbescheid) \
                    Hohenzollern-Sigmaringen-Müller-Lüdenscheidt-Großkopf \
                    Grundstücksverkehrsgenehmigungszuständigkeitsübertragungsverordnung";
        for width in [60.0, 120.0, 250.0, 470.0] {
            let lines = layout.wrap(text, Weight::Regular, 14.0, width);
            for line in &lines {
                let measured = layout.measure(line, Weight::Regular, 14.0);
                assert!(measured <= width + 0.01, "{line:?} is {measured} > {width}");
            }
            let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            assert_eq!(strip(&lines.concat()), strip(text), "at width {width}");
        }
    }

    #[test]
    fn words_break_after_hyphens_before_letters_only() {
        let parts = |w| hyphen_parts(w).collect::<Vec<_>>();
        assert_eq!(parts("Müller-Lüdenscheidt"), ["Müller-", "Lüdenscheidt"]);
        assert_eq!(parts("KMR-0042"), ["KMR-0042"]);
        assert_eq!(parts("-"), ["-"]);
        assert_eq!(parts("a-b-"), ["a-", "b-"]);
    }
}
