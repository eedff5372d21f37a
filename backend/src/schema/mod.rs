//! Every table as a sea-orm entity, as `migrations/` makes them: the application database's and
//! the key store's (`badge_keys`, `event_keys`). The bottom layer with `error`, `crypto`, `vault`,
//! `clock` and `validation`: nothing here imports a feature module, so every feature can use any
//! table without tying itself to the feature that first needed it. (A test,
//! `backend/src/layers.rs`, keeps it so.) Ids are typed (`ids`): `EventId`, `SponsorId`,
//! `RegistrationId`, `KioskId`, `LeadId`.

pub mod audit_events;
pub mod badge_keys;
pub mod booth_links;
pub mod consents;
pub mod email_changes;
pub mod erasure_notices;
pub mod event_keys;
pub mod events;
pub mod exports;
pub mod ids;
pub mod kiosks;
pub mod leads;
pub mod organisers;
pub mod receipt_keys;
pub mod registrations;
pub mod scans;
pub mod sponsor_aggregates;
pub mod sponsors;
