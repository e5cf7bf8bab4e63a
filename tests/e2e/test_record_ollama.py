"""Record round trips with the official ollama SDK: record through a fake upstream that
replays real captures (and one stream with thinking and tool calls in Ollama's shape),
check the cassette holds the whole answer, then replay strictly with no upstream."""

import json

import ollama
from conftest import FAKE_KEY, golden, wait_for_fixtures

# An Ollama instance behind an authenticating proxy: the header must not reach the disk.
AUTH = {"Authorization": f"Bearer {FAKE_KEY}"}


def client(url):
    return ollama.Client(host=url, headers=AUTH)


def line(message, done=False, **extra):
    body = {"model": "qwen3", "created_at": "2025-06-01T10:00:00.1Z", "message": {"role": "assistant", **message}, "done": done}
    body.update(extra)
    return json.dumps(body)


THINKING_TOOLS = "\n".join(
    [
        line({"content": "", "thinking": "The user wants "}),
        line({"content": "", "thinking": "the weather."}),
        line({"content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}]}),
        line({"content": ""}, True, done_reason="stop", prompt_eval_count=12, eval_count=30),
    ]
) + "\n"


def chat_stream(c, text, model="llama3"):
    """(content, thinking, [(name, arguments)], done_reason, eval_count) of a streamed chat."""
    parts = list(c.chat(model=model, messages=[{"role": "user", "content": text}], stream=True))
    content = "".join(p.message.content or "" for p in parts)
    thinking = "".join(p.message.thinking or "" for p in parts)
    calls = [(tc.function.name, dict(tc.function.arguments)) for p in parts for tc in (p.message.tool_calls or [])]
    return content, thinking, calls, parts[-1].done_reason, parts[-1].eval_count


def test_chat_and_generate_round_trip(start_aimock, cassette_dir, fake_upstream):
    fake_upstream.script("/api/chat", golden("ollama/api-chat-stream.ndjson"), content_type="application/x-ndjson", chunk=180)
    rec = start_aimock(cassette_dir, "--provider-ollama", fake_upstream.url, command="record")
    c = client(rec.url)
    joke = chat_stream(c, "Tell me a joke about OpenTelemetry")
    assert joke[0].startswith("Why did the OpenTelemetry") and joke[3] == "stop" and joke[4] == 50

    fake_upstream.script("/api/chat", THINKING_TOOLS, content_type="application/x-ndjson", chunk=90)
    tools = chat_stream(c, "weather in Paris?", model="qwen3")
    assert tools[1:3] == ("The user wants the weather.", [("get_weather", {"city": "Paris", "days": 2})])

    fake_upstream.script("/api/chat", golden("ollama/api-chat-json.json"), content_type="application/json; charset=utf-8")
    whole = c.chat(model="llama3", messages=[{"role": "user", "content": "one more joke"}], stream=False)
    assert whole.message.content.startswith("A joke about OpenTelemetry!")

    fake_upstream.script("/api/generate", golden("ollama/api-generate-json.json"), content_type="application/json; charset=utf-8")
    generated = c.generate(model="llama3", prompt="Write a joke about OpenTelemetry", stream=False)
    assert generated.response.startswith("A niche topic!")

    assert fake_upstream.seen[0][2]["authorization"] == AUTH["Authorization"]
    path = cassette_dir / "recorded" / "ollama.json"
    doc = wait_for_fixtures(path, 4)
    assert FAKE_KEY not in path.read_text()
    by_user = {f["match"]["userMessage"]: f["response"] for f in doc["fixtures"]}
    assert by_user["Tell me a joke about OpenTelemetry"]["content"] == joke[0]
    assert by_user["weather in Paris?"]["reasoning"] == "The user wants the weather."
    assert json.loads(by_user["weather in Paris?"]["toolCalls"][0]["arguments"]) == {"city": "Paris", "days": 2}
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    c = client(replay.url)
    assert chat_stream(c, "Tell me a joke about OpenTelemetry") == joke
    assert chat_stream(c, "weather in Paris?", model="qwen3")[1:4] == tools[1:4]
    again = c.chat(model="llama3", messages=[{"role": "user", "content": "one more joke"}], stream=False)
    assert again.message.content == whole.message.content
    assert (again.prompt_eval_count, again.eval_count) == (whole.prompt_eval_count, whole.eval_count) == (17, 66)
    g = c.generate(model="llama3", prompt="Write a joke about OpenTelemetry", stream=False)
    assert g.response == generated.response and g.eval_count == generated.eval_count


def test_embed_and_embeddings_round_trip(start_aimock, cassette_dir, fake_upstream):
    legacy = json.loads(golden("ollama/api-embeddings.json"))["embedding"]
    fake_upstream.script("/api/embeddings", golden("ollama/api-embeddings.json"))
    fake_upstream.script("/api/embed", json.dumps({"model": "all-minilm", "embeddings": [legacy[:16]], "total_duration": 14143917}))
    rec = start_aimock(cassette_dir, "--provider-ollama", fake_upstream.url, command="record")
    c = client(rec.url)
    assert c.embeddings(model="llama3", prompt="Tell me a joke").embedding == legacy
    assert c.embed(model="all-minilm", input="why is the sky blue?").embeddings == [legacy[:16]]
    wait_for_fixtures(cassette_dir / "recorded" / "ollama.json", 2)
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    c = client(replay.url)
    assert c.embeddings(model="llama3", prompt="Tell me a joke").embedding == legacy
    assert c.embed(model="all-minilm", input="why is the sky blue?").embeddings == [legacy[:16]]
