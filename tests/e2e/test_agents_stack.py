"""The whole agent path on one port from examples/agent-stack/aimock.json (kept true by
this test): an OpenAI-SDK model turn asks for a tool, the MCP SDK calls it, the model
answers with the tool result, a2a-sdk delegates to the billing agent, and an AG-UI run
tells the user; /health lists every service."""

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import openai
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types import a2a_pb2 as pb
from ag_ui.core.events import Event
from conftest import FAKE_KEY, raw_request
from httpx_sse import connect_sse
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from pydantic import TypeAdapter

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agent-stack"


def test_the_example_runs_model_mcp_a2a_and_agui_on_one_port(start_aimock):
    s = start_aimock(None, "--config", "aimock.json", cwd=EXAMPLE)
    health = raw_request("GET", s.url + "/health").json()
    assert set(health["services"]) == {"mcp", "a2a", "agui"}

    llm = openai.OpenAI(api_key=FAKE_KEY, base_url=s.url + "/v1")
    ask = [{"role": "user", "content": "I want a refund"}]
    first = llm.chat.completions.create(model="gpt-4o", messages=ask)
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "search_docs"

    async def tool():
        async with streamable_http_client(s.url + "/mcp") as (r, w):
            async with ClientSession(r, w) as session:
                await session.initialize()
                return (await session.call_tool(call.function.name, json.loads(call.function.arguments))).content[0].text

    found = asyncio.run(tool())
    assert "30 days" in found
    second = llm.chat.completions.create(model="gpt-4o", messages=ask + [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": found},
    ])
    assert "R-1001" in second.choices[0].message.content

    async def delegate():
        async with httpx.AsyncClient() as h:
            card = await A2ACardResolver(h, base_url=s.url + "/a2a").get_agent_card()
            c = ClientFactory(ClientConfig(httpx_client=h, streaming=False)).create(card)
            msg = pb.Message(message_id=str(uuid.uuid4()), role=pb.ROLE_USER, parts=[pb.Part(text="issue the refund")])
            return card.name, [e async for e in c.send_message(pb.SendMessageRequest(message=msg))]

    name, sent = asyncio.run(delegate())
    assert name == "billing-agent"
    assert sent[0].task.artifacts[0].parts[0].text == "Refund R-1001 issued."

    adapter = TypeAdapter(Event)
    body = {"threadId": "t1", "runId": "r1", "state": {}, "tools": [], "context": [], "forwardedProps": {},
            "messages": [{"id": "u1", "role": "user", "content": "where is my refund?"}]}
    with httpx.Client() as c:
        with connect_sse(c, "POST", s.url + "/agui", json=body) as es:
            events = [adapter.validate_json(e.data) for e in es.iter_sse()]
    assert events[2].delta == "Your refund R-1001 is on its way."
    assert events[0].run_id == "r1"
