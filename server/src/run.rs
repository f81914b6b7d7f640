//! Running the HTTP(S) server: in the foreground (`tsd-server serve`) or on a
//! background thread (the demo and tests), on a listener bound before it starts,
//! so the address is known — port 0 picks a free one.

use crate::api::{self, App, Limits};
use crate::Server;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A certificate chain and key, PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// The certificate chain's text (PEM).
    pub fn cert_pem(&self) -> Result<Vec<u8>, RunError> {
        std::fs::read(&self.cert).map_err(|e| format!("{}: {e}", self.cert.display()).into())
    }
}

/// Why the server could not run.
pub type RunError = Box<dyn std::error::Error + Send + Sync>;

/// Counts open connections and refuses those past `Limits::max_connections` (a
/// client or a load balancer retries): slow or idle clients cannot take every
/// socket and thread.
#[derive(Clone)]
struct Limited {
    open: Arc<tokio::sync::Semaphore>,
    max: usize,
}

impl<S: Send + 'static> axum_server::accept::Accept<tokio::net::TcpStream, S> for Limited {
    type Stream = Counted;
    type Service = S;
    type Future = std::future::Ready<std::io::Result<(Counted, S)>>;

    fn accept(&self, stream: tokio::net::TcpStream, service: S) -> Self::Future {
        std::future::ready(match self.open.clone().try_acquire_owned() {
            Ok(permit) => Ok((Counted { stream, _permit: permit }, service)),
            Err(_) => Err(std::io::Error::other(format!(
                "more than {} open connections: this one is closed",
                self.max
            ))),
        })
    }
}

/// A connection holding its place under the limit until it closes.
struct Counted {
    stream: tokio::net::TcpStream,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Where `serve` answers, once it does.
#[derive(Debug, Clone)]
pub struct Listening {
    /// The API's (and, by default, the console's) URL.
    pub url: String,
    /// `/metrics` on its own address (`--metrics-listen`).
    pub metrics: Option<String>,
    /// The console on its own address (`--admin-listen`).
    pub console: Option<String>,
}

async fn serve_on(
    listener: TcpListener,
    app: Arc<App>,
    tls: Option<TlsFiles>,
    handle: axum_server::Handle<SocketAddr>,
) -> Result<(), RunError> {
    let limits = app.limits;
    serve_router(listener, api::router(app), limits, tls, handle).await
}

async fn serve_router(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    tls: Option<TlsFiles>,
    handle: axum_server::Handle<SocketAddr>,
) -> Result<(), RunError> {
    listener.set_nonblocking(true)?;
    let limited = Limited {
        open: Arc::new(tokio::sync::Semaphore::new(limits.max_connections)),
        max: limits.max_connections,
    };
    let mut server = axum_server::from_tcp(listener)?
        .first_request_timeout(limits.header_timeout)
        .accept_error_handler(|peer, e| log::warn!("connection from {peer:?} not served: {e}"));
    // A client that opens a connection and sends its headers byte by byte (or not
    // at all) is cut off; bodies have their own idle timeout (Limits::body_idle).
    server.http_builder().http1().header_read_timeout(limits.header_timeout);
    match tls {
        Some(t) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&t.cert, &t.key)
                .await
                .map_err(|e| format!("TLS certificate {} / key {}: {e}", t.cert.display(), t.key.display()))?;
            let tls = axum_server::tls_rustls::RustlsAcceptor::new(config)
                .handshake_timeout(limits.header_timeout)
                .acceptor(limited);
            server.acceptor(tls).handle(handle).serve(router.into_make_service()).await?
        }
        None => server.acceptor(limited).handle(handle).serve(router.into_make_service()).await?,
    }
    Ok(())
}

/// Serves until Ctrl-C/SIGINT or SIGTERM (requests in flight finish first); calls
/// `ready` with the URL once listening.
pub fn serve_foreground(
    server: Server,
    listen: &str,
    tls: Option<TlsFiles>,
    limits: Limits,
    metrics_listen: Option<&str>,
    console_listen: Option<&str>,
    ready: impl FnOnce(&Listening),
) -> Result<(), RunError> {
    let listener = TcpListener::bind(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let url = url_of(listener.local_addr()?, tls.is_some());
    // Metrics on an address of their own, plain HTTP (an internal network).
    let metrics_listener = match metrics_listen {
        Some(addr) => {
            let l = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))?;
            l.set_nonblocking(true)?;
            Some(l)
        }
        None => None,
    };
    let metrics_url = match &metrics_listener {
        Some(l) => Some(format!("{}/metrics", url_of(l.local_addr()?, false))),
        None => None,
    };
    // The console on an address of its own, with the server's TLS if it has one.
    let console_listener = match console_listen {
        Some(addr) => Some(TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr} for the admin console: {e}"))?),
        None => None,
    };
    let console_url = match &console_listener {
        Some(l) => Some(format!("{}/admin", url_of(l.local_addr()?, tls.is_some()))),
        None => None,
    };
    let printing = server.start_printing()?;
    let app = Arc::new(App {
        server,
        limits,
        site: Default::default(),
        metrics: Default::default(),
        metrics_elsewhere: metrics_listener.is_some(),
        console_elsewhere: console_listener.is_some(),
        tls: tls.is_some(),
        tls_cert: tls.as_ref().map(TlsFiles::cert_pem).transpose()?,
        console: Default::default(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let handle = axum_server::Handle::new();
        let shutdown = handle.clone();
        let metrics_handle: axum_server::Handle<SocketAddr> = axum_server::Handle::new();
        let metrics_shutdown = metrics_handle.clone();
        let console_handle: axum_server::Handle<SocketAddr> = axum_server::Handle::new();
        let console_shutdown = console_handle.clone();
        // Ctrl-C, or SIGTERM from systemd, Docker or an orchestrator: stop
        // accepting, let the requests in flight finish (up to 30 s), then exit.
        tokio::spawn(async move {
            #[cfg(unix)]
            {
                let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        log::warn!("SIGTERM not handled: {e}");
                        let _ = tokio::signal::ctrl_c().await;
                        metrics_shutdown.graceful_shutdown(Some(Duration::from_secs(5)));
                        console_shutdown.graceful_shutdown(Some(Duration::from_secs(5)));
                        shutdown.graceful_shutdown(Some(Duration::from_secs(30)));
                        return;
                    }
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            #[cfg(not(unix))]
            let _ = tokio::signal::ctrl_c().await;
            log::info!("shutting down: finishing the requests in flight");
            metrics_shutdown.graceful_shutdown(Some(Duration::from_secs(5)));
            console_shutdown.graceful_shutdown(Some(Duration::from_secs(5)));
            shutdown.graceful_shutdown(Some(Duration::from_secs(30)));
        });
        if let Some(l) = metrics_listener {
            let router = api::metrics_router(app.clone());
            tokio::spawn(async move {
                match axum_server::from_tcp(l) {
                    Ok(server) => {
                        if let Err(e) = server.handle(metrics_handle).serve(router.into_make_service()).await {
                            log::error!("metrics listener stopped: {e}");
                        }
                    }
                    Err(e) => log::error!("metrics listener: {e}"),
                }
            });
        }
        if let Some(l) = console_listener {
            let (app, tls, h) = (app.clone(), tls.clone(), console_handle.clone());
            tokio::spawn(async move {
                if let Err(e) = serve_router(l, api::console_router(app.clone()), app.limits, tls, h).await {
                    log::error!("admin console listener stopped: {e}");
                }
            });
        }
        let serving = tokio::spawn(serve_on(listener, app, tls, handle.clone()));
        if handle.listening().await.is_some() {
            ready(&Listening {
                url: url.clone(),
                metrics: metrics_url.clone(),
                console: console_url.clone(),
            });
        }
        let result = serving.await?;
        printing.stop();
        result
    })
}

fn url_of(addr: SocketAddr, tls: bool) -> String {
    format!("{}://{addr}", if tls { "https" } else { "http" })
}

/// A server running on a background thread; stopped on [`Background::stop`] or drop.
pub struct Background {
    /// `http://127.0.0.1:PORT` or `https://…`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    handle: axum_server::Handle<SocketAddr>,
    thread: Option<std::thread::JoinHandle<Result<(), RunError>>>,
    printing: Option<crate::print::PrintWorker>,
}

impl Background {
    /// Starts a server on `listen` (e.g. `127.0.0.1:0`) and returns once it accepts
    /// connections.
    pub fn start(server: Server, listen: &str, tls: Option<TlsFiles>) -> Result<Background, RunError> {
        Self::start_with(server, listen, tls, Limits::default())
    }

    /// [`Background::start`] with other limits (tests make the timeouts short).
    pub fn start_with(server: Server, listen: &str, tls: Option<TlsFiles>, limits: Limits) -> Result<Background, RunError> {
        Self::start_site(server, listen, tls, limits, Default::default())
    }

    /// [`Background::start_with`] with the 1C exchange's settings too.
    pub fn start_site(
        server: Server,
        listen: &str,
        tls: Option<TlsFiles>,
        limits: Limits,
        site: crate::site::SiteSettings,
    ) -> Result<Background, RunError> {
        let listener = TcpListener::bind(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let printing = server.start_printing()?;
        let app = Arc::new(App {
            server,
            limits,
            site,
            metrics: Default::default(),
            metrics_elsewhere: false,
            console_elsewhere: false,
            tls: tls.is_some(),
            tls_cert: tls.as_ref().map(TlsFiles::cert_pem).transpose()?,
            console: Default::default(),
        });
        let handle = axum_server::Handle::new();
        let h = handle.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let tls_on = tls.is_some();
        let thread = std::thread::Builder::new()
            .name("tsd-server".into())
            .spawn(move || runtime.block_on(serve_on(listener, app, tls, h)))?;
        let ready = handle.clone();
        let waiter = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        if waiter
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), ready.listening()).await })
            .ok()
            .flatten()
            .is_none()
        {
            return Err(thread
                .join()
                .map_err(|_| "server thread panicked")?
                .err()
                .unwrap_or_else(|| "server did not start".into()));
        }
        Ok(Background {
            url: url_of(addr, tls_on),
            addr,
            handle,
            thread: Some(thread),
            printing: Some(printing),
        })
    }

    /// Stops accepting, ends open connections, and waits for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(p) = self.printing.take() {
            p.stop();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Threads for the storage and file work of requests (tokio's default is 512).
/// A fleet's burst queues here rather than starting hundreds of threads that
/// each wait on the database: on a small machine switching between them cost
/// more than the work (see docs/benchmarks.md).
const BLOCKING_THREADS: usize = 16;
