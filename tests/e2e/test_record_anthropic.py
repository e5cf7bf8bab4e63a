"""Record round trips with the official anthropic SDK: record through a fake upstream that
replays real captures, check the cassette, then replay strictly with no upstream."""

import json

import anthropic
import pytest
from conftest import FAKE_KEY, golden, wait_for_fixtures

SSE = "text/event-stream; charset=utf-8"
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a location",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
}


def client(url):
    return anthropic.Anthropic(base_url=url, api_key=FAKE_KEY, max_retries=0)


def ask_thinking(url):
    return client(url).messages.create(
        model="claude-sonnet-4-6",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "How many times does the letter 'r' appear in strawberry?"}],
    )


def ask_weather_streamed(url):
    with client(url).messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=200,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "What is the weather in San Francisco, CA?"}],
    ) as s:
        return s.get_final_message()


def test_json_thinking_and_streamed_tool_use_round_trip(start_aimock, cassette_dir, fake_upstream):
    fake_upstream.script("/v1/messages", golden("anthropic/messages-json-thinking.json"))
    rec = start_aimock(cassette_dir, "--provider-anthropic", fake_upstream.url, command="record")
    msg = ask_thinking(rec.url)
    thinking, text = msg.content
    assert thinking.type == "thinking" and thinking.signature.startswith("ErUBCkYIARgC")
    assert text.text == "The letter 'r' appears 3 times in the word \"strawberry\"."
    # The SDK's credential (x-api-key, or a bearer token in newer SDKs) went upstream.
    sent = fake_upstream.seen[0][2]
    assert FAKE_KEY in sent.get("x-api-key", "") + sent.get("authorization", "")
    path = cassette_dir / "recorded" / "anthropic.json"
    r = wait_for_fixtures(path, 1)["fixtures"][0]["response"]
    assert r["content"] == text.text
    assert r["reasoning"] == thinking.thinking
    assert r["reasoningSignature"] == thinking.signature
    assert r["usage"]["prompt_tokens"] == msg.usage.input_tokens == 52

    fake_upstream.script("/v1/messages", golden("anthropic/messages-stream-tool-use.sse"), content_type=SSE, chunk=50)
    final = ask_weather_streamed(rec.url)
    streamed_text, tool = final.content
    assert tool.type == "tool_use" and tool.input == {"location": "San Francisco, CA"}
    r = wait_for_fixtures(path, 2)["fixtures"][1]["response"]
    assert r["content"] == streamed_text.text
    call = r["toolCalls"][0]
    assert (call["id"], call["name"], json.loads(call["arguments"])) == (tool.id, tool.name, tool.input)
    assert FAKE_KEY not in path.read_text()
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    again = ask_thinking(replay.url)
    assert [b.model_dump() for b in again.content] == [b.model_dump() for b in msg.content]
    assert again.stop_reason == msg.stop_reason
    final_again = ask_weather_streamed(replay.url)
    assert final_again.content[0].text == streamed_text.text
    assert (final_again.content[1].id, final_again.content[1].input) == (tool.id, tool.input)
    assert final_again.stop_reason == "tool_use"


def test_redacted_thinking_stream_round_trip(start_aimock, cassette_dir, fake_upstream):
    fake_upstream.script("/v1/messages", golden("anthropic/messages-stream-redacted-thinking.sse"), content_type=SSE, chunk=200)
    rec = start_aimock(cassette_dir, "--provider-anthropic", fake_upstream.url, command="record")

    def ask(url):
        with client(url).messages.stream(
            model="claude-sonnet-4-6", max_tokens=4096, messages=[{"role": "user", "content": "magic string"}]
        ) as s:
            return s.get_final_message()

    first = ask(rec.url)
    redacted = [b.data for b in first.content if b.type == "redacted_thinking"]
    assert len(redacted) == 2
    r = wait_for_fixtures(cassette_dir / "recorded" / "anthropic.json", 1)["fixtures"][0]["response"]
    assert r["redactedThinking"] == redacted
    rec.stop()

    again = ask(start_aimock(cassette_dir, "--strict").url)
    assert [b.data for b in again.content if b.type == "redacted_thinking"] == redacted
    assert "".join(b.text for b in again.content if b.type == "text") == r["content"]


def test_an_overloaded_error_inside_a_stream_replays_in_band(start_aimock, cassette_dir, fake_upstream):
    # Anthropic sends an overload inside a 200 stream: the replay must too (the SDK
    # raises it from the stream, with the stream's status), not answer HTTP 529.
    fake_upstream.script("/v1/messages", golden("anthropic/messages-stream-error-overloaded.sse"), content_type=SSE)
    rec = start_aimock(cassette_dir, "--provider-anthropic", fake_upstream.url, command="record")

    def ask(url):
        with client(url).messages.stream(
            model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "busy?"}]
        ) as s:
            return s.get_final_message()

    with pytest.raises(anthropic.APIStatusError) as live:
        ask(rec.url)
    assert "Overloaded" in str(live.value)
    r = wait_for_fixtures(cassette_dir / "recorded" / "anthropic.json", 1)["fixtures"][0]["response"]
    assert "status" not in r and r["native"]["streamError"]["error"]["type"] == "overloaded_error"
    rec.stop()

    with pytest.raises(anthropic.APIStatusError) as replayed:
        ask(start_aimock(cassette_dir, "--strict").url)
    assert replayed.value.status_code == live.value.status_code
    assert type(replayed.value) is type(live.value)
    assert "Overloaded" in str(replayed.value)
