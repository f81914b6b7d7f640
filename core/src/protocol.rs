//! The HTTP protocol between terminals, the accounting system and `tsd-server`,
//! defined once for both sides: the protocol version, the route paths, and every
//! JSON body either side sends. The terminal's client deserialises these types and
//! the server serialises the same ones — neither writes a body by hand — and the
//! golden tests below pin each one's wire form (docs/protocol.md and
//! docs/openapi.yaml describe the same shapes in prose).

use crate::catalog::{BarcodeHit, Cell};
use serde::{Deserialize, Serialize};

/// The protocol version this runtime speaks (sent as `TSD-Protocol`).
pub const PROTOCOL: u32 = 1;

/// Route paths.
pub mod routes {
    /// `GET`: the server's name and protocol range, without credentials.
    pub const HELLO: &str = "/v1/hello";
    /// `GET ?since=V`: catalog packages after version V ([`super::Offer`]).
    pub const DEVICE_CATALOG: &str = "/v1/device/catalog";
    /// `GET /{name}`: a package file (Range).
    pub const DEVICE_PACKAGES: &str = "/v1/device/packages";
    /// `GET ?after=N`: the device's task package.
    pub const DEVICE_TASKS: &str = "/v1/device/tasks";
    /// `POST`: one finished document ([`super::PushAnswer`]).
    pub const DEVICE_DOCUMENTS: &str = "/v1/device/documents";
    /// `POST`: the device's status ([`super::DeviceStatus`]).
    pub const DEVICE_STATUS: &str = "/v1/device/status";
    /// `GET ?since=V&schema=S`: a newer configuration package.
    pub const DEVICE_CONFIG: &str = "/v1/device/config";
    /// `GET ?k=…&cell=…`: online lookup ([`super::LookupAnswer`]).
    pub const DEVICE_LOOKUP: &str = "/v1/device/lookup";
    /// `GET ?catalog=…&id=…`: a generic catalog record ([`super::LookupAnswer`]).
    pub const DEVICE_RECORD: &str = "/v1/device/record";
    /// `POST` a print job, `GET` the device's jobs.
    pub const DEVICE_PRINT: &str = "/v1/device/print";
    /// `POST`: a log bundle ([`super::LogsReceived`]).
    pub const DEVICE_LOGS: &str = "/v1/device/logs";
    /// `GET ?current=N`: a newer app version.
    pub const DEVICE_APP: &str = "/v1/device/app";
    /// `POST`: redeem a setup code's enrolment token ([`super::Enrolled`]).
    pub const ENROLL: &str = "/v1/enroll";
}

/// `GET /v1/hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Server name and version.
    pub server: String,
    /// Lowest protocol it speaks.
    pub protocol_min: u32,
    /// Highest protocol it speaks.
    pub protocol_max: u32,
    /// Its latest catalog version.
    pub catalog_version: i64,
}

/// The server's answer to a pushed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushAnswer {
    /// Document id.
    pub doc_id: String,
    /// Server-side id.
    pub id: i64,
    /// `false` when this document revision was stored before (under any key).
    pub stored: bool,
}

/// One package to download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedPackage {
    /// File name.
    pub name: String,
    /// `snapshot` or `delta`.
    pub kind: String,
    /// Version it applies on.
    pub from: i64,
    /// Version after it.
    pub to: i64,
    /// Size in bytes.
    pub size: i64,
}

/// Catalog changes since a version (`GET /v1/device/catalog`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The server's latest version.
    pub version: i64,
    /// Packages in order.
    pub packages: Vec<OfferedPackage>,
    /// Why the server offers these (deltas, a snapshot and why, or nothing):
    /// for people reading logs; a terminal decides nothing from it.
    #[serde(default)]
    pub reason: String,
}

/// The server's answer to an online lookup (`GET /v1/device/lookup`) or a record
/// lookup (`GET /v1/device/record`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupAnswer {
    /// Index of the key (in the order sent) that named the product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<usize>,
    /// The product and packaging the code names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hit: Option<BarcodeHit>,
    /// The cell the label names (only when no product matched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<Cell>,
    /// The generic catalog record asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<serde_json::Value>,
}

/// `POST /v1/enroll` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// The setup code's single-use enrolment token.
    pub enrolment: String,
}

/// The server's answer to an enrolment.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    /// The device's name on the server.
    pub device: String,
    /// The device token (kept by the runtime, never shown or logged).
    pub token: String,
}

impl std::fmt::Debug for Enrolled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolled")
            .field("device", &self.device)
            .field("token", &"***")
            .finish()
    }
}

/// `POST /v1/device/status` body: the terminal's state as of a sync. The same
/// object, with `device`, `tasks_cursor` and `config_schema`, is the exchange
/// folder's `from-device/status.json`, which a USB bridge reports for the terminal
/// with `via: "usb"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStatus {
    /// The device (data folder) name; in `status.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The runtime's version.
    pub runtime: String,
    /// The protocol it speaks.
    pub protocol: u32,
    /// The catalog version it holds.
    pub catalog_version: i64,
    /// The task cursor (the last task sequence number taken); in `status.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks_cursor: Option<i64>,
    /// The configuration version in force.
    pub config_version: i64,
    /// The newest configuration schema it reads; in `status.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_schema: Option<u32>,
    /// Completed documents waiting to be sent.
    pub waiting: usize,
    /// Unix ms.
    pub at: i64,
    /// How the status reached the server (`usb` from a bridge), when not directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// Every error answer: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code (`bad_request`, `conflict`, `import`…).
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
}

/// `POST /v1/tasks` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TasksAdded {
    /// Tasks that were new.
    pub added: usize,
}

/// `DELETE /v1/tasks/{id}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TasksCancelled {
    /// Devices the task was withdrawn from.
    pub cancelled: Vec<String>,
}

/// `POST /v1/config` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigPublished {
    /// The configuration version in force after it.
    pub version: i64,
    /// False when it equals the one in force (no new version).
    pub changed: bool,
}

/// `POST /v1/catalog` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogPublished {
    /// The catalog version in force after the publish.
    pub version: i64,
    /// False when the file equals the version before (no new version was made).
    pub changed: bool,
    /// Snapshot package size in bytes.
    pub snapshot_bytes: i64,
    /// Delta package size in bytes, when one was built.
    pub delta_bytes: Option<i64>,
    /// What the exporter should know about the file (columns not used, no barcode
    /// column, products marked deleted…); empty when nothing.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// `POST /v1/device/logs` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogsReceived {
    /// The bundle's id on the server.
    pub id: i64,
}

/// `POST /v1/documents/{id}/ack` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acked {
    /// Server id of the document.
    pub id: i64,
    /// Always true: acknowledging twice is fine.
    pub acked: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Packaging, Product};

    /// Each body's wire form, pinned: a change here is a protocol change.
    #[test]
    fn golden_json() {
        fn pin<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(value: T, json: &str) {
            assert_eq!(serde_json::to_string(&value).unwrap(), json);
            assert_eq!(serde_json::from_str::<T>(json).unwrap(), value, "{json} reads back");
        }
        pin(
            Hello {
                server: "tsd-server 0.1.0".into(),
                protocol_min: 1,
                protocol_max: 1,
                catalog_version: 42,
            },
            r#"{"server":"tsd-server 0.1.0","protocol_min":1,"protocol_max":1,"catalog_version":42}"#,
        );
        pin(
            PushAnswer {
                doc_id: "ОТ-7".into(),
                id: 3,
                stored: false,
            },
            r#"{"doc_id":"ОТ-7","id":3,"stored":false}"#,
        );
        pin(
            Offer {
                version: 42,
                packages: vec![OfferedPackage {
                    name: "delta-v41-v42.tsdpkg".into(),
                    kind: "delta".into(),
                    from: 41,
                    to: 42,
                    size: 1200,
                }],
                reason: "1 delta(s) from v41".into(),
            },
            r#"{"version":42,"packages":[{"name":"delta-v41-v42.tsdpkg","kind":"delta","from":41,"to":42,"size":1200}],"reason":"1 delta(s) from v41"}"#,
        );
        pin(
            LookupAnswer {
                matched: Some(0),
                hit: Some(BarcodeHit {
                    product: Product {
                        id: "P1".into(),
                        code: "A-1".into(),
                        name: "Молоко".into(),
                        unit: "шт".into(),
                        weighted: false,
                        marked: true,
                    },
                    packaging: Some(Packaging {
                        id: "box".into(),
                        name: "Коробка".into(),
                        factor: 12_000,
                    }),
                }),
                cell: None,
                record: None,
            },
            r#"{"matched":0,"hit":{"product":{"id":"P1","code":"A-1","name":"Молоко","unit":"шт","weighted":false,"marked":true},"packaging":{"id":"box","name":"Коробка","factor_milli":12000}}}"#,
        );
        pin(LookupAnswer::default(), "{}");
        pin(
            LookupAnswer {
                cell: Some(Cell {
                    id: "A-01".into(),
                    name: "Ряд A".into(),
                }),
                ..Default::default()
            },
            r#"{"cell":{"id":"A-01","name":"Ряд A"}}"#,
        );
        pin(
            EnrolRequest {
                enrolment: "tsd_enr_x".into(),
            },
            r#"{"enrolment":"tsd_enr_x"}"#,
        );
        pin(
            Enrolled {
                device: "ТСД-5".into(),
                token: "tsd_dev_x".into(),
            },
            r#"{"device":"ТСД-5","token":"tsd_dev_x"}"#,
        );
        let status = DeviceStatus {
            device: None,
            runtime: "0.1.0".into(),
            protocol: 1,
            catalog_version: 42,
            tasks_cursor: None,
            config_version: 3,
            config_schema: None,
            waiting: 0,
            at: 1_795_664_830_493,
            via: None,
        };
        pin(
            status.clone(),
            r#"{"runtime":"0.1.0","protocol":1,"catalog_version":42,"config_version":3,"waiting":0,"at":1795664830493}"#,
        );
        pin(
            DeviceStatus {
                device: Some("ТСД-1".into()),
                tasks_cursor: Some(7),
                config_schema: Some(1),
                via: Some("usb".into()),
                ..status
            },
            r#"{"device":"ТСД-1","runtime":"0.1.0","protocol":1,"catalog_version":42,"tasks_cursor":7,"config_version":3,"config_schema":1,"waiting":0,"at":1795664830493,"via":"usb"}"#,
        );
        pin(
            ErrorBody {
                error: "conflict".into(),
                message: "no".into(),
            },
            r#"{"error":"conflict","message":"no"}"#,
        );
        pin(TasksAdded { added: 2 }, r#"{"added":2}"#);
        pin(
            TasksCancelled {
                cancelled: vec!["ТСД-1".into()],
            },
            r#"{"cancelled":["ТСД-1"]}"#,
        );
        pin(ConfigPublished { version: 4, changed: true }, r#"{"version":4,"changed":true}"#);
        pin(
            CatalogPublished {
                version: 2,
                changed: true,
                snapshot_bytes: 191,
                delta_bytes: None,
                warnings: vec!["column 4 «Цена» is not a catalog field".into()],
            },
            r#"{"version":2,"changed":true,"snapshot_bytes":191,"delta_bytes":null,"warnings":["column 4 «Цена» is not a catalog field"]}"#,
        );
        pin(LogsReceived { id: 9 }, r#"{"id":9}"#);
        pin(Acked { id: 17, acked: true }, r#"{"id":17,"acked":true}"#);
        assert!(!format!(
            "{:?}",
            Enrolled {
                device: "d".into(),
                token: "tsd_dev_secret".into()
            }
        )
        .contains("secret"));
    }
}
