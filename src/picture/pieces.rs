//! What each piece of a box is: its colour, its width, its text.

use crate::escape::escape_bytes;
use crate::framing::{LengthOrder, LENGTH_SIZE};
use crate::recording::{MessageFormat, Record};

/// Narrowest a piece of a box is drawn, however few bytes it has.
pub(super) const MIN_PIECE_W: f64 = 7.0;
/// Most pieces drawn in one box; the rest are drawn as one. Past a dozen they are too thin to
/// see anyway, and this bounds the file: 300 boxes of 12 pieces stay far under 1 MiB.
pub(super) const MAX_PIECES: usize = 12;

/// Fill colours of messages 1, 2, 3, ... (light, so that black previews stay readable).
pub(super) const FILLS: [&str; 8] = [
    "#a6cee3", "#fdbf6f", "#b2df8a", "#fb9a99", "#cab2d6", "#ffff99", "#8dd3c7", "#fccde5",
];
/// The matching darker colours, for bands and outlines.
pub(super) const STROKES: [&str; 8] = [
    "#1f78b4", "#e66a00", "#33a02c", "#e31a1c", "#6a3d9a", "#a08800", "#1b9e77", "#d62c8a",
];
pub(super) const LENGTH_FILL: &str = "#3b3b3b";
pub(super) const JSON_FILL: &str = "#e6e1d3";
/// Bytes whose writer is not in the picture (the other process).
pub(super) const UNKNOWN_FILL: &str = "#e0e0e0";
pub(super) const UNKNOWN_STROKE: &str = "#888888";

/// What colour a piece of a box is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Colour {
    Message(usize),
    Length,
    Json(usize),
    Unknown,
}

impl Colour {
    pub(super) fn fill(self) -> &'static str {
        match self {
            Colour::Message(m) => FILLS.get(m % FILLS.len()).copied().unwrap_or(UNKNOWN_FILL),
            Colour::Length => LENGTH_FILL,
            Colour::Json(_) => JSON_FILL,
            Colour::Unknown => UNKNOWN_FILL,
        }
    }

    pub(super) fn stroke(self) -> &'static str {
        match self {
            Colour::Message(m) | Colour::Json(m) => STROKES
                .get(m % STROKES.len())
                .copied()
                .unwrap_or(UNKNOWN_STROKE),
            Colour::Length | Colour::Unknown => UNKNOWN_STROKE,
        }
    }
}

/// A run of bytes of one colour within a box.
#[derive(Debug, Clone, Copy)]
pub(super) struct Piece {
    pub(super) from: u64,
    pub(super) to: u64,
    pub(super) colour: Colour,
}

pub(super) fn push_overlap(
    cuts: &mut Vec<Piece>,
    from: u64,
    to: u64,
    a: u64,
    b: u64,
    colour: Colour,
) {
    let (start, end) = (from.max(a), to.min(b));
    if start < end {
        cuts.push(Piece {
            from: start,
            to: end,
            colour,
        });
    }
}

/// Completes `cuts` (sorted, not overlapping) to cover `from..to`, the holes as unknown bytes,
/// and merges everything past [`MAX_PIECES`] into one piece.
pub(super) fn fill_gaps(cuts: Vec<Piece>, from: u64, to: u64) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut at = from;
    for cut in cuts {
        if cut.from > at {
            out.push(Piece {
                from: at,
                to: cut.from,
                colour: Colour::Unknown,
            });
        }
        if cut.from >= at {
            at = cut.to;
            out.push(cut);
        }
    }
    if at < to {
        out.push(Piece {
            from: at,
            to,
            colour: Colour::Unknown,
        });
    }
    if out.len() > MAX_PIECES {
        let rest_from = out.get(MAX_PIECES - 1).map_or(from, |p| p.from);
        out.truncate(MAX_PIECES - 1);
        out.push(Piece {
            from: rest_from,
            to,
            colour: Colour::Unknown,
        });
    }
    out
}

/// Widths of the pieces of a box: each at least [`MIN_PIECE_W`], the rest shared by size, so a
/// 4-byte header stays visible next to 5000 bytes.
pub(super) fn piece_widths(pieces: &[Piece], total: f64) -> Vec<f64> {
    let n = pieces.len().max(1) as f64;
    let bytes: u64 = pieces.iter().map(|p| p.to - p.from).sum();
    if n * MIN_PIECE_W >= total || bytes == 0 {
        return pieces.iter().map(|_| total / n).collect();
    }
    let share = total - n * MIN_PIECE_W;
    pieces
        .iter()
        .map(|p| MIN_PIECE_W + share * (p.to - p.from) as f64 / bytes as f64)
        .collect()
}

/// What a piece says: `len 5` for a length header, else its bytes as far as the record kept them.
pub(super) fn piece_text(record: &Record, piece: &Piece, format: MessageFormat) -> String {
    let start = usize::try_from(piece.from - record.from).unwrap_or(usize::MAX);
    let end = usize::try_from(piece.to - record.from).unwrap_or(usize::MAX);
    let kept = record.preview.len();
    let bytes = record
        .preview
        .get(start.min(kept)..end.min(kept))
        .unwrap_or_default();
    if piece.colour == Colour::Length {
        return match (<[u8; LENGTH_SIZE]>::try_from(bytes), format) {
            (
                Ok(header),
                MessageFormat::LengthPrefixed(order) | MessageFormat::JsonHeader(order),
            ) => {
                let len = match order {
                    LengthOrder::Little => u32::from_le_bytes(header),
                    LengthOrder::Big => u32::from_be_bytes(header),
                };
                format!("len {len}")
            }
            _ => "len".to_string(),
        };
    }
    let mut text = escape_bytes(bytes);
    if end > kept {
        text.push('…');
    }
    text
}
