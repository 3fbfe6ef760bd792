//! Sizes and durations as people type them: `512K`, `10MiB`, `2G`; `0.5`, `90s`, `10m`, `24h`.
//!
//! Every flag that takes a size (`--max-output`, `--quota`, `--max-file-size`) or a time
//! (`--timeout`, `--idle-timeout`, `--partial-ttl`) reads it through these functions, so the same
//! spelling works everywhere. They are plain functions from `&str`, so clap uses them directly
//! as value parsers: `#[arg(long, value_parser = units::parse_duration)]`.

use std::time::Duration;

/// A size or duration that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a {what}: {reason} (examples: {examples})")]
pub struct UnitError {
    text: String,
    what: &'static str,
    reason: &'static str,
    examples: &'static str,
}

const SIZE_EXAMPLES: &str = "1000000, 512K, 10MiB, 1.5G";
const DURATION_EXAMPLES: &str = "2, 0.5, 90s, 10m, 24h, 2d";

/// Splits `"10MiB"` into `("10", "mib")` and `"1.5"` into `("1.5", "")`.
fn split_unit(text: &str) -> (&str, String) {
    let text = text.trim();
    let at = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(at);
    (number, unit.trim().to_ascii_lowercase())
}

/// Reads a non-negative decimal number with at most one '.', exactly, as a numerator and a
/// power-of-ten denominator: `"1.5"` is `(15, 10)`. Floating point would make `0.1G` inexact.
fn parse_decimal(number: &str) -> Result<(u128, u128), &'static str> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err("no number");
    }
    if fraction.contains('.') {
        return Err("more than one '.'");
    }
    if whole.len() + fraction.len() > 24 {
        return Err("too many digits");
    }
    let digits = format!("{whole}{fraction}");
    let value: u128 = digits.parse().map_err(|_| "not a number")?;
    Ok((value, 10u128.pow(fraction.len() as u32)))
}

/// A size in bytes. Units are binary and case-insensitive: K = KB = KiB = 1024, M = MiB = 1024²,
/// G, T likewise; `B` or nothing is bytes. A fraction is rounded down to a whole byte. (Disk
/// makers use KB = 1000; one rule is easier to remember than two.)
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let bad = |reason| UnitError {
        text: text.to_string(),
        what: "size",
        reason,
        examples: SIZE_EXAMPLES,
    };
    let (number, unit) = split_unit(text);
    let multiplier: u128 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(bad("unknown unit (use K, M, G or T)")),
    };
    let (value, scale) = parse_decimal(number).map_err(bad)?;
    u64::try_from(value * multiplier / scale).map_err(|_| bad("too large"))
}

/// A size for people: `0 B`, `512 B`, `1.5 KiB`, `10 MiB`, `2.3 GiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("B");
    if unit == 0 || value.fract() == 0.0 {
        format!("{value:.0} {name}")
    } else {
        format!("{value:.1} {name}")
    }
}

/// How fast `bytes` moved in `took`, for the line a transfer prints when it ends:
/// `0.84 s, 1278.3 MB/s` (MB = 10^6 bytes, as network and disk speeds are usually given).
pub fn format_speed(bytes: u64, took: Duration) -> String {
    let seconds = took.as_secs_f64();
    if seconds <= 0.0 {
        return format!("{seconds:.2} s");
    }
    format!("{seconds:.2} s, {:.1} MB/s", bytes as f64 / seconds / 1e6)
}

/// A duration: seconds (`2`, `0.5`), or a number with `s`, `m`, `h` or `d`.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let bad = |reason| UnitError {
        text: text.to_string(),
        what: "duration",
        reason,
        examples: DURATION_EXAMPLES,
    };
    let (number, unit) = split_unit(text);
    let seconds_per_unit: u128 = match unit.as_str() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        _ => return Err(bad("unknown unit (use s, m, h or d)")),
    };
    let (value, scale) = parse_decimal(number).map_err(bad)?;
    let nanos = value * seconds_per_unit * 1_000_000_000 / scale;
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| bad("too long"))?;
    let subsec = (nanos % 1_000_000_000) as u32;
    Ok(Duration::new(secs, subsec))
}

/// Like [`parse_duration`], but zero is refused: for timeouts, where 0 would mean "never wait"
/// or "wait for ever" depending on the API, and neither is what a user typing 0 expects.
pub fn parse_timeout(text: &str) -> Result<Duration, UnitError> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(UnitError {
            text: text.to_string(),
            what: "timeout",
            reason: "it must be more than zero",
            examples: DURATION_EXAMPLES,
        });
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_in_megabytes_per_second() {
        assert_eq!(
            format_speed(3_000_000, Duration::from_millis(1500)),
            "1.50 s, 2.0 MB/s"
        );
        assert_eq!(format_speed(5, Duration::ZERO), "0.00 s");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("512K"), Ok(512 * 1024));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("16g"), Ok(16 << 30));
        assert_eq!(parse_size("1.5K"), Ok(1536));
        assert_eq!(parse_size(" 2 GB "), Ok(2 << 30));
        for bad in ["", "-5", "1..5", "K", "12Q", "99999999999999999999T", "1e9"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_every_spelling() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("512k", 512 * 1024),
            ("512KB", 512 * 1024),
            ("512KiB", 512 * 1024),
            ("10 MB", 10 << 20),
            ("1.5G", 3 << 29),
            ("0.5K", 512),
            (".5K", 512),
            ("1.0009K", 1024),
            ("3T", 3 << 40),
            ("7B", 7),
            ("1.5", 1),
            ("18446744073709551615", u64::MAX),
        ];
        for &(text, want) in cases {
            assert_eq!(parse_size(text), Ok(want), "{text:?}");
        }
        for bad in [
            " ",
            "1X",
            "1.2.3",
            "ten",
            "18446744073709551616",
            "99999999T",
            "1,5G",
            "0x10",
            "+5",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn size_errors_say_what_to_type() {
        let err = parse_size("12Q").unwrap_err().to_string();
        assert_eq!(
            err,
            "'12Q' is not a size: unknown unit (use K, M, G or T) (examples: 1000000, 512K, 10MiB, 1.5G)"
        );
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(1023), "1023 B");
        assert_eq!(format_size(1024), "1 KiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(10 << 20), "10 MiB");
        assert_eq!(format_size(u64::MAX), "16777216 TiB");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "-1", "5w", "1.2.3", "s", "5 weeks", "-5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_timeout("0").is_err());
        assert_eq!(parse_timeout("0.25"), Ok(Duration::from_millis(250)));
    }
}
