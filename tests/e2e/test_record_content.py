"""Every content type survives the collapse (issue 19 item 3), judged by the official
SDKs: replies carrying server tool blocks, citations, annotations, logprobs, refusals,
code execution, grounding metadata, signed and redacted reasoning and in-band stream
errors are recorded through a fake upstream (real-shaped captures under
tests/data/content/), then replayed strictly with no upstream. The SDK objects of the
replay must carry the same items, in the same order, as the recorded ones; replayed
through another provider, the text stays text."""

import json
from pathlib import Path

import anthropic
import boto3
import cohere
import ollama
import openai
import pytest
from botocore.config import Config
from google import genai
from conftest import FAKE_KEY, wait_for_fixtures

CONTENT = Path(__file__).resolve().parents[2] / "tests" / "data" / "content"
SSE = "text/event-stream; charset=utf-8"


def content(name: str) -> bytes:
    return (CONTENT / name).read_bytes()


def without(d, *keys):
    """A model dump with generated ids and the like left out, recursively."""
    if isinstance(d, dict):
        return {k: without(v, *keys) for k, v in d.items() if k not in keys}
    if isinstance(d, list):
        return [without(v, *keys) for v in d]
    return d


# --- Anthropic ---------------------------------------------------------------------


def claude(url):
    return anthropic.Anthropic(base_url=url, api_key=FAKE_KEY, max_retries=0)


def claude_ask(url, text, stream):
    kw = dict(model="claude-sonnet-4-5", max_tokens=512, messages=[{"role": "user", "content": text}])
    if stream:
        with claude(url).messages.stream(**kw) as s:
            return s.get_final_message()
    return claude(url).messages.create(**kw)


def test_anthropic_server_tools_citations_stops_and_in_band_errors(start_aimock, cassette_dir, fake_upstream):
    rec = start_aimock(cassette_dir, "--provider-anthropic", fake_upstream.url, command="record")
    asks = [
        ("messages-stream-web-search-citations.sse", "weather in NYC?", True, SSE),
        ("messages-json-pause-turn-web-fetch.json", "summarise the article", False, "application/json"),
        ("messages-json-code-execution-tool-search.json", "what is 6*7?", False, "application/json"),
    ]
    live = []
    for i, (name, text, stream, ct) in enumerate(asks):
        fake_upstream.script("/v1/messages", content(f"anthropic/{name}"), content_type=ct, chunk=97 if stream else None)
        live.append(claude_ask(rec.url, text, stream))
        wait_for_fixtures(cassette_dir / "recorded" / "anthropic.json", i + 1)
    search, pause, code = live
    assert [b.type for b in search.content] == ["text", "server_tool_use", "web_search_tool_result", "text"]
    assert search.content[3].citations[0].type == "web_search_result_location"
    assert search.usage.server_tool_use.web_search_requests == 1
    assert pause.stop_reason == "pause_turn" and pause.content[2].type == "web_fetch_tool_result"
    assert code.stop_reason == "stop_sequence" and code.stop_sequence == "END"
    assert [b.type for b in code.content] == [
        "redacted_thinking", "server_tool_use", "tool_search_tool_result", "server_tool_use",
        "code_execution_tool_result", "server_tool_use", "bash_code_execution_tool_result", "text",
    ]
    # An error after the message started: the SDK raises it mid-stream, after the text.
    fake_upstream.script("/v1/messages", content("anthropic/messages-stream-error-midway.sse"), content_type=SSE, chunk=64)

    def story(url):
        seen = []
        with pytest.raises(anthropic.APIStatusError) as e:
            with claude(url).messages.stream(
                model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "tell a story"}]
            ) as s:
                for t in s.text_stream:
                    seen.append(t)
        return "".join(seen), e.value

    text, err = story(rec.url)
    assert text == "Once upon a" and "Overloaded" in str(err)
    path = cassette_dir / "recorded" / "anthropic.json"
    doc = wait_for_fixtures(path, 4)
    assert FAKE_KEY not in path.read_text()
    assert doc["fixtures"][3]["response"]["native"]["streamError"]["error"]["type"] == "overloaded_error"
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    for (name, text, stream, _), want in zip(asks, live):
        got = claude_ask(replay.url, text, stream)
        assert without(got.model_dump(), "id") == without(want.model_dump(), "id"), name
    text, err = story(replay.url)
    assert text == "Once upon a" and "Overloaded" in str(err)


def test_an_anthropic_recording_replays_as_text_through_openai(start_aimock, cassette_dir, fake_upstream):
    rec = start_aimock(cassette_dir, "--provider-anthropic", fake_upstream.url, command="record")
    fake_upstream.script("/v1/messages", content("anthropic/messages-stream-web-search-citations.sse"), content_type=SSE, chunk=97)
    live = claude_ask(rec.url, "weather in NYC?", True)
    wait_for_fixtures(cassette_dir / "recorded" / "anthropic.json", 1)
    rec.stop()
    replay = start_aimock(cassette_dir, "--strict")
    oa = openai.OpenAI(base_url=replay.url + "/v1", api_key=FAKE_KEY, max_retries=0)
    # The recording matches on its model: ask for it, through another provider's API.
    r = oa.chat.completions.create(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "weather in NYC?"}])
    texts = [b.text for b in live.content if b.type == "text"]
    assert r.choices[0].message.content == "".join(texts)
    assert not r.choices[0].message.tool_calls
    g = genai.Client(api_key=FAKE_KEY, http_options={"base_url": replay.url})
    assert g.models.generate_content(model="claude-sonnet-4-5", contents="weather in NYC?").text == "".join(texts)


# --- OpenAI chat and Responses -----------------------------------------------------


def oai(url):
    return openai.OpenAI(base_url=url + "/v1", api_key=FAKE_KEY, max_retries=0)


def chat(url, text, stream):
    kw = dict(model="gpt-4o", logprobs=True, messages=[{"role": "user", "content": text}])
    if not stream:
        return oai(url).chat.completions.create(**kw)
    with oai(url).chat.completions.stream(stream_options={"include_usage": True}, **kw) as s:
        for _ in s:
            pass
        return s.get_final_completion()


def test_openai_refusal_logprobs_annotations_and_envelope(start_aimock, cassette_dir, fake_upstream):
    rec = start_aimock(cassette_dir, "--provider-openai", fake_upstream.url, command="record")
    asks = [
        ("chat-json-refusal-logprobs.json", "make something dangerous", False),
        ("chat-json-annotations.json", "capital of France?", False),
        ("chat-stream-refusal-logprobs.sse", "do something bad", True),
        ("chat-stream-annotations.sse", "capital of France, streamed", True),
    ]
    live = []
    for i, (name, text, stream) in enumerate(asks):
        ct = "text/event-stream" if stream else "application/json"
        fake_upstream.script("/v1/chat/completions", content(f"openai/{name}"), content_type=ct, chunk=83 if stream else None)
        live.append(chat(rec.url, text, stream))
        wait_for_fixtures(cassette_dir / "recorded" / "openai.json", i + 1)
    refused, cited, refused_streamed, cited_streamed = live
    assert refused.choices[0].message.refusal.startswith("I'm sorry") and refused.choices[0].message.content is None
    assert len(refused.choices[0].logprobs.refusal) == 9
    assert refused.service_tier == "default" and refused.system_fingerprint == "fp_notreal0001"
    assert refused.usage.completion_tokens_details.reasoning_tokens == 0
    assert cited.choices[0].message.annotations[0].url_citation.url == "https://example.com/paris"
    assert cited.service_tier == "priority"
    assert refused_streamed.choices[0].message.refusal == refused.choices[0].message.refusal
    assert cited_streamed.choices[0].message.annotations[0].type == "url_citation"
    assert len(cited_streamed.choices[0].logprobs.content) == 4
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    for (name, text, stream), want in zip(asks, live):
        got = chat(replay.url, text, stream)
        keep = lambda c: without(c.model_dump(), "id", "created")  # noqa: E731
        assert keep(got) == keep(want), name


def test_responses_tool_items_annotations_logprobs_and_summaries(start_aimock, cassette_dir, fake_upstream):
    rec = start_aimock(cassette_dir, "--provider-openai", fake_upstream.url, command="record")
    fake_upstream.script("/v1/responses", content("openai/responses-json-tools-annotations.json"))
    live_json = oai(rec.url).responses.create(model="gpt-4.1", input="capital of France, with tools")
    fake_upstream.script("/v1/responses", content("openai/responses-stream-web-search-annotations.sse"), content_type=SSE, chunk=101)
    with oai(rec.url).responses.stream(model="gpt-4.1", input="capital of France, searched") as s:
        live_stream = s.get_final_response()
    wait_for_fixtures(cassette_dir / "recorded" / "openai.json", 2)
    assert [o.type for o in live_json.output] == [
        "reasoning", "web_search_call", "file_search_call", "code_interpreter_call", "mcp_list_tools", "mcp_call", "message",
    ]
    assert len(live_json.output[0].summary) == 2
    assert [o.type for o in live_stream.output] == ["web_search_call", "message"]
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    got_json = oai(replay.url).responses.create(model="gpt-4.1", input="capital of France, with tools")
    with oai(replay.url).responses.stream(model="gpt-4.1", input="capital of France, searched") as s:
        got_stream = s.get_final_response()
    ids_of_generated = ("id",)
    for got, want in [(got_json, live_json), (got_stream, live_stream)]:
        g = [without(o.model_dump(), *ids_of_generated) if o.type in ("message", "reasoning") else o.model_dump() for o in got.output]
        w = [without(o.model_dump(), *ids_of_generated) if o.type in ("message", "reasoning") else o.model_dump() for o in want.output]
        assert g == w
        assert got.usage == want.usage
    msg = got_json.output[-1].content[0]
    assert [a.type for a in msg.annotations] == ["url_citation", "file_citation"]
    assert msg.logprobs[0].token == "Paris"


# --- Gemini ------------------------------------------------------------------------


def test_gemini_code_execution_grounding_url_context_and_signatures(start_aimock, cassette_dir, fake_upstream):
    models = "/v1/models/gemini-2.5-flash"  # the path this SDK version calls
    rec = start_aimock(cassette_dir, "--provider-gemini", fake_upstream.url, command="record")
    g = lambda url: genai.Client(api_key=FAKE_KEY, http_options={"base_url": url})  # noqa: E731
    fake_upstream.script(f"{models}:generateContent", content("gemini/generate-content-json-code-execution-grounding.json"))
    recording = g(rec.url)  # one client, kept open: a temporary one is closed under the call
    live = recording.models.generate_content(model="gemini-2.5-flash", contents="sum 1 to 100")
    fake_upstream.script(f"{models}:streamGenerateContent", content("gemini/stream-generate-content-sse-url-context.sse"), content_type="text/event-stream", chunk=120)
    live_chunks = list(recording.models.generate_content_stream(model="gemini-2.5-flash", contents="read the page"))
    wait_for_fixtures(cassette_dir / "recorded" / "gemini.json", 2)
    parts = live.candidates[0].content.parts
    assert parts[1].executable_code.code.startswith("print(") and parts[2].code_execution_result.output == "5050\n"
    assert parts[0].thought_signature
    assert live.candidates[0].grounding_metadata.web_search_queries == ["sum of 1 to 100"]
    assert live.candidates[0].url_context_metadata.url_metadata[0].retrieved_url == "https://example.com/math"
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    replaying = g(replay.url)
    got = replaying.models.generate_content(model="gemini-2.5-flash", contents="sum 1 to 100")
    assert got.candidates[0].model_dump() == live.candidates[0].model_dump()
    assert got.usage_metadata == live.usage_metadata
    got_chunks = list(replaying.models.generate_content_stream(model="gemini-2.5-flash", contents="read the page"))

    def parts(chunks):
        return [p for c in chunks for p in c.candidates[0].content.parts]

    # Each signature on a part of its kind, in order; the thought text whole (a replay
    # sends an item's text in one part where the live stream sliced it).
    signed = lambda chunks: [(bool(p.thought), p.thought_signature) for p in parts(chunks) if p.thought_signature]  # noqa: E731
    thoughts = lambda chunks: "".join(p.text for p in parts(chunks) if p.thought)  # noqa: E731
    assert signed(got_chunks) == signed(live_chunks)
    assert thoughts(got_chunks) == thoughts(live_chunks)
    assert "".join(c.text or "" for c in got_chunks) == "".join(c.text or "" for c in live_chunks)
    assert got_chunks[-1].candidates[0].url_context_metadata == live_chunks[-1].candidates[0].url_context_metadata


# --- Bedrock, Cohere, Ollama -------------------------------------------------------


def test_bedrock_converse_server_tool_use_and_redacted_reasoning(start_aimock, cassette_dir, fake_upstream):
    model = "us.anthropic.claude-sonnet-4-5-v1:0"
    path = "/model/us.anthropic.claude-sonnet-4-5-v1%3A0/converse"
    rec = start_aimock(cassette_dir, "--provider-bedrock", fake_upstream.url, command="record")

    def client(url):
        return boto3.client(
            "bedrock-runtime", region_name="us-east-1", endpoint_url=url,
            aws_access_key_id="AKIDTESTNOTREAL", aws_secret_access_key="test-not-a-real-secret",
            config=Config(retries={"total_max_attempts": 1}),
        )

    msgs = [{"role": "user", "content": [{"text": "capital of France?"}]}]
    fake_upstream.script(path, content("bedrock/converse-json-server-tool-reasoning.json"))
    live = client(rec.url).converse(modelId=model, messages=msgs)
    wait_for_fixtures(cassette_dir / "recorded" / "bedrock.json", 1)
    rec.stop()
    blocks = live["output"]["message"]["content"]
    assert blocks[3]["toolUse"]["type"] == "server_tool_use" and "toolResult" in blocks[4]
    assert isinstance(blocks[1]["reasoningContent"]["redactedContent"], bytes)

    replay = start_aimock(cassette_dir, "--strict")
    got = client(replay.url).converse(modelId=model, messages=msgs)
    assert got["output"] == live["output"] and got["usage"] == live["usage"]
    streamed = client(replay.url).converse_stream(modelId=model, messages=msgs)
    kinds = [next(iter(e)) for e in streamed["stream"]]
    assert kinds[0] == "messageStart" and kinds[-1] == "metadata"
    assert kinds.count("contentBlockStop") == len(blocks)


def test_cohere_citations_thinking_and_a_stream_ending_in_error(start_aimock, cassette_dir, fake_upstream):
    rec = start_aimock(cassette_dir, "--provider-cohere", fake_upstream.url, command="record")
    co = lambda url: cohere.ClientV2(api_key=FAKE_KEY, base_url=url, max_retries=0)  # noqa: E731
    msg = lambda t: [{"role": "user", "content": t}]  # noqa: E731
    fake_upstream.script("/v2/chat", content("cohere/chat-v2-json-citations-thinking.json"))
    live = co(rec.url).chat(model="command-a-03-2025", messages=msg("what colour is the sky?"))
    fake_upstream.script("/v2/chat", content("cohere/chat-v2-stream-finish-error.sse"), content_type="text/event-stream", chunk=80)
    live_events = list(co(rec.url).chat_stream(model="command-a-03-2025", messages=msg("what is the answer?")))
    wait_for_fixtures(cassette_dir / "recorded" / "cohere.json", 2)
    assert live.message.citations[0].sources[0].id == "doc:0"
    assert [c.type for c in live.message.content] == ["thinking", "text"]
    assert live_events[-1].type == "message-end" and live_events[-1].delta.finish_reason == "ERROR"
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    got = co(replay.url).chat(model="command-a-03-2025", messages=msg("what colour is the sky?"))
    assert got.message.model_dump() == live.message.model_dump() and got.usage == live.usage
    events = list(co(replay.url).chat_stream(model="command-a-03-2025", messages=msg("what is the answer?")))
    assert events[-1].delta.model_dump() == live_events[-1].delta.model_dump()
    text = lambda evs: "".join(e.delta.message.content.text for e in evs if e.type == "content-delta")  # noqa: E731
    assert text(events) == text(live_events) == "The answer is"


def test_ollama_thinking_and_tool_calls(start_aimock, cassette_dir, fake_upstream):
    rec = start_aimock(cassette_dir, "--provider-ollama", fake_upstream.url, command="record")
    fake_upstream.script("/api/chat", content("ollama/api-chat-stream-thinking-tools.ndjson"), content_type="application/x-ndjson", chunk=90)

    def ask(url):
        parts = list(ollama.Client(host=url).chat(model="qwen3:8b", think=True, stream=True, messages=[{"role": "user", "content": "weather in Paris?"}]))
        thinking = "".join(p.message.thinking or "" for p in parts)
        calls = [(c.function.name, dict(c.function.arguments)) for p in parts for c in (p.message.tool_calls or [])]
        return thinking, calls

    live = ask(rec.url)
    wait_for_fixtures(cassette_dir / "recorded" / "ollama.json", 1)
    rec.stop()
    assert live == ("The user wants the weather. I will call the tool.", [("get_weather", {"city": "Paris"})])
    replay = start_aimock(cassette_dir, "--strict")
    assert ask(replay.url) == live


# --- Embeddings --------------------------------------------------------------------


def test_every_vector_of_every_embedding_type_round_trips(start_aimock, cassette_dir, fake_upstream):
    rec = start_aimock(cassette_dir, "--provider-openai", fake_upstream.url, "--provider-cohere", fake_upstream.url, command="record")
    fake_upstream.script("/v1/embeddings", content("openai/embeddings-json-base64-two-inputs.json"))
    fake_upstream.script("/v2/embed", content("cohere/embed-v2-json-every-type.json"))
    types = ["float", "int8", "uint8", "binary", "ubinary", "base64"]

    def ask(url):
        # The openai SDK asks for base64 and decodes it to floats.
        e = oai(url).embeddings.create(model="text-embedding-3-small", input=["first", "second"])
        c = cohere.ClientV2(api_key=FAKE_KEY, base_url=url, max_retries=0).embed(
            # Other texts: a recorded fixture answers any provider's matching request.
            model="embed-v4.0", texts=["third", "fourth"], input_type="search_document", embedding_types=types
        )
        return [d.embedding for d in e.data], {t: getattr(c.embeddings, t) for t in types}

    live = ask(rec.url)
    wait_for_fixtures(cassette_dir / "recorded" / "openai.json", 1)
    wait_for_fixtures(cassette_dir / "recorded" / "cohere.json", 1)
    rec.stop()
    floats, by_type = live
    assert floats == [[0.125, -0.5, 0.25, 0.0625], [-0.75, 0.5, 0.375, -0.125]]
    assert by_type["int8"] == [[16, -64, 32, 8], [-96, 64, 48, -16]] and by_type["ubinary"] == [[47], [111]]
    replay = start_aimock(cassette_dir, "--strict")
    assert ask(replay.url) == live
