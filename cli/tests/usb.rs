//! `tsd exchange usb` (and its wrapper `scripts/exchange-usb.sh`) moves exchange
//! files over a USB cable with adb, and in server mode bridges them to the server.
//! No device can be had here, so adb is a stand-in script (`fixtures/fake-adb`)
//! that keeps the "device" in a folder; everything else is real: the command, the
//! terminal side (`tsd sync --folder`, a `Runtime`), the server on loopback.

use std::path::Path;
use std::process::Command;
use tsd_core::catalog::Format;
use tsd_core::sync::ServerSettings;
use tsd_core::Runtime;
use tsd_server::run::Background;

fn tsd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tsd")).args(args).output().unwrap()
}

/// One run through the wrapper script; the counts leave out the terminal's
/// status.json (pulled every time).
fn usb(device_root: &Path, pc: &Path) -> String {
    let v = usb_with(device_root, pc, &[]);
    let count = |k: &str| v[k].as_array().unwrap().iter().filter(|n| *n != "status.json").count();
    format!(
        "pulled {}, pushed {}, cleaned {}",
        count("pulled"),
        count("pushed"),
        count("cleaned")
    )
}

fn usb_with(device_root: &Path, pc: &Path, extra: &[&str]) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("bash")
        .arg(root.join("scripts/exchange-usb.sh"))
        .args([
            "--json",
            "--serial",
            "TSD-0001",
            "--folder",
            pc.to_str().unwrap(),
            "--remote",
            "/sdcard/exchange",
        ])
        .args(extra)
        .env("TSD", env!("CARGO_BIN_EXE_tsd"))
        .env("ADB", Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-adb"))
        .env("FAKE_DEVICE_ROOT", device_root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_document_travels_by_cable_once_and_its_ack_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let (device, pc) = (dir.path().join("device"), dir.path().join("pc"));
    let term = dir.path().join("term");
    let term_exchange = device.join("sdcard/exchange");
    let csv = dir.path().join("c.csv");
    std::fs::write(&csv, "product_id,name,barcode\nP1,Молоко,4601234567893\n").unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();

    assert!(tsd(&["exchange", "put-catalog", "--folder", &s(&pc), &s(&csv)]).status.success());
    assert!(usb(&device, &pc).contains("pulled 0, pushed 1, cleaned 0"));
    let r = tsd(&["--db", &s(&term), "--json", "sync", "--folder", &s(&term_exchange)]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stdout).contains("catalog-"), "the catalog was applied");

    let doc: serde_json::Value = serde_json::from_slice(&tsd(&["--db", &s(&term), "--json", "doc", "new", "receiving"]).stdout).unwrap();
    let id = doc["id"].as_str().unwrap();
    assert!(tsd(&["--db", &s(&term), "doc", "scan", id, "4601234567893"]).status.success());
    assert!(tsd(&["--db", &s(&term), "doc", "complete", id]).status.success());
    let r = tsd(&["--db", &s(&term), "sync", "--folder", &s(&term_exchange)]);
    assert_eq!(r.status.code(), Some(1), "the document waits for its ack");

    assert!(usb(&device, &pc).contains("pulled 1, pushed 0"));
    assert!(usb(&device, &pc).contains("pulled 0, pushed 0"), "not pulled twice");
    let out = dir.path().join("docs.jsonl");
    assert!(tsd(&["exchange", "collect", "--folder", &s(&pc), "--out", &s(&out)])
        .status
        .success());
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(lines.lines().count(), 1);
    assert!(lines.contains(id));
    assert!(
        usb(&device, &pc).contains("pulled 0, pushed 1, cleaned 1"),
        "the ack goes, the device copy is removed"
    );

    let r = tsd(&["--db", &s(&term), "--json", "sync", "--folder", &s(&term_exchange)]);
    assert!(r.status.success(), "acknowledged: {}", String::from_utf8_lossy(&r.stderr));
    assert!(usb(&device, &pc).contains("pulled 0, pushed 0, cleaned 0"));
    let before = std::fs::read_to_string(&out).unwrap();
    assert!(tsd(&["exchange", "collect", "--folder", &s(&pc), "--out", &s(&out)])
        .status
        .success());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        before,
        "nothing collected twice; the hand-off file is left as it was"
    );
}

/// Server mode without a network: the PC bridges the cable to the server as the
/// terminal. A document that goes by cable and then again by Wi-Fi is stored once;
/// a catalog package brought by cable after Wi-Fi delivered newer versions is
/// skipped, never applied backwards.
#[test]
fn in_server_mode_the_cable_bridges_to_the_server_once() {
    let dir = tempfile::tempdir().unwrap();
    let (device, pc) = (dir.path().join("device"), dir.path().join("pc"));
    let exchange = device.join("sdcard/exchange");
    let csv = dir.path().join("c.csv");
    std::fs::write(&csv, "product_id,name,barcode\nP1,Молоко,4601234567893\nP2,Кефир,4601234567909\n").unwrap();
    let server = tsd_server::Server::open(&dir.path().join("server")).unwrap();
    server.publish_catalog(&csv, Format::Csv).unwrap();
    let token = server.add_device("ТСД-1").unwrap();
    let tasks = r#"{"id":"ОТ-1","type":"picking","number":"ОТ-1","lines":[{"product":"P1","qty":2}]}"#;
    server.add_tasks("ТСД-1", tasks).unwrap();
    server
        .publish_config(r#"{"document_types":[{"id":"picking"},{"id":"receiving","allow_unknown":true}]}"#)
        .unwrap();
    let apk = dir.path().join("tsd.apk");
    std::fs::write(&apk, vec![7u8; 50_000]).unwrap();
    server.publish_app(&apk, 30, "3.0", 0).unwrap();
    let bg = Background::start(tsd_server::Server::open(&dir.path().join("server")).unwrap(), "127.0.0.1:0", None).unwrap();
    let bridge = ["--server", bg.url.as_str(), "--token", token.as_str()];

    // The terminal leaves its state; the PC fetches what it lacks through the cable.
    let rt = Runtime::open(&dir.path().join("term")).unwrap();
    rt.sync_folder(&exchange, None, false).unwrap();
    let r = usb_with(&device, &pc, &bridge);
    let fetched = r["bridge"]["fetched"].as_array().unwrap();
    assert_eq!(fetched.len(), 4, "catalog, tasks, app, configuration: {r}");
    let (update, file) = rt.folder_app_update(&exchange, 29).unwrap().expect("the app update came by cable");
    assert_eq!(update.version_code, 30);
    assert_eq!(std::fs::read(file).unwrap().len(), 50_000);
    let first = rt.sync_folder(&exchange, None, false).unwrap();
    assert_eq!(first.applied.len(), 3, "{first:?}");
    assert_eq!(rt.catalog_stats().unwrap().synced_version, 1);
    assert_eq!(rt.config_version().unwrap(), 1);
    assert!(
        rt.scan("ОТ-1", "4601234567893", None).unwrap().seq.is_some(),
        "the task came by cable"
    );
    rt.complete("ОТ-1").unwrap();

    // The document goes by cable: stored on the server, acknowledged back.
    rt.sync_folder(&exchange, None, false).unwrap();
    let r = usb_with(&device, &pc, &bridge);
    assert_eq!(r["bridge"]["pushed"], serde_json::json!(["ОТ-1"]), "{r}");
    assert_eq!(server.store().documents(false).unwrap().len(), 1);

    // Wi-Fi comes back before the terminal read the ack: the same document again is
    // stored once, whichever path the server heard it from first.
    let settings = ServerSettings::new(&bg.url, &token);
    let wifi = rt.sync_server(&settings, &mut |_| {}).unwrap();
    assert_eq!(wifi.already_stored, vec!["ОТ-1".to_string()]);
    assert!(rt.outbox().unwrap().is_empty());
    let stored = server.store().documents(false).unwrap();
    assert_eq!(stored.iter().filter(|d| d.doc_id == "ОТ-1").count(), 1);
    rt.sync_folder(&exchange, None, false).unwrap();

    // A delta fetched by cable waits on the device while Wi-Fi brings the catalog
    // further: the cable's package is skipped, the catalog does not go back.
    let v2 = dir.path().join("v2.csv");
    std::fs::write(&v2, "product_id,name,barcode\nP1,Молоко 2,4601234567893\nP2,Кефир,4601234567909\n").unwrap();
    server.publish_catalog(&v2, Format::Csv).unwrap();
    let r = usb_with(&device, &pc, &bridge);
    assert_eq!(r["bridge"]["fetched"].as_array().unwrap().len(), 1, "{r}");
    let v3 = dir.path().join("v3.csv");
    std::fs::write(&v3, "product_id,name,barcode\nP1,Молоко 3,4601234567893\nP2,Кефир,4601234567909\n").unwrap();
    server.publish_catalog(&v3, Format::Csv).unwrap();
    assert_eq!(rt.sync_server(&settings, &mut |_| {}).unwrap().catalog_version, 3);
    let folder = rt.sync_folder(&exchange, None, false).unwrap();
    assert_eq!(folder.skipped.len(), 1, "{folder:?}");
    assert!(folder.rejected.is_empty(), "{folder:?}");
    assert_eq!(rt.catalog_stats().unwrap().synced_version, 3);
    assert_eq!(rt.lookup_barcode("4601234567893").unwrap().unwrap().product.name, "Молоко 3");
    bg.stop();
}
