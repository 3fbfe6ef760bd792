//! What each piece of a box is: its colour, its width, its text.
//!
//! Colour is never the only cue: every piece of a message carries the message's number, headers
//! and bytes of an unknown writer are hatched, and the legend names what each colour is.

use crate::escape::escape_bytes;
use crate::framing::{LengthOrder, LENGTH_SIZE};
use crate::recording::{Handshake, MessageFormat, Record};

/// Narrowest a piece of a box is drawn, however few bytes it has.
pub(super) const MIN_PIECE_W: f64 = 7.0;
/// Narrowest a length header is drawn when the box has room: wide enough for `len 5`.
pub(super) const LENGTH_PIECE_W: f64 = 50.0;
/// Most pieces drawn in one box; the rest are drawn as one. Past a dozen they are too thin to
/// see anyway, and this bounds the file: 300 boxes of 12 pieces stay far under 1 MiB.
pub(super) const MAX_PIECES: usize = 12;

/// Fill colours of messages 1, 2, 3, ...: Paul Tol's "light" scheme, made for labels with black
/// text and told apart with every common colour blindness. Past the eighth message the colours
/// repeat, but the numbers on the pieces and in the legend go on.
pub(super) const FILLS: [&str; 8] = [
    "#77AADD", "#EE8866", "#44BB99", "#EEDD88", "#FFAABB", "#99DDFF", "#BBCC33", "#AAAA00",
];
/// The matching darker colours, for bands.
pub(super) const STROKES: [&str; 8] = [
    "#336699", "#BB5533", "#227755", "#AA9933", "#CC6688", "#3388AA", "#778811", "#777700",
];
/// The 4-byte length header: dark and hatched, with white text.
pub(super) const LENGTH_FILL: &str = "url(#hatch-length)";
/// A JSON header: sand, hatched.
pub(super) const JSON_FILL: &str = "url(#hatch-json)";
/// Bytes whose writer is not in the picture (the other process): grey, hatched the other way.
pub(super) const UNKNOWN_FILL: &str = "url(#hatch-unknown)";
pub(super) const UNKNOWN_STROKE: &str = "#888888";

/// The patterns behind the hatched fills, for the picture's `<defs>`.
pub(super) const PATTERNS: &str = r##"<defs>
<pattern id="hatch-length" patternUnits="userSpaceOnUse" width="8" height="8" patternTransform="rotate(45)"><rect width="8" height="8" fill="#333333"/><line x1="0" y1="0" x2="0" y2="8" stroke="#777777" stroke-width="3"/></pattern>
<pattern id="hatch-json" patternUnits="userSpaceOnUse" width="10" height="10" patternTransform="rotate(45)"><rect width="10" height="10" fill="#E8DCC0"/><line x1="0" y1="0" x2="0" y2="10" stroke="#C9B27C" stroke-width="2"/></pattern>
<pattern id="hatch-unknown" patternUnits="userSpaceOnUse" width="10" height="10" patternTransform="rotate(-45)"><rect width="10" height="10" fill="#E4E4E4"/><line x1="0" y1="0" x2="0" y2="10" stroke="#BBBBBB" stroke-width="2"/></pattern>
<pattern id="hatch-unread" patternUnits="userSpaceOnUse" width="8" height="8" patternTransform="rotate(45)"><rect width="8" height="8" fill="#FFFFFF"/><line x1="0" y1="0" x2="0" y2="8" stroke="#CC3311" stroke-width="2"/></pattern>
</defs>
"##;

/// What colour a piece of a box is. Messages are numbered per picture panel, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Colour {
    Message(usize),
    Length,
    Json(usize),
    /// Lesson 12's challenge or answer, numbered like a message (it is the first one).
    Handshake(usize, Handshake),
    Unknown,
}

impl Colour {
    pub(super) fn fill(self) -> &'static str {
        match self {
            Colour::Message(m) | Colour::Handshake(m, _) => {
                FILLS.get(m % FILLS.len()).copied().unwrap_or("#DDDDDD")
            }
            Colour::Length => LENGTH_FILL,
            Colour::Json(_) => JSON_FILL,
            Colour::Unknown => UNKNOWN_FILL,
        }
    }

    pub(super) fn stroke(self) -> &'static str {
        match self {
            Colour::Message(m) | Colour::Json(m) | Colour::Handshake(m, _) => STROKES
                .get(m % STROKES.len())
                .copied()
                .unwrap_or(UNKNOWN_STROKE),
            Colour::Length | Colour::Unknown => UNKNOWN_STROKE,
        }
    }

    /// The message a piece belongs to, if known.
    pub(super) fn message(self) -> Option<usize> {
        match self {
            Colour::Message(m) | Colour::Json(m) | Colour::Handshake(m, _) => Some(m),
            Colour::Length | Colour::Unknown => None,
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

/// Widths of the pieces of a box: each at least [`MIN_PIECE_W`] (a length header
/// [`LENGTH_PIECE_W`] when there is room), the rest shared by size, so a 4-byte header stays
/// visible next to 5000 bytes.
pub(super) fn piece_widths(pieces: &[Piece], total: f64) -> Vec<f64> {
    let least = |p: &Piece| {
        if p.colour == Colour::Length {
            LENGTH_PIECE_W
        } else {
            MIN_PIECE_W
        }
    };
    let floor: f64 = pieces.iter().map(least).sum();
    let n = pieces.len().max(1) as f64;
    let bytes: u64 = pieces.iter().map(|p| p.to - p.from).sum();
    if floor >= total || bytes == 0 {
        return pieces.iter().map(|_| total / n).collect();
    }
    let share = total - floor;
    pieces
        .iter()
        .map(|p| least(p) + share * (p.to - p.from) as f64 / bytes as f64)
        .collect()
}

/// The bytes of `from..to` as far as `record` kept them, and whether some were not kept.
pub(super) fn kept_bytes(record: &Record, from: u64, to: u64) -> (&[u8], bool) {
    let start = usize::try_from(from.saturating_sub(record.from)).unwrap_or(usize::MAX);
    let end = usize::try_from(to.saturating_sub(record.from)).unwrap_or(usize::MAX);
    let kept = record.preview.len();
    let bytes = record
        .preview
        .get(start.min(kept)..end.min(kept))
        .unwrap_or_default();
    (bytes, end > kept)
}

/// What a piece says: `len 5` for a length header, else its bytes as far as the record kept them.
pub(super) fn piece_text(record: &Record, piece: &Piece, format: MessageFormat) -> String {
    let (bytes, cut) = kept_bytes(record, piece.from, piece.to);
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
    if let Colour::Handshake(_, handshake) = piece.colour {
        return handshake.name().to_string();
    }
    let mut text = escape_bytes(bytes);
    if cut {
        text.push('…');
    }
    text
}
