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

/// Why the server could not run.
pub type RunError = Box<dyn std::error::Error + Send + Sync>;

async fn serve_on(
    listener: TcpListener,
    app: Arc<App>,
    tls: Option<TlsFiles>,
    handle: axum_server::Handle<SocketAddr>,
) -> Result<(), RunError> {
    listener.set_nonblocking(true)?;
    let router = api::router(app);
    match tls {
        Some(t) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&t.cert, &t.key)
                .await
                .map_err(|e| format!("TLS certificate {} / key {}: {e}", t.cert.display(), t.key.display()))?;
            axum_server::from_tcp_rustls(listener, config)?
                .handle(handle)
                .serve(router.into_make_service())
                .await?
        }
        None => {
            axum_server::from_tcp(listener)?
                .handle(handle)
                .serve(router.into_make_service())
                .await?
        }
    }
    Ok(())
}

/// Serves until Ctrl-C/SIGINT; calls `ready` with the URL once listening.
pub fn serve_foreground(
    server: Server,
    listen: &str,
    tls: Option<TlsFiles>,
    limits: Limits,
    ready: impl FnOnce(&str),
) -> Result<(), RunError> {
    let listener = TcpListener::bind(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let url = url_of(listener.local_addr()?, tls.is_some());
    let printing = server.start_printing()?;
    let app = Arc::new(App { server, limits });
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let handle = axum_server::Handle::new();
        let shutdown = handle.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            shutdown.graceful_shutdown(Some(Duration::from_secs(5)));
        });
        let serving = tokio::spawn(serve_on(listener, app, tls, handle.clone()));
        if handle.listening().await.is_some() {
            ready(&url);
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
        let listener = TcpListener::bind(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let printing = server.start_printing()?;
        let app = Arc::new(App {
            server,
            limits: Limits::default(),
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
