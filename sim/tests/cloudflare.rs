//! The fake Cloudflare API over HTTP, the way Cloudflare answers: auth checks, the envelope,
//! filters, pagination, error codes, faults, the sink and the request log.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dcv_sim::cloudflare::wire_value;
use dcv_sim::{AuthSeen, CfFault, Change, ChangeKind, FakeCloudflare, FakeCloudflareConfig};
use serde_json::{Value, json};

const TOKEN: &str = "cfut_sim0123456789abcdefghijklmnopqrstuvw";

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn code(&self) -> u64 {
        self.json()["errors"][0]["code"].as_u64().unwrap_or(0)
    }
}

enum Auth<'a> {
    Bearer(&'a str),
    Key(&'a str, &'a str),
    Raw(&'a str, &'a str),
    None,
}

/// One HTTP/1.1 request on a fresh connection; `path` is below `/client/v4/`.
fn call(fake: &FakeCloudflare, method: &str, path: &str, auth: Auth, body: Option<Value>) -> Reply {
    let mut stream = TcpStream::connect(fake.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let auth = match auth {
        Auth::Bearer(t) => format!("Authorization: Bearer {t}\r\n"),
        Auth::Key(e, k) => format!("X-Auth-Email: {e}\r\nX-Auth-Key: {k}\r\n"),
        Auth::Raw(h, v) => format!("{h}: {v}\r\n"),
        Auth::None => String::new(),
    };
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} /client/v4/{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sim-test\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        fake.addr(),
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    Reply {
        status: head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn api(fake: &FakeCloudflare, method: &str, path: &str, body: Option<Value>) -> Reply {
    call(fake, method, path, Auth::Bearer(TOKEN), body)
}

fn start(config: FakeCloudflareConfig) -> FakeCloudflare {
    FakeCloudflare::start("127.0.0.1:0".parse().unwrap(), config).unwrap()
}

fn txt(name: &str, content: &str) -> Value {
    json!({"type": "TXT", "name": name, "content": content, "ttl": 60, "proxied": false})
}

#[test]
fn credentials_are_checked_like_cloudflare_and_never_logged() {
    let fake = start(FakeCloudflareConfig::with_token(TOKEN).with_key("a@example.test", "k3y"));
    fake.add_zone("example.test");
    // (auth, status, code)
    let cases = [
        (Auth::Bearer(TOKEN), 200, 0),
        (Auth::Key("a@example.test", "k3y"), 200, 0),
        (Auth::Bearer("unknowntoken"), 403, 9109),
        (Auth::Bearer("not a token!"), 400, 6003),
        (Auth::Raw("Authorization", "Basic abc"), 400, 6003),
        (Auth::Key("a@example.test", "wrongkey"), 403, 9103),
        (Auth::Raw("X-Auth-Key", "k3y"), 400, 6003),
        (Auth::None, 400, 10000),
    ];
    for (auth, status, code) in cases {
        let r = call(&fake, "GET", "zones", auth, None);
        assert_eq!((r.status, r.code()), (status, code), "{}", r.body);
        let json = r.json();
        assert_eq!(json["success"], status == 200);
        assert!(json["messages"].is_array());
        if status != 200 {
            assert_eq!(json["result"], Value::Null);
        }
    }
    let bad = call(&fake, "GET", "zones", Auth::Bearer("not a token!"), None);
    assert_eq!(
        bad.json()["errors"][0]["error_chain"][0]["code"],
        json!(6111)
    );
    let seen: Vec<AuthSeen> = fake.requests().iter().map(|r| r.auth).collect();
    assert_eq!(
        seen,
        [
            AuthSeen::Token,
            AuthSeen::Key,
            AuthSeen::Rejected,
            AuthSeen::Rejected,
            AuthSeen::Rejected,
            AuthSeen::Rejected,
            AuthSeen::Rejected,
            AuthSeen::Missing,
            AuthSeen::Rejected,
        ]
    );
    let log = format!("{:?}", fake.requests());
    assert!(!log.contains(TOKEN) && !log.contains("k3y"), "{log}");
    assert!(fake.url().ends_with("/client/v4/"));
}

#[test]
fn zones_filter_and_paginate() {
    let fake = start(FakeCloudflareConfig::with_token(TOKEN));
    for i in 0..12 {
        fake.add_zone(&format!("zone{i:02}.test"));
    }
    let pending = fake.add_zone_with_status("pending.test", "pending");
    fake.set_max_per_page(5);
    let r = api(&fake, "GET", "zones?per_page=50&page=3", None);
    let json = r.json();
    assert_eq!(json["result"].as_array().unwrap().len(), 3);
    assert_eq!(
        json["result_info"],
        json!({"page": 3, "per_page": 5, "count": 3, "total_count": 13, "total_pages": 3})
    );
    let r = api(&fake, "GET", "zones?name=ZONE03.test.", None).json();
    assert_eq!(r["result"].as_array().unwrap().len(), 1);
    let zone = &r["result"][0];
    assert_eq!(zone["name"], "zone03.test");
    assert_eq!(zone["id"].as_str().unwrap().len(), 32);
    for field in [
        "account",
        "owner",
        "meta",
        "plan",
        "permissions",
        "name_servers",
        "activated_on",
    ] {
        assert!(!zone[field].is_null(), "{field}");
    }
    let r = api(&fake, "GET", "zones?status=pending", None).json();
    assert_eq!(r["result"][0]["id"], json!(pending));
    assert_eq!(r["result"][0]["activated_on"], Value::Null);
    let r = api(&fake, "GET", "zones?name=absent.test", None).json();
    assert_eq!(r["result"], json!([]));
    assert_eq!(r["result_info"]["total_pages"], 0);
}

#[test]
fn records_filter_paginate_create_and_delete() {
    let changes: Arc<Mutex<Vec<Change>>> = Arc::default();
    let seen = Arc::clone(&changes);
    let fake = start(FakeCloudflareConfig::with_token(TOKEN).with_sink(move |c| {
        seen.lock().unwrap().push(c.clone());
        Ok(())
    }));
    let zone = fake.add_zone("example.test");
    let base = format!("zones/{zone}/dns_records");
    for i in 0..7 {
        let r = api(
            &fake,
            "POST",
            &base,
            Some(txt("_dnsauth.example.test", &format!("\"v{i}\""))),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    fake.add_record("www.example.test", "CNAME", "example.test");
    fake.set_max_per_page(3);

    let page = |q: &str| api(&fake, "GET", &format!("{base}?{q}"), None).json();
    let p = page("name=_dnsauth.example.test&type=TXT&page=3");
    assert_eq!(p["result"].as_array().unwrap().len(), 1);
    assert_eq!(p["result_info"]["total_count"], 7);
    assert_eq!(p["result_info"]["total_pages"], 3);
    let p = page("name=_dnsauth.example.test&type=TXT&content=%22v4%22");
    assert_eq!(p["result"][0]["content"], "\"v4\"");
    assert_eq!(p["result_info"]["total_count"], 1);
    let p = page("name.exact=www.example.test");
    assert_eq!(p["result"][0]["type"], "CNAME");
    assert_eq!(p["result"][0]["proxiable"], true);
    for field in [
        "id",
        "zone_id",
        "ttl",
        "proxied",
        "meta",
        "created_on",
        "modified_on",
    ] {
        assert!(!p["result"][0][field].is_null(), "{field}");
    }

    // Cloudflare's refusals.
    let cases = [
        (txt("_dnsauth.example.test", "\"v1\""), 400, 81058),
        (
            json!({"type": "CNAME", "name": "_dnsauth", "content": "x.example.net"}),
            400,
            81053,
        ),
        (txt("www", "\"v\""), 400, 81054),
        (
            json!({"type": "TXT", "name": "a", "content": "v", "ttl": 5}),
            400,
            1004,
        ),
        (
            json!({"type": "TXT", "name": "a", "content": "v", "proxied": true}),
            400,
            9004,
        ),
        (
            json!({"type": "BOGUS", "name": "a", "content": "v"}),
            400,
            1004,
        ),
    ];
    for (body, status, code) in cases {
        let r = api(&fake, "POST", &base, Some(body.clone()));
        assert_eq!((r.status, r.code()), (status, code), "{body}: {}", r.body);
    }
    // A relative name is completed with the zone, and `@` is the apex.
    let r = api(&fake, "POST", &base, Some(txt("rel", "v"))).json();
    assert_eq!(r["result"]["name"], "rel.example.test");
    let r = api(&fake, "POST", &base, Some(txt("@", "apex"))).json();
    assert_eq!(r["result"]["name"], "example.test");

    let id = fake.records_named("rel.example.test")[0].id.clone();
    let r = api(&fake, "DELETE", &format!("{base}/{id}"), None);
    assert_eq!(
        (r.status, r.json()["result"]["id"].as_str()),
        (200, Some(id.as_str()))
    );
    let r = api(&fake, "DELETE", &format!("{base}/{id}"), None);
    assert_eq!((r.status, r.code()), (404, 81044));
    let r = api(&fake, "GET", "zones/0000/dns_records", None);
    assert_eq!((r.status, r.code()), (400, 7003));

    let changes = changes.lock().unwrap();
    assert_eq!(changes.len(), 11, "7 + www + rel + apex + delete");
    assert_eq!(changes[0].kind, ChangeKind::Add);
    assert_eq!(changes[0].value, "v0", "quotes resolved for DNS");
    assert_eq!(changes[0].ttl, 60);
    assert_eq!(changes[10].kind, ChangeKind::Remove);
    assert_eq!(changes[10].name, "rel.example.test");
    assert_eq!(wire_value("TXT", "\"a\" \"b\""), "ab");
}

#[test]
fn a_failing_sink_changes_nothing() {
    let fake = start(FakeCloudflareConfig::with_token(TOKEN).with_sink(|c| {
        if c.name.starts_with("fail") {
            Err("dns server down".into())
        } else {
            Ok(())
        }
    }));
    let zone = fake.add_zone("example.test");
    let r = api(
        &fake,
        "POST",
        &format!("zones/{zone}/dns_records"),
        Some(txt("fail", "v")),
    );
    assert_eq!(r.status, 500);
    assert!(r.body.contains("dns server down"), "{}", r.body);
    assert!(fake.records().is_empty());
}

#[test]
fn faults_hit_authenticated_requests_in_order() {
    let fake = start(FakeCloudflareConfig::with_token(TOKEN));
    let zone = fake.add_zone("example.test");
    fake.fail_next(
        1,
        CfFault::RateLimited {
            retry_after_secs: 7,
        },
    );
    fake.fail_next_on("POST", 1, CfFault::AfterApplying(502));
    fake.fail_next(1, CfFault::Status(500));

    // A bad token does not use a fault up.
    assert_eq!(
        call(&fake, "GET", "zones", Auth::Bearer("bad"), None).status,
        403
    );
    let r = api(&fake, "GET", "zones", None);
    assert_eq!((r.status, r.code()), (429, 971));
    assert_eq!(r.header("Retry-After").as_deref(), Some("7"));
    // The POST fault waits for a POST; the GET gets the 500 queued after it.
    let r = api(&fake, "GET", "zones", None);
    assert_eq!((r.status, r.code()), (500, 10001));
    let r = api(
        &fake,
        "POST",
        &format!("zones/{zone}/dns_records"),
        Some(txt("a", "v")),
    );
    assert_eq!(r.status, 502);
    assert!(r.header("Content-Type").unwrap().starts_with("text/html"));
    assert!(r.json().is_null(), "an HTML page, not JSON");
    assert_eq!(fake.records().len(), 1, "carried out before the 502");
    assert_eq!(api(&fake, "GET", "zones", None).status, 200);

    fake.fail_next_on("POST", 1, CfFault::LostRace);
    let r = api(
        &fake,
        "POST",
        &format!("zones/{zone}/dns_records"),
        Some(txt("b", "v")),
    );
    assert_eq!((r.status, r.code()), (400, 81058));
    assert_eq!(fake.records_named("b.example.test").len(), 1);
}
