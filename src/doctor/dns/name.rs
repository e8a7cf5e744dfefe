//! What the challenge name (the end of its CNAME chain) holds now on an authoritative server of its
//! zone: stale DCV values, a CNAME beside TXT records, TXT where DigiCert's CNAME must go, an
//! answer too big for UDP. Asks one server; never changes anything.

use crate::dnsquery::{self, txt_text};
use crate::doctor::{Finding, QUERY_TIMEOUT, Severity, Subject};
use crate::resolver;
use hickory_proto::rr::{Name, RData, RecordType};
use std::net::{IpAddr, SocketAddr};

/// What the challenge name holds now on `ns` at `addr`, an authoritative server of its zone.
pub(super) fn check_name(subject: &Subject, end: &str, ns: &str, addr: IpAddr) -> Vec<Finding> {
    let mut findings = Vec::new();
    let Ok(name) = resolver::fqdn(end) else {
        return findings;
    };
    let label = format!("{ns} ({addr})");
    let Some((held, truncated)) = Held::ask(SocketAddr::new(addr, 53), &name) else {
        return findings;
    };
    if truncated {
        findings.push(Finding::new(
            "dns.answer.too_big",
            Severity::Warns,
            format!("{end} TXT at {label}"),
            "the answer does not fit a 1232-byte UDP message (TC set): CAs must retry over TCP",
            "remove old TXT values at the name so the answer fits UDP",
        ));
    }
    // Diagnosing DigiCert's "not validated" the token is not known, and the one published is
    // among what is there: nothing can be called stale then.
    let token_unknown = subject.published && subject.record.value.is_empty();
    if subject.record.dns_type() == Some(crate::record::RecordType::Cname) {
        findings.extend(held.judge_cname_place(subject, end, token_unknown));
    } else {
        findings.extend(held.judge_txt_place(subject, end, &label, token_unknown));
    }
    findings
}

/// What a challenge name holds: its CNAME target and TXT values.
struct Held {
    cname: Option<String>,
    txts: Vec<String>,
}

impl Held {
    /// Asks `server` for the TXT at `name` (over TCP again when UDP is truncated); also says
    /// whether UDP was truncated. `None` when the server does not answer.
    fn ask(server: SocketAddr, name: &Name) -> Option<(Held, bool)> {
        let answer =
            dnsquery::query_over(server, name, RecordType::TXT, QUERY_TIMEOUT, false).ok()?;
        let truncated = answer.metadata.truncation;
        let full = if truncated {
            dnsquery::query_over(server, name, RecordType::TXT, QUERY_TIMEOUT, true)
                .unwrap_or(answer)
        } else {
            answer
        };
        let at_name = || full.answers.iter().filter(|r| r.name == *name);
        let held = Held {
            cname: at_name().find_map(|r| match &r.data {
                RData::CNAME(c) => Some(resolver::normalize(&c.0.to_ascii())),
                _ => None,
            }),
            txts: at_name()
                .filter_map(|r| match &r.data {
                    RData::TXT(t) => Some(txt_text(t)),
                    _ => None,
                })
                .collect(),
        };
        Some((held, truncated))
    }

    /// dns-cname-token: DigiCert's CNAME goes at this name, where no TXT may stay.
    fn judge_cname_place(&self, subject: &Subject, end: &str, token_unknown: bool) -> Vec<Finding> {
        let mut findings = Vec::new();
        if !self.txts.is_empty() {
            findings.push(Finding::new(
                "dns.cname.txt_conflict",
                Severity::Blocks,
                end,
                format!(
                    "holds TXT {:?}: a CNAME cannot be added beside it",
                    self.txts
                ),
                "remove the TXT record(s) at the name, or use --method dns-txt-token",
            ));
        }
        if let Some(target) = &self.cname
            && *target != resolver::normalize(&subject.record.value)
            && !token_unknown
        {
            let (code, fix) = if target.ends_with(crate::dcv::CNAME_TARGET_SUFFIX) {
                (
                    "dns.cname.stale",
                    "auth replaces it; cleanup removes what it published",
                )
            } else {
                (
                    "dns.cname.replaces",
                    "the name is in use: auth would replace this CNAME; check it is not needed",
                )
            };
            findings.push(Finding::new(
                code,
                Severity::Warns,
                end,
                format!("CNAME to {target} there already"),
                fix,
            ));
        }
        findings
    }

    /// A TXT record goes at this name: a CNAME beside TXT, or old validation values, are warned of.
    fn judge_txt_place(
        &self,
        subject: &Subject,
        end: &str,
        label: &str,
        token_unknown: bool,
    ) -> Vec<Finding> {
        let mut findings = Vec::new();
        if self.cname.is_some() && !self.txts.is_empty() {
            findings.push(Finding::new(
                "dns.cname.with_txt",
                Severity::Warns,
                format!("{end} at {label}"),
                "a CNAME and TXT records at one name: resolvers disagree on which they see",
                "keep either the CNAME or the TXT records",
            ));
        }
        let stale: Vec<&String> = self
            .txts
            .iter()
            .filter(|t| **t != subject.record.value && looks_like_token(t, subject.acme))
            .collect();
        if !stale.is_empty() && !token_unknown {
            findings.push(Finding::new(
                "dns.txt.stale",
                Severity::Warns,
                format!("{end} at {label}"),
                format!(
                    "{} old validation value(s) at the name: {}",
                    stale.len(),
                    stale
                        .iter()
                        .take(3)
                        .map(|s| format!("{s:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "remove values from earlier validations (dcv-hook cleanup removes its own)",
            ));
        }
        findings
    }
}

/// Whether a TXT value looks like a validation token: DigiCert's random values (32 lowercase
/// alphanumerics) or an ACME dns-01 value (43 base64url characters).
fn looks_like_token(text: &str, acme: bool) -> bool {
    let t = text.trim();
    if acme {
        t.len() == 43
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    } else {
        t.len() == 32
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_validation_tokens() {
        assert!(looks_like_token("0123456789abcdefghijklmnopqrstuv", false));
        assert!(!looks_like_token("v=spf1 -all", false));
        assert!(looks_like_token(
            &"a-_B".repeat(10)[..40].to_string().repeat(2)[..43],
            true
        ));
        assert!(!looks_like_token("short", true));
    }
}
