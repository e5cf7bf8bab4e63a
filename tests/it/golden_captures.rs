//! Every real capture in `tests/data/golden/` that has a `.meta.json`, through record
//! mode and back: the fake upstream serves the capture's bytes, aimock records the
//! request its meta describes, and the test holds three things for each:
//!
//! - the client got the upstream's status and body byte for byte (relay is lossless);
//! - the recording on disk holds none of the credentials the client sent and nothing a
//!   secret scanner would take for a key;
//! - a strict replay of that recording alone answers the same request with the same
//!   bytes (a stream) or the same JSON value (a `.json` body).
//!
//! Where today's collapse does not keep everything, the capture is listed in
//! [`KNOWN_LOSSY`] with what the replay lacks; a capture that loses content and is not
//! listed fails the test, so a regression cannot hide. Entries that have become
//! lossless are printed, so the list can shrink as content types gain a lossless home.
//!
//! Not here: per-provider assertions about what a collapsed fixture holds (the
//! `record*.rs` suites), official-SDK replays (`tests/e2e`).
//!
//! One record server serves every capture in turn (its run-time fixtures are cleared
//! between captures, and each capture's recordings are moved to their own directory);
//! each replay runs on its own strict server so two captures with the same request
//! cannot answer for each other. The rejected alternative, one replay server over every
//! recording, makes such pairs (there is one) ambiguous.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aimock::codec::decode_all;
use aimock::codec::eventstream::EventStreamDecoder;
use aimock::codec::ndjson::LineDecoder;
use aimock::codec::sse::SseDecoder;
use aimock::secrets::fakes::credentials;
use aimock::secrets::Detector;
use base64::Engine;
use serde_json::Value;

use crate::support::{request, TestServer};
use crate::upstream::{FakeUpstream, Script};

/// Captures of surfaces aimock does not serve: nothing routes them, so they are not
/// recorded. Each says why.
const NOT_SERVED: &[(&str, &str)] = &[
    (
        "cohere/chat-v1-stream-json-lines.ndjson",
        "Cohere v1 /v1/chat is not served (only v2)",
    ),
    (
        "cohere/embed-v1-int8.json",
        "Cohere v1 /v1/embed is not served (only v2)",
    ),
];

/// Captures whose path has a prefix aimock does not route: the client calls the path
/// without it and the upstream base carries it (an OpenAI-compatible base URL).
const UPSTREAM_PREFIX: &[(&str, &str)] = &[("openrouter/responses-stream-reasoning.sse", "/api")];

/// Captures whose strict replay does not yet give the client what the provider sent,
/// and what is lost (the lossless-content-types work shrinks this list).
const KNOWN_LOSSY: &[(&str, &str)] = &[
    (
        "bedrock/invoke-cohere-embed-english-v3.json",
        "differs at /embeddings/1/0 (a vector value)",
    ),
    (
        "bedrock/invoke-cohere-embed-v4.json",
        "differs at /id (regenerated)",
    ),
    (
        "bedrock/invoke-stream-meta-llama2.eventstream",
        "same kinds of content, re-rendered (ids, chunking, padding differ)",
    ),
    (
        "bedrock/invoke-stream-titan-text.eventstream",
        "lacks the guardrail trace (amazon-bedrock-guardrailAction, amazon-bedrock-trace, ...)",
    ),
    (
        "bedrock/invoke-stream-titan-tg1.eventstream",
        "same kinds of content, re-rendered (ids, chunking, padding differ)",
    ),
    (
        "anthropic/messages-json-code-execution.json",
        "lacks type=bash_code_execution_result, type=bash_code_execution_tool_result, type=server_tool_use, cache_creation, command, container, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, expires_at, inference_geo (+11 more)",
    ),
    (
        "anthropic/messages-json-pause-turn.json",
        "lacks type=server_tool_use, type=web_search_result, type=web_search_tool_result, cache_creation, encrypted_content, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, input, name, page_age (+7 more)",
    ),
    (
        "anthropic/messages-json-stop-sequence.json",
        "lacks service_tier",
    ),
    (
        "anthropic/messages-json-text.json",
        "differs at /id: the capture has 'msg_01GxAX7svS7SnakLHe57YHrV', the replay another string",
    ),
    (
        "anthropic/messages-json-thinking.json",
        "differs at /id: the capture has 'msg_01Ayp2LhrapBJLPf22sskg4c', the replay another string",
    ),
    (
        "anthropic/messages-json-tool-use.json",
        "lacks type=direct, cache_creation, caller, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, inference_geo, service_tier, stop_details",
    ),
    (
        "anthropic/messages-json-web-fetch.json",
        "lacks type=document, type=server_tool_use, type=web_fetch_result, type=web_fetch_tool_result, cache_creation, data, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, input, media_type (+10 more)",
    ),
    (
        "anthropic/messages-json-web-search.json",
        "lacks type=server_tool_use, type=web_search_result, type=web_search_result_location, type=web_search_tool_result, cache_creation, citations, cited_text, encrypted_content, encrypted_index, ephemeral_1h_input_tokens (+12 more)",
    ),
    (
        "anthropic/messages-stream-code-execution.sse",
        "lacks type=bash_code_execution_result, type=bash_code_execution_tool_result, type=input_json_delta, type=server_tool_use, cache_creation, container, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, expires_at, inference_geo (+12 more)",
    ),
    (
        "anthropic/messages-stream-error-overloaded.sse",
        "replay status 529, not 200: {'type':'error','error':{'type':'overloaded_error','message':'Overloaded'}}",
    ),
    (
        "anthropic/messages-stream-mcp-tool-use.sse",
        "lacks type=input_json_delta, type=mcp_tool_result, type=mcp_tool_use, cache_creation, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, input, is_error, name, partial_json (+5 more)",
    ),
    (
        "anthropic/messages-stream-redacted-thinking.sse",
        "lacks cache_creation, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, service_tier",
    ),
    (
        "anthropic/messages-stream-search-result-citations.sse",
        "lacks type=citations_delta, type=search_result_location, cache_creation, citation, citations, cited_text, end_block_index, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, inference_geo (+6 more)",
    ),
    (
        "anthropic/messages-stream-text-2026.sse",
        "lacks cache_creation, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, inference_geo, service_tier",
    ),
    (
        "anthropic/messages-stream-text.sse",
        "same kinds of content, re-rendered (ids, chunking, padding differ)",
    ),
    (
        "anthropic/messages-stream-thinking-signature-padded.sse",
        "lacks cache_creation, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, inference_geo, service_tier",
    ),
    (
        "anthropic/messages-stream-thinking-then-tool-use.sse",
        "lacks type=direct, cache_creation, caller, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, inference_geo, output_tokens_details, service_tier, stop_details, thinking_tokens",
    ),
    (
        "anthropic/messages-stream-tool-search.sse",
        "lacks type=direct, type=server_tool_use, type=tool_reference, type=tool_search_tool_result, type=tool_search_tool_search_result, cache_creation, caller, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, inference_geo (+8 more)",
    ),
    (
        "anthropic/messages-stream-tool-use.sse",
        "same kinds of content, re-rendered (ids, chunking, padding differ)",
    ),
    (
        "anthropic/messages-stream-web-fetch.sse",
        "lacks type=document, type=input_json_delta, type=server_tool_use, type=web_fetch_result, type=web_fetch_tool_result, cache_creation, data, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, input (+12 more)",
    ),
    (
        "anthropic/messages-stream-web-search-citations.sse",
        "lacks type=citations_delta, type=input_json_delta, type=server_tool_use, type=web_search_result, type=web_search_result_location, type=web_search_tool_result, cache_creation, citation, citations, cited_text (+14 more)",
    ),
    (
        "anthropic/messages-stream-web-search.sse",
        "lacks type=citations_delta, type=input_json_delta, type=server_tool_use, type=web_search_result, type=web_search_result_location, type=web_search_tool_result, cache_creation, citation, citations, cited_text (+15 more)",
    ),
    (
        "azure-openai/chat-json-content-filter.json",
        "lacks accepted_prediction_tokens, audio_tokens, cached_tokens, completion_tokens_details, content_filter_results, detected, filtered, hate, jailbreak, prompt_filter_results (+10 more)",
    ),
    (
        "azure-openai/chat-stream-content-filter.sse",
        "lacks content_filter_results, detected, filtered, hate, jailbreak, prompt_filter_results, prompt_index, self_harm, severity, sexual (+1 more)",
    ),
    (
        "bedrock/converse-json-guardrail-intervened.json",
        "lacks type=ADDRESS, type=GROUNDING, type=RELEVANCE, action, contentPolicyUnits, contextualGroundingPolicy, contextualGroundingPolicyUnits, filters, guarded, guardrail (+23 more)",
    ),
    (
        "bedrock/converse-json-reasoning-redacted.json",
        "lacks cacheReadInputTokenCount, cacheReadInputTokens, cacheWriteInputTokenCount, cacheWriteInputTokens",
    ),
    (
        "bedrock/converse-json-text.json",
        "differs at /metrics/latencyMs: the capture has 589, the replay another number",
    ),
    (
        "bedrock/converse-json-tool-use.json",
        "differs at /metrics/latencyMs: the capture has 1300, the replay another number",
    ),
    (
        "bedrock/converse-stream-nova-code-execution.eventstream",
        "lacks type=nova_code_interpreter_result, type=server_tool_use, type=tool_use, exitCode, isError, json, p, serverToolUsage, status, stdErr (+3 more)",
    ),
    (
        "bedrock/converse-stream-reasoning-redacted.eventstream",
        "lacks p",
    ),
    (
        "bedrock/converse-stream-reasoning.eventstream",
        "lacks p",
    ),
    (
        "bedrock/converse-stream-text.eventstream",
        "lacks p, serverToolUsage",
    ),
    (
        "bedrock/converse-stream-tool-use.eventstream",
        "lacks p, serverToolUsage",
    ),
    (
        "bedrock/invoke-anthropic-messages-json.json",
        "differs at /id: the capture has 'msg_01E6sPP1ksqicYCaBrkvzna8', the replay another string",
    ),
    (
        "bedrock/invoke-nova-lite.json",
        "lacks action, amazon-bedrock-guardrailAction, amazon-bedrock-trace, contentPolicyUnits, contextualGroundingPolicyUnits, guarded, guardrail, guardrailCoverage, guardrailProcessingLatency, input (+19 more)",
    ),
    (
        "bedrock/invoke-stream-anthropic-messages.eventstream",
        "same kinds of content, re-rendered (ids, chunking, padding differ)",
    ),
    (
        "bedrock/invoke-stream-anthropic-thinking.eventstream",
        "lacks cache_creation, cache_creation_input_tokens, cache_read_input_tokens, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, p",
    ),
    (
        "bedrock/invoke-stream-nova.eventstream",
        "lacks action, amazon-bedrock-guardrailAction, amazon-bedrock-trace, cacheReadInputTokenCount, cacheWriteInputTokenCount, contentBlockDelta, contentBlockIndex, contentBlockStop, contentPolicyUnits, contextualGroundingPolicyUnits (+29 more)",
    ),
    (
        "cohere/chat-v2-json-document-citations.json",
        "lacks type=document, citations, document, end, sources, start",
    ),
    (
        "cohere/chat-v2-json-reasoning-tool-call.json",
        "lacks cached_tokens",
    ),
    (
        "cohere/chat-v2-json-stop-sequence.json",
        "differs at /id: the capture has '02069ccc-65d6-4286-ba8c-097e317431c5', the replay another string",
    ),
    (
        "cohere/chat-v2-json-text.json",
        "differs at /id: the capture has '83e3e297-264b-478e-9b22-5058386292ed', the replay another string",
    ),
    (
        "cohere/chat-v2-json-thinking.json",
        "differs at /id: the capture has 'a7a1995c-1980-4683-8382-e8dda3598388', the replay another string",
    ),
    (
        "cohere/chat-v2-json-tool-calls.json",
        "differs at /id: the capture has 'bd32370b-684b-4de3-8f99-8a7653ffd93b', the replay another string",
    ),
    (
        "cohere/chat-v2-stream-text.sse",
        "same kinds of content, re-rendered (ids, chunking, padding differ)",
    ),
    (
        "cohere/chat-v2-stream-tool-call.sse",
        "same kinds of content, re-rendered (ids, chunking, padding differ)",
    ),
    (
        "cohere/chat-v2-stream-tool-plan-tool-calls.sse",
        "same kinds of content, re-rendered (ids, chunking, padding differ)",
    ),
    (
        "cohere/embed-v2-float-documents.json",
        "lacks image_tokens",
    ),
    (
        "cohere/embed-v2.json",
        "differs at /id: the capture has '74d7aae4-2939-4002-b4d4-352dfcca03cf', the replay another string",
    ),
    (
        "deepseek/chat-stream-text.sse",
        "lacks cached_tokens, completion_tokens_details, prompt_cache_hit_tokens, prompt_cache_miss_tokens, prompt_tokens_details, reasoning_tokens",
    ),
    (
        "gemini/generate-content-json-code-execution.json",
        "lacks code, codeExecutionResult, executableCode, id, language, outcome, output, thoughtSignature, thoughtsTokenCount, toolUsePromptTokenCount (+1 more)",
    ),
    (
        "gemini/generate-content-json-function-call.json",
        "lacks thoughtSignature, thoughtsTokenCount",
    ),
    (
        "gemini/generate-content-json-url-context.json",
        "lacks endIndex, groundingChunkIndices, groundingChunks, groundingMetadata, groundingSupports, retrievedUrl, segment, thoughtsTokenCount, title, toolUsePromptTokenCount (+6 more)",
    ),
    (
        "gemini/generate-content-json.json",
        "lacks thoughtsTokenCount",
    ),
    (
        "gemini/stream-generate-content-json-array-function-call.json",
        "lacks finishMessage, serviceTier, thoughtSignature",
    ),
    (
        "gemini/stream-generate-content-json-array-text.json",
        "lacks serviceTier, thoughtSignature",
    ),
    (
        "gemini/stream-generate-content-sse-code-execution.sse",
        "lacks code, codeExecutionResult, executableCode, id, language, outcome, output, thoughtSignature, thoughtsTokenCount, toolUsePromptTokenCount (+1 more)",
    ),
    (
        "gemini/stream-generate-content-sse-function-call-thought-signature.sse",
        "lacks text, thoughtSignature, thoughtsTokenCount",
    ),
    (
        "gemini/stream-generate-content-sse-function-call.sse",
        "lacks text, thoughtSignature, thoughtsTokenCount",
    ),
    (
        "gemini/stream-generate-content-sse-grounding.sse",
        "lacks endIndex, groundingChunkIndices, groundingChunks, groundingMetadata, groundingSupports, renderedContent, searchEntryPoint, segment, startIndex, thoughtsTokenCount (+6 more)",
    ),
    (
        "gemini/stream-generate-content-sse-text.sse",
        "lacks candidatesTokensDetails",
    ),
    (
        "gemini/stream-generate-content-sse-thoughts.sse",
        "lacks thoughtSignature",
    ),
    (
        "gemini/stream-generate-content-sse-url-context.sse",
        "lacks endIndex, groundingChunkIndices, groundingChunks, groundingMetadata, groundingSupports, retrievedUrl, segment, thoughtsTokenCount, title, toolUsePromptTokenCount (+6 more)",
    ),
    (
        "groq/chat-stream-compound-web-search.sse",
        "lacks type=search, arguments, completion_time, completion_tokens, executed_tools, models, output, prompt_time, prompt_tokens, queue_time (+12 more)",
    ),
    (
        "groq/chat-stream-text-x-groq.sse",
        "lacks completion_time, completion_tokens, prompt_time, prompt_tokens, queue_time, total_time, total_tokens, usage, x_groq",
    ),
    (
        "mistral/chat-json-text.json",
        "lacks tool_calls",
    ),
    (
        "mistral/chat-stream-magistral-thinking.sse",
        "lacks type=text, type=thinking, completion_tokens, prompt_tokens, text, thinking, total_tokens, type, usage",
    ),
    (
        "mistral/chat-stream-text.sse",
        "lacks completion_tokens, p, prompt_tokens, total_tokens, usage",
    ),
    (
        "ollama/api-chat-json.json",
        "differs at /created_at: the capture has '2024-05-24T20:01:31.01558Z', the replay another string",
    ),
    (
        "ollama/api-chat-stream.ndjson",
        "same kinds of content, re-rendered (ids, chunking, padding differ)",
    ),
    (
        "ollama/api-generate-json.json",
        "differs at /created_at: the capture has '2024-05-24T20:19:45.363966Z', the replay another string",
    ),
    (
        "ollama/api-generate-stream.ndjson",
        "same kinds of content, re-rendered (ids, chunking, padding differ)",
    ),
    (
        "ollama/v1-chat-json-reasoning-tool-call.json",
        "lacks reasoning",
    ),
    (
        "ollama/v1-chat-json-text.json",
        "differs at /id: the capture has 'chatcmpl-674', the replay another string",
    ),
    (
        "openai/chat-json-n2-choices.json",
        "lacks accepted_prediction_tokens, audio_tokens, cached_tokens, completion_tokens_details, prompt_tokens_details, reasoning_tokens, rejected_prediction_tokens, service_tier",
    ),
    (
        "openai/chat-json-n2-tool-calls.json",
        "lacks accepted_prediction_tokens, audio_tokens, cached_tokens, completion_tokens_details, prompt_tokens_details, reasoning_tokens, rejected_prediction_tokens, service_tier",
    ),
    (
        "openai/chat-json-parallel-tool-calls.json",
        "lacks accepted_prediction_tokens, audio_tokens, cached_tokens, completion_tokens_details, prompt_tokens_details, reasoning_tokens, rejected_prediction_tokens, service_tier",
    ),
    (
        "openai/chat-json-refusal.json",
        "lacks accepted_prediction_tokens, audio_tokens, cached_tokens, completion_tokens_details, prompt_tokens_details, reasoning_tokens, rejected_prediction_tokens, service_tier",
    ),
    (
        "openai/chat-json-text.json",
        "lacks accepted_prediction_tokens, audio_tokens, cached_tokens, completion_tokens_details, prompt_tokens_details, reasoning_tokens, rejected_prediction_tokens, service_tier",
    ),
    (
        "openai/chat-json-tool-call.json",
        "lacks accepted_prediction_tokens, audio_tokens, cached_tokens, completion_tokens_details, prompt_tokens_details, reasoning_tokens, rejected_prediction_tokens, service_tier",
    ),
    (
        "openai/chat-stream-logprobs.sse",
        "lacks accepted_prediction_tokens, audio_tokens, bytes, cached_tokens, completion_tokens_details, logprob, obfuscation, prompt_tokens_details, reasoning_tokens, rejected_prediction_tokens (+3 more)",
    ),
    (
        "openai/chat-stream-n2-interleaved-choices.sse",
        "lacks accepted_prediction_tokens, audio_tokens, cached_tokens, completion_tokens_details, prompt_tokens_details, reasoning_tokens, rejected_prediction_tokens, service_tier",
    ),
    (
        "openai/chat-stream-n2-tool-calls.sse",
        "lacks accepted_prediction_tokens, audio_tokens, cached_tokens, completion_tokens_details, prompt_tokens_details, reasoning_tokens, rejected_prediction_tokens, service_tier",
    ),
    (
        "openai/chat-stream-parallel-tool-calls-no-usage.sse",
        "same kinds of content, re-rendered (ids, chunking, padding differ)",
    ),
    (
        "openai/chat-stream-parallel-tool-calls-obfuscation.sse",
        "lacks accepted_prediction_tokens, audio_tokens, cached_tokens, completion_tokens_details, obfuscation, prompt_tokens_details, reasoning_tokens, rejected_prediction_tokens, service_tier",
    ),
    (
        "openai/chat-stream-refusal.sse",
        "lacks accepted_prediction_tokens, audio_tokens, cached_tokens, completion_tokens_details, obfuscation, prompt_tokens_details, reasoning_tokens, rejected_prediction_tokens, service_tier",
    ),
    (
        "openai/chat-stream-text-include-usage.sse",
        "lacks accepted_prediction_tokens, audio_tokens, cached_tokens, completion_tokens_details, prompt_tokens_details, reasoning_tokens, rejected_prediction_tokens, service_tier",
    ),
    (
        "openai/chat-stream-tool-call-args-split.sse",
        "lacks accepted_prediction_tokens, audio_tokens, cached_tokens, completion_tokens_details, prompt_tokens_details, reasoning_tokens, rejected_prediction_tokens, service_tier",
    ),
    (
        "openai/embeddings-base64.json",
        "differs at /model: the capture has 'text-embedding-ada-002-v2', the replay another string",
    ),
    (
        "openai/embeddings-float.json",
        "differs at /model: the capture has 'text-embedding-ada-002-v2', the replay another string",
    ),
    (
        "openai/responses-error-400-model-not-found.json",
        "differs at /error/param: the capture has 'model', the replay nothing",
    ),
    (
        "openai/responses-json-code-interpreter.json",
        "lacks type=code_interpreter_call, type=logs, billing, code, container_id, logs, outputs, payer, prompt_cache_key, safety_identifier (+1 more)",
    ),
    (
        "openai/responses-json-file-search-results.json",
        "lacks type=file_citation, type=file_search_call, attributes, billing, file_id, filename, filters, index, max_num_results, payer (+11 more)",
    ),
    (
        "openai/responses-json-function-call.json",
        "lacks strict",
    ),
    (
        "openai/responses-json-mcp.json",
        "lacks type=mcp_call, type=mcp_list_tools, type=object, type=reasoning, type=string, $schema, additionalProperties, approval_request_id, arguments, billing (+13 more)",
    ),
    (
        "openai/responses-json-reasoning.json",
        "lacks type=reasoning, billing, payer, prompt_cache_key, prompt_cache_retention, safety_identifier, verbosity",
    ),
    (
        "openai/responses-json-refusal.json",
        "lacks type=refusal, billing, description, payer, prompt_cache_key, refusal, safety_identifier, verbosity",
    ),
    (
        "openai/responses-json-text.json",
        "differs at /id: the capture has 'resp_681e3a2c86e88191bab60fe448e0bc930fdfbc1e418dcde2', the replay another string",
    ),
    (
        "openai/responses-json-web-search.json",
        "lacks type=approximate, type=reasoning, type=search, type=web_search_call, action, city, country, encrypted_content, filters, prompt_cache_key (+6 more)",
    ),
    (
        "openai/responses-stream-code-interpreter.sse",
        "lacks event:response.code_interpreter_call.completed, event:response.code_interpreter_call.in_progress, event:response.code_interpreter_call.interpreting, event:response.code_interpreter_call_code.delta, event:response.code_interpreter_call_code.done, type=code_interpreter_call, type=response.code_interpreter_call.completed, type=response.code_interpreter_call.in_progress, type=response.code_interpreter_call.interpreting, type=response.code_interpreter_call_code.delta (+8 more)",
    ),
    (
        "openai/responses-stream-file-search.sse",
        "lacks event:response.file_search_call.completed, event:response.file_search_call.in_progress, event:response.file_search_call.searching, event:response.output_text.annotation.added, type=file_citation, type=file_search_call, type=response.file_search_call.completed, type=response.file_search_call.in_progress, type=response.file_search_call.searching, type=response.output_text.annotation.added (+17 more)",
    ),
    (
        "openai/responses-stream-function-call.sse",
        "lacks strict",
    ),
    (
        "openai/responses-stream-incomplete.sse",
        "same kinds of content, re-rendered (ids, chunking, padding differ)",
    ),
    (
        "openai/responses-stream-logprobs.sse",
        "lacks bytes, completed_at, frequency_penalty, logprob, obfuscation, presence_penalty, prompt_cache_key, prompt_cache_retention, safety_identifier, token (+1 more)",
    ),
    (
        "openai/responses-stream-mcp.sse",
        "lacks event:response.mcp_call.completed, event:response.mcp_call.in_progress, event:response.mcp_call_arguments.delta, event:response.mcp_call_arguments.done, event:response.mcp_list_tools.completed, event:response.mcp_list_tools.in_progress, type=mcp_call, type=mcp_list_tools, type=object, type=reasoning (+26 more)",
    ),
    (
        "openai/responses-stream-reasoning-summary.sse",
        "same kinds of content, re-rendered (ids, chunking, padding differ)",
    ),
    (
        "openai/responses-stream-reasoning-then-function-call.sse",
        "lacks type=reasoning, encrypted_content, obfuscation, prompt_cache_key, safety_identifier, verbosity",
    ),
    (
        "openai/responses-stream-refusal.sse",
        "lacks event:response.refusal.delta, event:response.refusal.done, type=refusal, type=response.refusal.delta, type=response.refusal.done, description, prompt_cache_key, refusal, safety_identifier, verbosity",
    ),
    (
        "openai/responses-stream-text.sse",
        "same kinds of content, re-rendered (ids, chunking, padding differ)",
    ),
    (
        "openai/responses-stream-web-search-2026.sse",
        "lacks event:response.output_text.annotation.added, event:response.web_search_call.completed, event:response.web_search_call.in_progress, event:response.web_search_call.searching, type=approximate, type=response.output_text.annotation.added, type=response.web_search_call.completed, type=response.web_search_call.in_progress, type=response.web_search_call.searching, type=search (+27 more)",
    ),
    (
        "openai/responses-stream-web-search.sse",
        "lacks event:response.web_search_call.completed, event:response.web_search_call.in_progress, event:response.web_search_call.searching, type=api, type=approximate, type=reasoning, type=response.web_search_call.completed, type=response.web_search_call.in_progress, type=response.web_search_call.searching, type=search (+16 more)",
    ),
    (
        "openrouter/chat-error-429-provider.json",
        "lacks metadata, provider_name, raw, user_id",
    ),
    (
        "openrouter/chat-json-byok.json",
        "lacks audio_tokens, cache_write_tokens, cached_tokens, completion_tokens_details, cost, cost_details, image_tokens, is_byok, native_finish_reason, prompt_tokens_details (+8 more)",
    ),
    (
        "openrouter/chat-json-web-search-annotations.json",
        "lacks type=url_citation, audio_tokens, cache_write_tokens, cached_tokens, completion_tokens_details, cost, cost_details, end_index, image_tokens, native_finish_reason (+18 more)",
    ),
    (
        "openrouter/chat-json-whitespace-keepalive.json",
        "lacks type=reasoning.text, audio_tokens, cache_write_tokens, cached_tokens, completion_tokens_details, cost, cost_details, format, image_tokens, is_byok (+13 more)",
    ),
    (
        "openrouter/chat-stream-in-band-error.sse",
        "replay status 500, not 200: {'error':{'message':'Token limit reached','type':'server_error','param':null,'code':400}}",
    ),
    (
        "openrouter/chat-stream-reasoning-details.sse",
        "lacks type=reasoning.text, audio_tokens, cached_tokens, completion_tokens_details, cost, cost_details, format, image_tokens, is_byok, native_finish_reason (+12 more)",
    ),
    (
        "openrouter/chat-stream-text.sse",
        "lacks audio_tokens, cached_tokens, completion_tokens_details, cost, cost_details, image_tokens, is_byok, native_finish_reason, prompt_tokens_details, provider (+5 more)",
    ),
    (
        "openrouter/chat-stream-web-search-annotations.sse",
        "lacks type=url_citation, annotations, audio_tokens, cache_write_tokens, cached_tokens, completion_tokens_details, cost, cost_details, end_index, image_tokens (+18 more)",
    ),
    (
        "openrouter/responses-stream-reasoning.sse",
        "lacks type=reasoning_text, type=response.reasoning_text.delta, type=response.reasoning_text.done, cost, cost_details, is_byok, output_text, prompt_cache_key, safety_identifier, upstream_inference_cost (+2 more)",
    ),
    (
        "together/chat-json-text.json",
        "lacks cached_tokens, prompt, seed, tool_calls",
    ),
    (
        "vertex/generate-content-json.json",
        "lacks avgLogprobs",
    ),
    (
        "vertex/stream-generate-content-sse.sse",
        "lacks thoughtSignature, thoughtsTokenCount",
    ),
];

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden");

/// The pattern the repository's pre-stop hook rejects.
const HOOK_KEY: &str = r"sk-(proj-|ant-)?[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}";

struct Capture {
    /// `<provider>/<file>` under the golden directory.
    name: String,
    meta: Value,
    body: Vec<u8>,
}

impl Capture {
    fn ext(&self) -> &str {
        Path::new(&self.name)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
    }
    fn provider(&self) -> &str {
        self.name.split('/').next().unwrap_or("")
    }
    fn status(&self) -> u16 {
        self.meta["response"]["status"].as_u64().unwrap_or(200) as u16
    }
    fn prefix(&self) -> &'static str {
        UPSTREAM_PREFIX
            .iter()
            .find(|(n, _)| *n == self.name)
            .map_or("", |(_, p)| p)
    }
    /// The path and query the client calls.
    fn client_path(&self) -> String {
        let path = self.meta["request"]["path"].as_str().expect("request.path");
        let path = path.strip_prefix(self.prefix()).unwrap_or(path);
        match self.meta["request"]["query"].as_str() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        }
    }
    /// The path the upstream sees (what the fake is scripted on).
    fn upstream_path(&self) -> String {
        self.meta["request"]["path"]
            .as_str()
            .expect("request.path")
            .to_string()
    }
    /// The request body: the one the cassette stored, or (when it stored none) a
    /// minimal request of the same provider that asks for a stream.
    fn request_body(&self) -> Vec<u8> {
        match &self.meta["request"]["body"] {
            Value::Null if self.provider() == "anthropic" => {
                serde_json::to_vec(&serde_json::json!({
                    "model": "claude-sonnet-4-5",
                    "max_tokens": 64,
                    "stream": true,
                    "messages": [{"role": "user", "content": "hello"}],
                }))
                .unwrap()
            }
            Value::Null => b"{}".to_vec(),
            v => serde_json::to_vec(v).unwrap(),
        }
    }
    fn script(&self) -> Script {
        let ct = self.meta["response"]["content_type"]
            .as_str()
            .unwrap_or("application/json");
        let ct: &'static str = Box::leak(ct.to_string().into_boxed_str());
        let mut s = Script::body(self.status(), ct, self.body.clone());
        if self.ext() != "json" {
            // A stream arrives in pieces; the relay must not depend on frame boundaries.
            s = s.chunked(1500, Duration::ZERO);
        }
        if let Some(t) = self.meta["response"]["recorded_headers"]["x-amzn-errortype"].as_str() {
            let t: &'static str = Box::leak(t.to_string().into_boxed_str());
            s.headers.push(("x-amzn-errortype", t));
        }
        s
    }
}

fn captures() -> Vec<Capture> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(GOLDEN).expect("golden dir") {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let Some(fname) = f.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(body_name) = fname.strip_suffix(".meta.json") else {
                continue;
            };
            let meta: Value = serde_json::from_slice(&std::fs::read(&f).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let provider = dir.file_name().unwrap().to_str().unwrap();
            let body = std::fs::read(dir.join(body_name)).expect("capture body");
            out.push(Capture {
                name: format!("{provider}/{body_name}"),
                meta,
                body,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The credentials the client sends, by the provider's own header: none may reach the
/// recording.
struct Creds {
    openai: String,
    anthropic: String,
    google: String,
    google_oauth: String,
    aws_key_id: String,
    cohere: String,
}

impl Creds {
    fn new() -> Creds {
        let f = credentials();
        let get = |kind: &str| {
            f.iter()
                .find(|c| c.kind == kind)
                .unwrap_or_else(|| panic!("no fake {kind}"))
                .secret
                .clone()
        };
        Creds {
            openai: get("OpenAI project"),
            anthropic: get("Anthropic"),
            google: get("Google API"),
            google_oauth: get("Google OAuth"),
            aws_key_id: get("AWS access key id"),
            cohere: get("Cohere"),
        }
    }
    fn all(&self) -> [&str; 6] {
        [
            &self.openai,
            &self.anthropic,
            &self.google,
            &self.google_oauth,
            &self.aws_key_id,
            &self.cohere,
        ]
    }
    fn headers(&self, provider: &str) -> Vec<(String, String)> {
        let bearer = |k: &str| ("authorization".to_string(), format!("Bearer {k}"));
        match provider {
            "anthropic" => vec![
                ("x-api-key".into(), self.anthropic.clone()),
                ("anthropic-version".into(), "2023-06-01".into()),
            ],
            "gemini" => vec![("x-goog-api-key".into(), self.google.clone())],
            "vertex" => vec![bearer(&self.google_oauth)],
            "bedrock" => vec![(
                "authorization".into(),
                format!(
                    "AWS4-HMAC-SHA256 Credential={}/20250101/us-east-1/bedrock/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature={}",
                    self.aws_key_id,
                    "0123456789abcdef".repeat(4)
                ),
            )],
            "cohere" => vec![bearer(&self.cohere)],
            "azure-openai" => vec![("api-key".into(), self.openai.clone())],
            _ => vec![bearer(&self.openai)],
        }
    }
}

/// Every file under `dir`, as text.
fn files_text(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_text(&p));
        } else {
            out.push((p.clone(), std::fs::read_to_string(&p).unwrap_or_default()));
        }
    }
    out
}

/// Call `f` on every string in `v`, keys included.
fn for_each_string(v: &Value, f: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|x| for_each_string(x, f)),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            f(k);
            for_each_string(x, f)
        }),
        _ => {}
    }
}

/// Object keys and `type` values anywhere in a JSON value: what a replay can be seen
/// to have lost without caring about ids, timestamps or chunking.
fn kinds(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.insert(k.clone());
                if k == "type" {
                    if let Some(t) = x.as_str() {
                        out.insert(format!("type={t}"));
                    }
                }
                kinds(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| kinds(x, out)),
        _ => {}
    }
}

/// The JSON payloads of a body in its framing (SSE events, NDJSON lines, EventStream
/// messages and the base64 events Bedrock wraps in them, or one JSON document), plus
/// the SSE event names and EventStream event types.
fn payload_kinds(ext: &str, body: &[u8]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let json = |b: &[u8], out: &mut BTreeSet<String>| {
        if let Ok(v) = serde_json::from_slice::<Value>(b) {
            kinds(&v, out);
            if let Some(inner) = v["bytes"].as_str() {
                if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(inner) {
                    if let Ok(v) = serde_json::from_slice::<Value>(&raw) {
                        kinds(&v, out);
                    }
                }
            }
        }
    };
    match ext {
        "sse" => {
            for e in decode_all(&mut SseDecoder::new(), body).unwrap_or_default() {
                if let Some(name) = &e.event {
                    out.insert(format!("event:{name}"));
                }
                json(e.data.as_bytes(), &mut out);
            }
        }
        "ndjson" => {
            for line in decode_all(&mut LineDecoder::new(), body).unwrap_or_default() {
                json(&line, &mut out);
            }
        }
        "eventstream" => {
            for m in decode_all(&mut EventStreamDecoder::new(), body).unwrap_or_default() {
                if let Some(t) = m.header_str(":event-type") {
                    out.insert(format!("event:{t}"));
                }
                json(&m.payload, &mut out);
            }
        }
        _ => json(body, &mut out),
    }
    out
}

/// Why a replay is not the capture: the status, or what the capture has that the
/// replay lacks, or (nothing lacking) where the bytes part.
fn lossy_reason(cap: &Capture, status: u16, got: &[u8]) -> String {
    if status != cap.status() {
        let head = String::from_utf8_lossy(&got[..got.len().min(160)]).into_owned();
        return format!("replay status {status}, not {}: {head}", cap.status());
    }
    let want = payload_kinds(cap.ext(), &cap.body);
    let have = payload_kinds(cap.ext(), got);
    // Content types and event names first: they say what a collapse dropped.
    let mut lost: Vec<_> = want.difference(&have).cloned().collect();
    lost.sort_by_key(|k| !(k.starts_with("type=") || k.starts_with("event:")));
    if !lost.is_empty() {
        let more = lost.len().saturating_sub(10);
        lost.truncate(10);
        let more = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        return format!("lacks {}{more}", lost.join(", "));
    }
    if cap.ext() == "json" {
        let want: Value = serde_json::from_slice(&cap.body).unwrap_or_default();
        let have: Value = serde_json::from_slice(got).unwrap_or_default();
        if let Some((at, a, b)) = first_difference(&want, &have, String::new()) {
            let cut = |v: &Value| {
                let s = v.to_string();
                s.chars().take(60).collect::<String>()
            };
            return format!(
                "differs at {at}: the capture has {}, the replay {}",
                cut(&a),
                kind(&b)
            );
        }
    }
    "same kinds of content, re-rendered (ids, chunking, padding differ)".into()
}

/// What a replayed value is, without the value itself (a generated id would make the
/// reason change from run to run).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::String(_) => "another string",
        Value::Number(_) => "another number",
        Value::Bool(_) => "the other boolean",
        Value::Array(_) => "another array",
        Value::Object(_) => "another object",
    }
}

/// The first place (a JSON pointer) where `a` and `b` differ, with both values.
fn first_difference(a: &Value, b: &Value, at: String) -> Option<(String, Value, Value)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let here = format!("{at}/{k}");
                match y.get(k) {
                    Some(w) => {
                        if let Some(d) = first_difference(v, w, here) {
                            return Some(d);
                        }
                    }
                    None => return Some((here, v.clone(), Value::Null)),
                }
            }
            y.iter()
                .find(|(k, _)| !x.contains_key(*k))
                .map(|(k, w)| (format!("{at}/{k}"), Value::Null, w.clone()))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, format!("{at}/{i}"))),
        _ if a == b => None,
        _ => Some((
            if at.is_empty() { "/".into() } else { at },
            a.clone(),
            b.clone(),
        )),
    }
}

/// Whether the replay gives the client what the capture did: the same bytes for a
/// stream, the same JSON value for a JSON body.
fn same(cap: &Capture, status: u16, got: &[u8]) -> bool {
    if status != cap.status() {
        return false;
    }
    if cap.ext() == "json" {
        let want: Value = serde_json::from_slice(&cap.body).expect("capture is JSON");
        serde_json::from_slice::<Value>(got).is_ok_and(|g| g == want)
    } else {
        got == cap.body.as_slice()
    }
}

fn record_config(dir: &Path, base: &str) -> aimock::config::Config {
    let mut c = crate::support::recording(
        dir,
        &[
            "openai",
            "azure",
            "anthropic",
            "gemini",
            "vertexai",
            "bedrock",
            "cohere",
            "ollama",
        ],
        base,
    );
    if let Some(r) = c.record.as_mut() {
        r.max_capture_bytes = 4 << 20;
    }
    c
}

enum Outcome {
    Same,
    Lossy(String),
    Failed(String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_golden_capture_is_relayed_byte_for_byte_recorded_without_credentials_and_replayed() {
    let caps = captures();
    assert!(caps.len() >= 99, "only {} captures found", caps.len());
    let creds = Creds::new();
    let hook = regex::Regex::new(HOOK_KEY).unwrap();
    let up = FakeUpstream::start().await;
    let work = tempfile::tempdir().unwrap();
    let mut servers: Vec<(&'static str, PathBuf, TestServer)> = Vec::new();
    let mut outcomes: Vec<(String, Outcome)> = Vec::new();
    for (i, cap) in caps.iter().enumerate() {
        if NOT_SERVED.iter().any(|(n, _)| *n == cap.name) {
            continue;
        }
        // One record server per upstream base.
        let prefix = cap.prefix();
        if !servers.iter().any(|(p, ..)| *p == prefix) {
            let dir = work.path().join(format!("rec{}", servers.len()));
            std::fs::create_dir_all(&dir).unwrap();
            let cfg = record_config(&dir, &format!("{}{prefix}", up.url()));
            servers.push((prefix, dir, TestServer::start(cfg).await));
        }
        let (_, dir, srv) = servers.iter().find(|(p, ..)| *p == prefix).unwrap();
        let recorder = srv.state.recorder.current().expect("record mode");
        srv.state.store.clear();
        up.script(&cap.upstream_path(), cap.script());
        let hits = up.hits();
        let method = cap.meta["request"]["method"].as_str().unwrap_or("POST");
        let headers = creds.headers(cap.provider());
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = cap.request_body();
        let live = request(method, &srv.url(&cap.client_path()), body.clone(), &headers).await;
        recorder.flush().await;
        let fail = |why: String| (cap.name.clone(), Outcome::Failed(why));
        if up.hits() != hits + 1 {
            outcomes.push(fail(format!(
                "not forwarded once ({} upstream calls; status {})",
                up.hits() - hits,
                live.status
            )));
            continue;
        }
        if live.status != cap.status() {
            outcomes.push(fail(format!("relayed status {}", live.status)));
            continue;
        }
        match &live.body {
            Ok(b) if b.as_ref() == cap.body.as_slice() => {}
            Ok(b) => {
                outcomes.push(fail(format!(
                    "relayed {} bytes, not the upstream's {}",
                    b.len(),
                    cap.body.len()
                )));
                continue;
            }
            Err(e) => {
                outcomes.push(fail(format!("relay cut: {e}")));
                continue;
            }
        }
        // This capture's recordings, on their own.
        let mine = work.path().join(format!("cap{i}"));
        if std::fs::rename(dir.join("recorded"), &mine).is_err() {
            outcomes.push(fail("nothing recorded".into()));
            continue;
        }
        let recorded = files_text(&mine);
        let mut leaks = Vec::new();
        for (path, text) in &recorded {
            for c in creds.all() {
                if text.contains(&c[c.len() - 12..]) {
                    leaks.push(format!("{}: a sent credential", path.display()));
                }
            }
            if let Some(m) = hook.find(text) {
                leaks.push(format!("{}: key-shaped {:?}", path.display(), m.as_str()));
            }
            // Value by value: what the recorder redacts, and much faster than the
            // whole file at once.
            let doc: Value = serde_json::from_str(text).unwrap_or(Value::String(text.clone()));
            for_each_string(&doc, &mut |v| {
                for f in Detector::builtin().find(v) {
                    leaks.push(format!("{}: {} {:?}", path.display(), f.name, &v[f.range]));
                }
            });
        }
        if !leaks.is_empty() {
            outcomes.push(fail(format!("credential in the recording: {leaks:?}")));
            continue;
        }
        // Strict replay of this recording alone.
        let mut cfg = aimock::config::Config::for_tests(vec![mine.clone()]);
        cfg.strict = true;
        let replay = match TestServer::try_start(cfg).await {
            Ok(s) => s,
            Err(e) => {
                outcomes.push(fail(format!("recording does not load: {e}")));
                continue;
            }
        };
        let again = request(method, &replay.url(&cap.client_path()), body, &headers).await;
        let got = again.body.clone().unwrap_or_default();
        let outcome = if same(cap, again.status, &got) {
            Outcome::Same
        } else {
            Outcome::Lossy(lossy_reason(cap, again.status, &got))
        };
        outcomes.push((cap.name.clone(), outcome));
        replay.stop().await;
    }

    let mut failed = Vec::new();
    let mut unexpected = Vec::new();
    let mut now_same = Vec::new();
    for (name, o) in &outcomes {
        let listed = KNOWN_LOSSY.iter().any(|(n, _)| n == name);
        match o {
            Outcome::Failed(why) => failed.push(format!("{name}: {why}")),
            Outcome::Lossy(why) if !listed => {
                unexpected.push(format!("    (\"{name}\", \"{}\"),", why.replace('"', "'")))
            }
            Outcome::Same if listed => now_same.push(name.as_str()),
            _ => {}
        }
    }
    for name in &now_same {
        eprintln!("golden: {name} now replays losslessly; drop it from KNOWN_LOSSY");
    }
    let same_count = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Same))
        .count();
    eprintln!(
        "golden: {} captures recorded, {same_count} replay losslessly, {} not served",
        outcomes.len(),
        NOT_SERVED.len()
    );
    assert!(
        failed.is_empty(),
        "captures that failed:\n{}",
        failed.join("\n")
    );
    assert!(
        unexpected.is_empty(),
        "captures whose replay loses content and that KNOWN_LOSSY does not list:\n{}",
        unexpected.join("\n")
    );
    assert_eq!(
        outcomes.len() + NOT_SERVED.len(),
        caps.len(),
        "every capture is either recorded or listed as not served"
    );
}
