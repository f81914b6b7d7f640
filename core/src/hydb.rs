//! Hybrid catalog storage (HYDB): catalogs the configuration routes to the server
//! are looked up online when a scan needs them.
//!
//! Per catalog (products, cells) the configuration's [`Route`] gives the order of
//! the places asked: the terminal's catalog, the answers kept from earlier online
//! lookups (the cache, with a time to live), the server. The first that knows the
//! code wins. The server is asked at most once per scan, with one request bounded
//! by `online_lookup.timeout_ms` (default 1.5 s) from connect to answer; when it
//! cannot answer, the scan resolves as *not found* (or from the terminal's catalog,
//! if the route allows) with [`Resolution::server_unreachable`] saying why, and
//! for `online_lookup.retry_after_s` the next scans do not wait on it again.
//!
//! The server settings (URL, device token, CA or pin) are kept in `journal.db` so
//! that lookups and syncs work after a restart without the shell passing them.

use crate::barcode::Parsed;
use crate::catalog::{BarcodeHit, BarcodeKey};
use crate::config::{Catalogs, OnlineLookup, Route};
use crate::error::{Error, Result, SqlStep};
use crate::protocol::LookupAnswer;
use crate::resolve::{self, Resolution, Source, Target};
use crate::runtime::{lock, now_ms};
use crate::sync::http::{Client, ServerSettings};
use crate::Runtime;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A generic catalog record and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordLookup {
    /// The record's fields, when some place knew it.
    pub record: Option<serde_json::Value>,
    /// Where it came from.
    pub source: Source,
    /// Set when the server was to be asked and could not answer: why.
    pub server_unreachable: Option<String>,
}

/// The online-lookup state of a runtime: the client (its connection pool is what
/// makes the second lookup cheap) and when the server last failed.
#[derive(Default)]
pub(crate) struct Online {
    client: Option<Arc<Client>>,
    down_until: Option<Instant>,
    down_reason: String,
}

#[derive(Clone, Copy)]
enum Place {
    Device,
    Cache,
    Server,
}

fn places(route: Route) -> &'static [Place] {
    match route {
        Route::Device => &[Place::Device],
        Route::Server => &[Place::Cache, Place::Server],
        Route::DeviceThenServer => &[Place::Device, Place::Cache, Place::Server],
        Route::ServerThenDevice => &[Place::Server, Place::Cache, Place::Device],
    }
}

fn product_key(k: &BarcodeKey) -> String {
    format!("p:{k}")
}

fn cell_key(label: &str) -> String {
    format!("c:{label}")
}

fn cached_product(conn: &Connection, keys: &[BarcodeKey], now: i64) -> Result<Option<(usize, BarcodeHit)>> {
    for (i, k) in keys.iter().enumerate() {
        if let Some(text) = cached(conn, &product_key(k), now)? {
            if let Ok(hit) = serde_json::from_str(&text) {
                return Ok(Some((i, hit)));
            }
        }
    }
    Ok(None)
}

fn cached(conn: &Connection, key: &str, now: i64) -> Result<Option<String>> {
    conn.query_row(
        "SELECT answer FROM hydb_cache WHERE key = ?1 AND expires_at > ?2",
        rusqlite::params![key, now],
        |r| r.get(0),
    )
    .optional()
    .step("reading the online-lookup cache")
}

/// The name of a product known only from an online lookup (for document lines).
pub(crate) fn cached_name(conn: &Connection, product: &str) -> Result<Option<String>> {
    let text: Option<String> = conn
        .query_row("SELECT answer FROM hydb_cache WHERE product = ?1 LIMIT 1", [product], |r| r.get(0))
        .optional()
        .step("reading the online-lookup cache")?;
    Ok(text
        .and_then(|t| serde_json::from_str::<BarcodeHit>(&t).ok())
        .map(|h| h.product.name))
}

impl Runtime {
    /// Sets (or with `None` forgets) the sync server: kept in the journal, used by
    /// online lookups and by [`Runtime::sync_saved_server`]. The settings are
    /// checked first (URL scheme, CA, pin); nothing is contacted.
    pub fn set_server(&self, settings: Option<&ServerSettings>) -> Result<()> {
        if let Some(s) = settings {
            Client::new(s)?;
            if let Some(pin) = &s.pin_sha256 {
                crate::sync::tls::parse_pin(pin)?;
            }
        }
        self.write_journal(|tx| crate::state::store_server(tx, settings))?;
        *self.server.write().unwrap_or_else(|p| p.into_inner()) = settings.cloned();
        *lock(&self.online) = Online::default();
        Ok(())
    }

    /// The kept server settings, if any.
    pub fn server(&self) -> Option<ServerSettings> {
        self.server.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Drops every answer kept from online lookups.
    pub fn clear_lookup_cache(&self) -> Result<usize> {
        self.write_journal(|tx| tx.execute("DELETE FROM hydb_cache", []).step("clearing the online-lookup cache"))
    }

    /// A record of a generic catalog (`reasons`, `carriers`…), from where the
    /// configuration's `record_catalogs` routes that catalog: the terminal's copy,
    /// kept answers, the server.
    pub fn record(&self, catalog: &str, id: &str) -> Result<RecordLookup> {
        let config = self.config();
        let (route, online) = (
            config.record_catalogs.get(catalog).copied().unwrap_or_default(),
            config.online_lookup,
        );
        let key = format!("r:{catalog}\u{1f}{id}");
        let mut unreachable = None;
        for place in places(route) {
            let (record, source) = match place {
                Place::Device => {
                    let mut reader = lock(&self.catalog_reader);
                    (crate::catalog::record(reader.conn()?, catalog, id)?, Source::Device)
                }
                Place::Cache => (
                    cached(&lock(&self.journal), &key, now_ms())?.and_then(|t| serde_json::from_str(&t).ok()),
                    Source::Cache,
                ),
                Place::Server => match self.ask(online, |c, timeout| c.record(catalog, id, timeout)) {
                    Ok(answer) => (answer.record, Source::Server),
                    Err(why) => {
                        unreachable = Some(why);
                        (None, Source::Server)
                    }
                },
            };
            if let Some(record) = record {
                if source == Source::Server && online.cache_ttl_s > 0 {
                    self.keep(&key, &record.to_string(), None, online.cache_ttl_s)?;
                }
                return Ok(RecordLookup {
                    record: Some(record),
                    source,
                    server_unreachable: unreachable,
                });
            }
        }
        Ok(RecordLookup {
            record: None,
            source: Source::Device,
            server_unreachable: unreachable,
        })
    }

    /// Asks the server once; an error is the reason it could not answer.
    fn ask_server(&self, keys: &[BarcodeKey], cell: Option<&str>, online: OnlineLookup) -> std::result::Result<LookupAnswer, String> {
        self.ask(online, |c, timeout| c.lookup(keys, cell, timeout))
    }

    /// One online request through the kept client, unless the server failed less
    /// than `retry_after_s` ago; an error is the reason it could not answer.
    fn ask(
        &self,
        online: OnlineLookup,
        request: impl FnOnce(&Client, Duration) -> Result<LookupAnswer>,
    ) -> std::result::Result<LookupAnswer, String> {
        let mut state = lock(&self.online);
        if let Some(until) = state.down_until {
            if Instant::now() < until {
                return Err(format!("server unreachable ({})", state.down_reason));
            }
        }
        let client = match &state.client {
            Some(c) => c.clone(),
            None => {
                let settings = self.server().ok_or_else(|| "no server is set up".to_string())?;
                let c = Arc::new(Client::new(&settings).map_err(|e| e.to_string())?);
                state.client = Some(c.clone());
                c
            }
        };
        drop(state);
        match request(&client, Duration::from_millis(online.timeout_ms)) {
            Ok(answer) => {
                lock(&self.online).down_until = None;
                Ok(answer)
            }
            Err(e) => {
                log::warn!("online lookup failed: {e}");
                let mut state = lock(&self.online);
                // Checked: a configuration bounds retry_after_s, but a clock near its end
                // must not turn a lookup into a panic (the scan would not be stored).
                state.down_until = Instant::now().checked_add(Duration::from_secs(online.retry_after_s));
                state.down_reason = e.to_string();
                Err(format!("server unreachable ({e})"))
            }
        }
    }

    /// Resolves a parsed code by the catalog routing (see the module docs).
    pub(crate) fn resolve_routed(&self, parsed: Parsed, routing: Catalogs, online: OnlineLookup) -> Result<Resolution> {
        let keys = resolve::keys(&parsed);
        let label = resolve::cell_label(&parsed).map(str::to_string);
        // What the one server request asks: the keys and/or the label, by routing.
        let ask_keys: &[BarcodeKey] = if routing.products.asks_server() { &keys } else { &[] };
        let ask_label = label.as_deref().filter(|_| routing.cells.asks_server());
        let mut answer: Option<std::result::Result<LookupAnswer, String>> = None;
        let mut server = |rt: &Runtime| -> Option<LookupAnswer> {
            answer
                .get_or_insert_with(|| rt.ask_server(ask_keys, ask_label, online))
                .as_ref()
                .ok()
                .cloned()
        };
        let now = now_ms();
        let mut found: Option<(Target, Option<usize>, Source)> = None;
        if !keys.is_empty() {
            for place in places(routing.products) {
                found = match place {
                    Place::Device => {
                        let mut reader = lock(&self.catalog_reader);
                        resolve::local_product(reader.conn()?, &keys)?.map(|(i, h)| (Target::Product(h), Some(i), Source::Device))
                    }
                    Place::Cache => {
                        cached_product(&lock(&self.journal), &keys, now)?.map(|(i, h)| (Target::Product(h), Some(i), Source::Cache))
                    }
                    Place::Server => server(self).and_then(|a| Some((Target::Product(a.hit?), a.matched, Source::Server))),
                };
                if found.is_some() {
                    break;
                }
            }
        }
        if let (None, Some(label)) = (&found, &label) {
            for place in places(routing.cells) {
                found = match place {
                    Place::Device => {
                        let mut reader = lock(&self.catalog_reader);
                        crate::catalog::cell_by_barcode(reader.conn()?, label)?.map(|c| (Target::Cell(c), None, Source::Device))
                    }
                    Place::Cache => cached(&lock(&self.journal), &cell_key(label), now)?
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .map(|c| (Target::Cell(c), None, Source::Cache)),
                    Place::Server => server(self).and_then(|a| Some((Target::Cell(a.cell?), None, Source::Server))),
                };
                if found.is_some() {
                    break;
                }
            }
        }
        let (target, matched, source) = found.unwrap_or((Target::NotFound, None, Source::Device));
        if source == Source::Server && online.cache_ttl_s > 0 {
            self.keep_answer(&target, matched.and_then(|i| keys.get(i)), label.as_deref(), online.cache_ttl_s)?;
        }
        let mut resolution = resolve::finish(parsed, target, matched);
        resolution.source = source;
        resolution.server_unreachable = answer.and_then(|a| a.err());
        Ok(resolution)
    }

    /// Keeps a server answer for `ttl_s` seconds (and drops expired ones).
    fn keep_answer(&self, target: &Target, key: Option<&BarcodeKey>, label: Option<&str>, ttl_s: u64) -> Result<()> {
        let (key, answer, product) = match (target, key, label) {
            (Target::Product(h), Some(k), _) => (product_key(k), serde_json::to_string(h), Some(h.product.id.as_str())),
            (Target::Cell(c), _, Some(l)) => (cell_key(l), serde_json::to_string(c), None),
            _ => return Ok(()),
        };
        let answer = answer.map_err(|e| Error::Config(e.to_string()))?;
        self.keep(&key, &answer, product, ttl_s)
    }

    /// Writes one cache row for `ttl_s` seconds (and drops expired ones).
    fn keep(&self, key: &str, answer: &str, product: Option<&str>, ttl_s: u64) -> Result<()> {
        let now = now_ms();
        let expires = now.saturating_add(ttl_s.saturating_mul(1000).min(i64::MAX as u64) as i64);
        self.write_journal(|tx| {
            tx.execute("DELETE FROM hydb_cache WHERE expires_at <= ?1", [now])
                .step("trimming the online-lookup cache")?;
            tx.execute(
                "INSERT OR REPLACE INTO hydb_cache (key, answer, product, expires_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![key, answer, product, expires],
            )
            .step("keeping an online-lookup answer")
            .map(|_| ())
        })
    }
}
