//! The login exchange over a connection, both sides, plus what protects it: fake challenges for
//! unknown users ([`ServerSecret`]) and the failed-login brake ([`LoginGuard`], in
//! [`super::guard`]).
//!
//! ```text
//! client                                             server
//!   {"cmd":"login","user":U,"nonce":CNONCE}   ──▶
//!                                             ◀──  {"status":"challenge","salt":S,"iterations":N,"nonce":SNONCE}
//!   {"cmd":"proof","proof":P}                 ──▶
//!                                             ◀──  {"status":"ok","server_signature":V,"cwd":"/","used":..,"quota":..}
//!                                              or  {"status":"error","code":"auth_failed","msg":..}  and close
//! ```
//!
//! Every frame is a framing-module JSON header (4-byte little-endian length, then the JSON).

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rand::rngs::OsRng;
use rand::RngCore;
use serde_json::{json, Map, Value};

use super::guard::{GuardVerdict, LoginGuard};
use super::scram::{self, ScramError, DEFAULT_ITERATIONS, SALT_LEN};
use super::users::{
    create_private_dir_all, set_owner_only, sync_dir, valid_user_name, UserRecord, UserStore,
};
use crate::escape::server_text;
use crate::framing::{self, FrameError};

/// The one message every failed login gets, whatever the reason (unknown user, wrong password,
/// malformed frame), so the reply tells an attacker nothing.
pub const AUTH_FAILED_MSG: &str = "wrong user name or password";
/// The server secret's file name inside ROOT.
pub const SECRET_FILE: &str = ".server-secret";

/// What can go wrong during a login.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The server said no (`auth_failed`). The text is the server's.
    #[error("login failed: {0}")]
    AuthFailed(String),
    /// The server answered the login with another error (e.g. `too_many_clients`).
    #[error("the server refused: {code}: {msg}")]
    Refused { code: String, msg: String },
    /// The server said "ok" but its signature is wrong: it does not hold this account's
    /// ServerKey, so it is not the real server (or the reply was tampered with).
    #[error(
        "the server's signature is wrong: it cannot prove it knows your account, so it may be an \
         impostor; not continuing"
    )]
    BadServerSignature,
    /// The server sent something that is not part of the exchange.
    #[error("unexpected reply from the server: {0}")]
    Protocol(String),
    #[error("the connection closed during login")]
    Closed,
    #[error(
        "invalid user name {0:?}: use 1 to 32 letters, digits, '_', '.' or '-', \
         not starting with '.' or '-'"
    )]
    BadUserName(String),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Scram(#[from] ScramError),
    #[error("server secret {path}: {source}")]
    Secret { path: PathBuf, source: io::Error },
    #[error(
        "server secret {0} is damaged (it must be 64 hex digits); delete it to make a new one"
    )]
    BadSecret(PathBuf),
}

impl From<io::Error> for LoginError {
    fn from(e: io::Error) -> Self {
        LoginError::Frame(FrameError::Io(e))
    }
}

// ---------------------------------------------------------------------------------------------
// Fake challenges for unknown users
// ---------------------------------------------------------------------------------------------

/// A server-wide secret for believable fake challenges for unknown users. Kept in
/// ROOT/.server-secret (0600), created on first use, so fake salts stay stable across restarts
/// (otherwise asking twice across a restart would show which names are real: a real user's salt
/// never changes).
#[derive(Clone)]
pub struct ServerSecret {
    key: [u8; 32],
}

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

impl ServerSecret {
    /// Reads ROOT/.server-secret, or creates it (32 random bytes as hex) if it does not exist.
    /// Two servers starting at once agree on one file: the new secret is written to a temporary
    /// file and moved into place only if no secret appeared in the meantime.
    pub fn load_or_create(root: &Path) -> Result<ServerSecret, LoginError> {
        let path = root.join(SECRET_FILE);
        let io_err = |source| LoginError::Secret {
            path: path.clone(),
            source,
        };
        match read_secret(&path) {
            Ok(secret) => return Ok(secret),
            Err(LoginError::Secret { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        create_private_dir_all(root).map_err(io_err)?;
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        let mut temp = tempfile::Builder::new()
            .prefix(".server-secret.")
            .suffix(".tmp")
            .tempfile_in(root)
            .map_err(io_err)?;
        writeln!(temp, "{}", hex::encode(key)).map_err(io_err)?;
        temp.as_file().sync_all().map_err(io_err)?;
        set_owner_only(temp.path()).map_err(io_err)?;
        match temp.persist_noclobber(&path) {
            Ok(_) => {
                sync_dir(root);
                Ok(ServerSecret { key })
            }
            // Another process created it first: use theirs.
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => read_secret(&path),
            Err(e) => Err(io_err(e.error)),
        }
    }

    /// A secret from given bytes (tests, and the tour).
    pub fn from_bytes(key: [u8; 32]) -> ServerSecret {
        ServerSecret { key }
    }

    /// The believable record answered for an unknown `name`: salt and keys are HMACs of the name
    /// under the secret, so they look random, differ per name, and are the same every time (a
    /// real user's salt does not change between attempts, so a fake one must not either).
    /// Nobody can log in with it: its stored_key matches no password anyone knows.
    pub fn fake_record(&self, name: &str, iterations: u32) -> UserRecord {
        let derive = |label: &str| {
            scram::hmac_sha256(
                &self.key,
                format!("socklab fake {label}\0{name}").as_bytes(),
            )
        };
        let salt = derive("salt");
        UserRecord {
            salt: hex::encode(salt.get(..SALT_LEN).unwrap_or(&salt)),
            iterations,
            stored_key: hex::encode(derive("stored_key")),
            server_key: hex::encode(derive("server_key")),
            quota: 0,
        }
    }
}

fn read_secret(path: &Path) -> Result<ServerSecret, LoginError> {
    let file = fs::File::open(path).map_err(|source| LoginError::Secret {
        path: path.to_path_buf(),
        source,
    })?;
    let mut text = String::new();
    file.take(256)
        .read_to_string(&mut text)
        .map_err(|_| LoginError::BadSecret(path.to_path_buf()))?;
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key)
        .map_err(|_| LoginError::BadSecret(path.to_path_buf()))?;
    Ok(ServerSecret { key })
}

/// The iteration count to put in a fake challenge: the one most real users have (so a fake
/// challenge looks like a real one even on a server whose users all have, say, 1000 iterations),
/// or the default on a server without users.
pub fn typical_iterations(store: &UserStore) -> u32 {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for record in store.records() {
        *counts.entry(record.iterations).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(iterations, count)| (count, iterations))
        .map(|(iterations, _)| iterations)
        .unwrap_or(DEFAULT_ITERATIONS)
        .max(scram::MIN_ITERATIONS)
}

// ---------------------------------------------------------------------------------------------
// The server side
// ---------------------------------------------------------------------------------------------

/// A successful login, as [`server_login`] returns it.
#[derive(Debug, Clone)]
pub struct Verified {
    pub user: String,
    pub record: UserRecord,
    /// Hex HMAC(ServerKey, AuthMessage): goes into the caller's `{"status":"ok",...}` reply.
    pub server_signature: String,
}

impl Verified {
    /// The reply that completes a successful login:
    /// `{"status":"ok","server_signature":..,"cwd":"/","used":USED,"quota":..}`.
    pub fn ok_reply(&self, used: u64) -> Value {
        json!({
            "status": "ok",
            "server_signature": self.server_signature,
            "cwd": "/",
            "used": used,
            "quota": self.record.quota,
        })
    }
}

/// Server side. Called by the session loop with the already-read `{"cmd":"login",...}` header.
/// Asks the [`LoginGuard`], sends the challenge frame, reads the proof frame, checks it. On
/// success returns `Ok(Some(Verified))` and sends NOTHING more: the caller then sends
/// `{"status":"ok","server_signature":..,"cwd":"/","used":U,"quota":Q}` itself (it knows `used`).
/// On failure (unknown user, wrong proof, bad frame, guard refusal) it sends
/// `{"status":"error","code":"auth_failed","msg":...}` and returns `Ok(None)`; the caller closes
/// the connection. `Err` only for I/O / framing failures (the connection is broken anyway).
///
/// The guard's delay is a `sleep` on this connection's thread only: other clients do not wait.
pub fn server_login<S: Read + Write>(
    stream: &mut S,
    login: &Map<String, Value>,
    store: &UserStore,
    secret: &ServerSecret,
    guard: &LoginGuard,
    peer: IpAddr,
) -> Result<Option<Verified>, LoginError> {
    let claimed = text_field(login, "user").unwrap_or_default();
    match guard.begin(peer, claimed) {
        GuardVerdict::Allow => {}
        GuardVerdict::Delay(delay) => std::thread::sleep(delay),
        GuardVerdict::Refuse(wait) => {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            send_auth_failed(
                stream,
                &format!(
                    "earlier failed logins to this account from your address are still being \
                     slowed down; try again in {seconds} s"
                ),
            )?;
            return Ok(None);
        }
    }
    match challenge_and_check(stream, login, store, secret)? {
        Some(verified) => {
            guard.succeeded(peer, &verified.user);
            Ok(Some(verified))
        }
        None => {
            guard.failed(peer);
            send_auth_failed(stream, AUTH_FAILED_MSG)?;
            Ok(None)
        }
    }
}

/// The exchange itself: challenge out, proof in, proof checked. `Ok(None)` for every kind of
/// failure (the caller gives them all the same answer).
fn challenge_and_check<S: Read + Write>(
    stream: &mut S,
    login: &Map<String, Value>,
    store: &UserStore,
    secret: &ServerSecret,
) -> Result<Option<Verified>, LoginError> {
    let (Some(user), Some(cnonce)) = (
        text_field(login, "user").filter(|u| valid_user_name(u)),
        text_field(login, "nonce").filter(|n| scram::is_nonce(n)),
    ) else {
        return Ok(None);
    };

    // An unknown user gets a fake record and goes through exactly the same steps: the same
    // challenge shape, the same proof check (the server side never runs PBKDF2, so the work is
    // one HMAC and one SHA-256 either way), the same failure. The fake record is computed for
    // every login, known name or not, so that not even the time taken depends on the name.
    let fake = secret.fake_record(user, typical_iterations(store));
    // The server never issues fewer than MIN_ITERATIONS: an account made with fewer (before the
    // floor was raised) is answered like an unknown one until `adduser` sets it again.
    let real = store
        .user(user)
        .filter(|r| r.iterations >= scram::MIN_ITERATIONS);
    let record = real.unwrap_or(&fake);

    let snonce = scram::new_nonce();
    framing::write_header(
        stream,
        &json!({
            "status": "challenge",
            "salt": record.salt,
            "iterations": record.iterations,
            "nonce": snonce,
        }),
    )?;

    let proof = match framing::read_header(stream) {
        Ok(Some(header)) => header,
        Ok(None) => return Err(LoginError::Closed),
        // The connection itself failed: nobody is there to read a reply.
        Err(e @ (FrameError::Io(_) | FrameError::Truncated { .. })) => return Err(e.into()),
        // A frame we cannot use (not JSON, too long, negative length): a failed login.
        Err(_) => return Ok(None),
    };
    let proof_hex = match (text_field(&proof, "cmd"), text_field(&proof, "proof")) {
        (Some("proof"), Some(p)) if scram::is_digest_hex(p) => p,
        _ => return Ok(None),
    };

    let message = scram::auth_message(user, cnonce, &snonce, &record.salt, record.iterations);
    let proof_ok = scram::verify_proof(record, &message, proof_hex);
    match real {
        Some(record) if proof_ok => Ok(Some(Verified {
            user: user.to_string(),
            record: record.clone(),
            server_signature: scram::server_signature(record, &message)?,
        })),
        _ => Ok(None),
    }
}

/// Sends `{"status":"error","code":"auth_failed","msg":MSG}`.
pub fn send_auth_failed(stream: &mut impl Write, msg: &str) -> Result<(), LoginError> {
    framing::write_header(
        stream,
        &json!({"status": "error", "code": "auth_failed", "msg": msg}),
    )?;
    Ok(())
}

fn text_field<'a>(header: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    header.get(name).and_then(Value::as_str)
}

// ---------------------------------------------------------------------------------------------
// The client side
// ---------------------------------------------------------------------------------------------

/// What the server says after a successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOk {
    pub cwd: String,
    pub used: u64,
    pub quota: u64,
}

/// Client side: sends login, reads the challenge, sends the proof, reads the reply, checks the
/// server signature in constant time (refuses a server that cannot produce it:
/// [`LoginError::BadServerSignature`]).
pub fn client_login<S: Read + Write>(
    stream: &mut S,
    user: &str,
    password: &str,
) -> Result<LoginOk, LoginError> {
    if !valid_user_name(user) {
        return Err(LoginError::BadUserName(user.to_string()));
    }
    let cnonce = scram::new_nonce();
    framing::write_header(
        stream,
        &json!({"cmd": "login", "user": user, "nonce": cnonce}),
    )?;

    let challenge = read_reply(stream)?;
    if text_field(&challenge, "status") != Some("challenge") {
        return Err(LoginError::Protocol(format!(
            "expected a challenge, got {}",
            Value::Object(challenge)
        )));
    }
    let salt = text_field(&challenge, "salt")
        .ok_or_else(|| LoginError::Protocol("the challenge has no \"salt\"".into()))?;
    let iterations = challenge
        .get("iterations")
        .and_then(Value::as_u64)
        .ok_or_else(|| LoginError::Protocol("the challenge has no \"iterations\"".into()))?;
    let iterations = scram::check_iterations(iterations)?;
    let snonce = text_field(&challenge, "nonce")
        .filter(|n| scram::is_nonce(n))
        .ok_or_else(|| {
            LoginError::Protocol("the challenge's \"nonce\" is not 32 hex digits".into())
        })?;

    let message = scram::auth_message(user, &cnonce, snonce, salt, iterations);
    let (proof, expected_signature) = scram::client_proof(password, salt, iterations, &message)?;
    framing::write_header(stream, &json!({"cmd": "proof", "proof": proof}))?;

    let reply = read_reply(stream)?;
    if text_field(&reply, "status") != Some("ok") {
        return Err(LoginError::Protocol(format!(
            "expected ok or auth_failed, got {}",
            Value::Object(reply)
        )));
    }
    let signature = text_field(&reply, "server_signature")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !scram::constant_time_eq(signature.as_bytes(), expected_signature.as_bytes()) {
        return Err(LoginError::BadServerSignature);
    }
    Ok(LoginOk {
        cwd: text_field(&reply, "cwd").unwrap_or("/").to_string(),
        used: reply.get("used").and_then(Value::as_u64).unwrap_or(0),
        quota: reply.get("quota").and_then(Value::as_u64).unwrap_or(0),
    })
}

/// Reads one reply, turning `{"status":"error",...}` into the matching [`LoginError`].
fn read_reply(stream: &mut impl Read) -> Result<Map<String, Value>, LoginError> {
    let reply = framing::read_header(stream)?.ok_or(LoginError::Closed)?;
    if text_field(&reply, "status") == Some("error") {
        // The server's words, made safe to print: no terminal escape, no forged second line.
        let code = server_text(text_field(&reply, "code").unwrap_or("unknown"));
        let msg = server_text(text_field(&reply, "msg").unwrap_or_default());
        return Err(if code == "auth_failed" {
            LoginError::AuthFailed(msg)
        } else {
            LoginError::Refused { code, msg }
        });
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::thread;
    use std::time::Duration;

    #[test]
    fn fake_challenges_are_stable_across_reloads_and_differ_across_names() {
        let root = tempfile::tempdir().unwrap();
        let first = ServerSecret::load_or_create(root.path()).unwrap();
        let again = ServerSecret::load_or_create(root.path()).unwrap();
        let a1 = first.fake_record("mallory", 4096);
        let a2 = again.fake_record("mallory", 4096);
        assert_eq!(a1, a2);
        assert_eq!(a1.check(), Ok(()));
        let b = first.fake_record("trudy", 4096);
        assert_ne!(a1.salt, b.salt);
        assert_ne!(a1.stored_key, b.stored_key);
        // Another server's secret gives other salts: they cannot be predicted without it.
        let other = ServerSecret::from_bytes([7; 32]).fake_record("mallory", 4096);
        assert_ne!(a1.salt, other.salt);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = fs::metadata(root.path().join(SECRET_FILE)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
        let names: Vec<_> = fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn damaged_secret_is_an_error_not_a_new_secret() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join(SECRET_FILE), "short").unwrap();
        assert!(matches!(
            ServerSecret::load_or_create(root.path()),
            Err(LoginError::BadSecret(_))
        ));
    }

    #[test]
    fn fake_iterations_follow_the_real_users() {
        let root = tempfile::tempdir().unwrap();
        let mut store = UserStore::load(root.path()).unwrap();
        assert_eq!(typical_iterations(&store), DEFAULT_ITERATIONS);
        let mut record = ServerSecret::from_bytes([1; 32]).fake_record("x", 4096);
        store.upsert("a", record.clone());
        store.upsert("b", record.clone());
        record.iterations = 5000;
        store.upsert("c", record);
        assert_eq!(typical_iterations(&store), 4096);
    }

    /// An account made with fewer iterations than the floor (before it was raised) still loads,
    /// but the server never issues its count: it is answered like an unknown user.
    #[test]
    fn accounts_below_the_floor_are_never_challenged_with_their_count() {
        let root = tempfile::tempdir().unwrap();
        let mut store = UserStore::load(root.path()).unwrap();
        store.upsert("old", scram::new_record("pw", 1000, 10));
        assert_eq!(typical_iterations(&store), scram::MIN_ITERATIONS);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut conn, peer) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            let login = framing::read_header(&mut conn).unwrap().unwrap();
            let secret = ServerSecret::from_bytes([3; 32]);
            server_login(
                &mut conn,
                &login,
                &store,
                &secret,
                &LoginGuard::new(),
                peer.ip(),
            )
            .unwrap()
            .is_none()
        });
        let e = client_login(&mut connect(addr), "old", "pw").unwrap_err();
        assert!(matches!(e, LoginError::AuthFailed(_)), "{e:?}");
        assert!(server.join().unwrap(), "refused");
    }

    /// A fake server that runs the real exchange but then sends `signature` instead of the
    /// real server signature.
    fn server_with_signature(
        signature: Option<&'static str>,
    ) -> (std::net::SocketAddr, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let (mut conn, peer) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            let root = tempfile::tempdir().unwrap();
            let mut store = UserStore::load(root.path()).unwrap();
            store.upsert("alice", scram::new_record("pw", 4096, 10));
            let login = framing::read_header(&mut conn).unwrap().unwrap();
            let secret = ServerSecret::from_bytes([3; 32]);
            let verified = server_login(
                &mut conn,
                &login,
                &store,
                &secret,
                &LoginGuard::new(),
                peer.ip(),
            )
            .unwrap()
            .expect("right password");
            let mut reply = verified.ok_reply(0);
            if let Some(signature) = signature {
                reply["server_signature"] = json!(signature);
            }
            framing::write_header(&mut conn, &reply).unwrap();
        });
        (addr, handle)
    }

    fn connect(addr: std::net::SocketAddr) -> TcpStream {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
    }

    #[test]
    fn client_accepts_the_real_signature() {
        let (addr, server) = server_with_signature(None);
        let ok = client_login(&mut connect(addr), "alice", "pw").unwrap();
        assert_eq!(
            ok,
            LoginOk {
                cwd: "/".into(),
                used: 0,
                quota: 10
            }
        );
        server.join().unwrap();
    }

    #[test]
    fn client_refuses_a_tampered_or_missing_signature() {
        for bad in [
            "0000000000000000000000000000000000000000000000000000000000000000",
            "",
            "zz",
        ] {
            let (addr, server) = server_with_signature(Some(bad));
            let err = client_login(&mut connect(addr), "alice", "pw").unwrap_err();
            assert!(
                matches!(err, LoginError::BadServerSignature),
                "{bad:?}: {err}"
            );
            server.join().unwrap();
        }
    }

    #[test]
    fn client_refuses_a_challenge_asking_for_too_much_work() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            framing::read_header(&mut conn).unwrap();
            framing::write_header(
                &mut conn,
                &json!({"status":"challenge","salt":"00","iterations":4_000_000_000u64,"nonce":scram::new_nonce()}),
            )
            .unwrap();
        });
        let err = client_login(&mut connect(addr), "alice", "pw").unwrap_err();
        assert!(
            matches!(err, LoginError::Scram(ScramError::BadIterations(_))),
            "{err}"
        );
        server.join().unwrap();
    }

    #[test]
    fn client_checks_its_own_user_name() {
        let mut nowhere: Vec<u8> = Vec::new();
        let mut stream = io::Cursor::new(&mut nowhere);
        assert!(matches!(
            client_login(&mut stream, "../root", "pw"),
            Err(LoginError::BadUserName(_))
        ));
        assert!(nowhere.is_empty(), "nothing was sent");
    }
}
