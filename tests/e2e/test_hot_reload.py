"""Hot reload seen through the openai SDK, with the save patterns real editors use."""

import json
import os
import time

import openai
from conftest import FAKE_KEY, write_cassette


def ask(server, text="hello"):
    c = openai.OpenAI(base_url=server.url + "/v1", api_key=FAKE_KEY, max_retries=0)
    try:
        return c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}]).choices[0].message.content
    except openai.NotFoundError:
        return None


def eventually(fn, want, timeout=10.0):
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        got = fn()
        if got == want:
            return
        time.sleep(0.02)
    raise AssertionError(f"wanted {want!r}, last saw {got!r}")


def doc(answer):
    return json.dumps({"fixtures": [{"match": {"userMessage": "hello"}, "response": {"content": answer}}]}, indent=2)


def test_every_editor_save_pattern_is_picked_up(start_aimock, cassette_dir):
    path = write_cassette(cassette_dir, "greet.json", [{"match": {"userMessage": "hello"}, "response": {"content": "v0"}}])
    server = start_aimock(cassette_dir)
    assert ask(server) == "v0"

    # VS Code and most tools: truncate and write in place.
    with open(path, "w") as f:
        f.write(doc("in-place"))
    eventually(lambda: ask(server), "in-place")

    # vim (backupcopy=no): rename the original away, write a new file, delete the backup.
    os.rename(path, str(path) + "~")
    path.write_text(doc("vim"))
    os.remove(str(path) + "~")
    eventually(lambda: ask(server), "vim")

    # JetBrains safe write: temp file, original renamed aside, temp renamed in, old deleted.
    tmp = cassette_dir / "greet.json___jb_tmp___"
    old = cassette_dir / "greet.json___jb_old___"
    tmp.write_text(doc("jetbrains"))
    os.rename(path, old)
    os.rename(tmp, path)
    os.remove(old)
    eventually(lambda: ask(server), "jetbrains")

    # gedit/kate style: hidden temp file renamed over the original.
    hidden = cassette_dir / ".goutputstream-ABC123"
    hidden.write_text(doc("rename-over"))
    os.replace(hidden, path)
    eventually(lambda: ask(server), "rename-over")

    # Delete, then create again.
    os.remove(path)
    eventually(lambda: ask(server), None)
    path.write_text(doc("recreated"))
    eventually(lambda: ask(server), "recreated")


def test_a_broken_save_keeps_serving_the_last_good_version_until_repaired(start_aimock, cassette_dir):
    path = write_cassette(cassette_dir, "greet.json", [{"match": {"userMessage": "hello"}, "response": {"content": "good"}}])
    server = start_aimock(cassette_dir)
    path.write_text('{"fixtures": [ {"match": ')
    # Give the watcher a save it must reject, then make sure it still serves "good".
    deadline = time.time() + 3
    while time.time() < deadline and "greet.json" not in server.log:
        time.sleep(0.02)
    assert ask(server) == "good"
    path.write_text(doc("repaired"))
    eventually(lambda: ask(server), "repaired")
    assert "greet.json:1:" in server.log


def test_copying_a_new_file_in_adds_its_fixtures(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "a.json", [{"match": {"userMessage": "hello"}, "response": {"content": "a"}}])
    server = start_aimock(cassette_dir)
    assert ask(server, "new one") is None
    write_cassette(cassette_dir / "sub", "b.json", [{"match": {"userMessage": "new one"}, "response": {"content": "b"}}])
    eventually(lambda: ask(server, "new one"), "b")
