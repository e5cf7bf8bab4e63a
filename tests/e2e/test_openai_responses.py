"""The official openai SDK's Responses API against aimock replay: create, stream, parse, tools."""

import json

import openai
import pytest
from conftest import FAKE_KEY, raw_request, write_cassette
from pydantic import BaseModel

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}

FIXTURES = [
    {"match": {"userMessage": "hello"}, "response": {"content": "Hello from the cassette!"}},
    {
        "match": {"userMessage": "weather", "hasToolResult": False},
        "response": {
            "content": "Let me check.",
            "toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_fixed_1"}],
        },
    },
    {
        "match": {"hasToolResult": True, "toolCallId": "call_fixed_1"},
        "response": {"content": "It is sunny in Paris."},
    },
    {
        "match": {"userMessage": "two calls"},
        "response": {
            "toolCalls": [
                {"name": "get_weather", "arguments": {"city": "Oslo"}},
                {"name": "get_weather", "arguments": {"city": "Rome"}},
            ]
        },
    },
    {
        "match": {"userMessage": "think first"},
        "response": {"reasoning": "Add one and nine.", "content": "The answer is 10."},
    },
    {"match": {"userMessage": "cut short"}, "response": {"content": "In the bustling city", "finishReason": "length"}},
    {
        "match": {"userMessage": "structured", "responseFormat": "json_schema"},
        "response": {"content": '{"city": "Paris", "temp_c": 21}'},
    },
    {
        "match": {"userMessage": "structured", "responseFormat": "json_object"},
        "response": {"content": '{"mode": "json_object"}'},
    },
    {
        "match": {"userMessage": "slow down"},
        "response": {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}, "status": 429},
    },
    {"match": {"userMessage": "count", "sequenceIndex": 0}, "response": {"content": "one"}},
    {"match": {"userMessage": "count", "sequenceIndex": 1}, "response": {"content": "two"}},
    {"match": {"systemMessage": "pirate"}, "response": {"content": "Arr!"}},
]


class Weather(BaseModel):
    city: str
    temp_c: int


@pytest.fixture
def server(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "responses.json", FIXTURES)
    return start_aimock(cassette_dir)


def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=FAKE_KEY, max_retries=0)


def test_responses_create_returns_the_fixture_text(server):
    r = client(server).responses.create(model="gpt-4.1", input="hello there")
    assert r.object == "response" and r.status == "completed"
    assert r.id.startswith("resp_")
    assert r.output_text == "Hello from the cassette!"
    assert r.output[0].type == "message" and r.output[0].id.startswith("msg_")
    assert r.model == "gpt-4.1"
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    assert r.incomplete_details is None and r.error is None


def test_replay_is_deterministic_across_calls(server):
    c = client(server)
    a = c.responses.with_raw_response.create(model="m", input="hello")
    b = c.responses.with_raw_response.create(model="m", input="hello")
    assert a.http_response.content == b.http_response.content


def test_instructions_match_the_system_message_and_are_echoed(server):
    r = client(server).responses.create(model="m", instructions="Talk like a pirate.", input="greet me")
    assert r.output_text == "Arr!"
    assert r.instructions == "Talk like a pirate."


def test_streamed_events_carry_sequence_numbers_and_rebuild_the_text(server):
    stream = client(server).responses.create(model="gpt-4.1", input="hello", stream=True)
    events = list(stream)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Hello from the cassette!"
    assert events[-1].response.output_text == text


def test_responses_stream_helper_gives_deltas_and_a_final_response(server):
    with client(server).responses.stream(model="gpt-4.1", input="hello") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "Hello from the cassette!"
    assert final.output_text == "Hello from the cassette!"
    assert final.status == "completed"


def test_responses_parse_fills_the_pydantic_model(server):
    r = client(server).responses.parse(model="gpt-4.1", input="structured please", text_format=Weather)
    assert r.output_parsed == Weather(city="Paris", temp_c=21)


def test_streamed_parse_fills_the_pydantic_model(server):
    with client(server).responses.stream(model="gpt-4.1", input="structured please", text_format=Weather) as stream:
        final = stream.get_final_response()
    assert final.output_parsed == Weather(city="Paris", temp_c=21)


def test_json_mode_in_text_format_matches_response_format(server):
    r = client(server).responses.create(model="m", input="structured", text={"format": {"type": "json_object"}})
    assert json.loads(r.output_text) == {"mode": "json_object"}
    assert r.text.format.type == "json_object"


def test_function_calls_come_back_as_items_after_the_message(server):
    r = client(server).responses.create(model="gpt-4.1", input="weather in Paris?", tools=[WEATHER_TOOL])
    assert [i.type for i in r.output] == ["message", "function_call"]
    assert r.output_text == "Let me check."
    call = r.output[1]
    assert call.id.startswith("fc_") and call.call_id == "call_fixed_1"
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.status == "completed"
    assert r.tools[0].name == "get_weather"


def test_streamed_function_calls_reassemble_with_generated_call_ids(server):
    with client(server).responses.stream(model="m", input="two calls", tools=[WEATHER_TOOL]) as stream:
        done_args = [e.arguments for e in stream if e.type == "response.function_call_arguments.done"]
        final = stream.get_final_response()
    assert [json.loads(a) for a in done_args] == [{"city": "Oslo"}, {"city": "Rome"}]
    calls = [i for i in final.output if i.type == "function_call"]
    assert [json.loads(c.arguments)["city"] for c in calls] == ["Oslo", "Rome"]
    assert all(c.call_id.startswith("call_") for c in calls)
    assert calls[0].call_id != calls[1].call_id


def test_tool_result_loop_via_function_call_output(server):
    c = client(server)
    first = c.responses.create(model="gpt-4.1", input="weather in Paris?", tools=[WEATHER_TOOL])
    call = next(i for i in first.output if i.type == "function_call")
    second = c.responses.create(
        model="gpt-4.1",
        tools=[WEATHER_TOOL],
        input=[
            {"role": "user", "content": "weather in Paris?"},
            *first.output,
            {"type": "function_call_output", "call_id": call.call_id, "output": "22C, clear"},
        ],
    )
    assert second.output_text == "It is sunny in Paris."
    # With previous_response_id the client sends only the output; it still matches.
    third = c.responses.create(
        model="gpt-4.1",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": "call_fixed_1", "output": "22C"}],
    )
    assert third.output_text == "It is sunny in Paris."


def test_reasoning_comes_first_with_a_summary_and_encrypted_content_on_request(server):
    c = client(server)
    r = c.responses.create(model="o4-mini", input="think first")
    assert [i.type for i in r.output] == ["reasoning", "message"]
    assert r.output[0].summary[0].text == "Add one and nine."
    assert r.output[0].encrypted_content is None
    assert r.output_text == "The answer is 10."
    assert r.usage.output_tokens_details.reasoning_tokens > 0
    r = c.responses.create(model="o4-mini", input="think first", include=["reasoning.encrypted_content"], store=False)
    assert r.output[0].encrypted_content
    with c.responses.stream(model="o4-mini", input="think first") as stream:
        summary = "".join(e.delta for e in stream if e.type == "response.reasoning_summary_text.delta")
        final = stream.get_final_response()
    assert summary == "Add one and nine."
    assert final.output[0].summary[0].text == summary


def test_a_length_finish_is_incomplete_for_max_output_tokens(server):
    c = client(server)
    r = c.responses.create(model="m", input="cut short", max_output_tokens=16)
    assert r.status == "incomplete"
    assert r.incomplete_details.reason == "max_output_tokens"
    assert r.max_output_tokens == 16
    assert r.output_text == "In the bustling city"
    events = list(c.responses.create(model="m", input="cut short", stream=True))
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"


def test_rate_limit_fixture_raises_rate_limit_error(server):
    with pytest.raises(openai.RateLimitError) as e:
        client(server).responses.create(model="m", input="slow down")
    assert e.value.status_code == 429
    assert "Rate limit reached" in str(e.value)
    assert e.value.response.headers["retry-after"] == "1"


def test_sequence_index_counts_per_test_id(server):
    c = client(server)
    got = [c.responses.create(model="m", input="count", extra_headers={"X-Test-Id": "a"}).output_text for _ in range(2)]
    other = c.responses.create(model="m", input="count", extra_headers={"X-Test-Id": "b"}).output_text
    assert got == ["one", "two"]
    assert other == "one"


def test_lenient_miss_is_a_404_and_strict_header_a_503(server):
    c = client(server)
    with pytest.raises(openai.NotFoundError) as e:
        c.responses.create(model="m", input="nothing like it")
    assert e.value.body["code"] == "no_fixture_match"
    with pytest.raises(openai.InternalServerError) as e:
        c.responses.create(model="m", input="nothing like it", extra_headers={"X-AIMock-Strict": "true"})
    assert e.value.status_code == 503


def test_malformed_input_is_a_400_in_openai_shape(server):
    r = raw_request(
        "POST", server.url + "/v1/responses", b'{"model":"m","input":5}', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
