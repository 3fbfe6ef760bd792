//! Lesson 14, accounts and login: the admin subcommands end to end, and the SCRAM login over real
//! loopback connections, with socklab's client, a hand-written client that computes the proof from
//! the issue's formulas, and a real Python client.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use socklab::framing;
use socklab::lessons::ftp::admin;
use socklab::lessons::ftp::guard::{GuardPolicy, LoginGuard, LoginPolicy};
use socklab::lessons::ftp::login::{
    client_login, server_login, LoginError, ServerSecret, AUTH_FAILED_MSG,
};
use socklab::lessons::ftp::users::{home_dir, UserStore};

const BIN: &str = env!("CARGO_BIN_EXE_14-ftp");
const PASSWORD: &str = "correct horse pässword";

// ---------------------------------------------------------------------------------------------
// The admin subcommands, as a user runs them
// ---------------------------------------------------------------------------------------------

fn root_arg(root: &Path) -> String {
    root.to_str().unwrap().to_string()
}

/// `14-ftp adduser alice --root ROOT --quota QUOTA --iterations 4096 --password-stdin`.
fn bin_adduser(root: &str, quota: &str, password: &str) -> common::Finished {
    common::run(
        BIN,
        &[
            "adduser",
            "alice",
            "--root",
            root,
            "--quota",
            quota,
            "--iterations",
            "4096",
            "--password-stdin",
        ],
        &format!("{password}\n"),
    )
}

#[test]
fn adduser_users_deluser_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ftp-root");
    let r = root_arg(&root);

    let out = bin_adduser(&r, "10MiB", PASSWORD);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("created user alice"), "{out:?}");

    // users.json holds the record and nothing that is the password.
    let text = fs::read_to_string(root.join("users.json")).unwrap();
    assert!(
        !text.contains("horse") && !text.contains("pässword"),
        "{text}"
    );
    let json: Value = serde_json::from_str(&text).unwrap();
    let alice = &json["users"]["alice"];
    assert_eq!(alice["quota"], 10 * 1024 * 1024);
    assert_eq!(alice["iterations"], 4096);
    assert_eq!(alice["salt"].as_str().unwrap().len(), 32);
    assert_eq!(alice["stored_key"].as_str().unwrap().len(), 64);
    assert_eq!(alice["server_key"].as_str().unwrap().len(), 64);
    assert_eq!(alice.as_object().unwrap().len(), 5, "{alice}");
    let home = home_dir(&root, "alice");
    assert!(home.is_dir());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root.join("users.json")), 0o600);
        assert_eq!(mode(&home), 0o700);
    }

    // users shows quota and the space used.
    fs::write(home.join("notes.txt"), vec![b'x'; 1234]).unwrap();
    let out = common::run(BIN, &["users", "--root", &r], "");
    assert!(out.status.success(), "{out:?}");
    let line = out.stdout.lines().find(|l| l.starts_with("alice")).unwrap();
    assert!(
        line.contains("10 MiB (10485760)") && line.contains("(1234)"),
        "{line}"
    );

    // adduser on an existing name updates it: new salt, new quota, files kept.
    let out = bin_adduser(&r, "1G", "another password");
    assert!(
        out.status.success() && out.stdout.contains("updated user alice"),
        "{out:?}"
    );
    let updated: Value =
        serde_json::from_str(&fs::read_to_string(root.join("users.json")).unwrap()).unwrap();
    assert_eq!(updated["users"]["alice"]["quota"], 1u64 << 30);
    assert_ne!(updated["users"]["alice"]["salt"], alice["salt"]);
    assert!(home.join("notes.txt").exists());

    // deluser removes the account and keeps the files.
    let out = common::run(BIN, &["deluser", "alice", "--root", &r], "");
    assert!(
        out.status.success() && out.stdout.contains("kept"),
        "{out:?}"
    );
    assert!(UserStore::load(&root).unwrap().is_empty());
    assert!(home.join("notes.txt").exists());
    let out = common::run(BIN, &["users", "--root", &r], "");
    assert!(
        out.status.success() && out.stdout.contains("no users"),
        "{out:?}"
    );

    // Deleting someone who does not exist is an error, with exit code 1.
    let out = common::run(BIN, &["deluser", "alice", "--root", &r], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("no user named \"alice\""), "{out:?}");
}

#[test]
fn adduser_refuses_bad_input_with_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let r = root_arg(dir.path());
    let adduser = |name: &str, extra: &[&str], stdin: &str| {
        let mut args = vec![
            "adduser",
            name,
            "--root",
            &r,
            "--quota",
            "1M",
            "--iterations",
            "4096",
        ];
        args.extend_from_slice(extra);
        common::run(BIN, &args, stdin)
    };
    for (name, extra, stdin, expected) in [
        (
            "../evil",
            &["--password-stdin"][..],
            "pw\n",
            "invalid user name",
        ),
        (
            ".hidden",
            &["--password-stdin"][..],
            "pw\n",
            "invalid user name",
        ),
        ("bob", &["--password-stdin"][..], "", "no password on stdin"),
        (
            "bob",
            &["--password-stdin"][..],
            "\n",
            "no password on stdin",
        ),
        // stdin is a pipe here, not a terminal: asking without echo is impossible.
        ("bob", &[][..], "pw\n", "--password-stdin"),
    ] {
        let out = adduser(name, extra, stdin);
        assert_eq!(out.status.code(), Some(1), "{name} {extra:?}: {out:?}");
        assert!(out.stderr.contains(expected), "{name} {extra:?}: {out:?}");
        assert_eq!(
            out.stderr
                .trim_end()
                .lines()
                .filter(|l| l.starts_with("error"))
                .count(),
            1
        );
    }
    // A bad size is a usage error (clap's exit code 2).
    let out = common::run(
        BIN,
        &[
            "adduser",
            "bob",
            "--root",
            &r,
            "--quota",
            "12X",
            "--password-stdin",
        ],
        "pw\n",
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("is not a size"), "{out:?}");
    // Nothing was created by any of these.
    assert!(UserStore::load(dir.path()).unwrap().is_empty());
    assert!(!dir.path().join("users.json").exists());
}

// ---------------------------------------------------------------------------------------------
// The login exchange over loopback
// ---------------------------------------------------------------------------------------------

/// A root with alice (PASSWORD, 4096 iterations, 1 MiB quota).
fn root_with_alice() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    admin::add_user(dir.path(), "alice", PASSWORD, 1 << 20, 4096).unwrap();
    dir
}

/// A minimal server for `connections` clients, one after another, doing what the real session
/// loop does at login: read the first frame, call `server_login`, send the ok reply on success,
/// close. Returns who logged in on each connection.
fn login_server(
    root: &Path,
    guard: LoginGuard,
    connections: usize,
) -> (SocketAddr, JoinHandle<Vec<Option<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let root: PathBuf = root.to_path_buf();
    let handle = thread::spawn(move || {
        let mut outcomes = Vec::new();
        for _ in 0..connections {
            let (mut conn, peer) = listener.accept().unwrap();
            conn.set_read_timeout(Some(common::WAIT)).unwrap();
            let Ok(Some(first)) = framing::read_header(&mut conn) else {
                outcomes.push(None);
                continue;
            };
            // Loaded per attempt, as a server that notices `adduser` would.
            let store = UserStore::load(&root).unwrap();
            let secret = ServerSecret::load_or_create(&root).unwrap();
            match server_login(&mut conn, &first, &store, &secret, &guard, peer.ip()) {
                Ok(Some(verified)) => {
                    framing::write_header(&mut conn, &verified.ok_reply(0)).unwrap();
                    outcomes.push(Some(verified.user));
                }
                Ok(None) | Err(_) => outcomes.push(None),
            }
        }
        outcomes
    });
    (addr, handle)
}

fn send(conn: &mut TcpStream, header: Value) {
    framing::write_header(conn, &header).unwrap();
}

fn recv(conn: &mut TcpStream) -> Map<String, Value> {
    framing::read_header(conn).unwrap().expect("a reply")
}

/// After an auth_failed the server closes the connection: the next read sees the end.
fn assert_closed(conn: &mut TcpStream) {
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).unwrap();
    assert!(
        rest.is_empty(),
        "unexpected bytes after auth_failed: {rest:?}"
    );
}

fn assert_auth_failed(reply: &Map<String, Value>) {
    assert_eq!(
        Value::Object(reply.clone()),
        json!({"status": "error", "code": "auth_failed", "msg": AUTH_FAILED_MSG})
    );
}

#[test]
fn right_password_logs_in_and_wrong_password_fails() {
    let root = root_with_alice();
    let (addr, server) = login_server(root.path(), LoginGuard::new(), 2);

    let ok = client_login(&mut common::connect(addr), "alice", PASSWORD).unwrap();
    assert_eq!((ok.cwd.as_str(), ok.used, ok.quota), ("/", 0, 1 << 20));

    let err = client_login(&mut common::connect(addr), "alice", "wrong").unwrap_err();
    assert!(
        matches!(&err, LoginError::AuthFailed(msg) if msg == AUTH_FAILED_MSG),
        "{err}"
    );

    assert_eq!(server.join().unwrap(), [Some("alice".to_string()), None]);
}

#[test]
fn a_user_added_with_the_binary_can_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let r = root_arg(dir.path());
    let out = common::run(
        BIN,
        &[
            "adduser",
            "bob",
            "--root",
            &r,
            "--quota",
            "512K",
            "--iterations",
            "4096",
            "--password-stdin",
        ],
        "hunter2\r\n",
    );
    assert!(out.status.success(), "{out:?}");
    let (addr, server) = login_server(dir.path(), LoginGuard::new(), 1);
    let ok = client_login(&mut common::connect(addr), "bob", "hunter2").unwrap();
    assert_eq!(ok.quota, 512 * 1024);
    server.join().unwrap();
}

/// What a client sees of a challenge: its keys and the shape of each value.
fn shape(challenge: &Map<String, Value>) -> Vec<(String, String)> {
    challenge
        .iter()
        .map(|(k, v)| {
            let shape = match v {
                Value::String(s) if s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    format!("hex{}", s.len())
                }
                Value::String(s) => format!("text {s}"),
                Value::Number(n) => format!("number {n}"),
                other => format!("{other}"),
            };
            (k.clone(), shape)
        })
        .collect()
}

fn challenge_for(addr: SocketAddr, user: &str) -> (TcpStream, Map<String, Value>, String) {
    let mut conn = common::connect(addr);
    let cnonce = "00112233445566778899aabbccddeeff".to_string();
    send(
        &mut conn,
        json!({"cmd": "login", "user": user, "nonce": cnonce}),
    );
    let challenge = recv(&mut conn);
    (conn, challenge, cnonce)
}

#[test]
fn unknown_user_gets_a_believable_stable_challenge_and_the_same_failure() {
    let root = root_with_alice();
    let (addr, server) = login_server(root.path(), LoginGuard::new(), 4);

    let (mut real_conn, real, _) = challenge_for(addr, "alice");
    send(
        &mut real_conn,
        json!({"cmd": "proof", "proof": "ab".repeat(32)}),
    );
    let real_failure = recv(&mut real_conn);
    assert_closed(&mut real_conn);

    let (mut fake_conn, fake, _) = challenge_for(addr, "mallory");
    send(
        &mut fake_conn,
        json!({"cmd": "proof", "proof": "ab".repeat(32)}),
    );
    let fake_failure = recv(&mut fake_conn);
    assert_closed(&mut fake_conn);

    // Same keys, same kinds of values, same iteration count as the real users.
    assert_eq!(shape(&real), shape(&fake));
    assert_eq!(fake["status"], "challenge");
    assert_eq!(fake["iterations"], 4096);
    assert_ne!(real["salt"], fake["salt"]);
    // The same failure, byte for byte.
    assert_eq!(real_failure, fake_failure);
    assert_auth_failed(&fake_failure);

    // Asking again gives the same salt (a real user's salt never changes either) but a new
    // server nonce; and socklab's client gets the same error as for a wrong password.
    let (_, again, _) = challenge_for(addr, "mallory");
    assert_eq!(again["salt"], fake["salt"]);
    assert_ne!(again["nonce"], fake["nonce"]);
    let err = client_login(&mut common::connect(addr), "mallory", PASSWORD).unwrap_err();
    assert!(
        matches!(&err, LoginError::AuthFailed(msg) if msg == AUTH_FAILED_MSG),
        "{err}"
    );

    assert_eq!(server.join().unwrap(), [None, None, None, None]);
}

#[test]
fn malformed_login_and_proof_frames_get_auth_failed_and_the_server_goes_on() {
    let root = root_with_alice();
    let nonce = "0123456789abcdef0123456789abcdef";
    let bad_logins = [
        json!({"cmd": "login", "user": "alice", "nonce": &nonce[1..]}),
        json!({"cmd": "login", "user": "alice", "nonce": "g".repeat(32)}),
        json!({"cmd": "login", "user": "alice"}),
        json!({"cmd": "login", "user": "../alice", "nonce": nonce}),
        json!({"cmd": "login", "user": 42, "nonce": nonce}),
    ];
    let bad_proofs: [&[u8]; 6] = [
        br#"{"cmd": "proof", "proof": "abc"}"#,
        br#"{"cmd": "proof", "proof": 12}"#,
        br#"{"cmd": "ls"}"#,
        br#"{"cmd": "proof", "proof": "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"}"#,
        b"not json at all",
        b"[1, 2, 3]",
    ];
    let total = bad_logins.len() + bad_proofs.len() + 2;
    // Every bad frame counts as a failed login; a lenient guard keeps the brake out of this test
    // (the brake has its own test below).
    let lenient = LoginGuard::with_policy(LoginPolicy {
        per_account: GuardPolicy::off(),
        per_address: GuardPolicy::off(),
    });
    let (addr, server) = login_server(root.path(), lenient, total);

    for login in bad_logins {
        let mut conn = common::connect(addr);
        send(&mut conn, login);
        assert_auth_failed(&recv(&mut conn));
        assert_closed(&mut conn);
    }
    for proof in bad_proofs {
        let (mut conn, challenge, _) = challenge_for(addr, "alice");
        assert_eq!(challenge["status"], "challenge");
        framing::write_frame(&mut conn, proof).unwrap();
        assert_auth_failed(&recv(&mut conn));
        assert_closed(&mut conn);
    }
    // A header length over the 64 KiB limit: refused without reading (or allocating) it.
    let (mut conn, _, _) = challenge_for(addr, "alice");
    conn.write_all(&(100 * 1024 * 1024i32).to_le_bytes())
        .unwrap();
    assert_auth_failed(&recv(&mut conn));
    drop(conn);

    // And after all that, the server still serves: alice logs in.
    client_login(&mut common::connect(addr), "alice", PASSWORD).unwrap();
    let outcomes = server.join().unwrap();
    assert_eq!(outcomes.last(), Some(&Some("alice".to_string())));
    assert!(outcomes[..total - 1].iter().all(Option::is_none));
}

/// A brake with tiny numbers: one free failure, then 1-2 ms delays.
fn tiny_brake() -> GuardPolicy {
    GuardPolicy {
        free_failures: 1,
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        ..GuardPolicy::per_account()
    }
}

#[test]
fn repeated_failures_on_one_account_are_slowed_but_the_right_password_still_gets_in() {
    let root = root_with_alice();
    admin::add_user(root.path(), "bob", PASSWORD, 1 << 20, 4096).unwrap();
    let guard = LoginGuard::with_policy(LoginPolicy {
        per_account: tiny_brake(),
        per_address: GuardPolicy::off(),
    });
    let (addr, server) = login_server(root.path(), guard.clone(), 9);
    let localhost = "127.0.0.1".parse().unwrap();

    // First a success after one failure: the failure is forgotten.
    let err = client_login(&mut common::connect(addr), "alice", "nope").unwrap_err();
    assert!(matches!(err, LoginError::AuthFailed(_)));
    client_login(&mut common::connect(addr), "alice", PASSWORD).unwrap();
    assert_eq!(guard.account_failures(localhost, "alice"), 0);

    // Five failures (one free, then slowed): counted, and answered like any wrong password.
    for _ in 0..5 {
        let err = client_login(&mut common::connect(addr), "alice", "nope").unwrap_err();
        assert!(
            matches!(&err, LoginError::AuthFailed(m) if m == AUTH_FAILED_MSG),
            "{err}"
        );
    }
    assert_eq!(guard.account_failures(localhost, "alice"), 5);
    // No lockout: the right password gets in after its delay, and clears the count.
    client_login(&mut common::connect(addr), "alice", PASSWORD).unwrap();
    assert_eq!(guard.account_failures(localhost, "alice"), 0);
    // Another account from the same address is not affected.
    client_login(&mut common::connect(addr), "bob", PASSWORD).unwrap();
    let outcomes = server.join().unwrap();
    assert_eq!(
        outcomes[7..],
        [Some("alice".to_string()), Some("bob".to_string())]
    );
}

/// Password spraying: a few guesses at many names from one address. Logging in to one's own
/// account in between (bob here) does not reset the brake, and the brake never locks bob out.
#[test]
fn failures_on_many_accounts_from_one_address_are_braked_and_a_success_does_not_reset_them() {
    let root = root_with_alice();
    admin::add_user(root.path(), "bob", PASSWORD, 1 << 20, 4096).unwrap();
    let guard = LoginGuard::with_policy(LoginPolicy {
        per_account: GuardPolicy::off(),
        per_address: GuardPolicy {
            spaced: false,
            ..tiny_brake()
        },
    });
    let (addr, server) = login_server(root.path(), guard.clone(), 5);
    for (user, password) in [
        ("alice", "guess"),
        ("carol", "guess"),
        ("bob", PASSWORD),
        ("dave", "guess"),
    ] {
        let result = client_login(&mut common::connect(addr), user, password);
        assert_eq!(result.is_ok(), user == "bob", "{user}: {result:?}");
    }
    let localhost = "127.0.0.1".parse().unwrap();
    assert_eq!(guard.address_failures(localhost), 3);
    client_login(&mut common::connect(addr), "bob", PASSWORD).unwrap();
    assert_eq!(guard.address_failures(localhost), 3);
    server.join().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Clients written from the protocol text alone
// ---------------------------------------------------------------------------------------------

/// A login written the way a student would write it in Python, from the issue's formulas, using
/// the hash crates directly (nothing from socklab's scram module).
fn handmade_login(addr: SocketAddr, user: &str, password: &str) -> Result<Value, String> {
    type HmacSha256 = Hmac<Sha256>;
    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }
    fn send_json(conn: &mut TcpStream, value: &Value) {
        let data = serde_json::to_vec(value).unwrap();
        let mut message = (data.len() as i32).to_le_bytes().to_vec(); // struct.pack('i', n)
        message.extend_from_slice(&data);
        conn.write_all(&message).unwrap();
    }
    fn recv_json(conn: &mut TcpStream) -> Value {
        let mut len = [0u8; 4];
        conn.read_exact(&mut len).unwrap();
        let mut data = vec![0u8; i32::from_le_bytes(len) as usize];
        conn.read_exact(&mut data).unwrap();
        serde_json::from_slice(&data).unwrap()
    }

    let mut conn = common::connect(addr);
    let cnonce = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";
    send_json(
        &mut conn,
        &json!({"cmd": "login", "user": user, "nonce": cnonce}),
    );
    let challenge = recv_json(&mut conn);
    let salt = challenge["salt"].as_str().unwrap();
    let n = challenge["iterations"].as_u64().unwrap() as u32;
    let snonce = challenge["nonce"].as_str().unwrap();

    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password.as_bytes(),
        &hex::decode(salt).unwrap(),
        n,
        &mut salted,
    );
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key);
    let server_key = hmac(&salted, b"Server Key");
    let auth_message = format!("{user},{cnonce},{snonce},{salt},{n}");
    let client_signature = hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&client_signature)
        .map(|(a, b)| a ^ b)
        .collect();
    send_json(
        &mut conn,
        &json!({"cmd": "proof", "proof": hex::encode(proof)}),
    );

    let reply = recv_json(&mut conn);
    if reply["status"] != "ok" {
        return Err(reply["msg"].as_str().unwrap_or_default().to_string());
    }
    let expected = hex::encode(hmac(&server_key, auth_message.as_bytes()));
    assert_eq!(
        reply["server_signature"],
        expected.as_str(),
        "server signature"
    );
    Ok(reply)
}

#[test]
fn a_client_written_from_the_formulas_logs_in() {
    let root = root_with_alice();
    let (addr, server) = login_server(root.path(), LoginGuard::new(), 3);
    let reply = handmade_login(addr, "alice", PASSWORD).unwrap();
    assert_eq!(reply["cwd"], "/");
    assert_eq!(
        handmade_login(addr, "alice", "wrong").unwrap_err(),
        AUTH_FAILED_MSG
    );
    assert_eq!(
        handmade_login(addr, "nobody", PASSWORD).unwrap_err(),
        AUTH_FAILED_MSG
    );
    assert_eq!(server.join().unwrap(), [Some("alice".into()), None, None]);
}

#[test]
fn the_walkthrough_python_client_logs_in() {
    if !common::have_python() {
        return;
    }
    let root = root_with_alice();
    let script = root.path().join("scram_client.py");
    // The walkthrough's login script, exactly as printed there: the section's first block.
    let blocks = common::walkthrough_python_blocks("## 14-ftp in depth");
    fs::write(&script, blocks.first().expect("the login script")).unwrap();
    let (addr, server) = login_server(root.path(), LoginGuard::new(), 2);
    let port = addr.port().to_string();
    let script = script.to_str().unwrap();

    // The password comes from stdin, never from an argument.
    let out = common::run(
        "python3",
        &[script, "127.0.0.1", &port, "alice"],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("server signature verified"), "{out:?}");

    let out = common::run("python3", &[script, "127.0.0.1", &port, "alice"], "wrong\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.contains(AUTH_FAILED_MSG), "{out:?}");

    assert_eq!(server.join().unwrap(), [Some("alice".into()), None]);
}
