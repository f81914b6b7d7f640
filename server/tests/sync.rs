//! End to end on loopback: a real `tsd-server` (in-process, real HTTP) and real
//! terminals. Documents go up exactly once, the catalog and tasks come down, each
//! device sees only its own data, and bad requests get clear refusals.

mod common;
use common::*;
use tsd_core::catalog::Format;
use tsd_core::Error;
use tsd_server::run::Background;

#[test]
fn documents_go_up_once_then_catalog_and_tasks_come_down() {
    let w = World::new(300);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let other = admin.add_device("t2").unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let (rt, data) = w.terminal("t1");
    let s = settings(&bg.url, &token);

    let r = rt.sync_server(&s, &mut |_| {}).unwrap();
    assert_eq!((r.catalog_from, r.catalog_version, r.packages.len()), (0, 1, 1));
    assert_eq!(catalog_dump(&data), reference_dump(w.dir.path(), &w.catalog));
    assert!(rt.sync_status().unwrap().synced);

    // Offline work, then a sync: the document goes up once.
    let doc = scan_and_complete(&rt, &w.barcodes[..5]);
    let status = rt.sync_status().unwrap();
    assert_eq!((status.waiting, status.synced), (1, false), "a waiting document is never 'synced'");
    let mut steps = Vec::new();
    let r = rt.sync_server(&s, &mut |p| steps.push(p.step)).unwrap();
    assert_eq!(r.pushed, vec![doc.clone()]);
    assert!(steps.contains(&tsd_core::sync::Step::Push));
    assert!(rt.outbox().unwrap().is_empty());
    let stored = admin.store().documents(true).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].device, "t1");
    let lines = &stored[0].document["lines"];
    let total: f64 = lines.as_array().unwrap().iter().map(|l| l["actual"].as_f64().unwrap()).sum();
    assert!(total >= 5.0, "5 scans counted in the lines: {lines}");
    assert_eq!(
        stored[0].document["scans"].as_array().unwrap().len(),
        6,
        "5 scans and the completion"
    );

    // Tasks for t1 reach t1 once; t2 never sees them.
    admin
        .add_tasks(
            "t1",
            r#"{"id":"Т-1","type":"picking","number":"З-1","lines":[{"product":"P00000001","qty":2}]}"#,
        )
        .unwrap();
    let r = rt.sync_server(&s, &mut |_| {}).unwrap();
    assert_eq!(r.tasks_added, 1);
    assert_eq!(rt.document("Т-1").unwrap().lines[0].planned, Some(2000));
    assert_eq!(rt.sync_server(&s, &mut |_| {}).unwrap().tasks_added, 0, "the cursor moved");
    // A task id in Cyrillic goes back up (its idempotency key is ASCII).
    rt.scan("Т-1", &w.barcodes[0], None).unwrap();
    rt.complete("Т-1").unwrap();
    assert_eq!(rt.sync_server(&s, &mut |_| {}).unwrap().pushed, vec!["Т-1".to_string()]);
    assert_eq!(stored_counts(&admin).get("Т-1"), Some(&1));
    let (rt2, _) = w.terminal("t2");
    let r2 = rt2.sync_server(&settings(&bg.url, &other), &mut |_| {}).unwrap();
    assert_eq!(r2.tasks_added, 0);
    assert!(matches!(rt2.document("Т-1"), Err(Error::DocumentNotFound(_))));

    // A catalog change travels as a delta and equals the new file.
    let v2 = w.dir.path().join("v2.csv");
    change(&w.catalog, &v2, 10, "новинка");
    let p = admin.publish_catalog(&v2, Format::Csv).unwrap();
    assert_eq!((p.version, p.changed), (2, true));
    assert!(p.delta_bytes.unwrap() < p.snapshot_bytes / 2, "{p:?}");
    assert!(
        !admin.publish_catalog(&v2, Format::Csv).unwrap().changed,
        "the same file makes no version"
    );
    let r = rt.sync_server(&s, &mut |_| {}).unwrap();
    assert_eq!(r.packages, vec!["delta-v1-v2.tsdpkg".to_string()]);
    assert_eq!(r.catalog_version, 2);
    assert_eq!(catalog_dump(&data), reference_dump(w.dir.path(), &v2));
    assert!(
        std::fs::read_dir(data.join("incoming")).unwrap().next().is_none(),
        "nothing left behind"
    );
    bg.stop();
}

#[test]
fn the_same_submission_is_stored_once_and_acknowledged_twice() {
    let w = World::new(50);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let (rt, data) = w.terminal("t1");
    let doc = scan_and_complete(&rt, &w.barcodes[..2]);
    let name = tsd_core::sync::folder::write_document(&data, &rt.document(&doc).unwrap(), "t1", None).unwrap();
    let package = std::fs::read(data.join(name)).unwrap();
    let key = tsd_core::sync::engine::idempotency_key(&rt.document(&doc).unwrap());
    let agent = ureq::Agent::new_with_defaults();
    for expect_stored in [true, false] {
        let mut resp = agent
            .post(format!("{}/v1/device/documents", bg.url))
            .header("Authorization", format!("Bearer {token}"))
            .header("TSD-Protocol", "1")
            .header("Idempotency-Key", &key)
            .send(&package[..])
            .unwrap();
        let answer: serde_json::Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(answer["stored"], expect_stored, "{answer}");
        assert_eq!(answer["doc_id"], doc.as_str());
    }
    assert_eq!(stored_counts(&admin).get(&doc), Some(&1));
    // The terminal's own push after that is "already stored", and the outbox empties.
    let r = rt.sync_server(&settings(&bg.url, &token), &mut |_| {}).unwrap();
    assert_eq!(r.already_stored, vec![doc.clone()]);
    assert_eq!(stored_counts(&admin).get(&doc), Some(&1));
    bg.stop();
}

#[test]
fn refusals_are_typed_and_recorded_in_the_status() {
    let w = World::new(20);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let key = admin.new_integration_key().unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let (rt, _) = w.terminal("t1");
    scan_and_complete(&rt, &w.barcodes[..1]);

    let e = rt.sync_server(&settings(&bg.url, "tsd_dev_wrong"), &mut |_| {}).unwrap_err();
    assert!(matches!(e, Error::Server { status: 401, .. }), "{e}");
    let st = rt.sync_status().unwrap();
    assert_eq!((st.waiting, st.failures, st.last_error_code.as_deref()), (1, 1, Some("server")));
    assert!(st.next_attempt_at > 0 && !st.synced);

    // Nothing listens: a network error, retried later, the document still waits.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let e = rt
        .sync_server(&settings(&format!("http://{closed}"), &token), &mut |_| {})
        .unwrap_err();
    assert!(matches!(e, Error::Network { .. }) && e.retryable(), "{e}");
    assert_eq!(rt.sync_status().unwrap().failures, 2);

    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let call = |path: &str, auth: &str, protocol: Option<&str>| {
        let mut req = agent
            .get(format!("{}{path}", bg.url))
            .header("Authorization", format!("Bearer {auth}"));
        if let Some(p) = protocol {
            req = req.header("TSD-Protocol", p);
        }
        let mut resp = req.call().unwrap();
        let body: serde_json::Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
        (resp.status().as_u16(), body)
    };
    let (status, body) = call("/v1/device/catalog", &token, Some("9"));
    assert_eq!((status, body["error"].as_str()), (426, Some("protocol")));
    assert!(body["message"].as_str().unwrap().contains("update the server"), "{body}");
    assert_eq!(call("/v1/device/catalog", &token, None).0, 400, "no protocol header: a bad request");
    assert_eq!(
        call("/v1/device/catalog", &key, Some("1")).0,
        401,
        "an integration key is not a device token"
    );
    assert_eq!(
        call("/v1/documents", &token, None).0,
        401,
        "a device token is not an integration key"
    );
    assert_eq!(call("/v1/documents", &key, None).0, 200);
    assert_eq!(
        call("/v1/device/packages/..%2Fserver.db", &token, Some("1")).0,
        400,
        "path traversal"
    );
    assert_eq!(call("/v1/nothing", &key, None).0, 404);

    // Body limits: a document larger than the limit is refused with 413.
    let big = vec![0u8; (33 << 20) as usize];
    let resp = agent
        .post(format!("{}/v1/device/documents", bg.url))
        .header("Authorization", format!("Bearer {token}"))
        .header("TSD-Protocol", "1")
        .header("Idempotency-Key", "x")
        .send(&big[..]);
    // The server answers 413 as soon as the limit is crossed and stops reading, so
    // the client either reads that answer or is cut off while still sending (an
    // unlimited server would read it all and answer 400 for a bad package).
    match resp {
        Ok(r) => assert_eq!(r.status().as_u16(), 413),
        Err(ureq::Error::Io(e)) => assert!(
            matches!(e.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe),
            "{e}"
        ),
        Err(e) => panic!("expected 413 or a cut connection, got {e}"),
    }

    // A good sync clears the error.
    rt.sync_server(&settings(&bg.url, &token), &mut |_| {}).unwrap();
    let st = rt.sync_status().unwrap();
    assert_eq!((st.waiting, st.failures, st.last_error), (0, 0, None));
    assert!(st.synced && st.last_success_at.is_some());
    bg.stop();
}

#[test]
fn the_accounting_side_publishes_adds_tasks_lists_and_acknowledges_over_http() {
    let w = World::new(30);
    let admin = w.server();
    admin.add_device("t1").unwrap();
    let key = admin.new_integration_key().unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let auth = format!("Bearer {key}");
    let post = |path: &str, body: &[u8]| {
        let mut r = agent
            .post(format!("{}{path}", bg.url))
            .header("Authorization", &auth)
            .send(body)
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str::<serde_json::Value>(&r.body_mut().read_to_string().unwrap()).unwrap(),
        )
    };
    let v2 = w.dir.path().join("v2.csv");
    change(&w.catalog, &v2, 3, "x");
    let (status, body) = post("/v1/catalog?format=csv", &std::fs::read(&v2).unwrap());
    assert_eq!((status, body["version"].as_i64()), (200, Some(2)), "{body}");
    let (status, body) = post("/v1/catalog?format=csv", b"product_id,name,barcode\nP1,X,4601234567890\n");
    assert_eq!(status, 422, "bad check digit: {body}");
    assert!(body["message"].as_str().unwrap().contains("line 2"), "{body}");
    let (status, body) = post("/v1/tasks?device=t1", b"{\"id\":\"T1\",\"type\":\"picking\"}\n{\"bad\n");
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("line 2"), "{body}");
    assert!(
        admin.store().tasks_after(1, 0).unwrap().is_empty(),
        "nothing added from a bad upload"
    );
    assert_eq!(post("/v1/tasks?device=nobody", b"{\"id\":\"T1\",\"type\":\"picking\"}").0, 404);

    let token = admin.add_device("t9").unwrap();
    let (rt, _) = w.terminal("t9");
    let doc = scan_and_complete(&rt, &w.barcodes[..1]);
    rt.sync_server(&settings(&bg.url, &token), &mut |_| {}).unwrap();
    let mut r = agent
        .get(format!("{}/v1/documents", bg.url))
        .header("Authorization", &auth)
        .call()
        .unwrap();
    let list: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["doc_id"], doc.as_str());
    let id = list[0]["id"].as_i64().unwrap();
    assert_eq!(post(&format!("/v1/documents/{id}/ack"), b"").0, 200);
    let mut r = agent
        .get(format!("{}/v1/documents", bg.url))
        .header("Authorization", &auth)
        .call()
        .unwrap();
    assert_eq!(
        r.body_mut().read_to_string().unwrap(),
        "[]",
        "acknowledged documents leave the pending list"
    );
    assert_eq!(post("/v1/documents/999/ack", b"").0, 404);
    bg.stop();
}

#[test]
fn an_interrupted_download_resumes_and_a_damaged_one_is_fetched_again() {
    let w = World::new(2000);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let package = std::fs::read(w.server_dir.join("packages/snapshot-v1.tsdpkg")).unwrap();
    let half = package.len() / 2;

    // The first half is already here from an interrupted attempt: only the rest comes.
    let (rt, data) = w.terminal("t1");
    std::fs::create_dir_all(data.join("incoming")).unwrap();
    std::fs::write(data.join("incoming/snapshot-v1.tsdpkg.part"), &package[..half]).unwrap();
    let r = rt.sync_server(&settings(&bg.url, &token), &mut |_| {}).unwrap();
    assert_eq!(r.bytes_down as usize, package.len() - half, "resumed with Range");
    assert_eq!(r.catalog_version, 1);
    assert_eq!(catalog_dump(&data), reference_dump(w.dir.path(), &w.catalog));

    // A part file whose bytes are wrong fails the checksum, is dropped, and the next
    // sync fetches the whole package.
    let (rt2, data2) = w.terminal("t2");
    let token2 = admin.add_device("t2").unwrap();
    std::fs::create_dir_all(data2.join("incoming")).unwrap();
    std::fs::write(data2.join("incoming/snapshot-v1.tsdpkg.part"), vec![0x55; half]).unwrap();
    let e = rt2.sync_server(&settings(&bg.url, &token2), &mut |_| {}).unwrap_err();
    assert!(
        matches!(e, Error::Network { .. }) && e.to_string().contains("damaged in transit"),
        "{e}"
    );
    assert_eq!(rt2.sync_status().unwrap().catalog_version, 0, "nothing applied");
    let r = rt2.sync_server(&settings(&bg.url, &token2), &mut |_| {}).unwrap();
    assert_eq!(r.bytes_down as usize, package.len());
    assert_eq!(catalog_dump(&data2), reference_dump(w.dir.path(), &w.catalog));
    bg.stop();
}

/// Never two syncs at once on one runtime; a sync that panicked (the bridge catches
/// it) does not leave the runtime refusing every later sync.
#[test]
fn one_sync_at_a_time_and_a_panic_does_not_wedge_the_next() {
    use std::sync::mpsc;
    let w = World::new(50);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let (rt, _) = w.terminal("t1");
    let rt = std::sync::Arc::new(rt);
    let s = settings(&bg.url, &token);
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let worker = {
        let (rt, s) = (rt.clone(), s.clone());
        std::thread::spawn(move || {
            let mut first = true;
            rt.sync_server(&s, &mut |_| {
                if std::mem::take(&mut first) {
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                }
            })
        })
    };
    started_rx.recv().unwrap();
    assert!(matches!(rt.sync_server(&s, &mut |_| {}), Err(Error::SyncInProgress)));
    release_tx.send(()).unwrap();
    assert_eq!(worker.join().unwrap().unwrap().catalog_version, 1);

    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = rt.sync_server(&s, &mut |_| panic!("a listener failed"));
    }));
    assert!(panicked.is_err());
    assert!(rt.sync_server(&s, &mut |_| {}).is_ok(), "the next sync runs");
    bg.stop();
}
