//! Clients that trust no server (issue 15): every client against fake servers that lie, stall,
//! flood, reset and send terminal escapes. The fake servers live in `common/fake_server.rs`;
//! each test says what its server does. Every client run here ends well within `common::WAIT`.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::fake_server::{
    drain, ftp_login, read_json, reset, skip, stay_silent, write_json, FakeServer, FTP_PASSWORD,
};
use md5::Digest;
use serde_json::{json, Value};
use socklab::lessons::ftp::client::{ClientError, FtpClient};
use socklab::lessons::ftp::login::LoginError;

const FTP: &str = env!("CARGO_BIN_EXE_14-ftp");

/// What a hostile server may say, to check nothing of it reaches the terminal raw: a title
/// change, a screen clear, and a newline forging a second `error:` line.
const ESCAPES: &str = "no\u{1b}]0;pwned\u{7}\u{1b}[2J\nerror: forged";

/// Asserts `output` (a client's stdout or stderr) carries no raw escape and no forged line.
fn assert_no_raw_server_text(output: &str) {
    assert!(!output.contains('\u{1b}'), "raw ESC in {output:?}");
    assert!(!output.contains('\u{7}'), "raw BEL in {output:?}");
    assert!(
        !output.lines().any(|l| l.starts_with("error: forged")),
        "a forged line in {output:?}"
    );
}

// ------------------------------------------------------------------------------------------
// 14-ftp
// ------------------------------------------------------------------------------------------

const ITERATIONS: u32 = 4096;

fn ftp_client(server: &FakeServer) -> FtpClient {
    let (mut client, _) = FtpClient::connect_within(
        "127.0.0.1",
        server.addr.port(),
        "alice",
        FTP_PASSWORD,
        Duration::from_secs(5),
    )
    .expect("log in to the fake server");
    client.set_timeout(Duration::from_secs(5));
    client
}

/// A 14 server that logs in anyone and answers every get with `body` (and its real md5), from
/// offset 0.
fn ftp_serving(body: &'static [u8]) -> FakeServer {
    FakeServer::start(move |mut stream| {
        if !ftp_login(&mut stream, ITERATIONS) {
            return;
        }
        while let Some(request) = read_json(&mut stream) {
            let md5 = hex::encode(md5::Md5::digest(body));
            write_json(
                &mut stream,
                &json!({"status": "ok", "filesize": body.len(), "offset": 0, "md5": md5}),
            );
            let _ = stream.write_all(body);
            let _ = request;
        }
    })
}

#[cfg(unix)]
#[test]
fn ftp_get_never_writes_through_a_symlink_at_the_partial_name() {
    let server = ftp_serving(b"evil bytes");
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    fs::write(&victim, b"precious").unwrap();
    let downloads = dir.path().join("downloads");
    fs::create_dir(&downloads).unwrap();
    std::os::unix::fs::symlink("../victim.txt", downloads.join("notes.txt.part")).unwrap();

    let mut client = ftp_client(&server);
    let e = client
        .get("notes.txt", &downloads.join("notes.txt"))
        .unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(!downloads.join("notes.txt").exists());
}

#[cfg(unix)]
#[test]
fn ftp_get_never_writes_through_a_hard_link_at_the_partial_name() {
    let server = ftp_serving(b"evil bytes");
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    fs::write(&victim, b"precious").unwrap();
    fs::hard_link(&victim, dir.path().join("notes.txt.part")).unwrap();

    let mut client = ftp_client(&server);
    let e = client
        .get("notes.txt", &dir.path().join("notes.txt"))
        .unwrap_err();
    assert!(e.to_string().contains("hard link"), "{e}");
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
}

#[test]
fn ftp_get_replaces_a_link_at_the_final_name_instead_of_following_it() {
    let server = ftp_serving(b"good bytes");
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    fs::write(&victim, b"precious").unwrap();
    let local = dir.path().join("notes.txt");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&victim, &local).unwrap();

    let mut client = ftp_client(&server);
    client.get("notes.txt", &local).unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(!fs::symlink_metadata(&local)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(&local).unwrap(), b"good bytes");
}

#[test]
fn ftp_get_refuses_a_size_over_max_size_before_the_first_byte() {
    // Announces a terabyte (and would send it).
    let server = FakeServer::start(|mut stream| {
        if !ftp_login(&mut stream, ITERATIONS) {
            return;
        }
        if read_json(&mut stream).is_some() {
            write_json(
                &mut stream,
                &json!({"status": "ok", "filesize": 1u64 << 40, "offset": 0, "md5": "0".repeat(32)}),
            );
            let chunk = vec![0u8; 64 * 1024];
            while stream.write_all(&chunk).is_ok() {}
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("huge.bin");
    for max in [Some(1 << 20), None] {
        let mut client = ftp_client(&server);
        client.set_max_size(max);
        let e = client.get("huge.bin", &local).unwrap_err();
        assert!(e.to_string().contains("--max-size"), "{e}");
        assert!(
            fs::read_dir(dir.path()).unwrap().next().is_none(),
            "nothing written"
        );
    }
}

#[test]
fn ftp_put_checks_the_servers_md5_against_its_own() {
    // Takes the upload whole, then claims an md5 of zeros.
    let server = FakeServer::start(|mut stream| {
        if !ftp_login(&mut stream, ITERATIONS) {
            return;
        }
        let Some(put) = read_json(&mut stream) else {
            return;
        };
        let size = put.get("filesize").and_then(Value::as_u64).unwrap_or(0);
        write_json(&mut stream, &json!({"status": "ready", "offset": 0}));
        skip(&mut stream, size);
        let _trailer = read_json(&mut stream);
        write_json(
            &mut stream,
            &json!({"status": "ok", "md5": "0".repeat(32), "used": size, "quota": 1u64 << 40}),
        );
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.txt");
    fs::write(&file, b"hello").unwrap();
    let mut client = ftp_client(&server);
    let e = client.put(&file, "a.txt").unwrap_err();
    assert!(e.to_string().contains("md5"), "{e}");
    assert!(matches!(e, ClientError::Protocol(_)), "{e:?}");
}

#[test]
fn ftp_login_refuses_a_challenge_with_too_few_iterations() {
    let (proof_tx, proof_rx) = mpsc::channel();
    let server = FakeServer::start(move |mut stream| {
        let _ = proof_tx.send(ftp_login(&mut stream, 1));
    });
    let e = FtpClient::connect_within(
        "127.0.0.1",
        server.addr.port(),
        "alice",
        FTP_PASSWORD,
        Duration::from_secs(5),
    )
    .err()
    .expect("refused");
    assert!(
        matches!(e, ClientError::Login(LoginError::Scram(_))),
        "{e:?}"
    );
    assert!(e.to_string().contains("4096"), "{e}");
    assert_eq!(
        proof_rx.recv_timeout(common::WAIT),
        Ok(false),
        "no proof sent"
    );
}

/// Runs `14-ftp client` against `server` with `args` after the usual ones.
fn ftp_binary(server: &FakeServer, args: &[&str]) -> common::Finished {
    let port = server.port();
    let mut all = vec![
        "client",
        "--port",
        &port,
        "--user",
        "alice",
        "--password-stdin",
        "--no-progress",
    ];
    all.extend_from_slice(args);
    common::run(FTP, &all, &format!("{FTP_PASSWORD}\n"))
}

#[test]
fn ftp_client_timeout_bounds_a_silent_server_and_says_so() {
    let server = FakeServer::start(|mut stream| {
        if ftp_login(&mut stream, ITERATIONS) {
            stay_silent(stream);
        }
    });
    let start = Instant::now();
    let out = ftp_binary(&server, &["--timeout", "1", "-c", "pwd"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(!out.status.success());
    assert!(
        out.stderr
            .contains("timed out after 1 s waiting for the server's reply"),
        "{out:?}"
    );
}

#[test]
fn ftp_client_timeout_bounds_a_login_that_never_comes() {
    let server = FakeServer::start(|mut stream| {
        let _ = read_json(&mut stream);
        stay_silent(stream);
    });
    let start = Instant::now();
    let out = ftp_binary(&server, &["--timeout", "1", "-c", "pwd"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(
        out.stderr
            .contains("timed out after 1 s waiting for the login"),
        "{out:?}"
    );
}

#[test]
fn ftp_login_refusal_is_shown_escaped() {
    let server = FakeServer::start(|mut stream| {
        let _ = read_json(&mut stream);
        write_json(
            &mut stream,
            &json!({"status": "error", "code": "too_many_clients", "msg": ESCAPES}),
        );
        drain(&mut stream);
    });
    let out = ftp_binary(&server, &["-c", "pwd"]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("pwned"), "{out:?}");
    assert_no_raw_server_text(&out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
}

// ------------------------------------------------------------------------------------------
// 13-file-upload
// ------------------------------------------------------------------------------------------

const UPLOAD: &str = env!("CARGO_BIN_EXE_13-file-upload");

/// Runs `13-file-upload client ARGS --port PORT` in `dir`.
fn upload_client(server: &FakeServer, dir: &Path, args: &[&str]) -> common::Finished {
    let port = server.port();
    let mut all = vec!["client"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--port", &port, "--no-progress"]);
    common::run_in(UPLOAD, &all, "", &[], Some(dir))
}

/// A 13 server that reads one put whole, then answers with `reply` (raw bytes on the wire).
fn put_answered_with(reply: &'static [u8], then_reset: bool) -> FakeServer {
    FakeServer::start(move |mut stream| {
        let Some(put) = read_json(&mut stream) else {
            return;
        };
        skip(
            &mut stream,
            put.get("filesize").and_then(Value::as_u64).unwrap_or(0),
        );
        let _ = stream.write_all(reply);
        if then_reset {
            reset(stream);
        } else {
            drain(&mut stream);
        }
    })
}

#[test]
fn upload_put_takes_an_unreadable_reply_for_an_error_not_for_silence() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.txt"), b"hello").unwrap();
    let deep: &'static [u8] = {
        let json = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
        let mut frame = (json.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(json.as_bytes());
        frame.leak()
    };
    let cases: [(&str, &'static [u8], bool); 4] = [
        ("a length of 2^31-1", &[0xff, 0xff, 0xff, 0x7f], false),
        ("20,000-deep JSON", deep, false),
        ("invalid UTF-8", b"\x04\x00\x00\x00{\xff\xfe}", false),
        ("8 bytes then a reset", b"\x40\x00\x00\x00{\"status", true),
    ];
    for (what, reply, then_reset) in cases {
        let server = put_answered_with(reply, then_reset);
        let out = upload_client(&server, dir.path(), &["put", "--timeout", "5", "a.txt"]);
        assert!(!out.status.success(), "{what}: {out:?}");
        assert!(!out.stdout.contains("unconfirmed"), "{what}: {out:?}");
        assert!(out.stderr.contains("a.txt"), "{what}: {out:?}");
    }
}

#[test]
fn upload_put_refusals_are_shown_escaped() {
    let server = FakeServer::start(|mut stream| {
        let Some(put) = read_json(&mut stream) else {
            return;
        };
        skip(
            &mut stream,
            put.get("filesize").and_then(Value::as_u64).unwrap_or(0),
        );
        write_json(
            &mut stream,
            &json!({"status": "error", "code": "bad\u{1b}[2J", "msg": ESCAPES}),
        );
        drain(&mut stream);
    });
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.txt"), b"hello").unwrap();
    let out = upload_client(&server, dir.path(), &["put", "a.txt"]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("pwned"), "{out:?}");
    assert_no_raw_server_text(&out.stderr);
}

/// Peak memory of the biggest child process this test process has waited for, in KiB.
#[cfg(target_os = "linux")]
fn children_peak_kib() -> i64 {
    // SAFETY: getrusage only writes into the struct we pass; all-zero is a valid value of it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss as i64
}

#[cfg(target_os = "linux")]
#[test]
fn upload_put_memory_stays_bounded_when_the_server_floods_replies() {
    // Reads the header, never the body, and floods small "ok" replies.
    let server = FakeServer::start(|mut stream| {
        let _ = read_json(&mut stream);
        let frame = framing_bytes(&json!({"status": "ok", "size": 5, "md5": "0".repeat(32)}));
        let flood = frame.repeat(1000);
        let end = Instant::now() + Duration::from_secs(8);
        while Instant::now() < end && stream.write_all(&flood).is_ok() {}
    });
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("big.bin"), vec![7u8; 32 << 20]).unwrap();
    let out = upload_client(&server, dir.path(), &["put", "--timeout", "2", "big.bin"]);
    assert!(!out.status.success(), "{out:?}");
    let peak_mib = children_peak_kib() / 1024;
    assert!(peak_mib < 256, "a client grew to {peak_mib} MiB");
}

#[cfg(target_os = "linux")]
fn framing_bytes(value: &Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    socklab::framing::write_header(&mut bytes, value).unwrap();
    bytes
}

/// A 13 server answering a get for any name with `filesize`, then zeros without end.
fn get_announcing(filesize: u64) -> FakeServer {
    FakeServer::start(move |mut stream| {
        if read_json(&mut stream).is_none() {
            return;
        }
        write_json(
            &mut stream,
            &json!({"status": "ok", "filesize": filesize, "md5": "0".repeat(32)}),
        );
        let chunk = vec![0u8; 64 * 1024];
        while stream.write_all(&chunk).is_ok() {}
    })
}

#[test]
fn upload_get_refuses_a_size_over_max_size_before_the_first_byte() {
    let server = get_announcing(1 << 40);
    let dir = tempfile::tempdir().unwrap();
    for extra in [&["--max-size", "1M"][..], &[]] {
        let mut args = vec!["get", "huge.bin", "--timeout", "5"];
        args.extend_from_slice(extra);
        let out = upload_client(&server, dir.path(), &args);
        assert!(!out.status.success(), "{out:?}");
        assert!(out.stderr.contains("--max-size"), "{out:?}");
        assert!(
            fs::read_dir(dir.path()).unwrap().next().is_none(),
            "nothing written"
        );
    }
}

#[test]
fn upload_get_tutorial_protocols_show_refusals_escaped() {
    // name-header: a JSON header with an `error` field.
    let header = FakeServer::start(|mut stream| {
        let mut name = [0u8; 64];
        let _ = stream.read(&mut name);
        write_json(
            &mut stream,
            &json!({"name": "x", "error": ESCAPES, "file_data_len": 0}),
        );
        drain(&mut stream);
    });
    // size-ack-md5: an `error:` line instead of the size.
    let ack = FakeServer::start(|mut stream| {
        let mut request = [0u8; 64];
        let _ = stream.read(&mut request);
        let _ = stream.write_all(format!("error: {ESCAPES}\n").as_bytes());
        drain(&mut stream);
    });
    let dir = tempfile::tempdir().unwrap();
    for (server, protocol) in [(&header, "name-header"), (&ack, "size-ack-md5")] {
        let out = upload_client(server, dir.path(), &["get", "x", "--protocol", protocol]);
        assert!(!out.status.success(), "{protocol}: {out:?}");
        assert!(out.stderr.contains("pwned"), "{protocol}: {out:?}");
        assert_no_raw_server_text(&out.stderr);
    }
}

#[test]
fn upload_get_size_ack_refuses_a_huge_size_before_the_ack() {
    let (ack_tx, ack_rx) = mpsc::channel();
    let server = FakeServer::start(move |mut stream| {
        let mut request = [0u8; 64];
        let _ = stream.read(&mut request);
        let _ = stream.write_all(b"1099511627776");
        let mut ack = [0u8; 16];
        let _ = ack_tx.send(matches!(stream.read(&mut ack), Ok(n) if n > 0));
    });
    let dir = tempfile::tempdir().unwrap();
    let out = upload_client(
        &server,
        dir.path(),
        &["get", "x", "--protocol", "size-ack-md5", "--max-size", "1M"],
    );
    assert!(out.stderr.contains("--max-size"), "{out:?}");
    assert_eq!(ack_rx.recv_timeout(common::WAIT), Ok(false), "no ack sent");
}

// ------------------------------------------------------------------------------------------
// 12-auth and 09-sticky
// ------------------------------------------------------------------------------------------

#[test]
fn auth_client_timeout_bounds_the_reply_after_the_handshake() {
    // Sends a challenge, takes the answer, then never replies to the message.
    let server = FakeServer::start(|mut stream| {
        let _ = stream.write_all(&[9u8; 32]);
        let mut answer = [0u8; 64];
        let _ = stream.read(&mut answer);
        stay_silent(stream);
    });
    let port = server.port();
    let start = Instant::now();
    let out = common::run_with_env(
        env!("CARGO_BIN_EXE_12-auth"),
        &["client", "--port", &port, "--timeout", "1", "hello"],
        "",
        &[("SOCKLAB_KEY", "correct horse battery staple")],
    );
    assert!(start.elapsed() < Duration::from_secs(10), "{out:?}");
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("reply"), "{out:?}");
}

#[test]
fn sticky_client_timeout_bounds_a_send_to_a_server_that_never_reads() {
    let server = FakeServer::start(stay_silent);
    let port = server.port();
    let start = Instant::now();
    let out = common::run(
        env!("CARGO_BIN_EXE_09-sticky"),
        &[
            "client",
            "--port",
            &port,
            "--count",
            "40",
            "--size",
            "1048576",
            "--timeout",
            "1",
        ],
        "",
    );
    assert!(start.elapsed() < Duration::from_secs(10), "{out:?}");
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("timed out after 1 s"), "{out:?}");
}

#[test]
fn echo_client_refusal_line_is_shown_escaped() {
    // Answers the first message with a refusal line full of escapes, then closes.
    let server = FakeServer::start(|mut stream| {
        let mut message = [0u8; 64];
        let _ = stream.read(&mut message);
        let _ = stream.write_all(format!("error: {ESCAPES}\n").as_bytes());
    });
    let port = server.port();
    let out = common::run(
        env!("CARGO_BIN_EXE_02-echo-loop"),
        &["client", "--port", &port, "hello"],
        "",
    );
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("pwned"), "{out:?}");
    assert_no_raw_server_text(&out.stderr);
    assert_no_raw_server_text(&out.stdout);
}
