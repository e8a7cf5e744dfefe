//! End-to-end tests of the CertCentral simulator over HTTP, with MiniDns as resolver and
//! authoritative servers and WebServers as the web farm. Each test uses its own 127.77.N.0/24
//! addresses so tests running in parallel never share a socket.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use dcv_sim::{DomainSpec, Fault, MiniDns, OrderSpec, RecordData, SimConfig, Simulator, WebServer};
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
    let json = serde_json::from_str(body).unwrap_or(Value::Null);
    Reply {
        status,
        head: head.to_string(),
        json,
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
fn http_token_follows_one_redirect_only() {
    let net = 7;
    let root = temp_root("redirect");
    let path = "/.well-known/pki-validation/fileauth.txt";
    let target = WebServer::start(SocketAddr::from((ip(net, 3), 80)), root.clone()).unwrap();
    let front = WebServer::start(SocketAddr::from((ip(net, 1), 80)), root.clone())
        .unwrap()
        .with_redirect(path, &format!("http://{}{path}", ip(net, 3)));
    let dns = zone(net);
    dns.add("www.example.test", RecordData::A(ip(net, 1)));
    let sim = sim_for(&dns);
    let id = sim.add_order(OrderSpec::new(["www.example.test"]).method("http-token"));
    std::fs::write(
        root.join(".well-known/pki-validation/fileauth.txt"),
        sim.order_random_value(id).unwrap(),
    )
    .unwrap();
    let check = format!("/order/certificate/{id}/check-dcv");
    let r = api(&sim, "PUT", &check, None);
    assert_eq!(r.status, 200, "{}", sim.checks().last().unwrap());
    assert_eq!(front.requests()[0].status, 301);
    assert_eq!(target.requests()[0].status, 200);

    // A second hop is one too many.
    target.redirect(path, &format!("http://{}/elsewhere", ip(net, 1)));
    let id = sim.add_order(OrderSpec::new(["www.example.test"]).method("http-token"));
    let r = api(
        &sim,
        "PUT",
        &format!("/order/certificate/{id}/check-dcv"),
        None,
    );
    assert_eq!(r.status, 400);
    assert!(
        sim.checks()
            .last()
            .unwrap()
            .to_string()
            .contains("redirected twice")
    );
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
    assert_eq!(r.json, json!({"token": token, "status": "active"}));
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
