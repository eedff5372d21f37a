//! Pairing codes and kiosk tokens.

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

use crate::schema::ids::{EventId, KioskId, SponsorId};
use crate::{error::RuleError, problem::ProblemCode};

/// No 0/O, 1/I/L: a code read aloud or typed from a screen is not mistaken.
pub const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub const CODE_LEN: usize = 8;
pub const CODE_TTL: Duration = Duration::minutes(15);

pub fn new_pairing_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LEN)
        .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// What people type: any case, with spaces or hyphens between groups.
pub fn normalise_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

/// The stored form of a code: HMAC-SHA256 under a server key, so a database copy does not yield
/// usable codes.
pub fn code_hash(key: &[u8; 32], code: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(code.as_bytes());
    crate::crypto::hex(&mac.finalize().into_bytes())
}

const ISSUER: &str = "consentry";
const AUDIENCE: &str = "kiosk";

/// A kiosk token: one sponsor's device at one event, revocable by its `jti`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KioskClaims {
    pub iss: String,
    pub aud: String,
    /// The kiosk id, which is also the token id the server revokes.
    pub jti: KioskId,
    /// Event id.
    pub eid: EventId,
    /// Sponsor id.
    pub sid: SponsorId,
    pub iat: i64,
    pub exp: i64,
}

pub fn issue_token(
    key: &EncodingKey,
    kiosk_id: KioskId,
    event_id: EventId,
    sponsor_id: SponsorId,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> anyhow::Result<String> {
    let claims = KioskClaims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        jti: kiosk_id,
        eid: event_id,
        sid: sponsor_id,
        iat: now.unix_timestamp(),
        exp: expires_at.unix_timestamp(),
    };
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        key,
    )?)
}

pub fn verify_token(
    key: &DecodingKey,
    token: &str,
    now: OffsetDateTime,
) -> Result<KioskClaims, RuleError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "jti"]);
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<KioskClaims>(token, key, &validation)
        .map_err(|_| RuleError::CredentialRefused(ProblemCode::InvalidKioskToken))?
        .claims;
    if now.unix_timestamp() >= claims.exp {
        return Err(RuleError::CredentialRefused(ProblemCode::KioskTokenExpired));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn codes_are_eight_unambiguous_characters() {
        for _ in 0..100 {
            let code = new_pairing_code();
            assert_eq!(code.len(), 8);
            assert!(!code.contains(['0', 'O', '1', 'I', 'L']));
            assert_eq!(normalise_code(&code), Some(code.clone()));
        }
        assert_eq!(normalise_code("abcd-efgh"), Some("ABCDEFGH".into()));
        assert_eq!(normalise_code(" ab cd ef gh "), Some("ABCDEFGH".into()));
        assert_eq!(normalise_code("ABCDEFG"), None);
        assert_eq!(normalise_code("ABCDEFG0"), None);
    }

    #[test]
    fn code_hashes_are_keyed() {
        assert_eq!(
            code_hash(&[1; 32], "ABCDEFGH"),
            code_hash(&[1; 32], "ABCDEFGH")
        );
        assert_ne!(
            code_hash(&[1; 32], "ABCDEFGH"),
            code_hash(&[2; 32], "ABCDEFGH")
        );
    }

    #[test]
    fn kiosk_tokens_expire_and_are_bound_to_their_key() {
        let key = EncodingKey::from_secret(b"k");
        let exp = datetime!(2026-12-31 00:00 UTC);
        let token = issue_token(
            &key,
            KioskId::new(),
            EventId::new(),
            SponsorId::new(),
            datetime!(2026-12-01 00:00 UTC),
            exp,
        )
        .unwrap();
        let decoding = DecodingKey::from_secret(b"k");
        assert!(verify_token(&decoding, &token, exp - Duration::seconds(1)).is_ok());
        assert_eq!(
            verify_token(&decoding, &token, exp).unwrap_err().code(),
            ProblemCode::KioskTokenExpired
        );
        assert_eq!(
            verify_token(
                &DecodingKey::from_secret(b"other"),
                &token,
                exp - Duration::days(1)
            )
            .unwrap_err()
            .code(),
            ProblemCode::InvalidKioskToken
        );
    }
}
