//! Showing a remote shell's answer in the client's terminal: `--encoding`.
//!
//! A Windows server answers in its console's code page (GBK on a Chinese Windows), which is why
//! the tutorials' clients call `decode('gbk')`. The clients of lessons 07, 08 and 10 print every
//! answer through [`Decoding`], which turns it into the terminal's UTF-8. With the default UTF-8
//! the bytes pass through unchanged, so what is printed is exactly what arrived, even when a
//! `recv` cut a character in two (where Python's `decode('utf-8')` would raise).
//!
//! The default is the local console's code page ([`console_encoding_label`]): UTF-8 on Unix, and
//! on Windows what `cmd.exe` itself prints in (GBK, code page 936, on a Chinese Windows), so a
//! Windows client of a Windows server decodes as the tutorials do without being told.

use std::io::{self, Write};

use encoding_rs::{CoderResult, Decoder, Encoding, UTF_8};

/// Parses `--encoding`: any label the WHATWG Encoding Standard knows (`utf-8`, `gbk`,
/// `gb18030`, `big5`, `shift_jis`, `windows-1252`, ...).
pub fn parse_encoding(label: &str) -> Result<&'static Encoding, String> {
    Encoding::for_label(label.trim().as_bytes())
        .ok_or_else(|| format!("unknown encoding '{label}' (try utf-8 or gbk)"))
}

/// The `--encoding` default: the label of the console's code page. Unix terminals are UTF-8.
#[cfg(not(windows))]
pub fn console_encoding_label() -> &'static str {
    "utf-8"
}

/// The `--encoding` default on Windows: the console's output code page, or, when there is no
/// console (output redirected from a service), the OEM code page, which `cmd.exe` then uses.
#[cfg(windows)]
pub fn console_encoding_label() -> &'static str {
    // SAFETY: both functions take nothing and only return a number.
    let console = unsafe { windows_sys::Win32::System::Console::GetConsoleOutputCP() };
    let page = if console != 0 {
        console
    } else {
        unsafe { windows_sys::Win32::Globalization::GetOEMCP() }
    };
    code_page_label(page)
}

/// The WHATWG label of a Windows code page. Pages the Encoding Standard lacks (437, 850: the
/// DOS pages of English and Western European Windows) get windows-1252: right for ASCII, close
/// for the rest, and, unlike passing the bytes through, never invalid UTF-8 (which a Windows
/// console refuses to print).
#[cfg_attr(not(windows), allow(dead_code))]
fn code_page_label(page: u32) -> &'static str {
    match page {
        65001 => "utf-8",
        936 => "gbk",
        54936 => "gb18030",
        950 => "big5",
        932 => "shift_jis",
        949 => "euc-kr",
        866 => "ibm866",
        874 => "windows-874",
        1250 => "windows-1250",
        1251 => "windows-1251",
        1253 => "windows-1253",
        1254 => "windows-1254",
        1255 => "windows-1255",
        1256 => "windows-1256",
        1257 => "windows-1257",
        1258 => "windows-1258",
        _ => "windows-1252",
    }
}

/// A writer that decodes what is written to it from `encoding` and writes it out as UTF-8.
///
/// The decoder keeps a character split across two writes whole, so an answer streamed in
/// pieces (lesson 10) decodes as well as one in a single piece.
pub struct Decoding<W: Write> {
    decoder: Option<Decoder>,
    out: W,
}

impl<W: Write> Decoding<W> {
    pub fn new(encoding: &'static Encoding, out: W) -> Decoding<W> {
        let decoder = if encoding == UTF_8 {
            None
        } else {
            Some(encoding.new_decoder_without_bom_handling())
        };
        Decoding { decoder, out }
    }

    /// Ends the text (an incomplete character at the very end becomes U+FFFD) and returns the
    /// writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.decode(&[], true)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn decode(&mut self, mut input: &[u8], last: bool) -> io::Result<()> {
        let Some(decoder) = &mut self.decoder else {
            return self.out.write_all(input);
        };
        loop {
            let mut text = String::with_capacity(4096);
            let (result, read, _had_errors) = decoder.decode_to_string(input, &mut text, last);
            self.out.write_all(text.as_bytes())?;
            input = input.get(read..).unwrap_or_default();
            if result == CoderResult::InputEmpty {
                return Ok(());
            }
        }
    }
}

impl<W: Write> Write for Decoding<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.decode(buf, false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Prints one answer as Python's `print(data.decode(...))` would, except that a newline is
/// added only when the answer does not already end with one.
pub fn print_answer(answer: &[u8], encoding: &'static Encoding, out: impl Write) -> io::Result<()> {
    let mut text = Decoding::new(encoding, out);
    text.write_all(answer)?;
    if !answer.is_empty() && !answer.ends_with(b"\n") {
        text.write_all(b"\n")?;
    }
    text.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_is_decoded_even_when_split() {
        let gbk = encoding_rs::GBK.encode("你好").0.into_owned();
        let mut out = Decoding::new(parse_encoding("gbk").unwrap(), Vec::new());
        // Split in the middle of the first character.
        out.write_all(&gbk[..1]).unwrap();
        out.write_all(&gbk[1..]).unwrap();
        assert_eq!(out.finish().unwrap(), "你好".as_bytes());
    }

    #[test]
    fn every_code_page_has_a_known_encoding() {
        for page in [
            65001, 936, 54936, 950, 932, 949, 866, 874, 437, 850, 1250, 1258, 12345,
        ] {
            let label = code_page_label(page);
            assert!(parse_encoding(label).is_ok(), "{page}: {label}");
        }
        assert_eq!(
            parse_encoding(code_page_label(936)).unwrap(),
            encoding_rs::GBK
        );
        assert!(parse_encoding(console_encoding_label()).is_ok());
    }

    #[test]
    fn utf8_passes_through_unchanged() {
        let mut out = Vec::new();
        print_answer(b"a\xffb", UTF_8, &mut out).unwrap();
        assert_eq!(out, b"a\xffb\n");
        assert!(parse_encoding("klingon").is_err());
    }
}
