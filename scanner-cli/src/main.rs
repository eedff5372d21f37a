//! `consentry-scan`: the sponsor kiosk client.
//!
//! This release pairs nothing yet: the server's kiosk API arrives with the kiosk issue. The
//! command tree, its flags, its exit codes and the local configuration are fixed here so that
//! scripts and documentation can rely on them.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Parser, Subcommand};
use serde::Deserialize;

/// Exit codes, documented in `--help` and the README.
mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    // 2 is clap's usage error.
    pub const NOT_PAIRED: u8 = 3;
    pub const UNSUPPORTED: u8 = 4;
}

#[derive(Debug, Parser)]
#[command(
    name = "consentry-scan",
    version,
    about = "Sponsor kiosk client for Consentry: pair with an event, scan badges, see your leads",
    after_help = "Exit codes: 0 success; 1 failure; 2 usage error; 3 not paired; \
                  4 not supported by this release.\n\
                  A badge becomes a lead only if its attendee consented to your company; \
                  a refused scan leaves no trace of the person."
)]
struct Cli {
    /// Configuration file (pairing, server, cached badge keys). Default: the user config dir.
    #[arg(long, env = "CONSENTRY_SCAN_CONFIG", global = true)]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Pair this device with a sponsor booth using the one-time code from the organiser.
    Pair {
        /// Base URL of the Consentry server, e.g. https://events.example.org
        #[arg(long)]
        server: String,
        /// The 8-character pairing code.
        #[arg(long)]
        code: String,
        /// A name for this device, shown to the organiser.
        #[arg(long)]
        name: Option<String>,
    },
    /// Scan badge photos (PNG/JPEG) or a badge token given as text.
    Scan {
        /// Badge images; each QR code found is submitted.
        images: Vec<PathBuf>,
        /// A badge token as text instead of images.
        #[arg(long, conflicts_with = "images")]
        token: Option<String>,
    },
    /// Read badge tokens from standard input, one per line (USB barcode scanners in keyboard mode).
    Listen,
    /// Upload scans queued while the server was unreachable.
    Sync,
    /// Show pairing and the number of queued scans.
    Status,
    /// List this booth's leads.
    Leads {
        /// Write CSV to standard output instead of a table.
        #[arg(long)]
        csv: bool,
    },
    /// Rate a lead and add a note.
    Note {
        lead_id: String,
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=5))]
        rating: Option<u8>,
        #[arg(long)]
        text: Option<String>,
    },
    /// Export this booth's consented leads.
    Export {
        /// Destination CSV file.
        #[arg(long)]
        csv: PathBuf,
    },
}

/// The pairing stored by `pair` (only the fields `status` reads).
#[derive(Debug, Deserialize)]
struct Pairing {
    server: String,
    event_name: Option<String>,
    sponsor_name: Option<String>,
}

fn default_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("consentry-scan").join("config.json"))
}

fn queue_path(config: &Path) -> PathBuf {
    config.with_file_name("queue.jsonl")
}

fn status(config: &Path) -> Result<u8, String> {
    let text = match std::fs::read_to_string(config) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("not paired (no {})", config.display());
            return Ok(exit::NOT_PAIRED);
        }
        Err(e) => return Err(format!("cannot read {}: {e}", config.display())),
    };
    let pairing: Pairing = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a valid pairing file: {e}", config.display()))?;
    let queued = std::fs::read_to_string(queue_path(config))
        .map(|q| q.lines().filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0);
    println!("paired with {}", pairing.server);
    if let Some(event) = pairing.event_name {
        println!("event:   {event}");
    }
    if let Some(sponsor) = pairing.sponsor_name {
        println!("sponsor: {sponsor}");
    }
    println!("queued scans: {queued}");
    Ok(exit::OK)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(config) = cli.config.or_else(default_config_path) else {
        eprintln!("consentry-scan: no configuration directory; pass --config FILE");
        return ExitCode::from(exit::FAILURE);
    };
    let outcome = match cli.command {
        Command::Status => status(&config),
        other => {
            let name = match other {
                Command::Pair { .. } => "pair",
                Command::Scan { .. } => "scan",
                Command::Listen => "listen",
                Command::Sync => "sync",
                Command::Leads { .. } => "leads",
                Command::Note { .. } => "note",
                Command::Export { .. } => "export",
                Command::Status => "status",
            };
            eprintln!(
                "consentry-scan: `{name}` needs the server's kiosk API, which this release does \
                 not include yet"
            );
            Ok(exit::UNSUPPORTED)
        }
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("consentry-scan: {message}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn status_reports_not_paired_and_paired() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.json");
        assert_eq!(status(&config), Ok(exit::NOT_PAIRED));
        std::fs::write(
            &config,
            r#"{"server":"http://127.0.0.1:1","event_name":"E"}"#,
        )
        .unwrap();
        std::fs::write(queue_path(&config), "{}\n{}\n").unwrap();
        assert_eq!(status(&config), Ok(exit::OK));
        std::fs::write(&config, "nonsense").unwrap();
        assert!(status(&config).is_err());
    }
}
