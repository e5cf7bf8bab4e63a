"""The official openai SDK against aimock replay: chat, tools, embeddings, errors."""

import base64
import struct

import openai
import pytest
from conftest import FAKE_KEY, raw_request, write_cassette


@pytest.fixture
def server(start_aimock, cassette_dir):
    write_cassette(
        cassette_dir,
        "chat.json",
        [
            {"match": {"userMessage": "hello"}, "response": {"content": "Hello from the cassette!"}},
            {
                "match": {"userMessage": "weather", "hasToolResult": False},
                "response": {
                    "content": "Let me check.",
                    "toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_fixed_1"}],
                },
            },
            {
                "match": {"userMessage": "weather", "toolCallId": "call_fixed_1"},
                "response": {"content": "It is sunny in Paris."},
            },
            {
                "match": {"userMessage": "slow down"},
                "response": {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}, "status": 429},
            },
            {"match": {"userMessage": "count", "sequenceIndex": 0}, "response": {"content": "one"}},
            {"match": {"userMessage": "count", "sequenceIndex": 1}, "response": {"content": "two"}},
            {"match": {"inputText": "fox"}, "response": {"embedding": [0.5, -0.25, 1.0]}},
            {
                "match": {"userMessage": "two ways"},
                "response": {
                    "content": "Hi!",
                    "choices": [
                        {"content": "Hi!"},
                        {"content": "Hello there, friend.", "finishReason": "length"},
                    ],
                },
            },
        ],
    )
    return start_aimock(cassette_dir)


def client(server, **kw):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=FAKE_KEY, max_retries=0, **kw)


def test_chat_completion_returns_the_fixture_text(server):
    r = client(server).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello there"}])
    assert r.choices[0].message.content == "Hello from the cassette!"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.total_tokens > 0
    assert r.id.startswith("chatcmpl-")


def test_replay_is_deterministic_across_calls(server):
    c = client(server)
    a = c.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
    b = c.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
    assert a.http_response.content == b.http_response.content
    assert a.headers["x-request-id"] == b.headers["x-request-id"]


def test_streamed_chat_reassembles_to_the_fixture_text_and_reports_usage(server):
    stream = client(server).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the cassette!"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0


def test_tool_calls_are_parsed_by_the_sdk_with_text(server):
    r = client(server).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "what's the weather?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    )
    m = r.choices[0].message
    assert m.content == "Let me check."
    assert m.tool_calls[0].id == "call_fixed_1"
    assert m.tool_calls[0].function.name == "get_weather"
    assert m.tool_calls[0].function.arguments == '{"city":"Paris"}'
    assert r.choices[0].finish_reason == "tool_calls"


def test_streamed_tool_call_arguments_reassemble(server):
    stream = client(server).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "weather please"}], stream=True
    )
    args, name = "", None
    for c in stream:
        for tc in c.choices[0].delta.tool_calls or []:
            name = name or tc.function.name
            args += tc.function.arguments or ""
    assert name == "get_weather" and args == '{"city":"Paris"}'


def test_tool_result_turn_matches_by_tool_call_id(server):
    r = client(server).chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_fixed_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "call_fixed_1", "content": "sunny"},
        ],
    )
    assert r.choices[0].message.content == "It is sunny in Paris."


def test_rate_limit_fixture_raises_rate_limit_error(server):
    with pytest.raises(openai.RateLimitError) as e:
        client(server).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "slow down"}])
    assert e.value.status_code == 429
    assert "Rate limit reached" in str(e.value)
    assert e.value.response.headers["retry-after"] == "1"


def test_sequence_index_counts_per_test_id(server):
    c = client(server)
    msgs = [{"role": "user", "content": "count"}]
    got = [
        c.chat.completions.create(model="m", messages=msgs, extra_headers={"X-Test-Id": "a"}).choices[0].message.content
        for _ in range(2)
    ]
    other = c.chat.completions.create(model="m", messages=msgs, extra_headers={"X-Test-Id": "b"})
    assert got == ["one", "two"]
    assert other.choices[0].message.content == "one"


def test_embeddings_float_and_sdk_default_base64(server):
    c = client(server)
    r = c.embeddings.create(model="text-embedding-3-small", input=["the fox", "a fox"], encoding_format="float")
    assert [d.embedding for d in r.data] == [[0.5, -0.25, 1.0], [0.5, -0.25, 1.0]]
    # The SDK asks for base64 by default and decodes it itself.
    r = c.embeddings.create(model="text-embedding-3-small", input="fox")
    assert r.data[0].embedding == [0.5, -0.25, 1.0]
    raw = c.embeddings.with_raw_response.create(model="m", input="fox", encoding_format="base64")
    b64 = raw.http_response.json()["data"][0]["embedding"]
    assert list(struct.unpack("<3f", base64.b64decode(b64))) == [0.5, -0.25, 1.0]


def test_unmatched_embedding_gets_a_deterministic_vector(server):
    c = client(server)
    a = c.embeddings.create(model="m", input="something else", dimensions=64).data[0].embedding
    b = c.embeddings.create(model="m", input="something else", dimensions=64).data[0].embedding
    assert len(a) == 64 and a == b
    assert a != c.embeddings.create(model="m", input="another", dimensions=64).data[0].embedding


def test_lenient_miss_is_a_404_naming_the_closest_fixture(server):
    with pytest.raises(openai.NotFoundError) as e:
        client(server).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "helo"}])
    assert e.value.status_code == 404
    assert "No fixture matched" in str(e.value)
    assert e.value.body["code"] == "no_fixture_match"


def test_strict_miss_is_a_503(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "a.json", [{"match": {"userMessage": "hello"}, "response": {"content": "hi"}}])
    server = start_aimock(cassette_dir, "--strict")
    with pytest.raises(openai.InternalServerError) as e:
        client(server).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "goodbye"}])
    assert e.value.status_code == 503
    assert "Strict mode: no fixture matched" in str(e.value)
    assert "goodbye" in str(e.value)


def test_strict_header_overrides_the_server_default(server):
    with pytest.raises(openai.InternalServerError) as e:
        client(server).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "nothing"}], extra_headers={"X-AIMock-Strict": "True"}
        )
    assert e.value.status_code == 503


def test_azure_client_reaches_deployment_routes(server):
    az = openai.AzureOpenAI(
        azure_endpoint=server.url, api_key=FAKE_KEY, api_version="2024-10-21", azure_deployment="my-gpt", max_retries=0
    )
    r = az.chat.completions.create(model="my-gpt", messages=[{"role": "user", "content": "hello"}])
    assert r.choices[0].message.content == "Hello from the cassette!"
    e = az.embeddings.create(model="my-embed", input="fox")
    assert e.data[0].embedding == [0.5, -0.25, 1.0]


def test_malformed_json_and_bad_utf8_get_a_400_in_openai_shape(server):
    for body in (b"{not json", b'{"model":"m","messages":[{"role":"user","content":"\xff"}]}'):
        r = raw_request("POST", server.url + "/v1/chat/completions", body, headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_json"
        assert r.json()["error"]["type"] == "invalid_request_error"


def test_unknown_route_is_a_json_404(server):
    r = raw_request("GET", server.url + "/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"]["type"] == "not_found"


def test_oversized_body_gets_a_413_status_not_a_dropped_connection(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "a.json", [{"match": {}, "response": {"content": "hi"}}])
    server = start_aimock(cassette_dir, "--max-body-bytes", "1000")
    r = raw_request("POST", server.url + "/v1/chat/completions", b"x" * 5000, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "request_too_large"


def test_oversized_headers_get_a_431(server):
    import socket
    from urllib.parse import urlparse

    u = urlparse(server.url)
    with socket.create_connection((u.hostname, u.port)) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 600_000 + b"\r\n\r\n")
        s.settimeout(5)
        head = s.recv(200)
    assert head.startswith(b"HTTP/1.1 431"), head


def test_models_list_and_retrieve(server):
    ids = [m.id for m in client(server).models.list()]
    assert "gpt-4o" in ids
    assert client(server).models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"


def test_chat_completions_parse_fills_a_pydantic_model(start_aimock, cassette_dir):
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        population: int

    write_cassette(
        cassette_dir,
        "a.json",
        [{"match": {"userMessage": "city", "responseFormat": "json_schema"}, "response": {"content": {"name": "Paris", "population": 2100000}}}],
    )
    server = start_aimock(cassette_dir)
    r = client(server).chat.completions.parse(
        model="gpt-4o", messages=[{"role": "user", "content": "a city please"}], response_format=City
    )
    assert r.choices[0].message.parsed == City(name="Paris", population=2100000)


def test_n_choices_come_back_each_with_its_own_index_and_finish(server):
    c = client(server)
    msgs = [{"role": "user", "content": "say it two ways"}]
    r = c.chat.completions.create(model="gpt-4o", n=2, messages=msgs)
    assert [ch.index for ch in r.choices] == [0, 1]
    assert r.choices[0].message.content == "Hi!"
    assert r.choices[1].message.content == "Hello there, friend."
    assert [ch.finish_reason for ch in r.choices] == ["stop", "length"]
    # Streamed: each chunk names its choice by index.
    texts, finish = {}, {}
    for chunk in c.chat.completions.create(model="gpt-4o", n=2, messages=msgs, stream=True):
        for ch in chunk.choices:
            texts[ch.index] = texts.get(ch.index, "") + (ch.delta.content or "")
            if ch.finish_reason:
                finish[ch.index] = ch.finish_reason
    assert texts == {0: "Hi!", 1: "Hello there, friend."}
    assert finish == {0: "stop", 1: "length"}
