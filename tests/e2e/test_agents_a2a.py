"""The A2A mock driven by the official `a2a-sdk` (1.x): card resolution, the client
factory, send (message and task answers), stream (spec stream items), get, list and
cancel; the 0.3 method names through the SDK's own 0.3 compat transport; and the
protocol errors for unknown tasks and methods."""

import asyncio
import json
import uuid

import httpx
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.client.errors import A2AClientError
from a2a.types import a2a_pb2 as pb
from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError
from conftest import raw_request

A2A = {
    "agents": [
        {
            "name": "travel-agent",
            "description": "Books trips",
            "version": "2.1.0",
            "skills": [{"id": "book", "name": "Book a trip", "description": "Books flights", "tags": ["travel"]}],
            "messages": [{"pattern": "hello", "parts": [{"text": "Hi, where to?"}]}],
            "tasks": [
                {"pattern": "book", "artifacts": [{"name": "ticket", "parts": [{"text": "PNR 42"}]}]},
                {"pattern": "long job", "artifacts": [], "state": "TASK_STATE_WORKING"},
            ],
            "streamingTasks": [
                {
                    "pattern": "plan",
                    "delayMs": 5,
                    "events": [
                        {"type": "status", "state": "TASK_STATE_WORKING"},
                        {"type": "artifact", "name": "plan", "parts": [{"text": "Day 1: "}], "lastChunk": False},
                        {"type": "artifact", "name": "plan", "parts": [{"text": "museums"}], "append": True, "lastChunk": True},
                    ],
                }
            ],
        }
    ]
}


def start(start_aimock, tmp_path, section=A2A):
    cfg = tmp_path / "aimock.json"
    cfg.write_text(json.dumps({"a2a": section}))
    return start_aimock(tmp_path / "cassettes", "--config", str(cfg))


def message(text):
    return pb.Message(message_id=str(uuid.uuid4()), role=pb.ROLE_USER, parts=[pb.Part(text=text)])


def send_request(text):
    return pb.SendMessageRequest(message=message(text))


async def collect(client, text):
    return [e async for e in client.send_message(send_request(text))]


def test_the_sdk_resolves_the_card_sends_streams_gets_lists_and_cancels(start_aimock, tmp_path):
    s = start(start_aimock, tmp_path)
    base = s.url + "/a2a"

    async def run():
        out = {}
        async with httpx.AsyncClient() as h:
            card = await A2ACardResolver(h, base_url=base).get_agent_card()
            out["card"] = card
            blocking = ClientFactory(ClientConfig(httpx_client=h, streaming=False)).create(card)
            streaming = ClientFactory(ClientConfig(httpx_client=h, streaming=True)).create(card)
            out["hello"] = await collect(blocking, "well hello there")
            out["book"] = await collect(blocking, "please book Paris")
            out["plan"] = await collect(streaming, "plan my week")
            out["stream_msg"] = await collect(streaming, "hello again")
            task_id = out["book"][0].task.id
            out["got"] = await blocking.get_task(pb.GetTaskRequest(id=task_id))
            long_id = (await collect(blocking, "a long job"))[0].task.id
            out["canceled"] = await blocking.cancel_task(pb.CancelTaskRequest(id=long_id))
            try:
                await blocking.cancel_task(pb.CancelTaskRequest(id=task_id))
            except TaskNotCancelableError as e:
                out["cancel_done"] = str(e)
            try:
                await blocking.get_task(pb.GetTaskRequest(id="task-nope"))
            except TaskNotFoundError as e:
                out["missing"] = (type(e).__name__, str(e))
            out["list"] = await blocking.list_tasks(pb.ListTasksRequest(page_size=2))
            try:
                await collect(blocking, "no pattern for this")
            except A2AClientError as e:
                out["nomatch"] = str(e)
        return out

    out = asyncio.run(run())
    card = out["card"]
    assert card.name == "travel-agent" and card.version == "2.1.0"
    assert list(card.default_input_modes) == ["text/plain"] and list(card.default_output_modes) == ["text/plain"]
    assert card.supported_interfaces[0].url == base and card.supported_interfaces[0].protocol_binding == "JSONRPC"
    assert card.capabilities.streaming and card.skills[0].id == "book"

    assert out["hello"][0].message.parts[0].text == "Hi, where to?"
    assert out["hello"][0].message.role == pb.ROLE_AGENT
    book = out["book"][0].task
    assert book.status.state == pb.TASK_STATE_COMPLETED
    assert book.artifacts[0].name == "ticket" and book.artifacts[0].parts[0].text == "PNR 42"
    assert book.artifacts[0].artifact_id

    kinds = [e.WhichOneof("payload") for e in out["plan"]]
    assert kinds[0] == "task" and kinds[-1] == "status_update", kinds
    assert out["plan"][-1].status_update.status.state == pb.TASK_STATE_COMPLETED
    chunks = [e.artifact_update for e in out["plan"] if e.HasField("artifact_update")]
    assert [c.artifact.parts[0].text for c in chunks] == ["Day 1: ", "museums"]
    assert chunks[0].artifact.artifact_id == chunks[1].artifact.artifact_id and chunks[1].append
    assert out["stream_msg"][0].message.parts[0].text == "Hi, where to?"

    got = out["got"]
    assert got.id == book.id and got.status.state == pb.TASK_STATE_COMPLETED
    assert got.history[0].parts[0].text == "please book Paris"
    assert out["canceled"].status.state == pb.TASK_STATE_CANCELED
    assert "cannot be canceled" in out["cancel_done"]
    assert out["missing"][0] == "TaskNotFoundError"
    lst = out["list"]
    assert lst.page_size == 2 and lst.total_size == 3 and lst.next_page_token == "2" and len(lst.tasks) == 2
    assert "No matching pattern" in out["nomatch"]

    health = raw_request("GET", s.url + "/health").json()
    assert health["services"]["a2a"] == {"status": "ok", "agents": 1, "tasks": 3}
    raw_request("POST", s.url + "/__aimock/reset")
    assert raw_request("GET", s.url + "/health").json()["services"]["a2a"]["tasks"] == 0


def test_the_03_names_answer_in_03_shapes_through_the_sdks_compat_transport(start_aimock, tmp_path):
    s = start(start_aimock, tmp_path)
    base = s.url + "/a2a"

    async def run():
        async with httpx.AsyncClient() as h:
            card = await A2ACardResolver(h, base_url=base).get_agent_card()
            # A card naming protocol 0.3 makes the SDK pick its 0.3 transport.
            card.supported_interfaces[0].protocol_version = "0.3.0"
            c = ClientFactory(ClientConfig(httpx_client=h, streaming=False)).create(card)
            sent = await collect(c, "book Rome")
            got = await c.get_task(pb.GetTaskRequest(id=sent[0].task.id))
            streamed = await collect(ClientFactory(ClientConfig(httpx_client=h, streaming=True)).create(card), "plan it")
            return type(c._transport).__name__, sent, got, streamed

    transport, sent, got, streamed = asyncio.run(run())
    assert transport == "CompatJsonRpcTransport"
    assert sent[0].task.artifacts[0].parts[0].text == "PNR 42"
    assert got.status.state == pb.TASK_STATE_COMPLETED
    assert streamed[-1].status_update.status.state == pb.TASK_STATE_COMPLETED
    # And on the wire, the 0.3 shapes themselves.
    r = raw_request("POST", base, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "message/send",
                    "params": {"message": {"kind": "message", "messageId": "m", "role": "user",
                                           "parts": [{"kind": "text", "text": "book it"}]}}}).encode(),
                    {"content-type": "application/json"})
    res = r.json()["result"]
    assert res["kind"] == "task" and res["status"]["state"] == "completed"
    assert res["artifacts"][0]["parts"][0] == {"kind": "text", "text": "PNR 42"}
    assert r.headers["a2a-version"] == "1.0"


def test_protocol_errors_and_test_id_isolation(start_aimock, tmp_path):
    s = start(start_aimock, tmp_path)
    url = s.url + "/a2a"

    def call(body, test_id=None):
        h = {"content-type": "application/json"}
        if test_id:
            h["x-test-id"] = test_id
        return raw_request("POST", url, body if isinstance(body, bytes) else json.dumps(body).encode(), h).json()

    assert call(b"{bad")["error"]["code"] == -32700
    assert call(b"[]")["error"]["code"] == -32600
    assert call({"jsonrpc": "2.0", "id": 1, "method": "Nope", "params": {}})["error"]["code"] == -32601
    assert call({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": 3}})["error"]["code"] == -32602
    assert call({"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "task-x"}})["error"]["code"] == -32001
    assert call({"jsonrpc": "2.0", "id": 1, "method": "CreateTaskPushNotificationConfig", "params": {}})["error"]["code"] == -32003
    sent = call({"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
                 "params": {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "book"}]}}}, "test-a")
    tid = sent["result"]["task"]["id"]
    assert call({"jsonrpc": "2.0", "id": 2, "method": "GetTask", "params": {"id": tid}}, "test-a")["result"]["id"] == tid
    assert call({"jsonrpc": "2.0", "id": 2, "method": "GetTask", "params": {"id": tid}}, "test-b")["error"]["code"] == -32001
    assert raw_request("GET", url + "/.well-known/agent.json").json()["name"] == "travel-agent"
    assert raw_request("GET", url).status_code == 405
