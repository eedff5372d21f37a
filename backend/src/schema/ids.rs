//! The ids of the things attendee data hangs from, each its own type: a function that takes an
//! event, a sponsor and a registration cannot be handed them in the wrong order, and a sponsor's
//! id cannot stand in a query for a kiosk's. Each is a UUID (v7 when made here), stored and
//! serialised as one.

use sea_orm::{DbErr, DeriveValueType, TryFromU64};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            DeriveValueType, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        // No `Default`: a default id would be a fresh random one, which no reader of
        // `..Default::default()` expects.
        #[allow(clippy::new_without_default)]
        impl $name {
            /// A new id: UUID v7, so ids sort by creation time.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        /// Primary keys are made here, never by the database.
        impl TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, DbErr> {
                Err(DbErr::ConvertFromU64(stringify!($name)))
            }
        }
    };
}

id_type!(
    /// An event's id.
    EventId
);
id_type!(
    /// A sponsor's id (of one event).
    SponsorId
);
id_type!(
    /// A registration's id: one attendee of one event.
    RegistrationId
);
id_type!(
    /// A kiosk's id (of one sponsor).
    KioskId
);
id_type!(
    /// A lead's id: one attendee who consented to one sponsor, scanned by it.
    LeadId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_uuid_in_json_and_text() {
        let uuid = Uuid::now_v7();
        let id = EventId(uuid);
        assert_eq!(
            serde_json::to_string(&id).ok(),
            serde_json::to_string(&uuid).ok()
        );
        assert_eq!(id.to_string(), uuid.to_string());
        assert_eq!(uuid.to_string().parse::<EventId>().ok(), Some(id));
        let back: Result<SponsorId, _> = serde_json::from_str(&format!("\"{uuid}\""));
        assert_eq!(back.ok(), Some(SponsorId(uuid)));
    }
}
