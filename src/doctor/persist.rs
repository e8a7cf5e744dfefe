//! Persistent DCV records (`_validation-persist.NAME`, BR 3.2.2.4.22, ACME dns-persist-01): what
//! every authoritative server holds at each name (its CNAME followed, as a CA may), judged as the
//! CA will judge it. Per value: its syntax (an RFC 8659 issue-value, `accounturi` required,
//! `persistUntil` an integer; a broken value warns, as the CA passes over it), whether every server serves it (multi-perspective checks reach them
//! all), `persistUntil` past (blocks) or within 30 days (warns), and whether the issuer's CAA lets
//! it issue with `dns-persist-01`; per name, several values for one issuer (warns: an old value
//! left behind, or another account). With `--issuer` and `--account-uri` a missing record of that
//! account blocks and other issuers' values are left out; without them a name with no record (or
//! whose record cannot be looked up) has no finding, so the doctor's other families decide alone.
//! Asks DNS only, changes nothing.

use super::{Finding, QUERY_TIMEOUT, Severity, caa, unique};
use crate::context::Context;
use crate::persist::{self, EXPIRY_WARNING, Parsed, PersistValue};
use crate::propagation::dns::{DnsCheck, Held};
use crate::resolver::Resolver;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The persistent-record findings at `base` (a name validated, or a wildcard's base).
pub fn check(ctx: &Context, resolver: &Arc<Resolver>, base: &str) -> Vec<Finding> {
    let (wanted, now) = (ctx.cfg.persist.as_ref(), crate::dates::now());
    let start = persist::record_name(base);
    let held = resolver.follow_cname(&start).and_then(|name| {
        DnsCheck::new(resolver.clone(), QUERY_TIMEOUT)
            .txt_everywhere(&name)
            .map(|held| (name, held))
    });
    // Not asked about a record (no --issuer), a name that cannot be looked up has none to judge.
    let (name, held) = match held {
        Ok(found) => found,
        Err(e) if wanted.is_some() => return vec![Finding::unchecked(start, &e).about(base)],
        Err(e) => {
            crate::ui::verbose(&format!("doctor: {start} not looked up ({e})"));
            return Vec::new();
        }
    };
    let values = relevant(&held, wanted);
    if wanted.is_none() && values.is_empty() {
        return Vec::new();
    }
    let mut findings = unreachable(&held);
    if let Some(w) = wanted
        && !values.iter().any(|(v, _)| w.owns(v))
    {
        findings.push(missing(&name, w));
    }
    for (text, parsed) in &values {
        findings.extend(judge_value(resolver, &name, text, parsed, &held, now));
    }
    findings.extend(conflicts(&name, &values));
    findings.into_iter().map(|f| f.about(base)).collect()
}

/// Each server that could not be asked: nothing is known of what it serves.
fn unreachable(held: &[Held]) -> Vec<Finding> {
    held.iter()
        .filter_map(|h| {
            let why = h.txt.as_ref().err()?;
            Some(Finding::new(
                "persist.unchecked",
                Severity::Unchecked,
                h.server.clone(),
                format!("could not be asked: {why}"),
                "make the nameserver reachable from here, then run doctor again",
            ))
        })
        .collect()
}

/// Every value some server holds, read (`Err`: why it is no valid record), those of other issuers
/// left out when an issuer is wanted.
fn relevant(held: &[Held], wanted: Option<&PersistValue>) -> Vec<(String, Result<Parsed, String>)> {
    let texts = held.iter().filter_map(|h| h.txt.as_ref().ok()).flatten();
    // The issuer read as loosely as a CA filters records by it (as CAA's issuer-domain).
    let of_wanted_issuer =
        |text: &&String| wanted.is_none_or(|w| w.issuer == caa::issuer(text.as_bytes()).0);
    let texts = unique(texts.filter(of_wanted_issuer));
    texts
        .into_iter()
        .map(|text| (text.clone(), persist::parse(text)))
        .collect()
}

fn missing(name: &str, w: &PersistValue) -> Finding {
    Finding::new(
        "persist.missing",
        Severity::Blocks,
        name,
        format!(
            "no record of {} for account {} (the CA will find nothing to validate with)",
            w.issuer, w.account_uri
        ),
        format!(
            "publish it: dcv-hook persist -d NAME --issuer {} --account-uri {} --provider ...",
            w.issuer, w.account_uri
        ),
    )
}

/// The findings for one value: its syntax, the servers that lack it, its persistUntil, CAA.
fn judge_value(
    resolver: &Resolver,
    name: &str,
    text: &str,
    parsed: &Result<Parsed, String>,
    held: &[Held],
    now: i64,
) -> Vec<Finding> {
    let subject = format!("{name} TXT {text:?}");
    let p = match parsed {
        Ok(p) => p,
        Err(why) => {
            // The CA passes over it to the next value; with --issuer, persist.missing says when
            // no usable one is left.
            return vec![Finding::new(
                "persist.syntax",
                Severity::Warns,
                subject,
                format!("not a valid persistent DCV value: {why}"),
                "publish `<issuer>; accounturi=<uri>[; policy=wildcard][; persistUntil=<unix seconds>]` (dcv-hook persist does)",
            )];
        }
    };
    let mut findings = lacking(&subject, text, held);
    findings.extend(expiry(&subject, p, now));
    findings.extend(caa_for(resolver, name, p));
    if findings.is_empty() {
        let servers = held.iter().filter(|h| h.txt.is_ok()).count();
        findings.push(Finding::ok("persist.ok", subject, format!(
                "served by all {servers} authoritative server(s); CAA lets {} issue with dns-persist-01{}",
                p.issuer,
                p.until
                    .map(|t| format!("; persistUntil {}", crate::dates::format_date(t)))
                    .unwrap_or_default()
            )));
    }
    findings
}

/// One finding per server that answered without `text`.
fn lacking(subject: &str, text: &str, held: &[Held]) -> Vec<Finding> {
    held.iter()
        .filter(|h| h.txt.as_ref().is_ok_and(|t| !t.iter().any(|v| v == text)))
        .map(|h| {
            Finding::new(
                "persist.not_everywhere",
                Severity::Blocks,
                h.server.clone(),
                format!("does not serve {subject} (a CA's perspective asking it fails)"),
                "let the zone transfer reach this server (check its SOA serial), or publish again and wait: dcv-hook persist waits for every server",
            )
        })
        .collect()
}

/// persistUntil past (blocks) or within [`EXPIRY_WARNING`] (warns).
fn expiry(subject: &str, p: &Parsed, now: i64) -> Option<Finding> {
    let until = p.until?;
    let date = crate::dates::format_date(until);
    if until <= now {
        return Some(Finding::new(
            "persist.expired",
            Severity::Blocks,
            subject,
            format!("persistUntil {until} ({date}) has passed: the CA no longer uses this record"),
            "publish it again with a later --until (dcv-hook persist replaces the old value)",
        ));
    }
    if until - now <= EXPIRY_WARNING {
        return Some(Finding::new(
            "persist.expires_soon",
            Severity::Warns,
            subject,
            format!("persistUntil {until} ({date}) is within 30 days"),
            "publish it again with a later --until before then",
        ));
    }
    None
}

/// Whether the issuer's CAA at the name being validated lets it issue with dns-persist-01 (and for
/// wildcards too when the record says policy=wildcard).
fn caa_for(resolver: &Resolver, name: &str, p: &Parsed) -> Vec<Finding> {
    let base = name
        .strip_prefix(persist::LABEL)
        .and_then(|n| n.strip_prefix('.'))
        .unwrap_or(name);
    let set = match caa::relevant_set(resolver, base) {
        Ok(Some(set)) => set,
        Ok(None) => return Vec::new(),
        Err(e) => return vec![Finding::unchecked(format!("CAA {base}"), &e)],
    };
    let ids = [p.issuer.clone()];
    let scopes: &[bool] = if p.wildcard { &[false, true] } else { &[false] };
    scopes
        .iter()
        .map(|wild| caa::judge(&set.0, &set.1, *wild, &ids, Some("dns-persist-01")))
        .filter(|f| f.severity == Severity::Blocks)
        .map(|f| Finding {
            code: "persist.caa_forbids",
            ..f
        })
        .collect()
}

/// Several values for one issuer: the CA takes any that matches its account, so an old value left
/// behind, or another account's, is worth a look.
fn conflicts(name: &str, values: &[(String, Result<Parsed, String>)]) -> Vec<Finding> {
    let mut by_issuer: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (text, parsed) in values {
        if let Ok(p) = parsed {
            by_issuer.entry(&p.issuer).or_default().push(text);
        }
    }
    by_issuer
        .into_iter()
        .filter(|(_, same)| same.len() > 1)
        .map(|(issuer, same)| {
            Finding::new(
                "persist.conflict",
                Severity::Warns,
                name,
                format!("{} values for {issuer}: {}", same.len(), same.join(" | ")),
                "keep one value per issuer and account: remove the others (dcv-hook persist --remove for a value of yours)",
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (String, Result<Parsed, String>) {
        (text.to_string(), persist::parse(text))
    }

    #[test]
    fn persist_until_past_blocks_and_near_warns() {
        let now = 1_800_000_000;
        let at = |t: i64| Parsed {
            issuer: "letsencrypt.org".into(),
            account_uri: Some("https://a.example/1".into()),
            wildcard: false,
            until: Some(t),
        };
        assert_eq!(
            expiry("s", &at(now - 1), now).unwrap().code,
            "persist.expired"
        );
        assert_eq!(
            expiry("s", &at(now + 86_400), now).unwrap().code,
            "persist.expires_soon"
        );
        assert!(expiry("s", &at(now + 31 * 86_400), now).is_none());
    }

    #[test]
    fn several_values_of_one_issuer_conflict() {
        let values = vec![
            parsed("letsencrypt.org; accounturi=https://a.example/1"),
            parsed("letsencrypt.org; accounturi=https://a.example/2"),
            parsed("other.example; accounturi=https://a.example/1"),
            parsed("garbage"),
        ];
        let found = conflicts("n", &values);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].seen.starts_with("2 values for letsencrypt.org"));
        assert!(conflicts("n", &values[1..]).is_empty());
    }
}
