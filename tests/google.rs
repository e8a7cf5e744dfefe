//! The google provider through the binary against the fake Cloud DNS and token endpoint
//! (tests/support/google.rs): foreign values kept through auth and a flagless cleanup, the public
//! zone chosen over a private one unless `--google-zone` names it, each refusal its exit code, a
//! change that raced another writer read and sent again, throttling retried honouring
//! `Retry-After`, gcloud's and the metadata server's credentials, no secret in state or output,
//! the doctor's read-only check; and an order validated end to end with the fake mirrored into
//! the BIND fixture, so the real propagation check and the CertCentral simulator see it.

use crate::support::google::{
    CLIENT_SECRET, FakeGoogle, PROJECT, REFRESH_TOKEN, SUBJECT_TOKEN, TOKEN_PREFIX, test_key,
};
use crate::support::parallel_runs_keep_every_value;
use crate::support::world::bare_cmd;
use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const NAME: &str = "_acme-challenge.example.test";
const ZONE: &str = "example-test";

/// A test's fake and directories: `home` (HOME: no gcloud files unless a test writes them),
/// `state`, and the service account key for the fake.
struct World {
    fake: FakeGoogle,
    dir: tempfile::TempDir,
    key: PathBuf,
}

impl World {
    fn new() -> World {
        let fake = FakeGoogle::start();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let key = fake.service_account_file(dir.path());
        World { fake, dir, key }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `dcv-hook` with no Google settings from this process's environment.
    fn bare(&self, state: &Path) -> Command {
        let mut cmd = bare_cmd();
        for var in [
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_CLOUD_PROJECT",
            "GCLOUD_PROJECT",
            "CLOUDSDK_CORE_PROJECT",
            "CLOUDSDK_CONFIG",
            "GCE_METADATA_HOST",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.home()).arg("--state-dir").arg(state);
        cmd
    }

    /// `dcv-hook COMMAND -d DOMAIN --acme-value VALUE --provider google` with the fake's
    /// endpoint and no credentials yet.
    fn google(&self, state: &Path, command: &str, domain: &str, value: &str) -> Command {
        let mut cmd = self.bare(state);
        cmd.args([command, "-d", domain, "--acme-value", value])
            .args(["--no-propagation-check", "--provider", "google"])
            .args(["--google-endpoint", &self.fake.endpoint()]);
        cmd
    }

    /// [`World::google`] at example.test with the service account key and `extra` flags.
    fn run(&self, state: &Path, command: &str, value: &str, extra: &[&str]) -> Output {
        let mut cmd = self.google(state, command, "example.test", value);
        cmd.env("GOOGLE_APPLICATION_CREDENTIALS", &self.key)
            .args(extra);
        cmd.output().unwrap()
    }

    /// A flagless `cleanup`: no provider flags, no credentials in the environment.
    fn cleanup(&self, state: &Path) -> Output {
        self.bare(state).arg("cleanup").output().unwrap()
    }

    fn values(&self) -> Vec<String> {
        self.fake.txt_values(ZONE, NAME)
    }
}

fn assert_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Every file under `dir`, read.
fn texts(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(texts(&path));
        } else {
            files.push((
                path.clone(),
                std::fs::read_to_string(&path).unwrap_or_default(),
            ));
        }
    }
    files
}

/// No secret of the test's credentials in `text`.
fn assert_no_secret(text: &str, what: &str) {
    let key_line = test_key().pem.lines().nth(1).unwrap();
    for secret in [key_line, TOKEN_PREFIX, REFRESH_TOKEN, CLIENT_SECRET] {
        assert!(!text.contains(secret), "{what} holds a secret: {text}");
    }
}

#[test]
fn auth_and_a_flagless_cleanup_keep_foreign_values_and_leave_no_secret() {
    let w = World::new();
    w.fake.add_foreign_txt(ZONE, NAME, "v=foreign");
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let out_one = w.run(one.path(), "auth", "token-one", &["--output", "json"]);
    assert_code(&out_one, 0);
    let out_two = w.run(two.path(), "auth", "token-two", &[]);
    assert_code(&out_two, 0);
    assert_eq!(w.values(), ["token-one", "token-two", "v=foreign"]);
    assert!(
        w.fake.txt_values("example-test-private", NAME).is_empty(),
        "the private zone of the same name is skipped"
    );
    // The state says where the credentials are, never what they are.
    for dir in [one.path(), two.path()] {
        for (path, text) in texts(dir) {
            assert_no_secret(&text, &path.display().to_string());
        }
    }
    let state = texts(&one.path().join("records"));
    assert!(
        state
            .iter()
            .any(|(_, t)| t.contains(&*w.key.to_string_lossy())),
        "the key's path is remembered: {state:?}"
    );

    let out = w.cleanup(one.path());
    assert_code(&out, 0);
    assert_eq!(w.values(), ["token-two", "v=foreign"]);
    let out_clean = w.cleanup(two.path());
    assert_code(&out_clean, 0);
    assert_eq!(w.values(), ["v=foreign"]);
    for out in [out_one, out_two, out, out_clean] {
        assert_no_secret(&format!("{out:?}"), "output");
    }
    // Every change went to the public zone, each read before it was written.
    let posts: Vec<String> = w
        .fake
        .seen()
        .into_iter()
        .filter(|s| s.method == "POST" && s.path.contains("/changes"))
        .map(|s| s.path)
        .collect();
    assert_eq!(posts.len(), 4, "{posts:?}");
    assert!(
        posts
            .iter()
            .all(|p| p.contains("/managedZones/example-test/"))
    );
}

#[test]
fn a_private_zone_is_used_only_when_named() {
    let w = World::new();
    let state = tempfile::tempdir().unwrap();
    let private = "example-test-private";
    let out = w.run(state.path(), "auth", "private", &["--google-zone", private]);
    assert_code(&out, 0);
    assert_eq!(w.fake.txt_values(private, NAME), ["private"]);
    assert!(w.values().is_empty());
    assert_code(&w.cleanup(state.path()), 0);
    assert!(w.fake.txt_values(private, NAME).is_empty());

    // A zone named that does not hold the name.
    let out = w.run(state.path(), "auth", "x", &["--google-zone", "other-test"]);
    assert_code(&out, 78);
    assert!(
        stderr(&out).contains("fix --google-zone"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn refusals_have_their_exit_codes_and_name_what_to_fix() {
    let w = World::new();
    let state = tempfile::tempdir().unwrap();
    let path = state.path();

    // No zone for the name: 78, naming every name tried.
    let out = w
        .google(path, "auth", "shop.nowhere.test", "tok")
        .env("GOOGLE_APPLICATION_CREDENTIALS", &w.key)
        .output()
        .unwrap();
    assert_code(&out, 78);
    assert!(
        stderr(&out)
            .contains("tried _acme-challenge.shop.nowhere.test, shop.nowhere.test, nowhere.test"),
        "{}",
        stderr(&out)
    );

    // No credentials anywhere: 78, naming what was tried; the metadata server is not asked.
    let asked = w.fake.seen().len();
    let out = w
        .google(path, "auth", "example.test", "tok")
        .output()
        .unwrap();
    assert_code(&out, 78);
    let err = stderr(&out);
    assert!(
        err.contains("GOOGLE_APPLICATION_CREDENTIALS")
            && err.contains("application_default_credentials.json")
            && err.contains("--google-metadata"),
        "{err}"
    );
    assert_eq!(w.fake.seen().len(), asked, "nothing asked");

    // A project the API does not have: 78 naming the flag.
    let out = w.run(
        path,
        "auth",
        "tok",
        &["--google-project", "no-such-project"],
    );
    assert_code(&out, 78);
    assert!(
        stderr(&out).contains("--google-project"),
        "{}",
        stderr(&out)
    );

    // Keys the token endpoint refuses (another account's email; a key it cannot verify, rotated
    // away): 77, no secret shown.
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&w.key).unwrap()).unwrap();
    let other = w.dir.path().join("other.json");
    let refused = [
        (
            "client_email",
            "someone-else@dcv-test-project.iam.gserviceaccount.com",
            "invalid_grant",
        ),
        (
            "private_key",
            &crate::support::google::unknown_key().pem,
            "Invalid JWT Signature",
        ),
    ];
    for (field, value, says) in refused {
        let mut json = original.clone();
        json[field] = value.into();
        std::fs::write(&other, json.to_string()).unwrap();
        let out = w.run(
            path,
            "auth",
            "tok",
            &["--google-credentials", other.to_str().unwrap()],
        );
        assert_code(&out, 77);
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert_no_secret(&format!("{out:?}"), "output");
    }

    // A file that is not a key: 78 naming it, its content not shown.
    std::fs::write(&other, "{\"type\": \"service_account\", \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nnot-base64!\\n\"").unwrap();
    let out = w.run(
        path,
        "auth",
        "tok",
        &["--google-credentials", other.to_str().unwrap()],
    );
    assert_code(&out, 78);
    assert!(stderr(&out).contains("other.json"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("not-base64"), "{}", stderr(&out));

    // Changes forbidden to the account: 77.
    w.fake.forbid_changes();
    let out = w.run(path, "auth", "tok", &[]);
    assert_code(&out, 77);
    assert!(stderr(&out).contains("roles/dns.admin"), "{}", stderr(&out));
    let w = World::new();

    // A value Cloud DNS refuses: 65 with its message, nothing left.
    w.fake.refuse_value("bad-value");
    let out = w.run(path, "auth", "bad-value", &[]);
    assert_code(&out, 65);
    assert!(
        stderr(&out).contains("entity.change.additions[0]"),
        "{}",
        stderr(&out)
    );
    assert!(w.values().is_empty());

    // Plain http to another host: 64 before anything is sent.
    let out = w.run(
        path,
        "auth",
        "tok",
        &["--google-endpoint", "http://192.0.2.1/dns/v1"],
    );
    assert_code(&out, 64);
}

/// Another writer adds a value between our read and our change: Cloud DNS refuses the change
/// (its deletion no longer matches), and it is read and sent again with both values kept.
#[test]
fn a_change_racing_another_writer_is_read_again_and_sent_again() {
    let w = World::new();
    w.fake.add_foreign_txt(ZONE, NAME, "v=foreign");
    let state = tempfile::tempdir().unwrap();
    w.fake.meddle_before_next_change(ZONE, NAME, "slipped-in");
    let out = w.run(state.path(), "auth", "ours", &[]);
    assert_code(&out, 0);
    assert!(stderr(&out).contains("conditionNotMet"), "{}", stderr(&out));
    assert_eq!(w.values(), ["ours", "slipped-in", "v=foreign"]);
    let statuses: Vec<u16> = w
        .fake
        .seen()
        .iter()
        .filter(|s| s.method == "POST" && s.path.contains("/changes"))
        .map(|s| s.status)
        .collect();
    assert_eq!(statuses, [412, 200]);

    w.fake
        .meddle_before_next_change(ZONE, NAME, "during-cleanup");
    assert_code(&w.cleanup(state.path()), 0);
    assert_eq!(w.values(), ["during-cleanup", "slipped-in", "v=foreign"]);
}

#[test]
fn parallel_auths_and_cleanups_at_one_name_lose_and_leave_nothing() {
    let w = World::new();
    w.fake.add_foreign_txt(ZONE, NAME, "v=foreign");
    let state = tempfile::tempdir().unwrap();
    let run = |command: &str, value: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dcv-hook"));
        cmd.env_remove("DCV_HOOK_CONFIG")
            .env("HOME", w.home())
            .env("GOOGLE_APPLICATION_CREDENTIALS", &w.key)
            .args([command, "-d", "example.test", "--acme-value", value])
            .arg("--state-dir")
            .arg(state.path())
            .args(["--no-propagation-check", "--provider", "google"])
            .args(["--google-endpoint", &w.fake.endpoint()]);
        cmd
    };
    parallel_runs_keep_every_value(run, || w.values(), "v=foreign", state.path());
}

#[test]
fn throttling_is_retried_honouring_retry_after_then_fails_69() {
    let w = World::new();
    let state = tempfile::tempdir().unwrap();
    w.fake.throttle(2, 1);
    let out = w.run(state.path(), "auth", "after-throttling", &[]);
    assert_code(&out, 0);
    assert_eq!(w.values(), ["after-throttling"]);
    let seen = w.fake.seen();
    let first_429 = seen.iter().position(|s| s.status == 429).unwrap();
    let gap = seen[first_429 + 1].at - seen[first_429].at;
    assert!(
        gap >= Duration::from_millis(900),
        "Retry-After: 1 honoured: {gap:?}"
    );

    // Cloud DNS's quota refusal (403 rateLimitExceeded) is throttling too, not a denial.
    w.fake.throttle_403(2);
    let out = w.run(state.path(), "auth", "after-quota", &[]);
    assert_code(&out, 0);
    assert_eq!(w.values(), ["after-quota", "after-throttling"]);

    w.fake.throttle(1000, 0);
    let out = w.run(state.path(), "auth", "never", &[]);
    assert_code(&out, 69);
    assert!(stderr(&out).contains("throttled"), "{}", stderr(&out));
}

#[test]
fn gcloud_application_default_credentials_and_the_metadata_server_when_chosen() {
    let w = World::new();
    let state = tempfile::tempdir().unwrap();
    // gcloud's file in HOME, the project from the environment.
    let gcloud = w.home().join(".config/gcloud");
    std::fs::create_dir_all(&gcloud).unwrap();
    w.fake.authorized_user_file(&gcloud);
    let out = w
        .google(state.path(), "auth", "example.test", "from-gcloud")
        .env("GOOGLE_CLOUD_PROJECT", PROJECT)
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert_eq!(w.values(), ["from-gcloud"]);
    assert_code(&w.cleanup(state.path()), 0);
    assert!(w.values().is_empty());
    std::fs::remove_dir_all(&gcloud).unwrap();

    // The metadata server, chosen by GCE_METADATA_HOST (here the fake): token and project.
    let out = w
        .google(state.path(), "auth", "example.test", "from-metadata")
        .env("GCE_METADATA_HOST", w.fake.metadata_host())
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert_eq!(w.values(), ["from-metadata"]);
    let seen = w.fake.seen();
    assert!(seen.iter().any(|s| s.path.ends_with("/project/project-id")));
    // The flagless cleanup asks the same metadata server (the env var is gone).
    let records = texts(&state.path().join("records"));
    let host = format!("\"google_metadata_host\": \"{}\"", w.fake.metadata_host());
    assert!(
        records.iter().any(|(_, t)| t.contains(&host)),
        "{records:?}"
    );
    assert_code(&w.cleanup(state.path()), 0);
    assert!(w.values().is_empty());
}

#[test]
fn doctor_reads_the_zone_and_changes_nothing() {
    use crate::support::bind::{BindFixture, BindOptions};
    let bind = BindFixture::start(BindOptions {
        lag: Some(Duration::ZERO),
    });
    let w = World::new();
    let doctor = |w: &World| {
        let state = tempfile::tempdir().unwrap();
        let out = w
            .bare(state.path())
            .env("GOOGLE_APPLICATION_CREDENTIALS", &w.key)
            .args(["doctor", "--output", "json", "-d", "clean.example.test"])
            .args(["--resolver", &bind.primary_addr().to_string()])
            .args([
                "--provider",
                "google",
                "--google-endpoint",
                &w.fake.endpoint(),
            ])
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["findings"].as_array().cloned().unwrap_or_default()
    };
    let codes = |findings: &[serde_json::Value]| -> Vec<String> {
        findings
            .iter()
            .filter_map(|f| f["code"].as_str())
            .filter(|c| c.starts_with("credentials"))
            .map(str::to_string)
            .collect()
    };
    let findings = doctor(&w);
    assert_eq!(codes(&findings), ["credentials.ok"], "{findings:#?}");
    assert!(
        w.fake
            .seen()
            .iter()
            .all(|s| s.method == "GET" || s.path == "/token"),
        "the doctor changed something: {:?}",
        w.fake.seen()
    );
    // The key refused.
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&w.key).unwrap()).unwrap();
    json["client_email"] = "nobody@dcv-test-project.iam.gserviceaccount.com".into();
    std::fs::write(&w.key, json.to_string()).unwrap();
    let findings = doctor(&w);
    assert_eq!(codes(&findings), ["credentials.rejected"], "{findings:#?}");
}

#[test]
fn an_order_validates_end_to_end_with_the_fake_mirrored_into_bind() {
    use crate::support::bind::{BindFixture, BindOptions};
    use crate::support::world::API_KEY;
    use dcv_sim::{OrderSpec, SimConfig, Simulator};
    let w = World::new();
    let bind = std::sync::Arc::new(BindFixture::start(BindOptions {
        lag: Some(Duration::ZERO),
    }));
    w.fake.mirror_into(&bind);
    let sim = Simulator::start(SimConfig::new(API_KEY, bind.primary_addr()));
    w.fake
        .add_foreign_txt(ZONE, "www.example.test", "someone-else");
    let order = sim.add_order(OrderSpec::new(["www.example.test", "api.other.test"]));
    let state = tempfile::tempdir().unwrap();
    let out = w
        .bare(state.path())
        .env("GOOGLE_APPLICATION_CREDENTIALS", &w.key)
        .env("DIGICERT_API_KEY", API_KEY)
        .args(["run", "--order-id", &order.to_string()])
        .args(["--api-url", &sim.url()])
        .args(["--resolver", &bind.primary_addr().to_string()])
        .args(["--poll-interval", "0.1", "--provider", "google"])
        .args(["--google-endpoint", &w.fake.endpoint()])
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert_eq!(sim.order_status(order).as_deref(), Some("issued"));
    assert!(sim.premature_checks().is_empty());
    assert_eq!(
        w.fake.txt_values(ZONE, "www.example.test"),
        ["someone-else"]
    );
    assert!(w.fake.txt_values("other-test", "api.other.test").is_empty());
    assert_eq!(
        bind.txt_values(bind.primary(), "www.example.test"),
        ["someone-else"]
    );
}

/// A `[[zone]]` table routes its zone to google with its own keys (credentials file, project,
/// endpoint), beside another default provider, with nothing in the environment.
#[test]
fn a_zone_table_publishes_through_google_with_its_own_keys() {
    let w = World::new();
    let state = tempfile::tempdir().unwrap();
    let config = w.dir.path().join("dcv-hook.toml");
    let text = format!(
        "provider = \"exec\"\nexec = \"/bin/false\"\n[[zone]]\nname = \"example.test\"\nprovider = \"google\"\ngoogle-project = \"{PROJECT}\"\ngoogle-credentials = \"{}\"\ngoogle-endpoint = \"{}\"\n",
        w.key.display(),
        w.fake.endpoint()
    );
    std::fs::write(&config, text).unwrap();
    let out = w
        .bare(state.path())
        .arg("--config")
        .arg(&config)
        .args(["auth", "-d", "www.example.test", "--acme-value", "zoned"])
        .arg("--no-propagation-check")
        .output()
        .unwrap();
    assert_code(&out, 0);
    let name = "_acme-challenge.www.example.test";
    assert_eq!(w.fake.txt_values(ZONE, name), ["zoned"]);
    assert_code(&w.cleanup(state.path()), 0);
    assert!(w.fake.txt_values(ZONE, name).is_empty());
}

/// Workload identity federation: the subject token from a JSON file exchanged at STS and then for
/// the service account's token; and from a URL, as text, used directly.
#[test]
fn workload_identity_federation_files_exchange_their_subject_token() {
    let w = World::new();
    for from_url in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let file = w.fake.external_account_file(dir.path(), from_url);
        let state = tempfile::tempdir().unwrap();
        let value = format!("federated-{from_url}");
        let out = w
            .google(state.path(), "auth", "example.test", &value)
            .env("GOOGLE_APPLICATION_CREDENTIALS", &file)
            .args(["--google-project", PROJECT])
            .output()
            .unwrap();
        assert_code(&out, 0);
        assert_eq!(w.values(), [value.as_str()]);
        assert_no_secret(&format!("{out:?}"), "output");
        for (path, text) in texts(state.path()) {
            assert!(
                !text.contains(SUBJECT_TOKEN),
                "{} holds the subject token",
                path.display()
            );
        }
        assert_code(&w.cleanup(state.path()), 0);
        assert!(w.values().is_empty());
    }
    // The file source named the impersonation URL: both its auth and its cleanup used it.
    assert_eq!(w.fake.impersonations(), 2);
}

/// Tokens expire (the fake's after 2 s here): one that expired while a call waited out a 429's
/// `Retry-After: 3` is renewed for the retry, never sent stale.
#[test]
fn a_token_that_expired_during_a_pause_is_renewed_for_the_retry() {
    let w = World::new();
    w.fake.set_token_lifetime(2);
    w.fake.throttle(1, 3);
    let state = tempfile::tempdir().unwrap();
    let out = w.run(state.path(), "auth", "renewed", &[]);
    assert_code(&out, 0);
    assert_eq!(w.values(), ["renewed"]);
    let refused: Vec<_> = w
        .fake
        .seen()
        .into_iter()
        .filter(|s| s.status == 401)
        .collect();
    assert!(refused.is_empty(), "a stale token was sent: {refused:?}");
    assert!(w.fake.token_grants() > 1);
}

/// Several names of one zone go in one change (and one cleanup change); another zone's in its own.
#[test]
fn a_runs_names_go_to_each_zone_in_one_change() {
    let w = World::new();
    let state = tempfile::tempdir().unwrap();
    let out = w
        .google(state.path(), "auth", "a.example.test", "batched")
        .env("GOOGLE_APPLICATION_CREDENTIALS", &w.key)
        .args(["-d", "b.example.test", "--acme-value", "batched"])
        .args(["-d", "c.other.test", "--acme-value", "batched"])
        .output()
        .unwrap();
    assert_code(&out, 0);
    for name in ["a.example.test", "b.example.test"] {
        let values = w.fake.txt_values(ZONE, &format!("_acme-challenge.{name}"));
        assert_eq!(values, ["batched"]);
    }
    assert_code(&w.cleanup(state.path()), 0);
    let posts = |zone: &str| {
        let path = format!("/managedZones/{zone}/changes");
        w.fake
            .seen()
            .iter()
            .filter(|s| s.method == "POST" && s.path.ends_with(&path))
            .count()
    };
    assert_eq!(
        (posts(ZONE), posts("other-test")),
        (2, 2),
        "one change per zone each way"
    );
    assert!(
        w.fake
            .txt_values("other-test", "_acme-challenge.c.other.test")
            .is_empty()
    );
}
