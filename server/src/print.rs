//! Printing through the server: the print queue's worker, ZPL rendering, and
//! delivery to label printers over raw TCP (port 9100).
//!
//! # Exactly once over a channel without acknowledgements
//!
//! A raw-port printer acknowledges nothing and cannot recognise a job sent twice,
//! so "printed once" rests on three properties of ZPL:
//!
//! 1. a label prints only when its format is closed by `^XZ`;
//! 2. `^XA` while a format is open does not print it (the fields that follow join
//!    the same format — and a resent body is the same fields at the same places);
//! 3. `^XZ` with no format open prints nothing;
//!
//! plus `~HS` (host status), which the printer answers as soon as it has read it —
//! so an answer proves every byte before it arrived. Each job goes in two phases,
//! each confirmed by `~HS` on the same connection:
//!
//! - **body**: `^XA` + fields + `^PQ` copies (no `^XZ`). Until confirmed, it is
//!   resent whole: a cut copy never printed (1), and the resend merges with it (2).
//!   Once confirmed the job is `printing` in the database (durably, before phase 2).
//! - **end**: `^XZ`. Until confirmed, only `^XZ` is resent: if the first one
//!   arrived the label printed and the second is ignored (3); if not, this one
//!   prints it.
//!
//! Jobs to one printer go strictly in order: a later job never starts while an
//! earlier one is unfinished, so formats never interleave. A job whose body may
//! have partly reached the printer is never given up (a format left open would
//! swallow the next job); a job whose printer could not even be connected to is
//! failed after [`PrintSettings::max_attempts`], with the reason.

use crate::error::Result;
use crate::now_ms;
use crate::store::{Storage, StoredPrint};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tsd_core::print::PrintJob;

/// Timeouts and retry schedule of the print worker.
#[derive(Debug, Clone, Copy)]
pub struct PrintSettings {
    /// Connecting to a printer.
    pub connect_timeout: Duration,
    /// Waiting for the `~HS` answer.
    pub reply_timeout: Duration,
    /// Delay after the first failed attempt (doubling up to `cap`).
    pub base: Duration,
    /// Longest delay between attempts.
    pub cap: Duration,
    /// Attempts before a job whose printer was never reached fails.
    pub max_attempts: i64,
    /// How long a claimed job is this worker's alone: another instance's worker
    /// takes it over only after this (this one died). Longer than both phases of
    /// one attempt take (two replies and a connect).
    pub lease: Duration,
}

impl Default for PrintSettings {
    fn default() -> Self {
        PrintSettings {
            connect_timeout: Duration::from_secs(3),
            reply_timeout: Duration::from_secs(5),
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            max_attempts: 20,
            lease: Duration::from_secs(60),
        }
    }
}

/// Escapes field data for `^FH_`: the characters ZPL would read as commands.
fn field(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '_' => out.push_str("_5F"),
            '^' => out.push_str("_5E"),
            '~' => out.push_str("_7E"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The job's format without its closing `^XZ` (see the module docs). UTF-8 text
/// (`^CI28`); the job id rides along as a comment, so a label can be traced.
pub fn render(job: &PrintJob) -> Vec<u8> {
    let get = |k: &str| job.fields.get(k).map(String::as_str).unwrap_or("");
    let mut z = format!("^XA\n^CI28\n^FX tsd job {}^FS\n", field(&job.id));
    match job.template.as_str() {
        "label" => {
            z += &format!("^FO30,30^A0N,36,36^FB540,2,0,L^FH_^FD{}^FS\n", field(get("name")));
            let code = get("barcode");
            if code.len() == 13 && code.bytes().all(|b| b.is_ascii_digit()) {
                // EAN-13: the printer adds the check digit itself.
                z += &format!("^FO60,120^BY3^BEN,100,Y,N^FD{}^FS\n", &code[..12]);
            } else if !code.is_empty() {
                z += &format!("^FO60,120^BY2^BCN,100,Y,N,N^FH_^FD{}^FS\n", field(code));
            }
            z += &format!("^FO30,280^A0N,60,60^FH_^FD{}^FS\n", field(get("price")));
            z += &format!("^FO380,300^A0N,28,28^FH_^FD{}^FS\n", field(get("date")));
        }
        _ => {
            z += &format!("^FO30,30^A0N,40,40^FH_^FD{}^FS\n", field(get("title")));
            for (i, line) in get("lines").lines().take(60).enumerate() {
                z += &format!("^FO30,{}^A0N,28,28^FH_^FD{}^FS\n", 90 + 36 * i, field(line));
            }
        }
    }
    z += &format!("^PQ{},0,1,Y\n", job.copies);
    z.into_bytes()
}

/// Why a phase failed, and whether any byte could have reached the printer.
struct Failed {
    reason: String,
    connected: bool,
}

/// Sends `data` + `~HS` on a new connection and waits for the three status
/// strings (each ends with ETX).
fn phase(address: &str, data: &[u8], s: &PrintSettings) -> std::result::Result<(), Failed> {
    let not_connected = |reason: String| Failed { reason, connected: false };
    let with_port = if address.contains(':') {
        address.to_string()
    } else {
        format!("{address}:9100")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| not_connected(format!("printer address {address}: {e}")))?
        .next()
        .ok_or_else(|| not_connected(format!("printer address {address} resolves to nothing")))?;
    let mut stream = TcpStream::connect_timeout(&addr, s.connect_timeout).map_err(|e| not_connected(format!("printer {address}: {e}")))?;
    let connected = |reason: String| Failed { reason, connected: true };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(s.reply_timeout));
    let _ = stream.set_read_timeout(Some(s.reply_timeout));
    stream
        .write_all(data)
        .and_then(|()| stream.write_all(b"~HS"))
        .and_then(|()| stream.flush())
        .map_err(|e| connected(format!("printer {address}: connection lost while sending: {e}")))?;
    let mut etx = 0;
    let mut buf = [0u8; 512];
    while etx < 3 {
        match stream.read(&mut buf) {
            Ok(0) => return Err(connected(format!("printer {address} closed the connection before confirming"))),
            Ok(n) => etx += buf[..n].iter().filter(|&&b| b == 0x03).count(),
            Err(e) => return Err(connected(format!("printer {address} did not confirm: {e}"))),
        }
    }
    Ok(())
}

/// The queue worker: a thread that prints open jobs, woken when a job is queued.
pub struct PrintWorker {
    stop: Arc<AtomicBool>,
    wake: Arc<Wake>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Wakes the worker early (a job was queued).
#[derive(Default)]
pub struct Wake {
    pending: Mutex<bool>,
    cond: Condvar,
}

impl Wake {
    /// Wakes the worker.
    pub fn notify(&self) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cond.notify_all();
    }

    fn wait(&self, at_most: Duration) {
        let guard = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) = self
            .cond
            .wait_timeout_while(guard, at_most, |pending| !*pending)
            .unwrap_or_else(|p| p.into_inner());
        *guard = false;
    }
}

impl PrintWorker {
    /// Starts the worker over `store`.
    pub fn start(store: Arc<dyn Storage>, wake: Arc<Wake>, settings: PrintSettings) -> std::io::Result<PrintWorker> {
        let stop = Arc::new(AtomicBool::new(false));
        let (s, w) = (stop.clone(), wake.clone());
        let owner = format!("worker-{}", uuid::Uuid::new_v4().simple());
        let thread = std::thread::Builder::new().name("tsd-print".into()).spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let pause = match round(&*store, &owner, &settings) {
                    Ok(next) => next,
                    Err(e) => {
                        log::error!("print queue: {e}");
                        settings.cap
                    }
                };
                if !s.load(Ordering::SeqCst) {
                    w.wait(pause);
                }
            }
        })?;
        Ok(PrintWorker {
            stop,
            wake,
            thread: Some(thread),
        })
    }

    /// Stops after the job in hand (a phase is never cut by us).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for PrintWorker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One pass over the open jobs: per printer, the oldest one (a later job never
/// starts while an earlier one is unfinished), if its retry is due and no other
/// instance's worker holds it. Returns how long to sleep before the next pass.
fn round(store: &dyn Storage, owner: &str, s: &PrintSettings) -> Result<Duration> {
    let mut next = s.cap;
    let now = now_ms();
    for job in store.claim_print_jobs(owner, now, now + s.lease.as_millis() as i64)? {
        let wait = job.next_try_at - now_ms();
        if wait > 0 {
            next = next.min(Duration::from_millis(wait as u64));
            continue;
        }
        let done = print_one(store, &job, s);
        // Its next attempt, if any, may go through any instance.
        store.release_print(job.id, owner)?;
        match done? {
            Some(retry_in) => next = next.min(retry_in),
            // Finished: the printer's next job (queued meanwhile, its wake-up
            // spent on this round) goes now, not after the longest pause.
            None => next = Duration::ZERO,
        }
    }
    Ok(next)
}

/// Takes one job as far as it goes; `Some(delay)` when it is to be retried.
fn print_one(store: &dyn Storage, job: &StoredPrint, s: &PrintSettings) -> Result<Option<Duration>> {
    let Some(address) = store.printer_address(&job.printer)? else {
        if job.status == "queued" && !job.touched {
            store.update_print(
                job.id,
                "failed",
                job.attempts,
                Some(&format!(
                    "no printer named {:?} on the server (tsd-server printer add {} HOST:9100)",
                    job.printer, job.printer
                )),
                job.touched,
                now_ms(),
            )?;
            return Ok(None);
        }
        let reason = format!("printer {:?} is no longer configured", job.printer);
        return retry(store, job, &job.status, s, reason, job.touched);
    };
    if job.status == "queued" {
        if let Err(f) = phase(&address, &render(&job.job), s) {
            return retry(store, job, "queued", s, f.reason, job.touched || f.connected);
        }
        // Durable before the end goes out: from now on only `^XZ` is ever resent.
        store.update_print(job.id, "printing", job.attempts, None, true, now_ms())?;
    }
    if let Err(f) = phase(&address, b"^XZ", s) {
        return retry(store, job, "printing", s, f.reason, true);
    }
    store.update_print(job.id, "sent", job.attempts, None, true, now_ms())?;
    log::info!("print job {} ({}) sent to {}", job.job.id, job.job.template, job.printer);
    Ok(None)
}

/// Records a failed attempt of a job now in `status`; schedules the next one or,
/// for a job no byte of which can have reached a printer, gives up at the limit.
fn retry(
    store: &dyn Storage,
    job: &StoredPrint,
    status: &str,
    s: &PrintSettings,
    reason: String,
    touched: bool,
) -> Result<Option<Duration>> {
    let attempts = job.attempts + 1;
    log::warn!("print job {} attempt {attempts}: {reason}", job.job.id);
    if !touched && status == "queued" && attempts >= s.max_attempts {
        let message = format!("{reason} (gave up after {attempts} attempts)");
        store.update_print(job.id, "failed", attempts, Some(&message), false, now_ms())?;
        return Ok(None);
    }
    let delay = s.base.saturating_mul(1u32 << (attempts - 1).clamp(0, 16)).min(s.cap);
    store.update_print(
        job.id,
        status,
        attempts,
        Some(&reason),
        touched,
        now_ms() + delay.as_millis() as i64,
    )?;
    Ok(Some(delay))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_cannot_inject_commands() {
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("name".to_string(), "Сок ^XZ~JA_1\u{1d}".to_string());
        fields.insert("barcode".to_string(), "4601234567893".to_string());
        let job = PrintJob {
            id: "j1".into(),
            printer: "p".into(),
            template: "label".into(),
            copies: 3,
            fields,
        };
        let z = String::from_utf8(render(&job)).unwrap();
        assert!(z.contains("^FDСок _5EXZ_7EJA_5F1 ^FS"), "{z}");
        assert!(z.contains("^BEN,100,Y,N^FD460123456789^FS"), "{z}");
        assert!(z.contains("^PQ3,"));
        assert_eq!(z.matches("^XZ").count(), 0, "the end goes in its own phase");
        assert_eq!(z.matches("^XA").count(), 1);
    }
}
