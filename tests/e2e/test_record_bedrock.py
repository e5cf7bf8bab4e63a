"""Record round trips with the official boto3 bedrock-runtime client: invoke_model,
invoke_model_with_response_stream, converse and converse_stream recorded through a fake
upstream that replays real captures, then replayed strictly with no upstream. The SigV4
headers boto3 signs with reach the upstream but never the disk."""

import json
import struct
import zlib

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from conftest import golden, wait_for_fixtures

ES = "application/vnd.amazon.eventstream"
ACCESS_KEY = "AKIDTESTNOTREAL"
CLAUDE3 = "anthropic.claude-3-sonnet-20240229-v1:0"
CLAUDE3_US = "us.anthropic.claude-3-sonnet-20240229-v1:0"
CLAUDE4_US = "us.anthropic.claude-sonnet-4-20250514-v1:0"
WEATHER = [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]


def client(url):
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key="test-not-a-real-secret",
        config=Config(retries={"total_max_attempts": 1}),
    )


def user(text):
    return [{"role": "user", "content": [{"text": text}]}]


def invoke(url, text):
    body = json.dumps(
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}
    )
    return json.loads(client(url).invoke_model(modelId=CLAUDE3_US, body=body)["body"].read())


def invoke_stream_text(url, text):
    body = json.dumps(
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}
    )
    events = [json.loads(e["chunk"]["bytes"]) for e in client(url).invoke_model_with_response_stream(modelId=CLAUDE3, body=body)["body"]]
    return "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")


def converse_tool(url):
    return client(url).converse(modelId=CLAUDE3, messages=user("Explain distributed tracing"), toolConfig={"tools": WEATHER})


def converse_stream(url, text, model=CLAUDE4_US):
    text_parts, reasoning, signature, stop = [], [], None, None
    for ev in client(url).converse_stream(modelId=model, messages=user(text))["stream"]:
        d = ev.get("contentBlockDelta", {}).get("delta", {})
        if "text" in d:
            text_parts.append(d["text"])
        rc = d.get("reasoningContent", {})
        reasoning.append(rc.get("text", ""))
        signature = rc.get("signature", signature)
        if "messageStop" in ev:
            stop = ev["messageStop"]["stopReason"]
    return "".join(text_parts), "".join(reasoning), signature, stop


def assert_no_credentials(path):
    text = path.read_text()
    assert ACCESS_KEY not in text and "Signature=" not in text and "AWS4-HMAC-SHA256" not in text


def test_all_four_operations_record_and_replay(start_aimock, cassette_dir, fake_upstream):
    fake_upstream.script("/model/us.anthropic.claude-3-sonnet-20240229-v1%3A0/invoke", golden("bedrock/invoke-anthropic-messages-json.json"))
    fake_upstream.script(
        "/model/anthropic.claude-3-sonnet-20240229-v1%3A0/invoke-with-response-stream",
        golden("bedrock/invoke-stream-anthropic-messages.eventstream"),
        content_type=ES,
        chunk=77,
    )
    fake_upstream.script("/model/anthropic.claude-3-sonnet-20240229-v1%3A0/converse", golden("bedrock/converse-json-tool-use.json"))
    fake_upstream.script(
        "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream",
        golden("bedrock/converse-stream-reasoning.eventstream"),
        content_type=ES,
        chunk=90,
    )
    rec = start_aimock(cassette_dir, "--provider-bedrock", fake_upstream.url, command="record")

    msg = invoke(rec.url, "summarize the lord of the rings")
    summary = msg["content"][0]["text"]
    assert summary == "Hobbits embark on epic quest to destroy powerful ring, battling dark forces."
    streamed = invoke_stream_text(rec.url, "summarize it again, streamed")
    assert streamed == summary
    tool = converse_tool(rec.url)
    blocks = tool["output"]["message"]["content"]
    use = blocks[1]["toolUse"]
    assert use["toolUseId"] == "tooluse_iPA5tRLlQ5qSvfeYGeQVPg"
    text, reasoning, signature, stop = converse_stream(rec.url, "Hello")
    assert text == "Hello! It's nice to meet you. How can I help you today?"
    assert reasoning.startswith("The user has greeted me") and signature.startswith("Eu0CCkgIBxAB")

    # boto3 signed every request; the signature went upstream as sent.
    for _, _, headers, _ in fake_upstream.seen:
        assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=" + ACCESS_KEY)
        assert "x-amz-date" in headers
    path = cassette_dir / "recorded" / "bedrock.json"
    fixtures = [f["response"] for f in wait_for_fixtures(path, 4)["fixtures"]]
    assert_no_credentials(path)
    assert fixtures[0]["content"] == summary and fixtures[0]["usage"]["prompt_tokens"] == 21
    assert fixtures[1]["content"] == summary
    assert fixtures[2]["content"] == blocks[0]["text"]
    assert fixtures[2]["toolCalls"] == [{"name": use["name"], "arguments": json.dumps(use["input"], separators=(",", ":")), "id": use["toolUseId"]}]
    assert (fixtures[3]["content"], fixtures[3]["reasoning"], fixtures[3]["reasoningSignature"]) == (text, reasoning, signature)
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    again = invoke(replay.url, "summarize the lord of the rings")
    assert again["content"] == [{"type": "text", "text": summary}]
    assert again["usage"] == {"input_tokens": 21, "output_tokens": 22}
    assert invoke_stream_text(replay.url, "summarize it again, streamed") == summary
    tool_again = converse_tool(replay.url)
    assert tool_again["output"]["message"]["content"] == blocks
    assert tool_again["stopReason"] == "tool_use"
    assert converse_stream(replay.url, "Hello") == (text, reasoning, signature, stop)


def eventstream_message(headers, payload):
    """One AWS EventStream message with string headers (type 7) and both CRC32s."""
    hb = b"".join(struct.pack("B", len(k)) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode() for k, v in headers)
    total = 12 + len(hb) + len(payload) + 4
    prelude = struct.pack(">II", total, len(hb))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + hb + payload
    return head + struct.pack(">I", zlib.crc32(head))


def test_a_throttling_exception_inside_a_stream_replays_as_throttling(start_aimock, cassette_dir, fake_upstream):
    body = eventstream_message(
        [(":event-type", "messageStart"), (":content-type", "application/json"), (":message-type", "event")], b'{"role":"assistant"}'
    ) + eventstream_message(
        [(":exception-type", "throttlingException"), (":content-type", "application/json"), (":message-type", "exception")],
        b'{"message":"Too many tokens, please wait before trying again."}',
    )
    fake_upstream.script("/model/anthropic.claude-3-sonnet-20240229-v1%3A0/converse-stream", body, content_type=ES)
    rec = start_aimock(cassette_dir, "--provider-bedrock", fake_upstream.url, command="record")
    with pytest.raises(botocore.exceptions.ClientError) as live:
        converse_stream(rec.url, "too fast", model=CLAUDE3)
    # botocore reports an in-stream exception under its `:exception-type` spelling.
    code = live.value.response["Error"]["Code"]
    assert code == "throttlingException"
    path = cassette_dir / "recorded" / "bedrock.json"
    r = wait_for_fixtures(path, 1)["fixtures"][0]["response"]
    assert r == {"error": {"message": "Too many tokens, please wait before trying again.", "type": code}, "status": 429}
    assert_no_credentials(path)
    rec.stop()

    with pytest.raises(botocore.exceptions.ClientError) as replayed:
        converse_stream(start_aimock(cassette_dir, "--strict").url, "too fast", model=CLAUDE3)
    assert replayed.value.response["Error"]["Code"] == code
    assert replayed.value.response["Error"]["Message"] == r["error"]["message"]
    assert replayed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
