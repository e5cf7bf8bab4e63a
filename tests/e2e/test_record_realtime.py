"""Recording OpenAI Realtime with the official openai SDK: `aimock record
--provider-openai` in front of a fake Realtime upstream (a `websockets` server on
loopback), a session the cassettes cannot answer bridged to it, the cassette checked
for the turn and the absence of the key, then a strict replay with no upstream.

Every socket is on 127.0.0.1; the key is fake.
"""

import asyncio
import json
import threading

from openai import OpenAI
from websockets.asyncio.server import serve

from conftest import FAKE_KEY, wait_for_fixtures


class FakeRealtime:
    """A Realtime upstream answering each `response.create` with a fixed text reply,
    keeping the Authorization header of every upgrade."""

    def __init__(self):
        self.authorization = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def handler(ws):
            self.authorization.append(ws.request.headers.get("authorization"))
            await ws.send(json.dumps({"type": "session.created", "event_id": "event_up0", "session": {"id": "sess_up"}}))
            async for raw in ws:
                ev = json.loads(raw)
                if ev.get("type") != "response.create":
                    continue
                rid = "resp_upstream_1"
                events = [
                    {"type": "response.created", "response": {"id": rid, "object": "realtime.response", "status": "in_progress", "output": []}},
                    {"type": "response.output_item.added", "output_index": 0, "response_id": rid, "item": {"id": "item_up1", "type": "message", "role": "assistant", "content": []}},
                ]
                for word in ["Recorded ", "from ", "upstream"]:
                    events.append({"type": "response.output_text.delta", "response_id": rid, "item_id": "item_up1", "output_index": 0, "content_index": 0, "delta": word})
                events.append(
                    {
                        "type": "response.done",
                        "response": {"id": rid, "object": "realtime.response", "status": "completed", "output": [], "usage": {"total_tokens": 8, "input_tokens": 5, "output_tokens": 3}},
                    }
                )
                for i, e in enumerate(events):
                    e.setdefault("event_id", f"event_up{i + 1}")
                    await ws.send(json.dumps(e))

        async def main():
            async with serve(handler, "127.0.0.1", 0) as server:
                self.port = server.sockets[0].getsockname()[1]
                self.stop_event = asyncio.Event()
                self.ready.set()
                await self.stop_event.wait()

        self.loop.run_until_complete(main())

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(10)


def ask(url):
    client = OpenAI(api_key=FAKE_KEY, base_url=url + "/v1")
    with client.realtime.connect(model="gpt-realtime") as conn:
        assert conn.recv().type == "session.created"
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        assert conn.recv().type == "session.updated"
        conn.conversation.item.create(item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "record me"}]})
        conn.recv(), conn.recv()
        conn.response.create()
        events = []
        for _ in range(50):
            ev = conn.recv()
            events.append(ev)
            if ev.type == "response.done":
                break
        assert events[-1].type == "response.done", [e.type for e in events]
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        created = next(e for e in events if e.type == "response.created")
        return text, created.response.id


def test_a_realtime_miss_is_recorded_from_the_upstream_and_replays_strictly(start_aimock, cassette_dir):
    cassette_dir.mkdir(parents=True, exist_ok=True)
    up = FakeRealtime()
    try:
        rec = start_aimock(cassette_dir, "--provider-openai", up.url, command="record")
        text, rid = ask(rec.url)
        assert text == "Recorded from upstream"
        assert rid == "resp_upstream_1", "the upstream's own events reach the client"
        assert up.authorization == [f"Bearer {FAKE_KEY}"]

        path = cassette_dir / "recorded" / "openai.json"
        doc = wait_for_fixtures(path, 1)
        fx = doc["fixtures"][0]
        assert fx["match"]["userMessage"] == "record me"
        assert fx["response"]["content"] == "Recorded from upstream"
        assert FAKE_KEY not in path.read_text()
        rec.stop()
    finally:
        up.stop()

    replay = start_aimock(cassette_dir, "--strict")
    text, rid = ask(replay.url)
    assert text == "Recorded from upstream"
    assert rid != "resp_upstream_1"
