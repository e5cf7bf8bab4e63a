//! Mounted services: the non-LLM mocks an agent's request path also talks to (MCP tool
//! servers, A2A agents, an AG-UI front end, vector databases, search, rerank,
//! moderation), served on the model's port under a path prefix each.
//!
//! A [`Service`] is four things: a name, a path prefix, a handler from a request to a
//! response, and a health report and a reset. The [`Services`] registry is fixed at
//! start-up and held by the server's shared state; the pipeline hands a request under a
//! mounted prefix to its service (before provider routing), `/health` lists each
//! service's report, the journal records the request with a `service` field, and
//! `POST /__aimock/reset` resets every service.
//!
//! Each service lives in a folder of its own under `services/`, claiming its config
//! section (one of [`crate::config::file::SERVICE_SECTIONS`], which the config file
//! keeps as written) in [`CONFIGURED`]; a test holds the two lists to each other.
//! Served: the agent stack, `mcp`, `a2a` and
//! `agui` (sharing `wire` for replies, `source` for their own files, `upstream` for
//! recording, and `codec::jsonrpc`); the vector databases (`vector`); and `web`, which
//! turns the `services` section into search, rerank and moderation fixtures (those
//! three are provider surfaces, answered from the cassettes).
//!
//! Not here: protocol codecs (`codec::jsonrpc`, `codec::sse`); WebSocket surfaces are
//! `server::websocket`'s.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::{Map, Value};

use crate::respond::body::Body;

pub mod a2a;
pub mod agui;
pub mod mcp;
pub mod source;
pub mod upstream;
pub mod vector;
pub mod web;
pub mod wire;

/// Builds the services one config section asks for: the section as written, and the
/// whole configuration (for the config file's directory, the cassettes, the secrets
/// detector). An invalid section is an error naming the key, which stops the start.
pub type FromSection = fn(&Value, &crate::config::Config) -> anyhow::Result<Vec<Arc<dyn Service>>>;

/// The services that claim a config section, with the builder each section feeds.
/// A service arriving with its issue adds its line here.
#[rustfmt::skip]
const CONFIGURED: &[(&str, FromSection)] = &[
    ("mcp", mcp::from_section),
    ("a2a", a2a::from_section),
    ("agui", agui::from_section),
    ("vector", vector::from_section),
    ("services", web::from_section),
];

/// Some mounted service reads config section `name`.
pub fn serves_section(name: &str) -> bool {
    CONFIGURED.iter().any(|(s, _)| *s == name)
}

/// Mount every service the configuration's sections ask for into `services`.
pub fn mount_configured(
    config: &crate::config::Config,
    services: &mut Services,
) -> anyhow::Result<()> {
    for (section, build) in CONFIGURED {
        let Some(v) = config.sections.get(*section) else {
            continue;
        };
        let built =
            build(v, config).map_err(|e| e.context(format!("config section `{section}`")))?;
        for s in built {
            services
                .mount(s)
                .map_err(|e| anyhow::anyhow!("config section `{section}`: {e}"))?;
        }
    }
    Ok(())
}

/// A request as a mounted service sees it: read in full (services answer small JSON
/// bodies; a streaming service can take its body from a later version of this seam).
#[derive(Debug)]
pub struct ServiceRequest {
    /// The method.
    pub method: Method,
    /// The whole path, prefix included.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// What a service's handler returns.
pub type Reply<'a> = Pin<Box<dyn Future<Output = http::Response<Body>> + Send + 'a>>;

/// One mounted service.
pub trait Service: Send + Sync {
    /// Its name: the key in `/health`'s `services` and the journal's `service` field.
    fn name(&self) -> &str;
    /// The path prefix it answers under (`/mcp`): the prefix itself and every path
    /// below it (`/mcp/...`), not `/mcpx`.
    fn prefix(&self) -> &str;
    /// Answer one request.
    fn handle(&self, req: ServiceRequest) -> Reply<'_>;
    /// Its entry in `/health` (`{"status":"ok",...}`).
    fn health(&self) -> Value;
    /// Forget run-time state (`POST /__aimock/reset`).
    fn reset(&self);
}

/// The services mounted on this server, fixed at start-up.
#[derive(Default, Clone)]
pub struct Services {
    mounted: Vec<Arc<dyn Service>>,
}

impl Services {
    /// Mount `service`. A later service with the same prefix is never reached, so that
    /// is refused with the prefix named.
    pub fn mount(&mut self, service: Arc<dyn Service>) -> Result<(), String> {
        if self.mounted.iter().any(|s| s.prefix() == service.prefix()) {
            return Err(format!(
                "two services mounted at {}: {} and {}",
                service.prefix(),
                self.find_exact(service.prefix()).map_or("?", |s| s.name()),
                service.name()
            ));
        }
        self.mounted.push(service);
        Ok(())
    }

    /// No service is mounted: the pipeline skips the lookup (one length check).
    pub fn is_empty(&self) -> bool {
        self.mounted.is_empty()
    }

    /// The service `path` belongs to, if any: the longest mounted prefix of it.
    pub fn find(&self, path: &str) -> Option<&Arc<dyn Service>> {
        self.mounted
            .iter()
            .filter(|s| under(path, s.prefix()))
            .max_by_key(|s| s.prefix().len())
    }

    fn find_exact(&self, prefix: &str) -> Option<&Arc<dyn Service>> {
        self.mounted.iter().find(|s| s.prefix() == prefix)
    }

    /// Every service's health report, by name.
    pub fn health(&self) -> Map<String, Value> {
        self.mounted
            .iter()
            .map(|s| (s.name().to_string(), s.health()))
            .collect()
    }

    /// Reset every service.
    pub fn reset(&self) {
        for s in &self.mounted {
            s.reset();
        }
    }
}

/// `path` is `prefix` or below it.
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || prefix.is_empty(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str, &'static str);

    impl Service for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn prefix(&self) -> &str {
            self.1
        }
        fn handle(&self, _req: ServiceRequest) -> Reply<'_> {
            Box::pin(async { http::Response::new(Body::empty()) })
        }
        fn health(&self) -> Value {
            serde_json::json!({"status": "ok"})
        }
        fn reset(&self) {}
    }

    #[test]
    fn a_path_belongs_to_the_longest_prefix_it_is_under_and_only_at_a_segment_boundary() {
        let mut s = Services::default();
        s.mount(Arc::new(Named("mcp", "/mcp"))).unwrap();
        s.mount(Arc::new(Named("tools", "/mcp/tools"))).unwrap();
        assert_eq!(s.find("/mcp").map(|x| x.name()), Some("mcp"));
        assert_eq!(s.find("/mcp/").map(|x| x.name()), Some("mcp"));
        assert_eq!(s.find("/mcp/rpc").map(|x| x.name()), Some("mcp"));
        assert_eq!(s.find("/mcp/tools/list").map(|x| x.name()), Some("tools"));
        assert!(s.find("/mcpx").is_none());
        assert!(s.find("/v1/chat/completions").is_none());
    }

    #[test]
    fn every_section_the_config_file_keeps_is_claimed_by_a_service_and_back() {
        for s in crate::config::file::SERVICE_SECTIONS {
            assert!(
                serves_section(s),
                "section `{s}` is kept but no service claims it"
            );
        }
        for (s, _) in CONFIGURED {
            assert!(
                crate::config::file::SERVICE_SECTIONS.contains(s),
                "service section `{s}` is not kept by the config file"
            );
        }
    }

    #[test]
    fn two_services_at_one_prefix_are_refused_naming_both() {
        let mut s = Services::default();
        s.mount(Arc::new(Named("a", "/x"))).unwrap();
        let e = s.mount(Arc::new(Named("b", "/x"))).unwrap_err();
        assert!(
            e.contains("/x") && e.contains('a') && e.contains('b'),
            "{e}"
        );
    }
}
