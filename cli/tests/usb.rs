//! `scripts/exchange-usb.sh` moves exchange files over a USB cable with adb. No
//! device can be had here, so adb is a stand-in script (`fixtures/fake-adb`) that
//! keeps the "device" in a folder; everything else is real: the script, the PC
//! side (`tsd exchange`) and the terminal side (`tsd sync --folder`).

use std::path::Path;
use std::process::Command;

fn tsd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tsd")).args(args).output().unwrap()
}

fn usb(device_root: &Path, pc: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("bash")
        .arg(root.join("scripts/exchange-usb.sh"))
        .args([
            "--serial",
            "TSD-0001",
            "--folder",
            pc.to_str().unwrap(),
            "--remote",
            "/sdcard/exchange",
        ])
        .env("ADB", Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-adb"))
        .env("FAKE_DEVICE_ROOT", device_root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
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
    assert!(tsd(&["exchange", "collect", "--folder", &s(&pc), "--out", &s(&out)])
        .status
        .success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "", "nothing collected twice");
}
