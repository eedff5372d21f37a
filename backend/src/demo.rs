//! `consentry serve --demo`: a demo organisation, organiser and event with three sponsors, so a
//! newcomer sees something real at once.

use sea_orm::DatabaseConnection;
use time::{Duration, OffsetDateTime};

use crate::{
    crypto::{self, MasterKey},
    events::{self, rules},
    keystore::Keystore,
    organisers::{self, OrganisationChoice},
    sponsors::{self, SponsorSettings},
};

pub const DEMO_EMAIL: &str = "demo@consentry.example";
pub const DEMO_EVENT_SLUG: &str = "consentry-demo";

const DEMO_NOTICE: &str = "Consentry Demo Summit (the organiser) processes your registration to \
run the event: your name, e-mail address and, if you give them, company, job title, phone and \
country. Sponsors receive your contact details only if you tick their box, and only when they \
scan your badge at their booth. You can withdraw any choice, download, correct or erase your data \
at any time from the link we e-mail you. All attendee data is deleted 30 days after the event.";
const DEMO_NOTICE_NL: &str = "Consentry Demo Summit (de organisator) verwerkt je aanmelding om het \
evenement te organiseren: je naam, e-mailadres en, als je ze opgeeft, bedrijf, functie, telefoon \
en land. Sponsors ontvangen je contactgegevens alleen als je hun vakje aanvinkt, en alleen wanneer \
ze je badge scannen bij hun stand. Je kunt elke keuze intrekken en je gegevens downloaden, \
verbeteren of wissen via de link die we je mailen. Alle gegevens van deelnemers worden 30 dagen \
na het evenement gewist.";

/// What the demo seeding produced, to print for the person who started the server.
#[derive(Debug)]
pub struct DemoLogin {
    pub email: &'static str,
    pub password: String,
    pub event_slug: &'static str,
    pub created: bool,
}

/// Seed the demo once; on later starts give the demo organiser a fresh password, so the login
/// printed by this start is always the one that works.
pub async fn seed(
    db: &DatabaseConnection,
    keystore: &Keystore,
    master: &MasterKey,
    now: OffsetDateTime,
) -> anyhow::Result<DemoLogin> {
    let password = crypto::random_token().chars().take(20).collect::<String>();
    let hash = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || crypto::hash_password(&password)).await??
    };
    if let Some(existing) = organisers::find_by_email(db, DEMO_EMAIL).await? {
        organisers::set_password(db, existing.id, hash, now)
            .await
            .map_err(|e| anyhow::anyhow!("cannot reset the demo password: {e}"))?;
        return Ok(DemoLogin {
            email: DEMO_EMAIL,
            password,
            event_slug: DEMO_EVENT_SLUG,
            created: false,
        });
    }

    let (organisation_id, _) = organisers::create_organiser(
        db,
        OrganisationChoice::New {
            name: "Consentry Demo Events".into(),
        },
        DEMO_EMAIL,
        "Demo Organiser",
        hash,
        now,
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot create the demo organiser: {e}"))?;

    // Running now: it began two hours ago (on the hour) and lasts ten hours.
    let starts_at = now.replace_minute(0)?.replace_second(0)? - Duration::hours(2);
    let settings = rules::validate(rules::EventSettings {
        slug: DEMO_EVENT_SLUG.into(),
        name: "Consentry Demo Summit".into(),
        venue: "Beurs van Berlage, Amsterdam".into(),
        time_zone: "Europe/Amsterdam".into(),
        starts_at,
        ends_at: starts_at + Duration::hours(10),
        retention_days: rules::DEFAULT_RETENTION_DAYS,
        min_age: rules::DEFAULT_MIN_AGE,
        privacy_notice: DEMO_NOTICE.into(),
        privacy_notice_nl: Some(DEMO_NOTICE_NL.into()),
        shared_fields: rules::default_shared_fields(),
        venue_networks: Vec::new(),
    })
    .map_err(|e| anyhow::anyhow!("demo event is invalid: {}", e.detail))?;
    let txn = crate::db::begin_write(db).await?;
    let event = events::insert_event(&txn, keystore, organisation_id, master, settings, now)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the demo event: {e}"))?;

    for (name, description, url) in [
        (
            "Acme Analytics",
            "Dashboards for event organisers.",
            "https://acme.example/privacy",
        ),
        (
            "Globex Cloud",
            "Hosting in European data centres.",
            "https://globex.example/privacy",
        ),
        (
            "Initech Security",
            "Security reviews and training.",
            "https://initech.example/privacy",
        ),
    ] {
        let sponsor = sponsors::validate(SponsorSettings {
            name: name.into(),
            description: description.into(),
            privacy_policy_url: url.into(),
        })
        .map_err(|e| anyhow::anyhow!("demo sponsor is invalid: {}", e.detail))?;
        sponsors::insert_sponsor(&txn, event.id, sponsor, now)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create a demo sponsor: {e}"))?;
    }
    txn.commit().await?;
    Ok(DemoLogin {
        email: DEMO_EMAIL,
        password,
        event_slug: DEMO_EVENT_SLUG,
        created: true,
    })
}
