//! `consentry-scan`: the sponsor kiosk client.
//!
//! Pair once with the organiser's code, then scan badge photos, a token, or a USB barcode
//! scanner's stream. Online, the server decides; offline, the kiosk checks the badge's signature
//! against the event's cached keys (a forgery is refused at once) and queues the scan — no
//! personal data — for `sync`, where the server decides about consent.

mod api;
mod config;
mod decode;
mod queue;

use std::{
    io::{BufRead, IsTerminal, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Parser, Subcommand};
use consentry_badge::spreadsheet::neutralise;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    api::{Failure, ScanAnswer},
    config::Pairing,
    queue::{Queue, QueuedScan},
};

/// Exit codes, documented in `--help` and the README.
mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    // 2 is clap's usage error.
    pub const NOT_PAIRED: u8 = 3;
    pub const KIOSK_REFUSED: u8 = 5;
    pub const UNREACHABLE: u8 = 6;
    pub const SCAN_REFUSED: u8 = 7;
}

#[derive(Debug, Parser)]
#[command(
    name = "consentry-scan",
    version,
    about = "Sponsor kiosk client for Consentry: pair with an event, scan badges, see your leads",
    after_help = "Exit codes: 0 success (a queued offline scan included); 1 failure; 2 usage error; \
                  3 not paired; 5 this kiosk was revoked or its \
                  token expired (pair again); 6 server unreachable; 7 a scanned badge was refused.\n\
                  A badge becomes a lead only if its attendee consented to your company; \
                  a refused scan leaves no trace of the person."
)]
struct Cli {
    /// Pairing file (server, kiosk token, cached badge keys); the offline queue lives beside it.
    /// Default: consentry-scan/config.json in the user's config directory.
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
    /// Scan badge photos (PNG/JPEG; every QR code in each) or a badge token given as text.
    Scan {
        images: Vec<PathBuf>,
        /// A badge token as text instead of images.
        #[arg(long, conflicts_with = "images", required_unless_present = "images")]
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
    /// Rate a lead, add a note or tags.
    Note {
        lead_id: Uuid,
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=5))]
        rating: Option<u8>,
        #[arg(long)]
        text: Option<String>,
        /// A tag (repeat for several); replaces the lead's tags.
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Export this booth's consented leads to a CSV file (with a progress bar).
    Export {
        /// Destination CSV file.
        #[arg(long)]
        csv: PathBuf,
    },
}

/// An error as one line and its exit code.
struct Fail(u8, String);

impl From<anyhow::Error> for Fail {
    fn from(e: anyhow::Error) -> Self {
        Self(exit::FAILURE, format!("{e:#}"))
    }
}

impl From<Failure> for Fail {
    fn from(f: Failure) -> Self {
        let code = match f {
            Failure::Unreachable(_) => exit::UNREACHABLE,
            Failure::Unauthorized(_) => exit::KIOSK_REFUSED,
            Failure::Rejected(_) => exit::FAILURE,
        };
        Self(code, f.to_string())
    }
}

/// How outcomes are printed: coloured on a terminal, plain when piped.
struct Out {
    colour: bool,
}

impl Out {
    fn line(&self, colour: &str, word: &str, rest: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = if self.colour {
            writeln!(stdout, "\x1b[1;{colour}m{word}\x1b[0m {rest}")
        } else {
            writeln!(stdout, "{word} {rest}")
        };
        let _ = stdout.flush();
    }

    fn answer(&self, answer: &ScanAnswer) {
        match answer {
            ScanAnswer::Accepted { lead } => {
                let company = lead
                    .contact
                    .company
                    .as_deref()
                    .map(|c| format!(", {c}"))
                    .unwrap_or_default();
                let again = if lead.scan_count > 1 {
                    format!(" (scan {})", lead.scan_count)
                } else {
                    String::new()
                };
                self.line(
                    "32",
                    "ACCEPTED",
                    &format!("{}{company}{again}", lead.contact.name()),
                );
            }
            ScanAnswer::Refused { reason } => self.line("31", "REFUSED", reason),
        }
    }
}

fn require_pairing(path: &Path) -> Result<Pairing, Fail> {
    config::load(path)?.ok_or_else(|| {
        Fail(
            exit::NOT_PAIRED,
            format!(
                "not paired (no {}); run `consentry-scan pair`",
                path.display()
            ),
        )
    })
}

/// Submit one badge now; offline, check it locally and queue it. Returns whether it was refused.
async fn submit(
    client: &reqwest::Client,
    pairing: &Pairing,
    queue: &Queue,
    out: &Out,
    badge_token: &str,
) -> Result<bool, Fail> {
    let scan = QueuedScan {
        client_scan_id: Uuid::new_v4(),
        badge_token: consentry_badge::token_in_scan(badge_token).to_owned(),
        scanned_at: OffsetDateTime::now_utc(),
    };
    match api::scan(
        client,
        pairing,
        &scan.badge_token,
        scan.client_scan_id,
        scan.scanned_at,
    )
    .await
    {
        Ok(answer) => {
            out.answer(&answer);
            Ok(matches!(answer, ScanAnswer::Refused { .. }))
        }
        Err(Failure::Unreachable(why)) => {
            // The same rule as the server's: a forgery or another event's badge is refused here.
            if let Err(rejection) =
                consentry_badge::verify(&scan.badge_token, &pairing.keys(), pairing.event.id)
            {
                let reason = match rejection {
                    consentry_badge::BadgeRejection::Invalid => "invalid_badge",
                    consentry_badge::BadgeRejection::OtherEvent => "wrong_event",
                };
                out.line("31", "REFUSED", &format!("{reason} (checked offline)"));
                return Ok(true);
            }
            queue.push(&scan)?;
            out.line(
                "33",
                "QUEUED",
                &format!("server unreachable ({why}); run `consentry-scan sync` later"),
            );
            Ok(false)
        }
        Err(other) => Err(other.into()),
    }
}

async fn run(cli: Cli) -> Result<u8, Fail> {
    let path = cli.config.or_else(config::default_path).ok_or_else(|| {
        Fail(
            exit::FAILURE,
            "no configuration directory; pass --config FILE".into(),
        )
    })?;
    let queue = Queue::beside(&path);
    let out = Out {
        colour: std::io::stdout().is_terminal(),
    };
    let client = api::client()?;
    match cli.command {
        Command::Pair { server, code, name } => {
            let pairing = api::pair(&client, &server, &code, name.as_deref()).await?;
            config::save(&path, &pairing)?;
            println!(
                "paired: {} at {} ({})",
                pairing.sponsor.name,
                pairing.event.name,
                path.display()
            );
            Ok(exit::OK)
        }
        Command::Scan { images, token } => {
            let pairing = require_pairing(&path)?;
            let mut tokens = Vec::new();
            if let Some(token) = token {
                tokens.push(token);
            }
            for image in &images {
                let found = decode::decode_file(image)?;
                if found.is_empty() {
                    eprintln!("consentry-scan: no QR code found in {}", image.display());
                }
                tokens.extend(found);
            }
            let mut refused = false;
            for token in tokens {
                refused |= submit(&client, &pairing, &queue, &out, &token).await?;
            }
            Ok(if refused {
                exit::SCAN_REFUSED
            } else {
                exit::OK
            })
        }
        Command::Listen => {
            let pairing = require_pairing(&path)?;
            eprintln!(
                "listening for badges ({} at {}); end with Ctrl-D",
                pairing.sponsor.name, pairing.event.name
            );
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                let line = line
                    .map_err(|e| Fail(exit::FAILURE, format!("cannot read standard input: {e}")))?;
                if line.trim().is_empty() {
                    continue;
                }
                submit(&client, &pairing, &queue, &out, &line).await?;
            }
            Ok(exit::OK)
        }
        Command::Sync => sync(&client, &path, &queue, &out).await,
        Command::Status => {
            let Some(pairing) = config::load(&path)? else {
                println!("not paired (no {})", path.display());
                return Ok(exit::NOT_PAIRED);
            };
            println!("paired with {}", pairing.server);
            println!("event:   {}", pairing.event.name);
            println!("sponsor: {}", pairing.sponsor.name);
            println!("queued scans: {}", queue.pending()?.len());
            Ok(exit::OK)
        }
        Command::Leads { csv } => {
            let pairing = require_pairing(&path)?;
            let leads = api::leads(&client, &pairing).await?;
            if csv {
                let mut writer = csv::Writer::from_writer(std::io::stdout());
                writer
                    .write_record([
                        "lead_id",
                        "first_name",
                        "last_name",
                        "email",
                        "company",
                        "job_title",
                        "phone",
                        "country",
                        "scan_count",
                        "rating",
                        "note",
                        "tags",
                    ])
                    .map_err(anyhow::Error::from)?;
                for lead in &leads {
                    let c = &lead.contact;
                    let text = |v: &Option<String>| neutralise(v.as_deref().unwrap_or_default());
                    writer
                        .write_record([
                            lead.id.to_string(),
                            text(&c.first_name),
                            text(&c.last_name),
                            text(&c.email),
                            text(&c.company),
                            text(&c.job_title),
                            text(&c.phone),
                            text(&c.country),
                            lead.scan_count.to_string(),
                            lead.rating.map(|r| r.to_string()).unwrap_or_default(),
                            text(&lead.note),
                            neutralise(&lead.tags.join(";")),
                        ])
                        .map_err(anyhow::Error::from)?;
                }
                writer.flush().map_err(anyhow::Error::from)?;
            } else {
                println!(
                    "{:<36}  {:<24} {:<24} {:>5} {:>6}  LAST SCAN",
                    "LEAD", "NAME", "COMPANY", "SCANS", "RATING"
                );
                for lead in &leads {
                    println!(
                        "{:<36}  {:<24} {:<24} {:>5} {:>6}  {}",
                        lead.id,
                        truncate(&lead.contact.name(), 24),
                        truncate(lead.contact.company.as_deref().unwrap_or("-"), 24),
                        lead.scan_count,
                        lead.rating
                            .map(|r| r.to_string())
                            .unwrap_or_else(|| "-".into()),
                        lead.last_scanned_at
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default(),
                    );
                }
                eprintln!("{} leads", leads.len());
            }
            Ok(exit::OK)
        }
        Command::Note {
            lead_id,
            rating,
            text,
            tags,
        } => {
            let pairing = require_pairing(&path)?;
            let mut body = json!({});
            if let Some(rating) = rating {
                body["rating"] = json!(rating);
            }
            if let Some(text) = text {
                body["note"] = json!(text);
            }
            if !tags.is_empty() {
                body["tags"] = json!(tags);
            }
            if body.as_object().is_some_and(|o| o.is_empty()) {
                return Err(Fail(2, "give --rating, --text or --tag".into()));
            }
            let lead = api::annotate(&client, &pairing, lead_id, &body).await?;
            println!(
                "noted: {} (rating {})",
                lead.contact.name(),
                lead.rating
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "-".into())
            );
            Ok(exit::OK)
        }
        Command::Export { csv } => export(&client, &path, &csv).await,
    }
}

/// Download the sponsor's consented leads as CSV into `target`, with a progress bar. The file
/// holds personal data: it is written privately (0600) and appears only once complete.
async fn export(client: &reqwest::Client, path: &Path, target: &Path) -> Result<u8, Fail> {
    use std::io::Write as _;
    let pairing = require_pairing(path)?;
    let total = api::lead_count(client, &pairing).await?;
    let mut response = api::export_csv(client, &pairing).await?;
    let partial = target.with_extension("csv.partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&partial).map_err(|e| {
        Fail(
            exit::FAILURE,
            format!("cannot write {}: {e}", partial.display()),
        )
    })?;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} leads")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // Records end in CRLF; the first line is the header.
    let mut lines: u64 = 0;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) => {
                let _ = std::fs::remove_file(&partial);
                return Err(Fail(
                    exit::UNREACHABLE,
                    "the export was interrupted; nothing was saved".into(),
                ));
            }
        };
        file.write_all(&chunk).map_err(|e| {
            Fail(
                exit::FAILURE,
                format!("cannot write {}: {e}", partial.display()),
            )
        })?;
        lines += chunk.windows(2).filter(|w| w == b"\r\n").count() as u64;
        bar.set_position(lines.saturating_sub(1));
    }
    file.sync_all().map_err(anyhow::Error::from)?;
    std::fs::rename(&partial, target).map_err(|e| {
        Fail(
            exit::FAILURE,
            format!("cannot write {}: {e}", target.display()),
        )
    })?;
    bar.finish_and_clear();
    println!(
        "exported {} leads to {}",
        lines.saturating_sub(1),
        target.display()
    );
    Ok(exit::OK)
}

/// Upload queued scans, marking each done as soon as the server has answered it.
async fn sync(client: &reqwest::Client, path: &Path, queue: &Queue, out: &Out) -> Result<u8, Fail> {
    let pairing = require_pairing(path)?;
    let pending = queue.pending()?;
    if pending.is_empty() {
        println!("nothing queued");
        queue.compact()?;
        return Ok(exit::OK);
    }
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(pending.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} synced {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let total = pending.len();
    for (i, scan) in pending.into_iter().enumerate() {
        let answer = api::scan(
            client,
            &pairing,
            &scan.badge_token,
            scan.client_scan_id,
            scan.scanned_at,
        )
        .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(failure) => {
                bar.abandon();
                return Err(failure.into());
            }
        };
        queue.mark_done(scan.client_scan_id)?;
        bar.inc(1);
        bar.suspend(|| {
            if !out.colour {
                print!("{}/{total} ", i + 1);
            }
            out.answer(&answer);
        });
    }
    bar.finish_and_clear();
    queue.compact()?;
    println!("synced {total} queued scans");
    Ok(exit::OK)
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut t: String = text.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(Fail(code, message)) => {
            eprintln!("consentry-scan: {message}");
            ExitCode::from(code)
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
    fn spreadsheet_formulas_are_neutralised() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+31 20"), "'+31 20");
        assert_eq!(neutralise("Ada"), "Ada");
        assert_eq!(
            neutralise("Ada;=cmd|' /C calc'!A0"),
            "Ada;'=cmd|' /C calc'!A0"
        );
    }
}
