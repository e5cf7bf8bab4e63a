"""Record -> replay round trips for the agent stack, each against a fake upstream on
loopback: `aimock record --upstream-mcp/--upstream-a2a/--upstream-agui URL` forwards what
the config cannot answer, relays it to the official client, saves it into the service's
own file (--mcp/--a2a/--agui) without credentials, and a later `aimock replay` with
only that file answers the same, offline."""

import asyncio
import http.server
import json
import threading
import time
import uuid

import httpx
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types import a2a_pb2 as pb
from ag_ui.core import RunAgentInput, UserMessage
from ag_ui.core.events import Event
from conftest import FAKE_KEY
from httpx_sse import connect_sse
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from pydantic import TypeAdapter

LEAK = "sk-proj-test-not-a-real-key-abcdefghijkl"


class Fake:
    """A loopback HTTP server whose answers come from `handler(path, headers, body)`
    returning (status, content_type, extra_headers, body_bytes); `seen` keeps requests."""

    def __init__(self, handler):
        outer = self
        self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n) if n else b""
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                outer.seen.append((self.path, hdrs, body))
                status, ctype, extra, data = handler(self.path, hdrs, body)
                self.send_response(status)
                self.send_header("content-type", ctype)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_DELETE = do_POST

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def wait_for(path, cond, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            doc = json.loads(path.read_text())
            if cond(doc):
                return doc
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"{path} never got its recording")


def sse(*items):
    return b"".join(b"data: " + json.dumps(i).encode() + b"\n\n" for i in items)


# --- MCP -------------------------------------------------------------------------

def fake_mcp(path, headers, body):
    if not body:
        return 200, "application/json", {}, b"{}"
    msg = json.loads(body)
    if "id" not in msg:
        return 202, "application/json", {}, b""
    m, i = msg["method"], msg["id"]
    if m == "initialize":
        r = {"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}}, "serverInfo": {"name": "real", "version": "9"}}
        return 200, "application/json", {"mcp-session-id": "upstream-session"}, json.dumps({"jsonrpc": "2.0", "id": i, "result": r}).encode()
    assert headers.get("mcp-session-id") == "upstream-session"
    if m == "tools/list":
        r = {"tools": [{"name": "lookup", "description": "Look things up", "inputSchema": {"type": "object", "properties": {"q": {"type": "string"}}}}]}
    elif m == "tools/call":
        r = {"content": [{"type": "text", "text": f"looked up {msg['params']['arguments']['q']} with {LEAK}"}], "isError": False}
    elif m == "resources/read":
        r = {"contents": [{"uri": msg["params"]["uri"], "mimeType": "text/plain", "text": "remote file"}]}
    elif m == "prompts/get":
        r = {"description": "a remote prompt", "messages": [{"role": "user", "content": {"type": "text", "text": "remote prompt text"}}]}
    else:
        return 200, "application/json", {}, json.dumps({"jsonrpc": "2.0", "id": i, "error": {"code": -32601, "message": "nope"}}).encode()
    # Answer as an SSE stream, as many real servers do.
    return 200, "text/event-stream", {}, b"event: message\n" + sse({"jsonrpc": "2.0", "id": i, "result": r})


async def mcp_session(url):
    client = create_mcp_http_client(headers={"authorization": f"Bearer {FAKE_KEY}"})
    async with client:
        async with streamable_http_client(url, http_client=client) as (r, w):
            async with ClientSession(r, w) as s:
                await s.initialize()
                call = await s.call_tool("lookup", {"q": "otters"})
                res = await s.read_resource("file:///remote.txt")
                prompt = await s.get_prompt("remote", {})
                tools = await s.list_tools()
                return call.content[0].text, res.contents[0].text, prompt.messages[0].content.text, [t.name for t in tools.tools]


def test_mcp_record_then_replay(start_aimock, tmp_path):
    up = Fake(fake_mcp)
    try:
        file = tmp_path / "mcp.json"
        rec = start_aimock(tmp_path / "c", "--upstream-mcp", up.url + "/mcp", "--mcp", str(file), command="record")
        first = asyncio.run(mcp_session(rec.url + "/mcp"))
        assert first[0].startswith("looked up otters with")
        assert first[1:] == ("remote file", "remote prompt text", ["lookup"])
        assert any(h.get("authorization") == f"Bearer {FAKE_KEY}" for _, h, _ in up.seen)
        doc = wait_for(file, lambda d: len(d.get("tools", [])) == 1 and d.get("prompts"))
        text = file.read_text()
        assert FAKE_KEY not in text and LEAK not in text
        assert doc["tools"][0]["description"] == "Look things up"
        assert doc["tools"][0]["inputSchema"]["properties"]["q"] == {"type": "string"}
        rec.stop()
    finally:
        up.stop()
    replay = start_aimock(tmp_path / "c", "--mcp", str(file))
    again = asyncio.run(mcp_session(replay.url + "/mcp"))
    assert again[1:] == first[1:]
    assert again[0] == "looked up otters with [REDACTED]"


# --- A2A -------------------------------------------------------------------------

def fake_a2a(path, headers, body):
    msg = json.loads(body)
    text = " ".join(p.get("text", "") for p in msg["params"]["message"]["parts"])
    task = {"id": "task-up", "contextId": "ctx-up", "status": {"state": "TASK_STATE_COMPLETED"}}
    if msg["method"] == "SendMessage":
        r = {"task": {**task, "artifacts": [{"artifactId": "a1", "name": "answer", "parts": [{"text": f"upstream says: {text}"}]}]}}
        return 200, "application/json", {}, json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": r}).encode()
    items = [
        {"task": {**task, "status": {"state": "TASK_STATE_WORKING"}}},
        {"artifactUpdate": {"taskId": "task-up", "contextId": "ctx-up", "artifact": {"artifactId": "s1", "name": "story", "parts": [{"text": "once "}]}, "lastChunk": False}},
        {"artifactUpdate": {"taskId": "task-up", "contextId": "ctx-up", "artifact": {"artifactId": "s1", "name": "story", "parts": [{"text": "upon a time"}]}, "append": True, "lastChunk": True}},
        {"statusUpdate": {"taskId": "task-up", "contextId": "ctx-up", "status": {"state": "TASK_STATE_COMPLETED"}}},
    ]
    return 200, "text/event-stream", {}, sse(*({"jsonrpc": "2.0", "id": msg["id"], "result": i} for i in items))


async def a2a_calls(base):
    async with httpx.AsyncClient() as h:
        card = await A2ACardResolver(h, base_url=base).get_agent_card()
        blocking = ClientFactory(ClientConfig(httpx_client=h, streaming=False)).create(card)
        streaming = ClientFactory(ClientConfig(httpx_client=h, streaming=True)).create(card)
        req = lambda t: pb.SendMessageRequest(message=pb.Message(message_id=str(uuid.uuid4()), role=pb.ROLE_USER, parts=[pb.Part(text=t)]))
        sent = [e async for e in blocking.send_message(req("find flights"))]
        streamed = [e async for e in streaming.send_message(req("tell a story"))]
        art = sent[0].task.artifacts[0].parts[0].text
        chunks = [e.artifact_update.artifact.parts[0].text for e in streamed if e.HasField("artifact_update")]
        return art, chunks, streamed[-1].status_update.status.state


def test_a2a_record_then_replay(start_aimock, tmp_path):
    up = Fake(fake_a2a)
    try:
        file = tmp_path / "a2a.json"
        rec = start_aimock(tmp_path / "c", "--upstream-a2a", up.url + "/agent", "--a2a", str(file), command="record")
        first = asyncio.run(a2a_calls(rec.url + "/a2a"))
        assert first == ("upstream says: find flights", ["once ", "upon a time"], pb.TASK_STATE_COMPLETED)
        doc = wait_for(file, lambda d: d.get("agents") and d["agents"][0].get("streamingTasks"))
        agent = doc["agents"][0]
        assert agent["tasks"][0]["pattern"] == "find flights"
        assert [e["type"] for e in agent["streamingTasks"][0]["events"]] == ["artifact", "artifact", "status"]
        rec.stop()
    finally:
        up.stop()
    replay = start_aimock(tmp_path / "c", "--a2a", str(file))
    assert asyncio.run(a2a_calls(replay.url + "/a2a")) == first


# --- AG-UI -----------------------------------------------------------------------

def fake_agui(path, headers, body):
    inp = json.loads(body)
    t, r = inp["threadId"], inp["runId"]
    return 200, "text/event-stream", {}, sse(
        {"type": "RUN_STARTED", "threadId": t, "runId": r, "timestamp": 1},
        {"type": "TEXT_MESSAGE_START", "messageId": "m-up", "role": "assistant"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m-up", "delta": "from the real agent"},
        {"type": "TEXT_MESSAGE_END", "messageId": "m-up"},
        {"type": "RUN_FINISHED", "threadId": t, "runId": r},
    )


def agui_run(url, run_id):
    inp = RunAgentInput(thread_id="th", run_id=run_id, state={}, messages=[UserMessage(id="u", role="user", content="hi agent")],
                        tools=[], context=[], forwarded_props={})
    adapter = TypeAdapter(Event)
    with httpx.Client(timeout=10) as c:
        with connect_sse(c, "POST", url, json=inp.model_dump(by_alias=True, exclude_none=True)) as es:
            return [adapter.validate_json(s.data) for s in es.iter_sse()]


def test_agui_record_then_replay(start_aimock, tmp_path):
    up = Fake(fake_agui)
    try:
        file = tmp_path / "agui.json"
        rec = start_aimock(tmp_path / "c", "--upstream-agui", up.url + "/agent", "--agui", str(file), command="record")
        first = agui_run(rec.url + "/agui", "run-1")
        assert first[2].delta == "from the real agent" and first[0].run_id == "run-1"
        doc = wait_for(file, lambda d: d.get("fixtures"))
        assert doc["fixtures"][0]["match"] == {"message": "hi agent"}
        assert doc["fixtures"][0]["events"][0]["runId"] == "{{runId}}"
        rec.stop()
    finally:
        up.stop()
    replay = start_aimock(tmp_path / "c", "--agui", str(file))
    again = agui_run(replay.url + "/agui", "run-2")
    assert [e.type for e in again] == [e.type for e in first]
    assert again[2].delta == "from the real agent"
    assert (again[0].thread_id, again[0].run_id) == ("th", "run-2")
