//! Talking to the Consentry server.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::{PairedEvent, PairedSponsor, Pairing};

pub fn client() -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(3))
        .user_agent(concat!("consentry-scan/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// A failure the kiosk reacts to differently.
#[derive(Debug)]
pub enum Failure {
    /// No answer, or a 5xx: the server is unreachable for now.
    Unreachable(String),
    /// The kiosk token was refused (revoked, expired): pair again.
    Unauthorized(String),
    /// Any other refusal of the request, with the problem's code.
    Rejected(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(why) => write!(f, "server unreachable ({why})"),
            Self::Unauthorized(code) => {
                write!(f, "this kiosk is no longer allowed ({code}); pair it again")
            }
            Self::Rejected(code) => write!(f, "the server refused the request ({code})"),
        }
    }
}

async fn problem_code(response: reqwest::Response) -> String {
    response
        .json::<Value>()
        .await
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

async fn check(
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<reqwest::Response, Failure> {
    let response = response.map_err(|e| {
        Failure::Unreachable(if e.is_timeout() {
            "timeout".into()
        } else {
            "no connection".into()
        })
    })?;
    let status = response.status();
    if status.is_server_error() {
        return Err(Failure::Unreachable(format!("HTTP {}", status.as_u16())));
    }
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(Failure::Unauthorized(problem_code(response).await));
    }
    if !status.is_success() {
        return Err(Failure::Rejected(problem_code(response).await));
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct Paired {
    token: String,
    kiosk_id: Uuid,
    event: PairedEvent,
    sponsor: PairedSponsor,
    badge_keys: consentry_badge::KeySet,
}

pub async fn pair(
    client: &reqwest::Client,
    server: &str,
    code: &str,
    name: Option<&str>,
) -> Result<Pairing, Failure> {
    let server = server.trim_end_matches('/').to_owned();
    let response = check(
        client
            .post(format!("{server}/api/v1/kiosks/pair"))
            .json(&json!({"code": code, "device_name": name}))
            .send()
            .await,
    )
    .await?;
    let paired: Paired = response
        .json()
        .await
        .map_err(|_| Failure::Rejected("malformed_answer".into()))?;
    Ok(Pairing {
        server,
        token: paired.token,
        kiosk_id: paired.kiosk_id,
        event: paired.event,
        sponsor: paired.sponsor,
        badge_keys: paired.badge_keys,
    })
}

/// The server's answer to a scan.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ScanAnswer {
    Accepted { lead: Box<Lead> },
    Refused { reason: String },
}

#[derive(Debug, Clone, Deserialize)]
pub struct Lead {
    pub id: Uuid,
    pub contact: Contact,
    pub scan_count: i64,
    pub rating: Option<i64>,
    pub note: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub last_scanned_at: OffsetDateTime,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Contact {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
}

impl Contact {
    pub fn name(&self) -> String {
        [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

pub async fn scan(
    client: &reqwest::Client,
    pairing: &Pairing,
    badge_token: &str,
    client_scan_id: Uuid,
    scanned_at: OffsetDateTime,
) -> Result<ScanAnswer, Failure> {
    let scanned_at = scanned_at
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|_| Failure::Rejected("bad_time".into()))?;
    let response = check(
        client
            .post(format!("{}/api/v1/scans", pairing.server))
            .bearer_auth(&pairing.token)
            .json(&json!({
                "badge_token": badge_token,
                "client_scan_id": client_scan_id,
                "scanned_at": scanned_at,
            }))
            .send()
            .await,
    )
    .await?;
    response
        .json()
        .await
        .map_err(|_| Failure::Rejected("malformed_answer".into()))
}

#[derive(Debug, Deserialize)]
struct LeadPage {
    leads: Vec<Lead>,
    total: u64,
}

/// Every lead of this kiosk's sponsor, most recently scanned first.
pub async fn leads(client: &reqwest::Client, pairing: &Pairing) -> Result<Vec<Lead>, Failure> {
    let mut all = Vec::new();
    for page in 1.. {
        let response = check(
            client
                .get(format!(
                    "{}/api/v1/leads?page={page}&per_page=200",
                    pairing.server
                ))
                .bearer_auth(&pairing.token)
                .send()
                .await,
        )
        .await?;
        let page: LeadPage = response
            .json()
            .await
            .map_err(|_| Failure::Rejected("malformed_answer".into()))?;
        let last = page.leads.is_empty() || all.len() + page.leads.len() >= page.total as usize;
        all.extend(page.leads);
        if last {
            break;
        }
    }
    Ok(all)
}

pub async fn annotate(
    client: &reqwest::Client,
    pairing: &Pairing,
    lead_id: Uuid,
    body: &Value,
) -> Result<Lead, Failure> {
    let response = check(
        client
            .patch(format!("{}/api/v1/leads/{lead_id}", pairing.server))
            .bearer_auth(&pairing.token)
            .json(body)
            .send()
            .await,
    )
    .await?;
    response
        .json()
        .await
        .map_err(|_| Failure::Rejected("malformed_answer".into()))
}

/// How many leads this kiosk's sponsor has now (for a progress bar).
pub async fn lead_count(client: &reqwest::Client, pairing: &Pairing) -> Result<u64, Failure> {
    let response = check(
        client
            .get(format!("{}/api/v1/leads?page=1&per_page=1", pairing.server))
            .bearer_auth(&pairing.token)
            .send()
            .await,
    )
    .await?;
    let page: LeadPage = response
        .json()
        .await
        .map_err(|_| Failure::Rejected("malformed_answer".into()))?;
    Ok(page.total)
}

/// Start the sponsor's CSV export; the caller reads the body as it streams.
pub async fn export_csv(
    client: &reqwest::Client,
    pairing: &Pairing,
) -> Result<reqwest::Response, Failure> {
    check(
        client
            .get(format!("{}/api/v1/leads.csv", pairing.server))
            .bearer_auth(&pairing.token)
            .timeout(Duration::from_secs(3600))
            .send()
            .await,
    )
    .await
}
