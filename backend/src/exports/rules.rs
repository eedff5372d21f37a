//! What an export file holds, as plain functions over values: the formats, the CSV columns and
//! rows (every cell neutralised against spreadsheet formulas), and file names.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::schema::exports::FileFormat;
use crate::schema::ids::LeadId;
use crate::{events::rules::ContactField, leads, sponsors};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv { bom: bool },
    Json,
}

impl Format {
    /// The file format stored with the export's record (and the file name's extension).
    pub(super) fn file_format(self) -> FileFormat {
        match self {
            Self::Csv { .. } => FileFormat::Csv,
            Self::Json => FileFormat::Json,
        }
    }
}

/// Column headers CRMs recognise on import (Salesforce, HubSpot, Dynamics use these words).
pub fn csv_header(field: ContactField) -> &'static str {
    match field {
        ContactField::FirstName => "First Name",
        ContactField::LastName => "Last Name",
        ContactField::Email => "Email",
        ContactField::Company => "Company",
        ContactField::JobTitle => "Job Title",
        ContactField::Phone => "Phone",
        ContactField::Country => "Country",
    }
}

pub const TRAILING_HEADERS: [&str; 7] = [
    "First Scan (UTC)",
    "Last Scan (UTC)",
    "Scan Count",
    "Rating",
    "Notes",
    "Tags",
    "Consentry Lead ID",
];

/// The one rule for CSV cells, shared with the command-line kiosk's export.
pub use consentry_badge::spreadsheet::neutralise;

/// `acme-analytics` from `Acme Analytics!`: a file-name-safe form.
pub fn file_slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "sponsor".into()
    } else {
        slug
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// One exported lead, as the JSON export writes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedLead {
    pub lead_id: LeadId,
    #[serde(flatten)]
    pub contact: leads::LeadContact,
    #[serde(with = "time::serde::rfc3339")]
    pub first_scanned_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_scanned_at: OffsetDateTime,
    pub scan_count: i32,
    pub rating: Option<i16>,
    pub note: Option<String>,
    pub tags: Vec<String>,
}

impl From<leads::LeadView> for ExportedLead {
    fn from(v: leads::LeadView) -> Self {
        Self {
            lead_id: v.id,
            contact: v.contact,
            first_scanned_at: v.first_scanned_at,
            last_scanned_at: v.last_scanned_at,
            scan_count: v.scan_count,
            rating: v.rating,
            note: v.note,
            tags: v.tags,
        }
    }
}

/// One lead as a CSV row: the shared contact fields, then scan times, count, rating, note, tags
/// and lead id, every text cell neutralised against formula injection.
pub fn csv_row(lead: &ExportedLead, shared: &[ContactField]) -> Vec<String> {
    let mut row: Vec<String> = shared
        .iter()
        .map(|f| neutralise(lead.contact.field(*f).unwrap_or_default()))
        .collect();
    row.extend([
        rfc3339(lead.first_scanned_at),
        rfc3339(lead.last_scanned_at),
        lead.scan_count.to_string(),
        lead.rating.map(|r| r.to_string()).unwrap_or_default(),
        neutralise(lead.note.as_deref().unwrap_or_default()),
        neutralise(&lead.tags.join(";")),
        lead.lead_id.to_string(),
    ]);
    row
}

/// Rows as CSV (CRLF line ends, quoting where needed).
pub fn csv_bytes(rows: impl IntoIterator<Item = Vec<String>>) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for row in rows {
        writer.write_record(&row)?;
    }
    writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// The names of the sponsors' files in the archive, in order: the sponsor's name made file-safe
/// and the end of its id (the random part of a UUIDv7), so that two sponsors whose names map to
/// the same file name ("Dup!", "Dup?") get two files; the whole id and a counter where even that
/// is taken.
pub fn zip_entry_names<'a>(
    sponsors: impl IntoIterator<Item = &'a sponsors::entity::Model>,
) -> Vec<String> {
    let mut taken = std::collections::HashSet::new();
    sponsors
        .into_iter()
        .map(|sponsor| {
            let id = sponsor.id.as_uuid().simple().to_string();
            let short = id.get(id.len().saturating_sub(8)..).unwrap_or(&id);
            let slug = file_slug(&sponsor.name);
            let mut name = format!("{slug}-{short}-leads.csv");
            let mut n = 1;
            while !taken.insert(name.clone()) {
                n += 1;
                name = format!("{slug}-{id}-{n}-leads.csv");
            }
            name
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::schema::ids::{EventId, SponsorId};

    #[test]
    fn zip_entry_names_are_unique_even_for_names_that_slug_alike() {
        let sponsor = |name: &str, id: u128| sponsors::entity::Model {
            id: SponsorId(Uuid::from_u128(id)),
            event_id: EventId(Uuid::nil()),
            name: name.into(),
            description: String::new(),
            privacy_policy_url: String::new(),
            booth_code: String::new(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        };
        let same_end = (1 << 64) | 0xabcd_ef01;
        let sponsors = [
            sponsor("Dup!", 0xabcd_ef01),
            sponsor("Dup?", same_end),
            sponsor("Acme", 2),
        ];
        let names = zip_entry_names(&sponsors);
        assert_eq!(names[0], "dup-abcdef01-leads.csv");
        assert_eq!(names[1], "dup-000000000000000100000000abcdef01-2-leads.csv");
        assert_eq!(names[2], "acme-00000002-leads.csv");
    }

    #[test]
    fn file_slugs() {
        assert_eq!(file_slug("Acme Analytics!"), "acme-analytics");
        assert_eq!(file_slug("  Über GmbH & Co  "), "ber-gmbh-co");
        assert_eq!(file_slug("!!!"), "sponsor");
    }

    #[test]
    fn csv_quotes_and_ends_lines_with_crlf() {
        let bytes = csv_bytes([vec!["a,b".to_owned(), "say \"hi\"".to_owned()]]).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "\"a,b\",\"say \"\"hi\"\"\"\r\n"
        );
    }
}
