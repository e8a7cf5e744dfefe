//! The CertCentral simulator: the DCV part of DigiCert's Services API v2 on a loopback port.
//!
//! `Simulator` owns the simulated account (orders, domains, their tokens and statuses), the
//! request and check logs, and the queue of injected faults. Tests drive it in-process through
//! the control methods here; the binary under test talks HTTP to `url()`. The endpoints live in
//! `api`, the CA-style checks in `check`. It never stores the API key it receives, only whether
//! it matched.

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
pub(crate) const METHODS: [&str; 4] = ["dns-txt-token", "dns-cname-token", "http-token", "email"];

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
        }
    }
}

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
}

impl DomainSpec {
    /// A domain with method dns-txt-token and validation type ov.
    pub fn new(name: &str) -> DomainSpec {
        DomainSpec {
            name: name.to_string(),
            dcv_method: "dns-txt-token".to_string(),
            validation_types: vec!["ov".to_string()],
            answer_validation_with_204: false,
        }
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
}

impl Token {
    fn fresh() -> Token {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let value = (0..32)
            .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
            .collect();
        Token {
            value,
            expires: SystemTime::now() + Duration::from_secs(30 * 86400),
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
    pub validated_at: Option<SystemTime>,
    pub created: SystemTime,
}

/// The simulated account and logs, behind one lock.
pub(crate) struct State {
    pub next_id: u64,
    pub orders: BTreeMap<u64, Order>,
    pub domains: BTreeMap<u64, Domain>,
    pub faults: VecDeque<Fault>,
    pub requests: Vec<ApiRequest>,
    pub checks: Vec<CheckRecord>,
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
                requests: Vec::new(),
                checks: Vec::new(),
            }),
            stopping: AtomicBool::new(false),
        });
        let handler = Arc::clone(&shared);
        let http = HttpThread::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            "certcentral",
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
    pub fn add_domain(&self, spec: DomainSpec) -> u64 {
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
            },
        );
        id
    }

    /// The next `n` requests with a valid key get `fault` (queued after earlier faults).
    pub fn fail_next(&self, n: usize, fault: Fault) {
        let mut state = self.state();
        state.faults.extend(std::iter::repeat_n(fault, n));
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
    pub(crate) fn status(&self) -> &'static str {
        if self.validated_at.is_some() {
            "active"
        } else {
            "pending"
        }
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

/// ISO 8601 in UTC the way DigiCert writes it, e.g. `2026-12-22T10:00:00+00:00`.
pub(crate) fn iso8601(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil-from-days (Howard Hinnant's algorithm), to avoid a date crate for one format.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00",
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
