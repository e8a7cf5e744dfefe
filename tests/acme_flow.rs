//! ACME host-tool mode through the binary: dns-01 against a real BIND primary and lagging secondary,
//! http-01 against real web servers, certbot's hook environment and batching. No API key anywhere.

use crate::support::bind::{BindFixture, BindOptions};
use crate::support::world::{HttpWorld, bare_cmd, tree};
use assert_cmd::Command;
use predicates::prelude::*;
use std::time::Duration;

/// A BIND pair whose secondary lags `lag` behind, and a state dir.
struct AcmeDns {
    bind: BindFixture,
    dir: tempfile::TempDir,
}

impl AcmeDns {
    fn new(lag: Duration) -> AcmeDns {
        let bind = BindFixture::start(BindOptions { lag: Some(lag) });
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("tsig.secret");
        std::fs::write(&secret, bind.secret()).unwrap();
        std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        AcmeDns { bind, dir }
    }

    /// dcv-hook with rfc2136 settings, the resolver and the state dir; no API key.
    fn cmd(&self) -> Command {
        let mut cmd = bare_cmd();
        cmd.args(["--resolver", &self.bind.primary_addr().to_string()])
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .args(["--poll-interval", "0.1", "--provider", "rfc2136"])
            .args(["--rfc2136-server", &self.bind.primary().to_string()])
            .args(["--tsig-key", self.bind.key_name()])
            .arg("--tsig-secret-file")
            .arg(self.dir.path().join("tsig.secret"));
        cmd
    }

    /// `cmd()` as certbot's manual hook for one name.
    fn certbot(
        &self,
        command: &str,
        domain: &str,
        value: &str,
        remaining: u32,
        all: &str,
    ) -> Command {
        let mut cmd = self.cmd();
        cmd.arg(command)
            .env("CERTBOT_DOMAIN", domain)
            .env("CERTBOT_VALIDATION", value)
            .env("CERTBOT_REMAINING_CHALLENGES", remaining.to_string())
            .env("CERTBOT_ALL_DOMAINS", all);
        cmd
    }

    fn txt(&self, secondary: bool, name: &str) -> Vec<String> {
        let server = if secondary {
            self.bind.secondary()
        } else {
            self.bind.primary()
        };
        self.bind.txt_values(server, name)
    }

    fn state_files(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("state/records"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn dns01_auth_waits_for_the_lagging_secondary_and_cleanup_removes_only_its_value() {
    let w = AcmeDns::new(Duration::from_millis(1500));
    let name = "_acme-challenge.www.example.test";
    let out = w
        .cmd()
        .args([
            "auth",
            "-d",
            "www.example.test",
            "--acme-value",
            "dns01-value-1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    // auth returns only once the secondary (1.5 s behind) serves it.
    assert_eq!(w.txt(true, name), vec!["dns01-value-1"]);
    assert_eq!(w.state_files(), 1);

    // verify has nothing to ask in ACME mode, and needs no API key.
    w.cmd()
        .args([
            "verify",
            "-d",
            "www.example.test",
            "--acme-value",
            "dns01-value-1",
        ])
        .assert()
        .success();

    w.cmd()
        .args([
            "cleanup",
            "-d",
            "www.example.test",
            "--acme-value",
            "dns01-value-1",
        ])
        .assert()
        .success();
    assert!(w.txt(false, name).is_empty());

    // A value someone else put at the same name survives cleanup.
    w.cmd()
        .args([
            "auth",
            "--no-propagation-check",
            "--acme-fqdn",
            &format!("{name}."),
        ])
        .args(["--acme-value", "foreign-value"])
        .assert()
        .success();
    std::fs::remove_dir_all(w.dir.path().join("state")).unwrap(); // forgotten: now it is foreign
    w.cmd()
        .args([
            "auth",
            "-d",
            "www.example.test",
            "--acme-value",
            "dns01-value-1",
        ])
        .assert()
        .success();
    w.cmd()
        .args([
            "cleanup",
            "-d",
            "www.example.test",
            "--acme-value",
            "dns01-value-1",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("removed"));
    assert_eq!(w.txt(false, name), vec!["foreign-value"]);
    assert_eq!(w.state_files(), 0);
}

#[test]
fn several_challenges_in_one_call_are_published_together_with_one_wait() {
    let w = AcmeDns::new(Duration::from_secs(1));
    let out = w
        .cmd()
        .args(["auth", "--output", "json"])
        .args(["-d", "a.example.test", "--acme-value", "va"])
        .args(["-d", "*.example.test", "--acme-value", "vwild"])
        .args(["-d", "b.other.test", "--acme-value", "vb"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["records"].as_array().unwrap().len(), 3, "{doc:#}");
    assert!(
        stderr_of(&out).contains("waiting for 3 record(s)"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(w.txt(true, "_acme-challenge.a.example.test"), vec!["va"]);
    assert_eq!(w.txt(true, "_acme-challenge.example.test"), vec!["vwild"]);
    assert_eq!(w.txt(true, "_acme-challenge.b.other.test"), vec!["vb"]);
    // One UPDATE per zone.
    assert_eq!(w.bind.update_messages("example.test"), 1);
    w.cmd()
        .args(["cleanup", "-d", "a.example.test", "--acme-value", "va"])
        .args(["-d", "*.example.test", "--acme-value", "vwild"])
        .args(["-d", "b.other.test", "--acme-value", "vb"])
        .assert()
        .success();
    assert!(w.txt(false, "_acme-challenge.example.test").is_empty());
    assert_eq!(w.state_files(), 0);
}

#[test]
fn certbot_batch_returns_early_until_the_last_call_which_waits_for_all() {
    let w = AcmeDns::new(Duration::from_millis(1500));
    let all = "example.test,*.example.test,api.other.test";
    // certbot's order: a wildcard and its base name share one TXT name with two values.
    let calls = [
        ("example.test", "v-base", 2),
        ("*.example.test", "v-wild", 1),
        ("api.other.test", "v-api", 0),
    ];
    for (domain, value, remaining) in calls {
        let out = w
            .certbot("auth", domain, value, remaining, all)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{domain}: {}", stderr_of(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        if remaining > 0 {
            assert!(stdout.contains("more challenge(s)"), "{stdout}");
            assert!(
                !stderr_of(&out).contains("waiting for"),
                "{}",
                stderr_of(&out)
            );
        } else {
            // Quiet on stderr when all is well (certbot shows any stderr as a warning); the
            // report on stdout says what was waited for.
            assert!(stdout.contains("all 3 record(s) served"), "{stdout}");
            assert!(stderr_of(&out).is_empty(), "{}", stderr_of(&out));
        }
    }
    // The last call returned only when the lagging secondary served every record of the run.
    assert_eq!(
        w.txt(true, "_acme-challenge.example.test"),
        vec!["v-base", "v-wild"]
    );
    assert_eq!(w.txt(true, "_acme-challenge.api.other.test"), vec!["v-api"]);

    // Each cleanup removes exactly its own challenge's value.
    let out = w
        .certbot("cleanup", "*.example.test", "v-wild", 2, all)
        .env("CERTBOT_AUTH_OUTPUT", "whatever auth printed")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(w.txt(false, "_acme-challenge.example.test"), vec!["v-base"]);
    for (domain, value, remaining) in [
        ("example.test", "v-base", 1),
        ("api.other.test", "v-api", 0),
    ] {
        w.certbot("cleanup", domain, value, remaining, all)
            .assert()
            .success();
    }
    assert!(w.txt(false, "_acme-challenge.example.test").is_empty());
    assert!(w.txt(false, "_acme-challenge.api.other.test").is_empty());
    assert_eq!(w.state_files(), 0);
}

#[test]
fn certbot_env_errors_are_usage_errors_and_auth_failures_are_loud() {
    let w = AcmeDns::new(Duration::ZERO);
    w.cmd()
        .arg("auth")
        .env("CERTBOT_VALIDATION", "v")
        .assert()
        .code(64)
        .stderr(predicate::str::contains("CERTBOT_DOMAIN"));
    w.cmd()
        .arg("cleanup")
        .env("CERTBOT_DOMAIN", "a.example.test")
        .assert()
        .code(64)
        .stderr(predicate::str::contains("CERTBOT_VALIDATION"));
    w.cmd()
        .args([
            "auth",
            "--order-id",
            "5",
            "-d",
            "a.example.test",
            "--acme-value",
            "v",
        ])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("--order-id"));
    // A wrong TSIG secret: 77, and loud on stderr even with -q (certbot would only warn).
    let bad = w.dir.path().join("bad.secret");
    std::fs::write(&bad, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
    let out = w
        .certbot("auth", "a.example.test", "v", 0, "a.example.test")
        .arg("-q")
        .arg("--tsig-secret-file")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("AUTH FAILED"),
        "{}",
        stderr_of(&out)
    );
    assert!(w.txt(false, "_acme-challenge.a.example.test").is_empty());
    assert_eq!(w.state_files(), 0);
    // http-01 needs a web root; dns-01 a DNS provider.
    w.cmd()
        .args([
            "auth",
            "-d",
            "a.example.test",
            "--acme-value",
            "v",
            "--acme-token",
            "t",
        ])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("webroot"));
}

#[test]
fn http01_waits_for_every_web_address_and_leaves_the_webroot_as_it_was() {
    let w = HttpWorld::new(
        &["www.example.test"],
        &[None, Some(Duration::from_millis(1200))],
    );
    let before = tree(w.webroot.path());
    let key_auth = "tok-123_abc.thumbprint-xyz";
    let out = w
        .webroot_cmd()
        .env_remove("DIGICERT_API_KEY")
        .args([
            "auth",
            "-d",
            "www.example.test",
            "--acme-token",
            "tok-123_abc",
        ])
        .args(["--acme-value", key_auth])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let file = w
        .webroot
        .path()
        .join(".well-known/acme-challenge/tok-123_abc");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), key_auth);
    // Both addresses were seen serving it, the lagging one included.
    let served: Vec<_> = w
        .web
        .iter()
        .map(|s| {
            s.requests()
                .iter()
                .any(|r| r.path.ends_with("tok-123_abc") && r.status == 200)
        })
        .collect();
    assert_eq!(served, vec![true, true]);
    w.cmd()
        .env_remove("DIGICERT_API_KEY")
        .args([
            "cleanup",
            "-d",
            "www.example.test",
            "--acme-token",
            "tok-123_abc",
        ])
        .args(["--acme-value", key_auth])
        .assert()
        .success();
    assert_eq!(tree(w.webroot.path()), before);
}

#[test]
fn http01_file_already_written_by_the_client_is_waited_for_and_left_to_it() {
    // dehydrated writes the file itself before calling its hook.
    let w = HttpWorld::new(&["www.example.test"], &[None]);
    let dir = w.webroot.path().join(".well-known/acme-challenge");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tok"), "tok.ka").unwrap();
    w.webroot_cmd()
        .env_remove("DIGICERT_API_KEY")
        .args([
            "auth",
            "-d",
            "www.example.test",
            "--acme-token",
            "tok",
            "--acme-value",
            "tok.ka",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("already present"));
    w.cmd()
        .args([
            "cleanup",
            "-d",
            "www.example.test",
            "--acme-token",
            "tok",
            "--acme-value",
            "tok.ka",
        ])
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(dir.join("tok")).unwrap(), "tok.ka");
    assert!(w.state_files().is_empty());
}
