//! CAA (RFC 8659): may the CA issue for each name? The relevant record set is the first non-empty
//! CAA set found climbing from the name toward the root (the resolver follows CNAMEs at each step);
//! `issuewild` governs a wildcard when the set has one, else `issue`; an unknown tag marked critical
//! forbids issuance; RFC 8657's `validationmethods` parameter is honoured for ACME challenges.
//!
//! The CA is DigiCert (its identifiers from its CP/CPS section 4.2) or, in ACME mode,
//! `--ca-identifier` (default letsencrypt.org). Asks the resolver only.

use super::{Finding, Severity, Subject};
use crate::resolver::{self, Resolver};
use hickory_proto::rr::rdata::CAA;
use hickory_proto::rr::{RData, RecordType};

/// The issuer domains DigiCert recognises in CAA (TLS CP/CPS 4.2); subdomains of
/// digitalcertvalidation.com too.
pub const DIGICERT_IDENTIFIERS: &[&str] = &[
    "digicert.com",
    "www.digicert.com",
    "digicert.ne.jp",
    "cybertrust.ne.jp",
    "symantec.com",
    "thawte.com",
    "geotrust.com",
    "rapidssl.com",
    "quovadisglobal.com",
    "digitalcertvalidation.com",
    "amazon.com",
    "amazontrust.com",
    "awstrust.com",
    "amazonaws.com",
];

/// Tags a CA understands; any other tag with the critical flag forbids issuance (RFC 8659 4.1).
const KNOWN_TAGS: &[&str] = &[
    "issue",
    "issuewild",
    "iodef",
    "contactemail",
    "contactphone",
    "issuemail",
    "issuevmc",
];

/// The CAA finding for `s`'s name (the caller asks once per name).
pub fn check_one(resolver: &Resolver, s: &Subject, ca: Option<&str>) -> Finding {
    let identifiers: Vec<String> = match (ca, s.acme) {
        (Some(ca), _) => vec![ca.to_ascii_lowercase()],
        (None, true) => vec![super::DEFAULT_ACME_CA.to_string()],
        (None, false) => DIGICERT_IDENTIFIERS.iter().map(|s| s.to_string()).collect(),
    };
    let method = match (s.acme, s.record.is_dns()) {
        (false, _) => None,
        (true, true) => Some("dns-01"),
        (true, false) => Some("http-01"),
    };
    let finding = match relevant_set(resolver, s.base()) {
        Ok(None) => Finding::ok(
            "caa.ok",
            s.base(),
            format!(
                "no CAA record at {} or any parent: any CA may issue",
                s.base()
            ),
        ),
        Ok(Some((owner, set))) => judge(&owner, &set, s.is_wildcard(), &identifiers, method),
        Err(e) => Finding::unchecked(format!("CAA {}", s.base()), &e),
    };
    finding.about(&s.record.domain)
}

/// The first non-empty CAA set climbing from `name`, with the name it was found at.
pub(super) fn relevant_set(
    resolver: &Resolver,
    name: &str,
) -> crate::error::Result<Option<(String, Vec<CAA>)>> {
    let mut current = resolver::normalize(name);
    // Above the name's own zone a failed lookup (a lab resolver that only knows its zones, a TLD
    // that refuses) is taken as no CAA: TLDs publish none.
    let apex = resolver.find_zone(&current).ok();
    loop {
        let answer = match resolver.lookup(&current, RecordType::CAA) {
            Ok(answer) => answer,
            Err(e)
                if apex
                    .as_ref()
                    .is_some_and(|a| a.ends_with(&current) && *a != current) =>
            {
                crate::ui::verbose(&format!(
                    "doctor: CAA at {current} not known ({e}); taken as none"
                ));
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let set: Vec<CAA> = answer
            .into_iter()
            .filter_map(|r| match r.data {
                RData::CAA(caa) => Some(caa),
                _ => None,
            })
            .collect();
        if !set.is_empty() {
            return Ok(Some((current, set)));
        }
        match current.split_once('.') {
            Some((_, parent)) if !parent.is_empty() => current = parent.to_string(),
            _ => return Ok(None),
        }
    }
}

/// The issuer domain and parameters of an issue/issuewild value (`digicert.com; a=b`); an empty
/// domain (`;`) allows no CA.
pub(super) fn issuer(value: &[u8]) -> Issuer {
    let text = String::from_utf8_lossy(value);
    let mut parts = text.split(';');
    let domain = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (domain, params)
}

fn allowed_issuer(domain: &str, identifiers: &[String]) -> bool {
    let domain = domain.trim_end_matches('.');
    identifiers.iter().any(|id| {
        domain == id
            || (id == "digitalcertvalidation.com" && domain.ends_with(".digitalcertvalidation.com"))
    })
}

/// Whether `set` (found at `owner`) lets one of `identifiers` issue for the name.
pub(super) fn judge(
    owner: &str,
    set: &[CAA],
    wildcard: bool,
    identifiers: &[String],
    method: Option<&str>,
) -> Finding {
    let subject = format!("{owner} CAA");
    if let Some(bad) = set
        .iter()
        .find(|c| c.issuer_critical && !KNOWN_TAGS.contains(&c.tag.to_ascii_lowercase().as_str()))
    {
        return Finding::new(
            "caa.critical_unknown",
            Severity::Blocks,
            subject,
            format!(
                "tag {:?} is marked critical and no CA knows it: no CA may issue",
                bad.tag
            ),
            "clear the critical flag (128) of that record, or remove it",
        );
    }
    let issuers_of = |tag: &str| -> Vec<Issuer> {
        set.iter()
            .filter(|c| c.tag.eq_ignore_ascii_case(tag))
            .map(|c| issuer(&c.value))
            .collect()
    };
    let wild = issuers_of("issuewild");
    let (tag, issuers) = if wildcard && !wild.is_empty() {
        ("issuewild", wild)
    } else {
        ("issue", issuers_of("issue"))
    };
    if issuers.is_empty() {
        return Finding::ok(
            "caa.ok",
            subject,
            format!("CAA at {owner} has no {tag} property: any CA may issue"),
        );
    }
    judge_issuers(owner, tag, subject, &issuers, identifiers, method)
}

/// An issuer domain and its parameters.
pub(super) type Issuer = (String, Vec<(String, String)>);

/// Whether one of the `issuers` of the `tag` property at `owner` is one of `identifiers`, and
/// allows `method`.
fn judge_issuers(
    owner: &str,
    tag: &str,
    subject: String,
    issuers: &[Issuer],
    identifiers: &[String],
    method: Option<&str>,
) -> Finding {
    let listed: Vec<&str> = issuers
        .iter()
        .map(|(d, _)| if d.is_empty() { "none (\";\")" } else { d })
        .collect();
    let ours: Vec<&Issuer> = issuers
        .iter()
        .filter(|(d, _)| allowed_issuer(d, identifiers))
        .collect();
    let ca = identifiers.first().cloned().unwrap_or_default();
    if ours.is_empty() {
        return Finding::new(
            "caa.forbids",
            Severity::Blocks,
            subject,
            format!("{tag} allows only {}, not {ca}", listed.join(", ")),
            format!("add `{owner}. CAA 0 {tag} \"{ca}\"` beside the others"),
        );
    }
    if let Some(method) = method
        && !ours.iter().any(|(_, p)| permits(p, method))
    {
        return Finding::new(
            "caa.method_forbidden",
            Severity::Blocks,
            subject,
            format!("{tag} for {ca} allows other validationmethods than {method}"),
            format!("add {method} to validationmethods of the {ca} record"),
        );
    }
    Finding::ok(
        "caa.ok",
        subject,
        format!("{tag} allows {}", listed.join(", ")),
    )
}

/// Whether an issuer's `params` allow `method` (no validationmethods allows every method).
fn permits(params: &[(String, String)], method: &str) -> bool {
    params
        .iter()
        .find(|(k, _)| k == "validationmethods")
        .is_none_or(|(_, v)| v.split(',').any(|m| m.trim() == method))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caa(critical: bool, tag: &str, value: &str) -> CAA {
        let mut c = CAA::new_issue(false, None, vec![]);
        c.issuer_critical = critical;
        c.tag = tag.to_string();
        c.value = value.as_bytes().to_vec();
        c
    }

    fn digicert() -> Vec<String> {
        DIGICERT_IDENTIFIERS.iter().map(|s| s.to_string()).collect()
    }

    type Case<'a> = (Vec<CAA>, bool, &'a [String], Option<&'a str>, &'a str);

    /// Judges each case's record set (wildcard or not, for the CA identifiers and ACME method
    /// given) and checks the finding's code.
    fn assert_judged(table: Vec<Case>) {
        for (set, wildcard, ids, method, want) in table {
            let f = judge("example.com", &set, wildcard, ids, method);
            assert_eq!(f.code, want, "{set:?} wildcard={wildcard}: {}", f.line());
        }
    }

    #[test]
    fn issue_names_the_cas_that_may_issue() {
        let dc = digicert();
        assert_judged(vec![
            (
                vec![caa(false, "issue", "digicert.com")],
                false,
                &dc,
                None,
                "caa.ok",
            ),
            (
                vec![caa(false, "issue", "letsencrypt.org")],
                false,
                &dc,
                None,
                "caa.forbids",
            ),
            (
                vec![caa(false, "issue", "x.digitalcertvalidation.com")],
                false,
                &dc,
                None,
                "caa.ok",
            ),
            (
                vec![caa(false, "issue", ";")],
                false,
                &dc,
                None,
                "caa.forbids",
            ),
        ]);
    }

    #[test]
    fn other_tags_are_ignored_unless_critical() {
        let dc = digicert();
        assert_judged(vec![
            (
                vec![caa(false, "iodef", "mailto:a@b")],
                false,
                &dc,
                None,
                "caa.ok",
            ),
            (
                vec![caa(true, "future", "x")],
                false,
                &dc,
                None,
                "caa.critical_unknown",
            ),
            (
                vec![
                    caa(false, "future", "x"),
                    caa(false, "issue", "digicert.com"),
                ],
                false,
                &dc,
                None,
                "caa.ok",
            ),
        ]);
    }

    #[test]
    fn issuewild_governs_wildcards_when_present_issue_otherwise() {
        let dc = digicert();
        assert_judged(vec![
            (
                vec![
                    caa(false, "issue", "digicert.com"),
                    caa(false, "issuewild", ";"),
                ],
                true,
                &dc,
                None,
                "caa.forbids",
            ),
            (
                vec![
                    caa(false, "issue", "digicert.com"),
                    caa(false, "issuewild", ";"),
                ],
                false,
                &dc,
                None,
                "caa.ok",
            ),
            (
                vec![caa(false, "issue", "digicert.com")],
                true,
                &dc,
                None,
                "caa.ok",
            ),
        ]);
    }

    #[test]
    fn validationmethods_limits_the_acme_challenge() {
        let le = vec!["letsencrypt.org".to_string()];
        assert_judged(vec![
            (
                vec![caa(
                    false,
                    "issue",
                    "letsencrypt.org; validationmethods=http-01",
                )],
                false,
                &le,
                Some("dns-01"),
                "caa.method_forbidden",
            ),
            (
                vec![caa(
                    false,
                    "issue",
                    "letsencrypt.org; validationmethods=dns-01,http-01",
                )],
                false,
                &le,
                Some("dns-01"),
                "caa.ok",
            ),
        ]);
    }
}
