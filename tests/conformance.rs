//! One conformance test every `Publisher` passes (certbot's BaseAuthenticatorTest idea): present adds
//! the records, leaves what was there, reports a value that was already present as such, and cleanup
//! removes exactly what present added, twice without harm.

use crate::support::bind::{BindFixture, BindOptions};
use dcv_hook::publish::Publisher;
use dcv_hook::publish::cloudflare::{Cloudflare, CloudflareAuth, CloudflareSettings};
use dcv_hook::publish::exec::Exec;
use dcv_hook::publish::rfc2136::{Rfc2136, Rfc2136Settings};
use dcv_hook::publish::webroot::Webroot;
use dcv_hook::record::{Record, RecordType};
use dcv_hook::secret::Secret;
use std::time::Duration;

/// What a provider's world holds for a record's name: the values a reader sees there.
type Reader<'a> = dyn Fn(&Record) -> Vec<String> + 'a;

/// `ours` are published; `foreign` is put there beforehand by `seed` and must survive everything.
/// `sees_its_values`: the provider can tell a value is already there (a program run by `exec`
/// cannot say, so it only has to be harmless to present twice).
fn conformance(
    publisher: &mut dyn Publisher,
    ours: &[Record],
    seed: &dyn Fn(),
    read: &Reader,
    sees_its_values: bool,
) {
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
        !sees_its_values || again.iter().all(|p| p.preexisting),
        "second present must see its values: {again:?}"
    );
    for record in ours {
        let copies = read(record).iter().filter(|v| **v == record.value).count();
        assert_eq!(copies, 1, "{record} must not be duplicated");
    }
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
    conformance(&mut publisher, &[record], &seed, &read, true);
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
    conformance(&mut publisher, &ours, &seed, &read, true);
}

#[test]
fn exec_conforms_with_the_nsupdate_example() {
    let bind = BindFixture::start(BindOptions {
        lag: Some(Duration::ZERO),
    });
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("tsig.key");
    std::fs::write(
        &key,
        format!(
            "key \"{}\" {{ algorithm hmac-sha256; secret \"{}\"; }};\n",
            bind.key_name(),
            bind.secret()
        ),
    )
    .unwrap();
    // The example reads its settings from the environment; a wrapper sets them (changing this test
    // process's environment would race the other tests' threads).
    let example =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hooks/examples/exec-nsupdate");
    let script = dir.path().join("with-settings");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nNSUPDATE_SERVER={} NSUPDATE_KEY_FILE={} exec {} \"$@\"\n",
            bind.primary(),
            key.display(),
            example.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let txt = |name: &str, value: &str| Record {
        domain: name.into(),
        rtype: RecordType::Txt,
        name: name.into(),
        value: value.into(),
    };
    let seed = || {
        Rfc2136::new(
            Rfc2136Settings::new(
                bind.primary_addr(),
                bind.key_name(),
                Secret::new(bind.secret()),
            ),
            bind.resolver(),
        )
        .unwrap()
        .present(&[txt("exec.example.test", "foreign")])
        .unwrap();
    };
    let read = |r: &Record| bind.txt_values(bind.primary(), &r.name);
    let mut publisher = Exec::new(&script, Duration::from_secs(20)).unwrap();
    let ours = [
        txt("exec.example.test", "ours-1"),
        txt("exec.other.test", "ours-2"),
    ];
    conformance(&mut publisher, &ours, &seed, &read, false);
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
    conformance(&mut publisher, &ours, &seed, &read, true);
}

#[test]
fn powerdns_conforms() {
    use dcv_hook::publish::powerdns::{PowerDns, PowerDnsSettings};
    let pdns = crate::support::pdns::PdnsFixture::start();
    let txt = |name: &str, value: &str| Record {
        domain: name.into(),
        rtype: RecordType::Txt,
        name: name.into(),
        value: value.into(),
    };
    let ours = [
        txt("conf.example.test", "ours-1"),
        txt("conf.example.test", "ours-3"),
        txt("conf.other.test", "ours-2"),
    ];
    let seed = || pdns.add_foreign_txt("example.test", "conf.example.test", "foreign");
    let read = |r: &Record| pdns.txt_values(&r.name);
    let settings = PowerDnsSettings::new(
        &pdns.api_url(),
        Secret::new(pdns.api_key()),
        "PDNS_API_KEY",
        60,
    )
    .unwrap();
    let mut publisher = PowerDns::new(settings).unwrap();
    conformance(&mut publisher, &ours, &seed, &read, true);
}
