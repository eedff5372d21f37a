//! The pairing this device holds, stored in the user's config directory with mode 0600.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::Context;
use consentry_badge::{BadgePublicKey, KeySet, keys_from_jwks};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pairing {
    pub server: String,
    /// The kiosk token: whoever has it scans for this sponsor, hence the file's mode.
    pub token: String,
    pub kiosk_id: Uuid,
    pub event: PairedEvent,
    pub sponsor: PairedSponsor,
    /// The event's badge keys, to check signatures while the server is unreachable.
    pub badge_keys: KeySet,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairedEvent {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairedSponsor {
    pub id: Uuid,
    pub name: String,
}

impl Pairing {
    pub fn keys(&self) -> Vec<BadgePublicKey> {
        keys_from_jwks(&self.badge_keys, self.event.id)
    }
}

pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("consentry-scan").join("config.json"))
}

/// `Ok(None)` when this device is not paired.
pub fn load(path: &Path) -> anyhow::Result<Option<Pairing>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{} is not a valid pairing file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Replace the pairing file atomically (write a private temporary file, then rename it).
pub fn save(path: &Path, pairing: &Pairing) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let temporary = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    file.write_all(serde_json::to_string_pretty(pairing)?.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}
