"""Benchmark rows for the realtime WebSocket surfaces (see surfaces.py for the row
format), driven by examples/ws_load.rs: OpenAI Realtime and Gemini Live turns, ten per
connection (so a conversation stays short; the connect is not in a turn's latency),
Responses-over-WebSocket turns on a kept connection, and the memory of 1,000 idle
Realtime sessions."""

ANSWER = (
    "Here is a replayed realtime answer of a typical length: a few sentences, so the "
    "reply is cut into several deltas."
)

FIXTURES = [
    {"match": {"userMessage": "hello realtime"}, "response": {"content": ANSWER}},
    {"match": {"userMessage": "hello responses socket"}, "response": {"content": ANSWER}},
    {"match": {"userMessage": "hello live"}, "response": {"content": ANSWER}},
]

ROWS = [
    {
        "name": "OpenAI Realtime turn (WS)",
        "transport": "websocket",
        "config": None,
        "fixtures": FIXTURES,
        "path": "/v1/realtime?model=gpt-realtime",
        "open": [],
        "greeting": 1,
        "turn": [
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello realtime"}]},
            },
            {"type": "response.create"},
        ],
        "until": '"response.done"',
        "turns_per_connection": 10,
        "idle_sessions": 1000,
        "reference": True,
    },
    {
        "name": "Responses over WebSocket",
        "transport": "websocket",
        "config": None,
        "fixtures": FIXTURES,
        "path": "/v1/responses",
        "open": [],
        "greeting": 0,
        "turn": [
            {
                "type": "response.create",
                "model": "gpt-4o",
                "input": [{"role": "user", "content": "hello responses socket"}],
            }
        ],
        "until": '"response.completed"',
        "turns_per_connection": 0,
        "reference": True,
    },
    {
        "name": "Gemini Live turn (WS)",
        "transport": "websocket",
        "config": None,
        "fixtures": FIXTURES,
        "path": "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent",
        "open": [{"setup": {"model": "models/gemini-2.0-flash-live-001"}}],
        "greeting": 1,
        "turn": [
            {"clientContent": {"turns": [{"role": "user", "parts": [{"text": "hello live"}]}], "turnComplete": True}}
        ],
        "until": '"turnComplete"',
        "turns_per_connection": 10,
        "reference": True,
    },
]
