"""Benchmark rows for the agent stack: MCP `tools/call` and A2A `SendMessage`, each one
JSON-RPC POST answered from a config section, measured at c=1 and c=64 against the
reference (which serves both from `aimock --config FILE --port N`).

MCP needs a session: `prepare` initializes one on the server under test (both ours and
the reference hand out `Mcp-Session-Id` on `initialize`), sends
`notifications/initialized` (the reference refuses calls on a session that has not
sent it), and returns the header for every request of the load.
"""

import http.client
import json

MCP_SECTION = {
    "tools": [
        {
            "name": "search",
            "description": "Search the docs",
            "inputSchema": {"type": "object", "properties": {"query": {"type": "string"}}},
            "result": "found: refunds within 30 days",
        }
    ]
}

A2A_SECTION = {
    "agents": [
        {
            "name": "bench-agent",
            "messages": [{"pattern": "hello", "parts": [{"text": "Hi from the bench agent"}]}],
        }
    ]
}

JSON_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def _post(port, body, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/mcp", body=json.dumps(body), headers=headers)
    r = conn.getresponse()
    r.read()
    sid = r.getheader("mcp-session-id")
    conn.close()
    return r.status, sid


def mcp_session(port: int, headers: dict) -> dict:
    """Open an MCP session on the server at `port`; the headers every request carries."""
    status, sid = _post(
        port,
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
        },
        {**JSON_HEADERS, **headers},
    )
    if status != 200 or not sid:
        raise RuntimeError(f"MCP initialize on port {port} answered {status} without a session id")
    status, _ = _post(
        port,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {**JSON_HEADERS, **headers, "mcp-session-id": sid},
    )
    if status not in (200, 202):
        raise RuntimeError(f"MCP notifications/initialized on port {port} answered {status}")
    return {"mcp-session-id": sid}


ROWS = [
    {
        "name": "MCP tools/call",
        "config": {"mcp": MCP_SECTION},
        "fixtures": None,
        "method": "POST",
        "path": "/mcp",
        "headers": JSON_HEADERS,
        "body": json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search", "arguments": {"query": "refunds"}}}
        ),
        "prepare": "surfaces_agents:mcp_session",
        "expect": "found: refunds within 30 days",
        "reference": True,
    },
    {
        "name": "A2A SendMessage",
        "config": {"a2a": A2A_SECTION},
        "fixtures": None,
        "method": "POST",
        "path": "/a2a",
        "headers": {"content-type": "application/json", "a2a-version": "1.0"},
        "body": json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "SendMessage",
                "params": {"message": {"messageId": "m-1", "role": "ROLE_USER", "parts": [{"text": "hello agent"}]}},
            }
        ),
        "prepare": None,
        "expect": "Hi from the bench agent",
        "reference": True,
    },
]
