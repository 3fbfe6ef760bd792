//! Checker of lesson 13: a student's file server, speaking lesson 13's protocol (a 4-byte
//! length, a JSON header, a body; one JSON reply per request).
//!
//! The checker puts and gets files with the header and body cut the way a network may, sends two
//! puts back to back in one write (a server that reads the body with `recv(8192)` swallows the
//! second header), sends binary bytes and a Chinese name, hostile names (`../x`, `/etc/x`),
//! and vanishes in the middle of a body. It stores files named `socklab-check-*` in the server's
//! folder.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use md5::{Digest as _, Md5};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};

use super::{close_with_reset, connect, quoted, write_cut, Checker, Cut, Lesson, Timed, Verdict};
use crate::framing::Framing;

pub const LESSON: Lesson = Lesson {
    binary: "13-file-upload",
    server: Some(check_server),
    client: None,
};

const HINT: &str =
    "13-file-upload, \"Why\" (the protocol, exactly) and \"What the tutorial gets wrong\"";

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

fn put_request(name: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    let header = json!({"cmd": "put", "filename": name, "filesize": body.len(),
                        "md5": md5_hex(body)});
    // A small header into a Vec: cannot fail.
    let _ = Framing::default().write_header(&mut bytes, &header);
    bytes.extend_from_slice(body);
    bytes
}

fn get_request(name: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = Framing::default().write_header(&mut bytes, &json!({"cmd": "get", "filename": name}));
    bytes
}

/// Reads one reply header.
fn reply(conn: &TcpStream, timeout: Duration) -> Result<Map<String, Value>, String> {
    let mut timed = Timed::new(conn, timeout);
    match Framing::default().read_header(&mut timed) {
        Ok(Some(header)) => Ok(header),
        Ok(None) => Err("no reply: the server closed the connection".to_string()),
        Err(crate::framing::FrameError::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
            Err(format!(
                "no reply within {} s (--timeout): your server must answer every request",
                timeout.as_secs()
            ))
        }
        Err(e) => Err(format!("no reply header: {e}")),
    }
}

fn field<'a>(header: &'a Map<String, Value>, key: &str) -> &'a Value {
    header.get(key).unwrap_or(&Value::Null)
}

/// The reply to a put of `body` must be `ok` with its size and MD5.
fn expect_stored(header: &Map<String, Value>, body: &[u8]) -> Result<(), String> {
    let ok = field(header, "status") == "ok"
        && field(header, "size").as_u64() == Some(body.len() as u64)
        && field(header, "md5").as_str().map(str::to_ascii_lowercase) == Some(md5_hex(body));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "reply {} (expected status ok, size {}, md5 {})",
            Value::Object(header.clone()),
            body.len(),
            md5_hex(body)
        ))
    }
}

/// Gets `name` on `conn`: the reply must announce `body` and the body must follow.
fn expect_get(conn: &TcpStream, name: &str, body: &[u8], timeout: Duration) -> Result<(), String> {
    let mut conn_w = conn;
    std::io::Write::write_all(&mut conn_w, &get_request(name)).map_err(|e| e.to_string())?;
    let header = reply(conn, timeout)?;
    let announced = field(&header, "filesize").as_u64();
    if field(&header, "status") != "ok" || announced != Some(body.len() as u64) {
        return Err(format!(
            "get {}: reply {} (expected status ok, filesize {})",
            quoted(name.as_bytes()),
            Value::Object(header),
            body.len()
        ));
    }
    let (got, ending) = super::read_exactly(conn, body.len(), timeout);
    if got != body {
        super::transcript::difference(body, &got);
        return Err(format!(
            "get {}: {} body bytes back, not the ones stored ({ending})",
            quoted(name.as_bytes()),
            got.len()
        ));
    }
    Ok(())
}

/// Puts every `(name, body)` in one write cut as `cut`, reads the replies, then gets each back.
fn put_and_get(
    addr: SocketAddr,
    files: &[(String, Vec<u8>)],
    cut: Cut,
    rng: &mut StdRng,
    timeout: Duration,
) -> Verdict {
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let size: usize = files.iter().map(|(_, b)| b.len()).sum();
    let mut sent = format!("put {} ({size} bytes)", quoted(names.join(", ").as_bytes()));
    let result = (|| {
        let mut conn = connect(addr).map_err(|e| format!("could not connect: {e}"))?;
        let requests: Vec<u8> = files.iter().flat_map(|(n, b)| put_request(n, b)).collect();
        let writes = write_cut(&mut conn, &requests, cut, rng).map_err(|e| e.to_string())?;
        sent = format!("{sent} in {writes} write(s), then get each back");
        for (_, body) in files {
            expect_stored(&reply(&conn, timeout)?, body)?;
        }
        for (name, body) in files {
            expect_get(&conn, name, body, timeout)?;
        }
        Ok::<(), String>(())
    })();
    match result {
        Ok(()) => Verdict::pass(sent, "ok replies with the right md5; the same bytes back"),
        Err(problem) => Verdict::fail(sent, problem),
    }
}

fn check_server(checker: &mut Checker, addr: SocketAddr) {
    let timeout = checker.timeout();
    let file = |name: &str, body: &[u8]| (name.to_string(), body.to_vec());
    checker.point("put and get a small file, whole writes", HINT, |rng| {
        put_and_get(
            addr,
            &[file("socklab-check-1.txt", b"hello from the checker\n")],
            Cut::Whole,
            rng,
            timeout,
        )
    });
    checker.point("header and body in 1-byte writes", HINT, |rng| {
        put_and_get(
            addr,
            &[file("socklab-check-2.txt", b"one byte at a time\n")],
            Cut::OneByte,
            rng,
            timeout,
        )
    });
    checker.point("two puts back to back in one write", HINT, |rng| {
        let files = [
            file("socklab-check-3a.txt", &b"first file\n".repeat(1000)),
            file(
                "socklab-check-3b.txt",
                b"second file, right behind the first\n",
            ),
        ];
        put_and_get(addr, &files, Cut::Whole, rng, timeout)
    });
    checker.point("100000 binary bytes in random pieces", HINT, |rng| {
        let body: Vec<u8> = (0..100_000).map(|_| rng.gen::<u8>()).collect();
        put_and_get(
            addr,
            &[file("socklab-check-4.bin", &body)],
            Cut::Random,
            rng,
            timeout,
        )
    });
    checker.point("a Chinese file name", HINT, |rng| {
        put_and_get(
            addr,
            &[file("socklab-check-笔记.txt", "你好，世界\n".as_bytes())],
            Cut::Random,
            rng,
            timeout,
        )
    });
    checker.point(
        "hostile names are refused with bad_name",
        "13-file-upload, \"What the tutorial gets wrong\" (it trusts the file name)",
        |_| hostile_names(addr, timeout),
    );
    checker.point("get of a missing file: not_found", HINT, |_| {
        let name = "socklab-check-never-stored.txt";
        let sent = format!("get {}", quoted(name.as_bytes()));
        let got = (|| {
            let mut conn = connect(addr).map_err(|e| e.to_string())?;
            std::io::Write::write_all(&mut conn, &get_request(name)).map_err(|e| e.to_string())?;
            reply(&conn, timeout)
        })();
        match got {
            Ok(h) if field(&h, "code") == "not_found" => Verdict::pass(sent, "not_found"),
            Ok(h) => Verdict::fail(sent, format!("reply {}", Value::Object(h))),
            Err(e) => Verdict::fail(sent, e),
        }
    });
    checker.point(
        "a client vanishes mid-body (reset): nothing stored",
        "13-file-upload, \"Why\" (temporary file, renamed only when complete)",
        |rng| vanish_mid_body(addr, rng, timeout),
    );
}

fn hostile_names(addr: SocketAddr, timeout: Duration) -> Verdict {
    let names = [
        "../socklab-check-escape.txt",
        "/tmp/socklab-check-escape.txt",
        "a/b.txt",
        "..",
        ".hidden",
        "",
    ];
    let sent = format!("puts named {}", names.map(|n| format!("{n:?}")).join(", "));
    for name in names {
        let got = (|| {
            let mut conn = connect(addr).map_err(|e| e.to_string())?;
            std::io::Write::write_all(&mut conn, &put_request(name, b"x"))
                .map_err(|e| e.to_string())?;
            reply(&conn, timeout)
        })();
        match got {
            Ok(h) if field(&h, "code") == "bad_name" => {}
            Ok(h) => return Verdict::fail(sent, format!("{name:?}: reply {}", Value::Object(h))),
            Err(e) => return Verdict::fail(sent, format!("{name:?}: {e}")),
        }
    }
    Verdict::pass(sent, "bad_name for each")
}

fn vanish_mid_body(addr: SocketAddr, rng: &mut StdRng, timeout: Duration) -> Verdict {
    let name = format!("socklab-check-vanished-{}.txt", rng.gen::<u32>());
    let sent = format!(
        "put {} announcing 1000 bytes, 100 sent, then a reset; then get it",
        quoted(name.as_bytes())
    );
    if let Ok(mut conn) = connect(addr) {
        let mut request = put_request(&name, &[b'v'; 1000]);
        request.truncate(request.len() - 900);
        let _ = write_cut(&mut conn, &request, Cut::Whole, rng);
        std::thread::sleep(Duration::from_millis(100));
        close_with_reset(conn);
    }
    std::thread::sleep(Duration::from_millis(100));
    let got = (|| {
        let mut conn = connect(addr).map_err(|e| e.to_string())?;
        std::io::Write::write_all(&mut conn, &get_request(&name)).map_err(|e| e.to_string())?;
        reply(&conn, timeout)
    })();
    match got {
        Ok(h) if field(&h, "code") == "not_found" => {
            Verdict::pass(sent, "not_found: nothing stored")
        }
        Ok(h) => Verdict::fail(sent, format!("reply {}", Value::Object(h))),
        Err(e) => Verdict::fail(sent, e),
    }
}
