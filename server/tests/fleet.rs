//! Two `tsd-server` processes on one PostgreSQL database behind one address (a
//! round-robin TCP balancer, no sticky sessions: each new connection goes to the
//! next instance that accepts it). Terminals scan, print labels and sync through
//! it while the accounting side publishes catalog versions; one instance is killed
//! with SIGKILL and restarted mid-run, twice, and the other keeps serving. At the
//! end every completed document is on the server exactly once, every print job
//! was printed exactly once, and every terminal holds the final catalog.

mod common;
use common::printer::fake_printer;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tsd-server");

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
fn serve(db: &tsd_server::Database, data: &Path, listen: &str) -> (Child, SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(data)
            .args(["--database", &db.url, "serve", "--listen", listen, "--print-lease-secs", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        if let Some(url) = line.trim().strip_prefix("listening on http://") {
            return (child, url.parse().unwrap());
        }
        // The port may still be held by the killed process for a moment.
        let _ = child.wait();
        assert!(Instant::now() < deadline, "server did not start on {listen}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A round-robin TCP balancer: each connection to the next upstream that accepts
/// it (a dead instance is passed over, as a proxy's health check would).
fn balancer(upstreams: Vec<SocketAddr>) -> (SocketAddr, Arc<[AtomicUsize; 2]>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let served: Arc<[AtomicUsize; 2]> = Arc::default();
    let counts = served.clone();
    std::thread::spawn(move || {
        let mut next = 0;
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let upstream = (0..upstreams.len()).find_map(|k| {
                let i = (next + k) % upstreams.len();
                TcpStream::connect_timeout(&upstreams[i], Duration::from_millis(500))
                    .ok()
                    .map(|s| (i, s))
            });
            next += 1;
            let Some((i, server)) = upstream else { continue };
            counts[i].fetch_add(1, Ordering::Relaxed);
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 << 10];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Write);
                    let _ = from.shutdown(std::net::Shutdown::Read);
                });
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    (addr, served)
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
    let (front, served) = balancer(vec![a_addr, b_addr]);
    let url = format!("http://{front}");
    let a = Arc::new(Mutex::new(a));

    let stop = Arc::new(AtomicBool::new(false));
    let barcodes = Arc::new(barcodes);
    let mut workers = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let data = root.join(names[i]);
        let rt = tsd_core::Runtime::open(&data).unwrap();
        let (stop, barcodes, s) = (stop.clone(), barcodes.clone(), settings(&url, token));
        rt.sync_server(&s, &mut |_| {}).unwrap(); // the catalog first: labels name its products
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
                    assert!(matches!(e, tsd_core::Error::Network { .. }), "unexpected: {e}");
                    errors += 1;
                }
            }
            (rt, data, s, completed, printed, errors)
        }));
    }
    // The accounting side publishes through the same address meanwhile.
    let publisher = {
        let (stop, url, key, base, dir) = (stop.clone(), url.clone(), key.clone(), base.clone(), root.to_path_buf());
        std::thread::spawn(move || {
            let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let file = dir.join(format!("pub-{n}.csv"));
                change(&base, &file, 5 + n % 17, &format!("p{n}"));
                let _ = agent
                    .post(format!("{url}/v1/catalog?format=csv"))
                    .header("Authorization", format!("Bearer {key}"))
                    .send(&std::fs::read(&file).unwrap()[..]);
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let mut rng = fastrand::Rng::with_seed(42);
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(rng.u64(700..1200)));
        let mut child = a.lock().unwrap();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Instance B alone for a while.
        std::thread::sleep(Duration::from_millis(rng.u64(400..800)));
        *child = serve(&db, &a_data, &a_addr.to_string()).0;
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
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
    let spread = [served[0].load(Ordering::Relaxed), served[1].load(Ordering::Relaxed)];
    assert!(spread[0] > 0 && spread[1] > 0, "both instances served: {spread:?}");

    let check = instance(&admin_data, Some(&db));
    let stored = stored_counts(&check);
    all_docs.sort();
    assert_eq!(stored.keys().cloned().collect::<Vec<_>>(), all_docs, "{errors} syncs cut");
    assert!(stored.values().all(|&n| n == 1), "{stored:?}");

    // Every job sent, each printed once (a job whose instance died mid-job is
    // finished by the other after its lease).
    let deadline = Instant::now() + Duration::from_secs(60);
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
        "fleet: {} documents, {} print jobs, {errors} syncs cut, connections per instance {spread:?}, final catalog v{final_version}",
        all_docs.len(),
        all_jobs.len()
    );
    let mut b = b;
    for child in [&mut *a.lock().unwrap(), &mut b] {
        let _ = child.kill();
        let _ = child.wait();
    }
}
