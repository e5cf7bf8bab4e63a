"""The control API and chaos, as a test suite using the official openai SDK sees them."""

import json

import openai
import pytest
from conftest import FAKE_KEY, raw_request


@pytest.fixture
def server(start_aimock, cassette_dir):
    cassette_dir.mkdir(parents=True, exist_ok=True)
    return start_aimock(cassette_dir)


def client(server, **kw):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=FAKE_KEY, max_retries=0, **kw)


def control(server, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    return raw_request(method, server.url + path, data, {"content-type": "application/json"})


def test_a_fixture_added_at_run_time_is_what_the_sdk_gets(server):
    with pytest.raises(openai.NotFoundError):
        client(server).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])

    r = control(
        server,
        "POST",
        "/__aimock/fixtures",
        {"fixtures": [{"match": {"userMessage": "hi"}, "response": {"content": "Added at run time."}}]},
    )
    assert r.status_code == 200
    assert r.json() == {"added": 1}

    reply = client(server).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "Added at run time."

    journal = control(server, "GET", "/__aimock/journal?status=200").json()
    assert journal[-1]["response"]["fixture"]["file"] == "<runtime>"
    assert journal[-1]["body"]["messages"][0]["content"] == "hi"


def test_a_chaos_drop_raises_the_sdks_internal_server_error(server):
    control(
        server,
        "POST",
        "/__aimock/fixtures",
        {"fixtures": [{"match": {}, "response": {"content": "never seen"}, "chaos": {"dropRate": 1}}]},
    )
    with pytest.raises(openai.InternalServerError) as e:
        client(server).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
    assert e.value.status_code == 500
    assert e.value.body["code"] == "chaos_drop"

    # A request header overrides the fixture's rate.
    ok = client(server, default_headers={"X-AIMock-Chaos-Drop": "0"}).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hello"}]
    )
    assert ok.choices[0].message.content == "never seen"


def test_a_queued_error_reaches_the_sdk_once(server):
    control(server, "POST", "/__aimock/fixtures", {"fixtures": [{"match": {}, "response": {"content": "fine"}}]})
    control(server, "POST", "/__aimock/error", {"status": 429, "body": {"message": "Slow down"}})
    with pytest.raises(openai.RateLimitError):
        client(server).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "a"}])
    reply = client(server).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "b"}])
    assert reply.choices[0].message.content == "fine"
