"""Access control through the official SDKs: with `--api-key` set, the right key works
and a wrong or missing one raises the SDK's own AuthenticationError; the key can also
come from AIMOCK_API_KEYS or the config file's `auth.apiKeys`; probes stay open; on
0.0.0.0 the control API is off without a token and needs it with one."""

import json
import os
import subprocess

import anthropic
import openai
import pytest
from conftest import Server, binary, raw_request, write_cassette

KEY = "sk-test-not-a-real-key"
WRONG = "sk-test-not-a-real-key-wrong"
TOKEN = "ctl-test-not-a-real-token"

FIXTURES = [{"match": {"userMessage": "hello"}, "response": {"content": "Hello through the gateway"}}]


def openai_chat(base, key):
    c = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)
    r = c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
    return r.choices[0].message.content


def anthropic_message(base, key):
    c = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)
    r = c.messages.create(model="claude-sonnet-4", max_tokens=50, messages=[{"role": "user", "content": "hello"}])
    return r.content[0].text


@pytest.fixture
def gateway(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "a.json", FIXTURES)
    return start_aimock(cassette_dir, "--api-key", KEY, "--api-key", "pc-test-not-a-real-key")


def test_the_right_key_works_through_both_sdks(gateway):
    assert openai_chat(gateway.url, KEY) == "Hello through the gateway"
    assert anthropic_message(gateway.url, "pc-test-not-a-real-key") == "Hello through the gateway"


def test_a_wrong_key_raises_each_sdks_authentication_error(gateway):
    with pytest.raises(openai.AuthenticationError) as e:
        openai_chat(gateway.url, WRONG)
    assert e.value.status_code == 401
    assert e.value.body["code"] == "invalid_api_key"
    with pytest.raises(anthropic.AuthenticationError) as e:
        anthropic_message(gateway.url, WRONG)
    assert e.value.body["error"]["type"] == "authentication_error"
    # The key is never logged.
    assert WRONG not in gateway.log and KEY not in gateway.log


def test_probes_stay_open_and_a_refusal_says_how_to_authenticate(gateway):
    assert raw_request("GET", f"{gateway.url}/health").status_code == 200
    assert raw_request("GET", f"{gateway.url}/ready").status_code == 200
    r = raw_request("POST", f"{gateway.url}/v1/chat/completions", b"{}", {"content-type": "application/json"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="aimock"'


def test_keys_from_the_environment_and_the_config_file(tmp_path, cassette_dir):
    write_cassette(cassette_dir, "a.json", FIXTURES)
    env = dict(os.environ, AIMOCK_API_KEYS=f"other-test-key,{KEY}")
    # Server() takes no environment: the binary is started directly, as Server does.
    proc = subprocess.Popen(
        [binary(), "replay", "--port", "0", "--cassettes", str(cassette_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        line = proc.stdout.readline()
        url = line.strip().removeprefix("aimock listening on ")
        assert openai_chat(url, KEY) == "Hello through the gateway"
        with pytest.raises(openai.AuthenticationError):
            openai_chat(url, WRONG)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    cfg = tmp_path / "aimock.json"
    cfg.write_text(json.dumps({"auth": {"apiKeys": [KEY]}, "llm": {"fixtures": str(cassette_dir)}}))
    s = Server(["replay", "--port", "0", "--config", str(cfg)])
    try:
        assert "not served" not in s.log
        assert anthropic_message(s.url, KEY) == "Hello through the gateway"
        with pytest.raises(anthropic.AuthenticationError):
            anthropic_message(s.url, WRONG)
    finally:
        s.stop()


def test_on_0_0_0_0_the_control_api_is_off_without_a_token_and_guarded_with_one(cassette_dir):
    write_cassette(cassette_dir, "a.json", FIXTURES)
    for token in (None, TOKEN):
        args = ["replay", "--host", "0.0.0.0", "--port", "0", "--cassettes", str(cassette_dir)]
        if token:
            args += ["--control-token", token]
        s = Server(args)
        try:
            port = s.url.rsplit(":", 1)[1]
            base = f"http://127.0.0.1:{port}"
            r = raw_request("GET", f"{base}/__aimock/journal")
            if token is None:
                assert r.status_code == 403
                assert "--control-token" in r.json()["error"]["message"]
            else:
                assert r.status_code == 401
                ok = raw_request("GET", f"{base}/__aimock/journal", headers={"authorization": f"Bearer {TOKEN}"})
                assert ok.status_code == 200
            # Provider routes are not the control API: open while no API key is set.
            assert openai_chat(base, "anything") == "Hello through the gateway"
        finally:
            s.stop()
