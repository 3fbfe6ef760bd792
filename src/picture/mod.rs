//! `--picture`: a conversation drawn as a timeline, from the records `--trace` prints.
//!
//! Textbooks explain TCP's byte stream with a drawing: the sender's writes on one side, the
//! receiver's reads on the other, the bytes flowing between. This module draws that drawing from a
//! real run, as one self-contained SVG file (no script, no fonts or files of its own, fit to embed
//! in Markdown):
//!
//! - one lane per party (`sender`, `proxy`, `receiver`, ...), in the order they first spoke;
//! - each `send` and `recv` a box, cut into the pieces of the messages its bytes belong to: the
//!   sender's writes, or the frames of a framed protocol with the length header and the JSON header
//!   drawn as such; a short preview where it fits;
//! - a thin band from each piece of a write to the read that got it, so that two writes landing in
//!   one read (merged, 粘包) or one write spread over several reads (split) show at a glance.
//!
//! Time goes down, as *order*, not seconds: a box sits one row below the previous call of its
//! party, and below every write whose bytes it read (a Lamport clock). The same conversation
//! therefore gives the same picture on any machine, which is what lets the walkthrough's pictures
//! be checked for being up to date.
//!
//! Every box carries its byte range (`data-stream`, `data-from`, `data-to`) so that a test can
//! read back which bytes each call moved. Past [`crate::recording::KEPT_CALLS`] calls a party's
//! remaining calls are one summary box ("… 1,257 more reads of 1,024 bytes") with `data-calls`.

mod cli;
mod order;
mod pieces;
pub mod svg;

use std::fmt::Write;
use std::io;
use std::path::Path;

use crate::recording::{Direction, Folded, PartKind, Record, Recording};
pub use cli::svg_file;
use order::{place, rank_by_first};
use pieces::{
    fill_gaps, piece_text, piece_widths, push_overlap, Colour, Piece, FILLS, JSON_FILL,
    LENGTH_FILL, UNKNOWN_FILL,
};

/// Width of a lane's boxes.
const LANE_W: f64 = 250.0;
/// Room between two lanes, where the bands run.
const LANE_GAP: f64 = 110.0;
/// Room between the panels of a side-by-side picture.
const PANEL_GAP: f64 = 70.0;
const MARGIN: f64 = 16.0;
/// One row of the timeline: a small label line, then the box.
const ROW_H: f64 = 34.0;
const LABEL_H: f64 = 11.0;
const BOX_H: f64 = 19.0;
/// Width of one character of the 11px monospace font, roughly, to decide what fits.
const CHAR_W: f64 = 6.7;
/// Most bands drawn in one panel.
const MAX_BANDS: usize = 3_000;

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

/// Several recordings side by side (the naive and the framed receiver of one scenario), under
/// one caption.
pub fn render_panels(caption: &str, panels: &[Panel]) -> String {
    let layouts: Vec<Layout> = panels.iter().map(|p| Layout::new(p.recording)).collect();
    let has_titles = panels.iter().any(|p| !p.title.is_empty());
    let top = MARGIN + 26.0 + if has_titles { 22.0 } else { 0.0 } + 24.0;
    let mut body = String::new();
    let mut x = MARGIN + 22.0;
    let mut bottom = top;
    for (panel, layout) in panels.iter().zip(&layouts) {
        if has_titles {
            let _ = write!(
                body,
                r##"<text x="{x:.1}" y="{:.1}" class="title">{}</text>"##,
                MARGIN + 44.0,
                svg::text(&panel.title)
            );
            body.push('\n');
        }
        // One group per panel: a test reads each panel's byte ranges on their own.
        let _ = writeln!(
            body,
            r##"<g class="panel" data-title="{}">"##,
            svg::attr(&panel.title)
        );
        layout.draw(&mut body, x, top);
        body.push_str("</g>\n");
        x += layout.width() + PANEL_GAP;
        bottom = bottom.max(top + layout.height());
    }
    let caption_w = caption.chars().count() as f64 * CAPTION_CHAR_W;
    let width = (x - PANEL_GAP + MARGIN)
        .max(LEGEND_W + 2.0 * MARGIN)
        .max(caption_w + 2.0 * MARGIN);
    let mut out = String::new();
    let height = bottom + LEGEND_H + MARGIN;
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="11">"##
    );
    out.push_str(STYLE);
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="white"/>
<text x="{MARGIN}" y="{:.1}" class="caption">{}</text>"##,
        MARGIN + 12.0,
        svg::text(caption)
    );
    let _ = writeln!(
        out,
        r##"<text x="{MARGIN}" y="{:.1}" class="note" transform="rotate(90 {MARGIN} {:.1})">time (order of calls) →</text>"##,
        top + 4.0,
        top + 4.0
    );
    out.push_str(&body);
    legend(&mut out, bottom + 10.0);
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

const STYLE: &str = r##"<style>
.caption { font-size: 13px; font-weight: bold; }
.title { font-size: 12px; font-weight: bold; }
.party { font-size: 12px; font-weight: bold; text-anchor: middle; }
.label { font-size: 9px; fill: #555555; }
.note { font-size: 10px; fill: #555555; }
.band { fill: none; stroke-width: 2; stroke-opacity: 0.6; }
.box { fill: none; stroke: #333333; stroke-width: 1; }
.lane { stroke: #cccccc; stroke-dasharray: 3 3; }
</style>
"##;

/// Width of the legend's longest line (about 120 characters of the 10px font).
const LEGEND_W: f64 = 760.0;
/// Width of one character of the 13px bold caption, roughly.
const CAPTION_CHAR_W: f64 = 8.0;
const LEGEND_H: f64 = 58.0;

fn legend(out: &mut String, y: f64) {
    let mut x = MARGIN;
    let mut swatch = |out: &mut String, fill: &str, label: &str| {
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="{y:.1}" width="14" height="11" fill="{fill}" stroke="#333333" stroke-width="0.5"/><text x="{:.1}" y="{:.1}" class="note">{label}</text>"##,
            x + 18.0,
            y + 9.5
        );
        x += 28.0 + label.len() as f64 * 6.2;
    };
    out.push_str(r##"<g class="legend">"##);
    for (i, fill) in FILLS.iter().enumerate().take(3) {
        swatch(out, fill, &format!("message {}", i + 1));
    }
    swatch(out, LENGTH_FILL, "4-byte length header");
    swatch(out, JSON_FILL, "JSON header");
    swatch(out, UNKNOWN_FILL, "writer not in this picture");
    let _ = write!(
        out,
        r##"<text x="{MARGIN}" y="{:.1}" class="note">Each box is one send() or recv() call, its bytes in stream order. A line joins each piece of a write to the read that got it:</text><text x="{MARGIN}" y="{:.1}" class="note">two lines into one read = merged (粘包), one write fanning out to several reads = split. Rows are the order of calls, not seconds.</text>"##,
        y + 28.0,
        y + 42.0
    );
    out.push_str("</g>\n");
}

/// A box of the timeline: one call, or the calls folded past the limit.
struct Item<'a> {
    lane: usize,
    direction: Direction,
    stream: usize,
    from: u64,
    to: u64,
    row: usize,
    what: What<'a>,
}

enum What<'a> {
    Call(&'a Record),
    Folded(&'a Folded),
}

impl Item<'_> {
    fn len(&self) -> u64 {
        self.to - self.from
    }
}

/// Where everything of one recording goes.
struct Layout<'a> {
    recording: &'a Recording,
    lanes: Vec<String>,
    items: Vec<Item<'a>>,
    rows: usize,
    /// Stream index in the recording → number in the picture.
    stream_numbers: Vec<usize>,
}

impl<'a> Layout<'a> {
    fn new(recording: &'a Recording) -> Layout<'a> {
        let mut lanes: Vec<String> = Vec::new();
        let mut lane_of = |party: &str| match lanes.iter().position(|l| l == party) {
            Some(i) => i,
            None => {
                lanes.push(party.to_string());
                lanes.len() - 1
            }
        };
        let mut items: Vec<Item> = Vec::new();
        for record in &recording.records {
            items.push(Item {
                lane: lane_of(&record.party),
                direction: record.direction,
                stream: record.stream,
                from: record.from,
                to: record.to(),
                row: 0,
                what: What::Call(record),
            });
        }
        for folded in &recording.folded {
            items.push(Item {
                lane: lane_of(&folded.party),
                direction: folded.direction,
                stream: folded.stream,
                from: folded.from,
                to: folded.to,
                row: 0,
                what: What::Folded(folded),
            });
        }
        let rows = place(&mut items);
        // Lanes left to right and streams by number in the order they first act in the picture,
        // not in the order threads happened to record them: the same run, the same picture.
        let lane_rank = rank_by_first(&items, lanes.len(), |item| (item.lane, (item.row, 0)));
        let mut ordered = vec![String::new(); lanes.len()];
        for (old, party) in lanes.into_iter().enumerate() {
            if let Some(slot) = lane_rank.get(old).and_then(|&new| ordered.get_mut(new)) {
                *slot = party;
            }
        }
        for item in &mut items {
            item.lane = lane_rank.get(item.lane).copied().unwrap_or(item.lane);
        }
        let stream_numbers = rank_by_first(&items, recording.streams.len(), |item| {
            (item.stream, (item.row, item.lane))
        });
        // Drawn in picture order, so the file does not depend on which thread recorded first.
        items.sort_by_key(|item| (item.row, item.lane));
        Layout {
            recording,
            lanes: ordered,
            items,
            rows,
            stream_numbers,
        }
    }

    /// The number a stream has in this picture's attributes (`data-stream`).
    fn stream_number(&self, stream: usize) -> usize {
        self.stream_numbers.get(stream).copied().unwrap_or(stream)
    }

    fn width(&self) -> f64 {
        let n = self.lanes.len().max(1) as f64;
        n * LANE_W + (n - 1.0) * LANE_GAP
    }

    fn height(&self) -> f64 {
        self.rows as f64 * ROW_H + 10.0
    }

    fn lane_x(&self, x: f64, lane: usize) -> f64 {
        x + lane as f64 * (LANE_W + LANE_GAP)
    }

    fn draw(&self, out: &mut String, x: f64, top: f64) {
        for (i, party) in self.lanes.iter().enumerate() {
            let lx = self.lane_x(x, i);
            let _ = writeln!(
                out,
                r##"<text x="{:.1}" y="{:.1}" class="party">{}</text><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" class="lane"/>"##,
                lx + LANE_W / 2.0,
                top - 8.0,
                svg::text(party),
                lx + LANE_W / 2.0,
                top - 4.0,
                lx + LANE_W / 2.0,
                top + self.height()
            );
        }
        self.draw_bands(out, x, top);
        let mut counts = vec![(0usize, 0usize); self.lanes.len()];
        for item in &self.items {
            let number = counts.get_mut(item.lane).map_or(0, |(sends, recvs)| {
                let n = if item.direction == Direction::Send {
                    sends
                } else {
                    recvs
                };
                *n += 1;
                *n
            });
            self.draw_item(out, item, number, x, top);
        }
    }

    fn box_y(&self, item: &Item, top: f64) -> f64 {
        top + item.row as f64 * ROW_H + LABEL_H
    }

    fn draw_item(&self, out: &mut String, item: &Item, number: usize, x: f64, top: f64) {
        let bx = self.lane_x(x, item.lane);
        let by = self.box_y(item, top);
        let (class, label, extra) = match item.what {
            What::Call(record) => (
                "call",
                format!(
                    "{} #{number}: {} byte{}",
                    item.direction.name(),
                    svg::thousands(record.len),
                    if record.len == 1 { "" } else { "s" }
                ),
                String::new(),
            ),
            What::Folded(folded) => (
                "more",
                String::new(),
                format!(r##" data-calls="{}""##, folded.calls),
            ),
        };
        let _ = write!(
            out,
            r##"<g class="{class}" data-party="{}" data-direction="{}" data-stream="{}" data-from="{}" data-to="{}"{extra}>"##,
            svg::attr(&self.lanes.get(item.lane).cloned().unwrap_or_default()),
            item.direction.name(),
            self.stream_number(item.stream),
            item.from,
            item.to
        );
        if !label.is_empty() {
            let _ = write!(
                out,
                r##"<text x="{bx:.1}" y="{:.1}" class="label">{label}</text>"##,
                by - 2.0
            );
        }
        match item.what {
            What::Call(record) if record.len == 0 => {
                let _ = write!(
                    out,
                    r##"<rect x="{bx:.1}" y="{by:.1}" width="{LANE_W:.1}" height="{BOX_H:.1}" fill="white" stroke="#999999" stroke-dasharray="2 2"/><text x="{:.1}" y="{:.1}">(end of stream)</text>"##,
                    bx + 4.0,
                    by + 13.5
                );
            }
            What::Call(record) => self.draw_pieces(out, item, Some(record), bx, by),
            What::Folded(folded) => {
                self.draw_pieces(out, item, None, bx, by);
                let what = match (folded.direction, folded.calls) {
                    (Direction::Send, 1) => "write",
                    (Direction::Send, _) => "writes",
                    (Direction::Recv, 1) => "read",
                    (Direction::Recv, _) => "reads",
                };
                let sizes = if folded.smallest == folded.largest {
                    format!("of {} bytes", svg::thousands(folded.largest))
                } else {
                    format!(
                        "of {} to {} bytes",
                        svg::thousands(folded.smallest),
                        svg::thousands(folded.largest)
                    )
                };
                let _ = write!(
                    out,
                    r##"<rect x="{bx:.1}" y="{by:.1}" width="{LANE_W:.1}" height="{BOX_H:.1}" fill="white" fill-opacity="0.75" stroke="none"/><text x="{:.1}" y="{:.1}">… {} more {what} {sizes}</text>"##,
                    bx + 4.0,
                    by + 13.5,
                    svg::thousands(folded.calls)
                );
            }
        }
        let _ = writeln!(
            out,
            r##"<rect x="{bx:.1}" y="{by:.1}" width="{LANE_W:.1}" height="{BOX_H:.1}" class="box"/></g>"##
        );
    }

    /// Draws a box's bytes, cut where the messages they belong to change.
    fn draw_pieces(
        &self,
        out: &mut String,
        item: &Item,
        record: Option<&Record>,
        bx: f64,
        by: f64,
    ) {
        let pieces = self.pieces(item.stream, item.from, item.to);
        let widths = piece_widths(&pieces, LANE_W);
        let format = self
            .recording
            .streams
            .get(item.stream)
            .map(|s| s.format)
            .unwrap_or_default();
        let mut px = bx;
        for (piece, w) in pieces.iter().zip(widths) {
            let _ = write!(
                out,
                r##"<rect x="{px:.1}" y="{by:.1}" width="{w:.1}" height="{BOX_H:.1}" fill="{}"/>"##,
                piece.colour.fill()
            );
            if let Some(record) = record {
                let columns = ((w - 4.0) / CHAR_W).floor().max(0.0) as usize;
                if let Some(shown) = svg::fit(&piece_text(record, piece, format), columns) {
                    let ink = if piece.colour == Colour::Length {
                        "white"
                    } else {
                        "black"
                    };
                    let _ = write!(
                        out,
                        r##"<text x="{:.1}" y="{:.1}" fill="{ink}">{}</text>"##,
                        px + 2.0,
                        by + 13.5,
                        svg::text(&shown)
                    );
                }
            }
            px += w;
        }
    }

    /// The pieces of `from..to` on `stream`: by frame part for a framed stream, else by the write
    /// that put the bytes there (when that write is in the picture).
    fn pieces(&self, stream: usize, from: u64, to: u64) -> Vec<Piece> {
        self.pieces_of(stream, from, to, 0)
    }

    /// [`Layout::pieces`], following proxies back at most a few hops.
    fn pieces_of(&self, stream: usize, from: u64, to: u64, hops: usize) -> Vec<Piece> {
        let mut cuts: Vec<Piece> = Vec::new();
        let info = self.recording.streams.get(stream);
        let parts = info.map(|s| s.parts.as_slice()).unwrap_or_default();
        let relayed_from = info.and_then(|s| s.relayed_from);
        if let (true, Some(source), true) = (parts.is_empty(), relayed_from, hops < 4) {
            return self.pieces_of(source, from, to, hops + 1);
        }
        if parts.is_empty() {
            for (message, write) in self.writes(stream).enumerate() {
                push_overlap(
                    &mut cuts,
                    from,
                    to,
                    write.from,
                    write.to,
                    Colour::Message(message),
                );
            }
        } else {
            let first = parts.partition_point(|p| p.to <= from);
            for part in parts.iter().skip(first).take_while(|p| p.from < to) {
                let colour = match part.kind {
                    PartKind::Length => Colour::Length,
                    PartKind::Json => Colour::Json(part.message),
                    PartKind::Body => Colour::Message(part.message),
                };
                push_overlap(&mut cuts, from, to, part.from, part.to, colour);
            }
        }
        fill_gaps(cuts, from, to)
    }

    /// The sends on `stream` in the picture, in stream order.
    fn writes(&self, stream: usize) -> impl Iterator<Item = &Item<'a>> + '_ {
        self.items.iter().filter(move |i| {
            i.stream == stream && i.direction == Direction::Send && matches!(i.what, What::Call(_))
        })
    }

    /// One band per piece of a write that a read got.
    fn draw_bands(&self, out: &mut String, x: f64, top: f64) {
        let mut drawn = 0;
        for write in self.items.iter().filter(|i| i.direction == Direction::Send) {
            for read in self.items.iter().filter(|i| {
                i.direction == Direction::Recv && i.stream == write.stream && i.lane != write.lane
            }) {
                let (from, to) = (write.from.max(read.from), write.to.min(read.to));
                if from >= to || drawn >= MAX_BANDS {
                    continue;
                }
                drawn += 1;
                let colour = self
                    .pieces(write.stream, from, from + 1)
                    .first()
                    .map_or(Colour::Unknown, |p| p.colour);
                let mid = from + (to - from) / 2;
                let y1 = self.box_y(write, top) + BOX_H * fraction(write, mid);
                let y2 = self.box_y(read, top) + BOX_H * fraction(read, mid);
                let (x1, x2) = if write.lane < read.lane {
                    (
                        self.lane_x(x, write.lane) + LANE_W,
                        self.lane_x(x, read.lane),
                    )
                } else {
                    (
                        self.lane_x(x, write.lane),
                        self.lane_x(x, read.lane) + LANE_W,
                    )
                };
                let bend = (x1 + x2) / 2.0;
                let _ = writeln!(
                    out,
                    r##"<path class="band" data-stream="{}" data-from="{from}" data-to="{to}" stroke="{}" d="M{x1:.1} {y1:.1} C{bend:.1} {y1:.1} {bend:.1} {y2:.1} {x2:.1} {y2:.1}"/>"##,
                    self.stream_number(write.stream),
                    colour.stroke()
                );
            }
        }
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
        let layout = Layout::new(&r);
        let rows: Vec<usize> = layout.items.iter().map(|i| i.row).collect();
        assert_eq!(rows, vec![0, 1, 2]);
        let svg = render(&r);
        assert_eq!(svg.matches(r##"class="band""##).count(), 2);
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
        let layout = Layout::new(&r);
        let rows: Vec<(Direction, usize)> =
            layout.items.iter().map(|i| (i.direction, i.row)).collect();
        assert_eq!(rows, vec![(Direction::Send, 0), (Direction::Recv, 1)]);
        assert_eq!(layout.lanes, vec!["proxy", "receiver"]);
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
