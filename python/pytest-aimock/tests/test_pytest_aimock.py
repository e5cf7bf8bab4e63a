"""The pytest-aimock plugin, run the way its users run it: pytest sessions over generated
test files (pytester), against the real aimock binary (``AIMOCK_BIN``, as
``scripts/e2e.sh`` exports it) and the official SDKs pinned in
``tests/e2e/requirements.txt``.

What is proven: one server per session; each test's own test id (sequence fixtures
start again for every test); the SDK environment (every official Python SDK reaches
aimock from its variables alone, through the ``/__test/<id>`` prefix); the
``record`` and ``no_miss`` markers; the control-API helpers; where the binary comes
from. Every socket is on 127.0.0.1; every key is fake.
"""

import http.server
import json
import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from pytest_aimock import AimockError, find_binary, sanitize_test_id

FAKE = "sk-test-not-a-real-key"


def cassette(pytester, fixtures, name="fx.json"):
    d = pytester.path / "cassettes"
    d.mkdir(exist_ok=True)
    (d / name).write_text(json.dumps({"fixtures": fixtures}))
    return d


def ini(pytester, *lines):
    pytester.makeini("[pytest]\naimock_cassettes = cassettes\n" + "".join(line + "\n" for line in lines))


@pytest.fixture(autouse=True)
def _clean_sdk_env(monkeypatch):
    # The inner sessions must start from an environment without real keys or base URLs.
    for k in list(os.environ):
        if k.endswith(("_API_KEY", "_BASE_URL")) or k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "OLLAMA_HOST", "CO_API_URL", "AIMOCK_UPSTREAMS"):
            monkeypatch.delenv(k, raising=False)


def test_one_server_per_session_and_each_test_gets_the_sdk_environment_with_its_test_id(pytester):
    cassette(pytester, [{"match": {"userMessage": "hi"}, "response": {"content": "Hello from the cassette"}}])
    ini(pytester)
    pytester.makepyfile(
        """
        import os, openai, pytest

        URLS = []

        def ask():
            return openai.OpenAI(max_retries=0).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]).choices[0].message.content

        def test_first(aimock, aimock_server):
            URLS.append(aimock_server.url)
            assert aimock.test_id == "test_one_server_per_session_and_each_test_gets_the_sdk_environment_with_its_test_id-py-test_first"
            assert os.environ["OPENAI_BASE_URL"] == aimock_server.url + "/__test/" + aimock.test_id + "/v1"
            assert os.environ["ANTHROPIC_BASE_URL"] == aimock.url
            assert os.environ["OPENAI_API_KEY"] == "sk-test-not-a-real-key"
            assert ask() == "Hello from the cassette"
            [entry] = aimock.journal()
            assert entry["testId"] == aimock.test_id and entry["path"] == "/v1/chat/completions"

        @pytest.mark.aimock
        def test_marked_without_the_fixture(aimock_server):
            URLS.append(aimock_server.url)
            assert "/__test/" in os.environ["OPENAI_BASE_URL"]
            assert ask() == "Hello from the cassette"

        def test_after(aimock_server):
            # One server for the session; the environment was put back after each test.
            assert URLS == [aimock_server.url, aimock_server.url]
            assert "OPENAI_BASE_URL" not in os.environ
        """
    )
    r = pytester.runpytest("-p", "no:cacheprovider")
    r.assert_outcomes(passed=3)


def test_two_tests_hitting_one_sequence_each_get_the_first_reply(pytester):
    cassette(
        pytester,
        [
            {"match": {"userMessage": "next", "sequenceIndex": 0}, "response": {"content": "first"}},
            {"match": {"userMessage": "next", "sequenceIndex": 1}, "response": {"content": "second"}},
        ],
    )
    ini(pytester)
    pytester.makepyfile(
        """
        import openai, pytest

        def ask():
            return openai.OpenAI(max_retries=0).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "next"}]).choices[0].message.content

        def test_a(aimock):
            assert [ask(), ask()] == ["first", "second"]

        def test_b(aimock):
            assert ask() == "first"

        @pytest.mark.parametrize("n", [1, 2])
        def test_param(aimock, n):
            assert ask() == "first"
            assert aimock.test_id.endswith(f"test_param-{n}")
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=4)


def test_every_official_sdk_reaches_aimock_from_its_environment_through_the_prefix(pytester):
    cassette(pytester, [{"match": {"userMessage": "hi"}, "response": {"content": "Hello"}}])
    ini(pytester)
    pytester.makepyfile(
        """
        import os

        def providers(aimock):
            return [(e["provider"], e["path"], e["testId"]) for e in aimock.journal()]

        def test_openai_and_azure(aimock):
            import openai
            msgs = [{"role": "user", "content": "hi"}]
            assert openai.OpenAI().chat.completions.create(model="gpt-4o", messages=msgs).choices[0].message.content == "Hello"
            az = openai.AzureOpenAI()
            assert az.chat.completions.create(model="dep-1", messages=msgs).choices[0].message.content == "Hello"
            assert [p for p, _, _ in providers(aimock)] == ["openai", "azure"]

        def test_anthropic(aimock):
            import anthropic
            r = anthropic.Anthropic().messages.create(model="claude-sonnet-4-5", max_tokens=20,
                                                      messages=[{"role": "user", "content": "hi"}])
            assert r.content[0].text == "Hello"
            assert providers(aimock) == [("anthropic", "/v1/messages", aimock.test_id)]

        def test_gemini(aimock):
            from google import genai
            client = genai.Client()  # kept: a dropped Client closes its connection pool
            r = client.models.generate_content(model="gemini-2.5-flash", contents="hi")
            assert r.text == "Hello"
            [(p, path, tid)] = providers(aimock)
            assert (p, tid) == ("gemini", aimock.test_id) and path.endswith("/models/gemini-2.5-flash:generateContent")

        def test_bedrock(aimock):
            import boto3
            br = boto3.client("bedrock-runtime")
            r = br.converse(modelId="amazon.nova-lite-v1:0", messages=[{"role": "user", "content": [{"text": "hi"}]}])
            assert r["output"]["message"]["content"][0]["text"] == "Hello"
            assert [p for p, _, _ in providers(aimock)] == ["bedrock"]

        def test_cohere(aimock):
            import cohere
            assert os.environ["CO_API_URL"] == aimock.base_url("cohere")
            r = cohere.ClientV2(base_url=aimock.base_url("cohere")).chat(
                model="command-r", messages=[{"role": "user", "content": "hi"}])
            assert r.message.content[0].text == "Hello"
            assert providers(aimock) == [("cohere", "/v2/chat", aimock.test_id)]

        def test_ollama(aimock):
            import ollama
            r = ollama.Client().chat(model="llama3", messages=[{"role": "user", "content": "hi"}])
            assert r.message.content == "Hello"
            assert providers(aimock) == [("ollama", "/api/chat", aimock.test_id)]

        def test_openai_realtime_websocket(aimock):
            import openai
            with openai.OpenAI().realtime.connect(model="gpt-realtime") as conn:
                assert conn.recv().type == "session.created"
                conn.conversation.item.create(item={"type": "message", "role": "user",
                                                    "content": [{"type": "input_text", "text": "hi"}]})
                conn.recv(); conn.recv()
                conn.response.create()
                while True:
                    ev = conn.recv()
                    if ev.type == "response.done":
                        break
            assert ev.response.output[0].content[0].transcript == "Hello"
            [entry] = aimock.journal()
            assert entry["method"] == "WS" and entry["testId"] == aimock.test_id
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=7)


def test_no_miss_fails_a_test_whose_request_matched_no_fixture(pytester):
    cassette(pytester, [{"match": {"userMessage": "known"}, "response": {"content": "ok"}}])
    ini(pytester)
    pytester.makepyfile(
        """
        import openai, pytest

        def ask(text):
            try:
                openai.OpenAI(max_retries=0).chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": text}])
            except openai.NotFoundError:
                pass

        @pytest.mark.aimock(no_miss=True)
        def test_strict_miss(aimock):
            ask("never seen")

        @pytest.mark.aimock(no_miss=True)
        def test_strict_hit(aimock):
            ask("known")

        def test_lenient_miss(aimock):
            ask("never seen")
            assert len(aimock.misses()) == 1
        """
    )
    r = pytester.runpytest("-p", "no:cacheprovider")
    r.assert_outcomes(passed=2, failed=1)
    r.stdout.fnmatch_lines(["*test_strict_miss*", "*1 request(s) of test id*matched no fixture*", "*never seen*"])
    # The command-line switch makes every test strict.
    r = pytester.runpytest("-p", "no:cacheprovider", "--aimock-no-miss")
    r.assert_outcomes(passed=1, failed=2)


class FakeOpenAI:
    """A loopback stand-in for api.openai.com that answers every chat call the same."""

    def __init__(self):
        self.seen = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.seen.append((self.path, dict(self.headers), body))
                reply = json.dumps(
                    {"id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": "gpt-4o",
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "from upstream"}, "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_record_marker_records_through_the_upstream_and_a_later_run_replays_it(pytester, monkeypatch):
    up = FakeOpenAI()
    try:
        cassette(pytester, [{"match": {"userMessage": "cached"}, "response": {"content": "from the cassette"}}])
        ini(pytester, f"aimock_upstreams = openai={up.url}")
        monkeypatch.setenv("OPENAI_API_KEY", FAKE)
        pytester.makepyfile(
            test_rec="""
            import openai, pytest

            def ask(text):
                return openai.OpenAI(max_retries=0).chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": text}]).choices[0].message.content

            @pytest.mark.aimock(record=True)
            def test_records(aimock):
                assert aimock.recording
                assert ask("cached") == "from the cassette"
                assert ask("new question") == "from upstream"

            def test_replays_alongside(aimock):
                assert not aimock.recording
                assert ask("cached") == "from the cassette"
            """
        )
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
        # Only the miss went upstream, without the prefix and without aimock's header.
        assert [(p, h.get("X-Test-Id")) for p, h, _ in up.seen] == [("/v1/chat/completions", None)]
        recorded = pytester.path / "cassettes" / "recorded" / "test_rec-py-test_records" / "openai.json"
        doc = json.loads(recorded.read_text())
        assert [f["response"]["content"] for f in doc["fixtures"]] == ["from upstream"]
    finally:
        up.stop()

    # The upstream is gone: a replay run answers from the recording, with no miss.
    pytester.makepyfile(
        test_rec="""
        import openai, pytest

        @pytest.mark.aimock(no_miss=True)
        def test_replays_the_recording(aimock):
            assert openai.OpenAI(max_retries=0).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "new question"}]).choices[0].message.content == "from upstream"
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_recording_test_without_upstreams_fails_with_what_to_configure(pytester):
    cassette(pytester, [])
    ini(pytester)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.aimock(record=True)
        def test_rec(aimock):
            pass
        """
    )
    r = pytester.runpytest("-p", "no:cacheprovider")
    r.assert_outcomes(errors=1)
    r.stdout.fnmatch_lines(["*needs upstreams*--aimock-upstream*AIMOCK_UPSTREAMS*"])


def test_helpers_add_fixtures_read_the_journal_and_queue_a_typed_error(pytester):
    cassette(pytester, [])
    ini(pytester)
    pytester.makepyfile(
        """
        import openai, pytest

        def ask(text):
            return openai.OpenAI(max_retries=0).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": text}]).choices[0].message.content

        def test_helpers(aimock):
            assert aimock.on_message("weather", "Sunny") == 1
            aimock.add_fixture({"userMessage": "tool please"},
                               {"toolCalls": [{"name": "get_weather", "arguments": '{"city":"Paris"}'}]})
            assert ask("weather?") == "Sunny"
            calls = openai.OpenAI().chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "tool please"}]).choices[0].message.tool_calls
            assert calls[0].function.name == "get_weather"
            entries = aimock.journal()
            assert [e["response"]["fixture"]["file"] for e in entries] == ["<runtime>", "<runtime>"]
            assert aimock.requests()[0]["messages"][0]["content"] == "weather?"

            aimock.queue_error(429, "slow down", type="rate_limit_error", code="rate_limit_exceeded")
            with pytest.raises(openai.RateLimitError) as e:
                ask("weather?")
            assert e.value.status_code == 429
            assert ask("weather?") == "Sunny", "the queued error answers once"
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_chaos_helper_is_scoped_to_the_test(pytester):
    cassette(pytester, [{"match": {"userMessage": "hi"}, "response": {"content": "Hello"}}])
    ini(pytester)
    pytester.makepyfile(
        """
        import openai, pytest

        def ask():
            return openai.OpenAI(max_retries=0).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]).choices[0].message.content

        def test_chaotic(aimock):
            aimock.chaos(drop=1.0)
            with pytest.raises(openai.InternalServerError):
                ask()

        def test_calm_after(aimock):
            assert ask() == "Hello"
        """
    )
    pytester.runpytest("-p", "no:cacheprovider", "-rs").assert_outcomes(passed=2)


def _exe(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_the_binary_comes_from_aimock_bin_then_path_then_cargo_in_a_checkout(tmp_path):
    real = os.environ.get("AIMOCK_BIN") or find_binary(Path.cwd())
    on_path = tmp_path / "bin"
    on_path.mkdir()
    (on_path / "aimock").symlink_to(real)
    assert find_binary(tmp_path, {"AIMOCK_BIN": real, "PATH": str(on_path)}) == real
    assert find_binary(tmp_path, {"PATH": str(on_path)}) == str(on_path / "aimock")
    with pytest.raises(AimockError, match="is not a file"):
        find_binary(tmp_path, {"AIMOCK_BIN": str(tmp_path / "missing")})

    # Inside a checkout with nothing on PATH: `cargo build --bin aimock` (a stub here).
    checkout = tmp_path / "checkout"
    (checkout / "tests" / "e2e").mkdir(parents=True)
    (checkout / "Cargo.toml").write_text('[package]\nname = "aimock"\nversion = "0.1.0"\n')
    tools = tmp_path / "tools"
    tools.mkdir()
    _exe(
        tools / "cargo",
        f"#!{sys.executable}\nimport os, sys\nassert sys.argv[1:] == ['build', '--bin', 'aimock'], sys.argv\n"
        "os.makedirs('target/debug', exist_ok=True)\n"
        f"os.symlink({real!r}, 'target/debug/aimock')\n",
    )
    built = find_binary(checkout / "tests" / "e2e", {"PATH": str(tools)})
    assert built == str(checkout / "target" / "debug" / "aimock")
    with pytest.raises(AimockError, match="set AIMOCK_BIN"):
        find_binary(tmp_path / "bin", {"PATH": str(tools)})


def test_test_ids_are_url_safe_and_bounded():
    assert sanitize_test_id("tests/test_chat.py::test_hi[a b/c]") == "tests-test_chat-py-test_hi-a-b-c"
    long = sanitize_test_id("t.py::test_" + "x" * 300)
    assert len(long) == 120 and long.startswith("t-py-test_xxx")
    assert long != sanitize_test_id("t.py::test_" + "x" * 301)
