//! The runtime's kept state: everything it remembers besides documents, the
//! journal and the catalog — the configuration in force and its version, the sync
//! state (last attempt, error, backoff, task cursor, tasks set aside), the kept
//! server, and the values the shell keeps. All of it lives in two key-value tables
//! of `journal.db` (`config` and `sync_state`), so it is as durable as a scan and
//! survives a restart; this module is the only one that knows their keys. Readers
//! take a `&Connection`, writers the caller's transaction (same commit as the
//! change the state describes).

use crate::config::Config;
use crate::error::{Error, Result, SqlStep};
use crate::sync::http::ServerSettings;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// A value of the sync state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// Unix ms of the last sync attempt.
    LastAttemptAt,
    /// Unix ms of the last sync that finished without error.
    LastSuccessAt,
    /// The last attempt's error, if it failed.
    LastError,
    /// Its stable code.
    LastErrorCode,
    /// Failed attempts in a row.
    Failures,
    /// Unix ms when the next automatic attempt is due.
    NextAttemptAt,
    /// The last task sequence number taken from the server.
    TasksCursor,
    /// The version of the configuration in force (0: none came from outside).
    ConfigVersion,
    /// Tasks the terminal could not take (JSON).
    TasksSetAside,
    /// Tasks withdrawn after work on them had started (JSON).
    TasksCancelledStarted,
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::LastAttemptAt => "last_attempt_at",
            Key::LastSuccessAt => "last_success_at",
            Key::LastError => "last_error",
            Key::LastErrorCode => "last_error_code",
            Key::Failures => "failures",
            Key::NextAttemptAt => "next_attempt_at",
            Key::TasksCursor => "tasks_cursor",
            Key::ConfigVersion => "config_version",
            Key::TasksSetAside => "tasks_set_aside",
            Key::TasksCancelledStarted => "tasks_cancelled_started",
        }
    }
}

/// A sync-state value as text, or `None`.
pub(crate) fn get(conn: &Connection, key: Key) -> Result<Option<String>> {
    conn.query_row("SELECT value FROM sync_state WHERE key = ?1", [key.name()], |r| r.get(0))
        .optional()
        .step("reading sync state")
}

/// A sync-state value as a number, or `None` (absent or not a number).
pub(crate) fn get_int(conn: &Connection, key: Key) -> Result<Option<i64>> {
    Ok(get(conn, key)?.and_then(|v| v.parse().ok()))
}

/// Sets (or with `None` removes) a sync-state value, in the caller's transaction.
pub(crate) fn set(tx: &Connection, key: Key, value: Option<&str>) -> Result<()> {
    match value {
        Some(v) => tx
            .execute(
                "INSERT INTO sync_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key.name(), v],
            )
            .step("writing sync state")?,
        None => tx
            .execute("DELETE FROM sync_state WHERE key = ?1", [key.name()])
            .step("writing sync state")?,
    };
    Ok(())
}

/// The version of the configuration in force (0 when none came from outside).
pub(crate) fn config_version(conn: &Connection) -> Result<i64> {
    Ok(get_int(conn, Key::ConfigVersion)?.unwrap_or(0))
}

/// Records the version of the configuration just stored (same transaction).
pub(crate) fn set_config_version(tx: &Connection, version: i64) -> Result<()> {
    set(tx, Key::ConfigVersion, Some(&version.to_string()))
}

fn config_row(conn: &Connection, key: &str) -> Result<Option<String>> {
    conn.query_row("SELECT value FROM config WHERE key = ?1", [key], |r| r.get(0))
        .optional()
        .step("reading the kept state")
}

fn set_config_row(tx: &Connection, key: &str, value: Option<&str>) -> Result<()> {
    match value {
        Some(v) => tx.execute(
            "INSERT INTO config (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, v],
        ),
        None => tx.execute("DELETE FROM config WHERE key = ?1", [key]),
    }
    .step("keeping state")
    .map(|_| ())
}

/// The configuration kept in the journal, or the built-in defaults.
pub(crate) fn load_config(conn: &Connection) -> Result<Config> {
    match config_row(conn, "runtime")? {
        Some(text) => Config::from_json(&text),
        None => Ok(Config::default()),
    }
}

/// Keeps a validated configuration (its canonical JSON).
pub(crate) fn store_config(tx: &Connection, config: &Config) -> Result<()> {
    let canonical = serde_json::to_string(config).map_err(|e| Error::Config(e.to_string()))?;
    set_config_row(tx, "runtime", Some(&canonical))
}

/// Server settings as kept in the journal.
#[derive(Serialize, Deserialize)]
struct StoredServer {
    url: String,
    token: String,
    #[serde(default)]
    ca_pem: Option<String>,
    #[serde(default)]
    pin_sha256: Option<String>,
}

/// The kept server settings, if any.
pub(crate) fn load_server(conn: &Connection) -> Result<Option<ServerSettings>> {
    let Some(text) = config_row(conn, "server")? else { return Ok(None) };
    let s: StoredServer = serde_json::from_str(&text).map_err(|e| Error::Config(format!("the kept server settings are damaged: {e}")))?;
    let mut settings = ServerSettings::new(&s.url, &s.token);
    settings.ca_pem = s.ca_pem.map(String::into_bytes);
    settings.pin_sha256 = s.pin_sha256;
    Ok(Some(settings))
}

/// Keeps (or with `None` forgets) the server settings.
pub(crate) fn store_server(tx: &Connection, settings: Option<&ServerSettings>) -> Result<()> {
    let text = settings
        .map(|s| {
            serde_json::to_string(&StoredServer {
                url: s.url.clone(),
                token: s.token.clone(),
                ca_pem: s.ca_pem.as_ref().map(|p| String::from_utf8_lossy(p).into_owned()),
                pin_sha256: s.pin_sha256.clone(),
            })
            .map_err(|e| Error::Config(e.to_string()))
        })
        .transpose()?;
    set_config_row(tx, "server", text.as_deref())
}

/// Longest key the shell may keep a value under.
const SHELL_KEY_MAX: usize = 64;
/// Largest value the shell may keep (a path, an id, a small JSON object).
pub(crate) const SHELL_VALUE_MAX: usize = 16 * 1024;

/// The row of a shell value: `shell.<key>`, so the shell's keys can never reach
/// the runtime's own rows.
fn shell_row(key: &str) -> Result<String> {
    let ok =
        !key.is_empty() && key.len() <= SHELL_KEY_MAX && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !ok {
        return Err(Error::InvalidArgument(format!(
            "shell key {key:?}: use 1 to {SHELL_KEY_MAX} ASCII letters, digits, '_', '-' or '.'"
        )));
    }
    Ok(format!("shell.{key}"))
}

/// A value the shell kept, or `None`.
pub(crate) fn shell_value(conn: &Connection, key: &str) -> Result<Option<String>> {
    config_row(conn, &shell_row(key)?)
}

/// Keeps (or with `None` forgets) a value for the shell.
pub(crate) fn set_shell_value(tx: &Connection, key: &str, value: Option<&str>) -> Result<()> {
    let row = shell_row(key)?;
    if let Some(v) = value {
        if v.len() > SHELL_VALUE_MAX {
            return Err(Error::InvalidArgument(format!(
                "shell value for {key:?} is {} bytes; at most {SHELL_VALUE_MAX}",
                v.len()
            )));
        }
    }
    set_config_row(tx, &row, value)
}
