//! `revalidate` through the binary: an account of about 40 domains over two zones (TXT and CNAME
//! methods) with a lagging secondary, some expiring, some not, an expired one, one on email DCV, an
//! inactive one and one in a zone that refuses updates; DigiCert's rate limit enforced by the
//! simulator; and `status --expiring-within`, read-only. A fleet with a zone whose secondary never
//! catches up: the healthy domains are checked without waiting for it, and SIGTERM mid-run.

use crate::support::bind::{BindFixture, BindOptions, STALE_ZONE};
use crate::support::world::{API_KEY, bare_cmd};
use assert_cmd::Command;
use dcv_sim::{DomainSpec, Fault, SimConfig, Simulator};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The options that set `dcv-hook` up for revalidate against `bind` and `sim`, its state and TSIG
/// secret in `dir` (the secret is written there).
fn revalidate_args(bind: &BindFixture, sim: &Simulator, dir: &Path) -> Vec<std::ffi::OsString> {
    std::fs::write(dir.join("tsig.secret"), bind.secret()).unwrap();
    let mut args: Vec<std::ffi::OsString> = [
        "--api-url",
        &sim.url(),
        "--resolver",
        &bind.primary_addr().to_string(),
        "--poll-interval",
        "0.2",
        "--propagation-timeout",
        "20",
        "--provider",
        "rfc2136",
        "--rfc2136-server",
        &bind.primary().to_string(),
        "--tsig-key",
        bind.key_name(),
    ]
    .iter()
    .map(Into::into)
    .collect();
    args.push("--state-dir".into());
    args.push(dir.join("state").into());
    args.push("--tsig-secret-file".into());
    args.push(dir.join("tsig.secret").into());
    args
}

/// `dcv-hook` set up for revalidate (see [`revalidate_args`]).
fn revalidate_cmd(bind: &BindFixture, sim: &Simulator, dir: &Path) -> Command {
    let mut cmd = bare_cmd();
    cmd.env("DIGICERT_API_KEY", API_KEY)
        .args(revalidate_args(bind, sim, dir));
    cmd
}

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
        revalidate_cmd(&self.bind, &self.sim, self.dir.path())
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
    let rows = rows_that_add_up(&doc, a.due.len() + 2);
    // The table ends with the tally, which adds up too.
    let tally = format!(
        "{} domain(s) validated, 1 failed, 1 skipped (of {} domain(s) selected)",
        a.due.len(),
        a.due.len() + 2
    );
    assert!(
        doc["messages"]
            .as_array()
            .is_some_and(|m| m.last().is_some_and(|l| *l == tally.as_str())),
        "{doc:#}"
    );
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
    // 60 due domains whose submission answers 204: 3 requests each, 180 in all plus the listings.
    for i in 0..60 {
        sim.add_domain(
            DomainSpec::new(&format!("r{i:02}.example.test"))
                .expires_in_days("ov", 1)
                .answer_validation_with_204(),
        );
    }
    let out = revalidate_cmd(&bind, &sim, dir.path())
        .arg("revalidate")
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

/// An account whose domains span two healthy zones (TXT and CNAME) and a few in `stale.test`,
/// whose secondary never receives the records; both DigiCert limits enforced.
struct Fleet {
    bind: BindFixture,
    sim: Simulator,
    dir: tempfile::TempDir,
    healthy: BTreeMap<String, u64>,
    stale: BTreeMap<String, u64>,
}

impl Fleet {
    fn new(healthy: usize, stale: usize) -> Fleet {
        Fleet::with_sim(healthy, stale, |c| c)
    }

    /// A fleet whose simulator is set up by `config` (slow checks, say).
    fn with_sim(
        healthy: usize,
        stale: usize,
        config: impl FnOnce(SimConfig) -> SimConfig,
    ) -> Fleet {
        let bind = BindFixture::start(BindOptions {
            lag: Some(Duration::from_millis(500)),
        });
        let sim = Simulator::start(config(SimConfig::new(API_KEY, bind.primary_addr())));
        let mut fleet = Fleet {
            bind,
            sim,
            dir: tempfile::tempdir().unwrap(),
            healthy: BTreeMap::new(),
            stale: BTreeMap::new(),
        };
        for i in 0..healthy {
            let (zone, method) = if i % 2 == 0 {
                ("example.test", "dns-txt-token")
            } else {
                ("other.test", "dns-cname-token")
            };
            let name = format!("f{i:03}.{zone}");
            let spec = DomainSpec::new(&name)
                .method(method)
                .expires_in_days("ov", 3);
            fleet.healthy.insert(name, fleet.sim.add_domain(spec));
        }
        for i in 0..stale {
            let name = format!("s{i:02}.{STALE_ZONE}");
            let spec = DomainSpec::new(&name).expires_in_days("ov", 3);
            fleet.stale.insert(name, fleet.sim.add_domain(spec));
        }
        fleet
    }

    fn cmd(&self) -> Command {
        revalidate_cmd(&self.bind, &self.sim, self.dir.path())
    }

    /// When DigiCert last checked domain `id` (`None`: never).
    fn checked_at(&self, id: u64) -> Option<Instant> {
        self.sim
            .checks()
            .iter()
            .filter(|c| c.id == id)
            .map(|c| c.at)
            .max()
    }

    /// Names that still have a TXT record, or our CNAME, on the primary.
    fn left_in_dns(&self) -> Vec<String> {
        self.healthy
            .keys()
            .chain(self.stale.keys())
            .filter(|name| {
                let dnsauth = format!("_dnsauth.{name}");
                !self.bind.txt_values(self.bind.primary(), name).is_empty()
                    || !self
                        .bind
                        .txt_values(self.bind.primary(), &dnsauth)
                        .is_empty()
                    || !self
                        .bind
                        .cname_targets(self.bind.primary(), &dnsauth)
                        .is_empty()
            })
            .cloned()
            .collect()
    }

    fn state_entries(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("state/records"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

#[test]
fn a_stale_zone_fails_only_its_own_domains_and_holds_up_no_check() {
    let f = Fleet::new(12, 3);
    let metrics = f.dir.path().join("dcv.prom");
    let timeout = Duration::from_secs(8);
    let started = Instant::now();
    let out = f
        .cmd()
        .args([
            "revalidate",
            "--output",
            "json",
            "--propagation-timeout",
            "8",
        ])
        .arg("--metrics-file")
        .arg(&metrics)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = doc["domains"].as_array().unwrap();
    let row = |name: &str| rows.iter().find(|r| r["domain"] == name).unwrap().clone();
    for (name, id) in &f.healthy {
        assert_eq!(row(name)["outcome"], "validated", "{}", row(name));
        // No barrier: checked while the stale zone was still being waited for.
        let at = f.checked_at(*id).expect("checked");
        assert!(
            at < started + timeout,
            "{name} was checked only after the timeout ({:?}): {stderr}",
            at - started
        );
    }
    let secondary = format!("ns2.example.test ({})", f.bind.secondary());
    for (name, id) in &f.stale {
        let r = row(name);
        assert_eq!(r["outcome"], "failed", "{r}");
        let reason = r["reason"].as_str().unwrap();
        assert!(reason.contains(&secondary), "{reason}");
        assert!(reason.contains("answered"), "{reason}");
        assert!(
            !reason.contains(&format!("({})", f.bind.primary())),
            "{reason}"
        );
        assert!(stderr.contains(name.as_str()), "{stderr}");
        assert_eq!(
            f.checked_at(*id),
            None,
            "{name}: checked before it was served"
        );
    }
    assert_eq!(doc["counts"]["validated"], f.healthy.len());
    assert_eq!(doc["counts"]["failed"], f.stale.len());
    assert!(
        f.sim.premature_checks().is_empty(),
        "{:?}",
        f.sim.premature_checks()
    );
    assert_eq!(f.sim.rate_limited_count(), 0);
    assert_eq!(f.left_in_dns(), Vec::<String>::new());
    assert_eq!(f.state_entries(), 0);
    let text = std::fs::read_to_string(&metrics).unwrap();
    let (healthy_name, healthy_id) = f.healthy.iter().next().unwrap();
    assert!(
        text.contains(&format!(
            "dcv_hook_domain_last_outcome{{domain=\"{healthy_name}\",domain_id=\"{healthy_id}\",outcome=\"validated\"}} 1"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "dcv_hook_revalidate_domains{{outcome=\"failed\"}} {}",
            f.stale.len()
        )),
        "{text}"
    );
    assert!(text.contains("dcv_hook_revalidate_success 0"), "{text}");
}

/// Sends SIGTERM to `child` and waits for it: its output, and how long it took after the signal.
fn sigterm(child: Child) -> (std::process::Output, Duration) {
    let signalled = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    (out, signalled.elapsed())
}

#[test]
fn sigterm_mid_revalidate_stops_at_once_cleans_up_and_says_what_was_done() {
    let f = Fleet::new(4, 2);
    // A plain process (signals need its pid), with nothing from the test's environment.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dcv-hook"));
    cmd.env_clear()
        .env("DIGICERT_API_KEY", API_KEY)
        .args(revalidate_args(&f.bind, &f.sim, f.dir.path()))
        .args(["revalidate", "--propagation-timeout", "120"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child: Child = cmd.spawn().unwrap();
    // Wait until the healthy domains are validated: the run is then waiting for the stale zone.
    let deadline = Instant::now() + Duration::from_secs(60);
    while f.healthy.values().any(|id| f.checked_at(*id).is_none()) {
        assert!(
            Instant::now() < deadline,
            "the healthy domains were never checked"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (out, took) = sigterm(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    // Not a speed goal: without stopping, the run would wait out its 120 s timeout.
    assert!(took < Duration::from_secs(60));
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(
        stderr.contains(&format!("{} domain(s) validated", f.healthy.len())),
        "{stderr}"
    );
    assert!(
        stderr.contains("every record this run published was removed"),
        "{stderr}"
    );
    assert_eq!(f.left_in_dns(), Vec::<String>::new());
    assert_eq!(f.state_entries(), 0);
}

#[test]
fn a_run_that_cannot_start_names_why_for_every_selected_domain() {
    let f = Fleet::new(2, 0);
    let metrics = f.dir.path().join("dcv.prom");
    let mut cmd = f.cmd();
    // The provider's secret is read when its publisher is built, after the domains were selected.
    std::fs::remove_file(f.dir.path().join("tsig.secret")).unwrap();
    let out = cmd
        .args(["revalidate", "--output", "json"])
        .arg("--metrics-file")
        .arg(&metrics)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    // Nothing was attempted: the error says why, once, not once per domain.
    assert_eq!(stderr.matches("tsig-secret-file").count(), 1, "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = doc["domains"].as_array().unwrap();
    assert_eq!(rows.len(), f.healthy.len(), "{doc:#}");
    for row in rows {
        assert_eq!(row["outcome"], "not submitted", "{row}");
        assert!(
            row["reason"]
                .as_str()
                .is_some_and(|r| r.contains("tsig-secret-file")),
            "{row}"
        );
    }
    assert_eq!(doc["counts"]["not submitted"], f.healthy.len(), "{doc:#}");
    assert_eq!(doc["counts"]["failed"], 0, "{doc:#}");
    assert!(f.sim.requests().iter().all(|r| r.method == "GET"));
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(!text.contains("outcome=\"\""), "{text}");
    assert!(text.contains("dcv_hook_revalidate_success 0"), "{text}");
}

/// The JSON report's rows, after checking that every selected domain has an outcome and that the
/// counts (per outcome) add up to the selection.
fn rows_that_add_up(doc: &serde_json::Value, selected: usize) -> Vec<serde_json::Value> {
    let rows = doc["domains"].as_array().expect("domains").clone();
    assert_eq!(rows.len(), selected, "{doc:#}");
    assert!(
        rows.iter()
            .all(|r| r["outcome"].as_str().is_some_and(|o| !o.is_empty())),
        "{doc:#}"
    );
    let counts = doc["counts"].as_object().expect("counts");
    assert_eq!(counts["selected"], selected, "{doc:#}");
    let sum: u64 = counts
        .iter()
        .filter(|(k, _)| *k != "selected")
        .map(|(_, n)| n.as_u64().unwrap())
        .sum();
    assert_eq!(sum as usize, selected, "the counts add up: {doc:#}");
    rows
}

/// `dcv_hook_revalidate_domains{outcome=...}` of a metrics file, by outcome.
fn metric_counts(text: &str) -> BTreeMap<String, usize> {
    text.lines()
        .filter_map(|l| l.strip_prefix("dcv_hook_revalidate_domains{outcome=\""))
        .filter_map(|l| {
            let (outcome, n) = l.split_once("\"} ")?;
            Some((outcome.to_string(), n.parse().ok()?))
        })
        .collect()
}

#[test]
fn sigterm_while_digicert_is_slow_to_check_waits_for_no_check_and_every_domain_has_an_outcome() {
    // Each check takes DigiCert 30 s; two at a time, the other four queued.
    let f = Fleet::with_sim(6, 0, |c| c.check_latency(Duration::from_secs(30)));
    let metrics = f.dir.path().join("dcv.prom");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dcv-hook"));
    cmd.env_clear()
        .env("DIGICERT_API_KEY", API_KEY)
        .args(revalidate_args(&f.bind, &f.sim, f.dir.path()))
        .args(["revalidate", "--output", "json", "--check-concurrency", "2"])
        .arg("--metrics-file")
        .arg(&metrics)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child: Child = cmd.spawn().unwrap();
    let checking = || {
        f.sim
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/dcv/validate-token"))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while checking() < 2 {
        assert!(Instant::now() < deadline, "no check ever started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (out, took) = sigterm(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    // Not a speed goal: waiting for the checks in flight would take their 30 s.
    assert!(took < Duration::from_secs(15), "{took:?}: {stderr}");
    assert_eq!(checking(), 2, "no check starts after the signal");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for row in rows_that_add_up(&doc, f.healthy.len()) {
        assert_eq!(row["outcome"], "not checked", "{row}");
        assert_eq!(row["reason"], "interrupted by SIGTERM", "{row}");
    }
    assert!(
        stderr.contains("0 domain(s) validated, 6 not checked (of 6 domain(s) selected)"),
        "{stderr}"
    );
    assert_eq!(f.left_in_dns(), Vec::<String>::new());
    assert_eq!(f.state_entries(), 0);
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(!text.contains("outcome=\"failed\"} 1"), "{text}");
    for (name, id) in &f.healthy {
        assert!(
            text.contains(&format!(
                "dcv_hook_domain_last_outcome{{domain=\"{name}\",domain_id=\"{id}\",outcome=\"not checked\"}} 1"
            )),
            "{text}"
        );
    }
    let counts = metric_counts(&text);
    assert_eq!(counts["not checked"], 6, "{text}");
    assert_eq!(counts.values().sum::<usize>(), 6, "{text}");
}

/// What a run through an outage of part of DigiCert's API did.
struct Outage {
    doc: serde_json::Value,
    metrics: String,
    /// The requests that failed (each retried), and the paths among them: one per domain tried.
    failed: usize,
    tried: Vec<String>,
}

/// `revalidate --output json ARGS` on `f` while every request whose path holds `failing` is turned
/// away (503 with Retry-After, so even a POST is tried 5 times), checked to end 69 with the breaker
/// named and its rows and counts adding up.
fn through_outage(f: &Fleet, failing: &str, args: &[&str]) -> Outage {
    f.sim.fail_matching(
        failing,
        Fault::Unavailable {
            retry_after_secs: 1,
        },
    );
    let metrics = f.dir.path().join("dcv.prom");
    let out = f
        .cmd()
        .args(["revalidate", "--output", "json"])
        .args(args)
        .arg("--metrics-file")
        .arg(&metrics)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{stderr}");
    assert!(
        stderr.contains("DigiCert failed 5 domains in a row"),
        "{stderr}"
    );
    let failed: Vec<String> = f
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.path.contains(failing) && r.status == 503)
        .map(|r| r.path)
        .collect();
    let mut tried = failed.clone();
    tried.sort();
    tried.dedup();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let selected = f.healthy.len() + f.stale.len();
    rows_that_add_up(&doc, selected);
    assert_eq!(doc["counts"]["failed"], tried.len(), "{doc:#}");
    assert_eq!(f.left_in_dns(), Vec::<String>::new());
    assert_eq!(f.state_entries(), 0);
    Outage {
        doc,
        metrics: std::fs::read_to_string(&metrics).unwrap(),
        failed: failed.len(),
        tried,
    }
}

#[test]
fn with_digicert_down_revalidate_stops_starting_domains_and_ends_69() {
    let domains = 150;
    let f = Fleet::new(domains, 0);
    // Every request about a domain is turned away (the listing still answers).
    let run = through_outage(&f, "/domain/", &[]);
    // Each domain is tried 5 times; without the breaker every one of the 150 would be: 750
    // requests.
    assert!(
        run.failed < domains * 5 / 3 && run.tried.len() < domains / 3,
        "{} requests for {} domains",
        run.failed,
        run.tried.len()
    );
    assert_eq!(
        run.doc["counts"]["not submitted"],
        domains - run.tried.len(),
        "{:#}",
        run.doc
    );
    let counts = metric_counts(&run.metrics);
    assert_eq!(counts["not submitted"], domains - run.tried.len());
    assert_eq!(counts.values().sum::<usize>(), domains);
    assert!(f.sim.checks().is_empty());
}

#[test]
fn with_digicerts_checks_failing_no_more_checks_start_and_the_records_go() {
    // Five checks at a time: the breaker trips once five failed, with up to four more started.
    let domains = 20;
    let f = Fleet::new(domains, 0);
    // Submissions work; every check is turned away.
    let run = through_outage(&f, "/dcv/validate-token", &["--check-concurrency", "5"]);
    assert!(run.tried.len() < domains, "{:?}", run.tried);
    assert_eq!(
        run.doc["counts"]["not checked"],
        domains - run.tried.len(),
        "{:#}",
        run.doc
    );
}
