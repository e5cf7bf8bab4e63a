"""The reference's command lines run unchanged with no subcommand: its `llmock` flags
(`-f DIR -p N --strict`, `--record --provider-openai URL`) and its `aimock --config FILE`
(where a config whose `llm.record` names providers records), driven through the
official openai SDK; a subcommand mixed with those flags is refused."""

import json
import subprocess

import openai
import pytest
from conftest import FAKE_KEY, Server, binary, golden, wait_for_fixtures, write_cassette

HELLO = [{"match": {"userMessage": "hello"}, "response": {"content": "Hi from the reference's command line"}}]


def client(url):
    return openai.OpenAI(base_url=url + "/v1", api_key=FAKE_KEY, max_retries=0)


def ask(url, text):
    return client(url).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}])


@pytest.fixture
def servers():
    started = []
    yield lambda args, cwd=None: started.append(Server(args, cwd=cwd)) or started[-1]
    for s in started:
        s.stop()


def test_llmock_flags_serve_and_strict_misses_are_503(servers, cassette_dir):
    write_cassette(cassette_dir, "a.json", HELLO)
    s = servers(["-f", str(cassette_dir), "-p", "0", "--strict", "--log-level", "silent", "--validate-on-load"])
    assert ask(s.url, "hello").choices[0].message.content == "Hi from the reference's command line"
    with pytest.raises(openai.InternalServerError) as e:
        ask(s.url, "nothing matches")
    assert e.value.status_code == 503


def test_config_file_alone_serves_its_fixtures(servers, tmp_path, cassette_dir):
    write_cassette(cassette_dir, "a.json", HELLO)
    cfg = tmp_path / "aimock.json"
    cfg.write_text(json.dumps({"port": 0, "llm": {"fixtures": str(cassette_dir), "chunkSize": 5}}))
    s = servers(["--config", str(cfg), "--chaos-latency", "5"])
    chunks = [c.choices[0].delta.content for c in client(s.url).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hello"}], stream=True) if c.choices and c.choices[0].delta.content]
    assert "".join(chunks) == "Hi from the reference's command line" and len(chunks[0]) == 5
    assert "--chaos-latency" in s.log  # accepted, said to be ignored


def test_record_flag_and_a_recording_config_both_record(servers, tmp_path, fake_upstream):
    fake_upstream.script("/v1/chat/completions", golden("openai/chat-json-text.json"))
    flags_dir = tmp_path / "flags"
    flags_dir.mkdir()
    s = servers(["-f", str(flags_dir), "-p", "0", "--record", "--provider-openai", fake_upstream.url])
    text = ask(s.url, "what's up").choices[0].message.content
    assert text.startswith("Not much")
    assert wait_for_fixtures(flags_dir / "recorded" / "openai.json", 1)["fixtures"][0]["response"]["content"] == text

    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    cfg = tmp_path / "recording.json"
    cfg.write_text(json.dumps({"port": 0, "llm": {"fixtures": str(cfg_dir), "record": {"providers": {"openai": fake_upstream.url}}}}))
    r = servers(["--config", str(cfg)])
    assert ask(r.url, "and now?").choices[0].message.content == text
    assert wait_for_fixtures(cfg_dir / "recorded" / "openai.json", 1)["fixtures"][0]["match"]["userMessage"] == "and now?"


def test_a_subcommand_with_the_reference_flags_is_refused():
    out = subprocess.run([binary(), "-f", "x", "replay"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2 and "cannot be used with" in out.stderr
