//! The server as an outside client sees it, with hand-made requests: every error is
//! the documented JSON, slow or lying clients are cut off, uploads over the limit
//! are refused before they are read, ranges follow RFC 9110, and the document list
//! comes in pages.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tsd_server::api::Limits;
use tsd_server::run::Background;

/// A raw request on its own connection; the answer's status, headers and body.
fn raw(addr: std::net::SocketAddr, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    (status, head.to_string(), if chunked { dechunk(body) } else { body.to_string() })
}

/// The payload of a chunked body (`SIZE\r\nDATA\r\n`… `0\r\n\r\n`).
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

fn get(addr: std::net::SocketAddr, path: &str, headers: &str) -> (u16, String, String) {
    raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n"),
    )
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

fn quick() -> Limits {
    Limits {
        header_timeout: Duration::from_millis(700),
        body_idle: Duration::from_millis(700),
        ..Limits::default()
    }
}

#[test]
fn every_error_is_the_documented_json() {
    let w = World::new(20);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let key = admin.new_integration_key().unwrap();
    let bg = Background::start_with(w.server(), "127.0.0.1:0", None, quick()).unwrap();
    let device = format!("Authorization: Bearer {token}\r\nTSD-Protocol: 1\r\n");
    let integration = format!("Authorization: Bearer {key}\r\n");
    for (method, path, headers, status, code) in [
        ("GET", "/v1/device/catalog?since=abc", device.as_str(), 400, "bad_request"),
        ("GET", "/v1/documents/xyz", integration.as_str(), 400, "bad_request"),
        ("GET", "/v1/documents?limit=0", integration.as_str(), 400, "bad_request"),
        ("DELETE", "/v1/hello", "", 405, "method_not_allowed"),
        ("GET", "/v1/nothing-here", "", 404, "not_found"),
        ("GET", "/v1/devices", "Authorization: Basic Zm9vOmJhcg==\r\n", 401, "unauthorized"),
    ] {
        let (got, head, body) = raw(
            bg.addr,
            &format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n"),
        );
        assert_eq!(got, status, "{method} {path}: {head}\n{body}");
        assert!(
            head.to_ascii_lowercase().contains("content-type: application/json"),
            "{method} {path}: {head}"
        );
        let v = json(&body);
        assert_eq!(v["error"], code, "{method} {path}: {body}");
        assert!(!v["message"].as_str().unwrap().is_empty());
    }
    // The scheme is case-insensitive.
    assert_eq!(get(bg.addr, "/v1/devices", &format!("Authorization: bearer {key}\r\n")).0, 200);
    assert_eq!(get(bg.addr, "/v1/devices", &format!("Authorization: BEARER {key}\r\n")).0, 200);

    // A bad catalog upload names the request body's line, never a server path.
    let body = "product_id,name,barcode\nP1,Молоко,4601234567893\nP2,,4601234567909\n";
    let (status, _, answer) = raw(
        bg.addr,
        &format!(
            "POST /v1/catalog HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{integration}Content-Type: text/csv\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(status, 422, "{answer}");
    let message = json(&answer)["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("request body: line 3"), "{message}");
    assert!(
        !message.contains(&*w.server_dir.to_string_lossy()) && !message.contains("tmp"),
        "{message}"
    );

    // A non-ASCII Idempotency-Key is told what is wrong with it.
    let (status, _, answer) = raw(
        bg.addr,
        &format!(
            "POST /v1/device/documents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{device}Idempotency-Key: ключ\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    assert_eq!(status, 400);
    assert!(json(&answer)["message"].as_str().unwrap().contains("visible ASCII"), "{answer}");
    bg.stop();
}

#[test]
fn lying_and_slow_clients_are_cut_off() {
    let w = World::new(20);
    let key = w.server().new_integration_key().unwrap();
    let bg = Background::start_with(w.server(), "127.0.0.1:0", None, quick()).unwrap();

    // Announces 10 GB, sends 3 bytes: 413 at once, nothing read.
    let started = Instant::now();
    let (status, head, body) = raw(
        bg.addr,
        &format!("POST /v1/catalog HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: 10000000000\r\n\r\nabc"),
    );
    assert_eq!(status, 413, "{head}");
    assert_eq!(json(&body)["error"], "too_large");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Announces 100 bytes, sends 10, then nothing: 408 once the body idles.
    let (status, _, body) = raw(
        bg.addr,
        &format!("POST /v1/tasks?device=x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: 100\r\n\r\n0123456789"),
    );
    assert_eq!(status, 408, "{body}");
    assert_eq!(json(&body)["error"], "timeout");

    // Headers that never end: the connection is closed, not held.
    let mut s = TcpStream::connect(bg.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /v1/hello HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(8), "closed after the header timeout");
    bg.stop();
}

#[test]
fn connections_past_the_limit_are_refused_and_served_again_when_one_closes() {
    let w = World::new(5);
    let limits = Limits {
        max_connections: 3,
        header_timeout: Duration::from_secs(20),
        ..Limits::default()
    };
    let bg = Background::start_with(w.server(), "127.0.0.1:0", None, limits).unwrap();
    let idle: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(bg.addr).unwrap()).collect();
    // Let the server accept them.
    std::thread::sleep(Duration::from_millis(300));
    let (status, _, _) = get(bg.addr, "/v1/hello", "");
    assert_eq!(status, 0, "the fourth connection is closed without an answer");
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if get(bg.addr, "/v1/hello", "").0 == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "served again once the idle ones closed");
        std::thread::sleep(Duration::from_millis(50));
    }
    bg.stop();
}

#[test]
fn ranges_follow_rfc_9110() {
    let w = World::new(50);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let offer = admin.offer(0).unwrap();
    let name = &offer.packages[0].name;
    let size = offer.packages[0].size;
    let device = format!("Authorization: Bearer {token}\r\nTSD-Protocol: 1\r\n");
    let path = format!("/v1/device/packages/{name}");
    let (status, head, body) = get(bg.addr, &path, &format!("{device}Range: bytes=-10\r\n"));
    assert_eq!(status, 206, "{head}");
    assert!(head.contains(&format!("bytes {}-{}/{size}", size - 10, size - 1)), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-length: 10\r"), "{head}");
    drop(body);
    for whole in ["bytes=0-1,5-6", "items=0-3", "bytes=9-2"] {
        let (status, head, _) = get(bg.addr, &path, &format!("{device}Range: {whole}\r\n"));
        assert_eq!(status, 200, "{whole}: {head}");
        assert!(
            head.contains(&format!("content-length: {size}")) || head.contains(&format!("Content-Length: {size}")),
            "{head}"
        );
    }
    let (status, _, body) = get(bg.addr, &path, &format!("{device}Range: bytes={size}-\r\n"));
    assert_eq!(status, 416);
    assert_eq!(json(&body)["error"], "range_not_satisfiable");
    bg.stop();
}

#[test]
fn documents_come_in_pages_each_once() {
    let w = World::new(50);
    let admin = w.server();
    let token = admin.add_device("t1").unwrap();
    let key = admin.new_integration_key().unwrap();
    let bg = Background::start(w.server(), "127.0.0.1:0", None).unwrap();
    let (rt, _) = w.terminal("t1");
    let mut made: Vec<String> = (0..5).map(|i| scan_and_complete(&rt, &w.barcodes[i..i + 1])).collect();
    rt.sync_server(&settings(&bg.url, &token), &mut |_| {}).unwrap();
    let mut seen = Vec::new();
    let mut path = "/v1/documents?limit=2".to_string();
    let mut pages = 0;
    loop {
        let (status, head, body) = get(bg.addr, &path, &format!("Authorization: Bearer {key}\r\n"));
        assert_eq!(status, 200, "{head}");
        pages += 1;
        for d in json(&body).as_array().unwrap() {
            seen.push(d["doc_id"].as_str().unwrap().to_string());
        }
        let next = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("link:"))
            .and_then(|l| l.split_once('<'))
            .and_then(|(_, r)| r.split_once('>'))
            .map(|(p, _)| p.to_string());
        match next {
            Some(p) => path = p,
            None => break,
        }
    }
    assert_eq!(pages, 3);
    made.sort();
    seen.sort();
    assert_eq!(seen, made, "every document once");
    bg.stop();
}
