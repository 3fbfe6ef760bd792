//! The SCRAM-SHA-256 computations (用户加密认证), as pure functions: no I/O, no state.
//!
//! SCRAM (RFC 5802, with SHA-256 from RFC 7677) lets a client prove it knows a password without
//! sending it, and lets the server check the proof without storing anything that would let a
//! thief log in. Lesson 14 uses the same mathematics with JSON messages instead of SCRAM's
//! `n=user,r=nonce` text (and without SASLprep: the password's UTF-8 bytes are used as they are).
//!
//! ```text
//! SaltedPassword = PBKDF2-HMAC-SHA256(password, salt, iterations, 32 bytes)   slow on purpose
//! ClientKey      = HMAC-SHA256(SaltedPassword, "Client Key")
//! StoredKey      = SHA-256(ClientKey)                                          stored
//! ServerKey      = HMAC-SHA256(SaltedPassword, "Server Key")                   stored
//!
//! AuthMessage     = USER + "," + CNONCE + "," + SNONCE + "," + salt_hex + "," + iterations
//! ClientSignature = HMAC-SHA256(StoredKey, AuthMessage)
//! ClientProof     = ClientKey XOR ClientSignature                              sent by the client
//! ServerSignature = HMAC-SHA256(ServerKey, AuthMessage)                        sent by the server
//! ```
//!
//! The server knows StoredKey, so it can compute ClientSignature, XOR it off the proof to recover
//! ClientKey, and check that SHA-256 of it is StoredKey. It cannot *make* a proof: that needs
//! ClientKey, and StoredKey is a one-way hash of it. Both nonces go into AuthMessage, so a proof
//! recorded from one login is useless in the next.

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::users::UserRecord;

type HmacSha256 = Hmac<Sha256>;

/// OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
pub const DEFAULT_ITERATIONS: u32 = 600_000;
/// Fewest iterations accepted anywhere: RFC 7677's minimum for SCRAM-SHA-256. The server never
/// issues fewer (`adduser` refuses them), and a client refuses a challenge asking for fewer: an
/// impostor asking for 1 would get a proof it could attack offline at one HMAC per guess. (Tests
/// use this minimum; real accounts should use the default.)
pub const MIN_ITERATIONS: u32 = 4096;
/// Most iterations accepted anywhere. A client refuses a challenge asking for more, so a hostile
/// server cannot make it compute for minutes.
pub const MAX_ITERATIONS: u32 = 10_000_000;
/// Salt length in bytes.
pub const SALT_LEN: usize = 16;
/// Nonce length in hex digits (16 random bytes).
pub const NONCE_HEX_LEN: usize = 32;
/// Proof and signature length in hex digits (32 bytes).
pub const DIGEST_HEX_LEN: usize = 64;

/// What can be wrong with SCRAM inputs.
#[derive(Debug, thiserror::Error)]
pub enum ScramError {
    #[error("{field} is not valid hex: {reason}")]
    BadHex { field: &'static str, reason: String },
    #[error("the salt must be 1 to 64 bytes, not {0}")]
    BadSaltLength(usize),
    #[error("iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}, not {0}")]
    BadIterations(u64),
}

/// The four keys derived from a password (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub salted_password: [u8; 32],
    pub client_key: [u8; 32],
    pub stored_key: [u8; 32],
    pub server_key: [u8; 32],
}

/// Derives the keys. This is the slow part: `iterations` rounds of HMAC-SHA256.
pub fn derive_keys(password: &str, salt: &[u8], iterations: u32) -> Keys {
    let mut salted_password = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted_password);
    let client_key = hmac_sha256(&salted_password, b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    let server_key = hmac_sha256(&salted_password, b"Server Key");
    Keys {
        salted_password,
        client_key,
        stored_key,
        server_key,
    }
}

/// The record for `password` with a given salt (deterministic: tests use it with known salts).
pub fn record_with_salt(password: &str, salt: &[u8], iterations: u32, quota: u64) -> UserRecord {
    let keys = derive_keys(password, salt, iterations);
    UserRecord {
        salt: hex::encode(salt),
        iterations,
        stored_key: hex::encode(keys.stored_key),
        server_key: hex::encode(keys.server_key),
        quota,
    }
}

/// Random 16-byte salt → record fields. (SaltedPassword = PBKDF2-HMAC-SHA256(password, salt,
/// iterations, 32), ClientKey = HMAC(SaltedPassword,"Client Key"), StoredKey = SHA256(ClientKey),
/// ServerKey = HMAC(SaltedPassword,"Server Key").) The password itself is not kept.
pub fn new_record(password: &str, iterations: u32, quota: u64) -> UserRecord {
    let mut salt = [0u8; SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    record_with_salt(password, &salt, iterations, quota)
}

/// USER + "," + CNONCE + "," + SNONCE + "," + salt_hex + "," + decimal(iterations)
pub fn auth_message(
    user: &str,
    cnonce: &str,
    snonce: &str,
    salt_hex: &str,
    iterations: u32,
) -> String {
    format!("{user},{cnonce},{snonce},{salt_hex},{iterations}")
}

/// Client side: returns (proof_hex, expected_server_signature_hex).
///
/// Refuses a salt that is not hex or not 1..=64 bytes, and an iteration count outside
/// [`MIN_ITERATIONS`]..=[`MAX_ITERATIONS`]: these come from the server, which the client does
/// not trust yet.
pub fn client_proof(
    password: &str,
    salt_hex: &str,
    iterations: u32,
    auth_message: &str,
) -> Result<(String, String), ScramError> {
    let salt = decode_hex("salt", salt_hex)?;
    if salt.is_empty() || salt.len() > 64 {
        return Err(ScramError::BadSaltLength(salt.len()));
    }
    check_iterations(iterations.into())?;
    let keys = derive_keys(password, &salt, iterations);
    let client_signature = hmac_sha256(&keys.stored_key, auth_message.as_bytes());
    let proof = xor32(&keys.client_key, &client_signature);
    let server_signature = hmac_sha256(&keys.server_key, auth_message.as_bytes());
    Ok((hex::encode(proof), hex::encode(server_signature)))
}

/// Server side, constant time: ClientKey = proof XOR HMAC(StoredKey, AuthMessage);
/// SHA256(ClientKey) == StoredKey. Anything malformed (a proof that is not 64 hex digits, a
/// damaged record) is simply `false`.
pub fn verify_proof(record: &UserRecord, auth_message: &str, proof_hex: &str) -> bool {
    let Ok(stored_key) = decode_32("stored_key", &record.stored_key) else {
        return false;
    };
    if proof_hex.len() != DIGEST_HEX_LEN {
        return false;
    }
    let Ok(proof) = decode_32("proof", proof_hex) else {
        return false;
    };
    let client_signature = hmac_sha256(&stored_key, auth_message.as_bytes());
    let client_key = xor32(&proof, &client_signature);
    let candidate: [u8; 32] = Sha256::digest(client_key).into();
    constant_time_eq(&candidate, &stored_key)
}

/// HMAC-SHA256(ServerKey, AuthMessage), hex: what the server sends to prove it holds the
/// account's ServerKey (and so is the real server, not an impostor that just says "ok").
pub fn server_signature(record: &UserRecord, auth_message: &str) -> Result<String, ScramError> {
    let server_key = decode_32("server_key", &record.server_key)?;
    Ok(hex::encode(hmac_sha256(
        &server_key,
        auth_message.as_bytes(),
    )))
}

/// 32 lowercase hex digits from the OS RNG.
pub fn new_nonce() -> String {
    let mut bytes = [0u8; NONCE_HEX_LEN / 2];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// True if `text` is a well-formed nonce: exactly 32 hex digits (either case).
pub fn is_nonce(text: &str) -> bool {
    text.len() == NONCE_HEX_LEN && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// True if `text` is a well-formed proof or signature: exactly 64 hex digits (either case).
pub fn is_digest_hex(text: &str) -> bool {
    text.len() == DIGEST_HEX_LEN && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Compares two byte strings in time that depends only on their lengths, never on where they
/// first differ. A plain `==` stops at the first different byte, and an attacker timing many
/// attempts could learn a secret byte by byte. Here every byte pair is XORed and the differences
/// are ORed together, so the loop always runs to the end.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // `black_box` keeps the optimiser from turning the fold back into an early exit.
    std::hint::black_box(difference) == 0
}

/// Checks an iteration count (from a file or the network) is within the accepted range.
pub fn check_iterations(iterations: u64) -> Result<u32, ScramError> {
    u32::try_from(iterations)
        .ok()
        .filter(|n| (MIN_ITERATIONS..=MAX_ITERATIONS).contains(n))
        .ok_or(ScramError::BadIterations(iterations))
}

/// HMAC-SHA256(key, data).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length (a long key is hashed first), so this never fails; the
    // `Result` only exists because the trait is shared with algorithms that need fixed key sizes.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
    out
}

fn decode_hex(field: &'static str, text: &str) -> Result<Vec<u8>, ScramError> {
    hex::decode(text).map_err(|e| ScramError::BadHex {
        field,
        reason: e.to_string(),
    })
}

fn decode_32(field: &'static str, text: &str) -> Result<[u8; 32], ScramError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).map_err(|e| ScramError::BadHex {
        field,
        reason: e.to_string(),
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known-answer vectors computed independently with Python's hashlib/hmac:
    //   sp = hashlib.pbkdf2_hmac('sha256', b'pencil', bytes(range(16)), 4096, 32)
    //   ck = hmac.new(sp, b'Client Key', 'sha256').digest(); sk = hashlib.sha256(ck).digest()
    //   svk = hmac.new(sp, b'Server Key', 'sha256').digest()
    //   cs = hmac.new(sk, am.encode(), 'sha256').digest(); proof = bytes(a ^ b for a, b in zip(ck, cs))
    //   sig = hmac.new(svk, am.encode(), 'sha256').digest()
    const PASSWORD: &str = "pencil";
    const ITERATIONS: u32 = 4096;
    const SALTED_PASSWORD: &str =
        "fa4a659650be8cdb832674044595e914d7d85c564f6ee2f522dc6969a64be4e9";
    const CLIENT_KEY: &str = "056d77126a04e65d7efa55127b19a92631a6947dfff7b597e9a2f2e5f1d19cb9";
    const STORED_KEY: &str = "cc709da25db4e38fd9c96ccf2e2ee8c40a4291a98ac3d67e13853f400a5dff96";
    const SERVER_KEY: &str = "75de697813a2b559cb345bbb566c0ff8788369ac383940afdfde9e5425a16221";
    const CNONCE: &str = "0123456789abcdef0123456789abcdef";
    const SNONCE: &str = "fedcba9876543210fedcba9876543210";
    const AUTH_MESSAGE: &str = "alice,0123456789abcdef0123456789abcdef,\
        fedcba9876543210fedcba9876543210,000102030405060708090a0b0c0d0e0f,4096";
    const PROOF: &str = "d98937911cd5131d5647e11b119200f4fc369924b92208930e5b9576fbeabc15";
    const SIGNATURE: &str = "cba59c00063515b6f3a229e129f957ca8cd35c9c3e7b21c8c325da826aaeb667";

    fn salt() -> Vec<u8> {
        (0u8..16).collect()
    }

    fn record() -> UserRecord {
        record_with_salt(PASSWORD, &salt(), ITERATIONS, 1234)
    }

    #[test]
    fn derivation_matches_python_hashlib() {
        let keys = derive_keys(PASSWORD, &salt(), ITERATIONS);
        assert_eq!(hex::encode(keys.salted_password), SALTED_PASSWORD);
        assert_eq!(hex::encode(keys.client_key), CLIENT_KEY);
        assert_eq!(hex::encode(keys.stored_key), STORED_KEY);
        assert_eq!(hex::encode(keys.server_key), SERVER_KEY);
        let record = record();
        assert_eq!(record.salt, "000102030405060708090a0b0c0d0e0f");
        assert_eq!(record.iterations, ITERATIONS);
        assert_eq!(record.stored_key, STORED_KEY);
        assert_eq!(record.server_key, SERVER_KEY);
        assert_eq!(record.quota, 1234);
        assert_eq!(record.check(), Ok(()));
    }

    #[test]
    fn utf8_password_matches_python_encode() {
        // hashlib.pbkdf2_hmac('sha256', '密码 pässword'.encode(), bytes(range(16)), 1000, 32)
        let keys = derive_keys("密码 pässword", &salt(), 1000);
        assert_eq!(
            hex::encode(keys.salted_password),
            "2345ddb4c981581b0ee73f271b7cf9dc1000f0b5c30f9f23e12789074eccf4c3"
        );
    }

    #[test]
    fn exchange_matches_python_hashlib() {
        let message = auth_message("alice", CNONCE, SNONCE, &record().salt, ITERATIONS);
        assert_eq!(message, AUTH_MESSAGE);
        let (proof, signature) =
            client_proof(PASSWORD, &record().salt, ITERATIONS, &message).expect("valid inputs");
        assert_eq!(proof, PROOF);
        assert_eq!(signature, SIGNATURE);
        assert_eq!(server_signature(&record(), &message).unwrap(), SIGNATURE);
        assert!(verify_proof(&record(), &message, PROOF));
    }

    #[test]
    fn verify_proof_refuses_anything_else() {
        let record = record();
        assert!(verify_proof(&record, AUTH_MESSAGE, &PROOF.to_uppercase()));
        // Every single flipped bit is refused.
        let proof = hex::decode(PROOF).unwrap();
        for bit in 0..256 {
            let mut tampered = proof.clone();
            tampered[bit / 8] ^= 1 << (bit % 8);
            assert!(!verify_proof(
                &record,
                AUTH_MESSAGE,
                &hex::encode(&tampered)
            ));
        }
        // The right proof for another AuthMessage (a replay with new nonces) is refused.
        let replay = auth_message("alice", CNONCE, &new_nonce(), &record.salt, ITERATIONS);
        assert!(!verify_proof(&record, &replay, PROOF));
        // A wrong password's proof is refused.
        let (wrong, _) = client_proof("pencil2", &record.salt, ITERATIONS, AUTH_MESSAGE).unwrap();
        assert!(!verify_proof(&record, AUTH_MESSAGE, &wrong));
        // Malformed proofs are false, not panics.
        for bad in [
            "",
            "00",
            &PROOF[..63],
            &format!("{PROOF}00"),
            &"zz".repeat(32),
        ] {
            assert!(!verify_proof(&record, AUTH_MESSAGE, bad), "{bad:?}");
        }
        // A damaged record is false too.
        let damaged = UserRecord {
            stored_key: "not hex".into(),
            ..record
        };
        assert!(!verify_proof(&damaged, AUTH_MESSAGE, PROOF));
        assert!(server_signature(
            &UserRecord {
                server_key: "xyz".into(),
                ..damaged
            },
            AUTH_MESSAGE
        )
        .is_err());
    }

    #[test]
    fn client_refuses_hostile_challenge_values() {
        assert!(matches!(
            client_proof("pw", "not hex", 1000, "m"),
            Err(ScramError::BadHex { field: "salt", .. })
        ));
        assert!(matches!(
            client_proof("pw", "", 1000, "m"),
            Err(ScramError::BadSaltLength(0))
        ));
        assert!(matches!(
            client_proof("pw", &"00".repeat(65), 1000, "m"),
            Err(ScramError::BadSaltLength(65))
        ));
        assert!(matches!(
            client_proof("pw", "00", 0, "m"),
            Err(ScramError::BadIterations(0))
        ));
        assert!(matches!(
            client_proof("pw", "00", MAX_ITERATIONS + 1, "m"),
            Err(ScramError::BadIterations(_))
        ));
        assert!(check_iterations(u64::from(u32::MAX) + 1).is_err());
        assert_eq!(check_iterations(600_000).unwrap(), 600_000);
    }

    #[test]
    fn new_records_and_nonces_are_random_and_well_formed() {
        let a = new_record("same password", MIN_ITERATIONS, 0);
        let b = new_record("same password", MIN_ITERATIONS, 0);
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.stored_key, b.stored_key);
        assert_eq!(a.check(), Ok(()));
        let (n1, n2) = (new_nonce(), new_nonce());
        assert_ne!(n1, n2);
        assert!(is_nonce(&n1) && n1.len() == 32);
        assert!(n1.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        assert!(!is_nonce(&n1[..31]) && !is_nonce(&format!("{n1}0")));
        assert!(!is_nonce(&"g".repeat(32)));
        assert!(is_digest_hex(PROOF) && !is_digest_hex(&PROOF[1..]));
    }

    #[test]
    fn constant_time_eq_is_plain_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
