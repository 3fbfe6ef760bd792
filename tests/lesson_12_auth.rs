//! Lesson 12 (client validation with an HMAC challenge) over real loopback sockets.

mod common;

use std::io::{Cursor, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};

use common::{connect, run_with_env, ServerProcess, WAIT};
use hmac::{Hmac, Mac};
use socklab::lessons::auth::{
    run_server, AuthError, ClientConfig, Digest, Key, Replies, ServerConfig, Session,
};
use socklab::log::Log;
use socklab::server::Background;
use socklab::trace::Tracer;

const BIN: &str = env!("CARGO_BIN_EXE_12-auth");
const KEY: &str = "correct horse battery staple";

/// A key file holding `KEY` and a trailing newline (which the server must ignore).
fn key_file() -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "{KEY}").unwrap();
    file
}

/// An echoing server with the key from a file; extra arguments appended.
fn start_server(extra: &[&str]) -> (ServerProcess, tempfile::NamedTempFile) {
    let file = key_file();
    let path = file.path().to_str().unwrap().to_string();
    let mut args = vec!["server", "--port", "0", "--echo", "--key-file", &path];
    args.extend_from_slice(extra);
    (ServerProcess::start(BIN, &args), file)
}

/// Runs the client binary with the key in SOCKLAB_KEY.
fn client(server: &ServerProcess, key: &str, extra: &[&str]) -> common::Finished {
    let port = server.port_arg();
    let mut args = vec!["client", "--port", &port];
    args.extend_from_slice(extra);
    run_with_env(BIN, &args, "", &[("SOCKLAB_KEY", key)])
}

fn sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// What a Python client does first: `challenge = s.recv(32)`, in a loop until all 32 are in.
fn read_challenge(conn: &mut TcpStream) -> [u8; 32] {
    let mut challenge = [0u8; 32];
    conn.read_exact(&mut challenge).unwrap();
    challenge
}

/// `struct.pack('<i', len(payload)) + payload`
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut wire = (payload.len() as i32).to_le_bytes().to_vec();
    wire.extend_from_slice(payload);
    wire
}

fn read_frame(conn: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    conn.read_exact(&mut len).unwrap();
    let mut payload = vec![0u8; i32::from_le_bytes(len) as usize];
    conn.read_exact(&mut payload).unwrap();
    payload
}

/// Everything the peer still sends before it closes; a reset counts as "closed, nothing more".
fn rest_of_stream(conn: &mut TcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    match conn.read_to_end(&mut rest) {
        Ok(_) => rest,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => rest,
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn the_right_key_with_sha256_gets_a_conversation() {
    let (server, _key) = start_server(&[]);
    let out = client(&server, KEY, &["hello", "你好 world"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "HELLO\n你好 WORLD\n");
    assert_eq!(
        out.stderr,
        "answered the challenge with hmac-sha256; a server that refuses us closes the \
         connection, which shows on our first message\n"
    );
    server.expect_line("authenticated (hmac-sha256)");
    server.expect_line("says: hello");
    server.expect_line("replied to");
}

#[test]
fn the_client_picture_labels_the_challenge_the_answer_and_the_frames() {
    let (server, _key) = start_server(&["--digest", "md5"]);
    let dir = tempfile::tempdir().unwrap();
    let picture = dir.path().join("client.svg");
    let picture_arg = picture.to_str().unwrap();
    let out = client(
        &server,
        KEY,
        &["--digest", "md5", "--picture", picture_arg, "hello"],
    );
    assert!(out.status.success(), "{out:?}");
    let svg = std::fs::read_to_string(&picture).unwrap();
    // The 32 random bytes and the 16-byte MD5 answer are named, not shown as bytes.
    assert!(svg.contains(" challenge</text>"), "{svg}");
    assert!(svg.contains(" HMAC answer</text>"), "{svg}");
    // Each frame is a length header (hatched) and its payload.
    assert!(svg.contains(">len<"), "{svg}");
    assert!(svg.contains("4-byte length header"), "{svg}");
    assert!(
        svg.contains(" hello</text>") && svg.contains(" HELLO</text>"),
        "{svg}"
    );
    assert!(
        svg.contains("✓ right: 2 messages sent, 2 received whole"),
        "{svg}"
    );
}

#[test]
fn the_right_key_with_md5_gets_a_conversation() {
    let (server, _key) = start_server(&["--digest", "md5"]);
    let out = client(&server, KEY, &["--digest", "md5", "hello"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "HELLO\n");
    server.expect_line("authenticated (hmac-md5)");
}

#[test]
fn a_wrong_key_is_refused_and_the_server_keeps_serving() {
    let (server, _key) = start_server(&[]);
    let out = client(&server, "a guess", &["hello"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(out.stdout, "");
    // Without --welcome the refusal shows on the first message: the client has said that it
    // answered, then it says it was refused.
    assert!(
        out.stderr.ends_with(
            "\nerror: the server refused us: it closed the connection after our answer to its \
             challenge (wrong key, or a different --digest than the server's?)\n"
        ),
        "{}",
        out.stderr
    );
    server.expect_line("dropped: refused: wrong answer to the challenge");
    let out = client(&server, KEY, &["still here"]);
    assert_eq!(out.stdout, "STILL HERE\n");
}

#[test]
fn a_client_with_another_digest_is_refused() {
    // A sha256 client sends 32 bytes to a server that reads a 16-byte md5 answer: wrong answer.
    let (server, _key) = start_server(&["--digest", "md5"]);
    let out = client(&server, KEY, &["hello"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("the server refused us"),
        "{}",
        out.stderr
    );
    server.expect_line("refused: wrong answer to the challenge (wrong key, or not hmac-md5)");
    // An md5 client sends 16 bytes to a server waiting for 32, then its first message (a 4-byte
    // length and "hello"): 25 bytes, still short of 32, so refused when the time is up.
    let (server, _key) = start_server(&["--auth-timeout", "0.3"]);
    let out = client(&server, KEY, &["--digest", "md5", "hello"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("the server refused us"),
        "{}",
        out.stderr
    );
    server.expect_line("refused: only 25 of the 32 bytes of its answer within 0.3 s");
}

#[test]
fn a_client_that_sends_nothing_is_refused_by_timeout() {
    let (server, _key) = start_server(&["--auth-timeout", "0.3"]);
    let mut conn = connect(server.addr);
    let challenge = read_challenge(&mut conn);
    assert_ne!(challenge, [0u8; 32]);
    // We say nothing; the server gives up after 0.3 s and closes: end of stream, no frame.
    assert_eq!(rest_of_stream(&mut conn), b"");
    server.expect_line("dropped: refused: no answer within 0.3 s (--auth-timeout)");
}

#[test]
fn a_refused_client_never_reaches_the_conversation() {
    let (server, _key) = start_server(&[]);
    let mut conn = connect(server.addr);
    let challenge = read_challenge(&mut conn);
    // A wrong answer, and a conversation frame right behind it without waiting for a welcome.
    let mut wire = sha256(b"a guess", &challenge);
    wire.extend_from_slice(&frame(b"secret"));
    conn.write_all(&wire).unwrap();
    // Nothing comes back: no welcome, no reply.
    assert_eq!(rest_of_stream(&mut conn), b"");
    let mut seen = Vec::new();
    loop {
        let line = server.expect_line("");
        if line.contains("dropped: refused") {
            break;
        }
        seen.push(line);
    }
    // The refusal ends that client's thread, so nothing of its can be logged after it.
    assert!(
        seen.iter()
            .all(|l| !l.contains("secret") && !l.contains("says")),
        "{seen:?}"
    );
}

fn md5(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<md5::Md5>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// The tutorial's client, byte for byte as the walkthrough's Python: recv the challenge, send
/// `hmac.new(KEY, challenge, digest).digest()` (`mac`), then struct-packed frames.
fn python_style_conversation(addr: SocketAddr, mac: fn(&[u8], &[u8]) -> Vec<u8>) {
    let mut conn = connect(addr);
    let challenge = read_challenge(&mut conn);
    conn.write_all(&mac(KEY.as_bytes(), &challenge)).unwrap();
    conn.write_all(&frame("hi 你好".as_bytes())).unwrap();
    assert_eq!(read_frame(&mut conn), "HI 你好".as_bytes());
}

#[test]
fn a_python_style_client_works_with_sha256_and_md5() {
    let (server, _key) = start_server(&[]);
    python_style_conversation(server.addr, sha256);
    server.expect_line("gone");
    let (server, _key) = start_server(&["--digest", "md5"]);
    python_style_conversation(server.addr, md5);
    server.expect_line("gone");
}

#[test]
fn a_python_style_client_works_through_the_splitting_proxy() {
    // Both directions are framed (or fixed-size), so one-byte pieces change nothing.
    let (server, _key) = start_server(&[]);
    let upstream = format!("127.0.0.1:{}", server.port());
    let proxy = ServerProcess::start(
        env!("CARGO_BIN_EXE_09-sticky"),
        &[
            "proxy",
            "--listen",
            "0",
            "--upstream",
            &upstream,
            "--split",
            "1",
        ],
    );
    python_style_conversation(proxy.addr, sha256);
    server.expect_line("gone");
}

#[test]
fn timeouts_too_long_for_the_clock_are_no_deadline_not_a_panic() {
    // u64::MAX seconds: adding it to "now" overflows the clock. Both sides must simply wait.
    let forever = "18446744073709551615";
    let (server, _key) = start_server(&["--auth-timeout", forever]);
    let out = client(&server, KEY, &["--timeout", forever, "hi"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "HI\n");
}

#[test]
fn typed_replies_come_from_the_servers_input_one_line_each() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let key = Key::new(KEY.as_bytes().to_vec(), "test").unwrap();
    let config = ServerConfig {
        key: key.clone(),
        digest: Digest::Sha256,
        auth_timeout: WAIT,
        replies: Replies::typed(Cursor::new("first reply\r\nsecond\n")),
        welcome: false,
        tracer: Tracer::off(),
    };
    let (log, lines) = Log::channel();
    let _server = Background::tcp(listener, move |l, s| run_server(l, &config, &log, &s)).unwrap();
    let client = ClientConfig {
        key,
        digest: Digest::Sha256,
        timeout: WAIT,
        welcome: false,
        tracer: Tracer::off(),
    };
    let mut session = Session::connect("127.0.0.1", port, &client).unwrap();
    assert_eq!(session.ask(b"one").unwrap(), b"first reply");
    assert_eq!(session.ask(b"two").unwrap(), b"second");
    // The input has ended: the server says so and closes.
    assert!(matches!(
        session.ask(b"three"),
        Err(AuthError::ServerClosed)
    ));
    let log: Vec<String> = lines.try_iter().collect();
    assert!(
        log.iter()
            .any(|l| l.starts_with("type the reply to 127.0.0.1:")),
        "{log:?}"
    );
    assert!(
        log.iter().any(|l| l.starts_with("no more replies")),
        "{log:?}"
    );
}

#[test]
fn client_trace_shows_the_challenge_and_the_answer() {
    let (server, _key) = start_server(&[]);
    let out = client(&server, KEY, &["--trace", "hi"]);
    assert!(out.status.success(), "{out:?}");
    let trace: Vec<&str> = out.stderr.lines().collect();
    assert!(
        trace[0].starts_with("[client] recv     32 bytes"),
        "{trace:?}"
    );
    assert!(
        trace[1].starts_with("[client] send     32 bytes"),
        "{trace:?}"
    );
    assert!(
        trace.contains(&"[client] send      6 bytes  \\x02\\x00\\x00\\x00hi"),
        "{trace:?}"
    );
}

/// Runs the binary with SOCKLAB_KEY surely unset.
fn run_without_env_key(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("SOCKLAB_KEY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn key_problems_are_one_clear_line() {
    let (code, stderr) = run_without_env_key(&["server", "--port", "0", "--echo"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr,
        "error: no key: give --key-file PATH or set the SOCKLAB_KEY environment variable \
         (never the key itself as an argument: `ps` would show it to everyone)\n"
    );
    let (code, stderr) = run_without_env_key(&["client", "--key-file", "/no/such/key/file", "hi"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.starts_with("error: could not read the key file /no/such/key/file: "),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);
    let empty = tempfile::NamedTempFile::new().unwrap();
    let path = empty.path().to_str().unwrap();
    let (code, stderr) = run_without_env_key(&["client", "--key-file", path, "hi"]);
    assert_eq!(code, Some(1));
    assert_eq!(stderr, format!("error: the key from {path} is empty\n"));
    // There is no way to give the key itself as an argument.
    let (code, _) = run_without_env_key(&["client", "--key", KEY, "hi"]);
    assert_eq!(code, Some(2));
}

#[test]
fn a_server_that_is_not_12_auth_is_reported() {
    // A server that says something short and closes, instead of sending a 32-byte challenge.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let other = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(b"hello\n").unwrap();
    });
    let port = addr.port().to_string();
    let out = run_with_env(
        BIN,
        &["client", "--port", &port, "hi"],
        "",
        &[("SOCKLAB_KEY", KEY)],
    );
    other.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        out.stderr,
        "error: the server sent 6 bytes instead of a 32-byte challenge; is it a 12-auth server?\n"
    );
}

#[test]
fn an_md5_client_that_gives_up_first_says_why_it_may_be_waiting() {
    // With --welcome on both sides: the server waits up to 20 s for the 16 bytes an md5 answer
    // lacks; the client gives up at 0.3 s, and its error names both possible reasons.
    let (server, _key) = start_server(&["--auth-timeout", "20", "--welcome"]);
    let out = client(
        &server,
        KEY,
        &["--welcome", "--digest", "md5", "--timeout", "0.3", "hello"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        out.stderr,
        "error: no welcome from the server within 0.3 s: was it started without --welcome (the \
         tutorial's server never sends one), or is it still waiting for the rest of our answer \
         (a different --digest than the server's)?\n"
    );
}

#[test]
fn with_welcome_on_both_sides_the_client_knows_at_once() {
    let (server, _key) = start_server(&["--welcome"]);
    let out = client(&server, KEY, &["--welcome", "hello"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "HELLO\n");
    assert_eq!(
        out.stderr,
        "authenticated with hmac-sha256; the conversation is framed\n"
    );
    // A wrong key is refused before the client sends a single message: no message given here.
    let out = client(&server, "a guess", &["--welcome"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("the server refused us"),
        "{}",
        out.stderr
    );
    // The welcome frame is the only difference on the wire.
    let mut conn = connect(server.addr);
    let challenge = read_challenge(&mut conn);
    conn.write_all(&sha256(KEY.as_bytes(), &challenge)).unwrap();
    assert_eq!(read_frame(&mut conn), b"welcome");
    conn.write_all(&frame(b"hi")).unwrap();
    assert_eq!(read_frame(&mut conn), b"HI");
}

/// Tutorial 003's protocol has no welcome: the server's first frame is the reply to the client's
/// first message. A server without --welcome sends nothing after a right answer.
#[test]
fn by_default_the_server_sends_nothing_after_a_right_answer() {
    let (server, _key) = start_server(&[]);
    let mut conn = connect(server.addr);
    let challenge = read_challenge(&mut conn);
    conn.write_all(&sha256(KEY.as_bytes(), &challenge)).unwrap();
    server.expect_line("authenticated");
    conn.set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    // A read with a timeout is interrupted (EINTR) when another thread's child exits: retry it.
    let quiet = loop {
        match conn.read(&mut byte) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other.unwrap_err(),
        }
    };
    assert!(
        matches!(
            quiet.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{quiet:?}"
    );
    conn.set_read_timeout(Some(WAIT)).unwrap();
    conn.write_all(&frame(b"hi")).unwrap();
    assert_eq!(read_frame(&mut conn), b"HI");
}

/// A server that never welcomes and never replies, but closes when the answer is wrong, like
/// tutorial 003's: the client's first message meets the closed connection.
#[test]
fn a_refused_client_learns_it_on_its_first_message_even_with_md5_and_a_slow_server() {
    let (server, _key) = start_server(&["--auth-timeout", "0.3"]);
    let out = client(&server, KEY, &["--digest", "md5", "hi"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.ends_with(
            "error: the server refused us: it closed the connection after our answer to its \
             challenge (wrong key, or a different --digest than the server's?)\n"
        ),
        "{}",
        out.stderr
    );
}
