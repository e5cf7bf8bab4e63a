"""`aimock import` end to end: real public vcrpy and Polly.js cassettes
(tests/data/import, provenance in each folder's .meta.json) imported with the binary,
then replayed under --strict through the official OpenAI and Anthropic SDKs, which
must get back what the recording holds."""

import json
import subprocess
from pathlib import Path

import anthropic
import openai
import pytest

from conftest import FAKE_KEY, ROOT, binary

DATA = ROOT / "tests" / "data" / "import"


def run_import(fmt: str, out: Path) -> str:
    done = subprocess.run(
        [binary(), "import", fmt, str(DATA / fmt), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def imported(tmp_path, start_aimock):
    out = tmp_path / "imported"
    summary = run_import("vcrpy", out / "vcrpy") + run_import("har", out / "har")
    assert "skipped 0" in summary, summary
    server = start_aimock(out, "--strict")
    server.cassettes = out
    return server


def test_vcrpy_openai_chat_replays_through_the_sdk(imported):
    client = openai.OpenAI(base_url=imported.url + "/v1", api_key=FAKE_KEY, max_retries=0)
    r = client.chat.completions.create(
        model="gpt-3.5-turbo",
        n=2,
        top_p=0.9,
        user="ddtrace-test",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Who won the world series in 2020?"},
            {"role": "assistant", "content": "The Los Angeles Dodgers won the World Series in 2020."},
            {"role": "user", "content": "Where was it played?"},
        ],
    )
    assert r.choices[0].message.content == (
        "The 2020 World Series was played in Arlington, Texas at Globe Life Field."
    )


def test_vcrpy_error_replays_as_the_sdks_error(imported, start_aimock):
    # The same request as chat_completion.yaml's: served alone, or the first would win.
    alone = start_aimock(imported.cassettes / "vcrpy" / "chat_completion_error.json", "--strict")
    client = openai.OpenAI(base_url=alone.url + "/v1", api_key=FAKE_KEY, max_retries=0)
    recorded = (DATA / "vcrpy" / "chat_completion_error.yaml").read_text()
    assert "invalid_api_key" in recorded
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(
            model="gpt-3.5-turbo",
            n=2,
            top_p=0.9,
            user="ddtrace-test",
            messages=[
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Who won the world series in 2020?"},
                {"role": "assistant", "content": "The Los Angeles Dodgers won the World Series in 2020."},
                {"role": "user", "content": "Where was it played?"},
            ],
        )


def test_vcrpy_gzip_binary_anthropic_reply_replays(imported):
    client = anthropic.Anthropic(base_url=imported.url, api_key=FAKE_KEY, max_retries=0)
    m = client.messages.create(
        model="claude-3-opus-20240229",
        max_tokens=15,
        messages=[{"role": "user", "content": "What does Nietzsche mean by 'God is dead'?"}],
    )
    assert m.content[0].text == 'When Nietzsche famously declared "God is dead" in his'
    assert m.stop_reason == "max_tokens"


def test_vcrpy_anthropic_stream_replays(imported):
    client = anthropic.Anthropic(base_url=imported.url, api_key=FAKE_KEY, max_retries=0)
    with client.messages.stream(
        model="claude-3-opus-20240229",
        max_tokens=15,
        messages=[{"role": "user", "content": [{"type": "text", "text": "Can you explain what Descartes meant by 'I think, therefore I am'?"}]}],
    ) as s:
        text = s.get_final_text()
    assert text.startswith("The")


def test_vcrpy_embeddings_replay(imported):
    recorded = (DATA / "vcrpy" / "embedding.yaml").read_text()
    assert "text-embedding-ada-002" in recorded
    client = openai.OpenAI(base_url=imported.url + "/v1", api_key=FAKE_KEY, max_retries=0)
    cassette = json.loads(next((imported_dir(imported) / "vcrpy").glob("embedding.json")).read_text())
    fx = cassette["fixtures"][0]
    r = client.embeddings.create(model="text-embedding-ada-002", input=fx["match"]["inputText"])
    assert r.data[0].embedding == pytest.approx(fx["response"]["embedding"])
    assert len(r.data[0].embedding) > 100


def test_polly_har_openai_stream_and_anthropic_replay(imported, start_aimock):
    # openai-chat.har asked the same question without streaming: served alone, or its
    # (earlier) answer would win, streamed.
    alone = start_aimock(imported.cassettes / "har" / "openai-streaming-chat.json", "--strict")
    client = openai.OpenAI(base_url=alone.url + "/v1", api_key=FAKE_KEY, max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-3.5-turbo",
        stream=True,
        messages=[{"role": "user", "content": "Tell me a joke about OpenTelemetry"}],
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == (
        "Why did the OpenTelemetry developer go broke? Because they were always "
        "collecting traces but never making any transactions!"
    )
    har = json.loads((DATA / "har" / "anthropic-messages.har").read_text())
    body = json.loads(har["log"]["entries"][0]["request"]["postData"]["text"])
    reply = json.loads(har["log"]["entries"][0]["response"]["content"]["text"])
    # The same question was also recorded streaming (anthropic-messages-streaming.har).
    alone = start_aimock(imported.cassettes / "har" / "anthropic-messages.json", "--strict")
    a = anthropic.Anthropic(base_url=alone.url, api_key=FAKE_KEY, max_retries=0)
    m = a.messages.create(**body)
    assert m.content[0].text == reply["content"][0]["text"]


def imported_dir(server) -> Path:
    return Path(server.cassettes)


def test_mock_llm_rules_replay_through_the_sdk(tmp_path, start_aimock):
    """dwmkerr/mock-llm's documented config: `contains(..., 'hello')` answers any
    message containing hello, and the 401 rule raises the SDK's AuthenticationError."""
    out = tmp_path / "mock-llm"
    summary = run_import("mock-llm", out)
    assert "names no user message" in summary, summary
    server = start_aimock(out / "dwmkerr-customising.json", "--strict")
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=FAKE_KEY, max_retries=0)
    r = client.chat.completions.create(
        model="gpt-4", messages=[{"role": "user", "content": "well hello there"}]
    )
    assert r.choices[0].message.content == "Hi there! How can I help you today?"
    with pytest.raises(openai.AuthenticationError) as e:
        client.chat.completions.create(
            model="gpt-4", messages=[{"role": "user", "content": "error-401"}]
        )
    assert "Incorrect API key provided." in str(e.value)
