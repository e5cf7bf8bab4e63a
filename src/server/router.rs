//! Pure routing: (method, path) to a [`Route`]. No I/O, no state.

use http::Method;

use crate::providers::openai::video::VideoOp;
use crate::providers::{anthropic, bedrock, cohere, gemini, ollama, openai, tavily, Surface};

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// CORS preflight.
    Preflight,
    /// `GET /health`.
    Health,
    /// `GET /ready`.
    Ready,
    /// `GET /v1/models`.
    Models,
    /// `GET /v1/models/{id}` (one model).
    Model(String),
    /// `GET /api/tags` (Ollama's model list).
    OllamaTags,
    /// `GET /api/v1/models` (OpenRouter's model list).
    OpenRouterModels,
    /// `GET /metrics`.
    Metrics,
    /// The control API (`/__aimock/*`, `/v1/_requests`).
    Control(super::control::Op),
    /// A provider surface.
    Provider(Surface),
    /// A known path with the wrong method; the surface it names, whose error shape the
    /// 405 takes.
    MethodNotAllowed(Option<Surface>),
    /// Nothing here; the provider the path names, if any, whose error shape the 404
    /// takes (an unknown `/v1beta/models/m:op` is Gemini's).
    NotFound(Option<Surface>),
}

/// Route a request.
pub fn route(method: &Method, path: &str) -> Route {
    if method == Method::OPTIONS {
        return Route::Preflight;
    }
    let get = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let want = |ok: bool, r: Route| match r {
        r if ok => r,
        Route::Provider(s) => Route::MethodNotAllowed(Some(s)),
        _ => Route::MethodNotAllowed(None),
    };
    match path {
        "/health" | "/__aimock/health" => return want(get, Route::Health),
        "/ready" => return want(get, Route::Ready),
        "/v1/models" | "/models" => return want(get, Route::Models),
        "/v1/chat/completions" | "/chat/completions" => {
            return want(
                post,
                Route::Provider(Surface::OpenAi(openai::Op::Chat {
                    azure_deployment: None,
                })),
            )
        }
        "/v1/embeddings" | "/embeddings" => {
            return want(
                post,
                Route::Provider(Surface::OpenAi(openai::Op::Embeddings {
                    azure_deployment: None,
                })),
            )
        }
        "/v1/responses" | "/responses" => {
            return want(
                post,
                Route::Provider(Surface::OpenAi(openai::Op::Responses)),
            )
        }
        "/v1/messages" => {
            return want(
                post,
                Route::Provider(Surface::Anthropic(anthropic::Op::Messages)),
            )
        }
        "/v2/chat" => return want(post, Route::Provider(Surface::Cohere(cohere::Op::Chat))),
        "/v2/embed" => return want(post, Route::Provider(Surface::Cohere(cohere::Op::Embed))),
        "/v2/rerank" => return want(post, Route::Provider(Surface::Cohere(cohere::Op::Rerank))),
        "/search" => return want(post, Route::Provider(Surface::Tavily(tavily::Op::Search))),
        "/v1/moderations" | "/moderations" => {
            return want(
                post,
                Route::Provider(Surface::OpenAi(openai::Op::Moderations)),
            )
        }
        "/api/chat" => return want(post, Route::Provider(Surface::Ollama(ollama::Op::Chat))),
        "/api/generate" => {
            return want(post, Route::Provider(Surface::Ollama(ollama::Op::Generate)))
        }
        "/api/embed" => {
            return want(
                post,
                Route::Provider(Surface::Ollama(ollama::Op::Embed { legacy: false })),
            )
        }
        "/api/embeddings" => {
            return want(
                post,
                Route::Provider(Surface::Ollama(ollama::Op::Embed { legacy: true })),
            )
        }
        "/api/tags" => return want(get, Route::OllamaTags),
        "/metrics" => return want(get, Route::Metrics),
        // OpenAI removed variations: the reference answers 404 without consulting a
        // fixture, and so do we.
        "/v1/images/variations" => return Route::NotFound(None),
        "/v1/videos" => {
            return want(
                post,
                Route::Provider(Surface::OpenAi(openai::Op::Video(VideoOp::Create))),
            )
        }
        _ => {}
    }
    if let Some(op) = openai_media(path, None) {
        return want(post, Route::Provider(Surface::OpenAi(op)));
    }
    if let Some(rest) = path.strip_prefix("/v1/videos/") {
        let op = match rest.split_once('/') {
            None if !rest.is_empty() => Some(VideoOp::Retrieve { id: decode(rest) }),
            Some((id, "content")) if !id.is_empty() => Some(VideoOp::Content { id: decode(id) }),
            _ => None,
        };
        if let Some(op) = op {
            return want(get, Route::Provider(Surface::OpenAi(openai::Op::Video(op))));
        }
    }
    if let Some(id) = gemini_operation(path) {
        return want(
            get,
            Route::Provider(Surface::Gemini(gemini::Op::Operation { id })),
        );
    }
    if let Some(c) = super::control::route(method, path) {
        return c.map_or(Route::MethodNotAllowed(None), Route::Control);
    }
    if get {
        if let Some(id) = path
            .strip_prefix("/v1/models/")
            .filter(|id| !id.is_empty() && !id.contains(':'))
        {
            return Route::Model(decode(id));
        }
    }
    if let Some(s) = google_surface(path) {
        return want(post, Route::Provider(s));
    }
    if let Some(s) = bedrock_surface(path) {
        return want(post, Route::Provider(s));
    }
    if let Some(rest) = path.strip_prefix("/openai/deployments/") {
        if let Some((deployment, op)) = rest.split_once('/') {
            let deployment = percent_encoding::percent_decode_str(deployment)
                .decode_utf8_lossy()
                .into_owned();
            let surface = match op {
                "chat/completions" => Some(Surface::OpenAi(openai::Op::Chat {
                    azure_deployment: Some(deployment),
                })),
                "embeddings" => Some(Surface::OpenAi(openai::Op::Embeddings {
                    azure_deployment: Some(deployment),
                })),
                _ => openai_media(&format!("/v1/{op}"), Some(deployment)).map(Surface::OpenAi),
            };
            if let Some(s) = surface {
                return want(post, Route::Provider(s));
            }
        }
    }
    // Tried only once every path above missed, so the hot paths pay nothing for them.
    match path {
        "/api/v1/chat/completions" => {
            return want(
                post,
                Route::Provider(Surface::OpenAi(openai::Op::OpenRouterChat)),
            )
        }
        "/api/v1/models" => return want(get, Route::OpenRouterModels),
        "/anthropic/v1/messages" => {
            return want(
                post,
                Route::Provider(Surface::Anthropic(anthropic::Op::Foundry)),
            )
        }
        // A compatible prefix's model list (`/openai/v1/models`), in OpenAI's shape.
        _ if get && path.ends_with("/v1/models") => return Route::Models,
        _ => {}
    }
    // OpenAI-compatible prefixes (`/openai/v1/...`, `/proxy/x/v1/...`, `/v4/...`): any
    // path ending in an OpenAI operation, forwarded upstream with the prefix kept.
    if post && !path.starts_with("/v1/") {
        if path.ends_with("/chat/completions") {
            return Route::Provider(Surface::OpenAi(openai::Op::Chat {
                azure_deployment: None,
            }));
        }
        if path.ends_with("/embeddings") {
            return Route::Provider(Surface::OpenAi(openai::Op::Embeddings {
                azure_deployment: None,
            }));
        }
        // The media suffixes, as the reference's compat rewrite to `/v1<suffix>`.
        for suffix in [
            "/images/generations",
            "/images/edits",
            "/audio/speech",
            "/audio/transcriptions",
            "/audio/translations",
        ] {
            if path.ends_with(suffix) {
                if let Some(op) = openai_media(&format!("/v1{suffix}"), None) {
                    return Route::Provider(Surface::OpenAi(op));
                }
            }
        }
    }
    Route::NotFound(named_provider(path))
}

/// OpenAI's media routes under `/v1/` (an Azure deployment path passes its operation
/// as `/v1/{op}` with the deployment).
fn openai_media(path: &str, azure_deployment: Option<String>) -> Option<openai::Op> {
    Some(match path {
        "/v1/images/generations" => openai::Op::Images {
            edit: false,
            azure_deployment,
        },
        "/v1/images/edits" => openai::Op::Images {
            edit: true,
            azure_deployment,
        },
        "/v1/audio/speech" => openai::Op::Speech { azure_deployment },
        "/v1/audio/transcriptions" => openai::Op::Transcribe {
            translate: false,
            azure_deployment,
        },
        "/v1/audio/translations" => openai::Op::Transcribe {
            translate: true,
            azure_deployment,
        },
        _ => return None,
    })
}

/// A Veo operation poll: `/v1beta/models/{m}/operations/{id}` (the names the Gemini
/// API hands out) or `/v1beta/operations/{id}` (the reference's); the id it names.
fn gemini_operation(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v1beta/")?;
    let id = match rest.strip_prefix("operations/") {
        Some(id) => id,
        None => {
            let (model, id) = rest.strip_prefix("models/")?.split_once("/operations/")?;
            if model.is_empty() || model.contains('/') {
                return None;
            }
            id
        }
    };
    (!id.is_empty() && !id.contains('/')).then(|| decode(id))
}

/// The provider a path names without naming one of its operations, for the shape of
/// its 404: a Gemini or Vertex model path, a Bedrock model path, Anthropic's, Cohere's
/// or Ollama's prefix, an Azure deployment. `/v1/...` names no one (it is shared).
fn named_provider(path: &str) -> Option<Surface> {
    let gemini = |vertex| {
        Surface::Gemini(gemini::Op::Generate {
            model: String::new(),
            stream: false,
            vertex,
        })
    };
    if path.starts_with("/v1beta/models/")
        || (path.starts_with("/v1/models/") && path.contains(':'))
    {
        return Some(gemini(false));
    }
    if path.starts_with("/v1/projects/") || path.starts_with("/v1beta1/projects/") {
        return Some(gemini(true));
    }
    if path.starts_with("/model/") {
        return Some(Surface::Bedrock(bedrock::Op::Invoke {
            model: String::new(),
            stream: false,
        }));
    }
    if path.starts_with("/v1/messages/") {
        return Some(Surface::Anthropic(anthropic::Op::Messages));
    }
    if path.starts_with("/anthropic/") {
        return Some(Surface::Anthropic(anthropic::Op::Foundry));
    }
    if path.starts_with("/api/v1/") {
        return Some(Surface::OpenAi(openai::Op::OpenRouterChat));
    }
    if path.starts_with("/v2/") {
        return Some(Surface::Cohere(cohere::Op::Chat));
    }
    // `/api/v1/...` is an OpenAI-compatible prefix, not Ollama's.
    if path.starts_with("/api/") && !path.starts_with("/api/v1/") {
        return Some(Surface::Ollama(ollama::Op::Chat));
    }
    if path.starts_with("/openai/deployments/") {
        return Some(Surface::OpenAi(openai::Op::Chat {
            azure_deployment: Some(String::new()),
        }));
    }
    None
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Gemini (`/v1beta|/v1/models/{m}:op`) and Vertex AI
/// (`/v1|/v1beta1/projects/{p}/locations/{l}/publishers/google/models/{m}:op`).
fn google_surface(path: &str) -> Option<Surface> {
    let mut vertex_at: Option<(&str, &str)> = None;
    let (vertex, rest) = if let Some(r) = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))
    {
        (false, r)
    } else {
        let r = path
            .strip_prefix("/v1/projects/")
            .or_else(|| path.strip_prefix("/v1beta1/projects/"))?;
        // {p}/locations/{l}/publishers/google/models/{m}:op
        let mut it = r.splitn(6, '/');
        let (_p, loc, _l, publ, _g, rest) = (
            it.next()?,
            it.next()?,
            it.next()?,
            it.next()?,
            it.next()?,
            it.next()?,
        );
        if loc != "locations" || publ != "publishers" {
            return None;
        }
        vertex_at = Some((_p, _l));
        (true, rest.strip_prefix("models/")?)
    };
    let (model, op) = rest.rsplit_once(':')?;
    if model.is_empty() || model.contains('/') {
        return None;
    }
    let model = decode(model);
    match op {
        "generateContent" => Some(Surface::Gemini(gemini::Op::Generate {
            model,
            stream: false,
            vertex,
        })),
        "streamGenerateContent" => Some(Surface::Gemini(gemini::Op::Generate {
            model,
            stream: true,
            vertex,
        })),
        "embedContent" => Some(Surface::Gemini(gemini::Op::Embed {
            model,
            batch: false,
            vertex,
        })),
        "batchEmbedContents" => Some(Surface::Gemini(gemini::Op::Embed {
            model,
            batch: true,
            vertex,
        })),
        "predict" => Some(Surface::Gemini(gemini::Op::Predict { model, vertex })),
        "predictLongRunning" => Some(Surface::Gemini(gemini::Op::PredictLongRunning {
            resource: vertex_at.map(|(p, l)| {
                format!("projects/{p}/locations/{l}/publishers/google/models/{model}")
            }),
            model,
        })),
        "fetchPredictOperation" if vertex => {
            Some(Surface::Gemini(gemini::Op::FetchOperation { model }))
        }
        _ => None,
    }
}

/// Bedrock runtime: `/model/{id}/invoke|invoke-with-response-stream|converse|converse-stream`.
fn bedrock_surface(path: &str) -> Option<Surface> {
    let rest = path.strip_prefix("/model/")?;
    let (id, op) = rest.rsplit_once('/')?;
    if id.is_empty() {
        return None;
    }
    // Model ids arrive percent-encoded (`...-v1%3A0`); match on the decoded id.
    let model = decode(id);
    match op {
        "invoke" => Some(Surface::Bedrock(bedrock::Op::Invoke {
            model,
            stream: false,
        })),
        "invoke-with-response-stream" => Some(Surface::Bedrock(bedrock::Op::Invoke {
            model,
            stream: true,
        })),
        "converse" => Some(Surface::Bedrock(bedrock::Op::Converse {
            model,
            stream: false,
        })),
        "converse-stream" => Some(Surface::Bedrock(bedrock::Op::Converse {
            model,
            stream: true,
        })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_paths_carry_the_deployment() {
        assert_eq!(
            route(
                &Method::POST,
                "/openai/deployments/my%20dep/chat/completions"
            ),
            Route::Provider(Surface::OpenAi(openai::Op::Chat {
                azure_deployment: Some("my dep".into())
            }))
        );
        assert_eq!(
            route(&Method::POST, "/openai/deployments/d/embeddings"),
            Route::Provider(Surface::OpenAi(openai::Op::Embeddings {
                azure_deployment: Some("d".into())
            }))
        );
    }

    #[test]
    fn google_and_bedrock_paths_carry_their_model() {
        assert_eq!(
            route(
                &Method::POST,
                "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
            ),
            Route::Provider(Surface::Gemini(gemini::Op::Generate {
                model: "gemini-2.0-flash".into(),
                stream: true,
                vertex: false
            }))
        );
        assert_eq!(
            route(&Method::POST, "/v1beta1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent"),
            Route::Provider(Surface::Gemini(gemini::Op::Generate { model: "gemini-2.5-pro".into(), stream: false, vertex: true }))
        );
        assert_eq!(
            route(
                &Method::POST,
                "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream"
            ),
            Route::Provider(Surface::Bedrock(bedrock::Op::Invoke {
                model: "anthropic.claude-3-haiku-20240307-v1:0".into(),
                stream: true
            }))
        );
        assert_eq!(
            route(
                &Method::POST,
                "/v1beta/models/text-embedding-004:batchEmbedContents"
            ),
            Route::Provider(Surface::Gemini(gemini::Op::Embed {
                model: "text-embedding-004".into(),
                batch: true,
                vertex: false
            }))
        );
    }

    #[test]
    fn media_paths_route_to_their_operations_also_under_azure() {
        let openai = |op| Route::Provider(Surface::OpenAi(op));
        assert_eq!(
            route(&Method::POST, "/v1/images/edits"),
            openai(openai::Op::Images {
                edit: true,
                azure_deployment: None
            })
        );
        assert_eq!(
            route(&Method::POST, "/openai/deployments/tts/audio/speech"),
            openai(openai::Op::Speech {
                azure_deployment: Some("tts".into())
            })
        );
        assert_eq!(
            route(&Method::POST, "/openai/deployments/w/audio/translations"),
            openai(openai::Op::Transcribe {
                translate: true,
                azure_deployment: Some("w".into())
            })
        );
        assert_eq!(
            route(&Method::GET, "/v1/videos/video_1/content"),
            openai(openai::Op::Video(VideoOp::Content {
                id: "video_1".into()
            }))
        );
        assert_eq!(
            route(&Method::GET, "/v1/videos/video_1"),
            openai(openai::Op::Video(VideoOp::Retrieve {
                id: "video_1".into()
            }))
        );
        assert_eq!(
            route(&Method::POST, "/v1/images/variations"),
            Route::NotFound(None)
        );
        for p in [
            "/v1beta/operations/abc",
            "/v1beta/models/veo-2.0-generate-001/operations/abc",
        ] {
            assert_eq!(
                route(&Method::GET, p),
                Route::Provider(Surface::Gemini(gemini::Op::Operation { id: "abc".into() }))
            );
        }
        assert_eq!(
            route(
                &Method::POST,
                "/v1/projects/p/locations/l/publishers/google/models/imagen-3:predict"
            ),
            Route::Provider(Surface::Gemini(gemini::Op::Predict {
                model: "imagen-3".into(),
                vertex: true
            }))
        );
    }

    #[test]
    fn wrong_method_and_unknown_paths_are_told_apart() {
        assert_eq!(
            route(&Method::GET, "/v1/chat/completions"),
            Route::MethodNotAllowed(Some(Surface::OpenAi(openai::Op::Chat {
                azure_deployment: None
            })))
        );
        assert_eq!(route(&Method::POST, "/v1/nope"), Route::NotFound(None));
        assert_eq!(route(&Method::GET, "/health"), Route::Health);
        assert_eq!(
            route(&Method::POST, "/health"),
            Route::MethodNotAllowed(None)
        );
    }

    #[test]
    fn a_route_miss_on_a_path_naming_a_provider_carries_that_provider() {
        assert_eq!(
            route(&Method::GET, "/v1/messages"),
            Route::MethodNotAllowed(Some(Surface::Anthropic(anthropic::Op::Messages)))
        );
        let Route::NotFound(Some(s)) = route(&Method::POST, "/v1beta/models/x:foo") else {
            panic!("an unknown Gemini action names Gemini")
        };
        assert_eq!(s.provider(), "gemini");
        let Route::NotFound(Some(s)) = route(&Method::POST, "/v1/projects/p/locations/l/x") else {
            panic!("a Vertex path names Vertex")
        };
        assert_eq!(s.provider(), "vertexai");
        assert_eq!(route(&Method::GET, "/nope"), Route::NotFound(None));
        assert_eq!(
            route(&Method::GET, "/api/v1/chat/completions"),
            Route::MethodNotAllowed(Some(Surface::OpenAi(openai::Op::OpenRouterChat)))
        );
        let Route::NotFound(Some(s)) = route(&Method::GET, "/api/v1/credits") else {
            panic!("an OpenRouter path names OpenRouter")
        };
        assert_eq!(s.provider(), "openrouter");
    }

    #[test]
    fn openrouter_foundry_and_compatible_prefixes_route_after_the_known_paths() {
        assert_eq!(
            route(&Method::POST, "/api/v1/chat/completions"),
            Route::Provider(Surface::OpenAi(openai::Op::OpenRouterChat))
        );
        assert_eq!(
            route(&Method::GET, "/api/v1/models"),
            Route::OpenRouterModels
        );
        assert_eq!(route(&Method::GET, "/openai/v1/models"), Route::Models);
        assert_eq!(
            route(&Method::POST, "/anthropic/v1/messages"),
            Route::Provider(Surface::Anthropic(anthropic::Op::Foundry))
        );
        let chat = Route::Provider(Surface::OpenAi(openai::Op::Chat {
            azure_deployment: None,
        }));
        for p in [
            "/openai/v1/chat/completions",
            "/proxy/xyz/v1/chat/completions",
            "/v1/chat/completions",
        ] {
            assert_eq!(route(&Method::POST, p), chat, "{p}");
        }
        assert_eq!(
            route(&Method::POST, "/proxy/xyz/v1/embeddings"),
            Route::Provider(Surface::OpenAi(openai::Op::Embeddings {
                azure_deployment: None
            }))
        );
    }
}
