"""The MCP mock driven by the official `mcp` Python SDK over Streamable HTTP:
initialize (version negotiation), tools (list with pagination, call with text,
structured content and isError), resources, templates, prompts with arguments, ping,
session end, and the raw protocol errors a client can hit."""

import asyncio
import json

import mcp_types as types
from mcp_types.version import LATEST_HANDSHAKE_VERSION
from conftest import raw_request
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

MCP = {
    "serverInfo": {"name": "tools", "version": "2.0.0"},
    "instructions": "Use search first.",
    "pageSize": 2,
    "tools": [
        {
            "name": "search",
            "description": "Search the docs",
            "inputSchema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
            "result": "found: the answer",
        },
        {"name": "weather", "result": {"temp": 21, "unit": "C"}},
        {"name": "fail", "result": "the tool broke", "isError": True},
        {"name": "picture", "result": [{"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"}]},
    ],
    "resources": [
        {"uri": "file:///readme.md", "name": "readme", "mimeType": "text/markdown", "text": "# Hello"},
        {"uri": "file:///logo.png", "name": "logo", "mimeType": "image/png", "blob": "iVBORw0KGgo="},
    ],
    "resourceTemplates": [{"uriTemplate": "file:///{path}", "name": "files"}],
    "prompts": [
        {
            "name": "greet",
            "description": "Say hello",
            "arguments": [{"name": "who", "required": True}],
            "result": {"messages": [{"role": "user", "content": {"type": "text", "text": "Hello {{who}}!"}}]},
        }
    ],
}


def start(start_aimock, tmp_path, section=MCP):
    cfg = tmp_path / "aimock.json"
    cfg.write_text(json.dumps({"mcp": section}))
    return start_aimock(tmp_path / "cassettes", "--config", str(cfg))


async def whole_session(url):
    out = {}
    async with streamable_http_client(url) as (r, w):
        async with ClientSession(r, w) as s:
            init = await s.initialize()
            out["version"] = init.protocol_version
            out["server"] = (init.server_info.name, init.server_info.version)
            out["instructions"] = init.instructions
            page1 = await s.list_tools()
            page2 = await s.list_tools(params=types.PaginatedRequestParams(cursor=page1.next_cursor))
            out["tools"] = [t.name for t in page1.tools + page2.tools]
            out["schemas"] = {t.name: t.input_schema for t in page1.tools + page2.tools}
            out["cursor_after_last"] = page2.next_cursor
            out["search"] = await s.call_tool("search", {"query": "x"})
            out["weather"] = await s.call_tool("weather", {})
            out["fail"] = await s.call_tool("fail", {})
            out["picture"] = await s.call_tool("picture", {})
            out["resources"] = [r.uri for r in (await s.list_resources()).resources]
            out["readme"] = await s.read_resource("file:///readme.md")
            out["logo"] = await s.read_resource("file:///logo.png")
            out["templates"] = [t.uri_template for t in (await s.list_resource_templates()).resource_templates]
            out["prompts"] = [p.name for p in (await s.list_prompts()).prompts]
            out["greet"] = await s.get_prompt("greet", {"who": "Ada"})
            await s.send_ping()
            try:
                await s.call_tool("nope", {})
            except MCPError as e:
                out["unknown_tool"] = (e.code, e.message)
            try:
                await s.read_resource("file:///missing")
            except MCPError as e:
                out["unknown_resource"] = e.code
    return out


def test_the_sdk_runs_a_whole_session(start_aimock, tmp_path):
    s = start(start_aimock, tmp_path)
    out = asyncio.run(whole_session(s.url + "/mcp"))
    assert out["version"] == LATEST_HANDSHAKE_VERSION
    assert out["server"] == ("tools", "2.0.0")
    assert out["instructions"] == "Use search first."
    assert out["tools"] == ["search", "weather", "fail", "picture"]
    assert out["cursor_after_last"] is None
    assert out["schemas"]["weather"] == {"type": "object"}
    assert out["schemas"]["search"]["required"] == ["query"]
    assert out["search"].content[0].text == "found: the answer" and not out["search"].is_error
    assert out["weather"].structured_content == {"temp": 21, "unit": "C"}
    assert json.loads(out["weather"].content[0].text) == {"temp": 21, "unit": "C"}
    assert out["fail"].is_error and out["fail"].content[0].text == "the tool broke"
    assert out["picture"].content[0].type == "image" and out["picture"].content[0].mime_type == "image/png"
    assert out["resources"] == ["file:///readme.md", "file:///logo.png"]
    assert out["readme"].contents[0].text == "# Hello"
    assert out["logo"].contents[0].blob == "iVBORw0KGgo="
    assert out["templates"] == ["file:///{path}"]
    assert out["prompts"] == ["greet"]
    assert out["greet"].messages[0].content.text == "Hello Ada!"
    assert out["greet"].description == "Say hello"
    assert out["unknown_tool"][0] == -32602 and "nope" in out["unknown_tool"][1]
    assert out["unknown_resource"] == -32002
    # The session was ended by the client (DELETE) when it closed.
    health = raw_request("GET", s.url + "/health").json()
    assert health["services"]["mcp"] == {"status": "ok", "tools": 4, "resources": 2, "prompts": 1, "sessions": 0}
    journal = raw_request("GET", s.url + "/__aimock/journal?service=mcp").json()
    assert journal and all(e["service"] == "mcp" for e in journal)


def test_the_high_level_client_negotiates_down_from_its_discover_probe(start_aimock, tmp_path):
    s = start(start_aimock, tmp_path)

    async def run():
        async with Client(s.url + "/mcp") as c:
            tools = await c.list_tools()
            result = await c.call_tool("search", {"query": "x"})
            return [t.name for t in tools.tools], result.content[0].text

    names, text = asyncio.run(run())
    assert names[:2] == ["search", "weather"]
    assert text == "found: the answer"


def rpc(url, message, session=None, accept="application/json, text/event-stream", version=None):
    headers = {"content-type": "application/json", "accept": accept}
    if session:
        headers["mcp-session-id"] = session
    if version:
        headers["mcp-protocol-version"] = version
    body = message if isinstance(message, (bytes, str)) else json.dumps(message)
    return raw_request("POST", url, body.encode() if isinstance(body, str) else body, headers)


def initialize(url, version="2025-03-26"):
    r = rpc(url, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    assert r.status_code == 200, r.content
    return r


def test_the_wire_follows_streamable_http(start_aimock, tmp_path):
    s = start(start_aimock, tmp_path, {**MCP, "responseMode": "sse"})
    url = s.url + "/mcp"
    # An older client's version is echoed; an unknown one gets the newest we speak.
    r = initialize(url, "2024-11-05")
    assert r.headers["content-type"] == "text/event-stream"
    assert '"protocolVersion":"2024-11-05"' in r.content.decode()
    r = rpc(url, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "1999-01-01"}},
            accept="application/json")
    assert r.json()["result"]["protocolVersion"] == "2025-11-25"
    sid = r.headers["mcp-session-id"]
    assert "Mcp-Session-Id" in r.headers["access-control-expose-headers"]
    # Notifications get 202 with no body; a batch gets one reply per request.
    n = rpc(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
    assert n.status_code == 202 and n.content == b""
    b = rpc(url, [{"jsonrpc": "2.0", "id": "a", "method": "ping"}, {"jsonrpc": "2.0", "method": "notifications/x"},
                  {"jsonrpc": "2.0", "id": 7, "method": "tools/unknown"}], sid, accept="application/json")
    assert [(x["id"], "result" in x, x.get("error", {}).get("code")) for x in b.json()] == [("a", True, None), (7, False, -32601)]
    # Errors: parse, invalid request, no session, unknown session, bad version, GET, DELETE.
    assert rpc(url, "{nope", sid).status_code == 400
    assert rpc(url, "{nope", sid).json()["error"]["code"] == -32700
    assert rpc(url, "[]", sid).json()["error"]["code"] == -32600
    assert rpc(url, {"jsonrpc": "2.0", "id": 1, "method": "ping"}).status_code == 400
    assert rpc(url, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, "not-a-session").status_code == 404
    assert rpc(url, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, sid, version="2099-01-01").status_code == 400
    assert raw_request("GET", url, headers={"accept": "text/event-stream", "mcp-session-id": sid}).status_code == 405
    assert raw_request("DELETE", url, headers={"mcp-session-id": sid}).status_code == 200
    assert rpc(url, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, sid).status_code == 404
    assert raw_request("DELETE", url, headers={"mcp-session-id": sid}).status_code == 404
    # Reset forgets sessions.
    sid2 = initialize(url).headers["mcp-session-id"]
    assert raw_request("POST", s.url + "/__aimock/reset").status_code == 200
    assert rpc(url, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, sid2).status_code == 404
