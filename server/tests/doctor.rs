//! `tsd-server doctor` on real folders and real certificates (made by rcgen here):
//! what serve would meet, told in words, each finding with its level.

use rcgen::{CertificateParams, KeyPair};
use std::path::Path;
use tsd_server::doctor::{check, Setup};
use tsd_term::doctor::{Level, Report};

fn level(r: &Report, check: &str) -> Option<Level> {
    r.findings.iter().find(|f| f.check == check).map(|f| f.level)
}

fn finding<'r>(r: &'r Report, check: &str) -> &'r tsd_term::doctor::Finding {
    r.findings
        .iter()
        .find(|f| f.check == check)
        .unwrap_or_else(|| panic!("no {check} in {r:?}"))
}

/// A certificate valid from `from_days` to `to_days` from today (negative: past),
/// written with its key (or, with `other_key`, with a key it was not issued for).
fn certificate(dir: &Path, from_days: i64, to_days: i64, other_key: bool) -> (std::path::PathBuf, std::path::PathBuf) {
    let today = tsd_server::now_ms() / 86_400_000;
    let date = |days: i64| {
        let (y, m, d) = tsd_core::calendar::civil_from_days(today + days);
        rcgen::date_time_ymd(y as i32, m as u8, d as u8)
    };
    let mut params = CertificateParams::new(vec!["tsd.local".to_string()]).unwrap();
    params.not_before = date(from_days);
    params.not_after = date(to_days);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (c, k) = (dir.join(format!("cert{to_days}.pem")), dir.join(format!("key{to_days}.pem")));
    std::fs::write(&c, cert.pem()).unwrap();
    let key = if other_key { KeyPair::generate().unwrap() } else { key };
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

#[test]
fn a_healthy_server_passes_and_says_what_terminals_still_lack() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(tsd_server::Server::open(&data).unwrap());
    let tls = certificate(dir.path(), -1, 365, false);
    let r = check(&Setup {
        data: data.clone(),
        database: None,
        listen: Some("127.0.0.1:0".into()),
        tls: Some(tls),
    });
    assert!(!r.failed(), "{}", r.text());
    for ok in ["data folder", "server.db", "free space", "certificate", "address"] {
        assert_eq!(level(&r, ok), Some(Level::Ok), "{ok}: {}", r.text());
    }
    assert!(finding(&r, "certificate").detail.contains("key fits"), "{}", r.text());
    // Nothing published, no terminal: warnings with the command that fixes each.
    assert_eq!(level(&r, "catalog"), Some(Level::Warn));
    assert!(finding(&r, "catalog").fix.as_deref().unwrap().contains("catalog publish"));
    assert_eq!(level(&r, "terminals"), Some(Level::Warn));
}

#[test]
fn certificates_near_expiry_expired_or_with_the_wrong_key_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(tsd_server::Server::open(&data).unwrap());
    let run = |tls| {
        check(&Setup {
            data: data.clone(),
            tls: Some(tls),
            ..Default::default()
        })
    };
    let soon = run(certificate(dir.path(), -300, 10, false));
    assert_eq!(level(&soon, "certificate"), Some(Level::Warn), "{}", soon.text());
    assert!(finding(&soon, "certificate").detail.contains("day(s) left"), "{}", soon.text());
    let expired = run(certificate(dir.path(), -400, -3, false));
    assert_eq!(level(&expired, "certificate"), Some(Level::Fail), "{}", expired.text());
    assert!(finding(&expired, "certificate").detail.contains("expired"));
    let wrong = run(certificate(dir.path(), -1, 200, true));
    assert_eq!(level(&wrong, "certificate"), Some(Level::Fail), "{}", wrong.text());
    assert!(finding(&wrong, "certificate").detail.contains("does not fit"), "{}", wrong.text());
}

#[test]
fn a_newer_server_db_and_a_taken_address_are_reported_and_nothing_is_changed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(tsd_server::Server::open(&data).unwrap());
    let db = rusqlite::Connection::open(data.join("server.db")).unwrap();
    db.pragma_update(None, "user_version", 99).unwrap();
    drop(db);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let r = check(&Setup {
        data: data.clone(),
        listen: Some(taken.local_addr().unwrap().to_string()),
        ..Default::default()
    });
    assert!(r.failed());
    let f = finding(&r, "server.db");
    assert_eq!(f.level, Level::Fail);
    assert!(f.detail.contains("newer"), "{f:?}");
    assert!(f.fix.as_deref().unwrap().contains("update tsd-server"), "{f:?}");
    assert_eq!(level(&r, "address"), Some(Level::Warn), "{}", r.text());
    let version: i64 = rusqlite::Connection::open(data.join("server.db"))
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99, "doctor changed nothing");

    // A data folder that is not there: said so, and not created.
    let absent = dir.path().join("absent");
    let r = check(&Setup {
        data: absent.clone(),
        ..Default::default()
    });
    assert_eq!(level(&r, "data folder"), Some(Level::Fail));
    assert!(!absent.exists(), "doctor created the data folder");
}
