//! Lays documents out on US Letter pages and writes them as tagged PDF (PDF/UA-1, checked by
//! krilla's validator): every piece of text is in the structure tree in reading order (title,
//! headings, paragraphs, tables with header cells, a figure with its alternative text), and
//! everything else (rules, the footer, a table header repeated on the next page) is an artifact.
//!
//! A document is a list of [`Block`]s; [`render`] places them top to bottom and starts a new page
//! when the next one (or a table's next row) does not fit.

use krilla::Document;
use krilla::color::rgb;
use krilla::configure::{Accessibility, ConfigurationBuilder, Validator};
use krilla::destination::XyzDestination;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::outline::{Outline, OutlineNode};
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule};
use krilla::surface::Surface;
use krilla::tagging::{
    Artifact, ArtifactType, ContentTag, Identifier, Node, SpanTag, TableHeaderScope, Tag, TagGroup, TagTree,
};
use std::num::{NonZeroU16, NonZeroU32};

use crate::Error;
use crate::font::{BOLD, Face, REGULAR, wrap};

/// US Letter, in points.
pub(crate) const PAGE_WIDTH: f32 = 612.0;
const PAGE_HEIGHT: f32 = 792.0;
/// Three-quarter-inch margins.
const MARGIN: f32 = 54.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
const BOTTOM: f32 = PAGE_HEIGHT - MARGIN - 18.0;

const BODY: f32 = 10.0;
const SMALL: f32 = 8.5;
/// Table cells.
const CELL: f32 = 9.0;
const TITLE: f32 = 18.0;
const HEADING: f32 = 12.5;
const LEADING: f32 = 1.3;
const CELL_PAD: f32 = 4.0;

const INK: (u8, u8, u8) = (0x1a, 0x1a, 0x1a);
const MUTED: (u8, u8, u8) = (0x4a, 0x4a, 0x4a);
const RULE: (u8, u8, u8) = (0x9a, 0x9a, 0x9a);
const BAR: (u8, u8, u8) = (0x1d, 0x5f, 0x9e);

/// A piece of a document.
pub(crate) enum Block {
    /// The document's title (H1); also its first outline entry.
    Title(String),
    /// A section heading (H2), in the outline.
    Heading(String),
    /// A paragraph, wrapped to the page.
    Para(String),
    /// A smaller, quieter paragraph (notes, the plan's contact line).
    Note(String),
    /// Label and value pairs: a two-column table whose first column is row headers.
    Facts(Vec<(String, String)>),
    Table(Table),
    /// Bars with an alternative text; the same figures are in a table next to it.
    Chart(Chart),
}

pub(crate) struct Column {
    pub title: String,
    /// Share of the content width.
    pub share: f32,
    /// Right-aligned (amounts).
    pub right: bool,
}

impl Column {
    pub fn left(title: impl Into<String>, share: f32) -> Column {
        Column {
            title: title.into(),
            share,
            right: false,
        }
    }
    pub fn right(title: impl Into<String>, share: f32) -> Column {
        Column {
            title: title.into(),
            share,
            right: true,
        }
    }
}

pub(crate) struct Table {
    pub columns: Vec<Column>,
    /// Cells; an empty cell widens the one before it (a column span), so every cell a reader
    /// meets has text.
    pub rows: Vec<Vec<String>>,
    /// A last row in bold (totals), in the table's footer.
    pub total: Option<Vec<String>>,
}

pub(crate) struct Chart {
    pub alt: String,
    /// (label, value): bar heights are proportional to the values; the figures themselves are in
    /// the data table beside the chart, never only here.
    pub bars: Vec<(String, f64)>,
}

/// What a document says about itself.
pub(crate) struct Meta<'a> {
    pub title: &'a str,
    /// BCP 47: `en-US` or `es-US`.
    pub lang: &'a str,
    /// At the foot of every page, with the page number.
    pub footer: &'a str,
    /// "Page" in the document's language.
    pub page_word: &'a str,
}

fn fill(surface: &mut Surface, (r, g, b): (u8, u8, u8)) {
    surface.set_fill(Some(Fill {
        paint: rgb::Color::new(r, g, b).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }));
}

/// Draws one line of text marked as `tag`.
fn line(surface: &mut Surface, tag: ContentTag, face: &Face, size: f32, at: Point, s: &str) -> Identifier {
    let (drawn, glyphs) = face.shape(s);
    let id = surface.start_tagged(tag);
    surface.draw_glyphs(at, &glyphs, face.font.clone(), &drawn, size, false);
    surface.end_tagged();
    id
}

/// Draws one line of text as a tagged span, to be placed in the structure tree.
fn text(surface: &mut Surface, face: &Face, size: f32, x: f32, baseline: f32, s: &str) -> Identifier {
    let span = ContentTag::Span(SpanTag::empty());
    line(surface, span, face, size, Point::from_xy(x, baseline), s)
}

/// Draws one line of text that is not content (the footer, a repeated table header, the chart's
/// month labels).
fn artifact_text(surface: &mut Surface, kind: ArtifactType, face: &Face, size: f32, x: f32, baseline: f32, s: &str) {
    let artifact = ContentTag::Artifact(Artifact::new(kind, None));
    line(surface, artifact, face, size, Point::from_xy(x, baseline), s);
}

/// A filled rectangle that is decoration (rules).
fn rule(surface: &mut Surface, x: f32, y: f32, w: f32, h: f32) {
    let Some(rect) = Rect::from_xywh(x, y, w, h) else {
        return;
    };
    let mut pb = PathBuilder::new();
    pb.push_rect(rect);
    let Some(path) = pb.finish() else { return };
    surface.start_tagged(ContentTag::Artifact(Artifact::new(ArtifactType::Layout, None)));
    fill(surface, RULE);
    surface.draw_path(&path);
    fill(surface, INK);
    surface.end_tagged();
}

fn line_height(size: f32) -> f32 {
    size * LEADING
}

/// A table as built across pages: its header row (tagged once), its rows and its total.
struct TableTags {
    head: Option<TagGroup>,
    body: TagGroup,
    foot: Option<TagGroup>,
}

/// What a block has put in the structure tree so far.
enum Built {
    Nothing,
    Group(TagGroup),
    Table(TableTags),
}

/// Where rendering is: the block, and the row within a table or facts block.
#[derive(Default)]
struct Cursor {
    block: usize,
    row: usize,
}

struct Pager {
    y: f32,
    page: usize,
    /// The page has something on it (a block that does not fit goes to the next page only then).
    used: bool,
    outline: Vec<OutlineNode>,
}

/// Lays out and writes a document.
pub(crate) fn render(meta: &Meta, blocks: &[Block]) -> Result<Vec<u8>, Error> {
    let configuration = ConfigurationBuilder::new()
        .set_validator(Validator::Ua(Accessibility::UA1))
        .finish()
        .map_err(|e| Error::Pdf(format!("{e:?}")))?;
    let settings = krilla::SerializeSettings {
        configuration,
        enable_tagging: true,
        ..Default::default()
    };
    let mut document = Document::new_with(settings);
    let mut built: Vec<Built> = blocks.iter().map(|_| Built::Nothing).collect();
    let mut cursor = Cursor::default();
    let mut pager = Pager {
        y: MARGIN,
        page: 0,
        used: false,
        outline: Vec::new(),
    };
    while cursor.block < blocks.len() {
        #[allow(clippy::unwrap_used)] // Letter is a valid page size.
        let mut page = document.start_page_with(PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).unwrap());
        let mut surface = page.surface();
        fill(&mut surface, INK);
        pager.y = MARGIN;
        pager.used = false;
        let footer = format!("{}  ·  {} {}", meta.footer, meta.page_word, pager.page + 1);
        artifact_text(
            &mut surface,
            ArtifactType::PaginationOther,
            &REGULAR,
            SMALL,
            MARGIN,
            PAGE_HEIGHT - MARGIN + 6.0,
            &footer,
        );
        while let Some(block) = blocks.get(cursor.block) {
            let done = pager.place(&mut surface, block, &mut built[cursor.block], &mut cursor.row);
            if !done {
                break;
            }
            cursor.block += 1;
            cursor.row = 0;
            pager.y += BODY * 0.6;
        }
        surface.finish();
        page.finish();
        pager.page += 1;
    }

    let mut tree = TagTree::new().with_lang(Some(meta.lang.to_string()));
    for b in built {
        match b {
            Built::Nothing => {}
            Built::Group(g) => tree.push(g),
            Built::Table(t) => {
                let mut table = TagGroup::new(Tag::Table);
                if let Some(head) = t.head {
                    table.push(head);
                }
                table.push(t.body);
                if let Some(foot) = t.foot {
                    table.push(foot);
                }
                tree.push(table);
            }
        }
    }
    document.set_tag_tree(tree);
    let mut outline = Outline::new();
    for node in pager.outline {
        outline.push_child(node);
    }
    document.set_outline(outline);
    document.set_metadata(
        Metadata::new()
            .title(meta.title.to_string())
            .language(meta.lang.to_string())
            .creator("Carebill".to_string()),
    );
    document.finish().map_err(|e| Error::Pdf(format!("{e:?}")))
}

impl Pager {
    fn fits(&self, height: f32) -> bool {
        !self.used || self.y + height <= BOTTOM
    }

    /// Places (the rest of) a block on the page; false when the page is full first.
    fn place(&mut self, s: &mut Surface, block: &Block, built: &mut Built, row: &mut usize) -> bool {
        match block {
            Block::Title(t) | Block::Heading(t) => {
                let (size, level) = match block {
                    Block::Title(_) => (TITLE, 1),
                    _ => (HEADING, 2),
                };
                let lines = wrap(&BOLD, t, size, CONTENT_WIDTH);
                let h = lines.len() as f32 * line_height(size) + 4.0;
                // A heading is never the last thing on a page.
                if !self.fits(h + 6.0 * line_height(BODY)) {
                    return false;
                }
                self.outline.push(OutlineNode::new(
                    t.clone(),
                    XyzDestination::new(self.page, Point::from_xy(MARGIN, self.y)),
                ));
                #[allow(clippy::unwrap_used)] // 1 and 2 are not zero.
                let mut group = TagGroup::new(Tag::Hn(NonZeroU16::new(level).unwrap(), Some(t.clone())));
                for l in lines {
                    self.y += size;
                    group.push(text(s, &BOLD, size, MARGIN, self.y, &l));
                    self.y += line_height(size) - size;
                }
                self.y += 4.0;
                *built = Built::Group(group);
                self.used = true;
                true
            }
            Block::Para(t) | Block::Note(t) => {
                let size = if matches!(block, Block::Note(_)) { SMALL } else { BODY };
                let lines = wrap(&REGULAR, t, size, CONTENT_WIDTH);
                let group = match built {
                    Built::Group(g) => g,
                    _ => {
                        *built = Built::Group(TagGroup::new(Tag::P));
                        let Built::Group(g) = built else { unreachable!() };
                        g
                    }
                };
                if matches!(block, Block::Note(_)) {
                    fill(s, MUTED);
                }
                while *row < lines.len() {
                    if !self.fits(line_height(size)) {
                        fill(s, INK);
                        return false;
                    }
                    self.y += size;
                    group.push(text(s, &REGULAR, size, MARGIN, self.y, &lines[*row]));
                    self.y += line_height(size) - size;
                    self.used = true;
                    *row += 1;
                }
                fill(s, INK);
                true
            }
            Block::Facts(facts) => {
                let label_width = 150.0;
                let group = match built {
                    Built::Group(g) => g,
                    _ => {
                        *built = Built::Group(TagGroup::new(Tag::Table));
                        let Built::Group(g) = built else { unreachable!() };
                        g
                    }
                };
                while let Some((label, value)) = facts.get(*row) {
                    let lines = wrap(&BOLD, value, BODY, CONTENT_WIDTH - label_width);
                    let labels = wrap(&REGULAR, label, BODY, label_width - 8.0);
                    let h = lines.len().max(labels.len()) as f32 * line_height(BODY);
                    if !self.fits(h) {
                        return false;
                    }
                    let top = self.y;
                    let mut tr = TagGroup::new(Tag::TR);
                    let mut th = TagGroup::new(Tag::TH(TableHeaderScope::Row));
                    fill(s, MUTED);
                    for (i, l) in labels.iter().enumerate() {
                        let baseline = top + BODY + i as f32 * line_height(BODY);
                        th.push(text(s, &REGULAR, BODY, MARGIN, baseline, l));
                    }
                    fill(s, INK);
                    let mut td = TagGroup::new(Tag::TD);
                    for (i, l) in lines.iter().enumerate() {
                        let baseline = top + BODY + i as f32 * line_height(BODY);
                        td.push(text(s, &BOLD, BODY, MARGIN + label_width, baseline, l));
                    }
                    tr.push(th);
                    tr.push(td);
                    group.push(tr);
                    self.y = top + h;
                    self.used = true;
                    *row += 1;
                }
                true
            }
            Block::Table(table) => self.table(s, table, built, row),
            Block::Chart(chart) => {
                let h = 130.0;
                if !self.fits(h) {
                    return false;
                }
                let top = self.y;
                let base = top + h - line_height(SMALL) - 2.0;
                let max = chart.bars.iter().map(|b| b.1).fold(0.0_f64, f64::max);
                let slot = CONTENT_WIDTH / chart.bars.len().max(1) as f32;
                let id = s.start_tagged(ContentTag::Other);
                fill(s, BAR);
                for (i, (_, value)) in chart.bars.iter().enumerate() {
                    let bar_h = if max > 0.0 {
                        (value / max) as f32 * (h - 30.0)
                    } else {
                        0.0
                    };
                    if bar_h <= 0.0 {
                        continue;
                    }
                    let x = MARGIN + i as f32 * slot + slot * 0.2;
                    if let Some(rect) = Rect::from_xywh(x, base - bar_h, slot * 0.6, bar_h) {
                        let mut pb = PathBuilder::new();
                        pb.push_rect(rect);
                        if let Some(path) = pb.finish() {
                            s.draw_path(&path);
                        }
                    }
                }
                fill(s, INK);
                s.end_tagged();
                // The axis labels are part of the figure's picture; the alternative text and the
                // data table say what they say.
                for (i, (label, _)) in chart.bars.iter().enumerate() {
                    let x = MARGIN + i as f32 * slot + (slot - REGULAR.width(label, SMALL)) / 2.0;
                    artifact_text(s, ArtifactType::Layout, &REGULAR, SMALL, x, base + SMALL + 2.0, label);
                }
                rule(s, MARGIN, base, CONTENT_WIDTH, 0.6);
                let mut figure = TagGroup::new(Tag::Figure(Some(chart.alt.clone())));
                figure.push(id);
                *built = Built::Group(figure);
                self.y = top + h;
                self.used = true;
                true
            }
        }
    }

    fn table(&mut self, s: &mut Surface, table: &Table, built: &mut Built, row: &mut usize) -> bool {
        let widths: Vec<f32> = table.columns.iter().map(|c| c.share * CONTENT_WIDTH).collect();
        let header_lines: Vec<Vec<String>> = table
            .columns
            .iter()
            .zip(&widths)
            .map(|(c, w)| wrap(&BOLD, &c.title, SMALL, w - 2.0 * CELL_PAD))
            .collect();
        let header_h = header_lines.iter().map(Vec::len).max().unwrap_or(1) as f32 * line_height(SMALL) + CELL_PAD;
        let first_row_h = table
            .rows
            .get(*row)
            .map_or(line_height(CELL), |r| self.row_height(r, &widths, &REGULAR));
        if !self.fits(header_h + first_row_h + CELL_PAD) {
            return false;
        }
        let first_time = matches!(built, Built::Nothing);
        if first_time {
            *built = Built::Table(TableTags {
                head: None,
                body: TagGroup::new(Tag::TBody),
                foot: None,
            });
        }
        let Built::Table(tags) = built else { return true };

        // The header row: tagged where the table starts, an artifact where it continues.
        let top = self.y;
        let mut tr = TagGroup::new(Tag::TR);
        fill(s, MUTED);
        for ((column, lines), (x, w)) in table.columns.iter().zip(&header_lines).zip(self.columns(&widths)) {
            let mut th = TagGroup::new(Tag::TH(TableHeaderScope::Column));
            for (i, l) in lines.iter().enumerate() {
                let baseline = top + SMALL + i as f32 * line_height(SMALL);
                let lx = if column.right {
                    x + w - CELL_PAD - BOLD.width(l, SMALL)
                } else {
                    x + CELL_PAD
                };
                if first_time {
                    th.push(text(s, &BOLD, SMALL, lx, baseline, l));
                } else {
                    artifact_text(s, ArtifactType::PaginationOther, &BOLD, SMALL, lx, baseline, l);
                }
            }
            tr.push(th);
        }
        fill(s, INK);
        if first_time {
            let mut head = TagGroup::new(Tag::THead);
            head.push(tr);
            tags.head = Some(head);
        }
        self.y = top + header_h;
        rule(s, MARGIN, self.y - 2.0, CONTENT_WIDTH, 0.8);
        self.used = true;

        while let Some(cells) = table.rows.get(*row) {
            let h = self.row_height(cells, &widths, &REGULAR);
            if self.y + h > BOTTOM {
                return false;
            }
            let tr = self.row(s, cells, &table.columns, &widths, &REGULAR);
            tags.body.push(tr);
            rule(s, MARGIN, self.y - 1.0, CONTENT_WIDTH, 0.3);
            *row += 1;
        }
        if let Some(total) = &table.total {
            let h = self.row_height(total, &widths, &BOLD) + 2.0;
            if self.y + h > BOTTOM {
                return false;
            }
            self.y += 2.0;
            let tr = self.row(s, total, &table.columns, &widths, &BOLD);
            let mut foot = TagGroup::new(Tag::TFoot);
            foot.push(tr);
            tags.foot = Some(foot);
        }
        true
    }

    fn columns(&self, widths: &[f32]) -> Vec<(f32, f32)> {
        let mut x = MARGIN;
        widths
            .iter()
            .map(|w| {
                let at = (x, *w);
                x += w;
                at
            })
            .collect()
    }

    fn row_height(&self, cells: &[String], widths: &[f32], face: &Face) -> f32 {
        let lines = spans(cells, widths)
            .iter()
            .map(|(cell, _, w)| wrap(face, cell, CELL, w - 2.0 * CELL_PAD).len())
            .max()
            .unwrap_or(1);
        lines as f32 * line_height(CELL) + CELL_PAD
    }

    fn row(&mut self, s: &mut Surface, cells: &[String], columns: &[Column], widths: &[f32], face: &Face) -> TagGroup {
        let top = self.y;
        let mut tr = TagGroup::new(Tag::TR);
        let mut tallest = 1;
        let mut x = MARGIN;
        let mut column = 0;
        for (cell, span, w) in spans(cells, widths) {
            let right = columns.get(column).is_some_and(|c| c.right);
            let lines = wrap(face, cell, CELL, w - 2.0 * CELL_PAD);
            tallest = tallest.max(lines.len());
            let mut td = Tag::TD;
            if span > 1 {
                td.set_col_span(NonZeroU32::new(span as u32));
            }
            let mut td = TagGroup::new(td);
            for (i, l) in lines.iter().enumerate() {
                let baseline = top + CELL + i as f32 * line_height(CELL);
                let lx = if right {
                    x + w - CELL_PAD - face.width(l, CELL)
                } else {
                    x + CELL_PAD
                };
                td.push(Node::from(text(s, face, CELL, lx, baseline, l)));
            }
            tr.push(td);
            x += w;
            column += span;
        }
        self.y = top + tallest as f32 * line_height(CELL) + CELL_PAD;
        tr
    }
}

/// A row's cells with their column spans and widths: an empty cell joins the one before it.
fn spans<'a>(cells: &'a [String], widths: &[f32]) -> Vec<(&'a str, usize, f32)> {
    let mut out: Vec<(&str, usize, f32)> = Vec::new();
    for (cell, w) in cells.iter().zip(widths) {
        match out.last_mut() {
            Some(last) if cell.trim().is_empty() => {
                last.1 += 1;
                last.2 += w;
            }
            _ => out.push((cell.as_str(), 1, *w)),
        }
    }
    out
}
