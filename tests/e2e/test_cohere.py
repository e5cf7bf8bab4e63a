"""The official cohere SDK (ClientV2) against aimock replay: chat, chat_stream, tools,
reasoning, embed, errors."""

import json

import cohere
import pytest
from cohere.errors import BadRequestError, NotFoundError, ServiceUnavailableError, TooManyRequestsError
from conftest import FAKE_KEY, raw_request, write_cassette

FIXTURES = [
    {"match": {"userMessage": "hello"}, "response": {"content": "Hello from the cassette!"}},
    {
        "match": {"userMessage": "person", "hasToolResult": False},
        "response": {
            "content": "I will use the Person tool.",
            "toolCalls": [{"name": "Person", "arguments": {"name": "Erick", "age": 27}, "id": "Person_fixed01"}],
        },
    },
    {
        "match": {"userMessage": "person", "toolCallId": "Person_fixed01"},
        "response": {"content": "Erick is 27."},
    },
    {"match": {"userMessage": "reason"}, "response": {"reasoning": "Japan, so Osaka.", "content": "Osaka."}},
    {"match": {"userMessage": "pinned"}, "response": {"content": "cut", "finishReason": "length"}},
    {
        "match": {"userMessage": "slow down"},
        "response": {"error": {"message": "You are past your rate limit"}, "status": 429},
    },
    {"match": {"userMessage": "count", "sequenceIndex": 0}, "response": {"content": "one"}},
    {"match": {"userMessage": "count", "sequenceIndex": 1}, "response": {"content": "two"}},
    {"match": {"inputText": "fox"}, "response": {"embedding": [0.5, -0.25, 1.0]}},
]

MODEL = "command-r"


@pytest.fixture
def server(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "cohere.json", FIXTURES)
    return start_aimock(cassette_dir)


def client(server):
    # No retries: 429/503 fixtures must surface at once.
    return cohere.ClientV2(api_key=FAKE_KEY, base_url=server.url, max_retries=0)


def user(text):
    return [{"role": "user", "content": text}]


def test_chat_returns_the_fixture_text(server):
    r = client(server).chat(model=MODEL, messages=user("hello there"))
    assert r.message.role == "assistant"
    assert r.message.content[0].type == "text"
    assert r.message.content[0].text == "Hello from the cassette!"
    assert r.finish_reason == "COMPLETE"
    assert r.usage.billed_units.output_tokens > 0 and r.usage.tokens.input_tokens > 0
    assert r.id


def test_chat_is_deterministic(server):
    c = client(server)
    assert c.chat(model=MODEL, messages=user("hello")).id == c.chat(model=MODEL, messages=user("hello")).id


def test_chat_stream_yields_typed_events_that_reassemble(server):
    events = list(client(server).chat_stream(model=MODEL, messages=user("hello")))
    types = [e.type for e in events]
    assert types[0] == "message-start" and types[1] == "content-start"
    assert types[-2:] == ["content-end", "message-end"]
    text = "".join(e.delta.message.content.text for e in events if e.type == "content-delta")
    assert text == "Hello from the cassette!"
    assert events[-1].delta.finish_reason == "COMPLETE"
    assert events[-1].delta.usage.billed_units.output_tokens > 0


def test_tool_calls_come_with_a_tool_plan(server):
    tools = [
        {
            "type": "function",
            "function": {"name": "Person", "description": "", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    r = client(server).chat(model=MODEL, messages=user("make a person"), tools=tools)
    assert r.finish_reason == "TOOL_CALL"
    assert r.message.tool_plan == "I will use the Person tool."
    call = r.message.tool_calls[0]
    assert call.id == "Person_fixed01" and call.type == "function"
    assert call.function.name == "Person"
    assert json.loads(call.function.arguments) == {"name": "Erick", "age": 27}


def test_streamed_tool_call_arguments_reassemble(server):
    events = list(client(server).chat_stream(model=MODEL, messages=user("person please")))
    kinds = [e.type for e in events]
    assert "tool-plan-delta" in kinds and kinds.index("tool-plan-delta") < kinds.index("tool-call-start")
    plan = "".join(e.delta.message.tool_plan for e in events if e.type == "tool-plan-delta")
    start = next(e for e in events if e.type == "tool-call-start")
    args = "".join(e.delta.message.tool_calls.function.arguments for e in events if e.type == "tool-call-delta")
    assert plan == "I will use the Person tool."
    assert start.delta.message.tool_calls.function.name == "Person"
    assert json.loads(args) == {"name": "Erick", "age": 27}
    assert events[-1].delta.finish_reason == "TOOL_CALL"


def test_tool_result_loop_matches_by_tool_call_id(server):
    c = client(server)
    first = c.chat(model=MODEL, messages=user("person please"))
    call = first.message.tool_calls[0]
    messages = user("person please") + [
        {
            "role": "assistant",
            "tool_plan": first.message.tool_plan,
            "tool_calls": [
                {"id": call.id, "type": "function", "function": {"name": call.function.name, "arguments": call.function.arguments}}
            ],
        },
        {
            "role": "tool",
            "tool_call_id": call.id,
            "content": [{"type": "document", "document": {"data": json.dumps({"name": "Erick", "age": 27})}}],
        },
    ]
    r = c.chat(model=MODEL, messages=messages)
    assert r.message.content[0].text == "Erick is 27."


def test_reasoning_is_a_thinking_content_item(server):
    r = client(server).chat(model=MODEL, messages=user("reason it out"))
    assert r.message.content[0].type == "thinking" and r.message.content[0].thinking == "Japan, so Osaka."
    assert r.message.content[1].text == "Osaka."
    events = list(client(server).chat_stream(model=MODEL, messages=user("reason it out")))
    deltas = [e.delta.message.content for e in events if e.type == "content-delta"]
    assert "".join(d.thinking or "" for d in deltas) == "Japan, so Osaka."
    assert "".join(d.text or "" for d in deltas) == "Osaka."


def test_finish_reason_override_is_translated(server):
    assert client(server).chat(model=MODEL, messages=user("pinned")).finish_reason == "MAX_TOKENS"


def test_sequence_index_counts_per_test_id(server):
    c = client(server)
    opts = {"additional_headers": {"X-Test-Id": "a"}}
    got = [c.chat(model=MODEL, messages=user("count"), request_options=opts).message.content[0].text for _ in range(2)]
    other = c.chat(model=MODEL, messages=user("count"), request_options={"additional_headers": {"X-Test-Id": "b"}})
    assert got == ["one", "two"] and other.message.content[0].text == "one"


def test_embed_returns_the_fixture_vector_by_type(server):
    r = client(server).embed(
        model="embed-english-v3.0", texts=["the fox", "a fox"], input_type="search_document", embedding_types=["float", "int8"]
    )
    assert r.embeddings.float_ == [[0.5, -0.25, 1.0], [0.5, -0.25, 1.0]]
    assert r.embeddings.int8 == [[64, -32, 127], [64, -32, 127]]
    assert r.texts == ["the fox", "a fox"]


def test_unmatched_embed_is_a_deterministic_1024_vector(server):
    c = client(server)
    a = c.embed(model="embed-english-v3.0", texts=["else"], input_type="search_query", embedding_types=["float"])
    b = c.embed(model="embed-english-v3.0", texts=["else"], input_type="search_query", embedding_types=["float"])
    assert len(a.embeddings.float_[0]) == 1024 and a.embeddings.float_ == b.embeddings.float_


def test_error_fixture_raises_too_many_requests(server):
    with pytest.raises(TooManyRequestsError) as e:
        client(server).chat(model=MODEL, messages=user("slow down"))
    assert e.value.status_code == 429
    assert e.value.body["message"] == "You are past your rate limit"
    with pytest.raises(TooManyRequestsError):
        list(client(server).chat_stream(model=MODEL, messages=user("slow down")))


def test_unmatched_chat_raises_not_found(server):
    with pytest.raises(NotFoundError) as e:
        client(server).chat(model=MODEL, messages=user("nothing like it"))
    assert "No fixture matched" in e.value.body["message"]


def test_strict_miss_raises_service_unavailable(server):
    with pytest.raises(ServiceUnavailableError) as e:
        client(server).chat(
            model=MODEL, messages=user("nothing"), request_options={"additional_headers": {"X-AIMock-Strict": "1"}}
        )
    assert e.value.status_code == 503 and "Strict mode" in e.value.body["message"]


def test_chat_without_model_is_a_400_in_cohere_shape(server):
    body = json.dumps({"messages": user("hello")}).encode()
    r = raw_request("POST", server.url + "/v2/chat", body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json() == {"message": "model is required"}
    with pytest.raises(BadRequestError):
        client(server).chat(model="", messages=user("hello"))


def test_a_429_tells_the_sdk_when_to_retry(server):
    with pytest.raises(TooManyRequestsError) as e:
        client(server).chat(model=MODEL, messages=user("slow down"))
    assert e.value.headers["retry-after"] == "1"
