//! Showing bytes to a person.
//!
//! Network data is bytes, not text: a read may end in the middle of a UTF-8 character, or carry a
//! length header of binary digits. The lessons print what they received with this one function so
//! that printable text (Chinese included) reads normally and everything else shows as an escape
//! (`\n`, `\x00`), never as garbage and never as a panic.

use std::fmt::Write as _;

/// Escapes `bytes` for a one-line display, the way Python shows `bytes`: valid UTF-8 is kept,
/// control characters become `\n`, `\r`, `\t` or `\xNN`, and bytes that are not UTF-8 show as
/// `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    push_escaped(&mut out, bytes);
    out
}

/// [`escape_bytes`] appended to `out`: a server that logs every message reuses one `String` per
/// connection instead of allocating a new one per message.
pub fn push_escaped(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\\' => out.push_str("\\\\"),
                // Writing to a `String` cannot fail.
                c if c.is_control() => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

/// Like [`escape_bytes`], but shows at most `max` bytes and says how many more there were.
pub fn preview(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    push_preview(&mut out, bytes, max);
    out
}

/// [`preview`] appended to `out` (see [`push_escaped`] for why).
pub fn push_preview(out: &mut String, bytes: &[u8], max: usize) {
    let shown = bytes.get(..max).unwrap_or(bytes);
    push_escaped(out, shown);
    if shown.len() < bytes.len() {
        let _ = write!(out, "… (+{} bytes)", bytes.len() - shown.len());
    }
}

/// Longest piece of server text a client shows (error messages, refusal reasons), in bytes.
pub const SERVER_TEXT_MAX: usize = 300;

/// Text a server sent, made safe to show on a terminal: escaped like [`escape_bytes`] (so an
/// escape sequence cannot retitle or clear the terminal, and a newline cannot forge a second
/// `error:` line) and cut to [`SERVER_TEXT_MAX`] bytes. Every client shows server text through
/// this one function.
pub fn server_text(text: &str) -> String {
    preview(text.as_bytes(), SERVER_TEXT_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stays_readable() {
        assert_eq!(escape_bytes("hello 你好".as_bytes()), "hello 你好");
    }

    #[test]
    fn controls_and_binary_are_escaped() {
        assert_eq!(escape_bytes(b"a\nb\x00"), "a\\nb\\x00");
        assert_eq!(
            escape_bytes(&[0x05, 0x00, 0x00, 0xff]),
            "\\x05\\x00\\x00\\xff"
        );
        assert_eq!(escape_bytes(b"back\\slash"), "back\\\\slash");
    }

    #[test]
    fn split_utf8_character_is_escaped_not_lost() {
        let bytes = "你".as_bytes();
        assert_eq!(escape_bytes(&bytes[..2]), "\\xe4\\xbd");
    }

    #[test]
    fn server_text_cannot_drive_the_terminal() {
        let shown = server_text("no\x1b]0;owned\x07\x1b[2J\nerror: forged");
        assert!(!shown.contains('\x1b') && !shown.contains('\n'), "{shown}");
        assert_eq!(shown, "no\\x1b]0;owned\\x07\\x1b[2J\\nerror: forged");
        assert!(server_text(&"x".repeat(1000)).len() < 400);
    }

    #[test]
    fn preview_cuts_long_data() {
        assert_eq!(preview(b"abcdef", 3), "abc… (+3 bytes)");
        assert_eq!(preview(b"abc", 3), "abc");
    }
}
