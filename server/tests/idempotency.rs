//! An Idempotency-Key is bound to the document revision it first named: a
//! different document under a used key is refused with 409 and never dropped from
//! a terminal's outbox or the USB bridge's folder as if delivered; one revision is
//! stored once whatever key it comes under.

mod common;

use common::*;
use std::path::Path;
use tsd_core::sync::folder::{self, FROM_DEVICE, TO_DEVICE};
use tsd_core::Error;
use tsd_server::run::Background;

fn post(url: &str, token: &str, key: &str, package: &[u8]) -> (u16, serde_json::Value) {
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let mut resp = agent
        .post(format!("{url}/v1/device/documents"))
        .header("Authorization", format!("Bearer {token}"))
        .header("TSD-Protocol", "1")
        .header("Idempotency-Key", key)
        .send(package)
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)))
}

fn package_of(rt: &tsd_core::Runtime, dir: &Path, doc: &str) -> Vec<u8> {
    let name = folder::write_document(dir, &rt.document(doc).unwrap(), "t1", None).unwrap();
    std::fs::read(dir.join(name)).unwrap()
}

#[test]
fn a_reused_key_with_another_document_is_refused_and_a_revision_is_stored_once() {
    let w = World::new(50);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let (rt, data) = w.terminal("t1");
    let a = scan_and_complete(&rt, &w.barcodes[..2]);
    let b = scan_and_complete(&rt, &w.barcodes[2..5]);
    let (pa, pb) = (package_of(&rt, &data, &a), package_of(&rt, &data, &b));
    let key_a = tsd_core::sync::engine::idempotency_key(&rt.document(&a).unwrap());

    // A under the key the terminal sends for it (A's document token in it).
    let (status, answer) = post(&bg.url, &token, &key_a, &pa);
    assert_eq!((status, &answer["stored"]), (200, &serde_json::json!(true)), "{answer}");
    // B under A's key: refused, typed, and B is not stored (under A or at all).
    let (status, answer) = post(&bg.url, &token, &key_a, &pb);
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"], "conflict");
    assert!(answer["message"].as_str().unwrap().contains(&a), "{answer}");
    // A again under another key: the same revision, stored once (a duplicate).
    let (status, answer) = post(&bg.url, &token, "x", &pa);
    assert_eq!((status, &answer["stored"]), (200, &serde_json::json!(false)), "{answer}");
    // And under its own key again.
    let (status, answer) = post(&bg.url, &token, &key_a, &pa);
    assert_eq!((status, &answer["stored"]), (200, &serde_json::json!(false)), "{answer}");
    let counts = stored_counts(&admin);
    assert_eq!(counts.get(&a), Some(&1), "A once, whatever the key: {counts:?}");
    assert_eq!(counts.get(&b), None, "B never stored under A's key");

    // The terminal's own sync: A is already there, B goes up under its own key.
    let r = rt.sync_server(&settings(&bg.url, &token), &mut |_| {}).unwrap();
    assert_eq!(r.already_stored, vec![a.clone()]);
    assert_eq!(r.pushed, vec![b.clone()]);
    let counts = stored_counts(&admin);
    assert_eq!((counts.get(&a), counts.get(&b)), (Some(&1), Some(&1)));
    bg.stop();
}

#[test]
fn a_terminal_keeps_a_document_the_server_refuses_and_says_so() {
    let w = World::new(50);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let (rt, data) = w.terminal("t1");
    let a = scan_and_complete(&rt, &w.barcodes[..2]);
    let b = scan_and_complete(&rt, &w.barcodes[2..5]);
    // Someone (another client, a bug) used B's key for A first.
    let key_b = tsd_core::sync::engine::idempotency_key(&rt.document(&b).unwrap());
    assert_eq!(post(&bg.url, &token, &key_b, &package_of(&rt, &data, &a)).0, 200);

    let err = rt.sync_server(&settings(&bg.url, &token), &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::Server { status: 409, .. }), "{err}");
    assert_eq!(rt.outbox().unwrap(), vec![b.clone()], "B stays: it was not delivered");
    let status = rt.sync_status().unwrap();
    assert_eq!(status.waiting, 1);
    assert!(!status.synced);
    assert!(status.last_error.as_deref().unwrap().contains(&b), "{:?}", status.last_error);
    assert_eq!(stored_counts(&admin).get(&b), None);
    bg.stop();
}

#[test]
fn the_usb_bridge_writes_no_ack_for_a_refused_document() {
    let w = World::new(50);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let (rt, data) = w.terminal("t1");
    let a = scan_and_complete(&rt, &w.barcodes[..2]);
    let b = scan_and_complete(&rt, &w.barcodes[2..5]);
    let key_b = tsd_core::sync::engine::idempotency_key(&rt.document(&b).unwrap());
    assert_eq!(post(&bg.url, &token, &key_b, &package_of(&rt, &data, &a)).0, 200);

    // The terminal leaves both in the exchange folder; the PC bridges it.
    let root = w.dir.path().join("exchange");
    rt.sync_folder(&root, None, false).unwrap();
    let report = tsd_core::sync::bridge::bridge(&root, &settings(&bg.url, &token)).unwrap();
    assert_eq!(report.already_stored, vec![a.clone()]);
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert!(report.refused[0].1.contains("did not store"), "{:?}", report.refused);
    assert!(root.join(TO_DEVICE).join(folder::ack_name(&a)).exists());
    assert!(
        !root.join(TO_DEVICE).join(folder::ack_name(&b)).exists(),
        "no ack: B was not delivered"
    );
    assert!(
        root.join(FROM_DEVICE).join(folder::document_package_name(&b)).exists(),
        "B's package stays"
    );
    rt.sync_folder(&root, None, false).unwrap();
    assert_eq!(rt.outbox().unwrap(), vec![b.clone()]);
    assert_eq!(stored_counts(&admin).get(&b), None);
    drop(data);
    bg.stop();
}
