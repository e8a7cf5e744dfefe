//! The CertCentral client against the answers DigiCert's API documentation shows (the contract).
//!
//! A loopback server answers each request with a fixture from `tests/fixtures/certcentral/` (the
//! shape of the page's example, our own values: see SOURCES.md there) and records what it was
//! sent. Each test drives the library's `CertCentral` through one endpoint and checks both sides:
//! the request is the documented one (method, path, query, `X-DC-DEVKEY`, JSON content type, the
//! body's exact fields or no body), the documented answer parses into what dcv-hook uses, and the
//! documented error bodies end in README's exit codes with DigiCert's code and message in one line.
//! The last test holds the simulator (sim/) to the same pages: every field dcv-hook reads present,
//! none of another JSON type than documented. All of it on loopback, no DNS.

use crate::support::front::read_request;
use dcv_hook::certcentral::types::DcvToken;
use dcv_hook::certcentral::{CertCentral, Client};
use dcv_hook::dates;
use dcv_hook::secret::Secret;
use serde_json::{Value, json};
use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY: &str = "contract-key-5b1d9e";

/// One canned answer, for `method` and `path` when the query contains `query`.
struct Answer {
    method: &'static str,
    path: &'static str,
    query: &'static str,
    status: u16,
    /// A file under tests/fixtures/certcentral/, or no body.
    fixture: Option<&'static str>,
    /// Extra header lines, each ending in `\r\n`.
    headers: &'static str,
}

/// The answer `fixture` with `status` to `method path`, whatever the query.
fn answer(method: &'static str, path: &'static str, status: u16, fixture: &'static str) -> Answer {
    Answer {
        method,
        path,
        query: "",
        status,
        fixture: (!fixture.is_empty()).then_some(fixture),
        headers: "",
    }
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.as_str())
    }

    /// Method, path and query as documented, the key and the JSON content type, and exactly the
    /// documented body (`None`: no body at all).
    fn is(&self, method: &str, path: &str, query: &str, body: Option<Value>) {
        assert_eq!(
            (
                self.method.as_str(),
                self.path.as_str(),
                self.query.as_str()
            ),
            (method, path, query)
        );
        assert_eq!(self.header("X-DC-DEVKEY"), Some(KEY), "{self:?}");
        let agent = self.header("User-Agent").unwrap_or_default();
        assert!(agent.starts_with("dcv-hook/"), "{self:?}");
        let content_type = self.header("Content-Type").unwrap_or_default();
        assert!(content_type.starts_with("application/json"), "{self:?}");
        match body {
            None => assert_eq!(self.body, "", "{method} {path} sends no body"),
            Some(expected) => {
                let sent: Value = serde_json::from_str(&self.body).expect("a JSON body");
                assert_eq!(sent, expected, "{method} {path}");
            }
        }
    }
}

/// The documentation's answers on loopback.
struct Docs {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Docs {
    fn serve(answers: Vec<Answer>) -> Docs {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let Some(raw) = read_request(&mut stream) else {
                    continue;
                };
                let request = parse(&raw);
                let reply = reply_to(&answers, &request);
                log.lock().unwrap().push(request);
                let _ = stream.write_all(&reply);
            }
        });
        Docs { url, seen }
    }

    fn api(&self) -> CertCentral {
        CertCentral::new(self.client())
    }

    fn client(&self) -> Client {
        Client::new(&self.url, Secret::new(KEY), Duration::from_secs(5)).unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn parse(raw: &[u8]) -> Seen {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let mut start = lines.next().unwrap_or_default().split(' ');
    let method = start.next().unwrap_or_default().to_string();
    let target = start.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Seen {
        method,
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body: body.to_string(),
    }
}

fn reply_to(answers: &[Answer], request: &Seen) -> Vec<u8> {
    let found = answers.iter().find(|a| {
        a.method == request.method && a.path == request.path && request.query.contains(a.query)
    });
    let Some(a) = found else {
        let body =
            r#"{"errors":[{"code":"not_found|route","message":"no fixture for this request"}]}"#;
        return http(404, "", body);
    };
    http(
        a.status,
        a.headers,
        &a.fixture.map(fixture).unwrap_or_default(),
    )
}

fn http(status: u16, headers: &str, body: &str) -> Vec<u8> {
    let kind = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    format!(
        "HTTP/1.1 {status} Fixture\r\n{kind}{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/certcentral")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `{"code","message"}` of an error fixture, as the one-line error must carry them.
fn documented_error(name: &str) -> (String, String) {
    let body: Value = serde_json::from_str(&fixture(name)).unwrap();
    let item = &body["errors"][0];
    let message = item["message"].as_str().unwrap().trim_end_matches('.');
    (item["code"].as_str().unwrap().into(), message.into())
}

#[test]
fn order_validation_status_is_read_with_ids_as_strings() {
    let docs = Docs::serve(vec![answer(
        "GET",
        "/order/certificate/480215/validation",
        200,
        "order_validation.json",
    )]);
    let v = docs
        .api()
        .order_validation(480215)
        .expect("the documented answer parses");
    docs.seen()[0].is("GET", "/order/certificate/480215/validation", "", None);
    assert_eq!(v.order_id, Some(480215));
    assert_eq!(v.order_status.as_deref(), Some("pending"));
    assert_eq!(v.order_dcv_method.as_deref(), Some("dns-txt-token"));
    let [approved, pending] = &v.dns_name_validations[..] else {
        panic!("two validations: {:?}", v.dns_name_validations)
    };
    assert_eq!(approved.domain_id, Some(5512));
    assert_eq!(approved.name_scope, "contract.example");
    assert!(approved.is_approved() && !pending.is_approved());
    assert_eq!(
        approved.dns_names,
        ["contract.example", "www.contract.example"]
    );
    assert_eq!(approved.approval_scope.as_deref(), Some("subdomains"));
    let approval_ends = approved.approval_expiration_date.as_deref().unwrap();
    assert_eq!(
        dates::parse(approval_ends),
        dates::parse("2027-01-20T08:00:00Z")
    );
    assert_eq!(
        (pending.domain_id, pending.method.as_deref()),
        (Some(5513), Some("dns-txt-token"))
    );
}

#[test]
fn order_random_value_and_method_change_send_what_the_docs_show() {
    let path = "/order/certificate/480215/dcv-random-value";
    let method_path = "/order/certificate/480215/dcv-method";
    let docs = Docs::serve(vec![
        answer("PUT", path, 200, "order_dcv_random_value.json"),
        answer("PUT", method_path, 200, "order_dcv_method.json"),
    ]);
    let api = docs.api();
    assert_eq!(api.order_random_value(480215).unwrap(), "q7h2m4kz9w1c5x8b");
    assert_eq!(
        api.set_order_method(480215, "dns-txt-token").unwrap(),
        "r3t6y9u2i5o8p1a4"
    );
    let seen = docs.seen();
    seen[0].is("PUT", path, "", None);
    let body = json!({"dcv_method": "dns-txt-token"});
    seen[1].is("PUT", method_path, "", Some(body));
    assert_eq!(seen.len(), 2);

    // For email the docs answer with nothing: the value is then asked for explicitly.
    let docs = Docs::serve(vec![
        answer("PUT", method_path, 204, ""),
        answer("PUT", path, 200, "order_dcv_random_value.json"),
    ]);
    assert_eq!(
        docs.api().set_order_method(480215, "email").unwrap(),
        "q7h2m4kz9w1c5x8b"
    );
    let seen = docs.seen();
    seen[0].is("PUT", method_path, "", Some(json!({"dcv_method": "email"})));
    seen[1].is("PUT", path, "", None);
}

#[test]
fn check_dcv_for_the_order_or_a_subset_reads_each_names_status() {
    let path = "/order/certificate/480215/check-dcv";
    let docs = Docs::serve(vec![answer("PUT", path, 200, "order_check_dcv.json")]);
    let api = docs.api();
    let all = api.check_dcv(480215, &[]).unwrap();
    docs.seen()[0].is("PUT", path, "", None);
    assert_eq!(all.order_status.as_deref(), Some("issued"));
    assert_eq!(all.certificate_id, Some(903311));
    assert_eq!(all.dcv_status.as_deref(), Some("valid"));
    let names: Vec<(&str, bool)> = all
        .dns_name_validations
        .iter()
        .map(|v| (v.name_scope.as_str(), v.is_approved()))
        .collect();
    assert_eq!(
        names,
        [("contract.example", true), ("www.contract.example", true)]
    );

    // The parameter name is documented; the item shape is not (see SOURCES.md): dcv-hook's own.
    api.check_dcv(480215, &["www.contract.example".to_string()])
        .unwrap();
    let subset = json!({"dns_names_validations": [{"dns_name": "www.contract.example"}]});
    docs.seen()[1].is("PUT", path, "", Some(subset));

    // The older page's answer: no dns_name_validations at all.
    let docs = Docs::serve(vec![answer(
        "PUT",
        path,
        200,
        "order_check_dcv_legacy.json",
    )]);
    let old = docs.api().check_dcv(480215, &[]).unwrap();
    assert_eq!(old.order_status.as_deref(), Some("pending"));
    assert!(old.dns_name_validations.is_empty());
}

#[test]
fn domains_are_found_by_search_and_listed_page_by_page_with_their_dcv_expiration() {
    let docs = Docs::serve(vec![answer("GET", "/domain", 200, "domain_search.json")]);
    let found = docs.api().find_domain("www.contract.example").unwrap();
    assert_eq!((found.id, found.name.as_str()), (5512, "contract.example"));
    let seen = docs.seen();
    // The name first, then its parent: the answer to the first names only the parent.
    seen[0].is(
        "GET",
        "/domain",
        "filters[search]=www.contract.example",
        None,
    );
    seen[1].is("GET", "/domain", "filters[search]=contract.example", None);

    let page = |query, fixture| Answer {
        query,
        ..answer("GET", "/domain", 200, fixture)
    };
    let docs = Docs::serve(vec![
        page("offset=0&", "domain_list_page1.json"),
        page("offset=2&", "domain_list_page2.json"),
    ]);
    let domains = docs.api().list_domains().unwrap();
    let query = |offset| format!("limit=1000&offset={offset}&include_dcv_expiration_time=true");
    let seen = docs.seen();
    assert_eq!(
        seen.len(),
        2,
        "page.total is 3 and each page holds 2: {seen:?}"
    );
    seen[0].is("GET", "/domain", &query(0), None);
    seen[1].is("GET", "/domain", &query(2), None);
    let got: Vec<(u64, Option<&str>, Option<&str>)> = domains
        .iter()
        .map(|d| {
            let exp = d.dcv_expiration.as_ref();
            (
                d.id,
                exp.and_then(|e| e.of("ov")),
                exp.and_then(|e| e.of("ev")),
            )
        })
        .collect();
    let (ov, ev) = ("2026-11-27T12:00:00+00:00", "2026-11-27T12:00:00+00:00");
    assert_eq!(
        got,
        [
            (5512, Some(ov), Some(ev)),
            (5513, None, None),
            (5514, Some("2026-09-30T06:00:00+00:00"), None)
        ]
    );
    // Each expiry is a time revalidate can compare (the date-time form dcv-hook asks for).
    let expiry = dates::parse(ov).map(dates::format_date);
    assert_eq!(expiry.as_deref(), Some("2026-11-27"));
    assert_eq!(dates::parse(ov), dates::parse("2026-11-27T12:00:00Z"));
    assert_eq!(domains[1].dcv_method.as_deref(), Some("email"));
    assert_eq!(domains[2].is_active, Some(false));
}

#[test]
fn domain_info_gives_method_validations_and_token() {
    let docs = Docs::serve(vec![answer("GET", "/domain/5512", 200, "domain_info.json")]);
    let info = docs.api().domain(5512).unwrap();
    let query = "include_dcv=true&include_validation=true";
    docs.seen()[0].is("GET", "/domain/5512", query, None);
    assert_eq!((info.id, info.name.as_str()), (5512, "contract.example"));
    assert_eq!(info.dcv_method.as_deref(), Some("dns-txt-token"));
    let types: Vec<(&str, Option<&str>, Option<&str>)> = info
        .validations
        .iter()
        .map(|v| {
            (
                v.vtype.as_str(),
                v.status.as_deref(),
                v.dcv_status.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("ov", Some("active"), Some("complete")),
            ("ev", Some("pending"), Some("pending"))
        ]
    );
    let token = info.dcv_token.expect("dcv_token");
    let expected = (
        "k2j5h8g1f4d7s0a3z6x9c2v5b8n1m4q7",
        "2026-12-30T12:00:00+00:00",
    );
    assert_eq!(
        (token.token.as_deref(), token.expiration_date.as_deref()),
        (Some(expected.0), Some(expected.1))
    );
}

#[test]
fn submitting_a_domain_sends_the_documented_body_and_reads_each_documented_answer() {
    let path = "/domain/5512/validation";
    let body = json!({"validations": [{"type": "ov"}], "dcv_method": "dns-txt-token"});
    let ov = ["ov".to_string()];
    let submit = |docs: &Docs| {
        docs.api()
            .submit_for_domain_token(5512, &ov, "dns-txt-token")
            .unwrap()
            .token
    };
    // 201 with a token.
    let docs = Docs::serve(vec![answer("POST", path, 201, "domain_submit_dns.json")]);
    let token = submit(&docs);
    assert_eq!(token, "w8e1r4t7y0u3i6o9p2a5s8d1f4g7h0j3");
    let seen = docs.seen();
    seen[0].is("POST", path, "", Some(body.clone()));
    assert_eq!(seen.len(), 1, "the answer's token is used: no second call");

    // 204 No Content: the token comes from "Generate DCV token", which takes no body.
    let docs = Docs::serve(vec![
        answer("POST", path, 204, ""),
        answer(
            "POST",
            "/domain/5512/dcv/token",
            201,
            "domain_dcv_token.json",
        ),
    ]);
    let token = submit(&docs);
    assert_eq!(token, "z1x4c7v0b3n6m9q2w5e8r1t4y7u0i3o6");
    let seen = docs.seen();
    seen[0].is("POST", path, "", Some(body));
    seen[1].is("POST", "/domain/5512/dcv/token", "", None);

    // 201 for email: addresses, no token.
    let docs = Docs::serve(vec![answer("POST", path, 201, "domain_submit_email.json")]);
    let both = ["ov".to_string(), "ev".to_string()];
    let token = docs
        .api()
        .submit_domain_validation(5512, &both, "email")
        .unwrap();
    assert!(token.is_none(), "{token:?}");
    let email = json!({"validations": [{"type": "ov"}, {"type": "ev"}], "dcv_method": "email"});
    docs.seen()[0].is("POST", path, "", Some(email));
}

#[test]
fn domain_tokens_are_generated_and_checked_without_a_body() {
    let token_path = "/domain/5512/dcv/token";
    let check_path = "/domain/5512/dcv/validate-token";
    for (fixture, token) in [
        ("domain_dcv_token.json", "z1x4c7v0b3n6m9q2w5e8r1t4y7u0i3o6"),
        (
            "domain_dcv_token_http.json",
            "p9o6i3u0y7t4r1e8w5q2a9s6d3f0g7h4",
        ),
    ] {
        let docs = Docs::serve(vec![answer("POST", token_path, 201, fixture)]);
        assert_eq!(docs.api().new_domain_token(5512).unwrap().token, token);
        docs.seen()[0].is("POST", token_path, "", None);
    }
    let docs = Docs::serve(vec![answer(
        "POST",
        token_path,
        201,
        "domain_dcv_token_http.json",
    )]);
    let http: Option<DcvToken> = docs.client().post(token_path, None).unwrap();
    assert_eq!(
        http.and_then(|t| t.http_token_url).as_deref(),
        Some("http://www.contract.example/.well-known/pki-validation/fileauth.txt")
    );

    for fixture in [
        "domain_validate_token.json",
        "domain_validate_token_legacy.json",
    ] {
        let docs = Docs::serve(vec![answer("PUT", check_path, 200, fixture)]);
        let checked = docs.api().validate_domain_token(5512).unwrap();
        assert_eq!(checked.status.as_deref(), Some("active"), "{fixture}");
        docs.seen()[0].is("PUT", check_path, "", None);
    }
}

#[test]
fn domain_validation_details_are_read() {
    let path = "/domain/5512/validation";
    let docs = Docs::serve(vec![answer("GET", path, 200, "domain_validation.json")]);
    let v = docs.api().domain_validations(5512).unwrap();
    docs.seen()[0].is("GET", path, "", None);
    let first = &v.validations[0];
    assert_eq!(first.vtype, "ov");
    assert_eq!(
        (first.status.as_deref(), first.dcv_status.as_deref()),
        (Some("active"), Some("complete"))
    );
    assert_eq!(
        first.validated_until.as_deref(),
        Some("2026-11-27T12:00:00+00:00")
    );
}

/// Which call meets which documented error, and the exit code README gives it.
#[test]
fn documented_errors_end_in_readme_exit_codes_with_digicerts_code_and_message() {
    let check = "/order/certificate/480215/check-dcv";
    let order = "/order/certificate/480215/validation";
    let token = "/domain/5512/dcv/token";
    let table: [(&str, &str, u16, &str, u8); 9] = [
        ("PUT", check, 400, "errors/invalid_dns_txt.json", 75),
        (
            "PUT",
            check,
            400,
            "errors/file_random_value_not_found.json",
            75,
        ),
        ("PUT", check, 400, "errors/invalid_dns_method.json", 65),
        ("POST", token, 400, "errors/invalid_dcv_method.json", 65),
        ("GET", order, 403, "errors/missing_permission.json", 77),
        ("GET", order, 404, "errors/not_found.json", 65),
        ("GET", order, 404, "errors/not_found_order.json", 65),
        ("GET", order, 401, "errors/unauthorized.json", 77),
        ("GET", order, 403, "errors/unauthorized.json", 77),
    ];
    for (method, path, status, fixture, code) in table {
        let docs = Docs::serve(vec![answer(method, path, status, fixture)]);
        let api = docs.api();
        let err = match method {
            "PUT" => api.check_dcv(480215, &[]).map(|_| ()),
            "POST" => api.new_domain_token(5512).map(|_| ()),
            _ => api.order_validation(480215).map(|_| ()),
        }
        .expect_err(fixture);
        let (dc_code, dc_message) = documented_error(fixture);
        let message = err.message();
        assert_eq!(err.exit_code(), code, "{fixture} ({status}): {message}");
        assert!(
            message.contains(&format!("{dc_code}: {dc_message}")),
            "{message}"
        );
        assert!(message.contains(&format!("HTTP {status}")), "{message}");
        assert!(
            !message.contains('\n') && !message.contains(KEY),
            "{message}"
        );
        assert_eq!(docs.seen().len(), 1, "{fixture}: a 4xx is not retried");
    }
}

#[test]
fn the_rate_limit_answer_is_retried_as_retry_after_says_then_exits_69() {
    let path = "/order/certificate/480215/validation";
    let limited = |retry_after| Answer {
        headers: retry_after,
        ..answer("GET", path, 429, "errors/request_limit_exceeded.json")
    };
    let (code, message) = documented_error("errors/request_limit_exceeded.json");

    // Retry-After the client can wait out: retried until the attempts are used up.
    let docs = Docs::serve(vec![limited("Retry-After: 0\r\n")]);
    let err = docs.api().order_validation(480215).unwrap_err();
    assert_eq!(err.exit_code(), 69, "{err}");
    assert!(
        err.message().contains(&format!("{code}: {message}")),
        "{err}"
    );
    assert!(err.message().contains("gave up after 5 attempts"), "{err}");
    assert_eq!(docs.seen().len(), 5);

    // Longer than dcv-hook waits: one request, and the error says how long DigiCert asked for.
    let docs = Docs::serve(vec![limited("Retry-After: 600\r\n")]);
    let err = docs.api().order_validation(480215).unwrap_err();
    assert_eq!(err.exit_code(), 69, "{err}");
    assert!(err.message().contains("retry after 600s"), "{err}");
    assert!(
        err.message().contains(&format!("{code}: {message}")),
        "{err}"
    );
    assert_eq!(docs.seen().len(), 1);
}

/// Where `got` has a value of another JSON type than the documented `doc` (keys both have, arrays
/// by their first items; `null` stands for an absent optional value and matches anything).
fn type_differences(at: &str, doc: &Value, got: &Value, out: &mut Vec<String>) {
    match (doc, got) {
        (Value::Object(d), Value::Object(g)) => {
            for (key, value) in d {
                if let Some(v) = g.get(key) {
                    type_differences(&format!("{at}.{key}"), value, v, out);
                }
            }
        }
        (Value::Array(d), Value::Array(g)) => {
            if let (Some(d), Some(g)) = (d.first(), g.first()) {
                type_differences(&format!("{at}[0]"), d, g, out);
            }
        }
        (Value::Null, _) | (_, Value::Null) => {}
        (d, g) if std::mem::discriminant(d) != std::mem::discriminant(g) => {
            out.push(format!("{at}: documented {d}, simulated {g}"));
        }
        _ => {}
    }
}

/// The simulator's answer to one call next to the documented one: every field dcv-hook reads from
/// it (`read`, JSON pointers) present, and no field of another type than the page shows.
fn like_the_docs(fixture_name: &str, got: Option<Value>, read: &str) -> Vec<String> {
    let doc: Value = serde_json::from_str(&fixture(fixture_name)).unwrap();
    let got = got.unwrap_or(Value::Null);
    let mut out = Vec::new();
    type_differences(fixture_name, &doc, &got, &mut out);
    for pointer in read.split_whitespace() {
        if doc.pointer(pointer).is_some() && got.pointer(pointer).is_none() {
            out.push(format!("{fixture_name}{pointer} missing"));
        }
    }
    out
}

/// What dcv-hook reads from each answer: JSON pointers into the fixture of the same name.
const READS: [(&str, &str); 9] = [
    (
        "order_validation.json",
        "/order_id /order_status /order_dcv_method /dns_name_validations/0/domain_id \
         /dns_name_validations/0/name_scope /dns_name_validations/0/status \
         /dns_name_validations/0/dns_names /dns_name_validations/0/approval_expiration_date",
    ),
    ("order_dcv_random_value.json", "/dcv_random_value"),
    ("order_dcv_method.json", "/dcv_random_value"),
    ("domain_search.json", "/domains/0/id /domains/0/name"),
    (
        "domain_list_page1.json",
        "/domains/0/id /domains/0/name /domains/0/is_active /domains/0/dcv_method \
         /domains/0/dcv_expiration/ov /domains/0/dcv_expiration/ev /domains/0/validations/0/type \
         /page/total /page/limit",
    ),
    (
        "domain_validation.json",
        "/validations/0/type /validations/0/status /validations/0/dcv_status \
         /validations/0/validated_until",
    ),
    ("domain_submit_dns.json", "/dcv_token/token"),
    (
        "domain_info.json",
        "/id /name /dcv_method /validations/0/type /validations/0/status \
         /validations/0/dcv_status /dcv_token/token",
    ),
    ("domain_dcv_token.json", "/token"),
];

#[test]
fn the_simulator_answers_in_the_documented_shapes() {
    use dcv_sim::certcentral::{DomainSpec, OrderSpec, SimConfig, Simulator};
    // No DCV check is asked for, so the resolver is never used.
    let sim = Simulator::start(SimConfig::new(KEY, "127.0.0.1:9".parse().unwrap()));
    let names = ["contract.example", "www.contract.example"];
    let order = sim.add_order(OrderSpec::new(names).approved(["contract.example"]));
    let spec = DomainSpec::new("contract.example").validation_types(["ov", "ev"]);
    let domain = sim.add_domain(spec.expires_in_days("ov", 90).expires_in_days("ev", 90));
    let client = Client::new(&sim.url(), Secret::new(KEY), Duration::from_secs(5)).unwrap();
    let (o, d) = (
        format!("/order/certificate/{order}"),
        format!("/domain/{domain}"),
    );
    let get = |path: &str| client.get::<Value>(path).ok();
    let put = |path: &str, body: Value| client.put::<Value>(path, Some(&body)).ok().flatten();
    let post = |path: &str, body: Option<Value>| client.post::<Value>(path, body.as_ref());
    let submit = json!({"validations": [{"type": "ov"}], "dcv_method": "dns-txt-token"});
    // In the order of READS; the domain's info is asked for once it has a token.
    let answers = [
        get(&format!("{o}/validation")),
        client
            .put(&format!("{o}/dcv-random-value"), None)
            .ok()
            .flatten(),
        put(
            &format!("{o}/dcv-method"),
            json!({"dcv_method": "dns-txt-token"}),
        ),
        get("/domain?filters[search]=contract.example"),
        get("/domain?include_dcv_expiration_time=true"),
        get(&format!("{d}/validation")),
        post(&format!("{d}/validation"), Some(submit))
            .ok()
            .flatten(),
        get(&format!("{d}?include_dcv=true&include_validation=true")),
        post(&format!("{d}/dcv/token"), None).ok().flatten(),
    ];
    let differences: Vec<String> = READS
        .iter()
        .zip(answers)
        .flat_map(|((fixture, read), got)| like_the_docs(fixture, got, read))
        .collect();
    assert!(differences.is_empty(), "{differences:#?}");
}
