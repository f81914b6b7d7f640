//! The terminal and the USB bridge against a server that answers what it likes: a
//! loopback listener with canned answers per path. Whatever it sends, the result
//! is a typed error — no panic, no file outside the exchange folder, and the sync
//! status still tells the truth.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tsd_core::sync::ServerSettings;
use tsd_core::{Error, Runtime};

/// A canned answer: status line, extra headers, body.
#[derive(Clone)]
struct Answer {
    status: &'static str,
    headers: Vec<(String, String)>,
    body: String,
}

fn json(body: serde_json::Value) -> Answer {
    Answer {
        status: "200 OK",
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string(),
    }
}

/// Serves `answers` (path prefix → answer; first match wins) until dropped;
/// unknown paths get 404. Every request closes its connection.
struct Canned {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Canned {
    fn start(answers: Vec<(&'static str, Answer)>) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { break };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    continue;
                }
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; length];
                let _ = std::io::Read::read_exact(&mut reader, &mut body);
                let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(path.clone());
                let answer = answers
                    .iter()
                    .find(|(p, _)| path.starts_with(p))
                    .map(|(_, a)| a.clone())
                    .unwrap_or(Answer {
                        status: "404 Not Found",
                        headers: vec![],
                        body: r#"{"error":"not_found","message":"no"}"#.into(),
                    });
                let mut head = format!(
                    "HTTP/1.1 {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    answer.status,
                    answer.body.len()
                );
                for (k, v) in &answer.headers {
                    head += &format!("{k}: {v}\r\n");
                }
                let _ = conn.write_all(format!("{head}\r\n{}", answer.body).as_bytes());
            }
        });
        Canned { url, seen }
    }
}

fn hello() -> Answer {
    json(serde_json::json!({"server": "canned", "protocol_min": 1, "protocol_max": 1, "catalog_version": 3}))
}

fn settings(url: &str) -> ServerSettings {
    let mut s = ServerSettings::new(url, "tsd_dev_x");
    s.timeout = Duration::from_secs(5);
    s
}

/// A Retry-After of u64::MAX seconds: the failure is recorded with the next
/// attempt far away, not an overflow.
#[test]
fn a_huge_retry_after_is_recorded_not_an_overflow() {
    let server = Canned::start(vec![(
        "/v1/hello",
        Answer {
            status: "503 Service Unavailable",
            headers: vec![("Retry-After".into(), u64::MAX.to_string())],
            body: r#"{"error":"unavailable","message":"busy"}"#.into(),
        },
    )]);
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::open(&dir.path().join("t")).unwrap();
    let err = rt.sync_server(&settings(&server.url), &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::Network { .. }), "{err}");
    let status = rt.sync_status().unwrap();
    assert_eq!(status.failures, 1);
    assert!(status.next_attempt_at > 0, "{status:?}");
    assert!(!rt.sync_due().unwrap(), "not due for a very long time");
}

/// A package name or kind with a path in it, from the server the USB bridge talks
/// to: refused before anything is written, nothing outside the folder.
#[test]
fn the_bridge_refuses_package_names_that_leave_the_folder() {
    for (name, kind) in [("../../escape.tsdpkg", "snapshot"), ("catalog-1.tsdpkg", "../../x")] {
        let server = Canned::start(vec![
            ("/v1/hello", hello()),
            (
                "/v1/device/catalog",
                json(serde_json::json!({"version": 3, "packages": [{"name": name, "kind": kind, "from": 0, "to": 3, "size": 10}]})),
            ),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("pc").join("exchange");
        std::fs::create_dir_all(root.join("from-device")).unwrap();
        std::fs::write(
            root.join("from-device").join("status.json"),
            r#"{"device": "t1", "runtime": "0.1.0", "protocol": 1, "catalog_version": 0, "tasks_cursor": 0,
                "config_version": 0, "config_schema": 1, "waiting": 0, "at": 0}"#,
        )
        .unwrap();
        let err = tsd_core::sync::bridge::bridge(&root, &settings(&server.url)).unwrap_err();
        assert!(matches!(&err, Error::Server { .. }), "{err}");
        assert!(err.to_string().contains("not allowed"), "{err}");
        assert!(!dir.path().join("escape.tsdpkg").exists() && !dir.path().join("pc").join("escape.tsdpkg").exists());
        let asked_for_file = server.seen.lock().unwrap().iter().any(|p| p.starts_with("/v1/device/packages"));
        assert!(!asked_for_file, "nothing was downloaded");
    }
}
