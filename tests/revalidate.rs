//! `revalidate` through the binary: an account of about 40 domains over two zones (TXT and CNAME
//! methods) with a lagging secondary, some expiring, some not, an expired one, one on email DCV, an
//! inactive one and one in a zone that refuses updates; DigiCert's rate limit enforced by the
//! simulator; and `status --expiring-within`, read-only.

use crate::support::bind::{BindFixture, BindOptions};
use crate::support::world::{API_KEY, bare_cmd};
use assert_cmd::Command;
use dcv_sim::{DomainSpec, SimConfig, Simulator};
use std::collections::BTreeMap;
use std::time::Duration;

struct Account {
    bind: BindFixture,
    sim: Simulator,
    dir: tempfile::TempDir,
    /// name -> id, of the domains that must end validated.
    due: BTreeMap<String, u64>,
    /// Domains that must not be touched (not expiring, inactive).
    untouched: Vec<u64>,
    email: u64,
    locked: u64,
}

impl Account {
    fn new() -> Account {
        let bind = BindFixture::start(BindOptions {
            lag: Some(Duration::from_secs(1)),
        });
        let sim = Simulator::start(SimConfig::new(API_KEY, bind.primary_addr()));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tsig.secret"), bind.secret()).unwrap();
        let mut due = BTreeMap::new();
        let mut untouched = Vec::new();
        for i in 0..36 {
            let zone = if i % 2 == 0 {
                "example.test"
            } else {
                "other.test"
            };
            let name = format!("d{i:02}.{zone}");
            let method = if i % 3 == 0 {
                "dns-cname-token"
            } else {
                "dns-txt-token"
            };
            let mut spec = DomainSpec::new(&name).method(method);
            spec = match i % 4 {
                0 => spec.expires_in_days("ov", 5),
                1 => spec.expires_in_days("ov", 20).expires_in_days("ev", 25),
                2 => spec.expires_in_days("ov", 100),
                _ => spec.expires_in_days("ov", -3),
            };
            let id = sim.add_domain(spec);
            if i % 4 == 2 {
                untouched.push(id);
            } else {
                due.insert(name, id);
            }
        }
        let inactive = sim.add_domain(
            DomainSpec::new("gone.example.test")
                .expires_in_days("ov", 1)
                .is_active(false),
        );
        untouched.push(inactive);
        let email = sim.add_domain(
            DomainSpec::new("mail.example.test")
                .method("email")
                .expires_in_days("ov", 2),
        );
        let locked = sim.add_domain(DomainSpec::new("x.locked.test").expires_in_days("ov", 2));
        Account {
            bind,
            sim,
            dir,
            due,
            untouched,
            email,
            locked,
        }
    }

    fn cmd(&self) -> Command {
        let mut cmd = bare_cmd();
        cmd.env("DIGICERT_API_KEY", API_KEY)
            .args(["--api-url", &self.sim.url()])
            .args(["--resolver", &self.bind.primary_addr().to_string()])
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .args(["--poll-interval", "0.2", "--propagation-timeout", "20"])
            .args(["--provider", "rfc2136"])
            .args(["--rfc2136-server", &self.bind.primary().to_string()])
            .args(["--tsig-key", self.bind.key_name()])
            .arg("--tsig-secret-file")
            .arg(self.dir.path().join("tsig.secret"));
        cmd
    }

    /// Requests that change state at DigiCert, per domain id.
    fn changes_for(&self, id: u64) -> usize {
        self.sim
            .requests()
            .iter()
            .filter(|r| r.method != "GET" && r.path.starts_with(&format!("/domain/{id}/")))
            .count()
    }
}

#[test]
fn revalidate_validates_every_due_domain_together_and_reports_the_rest() {
    let a = Account::new();

    // Dry run first: the list, and not one request that changes anything.
    let out = a
        .cmd()
        .args(["revalidate", "--dry-run", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = doc["domains"].as_array().unwrap();
    assert_eq!(listed.len(), a.due.len() + 2, "{doc:#}");
    assert!(a.sim.requests().iter().all(|r| r.method == "GET"));

    // status --expiring-within: the same selection, read-only.
    let out = a
        .cmd()
        .args(["status", "--expiring-within", "30", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["domains"].as_array().unwrap().len(), a.due.len() + 2);
    assert!(a.sim.requests().iter().all(|r| r.method == "GET"));

    let out = a
        .cmd()
        .args(["revalidate", "--output", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The email domain and the one in the refusing zone still need validation: 75, each named.
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert!(stderr.contains("mail.example.test"), "{stderr}");
    assert!(stderr.contains("x.locked.test"), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = doc["domains"].as_array().unwrap();
    for (name, id) in &a.due {
        let row = rows.iter().find(|r| r["domain"] == name.as_str()).unwrap();
        assert_eq!(row["outcome"], "validated", "{row}");
        assert!(row["expires_after"].is_string(), "{row}");
        let (ov, _) = a.sim.domain_expiration(*id);
        assert!(
            ov.as_deref().is_some_and(|d| d > "2027"),
            "{name}: ov expiry not pushed: {ov:?}"
        );
        assert!(a.changes_for(*id) <= 3, "{name}: too many requests");
    }
    let email = rows
        .iter()
        .find(|r| r["domain"] == "mail.example.test")
        .unwrap();
    assert_eq!(email["outcome"], "skipped", "{email}");
    assert_eq!(a.changes_for(a.email), 0, "email DCV must not be switched");
    let locked = rows
        .iter()
        .find(|r| r["domain"] == "x.locked.test")
        .unwrap();
    assert_eq!(locked["outcome"], "failed", "{locked}");
    for id in &a.untouched {
        assert_eq!(a.changes_for(*id), 0, "domain {id} was not due");
    }
    let _ = a.locked;
    // No check came before every server served the token; DigiCert's limit was never hit.
    assert!(
        a.sim.premature_checks().is_empty(),
        "{:?}",
        a.sim.premature_checks()
    );
    assert!(a.sim.max_requests_in_window(Duration::from_secs(5)) <= 100);
    assert_eq!(a.sim.rate_limited_count(), 0);
    // Everything published was cleaned up.
    for name in a.due.keys() {
        assert!(
            a.bind.txt_values(a.bind.primary(), name).is_empty(),
            "{name} still has a TXT"
        );
    }
    assert!(
        std::fs::read_dir(a.dir.path().join("state/records"))
            .map(|d| d.count() == 0)
            .unwrap_or(true)
    );

    // Run again: nothing is due any more but the two that could not be done.
    let out = a.cmd().args(["revalidate", "--dry-run"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 of "), "{text}");
}

#[test]
fn a_run_over_many_domains_keeps_digicerts_rate_limit_by_itself() {
    let bind = BindFixture::start(BindOptions {
        lag: Some(Duration::ZERO),
    });
    let sim = Simulator::start(SimConfig::new(API_KEY, bind.primary_addr()));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tsig.secret"), bind.secret()).unwrap();
    // 60 due domains whose submission answers 204: 3 requests each, 180 in all plus the listings.
    for i in 0..60 {
        sim.add_domain(
            DomainSpec::new(&format!("r{i:02}.example.test"))
                .expires_in_days("ov", 1)
                .answer_validation_with_204(),
        );
    }
    let out = bare_cmd()
        .env("DIGICERT_API_KEY", API_KEY)
        .args(["revalidate", "--api-url", &sim.url()])
        .args(["--resolver", &bind.primary_addr().to_string()])
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["--poll-interval", "0.2", "--provider", "rfc2136"])
        .args(["--rfc2136-server", &bind.primary().to_string()])
        .args(["--tsig-key", bind.key_name()])
        .arg("--tsig-secret-file")
        .arg(dir.path().join("tsig.secret"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = sim.requests().len();
    assert!(sent > 180, "{sent} requests: the limit was not exercised");
    assert!(sim.max_requests_in_window(Duration::from_secs(5)) <= 100);
    assert_eq!(
        sim.rate_limited_count(),
        0,
        "dcv-hook must not need DigiCert's 429s"
    );
}
