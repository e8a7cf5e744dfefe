use super::*;

#[test]
fn queries_carry_the_filters() {
    let zones = ListZones {
        name: "example.com",
        page: 2,
    };
    assert_eq!(
        zones.query().unwrap(),
        "name=example.com&page=2&per_page=50"
    );
    let records = ListRecords {
        zone_id: "z1",
        name: "_dnsauth.a b.example.com",
        rtype: Some("TXT"),
        page: 1,
    };
    assert_eq!(records.path(), "zones/z1/dns_records");
    assert_eq!(
        records.query().unwrap(),
        "name=_dnsauth.a+b.example.com&type=TXT&page=1&per_page=100"
    );
    let env = Environment::Custom("http://127.0.0.1:9/client/v4/".into());
    assert_eq!(
        records.url(&env).as_str(),
        "http://127.0.0.1:9/client/v4/zones/z1/dns_records?name=_dnsauth.a+b.example.com&type=TXT&page=1&per_page=100"
    );
}

#[test]
fn create_body_is_what_cloudflare_expects() {
    let endpoint = CreateRecord {
        zone_id: "z1",
        params: CreateDnsRecordParams {
            ttl: Some(60),
            priority: None,
            proxied: Some(false),
            name: "_dnsauth.example.com",
            content: DnsContent::TXT {
                content: "\"tok\"".into(),
            },
        },
    };
    let Some(RequestBody::Json(body)) = endpoint.body() else {
        panic!("no JSON body");
    };
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"ttl": 60, "proxied": false, "name": "_dnsauth.example.com", "type": "TXT", "content": "\"tok\""})
    );
}
