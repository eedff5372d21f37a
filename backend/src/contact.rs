//! Contact details as types that carry their rules: an [`Email`] is normalised and checked when it
//! is made, so duplicate detection (the blind index, `vault::EventVault::email_index`) can only
//! ever see the normalised form; a [`Phone`] is E.164; a [`Country`] an ISO 3166-1 code. Each
//! parses from what people type and serialises as its plain string.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{error::FieldError, problem::ProblemCode};

/// The plumbing of a text type: `$stored` is the parser that values read back from storage (or
/// sent) go through; see [`Email::parse_stored`] for why it can differ from `parse`.
macro_rules! text_newtype {
    ($name:ident, $field:literal, $stored:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        /// Stored and sent values are parsed again when read: a malformed one is refused, not
        /// trusted.
        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(value: String) -> Result<Self, String> {
                Self::$stored($field, &value).map_err(|e| e.detail)
            }
        }
    };
}

/// An e-mail address, normalised for comparison: trimmed, lower-cased; one the mailer can send
/// to. Beyond that, permissive: the only real check of an address is a mail to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// An address someone typed: the shape `local@domain.tld` (see [`Email::parse_stored`]), and
    /// an address the mailer can send to, by the mailer's own parser (`lettre::Address`), so that
    /// an address accepted here is one the confirmation mail reaches: `fay,attacker@evil.example`
    /// is refused, not registered, silently never mailed and then exported to sponsors. The
    /// domain must be a name, not an IP address.
    pub fn parse(field: &'static str, input: &str) -> Result<Self, FieldError> {
        let email = Self::parse_stored(field, input)?;
        let (_, domain) = email.0.rsplit_once('@').unwrap_or_default();
        let top_level_is_a_name = domain
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.chars().any(char::is_alphabetic));
        if email.0.parse::<lettre::Address>().is_err() || !top_level_is_a_name {
            return Err(invalid_email(field));
        }
        Ok(email)
    }

    /// The rule every stored address was made under, checked again when one is read back: the
    /// normalised shape `local@domain.tld`. Kept apart from [`Email::parse`] so that a stricter
    /// rule for new input never makes a stored registration unreadable (it is gone with the
    /// retention period anyway).
    fn parse_stored(field: &'static str, input: &str) -> Result<Self, FieldError> {
        let value = input.trim().to_lowercase();
        let invalid = || invalid_email(field);
        if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = value.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.len() >= 3
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(value))
    }
}

fn invalid_email(field: &'static str) -> FieldError {
    FieldError::new(
        ProblemCode::InvalidEmail,
        field,
        "Not a valid e-mail address.",
    )
}

text_newtype!(Email, "email", parse_stored);

/// An E.164 number: `+`, a non-zero digit, at most 15 digits in all. Spaces, dots, dashes and
/// brackets people type are removed first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    pub fn parse(field: &'static str, input: &str) -> Result<Self, FieldError> {
        let compact: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or("");
        let valid = (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(Self(compact))
        } else {
            Err(FieldError::new(
                ProblemCode::InvalidPhone,
                field,
                "Must be an international number such as +31 20 123 4567.",
            ))
        }
    }
}

text_newtype!(Phone, "phone", parse);

/// An ISO 3166-1 alpha-2 country code, upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country(String);

impl Country {
    pub fn parse(field: &'static str, input: &str) -> Result<Self, FieldError> {
        let code = input.trim().to_ascii_uppercase();
        if code.len() == 2 && COUNTRIES.split(' ').any(|c| c == code) {
            Ok(Self(code))
        } else {
            Err(FieldError::new(
                ProblemCode::InvalidCountry,
                field,
                "Must be an ISO 3166-1 alpha-2 country code such as NL.",
            ))
        }
    }
}

text_newtype!(Country, "country", parse);

impl Country {
    /// Every ISO 3166-1 alpha-2 code there is, in alphabetical order: what a form offers (named
    /// in the page's language by the browser's own country names).
    pub fn codes() -> impl Iterator<Item = &'static str> {
        COUNTRIES.split(' ')
    }
}

const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ \
BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ \
DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT \
GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY \
KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX \
MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS \
RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN \
TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("email", " Ada@Example.ORG ").unwrap().as_str(),
            "ada@example.org"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "ada@example",
            "a b@example.org",
            "ada@.example.org",
            "ada@example..org",
            "ada@exa_mple.org",
        ] {
            let err = Email::parse("email", bad).unwrap_err();
            assert_eq!(err.code, ProblemCode::InvalidEmail, "{bad:?}");
            assert!(!err.detail.contains(bad) || bad.is_empty());
        }
    }

    #[test]
    fn an_address_the_mailer_cannot_send_to_is_refused() {
        for bad in [
            "fay,attacker@evil.example",
            "fay;x@evil.example",
            "ada@127.0.0.1",
            "a\"b@example.org",
        ] {
            assert_eq!(
                Email::parse("email", bad).unwrap_err().code,
                ProblemCode::InvalidEmail,
                "{bad:?}"
            );
        }
        for good in [
            "ada+summit@example.org",
            "o'neill@example.ie",
            "zoë@example.org",
        ] {
            assert!(Email::parse("email", good).is_ok(), "{good:?}");
        }
        // An address stored under the earlier rule is still read back: its registration stays
        // readable (and erasable) until the retention purge.
        let stored: Email = serde_json::from_str("\"fay,attacker@evil.example\"").unwrap();
        assert_eq!(stored.as_str(), "fay,attacker@evil.example");
    }

    #[test]
    fn a_stored_value_is_parsed_again_when_read() {
        let read: Email = serde_json::from_str("\"ada@example.org\"").unwrap();
        assert_eq!(read.as_str(), "ada@example.org");
        assert!(serde_json::from_str::<Email>("\"not an address\"").is_err());
        assert_eq!(serde_json::to_string(&read).unwrap(), "\"ada@example.org\"");
        assert!(serde_json::from_str::<Phone>("\"+31201234567\"").is_ok());
        assert!(serde_json::from_str::<Country>("\"XX\"").is_err());
    }
}
