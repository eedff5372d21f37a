//! Property-based fuzzing (proptest) of what the server parses from strangers: badge tokens, scan
//! request bodies and registration bodies, and of what it writes for spreadsheets (CSV rows).
//! The kiosk's offline queue file has its own in `scanner-cli/src/queue.rs`.
//!
//! cargo-fuzz needs a nightly toolchain, which this project's machines do not have; proptest runs
//! on stable, shrinks every failure to a minimal input and saves its seed beside this file
//! (`fuzz.proptest-regressions`, to commit: every run replays those first). `the_corpus_is_handled`
//! is the hand-picked part of the corpus.
//!
//! `cargo test --workspace` runs each property for proptest's default 256 cases;
//! `tests/fuzz.sh` runs them for longer, bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use consentry::schema::ids::{LeadId, SponsorId};
use consentry::{
    consents::Coverage,
    contact::{Country, Email, Phone},
    disclosure,
    events::rules::ContactField,
    exports::{self, ExportedLead},
    registrations::rules::ContactDetails,
    registrations::{
        NewRegistration,
        rules::{self, RegistrationCheck, SubmittedDetails},
    },
    scans::{ScanRequest, rules as scan_rules},
};
use consentry_badge::{BadgeClaims, BadgePublicKey, BadgeSigner};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use serde_json::{Value, json};
use time::macros::datetime;
use uuid::Uuid;

const SEED: [u8; 32] = [3; 32];

fn event_id() -> Uuid {
    Uuid::from_u128(0x0195_0000_0000_7000_8000_0000_0000_0001)
}

fn genuine() -> (String, BadgeClaims, Vec<BadgePublicKey>) {
    let claims = BadgeClaims {
        bid: Uuid::from_u128(42),
        eid: event_id(),
        iat: 1_795_000_000,
    };
    let signer = BadgeSigner::from_seed("k1".into(), &SEED).unwrap();
    let key = BadgePublicKey {
        kid: "k1".into(),
        event_id: event_id(),
        public_key: SigningKey::from_bytes(&SEED).verifying_key().to_bytes(),
    };
    (signer.sign(&claims).unwrap(), claims, vec![key])
}

/// Characters a token is made of, and some it is not.
fn token_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::ranges(vec!['A'..='Z', 'a'..='z', '0'..='9'].into()),
        1 => Just('.'),
        1 => Just('-'),
        1 => Just('_'),
        1 => Just('='),
        1 => any::<char>(),
    ]
}

proptest! {
    /// Any text: never a panic, never a valid badge.
    #[test]
    fn arbitrary_text_is_never_a_valid_badge(token in ".{0,600}") {
        let (_, _, keys) = genuine();
        let _ = consentry_badge::token_kid(&token);
        prop_assert!(consentry_badge::verify(&token, &keys, event_id()).is_err());
    }

    /// A genuine token with one character changed, cut short or lengthened: refused, or (where
    /// the change only touches base64 padding bits) the very same claims. Never other claims.
    #[test]
    fn a_tampered_badge_never_verifies_as_another(
        position in any::<prop::sample::Index>(),
        replacement in token_char(),
        cut in any::<prop::sample::Index>(),
        extra in "[A-Za-z0-9_.=-]{0,8}",
    ) {
        let (token, claims, keys) = genuine();
        let mut chars: Vec<char> = token.chars().collect();
        let at = position.index(chars.len());
        chars[at] = replacement;
        let changed: String = chars.into_iter().collect();
        let short = &token[..cut.index(token.len())];
        let long = format!("{token}{extra}");
        for candidate in [changed.as_str(), short, long.as_str()] {
            if let Ok(verified) = consentry_badge::verify(candidate, &keys, event_id()) {
                prop_assert_eq!(verified, claims);
            }
        }
    }

    /// Any bytes as a scan request body: parsed or refused, never a panic; whatever parses runs
    /// through verification and the decision rule without one either.
    #[test]
    fn scan_bodies_never_panic(body in prop_oneof![
        any::<Vec<u8>>(),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        scan_like().prop_map(|v| serde_json::to_vec(&v).unwrap()),
    ]) {
        let (_, _, keys) = genuine();
        if let Ok(request) = serde_json::from_slice::<ScanRequest>(&body) {
            let verified = consentry_badge::verify(&request.badge_token, &keys, event_id());
            let at = scan_rules::effective_time(request.scanned_at, datetime!(2026-12-01 12:00 UTC));
            let _ = scan_rules::decide(
                verified.is_ok(),
                at,
                datetime!(2026-12-01 09:00 UTC),
                datetime!(2026-12-02 17:00 UTC),
            );
        }
    }

    /// Registration bodies: parsed or refused, checked or refused, never a panic; and whatever
    /// passes the rules is in the stored form the rules promise.
    #[test]
    fn registration_bodies_never_panic_and_what_passes_is_normalised(
        body in registration_like(),
    ) {
        let Ok(mut request) = serde_json::from_value::<NewRegistration>(body) else {
            return Ok(());
        };
        let sponsors = [SponsorId(Uuid::from_u128(1)), SponsorId(Uuid::from_u128(2))]
            .into_iter()
            .collect();
        let opt_ins = request.sponsor_opt_ins.clone();
        let check = RegistrationCheck {
            now: datetime!(2026-11-23 12:00 UTC),
            event_ends_at: datetime!(2026-12-02 17:00 UTC),
            current_notice_version: 1,
            event_sponsors: &sponsors,
            age_confirmed: request.age_confirmed,
            notice_version: request.notice_version,
            sponsor_opt_ins: &opt_ins,
        };
        let submitted = request.take_details();
        let checked = rules::check(&check, submitted.clone());
        let Ok(details) = rules::validate_details(submitted) else {
            prop_assert!(checked.is_err(), "the details alone are refused, so is the registration");
            return Ok(());
        };
        prop_assert!(!details.first_name.trim().is_empty());
        prop_assert!(!details.last_name.trim().is_empty());
        let email = details.email.as_str();
        prop_assert_eq!(email.trim(), email);
        prop_assert_eq!(email.to_lowercase(), email);
        prop_assert!(email.contains('@'));
        if let Some(phone) = &details.phone {
            let phone = phone.as_str();
            prop_assert!(phone.starts_with('+'));
            prop_assert!(phone[1..].chars().all(|c| c.is_ascii_digit()));
        }
        if let Some(country) = &details.country {
            let country = country.as_str();
            prop_assert_eq!(country.len(), 2);
            prop_assert!(country.chars().all(|c| c.is_ascii_uppercase()));
        }
    }

    /// Any text in any exported field comes back from a CSV reader as one record, cell for cell,
    /// and no cell starts as a spreadsheet formula.
    #[test]
    fn csv_rows_read_back_and_never_start_a_formula(
        fields in proptest::collection::vec(".{0,40}", 7),
        note in proptest::option::of(".{0,80}"),
        tags in proptest::collection::vec("[^;]{0,12}", 0..4),
        rating in proptest::option::of(0_i16..=5),
    ) {
        let details = ContactDetails {
            first_name: fields[0].clone(),
            last_name: fields[1].clone(),
            // The typed fields hold only what their rules allow; a formula-like address is one
            // of those (`=cmd@…` is a valid address).
            email: Email::parse("email", &format!("{}@example.org", fields[2]))
                .unwrap_or_else(|_| Email::parse("email", "=cmd@example.org").unwrap()),
            company: Some(fields[3].clone()),
            job_title: Some(fields[4].clone()),
            phone: Phone::parse("phone", &fields[5]).ok(),
            country: Country::parse("country", &fields[6]).ok(),
        };
        let grant = Coverage {
            sponsor_name: "Acme".into(),
            privacy_policy_url: "https://acme.example/privacy".into(),
            fields: ContactField::ALL.to_vec(),
        };
        let facts = disclosure::Facts {
            event_fields: &ContactField::ALL,
            sponsor_name: "Acme",
            privacy_policy_url: "https://acme.example/privacy",
            restricted: false,
            grant: Some(&grant),
        };
        let lead = ExportedLead {
            lead_id: LeadId(Uuid::from_u128(7)),
            contact: disclosure::disclose(&facts, &details).unwrap(),
            first_scanned_at: datetime!(2026-12-01 10:00 UTC),
            last_scanned_at: datetime!(2026-12-01 11:00 UTC),
            scan_count: 2,
            rating,
            note: note.clone(),
            tags: tags.clone(),
        };
        // After a header row, as in the export (a reader drops a byte order mark at the very start
        // of its input, which a first cell of "\u{feff}" would otherwise be mistaken for).
        let headers: Vec<String> = ContactField::ALL
            .iter()
            .map(|f| exports::csv_header(*f).to_owned())
            .chain(exports::TRAILING_HEADERS.iter().map(|h| (*h).to_owned()))
            .collect();
        let bytes =
            exports::csv_bytes([headers, exports::csv_row(&lead, &ContactField::ALL)]).unwrap();
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes.as_slice());
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        prop_assert_eq!(records.len(), 1);
        let cells: Vec<&str> = records[0].iter().collect();
        prop_assert_eq!(cells.len(), 14);
        for (cell, field) in cells.iter().zip(ContactField::ALL) {
            prop_assert_eq!(*cell, exports::neutralise(details.field(field).unwrap_or_default()));
        }
        prop_assert_eq!(cells[11], exports::neutralise(note.as_deref().unwrap_or_default()));
        prop_assert_eq!(cells[12], exports::neutralise(&tags.join(";")));
        // No cell, nor any piece of one that a spreadsheet splitting at `,` `;` tab or a line
        // break would make a cell of its own, starts a formula.
        for cell in cells {
            prop_assert!(!consentry_badge::spreadsheet::starts_a_formula(cell), "{cell:?}");
            prop_assert!(!cell.starts_with(['\t', '\r']), "{cell:?}");
        }
    }
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A value for a field: usually plausible, often not.
fn field_value(plausible: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![
        3 => plausible,
        1 => json_value(),
        1 => ".{0,300}".prop_map(Value::from),
    ]
    .boxed()
}

fn scan_like() -> impl Strategy<Value = Value> {
    let (token, _, _) = genuine();
    (
        field_value(
            prop_oneof![
                Just(Value::from(token)),
                "[A-Za-z0-9_.-]{0,300}".prop_map(Value::from)
            ]
            .boxed(),
        ),
        field_value(
            any::<u128>()
                .prop_map(|n| json!(Uuid::from_u128(n)))
                .boxed(),
        ),
        field_value(
            prop_oneof![
                Just(json!("2026-12-01T10:00:00Z")),
                Just(json!("9999-12-31T23:59:59+14:00")),
                Just(json!("0000-01-01T00:00:00-23:59")),
                "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(Z|[+-][0-9]{2}:[0-9]{2})"
                    .prop_map(Value::from),
            ]
            .boxed(),
        ),
    )
        .prop_map(|(badge_token, client_scan_id, scanned_at)| {
            json!({
                "badge_token": badge_token,
                "client_scan_id": client_scan_id,
                "scanned_at": scanned_at,
            })
        })
}

fn registration_like() -> impl Strategy<Value = Value> {
    let text = |pattern: &'static str| field_value(pattern.prop_map(Value::from).boxed());
    (
        (
            text("\\PC{0,30}"),
            text("\\PC{0,30}"),
            text("[ A-Za-z0-9._%+@-]{0,40}"),
            text("\\PC{0,40}"),
            text("\\PC{0,40}"),
        ),
        (
            text("[ +0-9()./-]{0,20}"),
            text("[A-Za-z ]{0,4}"),
            field_value(any::<bool>().prop_map(Value::from).boxed()),
            field_value(any::<i32>().prop_map(Value::from).boxed()),
            field_value(
                proptest::collection::vec(0_u128..4, 0..4)
                    .prop_map(|ids| json!(ids.into_iter().map(Uuid::from_u128).collect::<Vec<_>>()))
                    .boxed(),
            ),
        ),
    )
        .prop_map(
            |(
                (first_name, last_name, email, company, job_title),
                (phone, country, age_confirmed, notice_version, sponsor_opt_ins),
            )| {
                json!({
                    "first_name": first_name,
                    "last_name": last_name,
                    "email": email,
                    "company": company,
                    "job_title": job_title,
                    "phone": phone,
                    "country": country,
                    "age_confirmed": age_confirmed,
                    "notice_version": notice_version,
                    "sponsor_opt_ins": sponsor_opt_ins,
                })
            },
        )
}

/// The hand-picked corpus: inputs that once were, or easily could be, trouble.
#[test]
fn the_corpus_is_handled() {
    let (token, claims, keys) = genuine();
    assert_eq!(
        consentry_badge::verify(&token, &keys, event_id()),
        Ok(claims)
    );
    let unsigned = {
        let mut parts = token.split('.');
        let (header, payload) = (parts.next().unwrap(), parts.next().unwrap());
        format!("{header}.{payload}.")
    };
    for bad in [
        "",
        ".",
        "..",
        "...",
        "a.b.c",
        unsigned.as_str(),
        // `alg: none`, `kid: k1`.
        "eyJhbGciOiJub25lIiwia2lkIjoiazEifQ.eyJiaWQiOiJBQUFBQUFBQUFBQUFBQUFBQUFBQUtnIn0.",
        "\u{0}\u{0}\u{0}",
    ] {
        assert!(
            consentry_badge::verify(bad, &keys, event_id()).is_err(),
            "{bad:?}"
        );
    }
    for body in [
        &b""[..],
        b"null",
        b"[]",
        b"{\"badge_token\":\"x\",\"client_scan_id\":\"not-a-uuid\",\"scanned_at\":\"2026-12-01T10:00:00Z\"}",
        b"{\"badge_token\":\"x\",\"client_scan_id\":\"00000000-0000-0000-0000-000000000000\",\"scanned_at\":\"+999999-01-01T00:00:00Z\"}",
        b"{\"badge_token\":\"x\",\"client_scan_id\":\"00000000-0000-0000-0000-000000000000\",\"scanned_at\":\"2026-12-01T10:00:00Z\",\"extra\":1}",
    ] {
        assert!(serde_json::from_slice::<ScanRequest>(body).is_err(), "{body:?}");
    }
    for (email, ok) in [
        ("  Ada@Example.ORG ", true),
        ("ada@", false),
        ("@example.org", false),
        ("ada@example", false),
        ("ad a@example.org", false),
        ("ada@@example.org", false),
    ] {
        let checked = rules::validate_details(SubmittedDetails {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: email.into(),
            company: None,
            job_title: None,
            phone: None,
            country: None,
        });
        assert_eq!(checked.is_ok(), ok, "{email:?}");
    }
}
