//! One conformance suite, two storages: every test here runs on SQLite (the data
//! folder) and on PostgreSQL (a fresh database on the test cluster), each time with
//! two server instances — two handles on one data folder for SQLite, two data
//! folders on one database for PostgreSQL, which is how a fleet runs them.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tsd_core::catalog::Format;
use tsd_server::store::{Area, DocumentRevision, Pushed};
use tsd_server::Server;

/// Two instances of one server on `backend`.
fn pair(root: &Path, db: Option<&tsd_server::Database>) -> (Server, Server) {
    let (a, b): (PathBuf, PathBuf) = match db {
        None => (root.join("data"), root.join("data")),
        Some(_) => (root.join("a"), root.join("b")),
    };
    (instance(&a, db), instance(&b, db))
}

fn each_backend(test: impl Fn(&str, &Path, Option<&tsd_server::Database>)) {
    for (name, db) in backends() {
        let dir = tempfile::tempdir().unwrap();
        test(name, dir.path(), db.as_ref());
    }
}

#[test]
fn a_version_published_on_one_instance_is_offered_served_and_looked_up_on_the_other() {
    each_backend(|backend, root, db| {
        let (a, b) = pair(root, db);
        let (v1, barcodes) = catalog(root, 300, 1);
        let v2 = root.join("v2.csv");
        change(&v1, &v2, 7, "new");
        assert_eq!(a.publish_catalog(&v1, Format::Csv).unwrap().version, 1, "{backend}");
        let second = b.publish_catalog(&v2, Format::Csv).unwrap();
        assert_eq!((second.version, second.changed), (2, true), "{backend}");
        // The same file again changes nothing, whichever instance is asked.
        assert!(!a.publish_catalog(&v2, Format::Csv).unwrap().changed, "{backend}");

        let offer = a.offer(1).unwrap();
        assert_eq!(offer.version, 2, "{backend}");
        assert_eq!(offer.packages[0].kind, "delta", "{backend}: {}", offer.reason);
        for p in a.offer(0).unwrap().packages.iter().chain(&offer.packages) {
            let from_a = std::fs::read(a.served_file(Area::Packages, &p.name).unwrap().unwrap()).unwrap();
            let from_b = std::fs::read(b.served_file(Area::Packages, &p.name).unwrap().unwrap()).unwrap();
            assert_eq!(from_a.len() as i64, p.size, "{backend}: {}", p.name);
            assert!(from_a == from_b, "{backend}: {} differs between instances", p.name);
        }
        assert!(a.served_file(Area::Packages, "snapshot-v9.tsdpkg").unwrap().is_none(), "{backend}");
        assert!(a.served_file(Area::Packages, "../server.db").is_err(), "{backend}");

        // Online lookups answer from v2 on both: a product renamed in v2 has its new name.
        let renamed = std::fs::read_to_string(&v2)
            .unwrap()
            .lines()
            .find(|l| l.contains(" new"))
            .map(str::to_string)
            .unwrap();
        let code = barcodes.iter().find(|c| renamed.contains(c.as_str())).cloned().unwrap();
        // An instance that did not publish v2 brings its lookup catalog up to it in
        // the background, answering from v1 meanwhile.
        for server in [&a, &b] {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                let hit = server.lookup(std::slice::from_ref(&code), None).unwrap().hit.expect("a hit");
                if hit.product.name.ends_with(" new") {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "{backend}: still {:?}", hit.product.name);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    });
}

#[test]
fn a_document_pushed_at_once_through_both_instances_is_stored_once() {
    each_backend(|backend, root, db| {
        let (a, b) = pair(root, db);
        a.add_device("t1").unwrap();
        let device = a.store().device_by_name("t1").unwrap().unwrap();
        let (a, b) = (Arc::new(a), Arc::new(b));
        let doc = |n: u32| DocumentRevision {
            doc_id: if n < 100 { "doc-1" } else { "doc-2" },
            revision: "1700000000000:3",
        };
        // Eight pushers, two instances, one document under four keys: one row.
        let ids: Vec<Pushed> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u32)
                .map(|i| {
                    let server = if i % 2 == 0 { a.clone() } else { b.clone() };
                    s.spawn(move || {
                        server
                            .store()
                            .push_document(device.id, &doc(i), &format!("key-{}", i % 4), "{\"id\":\"doc-1\"}", 1)
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let stored: Vec<i64> = ids
            .iter()
            .filter_map(|p| match p {
                Pushed::Stored(id) => Some(*id),
                _ => None,
            })
            .collect();
        assert_eq!(stored.len(), 1, "{backend}: {ids:?}");
        assert!(
            ids.iter()
                .all(|p| matches!(p, Pushed::Stored(id) | Pushed::Duplicate(id) if *id == stored[0])),
            "{backend}: {ids:?}"
        );
        // A key that names another document is refused, and stores nothing.
        let third = DocumentRevision {
            doc_id: "doc-3",
            revision: "1700000000001:9",
        };
        assert!(matches!(
            a.store().push_document(device.id, &third, "k3", "{}", 2).unwrap(),
            Pushed::Stored(_)
        ));
        let conflict = b.store().push_document(device.id, &doc(100), "k3", "{}", 2).unwrap();
        assert!(
            matches!(conflict, Pushed::KeyConflict { ref doc_id, .. } if doc_id == "doc-3"),
            "{backend}: {conflict:?}"
        );
        assert_eq!(a.store().documents(false).unwrap().len(), 2, "{backend}");
        assert!(b.store().ack_document(stored[0], 5).unwrap(), "{backend}");
        assert_eq!(a.store().documents(true).unwrap().len(), 1, "{backend}: doc-3 is not acknowledged");
    });
}

#[test]
fn tasks_reach_the_device_in_order_and_a_withdrawal_follows_them() {
    each_backend(|backend, root, db| {
        let (a, b) = pair(root, db);
        let (v1, _) = catalog(root, 20, 2);
        a.publish_catalog(&v1, Format::Csv).unwrap();
        a.add_device("t1").unwrap();
        let product = std::fs::read_to_string(&v1)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string();
        let task = |id: &str| format!(r#"{{"id":"{id}","type":"receiving","number":"{id}","lines":[{{"product":"{product}","qty":2}}]}}"#);
        assert_eq!(a.add_tasks("t1", &task("A")).unwrap(), 1, "{backend}");
        assert_eq!(b.add_tasks("t1", &format!("{}\n{}", task("A"), task("B"))).unwrap(), 1, "{backend}");
        let device = b.store().device_by_name("t1").unwrap().unwrap();
        let first = a.store().tasks_after(device.id, 0).unwrap();
        assert_eq!(first.len(), 2, "{backend}");
        assert!(first[0].0 < first[1].0, "{backend}");
        let cursor = first[1].0;
        assert_eq!(b.cancel_task("A", None).unwrap(), vec!["t1".to_string()], "{backend}");
        let after = a.store().tasks_after(device.id, cursor).unwrap();
        assert_eq!(after.len(), 1, "{backend}: the withdrawal comes after the cursor");
        assert!(after[0].1.contains("\"cancelled\":true"), "{backend}: {}", after[0].1);
        assert!(a.cancel_task("A", None).is_err(), "{backend}: withdrawn once");
        // A task naming a product the catalog lacks is refused with its line.
        let bad = b.add_tasks("t1", &task("C").replace(&product, "nope")).unwrap_err().to_string();
        assert!(bad.contains("line 1") && bad.contains("nope"), "{backend}: {bad}");
    });
}

#[test]
fn a_print_job_is_claimed_by_one_worker_at_a_time() {
    each_backend(|backend, root, db| {
        let (a, b) = pair(root, db);
        a.add_device("t1").unwrap();
        let device = a.store().device_by_name("t1").unwrap().unwrap();
        let job = |id: &str, printer: &str| tsd_core::print::PrintJob {
            id: id.into(),
            printer: printer.into(),
            template: "label".into(),
            copies: 1,
            fields: Default::default(),
        };
        for (id, printer) in [("j1", "p1"), ("j2", "p1"), ("j3", "p2")] {
            a.store().queue_print(device.id, &job(id, printer), 10).unwrap();
        }
        // The same job again is queued once.
        b.store().queue_print(device.id, &job("j1", "p1"), 11).unwrap();
        assert_eq!(a.store().print_jobs(None, 10).unwrap().len(), 3, "{backend}");

        let claimed = a.store().claim_print_jobs("worker-a", 100, 10_000).unwrap();
        let names: Vec<&str> = claimed.iter().map(|j| j.job.id.as_str()).collect();
        assert_eq!(names, ["j1", "j3"], "{backend}: the oldest job of each printer");
        let other = b.store().claim_print_jobs("worker-b", 200, 10_000).unwrap();
        if backend == "postgresql" {
            assert!(
                other.iter().all(|j| j.next_try_at == 10_000),
                "another instance's worker waits for the lease: {other:?}"
            );
            // Its lease ran out (that worker died): the other takes the job over.
            let taken = b.store().claim_print_jobs("worker-b", 20_000, 30_000).unwrap();
            assert_eq!(taken.len(), 2, "{taken:?}");
        }
        a.store().release_print(claimed[0].id, "worker-a").unwrap();
        a.store().update_print(claimed[0].id, "sent", 0, None, true, 100).unwrap();
        let next = a.store().claim_print_jobs("worker-a", 40_000, 50_000).unwrap();
        let names: Vec<&str> = next.iter().map(|j| j.job.id.as_str()).collect();
        assert_eq!(names, ["j2", "j3"], "{backend}: the next job of p1 once j1 is sent");
        let counts = b.store().print_job_counts().unwrap();
        assert!(counts.contains(&("sent".to_string(), 1)), "{backend}: {counts:?}");
    });
}

#[test]
fn publishes_at_once_on_both_instances_make_consecutive_versions() {
    each_backend(|backend, root, db| {
        let (a, b) = pair(root, db);
        let (a, b) = (Arc::new(a), Arc::new(b));
        let versions: Vec<(i64, bool)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|i| {
                    let server = if i % 2 == 0 { a.clone() } else { b.clone() };
                    s.spawn(move || {
                        let config = format!(r#"{{"schema":1,"document_types":[{{"id":"receiving","name":"Приёмка {i}"}}]}}"#);
                        server.publish_config(&config).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut made: Vec<i64> = versions.iter().filter(|(_, changed)| *changed).map(|(v, _)| *v).collect();
        made.sort();
        assert_eq!(made, (1..=6).collect::<Vec<_>>(), "{backend}: {versions:?}");
        assert_eq!(b.store().latest_config().unwrap().unwrap().0, 6, "{backend}");
    });
}

#[test]
fn setup_codes_logs_and_app_files_are_shared() {
    each_backend(|backend, root, db| {
        let (a, b) = pair(root, db);
        let code = a
            .setup_code("t1", true, "https://tsd.example", None, std::time::Duration::from_secs(600))
            .unwrap();
        let (name, token) = b.enroll(&code.enrolment).unwrap();
        assert_eq!(name, "t1", "{backend}");
        assert!(a.enroll(&code.enrolment).is_err(), "{backend}: a setup code is spent once");
        let device = a.device(&token).unwrap();
        assert!(b.device("tsd_dev_unknown").is_err(), "{backend}");

        // An app published on one is served by the other, byte for byte.
        let apk = root.join("app.apk");
        std::fs::write(&apk, vec![7u8; 3 << 20]).unwrap();
        let update = a.publish_app(&apk, 5, "1.5", 1).unwrap();
        assert_eq!(b.app_update(4).unwrap().unwrap().sha256, update.sha256, "{backend}");
        let served = b.served_file(Area::Apps, &update.file).unwrap().unwrap();
        assert!(std::fs::read(served).unwrap() == std::fs::read(&apk).unwrap(), "{backend}");
        assert!(b.publish_app(&apk, 4, "1.4", 1).is_err(), "{backend}: not newer");

        // A log bundle received by one is read by the other.
        let bundle = root.join("logs.tsdpkg");
        let mut header = tsd_core::package::Header::new(tsd_core::package::Kind::LogBundle, "t1", 2);
        header.package_id = "logs-1".into();
        let mut w = tsd_core::package::PackageWriter::create(&bundle, &header, None).unwrap();
        w.write(&r#"{"device":"t1"}"#.to_string()).unwrap();
        w.write(&r#"{"name":"tsd.log","text":"сканер подключён\n"}"#.to_string()).unwrap();
        w.finish().unwrap();
        let id = a.receive_logs(&device, &bundle).unwrap();
        assert_eq!(a.receive_logs(&device, &bundle).unwrap(), id, "{backend}: once");
        let text = b.logs_text(id).unwrap();
        assert!(text.contains("сканер подключён"), "{backend}: {text}");
    });
}

/// A database a newer server migrated is refused with what to do, not misread.
#[test]
fn a_database_from_a_newer_server_is_refused() {
    let db = postgres();
    let dir = tempfile::tempdir().unwrap();
    drop(instance(&dir.path().join("a"), Some(&db)));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute("UPDATE tsd_schema SET version = 99").await.unwrap();
    });
    let err = Server::open_with(&dir.path().join("b"), Some(&db))
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("schema 99") && err.contains("update tsd-server"), "{err}");
}

/// The console's document list: filtered and counted by the storage, newest first.
#[test]
fn documents_are_found_by_device_type_state_and_date() {
    each_backend(|backend, root, db| {
        let (a, _) = pair(root, db);
        for name in ["t1", "t2"] {
            a.add_device(name).unwrap();
        }
        let id = |n: &str| a.store().device_by_name(n).unwrap().unwrap().id;
        let mut stored = Vec::new();
        for (i, (device, doc_type, at)) in [
            ("t1", "receiving", 1_000),
            ("t1", "picking", 2_000),
            ("t2", "receiving", 3_000),
            ("t2", "receiving", 90_000_000),
        ]
        .into_iter()
        .enumerate()
        {
            let doc_id = format!("d{i}");
            let body = format!(r#"{{"id":"{doc_id}","type":"{doc_type}"}}"#);
            let doc = DocumentRevision {
                doc_id: &doc_id,
                revision: "1:1",
            };
            match a.store().push_document(id(device), &doc, &format!("k{i}"), &body, at).unwrap() {
                Pushed::Stored(n) => stored.push(n),
                other => panic!("{other:?}"),
            }
        }
        a.store().ack_document(stored[2], 5).unwrap();
        let find = |q: tsd_server::store::DocumentQuery, limit| {
            let (docs, total) = a.store().find_documents(&q, limit).unwrap();
            (docs.iter().map(|d| d.doc_id.clone()).collect::<Vec<_>>(), total)
        };
        use tsd_server::store::DocumentQuery as Q;
        assert_eq!(
            find(Q::default(), 10),
            (vec!["d3".into(), "d2".into(), "d1".into(), "d0".into()], 4),
            "{backend}"
        );
        assert_eq!(
            find(Q::default(), 2),
            (vec!["d3".into(), "d2".into()], 4),
            "{backend}: a page, the whole count"
        );
        let by_device = Q {
            device: Some("t1".into()),
            ..Q::default()
        };
        assert_eq!(find(by_device, 10).0, ["d1", "d0"], "{backend}");
        let by_type = Q {
            doc_type: Some("receiving".into()),
            ..Q::default()
        };
        assert_eq!(find(by_type, 10).0, ["d3", "d2", "d0"], "{backend}");
        let pending = Q {
            pending: Some(true),
            ..Q::default()
        };
        assert_eq!(find(pending, 10).0, ["d3", "d1", "d0"], "{backend}");
        let acked = Q {
            pending: Some(false),
            ..Q::default()
        };
        assert_eq!(find(acked, 10).0, ["d2"], "{backend}");
        let dates = Q {
            from: Some(2_000),
            to: Some(86_400_000),
            ..Q::default()
        };
        assert_eq!(find(dates, 10).0, ["d2", "d1"], "{backend}");
    });
}

#[test]
fn a_revoked_token_is_refused_at_once_by_the_instance_that_revoked_it_and_within_seconds_by_another() {
    each_backend(|backend, root, db| {
        let (a, b) = pair(root, db);
        let token = a.add_device("ТСД-1").unwrap();
        // Both instances have just checked it (and keep it as checked).
        assert!(a.device(&token).is_ok() && b.device(&token).is_ok(), "{backend}");
        assert!(a.revoke_device("ТСД-1").unwrap(), "{backend}");
        assert!(a.device(&token).is_err(), "{backend}: refused at once where it was revoked");
        assert!(!a.revoke_device("ТСД-9").unwrap(), "{backend}: no such terminal");
        // The other instance refuses it once its check is older than AUTH_FRESH.
        let deadline = std::time::Instant::now() + tsd_server::AUTH_FRESH + std::time::Duration::from_secs(5);
        while b.device(&token).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "{backend}: still accepted after {:?}",
                tsd_server::AUTH_FRESH
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // Set up again with a setup code: a new token works on both, the old one
        // stays refused.
        let code = a
            .setup_code("ТСД-1", false, "https://tsd.example", None, std::time::Duration::from_secs(600))
            .unwrap();
        let (_, new) = a.enroll(&code.enrolment).unwrap();
        assert!(
            a.device(&token).is_err() && a.device(&new).is_ok() && b.device(&new).is_ok(),
            "{backend}"
        );
    });
}

#[test]
fn when_a_device_was_seen_is_written_in_batches_and_shown_at_once() {
    each_backend(|backend, root, db| {
        let (a, b) = pair(root, db);
        let token = a.add_device("ТСД-1").unwrap();
        assert_eq!(b.devices().unwrap()[0].last_seen, None, "{backend}: never seen");
        let before = tsd_server::now_ms();
        a.device(&token).unwrap();
        // Reading the devices on the instance that saw it writes what it gathered…
        let seen = a.devices().unwrap()[0].last_seen.expect("seen");
        assert!(seen >= before, "{backend}");
        // …so the other instance reads it from the storage.
        assert_eq!(b.devices().unwrap()[0].last_seen, Some(seen), "{backend}");
        // A time never moves back.
        let id = b.store().device_by_name("ТСД-1").unwrap().unwrap().id;
        b.store().record_seen(&[(id, 1)]).unwrap();
        assert_eq!(b.devices().unwrap()[0].last_seen, Some(seen), "{backend}");
    });
}
