"""Shared harness for the end-to-end suite: start the real aimock binary on port 0.

Every test gets a fresh server on 127.0.0.1 with an ephemeral port read from the one
line the binary prints at start-up (`aimock listening on http://HOST:PORT`). Nothing
here talks to the internet; SDK clients get plainly fake keys.
"""

import json
import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE_KEY = "sk-test-not-a-real-key"


def binary() -> str:
    path = os.environ.get("AIMOCK_BIN") or str(ROOT / "target" / "debug" / "aimock")
    if not Path(path).exists():
        pytest.exit(f"aimock binary not found at {path}: run `cargo build` first", 2)
    return path


class Server:
    """A running aimock process."""

    def __init__(self, args, cwd=None):
        self.proc = subprocess.Popen(
            [binary(), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("aimock listening on "):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.proc.kill()
            raise RuntimeError(f"aimock did not start: {line!r} {err}")
        self.url = line.strip().removeprefix("aimock listening on ")
        # Drain stderr continuously so a chatty log can never block the server.
        self.log_lines = []
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.log_lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.log_lines)

    def stop(self, timeout=10) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._drain.join(timeout=2)
        return self.proc.returncode


def write_cassette(directory: Path, name: str, fixtures: list) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps({"fixtures": fixtures}, indent=2))
    return path


@pytest.fixture
def start_aimock():
    """Factory: start_aimock(cassettes_path, *extra_args, command="replay") -> Server."""
    servers = []

    def start(cassettes, *extra, command="replay", cwd=None):
        args = [command, "--port", "0", "--log-level", "debug"]
        if cassettes is not None:
            args += ["--cassettes", str(cassettes)]
        args += list(extra)
        s = Server(args, cwd=cwd)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def cassette_dir(tmp_path):
    return tmp_path / "cassettes"


class RawResponse:
    def __init__(self, status, headers, body):
        self.status_code = status
        self.headers = headers
        self.content = body

    def json(self):
        return json.loads(self.content)


def raw_request(method: str, url: str, body: bytes = b"", headers=None, timeout=10) -> RawResponse:
    """A plain HTTP call with the standard library (no SDK in the way)."""
    import http.client
    from urllib.parse import urlparse

    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    path = u.path + (("?" + u.query) if u.query else "")
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    conn.close()
    return RawResponse(r.status, hdrs, data)


class FakeUpstream:
    """A scripted fake provider on 127.0.0.1:0 for record-mode round trips.

    `script(path, body, status=200, content_type=..., chunk=None, delay=0.0)` sets what
    a path answers (the query string is ignored); `seen` lists (method, path, headers,
    body) of every request received.
    """

    def __init__(self):
        import http.server
        import time

        self.scripts = {}
        self.seen = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                path = self.path.split("?")[0]
                s = outer.scripts.get(path)
                if s is None:
                    s = {"status": 404, "content_type": "application/json", "body": b'{"error":{"message":"no script"}}', "chunk": None, "delay": 0.0, "headers": {}}
                self.send_response(s["status"])
                self.send_header("content-type", s["content_type"])
                for k, v in s["headers"].items():
                    self.send_header(k, v)
                data = s["body"]
                if s["chunk"]:
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(data), s["chunk"]):
                        part = data[i : i + s["chunk"]]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                        self.wfile.flush()
                        if s["delay"]:
                            time.sleep(s["delay"])
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                self.wfile.flush()

            do_POST = _serve
            do_GET = _serve

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def script(self, path, body, status=200, content_type="application/json", chunk=None, delay=0.0, headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.scripts[path] = {"status": status, "content_type": content_type, "body": body, "chunk": chunk, "delay": delay, "headers": headers or {}}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


GOLDEN = ROOT / "tests" / "data" / "golden"


def golden(name: str) -> bytes:
    return (GOLDEN / name).read_bytes()


@pytest.fixture
def fake_upstream():
    up = FakeUpstream()
    yield up
    up.stop()


def wait_for_fixtures(path: Path, n: int, timeout=10.0) -> dict:
    """Recordings are written just off the request path: poll (bounded) until `path`
    holds `n` fixtures."""
    import time

    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            doc = json.loads(path.read_text())
            last = doc
            if len(doc.get("fixtures", [])) == n:
                return doc
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"{path} never held {n} fixtures (last: {last})")
