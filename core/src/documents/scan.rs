//! Writing the journal: scans with their rules, undo, corrections, completion.
//! Each function takes the `IMMEDIATE` transaction the caller commits; a `?` before
//! the commit rolls everything back.

use super::{header, Origin, Status};
use crate::config::Config;
use crate::error::{Error, Result, SqlStep};
use crate::resolve::{Resolution, Target};
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

/// A document-type rule that refused a scan. The refusal is stored in the journal
/// (kind `refused`) so the attempt is not lost, and shown to the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Violation {
    /// More than planned, and the type forbids over-scan.
    Overscan,
    /// Goods the task does not list, and the type forbids over-scan.
    NotInPlan,
    /// This marked item (GTIN + serial) is already in the document.
    DuplicateMark,
    /// The type needs a cell scanned first.
    CellRequired,
    /// Not in the catalog, and the type does not accept unknown goods.
    UnknownProduct,
    /// A marking code names one item; a larger quantity is refused.
    MarkedQuantity,
    /// A GS1 code that breaks the GS1 pairing rules, in a type that asks for strict GS1.
    Gs1Rules,
    /// A scale's weight label for goods the catalog sells by the piece.
    WeightLabelForPiece,
}

impl Violation {
    /// Stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Violation::Overscan => "overscan",
            Violation::NotInPlan => "not_in_plan",
            Violation::DuplicateMark => "duplicate_mark",
            Violation::CellRequired => "cell_required",
            Violation::UnknownProduct => "unknown_product",
            Violation::MarkedQuantity => "marked_quantity",
            Violation::Gs1Rules => "gs1_rules",
            Violation::WeightLabelForPiece => "weight_label_for_piece",
        }
    }

    /// A sentence for the operator.
    pub fn message(self) -> &'static str {
        match self {
            Violation::Overscan => "more than planned",
            Violation::NotInPlan => "not in this task",
            Violation::DuplicateMark => "this marked item is already scanned",
            Violation::CellRequired => "scan a cell first",
            Violation::UnknownProduct => "not in the catalog",
            Violation::MarkedQuantity => "a marking code is one item",
            Violation::Gs1Rules => "the code breaks the GS1 rules for its AIs",
            Violation::WeightLabelForPiece => "a weight label, but these goods are sold by the piece",
        }
    }
}

/// What happened to a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStatus {
    /// Stored; counts toward the line.
    Accepted,
    /// Stored as a refusal; does not count.
    Refused(Violation),
    /// A cell label: the cell now in force.
    CellSet,
    /// The type asks for a quantity first; nothing was stored.
    NeedQuantity,
}

impl ScanStatus {
    /// Stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Accepted => "accepted",
            ScanStatus::Refused(_) => "refused",
            ScanStatus::CellSet => "cell",
            ScanStatus::NeedQuantity => "need_quantity",
        }
    }
}

/// The result of one scan into a document.
#[derive(Debug, Clone)]
pub struct ScanOutcome {
    /// Journal sequence number; `None` when nothing was stored.
    pub seq: Option<i64>,
    /// Accepted, refused, cell, or quantity needed.
    pub status: ScanStatus,
    /// The resolved code.
    pub resolution: Resolution,
    /// Quantity this scan added (base units, thousandths).
    pub qty: i64,
    /// The product's actual quantity in the document after this scan.
    pub actual: i64,
    /// The product's planned quantity, for task documents.
    pub planned: Option<i64>,
}

/// Active (not undone) scan and correction entries of a document.
const ACTIVE: &str = "kind IN ('scan', 'correct') AND seq NOT IN (SELECT target FROM journal WHERE doc = ?1 AND kind = 'undo')";

struct NewEntry<'a> {
    kind: &'a str,
    raw: Option<&'a str>,
    product: Option<&'a str>,
    packaging: Option<&'a str>,
    qty: i64,
    cell: Option<&'a str>,
    mark: Option<&'a str>,
    attrs: Option<String>,
    target: Option<i64>,
    violation: Option<&'a str>,
}

impl<'a> NewEntry<'a> {
    fn new(kind: &'a str) -> Self {
        NewEntry {
            kind,
            raw: None,
            product: None,
            packaging: None,
            qty: 0,
            cell: None,
            mark: None,
            attrs: None,
            target: None,
            violation: None,
        }
    }
}

fn append(tx: &Transaction<'_>, doc: &str, now: i64, e: &NewEntry<'_>) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO journal (doc, at, kind, raw, product, packaging, qty, cell, mark, attrs, target, violation)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .step("preparing a journal entry")?
    .execute(params![
        doc,
        now,
        e.kind,
        e.raw,
        e.product,
        e.packaging,
        e.qty,
        e.cell,
        e.mark,
        e.attrs,
        e.target,
        e.violation
    ])
    .step("appending to the journal")?;
    Ok(tx.last_insert_rowid())
}

fn open_doc(tx: &Transaction<'_>, doc: &str) -> Result<super::DocumentHeader> {
    let h = header(tx, doc)?;
    if h.status == Status::Completed {
        return Err(Error::DocumentCompleted(doc.to_string()));
    }
    Ok(h)
}

fn actual(tx: &Transaction<'_>, doc: &str, product: &str) -> Result<i64> {
    tx.prepare_cached(&format!(
        "SELECT coalesce(sum(qty), 0) FROM journal WHERE doc = ?1 AND product = ?2 AND {ACTIVE}"
    ))
    .step("preparing a line sum")?
    .query_row(params![doc, product], |r| r.get(0))
    .step("summing a line")
}

fn planned(tx: &Transaction<'_>, doc: &str, product: &str) -> Result<Option<i64>> {
    tx.prepare_cached("SELECT sum(qty) FROM plan_lines WHERE doc = ?1 AND product = ?2")
        .step("preparing a plan read")?
        .query_row(params![doc, product], |r| r.get(0))
        .step("reading the plan")
}

fn current_cell(tx: &Transaction<'_>, doc: &str) -> Result<Option<String>> {
    tx.prepare_cached("SELECT cell FROM journal WHERE doc = ?1 ORDER BY seq DESC LIMIT 1")
        .step("preparing a cell read")?
        .query_row([doc], |r| r.get(0))
        .optional()
        .step("reading the current cell")
        .map(Option::flatten)
}

/// Records one scan into a document under its type's rules. `qty` overrides the
/// quantity read from the code: a count of the scanned packaging, in thousandths.
pub fn record_scan(
    tx: &Transaction<'_>,
    doc: &str,
    config: &Config,
    raw: &str,
    res: Resolution,
    qty: Option<i64>,
    now: i64,
) -> Result<ScanOutcome> {
    let h = open_doc(tx, doc)?;
    let rules = config.doc_type(&h.doc_type)?;
    if let Some(q) = qty {
        if q <= 0 {
            return Err(Error::InvalidArgument(format!(
                "quantity must be positive, got {}",
                super::qty_json(q)
            )));
        }
    }
    let mut outcome = ScanOutcome {
        seq: None,
        status: ScanStatus::Accepted,
        qty: 0,
        actual: 0,
        planned: None,
        resolution: res,
    };
    let res = &outcome.resolution;
    if let Target::Cell(cell) = &res.target {
        let mut e = NewEntry::new("cell");
        e.raw = Some(raw);
        e.cell = Some(&cell.id);
        outcome.seq = Some(append(tx, doc, now, &e)?);
        outcome.status = ScanStatus::CellSet;
        return Ok(outcome);
    }
    // Weighed goods need their weight: a scale label or a GS1 net weight carries
    // it; the product's plain code does not, so the operator is asked (one unit of
    // a weighed product would be a kilogram nobody weighed).
    let weighed_without_weight = res
        .hit()
        .is_some_and(|h| h.product.weighted && res.attributes.weight_grams.is_none_or(|g| g == 0));
    if (rules.quantity_prompt || weighed_without_weight) && qty.is_none() {
        outcome.status = ScanStatus::NeedQuantity;
        return Ok(outcome);
    }
    let hit = res.hit();
    let factor = hit.and_then(|h| h.packaging.as_ref()).map_or(1000, |k| k.factor);
    let amount = match qty {
        Some(q) => q.saturating_mul(factor) / 1000,
        None => res.qty,
    };
    let product = hit.map(|h| h.product.id.as_str());
    let cell = current_cell(tx, doc)?;
    let mark = res.attributes.mark.as_deref();
    let (before, plan) = match product {
        Some(p) => (
            actual(tx, doc, p)?,
            if h.origin == Origin::Task { planned(tx, doc, p)? } else { None },
        ),
        None => (0, None),
    };
    let weight_label = res.parsed.kind == crate::barcode::Kind::Weight && res.attributes.weight_grams.is_some_and(|g| g > 0);
    let violation = if rules.strict_gs1 && !res.parsed.warnings.is_empty() {
        Some(Violation::Gs1Rules)
    } else if weight_label && hit.is_some_and(|h| !h.product.weighted) {
        Some(Violation::WeightLabelForPiece)
    } else if hit.is_none() && !rules.allow_unknown {
        Some(Violation::UnknownProduct)
    } else if rules.require_cell && cell.is_none() {
        Some(Violation::CellRequired)
    } else if mark.is_some() && qty.is_some_and(|q| q != 1000) {
        Some(Violation::MarkedQuantity)
    } else if mark.is_some() && rules.unique_marks && mark_taken(tx, doc, mark.unwrap_or_default())? {
        Some(Violation::DuplicateMark)
    } else if h.origin == Origin::Task && !rules.allow_overscan && product.is_some() {
        match plan {
            None => Some(Violation::NotInPlan),
            Some(p) if before + amount > p => Some(Violation::Overscan),
            Some(_) => None,
        }
    } else {
        None
    };
    let mut attrs = serde_json::to_value(&res.attributes).unwrap_or_default();
    if let (Some(full), Some(map)) = (res.marking_full(), attrs.as_object_mut()) {
        map.insert("marking".into(), full.into());
    }
    let mut e = NewEntry::new(if violation.is_some() { "refused" } else { "scan" });
    e.raw = Some(raw);
    e.product = product;
    e.packaging = hit.and_then(|h| h.packaging.as_ref()).map(|k| k.id.as_str());
    e.qty = amount;
    e.cell = cell.as_deref();
    e.mark = mark;
    e.attrs = attrs
        .as_object()
        .filter(|m| !m.is_empty())
        .map(|m| serde_json::Value::Object(m.clone()).to_string());
    e.violation = violation.map(Violation::as_str);
    outcome.seq = Some(append(tx, doc, now, &e)?);
    outcome.planned = plan;
    match violation {
        Some(v) => {
            outcome.status = ScanStatus::Refused(v);
            outcome.actual = before;
        }
        None => {
            outcome.qty = amount;
            outcome.actual = before + amount;
        }
    }
    Ok(outcome)
}

fn mark_taken(tx: &Transaction<'_>, doc: &str, mark: &str) -> Result<bool> {
    tx.prepare_cached(&format!(
        "SELECT EXISTS (SELECT 1 FROM journal WHERE doc = ?1 AND mark = ?2 AND kind = 'scan' AND {ACTIVE})"
    ))
    .step("preparing a mark check")?
    .query_row(params![doc, mark], |r| r.get(0))
    .step("checking a marking code")
}

/// Undoes the latest scan or correction that is still in force; returns the undo
/// entry's seq and the seq it undid.
pub fn undo(tx: &Transaction<'_>, doc: &str, now: i64) -> Result<(i64, i64)> {
    open_doc(tx, doc)?;
    let last: Option<(i64, Option<String>)> = tx
        .query_row(
            &format!("SELECT seq, cell FROM journal WHERE doc = ?1 AND {ACTIVE} ORDER BY seq DESC LIMIT 1"),
            [doc],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .step("finding the scan to undo")?;
    let (target, _) = last.ok_or_else(|| Error::NothingToUndo(doc.to_string()))?;
    let cell = current_cell(tx, doc)?;
    let mut e = NewEntry::new("undo");
    e.target = Some(target);
    e.cell = cell.as_deref();
    Ok((append(tx, doc, now, &e)?, target))
}

/// Sets a product's actual quantity in the document (a `correct` entry with the
/// difference). Returns the entry's seq, or `None` when the quantity already matched.
pub fn correct(tx: &Transaction<'_>, doc: &str, product: &str, qty: i64, now: i64) -> Result<Option<i64>> {
    open_doc(tx, doc)?;
    if qty < 0 {
        return Err(Error::InvalidArgument("a quantity cannot be negative".into()));
    }
    let delta = qty - actual(tx, doc, product)?;
    if delta == 0 {
        return Ok(None);
    }
    let cell = current_cell(tx, doc)?;
    let mut e = NewEntry::new("correct");
    e.product = Some(product);
    e.qty = delta;
    e.cell = cell.as_deref();
    Ok(Some(append(tx, doc, now, &e)?))
}

/// Completes a document: it is frozen and queued in the outbox. Completing a
/// completed document changes nothing and returns `false`.
pub fn complete(tx: &Transaction<'_>, doc: &str, now: i64) -> Result<bool> {
    if header(tx, doc)?.status == Status::Completed {
        return Ok(false);
    }
    append(tx, doc, now, &NewEntry::new("complete"))?;
    tx.execute(
        "UPDATE documents SET status = 'completed', completed_at = ?2 WHERE id = ?1",
        params![doc, now],
    )
    .step("completing a document")?;
    tx.execute("INSERT INTO outbox (doc, queued_at) VALUES (?1, ?2)", params![doc, now])
        .step("queueing a document")?;
    Ok(true)
}
