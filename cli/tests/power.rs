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
//! Seeded and repeatable: `TSD_POWER_SEED=N` replays a run (the seed is printed);
//! `TSD_POWER_CUTS=N` sets how many cuts (100 by default).

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
        fs.cut().unwrap();
        fs = tsd_lossyfs::mount(&backing, &at).unwrap();
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
        let wait = Duration::from_millis(5 + rng.below(120));
        let started = Instant::now();
        while started.elapsed() < wait && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill(); // the battery is pulled: the process first…
        child.wait().unwrap();
        writer.join().unwrap();
        for (seq, raw) in reader.join().unwrap() {
            assert!(acknowledged.insert(seq, raw).is_none(), "seq {seq} acknowledged twice");
        }
        // …then, at the top of the loop, whatever the file system did not sync.
    }
    fs.cut().unwrap();
    let fs = tsd_lossyfs::mount(&backing, &at).unwrap();
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
