//! Exports and their recipients (who received whose data), and the audit log (who touched
//! personal data, holding none itself).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Exports::Table)
                    .col(pk_uuid(Exports::Id))
                    .col(uuid(Exports::EventId))
                    .col(uuid(Exports::SponsorId))
                    .col(string_len(Exports::ActorKind, 16))
                    .col(uuid(Exports::ActorId))
                    .col(string_len(Exports::Format, 8))
                    .col(big_integer(Exports::RowCount).default(0))
                    .col(timestamp_with_time_zone(Exports::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_exports_event")
                            .from(Exports::Table, Exports::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_exports_event")
                    .table(Exports::Table)
                    .col(Exports::EventId)
                    .col(Exports::CreatedAt)
                    .to_owned(),
            )
            .await?;

        // Which registrations an export contained: tells an attendee which sponsors received their
        // data, and an erasure whom the organiser must notify.
        manager
            .create_table(
                Table::create()
                    .table(ExportRecipients::Table)
                    .col(uuid(ExportRecipients::ExportId))
                    .col(uuid(ExportRecipients::RegistrationId))
                    .primary_key(
                        Index::create()
                            .col(ExportRecipients::ExportId)
                            .col(ExportRecipients::RegistrationId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_export_recipients_export")
                            .from(ExportRecipients::Table, ExportRecipients::ExportId)
                            .to(Exports::Table, Exports::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_export_recipients_registration")
                            .from(ExportRecipients::Table, ExportRecipients::RegistrationId)
                            .to(Registrations::Table, Registrations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_export_recipients_registration")
                    .table(ExportRecipients::Table)
                    .col(ExportRecipients::RegistrationId)
                    .to_owned(),
            )
            .await?;

        // Append-only; ids, actions, counts and times only.
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(pk_uuid(AuditEvents::Id))
                    .col(uuid(AuditEvents::OrganisationId))
                    .col(uuid_null(AuditEvents::EventId))
                    .col(string_len(AuditEvents::ActorKind, 16))
                    .col(uuid_null(AuditEvents::ActorId))
                    .col(string_len(AuditEvents::Action, 48))
                    .col(uuid_null(AuditEvents::SubjectId))
                    .col(big_integer_null(AuditEvents::Count))
                    .col(timestamp_with_time_zone(AuditEvents::At))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_audit_events_organisation")
                            .from(AuditEvents::Table, AuditEvents::OrganisationId)
                            .to(Organisations::Table, Organisations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_events_organisation_at")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::OrganisationId)
                    .col(AuditEvents::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_events_event_at")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::EventId)
                    .col(AuditEvents::At)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            ExportRecipients::Table.into_iden(),
            Exports::Table.into_iden(),
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
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Registrations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Exports {
    Table,
    Id,
    EventId,
    SponsorId,
    ActorKind,
    ActorId,
    Format,
    RowCount,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ExportRecipients {
    Table,
    ExportId,
    RegistrationId,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    OrganisationId,
    EventId,
    ActorKind,
    ActorId,
    Action,
    SubjectId,
    Count,
    At,
}
