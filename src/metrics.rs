//! Prometheus metrics, served at `GET /metrics` when `--metrics` is on.
//!
//! Counted: provider requests by provider, route template and status; fixture matches
//! and misses; recordings written; chaos faults by action and path; and a histogram of
//! the time to the response head by provider. The fixtures currently loaded are a gauge
//! read at scrape time.
//!
//! # Design
//! The `prometheus-client` crate keeps the exposition format right (escaping, `_total`
//! suffixes, histogram buckets); it writes OpenMetrics text, which Prometheus scrapes
//! natively. Labels are `&'static str` and integers, so counting a request allocates
//! nothing once its label set exists: a read lock and an atomic add. With metrics off
//! the server holds no `Metrics` at all and the hot path pays nothing.
//!
//! Not here: deciding when something is counted (`server::pipeline`, `record`).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::chaos::Action;
use crate::providers::{anthropic, bedrock, cohere, gemini, ollama, openai, Surface};

/// The `Content-Type` of the exposition.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    provider: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChaosLabels {
    action: &'static str,
    source: &'static str,
}

/// A mounted service's requests: its name is a `String` (services are named at run
/// time), interned once per label set by the family.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
    status: u16,
}

type HistogramFamily = Family<ProviderLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s: replay answers in well under a millisecond, proxied streams
    // take seconds.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 16,
    ))
}

/// Every metric aimock exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: HistogramFamily,
    matches: Counter,
    misses: Counter,
    recordings: Counter,
    chaos: Family<ChaosLabels, Counter>,
    fixtures_loaded: Gauge,
    service_requests: Family<ServiceLabels, Counter>,
    refusals: Family<RefusalLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    guard: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("aimock");
        let requests = Family::<RequestLabels, Counter>::default();
        let duration: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let matches = Counter::default();
        let misses = Counter::default();
        let recordings = Counter::default();
        let chaos = Family::<ChaosLabels, Counter>::default();
        let fixtures_loaded = Gauge::default();
        registry.register(
            "requests",
            "Provider requests handled, by provider, route and status",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request to response head, by provider",
            duration.clone(),
        );
        registry.register(
            "fixture_matches",
            "Provider requests answered by a fixture",
            matches.clone(),
        );
        registry.register(
            "fixture_misses",
            "Provider requests no fixture matched",
            misses.clone(),
        );
        registry.register(
            "recordings",
            "Recorded fixtures written to disk",
            recordings.clone(),
        );
        registry.register(
            "chaos",
            "Chaos faults injected, by action and path (fixture or proxy)",
            chaos.clone(),
        );
        registry.register(
            "fixtures_loaded",
            "Fixtures currently loaded",
            fixtures_loaded.clone(),
        );
        let service_requests = Family::<ServiceLabels, Counter>::default();
        registry.register(
            "service_requests",
            "Requests answered by mounted services (MCP, A2A, AG-UI, ...), by service and status",
            service_requests.clone(),
        );
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "access_refusals",
            "Requests refused by access control, by guard (api_key, control)",
            refusals.clone(),
        );
        Metrics {
            refusals,
            service_requests,
            registry,
            requests,
            duration,
            matches,
            misses,
            recordings,
            chaos,
            fixtures_loaded,
        }
    }

    /// Count one answered provider request.
    pub fn request(&self, surface: &Surface, status: u16, took: Duration) {
        self.count(surface.provider(), route_template(surface), status, took);
    }

    /// Count one request answered by a mounted service.
    pub fn service_request(&self, service: &str, status: u16, _took: Duration) {
        self.service_requests
            .get_or_create(&ServiceLabels {
                service: service.to_string(),
                status,
            })
            .inc();
    }

    /// Count one realtime WebSocket turn, as a request on its route (`/v1/realtime`, ...).
    pub fn socket_turn(
        &self,
        provider: &'static str,
        route: &'static str,
        status: u16,
        took: Duration,
    ) {
        self.count(provider, route, status, took);
    }

    fn count(&self, provider: &'static str, route: &'static str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                provider,
                route,
                status,
            })
            .inc();
        self.duration
            .get_or_create(&ProviderLabels { provider })
            .observe(took.as_secs_f64());
    }

    /// Count a fixture match.
    /// A request refused by access control (`guard`: `api_key` or `control`).
    pub fn refused(&self, guard: &'static str) {
        self.refusals.get_or_create(&RefusalLabels { guard }).inc();
    }

    pub fn matched(&self) {
        self.matches.inc();
    }

    /// Count a miss.
    pub fn missed(&self) {
        self.misses.inc();
    }

    /// Count a recording written.
    pub fn recorded(&self) {
        self.recordings.inc();
    }

    /// Count a chaos fault; `proxy` when it hit the record/proxy path.
    pub fn chaos(&self, action: Action, proxy: bool) {
        self.chaos
            .get_or_create(&ChaosLabels {
                action: action.as_str(),
                source: if proxy { "proxy" } else { "fixture" },
            })
            .inc();
    }

    /// The exposition text, with the fixture gauge set to `fixtures`.
    pub fn render(&self, fixtures: usize) -> String {
        self.fixtures_loaded
            .set(i64::try_from(fixtures).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The route a surface was served on, as a template (bounded label cardinality: model
/// names and deployments never become labels).
pub(crate) fn route_template(surface: &Surface) -> &'static str {
    match surface {
        Surface::OpenAi(openai::Op::Chat {
            azure_deployment: None,
        }) => "/v1/chat/completions",
        Surface::OpenAi(openai::Op::Chat {
            azure_deployment: Some(_),
        }) => "/openai/deployments/{deployment}/chat/completions",
        Surface::OpenAi(openai::Op::Embeddings {
            azure_deployment: None,
        }) => "/v1/embeddings",
        Surface::OpenAi(openai::Op::Embeddings {
            azure_deployment: Some(_),
        }) => "/openai/deployments/{deployment}/embeddings",
        Surface::OpenAi(openai::Op::OpenRouterChat) => "/api/v1/chat/completions",
        Surface::OpenAi(openai::Op::Responses) => "/v1/responses",
        Surface::OpenAi(openai::Op::Images { edit, azure_deployment }) => {
            match (edit, azure_deployment.is_some()) {
                (false, false) => "/v1/images/generations",
                (true, false) => "/v1/images/edits",
                (false, true) => "/openai/deployments/{deployment}/images/generations",
                (true, true) => "/openai/deployments/{deployment}/images/edits",
            }
        }
        Surface::OpenAi(openai::Op::Speech { azure_deployment: None }) => "/v1/audio/speech",
        Surface::OpenAi(openai::Op::Speech { azure_deployment: Some(_) }) => {
            "/openai/deployments/{deployment}/audio/speech"
        }
        Surface::OpenAi(openai::Op::Transcribe { translate, azure_deployment }) => {
            match (translate, azure_deployment.is_some()) {
                (false, false) => "/v1/audio/transcriptions",
                (true, false) => "/v1/audio/translations",
                (false, true) => "/openai/deployments/{deployment}/audio/transcriptions",
                (true, true) => "/openai/deployments/{deployment}/audio/translations",
            }
        }
        Surface::OpenAi(openai::Op::Video(v)) => match v {
            openai::video::VideoOp::Create => "/v1/videos",
            openai::video::VideoOp::Retrieve { .. } => "/v1/videos/{id}",
            openai::video::VideoOp::Content { .. } => "/v1/videos/{id}/content",
        },
        Surface::Gemini(gemini::Op::Predict { vertex: false, .. }) => "/v1beta/models/{model}:predict",
        Surface::Gemini(gemini::Op::Predict { vertex: true, .. }) => {
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:predict"
        }
        Surface::Gemini(gemini::Op::PredictLongRunning { resource: None, .. }) => {
            "/v1beta/models/{model}:predictLongRunning"
        }
        Surface::Gemini(gemini::Op::PredictLongRunning { resource: Some(_), .. }) => {
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:predictLongRunning"
        }
        Surface::Gemini(gemini::Op::FetchOperation { .. }) => {
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:fetchPredictOperation"
        }
        Surface::Gemini(gemini::Op::Operation { .. }) => "/v1beta/operations/{id}",
        Surface::Anthropic(anthropic::Op::Messages) => "/v1/messages",
        Surface::Anthropic(anthropic::Op::Foundry) => "/anthropic/v1/messages",
        Surface::OpenAi(openai::Op::Moderations) => "/v1/moderations",
        Surface::Cohere(cohere::Op::Rerank) => "/v2/rerank",
        Surface::Tavily(_) => "/search",
        Surface::Gemini(gemini::Op::Generate { stream, vertex, .. }) => match (vertex, stream) {
            (false, false) => "/v1beta/models/{model}:generateContent",
            (false, true) => "/v1beta/models/{model}:streamGenerateContent",
            (true, false) => {
                "/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent"
            }
            (true, true) => {
                "/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:streamGenerateContent"
            }
        },
        Surface::Gemini(gemini::Op::Embed { batch, vertex, .. }) => match (vertex, batch) {
            (false, false) => "/v1beta/models/{model}:embedContent",
            (false, true) => "/v1beta/models/{model}:batchEmbedContents",
            (true, false) => {
                "/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:embedContent"
            }
            (true, true) => {
                "/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:batchEmbedContents"
            }
        },
        Surface::Bedrock(bedrock::Op::Invoke { stream: false, .. }) => "/model/{modelId}/invoke",
        Surface::Bedrock(bedrock::Op::Invoke { stream: true, .. }) => "/model/{modelId}/invoke-with-response-stream",
        Surface::Bedrock(bedrock::Op::Converse { stream: false, .. }) => "/model/{modelId}/converse",
        Surface::Bedrock(bedrock::Op::Converse { stream: true, .. }) => "/model/{modelId}/converse-stream",
        Surface::Cohere(cohere::Op::Chat) => "/v2/chat",
        Surface::Cohere(cohere::Op::Embed) => "/v2/embed",
        Surface::Ollama(ollama::Op::Chat) => "/api/chat",
        Surface::Ollama(ollama::Op::Generate) => "/api/generate",
        Surface::Ollama(ollama::Op::Embed { legacy: false }) => "/api/embed",
        Surface::Ollama(ollama::Op::Embed { legacy: true }) => "/api/embeddings",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_metric_with_its_labels() {
        let m = Metrics::new();
        let s = Surface::OpenAi(openai::Op::Chat {
            azure_deployment: None,
        });
        m.request(&s, 200, Duration::from_millis(2));
        m.request(&s, 200, Duration::from_millis(2));
        m.matched();
        m.chaos(Action::Drop, false);
        let text = m.render(3);
        assert!(
            text.contains(
                r#"aimock_requests_total{provider="openai",route="/v1/chat/completions",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains("aimock_fixture_matches_total 1"));
        assert!(text.contains("aimock_fixture_misses_total 0"));
        assert!(text.contains(r#"aimock_chaos_total{action="drop",source="fixture"} 1"#));
        assert!(text.contains(r#"aimock_request_duration_seconds_count{provider="openai"} 2"#));
        assert!(text.contains("aimock_fixtures_loaded 3"));
        assert!(text.ends_with("# EOF\n"));
    }
}
