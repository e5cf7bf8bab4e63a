"""The official anthropic SDK against aimock replay: messages, streams, tools, thinking, errors."""

import json

import anthropic
import openai
import pytest
from conftest import FAKE_KEY, raw_request, write_cassette

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}

FIXTURES = [
    {"match": {"userMessage": "hello"}, "response": {"content": "Hello from the cassette!"}},
    {
        "match": {"userMessage": "weather", "hasToolResult": False},
        "response": {
            "content": "Let me check.",
            "toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}, "id": "toolu_fixed_1"}],
        },
    },
    {
        "match": {"userMessage": "weather", "hasToolResult": True, "toolCallId": "toolu_fixed_1"},
        "response": {"content": "It is sunny in Paris."},
    },
    {
        "match": {"userMessage": "just call it"},
        "response": {"toolCalls": [{"name": "get_weather", "arguments": '{"city": "Oslo"}'}]},
    },
    {
        "match": {"userMessage": "think first"},
        "response": {
            "reasoning": "The user wants a short answer.",
            "reasoningSignature": "EqQBCkYIBxgCKkBfakeSignature==",
            "content": "Done thinking.",
        },
    },
    {"match": {"userMessage": "cut short"}, "response": {"content": "When Nietzsche", "finishReason": "length"}},
    {
        "match": {"userMessage": "slow down"},
        "response": {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}, "status": 429},
    },
    {
        "match": {"userMessage": "too busy"},
        "response": {"error": {"message": "Overloaded"}, "status": 529},
    },
    {"match": {"userMessage": "count", "sequenceIndex": 0}, "response": {"content": "one"}},
    {"match": {"userMessage": "count", "sequenceIndex": 1}, "response": {"content": "two"}},
    {"match": {"systemMessage": "pirate"}, "response": {"content": "Arr!"}},
]


@pytest.fixture
def server(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "anthropic.json", FIXTURES)
    return start_aimock(cassette_dir)


def client(server):
    return anthropic.Anthropic(base_url=server.url, api_key=FAKE_KEY, max_retries=0)


def ask(c, text, **kw):
    kw.setdefault("model", "claude-sonnet-4-6")
    kw.setdefault("max_tokens", 256)
    return c.messages.create(messages=[{"role": "user", "content": text}], **kw)


def test_messages_create_returns_the_fixture_text_with_estimated_usage(server):
    m = ask(client(server), "hello there")
    assert m.type == "message" and m.role == "assistant"
    assert m.content[0].type == "text" and m.content[0].text == "Hello from the cassette!"
    assert m.stop_reason == "end_turn"
    assert m.id.startswith("msg_")
    assert m.model == "claude-sonnet-4-6"
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0
    assert m._request_id and m._request_id.startswith("req_")


def test_replay_is_deterministic_across_calls(server):
    c = client(server)
    a = c.messages.with_raw_response.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hello"}])
    b = c.messages.with_raw_response.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hello"}])
    assert a.http_response.content == b.http_response.content


def test_messages_stream_yields_text_and_a_final_message(server):
    with client(server).messages.stream(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hello"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from the cassette!"
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 1


def test_raw_stream_has_named_events_from_message_start_to_message_stop(server):
    body = json.dumps(
        {"model": "m", "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "hello"}]}
    ).encode()
    r = raw_request("POST", server.url + "/v1/messages", body, headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in r.content.decode().split("\n\n"):
        if not block:
            continue
        name_line, data_line = block.split("\n")
        name = name_line.removeprefix("event: ")
        assert json.loads(data_line.removeprefix("data: "))["type"] == name
        events.append(name)
    assert events[0] == "message_start" and events[-2:] == ["message_delta", "message_stop"]
    assert events[1:4] == ["ping", "content_block_start", "content_block_delta"]


def test_text_with_a_tool_call_comes_back_as_text_then_tool_use_with_parsed_input(server):
    m = ask(client(server), "weather in Paris?", tools=[WEATHER_TOOL])
    assert [b.type for b in m.content] == ["text", "tool_use"]
    assert m.content[0].text == "Let me check."
    tool = m.content[1]
    assert tool.id == "toolu_fixed_1" and tool.name == "get_weather"
    assert tool.input == {"city": "Paris", "days": 2}
    assert m.stop_reason == "tool_use"


def test_a_streamed_tool_call_reassembles_its_input(server):
    with client(server).messages.stream(
        model="m", max_tokens=100, tools=[WEATHER_TOOL], messages=[{"role": "user", "content": "just call it"}]
    ) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_message()
    assert "input_json" in kinds
    assert [b.type for b in final.content] == ["tool_use"]
    assert final.content[0].input == {"city": "Oslo"}
    assert final.content[0].id.startswith("toolu_")
    assert final.stop_reason == "tool_use"


def test_thinking_comes_with_its_signature_in_json_and_stream(server):
    c = client(server)
    m = ask(c, "think first", thinking={"type": "enabled", "budget_tokens": 1024})
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.content[0].thinking == "The user wants a short answer."
    assert m.content[0].signature == "EqQBCkYIBxgCKkBfakeSignature=="
    with c.messages.stream(
        model="m",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "think first"}],
    ) as stream:
        kinds = {e.type for e in stream}
        final = stream.get_final_message()
    assert {"thinking", "signature", "text"} <= kinds
    assert final.content[0].thinking == "The user wants a short answer."
    assert final.content[0].signature == "EqQBCkYIBxgCKkBfakeSignature=="
    assert final.content[1].text == "Done thinking."


def test_a_length_finish_is_max_tokens(server):
    assert ask(client(server), "cut short").stop_reason == "max_tokens"


def test_tool_result_loop_matches_on_tool_call_id_and_has_tool_result(server):
    c = client(server)
    first = ask(c, "weather in Paris?", tools=[WEATHER_TOOL])
    tool = next(b for b in first.content if b.type == "tool_use")
    second = c.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=256,
        tools=[WEATHER_TOOL],
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "22C, clear"}]},
        ],
    )
    assert second.content[0].text == "It is sunny in Paris."
    assert second.stop_reason == "end_turn"


def test_user_text_beside_a_tool_result_still_counts_as_a_tool_result_turn(server):
    m = client(server).messages.create(
        model="m",
        max_tokens=100,
        messages=[
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_fixed_1", "name": "get_weather", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_fixed_1", "content": [{"type": "text", "text": "ok"}]},
                    {"type": "text", "text": "and the weather?"},
                ],
            },
        ],
    )
    assert m.content[0].text == "It is sunny in Paris."


def test_system_prompt_blocks_are_matched(server):
    m = client(server).messages.create(
        model="m",
        max_tokens=10,
        system=[{"type": "text", "text": "You are a pirate."}],
        messages=[{"role": "user", "content": "greet me"}],
    )
    assert m.content[0].text == "Arr!"


def test_rate_limit_fixture_raises_rate_limit_error(server):
    with pytest.raises(anthropic.RateLimitError) as e:
        ask(client(server), "slow down")
    assert e.value.status_code == 429
    assert e.value.body["error"] == {"type": "rate_limit_error", "message": "Rate limit reached"}
    assert e.value.response.headers["retry-after"] == "1"


def test_a_529_fixture_surfaces_as_an_overloaded_error(server):
    with pytest.raises(anthropic.InternalServerError) as e:
        ask(client(server), "too busy")
    assert isinstance(e.value, anthropic.OverloadedError)
    assert e.value.status_code == 529
    assert e.value.body["error"]["type"] == "overloaded_error"
    # Streaming requests get the same error before any event.
    with pytest.raises(anthropic.OverloadedError):
        with client(server).messages.stream(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "too busy"}]
        ) as stream:
            stream.get_final_message()


def test_sequence_index_counts_per_test_id(server):
    c = client(server)
    got = [ask(c, "count", extra_headers={"X-Test-Id": "a"}).content[0].text for _ in range(2)]
    other = ask(c, "count", extra_headers={"X-Test-Id": "b"})
    assert got == ["one", "two"]
    assert other.content[0].text == "one"


def test_lenient_miss_is_a_not_found_error_naming_the_request(server):
    with pytest.raises(anthropic.NotFoundError) as e:
        ask(client(server), "nothing like it")
    assert e.value.status_code == 404
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "not_found_error"
    assert "No fixture matched" in e.value.body["error"]["message"]
    assert "nothing like it" in e.value.body["error"]["message"]


def test_strict_miss_is_a_503(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "a.json", [{"match": {"userMessage": "hello"}, "response": {"content": "hi"}}])
    server = start_aimock(cassette_dir, "--strict")
    with pytest.raises(anthropic.InternalServerError) as e:
        ask(client(server), "goodbye")
    assert e.value.status_code == 503
    assert "Strict mode: no fixture matched" in e.value.body["error"]["message"]


def test_malformed_body_is_a_400_in_anthropic_shape(server):
    r = raw_request("POST", server.url + "/v1/messages", b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["type"] == "error"
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_one_plain_fixture_answers_every_sdk(start_aimock, cassette_dir):
    write_cassette(
        cassette_dir, "plain.json", [{"match": {"userMessage": "hello"}, "response": {"content": "Same everywhere."}}]
    )
    server = start_aimock(cassette_dir)
    oa = openai.OpenAI(base_url=server.url + "/v1", api_key=FAKE_KEY, max_retries=0)
    assert ask(client(server), "hello").content[0].text == "Same everywhere."
    assert oa.responses.create(model="gpt-4o", input="hello").output_text == "Same everywhere."
    chat = oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
    assert chat.choices[0].message.content == "Same everywhere."


def test_an_unknown_messages_path_is_a_typed_not_found_error(server):
    with pytest.raises(anthropic.NotFoundError) as e:
        client(server).post("/v1/messages/batches", cast_to=object, body={})
    assert e.value.status_code == 404
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "not_found_error"


def test_a_wrong_method_on_messages_is_an_error_in_anthropics_shape(server):
    with pytest.raises(anthropic.APIStatusError) as e:
        client(server).get("/v1/messages", cast_to=object)
    assert e.value.status_code == 405
    assert e.value.body["error"]["type"] == "invalid_request_error"
    assert e.value.body["error"]["message"] == "Method GET not allowed on /v1/messages"
