//! Hybrid catalog storage (HYDB): catalogs routed to the server are looked up
//! online with a bounded wait, answers are kept for their time to live, and an
//! unreachable server gives "not found, server unreachable" — never a stalled or
//! lost scan.

mod common;
use common::*;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tsd_core::catalog::Format;
use tsd_core::documents::ScanStatus;
use tsd_core::resolve::Source;
use tsd_server::run::Background;

fn routed(products: &str, extra: &str) -> String {
    format!(
        r#"{{"document_types": [
            {{"id": "receiving", "allow_overscan": true, "allow_unknown": true}},
            {{"id": "picking"}}],
          "catalogs": {{"products": "{products}", "cells": "{products}"}}{extra}}}"#
    )
}

#[test]
fn a_miss_on_the_terminal_is_found_online_kept_and_stored_and_offline_says_unreachable() {
    let w = World::new(30);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let (rt, data) = w.terminal("t1");
    rt.set_config(&routed("device_then_server", r#", "online_lookup": {"cache_ttl_s": 1}"#))
        .unwrap();
    rt.set_server(Some(&settings(&bg.url, &token))).unwrap();
    assert_eq!(rt.catalog_stats().unwrap().products, 0, "the terminal holds no catalog");

    let code = &w.barcodes[0];
    let r = rt.resolve(code).unwrap();
    assert!(r.found(), "found on the server");
    assert_eq!((r.source, r.server_unreachable.as_deref()), (Source::Server, None));
    let product = r.hit().unwrap().product.clone();
    let again = rt.resolve(code).unwrap();
    assert_eq!(again.source, Source::Cache, "the answer was kept");
    assert_eq!(again.hit().unwrap().product, product);

    // A picking document refuses goods it does not know; an online hit is known.
    let doc = rt.new_document("picking").unwrap();
    let o = rt.scan(&doc.id, &w.barcodes[1], None).unwrap();
    assert_eq!(o.status, ScanStatus::Accepted, "{:?}", o.status);
    assert_eq!(o.resolution.source, Source::Server);
    let line = &rt.document(&doc.id).unwrap().lines[0];
    assert!(line.name.is_some(), "the line is named from the kept answer: {line:?}");

    // The settings survive a restart.
    drop(rt);
    let rt = tsd_core::Runtime::open(&data).unwrap();
    assert_eq!(rt.server().unwrap().url, bg.url);
    assert_eq!(rt.resolve(code).unwrap().source, Source::Cache);

    // The server goes away: kept answers still resolve; a new code is not found and
    // says why; the receiving document stores it by its code, picking refuses it.
    bg.stop();
    assert_eq!(rt.resolve(code).unwrap().source, Source::Cache);
    let unknown = &w.barcodes[5];
    let r = rt.resolve(unknown).unwrap();
    assert!(!r.found());
    let why = r.server_unreachable.clone().expect("marked server unreachable");
    assert!(why.contains("unreachable"), "{why}");
    let receiving = rt.new_document("receiving").unwrap();
    let o = rt.scan(&receiving.id, unknown, None).unwrap();
    assert_eq!(o.status, ScanStatus::Accepted);
    assert!(o.seq.is_some(), "the scan is in the journal");
    assert!(o.resolution.server_unreachable.is_some());
    let o = rt.scan(&doc.id, unknown, None).unwrap();
    assert!(matches!(o.status, ScanStatus::Refused(_)), "{:?}", o.status);

    // Kept answers expire.
    std::thread::sleep(Duration::from_millis(1100));
    let r = rt.resolve(code).unwrap();
    assert!(!r.found() && r.server_unreachable.is_some(), "expired, and the server is gone");
}

/// A listener that accepts connections and never answers; counts them.
fn black_hole() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let n = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            n.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (url, accepted)
}

#[test]
fn a_server_that_never_answers_costs_one_scan_the_timeout_and_the_next_ones_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tsd_core::Runtime::open(&dir.path().join("t")).unwrap();
    rt.set_config(&routed(
        "device_then_server",
        r#", "online_lookup": {"timeout_ms": 300, "retry_after_s": 60}"#,
    ))
    .unwrap();
    let (url, accepted) = black_hole();
    rt.set_server(Some(&settings(&url, "tsd_dev_x"))).unwrap();
    let started = Instant::now();
    let r = rt.resolve("4601234567893").unwrap();
    let waited = started.elapsed();
    assert!(!r.found());
    assert!(r.server_unreachable.as_deref().unwrap().contains("unreachable"));
    // The bound under test is the configured 300 ms (the client's own timeout is
    // 5 s here); the margin is for a loaded machine.
    assert!(waited < Duration::from_secs(3), "a scan waited {waited:?}");
    for _ in 0..5 {
        let r = rt.resolve("4601234567800").unwrap();
        assert!(r.server_unreachable.is_some());
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "after a failure the next scans do not try again"
    );

    // No server set up at all: the same result, with that reason.
    rt.set_server(None).unwrap();
    let r = rt.resolve("4601234567893").unwrap();
    assert_eq!(r.server_unreachable.as_deref(), Some("no server is set up"));
}

#[test]
fn routing_decides_what_the_terminal_downloads_and_who_is_asked_first() {
    let w = World::new(20);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let s = settings(&bg.url, &token);

    // Everything on the server: a sync does not download the catalog.
    let (rt, _) = w.terminal("t1");
    rt.set_config(&routed("server", "")).unwrap();
    rt.set_server(Some(&s)).unwrap();
    let report = rt.sync_saved_server(&mut |_| {}).unwrap();
    assert!(report.packages.is_empty() && report.bytes_down == 0, "{report:?}");
    assert_eq!(rt.catalog_stats().unwrap().products, 0);
    assert_eq!(rt.resolve(&w.barcodes[2]).unwrap().source, Source::Server);

    // Server first: the terminal's copy is used only when the server cannot answer.
    let (rt2, _) = w.terminal("t2");
    let token2 = admin.add_device("t2").unwrap();
    let s2 = settings(&bg.url, &token2);
    rt2.sync_server(&s2, &mut |_| {}).unwrap();
    rt2.set_config(&routed("server_then_device", r#", "online_lookup": {"cache_ttl_s": 0}"#))
        .unwrap();
    rt2.set_server(Some(&s2)).unwrap();
    let renamed = w.dir.path().join("renamed.csv");
    change(&w.catalog, &renamed, 1, "(новое)");
    admin.publish_catalog(&renamed, Format::Csv).unwrap();
    // A code whose product the new version keeps (renamed).
    let code = w
        .barcodes
        .iter()
        .find(|c| admin.lookup(&[c.to_string()], None).unwrap().hit.is_some())
        .unwrap();
    let local_name = rt2.lookup_barcode(code).unwrap().unwrap().product.name;
    let fresh = rt2.resolve(code).unwrap();
    assert_eq!(fresh.source, Source::Server);
    assert!(fresh.hit().unwrap().product.name.ends_with("(новое)"), "the server's current name");
    assert_ne!(fresh.hit().unwrap().product.name, local_name);
    assert_eq!(rt2.resolve(code).unwrap().source, Source::Server, "ttl 0: nothing kept");
    bg.stop();
    let offline = rt2.resolve(code).unwrap();
    assert_eq!(offline.source, Source::Device, "the terminal's copy");
    assert_eq!(offline.hit().unwrap().product.name, local_name);
    assert!(
        offline.server_unreachable.is_some(),
        "and the answer says the server was not reached"
    );
}

#[test]
fn cells_and_generic_catalogs_can_live_on_the_server_and_the_lookup_route_checks_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let server_dir = dir.path().join("server");
    let server = tsd_server::Server::open(&server_dir).unwrap();
    let jsonl = dir.path().join("c.jsonl");
    std::fs::write(
        &jsonl,
        r#"{"id":"P1","name":"Кефир","barcodes":["4601234567893"]}
{"type":"cell","id":"A-01","name":"Ряд A","barcode":"CELL-A-01"}
{"type":"record","catalog":"reasons","id":"R1","fields":{"name":"Брак"}}
"#,
    )
    .unwrap();
    server.publish_catalog(&jsonl, Format::Jsonl).unwrap();
    let token = server.add_device("t1").unwrap();
    drop(server);
    // Reopened: the lookup catalog is there (it is also rebuilt when missing).
    std::fs::remove_file(server_dir.join("lookup/catalog.db")).unwrap();
    let bg = Background::start(tsd_server::Server::open(&server_dir).unwrap(), "127.0.0.1:0", None).unwrap();
    let rt = tsd_core::Runtime::open(&dir.path().join("t1")).unwrap();
    rt.set_config(&routed("server", r#", "record_catalogs": {"reasons": "server"}"#))
        .unwrap();
    rt.set_server(Some(&settings(&bg.url, &token))).unwrap();
    // A generic catalog routed to the server.
    let reason = rt.record("reasons", "R1").unwrap();
    assert_eq!(reason.record.as_ref().unwrap()["name"], "Брак");
    assert_eq!(reason.source, Source::Server);
    assert_eq!(rt.record("reasons", "R1").unwrap().source, Source::Cache);
    assert!(rt.record("reasons", "R9").unwrap().record.is_none());
    let local = rt.record("carriers", "C1").unwrap();
    assert!(
        local.record.is_none() && local.server_unreachable.is_none(),
        "not routed: not asked"
    );
    let r = rt.resolve("CELL-A-01").unwrap();
    assert!(
        matches!(&r.target, tsd_core::resolve::Target::Cell(c) if c.id == "A-01"),
        "{:?}",
        r.target
    );
    assert_eq!(r.source, Source::Server);
    assert_eq!(rt.resolve("CELL-A-01").unwrap().source, Source::Cache);

    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let get = |q: &str, auth: &str| {
        let mut resp = agent
            .get(format!("{}/v1/device/lookup{q}", bg.url))
            .header("Authorization", format!("Bearer {auth}"))
            .header("TSD-Protocol", "1")
            .call()
            .unwrap();
        (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
    };
    let (status, body) = get("?k=04601234567893", &token);
    assert_eq!(status, 200);
    assert!(body.contains("Кефир") && body.contains("\"matched\":0"), "{body}");
    assert_eq!(
        get("?k=0000000000000", &token),
        (200, "{}".to_string()),
        "not found is an empty answer"
    );
    assert_eq!(get("?k=1", "wrong").0, 401);
    assert_eq!(get("", &token).0, 400);
    assert_eq!(get("?x=1", &token).0, 400);
    assert_eq!(get("?catalog=reasons", &token).0, 400, "catalog without id");
    let (status, body) = get("?catalog=reasons&id=R1", &token);
    assert_eq!(status, 200);
    assert!(body.contains("Брак"), "{body}");
    assert_eq!(get(&format!("?k={}", "9".repeat(300)), &token).0, 400);
    bg.stop();
}
