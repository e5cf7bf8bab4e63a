"""The AG-UI mock driven by the official JavaScript client, `@ag-ui/client`'s
`HttpAgent` (pinned in tests/e2e/js/package.json, installed by scripts/e2e.sh): the
client's own event verification accepts the stream, it echoes the caller's thread and
run ids, and the run adds the assistant's message to the agent's conversation."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from test_agents_agui import AGUI, start

JS = Path(__file__).resolve().parent / "js"


def run_js(url: str, message: str, thread: str, run: str) -> dict:
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "@ag-ui" / "client").is_dir():
        pytest.fail("node and tests/e2e/js/node_modules are needed: run scripts/e2e.sh, which installs them")
    out = subprocess.run(
        [node, str(JS / "agui_run.mjs"), url, message, thread, run],
        capture_output=True, text=True, timeout=60,
    )
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    assert lines, f"no result from the JS client: {out.stdout!r} {out.stderr!r}"
    return json.loads(lines[-1])


def test_http_agent_runs_a_text_turn_and_keeps_the_reply(start_aimock, tmp_path):
    s = start(start_aimock, tmp_path)
    r = run_js(s.url + "/agui", "hello there", "thread-js", "run-js-1")
    assert r["ok"], r
    types = [e["type"] for e in r["events"]]
    assert types[0] == "RUN_STARTED" and types[-1] == "RUN_FINISHED", types
    assert {"TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END"} <= set(types)
    started = r["events"][0]
    assert (started["threadId"], started["runId"]) == ("thread-js", "run-js-1")
    said = [m for m in r["newMessages"] if m["role"] == "assistant"]
    assert [m["content"] for m in said] == ["Hello from the mock agent!"]
    assert r["messages"][0]["content"] == "hello there" and r["messages"][-1]["content"] == "Hello from the mock agent!"


def test_http_agent_sees_a_miss_as_a_failed_run(start_aimock, tmp_path):
    s = start(start_aimock, tmp_path, {"fixtures": AGUI["fixtures"][-1:]})
    r = run_js(s.url + "/agui", "nothing matches this", "thread-js", "run-js-2")
    assert not r["ok"] and "404" in r["error"], r
