//! Writing SVG text: escaping, and the few shapes a picture is made of.
//!
//! Plain string formatting is enough for the handful of elements a picture uses, and keeps the
//! output byte-for-byte the same from run to run (which the walkthrough's up-to-date test needs).
//! Everything that comes from a user or the network goes through [`text`] or [`attr`].

use std::fmt::Write;

/// Escapes text for an XML element or attribute. Control characters (which XML 1.0 forbids, and
/// [`crate::escape::escape_bytes`] has already turned into `\xNN` in previews) and the two
/// non-characters U+FFFE/U+FFFF are shown as `\u{..}` rather than written.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Same as [`text`]: attribute values are quoted with `"`, which it escapes.
pub fn attr(s: &str) -> String {
    text(s)
}

/// Cuts `s` to at most `columns` columns (a wide character, such as Chinese, takes two), ending
/// with `…` when something was cut. Returns `None` when not even one character and the `…` fit.
pub fn fit(s: &str, columns: usize) -> Option<String> {
    let width = |c: char| if (c as u32) >= 0x1100 { 2 } else { 1 };
    let total: usize = s.chars().map(width).sum();
    if total <= columns {
        return Some(s.to_string());
    }
    if columns < 2 {
        return None;
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        if used + width(c) > columns - 1 {
            break;
        }
        used += width(c);
        out.push(c);
    }
    if out.is_empty() {
        return None;
    }
    out.push('…');
    Some(out)
}

/// A number with thousands separators: 1257 → `1,257`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(text("<b>&\"'</b>"), "&lt;b&gt;&amp;&quot;&apos;&lt;/b&gt;");
        assert_eq!(text("a\u{0}b\u{fffe}"), "a\\u{0}b\\u{fffe}");
        assert_eq!(text("你好"), "你好");
    }

    #[test]
    fn text_is_cut_to_fit() {
        assert_eq!(fit("hello", 5).as_deref(), Some("hello"));
        assert_eq!(fit("hello world", 6).as_deref(), Some("hello…"));
        assert_eq!(fit("你好世界", 5).as_deref(), Some("你好…"));
        assert_eq!(fit("hello", 1), None);
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1024), "1,024");
        assert_eq!(thousands(1_288_895), "1,288,895");
    }
}
