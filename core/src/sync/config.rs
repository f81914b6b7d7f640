//! Configuration packages (kind 5): one record, the configuration JSON; the
//! header's `to_version` is its version. The terminal validates it and applies it
//! in one journal transaction with its version; an invalid one is refused and the
//! configuration in force stays. An older or equal version changes nothing, so a
//! package that arrives twice, or late by another path, is harmless.

use crate::error::{Error, Result};
use crate::package::{Header, Kind, PackageReader, PackageWriter};
use std::path::Path;

/// Writes a configuration package at `out`. The JSON is validated first.
pub fn write_package(out: &Path, json: &str, version: i64, producer: &str, key: Option<&[u8]>) -> Result<Header> {
    crate::config::Config::from_json(json)?;
    if version <= 0 {
        return Err(Error::InvalidArgument(format!(
            "configuration version {version}: versions start at 1"
        )));
    }
    let mut header = Header::new(Kind::Configuration, producer, 1);
    header.package_id = format!("config-v{version}");
    header.to_version = version;
    let mut w = PackageWriter::create(out, &header, key)?;
    w.write(&json.to_string())?;
    w.finish()?;
    header.signed = key.is_some();
    Ok(header)
}

/// The configuration JSON and version a package carries.
pub fn read_package(reader: &PackageReader) -> Result<(String, i64)> {
    if reader.header().kind != Kind::Configuration {
        return Err(Error::InvalidArgument(format!(
            "{}: a {:?} package is not a configuration",
            reader.path().display(),
            reader.header().kind
        )));
    }
    let mut json = None;
    for record in reader.records::<String>()? {
        json = Some(record?);
    }
    let json = json.ok_or_else(|| Error::Config(format!("{}: the package holds no configuration", reader.path().display())))?;
    Ok((json, reader.header().to_version))
}
