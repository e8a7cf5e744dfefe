//! `dcv-hook persist` and the doctor's persistent-record findings against a real BIND primary and
//! its (sometimes lagging) secondary, through the rfc2136 provider: published and waited for on
//! every server, idempotent, an older value of ours replaced while other values stay, `--remove`
//! taking only ours, bad values refused before anything changes, and `cleanup` never touching it.

use crate::support::bind::{BindFixture, BindOptions};
use crate::support::world::bare_cmd;
use assert_cmd::Command;
use dcv_hook::record::RecordType;
use serde_json::Value;
use std::time::{Duration, Instant};

const ISSUER: &str = "letsencrypt.org";
const ACCOUNT: &str = "https://acme-staging-v02.api.letsencrypt.org/acme/acct/1001";
const OTHER_ACCOUNT: &str = "https://acme-staging-v02.api.letsencrypt.org/acme/acct/2002";
const NAME: &str = "_validation-persist.shop.example.test";

struct World {
    bind: BindFixture,
    dir: tempfile::TempDir,
}

impl World {
    fn new(lag: Option<Duration>) -> World {
        let bind = BindFixture::start(BindOptions { lag });
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("tsig.secret");
        std::fs::write(&secret, bind.secret()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        World { bind, dir }
    }

    /// The binary with the resolver and the state directory, no provider flags.
    fn bare(&self) -> Command {
        let mut cmd = bare_cmd();
        cmd.args(["--resolver", &self.bind.primary_addr().to_string()])
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .args(["--poll-interval", "0.1", "--output", "json"]);
        cmd
    }

    /// `persist` for `domain` with our issuer and account, the rfc2136 flags and `args`.
    fn persist(&self, domain: &str, args: &[&str]) -> (i32, Value, String) {
        let mut cmd = self.bare();
        cmd.args(["persist", "-d", domain, "--issuer", ISSUER])
            .args(["--account-uri", ACCOUNT, "--provider", "rfc2136"])
            .args(["--rfc2136-server", &self.bind.primary().to_string()])
            .args(["--tsig-key", self.bind.key_name(), "--tsig-secret-file"])
            .arg(self.dir.path().join("tsig.secret"))
            .args(args);
        run(cmd)
    }

    /// `persist --remove` for shop.example.test with only the state to go by.
    fn remove_without_provider_flags(&self) -> (i32, Value, String) {
        let mut remove = self.bare();
        remove
            .args(["persist", "-d", "shop.example.test", "--issuer", ISSUER])
            .args(["--account-uri", ACCOUNT, "--remove"]);
        run(remove)
    }

    fn primary_txt(&self, name: &str) -> Vec<String> {
        self.bind.txt_values(self.bind.primary(), name)
    }

    /// Adds a TXT value the way another tool would, and waits until the secondary serves it.
    fn add_foreign(&self, zone: &str, name: &str, value: &str) {
        let quoted = value.replace('"', "\\\"");
        self.bind.update(
            zone,
            &[&format!("update add {name}. 60 IN TXT \"{quoted}\"")],
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self
            .bind
            .has_record(self.bind.secondary(), RecordType::Txt, name, value)
            && zone != crate::support::bind::STALE_ZONE
        {
            assert!(
                Instant::now() < deadline,
                "{name} never reached the secondary"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn state_files(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("state/records"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

/// Runs `cmd`; its exit code, its JSON document and its stderr.
fn run(mut cmd: Command) -> (i32, Value, String) {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: Value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        doc,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value `persist` publishes for our account with `extra` parameters.
fn ours(extra: &str) -> String {
    format!("{ISSUER}; accounturi={ACCOUNT}{extra}")
}

/// The records of a report with `action`.
fn with_action<'a>(doc: &'a Value, action: &str) -> Vec<&'a Value> {
    doc["records"]
        .as_array()
        .map(|r| r.iter().filter(|r| r["action"] == action).collect())
        .unwrap_or_default()
}

/// Unix seconds of 2099-01-01 (what `--until 2099-01-01` writes).
const UNTIL_2099: &str = "4070908800";

#[test]
fn publishes_on_every_server_and_an_identical_second_run_changes_nothing() {
    let w = World::new(Some(Duration::from_secs(1)));
    let value = ours(&format!("; persistUntil={UNTIL_2099}"));
    // --dry-run shows the record and changes nothing.
    let (code, doc, stderr) =
        w.persist("shop.example.test", &["--until", "2099-01-01", "--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    let would = with_action(&doc, "would publish");
    assert_eq!(would.len(), 1, "{doc:#}");
    assert_eq!(would[0]["value"], value.as_str());
    assert_eq!(would[0]["provider"], "rfc2136");
    assert_eq!(w.bind.update_messages("example.test"), 0);
    assert_eq!(w.state_files(), 0);

    let (code, doc, stderr) = w.persist("shop.example.test", &["--until", "2099-01-01"]);
    assert_eq!(code, 0, "{stderr}");
    let published = with_action(&doc, "published");
    assert_eq!(published.len(), 1, "{doc:#}");
    assert_eq!(published[0]["name"], NAME);
    assert_eq!(published[0]["value"], value.as_str());
    // Waited for both servers, the secondary a second behind.
    let servers = published[0]["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2, "{doc:#}");
    let secondary = w.bind.secondary().to_string();
    assert!(
        servers
            .iter()
            .any(|s| s.as_str().unwrap().contains(&secondary)),
        "{doc:#}"
    );
    assert!(
        w.bind
            .has_record(w.bind.secondary(), RecordType::Txt, NAME, &value)
    );

    let serial = w.bind.primary_serial("example.test");
    let (code, doc, stderr) = w.persist("shop.example.test", &["--until", "2099-01-01"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(doc["changed"], false, "{doc:#}");
    assert_eq!(with_action(&doc, "already present").len(), 1, "{doc:#}");
    assert!(
        doc["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.as_str().unwrap().contains("already in place")),
        "{doc:#}"
    );
    assert_eq!(
        w.bind.primary_serial("example.test"),
        serial,
        "nothing changed"
    );
    assert_eq!(w.primary_txt(NAME), vec![value]);
    assert_eq!(w.state_files(), 1);
}

#[test]
fn a_secondary_that_never_serves_it_is_75_naming_it_and_the_record_stays() {
    let w = World::new(Some(Duration::ZERO));
    let name = "_validation-persist.x.stale.test";
    let (code, _, stderr) = w.persist("x.stale.test", &["--propagation-timeout", "1"]);
    assert_eq!(code, 75, "{stderr}");
    let error = stderr.lines().last().unwrap();
    assert!(error.contains(&w.bind.secondary().to_string()), "{error}");
    // Left in place and recorded: the next run waits again, and cleanup still leaves it.
    assert_eq!(w.primary_txt(name), vec![ours("")]);
    assert_eq!(w.state_files(), 1);
}

#[test]
fn a_changed_value_replaces_only_ours_and_remove_takes_only_ours() {
    let w = World::new(Some(Duration::ZERO));
    let foreign = [
        "ca.example.net; accounturi=https://ca.example.net/acct/7".to_string(),
        format!("{ISSUER}; accounturi={OTHER_ACCOUNT}"),
        "unrelated text".to_string(),
    ];
    for v in &foreign {
        w.add_foreign("example.test", NAME, v);
    }
    let (code, _, stderr) = w.persist("shop.example.test", &["--until", "2099-01-01"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, doc, stderr) = w.persist("shop.example.test", &["--wildcard"]);
    assert_eq!(code, 0, "{stderr}");
    let replaced = with_action(&doc, "removed (replaced)");
    assert_eq!(replaced.len(), 1, "{doc:#}");
    assert_eq!(
        replaced[0]["value"],
        ours(&format!("; persistUntil={UNTIL_2099}")).as_str()
    );
    let mut want: Vec<String> = foreign.to_vec();
    want.push(ours("; policy=wildcard"));
    want.sort();
    assert_eq!(w.primary_txt(NAME), want);
    assert_eq!(w.state_files(), 1, "the replaced value's entry is gone");

    // --remove needs no provider flags for what the state knows...
    let (code, doc, stderr) = w.remove_without_provider_flags();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(with_action(&doc, "removed").len(), 1, "{doc:#}");
    let mut want = foreign.to_vec();
    want.sort();
    assert_eq!(w.primary_txt(NAME), want);
    assert_eq!(w.state_files(), 0);

    // ...but a value of ours put there by another tool takes the provider's flags.
    let by_hand = ours("; persistUntil=4102444800");
    w.add_foreign("example.test", NAME, &by_hand);
    let (code, _, stderr) = w.remove_without_provider_flags();
    assert_eq!(code, 64, "{stderr}");
    assert!(w.primary_txt(NAME).contains(&by_hand));
    let (code, _, stderr) = w.persist("shop.example.test", &["--remove"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(w.primary_txt(NAME), want);
}

#[test]
fn a_secondary_still_holding_the_replaced_value_does_not_count_as_ours() {
    let w = World::new(Some(Duration::from_secs(2)));
    let (code, _, stderr) = w.persist("shop.example.test", &["--until", "2099-01-01"]);
    assert_eq!(code, 0, "{stderr}");
    let old = ours(&format!("; persistUntil={UNTIL_2099}"));
    let (code, _, stderr) = w.persist(
        "shop.example.test",
        &["--wildcard", "--no-propagation-check"],
    );
    assert_eq!(code, 0, "{stderr}");
    // The secondary, two seconds behind, still serves the replaced value; the primary's newer
    // copy of the zone is what counts, so --remove finds only the value the state knows and
    // needs no provider flags.
    assert!(
        w.bind
            .has_record(w.bind.secondary(), RecordType::Txt, NAME, &old)
    );
    let (code, doc, stderr) = w.remove_without_provider_flags();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(with_action(&doc, "removed").len(), 1, "{doc:#}");
    assert!(w.primary_txt(NAME).is_empty());
}

#[test]
fn a_zone_table_routes_the_record_to_its_provider() {
    let w = World::new(Some(Duration::ZERO));
    // The command line's provider would fail (false exits 1); example.test has its own.
    let config = w.dir.path().join("fleet.toml");
    std::fs::write(
        &config,
        format!(
            "provider = \"exec\"\nexec = \"/bin/false\"\n\n[[zone]]\nname = \"example.test\"\nprovider = \"rfc2136\"\nrfc2136-server = \"{}\"\ntsig-key = \"{}\"\ntsig-secret-file = \"{}\"\n",
            w.bind.primary(),
            w.bind.key_name(),
            w.dir.path().join("tsig.secret").display()
        ),
    )
    .unwrap();
    let mut cmd = w.bare();
    cmd.args(["persist", "-d", "shop.example.test", "--issuer", ISSUER])
        .args(["--account-uri", ACCOUNT, "--config"])
        .arg(&config);
    let (code, doc, stderr) = run(cmd);
    assert_eq!(code, 0, "{stderr}");
    let published = with_action(&doc, "published");
    assert_eq!(published.len(), 1, "{doc:#}");
    assert_eq!(published[0]["provider"], "rfc2136", "{doc:#}");
    assert_eq!(w.primary_txt(NAME), vec![ours("")]);
}

#[test]
fn a_cname_at_the_name_is_followed_by_persist_and_doctor() {
    let w = World::new(Some(Duration::ZERO));
    let target = "_validation-persist.shared.other.test";
    w.bind.update(
        "example.test",
        &["update add _validation-persist.alias.example.test. 60 IN CNAME _validation-persist.shared.other.test."],
    );
    w.bind.wait_in_sync();
    let (code, doc, stderr) = w.persist("alias.example.test", &[]);
    assert_eq!(code, 0, "{stderr}");
    let published = with_action(&doc, "published");
    assert_eq!(published.len(), 1, "{doc:#}");
    assert_eq!(published[0]["name"], target, "{doc:#}");
    assert_eq!(w.primary_txt(target), vec![ours("")]);
    let (code, findings) = doctor(&w, &["alias.example.test"]);
    assert_eq!(
        codes(&findings, "alias.example.test"),
        ["persist.ok"],
        "{findings:#?}"
    );
    assert_eq!(code, 0, "{findings:#?}");
}

#[test]
fn plain_cleanup_leaves_a_persist_record_alone() {
    let w = World::new(Some(Duration::ZERO));
    let (code, _, stderr) = w.persist("shop.example.test", &[]);
    assert_eq!(code, 0, "{stderr}");
    for narrowed in [&[][..], &["-d", "shop.example.test"][..]] {
        let mut cleanup = w.bare();
        cleanup.arg("cleanup").args(narrowed);
        let (code, doc, stderr) = run(cleanup);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(doc["changed"], false, "{doc:#}");
        assert_eq!(w.primary_txt(NAME), vec![ours("")]);
        assert_eq!(w.state_files(), 1);
    }
}

#[test]
fn bad_values_are_65_naming_them_and_nothing_is_published() {
    let w = World::new(Some(Duration::ZERO));
    let cases: &[(&str, &str, &str)] = &[
        ("--issuer", "letsencrypt.org; policy=wildcard", ACCOUNT),
        ("--issuer", "lets\"encrypt.org", ACCOUNT),
        ("--issuer", "letsencrypt", ACCOUNT),
        ("--account-uri", ISSUER, "http://acme.example/acct/1"),
        (
            "--account-uri",
            ISSUER,
            "https://acme.example/acct/1;policy=wildcard",
        ),
        ("--account-uri", ISSUER, "https://acme.example/acct/1 x=y"),
        ("--until", ISSUER, ACCOUNT),
    ];
    for (flag, issuer, account) in cases {
        let until = if *flag == "--until" {
            "2001-01-01"
        } else {
            "2099-01-01"
        };
        let mut cmd = w.bare();
        cmd.args([
            "persist",
            "-d",
            "shop.example.test",
            "--provider",
            "rfc2136",
        ])
        .args([
            "--issuer",
            issuer,
            "--account-uri",
            account,
            "--until",
            until,
        ])
        .args(["--rfc2136-server", &w.bind.primary().to_string()])
        .args(["--tsig-key", w.bind.key_name(), "--tsig-secret-file"])
        .arg(w.dir.path().join("tsig.secret"));
        let (code, doc, stderr) = run(cmd);
        assert_eq!(code, 65, "{flag}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(flag), "{stderr}");
        assert_eq!(doc["error"]["kind"], "data", "{doc:#}");
    }
    assert!(w.primary_txt(NAME).is_empty());
    assert_eq!(w.bind.update_messages("example.test"), 0);
    assert_eq!(w.state_files(), 0);
    // Both parts are needed: 64 naming them.
    let mut cmd = w.bare();
    cmd.args(["persist", "-d", "shop.example.test", "--issuer", ISSUER])
        .args(["--provider", "rfc2136"]);
    let (code, _, stderr) = run(cmd);
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("--account-uri"), "{stderr}");
}

/// `doctor -d NAME... --issuer --account-uri` as JSON: the exit code and the persist findings.
fn doctor(w: &World, names: &[&str]) -> (i32, Vec<Value>) {
    doctor_with(w, &["--issuer", ISSUER, "--account-uri", ACCOUNT], names)
}

/// `doctor ARGS -d NAME...` as JSON: the exit code and the persist findings.
fn doctor_with(w: &World, args: &[&str], names: &[&str]) -> (i32, Vec<Value>) {
    let mut cmd = w.bare();
    cmd.arg("doctor").args(args);
    for n in names {
        cmd.args(["-d", n]);
    }
    let (code, doc, stderr) = run(cmd);
    assert!(doc.is_object(), "{stderr}");
    let findings = doc["findings"].as_array().cloned().unwrap_or_default();
    let persist = findings
        .into_iter()
        .filter(|f| f["code"].as_str().unwrap().starts_with("persist."))
        .collect();
    (code, persist)
}

/// The codes of the findings about `name`.
fn codes(findings: &[Value], name: &str) -> Vec<String> {
    let mut codes: Vec<String> = findings
        .iter()
        .filter(|f| f["name"] == name)
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    codes.sort();
    codes
}

#[test]
fn doctor_judges_good_expired_conflicting_lagging_and_forbidden_records() {
    let w = World::new(Some(Duration::ZERO));
    let (code, _, stderr) = w.persist("good.example.test", &["--until", "2099-01-01"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, findings) = doctor(&w, &["good.example.test"]);
    assert_eq!(
        codes(&findings, "good.example.test"),
        ["persist.ok"],
        "{findings:#?}"
    );
    assert_eq!(code, 0, "{findings:#?}");

    let soon = dcv_hook::dates::now() + 5 * 86_400;
    w.add_foreign(
        "example.test",
        "_validation-persist.old.example.test",
        &ours("; persistUntil=1000000000"),
    );
    w.add_foreign(
        "example.test",
        "_validation-persist.soon.example.test",
        &ours(&format!("; persistUntil={soon}")),
    );
    w.add_foreign(
        "example.test",
        "_validation-persist.two.example.test",
        &ours(""),
    );
    w.add_foreign(
        "example.test",
        "_validation-persist.two.example.test",
        &format!("{ISSUER}; accounturi={OTHER_ACCOUNT}"),
    );
    w.add_foreign(
        "example.test",
        "_validation-persist.broken.example.test",
        &format!("{ISSUER}; policy=wildcard"),
    );
    w.bind.update(
        "example.test",
        &["update add capped.example.test. 60 IN CAA 0 issue \"letsencrypt.org; validationmethods=dns-01\""],
    );
    w.add_foreign(
        "example.test",
        "_validation-persist.capped.example.test",
        &ours(""),
    );
    w.add_foreign("stale.test", "_validation-persist.x.stale.test", &ours(""));
    let names = [
        "old.example.test",
        "soon.example.test",
        "two.example.test",
        "broken.example.test",
        "capped.example.test",
        "x.stale.test",
        "none.example.test",
    ];
    let (code, findings) = doctor(&w, &names);
    assert_eq!(code, 75, "{findings:#?}");
    assert_eq!(
        codes(&findings, "old.example.test"),
        ["persist.expired"],
        "{findings:#?}"
    );
    assert_eq!(
        codes(&findings, "soon.example.test"),
        ["persist.expires_soon"],
        "{findings:#?}"
    );
    assert_eq!(
        codes(&findings, "two.example.test"),
        ["persist.conflict", "persist.ok", "persist.ok"],
        "{findings:#?}"
    );
    assert_eq!(
        codes(&findings, "broken.example.test"),
        ["persist.missing", "persist.syntax"],
        "{findings:#?}"
    );
    assert_eq!(
        codes(&findings, "capped.example.test"),
        ["persist.caa_forbids"],
        "{findings:#?}"
    );
    let lagging = codes(&findings, "x.stale.test");
    assert_eq!(lagging, ["persist.not_everywhere"], "{findings:#?}");
    let secondary = w.bind.secondary().to_string();
    assert!(
        findings
            .iter()
            .any(|f| f["code"] == "persist.not_everywhere"
                && f["subject"].as_str().unwrap().contains(&secondary)),
        "{findings:#?}"
    );
    assert_eq!(
        codes(&findings, "none.example.test"),
        ["persist.missing"],
        "{findings:#?}"
    );
    // Asked about no issuer, the doctor judges the records it finds and is silent where none is.
    let (_, findings) = doctor_with(&w, &[], &["two.example.test", "none.example.test"]);
    assert_eq!(
        codes(&findings, "two.example.test"),
        ["persist.conflict", "persist.ok", "persist.ok"],
        "{findings:#?}"
    );
    assert!(
        codes(&findings, "none.example.test").is_empty(),
        "{findings:#?}"
    );
}
