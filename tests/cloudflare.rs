//! The cloudflare publisher against the fake Cloudflare API, whose records are mirrored into the
//! BIND fixture's primary (TSIG-signed UPDATEs), so the real propagation check and the CertCentral
//! simulator see what the API was asked to publish (library level).

use crate::support::bind::{BindFixture, BindOptions};
use crate::support::txt;
use crate::support::world::API_KEY;
use dcv_hook::certcentral::{CertCentral, Client};
use dcv_hook::config::Env;
use dcv_hook::error::{Error, Kind};
use dcv_hook::propagation::dns::DnsCheck;
use dcv_hook::propagation::{Polling, PropagationCheck, wait_until_served};
use dcv_hook::publish::Publisher;
use dcv_hook::publish::cloudflare::{
    Cloudflare, CloudflareArgs, CloudflareAuth, CloudflareSettings,
};
use dcv_hook::publish::rfc2136::{Rfc2136, Rfc2136Settings};
use dcv_hook::record::{Published, Record, RecordType};
use dcv_hook::secret::Secret;
use dcv_sim::{
    CfFault, Change, ChangeKind, FakeCloudflare, FakeCloudflareConfig, OrderSpec, SimConfig,
    Simulator,
};
use std::time::Duration;

const TOKEN: &str = "cfut_it0123456789abcdefghijklmnopqrstuvwxy";
/// A second token the fake accepts, as a second zone's credentials file would hold.
const SECOND_TOKEN: &str = "cfut_second0123456789abcdefghijklmnopqrst";
const LEGACY_KEY: &str = "c0ffee0123456789abcdef0123456789abcde";

/// The fake API in front of a BIND pair.
struct CfWorld {
    bind: BindFixture,
    fake: FakeCloudflare,
}

impl CfWorld {
    fn new(lag: Option<Duration>) -> CfWorld {
        let w = CfWorld::without_zones(lag);
        w.fake.add_zone("example.test");
        w.fake.add_zone("other.test");
        w
    }

    fn without_zones(lag: Option<Duration>) -> CfWorld {
        let bind = BindFixture::start(BindOptions { lag });
        let mut settings = Rfc2136Settings::new(
            bind.primary_addr(),
            bind.key_name(),
            Secret::new(bind.secret()),
        );
        settings.timeout = Duration::from_secs(3);
        let resolver = bind.resolver();
        let sink = move |change: &Change| -> Result<(), String> {
            bind_update(&settings, &resolver, change).map_err(|e| e.to_string())
        };
        let mut config = FakeCloudflareConfig::with_token(TOKEN)
            .with_key("admin@example.test", LEGACY_KEY)
            .with_sink(sink);
        config.tokens.push(SECOND_TOKEN.to_string());
        let fake = FakeCloudflare::start("127.0.0.1:0".parse().unwrap(), config).unwrap();
        CfWorld { bind, fake }
    }

    fn provider(&self) -> Cloudflare {
        self.provider_with(TOKEN)
    }

    fn provider_with(&self, token: &str) -> Cloudflare {
        Cloudflare::new(settings(&self.fake, token)).unwrap()
    }

    fn primary_txt(&self, name: &str) -> Vec<String> {
        self.bind.txt_values(self.bind.primary(), name)
    }

    fn posts(&self) -> usize {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count()
    }
}

/// Mirrors one change of the fake into BIND with a TSIG-signed UPDATE to the primary.
fn bind_update(
    settings: &Rfc2136Settings,
    resolver: &std::sync::Arc<dcv_hook::resolver::Resolver>,
    change: &Change,
) -> dcv_hook::error::Result<()> {
    let rtype = match change.rtype.as_str() {
        "TXT" => RecordType::Txt,
        "CNAME" => RecordType::Cname,
        other => return Err(Error::software(format!("no {other} in the BIND mirror"))),
    };
    let record = Record::new_dns(
        change.name.clone(),
        rtype,
        change.name.clone(),
        change.value.clone(),
    );
    let mut settings = settings.clone();
    settings.zone = Some(change.zone.clone());
    let mut rfc2136 = Rfc2136::new(settings, resolver.clone())?;
    match change.kind {
        ChangeKind::Add => rfc2136.present(&[record]).map(|_| ()),
        ChangeKind::Remove => {
            let mut published = Published::new(&record, "rfc2136");
            published.location = change.zone.clone();
            rfc2136.cleanup(&[published])
        }
    }
}

/// Settings for the fake: its URL, quick retries, a short timeout.
fn settings(fake: &FakeCloudflare, token: &str) -> CloudflareSettings {
    let auth = CloudflareAuth::Token {
        token: Secret::new(token),
        source: "CLOUDFLARE_API_TOKEN".into(),
    };
    let mut settings = CloudflareSettings::new(auth, Some(&fake.url()), 60).unwrap();
    settings.timeout = Duration::from_secs(5);
    settings.retry.first = Duration::from_millis(20);
    settings
}

fn quick(timeout: Duration) -> Polling {
    Polling {
        interval: Duration::from_millis(100),
        timeout,
    }
}

#[test]
fn published_records_reach_every_server_and_certcentral_validates() {
    let w = CfWorld::new(Some(Duration::from_secs(1)));
    let sim = Simulator::start(SimConfig::new(API_KEY, w.bind.primary_addr()));
    let txt_order = sim.add_order(OrderSpec::new(["example.test", "www.other.test"]));
    let cname_order =
        sim.add_order(OrderSpec::new(["cname.example.test"]).method("dns-cname-token"));
    let certcentral = CertCentral::new(
        Client::new(&sim.url(), Secret::new(API_KEY), Duration::from_secs(5)).unwrap(),
    );
    let token = certcentral.order_random_value(txt_order).unwrap();
    let cname_token = certcentral.order_random_value(cname_order).unwrap();

    let records = vec![
        txt("example.test", &token),
        txt("_dnsauth.www.other.test", &token),
        Record::new_dns(
            "cname.example.test",
            RecordType::Cname,
            "_dnsauth.cname.example.test",
            format!("{cname_token}.dcv.digicert.com"),
        ),
    ];
    let mut cf = w.provider();
    let published = cf.present(&records).unwrap();
    let locations: Vec<&str> = published.iter().map(|p| p.location.as_str()).collect();
    assert_eq!(locations, ["example.test", "other.test", "example.test"]);
    assert!(
        published
            .iter()
            .all(|p| !p.preexisting && !p.undo.contains_key("server"))
    );

    // The real propagation check sees the records on the primary and the lagging secondary.
    let check = DnsCheck::new(w.bind.resolver(), Duration::from_millis(500));
    let probes = check.probes(&records).unwrap();
    let served = wait_until_served(&probes, quick(Duration::from_secs(15)), &|_| {}).unwrap();
    assert!(served.iter().all(|s| s.servers.len() == 2), "{served:?}");
    for server in [w.bind.primary(), w.bind.secondary()] {
        for r in &records {
            let (rtype, name) = r.dns().unwrap();
            assert!(
                w.bind.has_record(server, rtype, name, &r.value),
                "{server} {r}"
            );
        }
    }

    // DigiCert's check, made from the network like a CA, passes for both orders.
    for order in [txt_order, cname_order] {
        let checked = certcentral.check_dcv(order, &[]).unwrap();
        assert_eq!(checked.dcv_status.as_deref(), Some("valid"), "{checked:?}");
    }
    assert!(sim.premature_checks().is_empty());

    cf.cleanup(&published).unwrap();
    assert!(w.fake.records().is_empty());
    for r in &records {
        let (rtype, name) = r.dns().unwrap();
        assert!(
            !w.bind.has_record(w.bind.primary(), rtype, name, &r.value),
            "{r}"
        );
    }
}

#[test]
fn a_foreign_record_at_the_name_survives_cleanup() {
    let w = CfWorld::new(Some(Duration::ZERO));
    let name = "_dnsauth.foreign.example.test";
    w.fake.add_record(name, "TXT", "someone-else");
    let mut cf = w.provider();
    let published = cf.present(&[txt(name, "ours")]).unwrap();
    assert_eq!(w.primary_txt(name), ["ours", "someone-else"]);
    cf.cleanup(&published).unwrap();
    assert_eq!(w.primary_txt(name), ["someone-else"]);
    let left = w.fake.records_named(name);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].content, "someone-else");
}

#[test]
fn a_value_already_there_is_not_duplicated_and_cleanup_leaves_it() {
    let w = CfWorld::new(Some(Duration::ZERO));
    let name = "_dnsauth.again.example.test";
    // Written by another tool, unquoted: the same value all the same.
    w.fake.add_record(name, "TXT", "tok");
    let mut cf = w.provider();
    let published = cf.present(&[txt(name, "tok")]).unwrap();
    assert!(published[0].preexisting);
    assert_eq!(published[0].location, "example.test");
    assert_eq!(w.posts(), 0, "nothing created");
    assert_eq!(w.fake.records_named(name).len(), 1);
    cf.cleanup(&published).unwrap();
    assert_eq!(w.fake.records_named(name).len(), 1);
    assert_eq!(w.primary_txt(name), ["tok"]);
    assert!(
        !w.fake.requests().iter().any(|r| r.method == "DELETE"),
        "cleanup sent no delete"
    );
}

#[test]
fn a_refused_token_is_no_perm() {
    let w = CfWorld::new(None);
    let err = w
        .provider_with("cfut_wrong0123456789abcdefghijklmnopqrst")
        .present(&[txt("_dnsauth.example.test", "tok")])
        .unwrap_err();
    assert_eq!(err.kind(), Kind::NoPerm, "{err}");
    assert_eq!(err.exit_code(), 77);
    assert!(
        err.message()
            .contains("HTTP 403, code 9109: Invalid access token"),
        "{err}"
    );
    assert!(err.message().contains("CLOUDFLARE_API_TOKEN"), "{err}");
    assert!(w.fake.records().is_empty());
}

#[test]
fn a_name_outside_the_account_is_config_naming_every_name_tried() {
    let w = CfWorld::new(None);
    let err = w
        .provider()
        .present(&[txt("_dnsauth.shop.delegated.test", "tok")])
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Config, "{err}");
    assert_eq!(err.exit_code(), 78);
    assert!(
        err.message()
            .contains("tried _dnsauth.shop.delegated.test, shop.delegated.test, delegated.test"),
        "{err}"
    );
}

#[test]
fn long_listings_are_read_page_by_page() {
    let w = CfWorld::without_zones(Some(Duration::ZERO));
    // A legacy key spanning two accounts sees example.test twice; the active one is on page 2.
    w.fake.add_zone_with_status("example.test", "moved");
    w.fake.add_zone("example.test");
    for i in 0..5 {
        w.fake.add_zone(&format!("zone{i}.test"));
    }
    let name = "_dnsauth.paged.example.test";
    for i in 0..7 {
        w.fake.add_record(name, "TXT", &format!("foreign-{i}"));
    }
    w.fake.add_record(name, "TXT", "\"already\"");
    w.fake.set_max_per_page(1);

    let mut cf = w.provider();
    let published = cf
        .present(&[txt(name, "already"), txt(name, "fresh")])
        .unwrap();
    assert!(published[0].preexisting, "found on the last page");
    assert!(!published[1].preexisting);
    assert_eq!(w.posts(), 1);
    let zone_pages: Vec<String> = w
        .fake
        .requests()
        .iter()
        .filter(|r| r.endpoint() == "zones" && r.query("name").as_deref() == Some("example.test"))
        .filter_map(|r| r.query("page"))
        .collect();
    assert_eq!(zone_pages, ["1", "2"]);

    // Ours is on the last page now; cleanup finds it there and deletes only it.
    cf.cleanup(&published).unwrap();
    let mut left: Vec<String> = w
        .fake
        .records_named(name)
        .into_iter()
        .map(|r| r.content)
        .collect();
    left.sort();
    assert_eq!(left.len(), 8);
    assert!(!left.contains(&"\"fresh\"".to_string()));
    assert_eq!(w.primary_txt(name).len(), 8);
}

#[test]
fn rate_limited_then_served() {
    let w = CfWorld::new(Some(Duration::ZERO));
    w.fake.fail_next(
        2,
        CfFault::RateLimited {
            retry_after_secs: 1,
        },
    );
    w.fake.fail_next_on(
        "POST",
        1,
        CfFault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let mut cf = w.provider();
    let published = cf
        .present(&[txt("_dnsauth.busy.example.test", "tok")])
        .unwrap();
    assert_eq!(w.primary_txt("_dnsauth.busy.example.test"), ["tok"]);
    assert_eq!(w.posts(), 2, "the create was refused once, then made");
    cf.cleanup(&published).unwrap();
    assert!(w.primary_txt("_dnsauth.busy.example.test").is_empty());

    // Throttled for good: unavailable (69) after the bounded retries, nothing left behind.
    w.fake.fail_next(
        50,
        CfFault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let err = cf
        .present(&[txt("_dnsauth.busy.example.test", "tok")])
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Unavailable, "{err}");
    assert!(err.message().contains("HTTP 429, code 971"), "{err}");
    assert!(err.message().contains("after 5 attempts"), "{err}");
}

struct MapEnv(Vec<(&'static str, String)>);

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }
}

#[test]
fn secrets_never_reach_messages_or_debug_output() {
    let w = CfWorld::new(None);
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("cloudflare.ini");
    std::fs::write(
        &ini,
        format!(
            "dns_cloudflare_email = admin@example.test\ndns_cloudflare_api_key = {LEGACY_KEY}\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&ini, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut seen: Vec<String> = Vec::new();

    let from_env = CloudflareSettings::from_args(
        &CloudflareArgs {
            cloudflare_credentials: None,
            cloudflare_api_url: Some(w.fake.url()),
        },
        &MapEnv(vec![("CF_DNS_API_TOKEN", TOKEN.to_string())]),
        60,
    )
    .unwrap();
    let legacy = CloudflareSettings::from_args(
        &CloudflareArgs {
            cloudflare_credentials: Some(ini.clone()),
            cloudflare_api_url: Some(w.fake.url()),
        },
        &MapEnv(vec![]),
        60,
    )
    .unwrap();
    seen.push(format!("{from_env:?} {legacy:?}"));

    // A working legacy key, and what it published.
    let mut cf = Cloudflare::new(legacy.clone()).unwrap();
    let published = cf
        .present(&[txt("_dnsauth.s.example.test", "tok")])
        .unwrap();
    // The provider has no Debug at all, so it cannot print its client's key.
    seen.push(format!("{published:?}"));
    seen.push(serde_json::to_string(&published).unwrap());
    cf.cleanup(&published).unwrap();

    // Errors of every kind, with each credential.
    let wrong = CloudflareAuth::Token {
        token: Secret::new(format!("{TOKEN}x")),
        source: "CF_Token".into(),
    };
    let mut errors: Vec<Error> = Vec::new();
    let mut bad =
        Cloudflare::new(CloudflareSettings::new(wrong, Some(&w.fake.url()), 60).unwrap()).unwrap();
    errors.push(
        bad.present(&[txt("_dnsauth.example.test", "t")])
            .unwrap_err(),
    );
    let mut good = Cloudflare::new(settings(&w.fake, TOKEN)).unwrap();
    errors.push(
        good.present(&[txt("_dnsauth.nowhere.invalid", "t")])
            .unwrap_err(),
    );
    w.fake.fail_next(50, CfFault::Status(502));
    errors.push(
        good.present(&[txt("_dnsauth.example.test", "t")])
            .unwrap_err(),
    );
    let mut offline = Cloudflare::new(legacy).unwrap();
    drop(w);
    errors.push(
        offline
            .present(&[txt("_dnsauth.example.test", "t")])
            .unwrap_err(),
    );
    let kinds: Vec<Kind> = errors.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            Kind::NoPerm,
            Kind::Config,
            Kind::Unavailable,
            Kind::Unavailable
        ]
    );
    seen.extend(errors.iter().map(|e| format!("{e} {e:?}")));

    let everything = seen.join("\n");
    for secret in [TOKEN, LEGACY_KEY] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked:\n{everything}"
        );
    }
    assert!(
        everything.contains("admin@example.test"),
        "the email is no secret"
    );
}

#[test]
fn an_order_is_validated_through_the_binary_with_provider_cloudflare_and_nothing_is_left() {
    use crate::support::world::bare_cmd;
    let w = CfWorld::new(Some(Duration::from_secs(1)));
    let sim = Simulator::start(SimConfig::new(API_KEY, w.bind.primary_addr()));
    let state = tempfile::tempdir().unwrap();
    // A foreign value at one of the names must survive.
    w.fake
        .add_record("www.example.test", "TXT", "\"someone-else\"");
    let order = sim.add_order(OrderSpec::new(["www.example.test", "api.other.test"]));
    let cmd = || {
        let mut cmd = bare_cmd();
        cmd.env("DIGICERT_API_KEY", API_KEY)
            .env("CLOUDFLARE_API_TOKEN", TOKEN)
            .args(["--api-url", &sim.url()])
            .args(["--resolver", &w.bind.primary_addr().to_string()])
            .arg("--state-dir")
            .arg(state.path())
            .args(["--poll-interval", "0.1", "--provider", "cloudflare"])
            .args(["--cloudflare-api-url", &w.fake.url()]);
        cmd
    };
    let out = cmd()
        .args(["run", "--order-id", &order.to_string(), "-v"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains(TOKEN) && !String::from_utf8_lossy(&out.stdout).contains(TOKEN));
    assert_eq!(sim.order_status(order).as_deref(), Some("issued"));
    assert!(
        sim.premature_checks().is_empty(),
        "{:?}",
        sim.premature_checks()
    );
    assert_eq!(w.primary_txt("www.example.test"), vec!["someone-else"]);
    assert!(w.primary_txt("api.other.test").is_empty());
    assert_eq!(w.fake.records_named("api.other.test").len(), 0);

    // Missing token: a config error before any request that changes DigiCert state.
    let order = sim.add_order(OrderSpec::new(["www.example.test"]).method("dns-cname-token"));
    let changes = || sim.requests().iter().filter(|r| r.method != "GET").count();
    let before = changes();
    cmd()
        .env_remove("CLOUDFLARE_API_TOKEN")
        .args([
            "auth",
            "--order-id",
            &order.to_string(),
            "--method",
            "dns-txt-token",
        ])
        .assert()
        .code(78);
    assert_eq!(changes(), before);
}

#[test]
fn two_credentials_files_and_a_flagless_cleanup_uses_each_ones_token() {
    use crate::support::world::bare_cmd;
    let w = CfWorld::new(None);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cmd = || {
        let mut cmd = bare_cmd();
        cmd.args(["--resolver", &w.bind.primary_addr().to_string()])
            .arg("--state-dir")
            .arg(&state);
        cmd
    };
    let published = [
        (
            TOKEN,
            "_acme-challenge.www.example.test",
            "value-one",
            "example.test",
        ),
        (
            SECOND_TOKEN,
            "_acme-challenge.api.other.test",
            "value-two",
            "other.test",
        ),
    ];
    for (i, (token, name, value, _)) in published.iter().enumerate() {
        let file = dir.path().join(format!("cf{i}.ini"));
        std::fs::write(&file, format!("dns_cloudflare_api_token = {token}\n")).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        cmd()
            .args(["auth", "--no-propagation-check", "--provider", "cloudflare"])
            .args(["--cloudflare-api-url", &w.fake.url()])
            .arg("--cloudflare-credentials")
            .arg(&file)
            .args(["--acme-fqdn", name, "--acme-value", value])
            .env_remove("CLOUDFLARE_API_TOKEN")
            .assert()
            .success();
        assert_eq!(w.fake.records_named(name).len(), 1);
    }
    cmd()
        .arg("cleanup")
        .env_remove("CLOUDFLARE_API_TOKEN")
        .assert()
        .success();
    for (token, name, _, zone) in published {
        assert!(w.fake.records_named(name).is_empty(), "{name} left");
        let zone_id = w.fake.zone_id(zone).unwrap();
        let deletes: Vec<Option<String>> = w
            .fake
            .requests()
            .iter()
            .filter(|r| r.method == "DELETE" && r.endpoint().contains(&zone_id))
            .map(|r| r.token.clone())
            .collect();
        assert_eq!(
            deletes,
            [Some(dcv_sim::cloudflare::token_fingerprint(token))],
            "deletes in {zone}"
        );
    }
}

#[test]
fn kill_9_while_a_create_waits_leaves_state_a_flagless_cleanup_can_use() {
    let w = CfWorld::new(None);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let credentials = dir.path().join("cf.ini");
    std::fs::write(
        &credentials,
        format!("dns_cloudflare_api_token = {TOKEN}\n"),
    )
    .unwrap();
    std::fs::set_permissions(
        &credentials,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    // The first create lands but its answer is lost (found again by looking); the second is told
    // to come back in a minute, and the process is killed while it waits.
    w.fake.fail_next_on("POST", 1, CfFault::AfterApplying(502));
    w.fake.fail_next_on(
        "POST",
        1,
        CfFault::RateLimited {
            retry_after_secs: 60,
        },
    );
    let names = [
        "_acme-challenge.www.example.test",
        "_acme-challenge.api.other.test",
    ];
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dcv-hook"))
        .env_remove("DCV_HOOK_CONFIG")
        .env_remove("CLOUDFLARE_API_TOKEN")
        .args(["auth", "--no-propagation-check", "--provider", "cloudflare"])
        .args(["--cloudflare-api-url", &w.fake.url()])
        .arg("--cloudflare-credentials")
        .arg(&credentials)
        .arg("--state-dir")
        .arg(&state)
        .args(["--acme-fqdn", names[0], "--acme-value", "value-one"])
        .args(["--acme-fqdn", names[1], "--acme-value", "value-two"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while w
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count()
        < 2
    {
        assert!(std::time::Instant::now() < deadline, "no second create");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(w.fake.records_named(names[0]).len(), 1, "the first is live");
    // Pending entries already say where and with what: a flagless cleanup finds the fake.
    crate::support::world::bare_cmd()
        .arg("cleanup")
        .arg("--state-dir")
        .arg(&state)
        .assert()
        .success();
    assert!(w.fake.records_named(names[0]).is_empty());
    assert!(
        std::fs::read_dir(state.join("records"))
            .unwrap()
            .next()
            .is_none()
    );
}
