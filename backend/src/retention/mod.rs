//! Retention: every event's attendee data is purged at `ends_at + retention_days`, with no
//! operator action, keeping only anonymous aggregates.
//!
//! A purge of one event goes through steps that are each committed and each safe to repeat, so
//! that it can be interrupted anywhere and resumed by any instance with the same end state:
//!
//! 1. **Claim** the event: a lease on its row (`purge_lease_owner`, `purge_lease_until`), taken
//!    with one conditional `UPDATE`, so that of several purgers on one database exactly one works
//!    on an event; a lease that is not renewed expires and another purger takes over.
//! 2. **Start**: keep the aggregates (registrations, opt-ins and leads per sponsor), revoke the
//!    event's kiosks and mark the event `purge_started_at` — one transaction, done once.
//! 3. **Shred**: delete the event's data key and badge keys from the key store. From here on no
//!    ciphertext of the event opens, here or in any backup of the main database.
//! 4. **Delete** scan records, then registrations with everything hanging off them, in bounded
//!    batches, one transaction each, renewing the lease each time and pausing in between so
//!    that scans of other events keep getting the database.
//! 5. **Finish**: mark the event `purged_at`, release the lease, write the audit entry; then
//!    remove its outbox mails and, on SQLite, checkpoint the write-ahead log so no copy of a
//!    freed page survives there.
//!
//! Deleting an event (`DELETE /events/{event}`) goes the same way: the request marks the event
//! `deleted_at` (from then on it is served nowhere) and writes the audit entry, then
//! [`Purger::delete_marked`] claims it, shreds its keys, deletes its rows in the same batches and
//! finally the event row itself, and removes its mails. Every run of the purge finishes the
//! deletions it finds marked, so one interrupted anywhere is finished later.

pub mod event_changes;
pub mod extension;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration as StdDuration,
};

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;
use uuid::Uuid;

pub use crate::events::lifecycle::{Stage, stage_of};
use crate::metrics::Metrics;
use crate::schema::ids::EventId;
use crate::schema::ids::RegistrationId;
use crate::schema::ids::SponsorId;
use crate::{
    audit,
    clock::Clock,
    db::begin_write,
    events::rules::purge_due_at,
    keystore::{self, Keystore, UnwrappedKeys},
    kiosks, leads, mail,
    schema::{
        booth_links as booth_link,
        consents::{grant, ledger},
        email_changes as email_change, events as event,
        exports::recipient,
        registrations::{manage_token, registration},
        scans::request as scan_request,
    },
    stats,
};

pub use crate::schema::sponsor_aggregates as entity;

use self::entity::sponsor_aggregate;

/// Registrations (with their consents, tokens, pending address changes, leads and recipient rows)
/// deleted per transaction.
pub const DEFAULT_BATCH_SIZE: u64 = 500;
/// How long a claim on an event holds without renewal.
pub const DEFAULT_LEASE: Duration = Duration::minutes(5);
/// Rest between batches, so that other writers (scans) get the database in between.
pub const DEFAULT_PAUSE: StdDuration = StdDuration::from_millis(10);

/// Where an event stands, for `consentry purge --dry-run` and the console.
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub event_id: EventId,
    pub slug: String,
    pub due_at: OffsetDateTime,
    pub stage: Stage,
    pub registrations: u64,
}

/// One event's purge, done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purged {
    pub event_id: EventId,
    pub registrations: u64,
}

/// What one run did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub purged: Vec<Purged>,
    /// Events whose interrupted deletion this run finished.
    pub deleted: Vec<EventId>,
    /// Due events another purger holds a lease on.
    pub busy: usize,
    /// Whether the run stopped early because it was asked to.
    pub stopped: bool,
}

/// How one event's purge or deletion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, with the number of registrations the event had.
    Purged(u64),
    /// Another purger holds (or took over) the event.
    Busy,
    Stopped,
}

/// Purges due events. Several may run at once, in one process or many, on one database.
#[derive(Clone)]
pub struct Purger {
    db: DatabaseConnection,
    keystore: Keystore,
    clock: Arc<dyn Clock>,
    owner: Uuid,
    outbox: Option<PathBuf>,
    unwrapped: Option<Arc<UnwrappedKeys>>,
    metrics: Option<Arc<Metrics>>,
    pub batch_size: u64,
    pub lease: Duration,
    pub pause: StdDuration,
}

impl Purger {
    pub fn new(db: DatabaseConnection, keystore: Keystore, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            keystore,
            clock,
            owner: Uuid::new_v4(),
            outbox: None,
            unwrapped: None,
            metrics: None,
            batch_size: DEFAULT_BATCH_SIZE,
            lease: DEFAULT_LEASE,
            pause: DEFAULT_PAUSE,
        }
    }

    /// Also remove each purged event's mails from this outbox directory.
    pub fn with_outbox(mut self, dir: Option<PathBuf>) -> Self {
        self.outbox = dir;
        self
    }

    /// The server's unwrapped keys, to drop each event's as its keys are destroyed.
    pub fn with_unwrapped_keys(mut self, unwrapped: Arc<UnwrappedKeys>) -> Self {
        self.unwrapped = Some(unwrapped);
        self
    }

    /// Count each run in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Every event whose data is still held, with when it is due, soonest first.
    pub async fn schedule(&self) -> Result<Vec<Scheduled>, sea_orm::DbErr> {
        let now = self.clock.now();
        let events = event::Entity::find()
            .filter(event::Column::PurgedAt.is_null())
            .order_by_asc(event::Column::EndsAt)
            .all(&self.db)
            .await?;
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            let registrations = registration::Entity::find()
                .filter(registration::Column::EventId.eq(e.id))
                .count(&self.db)
                .await?;
            out.push(Scheduled {
                event_id: e.id,
                due_at: purge_due_at(e.ends_at, e.retention_days),
                stage: stage_of(&e, now),
                slug: e.slug,
                registrations,
            });
        }
        out.sort_by_key(|s| s.due_at);
        Ok(out)
    }

    /// Finish every deletion that was interrupted, then purge every event that is due now. Stops
    /// between two batches when `stop` turns true.
    pub async fn run_once(&self, stop: &watch::Receiver<bool>) -> anyhow::Result<Report> {
        let mut report = Report::default();
        let deleting: Vec<EventId> = event::Entity::find()
            .select_only()
            .column(event::Column::Id)
            .filter(event::Column::DeletedAt.is_not_null())
            .into_tuple()
            .all(&self.db)
            .await?;
        for event_id in deleting {
            if *stop.borrow() {
                report.stopped = true;
                return Ok(report);
            }
            match self.delete_marked(event_id, stop).await? {
                Outcome::Purged(_) => report.deleted.push(event_id),
                Outcome::Busy => report.busy += 1,
                Outcome::Stopped => {
                    report.stopped = true;
                    return Ok(report);
                }
            }
        }

        let now = self.clock.now();
        // Due implies ended: select the ended ones, then apply the exact rule.
        let candidates = event::Entity::find()
            .filter(event::Column::PurgedAt.is_null())
            .filter(event::Column::DeletedAt.is_null())
            .filter(event::Column::EndsAt.lte(now))
            .order_by_asc(event::Column::EndsAt)
            .all(&self.db)
            .await?;
        for e in candidates {
            if !crate::events::lifecycle::is_due(e.ends_at, e.retention_days, now) {
                continue;
            }
            if *stop.borrow() {
                report.stopped = true;
                break;
            }
            match self.purge_event(&e, stop).await? {
                Outcome::Purged(registrations) => report.purged.push(Purged {
                    event_id: e.id,
                    registrations,
                }),
                Outcome::Busy => report.busy += 1,
                Outcome::Stopped => {
                    report.stopped = true;
                    break;
                }
            }
        }
        if let Some(dir) = &self.outbox {
            sweep_outbox(&self.db, dir).await?;
        }
        Ok(report)
    }

    /// Take or renew the lease on `event_id`; false when another purger holds it.
    async fn claim(
        &self,
        db: &impl ConnectionTrait,
        event_id: EventId,
    ) -> Result<bool, sea_orm::DbErr> {
        let now = self.clock.now();
        let result = event::Entity::update_many()
            .col_expr(event::Column::PurgeLeaseOwner, Expr::value(self.owner))
            .col_expr(
                event::Column::PurgeLeaseUntil,
                Expr::value(now + self.lease),
            )
            .filter(event::Column::Id.eq(event_id))
            // A purged event is done with, unless it is to be deleted.
            .filter(
                Condition::any()
                    .add(event::Column::PurgedAt.is_null())
                    .add(event::Column::DeletedAt.is_not_null()),
            )
            .filter(
                Condition::any()
                    .add(event::Column::PurgeLeaseUntil.is_null())
                    .add(event::Column::PurgeLeaseUntil.lte(now))
                    .add(event::Column::PurgeLeaseOwner.eq(self.owner)),
            )
            .exec(db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Let go of the lease, so that another purger can resume at once.
    async fn release(&self, event_id: EventId) -> Result<(), sea_orm::DbErr> {
        event::Entity::update_many()
            .col_expr(
                event::Column::PurgeLeaseOwner,
                Expr::value(Option::<Uuid>::None),
            )
            .col_expr(
                event::Column::PurgeLeaseUntil,
                Expr::value(Option::<OffsetDateTime>::None),
            )
            .filter(event::Column::Id.eq(event_id))
            .filter(event::Column::PurgeLeaseOwner.eq(self.owner))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    async fn purge_event(
        &self,
        e: &event::Model,
        stop: &watch::Receiver<bool>,
    ) -> anyhow::Result<Outcome> {
        if !self.claim(&self.db, e.id).await? {
            return Ok(Outcome::Busy);
        }
        // Read again under the lease: another purger may have finished or started it meanwhile.
        let Some(e) = event::Entity::find_by_id(e.id).one(&self.db).await? else {
            return Ok(Outcome::Busy);
        };
        if e.purged_at.is_some() {
            return Ok(Outcome::Busy);
        }
        if e.deleted_at.is_some() {
            // Deleted meanwhile: the deletion takes over (on this run or the next).
            self.release(e.id).await?;
            return Ok(Outcome::Busy);
        }
        let registrations = match e.registrations_at_purge {
            Some(n) => stats::count_of(n),
            None => match self.start(&e).await? {
                Some(n) => n,
                None => return Ok(Outcome::Busy),
            },
        };
        if let Some(outcome) = self.shred(e.id, stop).await? {
            return Ok(outcome);
        }
        if !self.finish(&e, registrations).await? {
            return Ok(Outcome::Busy);
        }
        self.clean_up(e.id).await?;
        tracing::info!(event_id = %e.id, registrations, "event purged");
        Ok(Outcome::Purged(registrations))
    }

    /// Finish deleting `event_id`, which `DELETE /events/{event}` marked `deleted_at`: destroy
    /// its keys, delete its rows in batches, then the event row (its sponsors, kiosks, exports,
    /// aggregates and notices go with it by cascade), then its outbox mails. Each step is safe to
    /// repeat, under the same lease as the purge, so a deletion cut off anywhere is finished by
    /// the next call; the purge loop makes one on every run.
    pub async fn delete_marked(
        &self,
        event_id: EventId,
        stop: &watch::Receiver<bool>,
    ) -> anyhow::Result<Outcome> {
        if !self.claim(&self.db, event_id).await? {
            return Ok(Outcome::Busy);
        }
        let Some(e) = event::Entity::find_by_id(event_id).one(&self.db).await? else {
            return Ok(Outcome::Busy);
        };
        if e.deleted_at.is_none() {
            self.release(e.id).await?;
            return Ok(Outcome::Busy);
        }
        if let Some(outcome) = self.shred(e.id, stop).await? {
            return Ok(outcome);
        }
        let registrations = e.registrations_at_purge.map_or(0, stats::count_of);
        if !self.remove_event_row(e.id).await? {
            return Ok(Outcome::Busy);
        }
        self.clean_up(e.id).await?;
        tracing::info!(event_id = %e.id, "event deleted");
        Ok(Outcome::Purged(registrations))
    }

    /// Destroy the event's keys, then delete its attendee rows batch by batch. `None` once no row
    /// is left; otherwise why it stopped (asked to, or the lease was lost).
    async fn shred(
        &self,
        event_id: EventId,
        stop: &watch::Receiver<bool>,
    ) -> anyhow::Result<Option<Outcome>> {
        keystore::destroy_event_keys(&self.keystore.db, event_id).await?;
        if let Some(unwrapped) = &self.unwrapped {
            unwrapped.forget(event_id);
        }
        loop {
            if *stop.borrow() {
                self.release(event_id).await?;
                return Ok(Some(Outcome::Stopped));
            }
            match self.delete_batch(event_id).await? {
                Batch::Deleted => tokio::time::sleep(self.pause).await,
                Batch::Empty => return Ok(None),
                Batch::LeaseLost => return Ok(Some(Outcome::Busy)),
            }
        }
    }

    /// After the rows: the event's outbox mails, and on SQLite the write-ahead logs.
    async fn clean_up(&self, event_id: EventId) -> Result<(), sea_orm::DbErr> {
        if let Some(dir) = &self.outbox {
            remove_outbox_of(dir, event_id).await;
        }
        keystore::checkpoint(&self.db).await?;
        if self.keystore.separate {
            keystore::checkpoint(&self.keystore.db).await?;
        }
        Ok(())
    }

    /// Delete the event row of a deletion, under the lease; false if the lease was lost.
    async fn remove_event_row(&self, event_id: EventId) -> anyhow::Result<bool> {
        let txn = begin_write(&self.db).await?;
        let result = event::Entity::delete_many()
            .filter(event::Column::Id.eq(event_id))
            .filter(event::Column::DeletedAt.is_not_null())
            .filter(event::Column::PurgeLeaseOwner.eq(self.owner))
            .exec(&txn)
            .await?;
        if result.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        txn.commit().await?;
        Ok(true)
    }

    /// Keep the aggregates, revoke the kiosks, mark the purge started. `None` if the lease was
    /// lost.
    async fn start(&self, e: &event::Model) -> anyhow::Result<Option<u64>> {
        let now = self.clock.now();
        let txn = begin_write(&self.db).await?;
        if !self.claim(&txn, e.id).await? {
            // Rolled back now, not when the pool next hands out this connection: a dropped
            // transaction would keep its row locks until then.
            txn.rollback().await?;
            return Ok(None);
        }
        let counts = stats::attendee_counts(&txn, e.id).await?;
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let mut per_sponsor: BTreeMap<SponsorId, (u64, u64)> = BTreeMap::new();
        for sponsor in crate::sponsors::list_for_event(&txn, e.id).await? {
            per_sponsor.insert(sponsor.id, (0, 0));
        }
        for (id, n) in &counts.opt_ins {
            if let Some(entry) = per_sponsor.get_mut(id) {
                entry.0 = *n;
            }
        }
        for (id, n) in &counts.leads {
            if let Some(entry) = per_sponsor.get_mut(id) {
                entry.1 = *n;
            }
        }
        sponsor_aggregate::Entity::delete_many()
            .filter(sponsor_aggregate::Column::EventId.eq(e.id))
            .exec(&txn)
            .await?;
        for (sponsor_id, (opt_ins, leads)) in per_sponsor {
            sponsor_aggregate::ActiveModel {
                event_id: Set(e.id),
                sponsor_id: Set(sponsor_id),
                opt_ins: Set(as_i64(opt_ins)),
                leads: Set(as_i64(leads)),
            }
            .insert(&txn)
            .await?;
        }
        event::Entity::update_many()
            .col_expr(
                event::Column::RegistrationsAtPurge,
                Expr::value(as_i64(counts.registrations)),
            )
            .col_expr(
                event::Column::MarketingOptInsAtPurge,
                Expr::value(as_i64(counts.marketing_opt_ins)),
            )
            .col_expr(event::Column::PurgeStartedAt, Expr::value(now))
            .filter(event::Column::Id.eq(e.id))
            .exec(&txn)
            .await?;
        kiosks::revoke_all_of_event(&txn, e.id, now).await?;
        txn.commit().await?;
        Ok(Some(counts.registrations))
    }

    /// Delete one batch: scan records first (they point at leads), then registrations with
    /// everything that refers to them.
    async fn delete_batch(&self, event_id: EventId) -> anyhow::Result<Batch> {
        let txn = begin_write(&self.db).await?;
        if !self.claim(&txn, event_id).await? {
            txn.rollback().await?;
            return Ok(Batch::LeaseLost);
        }
        let scans: Vec<(Uuid, Uuid)> = scan_request::Entity::find()
            .select_only()
            .column(scan_request::Column::KioskId)
            .column(scan_request::Column::ScanKey)
            .filter(scan_request::Column::EventId.eq(event_id))
            .limit(self.batch_size)
            .into_tuple()
            .all(&txn)
            .await?;
        if !scans.is_empty() {
            let mut which = Condition::any();
            for (kiosk_id, scan_key) in scans {
                which = which.add(
                    Condition::all()
                        .add(scan_request::Column::KioskId.eq(kiosk_id))
                        .add(scan_request::Column::ScanKey.eq(scan_key)),
                );
            }
            scan_request::Entity::delete_many()
                .filter(which)
                .exec(&txn)
                .await?;
            txn.commit().await?;
            return Ok(Batch::Deleted);
        }
        let ids: Vec<RegistrationId> = registration::Entity::find()
            .select_only()
            .column(registration::Column::Id)
            .filter(registration::Column::EventId.eq(event_id))
            .limit(self.batch_size)
            .into_tuple()
            .all(&txn)
            .await?;
        if ids.is_empty() {
            txn.commit().await?;
            return Ok(Batch::Empty);
        }
        delete_registrations(&txn, &ids).await?;
        txn.commit().await?;
        Ok(Batch::Deleted)
    }

    /// Mark the event purged and write the audit entry; false if the lease was lost.
    async fn finish(&self, e: &event::Model, registrations: u64) -> anyhow::Result<bool> {
        let now = self.clock.now();
        let txn = begin_write(&self.db).await?;
        let result = event::Entity::update_many()
            .col_expr(event::Column::PurgedAt, Expr::value(now))
            .col_expr(
                event::Column::PurgeLeaseOwner,
                Expr::value(Option::<Uuid>::None),
            )
            .col_expr(
                event::Column::PurgeLeaseUntil,
                Expr::value(Option::<OffsetDateTime>::None),
            )
            .filter(event::Column::Id.eq(e.id))
            .filter(event::Column::PurgedAt.is_null())
            .filter(event::Column::PurgeLeaseOwner.eq(self.owner))
            .exec(&txn)
            .await?;
        if result.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        audit::record(
            &txn,
            audit::Entry {
                organisation_id: e.organisation_id,
                event_id: Some(e.id),
                actor: audit::Actor::System,
                action: audit::Action::EventPurged,
                subject_id: Some(e.id.into()),
                count: Some(i64::try_from(registrations).unwrap_or(i64::MAX)),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(true)
    }
}

enum Batch {
    Deleted,
    Empty,
    LeaseLost,
}

/// Delete registrations and every row that refers to them, children first. Shared by the purge
/// (in batches) and by an attendee's erasure (one registration).
pub async fn delete_registrations(
    db: &impl ConnectionTrait,
    ids: &[RegistrationId],
) -> Result<(), sea_orm::DbErr> {
    let ids = ids.to_vec();
    // On PostgreSQL, take the registrations first, in the order a scan takes its locks (the
    // registration and grant, then the lead): a scan of one of them either finishes before this
    // or finds it gone, and the two never deadlock on the lead and the grant. (SQLite has one
    // writer at a time.)
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        registration::Entity::find()
            .select_only()
            .column(registration::Column::Id)
            .filter(registration::Column::Id.is_in(ids.clone()))
            .lock_exclusive()
            .into_tuple::<Uuid>()
            .all(db)
            .await?;
    }
    recipient::Entity::delete_many()
        .filter(recipient::Column::RegistrationId.is_in(ids.clone()))
        .exec(db)
        .await?;
    leads::entity::Entity::delete_many()
        .filter(leads::entity::Column::RegistrationId.is_in(ids.clone()))
        .exec(db)
        .await?;
    ledger::Entity::delete_many()
        .filter(ledger::Column::RegistrationId.is_in(ids.clone()))
        .exec(db)
        .await?;
    grant::Entity::delete_many()
        .filter(grant::Column::RegistrationId.is_in(ids.clone()))
        .exec(db)
        .await?;
    manage_token::Entity::delete_many()
        .filter(manage_token::Column::RegistrationId.is_in(ids.clone()))
        .exec(db)
        .await?;
    email_change::Entity::delete_many()
        .filter(email_change::Column::RegistrationId.is_in(ids.clone()))
        .exec(db)
        .await?;
    booth_link::Entity::delete_many()
        .filter(booth_link::Column::RegistrationId.is_in(ids.clone()))
        .exec(db)
        .await?;
    registration::Entity::delete_many()
        .filter(registration::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(())
}

/// Remove the outbox mails of `event_id`. A failure is logged: the next run's sweep retries.
async fn remove_outbox_of(dir: &Path, event_id: EventId) {
    if let Err(e) = mail::remove_event_mails(dir, event_id).await {
        tracing::warn!(%event_id, error = %e, "cannot remove the event's outbox");
    }
}

/// Remove outbox mails of events that are purged or gone. Every instance runs this over its own
/// outbox, so mails written on an instance that did not run the purge go too.
pub async fn sweep_outbox(db: &DatabaseConnection, dir: &Path) -> anyhow::Result<()> {
    let in_outbox = mail::events_with_mails(dir).await?;
    if in_outbox.is_empty() {
        return Ok(());
    }
    let held: std::collections::BTreeSet<EventId> = event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::Id.is_in(in_outbox.clone()))
        .filter(event::Column::PurgeStartedAt.is_null())
        .filter(event::Column::DeletedAt.is_null())
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    for event_id in in_outbox.into_iter().filter(|id| !held.contains(id)) {
        remove_outbox_of(dir, event_id).await;
    }
    Ok(())
}

/// Run the purge every `interval` until `shutdown` turns true; a run in progress stops between two
/// batches and the next start resumes it.
pub async fn run_periodically(
    purger: Purger,
    interval: StdDuration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
        let started = std::time::Instant::now();
        let run = purger.run_once(&shutdown).await;
        if let Some(metrics) = &purger.metrics {
            let (events, registrations) = run.as_ref().map_or((0, 0), |report| {
                let events = report.purged.len() + report.deleted.len();
                let registrations = report.purged.iter().map(|p| p.registrations).sum();
                (u64::try_from(events).unwrap_or(u64::MAX), registrations)
            });
            metrics.purge_run(started.elapsed(), events, registrations, run.is_err());
        }
        match run {
            Ok(report) if !report.purged.is_empty() || report.busy > 0 => {
                tracing::info!(
                    purged = report.purged.len(),
                    busy = report.busy,
                    "retention run finished"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "retention run failed; retrying next interval"),
        }
    }
}
