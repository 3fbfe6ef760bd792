//! The wire format of lesson 13: requests, replies, error codes, and which file names are allowed.
//!
//! Every message is a JSON-header frame from [`crate::framing`]: 4 bytes of length
//! (`struct.pack('<i', n)`), then `n` bytes of a UTF-8 JSON object, then, where the header says
//! so, a body of exactly the stated number of bytes.
//!
//! ```text
//! client                                              server
//! {"cmd":"put","filename":"a.txt","filesize":5}+5 bytes  ->
//!                                                     <-  {"status":"ok","size":5,"md5":"..."}
//! {"cmd":"put",...,"md5":"trailer"}+5 bytes          ->
//!                                                     <-  {"status":"ready"}
//! {"md5":"..."} (the trailer, once "ready" has come)  ->
//!                                                     <-  {"status":"ok","size":5,"md5":"..."}
//! {"cmd":"get","filename":"a.txt"}                    ->
//!                                                     <-  {"status":"ok","filesize":5,"md5":"..."}+5 bytes
//! anything wrong                                      <-  {"status":"error","code":"...","msg":"..."}
//! ```
//!
//! Both sides use this module: the server to parse requests and build replies, the client to
//! build requests and parse replies, so the two cannot drift apart.

use std::fmt;

use serde_json::{json, Map, Value};

use crate::escape::{preview, server_text};

/// Longest file name accepted, in bytes: the usual file-system limit for one name (`NAME_MAX`).
pub const MAX_NAME_BYTES: usize = 255;

/// Every reply the server sends without a body is shorter than this. The server relies on it (see
/// `server.rs`: why a client that never reads its replies cannot wedge the server).
pub const MAX_REPLY: usize = 1024;

/// Longest `msg` in an error reply, so that a reply stays under [`MAX_REPLY`].
const MAX_MSG: usize = 600;

/// How much of a hostile name a message or log line shows.
const NAME_PREVIEW: usize = 60;

/// A request, as the server understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Store the `filesize` bytes that follow as `filename`; `md5`, when given, must match them.
    Put {
        filename: String,
        filesize: u64,
        md5: Option<String>,
    },
    /// Like `Put`, announced with `"md5": "trailer"`: the MD5 follows the body in one more frame
    /// `{"md5": "<32 hex digits>"}`, so the client hashes while it sends (one read of its file)
    /// and the server still checks before it stores. The server answers `{"status": "ready"}`
    /// as soon as it has read the header, which tells the client it may send the trailer (see
    /// the client's module doc: the tutorial's servers never answer, and must get no trailer).
    PutTrailer { filename: String, filesize: u64 },
    /// Send back the stored file `filename`.
    Get { filename: String },
}

/// Why a request was refused: the `code` and `msg` of an error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub msg: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, msg: impl Into<String>) -> Refusal {
        Refusal {
            code,
            msg: msg.into(),
        }
    }

    /// The error reply: `{"status":"error","code":CODE,"msg":TEXT}`.
    pub fn to_reply(&self) -> Value {
        json!({"status": "error", "code": self.code.as_str(), "msg": bounded(&self.msg)})
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.msg)
    }
}

/// The `code` of an error reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The header is not a JSON object, or a field is missing or has the wrong type.
    BadRequest,
    /// `cmd` is neither `put` nor `get`.
    UnknownCommand,
    /// The file name is not a plain, safe name (see [`check_name`]).
    BadName,
    /// `filesize` is over the server's `--max-file-size`.
    TooLarge,
    /// The body's MD5 is not the one the header announced; nothing was stored.
    Md5Mismatch,
    /// `get` of a name that is not stored.
    NotFound,
    /// The server could not read or write its own disk.
    StorageError,
    /// The server already serves `--max-clients` connections.
    TooManyClients,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownCommand => "unknown_command",
            ErrorCode::BadName => "bad_name",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Md5Mismatch => "md5_mismatch",
            ErrorCode::NotFound => "not_found",
            ErrorCode::StorageError => "storage_error",
            ErrorCode::TooManyClients => "too_many_clients",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads a request out of a header the framing layer has already checked is a JSON object.
///
/// Unknown extra fields are ignored, so a client may send more than it must (the tutorial's
/// header, for one, is accepted as it is).
pub fn parse_request(header: &Map<String, Value>) -> Result<Request, Refusal> {
    let cmd = match header.get("cmd") {
        Some(Value::String(cmd)) => cmd.as_str(),
        Some(_) => return Err(bad_request("\"cmd\" must be a string")),
        None => return Err(bad_request("the header has no \"cmd\"")),
    };
    match cmd {
        "put" if header.get("md5").and_then(Value::as_str) == Some(TRAILER) => {
            Ok(Request::PutTrailer {
                filename: string_field(header, "filename")?,
                filesize: size_field(header, "filesize")?,
            })
        }
        "put" => Ok(Request::Put {
            filename: string_field(header, "filename")?,
            filesize: size_field(header, "filesize")?,
            md5: md5_field(header, "md5")?,
        }),
        "get" => Ok(Request::Get {
            filename: string_field(header, "filename")?,
        }),
        other => Err(Refusal::new(
            ErrorCode::UnknownCommand,
            format!(
                "unknown command '{}' (this server knows put and get)",
                preview(other.as_bytes(), NAME_PREVIEW)
            ),
        )),
    }
}

fn bad_request(msg: &str) -> Refusal {
    Refusal::new(ErrorCode::BadRequest, msg)
}

fn string_field(header: &Map<String, Value>, field: &str) -> Result<String, Refusal> {
    match header.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(bad_request(&format!("\"{field}\" must be a string"))),
        None => Err(bad_request(&format!("the header has no \"{field}\""))),
    }
}

/// A byte count: a JSON integer, 0 or more. `-1`, `1.5` and `"5"` are refused.
fn size_field(header: &Map<String, Value>, field: &str) -> Result<u64, Refusal> {
    match header.get(field) {
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
            bad_request(&format!(
                "\"{field}\" must be a whole number of bytes, 0 or more (got {n})"
            ))
        }),
        Some(_) => Err(bad_request(&format!("\"{field}\" must be a number"))),
        None => Err(bad_request(&format!("the header has no \"{field}\""))),
    }
}

/// An optional MD5: absent or `null`, or 32 hex digits (returned lowercase).
fn md5_field(header: &Map<String, Value>, field: &str) -> Result<Option<String>, Refusal> {
    match header.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if is_md5_hex(s) => Ok(Some(s.to_ascii_lowercase())),
        Some(_) => Err(bad_request(&format!(
            "\"{field}\" must be 32 hex digits (an MD5 digest)"
        ))),
    }
}

/// The word that announces, in a put header's `md5`, that the MD5 follows the body.
pub const TRAILER: &str = "trailer";

/// The reply that tells a trailer put's client the server will read its trailer.
pub fn put_ready() -> Value {
    json!({"status": "ready"})
}

/// Is this reply [`put_ready`]?
pub fn is_ready(header: &Map<String, Value>) -> bool {
    header.get("status").and_then(Value::as_str) == Some("ready")
}

/// The trailer frame of a trailer put: `{"md5": "<32 hex digits>"}`.
pub fn trailer(md5: &str) -> Value {
    json!({ "md5": md5 })
}

/// The MD5 of a trailer frame, lowercase; `Err` says what is wrong with it.
pub fn trailer_md5(header: &Map<String, Value>) -> Result<String, Refusal> {
    match md5_field(header, "md5")? {
        Some(md5) => Ok(md5),
        None => Err(bad_request("the trailer has no \"md5\"")),
    }
}

/// Is `text` an MD5 digest written in hex (32 hex digits, either case)?
pub fn is_md5_hex(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The header of a put whose MD5 follows the body ([`Request::PutTrailer`]).
pub fn put_trailer_header(filename: &str, filesize: u64) -> Value {
    json!({"cmd": "put", "filename": filename, "filesize": filesize, "md5": TRAILER})
}

/// The `put` request header.
pub fn put_header(filename: &str, filesize: u64, md5: Option<&str>) -> Value {
    let mut header = json!({"cmd": "put", "filename": filename, "filesize": filesize});
    if let (Some(md5), Some(map)) = (md5, header.as_object_mut()) {
        map.insert("md5".into(), Value::String(md5.to_string()));
    }
    header
}

/// The `get` request header.
pub fn get_header(filename: &str) -> Value {
    json!({"cmd": "get", "filename": filename})
}

/// The reply to a stored `put`.
pub fn put_ok(size: u64, md5: &str) -> Value {
    json!({"status": "ok", "size": size, "md5": md5})
}

/// The reply that starts a `get`'s body.
pub fn get_ok(filesize: u64, md5: &str) -> Value {
    json!({"status": "ok", "filesize": filesize, "md5": md5})
}

/// A reply as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `"status":"ok"`: the whole header, for the caller to pick its fields.
    Ok(Map<String, Value>),
    /// `"status":"error"`.
    Error { code: String, msg: String },
}

/// Reads a reply header. `Err` says what is wrong with it (the server is not speaking this
/// protocol).
pub fn parse_reply(header: Map<String, Value>) -> Result<Reply, String> {
    match header.get("status").and_then(Value::as_str) {
        Some("ok") => Ok(Reply::Ok(header)),
        Some("error") => {
            // The server's words, made safe to print (see `escape::server_text`).
            let text =
                |field: &str| server_text(header.get(field).and_then(Value::as_str).unwrap_or(""));
            Ok(Reply::Error {
                code: text("code"),
                msg: text("msg"),
            })
        }
        _ => Err(format!(
            "the reply has no \"status\" of \"ok\" or \"error\": {}",
            preview(Value::Object(header).to_string().as_bytes(), 120)
        )),
    }
}

/// The byte count `field` of an ok reply.
pub fn reply_size(header: &Map<String, Value>, field: &str) -> Result<u64, String> {
    header
        .get(field)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("the reply has no whole number \"{field}\""))
}

/// The `md5` of an ok reply, lowercase.
pub fn reply_md5(header: &Map<String, Value>) -> Result<String, String> {
    match header.get("md5").and_then(Value::as_str) {
        Some(md5) if is_md5_hex(md5) => Ok(md5.to_ascii_lowercase()),
        _ => Err("the reply has no \"md5\" of 32 hex digits".into()),
    }
}

/// Why a file name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the file name is empty")]
    Empty,
    #[error("the file name is {0} bytes long; the limit is {MAX_NAME_BYTES}")]
    TooLong(usize),
    #[error(
        "the file name '{0}' contains a path separator ('/' or '\\'): only a bare name is stored"
    )]
    Separator(String),
    #[error("the file name '{0}' contains '..'")]
    DotDot(String),
    #[error(
        "the file name '{0}' starts with '.': hidden names are kept for the server's own files"
    )]
    Hidden(String),
    #[error("the file name '{0}' contains a control character (NUL, newline, ...)")]
    Control(String),
    #[error("the file name '{0}' contains ':' (on Windows 'C:name' and 'name:stream' are not plain names)")]
    Colon(String),
}

/// Checks that `name` is a bare file name that stays inside the upload folder on any system.
///
/// The tutorial joins the client's name to its folder (`os.path.join(server_dir, filename)`), so
/// `../../.bashrc` or `/etc/passwd` writes wherever the client likes. Here a name is refused if it
/// is empty or too long, contains `/`, `\`, `..`, `:` or a control character (NUL included), or
/// starts with `.` (which also covers `.` and `..`; hidden names are reserved for the server's
/// temporary files and digest records).
pub fn check_name(name: &str) -> Result<(), NameError> {
    let shown = || preview(name.as_bytes(), NAME_PREVIEW);
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong(name.len()));
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::Control(shown()));
    }
    if name.contains(['/', '\\']) {
        return Err(NameError::Separator(shown()));
    }
    if name.contains("..") {
        return Err(NameError::DotDot(shown()));
    }
    if name.starts_with('.') {
        return Err(NameError::Hidden(shown()));
    }
    if name.contains(':') {
        return Err(NameError::Colon(shown()));
    }
    // Belt and braces: whatever the rules above missed on this platform, the path must be exactly
    // one ordinary component, the name itself.
    let mut parts = std::path::Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(std::path::Component::Normal(part)), None) if part == name => Ok(()),
        _ => Err(NameError::Separator(shown())),
    }
}

/// `text` cut to [`MAX_MSG`] bytes at a character boundary.
fn bounded(text: &str) -> String {
    if text.len() <= MAX_MSG {
        return text.to_string();
    }
    let mut end = MAX_MSG;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text.get(..end).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn parses_the_tutorials_put_header() {
        let request = parse_request(&header(
            json!({"cmd":"put","filename":"a.txt","filesize":123}),
        ))
        .unwrap();
        assert_eq!(
            request,
            Request::Put {
                filename: "a.txt".into(),
                filesize: 123,
                md5: None
            }
        );
    }

    #[test]
    fn md5_is_checked_and_lowercased() {
        let md5 = "D41D8CD98F00B204E9800998ECF8427E";
        let request = parse_request(&header(
            json!({"cmd":"put","filename":"a","filesize":0,"md5":md5}),
        ))
        .unwrap();
        assert!(
            matches!(request, Request::Put { md5: Some(m), .. } if m == md5.to_ascii_lowercase())
        );
        let err = parse_request(&header(
            json!({"cmd":"put","filename":"a","filesize":0,"md5":"xyz"}),
        ))
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::BadRequest);
    }

    #[test]
    fn trailer_puts_and_trailers_parse() {
        let request = parse_request(&header(put_trailer_header("a", 7))).unwrap();
        assert_eq!(
            request,
            Request::PutTrailer {
                filename: "a".into(),
                filesize: 7
            }
        );
        let md5 = "D41D8CD98F00B204E9800998ECF8427E";
        let frame = header(trailer(md5));
        assert_eq!(trailer_md5(&frame), Ok(md5.to_ascii_lowercase()));
        for bad in [json!({}), json!({"md5": "xyz"}), json!({"md5": 5})] {
            assert!(trailer_md5(&header(bad.clone())).is_err(), "{bad}");
        }
        assert!(is_ready(&header(put_ready())));
    }

    #[test]
    fn bad_sizes_and_fields_are_bad_requests() {
        for bad in [
            json!({"filename":"a","filesize":1}),
            json!({"cmd":5}),
            json!({"cmd":"put","filename":"a","filesize":-1}),
            json!({"cmd":"put","filename":"a","filesize":1.5}),
            json!({"cmd":"put","filename":"a","filesize":"5"}),
            json!({"cmd":"put","filename":"a"}),
            json!({"cmd":"put","filename":7,"filesize":1}),
            json!({"cmd":"get"}),
        ] {
            let err = parse_request(&header(bad.clone())).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadRequest, "{bad}");
        }
        let err = parse_request(&header(json!({"cmd":"ls"}))).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownCommand);
    }

    #[test]
    fn only_bare_names_pass() {
        for good in ["a.txt", "report 2024.pdf", "数据.csv", "x", "a.b.c"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        let too_long = "x".repeat(MAX_NAME_BYTES + 1);
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a\\b",
            "/etc/passwd",
            "x\0y",
            "a..b",
            ".hidden",
            "C:x",
            "a\nb",
            &too_long,
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"x".repeat(MAX_NAME_BYTES)).is_ok());
    }

    #[test]
    fn error_replies_stay_small() {
        let long = Refusal::new(ErrorCode::BadRequest, "é".repeat(5000));
        assert!(long.to_reply().to_string().len() < MAX_REPLY);
        let name = "x".repeat(70_000);
        let msg = check_name(&format!("/{name}")).unwrap_err().to_string();
        assert!(msg.len() < MAX_MSG);
    }

    #[test]
    fn replies_parse_back() {
        let ok = parse_reply(header(put_ok(5, &"a".repeat(32)))).unwrap();
        let Reply::Ok(map) = ok else { panic!() };
        assert_eq!(reply_size(&map, "size"), Ok(5));
        let err = Refusal::new(ErrorCode::NotFound, "no such file").to_reply();
        assert_eq!(
            parse_reply(header(err)).unwrap(),
            Reply::Error {
                code: "not_found".into(),
                msg: "no such file".into()
            }
        );
        assert!(parse_reply(header(json!({"hello": 1}))).is_err());
    }
}
