//! Several CertCentral accounts through the binary: two simulators, each with its own key, named
//! as two `[[account]]`s of one config file. `status --expiring-within` and `revalidate --dry-run`
//! run over both in one process, each account's rows labelled, its requests carrying its own key
//! only; one account refusing its key (77) or DigiCert unavailable (69) does not stop the other,
//! and the exit code is the worst; `--account NAME` picks one; the metrics file is labelled.

use crate::support::world::bare_cmd;
use assert_cmd::Command;
use dcv_sim::{DomainSpec, Fault, SimConfig, Simulator};
use std::path::{Path, PathBuf};
use std::time::Duration;

const MAIN_KEY: &str = "main-key-0a1b2c";
const EU_KEY: &str = "eu-key-9f8e7d";

struct TwoAccounts {
    main: Simulator,
    eu: Simulator,
    dir: tempfile::TempDir,
}

impl TwoAccounts {
    /// Simulator `main` (key in env DCV_TEST_KEY_MAIN) and `eu` (key in a 0600 file, holding
    /// `eu_key`, which the simulator may refuse), each with one domain due and one not.
    fn new(eu_key: &str) -> TwoAccounts {
        // The simulators resolve nothing in these tests (no check is asked for).
        let nowhere = "127.0.0.1:9".parse().unwrap();
        let main = Simulator::start(SimConfig::new(MAIN_KEY, nowhere));
        let eu = Simulator::start(SimConfig::new(EU_KEY, nowhere));
        for (sim, zone) in [(&main, "main.test"), (&eu, "eu.test")] {
            sim.add_domain(DomainSpec::new(&format!("due.{zone}")).expires_in_days("ov", 5));
            sim.add_domain(DomainSpec::new(&format!("later.{zone}")).expires_in_days("ov", 200));
        }
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("eu.key");
        std::fs::write(&key, eu_key).unwrap();
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let config = format!(
            "provider = \"exec\"\nexec = \"/bin/true\"\n\n[[account]]\nname = \"main\"\napi-key-env = \"DCV_TEST_KEY_MAIN\"\napi-url = \"{}\"\n\n[[account]]\nname = \"eu\"\napi-key-file = \"{}\"\nregion = \"eu\"\napi-url = \"{}\"\n",
            main.url(),
            key.display(),
            eu.url()
        );
        std::fs::write(dir.path().join("dcv.toml"), config).unwrap();
        TwoAccounts { main, eu, dir }
    }

    fn cmd(&self) -> Command {
        let mut cmd = bare_cmd();
        cmd.env("DCV_TEST_KEY_MAIN", MAIN_KEY)
            .arg("--config")
            .arg(self.dir.path().join("dcv.toml"))
            .arg("--state-dir")
            .arg(self.dir.path().join("state"));
        cmd
    }

    fn metrics(&self) -> PathBuf {
        self.dir.path().join("dcv.prom")
    }

    /// Every request either simulator saw carried that simulator's key (or, for `eu` when it
    /// refuses, the file's key): never the other account's.
    fn no_key_crossed(&self) {
        assert!(
            self.main.requests().iter().all(|r| r.key_ok),
            "main saw another key"
        );
        assert!(!self.main.requests().is_empty());
    }
}

/// `cmd ARGS --output json`: exit code, the document, stderr.
fn json(mut cmd: Command, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = cmd
        .args(args)
        .args(["--output", "json"])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code(), doc, stderr)
}

/// The (account, domain) pairs of a report's domains.
fn rows(doc: &serde_json::Value) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = doc["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["account"].as_str().unwrap_or("-").to_string(),
                d["domain"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn pair(account: &str, domain: &str) -> (String, String) {
    (account.to_string(), domain.to_string())
}

#[test]
fn status_and_a_dry_run_cover_every_account_each_with_its_own_key() {
    let t = TwoAccounts::new(EU_KEY);
    let (code, doc, stderr) = json(t.cmd(), &["status", "--expiring-within", "30"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        rows(&doc),
        [pair("eu", "due.eu.test"), pair("main", "due.main.test")]
    );
    let accounts: Vec<&str> = doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, ["main", "eu"]);
    t.no_key_crossed();
    assert!(
        t.eu.requests().iter().all(|r| r.key_ok),
        "eu saw another key"
    );

    let out = t.cmd().args(["revalidate", "--dry-run"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let main_at = text.find("account main (").expect("main's section");
    let eu_at = text.find("account eu (").expect("eu's section");
    assert!(main_at < text.find("due.main.test").unwrap(), "{text}");
    assert!(eu_at < text.find("due.eu.test").unwrap(), "{text}");
    assert!(t.main.requests().iter().all(|r| r.method == "GET"));
    t.no_key_crossed();
    assert!(
        t.eu.requests().iter().all(|r| r.key_ok),
        "eu saw another key"
    );
}

/// A real run (the exec provider publishes nowhere, so DigiCert's check fails: 75) over both
/// accounts, its metrics file labelled by account; `revalidate` with `eu`'s key refused.
fn revalidate_with_metrics(t: &TwoAccounts) -> (Option<i32>, String) {
    let out = t
        .cmd()
        .args(["revalidate", "--no-propagation-check", "--metrics-file"])
        .arg(t.metrics())
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let metrics = std::fs::read_to_string(t.metrics()).unwrap_or_default();
    (out.status.code(), metrics)
}

#[test]
fn one_metrics_file_labels_every_accounts_lines() {
    let t = TwoAccounts::new(EU_KEY);
    let (code, metrics) = revalidate_with_metrics(&t);
    assert_eq!(code, Some(75), "{metrics}");
    for want in [
        "dcv_hook_domain_last_outcome{account=\"main\",domain=\"due.main.test\"",
        "dcv_hook_domain_last_outcome{account=\"eu\",domain=\"due.eu.test\"",
        "dcv_hook_domain_dcv_expiry_timestamp_seconds{account=\"eu\",domain=\"later.eu.test\"",
        "dcv_hook_revalidate_success{account=\"eu\"} 0\n",
    ] {
        assert!(metrics.contains(want), "{want}:\n{metrics}");
    }
    let unlabelled = metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.contains("account=\""))
        .count();
    assert_eq!(unlabelled, 0, "{metrics}");
    t.no_key_crossed();
    assert!(
        t.eu.requests().iter().all(|r| r.key_ok),
        "eu saw another key"
    );
}

#[test]
fn an_account_whose_key_is_refused_fails_alone_and_its_code_wins() {
    let t = TwoAccounts::new("not-the-eu-key");
    let (code, doc, stderr) = json(t.cmd(), &["status", "--expiring-within", "30"]);
    assert_eq!(code, Some(77), "{stderr}");
    assert_eq!(rows(&doc), [pair("main", "due.main.test")]);
    assert_eq!(doc["accounts"][1]["exit_code"], 77, "{doc:#}");
    assert!(stderr.contains("account eu"), "{stderr}");
    assert!(!stderr.contains("not-the-eu-key"), "{stderr}");

    let out = t.cmd().args(["revalidate", "--dry-run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(77));
    assert!(String::from_utf8_lossy(&out.stdout).contains("due.main.test"));
    // The worst of main's 75 (nothing published, so not validated) and eu's 77.
    let (code, metrics) = revalidate_with_metrics(&t);
    assert_eq!(code, Some(77), "{metrics}");
    assert!(
        metrics.contains("dcv_hook_revalidate_success{account=\"main\"} 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("dcv_hook_domain_last_outcome{account=\"main\",domain=\"due.main.test\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("dcv_hook_revalidate_success{account=\"eu\"} 0\n"),
        "{metrics}"
    );
    t.no_key_crossed();
}

#[test]
fn digicert_unavailable_for_one_account_ends_69_with_the_other_reported() {
    let t = TwoAccounts::new(EU_KEY);
    t.main.fail_matching(
        "/domain",
        Fault::Unavailable {
            retry_after_secs: 1,
        },
    );
    let (code, doc, stderr) = json(t.cmd(), &["status", "--expiring-within", "30"]);
    assert_eq!(code, Some(69), "{stderr}");
    assert_eq!(rows(&doc), [pair("eu", "due.eu.test")]);
    assert!(stderr.contains("account main"), "{stderr}");
}

#[test]
fn account_picks_one_and_a_one_order_command_asks_for_it() {
    let t = TwoAccounts::new(EU_KEY);
    let (code, doc, stderr) = json(
        t.cmd(),
        &["status", "--expiring-within", "30", "--account", "eu"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(rows(&doc), [pair("eu", "due.eu.test")]);
    assert_eq!(doc["accounts"].as_array().unwrap().len(), 1, "{doc:#}");
    assert!(t.main.requests().is_empty(), "main was asked");
    assert!(t.eu.requests().iter().all(|r| r.key_ok));

    let (code, doc, stderr) = json(t.cmd(), &["verify", "--order-id", "1"]);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("--account NAME"), "{stderr}");
    assert_eq!(doc["exit_code"], 64);
    assert!(t.main.requests().is_empty() && t.eu.requests().len() == 1);
}

/// The config file's key names only appear as names: the keys never reach the output.
#[test]
fn no_key_reaches_the_output_of_a_run_over_accounts() {
    let t = TwoAccounts::new(EU_KEY);
    let out = t
        .cmd()
        .args(["status", "--expiring-within", "30", "-v"])
        .output()
        .unwrap();
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(!text.contains(MAIN_KEY) && !text.contains(EU_KEY), "{text}");
    }
    assert!(Path::new(&t.dir.path().join("dcv.toml")).exists());
}

#[test]
fn the_doctor_checks_names_once_then_looks_in_every_account() {
    let t = TwoAccounts::new(EU_KEY);
    let args = [
        "doctor",
        "-d",
        "www.due.eu.test",
        "--resolver",
        "127.0.0.1:9",
    ];
    let (code, doc, stderr) = json(t.cmd(), &args);
    let findings = doc["findings"].as_array().unwrap();
    let about = |account: &str| -> Vec<&str> {
        findings
            .iter()
            .filter(|f| f["account"] == account)
            .map(|f| f["code"].as_str().unwrap())
            .collect()
    };
    assert_eq!(about("eu"), ["digicert.account.domain"], "{doc:#}");
    assert_eq!(about("main"), ["digicert.account.absent"], "{doc:#}");
    // The names' checks ran once, unlabelled; their verdict (nothing answers at the resolver) stands.
    let unlabelled: Vec<&str> = findings
        .iter()
        .filter(|f| f.get("account").is_none())
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        unlabelled,
        [
            "doctor.unchecked",
            "doctor.unchecked",
            "credentials.unchecked"
        ],
        "{doc:#}"
    );
    assert_ne!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("account "), "{stderr}");
    t.no_key_crossed();
    assert!(t.eu.requests().iter().all(|r| r.key_ok));

    // One account refusing its key fails the run with 77, the other still looked at.
    let t = TwoAccounts::new("not-the-eu-key");
    let (code, doc, stderr) = json(t.cmd(), &args);
    assert_eq!(code, Some(77), "{stderr}");
    assert!(stderr.contains("account eu"), "{stderr}");
    assert_eq!(doc["accounts"][0]["ok"], true, "{doc:#}");
}
