//! Configuration updates: published on the server (or dropped into the exchange
//! folder), validated and applied atomically by the terminal, the applied version
//! reported back; an invalid configuration is refused and the previous one stays.

mod common;
use common::*;
use tsd_core::package::{Header, Kind, PackageWriter};
use tsd_core::Error;
use tsd_server::run::Background;

const RETURNS: &str = r#"{"document_types": [
  {"id": "receiving", "name": "Приёмка", "prefix": "ПР", "allow_overscan": true, "allow_unknown": true},
  {"id": "returns", "name": "Возврат", "prefix": "ВЗ"}
]}"#;

#[test]
fn a_published_configuration_reaches_the_terminal_once_and_its_version_is_reported() {
    let w = World::new(20);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    assert_eq!(admin.publish_config(RETURNS).unwrap(), (1, true));
    assert_eq!(
        admin.publish_config(RETURNS).unwrap(),
        (1, false),
        "the same configuration makes no version"
    );
    let e = admin.publish_config(r#"{"document_types": 5}"#).unwrap_err();
    assert!(matches!(e, tsd_server::Error::Core(Error::Config(_))), "{e}");

    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let (rt, _) = w.terminal("t1");
    assert!(matches!(rt.new_document("returns"), Err(Error::UnknownDocumentType(_))));
    let s = settings(&bg.url, &token);
    let r = rt.sync_server(&s, &mut |_| {}).unwrap();
    assert_eq!(r.config_applied, Some(1));
    assert_eq!(rt.config_version().unwrap(), 1);
    assert!(rt.new_document("returns").unwrap().number.starts_with("ВЗ"));
    assert!(
        matches!(rt.new_document("picking"), Err(Error::UnknownDocumentType(_))),
        "replaced whole"
    );
    assert_eq!(rt.sync_server(&s, &mut |_| {}).unwrap().config_applied, None, "nothing newer");
    let status = &admin.store().devices().unwrap()[0].status;
    assert_eq!(status.as_ref().unwrap()["config_version"], 1, "the applied version is reported");

    // Over HTTP: an invalid configuration is refused with the reason.
    let key = admin.new_integration_key().unwrap();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let mut resp = agent
        .post(format!("{}/v1/config", bg.url))
        .header("Authorization", format!("Bearer {key}"))
        .send(r#"{"document_types": [{"id": "x", "name": "X"}, {"id": "x", "name": "Y"}]}"#)
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    assert!(resp.body_mut().read_to_string().unwrap().contains("config"));
    assert_eq!(rt.config_version().unwrap(), 1);

    // A terminal that reads an older configuration schema is told to update its app,
    // not sent a configuration it would misread.
    let mut resp = agent
        .get(format!("{}/v1/device/config?since=0&schema=0", bg.url))
        .header("Authorization", format!("Bearer {token}"))
        .header("TSD-Protocol", "1")
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    let body = resp.body_mut().read_to_string().unwrap();
    assert!(body.contains("reads up to schema 0: update the terminal app"), "{body}");
    bg.stop();
}

#[test]
fn the_exchange_folder_carries_configurations_and_refuses_bad_ones() {
    let w = World::new(5);
    let root = w.dir.path().join("exchange");
    let (rt, _) = w.terminal("t1");
    let file = w.dir.path().join("config.json");
    std::fs::write(&file, RETURNS).unwrap();
    tsd_core::sync::exchange::put_config(&root, &file, 5, None).unwrap();
    let r = rt.sync_folder(&root, None, false).unwrap();
    assert_eq!(r.applied, vec!["config-v000000000005.tsdpkg".to_string()]);
    assert_eq!(rt.config_version().unwrap(), 5);

    // An older version changes nothing; a package that does not validate is refused
    // with its reason and the configuration in force stays.
    tsd_core::sync::exchange::put_config(&root, &file, 3, None).unwrap();
    let mut header = Header::new(Kind::Configuration, "someone", 1);
    header.to_version = 9;
    let bad = root.join("to-device/config-v000000000009.tsdpkg");
    let mut writer = PackageWriter::create(&bad, &header, None).unwrap();
    writer.write(&r#"{"document_types": []}"#.to_string()).unwrap();
    writer.finish().unwrap();
    let r = rt.sync_folder(&root, None, false).unwrap();
    assert_eq!(r.skipped, vec!["config-v000000000003.tsdpkg".to_string()]);
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].code, "bad_config", "{:?}", r.rejected);
    assert!(root.join("rejected/config-v000000000009.tsdpkg.reason.txt").exists());
    assert_eq!(rt.config_version().unwrap(), 5);
    assert!(rt.new_document("returns").is_ok());

    // put-config validates before writing anything.
    std::fs::write(&file, "{not json").unwrap();
    assert!(tsd_core::sync::exchange::put_config(&root, &file, 6, None).is_err());
    assert!(!root.join("to-device/config-v000000000006.tsdpkg").exists());
}
