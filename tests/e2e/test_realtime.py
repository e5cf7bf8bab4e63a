"""Realtime over WebSockets, driven by the official SDKs against the real binary.

- OpenAI Realtime (GA): `openai`'s `client.realtime.connect(model=...)` (it needs the
  `websockets` package, pinned in requirements.txt). The SDK turns the `http://` base URL
  into `ws://` itself.
- Responses over WebSocket: `openai`'s `client.responses.connect()`.
- Gemini Live: `google-genai`'s `client.aio.live.connect(...)` over `wss://` (the
  client insists on TLS when an API key is set), against aimock serving TLS on the same
  port with a throw-away self-signed certificate made here and trusted through
  `SSL_CERT_FILE`.

Every socket is on 127.0.0.1; every key is fake.
"""

import asyncio
import json
import os
import subprocess
import time

import pytest
from openai import AsyncOpenAI, OpenAI

from conftest import FAKE_KEY, raw_request, write_cassette


def openai_client(server):
    return OpenAI(api_key=FAKE_KEY, base_url=server.url + "/v1")


def journal(server):
    return raw_request("GET", server.url + "/__aimock/journal").json()


def recv_until(conn, kind, limit=200):
    """Events up to and including the first of type `kind`."""
    out = []
    for _ in range(limit):
        ev = conn.recv()
        out.append(ev)
        if ev.type == kind:
            return out
    raise AssertionError(f"no {kind} in {[e.type for e in out]}")


WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
def realtime_cassettes(cassette_dir):
    write_cassette(
        cassette_dir,
        "realtime.json",
        [
            {"match": {"userMessage": "hello", "turnIndex": 0}, "response": {"content": "Hi there, friend!"}, "chunkSize": 5},
            {"match": {"userMessage": "weather in Paris?", "hasToolResult": False}, "response": {"toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_paris"}]}},
            {"match": {"toolCallId": "call_paris", "hasToolResult": True}, "response": {"content": "It is sunny in Paris."}},
            {"match": {"userMessage": "[audio input]"}, "response": {"content": "I heard you."}},
            {"match": {"userMessage": "boom"}, "response": {"error": {"message": "upstream exploded", "type": "server_error", "code": "boom"}, "status": 500}},
            {"match": {"userMessage": "slow"}, "response": {"content": "one two three four five six seven eight"}, "chunkSize": 4, "latency": 150},
        ],
    )
    return cassette_dir


def user_text(conn, text):
    conn.conversation.item.create(item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})


def test_realtime_text_turn_with_session_update_and_items(start_aimock, realtime_cassettes):
    s = start_aimock(realtime_cassettes)
    client = openai_client(s)
    with client.realtime.connect(model="gpt-realtime") as conn:
        created = conn.recv()
        assert created.type == "session.created"
        assert created.session.model == "gpt-realtime"
        assert created.event_id.startswith("event_")
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"], "instructions": "be kind"})
        updated = conn.recv()
        assert updated.type == "session.updated"
        assert updated.session.output_modalities == ["text"]
        assert updated.session.instructions == "be kind"

        user_text(conn, "hello")
        added, done = conn.recv(), conn.recv()
        assert (added.type, done.type) == ("conversation.item.added", "conversation.item.done")
        assert added.item.id == done.item.id

        conn.response.create()
        events = recv_until(conn, "response.done")
        types = [e.type for e in events]
        assert types[0] == "response.created"
        assert "response.output_text.done" in types
        deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
        assert len(deltas) == 4 and "".join(deltas) == "Hi there, friend!"
        final = events[-1].response
        assert final.status == "completed"
        assert final.output[0].content[0].text == "Hi there, friend!"
        assert final.usage.total_tokens > 0

        # An unknown event is an error event, and the socket stays open.
        conn.send({"type": "bogus.event", "event_id": "evt_client_1"})
        err = conn.recv()
        assert err.type == "error"
        assert err.error.code == "invalid_value"
        assert err.error.event_id == "evt_client_1"
        conn.response.cancel()
        err = conn.recv()
        assert err.error.code == "response_cancel_not_active"

    entries = journal(s)
    ws = [e for e in entries if e.get("method") == "WS"]
    assert len(ws) == 1, entries
    assert ws[0]["path"].startswith("/v1/realtime")
    assert ws[0]["response"]["status"] == 200
    assert ws[0]["response"]["fixture"], ws[0]


def test_realtime_tool_call_then_tool_result_continues_the_turn(start_aimock, realtime_cassettes):
    s = start_aimock(realtime_cassettes)
    client = openai_client(s)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER_TOOL]})
        conn.recv()
        user_text(conn, "weather in Paris?")
        conn.recv(), conn.recv()
        conn.response.create()
        events = recv_until(conn, "response.done")
        args = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
        assert json.loads(args) == {"city": "Paris"}
        call = events[-1].response.output[0]
        assert call.type == "function_call"
        assert call.call_id == "call_paris" and call.name == "get_weather"

        conn.conversation.item.create(item={"type": "function_call_output", "call_id": "call_paris", "output": json.dumps({"sky": "clear"})})
        conn.recv(), conn.recv()
        conn.response.create()
        events = recv_until(conn, "response.done")
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert text == "It is sunny in Paris."


def test_realtime_audio_session_commits_audio_and_answers_with_a_transcript(start_aimock, realtime_cassettes):
    s = start_aimock(realtime_cassettes)
    client = openai_client(s)
    with client.realtime.connect(model="gpt-realtime") as conn:
        created = conn.recv()
        assert created.session.output_modalities == ["audio"]
        conn.input_audio_buffer.append(audio="AAAAAAAAAAAAAAAA")
        conn.input_audio_buffer.commit()
        committed = conn.recv()
        assert committed.type == "input_audio_buffer.committed"
        added = conn.recv()
        assert added.item.id == committed.item_id
        conn.recv()
        conn.input_audio_buffer.clear()
        assert conn.recv().type == "input_audio_buffer.cleared"
        conn.response.create()
        events = recv_until(conn, "response.done")
        transcript = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")
        assert transcript == "I heard you."
        assert events[-1].response.output[0].content[0].transcript == "I heard you."


def test_realtime_error_fixture_and_lenient_miss_are_failed_responses(start_aimock, realtime_cassettes):
    s = start_aimock(realtime_cassettes)
    client = openai_client(s)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        user_text(conn, "boom")
        conn.recv(), conn.recv()
        conn.response.create()
        events = recv_until(conn, "response.done")
        failed = events[-1].response
        assert failed.status == "failed"
        assert failed.status_details.error.message == "upstream exploded"
        user_text(conn, "nothing matches this")
        conn.recv(), conn.recv()
        conn.response.create()
        events = recv_until(conn, "response.done")
        assert events[-1].response.status_details.error.code == "no_fixture_match"
        assert "No fixture matched" in events[-1].response.status_details.error.message
    statuses = sorted(e["response"]["status"] for e in journal(s) if e.get("method") == "WS")
    assert statuses == [404, 500]


def test_realtime_strict_miss_closes_1008_with_the_miss_message(start_aimock, realtime_cassettes):
    from websockets.exceptions import ConnectionClosed

    s = start_aimock(realtime_cassettes, "--strict")
    client = openai_client(s)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        user_text(conn, "nothing matches this")
        conn.recv(), conn.recv()
        conn.response.create()
        err = conn.recv()
        assert err.type == "error"
        assert err.error.message.startswith("Strict mode: no fixture matched")
        with pytest.raises(ConnectionClosed) as closed:
            conn.recv()
        assert closed.value.rcvd.code == 1008
        assert closed.value.rcvd.reason.startswith("Strict mode")
    ws = [e for e in journal(s) if e.get("method") == "WS"]
    assert ws[0]["response"]["status"] == 503


def test_realtime_cancel_during_a_paced_turn_is_a_cancelled_response(start_aimock, realtime_cassettes):
    s = start_aimock(realtime_cassettes)
    client = openai_client(s)
    with client.realtime.connect(model="gpt-realtime") as conn:
        conn.recv()
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        conn.recv()
        user_text(conn, "slow")
        conn.recv(), conn.recv()
        conn.response.create()
        # Wait for the first slice (150 ms per slice), then cancel.
        recv_until(conn, "response.output_text.delta")
        conn.response.cancel()
        events = recv_until(conn, "response.done")
        done = events[-1].response
        assert done.status == "cancelled"
        assert done.status_details.reason == "client_cancelled"
        deltas = [e for e in events if e.type == "response.output_text.delta"]
        assert len(deltas) < 9


def test_realtime_transcription_session(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "t.json", [
        {"match": {"endpoint": "realtime-transcription"}, "response": {"transcription": {"text": "hello from the microphone"}}},
    ])
    s = start_aimock(cassette_dir)
    client = openai_client(s)
    with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
        created = conn.recv()
        assert created.session.type == "transcription"
        conn.session.update(session={"type": "transcription", "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}})
        assert conn.recv().type == "session.updated"
        conn.input_audio_buffer.append(audio="AAAAAAAA")
        conn.input_audio_buffer.commit()
        events = recv_until(conn, "conversation.item.input_audio_transcription.completed")
        done = events[-1]
        assert done.transcript == "hello from the microphone"
        assert done.usage.type == "tokens"
        deltas = "".join(e.delta for e in events if e.type == "conversation.item.input_audio_transcription.delta")
        assert deltas == "hello from the microphone"


# --- Responses over WebSocket ---------------------------------------------------------


def test_responses_websocket_turns_and_previous_response_id(start_aimock, realtime_cassettes):
    s = start_aimock(realtime_cassettes)
    client = openai_client(s)
    with client.responses.connect() as conn:
        conn.response.create(model="gpt-4.1", input="weather in Paris?", tools=[WEATHER_TOOL])
        events = recv_until(conn, "response.completed")
        types = [e.type for e in events]
        assert types[:2] == ["response.created", "response.in_progress"]
        assert "response.function_call_arguments.done" in types
        first = events[-1].response
        call = first.output[0]
        assert call.call_id == "call_paris"
        # Only the new item and the previous response's id: the server keeps the rest.
        conn.response.create(
            model="gpt-4.1",
            previous_response_id=first.id,
            input=[{"type": "function_call_output", "call_id": "call_paris", "output": "clear"}],
        )
        events = recv_until(conn, "response.completed")
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert text == "It is sunny in Paris."
        # A miss is an error event; the connection stays open for the next turn.
        conn.response.create(model="gpt-4.1", input="nothing matches this")
        err = conn.recv()
        assert err.type == "error" and err.error.code == "no_fixture_match"
        conn.response.create(model="gpt-4.1", input="hello")
        events = recv_until(conn, "response.completed")
        assert events[-1].response.output[0].content[0].text == "Hi there, friend!"
    ws = [e for e in journal(s) if e.get("method") == "WS"]
    assert [e["response"]["status"] for e in ws] == [200, 200, 404, 200]


# --- Gemini Live over TLS -------------------------------------------------------------


def self_signed(tmp_path):
    """A throw-away certificate for 127.0.0.1 and localhost, made with `cryptography`."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aimock test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def live_cassettes(cassette_dir):
    write_cassette(cassette_dir, "live.json", [
        {"match": {"userMessage": "hello live", "model": "gemini-live-2.5-flash"}, "response": {"content": "Hello from Gemini Live!"}, "chunkSize": 6},
        {"match": {"userMessage": "weather in Paris?", "hasToolResult": False}, "response": {"toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}},
        {"match": {"userMessage": "weather in Paris?", "hasToolResult": True}, "response": {"content": "Sunny."}},
    ])
    return cassette_dir


def live_client(server, cert, monkeypatch):
    from google import genai
    from google.genai import types

    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    https = server.url.replace("http://", "https://")
    return genai.Client(api_key="test-not-a-real-key", http_options=types.HttpOptions(base_url=https)), types


def test_gemini_live_text_turn_and_tool_round_trip_over_tls(start_aimock, live_cassettes, tmp_path, monkeypatch):
    cert, key = self_signed(tmp_path)
    s = start_aimock(live_cassettes, "--tls-cert", str(cert), "--tls-key", str(key))
    client, types = live_client(s, cert, monkeypatch)

    async def run():
        config = types.LiveConnectConfig(
            response_modalities=["TEXT"],
            tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="get_weather", description="Weather")])],
        )
        async with client.aio.live.connect(model="gemini-live-2.5-flash", config=config) as session:
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="hello live")]), turn_complete=True)
            texts, usage, generation_complete = [], None, False
            async for msg in session.receive():
                if msg.server_content and msg.server_content.model_turn:
                    texts += [p.text for p in msg.server_content.model_turn.parts if p.text]
                if msg.server_content and msg.server_content.generation_complete:
                    generation_complete = True
                if msg.usage_metadata:
                    usage = msg.usage_metadata
            assert "".join(texts) == "Hello from Gemini Live!"
            assert len(texts) == 4
            assert generation_complete
            assert usage.total_token_count > 0

            await session.send_realtime_input(text="weather in Paris?")
            answered = []
            async for msg in session.receive():
                if msg.tool_call:
                    call = msg.tool_call.function_calls[0]
                    assert call.name == "get_weather" and call.args == {"city": "Paris"}
                    await session.send_tool_response(function_responses=[types.FunctionResponse(id=call.id, name=call.name, response={"sky": "clear"})])
                if msg.text:
                    answered.append(msg.text)
            assert "".join(answered) == "Sunny."

    asyncio.run(run())
    ws = [e for e in journal_tls(s) if e.get("method") == "WS"]
    assert [e["response"]["status"] for e in ws] == [200, 200, 200]


def journal_tls(server):
    # Plain HTTP still works on the TLS-enabled port (the first byte decides).
    return raw_request("GET", server.url + "/__aimock/journal").json()


def test_gemini_live_lenient_miss_raises_a_client_error_and_strict_closes_1008(start_aimock, live_cassettes, tmp_path, monkeypatch):
    from google.genai import errors

    cert, key = self_signed(tmp_path)
    s = start_aimock(live_cassettes, "--tls-cert", str(cert), "--tls-key", str(key))
    client, types = live_client(s, cert, monkeypatch)

    async def miss(expect):
        async with client.aio.live.connect(model="gemini-live-2.5-flash", config=types.LiveConnectConfig(response_modalities=["TEXT"])) as session:
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="nothing matches")]), turn_complete=True)
            with pytest.raises(errors.APIError) as e:
                async for _ in session.receive():
                    pass
            assert e.value.code == expect
            return e.value

    e = asyncio.run(miss(404))
    assert isinstance(e, errors.ClientError)
    assert "No fixture matched" in e.message
    s2 = start_aimock(live_cassettes, "--strict", "--tls-cert", str(cert), "--tls-key", str(key))
    client, types = live_client(s2, cert, monkeypatch)
    e = asyncio.run(miss(1008))
    assert "Strict mode" in str(e)
