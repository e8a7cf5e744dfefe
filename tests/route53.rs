//! The route53 provider through the binary against moto's Route 53 (server mode on loopback):
//! foreign values at a name kept, two runs sharing a name each removing only its own value, the
//! public zone chosen over a private one of the same name unless `--route53-zone-id` names it, and
//! each refusal its documented exit code, throttling retried; and an order validated end to end,
//! with what moto holds mirrored into the BIND fixture (moto serves no DNS) so that the real
//! propagation check and the CertCentral simulator see it. The other runs skip the propagation
//! check.

use crate::support::front::slow_reads;
use crate::support::moto::{Front, KEY_ID, MotoFixture, SECRET};
use crate::support::parallel_runs_keep_every_value;
use crate::support::world::bare_cmd;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// `dcv-hook COMMAND -d DOMAIN --acme-value VALUE --provider route53 ...` against `moto`.
fn run(moto: &MotoFixture, state: &Path, command: &str, value: &str, extra: &[&str]) -> Output {
    let mut cmd = bare_cmd();
    cmd.envs(moto.env())
        .env("HOME", state)
        .args([command, "-d", "example.test", "--acme-value", value])
        .arg("--state-dir")
        .arg(state)
        .args(["--no-propagation-check", "--provider", "route53"])
        .args(extra);
    cmd.output().unwrap()
}

fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn foreign_values_and_a_second_run_at_the_same_name_survive_each_cleanup() {
    let moto = MotoFixture::start();
    let zone = moto.zone_id("example.test");
    let name = "_acme-challenge.example.test";
    moto.add_foreign_txt(zone, name, "v=foreign");
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    assert_ok(&run(&moto, one.path(), "auth", "token-one", &[]));
    assert_ok(&run(&moto, two.path(), "auth", "token-two", &[]));
    assert_eq!(
        moto.txt_values(zone, name),
        ["token-one", "token-two", "v=foreign"]
    );
    assert!(
        moto.txt_values(&moto.private_zone, name).is_empty(),
        "the private zone of the same name is skipped"
    );
    // The state remembers the endpoint, never the secret key.
    for dir in [one.path(), two.path()] {
        for entry in crate::support::files_under(dir) {
            let text = std::fs::read_to_string(&entry).unwrap_or_default();
            assert!(!text.contains(SECRET), "{} holds the key", entry.display());
        }
    }

    assert_ok(&run(&moto, one.path(), "cleanup", "token-one", &[]));
    assert_eq!(moto.txt_values(zone, name), ["token-two", "v=foreign"]);
    let out = run(&moto, two.path(), "cleanup", "token-two", &[]);
    assert_ok(&out);
    assert_eq!(moto.txt_values(zone, name), ["v=foreign"]);
    assert!(!format!("{out:?}").contains(SECRET));

    // A private zone is used when named.
    let private = moto.private_zone.clone();
    assert_ok(&run(
        &moto,
        one.path(),
        "auth",
        "private",
        &["--route53-zone-id", &private],
    ));
    assert_eq!(moto.txt_values(&private, name), ["private"]);
    assert_eq!(moto.txt_values(zone, name), ["v=foreign"]);
}

/// Parallel runs at one name, all reading the set before any writes it (a front holds each read
/// back): every auth's value is there after the auths, only the foreign one after the cleanups,
/// and no state is left. Without the zone lock and the read back, values were lost or left.
#[test]
fn parallel_auths_and_cleanups_at_one_name_lose_and_leave_nothing() {
    let moto = MotoFixture::start();
    let zone = moto.zone_id("example.test");
    let name = "_acme-challenge.example.test";
    moto.add_foreign_txt(zone, name, "v=foreign");
    let api = slow_reads(moto.addr(), Duration::from_millis(300));
    let state = tempfile::tempdir().unwrap();
    let run = |command: &str, value: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dcv-hook"));
        cmd.env_remove("DCV_HOOK_CONFIG")
            .envs(moto.env())
            .env("AWS_ENDPOINT_URL", &api)
            .env("HOME", state.path())
            .args([command, "-d", "example.test", "--acme-value", value])
            .arg("--state-dir")
            .arg(state.path())
            .args(["--no-propagation-check", "--provider", "route53"]);
        cmd
    };
    parallel_runs_keep_every_value(
        run,
        || moto.txt_values(zone, name),
        "v=foreign",
        state.path(),
    );
}

#[test]
fn refusals_name_what_to_fix() {
    let moto = MotoFixture::start();
    let state = tempfile::tempdir().unwrap();
    // No hosted zone for the name: 78, naming every name tried.
    let mut cmd = bare_cmd();
    let out = cmd
        .envs(moto.env())
        .env("HOME", state.path())
        .args(["auth", "-d", "shop.nowhere.test", "--acme-value", "tok"])
        .arg("--state-dir")
        .arg(state.path())
        .args(["--no-propagation-check", "--provider", "route53"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tried _acme-challenge.shop.nowhere.test, shop.nowhere.test, nowhere.test"),
        "{stderr}"
    );

    // A zone id that is not there: 78 naming the flag.
    let out = run(
        &moto,
        state.path(),
        "auth",
        "tok",
        &["--route53-zone-id", "ZNOSUCHZONE0000"],
    );
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--route53-zone-id"));

    // An endpoint from the environment that does not parse: 78 naming the variable, no request.
    let out = bare_cmd()
        .envs(moto.env())
        .env("AWS_ENDPOINT_URL", "http://[::1:8080/")
        .env("HOME", state.path())
        .args(["auth", "-d", "example.test", "--acme-value", "tok"])
        .arg("--state-dir")
        .arg(state.path())
        .args(["--no-propagation-check", "--provider", "route53"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("AWS_ENDPOINT_URL"));

    // moto checking credentials against its IAM, where ours are unknown: refused, 77, no key shown.
    let strict = MotoFixture::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let out = run(&strict, state.path(), "auth", "tok", &[]);
    assert_eq!(out.status.code(), Some(77), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("credentials are refused"), "{stderr}");
    assert!(
        !stderr.contains(SECRET) && !stderr.contains(KEY_ID),
        "{stderr}"
    );
}

#[test]
fn throttling_is_retried_with_backoff() {
    let moto = MotoFixture::start();
    let throttle = Front {
        throttled: 2,
        ..Front::default()
    };
    let (front, seen) = crate::support::moto::front(&moto, throttle);
    let state = tempfile::tempdir().unwrap();
    let mut cmd = bare_cmd();
    let out = cmd
        .envs(moto.env())
        .env("AWS_ENDPOINT_URL", &front)
        .env("HOME", state.path())
        .args([
            "auth",
            "-d",
            "example.test",
            "--acme-value",
            "after-throttling",
        ])
        .arg("--state-dir")
        .arg(state.path())
        .args(["--no-propagation-check", "--provider", "route53"])
        .output()
        .unwrap();
    assert_ok(&out);
    assert!(seen.load(std::sync::atomic::Ordering::SeqCst) > 2);
    assert_eq!(
        moto.txt_values(moto.zone_id("example.test"), "_acme-challenge.example.test"),
        ["after-throttling"]
    );
}

#[test]
fn an_order_validates_end_to_end_with_route53_mirrored_into_bind() {
    use crate::support::bind::{BindFixture, BindOptions};
    use crate::support::world::API_KEY;
    use dcv_sim::{OrderSpec, SimConfig, Simulator};
    let moto = MotoFixture::start();
    let bind = std::sync::Arc::new(BindFixture::start(BindOptions {
        lag: Some(std::time::Duration::ZERO),
    }));
    let mirror = Front {
        mirror: Some(std::sync::Arc::downgrade(&bind)),
        ..Front::default()
    };
    let (front, _) = crate::support::moto::front(&moto, mirror);
    let sim = Simulator::start(SimConfig::new(API_KEY, bind.primary_addr()));
    let zone = moto.zone_id("example.test");
    moto.add_foreign_txt(zone, "www.example.test", "someone-else");
    bind.update(
        "example.test",
        &["update add www.example.test. 60 IN TXT \"someone-else\""],
    );
    let order = sim.add_order(OrderSpec::new(["www.example.test", "api.other.test"]));
    let state = tempfile::tempdir().unwrap();
    let out = bare_cmd()
        .envs(moto.env())
        .env("AWS_ENDPOINT_URL", &front)
        .env("HOME", state.path())
        .env("DIGICERT_API_KEY", API_KEY)
        .args(["run", "--order-id", &order.to_string()])
        .args(["--api-url", &sim.url()])
        .args(["--resolver", &bind.primary_addr().to_string()])
        .arg("--state-dir")
        .arg(state.path())
        .args(["--poll-interval", "0.1", "--provider", "route53"])
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(sim.order_status(order).as_deref(), Some("issued"));
    assert!(sim.premature_checks().is_empty());
    // Cleaned up in Route 53 (and so in its mirror), the foreign value kept.
    assert_eq!(moto.txt_values(zone, "www.example.test"), ["someone-else"]);
    assert!(
        moto.txt_values(moto.zone_id("other.test"), "api.other.test")
            .is_empty()
    );
    assert_eq!(
        bind.txt_values(bind.primary(), "www.example.test"),
        ["someone-else"]
    );
}

/// With no credentials configured, the instance metadata service is never asked (a loopback fake
/// stands in for 169.254.169.254 and counts connections): 78 at once. `--route53-instance-role`
/// asks it.
#[test]
fn the_instance_metadata_service_is_asked_only_when_chosen() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let moto = MotoFixture::start();
    let imds = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let imds_url = format!("http://{}", imds.local_addr().unwrap());
    let asked = std::sync::Arc::new(AtomicUsize::new(0));
    let count = asked.clone();
    std::thread::spawn(move || {
        for stream in imds.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let state = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dcv-hook"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", state.path())
            .env("AWS_ENDPOINT_URL", moto.url())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds_url)
            .args(["auth", "-d", "example.test", "--acme-value", "tok"])
            .arg("--state-dir")
            .arg(state.path())
            .args(["--no-propagation-check", "--provider", "route53"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    assert_eq!(
        asked.load(Ordering::SeqCst),
        0,
        "IMDS asked without the flag"
    );
    let out = run(&["--route53-instance-role"]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    assert!(
        asked.load(Ordering::SeqCst) > 0,
        "IMDS not asked with the flag"
    );
}
