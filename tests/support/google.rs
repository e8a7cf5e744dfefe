//! A fake Google Cloud DNS v1 and OAuth2 token endpoint on a loopback port, written from the public
//! API reference (no emulator exists), apart from the code under test. What it enforces:
//! - The token endpoint (`POST /token`) takes a service account's JWT (`grant_type` jwt-bearer) only
//!   when its RS256 signature verifies with the public half of the test key (made with openssl at
//!   test time, [`TestKey`]) and its `iss`, `aud`, `scope` and `exp` are right; and gcloud's refresh
//!   token grant with the right client and token. Tokens expire after [`FakeGoogle::set_token_lifetime`].
//! - The metadata server's token and project id, only with `Metadata-Flavor: Google`.
//! - Workload identity federation: STS (`POST /sts/v1/token`) takes the token exchange of
//!   [`SUBJECT_TOKEN`] for [`AUDIENCE`], IAM credentials' `generateAccessToken` a federated
//!   token for the service account with the Cloud DNS scope; `/subject-token` serves the subject
//!   token (with `Metadata: True`, as Azure's IMDS wants).
//! - Cloud DNS under `/dns/v1/projects/{project}/`: `managedZones?dnsName=`, `managedZones/{zone}`,
//!   `.../rrsets?name=&type=`, `POST .../changes` and `GET .../changes/{id}`, each with a valid
//!   bearer token (else 401), an unknown project or zone 404. A change is applied whole or not at
//!   all: a deletion that is not the set as it is (name, type, ttl, rrdatas) is refused 412
//!   `conditionNotMet` (404 `notFound` when the set is gone), an addition of a set that exists 409
//!   `alreadyExists`, a name outside the zone or an empty change 400 `invalid`. Changes are
//!   `pending` when made and `done` when asked again.
//! - Faults: the next N API calls throttled (429 with `Retry-After`), another writer's value slipped
//!   in before the next change, changes forbidden (403), a value refused (400).
//!
//! Every applied change can be mirrored into the BIND fixture, so the real propagation check and the
//! CertCentral simulator see what Cloud DNS would serve.

use super::bind::BindFixture;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const PROJECT: &str = "dcv-test-project";
pub const EMAIL: &str = "dcv-hook@dcv-test-project.iam.gserviceaccount.com";
/// gcloud's authorized_user credentials the fake accepts.
pub const CLIENT_ID: &str = "fake-client.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "fake-client-secret-d-not-use";
pub const REFRESH_TOKEN: &str = "1//fake-refresh-token-0123456789";
/// Workload identity federation: the pool provider's audience and the other platform's token the
/// fake's STS accepts (the fake also serves it at `/subject-token`, as an OIDC provider would).
pub const AUDIENCE: &str =
    "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/dcv/providers/test";
pub const SUBJECT_TOKEN: &str = "eyJ.fake-oidc-subject-token.sig";
/// Every access token the fake hands out starts with this (to look for leaks).
pub const TOKEN_PREFIX: &str = "ya29.fake-";

/// The test's RSA key, made once per test binary with `openssl genpkey` (a throwaway: never a real
/// credential): its PKCS#8 PEM and its public half (PKCS#1 DER).
pub struct TestKey {
    pub pem: String,
    pub public: Vec<u8>,
}

pub fn test_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(generate_key)
}

/// Another key, which the fake does not know (its service account's key was rotated).
pub fn unknown_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(generate_key)
}

fn generate_key() -> TestKey {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("key.pem");
    let pub_der = dir.path().join("pub.der");
    let run = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl (scripts/test installs it)");
        assert!(status.success(), "openssl {args:?}");
    };
    let (pem_s, pub_s) = (pem.to_str().unwrap(), pub_der.to_str().unwrap());
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        pem_s,
    ]);
    run(&[
        "rsa",
        "-in",
        pem_s,
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        pub_s,
    ]);
    TestKey {
        pem: std::fs::read_to_string(&pem).unwrap(),
        public: std::fs::read(&pub_der).unwrap(),
    }
}

/// A managed zone of the fake.
#[derive(Clone, Debug)]
struct FakeZone {
    name: String,
    dns_name: String,
    private: bool,
}

/// One request as the fake saw it (no credentials).
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub at: Instant,
}

/// A record set's (zone name, fqdn, type).
type SetKey = (String, String, String);

#[derive(Default)]
struct State {
    zones: Vec<FakeZone>,
    /// (zone name, fqdn, type) -> (ttl, rrdatas).
    sets: BTreeMap<SetKey, (u32, Vec<String>)>,
    tokens: Vec<(String, Instant)>,
    token_lifetime: u64,
    changes: u64,
    throttle: usize,
    retry_after: u64,
    /// Throttle with 403 `rateLimitExceeded` (Cloud DNS's per-user quota) instead of 429.
    throttle_403: bool,
    meddle: Option<(String, String)>,
    forbid_changes: bool,
    refused_value: Option<String>,
    seen: Vec<Seen>,
    mirror: Option<Weak<BindFixture>>,
    token_grants: usize,
    impersonations: usize,
}

pub struct FakeGoogle {
    state: Arc<Mutex<State>>,
    addr: std::net::SocketAddr,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeGoogle {
    /// Public zones `example-test` (example.test) and `other-test` (other.test), and a private
    /// `example-test-private` (example.test).
    pub fn start() -> FakeGoogle {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let addr = server.server_addr().to_ip().unwrap();
        let zones = [
            ("example-test", "example.test.", false),
            ("other-test", "other.test.", false),
            ("example-test-private", "example.test.", true),
        ];
        let state = Arc::new(Mutex::new(State {
            zones: zones
                .iter()
                .map(|(n, d, p)| FakeZone {
                    name: n.to_string(),
                    dns_name: d.to_string(),
                    private: *p,
                })
                .collect(),
            token_lifetime: 3600,
            ..State::default()
        }));
        let (worker, shared) = (server.clone(), state.clone());
        let thread = std::thread::spawn(move || {
            while let Ok(request) = worker.recv() {
                handle(&shared, addr, request);
            }
        });
        FakeGoogle {
            state,
            addr,
            server,
            thread: Some(thread),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// What `--google-endpoint` is set to.
    pub fn endpoint(&self) -> String {
        format!("http://{}/dns/v1", self.addr)
    }

    /// What GCE_METADATA_HOST is set to.
    pub fn metadata_host(&self) -> String {
        self.addr.to_string()
    }

    pub fn token_uri(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// A service account key file for the fake, written to `dir`.
    pub fn service_account_file(&self, dir: &Path) -> std::path::PathBuf {
        let file = dir.join("service-account.json");
        let json = json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "0123456789abcdef",
            "private_key": test_key().pem,
            "client_email": EMAIL,
            "client_id": "1234567890",
            "token_uri": self.token_uri(),
        });
        private_file(&file, &json.to_string());
        file
    }

    /// A workload identity federation file for the fake, written to `dir`: the subject token from
    /// a JSON file (written too) and impersonating the service account, or (`from_url`) from the
    /// fake's `/subject-token` as text, used directly.
    pub fn external_account_file(&self, dir: &Path, from_url: bool) -> std::path::PathBuf {
        let file = dir.join("external-account.json");
        let mut json = json!({
            "type": "external_account",
            "audience": AUDIENCE,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": format!("http://{}/sts/v1/token", self.addr),
        });
        if from_url {
            json["credential_source"] = json!({"url": format!("http://{}/subject-token", self.addr),
                "headers": {"Metadata": "True"}});
        } else {
            let token = dir.join("oidc-token.json");
            private_file(&token, &json!({"id_token": SUBJECT_TOKEN}).to_string());
            json["credential_source"] = json!({"file": token,
                "format": {"type": "json", "subject_token_field_name": "id_token"}});
            json["service_account_impersonation_url"] = format!(
                "http://{}/iam/v1/projects/-/serviceAccounts/{EMAIL}:generateAccessToken",
                self.addr
            )
            .into();
        }
        private_file(&file, &json.to_string());
        file
    }

    /// gcloud's application default credentials for the fake (authorized_user), written to `dir`.
    pub fn authorized_user_file(&self, dir: &Path) -> std::path::PathBuf {
        let file = dir.join("application_default_credentials.json");
        let json = json!({
            "type": "authorized_user",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
            "token_uri": self.token_uri(),
        });
        private_file(&file, &json.to_string());
        file
    }

    /// The TXT values at `name` in `zone` (its managed zone name), unquoted and sorted.
    pub fn txt_values(&self, zone: &str, name: &str) -> Vec<String> {
        let key = (zone.to_string(), format!("{name}."), "TXT".to_string());
        let mut values: Vec<String> = self
            .state()
            .sets
            .get(&key)
            .map(|(_, v)| v.iter().map(|d| unquote(d)).collect())
            .unwrap_or_default();
        values.sort();
        values
    }

    /// Adds TXT `value` at `name` in `zone` beside what is there, as another tool would.
    pub fn add_foreign_txt(&self, zone: &str, name: &str, value: &str) {
        let mut state = self.state();
        add_value(&mut state, zone, &format!("{name}."), value);
        mirror(&state, zone, &format!("{name}."));
    }

    /// The next `n` Cloud DNS calls are answered 429 with `Retry-After: retry_after`.
    pub fn throttle(&self, n: usize, retry_after: u64) {
        let mut state = self.state();
        state.throttle = n;
        state.retry_after = retry_after;
        state.throttle_403 = false;
    }

    /// The next `n` Cloud DNS calls are answered 403 `rateLimitExceeded` (no `Retry-After`).
    pub fn throttle_403(&self, n: usize) {
        self.throttle(n, 0);
        self.state().throttle_403 = true;
    }

    /// Just before the next change is looked at, another writer adds `value` at `name` in `zone`
    /// (so the change's deletion no longer matches).
    pub fn meddle_before_next_change(&self, zone: &str, name: &str, value: &str) {
        self.state().meddle = Some((format!("{zone}\0{name}."), value.to_string()));
    }

    /// Changes are refused 403 (the account may read but not write).
    pub fn forbid_changes(&self) {
        self.state().forbid_changes = true;
    }

    /// A change adding `value` is refused 400 `invalid`, as Cloud DNS refuses bad rrdata.
    pub fn refuse_value(&self, value: &str) {
        self.state().refused_value = Some(format!("\"{value}\""));
    }

    /// How long tokens live from now on.
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.state().token_lifetime = seconds;
    }

    /// How many tokens were granted.
    pub fn token_grants(&self) -> usize {
        self.state().token_grants
    }

    /// How many service account tokens were made by impersonation.
    pub fn impersonations(&self) -> usize {
        self.state().impersonations
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }

    /// Mirrors every applied change's TXT sets into `bind` (weak: the fixture drops with its test).
    pub fn mirror_into(&self, bind: &Arc<BindFixture>) {
        self.state().mirror = Some(Arc::downgrade(bind));
    }
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn private_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
}

fn unquote(data: &str) -> String {
    dcv_hook::publish::txt::txt_text(data).unwrap_or_else(|| data.to_string())
}

fn add_value(state: &mut State, zone: &str, fqdn: &str, value: &str) {
    let key = (zone.to_string(), fqdn.to_string(), "TXT".to_string());
    let set = state.sets.entry(key).or_insert((300, Vec::new()));
    set.1.push(format!("\"{value}\""));
}

/// Writes the TXT set at `fqdn` of `zone` into the mirror, if there is one (the BIND zone is the
/// name's last two labels).
fn mirror(state: &State, zone: &str, fqdn: &str) {
    let Some(bind) = state.mirror.as_ref().and_then(Weak::upgrade) else {
        return;
    };
    let name = fqdn.trim_end_matches('.');
    let labels: Vec<&str> = name.rsplitn(3, '.').collect();
    let bind_zone = format!("{}.{}", labels[1], labels[0]);
    let key = (zone.to_string(), fqdn.to_string(), "TXT".to_string());
    let mut lines = vec![format!("update delete {fqdn} TXT")];
    for data in state
        .sets
        .get(&key)
        .map(|s| s.1.clone())
        .unwrap_or_default()
    {
        lines.push(format!("update add {fqdn} 60 IN TXT {data}"));
    }
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    bind.update(&bind_zone, &lines);
}

type Reply = (u16, Value, Option<u64>);

fn error(status: u16, reason: &str, message: &str) -> Reply {
    let body = json!({"error": {"code": status, "message": message,
        "errors": [{"domain": "global", "reason": reason, "message": message}]}});
    (status, body, None)
}

fn handle(shared: &Mutex<State>, addr: std::net::SocketAddr, mut request: tiny_http::Request) {
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let method = request.method().to_string();
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let header = |name: &str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str().to_string())
    };
    let (bearer, flavor) = (header("authorization"), header("metadata-flavor"));
    let mut state = shared.lock().unwrap();
    let (status, reply, retry_after) = if path == "/token" {
        token(&mut state, &body, &format!("http://{addr}/token"))
    } else if path == "/sts/v1/token" {
        sts(&mut state, &body)
    } else if path == "/subject-token" && header("metadata").as_deref() == Some("True") {
        (200, Value::String(SUBJECT_TOKEN.into()), None)
    } else if path.starts_with("/iam/v1/projects/-/serviceAccounts/") {
        impersonate(&mut state, path, &body, bearer.as_deref())
    } else if let Some(what) = path.strip_prefix("/computeMetadata/v1/") {
        metadata(&mut state, what, flavor.as_deref())
    } else if let Some(rest) = path.strip_prefix("/dns/v1/projects/") {
        dns(&mut state, &method, rest, query, &body, bearer.as_deref())
    } else {
        error(404, "notFound", "no such path")
    };
    state.seen.push(Seen {
        method,
        path: path.to_string(),
        status,
        at: Instant::now(),
    });
    drop(state);
    // The metadata server answers plain text; everything else is JSON.
    let text = match reply {
        Value::String(text) => text,
        json => json.to_string(),
    };
    let mut response = tiny_http::Response::from_string(text)
        .with_status_code(status)
        .with_header(
            "Content-Type: application/json"
                .parse::<tiny_http::Header>()
                .unwrap(),
        );
    if let Some(seconds) = retry_after {
        let h = format!("Retry-After: {seconds}");
        response = response.with_header(h.parse::<tiny_http::Header>().unwrap());
    }
    let _ = request.respond(response);
}

fn form(body: &str) -> BTreeMap<String, String> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn grant(state: &mut State) -> Reply {
    let token = format!("{TOKEN_PREFIX}{:016x}", fastrand::u64(..));
    let lifetime = state.token_lifetime;
    state.tokens.push((
        token.clone(),
        Instant::now() + Duration::from_secs(lifetime),
    ));
    state.token_grants += 1;
    let body = json!({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"});
    (200, body, None)
}

fn oauth_error(error: &str, description: &str) -> Reply {
    (
        400,
        json!({"error": error, "error_description": description}),
        None,
    )
}

/// The token endpoint: a service account's signed JWT, or a refresh token.
fn token(state: &mut State, body: &str, audience: &str) -> Reply {
    let form = form(body);
    match form.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            match check_jwt(form.get("assertion").map_or("", String::as_str), audience) {
                Ok(()) => grant(state),
                Err(why) => oauth_error("invalid_grant", why),
            }
        }
        Some("refresh_token") => {
            let right = form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
                && form.get("refresh_token").map(String::as_str) == Some(REFRESH_TOKEN);
            if right {
                grant(state)
            } else {
                oauth_error("invalid_grant", "Bad Request")
            }
        }
        _ => oauth_error("unsupported_grant_type", "Invalid grant_type"),
    }
}

/// Google's STS: the other platform's token for a federated token.
fn sts(state: &mut State, body: &str) -> Reply {
    let form = form(body);
    let field = |k: &str| form.get(k).map_or("", String::as_str);
    let right = field("grant_type") == "urn:ietf:params:oauth:grant-type:token-exchange"
        && field("audience") == AUDIENCE
        && field("subject_token_type") == "urn:ietf:params:oauth:token-type:jwt"
        && field("requested_token_type") == "urn:ietf:params:oauth:token-type:access_token"
        && field("subject_token") == SUBJECT_TOKEN
        && !field("scope").is_empty();
    if right {
        grant(state)
    } else {
        oauth_error(
            "invalid_grant",
            "The subject token or its audience is not accepted.",
        )
    }
}

/// IAM credentials' generateAccessToken: a federated token for the service account's token.
fn impersonate(state: &mut State, path: &str, body: &str, bearer: Option<&str>) -> Reply {
    let token = bearer.and_then(|b| b.strip_prefix("Bearer ")).unwrap_or("");
    if !state.tokens.iter().any(|(t, _)| t == token) {
        return error(
            401,
            "authError",
            "Request had invalid authentication credentials.",
        );
    }
    let body: Value = serde_json::from_str(body).unwrap_or_default();
    let scoped = body["scope"].as_array().is_some_and(|s| {
        s.iter().any(|s| {
            s.as_str()
                .is_some_and(|s| s.ends_with("ndev.clouddns.readwrite"))
        })
    });
    if !path.ends_with(&format!("{EMAIL}:generateAccessToken")) || !scoped {
        return error(
            403,
            "forbidden",
            "Permission 'iam.serviceAccounts.getAccessToken' denied",
        );
    }
    state.impersonations += 1;
    let (_, granted, _) = grant(state);
    let reply =
        json!({"accessToken": granted["access_token"], "expireTime": "2099-01-01T00:00:00Z"});
    (200, reply, None)
}

/// A JWT signed with the test key for the fake's token endpoint, for Cloud DNS, not expired.
fn check_jwt(jwt: &str, audience: &str) -> Result<(), &'static str> {
    let b64 = data_encoding::BASE64URL_NOPAD;
    let (signed, signature) = jwt.rsplit_once('.').ok_or("Invalid JWT")?;
    let signature = b64
        .decode(signature.as_bytes())
        .map_err(|_| "Invalid JWT")?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &test_key().public)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| "Invalid JWT Signature.")?;
    let (header, claims) = signed.split_once('.').ok_or("Invalid JWT")?;
    let part =
        |p: &str| -> Option<Value> { serde_json::from_slice(&b64.decode(p.as_bytes()).ok()?).ok() };
    let (header, claims) = (
        part(header).ok_or("bad header")?,
        part(claims).ok_or("bad claims")?,
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = claims["exp"].as_u64().unwrap_or(0);
    let iat = claims["iat"].as_u64().unwrap_or(0);
    let scope = claims["scope"].as_str().unwrap_or_default();
    if header["alg"] != "RS256"
        || claims["iss"] != EMAIL
        || claims["aud"] != audience
        || !scope
            .split(' ')
            .any(|s| s.ends_with("/auth/ndev.clouddns.readwrite"))
    {
        return Err("Invalid JWT: wrong alg, iss, aud or scope");
    }
    if exp <= now || iat > now + 60 || exp > iat + 3600 {
        return Err(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        );
    }
    Ok(())
}

fn metadata(state: &mut State, what: &str, flavor: Option<&str>) -> Reply {
    if flavor != Some("Google") {
        return error(403, "forbidden", "Missing Metadata-Flavor:Google header.");
    }
    match what {
        "instance/service-accounts/default/token" => grant(state),
        "project/project-id" => (200, Value::String(PROJECT.into()), None),
        _ => error(404, "notFound", "no such metadata"),
    }
}

/// Cloud DNS: `rest` is what follows `/dns/v1/projects/`.
fn dns(
    state: &mut State,
    method: &str,
    rest: &str,
    query: &str,
    body: &str,
    bearer: Option<&str>,
) -> Reply {
    let token = bearer.and_then(|b| b.strip_prefix("Bearer ")).unwrap_or("");
    let valid = state
        .tokens
        .iter()
        .any(|(t, until)| t == token && Instant::now() < *until);
    if !valid {
        return error(
            401,
            "authError",
            "Request had invalid authentication credentials.",
        );
    }
    if state.throttle > 0 {
        state.throttle -= 1;
        if state.throttle_403 {
            return error(403, "rateLimitExceeded", "Rate Limit Exceeded");
        }
        let mut reply = error(429, "rateLimitExceeded", "Rate Limit Exceeded");
        reply.2 = Some(state.retry_after);
        return reply;
    }
    let parts: Vec<&str> = rest.split('/').collect();
    if parts[0] != PROJECT {
        return error(
            404,
            "notFound",
            "The 'parameters.project' resource named 'x' does not exist.",
        );
    }
    let q = form(query);
    match (method, &parts[1..]) {
        ("GET", ["managedZones"]) => {
            let dns_name = q.get("dnsName").cloned().unwrap_or_default();
            let zones: Vec<Value> = state
                .zones
                .iter()
                .filter(|z| dns_name.is_empty() || z.dns_name == dns_name)
                .map(zone_json)
                .collect();
            (200, json!({"managedZones": zones}), None)
        }
        ("GET", ["managedZones", zone]) => match find_zone(state, zone) {
            Some(z) => (200, zone_json(&z), None),
            None => missing_zone(zone),
        },
        ("GET", ["managedZones", zone, "rrsets"]) => rrsets(state, zone, &q),
        ("POST", ["managedZones", zone, "changes"]) => change(state, zone, body),
        ("GET", ["managedZones", zone, "changes", id]) => (
            200,
            json!({"id": id, "status": "done", "kind": format!("dns#change {zone}")}),
            None,
        ),
        _ => error(404, "notFound", "no such method"),
    }
}

fn zone_json(z: &FakeZone) -> Value {
    json!({"kind": "dns#managedZone", "name": z.name, "dnsName": z.dns_name,
        "visibility": if z.private { "private" } else { "public" }, "id": "4242"})
}

fn find_zone(state: &State, name: &str) -> Option<FakeZone> {
    state.zones.iter().find(|z| z.name == name).cloned()
}

fn missing_zone(zone: &str) -> Reply {
    error(
        404,
        "notFound",
        &format!("The 'parameters.managedZone' resource named '{zone}' does not exist."),
    )
}

fn set_json(key: &SetKey, ttl: u32, rrdatas: &[String]) -> Value {
    json!({"kind": "dns#resourceRecordSet", "name": key.1, "type": key.2, "ttl": ttl,
        "rrdatas": rrdatas})
}

fn rrsets(state: &State, zone: &str, q: &BTreeMap<String, String>) -> Reply {
    if find_zone(state, zone).is_none() {
        return missing_zone(zone);
    }
    let sets: Vec<Value> = state
        .sets
        .iter()
        .filter(|((z, name, rtype), _)| {
            z == zone
                && q.get("name").is_none_or(|n| n == name)
                && q.get("type").is_none_or(|t| t == rtype)
        })
        .map(|(key, (ttl, rrdatas))| set_json(key, *ttl, rrdatas))
        .collect();
    (200, json!({"rrsets": sets}), None)
}

/// A set in a change, read strictly.
fn wire_set(zone: &str, v: &Value) -> Option<(SetKey, u32, Vec<String>)> {
    let name = v["name"].as_str()?.to_string();
    let rtype = v["type"].as_str()?.to_string();
    let ttl = u32::try_from(v["ttl"].as_u64()?).ok()?;
    let rrdatas: Vec<String> = v["rrdatas"]
        .as_array()?
        .iter()
        .map(|d| d.as_str().map(str::to_string))
        .collect::<Option<_>>()?;
    Some(((zone.to_string(), name, rtype), ttl, rrdatas))
}

/// A change, applied whole or refused whole.
fn change(state: &mut State, zone: &str, body: &str) -> Reply {
    let Some(z) = find_zone(state, zone) else {
        return missing_zone(zone);
    };
    if state.forbid_changes {
        return error(403, "forbidden", "Forbidden: dns.changes.create denied");
    }
    if let Some((at, value)) = state.meddle.take() {
        let (meddle_zone, name) = at.split_once('\0').unwrap();
        add_value(state, meddle_zone, name, &value);
        mirror(state, meddle_zone, name);
    }
    let body: Value = serde_json::from_str(body).unwrap_or_default();
    let list = |field: &str| -> Option<Vec<_>> {
        body[field].as_array().map_or(Some(Vec::new()), |a| {
            a.iter().map(|v| wire_set(zone, v)).collect()
        })
    };
    let (Some(additions), Some(deletions)) = (list("additions"), list("deletions")) else {
        return error(
            400,
            "invalid",
            "Invalid value for 'entity.change': a set lacks name, type, ttl or rrdatas",
        );
    };
    if additions.is_empty() && deletions.is_empty() {
        return error(
            400,
            "required",
            "The 'entity.change' parameter is required but was missing.",
        );
    }
    let mut sets = state.sets.clone();
    for (i, (key, ttl, rrdatas)) in deletions.iter().enumerate() {
        match sets.get(key) {
            None => {
                return error(
                    404,
                    "notFound",
                    &format!(
                        "The 'entity.change.deletions[{i}]' resource named '{} ({})' does not exist.",
                        key.1, key.2
                    ),
                );
            }
            Some((t, r)) if t != ttl || r != rrdatas => {
                return error(
                    412,
                    "conditionNotMet",
                    &format!("Precondition not met for 'entity.change.deletions[{i}]'"),
                );
            }
            Some(_) => {
                sets.remove(key);
            }
        }
    }
    for (i, (key, ttl, rrdatas)) in additions.iter().enumerate() {
        let inside = key.1 == z.dns_name || key.1.ends_with(&format!(".{}", z.dns_name));
        let refused = state
            .refused_value
            .as_ref()
            .is_some_and(|v| rrdatas.contains(v));
        if !inside || rrdatas.is_empty() || *ttl == 0 || refused {
            return error(
                400,
                "invalid",
                &format!(
                    "Invalid value for 'entity.change.additions[{i}].name': '{}'",
                    key.1
                ),
            );
        }
        if sets.contains_key(key) {
            return error(
                409,
                "alreadyExists",
                &format!(
                    "The resource 'entity.change.additions[{i}]' named '{} ({})' already exists",
                    key.1, key.2
                ),
            );
        }
        sets.insert(key.clone(), (*ttl, rrdatas.clone()));
    }
    state.sets = sets;
    for (key, _, _) in additions.iter().chain(&deletions) {
        mirror(state, zone, &key.1);
    }
    state.changes += 1;
    (
        200,
        json!({"kind": "dns#change", "id": state.changes.to_string(), "status": "pending",
        "additions": body["additions"], "deletions": body["deletions"]}),
        None,
    )
}
