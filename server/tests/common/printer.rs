//! A stand-in label printer on loopback that behaves like a ZPL printer where it
//! matters: one parser across connections, a label printed at `^XZ` of an open
//! format, `^XA` inside an open format ignored, a stray `^XZ` ignored, `~HS`
//! answered with three status strings.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Close after this many bytes of the connection, answering nothing.
    CutAfter(usize),
    /// Close when `~HS` arrives (everything before it was received).
    CloseAtStatus,
    /// Close right after a `^XZ` is read (the label printed, no confirmation).
    CloseAfterEnd,
}

#[derive(Default)]
pub struct Zpl {
    pending: Vec<u8>,
    open: Option<Vec<u8>>,
    /// The labels printed, in order (each its format's text).
    pub labels: Vec<String>,
    faults: HashMap<usize, Fault>,
    /// Connections accepted so far.
    pub connections: usize,
}

enum Event {
    Status,
    Printed,
}

impl Zpl {
    /// Parses what is complete; returns the events in order.
    fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        loop {
            let p = &self.pending;
            if p.len() >= 3 && (p[0] == b'^' || p[0] == b'~') {
                match &p[..3] {
                    b"^XA" => {
                        self.open.get_or_insert_with(Vec::new);
                    }
                    b"^XZ" => {
                        if let Some(f) = self.open.take() {
                            self.labels.push(String::from_utf8_lossy(&f).into_owned());
                            events.push(Event::Printed);
                        }
                    }
                    b"~HS" => events.push(Event::Status),
                    _ => {
                        // Another command: up to the next command start.
                        let Some(end) = p[1..].iter().position(|&b| b == b'^' || b == b'~') else {
                            break;
                        };
                        let cmd: Vec<u8> = self.pending.drain(..end + 1).collect();
                        if let Some(f) = &mut self.open {
                            f.extend_from_slice(&cmd);
                        }
                        continue;
                    }
                }
                self.pending.drain(..3);
            } else if !p.is_empty() && p[0] != b'^' && p[0] != b'~' {
                let end = p.iter().position(|&b| b == b'^' || b == b'~').unwrap_or(p.len());
                let text: Vec<u8> = self.pending.drain(..end).collect();
                if let Some(f) = &mut self.open {
                    f.extend_from_slice(&text);
                }
            } else {
                break;
            }
        }
        events
    }
}

const STATUS: &[u8] = b"\x02030,0,0,1245,000,0,0,0,000,0,0,0\x03\r\n\x02000,0,0,0,0,2,4,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n";

/// Starts a printer with `faults` on given connections (0-based); returns its
/// address and what it printed.
pub fn fake_printer(faults: &[(usize, Fault)]) -> (String, Arc<Mutex<Zpl>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let zpl = Arc::new(Mutex::new(Zpl {
        faults: faults.iter().copied().collect(),
        ..Zpl::default()
    }));
    let state = zpl.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let n = {
                let mut z = state.lock().unwrap();
                z.connections += 1;
                z.connections - 1
            };
            let fault = state.lock().unwrap().faults.get(&n).copied();
            let mut received = 0;
            let mut buf = [0u8; 64];
            'conn: loop {
                let limit = match fault {
                    Some(Fault::CutAfter(k)) => buf.len().min(k - received),
                    _ => buf.len(),
                };
                if limit == 0 {
                    break;
                }
                let got = match stream.read(&mut buf[..limit]) {
                    Ok(0) | Err(_) => break,
                    Ok(got) => got,
                };
                received += got;
                // Byte by byte, so a close "right after ^XZ" really is right after it.
                for b in &buf[..got] {
                    let events = state.lock().unwrap().feed(std::slice::from_ref(b));
                    for e in events {
                        match (e, fault) {
                            (Event::Printed, Some(Fault::CloseAfterEnd)) => break 'conn,
                            (Event::Status, Some(Fault::CloseAtStatus)) => break 'conn,
                            (Event::Status, _) => {
                                if stream.write_all(STATUS).is_err() {
                                    break 'conn;
                                }
                            }
                            (Event::Printed, _) => {}
                        }
                    }
                }
            }
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    });
    (addr, zpl)
}
