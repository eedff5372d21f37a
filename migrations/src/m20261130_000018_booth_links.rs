//! Consent at the booth. Each sponsor gets a `booth_code`: the random, public part of its booth
//! link (`/s/{code}`), which its kiosk shows as a QR and the console prints. The code names the
//! sponsor only; it holds nothing about any attendee. Existing sponsors get one here, new sponsors
//! at creation.
//!
//! `booth_links` holds the one-time links mailed to a registrant who asked at a booth without a
//! remembered manage link: the token stored as its SHA-256, bound to one registration and one
//! sponsor, for 30 minutes, used once. Erasure and the purge delete the rows with their
//! registration (and the foreign keys cascade as a second line).

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sponsors::Table)
                    .add_column(string_len(Sponsors::BoothCode, 43).default(""))
                    .to_owned(),
            )
            .await?;
        // 88 random bits per sponsor, as 22 hexadecimal characters (a subset of base64url), from
        // each database's own random source.
        let fill = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "UPDATE sponsors SET booth_code = \
                 substr(replace(gen_random_uuid()::text, '-', ''), 1, 22)"
            }
            _ => "UPDATE sponsors SET booth_code = lower(hex(randomblob(11)))",
        };
        manager.get_connection().execute_unprepared(fill).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sponsors_booth_code")
                    .table(Sponsors::Table)
                    .col(Sponsors::BoothCode)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BoothLinks::Table)
                    .col(pk_uuid(BoothLinks::Id))
                    .col(string_len_uniq(BoothLinks::TokenHash, 64))
                    .col(uuid(BoothLinks::RegistrationId))
                    .col(uuid(BoothLinks::SponsorId))
                    .col(timestamp_with_time_zone(BoothLinks::CreatedAt))
                    .col(timestamp_with_time_zone(BoothLinks::ExpiresAt))
                    .col(timestamp_with_time_zone_null(BoothLinks::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_booth_links_registration")
                            .from(BoothLinks::Table, BoothLinks::RegistrationId)
                            .to(Registrations::Table, Registrations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_booth_links_sponsor")
                            .from(BoothLinks::Table, BoothLinks::SponsorId)
                            .to(Sponsors::Table, Sponsors::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_booth_links_registration")
                    .table(BoothLinks::Table)
                    .col(BoothLinks::RegistrationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BoothLinks::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_sponsors_booth_code")
                    .table(Sponsors::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sponsors::Table)
                    .drop_column(Sponsors::BoothCode)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Registrations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Sponsors {
    Table,
    Id,
    BoothCode,
}

#[derive(DeriveIden)]
enum BoothLinks {
    Table,
    Id,
    TokenHash,
    RegistrationId,
    SponsorId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}
