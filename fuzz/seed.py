#!/usr/bin/env python3
"""Write the seed corpora under fuzz/corpus/<target>/ from the golden captures
(tests/data/golden: stream bodies, request bodies and replies from the .meta.json files),
the example cassettes, and a few hand-written multipart, JSON-RPC and realtime inputs.

Run from anywhere: `python3 fuzz/seed.py`. Seeds are named by content hash, so running it
again changes nothing unless an input changed. Each seed is capped at 16 KiB (the fuzz
script's -max_len) so the corpus stays small."""
import hashlib, json, pathlib, re

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden"
OUT = ROOT / "fuzz" / "corpus"
CAP = 16 * 1024
CUTS = [bytes(8), bytes([0, 1, 2, 3, 4, 5, 6, 7]), bytes([63] * 8)]

src = (ROOT / "src" / "fuzzing.rs").read_text()
table = src.split("pub const ROUTES")[1].split("];")[0]
ROUTES = re.findall(r'"(/[^"]*)",\s*"([^"]*)"', table)
types = src.split("pub const REPLY_TYPES")[1].split("];")[0]
REPLY_TYPES = re.findall(r'"([^"]+)"', types)
BOUNDARY = re.search(r'BOUNDARY: &str = "([^"]+)"', src).group(1)


def put(target, data):
    data = data[:CAP]
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def route_index(path):
    paths = [p for p, _ in ROUTES]
    if path in paths:
        return paths.index(path)
    # The same operation under another model or deployment: match on the last segment.
    tail = path.rsplit(":", 1)[-1] if ":" in path else path.rsplit("/", 1)[-1]
    for i, p in enumerate(paths):
        if p.endswith(":" + tail) or p.endswith("/" + tail):
            return i
    return None


for meta in sorted(GOLDEN.rglob("*.meta.json")):
    capture = meta.with_name(meta.name[: -len(".meta.json")])
    body = capture.read_bytes()
    ext = capture.suffix
    if ext == ".sse":
        for c in CUTS:
            put("sse", c + body)
    elif ext == ".ndjson":
        for c in CUTS:
            put("ndjson", c + body)
    elif ext == ".eventstream":
        for c in CUTS:
            put("eventstream", c + body)
    m = json.loads(meta.read_text())
    req = m.get("request") or {}
    i = route_index(req.get("path") or "")
    if i is None:
        continue
    if isinstance(req.get("body"), (dict, list)):
        put("provider_request", bytes([i]) + json.dumps(req["body"]).encode())
    ct = (m.get("response") or {}).get("content_type") or ""
    kind = next((k for k, t in enumerate(REPLY_TYPES) if ct.startswith(t)), 0)
    put("provider_collapse", bytes([i, kind]) + body)

for f in sorted(ROOT.glob("cassettes/*.json")) + sorted(ROOT.glob("examples/*/cassettes/*.json")):
    if f.stat().st_size <= CAP:
        put("cassette", f.read_bytes())


def form(*parts):
    out = b""
    for name, filename, ctype, value in parts:
        out += f"--{BOUNDARY}\r\n".encode()
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename:
            disp += f'; filename="{filename}"'
        out += disp.encode() + b"\r\n"
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


edit = form(("model", None, None, b"gpt-image-1"), ("prompt", None, None, b"a cat"),
            ("image", "cat.png", "image/png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"))
audio = form(("model", None, None, b"whisper-1"), ("response_format", None, None, b"json"),
             ("file", "a.wav", "audio/wav", b"RIFF\x24\0\0\0WAVEfmt "))
video = form(("model", None, None, b"sora-2"), ("prompt", None, None, b"waves"), ("seconds", None, None, b"4"))
for body in (edit, audio, video):
    put("multipart", body)
for path, body in (("/v1/images/edits", edit), ("/v1/audio/transcriptions", audio),
                   ("/v1/audio/translations", audio), ("/v1/videos", video)):
    put("provider_request", bytes([route_index(path)]) + body)

for body in (
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": "a", "method": "tools/call", "params": {"name": "echo", "arguments": {"x": 1}}},
    [{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, {"jsonrpc": "2.0", "id": 2, "result": {}}, 3],
):
    put("jsonrpc", json.dumps(body).encode())


def session(proto, *messages):
    put("realtime", bytes([proto]) + b"\0".join(json.dumps(m).encode() for m in messages))


say = {"type": "conversation.item.create", "item": {"type": "message", "role": "user",
       "content": [{"type": "input_text", "text": "hello"}]}}
for proto in (0, 1):
    session(proto, {"type": "session.update", "session": {"type": "realtime", "instructions": "be brief",
            "tools": [{"type": "function", "name": "f", "parameters": {}}]}},
            say, {"type": "response.create"}, say, {"type": "response.create"}, {"type": "response.cancel"},
            {"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": "c1", "output": "{}"}},
            {"type": "response.create", "response": {"modalities": ["text"]}})
session(2, {"type": "response.create", "model": "gpt-4.1", "input": "hello"},
        {"type": "response.create", "model": "gpt-4.1", "previous_response_id": "resp_1",
         "input": [{"type": "function_call_output", "call_id": "c1", "output": "{}"}]})
session(3, {"setup": {"model": "models/gemini-2.0-flash", "tools": [{"functionDeclarations": [{"name": "f"}]}]}},
        {"realtimeInput": {"text": "hello"}},
        {"clientContent": {"turns": [{"role": "user", "parts": [{"text": "hi"}]}], "turnComplete": True}},
        {"toolResponse": {"functionResponses": [{"id": "c1", "name": "f", "response": {"ok": 1}}]}})
print({d.name: len(list(d.iterdir())) for d in sorted(OUT.iterdir())})
