//! Creating one record at Cloudflare: each attempt retried after 429, 5xx and lost answers, but
//! only after looking whether an earlier attempt landed (so a record is never created twice, and one
//! another client added meanwhile is not taken for ours), and a refusal Cloudflare gave no readable
//! reason for explained by what is at the name. Never deletes.

use super::client::Zone;
use super::{Cloudflare, dns_content};
use crate::error::{Error, Result};
use crate::publish::txt::normalize;
use crate::record::{Record, RecordType};
use crate::retry::Retry;

impl Cloudflare {
    /// Creates `record`, retrying after 429, 5xx and lost answers, but looking first whether an
    /// earlier attempt landed. Returns the new record's id, or `None` when an identical record
    /// turned up meanwhile that is not ours (Cloudflare's 81058, which arrives as a bare 400).
    pub(super) fn create(
        &self,
        zone: &Zone,
        name: &str,
        record: &Record,
    ) -> Result<Option<String>> {
        let (rtype, _) = record.dns_for(super::NAME)?;
        let what = format!("creating {rtype} {name} in zone {}", zone.name);
        let retry = self.client.retry();
        let mut ours_may_exist = false;
        let mut tries = Retry::new(retry, None);
        loop {
            let failure = match self.client.create_once(
                zone,
                name,
                dns_content(rtype, &record.value),
                self.ttl,
            ) {
                Ok(created) => return Ok(Some(created.id)),
                Err(failure) => failure,
            };
            if failure.auth {
                return Err(self.client.error_for(failure, &what));
            }
            ours_may_exist |= failure.may_have_landed;
            if (ours_may_exist || failure.status == Some(400))
                && let Some(found) = self.find(zone, name, record)?
            {
                return Ok(ours_may_exist.then_some(found.id));
            }
            let attempt = tries.attempt();
            let pause = if failure.retryable {
                tries.pause(None)
            } else {
                None
            };
            let Some(pause) = pause else {
                let mut failure = failure;
                failure.attempts = attempt;
                let error = self.explain(zone, name, record, self.client.error_for(failure, &what));
                // An attempt whose answer was lost may have created the record after all.
                return Err(if ours_may_exist {
                    error.with_leftovers()
                } else {
                    error
                });
            };
            crate::signals::sleep(pause)?;
        }
    }

    /// Adds what is at the name to a refusal Cloudflare gave no readable reason for.
    fn explain(&self, zone: &Zone, name: &str, record: &Record, error: Error) -> Error {
        if error.kind() != crate::error::Kind::DataErr {
            return error;
        }
        let Ok(at_name) = self.client.records(zone, name, None) else {
            return error;
        };
        let cname = at_name.iter().find(|r| r.rtype == "CNAME");
        let hint = match (record.dns_type(), cname) {
            (Some(RecordType::Txt), Some(c)) => format!(
                "{name} is a CNAME to {}, and a name with a CNAME can hold nothing else",
                normalize(&c.content)
            ),
            (Some(RecordType::Cname), _) if !at_name.is_empty() => {
                let mut types: Vec<&str> = at_name.iter().map(|r| r.rtype.as_str()).collect();
                types.sort_unstable();
                types.dedup();
                format!(
                    "{name} already holds {} records, and a CNAME cannot share a name",
                    types.join(", ")
                )
            }
            _ => return error,
        };
        Error::new(error.kind(), format!("{}; {hint}", error.message()))
    }
}
