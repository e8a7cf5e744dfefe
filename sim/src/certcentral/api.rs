//! The HTTP face of the simulator: key check, rate limit, fault injection, routing, and one
//! function per endpoint, with bodies shaped as in certcentral-api.md. Every request is logged
//! (without its key) before anything else. The state lock is released while a DCV check talks to
//! the network, so the test thread can read the logs meanwhile.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::check::{self, CNAME_SUFFIX, Checker};
use super::{
    ApiRequest, CheckRecord, DAY_SECS, Domain, Fault, METHODS, Order, Shared, State, TargetCheck,
    Token, date, iso8601,
};
use crate::serve::{header, query_param};

/// Every endpoint lives under this path, as on www.digicert.com.
pub(crate) const BASE_PATH: &str = "/services/v2";

const INVALID_DNS_TXT: (&str, &str) = (
    "invalid_dns_txt",
    "Could not find a valid TXT record for one or more domains.",
);
const FILE_NOT_FOUND: (&str, &str) = (
    "file_random_value_not_found",
    "Could not find the random value at the expected file location for one or more domains.",
);

/// An answer before it is written out.
struct Reply {
    status: u16,
    body: Option<Value>,
    retry_after: Option<u64>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            retry_after: None,
        }
    }

    fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            retry_after: None,
        }
    }

    fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(
            status,
            json!({"errors": [{"code": code, "message": message}]}),
        )
    }

    fn rate_limited(retry_after_secs: u64) -> Reply {
        Reply {
            retry_after: Some(retry_after_secs),
            ..Reply::error(
                429,
                "request_limit_exceeded",
                // The body DigiCert's "Rate limits" page shows.
                "Service unavailable, please limit request volume",
            )
        }
    }
}

fn order_not_found() -> Reply {
    Reply::error(404, "not_found|order", "Order not found.")
}

fn domain_not_found() -> Reply {
    Reply::error(404, "not_found|domain", "Domain not found.")
}

fn bad_method() -> Reply {
    Reply::error(400, "invalid_dcv_method", "Invalid DCV method.")
}

/// The "token not found" error DigiCert gives for a method.
fn not_found_error(method: &str) -> Reply {
    let (code, message) = match method {
        "http-token" | "http-token-dynamic" => FILE_NOT_FOUND,
        _ => INVALID_DNS_TXT,
    };
    Reply::error(400, code, message)
}

pub(crate) fn handle(shared: &Shared, mut request: tiny_http::Request) {
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let method = request.method().as_str().to_string();
    let target = request.url().to_string();
    let key_ok = header(&request, "X-DC-DEVKEY").is_some_and(|k| k == shared.config.api_key);

    let (index, limited, fault) = {
        let mut state = shared.state.lock().unwrap();
        let now = Instant::now();
        state.requests.push(ApiRequest {
            method: method.clone(),
            path: target.clone(),
            body: body.clone(),
            at: now,
            user_agent: header(&request, "User-Agent"),
            content_type: header(&request, "Content-Type"),
            key_ok,
            status: 0,
        });
        let index = state.requests.len() - 1;
        // The limit is per key: only requests with the valid key count. A 429 uses up no quota,
        // and faults are for requests that would otherwise succeed, so neither a bad key nor a
        // rate-limited request uses one up.
        if !key_ok {
            (index, None, None)
        } else if let Err(wait) = admit(&mut state.served, &shared.config.rate_limits, now) {
            state.rate_limited += 1;
            (index, Some(wait), None)
        } else {
            let standing = state
                .standing_faults
                .iter()
                .find(|(part, _)| target.contains(part.as_str()))
                .map(|(_, fault)| fault.clone());
            let fault = state.faults.pop_front().or(standing);
            (index, None, fault)
        }
    };

    if let Some(Fault::Body { status, body }) = fault {
        let mut response = tiny_http::Response::from_data(body).with_status_code(status);
        if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", "application/json") {
            response.add_header(h);
        }
        let _ = request.respond(response);
        return;
    }
    let reply = if !key_ok {
        Reply::error(401, "access_denied", "Invalid API key.")
    } else if let Some(wait) = limited {
        Reply::rate_limited(retry_after_secs(wait))
    } else {
        match fault {
            Some(Fault::Status(code)) => {
                let c = if code == 503 {
                    "service_unavailable"
                } else {
                    "internal_error"
                };
                Reply::error(code, c, "Simulated server failure.")
            }
            Some(Fault::RateLimited { retry_after_secs }) => Reply::rate_limited(retry_after_secs),
            Some(Fault::Unavailable { retry_after_secs }) => Reply {
                retry_after: Some(retry_after_secs),
                ..Reply::error(503, "service_unavailable", "Simulated outage.")
            },
            Some(Fault::Slow(delay)) => {
                sleep_unless_stopping(shared, delay);
                route(shared, &method, &target, &body)
            }
            // Answered verbatim above.
            Some(Fault::Body { .. }) | None => route(shared, &method, &target, &body),
        }
    };
    if let Some(logged) = shared.state.lock().unwrap().requests.get_mut(index) {
        logged.status = reply.status;
    }
    respond(request, reply);
}

/// The sliding-window rate limit. `served` holds when each served request with the key arrived,
/// oldest first. Admits the request arriving at `now` (and records it), or returns how long
/// until every window in `limits` has room again; a refused request is not recorded.
fn admit(
    served: &mut VecDeque<Instant>,
    limits: &[(usize, Duration)],
    now: Instant,
) -> Result<(), Duration> {
    let longest = limits.iter().map(|&(_, w)| w).max().unwrap_or_default();
    while served
        .front()
        .is_some_and(|&t| now.saturating_duration_since(t) >= longest)
    {
        served.pop_front();
    }
    let mut wait: Option<Duration> = None;
    for &(limit, window) in limits {
        let in_window: Vec<Instant> = served
            .iter()
            .copied()
            .filter(|&t| now.saturating_duration_since(t) < window)
            .collect();
        if in_window.len() >= limit {
            // Room comes back when enough of the oldest leave the window to drop below `limit`.
            let free_in = match in_window.get(in_window.len() - limit) {
                Some(&t) => window.saturating_sub(now.saturating_duration_since(t)),
                None => window, // a limit of 0 never frees
            };
            wait = Some(wait.unwrap_or_default().max(free_in));
        }
    }
    match wait {
        Some(wait) => Err(wait),
        None => {
            served.push_back(now);
            Ok(())
        }
    }
}

/// `Retry-After` for a wait: whole seconds, rounded up, at least 1.
fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

fn sleep_unless_stopping(shared: &Shared, delay: Duration) {
    let until = Instant::now() + delay;
    while !shared.stopping.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// Writes the reply and closes the connection (`Connection: close`): tiny_http runs each connection
/// on a pool thread for as long as the client keeps it open, and when several connections arrive at
/// once (a client with checks in flight side by side) one can wait in its queue until another
/// connection ends. One request per connection keeps every connection short, so none waits.
fn respond(request: tiny_http::Request, reply: Reply) {
    use std::io::Write;
    let bytes = reply
        .body
        .map(|b| serde_json::to_vec(&b).unwrap_or_default())
        .unwrap_or_default();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        reply.status,
        tiny_http::StatusCode(reply.status).default_reason_phrase()
    );
    if reply.status != 204 {
        head.push_str("Content-Type: application/json\r\n");
        head.push_str(&format!("Content-Length: {}\r\n", bytes.len()));
    }
    if let Some(secs) = reply.retry_after {
        head.push_str(&format!("Retry-After: {secs}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut writer = request.into_writer();
    let _ = writer
        .write_all(head.as_bytes())
        .and_then(|()| writer.write_all(&bytes))
        .and_then(|()| writer.flush());
}

fn route(shared: &Shared, method: &str, target: &str, body: &str) -> Reply {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let Some(rest) = path.strip_prefix(BASE_PATH) else {
        return Reply::error(404, "not_found", "Not found.");
    };
    let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
    let body: Option<Value> = if body.trim().is_empty() {
        None
    } else {
        match serde_json::from_str(body) {
            Ok(v) => Some(v),
            Err(_) => {
                return Reply::error(400, "bad_request_format", "The request body is not JSON.");
            }
        }
    };
    let id = |s: &str| s.parse::<u64>().ok();
    match (method, parts.as_slice()) {
        (_, ["order", "certificate", oid, _]) if id(oid).is_none() => order_not_found(),
        ("GET", ["order", "certificate", oid, "validation"]) => order_validation(shared, id(oid)),
        ("PUT", ["order", "certificate", oid, "dcv-random-value"]) => {
            order_random_value(shared, id(oid))
        }
        ("PUT", ["order", "certificate", oid, "dcv-method"]) => {
            order_method(shared, id(oid), body.as_ref())
        }
        ("PUT", ["order", "certificate", oid, "check-dcv"]) => {
            order_check(shared, id(oid), body.as_ref())
        }
        ("GET", ["domain"]) => domain_list(shared, query),
        (_, ["domain", did, ..]) if id(did).is_none() => domain_not_found(),
        ("GET", ["domain", did]) => domain_info(shared, id(did), query),
        ("POST", ["domain", did, "validation"]) => domain_submit(shared, id(did), body.as_ref()),
        ("GET", ["domain", did, "validation"]) => domain_validations(shared, id(did)),
        ("POST", ["domain", did, "dcv", "token"]) => domain_new_token(shared, id(did)),
        ("PUT", ["domain", did, "dcv", "method"]) => domain_method(shared, id(did), body.as_ref()),
        ("PUT", ["domain", did, "dcv", "validate-token"]) => domain_check(shared, id(did)),
        _ => Reply::error(404, "not_found", "Not found."),
    }
}

/// Runs `f` on the order, or answers 404.
fn with_order(shared: &Shared, id: Option<u64>, f: impl FnOnce(u64, &mut Order) -> Reply) -> Reply {
    let mut state = shared.state.lock().unwrap();
    match id.and_then(|id| state.orders.get_mut(&id).map(|o| (id, o))) {
        Some((id, order)) => f(id, order),
        None => order_not_found(),
    }
}

/// Runs `f` on the domain, or answers 404.
fn with_domain(
    shared: &Shared,
    id: Option<u64>,
    f: impl FnOnce(u64, &mut Domain) -> Reply,
) -> Reply {
    let mut state = shared.state.lock().unwrap();
    match id.and_then(|id| state.domains.get_mut(&id).map(|d| (id, d))) {
        Some((id, domain)) => f(id, domain),
        None => domain_not_found(),
    }
}

fn requested_method(body: Option<&Value>) -> Result<Option<String>, Reply> {
    match body.and_then(|b| b.get("dcv_method")) {
        None => Ok(None),
        Some(Value::String(m)) if METHODS.contains(&m.as_str()) => Ok(Some(m.clone())),
        Some(_) => Err(bad_method()),
    }
}

fn order_validation(shared: &Shared, id: Option<u64>) -> Reply {
    with_order(shared, id, |id, order| {
        let validations: Vec<Value> = order
            .validations
            .iter()
            .map(|v| {
                // Ids are strings in DigiCert's "Order validation status" example.
                let mut item = json!({
                    "domain_id": v.domain_id.to_string(),
                    "name_scope": v.name_scope,
                    "approval_scope": "subdomains",
                    "status": v.status(),
                    "method": order.method,
                    "dns_names": v.dns_names,
                });
                if let Some(at) = v.approved_at {
                    item["approval_expiration_date"] =
                        json!(iso8601(at + Duration::from_secs(397 * 86400)));
                }
                item
            })
            .collect();
        Reply::json(
            200,
            json!({
                "order_id": id.to_string(),
                "order_status": order.status(),
                "order_dcv_method": order.method,
                "organization_id": "112233",
                "organization_name": "Example Org",
                "organization_validations": [{
                    "type": "ov",
                    "name": "OV",
                    "description": "Normal Organization Validation",
                    "date_created": iso8601(order.created),
                    "validated_until": iso8601(order.created + Duration::from_secs(397 * 86400)),
                    "status": "active",
                }],
                "dns_name_validations": validations,
            }),
        )
    })
}

fn random_value_body(order: &mut Order) -> Value {
    // One value per order; replaced only once it has expired.
    if order.random_value.expired() {
        order.random_value = Token::fresh();
    }
    json!({
        "dcv_random_value": order.random_value.value,
        "expiration_date": iso8601(order.random_value.expires),
    })
}

fn order_random_value(shared: &Shared, id: Option<u64>) -> Reply {
    with_order(shared, id, |_, order| {
        Reply::json(200, random_value_body(order))
    })
}

fn order_method(shared: &Shared, id: Option<u64>, body: Option<&Value>) -> Reply {
    let method = match requested_method(body) {
        Ok(Some(m)) => m,
        Ok(None) => return bad_method(),
        Err(reply) => return reply,
    };
    with_order(shared, id, |_, order| {
        order.method = method;
        if order.method == "email" {
            // "DV SSL: Change DCV method" answers email with an empty body.
            Reply::empty(204)
        } else {
            Reply::json(200, random_value_body(order))
        }
    })
}

/// The names a check-dcv body asks about (`{"dns_names_validations":[{"dns_name":"..."}]}`), lowercase
/// with a wildcard's `*.` dropped; empty: the whole order.
fn requested_names(body: Option<&Value>) -> Vec<String> {
    body.and_then(|b| b.get("dns_names_validations"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("dns_name").and_then(Value::as_str))
                .map(|n| n.trim_start_matches("*.").to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

fn order_check(shared: &Shared, id: Option<u64>, body: Option<&Value>) -> Reply {
    let wanted = requested_names(body);
    // A validation is checked when the body names it (its scope or one of its names), or always
    // when the body names nothing.
    let asked = |scope: &str, names: &[String]| {
        wanted.is_empty()
            || wanted.iter().any(|w| {
                w == &scope.to_ascii_lowercase()
                    || names
                        .iter()
                        .any(|n| n.trim_start_matches("*.").eq_ignore_ascii_case(w))
            })
    };
    // Copy what the check needs, then let go of the lock while it talks to the network.
    let (oid, method, token, pending) = {
        let state = shared.state.lock().unwrap();
        let Some((oid, order)) = id.and_then(|id| state.orders.get(&id).map(|o| (id, o))) else {
            return order_not_found();
        };
        let pending: Vec<(usize, String, Vec<String>)> = order
            .validations
            .iter()
            .enumerate()
            .filter(|(_, v)| v.approved_at.is_none() && asked(&v.name_scope, &v.dns_names))
            .map(|(i, v)| (i, v.name_scope.clone(), v.dns_names.clone()))
            .collect();
        (
            oid,
            order.method.clone(),
            order.random_value.value.clone(),
            pending,
        )
    };
    if method == "email" {
        return Reply::error(
            400,
            "invalid_dns_method",
            "The order's DCV method cannot be checked.",
        );
    }
    let checker = checker(shared);
    let mut targets = Vec::new();
    let mut passed_idx = Vec::new();
    for (i, scope, names) in &pending {
        // DNS methods validate the name scope; http-token fetches each exact name.
        let names: Vec<&str> = if method == "http-token" {
            names.iter().map(String::as_str).collect()
        } else {
            vec![scope.as_str()]
        };
        let results: Vec<TargetCheck> = names
            .iter()
            .flat_map(|n| checker.check(&method, n, &token))
            .collect();
        if results.iter().all(|t| t.ok) {
            passed_idx.push(*i);
        }
        targets.extend(results);
    }
    let all_passed = passed_idx.len() == pending.len();
    sleep_unless_stopping(shared, shared.config.check_latency);

    let mut state = shared.state.lock().unwrap();
    let certificate_id = (all_passed
        && state.orders.get(&oid).is_some_and(|o| {
            o.validations
                .iter()
                .enumerate()
                .all(|(i, v)| v.approved_at.is_some() || passed_idx.contains(&i))
        }))
    .then(|| state.id());
    record_check(
        &mut state,
        "order check-dcv",
        oid,
        &method,
        all_passed,
        targets,
    );
    let Some(order) = state.orders.get_mut(&oid) else {
        return order_not_found();
    };
    let now = SystemTime::now();
    for i in passed_idx {
        order.validations[i].approved_at.get_or_insert(now);
    }
    if !all_passed {
        return not_found_error(&method);
    }
    // Issued only once every name of the order is approved (a subset check may leave some).
    if let Some(new_id) = certificate_id {
        order.certificate_id.get_or_insert(new_id);
    }
    let certificate_id = order.certificate_id;
    let names: Vec<Value> = order
        .validations
        .iter()
        .filter(|v| asked(&v.name_scope, &v.dns_names))
        .flat_map(|v| {
            v.dns_names
                .iter()
                .map(|n| json!({"dns_name": n, "status": v.status()}))
        })
        .collect();
    Reply::json(
        200,
        json!({
            "order_status": order.status(),
            "certificate_id": certificate_id,
            "dcv_status": "valid",
            "dns_name_validations": names,
        }),
    )
}

fn checker(shared: &Shared) -> Checker {
    Checker {
        resolver: shared.config.resolver,
        dns_port: shared.config.dns_port,
        http_port: shared.config.http_port,
        timeout: shared.config.check_timeout,
    }
}

fn record_check(
    state: &mut State,
    endpoint: &str,
    id: u64,
    method: &str,
    passed: bool,
    targets: Vec<TargetCheck>,
) {
    let premature = !passed && targets.iter().any(|t| t.reached && !t.ok);
    state.checks.push(CheckRecord {
        endpoint: endpoint.to_string(),
        id,
        method: method.to_string(),
        at: Instant::now(),
        passed,
        premature,
        targets,
    });
}

fn validations_json(domain: &Domain) -> Vec<Value> {
    let now = SystemTime::now();
    domain
        .types
        .iter()
        .map(|t| {
            let (status, dcv_status) = domain.type_status(t, now);
            let mut item = json!({
                "type": t,
                "name": t.to_ascii_uppercase(),
                "description": match t.as_str() {
                    "ev" => "Extended Organization Validation (EV)",
                    _ => "Normal Organization Validation",
                },
                "date_created": iso8601(domain.created),
                "status": status,
                "dcv_status": dcv_status,
                "org_status": "active",
                "verified_users": [],
            });
            if let Some(end) = domain.expiration.get(t) {
                item["validated_until"] = json!(iso8601(*end));
            }
            item
        })
        .collect()
}

/// A `filters[validation]` value: the validation type and the span of days left until the end of
/// its reuse period that it selects (see `matches` for the bounds).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ValidationFilter {
    kind: String,
    expired: bool,
    low_days: i64,
    high_days: i64,
}

impl ValidationFilter {
    fn parse(value: &str) -> Option<ValidationFilter> {
        let (kind, span) = value.split_once('_')?;
        if kind != "ov" && kind != "ev" {
            return None;
        }
        let (expired, low_days, high_days) = match span {
            "expiring_within_7_days" => (false, 0, 7),
            "expiring_within_30_days" => (false, 0, 30),
            "expiring_from_31_to_60_days" => (false, 30, 60),
            "expiring_from_61_to_90_days" => (false, 60, 90),
            "expired_in_last_7_days" => (true, -7, 0),
            _ => return None,
        };
        Some(ValidationFilter {
            kind: kind.to_string(),
            expired,
            low_days,
            high_days,
        })
    }

    /// Whether `domain` matches at `now`. A day is 86400 s from `now`: "within 30 days" is
    /// 0 <= left <= 30 days, "from 31 to 60" is 30 < left <= 60 days, "expired in the last 7
    /// days" is -7 days <= left < 0.
    fn matches(&self, domain: &Domain, now: SystemTime) -> bool {
        let Some(end) = domain.expiration.get(&self.kind) else {
            return false;
        };
        let left_ms: i128 = match end.duration_since(now) {
            Ok(d) => d.as_millis() as i128,
            Err(e) => -(e.duration().as_millis() as i128),
        };
        let day_ms = i128::from(DAY_SECS) * 1000;
        let (low, high) = (
            i128::from(self.low_days) * day_ms,
            i128::from(self.high_days) * day_ms,
        );
        if self.expired {
            low <= left_ms && left_ms < high
        } else if self.low_days == 0 {
            low <= left_ms && left_ms <= high
        } else {
            low < left_ms && left_ms <= high
        }
    }
}

/// A non-negative integer query parameter; 400 when it is not one.
fn number_param(query: &str, key: &str) -> Result<Option<usize>, Reply> {
    match query_param(query, key) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => v.parse::<usize>().map(Some).map_err(|_| {
            Reply::error(
                400,
                "bad_request_format",
                &format!("{key} must be a non-negative integer."),
            )
        }),
    }
}

/// The largest (and default) page of `GET /domain`.
const MAX_LIMIT: usize = 1000;

/// One domain as `GET /domain` lists it.
fn domain_summary(id: u64, d: &Domain, now: SystemTime, with_time: bool) -> Value {
    let mut item = json!({
        "id": id,
        "name": d.name,
        "is_active": d.active,
        "dcv_method": d.method,
        "date_created": iso8601(d.created),
        "validations": d.types.iter().map(|t| json!({
            "type": t, "name": t.to_ascii_uppercase(), "status": d.type_status(t, now).0,
        })).collect::<Vec<_>>(),
    });
    // Like CertCentral, a type with no completed validation is missing from dcv_expiration, and
    // the key itself is absent when no type has one.
    if !d.expiration.is_empty() {
        let format = if with_time { iso8601 } else { date };
        item["dcv_expiration"] = d
            .expiration
            .iter()
            .map(|(kind, end)| (kind.clone(), json!(format(*end))))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    if let Some(at) = d.approved_at {
        item["dcv_approval_datetime"] = json!(iso8601(at));
    }
    if let Some(at) = d.submitted_at {
        item["last_submitted_datetime"] = json!(iso8601(at));
    }
    item
}

/// `GET /domain`: every domain, or those `filters[search]`, `filters[validation]` and
/// `filters[dcv_method]` select, by id, one page of `limit` (default and at most 1000) from
/// `offset`.
fn domain_list(shared: &Shared, query: &str) -> Reply {
    let param = |key: &str| query_param(query, key).filter(|v| !v.is_empty());
    let search = param("filters[search]").map(|s| s.to_ascii_lowercase());
    let method = param("filters[dcv_method]");
    let validation = match param("filters[validation]") {
        None => None,
        Some(v) => match ValidationFilter::parse(&v) {
            Some(filter) => Some(filter),
            None => {
                return Reply::error(
                    400,
                    "bad_request_format",
                    &format!("Unknown filters[validation] value {v:?}."),
                );
            }
        },
    };
    let limit = match number_param(query, "limit") {
        Ok(None | Some(0)) => MAX_LIMIT,
        Ok(Some(n)) => n.min(MAX_LIMIT),
        Err(reply) => return reply,
    };
    let offset = match number_param(query, "offset") {
        Ok(n) => n.unwrap_or(0),
        Err(reply) => return reply,
    };
    let with_time = is_true(query, "include_dcv_expiration_time");
    let now = SystemTime::now();
    let state = shared.state.lock().unwrap();
    let selected: Vec<(u64, &Domain)> = state
        .domains
        .iter()
        .filter(|(_, d)| match &search {
            None => true,
            // A leading % asks for a contains-match, as on CertCentral.
            Some(s) if s.starts_with('%') => d.name.contains(s.trim_matches('%')),
            Some(s) => d.name == s.trim_end_matches('.'),
        })
        .filter(|(_, d)| method.as_ref().is_none_or(|m| d.method == *m))
        .filter(|(_, d)| validation.as_ref().is_none_or(|f| f.matches(d, now)))
        .map(|(id, d)| (*id, d))
        .collect();
    let total = selected.len();
    let domains: Vec<Value> = selected
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(id, d)| domain_summary(id, d, now, with_time))
        .collect();
    Reply::json(
        200,
        json!({"domains": domains, "page": {"total": total, "limit": limit, "offset": offset}}),
    )
}

fn token_json(domain: &Domain, token: &Token) -> Value {
    let mut body = json!({
        "token": token.value,
        "status": if domain.validated_at.is_some() { "active" } else { "pending" },
        "expiration_date": iso8601(token.expires),
    });
    match domain.method.as_str() {
        "dns-cname-token" => body["verification_value"] = json!(CNAME_SUFFIX),
        "http-token" | "http-token-dynamic" => {
            let url = domain.token_url.clone().unwrap_or_else(|| {
                let path = check::token_path(&domain.method, &token.file);
                format!("http://{}{path}", domain.name)
            });
            body["http_token_url"] = json!(url);
        }
        _ => {}
    }
    body
}

fn is_true(query: &str, key: &str) -> bool {
    query_param(query, key).is_some_and(|v| v == "true" || v == "1")
}

fn domain_info(shared: &Shared, id: Option<u64>, query: &str) -> Reply {
    let (include_dcv, include_validation) = (
        is_true(query, "include_dcv"),
        is_true(query, "include_validation"),
    );
    with_domain(shared, id, |id, domain| {
        let mut body = json!({
            "id": id,
            "name": domain.name,
            "is_active": domain.active,
            "status": if domain.active { "active" } else { "inactive" },
            "dcv_method": domain.method,
            "date_created": iso8601(domain.created),
        });
        // Like CertCentral, DCV and validation details come only when asked for.
        if include_validation {
            body["validations"] = json!(validations_json(domain));
        }
        if include_dcv {
            // One date for the domain: the earliest end of a completed validation.
            if let Some(end) = domain.expiration.values().min() {
                body["dcv_expiration_datetime"] = json!(iso8601(*end));
            }
            if let Some(token) = &domain.token {
                body["dcv_token"] = token_json(domain, token);
            }
        }
        Reply::json(200, body)
    })
}

fn domain_submit(shared: &Shared, id: Option<u64>, body: Option<&Value>) -> Reply {
    let Some(types) = body
        .and_then(|b| b.get("validations"))
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(|t| t.get("type").and_then(Value::as_str).map(str::to_string))
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
    else {
        return Reply::error(
            400,
            "bad_request_format",
            "validations must list at least one type.",
        );
    };
    let method = match requested_method(body) {
        Ok(m) => m,
        Err(reply) => return reply,
    };
    with_domain(shared, id, |id, domain| {
        for t in &types {
            if !domain.types.contains(t) {
                domain.types.push(t.clone());
            }
        }
        // The submission stays open until a validate-token passes; the types' current
        // validations (if any) stay usable until their reuse periods end.
        domain.submitted = Some(types);
        domain.submitted_at = Some(SystemTime::now());
        if let Some(m) = method {
            domain.method = m;
        }
        if domain.method == "email" {
            domain.token = None;
            let base_emails: Vec<String> = [
                "admin",
                "administrator",
                "webmaster",
                "hostmaster",
                "postmaster",
            ]
            .iter()
            .map(|local| format!("{local}@{}", domain.name))
            .collect();
            return Reply::json(
                201,
                json!({"id": id, "validation_emails": {
                    "name_scope": domain.name, "base_emails": base_emails, "whois_emails": [],
                }}),
            );
        }
        let token = Token::fresh();
        let body = json!({"id": id, "dcv_token": token_json(domain, &token)});
        domain.token = Some(token);
        if domain.answer_204 {
            Reply::empty(204)
        } else {
            Reply::json(201, body)
        }
    })
}

fn domain_validations(shared: &Shared, id: Option<u64>) -> Reply {
    with_domain(shared, id, |_, domain| {
        Reply::json(200, json!({"validations": validations_json(domain)}))
    })
}

fn domain_new_token(shared: &Shared, id: Option<u64>) -> Reply {
    with_domain(shared, id, |_, domain| {
        if domain.method == "email" {
            return Reply::error(
                400,
                "invalid_dcv_method",
                "The domain's DCV method does not use a token.",
            );
        }
        // A new token replaces the previous one.
        let token = Token::fresh();
        let mut body = token_json(domain, &token);
        if let Some(map) = body.as_object_mut() {
            map.remove("status");
            map.remove("verification_value");
        }
        domain.token = Some(token);
        Reply::json(200, body)
    })
}

fn domain_method(shared: &Shared, id: Option<u64>, body: Option<&Value>) -> Reply {
    let method = match requested_method(body) {
        Ok(Some(m)) => m,
        Ok(None) => return bad_method(),
        Err(reply) => return reply,
    };
    with_domain(shared, id, |_, domain| {
        if domain.method == method {
            return Reply::json(200, json!({}));
        }
        domain.method = method;
        if domain.method == "email" {
            domain.token = None;
            return Reply::json(200, json!({}));
        }
        let token = Token::fresh();
        let body = json!({"dcv_token": token_json(domain, &token)});
        domain.token = Some(token);
        Reply::json(200, body)
    })
}

fn domain_check(shared: &Shared, id: Option<u64>) -> Reply {
    let (did, name, method, token, file) = {
        let state = shared.state.lock().unwrap();
        let Some((did, domain)) = id.and_then(|id| state.domains.get(&id).map(|d| (id, d))) else {
            return domain_not_found();
        };
        (
            did,
            domain.name.clone(),
            domain.method.clone(),
            domain.token.as_ref().map(|t| t.value.clone()),
            domain
                .token
                .as_ref()
                .map(|t| t.file.clone())
                .unwrap_or_default(),
        )
    };
    if method == "email" {
        return Reply::error(
            400,
            "invalid_dcv_method",
            "The domain's DCV method does not use a token.",
        );
    }
    let targets = match &token {
        Some(token) if method == "http-token-dynamic" => {
            checker(shared).http(&name, token, &check::token_path(&method, &file))
        }
        Some(token) => checker(shared).check(&method, &name, token),
        None => vec![TargetCheck::failed(
            &name,
            "-",
            false,
            "no token was issued for this domain yet".to_string(),
        )],
    };
    let passed = targets.iter().all(|t| t.ok);
    // The time DigiCert's multi-perspective queries take (the lock is not held).
    sleep_unless_stopping(shared, shared.config.check_latency);
    let mut state = shared.state.lock().unwrap();
    record_check(
        &mut state,
        "domain validate-token",
        did,
        &method,
        passed,
        targets,
    );
    if !passed {
        return not_found_error(&method);
    }
    let Some(domain) = state.domains.get_mut(&did) else {
        return domain_not_found();
    };
    domain.complete(SystemTime::now(), shared.config.reuse_period);
    // The current "Check domain DCV" page answers with the status only (older copies added the token).
    Reply::json(200, json!({"status": "active"}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::form_decode;

    #[test]
    fn query_params_decode() {
        let q = "filters%5Bsearch%5D=%25example&include_dcv=true";
        assert_eq!(
            query_param(q, "filters[search]").as_deref(),
            Some("%example")
        );
        assert!(is_true(q, "include_dcv"));
        assert!(!is_true(q, "include_validation"));
        assert_eq!(form_decode("a+b%2Fc%zz"), "a b/c%zz");
    }

    #[test]
    fn sliding_windows_admit_refuse_and_say_when() {
        let limits = [(3, Duration::from_secs(5)), (5, Duration::from_secs(60))];
        let mut served = VecDeque::new();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        for ms in [0, 1000, 2000] {
            assert_eq!(admit(&mut served, &limits, at(ms)), Ok(()));
        }
        // The fourth within 5 s waits for the first to leave: 5 s after it.
        assert_eq!(
            admit(&mut served, &limits, at(2500)),
            Err(Duration::from_millis(2500))
        );
        assert_eq!(served.len(), 3, "a refused request is not counted");
        assert_eq!(admit(&mut served, &limits, at(5000)), Ok(()));
        assert_eq!(admit(&mut served, &limits, at(6000)), Ok(()));
        // Five in the minute now: the long window decides, until the first is 60 s old.
        assert_eq!(
            admit(&mut served, &limits, at(20_000)),
            Err(Duration::from_secs(40))
        );
        assert_eq!(admit(&mut served, &limits, at(60_000)), Ok(()));
        assert_eq!(admit(&mut served, &[], at(60_001)), Ok(()));
        assert_eq!(retry_after_secs(Duration::from_millis(2500)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(40)), 40);
    }

    #[test]
    fn validation_filters_parse() {
        assert!(ValidationFilter::parse("ov_expiring_within_30_days").is_some());
        assert!(ValidationFilter::parse("ev_expired_in_last_7_days").is_some());
        assert!(ValidationFilter::parse("dv_expiring_within_30_days").is_none());
        assert!(ValidationFilter::parse("ov_expiring_within_31_days").is_none());
    }
}
