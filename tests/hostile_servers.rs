//! Clients that trust no server (issue 15): every client against fake servers that lie, stall,
//! flood, reset and send terminal escapes. The fake servers live in `common/fake_server.rs`;
//! each test says what its server does. Every client run here ends well within `common::WAIT`.

mod common;

use std::fs;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::fake_server::{
    drain, ftp_login, read_json, skip, stay_silent, write_json, FakeServer, FTP_PASSWORD,
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
            let _ = std::io::Write::write_all(&mut stream, body);
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
            while std::io::Write::write_all(&mut stream, &chunk).is_ok() {}
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
