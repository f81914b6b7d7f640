//! Taking task documents from a sync, by either transport. A task the terminal
//! cannot take — a document type its configuration does not define, a quantity it
//! cannot read, a packaging its catalog does not know — is **set aside** with the
//! reason (shown in the sync status) instead of failing the sync: the rest of the
//! tasks, the cursor and every later sync go on. Set-aside tasks are tried again at
//! every later sync (after the configuration, which comes first), so a task whose
//! type only a newer configuration defines is taken once that configuration is in.
//!
//! A task record with `"cancelled": true` withdraws a task: the terminal removes it
//! when nothing was scanned into it yet; once work has started it is kept (the
//! operator finishes, the document goes back as usual, and the status says that the
//! accounting system withdrew it).
//!
//! Planned quantities given in a packaging (`{"product": "P1", "packaging": "box",
//! "qty": 2}`) are planned in base units (2 boxes of 12 = 24) and remembered in
//! their packaging for the screen.

use crate::config::Config;
use crate::documents::{self, TaskDocument};
use crate::error::{Result, SqlStep};
use crate::runtime::{lock, now_ms};
use crate::state::{self, Key};
use crate::Runtime;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// A task the terminal could not take, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetAside {
    /// Task id.
    pub id: String,
    /// What is wrong with it, for the operator and the admin.
    pub reason: String,
    /// The task itself, tried again at the next sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskDocument>,
}

/// What taking a batch of tasks did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Taken {
    /// New task documents.
    pub added: usize,
    /// Tasks withdrawn (removed, or kept because work had started).
    pub cancelled: Vec<String>,
    /// Tasks set aside now, with the reason.
    pub set_aside: Vec<SetAside>,
}

/// Tasks set aside so far (without their bodies), for the sync status.
pub(crate) fn set_aside(conn: &Connection) -> Result<Vec<SetAside>> {
    let mut list = kept(conn)?;
    for s in &mut list {
        s.task = None;
    }
    let started: Vec<String> = state::get(conn, Key::TasksCancelledStarted)?
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    list.extend(started.into_iter().map(|id| SetAside {
        id,
        reason: "withdrawn by the accounting system after work had started: finish it or leave it, it is sent as usual".into(),
        task: None,
    }));
    Ok(list)
}

fn kept(conn: &Connection) -> Result<Vec<SetAside>> {
    Ok(state::get(conn, Key::TasksSetAside)?
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

/// The base units (thousandths) a planned line's quantity means, or why it cannot be read.
fn planned_milli(conn: &Connection, task: &TaskDocument, line: usize) -> std::result::Result<i64, String> {
    let l = &task.lines[line];
    let qty = crate::catalog::parse_quantity(&l.qty.to_string()).ok_or_else(|| {
        format!(
            "line {}: quantity {} is not a non-negative number with at most 3 decimals",
            line + 1,
            l.qty
        )
    })?;
    let Some(packaging) = l.packaging.as_deref().filter(|p| !p.is_empty()) else {
        return Ok(qty);
    };
    let factor = crate::catalog::packagings_of(conn, &l.product)
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|k| k.id == packaging)
        .map(|k| k.factor)
        .ok_or_else(|| {
            format!(
                "line {}: packaging {packaging:?} of product {:?} is not in this terminal's catalog",
                line + 1,
                l.product
            )
        })?;
    Ok(qty.saturating_mul(factor) / 1000)
}

/// Why a task cannot be taken, or its planned lines in base units.
fn check(config: &Config, catalog: &Connection, task: &TaskDocument) -> std::result::Result<Vec<i64>, String> {
    if task.id.trim().is_empty() {
        return Err("a task needs an id".into());
    }
    config.doc_type(&task.doc_type).map_err(|_| {
        format!(
            "document type {:?} is not in this terminal's configuration (a newer configuration may bring it)",
            task.doc_type
        )
    })?;
    (0..task.lines.len()).map(|i| planned_milli(catalog, task, i)).collect()
}

impl Runtime {
    /// Tries the tasks set aside before again (after a configuration or catalog
    /// came); does nothing, and writes nothing, when there are none.
    pub(crate) fn retry_set_aside_tasks(&self) -> Result<Taken> {
        if kept(&lock(&self.journal))?.is_empty() {
            return Ok(Taken::default());
        }
        self.take_tasks(Vec::new(), None)
    }

    /// Takes tasks from a sync (see the module docs): new ones and those set aside
    /// before; `cursor` is stored in the same journal transaction.
    pub(crate) fn take_tasks(&self, incoming: Vec<TaskDocument>, cursor: Option<i64>) -> Result<Taken> {
        let config = self.config();
        let before = kept(&lock(&self.journal))?;
        let candidates: Vec<TaskDocument> = before.into_iter().filter_map(|s| s.task).chain(incoming).collect();
        let mut taken = Taken::default();
        let mut ready = Vec::new();
        let mut cancels = Vec::new();
        {
            let mut reader = lock(&self.catalog_reader);
            let catalog = reader.conn()?;
            for task in candidates {
                if task.cancelled {
                    cancels.push(task.id);
                    continue;
                }
                match check(&config, catalog, &task) {
                    Ok(planned) => ready.push((task, planned)),
                    Err(reason) => {
                        log::warn!("task {:?} set aside: {reason}", task.id);
                        taken.set_aside.push(SetAside {
                            id: task.id.clone(),
                            reason,
                            task: Some(task),
                        });
                    }
                }
            }
        }
        // A later record of the same task wins (a task re-sent after a fix).
        taken
            .set_aside
            .retain(|s| !ready.iter().any(|(t, _)| t.id == s.id) && !cancels.contains(&s.id));
        let now = now_ms();
        let (added, cancelled) = self.write_journal(|tx| {
            let mut added = 0;
            for (task, planned) in &ready {
                added += documents::add_task_planned(tx, task, planned, now)? as usize;
            }
            let mut cancelled = Vec::new();
            let mut started: Vec<String> = state::get(tx, Key::TasksCancelledStarted)?
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            for id in &cancels {
                match withdraw(tx, id)? {
                    Withdrawn::Removed => cancelled.push(id.clone()),
                    Withdrawn::Started => {
                        cancelled.push(id.clone());
                        if !started.contains(id) {
                            started.push(id.clone());
                        }
                    }
                    Withdrawn::Unknown => {}
                }
            }
            state::set(
                tx,
                Key::TasksSetAside,
                (!taken.set_aside.is_empty()).then(|| to_json(&taken.set_aside)).as_deref(),
            )?;
            state::set(
                tx,
                Key::TasksCancelledStarted,
                (!started.is_empty()).then(|| to_json(&started)).as_deref(),
            )?;
            if let Some(c) = cursor {
                state::set(tx, Key::TasksCursor, Some(&c.to_string()))?;
            }
            Ok((added, cancelled))
        })?;
        taken.added = added;
        taken.cancelled = cancelled;
        Ok(taken)
    }
}

enum Withdrawn {
    Removed,
    Started,
    Unknown,
}

/// Removes an open task nobody has scanned into; keeps one with journal entries.
fn withdraw(tx: &Connection, id: &str) -> Result<Withdrawn> {
    let origin: Option<String> = tx
        .query_row("SELECT origin FROM documents WHERE id = ?1", [id], |r| r.get(0))
        .optional()
        .step("finding a withdrawn task")?;
    if origin.as_deref() != Some("task") {
        return Ok(Withdrawn::Unknown);
    }
    let entries: i64 = tx
        .query_row("SELECT count(*) FROM journal WHERE doc = ?1", [id], |r| r.get(0))
        .step("checking a withdrawn task")?;
    if entries > 0 {
        return Ok(Withdrawn::Started);
    }
    tx.execute("DELETE FROM plan_lines WHERE doc = ?1", params![id])
        .step("removing a withdrawn task")?;
    tx.execute("DELETE FROM documents WHERE id = ?1", params![id])
        .step("removing a withdrawn task")?;
    Ok(Withdrawn::Removed)
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}
