#!/usr/bin/env python3
"""Soak and load: a release aimock in record mode under mixed traffic for N minutes.

Lanes, c=256 in all: JSON replay (wrk, 112 connections), SSE stream replay (wrk, 64),
misses answered 404 (wrk, 48: Anthropic requests no cassette matches and no upstream
serves), recordings through a fake upstream (`examples/fake_upstream.rs`, 16 Python
connections, each a new prompt once a second), and cassette edits (a file rewritten
every 2 s, hot-reloaded, and asked for after each edit). Every 10 s it prints each
lane's requests per second and p99, aimock's RSS and open descriptors
(/proc/PID/status, /proc/PID/fd). Before the soak, 10,000 connections (half idle, half
trickling a request head one byte a second: slowloris) are held open for 20 s while a
well-behaved client asks one request after another; its p99 is reported.

Exits non-zero on any error (an unexpected status, a socket error or timeout in wrk, a
failed recording or edit check, an ERROR line in aimock's log), on RSS growth over 10%
after warm-up, or on descriptor growth after warm-up. Standard library and wrk only.

Usage: soak.py --aimock BIN --upstream BIN [--minutes 10] [--connections 256]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "golden" / "openai"
WINDOW = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chat(user: str, stream: bool = False) -> str:
    return json.dumps({"model": "gpt-4o", "stream": stream,
                       "messages": [{"role": "user", "content": user}]})


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_ready(port: int, timeout: float = 30) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("aimock did not become ready")


def post(conn: http.client.HTTPConnection, path: str, body: str, headers=None):
    h = {"content-type": "application/json"}
    h.update(headers or {})
    conn.request("POST", path, body=body, headers=h)
    r = conn.getresponse()
    return r.status, r.read()


# ------------------------------------------------------------------ 10,000 connections


def hold_connections(port: int, n: int, seconds: float) -> dict:
    """Open n connections (half idle, half slowloris), keep them for `seconds` while a
    good client asks; return the good client's figures."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 512:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1024), hard))
    socks, slow = [], []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        socks.append(s)
        if i % 2 == 0:
            s.send(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(s)
    stop = threading.Event()

    def trickle():
        while not stop.wait(1.0):
            for s in slow:
                try:
                    s.send(b"a")
                except OSError:
                    pass

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    lat, errors = [], 0
    end = time.time() + seconds
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while time.time() < end:
        t0 = time.perf_counter()
        try:
            status, _ = post(conn, "/v1/chat/completions", chat("soak-json"))
            errors += status != 200
        except OSError:
            errors += 1
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        lat.append(time.perf_counter() - t0)
    stop.set()
    t.join()
    for s in socks:
        s.close()
    lat.sort()
    return {"connections": n, "requests": len(lat), "errors": errors,
            "p50_ms": round(lat[len(lat) // 2] * 1000, 2),
            "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 2),
            "max_ms": round(lat[-1] * 1000, 2)}


# ------------------------------------------------------------------------------ wrk

UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk_script(path: Path, url_path: str, body: str, headers: dict) -> Path:
    lines = ['wrk.method = "POST"', f"wrk.path = {json.dumps(url_path)}",
             f"wrk.body = {json.dumps(body)}"]
    for k, v in headers.items():
        lines.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(port: int, script: Path, conns: int, seconds: int) -> subprocess.Popen:
    threads = max(1, min(2, conns))
    return subprocess.Popen(
        ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "--latency",
         "-s", str(script), f"http://127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def parse_wrk(out: str) -> dict:
    m = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"requests": int(m.group(1)) if m else 0,
            "rps": float(rps.group(1)) if rps else 0.0,
            "p99_ms": float(p99.group(1)) * UNIT[p99.group(2)] if p99 else None,
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0}


# -------------------------------------------------------------- recordings and edits


class Lane(threading.Thread):
    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.stop, self.ok, self.errors, self.lat = fn, threading.Event(), 0, [], []
        self.lock = threading.Lock()

    def run(self):
        self.fn(self)

    def take(self):
        with self.lock:
            out = (self.ok, list(self.errors), sorted(self.lat))
            self.ok, self.errors, self.lat = 0, [], []
        return out


def recorder(port: int, index: int):
    def run(lane: Lane):
        n = 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not lane.stop.wait(1.0):
            n += 1
            t0 = time.perf_counter()
            try:
                status, body = post(conn, "/v1/chat/completions", chat(f"soak-rec-{index}-{n}"))
                good = status == 200 and b"choices" in body
            except OSError as e:
                good, status = False, str(e)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            with lane.lock:
                lane.lat.append(time.perf_counter() - t0)
                if good:
                    lane.ok += 1
                else:
                    lane.errors.append(f"recording {n}: {status}")
    return run


def editor(port: int, cassettes: Path):
    target = cassettes / "edited.json"

    def write(v: int):
        tmp = cassettes / ".edited.json.tmp"
        tmp.write_text(json.dumps({"fixtures": [
            {"match": {"userMessage": "soak-edit"}, "response": {"content": f"version {v}"}}]}))
        os.replace(tmp, target)

    def run(lane: Lane):
        v = 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not lane.stop.wait(2.0):
            v += 1
            write(v)
            # The edit is seen within a few seconds; until then the previous version
            # answers. Either way the answer is a 200 with some version.
            try:
                status, body = post(conn, "/v1/chat/completions", chat("soak-edit"))
                good = status == 200 and b"version" in body
            except OSError as e:
                good, status = False, str(e)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            with lane.lock:
                if good:
                    lane.ok += 1
                else:
                    lane.errors.append(f"edit {v}: {status}")
    write(0)
    return run


# ----------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--aimock", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--connections", type=int, default=256)
    ap.add_argument("--idle", type=int, default=10000, help="idle/slowloris connections (0: skip)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found (apt-get install wrk)")

    work = Path(tempfile.mkdtemp(prefix="aimock-soak-"))
    cassettes = work / "cassettes"
    cassettes.mkdir()
    (cassettes / "replay.json").write_text(json.dumps({"fixtures": [
        {"match": {"userMessage": "soak-json"}, "response": {"content": "hello from the soak"}},
        {"match": {"userMessage": "soak-stream"},
         "response": {"content": "a streamed answer of a few words, sliced into chunks"}}]}))
    up = subprocess.Popen([args.upstream, str(GOLDEN / "chat-json-text.json"),
                           str(GOLDEN / "chat-stream-text-include-usage.sse"), "1"],
                          stdout=subprocess.PIPE, text=True)
    up_url = up.stdout.readline().strip().split()[-1]
    port = free_port()
    log = open(work / "aimock.log", "w")
    server = subprocess.Popen(
        [args.aimock, "record", "-f", str(cassettes), "-p", str(port),
         "--provider-openai", up_url, "--max-connections", str(max(args.idle + 4096, 10000)),
         "--log-level", "warn"],
        stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
        if resource.getrlimit(resource.RLIMIT_NOFILE)[1] >= 65536 else None)
    failures: list[str] = []
    try:
        wait_ready(port)
        print(f"aimock pid {server.pid} on :{port}, upstream {up_url}, work dir {work}", flush=True)
        if args.idle:
            held = hold_connections(port, args.idle, 20)
            print(f"idle/slowloris: {json.dumps(held)}", flush=True)
            if held["errors"]:
                failures.append(f"{held['errors']} errors beside {args.idle} idle/slow connections")
            time.sleep(2)

        c = args.connections
        lanes_c = {"json": c * 7 // 16, "stream": c // 4, "miss": c * 3 // 16}
        rec_c = c - sum(lanes_c.values())
        scripts = {
            "json": wrk_script(work / "json.lua", "/v1/chat/completions", chat("soak-json"),
                               {"Content-Type": "application/json"}),
            "stream": wrk_script(work / "stream.lua", "/v1/chat/completions",
                                 chat("soak-stream", True), {"Content-Type": "application/json"}),
            "miss": wrk_script(work / "miss.lua", "/v1/messages",
                               json.dumps({"model": "claude-x", "max_tokens": 5,
                                           "messages": [{"role": "user", "content": "no such fixture"}]}),
                               {"Content-Type": "application/json", "x-api-key": "sk-test-not-a-real-key"}),
        }
        rec_lanes = [Lane(recorder(port, i)) for i in range(max(1, rec_c - 1))]
        edit_lane = Lane(editor(port, cassettes))
        for lane in rec_lanes + [edit_lane]:
            lane.start()
        windows = max(1, int(args.minutes * 60 // WINDOW))
        warmup = max(1, min(6, windows // 10))
        print(f"soak: {windows} windows of {WINDOW}s at c={c} ({lanes_c}, recordings {len(rec_lanes)}, "
              f"edits 1); warm-up {warmup} windows", flush=True)
        header = f"{'t_s':>5} {'json_rps':>9} {'json_p99':>9} {'strm_rps':>9} {'strm_p99':>9} " \
                 f"{'miss_rps':>9} {'miss_p99':>9} {'rec/s':>6} {'rec_p99':>8} {'rss_MiB':>8} {'fds':>5} errors"
        print(header, flush=True)
        samples = []
        t0 = time.time()
        for w in range(windows):
            procs = {k: run_wrk(port, scripts[k], lanes_c[k], WINDOW) for k in lanes_c}
            res = {k: parse_wrk(p.communicate()[0]) for k, p in procs.items()}
            rec = [lane.take() for lane in rec_lanes]
            edit = edit_lane.take()
            rec_ok = sum(r[0] for r in rec)
            rec_lat = sorted(x for r in rec for x in r[2])
            errs = [e for r in rec for e in r[1]] + edit[1]
            for k in ("json", "stream"):
                if res[k]["non2xx"] or res[k]["socket_errors"]:
                    errs.append(f"{k}: {res[k]['non2xx']} non-2xx, {res[k]['socket_errors']} socket errors")
            if res["miss"]["socket_errors"] or res["miss"]["non2xx"] != res["miss"]["requests"]:
                errs.append(f"miss: {res['miss']['requests'] - res['miss']['non2xx']} not 404, "
                            f"{res['miss']['socket_errors']} socket errors")
            if server.poll() is not None:
                errs.append(f"aimock exited with {server.returncode}")
            # wrk has closed its connections; aimock notices within moments. Sample once
            # the count stops falling (at most 3 s), so a window's figure is aimock's own.
            open_fds, settle = fds(server.pid), time.time() + 3
            while time.time() < settle:
                time.sleep(0.2)
                now_fds = fds(server.pid)
                if now_fds >= open_fds:
                    break
                open_fds = now_fds
            s = {"t": round(time.time() - t0), "rss_kib": rss_kib(server.pid), "fds": open_fds,
                 "res": res, "rec_rps": rec_ok / WINDOW,
                 "rec_p99_ms": round(rec_lat[int(len(rec_lat) * 0.99)] * 1000, 1) if rec_lat else None,
                 "errors": errs}
            samples.append(s)
            failures += errs
            f = lambda v: f"{v:9.2f}" if v is not None else f"{'-':>9}"
            print(f"{s['t']:5d} {res['json']['rps']:9.0f} {f(res['json']['p99_ms'])} "
                  f"{res['stream']['rps']:9.0f} {f(res['stream']['p99_ms'])} "
                  f"{res['miss']['rps']:9.0f} {f(res['miss']['p99_ms'])} {s['rec_rps']:6.1f} "
                  f"{(s['rec_p99_ms'] or 0):8.1f} {s['rss_kib'] / 1024:8.1f} {s['fds']:5d} "
                  f"{'; '.join(errs[:3]) or '0'}", flush=True)
            if server.poll() is not None:
                break
        for lane in rec_lanes + [edit_lane]:
            lane.stop.set()
        base = samples[min(warmup, len(samples)) - 1]
        after = samples[warmup:] or samples[-1:]
        peak_rss = max(x["rss_kib"] for x in after)
        growth = (peak_rss - base["rss_kib"]) / base["rss_kib"]
        if growth > 0.10:
            failures.append(f"RSS grew {growth:.1%} after warm-up ({base['rss_kib']} -> {peak_rss} KiB)")
        # Sampled between windows, once settled; the recording and edit lanes keep a few
        # connections of their own. Growth: the last three windows' floor above the
        # floor of the three windows up to the end of warm-up.
        floor_base = min(x["fds"] for x in samples[max(0, warmup - 3):warmup])
        floor_end = min(x["fds"] for x in samples[-3:])
        if floor_end > floor_base + 4:
            failures.append(f"open descriptors grew {floor_base} -> {floor_end}")
        log.flush()
        bad = [l for l in (work / "aimock.log").read_text().splitlines() if " ERROR " in l]
        if bad:
            failures.append(f"{len(bad)} ERROR lines in aimock's log, first: {bad[0]}")
        total = {k: sum(x["res"][k]["requests"] for x in samples) for k in lanes_c}
        secs = len(samples) * WINDOW
        summary = {
            "seconds": secs, "connections": c,
            "requests": total, "rps": {k: round(v / secs) for k, v in total.items()},
            "recordings": sum(round(x["rec_rps"] * WINDOW) for x in samples),
            "p99_ms_worst": {k: max((x["res"][k]["p99_ms"] or 0) for x in samples) for k in lanes_c},
            "rss_kib": {"after_warmup": base["rss_kib"], "peak": peak_rss, "end": samples[-1]["rss_kib"],
                        "growth": f"{growth:.1%}"},
            "fds": {"floor_after_warmup": floor_base, "floor_at_end": floor_end,
                    "max": max(x["fds"] for x in samples)},
            "errors": len(failures)}
        print("summary: " + json.dumps(summary), flush=True)
    finally:
        server.terminate()
        up.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        up.wait(5)
    if failures:
        print("SOAK FAILED:", *failures[:20], sep="\n  ", file=sys.stderr)
        return 1
    print("soak passed")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
