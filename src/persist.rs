//! Persistent DCV records (CA/B Forum BR 3.2.2.4.22, ACME `dns-persist-01`): the TXT value at
//! `_validation-persist.<name>`, built from checked parts and read back.
//!
//! The value is an RFC 8659 issue-value: `<issuer-domain-name>; accounturi=<uri>[; policy=wildcard]
//! [; persistUntil=<unix seconds>]`. `accounturi` is required; a CA ignores parameters it does not
//! know, compares `policy` without case and rejects a `persistUntil` that is not a base-10 integer
//! (draft-ietf-acme-dns-persist-02 section 4.1). Which values are "ours" is decided by issuer and
//! account alone: a changed `--until` or `--wildcard` replaces our older value, never a value of
//! another account or CA. Nothing here does I/O.

use crate::dcv::DomainName;
use crate::error::{Error, Result};
use crate::record::{Record, RecordType};

/// The label the record sits under.
pub const LABEL: &str = "_validation-persist";

/// How close a `persistUntil` may come before the doctor warns, in seconds (30 days).
pub const EXPIRY_WARNING: i64 = 30 * 86_400;

/// The value dcv-hook publishes, every part checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistValue {
    /// Lowercase A-label issuer domain name.
    pub issuer: String,
    /// The account URI exactly as given (CAs compare it as a plain string).
    pub account_uri: String,
    pub wildcard: bool,
    /// `persistUntil`, Unix seconds.
    pub until: Option<i64>,
}

impl PersistValue {
    /// Checks each part (a 65 naming the flag and the value when one is wrong) and keeps them.
    pub fn new(
        issuer: &str,
        account_uri: &str,
        wildcard: bool,
        until: Option<&str>,
        now: i64,
    ) -> Result<PersistValue> {
        Ok(PersistValue {
            issuer: check_issuer(issuer)?,
            account_uri: check_account_uri(account_uri)?,
            wildcard,
            until: until.map(|u| check_until(u, now)).transpose()?,
        })
    }

    /// The TXT text.
    pub fn text(&self) -> String {
        let mut text = format!("{}; accounturi={}", self.issuer, self.account_uri);
        if self.wildcard {
            text.push_str("; policy=wildcard");
        }
        if let Some(t) = self.until {
            text.push_str(&format!("; persistUntil={t}"));
        }
        text
    }

    /// The record for `name` (a wildcard's base: the record covers `*.` names with `policy=wildcard`).
    pub fn record(&self, name: &DomainName) -> Record {
        Record::new_dns(
            name.to_string(),
            RecordType::Txt,
            record_name(name.base()),
            self.text(),
        )
    }

    /// Whether `text` is a value of the same issuer and account (whatever its other parameters).
    pub fn owns(&self, text: &str) -> bool {
        parse(text).is_ok_and(|p| {
            p.issuer == self.issuer && p.account_uri.as_deref() == Some(self.account_uri.as_str())
        })
    }
}

/// `_validation-persist.<name>`.
pub fn record_name(name: &str) -> String {
    format!("{LABEL}.{name}")
}

/// A value read back: the issuer and the parameters dcv-hook and the CAs act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub issuer: String,
    pub account_uri: Option<String>,
    pub wildcard: bool,
    pub until: Option<i64>,
}

/// `text` read as a persistent DCV value; `Err` says what breaks the syntax (RFC 8659 section 4.2)
/// or the record's rules (accounturi required, persistUntil an integer, no parameter twice).
pub fn parse(text: &str) -> std::result::Result<Parsed, String> {
    let mut parts = text.split(';');
    let issuer = parts.next().unwrap_or("").trim_matches([' ', '\t']);
    if issuer.is_empty() {
        return Err("no issuer domain name before the first ';'".into());
    }
    if !issuer.split('.').all(is_ldh_label) {
        return Err(format!("issuer {issuer:?} is not a domain name"));
    }
    let mut parsed = Parsed {
        issuer: issuer.to_ascii_lowercase(),
        account_uri: None,
        wildcard: false,
        until: None,
    };
    let mut seen: Vec<String> = Vec::new();
    for part in parts {
        let part = part.trim_matches([' ', '\t']);
        let Some((tag, value)) = part.split_once('=') else {
            return Err(format!("parameter {part:?} is not tag=value"));
        };
        let (tag, value) = (
            tag.trim_end_matches([' ', '\t']),
            value.trim_start_matches([' ', '\t']),
        );
        if !is_ldh_label(tag) || !value.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(format!("parameter {part:?} breaks the issue-value syntax"));
        }
        let key = tag.to_ascii_lowercase();
        if seen.contains(&key) {
            return Err(format!("parameter {tag} appears twice"));
        }
        seen.push(key.clone());
        read_parameter(&mut parsed, &key, value)?;
    }
    if parsed.account_uri.is_none() {
        return Err("no accounturi parameter (it is required)".into());
    }
    Ok(parsed)
}

/// Takes one known parameter into `parsed`; unknown ones are ignored, as CAs ignore them.
fn read_parameter(parsed: &mut Parsed, key: &str, value: &str) -> std::result::Result<(), String> {
    match key {
        "accounturi" => parsed.account_uri = Some(value.to_string()),
        "policy" => parsed.wildcard = value.eq_ignore_ascii_case("wildcard"),
        "persistuntil" => {
            let t = value
                .parse::<i64>()
                .ok()
                .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("persistUntil={value} is not a base-10 integer"))?;
            parsed.until = Some(t);
        }
        _ => {}
    }
    Ok(())
}

/// RFC 8659's label (and tag): letters and digits, hyphens only inside.
fn is_ldh_label(label: &str) -> bool {
    !label.is_empty()
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// What no part of the value may carry: it would end the value, start a parameter or hide one.
fn smuggles(text: &str) -> bool {
    text.chars().any(|c| {
        c == ';' || c == '"' || c == '\'' || c == '\\' || c.is_whitespace() || c.is_control()
    })
}

/// `--issuer`: a domain name (LDH labels, checked like every other name), in A-label form.
fn check_issuer(text: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::data(format!(
            "--issuer {text:?} is not an issuer domain name ({why}); give the one the CA discloses, e.g. letsencrypt.org"
        ))
    };
    if smuggles(text) {
        return Err(bad("it holds ';', a quote, a space or a control character"));
    }
    let name = DomainName::parse(text).map_err(|e| bad(e.message()))?;
    if name.is_wildcard() {
        return Err(bad("it is a wildcard"));
    }
    Ok(name.to_string())
}

/// `--account-uri`: an https URI with a host, kept exactly as given.
fn check_account_uri(text: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::data(format!(
            "--account-uri {text:?} is not usable ({why}); give the ACME account URL, e.g. https://acme-v02.api.letsencrypt.org/acme/acct/123"
        ))
    };
    if text.is_empty() {
        return Err(bad("it is empty"));
    }
    if smuggles(text) || !text.is_ascii() {
        return Err(bad(
            "it holds ';', a quote, a space, a control or a non-ASCII character",
        ));
    }
    let url = reqwest::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it is not an https URI with a host"));
    }
    Ok(text.to_string())
}

/// `--until`: a date or date-time in the future, as Unix seconds.
fn check_until(text: &str, now: i64) -> Result<i64> {
    let t = crate::dates::parse(text)
        .filter(|_| !smuggles(text.trim()))
        .ok_or_else(|| {
            Error::data(format!(
                "--until {text:?} is not a date (2027-06-30) or date-time (2027-06-30T12:00:00Z)"
            ))
        })?;
    if t <= now {
        return Err(Error::data(format!(
            "--until {text:?} is not in the future; give a later date, or leave --until out"
        )));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const ACCOUNT: &str = "https://acme-v02.api.letsencrypt.org/acme/acct/123";

    #[test]
    fn values_are_built_in_the_documented_order() {
        let v =
            PersistValue::new("LetsEncrypt.org.", ACCOUNT, true, Some("2027-06-30"), NOW).unwrap();
        assert_eq!(
            v.text(),
            format!(
                "letsencrypt.org; accounturi={ACCOUNT}; policy=wildcard; persistUntil=1814313600"
            )
        );
        let plain = PersistValue::new("letsencrypt.org", ACCOUNT, false, None, NOW).unwrap();
        assert_eq!(
            plain.text(),
            format!("letsencrypt.org; accounturi={ACCOUNT}")
        );
        let name = DomainName::parse("*.Example.com").unwrap();
        assert_eq!(v.record(&name).name(), "_validation-persist.example.com");
    }

    #[test]
    fn smuggled_or_malformed_parts_are_65_naming_the_value() {
        let table: &[(&str, &str, Option<&str>, &str)] = &[
            (
                "letsencrypt.org; policy=wildcard",
                ACCOUNT,
                None,
                "--issuer",
            ),
            ("lets\"encrypt.org", ACCOUNT, None, "--issuer"),
            ("*.letsencrypt.org", ACCOUNT, None, "--issuer"),
            ("letsencrypt", ACCOUNT, None, "--issuer"),
            (
                "letsencrypt.org",
                "http://ca.example/acct/1",
                None,
                "--account-uri",
            ),
            (
                "letsencrypt.org",
                "https://ca.example/a;policy=wildcard",
                None,
                "--account-uri",
            ),
            (
                "letsencrypt.org",
                "https://ca.example/a b",
                None,
                "--account-uri",
            ),
            (
                "letsencrypt.org",
                "https://ca.example/a\nb",
                None,
                "--account-uri",
            ),
            (
                "letsencrypt.org",
                "mailto:a@b.example",
                None,
                "--account-uri",
            ),
            ("letsencrypt.org", "", None, "--account-uri"),
            ("letsencrypt.org", ACCOUNT, Some("2020-01-01"), "--until"),
            ("letsencrypt.org", ACCOUNT, Some("soon"), "--until"),
            (
                "letsencrypt.org",
                ACCOUNT,
                Some("2027-01-01;x=y"),
                "--until",
            ),
        ];
        for (issuer, uri, until, flag) in table {
            let e = PersistValue::new(issuer, uri, false, *until, NOW).unwrap_err();
            assert_eq!(e.exit_code(), 65, "{e}");
            assert!(e.message().starts_with(flag), "{e}");
            assert!(!e.message().contains('\n'), "{e:?}");
        }
    }

    #[test]
    fn values_parse_back_per_the_issue_value_syntax() {
        let p = parse(&format!(
            "LetsEncrypt.org ;accounturi={ACCOUNT} ; POLICY=WildCard;persistUntil=1845936000; future=x"
        ))
        .unwrap();
        assert_eq!(p.issuer, "letsencrypt.org");
        assert_eq!(p.account_uri.as_deref(), Some(ACCOUNT));
        assert!(p.wildcard);
        assert_eq!(p.until, Some(1_845_936_000));
        for bad in [
            "",
            "; accounturi=https://a.example/1",
            "letsencrypt.org",
            "letsencrypt.org; policy=wildcard",
            "letsencrypt.org; accounturi=https://a.example/1; persistUntil=+5",
            "letsencrypt.org; accounturi=https://a.example/1; persistUntil=soon",
            "letsencrypt.org; accounturi=https://a.example/1; accounturi=https://a.example/2",
            "letsencrypt.org; accounturi",
            "lets encrypt.org; accounturi=https://a.example/1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let v = PersistValue::new("letsencrypt.org", ACCOUNT, false, None, NOW).unwrap();
        assert!(v.owns(&format!(
            "letsencrypt.org; accounturi={ACCOUNT}; persistUntil=1"
        )));
        assert!(
            !v.owns("letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/9")
        );
        assert!(!v.owns(&format!("other.example; accounturi={ACCOUNT}")));
    }
}
