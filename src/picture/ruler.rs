//! Byte-true rulers: each stream the program read, drawn from offset 0 to its last byte at its real
//! scale, coloured by message, with the writer's cuts as ticks above and the reader's cuts as ticks
//! below. 粘包 is then the picture itself: the upper ticks are not the lower ticks. Bytes written
//! but never read are hatched and counted ("21,848 B never read").

use std::fmt::Write;

use super::layout::{Item, Layout};
use super::pieces::Colour;
use super::svg;
use crate::recording::{program_of, Direction};

/// Height of one ruler with its caption line and its ticks.
pub(super) const RULER_H: f64 = 40.0;
const BAR_H: f64 = 16.0;
const TICK: f64 = 7.0;
/// Most ticks drawn on one side of a ruler; more would be a grey smear.
const MAX_TICKS: usize = 400;
/// Room left of the bar for `0`, right of it for the total and the stream's name.
const END_W: f64 = 24.0;
const TOTAL_W: f64 = 200.0;

/// One stream's ruler.
pub(super) struct Ruler {
    stream: usize,
    writer: String,
    reader: String,
    /// Bytes written on the stream (by a party in the picture), and bytes read from it.
    written: u64,
    read: u64,
    /// Where the messages' writer cut the bytes, and where the reader's calls did.
    write_cuts: Vec<u64>,
    read_cuts: Vec<u64>,
    /// The reader saw the end of the stream.
    ended: bool,
}

/// The rulers of a panel: one per stream whose reads the program got (see [`super::judge`]).
pub(super) fn rulers(layout: &Layout, judged: &[usize]) -> Vec<Ruler> {
    let mut out = Vec::new();
    for &stream in judged {
        let on = |direction: Direction| {
            layout
                .items
                .iter()
                .filter(move |i| i.stream == stream && i.direction == direction)
        };
        let reads: Vec<&Item> = on(Direction::Recv).collect();
        let root = layout.root(stream, 0);
        let writer = on(Direction::Send)
            .next()
            .or_else(|| {
                layout
                    .items
                    .iter()
                    .find(|i| i.stream == root && i.direction == Direction::Send)
            })
            .and_then(|w| layout.lanes.get(w.lane))
            .map_or_else(
                || "peer (not traced)".to_string(),
                |lane| program_of(lane).to_string(),
            );
        let reader = reads
            .first()
            .and_then(|r| layout.lanes.get(r.lane))
            .map(|lane| program_of(lane).to_string())
            .unwrap_or_default();
        let read = reads.iter().map(|r| r.to).max().unwrap_or(0);
        let written = on(Direction::Send)
            .map(|w| w.to)
            .max()
            .unwrap_or(read)
            .max(read);
        let mut write_cuts: Vec<u64> = layout
            .writes_of(root)
            .iter()
            .map(|&(_, to)| to)
            .filter(|&to| to < written)
            .collect();
        let parts = layout
            .recording
            .streams
            .get(root)
            .map(|s| s.parts.as_slice())
            .unwrap_or_default();
        if write_cuts.is_empty() {
            // A framed stream whose writer is not in the picture: cut at its frames.
            let mut last = None;
            for part in parts {
                if last.is_some_and(|m| m != part.message) && part.from < written {
                    write_cuts.push(part.from);
                }
                last = Some(part.message);
            }
        }
        // From the records themselves, not the boxes: a folded box still had its own cuts.
        let mut read_cuts: Vec<u64> = layout
            .recording
            .records
            .iter()
            .filter(|r| r.stream == stream && r.direction == Direction::Recv)
            .map(|r| r.to())
            .filter(|&to| to > 0 && to < written)
            .collect();
        read_cuts.sort_unstable();
        read_cuts.dedup();
        write_cuts.truncate(MAX_TICKS);
        read_cuts.truncate(MAX_TICKS);
        out.push(Ruler {
            stream,
            writer,
            reader,
            written,
            read,
            write_cuts,
            read_cuts,
            ended: reads.iter().any(|r| r.len() == 0 && !r.is_failed()),
        });
    }
    out
}

impl Ruler {
    /// Draws the ruler at (x, y), `width` wide.
    pub(super) fn draw(&self, out: &mut String, layout: &Layout, x: f64, y: f64, width: f64) {
        let unread = self.written - self.read;
        let _ = write!(
            out,
            r##"<g class="ruler" data-stream="{}" data-written="{}" data-read="{}" data-unread="{unread}">"##,
            layout.stream_number(self.stream),
            self.written,
            self.read
        );
        let bar_x = x + END_W;
        let bar_w = (width - END_W - TOTAL_W).max(10.0);
        let bar_y = y + TICK + 2.0;
        let total = self.written.max(1) as f64;
        let at = |offset: u64| bar_x + bar_w * offset as f64 / total;
        for piece in layout.pieces(self.stream, 0, self.read) {
            let (a, b) = (at(piece.from), at(piece.to));
            let _ = write!(
                out,
                r##"<rect x="{a:.1}" y="{bar_y:.1}" width="{:.1}" height="{BAR_H:.1}" fill="{}"/>"##,
                (b - a).max(0.5),
                piece.colour.fill()
            );
            if let Colour::Message(m) | Colour::Handshake(m, _) = piece.colour {
                let label = (m + 1).to_string();
                if b - a >= label.len() as f64 * 7.3 + 4.0 {
                    let _ = write!(
                        out,
                        r##"<text x="{:.1}" y="{:.1}" class="num">{label}</text>"##,
                        a + 2.0,
                        bar_y + 12.5
                    );
                }
            }
        }
        if unread > 0 {
            let a = at(self.read);
            let _ = write!(
                out,
                r##"<rect x="{a:.1}" y="{bar_y:.1}" width="{:.1}" height="{BAR_H:.1}" fill="url(#hatch-unread)"/>"##,
                bar_x + bar_w - a
            );
        }
        let _ = write!(
            out,
            r##"<rect x="{bar_x:.1}" y="{bar_y:.1}" width="{bar_w:.1}" height="{BAR_H:.1}" class="box"/>"##
        );
        let mut ticks = String::new();
        for &cut in &self.write_cuts {
            let _ = write!(ticks, "M{:.1} {:.1}v{TICK} ", at(cut), bar_y - TICK);
        }
        for &cut in &self.read_cuts {
            let _ = write!(ticks, "M{:.1} {:.1}v{TICK} ", at(cut), bar_y + BAR_H);
        }
        if !ticks.is_empty() {
            let _ = write!(
                out,
                r##"<path d="{}" stroke="#000000" stroke-width="2"/>"##,
                ticks.trim_end()
            );
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" class="label">0</text><text x="{:.1}" y="{:.1}" class="note">{} B, {} → {}</text>"##,
            bar_x - 4.0,
            bar_y + 12.5,
            bar_x + bar_w + 4.0,
            bar_y + 12.5,
            svg::thousands(self.written),
            svg::text(&self.writer),
            svg::text(&self.reader)
        );
        if unread > 0 {
            let consequence = if self.ended {
                ""
            } else {
                " → a close now sends RST"
            };
            let text = format!("{} B never read{consequence}", svg::thousands(unread));
            let text_w = text.chars().count() as f64 * 7.3 + 8.0;
            let a = at(self.read);
            // Inside the hatched bytes when they have room, else just left of them.
            let (tx, anchor) = if bar_x + bar_w - a >= text_w {
                (bar_x + bar_w - 4.0, "end")
            } else {
                (a - 4.0, "end")
            };
            let _ = write!(
                out,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="15" fill="white"/><text x="{tx:.1}" y="{:.1}" class="bad" style="font-size: 12px; text-anchor: {anchor}">{}</text>"##,
                tx + 4.0 - text_w,
                bar_y + 0.5,
                text_w,
                bar_y + 12.5,
                svg::text(&text)
            );
        }
        out.push_str("</g>\n");
    }
}
