//! Unit tests: settings from flags, env and ini files (no network), content encoding, and the
//! provider against the fake Cloudflare API without a DNS server behind it. The BIND-backed tests
//! live in tests/cloudflare.rs. This file holds what the topic files share: the test token, flags,
//! ini files, records, and a provider pointed at a fake Cloudflare.

mod api;
mod content;
mod settings;

use super::*;
use crate::env::FakeEnv;
use crate::secret::Secret;
use dcv_sim::{FakeCloudflare, FakeCloudflareConfig};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
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

fn txt(name: &str, value: &str) -> Record {
    Record::new_dns(
        name.trim_start_matches("_dnsauth."),
        RecordType::Txt,
        name,
        value,
    )
}

fn cname(name: &str, target: &str) -> Record {
    Record::new_dns(
        name.trim_start_matches("_dnsauth."),
        RecordType::Cname,
        name,
        target,
    )
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
