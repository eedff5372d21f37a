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
        ));
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
    Ok(value.to_owned())
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
