"""Gateways in front of known APIs, driven by the official SDKs: the openai SDK with
base_url=.../api/v1 (OpenRouter: chat, models list, error shape, --provider-openrouter)
and with an OpenAI-compatible prefix (/openai/v1 as Groq serves it, an arbitrary
/proxy/xyz/v1), and the anthropic SDK's AnthropicFoundry client (Anthropic models on
Azure AI Foundry, /anthropic/v1/messages with api-key and x-api-key headers,
--provider-foundry). Each is recorded through a fake upstream that gets the very path
the SDK used, then replayed under --strict."""

import json

import anthropic
import openai
import pytest
from conftest import wait_for_fixtures, write_cassette

KEY = "sk-test-not-a-real-key"
COMPLETION = {
    "id": "gen-1733000000-abc",
    "provider": "OpenAI",
    "model": "openai/gpt-4o",
    "object": "chat.completion",
    "created": 1733000000,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Routed hello."}, "finish_reason": "stop", "native_finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}
CHUNKS = (
    'data: {"id":"gen-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Routed"},"finish_reason":null}]}\n\n'
    'data: {"id":"gen-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" hello."},"finish_reason":"stop"}]}\n\n'
    "data: [DONE]\n\n"
)
MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "my-claude-deployment",
    "content": [{"type": "text", "text": "Foundry hello."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 3},
}


def oai(url, prefix):
    return openai.OpenAI(base_url=url + prefix, api_key=KEY, max_retries=0)


def foundry(url):
    return anthropic.AnthropicFoundry(base_url=url + "/anthropic/", api_key=KEY, max_retries=0)


def ask(client, text, stream):
    if stream:
        parts = client.chat.completions.create(model="openai/gpt-4o", messages=[{"role": "user", "content": text}], stream=True)
        return "".join(c.choices[0].delta.content or "" for c in parts if c.choices)
    r = client.chat.completions.create(model="openai/gpt-4o", messages=[{"role": "user", "content": text}])
    return r.choices[0].message.content


@pytest.mark.parametrize(
    "prefix,flag,file",
    [
        ("/api/v1", "--provider-openrouter", "openrouter.json"),
        ("/openai/v1", "--provider-openai", "openai.json"),
        ("/proxy/xyz/v1", "--provider-openai", "openai.json"),
    ],
)
def test_openai_sdk_records_and_replays_through_a_gateway_prefix(start_aimock, cassette_dir, fake_upstream, prefix, flag, file):
    fake_upstream.script(f"{prefix}/chat/completions", json.dumps(COMPLETION))
    rec = start_aimock(cassette_dir, flag, fake_upstream.url, command="record")
    assert ask(oai(rec.url, prefix), "hello json", False) == "Routed hello."
    fake_upstream.script(f"{prefix}/chat/completions", CHUNKS, content_type="text/event-stream", chunk=40)
    assert ask(oai(rec.url, prefix), "hello stream", True) == "Routed hello."
    assert [s[1] for s in fake_upstream.seen] == [f"{prefix}/chat/completions"] * 2
    assert fake_upstream.seen[0][2]["authorization"] == f"Bearer {KEY}"
    doc = wait_for_fixtures(cassette_dir / "recorded" / file, 2)
    assert KEY not in (cassette_dir / "recorded" / file).read_text()
    assert {f["match"]["userMessage"] for f in doc["fixtures"]} == {"hello json", "hello stream"}
    rec.stop()

    replay = start_aimock(cassette_dir / "recorded", "--strict")
    assert ask(oai(replay.url, prefix), "hello json", False) == "Routed hello."
    assert ask(oai(replay.url, prefix), "hello stream", True) == "Routed hello."


def test_openrouter_models_and_errors_in_openrouters_shape(start_aimock, cassette_dir):
    write_cassette(
        cassette_dir,
        "or.json",
        [
            {"match": {"userMessage": "hi", "model": "anthropic/claude-sonnet-4.5"}, "response": {"content": "hey"}},
            {"match": {"userMessage": "limit"}, "response": {"error": {"message": "Rate limit exceeded"}, "status": 429}},
        ],
    )
    s = start_aimock(cassette_dir, "--strict")
    c = oai(s.url, "/api/v1")
    models = c.models.list()
    assert [m.id for m in models.data] == ["anthropic/claude-sonnet-4.5"]
    assert models.data[0].model_extra["pricing"]["prompt"] == "0"
    # A compatible prefix lists the same models in OpenAI's shape.
    assert [m.id for m in oai(s.url, "/openai/v1").models.list().data] == ["anthropic/claude-sonnet-4.5"]
    r = c.chat.completions.create(model="anthropic/claude-sonnet-4.5", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "hey"
    with pytest.raises(openai.RateLimitError) as e:
        c.chat.completions.create(model="x", messages=[{"role": "user", "content": "limit"}])
    assert e.value.body == {"code": 429, "message": "Rate limit exceeded"}


def test_anthropic_foundry_client_records_and_replays(start_aimock, cassette_dir, fake_upstream):
    fake_upstream.script("/anthropic/v1/messages", json.dumps(MESSAGE))
    rec = start_aimock(cassette_dir, "--provider-foundry", fake_upstream.url, command="record")
    live = foundry(rec.url).messages.create(model="my-claude-deployment", max_tokens=50, messages=[{"role": "user", "content": "hello foundry"}])
    assert live.content[0].text == "Foundry hello."
    method, path, headers, _ = fake_upstream.seen[0]
    assert path == "/anthropic/v1/messages"
    assert headers["api-key"] == KEY and headers["x-api-key"] == KEY
    file = cassette_dir / "recorded" / "foundry.json"
    wait_for_fixtures(file, 1)
    assert KEY not in file.read_text()
    rec.stop()

    replay = start_aimock(cassette_dir / "recorded", "--strict")
    c = foundry(replay.url)
    again = c.messages.create(model="my-claude-deployment", max_tokens=50, messages=[{"role": "user", "content": "hello foundry"}])
    assert again.content[0].text == "Foundry hello."
    with c.messages.stream(model="my-claude-deployment", max_tokens=50, messages=[{"role": "user", "content": "hello foundry"}]) as st:
        assert "".join(st.text_stream) == "Foundry hello."
    with pytest.raises(anthropic.APIStatusError):
        c.messages.create(model="my-claude-deployment", max_tokens=50, messages=[{"role": "user", "content": "nothing matches"}])
