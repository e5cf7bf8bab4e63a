"""The official google-genai SDK against aimock replay, on the Gemini API and on Vertex AI:
generate_content, generate_content_stream, embed_content, function calls, thoughts, errors."""

import json

import cohere
import ollama
import pytest
from conftest import FAKE_KEY, raw_request, write_cassette
from google import genai
from google.genai import errors, types
from google.oauth2.credentials import Credentials

FIXTURES = [
    {"match": {"userMessage": "hello"}, "response": {"content": "Hello from the cassette!"}},
    {
        "match": {"userMessage": "weather", "hasToolResult": False},
        "response": {
            "content": "Let me check.",
            "toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}],
        },
    },
    {
        "match": {"userMessage": "weather", "toolCallId": "call_gemini_get_weather_0", "toolResultContains": "sunny"},
        "response": {"content": "It is sunny in Paris."},
    },
    {"match": {"userMessage": "only tools"}, "response": {"toolCalls": [{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"x": [1, 2]}}]}},
    {"match": {"userMessage": "think"}, "response": {"reasoning": "Six times seven.", "content": "42"}},
    {"match": {"userMessage": "pinned"}, "response": {"content": "ok", "model": "gemini-pinned-001", "finishReason": "length"}},
    {"match": {"userMessage": "json please", "responseFormat": "json_object"}, "response": {"content": '{"a": 1}'}},
    {
        "match": {"userMessage": "slow down"},
        "response": {"error": {"message": "Quota exceeded for aimock", "type": "RESOURCE_EXHAUSTED"}, "status": 429},
    },
    {"match": {"userMessage": "count", "sequenceIndex": 0}, "response": {"content": "one"}},
    {"match": {"userMessage": "count", "sequenceIndex": 1}, "response": {"content": "two"}},
    {"match": {"inputText": "fox"}, "response": {"embedding": [0.5, -0.25, 1.0]}},
]

MODEL = "gemini-2.0-flash"


@pytest.fixture
def server(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "gemini.json", FIXTURES)
    return start_aimock(cassette_dir)


def gemini(server, headers=None):
    opts = {"base_url": server.url}
    if headers:
        opts["headers"] = headers
    return genai.Client(api_key=FAKE_KEY, http_options=opts)


def vertex(server):
    # Explicit credentials: google-auth never looks for real ones, and nothing leaves loopback.
    return genai.Client(
        vertexai=True,
        project="test-project",
        location="us-central1",
        credentials=Credentials(token="fake-token"),
        http_options={"base_url": server.url},
    )


@pytest.fixture(params=["gemini", "vertex"])
def client(request, server):
    return gemini(server) if request.param == "gemini" else vertex(server)


def test_generate_content_returns_the_fixture_text_with_usage(client):
    r = client.models.generate_content(model=MODEL, contents="hello there")
    assert r.text == "Hello from the cassette!"
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    assert r.candidates[0].content.role == "model"
    assert r.usage_metadata.total_token_count >= r.usage_metadata.prompt_token_count > 0
    assert r.model_version == MODEL
    assert r.response_id


def test_streamed_text_reassembles_and_the_last_chunk_finishes(client):
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="hello"))
    assert len(chunks) > 1
    assert "".join(c.text for c in chunks) == "Hello from the cassette!"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert all(c.candidates[0].finish_reason is None for c in chunks[:-1])
    assert chunks[-1].usage_metadata.candidates_token_count > 0


def test_function_calls_arrive_with_parsed_args_alongside_text(client):
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(name="get_weather", description="w")])
    r = client.models.generate_content(
        model=MODEL, contents="what's the weather?", config=types.GenerateContentConfig(tools=[tool])
    )
    calls = r.function_calls
    assert [c.name for c in calls] == ["get_weather"]
    assert calls[0].args == {"city": "Paris", "days": 2}
    parts = r.candidates[0].content.parts
    assert parts[0].text == "Let me check."
    # The real API has no FUNCTION_CALL finish reason.
    assert r.candidates[0].finish_reason == types.FinishReason.STOP


def test_streamed_function_calls_come_whole_in_one_chunk(client):
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="only tools"))
    calls = [fc for c in chunks for fc in (c.function_calls or [])]
    assert [(fc.name, fc.args) for fc in calls] == [("a", {}), ("b", {"x": [1, 2]})]
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


def test_tool_result_loop_matches_the_derived_call_id(client):
    first = client.models.generate_content(model=MODEL, contents="weather in Paris?")
    history = [
        types.Content(role="user", parts=[types.Part.from_text(text="weather in Paris?")]),
        first.candidates[0].content,
        types.Content(
            role="user",
            parts=[types.Part.from_function_response(name="get_weather", response={"forecast": "sunny"})],
        ),
    ]
    r = client.models.generate_content(model=MODEL, contents=history)
    assert r.text == "It is sunny in Paris."


def test_thoughts_are_thought_parts_that_text_leaves_out(client):
    r = client.models.generate_content(model=MODEL, contents="think hard")
    parts = r.candidates[0].content.parts
    assert parts[0].thought is True and parts[0].text == "Six times seven."
    assert r.text == "42"
    assert r.usage_metadata.thoughts_token_count > 0
    streamed = list(client.models.generate_content_stream(model=MODEL, contents="think hard"))
    thoughts = "".join(p.text for c in streamed for p in c.candidates[0].content.parts if p.thought)
    assert thoughts == "Six times seven."
    assert "".join(c.text or "" for c in streamed) == "42"


def test_model_and_finish_reason_overrides(client):
    r = client.models.generate_content(model=MODEL, contents="pinned")
    assert r.model_version == "gemini-pinned-001"
    assert r.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS


def test_json_mode_matches_response_format(client):
    r = client.models.generate_content(
        model=MODEL, contents="json please", config=types.GenerateContentConfig(response_mime_type="application/json")
    )
    assert json.loads(r.text) == {"a": 1}


def test_error_fixture_raises_client_error_with_code_and_message(client):
    with pytest.raises(errors.ClientError) as e:
        client.models.generate_content(model=MODEL, contents="slow down")
    assert e.value.code == 429
    assert e.value.status == "RESOURCE_EXHAUSTED"
    assert e.value.message == "Quota exceeded for aimock"
    with pytest.raises(errors.ClientError) as e:
        list(client.models.generate_content_stream(model=MODEL, contents="slow down"))
    assert e.value.code == 429 and e.value.message == "Quota exceeded for aimock"


def test_unmatched_request_is_a_404_client_error(client):
    with pytest.raises(errors.ClientError) as e:
        client.models.generate_content(model=MODEL, contents="nothing like it")
    assert e.value.code == 404 and e.value.status == "NOT_FOUND"
    assert "No fixture matched" in e.value.message


def test_strict_miss_is_a_503_server_error(server):
    # Keep the client referenced: google-genai closes its HTTP client when it is collected.
    strict = gemini(server, headers={"X-AIMock-Strict": "true"})
    with pytest.raises(errors.ServerError) as e:
        strict.models.generate_content(model=MODEL, contents="nope")
    assert e.value.code == 503 and e.value.status == "UNAVAILABLE"
    assert "Strict mode" in e.value.message


def test_sequence_index_counts_per_test_id(server):
    a = gemini(server, headers={"X-Test-Id": "a"})
    got = [a.models.generate_content(model=MODEL, contents="count").text for _ in range(2)]
    b = gemini(server, headers={"X-Test-Id": "b"})
    other = b.models.generate_content(model=MODEL, contents="count")
    assert got == ["one", "two"] and other.text == "one"


def test_embed_content_uses_the_fixture_vector_for_every_input(client):
    r = client.models.embed_content(model="gemini-embedding-001", contents=["the fox", "a fox"])
    assert [e.values for e in r.embeddings] == [[0.5, -0.25, 1.0], [0.5, -0.25, 1.0]]
    one = client.models.embed_content(model="gemini-embedding-001", contents="fox")
    assert one.embeddings[0].values == [0.5, -0.25, 1.0]


def test_unmatched_embedding_is_deterministic_and_sized(client):
    cfg = types.EmbedContentConfig(output_dimensionality=16)
    a = client.models.embed_content(model="gemini-embedding-001", contents="something", config=cfg)
    b = client.models.embed_content(model="gemini-embedding-001", contents="something", config=cfg)
    assert len(a.embeddings[0].values) == 16 and a.embeddings[0].values == b.embeddings[0].values
    default = client.models.embed_content(model="gemini-embedding-001", contents="something")
    assert len(default.embeddings[0].values) == 768


def test_stream_without_alt_sse_is_a_json_array(server):
    body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}).encode()
    r = raw_request("POST", f"{server.url}/v1beta/models/{MODEL}:streamGenerateContent", body)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.content.startswith(b"[{\n") and r.content.endswith(b"\n]")
    items = json.loads(r.content)
    assert "".join(i["candidates"][0]["content"]["parts"][0]["text"] for i in items) == "Hello from the cassette!"
    sse = raw_request("POST", f"{server.url}/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", body)
    assert sse.headers["content-type"] == "text/event-stream"
    assert sse.content.startswith(b'data: {"candidates": [') and sse.content.endswith(b"\r\n\r\n")


def test_malformed_request_is_a_400_invalid_argument(server):
    r = raw_request("POST", f"{server.url}/v1beta/models/{MODEL}:generateContent", b"{nope")
    assert r.status_code == 400
    assert r.json()["error"]["status"] == "INVALID_ARGUMENT" and r.json()["error"]["code"] == 400


def test_one_plain_fixture_answers_gemini_cohere_and_ollama(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "plain.json", [{"match": {"userMessage": "hello"}, "response": {"content": "Hi from everywhere"}}])
    server = start_aimock(cassette_dir)
    g_client = gemini(server)
    g = g_client.models.generate_content(model=MODEL, contents="hello")
    c = cohere.ClientV2(api_key=FAKE_KEY, base_url=server.url, max_retries=0).chat(
        model="command-r", messages=[{"role": "user", "content": "hello"}]
    )
    o = ollama.Client(host=server.url).chat(model="llama3", messages=[{"role": "user", "content": "hello"}], stream=False)
    assert g.text == c.message.content[0].text == o.message.content == "Hi from everywhere"
