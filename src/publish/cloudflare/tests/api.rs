//! Unit tests of the provider against the fake Cloudflare API (no DNS server behind it): present
//! and cleanup, both ways to authenticate, rollback, races, refusals and retries.

use super::*;
use crate::error::Kind;
use cloudflare::framework::auth::Credentials;
use dcv_sim::CfFault;

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
