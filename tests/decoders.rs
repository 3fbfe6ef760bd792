//! Property tests (proptest) for every decoder that reads the network, except `--trace`'s
//! records (tested with the pictures): the 4-byte length frame, the JSON headers of 10, 13 and
//! 14, 14's login messages, 12's handshake, 13's three download protocols, and the digits of
//! 10's `--framing size`/`ack`.
//!
//! Two properties, each over bytes delivered in pieces cut at arbitrary points (the way TCP may
//! deliver them):
//! - **any bytes** give a value or a typed error, never a panic (and never a hang: every socket
//!   here has a timeout and every fake server closes);
//! - **every value the encoder writes decodes to itself**, whatever the cuts.
//!
//! Cases per property: 256 for the in-memory decoders and 48 for those that need a loopback
//! connection per case, so the whole file runs in seconds. Set `PROPTEST_CASES=N` for N cases
//! of each (e.g. `PROPTEST_CASES=5000 cargo test --test decoders`).

mod common;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener};
use std::path::Path;
use std::thread;

use md5::Digest as _;
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use socklab::framing::{self, Framing, LengthOrder};
use socklab::lessons::auth;
use socklab::lessons::file_upload::client::{self as upload_client, ClientConfig};
use socklab::lessons::file_upload::{download_ack, download_header, protocol as upload};
use socklab::lessons::ftp::guard::LoginGuard;
use socklab::lessons::ftp::login::{client_login, server_login, ServerSecret};
use socklab::lessons::ftp::protocol as ftp;
use socklab::lessons::ftp::users::UserStore;
use socklab::lessons::remote_cmd_framed::{self as framed10, AnswerFraming};
use socklab::log::Log;

/// `cases` per property, or `PROPTEST_CASES` when set.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const IN_MEMORY: u32 = 256;
const OVER_TCP: u32 = 48;

// ------------------------------------------------------------------------------------------
// Bytes in pieces
// ------------------------------------------------------------------------------------------

/// `bytes` split at `cuts` (positions taken modulo the length, in any order).
fn pieces(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|c| c % (bytes.len() + 1))
        .chain([0, bytes.len()])
        .collect();
    at.sort_unstable();
    at.dedup();
    at.windows(2)
        .filter_map(|w| bytes.get(w[0]..w[1]).map(<[u8]>::to_vec))
        .collect()
}

/// A reader that returns the pieces one `read` at a time (a piece larger than the buffer is
/// returned over several reads), then the end.
struct Chunked {
    pieces: std::collections::VecDeque<Vec<u8>>,
}

impl Chunked {
    fn new(bytes: &[u8], cuts: &[usize]) -> Chunked {
        Chunked {
            pieces: pieces(bytes, cuts).into(),
        }
    }
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(mut piece) = self.pieces.pop_front() else {
            return Ok(0);
        };
        let n = piece.len().min(buf.len());
        buf[..n].copy_from_slice(&piece[..n]);
        if n < piece.len() {
            self.pieces.push_front(piece.split_off(n));
        }
        Ok(n)
    }
}

/// A stream for a login exchange: reads come from the pieces, writes are kept.
struct Duplex {
    input: Chunked,
    output: Vec<u8>,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Bounded: a decoder that writes for ever would fail here instead of filling memory.
        if self.output.len() > 1 << 20 {
            return Err(io::Error::other("written too much"));
        }
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One step of a fake server's script.
enum Step {
    /// One `recv` (a request or an ack), its bytes ignored.
    Read,
    /// One `send`.
    Send(Vec<u8>),
}

/// Sends `pieces` one write each, reading nothing first.
fn serve_pieces(pieces: Vec<Vec<u8>>) -> u16 {
    serve(pieces.into_iter().map(Step::Send).collect())
}

/// A fake server for one connection: runs `script` (each send one write, TCP_NODELAY), then
/// ends its side and reads until the client closes. Returns the port.
fn serve(script: Vec<Step>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(common::WAIT));
        let _ = stream.set_write_timeout(Some(common::WAIT));
        let mut request = [0u8; 4096];
        for step in script {
            let ok = match step {
                Step::Read => matches!(stream.read(&mut request), Ok(n) if n > 0),
                Step::Send(piece) => stream.write_all(&piece).is_ok(),
            };
            if !ok {
                return;
            }
        }
        let _ = stream.shutdown(Shutdown::Write);
        let mut sink = [0u8; 4096];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    });
    port
}

/// Bytes that look a little like each protocol: arbitrary, or a valid-looking start.
fn wire_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        (0u32..300, proptest::collection::vec(any::<u8>(), 0..300)).prop_map(|(len, rest)| {
            let mut bytes = len.to_le_bytes().to_vec();
            bytes.extend(rest);
            bytes
        }),
        (any::<i32>(), "[ -~]{0,80}").prop_map(|(len, text)| {
            let mut bytes = len.to_le_bytes().to_vec();
            bytes.extend(text.into_bytes());
            bytes
        }),
    ]
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(any::<usize>(), 0..12)
}

/// Small JSON objects of the shapes headers have.
fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    let leaf = prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
        Just(Value::Null),
    ];
    let keys = prop_oneof![
        Just("cmd".to_string()),
        Just("status".to_string()),
        Just("filename".to_string()),
        Just("filesize".to_string()),
        Just("md5".to_string()),
        Just("code".to_string()),
        Just("msg".to_string()),
        Just("offset".to_string()),
        "[a-z_]{1,10}",
    ];
    proptest::collection::btree_map(keys, leaf, 0..8).prop_map(|m| m.into_iter().collect())
}

// ------------------------------------------------------------------------------------------
// The 4-byte length frame and JSON headers (src/framing.rs)
// ------------------------------------------------------------------------------------------

fn order() -> impl Strategy<Value = LengthOrder> {
    prop_oneof![Just(LengthOrder::Little), Just(LengthOrder::Big)]
}

proptest! {
    #![proptest_config(config(IN_MEMORY))]

    #[test]
    fn frames_decode_to_themselves_whatever_the_cuts(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6),
        order in order(),
        cuts in cuts(),
    ) {
        let framing = Framing::with_order(order);
        let mut wire = Vec::new();
        for payload in &payloads {
            framing.write_frame(&mut wire, payload).unwrap();
        }
        let mut reader = Chunked::new(&wire, &cuts);
        let mut got = Vec::new();
        while let Some(frame) = framing.read_frame(&mut reader).unwrap() {
            got.push(frame);
        }
        prop_assert_eq!(got, payloads);
    }

    #[test]
    fn headers_decode_to_themselves_whatever_the_cuts(
        headers in proptest::collection::vec(json_object(), 0..5),
        order in order(),
        cuts in cuts(),
    ) {
        let framing = Framing::with_order(order);
        let mut wire = Vec::new();
        for header in &headers {
            framing.write_header(&mut wire, header).unwrap();
        }
        let mut reader = Chunked::new(&wire, &cuts);
        let mut got = Vec::new();
        while let Some(header) = framing.read_header(&mut reader).unwrap() {
            got.push(header);
        }
        prop_assert_eq!(got, headers);
    }

    #[test]
    fn any_bytes_give_frames_or_a_typed_error(bytes in wire_bytes(), order in order(), cuts in cuts()) {
        let framing = Framing::with_order(order);
        let mut reader = Chunked::new(&bytes, &cuts);
        // Each frame consumes at least its 4 length bytes, so this ends.
        while let Ok(Some(_)) = framing.read_frame(&mut reader) {}
        let mut reader = Chunked::new(&bytes, &cuts);
        while let Ok(Some(_)) = framing.read_header(&mut reader) {}
        let _ = framing::parse_header(&bytes);
    }
}

// ------------------------------------------------------------------------------------------
// 13's and 14's JSON headers, 14's login messages
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(IN_MEMORY))]

    #[test]
    fn lesson_13_headers_give_a_request_or_a_refusal(header in json_object(), bytes in wire_bytes()) {
        let _ = upload::parse_request(&header);
        let _ = upload::parse_reply(header.clone());
        let _ = upload::reply_size(&header, "filesize");
        let _ = upload::reply_md5(&header);
        if let Ok(parsed) = framing::parse_header(&bytes) {
            let _ = upload::parse_request(&parsed);
            let _ = upload::parse_reply(parsed);
        }
    }

    #[test]
    fn lesson_13_requests_decode_to_themselves_whatever_the_cuts(
        name in "[a-zA-Z0-9_][a-zA-Z0-9_ .-]{0,30}",
        size in any::<u64>(),
        md5 in proptest::option::of("[0-9a-f]{32}"),
        cuts in cuts(),
    ) {
        prop_assume!(upload::check_name(&name).is_ok());
        let mut wire = Vec::new();
        framing::write_header(&mut wire, &upload::put_header(&name, size, md5.as_deref())).unwrap();
        let header = framing::read_header(&mut Chunked::new(&wire, &cuts)).unwrap().unwrap();
        let expected = upload::Request::Put { filename: name.clone(), filesize: size, md5 };
        prop_assert_eq!(upload::parse_request(&header), Ok(expected));
        let mut wire = Vec::new();
        framing::write_header(&mut wire, &upload::get_header(&name)).unwrap();
        let header = framing::read_header(&mut Chunked::new(&wire, &cuts)).unwrap().unwrap();
        prop_assert_eq!(upload::parse_request(&header), Ok(upload::Request::Get { filename: name }));
    }

    #[test]
    fn lesson_14_headers_give_a_request_or_a_refusal(header in json_object(), bytes in wire_bytes()) {
        let _ = ftp::Request::parse(header.clone());
        let _ = ftp::check_reply(header.clone());
        let _ = ftp::md5_field(&header);
        if let Ok(parsed) = framing::parse_header(&bytes) {
            let _ = ftp::Request::parse(parsed.clone());
            let _ = ftp::check_reply(parsed);
        }
    }

    #[test]
    fn lesson_14_client_login_survives_any_server_bytes(bytes in wire_bytes(), cuts in cuts()) {
        let mut stream = Duplex { input: Chunked::new(&bytes, &cuts), output: Vec::new() };
        let _ = client_login(&mut stream, "alice", "pw");
    }

    #[test]
    fn lesson_14_client_login_survives_any_challenge(challenge in json_object(), cuts in cuts()) {
        let mut wire = Vec::new();
        framing::write_header(&mut wire, &challenge).unwrap();
        let mut stream = Duplex { input: Chunked::new(&wire, &cuts), output: Vec::new() };
        let _ = client_login(&mut stream, "alice", "pw");
    }

    #[test]
    fn lesson_14_server_login_survives_any_client_bytes(
        login in json_object(),
        proof in wire_bytes(),
        cuts in cuts(),
    ) {
        let root = tempfile::tempdir().unwrap();
        let store = UserStore::load(root.path()).unwrap();
        let secret = ServerSecret::from_bytes([3; 32]);
        let guard = LoginGuard::new();
        let mut stream = Duplex { input: Chunked::new(&proof, &cuts), output: Vec::new() };
        let peer = "127.0.0.1".parse().unwrap();
        let _ = server_login(&mut stream, &login, &store, &secret, &guard, peer);
    }
}

// ------------------------------------------------------------------------------------------
// Decoders that read a socket: 10's digits and headers, 12's handshake, 13's downloads
// ------------------------------------------------------------------------------------------

fn ask_10(framing: AnswerFraming, script: Vec<Step>) -> Result<Vec<u8>, String> {
    let port = serve(script);
    let config = framed10::ClientConfig {
        framing,
        timeout: common::WAIT,
        max_answer: 1 << 20,
        ..framed10::ClientConfig::default()
    };
    let mut client =
        framed10::Client::connect("127.0.0.1", port, &config).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    client.ask("ls", &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn framing_10() -> impl Strategy<Value = AnswerFraming> {
    prop_oneof![
        Just(AnswerFraming::Size),
        Just(AnswerFraming::Ack),
        Just(AnswerFraming::Length),
        Just(AnswerFraming::Json),
    ]
}

fn get_13(protocol: &str, script: Vec<Step>, dir: &Path) -> Result<Vec<u8>, String> {
    let port = serve(script);
    let mut config = ClientConfig::new("127.0.0.1", port);
    config.timeout = common::WAIT;
    config.max_size = Some(1 << 20);
    let out = dir.join("got.bin");
    let wire = Log::silent();
    let fetched = match protocol {
        "socklab" => upload_client::get_file(&config, "a.bin", &out, &wire),
        "name-header" => download_header::get_file(&config, "a.bin", &out, &wire),
        _ => download_ack::get_file(&config, "a.bin", &out, &wire),
    };
    let fetched = fetched.map_err(|e| e.to_string())?;
    let bytes = std::fs::read(&fetched.path).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&fetched.path);
    Ok(bytes)
}

fn protocol_13() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("socklab"), Just("name-header"), Just("size-ack-md5")]
}

/// What each of 13's servers sends for `body`.
fn download_13(protocol: &str, body: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let md5 = hex::encode(md5::Md5::digest(body));
    let mut head = Vec::new();
    match protocol {
        "socklab" => framing::write_header(
            &mut head,
            &json!({"status": "ok", "filesize": body.len(), "md5": md5}),
        )
        .unwrap(),
        "name-header" => framing::write_header(
            &mut head,
            &json!({"name": "a.bin", "md5": md5, "file_data_len": body.len()}),
        )
        .unwrap(),
        _ => head.extend(body.len().to_string().into_bytes()),
    }
    let mut rest = body.to_vec();
    if protocol == "size-ack-md5" {
        rest.extend(md5.into_bytes());
    }
    (head, rest)
}

proptest! {
    #![proptest_config(config(OVER_TCP))]

    #[test]
    fn lesson_10_any_answer_bytes_give_an_answer_or_an_error(
        framing in framing_10(),
        bytes in wire_bytes(),
        cuts in cuts(),
    ) {
        let _ = ask_10(framing, pieces(&bytes, &cuts).into_iter().map(Step::Send).collect());
    }

    /// The digits of `ack` are read with one recv, as in the tutorials, and the server sends
    /// nothing more until the ack: they go in one piece here (cutting them is the sticky-packet
    /// failure lesson 10 demonstrates, as is `size`, whose digits nothing separates from the
    /// body); everything after them may be cut anywhere.
    #[test]
    fn lesson_10_answers_decode_to_themselves_whatever_the_cuts(
        framing in prop_oneof![Just(AnswerFraming::Ack), Just(AnswerFraming::Length), Just(AnswerFraming::Json)],
        body in proptest::collection::vec(any::<u8>(), 1..2000),
        cuts in cuts(),
    ) {
        let mut script = vec![Step::Read];
        match framing {
            AnswerFraming::Ack => {
                script.push(Step::Send(body.len().to_string().into_bytes()));
                script.push(Step::Read);
            }
            AnswerFraming::Length => script.extend(
                pieces(&(body.len() as u32).to_le_bytes(), &cuts).into_iter().map(Step::Send),
            ),
            _ => {
                let mut head = Vec::new();
                framing::write_header(&mut head, &json!({"data_size": body.len()})).unwrap();
                script.extend(pieces(&head, &cuts).into_iter().map(Step::Send));
            }
        }
        script.extend(pieces(&body, &cuts).into_iter().map(Step::Send));
        prop_assert_eq!(ask_10(framing, script), Ok(body));
    }

    #[test]
    fn lesson_12_handshake_survives_any_server_bytes(bytes in wire_bytes(), cuts in cuts(), welcome in any::<bool>()) {
        let port = serve_pieces(pieces(&bytes, &cuts));
        let config = auth::ClientConfig {
            key: auth::Key::new(b"key".to_vec(), "test").unwrap(),
            digest: auth::Digest::Sha256,
            timeout: common::WAIT,
            welcome,
            tracer: socklab::trace::Tracer::off(),
        };
        if let Ok(mut session) = auth::Session::connect("127.0.0.1", port, &config) {
            let _ = session.ask(b"hello");
        }
    }

    #[test]
    fn lesson_13_downloads_survive_any_server_bytes(
        protocol in protocol_13(),
        bytes in wire_bytes(),
        cuts in cuts(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let script = pieces(&bytes, &cuts).into_iter().map(Step::Send).collect();
        if let Ok(got) = get_13(protocol, script, dir.path()) {
            // Saved only if verified: what was kept hashes to what was announced, which a
            // random stream essentially never manages.
            prop_assert!(got.len() <= bytes.len());
        }
    }

    #[test]
    fn lesson_13_downloads_decode_to_themselves_whatever_the_cuts(
        protocol in protocol_13(),
        body in proptest::collection::vec(any::<u8>(), 0..3000),
        cuts in cuts(),
    ) {
        let (head, rest) = download_13(protocol, &body);
        // size-ack-md5: the size is read with one recv and the server waits for the ack, so
        // the size goes in one piece; everything after it may be cut anywhere.
        let mut script = vec![Step::Read];
        if protocol == "size-ack-md5" {
            script.push(Step::Send(head));
            script.push(Step::Read);
        } else {
            script.extend(pieces(&head, &cuts).into_iter().map(Step::Send));
        }
        script.extend(pieces(&rest, &cuts).into_iter().map(Step::Send));
        let dir = tempfile::tempdir().unwrap();
        prop_assert_eq!(get_13(protocol, script, dir.path()), Ok(body));
    }
}
