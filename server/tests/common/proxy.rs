//! A fault-injecting HTTP proxy on loopback: it cuts requests and responses at
//! random bytes, delays, answers 503 with `Retry-After`, answers 500/502 after the
//! server did the work, and replays requests. One request per upstream connection;
//! with several upstreams it is also a round-robin balancer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the proxy did, by kind.
#[derive(Default)]
pub struct Stats {
    pub cut_request: AtomicU64,
    pub unavailable: AtomicU64,
    pub error_after: AtomicU64,
    pub replayed: AtomicU64,
    pub cut_response: AtomicU64,
    pub delayed: AtomicU64,
    pub passed: AtomicU64,
    /// Requests that resumed a download (`Range:`).
    pub ranged: AtomicU64,
}

impl Stats {
    /// Faults injected, all kinds.
    pub fn injected(&self) -> u64 {
        [
            &self.cut_request,
            &self.unavailable,
            &self.error_after,
            &self.replayed,
            &self.cut_response,
            &self.delayed,
        ]
        .iter()
        .map(|n| n.load(Ordering::Relaxed))
        .sum()
    }
}

/// The proxy: its address, the switch for its faults, what it did.
pub struct Proxy {
    pub addr: SocketAddr,
    pub faults: Arc<AtomicBool>,
    pub stats: Arc<Stats>,
}

/// The servers behind the proxy: each request goes to the next one that accepts a
/// connection (round robin, a dead one passed over — a balancer's health check).
pub struct Upstreams {
    addrs: Vec<SocketAddr>,
    next: AtomicUsize,
    /// Requests each upstream took.
    pub served: Vec<AtomicU64>,
}

impl Upstreams {
    fn connect(&self) -> std::io::Result<TcpStream> {
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let mut last = None;
        for k in 0..self.addrs.len() {
            let i = (first + k) % self.addrs.len();
            match TcpStream::connect_timeout(&self.addrs[i], Duration::from_secs(2)) {
                Ok(s) => {
                    self.served[i].fetch_add(1, Ordering::Relaxed);
                    return Ok(s);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no upstream")))
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<(Vec<String>, Vec<u8>)>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    let length = lines
        .iter()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok(Some((lines, body)))
}

/// The request as sent upstream: one request per connection.
fn rewrite(lines: &[String], body: &[u8]) -> Vec<u8> {
    let mut out = String::new();
    for l in lines {
        if !l.to_ascii_lowercase().starts_with("connection:") {
            out += l;
            out += "\r\n";
        }
    }
    out += "Connection: close\r\n\r\n";
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn forward(upstream: &Upstreams, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = upstream.connect()?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(request)?;
    let mut response = Vec::new();
    s.read_to_end(&mut response)?;
    Ok(response)
}

fn canned(status: &str, retry_after: Option<u32>) -> Vec<u8> {
    let body = format!("{{\"error\":\"unavailable\",\"message\":\"injected {status}\"}}");
    let retry = retry_after.map(|r| format!("Retry-After: {r}\r\n")).unwrap_or_default();
    format!(
        "HTTP/1.1 {status}\r\n{retry}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn handle(client: TcpStream, upstream: &Upstreams, mut rng: fastrand::Rng, faults: bool, stats: &Stats) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    let Some((lines, body)) = read_request(&mut reader)? else {
        return Ok(());
    };
    if lines.iter().any(|l| l.to_ascii_lowercase().starts_with("range:")) {
        stats.ranged.fetch_add(1, Ordering::Relaxed);
    }
    let request = rewrite(&lines, &body);
    let roll = if faults { rng.u32(0..100) } else { 100 };
    match roll {
        0..=5 => {
            // Cut the request at a random byte: the server sees half a request.
            stats.cut_request.fetch_add(1, Ordering::Relaxed);
            let mut s = upstream.connect()?;
            let _ = s.write_all(&request[..rng.usize(0..request.len())]);
            Ok(())
        }
        6..=11 => {
            stats.unavailable.fetch_add(1, Ordering::Relaxed);
            let retry = if rng.u32(0..10) == 0 { 1 } else { 0 };
            client.write_all(&canned("503 Service Unavailable", Some(retry)))
        }
        12..=16 => {
            // The server did the work; the terminal hears an error.
            stats.error_after.fetch_add(1, Ordering::Relaxed);
            forward(upstream, &request)?;
            let status = if rng.bool() {
                "500 Internal Server Error"
            } else {
                "502 Bad Gateway"
            };
            client.write_all(&canned(status, None))
        }
        17..=21 => {
            // The request arrives twice; the terminal hears the second answer.
            stats.replayed.fetch_add(1, Ordering::Relaxed);
            forward(upstream, &request)?;
            client.write_all(&forward(upstream, &request)?)
        }
        22..=28 => {
            // Cut the response at a random byte (headers or body).
            stats.cut_response.fetch_add(1, Ordering::Relaxed);
            let response = forward(upstream, &request)?;
            client.write_all(&response[..rng.usize(0..response.len().max(1))])
        }
        29..=33 => {
            stats.delayed.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(rng.u64(5..120)));
            client.write_all(&forward(upstream, &request)?)
        }
        _ => {
            stats.passed.fetch_add(1, Ordering::Relaxed);
            client.write_all(&forward(upstream, &request)?)
        }
    }
}

impl Proxy {
    /// A faulty network in front of one server.
    pub fn start(upstream: SocketAddr, seed: u64) -> Proxy {
        Proxy::balancing(vec![upstream], seed).0
    }

    /// A faulty network in front of several instances, each request to the next
    /// live one (no sticky sessions).
    pub fn balancing(addrs: Vec<SocketAddr>, seed: u64) -> (Proxy, Arc<Upstreams>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let faults = Arc::new(AtomicBool::new(true));
        let stats = Arc::new(Stats::default());
        let upstreams = Arc::new(Upstreams {
            served: addrs.iter().map(|_| AtomicU64::new(0)).collect(),
            addrs,
            next: AtomicUsize::new(0),
        });
        let (f, st, up) = (faults.clone(), stats.clone(), upstreams.clone());
        std::thread::spawn(move || {
            let mut rng = fastrand::Rng::with_seed(seed);
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (child, on, st, up) = (rng.fork(), f.load(Ordering::SeqCst), st.clone(), up.clone());
                std::thread::spawn(move || {
                    let _ = handle(conn, &up, child, on, &st);
                });
            }
        });
        (Proxy { addr, faults, stats }, upstreams)
    }
}
