//! Consentry badge tokens: compact EdDSA JWTs whose only claims are a random badge id, the event id and the
//! time of issue. A photographed badge reveals nothing about the person; a forged one fails.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{SigningKey, VerifyingKey, pkcs8::EncodePrivateKey};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation,
    jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
        OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
    },
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use jsonwebtoken::jwk::JwkSet as KeySet;

pub mod spreadsheet;

/// Everything a badge says. Deliberately nothing about the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BadgeClaims {
    /// Badge id: random, unrelated to the registration id.
    #[serde(with = "compact_uuid")]
    pub bid: Uuid,
    /// Event id.
    #[serde(with = "compact_uuid")]
    pub eid: Uuid,
    /// Issued at (Unix seconds).
    pub iat: i64,
}

/// UUIDs as 22 base64url characters instead of 36: a smaller token is a smaller QR code, which
/// scans from further away and at lower print quality.
mod compact_uuid {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use uuid::Uuid;

    pub fn serialize<S: Serializer>(id: &Uuid, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(id.as_bytes()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Uuid, D::Error> {
        let text = <&str>::deserialize(d)?;
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(D::Error::custom)?;
        Uuid::from_slice(&bytes).map_err(D::Error::custom)
    }
}

/// The badge token in what a scanner read. A badge's QR code holds a link to the server's `/b`
/// page with the token in the fragment (`https://host/b#<token>`), so that a phone's own camera
/// opens a page about the badge without ever sending the token to a server; older badges hold the
/// bare token. Both give the token.
pub fn token_in_scan(scanned: &str) -> &str {
    let scanned = scanned.trim();
    match scanned.rfind('#') {
        Some(hash) => scanned[hash + 1..].trim(),
        None => scanned,
    }
}

/// Why a badge token was not accepted. Ordered as the scan decision checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadgeRejection {
    /// Not a JWT, an unknown `kid`, another algorithm, `alg: none`, or a bad signature.
    Invalid,
    /// Validly signed for another event.
    OtherEvent,
}

/// An event's signing key, ready to sign.
pub struct BadgeSigner {
    pub kid: String,
    key: EncodingKey,
}

impl BadgeSigner {
    pub fn from_seed(kid: String, seed: &[u8; 32]) -> anyhow::Result<Self> {
        let der = SigningKey::from_bytes(seed)
            .to_pkcs8_der()
            .map_err(|e| anyhow::anyhow!("cannot encode the badge key: {e}"))?;
        Ok(Self {
            kid,
            key: EncodingKey::from_ed_der(der.as_bytes()),
        })
    }

    pub fn sign(&self, claims: &BadgeClaims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = None;
        Ok(jsonwebtoken::encode(&header, claims, &self.key)?)
    }
}

/// An event's public badge key.
#[derive(Clone)]
pub struct BadgePublicKey {
    pub kid: String,
    pub event_id: Uuid,
    pub public_key: [u8; 32],
}

impl BadgePublicKey {
    pub fn jwk(&self) -> Jwk {
        ed25519_jwk(&self.kid, &self.public_key)
    }
}

/// An Ed25519 public key as a JWK (RFC 8037: OKP, `crv: Ed25519`) for signatures with EdDSA.
/// Badge keys and consent-receipt keys are published this way.
pub fn ed25519_jwk(kid: &str, public_key: &[u8]) -> Jwk {
    Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(KeyAlgorithm::EdDSA),
            key_id: Some(kid.to_owned()),
            ..Default::default()
        },
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: URL_SAFE_NO_PAD.encode(public_key),
        }),
    }
}

/// The 32 bytes of an Ed25519 JWK; `None` for another key type or a malformed `x`.
pub fn ed25519_key_of(jwk: &Jwk) -> Option<[u8; 32]> {
    let AlgorithmParameters::OctetKeyPair(okp) = &jwk.algorithm else {
        return None;
    };
    if okp.curve != EllipticCurve::Ed25519 {
        return None;
    }
    URL_SAFE_NO_PAD.decode(&okp.x).ok()?.try_into().ok()
}

/// The Ed25519 keys of a published key set, as belonging to `event_id` — how a kiosk turns the
/// JWKS it cached at pairing into keys for [`verify`]. Keys of other types are skipped.
pub fn keys_from_jwks(set: &JwkSet, event_id: Uuid) -> Vec<BadgePublicKey> {
    set.keys
        .iter()
        .filter_map(|jwk| {
            Some(BadgePublicKey {
                kid: jwk.common.key_id.clone()?,
                event_id,
                public_key: ed25519_key_of(jwk)?,
            })
        })
        .collect()
}

pub fn jwks(keys: &[BadgePublicKey]) -> JwkSet {
    JwkSet {
        keys: keys.iter().map(BadgePublicKey::jwk).collect(),
    }
}

/// The key id of a token's header, if it has the shape of a JWT at all.
pub fn token_kid(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).ok()?.kid
}

/// Verify `token` against the public keys of `event_id` (`keys` may hold keys of other events
/// too, as a kiosk's cache does): signature by a known key with EdDSA only, then the event.
pub fn verify(
    token: &str,
    keys: &[BadgePublicKey],
    event_id: Uuid,
) -> Result<BadgeClaims, BadgeRejection> {
    let kid = token_kid(token).ok_or(BadgeRejection::Invalid)?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or(BadgeRejection::Invalid)?;
    // The key must be a valid curve point before it is used.
    VerifyingKey::from_bytes(&key.public_key).map_err(|_| BadgeRejection::Invalid)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<BadgeClaims>(
        token,
        &DecodingKey::from_ed_der(&key.public_key),
        &validation,
    )
    .map_err(|_| BadgeRejection::Invalid)?
    .claims;
    // A key signs only its own event's badges; a mismatch means a forged or confused badge.
    if claims.eid != key.event_id {
        return Err(BadgeRejection::Invalid);
    }
    if claims.eid != event_id {
        return Err(BadgeRejection::OtherEvent);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(event_id: Uuid, seed: u8) -> (BadgeSigner, BadgePublicKey) {
        let seed = [seed; 32];
        let kid = format!("kid-{:07}", seed[0]);
        let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        (
            BadgeSigner::from_seed(kid.clone(), &seed).unwrap(),
            BadgePublicKey {
                kid,
                event_id,
                public_key: public,
            },
        )
    }

    fn claims(event_id: Uuid) -> BadgeClaims {
        BadgeClaims {
            bid: Uuid::new_v4(),
            eid: event_id,
            iat: 1_790_000_000,
        }
    }

    #[test]
    fn the_token_is_read_from_a_badge_link_or_bare() {
        assert_eq!(token_in_scan(" aaa.bbb.ccc\n"), "aaa.bbb.ccc");
        assert_eq!(
            token_in_scan("https://tickets.example.org/b#aaa.bbb.ccc"),
            "aaa.bbb.ccc"
        );
        assert_eq!(
            token_in_scan("http://127.0.0.1:8080/b#aaa.bbb.ccc"),
            "aaa.bbb.ccc"
        );
        assert_eq!(token_in_scan("https://example.org/b#"), "");
    }

    #[test]
    fn a_badge_verifies_with_its_event_key_only() {
        let event = Uuid::now_v7();
        let other = Uuid::now_v7();
        let (signer, public) = key(event, 1);
        let (_, other_public) = key(other, 2);
        let c = claims(event);
        let token = signer.sign(&c).unwrap();
        assert_eq!(verify(&token, std::slice::from_ref(&public), event), Ok(c));
        assert_eq!(
            verify(&token, &[public.clone(), other_public.clone()], other),
            Err(BadgeRejection::OtherEvent)
        );
        assert_eq!(
            verify(&token, &[other_public], event),
            Err(BadgeRejection::Invalid)
        );
    }

    #[test]
    fn tampered_and_unsigned_badges_are_invalid() {
        let event = Uuid::now_v7();
        let (signer, public) = key(event, 1);
        let token = signer.sign(&claims(event)).unwrap();
        let (head, rest) = token.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let forged_claims = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&BadgeClaims {
                bid: Uuid::new_v4(),
                ..claims(event)
            })
            .unwrap(),
        );
        let tampered = format!("{head}.{forged_claims}.{sig}");
        assert_eq!(
            verify(&tampered, std::slice::from_ref(&public), event),
            Err(BadgeRejection::Invalid)
        );

        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"k1"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(event)).unwrap());
        assert_eq!(
            verify(
                &format!("{none_header}.{body}."),
                std::slice::from_ref(&public),
                event
            ),
            Err(BadgeRejection::Invalid)
        );
        // HS256 "signed" with the public key as secret: the classic algorithm confusion.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let confused = jsonwebtoken::encode(
            &header,
            &claims(event),
            &EncodingKey::from_secret(&public.public_key),
        )
        .unwrap();
        assert_eq!(
            verify(&confused, std::slice::from_ref(&public), event),
            Err(BadgeRejection::Invalid)
        );
        assert_eq!(
            verify("not a token", &[public], event),
            Err(BadgeRejection::Invalid)
        );
    }

    #[test]
    fn a_badge_holds_no_personal_data_and_stays_compact() {
        let event = Uuid::now_v7();
        let (signer, _) = key(event, 1);
        let token = signer.sign(&claims(event)).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["bid", "eid", "iat"]);
        assert!(token.len() <= 250, "{} characters: {token}", token.len());
    }

    #[test]
    fn a_cached_key_set_verifies_offline() {
        let event = Uuid::now_v7();
        let (signer, public) = key(event, 4);
        let token = signer.sign(&claims(event)).unwrap();
        let cached: JwkSet =
            serde_json::from_str(&serde_json::to_string(&jwks(&[public])).unwrap()).unwrap();
        let keys = keys_from_jwks(&cached, event);
        assert_eq!(keys.len(), 1);
        assert!(verify(&token, &keys, event).is_ok());
    }

    #[test]
    fn the_jwk_round_trips_into_a_decoding_key() {
        let event = Uuid::now_v7();
        let (signer, public) = key(event, 3);
        let token = signer.sign(&claims(event)).unwrap();
        let set: JwkSet =
            serde_json::from_value(serde_json::to_value(jwks(&[public])).unwrap()).unwrap();
        let jwk = set.find("kid-0000003").unwrap();
        let decoding = DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.required_spec_claims.clear();
        assert!(jsonwebtoken::decode::<BadgeClaims>(&token, &decoding, &validation).is_ok());
    }
}
