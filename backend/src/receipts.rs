//! Signed consent receipts: every grant and withdrawal yields a compact JWS (RFC 7515, EdDSA over
//! Ed25519) that the attendee can keep and anyone can verify with the organisation's published key
//! (`GET /.well-known/consent-receipt-keys.json`, a JWKS) or `consentry verify-receipt FILE`.
//!
//! The claims follow the fields of a consent record in ISO/IEC TS 27560 and the Kantara Consent
//! Receipt: controller, subject (by pseudonymous id), purpose, recipient and what it receives, the
//! notice (the exact sentence's SHA-256 and language), action, channel, time, and a link to the
//! receipt of the previous state of the same purpose. They hold no contact detail: a receipt
//! names the registration by id only. docs/PRIVACY.md documents the format.
//!
//! Signing keys are per organisation, in the main database (the private half wrapped by the master
//! key). They are not event keys: the purge deletes the receipts with the ledger, while the key
//! stays published, so a receipt an attendee kept stays verifiable.

use std::{collections::HashMap, sync::Arc};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{SigningKey, VerifyingKey, pkcs8::EncodePrivateKey};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation,
    jwk::{Jwk, JwkSet},
};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    crypto::{self, MasterKey},
    error::{ApiError, ApiResult},
    schema::{
        ids::{EventId, RegistrationId, SponsorId},
        organisers::organisation,
        receipt_keys as entity,
    },
};

/// Where the keys that verify receipts are published, below the issuer (`iss`).
pub const KEYS_PATH: &str = "/.well-known/consent-receipt-keys.json";
/// The claims' layout; a verifier that knows an older one refuses a newer one.
pub const RECEIPT_VERSION: &str = "consentry-receipt-1";
/// The JWS `typ` of a receipt, so it cannot be taken for another token signed with EdDSA.
pub const RECEIPT_TYPE: &str = "consent-receipt+jwt";

/// What a receipt says. Field names are short where JWT has a name for them (`iss`, `jti`, `iat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptClaims {
    /// The site that issued it; its keys are at `{iss}/.well-known/consent-receipt-keys.json`.
    pub iss: String,
    /// The receipt's id (the consent ledger entry's).
    pub jti: Uuid,
    /// When it was signed, in seconds since 1970.
    pub iat: i64,
    /// `consentry-receipt-1`.
    pub version: String,
    /// The controller: the organisation that runs the event.
    pub controller: String,
    pub event: ReceiptEvent,
    /// The registration the consent belongs to (a pseudonymous id; no contact detail).
    pub subject: RegistrationId,
    /// `granted` or `withdrawn`.
    pub action: ReceiptAction,
    /// `sponsor:<id>` or `marketing`.
    pub purpose: String,
    /// For a sponsor's purpose: who receives what.
    pub recipient: Option<ReceiptRecipient>,
    /// The notice in force and the exact sentence agreed to or withdrawn.
    pub notice: ReceiptNotice,
    /// The route it came through: `web`, `api` or `booth`.
    pub channel: String,
    /// Where it was made: `registration`, `manage` or `booth`.
    pub occasion: String,
    /// When the consent was given or withdrawn.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// SHA-256 (hex) of the receipt of the previous state of this purpose (the compact JWS as
    /// issued); none for its first grant.
    pub previous: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptEvent {
    pub id: EventId,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptAction {
    Granted,
    Withdrawn,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptRecipient {
    pub sponsor_id: SponsorId,
    /// The sponsor's name as the sentence named it.
    pub name: String,
    pub privacy_policy_url: String,
    /// The contact fields it receives when it scans the badge.
    pub receives: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptNotice {
    /// The event's privacy notice version in force.
    pub version: i32,
    /// SHA-256 (hex) of the exact sentence shown, as the consent ledger records it.
    pub sentence_sha256: String,
    /// `en` or `nl`: the language the sentence was read in.
    pub language: String,
}

/// SHA-256 (hex) of a receipt as issued: what the next receipt of the same purpose links to.
pub fn digest(receipt: &str) -> String {
    crypto::sha256_hex(receipt.as_bytes())
}

/// One organisation's signing key, ready to sign.
pub struct ReceiptSigner {
    pub kid: String,
    /// The organisation's name: the receipts' controller.
    pub controller: String,
    key: EncodingKey,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl ReceiptSigner {
    fn from_seed(kid: String, controller: String, seed: &[u8; 32]) -> anyhow::Result<Self> {
        let der = SigningKey::from_bytes(seed)
            .to_pkcs8_der()
            .map_err(|e| anyhow::anyhow!("cannot encode the receipt key: {e}"))?;
        Ok(Self {
            kid,
            controller,
            key: EncodingKey::from_ed_der(der.as_bytes()),
        })
    }

    /// The compact JWS of `claims`.
    pub fn sign(&self, claims: &ReceiptClaims) -> ApiResult<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some(RECEIPT_TYPE.to_owned());
        jsonwebtoken::encode(&header, claims, &self.key)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("cannot sign a receipt: {e}")))
    }
}

/// What every receipt of one request shares: the organisation's signer, the issuing site, the
/// event's name.
#[derive(Debug, Clone)]
pub struct ReceiptIssuer {
    pub signer: Arc<ReceiptSigner>,
    /// The site's public URL: receipts name it as `iss`, and its keys are published below it.
    pub issuer: String,
    pub event_name: String,
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptRejection {
    #[error("not a consent receipt (a compact JWS of type consent-receipt+jwt)")]
    Malformed,
    #[error("signed with a key that is not published (unknown kid)")]
    UnknownKey,
    #[error("the signature does not match: the receipt was changed or not signed by this key")]
    BadSignature,
    #[error("a receipt version this program does not know")]
    UnknownVersion,
}

/// Verify `receipt` against the published `keys`: EdDSA only, a known `kid`, the receipt type,
/// then the claims' version.
pub fn verify(receipt: &str, keys: &JwkSet) -> Result<ReceiptClaims, ReceiptRejection> {
    let header =
        jsonwebtoken::decode_header(receipt.trim()).map_err(|_| ReceiptRejection::Malformed)?;
    if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(RECEIPT_TYPE) {
        return Err(ReceiptRejection::Malformed);
    }
    let kid = header.kid.ok_or(ReceiptRejection::Malformed)?;
    let public_key = keys
        .keys
        .iter()
        .filter(|jwk| jwk.common.key_id.as_deref() == Some(kid.as_str()))
        .find_map(ed25519_public_key)
        .ok_or(ReceiptRejection::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<ReceiptClaims>(
        receipt.trim(),
        &DecodingKey::from_ed_der(&public_key),
        &validation,
    )
    .map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => ReceiptRejection::BadSignature,
        _ => ReceiptRejection::Malformed,
    })?
    .claims;
    if claims.version != RECEIPT_VERSION {
        return Err(ReceiptRejection::UnknownVersion);
    }
    Ok(claims)
}

/// The issuer named in a receipt, read without verifying it (to find where its keys are).
pub fn unverified_issuer(receipt: &str) -> Option<String> {
    let payload = receipt.trim().split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// The key's 32 bytes, once they are known to be a valid curve point.
fn ed25519_public_key(jwk: &Jwk) -> Option<[u8; 32]> {
    let bytes = consentry_badge::ed25519_key_of(jwk)?;
    VerifyingKey::from_bytes(&bytes).ok()?;
    Some(bytes)
}

fn wrap_context(kid: &str) -> String {
    format!("receipt-key:{kid}")
}

/// Every published receipt key, of every organisation.
pub async fn published_keys(db: &impl ConnectionTrait) -> ApiResult<JwkSet> {
    let keys = entity::Entity::find()
        .order_by_asc(entity::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(JwkSet {
        keys: keys
            .iter()
            .map(|k| consentry_badge::ed25519_jwk(&k.kid, &k.public_key))
            .collect(),
    })
}

/// The organisation's newest signing key; made on first use.
async fn load_or_create(
    db: &impl ConnectionTrait,
    master: &MasterKey,
    organisation_id: Uuid,
    now: OffsetDateTime,
) -> ApiResult<ReceiptSigner> {
    let controller = organisation::Entity::find_by_id(organisation_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?
        .name;
    let newest = entity::Entity::find()
        .filter(entity::Column::OrganisationId.eq(organisation_id))
        .order_by_desc(entity::Column::CreatedAt)
        .one(db)
        .await?;
    if let Some(key) = newest {
        let seed: [u8; 32] = master
            .unwrap_secret(&wrap_context(&key.kid), &key.wrapped_private_key)
            .map_err(ApiError::Internal)?
            .try_into()
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("a receipt key is malformed")))?;
        return ReceiptSigner::from_seed(key.kid, controller, &seed).map_err(ApiError::Internal);
    }
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let kid = format!("receipt-{}", Uuid::new_v4().simple());
    entity::ActiveModel {
        kid: Set(kid.clone()),
        organisation_id: Set(organisation_id),
        public_key: Set(SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes()
            .to_vec()),
        wrapped_private_key: Set(master
            .wrap(&wrap_context(&kid), &seed)
            .map_err(ApiError::Internal)?),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    ReceiptSigner::from_seed(kid, controller, &seed).map_err(ApiError::Internal)
}

/// Signing keys in memory, by organisation. Two instances making an organisation's first key at
/// once each make one: both are published, and both verify what they signed.
#[derive(Default)]
pub struct ReceiptSigners {
    signers: tokio::sync::RwLock<HashMap<Uuid, Arc<ReceiptSigner>>>,
}

impl ReceiptSigners {
    pub async fn get(
        &self,
        db: &impl ConnectionTrait,
        master: &MasterKey,
        organisation_id: Uuid,
        now: OffsetDateTime,
    ) -> ApiResult<Arc<ReceiptSigner>> {
        if let Some(signer) = self.signers.read().await.get(&organisation_id) {
            return Ok(signer.clone());
        }
        let mut signers = self.signers.write().await;
        if let Some(signer) = signers.get(&organisation_id) {
            return Ok(signer.clone());
        }
        let signer = Arc::new(load_or_create(db, master, organisation_id, now).await?);
        signers.insert(organisation_id, signer.clone());
        Ok(signer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> ReceiptClaims {
        ReceiptClaims {
            iss: "https://events.example.org".into(),
            jti: Uuid::nil(),
            iat: 1_800_000_000,
            version: RECEIPT_VERSION.into(),
            controller: "Example Events".into(),
            event: ReceiptEvent {
                id: EventId(Uuid::nil()),
                name: "Example Conf".into(),
            },
            subject: RegistrationId(Uuid::nil()),
            action: ReceiptAction::Granted,
            purpose: "sponsor:00000000-0000-0000-0000-000000000000".into(),
            recipient: Some(ReceiptRecipient {
                sponsor_id: SponsorId(Uuid::nil()),
                name: "Acme".into(),
                privacy_policy_url: "https://acme.example/privacy".into(),
                receives: vec!["first_name".into(), "email".into()],
            }),
            notice: ReceiptNotice {
                version: 1,
                sentence_sha256: "ab".repeat(32),
                language: "en".into(),
            },
            channel: "web".into(),
            occasion: "registration".into(),
            at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            previous: None,
        }
    }

    fn signer_of(seed: u8) -> (ReceiptSigner, JwkSet) {
        let seed = [seed; 32];
        let kid = format!("receipt-{}", seed[0]);
        let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        let keys = JwkSet {
            keys: vec![consentry_badge::ed25519_jwk(&kid, &public)],
        };
        (
            ReceiptSigner::from_seed(kid, "Example Events".into(), &seed).unwrap(),
            keys,
        )
    }

    #[test]
    fn a_receipt_verifies_with_the_published_key_and_says_what_was_signed() {
        let (signer, keys) = signer_of(1);
        let receipt = signer.sign(&claims()).unwrap();
        assert_eq!(verify(&receipt, &keys), Ok(claims()));
        assert_eq!(
            unverified_issuer(&receipt).as_deref(),
            Some("https://events.example.org")
        );
    }

    #[test]
    fn a_receipt_changed_anywhere_or_signed_by_another_key_does_not_verify() {
        let (signer, keys) = signer_of(1);
        let receipt = signer.sign(&claims()).unwrap();
        // Change each byte of the payload and the signature in turn: none verifies.
        let payload_start = receipt.find('.').unwrap() + 1;
        for at in payload_start..receipt.len() {
            let mut bytes = receipt.clone().into_bytes();
            if bytes[at] == b'.' {
                continue;
            }
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(verify(&changed, &keys).is_err(), "byte {at} changed");
        }
        // The same kid with another key: a forgery.
        let (other, _) = signer_with_kid(2, &signer.kid);
        let forged = other.sign(&claims()).unwrap();
        assert_eq!(verify(&forged, &keys), Err(ReceiptRejection::BadSignature));
        let (_, unrelated_keys) = signer_of(3);
        assert_eq!(
            verify(&receipt, &unrelated_keys),
            Err(ReceiptRejection::UnknownKey)
        );
    }

    fn signer_with_kid(seed: u8, kid: &str) -> (ReceiptSigner, JwkSet) {
        let (mut signer, _) = signer_of(seed);
        signer.kid = kid.to_owned();
        (signer, JwkSet { keys: vec![] })
    }

    #[test]
    fn other_tokens_are_not_receipts() {
        let (signer, keys) = signer_of(1);
        // A token of another type signed by the same key (a badge, say) is refused.
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(signer.kid.clone());
        let untyped = jsonwebtoken::encode(&header, &claims(), &signer.key).unwrap();
        assert_eq!(verify(&untyped, &keys), Err(ReceiptRejection::Malformed));
        // `alg: none` and garbage.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD
                .encode(br#"{"alg":"none","typ":"consent-receipt+jwt","kid":"receipt-1"}"#),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims()).unwrap())
        );
        assert!(verify(&none, &keys).is_err());
        assert_eq!(
            verify("not a receipt", &keys),
            Err(ReceiptRejection::Malformed)
        );
        // A newer layout.
        let mut newer = claims();
        newer.version = "consentry-receipt-2".into();
        let receipt = signer.sign(&newer).unwrap();
        assert_eq!(
            verify(&receipt, &keys),
            Err(ReceiptRejection::UnknownVersion)
        );
    }
}
