"""The AG-UI mock driven as a front end drives an agent: POST a RunAgentInput (built
with `ag_ui.core`), read the SSE stream with httpx-sse, and validate every event with
the protocol's own event models; matching on user text, tool results, tools and state;
`threadId`/`runId` echoed and message ids fresh per run; raw events and delays."""

import json
import time
import uuid

import httpx
from ag_ui.core import RunAgentInput, Tool, ToolMessage, UserMessage
from ag_ui.core.events import Event, EventType
from conftest import raw_request
from httpx_sse import connect_sse
from pydantic import TypeAdapter

EVENT = TypeAdapter(Event)

AGUI = {
    "fixtures": [
        {"match": {"toolCallId": "call_weather"}, "text": "It is sunny in Paris."},
        {
            "match": {"message": "weather", "toolName": "get_weather"},
            "delayMs": 30,
            "events": [
                {"type": "RUN_STARTED", "threadId": "{{threadId}}", "runId": "{{runId}}"},
                {"type": "TOOL_CALL_START", "toolCallId": "call_weather", "toolCallName": "get_weather"},
                {"type": "TOOL_CALL_ARGS", "toolCallId": "call_weather", "delta": "{\"city\":\"Paris\"}"},
                {"type": "TOOL_CALL_END", "toolCallId": "call_weather"},
                {"type": "RUN_FINISHED", "threadId": "{{threadId}}", "runId": "{{runId}}"},
            ],
        },
        {"match": {"stateKey": "cart"}, "events": [
            {"type": "RUN_STARTED", "threadId": "{{threadId}}", "runId": "{{runId}}"},
            {"type": "STATE_SNAPSHOT", "snapshot": {"cart": ["apple"]}},
            {"type": "RUN_FINISHED", "threadId": "{{threadId}}", "runId": "{{runId}}"},
        ]},
        {"match": {"message": "hello"}, "text": "Hello from the mock agent!"},
    ]
}


def start(start_aimock, tmp_path, section=AGUI):
    cfg = tmp_path / "aimock.json"
    cfg.write_text(json.dumps({"agui": section}))
    return start_aimock(tmp_path / "cassettes", "--config", str(cfg))


def run_input(messages, tools=(), state=None, thread="thread-1", run=None):
    return RunAgentInput(
        thread_id=thread,
        run_id=run or f"run-{uuid.uuid4()}",
        state=state or {},
        messages=messages,
        tools=list(tools),
        context=[],
        forwarded_props={},
    )


def run(url, inp):
    """Every event of one run, validated by ag_ui.core, with the arrival times."""
    body = inp.model_dump(by_alias=True, exclude_none=True)
    out = []
    with httpx.Client(timeout=10) as c:
        with connect_sse(c, "POST", url, json=body, headers={"accept": "text/event-stream"}) as es:
            assert es.response.headers["content-type"].startswith("text/event-stream")
            for sse in es.iter_sse():
                out.append((EVENT.validate_json(sse.data), time.monotonic()))
    return [e for e, _ in out], [t for _, t in out]


def test_text_runs_echo_ids_with_fresh_message_ids(start_aimock, tmp_path):
    s = start(start_aimock, tmp_path)
    url = s.url + "/agui"
    inp = run_input([UserMessage(id="u1", role="user", content="hello there")], thread="thread-7", run="run-7")
    events, _ = run(url, inp)
    assert [e.type for e in events] == [
        EventType.RUN_STARTED, EventType.TEXT_MESSAGE_START, EventType.TEXT_MESSAGE_CONTENT,
        EventType.TEXT_MESSAGE_END, EventType.RUN_FINISHED,
    ]
    assert (events[0].thread_id, events[0].run_id) == ("thread-7", "run-7")
    assert (events[-1].thread_id, events[-1].run_id) == ("thread-7", "run-7")
    assert events[2].delta == "Hello from the mock agent!"
    assert all(e.timestamp for e in events)
    again, _ = run(url, run_input([UserMessage(id="u1", role="user", content="hello")], run="run-8"))
    assert again[0].run_id == "run-8"
    assert again[1].message_id != events[1].message_id


def test_tool_calls_tool_results_state_and_delays(start_aimock, tmp_path):
    s = start(start_aimock, tmp_path)
    url = s.url + "/agui"
    tool = Tool(name="get_weather", description="Weather", parameters={"type": "object"})
    events, times = run(url, run_input([UserMessage(id="u1", role="user", content="what's the weather?")], tools=[tool], run="r1"))
    assert [e.type for e in events][1:4] == [EventType.TOOL_CALL_START, EventType.TOOL_CALL_ARGS, EventType.TOOL_CALL_END]
    assert events[0].run_id == "r1" and json.loads(events[2].delta) == {"city": "Paris"}
    # delayMs 30 between each of the 5 events: at least ~4 x 30 ms end to end.
    assert times[-1] - times[0] >= 0.1
    # Without the tool on offer, the tool fixture does not match.
    r = raw_request("POST", url, run_input([UserMessage(id="u1", role="user", content="weather")]).model_dump_json(by_alias=True).encode(),
                    {"content-type": "application/json"})
    assert r.status_code == 404 and r.json() == {"error": "No matching AG-UI fixture"}
    result = ToolMessage(id="t1", role="tool", content="21C", tool_call_id="call_weather")
    events, _ = run(url, run_input([UserMessage(id="u1", role="user", content="weather?"), result]))
    assert events[2].delta == "It is sunny in Paris."
    events, _ = run(url, run_input([], state={"cart": []}))
    assert events[1].type == EventType.STATE_SNAPSHOT and events[1].snapshot == {"cart": ["apple"]}


def test_bad_input_gets_400s_and_health_counts_fixtures(start_aimock, tmp_path):
    s = start(start_aimock, tmp_path)
    url = s.url + "/agui"
    assert raw_request("POST", url, b"{nope", {"content-type": "application/json"}).status_code == 400
    r = raw_request("POST", url, b'{"messages": {}}', {"content-type": "application/json"})
    assert r.status_code == 400 and "'messages' must be an array" in r.json()["error"]
    assert raw_request("GET", url).status_code == 405
    assert raw_request("GET", s.url + "/health").json()["services"]["agui"] == {"status": "ok", "fixtures": 4}
