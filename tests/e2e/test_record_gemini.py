"""Record round trips with the official google-genai SDK, on the Gemini API and on Vertex
AI: record through a fake upstream that replays real captures, check the cassette holds
the whole answer and no credential, then replay strictly with no upstream."""

import json

from conftest import FAKE_KEY, golden, raw_request, wait_for_fixtures
from google import genai
from google.genai import types
from google.oauth2.credentials import Credentials

QUERY_KEY = "AIzaSy-test-not-a-real-key-0123456789"
VERTEX_TOKEN = "ya29.test-not-a-real-token"
# google-genai's default API versions: v1 on the Gemini API, v1beta1 on Vertex.
MODELS = "/v1/models"
VERTEX_MODELS = "/v1beta1/projects/test-project/locations/us-central1/publishers/google/models"


def gemini(url):
    return genai.Client(api_key=FAKE_KEY, http_options={"base_url": url})


def vertex(url):
    # Explicit credentials: google-auth never looks for real ones, and nothing leaves loopback.
    return genai.Client(
        vertexai=True,
        project="test-project",
        location="us-central1",
        credentials=Credentials(token=VERTEX_TOKEN),
        http_options={"base_url": url},
    )


def sse_items(raw: bytes):
    return [json.loads(e[len(b"data: ") :]) for e in raw.split(b"\r\n\r\n") if e.strip()]


def parts_of(items):
    """(text, thoughts, [(name, args)]) of a list of GenerateContentResponse dicts."""
    text, thought, calls = "", "", []
    for v in items:
        for p in v["candidates"][0]["content"]["parts"]:
            if "functionCall" in p:
                calls.append((p["functionCall"]["name"], p["functionCall"].get("args", {})))
            elif p.get("thought"):
                thought += p["text"]
            else:
                text += p.get("text", "")
    return text, thought, calls


def sdk_parts(responses):
    """The same triple from google-genai responses."""
    text, thought, calls = "", "", []
    for r in responses:
        for p in r.candidates[0].content.parts or []:
            if p.function_call:
                calls.append((p.function_call.name, p.function_call.args or {}))
            elif p.thought:
                thought += p.text or ""
            else:
                text += p.text or ""
    return text, thought, calls


def ask(client, user, stream, tools=None):
    cfg = types.GenerateContentConfig(tools=tools) if tools else None
    if stream:
        return list(client.models.generate_content_stream(model="gemini-2.5-pro", contents=user, config=cfg))
    return [client.models.generate_content(model="gemini-2.5-pro", contents=user, config=cfg)]


TOOLS = [types.Tool(function_declarations=[types.FunctionDeclaration(name="search_docs", description="search")])]


def test_gemini_stream_json_and_array_round_trip_without_credentials(start_aimock, cassette_dir, fake_upstream):
    stream_path = f"{MODELS}/gemini-2.5-pro:streamGenerateContent"
    thoughts = golden("gemini/stream-generate-content-sse-thoughts.sse")
    fake_upstream.script(stream_path, thoughts, content_type="text/event-stream", chunk=200)
    fake_upstream.script(f"{MODELS}/gemini-2.5-pro:generateContent", golden("gemini/generate-content-json-function-call.json"))
    rec = start_aimock(cassette_dir, "--provider-gemini", fake_upstream.url, command="record")

    # Keep clients referenced: google-genai closes its HTTP client when it is collected.
    client = gemini(rec.url)
    streamed = ask(client, "How do I cross the street?", stream=True)
    want = parts_of(sse_items(thoughts))
    assert sdk_parts(streamed) == want and want[0] and want[1]
    called = ask(client, "Search recurring revenue", stream=False, tools=TOOLS)
    want_call = parts_of([json.loads(golden("gemini/generate-content-json-function-call.json"))])
    assert sdk_parts(called) == want_call
    assert called[0].function_calls[0].args == {"query": "recurring revenue"}

    # Without alt=sse the stream is one JSON array; this client puts its key in the query.
    array = golden("gemini/stream-generate-content-json-array-text.json")
    fake_upstream.script(stream_path, array, content_type="application/json; charset=UTF-8", chunk=150)
    body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "Name for a pet pelican"}]}]}).encode()
    got = raw_request("POST", f"{rec.url}{stream_path}?key={QUERY_KEY}", body, {"content-type": "application/json"})
    assert got.status_code == 200 and got.content == array

    # Every credential went upstream, and none of them is on disk.
    seen = fake_upstream.seen
    assert seen[0][2]["x-goog-api-key"] == FAKE_KEY and "alt=sse" in seen[0][1]
    assert seen[2][1].endswith(f"?key={QUERY_KEY}")
    path = cassette_dir / "recorded" / "gemini.json"
    doc = wait_for_fixtures(path, 3)
    on_disk = path.read_text()
    assert FAKE_KEY not in on_disk and QUERY_KEY not in on_disk
    by_user = {f["match"]["userMessage"]: f["response"] for f in doc["fixtures"]}
    assert by_user["How do I cross the street?"]["content"] == want[0]
    assert by_user["How do I cross the street?"]["reasoning"] == want[1]
    assert json.loads(by_user["Search recurring revenue"]["toolCalls"][0]["arguments"]) == {"query": "recurring revenue"}
    assert by_user["Name for a pet pelican"]["content"] == "Scoop"
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    client = gemini(replay.url)
    assert sdk_parts(ask(client, "How do I cross the street?", stream=True)) == want
    # The non-streamed call replays too, and so does the non-streamed form of the same turn.
    assert sdk_parts(ask(client, "Search recurring revenue", stream=False, tools=TOOLS)) == want_call
    assert sdk_parts(ask(client, "How do I cross the street?", stream=False)) == want
    again = raw_request("POST", f"{replay.url}{stream_path}", body, {"content-type": "application/json"})
    assert parts_of(json.loads(again.content)) == parts_of(json.loads(array))


def test_vertex_stream_and_json_round_trip(start_aimock, cassette_dir, fake_upstream):
    stream = golden("vertex/stream-generate-content-sse.sse")
    fake_upstream.script(f"{VERTEX_MODELS}/gemini-2.5-pro:streamGenerateContent", stream, content_type="text/event-stream", chunk=100)
    fake_upstream.script(f"{VERTEX_MODELS}/gemini-2.5-pro:generateContent", golden("vertex/generate-content-json.json"))
    rec = start_aimock(cassette_dir, "--provider-vertexai", fake_upstream.url, command="record")
    client = vertex(rec.url)
    streamed = ask(client, "Say OK", stream=True)
    assert sdk_parts(streamed) == ("OK", "", [])
    described = ask(client, "What is in the video?", stream=False)
    want = json.loads(golden("vertex/generate-content-json.json"))
    assert described[0].text == want["candidates"][0]["content"]["parts"][0]["text"]
    assert fake_upstream.seen[0][2]["authorization"] == f"Bearer {VERTEX_TOKEN}"
    path = cassette_dir / "recorded" / "vertexai.json"
    doc = wait_for_fixtures(path, 2)
    assert VERTEX_TOKEN not in path.read_text()
    assert doc["fixtures"][1]["response"]["usage"]["prompt_tokens"] == 1569
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    client = vertex(replay.url)
    assert sdk_parts(ask(client, "Say OK", stream=True)) == ("OK", "", [])
    again = ask(client, "What is in the video?", stream=False)[0]
    assert again.text == described[0].text
    assert again.usage_metadata.prompt_token_count == 1569
    assert again.usage_metadata.candidates_token_count == 60


def test_embeddings_round_trip(start_aimock, cassette_dir, fake_upstream):
    batch = json.loads(golden("gemini/batch-embed-contents.json"))
    fake_upstream.script(f"{MODELS}/gemini-embedding-001:batchEmbedContents", golden("gemini/batch-embed-contents.json"))
    single = {"embedding": {"values": batch["embeddings"][0]["values"][:8]}}
    fake_upstream.script(f"{MODELS}/gemini-embedding-001:embedContent", json.dumps(single))
    rec = start_aimock(cassette_dir, "--provider-gemini", fake_upstream.url, command="record")
    client = gemini(rec.url)
    vec = client.models.embed_content(model="gemini-embedding-001", contents="hello world").embeddings[0].values
    assert vec == batch["embeddings"][0]["values"]
    raw = raw_request(
        "POST",
        f"{rec.url}{MODELS}/gemini-embedding-001:embedContent?key={QUERY_KEY}",
        json.dumps({"content": {"parts": [{"text": "short one"}]}}).encode(),
        {"content-type": "application/json"},
    )
    assert raw.json() == single
    path = cassette_dir / "recorded" / "gemini.json"
    wait_for_fixtures(path, 2)
    assert QUERY_KEY not in path.read_text() and FAKE_KEY not in path.read_text()
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    client = gemini(replay.url)
    again = client.models.embed_content(model="gemini-embedding-001", contents="hello world")
    assert again.embeddings[0].values == vec
    short = raw_request(
        "POST",
        f"{replay.url}{MODELS}/gemini-embedding-001:embedContent",
        json.dumps({"content": {"parts": [{"text": "short one"}]}}).encode(),
        {"content-type": "application/json"},
    )
    assert short.json()["embedding"]["values"] == single["embedding"]["values"]
