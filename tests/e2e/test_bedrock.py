"""The official boto3 bedrock-runtime client against aimock replay: invoke_model,
invoke_model_with_response_stream, converse and converse_stream; text, tools, reasoning,
typed errors, strict misses, sequences and a tool-result loop."""

import json

import boto3
import pytest
from botocore.config import Config
from conftest import write_cassette

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-micro-v1:0"
TOOLS = [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]


@pytest.fixture
def server(start_aimock, cassette_dir):
    write_cassette(
        cassette_dir,
        "bedrock.json",
        [
            {"match": {"userMessage": "hello", "model": CLAUDE}, "response": {"content": "Hello from Bedrock!"}},
            {"match": {"userMessage": "hello", "model": NOVA}, "response": {"content": "Hello from Nova!"}},
            {
                "match": {"userMessage": "weather", "hasToolResult": False},
                "response": {"toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}, "id": "tool_fixed_1"}]},
            },
            {
                "match": {"userMessage": "weather", "toolCallId": "tool_fixed_1"},
                "response": {"content": "It is sunny in Paris."},
            },
            {
                "match": {"userMessage": "plan a trip"},
                "response": {
                    "content": "Let me look that up.",
                    "toolCalls": [
                        {"name": "search", "arguments": {"q": "Lisbon"}},
                        {"name": "book", "arguments": {"city": "Lisbon", "nights": 3}},
                    ],
                },
            },
            {
                "match": {"userMessage": "think hard"},
                "response": {"content": "The answer is 42.", "reasoning": "Six times seven is 42.", "reasoningSignature": "sig-test-1"},
            },
            {
                "match": {"userMessage": "slow down"},
                "response": {"error": {"message": "Rate exceeded for this model", "type": "rate_limit_error"}, "status": 429},
            },
            {
                "match": {"userMessage": "slowly"},
                "response": {"content": "Paced and sliced.", "toolCalls": [{"name": "f", "arguments": {"k": "value"}}]},
                "chunkSize": 3,
                "latency": 5,
            },
            {"match": {"userMessage": "count", "sequenceIndex": 0}, "response": {"content": "one"}},
            {"match": {"userMessage": "count", "sequenceIndex": 1}, "response": {"content": "two"}},
        ],
    )
    return start_aimock(cassette_dir)


def client(server, headers=None):
    c = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=server.url,
        aws_access_key_id="AKIDTESTNOTREAL",
        aws_secret_access_key="test-not-a-real-secret",
        config=Config(retries={"total_max_attempts": 1}),
    )
    if headers:

        def add_headers(request, **_):
            for k, v in headers.items():
                request.headers[k] = v

        c.meta.events.register_first("before-sign.bedrock-runtime.*", add_headers)
    return c


def anthropic_body(messages, **extra):
    return json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 256, "messages": messages, **extra})


def user(text):
    return [{"role": "user", "content": [{"type": "text", "text": text}]}]


def converse_user(text):
    return [{"role": "user", "content": [{"text": text}]}]


def invoke(c, text, model=CLAUDE, **extra):
    r = c.invoke_model(modelId=model, body=anthropic_body(user(text), **extra))
    assert r["contentType"] == "application/json"
    return json.loads(r["body"].read())


def invoke_stream_events(c, text, model=CLAUDE):
    r = c.invoke_model_with_response_stream(modelId=model, body=anthropic_body(user(text)))
    return [json.loads(e["chunk"]["bytes"]) for e in r["body"]]


def converse_stream_events(c, text, model=CLAUDE, **extra):
    return list(c.converse_stream(modelId=model, messages=converse_user(text), **extra)["stream"])


# ---- text ----


def test_invoke_model_returns_the_anthropic_message(server):
    body = invoke(client(server), "hello there")
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["content"] == [{"type": "text", "text": "Hello from Bedrock!"}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"]["input_tokens"] > 0 and body["usage"]["output_tokens"] > 0


def test_invoke_stream_yields_base64_chunks_of_anthropic_events(server):
    events = invoke_stream_events(client(server), "hello")
    types = [e["type"] for e in events]
    assert types[0] == "message_start" and types[-2:] == ["message_delta", "message_stop"]
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == "Hello from Bedrock!"
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    assert events[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] > 0


def test_converse_returns_text_stop_reason_and_usage(server):
    r = client(server).converse(modelId=CLAUDE, messages=converse_user("hello"), system=[{"text": "be nice"}])
    assert r["output"]["message"] == {"role": "assistant", "content": [{"text": "Hello from Bedrock!"}]}
    assert r["stopReason"] == "end_turn"
    u = r["usage"]
    assert u["inputTokens"] > 0 and u["outputTokens"] > 0 and u["totalTokens"] == u["inputTokens"] + u["outputTokens"]
    assert r["metrics"]["latencyMs"] >= 0


def test_converse_stream_reassembles_text_without_a_text_block_start(server):
    events = converse_stream_events(client(server), "hello")
    assert events[0] == {"messageStart": {"role": "assistant"}}
    assert not any("contentBlockStart" in e for e in events)
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == "Hello from Bedrock!"
    assert {"messageStop": {"stopReason": "end_turn"}} in events
    assert events[-1]["metadata"]["usage"]["totalTokens"] > 0


def test_the_model_id_from_the_path_is_matched_after_percent_decoding(server):
    c = client(server)
    # botocore sends the ":" as %3A in the path.
    assert c.converse(modelId=NOVA, messages=converse_user("hello"))["output"]["message"]["content"][0]["text"] == "Hello from Nova!"
    # Nova answers invoke in its own (Converse-like) shape.
    assert invoke(c, "hello", model=NOVA)["output"]["message"]["content"][0]["text"] == "Hello from Nova!"


def test_paced_streams_arrive_in_chunk_size_slices(server):
    c = client(server)
    events = converse_stream_events(c, "slowly")
    deltas = [e["contentBlockDelta"]["delta"] for e in events if "contentBlockDelta" in e]
    texts = [d["text"] for d in deltas if "text" in d]
    assert texts[0] == "Pac" and "".join(texts) == "Paced and sliced."
    assert json.loads("".join(d["toolUse"]["input"] for d in deltas if "toolUse" in d)) == {"k": "value"}
    chunks = invoke_stream_events(c, "slowly")
    assert "".join(e["delta"].get("text", "") for e in chunks if e["type"] == "content_block_delta") == "Paced and sliced."


# ---- tool calls ----


def test_invoke_tool_use_has_parsed_input(server):
    body = invoke(client(server), "weather?", tools=[{"name": "get_weather", "input_schema": {"type": "object"}}])
    assert body["stop_reason"] == "tool_use"
    [call] = body["content"]
    assert call["type"] == "tool_use" and call["id"] == "tool_fixed_1" and call["name"] == "get_weather"
    assert call["input"] == {"city": "Paris", "days": 2}


def test_invoke_stream_tool_arguments_reassemble(server):
    events = invoke_stream_events(client(server), "weather?")
    start = next(e for e in events if e["type"] == "content_block_start")
    assert start["content_block"]["type"] == "tool_use" and start["content_block"]["name"] == "get_weather"
    args = "".join(e["delta"]["partial_json"] for e in events if e.get("delta", {}).get("type") == "input_json_delta")
    assert json.loads(args) == {"city": "Paris", "days": 2}


def test_converse_tool_use_has_input_as_a_document(server):
    r = client(server).converse(modelId=CLAUDE, messages=converse_user("weather?"), toolConfig={"tools": TOOLS})
    assert r["stopReason"] == "tool_use"
    [block] = r["output"]["message"]["content"]
    assert block["toolUse"] == {"toolUseId": "tool_fixed_1", "name": "get_weather", "input": {"city": "Paris", "days": 2}}


def test_converse_stream_tool_use_starts_the_block_and_streams_input(server):
    events = converse_stream_events(client(server), "weather?", toolConfig={"tools": TOOLS})
    [start] = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    assert start["start"]["toolUse"] == {"toolUseId": "tool_fixed_1", "name": "get_weather"}
    args = "".join(
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "toolUse" in e.get("contentBlockDelta", {}).get("delta", {})
    )
    assert json.loads(args) == {"city": "Paris", "days": 2}
    assert {"messageStop": {"stopReason": "tool_use"}} in events


def test_converse_text_together_with_two_tool_calls(server):
    c = client(server)
    r = c.converse(modelId=CLAUDE, messages=converse_user("plan a trip"))
    content = r["output"]["message"]["content"]
    assert content[0] == {"text": "Let me look that up."}
    assert [b["toolUse"]["name"] for b in content[1:]] == ["search", "book"]
    assert content[2]["toolUse"]["input"] == {"city": "Lisbon", "nights": 3}
    ids = [b["toolUse"]["toolUseId"] for b in content[1:]]
    assert len(set(ids)) == 2 and all(i.startswith("tooluse_") for i in ids)
    # Deterministic: the same request gets the same ids.
    again = c.converse(modelId=CLAUDE, messages=converse_user("plan a trip"))
    assert [b["toolUse"]["toolUseId"] for b in again["output"]["message"]["content"][1:]] == ids

    events = converse_stream_events(c, "plan a trip")
    starts = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    assert [s["contentBlockIndex"] for s in starts] == [1, 2]
    text = "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e)
    assert text == "Let me look that up."


def test_invoke_stream_text_together_with_two_tool_calls(server):
    events = invoke_stream_events(client(server), "plan a trip")
    blocks = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert blocks == ["text", "tool_use", "tool_use"]
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


# ---- reasoning ----


def test_converse_reasoning_content_comes_first(server):
    r = client(server).converse(modelId=CLAUDE, messages=converse_user("think hard"))
    content = r["output"]["message"]["content"]
    assert content[0]["reasoningContent"]["reasoningText"] == {"text": "Six times seven is 42.", "signature": "sig-test-1"}
    assert content[1] == {"text": "The answer is 42."}


def test_converse_stream_reasoning_deltas_and_signature(server):
    events = converse_stream_events(client(server), "think hard")
    deltas = [e["contentBlockDelta"] for e in events if "contentBlockDelta" in e]
    reasoning = "".join(d["delta"]["reasoningContent"].get("text", "") for d in deltas if "reasoningContent" in d["delta"])
    signature = [d["delta"]["reasoningContent"]["signature"] for d in deltas if "signature" in d["delta"].get("reasoningContent", {})]
    text = "".join(d["delta"].get("text", "") for d in deltas)
    assert reasoning == "Six times seven is 42." and signature == ["sig-test-1"] and text == "The answer is 42."


def test_invoke_thinking_block_and_stream_deltas(server):
    c = client(server)
    body = invoke(c, "think hard")
    assert body["content"][0] == {"type": "thinking", "thinking": "Six times seven is 42.", "signature": "sig-test-1"}
    events = invoke_stream_events(c, "think hard")
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
    assert "".join(d["thinking"] for d in deltas if d["type"] == "thinking_delta") == "Six times seven is 42."
    assert [d["signature"] for d in deltas if d["type"] == "signature_delta"] == ["sig-test-1"]


# ---- errors and misses ----


@pytest.mark.parametrize("call", ["converse", "converse_stream", "invoke_model", "invoke_model_with_response_stream"])
def test_a_429_fixture_raises_throttling_exception_with_its_message(server, call):
    c = client(server)
    with pytest.raises(c.exceptions.ThrottlingException) as e:
        if call.startswith("converse"):
            getattr(c, call)(modelId=CLAUDE, messages=converse_user("slow down"))
        else:
            getattr(c, call)(modelId=CLAUDE, body=anthropic_body(user("slow down")))
    assert e.value.response["Error"]["Message"] == "Rate exceeded for this model"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_a_lenient_miss_raises_resource_not_found(server):
    c = client(server)
    with pytest.raises(c.exceptions.ResourceNotFoundException) as e:
        c.converse(modelId=CLAUDE, messages=converse_user("nothing matches this"))
    assert "No fixture matched" in e.value.response["Error"]["Message"]


def test_a_strict_miss_raises_service_unavailable(server):
    c = client(server, headers={"X-AIMock-Strict": "true"})
    with pytest.raises(c.exceptions.ServiceUnavailableException) as e:
        c.converse_stream(modelId=CLAUDE, messages=converse_user("nothing matches this"))
    assert "Strict mode: no fixture matched" in e.value.response["Error"]["Message"]
    with pytest.raises(c.exceptions.ServiceUnavailableException):
        c.invoke_model(modelId=CLAUDE, body=anthropic_body(user("nothing matches this")))


def test_a_malformed_invoke_body_raises_validation_exception(server):
    c = client(server)
    with pytest.raises(c.exceptions.ValidationException):
        c.invoke_model(modelId=CLAUDE, body=b"{not json")
    with pytest.raises(c.exceptions.ValidationException):
        c.invoke_model(modelId=CLAUDE, body=json.dumps({"inputText": "no messages"}))


# ---- state ----


def test_sequence_index_advances_per_call(server):
    c = client(server)
    got = [c.converse(modelId=CLAUDE, messages=converse_user("count"))["output"]["message"]["content"][0]["text"] for _ in range(2)]
    assert got == ["one", "two"]


def test_converse_tool_result_loop_matches_by_tool_call_id(server):
    c = client(server)
    messages = converse_user("weather in Paris?")
    first = c.converse(modelId=CLAUDE, messages=messages, toolConfig={"tools": TOOLS})
    assistant = first["output"]["message"]
    call = assistant["content"][0]["toolUse"]
    messages += [
        assistant,
        {"role": "user", "content": [{"toolResult": {"toolUseId": call["toolUseId"], "content": [{"json": {"sky": "clear"}}]}}]},
    ]
    second = c.converse(modelId=CLAUDE, messages=messages, toolConfig={"tools": TOOLS})
    assert second["output"]["message"]["content"] == [{"text": "It is sunny in Paris."}]
    assert second["stopReason"] == "end_turn"


def test_invoke_tool_result_loop_matches_by_tool_call_id(server):
    c = client(server)
    messages = user("weather in Paris?")
    first = json.loads(c.invoke_model(modelId=CLAUDE, body=anthropic_body(messages))["body"].read())
    messages += [
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first["content"][0]["id"], "content": "clear"}]},
    ]
    events = invoke_stream_events_for(c, messages)
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    assert text == "It is sunny in Paris."


def invoke_stream_events_for(c, messages):
    r = c.invoke_model_with_response_stream(modelId=CLAUDE, body=anthropic_body(messages))
    return [json.loads(e["chunk"]["bytes"]) for e in r["body"]]
