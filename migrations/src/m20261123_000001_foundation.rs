//! Schema v1: organisations, organisers and their sessions, events, sponsors.
//!
//! Timestamps are `timestamp with time zone` (text in SQLite) and always written in UTC with whole
//! seconds, so that text comparison in SQLite orders them like PostgreSQL does.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organisations::Table)
                    .col(pk_uuid(Organisations::Id))
                    .col(string_len(Organisations::Name, 200))
                    .col(timestamp_with_time_zone(Organisations::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Organisers::Table)
                    .col(pk_uuid(Organisers::Id))
                    .col(uuid(Organisers::OrganisationId))
                    .col(string_len_uniq(Organisers::Email, 254))
                    .col(string_len(Organisers::DisplayName, 200))
                    .col(string_len(Organisers::PasswordHash, 255))
                    .col(timestamp_with_time_zone(Organisers::CreatedAt))
                    .col(timestamp_with_time_zone(Organisers::PasswordChangedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_organisers_organisation")
                            .from(Organisers::Table, Organisers::OrganisationId)
                            .to(Organisations::Table, Organisations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_organisers_organisation")
                    .table(Organisers::Table)
                    .col(Organisers::OrganisationId)
                    .to_owned(),
            )
            .await?;

        // A session row makes logout real: a session JWT is only honoured while its row exists.
        manager
            .create_table(
                Table::create()
                    .table(OrganiserSessions::Table)
                    .col(pk_uuid(OrganiserSessions::Id))
                    .col(uuid(OrganiserSessions::OrganiserId))
                    .col(timestamp_with_time_zone(OrganiserSessions::CreatedAt))
                    .col(timestamp_with_time_zone(OrganiserSessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_organiser_sessions_organiser")
                            .from(OrganiserSessions::Table, OrganiserSessions::OrganiserId)
                            .to(Organisers::Table, Organisers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_organiser_sessions_expires_at")
                    .table(OrganiserSessions::Table)
                    .col(OrganiserSessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(pk_uuid(Events::Id))
                    .col(uuid(Events::OrganisationId))
                    .col(string_len_uniq(Events::Slug, 64))
                    .col(string_len(Events::Name, 200))
                    .col(string_len(Events::Venue, 200))
                    .col(string_len(Events::TimeZone, 64))
                    .col(timestamp_with_time_zone(Events::StartsAt))
                    .col(timestamp_with_time_zone(Events::EndsAt))
                    .col(small_integer(Events::RetentionDays))
                    .col(small_integer(Events::MinAge))
                    .col(text(Events::PrivacyNotice))
                    .col(integer(Events::PrivacyNoticeVersion))
                    .col(string_len(Events::SharedFields, 200))
                    .col(timestamp_with_time_zone(Events::CreatedAt))
                    .col(timestamp_with_time_zone(Events::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_events_organisation")
                            .from(Events::Table, Events::OrganisationId)
                            .to(Organisations::Table, Organisations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_events_organisation_starts")
                    .table(Events::Table)
                    .col(Events::OrganisationId)
                    .col(Events::StartsAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sponsors::Table)
                    .col(pk_uuid(Sponsors::Id))
                    .col(uuid(Sponsors::EventId))
                    .col(string_len(Sponsors::Name, 200))
                    .col(text(Sponsors::Description))
                    .col(string_len(Sponsors::PrivacyPolicyUrl, 2048))
                    .col(timestamp_with_time_zone(Sponsors::CreatedAt))
                    .col(timestamp_with_time_zone(Sponsors::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sponsors_event")
                            .from(Sponsors::Table, Sponsors::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_sponsors_event_name")
                    .table(Sponsors::Table)
                    .col(Sponsors::EventId)
                    .col(Sponsors::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Sponsors::Table.into_iden(),
            Events::Table.into_iden(),
            OrganiserSessions::Table.into_iden(),
            Organisers::Table.into_iden(),
            Organisations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Organisers {
    Table,
    Id,
    OrganisationId,
    Email,
    DisplayName,
    PasswordHash,
    CreatedAt,
    PasswordChangedAt,
}

#[derive(DeriveIden)]
enum OrganiserSessions {
    Table,
    Id,
    OrganiserId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    OrganisationId,
    Slug,
    Name,
    Venue,
    TimeZone,
    StartsAt,
    EndsAt,
    RetentionDays,
    MinAge,
    PrivacyNotice,
    PrivacyNoticeVersion,
    SharedFields,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sponsors {
    Table,
    Id,
    EventId,
    Name,
    Description,
    PrivacyPolicyUrl,
    CreatedAt,
    UpdatedAt,
}
