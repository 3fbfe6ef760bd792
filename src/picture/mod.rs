//! `--picture`: a conversation drawn as a timeline, from the records `--trace` prints.
//!
//! Textbooks explain TCP's byte stream with a drawing: the sender's writes on one side, the
//! receiver's reads on the other, the bytes flowing between. This module draws that drawing from a
//! real run, as one self-contained SVG file (no script, no fonts or files of its own, fit to embed
//! in Markdown), readable at its natural size on a classroom projector:
//!
//! - one lane per party (`sender`, `proxy`, `receiver`, ...), in the order they first spoke;
//! - each `send` and `recv` a box, labelled with its number and size and cut into the pieces of
//!   the messages its bytes belong to: the sender's writes, or the frames of a framed protocol
//!   with the length header and the JSON header drawn as such (hatched); every piece carries its
//!   message's number, so colour is never the only cue;
//! - a band from each piece of a write to the read that got it, so that two writes landing in one
//!   read (merged, 粘包) or one write spread over several reads (split) show at a glance;
//! - a last column, "what the program got": each read of a naive receiver judged ✓ or ✗ against
//!   the messages sent, or a brace over the reads that make each message of a framed one; and the
//!   verdict in words in the panel's title and in the picture's `<desc>`.
//!
//! Time goes down, as *order*, not seconds: a box sits one row below the previous call of its
//! party, and below every write whose bytes it read (a Lamport clock). The same conversation
//! therefore gives the same picture on any machine, which is what lets the walkthrough's pictures
//! be checked for being up to date. Runs of equal calls are folded into one box, and a panel
//! stops at [`layout::MAX_ROWS`] rows, so that a picture stays about 1,200 x 800 pixels.
//!
//! Every box carries its byte range (`data-stream`, `data-from`, `data-to`) so that a test can
//! read back which bytes each call moved; a box of several calls says how many (`data-calls`).

mod cli;
mod judge;
mod layout;
mod order;
mod pieces;
mod ruler;
pub mod svg;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::io;
use std::path::Path;

pub use cli::{draw_record_files, svg_file, DrawError};
pub use judge::Verdict;

use crate::recording::{program_of, Direction, Recording, LANE_SEPARATOR};
use judge::{judge, Got};
use layout::{Item, Layout};
use pieces::{piece_text, piece_widths, Colour, Piece, PATTERNS};
use ruler::{rulers, Ruler, RULER_H};

/// Widest a picture is meant to be: a 1,024-pixel projector, less the browser's edges.
const MAX_W: f64 = 1000.0;
const MARGIN: f64 = 16.0;
/// Widest the two-line label left of each box is given (`recv #3` over `1,024 B`); a panel whose
/// labels are shorter gives them less.
const LABEL_W: f64 = 90.0;
/// Room between two lanes, where the bands run.
const LANE_GAP: f64 = 48.0;
/// Room between two lanes of one program (a proxy's two sockets), where its relay bands run.
const PAIR_GAP: f64 = 32.0;
/// The "what the program got" column.
const GOT_W: f64 = 230.0;
/// The same column when the lanes need the room (a proxy's two lanes): its lines in two rows
/// of the small font.
const NARROW_GOT_W: f64 = 134.0;
const MIN_BOX_W: f64 = 120.0;
/// Narrowest a box gets when four lanes share the width.
const NARROW_BOX_W: f64 = 90.0;
/// The second heading line: a lane's name within its program (`↔ sender`).
const SUBHEADING_H: f64 = 14.0;
const MAX_BOX_W: f64 = 420.0;
/// One row of the timeline.
const ROW_H: f64 = 28.0;
const BOX_H: f64 = 24.0;
/// Tallest a picture is meant to be: panels with many rows are folded to fit.
const MAX_H: f64 = 800.0;
/// Height of a panel without its rows (title, lane names, room below), and of a picture
/// without its panels (caption, legend), roughly: to decide how many rows fit.
const PANEL_CHROME_H: f64 = 90.0;
const PICTURE_CHROME_H: f64 = 160.0;
/// Width of one character of the 14px monospace font, to decide what fits.
const CHAR_W: f64 = 8.5;
/// Width of one character of the 12px font.
const SMALL_CHAR_W: f64 = 7.3;
/// Width of one character of the 16px bold caption and the 15px bold title.
const CAPTION_CHAR_W: f64 = 9.8;
const TITLE_CHAR_W: f64 = 9.2;
const LINE_H: f64 = 22.0;
/// Most bands drawn in one panel.
const MAX_BANDS: usize = 3_000;
/// Narrowest a picture is drawn, so that the legend has room.
const MIN_W: f64 = 760.0;

/// One recording with a title, drawn as one panel of a picture.
pub struct Panel<'a> {
    pub title: String,
    pub recording: &'a Recording,
}

/// One recording as a picture, captioned with the recording's caption.
pub fn render(recording: &Recording) -> String {
    render_panels(
        &recording.caption,
        &[Panel {
            title: String::new(),
            recording,
        }],
    )
}

/// What a panel is judged to be (see [`Verdict`]), for a caller that wants to say it in words too.
pub fn verdict(recording: &Recording) -> Option<Verdict> {
    let layout = Layout::new(recording, layout::MAX_ROWS);
    judge(&layout).map(|judged| judged.verdict)
}

/// Several recordings under one caption (the naive and the framed receiver of one scenario),
/// side by side when they fit in [`MAX_W`], else one above the other.
pub fn render_panels(caption: &str, panels: &[Panel]) -> String {
    let mut drawn: Vec<Drawn> = panels
        .iter()
        .map(|p| Drawn::new(p, layout::MAX_ROWS))
        .collect();
    // One above the other, the panels share [`MAX_H`]: fold the rows of those that need more.
    let rows: usize = drawn.iter().map(|d| d.layout.rows).sum();
    let chrome: f64 = drawn
        .iter()
        .map(|d| {
            let sub_h = if d.two_line_heading() {
                SUBHEADING_H
            } else {
                0.0
            };
            PANEL_CHROME_H + sub_h + RULER_H * d.rulers.len() as f64
        })
        .sum();
    let room = MAX_H - PICTURE_CHROME_H - chrome;
    let fit = (room / ROW_H).floor().max(0.0) as usize;
    if drawn.len() > 1 && rows > fit {
        let each = fit / drawn.len();
        let spare: usize = drawn
            .iter()
            .map(|d| each.saturating_sub(d.layout.rows))
            .sum();
        let big = drawn.iter().filter(|d| d.layout.rows > each).count().max(1);
        drawn = panels
            .iter()
            .map(|p| Drawn::new(p, each + spare / big))
            .collect();
    } else if rows > fit {
        drawn = panels.iter().map(|p| Drawn::new(p, fit)).collect();
    }
    let gap = 24.0;
    let side_by_side_w: f64 =
        drawn.iter().map(|d| d.width).sum::<f64>() + gap * (drawn.len().max(1) - 1) as f64;
    let side_by_side = side_by_side_w + 2.0 * MARGIN <= MAX_W;
    let widest = drawn.iter().map(|d| d.width).fold(0.0, f64::max);
    let content_w = if side_by_side { side_by_side_w } else { widest };
    let width = (content_w + 2.0 * MARGIN).max(MIN_W).ceil();
    let caption_lines = wrap(caption, ((width - 2.0 * MARGIN) / CAPTION_CHAR_W) as usize);
    let top = MARGIN + caption_lines.len() as f64 * LINE_H + 8.0;
    let mut body = String::new();
    let mut used = Used::default();
    let (mut x, mut y, mut bottom) = (MARGIN, top, top);
    for d in &drawn {
        let h = d.draw(&mut body, x, y, &mut used);
        bottom = bottom.max(y + h);
        if side_by_side {
            x += d.width + gap;
        } else {
            y += h + gap;
        }
    }
    let mut legend_out = String::new();
    let legend_h = legend(&mut legend_out, &used, bottom + 12.0, width);
    let height = (bottom + 12.0 + legend_h + MARGIN).ceil();
    let verdicts: Vec<String> = drawn
        .iter()
        .filter_map(|d| {
            let words = d.verdict.as_ref()?.words();
            Some(if d.title.is_empty() {
                words
            } else {
                format!("{}: {words}", d.title)
            })
        })
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">"##
    );
    let _ = writeln!(
        out,
        "<title>{}</title>\n<desc>{}</desc>",
        svg::text(caption),
        svg::text(&verdicts.join(" | "))
    );
    out.push_str(STYLE);
    out.push_str(PATTERNS);
    out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    for (i, line) in caption_lines.iter().enumerate() {
        let _ = writeln!(
            out,
            r##"<text x="{MARGIN}" y="{:.1}" class="caption">{}</text>"##,
            MARGIN + 14.0 + i as f64 * LINE_H,
            svg::text(line)
        );
    }
    out.push_str(&body);
    out.push_str(&legend_out);
    out.push_str("</svg>\n");
    out
}

/// Writes a picture to `file`, creating its folder if needed.
pub fn save(file: &Path, svg: &str) -> io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(file, svg)
}

/// No text under 12 pixels: the pictures are projected.
const STYLE: &str = r##"<style>
.caption { font-size: 16px; font-weight: bold; }
.title { font-size: 15px; font-weight: bold; }
.party { font-size: 14px; font-weight: bold; text-anchor: middle; }
.label { font-size: 12px; fill: #444444; text-anchor: end; }
.note { font-size: 12px; fill: #444444; }
.num { font-size: 12px; font-weight: bold; }
.ok { fill: #117733; }
.bad { fill: #BB2200; }
.band { fill: none; stroke-width: 2.5; stroke-opacity: 0.75; }
.box { fill: none; stroke: #333333; stroke-width: 1; }
.lane { stroke: #BBBBBB; stroke-dasharray: 3 3; }
.relay { fill: none; stroke-width: 2.5; stroke-opacity: 0.75; stroke-dasharray: 6 3; }
</style>
"##;

/// Splits `text` into lines of at most `columns` characters, at spaces where it can.
fn wrap(text: &str, columns: usize) -> Vec<String> {
    let columns = columns.max(10);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let fits = line.chars().count() + 1 + word.chars().count() <= columns;
        if !line.is_empty() && !fits {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > columns {
            let head: String = line.chars().take(columns).collect();
            let tail: String = line.chars().skip(columns).collect();
            lines.push(head);
            line = tail;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// What the legend has to explain: only what some panel drew.
#[derive(Default)]
struct Used {
    /// Message number → its first bytes.
    messages: BTreeMap<usize, String>,
    length: bool,
    json: bool,
    unknown: bool,
    bands: bool,
    judged: bool,
    rulers: bool,
    relays: bool,
}

impl Used {
    fn note(&mut self, colour: Colour, text: &str) {
        match colour {
            Colour::Message(m) | Colour::Handshake(m, _) => {
                let entry = self.messages.entry(m).or_default();
                if entry.is_empty() {
                    *entry = text.to_string();
                }
            }
            Colour::Json(_) => self.json = true,
            Colour::Length => self.length = true,
            Colour::Unknown => self.unknown = true,
        }
    }
}

/// Draws the legend at `y`; returns its height.
fn legend(out: &mut String, used: &Used, y: f64, width: f64) -> f64 {
    let mut entries: Vec<(Colour, String)> = used
        .messages
        .iter()
        .map(|(&m, text)| {
            let shown = svg::fit(text, 14).unwrap_or_default();
            (Colour::Message(m), format!("{} {shown}", m + 1))
        })
        .collect();
    if used.length {
        entries.push((Colour::Length, "4-byte length header".into()));
    }
    if used.json {
        entries.push((Colour::Json(0), "JSON header".into()));
    }
    if used.unknown {
        entries.push((Colour::Unknown, "writer not in this picture".into()));
    }
    out.push_str(r##"<g class="legend">"##);
    let (mut x, mut row_y) = (MARGIN, y);
    let _ = write!(
        out,
        r##"<text x="{x:.1}" y="{:.1}" class="note">messages:</text>"##,
        row_y + 12.0
    );
    x += 10.0 * SMALL_CHAR_W;
    for (colour, label) in &entries {
        let w = 26.0 + label.chars().count() as f64 * SMALL_CHAR_W + 14.0;
        if x + w > width - MARGIN {
            x = MARGIN + 10.0 * SMALL_CHAR_W;
            row_y += 20.0;
        }
        let fill = match colour {
            Colour::Json(_) => pieces::JSON_FILL,
            other => other.fill(),
        };
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="{row_y:.1}" width="20" height="15" fill="{fill}" stroke="#333333" stroke-width="0.5"/><text x="{:.1}" y="{:.1}" class="note">{}</text>"##,
            x + 26.0,
            row_y + 12.0,
            svg::text(label)
        );
        x += w;
    }
    let mut notes = vec![
        "A box is one send() or recv(), its bytes in stream order; equal calls in a row fold into one box. Time goes down, as order of calls.".to_string(),
    ];
    match (used.bands, used.rulers) {
        (true, true) => notes.push("A band joins a write's bytes to the read that got them. Rulers: each stream to scale, writes cut above, reads below.".into()),
        (true, false) => notes.push("A band joins each piece of a write to the read that got it.".into()),
        (false, true) => notes.push("Rulers: each stream's bytes to scale, from 0; the writer's cuts above, the reader's below.".into()),
        (false, false) => {}
    }
    if used.relays {
        notes.push(
            "A dashed band joins a proxy's read to the writes that pass its bytes on.".into(),
        );
    }
    if used.judged {
        notes.push("✓/✗: was what the program took for a message exactly one message sent?".into());
    }
    let columns = ((width - 2.0 * MARGIN) / SMALL_CHAR_W) as usize;
    row_y += 22.0;
    for line in notes.iter().flat_map(|n| wrap(n, columns)) {
        let _ = write!(
            out,
            r##"<text x="{MARGIN}" y="{:.1}" class="note">{}</text>"##,
            row_y + 12.0,
            svg::text(&line)
        );
        row_y += 17.0;
    }
    out.push_str("</g>\n");
    row_y - y
}

/// A panel, laid out and judged, ready to draw.
struct Drawn<'a> {
    title: String,
    layout: Layout<'a>,
    got: Vec<Got>,
    verdict: Option<Verdict>,
    rulers: Vec<Ruler>,
    label_w: f64,
    box_w: f64,
    /// The "what the program got" column's width (0 without a verdict), and whether it is the
    /// narrow one.
    got_w: f64,
    narrow_got: bool,
    width: f64,
}

impl<'a> Drawn<'a> {
    fn new(panel: &Panel<'a>, max_rows: usize) -> Drawn<'a> {
        let layout = Layout::new(panel.recording, max_rows);
        let (got, verdict, rulers) = match judge(&layout) {
            Some(judged) => {
                let rulers = rulers(&layout, &judged.streams);
                (judged.got, Some(judged.verdict), rulers)
            }
            None => (Vec::new(), None, Vec::new()),
        };
        let n = layout.lanes.len().max(1);
        let label_w = label_width(&layout);
        let gaps: f64 = (1..n).map(|lane| gap_before(&layout.lanes, lane)).sum();
        let fit = |got_w: f64| ((MAX_W - 2.0 * MARGIN - got_w - gaps) / n as f64 - label_w).floor();
        let (got_w, narrow_got) = match verdict {
            None => (0.0, false),
            Some(_) if fit(GOT_W) >= MIN_BOX_W => (GOT_W, false),
            Some(_) => (NARROW_GOT_W, true),
        };
        let box_w = fit(got_w).clamp(NARROW_BOX_W, MAX_BOX_W);
        let width = n as f64 * (label_w + box_w) + gaps + got_w;
        Drawn {
            title: panel.title.clone(),
            layout,
            got,
            verdict,
            rulers,
            label_w,
            box_w,
            got_w,
            narrow_got,
            width,
        }
    }

    fn lane_x(&self, x: f64, lane: usize) -> f64 {
        let gaps: f64 = (1..=lane).map(|l| gap_before(&self.layout.lanes, l)).sum();
        x + lane as f64 * (self.label_w + self.box_w) + gaps
    }

    fn box_x(&self, x: f64, lane: usize) -> f64 {
        self.lane_x(x, lane) + self.label_w
    }

    /// Where the "what the program got" column starts.
    fn got_x(&self, x: f64) -> f64 {
        let last = self.layout.lanes.len().saturating_sub(1);
        self.box_x(x, last) + self.box_w + 16.0
    }

    /// Where the lanes' own names (`↔ sender`) go.
    fn own_names_at(&self) -> OwnNames {
        let named: Vec<usize> = self
            .heading_groups()
            .into_iter()
            .filter(|(first, last)| first < last)
            .flat_map(|(first, last)| first..=last)
            .collect();
        let row_0_free = !self
            .layout
            .items
            .iter()
            .any(|item| item.row == 0 && named.contains(&item.lane));
        if named.is_empty() || self.own_names_inline() {
            OwnNames::Inline
        } else if row_0_free {
            OwnNames::FirstRow
        } else {
            OwnNames::SecondLine
        }
    }

    fn two_line_heading(&self) -> bool {
        self.own_names_at() == OwnNames::SecondLine
    }

    /// Do the lanes' own names fit beside their program's name, left and right of it?
    fn own_names_inline(&self) -> bool {
        !self.heading_groups().iter().any(|&(first, last)| {
            if first == last {
                return false;
            }
            let (program_l, program_r) = self.program_span(0.0, first, last);
            (first..=last).any(|lane| {
                let (l, r) = self.own_span(0.0, lane);
                l < program_r + 4.0 && program_l - 4.0 < r && r > l
            })
        })
    }

    /// The runs of neighbouring lanes that share their program's name, as (first, last) lane:
    /// lanes of one program that each have a name of their own (a proxy's `↔ sender` and
    /// `↔ receiver`). Any other lane is a run of its own, headed by its whole name (`server`,
    /// `server · data`).
    fn heading_groups(&self) -> Vec<(usize, usize)> {
        let lanes = &self.layout.lanes;
        let program = |lane: usize| lanes.get(lane).map(|l| program_of(l));
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for lane in 0..lanes.len() {
            let joins = |group: &(usize, usize)| {
                program(group.1) == program(lane)
                    && !self.own_name(group.1).is_empty()
                    && !self.own_name(lane).is_empty()
            };
            match groups.last_mut() {
                Some(group) if joins(group) => group.1 = lane,
                _ => groups.push((lane, lane)),
            }
        }
        groups
    }

    fn mid(&self, x: f64, lane: usize) -> f64 {
        self.box_x(x, lane) + self.box_w / 2.0
    }

    /// Where the program's name of lanes `first..=last` goes, centred over them: (left, right).
    fn program_span(&self, x: f64, first: usize, last: usize) -> (f64, f64) {
        let name = self.layout.lanes.get(first).map_or("", |l| program_of(l));
        let centre = (self.mid(x, first) + self.mid(x, last)) / 2.0;
        let half = name.chars().count() as f64 * CHAR_W / 2.0;
        (centre - half, centre + half)
    }

    /// Where a lane's own name (`↔ sender`) goes, centred over its box: (left, right); empty for
    /// a lane without one.
    fn own_span(&self, x: f64, lane: usize) -> (f64, f64) {
        let mid = self.mid(x, lane);
        let half = self.own_name(lane).chars().count() as f64 * SMALL_CHAR_W / 2.0;
        (mid - half, mid + half)
    }

    /// A lane's name within its program: `↔ sender` for `proxy · ↔ sender`, "" for `proxy`.
    fn own_name(&self, lane: usize) -> &str {
        self.layout
            .lanes
            .get(lane)
            .and_then(|n| n.split_once(LANE_SEPARATOR))
            .map_or("", |(_, own)| own)
    }

    /// Left of an item's label: where a band coming from the left ends, close to its box but
    /// clear of the label's words.
    fn label_left(&self, x: f64, item: &Item) -> f64 {
        let (what, size) = call_label(item);
        let chars = what.chars().count().max(size.chars().count());
        let left = self.box_x(x, item.lane) - 10.0 - chars as f64 * SMALL_CHAR_W;
        left.max(self.lane_x(x, item.lane))
    }

    fn box_y(&self, item: &Item, top: f64) -> f64 {
        top + item.row as f64 * ROW_H
    }

    /// Draws the panel with its top left corner at (x, y); returns its height.
    fn draw(&self, out: &mut String, x: f64, y: f64, used: &mut Used) -> f64 {
        let mut y_at = y;
        let verdict = self.verdict.as_ref().map(|v| (v.ok(), v.words()));
        let title_line =
            |out: &mut String, y_at: f64, title: &str, verdict: Option<&(bool, String)>| {
                let _ = write!(
                    out,
                    r##"<text x="{x:.1}" y="{:.1}" class="title">{}"##,
                    y_at + 16.0,
                    svg::text(title)
                );
                if let Some((ok, words)) = verdict {
                    let class = if *ok { "ok" } else { "bad" };
                    let _ = write!(
                        out,
                        r##"<tspan class="{class}">{}</tspan>"##,
                        svg::text(words)
                    );
                }
                out.push_str("</text>\n");
            };
        let with_verdict = match &verdict {
            Some((_, words)) if !self.title.is_empty() => {
                (self.title.chars().count() + 3 + words.chars().count()) as f64 * TITLE_CHAR_W
                    <= self.width
            }
            _ => true,
        };
        match (&verdict, self.title.is_empty()) {
            (None, true) => {}
            (None, false) => {
                title_line(out, y_at, &self.title, None);
                y_at += 26.0;
            }
            (Some(v), true) => {
                title_line(out, y_at, "", Some(v));
                y_at += 26.0;
            }
            (Some(v), false) if with_verdict => {
                title_line(out, y_at, &format!("{} · ", self.title), Some(v));
                y_at += 26.0;
            }
            (Some(v), false) => {
                title_line(out, y_at, &self.title, None);
                title_line(out, y_at + 22.0, "", Some(v));
                y_at += 48.0;
            }
        }
        let _ = writeln!(
            out,
            r##"<g class="panel" data-title="{}" data-verdict="{}">"##,
            svg::attr(&self.title),
            svg::attr(&verdict.as_ref().map(|v| v.1.clone()).unwrap_or_default())
        );
        let _ = writeln!(
            out,
            r##"<text x="{x:.1}" y="{:.1}" class="note">↓ time</text>"##,
            y_at + 16.0
        );
        let sub_h = if self.two_line_heading() {
            SUBHEADING_H
        } else {
            0.0
        };
        let top = y_at + 26.0 + sub_h;
        let rows_h = self.layout.rows as f64 * ROW_H;
        self.draw_headings(out, x, y_at, top);
        if self.verdict.is_some() {
            let gx = self.got_x(x);
            let heading = if self.narrow_got {
                "what it got"
            } else {
                "what the program got"
            };
            let _ = writeln!(
                out,
                r##"<text x="{gx:.1}" y="{:.1}" class="party" style="text-anchor: start">{heading}</text>"##,
                y_at + 16.0
            );
        }
        used.bands |= self.draw_bands(out, x, top);
        used.relays |= self.draw_relays(out, x, top);
        used.judged |= self.verdict.is_some();
        used.rulers |= !self.rulers.is_empty();
        for item in &self.layout.items {
            self.draw_item(out, item, x, top, used);
        }
        for (row, heading) in &self.layout.headings {
            // A server's connections one after another: a rule and the client's address above each.
            let hy = top + *row as f64 * ROW_H;
            let _ = writeln!(
                out,
                r##"<g class="connection"><line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333333" stroke-dasharray="6 3"/><text x="{x:.1}" y="{:.1}" class="party" style="text-anchor: start">{}</text></g>"##,
                hy + 4.0,
                x + self.width,
                hy + 4.0,
                hy + 21.0,
                svg::text(heading)
            );
        }
        self.draw_got(out, x, top);
        let mut ruler_y = top + rows_h + 10.0;
        let ruler_w = self.width - self.got_w;
        for ruler in &self.rulers {
            ruler.draw(out, &self.layout, x, ruler_y, ruler_w);
            ruler_y += RULER_H;
        }
        out.push_str("</g>\n");
        ruler_y + 4.0 - y
    }

    /// Each lane's name over its box, and its dashed line down. The lanes of one program (a
    /// proxy's two sockets) share their program's name, centred over them, with each lane's own
    /// name (`↔ sender`) beside it, or below it when it does not fit there.
    fn draw_headings(&self, out: &mut String, x: f64, y_at: f64, top: f64) {
        let rows_h = self.layout.rows as f64 * ROW_H;
        // A proxy's lanes are empty in the first row (it reads what another wrote first): its
        // names go there when they do not fit beside the program's.
        let at = self.own_names_at();
        let own_y = match at {
            OwnNames::Inline => y_at + 15.0,
            OwnNames::FirstRow => top + 15.0,
            OwnNames::SecondLine => y_at + 16.0 + SUBHEADING_H,
        };
        for (first, last) in self.heading_groups() {
            let (l, r) = self.program_span(x, first, last);
            let whole = self.layout.lanes.get(first).map_or("", String::as_str);
            let _ = writeln!(
                out,
                r##"<text x="{:.1}" y="{:.1}" class="party">{}</text>"##,
                if first == last {
                    self.mid(x, first)
                } else {
                    (l + r) / 2.0
                },
                y_at + 16.0,
                svg::text(if first == last {
                    whole
                } else {
                    program_of(whole)
                })
            );
            for lane in first..=last {
                let m = self.mid(x, lane);
                let own = if first == last {
                    ""
                } else {
                    self.own_name(lane)
                };
                if !own.is_empty() {
                    let _ = write!(
                        out,
                        r##"<text x="{m:.1}" y="{own_y:.1}" class="note" style="text-anchor: middle">{}</text>"##,
                        svg::text(own)
                    );
                }
                let line_from = if at == OwnNames::FirstRow && !own.is_empty() {
                    top + 20.0
                } else {
                    top - 4.0
                };
                let _ = writeln!(
                    out,
                    r##"<line x1="{m:.1}" y1="{line_from:.1}" x2="{m:.1}" y2="{:.1}" class="lane"/>"##,
                    top + rows_h
                );
            }
        }
    }

    fn draw_item(&self, out: &mut String, item: &Item, x: f64, top: f64, used: &mut Used) {
        let bx = self.box_x(x, item.lane);
        let by = self.box_y(item, top);
        let (class, extra) = match item.calls {
            0 => ("peer", String::new()),
            1 => ("call", String::new()),
            n => ("more", format!(r##" data-calls="{n}""##)),
        };
        let _ = write!(
            out,
            r##"<g class="{class}" data-party="{}" data-direction="{}" data-stream="{}" data-from="{}" data-to="{}"{extra}>"##,
            svg::attr(
                &self
                    .layout
                    .lanes
                    .get(item.lane)
                    .cloned()
                    .unwrap_or_default()
            ),
            item.direction.name(),
            self.layout.stream_number(item.stream),
            item.from,
            item.to
        );
        // The kept bytes whole, as a tooltip: the box shows what fits.
        if let Some(record) = item.record.as_ref().filter(|r| !r.preview.is_empty()) {
            let more = if (record.preview.len() as u64) < item.len() {
                "…"
            } else {
                ""
            };
            let _ = write!(
                out,
                "<title>{}{more}</title>",
                svg::text(&crate::escape::escape_bytes(&record.preview))
            );
        }
        let (what, size) = call_label(item);
        let lx = bx - 6.0;
        let _ = write!(
            out,
            r##"<text x="{lx:.1}" y="{:.1}" class="label">{}</text><text x="{lx:.1}" y="{:.1}" class="label">{}</text>"##,
            by + 10.5,
            svg::text(&what),
            by + 22.5,
            svg::text(&size)
        );
        let failed = item.record.as_ref().and_then(|r| r.failed.as_deref());
        if let Some(why) = failed {
            // The connection broke under this call: marked in red, with a cross and words.
            let _ = write!(
                out,
                r##"<rect x="{bx:.1}" y="{by:.1}" width="{:.1}" height="{BOX_H:.1}" fill="#FFFFFF" stroke="#CC3311" stroke-width="2"/><text x="{:.1}" y="{:.1}" fill="#CC3311">✗ {}</text>"##,
                self.box_w,
                bx + 4.0,
                by + 17.0,
                svg::text(why)
            );
        } else if item.len() == 0 && item.calls == 1 {
            let _ = write!(
                out,
                r##"<rect x="{bx:.1}" y="{by:.1}" width="{:.1}" height="{BOX_H:.1}" fill="white" stroke="#999999" stroke-dasharray="2 2"/><text x="{:.1}" y="{:.1}">end of stream</text>"##,
                self.box_w,
                bx + 4.0,
                by + 17.0
            );
        } else if item.calls == 0 {
            // The untraced peer: its bytes as the reads saw them, no calls of its own.
            self.draw_pieces(out, item, bx, by, used);
            let columns = ((self.box_w - 8.0) / CHAR_W) as usize;
            let _ = write!(
                out,
                r##"<rect x="{bx:.1}" y="{by:.1}" width="{:.1}" height="{BOX_H:.1}" fill="white" fill-opacity="0.8" stroke="none"/><text x="{:.1}" y="{:.1}">{}</text>"##,
                self.box_w,
                bx + 4.0,
                by + 17.0,
                svg::text(&svg::fit("its writes are not known", columns).unwrap_or_default())
            );
        } else {
            self.draw_pieces(out, item, bx, by, used);
            if item.record.is_none() {
                let what = match (item.direction, item.calls) {
                    (Direction::Send, 1) => "write",
                    (Direction::Send, _) => "writes",
                    (Direction::Recv, 1) => "read",
                    (Direction::Recv, _) => "reads",
                };
                let text = format!(
                    "… {} more {what} of {}",
                    svg::thousands(item.calls),
                    sizes(item)
                );
                let columns = ((self.box_w - 8.0) / CHAR_W) as usize;
                let _ = write!(
                    out,
                    r##"<rect x="{bx:.1}" y="{by:.1}" width="{:.1}" height="{BOX_H:.1}" fill="white" fill-opacity="0.8" stroke="none"/><text x="{:.1}" y="{:.1}">{}</text>"##,
                    self.box_w,
                    bx + 4.0,
                    by + 17.0,
                    svg::text(&svg::fit(&text, columns).unwrap_or_default())
                );
            }
        }
        let _ = writeln!(
            out,
            r##"<rect x="{bx:.1}" y="{by:.1}" width="{:.1}" height="{BOX_H:.1}" class="box"/></g>"##,
            self.box_w
        );
    }

    /// Draws a box's bytes, cut where the messages they belong to change, each piece with its
    /// message's number and, where it fits, its bytes.
    fn draw_pieces(&self, out: &mut String, item: &Item, bx: f64, by: f64, used: &mut Used) {
        let pieces = self.layout.pieces(item.stream, item.from, item.to);
        let widths = piece_widths(&pieces, self.box_w);
        let format = self.layout.format(self.layout.root(item.stream, 0));
        let mut px = bx;
        for (piece, w) in pieces.iter().zip(widths) {
            let _ = write!(
                out,
                r##"<rect x="{px:.1}" y="{by:.1}" width="{w:.1}" height="{BOX_H:.1}" fill="{}"/>"##,
                piece.colour.fill()
            );
            let text = item
                .record
                .as_ref()
                .map(|record| piece_text(record, piece, format))
                .unwrap_or_default();
            used.note(piece.colour, &text);
            self.piece_label(out, piece, &text, px, by, w);
            px += w;
        }
    }

    /// The message number (bold) and the bytes of a piece, as much as fits.
    fn piece_label(&self, out: &mut String, piece: &Piece, text: &str, px: f64, by: f64, w: f64) {
        let number = piece.colour.message().map(|m| (m + 1).to_string());
        let number_w = number
            .as_ref()
            .map_or(0.0, |n| n.len() as f64 * SMALL_CHAR_W + 4.0);
        let ink = if piece.colour == Colour::Length {
            "white"
        } else {
            "black"
        };
        if w < number_w + 4.0 && piece.colour != Colour::Length {
            return;
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" fill="{ink}">"##,
            px + 3.0,
            by + 17.0
        );
        if let Some(number) = &number {
            let _ = write!(out, r##"<tspan class="num">{number}</tspan> "##);
        }
        let columns = ((w - 6.0 - number_w) / CHAR_W).floor().max(0.0) as usize;
        let shown = match svg::fit(text, columns) {
            // A length header too narrow for its number still says what it is.
            Some(cut) if cut != text && piece.colour == Colour::Length => svg::fit("len", columns),
            shown => shown,
        };
        if let Some(shown) = shown {
            out.push_str(&svg::text(&shown));
        }
        out.push_str("</text>");
    }

    /// One band per piece of a write that a read got. Returns whether any was drawn.
    fn draw_bands(&self, out: &mut String, x: f64, top: f64) -> bool {
        let mut drawn = 0;
        let items = &self.layout.items;
        for write in items.iter().filter(|i| i.direction == Direction::Send) {
            for read in items.iter().filter(|i| {
                i.direction == Direction::Recv && i.stream == write.stream && i.lane != write.lane
            }) {
                let (from, to) = (write.from.max(read.from), write.to.min(read.to));
                if from >= to || drawn >= MAX_BANDS {
                    continue;
                }
                drawn += 1;
                let colour = self
                    .layout
                    .pieces(write.stream, from, from + 1)
                    .first()
                    .map_or(Colour::Unknown, |p| p.colour);
                let mid = from + (to - from) / 2;
                let y1 = self.box_y(write, top) + BOX_H * fraction(write, mid);
                let y2 = self.box_y(read, top) + BOX_H * fraction(read, mid);
                let (x1, x2) = if write.lane < read.lane {
                    (
                        self.box_x(x, write.lane) + self.box_w,
                        self.label_left(x, read),
                    )
                } else {
                    (
                        self.label_left(x, write),
                        self.box_x(x, read.lane) + self.box_w,
                    )
                };
                let bend = (x1 + x2) / 2.0;
                let _ = writeln!(
                    out,
                    r##"<path class="band" data-stream="{}" data-from="{from}" data-to="{to}" stroke="{}" d="M{x1:.1} {y1:.1} C{bend:.1} {y1:.1} {bend:.1} {y2:.1} {x2:.1} {y2:.1}"/>"##,
                    self.layout.stream_number(write.stream),
                    colour.stroke()
                );
            }
        }
        drawn > 0
    }

    /// A proxy's relays: from each of its reads to the writes that forward the same bytes (its
    /// streams are relayed at the same offsets), dashed and coloured by message. Between its two
    /// lanes when each socket has one; a loop right of its boxes when it has one lane (streams
    /// without addresses).
    fn draw_relays(&self, out: &mut String, x: f64, top: f64) -> bool {
        let streams = &self.layout.recording.streams;
        let items = &self.layout.items;
        let program = |lane: usize| self.layout.lanes.get(lane).map(|l| program_of(l));
        let mut drawn = 0;
        for write in items.iter().filter(|i| i.direction == Direction::Send) {
            let Some(source) = streams.get(write.stream).and_then(|s| s.relayed_from) else {
                continue;
            };
            for read in items.iter().filter(|i| {
                i.direction == Direction::Recv
                    && i.stream == source
                    && program(i.lane) == program(write.lane)
                    && i.from < write.to
                    && write.from < i.to
            }) {
                if drawn >= MAX_BANDS {
                    return true;
                }
                drawn += 1;
                let (from, to) = (write.from.max(read.from), write.to.min(read.to));
                let colour = self
                    .layout
                    .pieces(write.stream, from, from + 1)
                    .first()
                    .map_or(Colour::Unknown, |p| p.colour);
                let mid = from + (to - from) / 2;
                let y1 = self.box_y(read, top) + BOX_H * fraction(read, mid);
                let y2 = self.box_y(write, top) + BOX_H * fraction(write, mid);
                let path = if read.lane == write.lane {
                    let right = self.box_x(x, write.lane) + self.box_w;
                    format!(
                        "M{right:.1} {y1:.1} C{:.1} {y1:.1} {:.1} {y2:.1} {right:.1} {y2:.1}",
                        right + 16.0,
                        right + 16.0
                    )
                } else {
                    let (x1, x2) = if read.lane < write.lane {
                        (
                            self.box_x(x, read.lane) + self.box_w,
                            self.label_left(x, write),
                        )
                    } else {
                        (
                            self.label_left(x, read),
                            self.box_x(x, write.lane) + self.box_w,
                        )
                    };
                    let bend = (x1 + x2) / 2.0;
                    format!("M{x1:.1} {y1:.1} C{bend:.1} {y1:.1} {bend:.1} {y2:.1} {x2:.1} {y2:.1}")
                };
                let _ = writeln!(
                    out,
                    r##"<path class="relay" data-stream="{}" data-from="{from}" data-to="{to}" stroke="{}" d="{path}"/>"##,
                    self.layout.stream_number(write.stream),
                    colour.stroke()
                );
            }
        }
        drawn > 0
    }

    /// The "what the program got" column: a line per judged read, a brace per framed message.
    fn draw_got(&self, out: &mut String, x: f64, top: f64) {
        let gx = self.got_x(x);
        let mut by_row: BTreeMap<usize, Vec<&Got>> = BTreeMap::new();
        for got in &self.got {
            by_row.entry(got.row).or_default().push(got);
        }
        let lanes: Vec<usize> = self.got.iter().map(|g| g.lane).collect();
        let several_lanes = lanes.iter().any(|&l| Some(&l) != lanes.first());
        for (row, gots) in by_row {
            let y = top + row as f64 * ROW_H;
            for got in &gots {
                if let Some(from) = got.brace_from {
                    let y1 = top + from as f64 * ROW_H + 2.0;
                    let y2 = y + BOX_H - 2.0;
                    let _ = write!(
                        out,
                        r##"<path d="M{:.1} {y1:.1} h-6 v{:.1} h6" fill="none" stroke="#117733" stroke-width="2"/>"##,
                        gx + 6.0,
                        y2 - y1
                    );
                }
            }
            // Two reads on one row (two parties), or a narrow column: two smaller lines.
            let small = gots.len() > 1 || self.narrow_got;
            let (size, char_w) = if small {
                (" style=\"font-size: 12px\"", SMALL_CHAR_W)
            } else {
                ("", CHAR_W)
            };
            let columns = ((self.got_w - 14.0) / char_w) as usize;
            let mut lines: Vec<(&Got, String)> = Vec::new();
            for got in &gots {
                let text = match self.layout.lanes.get(got.lane) {
                    Some(party) if several_lanes => format!("{party}: {}", got.text),
                    _ => got.text.clone(),
                };
                if gots.len() == 1 && self.narrow_got {
                    // One read in a narrow column: its words over two lines.
                    // `fit` counts a ✓ as two columns.
                    let mut wrapped = wrap(&text, columns.saturating_sub(1)).into_iter();
                    let first = wrapped.next().unwrap_or_default();
                    let rest: Vec<String> = wrapped.collect();
                    lines.push((got, first));
                    if !rest.is_empty() {
                        lines.push((got, rest.join(" ")));
                    }
                } else {
                    lines.push((got, text));
                }
            }
            let ys = if lines.len() > 1 {
                vec![y + 11.0, y + 23.0]
            } else {
                vec![y + 17.0]
            };
            for ((got, text), line_y) in lines.iter().zip(ys) {
                let _ = writeln!(
                    out,
                    r##"<text x="{:.1}" y="{line_y:.1}" class="{}"{size}>{}</text>"##,
                    gx + 12.0,
                    if got.ok { "ok" } else { "bad" },
                    svg::text(&svg::fit(text, columns).unwrap_or_default())
                );
            }
        }
    }
}

/// The two lines left of a box: `recv #3` over `1,024 B`, or `recv #2–10` over `9 × 1 B`.
fn call_label(item: &Item) -> (String, String) {
    let name = item.direction.name();
    if item.calls == 0 {
        return (
            "its bytes".into(),
            format!("{} B read", svg::thousands(item.len())),
        );
    }
    if item.is_failed() {
        // Not counted: the log counts the calls that returned bytes or the end of stream.
        return (format!("{name} failed"), "0 B".into());
    }
    if item.calls == 1 {
        return (
            format!("{name} #{}", item.number),
            format!("{} B", svg::thousands(item.len())),
        );
    }
    let last = item.number.saturating_add(item.calls).saturating_sub(1);
    let size = if item.smallest == item.largest {
        format!(
            "{}×{} B",
            svg::thousands(item.calls),
            svg::thousands(item.largest)
        )
    } else {
        format!("{}×", svg::thousands(item.calls))
    };
    (format!("{name} #{}–{last}", item.number), size)
}

/// Where the names of a program's lanes go (`↔ sender`, `↔ receiver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnNames {
    /// Beside the program's name, on the heading line.
    Inline,
    /// At the top of their lanes, in the first row, which a proxy leaves empty.
    FirstRow,
    /// On a second heading line.
    SecondLine,
}

/// The room between lane `lane` and the one left of it: less between two lanes of one program.
fn gap_before(lanes: &[String], lane: usize) -> f64 {
    let program = |l: usize| lanes.get(l).map(|name| program_of(name));
    if lane > 0 && program(lane) == program(lane - 1) {
        PAIR_GAP
    } else {
        LANE_GAP
    }
}

/// The width the labels left of the boxes need: their longest line, at most [`LABEL_W`].
fn label_width(layout: &Layout) -> f64 {
    let longest = layout
        .items
        .iter()
        .map(|item| {
            let (what, size) = call_label(item);
            what.chars().count().max(size.chars().count())
        })
        .max()
        .unwrap_or(0);
    (longest as f64 * SMALL_CHAR_W + 12.0)
        .clamp(48.0, LABEL_W)
        .ceil()
}

/// `of 1,024 bytes` or `of 1 to 1,024 bytes`.
fn sizes(item: &Item) -> String {
    if item.smallest == item.largest {
        format!("{} bytes", svg::thousands(item.largest))
    } else {
        format!(
            "{} to {} bytes",
            svg::thousands(item.smallest),
            svg::thousands(item.largest)
        )
    }
}

/// Where offset `at` lies in an item's box, from 0.1 (top) to 0.9 (bottom), so that the bands of
/// a split fan out instead of starting from one point.
fn fraction(item: &Item, at: u64) -> f64 {
    let len = item.len().max(1) as f64;
    0.1 + 0.8 * ((at.saturating_sub(item.from)) as f64 / len).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::{MessageFormat, StreamKey};

    fn key() -> StreamKey {
        StreamKey::Unnamed {
            wrapper: 1,
            direction: Direction::Send,
        }
    }

    #[test]
    fn a_merged_read_sits_below_both_writes() {
        let mut r = Recording::default();
        r.add(
            "sender",
            Direction::Send,
            key(),
            MessageFormat::Writes,
            b"hello",
        );
        r.add(
            "sender",
            Direction::Send,
            key(),
            MessageFormat::Writes,
            b"world",
        );
        r.add(
            "receiver",
            Direction::Recv,
            key(),
            MessageFormat::Writes,
            b"helloworld",
        );
        let layout = Layout::new(&r, layout::MAX_ROWS);
        let rows: Vec<usize> = layout.items.iter().map(|i| i.row).collect();
        assert_eq!(rows, vec![0, 1, 2]);
        let svg = render(&r);
        assert_eq!(svg.matches(r##"class="band""##).count(), 2);
    }

    #[test]
    fn a_reset_is_a_marked_row_that_takes_no_call_number() {
        let mut r = Recording::default();
        r.add(
            "client",
            Direction::Recv,
            key(),
            MessageFormat::Writes,
            b"hi",
        );
        r.add_failure("client", Direction::Recv, key(), "reset by peer");
        let svg = render(&r);
        assert!(svg.contains("✗ reset by peer"), "{svg}");
        assert!(svg.contains(">recv failed<"), "{svg}");
        assert!(
            svg.contains(">recv #1<") && !svg.contains(">recv #2<"),
            "{svg}"
        );
        // A reset is not the end of the stream.
        assert!(!svg.contains("end of stream"), "{svg}");
    }

    #[test]
    fn a_servers_clients_one_after_another_get_a_block_each() {
        let tcp = |from: u16, to: u16| StreamKey::Tcp {
            from: std::net::SocketAddr::from(([127, 0, 0, 1], from)),
            to: std::net::SocketAddr::from(([127, 0, 0, 1], to)),
        };
        let mut r = Recording::default();
        for client in [5001, 5002] {
            let w = MessageFormat::Writes;
            r.add("server", Direction::Recv, tcp(client, 9000), w, b"ls");
            r.add("server", Direction::Send, tcp(9000, client), w, b"a b");
        }
        let svg = render(&r);
        assert!(
            svg.contains("connection 1 · client 127.0.0.1:5001"),
            "{svg}"
        );
        assert!(
            svg.contains("connection 2 · client 127.0.0.1:5002"),
            "{svg}"
        );
        // Numbered per connection, as the server's log counts: each block starts at #1.
        assert_eq!(svg.matches(">recv #1<").count(), 2, "{svg}");
        let layout = Layout::new(&r, layout::MAX_ROWS);
        let rows: Vec<usize> = layout.items.iter().map(|i| i.row).collect();
        // The untraced peer's box opens each block.
        assert_eq!(rows, vec![1, 1, 2, 4, 4, 5]);
        assert_eq!(
            layout.headings.iter().map(|h| h.0).collect::<Vec<_>>(),
            vec![0, 3]
        );
    }

    #[test]
    fn a_proxy_has_a_lane_per_socket_and_relay_bands_between_them() {
        let tcp = |from: u16, to: u16| StreamKey::Tcp {
            from: std::net::SocketAddr::from(([127, 0, 0, 1], from)),
            to: std::net::SocketAddr::from(([127, 0, 0, 1], to)),
        };
        let w = MessageFormat::Writes;
        let mut r = Recording::default();
        // sender 5000 → proxy 9109, proxy 5001 → receiver 9009.
        r.relay(tcp(5000, 9109), tcp(5001, 9009));
        r.add("sender", Direction::Send, tcp(5000, 9109), w, b"hello");
        r.add("proxy", Direction::Recv, tcp(5000, 9109), w, b"hello");
        for byte in [&b"h"[..], b"e", b"llo"] {
            r.add("proxy", Direction::Send, tcp(5001, 9009), w, byte);
        }
        r.add("receiver", Direction::Recv, tcp(5001, 9009), w, b"hello");
        let layout = Layout::new(&r, layout::MAX_ROWS);
        assert_eq!(
            layout.lanes,
            vec![
                "sender",
                "proxy · ↔ sender",
                "proxy · ↔ receiver",
                "receiver"
            ]
        );
        let svg = render(&r);
        // One dashed band from the proxy's read to each of the three writes that relay it.
        assert_eq!(svg.matches(r##"<path class="relay""##).count(), 3, "{svg}");
        assert!(
            svg.contains(">proxy</text>") && svg.contains(">↔ receiver<"),
            "{svg}"
        );
        // The proxy's read is not what the program got: only the receiver's is judged.
        assert!(svg.contains("✓ right: 1 message sent"), "{svg}");
        let width: f64 = svg
            .split("width=\"")
            .nth(1)
            .and_then(|w| w.split('"').next())
            .and_then(|w| w.parse().ok())
            .unwrap_or(f64::MAX);
        assert!(width <= MAX_W, "{width}");
    }

    #[test]
    fn a_proxy_whose_sockets_have_no_addresses_keeps_one_lane_with_loops() {
        let unnamed = |wrapper: u64| StreamKey::Unnamed {
            wrapper,
            direction: Direction::Send,
        };
        let w = MessageFormat::Writes;
        let mut r = Recording::default();
        r.relay(unnamed(1), unnamed(2));
        r.add("sender", Direction::Send, unnamed(1), w, b"hi");
        r.add("proxy", Direction::Recv, unnamed(1), w, b"hi");
        r.add("proxy", Direction::Send, unnamed(2), w, b"hi");
        r.add("receiver", Direction::Recv, unnamed(2), w, b"hi");
        let layout = Layout::new(&r, layout::MAX_ROWS);
        assert_eq!(layout.lanes, vec!["sender", "proxy", "receiver"]);
        let svg = render(&r);
        assert_eq!(svg.matches(r##"<path class="relay""##).count(), 1, "{svg}");
        assert!(svg.contains(">proxy</text>"), "{svg}");
    }

    #[test]
    fn a_read_recorded_before_its_write_is_still_drawn_below_it() {
        let mut r = Recording::default();
        r.add(
            "receiver",
            Direction::Recv,
            key(),
            MessageFormat::Writes,
            b"h",
        );
        r.add("proxy", Direction::Send, key(), MessageFormat::Writes, b"h");
        let layout = Layout::new(&r, layout::MAX_ROWS);
        let rows: Vec<(Direction, usize)> =
            layout.items.iter().map(|i| (i.direction, i.row)).collect();
        assert_eq!(rows, vec![(Direction::Send, 0), (Direction::Recv, 1)]);
        assert_eq!(layout.lanes, vec!["proxy", "receiver"]);
    }

    #[test]
    fn bytes_from_an_untraced_peer_come_from_a_lane_of_its_own() {
        let mut r = Recording::default();
        r.add(
            "client",
            Direction::Send,
            key(),
            MessageFormat::Writes,
            b"ls",
        );
        let answers = StreamKey::Unnamed {
            wrapper: 2,
            direction: Direction::Recv,
        };
        r.add(
            "client",
            Direction::Recv,
            answers,
            MessageFormat::Writes,
            b"a\nb",
        );
        r.add(
            "client",
            Direction::Recv,
            answers,
            MessageFormat::Writes,
            b"\n",
        );
        let svg = render(&r);
        assert!(svg.contains(">peer (not traced)<"), "{svg}");
        assert!(
            svg.contains(r##"class="peer" data-party="peer (not traced)" data-direction="send" data-stream="1" data-from="0" data-to="4""##),
            "{svg}"
        );
        assert_eq!(svg.matches(r##"class="band""##).count(), 2);
    }

    proptest::proptest! {
        /// A record file is input like any other: whatever numbers a readable one holds, it is
        /// drawn without a panic.
        #[test]
        fn any_readable_record_file_is_drawn(
            numbers in proptest::collection::vec(
                proptest::prop_oneof![0..40u64, proptest::prelude::Just(u64::MAX), proptest::prelude::Just(u64::MAX / 2)],
                24,
            ),
        ) {
            let n = |i: usize| numbers.get(i).copied().unwrap_or(0);
            // Mostly consistent numbers (so that most files are read), some of them extreme.
            let after = |i: usize, j: usize| n(i).saturating_add(n(j)).saturating_add(1);
            let folded = |party: &str, direction: &str, stream: u8, i: usize| {
                format!(
                    r#"{{"party":"{party}","direction":"{direction}","stream":{stream},"calls":{},"from":{},"to":{},"smallest":{},"largest":{}}}"#,
                    n(i).max(1), n(i + 1), after(i + 1, i + 2), n(i + 3), after(i + 3, i + 4)
                )
            };
            let file = format!(
                r#"{{"kind":"socklab-records","version":1,"caption":"x","streams":[{{"from":null,"to":null,"format":"length-le","parts":[[0,4,"length",0],[4,{},"body",0],[{},{},"length",1]],"relayed_from":null}},{{"from":null,"to":null,"format":"writes","parts":[],"relayed_from":0}}],"records":[{{"party":"a","direction":"send","stream":0,"from":{},"len":{},"preview":"00","micros":0}},{{"party":"b","direction":"recv","stream":{},"from":{},"len":{},"preview":"","micros":{}}},{{"party":"b","direction":"recv","stream":1,"from":{},"len":{},"preview":"","micros":0}}],"folded":[{},{},{}]}}"#,
                after(0, 1).saturating_add(4), after(0, 1).saturating_add(4), after(0, 1).saturating_add(8),
                n(5) % 1000, n(6) % 1000 + 1, n(7) % 2, n(8) % 1000, n(9) % 1000, n(10),
                n(11) % 1000, n(12) % 1000,
                folded("a", "send", 0, 13),
                folded("b", "recv", 1, 18),
                folded("a", "send", 0, 19),
            );
            let read = crate::recording::read_records(file.as_bytes());
            // About a third of the files are read: all of those must be drawn.
            if let Ok(recording) = read {
                let svg = render(&recording);
                proptest::prop_assert!(svg.ends_with("</svg>\n"));
            }
        }
    }

    #[test]
    fn previews_are_escaped() {
        let mut r = Recording::default();
        r.caption = "<&>".into();
        r.add(
            "a<b",
            Direction::Send,
            key(),
            MessageFormat::Writes,
            b"<x>&\x00\xff",
        );
        let svg = render(&r);
        assert!(svg.contains("&lt;&amp;&gt;"));
        assert!(svg.contains("a&lt;b"));
        assert!(svg.contains(r"&lt;x&gt;&amp;\x00\xff"), "{svg}");
    }

    #[test]
    fn the_worst_picture_stays_under_one_mebibyte() {
        // Thousands of tiny frames, read 1024 bytes at a time: every read box is full of pieces.
        let format = MessageFormat::LengthPrefixed(crate::framing::LengthOrder::Little);
        let mut wire = Vec::new();
        for i in 0..20_000u32 {
            let message = format!("<&\"{i}\">");
            wire.extend_from_slice(&(message.len() as u32).to_le_bytes());
            wire.extend_from_slice(message.as_bytes());
        }
        let mut r = Recording::default();
        r.caption = "x".repeat(10_000);
        for piece in wire.chunks(1024) {
            r.add("receiver", Direction::Recv, key(), format, piece);
        }
        for message in wire.chunks(13) {
            r.add("sender", Direction::Send, key(), format, message);
        }
        let svg = render(&r);
        assert!(svg.len() < 1024 * 1024, "{} bytes", svg.len());
        assert!(svg.contains("more writes of"));
    }

    #[test]
    fn widths_fill_the_box() {
        let pieces = [
            Piece {
                from: 0,
                to: 4,
                colour: Colour::Length,
            },
            Piece {
                from: 4,
                to: 5004,
                colour: Colour::Message(0),
            },
        ];
        let widths = piece_widths(&pieces, 100.0);
        assert!((widths.iter().sum::<f64>() - 100.0).abs() < 1e-9);
        assert!(widths[0] >= pieces::MIN_PIECE_W);
    }
}
