//! Kill -9 test: a child `tsd doc scan --stdin` scans in a loop and is killed with
//! SIGKILL at random moments, 50 times. Every scan the child reported (its line was
//! printed only after the commit returned) must be in the journal exactly once,
//! nothing unsent may appear, and SQLite's integrity check must pass.

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
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

#[test]
fn acknowledged_scans_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data");
    let exe = env!("CARGO_BIN_EXE_tsd");
    let out = Command::new(exe)
        .args(["--json", "--db"])
        .arg(&db)
        .args(["doc", "new", "receiving"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = doc["id"].as_str().unwrap().to_string();

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed);
    let mut acknowledged: HashMap<i64, String> = HashMap::new();
    let mut sent: HashSet<String> = HashSet::new();
    for round in 0..50 {
        let mut child = Command::new(exe)
            .args(["--json", "--db"])
            .arg(&db)
            .args(["doc", "scan", &id, "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let codes: Vec<String> = (0..400).map(|k| format!("CRASH-{round:02}-{k:04}")).collect();
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
        let wait = Duration::from_millis(10 + rng.below(150));
        let started = Instant::now();
        while started.elapsed() < wait {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        writer.join().unwrap();
        for (seq, raw) in reader.join().unwrap() {
            assert!(acknowledged.insert(seq, raw).is_none(), "seq {seq} acknowledged twice");
        }
    }
    assert!(
        acknowledged.len() > 100,
        "the child should have scanned something: {}",
        acknowledged.len()
    );

    let rt = tsd_core::Runtime::open(&db).unwrap();
    let journal = rt.document(&id).unwrap().scans;
    let mut seen: HashSet<&str> = HashSet::new();
    for e in &journal {
        let raw = e.raw.as_deref().unwrap();
        assert!(seen.insert(raw), "{raw} journaled twice");
        assert!(sent.contains(raw), "{raw} was never sent");
    }
    let by_seq: HashMap<i64, &str> = journal.iter().map(|e| (e.seq, e.raw.as_deref().unwrap())).collect();
    for (seq, raw) in &acknowledged {
        assert_eq!(by_seq.get(seq), Some(&raw.as_str()), "acknowledged scan {seq} ({raw}) is missing");
    }
    drop(rt);
    for db_name in [tsd_core::store::Db::Journal, tsd_core::store::Db::Catalog] {
        let conn = tsd_core::store::open(&db, db_name, true).unwrap();
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok", "{db_name:?}");
    }
    eprintln!("{} acknowledged, {} journaled", acknowledged.len(), journal.len());
}
