//! Latch's metrics in the Prometheus text format: [`PrometheusMetrics`],
//! the adapter of the [`latch_ports::Metrics`] port, which also counts HTTP
//! requests, holds the gauges sampled at scrape time, and renders it all.
//!
//! Each instance owns its own recorder (never the process-wide one the
//! `metrics` macros write to), so several Latch services in one process, as
//! in the tests, each publish only their own numbers. Label values come from
//! closed enumerations, route templates and status codes only, never from a
//! raw path, a user id or other client input. Must not depend on other
//! adapters, the web framework or the database.

use std::time::Duration;

use latch_ports::{EmailDelivery, Limit, LimitedAction, LoginOutcome, Metrics};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Upper bounds (seconds) of every duration histogram's buckets: from a
/// cached token check (well under a millisecond) to a login padded to the
/// slowest legacy hash (up to a second) and a stalled database (seconds).
pub const SECONDS_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const HTTP_REQUESTS: &str = "latch_http_requests_total";
const HTTP_DURATION: &str = "latch_http_request_duration_seconds";
const LOGINS: &str = "latch_logins_total";
const REFRESH_REUSE: &str = "latch_refresh_token_reuse_detected_total";
const RATE_LIMITED: &str = "latch_rate_limited_total";
const HASH_WAIT: &str = "latch_password_hash_wait_seconds";
const HASH_DURATION: &str = "latch_password_hash_duration_seconds";
const HASH_OVERLOADED: &str = "latch_password_hash_overloaded_total";
const HASH_QUEUE: &str = "latch_password_hash_queue_depth";
const HASH_RUNNING: &str = "latch_password_hashes_running";
const HASH_SLOTS: &str = "latch_password_hash_slots";
const SESSION_CACHE: &str = "latch_session_cache_lookups_total";
const DB_CONNECTIONS: &str = "latch_db_pool_connections";
const DB_MAX_CONNECTIONS: &str = "latch_db_pool_max_connections";
const BUILD_INFO: &str = "latch_build_info";
const EMAIL_DELIVERIES: &str = "latch_email_deliveries_total";
const EMAIL_PENDING: &str = "latch_email_outbox_pending";

/// Every metric: name, type, unit, help text (the `# HELP` line).
const DESCRIPTIONS: [(&str, Kind, Option<Unit>, &str); 17] = [
    (
        HTTP_REQUESTS,
        Kind::Counter,
        None,
        "HTTP requests answered, by method, route template and status.",
    ),
    (
        HTTP_DURATION,
        Kind::Histogram,
        Some(Unit::Seconds),
        "Time from a request's arrival to its response, by method, route template and status.",
    ),
    (LOGINS, Kind::Counter, None, "Login attempts, by outcome."),
    (
        REFRESH_REUSE,
        Kind::Counter,
        None,
        "Rotated refresh tokens presented after the grace window; each revoked its session.",
    ),
    (
        RATE_LIMITED,
        Kind::Counter,
        None,
        "Attempts refused with 429, by action and by the limit that refused them.",
    ),
    (
        HASH_WAIT,
        Kind::Histogram,
        Some(Unit::Seconds),
        "Time password hashes and verifications waited for a hashing slot.",
    ),
    (
        HASH_DURATION,
        Kind::Histogram,
        Some(Unit::Seconds),
        "Time password hashes and verifications took on a hashing thread.",
    ),
    (
        HASH_OVERLOADED,
        Kind::Counter,
        None,
        "Password hashes refused at once because the hashing queue was full.",
    ),
    (
        HASH_QUEUE,
        Kind::Gauge,
        None,
        "Password hashes waiting for a hashing slot.",
    ),
    (HASH_RUNNING, Kind::Gauge, None, "Password hashes running."),
    (
        HASH_SLOTS,
        Kind::Gauge,
        None,
        "Most password hashes that run at once.",
    ),
    (
        SESSION_CACHE,
        Kind::Counter,
        None,
        "Session-cache lookups by authenticated requests, by result (hit or miss).",
    ),
    (
        DB_CONNECTIONS,
        Kind::Gauge,
        None,
        "Database pool connections, by state (idle or in_use).",
    ),
    (
        DB_MAX_CONNECTIONS,
        Kind::Gauge,
        None,
        "Most connections the database pool opens.",
    ),
    (
        EMAIL_DELIVERIES,
        Kind::Counter,
        None,
        "Attempts to deliver a mail from the outbox, by outcome (sent, retried, given_up).",
    ),
    (
        EMAIL_PENDING,
        Kind::Gauge,
        None,
        "Mails in the outbox neither sent nor given up, as of this instance's last delivery pass.",
    ),
    (
        BUILD_INFO,
        Kind::Gauge,
        None,
        "Always 1; the version label names the running build.",
    ),
];

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Metadata handed to the recorder, which ignores it.
const METADATA: Metadata<'static> = Metadata::new(module_path!(), metrics::Level::INFO, None);

/// One service's metrics, rendered in the Prometheus text format.
/// Cheap to share (`Arc`); recording never blocks.
pub struct PrometheusMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    logins: [Counter; LoginOutcome::ALL.len()],
    refresh_reuse: Counter,
    hash_wait: Histogram,
    hash_duration: Histogram,
    hash_overloaded: Counter,
    hash_queue: Gauge,
    hash_running: Gauge,
    hash_slots: Gauge,
    cache_hits: Counter,
    cache_misses: Counter,
    db_idle: Gauge,
    db_in_use: Gauge,
    db_max: Gauge,
    email_deliveries: [Counter; EmailDelivery::ALL.len()],
    email_pending: Gauge,
}

impl Default for PrometheusMetrics {
    fn default() -> Self {
        Self::new(env!("CARGO_PKG_VERSION"))
    }
}

impl PrometheusMetrics {
    /// An empty set of metrics for a service whose build is `version`.
    /// Login outcomes and cache lookups start at zero, so rates over them are
    /// defined from the first scrape.
    pub fn new(version: &str) -> Self {
        // The bucket list is a non-empty constant, so this cannot fail; were
        // it to, the histograms would be rendered as summaries instead.
        let recorder = match PrometheusBuilder::new().set_buckets(&SECONDS_BUCKETS) {
            Ok(builder) => builder.build_recorder(),
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        for (name, kind, unit, help) in DESCRIPTIONS {
            let (name, help) = (KeyName::from_const_str(name), SharedString::const_str(help));
            match kind {
                Kind::Counter => recorder.describe_counter(name, unit, help),
                Kind::Gauge => recorder.describe_gauge(name, unit, help),
                Kind::Histogram => recorder.describe_histogram(name, unit, help),
            }
        }
        let counter = |name: &'static str, labels: &[(&'static str, &'static str)]| {
            recorder.register_counter(&key(name, labels), &METADATA)
        };
        let gauge = |name: &'static str, labels: &[(&'static str, &'static str)]| {
            recorder.register_gauge(&key(name, labels), &METADATA)
        };
        let histogram = |name: &'static str| recorder.register_histogram(&key(name, &[]), &METADATA);
        recorder
            .register_gauge(
                &Key::from_parts(BUILD_INFO, vec![Label::new("version", version.to_owned())]),
                &METADATA,
            )
            .set(1.0);
        let metrics = Self {
            logins: LoginOutcome::ALL.map(|outcome| counter(LOGINS, &[("outcome", outcome.as_str())])),
            refresh_reuse: counter(REFRESH_REUSE, &[]),
            hash_wait: histogram(HASH_WAIT),
            hash_duration: histogram(HASH_DURATION),
            hash_overloaded: counter(HASH_OVERLOADED, &[]),
            hash_queue: gauge(HASH_QUEUE, &[]),
            hash_running: gauge(HASH_RUNNING, &[]),
            hash_slots: gauge(HASH_SLOTS, &[]),
            cache_hits: counter(SESSION_CACHE, &[("result", "hit")]),
            cache_misses: counter(SESSION_CACHE, &[("result", "miss")]),
            db_idle: gauge(DB_CONNECTIONS, &[("state", "idle")]),
            db_in_use: gauge(DB_CONNECTIONS, &[("state", "in_use")]),
            db_max: gauge(DB_MAX_CONNECTIONS, &[]),
            email_deliveries: EmailDelivery::ALL
                .map(|outcome| counter(EMAIL_DELIVERIES, &[("outcome", outcome.as_str())])),
            email_pending: gauge(EMAIL_PENDING, &[]),
            handle: recorder.handle(),
            recorder,
        };
        for counter in metrics.logins.iter().chain(&metrics.email_deliveries) {
            counter.increment(0);
        }
        metrics.refresh_reuse.increment(0);
        metrics.hash_overloaded.increment(0);
        metrics.cache_hits.increment(0);
        metrics.cache_misses.increment(0);
        metrics
    }

    /// Counts one HTTP request: `method` (a standard method's name, or
    /// `OTHER`), `route` (the matched route's template, or a fixed name for
    /// none), the response's `status`, and the time it took.
    pub fn http_request(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        let labels = vec![
            Label::from_static_parts("method", method),
            Label::new("route", route.to_owned()),
            Label::new("status", status_label(status)),
        ];
        let key = Key::from_parts(HTTP_REQUESTS, labels);
        self.recorder.register_counter(&key, &METADATA).increment(1);
        let key = Key::from_parts(HTTP_DURATION, key.labels().cloned().collect::<Vec<_>>());
        self.recorder
            .register_histogram(&key, &METADATA)
            .record(elapsed.as_secs_f64());
    }

    /// Sets the hashing pool's gauges: hashes `running`, `queued` for a slot,
    /// and the `slots` there are.
    pub fn hashing_load(&self, running: usize, queued: usize, slots: usize) {
        self.hash_running.set(as_f64(running));
        self.hash_queue.set(as_f64(queued));
        self.hash_slots.set(as_f64(slots));
    }

    /// Sets the database pool's gauges: connections `open` (of which `idle`)
    /// and the most it opens.
    pub fn db_pool(&self, open: u32, idle: u32, max: u32) {
        self.db_idle.set(f64::from(idle));
        self.db_in_use.set(f64::from(open.saturating_sub(idle)));
        self.db_max.set(f64::from(max));
    }

    /// Every metric in the Prometheus text format, version 0.0.4.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds the histograms' recent samples into their buckets. Rendering
    /// does it too; between scrapes, call it every few seconds so the samples
    /// waiting to be folded stay few.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

impl Metrics for PrometheusMetrics {
    fn login(&self, outcome: LoginOutcome) {
        let index = LoginOutcome::ALL.iter().position(|o| *o == outcome);
        if let Some(counter) = index.and_then(|i| self.logins.get(i)) {
            counter.increment(1);
        }
    }

    fn refresh_reuse_detected(&self) {
        self.refresh_reuse.increment(1);
    }

    fn rate_limited(&self, action: LimitedAction, limit: Limit) {
        let key = key(
            RATE_LIMITED,
            &[("action", action.as_str()), ("limit", limit.as_str())],
        );
        self.recorder.register_counter(&key, &METADATA).increment(1);
    }

    fn hash_waited(&self, waited: Duration) {
        self.hash_wait.record(waited.as_secs_f64());
    }

    fn hashed(&self, took: Duration) {
        self.hash_duration.record(took.as_secs_f64());
    }

    fn hash_overloaded(&self) {
        self.hash_overloaded.increment(1);
    }

    fn session_cache(&self, hit: bool) {
        if hit {
            self.cache_hits.increment(1);
        } else {
            self.cache_misses.increment(1);
        }
    }

    fn email_delivery(&self, outcome: EmailDelivery) {
        let index = EmailDelivery::ALL.iter().position(|o| *o == outcome);
        if let Some(counter) = index.and_then(|i| self.email_deliveries.get(i)) {
            counter.increment(1);
        }
    }

    fn email_outbox_pending(&self, pending: u64) {
        self.email_pending
            .set(u32::try_from(pending).map_or(f64::from(u32::MAX), f64::from));
    }
}

fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::from_static_parts(k, v))
        .collect();
    Key::from_parts(name, labels)
}

/// A status code as a label value, without allocating for the usual ones.
fn status_label(status: u16) -> SharedString {
    let text: &'static str = match status {
        200 => "200",
        201 => "201",
        202 => "202",
        204 => "204",
        301 => "301",
        302 => "302",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        413 => "413",
        415 => "415",
        422 => "422",
        429 => "429",
        500 => "500",
        503 => "503",
        other => return SharedString::from_owned(other.to_string()),
    };
    SharedString::const_str(text)
}

fn as_f64(n: usize) -> f64 {
    // Counts of waiting callers and slots: far below 2^52, exact as f64.
    u32::try_from(n).map_or(f64::from(u32::MAX), f64::from)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Every sample line: `name{labels} value` or `name value`.
    fn samples(text: &str) -> Vec<(String, f64)> {
        text.lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').expect("name and value");
                (series.to_owned(), value.parse().expect("a number"))
            })
            .collect()
    }

    fn value(text: &str, series: &str) -> Option<f64> {
        samples(text)
            .into_iter()
            .find(|(s, _)| s == series)
            .map(|(_, v)| v)
    }

    #[test]
    fn login_outcomes_start_at_zero_and_count() {
        let metrics = PrometheusMetrics::new("1.2.3");
        assert_eq!(
            value(&metrics.render(), r#"latch_logins_total{outcome="success"}"#),
            Some(0.0)
        );
        metrics.login(LoginOutcome::Success);
        metrics.login(LoginOutcome::InvalidCredentials);
        metrics.login(LoginOutcome::InvalidCredentials);
        let text = metrics.render();
        assert_eq!(
            value(&text, r#"latch_logins_total{outcome="success"}"#),
            Some(1.0)
        );
        assert_eq!(
            value(&text, r#"latch_logins_total{outcome="invalid_credentials"}"#),
            Some(2.0)
        );
        assert_eq!(value(&text, r#"latch_build_info{version="1.2.3"}"#), Some(1.0));
    }

    #[test]
    fn two_instances_keep_their_own_numbers() {
        let (first, second) = (PrometheusMetrics::default(), PrometheusMetrics::default());
        first.refresh_reuse_detected();
        let series = "latch_refresh_token_reuse_detected_total";
        assert_eq!(value(&first.render(), series), Some(1.0));
        assert_eq!(value(&second.render(), series), Some(0.0));
    }

    #[test]
    fn request_durations_are_histograms_with_the_route_template() {
        let metrics = PrometheusMetrics::default();
        metrics.http_request("GET", "/api/v1/users/me", 200, Duration::from_millis(3));
        let text = metrics.render();
        let labels = r#"method="GET",route="/api/v1/users/me",status="200""#;
        assert_eq!(
            value(&text, &format!("latch_http_requests_total{{{labels}}}")),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                &format!("latch_http_request_duration_seconds_bucket{{{labels},le=\"0.005\"}}")
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                &format!("latch_http_request_duration_seconds_bucket{{{labels},le=\"0.0025\"}}")
            ),
            Some(0.0)
        );
        assert!(
            text.contains("# TYPE latch_http_request_duration_seconds histogram"),
            "{text}"
        );
    }

    #[test]
    fn gauges_show_what_was_last_sampled() {
        let metrics = PrometheusMetrics::default();
        metrics.hashing_load(2, 5, 2);
        metrics.db_pool(4, 1, 16);
        let text = metrics.render();
        assert_eq!(value(&text, "latch_password_hash_queue_depth"), Some(5.0));
        assert_eq!(value(&text, "latch_password_hashes_running"), Some(2.0));
        assert_eq!(
            value(&text, r#"latch_db_pool_connections{state="in_use"}"#),
            Some(3.0)
        );
        assert_eq!(
            value(&text, r#"latch_db_pool_connections{state="idle"}"#),
            Some(1.0)
        );
        assert_eq!(value(&text, "latch_db_pool_max_connections"), Some(16.0));
    }

    #[test]
    fn rate_limit_refusals_are_labelled_by_action_and_limit() {
        let metrics = PrometheusMetrics::default();
        metrics.rate_limited(LimitedAction::Login, Limit::LoginBackoff);
        let text = metrics.render();
        assert_eq!(
            value(
                &text,
                r#"latch_rate_limited_total{action="login",limit="login_backoff"}"#
            ),
            Some(1.0)
        );
    }
}
