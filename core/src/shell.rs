//! What the operator's app needs from the runtime beyond scanning and syncing: a
//! few values the shell keeps across process death (the screen and document in
//! use, the sync mode, the exchange folder, the scanner profile), a product card,
//! the kept server as it may be shown (never its token), and what a setup code
//! would do before the operator agrees to it.
//!
//! The values live in the journal's `config` table under `shell.<key>`, so they are
//! as durable as a scan and are restored by opening the runtime again — the shell
//! holds no state of its own that a killed process could lose.

use crate::catalog::{self, Packaging, Product};
use crate::error::Result;
use crate::runtime::lock;
use crate::setup::SetupCode;
use crate::Runtime;
use serde::Serialize;

/// A product as the product-info screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductCard {
    /// The product.
    pub product: Product,
    /// Its packagings, smallest first.
    pub packagings: Vec<Packaging>,
    /// Its barcodes, base unit first.
    pub barcodes: Vec<CardBarcode>,
}

/// One barcode on a product card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardBarcode {
    /// As printed on the label.
    pub barcode: String,
    /// Packaging id; `None` for the base unit.
    pub packaging: Option<String>,
}

/// The kept server as the settings screen may show it: never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerInfo {
    /// Base URL.
    pub url: String,
    /// A device token is kept (the terminal is enrolled).
    pub enrolled: bool,
    /// The pinned certificate fingerprint, if any.
    pub pin_sha256: Option<String>,
    /// An extra CA certificate is trusted.
    pub custom_ca: bool,
}

/// What scanning a setup code would do, for the operator to confirm first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetupInfo {
    /// The server the terminal would use.
    pub url: String,
    /// The code pins the server's certificate.
    pub pinned: bool,
}

/// Reads a setup code without using it (nothing is contacted or stored).
pub fn setup_info(scan: &str) -> Result<SetupInfo> {
    let code = SetupCode::parse(scan)?;
    Ok(SetupInfo {
        url: code.url,
        pinned: code.pin_sha256.is_some(),
    })
}

impl Runtime {
    /// A value the shell kept under `key`, or `None`.
    pub fn shell_value(&self, key: &str) -> Result<Option<String>> {
        crate::state::shell_value(&lock(&self.journal), key)
    }

    /// Keeps `value` under `key` durably (`None` forgets it).
    pub fn set_shell_value(&self, key: &str, value: Option<&str>) -> Result<()> {
        self.write_journal(|tx| crate::state::set_shell_value(tx, key, value))
    }

    /// The product card of `id` from the terminal's catalog, or `None`.
    pub fn product_card(&self, id: &str) -> Result<Option<ProductCard>> {
        let mut reader = lock(&self.catalog_reader);
        let conn = reader.conn()?;
        let Some(product) = catalog::product_by_id(conn, id)? else {
            return Ok(None);
        };
        let packagings = catalog::packagings_of(conn, id)?;
        let barcodes = catalog::barcodes_of(conn, id)?
            .into_iter()
            .map(|(barcode, packaging)| CardBarcode { barcode, packaging })
            .collect();
        Ok(Some(ProductCard {
            product,
            packagings,
            barcodes,
        }))
    }

    /// The kept server without its token, or `None`.
    pub fn server_info(&self) -> Option<ServerInfo> {
        self.server().map(|s| ServerInfo {
            url: s.url,
            enrolled: !s.token.is_empty(),
            pin_sha256: s.pin_sha256,
            custom_ca: s.ca_pem.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn shell_values_survive_a_reopen_and_keys_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::open(&dir.path().join("t")).unwrap();
        assert_eq!(rt.shell_value("screen").unwrap(), None);
        rt.set_shell_value("screen", Some("doc:ПР-1")).unwrap();
        rt.set_shell_value("mode", Some("folder")).unwrap();
        rt.set_shell_value("mode", None).unwrap();
        drop(rt);
        let rt = Runtime::open(&dir.path().join("t")).unwrap();
        assert_eq!(rt.shell_value("screen").unwrap().as_deref(), Some("doc:ПР-1"));
        assert_eq!(rt.shell_value("mode").unwrap(), None);
        for bad in ["", "a b", "runtime'--", &"k".repeat(65)] {
            assert!(matches!(rt.shell_value(bad), Err(Error::InvalidArgument(_))), "{bad:?}");
        }
        let big = "x".repeat(crate::state::SHELL_VALUE_MAX + 1);
        assert!(matches!(rt.set_shell_value("big", Some(&big)), Err(Error::InvalidArgument(_))));
        // The shell's keys cannot reach the runtime's own rows.
        rt.set_shell_value("server", Some("x")).unwrap();
        assert!(rt.server().is_none());
    }

    #[test]
    fn a_product_card_lists_packagings_and_printed_barcodes() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::open(&dir.path().join("t")).unwrap();
        let csv = dir.path().join("c.csv");
        std::fs::write(
            &csv,
            "product_id,code,name,packaging_id,packaging_name,factor,barcode\n\
             P1,A-1,Молоко,,,,4601234567893\n\
             P1,A-1,Молоко,box,Коробка,12,14601234567890\n\
             P1,A-1,Молоко,,,,46009333\n\
             P1,A-1,Молоко,,,,INT-77\n",
        )
        .unwrap();
        rt.import_catalog(&csv, catalog::Format::Csv, &mut |_| true).unwrap();
        let card = rt.product_card("P1").unwrap().unwrap();
        assert_eq!(card.product.name, "Молоко");
        assert_eq!(card.packagings.len(), 1);
        let printed: Vec<_> = card.barcodes.iter().map(|b| (b.barcode.as_str(), b.packaging.as_deref())).collect();
        assert_eq!(
            printed,
            [
                ("46009333", None),
                ("4601234567893", None),
                ("INT-77", None),
                ("14601234567890", Some("box"))
            ]
        );
        assert_eq!(rt.product_card("P2").unwrap(), None);
    }

    #[test]
    fn setup_info_reads_without_using() {
        let info = setup_info("]Q1tsd://setup?u=https%3A%2F%2Ftsd.local%3A8480&e=abc&p=".to_string().as_str());
        assert!(info.is_err(), "an empty pin is refused");
        let info = setup_info("tsd://setup?u=http%3A%2F%2F127.0.0.1%3A8480&e=abc").unwrap();
        assert_eq!(
            info,
            SetupInfo {
                url: "http://127.0.0.1:8480".into(),
                pinned: false
            }
        );
        assert!(setup_info("4601234567893").is_err());
    }
}
