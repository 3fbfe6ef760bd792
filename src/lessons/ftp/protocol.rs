//! The 14-ftp wire format after the 4-byte length: request headers, replies, error codes.
//!
//! Every request is one JSON object with a `"cmd"`; every reply is one JSON object with a
//! `"status"`: `"ok"`, `"ready"` (a put may send its body now), `"challenge"` (login) or
//! `"error"`, the last always with a `"code"` from [`Code`] and a human `"msg"`. A program
//! decides on the code; a person reads the message. walkthrough.md lists every exchange.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The machine-readable reason of an error reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// A command other than `login` before logging in.
    NotLoggedIn,
    /// Wrong user or password (the same answer for both), or too many failures from one address.
    AuthFailed,
    NotFound,
    Exists,
    NotADirectory,
    IsADirectory,
    NotEmpty,
    /// The path tries to leave the home, or crosses a symbolic link, or names a reserved file.
    Denied,
    QuotaExceeded,
    /// The server's disk has no room for the upload (checked before the body, or it filled up
    /// while the body arrived: then the upload is discarded).
    NoSpace,
    Md5Mismatch,
    /// The request is malformed: missing or mistyped fields, a bad offset, an unreadable frame.
    BadRequest,
    UnknownCommand,
    TooManyClients,
    /// Another session of the same user is uploading the same file right now.
    Busy,
    /// The client sent nothing for `--idle-timeout`; the server closes the connection.
    Timeout,
    /// Something failed on the server's side (a disk error); the request may be retried.
    ServerError,
}

impl Code {
    /// Every code, for documentation and tests.
    pub const ALL: [Code; 17] = [
        Code::NotLoggedIn,
        Code::AuthFailed,
        Code::NotFound,
        Code::Exists,
        Code::NotADirectory,
        Code::IsADirectory,
        Code::NotEmpty,
        Code::Denied,
        Code::QuotaExceeded,
        Code::NoSpace,
        Code::Md5Mismatch,
        Code::BadRequest,
        Code::UnknownCommand,
        Code::TooManyClients,
        Code::Busy,
        Code::Timeout,
        Code::ServerError,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::NotLoggedIn => "not_logged_in",
            Code::AuthFailed => "auth_failed",
            Code::NotFound => "not_found",
            Code::Exists => "exists",
            Code::NotADirectory => "not_a_directory",
            Code::IsADirectory => "is_a_directory",
            Code::NotEmpty => "not_empty",
            Code::Denied => "denied",
            Code::QuotaExceeded => "quota_exceeded",
            Code::NoSpace => "no_space",
            Code::Md5Mismatch => "md5_mismatch",
            Code::BadRequest => "bad_request",
            Code::UnknownCommand => "unknown_command",
            Code::TooManyClients => "too_many_clients",
            Code::Busy => "busy",
            Code::Timeout => "timeout",
            Code::ServerError => "server_error",
        }
    }

    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error reply: what the server sends as `{"status":"error","code":..,"msg":..}`, and what
/// the client turns such a reply back into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {msg}")]
pub struct Refusal {
    pub code: Code,
    pub msg: String,
}

impl Refusal {
    pub fn new(code: Code, msg: impl Into<String>) -> Refusal {
        Refusal {
            code,
            msg: msg.into(),
        }
    }

    /// The reply frame's JSON.
    pub fn to_json(&self) -> Value {
        json!({"status": "error", "code": self.code.as_str(), "msg": self.msg})
    }
}

/// A request after it was checked: every field present and of the right type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Handed whole to the login exchange, which checks its own fields.
    Login(Map<String, Value>),
    Pwd,
    Cd {
        path: String,
    },
    Ls {
        path: Option<String>,
    },
    Mkdir {
        path: String,
    },
    Rm {
        path: String,
    },
    Quota,
    Put {
        filename: String,
        filesize: u64,
        md5: PutMd5,
    },
    Get {
        filename: String,
        offset: u64,
        /// `"md5": "trailer"` in the header: the client accepts the md5 after the body, so a
        /// server with no recorded md5 for the file hashes it while sending instead of before.
        trailer_ok: bool,
    },
    Quit,
}

impl Request {
    /// Checks a request header. `bad_request` for missing or mistyped fields, `unknown_command`
    /// for a `cmd` this server does not know.
    pub fn parse(header: Map<String, Value>) -> Result<Request, Refusal> {
        let cmd = match header.get("cmd") {
            Some(Value::String(cmd)) => cmd.clone(),
            Some(_) => return Err(bad("\"cmd\" must be a string")),
            None => return Err(bad("the header has no \"cmd\"")),
        };
        let request = match cmd.as_str() {
            "login" => Request::Login(header),
            "pwd" => Request::Pwd,
            "quota" => Request::Quota,
            "quit" => Request::Quit,
            "cd" => Request::Cd {
                path: string_field(&header, "path")?,
            },
            "ls" => Request::Ls {
                path: optional_string_field(&header, "path")?,
            },
            "mkdir" => Request::Mkdir {
                path: string_field(&header, "path")?,
            },
            "rm" => Request::Rm {
                path: string_field(&header, "path")?,
            },
            "put" => Request::Put {
                filename: string_field(&header, "filename")?,
                filesize: size_field(&header, "filesize")?.ok_or_else(|| missing("filesize"))?,
                md5: put_md5_field(&header)?,
            },
            "get" => Request::Get {
                filename: string_field(&header, "filename")?,
                offset: size_field(&header, "offset")?.unwrap_or(0),
                trailer_ok: header.get("md5").and_then(Value::as_str) == Some(TRAILER),
            },
            "proof" => return Err(bad("a proof is only expected right after a challenge")),
            other => {
                return Err(Refusal::new(
                    Code::UnknownCommand,
                    format!(
                        "unknown command '{}' (known: login, pwd, cd, ls, mkdir, rm, quota, put, get, quit)",
                        crate::escape::preview(other.as_bytes(), 40)
                    ),
                ))
            }
        };
        Ok(request)
    }

    /// The command's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Login(_) => "login",
            Request::Pwd => "pwd",
            Request::Cd { .. } => "cd",
            Request::Ls { .. } => "ls",
            Request::Mkdir { .. } => "mkdir",
            Request::Rm { .. } => "rm",
            Request::Quota => "quota",
            Request::Put { .. } => "put",
            Request::Get { .. } => "get",
            Request::Quit => "quit",
        }
    }
}

fn bad(msg: impl Into<String>) -> Refusal {
    Refusal::new(Code::BadRequest, msg)
}

fn missing(field: &str) -> Refusal {
    bad(format!("the request needs a \"{field}\""))
}

fn string_field(header: &Map<String, Value>, field: &str) -> Result<String, Refusal> {
    optional_string_field(header, field)?.ok_or_else(|| missing(field))
}

fn optional_string_field(
    header: &Map<String, Value>,
    field: &str,
) -> Result<Option<String>, Refusal> {
    match header.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("\"{field}\" must be a string"))),
    }
}

/// A byte count: a JSON integer from 0 to 2^63 − 1. `-5`, `1.5` and `"10"` are refused.
fn size_field(header: &Map<String, Value>, field: &str) -> Result<Option<u64>, Refusal> {
    match header.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64() {
            Some(n) if n <= i64::MAX as u64 => Ok(Some(n)),
            _ => Err(bad(format!(
                "\"{field}\" must be a whole number of bytes, 0 or more"
            ))),
        },
    }
}

/// Where the md5 of a put's file travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutMd5 {
    /// In the header, before the body (`"md5": "<32 hex digits>"`): the tutorial's way. The
    /// client reads its file twice (once to hash it, once to send it), but the server knows the
    /// md5 from the start, which is what finds a kept partial upload of the same file.
    Header(String),
    /// After the body, in one more frame `{"md5": "<32 hex digits>"}` (`"md5": "trailer"` in the
    /// header): the client hashes while it sends, so the file is read once and both md5 passes
    /// run in parallel with the network instead of one after the other.
    Trailer,
}

/// The word that announces a trailer in a put header's `md5` field.
pub const TRAILER: &str = "trailer";

/// A put header's `md5`: 32 hex digits, or `"trailer"`.
fn put_md5_field(header: &Map<String, Value>) -> Result<PutMd5, Refusal> {
    if header.get("md5").and_then(Value::as_str) == Some(TRAILER) {
        return Ok(PutMd5::Trailer);
    }
    md5_field(header).map(PutMd5::Header)
}

/// 32 hex digits; upper case is accepted and lowered. Also checks a put's trailer frame.
pub fn md5_field(header: &Map<String, Value>) -> Result<String, Refusal> {
    let md5 = string_field(header, "md5")?;
    if md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(md5.to_ascii_lowercase())
    } else {
        Err(bad(
            "\"md5\" must be 32 hexadecimal digits (or \"trailer\" in a put header)",
        ))
    }
}

/// One line of an `ls` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    /// `"file"` or `"dir"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Bytes for a file, 0 for a directory.
    pub size: u64,
}

/// A reply header turned into a result: `Ok(fields)` unless its status is `"error"`.
pub fn check_reply(reply: Map<String, Value>) -> Result<Map<String, Value>, Refusal> {
    match reply.get("status").and_then(Value::as_str) {
        Some("error") => {
            let code_text = reply.get("code").and_then(Value::as_str).unwrap_or("");
            let msg = reply
                .get("msg")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            // A code this client does not know is still reported, with its text kept.
            let code = Code::parse(code_text).unwrap_or(Code::ServerError);
            let msg = if Code::parse(code_text).is_some() {
                msg
            } else {
                format!("[{code_text}] {msg}")
            };
            Err(Refusal { code, msg })
        }
        Some(_) => Ok(reply),
        None => Err(Refusal::new(
            Code::BadRequest,
            "the reply has no \"status\" (is this a 14-ftp server?)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> Result<Request, Refusal> {
        match v {
            Value::Object(map) => Request::parse(map),
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn codes_round_trip() {
        for code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), Some(code));
        }
        assert_eq!(Code::parse("nope"), None);
    }

    #[test]
    fn well_formed_requests_parse() {
        assert_eq!(req(json!({"cmd": "pwd"})).unwrap(), Request::Pwd);
        assert_eq!(
            req(json!({"cmd": "ls"})).unwrap(),
            Request::Ls { path: None }
        );
        assert_eq!(
            req(json!({"cmd": "put", "filename": "a", "filesize": 3, "md5": "900150983CD24FB0D6963F7D28E17F72"}))
                .unwrap(),
            Request::Put {
                filename: "a".into(),
                filesize: 3,
                md5: PutMd5::Header("900150983cd24fb0d6963f7d28e17f72".into())
            }
        );
        assert_eq!(
            req(json!({"cmd": "put", "filename": "a", "filesize": 3, "md5": "trailer"})).unwrap(),
            Request::Put {
                filename: "a".into(),
                filesize: 3,
                md5: PutMd5::Trailer
            }
        );
        assert_eq!(
            req(json!({"cmd": "get", "filename": "a"})).unwrap(),
            Request::Get {
                filename: "a".into(),
                offset: 0,
                trailer_ok: false
            }
        );
        assert_eq!(
            req(json!({"cmd": "get", "filename": "a", "md5": "trailer"})).unwrap(),
            Request::Get {
                filename: "a".into(),
                offset: 0,
                trailer_ok: true
            }
        );
    }

    #[test]
    fn malformed_requests_are_bad_requests() {
        let md5 = "900150983cd24fb0d6963f7d28e17f72";
        for v in [
            json!({}),
            json!({"cmd": 5}),
            json!({"cmd": "cd"}),
            json!({"cmd": "cd", "path": 3}),
            json!({"cmd": "put", "filename": "a", "filesize": -1, "md5": md5}),
            json!({"cmd": "put", "filename": "a", "filesize": 1.5, "md5": md5}),
            json!({"cmd": "put", "filename": "a", "filesize": "1", "md5": md5}),
            json!({"cmd": "put", "filename": "a", "md5": md5}),
            json!({"cmd": "put", "filename": "a", "filesize": 1, "md5": "xyz"}),
            json!({"cmd": "put", "filename": "a", "filesize": 1}),
            json!({"cmd": "get", "filename": "a", "offset": -1}),
            json!({"cmd": "proof", "proof": "00"}),
        ] {
            let err = req(v.clone()).unwrap_err();
            assert_eq!(err.code, Code::BadRequest, "{v}");
        }
        assert_eq!(
            req(json!({"cmd": "format_c"})).unwrap_err().code,
            Code::UnknownCommand
        );
    }

    #[test]
    fn replies_become_results() {
        let ok = json!({"status": "ok", "cwd": "/"});
        assert!(check_reply(ok.as_object().unwrap().clone()).is_ok());
        let err = Refusal::new(Code::NotFound, "/x does not exist").to_json();
        assert_eq!(
            check_reply(err.as_object().unwrap().clone()).unwrap_err(),
            Refusal::new(Code::NotFound, "/x does not exist")
        );
    }
}
