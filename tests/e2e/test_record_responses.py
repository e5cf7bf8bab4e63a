"""Record round trips for the OpenAI Responses API with the official openai SDK: record
through a fake upstream that replays real captures, check the cassette, then replay
strictly with no upstream."""

import json

import openai
from conftest import FAKE_KEY, golden, wait_for_fixtures

SSE = "text/event-stream; charset=utf-8"
WEATHER = {
    "type": "function",
    "name": "get_current_weather",
    "description": "Get the current weather in a given location",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["location", "unit"],
    },
}


def client(url):
    return openai.OpenAI(base_url=url + "/v1", api_key=FAKE_KEY, max_retries=0)


def ask_weather(url):
    return client(url).responses.create(model="gpt-4.1", input="What is the weather like in Boston today?", tools=[WEATHER])


def ask_reasoning_streamed(url):
    text, summary = [], []
    with client(url).responses.stream(
        model="o4-mini", input="If one plus a number is 10, what is the number?", reasoning={"effort": "medium", "summary": "detailed"}
    ) as s:
        for ev in s:
            if ev.type == "response.output_text.delta":
                text.append(ev.delta)
            elif ev.type == "response.reasoning_summary_text.delta":
                summary.append(ev.delta)
        final = s.get_final_response()
    return "".join(text), "".join(summary), final


def ask_story_streamed(url):
    stream = client(url).responses.create(
        model="gpt-4o", input="Give me a multi paragraph narrative on the life of a car", max_output_tokens=16, stream=True
    )
    text, last = "", None
    for ev in stream:
        if ev.type == "response.output_text.delta":
            text += ev.delta
        last = ev
    return text, last


def test_function_call_reasoning_stream_and_incomplete_stream_round_trip(start_aimock, cassette_dir, fake_upstream):
    fake_upstream.script("/v1/responses", golden("openai/responses-json-function-call.json"))
    rec = start_aimock(cassette_dir, "--provider-openai", fake_upstream.url, command="record")
    resp = ask_weather(rec.url)
    call = resp.output[0]
    assert call.type == "function_call" and call.call_id == "call_tjEzTywkXuBUO42ugPFnQYqi"
    assert json.loads(call.arguments) == {"location": "Boston, MA", "unit": "celsius"}
    assert fake_upstream.seen[0][2]["authorization"] == f"Bearer {FAKE_KEY}"
    path = cassette_dir / "recorded" / "openai.json"
    fx = wait_for_fixtures(path, 1)["fixtures"][0]
    assert fx["match"]["userMessage"] == "What is the weather like in Boston today?"
    assert fx["response"]["toolCalls"] == [{"name": call.name, "arguments": call.arguments, "id": call.call_id}]
    assert fx["response"]["usage"]["prompt_tokens"] == resp.usage.input_tokens

    fake_upstream.script("/v1/responses", golden("openai/responses-stream-reasoning-summary.sse"), content_type=SSE, chunk=300)
    text, summary, final = ask_reasoning_streamed(rec.url)
    assert text == final.output_text and summary.startswith("**Solving for the number**")
    r = wait_for_fixtures(path, 2)["fixtures"][1]["response"]
    assert (r["content"], r["reasoning"]) == (text, summary)

    fake_upstream.script("/v1/responses", golden("openai/responses-stream-incomplete.sse"), content_type=SSE, chunk=100)
    story, last = ask_story_streamed(rec.url)
    assert story == "In the bustling city of Detroit, a sleek, metallic blue sedan rolled off the"
    assert last.type == "response.incomplete"
    r = wait_for_fixtures(path, 3)["fixtures"][2]["response"]
    assert (r["content"], r["finishReason"]) == (story, "length")
    assert FAKE_KEY not in path.read_text()
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    again = ask_weather(replay.url).output[0]
    assert (again.call_id, again.name, again.arguments) == (call.call_id, call.name, call.arguments)
    text2, summary2, final2 = ask_reasoning_streamed(replay.url)
    assert (text2, summary2) == (text, summary)
    assert final2.status == "completed"
    story2, last2 = ask_story_streamed(replay.url)
    assert story2 == story
    assert last2.type == "response.incomplete"
    assert last2.response.incomplete_details.reason == "max_output_tokens"


def test_a_streamed_function_call_records_the_call_id_not_the_item_id(start_aimock, cassette_dir, fake_upstream):
    fake_upstream.script("/v1/responses", golden("openai/responses-stream-function-call.sse"), content_type=SSE, chunk=64)
    rec = start_aimock(cassette_dir, "--provider-openai", fake_upstream.url, command="record")

    def ask(url):
        with client(url).responses.stream(model="gpt-4.1", input="Weather in Boston?", tools=[WEATHER]) as s:
            return s.get_final_response().output[0]

    live = ask(rec.url)
    assert live.id.startswith("fc_") and live.call_id.startswith("call_")
    r = wait_for_fixtures(cassette_dir / "recorded" / "openai.json", 1)["fixtures"][0]["response"]
    assert r["toolCalls"][0]["id"] == live.call_id
    assert r["toolCalls"][0]["arguments"] == live.arguments
    rec.stop()

    again = ask(start_aimock(cassette_dir, "--strict").url)
    assert (again.call_id, again.name, again.arguments) == (live.call_id, live.name, live.arguments)
