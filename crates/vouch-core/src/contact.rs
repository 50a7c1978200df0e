//! Checks on contact values that must be safe to put in an email header later.

/// A conservative address check: `local@domain.tld`, printable ASCII, no spaces, quotes,
/// angle brackets, commas or control characters, at most 254 characters.
pub fn is_valid_email(s: &str) -> bool {
    if s.len() > 254 || !s.is_ascii() {
        return false;
    }
    if s.chars()
        .any(|c| c.is_ascii_control() || c.is_whitespace() || "<>()[]\\,;:\"".contains(c))
    {
        return false;
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in [
            "a@b.co",
            "first.last+tag@example.com",
            "x_y@sub.example-mail.org",
        ] {
            assert!(is_valid_email(ok), "{ok}");
        }
    }

    #[test]
    fn refuses_hostile_or_malformed_addresses() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@example.com\r\nBcc: x@evil.com",
            "a@example.com,b@example.com",
            "\"a\"@example.com",
            "<a@example.com>",
            "a@@example.com",
            "a@exa_mple.com",
            "jos\u{e9}@example.com",
        ] {
            assert!(!is_valid_email(bad), "{bad:?}");
        }
    }
}
