//! Micro-benchmarks of the pure work on the hot paths: badge signing and verification (every
//! registration signs, every scan verifies), QR rendering (every registration renders the PNG for
//! its mail), the scan decision rule, CSV row encoding (every exported lead) and field sealing
//! (every registration seals, every lead view and export row opens).
//!
//! `cargo bench --workspace --bench hot_paths` (figures in docs/BENCHMARKS.md);
//! `cargo test --workspace` runs each once as a smoke test (criterion's test mode).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use consentry::schema::ids::{LeadId, RegistrationId};
use consentry::{
    badges::render,
    consents::Coverage,
    contact::{Country, Email, Phone},
    disclosure,
    events::rules::ContactField,
    exports::{self, ExportedLead},
    registrations::{self, rules::ContactDetails},
    scans::rules as scan_rules,
    vault::EventVault,
};
use consentry_badge::{BadgeClaims, BadgePublicKey, BadgeSigner};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use time::macros::datetime;
use uuid::Uuid;

const SEED: [u8; 32] = [7; 32];

fn signer_and_key(event_id: Uuid) -> (BadgeSigner, BadgePublicKey) {
    let signer = BadgeSigner::from_seed("bench-kid".into(), &SEED).unwrap();
    let key = BadgePublicKey {
        kid: "bench-kid".into(),
        event_id,
        public_key: SigningKey::from_bytes(&SEED).verifying_key().to_bytes(),
    };
    (signer, key)
}

fn claims(event_id: Uuid) -> BadgeClaims {
    BadgeClaims {
        bid: Uuid::new_v4(),
        eid: event_id,
        iat: 1_795_000_000,
    }
}

fn badges(c: &mut Criterion) {
    let event_id = Uuid::new_v4();
    let (signer, key) = signer_and_key(event_id);
    let claims = claims(event_id);
    let token = signer.sign(&claims).unwrap();
    let keys = [key];
    assert_eq!(consentry_badge::verify(&token, &keys, event_id), Ok(claims));

    let mut group = c.benchmark_group("badge");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign", |b| b.iter(|| signer.sign(black_box(&claims))));
    group.bench_function("verify", |b| {
        b.iter(|| consentry_badge::verify(black_box(&token), &keys, event_id))
    });
    group.finish();
}

fn qr(c: &mut Criterion) {
    let event_id = Uuid::new_v4();
    let (signer, _) = signer_and_key(event_id);
    let token = signer.sign(&claims(event_id)).unwrap();
    let png = render::qr_png(&token).unwrap();
    assert!(png.starts_with(b"\x89PNG"));

    let mut group = c.benchmark_group("qr");
    group.throughput(Throughput::Elements(1));
    group.bench_function("png", |b| b.iter(|| render::qr_png(black_box(&token))));
    group.bench_function("svg", |b| b.iter(|| render::qr_svg(black_box(&token))));
    group.finish();
}

fn scan_decision(c: &mut Criterion) {
    let starts_at = datetime!(2026-12-01 09:00 UTC);
    let ends_at = datetime!(2026-12-02 17:00 UTC);
    let at = datetime!(2026-12-01 11:30 UTC);
    let grant = coverage();
    let facts = gate_facts(&grant);
    assert_eq!(scan_rules::decide(true, at, starts_at, ends_at), Ok(()));
    assert!(disclosure::decide(&facts).is_ok());
    c.bench_function("scan/decide", |b| {
        b.iter(|| {
            scan_rules::decide(black_box(true), black_box(at), starts_at, ends_at)
                .and_then(|()| disclosure::decide(black_box(&facts)).map_err(Into::into))
        })
    });
}

fn coverage() -> Coverage {
    Coverage {
        sponsor_name: "Acme Analytics".into(),
        privacy_policy_url: "https://acme.example/privacy".into(),
        fields: ContactField::ALL.to_vec(),
    }
}

fn gate_facts(grant: &Coverage) -> disclosure::Facts<'_> {
    disclosure::Facts {
        event_fields: &ContactField::ALL,
        sponsor_name: "Acme Analytics",
        privacy_policy_url: "https://acme.example/privacy",
        restricted: false,
        grant: Some(grant),
    }
}

fn exported_lead() -> ExportedLead {
    let details = ContactDetails {
        first_name: "Ada".into(),
        last_name: "Lovelace-Byron".into(),
        email: Email::parse("email", "ada.lovelace@example.org").unwrap(),
        company: Some("=Analytical Engines, Ltd.".into()),
        job_title: Some("Head of \"Programmes\"".into()),
        phone: Some(Phone::parse("phone", "+442071234567").unwrap()),
        country: Some(Country::parse("country", "GB").unwrap()),
    };
    let grant = coverage();
    let contact = disclosure::disclose(&gate_facts(&grant), &details).expect("consented");
    ExportedLead {
        lead_id: LeadId::new(),
        contact,
        first_scanned_at: datetime!(2026-12-01 10:15:00 UTC),
        last_scanned_at: datetime!(2026-12-02 14:02:31 UTC),
        scan_count: 3,
        rating: Some(4),
        note: Some("Wants a demo of the\nbulk import; call after the 10th".into()),
        tags: vec!["hot".into(), "enterprise".into()],
    }
}

fn csv(c: &mut Criterion) {
    let lead = exported_lead();
    let shared = ContactField::ALL;
    let one = exports::csv_bytes([exports::csv_row(&lead, &shared)]).unwrap();
    assert!(one.ends_with(b"\r\n"));

    let mut group = c.benchmark_group("csv");
    group.throughput(Throughput::Elements(1));
    group.bench_function("row", |b| {
        b.iter(|| exports::csv_bytes([exports::csv_row(black_box(&lead), &shared)]))
    });
    // The export encodes leads in batches of 500.
    group.throughput(Throughput::Elements(500));
    let batch: Vec<ExportedLead> = (0..500).map(|_| exported_lead()).collect();
    group.bench_function("batch_of_500", |b| {
        b.iter(|| exports::csv_bytes(batch.iter().map(|l| exports::csv_row(l, &shared))))
    });
    group.finish();
}

fn sealing(c: &mut Criterion) {
    let vault = EventVault::from_data_key(&[9; 32]);
    let registration_id = RegistrationId::new();
    let details = ContactDetails {
        first_name: "Ada".into(),
        last_name: "Lovelace-Byron".into(),
        email: Email::parse("email", "ada.lovelace@example.org").unwrap(),
        company: Some("Analytical Engines Ltd".into()),
        job_title: Some("Head of Programmes".into()),
        phone: Some(Phone::parse("phone", "+442071234567").unwrap()),
        country: Some(Country::parse("country", "GB").unwrap()),
    };
    let plain = serde_json::to_vec(&details).unwrap();
    let sealed = vault.seal(registration_id, &plain).unwrap();
    assert_eq!(vault.open(registration_id, &sealed).unwrap(), plain);

    let mut group = c.benchmark_group("fields");
    group.throughput(Throughput::Elements(1));
    group.bench_function("seal", |b| {
        b.iter(|| vault.seal(black_box(registration_id), black_box(&plain)))
    });
    group.bench_function("open", |b| {
        b.iter(|| vault.open(black_box(registration_id), black_box(&sealed)))
    });
    // What a registration and a lead view do around the cipher: JSON in and out as well.
    group.bench_function("seal_details", |b| {
        b.iter(|| registrations::seal_details(&vault, registration_id, black_box(&details)))
    });
    let email = Email::parse("email", "ada.lovelace@example.org").unwrap();
    group.bench_function("blind_index", |b| {
        b.iter(|| vault.email_index(black_box(&email)))
    });
    group.finish();
}

criterion_group!(hot_paths, badges, qr, scan_decision, csv, sealing);
criterion_main!(hot_paths);
