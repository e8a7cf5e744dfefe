//! End-to-end tests of the CertCentral simulator over HTTP, with MiniDns as resolver and
//! authoritative servers and WebServers as the web farm. Each test uses its own 127.77.N.0/24
//! addresses so tests running in parallel never share a socket.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dcv_sim::{
    DomainSpec, Fault, MiniDns, OrderSpec, RecordData, SimConfig, Simulator, WebServer,
    days_from_now,
};
use serde_json::{Value, json};

const KEY: &str = "test-key-0123456789";

/// A reply from the simulator.
struct Reply {
    status: u16,
    head: String,
    json: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn error_code(&self) -> &str {
        self.json["errors"][0]["code"].as_str().unwrap_or("")
    }
}

/// One HTTP/1.1 request over a fresh connection (what dcv-hook's client does, minus retries).
fn call(
    sim: &Simulator,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut stream = TcpStream::connect(sim.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let key = key
        .map(|k| format!("X-DC-DEVKEY: {k}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} /services/v2{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sim-test\r\n{key}\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        sim.addr(),
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    // tiny_http sends large bodies (a page of 1000 domains) chunked.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    let json = serde_json::from_str(&body).unwrap_or(Value::Null);
    Reply {
        status,
        head: head.to_string(),
        json,
    }
}

/// Decodes a chunked body (sizes in hex, each chunk followed by CRLF, a 0 size ends it).
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

fn api(sim: &Simulator, method: &str, path: &str, body: Option<Value>) -> Reply {
    call(sim, method, path, Some(KEY), body)
}

fn ip(net: u8, host: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 77, net, host)
}

/// A zone `example.test` with one name server, ns1 → `dns_ip`, served by one MiniDns that is
/// also the resolver.
fn zone(net: u8) -> MiniDns {
    let dns = MiniDns::start(SocketAddr::from((ip(net, 53), 0))).unwrap();
    dns.add("example.test", RecordData::soa("ns1.example.test"));
    dns.add("example.test", RecordData::Ns("ns1.example.test".into()));
    dns.add("ns1.example.test", RecordData::A(ip(net, 53)));
    dns
}

fn sim_for(dns: &MiniDns) -> Simulator {
    let mut config = SimConfig::new(KEY, dns.addr());
    config.dns_port = dns.addr().port();
    Simulator::start(config)
}

fn temp_root(tag: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("dcv-sim-{tag}-{}", fastrand::u64(..)));
    std::fs::create_dir_all(root.join(".well-known/pki-validation")).unwrap();
    root
}

#[test]
fn bad_or_missing_key_is_401_and_never_logged() {
    let dns = zone(1);
    let sim = sim_for(&dns);
    let id = sim.add_order(OrderSpec::new(["example.test"]));
    for key in [Some("wrong"), None] {
        let r = call(
            &sim,
            "GET",
            &format!("/order/certificate/{id}/validation"),
            key,
            None,
        );
        assert_eq!(r.status, 401);
        assert_eq!(r.error_code(), "access_denied");
        assert_eq!(r.json["errors"][0]["message"], "Invalid API key.");
    }
    let log = sim.requests();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|r| !r.key_ok));
    assert_eq!(log[0].user_agent.as_deref(), Some("sim-test"));
    assert!(!format!("{log:?}").contains("wrong"));
}

#[test]
fn unknown_ids_are_404() {
    let dns = zone(2);
    let sim = sim_for(&dns);
    let r = api(&sim, "PUT", "/order/certificate/42/dcv-random-value", None);
    assert_eq!((r.status, r.error_code()), (404, "not_found|order"));
    let r = api(&sim, "GET", "/domain/42?include_dcv=true", None);
    assert_eq!((r.status, r.error_code()), (404, "not_found|domain"));
}

#[test]
fn injected_faults_then_success() {
    let dns = zone(3);
    let sim = sim_for(&dns);
    let id = sim.add_order(OrderSpec::new(["example.test"]));
    let path = format!("/order/certificate/{id}/dcv-random-value");
    sim.fail_next(2, Fault::Status(503));
    sim.fail_next(
        1,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
    );
    for _ in 0..2 {
        let r = api(&sim, "PUT", &path, None);
        assert_eq!(r.status, 503);
        assert!(!r.error_code().is_empty());
    }
    let r = api(&sim, "PUT", &path, None);
    assert_eq!(r.status, 429);
    assert_eq!(r.error_code(), "request_limit_exceeded");
    assert_eq!(r.header("Retry-After").as_deref(), Some("7"));
    let r = api(&sim, "PUT", &path, None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json["dcv_random_value"].as_str(),
        sim.order_random_value(id).as_deref()
    );

    sim.fail_next(1, Fault::Slow(Duration::from_millis(200)));
    let r = api(&sim, "PUT", &path, None);
    assert_eq!(r.status, 200);
    assert_eq!(sim.requests().len(), 5);
}

#[test]
fn a_standing_fault_fails_every_matching_request_after_the_queued_ones() {
    let sim = sim_without_dns(|c| c);
    let id = sim.add_domain(DomainSpec::new("down.example.test").expires_in_days("ov", 3));
    sim.fail_matching(
        "/domain/",
        Fault::Unavailable {
            retry_after_secs: 2,
        },
    );
    sim.fail_next(1, Fault::Status(500));
    let path = format!("/domain/{id}/dcv/validate-token");
    assert_eq!(api(&sim, "PUT", &path, None).status, 500, "queued first");
    for _ in 0..3 {
        let r = api(&sim, "PUT", &path, None);
        assert_eq!((r.status, r.error_code()), (503, "service_unavailable"));
        assert_eq!(r.header("Retry-After").as_deref(), Some("2"));
    }
    // The listing does not match, and is served.
    let r = api(&sim, "GET", "/domain?limit=1000&offset=0", None);
    assert_eq!(r.status, 200);
    assert_eq!(names(&r), ["down.example.test"]);
}

#[test]
fn order_dns_txt_fails_before_the_record_and_passes_after() {
    let dns = zone(4);
    let sim = sim_for(&dns);
    // By default www.example.test would be its own name scope; here the account validated at
    // the base domain, which covers it.
    let id = sim.add_order(
        OrderSpec::new(["example.test", "*.example.test", "www.example.test"])
            .name_scopes(["example.test"]),
    );

    let v = api(
        &sim,
        "GET",
        &format!("/order/certificate/{id}/validation"),
        None,
    );
    assert_eq!(v.status, 200);
    let validations = v.json["dns_name_validations"].as_array().unwrap();
    assert_eq!(validations.len(), 1, "{v:?}", v = v.json);
    assert_eq!(validations[0]["name_scope"], "example.test");
    assert_eq!(validations[0]["status"], "pending");
    assert_eq!(validations[0]["dns_names"].as_array().unwrap().len(), 3);
    // Ids are strings, as in DigiCert's "Order validation status" example.
    assert_eq!(v.json["order_id"], id.to_string());
    assert!(validations[0]["domain_id"].is_string(), "{v:?}", v = v.json);
    assert!(v.json["organization_id"].is_string());

    let r = api(
        &sim,
        "PUT",
        &format!("/order/certificate/{id}/dcv-random-value"),
        None,
    );
    let token = r.json["dcv_random_value"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 32);
    assert!(r.json["expiration_date"].as_str().unwrap().contains('T'));

    let check = format!("/order/certificate/{id}/check-dcv");
    let r = api(&sim, "PUT", &check, None);
    assert_eq!((r.status, r.error_code()), (400, "invalid_dns_txt"));
    let premature = sim.premature_checks();
    assert_eq!(premature.len(), 1);
    assert!(premature[0].details()[0].contains("ns1.example.test"));
    assert_eq!(sim.order_status(id).as_deref(), Some("pending"));

    // The CA asked the authoritative server itself, with recursion off.
    assert!(dns.queries().iter().any(|q| !q.recursion_desired
        && q.name == "example.test."
        && q.rtype == dcv_sim::dns::RecordType::TXT));

    dns.add("_dnsauth.example.test", RecordData::Txt(token));
    let r = api(&sim, "PUT", &check, None);
    assert_eq!(r.status, 200, "{}", sim.checks().last().unwrap());
    assert_eq!(r.json["order_status"], "issued");
    assert_eq!(r.json["dcv_status"], "valid");
    assert!(r.json["certificate_id"].as_u64().unwrap() > 0);
    assert_eq!(sim.order_status(id).as_deref(), Some("issued"));
    assert_eq!(sim.checks().len(), 2);
    assert_eq!(sim.premature_checks().len(), 1);
}

#[test]
fn order_method_change_answers_a_value_or_for_email_nothing() {
    let sim = sim_without_dns(|c| c);
    let id = sim.add_order(OrderSpec::new(["example.test"]));
    let path = format!("/order/certificate/{id}/dcv-method");
    let r = api(
        &sim,
        "PUT",
        &path,
        Some(json!({"dcv_method": "dns-txt-token"})),
    );
    assert_eq!(r.status, 200);
    assert!(r.json["dcv_random_value"].is_string() && r.json["expiration_date"].is_string());
    // "DV SSL: Change DCV method" shows an empty answer for email.
    let r = api(&sim, "PUT", &path, Some(json!({"dcv_method": "email"})));
    assert_eq!((r.status, &r.json), (204, &Value::Null), "{}", r.head);
}

#[test]
fn dns_check_needs_every_authoritative_server_and_follows_cnames() {
    // Two name servers on two addresses, same port; the first doubles as resolver.
    let net = 5;
    let first = MiniDns::start(SocketAddr::from((ip(net, 1), 0))).unwrap();
    let second = MiniDns::start(SocketAddr::from((ip(net, 2), first.addr().port()))).unwrap();
    for dns in [&first, &second] {
        dns.add("example.test", RecordData::soa("ns1.example.test"));
        dns.add("example.test", RecordData::Ns("ns1.example.test".into()));
        dns.add("example.test", RecordData::Ns("ns2.example.test".into()));
        dns.add("ns1.example.test", RecordData::A(ip(net, 1)));
        dns.add("ns2.example.test", RecordData::A(ip(net, 2)));
        // The validation name is delegated by CNAME to another zone served by both.
        dns.add("other.test", RecordData::soa("ns1.example.test"));
        dns.add("other.test", RecordData::Ns("ns1.example.test".into()));
        dns.add("other.test", RecordData::Ns("ns2.example.test".into()));
        dns.add(
            "_dnsauth.example.test",
            RecordData::Cname("dcv.other.test".into()),
        );
    }
    let sim = sim_for(&first);
    let id = sim.add_order(OrderSpec::new(["example.test"]));
    let token = sim.order_random_value(id).unwrap();
    let check = format!("/order/certificate/{id}/check-dcv");

    first.add("dcv.other.test", RecordData::Txt(token.clone()));
    let r = api(&sim, "PUT", &check, None);
    assert_eq!(r.status, 400);
    let last = sim.checks().pop().unwrap();
    assert!(last.premature);
    let lacking: Vec<_> = last.targets.iter().filter(|t| !t.ok).collect();
    assert!(
        lacking
            .iter()
            .all(|t| t.server.contains(&ip(net, 2).to_string())),
        "{last}"
    );

    second.add("dcv.other.test", RecordData::Txt(token));
    let r = api(&sim, "PUT", &check, None);
    assert_eq!(r.status, 200, "{}", sim.checks().last().unwrap());
}

#[test]
fn http_token_waits_for_the_lagging_node() {
    let net = 6;
    let root = temp_root("http");
    let fast = WebServer::start(SocketAddr::from((ip(net, 1), 80)), root.clone()).unwrap();
    let slow = WebServer::start(SocketAddr::from((ip(net, 2), 80)), root.clone())
        .unwrap()
        .with_lag(Duration::from_secs(3600));
    let dns = zone(net);
    dns.add("www.example.test", RecordData::A(ip(net, 1)));
    dns.add("www.example.test", RecordData::A(ip(net, 2)));
    let sim = sim_for(&dns);
    let id = sim.add_order(OrderSpec::new(["www.example.test"]).method("http-token"));
    let token = sim.order_random_value(id).unwrap();
    std::fs::write(
        root.join(".well-known/pki-validation/fileauth.txt"),
        format!("{token}\n"),
    )
    .unwrap();

    let check = format!("/order/certificate/{id}/check-dcv");
    let r = api(&sim, "PUT", &check, None);
    assert_eq!(
        (r.status, r.error_code()),
        (400, "file_random_value_not_found")
    );
    let last = sim.premature_checks().pop().unwrap();
    let failed: Vec<_> = last.targets.iter().filter(|t| !t.ok).collect();
    assert_eq!(failed.len(), 1, "{last}");
    assert_eq!(failed[0].server, format!("{}:80", ip(net, 2)));

    slow.set_lag(Duration::ZERO);
    let r = api(&sim, "PUT", &check, None);
    assert_eq!(r.status, 200, "{}", sim.checks().last().unwrap());
    for web in [&fast, &slow] {
        let seen = web.requests();
        assert!(
            seen.iter()
                .all(|q| q.host.as_deref() == Some("www.example.test"))
        );
        assert_eq!(seen.last().unwrap().status, 200);
    }
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn http_token_follows_redirects_as_digicert_does() {
    let net = 7;
    let root = temp_root("redirect");
    let path = "/.well-known/pki-validation/fileauth.txt";
    let target = WebServer::start(SocketAddr::from((ip(net, 3), 80)), root.clone()).unwrap();
    let front = WebServer::start(SocketAddr::from((ip(net, 1), 80)), root.clone())
        .unwrap()
        .with_redirect(path, &format!("http://central.example.test{path}"));
    let dns = zone(net);
    dns.add("www.example.test", RecordData::A(ip(net, 1)));
    dns.add("central.example.test", RecordData::A(ip(net, 3)));
    let sim = sim_for(&dns);
    let check = |sim: &Simulator| {
        let id = sim.add_order(OrderSpec::new(["www.example.test"]).method("http-token"));
        std::fs::write(
            root.join(".well-known/pki-validation/fileauth.txt"),
            sim.order_random_value(id).unwrap(),
        )
        .unwrap();
        let check = format!("/order/certificate/{id}/check-dcv");
        let r = api(sim, "PUT", &check, None);
        (r.status, sim.checks().last().unwrap().to_string())
    };
    let (status, seen) = check(&sim);
    assert_eq!(status, 200, "{seen}");
    assert_eq!(front.requests()[0].status, 301);
    assert_eq!(target.requests()[0].status, 200);

    // Off the registered domain (an address is a domain of its own) is not followed.
    target.redirect(path, &format!("http://{}/elsewhere", ip(net, 1)));
    let (status, seen) = check(&sim);
    assert_eq!(status, 400);
    assert!(seen.contains("outside example.test"), "{seen}");

    // Nor more than 5 hops.
    target.redirect(path, &format!("http://central.example.test{path}"));
    let (status, seen) = check(&sim);
    assert_eq!(status, 400);
    assert!(seen.contains("more than 5 redirects"), "{seen}");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn domain_prevalidation_with_cname_token() {
    let dns = zone(8);
    let sim = sim_for(&dns);
    let id = sim.add_domain(DomainSpec::new("example.test"));

    let r = api(
        &sim,
        "GET",
        "/domain?filters%5Bsearch%5D=EXAMPLE.test",
        None,
    );
    assert_eq!(r.json["domains"][0]["id"], id);
    let r = api(&sim, "GET", "/domain?filters[search]=%25ample", None);
    assert_eq!(r.json["domains"].as_array().unwrap().len(), 1);
    let r = api(&sim, "GET", "/domain?filters[search]=ample.test", None);
    assert!(r.json["domains"].as_array().unwrap().is_empty());

    let r = api(
        &sim,
        "POST",
        &format!("/domain/{id}/validation"),
        Some(json!({"validations": [{"type": "ov"}], "dcv_method": "dns-cname-token"})),
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        r.json["dcv_token"]["verification_value"],
        "dcv.digicert.com"
    );
    assert_eq!(r.json["dcv_token"]["status"], "pending");
    let token = r.json["dcv_token"]["token"].as_str().unwrap().to_string();
    assert_eq!(sim.domain_token(id).as_deref(), Some(token.as_str()));
    assert_eq!(sim.domain_method(id).as_deref(), Some("dns-cname-token"));

    let validate = format!("/domain/{id}/dcv/validate-token");
    let r = api(&sim, "PUT", &validate, None);
    assert_eq!((r.status, r.error_code()), (400, "invalid_dns_txt"));
    assert_eq!(sim.domain_status(id).as_deref(), Some("pending"));

    dns.add(
        "_dnsauth.example.test",
        RecordData::Cname(format!("{token}.dcv.digicert.com")),
    );
    let r = api(&sim, "PUT", &validate, None);
    assert_eq!(r.status, 200, "{}", sim.checks().last().unwrap());
    assert_eq!(r.json, json!({"status": "active"}));
    assert_eq!(sim.domain_status(id).as_deref(), Some("active"));

    let r = api(
        &sim,
        "GET",
        &format!("/domain/{id}?include_dcv=true&include_validation=true"),
        None,
    );
    assert_eq!(r.json["dcv_token"]["token"], token.as_str());
    assert_eq!(r.json["validations"][0]["status"], "active");
    let r = api(&sim, "GET", &format!("/domain/{id}/validation"), None);
    assert_eq!(r.json["validations"][0]["dcv_status"], "complete");
}

#[test]
fn domain_answering_204_gets_its_token_separately() {
    let dns = zone(9);
    let sim = sim_for(&dns);
    let id = sim.add_domain(
        DomainSpec::new("example.test")
            .method("http-token")
            .answer_validation_with_204(),
    );
    let r = api(
        &sim,
        "POST",
        &format!("/domain/{id}/validation"),
        Some(json!({"validations": [{"type": "ov"}]})),
    );
    assert_eq!(r.status, 204);
    let r = api(&sim, "POST", &format!("/domain/{id}/dcv/token"), None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json["http_token_url"],
        "http://example.test/.well-known/pki-validation/fileauth.txt"
    );
    assert_eq!(r.json["token"].as_str(), sim.domain_token(id).as_deref());

    let r = api(
        &sim,
        "PUT",
        &format!("/domain/{id}/dcv/method"),
        Some(json!({"dcv_method": "http-token"})),
    );
    assert_eq!(r.json, json!({}));
    let r = api(
        &sim,
        "PUT",
        &format!("/domain/{id}/dcv/method"),
        Some(json!({"dcv_method": "email"})),
    );
    assert_eq!(r.status, 200);
    let r = api(&sim, "POST", &format!("/domain/{id}/dcv/token"), None);
    assert_eq!((r.status, r.error_code()), (400, "invalid_dcv_method"));
}

/// A simulator whose checks are never used (no DNS behind its resolver address).
fn sim_without_dns(config: impl FnOnce(SimConfig) -> SimConfig) -> Simulator {
    Simulator::start(config(SimConfig::new(KEY, "127.0.0.1:9".parse().unwrap())))
}

fn names(r: &Reply) -> Vec<String> {
    r.json["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn domain_list_pages_with_limit_and_offset() {
    let sim = sim_without_dns(|c| c);
    let ids: Vec<u64> = (0..1001)
        .map(|i| sim.add_domain(DomainSpec::new(&format!("d{i}.example.test"))))
        .collect();

    // Default (and largest) page: 1000.
    let r = api(&sim, "GET", "/domain", None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json["page"],
        json!({"total": 1001, "limit": 1000, "offset": 0})
    );
    assert_eq!(r.json["domains"].as_array().unwrap().len(), 1000);
    let r = api(&sim, "GET", "/domain?limit=5000&offset=1000", None);
    assert_eq!(
        r.json["page"],
        json!({"total": 1001, "limit": 1000, "offset": 1000})
    );
    assert_eq!(r.json["domains"][0]["id"], ids[1000]);

    // Small pages walk every domain once, in id order.
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let r = api(
            &sim,
            "GET",
            &format!("/domain?limit=300&offset={offset}"),
            None,
        );
        assert_eq!(r.json["page"]["total"], 1001);
        assert_eq!(r.json["page"]["limit"], 300);
        assert_eq!(r.json["page"]["offset"], offset);
        let page = r.json["domains"].as_array().unwrap();
        if page.is_empty() {
            break;
        }
        seen.extend(page.iter().map(|d| d["id"].as_u64().unwrap()));
        offset += page.len();
    }
    assert_eq!(seen, ids);

    let r = api(&sim, "GET", "/domain?limit=ten", None);
    assert_eq!((r.status, r.error_code()), (400, "bad_request_format"));

    // filters[search] still finds one domain, on a page of its own.
    let r = api(&sim, "GET", "/domain?filters[search]=d7.example.test", None);
    assert_eq!(r.json["domains"][0]["id"], ids[7]);
    assert_eq!(
        r.json["page"],
        json!({"total": 1, "limit": 1000, "offset": 0})
    );
}

#[test]
fn domain_list_filters_by_validation_expiry_and_method() {
    let sim = sim_without_dns(|c| c);
    sim.add_domain(DomainSpec::new("ov5.test").expires_in_days("ov", 5));
    sim.add_domain(DomainSpec::new("ov20.test").expires_in_days("ov", 20));
    sim.add_domain(DomainSpec::new("ov45.test").expires_in_days("ov", 45));
    sim.add_domain(DomainSpec::new("ov75.test").expires_in_days("ov", 75));
    sim.add_domain(DomainSpec::new("ov120.test").expires_in_days("ov", 120));
    sim.add_domain(DomainSpec::new("ov-3.test").expires_in_days("ov", -3));
    sim.add_domain(DomainSpec::new("ov-10.test").expires_in_days("ov", -10));
    sim.add_domain(
        DomainSpec::new("ev10.test")
            .validation_types(["ev"])
            .expires_in_days("ev", 10),
    );
    sim.add_domain(DomainSpec::new("never.test"));
    sim.add_domain(
        DomainSpec::new("mail.test")
            .method("email")
            .expires_in_days("ov", 40),
    );

    let filtered = |filter: &str| {
        let r = api(
            &sim,
            "GET",
            &format!("/domain?filters[validation]={filter}"),
            None,
        );
        assert_eq!(r.status, 200, "{filter}: {}", r.json);
        assert_eq!(r.json["page"]["total"], names(&r).len());
        names(&r)
    };
    assert_eq!(filtered("ov_expiring_within_7_days"), ["ov5.test"]);
    assert_eq!(
        filtered("ov_expiring_within_30_days"),
        ["ov5.test", "ov20.test"]
    );
    assert_eq!(
        filtered("ov_expiring_from_31_to_60_days"),
        ["ov45.test", "mail.test"]
    );
    assert_eq!(filtered("ov_expiring_from_61_to_90_days"), ["ov75.test"]);
    assert_eq!(filtered("ov_expired_in_last_7_days"), ["ov-3.test"]);
    assert_eq!(filtered("ev_expiring_within_30_days"), ["ev10.test"]);
    assert_eq!(filtered("ev_expiring_within_7_days"), Vec::<String>::new());
    assert_eq!(filtered("ev_expired_in_last_7_days"), Vec::<String>::new());

    let r = api(&sim, "GET", "/domain?filters[dcv_method]=email", None);
    assert_eq!(names(&r), ["mail.test"]);
    assert_eq!(r.json["domains"][0]["dcv_method"], "email");
    let r = api(
        &sim,
        "GET",
        "/domain?filters[dcv_method]=dns-txt-token&filters[validation]=ov_expiring_from_31_to_60_days",
        None,
    );
    assert_eq!(names(&r), ["ov45.test"]);
    let r = api(
        &sim,
        "GET",
        "/domain?filters%5Bvalidation%5D=ov_expiring_within_30_days&limit=1&offset=1",
        None,
    );
    assert_eq!(names(&r), ["ov20.test"]);
    assert_eq!(r.json["page"], json!({"total": 2, "limit": 1, "offset": 1}));

    let r = api(
        &sim,
        "GET",
        "/domain?filters[validation]=ov_expiring_soon",
        None,
    );
    assert_eq!((r.status, r.error_code()), (400, "bad_request_format"));

    // Statuses by type: active while the reuse period runs, expired after, pending if never.
    let r = api(&sim, "GET", "/domain", None);
    let by_name = |name: &str| {
        r.json["domains"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("ov5.test")["validations"][0]["status"], "active");
    assert_eq!(by_name("ov-3.test")["validations"][0]["status"], "expired");
    assert_eq!(by_name("never.test")["validations"][0]["status"], "pending");
    assert!(by_name("never.test").get("dcv_expiration").is_none());
    assert!(by_name("never.test").get("dcv_approval_datetime").is_none());
}

#[test]
fn dcv_expiration_is_a_date_or_with_the_flag_a_date_time() {
    let sim = sim_without_dns(|c| c);
    let ov_end = UNIX_EPOCH + Duration::from_secs(1_796_206_830); // 2026-12-02T10:20:30Z
    let id = sim.add_domain(
        DomainSpec::new("example.test")
            .expires_at("ov", ov_end)
            .expires_at("ev", ov_end - Duration::from_secs(11 * 3600)),
    );
    let r = api(&sim, "GET", "/domain", None);
    let d = &r.json["domains"][0];
    assert_eq!(d["id"], id);
    assert_eq!(d["is_active"], true);
    assert_eq!(d["dcv_method"], "dns-txt-token");
    assert_eq!(
        d["dcv_expiration"],
        json!({"ov": "2026-12-02", "ev": "2026-12-01"})
    );
    // Approved one reuse period (199 days) before the latest expiry.
    assert_eq!(d["dcv_approval_datetime"], "2026-05-17T10:20:30+00:00");
    assert!(d.get("last_submitted_datetime").is_none());

    let r = api(
        &sim,
        "GET",
        "/domain?include_dcv_expiration_time=true",
        None,
    );
    assert_eq!(
        r.json["domains"][0]["dcv_expiration"],
        json!({"ov": "2026-12-02T10:20:30+00:00", "ev": "2026-12-01T23:20:30+00:00"})
    );
    assert_eq!(
        sim.domain_expiration(id),
        (
            Some("2026-12-02T10:20:30+00:00".to_string()),
            Some("2026-12-01T23:20:30+00:00".to_string())
        )
    );
    assert_eq!(sim.domain_expires_at(id, "ov"), Some(ov_end));
    assert_eq!(sim.domain_expiration(id + 1), (None, None));
}

#[test]
fn a_validated_token_pushes_the_expiry_of_the_submitted_types() {
    let dns = zone(10);
    let sim = sim_for(&dns);
    let id = sim.add_domain(DomainSpec::new("example.test").expires_in_days("ov", 10));
    assert_eq!(sim.domain_expiration(id).1, None);
    let ov_before = sim.domain_expires_at(id, "ov").unwrap();

    let started = SystemTime::now();
    let r = api(
        &sim,
        "POST",
        &format!("/domain/{id}/validation"),
        Some(
            json!({"validations": [{"type": "ov"}, {"type": "ev"}], "dcv_method": "dns-txt-token"}),
        ),
    );
    assert_eq!(r.status, 201);
    let token = r.json["dcv_token"]["token"].as_str().unwrap().to_string();
    let submitted = sim.domain_submitted_at(id).unwrap();
    assert!(submitted >= started);

    // Submitted, not yet validated: OV still counts until its reuse period ends, EV is pending.
    let r = api(&sim, "GET", &format!("/domain/{id}/validation"), None);
    let statuses: Vec<(&str, &str)> = r.json["validations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["type"].as_str().unwrap(), v["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("ov", "active"), ("ev", "pending")]);
    let r = api(
        &sim,
        "GET",
        "/domain?filters[validation]=ov_expiring_within_30_days",
        None,
    );
    assert_eq!(names(&r), ["example.test"]);
    assert!(
        r.json["domains"][0]["last_submitted_datetime"]
            .as_str()
            .unwrap()
            .ends_with("+00:00")
    );

    let validate = format!("/domain/{id}/dcv/validate-token");
    let r = api(&sim, "PUT", &validate, None);
    assert_eq!((r.status, r.error_code()), (400, "invalid_dns_txt"));
    assert_eq!(sim.domain_expires_at(id, "ov"), Some(ov_before));
    assert_eq!(sim.domain_expires_at(id, "ev"), None);

    dns.add("example.test", RecordData::Txt(token));
    let r = api(&sim, "PUT", &validate, None);
    assert_eq!(r.status, 200, "{}", sim.checks().last().unwrap());
    let done = SystemTime::now();
    assert_eq!(sim.domain_status(id).as_deref(), Some("active"));
    let reuse = Duration::from_secs(199 * 86400);
    for kind in ["ov", "ev"] {
        let end = sim.domain_expires_at(id, kind).unwrap();
        assert!(started + reuse <= end && end <= done + reuse, "{kind}");
    }
    let approved = sim.domain_approved_at(id).unwrap();
    assert!(started <= approved && approved <= done);

    let r = api(
        &sim,
        "GET",
        "/domain?include_dcv_expiration_time=true",
        None,
    );
    let d = &r.json["domains"][0];
    let (ov, ev) = sim.domain_expiration(id);
    assert_eq!(d["dcv_expiration"], json!({"ov": ov, "ev": ev}));
    assert_eq!(d["validations"][1]["status"], "active");
    let r = api(&sim, "GET", "/domain", None);
    assert_eq!(
        r.json["domains"][0]["dcv_expiration"]["ov"].as_str(),
        ov.as_deref().map(|t| &t[..10])
    );
    let r = api(
        &sim,
        "GET",
        "/domain?filters[validation]=ov_expiring_within_30_days",
        None,
    );
    assert!(names(&r).is_empty());

    // The reuse period is a knob.
    let dns = zone(11);
    let mut config = SimConfig::new(KEY, dns.addr());
    config.dns_port = dns.addr().port();
    config.reuse_period = Duration::from_secs(100 * 86400);
    let sim = Simulator::start(config);
    let id = sim.add_domain(DomainSpec::new("example.test"));
    let r = api(
        &sim,
        "POST",
        &format!("/domain/{id}/validation"),
        Some(json!({"validations": [{"type": "ov"}]})),
    );
    dns.add(
        "example.test",
        RecordData::Txt(r.json["dcv_token"]["token"].as_str().unwrap().into()),
    );
    let before = SystemTime::now();
    let r = api(
        &sim,
        "PUT",
        &format!("/domain/{id}/dcv/validate-token"),
        None,
    );
    assert_eq!(r.status, 200, "{}", sim.checks().last().unwrap());
    let end = sim.domain_expires_at(id, "ov").unwrap();
    let hundred = Duration::from_secs(100 * 86400);
    assert!(before + hundred <= end && end <= SystemTime::now() + hundred);
    assert_eq!(sim.domain_expiration(id).1, None);
}

#[test]
fn inactive_domains_are_listed_with_is_active_false() {
    let sim = sim_without_dns(|c| c);
    let on = sim.add_domain(DomainSpec::new("on.test").expires_in_days("ov", 3));
    let off = sim.add_domain(
        DomainSpec::new("off.test")
            .is_active(false)
            .expires_in_days("ov", 3),
    );
    let r = api(
        &sim,
        "GET",
        "/domain?filters[validation]=ov_expiring_within_7_days",
        None,
    );
    assert_eq!(names(&r), ["on.test", "off.test"]);
    assert_eq!(r.json["domains"][0]["is_active"], true);
    assert_eq!(r.json["domains"][1]["is_active"], false);
    let r = api(&sim, "GET", &format!("/domain/{off}"), None);
    assert_eq!(r.json["is_active"], false);
    assert_eq!(sim.domain_is_active(off), Some(false));

    sim.set_domain_active(off, true);
    sim.set_domain_active(on, false);
    let r = api(&sim, "GET", "/domain", None);
    assert_eq!(r.json["domains"][0]["is_active"], false);
    assert_eq!(r.json["domains"][1]["is_active"], true);

    // Ageing a domain between two runs.
    sim.set_domain_expiration(on, "ov", Some(days_from_now(-1)));
    sim.set_domain_expiration(on, "ev", Some(days_from_now(50)));
    let r = api(
        &sim,
        "GET",
        "/domain?filters[validation]=ov_expired_in_last_7_days",
        None,
    );
    assert_eq!(names(&r), ["on.test"]);
    let r = api(
        &sim,
        "GET",
        "/domain?filters[validation]=ev_expiring_from_31_to_60_days",
        None,
    );
    assert_eq!(names(&r), ["on.test"]);
    sim.set_domain_expiration(on, "ov", None);
    assert_eq!(sim.domain_expiration(on).0, None);
}

#[test]
fn rate_limit_answers_429_past_100_in_5_s_and_recovers() {
    let sim = sim_without_dns(|c| c);
    sim.add_domain(DomainSpec::new("example.test"));
    let replies: Vec<Reply> = (0..101)
        .map(|_| api(&sim, "GET", "/domain", None))
        .collect();
    assert!(replies[..100].iter().all(|r| r.status == 200));
    let log = sim.requests();
    // The 101st is refused only if the first 100 really came within 5 s (they take well under a
    // second, but a loaded machine decides, not this test).
    let within = log[100].at.duration_since(log[0].at) < Duration::from_secs(5);
    let last = &replies[100];
    if !within {
        assert_eq!(last.status, 200);
        return;
    }
    assert_eq!(last.status, 429);
    assert_eq!(last.error_code(), "request_limit_exceeded");
    // The message DigiCert's "Rate limits" page shows.
    let message = &last.json["errors"][0]["message"];
    assert_eq!(message, "Service unavailable, please limit request volume");
    assert_eq!(log[100].status, 429);
    assert_eq!(sim.rate_limited_count(), 1);
    let retry_after: u64 = last.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry_after), "{retry_after}");
    // Every request the client sent counts here, the refused one too.
    assert_eq!(sim.max_requests_in_window(Duration::from_secs(5)), 101);

    // A client that honours Retry-After gets through.
    std::thread::sleep(Duration::from_secs(retry_after));
    let r = api(&sim, "GET", "/domain", None);
    assert_eq!(r.status, 200);
    assert_eq!(sim.rate_limited_count(), 1);
}

#[test]
fn the_long_window_and_no_limit_are_configurable() {
    let sim = sim_without_dns(|c| {
        c.rate_limit(
            Some((100, Duration::from_secs(5))),
            Some((10, Duration::from_secs(120))),
        )
    });
    for _ in 0..10 {
        assert_eq!(api(&sim, "GET", "/domain", None).status, 200);
    }
    let r = api(&sim, "GET", "/domain", None);
    assert_eq!(r.status, 429);
    let retry_after: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!((100..=120).contains(&retry_after), "{retry_after}");
    // Refused requests use no quota, and a bad key is not this key's.
    let r = api(&sim, "GET", "/domain", None);
    assert_eq!(r.status, 429);
    assert_eq!(
        call(&sim, "GET", "/domain", Some("other"), None).status,
        401
    );
    assert_eq!(sim.rate_limited_count(), 2);
    // An injected fault waits behind the limit: it is for a request that would be served.
    sim.fail_next(1, Fault::Status(503));
    assert_eq!(api(&sim, "GET", "/domain", None).status, 429);
    assert_eq!(sim.rate_limited_count(), 3);

    let sim = sim_without_dns(|c| c.rate_limit(None, None));
    for _ in 0..150 {
        assert_eq!(api(&sim, "GET", "/domain", None).status, 200);
    }
    assert_eq!(sim.rate_limited_count(), 0);
    assert_eq!(sim.max_requests_in_window(Duration::from_secs(3600)), 150);
}

#[test]
fn max_requests_in_window_counts_the_busiest_span() {
    let sim = sim_without_dns(|c| c.rate_limit(None, None));
    assert_eq!(sim.max_requests_in_window(Duration::from_secs(5)), 0);
    for _ in 0..20 {
        api(&sim, "GET", "/domain", None);
    }
    // A client pausing between bursts: wait until 300 ms have passed since the last request.
    let last = sim.requests().last().unwrap().at;
    while last.elapsed() < Duration::from_millis(300) {
        std::thread::sleep(Duration::from_millis(10));
    }
    for _ in 0..5 {
        api(&sim, "GET", "/domain", None);
    }
    call(&sim, "GET", "/domain", Some("other"), None);

    let times: Vec<_> = sim
        .requests()
        .iter()
        .filter(|r| r.key_ok)
        .map(|r| r.at)
        .collect();
    assert_eq!(times.len(), 25);
    // Reference: for each request, how many (itself included) arrived less than `w` later.
    let brute = |w: Duration| {
        (0..times.len())
            .map(|i| {
                times[i..]
                    .iter()
                    .filter(|t| t.duration_since(times[i]) < w)
                    .count()
            })
            .max()
            .unwrap_or(0)
    };
    for ms in [1, 5, 50, 100, 250, 300, 1000, 60_000] {
        let w = Duration::from_millis(ms);
        assert_eq!(sim.max_requests_in_window(w), brute(w), "{ms} ms");
    }
    assert_eq!(sim.max_requests_in_window(Duration::from_secs(60)), 25);
    assert_eq!(sim.max_requests_in_window(Duration::ZERO), 0);
    // The two bursts are at least 300 ms apart, so no 300 ms span holds both.
    assert!(sim.max_requests_in_window(Duration::from_millis(300)) <= 20);
}
