//! The azure provider through the binary against the fake Azure of `support/azure.rs` (Entra ID's
//! token endpoint, a managed identity endpoint and Azure DNS, on loopback): foreign values and the
//! set's TTL and metadata kept through auth and a flagless cleanup, writes conditional on the ETag
//! (412 read again, never losing the other writer's value), 429 retried as `Retry-After` says,
//! each refusal its documented exit code, every credential source, no secret in state or output,
//! parallel runs, the doctor's read-only check, and an order validated end to end with the fake
//! mirrored into the BIND fixture so the real propagation check runs. No request leaves
//! 127.0.0.0/8: every endpoint is the fake's, and the metadata service is never asked.

use crate::support::azure::{FEDERATED, FakeAzure, IDENTITY_HEADER, SECRET};
use crate::support::{files_under, parallel_runs_keep_every_value};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const NAME: &str = "_acme-challenge.example.test";

/// Variables that would choose other credentials, cleared so the host's never count.
const AZURE_VARS: &[&str] = &[
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_SECRET_FILE",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_AUTHORITY_HOST",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
];

/// The binary with the fake's service principal in its environment and no other Azure variable.
fn base(fake: &FakeAzure, state: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dcv-hook"));
    cmd.env("HOME", state);
    for var in ["DCV_HOOK_CONFIG", "DCV_HOOK_STATE_DIR", "DIGICERT_API_KEY"]
        .iter()
        .chain(AZURE_VARS)
    {
        cmd.env_remove(var);
    }
    cmd.envs(fake.env());
    cmd
}

/// `dcv-hook COMMAND -d example.test --acme-value VALUE` with the fake's service principal; the
/// provider flags only for `auth` (cleanup reads them from the state).
fn command(fake: &FakeAzure, state: &Path, command: &str, value: &str) -> Command {
    command_at(fake, state, command, "example.test", value)
}

/// [`command`] for another domain.
fn command_at(fake: &FakeAzure, state: &Path, command: &str, domain: &str, value: &str) -> Command {
    let mut cmd = base(fake, state);
    cmd.args([command, "-d", domain, "--acme-value", value])
        .arg("--state-dir")
        .arg(state)
        .arg("--no-propagation-check");
    if command == "auth" {
        cmd.args(["--provider", "azure"]).args(fake.flags());
    }
    cmd
}

fn run(fake: &FakeAzure, state: &Path, cmd: &str, value: &str, extra: &[&str]) -> Output {
    command(fake, state, cmd, value)
        .args(extra)
        .output()
        .unwrap()
}

fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_no_secret(out: &Output, state: &Path) {
    let output = format!("{out:?}");
    for secret in [SECRET, IDENTITY_HEADER, FEDERATED, "fake-access-token"] {
        assert!(!output.contains(secret), "{secret} in the output: {output}");
        for file in files_under(state) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            assert!(!text.contains(secret), "{} holds {secret}", file.display());
        }
    }
}

#[test]
fn foreign_values_ttl_and_metadata_survive_and_a_flagless_cleanup_removes_only_ours() {
    let fake = FakeAzure::start();
    fake.add_foreign_txt("example.test", NAME, "v=foreign");
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let out = run(&fake, one.path(), "auth", "token-one", &[]);
    assert_ok(&out);
    assert_no_secret(&out, one.path());
    assert_ok(&run(&fake, two.path(), "auth", "token-two", &[]));
    assert_eq!(
        fake.txt_values("example.test", NAME),
        ["token-one", "token-two", "v=foreign"]
    );
    let (ttl, metadata) = fake.ttl_and_metadata("example.test", NAME).unwrap();
    assert_eq!(ttl, 3600, "the set's TTL is kept");
    assert_eq!(metadata["owner"], "another-tool", "its metadata too");
    // Every write was conditional on what was read.
    let writes: Vec<String> = fake
        .log()
        .into_iter()
        .filter(|l| l.starts_with("PUT") || l.starts_with("DELETE"))
        .collect();
    assert!(
        writes.iter().all(|w| w.contains(" If-Match:etag-")),
        "{writes:?}"
    );

    // Flagless: the state remembers the endpoint, the group, the tenant and the client.
    let out = run(&fake, one.path(), "cleanup", "token-one", &[]);
    assert_ok(&out);
    assert_no_secret(&out, one.path());
    assert_eq!(
        fake.txt_values("example.test", NAME),
        ["token-two", "v=foreign"]
    );
    assert_ok(&run(&fake, two.path(), "cleanup", "token-two", &[]));
    assert_eq!(fake.txt_values("example.test", NAME), ["v=foreign"]);

    // A set of ours alone is created with If-None-Match and deleted with If-Match.
    let name = "_acme-challenge.www.other.test";
    let mut cmd = command_at(&fake, one.path(), "auth", "www.other.test", "alone");
    assert_ok(&cmd.output().unwrap());
    assert_eq!(fake.txt_values("other.test", name), ["alone"]);
    let cleanup = base(&fake, one.path())
        .env_remove("AZURE_TENANT_ID")
        .env_remove("AZURE_CLIENT_ID")
        .arg("cleanup")
        .arg("--state-dir")
        .arg(one.path())
        .output()
        .unwrap();
    assert_ok(&cleanup);
    assert!(fake.ttl_and_metadata("other.test", name).is_none());
    let log = fake.log();
    assert!(
        log.iter()
            .any(|l| l.starts_with("PUT") && l.ends_with("If-None-Match:*"))
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("DELETE") && l.contains("If-Match:"))
    );
}

/// Another writer adds a value between our read and our write: the write is refused (412), read
/// again and made on what is there now, so neither value is lost; the same for cleanup.
#[test]
fn a_set_changed_between_read_and_write_is_read_again_and_no_value_is_lost() {
    let fake = FakeAzure::start();
    fake.add_foreign_txt("example.test", NAME, "v=foreign");
    let state = tempfile::tempdir().unwrap();
    fake.race(1);
    assert_ok(&run(&fake, state.path(), "auth", "ours", &[]));
    assert_eq!(fake.precondition_failed(), 1);
    assert_eq!(
        fake.txt_values("example.test", NAME),
        ["ours", "racer-1", "v=foreign"]
    );
    fake.race(1);
    assert_ok(&run(&fake, state.path(), "cleanup", "ours", &[]));
    assert_eq!(fake.precondition_failed(), 2);
    assert_eq!(
        fake.txt_values("example.test", NAME),
        ["racer-1", "racer-1", "v=foreign"]
    );
    // A set that changes under every write: 69 naming it; none of those writes took.
    fake.race(100);
    let out = run(&fake, state.path(), "auth", "never", &[]);
    assert_eq!(out.status.code(), Some(69), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("412"), "{stderr}");
    assert!(
        !fake
            .txt_values("example.test", NAME)
            .contains(&"never".to_string())
    );
}

#[test]
fn throttling_is_retried_as_retry_after_says_then_69() {
    let fake = FakeAzure::start();
    let state = tempfile::tempdir().unwrap();
    fake.throttle(2);
    let started = Instant::now();
    assert_ok(&run(&fake, state.path(), "auth", "after-429", &[]));
    // Two answers of `Retry-After: 1` were waited out (load can only make it longer).
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(fake.txt_values("example.test", NAME), ["after-429"]);

    fake.throttle(1000);
    let out = run(&fake, state.path(), "cleanup", "after-429", &[]);
    assert_eq!(out.status.code(), Some(69), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("throttled"), "{stderr}");
    assert!(stderr.contains("after 5 attempts"), "{stderr}");
}

/// Tokens that live one second, and two 429s of `Retry-After: 1` before the first DNS call
/// succeeds: the retry asks for a new token instead of sending the expired one (401, 77).
#[test]
fn an_expired_token_is_renewed_between_retries() {
    let fake = FakeAzure::start();
    let state = tempfile::tempdir().unwrap();
    fake.token_lifetime(1);
    fake.throttle(2);
    assert_ok(&run(&fake, state.path(), "auth", "renewed", &[]));
    assert_eq!(fake.txt_values("example.test", NAME), ["renewed"]);
    let tokens = fake
        .log()
        .iter()
        .filter(|l| l.ends_with("/oauth2/v2.0/token"))
        .count();
    assert!(tokens > 2, "{:?}", fake.log());
}

#[test]
fn refusals_name_what_to_fix_with_their_exit_codes() {
    let fake = FakeAzure::start();
    let state = tempfile::tempdir().unwrap();
    let expect = |out: Output, code: i32, says: &str| {
        assert_eq!(out.status.code(), Some(code), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{says:?} not in {stderr}");
        assert_no_secret(&out, state.path());
    };
    // `auth` with `extra` flags.
    let auth = |extra: &[&str]| run(&fake, state.path(), "auth", "tok", extra);
    // A wrong secret: 77, the secret never shown.
    let mut cmd = command(&fake, state.path(), "auth", "tok");
    cmd.env("AZURE_CLIENT_SECRET", "wrong-secret-value");
    let out = cmd.output().unwrap();
    assert!(!format!("{out:?}").contains("wrong-secret-value"));
    expect(out, 77, "AADSTS7000215");
    // No credentials at all: 78 naming every source tried (and no metadata service asked).
    let mut cmd = command(&fake, state.path(), "auth", "tok");
    cmd.env_remove("AZURE_CLIENT_SECRET");
    expect(cmd.output().unwrap(), 78, "AZURE_FEDERATED_TOKEN_FILE");
    // No zone for the name: 78 naming every name tried.
    let mut cmd = command_at(&fake, state.path(), "auth", "shop.nowhere.test", "tok");
    expect(
        cmd.output().unwrap(),
        78,
        "tried _acme-challenge.shop.nowhere.test, shop.nowhere.test, nowhere.test",
    );
    // Another resource group: 78 naming the flag.
    expect(
        auth(&["--azure-resource-group", "other-rg"]),
        78,
        "--azure-resource-group",
    );
    // No resource group at all: 64, before any call.
    let out = base(&fake, state.path())
        .args(["auth", "-d", "example.test", "--acme-value", "tok"])
        .arg("--state-dir")
        .arg(state.path())
        .args(["--no-propagation-check", "--provider", "azure"])
        .args(&fake.flags()[..4])
        .output()
        .unwrap();
    expect(out, 64, "--azure-resource-group");
    // Plain http to another host would carry the token in clear: 64.
    expect(
        auth(&["--azure-endpoint", "http://192.0.2.1:8080"]),
        64,
        "--azure-endpoint",
    );
    // An endpoint that redirects: 78, the token never sent on.
    let redirect = answering(
        "HTTP/1.1 301 Moved\r\nLocation: https://elsewhere.test/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    expect(auth(&["--azure-endpoint", &redirect]), 78, "never followed");
    // Something else than Azure answering 200 with a web page: one line, 69.
    let page = answering(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\nConnection: close\r\n\r\n<html></html>",
    );
    expect(
        auth(&["--azure-endpoint", &page]),
        69,
        "is --azure-endpoint Azure Resource Manager?",
    );
    expect(
        auth(&["--azure-authority-host", &page]),
        69,
        "holds no access_token",
    );
    // A change Azure refuses: 65 with its message.
    fake.refuse_writes_at("_acme-challenge");
    expect(auth(&[]), 65, "refused by the test");
    // A role that may read but not write: 77 naming the role to give.
    fake.deny_writes();
    expect(auth(&[]), 77, "DNS Zone Contributor");
    assert!(fake.txt_values("example.test", NAME).is_empty());
}

/// A loopback server answering every request with `answer` (status line, headers and body); its
/// URL.
fn answering(answer: &'static str) -> String {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut client in listener.incoming().flatten() {
            if crate::support::front::read_request(&mut client).is_some() {
                let _ = client.write_all(answer.as_bytes());
            }
        }
    });
    url
}

/// The federated token of workload identity and App Service's managed identity endpoint, each
/// through the binary; `--azure-managed-identity` takes IDENTITY_ENDPOINT when it is set.
#[test]
fn a_federated_token_and_a_managed_identity_are_accepted() {
    let fake = FakeAzure::start();
    let state = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("federated-token");
    std::fs::write(&token_file, FEDERATED).unwrap();
    let mut cmd = command(&fake, state.path(), "auth", "federated");
    cmd.env_remove("AZURE_CLIENT_SECRET")
        .env("AZURE_FEDERATED_TOKEN_FILE", &token_file);
    let out = cmd.output().unwrap();
    assert_ok(&out);
    assert_no_secret(&out, state.path());

    let identity = format!("{}/msi/token", fake.url());
    for extra in [&[][..], &["--azure-managed-identity"][..]] {
        let mut cmd = command(&fake, state.path(), "auth", "managed");
        cmd.env_remove("AZURE_CLIENT_SECRET")
            .env_remove("AZURE_TENANT_ID")
            .env("IDENTITY_ENDPOINT", &identity)
            .env("IDENTITY_HEADER", IDENTITY_HEADER)
            .args(extra);
        let out = cmd.output().unwrap();
        assert_ok(&out);
        assert_no_secret(&out, state.path());
    }
    assert_eq!(
        fake.txt_values("example.test", NAME),
        ["federated", "managed"]
    );
    assert!(fake.log().iter().any(|l| l.starts_with("GET /msi/token")));
}

/// Parallel runs at one name, all reading the set before any writes it (a front holds each read
/// back): every value there after the auths, only the foreign one after the cleanups.
#[test]
fn parallel_auths_and_cleanups_at_one_name_lose_and_leave_nothing() {
    let fake = FakeAzure::start();
    fake.add_foreign_txt("example.test", NAME, "foreign");
    let api = crate::support::front::slow_reads(fake.addr(), Duration::from_millis(300));
    let state = tempfile::tempdir().unwrap();
    let run = |cmd: &str, value: &str| {
        let mut c = command(&fake, state.path(), cmd, value);
        c.args(["--provider", "azure", "--azure-endpoint", &api]);
        c
    };
    parallel_runs_keep_every_value(
        run,
        || fake.txt_values("example.test", NAME),
        "foreign",
        state.path(),
    );
}

/// The doctor's check reads the zone with the credentials and changes nothing; refused
/// credentials are its finding.
#[test]
fn doctor_proves_the_credentials_and_the_zone_with_reads_only() {
    use crate::support::bind::{BindFixture, BindOptions};
    let fake = FakeAzure::start();
    let bind = BindFixture::start(BindOptions {
        lag: Some(Duration::ZERO),
    });
    let resolver = bind.primary_addr().to_string();
    let state = tempfile::tempdir().unwrap();
    let doctor = |secret: &str| {
        let mut cmd = command(&fake, state.path(), "doctor", "tok");
        cmd.env("AZURE_CLIENT_SECRET", secret)
            .args(["--provider", "azure"])
            .args(fake.flags())
            .args(["--resolver", &resolver, "--output", "json"]);
        cmd.output().unwrap()
    };
    let out = doctor(SECRET);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("\"credentials.ok\""), "{report}");
    assert!(report.contains("reads zone example.test"), "{report}");
    let out = doctor("wrong-secret-value");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("\"credentials.rejected\""), "{report}");
    assert!(!report.contains("wrong-secret-value"));
    assert!(
        fake.log()
            .iter()
            .all(|l| !l.starts_with("PUT") && !l.starts_with("DELETE")),
        "{:?}",
        fake.log()
    );
}

#[test]
fn an_order_validates_end_to_end_with_azure_mirrored_into_bind() {
    use crate::support::bind::{BindFixture, BindOptions};
    use crate::support::world::API_KEY;
    use dcv_sim::{OrderSpec, SimConfig, Simulator};
    let fake = FakeAzure::start();
    let bind = std::sync::Arc::new(BindFixture::start(BindOptions {
        lag: Some(Duration::ZERO),
    }));
    fake.mirror_into(&bind);
    fake.add_foreign_txt("example.test", "www.example.test", "someone-else");
    let sim = Simulator::start(SimConfig::new(API_KEY, bind.primary_addr()));
    let order = sim.add_order(OrderSpec::new(["www.example.test", "api.other.test"]));
    let state = tempfile::tempdir().unwrap();
    let out = base(&fake, state.path())
        .env("DIGICERT_API_KEY", API_KEY)
        .args(["run", "--order-id", &order.to_string()])
        .args(["--api-url", &sim.url()])
        .args(["--resolver", &bind.primary_addr().to_string()])
        .arg("--state-dir")
        .arg(state.path())
        .args(["--poll-interval", "0.1", "--provider", "azure"])
        .args(fake.flags())
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(sim.order_status(order).as_deref(), Some("issued"));
    assert!(sim.premature_checks().is_empty());
    assert_eq!(
        fake.txt_values("example.test", "www.example.test"),
        ["someone-else"]
    );
    assert!(fake.txt_values("other.test", "api.other.test").is_empty());
    assert_eq!(
        bind.txt_values(bind.primary(), "www.example.test"),
        ["someone-else"]
    );
}
