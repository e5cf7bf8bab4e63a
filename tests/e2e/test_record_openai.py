"""Record round trips with the official openai SDK: record through a fake upstream that
replays real captures, check the cassette, then replay strictly with no upstream."""

import openai
from conftest import FAKE_KEY, golden, wait_for_fixtures


def client(url):
    return openai.OpenAI(base_url=url + "/v1", api_key=FAKE_KEY, max_retries=0)


def test_chat_json_and_stream_round_trip(start_aimock, cassette_dir, fake_upstream):
    fake_upstream.script("/v1/chat/completions", golden("openai/chat-json-text.json"))
    rec = start_aimock(cassette_dir, "--provider-openai", fake_upstream.url, command="record")
    got = client(rec.url).chat.completions.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "what's up"}], extra_headers={"X-Test-Id": "round trip"}
    )
    text = got.choices[0].message.content
    assert text.startswith("Not much, just here to chat")
    # The SDK's credential went upstream but is nowhere on disk.
    assert fake_upstream.seen[0][2]["authorization"] == f"Bearer {FAKE_KEY}"
    path = cassette_dir / "recorded" / "round-trip" / "openai.json"
    doc = wait_for_fixtures(path, 1)
    assert doc["fixtures"][0]["response"]["content"] == text
    assert FAKE_KEY not in path.read_text()

    fake_upstream.script(
        "/v1/chat/completions", golden("openai/chat-stream-tool-call-args-split.sse"), content_type="text/event-stream", chunk=40
    )
    stream = client(rec.url).chat.completions.create(
        model="gpt-3.5-turbo",
        messages=[{"role": "user", "content": "weather in Boston"}],
        tools=[{"type": "function", "function": {"name": "get_current_weather", "parameters": {"type": "object"}}}],
        stream=True,
        extra_headers={"X-Test-Id": "round trip"},
    )
    args = "".join(tc.function.arguments or "" for c in stream if c.choices for tc in (c.choices[0].delta.tool_calls or []))
    doc = wait_for_fixtures(path, 2)
    assert doc["fixtures"][1]["response"]["toolCalls"][0]["arguments"] == args
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    again = client(replay.url).chat.completions.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "what's up"}], extra_headers={"X-Test-Id": "round trip"}
    )
    assert again.choices[0].message.content == text
    stream = client(replay.url).chat.completions.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "weather in Boston"}], stream=True
    )
    replayed = "".join(tc.function.arguments or "" for c in stream if c.choices for tc in (c.choices[0].delta.tool_calls or []))
    assert replayed == args


def test_embeddings_round_trip_with_the_sdk_default_base64(start_aimock, cassette_dir, fake_upstream):
    fake_upstream.script("/v1/embeddings", golden("openai/embeddings-base64.json"))
    rec = start_aimock(cassette_dir, "--provider-openai", fake_upstream.url, command="record")
    vec = client(rec.url).embeddings.create(model="text-embedding-3-small", input="hello").data[0].embedding
    wait_for_fixtures(cassette_dir / "recorded" / "openai.json", 1)
    rec.stop()
    replay = start_aimock(cassette_dir, "--strict")
    again = client(replay.url).embeddings.create(model="text-embedding-3-small", input="hello").data[0].embedding
    assert again == vec


def test_record_without_a_provider_is_a_clear_error(cassette_dir):
    import subprocess

    from conftest import binary

    r = subprocess.run([binary(), "record", "--port", "0", "--cassettes", str(cassette_dir)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "needs at least one upstream" in r.stderr
