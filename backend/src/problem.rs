//! Every problem code the API answers with, in one enum: the only way to name one. Clients branch
//! on these (`code` in every `application/problem+json` body), so a code, once published, keeps
//! its spelling. The list in docs/ARCHITECTURE.md and the web pages' sentences for each code
//! (`web/js/i18n.js`, English and Dutch) are checked against [`ProblemCode::ALL`] by tests.

use std::fmt;

macro_rules! problem_codes {
    ($($variant:ident = $code:literal,)*) => {
        /// A stable, machine-readable problem code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemCode {
            $($variant,)*
        }

        impl ProblemCode {
            /// Every code, in alphabetical order.
            pub const ALL: &'static [ProblemCode] = &[$(Self::$variant,)*];

            /// The code as it appears on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }
        }
    };
}

problem_codes! {
    AddressInName = "address_in_name",
    AgeNotConfirmed = "age_not_confirmed",
    AlreadyRegistered = "already_registered",
    AuthenticationRequired = "authentication_required",
    BadRequest = "bad_request",
    ClientScanIdReused = "client_scan_id_reused",
    CrossSiteRequest = "cross_site_request",
    DataPurged = "data_purged",
    EmailTaken = "email_taken",
    EndsBeforeStart = "ends_before_start",
    EventEnded = "event_ended",
    EventTooLong = "event_too_long",
    InternalError = "internal_error",
    InvalidCharacters = "invalid_characters",
    InvalidCountry = "invalid_country",
    InvalidCredentials = "invalid_credentials",
    InvalidEmail = "invalid_email",
    InvalidKioskToken = "invalid_kiosk_token",
    InvalidMinAge = "invalid_min_age",
    InvalidNetwork = "invalid_network",
    InvalidPairingCode = "invalid_pairing_code",
    InvalidPhone = "invalid_phone",
    InvalidQuery = "invalid_query",
    InvalidRating = "invalid_rating",
    InvalidRetention = "invalid_retention",
    InvalidSession = "invalid_session",
    InvalidSlug = "invalid_slug",
    InvalidTimeZone = "invalid_time_zone",
    InvalidUrl = "invalid_url",
    InvalidValue = "invalid_value",
    KioskRevoked = "kiosk_revoked",
    KioskTokenExpired = "kiosk_token_expired",
    MalformedJson = "malformed_json",
    MethodNotAllowed = "method_not_allowed",
    MissingField = "missing_field",
    NetworkTooBroad = "network_too_broad",
    NoChanges = "no_changes",
    NoSharedFields = "no_shared_fields",
    NotFound = "not_found",
    NoticeOutdated = "notice_outdated",
    PayloadTooLarge = "payload_too_large",
    RateLimited = "rate_limited",
    RegistrationClosed = "registration_closed",
    RequestTimeout = "request_timeout",
    ServiceUnavailable = "service_unavailable",
    SessionExpired = "session_expired",
    SessionRevoked = "session_revoked",
    SlugTaken = "slug_taken",
    SponsorHasConsents = "sponsor_has_consents",
    SponsorNameTaken = "sponsor_name_taken",
    TooLong = "too_long",
    TooManyNetworks = "too_many_networks",
    TooManyTags = "too_many_tags",
    TooShort = "too_short",
    UnknownField = "unknown_field",
    UnknownOrganisation = "unknown_organisation",
    UnknownPurpose = "unknown_purpose",
    UnknownSponsor = "unknown_sponsor",
    UnreadableBody = "unreadable_body",
    UnsupportedMediaType = "unsupported_media_type",
    WeakPassword = "weak_password",
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository_file(path: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Every code has a sentence in both languages of the web pages, which show a problem by its
    /// code (`problemText` in `web/js/i18n.js`).
    #[test]
    fn every_code_has_an_english_and_a_dutch_sentence() {
        let messages = repository_file("web/js/i18n.js");
        let english_starts = messages.find("\n  en: {").expect("the English messages");
        let dutch_starts = messages.find("\n  nl: {").expect("the Dutch messages");
        assert!(english_starts < dutch_starts);
        let english = &messages[english_starts..dutch_starts];
        let dutch = &messages[dutch_starts..];
        let mut missing = Vec::new();
        for code in ProblemCode::ALL {
            let key = format!("'problem.{code}':");
            if !english.contains(&key) {
                missing.push(format!("{code} (en)"));
            }
            if !dutch.contains(&key) {
                missing.push(format!("{code} (nl)"));
            }
        }
        assert!(
            missing.is_empty(),
            "no sentence in web/js/i18n.js for {missing:?}"
        );
    }

    /// docs/ARCHITECTURE.md lists exactly the codes there are.
    #[test]
    fn the_documented_list_is_every_code() {
        let architecture = repository_file("docs/ARCHITECTURE.md");
        let start = architecture
            .find("Problem codes (all of them")
            .expect("the list of problem codes in docs/ARCHITECTURE.md");
        let paragraph = &architecture[start..];
        let paragraph = &paragraph[..paragraph.find("\n\n").unwrap_or(paragraph.len())];
        let listed: Vec<&str> = paragraph
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|word| word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .collect();
        let codes: Vec<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, codes);
    }

    #[test]
    fn codes_are_unique_sorted_snake_case() {
        let codes: Vec<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            codes, sorted,
            "ProblemCode::ALL is sorted and has no duplicates"
        );
        for code in codes {
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code} is snake_case"
            );
        }
    }
}
