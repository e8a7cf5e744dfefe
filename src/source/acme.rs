//! ACME host-tool mode as a token source: the challenges an ACME client hands its hook (`acme/`),
//! published by any provider. No DigiCert call, no API key. `verify` succeeds at once: the ACME
//! client asks its own CA.

use super::{Plan, TokenSource};
use crate::acme::{AcmeTarget, Challenge};
use crate::context::Context;
use crate::error::Result;
use crate::output::Report;
use crate::state::{AcmeSource, Entry, Source};

/// An ACME client's challenges.
pub struct Acme {
    pub target: AcmeTarget,
}

impl TokenSource for Acme {
    fn plan(&self, _ctx: &Context) -> Result<Plan> {
        Ok(Plan {
            source: Source {
                acme: Some(AcmeSource {
                    batch: self.target.batch.as_ref().map(|b| b.key.clone()),
                }),
                ..Source::default()
            },
            records: self
                .target
                .challenges
                .iter()
                .map(Challenge::record)
                .collect(),
            already_approved: Vec::new(),
            notes: Vec::new(),
            batch: self.target.batch.clone(),
        })
    }

    fn verify(&self, _ctx: &Context, report: &mut Report, _wait: bool) -> Result<()> {
        report.say("ACME mode: the ACME client asks its CA to validate; nothing to verify here");
        Ok(())
    }

    /// The entries of exactly these challenges: same value at the same name (for a TXT name that
    /// was a CNAME, at its target, which `auth` recorded), whichever run published them.
    fn selects(&self, entry: &Entry) -> bool {
        if entry.source.acme.is_none() {
            return false;
        }
        let published = &entry.published.record;
        self.target.challenges.iter().any(|c| {
            let wanted = c.record();
            published.value == wanted.value
                && published.type_name() == wanted.type_name()
                && (published.name() == wanted.name() || published.domain == wanted.domain)
        })
    }
}
