"""The official ollama SDK against aimock replay: chat, generate, embed, embeddings,
streaming and not, tools, thinking, overrides, errors."""

import json

import ollama
import pytest
from conftest import raw_request, write_cassette

FIXTURES = [
    {"match": {"userMessage": "hello"}, "response": {"content": "Hello from the cassette!"}},
    {
        "match": {"userMessage": "weather", "hasToolResult": False},
        "response": {"toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}]},
    },
    {
        "match": {"userMessage": "weather", "toolCallId": "call_0", "toolResultContains": "sunny"},
        "response": {"content": "It is sunny in Paris."},
    },
    {"match": {"userMessage": "think"}, "response": {"reasoning": "Six times seven.", "content": "42"}},
    {
        "match": {"userMessage": "pinned"},
        "response": {"content": "cut short", "model": "llama3.2:pinned", "finishReason": "length"},
    },
    {"match": {"userMessage": "json please", "responseFormat": "json_object"}, "response": {"content": '{"a": 1}'}},
    {"match": {"userMessage": "slow down"}, "response": {"error": {"message": "too many requests"}, "status": 429}},
    {"match": {"userMessage": "count", "sequenceIndex": 0}, "response": {"content": "one"}},
    {"match": {"userMessage": "count", "sequenceIndex": 1}, "response": {"content": "two"}},
    {"match": {"inputText": "fox"}, "response": {"embedding": [0.5, -0.25, 1.0]}},
]

MODEL = "llama3"


@pytest.fixture
def server(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "ollama.json", FIXTURES)
    return start_aimock(cassette_dir)


def client(server, **kw):
    return ollama.Client(host=server.url, **kw)


def user(text):
    return [{"role": "user", "content": text}]


def test_chat_without_streaming_returns_one_final_response(server):
    r = client(server).chat(model=MODEL, messages=user("hello there"), stream=False)
    assert r.message.role == "assistant"
    assert r.message.content == "Hello from the cassette!"
    assert r.done is True and r.done_reason == "stop"
    assert r.model == MODEL
    assert r.eval_count > 0 and r.prompt_eval_count > 0 and r.total_duration > 0
    assert r.created_at.endswith("Z")


def test_chat_streams_by_default_over_ndjson(server):
    raw = raw_request("POST", server.url + "/api/chat", json.dumps({"model": MODEL, "messages": user("hello")}).encode())
    assert raw.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in raw.content.decode().splitlines()]
    assert lines[-1]["done"] is True and all(line["done"] is False for line in lines[:-1])
    parts = list(client(server).chat(model=MODEL, messages=user("hello"), stream=True))
    assert len(parts) > 2
    assert "".join(p.message.content for p in parts) == "Hello from the cassette!"
    assert parts[-1].done and parts[-1].done_reason == "stop"


def test_generate_streaming_and_not(server):
    c = client(server)
    r = c.generate(model=MODEL, prompt="hello", stream=False)
    assert r.response == "Hello from the cassette!"
    assert r.done and r.context
    parts = list(c.generate(model=MODEL, prompt="hello", system="be brief", stream=True))
    assert "".join(p.response for p in parts) == "Hello from the cassette!"
    assert parts[-1].done and parts[-1].context


def test_tool_calls_have_object_arguments(server):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]
    r = client(server).chat(model=MODEL, messages=user("weather in Paris?"), tools=tools, stream=False)
    call = r.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert call.function.arguments == {"city": "Paris", "days": 2}
    streamed = list(client(server).chat(model=MODEL, messages=user("weather in Paris?"), stream=True))
    calls = [tc for p in streamed for tc in (p.message.tool_calls or [])]
    assert [(tc.function.name, dict(tc.function.arguments)) for tc in calls] == [("get_weather", {"city": "Paris", "days": 2})]


def test_tool_result_loop_links_the_tool_message_to_its_call(server):
    c = client(server)
    first = c.chat(model=MODEL, messages=user("weather in Paris?"), stream=False)
    messages = user("weather in Paris?") + [
        first.message,
        {"role": "tool", "content": "sunny, 22C", "tool_name": "get_weather"},
    ]
    r = c.chat(model=MODEL, messages=messages, stream=False)
    assert r.message.content == "It is sunny in Paris."


def test_thinking_comes_back_as_thinking(server):
    r = client(server).chat(model=MODEL, messages=user("think hard"), think=True, stream=False)
    assert r.message.thinking == "Six times seven."
    assert r.message.content == "42"
    parts = list(client(server).chat(model=MODEL, messages=user("think hard"), think=True, stream=True))
    assert "".join(p.message.thinking or "" for p in parts) == "Six times seven."
    assert "".join(p.message.content for p in parts) == "42"
    g = client(server).generate(model=MODEL, prompt="think hard", think=True, stream=False)
    assert g.thinking == "Six times seven." and g.response == "42"


def test_model_and_finish_reason_overrides_are_honoured(server):
    r = client(server).chat(model=MODEL, messages=user("pinned"), stream=False)
    assert r.model == "llama3.2:pinned"
    assert r.done_reason == "length"


def test_json_format_matches_response_format(server):
    r = client(server).chat(model=MODEL, messages=user("json please"), format="json", stream=False)
    assert json.loads(r.message.content) == {"a": 1}


def test_sequence_index_counts_per_test_id(server):
    a = client(server, headers={"X-Test-Id": "a"})
    got = [a.chat(model=MODEL, messages=user("count"), stream=False).message.content for _ in range(2)]
    b = client(server, headers={"X-Test-Id": "b"})
    assert got == ["one", "two"]
    assert b.chat(model=MODEL, messages=user("count"), stream=False).message.content == "one"


def test_embed_and_legacy_embeddings(server):
    c = client(server)
    r = c.embed(model="nomic-embed-text", input=["the fox", "a fox"])
    assert r.embeddings == [[0.5, -0.25, 1.0], [0.5, -0.25, 1.0]]
    assert r.model == "nomic-embed-text"
    legacy = c.embeddings(model="nomic-embed-text", prompt="fox")
    assert legacy.embedding == [0.5, -0.25, 1.0]


def test_unmatched_embeddings_are_deterministic_1536_vectors(server):
    c = client(server)
    a = c.embed(model="nomic-embed-text", input="something else")
    b = c.embed(model="nomic-embed-text", input="something else")
    assert len(a.embeddings[0]) == 1536 and a.embeddings == b.embeddings
    assert c.embeddings(model="nomic-embed-text", prompt="something else").embedding == a.embeddings[0]


def test_error_fixture_raises_response_error_with_status(server):
    with pytest.raises(ollama.ResponseError) as e:
        client(server).chat(model=MODEL, messages=user("slow down"), stream=False)
    assert e.value.status_code == 429 and e.value.error == "too many requests"
    with pytest.raises(ollama.ResponseError) as e:
        list(client(server).chat(model=MODEL, messages=user("slow down"), stream=True))
    assert e.value.status_code == 429


def test_unmatched_and_strict_misses_raise_response_errors(server):
    with pytest.raises(ollama.ResponseError) as e:
        client(server).chat(model=MODEL, messages=user("nothing like it"), stream=False)
    assert e.value.status_code == 404 and "No fixture matched" in e.value.error
    strict = client(server, headers={"X-AIMock-Strict": "true"})
    with pytest.raises(ollama.ResponseError) as e:
        strict.generate(model=MODEL, prompt="nothing", stream=False)
    assert e.value.status_code == 503 and "Strict mode" in e.value.error


def test_request_without_model_is_a_400(server):
    r = raw_request("POST", server.url + "/api/chat", json.dumps({"messages": user("hello")}).encode())
    assert r.status_code == 400 and r.json() == {"error": "model is required"}


def test_a_429_carries_retry_after(server):
    seen = []
    c = client(server, event_hooks={"response": [seen.append]})
    with pytest.raises(ollama.ResponseError) as e:
        c.chat(model=MODEL, messages=user("slow down"), stream=False)
    assert e.value.status_code == 429
    assert seen[-1].headers["retry-after"] == "1"
