"""The official boto3 bedrock-runtime client's invoke_model and
invoke_model_with_response_stream against every Bedrock model family aimock reads
(Nova, Titan text and embeddings, Llama, Mistral prompt and chat, Cohere Command R and
Embed, DeepSeek, gpt-oss): hand-written fixtures answered in each family's own body, and
recordings through a fake upstream (via --provider-bedrock) collapsed into editable
fixtures that replay under --strict with the same result."""

import base64
import json
import struct
import zlib

import boto3
import pytest
from botocore.config import Config
from conftest import wait_for_fixtures, write_cassette

ES = "application/vnd.amazon.eventstream"


def client(url):
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="AKIDTESTNOTREAL",
        aws_secret_access_key="test-not-a-real-secret",
        config=Config(retries={"total_max_attempts": 1}),
    )


def metrics(i, o):
    return {"inputTokenCount": i, "outputTokenCount": o, "invocationLatency": 400, "firstByteLatency": 200}


# Each family: model id, request body for a user text, the text of a JSON reply, the
# text of the decoded stream events, and what its real upstream sends (JSON; events).
FAMILIES = [
    {
        "name": "nova",
        "model": "us.amazon.nova-lite-v1:0",
        "body": lambda t: {"schemaVersion": "messages-v1", "messages": [{"role": "user", "content": [{"text": t}]}], "inferenceConfig": {"maxTokens": 50}},
        "text": lambda r: r["output"]["message"]["content"][0]["text"],
        "stream_text": lambda evs: "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in evs if "contentBlockDelta" in e),
        "upstream": {"output": {"message": {"content": [{"text": "Recorded nova."}], "role": "assistant"}}, "stopReason": "end_turn", "usage": {"inputTokens": 4, "outputTokens": 3, "totalTokens": 7}},
        "events": [
            {"messageStart": {"role": "assistant"}},
            {"contentBlockDelta": {"delta": {"text": "Recorded"}, "contentBlockIndex": 0}},
            {"contentBlockDelta": {"delta": {"text": " nova."}, "contentBlockIndex": 0}},
            {"contentBlockStop": {"contentBlockIndex": 0}},
            {"messageStop": {"stopReason": "end_turn"}},
            {"metadata": {"usage": {"inputTokens": 4, "outputTokens": 3}, "metrics": {}, "trace": {}}, "amazon-bedrock-invocationMetrics": metrics(4, 3)},
        ],
    },
    {
        "name": "titan-text",
        "model": "amazon.titan-text-express-v1",
        "body": lambda t: {"inputText": f"User: {t}\nBot:", "textGenerationConfig": {"maxTokenCount": 50}},
        "text": lambda r: r["results"][0]["outputText"],
        "stream_text": lambda evs: "".join(e["outputText"] for e in evs),
        "upstream": {"inputTextTokenCount": 5, "results": [{"tokenCount": 3, "outputText": "Recorded titan-text.", "completionReason": "FINISH"}]},
        "events": [
            {"outputText": "Recorded", "index": 0, "totalOutputTextTokenCount": None, "completionReason": None, "inputTextTokenCount": 5},
            {"outputText": " titan-text.", "index": 0, "totalOutputTextTokenCount": 3, "completionReason": "FINISH", "inputTextTokenCount": None, "amazon-bedrock-invocationMetrics": metrics(5, 3)},
        ],
    },
    {
        "name": "llama",
        "model": "meta.llama3-8b-instruct-v1:0",
        "body": lambda t: {"prompt": f"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{t}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", "max_gen_len": 50},
        "text": lambda r: r["generation"],
        "stream_text": lambda evs: "".join(e["generation"] for e in evs),
        "upstream": {"generation": "Recorded llama.", "prompt_token_count": 9, "generation_token_count": 3, "stop_reason": "stop"},
        "events": [
            {"generation": "Recorded", "prompt_token_count": 9, "generation_token_count": 1, "stop_reason": None},
            {"generation": " llama.", "prompt_token_count": None, "generation_token_count": 3, "stop_reason": "stop", "amazon-bedrock-invocationMetrics": metrics(9, 3)},
        ],
    },
    {
        "name": "mistral-text",
        "model": "mistral.mistral-7b-instruct-v0:2",
        "body": lambda t: {"prompt": f"<s>[INST] {t} [/INST]", "max_tokens": 50},
        "text": lambda r: r["outputs"][0]["text"],
        "stream_text": lambda evs: "".join(e["outputs"][0]["text"] for e in evs),
        "upstream": {"outputs": [{"text": "Recorded mistral-text.", "stop_reason": "stop"}]},
        "events": [
            {"outputs": [{"text": "Recorded", "stop_reason": None}]},
            {"outputs": [{"text": " mistral-text.", "stop_reason": "stop"}], "amazon-bedrock-invocationMetrics": metrics(6, 3)},
        ],
    },
    {
        "name": "mistral-chat",
        "model": "mistral.mistral-large-2407-v1:0",
        "body": lambda t: {"messages": [{"role": "user", "content": t}], "max_tokens": 50},
        "text": lambda r: r["choices"][0]["message"]["content"],
        "stream_text": lambda evs: "".join(e["choices"][0]["message"]["content"] for e in evs),
        "upstream": {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Recorded mistral-chat."}, "stop_reason": "stop"}]},
        "events": [
            {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Recorded"}, "stop_reason": None}]},
            {"choices": [{"index": 0, "message": {"role": "assistant", "content": " mistral-chat."}, "stop_reason": "stop"}], "amazon-bedrock-invocationMetrics": metrics(6, 3)},
        ],
    },
    {
        "name": "cohere-command",
        "model": "cohere.command-r-v1:0",
        "body": lambda t: {"message": t, "chat_history": [], "max_tokens": 50},
        "text": lambda r: r["text"],
        "stream_text": lambda evs: "".join(e.get("text", "") for e in evs if e["event_type"] == "text-generation"),
        "upstream": {"response_id": "r1", "text": "Recorded cohere-command.", "generation_id": "g1", "chat_history": [], "finish_reason": "COMPLETE", "meta": {"billed_units": {"input_tokens": 5, "output_tokens": 3}}},
        "events": [
            {"is_finished": False, "event_type": "stream-start", "generation_id": "g1"},
            {"is_finished": False, "event_type": "text-generation", "text": "Recorded"},
            {"is_finished": False, "event_type": "text-generation", "text": " cohere-command."},
            {"is_finished": True, "event_type": "stream-end", "finish_reason": "COMPLETE", "response": {"text": "Recorded cohere-command.", "meta": {"billed_units": {"input_tokens": 5, "output_tokens": 3}}}, "amazon-bedrock-invocationMetrics": metrics(5, 3)},
        ],
    },
    {
        "name": "deepseek",
        "model": "us.deepseek.r1-v1:0",
        "body": lambda t: {"prompt": f"<｜begin▁of▁sentence｜><｜User｜>{t}<｜Assistant｜>", "max_tokens": 50},
        "text": lambda r: r["choices"][0]["text"],
        "stream_text": lambda evs: "".join(e["choices"][0]["text"] for e in evs),
        "upstream": {"choices": [{"text": "Recorded deepseek.", "stop_reason": "stop"}]},
        "events": [
            {"choices": [{"text": "Recorded", "stop_reason": None}]},
            {"choices": [{"text": " deepseek.", "stop_reason": "stop"}], "amazon-bedrock-invocationMetrics": metrics(6, 3)},
        ],
    },
    {
        "name": "gpt-oss",
        "model": "openai.gpt-oss-20b-1:0",
        "body": lambda t: {"messages": [{"role": "user", "content": t}], "max_completion_tokens": 50},
        "text": lambda r: r["choices"][0]["message"]["content"],
        "stream_text": lambda evs: "".join(e["choices"][0]["delta"].get("content") or "" for e in evs),
        "upstream": {"id": "chatcmpl-1", "object": "chat.completion", "created": 1754000000, "model": "openai.gpt-oss-20b-1:0", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Recorded gpt-oss."}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}},
        "events": [
            {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "openai.gpt-oss-20b-1:0", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Recorded"}, "finish_reason": None}]},
            {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "openai.gpt-oss-20b-1:0", "choices": [{"index": 0, "delta": {"content": " gpt-oss."}, "finish_reason": "stop"}], "amazon-bedrock-invocationMetrics": metrics(5, 3)},
        ],
    },
]

IDS = [f["name"] for f in FAMILIES]


def invoke(url, fam, text):
    r = client(url).invoke_model(modelId=fam["model"], body=json.dumps(fam["body"](text)))
    return json.loads(r["body"].read())


def invoke_stream(url, fam, text):
    r = client(url).invoke_model_with_response_stream(modelId=fam["model"], body=json.dumps(fam["body"](text)))
    return [json.loads(e["chunk"]["bytes"]) for e in r["body"]]


def eventstream(events):
    """Model events framed as invoke-with-response-stream sends them: an EventStream
    `chunk` message per event, its payload {"bytes": base64(event)}."""
    out = b""
    headers = [(":event-type", "chunk"), (":content-type", "application/json"), (":message-type", "event")]
    for e in events:
        payload = json.dumps({"bytes": base64.b64encode(json.dumps(e).encode()).decode()}).encode()
        hb = b"".join(struct.pack("B", len(k)) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode() for k, v in headers)
        prelude = struct.pack(">II", 12 + len(hb) + len(payload) + 4, len(hb))
        head = prelude + struct.pack(">I", zlib.crc32(prelude)) + hb + payload
        out += head + struct.pack(">I", zlib.crc32(head))
    return out


@pytest.fixture
def server(start_aimock, cassette_dir):
    fixtures = [{"match": {"userMessage": f"hello {f['name']}"}, "response": {"content": f"Hello from {f['name']}!"}} for f in FAMILIES]
    fixtures.append({"match": {"inputText": "embed me"}, "response": {"embedding": [0.5, -0.25, 0.125]}})
    fixtures.append(
        {"match": {"userMessage": "weather"}, "response": {"content": "Checking.", "toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_w1"}]}}
    )
    write_cassette(cassette_dir, "families.json", fixtures)
    return start_aimock(cassette_dir, "--strict")


@pytest.mark.parametrize("fam", FAMILIES, ids=IDS)
def test_a_hand_written_fixture_answers_each_family_in_its_own_body(server, fam):
    assert fam["text"](invoke(server.url, fam, f"hello {fam['name']}")) == f"Hello from {fam['name']}!"
    events = invoke_stream(server.url, fam, f"hello {fam['name']}")
    assert len(events) >= 2
    assert fam["stream_text"](events) == f"Hello from {fam['name']}!"
    m = events[-1]["amazon-bedrock-invocationMetrics"]
    assert m["inputTokenCount"] > 0 and m["outputTokenCount"] > 0


def test_tool_calls_reach_the_families_that_have_them(server):
    by = {f["name"]: f for f in FAMILIES}
    mistral = invoke(server.url, by["mistral-chat"], "weather?")
    call = mistral["choices"][0]["message"]["tool_calls"][0]
    assert call["id"] == "call_w1" and json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert mistral["choices"][0]["stop_reason"] == "tool_calls"
    cohere = invoke(server.url, by["cohere-command"], "weather?")
    assert cohere["tool_calls"] == [{"name": "get_weather", "parameters": {"city": "Paris"}}]
    oss = invoke(server.url, by["gpt-oss"], "weather?")
    assert oss["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    nova = invoke(server.url, by["nova"], "weather?")
    assert nova["output"]["message"]["content"][1]["toolUse"]["input"] == {"city": "Paris"}


def test_embedding_families_answer_vectors(server):
    c = client(server.url)
    v1 = json.loads(c.invoke_model(modelId="amazon.titan-embed-text-v1", body=json.dumps({"inputText": "embed me"}))["body"].read())
    assert v1["embedding"] == [0.5, -0.25, 0.125] and v1["inputTextTokenCount"] > 0
    v2 = json.loads(
        c.invoke_model(
            modelId="amazon.titan-embed-text-v2:0", body=json.dumps({"inputText": "embed me", "dimensions": 256, "embeddingTypes": ["float", "binary"]})
        )["body"].read()
    )
    assert v2["embeddingsByType"] == {"float": [0.5, -0.25, 0.125], "binary": [1, 0, 1]}
    co = json.loads(
        c.invoke_model(modelId="cohere.embed-english-v3", body=json.dumps({"texts": ["embed me"], "input_type": "search_document"}))["body"].read()
    )
    assert co["embeddings"] == [[0.5, -0.25, 0.125]] and co["response_type"] == "embeddings_floats"


@pytest.mark.parametrize("fam", FAMILIES, ids=IDS)
def test_a_recording_of_each_family_replays_strictly_through_boto3(start_aimock, cassette_dir, fake_upstream, fam):
    quoted = fam["model"].replace(":", "%3A")
    fake_upstream.script(f"/model/{quoted}/invoke", json.dumps(fam["upstream"]))
    fake_upstream.script(f"/model/{quoted}/invoke-with-response-stream", eventstream(fam["events"]), content_type=ES, chunk=37)
    rec = start_aimock(cassette_dir, "--provider-bedrock", fake_upstream.url, command="record")
    live = fam["text"](invoke(rec.url, fam, "record me json"))
    live_stream = fam["stream_text"](invoke_stream(rec.url, fam, "record me stream"))
    assert live == f"Recorded {fam['name']}."
    assert live_stream == f"Recorded {fam['name']}."
    doc = wait_for_fixtures(cassette_dir / "recorded" / "bedrock.json", 2)
    assert all("raw" not in f["response"] for f in doc["fixtures"]), doc
    assert {f["response"]["content"] for f in doc["fixtures"]} == {live}
    assert not (cassette_dir / "recorded" / "bedrock-raw.json").exists()
    text = (cassette_dir / "recorded" / "bedrock.json").read_text()
    assert "AKIDTESTNOTREAL" not in text and "Signature=" not in text
    rec.stop()

    replay = start_aimock(cassette_dir / "recorded", "--strict")
    assert fam["text"](invoke(replay.url, fam, "record me json")) == live
    events = invoke_stream(replay.url, fam, "record me stream")
    assert fam["stream_text"](events) == live_stream
    assert "amazon-bedrock-invocationMetrics" in events[-1]


def test_a_recorded_titan_embedding_replays_strictly(start_aimock, cassette_dir, fake_upstream):
    fake_upstream.script("/model/amazon.titan-embed-text-v1/invoke", json.dumps({"embedding": [0.1, 0.2, -0.3], "inputTextTokenCount": 3}))
    rec = start_aimock(cassette_dir, "--provider-bedrock", fake_upstream.url, command="record")
    c = client(rec.url)
    live = json.loads(c.invoke_model(modelId="amazon.titan-embed-text-v1", body=json.dumps({"inputText": "vectorise"}))["body"].read())
    doc = wait_for_fixtures(cassette_dir / "recorded" / "bedrock.json", 1)
    assert doc["fixtures"][0]["match"]["inputText"] == "vectorise"
    rec.stop()
    replay = start_aimock(cassette_dir / "recorded", "--strict")
    again = json.loads(client(replay.url).invoke_model(modelId="amazon.titan-embed-text-v1", body=json.dumps({"inputText": "vectorise"}))["body"].read())
    assert again["embedding"] == live["embedding"]
