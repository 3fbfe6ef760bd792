//! Lesson 14's stage in `00-tour`: a demo user, a login shown message by message, a few files
//! moved with their md5 checked, and two refusals (quota, path).

use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;

use serde_json::{json, Map, Value};

use super::admin;
use super::client::{ClientError, FtpClient};
use super::scram;
use super::server::{run_server, ServerConfig};
use crate::framing;
use crate::net;
use crate::tour::{Tour, TourError};
use crate::transfer::md5_file;

const USER: &str = "demo";
const PASSWORD: &str = "demo password";
const QUOTA: u64 = 64 * 1024;

/// The lesson's stage in `00-tour`.
pub fn tour(t: &mut Tour) -> Result<(), TourError> {
    t.say(
        "The homework of tutorial 000: a multi-user FTP. Each user logs in without sending \
         the password, lives in a home it cannot leave, and has a quota. Files move as JSON \
         headers plus bodies, hashed while they move, and appear only once verified.",
    );
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("ftp-root");
    let local = dir.path().join("local");
    fs::create_dir_all(&local)?;

    t.step(&format!(
        "14-ftp adduser {USER} --quota 64K: a demo account (4096 PBKDF2 iterations to keep the \
         tour quick; real accounts get {})",
        scram::DEFAULT_ITERATIONS
    ));
    admin::add_user(&root, USER, PASSWORD, QUOTA, scram::MIN_ITERATIONS)?;
    let users = fs::read_to_string(root.join("users.json"))?;
    t.show("admin", &format!("users.json: {}", shorten_text(&users)));
    t.check(
        !users.contains(PASSWORD),
        "users.json holds a salt and two keys, never the password",
    )?;

    let config = ServerConfig::new(&root);
    let server =
        t.start_tcp(move |listener, log, shutdown| run_server(listener, &config, &log, &shutdown))?;
    let (port, lines) = (server.port(), &server.lines);
    t.expect_log("server", lines, "serving")?;

    t.step("login: a SCRAM-SHA-256-style exchange; only nonces and proofs cross the wire");
    let stream = net::connect_tcp("127.0.0.1", port)?;
    // A tour must fail, not hang, if the server does not answer.
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let stream = login_by_hand(t, stream)?;
    t.expect_log("server", lines, "logged in")?;
    let mut ftp = FtpClient::logged_in(stream);

    t.step("mkdir docs, cd docs, put notes.txt, ls, get it back");
    ftp.mkdir("docs")?;
    let cwd = ftp.cd("docs")?;
    t.show("client", &format!("cd docs -> cwd {cwd}"));
    let notes = local.join("notes.txt");
    let mut text = String::new();
    for i in 1..=200 {
        text.push_str(&format!(
            "line {i}: sticky packets (粘包) are solved by frames\n"
        ));
    }
    fs::write(&notes, &text)?;
    let put = ftp.put(&notes, "notes.txt")?;
    t.show(
        "client",
        &format!(
            "put: {{\"cmd\":\"put\",\"filename\":\"notes.txt\",\"filesize\":{},\"md5\":\"trailer\"}} \
             -> ready, offset {}, then {} bytes hashed while sent, then {{\"md5\":\"{}…\"}}",
            put.size,
            put.offset,
            put.size - put.offset,
            put.md5.get(..8).unwrap_or_default(),
        ),
    );
    t.show(
        "client",
        &format!("-> ok, md5 {}, used {} of {}", put.md5, put.used, put.quota),
    );
    t.expect_log("server", lines, "stored")?;
    for entry in ftp.ls(None)?.entries {
        t.show(
            "client",
            &format!("ls: {} {} {} bytes", entry.kind, entry.name, entry.size),
        );
    }
    let copy = local.join("notes-copy.txt");
    let got = ftp.get("notes.txt", &copy)?;
    t.expect_log("server", lines, "get notes.txt")?;
    t.show(
        "client",
        &format!("get: {} bytes, announced md5 {}", got.size, got.md5),
    );
    t.check(
        md5_file(&copy)? == got.md5 && fs::read(&copy)? == text.as_bytes(),
        "the copy is byte-exact and its md5 is the one the server recorded at upload",
    )?;

    t.step("a file bigger than the room left: refused before a single body byte is sent");
    let big = local.join("big.bin");
    let mut file = fs::File::create(&big)?;
    file.write_all(&vec![0u8; 100 * 1024])?;
    drop(file);
    let refusal = expect_refusal(ftp.put(&big, "big.bin"))?;
    t.show("client", &format!("put big.bin -> error {refusal}"));
    t.expect_log("server", lines, "quota_exceeded")?;
    t.check(
        refusal.starts_with("quota_exceeded"),
        "quota_exceeded (the room is reserved at the header, so two uploads cannot race past it)",
    )?;

    t.step("paths are virtual: / is the home, and there is no way out");
    let escape = expect_refusal(ftp.get("../../../users.json", &local.join("stolen")))?;
    t.show(
        "client",
        &format!("get ../../../users.json -> error {escape}"),
    );
    t.expect_log("server", lines, "denied")?;
    let etc = expect_refusal(ftp.ls(Some("/etc")))?;
    t.show("client", &format!("ls /etc -> error {etc}"));
    t.expect_log("server", lines, "not_found")?;
    t.check(
        escape.starts_with("denied")
            && etc.starts_with("not_found")
            && !Path::new(&local.join("stolen")).exists(),
        "'..' past the home is denied, and /etc means HOME/etc, which does not exist",
    )?;

    ftp.quit()?;
    t.expect_log("server", lines, "gone")?;
    server.server.stop().map_err(TourError::new)?;
    t.say(
        "Try it: `14-ftp adduser alice --quota 10MiB`, `14-ftp server`, then \
         `14-ftp client --user alice` and type help at the ftp> prompt. Kill a big put half-way \
         and run it again: it resumes (断点续传).",
    );
    Ok(())
}

/// The client's side of the login, one message at a time, each shown with long hex shortened.
fn login_by_hand(t: &mut Tour, mut stream: TcpStream) -> Result<TcpStream, TourError> {
    let cnonce = scram::new_nonce();
    let login = json!({"cmd": "login", "user": USER, "nonce": cnonce});
    framing::write_header(&mut stream, &login)?;
    t.show("client", &format!("send {}", shorten(&login)));

    let challenge = read(&mut stream)?;
    t.show(
        "server",
        &format!("recv {}", shorten(&Value::Object(challenge.clone()))),
    );
    let field = |name: &str| {
        challenge
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (salt, snonce) = (field("salt").to_string(), field("nonce").to_string());
    let iterations = challenge
        .get("iterations")
        .and_then(Value::as_u64)
        .ok_or_else(|| TourError::new("the challenge has no iterations"))?;
    let iterations = scram::check_iterations(iterations)?;

    let message = scram::auth_message(USER, &cnonce, &snonce, &salt, iterations);
    t.show(
        "client",
        &format!(
            "AuthMessage = user,cnonce,snonce,salt,iterations = {}",
            shorten_text(&message)
        ),
    );
    let (proof, expected_signature) = scram::client_proof(PASSWORD, &salt, iterations, &message)?;
    let proof_frame = json!({"cmd": "proof", "proof": proof});
    framing::write_header(&mut stream, &proof_frame)?;
    t.show("client", &format!("send {}", shorten(&proof_frame)));

    let reply = read(&mut stream)?;
    t.show(
        "server",
        &format!("recv {}", shorten(&Value::Object(reply.clone()))),
    );
    let signature = reply
        .get("server_signature")
        .and_then(Value::as_str)
        .unwrap_or_default();
    t.check(
        reply.get("status").and_then(Value::as_str) == Some("ok")
            && scram::constant_time_eq(signature.as_bytes(), expected_signature.as_bytes()),
        "logged in, and the server_signature proves the server holds this account's key",
    )?;
    Ok(stream)
}

fn read(stream: &mut TcpStream) -> Result<Map<String, Value>, TourError> {
    framing::read_header(stream)?.ok_or_else(|| TourError::new("the server closed the connection"))
}

/// The refusal of a call that should have been refused, as `code: msg`.
fn expect_refusal<T>(result: Result<T, ClientError>) -> Result<String, TourError> {
    match result {
        Err(ClientError::Refused(refusal)) => Ok(refusal.to_string()),
        Err(other) => Err(TourError::new(format!("expected a refusal, got: {other}"))),
        Ok(_) => Err(TourError::new("expected a refusal, but the server agreed")),
    }
}

/// JSON on one line with every long hex string cut to 8 digits and `…`.
fn shorten(value: &Value) -> String {
    shorten_text(&value.to_string())
}

/// Cuts every run of 16 or more hex digits to its first 8 and `…`.
fn shorten_text(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 16 {
            out.push_str(run.get(..8).unwrap_or_default());
            out.push('…');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            if c != '\n' {
                out.push(c);
            }
        }
    }
    flush(&mut run, &mut out);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_hex_is_shortened() {
        assert_eq!(
            shorten(&json!({"nonce": "0123456789abcdef0123", "n": 600000})),
            "{\"n\":600000,\"nonce\":\"01234567…\"}"
        );
    }
}
