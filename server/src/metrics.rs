//! Prometheus metrics at `/metrics` (the `prometheus-client` crate's registry and
//! text exposition): requests and their latency per route, response bytes per
//! route (packages served), finished documents received, syncs completed, online
//! lookups (hits, misses), and — read from the database at scrape time — print jobs by state and
//! devices seen in the last hour.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Mutex;

/// A request's route (the route pattern, never the raw path: `{name}` stays a
/// placeholder), method and status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route pattern.
    pub route: String,
    /// HTTP method.
    pub method: String,
    /// Status code.
    pub status: u16,
}

/// A route and method.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Route pattern.
    pub route: String,
    /// HTTP method.
    pub method: String,
}

/// An online lookup's outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LookupLabels {
    /// `hit` or `miss`.
    pub outcome: &'static str,
}

/// How a sync reached the server.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ViaLabels {
    /// `direct`, or `usb` through a PC's bridge.
    pub via: &'static str,
}

/// A print job state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// queued, printing, sent, failed.
    pub state: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    response_bytes: Family<RouteLabels, Counter>,
    /// Finished documents stored (a repeat of one already stored is not counted).
    pub documents: Counter,
    lookups: Family<LookupLabels, Counter>,
    syncs: Family<ViaLabels, Counter>,
    print_jobs: Family<StateLabels, Gauge>,
    devices_seen: Gauge,
    pool: Family<StateLabels, Gauge>,
    pool_max: Gauge,
    pool_waiting: Gauge,
    /// Serialises scrapes (the gauges are set, then encoded).
    scrape: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tsd");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 1 ms … 10 s.
            Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request (headers out), by route",
            latency.clone(),
        );
        let response_bytes = Family::<RouteLabels, Counter>::default();
        registry.register(
            "http_response_bytes",
            "Bytes of response bodies with a known length, by route (packages and app files served)",
            response_bytes.clone(),
        );
        let documents = Counter::default();
        registry.register(
            "documents_received",
            "Finished documents stored (repeats not counted)",
            documents.clone(),
        );
        let lookups = Family::<LookupLabels, Counter>::default();
        registry.register("online_lookups", "Online lookups answered, by outcome", lookups.clone());
        let syncs = Family::<ViaLabels, Counter>::default();
        registry.register(
            "syncs_completed",
            "Syncs that went through (their last step, the status report), by how they came",
            syncs.clone(),
        );
        let print_jobs = Family::<StateLabels, Gauge>::default();
        registry.register("print_jobs", "Print jobs by state (read at scrape time)", print_jobs.clone());
        let devices_seen = Gauge::default();
        registry.register(
            "devices_seen_last_hour",
            "Devices that made a request in the last hour",
            devices_seen.clone(),
        );
        let pool = Family::<StateLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections open, by state (busy, idle); PostgreSQL only",
            pool.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "Most database connections this instance opens",
            pool_max.clone(),
        );
        let pool_waiting = Gauge::default();
        registry.register(
            "db_pool_waiting",
            "Requests waiting for a database connection",
            pool_waiting.clone(),
        );
        Metrics {
            registry,
            pool,
            pool_max,
            pool_waiting,
            requests,
            latency,
            response_bytes,
            documents,
            lookups,
            syncs,
            print_jobs,
            devices_seen,
            scrape: Mutex::new(()),
        }
    }
}

impl Metrics {
    /// Records one answered request.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64, bytes: Option<u64>) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method: method.to_string(),
                status,
            })
            .inc();
        let labels = RouteLabels {
            route: route.to_string(),
            method: method.to_string(),
        };
        self.latency.get_or_create(&labels).observe(seconds);
        if let Some(b) = bytes {
            self.response_bytes.get_or_create(&labels).inc_by(b);
        }
    }

    /// Records an online lookup's outcome.
    pub fn lookup(&self, hit: bool) {
        self.lookups
            .get_or_create(&LookupLabels {
                outcome: if hit { "hit" } else { "miss" },
            })
            .inc();
    }

    /// Records a sync that went through.
    pub fn sync_completed(&self, via: &'static str) {
        self.syncs.get_or_create(&ViaLabels { via }).inc();
    }

    /// The text exposition, with the database-read gauges set first.
    pub fn render(&self, print_jobs: &[(String, i64)], devices_seen: i64, pool: Option<crate::store::PoolUse>) -> String {
        let _one = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        for state in ["queued", "printing", "sent", "failed"] {
            let n = print_jobs.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
            self.print_jobs.get_or_create(&StateLabels { state: state.into() }).set(n);
        }
        self.devices_seen.set(devices_seen);
        if let Some(p) = pool {
            let busy = p.size.saturating_sub(p.idle);
            self.pool.get_or_create(&StateLabels { state: "busy".into() }).set(busy as i64);
            self.pool.get_or_create(&StateLabels { state: "idle".into() }).set(p.idle as i64);
            self.pool_max.set(p.max as i64);
            self.pool_waiting.set(p.waiting as i64);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
