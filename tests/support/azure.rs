//! A fake Azure on one loopback port, written from the public API reference (no emulator exists):
//! Microsoft Entra ID's token endpoint (`POST /{tenant}/oauth2/v2.0/token`, client credentials with
//! a secret or a federated `client_assertion`), an App Service managed identity endpoint
//! (`GET /msi/token` with `X-IDENTITY-HEADER`) and the Azure DNS zone and record set API
//! (`/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/dnsZones/{zone}[/{type}/{name}]`,
//! `api-version=2018-05-01`).
//!
//! The semantics the provider relies on are enforced: a bearer token the fake issued and that has
//! not expired (else 401 `InvalidAuthenticationToken`); record sets with ETags, a PUT replacing a
//! set whole, `If-Match` and `If-None-Match: *` answered with 412 `PreconditionFailed` when they do
//! not hold (PUT and DELETE); TXT strings of 1 to 255 characters and a TTL (else 400); unknown
//! resource group 404 `ResourceGroupNotFound`, unknown zone or set 404 `ResourceNotFound`. Faults on
//! demand: 429 with `Retry-After: 1` for the next N calls ([`FakeAzure::throttle`]), another writer
//! changing a set between a client's read and its write ([`FakeAzure::race`]), writes forbidden
//! (403 `AuthorizationFailed`), writes at a name refused with 400. What the fake holds can be mirrored
//! into the BIND fixture after each change, so the real propagation check sees it.
//!
//! It is kept apart from the code under test: only the wire format is shared.

use super::bind::BindFixture;
use super::front::read_request;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

pub const TENANT: &str = "72f988bf-0000-4000-8000-00000000aaaa";
pub const CLIENT_ID: &str = "0e1c2d3f-0000-4000-8000-00000000bbbb";
pub const SECRET: &str = "azure-test-client-secret-0123456789~abc";
pub const SUBSCRIPTION: &str = "5d1a7c3e-0000-4000-8000-00000000cccc";
pub const GROUP: &str = "dns-rg";
/// The header App Service gives its managed identity endpoint.
pub const IDENTITY_HEADER: &str = "identity-header-secret-5150";
/// The federated token (a JWT in real life) AKS writes to AZURE_FEDERATED_TOKEN_FILE.
pub const FEDERATED: &str = "eyJhbGciOiJSUzI1NiJ9.federated-test-assertion.c2lnbmF0dXJl";
const API_VERSION: &str = "2018-05-01";

/// One record set as Azure keeps it.
#[derive(Clone, Debug)]
struct Stored {
    etag: String,
    ttl: u64,
    metadata: Json,
    /// TXT records, each a list of strings.
    txt: Vec<Vec<String>>,
}

#[derive(Default)]
struct State {
    zones: Vec<String>,
    /// (zone, type, relative name) -> set.
    sets: BTreeMap<(String, String, String), Stored>,
    tokens: Vec<(String, Instant)>,
    token_lifetime: u64,
    etags: u64,
    throttle: usize,
    race: usize,
    /// PUTs at this relative name are refused (400).
    refuse_at: Option<String>,
    deny_writes: bool,
    /// Every request: `METHOD path [condition]`, no credentials.
    log: Vec<String>,
    precondition_failed: usize,
    mirror: Option<Weak<BindFixture>>,
}

pub struct FakeAzure {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeAzure {
    /// The fake with zones `example.test` and `other.test` in [`GROUP`].
    pub fn start() -> FakeAzure {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            zones: vec!["example.test".into(), "other.test".into()],
            token_lifetime: 3599,
            ..State::default()
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(client, &state));
            }
        });
        FakeAzure { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The environment of a service principal with a secret, and the subscription.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_ID", CLIENT_ID.into()),
            ("AZURE_CLIENT_SECRET", SECRET.into()),
            ("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION.into()),
        ]
    }

    /// The flags pointing the provider at this fake (endpoint, authority, resource group).
    pub fn flags(&self) -> Vec<String> {
        [
            "--azure-endpoint",
            &self.url(),
            "--azure-authority-host",
            &self.url(),
            "--azure-resource-group",
            GROUP,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The TXT values at `name` (a full name) in `zone`, each record's strings joined, sorted.
    pub fn txt_values(&self, zone: &str, name: &str) -> Vec<String> {
        let key = (zone.to_string(), "TXT".to_string(), relative(name, zone));
        let mut values: Vec<String> = self
            .state()
            .sets
            .get(&key)
            .map(|s| s.txt.iter().map(|r| r.concat()).collect())
            .unwrap_or_default();
        values.sort();
        values
    }

    /// The TTL and metadata of the TXT set at `name` in `zone`.
    pub fn ttl_and_metadata(&self, zone: &str, name: &str) -> Option<(u64, Json)> {
        let key = (zone.to_string(), "TXT".to_string(), relative(name, zone));
        self.state()
            .sets
            .get(&key)
            .map(|s| (s.ttl, s.metadata.clone()))
    }

    /// Adds TXT `value` at `name` the way another tool would, beside what is there, with `metadata`
    /// and TTL 3600 when the set is new.
    pub fn add_foreign_txt(&self, zone: &str, name: &str, value: &str) {
        let mut state = self.state();
        let key = (zone.to_string(), "TXT".to_string(), relative(name, zone));
        add_value(&mut state, key, value);
        mirror(&state, zone, name);
    }

    /// Answers the next `n` management calls with 429 and `Retry-After: 1`.
    pub fn throttle(&self, n: usize) {
        self.state().throttle = n;
    }

    /// The next `n` PUTs or DELETEs find that another writer added a value (`racer-K`) to the set
    /// after the client read it.
    pub fn race(&self, n: usize) {
        self.state().race = n;
    }

    /// Writes are forbidden (403), as for a Reader role.
    pub fn deny_writes(&self) {
        self.state().deny_writes = true;
    }

    /// PUTs at `relative` (a name relative to its zone) are refused with 400 BadRequest.
    pub fn refuse_writes_at(&self, relative: &str) {
        self.state().refuse_at = Some(relative.to_string());
    }

    /// Tokens live this many seconds.
    pub fn token_lifetime(&self, seconds: u64) {
        self.state().token_lifetime = seconds;
    }

    /// How many writes were answered 412.
    pub fn precondition_failed(&self) -> usize {
        self.state().precondition_failed
    }

    /// Every request so far: `METHOD path [condition]`.
    pub fn log(&self) -> Vec<String> {
        self.state().log.clone()
    }

    /// Mirrors every change into `bind` from now on.
    pub fn mirror_into(&self, bind: &Arc<BindFixture>) {
        self.state().mirror = Some(Arc::downgrade(bind));
    }
}

/// `name` relative to `zone` (`@` at the apex).
fn relative(name: &str, zone: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    match name.strip_suffix(&format!(".{zone}")) {
        Some(rel) => rel.to_string(),
        None => "@".to_string(),
    }
}

fn add_value(state: &mut State, key: (String, String, String), value: &str) {
    state.etags += 1;
    let etag = format!("etag-{}", state.etags);
    let stored = state.sets.entry(key).or_insert_with(|| Stored {
        etag: String::new(),
        ttl: 3600,
        metadata: json!({"owner": "another-tool"}),
        txt: Vec::new(),
    });
    stored.txt.push(vec![value.to_string()]);
    stored.etag = etag;
}

/// A request as the fake reads it.
struct Request {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
    body: String,
}

struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Json,
}

fn answer(status: u16, body: Json) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body,
    }
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    answer(status, json!({"error": {"code": code, "message": message}}))
}

fn serve(mut client: TcpStream, state: &Mutex<State>) {
    let Some(raw) = read_request(&mut client) else {
        return;
    };
    let Some(request) = parse(&raw) else {
        return;
    };
    let answer = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        route(&mut state, &request)
    };
    let body = if answer.body.is_null() {
        String::new()
    } else {
        answer.body.to_string()
    };
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        body.len()
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let _ = client.write_all(format!("{head}\r\n{body}").as_bytes());
}

fn parse(raw: &[u8]) -> Option<Request> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Request {
        method,
        path: decode(path),
        query: form(query),
        headers,
        body: body.to_string(),
    })
}

/// `a=b&c=d`, percent- and plus-decoded.
fn form(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

fn route(state: &mut State, request: &Request) -> Answer {
    let condition = match (
        request.headers.get("if-match"),
        request.headers.get("if-none-match"),
    ) {
        (Some(etag), _) => format!(" If-Match:{etag}"),
        (None, Some(star)) => format!(" If-None-Match:{star}"),
        (None, None) => String::new(),
    };
    state
        .log
        .push(format!("{} {}{condition}", request.method, request.path));
    if request.method == "POST" && request.path.ends_with("/oauth2/v2.0/token") {
        return token(state, request);
    }
    if request.path == "/msi/token" {
        return managed_identity(state, request);
    }
    if let Some(rest) = request.path.strip_prefix("/subscriptions/") {
        return management(state, request, rest);
    }
    error(404, "NotFound", "no such endpoint in the fake")
}

/// A token for the caller: the answer Entra ID gives.
fn issue(state: &mut State) -> Json {
    state.etags += 1;
    let token = format!("fake-access-token-{}-{}", state.etags, fastrand::u64(..));
    let lifetime = state.token_lifetime;
    state.tokens.push((
        token.clone(),
        Instant::now() + Duration::from_secs(lifetime),
    ));
    json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token})
}

fn token(state: &mut State, request: &Request) -> Answer {
    let tenant = request.path.trim_start_matches('/').split('/').next();
    if tenant != Some(TENANT) {
        return answer(
            400,
            json!({"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."}),
        );
    }
    let form = form(&request.body);
    let field = |k: &str| form.get(k).map(String::as_str);
    if field("grant_type") != Some("client_credentials")
        || field("scope") != Some("https://management.azure.com/.default")
    {
        return answer(
            400,
            json!({"error": "invalid_request", "error_description": "AADSTS900144: bad grant or scope"}),
        );
    }
    if field("client_id") != Some(CLIENT_ID) {
        return answer(
            400,
            json!({"error": "unauthorized_client", "error_description": "AADSTS700016: Application not found in the directory."}),
        );
    }
    let proven = field("client_secret") == Some(SECRET)
        || (field("client_assertion") == Some(FEDERATED)
            && field("client_assertion_type")
                == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
    if !proven {
        return answer(
            401,
            json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
        );
    }
    answer(200, issue(state))
}

fn managed_identity(state: &mut State, request: &Request) -> Answer {
    if request.headers.get("x-identity-header").map(String::as_str) != Some(IDENTITY_HEADER)
        || request.query.get("resource").map(String::as_str)
            != Some("https://management.azure.com/")
    {
        return error(400, "invalid_request", "bad X-IDENTITY-HEADER or resource");
    }
    let mut token = issue(state);
    // App Service gives the lifetime as expires_on, a string.
    let on = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + state.token_lifetime;
    token["expires_on"] = json!(on.to_string());
    token.as_object_mut().unwrap().remove("expires_in");
    answer(200, token)
}

/// The zone and record set calls.
fn management(state: &mut State, request: &Request, rest: &str) -> Answer {
    let bearer = request
        .headers
        .get("authorization")
        .and_then(|a| a.strip_prefix("Bearer "));
    let now = Instant::now();
    if !bearer.is_some_and(|t| state.tokens.iter().any(|(k, until)| k == t && *until > now)) {
        return error(
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        );
    }
    if request.query.get("api-version").map(String::as_str) != Some(API_VERSION) {
        return error(400, "InvalidApiVersionParameter", "unsupported api-version");
    }
    if state.throttle > 0 {
        state.throttle -= 1;
        let mut a = error(429, "TooManyRequests", "Too many requests.");
        a.headers.push(("Retry-After", "1".into()));
        return a;
    }
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [sub, ..] if *sub != SUBSCRIPTION => error(404, "SubscriptionNotFound", "no subscription"),
        [_, "resourceGroups", rg, ..] if *rg != GROUP => error(
            404,
            "ResourceGroupNotFound",
            &format!("Resource group '{rg}' could not be found."),
        ),
        [
            _,
            "resourceGroups",
            _,
            "providers",
            "Microsoft.Network",
            "dnsZones",
            zone,
            more @ ..,
        ] => {
            let zone = zone.to_ascii_lowercase();
            if !state.zones.contains(&zone) {
                return error(404, "ResourceNotFound", "The Resource was not found.");
            }
            match more {
                [] if request.method == "GET" => answer(
                    200,
                    json!({"name": zone, "type": "Microsoft.Network/dnszones", "etag": "zone-etag", "location": "global", "properties": {"zoneType": "Public", "nameServers": ["ns1-01.azure-dns.com."]}}),
                ),
                [rtype, name] => record_set(
                    state,
                    request,
                    (zone, rtype.to_string(), name.to_ascii_lowercase()),
                ),
                _ => error(405, "MethodNotAllowed", "not in the fake"),
            }
        }
        _ => error(404, "NotFound", "no such path in the fake"),
    }
}

fn set_json(key: &(String, String, String), stored: &Stored) -> Json {
    let records: Vec<Json> = stored.txt.iter().map(|r| json!({"value": r})).collect();
    json!({
        "name": key.2, "type": format!("Microsoft.Network/dnszones/{}", key.1), "etag": stored.etag,
        "properties": {"TTL": stored.ttl, "metadata": stored.metadata, "TXTRecords": records,
            "fqdn": format!("{}.{}.", key.2, key.0), "provisioningState": "Succeeded"}
    })
}

fn record_set(state: &mut State, request: &Request, key: (String, String, String)) -> Answer {
    if key.1 != "TXT" {
        return error(400, "BadRequest", "the fake keeps TXT sets only");
    }
    if request.method == "GET" {
        return match state.sets.get(&key) {
            Some(stored) => answer(200, set_json(&key, stored)),
            None => error(404, "ResourceNotFound", "The Resource was not found."),
        };
    }
    if state.deny_writes {
        return error(
            403,
            "AuthorizationFailed",
            "The client does not have authorization to perform action 'Microsoft.Network/dnszones/TXT/write'.",
        );
    }
    if state.race > 0 {
        state.race -= 1;
        let racer = format!("racer-{}", state.race + 1);
        add_value(state, key.clone(), &racer);
    }
    if let Some(failed) = precondition(state, request, &key) {
        state.precondition_failed += 1;
        return failed;
    }
    let done = match request.method.as_str() {
        "PUT" => put(state, request, &key),
        "DELETE" => match state.sets.remove(&key) {
            Some(_) => answer(200, Json::Null),
            None => answer(204, Json::Null),
        },
        _ => error(405, "MethodNotAllowed", "not in the fake"),
    };
    if done.status < 300 {
        let name = match key.2.as_str() {
            "@" => key.0.clone(),
            rel => format!("{rel}.{}", key.0),
        };
        mirror(state, &key.0, &name);
    }
    done
}

/// 412 unless `If-Match` names the set's ETag and `If-None-Match: *` finds no set.
fn precondition(
    state: &State,
    request: &Request,
    key: &(String, String, String),
) -> Option<Answer> {
    let etag = state.sets.get(key).map(|s| s.etag.as_str());
    let holds = match (
        request.headers.get("if-match"),
        request.headers.get("if-none-match"),
    ) {
        (Some(wanted), _) => etag == Some(wanted.as_str()),
        (None, Some(star)) if star == "*" => etag.is_none(),
        _ => true,
    };
    (!holds).then(|| {
        error(
            412,
            "PreconditionFailed",
            "The condition specified using HTTP conditional header(s) is not met.",
        )
    })
}

fn put(state: &mut State, request: &Request, key: &(String, String, String)) -> Answer {
    if state.refuse_at.as_deref() == Some(key.2.as_str()) {
        return error(
            400,
            "BadRequest",
            "The record set is not valid (refused by the test).",
        );
    }
    let body: Json = serde_json::from_str(&request.body).unwrap_or_default();
    let props = &body["properties"];
    let Some(ttl) = props["TTL"].as_u64().filter(|t| *t >= 1) else {
        return error(400, "BadRequest", "The TTL is missing or invalid.");
    };
    let mut txt = Vec::new();
    for record in props["TXTRecords"].as_array().cloned().unwrap_or_default() {
        let strings: Vec<String> = record["value"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if strings.is_empty() || strings.iter().any(|s| s.is_empty() || s.len() > 255) {
            return error(
                400,
                "BadRequest",
                "A TXT string must be 1 to 255 characters.",
            );
        }
        txt.push(strings);
    }
    state.etags += 1;
    let created = !state.sets.contains_key(key);
    let stored = Stored {
        etag: format!("etag-{}", state.etags),
        ttl,
        metadata: props["metadata"].clone(),
        txt,
    };
    let json = set_json(key, &stored);
    state.sets.insert(key.clone(), stored);
    let mut a = answer(if created { 201 } else { 200 }, json);
    a.headers.push(("ETag", format!("etag-{}", state.etags)));
    a
}

/// Writes the TXT set at `name` of `zone` as the fake holds it into the mirror, if any.
fn mirror(state: &State, zone: &str, name: &str) {
    let Some(bind) = state.mirror.as_ref().and_then(Weak::upgrade) else {
        return;
    };
    let key = (zone.to_string(), "TXT".to_string(), relative(name, zone));
    let mut lines = vec![format!("update delete {name}. TXT")];
    for record in state
        .sets
        .get(&key)
        .map(|s| s.txt.clone())
        .unwrap_or_default()
    {
        let strings: Vec<String> = record.iter().map(|s| format!("\"{s}\"")).collect();
        lines.push(format!(
            "update add {name}. 60 IN TXT {}",
            strings.join(" ")
        ));
    }
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    bind.update(zone, &lines);
}
