//! Registration: per-event keys, badge signing keys, registrations (personal data encrypted),
//! manage tokens (hashed), current consent grants and the append-only consent ledger.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One data key per event, wrapped by the master key. Destroying the row makes every
        // ciphertext of the event (and of any backup) unreadable.
        manager
            .create_table(
                Table::create()
                    .table(EventKeys::Table)
                    .col(uuid(EventKeys::EventId).primary_key())
                    .col(blob(EventKeys::DataKeyWrapped))
                    .col(timestamp_with_time_zone(EventKeys::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_event_keys_event")
                            .from(EventKeys::Table, EventKeys::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(BadgeKeys::Table)
                    .col(string_len(BadgeKeys::Kid, 64).primary_key())
                    .col(uuid(BadgeKeys::EventId))
                    .col(blob(BadgeKeys::PublicKey))
                    .col(blob(BadgeKeys::PrivateKeyWrapped))
                    .col(timestamp_with_time_zone(BadgeKeys::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_badge_keys_event")
                            .from(BadgeKeys::Table, BadgeKeys::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_badge_keys_event")
                    .table(BadgeKeys::Table)
                    .col(BadgeKeys::EventId)
                    .col(BadgeKeys::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Registrations::Table)
                    .col(pk_uuid(Registrations::Id))
                    .col(uuid(Registrations::EventId))
                    // Keyed blind index of the normalised e-mail: finds duplicates without
                    // storing the address in clear.
                    .col(string_len(Registrations::EmailIndex, 64))
                    // The contact details, sealed with the event's data key.
                    .col(blob(Registrations::PersonalData))
                    .col(uuid_uniq(Registrations::BadgeId))
                    .col(integer(Registrations::NoticeVersion))
                    .col(string_len(Registrations::Channel, 16))
                    .col(timestamp_with_time_zone(Registrations::CreatedAt))
                    .col(timestamp_with_time_zone(Registrations::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_registrations_event")
                            .from(Registrations::Table, Registrations::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_registrations_event_email")
                    .table(Registrations::Table)
                    .col(Registrations::EventId)
                    .col(Registrations::EmailIndex)
                    .unique()
                    .to_owned(),
            )
            .await?;

        // A registration may have several manage links (one per re-send); each is stored only as
        // the SHA-256 of the 256-bit token.
        manager
            .create_table(
                Table::create()
                    .table(ManageTokens::Table)
                    .col(string_len(ManageTokens::TokenHash, 64).primary_key())
                    .col(uuid(ManageTokens::RegistrationId))
                    .col(timestamp_with_time_zone(ManageTokens::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_manage_tokens_registration")
                            .from(ManageTokens::Table, ManageTokens::RegistrationId)
                            .to(Registrations::Table, Registrations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_manage_tokens_registration")
                    .table(ManageTokens::Table)
                    .col(ManageTokens::RegistrationId)
                    .to_owned(),
            )
            .await?;

        // The current consent state: one row per purpose granted and not withdrawn. Kept beside
        // the ledger in the same transaction; the ledger is the proof, this is the fast lookup.
        manager
            .create_table(
                Table::create()
                    .table(ConsentGrants::Table)
                    .col(uuid(ConsentGrants::RegistrationId))
                    .col(string_len(ConsentGrants::Purpose, 64))
                    .col(uuid_null(ConsentGrants::SponsorId))
                    .col(timestamp_with_time_zone(ConsentGrants::GrantedAt))
                    .primary_key(
                        Index::create()
                            .col(ConsentGrants::RegistrationId)
                            .col(ConsentGrants::Purpose),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consent_grants_registration")
                            .from(ConsentGrants::Table, ConsentGrants::RegistrationId)
                            .to(Registrations::Table, Registrations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consent_grants_sponsor")
                            .from(ConsentGrants::Table, ConsentGrants::SponsorId)
                            .to(Sponsors::Table, Sponsors::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consent_grants_sponsor")
                    .table(ConsentGrants::Table)
                    .col(ConsentGrants::SponsorId)
                    .to_owned(),
            )
            .await?;

        // Append-only proof of consent. No foreign key to sponsors: the record of a grant to a
        // sponsor outlives the sponsor's removal from the event.
        manager
            .create_table(
                Table::create()
                    .table(ConsentLedger::Table)
                    .col(pk_uuid(ConsentLedger::Id))
                    .col(uuid(ConsentLedger::RegistrationId))
                    .col(uuid(ConsentLedger::EventId))
                    .col(string_len(ConsentLedger::Purpose, 64))
                    .col(boolean(ConsentLedger::Granted))
                    .col(string_len(ConsentLedger::Channel, 16))
                    .col(integer(ConsentLedger::NoticeVersion))
                    .col(string_len(ConsentLedger::TextSha256, 64))
                    .col(timestamp_with_time_zone(ConsentLedger::RecordedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consent_ledger_registration")
                            .from(ConsentLedger::Table, ConsentLedger::RegistrationId)
                            .to(Registrations::Table, Registrations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consent_ledger_event")
                            .from(ConsentLedger::Table, ConsentLedger::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consent_ledger_registration")
                    .table(ConsentLedger::Table)
                    .col(ConsentLedger::RegistrationId)
                    .col(ConsentLedger::RecordedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consent_ledger_event")
                    .table(ConsentLedger::Table)
                    .col(ConsentLedger::EventId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ConsentLedger::Table.into_iden(),
            ConsentGrants::Table.into_iden(),
            ManageTokens::Table.into_iden(),
            Registrations::Table.into_iden(),
            BadgeKeys::Table.into_iden(),
            EventKeys::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Sponsors {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum EventKeys {
    Table,
    EventId,
    DataKeyWrapped,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BadgeKeys {
    Table,
    Kid,
    EventId,
    PublicKey,
    PrivateKeyWrapped,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Registrations {
    Table,
    Id,
    EventId,
    EmailIndex,
    PersonalData,
    BadgeId,
    NoticeVersion,
    Channel,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ManageTokens {
    Table,
    TokenHash,
    RegistrationId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ConsentGrants {
    Table,
    RegistrationId,
    Purpose,
    SponsorId,
    GrantedAt,
}

#[derive(DeriveIden)]
enum ConsentLedger {
    Table,
    Id,
    RegistrationId,
    EventId,
    Purpose,
    Granted,
    Channel,
    NoticeVersion,
    TextSha256,
    RecordedAt,
}
