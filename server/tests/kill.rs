//! The `tsd-server` binary is killed with SIGKILL again and again while terminals
//! scan and sync and the accounting side publishes; after a restart on the same
//! port everything converges: each completed document stored exactly once, each
//! catalog at the final version, nothing left in any outbox, `server.db` intact.

mod common;
use common::*;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tsd-server");

fn admin(data: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(BIN).arg("--data").arg(data).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn sigkill_mid_sync_then_restart_ends_exactly_once() {
    let w = World::new(3000);
    let data = w.server_dir.clone();
    let tokens = [admin(&data, &["device", "add", "t1"]), admin(&data, &["device", "add", "t2"])];
    assert!(
        tokens[0].starts_with("tsd_dev_") && tokens[0].len() > 60,
        "device add prints the token"
    );
    let key = admin(&data, &["key", "new"]);
    let (child, url) = serve_data(&data, "127.0.0.1:0");
    let listen = url.trim_start_matches("http://").to_string();
    let server = Arc::new(Mutex::new(child));

    let stop = Arc::new(AtomicBool::new(false));
    let barcodes = Arc::new(w.barcodes.clone());
    let mut workers = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let (rt, path) = w.terminal(&format!("t{}", i + 1));
        let (stop, barcodes, s) = (stop.clone(), barcodes.clone(), settings(&url, token));
        workers.push(std::thread::spawn(move || {
            let mut rng = fastrand::Rng::with_seed(i as u64);
            let mut completed = Vec::new();
            let mut errors = 0;
            while !stop.load(Ordering::SeqCst) {
                let codes: Vec<String> = (0..rng.usize(1..4))
                    .map(|_| barcodes[rng.usize(0..barcodes.len())].clone())
                    .collect();
                completed.push(scan_and_complete(&rt, &codes));
                if let Err(e) = rt.sync_server(&s, &mut |_| {}) {
                    assert!(matches!(e, tsd_core::Error::Network { .. }), "unexpected: {e}");
                    errors += 1;
                }
            }
            (rt, path, s, completed, errors)
        }));
    }
    // The accounting side publishes through HTTP while the server is being killed.
    let publisher = publisher(stop.clone(), &url, &key, &w.catalog, w.dir.path(), Duration::from_millis(150));
    let mut rng = fastrand::Rng::with_seed(99);
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(rng.u64(150..600)));
        let mut child = server.lock().unwrap();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(rng.u64(0..200)));
        *child = serve_data(&data, &listen).0;
    }
    stop.store(true, Ordering::SeqCst);
    let published = publisher.join().unwrap();
    let results: Vec<_> = workers.into_iter().map(|h| h.join().unwrap()).collect();
    let total_errors: usize = results.iter().map(|r| r.4).sum();
    assert!(total_errors > 0, "the kills interrupted some syncs");

    // The final catalog: the newest version the server recorded.
    let final_file = admin(&data, &["catalog", "publish", w.catalog.to_str().unwrap()]);
    let final_version: serde_json::Value = serde_json::from_str(&final_file).unwrap();
    let want = reference_dump(w.dir.path(), &w.catalog);
    let mut all_docs = Vec::new();
    for (rt, path, s, completed, _) in &results {
        let r = rt.sync_server(s, &mut |_| {}).unwrap();
        assert_eq!(r.waiting, 0);
        assert!(rt.sync_status().unwrap().synced);
        assert_eq!(r.catalog_version, final_version["version"].as_i64().unwrap());
        assert_eq!(catalog_dump(path), want);
        all_docs.extend(completed.iter().cloned());
    }
    assert!(!published.is_empty() || final_version["version"].as_i64().unwrap() >= 1);
    server.lock().unwrap().kill().unwrap();
    server.lock().unwrap().wait().unwrap();

    let srv = w.server();
    let stored = stored_counts(&srv);
    all_docs.sort();
    assert_eq!(stored.keys().cloned().collect::<Vec<_>>(), all_docs);
    assert!(stored.values().all(|&n| n == 1), "{stored:?}");
    let listed: serde_json::Value = serde_json::from_str(&admin(&data, &["documents", "list", "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), all_docs.len());
    let conn = rusqlite::Connection::open(data.join("server.db")).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}
