"""`aimock drift` end to end: record through a fake upstream with the official openai
SDK, then run the binary against the fake with the same and with a changed reply."""

import json
import subprocess

import openai
from conftest import FAKE_KEY, binary, golden, wait_for_fixtures


def client(url):
    return openai.OpenAI(base_url=url + "/v1", api_key=FAKE_KEY, max_retries=0)


def drift(cassettes, upstream, *extra):
    r = subprocess.run(
        [binary(), "drift", str(cassettes), "--json", "--provider-openai", upstream, *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env={"OPENAI_API_KEY": FAKE_KEY, "PATH": "/usr/bin:/bin"},
    )
    return r.returncode, json.loads(r.stdout)


def test_a_recording_is_resent_and_a_dropped_field_is_critical(start_aimock, cassette_dir, fake_upstream):
    body = golden("openai/chat-json-text.json")
    fake_upstream.script("/v1/chat/completions", body)
    rec = start_aimock(cassette_dir, "--provider-openai", fake_upstream.url, command="record")
    client(rec.url).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "what's up"}])
    wait_for_fixtures(cassette_dir / "recorded" / "openai.json", 1)
    rec.stop()

    code, report = drift(cassette_dir, fake_upstream.url)
    fx = report["fixtures"][0]
    assert fx["outcome"] == "compared", report
    assert fx["path"] == "/v1/chat/completions"
    # The request went upstream again, with the environment's key and the recorded body.
    method, path, headers, sent = fake_upstream.seen[-1]
    assert headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert json.loads(sent)["messages"] == [{"role": "user", "content": "what's up"}]
    # What our render of this real capture lacks or adds is at most a warning: aimock
    # serves the shape the provider sent.
    assert not [f for f in fx["findings"] if f["level"] == "critical"], fx
    assert code == 0, report

    changed = json.loads(body)
    del changed["choices"][0]["message"]
    fake_upstream.script("/v1/chat/completions", json.dumps(changed).encode())
    code, report = drift(cassette_dir, fake_upstream.url)
    crit = [f for f in report["fixtures"][0]["findings"] if f["level"] == "critical"]
    assert [f["path"] for f in crit] == ["choices[].message"], report
    assert code == 1
