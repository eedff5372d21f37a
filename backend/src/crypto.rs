//! Secrets: the master key, keys derived from it, key wrapping, random tokens and password hashes.
//!
//! The master key never leaves this module in clear. It is 32 random bytes in a file of mode 0600
//! (generated on first start) and everything else is derived from it (HKDF-SHA256, one `info` per
//! purpose) or wrapped by it (XChaCha20-Poly1305, the purpose bound as associated data), so a
//! database copy alone yields no secret.

use std::{
    fmt,
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, Payload},
};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::{Digest, Sha256};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const SEAL_VERSION: u8 = 1;

/// The root secret of one Consentry installation.
#[derive(Clone)]
pub struct MasterKey([u8; KEY_LEN]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

/// What a key derived from the master key is for; each purpose yields an unrelated key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// HMAC key that signs organiser session tokens.
    OrganiserSession,
    /// AEAD key that wraps per-event keys stored in the database.
    KeyWrapping,
    /// HMAC key that signs kiosk tokens.
    KioskToken,
    /// HMAC key under which one-time pairing codes are stored.
    PairingCode,
}

impl KeyPurpose {
    fn info(self) -> &'static [u8] {
        match self {
            Self::OrganiserSession => b"consentry/v1/organiser-session",
            Self::KeyWrapping => b"consentry/v1/key-wrapping",
            Self::KioskToken => b"consentry/v1/kiosk-token",
            Self::PairingCode => b"consentry/v1/pairing-code",
        }
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Read the key file, or create it (mode 0600, never overwriting) when `create` is set.
    pub fn load_or_create(path: &Path, create: bool) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                warn_if_readable_by_others(path);
                Self::parse(text.trim())
                    .with_context(|| format!("master key file {} is invalid", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let key = Self::generate();
                write_new_secret_file(path, &URL_SAFE_NO_PAD.encode(key.0))?;
                tracing::info!(path = %path.display(), "generated a new master key");
                Ok(key)
            }
            Err(e) => Err(e).with_context(|| format!("cannot read master key {}", path.display())),
        }
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .context("not base64url (no padding)")?;
        let Ok(bytes) = <[u8; KEY_LEN]>::try_from(bytes.as_slice()) else {
            bail!("expected {KEY_LEN} bytes, found {}", bytes.len());
        };
        Ok(Self(bytes))
    }

    /// A 32-byte key for one purpose, derived with HKDF-SHA256.
    pub fn derive(&self, purpose: KeyPurpose) -> [u8; KEY_LEN] {
        let hk = Hkdf::<Sha256>::new(Some(b"consentry"), &self.0);
        let mut out = [0u8; KEY_LEN];
        // HKDF-SHA256 can produce up to 8160 bytes; 32 cannot fail.
        if hk.expand(purpose.info(), &mut out).is_err() {
            unreachable_hkdf();
        }
        out
    }

    /// Encrypt a secret (such as a per-event key) for storage. `context` binds the ciphertext to
    /// what it is for (say `event:<id>:data-key`), so it cannot be swapped for another row's.
    pub fn wrap(&self, context: &str, secret: &[u8]) -> anyhow::Result<Vec<u8>> {
        seal(
            &self.derive(KeyPurpose::KeyWrapping),
            context.as_bytes(),
            secret,
        )
    }

    /// Decrypt what [`wrap`](Self::wrap) produced for the same `context`.
    pub fn unwrap_secret(&self, context: &str, wrapped: &[u8]) -> anyhow::Result<Vec<u8>> {
        open(
            &self.derive(KeyPurpose::KeyWrapping),
            context.as_bytes(),
            wrapped,
        )
        .map_err(|_| anyhow::anyhow!("wrapped key does not open with this master key"))
    }
}

/// XChaCha20-Poly1305 with a random 192-bit nonce, framed as `version ‖ nonce ‖ ciphertext`;
/// `aad` binds the ciphertext to its place (a row id, a purpose).
pub fn seal(key: &[u8; KEY_LEN], aad: &[u8], plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
    let cipher = XChaCha20Poly1305::new_from_slice(key)
        .map_err(|_| anyhow::anyhow!("sealing key has the wrong length"))?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| anyhow::anyhow!("sealing failed"))?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(SEAL_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Open what [`seal`] produced with the same key and `aad`.
pub fn open(key: &[u8; KEY_LEN], aad: &[u8], sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
    let (version, rest) = sealed
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("sealed data is empty"))?;
    if *version != SEAL_VERSION || rest.len() < NONCE_LEN {
        bail!("sealed data has an unknown format");
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce
        .try_into()
        .map_err(|_| anyhow::anyhow!("nonce has the wrong length"))?;
    let cipher = XChaCha20Poly1305::new_from_slice(key)
        .map_err(|_| anyhow::anyhow!("sealing key has the wrong length"))?;
    cipher
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| anyhow::anyhow!("sealed data does not open"))
}

#[cold]
fn unreachable_hkdf() {
    tracing::error!("HKDF refused a 32-byte output");
}

/// Create `path` with `contents`, readable by its owner only; fails if the file exists.
pub fn write_new_secret_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create secret file {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "secret file is readable by group or others; chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The default master key location inside a data directory.
pub fn default_master_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("master.key")
}

/// A random 256-bit secret as URL-safe text (43 characters): manage links, pairing secrets.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a high-entropy secret, hex-encoded: how such secrets are stored and looked up.
/// (A plain hash suffices for 256-bit random tokens; passwords use argon2id instead.)
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Hash a password with argon2id (OWASP parameters: 19 MiB, 2 passes). CPU-heavy: call it from
/// `spawn_blocking`.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let hash: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?;
    Ok(hash.to_string())
}

/// Check a password against a stored PHC string. CPU-heavy: call it from `spawn_blocking`.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_secrets_open_only_with_the_same_key_and_context() {
        let key = MasterKey::generate();
        let wrapped = key.wrap("event:1:data-key", b"secret").unwrap();
        assert!(!wrapped.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            key.unwrap_secret("event:1:data-key", &wrapped).unwrap(),
            b"secret"
        );
        assert!(key.unwrap_secret("event:2:data-key", &wrapped).is_err());
        assert!(
            MasterKey::generate()
                .unwrap_secret("event:1:data-key", &wrapped)
                .is_err()
        );
        let mut tampered = wrapped.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(key.unwrap_secret("event:1:data-key", &tampered).is_err());
    }

    #[test]
    fn derived_keys_differ_per_purpose_and_are_stable() {
        let key = MasterKey::from_bytes([7; 32]);
        assert_ne!(
            key.derive(KeyPurpose::OrganiserSession),
            key.derive(KeyPurpose::KeyWrapping)
        );
        assert_eq!(
            key.derive(KeyPurpose::OrganiserSession),
            MasterKey::from_bytes([7; 32]).derive(KeyPurpose::OrganiserSession)
        );
    }

    #[test]
    fn master_key_file_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/master.key");
        assert!(MasterKey::load_or_create(&path, false).is_err());
        let created = MasterKey::load_or_create(&path, true).unwrap();
        let loaded = MasterKey::load_or_create(&path, true).unwrap();
        assert_eq!(created.0, loaded.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").unwrap();
        assert!(MasterKey::load_or_create(&path, true).is_err());
    }

    #[test]
    fn tokens_are_random_and_hashed_stably() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("x", "not a hash"));
    }
}
