//! The PowerDNS Authoritative HTTP API calls the provider makes (`/api/v1/servers/{id}/...`): find
//! a zone, read one RRset, PATCH a zone's RRsets. Every call is retried on 5xx, 429 and network
//! errors (`rest.rs`); every failure becomes one [`Error`] whose kind says what to do (401/403 77,
//! 404 78, 422 65 with PowerDNS's own message). The API key only ever goes into the `X-API-Key` header.

use crate::error::{Error, Result};
use crate::publish::rest;
use crate::retry::Policy;
use crate::secret::Secret;
use reqwest::Method;
use reqwest::blocking::Client as HttpClient;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A zone as the API lists it (`id` is what the zone's URL takes).
#[derive(Clone, Debug, Deserialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
}

/// One RRset (name and type) with its records, as the API reads and writes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RRSet {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    #[serde(default)]
    pub records: Vec<Content>,
    /// In a PATCH: REPLACE or DELETE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changetype: Option<String>,
}

/// One record of an RRset, in zone-file text (`"quoted"` TXT, `target.` CNAME).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Content {
    pub content: String,
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Deserialize)]
struct ZoneWithRRSets {
    #[serde(default)]
    rrsets: Vec<RRSet>,
}

pub struct Client {
    http: HttpClient,
    /// `{url}/api/v1/servers/{server id}`.
    server: String,
    server_id: String,
    key: Secret,
    key_source: String,
    retry: Policy,
}

impl Client {
    pub fn new(
        api_url: &str,
        server_id: &str,
        key: Secret,
        key_source: String,
        retry: Policy,
    ) -> Result<Client> {
        let http = crate::http_client::api_client("", Duration::from_secs(30))?;
        let base = api_url.trim_end_matches('/');
        let base = base.strip_suffix("/api/v1").unwrap_or(base);
        Ok(Client {
            http,
            server: format!("{base}/api/v1/servers/{server_id}"),
            server_id: server_id.to_string(),
            key,
            key_source,
            retry,
        })
    }

    /// The zone called exactly `name` (no trailing dot), if the server has one.
    pub fn zone_named(&self, name: &str) -> Result<Option<Zone>> {
        let url = format!("{}/zones", self.server);
        let zones: Vec<Zone> = self
            .call(
                Method::GET,
                &url,
                &[("zone", &format!("{name}."))],
                None,
                &format!("looking up zone {name}"),
            )
            .and_then(|v| parse(v, "the zone list"))?;
        Ok(zones
            .into_iter()
            .find(|z| z.name.trim_end_matches('.').eq_ignore_ascii_case(name)))
    }

    /// The RRset `name`/`rtype` in `zone` (empty when there is none).
    pub fn rrset(&self, zone: &Zone, name: &str, rtype: &str) -> Result<RRSet> {
        let fqdn = format!("{name}.");
        // The whole zone, not `?rrset_name=&rrset_type=`: PowerDNS leaves disabled records out
        // of a narrowed answer (seen on 4.7), and a set written back without them deletes them.
        let zone_data: ZoneWithRRSets = self
            .call(
                Method::GET,
                &self.zone_url(zone),
                &[],
                None,
                &format!("reading {rtype} {name} in zone {}", zone.name),
            )
            .and_then(|v| parse(v, "the zone"))?;
        Ok(zone_data
            .rrsets
            .into_iter()
            .find(|r| r.name.eq_ignore_ascii_case(&fqdn) && r.rtype == rtype)
            .unwrap_or_else(|| RRSet {
                name: fqdn,
                rtype: rtype.to_string(),
                ..RRSet::default()
            }))
    }

    /// Applies `rrsets` (each REPLACE or DELETE) to `zone` in one PATCH, which PowerDNS applies
    /// all or nothing.
    pub fn patch(&self, zone: &Zone, rrsets: &[RRSet], what: &str) -> Result<()> {
        let body = serde_json::json!({ "rrsets": rrsets });
        self.call(Method::PATCH, &self.zone_url(zone), &[], Some(&body), what)
            .map(|_| ())
    }

    fn zone_url(&self, zone: &Zone) -> String {
        format!("{}/zones/{}", self.server, rest::path_segment(&zone.id))
    }

    /// One API call with retries; the JSON answer (`Null` for 204).
    fn call(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
        what: &str,
    ) -> Result<serde_json::Value> {
        let url = reqwest::Url::parse_with_params(url, query).map_err(|e| {
            Error::usage(format!(
                "powerdns: --powerdns-url gives a bad URL {url:?}: {e}"
            ))
        })?;
        let describe = Describe { client: self, what };
        let answer = rest::send(self.retry, &describe, || {
            let request = self
                .http
                .request(method.clone(), url.clone())
                .header("X-API-Key", self.key.expose());
            Ok(match body {
                Some(body) => request.json(body),
                None => request,
            })
        })?;
        if answer.is_success() {
            return Ok(serde_json::from_str(&answer.body).unwrap_or(serde_json::Value::Null));
        }
        Err(self.failure(answer.status, &answer.body, what))
    }

    /// What an error status means, with PowerDNS's message (`{"error": ...}`) when it sent one.
    fn failure(&self, status: u16, body: &str, what: &str) -> Error {
        let said = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| body.trim().chars().take(200).collect());
        let said = if said.is_empty() {
            String::new()
        } else {
            format!(": {said}")
        };
        match status {
            401 | 403 => Error::no_perm(format!(
                "powerdns: {what}: HTTP {status}{said}; the API key from {} is refused: use the server's api-key",
                self.key_source
            )),
            404 => Error::config(format!(
                "powerdns: {what}: HTTP 404{said}; check --powerdns-server-id ({}) and --powerdns-url",
                self.server_id
            )),
            500..=599 => Error::unavailable(format!("powerdns: {what}: HTTP {status}{said}")),
            _ => Error::data(format!("powerdns: {what}: HTTP {status}{said}")),
        }
    }
}

/// How a call's retried failures read.
struct Describe<'a> {
    client: &'a Client,
    what: &'a str,
}

impl rest::Describe for Describe<'_> {
    fn busy(&self, answer: &rest::Answer) -> Error {
        let failure = self.client.failure(answer.status, &answer.body, self.what);
        Error::unavailable(failure.message())
    }

    fn unreachable(&self, error: &reqwest::Error) -> Error {
        Error::unavailable(format!(
            "powerdns: {}: {}; check --powerdns-url and that the API is on (webserver=yes, api=yes)",
            self.what,
            crate::error::chain(error)
        ))
    }
}

fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value, what: &str) -> Result<T> {
    serde_json::from_value(value).map_err(|e| {
        Error::unavailable(format!(
            "powerdns: {what} is not what the API sends ({e}); is --powerdns-url a PowerDNS Authoritative API?"
        ))
    })
}
