//! The recorder in force, which the control API may replace or switch off while the
//! server runs (`POST`/`DELETE /__aimock/record`).
//!
//! # Design
//! Every provider request asks whether recording is on (it decides whether `turnIndex`
//! is a hard gate), so that question is one atomic load. Only a miss takes the read
//! lock and clones the recorder's `Arc`, which the forwarded request then owns.
//! Rejected alternative: an `arc-swap` dependency for the slot, which would save that
//! read lock on misses only, a path dominated by the upstream call.
//!
//! A recorder installed at run time is derived from the one before it, so all share
//! one writer thread, one deferred-addition queue (the store knows only the first:
//! [`crate::cassette::FixtureStore::wait_for`] is set once) and one count of pending
//! writes: shutdown flushes the last one and so every recording ever started.
//!
//! Not here: what a recorder does (`record`), the control API's body (`server::control`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::cassette::FixtureStore;
use crate::config::record::RecordConfig;

use super::Recorder;

/// The recorder in force, if any.
#[derive(Default)]
pub struct RecorderSwitch {
    /// Whether `current` holds a recorder: the one load the replay path pays.
    on: AtomicBool,
    current: RwLock<Option<Arc<Recorder>>>,
    /// The last recorder installed, kept after recording is switched off: the next one
    /// is derived from it, and shutdown flushes it.
    last: Mutex<Option<Arc<Recorder>>>,
}

impl RecorderSwitch {
    /// A switch holding the start-up recorder, if there is one.
    pub fn new(recorder: Option<Recorder>) -> RecorderSwitch {
        let r = recorder.map(Arc::new);
        RecorderSwitch {
            on: AtomicBool::new(r.is_some()),
            current: RwLock::new(r.clone()),
            last: Mutex::new(r),
        }
    }

    /// Whether a recorder is in force. One atomic load.
    #[inline]
    pub fn is_some(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }

    /// The recorder in force.
    pub fn current(&self) -> Option<Arc<Recorder>> {
        if !self.is_some() {
            return None;
        }
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Put a recorder with `config` in force, replacing any; built from the last one
    /// when there was one, else new (its secrets and metrics as given).
    pub fn install(
        &self,
        config: RecordConfig,
        store: &FixtureStore,
        secrets: Arc<crate::secrets::Detector>,
        metrics: Option<Arc<crate::metrics::Metrics>>,
    ) -> anyhow::Result<Arc<Recorder>> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let rec = Arc::new(match &*last {
            Some(prev) => prev.reconfigured(config),
            None => Recorder::new(config, store.clone())?
                .with_metrics(metrics)
                .with_secrets(secrets),
        });
        *last = Some(rec.clone());
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(rec.clone());
        self.on.store(true, Ordering::Release);
        Ok(rec)
    }

    /// Switch recording off; whether it was on. Recordings already started finish.
    pub fn disable(&self) -> bool {
        let was = self
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.on.store(false, Ordering::Release);
        was.is_some()
    }

    /// The recorder shutdown flushes: the last one installed, on or off (every
    /// recorder shares its writes).
    pub fn for_shutdown(&self) -> Option<Arc<Recorder>> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
