use super::*;
use crate::error::Kind;
use std::collections::HashMap;

struct Vars(HashMap<&'static str, String>);

impl Env for Vars {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn write(dir: &Path, name: &str, json: serde_json::Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

fn user(token_uri: &str) -> serde_json::Value {
    serde_json::json!({"type": "authorized_user", "client_id": "id", "client_secret": "s3cret",
        "refresh_token": "r3fresh", "token_uri": token_uri})
}

#[test]
fn sources_are_tried_in_order_and_the_metadata_server_only_when_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = write(
        dir.path(),
        "env.json",
        user("https://oauth2.googleapis.com/token"),
    );
    let gcloud = dir.path().join("gcloud");
    std::fs::create_dir_all(&gcloud).unwrap();
    write(
        &gcloud,
        "application_default_credentials.json",
        user("https://oauth2.googleapis.com/token"),
    );
    let vars = |pairs: &[(&'static str, &Path)]| {
        Vars(
            pairs
                .iter()
                .map(|(k, v)| (*k, v.display().to_string()))
                .collect(),
        )
    };
    let adc = vars(&[("CLOUDSDK_CONFIG", &gcloud)]);
    let found = Credentials::find(None, false, None, &adc).unwrap();
    assert!(
        found
            .origin
            .ends_with("gcloud/application_default_credentials.json"),
        "{found:?}"
    );
    let both = vars(&[
        ("CLOUDSDK_CONFIG", &gcloud),
        ("GOOGLE_APPLICATION_CREDENTIALS", &env_file),
    ]);
    let found = Credentials::find(None, false, None, &both).unwrap();
    assert_eq!(found.origin, env_file.display().to_string());
    // Metadata: chosen by the flag, by GCE_METADATA_HOST, or remembered; never by default.
    let none = Vars(HashMap::new());
    let err = Credentials::find(None, false, Some("127.0.0.1:1"), &none).unwrap_err();
    assert_eq!(err.kind(), Kind::Config);
    assert!(
        err.message().contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{err}"
    );
    let chosen = Credentials::find(None, true, Some("127.0.0.1:1"), &none).unwrap();
    assert_eq!(chosen.origin, "the metadata server at 127.0.0.1:1");
    let host = Vars([("GCE_METADATA_HOST", "127.0.0.2:80".to_string())].into());
    let by_env = Credentials::find(None, false, None, &host).unwrap();
    assert_eq!(by_env.origin, "the metadata server at 127.0.0.2:80");
}

/// A service account file with a key that is no RSA key, changed by `extra`.
fn service_account(extra: serde_json::Value) -> serde_json::Value {
    let mut json = serde_json::json!({"type": "service_account", "client_email": "a@b",
        "private_key": "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n"});
    json.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json
}

#[test]
fn bad_files_are_refused_naming_the_file_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let sa = service_account;
    let cases = [
        (
            sa(serde_json::json!({})),
            Kind::Config,
            "not an RSA private key",
        ),
        (
            sa(serde_json::json!({"client_email": ""})),
            Kind::Config,
            "client_email",
        ),
        (
            sa(serde_json::json!({"private_key": ""})),
            Kind::Config,
            "private_key is missing",
        ),
        (
            sa(serde_json::json!({"token_uri": "http://192.0.2.1/token"})),
            Kind::Usage,
            "unencrypted",
        ),
        (
            serde_json::json!({"type": "external_account"}),
            Kind::Config,
            "audience",
        ),
        (
            serde_json::json!({"type": "external_account", "audience": "a",
                "subject_token_type": "t", "credential_source": {"executable": {}}}),
            Kind::Config,
            "not supported",
        ),
        (
            serde_json::json!({"type": "nonsense"}),
            Kind::Config,
            "unknown type",
        ),
        (
            user("https://oauth2.googleapis.com/token"),
            Kind::Config,
            "",
        ),
    ];
    for (i, (json, kind, says)) in cases.into_iter().enumerate() {
        let path = write(dir.path(), &format!("{i}.json"), json);
        match Credentials::from_file(&path, "GOOGLE_APPLICATION_CREDENTIALS") {
            Ok(found) => assert!(says.is_empty(), "{i}: accepted {found:?}"),
            Err(err) => {
                assert_eq!(err.kind(), kind, "{i}: {err}");
                assert!(err.message().contains(says), "{i}: {err}");
                assert!(!err.message().contains("c2VjcmV0"), "{i}: {err}");
            }
        }
    }
}

#[test]
fn a_file_that_is_no_json_is_refused_naming_the_line_never_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"private_key\": \"s3cret").unwrap();
    let err = Credentials::from_file(&broken, "--google-credentials").unwrap_err();
    assert!(err.message().contains("line 1"), "{err}");
    assert!(!err.message().contains("s3cret"), "{err}");
}
