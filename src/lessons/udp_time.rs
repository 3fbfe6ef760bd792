//! Lesson 06: a UDP time server, the tutorial's "NTP-like" server.
//!
//! A small request/response protocol on top of UDP. The client sends one datagram holding a
//! strftime format (`%H:%M`, `today is %A`); the server answers with one datagram: its local time
//! in that format. An empty datagram means the default format, `%Y-%m-%d %H:%M:%S` (the
//! tutorial's `%F %X`): over UDP an empty message is a real datagram that wakes the server,
//! where TCP's `send(b"")` sends nothing at all.
//!
//! The request comes from the network, so the server checks it before using it: a format that is
//! not UTF-8, or that has an unknown specifier such as `%Q`, gets a reply starting `error: ` and
//! the server goes on serving. (chrono's `format(...).to_string()` panics on an invalid format;
//! we parse the format into items first and look for `Item::Error`.)
//!
//! Tutorial: 002 (实现ntp时间服务器).

use std::fmt::Write as _;
use std::net::UdpSocket;
use std::time::Duration;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Local, TimeZone};

use crate::escape::preview;
use crate::lessons::udp_echo::{answer_datagrams, UdpClient, UdpError, MAX_DATAGRAM};
use crate::log::Log;
use crate::server::Shutdown;
use crate::tour::{Tour, TourError};

/// The format used for an empty request.
pub const DEFAULT_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Every error reply starts with this.
pub const ERROR_PREFIX: &str = "error: ";

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Size of the buffer given to `recv_from`: the longest format accepted.
    pub bufsize: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { bufsize: 1024 }
    }
}

/// Why a request got an error reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("the format is not UTF-8 text")]
    NotUtf8,
    #[error("invalid format '{0}': unknown or incomplete % specifier (try %Y-%m-%d %H:%M:%S)")]
    Invalid(String),
    #[error("the format was longer than the server's --bufsize {0} bytes and was cut")]
    Truncated(usize),
    #[error("the formatted time would be {0} bytes, too long for one datagram")]
    TooLong(usize),
}

/// The reply to one request, at time `now`: the formatted time, or `error: ...`.
pub fn reply_to<Tz: TimeZone>(request: &[u8], now: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    match format_time(request, now) {
        Ok(text) => text,
        Err(e) => format!("{ERROR_PREFIX}{e}"),
    }
}

/// Formats `now` with the strftime format in `request` (empty: [`DEFAULT_FORMAT`]).
pub fn format_time<Tz: TimeZone>(request: &[u8], now: &DateTime<Tz>) -> Result<String, FormatError>
where
    Tz::Offset: std::fmt::Display,
{
    let format = std::str::from_utf8(request).map_err(|_| FormatError::NotUtf8)?;
    let format = if format.is_empty() {
        DEFAULT_FORMAT
    } else {
        format
    };
    let items: Vec<Item> = StrftimeItems::new(format).collect();
    if items.iter().any(|item| matches!(item, Item::Error)) {
        return Err(FormatError::Invalid(format.to_string()));
    }
    let mut text = String::new();
    // `write!` returns an error where `to_string()` would panic; after the check above it
    // should not fail, but input must never be able to crash the server.
    write!(text, "{}", now.format_with_items(items.iter()))
        .map_err(|_| FormatError::Invalid(format.to_string()))?;
    if text.len() > MAX_DATAGRAM {
        return Err(FormatError::TooLong(text.len()));
    }
    Ok(text)
}

/// Answers every datagram with the time until `shutdown` is requested.
pub fn run_server(
    socket: UdpSocket,
    config: &ServerConfig,
    log: &Log,
    shutdown: &Shutdown,
) -> Result<(), UdpError> {
    answer_datagrams(
        &socket,
        config.bufsize,
        log,
        shutdown,
        |datagram, request| {
            // A cut format would be answered wrongly (`%H:%` is invalid, `%H:%M:%` not what was
            // asked), so a truncated request gets an error, not a guess.
            let reply = if datagram.truncated() {
                format!("{ERROR_PREFIX}{}", FormatError::Truncated(config.bufsize))
            } else {
                reply_to(request, &Local::now())
            };
            log.line(format!(
                "{}; replied: {}",
                datagram.describe(request, config.bufsize),
                preview(reply.as_bytes(), 100)
            ));
            reply.into_bytes()
        },
    )
}

/// Asks the server at `client` for the time in `format` and returns its reply as text.
pub fn ask(client: &UdpClient, format: &str) -> Result<String, UdpError> {
    let reply = client.request(format.as_bytes())?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// The lesson's stage in `00-tour`.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "A request/response protocol over UDP: the client sends a strftime format, the \
         server answers with its local time in that format. An empty datagram asks for the \
         default format.",
    );
    let server = t.start_udp(|socket, log, shutdown| {
        run_server(socket, &ServerConfig::default(), &log, &shutdown)
    })?;
    let lines = &server.lines;
    let client = UdpClient::new("127.0.0.1", server.port(), Duration::from_secs(5))?;

    for (format, claim) in [
        (
            "",
            "an empty datagram got the default format, %Y-%m-%d %H:%M:%S",
        ),
        ("%H:%M", "%H:%M got hours and minutes"),
        ("today is %A", "text around the specifiers is kept"),
    ] {
        if format.is_empty() {
            t.step("the client sends an empty datagram");
        } else {
            t.step(&format!("the client sends '{format}'"));
        }
        let reply = ask(&client, format)?;
        t.expect_log("server", lines, "replied")?;
        t.show("client", &format!("recvfrom: {reply}"));
        let expected = format_time(format.as_bytes(), &Local::now()).map_err(TourError::from)?;
        t.check(
            reply.len() == expected.len() && !reply.starts_with(ERROR_PREFIX),
            claim,
        )?;
    }

    t.step("the client sends an invalid format, '%Q'");
    let reply = ask(&client, "%Q")?;
    t.expect_log("server", lines, "replied")?;
    t.show("client", &format!("recvfrom: {reply}"));
    t.check(
        reply.starts_with(ERROR_PREFIX),
        "the server answered with an error instead of crashing",
    )?;
    let reply = ask(&client, "%Y")?;
    t.expect_log("server", lines, "replied")?;
    t.check(
        reply.len() == 4 && reply.bytes().all(|b| b.is_ascii_digit()),
        "and it still answers the next request",
    )?;
    server.server.stop().map_err(TourError::new)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};

    fn moment() -> DateTime<FixedOffset> {
        FixedOffset::east_opt(3600)
            .unwrap()
            .with_ymd_and_hms(2024, 2, 29, 13, 5, 9)
            .unwrap()
    }

    #[test]
    fn empty_request_uses_default_format() {
        assert_eq!(reply_to(b"", &moment()), "2024-02-29 13:05:09");
    }

    #[test]
    fn formats_and_literal_text() {
        assert_eq!(reply_to(b"%H:%M", &moment()), "13:05");
        assert_eq!(reply_to(b"day %d, 100%%", &moment()), "day 29, 100%");
        assert_eq!(reply_to(b"%F %X", &moment()), "2024-02-29 13:05:09");
        assert_eq!(reply_to("%Y年".as_bytes(), &moment()), "2024年");
    }

    #[test]
    fn invalid_formats_are_errors_not_panics() {
        for bad in ["%Q", "%", "abc %", "%-", "%.", "%:"] {
            let reply = reply_to(bad.as_bytes(), &moment());
            assert!(reply.starts_with("error: invalid format"), "{bad}: {reply}");
        }
    }

    #[test]
    fn non_utf8_is_an_error() {
        assert_eq!(
            reply_to(&[0xff, 0xfe], &moment()),
            "error: the format is not UTF-8 text"
        );
    }
}
