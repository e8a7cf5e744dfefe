//! Unit tests: settings from flags, env and ini files (no network), content encoding, and the
//! provider against the fake Cloudflare API without a DNS server behind it. The BIND-backed tests
//! live in tests/cloudflare.rs.

use super::*;
use crate::env::FakeEnv;
use crate::error::Kind;
use crate::secret::Secret;
use cloudflare::framework::auth::Credentials;
use dcv_sim::{CfFault, FakeCloudflare, FakeCloudflareConfig};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const TOKEN: &str = "cfut_unit0123456789abcdefghijklmnopqrstuv";

fn env(pairs: &[(&'static str, &'static str)]) -> FakeEnv {
    FakeEnv::of(pairs)
}

fn args(credentials: Option<PathBuf>, url: Option<&str>) -> CloudflareArgs {
    CloudflareArgs {
        cloudflare_credentials: credentials,
        cloudflare_api_url: url.map(str::to_string),
    }
}

fn ini_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[test]
fn token_sources_table() {
    let dir = tempfile::tempdir().unwrap();
    let token_ini = ini_file(
        &dir,
        "token.ini",
        "# certbot-dns-cloudflare\ndns_cloudflare_api_token = \"file-token\"\n",
    );
    let legacy_ini = ini_file(
        &dir,
        "legacy.ini",
        "dns_cloudflare_email = admin@example.com\ndns_cloudflare_api_key = 0123abcd # global key\n",
    );
    // (description, env, credentials file, expected auth: (kind, secret, source suffix))
    type Case = (
        &'static str,
        FakeEnv,
        Option<PathBuf>,
        (&'static str, &'static str, &'static str),
    );
    let cases: Vec<Case> = vec![
        (
            "CLOUDFLARE_API_TOKEN first",
            env(&[
                ("CLOUDFLARE_API_TOKEN", "a"),
                ("CF_DNS_API_TOKEN", "b"),
                ("CF_Token", "c"),
            ]),
            None,
            ("token", "a", "CLOUDFLARE_API_TOKEN"),
        ),
        (
            "then lego's CF_DNS_API_TOKEN",
            env(&[("CF_DNS_API_TOKEN", "b"), ("CF_Token", "c")]),
            None,
            ("token", "b", "CF_DNS_API_TOKEN"),
        ),
        (
            "then acme.sh's CF_Token",
            env(&[("CF_Token", "c")]),
            None,
            ("token", "c", "CF_Token"),
        ),
        (
            "a blank variable is skipped",
            env(&[("CLOUDFLARE_API_TOKEN", "  "), ("CF_Token", "c")]),
            None,
            ("token", "c", "CF_Token"),
        ),
        (
            "an explicit credentials file wins over the environment",
            env(&[("CLOUDFLARE_API_TOKEN", "a")]),
            Some(token_ini.clone()),
            ("token", "file-token", "token.ini"),
        ),
        (
            "the legacy email + key pair",
            env(&[]),
            Some(legacy_ini.clone()),
            ("key", "0123abcd", "legacy.ini"),
        ),
    ];
    for (desc, env, file, (kind, secret, source)) in cases {
        let settings = CloudflareSettings::from_args(&args(file, None), &env, 60)
            .unwrap_or_else(|e| panic!("{desc}: {e}"));
        match (&settings.auth, kind) {
            (CloudflareAuth::Token { token, source: s }, "token") => {
                assert_eq!(token.expose(), secret, "{desc}");
                assert!(s.ends_with(source), "{desc}: {s}");
            }
            (
                CloudflareAuth::Key {
                    email,
                    key,
                    source: s,
                },
                "key",
            ) => {
                assert_eq!(email, "admin@example.com", "{desc}");
                assert_eq!(key.expose(), secret, "{desc}");
                assert!(s.ends_with(source), "{desc}: {s}");
            }
            (other, _) => panic!("{desc}: got {other:?}"),
        }
        assert_eq!(settings.api_url, DEFAULT_API_URL, "{desc}");
        assert_eq!(settings.ttl, 60, "{desc}");
    }
}

#[test]
fn settings_errors_table() {
    let dir = tempfile::tempdir().unwrap();
    let empty_ini = ini_file(&dir, "empty.ini", "# nothing here\n");
    let half_ini = ini_file(&dir, "half.ini", "dns_cloudflare_email = a@example.com\n");
    let both_ini = ini_file(
        &dir,
        "both.ini",
        "dns_cloudflare_api_token = t\ndns_cloudflare_email = a@example.com\ndns_cloudflare_api_key = k\n",
    );
    let bad_email_ini = ini_file(
        &dir,
        "email.ini",
        "dns_cloudflare_email = admin\ndns_cloudflare_api_key = k\n",
    );
    let spaced_ini = ini_file(&dir, "spaced.ini", "dns_cloudflare_api_token = \"a b\"\n");
    let token = env(&[("CLOUDFLARE_API_TOKEN", "t")]);
    let none = env(&[]);
    // (description, env, file, url, ttl, kind, words in the message)
    type Case<'a> = (
        &'a str,
        &'a FakeEnv,
        Option<PathBuf>,
        Option<&'a str>,
        u32,
        Kind,
        &'a [&'a str],
    );
    let cases: Vec<Case> = vec![
        (
            "no token anywhere",
            &none,
            None,
            None,
            60,
            Kind::Config,
            &["CLOUDFLARE_API_TOKEN", "--cloudflare-credentials"],
        ),
        (
            "unreadable file",
            &token,
            Some(dir.path().join("nope.ini")),
            None,
            60,
            Kind::Config,
            &["nope.ini"],
        ),
        (
            "file without any key",
            &none,
            Some(empty_ini),
            None,
            60,
            Kind::DataErr,
            &[
                "dns_cloudflare_api_token",
                "dns_cloudflare_email",
                "empty.ini",
            ],
        ),
        (
            "half a legacy pair",
            &none,
            Some(half_ini),
            None,
            60,
            Kind::DataErr,
            &["dns_cloudflare_api_key", "half.ini"],
        ),
        (
            "token and legacy pair",
            &none,
            Some(both_ini),
            None,
            60,
            Kind::DataErr,
            &["not both"],
        ),
        (
            "email that is not one",
            &none,
            Some(bad_email_ini),
            None,
            60,
            Kind::Config,
            &["dns_cloudflare_email"],
        ),
        (
            "token with a space",
            &none,
            Some(spaced_ini),
            None,
            60,
            Kind::Config,
            &["spaces"],
        ),
        (
            "not a URL",
            &token,
            None,
            Some("api.cloudflare.com"),
            60,
            Kind::Usage,
            &["--cloudflare-api-url"],
        ),
        (
            "plain http to a remote host",
            &token,
            None,
            Some("http://api.example.com/client/v4/"),
            60,
            Kind::Usage,
            &["unencrypted"],
        ),
        (
            "ftp",
            &token,
            None,
            Some("ftp://127.0.0.1/"),
            60,
            Kind::Usage,
            &["https"],
        ),
        (
            "user in the URL",
            &token,
            None,
            Some("https://u:p@api.example.com/"),
            60,
            Kind::Usage,
            &["user name"],
        ),
        (
            "query in the URL",
            &token,
            None,
            Some("https://api.example.com/v4?x=1"),
            60,
            Kind::Usage,
            &["query"],
        ),
        (
            "ttl too short",
            &token,
            None,
            None,
            10,
            Kind::Usage,
            &["--ttl 10", "1 (automatic)"],
        ),
        (
            "ttl too long",
            &token,
            None,
            None,
            90000,
            Kind::Usage,
            &["--ttl 90000"],
        ),
    ];
    for (desc, env, file, url, ttl, kind, words) in cases {
        let err = CloudflareSettings::from_args(&args(file, url), env, ttl).expect_err(desc);
        assert_eq!(err.kind(), kind, "{desc}: {err}");
        for word in words {
            assert!(err.message().contains(word), "{desc}: {err}");
        }
    }
}

#[test]
fn api_urls_table() {
    let token = env(&[("CLOUDFLARE_API_TOKEN", "t")]);
    for (given, want) in [
        (
            "https://api.cloudflare.com/client/v4",
            "https://api.cloudflare.com/client/v4/",
        ),
        (
            "https://api.cloudflare.com/client/v4/",
            "https://api.cloudflare.com/client/v4/",
        ),
        (
            "http://127.0.0.1:8080/client/v4",
            "http://127.0.0.1:8080/client/v4/",
        ),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
        ("http://localhost:1/x", "http://localhost:1/x/"),
    ] {
        let s = CloudflareSettings::from_args(&args(None, Some(given)), &token, 1).unwrap();
        assert_eq!(s.api_url, want, "{given}");
        assert_eq!(s.ttl, 1);
    }
}

#[test]
fn secrets_stay_out_of_settings_debug() {
    let settings = CloudflareSettings::from_args(
        &args(None, None),
        &env(&[("CLOUDFLARE_API_TOKEN", TOKEN)]),
        60,
    )
    .unwrap();
    let debug = format!("{settings:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("CLOUDFLARE_API_TOKEN"), "{debug}");
    let provider = Cloudflare::new(settings).unwrap();
    assert!(!format!("{provider:?}").contains(TOKEN));
}

#[test]
fn zone_candidates_table() {
    let cases: &[(&str, &[&str])] = &[
        (
            "_dnsauth.shop.Example.com.",
            &[
                "_dnsauth.shop.example.com",
                "shop.example.com",
                "example.com",
            ],
        ),
        ("example.com", &["example.com"]),
        ("localhost", &["localhost"]),
    ];
    for (name, want) in cases {
        assert_eq!(crate::publish::txt::zone_candidates(name), *want, "{name}");
    }
}

fn txt(name: &str, value: &str) -> Record {
    Record {
        domain: name.trim_start_matches("_dnsauth.").into(),
        rtype: RecordType::Txt,
        name: name.into(),
        value: value.into(),
    }
}

fn cname(name: &str, target: &str) -> Record {
    Record {
        rtype: RecordType::Cname,
        ..txt(name, target)
    }
}

#[test]
fn content_table() {
    let long = "x".repeat(300);
    assert_eq!(record_content(&txt("a", "tok")), "\"tok\"");
    assert_eq!(
        record_content(&txt("a", "say \"hi\" \\o/")),
        "\"say \\\"hi\\\" \\\\o/\""
    );
    let split = record_content(&txt("a", &long));
    assert_eq!(
        split,
        format!("\"{}\" \"{}\"", "x".repeat(255), "x".repeat(45))
    );
    assert!(content_matches(&txt("a", &long), &split));
    assert_eq!(
        record_content(&cname("a", "Tok.DCV.digicert.com.")),
        "tok.dcv.digicert.com"
    );
    // (record, stored content, matches)
    let cases = [
        (txt("a", "tok"), "tok", true),
        (txt("a", "tok"), "\"tok\"", true),
        (txt("a", "tok"), "\"to\" \"k\"", true),
        (txt("a", "tok"), "\"tok", false),
        (txt("a", "tok"), "TOK", false),
        (txt("a", "say \"hi\""), "\"say \\\"hi\\\"\"", true),
        (
            cname("a", "t.dcv.digicert.com"),
            "T.dcv.digicert.com.",
            true,
        ),
        (
            cname("a", "t.dcv.digicert.com"),
            "u.dcv.digicert.com",
            false,
        ),
    ];
    for (record, content, want) in cases {
        assert_eq!(
            content_matches(&record, content),
            want,
            "{record} vs {content}"
        );
    }
}

/// A fake with zones example.test and other.test, and a provider pointed at it.
fn world() -> (FakeCloudflare, Cloudflare) {
    let fake = FakeCloudflare::start(
        "127.0.0.1:0".parse().unwrap(),
        FakeCloudflareConfig::with_token(TOKEN).with_key("admin@example.test", "c0ffee"),
    )
    .unwrap();
    fake.add_zone("example.test");
    fake.add_zone("other.test");
    let provider = provider_for(
        &fake,
        CloudflareAuth::Token {
            token: Secret::new(TOKEN),
            source: "CLOUDFLARE_API_TOKEN".into(),
        },
    );
    (fake, provider)
}

fn provider_for(fake: &FakeCloudflare, auth: CloudflareAuth) -> Cloudflare {
    let mut settings = CloudflareSettings::new(auth, Some(&fake.url()), 60).unwrap();
    settings.timeout = Duration::from_secs(5);
    settings.retry.first = Duration::from_millis(10);
    Cloudflare::new(settings).unwrap()
}

#[test]
fn the_crates_own_types_read_the_fakes_objects() {
    // The fake must stay complete enough for the crate's strict Zone and DnsRecord.
    use cloudflare::endpoints::dns::dns::{ListDnsRecords, ListDnsRecordsParams};
    use cloudflare::endpoints::zones::zone::{ListZones, ListZonesParams};
    use cloudflare::framework::Environment;
    use cloudflare::framework::client::ClientConfig;
    use cloudflare::framework::client::blocking_api::HttpApiClient;
    let (fake, _) = world();
    fake.add_record("_dnsauth.example.test", "TXT", "\"tok\"");
    fake.add_record("www.example.test", "CNAME", "example.test");
    let api = HttpApiClient::new(
        Credentials::UserAuthToken {
            token: TOKEN.into(),
        },
        ClientConfig::default(),
        Environment::Custom(fake.url()),
    )
    .unwrap();
    let zones = api
        .request(&ListZones {
            params: ListZonesParams {
                name: Some("example.test".into()),
                ..Default::default()
            },
        })
        .unwrap();
    assert_eq!(zones.result.len(), 1);
    let zone = &zones.result[0];
    assert_eq!(zone.name, "example.test");
    let records = api
        .request(&ListDnsRecords {
            zone_identifier: &zone.id,
            params: ListDnsRecordsParams::default(),
        })
        .unwrap();
    assert_eq!(records.result.len(), 2);
    // And the crate's own create call is accepted and answered with a complete record.
    use cloudflare::endpoints::dns::dns::{CreateDnsRecord, CreateDnsRecordParams};
    let created = api
        .request(&CreateDnsRecord {
            zone_identifier: &zone.id,
            params: CreateDnsRecordParams {
                ttl: Some(60),
                priority: None,
                proxied: None,
                name: "x.example.test",
                content: DnsContent::TXT {
                    content: "\"v\"".into(),
                },
            },
        })
        .unwrap();
    assert_eq!(created.result.name, "x.example.test");
}

#[test]
fn present_and_cleanup_through_the_api() {
    let (fake, mut cf) = world();
    let records = [
        txt("_dnsauth.a.example.test", "tok-a"),
        txt("_dnsauth.b.other.test", "tok-b"),
        cname("_dnsauth.c.example.test", "tok-c.dcv.digicert.com"),
    ];
    let published = cf.present(&records).unwrap();
    let locations: Vec<&str> = published.iter().map(|p| p.location.as_str()).collect();
    assert_eq!(locations, ["example.test", "other.test", "example.test"]);
    assert!(
        published
            .iter()
            .all(|p| !p.preexisting && !p.undo.contains_key("server"))
    );
    assert!(published.iter().all(|p| p.provider == NAME));
    let stored = fake.records();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].content, "\"tok-a\"");
    assert_eq!((stored[0].ttl, stored[0].proxied), (60, false));
    assert_eq!(stored[2].rtype, "CNAME");
    // Requests carry the token and a User-Agent, and zones are looked up once each.
    let log = fake.requests();
    assert!(log.iter().all(|r| r.auth == dcv_sim::AuthSeen::Token));
    assert!(log.iter().all(|r| {
        r.user_agent
            .as_deref()
            .is_some_and(|u| u.starts_with("dcv-hook/"))
    }));
    let zone_lookups: Vec<String> = log
        .iter()
        .filter(|r| r.endpoint() == "zones")
        .filter_map(|r| r.query("name"))
        .collect();
    assert_eq!(
        zone_lookups,
        [
            "_dnsauth.a.example.test",
            "a.example.test",
            "example.test",
            "_dnsauth.b.other.test",
            "b.other.test",
            "other.test",
            "_dnsauth.c.example.test",
            "c.example.test",
        ]
    );

    cf.cleanup(&published).unwrap();
    assert!(fake.records().is_empty());
    // Again: already gone is fine.
    cf.cleanup(&published).unwrap();
}

#[test]
fn legacy_key_authenticates_with_email_and_key_headers() {
    let (fake, _) = world();
    let mut cf = provider_for(
        &fake,
        CloudflareAuth::Key {
            email: "admin@example.test".into(),
            key: Secret::new("c0ffee"),
            source: "/etc/cf.ini".into(),
        },
    );
    let published = cf.present(&[txt("example.test", "tok")]).unwrap();
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.auth == dcv_sim::AuthSeen::Key)
    );
    cf.cleanup(&published).unwrap();

    let mut wrong = provider_for(
        &fake,
        CloudflareAuth::Key {
            email: "admin@example.test".into(),
            key: Secret::new("bad"),
            source: "/etc/cf.ini".into(),
        },
    );
    let err = wrong.present(&[txt("example.test", "tok")]).unwrap_err();
    assert_eq!(err.kind(), Kind::NoPerm, "{err}");
    assert!(err.message().contains("9103"), "{err}");
    assert!(
        err.message()
            .contains("admin@example.test from /etc/cf.ini"),
        "{err}"
    );
}

#[test]
fn a_failure_takes_back_what_the_call_created() {
    let (fake, mut cf) = world();
    let err = cf
        .present(&[
            txt("_dnsauth.a.example.test", "tok-a"),
            txt("_dnsauth.b.example.test", "tok-b"),
            txt("_dnsauth.nowhere.invalid", "tok-c"),
        ])
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Config, "{err}");
    assert!(fake.records().is_empty(), "{:?}", fake.records());
    let deletes = fake
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert_eq!(deletes, 2);
}

#[test]
fn a_create_whose_answer_was_lost_is_ours() {
    let (fake, mut cf) = world();
    // Cloudflare's edge answers 502 after the record was created: the retry finds it, and it is
    // ours to clean up, not someone else's.
    fake.fail_next_on("POST", 1, CfFault::AfterApplying(502));
    let published = cf.present(&[txt("_dnsauth.example.test", "tok")]).unwrap();
    assert!(!published[0].preexisting);
    assert_eq!(fake.records().len(), 1);
    let posts = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "found by looking, not created twice");
    cf.cleanup(&published).unwrap();
    assert!(fake.records().is_empty());
}

#[test]
fn a_record_added_meanwhile_is_someone_elses() {
    let (fake, mut cf) = world();
    // Another client's identical value appears between our look and our create: Cloudflare
    // answers 400 code 81058, which the crate cannot read; the look-up decides.
    fake.fail_next_on("POST", 1, CfFault::LostRace);
    let published = cf.present(&[txt("_dnsauth.example.test", "tok")]).unwrap();
    assert!(published[0].preexisting);
    cf.cleanup(&published).unwrap();
    assert_eq!(fake.records().len(), 1, "left alone");
}

#[test]
fn cloudflare_refusals_table() {
    let (fake, mut cf) = world();
    fake.add_record("_dnsauth.cn.example.test", "CNAME", "elsewhere.example.net");
    fake.add_record("_dnsauth.taken.example.test", "TXT", "someone");
    fake.add_zone_with_status("pending.test", "pending");
    // (record, kind, words)
    let cases: Vec<(Record, Kind, &[&str])> = vec![
        (
            txt("_dnsauth.cn.example.test", "tok"),
            Kind::DataErr,
            &["HTTP 400", "is a CNAME to elsewhere.example.net"],
        ),
        (
            cname("_dnsauth.taken.example.test", "tok.dcv.digicert.com"),
            Kind::DataErr,
            &["HTTP 400", "already holds TXT records"],
        ),
        (
            cname("_dnsauth.cn.example.test", "tok.dcv.digicert.com"),
            Kind::DataErr,
            &["already is a CNAME to elsewhere.example.net"],
        ),
        (
            txt("_dnsauth.pending.test", "tok"),
            Kind::Config,
            &["pending.test is pending"],
        ),
    ];
    for (record, kind, words) in cases {
        let err = cf.present(std::slice::from_ref(&record)).unwrap_err();
        assert_eq!(err.kind(), kind, "{record}: {err}");
        for word in words {
            assert!(err.message().contains(word), "{record}: {err}");
        }
    }
    assert_eq!(fake.records().len(), 2);
}

#[test]
fn server_errors_are_retried_then_reported_as_unavailable() {
    let (fake, mut cf) = world();
    fake.fail_next(2, CfFault::Status(503));
    let published = cf.present(&[txt("_dnsauth.example.test", "tok")]).unwrap();
    assert_eq!(fake.records().len(), 1);

    fake.fail_next(10, CfFault::Status(500));
    let err = cf.cleanup(&published).unwrap_err();
    assert_eq!(err.kind(), Kind::Unavailable, "{err}");
    assert!(err.message().contains("HTTP 500, code 10001"), "{err}");
    assert!(err.message().contains("after 5 attempts"), "{err}");

    let mut nowhere = provider_for(
        &fake,
        CloudflareAuth::Token {
            token: Secret::new(TOKEN),
            source: "CF_Token".into(),
        },
    );
    drop(fake);
    let err = nowhere.present(&[txt("a.example.test", "x")]).unwrap_err();
    assert_eq!(err.kind(), Kind::Unavailable, "{err}");
    assert!(err.message().contains("no answer"), "{err}");
}

#[test]
fn args_parse_under_their_own_heading() {
    use clap::{CommandFactory, Parser};
    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        cloudflare: CloudflareArgs,
    }
    Cli::command().debug_assert();
    let cli = Cli::try_parse_from([
        "dcv-hook",
        "--cloudflare-credentials",
        "/etc/cf.ini",
        "--cloudflare-api-url",
        "https://cf.example/client/v4",
    ])
    .unwrap();
    assert_eq!(
        cli.cloudflare.cloudflare_credentials,
        Some(PathBuf::from("/etc/cf.ini"))
    );
    assert_eq!(
        cli.cloudflare.cloudflare_api_url.as_deref(),
        Some("https://cf.example/client/v4")
    );
    let help = Cli::command().render_help().to_string();
    assert!(help.contains("Provider: cloudflare"), "{help}");
    assert!(help.contains("dns_cloudflare_api_token"), "{help}");
}
