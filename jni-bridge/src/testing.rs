//! Test-only errors: one of each kind, by code, so the JVM tests can check that
//! every error reaches Kotlin as its own exception class.

use crate::errors::BridgeError;
use std::path::PathBuf;
use tsd_core::Error as E;

/// Every code `error_for` knows.
pub const CODES: &[&str] = &[
    "schema_too_new",
    "corrupt_database",
    "database",
    "io",
    "import",
    "barcode",
    "document_not_found",
    "document_completed",
    "unknown_document_type",
    "nothing_to_undo",
    "config",
    "invalid_argument",
    "package",
    "cancelled",
    "network",
    "server",
    "protocol",
    "tls",
    "sync_in_progress",
    "bad_update",
    "closed_handle",
];

/// An error with this code (an `InvalidArgument` naming the code if unknown).
pub fn error_for(code: &str) -> BridgeError {
    let p = || PathBuf::from("/data/tsd/test");
    BridgeError::Core(match code {
        "schema_too_new" => E::SchemaTooNew {
            path: p(),
            found: 9,
            supported: 2,
        },
        "corrupt_database" => E::Corrupt {
            path: p(),
            reason: "not a database".into(),
        },
        "database" => E::Sqlite {
            step: "testing",
            source: rusqlite_error(),
        },
        "io" => E::Io {
            path: p(),
            source: std::io::Error::other("disk gone"),
        },
        "import" => E::Import {
            path: p(),
            line: 7,
            reason: "bad row".into(),
        },
        "barcode" => match tsd_core::barcode::parse("4601234567890", &[]) {
            Err(b) => E::Barcode(b),
            Ok(_) => E::InvalidArgument("expected a bad check digit".into()),
        },
        "document_not_found" => E::DocumentNotFound("D-1".into()),
        "document_completed" => E::DocumentCompleted("D-1".into()),
        "unknown_document_type" => E::UnknownDocumentType("nope".into()),
        "nothing_to_undo" => E::NothingToUndo("D-1".into()),
        "config" => E::Config("bad".into()),
        "invalid_argument" => E::InvalidArgument("bad".into()),
        "package" => E::Package(tsd_core::package::PackageError::Refused {
            path: p(),
            reason: tsd_core::package::Refusal::Truncated,
        }),
        "cancelled" => E::Cancelled,
        "bad_update" => E::BadUpdate {
            path: p(),
            reason: "app update not offered for install: SHA-256 does not match".into(),
        },
        "network" => E::Network {
            step: "testing",
            message: "connection refused".into(),
            retry_after: None,
        },
        "server" => E::Server {
            step: "testing",
            status: 401,
            message: "unknown device token".into(),
        },
        "protocol" => E::Protocol("update the app".into()),
        "tls" => E::Tls {
            step: "testing",
            message: "unknown issuer".into(),
        },
        "sync_in_progress" => E::SyncInProgress,
        "closed_handle" => return BridgeError::ClosedHandle(0),
        other => E::InvalidArgument(format!("no test error for code {other:?}")),
    })
}

fn rusqlite_error() -> rusqlite::Error {
    rusqlite::Error::InvalidQuery
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::{class_of, CLASSES};

    /// Every code maps to its own class, every class is cached, and the code that
    /// reaches Kotlin is the one asked for.
    #[test]
    fn every_error_has_its_class() {
        let mut seen = std::collections::HashSet::new();
        for code in CODES {
            let (class, got) = class_of(&error_for(code));
            let want = if *code == "barcode" { "bad_check_digit" } else { code };
            assert_eq!(got, want);
            assert!(CLASSES.contains(&class), "{class} not cached");
            assert!(seen.insert(class), "{class} used twice");
        }
    }
}
