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


# --- Run-time switches (issue 26): prepend, match counts, recording, chaos, OpenAPI ---

from conftest import golden, write_cassette  # noqa: E402


def ask(server, text, **kw):
    return client(server, **kw).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}])


def test_a_prepended_fixture_answers_the_sdk_before_the_cassette_one(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "a.json", [{"match": {"userMessage": "hi"}, "response": {"content": "From the file."}}])
    server = start_aimock(cassette_dir)
    assert ask(server, "hi").choices[0].message.content == "From the file."

    entry = {"match": {"userMessage": "hi"}, "response": {"content": "Prepended."}}
    r = control(server, "POST", "/__aimock/fixtures", {"fixtures": [dict(entry, response={"content": "Appended."})]})
    assert r.json() == {"added": 1}
    assert ask(server, "hi").choices[0].message.content == "From the file."
    r = control(server, "POST", "/__aimock/fixtures/prepend", {"fixtures": [entry]})
    assert r.status_code == 200 and r.json() == {"added": 1}
    assert ask(server, "hi").choices[0].message.content == "Prepended."

    listed = control(server, "GET", "/__aimock/fixtures?include=fixtures").json()["fixtures"]
    assert [(f["source"], f.get("prepended", False)) for f in listed] == [
        ("control", True),
        ("file", False),
        ("control", False),
    ]
    assert listed[1]["file"].endswith("a.json")


def test_match_counts_reset_for_one_test_id_over_http(start_aimock, cassette_dir):
    write_cassette(
        cassette_dir,
        "seq.json",
        [
            {"match": {"userMessage": "s", "sequenceIndex": 0}, "response": {"content": "first"}},
            {"match": {"userMessage": "s", "sequenceIndex": 1}, "response": {"content": "second"}},
        ],
    )
    server = start_aimock(cassette_dir)
    a = {"default_headers": {"X-Test-Id": "a"}}
    assert ask(server, "s", **a).choices[0].message.content == "first"
    assert ask(server, "s", **a).choices[0].message.content == "second"
    r = raw_request("POST", server.url + "/__aimock/reset/match-counts", b"", {"x-test-id": "a"})
    assert r.json() == {"reset": True, "testId": "a"}
    assert ask(server, "s", **a).choices[0].message.content == "first"
    assert len(control(server, "GET", "/__aimock/journal").json()) == 3, "the journal stays"


def test_recording_switched_on_and_off_at_run_time(server, fake_upstream, tmp_path):
    fake_upstream.script("/v1/chat/completions", golden("openai/chat-json-text.json"))
    with pytest.raises(openai.NotFoundError):
        ask(server, "record me")
    rec = tmp_path / "rec"
    r = control(server, "POST", "/__aimock/record", {"providers": {"openai": fake_upstream.url}, "fixturePath": str(rec)})
    assert r.status_code == 200, r.content
    assert r.json()["recording"] is True
    first = ask(server, "record me")
    again = ask(server, "record me")
    assert first.choices[0].message.content == again.choices[0].message.content
    assert len(fake_upstream.seen) == 1, "the second answer is the recording"
    assert control(server, "GET", "/__aimock/record").json()["fixturePath"] == str(rec)

    assert control(server, "DELETE", "/__aimock/record").json() == {"recording": False}
    with pytest.raises(openai.NotFoundError):
        ask(server, "not recorded")
    assert len(fake_upstream.seen) == 1
    import time

    deadline = time.time() + 10
    while not list(rec.rglob("*.json")) and time.time() < deadline:
        time.sleep(0.02)
    assert list(rec.rglob("*.json")), "the recording is on disk"

    bad = control(server, "POST", "/__aimock/record", {"providers": {"openai": "ftp://nope"}})
    assert bad.status_code == 400 and "providers.openai" in bad.json()["error"]["message"]


def test_chaos_set_for_one_test_id_reaches_only_its_sdk_calls(server):
    control(server, "POST", "/__aimock/fixtures", {"fixtures": [{"match": {}, "response": {"content": "fine"}}]})
    r = raw_request(
        "POST", server.url + "/__aimock/chaos", b'{"dropRate": 1}', {"x-test-id": "flaky", "content-type": "application/json"}
    )
    assert r.json() == {"chaos": {"dropRate": 1.0}}
    with pytest.raises(openai.InternalServerError) as e:
        ask(server, "x", default_headers={"X-Test-Id": "flaky"})
    assert e.value.body["code"] == "chaos_drop"
    assert ask(server, "x", default_headers={"X-Test-Id": "steady"}).choices[0].message.content == "fine"

    # A server-wide baseline; the test id's own setting still replaces it.
    control(server, "POST", "/__aimock/chaos", {"malformedRate": 1})
    malformed = raw_request(
        "POST", server.url + "/v1/chat/completions", json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}).encode(),
        {"x-test-id": "steady", "content-type": "application/json"},
    )
    assert malformed.content == b"{malformed json: <<<chaos>>>"
    with pytest.raises(openai.InternalServerError):
        ask(server, "x", default_headers={"X-Test-Id": "flaky"})
    assert control(server, "DELETE", "/__aimock/chaos").json() == {"chaos": {}}
    cleared = raw_request("DELETE", server.url + "/__aimock/chaos", b"", {"x-test-id": "flaky"})
    assert cleared.json() == {"chaos": {}}
    assert ask(server, "x", default_headers={"X-Test-Id": "flaky"}).choices[0].message.content == "fine"

    blank = raw_request("GET", server.url + "/__aimock/chaos", b"", {"x-test-id": " "})
    assert blank.status_code == 400
    assert control(server, "POST", "/__aimock/chaos", {"rateLimitRate": 1}).status_code == 400


def test_live_answers_fit_the_openapi_document(server):
    """The served document's schemas are valid JSON Schema 2020-12, and live answers of
    each read route validate against them (the Rust suite walks every route)."""
    import jsonschema

    doc = control(server, "GET", "/__aimock/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)

    def fits(path, method, status, body):
        schema = doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
        jsonschema.Draft202012Validator({**doc, **schema}).validate(body)

    control(server, "POST", "/__aimock/fixtures", {"fixtures": [{"match": {"userMessage": "hi"}, "response": {"content": "Hi"}}]})
    ask(server, "hi")
    for path in ["/__aimock/journal", "/__aimock/fixtures?include=fixtures", "/__aimock/record", "/__aimock/chaos", "/__aimock/health"]:
        r = control(server, "GET", path)
        assert r.status_code == 200
        fits(path.split("?")[0], "get", 200, r.json())
    r = control(server, "POST", "/__aimock/chaos", {"dropRate": 2})
    assert r.status_code == 400
    fits("/__aimock/chaos", "post", 400, r.json())
    with pytest.raises(jsonschema.ValidationError):
        fits("/__aimock/chaos", "get", 200, {"chaos": {"dropRate": 2}})
