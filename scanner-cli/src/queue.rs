//! Scans waiting for the server: what a kiosk records while offline.
//!
//! Two append-only files beside the pairing: `queue.jsonl` (one scan per line: badge token,
//! client scan id, scan time — no personal data) and `done.jsonl` (the client scan ids the server
//! has answered). Each line is flushed to disk before the kiosk says so, so a crash loses nothing;
//! a scan answered but not yet marked done is simply sent again, and the server answers a repeated
//! client scan id with its first answer, so each scan counts exactly once.

use std::{
    collections::HashSet,
    io::{BufRead, Write},
    path::{Path, PathBuf},
};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedScan {
    pub client_scan_id: Uuid,
    pub badge_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub scanned_at: OffsetDateTime,
}

pub struct Queue {
    queue: PathBuf,
    done: PathBuf,
}

impl Queue {
    /// The queue kept beside the pairing file `config`.
    pub fn beside(config: &Path) -> Self {
        Self {
            queue: config.with_file_name("queue.jsonl"),
            done: config.with_file_name("done.jsonl"),
        }
    }

    fn append(path: &Path, line: &str) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        file.write_all(format!("{line}\n").as_bytes())?;
        file.sync_all()?;
        Ok(())
    }

    fn lines(path: &Path) -> anyhow::Result<Vec<String>> {
        match std::fs::File::open(path) {
            Ok(file) => Ok(std::io::BufReader::new(file)
                .lines()
                .map_while(Result::ok)
                .filter(|l| !l.trim().is_empty())
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn push(&self, scan: &QueuedScan) -> anyhow::Result<()> {
        Self::append(&self.queue, &serde_json::to_string(scan)?)
    }

    pub fn mark_done(&self, client_scan_id: Uuid) -> anyhow::Result<()> {
        Self::append(&self.done, &client_scan_id.to_string())
    }

    /// Scans not yet answered by the server, oldest first. A torn last line (a crash mid-write)
    /// is skipped: it was never reported as queued.
    pub fn pending(&self) -> anyhow::Result<Vec<QueuedScan>> {
        let done: HashSet<Uuid> = Self::lines(&self.done)?
            .iter()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        Ok(Self::lines(&self.queue)?
            .iter()
            .filter_map(|l| serde_json::from_str::<QueuedScan>(l).ok())
            .filter(|s| !done.contains(&s.client_scan_id))
            .collect())
    }

    /// Drop both files once nothing is pending.
    pub fn compact(&self) -> anyhow::Result<()> {
        if self.pending()?.is_empty() {
            for path in [&self.queue, &self.done] {
                match std::fs::remove_file(path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(n: u8) -> QueuedScan {
        QueuedScan {
            client_scan_id: Uuid::new_v4(),
            badge_token: format!("token-{n}"),
            scanned_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn pending_is_queued_minus_done_and_survives_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::beside(&dir.path().join("config.json"));
        let (a, b, c) = (scan(1), scan(2), scan(3));
        for s in [&a, &b, &c] {
            queue.push(s).unwrap();
        }
        queue.mark_done(b.client_scan_id).unwrap();
        // A crash in the middle of writing one more line.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("queue.jsonl"))
            .unwrap();
        file.write_all(b"{\"client_scan_id\":\"12").unwrap();
        assert_eq!(queue.pending().unwrap(), vec![a.clone(), c.clone()]);

        queue.compact().unwrap();
        assert!(
            dir.path().join("queue.jsonl").exists(),
            "not compacted while scans are pending"
        );
        queue.mark_done(a.client_scan_id).unwrap();
        queue.mark_done(c.client_scan_id).unwrap();
        queue.compact().unwrap();
        assert!(queue.pending().unwrap().is_empty());
        assert!(!dir.path().join("queue.jsonl").exists());
    }
}
