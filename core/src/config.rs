//! Runtime configuration from the accounting system: document types with their
//! rules, and in-store weight templates. Stored as JSON in `journal.db`; sensible
//! defaults apply until a configuration is loaded.

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
}

fn yes() -> bool {
    true
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Document types.
    #[serde(default = "default_doc_types")]
    pub document_types: Vec<DocType>,
    /// In-store weight/price barcode templates, tried in order.
    #[serde(default = "default_templates")]
    pub weight_templates: Vec<WeightTemplate>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            document_types: default_doc_types(),
            weight_templates: default_templates(),
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
    }
}

/// The four standard types: receiving (over-scan and unknown goods allowed, so
/// what arrived is recorded as it is), picking (no over-scan, no unknown goods),
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
    /// Parses and validates configuration JSON.
    pub fn from_json(text: &str) -> Result<Config> {
        let c: Config = serde_json::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// Ids unique and non-empty.
    pub fn validate(&self) -> Result<()> {
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
        assert!(t.quantity_prompt && t.unique_marks && !t.allow_unknown);
        assert_eq!(c.weight_templates.len(), 1, "templates default when absent");
        assert!(matches!(c.doc_type("picking"), Err(Error::UnknownDocumentType(_))));
        assert!(Config::from_json(r#"{"document_types":[{"id":"a"},{"id":"a"}]}"#).is_err());
        assert!(Config::from_json(r#"{"document_types":[{"id":" "}]}"#).is_err());
        assert!(Config::from_json("[").is_err());
    }
}
