//! A fake Cloudflare API v4 on a loopback port: the zone and DNS record calls a DNS-01/DCV client
//! makes, shaped like the real API closely enough that the `cloudflare` crate reads every answer.
//!
//! Served under `/client/v4` ([`FakeCloudflare::url`] ends in `/`, as `Environment::Custom` needs):
//! - `GET zones` (filters `name`, `status`; `page`, `per_page`) and `GET zones/{id}`; zones are
//!   complete objects (account, owner, plan, meta, ...) because the crate's `Zone` requires them.
//! - `GET zones/{id}/dns_records` (filters `name`, `type`, `content`, also as `name.exact` /
//!   `content.exact`; pagination), `GET .../dns_records/{id}`, `POST` (create), `DELETE` (by id).
//!
//! Every answer has Cloudflare's envelope (`success`, `errors`, `messages`, `result`,
//! `result_info`), and errors carry Cloudflare's codes and statuses: a malformed token 400/6003
//! (chain 6111), an unknown token 403/9109, an unknown legacy key 403/9103, an identical record
//! 400/81058, a CNAME clash 400/81053 or 81054, a missing record 404/81044, a bad TTL 400/1004
//! (chain 9021). `per_page` is clamped to [`FakeCloudflare::set_max_per_page`] (50, Cloudflare's
//! zone limit, by default), so tests can force many pages.
//!
//! Records the fake creates or deletes, also through [`FakeCloudflare::add_record`], go to an
//! optional [`Sink`] first, so a test can mirror them into a real DNS server (the BIND fixture) and
//! let real propagation checks see them; a sink error fails the request with a 500 and changes
//! nothing. Faults are injected per request ([`CfFault`]: 429 with `Retry-After`, 5xx with
//! Cloudflare's HTML error page, a 5xx after the change was carried out, a create racing another
//! client's identical one), and every request is logged without its credentials, only how it
//! authenticated.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use crate::certcentral::iso8601;
use crate::serve::{HttpThread, header, query_param};

/// Every endpoint lives under this path, as on api.cloudflare.com.
pub const BASE_PATH: &str = "/client/v4";

/// The largest `per_page` honoured unless a test sets another (Cloudflare's limit for zones).
pub const DEFAULT_MAX_PER_PAGE: u32 = 50;

/// Called with each record change before the fake applies it; an `Err` fails the request (500).
pub type Sink = Box<dyn Fn(&Change) -> Result<(), String> + Send + Sync>;

/// Whether a record was added or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// A record was created.
    Add,
    /// A record was deleted.
    Remove,
}

/// One record change, as a DNS server should see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Added or removed.
    pub kind: ChangeKind,
    /// The zone's name.
    pub zone: String,
    /// The record's owner name (lowercase, no trailing dot).
    pub name: String,
    /// `TXT`, `CNAME`, ...
    pub rtype: String,
    /// The content as the API stores it (a TXT value may be quoted).
    pub content: String,
    /// The value on the wire: a TXT record's text with quotes and escapes resolved, a CNAME's
    /// target without trailing dot; other types as stored.
    pub value: String,
    /// TTL in seconds (1 = automatic).
    pub ttl: u32,
}

/// A failure to inject into the next matching authenticated request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CfFault {
    /// 429, code 971, with this `Retry-After`.
    RateLimited {
        /// The Retry-After value, in seconds.
        retry_after_secs: u64,
    },
    /// This status without doing anything: 500 with a JSON error; 502, 503 and 504 with the HTML
    /// page Cloudflare's edge sends (no JSON at all).
    Status(u16),
    /// Carry the request out, then answer this status as `Status` does (a lost answer).
    AfterApplying(u16),
    /// Another client wins a race: the record a create asks for is stored (as if someone else
    /// had just added it), and the answer is Cloudflare's 400, code 81058 "An identical record
    /// already exists.". For `POST .../dns_records`.
    LostRace,
}

/// How a logged request authenticated. Credentials themselves are never kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthSeen {
    /// An accepted `Authorization: Bearer` token.
    Token,
    /// An accepted `X-Auth-Email` + `X-Auth-Key` pair.
    Key,
    /// Credentials were sent and refused.
    Rejected,
    /// No credentials were sent.
    Missing,
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct CfRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Request body.
    pub body: String,
    /// How it authenticated.
    pub auth: AuthSeen,
    /// A fingerprint ([`token_fingerprint`]) of the `Authorization: Bearer` token it carried,
    /// accepted or not: which credential a request used, without the secret in the log.
    pub token: Option<String>,
    /// The User-Agent header.
    pub user_agent: Option<String>,
    /// When it arrived.
    pub at: Instant,
}

impl CfRequest {
    /// The decoded value of a query parameter.
    pub fn query(&self, key: &str) -> Option<String> {
        query_param(self.path.split_once('?')?.1, key)
    }

    /// The path without the base path and query: `zones`, `zones/{id}/dns_records`, ...
    pub fn endpoint(&self) -> &str {
        let path = self.path.split('?').next().unwrap_or_default();
        path.strip_prefix(BASE_PATH)
            .unwrap_or(path)
            .trim_matches('/')
    }
}

/// A DNS record held by the fake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeRecord {
    /// Cloudflare's record id.
    pub id: String,
    /// The zone's name.
    pub zone: String,
    /// Owner name, lowercase, no trailing dot.
    pub name: String,
    /// `TXT`, `CNAME`, ...
    pub rtype: String,
    /// The content as stored.
    pub content: String,
    /// TTL (1 = automatic).
    pub ttl: u32,
    /// Proxied through Cloudflare.
    pub proxied: bool,
}

/// What the fake accepts, and where its changes go.
pub struct FakeCloudflareConfig {
    /// Accepted API tokens (`Authorization: Bearer`).
    pub tokens: Vec<String>,
    /// Accepted legacy (email, global API key) pairs.
    pub keys: Vec<(String, String)>,
    /// Where record changes are mirrored, if anywhere.
    pub sink: Option<Sink>,
}

impl FakeCloudflareConfig {
    /// Accepts one API token; no sink.
    pub fn with_token(token: impl Into<String>) -> FakeCloudflareConfig {
        FakeCloudflareConfig {
            tokens: vec![token.into()],
            keys: Vec::new(),
            sink: None,
        }
    }

    /// Also accepts this legacy email + global API key pair.
    pub fn with_key(mut self, email: impl Into<String>, key: impl Into<String>) -> Self {
        self.keys.push((email.into(), key.into()));
        self
    }

    /// Mirrors record changes through `sink`.
    pub fn with_sink(
        mut self,
        sink: impl Fn(&Change) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.sink = Some(Box::new(sink));
        self
    }
}

impl fmt::Debug for FakeCloudflareConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeCloudflareConfig")
            .field("tokens", &self.tokens.len())
            .field("keys", &self.keys.len())
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

struct Zone {
    id: String,
    name: String,
    status: String,
    created: SystemTime,
}

struct Rec {
    record: FakeRecord,
    zone_id: String,
    created: SystemTime,
}

struct State {
    tokens: Vec<String>,
    keys: Vec<(String, String)>,
    zones: Vec<Zone>,
    records: Vec<Rec>,
    faults: VecDeque<(Option<String>, CfFault)>,
    requests: Vec<CfRequest>,
    max_per_page: u32,
}

struct Shared {
    state: Mutex<State>,
    sink: Option<Sink>,
}

/// The fake API. Stops on Drop.
pub struct FakeCloudflare {
    shared: Arc<Shared>,
    http: HttpThread,
}

impl FakeCloudflare {
    /// Starts on `addr` (loopback only; port 0 picks one).
    pub fn start(addr: SocketAddr, config: FakeCloudflareConfig) -> io::Result<FakeCloudflare> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                tokens: config.tokens,
                keys: config.keys,
                zones: Vec::new(),
                records: Vec::new(),
                faults: VecDeque::new(),
                requests: Vec::new(),
                max_per_page: DEFAULT_MAX_PER_PAGE,
            }),
            sink: config.sink,
        });
        let handler = Arc::clone(&shared);
        let http = HttpThread::start(addr, "cloudflare", move |request| handle(&handler, request))?;
        Ok(FakeCloudflare { shared, http })
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.http.addr()
    }

    /// The API base URL, `http://127.0.0.1:PORT/client/v4/` (with the trailing `/`).
    pub fn url(&self) -> String {
        format!("http://{}{BASE_PATH}/", self.addr())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap()
    }

    /// Adds an active zone; returns its id.
    pub fn add_zone(&self, name: &str) -> String {
        self.add_zone_with_status(name, "active")
    }

    /// Adds a zone with this status (`active`, `pending`, ...); returns its id.
    pub fn add_zone_with_status(&self, name: &str, status: &str) -> String {
        let id = new_id();
        self.state().zones.push(Zone {
            id: id.clone(),
            name: normalize(name),
            status: status.to_string(),
            created: SystemTime::now(),
        });
        id
    }

    /// The id of the zone called `name`.
    pub fn zone_id(&self, name: &str) -> Option<String> {
        let name = normalize(name);
        self.state()
            .zones
            .iter()
            .find(|z| z.name == name)
            .map(|z| z.id.clone())
    }

    /// Adds a record (someone else's, say) to the zone that holds `name`, through the sink; returns
    /// its id. Panics when no zone holds the name or the sink fails.
    pub fn add_record(&self, name: &str, rtype: &str, content: &str) -> String {
        let name = normalize(name);
        let mut state = self.state();
        // The most specific zone; of two with one name (two accounts), the active one.
        let zone = state
            .zones
            .iter()
            .filter(|z| in_zone(&name, &z.name))
            .max_by_key(|z| (z.name.len(), z.status == "active"))
            .unwrap_or_else(|| panic!("no zone holds {name}"));
        let zone_id = zone.id.clone();
        let record = FakeRecord {
            id: new_id(),
            zone: zone.name.clone(),
            name,
            rtype: rtype.to_ascii_uppercase(),
            content: content.to_string(),
            ttl: 1,
            proxied: false,
        };
        if let Some(sink) = &self.shared.sink {
            sink(&change(ChangeKind::Add, &record)).unwrap_or_else(|e| panic!("sink: {e}"));
        }
        let id = record.id.clone();
        state.records.push(Rec {
            record,
            zone_id,
            created: SystemTime::now(),
        });
        id
    }

    /// Every record, in creation order.
    pub fn records(&self) -> Vec<FakeRecord> {
        self.state()
            .records
            .iter()
            .map(|r| r.record.clone())
            .collect()
    }

    /// The records at `name`.
    pub fn records_named(&self, name: &str) -> Vec<FakeRecord> {
        let name = normalize(name);
        self.records()
            .into_iter()
            .filter(|r| r.name == name)
            .collect()
    }

    /// Clamps `per_page` to `n` from now on (forces pagination).
    pub fn set_max_per_page(&self, n: u32) {
        self.state().max_per_page = n.max(1);
    }

    /// The next `n` authenticated requests get `fault` (queued after earlier faults).
    pub fn fail_next(&self, n: usize, fault: CfFault) {
        let mut state = self.state();
        state.faults.extend(std::iter::repeat_n((None, fault), n));
    }

    /// The next `n` authenticated requests with this HTTP method get `fault`.
    pub fn fail_next_on(&self, method: &str, n: usize, fault: CfFault) {
        let mut state = self.state();
        let method = method.to_ascii_uppercase();
        state
            .faults
            .extend(std::iter::repeat_n((Some(method), fault), n));
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<CfRequest> {
        self.state().requests.clone()
    }
}

/// An answer before it is written out.
struct Reply {
    status: u16,
    body: String,
    html: bool,
    retry_after: Option<u64>,
}

impl Reply {
    fn ok(result: Value) -> Reply {
        Reply::json(
            200,
            json!({"success": true, "errors": [], "messages": [], "result": result}),
        )
    }

    fn list(result: Vec<Value>, info: Value) -> Reply {
        Reply::json(
            200,
            json!({"success": true, "errors": [], "messages": [], "result": result, "result_info": info}),
        )
    }

    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: body.to_string(),
            html: false,
            retry_after: None,
        }
    }

    /// Cloudflare's error envelope; `chain` becomes the first error's `error_chain`.
    fn error(status: u16, code: u32, message: &str, chain: Option<(u32, &str)>) -> Reply {
        let mut error = json!({"code": code, "message": message});
        if let Some((code, message)) = chain {
            error["error_chain"] = json!([{"code": code, "message": message}]);
        }
        Reply::json(
            status,
            json!({"success": false, "errors": [error], "messages": [], "result": null}),
        )
    }

    fn fault(fault: &CfFault) -> Reply {
        match fault {
            CfFault::RateLimited { retry_after_secs } => Reply {
                retry_after: Some(*retry_after_secs),
                ..Reply::error(
                    429,
                    971,
                    "Please wait and consider throttling your request speed",
                    None,
                )
            },
            CfFault::LostRace => {
                Reply::error(400, 81058, "An identical record already exists.", None)
            }
            CfFault::Status(500) | CfFault::AfterApplying(500) => {
                Reply::error(500, 10001, "Internal server error", None)
            }
            CfFault::Status(code) | CfFault::AfterApplying(code) => Reply {
                status: *code,
                body: format!(
                    "<!DOCTYPE html><html><head><title>api.cloudflare.com | {code}</title></head>\
                     <body><h1>Error {code}</h1><p>The web server reported an error.</p></body></html>"
                ),
                html: true,
                retry_after: None,
            },
        }
    }
}

fn handle(shared: &Shared, mut request: tiny_http::Request) {
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let method = request.method().as_str().to_ascii_uppercase();
    let target = request.url().to_string();
    let mut state = shared.state.lock().unwrap();
    let auth = authenticate(&state, &request);
    state.requests.push(CfRequest {
        method: method.clone(),
        path: target.clone(),
        body: body.clone(),
        auth: match &auth {
            Ok(seen) => *seen,
            Err((seen, _)) => *seen,
        },
        token: header(&request, "Authorization").and_then(|v| {
            v.strip_prefix("Bearer ")
                .map(|t| token_fingerprint(t.trim()))
        }),
        user_agent: header(&request, "User-Agent"),
        at: Instant::now(),
    });
    let reply = match auth {
        Err((_, reply)) => reply,
        Ok(_) => {
            // Faults are for requests that would otherwise be served, so bad credentials never use one.
            let fault = state
                .faults
                .iter()
                .position(|(m, _)| m.as_ref().is_none_or(|m| *m == method))
                .and_then(|i| state.faults.remove(i))
                .map(|(_, f)| f);
            match fault {
                Some(f @ (CfFault::RateLimited { .. } | CfFault::Status(_))) => Reply::fault(&f),
                Some(f @ (CfFault::AfterApplying(_) | CfFault::LostRace)) => {
                    route(&mut state, shared.sink.as_ref(), &method, &target, &body);
                    Reply::fault(&f)
                }
                None => route(&mut state, shared.sink.as_ref(), &method, &target, &body),
            }
        }
    };
    drop(state);
    respond(request, reply);
}

fn respond(request: tiny_http::Request, reply: Reply) {
    let mut response =
        tiny_http::Response::from_data(reply.body.into_bytes()).with_status_code(reply.status);
    let content_type = if reply.html {
        "text/html; charset=UTF-8"
    } else {
        "application/json"
    };
    if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", content_type) {
        response.add_header(h);
    }
    if let Some(secs) = reply.retry_after
        && let Ok(h) = tiny_http::Header::from_bytes("Retry-After", secs.to_string())
    {
        response.add_header(h);
    }
    let _ = request.respond(response);
}

/// Which credentials the request carries and whether they are accepted; a refusal comes with the
/// answer Cloudflare gives.
fn authenticate(
    state: &State,
    request: &tiny_http::Request,
) -> Result<AuthSeen, (AuthSeen, Reply)> {
    let refuse = |reply| Err((AuthSeen::Rejected, reply));
    let bad_header = |which: u32, what: &str| {
        Reply::error(400, 6003, "Invalid request headers", Some((which, what)))
    };
    if let Some(value) = header(request, "Authorization") {
        let token = value.strip_prefix("Bearer ").unwrap_or_default().trim();
        let well_formed = !token.is_empty()
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !well_formed {
            return refuse(bad_header(6111, "Invalid format for Authorization header"));
        }
        if state.tokens.iter().any(|t| t == token) {
            return Ok(AuthSeen::Token);
        }
        return refuse(Reply::error(403, 9109, "Invalid access token", None));
    }
    match (
        header(request, "X-Auth-Email"),
        header(request, "X-Auth-Key"),
    ) {
        (None, None) => Err((
            AuthSeen::Missing,
            Reply::error(400, 10000, "Authentication error", None),
        )),
        (None, Some(_)) => refuse(bad_header(6102, "Invalid format for X-Auth-Email header")),
        (Some(_), None) => refuse(bad_header(6103, "Invalid format for X-Auth-Key header")),
        (Some(email), Some(key)) => {
            if state.keys.iter().any(|(e, k)| *e == email && *k == key) {
                Ok(AuthSeen::Key)
            } else {
                refuse(Reply::error(
                    403,
                    9103,
                    "Unknown X-Auth-Key or X-Auth-Email",
                    None,
                ))
            }
        }
    }
}

fn route(state: &mut State, sink: Option<&Sink>, method: &str, target: &str, body: &str) -> Reply {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let Some(rest) = path.strip_prefix(BASE_PATH) else {
        return no_route();
    };
    let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["zones"]) => list_zones(state, query),
        (_, ["zones", zone, ..]) if !state.zones.iter().any(|z| z.id == *zone) => Reply::error(
            400,
            7003,
            &format!("Could not route to {rest}, perhaps your object identifier is invalid?"),
            None,
        ),
        ("GET", ["zones", zone]) => Reply::ok(zone_json(zone_by_id(state, zone))),
        ("GET", ["zones", zone, "dns_records"]) => list_records(state, zone, query),
        ("POST", ["zones", zone, "dns_records"]) => create_record(state, sink, zone, body),
        ("GET", ["zones", zone, "dns_records", id]) => {
            match state
                .records
                .iter()
                .find(|r| r.record.id == *id && r.zone_id == *zone)
            {
                Some(r) => Reply::ok(record_json(r)),
                None => record_missing(),
            }
        }
        ("DELETE", ["zones", zone, "dns_records", id]) => delete_record(state, sink, zone, id),
        _ => no_route(),
    }
}

fn no_route() -> Reply {
    Reply::error(404, 7000, "No route for that URI", None)
}

fn record_missing() -> Reply {
    Reply::error(404, 81044, "Record does not exist.", None)
}

fn zone_by_id<'a>(state: &'a State, id: &str) -> &'a Zone {
    state
        .zones
        .iter()
        .find(|z| z.id == id)
        .expect("zone checked by route")
}

/// One page of `items` as `page` / `per_page` ask, clamped as Cloudflare does.
fn paginate(state: &State, query: &str, default_per_page: u32, items: Vec<Value>) -> Reply {
    let number = |key: &str| query_param(query, key).and_then(|v| v.parse::<u32>().ok());
    let per_page = number("per_page")
        .unwrap_or(default_per_page)
        .clamp(1, state.max_per_page) as usize;
    let page = number("page").unwrap_or(1).max(1) as usize;
    let total = items.len();
    let total_pages = total.div_ceil(per_page);
    let result: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let info = json!({
        "page": page,
        "per_page": per_page,
        "count": result.len(),
        "total_count": total,
        "total_pages": total_pages,
    });
    Reply::list(result, info)
}

fn list_zones(state: &State, query: &str) -> Reply {
    let name = query_param(query, "name").map(|n| normalize(&n));
    let status = query_param(query, "status");
    let mut zones: Vec<&Zone> = state
        .zones
        .iter()
        .filter(|z| name.as_ref().is_none_or(|n| *n == z.name))
        .filter(|z| status.as_ref().is_none_or(|s| *s == z.status))
        .collect();
    zones.sort_by(|a, b| a.name.cmp(&b.name));
    let items = zones.into_iter().map(zone_json).collect();
    paginate(state, query, 20, items)
}

fn list_records(state: &State, zone: &str, query: &str) -> Reply {
    let param =
        |key: &str| query_param(query, key).or_else(|| query_param(query, &format!("{key}.exact")));
    let name = param("name").map(|n| normalize(&n));
    let rtype = param("type").map(|t| t.to_ascii_uppercase());
    let content = param("content");
    let items = state
        .records
        .iter()
        .filter(|r| r.zone_id == zone)
        .filter(|r| name.as_ref().is_none_or(|n| *n == r.record.name))
        .filter(|r| rtype.as_ref().is_none_or(|t| *t == r.record.rtype))
        .filter(|r| content.as_ref().is_none_or(|c| *c == r.record.content))
        .map(record_json)
        .collect();
    paginate(state, query, 100, items)
}

fn create_record(state: &mut State, sink: Option<&Sink>, zone_id: &str, body: &str) -> Reply {
    let Ok(body) = serde_json::from_str::<Value>(body) else {
        return Reply::error(400, 9207, "Request body is invalid.", None);
    };
    let invalid = |code: u32, message: &str| {
        Reply::error(400, 1004, "DNS Validation Error", Some((code, message)))
    };
    let zone_name = zone_by_id(state, zone_id).name.clone();
    let rtype = body["type"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    if !["A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA"].contains(&rtype.as_str()) {
        return invalid(9000, "DNS record type is invalid.");
    }
    let Some(raw_name) = body["name"].as_str().filter(|n| !n.trim().is_empty()) else {
        return invalid(9005, "DNS name is invalid.");
    };
    // Like Cloudflare: `@` is the apex, and a name outside the zone is taken as relative to it.
    let name = match normalize(raw_name) {
        n if n == "@" => zone_name.clone(),
        n if in_zone(&n, &zone_name) => n,
        n => format!("{n}.{zone_name}"),
    };
    let Some(content) = body["content"].as_str().filter(|c| !c.is_empty()) else {
        return invalid(9005, "Content for the record is invalid.");
    };
    if content.len() > 2048 {
        return invalid(9100, "Content is too long.");
    }
    let ttl = body["ttl"].as_u64().unwrap_or(1);
    if ttl != 1 && !(30..=86400).contains(&ttl) {
        return invalid(
            9021,
            "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.",
        );
    }
    let proxied = body["proxied"].as_bool().unwrap_or(false);
    if proxied && !proxiable(&rtype) {
        return Reply::error(400, 9004, "This record type cannot be proxied.", None);
    }
    let at_name: Vec<&FakeRecord> = state
        .records
        .iter()
        .filter(|r| r.zone_id == zone_id)
        .map(|r| &r.record)
        .filter(|r| r.name == name)
        .collect();
    if at_name
        .iter()
        .any(|r| r.rtype == rtype && r.content == content)
    {
        return Reply::error(400, 81058, "An identical record already exists.", None);
    }
    if rtype == "CNAME" && !at_name.is_empty() {
        return Reply::error(
            400,
            81053,
            "An A, AAAA, or CNAME record with that host already exists.",
            None,
        );
    }
    if at_name.iter().any(|r| r.rtype == "CNAME") {
        return Reply::error(
            400,
            81054,
            "A CNAME record with that host already exists.",
            None,
        );
    }
    let record = FakeRecord {
        id: new_id(),
        zone: zone_name,
        name,
        rtype,
        content: content.to_string(),
        ttl: ttl as u32,
        proxied,
    };
    if let Some(sink) = sink
        && let Err(e) = sink(&change(ChangeKind::Add, &record))
    {
        return Reply::error(500, 10001, &format!("Internal server error: {e}"), None);
    }
    state.records.push(Rec {
        record,
        zone_id: zone_id.to_string(),
        created: SystemTime::now(),
    });
    Reply::ok(record_json(state.records.last().expect("just pushed")))
}

fn delete_record(state: &mut State, sink: Option<&Sink>, zone: &str, id: &str) -> Reply {
    let Some(index) = state
        .records
        .iter()
        .position(|r| r.record.id == id && r.zone_id == zone)
    else {
        return record_missing();
    };
    if let Some(sink) = sink
        && let Err(e) = sink(&change(ChangeKind::Remove, &state.records[index].record))
    {
        return Reply::error(500, 10001, &format!("Internal server error: {e}"), None);
    }
    state.records.remove(index);
    Reply::ok(json!({"id": id}))
}

fn change(kind: ChangeKind, record: &FakeRecord) -> Change {
    Change {
        kind,
        zone: record.zone.clone(),
        name: record.name.clone(),
        rtype: record.rtype.clone(),
        content: record.content.clone(),
        value: wire_value(&record.rtype, &record.content),
        ttl: record.ttl,
    }
}

/// What a resolver gets for stored content: TXT `"a" "b"` is the text `ab`; a CNAME target loses
/// its trailing dot.
pub fn wire_value(rtype: &str, content: &str) -> String {
    match rtype {
        "TXT" => txt_text(content).unwrap_or_else(|| content.to_string()),
        "CNAME" => content.trim_end_matches('.').to_ascii_lowercase(),
        _ => content.to_string(),
    }
}

/// The text of TXT content written as RFC 1035 character-strings (`"a" "b\"c"`), or `None` when
/// it is not written that way.
fn txt_text(content: &str) -> Option<String> {
    let mut chars = content.trim().chars().peekable();
    chars.peek().filter(|c| **c == '"')?;
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => {
                        let next = chars.next()?;
                        if next.is_ascii_digit() {
                            let digits: String = [Some(next), chars.next(), chars.next()]
                                .into_iter()
                                .collect::<Option<String>>()?;
                            out.push(char::from(digits.parse::<u8>().ok()?));
                        } else {
                            out.push(next);
                        }
                    }
                    other => out.push(other),
                }
            },
            _ => return None,
        }
    }
    Some(out)
}

fn proxiable(rtype: &str) -> bool {
    matches!(rtype, "A" | "AAAA" | "CNAME")
}

/// A zone object with every field the `cloudflare` crate's `Zone` requires, and the ones the
/// real API sends besides.
fn zone_json(zone: &Zone) -> Value {
    let created = iso8601(zone.created);
    let active = zone.status == "active";
    json!({
        "id": zone.id,
        "name": zone.name,
        "status": zone.status,
        "paused": false,
        "type": "full",
        "development_mode": 0,
        "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
        "original_name_servers": ["ns1.example.net", "ns2.example.net"],
        "original_registrar": null,
        "original_dnshost": null,
        "modified_on": created,
        "created_on": created,
        "activated_on": if active { Value::String(created.clone()) } else { Value::Null },
        "meta": {
            "step": 4,
            "custom_certificate_quota": 0,
            "page_rule_quota": 3,
            "phishing_detected": false,
        },
        "owner": {"id": null, "type": "user", "email": null},
        "account": {"id": "01a7362d577a6c3019a474fd6f485823", "name": "dcv-sim account"},
        "tenant": {"id": null, "name": null},
        "tenant_unit": {"id": null},
        "permissions": ["#dns_records:edit", "#dns_records:read", "#zone:read"],
        "plan": {
            "id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
            "name": "Free Website",
            "price": 0,
            "currency": "USD",
            "frequency": "",
            "is_subscribed": false,
            "can_subscribe": false,
            "legacy_id": "free",
            "legacy_discount": false,
            "externally_managed": false,
        },
        "plan_pending": null,
        "betas": [],
        "vanity_name_servers": [],
        "host": null,
        "deactivation_reason": null,
    })
}

/// A DNS record object with every field the `cloudflare` crate's `DnsRecord` requires.
fn record_json(rec: &Rec) -> Value {
    let r = &rec.record;
    let at = iso8601(rec.created);
    let mut value = json!({
        "id": r.id,
        "zone_id": rec.zone_id,
        "zone_name": r.zone,
        "name": r.name,
        "type": r.rtype,
        "content": r.content,
        "proxiable": proxiable(&r.rtype),
        "proxied": r.proxied,
        "ttl": r.ttl,
        "locked": false,
        "settings": {},
        "meta": {"auto_added": false, "managed_by_apps": false, "managed_by_argo_tunnel": false},
        "comment": null,
        "tags": [],
        "created_on": at,
        "modified_on": at,
    });
    if r.rtype == "MX" {
        value["priority"] = json!(10);
    }
    value
}

fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn in_zone(name: &str, zone: &str) -> bool {
    name == zone || name.ends_with(&format!(".{zone}"))
}

/// A 32-hex-digit id like Cloudflare's.
fn new_id() -> String {
    format!("{:032x}", fastrand::u128(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_text_table() {
        let cases = [
            ("plain", None),
            ("\"quoted\"", Some("quoted")),
            ("\"a\" \"b\"", Some("ab")),
            ("\"say \\\"hi\\\"\"", Some("say \"hi\"")),
            ("\"back\\\\slash\"", Some("back\\slash")),
            ("\"\\065\"", Some("A")),
            ("\"open", None),
            ("\"a\" b", None),
        ];
        for (content, want) in cases {
            assert_eq!(txt_text(content).as_deref(), want, "{content}");
        }
        assert_eq!(wire_value("TXT", "plain"), "plain");
        assert_eq!(wire_value("CNAME", "Target.Example."), "target.example");
    }

    #[test]
    fn in_zone_table() {
        assert!(in_zone("example.test", "example.test"));
        assert!(in_zone("a.example.test", "example.test"));
        assert!(!in_zone("badexample.test", "example.test"));
    }
}

/// A short, stable fingerprint of a token (FNV-1a, hex): tells requests' credentials apart in the
/// request log without keeping the token itself there.
pub fn token_fingerprint(token: &str) -> String {
    let hash = token.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("fp:{hash:016x}")
}
