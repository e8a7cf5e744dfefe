//! The Azure DNS REST calls the provider makes (API version 2018-05-01, under
//! `{endpoint}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/dnsZones`): read
//! a zone, read a record set with its ETag, PUT it whole on the condition that it is still what was
//! read (`If-Match`, or `If-None-Match: *` for a new one), DELETE it on the same condition. A 412
//! (someone changed the set in between) is an answer here, [`Written::Changed`], for the provider to
//! read again. 429 and 5xx are retried honouring `Retry-After` (`rest.rs`); every other failure
//! becomes one [`Error`]: a refused token or missing role 77, no such resource group or
//! subscription 78, a change Azure refuses (400, 409) 65 with its message. The token goes only into
//! the `Authorization` header.

use super::auth::Tokens;
use crate::error::{Error, Result};
use crate::publish::rest;
use crate::retry::Policy;
use reqwest::Method;
use reqwest::blocking::Client as HttpClient;
use serde_json::{Map, Value as Json, json};

const API_VERSION: &str = "2018-05-01";

/// A DNS zone of the resource group.
#[derive(Clone, Debug)]
pub struct Zone {
    /// Its name, lower case, no trailing dot.
    pub name: String,
    /// `subscription/resource group/name`, for the zone lock.
    pub id: String,
}

/// One value of a record set: zone-file text for comparing, and the record as Azure holds it
/// (written back untouched).
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub text: String,
    pub raw: Json,
}

/// A record set as read: its values, its other properties (TTL, metadata) and its ETag (`None`:
/// there is no such set).
#[derive(Clone, Debug, PartialEq)]
pub struct Set {
    pub zone: String,
    /// The name relative to the zone (`@` for the apex).
    pub relative: String,
    pub rtype: &'static str,
    pub etag: Option<String>,
    pub ttl: Option<u32>,
    /// The other properties (metadata, ...), kept as read.
    pub properties: Map<String, Json>,
    pub values: Vec<Value>,
}

/// The condition a write goes with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The set is still the one with this ETag.
    Matches(String),
    /// There is no such set.
    Absent,
}

/// What a conditional write did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// Done: the set's new ETag (`None` once deleted).
    Done(Option<String>),
    /// 412: the set is not what the condition says any more.
    Changed,
}

pub struct Client {
    http: HttpClient,
    tokens: Tokens,
    /// `{endpoint}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/dnsZones`.
    base: String,
    /// `subscription/resource group`, in zone ids and messages.
    group: String,
}

impl Client {
    pub fn new(
        http: HttpClient,
        tokens: Tokens,
        endpoint: &str,
        subscription: &str,
        resource_group: &str,
    ) -> Client {
        let base = format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/dnsZones",
            endpoint.trim_end_matches('/'),
            rest::path_segment(subscription),
            rest::path_segment(resource_group)
        );
        Client {
            http,
            tokens,
            base,
            group: format!("{subscription}/{resource_group}"),
        }
    }

    /// Who is calling, for messages.
    pub fn who(&self) -> String {
        self.tokens.credential().describe()
    }

    /// The zone called exactly `name`, if the resource group has one.
    pub fn zone_named(&self, name: &str) -> Result<Option<Zone>> {
        let url = format!("{}/{}", self.base, rest::path_segment(name));
        let what = format!("looking up zone {name} in {}", self.group);
        let answer = self.call(Method::GET, &url, None, None, &what)?;
        if answer.status == 404 && error_code(&answer) == "ResourceNotFound" {
            return Ok(None);
        }
        if !answer.is_success() {
            return Err(self.failure(&answer, &what));
        }
        Ok(Some(Zone {
            name: name.to_string(),
            id: format!("{}/{name}", self.group),
        }))
    }

    /// The set `relative`/`rtype` in `zone` (empty, with no ETag, when there is none).
    pub fn set(&self, zone: &str, relative: &str, rtype: &'static str) -> Result<Set> {
        let mut set = Set {
            zone: zone.to_string(),
            relative: relative.to_string(),
            rtype,
            etag: None,
            ttl: None,
            properties: Map::new(),
            values: Vec::new(),
        };
        let what = format!("reading {rtype} {relative} in zone {zone}");
        let answer = self.call(Method::GET, &self.set_url(&set), None, None, &what)?;
        if answer.status == 404 && error_code(&answer) != "ResourceGroupNotFound" {
            return Ok(set);
        }
        if !answer.is_success() {
            return Err(self.failure(&answer, &what));
        }
        let body: Json = serde_json::from_str(&answer.body).map_err(|e| {
            Error::unavailable(format!(
                "azure: {what}: the answer is not a record set ({e}); is --azure-endpoint Azure Resource Manager?"
            ))
        })?;
        set.etag = body["etag"].as_str().map(str::to_string).or(answer.etag);
        if let Some(props) = body["properties"].as_object() {
            set.properties = props.clone();
        }
        set.ttl = set
            .properties
            .remove("TTL")
            .and_then(|t| t.as_u64())
            .and_then(|t| u32::try_from(t).ok());
        for read_only in ["fqdn", "provisioningState"] {
            set.properties.remove(read_only);
        }
        set.values = match set.properties.remove(records_key(rtype)) {
            Some(Json::Array(records)) => records.into_iter().map(txt_value).collect(),
            Some(cname @ Json::Object(_)) => vec![cname_value(cname)],
            _ => Vec::new(),
        };
        Ok(set)
    }

    /// PUTs `set` whole (or DELETEs it when it has no values) on `condition`.
    pub fn write(&self, set: &Set, condition: &Condition, what: &str) -> Result<Written> {
        let url = self.set_url(set);
        let what = format!(
            "{what} ({} {} in zone {})",
            set.rtype, set.relative, set.zone
        );
        let (method, body) = if set.values.is_empty() {
            (Method::DELETE, None)
        } else {
            (Method::PUT, Some(body(set)))
        };
        let answer = self.call(method, &url, Some(condition), body.as_ref(), &what)?;
        if answer.status == 412 {
            return Ok(Written::Changed);
        }
        if !answer.is_success() {
            return Err(self.failure(&answer, &what));
        }
        let etag = serde_json::from_str::<Json>(&answer.body)
            .ok()
            .and_then(|b| b["etag"].as_str().map(str::to_string))
            .or(answer.etag);
        Ok(Written::Done(etag.filter(|_| !set.values.is_empty())))
    }

    fn set_url(&self, set: &Set) -> String {
        format!(
            "{}/{}/{}/{}",
            self.base,
            rest::path_segment(&set.zone),
            set.rtype,
            rest::path_segment(&set.relative)
        )
    }

    /// One call with the token, retried while Azure says "later".
    fn call(
        &self,
        method: Method,
        url: &str,
        condition: Option<&Condition>,
        body: Option<&Json>,
        what: &str,
    ) -> Result<rest::Answer> {
        let describe = rest::Plain {
            provider: "azure",
            what,
            check: "--azure-endpoint",
        };
        rest::send(Policy::PROVIDER_API, &describe, || {
            // Asked for each attempt: a pause for a 429 may outlast the token.
            let token = self.tokens.token()?;
            let mut request = self
                .http
                .request(method.clone(), url)
                .query(&[("api-version", API_VERSION)])
                .bearer_auth(token.expose());
            request = match condition {
                Some(Condition::Matches(etag)) => request.header("If-Match", etag),
                Some(Condition::Absent) => request.header("If-None-Match", "*"),
                None => request,
            };
            Ok(match body {
                Some(body) => request.json(body),
                None => request,
            })
        })
    }

    /// What a failed call means, with Azure's error code and message.
    fn failure(&self, answer: &rest::Answer, what: &str) -> Error {
        let code = error_code(answer);
        let said = serde_json::from_str::<Json>(&answer.body)
            .ok()
            .and_then(|b| b["error"]["message"].as_str().map(crate::ui::one_line))
            .unwrap_or_default();
        let said: String = said.chars().take(300).collect();
        let msg = format!("azure: {what}: HTTP {} {code}: {said}", answer.status);
        match (answer.status, code.as_str()) {
            (401, _) => Error::no_perm(format!(
                "{msg}; the token of {} is refused: check the tenant and --azure-endpoint (the cloud the credentials belong to)",
                self.who()
            )),
            (403, _) => Error::no_perm(format!(
                "{msg}; {} may not do this: give it the DNS Zone Contributor role on the zone or resource group",
                self.who()
            )),
            (404, "ResourceGroupNotFound" | "SubscriptionNotFound" | "InvalidSubscriptionId") => {
                Error::config(format!(
                    "{msg}; check --azure-subscription-id (or AZURE_SUBSCRIPTION_ID) and --azure-resource-group"
                ))
            }
            (300..=399, _) => Error::config(format!(
                "{msg}; a redirect, never followed with the token: give --azure-endpoint the address it points to"
            )),
            (400 | 409 | 422, _) => Error::data(msg),
            (404, _) => Error::config(format!("{msg}; check --azure-endpoint")),
            _ => Error::unavailable(msg),
        }
    }
}

/// Azure's error code (`{"error": {"code": ...}}`), or "".
fn error_code(answer: &rest::Answer) -> String {
    serde_json::from_str::<Json>(&answer.body)
        .ok()
        .and_then(|b| b["error"]["code"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Where a set of `rtype` keeps its records in `properties`.
fn records_key(rtype: &str) -> &'static str {
    match rtype {
        "CNAME" => "CNAMERecord",
        _ => "TXTRecords",
    }
}

/// A TXT record as Azure holds it (`{"value": ["string", ...]}`), and its zone-file text.
fn txt_value(raw: Json) -> Value {
    let text = raw["value"]
        .as_array()
        .map(|strings| {
            strings
                .iter()
                .filter_map(Json::as_str)
                .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    Value { text, raw }
}

fn cname_value(raw: Json) -> Value {
    let text = raw["cname"].as_str().unwrap_or_default().to_string();
    Value { text, raw }
}

/// The record Azure holds for zone-file `content` of `rtype` (TXT quoted, a CNAME target).
pub fn value_of(rtype: &str, content: String) -> Value {
    let raw = match rtype {
        "CNAME" => json!({ "cname": content.trim_end_matches('.') }),
        _ => {
            let text = crate::publish::txt::txt_text(&content).unwrap_or_else(|| content.clone());
            json!({ "value": crate::record::txt_strings(&text) })
        }
    };
    Value { text: content, raw }
}

/// The PUT body of `set`: its properties as read, its TTL and its records.
fn body(set: &Set) -> Json {
    let mut properties = set.properties.clone();
    if let Some(ttl) = set.ttl {
        properties.insert("TTL".into(), json!(ttl));
    }
    let records: Vec<Json> = set.values.iter().map(|v| v.raw.clone()).collect();
    let records = match set.rtype {
        "CNAME" => records.into_iter().next().unwrap_or(Json::Null),
        _ => Json::Array(records),
    };
    properties.insert(records_key(set.rtype).into(), records);
    json!({ "properties": properties })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_written_back_as_read_and_ours_split_in_255_byte_strings() {
        let foreign = txt_value(json!({"value": ["v=spf1", " -all \"x\""]}));
        assert_eq!(foreign.text, r#""v=spf1" " -all \"x\"""#);
        assert_eq!(
            crate::publish::txt::txt_text(&foreign.text).as_deref(),
            Some("v=spf1 -all \"x\"")
        );
        let long = "a".repeat(300);
        let ours = value_of("TXT", crate::publish::txt::quote_txt(&long));
        assert_eq!(ours.raw["value"][0].as_str().unwrap().len(), 255);
        assert_eq!(ours.raw["value"][1].as_str().unwrap().len(), 45);
        let set = Set {
            zone: "example.test".into(),
            relative: "@".into(),
            rtype: "TXT",
            etag: Some("e".into()),
            ttl: Some(3600),
            properties: Map::from_iter([("metadata".to_string(), json!({"owner": "dns"}))]),
            values: vec![foreign, ours],
        };
        let body = body(&set);
        assert_eq!(body["properties"]["TTL"], 3600);
        assert_eq!(body["properties"]["metadata"]["owner"], "dns");
        assert_eq!(
            body["properties"]["TXTRecords"][0]["value"][1],
            " -all \"x\""
        );
    }
}
