//! Documents and the scan journal.
//!
//! Every scan, refusal, undo, correction, cell change and completion is one entry
//! of an append-only journal (SQLite triggers refuse UPDATE and DELETE), committed
//! durably before the call returns. Actual quantities are sums over the journal;
//! nothing else holds them, so there is nothing to get out of step.

mod scan;

pub use scan::{complete, correct, record_scan, undo, ScanOutcome, ScanStatus, Violation};

use crate::config::DocType;
use crate::error::{Error, Result, SqlStep};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::{HashMap, HashSet};

/// Serialises thousandths as a JSON number: `12`, `1.25`.
pub fn qty_json(milli: i64) -> serde_json::Value {
    if milli % 1000 == 0 {
        serde_json::Value::from(milli / 1000)
    } else {
        serde_json::Value::from(milli as f64 / 1000.0)
    }
}

fn ser_qty<S: Serializer>(milli: &i64, s: S) -> std::result::Result<S::Ok, S::Error> {
    qty_json(*milli).serialize(s)
}

fn ser_opt_qty<S: Serializer>(milli: &Option<i64>, s: S) -> std::result::Result<S::Ok, S::Error> {
    milli.map(qty_json).serialize(s)
}

/// Where a document came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A task from the accounting system, with planned lines.
    Task,
    /// Made on the terminal.
    Free,
}

/// A document's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Being worked on.
    Open,
    /// Frozen and queued for sending.
    Completed,
}

/// A document without its journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentHeader {
    /// Id: the task id from the accounting system, or a UUID.
    pub id: String,
    /// Document type id.
    #[serde(rename = "type")]
    pub doc_type: String,
    /// Number shown to the operator.
    pub number: String,
    /// Task or free.
    pub origin: Origin,
    /// Open or completed.
    pub status: Status,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub completed_at: Option<i64>,
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalEntry {
    /// Global sequence number; the order of everything that happened.
    pub seq: i64,
    /// Unix milliseconds.
    pub at: i64,
    /// `scan`, `refused`, `undo`, `correct`, `cell` or `complete`.
    pub kind: String,
    /// The raw scanner string.
    pub raw: Option<String>,
    /// Product id, if the code was in the catalog.
    pub product: Option<String>,
    /// Packaging id.
    pub packaging: Option<String>,
    /// Base units (a delta for `correct`).
    #[serde(serialize_with = "ser_qty")]
    pub qty: i64,
    /// Cell in force.
    pub cell: Option<String>,
    /// Marking identity (GTIN + serial).
    pub mark: Option<String>,
    /// Batch, expiry, serial, weight, and the full marking code to send back.
    pub attrs: Option<serde_json::Value>,
    /// For `undo`: the entry undone.
    pub target: Option<i64>,
    /// For `refused`: the rule.
    pub violation: Option<String>,
    /// True when a later `undo` cancelled this entry.
    pub undone: bool,
}

/// One line of a document: planned against actual.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// Product id; `None` for goods not in the catalog.
    pub product: Option<String>,
    /// The raw code of goods not in the catalog.
    pub raw: Option<String>,
    /// Product name, when the catalog knows it.
    pub name: Option<String>,
    /// Planned quantity (task documents), in base units.
    #[serde(serialize_with = "ser_opt_qty")]
    pub planned: Option<i64>,
    /// The plan as the accounting system gave it when it counted packagings
    /// ("2 × Коробка 12 шт"); absent for plans in base units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned_as: Option<String>,
    /// Actual quantity from the journal.
    #[serde(serialize_with = "ser_qty")]
    pub actual: i64,
}

/// A document with its lines and journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    /// Header fields.
    #[serde(flatten)]
    pub header: DocumentHeader,
    /// Lines: planned ones first, then the rest in scan order.
    pub lines: Vec<Line>,
    /// The journal entries in order.
    pub scans: Vec<JournalEntry>,
}

/// A task document as the accounting system sends it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TaskDocument {
    /// Task id.
    pub id: String,
    /// Document type id.
    #[serde(rename = "type")]
    pub doc_type: String,
    /// Number shown to the operator.
    #[serde(default)]
    pub number: String,
    /// Planned lines.
    #[serde(default)]
    pub lines: Vec<TaskLine>,
    /// The accounting system withdrew this task (a record in the task feed after
    /// the task itself; see `sync::tasks`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
}

/// A planned line.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TaskLine {
    /// Product id.
    pub product: String,
    /// Packaging id: when given, `qty` counts this packaging (2 boxes of 12 plan
    /// 24 base units).
    #[serde(default)]
    pub packaging: Option<String>,
    /// Planned quantity: base units, or packagings when `packaging` is given.
    pub qty: serde_json::Number,
    /// Cell, if the task names one.
    #[serde(default)]
    pub cell: Option<String>,
}

fn origin(s: &str) -> Origin {
    if s == "task" {
        Origin::Task
    } else {
        Origin::Free
    }
}

fn status(s: &str) -> Status {
    if s == "completed" {
        Status::Completed
    } else {
        Status::Open
    }
}

const HEADER_COLUMNS: &str = "id, type, number, origin, status, created_at, completed_at";

fn header_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DocumentHeader> {
    Ok(DocumentHeader {
        id: r.get(0)?,
        doc_type: r.get(1)?,
        number: r.get(2)?,
        origin: origin(&r.get::<_, String>(3)?),
        status: status(&r.get::<_, String>(4)?),
        created_at: r.get(5)?,
        completed_at: r.get(6)?,
    })
}

/// A document's header, or `DocumentNotFound`.
pub fn header(conn: &Connection, id: &str) -> Result<DocumentHeader> {
    conn.prepare_cached(&format!("SELECT {HEADER_COLUMNS} FROM documents WHERE id = ?1"))
        .step("preparing document read")?
        .query_row([id], header_from_row)
        .optional()
        .step("reading a document")?
        .ok_or_else(|| Error::DocumentNotFound(id.to_string()))
}

/// Creates a free document of a type; returns its header.
pub fn create(tx: &Transaction<'_>, doc_type: &DocType, now: i64) -> Result<DocumentHeader> {
    let n: i64 = tx
        .query_row("SELECT count(*) FROM documents WHERE type = ?1", [&doc_type.id], |r| r.get(0))
        .step("numbering a document")?;
    let prefix = if doc_type.prefix.is_empty() {
        doc_type.id.as_str()
    } else {
        doc_type.prefix.as_str()
    };
    let header = DocumentHeader {
        id: uuid::Uuid::new_v4().to_string(),
        doc_type: doc_type.id.clone(),
        number: format!("{prefix}-{:05}", n + 1),
        origin: Origin::Free,
        status: Status::Open,
        created_at: now,
        completed_at: None,
    };
    tx.execute(
        "INSERT INTO documents (id, type, number, origin, status, created_at) VALUES (?1, ?2, ?3, 'free', 'open', ?4)",
        params![header.id, header.doc_type, header.number, now],
    )
    .step("creating a document")?;
    Ok(header)
}

/// Adds a task document with its planned lines, quantities in base units (no
/// packaging conversion: `tsd doc import-tasks` and the bridge's `addTasks` take
/// base units; syncs go through `sync::tasks`, which converts). A task whose id is
/// already known is left as it is (a re-sent task changes nothing); returns
/// whether it was new.
pub fn add_task(tx: &Transaction<'_>, task: &TaskDocument, now: i64) -> Result<bool> {
    let mut planned = Vec::with_capacity(task.lines.len());
    for (i, l) in task.lines.iter().enumerate() {
        planned.push(crate::catalog::parse_quantity(&l.qty.to_string()).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "task {} line {}: quantity {} is not a non-negative number with at most 3 decimals",
                task.id,
                i + 1,
                l.qty
            ))
        })?);
    }
    add_task_planned(tx, task, &planned, now)
}

/// [`add_task`] with each line's planned base units (thousandths) worked out.
pub fn add_task_planned(tx: &Connection, task: &TaskDocument, planned: &[i64], now: i64) -> Result<bool> {
    if task.id.trim().is_empty() {
        return Err(Error::InvalidArgument("a task document needs an id".into()));
    }
    let exists: bool = tx
        .query_row("SELECT EXISTS (SELECT 1 FROM documents WHERE id = ?1)", [&task.id], |r| r.get(0))
        .step("checking a task")?;
    if exists {
        return Ok(false);
    }
    let number = if task.number.is_empty() {
        task.id.clone()
    } else {
        task.number.clone()
    };
    tx.execute(
        "INSERT INTO documents (id, type, number, origin, status, created_at) VALUES (?1, ?2, ?3, 'task', 'open', ?4)",
        params![task.id, task.doc_type, number, now],
    )
    .step("adding a task document")?;
    for (i, (l, qty)) in task.lines.iter().zip(planned).enumerate() {
        tx.execute(
            "INSERT INTO plan_lines (doc, line, product, packaging, qty, cell) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![task.id, i as i64 + 1, l.product, l.packaging, qty, l.cell],
        )
        .step("adding a planned line")?;
    }
    Ok(true)
}

/// A task's planned lines given in packagings: `(product, packaging, base units)`.
pub fn planned_packagings(conn: &Connection, id: &str) -> Result<Vec<(String, String, i64)>> {
    let mut stmt = conn
        .prepare(
            "SELECT product, packaging, qty FROM plan_lines WHERE doc = ?1 AND packaging IS NOT NULL AND packaging <> '' ORDER BY line",
        )
        .step("reading planned packagings")?;
    let rows = stmt
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .step("reading planned packagings")?;
    rows.collect::<rusqlite::Result<_>>().step("reading planned packagings")
}

/// All documents, newest first.
pub fn list(conn: &Connection) -> Result<Vec<DocumentHeader>> {
    let mut stmt = conn
        .prepare(&format!("SELECT {HEADER_COLUMNS} FROM documents ORDER BY created_at DESC, id"))
        .step("listing documents")?;
    let rows = stmt.query_map([], header_from_row).step("listing documents")?;
    rows.collect::<rusqlite::Result<_>>().step("listing documents")
}

/// The journal of a document, with `undone` marked.
pub fn journal(conn: &Connection, id: &str) -> Result<Vec<JournalEntry>> {
    let mut stmt = conn
        .prepare("SELECT seq, at, kind, raw, product, packaging, qty, cell, mark, attrs, target, violation FROM journal WHERE doc = ?1 ORDER BY seq")
        .step("reading the journal")?;
    let rows = stmt
        .query_map([id], |r| {
            let attrs: Option<String> = r.get(9)?;
            Ok(JournalEntry {
                seq: r.get(0)?,
                at: r.get(1)?,
                kind: r.get(2)?,
                raw: r.get(3)?,
                product: r.get(4)?,
                packaging: r.get(5)?,
                qty: r.get(6)?,
                cell: r.get(7)?,
                mark: r.get(8)?,
                attrs: attrs.and_then(|a| serde_json::from_str(&a).ok()),
                target: r.get(10)?,
                violation: r.get(11)?,
                undone: false,
            })
        })
        .step("reading the journal")?;
    let mut entries: Vec<JournalEntry> = rows.collect::<rusqlite::Result<_>>().step("reading the journal")?;
    let undone: HashSet<i64> = entries.iter().filter(|e| e.kind == "undo").filter_map(|e| e.target).collect();
    for e in &mut entries {
        e.undone = undone.contains(&e.seq);
    }
    Ok(entries)
}

/// A whole document: header, lines (planned and actual) and journal.
pub fn show(conn: &Connection, id: &str) -> Result<Document> {
    let header = header(conn, id)?;
    let scans = journal(conn, id)?;
    let mut lines: Vec<Line> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut stmt = conn
        .prepare("SELECT product, qty FROM plan_lines WHERE doc = ?1 ORDER BY line")
        .step("reading planned lines")?;
    let plan = stmt
        .query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .step("reading planned lines")?;
    for p in plan {
        let (product, qty) = p.step("reading planned lines")?;
        match index.get(&product) {
            Some(&i) => *lines[i].planned.get_or_insert(0) += qty,
            None => {
                index.insert(product.clone(), lines.len());
                lines.push(Line {
                    product: Some(product),
                    raw: None,
                    name: None,
                    planned: Some(qty),
                    planned_as: None,
                    actual: 0,
                });
            }
        }
    }
    for e in scans.iter().filter(|e| !e.undone && (e.kind == "scan" || e.kind == "correct")) {
        let key = match (&e.product, &e.raw) {
            (Some(p), _) => p.clone(),
            (None, Some(raw)) => format!("\u{0}{raw}"),
            (None, None) => continue,
        };
        let i = *index.entry(key).or_insert_with(|| {
            lines.push(Line {
                product: e.product.clone(),
                raw: if e.product.is_none() { e.raw.clone() } else { None },
                name: None,
                planned: None,
                planned_as: None,
                actual: 0,
            });
            lines.len() - 1
        });
        lines[i].actual += e.qty;
    }
    Ok(Document { header, lines, scans })
}

#[cfg(test)]
mod tests;
