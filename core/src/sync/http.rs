//! The terminal's HTTP client: `ureq` over rustls, trusting Mozilla's roots
//! (`webpki-roots`) plus an optional custom CA, or — when a certificate fingerprint
//! is pinned — exactly the server certificate with that SHA-256.
//!
//! Every answer is classified once: 2xx is data; 408, 429 and 5xx are transient
//! ([`Error::Network`], with `Retry-After` when the server sent one); 426 is a
//! protocol mismatch ([`Error::Protocol`]); other 4xx are refusals
//! ([`Error::Server`]).

use super::tls::{tls_config, Tls};
use crate::catalog::BarcodeKey;
use crate::error::{Error, Result};
use crate::protocol::{routes, EnrolRequest, Enrolled, Hello, LookupAnswer, Offer, PushAnswer, PROTOCOL};
use serde::de::DeserializeOwned;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;
use ureq::unversioned::transport::Connector;

/// How to reach the sync server.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Base URL, e.g. `https://tsd.example.local:8480`.
    pub url: String,
    /// The device token (`tsd-server device add`).
    pub token: String,
    /// An extra trusted CA (PEM), for warehouses that run their own.
    pub ca_pem: Option<Vec<u8>>,
    /// SHA-256 of the server certificate (hex, `:` allowed). When set, exactly that
    /// certificate is accepted, whoever issued it.
    pub pin_sha256: Option<String>,
    /// Connect and response timeout.
    pub timeout: Duration,
    /// Retry schedule after failures.
    pub backoff: Backoff,
}

impl ServerSettings {
    /// Settings with the default timeouts and backoff.
    pub fn new(url: &str, token: &str) -> ServerSettings {
        ServerSettings {
            url: url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            ca_pem: None,
            pin_sha256: None,
            timeout: Duration::from_secs(20),
            backoff: Backoff::default(),
        }
    }
}

/// Exponential backoff with jitter: after the n-th failure in a row the next
/// attempt waits a random time in `[d/2, d]` with `d = min(cap, base·2^(n-1))`, or
/// the server's `Retry-After` if that is longer. It never gives up.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Delay after the first failure.
    pub base: Duration,
    /// Longest delay.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// Delay before the next attempt after `failures` failures in a row.
    pub fn delay(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.base.saturating_mul(1u32 << failures.saturating_sub(1).min(20)).min(self.cap);
        let half = exp / 2;
        let jittered = half + Duration::from_nanos(fastrand::u64(0..=half.as_nanos().min(u64::MAX as u128) as u64));
        retry_after.map_or(jittered, |r| r.max(jittered))
    }
}

/// A `Retry-After` value in seconds (the HTTP-date form is not used by our
/// server and is ignored); any number of seconds, however large, is a duration.
pub fn retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Maps a transport failure: TLS refusals are [`Error::Tls`], the rest is a
/// transient [`Error::Network`].
fn transport_error(step: &'static str, e: ureq::Error) -> Error {
    let tls = match &e {
        ureq::Error::Rustls(r) => Some(r.to_string()),
        ureq::Error::Tls(t) => Some(t.to_string()),
        ureq::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .map(|r| r.to_string()),
        _ => None,
    };
    match tls {
        Some(message) => Error::Tls { step, message },
        None => Error::Network {
            step,
            message: e.to_string(),
            retry_after: None,
        },
    }
}

/// An HTTP answer.
pub(crate) type Response = ureq::http::Response<ureq::Body>;

/// What [`Client::probe`] learnt of the server.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Its hello.
    pub hello: Hello,
    /// Its clock when it answered (the `Date` header, whole seconds), ms since
    /// the epoch.
    pub server_time_ms: Option<i64>,
    /// How long the answer took.
    pub round_trip: Duration,
}

/// A client for one server.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

impl Client {
    /// A client with the settings' TLS trust and timeouts.
    pub fn new(settings: &ServerSettings) -> Result<Client> {
        if !(settings.url.starts_with("http://") || settings.url.starts_with("https://")) {
            return Err(Error::InvalidArgument(format!(
                "server URL {:?} must start with http:// or https://",
                settings.url
            )));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(settings.timeout))
            .timeout_recv_response(Some(settings.timeout))
            .timeout_send_body(Some(settings.timeout.saturating_mul(3)))
            .timeout_recv_body(Some(Duration::from_secs(600)))
            .user_agent(concat!("tsd-runtime/", env!("CARGO_PKG_VERSION")))
            .build();
        use ureq::unversioned::transport::TcpConnector;
        let connector = ().chain(TcpConnector::default()).chain(Tls(tls_config(settings)?));
        let agent = ureq::Agent::with_parts(config, connector, ureq::unversioned::resolver::DefaultResolver::default());
        Ok(Client {
            agent,
            base: settings.url.trim_end_matches('/').to_string(),
            auth: format!("Bearer {}", settings.token),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Classifies an answer; see the module docs.
    pub(crate) fn check(step: &'static str, result: std::result::Result<Response, ureq::Error>) -> Result<Response> {
        let mut resp = result.map_err(|e| transport_error(step, e))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after);
        let body = resp.body_mut().with_config().limit(64 << 10).read_to_string().unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
            .unwrap_or_else(|| body.chars().take(200).collect());
        Err(match status {
            426 => Error::Protocol(message),
            408 | 429 | 500..=599 => Error::Network {
                step,
                message: format!("server answered {status}: {message}"),
                retry_after,
            },
            _ => Error::Server { step, status, message },
        })
    }

    pub(crate) fn get(&self, step: &'static str, path: &str, headers: &[(&str, &str)]) -> Result<Response> {
        let mut req = self
            .agent
            .get(self.url(path))
            .header("Authorization", &self.auth)
            .header("TSD-Protocol", PROTOCOL.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::check(step, req.call())
    }

    pub(crate) fn post(
        &self,
        step: &'static str,
        path: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: impl ureq::AsSendBody,
    ) -> Result<Response> {
        let mut req = self
            .agent
            .post(self.url(path))
            .header("Authorization", &self.auth)
            .header("TSD-Protocol", PROTOCOL.to_string())
            .header("Content-Type", content_type);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::check(step, req.send(body))
    }

    pub(crate) fn json<T: DeserializeOwned>(step: &'static str, mut resp: Response) -> Result<T> {
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(16 << 20)
            .read_to_vec()
            .map_err(|e| transport_error(step, e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Server {
            step,
            status: 200,
            message: format!("not the expected JSON: {e}"),
        })
    }

    /// `GET /v1/hello`: checks that the server speaks our protocol.
    pub fn hello(&self) -> Result<Hello> {
        self.probe().map(|p| p.hello)
    }

    /// [`Client::hello`], also telling the server's clock (its `Date` header)
    /// and how long the answer took: what `tsd doctor` reports.
    pub fn probe(&self) -> Result<Probe> {
        let started = std::time::Instant::now();
        let resp = self.get("contacting the server", routes::HELLO, &[])?;
        let round_trip = started.elapsed();
        let server_time_ms = resp
            .headers()
            .get("date")
            .and_then(|v| v.to_str().ok())
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64);
        let hello: Hello = Self::json("contacting the server", resp)?;
        if !(hello.protocol_min..=hello.protocol_max).contains(&PROTOCOL) {
            return Err(Error::Protocol(format!(
                "this terminal speaks protocol {PROTOCOL}, the server {}..{}",
                hello.protocol_min, hello.protocol_max
            )));
        }
        Ok(Probe {
            hello,
            server_time_ms,
            round_trip,
        })
    }

    /// `POST /v1/device/documents`: pushes one finished-document package, streamed
    /// from its file.
    pub fn push(&self, package: &Path, idempotency_key: &str) -> Result<PushAnswer> {
        let step = "sending a document";
        let file = std::fs::File::open(package).map_err(|source| Error::Io {
            path: package.to_path_buf(),
            source,
        })?;
        let resp = self.post(
            step,
            routes::DEVICE_DOCUMENTS,
            "application/vnd.tsd.package",
            &[("Idempotency-Key", idempotency_key)],
            file,
        )?;
        Self::json(step, resp)
    }

    /// `GET /v1/device/catalog?since=V`.
    pub fn offer(&self, since: i64) -> Result<Offer> {
        let step = "asking for catalog changes";
        Self::json(step, self.get(step, &format!("{}?since={since}", routes::DEVICE_CATALOG), &[])?)
    }

    /// `GET /v1/device/tasks?after=N`: streams the task package into `dest`;
    /// `None` when there is none. Returns the bytes received.
    pub fn tasks(&self, after: i64, dest: &Path) -> Result<Option<u64>> {
        self.fetch_package("fetching task documents", &format!("{}?after={after}", routes::DEVICE_TASKS), dest)
    }

    /// `GET /v1/device/config?since=V`: the configuration package newer than V into
    /// `dest`, or `None`.
    pub fn config(&self, since: i64, dest: &Path) -> Result<Option<u64>> {
        let schema = crate::config::SCHEMA_MAX;
        self.fetch_package(
            "fetching the configuration",
            &format!("{}?since={since}&schema={schema}", routes::DEVICE_CONFIG),
            dest,
        )
    }

    /// GET that answers 204 (nothing) or a package, streamed into `dest`.
    fn fetch_package(&self, step: &'static str, path: &str, dest: &Path) -> Result<Option<u64>> {
        let mut resp = self.get(step, path, &[])?;
        if resp.status().as_u16() == 204 {
            return Ok(None);
        }
        let io = |source| Error::Io {
            path: dest.to_path_buf(),
            source,
        };
        let mut file = std::fs::File::create(dest).map_err(io)?;
        let mut reader = resp.body_mut().with_config().limit(1 << 30).reader();
        let n = std::io::copy(&mut reader, &mut file).map_err(|e| Error::Network {
            step,
            message: format!("connection lost: {e}"),
            retry_after: None,
        })?;
        file.sync_all().map_err(io)?;
        Ok(Some(n))
    }

    /// `GET /v1/device/lookup?k=KEY…&cell=LABEL`: asks the server's catalog (HYDB).
    /// The whole request — connect, TLS, answer — is bounded by `timeout`, so a
    /// server that accepts and never answers costs a scan no more than that.
    pub fn lookup(&self, keys: &[BarcodeKey], cell: Option<&str>, timeout: Duration) -> Result<LookupAnswer> {
        let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
        let mut query: Vec<(&str, &str)> = keys.iter().map(|k| ("k", k.as_str())).collect();
        query.extend(cell.map(|label| ("cell", label)));
        self.lookup_query("looking the code up on the server", routes::DEVICE_LOOKUP, &query, timeout)
    }

    /// `GET /v1/device/record?catalog=C&id=I`: a generic catalog record, bounded by
    /// `timeout` like [`Client::lookup`].
    pub fn record(&self, catalog: &str, id: &str, timeout: Duration) -> Result<LookupAnswer> {
        self.lookup_query(
            "looking a record up on the server",
            routes::DEVICE_RECORD,
            &[("catalog", catalog), ("id", id)],
            timeout,
        )
    }

    /// A GET of `path` with `query`, the whole request bounded by `timeout`.
    fn lookup_query(&self, step: &'static str, path: &str, query: &[(&str, &str)], timeout: Duration) -> Result<LookupAnswer> {
        let mut req = self
            .agent
            .get(self.url(path))
            .header("Authorization", &self.auth)
            .header("TSD-Protocol", PROTOCOL.to_string());
        for (k, v) in query {
            req = req.query(*k, *v);
        }
        let req = req.config().timeout_global(Some(timeout)).build();
        Self::json(step, Self::check(step, req.call())?)
    }

    /// `POST /v1/device/logs`: a log bundle package, streamed from its file.
    /// Returns the server's id of it.
    pub fn send_logs(&self, bundle: &Path) -> Result<i64> {
        let step = "sending logs";
        let file = std::fs::File::open(bundle).map_err(|source| Error::Io {
            path: bundle.to_path_buf(),
            source,
        })?;
        let answer: crate::protocol::LogsReceived = Self::json(
            step,
            self.post(step, routes::DEVICE_LOGS, "application/vnd.tsd.package", &[], file)?,
        )?;
        Ok(answer.id)
    }

    /// `POST /v1/enroll`: redeems a setup code's enrolment token for a device token.
    pub fn enroll(&self, enrolment: &str) -> Result<Enrolled> {
        let step = "enrolling with the setup code";
        let body = serde_json::to_string(&EnrolRequest {
            enrolment: enrolment.to_string(),
        })
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let mut req = self
            .agent
            .post(self.url(routes::ENROLL))
            .header("TSD-Protocol", PROTOCOL.to_string())
            .header("Content-Type", "application/json");
        req = req.header("Accept", "application/json");
        Self::json(step, Self::check(step, req.send(body))?)
    }

    /// `POST /v1/device/status`: the terminal's own [`crate::protocol::DeviceStatus`],
    /// or (from the USB bridge) the terminal's `status.json` as it wrote it.
    pub fn status(&self, status: &impl serde::Serialize) -> Result<()> {
        let body = serde_json::to_string(status).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        self.post("reporting status", routes::DEVICE_STATUS, "application/json", &[], body)
            .map(|_| ())
    }

    /// Downloads a package to `dest`, resuming a `dest.part` left by an earlier,
    /// interrupted attempt (HTTP Range, `If-Range` on the package name). `progress`
    /// gets bytes done and total; returning `false` cancels (the part file stays
    /// for the next attempt).
    pub fn download(&self, name: &str, size: u64, dest: &Path, progress: &mut dyn FnMut(u64, u64) -> bool) -> Result<u64> {
        self.download_from(routes::DEVICE_PACKAGES, name, size, dest, progress)
    }

    /// [`Client::download`] of the file `name` under the route `prefix` (packages,
    /// app updates).
    pub fn download_from(
        &self,
        prefix: &str,
        name: &str,
        size: u64,
        dest: &Path,
        progress: &mut dyn FnMut(u64, u64) -> bool,
    ) -> Result<u64> {
        let step = "downloading a file";
        let part = dest.with_file_name(format!("{name}.part"));
        let io = |source| Error::Io {
            path: part.clone(),
            source,
        };
        let mut have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        if have > size {
            have = 0;
        }
        let mut received = 0u64;
        if have < size {
            let range = format!("bytes={have}-");
            let etag = format!("\"{name}\"");
            let headers: Vec<(&str, &str)> = if have > 0 {
                vec![("Range", &range), ("If-Range", &etag)]
            } else {
                vec![]
            };
            let mut resp = self.get(step, &format!("{prefix}/{name}"), &headers)?;
            if resp.status().as_u16() != 206 {
                have = 0; // the whole file comes again
            }
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(false)
                .open(&part)
                .map_err(io)?;
            file.set_len(have).map_err(io)?;
            use std::io::Seek;
            file.seek(std::io::SeekFrom::Start(have)).map_err(io)?;
            let mut reader = resp.body_mut().with_config().limit(size + 1).reader();
            let mut buf = vec![0u8; 64 << 10];
            loop {
                let n = reader.read(&mut buf).map_err(|e| Error::Network {
                    step,
                    message: format!("{name}: connection lost after {} bytes: {e}", have),
                    retry_after: None,
                })?;
                if n == 0 {
                    break;
                }
                file.write_all(&buf[..n]).map_err(io)?;
                have += n as u64;
                received += n as u64;
                if !progress(have, size) {
                    file.sync_all().map_err(io)?;
                    return Err(Error::Cancelled);
                }
            }
            file.sync_all().map_err(io)?;
        }
        if have != size {
            let _ = std::fs::remove_file(&part);
            return Err(Error::Network {
                step,
                message: format!("{name}: got {have} bytes of {size}"),
                retry_after: None,
            });
        }
        std::fs::rename(&part, dest).map_err(|source| Error::Io {
            path: dest.to_path_buf(),
            source,
        })?;
        Ok(received)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        let b = Backoff {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(60),
        };
        for _ in 0..100 {
            let d1 = b.delay(1, None);
            assert!(d1 >= Duration::from_secs(1) && d1 <= Duration::from_secs(2), "{d1:?}");
            let d4 = b.delay(4, None);
            assert!(d4 >= Duration::from_secs(8) && d4 <= Duration::from_secs(16), "{d4:?}");
            let d30 = b.delay(30, None);
            assert!(d30 >= Duration::from_secs(30) && d30 <= Duration::from_secs(60), "{d30:?}");
            assert!(b.delay(1, Some(Duration::from_secs(7))) == Duration::from_secs(7));
            assert!(b.delay(6, Some(Duration::from_secs(1))) >= Duration::from_secs(30));
        }
    }
}
