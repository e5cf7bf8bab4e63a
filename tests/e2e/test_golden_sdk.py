"""Real captures (tests/data/golden/) replayed through the official SDKs (issue 19's
proof): each capture is served by a fake upstream while aimock records (what the SDK
gets there is the live result), then the recording alone answers the same SDK call
under --strict. The two SDK results must be equal, field for field, except the fields
a replay legitimately regenerates (the same list as tests/it/golden_view.rs:
Bedrock's latencyMs and the SDK's per-call ResponseMetadata, Ollama's created_at and
durations). A stream is compared as what the SDK user ends up with: the SDK's own
final object where it has one (Anthropic's get_final_message), else the chunks
assembled (OpenAI chat deltas per choice, Gemini parts, Bedrock content blocks,
Cohere v2 events, Ollama lines), since a replay re-chunks the text.

One JSON capture and one stream capture per provider (OpenAI, Anthropic, Gemini,
Bedrock, Cohere, Ollama)."""

import json

import anthropic
import boto3
import cohere
import ollama
import openai
import pytest
from botocore.config import Config
from google import genai
from conftest import FAKE_KEY, GOLDEN, wait_for_fixtures

REGENERATED = {"latencyMs", "ResponseMetadata", "created_at", "total_duration", "load_duration",
               "prompt_eval_duration", "eval_duration"}


def without(d, keys=REGENERATED):
    if isinstance(d, dict):
        return {k: without(v, keys) for k, v in d.items() if k not in keys}
    if isinstance(d, list):
        return [without(v, keys) for v in d]
    return d


def meta(name):
    return json.loads((GOLDEN / f"{name}.meta.json").read_text())


def join(acc, delta):
    """Fold an OpenAI chat delta (a dict) into `acc`: strings joined, tool calls by
    index, `index`/`type`/`role`/`id`/`name` replaced."""
    for k, v in delta.items():
        if v is None:
            continue
        cur = acc.get(k)
        if cur is None:
            acc[k] = v if not isinstance(v, list) else [dict(x) if isinstance(x, dict) else x for x in v]
        elif isinstance(v, str) and k not in ("index", "type", "role", "id", "name"):
            acc[k] = cur + v
        elif isinstance(v, dict) and isinstance(cur, dict):
            join(cur, v)
        elif isinstance(v, list) and isinstance(cur, list):
            for e in v:
                i = e.get("index") if isinstance(e, dict) else None
                hit = next((x for x in cur if isinstance(x, dict) and i is not None and x.get("index") == i), None)
                if hit is None:
                    cur.append(e)
                else:
                    join(hit, e)
        else:
            acc[k] = v
    return acc


# --- the SDK calls, each returning what a user of the SDK ends up with -------------


def openai_json(url):
    c = openai.OpenAI(base_url=url + "/v1", api_key=FAKE_KEY, max_retries=0)
    return c.chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "weather?"}]).model_dump()


def openai_stream(url):
    c = openai.OpenAI(base_url=url + "/v1", api_key=FAKE_KEY, max_retries=0)
    top, choices = {}, {}
    for ch in c.chat.completions.create(model="gpt-3.5-turbo", stream=True, stream_options={"include_usage": True}, messages=[{"role": "user", "content": "weather?"}]):
        d = ch.model_dump()
        for k, v in d.items():
            if k != "choices" and v is not None:
                top[k] = v
        for choice in d["choices"]:
            s = choices.setdefault(choice["index"], {"message": {}})
            join(s["message"], choice["delta"] or {})
            for k in ("finish_reason", "logprobs"):
                if choice.get(k) is not None:
                    s[k] = choice[k]
    top["choices"] = choices
    return top


def claude(url):
    return anthropic.Anthropic(base_url=url, api_key=FAKE_KEY, max_retries=0)


def anthropic_json(url):
    return claude(url).messages.create(model="claude-sonnet-4-0", max_tokens=1024, messages=[{"role": "user", "content": "news?"}]).model_dump()


def anthropic_stream(url):
    with claude(url).messages.stream(model="claude-haiku-4-5-20251001", max_tokens=1024, messages=[{"role": "user", "content": "news?"}]) as s:
        return s.get_final_message().model_dump()


def gem(url):
    return genai.Client(api_key=FAKE_KEY, http_options={"base_url": url, "api_version": "v1beta"})


def gemini_json(url):
    client = gem(url)  # held: the SDK closes its HTTP client when the Client is dropped
    d = client.models.generate_content(model="gemini-3-flash-preview", contents="compute").model_dump()
    d.pop("sdk_http_response", None)
    return d


def gemini_stream(url):
    parts, top, cand = [], {}, {}
    client = gem(url)
    for ch in client.models.generate_content_stream(model="gemini-2.5-pro", contents="search"):
        d = ch.model_dump(exclude_none=True)
        for c in d.pop("candidates", []):
            for p in (c.pop("content", None) or {}).get("parts", []):
                prev = parts[-1] if parts else None
                if prev is not None and "text" in prev and "text" in p and prev.get("thought") == p.get("thought"):
                    prev.update({k: v for k, v in p.items() if k != "text"})
                    prev["text"] += p["text"]
                else:
                    parts.append(p)
            cand.update(c)
        d.pop("sdk_http_response", None)
        top.update(d)
    return {"parts": parts, "candidate": cand, **top}


def bedrock(url):
    return boto3.client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=url,
        aws_access_key_id="AKIDTESTNOTREAL", aws_secret_access_key="test-not-a-real-secret",
        config=Config(retries={"total_max_attempts": 1}),
    )


def bedrock_json(url):
    return bedrock(url).converse(modelId="anthropic.claude-3-sonnet-20240229-v1:0", messages=[{"role": "user", "content": [{"text": "weather?"}]}])


def bedrock_stream(url):
    r = bedrock(url).converse_stream(modelId="us.anthropic.claude-sonnet-4-20250514-v1:0", messages=[{"role": "user", "content": [{"text": "think"}]}])
    blocks, top = {}, {}
    for e in r["stream"]:
        (kind, v), = e.items()
        if kind in ("contentBlockStart", "contentBlockDelta"):
            b = blocks.setdefault(v["contentBlockIndex"], {})
            for key, part in (v.get("start") or v.get("delta")).items():
                if isinstance(part, str):
                    b[key] = b.get(key, "") + part
                elif isinstance(part, dict):
                    slot = b.setdefault(key, {})
                    for k, x in part.items():
                        slot[k] = slot.get(k, b"" if isinstance(x, bytes) else "") + x if isinstance(x, (str, bytes)) else x
        elif kind != "contentBlockStop":
            top[kind] = v
    return {"blocks": blocks, **top}


def co(url):
    return cohere.ClientV2(api_key=FAKE_KEY, base_url=url, max_retries=0)


def cohere_json(url):
    return co(url).chat(model="command-r", messages=[{"role": "user", "content": "docs?"}]).dict()


def cohere_stream(url):
    msg = {"content": {}, "tool_calls": {}, "citations": [], "tool_plan": ""}
    out = {"message": msg}
    for e in co(url).chat_stream(model="command-r", messages=[{"role": "user", "content": "tools?"}]):
        d = e.dict()
        m = ((d.get("delta") or {}).get("message")) or {}
        if e.type == "message-start":
            out["id"] = d.get("id")
        elif e.type in ("content-start", "content-delta"):
            join(msg["content"].setdefault(d["index"], {}), m.get("content") or {})
        elif e.type == "tool-plan-delta":
            msg["tool_plan"] += m.get("tool_plan") or ""
        elif e.type in ("tool-call-start", "tool-call-delta"):
            join(msg["tool_calls"].setdefault(d["index"], {}), m.get("tool_calls") or {})
        elif e.type == "citation-start":
            msg["citations"].append(m.get("citations"))
        elif e.type == "message-end":
            out["end"] = d.get("delta")
    return out


def ollama_json(url):
    return ollama.Client(host=url).chat(model="llama3", messages=[{"role": "user", "content": "hi"}]).model_dump()


def ollama_stream(url):
    acc = {}
    for p in ollama.Client(host=url).chat(model="llama3", stream=True, messages=[{"role": "user", "content": "hi"}]):
        d = p.model_dump(exclude_none=True)
        m = d.pop("message", {})
        msg = acc.setdefault("message", {})
        for k, v in m.items():
            msg[k] = msg.get(k, "") + v if k in ("content", "thinking") and isinstance(v, str) else (msg.get(k, []) + v if isinstance(v, list) else v)
        acc.update(d)
    return acc


CASES = [
    ("openai", "openai/chat-json-tool-call.json", openai_json),
    ("openai", "openai/chat-stream-tool-call-args-split.sse", openai_stream),
    ("anthropic", "anthropic/messages-json-web-search.json", anthropic_json),
    ("anthropic", "anthropic/messages-stream-web-search-citations.sse", anthropic_stream),
    ("gemini", "gemini/generate-content-json-code-execution.json", gemini_json),
    ("gemini", "gemini/stream-generate-content-sse-grounding.sse", gemini_stream),
    ("bedrock", "bedrock/converse-json-tool-use.json", bedrock_json),
    ("bedrock", "bedrock/converse-stream-reasoning.eventstream", bedrock_stream),
    ("cohere", "cohere/chat-v2-json-document-citations.json", cohere_json),
    ("cohere", "cohere/chat-v2-stream-tool-call.sse", cohere_stream),
    ("ollama", "ollama/api-chat-json.json", ollama_json),
    ("ollama", "ollama/api-chat-stream.ndjson", ollama_stream),
]


@pytest.mark.parametrize("provider,name,ask", CASES, ids=[c[1] for c in CASES])
def test_a_real_capture_replays_through_the_sdk_as_it_was_recorded(start_aimock, cassette_dir, fake_upstream, provider, name, ask):
    m = meta(name)
    stream = not name.endswith(".json")
    fake_upstream.script(
        m["request"]["path"], (GOLDEN / name).read_bytes(),
        content_type=m["response"].get("content_type", "application/json"), chunk=97 if stream else None,
    )
    rec = start_aimock(cassette_dir, f"--provider-{provider}", fake_upstream.url, command="record")
    live = ask(rec.url)
    wait_for_fixtures(cassette_dir / "recorded" / f"{provider}.json", 1)
    rec.stop()
    assert FAKE_KEY not in (cassette_dir / "recorded" / f"{provider}.json").read_text()
    replay = start_aimock(cassette_dir, "--strict")
    got = ask(replay.url)
    assert without(got) == without(live), name
