//! The DNS methods through the binary: a real BIND primary and lagging secondary, and the CertCentral
//! simulator querying every authoritative server like a CA.

use crate::support::bind::{BindFixture, BindOptions};
use crate::support::world::{API_KEY, bare_cmd};
use assert_cmd::Command;
use dcv_hook::publish::Publisher;
use dcv_hook::publish::rfc2136::{Rfc2136, Rfc2136Settings};
use dcv_hook::record::{Record, RecordType};
use dcv_hook::secret::Secret;
use dcv_sim::{DomainSpec, OrderSpec, SimConfig, Simulator};
use predicates::prelude::*;
use std::time::{Duration, Instant};

struct DnsWorld {
    bind: BindFixture,
    sim: Simulator,
    dir: tempfile::TempDir,
}

impl DnsWorld {
    fn new(lag: Option<Duration>) -> DnsWorld {
        let bind = BindFixture::start(BindOptions { lag });
        let sim = Simulator::start(SimConfig::new(API_KEY, bind.primary_addr()));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("tsig.secret"),
            format!("{}\n", bind.secret()),
        )
        .unwrap();
        DnsWorld { bind, sim, dir }
    }

    /// The binary with everything but the TSIG secret's source.
    fn base_cmd(&self) -> Command {
        let mut cmd = bare_cmd();
        cmd.env("DIGICERT_API_KEY", API_KEY)
            .args(["--api-url", &self.sim.url()])
            .args(["--resolver", &self.bind.primary_addr().to_string()])
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .args(["--poll-interval", "0.1", "--provider", "rfc2136"]);
        cmd
    }

    fn cmd(&self) -> Command {
        let mut cmd = self.base_cmd();
        cmd.args(["--rfc2136-server", &self.bind.primary().to_string()])
            .args(["--tsig-key", self.bind.key_name()])
            .arg("--tsig-secret-file")
            .arg(self.dir.path().join("tsig.secret"));
        cmd
    }

    fn state_files(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("state/records"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    fn primary_txt(&self, name: &str) -> Vec<String> {
        self.bind.txt_values(self.bind.primary(), name)
    }

    /// Adds a TXT value the way another tool would, not recorded in dcv-hook's state.
    fn add_foreign_txt(&self, name: &str, value: &str) {
        let settings = Rfc2136Settings::new(
            self.bind.primary_addr(),
            self.bind.key_name(),
            Secret::new(self.bind.secret()),
        );
        let record = Record::new_dns(name, RecordType::Txt, name, value);
        Rfc2136::new(settings, self.bind.resolver())
            .unwrap()
            .present(&[record])
            .unwrap();
    }

    fn assert_no_premature_check(&self) {
        let premature = self.sim.premature_checks();
        assert!(
            premature.is_empty(),
            "checks came too early: {}",
            premature
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn order_in_two_zones_waits_for_the_lagging_secondary() {
    let w = DnsWorld::new(Some(Duration::from_secs(2)));
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test", "api.other.test"]));
    let out = w
        .cmd()
        .args(["run", "--order-id", &order.to_string(), "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(w.sim.order_status(order).as_deref(), Some("issued"));
    w.assert_no_premature_check();
    // Each record was seen on both servers of its zone, the secondary included.
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let secondary = w.bind.secondary().to_string();
    for r in doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "published")
    {
        let servers: Vec<&str> = r["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(servers.len(), 2, "{r}");
        assert!(servers.iter().any(|s| s.contains(&secondary)), "{r}");
    }
    let token = w.sim.order_random_value(order).unwrap();
    assert!(!w.primary_txt("www.example.test").contains(&token));
    assert!(!w.primary_txt("api.other.test").contains(&token));
    assert_eq!(w.state_files(), 0);
}

#[test]
fn txt_at_dnsauth_and_cname_methods() {
    let w = DnsWorld::new(Some(Duration::ZERO));
    let order = w
        .sim
        .add_order(OrderSpec::new(["dnsauth.example.test"]))
        .to_string();
    w.cmd()
        .args(["auth", "--order-id", &order, "--txt-name", "dnsauth"])
        .assert()
        .success();
    let token = w.sim.order_random_value(order.parse().unwrap()).unwrap();
    assert!(
        w.primary_txt("_dnsauth.dnsauth.example.test")
            .contains(&token)
    );
    w.cmd()
        .args(["verify", "--order-id", &order])
        .assert()
        .success();
    w.cmd()
        .args(["cleanup", "--order-id", &order])
        .assert()
        .success();
    assert!(w.primary_txt("_dnsauth.dnsauth.example.test").is_empty());

    let cname = w
        .sim
        .add_order(OrderSpec::new(["cname.other.test"]).method("dns-cname-token"));
    w.cmd()
        .args([
            "run",
            "--order-id",
            &cname.to_string(),
            "--method",
            "dns-cname-token",
        ])
        .assert()
        .success();
    assert_eq!(w.sim.order_status(cname).as_deref(), Some("issued"));
    w.assert_no_premature_check();
    assert!(!w.bind.has_record(
        w.bind.primary(),
        RecordType::Cname,
        "_dnsauth.cname.other.test",
        &format!(
            "{}.dcv.digicert.com",
            w.sim.order_random_value(cname).unwrap()
        )
    ));
}

#[test]
fn wildcard_base_and_foreign_values_share_one_name_and_cleanup_removes_only_ours() {
    let w = DnsWorld::new(Some(Duration::ZERO));
    w.add_foreign_txt("example.test", "v=spf1 -all");
    let order = w
        .sim
        .add_order(OrderSpec::new(["*.example.test", "example.test"]));
    let domain = w.sim.add_domain(DomainSpec::new("example.test"));
    w.cmd()
        .args(["auth", "--order-id", &order.to_string()])
        .assert()
        .success();
    w.cmd()
        .args(["auth", "--domain-id", &domain.to_string()])
        .assert()
        .success();
    let order_token = w.sim.order_random_value(order).unwrap();
    let domain_token = w.sim.domain_token(domain).unwrap();
    let mut want = vec![
        order_token.clone(),
        domain_token.clone(),
        "v=spf1 -all".to_string(),
    ];
    want.sort();
    assert_eq!(w.primary_txt("example.test"), want);

    w.cmd()
        .args(["cleanup", "--order-id", &order.to_string()])
        .assert()
        .success();
    let mut want = vec![domain_token.clone(), "v=spf1 -all".to_string()];
    want.sort();
    assert_eq!(w.primary_txt("example.test"), want);
    w.cmd().args(["cleanup"]).assert().success();
    assert_eq!(
        w.primary_txt("example.test"),
        vec!["v=spf1 -all".to_string()]
    );
    assert_eq!(w.state_files(), 0);
}

#[test]
fn a_cname_delegated_dnsauth_name_is_published_in_the_target_zone() {
    let w = DnsWorld::new(Some(Duration::from_millis(500)));
    // example.test has _dnsauth.shop.example.test CNAME shop.delegated.test.
    let order = w.sim.add_order(OrderSpec::new(["shop.example.test"]));
    let out = w
        .cmd()
        .args([
            "auth",
            "--order-id",
            &order.to_string(),
            "--txt-name",
            "dnsauth",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("shop.delegated.test"),
        "{}",
        stderr_of(&out)
    );
    let token = w.sim.order_random_value(order).unwrap();
    assert!(w.primary_txt("shop.delegated.test").contains(&token));
    w.cmd()
        .args(["verify", "--order-id", &order.to_string()])
        .assert()
        .success();
    w.assert_no_premature_check();
    w.cmd()
        .args(["cleanup", "--order-id", &order.to_string()])
        .assert()
        .success();
    assert!(!w.primary_txt("shop.delegated.test").contains(&token));
}

#[test]
fn bad_tsig_secret_is_77_and_publishes_nothing() {
    let w = DnsWorld::new(Some(Duration::ZERO));
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]))
        .to_string();
    let wrong = "c2VjcmV0LWJ1dC1ub3QtdGhlLXJpZ2h0LW9uZQ==";
    let out = w
        .base_cmd()
        .args([
            "auth",
            "--order-id",
            &order,
            "--rfc2136-server",
            &w.bind.primary().to_string(),
        ])
        .args(["--tsig-key", w.bind.key_name()])
        .env("DCV_TSIG_SECRET", wrong)
        .args(["-v"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77), "{}", stderr_of(&out));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr_of(&out)
    );
    assert!(
        !all.contains(wrong) && !all.contains(w.bind.secret()) && !all.contains(API_KEY),
        "{all}"
    );
    assert!(w.primary_txt("www.example.test").is_empty());
    assert_eq!(w.state_files(), 0);
}

#[test]
fn wrong_zone_is_78_with_the_hint() {
    let w = DnsWorld::new(Some(Duration::ZERO));
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]))
        .to_string();
    w.cmd()
        .args(["auth", "--order-id", &order, "--rfc2136-zone", "other.test"])
        .assert()
        .code(78)
        .stderr(predicate::str::contains("--rfc2136-zone"));
    assert_eq!(w.state_files(), 0);
}

#[test]
fn primary_down_is_69_and_nothing_is_half_published() {
    let w = DnsWorld::new(Some(Duration::ZERO));
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test", "api.other.test"]))
        .to_string();
    w.bind.stop_primary();
    // The secondary still answers the zone questions; only the primary (the UPDATE target) is down.
    w.cmd()
        .args([
            "auth",
            "--order-id",
            &order,
            "--resolver",
            &w.bind.secondary().to_string(),
        ])
        .assert()
        .code(69);
    assert_eq!(w.state_files(), 0);
    assert!(
        w.bind
            .txt_values(w.bind.secondary(), "www.example.test")
            .is_empty()
    );
}

#[test]
fn a_secondary_that_never_catches_up_is_75_naming_it() {
    let w = DnsWorld::new(None);
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]))
        .to_string();
    let started = Instant::now();
    let out = w
        .cmd()
        .args(["auth", "--order-id", &order, "--propagation-timeout", "1.5"])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(75), "{}", stderr_of(&out));
    let all = stderr_of(&out);
    let err = all
        .lines()
        .find(|l| l.starts_with("dcv-hook: error:"))
        .unwrap_or_else(|| panic!("{all}"));
    assert!(
        err.contains(&format!("ns2.example.test ({})", w.bind.secondary())),
        "{err}"
    );
    assert!(
        err.contains("NXDOMAIN") && err.contains("after 1.5s"),
        "{err}"
    );
    assert!(
        !err.contains(&format!("ns1.example.test ({})", w.bind.primary())),
        "{err}"
    );
    // Gave up at the timeout, not long after (bounded by one query timeout).
    assert!(took < Duration::from_secs(8), "took {took:?}");
    // The record stays published and recorded, so cleanup can remove it.
    assert_eq!(w.state_files(), 1);
    w.cmd().args(["cleanup"]).assert().success();
    assert!(w.primary_txt("www.example.test").is_empty());
}

#[test]
fn a_certbot_ini_file_is_read_as_is() {
    let w = DnsWorld::new(Some(Duration::ZERO));
    let ini = w.dir.path().join("rfc2136.ini");
    std::fs::write(
        &ini,
        format!(
            "# Target DNS server\ndns_rfc2136_server = {}\n# Target DNS port\ndns_rfc2136_port = 53\n\
             # TSIG key name\ndns_rfc2136_name = {}\n# TSIG key secret\ndns_rfc2136_secret = {}\n\
             # TSIG key algorithm\ndns_rfc2136_algorithm = HMAC-SHA256\n",
            w.bind.primary(),
            w.bind.key_name(),
            w.bind.secret()
        ),
    )
    .unwrap();
    let order = w.sim.add_order(OrderSpec::new(["ini.example.test"]));
    w.base_cmd()
        .args([
            "run",
            "--order-id",
            &order.to_string(),
            "--rfc2136-credentials",
        ])
        .arg(&ini)
        .assert()
        .success();
    assert_eq!(w.sim.order_status(order).as_deref(), Some("issued"));
}

#[test]
fn dry_run_sends_no_update() {
    let w = DnsWorld::new(Some(Duration::ZERO));
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]))
        .to_string();
    let serial = w.bind.primary_serial("example.test");
    w.cmd()
        .args(["run", "--order-id", &order, "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("would publish"));
    assert_eq!(w.bind.primary_serial("example.test"), serial);
    assert_eq!(w.bind.update_messages("example.test"), 0);
    assert_eq!(w.state_files(), 0);
}

#[test]
fn auth_twice_then_cleanup_removes_the_record() {
    let w = DnsWorld::new(Some(Duration::ZERO));
    let order = w.sim.add_order(OrderSpec::new(["twice.example.test"]));
    for _ in 0..2 {
        w.cmd()
            .args(["auth", "--order-id", &order.to_string()])
            .assert()
            .success();
    }
    let token = w.sim.order_random_value(order).unwrap();
    assert!(w.primary_txt("twice.example.test").contains(&token));
    w.cmd()
        .args(["cleanup", "--order-id", &order.to_string()])
        .assert()
        .success();
    assert!(w.primary_txt("twice.example.test").is_empty());
}

#[test]
fn dns_cname_token_never_replaces_an_existing_cname() {
    let w = DnsWorld::new(Some(Duration::ZERO));
    // _dnsauth.shop.example.test is already a CNAME (to shop.delegated.test) in the fixture.
    let order = w
        .sim
        .add_order(OrderSpec::new(["shop.example.test"]).method("dns-cname-token"));
    w.cmd()
        .args([
            "auth",
            "--order-id",
            &order.to_string(),
            "--method",
            "dns-cname-token",
        ])
        .assert()
        .code(65)
        .stderr(predicate::str::contains(
            "already is a CNAME to shop.delegated.test",
        ));
    assert!(w.bind.has_record(
        w.bind.primary(),
        RecordType::Cname,
        "_dnsauth.shop.example.test",
        "shop.delegated.test"
    ));
    assert_eq!(w.state_files(), 0);
}

#[test]
fn cleanup_needs_no_provider_flags_after_auth() {
    let w = DnsWorld::new(Some(Duration::ZERO));
    let order = w.sim.add_order(OrderSpec::new(["remember.example.test"]));
    w.cmd()
        .args(["auth", "--order-id", &order.to_string()])
        .assert()
        .success();
    let token = w.sim.order_random_value(order).unwrap();
    assert!(w.primary_txt("remember.example.test").contains(&token));
    // The state recorded the server, key name and where the secret lives (never the secret).
    let state = std::fs::read_dir(w.dir.path().join("state/records"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(state).unwrap();
    assert!(
        text.contains("tsig_secret_file") && !text.contains(w.bind.secret()),
        "{text}"
    );
    bare_cmd()
        .arg("--state-dir")
        .arg(w.dir.path().join("state"))
        .args(["cleanup", "--order-id", &order.to_string()])
        .assert()
        .success();
    assert!(w.primary_txt("remember.example.test").is_empty());
}

#[test]
fn domain_narrows_an_order_by_a_name_its_scope_covers() {
    let w = DnsWorld::new(Some(Duration::ZERO));
    // www.example.test is validated at its scope example.test; api.other.test at other.test.
    let order = w.sim.add_order(
        OrderSpec::new(["www.example.test", "api.other.test"])
            .name_scopes(["example.test", "other.test"]),
    );
    w.cmd()
        .args([
            "auth",
            "--order-id",
            &order.to_string(),
            "-d",
            "www.example.test",
        ])
        .assert()
        .success();
    let token = w.sim.order_random_value(order).unwrap();
    assert!(w.primary_txt("example.test").contains(&token));
    assert!(!w.primary_txt("other.test").contains(&token));
    // A name the order does not have is an error naming the order's names.
    w.cmd()
        .args([
            "auth",
            "--order-id",
            &order.to_string(),
            "-d",
            "shop.elsewhere.test",
        ])
        .assert()
        .code(65)
        .stderr(predicate::str::contains("www.example.test"));
    w.cmd().args(["cleanup"]).assert().success();
}

#[test]
fn run_with_domain_checks_only_the_names_it_published() {
    let w = DnsWorld::new(Some(Duration::ZERO));
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test", "api.other.test"]));
    let out = w
        .cmd()
        .args([
            "run",
            "--order-id",
            &order.to_string(),
            "-d",
            "www.example.test",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let validations = w.sim.order_validations(order);
    let status = |name: &str| {
        validations
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.clone())
    };
    assert_eq!(
        status("www.example.test").as_deref(),
        Some("approved"),
        "{validations:?}"
    );
    assert_eq!(
        status("api.other.test").as_deref(),
        Some("pending"),
        "{validations:?}"
    );
    w.assert_no_premature_check();

    // A name that is not served is named in the error, not blamed on propagation in general.
    let out = w
        .cmd()
        .args([
            "verify",
            "--order-id",
            &order.to_string(),
            "-d",
            "api.other.test",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("not validated yet: api.other.test"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_secondary_that_goes_down_during_the_wait_is_reported_unreachable_with_75() {
    let mut w = DnsWorld::new(None);
    w.bind.stop_secondary();
    let order = w.sim.add_order(OrderSpec::new(["www.example.test"]));
    let out = w
        .cmd()
        .args([
            "auth",
            "--order-id",
            &order.to_string(),
            "--propagation-timeout",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("unreachable"), "{err}");
    assert!(err.contains(&w.bind.secondary().to_string()), "{err}");
    // The records stay published and recorded for cleanup.
    assert_eq!(w.state_files(), 1);
    w.cmd().arg("cleanup").assert().success();
    assert_eq!(w.state_files(), 0);
}

#[test]
fn a_token_that_expires_between_auth_and_verify_is_75_and_a_new_auth_recovers() {
    let w = DnsWorld::new(Some(Duration::ZERO));
    let order = w.sim.add_order(OrderSpec::new(["www.example.test"]));
    let id = order.to_string();
    w.cmd().args(["auth", "--order-id", &id]).assert().success();
    let old = w.sim.order_random_value(order).unwrap();
    let new = w.sim.expire_order_random_value(order).unwrap();
    let out = w
        .cmd()
        .args(["verify", "--order-id", &id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("www.example.test"),
        "{}",
        stderr_of(&out)
    );
    // auth again publishes the new value beside the old one; verify passes; cleanup removes both.
    w.cmd().args(["auth", "--order-id", &id]).assert().success();
    assert!(w.primary_txt("www.example.test").contains(&new));
    w.cmd()
        .args(["verify", "--order-id", &id])
        .assert()
        .success();
    w.cmd()
        .args(["cleanup", "--order-id", &id])
        .assert()
        .success();
    let left = w.primary_txt("www.example.test");
    assert!(!left.contains(&old) && !left.contains(&new), "{left:?}");
    assert_eq!(w.state_files(), 0);
}
