use super::*;
use crate::error::Kind;

#[test]
fn bad_settings_are_refused_before_any_call() {
    let env = crate::env::FakeEnv::of(&[
        ("AZURE_TENANT_ID", "tenant"),
        ("AZURE_CLIENT_ID", "client"),
        ("AZURE_CLIENT_SECRET", "secret"),
    ]);
    let good = Undo {
        azure_subscription_id: Some("0000-1111".into()),
        azure_resource_group: Some("dns-rg".into()),
        ..Undo::default()
    };
    let settings = AzureSettings::new(&good, &env, 60).unwrap();
    assert_eq!(settings.endpoint, ENDPOINT);
    assert_eq!(settings.authority, AUTHORITY);
    let cases = [
        (
            Kind::Config,
            Undo {
                azure_subscription_id: None,
                ..good.clone()
            },
        ),
        (
            Kind::Usage,
            Undo {
                azure_resource_group: None,
                ..good.clone()
            },
        ),
        (
            Kind::Usage,
            Undo {
                azure_resource_group: Some("../other".into()),
                ..good.clone()
            },
        ),
        (
            Kind::Usage,
            Undo {
                azure_endpoint: Some("http://192.0.2.1:8080".into()),
                ..good.clone()
            },
        ),
        (
            Kind::Usage,
            Undo {
                azure_tenant_id: Some("a/b".into()),
                ..good.clone()
            },
        ),
    ];
    for (kind, undo) in cases {
        let err = AzureSettings::new(&undo, &env, 60).unwrap_err();
        assert_eq!(err.kind(), kind, "{undo:?}: {err}");
    }
}
