//! Two `tsd-server` processes on one PostgreSQL database behind one address: the
//! fault-injecting proxy of `faults.rs` (cut requests and responses, 503s, errors
//! after the work was done, replays, delays), sending each request to the next
//! live instance — no sticky sessions. Terminals scan, print labels and sync
//! through it while the accounting side publishes catalog versions; one instance
//! is killed with SIGKILL and restarted mid-run, twice, and the other keeps
//! serving. At the end every completed document is on the server exactly once,
//! every print job was printed exactly once, and every terminal holds the final
//! catalog.

mod common;
use common::printer::fake_printer;
use common::proxy::Proxy;
use common::*;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tsd-server");

/// A server process, killed when dropped (a failing assertion does not leave it
/// running).
struct Instance(Child);

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn admin(db: &tsd_server::Database, data: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(["--database", &db.url])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Starts `serve` on `listen` and returns once it printed `listening on URL`.
fn serve(db: &tsd_server::Database, data: &Path, listen: &str) -> (Instance, SocketAddr) {
    let args = ["--database", &db.url, "serve", "--listen", listen, "--print-lease-secs", "2"];
    let mut all: Vec<&std::ffi::OsStr> = vec!["--data".as_ref(), data.as_os_str()];
    all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    let (child, url) = serve_binary(BIN, &all);
    (Instance(child), url.trim_start_matches("http://").parse().unwrap())
}

#[test]
fn two_instances_on_postgresql_one_killed_mid_run_end_exactly_once() {
    let db = postgres();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (a_data, b_data, admin_data) = (root.join("a"), root.join("b"), root.join("admin"));
    let (base, barcodes) = catalog(root, 3000, 7);
    admin(&db, &admin_data, &["catalog", "publish", base.to_str().unwrap()]);
    let names = ["t1", "t2", "t3", "t4"];
    let tokens: Vec<String> = names.iter().map(|n| admin(&db, &admin_data, &["device", "add", n])).collect();
    let key = admin(&db, &admin_data, &["key", "new"]);
    let (printer, zpl) = fake_printer(&[]);
    admin(&db, &admin_data, &["printer", "add", "zebra-1", &printer]);

    let (a, a_addr) = serve(&db, &a_data, "127.0.0.1:0");
    let (b, b_addr) = serve(&db, &b_data, "127.0.0.1:0");
    let seed = std::env::var("TSD_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("fault seed {seed} (rerun with TSD_FAULT_SEED={seed})");
    let (proxy, upstreams) = Proxy::balancing(vec![a_addr, b_addr], seed);
    let url = format!("http://{}", proxy.addr);
    let a = Arc::new(Mutex::new(a));

    // The terminals take the catalog on a clean network first (labels name its products).
    proxy.faults.store(false, Ordering::SeqCst);
    let stop = Arc::new(AtomicBool::new(false));
    let barcodes = Arc::new(barcodes);
    let mut workers = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let data = root.join(names[i]);
        let rt = tsd_core::Runtime::open(&data).unwrap();
        let (stop, barcodes, s) = (stop.clone(), barcodes.clone(), settings(&url, token));
        rt.sync_server(&s, &mut |_| {}).unwrap();
        workers.push(std::thread::spawn(move || {
            let mut rng = fastrand::Rng::with_seed(i as u64);
            let (mut completed, mut printed, mut errors) = (Vec::new(), Vec::new(), 0);
            while !stop.load(Ordering::SeqCst) {
                let codes: Vec<String> = (0..rng.usize(1..4))
                    .map(|_| barcodes[rng.usize(0..barcodes.len())].clone())
                    .collect();
                completed.push(scan_and_complete(&rt, &codes));
                // A label for a product the catalog in hand has (the published
                // versions leave some out).
                if rng.usize(0..3) == 0 {
                    if let Ok(job) = rt.print_label("zebra-1", &codes[0], 1, Some("12.50")) {
                        printed.push(job.id);
                    }
                }
                if let Err(e) = rt.sync_server(&s, &mut |_| {}) {
                    assert!(
                        matches!(e, tsd_core::Error::Network { .. } | tsd_core::Error::Server { .. }),
                        "unexpected: {e}"
                    );
                    errors += 1;
                }
            }
            (rt, data, s, completed, printed, errors)
        }));
    }
    proxy.faults.store(true, Ordering::SeqCst);
    // The accounting side publishes through the same address meanwhile.
    let publisher = publisher(stop.clone(), &url, &key, &base, root, Duration::from_millis(200));
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(rng.u64(700..1200)));
        let mut child = a.lock().unwrap();
        child.0.kill().unwrap(); // SIGKILL
        child.0.wait().unwrap();
        // Instance B alone for a while.
        std::thread::sleep(Duration::from_millis(rng.u64(400..800)));
        *child = serve(&db, &a_data, &a_addr.to_string()).0;
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    proxy.faults.store(false, Ordering::SeqCst);
    publisher.join().unwrap();
    let results: Vec<_> = workers.into_iter().map(|h| h.join().unwrap()).collect();

    // The final catalog: published once more on B's side, by its command.
    let last = admin(&db, &admin_data, &["catalog", "publish", base.to_str().unwrap()]);
    let final_version = serde_json::from_str::<serde_json::Value>(&last).unwrap()["version"]
        .as_i64()
        .unwrap();
    let want = reference_dump(root, &base);
    let (mut all_docs, mut all_jobs) = (Vec::new(), Vec::new());
    for (rt, data, s, completed, printed, _) in &results {
        let r = rt.sync_server(s, &mut |_| {}).unwrap();
        assert_eq!(r.waiting, 0);
        assert_eq!(r.catalog_version, final_version);
        assert_eq!(catalog_dump(data), want);
        all_docs.extend(completed.iter().cloned());
        all_jobs.extend(printed.iter().cloned());
    }
    let errors: usize = results.iter().map(|r| r.5).sum();
    let spread: Vec<u64> = upstreams.served.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    assert!(spread.iter().all(|&n| n > 0), "both instances served: {spread:?}");

    let check = instance(&admin_data, Some(&db));
    let stored = stored_counts(&check);
    all_docs.sort();
    assert_eq!(stored.keys().cloned().collect::<Vec<_>>(), all_docs, "{errors} syncs cut");
    assert!(stored.values().all(|&n| n == 1), "{stored:?}");

    // Every job sent, each printed once (a job whose instance died mid-job is
    // finished by the other after its lease).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let jobs = check.store().print_jobs(None, 10_000).unwrap();
        if jobs.len() == all_jobs.len() && jobs.iter().all(|j| j.status == "sent") {
            break;
        }
        assert!(Instant::now() < deadline, "print jobs not all sent: {jobs:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let labels = zpl.lock().unwrap().labels.clone();
    for id in &all_jobs {
        let n = labels.iter().filter(|l| l.contains(&format!("tsd job {id}^"))).count();
        assert_eq!(n, 1, "job {id} printed {n} times");
    }
    assert_eq!(labels.len(), all_jobs.len());
    eprintln!(
        "fleet: {} documents, {} print jobs, {errors} syncs failed, requests per instance {spread:?}, {} faults injected, final catalog v{final_version}",
        all_docs.len(),
        all_jobs.len(),
        proxy.stats.injected()
    );
    drop(b);
}
