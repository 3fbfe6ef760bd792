//! Lesson 13 over real loopback sockets: the tutorial's raw upload client, the library client and
//! the binary's client, against the real server binary in a temporary folder.

mod common;

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use common::{connect, run, ServerProcess};
use md5::{Digest, Md5};
use serde_json::{json, Value};
use socklab::lessons::file_upload::client::{get_file, put_files, ClientConfig};
use socklab::log::Log;

const BIN: &str = env!("CARGO_BIN_EXE_13-file-upload");

// ---- helpers: a raw client written the way the tutorial's Python client is ----------------

/// `struct.pack('<i', len(h)) + h` where `h` is the JSON text of `header`.
fn send_header(conn: &mut TcpStream, header: &Value) {
    let json = serde_json::to_vec(header).unwrap();
    conn.write_all(&(json.len() as i32).to_le_bytes()).unwrap();
    conn.write_all(&json).unwrap();
}

/// Sends a put header and its body, as separate sends (the tutorial sends the body line by line).
fn send_put(conn: &mut TcpStream, name: &str, body: &[u8], md5: Option<&str>) {
    let mut header = json!({"cmd": "put", "filename": name, "filesize": body.len()});
    if let Some(md5) = md5 {
        header["md5"] = json!(md5);
    }
    send_header(conn, &header);
    for piece in body.chunks(1000) {
        conn.write_all(piece).unwrap();
    }
}

/// Reads one reply header: 4 bytes of little-endian length, then that much JSON.
fn read_reply(conn: &mut TcpStream) -> Value {
    let mut len = [0u8; 4];
    conn.read_exact(&mut len).unwrap();
    let len = i32::from_le_bytes(len);
    assert!((0..=64 * 1024).contains(&len), "reply length {len}");
    let mut json = vec![0u8; len as usize];
    conn.read_exact(&mut json).unwrap();
    serde_json::from_slice(&json).unwrap()
}

fn code(reply: &Value) -> &str {
    assert_eq!(reply["status"], "error", "{reply}");
    reply["code"].as_str().unwrap()
}

/// The server has closed this connection: the next read is the end of the stream (or a reset),
/// not a timeout.
fn assert_closed(conn: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match conn.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("expected the server to close, got {other:?}"),
    }
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + seed as usize * 7) % 251) as u8)
        .collect()
}

/// The names in a folder, sorted, hidden ones included.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Stored files: the folder's names without the server's hidden digest folder. Any `.part`
/// temporary file would show up here.
fn stored(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n != ".socklab-md5")
        .collect()
}

/// A temporary folder with the server storing into `uploads/` inside it.
struct Setup {
    root: tempfile::TempDir,
    server: ServerProcess,
}

impl Setup {
    fn new(extra: &[&str]) -> Setup {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("uploads");
        let dir = dir.to_str().unwrap();
        let mut args = vec!["server", "--port", "0", "--dir", dir];
        args.extend_from_slice(extra);
        let server = ServerProcess::start(BIN, &args);
        Setup { root, server }
    }

    fn dir(&self) -> PathBuf {
        self.root.path().join("uploads")
    }

    fn connect(&self) -> TcpStream {
        connect(self.server.addr)
    }

    fn client(&self) -> ClientConfig {
        ClientConfig::new("127.0.0.1", self.server.port())
    }

    /// Writes a local file to upload, outside the upload folder.
    fn local(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let folder = self.root.path().join("local");
        fs::create_dir_all(&folder).unwrap();
        let path = folder.join(name);
        fs::write(&path, bytes).unwrap();
        path
    }
}

// ---- the tutorial's client -------------------------------------------------------------------

#[test]
fn tutorial_client_sends_two_puts_back_to_back_then_reads_both_replies() {
    let setup = Setup::new(&[]);
    let mut conn = setup.connect();
    let first = b"first file\n".to_vec();
    let second = data(5000, 1);
    // No reply is read between the two puts: the second header follows the first body directly.
    send_put(&mut conn, "a.txt", &first, None);
    send_put(&mut conn, "b.bin", &second, None);
    let one = read_reply(&mut conn);
    let two = read_reply(&mut conn);
    assert_eq!(
        one,
        json!({"status": "ok", "size": first.len(), "md5": md5_hex(&first)})
    );
    assert_eq!(
        two,
        json!({"status": "ok", "size": 5000, "md5": md5_hex(&second)})
    );
    assert_eq!(fs::read(setup.dir().join("a.txt")).unwrap(), first);
    assert_eq!(fs::read(setup.dir().join("b.bin")).unwrap(), second);
}

/// The tutorial's client exactly: it never reads a reply at all, and keeps the connection open
/// (it waits at its `>>:` prompt) until the person quits. Both files are stored. (It must not
/// close the very moment its last `send` returns: see walkthrough.md, "Pipelining".)
#[test]
fn tutorial_client_that_never_reads_a_reply_still_stores_everything() {
    let setup = Setup::new(&[]);
    let mut conn = setup.connect();
    let first = data(70_000, 5);
    let second = data(200_000, 6);
    send_put(&mut conn, "one.bin", &first, None);
    send_put(&mut conn, "two.bin", &second, None);
    // The person is still at the prompt: wait (with a timeout) until the server has stored both.
    setup.server.expect_line("put 'two.bin'");
    drop(conn);
    assert_eq!(fs::read(setup.dir().join("one.bin")).unwrap(), first);
    assert_eq!(fs::read(setup.dir().join("two.bin")).unwrap(), second);
    // ...and the server goes on serving.
    let mut conn = setup.connect();
    send_put(&mut conn, "three.txt", b"3", None);
    assert_eq!(read_reply(&mut conn)["status"], "ok");
}

/// The Python client of walkthrough.md's 13 section, run as printed (only its port changed).
#[test]
fn the_walkthrough_python_client_puts_and_gets() {
    if !common::have_python() {
        return;
    }
    let setup = Setup::new(&[]);
    let code = common::walkthrough_python("## 13-file-upload");
    assert!(code.contains("9013"), "{code}");
    let script = setup.root.path().join("client.py");
    fs::write(&script, code.replace("9013", &setup.server.port_arg())).unwrap();
    let out = run("python3", &[script.to_str().unwrap()], "");
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("'status': 'ok'"), "{out:?}");
    assert_eq!(
        fs::read(setup.dir().join("py.txt")).unwrap(),
        b"hello from python\n"
    );
}

#[test]
fn a_hundred_puts_without_reading_any_reply_do_not_wedge_the_server() {
    // 100 replies of ~80 bytes wait in the socket buffers (tens of KiB at the least), so the
    // server never blocks writing them: see the comment at the top of server.rs.
    let setup = Setup::new(&[]);
    let mut conn = setup.connect();
    for i in 0..100 {
        send_put(
            &mut conn,
            &format!("f{i}.txt"),
            format!("file {i}").as_bytes(),
            None,
        );
    }
    for i in 0..100 {
        let reply = read_reply(&mut conn);
        assert_eq!(reply["status"], "ok", "reply {i}: {reply}");
        assert_eq!(reply["md5"], md5_hex(format!("file {i}").as_bytes()));
    }
    assert_eq!(stored(&setup.dir()).len(), 100);
}

// ---- round trips ----------------------------------------------------------------------------

#[test]
fn put_and_get_are_byte_exact_from_0_bytes_to_24_mb() {
    let setup = Setup::new(&[]);
    let client = setup.client();
    let sizes = [0, 1, 3 * 1024 * 1024 + 17, 24 * 1024 * 1024];
    let files: Vec<PathBuf> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| setup.local(&format!("file{i}.bin"), &data(len, i as u8)))
        .collect();
    let outcomes = put_files(&client, &files, &Log::silent()).unwrap();
    for (i, (outcome, &len)) in outcomes.iter().zip(&sizes).enumerate() {
        let bytes = data(len, i as u8);
        let stored = outcome.result.as_ref().unwrap();
        assert_eq!(stored.size, len as u64);
        assert_eq!(stored.md5, md5_hex(&bytes));
        let name = format!("file{i}.bin");
        assert!(
            fs::read(setup.dir().join(&name)).unwrap() == bytes,
            "{name}"
        );

        let out = setup.root.path().join(format!("back{i}.bin"));
        let fetched = get_file(&client, &name, &out, &Log::silent()).unwrap();
        assert_eq!(fetched.md5, md5_hex(&bytes));
        assert!(fs::read(&out).unwrap() == bytes, "downloaded {name}");
    }
    assert_eq!(stored(&setup.dir()).len(), sizes.len());
}

#[test]
fn the_binary_client_puts_and_gets_end_to_end() {
    let setup = Setup::new(&[]);
    let port = setup.server.port_arg();
    let a = setup.local("a.txt", b"hello\n");
    let b = setup.local("b.bin", &data(100_000, 3));
    let out = run(
        BIN,
        &[
            "client",
            "put",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--port",
            &port,
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        out.stdout,
        format!(
            "a.txt  6 bytes  md5 {}\nb.bin  100000 bytes  md5 {}\n",
            md5_hex(b"hello\n"),
            md5_hex(&data(100_000, 3))
        )
    );
    setup.server.expect_line("put 'b.bin'");

    // get into a folder: saved as folder/NAME.
    let downloads = setup.root.path().join("downloads");
    fs::create_dir(&downloads).unwrap();
    let down = downloads.to_str().unwrap();
    let out = run(
        BIN,
        &["client", "get", "b.bin", "--out", down, "--port", &port],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("100000 bytes  md5"), "{}", out.stdout);
    assert!(fs::read(downloads.join("b.bin")).unwrap() == data(100_000, 3));
    // Uploaded and downloaded files get the permissions any new file gets here (0666 minus the
    // umask, like Python's open('wb')), not the 0600 of a temporary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let reference = setup.local("reference", b"");
        assert_eq!(mode(&setup.dir().join("b.bin")), mode(&reference));
        assert_eq!(mode(&downloads.join("b.bin")), mode(&reference));
    }

    // An existing file is not replaced without --force.
    let out = run(
        BIN,
        &["client", "get", "b.bin", "--out", down, "--port", &port],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("already exists (use --force"),
        "{}",
        out.stderr
    );
    let out = run(
        BIN,
        &[
            "client", "get", "b.bin", "--out", down, "--force", "--port", &port,
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");

    // A missing file is one clear line and exit 1; nothing is created.
    let missing = setup.root.path().join("missing.txt");
    let out = run(
        BIN,
        &[
            "client",
            "get",
            "nope.txt",
            "--out",
            missing.to_str().unwrap(),
            "--port",
            &port,
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("not_found"), "{}", out.stderr);
    assert!(!missing.exists());
    assert_eq!(names(&downloads), ["b.bin"]);
}

#[test]
fn the_binary_client_can_send_the_tutorials_header_without_md5() {
    let setup = Setup::new(&[]);
    let a = setup.local("plain.txt", b"no md5 in the header");
    let out = run(
        BIN,
        &[
            "client",
            "put",
            "--no-md5",
            "--show-headers",
            a.to_str().unwrap(),
            "--port",
            &setup.server.port_arg(),
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr
            .contains(r#"send {"cmd":"put","filename":"plain.txt","filesize":20}"#),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(r#""status":"ok""#), "{}", out.stderr);
}

#[test]
fn a_local_file_with_a_refused_name_is_reported_and_the_others_still_go() {
    let setup = Setup::new(&[]);
    let hidden = setup.local(".hidden", b"secret");
    let fine = setup.local("fine.txt", b"fine");
    let out = run(
        BIN,
        &[
            "client",
            "put",
            hidden.to_str().unwrap(),
            fine.to_str().unwrap(),
            "--port",
            &setup.server.port_arg(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stdout.starts_with("fine.txt  4 bytes"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("starts with '.'"), "{}", out.stderr);
    assert!(
        out.stderr.contains("1 of 2 file(s) not stored"),
        "{}",
        out.stderr
    );
    assert_eq!(stored(&setup.dir()), ["fine.txt"]);
}

#[test]
fn several_clients_upload_at_once() {
    let setup = Setup::new(&[]);
    let files: Vec<PathBuf> = (0..4)
        .map(|i| setup.local(&format!("c{i}.bin"), &data(1 << 20, i)))
        .collect();
    std::thread::scope(|scope| {
        for file in &files {
            let client = setup.client();
            scope.spawn(move || {
                let outcome = put_files(&client, std::slice::from_ref(file), &Log::silent());
                assert!(outcome.unwrap()[0].result.is_ok());
            });
        }
    });
    for i in 0..4u8 {
        assert!(fs::read(setup.dir().join(format!("c{i}.bin"))).unwrap() == data(1 << 20, i));
    }
}

// ---- hostile and broken clients -------------------------------------------------------------

#[test]
fn bad_names_are_refused_and_nothing_is_created_outside_the_folder() {
    let setup = Setup::new(&[]);
    let long = "x".repeat(300);
    for name in [
        "../x",
        "a/b",
        "a\\b",
        "",
        "..",
        ".",
        "x\0y",
        "/etc/passwd",
        "..\\..\\x",
        ".socklab-md5",
        long.as_str(),
    ] {
        let mut conn = setup.connect();
        send_put(&mut conn, name, b"owned", None);
        let reply = read_reply(&mut conn);
        assert_eq!(code(&reply), "bad_name", "{name:?}: {reply}");
        // The 5 body bytes were not read, so the server closed the connection, as its msg says.
        assert!(
            reply["msg"]
                .as_str()
                .unwrap()
                .contains("closes this connection"),
            "{reply}"
        );
        assert_closed(&mut conn);
    }
    assert_eq!(names(setup.root.path()), ["uploads"]);
    assert_eq!(names(&setup.dir()), [".socklab-md5"]);
    assert!(names(&setup.dir().join(".socklab-md5")).is_empty());

    // A get has no body: a bad name is refused and the connection carries on.
    let mut conn = setup.connect();
    send_header(
        &mut conn,
        &json!({"cmd": "get", "filename": "../../etc/passwd"}),
    );
    assert_eq!(code(&read_reply(&mut conn)), "bad_name");
    send_header(&mut conn, &json!({"cmd": "get", "filename": "ok.txt"}));
    assert_eq!(code(&read_reply(&mut conn)), "not_found");
}

#[test]
fn a_wrong_md5_stores_nothing_and_keeps_the_old_file() {
    let setup = Setup::new(&[]);
    let mut conn = setup.connect();
    send_put(&mut conn, "a.txt", b"old contents", None);
    assert_eq!(read_reply(&mut conn)["status"], "ok");

    send_put(
        &mut conn,
        "a.txt",
        b"new contents",
        Some(&md5_hex(b"something else")),
    );
    let reply = read_reply(&mut conn);
    assert_eq!(code(&reply), "md5_mismatch", "{reply}");
    assert_eq!(
        fs::read(setup.dir().join("a.txt")).unwrap(),
        b"old contents"
    );
    assert_eq!(stored(&setup.dir()), ["a.txt"]);

    // The body was read in full, so the same connection goes on: get returns the old file.
    send_header(&mut conn, &json!({"cmd": "get", "filename": "a.txt"}));
    let reply = read_reply(&mut conn);
    assert_eq!(
        reply,
        json!({"status": "ok", "filesize": 12, "md5": md5_hex(b"old contents")})
    );
    let mut body = [0u8; 12];
    conn.read_exact(&mut body).unwrap();
    assert_eq!(&body, b"old contents");

    // And the right md5 is accepted.
    send_put(
        &mut conn,
        "a.txt",
        b"new contents",
        Some(&md5_hex(b"new contents")),
    );
    assert_eq!(read_reply(&mut conn)["status"], "ok");
    assert_eq!(
        fs::read(setup.dir().join("a.txt")).unwrap(),
        b"new contents"
    );
}

#[test]
fn a_client_that_vanishes_mid_upload_leaves_nothing_behind() {
    let setup = Setup::new(&[]);
    let mut conn = setup.connect();
    send_put(&mut conn, "keep.txt", b"precious", None);
    assert_eq!(read_reply(&mut conn)["status"], "ok");
    drop(conn);

    // A new file, cut off after 100 000 of 1 000 000 bytes.
    let mut conn = setup.connect();
    send_header(
        &mut conn,
        &json!({"cmd": "put", "filename": "big.bin", "filesize": 1_000_000}),
    );
    conn.write_all(&data(100_000, 9)).unwrap();
    drop(conn);
    // The server logs this after the handler returned, i.e. after the temporary file was
    // deleted: waiting for the line makes the check below deterministic.
    setup
        .server
        .expect_line("vanished after 100000 of the 1000000 bytes of 'big.bin'; nothing stored");

    // A replacement of an existing file, cut off the same way.
    let mut conn = setup.connect();
    send_header(
        &mut conn,
        &json!({"cmd": "put", "filename": "keep.txt", "filesize": 50}),
    );
    conn.write_all(b"half").unwrap();
    drop(conn);
    setup
        .server
        .expect_line("vanished after 4 of the 50 bytes of 'keep.txt'");

    assert_eq!(stored(&setup.dir()), ["keep.txt"]);
    assert_eq!(fs::read(setup.dir().join("keep.txt")).unwrap(), b"precious");
    assert_eq!(names(&setup.dir().join(".socklab-md5")), ["keep.txt"]);

    // The server still serves.
    let mut conn = setup.connect();
    send_put(&mut conn, "after.txt", b"x", None);
    assert_eq!(read_reply(&mut conn)["status"], "ok");
}

#[test]
fn malformed_headers_get_bad_request_and_the_server_serves_on() {
    let setup = Setup::new(&[]);
    let frame = |payload: &[u8]| {
        let mut bytes = (payload.len() as i32).to_le_bytes().to_vec();
        bytes.extend_from_slice(payload);
        bytes
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", frame(b"{not json")),
        ("not an object", frame(b"[1, 2]")),
        (
            "negative filesize",
            frame(br#"{"cmd":"put","filename":"a","filesize":-1}"#),
        ),
        (
            "missing filesize",
            frame(br#"{"cmd":"put","filename":"a"}"#),
        ),
        ("missing cmd", frame(br#"{"filename":"a"}"#)),
        ("header over 64 KiB", {
            let mut bytes = 100_000i32.to_le_bytes().to_vec();
            bytes.extend_from_slice(b"{\"cmd\":");
            bytes
        }),
        ("negative header length", b"\xff\xff\xff\xff{}".to_vec()),
    ];
    for (what, bytes) in cases {
        let mut conn = setup.connect();
        conn.write_all(&bytes).unwrap();
        let reply = read_reply(&mut conn);
        assert_eq!(code(&reply), "bad_request", "{what}: {reply}");
        assert_closed(&mut conn);
    }
    assert_eq!(stored(&setup.dir()), Vec::<String>::new());

    let mut conn = setup.connect();
    send_put(&mut conn, "fine.txt", b"still serving", None);
    assert_eq!(read_reply(&mut conn)["status"], "ok");
}

#[test]
fn unknown_commands_and_missing_files_are_answered_and_the_connection_goes_on() {
    let setup = Setup::new(&[]);
    let mut conn = setup.connect();
    send_header(&mut conn, &json!({"cmd": "ls"}));
    assert_eq!(code(&read_reply(&mut conn)), "unknown_command");
    send_header(&mut conn, &json!({"cmd": "get", "filename": "nope.txt"}));
    assert_eq!(code(&read_reply(&mut conn)), "not_found");
    send_put(&mut conn, "yes.txt", b"ok", None);
    assert_eq!(read_reply(&mut conn)["status"], "ok");
}

#[test]
fn too_large_is_refused_before_any_body_byte_is_sent() {
    let setup = Setup::new(&["--max-file-size", "1K"]);
    let mut conn = setup.connect();
    // Only the header: the reply comes without a single body byte, so the check happens first.
    send_header(
        &mut conn,
        &json!({"cmd": "put", "filename": "big.bin", "filesize": 1025}),
    );
    let reply = read_reply(&mut conn);
    assert_eq!(code(&reply), "too_large", "{reply}");
    assert_closed(&mut conn);

    // The binary's client reports it for that file.
    let big = setup.local("big.bin", &data(5000, 2));
    let out = run(
        BIN,
        &[
            "client",
            "put",
            big.to_str().unwrap(),
            "--port",
            &setup.server.port_arg(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("too_large"), "{}", out.stderr);
    assert_eq!(stored(&setup.dir()), Vec::<String>::new());
}

#[test]
fn past_max_clients_the_refusal_is_a_json_error_frame() {
    let setup = Setup::new(&["--max-clients", "1"]);
    let mut first = setup.connect();
    // A reply proves the first connection is admitted and counted.
    send_header(&mut first, &json!({"cmd": "get", "filename": "none"}));
    assert_eq!(code(&read_reply(&mut first)), "not_found");

    let mut second = setup.connect();
    let reply = read_reply(&mut second);
    assert_eq!(code(&reply), "too_many_clients", "{reply}");

    let target = setup.root.path().join("busy.out");
    let out = run(
        BIN,
        &[
            "client",
            "get",
            "none",
            "--out",
            target.to_str().unwrap(),
            "--port",
            &setup.server.port_arg(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("server is busy"), "{}", out.stderr);
    assert_eq!(
        names(setup.root.path()),
        ["uploads"],
        "no file, no temporary file"
    );
    drop(first);
}

#[test]
fn a_silent_client_is_disconnected_after_the_idle_timeout() {
    let setup = Setup::new(&["--idle-timeout", "1"]);
    let mut conn = setup.connect();
    // The test's own read timeout is 20 s: end of stream long before it means the server hung up.
    assert_closed(&mut conn);
    setup
        .server
        .expect_line("silent for longer than the idle timeout");
}

#[test]
fn a_trickled_header_cannot_outlast_the_idle_timeout() {
    // Every read is quick (a byte every 50 ms), the header is not: the deadline for the whole
    // frame ends it, not a per-read timeout.
    let setup = Setup::new(&["--idle-timeout", "1"]);
    let mut conn = setup.connect();
    let mut writer = conn.try_clone().unwrap();
    let trickler = std::thread::spawn(move || {
        let _ = writer.write_all(&60_000i32.to_le_bytes());
        let until = std::time::Instant::now() + common::WAIT;
        while std::time::Instant::now() < until && writer.write_all(b"{").is_ok() {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    assert_closed(&mut conn);
    setup
        .server
        .expect_line("silent for longer than the idle timeout");
    drop(conn);
    trickler.join().unwrap();
}

// ---- the recorded md5 ------------------------------------------------------------------------

#[test]
fn get_recomputes_the_md5_of_a_file_changed_or_added_by_hand() {
    let setup = Setup::new(&[]);
    let client = setup.client();
    let a = setup.local("a.txt", b"AAAA");
    put_files(&client, &[a], &Log::silent()).unwrap()[0]
        .result
        .clone()
        .unwrap();

    // Same size, new contents, a different time: the record no longer describes the file.
    let stored_a = setup.dir().join("a.txt");
    fs::write(&stored_a, b"BBBB").unwrap();
    let file = fs::File::options().write(true).open(&stored_a).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(10))
        .unwrap();
    drop(file);
    let out = setup.root.path().join("a.out");
    let fetched = get_file(&client, "a.txt", &out, &Log::silent()).unwrap();
    assert_eq!(fetched.md5, md5_hex(b"BBBB"));
    assert_eq!(fs::read(&out).unwrap(), b"BBBB");

    // A file copied in by hand has no record at all.
    fs::write(setup.dir().join("manual.txt"), b"by hand").unwrap();
    let out = setup.root.path().join("manual.out");
    let fetched = get_file(&client, "manual.txt", &out, &Log::silent()).unwrap();
    assert_eq!(fetched.md5, md5_hex(b"by hand"));
}

#[cfg(unix)]
#[test]
fn a_planted_symlink_is_not_followed() {
    let setup = Setup::new(&[]);
    let secret = setup.local("secret.txt", b"do not serve");
    fs::create_dir_all(setup.dir()).unwrap();
    std::os::unix::fs::symlink(&secret, setup.dir().join("link.txt")).unwrap();
    let mut conn = setup.connect();
    send_header(&mut conn, &json!({"cmd": "get", "filename": "link.txt"}));
    assert_eq!(code(&read_reply(&mut conn)), "not_found");
}

#[test]
fn a_corrupt_download_is_deleted_not_saved() {
    // A fake server that announces the wrong md5: the client must refuse to keep the file.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut len = [0u8; 4];
        conn.read_exact(&mut len).unwrap();
        let mut header = vec![0u8; i32::from_le_bytes(len) as usize];
        conn.read_exact(&mut header).unwrap();
        send_header(
            &mut conn,
            &json!({"status": "ok", "filesize": 5, "md5": md5_hex(b"other")}),
        );
        conn.write_all(b"hello").unwrap();
    });
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("x.txt");
    let err = get_file(
        &ClientConfig::new("127.0.0.1", port),
        "x.txt",
        &out,
        &Log::silent(),
    )
    .unwrap_err();
    fake.join().unwrap();
    assert!(err.to_string().contains("corrupt"), "{err}");
    assert!(names(root.path()).is_empty(), "{:?}", names(root.path()));
}

#[test]
fn a_put_refused_by_a_busy_server_fails_as_a_whole() {
    let setup = Setup::new(&["--max-clients", "1"]);
    let mut first = setup.connect();
    send_header(&mut first, &json!({"cmd": "get", "filename": "none"}));
    assert_eq!(code(&read_reply(&mut first)), "not_found");
    let a = setup.local("a.txt", b"a");
    // The server writes the refusal and closes at once, possibly with our header unread (a reset).
    // The client's reply thread still gets the refusal: it was received before the reset, and
    // already-received bytes stay readable (on Linux, where CI runs).
    let err = put_files(&setup.client(), &[a], &Log::silent()).unwrap_err();
    assert!(err.to_string().contains("server is busy"), "{err}");
}

// ---- servers that never reply (tutorial 004's MYTCPServer) ---------------------------------

/// What a tutorial-004-style server received: each put's filename and bytes.
type Received = Vec<(String, Vec<u8>)>;

/// Plays tutorial 004's server for one connection: reads puts (4-byte length, JSON header, then
/// exactly `filesize` bytes) until the end of the stream, and never replies. `replies` puts
/// socklab-style ok replies for the first that many puts (a server that stops answering).
/// `keep_open`: like the single-threaded MYTCPServer, keep the socket after the end of the stream.
fn silent_upload_server(
    replies: usize,
    keep_open: bool,
) -> (u16, std::thread::JoinHandle<Received>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        let mut conn = common::accept(&listener);
        let mut got = Received::new();
        loop {
            let mut len = [0u8; 4];
            if conn.read_exact(&mut len).is_err() {
                break;
            }
            let mut header = vec![0u8; i32::from_le_bytes(len) as usize];
            conn.read_exact(&mut header).unwrap();
            let header: Value = serde_json::from_slice(&header).unwrap();
            let mut body = vec![0u8; header["filesize"].as_u64().unwrap() as usize];
            conn.read_exact(&mut body).unwrap();
            if got.len() < replies {
                let reply = json!({"status": "ok", "size": body.len(), "md5": md5_hex(&body)});
                send_header(&mut conn, &reply);
            }
            got.push((header["filename"].as_str().unwrap().to_string(), body));
        }
        if keep_open {
            // The single-threaded server goes back to accept() and keeps this socket: the client
            // sees no end of the stream, only its own --timeout.
            let mut rest = Vec::new();
            let _ = conn.read_to_end(&mut rest);
        }
        got
    });
    (port, thread)
}

#[test]
fn put_to_a_server_that_closes_without_replying_is_sent_unconfirmed_exit_0() {
    let setup = Setup::new(&[]);
    let data = data(4 << 20, 7);
    let file = setup.local("a.txt", &data);
    let (port, server) = silent_upload_server(0, false);
    let out = run(
        BIN,
        &[
            "client",
            "put",
            "--port",
            &port.to_string(),
            file.to_str().unwrap(),
        ],
        "",
    );
    let got = server.join().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        out.stdout,
        format!(
            "a.txt  {} bytes  md5 {}  (sent; unconfirmed)\n",
            data.len(),
            md5_hex(&data)
        )
    );
    assert!(
        out.stderr.starts_with(
            "note: a.txt: sent 4 MiB; the server sent no confirmation, as the tutorial's server \
             never does (socklab's server confirms every file)\nsent 4194304 bytes in "
        ),
        "{}",
        out.stderr
    );
    assert_eq!(got, vec![("a.txt".to_string(), data)]);
}

#[test]
fn put_to_a_server_that_never_replies_nor_closes_ends_at_the_timeout_unconfirmed() {
    let setup = Setup::new(&[]);
    let file = setup.local("b.txt", b"hello");
    let (port, server) = silent_upload_server(0, true);
    let out = run(
        BIN,
        &[
            "client",
            "put",
            "--port",
            &port.to_string(),
            "--timeout",
            "0.5",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.ends_with("(sent; unconfirmed)\n"), "{out:?}");
    assert_eq!(server.join().unwrap().len(), 1);
}

/// A server that answered once speaks socklab's protocol: a missing later reply is a failure.
#[test]
fn a_server_that_replied_once_and_then_stops_is_still_checked() {
    let setup = Setup::new(&[]);
    let one = setup.local("one.txt", b"first");
    let two = setup.local("two.txt", b"second");
    let (port, server) = silent_upload_server(1, false);
    let out = run(
        BIN,
        &[
            "client",
            "put",
            "--port",
            &port.to_string(),
            one.to_str().unwrap(),
            two.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(server.join().unwrap().len(), 2);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        out.stdout,
        format!("one.txt  5 bytes  md5 {}\n", md5_hex(b"first"))
    );
    assert!(
        out.stderr
            .contains("two.txt: no reply: the server closed the connection"),
        "{}",
        out.stderr
    );
}

// ---- the tutorials' earlier downloads: --protocol name-header and size-ack-md5 -------------

/// A server speaking `protocol`, with `files` already stored in its folder.
fn download_setup(protocol: &str, files: &[(&str, &[u8])]) -> Setup {
    let setup = Setup::new(&["--protocol", protocol]);
    // The server created the folder before it printed its listening line.
    for (name, bytes) in files {
        fs::write(setup.dir().join(name), bytes).unwrap();
    }
    setup
}

/// Tutorial 001 §6.5's client: send the bare name; recv(4); the JSON header; the bytes.
fn name_header_get(conn: &mut TcpStream, name: &str) -> (Value, Vec<u8>) {
    conn.write_all(name.as_bytes()).unwrap();
    let mut len = [0u8; 4];
    conn.read_exact(&mut len).unwrap();
    let mut header = vec![0u8; i32::from_le_bytes(len) as usize];
    conn.read_exact(&mut header).unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    let mut body = vec![0u8; header["file_data_len"].as_u64().unwrap() as usize];
    conn.read_exact(&mut body).unwrap();
    (header, body)
}

#[test]
fn name_header_download_matches_tutorial_001s_client() {
    let big = data(3 << 20, 3);
    let setup = download_setup("name-header", &[("a.bin", &big), ("empty", b"")]);
    let mut conn = setup.connect();
    let (header, body) = name_header_get(&mut conn, "a.bin");
    assert_eq!(
        header,
        json!({"name": "a.bin", "md5": md5_hex(&big), "file_data_len": big.len()})
    );
    assert_eq!(body, big);
    // Lock-step: the next bare name on the same connection.
    let (header, body) = name_header_get(&mut conn, "empty");
    assert_eq!(header["file_data_len"], 0);
    assert_eq!(body, b"");
    // A path, or a name that is not stored: a header with an error, and the connection goes on.
    for bad in ["../../etc/passwd", "/etc/passwd", "missing.txt"] {
        let (header, body) = name_header_get(&mut conn, bad);
        assert!(header["error"].is_string(), "{header}");
        assert_eq!(body, b"");
    }
    let (_, body) = name_header_get(&mut conn, "a.bin");
    assert_eq!(body, big);
}

/// Tutorial 000 §4's client: `get NAME`; recv the size; send an ack; exactly size bytes; the md5.
fn size_ack_get(conn: &mut TcpStream, name: &str) -> Result<(Vec<u8>, String), String> {
    conn.write_all(format!("get {name}").as_bytes()).unwrap();
    let mut size = [0u8; 1024];
    let n = common::read_once(conn, &mut size).unwrap();
    let size = std::str::from_utf8(&size[..n]).unwrap();
    let size: usize = size.parse().map_err(|_| size.to_string())?;
    conn.write_all(b"i am ready to recv file").unwrap();
    let mut body = vec![0u8; size];
    conn.read_exact(&mut body).unwrap();
    let mut md5 = [0u8; 32];
    conn.read_exact(&mut md5).unwrap();
    Ok((body, String::from_utf8(md5.to_vec()).unwrap()))
}

#[test]
fn size_ack_md5_download_matches_tutorial_000s_client() {
    let big = data(2 << 20, 5);
    let setup = download_setup("size-ack-md5", &[("b.bin", &big), ("empty", b"")]);
    let mut conn = setup.connect();
    assert_eq!(
        size_ack_get(&mut conn, "b.bin"),
        Ok((big.clone(), md5_hex(&big)))
    );
    assert_eq!(
        size_ack_get(&mut conn, "empty"),
        Ok((Vec::new(), md5_hex(b"")))
    );
    // A refusal is a line where the digits would be; the connection goes on.
    let refused = size_ack_get(&mut conn, "../secret").unwrap_err();
    assert!(refused.starts_with("error: "), "{refused}");
    let refused = size_ack_get(&mut conn, "missing").unwrap_err();
    assert!(
        refused.starts_with("error: no file named 'missing'"),
        "{refused}"
    );
    assert_eq!(size_ack_get(&mut conn, "b.bin").unwrap().0, big);
}

#[test]
fn the_binary_client_gets_with_both_older_protocols() {
    let big = data(1 << 20, 9);
    for protocol in ["name-header", "size-ack-md5"] {
        let setup = download_setup(protocol, &[("c.bin", &big)]);
        let out_dir = setup.root.path().join("downloads");
        fs::create_dir_all(&out_dir).unwrap();
        let out = run(
            BIN,
            &[
                "client",
                "get",
                "c.bin",
                "--protocol",
                protocol,
                "--port",
                &setup.server.port_arg(),
                "--out",
                out_dir.to_str().unwrap(),
            ],
            "",
        );
        assert!(out.status.success(), "{protocol}: {out:?}");
        assert_eq!(fs::read(out_dir.join("c.bin")).unwrap(), big, "{protocol}");
        let out = run(
            BIN,
            &[
                "client",
                "get",
                "nope.bin",
                "--protocol",
                protocol,
                "--port",
                &setup.server.port_arg(),
                "--out",
                out_dir.to_str().unwrap(),
            ],
            "",
        );
        assert_eq!(out.status.code(), Some(1), "{protocol}: {out:?}");
        assert!(
            out.stderr
                .contains("no file named 'nope.bin' is stored here"),
            "{protocol}: {}",
            out.stderr
        );
        assert!(!out_dir.join("nope.bin").exists());
    }
}

// ---- the md5 after the body (a trailer), socklab's client and server only ----------------------

/// A trailer put: the header says `"md5": "trailer"`, the server answers `ready` before reading
/// the body, and the md5 frame follows the body.
fn send_trailer_put(conn: &mut TcpStream, name: &str, body: &[u8]) {
    send_header(
        conn,
        &json!({"cmd": "put", "filename": name, "filesize": body.len(), "md5": "trailer"}),
    );
    for piece in body.chunks(1000) {
        conn.write_all(piece).unwrap();
    }
}

#[test]
fn a_trailer_put_is_answered_ready_and_stored_once_its_trailer_matches() {
    let setup = Setup::new(&[]);
    let mut conn = setup.connect();
    let body = data(5000, 3);
    send_trailer_put(&mut conn, "t.bin", &body);
    assert_eq!(read_reply(&mut conn), json!({"status": "ready"}));
    assert_eq!(
        stored(&setup.dir()).len(),
        1,
        "only the temporary file so far"
    );
    send_header(&mut conn, &json!({"md5": md5_hex(&body).to_uppercase()}));
    let reply = read_reply(&mut conn);
    assert_eq!(
        reply,
        json!({"status": "ok", "size": 5000, "md5": md5_hex(&body)})
    );
    assert!(fs::read(setup.dir().join("t.bin")).unwrap() == body);
    assert_eq!(stored(&setup.dir()), ["t.bin"]);
}

#[test]
fn a_lying_trailer_stores_nothing_and_keeps_the_old_file() {
    let setup = Setup::new(&[]);
    let mut conn = setup.connect();
    send_put(&mut conn, "a.txt", b"old contents", None);
    assert_eq!(read_reply(&mut conn)["status"], "ok");

    send_trailer_put(&mut conn, "a.txt", b"new contents");
    assert_eq!(read_reply(&mut conn)["status"], "ready");
    send_header(&mut conn, &json!({"md5": md5_hex(b"something else")}));
    let reply = read_reply(&mut conn);
    assert_eq!(code(&reply), "md5_mismatch", "{reply}");
    assert_eq!(
        fs::read(setup.dir().join("a.txt")).unwrap(),
        b"old contents"
    );
    assert_eq!(
        stored(&setup.dir()),
        ["a.txt"],
        "the partial file is removed"
    );

    // The trailer was read, so the connection goes on.
    send_header(&mut conn, &json!({"cmd": "get", "filename": "a.txt"}));
    assert_eq!(read_reply(&mut conn)["md5"], md5_hex(b"old contents"));
}

#[test]
fn a_malformed_or_missing_trailer_stores_nothing() {
    let setup = Setup::new(&[]);
    let mut conn = setup.connect();
    send_trailer_put(&mut conn, "a.txt", b"contents");
    assert_eq!(read_reply(&mut conn)["status"], "ready");
    send_header(&mut conn, &json!({"md5": "not hex"}));
    assert_eq!(code(&read_reply(&mut conn)), "bad_request");
    assert_closed(&mut conn);
    assert!(
        stored(&setup.dir()).is_empty(),
        "{:?}",
        stored(&setup.dir())
    );

    // A client that leaves after the body, before its trailer: nothing is stored either.
    let mut conn = setup.connect();
    send_trailer_put(&mut conn, "b.txt", b"contents");
    assert_eq!(read_reply(&mut conn)["status"], "ready");
    drop(conn);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !stored(&setup.dir()).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        stored(&setup.dir()).is_empty(),
        "{:?}",
        stored(&setup.dir())
    );
}

#[test]
fn the_client_sends_a_large_file_with_its_md5_in_a_trailer() {
    use socklab::lessons::file_upload::client::TRAILER_FROM;
    let setup = Setup::new(&[]);
    let len = TRAILER_FROM as usize + 5;
    let bytes = data(len, 9);
    let local = setup.local("big.bin", &bytes);
    let (wire, lines) = Log::channel();
    let outcomes = put_files(&setup.client(), &[local], &wire).unwrap();
    let stored_file = outcomes[0].result.as_ref().unwrap();
    assert!(stored_file.confirmed);
    assert_eq!(stored_file.md5, md5_hex(&bytes));
    assert!(fs::read(setup.dir().join("big.bin")).unwrap() == bytes);
    let wire: Vec<String> = lines.try_iter().collect();
    let wire = wire.join("\n");
    assert!(wire.contains("\"md5\":\"trailer\""), "{wire}");
    assert!(wire.contains("recv {\"status\":\"ready\"}"), "{wire}");
    assert!(
        wire.contains(&format!("send {{\"md5\":\"{}\"}}", md5_hex(&bytes))),
        "{wire}"
    );
}
