//! `GET /metrics`: what an operator's Prometheus scrapes — syncs, documents
//! and bytes through the server, request latencies by endpoint, refusals by
//! error code, enrolments, and what the database holds. In the OpenMetrics
//! text format (which Prometheus reads natively).
//!
//! Every label comes from a fixed set (the endpoints, the HTTP statuses,
//! the error codes of `api::ApiError`): no request can add a time series,
//! so no input makes this grow. Nothing here names a device, a user or a
//! case.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::storage::StorageFigures;

/// What `/metrics` answers with.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    code: &'static str,
}

type RequestHistogram = Family<RequestLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms … about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The server's counters; cheap to clone (shared).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: RequestHistogram,
    refusals: Family<RefusalLabels, Counter>,
    syncs: Counter,
    documents_received: Counter,
    documents_rejected: Counter,
    documents_sent: Counter,
    bytes_received: Counter,
    bytes_sent: Counter,
    enrolments: Counter,
    documents_stored: Gauge,
    devices_active: Gauge,
    database_bytes: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("sprechtag");
        let requests: RequestHistogram = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Requests answered, by endpoint and HTTP status, and how long they took",
            Unit::Seconds,
            requests.clone(),
        );
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "refusals",
            "Requests refused, by the error code in the answer",
            refusals.clone(),
        );
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let counter = Counter::default();
            registry.register(name, help, counter.clone());
            counter
        };
        let bytes = |registry: &mut Registry, name: &str, help: &str| {
            let counter = Counter::default();
            registry.register_with_unit(name, help, Unit::Bytes, counter.clone());
            counter
        };
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let syncs = counter(&mut registry, "syncs", "Sync requests answered");
        let documents_received = counter(
            &mut registry,
            "documents_received",
            "Uploaded documents taken into the database",
        );
        let documents_rejected = counter(
            &mut registry,
            "documents_rejected",
            "Uploaded documents refused or set aside (integrity, permissions, damage)",
        );
        let documents_sent = counter(&mut registry, "documents_sent", "Documents sent to devices");
        let bytes_received = bytes(
            &mut registry,
            "sync_received",
            "Sync request bodies received (compressed, as sent)",
        );
        let bytes_sent = bytes(&mut registry, "sync_sent", "Sync responses sent");
        let enrolments = counter(&mut registry, "enrolments", "Devices enrolled");
        let documents_stored = gauge(
            &mut registry,
            "documents_stored",
            "Documents in the database (cases, office hours, knowledge, tombstones)",
        );
        let devices_active = gauge(
            &mut registry,
            "devices_active",
            "Devices enrolled and not revoked",
        );
        let database_bytes = Gauge::default();
        registry.register_with_unit(
            "database",
            "Size of the database files on disk",
            Unit::Bytes,
            database_bytes.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            requests,
            refusals,
            syncs,
            documents_received,
            documents_rejected,
            documents_sent,
            bytes_received,
            bytes_sent,
            enrolments,
            documents_stored,
            devices_active,
            database_bytes,
        }
    }

    /// A request was answered with `status` after `seconds`.
    pub fn request(&self, path: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint(path),
                status,
            })
            .observe(seconds);
    }

    /// A request was refused with the error `code` (`ApiError`'s codes).
    pub fn refused(&self, code: &'static str) {
        self.refusals.get_or_create(&RefusalLabels { code }).inc();
    }

    /// A sync was answered.
    pub fn sync(&self, received: usize, accepted: usize, rejected: usize, sent: usize) {
        self.syncs.inc();
        self.documents_received.inc_by(accepted as u64);
        self.documents_rejected.inc_by(rejected as u64);
        self.documents_sent.inc_by(sent as u64);
        self.bytes_received.inc_by(received as u64);
    }

    /// A sync response of `bytes` bytes went out.
    pub fn sent(&self, bytes: usize) {
        self.bytes_sent.inc_by(bytes as u64);
    }

    pub fn enrolled(&self) {
        self.enrolments.inc();
    }

    /// The text Prometheus scrapes, with the database's figures as of now.
    pub fn render(&self, figures: StorageFigures) -> String {
        let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        self.documents_stored.set(gauge(figures.documents));
        self.devices_active.set(gauge(figures.devices_active));
        self.database_bytes.set(gauge(figures.database_bytes));
        let mut text = String::new();
        // Writing into a String does not fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The endpoint a path belongs to, from the fixed set the router serves;
/// anything else is "other" (a scan of random paths adds no series).
fn endpoint(path: &str) -> &'static str {
    match path {
        "/health" => "/health",
        "/metrics" => "/metrics",
        "/v1/enrol" => "/v1/enrol",
        "/v1/sync" => "/v1/sync",
        _ if path.starts_with("/v1/cases/") && path.ends_with("/access") => "/v1/cases/{id}/access",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_a_fixed_set_whatever_the_path() {
        let metrics = Metrics::new();
        for i in 0..1000 {
            metrics.request(&format!("/scan/{i}"), 404, 0.001);
        }
        metrics.request("/v1/cases/abc/access", 200, 0.002);
        let text = metrics.render(StorageFigures::default());
        assert!(text.contains(r#"endpoint="other",status="404""#), "{text}");
        assert!(
            text.contains(r#"endpoint="/v1/cases/{id}/access""#),
            "{text}"
        );
        assert!(!text.contains("/scan/"), "{text}");
        assert_eq!(
            text.matches("sprechtag_http_request_duration_seconds_count")
                .count(),
            2,
            "{text}"
        );
    }

    #[test]
    fn counters_and_figures_show_in_the_text() {
        let metrics = Metrics::new();
        metrics.sync(1200, 3, 1, 5);
        metrics.sent(800);
        metrics.refused("unauthorized");
        metrics.enrolled();
        let text = metrics.render(StorageFigures {
            documents: 42,
            devices_active: 7,
            database_bytes: 4096,
        });
        for line in [
            "sprechtag_syncs_total 1",
            "sprechtag_documents_received_total 3",
            "sprechtag_documents_rejected_total 1",
            "sprechtag_documents_sent_total 5",
            "sprechtag_sync_received_bytes_total 1200",
            "sprechtag_sync_sent_bytes_total 800",
            r#"sprechtag_refusals_total{code="unauthorized"} 1"#,
            "sprechtag_enrolments_total 1",
            "sprechtag_documents_stored 42",
            "sprechtag_devices_active 7",
            "sprechtag_database_bytes 4096",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
