//! The CertCentral simulator: the DCV part of DigiCert's Services API v2 on a loopback port.
//!
//! `Simulator` owns the simulated account (orders, domains, their tokens and statuses), the
//! request and check logs, and the queue of injected faults. Tests drive it in-process through
//! the control methods here; the binary under test talks HTTP to `url()`. The endpoints live in
//! `api`, the CA-style checks in `check`. It never stores the API key it receives, only whether
//! it matched. Like DigiCert it enforces a rate limit per key (100 requests per 5 s, 1000 per
//! 3 minutes; see `SimConfig::rate_limits`), and domains carry per-type `dcv_expiration` that a
//! passing `validate-token` pushes out by the reuse period.

mod api;
mod check;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::serve::HttpThread;

/// The DCV methods the simulator knows.
pub(crate) const METHODS: [&str; 5] = [
    "dns-txt-token",
    "dns-cname-token",
    "http-token",
    "http-token-dynamic",
    "email",
];

/// How the simulator is set up.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The only key accepted in `X-DC-DEVKEY`.
    pub api_key: String,
    /// The recursive resolver the checks use (a `MiniDns` serves in tests).
    pub resolver: SocketAddr,
    /// Port the authoritative servers are asked on (53 in real life).
    pub dns_port: u16,
    /// Port web servers are fetched from (80 in real life).
    pub http_port: u16,
    /// Timeout of each DNS query and HTTP fetch a check makes.
    pub check_timeout: Duration,
    /// How long a completed domain validation may be reused: a passing `validate-token` sets
    /// each completed type's `dcv_expiration` to now + this. 199 days by default (CA/B Forum
    /// ballot SC-081, since 2026-02-24).
    pub reuse_period: Duration,
    /// The enforced request limits per API key, each `(requests, window)`: a request that would be
    /// more than `requests` served in any sliding `window` gets 429 `request_limit_exceeded` with
    /// `Retry-After`. A 429 does not count (only served requests do), so a client that waits out
    /// `Retry-After` gets through. Empty means no limit. By default DigiCert's: 100 per 5 s and
    /// 1000 per 180 s.
    pub rate_limits: Vec<(usize, Duration)>,
    /// How long each DCV check (`validate-token`, `check-dcv`) takes to answer, on top of its DNS
    /// queries: DigiCert queries every nameserver from several network perspectives, so a real
    /// answer takes from a few hundred milliseconds to seconds. Zero by default. Requests are served
    /// side by side, so concurrent checks overlap as they do at DigiCert. Cut short when the
    /// simulator is dropped, so a test whose client stopped waiting does not wait either.
    pub check_latency: Duration,
}

impl SimConfig {
    /// Real-world ports (53, 80) and a 2 s timeout per query.
    pub fn new(api_key: impl Into<String>, resolver: SocketAddr) -> SimConfig {
        SimConfig {
            api_key: api_key.into(),
            resolver,
            dns_port: 53,
            http_port: 80,
            check_timeout: Duration::from_secs(2),
            reuse_period: Duration::from_secs(REUSE_DAYS * DAY_SECS),
            rate_limits: DIGICERT_RATE_LIMITS.to_vec(),
            check_latency: Duration::ZERO,
        }
    }

    /// Sets [`SimConfig::check_latency`].
    pub fn check_latency(mut self, latency: Duration) -> SimConfig {
        self.check_latency = latency;
        self
    }

    /// Sets the enforced rate limits: `short` and `long` are each `(requests, window)`, None
    /// for no such limit; `rate_limit(None, None)` turns limiting off. The default is
    /// `rate_limit(Some((100, 5 s)), Some((1000, 180 s)))`.
    pub fn rate_limit(
        mut self,
        short: Option<(usize, Duration)>,
        long: Option<(usize, Duration)>,
    ) -> SimConfig {
        self.rate_limits = short.into_iter().chain(long).collect();
        self
    }
}

/// Requests the simulator serves side by side (more than any client here keeps in flight).
const WORKERS: usize = 32;

/// Seconds in a day.
const DAY_SECS: u64 = 86_400;

/// Days a completed domain validation may be reused by default.
pub const REUSE_DAYS: u64 = 199;

/// DigiCert's request limits per API key: 100 requests per 5 s and 1000 per 3 minutes.
pub const DIGICERT_RATE_LIMITS: [(usize, Duration); 2] = [
    (100, Duration::from_secs(5)),
    (1000, Duration::from_secs(180)),
];

/// A certificate order to create.
#[derive(Clone, Debug, Default)]
pub struct OrderSpec {
    /// The names on the certificate (`*.example.com` allowed).
    pub dns_names: Vec<String>,
    /// The order's DCV method; empty means `dns-txt-token`.
    pub dcv_method: String,
    /// Name scopes to group names under: a name goes to the longest scope it is at or below.
    /// None (or no match) = the name without a leading `*.`.
    pub name_scopes: Option<Vec<String>>,
    /// Name scopes whose validation starts `approved`.
    pub approved: Vec<String>,
}

impl OrderSpec {
    /// An order for `dns_names` with method dns-txt-token.
    pub fn new<I, S>(dns_names: I) -> OrderSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        OrderSpec {
            dns_names: dns_names.into_iter().map(Into::into).collect(),
            dcv_method: "dns-txt-token".to_string(),
            ..OrderSpec::default()
        }
    }

    /// Sets the DCV method.
    pub fn method(mut self, method: &str) -> OrderSpec {
        self.dcv_method = method.to_string();
        self
    }

    /// Sets explicit name scopes.
    pub fn name_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, s: I) -> OrderSpec {
        self.name_scopes = Some(s.into_iter().map(Into::into).collect());
        self
    }

    /// Marks these name scopes approved from the start.
    pub fn approved<I: IntoIterator<Item = S>, S: Into<String>>(mut self, s: I) -> OrderSpec {
        self.approved = s.into_iter().map(Into::into).collect();
        self
    }
}

/// A domain (prevalidation) to create.
#[derive(Clone, Debug)]
pub struct DomainSpec {
    /// The domain name.
    pub name: String,
    /// Its DCV method.
    pub dcv_method: String,
    /// Validation types it already has, e.g. `["ov"]`.
    pub validation_types: Vec<String>,
    /// `POST /domain/{id}/validation` answers 204 with no token (the client must then ask
    /// `POST /domain/{id}/dcv/token`).
    pub answer_validation_with_204: bool,
    /// Whether the domain is active; an inactive one is still listed, with `is_active: false`.
    pub is_active: bool,
    /// When each validation type's reuse period ends, by type (`"ov"`, `"ev"`). A type missing
    /// here has no completed validation.
    pub dcv_expiration: BTreeMap<String, SystemTime>,
    /// The `http_token_url` to answer with verbatim instead of the file the simulator chose (for
    /// hostile-input tests).
    pub http_token_url: Option<String>,
}

impl DomainSpec {
    /// A domain with method dns-txt-token and validation type ov.
    pub fn new(name: &str) -> DomainSpec {
        DomainSpec {
            name: name.to_string(),
            dcv_method: "dns-txt-token".to_string(),
            validation_types: vec!["ov".to_string()],
            answer_validation_with_204: false,
            is_active: true,
            dcv_expiration: BTreeMap::new(),
            http_token_url: None,
        }
    }

    /// Answers `http_token_url` with `url`, verbatim (hostile-input tests).
    pub fn http_token_url(mut self, url: &str) -> DomainSpec {
        self.http_token_url = Some(url.to_string());
        self
    }

    /// Sets the validation types the domain has (replacing the default `["ov"]`).
    pub fn validation_types<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        types: I,
    ) -> DomainSpec {
        self.validation_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Makes the domain active (the default) or inactive.
    pub fn is_active(mut self, active: bool) -> DomainSpec {
        self.is_active = active;
        self
    }

    /// Gives validation type `kind` (`"ov"` or `"ev"`) a completed validation whose reuse period
    /// ends `days` days (of 86400 s) from now; negative means it ended that long ago. Adds `kind`
    /// to the validation types.
    pub fn expires_in_days(self, kind: &str, days: i64) -> DomainSpec {
        self.expires_at(kind, days_from_now(days))
    }

    /// Gives validation type `kind` a completed validation whose reuse period ends at `at`.
    /// Adds `kind` to the validation types.
    pub fn expires_at(mut self, kind: &str, at: SystemTime) -> DomainSpec {
        let kind = kind.to_ascii_lowercase();
        if !self.validation_types.contains(&kind) {
            self.validation_types.push(kind.clone());
        }
        self.dcv_expiration.insert(kind, at);
        self
    }

    /// Sets the DCV method.
    pub fn method(mut self, method: &str) -> DomainSpec {
        self.dcv_method = method.to_string();
        self
    }

    /// Makes `POST /domain/{id}/validation` answer 204.
    pub fn answer_validation_with_204(mut self) -> DomainSpec {
        self.answer_validation_with_204 = true;
        self
    }
}

/// A failure to inject into the next authorised requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (5xx expected) and an error body.
    Status(u16),
    /// Answer 503 `service_unavailable` with `Retry-After`: DigiCert down for a while, turning
    /// requests away (so a client may send even a POST again).
    Unavailable {
        /// The Retry-After value, in seconds.
        retry_after_secs: u64,
    },
    /// Answer 429 `request_limit_exceeded` with `Retry-After`.
    RateLimited {
        /// The Retry-After value, in seconds.
        retry_after_secs: u64,
    },
    /// Sleep this long, then answer normally.
    Slow(Duration),
    /// Answer with this status and exactly this body (with `Content-Type: application/json`
    /// whatever it holds), for hostile-input tests: malformed or huge JSON, HTML, a token with
    /// quotes. `Slow(Duration::ZERO)` before it lets earlier requests through untouched.
    Body {
        /// The HTTP status.
        status: u16,
        /// The body, sent verbatim.
        body: String,
    },
}

/// `days` days (of 86400 s) from now; negative for the past.
pub fn days_from_now(days: i64) -> SystemTime {
    let span = Duration::from_secs(days.unsigned_abs() * DAY_SECS);
    let now = SystemTime::now();
    if days < 0 { now - span } else { now + span }
}

/// One request the simulator received. The API key is never kept, only whether it matched.
#[derive(Clone, Debug)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Request body.
    pub body: String,
    /// When it arrived.
    pub at: Instant,
    /// The User-Agent header.
    pub user_agent: Option<String>,
    /// The Content-Type header.
    pub content_type: Option<String>,
    /// Whether `X-DC-DEVKEY` matched the configured key.
    pub key_ok: bool,
    /// The status it was answered with; 0 while it is still being handled.
    pub status: u16,
}

/// What one server (DNS) or address (HTTP) showed during a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetCheck {
    /// The name checked (name scope for DNS, host for HTTP).
    pub name: String,
    /// The server or address asked, e.g. `127.0.0.1:5353 (ns1.example.test)`.
    pub server: String,
    /// It served the token.
    pub ok: bool,
    /// It answered at all (false: timeout, refused, no address ...).
    pub reached: bool,
    /// What it returned.
    pub detail: String,
}

impl TargetCheck {
    fn failed(name: &str, server: &str, reached: bool, detail: String) -> TargetCheck {
        TargetCheck {
            name: name.to_string(),
            server: server.to_string(),
            ok: false,
            reached,
            detail,
        }
    }
}

impl fmt::Display for TargetCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.ok { "ok" } else { "MISSING" };
        write!(
            f,
            "{verdict} {} @ {}: {}",
            self.name, self.server, self.detail
        )
    }
}

/// One DCV check the simulator ran.
#[derive(Clone, Debug)]
pub struct CheckRecord {
    /// `order check-dcv` or `domain validate-token`.
    pub endpoint: String,
    /// Order or domain id.
    pub id: u64,
    /// The DCV method checked.
    pub method: String,
    /// When it ran.
    pub at: Instant,
    /// Everything checked was served everywhere.
    pub passed: bool,
    /// It failed because some server or address answered without the token (yet): the client
    /// asked before propagation was complete.
    pub premature: bool,
    /// Per server / address results.
    pub targets: Vec<TargetCheck>,
}

impl CheckRecord {
    /// One line per server or address, for assertion messages.
    pub fn details(&self) -> Vec<String> {
        self.targets.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for CheckRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed { "passed" } else { "failed" };
        write!(
            f,
            "{} {} ({}) {verdict}",
            self.endpoint, self.id, self.method
        )?;
        for target in &self.targets {
            write!(f, "\n  {target}")?;
        }
        Ok(())
    }
}

/// A token (order random value or domain token) with its expiry.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub value: String,
    pub expires: SystemTime,
    /// The file name chosen for http-token-dynamic (`{random}.txt`).
    pub file: String,
}

impl Token {
    fn fresh() -> Token {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let value = (0..32)
            .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
            .collect();
        let file: String = (0..24)
            .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
            .collect();
        Token {
            value,
            expires: SystemTime::now() + Duration::from_secs(30 * 86400),
            file: format!("{file}.txt"),
        }
    }

    fn expired(&self) -> bool {
        SystemTime::now() >= self.expires
    }
}

#[derive(Clone, Debug)]
pub(crate) struct NameValidation {
    pub domain_id: u64,
    pub name_scope: String,
    pub dns_names: Vec<String>,
    pub approved_at: Option<SystemTime>,
}

#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub method: String,
    pub random_value: Token,
    pub validations: Vec<NameValidation>,
    pub certificate_id: Option<u64>,
    pub created: SystemTime,
}

#[derive(Clone, Debug)]
pub(crate) struct Domain {
    pub name: String,
    pub method: String,
    pub types: Vec<String>,
    pub answer_204: bool,
    pub token: Option<Token>,
    /// The first passing validate-token in this simulator (`domain_status`).
    pub validated_at: Option<SystemTime>,
    pub created: SystemTime,
    pub active: bool,
    /// When each type's reuse period ends; a missing type has no completed validation.
    pub expiration: BTreeMap<String, SystemTime>,
    /// The last completed DCV (`dcv_approval_datetime`).
    pub approved_at: Option<SystemTime>,
    /// The last `POST /domain/{id}/validation` (`last_submitted_datetime`).
    pub submitted_at: Option<SystemTime>,
    /// The types of the open submission, until a validate-token passes.
    pub submitted: Option<Vec<String>>,
    /// A verbatim `http_token_url` answer (see [`DomainSpec::http_token_url`]).
    pub token_url: Option<String>,
}

/// The simulated account and logs, behind one lock.
pub(crate) struct State {
    pub next_id: u64,
    pub orders: BTreeMap<u64, Order>,
    pub domains: BTreeMap<u64, Domain>,
    pub faults: VecDeque<Fault>,
    /// Faults for every request whose path contains the text, after the queued ones.
    pub standing_faults: Vec<(String, Fault)>,
    pub requests: Vec<ApiRequest>,
    pub checks: Vec<CheckRecord>,
    /// When each request the rate limit let through arrived (valid key only), oldest first;
    /// pruned to the longest window.
    pub served: VecDeque<Instant>,
    /// Requests answered 429 by the enforced rate limit.
    pub rate_limited: usize,
}

impl State {
    pub(crate) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

pub(crate) struct Shared {
    pub config: SimConfig,
    pub state: Mutex<State>,
    pub stopping: AtomicBool,
}

/// The CertCentral simulator on `127.0.0.1:PORT`. Stops on Drop.
pub struct Simulator {
    shared: Arc<Shared>,
    http: HttpThread,
}

impl Simulator {
    /// Starts on an ephemeral loopback port. Panics if it cannot bind, which in test support
    /// means the machine is broken.
    pub fn start(config: SimConfig) -> Simulator {
        let shared = Arc::new(Shared {
            config,
            state: Mutex::new(State {
                // Ids that look like DigiCert's and are not small counters a test could confuse.
                next_id: 1_000_000 + u64::from(fastrand::u16(..)) * 100,
                orders: BTreeMap::new(),
                domains: BTreeMap::new(),
                faults: VecDeque::new(),
                standing_faults: Vec::new(),
                requests: Vec::new(),
                checks: Vec::new(),
                served: VecDeque::new(),
                rate_limited: 0,
            }),
            stopping: AtomicBool::new(false),
        });
        let handler = Arc::clone(&shared);
        let http = HttpThread::start_pool(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            "certcentral",
            WORKERS,
            move |request| api::handle(&handler, request),
        )
        .expect("bind the CertCentral simulator on 127.0.0.1");
        Simulator { shared, http }
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.http.addr()
    }

    /// The API base URL, `http://127.0.0.1:PORT/services/v2`.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr(), api::BASE_PATH)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap()
    }

    /// Creates an order; returns its id. Each distinct name scope gets one validation.
    pub fn add_order(&self, spec: OrderSpec) -> u64 {
        let method = if spec.dcv_method.is_empty() {
            "dns-txt-token".to_string()
        } else {
            spec.dcv_method
        };
        let mut state = self.state();
        let mut validations: Vec<NameValidation> = Vec::new();
        for name in &spec.dns_names {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let scope = name_scope(&name, spec.name_scopes.as_deref());
            match validations.iter_mut().find(|v| v.name_scope == scope) {
                Some(v) => {
                    if !v.dns_names.contains(&name) {
                        v.dns_names.push(name);
                    }
                }
                None => {
                    let approved = spec.approved.iter().any(|a| a.eq_ignore_ascii_case(&scope));
                    let domain_id = state.id();
                    validations.push(NameValidation {
                        domain_id,
                        name_scope: scope,
                        dns_names: vec![name],
                        approved_at: approved.then(SystemTime::now),
                    });
                }
            }
        }
        let id = state.id();
        state.orders.insert(
            id,
            Order {
                method,
                random_value: Token::fresh(),
                validations,
                certificate_id: None,
                created: SystemTime::now(),
            },
        );
        id
    }

    /// Creates a domain for prevalidation; returns its id.
    /// A domain given `dcv_expiration` gets a `dcv_approval_datetime` of its latest expiry minus
    /// the configured reuse period.
    pub fn add_domain(&self, spec: DomainSpec) -> u64 {
        let approved_at = spec
            .dcv_expiration
            .values()
            .max()
            .and_then(|latest| latest.checked_sub(self.shared.config.reuse_period));
        let mut state = self.state();
        let id = state.id();
        state.domains.insert(
            id,
            Domain {
                name: spec.name.trim_end_matches('.').to_ascii_lowercase(),
                method: spec.dcv_method,
                types: spec.validation_types,
                answer_204: spec.answer_validation_with_204,
                token: None,
                validated_at: None,
                created: SystemTime::now(),
                active: spec.is_active,
                expiration: spec.dcv_expiration,
                approved_at,
                submitted_at: None,
                submitted: None,
                token_url: spec.http_token_url,
            },
        );
        id
    }

    /// The next `n` requests with a valid key get `fault` (queued after earlier faults).
    pub fn fail_next(&self, n: usize, fault: Fault) {
        let mut state = self.state();
        state.faults.extend(std::iter::repeat_n(fault, n));
    }

    /// From now on every request with a valid key whose path contains `path_part` gets `fault`
    /// (an outage of part of the API: `fail_matching("/domain/", Fault::Status(503))` fails every
    /// domain request and lets the listing through). Queued faults ([`Simulator::fail_next`]) come
    /// first.
    pub fn fail_matching(&self, path_part: &str, fault: Fault) {
        self.state()
            .standing_faults
            .push((path_part.to_string(), fault));
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<ApiRequest> {
        self.state().requests.clone()
    }

    /// Every DCV check run, in order.
    pub fn checks(&self) -> Vec<CheckRecord> {
        self.state().checks.clone()
    }

    /// The checks that failed because some server or address did not serve the token yet.
    pub fn premature_checks(&self) -> Vec<CheckRecord> {
        self.state()
            .checks
            .iter()
            .filter(|c| c.premature)
            .cloned()
            .collect()
    }

    /// `pending` or `issued`; None for an unknown order.
    pub fn order_status(&self, id: u64) -> Option<String> {
        self.state().orders.get(&id).map(|o| o.status().to_string())
    }

    /// The status of each of the order's name scopes (`pending` / `approved`).
    pub fn order_validations(&self, id: u64) -> Vec<(String, String)> {
        self.state()
            .orders
            .get(&id)
            .map(|o| {
                o.validations
                    .iter()
                    .map(|v| (v.name_scope.clone(), v.status().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The order's DCV random value.
    pub fn order_random_value(&self, id: u64) -> Option<String> {
        self.state()
            .orders
            .get(&id)
            .map(|o| o.random_value.value.clone())
    }

    /// Lets the order's random value expire now: DigiCert then checks for, and hands out, a new one
    /// (the case of a token expiring between `auth` and `verify`). Returns the new value.
    pub fn expire_order_random_value(&self, id: u64) -> Option<String> {
        let mut state = self.state();
        let order = state.orders.get_mut(&id)?;
        order.random_value = Token::fresh();
        Some(order.random_value.value.clone())
    }

    /// The order's current DCV method.
    pub fn order_method(&self, id: u64) -> Option<String> {
        self.state().orders.get(&id).map(|o| o.method.clone())
    }

    /// The domain's current DCV token, once one was issued.
    pub fn domain_token(&self, id: u64) -> Option<String> {
        self.state()
            .domains
            .get(&id)
            .and_then(|d| d.token.as_ref().map(|t| t.value.clone()))
    }

    /// The URL path of the domain's current validation file: `fileauth.txt`, or the file chosen
    /// for http-token-dynamic.
    pub fn domain_token_path(&self, id: u64) -> Option<String> {
        let state = self.state();
        let domain = state.domains.get(&id)?;
        let token = domain.token.as_ref()?;
        Some(check::token_path(&domain.method, &token.file))
    }

    /// `pending` until validate-token passes, then `active`; None for an unknown domain.
    pub fn domain_status(&self, id: u64) -> Option<String> {
        self.state()
            .domains
            .get(&id)
            .map(|d| d.status().to_string())
    }

    /// The domain's current DCV method.
    pub fn domain_method(&self, id: u64) -> Option<String> {
        self.state().domains.get(&id).map(|d| d.method.clone())
    }

    /// The domain's `dcv_expiration` as `(ov, ev)` ISO 8601 UTC date-times
    /// (`2026-12-02T10:00:00+00:00`); None for a type with no completed validation or an unknown
    /// domain.
    pub fn domain_expiration(&self, id: u64) -> (Option<String>, Option<String>) {
        let state = self.state();
        let at = |kind: &str| {
            state
                .domains
                .get(&id)
                .and_then(|d| d.expiration.get(kind).copied().map(iso8601))
        };
        (at("ov"), at("ev"))
    }

    /// When the reuse period of the domain's validation type `kind` (`"ov"`, `"ev"`) ends.
    pub fn domain_expires_at(&self, id: u64, kind: &str) -> Option<SystemTime> {
        self.state()
            .domains
            .get(&id)
            .and_then(|d| d.expiration.get(kind).copied())
    }

    /// The domain's last completed DCV (`dcv_approval_datetime`).
    pub fn domain_approved_at(&self, id: u64) -> Option<SystemTime> {
        self.state().domains.get(&id).and_then(|d| d.approved_at)
    }

    /// The domain's last `POST /domain/{id}/validation` (`last_submitted_datetime`).
    pub fn domain_submitted_at(&self, id: u64) -> Option<SystemTime> {
        self.state().domains.get(&id).and_then(|d| d.submitted_at)
    }

    /// Whether the domain is active; None for an unknown domain.
    pub fn domain_is_active(&self, id: u64) -> Option<bool> {
        self.state().domains.get(&id).map(|d| d.active)
    }

    /// Makes the domain active or inactive.
    pub fn set_domain_active(&self, id: u64, active: bool) {
        if let Some(d) = self.state().domains.get_mut(&id) {
            d.active = active;
        }
    }

    /// Sets (Some) or removes (None) when the reuse period of the domain's validation type `kind`
    /// ends, e.g. to age a domain between two runs.
    pub fn set_domain_expiration(&self, id: u64, kind: &str, at: Option<SystemTime>) {
        if let Some(d) = self.state().domains.get_mut(&id) {
            let kind = kind.to_ascii_lowercase();
            match at {
                Some(at) => {
                    if !d.types.contains(&kind) {
                        d.types.push(kind.clone());
                    }
                    d.expiration.insert(kind, at);
                }
                None => {
                    d.expiration.remove(&kind);
                }
            }
        }
    }

    /// The most requests with a valid key that arrived within any `window` (a half-open span of
    /// that length), counting every one the client sent, 429'd or not: a test asserts
    /// `max_requests_in_window(Duration::from_secs(5)) <= 100` to show a client kept to the limit.
    pub fn max_requests_in_window(&self, window: Duration) -> usize {
        let state = self.state();
        let times: Vec<Instant> = state
            .requests
            .iter()
            .filter(|r| r.key_ok)
            .map(|r| r.at)
            .collect();
        let mut best = 0;
        let mut start = 0;
        for (end, at) in times.iter().enumerate() {
            while start <= end && at.saturating_duration_since(times[start]) >= window {
                start += 1;
            }
            best = best.max(end + 1 - start);
        }
        best
    }

    /// How many requests the enforced rate limit answered with 429 (injected
    /// `Fault::RateLimited` answers are not counted).
    pub fn rate_limited_count(&self) -> usize {
        self.state().rate_limited
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        // Cuts a `Fault::Slow` sleep short; `http` is dropped next, which joins the thread.
        self.shared.stopping.store(true, Ordering::SeqCst);
    }
}

impl Order {
    pub(crate) fn status(&self) -> &'static str {
        if self.certificate_id.is_some() {
            "issued"
        } else {
            "pending"
        }
    }
}

impl NameValidation {
    pub(crate) fn status(&self) -> &'static str {
        if self.approved_at.is_some() {
            "approved"
        } else {
            "pending"
        }
    }
}

impl Domain {
    /// `pending` until a validate-token passed in this simulator, then `active`.
    pub(crate) fn status(&self) -> &'static str {
        if self.validated_at.is_some() {
            "active"
        } else {
            "pending"
        }
    }

    /// The `status` and `dcv_status` of validation type `kind` at `now`: active / complete while
    /// its reuse period runs, pending / pending while submitted or never completed, and
    /// expired / expired after its reuse period ended.
    pub(crate) fn type_status(&self, kind: &str, now: SystemTime) -> (&'static str, &'static str) {
        let submitted = self
            .submitted
            .as_ref()
            .is_some_and(|t| t.iter().any(|t| t == kind));
        match self.expiration.get(kind) {
            Some(end) if *end > now => ("active", "complete"),
            Some(_) if !submitted => ("expired", "expired"),
            _ => ("pending", "pending"),
        }
    }

    /// Records a passing validate-token at `now`: the open submission's types (or, with none
    /// open, every type of a domain never validated here before) get `dcv_expiration` now +
    /// `reuse`; `dcv_approval_datetime` becomes now.
    pub(crate) fn complete(&mut self, now: SystemTime, reuse: Duration) {
        let types = match self.submitted.take() {
            Some(types) => types,
            None if self.validated_at.is_none() => self.types.clone(),
            None => Vec::new(),
        };
        for kind in types {
            self.expiration.insert(kind, now + reuse);
        }
        self.approved_at = Some(now);
        self.validated_at.get_or_insert(now);
    }
}

/// The name scope of `name`: the longest given scope it is at or below, else the name without
/// a leading `*.` (DNS methods validate a wildcard at its base name).
fn name_scope(name: &str, scopes: Option<&[String]>) -> String {
    let base = name.strip_prefix("*.").unwrap_or(name);
    scopes
        .unwrap_or_default()
        .iter()
        .map(|s| s.trim_end_matches('.').to_ascii_lowercase())
        .filter(|s| base == s || base.ends_with(&format!(".{s}")))
        .max_by_key(String::len)
        .unwrap_or_else(|| base.to_string())
}

/// Seconds since the Unix epoch (0 before it).
fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The UTC calendar date `YYYY-MM-DD` of `days` since 1970-01-01: civil-from-days (Howard
/// Hinnant's algorithm), to avoid a date crate for two formats.
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The UTC date of `t` the way DigiCert writes `dcv_expiration`, e.g. `2026-12-22`.
pub(crate) fn date(t: SystemTime) -> String {
    civil_date(unix_secs(t) / DAY_SECS)
}

/// ISO 8601 in UTC the way DigiCert writes it, e.g. `2026-12-22T10:00:00+00:00`.
pub(crate) fn iso8601(t: SystemTime) -> String {
    let secs = unix_secs(t);
    let rem = secs % DAY_SECS;
    format!(
        "{}T{:02}:{:02}:{:02}+00:00",
        civil_date(secs / DAY_SECS),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00+00:00");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29T12:34:56Z
        assert_eq!(iso8601(t), "2024-02-29T12:34:56+00:00");
        assert_eq!(date(t), "2024-02-29");
        let t = UNIX_EPOCH + Duration::from_secs(1_798_761_599); // 2026-12-31T23:59:59Z
        assert_eq!(iso8601(t), "2026-12-31T23:59:59+00:00");
        assert_eq!(date(t + Duration::from_secs(1)), "2027-01-01");
        assert_eq!(
            date(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29"
        );
    }

    #[test]
    fn a_passing_check_completes_the_submitted_types_only() {
        let sim = Simulator::start(SimConfig::new("k", "127.0.0.1:53".parse().unwrap()));
        let id = sim.add_domain(
            DomainSpec::new("example.com")
                .expires_in_days("ov", 3)
                .expires_in_days("ev", -2),
        );
        let mut state = sim.state();
        let d = state.domains.get_mut(&id).unwrap();
        let now = SystemTime::now();
        assert_eq!(d.type_status("ov", now), ("active", "complete"));
        assert_eq!(d.type_status("ev", now), ("expired", "expired"));
        d.submitted = Some(vec!["ev".to_string()]);
        assert_eq!(d.type_status("ev", now), ("pending", "pending"));
        let ov_before = d.expiration["ov"];
        d.complete(now, Duration::from_secs(10 * DAY_SECS));
        assert_eq!(d.expiration["ov"], ov_before);
        assert_eq!(d.expiration["ev"], now + Duration::from_secs(10 * DAY_SECS));
        assert_eq!(d.approved_at, Some(now));
        assert_eq!(d.type_status("ev", now), ("active", "complete"));
        // Nothing open and validated before: a repeated pass changes no expiry.
        d.complete(
            now + Duration::from_secs(60),
            Duration::from_secs(20 * DAY_SECS),
        );
        assert_eq!(d.expiration["ev"], now + Duration::from_secs(10 * DAY_SECS));
    }

    #[test]
    fn scopes() {
        assert_eq!(name_scope("*.example.com", None), "example.com");
        let scopes = vec!["example.com".to_string(), "a.example.com".to_string()];
        assert_eq!(
            name_scope("x.a.example.com", Some(&scopes)),
            "a.example.com"
        );
        assert_eq!(name_scope("www.example.com", Some(&scopes)), "example.com");
        assert_eq!(name_scope("other.test", Some(&scopes)), "other.test");
    }

    #[test]
    fn default_scopes_group_wildcards_with_their_base() {
        let sim = Simulator::start(SimConfig::new("k", "127.0.0.1:53".parse().unwrap()));
        let id = sim.add_order(
            OrderSpec::new(["example.com", "*.example.com", "www.example.com"])
                .approved(["www.example.com"]),
        );
        assert_eq!(
            sim.order_validations(id),
            vec![
                ("example.com".to_string(), "pending".to_string()),
                ("www.example.com".to_string(), "approved".to_string()),
            ]
        );
        assert_eq!(sim.order_status(id).as_deref(), Some("pending"));
        assert!(sim.url().ends_with("/services/v2"));
    }

    #[test]
    fn tokens_are_32_lowercase_alphanumerics() {
        let t = Token::fresh();
        assert_eq!(t.value.len(), 32);
        assert!(
            t.value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert!(!t.expired());
    }
}
