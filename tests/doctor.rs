//! `dcv-hook doctor` against real failures built into the fixtures: lame and silent nameservers, a
//! lagging secondary, CAA that forbids, dangling and looping CNAMEs at the challenge name, and the
//! all-clear case. Every case also checks that the doctor changed nothing (the zone's serial).

use crate::support::bind::{BindFixture, BindOptions};
use crate::support::nginx::Nginx;
use crate::support::world::API_KEY;
use crate::support::world::{bare_cmd, claim_net, tree};
use dcv_sim::cloudflare::{FakeCloudflare, FakeCloudflareConfig};
use dcv_sim::{MiniDns, OrderSpec, RecordData, SimConfig, Simulator};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Runs `dcv-hook doctor ARGS --output json` with the fixture's primary as resolver; returns the
/// exit code, the findings and stderr.
fn doctor(bind: &BindFixture, args: &[&str]) -> (i32, Vec<Value>, String) {
    let out = bare_cmd()
        .arg("doctor")
        .args([
            "--resolver",
            &bind.primary_addr().to_string(),
            "--output",
            "json",
        ])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let findings = doc["findings"].as_array().cloned().unwrap_or_default();
    (
        out.status.code().unwrap_or(-1),
        findings,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The findings with `code` (about `name`, when given).
fn with_code<'a>(findings: &'a [Value], code: &str, name: Option<&str>) -> Vec<&'a Value> {
    findings
        .iter()
        .filter(|f| f["code"] == code && name.is_none_or(|n| f["name"] == n))
        .collect()
}

fn the_one<'a>(findings: &'a [Value], code: &str, name: Option<&str>) -> &'a Value {
    let found = with_code(findings, code, name);
    assert_eq!(found.len(), 1, "{code} {name:?} once in {findings:#?}");
    found[0]
}

/// The fixture's fourth octet `last` beside its primary (127.A.B.last), free for the test's own
/// servers: the fixture claims the /24's .1 and .2.
fn beside(bind: &BindFixture, last: u8) -> Ipv4Addr {
    match bind.primary() {
        IpAddr::V4(a) => {
            let o = a.octets();
            Ipv4Addr::new(o[0], o[1], o[2], last)
        }
        IpAddr::V6(_) => unreachable!("the fixture is IPv4"),
    }
}

/// A nameserver that answers every question REFUSED (UDP), until dropped.
struct Refuser {
    stop: Arc<AtomicBool>,
}

impl Refuser {
    fn start(addr: SocketAddr) -> Refuser {
        let socket = UdpSocket::bind(addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stopped.load(Ordering::SeqCst) {
                let Ok((len, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(query) = Message::from_vec(&buf[..len]) else {
                    continue;
                };
                let mut answer = Message::new(
                    query.metadata.id,
                    MessageType::Response,
                    query.metadata.op_code,
                );
                answer.metadata.response_code = ResponseCode::Refused;
                answer.add_queries(query.queries.clone());
                let _ = socket.send_to(&answer.to_vec().unwrap(), from);
            }
        });
        Refuser { stop }
    }
}

impl Drop for Refuser {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[test]
fn names_each_lame_silent_and_lagging_nameserver_and_changes_nothing() {
    // The secondary never transfers: once the primary changes, it lags at serial 1.
    let bind = BindFixture::start(BindOptions { lag: None });
    let (refusing, silent) = (beside(&bind, 3), beside(&bind, 4));
    let _refuser = Refuser::start(SocketAddr::new(refusing.into(), 53));
    // Bound, never read: questions time out (UDP) or hang after connecting (TCP).
    let _silent_udp = UdpSocket::bind((silent, 53)).unwrap();
    let _silent_tcp = TcpListener::bind((silent, 53)).unwrap();
    bind.update(
        "example.test",
        &[
            "update add example.test. 60 IN NS ns3.example.test.",
            "update add example.test. 60 IN NS ns4.example.test.",
            &format!("update add ns3.example.test. 60 IN A {refusing}"),
            &format!("update add ns4.example.test. 60 IN A {silent}"),
        ],
    );
    let serial = bind.primary_serial("example.test");

    let (code, findings, stderr) = doctor(
        &bind,
        &["-d", "www.example.test", "--method", "dns-txt-token"],
    );
    assert_eq!(code, 75, "{findings:#?}\n{stderr}");
    let refused = the_one(&findings, "dns.ns.refused", Some("example.test"));
    assert_eq!(refused["severity"], "blocks");
    assert_eq!(refused["subject"], format!("ns3.example.test ({refusing})"));
    let timeout = the_one(&findings, "dns.ns.timeout", None);
    assert_eq!(timeout["subject"], format!("ns4.example.test ({silent})"));
    let lagging = the_one(&findings, "dns.soa.lagging", None);
    assert_eq!(
        lagging["subject"],
        format!("ns2.example.test ({})", bind.secondary())
    );
    assert!(
        lagging["seen"]
            .as_str()
            .unwrap()
            .contains("serves serial 1 "),
        "{lagging}"
    );
    // The secondary still has the old NS set too.
    assert!(!with_code(&findings, "dns.ns.inconsistent", None).is_empty());
    assert!(stderr.contains("dns.ns.refused"), "{stderr}");

    // A TSIG secret the primary does not know: rejected, by an UPDATE that changes nothing.
    let bad = bind.dir().join("bad.secret");
    std::fs::write(&bad, "c2VjcmV0LXRoZS1zZXJ2ZXItZG9lcy1ub3Qta25vdw==").unwrap();
    let args = rfc2136_args(&bind, &bad, "www.example.test");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, findings, _) = doctor(&bind, &args);
    let rejected = the_one(&findings, "credentials.rejected", Some("www.example.test"));
    assert_eq!(rejected["subject"], "rfc2136");
    assert!(
        rejected["seen"].as_str().unwrap().contains("tsig"),
        "{rejected}"
    );
    assert_eq!(
        bind.primary_serial("example.test"),
        serial,
        "doctor changed the zone"
    );

    // auth on the same zone times out (the secondary never transfers): the doctor says why.
    let good = bind.dir().join("good.secret");
    std::fs::write(&good, bind.secret()).unwrap();
    let state = tempfile::tempdir().unwrap();
    let out = bare_cmd()
        .arg("auth")
        .args(["--resolver", &bind.primary_addr().to_string()])
        .args(["--acme-value", "v", "--propagation-timeout", "1"])
        .args(rfc2136_args(&bind, &good, "www.example.test"))
        .arg("--state-dir")
        .arg(state.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "doctor: blocks dns.ns.refused ns3.example.test ({refusing})"
        )),
        "{stderr}"
    );
    let error = stderr.lines().last().unwrap();
    assert!(error.contains("propagation timed out"), "{error}");
    assert!(error.contains("doctor: dns.ns."), "{error}");
}

#[test]
fn finds_caa_that_forbids_and_challenge_names_that_dangle_or_loop() {
    let bind = BindFixture::start(BindOptions::default());
    bind.update(
        "example.test",
        &[
            "update add onlyle.example.test. 60 IN CAA 0 issue \"letsencrypt.org\"",
            "update add wild.example.test. 60 IN CAA 0 issue \"digicert.com\"",
            "update add wild.example.test. 60 IN CAA 0 issuewild \";\"",
            "update add viacname.example.test. 60 IN CNAME caa.other.test.",
            "update add _dnsauth.dangling.example.test. 60 IN CNAME x.gone.test.",
            "update add _acme-challenge.loop.example.test. 60 IN CNAME _acme-challenge.loop2.example.test.",
            "update add _acme-challenge.loop2.example.test. 60 IN CNAME _acme-challenge.loop.example.test.",
        ],
    );
    bind.update(
        "other.test",
        &["update add caa.other.test. 60 IN CAA 0 issue \"letsencrypt.org\""],
    );
    bind.wait_in_sync();

    // CAA, DigiCert's identifiers.
    let (code, findings, _) = doctor(
        &bind,
        &[
            "-d",
            "onlyle.example.test",
            "-d",
            "*.wild.example.test",
            "-d",
            "wild.example.test",
            "-d",
            "viacname.example.test",
            "--method",
            "dns-txt-token",
        ],
    );
    assert_eq!(code, 75, "{findings:#?}");
    let only = the_one(&findings, "caa.forbids", Some("onlyle.example.test"));
    assert!(
        only["seen"].as_str().unwrap().contains("letsencrypt.org"),
        "{only}"
    );
    let wild = the_one(&findings, "caa.forbids", Some("*.wild.example.test"));
    assert!(
        wild["seen"].as_str().unwrap().starts_with("issuewild"),
        "{wild}"
    );
    the_one(&findings, "caa.ok", Some("wild.example.test"));
    the_one(&findings, "caa.forbids", Some("viacname.example.test"));
    // The same CAA allows Let's Encrypt in ACME mode.
    let (code, findings, _) = doctor(
        &bind,
        &["--acme-value", &"v".repeat(43), "-d", "onlyle.example.test"],
    );
    assert_eq!(code, 0, "{findings:#?}");
    the_one(&findings, "caa.ok", Some("onlyle.example.test"));

    // A dangling CNAME at _dnsauth, a loop at _acme-challenge.
    let (code, findings, _) = doctor(
        &bind,
        &[
            "-d",
            "dangling.example.test",
            "--method",
            "dns-txt-token",
            "--txt-name",
            "dnsauth",
        ],
    );
    assert_eq!(code, 75, "{findings:#?}");
    let dangling = the_one(
        &findings,
        "dns.cname.dangling",
        Some("dangling.example.test"),
    );
    assert!(
        dangling["seen"].as_str().unwrap().contains("x.gone.test"),
        "{dangling}"
    );
    let (code, findings, _) = doctor(
        &bind,
        &["--acme-value", &"v".repeat(43), "-d", "loop.example.test"],
    );
    assert_eq!(code, 75, "{findings:#?}");
    let looping = the_one(&findings, "dns.cname.loop", Some("loop.example.test"));
    assert!(
        looping["seen"]
            .as_str()
            .unwrap()
            .contains("_acme-challenge.loop2.example.test"),
        "{looping}"
    );

    // DNSSEC under a signed parent: one child signed well, one whose signatures expired.
    let valid = (time("-1 hour"), time("+30 days"));
    let expired = (time("-30 days"), time("-1 day"));
    let ds_child = signed_zone(&bind, "child.sec.test", "", &valid);
    let ds_stale = signed_zone(&bind, "stale.sec.test", "", &expired);
    signed_zone(
        &bind,
        "sec.test",
        &format!(
            "child NS ns1.example.test.\n{ds_child}\nstale NS ns1.example.test.\n{ds_stale}\n"
        ),
        &valid,
    );
    let (code, findings, _) = doctor(
        &bind,
        &[
            "-d",
            "child.sec.test",
            "-d",
            "stale.sec.test",
            "--method",
            "dns-txt-token",
        ],
    );
    assert_eq!(code, 75, "{findings:#?}");
    the_one(&findings, "dns.dnssec.ok", Some("child.sec.test"));
    let stale = the_one(&findings, "dns.dnssec.expired", Some("stale.sec.test"));
    assert_eq!(stale["severity"], "blocks");

    // Warnings only: an answer too big for UDP, and a DCV value left from an earlier validation.
    let long = "x".repeat(200);
    let mut lines: Vec<String> = (0..8)
        .map(|i| format!("update add big.example.test. 60 IN TXT \"{i}{long}\""))
        .collect();
    lines
        .push("update add old.example.test. 60 IN TXT \"0123456789abcdefghijklmnopqrstuv\"".into());
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    bind.update("example.test", &lines);
    let (code, findings, _) = doctor(
        &bind,
        &[
            "-d",
            "big.example.test",
            "-d",
            "old.example.test",
            "--method",
            "dns-txt-token",
        ],
    );
    assert_eq!(code, 0, "{findings:#?}");
    assert_eq!(
        the_one(&findings, "dns.answer.too_big", Some("big.example.test"))["severity"],
        "warns"
    );
    the_one(&findings, "dns.txt.stale", Some("old.example.test"));
    bind.wait_in_sync();
    let serial = bind.primary_serial("example.test");

    // An order read from CertCentral (GETs only): a name validated already, one CAA forbids; then
    // a key CertCentral refuses.
    let sim = Simulator::start(SimConfig::new(API_KEY, bind.primary_addr()));
    let order = sim.add_order(
        OrderSpec::new(["onlyle.example.test", "clean.example.test"])
            .approved(["clean.example.test"]),
    );
    let order_doctor = |key: &str| {
        let out = bare_cmd()
            .env("DIGICERT_API_KEY", key)
            .args(["doctor", "--output", "json", "--api-url", &sim.url()])
            .args(["--resolver", &bind.primary_addr().to_string()])
            .args(["--order-id", &order.to_string()])
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let findings = doc["findings"].as_array().cloned().unwrap_or_default();
        (out.status.code(), findings)
    };
    let (code, findings) = order_doctor(API_KEY);
    assert_eq!(code, Some(75), "{findings:#?}");
    the_one(&findings, "digicert.order", None);
    the_one(&findings, "digicert.validated", Some("clean.example.test"));
    the_one(&findings, "caa.forbids", Some("onlyle.example.test"));
    let changes: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(
        changes.is_empty(),
        "doctor changed something at DigiCert: {changes:?}"
    );
    // DigiCert says "not validated": verify's error says what the doctor finds.
    let out = bare_cmd()
        .env("DIGICERT_API_KEY", API_KEY)
        .args(["verify", "--api-url", &sim.url()])
        .args(["--resolver", &bind.primary_addr().to_string()])
        .args(["--order-id", &order.to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    let error = stderr.lines().last().unwrap();
    assert!(
        error.contains("doctor: caa.forbids at onlyle.example.test CAA"),
        "{error}"
    );
    let (code, findings) = order_doctor("not-the-key");
    assert_eq!(code, Some(75), "{findings:#?}");
    the_one(&findings, "digicert.key_rejected", None);

    // Cloudflare: a token the API refuses, and one that sees the zone.
    let cf = FakeCloudflare::start(
        "127.0.0.1:0".parse().unwrap(),
        FakeCloudflareConfig::with_token("cf-doctor-token"),
    )
    .unwrap();
    cf.add_zone("example.test");
    let cf_doctor = |token: &str| {
        let out = bare_cmd()
            .env("CLOUDFLARE_API_TOKEN", token)
            .args(["doctor", "--output", "json", "-d", "clean.example.test"])
            .args(["--resolver", &bind.primary_addr().to_string()])
            .args([
                "--provider",
                "cloudflare",
                "--cloudflare-api-url",
                &cf.url(),
            ])
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let findings = doc["findings"].as_array().cloned().unwrap_or_default();
        (out.status.code(), findings)
    };
    let (code, findings) = cf_doctor("not-the-token");
    assert_eq!(code, Some(75), "{findings:#?}");
    the_one(
        &findings,
        "credentials.rejected",
        Some("clean.example.test"),
    );
    let (code, findings) = cf_doctor("cf-doctor-token");
    assert_eq!(code, Some(0), "{findings:#?}");
    the_one(&findings, "credentials.ok", Some("clean.example.test"));

    // An exec program that is not there blocks; one that is cannot prove its credentials without
    // changing DNS, so they are reported unchecked (a warning), never ok.
    let exec_doctor = |program: &str| {
        let args = [
            "-d",
            "clean.example.test",
            "--provider",
            "exec",
            "--exec",
            program,
        ];
        doctor(&bind, &args)
    };
    let (code, findings, _) = exec_doctor("/nonexistent/dcv-publish");
    assert_eq!(code, 75, "{findings:#?}");
    the_one(&findings, "credentials.exec", None);
    let (_, findings, _) = exec_doctor("/bin/true");
    let unchecked = the_one(
        &findings,
        "credentials.unchecked",
        Some("clean.example.test"),
    );
    assert_eq!(unchecked["severity"], "warns");
    assert!(with_code(&findings, "credentials.ok", None).is_empty());

    // The TSIG key with this machine's clock 10 minutes ahead (faketime): BADTIME, with the offset.
    let good = bind.dir().join("good.secret");
    std::fs::write(&good, bind.secret()).unwrap();
    let out = Command::new("faketime")
        .args(["-f", "+10m"])
        .arg(assert_cmd::cargo::cargo_bin("dcv-hook"))
        .args([
            "doctor",
            "--output",
            "json",
            "--resolver",
            &bind.primary_addr().to_string(),
        ])
        .args(rfc2136_args(&bind, &good, "clean.example.test"))
        .output()
        .expect("faketime is installed (apt-get install faketime; scripts/test does)");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = doc["findings"].as_array().cloned().unwrap_or_default();
    let rejected = the_one(
        &findings,
        "credentials.rejected",
        Some("clean.example.test"),
    );
    let seen = rejected["seen"].as_str().unwrap();
    let offset: u64 = seen
        .split("this clock is ")
        .nth(1)
        .and_then(|rest| rest.split('s').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no clock offset in {seen}"));
    assert!(
        seen.contains("BadTime") && seen.contains("ahead of the server's"),
        "{seen}"
    );
    assert!((590..=610).contains(&offset), "{seen}");

    // All clear: a healthy zone, no CAA, the key accepted; the table in text mode.
    let out = bare_cmd()
        .args(["doctor", "--resolver", &bind.primary_addr().to_string()])
        .args(rfc2136_args(&bind, &good, "clean.example.test"))
        .args(["--method", "dns-cname-token"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("ok        dns.ns.ok"), "{text}");
    assert!(text.contains("all clear for 1 name(s)"), "{text}");
    assert!(text.contains("ok        credentials.ok"), "{text}");
    assert_eq!(
        bind.primary_serial("example.test"),
        serial,
        "doctor changed the zone"
    );
}

#[test]
fn judges_each_web_answer_by_digicerts_rules_and_removes_its_probe() {
    let (net, _claim) = claim_net();
    let ip = Ipv4Addr::new(127, 80, net, 1);
    let root = tempfile::tempdir().unwrap();
    // One nginx, one behaviour per host name.
    let _nginx = Nginx::start(
        ip,
        root.path(),
        r#"
        if ($host = "forbidden.example.test") { return 403; }
        if ($host = "broken.example.test") { return 500; }
        if ($host = "away.example.test") { return 301 http://elsewhere.other.test$request_uri; }
        if ($host = "port.example.test") { return 302 http://port.example.test:8080$request_uri; }
        if ($host = "hops.example.test") { rewrite ^(.*)$ /h$1 redirect; }
        "#,
    );
    let dns = MiniDns::start(SocketAddr::new(Ipv4Addr::new(127, 80, net, 53).into(), 0)).unwrap();
    dns.add("example.test", RecordData::soa("ns.example.test"));
    let hosts = ["ok", "forbidden", "broken", "away", "port", "hops"];
    for h in hosts {
        dns.add(&format!("{h}.example.test"), RecordData::A(ip));
    }
    let probe_state = tempfile::tempdir().unwrap();
    let run = |webroot: &Path, args: &[&str]| {
        let out = bare_cmd()
            .args([
                "doctor",
                "--output",
                "json",
                "--resolver",
                &dns.addr().to_string(),
            ])
            .args(["--provider", "webroot", "--webroot"])
            .arg(webroot)
            .arg("--state-dir")
            .arg(probe_state.path())
            .args(args)
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let findings = doc["findings"].as_array().cloned().unwrap_or_default();
        (out.status.code().unwrap_or(-1), findings)
    };

    let mut args = vec!["--method", "http-token"];
    let names: Vec<String> = hosts.iter().map(|h| format!("{h}.example.test")).collect();
    for n in &names {
        args.extend(["-d", n.as_str()]);
    }
    let (code, findings) = run(root.path(), &args);
    assert_eq!(code, 75, "{findings:#?}");
    for (name, want) in [
        ("ok.example.test", "http.ok"),
        ("forbidden.example.test", "http.status.403"),
        ("broken.example.test", "http.status.5xx"),
        ("away.example.test", "http.redirect.domain"),
        ("port.example.test", "http.redirect.port"),
        ("hops.example.test", "http.redirect.too_many"),
    ] {
        the_one(&findings, want, Some(name));
    }
    the_one(&findings, "http.address.loopback", Some("ok.example.test"));
    assert!(
        tree(root.path()).is_empty(),
        "probe left behind: {:?}",
        tree(root.path())
    );
    assert_eq!(state_entries(probe_state.path()), 0, "probe state kept");

    // A web root the server does not serve: the probe is not found.
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, findings) = run(
        elsewhere.path(),
        &["--method", "http-token", "-d", "ok.example.test"],
    );
    assert_eq!(code, 75, "{findings:#?}");
    the_one(&findings, "http.status.404", Some("ok.example.test"));

    // All clear, for http-token and for http-01.
    let (code, findings) = run(
        root.path(),
        &["--method", "http-token", "-d", "ok.example.test"],
    );
    assert_eq!(code, 0, "{findings:#?}");
    let (code, findings) = run(
        root.path(),
        &[
            "--acme-value",
            "tok.key",
            "--acme-token",
            "tok",
            "-d",
            "ok.example.test",
        ],
    );
    assert_eq!(code, 0, "{findings:#?}");
    the_one(&findings, "http.ok", Some("ok.example.test"));

    // auth --preflight stops before publishing anything.
    let state = tempfile::tempdir().unwrap();
    let auth = |args: &[&str]| {
        let mut cmd = bare_cmd();
        cmd.args(["auth", "--resolver", &dns.addr().to_string()])
            .args(["--provider", "webroot", "--webroot"])
            .arg(root.path())
            .arg("--state-dir")
            .arg(state.path())
            .args(args);
        cmd
    };
    let out = auth(&[
        "--preflight",
        "--output",
        "json",
        "--acme-value",
        "tok.key",
        "--acme-token",
        "tok",
        "-d",
        "forbidden.example.test",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(75));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    the_one(
        doc["findings"].as_array().unwrap(),
        "http.status.403",
        Some("forbidden.example.test"),
    );
    assert!(tree(root.path()).is_empty() && state_entries(state.path()) == 0);

    // Under certbot, auth's wait reports the 403 at once and gives up on it after 30 s, long before
    // --propagation-timeout, with the doctor's line.
    let out = auth(&["--propagation-timeout", "300"])
        .env("CERTBOT_DOMAIN", "forbidden.example.test")
        .env("CERTBOT_VALIDATION", "tok.key")
        .env("CERTBOT_TOKEN", "tok")
        .env("CERTBOT_REMAINING_CHALLENGES", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert!(stderr.contains("answers HTTP 403"), "{stderr}");
    let error = stderr.lines().last().unwrap();
    assert!(error.contains("gave up waiting"), "{error}");
    assert!(error.contains("http.status.403"), "{error}");
    bare_cmd()
        .args(["cleanup", "--state-dir"])
        .arg(state.path())
        .env("CERTBOT_DOMAIN", "forbidden.example.test")
        .env("CERTBOT_VALIDATION", "tok.key")
        .env("CERTBOT_TOKEN", "tok")
        .assert()
        .success();
    assert!(
        tree(root.path()).is_empty(),
        "probe left behind: {:?}",
        tree(root.path())
    );
}

/// How many state entries (records/*.json) `state_dir` holds.
fn state_entries(state_dir: &Path) -> usize {
    tree(state_dir)
        .iter()
        .filter(|p| p.starts_with("records/") && p.ends_with(".json"))
        .count()
}

/// `date -u` for a relative time such as `-1 day`, as dnssec-signzone takes it (YYYYMMDDHHMMSS).
fn time(relative: &str) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", relative, "+%Y%m%d%H%M%S"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Signs `zone` (SOA, NS at the fixture's ns1, then `extra`) with a fresh ECDSA key valid over
/// `window` (dnssec-signzone's -s and -e), loads it on the primary and returns its DS record line.
fn signed_zone(bind: &BindFixture, zone: &str, extra: &str, window: &(String, String)) -> String {
    let dir = bind.dir();
    let run = |program: &str, args: &[&str]| {
        let out = Command::new(program)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}; apt-get install bind9-utils"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let key = run(
        "dnssec-keygen",
        &["-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K", ".", zone],
    );
    std::fs::write(
        dir.join(format!("{zone}.src")),
        format!(
            "$TTL 60\n@ IN SOA ns1.example.test. hostmaster.example.test. 1 86400 3600 604800 60\n\
             @ NS ns1.example.test.\n{extra}$INCLUDE {key}.key\n"
        ),
    )
    .unwrap();
    let signed = format!("{zone}.signed");
    run(
        "dnssec-signzone",
        &[
            "-z",
            "-P",
            "-K",
            ".",
            "-d",
            ".",
            "-o",
            zone,
            "-s",
            &window.0,
            "-e",
            &window.1,
            "-f",
            &signed,
            &format!("{zone}.src"),
        ],
    );
    bind.add_zone(zone, &dir.join(&signed));
    std::fs::read_to_string(dir.join(format!("dsset-{zone}.")))
        .unwrap()
        .trim()
        .to_string()
}

/// `-d NAME` with the rfc2136 provider pointed at the fixture's primary, the secret read from `secret`.
fn rfc2136_args(bind: &BindFixture, secret: &Path, name: &str) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "-d".into(),
        name.into(),
        "--provider".into(),
        "rfc2136".into(),
    ];
    args.extend(["--tsig-key".into(), bind.key_name().to_string()]);
    args.extend(["--rfc2136-server".into(), bind.primary_addr().to_string()]);
    args.extend(["--tsig-secret-file".into(), secret.display().to_string()]);
    args
}

/// A `dcv-hook doctor` started in the background (stderr kept), with when it started.
fn spawn_doctor(args: &[String]) -> std::process::Child {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("dcv-hook"));
    cmd.arg("doctor")
        .args(args)
        .env_remove("DCV_HOOK_STATE_DIR")
        .env_remove("DCV_HOOK_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    cmd.spawn().unwrap()
}

/// Sends `signal` (TERM, INT) to `child`.
fn send(child: &std::process::Child, signal: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal}");
}

/// The exit code of `child` and how long after `since` it came, waiting at most `limit` (then
/// it is killed and the code is `None`).
fn exit_after(
    child: &mut std::process::Child,
    since: Instant,
    limit: Duration,
) -> (Option<i32>, Duration) {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), since.elapsed());
        }
        if since.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return (None, since.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The doctor's probe files under `root`.
fn probes_in(root: &Path) -> Vec<String> {
    tree(root)
        .into_iter()
        .filter(|p| p.contains("dcv-hook-doctor-"))
        .collect()
}

/// Web servers on four addresses of `slow.example.test` (in `dns`), one port, that take
/// connections and never answer (their backlog accepts them): the doctor's probe stays live for the
/// whole read timeout.
fn slow_web_servers(dns: &MiniDns, net: u8) -> Vec<TcpListener> {
    dns.add("example.test", RecordData::soa("ns.example.test"));
    let first = TcpListener::bind((Ipv4Addr::new(127, 80, net, 7), 0)).unwrap();
    let port = first.local_addr().unwrap().port();
    let mut servers = vec![first];
    for last in 8..=10 {
        servers.push(TcpListener::bind((Ipv4Addr::new(127, 80, net, last), port)).unwrap());
    }
    for last in 7..=10 {
        dns.add(
            "slow.example.test",
            RecordData::A(Ipv4Addr::new(127, 80, net, last)),
        );
    }
    servers
}

#[test]
fn a_probe_killed_mid_check_is_removed_by_cleanup_and_a_signal_removes_it_at_once() {
    let (net, _claim) = claim_net();
    let dns = MiniDns::start(SocketAddr::new(Ipv4Addr::new(127, 80, net, 53).into(), 0)).unwrap();
    let web = slow_web_servers(&dns, net);
    let (root, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args: Vec<String> = [
        "--resolver",
        &dns.addr().to_string(),
        "--http-port",
        &web[0].local_addr().unwrap().port().to_string(),
        "-d",
        "slow.example.test",
        "--method",
        "http-token",
        "--provider",
        "webroot",
        "--webroot",
        &root.path().display().to_string(),
        "--state-dir",
        &state.path().display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    let live = |child: &mut std::process::Child| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while probes_in(root.path()).is_empty() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "doctor ended before its probe was live"
            );
            assert!(Instant::now() < deadline, "no probe file appeared");
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    // kill -9 while the probe is live: the file stays, and its state entry names it for cleanup.
    let mut doctor = spawn_doctor(&args);
    live(&mut doctor);
    doctor.kill().unwrap();
    doctor.wait().unwrap();
    assert_eq!(probes_in(root.path()).len(), 1, "{:?}", tree(root.path()));
    assert_eq!(state_entries(state.path()), 1);
    bare_cmd()
        .args(["cleanup", "--state-dir"])
        .arg(state.path())
        .assert()
        .success();
    assert!(
        tree(root.path()).is_empty(),
        "left: {:?}",
        tree(root.path())
    );
    assert_eq!(state_entries(state.path()), 0);

    // SIGTERM while the probe is live: 143 at once (not after the 5 s read timeout), probe gone.
    let mut doctor = spawn_doctor(&args);
    live(&mut doctor);
    let sent = Instant::now();
    send(&doctor, "TERM");
    let (code, took) = exit_after(&mut doctor, sent, Duration::from_secs(15));
    assert_eq!(code, Some(143), "after {took:?}");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(
        tree(root.path()).is_empty(),
        "left: {:?}",
        tree(root.path())
    );
    assert_eq!(state_entries(state.path()), 0);

    // Left to finish: each silent address is named, all asked at once (5 s, where one after
    // another took 20 s), and the probe is gone.
    let started = Instant::now();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, findings) = doctor_with(&[], &args);
    let took = started.elapsed();
    assert_eq!(code, 75, "{findings:#?}");
    assert_eq!(
        with_code(&findings, "http.timeout", None).len(),
        4,
        "{findings:#?}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(
        tree(root.path()).is_empty(),
        "left: {:?}",
        tree(root.path())
    );
    assert_eq!(state_entries(state.path()), 0);
}

#[test]
fn a_silent_resolver_costs_one_timeout_and_a_signal_stops_doctor_at_once() {
    let (net, _claim) = claim_net();
    // Bound, never answering: every question to it times out.
    let silent = UdpSocket::bind((Ipv4Addr::new(127, 80, net, 53), 0)).unwrap();
    let mut args: Vec<String> = ["--resolver", &silent.local_addr().unwrap().to_string()]
        .map(String::from)
        .to_vec();
    for i in 0..10 {
        args.extend(["-d".into(), format!("n{i}.example.test")]);
    }
    args.extend(["--method", "dns-txt-token", "--output", "json"].map(String::from));

    // Ten names: one timeout for all (it was 27 s per name, one name after another).
    let started = Instant::now();
    let out = bare_cmd().arg("doctor").args(&args).output().unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(69));
    assert!(
        took < Duration::from_secs(30),
        "took {took:?}, over doctor's time limit"
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = doc["findings"].as_array().cloned().unwrap_or_default();
    for i in 0..10 {
        let name = format!("n{i}.example.test");
        assert!(
            !with_code(&findings, "doctor.unchecked", Some(&name)).is_empty(),
            "{name} not reported: {findings:#?}"
        );
    }

    // A signal while doctor waits on the resolver (its question has arrived) ends it at once.
    let mut buf = [0u8; 512];
    for (signal, want) in [("TERM", 143), ("INT", 130)] {
        // The questions of the runs before are no sign of this one.
        silent.set_nonblocking(true).unwrap();
        while silent.recv(&mut buf).is_ok() {}
        silent.set_nonblocking(false).unwrap();
        silent
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut doctor = spawn_doctor(&args);
        silent.recv(&mut buf).expect("doctor asks the resolver");
        let sent = Instant::now();
        send(&doctor, signal);
        let (code, took) = exit_after(&mut doctor, sent, Duration::from_secs(40));
        assert_eq!(code, Some(want), "SIG{signal} after {took:?}");
        assert!(took < Duration::from_secs(5), "SIG{signal} took {took:?}");
    }
}

/// `dcv-hook doctor --output json ARGS` with `env`: the exit code and the findings.
fn doctor_with(env: &[(&str, String)], args: &[&str]) -> (i32, Vec<Value>) {
    let out = bare_cmd()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["doctor", "--output", "json"])
        .args(args)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let findings = doc["findings"].as_array().cloned().unwrap_or_default();
    (out.status.code().unwrap_or(-1), findings)
}

#[test]
fn a_powerdns_key_is_proven_by_reading_the_zone_and_a_wrong_one_blocks() {
    let pdns = crate::support::pdns::PdnsFixture::start();
    let name = "_dnsauth.www.example.test";
    pdns.add_foreign_txt("example.test", name, "foreign");
    let state = tempfile::tempdir().unwrap();
    let (resolver, url) = (pdns.dns_addr().to_string(), pdns.api_url());
    let args = [
        "-d",
        "www.example.test",
        "--method",
        "dns-txt-token",
        "--resolver",
        &resolver,
        "--provider",
        "powerdns",
        "--powerdns-url",
        &url,
        "--state-dir",
        &state.path().display().to_string(),
    ];
    let (code, findings) = doctor_with(&[("PDNS_API_KEY", "not-the-key".into())], &args);
    assert_eq!(code, 75, "{findings:#?}");
    let rejected = the_one(&findings, "credentials.rejected", Some("www.example.test"));
    assert_eq!(rejected["subject"], "powerdns");
    assert!(with_code(&findings, "credentials.ok", None).is_empty());

    let (_, findings) = doctor_with(&[("PDNS_API_KEY", pdns.api_key().into())], &args);
    let ok = the_one(&findings, "credentials.ok", Some("www.example.test"));
    assert!(
        ok["seen"].as_str().unwrap().contains("example.test"),
        "{ok}"
    );
    assert!(
        findings
            .iter()
            .all(|f| !f["code"].as_str().unwrap().starts_with("credentials.") || f == ok),
        "{findings:#?}"
    );
    assert_eq!(
        pdns.txt_values(name),
        ["foreign"],
        "doctor changed the zone"
    );
}

#[cfg(feature = "route53")]
#[test]
fn route53_credentials_and_zones_are_proven_by_reading_and_nothing_changes() {
    use crate::support::moto::MotoFixture;
    let (net, _claim) = claim_net();
    let dns = MiniDns::start(SocketAddr::new(Ipv4Addr::new(127, 80, net, 53).into(), 0)).unwrap();
    dns.add("example.test", RecordData::soa("ns.example.test"));
    let moto = MotoFixture::start();
    let zone = moto.zone_id("example.test").to_string();
    let name = "_acme-challenge.example.test";
    moto.add_foreign_txt(&zone, name, "foreign");
    let home = tempfile::tempdir().unwrap();
    let resolver = dns.addr().to_string();
    let run = |moto: &MotoFixture, domain: &str, extra: &[&str]| {
        let mut env = moto.env();
        env.push(("HOME", home.path().display().to_string()));
        let mut args = vec!["-d", domain, "--acme-value", "tok", "--resolver", &resolver];
        args.extend(["--provider", "route53", "--state-dir"]);
        let state = home.path().display().to_string();
        args.push(&state);
        args.extend(extra);
        doctor_with(&env, &args)
    };

    let (_, findings) = run(&moto, "example.test", &[]);
    let ok = the_one(&findings, "credentials.ok", Some("example.test"));
    assert_eq!(ok["subject"], "route53");
    assert!(
        ok["seen"].as_str().unwrap().contains("example.test"),
        "{ok}"
    );

    // A hosted zone id that is not there, and a name in no hosted zone: each blocks, named.
    let (code, findings) = run(
        &moto,
        "example.test",
        &["--route53-zone-id", "ZNOSUCHZONE0000"],
    );
    assert_eq!(code, 75, "{findings:#?}");
    let missing = the_one(&findings, "credentials.config", Some("example.test"));
    assert!(
        missing["seen"]
            .as_str()
            .unwrap()
            .contains("--route53-zone-id"),
        "{missing}"
    );
    let (code, findings) = run(&moto, "shop.nowhere.test", &[]);
    assert_eq!(code, 75, "{findings:#?}");
    let none = the_one(&findings, "credentials.config", Some("shop.nowhere.test"));
    assert!(
        none["seen"]
            .as_str()
            .unwrap()
            .contains("no public hosted zone"),
        "{none}"
    );

    // moto checking credentials against its IAM, where ours are unknown: refused.
    let strict = MotoFixture::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let (code, findings) = run(&strict, "example.test", &[]);
    assert_eq!(code, 75, "{findings:#?}");
    the_one(&findings, "credentials.rejected", Some("example.test"));

    assert_eq!(
        moto.txt_values(&zone, name),
        ["foreign"],
        "doctor changed the zone"
    );
}
