"""Record round trips with the official cohere SDK (ClientV2): record through a fake
upstream that replays real captures, check the cassette holds the whole answer and no
credential, then replay strictly with no upstream."""

import json

import cohere
from conftest import FAKE_KEY, golden, wait_for_fixtures

MODEL = "command-r-plus-08-2024"
TOOLS = [{"type": "function", "function": {"name": "Person", "description": "", "parameters": {"type": "object", "properties": {}}}}]


def client(url):
    return cohere.ClientV2(api_key=FAKE_KEY, base_url=url, max_retries=0)


def user(text):
    return [{"role": "user", "content": text}]


def streamed(c, text):
    """(text, tool plan, [(id, name, arguments)], finish reason) of a chat_stream."""
    events = list(c.chat_stream(model=MODEL, messages=user(text), tools=TOOLS))
    out = "".join(e.delta.message.content.text or "" for e in events if e.type == "content-delta")
    plan = "".join(e.delta.message.tool_plan for e in events if e.type == "tool-plan-delta")
    calls = []
    for e in events:
        if e.type == "tool-call-start":
            tc = e.delta.message.tool_calls
            calls.append([tc.id, tc.function.name, tc.function.arguments or ""])
        elif e.type == "tool-call-delta":
            calls[-1][2] += e.delta.message.tool_calls.function.arguments
    end = next(e for e in events if e.type == "message-end")
    return out, plan, [tuple(c) for c in calls], end.delta.finish_reason


def test_chat_stream_and_json_round_trip(start_aimock, cassette_dir, fake_upstream):
    fake_upstream.script("/v2/chat", golden("cohere/chat-v2-stream-tool-call.sse"), content_type="text/event-stream", chunk=300)
    rec = start_aimock(cassette_dir, "--provider-cohere", fake_upstream.url, command="record")
    c = client(rec.url)
    tool_turn = streamed(c, "Create a person named Erick, 27")
    assert tool_turn[1].startswith("I will use the Person tool") and tool_turn[3] == "TOOL_CALL"
    assert tool_turn[2][0][:2] == ("Person_2fnrphbsnr66", "Person")
    assert json.loads(tool_turn[2][0][2]) == {"name": "Erick", "age": 27}

    fake_upstream.script("/v2/chat", golden("cohere/chat-v2-stream-text.sse"), content_type="text/event-stream", chunk=300)
    text_turn = streamed(c, "I'm Pickle Rick")
    assert text_turn[0].startswith("Hi there! You're Pickle Rick?") and text_turn[3] == "COMPLETE"

    fake_upstream.script("/v2/chat", golden("cohere/chat-v2-json-reasoning-tool-call.json"))
    thought = c.chat(model=MODEL, messages=user("weather in the second largest city of Japan"), tools=TOOLS)
    assert thought.message.content[0].type == "thinking"

    assert fake_upstream.seen[0][2]["authorization"] == f"Bearer {FAKE_KEY}"
    path = cassette_dir / "recorded" / "cohere.json"
    doc = wait_for_fixtures(path, 3)
    assert FAKE_KEY not in path.read_text()
    by_user = {f["match"]["userMessage"]: f["response"] for f in doc["fixtures"]}
    assert by_user["I'm Pickle Rick"]["content"] == text_turn[0]
    # The plan is kept apart from the content: the model said nothing to the user.
    assert by_user["Create a person named Erick, 27"]["toolPlan"] == tool_turn[1]
    assert "content" not in by_user["Create a person named Erick, 27"]
    assert by_user["weather in the second largest city of Japan"]["reasoning"] == thought.message.content[0].thinking
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    c = client(replay.url)
    assert streamed(c, "Create a person named Erick, 27") == tool_turn
    assert streamed(c, "I'm Pickle Rick") == text_turn
    again = c.chat(model=MODEL, messages=user("weather in the second largest city of Japan"), tools=TOOLS)
    assert again.message.content[0].thinking == thought.message.content[0].thinking
    assert [(t.id, t.function.name, t.function.arguments) for t in again.message.tool_calls] == [
        (t.id, t.function.name, t.function.arguments) for t in thought.message.tool_calls
    ]
    assert again.finish_reason == thought.finish_reason == "TOOL_CALL"
    assert again.usage.tokens.input_tokens == thought.usage.tokens.input_tokens == 1494


def test_embed_round_trip(start_aimock, cassette_dir, fake_upstream):
    fake_upstream.script("/v2/embed", golden("cohere/embed-v2.json"))
    rec = start_aimock(cassette_dir, "--provider-cohere", fake_upstream.url, command="record")
    c = client(rec.url)
    first = c.embed(model="embed-english-v3.0", texts=["Carson City"], input_type="search_document", embedding_types=["float"])
    want = json.loads(golden("cohere/embed-v2.json"))["embeddings"]["float"][0]
    assert first.embeddings.float_[0] == want
    wait_for_fixtures(cassette_dir / "recorded" / "cohere.json", 1)
    rec.stop()

    replay = start_aimock(cassette_dir, "--strict")
    again = client(replay.url).embed(
        model="embed-english-v3.0", texts=["Carson City"], input_type="search_document", embedding_types=["float"]
    )
    assert again.embeddings.float_[0] == want
