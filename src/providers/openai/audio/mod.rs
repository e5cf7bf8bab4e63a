//! OpenAI (and Azure) audio: text to speech ([`speech`]: `POST /v1/audio/speech`) and
//! speech to text ([`transcribe`]: `POST /v1/audio/transcriptions` and
//! `/v1/audio/translations`, multipart uploads).
//!
//! Not here: realtime audio (WebSocket surfaces), voices and voice consents.

pub mod speech;
pub mod transcribe;
