"""What every part of the benchmark shares: a keep-alive HTTP client that times the first
SSE event, the server processes (pinned to the server core), and wrk runs. Standard
library only."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

SERVER_CORE = "0"
CLIENT_CORE = 1


# ----------------------------------------------------------------------------- http


class Conn:
    """A minimal keep-alive HTTP/1.1 client that also notes when the first SSE event
    (the first blank line of the body) arrived. http.client cannot tell that."""

    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        self.buf += chunk

    def _take_until(self, sep: bytes) -> bytes:
        while (k := self.buf.find(sep)) < 0:
            self._fill()
        out, self.buf = self.buf[:k], self.buf[k + len(sep) :]
        return out

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def request(self, method: str, path: str, body: str = "", headers=None):
        """Returns (status, body, seconds to first event or None, seconds to the end)."""
        if self.sock is None:
            self._connect()
        data = body.encode("latin-1") if isinstance(body, str) else body
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(data)}\r\n"
        if not any(k.lower() == "content-type" for k in (headers or {})):
            head += "Content-Type: application/json\r\n"
        for k, v in (headers or {}).items():
            head += f"{k}: {v}\r\n"
        start = time.perf_counter()
        self.sock.sendall(head.encode() + b"\r\n" + data)
        status_line, *lines = self._take_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        self.last_headers = [(k.strip().lower(), v.strip()) for k, _, v in (l.partition(":") for l in lines)]
        hdrs = dict(self.last_headers)
        first = None
        out = b""
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self._take_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._take_until(b"\r\n")
                    break
                out += self._take(size)
                self._take(2)
                if first is None and b"\n\n" in out:
                    first = time.perf_counter() - start
        else:
            out = self._take(int(hdrs.get("content-length", "0")))
            if b"\n\n" in out:
                first = time.perf_counter() - start
        end = time.perf_counter() - start
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return status, out, first, end


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


# ----------------------------------------------------------------------------- servers


class Server:
    def __init__(self, name: str, argv: list[str], port: int | None, log: Path):
        self.name = name
        self.log = open(log, "w")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *argv],
            stdout=subprocess.PIPE if port is None else self.log,
            stderr=self.log,
            text=True,
        )
        if port is None:
            # Servers that pick their own port print `... http://127.0.0.1:PORT`.
            line = self.proc.stdout.readline()
            if "http://" not in line:
                raise RuntimeError(f"{name}: no address line (see {log})")
            port = int(line.rsplit(":", 1)[1].strip().strip("/"))
        self.port = port
        self.ready_after = self.wait_healthy()

    def wait_healthy(self, limit: float = 60.0) -> float:
        """Seconds from spawn to the first 200 from /health."""
        while not health_ok(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited (see {self.log.name})")
            if time.perf_counter() - self.started > limit:
                raise RuntimeError(f"{self.name} not healthy after {limit}s")
        return time.perf_counter() - self.started

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def start_ours(aimock: Path, cassettes: Path, work: Path, tag: str, watch=False, extra=()):
    port = free_port()
    argv = [str(aimock), "replay", "--cassettes", str(cassettes), "--port", str(port)]
    argv += ["--log-level", "warn"] + ([] if watch else ["--no-watch"]) + list(extra)
    return Server(f"aimock {tag}", argv, port, work / f"aimock-{tag}.log")


def start_reference(llmock: Path, cassettes: Path, work: Path, tag: str, watch=False):
    port = free_port()
    argv = [str(llmock), "--fixtures", str(cassettes), "--port", str(port)]
    argv += ["--log-level", "warn"] + (["--watch"] if watch else [])
    return Server(f"reference {tag}", argv, port, work / f"reference-{tag}.log")


# ----------------------------------------------------------------------------- load


WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nBENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d,"non2xx":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def lua_string(s: str | bytes) -> str:
    """`s` as a quoted Lua string, byte for byte: a long bracket string would turn the
    CRLFs of a multipart body into LFs."""
    data = s.encode("latin-1") if isinstance(s, str) else s
    out = []
    for b in data:
        c = chr(b)
        out.append(c if 32 <= b < 127 and c not in '"\\' else f"\\{b:03d}")
    return '"' + "".join(out) + '"'


def wrk_script(path: Path, url_path: str, headers: dict, body: str | bytes, method: str = "POST") -> Path:
    lua = f"wrk.method = {lua_string(method)}\n"
    lua += f"wrk.path = {lua_string(url_path)}\n"
    lua += f"wrk.body = {lua_string(body)}\n"
    if not any(k.lower() == "content-type" for k in headers):
        lua += 'wrk.headers["Content-Type"] = "application/json"\n'
    for k, v in headers.items():
        lua += f"wrk.headers[{lua_string(k)}] = {lua_string(v)}\n"
    path.write_text(lua + WRK_DONE)
    return path


def wrk(port: int, script: Path, conns: int, seconds: int, tolerate_errors: bool = False) -> dict:
    """One wrk run. Errors fail the run, except where `tolerate_errors` (the reference,
    whose p99 with 10,000 fixtures nears wrk's 2 s timeout): they are kept in the figure."""
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "-s", str(script)]
    argv.append(f"http://127.0.0.1:{port}")
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("BENCH "))
    r = json.loads(line[len("BENCH ") :])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    if (r["errors"] or r["non2xx"]) and not tolerate_errors:
        raise RuntimeError(f"wrk saw errors on port {port}: {r}")
    return r


def fetch(port: int, url_path: str, headers: dict, body: str | bytes, method: str = "POST") -> tuple[list, bytes]:
    """The reply's headers (lower-cased names, in order) and body."""
    c = Conn(port)
    status, out, _, _ = c.request(method, url_path, body, headers)
    c.close()
    if status != 200:
        raise RuntimeError(f"{method} {url_path} on {port}: {status} {out[:300]!r}")
    return c.last_headers, out
