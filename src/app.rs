//! Assembling the program: configuration to fixture store to a listening server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::fixtures::load::{load_sources, log_findings};
use crate::fixtures::FixtureStore;
use crate::server::{serve, AppState};

/// Load the cassettes named by `config`, logging every finding.
pub fn load_store(config: &Config) -> anyhow::Result<FixtureStore> {
    for src in &config.cassettes {
        if !src.exists() {
            if config.strict {
                bail!(
                    "cassette source {} does not exist (strict mode needs cassettes to serve)",
                    src.display()
                );
            }
            tracing::warn!(
                "cassette source {} does not exist; serving nothing from it",
                src.display()
            );
        }
    }
    let files = load_sources(&config.cassettes);
    for f in &files {
        log_findings(f);
    }
    let count: usize = files.iter().map(|f| f.fixtures.len()).sum();
    if count == 0 && config.strict {
        bail!(
            "no fixtures loaded from {} and --strict is set: every request would fail. \
             Point --cassettes at a directory or file holding {{\"fixtures\": [...]}}",
            config
                .cassettes
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    tracing::info!(fixtures = count, files = files.len(), "cassettes loaded");
    Ok(FixtureStore::new(files))
}

/// A running server: its address and the state it serves.
pub struct Running {
    /// The bound address (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Shared state (for tests that inspect or mutate fixtures).
    pub state: Arc<AppState>,
}

/// Bind, then serve until `shutdown` resolves. `on_ready` is called once the socket is
/// bound, before the first request is accepted.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()>,
    on_ready: impl FnOnce(&Running),
) -> anyhow::Result<()> {
    let store = load_store(&config)?;
    let addr = SocketAddr::new(config.host, config.port);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let recorder = match &config.record {
        Some(rc) => {
            std::fs::create_dir_all(&rc.record_dir).with_context(|| {
                format!(
                    "cannot create the recording directory {}",
                    rc.record_dir.display()
                )
            })?;
            for (p, u) in &rc.upstreams {
                tracing::info!(provider = %p, upstream = %u, "recording misses");
            }
            Some(crate::record::Recorder::new(rc.clone(), store.clone())?)
        }
        None => None,
    };
    let state = Arc::new(AppState {
        config,
        store,
        recorder,
    });
    on_ready(&Running {
        addr,
        state: state.clone(),
    });
    serve(listener, state, shutdown).await?;
    Ok(())
}
