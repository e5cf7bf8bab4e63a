"""The surface rows: one HTTP request per row (media, the agent stack, RAG services),
measured at concurrency 1 and 64 on aimock and on the reference in the same run.

Rows live beside this file in `surfaces_<area>.py` modules, each exporting `ROWS`, a list
of dicts:

    name        row label
    config      a config file's contents (dict, or a function returning one, called once
                when the row runs: a large generated config costs nothing until then)
                passed as --config to both servers, or None
    fixtures    LLM-style fixtures for a cassette both servers load, or None
    method, path, headers, body   the request (body: str or bytes, sent byte for byte)
    prepare     None, or "module:function" called once per server as f(port, headers)
                and returning extra headers (an MCP session id, say)
    expect      a substring our reply must hold (checked once before the load)
    reference_expect  optional: what the reference's reply must hold instead, where it
                serves the route with less (a canned empty answer): its cost is still
                the route's cost there
    reference   whether the reference serves the route

A WebSocket row (`"transport": "websocket"`) has no method, headers or body; instead
`open` (messages sent on connect), `greeting` (messages to read before the first turn),
`turn` (the messages of one turn), `until` (the marker ending a turn's reply) and
`turns_per_connection` (0: as many as fit). It is driven by examples/ws_load.rs, which
prints the same figures as wrk. With `idle_sessions: N` the row also measures the
memory N open, idle sessions cost each server (VmRSS with them held, minus before).

A row the reference does not serve, or answers with an error, is measured on aimock
alone and says so in the report. Standard library only.
"""

from __future__ import annotations

import importlib
import json
import signal
import statistics
import subprocess
from pathlib import Path

from harness import Conn, Server, free_port, wrk, wrk_script

HERE = Path(__file__).resolve().parent


def load_rows() -> list[dict]:
    rows = []
    for f in sorted(HERE.glob("surfaces_*.py")):
        mod = importlib.import_module(f.stem)
        for r in mod.ROWS:
            rows.append({"module": f.stem, **r})
    return rows


def _resolve(spec: str):
    module, _, fn = spec.partition(":")
    return getattr(importlib.import_module(module), fn)


def _as_bytes(b) -> bytes:
    return b if isinstance(b, bytes) else b.encode("utf-8")


def _config(row: dict):
    c = row.get("config")
    if callable(c):
        c = row["config"] = c()
    return c


def _start(args, row: dict, work: Path, i: int, ours: bool) -> Server:
    config = _config(row)
    d = work / f"surface-{i}"
    cassettes = d / "cassettes"
    cassettes.mkdir(parents=True, exist_ok=True)
    if row.get("fixtures"):
        (cassettes / "fixtures.json").write_text(json.dumps({"fixtures": row["fixtures"]}))
    port = free_port()
    who = "aimock" if ours else "reference"
    if ours:
        argv = [str(args.aimock), "replay", "--cassettes", str(cassettes), "--port", str(port)]
        argv += ["--log-level", "warn", "--no-watch"]
        if config is not None:
            cfg = d / "aimock.config.json"
            cfg.write_text(json.dumps(config))
            argv += ["--config", str(cfg)]
    elif config is not None:
        # The reference reads a config file only through its `aimock` bin, beside `llmock`.
        cfg = dict(config)
        cfg["llm"] = {**cfg.get("llm", {}), "fixtures": str(cassettes)}
        f = d / "reference.config.json"
        f.write_text(json.dumps(cfg))
        argv = [str(Path(args.reference).with_name("aimock")), "--config", str(f), "--port", str(port)]
    else:
        argv = [str(args.reference), "--fixtures", str(cassettes), "--port", str(port)]
        argv += ["--log-level", "warn"]
    return Server(f"{who} {row['name']}", argv, port, d / f"{who}.log")


def _check(srv: Server, row: dict, headers: dict, expect) -> str | None:
    """None when the server answers the row as it should, else what went wrong."""
    c = Conn(srv.port)
    try:
        status, out, _, _ = c.request(row["method"], row["path"], _as_bytes(row["body"]), headers)
    except Exception as e:  # a server that drops the connection fails the row, not the run
        return f"no answer ({e})"
    finally:
        c.close()
    if status != 200:
        return f"status {status}: {out[:200]!r}"
    if _as_bytes(expect) not in out:
        return f"reply lacks {expect!r}: {out[:200]!r}"
    return None


def _ws_argv(args, row: dict, port: int, work: Path, tag: str) -> list[str]:
    files = {}
    for part in ("open", "turn"):
        f = work / f"{tag}-{part}.jsonl"
        f.write_text("\n".join(json.dumps(m) for m in row.get(part, [])) + "\n")
        files[part] = f
    argv = [str(args.ws_load), f"ws://127.0.0.1:{port}{row['path']}", "--turn", str(files["turn"])]
    argv += ["--open", str(files["open"]), "--greeting", str(row.get("greeting", 0))]
    argv += ["--until", row["until"], "--turns-per-connection", str(row.get("turns_per_connection", 0))]
    return argv


def _ws_run(argv: list[str], conns: int, seconds: int) -> dict:
    out = subprocess.run(argv + ["-c", str(conns), "-d", str(seconds)], capture_output=True, text=True, check=True)
    line = next(l for l in out.stdout.splitlines() if l.startswith("BENCH "))
    r = json.loads(line[len("BENCH ") :])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


class Driver:
    """One row's load on one server: wrk for HTTP, ws_load for WebSocket rows."""

    def __init__(self, args, row: dict, srv: Server, work: Path, tag: str, headers: dict):
        self.port = srv.port
        self.ws = row.get("transport") == "websocket"
        if self.ws:
            self.argv = _ws_argv(args, row, srv.port, work, tag)
        else:
            self.script = wrk_script(
                work / f"{tag}.lua", row["path"], headers, _as_bytes(row["body"]), row["method"]
            )

    def check(self) -> str | None:
        if not self.ws:
            return None
        try:
            r = _ws_run(self.argv, 1, 1)
        except subprocess.CalledProcessError as e:
            return f"ws_load failed: {e.stderr[-200:]}"
        if r["errors"] or not r["requests"]:
            return f"{r['requests']} turns, {r['errors']} errors in a 1 s probe"
        return None

    def run(self, conns: int, seconds: int, tolerate_errors: bool) -> dict:
        if not self.ws:
            return wrk(self.port, self.script, conns, seconds, tolerate_errors=tolerate_errors)
        r = _ws_run(self.argv, conns, seconds)
        if r["errors"] and not tolerate_errors:
            raise RuntimeError(f"ws_load saw errors on port {self.port}: {r}")
        return r


def _rss(srv: Server) -> int:
    for line in Path(f"/proc/{srv.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _idle_cost(args, row: dict, srv: Server, work: Path, tag: str) -> float:
    """MiB that `row['idle_sessions']` open, idle sessions add to the server's RSS."""
    argv = _ws_argv(args, row, srv.port, work, tag) + ["--hold", str(row["idle_sessions"])]
    before = _rss(srv)
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        if not line.startswith("HOLDING"):
            raise RuntimeError(f"ws_load --hold: {line!r}")
        return (_rss(srv) - before) / (1024 * 1024)
    finally:
        p.stdin.close()
        p.wait(30)


def bench_surfaces(args, work: Path, results: dict, log):
    rows = load_rows()
    if args.surface:
        rows = [r for r in rows if any(s.lower() in r["name"].lower() for s in args.surface)]
    out = results.setdefault("surfaces", {})
    for i, row in enumerate(rows):
        if row.get("transport") == "websocket" and not args.ws_load:
            log(f"{row['name']}: skipped (no --ws-load binary)")
            continue
        servers = {"aimock": _start(args, row, work, i, True)}
        try:
            if row.get("reference"):
                try:
                    servers["reference"] = _start(args, row, work, i, False)
                except RuntimeError as e:
                    log(f"{row['name']}: the reference did not start: {e}")
            drivers = {}
            notes = {}
            for who, srv in list(servers.items()):
                h = dict(row.get("headers", {}))
                if row.get("prepare"):
                    h.update(_resolve(row["prepare"])(srv.port, dict(h)))
                d = Driver(args, row, srv, work, f"surface-{i}-{who}", h)
                expect = row.get("expect") if who == "aimock" else row.get("reference_expect", row.get("expect"))
                problem = d.check() if d.ws else _check(srv, row, h, expect)
                if problem and who == "aimock":
                    raise RuntimeError(f"{row['name']}: aimock {problem}")
                if problem:
                    log(f"{row['name']}: the reference {problem}; measured on aimock alone")
                    notes["reference"] = problem
                    servers.pop(who).stop()
                    continue
                drivers[who] = d
            for who in servers:
                drivers[who].run(16, args.warmup, tolerate_errors=who == "reference")

            def measure(who: str, conns: int) -> dict:
                # The other server is stopped while one is measured (see bench_replay).
                others = [s for w, s in servers.items() if w != who]
                for o in others:
                    o.proc.send_signal(signal.SIGSTOP)
                try:
                    return drivers[who].run(conns, args.duration, tolerate_errors=who == "reference")
                finally:
                    for o in others:
                        o.proc.send_signal(signal.SIGCONT)

            for conns in (1, 64):
                runs = {who: [] for who in servers}
                for _ in range(args.rounds):
                    for who in servers:
                        runs[who].append(measure(who, conns))
                median = {w: sorted(rs, key=lambda x: x["rps"])[len(rs) // 2] for w, rs in runs.items()}
                row_out = {"aimock": median["aimock"], "rounds": {w: [x["rps"] for x in rs] for w, rs in runs.items()}}
                if "reference" in runs:
                    row_out["reference"] = median["reference"]
                    row_out["vs_reference"] = statistics.median(
                        a["rps"] / r["rps"] for a, r in zip(runs["aimock"], runs["reference"])
                    )
                    row_out["reference_errors"] = sum(x["errors"] + x["non2xx"] for x in runs["reference"])
                else:
                    row_out["reference_note"] = notes.get("reference", "not served by the reference")
                out[f"{row['name']} | c={conns}"] = row_out
                log(
                    f"{row['name']:28} c={conns:<3} aimock {[round(x['rps']) for x in runs['aimock']]} req/s"
                    + (
                        f", reference {[round(x['rps']) for x in runs['reference']]}; "
                        f"vs reference {row_out['vs_reference']:.1f}x"
                        if "reference" in runs
                        else f"; {row_out['reference_note']}"
                    )
                )
            if row.get("idle_sessions"):
                n = row["idle_sessions"]
                # On fresh servers: after the load, a garbage-collected server's RSS
                # falls while the sessions open, and the difference means nothing.
                mem = {}
                for who in servers:
                    fresh = _start(args, row, work, i, who == "aimock")
                    try:
                        mem[who] = _idle_cost(args, row, fresh, work, f"surface-{i}-{who}-idle")
                    finally:
                        fresh.stop()
                results.setdefault("surfaces_idle", {})[f"{row['name']} | {n}"] = mem
                log(f"{row['name']}: {n} idle sessions add " + ", ".join(f"{w} {m:.1f} MiB" for w, m in mem.items()))
        finally:
            for s in servers.values():
                s.stop()


def report(results: dict) -> list[str]:
    rows = results.get("surfaces") or {}
    if not rows:
        return []
    lines = [
        "",
        "| surface | conc. | aimock req/s | p50 / p99 | reference req/s | p50 / p99 | aimock / reference |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, row in rows.items():
        name, conc = [x.strip() for x in key.split("|")]
        a = row["aimock"]
        cells = f"| {name} | {conc[2:]} | {a['rps']:,.0f} | {a['p50_us'] / 1000:.2f} / {a['p99_us'] / 1000:.2f} ms "
        if "reference" in row:
            r = row["reference"]
            cells += (
                f"| {r['rps']:,.0f} | {r['p50_us'] / 1000:.2f} / {r['p99_us'] / 1000:.2f} ms "
                f"| {row['vs_reference']:.1f}x |"
            )
        else:
            cells += f"| ({row['reference_note'][:80]}) | | |"
        lines.append(cells)
    idle = results.get("surfaces_idle") or {}
    if idle:
        lines += ["", "| idle WebSocket sessions | sessions | aimock RSS added | reference RSS added |", "|---|---|---|---|"]
        for key, mem in idle.items():
            name, n = [x.strip() for x in key.split("|")]
            ref = f"{mem['reference']:.1f} MiB" if "reference" in mem else "(not measured)"
            lines.append(f"| {name} | {int(n):,} | {mem['aimock']:.1f} MiB | {ref} |")
    return lines
