//! One conformance test every `Publisher` passes (certbot's BaseAuthenticatorTest idea): present adds
//! the records, leaves what was there, reports a value that was already present as such, and cleanup
//! removes exactly what present added, twice without harm.

use crate::support::bind::{BindFixture, BindOptions};
use dcv_hook::publish::Publisher;
use dcv_hook::publish::cloudflare::{Cloudflare, CloudflareAuth, CloudflareSettings};
use dcv_hook::publish::rfc2136::{Rfc2136, Rfc2136Settings};
use dcv_hook::publish::webroot::Webroot;
use dcv_hook::record::{Record, RecordType};
use dcv_hook::secret::Secret;
use std::time::Duration;

/// What a provider's world holds for a record's name: the values a reader sees there.
type Reader<'a> = dyn Fn(&Record) -> Vec<String> + 'a;

/// `ours` are published; `foreign` is put there beforehand by `seed` and must survive everything.
fn conformance(publisher: &mut dyn Publisher, ours: &[Record], seed: &dyn Fn(), read: &Reader) {
    seed();
    let before: Vec<Vec<String>> = ours.iter().map(read).collect();
    let published = publisher.present(ours).expect("present");
    assert_eq!(published.len(), ours.len(), "one Published per record");
    for (record, p) in ours.iter().zip(&published) {
        assert_eq!(&p.record, record);
        assert_eq!(p.provider, publisher.provider());
        assert!(!p.preexisting, "{record} was not there before");
        assert!(
            read(record).contains(&record.value),
            "{record} not published"
        );
    }
    // Presenting again finds the values and says so; it does not duplicate them.
    let again = publisher.present(ours).expect("present again");
    assert!(
        again.iter().all(|p| p.preexisting),
        "second present must see its values: {again:?}"
    );
    publisher.cleanup(&published).expect("cleanup");
    for (record, was) in ours.iter().zip(&before) {
        assert_eq!(&read(record), was, "cleanup must restore {}", record.name);
    }
    publisher
        .cleanup(&published)
        .expect("cleanup of what is gone is fine");
}

#[test]
fn webroot_conforms() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join(".well-known/pki-validation/fileauth.txt");
    let record = Record {
        domain: "www.example.test".into(),
        rtype: RecordType::Http,
        name: "http://www.example.test/.well-known/pki-validation/fileauth.txt".into(),
        value: "conformance-token".into(),
    };
    let seed = || {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "foreign").unwrap();
    };
    let read = |_: &Record| {
        std::fs::read_to_string(&file)
            .map(|s| vec![s])
            .unwrap_or_default()
    };
    let mut publisher = Webroot::new(root.path()).unwrap();
    conformance(&mut publisher, &[record], &seed, &read);
}

#[test]
fn rfc2136_conforms() {
    let bind = BindFixture::start(BindOptions {
        lag: Some(Duration::ZERO),
    });
    let settings = || {
        Rfc2136Settings::new(
            bind.primary_addr(),
            bind.key_name(),
            Secret::new(bind.secret()),
        )
    };
    let txt = |name: &str, value: &str| Record {
        domain: name.into(),
        rtype: RecordType::Txt,
        name: name.into(),
        value: value.into(),
    };
    let ours = [
        txt("conf.example.test", "ours-1"),
        txt("conf.other.test", "ours-2"),
    ];
    let seed = || {
        let mut other = Rfc2136::new(settings(), bind.resolver()).unwrap();
        other
            .present(&[txt("conf.example.test", "foreign")])
            .unwrap();
    };
    let read = |r: &Record| bind.txt_values(bind.primary(), &r.name);
    let mut publisher = Rfc2136::new(settings(), bind.resolver()).unwrap();
    conformance(&mut publisher, &ours, &seed, &read);
}

#[test]
fn cloudflare_conforms() {
    use dcv_sim::cloudflare::wire_value;
    use dcv_sim::{FakeCloudflare, FakeCloudflareConfig};
    let token = "cfut_conformance0123456789abcdefghijklmn";
    let fake = FakeCloudflare::start(
        "127.0.0.1:0".parse().unwrap(),
        FakeCloudflareConfig::with_token(token),
    )
    .unwrap();
    fake.add_zone("example.test");
    fake.add_zone("other.test");
    let txt = |name: &str, value: &str| Record {
        domain: name.into(),
        rtype: RecordType::Txt,
        name: name.into(),
        value: value.into(),
    };
    let ours = [
        txt("conf.example.test", "ours-1"),
        txt("conf.other.test", "ours-2"),
    ];
    let seed = || {
        fake.add_record("conf.example.test", "TXT", "foreign");
    };
    let read = |r: &Record| {
        let mut values: Vec<String> = fake
            .records_named(&r.name)
            .iter()
            .map(|x| wire_value(&x.rtype, &x.content))
            .collect();
        values.sort();
        values
    };
    let auth = CloudflareAuth::Token {
        token: Secret::new(token),
        source: "CLOUDFLARE_API_TOKEN".into(),
    };
    let settings = CloudflareSettings::new(auth, Some(&fake.url()), 60).unwrap();
    let mut publisher = Cloudflare::new(settings).unwrap();
    conformance(&mut publisher, &ours, &seed, &read);
}
