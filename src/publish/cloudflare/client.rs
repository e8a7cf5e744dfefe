//! The Cloudflare API calls the provider makes, over the `cloudflare` crate's blocking client: the
//! only code here that talks to Cloudflare.
//!
//! It owns the transport (the crate's `HttpApiClient`, rustls, a timeout per request and a
//! `User-Agent`), the four endpoints (zones by name, records by name and type, create, delete),
//! pagination and retries; `failure.rs` says what a failure means. It knows nothing about which
//! record is whose: the provider decides that.
//!
//! The endpoints are defined here on the crate's `EndpointSpec`, with result types that hold only
//! the fields used, because the crate's own `Zone` requires fields the API leaves null (a pending
//! zone's `activated_on`) and its `DnsRecord` cannot read record types it does not know (CAA,
//! HTTPS): a listing that met either would fail as a whole. Bodies still come from the crate's
//! `CreateDnsRecordParams`.
//!
//! Two limits of the crate shape the error handling. Its error list keeps Cloudflare's code in a
//! `u16`, so a body with a five-digit DNS code (81058 "an identical record already exists") does
//! not parse and the failure arrives as a bare status: callers decide by the status and by looking
//! the record up. And a failure carries no headers, so `Retry-After` cannot be read: 429 and 5xx
//! are retried with exponential backoff and jitter, a bounded number of times (`retry::Policy`). The
//! credentials go into the crate's client once and never into a message: errors name only where the
//! credentials came from.

use super::failure::{Failure, chain_text};
use crate::error::{Error, Result};
use crate::retry::{Policy, Retry};
use cloudflare::endpoints::dns::dns::{CreateDnsRecordParams, DnsContent};
use cloudflare::framework::Environment;
use cloudflare::framework::auth::Credentials;
use cloudflare::framework::client::ClientConfig;
use cloudflare::framework::client::blocking_api::HttpApiClient;
use cloudflare::framework::endpoint::spec::EndpointSpec;
use cloudflare::framework::endpoint::{Method, RequestBody, serialize_query};
use cloudflare::framework::response::{ApiResult, ApiSuccess};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::time::Duration;

/// Zones per page asked for (Cloudflare's maximum for zones).
const ZONES_PER_PAGE: u32 = 50;
/// Records per page asked for.
const RECORDS_PER_PAGE: u32 = 100;
/// A listing longer than this many pages is taken as a server loop.
const MAX_PAGES: u32 = 1000;

/// A zone, as much of it as the provider uses.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Zone {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub status: String,
}

/// A DNS record, as much of it as the provider uses.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct DnsRecord {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type", default)]
    pub rtype: String,
    #[serde(default)]
    pub content: String,
}

/// One page of a listing.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct Page<T>(Vec<T>);

impl<T: DeserializeOwned + Debug> ApiResult for Page<T> {}
impl ApiResult for Zone {}
impl ApiResult for DnsRecord {}

/// `GET zones?name=NAME`.
#[derive(Debug)]
struct ListZones<'a> {
    name: &'a str,
    page: u32,
}

impl EndpointSpec for ListZones<'_> {
    type JsonResponse = Page<Zone>;
    type ResponseType = ApiSuccess<Self::JsonResponse>;

    fn method(&self) -> Method {
        Method::GET
    }
    fn path(&self) -> String {
        "zones".to_string()
    }
    fn query(&self) -> Option<String> {
        serialize_query(&[
            ("name", self.name.to_string()),
            ("page", self.page.to_string()),
            ("per_page", ZONES_PER_PAGE.to_string()),
        ])
    }
}

/// `GET zones/{id}/dns_records?name=NAME&type=TYPE`.
#[derive(Debug)]
struct ListRecords<'a> {
    zone_id: &'a str,
    name: &'a str,
    rtype: Option<&'a str>,
    page: u32,
}

impl EndpointSpec for ListRecords<'_> {
    type JsonResponse = Page<DnsRecord>;
    type ResponseType = ApiSuccess<Self::JsonResponse>;

    fn method(&self) -> Method {
        Method::GET
    }
    fn path(&self) -> String {
        format!("zones/{}/dns_records", self.zone_id)
    }
    fn query(&self) -> Option<String> {
        let mut query = vec![("name", self.name.to_string())];
        if let Some(rtype) = self.rtype {
            query.push(("type", rtype.to_string()));
        }
        query.push(("page", self.page.to_string()));
        query.push(("per_page", RECORDS_PER_PAGE.to_string()));
        serialize_query(&query)
    }
}

/// `POST zones/{id}/dns_records`.
#[derive(Debug)]
struct CreateRecord<'a> {
    zone_id: &'a str,
    params: CreateDnsRecordParams<'a>,
}

impl EndpointSpec for CreateRecord<'_> {
    type JsonResponse = DnsRecord;
    type ResponseType = ApiSuccess<Self::JsonResponse>;

    fn method(&self) -> Method {
        Method::POST
    }
    fn path(&self) -> String {
        format!("zones/{}/dns_records", self.zone_id)
    }
    fn body(&self) -> Option<RequestBody<'_>> {
        serde_json::to_string(&self.params)
            .ok()
            .map(RequestBody::Json)
    }
}

/// `DELETE zones/{id}/dns_records/{record}`.
#[derive(Debug)]
struct DeleteRecord<'a> {
    zone_id: &'a str,
    id: &'a str,
}

#[derive(Debug, Deserialize)]
struct Deleted {}

impl ApiResult for Deleted {}

impl EndpointSpec for DeleteRecord<'_> {
    type JsonResponse = Deleted;
    type ResponseType = ApiSuccess<Self::JsonResponse>;

    fn method(&self) -> Method {
        Method::DELETE
    }
    fn path(&self) -> String {
        format!("zones/{}/dns_records/{}", self.zone_id, self.id)
    }
}

/// A Cloudflare API client.
pub struct Client {
    api: HttpApiClient,
    retry: Policy,
    /// What the credentials are and where they came from, for messages (never the secret).
    credentials: String,
    api_url: String,
}

impl Client {
    /// A client for `api_url` (validated, ending in `/`); makes no request.
    pub fn new(
        credentials: Credentials,
        described: String,
        api_url: &str,
        timeout: Duration,
        retry: Policy,
    ) -> Result<Client> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::USER_AGENT,
            reqwest::header::HeaderValue::from_static(concat!(
                "dcv-hook/",
                env!("CARGO_PKG_VERSION")
            )),
        );
        let config = ClientConfig {
            http_timeout: timeout,
            default_headers: headers,
            resolve_ip: None,
        };
        let api = HttpApiClient::new(
            credentials,
            config,
            Environment::Custom(api_url.to_string()),
        )
        .map_err(|e| {
            Error::software(format!(
                "cloudflare: cannot set up the HTTP client: {}",
                chain_text(&e)
            ))
        })?;
        Ok(Client {
            api,
            retry,
            credentials: described,
            api_url: api_url.to_string(),
        })
    }

    /// What the credentials are and where they came from (never the secret).
    /// The API base URL, for messages.
    pub fn credentials(&self) -> &str {
        &self.credentials
    }

    /// The dcv-hook error for `failure` while doing `what` (`creating TXT x in zone y`).
    pub fn error_for(&self, failure: Failure, what: &str) -> Error {
        let described = failure.describe();
        if failure.auth {
            return Error::no_perm(format!(
                "cloudflare: {what}: {described}: Cloudflare refused the {}; check it, and that it has Zone:Read and DNS:Edit permission for the zone",
                self.credentials
            ));
        }
        if failure.status == Some(429) {
            return Error::unavailable(format!(
                "cloudflare: {what}: {described}: Cloudflare limits API calls per user (1200 per 5 minutes); wait a few minutes, then retry"
            ));
        }
        if failure.retryable || failure.detail.is_some() {
            return Error::unavailable(format!(
                "cloudflare: {what}: {described}; check --cloudflare-api-url ({}) and Cloudflare's status, then retry",
                self.api_url
            ));
        }
        Error::data(format!("cloudflare: {what}: {described}"))
    }

    /// The retry policy, for callers that retry on their own (create).
    pub fn retry(&self) -> Policy {
        self.retry
    }

    /// One attempt.
    fn once<E>(&self, endpoint: &E) -> Result<E::JsonResponse, Failure>
    where
        E: EndpointSpec<ResponseType = ApiSuccess<<E as EndpointSpec>::JsonResponse>> + Send + Sync,
    {
        self.api
            .request(endpoint)
            .map(|success| success.result)
            .map_err(Failure::from_api)
    }

    /// Up to `retry.attempts` attempts of an idempotent call, backing off after retryable failures.
    fn call<E>(&self, endpoint: &E) -> Result<ApiSuccess<E::JsonResponse>, Failure>
    where
        E: EndpointSpec<ResponseType = ApiSuccess<<E as EndpointSpec>::JsonResponse>> + Send + Sync,
    {
        let mut retry = Retry::new(self.retry, None);
        loop {
            match self.api.request(endpoint) {
                Ok(success) => return Ok(success),
                Err(failure) => {
                    let mut failure = Failure::from_api(failure);
                    failure.attempts = retry.attempt();
                    let pause = if failure.retryable {
                        retry.pause(None)
                    } else {
                        None
                    };
                    match pause {
                        // A signal ends the retries: the failure so far is the answer.
                        Some(pause) if crate::signals::sleep(pause).is_ok() => {}
                        _ => return Err(failure),
                    }
                }
            }
        }
    }

    /// Every item of a paginated listing; `endpoint(page)` builds the request for a page.
    fn list_all<E, T>(&self, endpoint: impl Fn(u32) -> E, what: &str) -> Result<Vec<T>>
    where
        E: EndpointSpec<JsonResponse = Page<T>, ResponseType = ApiSuccess<Page<T>>> + Send + Sync,
        T: DeserializeOwned + Debug,
    {
        let mut items = Vec::new();
        for page in 1..=MAX_PAGES {
            let success = self
                .call(&endpoint(page))
                .map_err(|f| self.error_for(f, what))?;
            let count = success.result.0.len();
            items.extend(success.result.0);
            let info = success.result_info.unwrap_or_default();
            let total_pages = info.get("total_pages").and_then(|v| v.as_u64());
            let last = match total_pages {
                Some(total) => u64::from(page) >= total,
                // Without paging information, a short page is the last one.
                None => {
                    count == 0
                        || info
                            .get("per_page")
                            .and_then(|v| v.as_u64())
                            .is_none_or(|per| (count as u64) < per)
                }
            };
            if last {
                return Ok(items);
            }
        }
        Err(Error::unavailable(format!(
            "cloudflare: {what}: more than {MAX_PAGES} pages; the API seems to loop"
        )))
    }

    /// The zones called exactly `name` that the credentials can see.
    pub fn zones_named(&self, name: &str) -> Result<Vec<Zone>> {
        let zones: Vec<Zone> = self.list_all(
            |page| ListZones { name, page },
            &format!("looking up zone {name}"),
        )?;
        Ok(zones
            .into_iter()
            .filter(|z| z.name.trim_end_matches('.').eq_ignore_ascii_case(name))
            .collect())
    }

    /// The records at `name` in `zone`, of type `rtype` (all types when `None`).
    pub fn records(&self, zone: &Zone, name: &str, rtype: Option<&str>) -> Result<Vec<DnsRecord>> {
        let what = format!(
            "listing {} records at {name} in zone {}",
            rtype.unwrap_or("all"),
            zone.name
        );
        let records: Vec<DnsRecord> = self.list_all(
            |page| ListRecords {
                zone_id: &zone.id,
                name,
                rtype,
                page,
            },
            &what,
        )?;
        Ok(records
            .into_iter()
            .filter(|r| r.name.trim_end_matches('.').eq_ignore_ascii_case(name))
            .filter(|r| rtype.is_none_or(|t| r.rtype.eq_ignore_ascii_case(t)))
            .collect())
    }

    /// One attempt at creating a record (not retried here: a lost answer may hide a success, so
    /// the caller looks before trying again).
    pub fn create_once(
        &self,
        zone: &Zone,
        name: &str,
        content: DnsContent,
        ttl: u32,
    ) -> Result<DnsRecord, Failure> {
        let endpoint = CreateRecord {
            zone_id: &zone.id,
            params: CreateDnsRecordParams {
                ttl: Some(ttl),
                priority: None,
                // Never proxied: a proxied CNAME answers with Cloudflare's addresses instead.
                proxied: Some(false),
                name,
                content,
            },
        };
        self.once(&endpoint)
    }

    /// Deletes record `id`; one that is already gone (404) is fine.
    pub fn delete(&self, zone: &Zone, id: &str, what: &str) -> Result<()> {
        match self.call(&DeleteRecord {
            zone_id: &zone.id,
            id,
        }) {
            Ok(_) => Ok(()),
            Err(f) if f.status == Some(404) => Ok(()),
            Err(f) => Err(self.error_for(f, what)),
        }
    }
}

#[cfg(test)]
mod tests;
