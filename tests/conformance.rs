//! One conformance test every provider passes (certbot's BaseAuthenticatorTest idea), through the
//! provider table as dcv-hook uses it: the publisher is built from its flags (`ProviderSpec::build`);
//! present adds the records, leaves what was there, reports a value that was already present as
//! such; every record it reports is one cleanup group (`publish::group_key`); a publisher built
//! from the saved undo data alone (a flagless cleanup) removes exactly what present added, twice
//! without harm; and a present that fails part-way leaves nothing behind, or says it may have.

use crate::support::bind::{BindFixture, BindOptions};
use dcv_hook::env::Env;
use dcv_hook::error::{Error, Result};
use dcv_hook::publish::{self, Publisher, Setup};
use dcv_hook::record::{HttpUrl, Published, Record, RecordType};
use dcv_hook::resolver::Resolver;
use std::sync::Arc;
use std::time::Duration;

/// What a provider's world holds for a record's name: the values a reader sees there.
type Reader<'a> = dyn Fn(&Record) -> Vec<String> + 'a;

/// The environment a case gives its provider (empty for most: settings come from flags and the
/// state only).
struct CaseEnv<'a>(&'a [(&'static str, String)]);

impl Env for CaseEnv<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

/// How one provider is built and checked.
struct Case<'a> {
    provider: &'static str,
    /// Its flags, as on the command line.
    flags: Vec<String>,
    resolver: Option<Arc<Resolver>>,
    /// Published, then cleaned up.
    ours: Vec<Record>,
    /// Put there beforehand; must survive everything.
    seed: &'a dyn Fn(),
    read: &'a Reader<'a>,
    /// The provider can tell a value is already there (a program run by `exec` cannot say, so it
    /// only has to be harmless to present twice).
    sees_its_values: bool,
    /// Records whose present fails part-way (the last one is refused).
    failing: Vec<Record>,
    /// The environment the provider sees.
    env: Vec<(&'static str, String)>,
}

impl Case<'_> {
    /// The provider built as dcv-hook builds it: from `flags` (auth) or from what the state
    /// remembered with no flags at all (a flagless cleanup).
    fn build(&self, flags: &[String], remembered: &[Published]) -> Box<dyn Publisher> {
        build_in(
            &self.env,
            self.provider,
            flags,
            self.resolver.clone(),
            remembered,
        )
    }
}

/// Provider `name` built through the provider table from `flags` and `remembered`.
fn build(
    name: &str,
    flags: &[String],
    resolver: Option<Arc<Resolver>>,
    remembered: &[Published],
) -> Box<dyn Publisher> {
    build_in(&[], name, flags, resolver, remembered)
}

/// [`build`] with the environment `env`.
fn build_in(
    env: &[(&'static str, String)],
    name: &str,
    flags: &[String],
    resolver: Option<Arc<Resolver>>,
    remembered: &[Published],
) -> Box<dyn Publisher> {
    let spec = publish::spec(name).unwrap();
    let line = ["dcv-hook", "auth"].into_iter().map(String::from);
    let cli = dcv_hook::cli::parse(line.chain(flags.iter().cloned())).unwrap();
    let provider_flags = cli.options.providers;
    let resolver = || -> Result<Arc<Resolver>> {
        resolver
            .clone()
            .ok_or_else(|| Error::software("no resolver in this test"))
    };
    let setup = Setup {
        flags: &provider_flags,
        env: &CaseEnv(env),
        remembered,
        ttl: 60,
        resolver: &resolver,
        state_dir: state_dir(),
    };
    (spec.build)(&setup).unwrap_or_else(|e| panic!("{name} builds: {e}"))
}

/// One state directory for every publisher of this test binary (their zone locks go there).
fn state_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// The rfc2136 flags for `bind`'s primary, the secret in `secret`.
fn rfc2136_flags(bind: &BindFixture, secret: &std::path::Path) -> Vec<String> {
    private_file(secret, bind.secret());
    flags(&[
        "--rfc2136-server",
        &bind.primary_addr().to_string(),
        "--tsig-key",
        bind.key_name(),
        "--tsig-secret-file",
        secret.to_str().unwrap(),
    ])
}

fn conformance(case: Case) {
    let (ours, read) = (&case.ours, case.read);
    let mut publisher = case.build(&case.flags, &[]);
    (case.seed)();
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
        assert_eq!(
            publish::group_key(p),
            publish::group_key(&published[0]),
            "one publisher's records are one cleanup group"
        );
    }
    // Presenting again finds the values and says so; it does not duplicate them.
    let again = publisher.present(ours).expect("present again");
    assert!(
        !case.sees_its_values || again.iter().all(|p| p.preexisting),
        "second present must see its values: {again:?}"
    );
    for record in ours {
        let copies = read(record).iter().filter(|v| **v == record.value).count();
        assert_eq!(copies, 1, "{record} must not be duplicated");
    }
    // A flagless cleanup: built from the saved undo data alone.
    let mut cleaner = case.build(&[], &published);
    cleaner.cleanup(&published).expect("cleanup");
    for (record, was) in ours.iter().zip(&before) {
        assert_eq!(&read(record), was, "cleanup must restore {}", record.name());
    }
    cleaner
        .cleanup(&published)
        .expect("cleanup of what is gone is fine");
    if !case.failing.is_empty() {
        let err = publisher
            .present(&case.failing)
            .expect_err("the last record is refused");
        assert!(!err.may_have_left_records(), "the rollback worked: {err}");
        for record in &case.failing {
            assert!(
                !read(record).contains(&record.value),
                "a failed present left {record}"
            );
        }
    }
}

/// Our two values, at `prefix`.example.test and `prefix`.other.test (two zones).
fn ours(prefix: &str) -> Vec<Record> {
    vec![
        txt(&format!("{prefix}.example.test"), "ours-1"),
        txt(&format!("{prefix}.other.test"), "ours-2"),
    ]
}

/// [`ours`] with a second value at conf.example.test (for the whole-set providers).
fn two_at_one_name() -> Vec<Record> {
    let mut records = ours("conf");
    records.insert(1, txt("conf.example.test", "ours-3"));
    records
}

/// A batch whose first value goes to example.test and whose second fails in `zone`.
fn failing_at(zone: &str) -> Vec<Record> {
    vec![
        txt("fail.example.test", "ours-3"),
        txt(&format!("fail.{zone}"), "ours-4"),
    ]
}

fn txt(name: &str, value: &str) -> Record {
    Record::new_dns(name, RecordType::Txt, name, value)
}

fn flags(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A file only its owner reads, holding `text`.
fn private_file(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
}

#[test]
fn webroot_conforms() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join(".well-known/pki-validation/fileauth.txt");
    let url = HttpUrl {
        host: "www.example.test".into(),
        path: "/.well-known/pki-validation/fileauth.txt".into(),
    };
    let record = Record::new_http("www.example.test", url, "conformance-token");
    let seed = || {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "foreign").unwrap();
    };
    let read = |_: &Record| {
        std::fs::read_to_string(&file)
            .map(|s| vec![s])
            .unwrap_or_default()
    };
    conformance(Case {
        provider: "webroot",
        flags: flags(&["--webroot", root.path().to_str().unwrap()]),
        resolver: None,
        ours: vec![record],
        seed: &seed,
        read: &read,
        sees_its_values: true,
        env: Vec::new(),
        failing: Vec::new(),
    });
}

#[test]
fn rfc2136_conforms() {
    let bind = BindFixture::start(BindOptions {
        lag: Some(Duration::ZERO),
    });
    let dir = tempfile::tempdir().unwrap();
    let flags = rfc2136_flags(&bind, &dir.path().join("tsig.secret"));
    let seed = || {
        build("rfc2136", &flags, Some(bind.resolver()), &[])
            .present(&[txt("conf.example.test", "foreign")])
            .unwrap();
    };
    let read = |r: &Record| bind.txt_values(bind.primary(), &r.name());
    conformance(Case {
        provider: "rfc2136",
        flags: flags.clone(),
        resolver: Some(bind.resolver()),
        ours: ours("conf"),
        seed: &seed,
        read: &read,
        sees_its_values: true,
        env: Vec::new(),
        // Zones go out in name order: example.test is taken back when locked.test refuses.
        failing: failing_at("locked.test"),
    });
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
    let rfc2136 = rfc2136_flags(&bind, &dir.path().join("tsig.secret"));
    let seed = || {
        build("rfc2136", &rfc2136, Some(bind.resolver()), &[])
            .present(&[txt("exec.example.test", "foreign")])
            .unwrap();
    };
    let read = |r: &Record| bind.txt_values(bind.primary(), &r.name());
    conformance(Case {
        provider: "exec",
        flags: flags(&["--exec", script.to_str().unwrap(), "--exec-timeout", "20"]),
        resolver: None,
        ours: ours("exec"),
        seed: &seed,
        read: &read,
        sees_its_values: false,
        env: Vec::new(),
        // locked.test refuses the program's update: the one before it is taken back.
        failing: failing_at("locked.test"),
    });
}

#[test]
fn cloudflare_conforms() {
    use dcv_sim::cloudflare::wire_value;
    use dcv_sim::{CfFault, FakeCloudflare, FakeCloudflareConfig};
    let token = "cfut_conformance0123456789abcdefghijklmn";
    let fake = FakeCloudflare::start(
        "127.0.0.1:0".parse().unwrap(),
        FakeCloudflareConfig::with_token(token),
    )
    .unwrap();
    fake.add_zone("example.test");
    fake.add_zone("other.test");
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("cf.ini");
    private_file(
        &credentials,
        &format!("dns_cloudflare_api_token = {token}\n"),
    );
    let seed = || {
        fake.add_record("conf.example.test", "TXT", "foreign");
    };
    let read = |r: &Record| {
        let mut values: Vec<String> = fake
            .records_named(&r.name())
            .iter()
            .map(|x| wire_value(&x.rtype, &x.content))
            .collect();
        values.sort();
        values
    };
    let cf_flags = flags(&[
        "--cloudflare-api-url",
        &fake.url(),
        "--cloudflare-credentials",
        credentials.to_str().unwrap(),
    ]);
    let case = Case {
        provider: "cloudflare",
        flags: cf_flags.clone(),
        resolver: None,
        ours: ours("conf"),
        seed: &seed,
        read: &read,
        sees_its_values: true,
        env: Vec::new(),
        // No zone holds nowhere.test: the record created before it is deleted again.
        failing: failing_at("nowhere.test"),
    };
    conformance(case);

    // A failed rollback says something may be live; what `prepare` recorded before the change
    // is enough for a flagless cleanup to remove it.
    let case = Case {
        provider: "cloudflare",
        flags: cf_flags,
        resolver: None,
        ours: Vec::new(),
        seed: &|| {},
        read: &read,
        sees_its_values: true,
        env: Vec::new(),
        failing: Vec::new(),
    };
    let records = [
        txt("left.example.test", "ours-5"),
        txt("left.nowhere.test", "ours-6"),
    ];
    let mut publisher = case.build(&case.flags, &[]);
    let pending = publisher.prepare(&records[..1]).unwrap();
    fake.fail_next_on("DELETE", 1, CfFault::Status(403));
    let err = publisher.present(&records).unwrap_err();
    assert!(err.may_have_left_records(), "{err}");
    assert!(err.message().contains("could not take back"), "{err}");
    assert_eq!(read(&records[0]), ["ours-5"]);
    case.build(&[], &pending).cleanup(&pending).unwrap();
    assert!(read(&records[0]).is_empty());
}

#[test]
fn powerdns_conforms() {
    let pdns = crate::support::pdns::PdnsFixture::start();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("pdns.key");
    private_file(&key_file, pdns.api_key());
    let seed = || pdns.add_foreign_txt("example.test", "conf.example.test", "foreign");
    let read = |r: &Record| {
        let mut values = pdns.txt_values(&r.name());
        values.sort();
        values
    };
    let case = Case {
        provider: "powerdns",
        flags: flags(&[
            "--powerdns-url",
            &pdns.api_url(),
            "--powerdns-api-key-file",
            key_file.to_str().unwrap(),
        ]),
        resolver: None,
        ours: two_at_one_name(),
        seed: &seed,
        read: &read,
        sees_its_values: true,
        env: Vec::new(),
        // No zone holds nowhere.test: every zone is found before anything changes.
        failing: vec![
            txt("fail.example.test", "ours-4"),
            txt("fail.nowhere.test", "ours-5"),
        ],
    };
    conformance(case);
}

#[test]
fn azure_conforms() {
    let fake = crate::support::azure::FakeAzure::start();
    let seed = || fake.add_foreign_txt("example.test", "conf.example.test", "foreign");
    let read = |r: &Record| {
        let name = r.name();
        let zone = name.rsplitn(3, '.').take(2).collect::<Vec<_>>();
        fake.txt_values(&format!("{}.{}", zone[1], zone[0]), &name)
    };
    // Azure writes set by set: a refused set takes back the sets written before it, in its zone
    // and in the zones before.
    fake.refuse_writes_at("refused");
    conformance(Case {
        provider: "azure",
        flags: fake.flags(),
        resolver: None,
        ours: two_at_one_name(),
        seed: &seed,
        read: &read,
        sees_its_values: true,
        env: fake.env(),
        failing: vec![
            txt("fail.example.test", "ours-4"),
            txt("fail.other.test", "ours-5"),
            txt("refused.other.test", "ours-6"),
        ],
    });
}

#[cfg(feature = "route53")]
#[test]
fn route53_conforms() {
    let moto = crate::support::moto::MotoFixture::start();
    let zone = moto.zone_id("example.test").to_string();
    let seed = || moto.add_foreign_txt(&zone, "conf.example.test", "foreign");
    let read = |r: &Record| {
        let name = r.name();
        let name = name.as_ref();
        let zone = if name.ends_with("other.test") {
            moto.zone_id("other.test")
        } else {
            moto.zone_id("example.test")
        };
        moto.txt_values(zone, name)
    };
    conformance(Case {
        provider: "route53",
        flags: Vec::new(),
        resolver: None,
        ours: two_at_one_name(),
        seed: &seed,
        read: &read,
        sees_its_values: true,
        env: moto.env(),
        // No hosted zone holds nowhere.test: every zone is found before anything changes.
        failing: vec![
            txt("fail.example.test", "ours-4"),
            txt("fail.nowhere.test", "ours-5"),
        ],
    });
}

#[test]
fn google_conforms() {
    let fake = crate::support::google::FakeGoogle::start();
    let dir = tempfile::tempdir().unwrap();
    let key = fake.service_account_file(dir.path());
    let seed = || fake.add_foreign_txt("example-test", "conf.example.test", "foreign");
    let read = |r: &Record| {
        let zone = if r.name().ends_with("other.test") {
            "other-test"
        } else {
            "example-test"
        };
        fake.txt_values(zone, &r.name())
    };
    // other.test refuses the batch's second value: example.test's change is put back.
    fake.refuse_value("ours-5");
    conformance(Case {
        provider: "google",
        flags: flags(&["--google-endpoint", &fake.endpoint()]),
        resolver: None,
        ours: two_at_one_name(),
        seed: &seed,
        read: &read,
        sees_its_values: true,
        env: vec![
            ("GOOGLE_APPLICATION_CREDENTIALS", key.display().to_string()),
            ("HOME", dir.path().display().to_string()),
        ],
        failing: vec![
            txt("fail.example.test", "ours-4"),
            txt("fail.other.test", "ours-5"),
        ],
    });
}
