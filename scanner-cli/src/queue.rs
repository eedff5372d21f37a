//! Scans waiting for the server: what a kiosk records while offline.
//!
//! Two append-only files beside the pairing: `queue.jsonl` (one scan per line: badge token,
//! client scan id, scan time — no personal data) and `done.jsonl` (the client scan ids the server
//! has answered). Each line is flushed to disk before the kiosk says so, so a crash loses nothing;
//! a scan answered but not yet marked done is simply sent again, and the server answers a repeated
//! client scan id with its first answer, so each scan counts exactly once.

use std::{
    collections::HashSet,
    io::{Read, Seek, SeekFrom, Write},
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
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // A crash mid-write leaves a torn last line. Start on a line of our own, or this line
        // would be glued to the torn one and lost with it (found by `pending_survives_any_garbage`).
        let torn = file.metadata()?.len() > 0 && {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1))?;
            file.read_exact(&mut last)?;
            last[0] != b'\n'
        };
        let record = if torn {
            format!("\n{line}\n")
        } else {
            format!("{line}\n")
        };
        file.write_all(record.as_bytes())?;
        file.sync_all()?;
        Ok(())
    }

    /// The file's non-blank lines. Bytes that are not UTF-8 spoil only their own line: reading
    /// line by line as text would stop at the first such line and hide every scan after it.
    fn lines(path: &Path) -> anyhow::Result<Vec<String>> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(bytes
                .split(|b| *b == b'\n')
                .map(|line| String::from_utf8_lossy(line).into_owned())
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
    use proptest::prelude::*;

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

    #[test]
    fn a_scan_queued_after_a_torn_line_or_bad_bytes_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::beside(&dir.path().join("config.json"));
        let (a, b) = (scan(1), scan(2));
        // A crash left half a line; the next scan used to be glued to it and lost.
        append_raw(&dir.path().join("queue.jsonl"), b"{\"client_scan_id\":\"12");
        queue.push(&a).unwrap();
        // Bytes that are not UTF-8 used to hide every line after them.
        append_raw(&dir.path().join("queue.jsonl"), b"\xff\xfe\n");
        queue.push(&b).unwrap();
        assert_eq!(queue.pending().unwrap(), vec![a.clone(), b.clone()]);
        append_raw(&dir.path().join("done.jsonl"), b"\x0e");
        queue.mark_done(a.client_scan_id).unwrap();
        assert_eq!(queue.pending().unwrap(), vec![b]);
    }

    /// What can happen to the queue: scans queued and answered, and crashes that leave a torn
    /// or garbled line in either file.
    #[derive(Debug, Clone)]
    enum Step {
        Push(u8),
        Done(usize),
        GarbageInQueue(Vec<u8>),
        GarbageInDone(Vec<u8>),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => any::<u8>().prop_map(Step::Push),
            2 => any::<usize>().prop_map(Step::Done),
            1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Step::GarbageInQueue),
            1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Step::GarbageInDone),
        ]
    }

    fn append_raw(path: &Path, bytes: &[u8]) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        file.write_all(bytes).unwrap();
    }

    proptest! {
        /// Whatever a crash leaves in the files, every scan queued and not answered is pending,
        /// exactly once, in order, and nothing else is.
        #[test]
        fn pending_survives_any_garbage(steps in proptest::collection::vec(step(), 0..30)) {
            let dir = tempfile::tempdir().unwrap();
            let queue = Queue::beside(&dir.path().join("config.json"));
            let mut expected: Vec<QueuedScan> = Vec::new();
            let mut answered: Vec<QueuedScan> = Vec::new();
            for step in steps {
                match step {
                    Step::Push(n) => {
                        let queued = scan(n);
                        queue.push(&queued).unwrap();
                        expected.push(queued);
                    }
                    Step::Done(i) if !expected.is_empty() => {
                        let done = expected.remove(i % expected.len());
                        queue.mark_done(done.client_scan_id).unwrap();
                        answered.push(done);
                    }
                    Step::Done(_) => {}
                    Step::GarbageInQueue(bytes) => append_raw(&dir.path().join("queue.jsonl"), &bytes),
                    Step::GarbageInDone(bytes) => append_raw(&dir.path().join("done.jsonl"), &bytes),
                }
            }
            prop_assert_eq!(queue.pending().unwrap(), expected);
        }
    }
}
