//! The Cloud DNS v1 calls the provider makes (`{endpoint}/projects/{project}/managedZones/...`):
//! find managed zones by DNS name, read one record set, send one atomic change (`deletions` the
//! sets as read, `additions` the sets as they should be), ask a change's status.
//!
//! Every request goes through [`send`]: network errors, 5xx and throttling (429, or 403 with reason
//! `rateLimitExceeded` / `userRateLimitExceeded`) are retried with backoff that honours
//! `Retry-After`, then 69. The rest of the answers become one [`Error`] whose kind says what to do:
//! 401/403 77, an unknown project or zone 78, a change whose deletions no longer match (412
//! `conditionNotMet`, 409 `alreadyExists`, 404 on a deletion) a conflict (read again and retry),
//! another refused change (400) 65 with Google's message. The access token only ever goes into
//! the `Authorization` header.

use super::http::{Google, said};
use super::tokens::Tokens;
use crate::error::{Error, Result};
use crate::publish::rest::{self, Answer, path_segment as segment};
use crate::retry::Policy;
use serde::{Deserialize, Serialize};
use std::cell::OnceCell;

/// A managed zone: its name (what URLs take) and DNS name (no trailing dot, lower case).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub dns_name: String,
    pub private: bool,
}

#[derive(Deserialize)]
struct WireZone {
    name: String,
    #[serde(rename = "dnsName")]
    dns_name: String,
    #[serde(default)]
    visibility: String,
}

impl From<WireZone> for Zone {
    fn from(z: WireZone) -> Zone {
        Zone {
            name: z.name,
            dns_name: crate::publish::txt::normalize(&z.dns_name),
            private: z.visibility.eq_ignore_ascii_case("private"),
        }
    }
}

/// One record set as Cloud DNS keeps it: rrdatas in zone-file text (`"quoted"` TXT). Fields this
/// provider does not use are kept, so a set is deleted exactly as it was read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Set {
    /// The values, in zone-file text.
    #[serde(default)]
    pub rrdatas: Vec<String>,
    /// Fully qualified, with the trailing dot.
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    /// `None` for a set not there yet, until a value is added (with the run's TTL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// What else Cloud DNS sent (kept, so that a deletion matches the set exactly).
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// A change as Cloud DNS answers it: `pending` until served by every Cloud DNS nameserver.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Change {
    pub id: String,
    pub status: String,
}

/// The Cloud DNS v1 API of one project.
pub struct Client {
    http: reqwest::blocking::Client,
    /// The API base, ending in `/`.
    endpoint: String,
    /// The project, when known before the first call (else asked of the metadata server).
    project: OnceCell<String>,
    tokens: Tokens,
}

impl Client {
    pub fn new(
        http: reqwest::blocking::Client,
        endpoint: String,
        project: Option<String>,
        tokens: Tokens,
    ) -> Client {
        let known = OnceCell::new();
        if let Some(project) = project {
            let _ = known.set(project);
        }
        Client {
            http,
            endpoint,
            project: known,
            tokens,
        }
    }

    /// The project: given, or the metadata server's.
    pub fn project(&self) -> Result<&str> {
        if let Some(project) = self.project.get() {
            return Ok(project);
        }
        let project = self.tokens.metadata_project()?.ok_or_else(|| {
            Error::config(format!(
                "google: no project (tried --google-project, project_id in {}, GOOGLE_CLOUD_PROJECT): pass --google-project",
                self.tokens.origin()
            ))
        })?;
        Ok(self.project.get_or_init(|| project))
    }

    /// The managed zones whose DNS name is exactly `name`.
    pub fn zones_named(&self, name: &str) -> Result<Vec<Zone>> {
        #[derive(Deserialize)]
        struct List {
            #[serde(default, rename = "managedZones")]
            managed_zones: Vec<WireZone>,
        }
        let dns_name = format!("{name}.");
        let list: List = self.get(
            "managedZones",
            &[("dnsName", &dns_name)],
            &format!("looking up the managed zone of {name}"),
        )?;
        Ok(list
            .managed_zones
            .into_iter()
            .map(Zone::from)
            .filter(|z| z.dns_name == name)
            .collect())
    }

    /// The managed zone called `zone` (its name, not its DNS name).
    pub fn zone(&self, zone: &str) -> Result<Zone> {
        let wire: WireZone = self.get(
            &format!("managedZones/{}", segment(zone)),
            &[],
            &format!("reading managed zone {zone}"),
        )?;
        Ok(wire.into())
    }

    /// The set `name` (no trailing dot) / `rtype` in `zone`; empty when there is none.
    pub fn set(&self, zone: &Zone, name: &str, rtype: &str) -> Result<Set> {
        #[derive(Deserialize)]
        struct List {
            #[serde(default)]
            rrsets: Vec<Set>,
        }
        let fqdn = format!("{name}.");
        let list: List = self.get(
            &format!("managedZones/{}/rrsets", segment(&zone.name)),
            &[("name", &fqdn), ("type", rtype)],
            &format!("reading {rtype} {name} in zone {}", zone.name),
        )?;
        Ok(list
            .rrsets
            .into_iter()
            .find(|s| s.rtype == rtype && s.name.eq_ignore_ascii_case(&fqdn))
            .unwrap_or_else(|| Set {
                name: fqdn,
                rtype: rtype.to_string(),
                ..Set::default()
            }))
    }

    /// One atomic change to `zone`: Cloud DNS refuses it whole, changing nothing, when a
    /// deletion is not the set as it is now (a conflict: read again and retry).
    pub fn change(
        &self,
        zone: &Zone,
        additions: &[&Set],
        deletions: &[&Set],
        what: &str,
    ) -> Result<Change> {
        let body = serde_json::json!({ "additions": additions, "deletions": deletions });
        let what = format!("{what} in zone {}", zone.name);
        let path = format!("managedZones/{}/changes", segment(&zone.name));
        let answer = self.answer(reqwest::Method::POST, &path, &[], Some(&body), &what)?;
        let (reason, message) = said(&answer.body);
        let conflict = match answer.status {
            409 | 412 => true,
            404 => message.contains("entity.change"),
            _ => false,
        };
        if conflict {
            return Err(Error::unavailable(format!(
                "google: {what}: HTTP {} {reason}: {message}; the record set changed since it was read (another program is changing it)",
                answer.status
            ))
            .with_conflict());
        }
        self.parse(answer, &what)
    }

    /// Change `id` of `zone` as it is now.
    pub fn change_status(&self, zone: &str, id: &str) -> Result<Change> {
        self.get(
            &format!("managedZones/{}/changes/{}", segment(zone), segment(id)),
            &[],
            &format!("asking the status of change {id} in zone {zone}"),
        )
    }

    /// One GET under the project, read as `T`.
    fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        what: &str,
    ) -> Result<T> {
        let answer = self.answer(reqwest::Method::GET, path, query, None, what)?;
        self.parse(answer, what)
    }

    /// One request under the project, with a token and retries.
    fn answer(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
        what: &str,
    ) -> Result<Answer> {
        let url = format!(
            "{}projects/{}/{path}",
            self.endpoint,
            segment(self.project()?)
        );
        let request = || {
            let request = self
                .http
                .request(method.clone(), &url)
                .query(query)
                .bearer_auth(self.tokens.bearer()?.expose());
            Ok(match body {
                Some(body) => request.json(body),
                None => request,
            })
        };
        let context = format!("google: {what}");
        rest::send(Policy::PROVIDER_API, &Google { context: &context }, request)
    }

    /// A success's JSON as `T`, or what the refusal means (Google's reason and message with it).
    fn parse<T: serde::de::DeserializeOwned>(&self, answer: Answer, what: &str) -> Result<T> {
        if (200..300).contains(&answer.status) {
            return serde_json::from_str(&answer.body).map_err(|e| {
                Error::unavailable(format!(
                    "google: {what}: the answer is not what Cloud DNS sends ({e}); is --google-endpoint the Cloud DNS API?"
                ))
            });
        }
        let (reason, message) = said(&answer.body);
        let said = format!("HTTP {} {reason}: {message}", answer.status);
        let project = self.project.get().map_or("", String::as_str);
        Err(match answer.status {
            401 => Error::no_perm(format!(
                "google: {what}: {said}; the access token from {} is refused: check the credentials",
                self.tokens.origin()
            )),
            403 => Error::no_perm(format!(
                "google: {what}: {said}; the credentials from {} are refused: give the account the DNS Administrator role (roles/dns.admin) on project {project}",
                self.tokens.origin()
            )),
            404 => Error::config(format!(
                "google: {what}: {said}; check --google-project ({project}) and --google-zone"
            )),
            _ => Error::data(format!("google: {what}: {said}")),
        })
    }
}
