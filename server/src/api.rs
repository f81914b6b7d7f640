//! The HTTP API (see `docs/openapi.yaml` and `docs/protocol.md`).
//!
//! Device routes (`/v1/device/...`) take `Authorization: Bearer <device token>` and
//! `TSD-Protocol: <n>`; integration routes take `Authorization: Bearer <integration
//! key>`. Errors are JSON `{"error": code, "message": text}`.

use crate::error::{Error, Result};
use crate::store::{Device, Pushed};
use crate::{Server, PROTOCOL_MAX, PROTOCOL_MIN};
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, RawQuery, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;
use tsd_core::catalog::Format;
use tsd_core::protocol::{
    routes, Acked, ConfigPublished, EnrolRequest, Enrolled, ErrorBody, Hello, LogsReceived, PushAnswer, TasksAdded, TasksCancelled,
};

/// Request body limits, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A catalog upload (`POST /v1/catalog`).
    pub catalog: u64,
    /// A task upload (`POST /v1/tasks`).
    pub tasks: u64,
    /// One finished document (`POST /v1/device/documents`).
    pub document: u64,
    /// A status report.
    pub status: u64,
    /// How long a client has to send a request's headers (and a new connection its
    /// first request, and a TLS client its handshake).
    pub header_timeout: std::time::Duration,
    /// A body that sends nothing for this long is cut off (408).
    pub body_idle: std::time::Duration,
    /// Open connections beyond this are closed at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            catalog: 4 << 30,
            tasks: 64 << 20,
            document: 32 << 20,
            status: 64 << 10,
            header_timeout: std::time::Duration::from_secs(15),
            body_idle: std::time::Duration::from_secs(30),
            max_connections: 4096,
        }
    }
}

/// Shared state of the handlers.
pub struct App {
    /// The server.
    pub server: Server,
    /// Body limits.
    pub limits: Limits,
    /// How the 1C exchange is served.
    pub site: crate::site::SiteSettings,
    /// Prometheus metrics (`/metrics`).
    pub metrics: crate::metrics::Metrics,
    /// True when `/metrics` is served on an address of its own
    /// (`--metrics-listen`): the main listener then answers 404 there.
    pub metrics_elsewhere: bool,
    /// True when the admin console is served on an address of its own
    /// (`--admin-listen`): the main listener then has no `/admin`.
    pub console_elsewhere: bool,
    /// Served over TLS (the console's cookie is then `Secure`).
    pub tls: bool,
    /// The TLS certificate (PEM), which setup codes made in the console pin.
    pub tls_cert: Option<Vec<u8>>,
    /// The console's state between requests (its running publish).
    pub console: crate::console::ConsoleState,
}

type St = State<Arc<App>>;

/// The router with every route.
pub fn router(app: Arc<App>) -> Router {
    let console = if app.console_elsewhere {
        Router::new()
    } else {
        crate::console::router()
    };
    Router::new()
        .route(routes::HELLO, get(hello))
        .route(routes::DEVICE_CATALOG, get(device_catalog))
        .route("/v1/device/packages/{name}", get(device_package))
        .route(routes::DEVICE_TASKS, get(device_tasks))
        .route(routes::DEVICE_DOCUMENTS, post(device_push))
        .route(routes::DEVICE_STATUS, post(device_status))
        .route(routes::DEVICE_CONFIG, get(device_config))
        .route(routes::DEVICE_LOOKUP, get(device_lookup))
        .route(routes::DEVICE_RECORD, get(device_record))
        .route(routes::DEVICE_PRINT, post(device_print).get(device_print_statuses))
        .route("/v1/print", get(list_prints))
        .route(routes::DEVICE_LOGS, post(device_logs))
        .route(routes::ENROLL, post(enroll))
        .route(routes::DEVICE_APP, get(device_app))
        .route("/v1/device/app/{name}", get(device_app_file))
        .route("/v1/logs", get(list_logs))
        .route("/v1/config", post(publish_config))
        .route("/v1/catalog", post(publish_catalog))
        .route("/v1/tasks", post(add_tasks))
        .route("/v1/tasks/{id}", axum::routing::delete(cancel_task))
        .route("/v1/documents", get(list_documents))
        .route("/v1/documents/{id}", get(get_document))
        .route("/v1/documents/{id}/ack", post(ack_document))
        .route("/v1/devices", get(list_devices))
        .route("/1c/exchange", get(crate::site::exchange).post(crate::site::exchange))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(console)
        .fallback(|| async { Error::NotFound("no such route".into()) })
        .layer(axum::middleware::from_fn_with_state(app.clone(), refuse_early))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn_with_state(app.clone(), track))
        .with_state(app)
}

/// Counts every answer in the metrics: its route pattern (never the raw path),
/// method, status, time to headers and body length.
async fn track(State(app): St, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = req.method().as_str().to_string();
    let resp = next.run(req).await;
    let bytes = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    app.metrics
        .request(&route, &method, resp.status().as_u16(), started.elapsed().as_secs_f64(), bytes);
    resp
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the database answers.
async fn readyz(State(app): St) -> Response {
    match blocking(move || app.server.store().ping()).await {
        Ok(()) => "ready\n".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
    }
}

/// `/metrics` on the main listener, unless it is served elsewhere.
async fn metrics(State(app): St) -> Result<Response> {
    if app.metrics_elsewhere {
        return Err(Error::NotFound("metrics are served on the --metrics-listen address".into()));
    }
    exposition(app).await
}

/// The router of a `--metrics-listen` address: `/metrics` only.
/// The admin console alone (`--admin-listen`).
pub fn console_router(app: Arc<App>) -> Router {
    crate::console::router()
        .fallback(|| async { Redirect::to("/admin/terminals") })
        .with_state(app)
}

/// `/metrics` alone (`--metrics-listen`).
pub fn metrics_router(app: Arc<App>) -> Router {
    Router::new()
        .route("/metrics", get(|State(app): St| exposition(app)))
        .with_state(app)
}

/// The Prometheus text exposition.
async fn exposition(app: Arc<App>) -> Result<Response> {
    let app2 = app.clone();
    let (jobs, seen) = blocking(move || {
        app2.server.flush_seen()?;
        let store = app2.server.store();
        Ok((store.print_job_counts()?, store.devices_seen_since(crate::now_ms() - 3_600_000)?))
    })
    .await?;
    let body = app.metrics.render(&jobs, seen, app.server.store().pool_use());
    Ok((
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        body,
    )
        .into_response())
}

/// The body limit of a route, by path (`None`: no body expected or no limit).
fn body_limit(limits: &Limits, path: &str) -> Option<u64> {
    if path.starts_with("/admin") {
        // The console's forms; a catalog upload has the catalog's limit.
        return Some(if path == "/admin/catalog" {
            limits.catalog
        } else {
            CONSOLE_FORM_LIMIT
        });
    }
    Some(match path {
        "/v1/catalog" | "/1c/exchange" => limits.catalog,
        "/v1/tasks" | "/v1/config" => limits.tasks,
        "/v1/device/documents" | "/v1/device/logs" => limits.document,
        "/v1/device/status" => limits.status,
        "/v1/device/print" => PRINT_LIMIT,
        "/v1/enroll" => ENROL_LIMIT,
        _ => return None,
    })
}

/// A console form's body limit (axum's default for forms, announced early).
const CONSOLE_FORM_LIMIT: u64 = 2 << 20;
/// A print job's body limit.
const PRINT_LIMIT: u64 = 256 << 10;
/// An enrolment's body limit.
const ENROL_LIMIT: u64 = 4 << 10;

/// 413 as soon as `Content-Length` says the body is over the route's limit,
/// before a byte of it is read (a client announcing 10 GB is answered at once).
async fn refuse_early(State(app): St, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let (Some(length), Some(limit)) = (announced, body_limit(&app.limits, req.uri().path())) {
        if length > limit {
            let mut resp = Error::TooLarge(limit).into_response();
            // Nothing of the body will be read: the connection is not reused.
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return resp;
        }
    }
    next.run(req).await
}

/// Every error answer is `{"error", "message"}` JSON, whichever layer made it:
/// handlers do already; this catches axum's own (a query or path that does not
/// parse, an unknown method: 405, a body extractor) so that an outside client
/// never gets `text/plain` or an empty body.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let resp = next.run(req).await;
    let status = resp.status();
    // The 1C exchange answers in its own plain-text protocol, the console in pages.
    if !(status.is_client_error() || status.is_server_error()) || path == "/1c/exchange" || path.starts_with("/admin") {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::RANGE_NOT_SATISFIABLE => "range_not_satisfiable",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        s if s.is_server_error() => "internal",
        _ => "error",
    };
    let message = if !text.is_empty() {
        text
    } else if status == StatusCode::METHOD_NOT_ALLOWED {
        let allowed = parts
            .headers
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        format!("{method} is not allowed on {path}; allowed: {allowed}")
    } else if status == StatusCode::RANGE_NOT_SATISFIABLE {
        let range = parts.headers.get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        format!("the requested range is outside the file ({range})")
    } else {
        status.canonical_reason().unwrap_or("error").to_string()
    };
    let body = serde_json::to_string(&ErrorBody {
        error: code.into(),
        message,
    })
    .unwrap_or_default();
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("request handler failed: {e}")))?
}

fn bearer(parts: &Parts) -> Result<String> {
    // The scheme is case-insensitive (RFC 9110 §11.1): "bearer", "BEARER" too.
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|v| !v.is_empty());
    value
        .map(str::to_string)
        .ok_or_else(|| Error::Unauthorized("send Authorization: Bearer <token>".into()))
}

/// Checks `TSD-Protocol`: a client outside the range gets 426 and a message that
/// says which side to update.
fn check_protocol(headers: &HeaderMap) -> Result<u32> {
    // Missing or not a number: a bad request (400). A number outside the range:
    // 426, with which side to update.
    let Some(value) = headers.get("tsd-protocol") else {
        return Err(Error::BadRequest(format!(
            "send the TSD-Protocol header; this server speaks protocol {PROTOCOL_MIN}..{PROTOCOL_MAX}"
        )));
    };
    let n: u32 = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error::BadRequest(format!("TSD-Protocol must be a number ({PROTOCOL_MIN}..{PROTOCOL_MAX})")))?;
    if n < PROTOCOL_MIN {
        return Err(Error::Protocol(format!(
            "the terminal speaks protocol {n}, this server {PROTOCOL_MIN}..{PROTOCOL_MAX}: update the terminal app"
        )));
    }
    if n > PROTOCOL_MAX {
        return Err(Error::Protocol(format!(
            "the terminal speaks protocol {n}, this server {PROTOCOL_MIN}..{PROTOCOL_MAX}: update the server"
        )));
    }
    Ok(n)
}

/// An authenticated device speaking a supported protocol.
pub struct DeviceAuth(pub Device);

impl FromRequestParts<Arc<App>> for DeviceAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self> {
        check_protocol(&parts.headers)?;
        let token = bearer(parts)?;
        let app = app.clone();
        blocking(move || app.server.device(&token)).await.map(DeviceAuth)
    }
}

/// A request with a valid integration key.
pub struct Integration;

impl FromRequestParts<Arc<App>> for Integration {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self> {
        let key = bearer(parts)?;
        let app = app.clone();
        blocking(move || app.server.check_integration_key(&key)).await.map(|_| Integration)
    }
}

/// The next chunk of a body, or a 408 when the client sends nothing for `idle`.
async fn next_chunk(
    stream: &mut (impl futures_util::Stream<Item = std::result::Result<axum::body::Bytes, axum::Error>> + Unpin),
    idle: std::time::Duration,
) -> Result<Option<axum::body::Bytes>> {
    use futures_util::StreamExt;
    match tokio::time::timeout(idle, stream.next()).await {
        Err(_) => Err(Error::Timeout(format!(
            "the request body stalled: nothing for {} ms",
            idle.as_millis()
        ))),
        Ok(None) => Ok(None),
        Ok(Some(chunk)) => chunk
            .map(Some)
            .map_err(|e| Error::BadRequest(format!("reading the request body: {e}"))),
    }
}

async fn read_body(app: &App, body: Body, limit: u64) -> Result<axum::body::Bytes> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = next_chunk(&mut stream, app.limits.body_idle).await? {
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(Error::TooLarge(limit));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.into())
}

/// An error about a request body saved to a temporary file, told as the client
/// sent it: "request body, line 7: …", never the server's own file path.
fn about_body(e: Error, tmp: &std::path::Path) -> Error {
    use tsd_core::package::PackageError;
    let body = std::path::PathBuf::from("request body");
    match e {
        Error::Core(tsd_core::Error::Import { path, line, reason }) if path == tmp => {
            Error::Core(tsd_core::Error::Import { path: body, line, reason })
        }
        Error::Core(tsd_core::Error::Package(PackageError::Refused { path, reason })) if path == tmp => {
            Error::Core(tsd_core::Error::Package(PackageError::Refused { path: body, reason }))
        }
        Error::Core(tsd_core::Error::Io { path, source }) if path == tmp => Error::Core(tsd_core::Error::Io { path: body, source }),
        Error::Io { path, source } if path == tmp => Error::Io { path: body, source },
        other => other,
    }
}

/// Streams a body into a temporary file under `tmp/`, refusing more than `limit`.
pub(crate) async fn save_body(app: &App, body: Body, limit: u64) -> Result<tempfile::TempPath> {
    use tokio::io::AsyncWriteExt;
    let dir = app.server.tmp_dir();
    let file = tempfile::NamedTempFile::new_in(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
    let (std_file, path) = file.into_parts();
    let mut out = tokio::fs::File::from_std(std_file);
    let mut stream = body.into_data_stream();
    let mut total = 0u64;
    let fail = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    while let Some(chunk) = next_chunk(&mut stream, app.limits.body_idle).await? {
        total += chunk.len() as u64;
        if total > limit {
            return Err(Error::TooLarge(limit));
        }
        out.write_all(&chunk).await.map_err(fail)?;
    }
    out.flush().await.map_err(fail)?;
    Ok(path)
}

async fn hello(State(app): St, headers: HeaderMap) -> Result<Response> {
    if headers.contains_key("tsd-protocol") {
        check_protocol(&headers)?;
    }
    let latest = blocking({
        let app = app.clone();
        move || app.server.store().latest_catalog()
    })
    .await?;
    Ok(Json(Hello {
        server: concat!("tsd-server ", env!("CARGO_PKG_VERSION")).into(),
        protocol_min: PROTOCOL_MIN,
        protocol_max: PROTOCOL_MAX,
        catalog_version: latest.map_or(0, |l| l.version),
    })
    .into_response())
}

#[derive(Deserialize)]
struct Since {
    #[serde(default)]
    since: i64,
}

/// A version, cursor or version code from the query: never negative.
fn non_negative(name: &str, value: i64) -> Result<i64> {
    if value < 0 {
        return Err(Error::BadRequest(format!("{name} must be 0 or more, got {value}")));
    }
    Ok(value)
}

async fn device_catalog(State(app): St, _device: DeviceAuth, Query(q): Query<Since>) -> Result<Response> {
    non_negative("since", q.since)?;
    let offer = blocking(move || app.server.offer(q.since)).await?;
    Ok(Json(offer).into_response())
}

/// What a `Range` header asks of a file (RFC 9110 §14).
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// Not a single byte range this server serves (another unit, several ranges,
    /// a malformed value): the whole file, 200, as the RFC allows.
    Whole,
    /// `bytes=A-`, `bytes=A-B` or the suffix `bytes=-N`, as `(first, last)`.
    Part(u64, u64),
    /// A byte range wholly outside the file: 416.
    Unsatisfiable,
}

/// Parses a `Range` header against a file of `size` bytes.
fn parse_range(value: &str, size: u64) -> RangeAsk {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeAsk::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let Some(last) = size.checked_sub(1) else {
        return RangeAsk::Unsatisfiable;
    };
    if a.is_empty() {
        // Suffix: the last N bytes.
        return match b.parse::<u64>() {
            Ok(0) => RangeAsk::Unsatisfiable,
            Ok(n) => RangeAsk::Part(size.saturating_sub(n), last),
            Err(_) => RangeAsk::Whole,
        };
    }
    let Ok(start) = a.parse::<u64>() else { return RangeAsk::Whole };
    let end = if b.is_empty() {
        last
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e.min(last),
            Ok(_) => return RangeAsk::Whole,
            Err(_) => return RangeAsk::Whole,
        }
    };
    if start > last {
        RangeAsk::Unsatisfiable
    } else {
        RangeAsk::Part(start, end)
    }
}

async fn device_package(State(app): St, _device: DeviceAuth, Path(name): Path<String>, headers: HeaderMap) -> Result<Response> {
    serve_file(app, crate::store::Area::Packages, name, &headers, "application/vnd.tsd.package").await
}

async fn device_app_file(State(app): St, _device: DeviceAuth, Path(name): Path<String>, headers: HeaderMap) -> Result<Response> {
    serve_file(
        app,
        crate::store::Area::Apps,
        name,
        &headers,
        "application/vnd.android.package-archive",
    )
    .await
}

#[derive(Deserialize)]
struct AppQuery {
    #[serde(default)]
    current: i64,
}

async fn device_app(State(app): St, DeviceAuth(device): DeviceAuth, Query(q): Query<AppQuery>) -> Result<Response> {
    non_negative("current", q.current)?;
    let update = blocking(move || {
        // It asks with the version it runs (0: an app too old to say).
        if q.current > 0 {
            app.server.store().record_app_version(device.id, q.current)?;
        }
        app.server.app_update(q.current)
    });
    Ok(match update.await? {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(update) => Json(update).into_response(),
    })
}

/// An immutable kept file with `Range`/`If-Range` (ETag: its name), so a cut
/// download resumes — on any instance, which serves the same bytes.
async fn serve_file(
    app: Arc<App>,
    area: crate::store::Area,
    name: String,
    headers: &HeaderMap,
    content_type: &'static str,
) -> Result<Response> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let name2 = name.clone();
    let path = blocking(move || app.server.served_file(area, &name2))
        .await?
        .ok_or_else(|| Error::NotFound(format!("no file {name}")))?;
    let name = name.as_str();
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| Error::NotFound(format!("no file {name}")))?;
    let size = file
        .metadata()
        .await
        .map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?
        .len();
    let etag = format!("\"{name}\"");
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v == etag);
    let whole = (StatusCode::OK, 0, size.saturating_sub(1));
    let (status, start, end) = match range.filter(|_| if_range_ok) {
        None => whole,
        Some(r) => match parse_range(r, size) {
            RangeAsk::Whole => whole,
            RangeAsk::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b),
            RangeAsk::Unsatisfiable => {
                let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                resp.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
                );
                return Ok(resp);
            }
        },
    };
    let len = if size == 0 { 0 } else { end - start + 1 };
    file.seek(std::io::SeekFrom::Start(start)).await.map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let reader = file.take(len);
    let stream = futures_util::stream::unfold(reader, |mut r| async move {
        let mut buf = vec![0u8; 64 << 10];
        match r.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)), r))
            }
            Err(e) => Some((Err(e), r)),
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).map_err(|e| Error::BadRequest(e.to_string()))?,
    );
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")).expect("ascii"),
        );
    }
    Ok(resp)
}

#[derive(Deserialize)]
struct After {
    #[serde(default)]
    after: i64,
}

async fn device_tasks(State(app): St, DeviceAuth(device): DeviceAuth, Query(q): Query<After>) -> Result<Response> {
    non_negative("after", q.after)?;
    let package = blocking(move || {
        // It asks after its cursor: it holds every task up to it.
        app.server.store().record_tasks_cursor(device.id, q.after)?;
        app.server.tasks_package(&device, q.after)
    })
    .await?;
    Ok(match package {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(bytes) => ([(header::CONTENT_TYPE, "application/vnd.tsd.package")], bytes).into_response(),
    })
}

async fn device_push(State(app): St, DeviceAuth(device): DeviceAuth, headers: HeaderMap, body: Body) -> Result<Response> {
    let key = match headers.get("idempotency-key") {
        None => {
            return Err(Error::BadRequest(
                "send an Idempotency-Key header (the terminal sends TOKEN@COMPLETED_AT)".into(),
            ))
        }
        Some(v) => v.to_str().map(str::to_string).map_err(|_| {
            Error::BadRequest(
                "Idempotency-Key must be visible ASCII (letters, digits, punctuation), 1 to 200 characters; \
                 the terminal sends TOKEN@COMPLETED_AT"
                    .into(),
            )
        })?,
    };
    let path = save_body(&app, body, app.limits.document).await?;
    let metrics_app = app.clone();
    let (pushed, doc_id) = blocking(move || app.server.receive_document(&device, &key, &path).map_err(|e| about_body(e, &path))).await?;
    let (id, stored) = match pushed {
        Pushed::Stored(id) => {
            metrics_app.metrics.documents.inc();
            (id, true)
        }
        Pushed::Duplicate(id) => (id, false),
        Pushed::KeyConflict { .. } => return Err(Error::Internal("a key conflict was answered as stored".into())),
    };
    Ok(Json(PushAnswer { doc_id, id, stored }).into_response())
}

async fn device_status(State(app): St, DeviceAuth(device): DeviceAuth, body: Body) -> Result<Response> {
    let bytes = read_body(&app, body, app.limits.status).await?;
    let status: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| Error::BadRequest(format!("status is not JSON: {e}")))?;
    if !status.is_object() {
        return Err(Error::BadRequest("the status must be a JSON object".into()));
    }
    // A terminal reports its status as the last step of a sync that went through.
    let via = if status.get("via").and_then(|v| v.as_str()) == Some("usb") {
        "usb"
    } else {
        "direct"
    };
    let metrics_app = app.clone();
    blocking(move || app.server.store().set_status(device.id, &status)).await?;
    metrics_app.metrics.sync_completed(via);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn device_print(State(app): St, DeviceAuth(device): DeviceAuth, body: Body) -> Result<Response> {
    let bytes = read_body(&app, body, PRINT_LIMIT).await?;
    let job: tsd_core::print::PrintJob = serde_json::from_slice(&bytes).map_err(|e| Error::BadRequest(format!("not a print job: {e}")))?;
    let status = blocking(move || app.server.queue_print(&device, &job)).await?;
    Ok(Json(status).into_response())
}

async fn device_print_statuses(State(app): St, DeviceAuth(device): DeviceAuth) -> Result<Response> {
    Ok(Json(blocking(move || app.server.print_statuses(&device)).await?).into_response())
}

/// Redeems a setup code's enrolment token (no device token yet: the code is the
/// credential, once).
async fn enroll(State(app): St, headers: HeaderMap, body: Body) -> Result<Response> {
    check_protocol(&headers)?;
    let bytes = read_body(&app, body, ENROL_LIMIT).await?;
    let e: EnrolRequest = serde_json::from_slice(&bytes).map_err(|e| Error::BadRequest(format!("send {{\"enrolment\": TOKEN}}: {e}")))?;
    let (device, token) = blocking(move || app.server.enroll(&e.enrolment)).await?;
    Ok(Json(Enrolled { device, token }).into_response())
}

async fn device_logs(State(app): St, DeviceAuth(device): DeviceAuth, body: Body) -> Result<Response> {
    let path = save_body(&app, body, app.limits.document).await?;
    let id = blocking(move || app.server.receive_logs(&device, &path).map_err(|e| about_body(e, &path))).await?;
    Ok(Json(LogsReceived { id }).into_response())
}

async fn list_logs(State(app): St, _: Integration) -> Result<Response> {
    Ok(Json(blocking(move || app.server.store().logs(1000)).await?).into_response())
}

async fn list_prints(State(app): St, _: Integration) -> Result<Response> {
    Ok(Json(blocking(move || app.server.store().print_jobs(None, 1000)).await?).into_response())
}

/// At most this many keys in one lookup (a scan has one to three).
const MAX_LOOKUP_KEYS: usize = 16;

async fn device_lookup(State(app): St, _device: DeviceAuth, RawQuery(query): RawQuery) -> Result<Response> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).map_err(|e| Error::BadRequest(format!("bad query: {e}")))?;
    let mut keys = Vec::new();
    let (mut cell, mut catalog, mut id) = (None, None, None);
    let usage = "send k=KEY (at least one, repeated up to 16) and cell=LABEL if the code may be a cell label; records: GET /v1/device/record?catalog=NAME&id=ID";
    for (name, value) in pairs {
        if value.len() > 200 {
            return Err(Error::BadRequest(format!("{name} is longer than 200 bytes")));
        }
        match name.as_str() {
            "k" => keys.push(value),
            "cell" => cell = Some(value),
            "catalog" => catalog = Some(value),
            "id" => id = Some(value),
            _ => return Err(Error::BadRequest(format!("unknown parameter {name:?}; {usage}"))),
        }
    }
    if keys.len() > MAX_LOOKUP_KEYS {
        return Err(Error::BadRequest(format!("at most {MAX_LOOKUP_KEYS} keys")));
    }
    // SQLite runs off the async workers: a slow query must not stall the others'
    // lookups past their budget.
    match (catalog, id) {
        // The record form of terminals before /v1/device/record; still answered.
        (Some(catalog), Some(id)) if keys.is_empty() && cell.is_none() => {
            return Ok(Json(blocking(move || app.server.lookup_record(&catalog, &id)).await?).into_response())
        }
        (None, None) => {}
        _ => return Err(Error::BadRequest(usage.into())),
    }
    if keys.is_empty() {
        return Err(Error::BadRequest(usage.into()));
    }
    let metrics_app = app.clone();
    let answer = blocking(move || app.server.lookup(&keys, cell.as_deref())).await?;
    metrics_app.metrics.lookup(answer.hit.is_some() || answer.cell.is_some());
    Ok(Json(answer).into_response())
}

#[derive(Deserialize)]
struct RecordQuery {
    catalog: String,
    id: String,
}

/// A generic catalog's record in the latest catalog version (HYDB, `record_catalogs`).
async fn device_record(State(app): St, _device: DeviceAuth, Query(q): Query<RecordQuery>) -> Result<Response> {
    for (name, value) in [("catalog", &q.catalog), ("id", &q.id)] {
        if value.is_empty() || value.len() > 200 {
            return Err(Error::BadRequest(format!("{name} must be 1 to 200 bytes")));
        }
    }
    Ok(Json(blocking(move || app.server.lookup_record(&q.catalog, &q.id)).await?).into_response())
}

#[derive(Deserialize)]
struct ConfigQuery {
    #[serde(default)]
    since: i64,
    /// The newest configuration schema the terminal reads (1 when not sent).
    schema: Option<u32>,
}

async fn device_config(State(app): St, _device: DeviceAuth, Query(q): Query<ConfigQuery>) -> Result<Response> {
    non_negative("since", q.since)?;
    let package = blocking(move || app.server.config_package(q.since, q.schema.unwrap_or(1))).await?;
    Ok(match package {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(bytes) => ([(header::CONTENT_TYPE, "application/vnd.tsd.package")], bytes).into_response(),
    })
}

async fn publish_config(State(app): St, _: Integration, body: Body) -> Result<Response> {
    let bytes = read_body(&app, body, app.limits.tasks).await?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| Error::BadRequest("the configuration must be UTF-8 JSON".into()))?;
    let (version, changed) = blocking(move || app.server.publish_config(&text)).await?;
    Ok(Json(ConfigPublished { version, changed }).into_response())
}

#[derive(Deserialize)]
struct CatalogQuery {
    format: Option<String>,
    encoding: Option<String>,
    columns: Option<String>,
    #[serde(default)]
    strict: bool,
}

async fn publish_catalog(
    State(app): St,
    _: Integration,
    Query(q): Query<CatalogQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let format = match q.format.as_deref() {
        Some(name) => Format::from_name(name).ok_or_else(|| Error::BadRequest(format!("format {name:?}: use csv, jsonl or xml")))?,
        None if content_type.contains("json") => Format::Jsonl,
        None if content_type.contains("xml") => Format::CommerceMl,
        None => Format::Csv,
    };
    let mut read =
        tsd_core::catalog::ReadOptions::from_args(q.encoding.as_deref(), q.columns.as_deref(), q.strict).map_err(Error::BadRequest)?;
    read.label = Some("request body".into());
    let path = save_body(&app, body, app.limits.catalog).await?;
    let published = blocking(move || {
        app.server
            .publish_catalog_with(&path, format, &read)
            .map_err(|e| about_body(e, &path))
    })
    .await?;
    Ok(Json(published).into_response())
}

#[derive(Deserialize)]
struct DeviceQuery {
    device: String,
}

async fn add_tasks(State(app): St, _: Integration, Query(q): Query<DeviceQuery>, body: Body) -> Result<Response> {
    let bytes = read_body(&app, body, app.limits.tasks).await?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| Error::BadRequest("tasks must be UTF-8 JSON Lines".into()))?;
    let added = blocking(move || app.server.add_tasks(&q.device, &text)).await?;
    Ok(Json(TasksAdded { added }).into_response())
}

#[derive(Deserialize)]
struct CancelQuery {
    #[serde(default)]
    device: Option<String>,
}

async fn cancel_task(State(app): St, _: Integration, Path(id): Path<String>, Query(q): Query<CancelQuery>) -> Result<Response> {
    let devices = blocking(move || app.server.cancel_task(&id, q.device.as_deref())).await?;
    Ok(Json(TasksCancelled { cancelled: devices }).into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    all: bool,
    /// Server id after which the page starts (0: the first).
    #[serde(default)]
    after: i64,
    /// Documents per page (1..=1000, default 100).
    limit: Option<i64>,
}

/// Documents per page when the client does not say.
const PAGE: i64 = 100;
/// The most documents one page may hold.
const PAGE_MAX: i64 = 1000;

/// One page of finished documents, oldest first, as a JSON array streamed one
/// document at a time: the page's ids are read first, each body then on its own
/// (a body may be 32 MiB; no page is ever held in memory or under the store's
/// lock whole). More pages: a `Link: <…?after=ID…>; rel="next"` header.
async fn list_documents(State(app): St, _: Integration, Query(q): Query<ListQuery>) -> Result<Response> {
    let limit = q.limit.unwrap_or(PAGE);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(Error::BadRequest(format!("limit must be 1 to {PAGE_MAX}")));
    }
    if q.after < 0 {
        return Err(Error::BadRequest("after must be 0 or a document's server id".into()));
    }
    let (pending, after) = (!q.all, q.after);
    let mut ids = blocking({
        let app = app.clone();
        move || app.server.store().document_ids(pending, after, limit + 1)
    })
    .await?;
    let more = ids.len() as i64 > limit;
    ids.truncate(limit as usize);
    let next = more.then(|| ids.last().copied()).flatten();
    let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let items = futures_util::stream::iter(ids).then(move |id| {
        let (app, first) = (app.clone(), first.clone());
        async move {
            let doc = blocking(move || app.server.store().document(id)).await;
            let text = match doc {
                Ok(Some(d)) => serde_json::to_string(&d).map_err(|e| std::io::Error::other(e.to_string()))?,
                // Deleted between the page and the read: nothing to send for it.
                Ok(None) => return Ok::<_, std::io::Error>(axum::body::Bytes::new()),
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            };
            let lead = first.swap(false, std::sync::atomic::Ordering::Relaxed);
            Ok(axum::body::Bytes::from(if lead { text } else { format!(",{text}") }))
        }
    });
    use futures_util::StreamExt;
    let open = futures_util::stream::once(async { Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"[")) });
    let close = futures_util::stream::once(async { Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"]")) });
    let mut resp = Response::new(Body::from_stream(open.chain(items).chain(close)));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(next) = next {
        let all = if q.all { "&all=true" } else { "" };
        let link = format!("</v1/documents?after={next}&limit={limit}{all}>; rel=\"next\"");
        resp.headers_mut().insert(
            header::LINK,
            HeaderValue::from_str(&link).map_err(|e| Error::Internal(e.to_string()))?,
        );
    }
    Ok(resp)
}

async fn get_document(State(app): St, _: Integration, Path(id): Path<i64>) -> Result<Response> {
    let doc = blocking(move || app.server.store().document(id)).await?;
    doc.map(|d| Json(d).into_response())
        .ok_or_else(|| Error::NotFound(format!("no document {id}")))
}

async fn ack_document(State(app): St, _: Integration, Path(id): Path<i64>) -> Result<Response> {
    let found = blocking(move || app.server.store().ack_document(id, crate::now_ms())).await?;
    if found {
        Ok(Json(Acked { id, acked: true }).into_response())
    } else {
        Err(Error::NotFound(format!("no document {id}")))
    }
}

async fn list_devices(State(app): St, _: Integration) -> Result<Response> {
    let devices = blocking(move || app.server.devices()).await?;
    Ok(Json(devices).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeAsk::*;
        assert_eq!(parse_range("bytes=0-", 10), Part(0, 9));
        assert_eq!(parse_range("bytes=4-", 10), Part(4, 9));
        assert_eq!(parse_range("bytes=4-6", 10), Part(4, 6));
        assert_eq!(parse_range("bytes=4-99", 10), Part(4, 9));
        assert_eq!(parse_range("bytes=-4", 10), Part(6, 9), "suffix: the last 4 bytes");
        assert_eq!(
            parse_range("bytes=-40", 10),
            Part(0, 9),
            "a suffix longer than the file is all of it"
        );
        assert_eq!(parse_range("bytes=10-", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=6-4", 10), Whole, "invalid: ignored");
        assert_eq!(parse_range("items=0-", 10), Whole, "another unit: ignored");
        assert_eq!(parse_range("bytes=0-1,4-5", 10), Whole, "several ranges: the whole file");
        assert_eq!(parse_range("bytes=x-", 10), Whole);
    }

    /// Every route the router serves is described in the OpenAPI document.
    #[test]
    fn every_route_is_in_the_openapi_document() {
        let all = include_str!("api.rs");
        let source = &all[..all.find("#[cfg(test)]").unwrap()];
        let openapi = include_str!("../../docs/openapi.yaml");
        let named = |name: &str| match name {
            "HELLO" => routes::HELLO,
            "DEVICE_CATALOG" => routes::DEVICE_CATALOG,
            "DEVICE_TASKS" => routes::DEVICE_TASKS,
            "DEVICE_DOCUMENTS" => routes::DEVICE_DOCUMENTS,
            "DEVICE_STATUS" => routes::DEVICE_STATUS,
            "DEVICE_CONFIG" => routes::DEVICE_CONFIG,
            "DEVICE_LOOKUP" => routes::DEVICE_LOOKUP,
            "DEVICE_RECORD" => routes::DEVICE_RECORD,
            "DEVICE_PRINT" => routes::DEVICE_PRINT,
            "DEVICE_LOGS" => routes::DEVICE_LOGS,
            "DEVICE_APP" => routes::DEVICE_APP,
            "ENROLL" => routes::ENROLL,
            other => panic!("routes::{other} is not known to this test"),
        };
        let mut paths: Vec<&str> = source
            .split(".route(\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
            .collect();
        paths.extend(
            source
                .split(".route(routes::")
                .skip(1)
                .map(|rest| named(rest.split(',').next().unwrap())),
        );
        assert!(paths.len() >= 24, "{paths:?}");
        for r in paths {
            assert!(openapi.contains(&format!("\n  {r}:\n")), "{r} is not in docs/openapi.yaml");
        }
    }

    #[test]
    fn protocol_versions() {
        let mut h = HeaderMap::new();
        assert!(matches!(check_protocol(&h), Err(Error::BadRequest(_))), "missing: 400");
        h.insert("tsd-protocol", HeaderValue::from_static("one"));
        assert!(matches!(check_protocol(&h), Err(Error::BadRequest(_))), "not a number: 400");
        h.insert("tsd-protocol", HeaderValue::from_static("1"));
        assert_eq!(check_protocol(&h).unwrap(), 1);
        h.insert("tsd-protocol", HeaderValue::from_static("2"));
        assert!(matches!(check_protocol(&h), Err(Error::Protocol(_))), "out of range: 426");
        assert!(check_protocol(&h).unwrap_err().to_string().contains("update the server"));
        h.insert("tsd-protocol", HeaderValue::from_static("0"));
        assert!(check_protocol(&h).unwrap_err().to_string().contains("update the terminal"));
    }
}
