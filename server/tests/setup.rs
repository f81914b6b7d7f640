//! Setting a terminal up by scanning a setup code: URL + single-use, expiring
//! enrolment token + the server certificate's fingerprint. The terminal trusts
//! exactly that certificate from its first request, gets its own device token, and
//! syncs; the code works once and not after it expires.

mod common;
use common::*;
use std::time::Duration;
use tsd_core::setup::SetupCode;
use tsd_core::Error;
use tsd_server::run::{Background, TlsFiles};

fn self_signed(dir: &std::path::Path, name: &str) -> (TlsFiles, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let files = TlsFiles {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    };
    std::fs::write(&files.cert, cert.cert.pem()).unwrap();
    std::fs::write(&files.key, cert.signing_key.serialize_pem()).unwrap();
    (files, cert.cert.pem())
}

#[test]
fn a_scanned_setup_code_sets_the_terminal_up_once() {
    let w = World::new(20);
    let admin = w.server();
    let (tls, pem) = self_signed(w.dir.path(), "server");
    let bg = Background::start(w.server(), "127.0.0.1:0", Some(tls.clone())).unwrap();
    let hour = Duration::from_secs(3600);
    let code = admin.setup_code("ТСД-7", true, &bg.url, Some(pem.as_bytes()), hour).unwrap();
    assert!(code.pin_sha256.is_some());
    let text = code.to_text();

    // A code whose pin is of another certificate: refused before anything is sent,
    // and the code is not spent.
    let (_, other) = self_signed(w.dir.path(), "other");
    let forged = SetupCode {
        pin_sha256: Some(tsd_core::setup::pem_fingerprint(other.as_bytes()).unwrap()),
        ..code.clone()
    };
    let (rt, data) = w.terminal("t7");
    let e = rt.enroll(&forged.to_text()).unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e}");
    assert!(rt.server().is_none());

    // The real code, as the scanner delivers it (QR symbology prefix).
    assert_eq!(rt.enroll(&format!("]Q1{text}")).unwrap(), "ТСД-7");
    let kept = rt.server().unwrap();
    assert_eq!(kept.url, bg.url);
    assert_eq!(kept.pin_sha256, code.pin_sha256);
    let report = rt.sync_saved_server(&mut |_| {}).unwrap();
    assert_eq!(report.catalog_version, 1, "synced over the pinned certificate");
    drop(rt);
    let rt = tsd_core::Runtime::open(&data).unwrap();
    assert!(rt.sync_saved_server(&mut |_| {}).is_ok(), "the settings survive a restart");

    // Single use.
    let (again, _) = w.terminal("t8");
    let e = again.enroll(&text).unwrap_err().to_string();
    assert!(e.contains("already used"), "{e}");
    assert!(again.server().is_none());

    // A new code for the same device replaces its token: the old terminal is out.
    let code2 = admin.setup_code("ТСД-7", false, &bg.url, Some(pem.as_bytes()), hour).unwrap();
    assert_eq!(again.enroll(&code2.to_text()).unwrap(), "ТСД-7");
    let e = rt.sync_saved_server(&mut |_| {}).unwrap_err();
    assert!(matches!(e, Error::Server { status: 401, .. }), "{e}");

    // Expired.
    let stale = admin
        .setup_code("ТСД-9", true, &bg.url, Some(pem.as_bytes()), Duration::ZERO)
        .unwrap();
    let (late, _) = w.terminal("t9");
    let e = late.enroll(&stale.to_text()).unwrap_err().to_string();
    assert!(e.contains("expired"), "{e}");
    bg.stop();

    // The admin command prints the code as text (and QR).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tsd-server"))
        .args([
            "--data",
            w.server_dir.to_str().unwrap(),
            "device",
            "add",
            "ТСД-10",
            "--qr",
            "--json",
        ])
        .args(["--url", "https://tsd.local:8480", "--tls-cert", tls.cert.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let printed = SetupCode::parse(v["setup_code"].as_str().unwrap()).unwrap();
    assert_eq!(printed.url, "https://tsd.local:8480");
    assert_eq!(printed.pin_sha256, code.pin_sha256);
}
