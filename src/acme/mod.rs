//! ACME vocabulary: the challenges an ACME client (certbot, lego, dehydrated, uacme, acme.sh) hands
//! its hook, read from flags or certbot's environment, and the records that answer them. No I/O
//! beyond the environment; the token source that publishes them is `source/acme.rs`.
//!
//! dns-01: TXT `_acme-challenge.NAME` = value (`*.NAME` at `_acme-challenge.NAME`), or at the exact
//! name given with `--acme-fqdn` (lego exec and acme.sh pass the record name itself); a CNAME there is
//! followed by `auth` like any TXT name. http-01 (a token given): the file
//! `.well-known/acme-challenge/TOKEN` holding the key authorization, checked on every address.
//!
//! Challenges come from `--acme-value` (repeatable, the i-th value paired with the i-th `--domain` or
//! `--acme-fqdn` and the i-th `--acme-token`) or from certbot's environment (`CERTBOT_DOMAIN`,
//! `CERTBOT_VALIDATION`, `CERTBOT_TOKEN`). certbot calls its auth hook once per name and asks the CA
//! only after the last one, so its calls form a batch: while `CERTBOT_REMAINING_CHALLENGES` > 0 a call
//! publishes and returns; the call that sees 0 waits for every record of the run at once. `verify`
//! succeeds at once: the ACME client asks its own CA.

mod certbot;

pub use certbot::certbot_batch_key;

use crate::dcv::DomainName;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::record::{HttpUrl, Place, Record, RecordType};

/// The owner-name prefix of a dns-01 TXT record (RFC 8555 section 8.4).
const DNS01_PREFIX: &str = "_acme-challenge.";
/// Where an http-01 file is served (RFC 8555 section 8.3).
const HTTP01_PATH: &str = "/.well-known/acme-challenge/";

/// One call of a batched ACME client run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Names the run in the state (`AcmeSource::batch`).
    pub key: String,
    /// Challenges still to come after this one: publish and return while above 0, and wait for
    /// every record of the run on the call that sees 0.
    pub remaining: u32,
}

/// What an ACME client asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcmeTarget {
    pub challenges: Vec<Challenge>,
    /// Set for certbot, whose hook calls form one run.
    pub batch: Option<Batch>,
}

/// One challenge: a name and the value that proves control of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The identifier being validated, as reported (`*.example.com`, `example.com`).
    pub domain: String,
    pub kind: ChallengeKind,
    /// dns-01: the TXT value; http-01: the key authorization (the file's content).
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChallengeKind {
    /// dns-01 at this TXT owner name (lowercase, no trailing dot).
    Dns { txt_name: String },
    /// http-01 with this token (the file name).
    Http { token: String },
}

impl Challenge {
    /// The record that answers this challenge.
    pub fn record(&self) -> Record {
        let at = match &self.kind {
            ChallengeKind::Dns { txt_name } => Place::Dns {
                rtype: RecordType::Txt,
                name: txt_name.clone(),
            },
            ChallengeKind::Http { token } => Place::Http(HttpUrl {
                host: self.domain.trim_start_matches("*.").to_string(),
                path: format!("{HTTP01_PATH}{token}"),
            }),
        };
        Record {
            domain: self.domain.clone(),
            at,
            value: self.value.clone(),
        }
    }

    pub fn is_http(&self) -> bool {
        matches!(self.kind, ChallengeKind::Http { .. })
    }
}

/// The flags that say what an ACME client asked for.
pub struct AcmeFlags<'a> {
    pub values: &'a [String],
    pub tokens: &'a [String],
    pub fqdns: &'a [String],
    pub domains: &'a [DomainName],
    /// `--order-id` or `--domain-id` was given: CertCentral mode, whatever certbot's env says.
    pub certcentral_target: bool,
}

/// The ACME target the flags or certbot's environment describe, or `None` outside host-tool mode.
pub fn from_flags_and_env(flags: &AcmeFlags, env: &dyn Env) -> Result<Option<AcmeTarget>> {
    if !flags.values.is_empty() {
        return from_flags(flags).map(Some);
    }
    if !flags.tokens.is_empty() || !flags.fqdns.is_empty() {
        return Err(Error::usage(
            "--acme-token and --acme-fqdn need --acme-value VALUE (the value the ACME client gave)",
        ));
    }
    if flags.certcentral_target {
        return Ok(None);
    }
    certbot::from_env(env)
}

fn from_flags(flags: &AcmeFlags) -> Result<AcmeTarget> {
    let n = flags.values.len();
    if !flags.fqdns.is_empty() && !flags.domains.is_empty() {
        return Err(Error::usage(
            "give --domain NAME or --acme-fqdn FQDN for each --acme-value, not both",
        ));
    }
    let names = if flags.fqdns.is_empty() {
        flags.domains.len()
    } else {
        flags.fqdns.len()
    };
    if names != n {
        return Err(Error::usage(format!(
            "--acme-value is given {n} time(s) but --domain/--acme-fqdn {names} time(s); give one name per value, in the same order"
        )));
    }
    if !flags.tokens.is_empty() && flags.tokens.len() != n {
        return Err(Error::usage(format!(
            "--acme-token is given {} time(s) but --acme-value {n} time(s); give one token per http-01 value, in the same order",
            flags.tokens.len()
        )));
    }
    if !flags.fqdns.is_empty() && !flags.tokens.is_empty() {
        return Err(Error::usage(
            "--acme-fqdn names a dns-01 TXT record; an http-01 challenge (--acme-token) needs --domain NAME",
        ));
    }
    let mut challenges = Vec::with_capacity(n);
    for (i, value) in flags.values.iter().enumerate() {
        let challenge = match (flags.fqdns.get(i), flags.domains.get(i)) {
            (Some(fqdn), _) => dns_at_fqdn(fqdn, value)?,
            (None, Some(domain)) => {
                challenge(domain, value, flags.tokens.get(i).map(|t| t.as_str()))?
            }
            (None, None) => unreachable!("counts were checked above"),
        };
        challenges.push(challenge);
    }
    Ok(AcmeTarget {
        challenges,
        batch: None,
    })
}

/// The challenge for `domain`: http-01 when a token is given, else dns-01 at `_acme-challenge`.
pub(crate) fn challenge(
    domain: &DomainName,
    value: &str,
    token: Option<&str>,
) -> Result<Challenge> {
    check_value(value)?;
    let kind = match token {
        Some(token) => {
            check_http_token(token)?;
            if domain.is_wildcard() {
                return Err(Error::data(format!(
                    "{domain} is a wildcard, which http-01 cannot validate; use dns-01"
                )));
            }
            ChallengeKind::Http {
                token: token.to_string(),
            }
        }
        None => ChallengeKind::Dns {
            txt_name: format!("{DNS01_PREFIX}{}", domain.base()),
        },
    };
    Ok(Challenge {
        domain: domain.to_string(),
        kind,
        value: value.to_string(),
    })
}

/// dns-01 at the exact TXT name an ACME client computed (it may have followed a CNAME already).
fn dns_at_fqdn(fqdn: &str, value: &str) -> Result<Challenge> {
    check_value(value)?;
    let txt_name = check_record_name(fqdn)?;
    // Reported as the name being validated when the client used the usual prefix.
    let domain = txt_name
        .strip_prefix(DNS01_PREFIX)
        .unwrap_or(&txt_name)
        .to_string();
    Ok(Challenge {
        domain,
        kind: ChallengeKind::Dns { txt_name },
        value: value.to_string(),
    })
}

/// A DNS owner name as ACME clients pass it: letters, digits, '-' and '_' in each label, a trailing
/// dot allowed; returned lowercase without the dot.
fn check_record_name(text: &str) -> Result<String> {
    let name = crate::record::normalize_name(text);
    let bad = |why: &str| {
        Error::data(format!(
            "--acme-fqdn {text:?}: {why}; give the TXT record name, e.g. _acme-challenge.example.com"
        ))
    };
    if name.is_empty() || name.len() > 253 {
        return Err(bad("it is empty or longer than 253 characters"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("it needs at least two labels"));
    }
    for label in labels {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("a label is empty or longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad(&format!(
                "label {label:?} has characters other than letters, digits, '-' and '_'"
            )));
        }
    }
    Ok(name)
}

/// ACME values are base64url (RFC 8555); anything printable without spaces or quotes is accepted.
fn check_value(value: &str) -> Result<()> {
    if crate::dcv::is_plain_value(value) {
        Ok(())
    } else {
        Err(Error::data(format!(
            "the ACME value {:?} is not usable (empty, too long, or has spaces or quotes); pass the value the ACME client gave",
            value.chars().take(40).collect::<String>()
        )))
    }
}

/// An http-01 token becomes a file name: base64url characters only (RFC 8555 section 8.3).
fn check_http_token(token: &str) -> Result<()> {
    let ok = !token.is_empty()
        && token.len() <= 255
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::data(format!(
            "the http-01 token {:?} is not base64url (letters, digits, '-', '_'); pass the token the ACME client gave",
            token.chars().take(40).collect::<String>()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::FakeEnv;

    fn env(pairs: &[(&'static str, &'static str)]) -> FakeEnv {
        FakeEnv(pairs.iter().copied().collect())
    }

    fn flags<'a>(
        values: &'a [String],
        tokens: &'a [String],
        fqdns: &'a [String],
        domains: &'a [DomainName],
    ) -> AcmeFlags<'a> {
        AcmeFlags {
            values,
            tokens,
            fqdns,
            domains,
            certcentral_target: false,
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn dns01_goes_to_acme_challenge_and_a_wildcard_to_its_base() {
        let domains = vec![
            DomainName::parse("Example.test").unwrap(),
            DomainName::parse("*.example.test").unwrap(),
        ];
        let values = s(&["v1", "v2"]);
        let t = from_flags_and_env(&flags(&values, &[], &[], &domains), &env(&[]))
            .unwrap()
            .unwrap();
        let records: Vec<Record> = t.challenges.iter().map(Challenge::record).collect();
        assert_eq!(records[0].name(), "_acme-challenge.example.test");
        assert_eq!(records[1].name(), "_acme-challenge.example.test");
        assert_eq!(records[1].domain, "*.example.test");
        assert_eq!(records[1].value, "v2");
        assert_eq!(records[0].dns_type(), Some(RecordType::Txt));
    }

    #[test]
    fn http01_is_a_file_under_acme_challenge() {
        let domains = vec![DomainName::parse("www.example.test").unwrap()];
        let (values, tokens) = (s(&["tok.keyauth"]), s(&["tok_-1"]));
        let t = from_flags_and_env(&flags(&values, &tokens, &[], &domains), &env(&[]))
            .unwrap()
            .unwrap();
        let r = t.challenges[0].record();
        let url = r.http().unwrap();
        assert_eq!(
            (url.host.as_str(), url.path.as_str()),
            ("www.example.test", "/.well-known/acme-challenge/tok_-1")
        );
        assert_eq!(
            r.name(),
            "http://www.example.test/.well-known/acme-challenge/tok_-1"
        );
        assert_eq!(r.value, "tok.keyauth");
    }

    #[test]
    fn fqdn_is_taken_as_the_record_name() {
        let (values, fqdns) = (s(&["v"]), s(&["_acme-challenge.Shop.example.test."]));
        let t = from_flags_and_env(&flags(&values, &[], &fqdns, &[]), &env(&[]))
            .unwrap()
            .unwrap();
        let r = t.challenges[0].record();
        assert_eq!(r.name(), "_acme-challenge.shop.example.test");
        assert_eq!(r.domain, "shop.example.test");
    }

    #[test]
    fn bad_flag_combinations_and_values_are_refused() {
        let d = |n: &str| DomainName::parse(n).unwrap();
        let one = vec![d("a.example.test")];
        let two = vec![d("a.example.test"), d("b.example.test")];
        // values, tokens, fqdns, domains, expected text of the error
        type Case = (
            Vec<String>,
            Vec<String>,
            Vec<String>,
            Vec<DomainName>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (s(&["v1", "v2"]), vec![], vec![], one.clone(), "--domain"),
            (s(&["v1"]), vec![], vec![], two.clone(), "--domain"),
            (
                s(&["v1", "v2"]),
                s(&["t"]),
                vec![],
                two.clone(),
                "--acme-token",
            ),
            (
                s(&["v"]),
                vec![],
                s(&["_acme-challenge.a.test"]),
                one.clone(),
                "not both",
            ),
            (s(&["has space"]), vec![], vec![], one.clone(), "not usable"),
            (s(&["v"]), s(&["../etc"]), vec![], one.clone(), "base64url"),
            (
                s(&["v"]),
                s(&["t"]),
                vec![],
                vec![d("*.a.test")],
                "wildcard",
            ),
            (s(&["v"]), vec![], s(&["a/b.test"]), vec![], "--acme-fqdn"),
            (vec![], s(&["t"]), vec![], one.clone(), "need --acme-value"),
        ];
        for (values, tokens, fqdns, domains, want) in cases {
            let err = from_flags_and_env(&flags(&values, &tokens, &fqdns, &domains), &env(&[]))
                .unwrap_err();
            assert!(
                err.message().contains(want),
                "{values:?} {tokens:?} {fqdns:?}: {err}"
            );
        }
    }

    #[test]
    fn certbot_env_needs_both_variables_and_names_the_missing_one() {
        let none = flags(&[], &[], &[], &[]);
        let err = from_flags_and_env(&none, &env(&[("CERTBOT_VALIDATION", "v")])).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Usage);
        assert!(err.message().contains("CERTBOT_DOMAIN is not"), "{err}");
        let err = from_flags_and_env(&none, &env(&[("CERTBOT_DOMAIN", "a.test")])).unwrap_err();
        assert!(err.message().contains("CERTBOT_VALIDATION is not"), "{err}");
        assert_eq!(from_flags_and_env(&none, &env(&[])).unwrap(), None);
    }

    #[test]
    fn certbot_env_is_a_batch_counting_down() {
        let none = flags(&[], &[], &[], &[]);
        let t = from_flags_and_env(
            &none,
            &env(&[
                ("CERTBOT_DOMAIN", "b.example.test"),
                ("CERTBOT_VALIDATION", "val"),
                ("CERTBOT_REMAINING_CHALLENGES", "2"),
                ("CERTBOT_ALL_DOMAINS", "b.example.test,a.example.test"),
            ]),
        )
        .unwrap()
        .unwrap();
        let batch = t.batch.unwrap();
        assert_eq!(batch.remaining, 2);
        assert!(
            batch.key.ends_with("a.example.test,b.example.test"),
            "{}",
            batch.key
        );
        assert_eq!(
            certbot_batch_key("B.test, a.test", "pg7@9"),
            "certbot pg7@9 a.test,b.test"
        );
    }

    #[test]
    fn a_certcentral_target_ignores_certbot_env() {
        let mut f = flags(&[], &[], &[], &[]);
        f.certcentral_target = true;
        let e = env(&[("CERTBOT_DOMAIN", "a.test"), ("CERTBOT_VALIDATION", "v")]);
        assert_eq!(from_flags_and_env(&f, &e).unwrap(), None);
    }
}
