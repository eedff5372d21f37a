//! Each event's data key: attendee personal data is sealed with it, and duplicate e-mail checks
//! use a keyed blind index derived from it.
//!
//! The data key is 32 random bytes, stored only wrapped by the master key (`event_keys`). Purging
//! an event deletes that row: every ciphertext of the event — in the live database and in any
//! backup taken before — becomes unreadable (crypto-shredding).

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use sha2::Sha256;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::schema::ids::{EventId, KioskId};
use crate::{
    contact::Email,
    crypto::{self, MasterKey},
    error::{ApiError, ApiResult},
};

pub use crate::schema::event_keys as entity;

fn wrap_context(event_id: EventId) -> String {
    format!("event:{event_id}:data-key")
}

/// The unwrapped keys of one event.
pub struct EventVault {
    seal_key: [u8; 32],
    index_key: [u8; 32],
    scan_key: [u8; 32],
}

impl EventVault {
    /// The vault of an already unwrapped data key (use [`EventVault::load`] in the server).
    pub fn from_data_key(data_key: &[u8]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"consentry-event"), data_key);
        let mut seal_key = [0u8; 32];
        let mut index_key = [0u8; 32];
        let mut scan_key = [0u8; 32];
        // 32-byte outputs of HKDF-SHA256 cannot fail.
        let _ = hk.expand(b"seal", &mut seal_key);
        let _ = hk.expand(b"email-index", &mut index_key);
        let _ = hk.expand(b"scan-request", &mut scan_key);
        Self {
            seal_key,
            index_key,
            scan_key,
        }
    }

    /// Make a new data key for `event_id` and store it wrapped.
    pub async fn create(
        db: &impl ConnectionTrait,
        master: &MasterKey,
        event_id: EventId,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        let mut data_key = [0u8; 32];
        rand::rng().fill_bytes(&mut data_key);
        entity::ActiveModel {
            event_id: Set(event_id),
            data_key_wrapped: Set(master.wrap(&wrap_context(event_id), &data_key)?),
            created_at: Set(now),
        }
        .insert(db)
        .await?;
        Ok(())
    }

    /// The event's vault; `gone` when the key has been destroyed (the event was purged).
    pub async fn load(
        db: &impl ConnectionTrait,
        master: &MasterKey,
        event_id: EventId,
    ) -> ApiResult<Self> {
        let row = entity::Entity::find_by_id(event_id)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound)?;
        let data_key = master.unwrap_secret(&wrap_context(event_id), &row.data_key_wrapped)?;
        Ok(Self::from_data_key(&data_key))
    }

    /// Encrypt `plaintext`, bound to `record` (say the registration id) so that a ciphertext
    /// cannot be moved to another row.
    pub fn seal(&self, record: impl Into<Uuid>, plaintext: &[u8]) -> ApiResult<Vec<u8>> {
        Ok(crypto::seal(
            &self.seal_key,
            record.into().as_bytes(),
            plaintext,
        )?)
    }

    pub fn open(&self, record: impl Into<Uuid>, sealed: &[u8]) -> ApiResult<Vec<u8>> {
        Ok(crypto::open(
            &self.seal_key,
            record.into().as_bytes(),
            sealed,
        )?)
    }

    /// HMAC-SHA256 of a normalised e-mail address under the event's index key, hex-encoded.
    /// Equal addresses give equal indexes within one event, and nothing across events.
    pub fn email_index(&self, email: &Email) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.index_key) else {
            return String::new();
        };
        mac.update(email.as_str().as_bytes());
        crypto::hex(&mac.finalize().into_bytes())
    }

    /// The key a scan's answer is stored under: HMAC-SHA256 of (kiosk, client scan id) under the
    /// event's scan key, cut to a UUID. The client's value itself is never stored, so a kiosk that
    /// chooses a badge's id as its scan id cannot make its scan joinable to the registration; and
    /// once the event's key is destroyed nobody can tell which client id a record answered.
    pub fn scan_request_key(&self, kiosk_id: KioskId, client_scan_id: Uuid) -> Uuid {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.scan_key) else {
            return Uuid::nil();
        };
        mac.update(kiosk_id.as_uuid().as_bytes());
        mac.update(client_scan_id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Uuid::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_for_its_record_and_key() {
        let vault = EventVault::from_data_key(&[1; 32]);
        let record = Uuid::now_v7();
        let sealed = vault.seal(record, b"Ada Lovelace").unwrap();
        assert!(!sealed.windows(3).any(|w| w == b"Ada"));
        assert_eq!(vault.open(record, &sealed).unwrap(), b"Ada Lovelace");
        assert!(vault.open(Uuid::now_v7(), &sealed).is_err());
        assert!(
            EventVault::from_data_key(&[2; 32])
                .open(record, &sealed)
                .is_err()
        );
    }

    fn email(address: &str) -> Email {
        Email::parse("email", address).unwrap()
    }

    #[test]
    fn email_indexes_are_keyed_per_event() {
        let one = EventVault::from_data_key(&[1; 32]);
        let two = EventVault::from_data_key(&[2; 32]);
        assert_eq!(
            one.email_index(&email("ada@example.org")),
            one.email_index(&email("ada@example.org"))
        );
        assert_ne!(
            one.email_index(&email("ada@example.org")),
            one.email_index(&email("bob@example.org"))
        );
        assert_ne!(
            one.email_index(&email("ada@example.org")),
            two.email_index(&email("ada@example.org"))
        );
        assert_eq!(one.email_index(&email("ada@example.org")).len(), 64);
    }

    #[test]
    fn scan_request_keys_hide_the_client_value_and_depend_on_kiosk_and_event() {
        let one = EventVault::from_data_key(&[1; 32]);
        let two = EventVault::from_data_key(&[2; 32]);
        let (kiosk, other_kiosk, scan) = (KioskId::new(), KioskId::new(), Uuid::new_v4());
        let key = one.scan_request_key(kiosk, scan);
        assert_eq!(key, one.scan_request_key(kiosk, scan));
        assert_ne!(key, scan, "the client's own value is never the stored key");
        assert_ne!(key, one.scan_request_key(other_kiosk, scan));
        assert_ne!(key, two.scan_request_key(kiosk, scan));
    }
}
