//! Runtime configuration from the accounting system: document types with their
//! rules, in-store weight templates, where catalog lookups go (HYDB routing),
//! scanner intent profiles, sync intervals and UI options. Stored as JSON in
//! `journal.db`; sensible defaults apply until a configuration is loaded.
//!
//! The JSON carries a `schema` number. This build reads schemas
//! [`SCHEMA_MIN`]..=[`SCHEMA_MAX`]; a newer one is refused with a message that says
//! to update the app (fields this build does not know are ignored within a schema,
//! so adding an optional field does not need a new schema number).

use crate::barcode::WeightTemplate;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Rules of one document type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocType {
    /// Type id: `receiving`, `picking`, `transfer`, `inventory` or one of the
    /// configuration's own.
    pub id: String,
    /// Name shown to the operator.
    #[serde(default)]
    pub name: String,
    /// Number prefix of documents made on the terminal.
    #[serde(default)]
    pub prefix: String,
    /// More than planned may be scanned (task documents).
    #[serde(default)]
    pub allow_overscan: bool,
    /// A marking code may be scanned once per document.
    #[serde(default = "yes")]
    pub unique_marks: bool,
    /// A cell must be scanned before goods.
    #[serde(default)]
    pub require_cell: bool,
    /// The shell asks for a quantity before each scan is stored.
    #[serde(default)]
    pub quantity_prompt: bool,
    /// Goods not in the catalog may be stored (by their raw code).
    #[serde(default)]
    pub allow_unknown: bool,
    /// The operator may start a document of this type on the terminal (without a
    /// task from the accounting system).
    #[serde(default = "yes")]
    pub allow_free: bool,
    /// Refuse GS1 codes that break the GS1 pairing rules (a required AI missing,
    /// two AIs that may not appear together); by default they are taken with the
    /// warning.
    #[serde(default)]
    pub strict_gs1: bool,
}

fn yes() -> bool {
    true
}

/// Oldest configuration schema this build reads.
pub const SCHEMA_MIN: u32 = 1;
/// Newest configuration schema this build reads (and the one it writes).
pub const SCHEMA_MAX: u32 = 1;

/// Where lookups in one catalog go, and in which order (HYDB, hybrid storage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Only the catalog on the terminal (the default).
    #[default]
    Device,
    /// Only the server: the catalog is not kept on the terminal.
    Server,
    /// The terminal first; a miss asks the server.
    DeviceThenServer,
    /// The server first (fresh data); the terminal's catalog when it is unreachable.
    ServerThenDevice,
}

impl Route {
    /// The server is asked at all.
    pub fn asks_server(self) -> bool {
        self != Route::Device
    }
    /// The terminal's own catalog is used at all.
    pub fn uses_device(self) -> bool {
        self != Route::Server
    }
}

/// Lookup routing per catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Catalogs {
    /// Products, packagings and their barcodes.
    #[serde(default)]
    pub products: Route,
    /// Storage cells.
    #[serde(default)]
    pub cells: Route,
}

impl Catalogs {
    /// The catalog package is worth downloading: products or cells are read on
    /// the device (generic catalogs travel in the same package but decide nothing).
    pub fn download(&self) -> bool {
        self.products.uses_device() || self.cells.uses_device()
    }
}

/// Online lookups (catalogs routed to the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineLookup {
    /// Longest a scan waits for the server, in milliseconds (100..=10000).
    #[serde(default = "default_lookup_timeout")]
    pub timeout_ms: u64,
    /// How long a server answer is kept on the terminal, in seconds (0: not kept).
    #[serde(default = "default_cache_ttl")]
    pub cache_ttl_s: u64,
    /// After the server could not be reached, scans do not try it again for this
    /// many seconds (they get "server unreachable" at once instead of waiting).
    #[serde(default = "default_retry_after")]
    pub retry_after_s: u64,
}

fn default_lookup_timeout() -> u64 {
    1500
}
fn default_cache_ttl() -> u64 {
    24 * 3600
}
fn default_retry_after() -> u64 {
    10
}

impl Default for OnlineLookup {
    fn default() -> Self {
        OnlineLookup {
            timeout_ms: default_lookup_timeout(),
            cache_ttl_s: default_cache_ttl(),
            retry_after_s: default_retry_after(),
        }
    }
}

/// When the shell syncs by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncIntervals {
    /// Minutes between periodic syncs (0: only by the button and on network return).
    #[serde(default = "default_periodic")]
    pub periodic_minutes: u32,
    /// Sync when a validated network comes back and something waits.
    #[serde(default = "yes")]
    pub on_network_return: bool,
}

fn default_periodic() -> u32 {
    15
}

impl Default for SyncIntervals {
    fn default() -> Self {
        SyncIntervals {
            periodic_minutes: default_periodic(),
            on_network_return: true,
        }
    }
}

/// A scanner's intent broadcast (for a vendor service the shell has no built-in
/// profile for, or one reconfigured on site).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScannerProfile {
    /// Profile id, shown in the settings.
    pub id: String,
    /// The broadcast intent action.
    pub action: String,
    /// Extra with the code as text.
    pub text_extra: String,
    /// Extra with the code as raw bytes (kept GS separators), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_extra: Option<String>,
    /// Extra with the symbology name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbology_extra: Option<String>,
}

/// What the operator sees and hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UiOptions {
    /// A tone on errors and violations.
    #[serde(default = "yes")]
    pub sound: bool,
    /// Vibration on errors and violations.
    #[serde(default = "yes")]
    pub vibrate: bool,
    /// Text size in percent of the default (50..=300).
    #[serde(default = "default_font")]
    pub font_percent: u16,
    /// Ask before completing a document.
    #[serde(default = "yes")]
    pub confirm_complete: bool,
}

fn default_font() -> u16 {
    100
}

impl Default for UiOptions {
    fn default() -> Self {
        UiOptions {
            sound: true,
            vibrate: true,
            font_percent: default_font(),
            confirm_complete: true,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Schema number of this JSON (see the module docs).
    #[serde(default = "schema_min")]
    pub schema: u32,
    /// Document types.
    #[serde(default = "default_doc_types")]
    pub document_types: Vec<DocType>,
    /// In-store weight/price barcode templates, tried in order.
    #[serde(default = "default_templates")]
    pub weight_templates: Vec<WeightTemplate>,
    /// Where lookups go, per catalog.
    #[serde(default)]
    pub catalogs: Catalogs,
    /// Where lookups in generic catalogs go, by catalog name (`"reasons":
    /// "server"`); a catalog not named stays on the device.
    #[serde(default)]
    pub record_catalogs: std::collections::BTreeMap<String, Route>,
    /// Online lookup timeout and cache.
    #[serde(default)]
    pub online_lookup: OnlineLookup,
    /// Scanner intent profiles besides the shell's built-in ones.
    #[serde(default)]
    pub scanner_profiles: Vec<ScannerProfile>,
    /// Automatic sync.
    #[serde(default)]
    pub sync: SyncIntervals,
    /// UI options.
    #[serde(default)]
    pub ui: UiOptions,
}

fn schema_min() -> u32 {
    SCHEMA_MIN
}

impl Default for Config {
    fn default() -> Self {
        Config {
            schema: SCHEMA_MAX,
            document_types: default_doc_types(),
            weight_templates: default_templates(),
            catalogs: Catalogs::default(),
            record_catalogs: Default::default(),
            online_lookup: OnlineLookup::default(),
            scanner_profiles: Vec::new(),
            sync: SyncIntervals::default(),
            ui: UiOptions::default(),
        }
    }
}

fn default_templates() -> Vec<WeightTemplate> {
    vec![WeightTemplate::default_weight()]
}

fn doc_type(id: &str, name: &str, prefix: &str, allow_overscan: bool, require_cell: bool, allow_unknown: bool) -> DocType {
    DocType {
        id: id.into(),
        name: name.into(),
        prefix: prefix.into(),
        allow_overscan,
        unique_marks: true,
        require_cell,
        quantity_prompt: false,
        allow_unknown,
        allow_free: id != "picking",
        strict_gs1: false,
    }
}

/// The four standard types: receiving (over-scan and unknown goods allowed, so
/// what arrived is recorded as it is), picking (no over-scan, no unknown goods,
/// only from tasks: there is nothing to pick without an order),
/// transfer (cell required), inventory (count everything found).
pub fn default_doc_types() -> Vec<DocType> {
    vec![
        doc_type("receiving", "Приёмка", "ПР", true, false, true),
        doc_type("picking", "Отбор", "ОТ", false, false, false),
        doc_type("transfer", "Перемещение", "ПМ", true, true, false),
        doc_type("inventory", "Инвентаризация", "ИН", true, false, true),
    ]
}

impl Config {
    /// Parses and validates configuration JSON. The schema number is read first, so
    /// a configuration from a newer schema is refused as such, not as whatever field
    /// it happens to trip over.
    pub fn from_json(text: &str) -> Result<Config> {
        #[derive(Deserialize)]
        struct Schema {
            #[serde(default = "schema_min")]
            schema: u32,
        }
        // A JSON object, nothing else: serde would read an array as the fields in
        // order (an empty array would be "every default").
        if !text.trim_start().starts_with('{') {
            return Err(Error::Config(
                "the configuration must be a JSON object ({\"document_types\": […], …})".into(),
            ));
        }
        if let Ok(Schema { schema }) = serde_json::from_str::<Schema>(text) {
            check_schema(schema)?;
        }
        let c: Config = serde_json::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// Schema known; ids unique and non-empty; numbers in range.
    pub fn validate(&self) -> Result<()> {
        check_schema(self.schema)?;
        let lookup = &self.online_lookup;
        if !(100..=10_000).contains(&lookup.timeout_ms) {
            return Err(Error::Config(format!(
                "online_lookup.timeout_ms is {}; it must be 100 to 10000 (a scan must not wait longer)",
                lookup.timeout_ms
            )));
        }
        if lookup.retry_after_s > 3600 {
            return Err(Error::Config(format!(
                "online_lookup.retry_after_s is {}; it must be 0 to 3600 (an hour)",
                lookup.retry_after_s
            )));
        }
        if lookup.cache_ttl_s > 366 * 86_400 {
            return Err(Error::Config(format!(
                "online_lookup.cache_ttl_s is {}; it must be 0 to 31622400 (a year)",
                lookup.cache_ttl_s
            )));
        }
        if !(50..=300).contains(&self.ui.font_percent) {
            return Err(Error::Config(format!(
                "ui.font_percent is {}; it must be 50 to 300",
                self.ui.font_percent
            )));
        }
        for p in &self.scanner_profiles {
            if p.id.trim().is_empty() || p.action.trim().is_empty() || p.text_extra.trim().is_empty() {
                return Err(Error::Config(format!(
                    "scanner profile {:?} needs an id, an action and a text_extra",
                    p.id
                )));
            }
        }
        if self.document_types.is_empty() {
            return Err(Error::Config(
                "no document types: the terminal would have nothing to scan into".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for t in &self.document_types {
            if t.id.trim().is_empty() {
                return Err(Error::Config("a document type has an empty id".into()));
            }
            if !seen.insert(t.id.as_str()) {
                return Err(Error::Config(format!("document type {:?} is defined twice", t.id)));
            }
        }
        Ok(())
    }

    /// A document type by id.
    pub fn doc_type(&self, id: &str) -> Result<&DocType> {
        self.document_types
            .iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::UnknownDocumentType(id.to_string()))
    }
}

/// Refuses a schema this build cannot read, saying which side to update.
pub fn check_schema(schema: u32) -> Result<()> {
    if schema > SCHEMA_MAX {
        return Err(Error::Config(format!(
            "configuration schema {schema} is newer than this app reads (up to {SCHEMA_MAX}): update the app first"
        )));
    }
    if schema < SCHEMA_MIN {
        return Err(Error::Config(format!(
            "configuration schema {schema} is older than this app reads (from {SCHEMA_MIN}): republish the configuration"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_partial_json() {
        let c = Config::default();
        assert!(c.doc_type("picking").is_ok());
        assert!(!c.doc_type("picking").unwrap().allow_overscan);
        let c = Config::from_json(r#"{"document_types":[{"id":"audit","quantity_prompt":true}]}"#).unwrap();
        let t = c.doc_type("audit").unwrap();
        assert!(t.quantity_prompt && t.unique_marks && !t.allow_unknown && t.allow_free);
        assert!(
            !Config::default().doc_type("picking").unwrap().allow_free,
            "picking comes from tasks"
        );
        assert_eq!(c.weight_templates.len(), 1, "templates default when absent");
        assert!(matches!(c.doc_type("picking"), Err(Error::UnknownDocumentType(_))));
        assert!(Config::from_json(r#"{"document_types":[{"id":"a"},{"id":"a"}]}"#).is_err());
        assert!(Config::from_json(r#"{"document_types":[{"id":" "}]}"#).is_err());
        assert!(Config::from_json("[").is_err());
        assert!(
            matches!(Config::from_json("[]"), Err(Error::Config(_))),
            "an array is not a configuration"
        );
        assert!(Config::from_json(r#"[1, [{"id": "a"}]]"#).is_err());
    }

    #[test]
    fn schema_and_server_mode_sections() {
        let c = Config::from_json(r#"{"document_types":[{"id":"a"}]}"#).unwrap();
        assert_eq!(c.schema, SCHEMA_MIN);
        assert_eq!(c.catalogs.products, Route::Device);
        assert_eq!(c.online_lookup.timeout_ms, 1500);
        let c = Config::from_json(
            r#"{"schema":1,"document_types":[{"id":"a"}],"catalogs":{"products":"device_then_server","cells":"server"},
                "online_lookup":{"timeout_ms":800,"cache_ttl_s":60},"sync":{"periodic_minutes":5},
                "ui":{"font_percent":150},"scanner_profiles":[{"id":"x","action":"a.b","text_extra":"t"}],
                "a_field_of_a_later_app":true}"#,
        )
        .unwrap();
        assert_eq!(c.catalogs.products, Route::DeviceThenServer);
        assert!(c.catalogs.download(), "products still live on the device");
        assert_eq!(
            (
                c.online_lookup.timeout_ms,
                c.online_lookup.cache_ttl_s,
                c.online_lookup.retry_after_s
            ),
            (800, 60, 10)
        );
        assert_eq!(c.sync.periodic_minutes, 5);
        assert_eq!(c.scanner_profiles[0].action, "a.b");
        let newer = Config::from_json(r#"{"schema":2,"document_types":"changed shape"}"#).unwrap_err();
        assert!(newer.to_string().contains("newer than this app reads"), "{newer}");
        let older = Config::from_json(r#"{"schema":0,"document_types":[{"id":"a"}]}"#).unwrap_err();
        assert!(older.to_string().contains("older"), "{older}");
        for bad in [
            r#"{"online_lookup":{"timeout_ms":60000}}"#,
            r#"{"online_lookup":{"retry_after_s":18446744073709551615}}"#,
            r#"{"online_lookup":{"retry_after_s":3601}}"#,
            r#"{"online_lookup":{"cache_ttl_s":18446744073709551615}}"#,
            r#"{"ui":{"font_percent":10}}"#,
            r#"{"scanner_profiles":[{"id":"x","action":"","text_extra":"t"}]}"#,
        ] {
            assert!(matches!(Config::from_json(bad), Err(Error::Config(_))), "{bad}");
        }
    }
}
