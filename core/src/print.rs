//! Printing through the server, the terminal's half: a print job (a label for a
//! product, or a document form) is written to the journal before the call returns,
//! waits there like a finished document, travels with the next server sync
//! (`POST /v1/device/print`, once per job id), and its status — queued, printing,
//! sent, failed with the reason — comes back with the syncs after that. The server
//! renders and prints (see `tsd-server`'s `print` module).

use crate::error::{Error, Result, SqlStep};
use crate::resolve::Target;
use crate::runtime::now_ms;
use crate::Runtime;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Templates the server renders.
pub const TEMPLATES: [&str; 2] = ["label", "document"];

/// Most copies in one job.
pub const MAX_COPIES: u32 = 1000;

/// A print job as the terminal makes it and the server receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintJob {
    /// Made on the terminal (UUID); the server stores a job once per device and id.
    pub id: String,
    /// The printer's name on the server (`tsd-server printer add`).
    pub printer: String,
    /// `label` (product name, barcode, price, date) or `document` (a document form).
    pub template: String,
    /// Copies, 1..=[`MAX_COPIES`].
    pub copies: u32,
    /// The template's fields: `name`, `barcode`, `price`, `date` for a label;
    /// `title`, `lines` (one per line) for a document.
    pub fields: BTreeMap<String, String>,
}

impl PrintJob {
    /// Checks what both sides rely on.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.id.trim().is_empty() || self.id.len() > 100 {
            return bad("a print job id is 1 to 100 characters".into());
        }
        if self.printer.trim().is_empty() || self.printer.len() > 100 {
            return bad("name the printer (1 to 100 characters)".into());
        }
        if !TEMPLATES.contains(&self.template.as_str()) {
            return bad(format!("unknown print template {:?} (label or document)", self.template));
        }
        if !(1..=MAX_COPIES).contains(&self.copies) {
            return bad(format!("copies must be 1 to {MAX_COPIES}, got {}", self.copies));
        }
        if self.fields.values().map(String::len).sum::<usize>() > 64 << 10 {
            return bad("print job fields are larger than 64 KiB".into());
        }
        Ok(())
    }
}

/// A job and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintStatus {
    /// The job id.
    pub id: String,
    /// `waiting` (not yet on the server), `queued`, `printing`, `sent`, `failed`.
    pub status: String,
    /// Why it failed, or the last problem while it is retried.
    #[serde(default)]
    pub message: Option<String>,
}

impl PrintStatus {
    /// The job will not change any more.
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "sent" | "failed")
    }
}

/// Today's date (UTC) as `YYYY-MM-DD`.
fn today() -> String {
    let (y, m, d) = crate::calendar::civil_from_days(now_ms().div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

fn status_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(PrintJob, PrintStatus)> {
    let job: String = r.get(0)?;
    let job: PrintJob =
        serde_json::from_str(&job).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))?;
    let status = PrintStatus {
        id: job.id.clone(),
        status: r.get(1)?,
        message: r.get(2)?,
    };
    Ok((job, status))
}

/// Jobs not yet handed to the server, oldest first.
pub(crate) fn waiting(conn: &Connection) -> Result<Vec<PrintJob>> {
    let mut st = conn
        .prepare("SELECT job, status, message FROM print_jobs WHERE uploaded = 0 ORDER BY rowid")
        .step("reading print jobs")?;
    let rows = st.query_map([], status_row).step("reading print jobs")?;
    rows.map(|r| r.map(|(j, _)| j))
        .collect::<rusqlite::Result<_>>()
        .step("reading print jobs")
}

/// True when a job on the server may still change.
pub(crate) fn any_open(conn: &Connection) -> Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM print_jobs WHERE uploaded = 1 AND status NOT IN ('sent', 'failed'))",
        [],
        |r| r.get(0),
    )
    .step("reading print jobs")
}

/// Records the server's word on a job (`uploaded` when it has it).
pub(crate) fn set_status(tx: &Connection, s: &PrintStatus) -> Result<()> {
    tx.execute(
        "UPDATE print_jobs SET uploaded = 1, status = ?2, message = ?3, updated_at = ?4 WHERE id = ?1",
        rusqlite::params![s.id, s.status, s.message, now_ms()],
    )
    .step("updating a print job")
    .map(|_| ())
}

impl Runtime {
    /// Queues a print job (durable when this returns); it goes to the server with the
    /// next sync.
    pub fn print(&self, job: PrintJob) -> Result<PrintJob> {
        job.validate()?;
        let text = serde_json::to_string(&job).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        self.write_journal(|tx| {
            tx.execute(
                "INSERT INTO print_jobs (id, job, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                rusqlite::params![job.id, text, now_ms()],
            )
            .step("queueing a print job")
        })?;
        Ok(job)
    }

    /// Queues a price label for the product a scan names: its name, the code, the
    /// price (given, or read from a price-embedded code) and today's date.
    pub fn print_label(&self, printer: &str, raw: &str, copies: u32, price: Option<&str>) -> Result<PrintJob> {
        let r = self.resolve(raw)?;
        let Target::Product(hit) = &r.target else {
            return Err(Error::InvalidArgument(format!(
                "{:?} names no product{}: nothing to print a label for",
                crate::logs::redact(raw),
                r.server_unreachable.as_ref().map(|w| format!(" ({w})")).unwrap_or_default()
            )));
        };
        let mut fields = BTreeMap::new();
        fields.insert("name".to_string(), hit.product.name.clone());
        let barcode = r.parsed.gtin.map(|g| g.to_string().trim_start_matches('0').to_string());
        let barcode = match barcode {
            Some(b) if b.len() <= 13 => format!("{b:0>13}"),
            _ => r.parsed.text.clone(),
        };
        fields.insert("barcode".into(), barcode);
        let price = price
            .map(str::to_string)
            .or_else(|| r.attributes.price.map(|k| format!("{}.{:02}", k / 100, k % 100)));
        if let Some(p) = price {
            fields.insert("price".into(), p);
        }
        fields.insert("date".into(), today());
        self.print(PrintJob {
            id: uuid::Uuid::new_v4().to_string(),
            printer: printer.to_string(),
            template: "label".into(),
            copies,
            fields,
        })
    }

    /// Queues a document form: number, type, and one line per product with its
    /// actual (and planned) quantity.
    pub fn print_document(&self, printer: &str, doc: &str, copies: u32) -> Result<PrintJob> {
        let d = self.document(doc)?;
        let mut fields = BTreeMap::new();
        fields.insert("title".to_string(), format!("{} {}", d.header.number, d.header.doc_type));
        let lines: Vec<String> = d
            .lines
            .iter()
            .map(|l| {
                let what = l.name.clone().or(l.product.clone()).or(l.raw.clone()).unwrap_or_default();
                let qty = crate::documents::qty_json(l.actual);
                match l.planned {
                    Some(p) => format!("{what}  {qty} / {}", crate::documents::qty_json(p)),
                    None => format!("{what}  {qty}"),
                }
            })
            .collect();
        fields.insert("lines".into(), lines.join("\n"));
        self.print(PrintJob {
            id: uuid::Uuid::new_v4().to_string(),
            printer: printer.to_string(),
            template: "document".into(),
            copies,
            fields,
        })
    }

    /// Every print job with its status, newest first.
    pub fn print_jobs(&self) -> Result<Vec<(PrintJob, PrintStatus)>> {
        let conn = crate::runtime::lock(&self.journal);
        let mut st = conn
            .prepare("SELECT job, status, message FROM print_jobs ORDER BY rowid DESC")
            .step("reading print jobs")?;
        let rows = st.query_map([], status_row).step("reading print jobs")?;
        rows.collect::<rusqlite::Result<_>>().step("reading print jobs")
    }
}

/// The print routes of the server, on the terminal's client (the client knows
/// the protocol, not the services).
impl crate::sync::http::Client {
    /// `POST /v1/device/print`: hands a print job to the server's queue (stored once
    /// per device and job id, so a resend after a lost answer changes nothing).
    pub fn print(&self, job: &PrintJob) -> Result<PrintStatus> {
        let step = "sending a print job";
        let body = serde_json::to_string(job).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        Self::json(
            step,
            self.post(step, crate::protocol::routes::DEVICE_PRINT, "application/json", &[], body)?,
        )
    }

    /// `GET /v1/device/print`: the status of this device's recent print jobs.
    pub fn print_statuses(&self) -> Result<Vec<PrintStatus>> {
        let step = "reading print job statuses";
        Self::json(step, self.get(step, crate::protocol::routes::DEVICE_PRINT, &[])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_checked_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::open(&dir.path().join("t")).unwrap();
        let csv = dir.path().join("c.csv");
        std::fs::write(&csv, "product_id,name,barcode\nP1,Кефир,4601234567893\n").unwrap();
        rt.import_catalog(&csv, crate::catalog::Format::Csv, &mut |_| true).unwrap();
        let job = rt.print_label("zebra-1", "]E04601234567893", 2, Some("89.90")).unwrap();
        assert_eq!(job.fields["name"], "Кефир");
        assert_eq!(job.fields["barcode"], "4601234567893");
        assert_eq!(job.fields["price"], "89.90");
        assert_eq!(job.fields["date"].len(), 10);
        assert!(matches!(
            rt.print_label("zebra-1", "4601234567800", 1, None),
            Err(Error::InvalidArgument(_))
        ));
        // A marking code the catalog lacks: the refusal names it without its crypto tail.
        let tail = "dGhpcyBpcyBhIHRlc3Q9PT09PT09PT09PT09PT09PT09";
        let unknown = format!("0104601234567909215Abc12\u{1d}91EE07\u{1d}92{tail}");
        let err = rt.print_label("zebra-1", &unknown, 1, None).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        let message = err.to_string();
        assert!(!message.contains(tail) && !message.contains("EE07"), "{message}");
        for bad in [("", 1), ("p", 0), ("p", MAX_COPIES + 1)] {
            assert!(rt.print_label(bad.0, "4601234567893", bad.1, None).is_err(), "{bad:?}");
        }
        let doc = rt.new_document("receiving").unwrap();
        rt.scan(&doc.id, "4601234567893", None).unwrap();
        let form = rt.print_document("laser", &doc.id, 1).unwrap();
        assert!(form.fields["lines"].starts_with("Кефир  1"), "{:?}", form.fields);
        drop(rt);
        let rt = Runtime::open(&dir.path().join("t")).unwrap();
        let jobs = rt.print_jobs().unwrap();
        assert_eq!(jobs.len(), 2, "kept across a restart");
        assert!(jobs.iter().all(|(_, s)| s.status == "waiting"));
    }

    #[test]
    fn today_is_a_date() {
        let t = today();
        assert!(t.starts_with("20") && t.as_bytes()[4] == b'-' && t.as_bytes()[7] == b'-', "{t}");
    }
}
