//! Field rules shared by several capabilities. Each returns the cleaned value or a [`FieldError`]
//! that names the field and never quotes the input.

use crate::error::FieldError;
use crate::problem::ProblemCode;

/// Trimmed text of `min..=max` characters with no control characters (newlines only if
/// `multiline`).
pub fn text(
    field: &'static str,
    input: &str,
    min: usize,
    max: usize,
    multiline: bool,
) -> Result<String, FieldError> {
    let value = input.trim();
    let len = value.chars().count();
    if len < min {
        let detail = if min == 1 {
            "Must not be empty.".to_owned()
        } else {
            format!("Must be at least {min} characters.")
        };
        return Err(FieldError::new(ProblemCode::TooShort, field, detail));
    }
    if len > max {
        return Err(FieldError::new(
            ProblemCode::TooLong,
            field,
            format!("Must be at most {max} characters."),
        )
        .with_limit(max));
    }
    let bad_control = value
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')));
    if bad_control {
        return Err(FieldError::new(
            ProblemCode::InvalidCharacters,
            field,
            "Contains control characters.",
        ));
    }
    if let Some(kind) = first_unsafe(value) {
        return Err(FieldError::new(
            ProblemCode::InvalidCharacters,
            field,
            format!("Contains {kind}, which are not allowed."),
        ));
    }
    Ok(value.to_owned())
}

/// The first kind of character in `value` that makes text show something other than what it
/// holds, or breaks the documents it is put in:
///
/// - bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C): U+202E makes
///   a name display backwards, and a name can reorder the text around it in a list or a mail;
/// - invisible characters (U+200B, U+2060, U+FEFF, U+00AD, U+180E): two names that look equal
///   differ, and a link hides inside a word. U+200C and U+200D (zero-width non-joiner and joiner)
///   are kept between two non-ASCII characters, where Persian, Indic scripts and emoji need
///   them, and nowhere else (between Latin letters they only hide things);
/// - the line and paragraph separators U+2028 and U+2029, which end a line where no newline is
///   allowed;
/// - noncharacters (U+FDD0–U+FDEF, and U+xFFFE and U+xFFFF of every plane), which are not allowed
///   in XML: an event named with one would break every printable badge.
pub fn first_unsafe(value: &str) -> Option<&'static str> {
    // Each character with the one before and the one after: no copy of the text (every name of
    // every registration passes here).
    let before = std::iter::once(None).chain(value.chars().map(Some));
    let after = value.chars().skip(1).map(Some).chain(std::iter::once(None));
    value
        .chars()
        .zip(before)
        .zip(after)
        .find_map(|((c, previous), next)| {
            let code = u32::from(c);
            if matches!(code, 0x202A..=0x202E | 0x2066..=0x2069 | 0x200E | 0x200F | 0x061C) {
                Some("direction-changing characters")
            } else if matches!(code, 0x200B | 0x2060 | 0xFEFF | 0x00AD | 0x180E) {
                Some("invisible characters")
            } else if matches!(code, 0x200C | 0x200D) {
                let in_script =
                    |c: Option<char>| c.is_some_and(|c| !c.is_ascii() && !c.is_whitespace());
                let joins = in_script(previous) && in_script(next);
                (!joins).then_some("invisible characters")
            } else if matches!(code, 0x2028 | 0x2029) {
                Some("line or paragraph separators")
            } else if matches!(code, 0xFDD0..=0xFDEF) || code & 0xFFFE == 0xFFFE {
                Some("noncharacters")
            } else {
                None
            }
        })
}

/// A label people read as a name of something (a company, a job title, an event, a venue, a
/// sponsor, a kiosk, an organisation): [`text`] that holds no web link (`scheme://`) and no e-mail
/// address. These are shown in mails and pages the organiser sends, so a link in one would travel
/// under the organiser's name.
pub fn label(
    field: &'static str,
    input: &str,
    min: usize,
    max: usize,
) -> Result<String, FieldError> {
    let value = text(field, input, min, max, false)?;
    if value.contains("://") || value.split_whitespace().any(is_email_like) {
        return Err(address_in_name(field));
    }
    Ok(value)
}

/// A person's name: a [`label`] that also holds nothing that reads as a web address (`www.`, or
/// a word with a dot between letters such as `evil.example/login`). Anyone can register any
/// address with any name, and the confirmation mail greets them by it: a name saying "Please
/// re-confirm at evil.example" would reach that address in the organiser's genuine mail.
pub fn person_name(
    field: &'static str,
    input: &str,
    min: usize,
    max: usize,
) -> Result<String, FieldError> {
    let value = label(field, input, min, max)?;
    if value.split_whitespace().any(is_domain_like) {
        return Err(address_in_name(field));
    }
    Ok(value)
}

fn address_in_name(field: &'static str) -> FieldError {
    FieldError::new(
        ProblemCode::AddressInName,
        field,
        "Must not contain a web address or an e-mail address.",
    )
}

fn is_email_like(word: &str) -> bool {
    word.split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
}

/// `www.…`, or a dot with a letter or digit before it and two letters after it (`evil.example`,
/// `bit.ly/x`); initials such as `J.R.R.` have one letter after each dot.
fn is_domain_like(word: &str) -> bool {
    if word.to_lowercase().starts_with("www.") {
        return true;
    }
    let chars: Vec<char> = word.chars().collect();
    chars.iter().enumerate().any(|(i, &c)| {
        c == '.'
            && i > 0
            && chars[i - 1].is_alphanumeric()
            && chars.get(i + 1).is_some_and(|c| c.is_alphabetic())
            && chars.get(i + 2).is_some_and(|c| c.is_alphabetic())
    })
}

/// An absolute `https://` URL with a host, at most 2048 characters.
pub fn https_url(field: &'static str, input: &str) -> Result<String, FieldError> {
    let value = input.trim();
    let invalid = || {
        FieldError::new(
            ProblemCode::InvalidUrl,
            field,
            "Must be an absolute https:// URL with a host.",
        )
    };
    if value.len() > 2048 {
        return Err(FieldError::new(
            ProblemCode::TooLong,
            field,
            "Must be at most 2048 characters.",
        ));
    }
    let url = url::Url::parse(value).map_err(|_| invalid())?;
    if url.scheme() != "https"
        || url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(invalid());
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(text("name", "  Ada  ", 1, 10, false).unwrap(), "Ada");
        assert_eq!(
            text("name", "   ", 1, 10, false).unwrap_err().code,
            ProblemCode::TooShort
        );
        assert_eq!(
            text("name", "abcdefghijk", 1, 10, false).unwrap_err().code,
            ProblemCode::TooLong
        );
        assert_eq!(
            text("name", "a\u{0}b", 1, 10, false).unwrap_err().code,
            ProblemCode::InvalidCharacters
        );
        assert_eq!(text("name", "a\nb", 1, 10, true).unwrap(), "a\nb");
        assert!(text("name", "a\nb", 1, 10, false).is_err());
        // Length counts characters, not bytes.
        assert!(text("name", "ééééé", 1, 5, false).is_ok());
    }

    #[test]
    fn text_that_shows_something_else_than_it_holds_is_refused() {
        for bad in [
            "Ada\u{202E}ecalevoL",
            "Ada\u{2066}x\u{2069}",
            "Ad\u{200B}a",
            "\u{FEFF}Ada",
            "Ada\u{2028}Lovelace",
            "Privacy Summit \u{FFFF}",
            "Ada\u{FDD0}",
            "Ada \u{200D}",
            "\u{200C}Ada",
            "Ad\u{200C}a",
        ] {
            let e = text("name", bad, 1, 100, false).unwrap_err();
            assert_eq!(e.code, ProblemCode::InvalidCharacters, "{bad:?}");
            assert!(!e.detail.contains("Ada"), "the value is never quoted");
        }
        // Joiners between letters are how Persian, Indic scripts and emoji are written.
        for good in [
            "می\u{200C}خواهم",
            "क्\u{200D}ष",
            "Ada 👩\u{200D}💻",
            "Zoë Ångström",
            "李小龙",
        ] {
            assert!(text("name", good, 1, 100, false).is_ok(), "{good:?}");
        }
        // A multi-line text keeps its newlines, but not a paragraph separator.
        assert!(text("notice", "one\ntwo", 1, 100, true).is_ok());
        assert!(text("notice", "one\u{2029}two", 1, 100, true).is_err());
    }

    #[test]
    fn names_hold_no_links_and_no_addresses() {
        for bad in [
            "Please re-confirm at https://evil.example/login",
            "Please re-confirm at evil.example/login",
            "www.evil.example",
            "mail ada@evil.example",
            "HTTP://X",
        ] {
            assert_eq!(
                person_name("first_name", bad, 1, 100).unwrap_err().code,
                ProblemCode::AddressInName,
                "{bad:?}"
            );
        }
        for good in [
            "Ada",
            "J.R.R. Tolkien",
            "Anne-Marie O'Neill",
            "Dr. Ada Lovelace",
            "Ada.",
            "@ada",
        ] {
            assert!(person_name("first_name", good, 1, 100).is_ok(), "{good:?}");
        }
        // A company may be named after its domain, but may not carry a link or an address.
        assert!(label("company", "Booking.com", 1, 200).is_ok());
        for bad in ["https://acme.example", "sales@acme.example"] {
            assert_eq!(
                label("company", bad, 1, 200).unwrap_err().code,
                ProblemCode::AddressInName
            );
        }
    }

    #[test]
    fn only_https_urls_with_a_host() {
        assert_eq!(
            https_url("url", "https://example.org/privacy").unwrap(),
            "https://example.org/privacy"
        );
        for bad in [
            "http://example.org",
            "ftp://x.org",
            "https://",
            "example.org",
            "https://user:pw@example.org/",
            "javascript:alert(1)",
        ] {
            assert_eq!(
                https_url("url", bad).unwrap_err().code,
                ProblemCode::InvalidUrl,
                "{bad:?}"
            );
        }
    }
}
