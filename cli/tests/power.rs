//! Power cuts, not only kill -9: the terminal's data folder is on a file system
//! that forgets every write not made durable (`tsd-lossyfs`: file bytes count
//! once the file is fsync'd, directory entries once the directory is). A child
//! `tsd doc scan --stdin` scans, is killed at a random moment, and the power is
//! cut — the file system unmounted and mounted again from what was synced. After
//! each cut every scan the child acknowledged (its line printed after the commit
//! returned) is in the journal exactly once with its raw input, nothing unsent
//! appears, the journal passes `PRAGMA integrity_check`, and the runtime opens
//! without repair.
//!
//! The same around folder syncs (documents out as packages, acknowledgements and
//! catalog snapshot and deltas in, the PC collecting) and HTTP syncs (documents,
//! labels queued in the journal, log bundles): nothing completed or queued is
//! lost, nothing in `from-device/` is damaged, the catalog is one whole version,
//! and at the end each document and label is on the other side once.
//!
//! Seeded and repeatable: `TSD_POWER_SEED=N` replays a run (the seed is printed);
//! `TSD_POWER_CUTS=N` sets how many cuts while scanning (100 by default; half as
//! many around folder syncs, a quarter around HTTP syncs).

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn seed() -> u64 {
    let seed = std::env::var("TSD_POWER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1;
    eprintln!("TSD_POWER_SEED={seed}");
    seed
}

fn cuts() -> usize {
    std::env::var("TSD_POWER_CUTS").ok().and_then(|s| s.parse().ok()).unwrap_or(100)
}

fn tsd(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tsd"));
    c.args(["--json", "--db"]).arg(data);
    c
}

/// `cmd` run with its output thrown away, and the battery pulled at a random
/// moment within `wait` ([`kill_after`]).
fn run_until_killed(cmd: &mut Command, wait: Duration) {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    kill_after(&mut child, wait);
}

/// The battery pulled at a random moment: the process is killed (SIGKILL) once
/// `wait` has passed, or found already finished.
fn kill_after(child: &mut std::process::Child, wait: Duration) {
    let started = Instant::now();
    while started.elapsed() < wait && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    child.wait().unwrap();
}

fn integrity(data: &Path) {
    for db in [tsd_core::store::Db::Journal, tsd_core::store::Db::Catalog] {
        let conn = tsd_core::store::open(data, db, true).unwrap_or_else(|e| panic!("{db:?} does not open: {e}"));
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok", "{db:?}");
    }
}

#[test]
fn acknowledged_scans_survive_power_cuts() {
    let seed = seed();
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let (backing, at) = (dir.path().join("backing"), dir.path().join("mnt"));
    let mut fs = tsd_lossyfs::mount(&backing, &at).unwrap();
    let data = at.join("data");

    // The document is acknowledged once `doc new` printed it: it must survive the
    // very first cut, right after the data folder was made.
    let out = tsd(&data).args(["doc", "new", "receiving"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut acknowledged: HashMap<i64, String> = HashMap::new();
    let mut sent: HashSet<String> = HashSet::new();
    let n = cuts();
    for round in 0..n {
        fs = fs.power_cycle().unwrap();
        if round > 0 {
            check(&data, &id, &acknowledged, &sent, round);
        }
        let mut child = tsd(&data)
            .args(["doc", "scan", &id, "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let codes: Vec<String> = (0..300).map(|k| format!("POWER-{round:04}-{k:04}")).collect();
        sent.extend(codes.iter().cloned());
        let writer = std::thread::spawn(move || {
            for c in codes {
                if writeln!(stdin, "{c}").is_err() {
                    break; // the child is gone
                }
            }
        });
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // A line cut by the kill is not an acknowledgement.
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    got.push((v["seq"].as_i64().unwrap(), v["input"].as_str().unwrap().to_string()));
                }
            }
            got
        });
        kill_after(&mut child, Duration::from_millis(5 + rng.below(120))); // the battery is pulled: the process first…
        writer.join().unwrap();
        for (seq, raw) in reader.join().unwrap() {
            assert!(acknowledged.insert(seq, raw).is_none(), "seq {seq} acknowledged twice");
        }
        // …then, at the top of the loop, whatever the file system did not sync.
    }
    let fs = fs.power_cycle().unwrap();
    check(&data, &id, &acknowledged, &sent, n);
    assert!(
        acknowledged.len() > n,
        "the child should have scanned something: {}",
        acknowledged.len()
    );
    eprintln!(
        "{n} power cuts, {} scans acknowledged, 0 lost; {} file syncs, {} directory syncs in the last mount",
        acknowledged.len(),
        fs.stats().file_syncs.load(std::sync::atomic::Ordering::Relaxed),
        fs.stats().dir_syncs.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// After a cut: the runtime opens, every acknowledged scan is there once.
fn check(data: &Path, id: &str, acknowledged: &HashMap<i64, String>, sent: &HashSet<String>, round: usize) {
    let rt = tsd_core::Runtime::open(data).unwrap_or_else(|e| panic!("after cut {round} the runtime does not open: {e}"));
    let doc = rt
        .document(id)
        .unwrap_or_else(|e| panic!("after cut {round} the acknowledged document is gone: {e}"));
    let mut seen: HashSet<&str> = HashSet::new();
    for e in &doc.scans {
        let raw = e.raw.as_deref().unwrap();
        assert!(seen.insert(raw), "after cut {round}: {raw} journaled twice");
        assert!(sent.contains(raw), "after cut {round}: {raw} was never sent");
    }
    let by_seq: HashMap<i64, &str> = doc.scans.iter().map(|e| (e.seq, e.raw.as_deref().unwrap())).collect();
    for (seq, raw) in acknowledged {
        assert_eq!(
            by_seq.get(seq),
            Some(&raw.as_str()),
            "after cut {round}: acknowledged scan {seq} ({raw}) is lost"
        );
    }
    drop(rt);
    integrity(data);
}

/// A catalog of `200 + extra` products: version `1 + extra` of the PC's export.
fn export(dir: &Path, extra: usize) -> std::path::PathBuf {
    let mut csv = String::from("product_id,name,barcode\n");
    for i in 0..200 + extra {
        csv += &format!("P{i},Товар {i},X{i:06}\n");
    }
    let path = dir.join(format!("v{}.csv", 1 + extra));
    std::fs::write(&path, csv).unwrap();
    path
}

fn run_ok(c: &mut Command) -> Value {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{c:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[test]
fn a_folder_sync_and_catalog_packages_survive_power_cuts() {
    let seed = seed();
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let (backing, at) = (dir.path().join("backing"), dir.path().join("mnt"));
    let mut fs = tsd_lossyfs::mount(&backing, &at).unwrap();
    // The terminal's data and the exchange folder lose power; the PC's side (its
    // files, the collected output) is another machine.
    let (data, folder, pc) = (at.join("data"), at.join("exchange"), dir.path().join("pc"));
    std::fs::create_dir_all(&pc).unwrap();
    let mut version: i64 = 1;
    run_ok(
        tsd(&pc.join("db"))
            .args(["exchange", "put-catalog", "--version", "1", "--folder"])
            .arg(&folder)
            .arg(export(&pc, 0)),
    );

    let mut completed: HashSet<String> = HashSet::new();
    let mut collected: HashMap<String, usize> = HashMap::new();
    let collect = |collected: &mut HashMap<String, usize>, k: usize| {
        let out = pc.join(format!("out-{k}.jsonl"));
        let got = run_ok(
            tsd(&pc.join("db"))
                .args(["exchange", "collect", "--folder"])
                .arg(&folder)
                .arg("--out")
                .arg(&out),
        );
        assert_eq!(
            got["rejected"],
            serde_json::json!([]),
            "a package in from-device/ was damaged: {got}"
        );
        for id in got["documents"].as_array().unwrap() {
            *collected.entry(id.as_str().unwrap().to_string()).or_default() += 1;
        }
    };
    let n = (cuts() / 2).max(1);
    for round in 0..n {
        fs = fs.power_cycle().unwrap();
        if round > 0 {
            check_folder_side(&data, &completed, version, round);
        }
        // Each step is done when its command returns: a document completed.
        let doc = run_ok(tsd(&data).args(["doc", "new", "receiving"]));
        let id = doc["id"].as_str().unwrap().to_string();
        let mut scan = tsd(&data)
            .args(["doc", "scan", &id, "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        writeln!(scan.stdin.take().unwrap(), "X{:06}\nX{:06}", round % 200, (round * 7) % 200).unwrap();
        assert!(scan.wait().unwrap().success());
        run_ok(tsd(&data).args(["doc", "complete", &id]));
        completed.insert(id);
        // The PC side now and then: a new version as a delta, a collect.
        if rng.below(3) == 0 {
            run_ok(
                tsd(&pc.join("db"))
                    .args(["exchange", "put-delta", "--folder"])
                    .arg(&folder)
                    .arg("--base")
                    .arg(export(&pc, (version - 1) as usize))
                    .args(["--from-version", &version.to_string(), "--to-version", &(version + 1).to_string()])
                    .arg(export(&pc, version as usize)),
            );
            version += 1;
        }
        if rng.below(3) == 0 {
            collect(&mut collected, round);
        }
        // The terminal's sync — packages out, acknowledgements and catalog packages
        // in — cut at a random moment.
        run_until_killed(
            tsd(&data).args(["sync", "--folder"]).arg(&folder),
            Duration::from_millis(rng.below(150)),
        );
    }
    let _fs = fs.power_cycle().unwrap();
    check_folder_side(&data, &completed, version, n);
    // With the power on: everything still waiting arrives (this sync ends
    // non-zero: its documents wait for the PC's acknowledgement).
    tsd(&data).args(["sync", "--folder"]).arg(&folder).output().unwrap();
    collect(&mut collected, n);
    run_ok(tsd(&data).args(["sync", "--folder"]).arg(&folder));
    for id in &completed {
        assert!(collected.contains_key(id), "completed document {id} never reached the PC");
    }
    let rt = tsd_core::Runtime::open(&data).unwrap();
    assert!(rt.outbox().unwrap().is_empty(), "acknowledged documents leave the outbox");
    assert_eq!(
        rt.catalog_stats().unwrap().synced_version,
        version,
        "the terminal holds the last version"
    );
    let again: usize = collected.values().filter(|&&k| k > 1).count();
    eprintln!(
        "{n} power cuts around folder syncs: {} documents completed, all collected ({again} collected again after a cut), catalog v{version}",
        completed.len()
    );
}

/// After a cut, the terminal's side: it opens, intact; every completed document is
/// still there; the catalog is one whole version (each has one product more).
fn check_folder_side(data: &Path, completed: &HashSet<String>, published: i64, round: usize) {
    let rt = tsd_core::Runtime::open(data).unwrap_or_else(|e| panic!("after cut {round} the runtime does not open: {e}"));
    for id in completed {
        let doc = rt
            .document(id)
            .unwrap_or_else(|e| panic!("after cut {round}: completed document {id} is gone: {e}"));
        assert!(doc.header.completed_at.is_some(), "after cut {round}: {id} is no longer completed");
    }
    let stats = rt.catalog_stats().unwrap();
    assert!(stats.synced_version <= published, "after cut {round}");
    if stats.synced_version > 0 {
        assert_eq!(
            stats.products,
            199 + stats.synced_version,
            "after cut {round}: a half-applied catalog: {stats:?}"
        );
    }
    drop(rt);
    integrity(data);
}

#[test]
fn an_http_sync_with_documents_and_labels_survives_the_terminals_power_cuts() {
    let seed = seed();
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let (backing, at) = (dir.path().join("backing"), dir.path().join("mnt"));
    let mut fs = tsd_lossyfs::mount(&backing, &at).unwrap();
    let data = at.join("data");
    // The server on loopback, on an ordinary disk (its own cuts: server/tests/power.rs).
    let server = tsd_server::Server::open(&dir.path().join("srv")).unwrap();
    server
        .publish_catalog(&export(dir.path(), 0), tsd_core::catalog::Format::Csv)
        .unwrap();
    let token = server.add_device("ТСД-1").unwrap();
    // No printer listens there: jobs stay on the server's queue, which is all this checks.
    server.add_printer("zebra", "127.0.0.1:9").unwrap();
    let bg = tsd_server::run::Background::start(server, "127.0.0.1:0", None).unwrap();
    run_ok(tsd(&data).args(["server", "set", &bg.url, "--token", &token]));
    // The catalog first (labels name its products).
    run_ok(tsd(&data).args(["sync"]));

    let (mut completed, mut labels): (HashSet<String>, HashSet<String>) = (HashSet::new(), HashSet::new());
    let mut bundles = 0;
    let n = (cuts() / 4).max(1);
    for round in 0..n {
        fs = fs.power_cycle().unwrap();
        if round > 0 {
            let rt = tsd_core::Runtime::open(&data).unwrap_or_else(|e| panic!("after cut {round}: {e}"));
            for id in &completed {
                let doc = rt
                    .document(id)
                    .unwrap_or_else(|e| panic!("after cut {round}: completed document {id} is gone: {e}"));
                assert!(doc.header.completed_at.is_some(), "after cut {round}: {id}");
            }
            let kept: HashSet<String> = rt.print_jobs().unwrap().into_iter().map(|(j, _)| j.id).collect();
            for id in &labels {
                assert!(kept.contains(id), "after cut {round}: label {id} the terminal acknowledged is gone");
            }
            drop(rt);
            integrity(&data);
        }
        let id = run_ok(tsd(&data).args(["doc", "new", "receiving"]))["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut scan = tsd(&data)
            .args(["doc", "scan", &id, "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        writeln!(scan.stdin.take().unwrap(), "X{:06}", round % 200).unwrap();
        assert!(scan.wait().unwrap().success());
        run_ok(tsd(&data).args(["doc", "complete", &id]));
        completed.insert(id);
        let job = run_ok(tsd(&data).args(["print", "label", "zebra", &format!("X{:06}", (round * 3) % 200)]));
        labels.insert(job["id"].as_str().unwrap().to_string());
        if round % 5 == 0 {
            // A log bundle: once the command returns, it is the server's.
            run_ok(tsd(&data).args(["logs", "send"]));
            bundles += 1;
        }
        run_until_killed(tsd(&data).args(["sync"]), Duration::from_millis(rng.below(150)));
    }
    let _fs = fs.power_cycle().unwrap();
    run_ok(tsd(&data).args(["sync"]));
    let server = tsd_server::Server::open(&dir.path().join("srv")).unwrap();
    let mut stored: HashMap<String, usize> = HashMap::new();
    for d in server.store().documents(false).unwrap() {
        *stored.entry(d.doc_id).or_default() += 1;
    }
    for id in &completed {
        assert_eq!(stored.get(id), Some(&1), "document {id} on the server once");
    }
    let mut queued: HashMap<String, usize> = HashMap::new();
    for j in server.store().print_jobs(None, i64::MAX).unwrap() {
        *queued.entry(j.job.id).or_default() += 1;
    }
    for id in &labels {
        assert_eq!(queued.get(id), Some(&1), "label {id} on the server's queue once");
    }
    assert_eq!(
        server.store().logs(i64::MAX).unwrap().len(),
        bundles,
        "each log bundle sent is on the server once"
    );
    eprintln!(
        "{n} power cuts around HTTP syncs: {} documents, {} labels and {bundles} log bundles, each on the server once",
        completed.len(),
        labels.len()
    );
}
