#!/usr/bin/env python3
"""aimock performance benchmark: our release binary, the reference and a minimal hyper
server side by side, in one run, on the same fixtures and the same load.

Run it through scripts/bench.sh, which installs wrk and the reference and builds the
binaries, then calls this file with their paths. Standard library only.

What it measures (see the README's Performance section for the figures):
- replay throughput and p50/p99 latency (wrk) for OpenAI non-stream, OpenAI stream and
  Anthropic stream, at concurrency 1 and 64, with 10 and with 10,000 fixtures (the
  request matches a fixture near the end of the list);
- the same load against `ceiling`, a hyper server answering the same bytes;
- time from spawn to the first 200 from /health with 10,000 fixtures;
- peak RSS (VmHWM) after the load with 10,000 fixtures;
- hot reload: a cassette save to the new answer being served;
- the latency record mode adds in front of a local fake upstream, at p50: the whole
  non-stream reply, and the time to the first SSE event of a stream.
- the surface rows (scripts/bench/surfaces.py): one request or WebSocket turn per row
  for media, realtime, the agent stack and the RAG services, at concurrency 1 and 64,
  on aimock and on the reference.

Every server is pinned to core 0 and every client (wrk, this script) to core 1.
Targets are ratios within this one run, because absolute figures on a shared machine
drift; the absolute figures are printed too. Replay rows are measured in rounds (aimock
with 10 and with 10,000 fixtures, the ceiling, and the reference with 10 and with 10,000
back to back), and each ratio is the median of its rounds' ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import surfaces
from harness import CLIENT_CORE, Conn, Server, fetch, start_ours, start_reference, wrk, wrk_script

ANSWER = (
    "Here is a replayed answer of a typical length: it has a few sentences, so a stream "
    "is cut into several chunks and a JSON reply carries a realistic body. "
)


# ----------------------------------------------------------------------------- fixtures


def question(i: int) -> str:
    # Zero-padded and closed with a period, so no fixture's userMessage is a substring
    # of another's: the first match is always the one meant.
    return f"benchmark question {i:05d}."


def write_fixture_set(dir: Path, n: int) -> int:
    """Write `n` fixtures in one cassette; return the index the requests target."""
    dir.mkdir(parents=True, exist_ok=True)
    fixtures = []
    for i in range(n):
        match = {"userMessage": question(i)}
        # A realistic mix: some fixtures also pin the model or the endpoint.
        if i % 5 == 1:
            match["model"] = "gpt-4o"
        if i % 7 == 3:
            match["endpoint"] = "chat"
        fixtures.append({"match": match, "response": {"content": f"[{i:05d}] {ANSWER}"}})
    (dir / "fixtures.json").write_text(json.dumps({"fixtures": fixtures}, indent=1))
    return n - 2


def openai_body(text: str, stream: bool) -> str:
    return json.dumps(
        {"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": text}]}
    )


def anthropic_body(text: str) -> str:
    return json.dumps(
        {
            "model": "claude-sonnet-4-20250514",
            "max_tokens": 256,
            "stream": True,
            "messages": [{"role": "user", "content": text}],
        }
    )


# Scenario name -> (path, extra headers, body builder)
SCENARIOS = {
    "OpenAI non-stream": ("/v1/chat/completions", {}, lambda t: openai_body(t, False)),
    "OpenAI stream": ("/v1/chat/completions", {}, lambda t: openai_body(t, True)),
    "Anthropic stream": (
        "/v1/messages",
        {"anthropic-version": "2023-06-01", "x-api-key": "sk-test-not-a-real-key"},
        anthropic_body,
    ),
}


# ----------------------------------------------------------------------------- parts


def bench_replay(args, work: Path, sets: dict, results: dict):
    ours = {tag: start_ours(args.aimock, d, work, tag) for tag, (d, _) in sets.items()}
    ref = {tag: start_reference(args.reference, d, work, tag) for tag, (d, _) in sets.items()}
    ceilings = {}
    try:
        for name, (path, headers, make) in SCENARIOS.items():
            target = question(sets["10"][1])
            body = make(target)
            # The ceiling answers with exactly the bytes aimock sends for this request:
            # its headers and its body (hyper adds `date` and `content-length` to both).
            reply_headers, reply = fetch(ours["10"].port, path, headers, body)
            if f"[{sets['10'][1]:05d}]".encode() not in reply:
                raise RuntimeError(f"{name}: aimock answered from the wrong fixture")
            f = work / f"ceiling-{len(ceilings)}.body"
            f.write_bytes(reply)
            ctype = dict(reply_headers)["content-type"]
            h = work / f"ceiling-{len(ceilings)}.headers"
            h.write_text(
                "".join(
                    f"{k}: {v}\n"
                    for k, v in reply_headers
                    if k not in ("content-type", "content-length", "date", "connection", "transfer-encoding")
                )
            )
            ceilings[name] = Server(
                f"ceiling {name}", [str(args.ceiling), str(f), ctype, str(h)], None, work / f"{f.name}.log"
            )
        # Warm every server (the reference's JIT above all) before measuring.
        for tag, (d, target) in sets.items():
            for name, (path, headers, make) in SCENARIOS.items():
                s = wrk_script(work / "warm.lua", path, headers, make(question(target)))
                for srv in (ours[tag], ref[tag]):
                    wrk(srv.port, s, 16, args.warmup, tolerate_errors=srv in ref.values())
        for name, (path, headers, make) in SCENARIOS.items():
            s = wrk_script(work / "warm.lua", path, headers, make(question(sets["10"][1])))
            wrk(ceilings[name].port, s, 16, args.warmup)
        everyone = [*ours.values(), *ref.values(), *ceilings.values()]

        def measure(srv: Server, script: Path, conns: int, seconds: int | None = None) -> dict:
            # Every server shares core 0, and an idle one is not always idle: the
            # reference's V8 keeps collecting and compiling on background threads after
            # a load, which took core 0 from whichever server was measured next (a
            # ceiling measured right after the reference lost half its speed). So the
            # others are stopped while one is measured.
            others = [o for o in everyone if o is not srv]
            for o in others:
                o.proc.send_signal(signal.SIGSTOP)
            try:
                return wrk(
                    srv.port, script, conns, seconds or args.duration, tolerate_errors=srv in ref.values()
                )
            finally:
                for o in others:
                    o.proc.send_signal(signal.SIGCONT)

        def by_rps(runs: list) -> dict:
            """The run with the median throughput (its latencies come with it)."""
            return sorted(runs, key=lambda x: x["rps"])[len(runs) // 2]

        # Each row is measured in rounds: aimock with 10 fixtures and with 10,000, the
        # ceiling, and the reference with 10 and with 10,000 back to back, so each
        # round's ratios compare figures taken seconds apart; a row's ratio is the
        # median over its rounds. (On this shared machine one figure alone drifts by 10%
        # from one minute to the next; the reference measured once, minutes away from
        # aimock's rounds, moved the ratio to it between 8.9x and 10.9x across runs.)
        for name, (path, headers, make) in SCENARIOS.items():
            scripts = {
                tag: wrk_script(work / f"load-{tag}.lua", path, headers, make(question(target)))
                for tag, (d, target) in sets.items()
            }
            for conns in (1, 64):
                runs = {"10": [], "10000": [], "ceiling": [], "ref 10": [], "ref 10000": []}
                for _ in range(args.rounds):
                    for tag in ("10", "10000"):
                        runs[tag].append(measure(ours[tag], scripts[tag], conns))
                    runs["ceiling"].append(measure(ceilings[name], scripts["10"], conns))
                    for tag in ("10", "10000"):
                        runs[f"ref {tag}"].append(measure(ref[tag], scripts[tag], conns))
                ceil = runs["ceiling"]
                for tag in ("10", "10000"):
                    mine, theirs = runs[tag], runs[f"ref {tag}"]
                    row = {
                        "aimock": by_rps(mine),
                        "reference": by_rps(theirs),
                        "ceiling": by_rps(ceil),
                        "rounds": {
                            "aimock": [m["rps"] for m in mine],
                            "ceiling": [c["rps"] for c in ceil],
                            "reference": [t["rps"] for t in theirs],
                        },
                        "vs_reference": statistics.median(m["rps"] / t["rps"] for m, t in zip(mine, theirs)),
                        "vs_ceiling": statistics.median(m["rps"] / c["rps"] for m, c in zip(mine, ceil)),
                        "vs_10_fixtures": statistics.median(
                            m["rps"] / t["rps"] for m, t in zip(mine, runs["10"])
                        ),
                        "reference_errors": sum(t["errors"] + t["non2xx"] for t in theirs),
                    }
                    results["replay"][f"{name} | c={conns} | {tag}"] = row
                    log(
                        f"{name:18} c={conns:<3} {tag:>6} fixtures: aimock {[round(m['rps']) for m in mine]} req/s, "
                        f"ceiling {[round(c['rps']) for c in ceil]}, reference {[round(t['rps']) for t in theirs]}; "
                        f"vs reference {row['vs_reference']:.1f}x, vs ceiling {row['vs_ceiling']:.2f}, "
                        f"vs 10 fixtures {row['vs_10_fixtures']:.2f}"
                        + (f"; the reference had {row['reference_errors']} errors" if row["reference_errors"] else "")
                    )
        results["rss_mib"] = {
            "aimock": ours["10000"].peak_rss_mib(),
            "reference": ref["10000"].peak_rss_mib(),
            "aimock (10 fixtures)": ours["10"].peak_rss_mib(),
        }
        log(f"peak RSS after load: {results['rss_mib']}")
    finally:
        for s in [*ours.values(), *ref.values(), *ceilings.values()]:
            s.stop()


def bench_startup(args, work: Path, big: Path, results: dict):
    def runs(start, n):
        times = []
        for _ in range(n):
            s = start()
            times.append(s.ready_after * 1000)
            s.stop()
        return times

    ours = runs(lambda: start_ours(args.aimock, big, work, "startup"), args.startup_runs)
    ref = runs(lambda: start_reference(args.reference, big, work, "startup"), 3)
    results["startup_ms"] = {"aimock": ours, "reference": ref}
    log(f"startup with 10,000 fixtures: aimock {ours} ms, reference {ref} ms")


def bench_reload(args, work: Path, big_cassette: Path, results: dict):
    """Save a cassette, then ask until the new answer is served."""
    out = {}
    for who in ("aimock", "reference"):
        d = work / f"reload-{who}"
        d.mkdir()
        shutil.copy(big_cassette, d / "fixtures.json")
        probe = d / "probe.json"

        def save(version: int, atomic: bool):
            text = json.dumps(
                {"fixtures": [{"match": {"userMessage": "reload probe"}, "response": {"content": f"v{version}"}}]}
            )
            if atomic:  # as editors save: a temporary file renamed over the cassette
                tmp = d / ".probe.json.tmp"
                tmp.write_text(text)
                os.replace(tmp, probe)
            else:
                probe.write_text(text)

        save(0, True)
        if who == "aimock":
            srv = start_ours(args.aimock, d, work, "reload", watch=True)
        else:
            srv = start_reference(args.reference, d, work, "reload", watch=True)
        conn = Conn(srv.port)
        body = openai_body("reload probe", False)
        ms = []
        lost = None
        try:
            for i in range(1, args.reload_runs + 1):
                want = f'"v{i}"'.encode()
                time.sleep(0.25)  # let the previous save settle: each save stands alone
                start = time.perf_counter()
                # Alternate the two ways editors save: in place, and rename over.
                save(i, atomic=i % 2 == 0)
                while want not in conn.request("POST", "/v1/chat/completions", body)[1]:
                    if time.perf_counter() - start > 3:
                        break
                else:
                    ms.append((time.perf_counter() - start) * 1000)
                    continue
                # A save not served within 3 s: that server stops reloading here.
                lost = i
                break
        finally:
            conn.close()
            srv.stop()
        out[who] = {"ms": ms, "first_lost_save": lost, "saves": args.reload_runs}
        how = f", save {lost} of {args.reload_runs} never served" if lost else ""
        log(f"hot reload ({who}): p50 {pct(ms, 50):.1f} ms, p95 {pct(ms, 95):.1f} ms{how}")
    results["reload_ms"] = out


def bench_record(args, work: Path, results: dict):
    """p50 of direct-to-upstream versus through `aimock record` and `--proxy-only`.

    The three paths are measured interleaved, request by request (in an order that
    rotates), not one after the other: the figure is a difference of a few hundred
    microseconds, and the machine's speed drifts by more than that between blocks."""
    golden = Path(__file__).resolve().parents[2] / "tests" / "data" / "golden" / "openai"
    up = Server(
        "fake upstream",
        [str(args.upstream), str(golden / "chat-json-text.json"), str(golden / "chat-stream-text-include-usage.sse")],
        None,
        work / "upstream.log",
    )
    # The upstream shares the client's core: a request is in one place at a time.
    os.sched_setaffinity(up.proc.pid, {CLIENT_CORE})
    servers, conns = {}, {}
    try:
        ports = {"direct": up.port}
        for mode, extra in (("record", []), ("proxy-only", ["--proxy-only"])):
            d = work / f"record-{mode}"
            d.mkdir()
            argv = [str(args.aimock), "record", "--cassettes", str(d), "--port", "0"]
            argv += ["--log-level", "warn", "--provider-openai", f"http://127.0.0.1:{up.port}"]
            servers[mode] = Server(f"aimock {mode}", argv + extra, None, work / f"aimock-{mode}.log")
            ports[mode] = servers[mode].port
        modes = {m: {"total_ms": [], "first_event_ms": []} for m in ports}
        conns = {m: Conn(p) for m, p in ports.items()}
        order = list(ports)
        for i in range(args.record_requests + 20):
            order = order[1:] + order[:1]
            for mode in order:
                # A new question every time, none holding an earlier one (a recorded
                # fixture matches any request whose message contains its own): each one
                # misses and goes upstream.
                text = f"record benchmark {mode} {i:06d}"
                conn = conns[mode]
                _, _, _, total = conn.request("POST", "/v1/chat/completions", openai_body(text + " json", False))
                status, _, first, _ = conn.request(
                    "POST", "/v1/chat/completions", openai_body(text + " stream", True)
                )
                if status != 200 or first is None:
                    raise RuntimeError(f"{mode}: stream answered {status}")
                if i >= 20:  # the first requests warm connections and caches
                    modes[mode]["total_ms"].append(total * 1000)
                    modes[mode]["first_event_ms"].append(first * 1000)
        for mode, r in modes.items():
            log(f"record ({mode}): non-stream p50 {pct(r['total_ms'], 50):.3f} ms, first event p50 {pct(r['first_event_ms'], 50):.3f} ms")
    finally:
        for c in conns.values():
            c.close()
        for srv in servers.values():
            srv.stop()
        up.stop()
    results["record"] = modes


# ----------------------------------------------------------------------------- report


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round((len(xs) - 1) * p / 100)))]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def reload_cell(r: dict) -> str:
    cell = f"{pct(r['ms'], 50):.0f} / {pct(r['ms'], 95):.0f} ms" if r["ms"] else "-"
    if r["first_lost_save"]:
        cell += f" (save {r['first_lost_save']} of {r['saves']} never served; stopped there)"
    return cell


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def report(results: dict, command: str) -> str:
    r = results["replay"]
    lines = []
    lines.append(
        f"Measured with `{command}` ({results['when']}, {results['machine']}; reference "
        f"@copilotkit/aimock {results['reference_version']})."
    )
    lines.append("Every server pinned to core 0, wrk (1 thread) to core 1; "
                 f"{results['duration']} s per figure; ratios are medians over {results['rounds']} rounds.")
    lines.append("")
    lines.append("| scenario | conc. | fixtures | aimock req/s | p50 / p99 | reference req/s | p50 / p99 | ceiling req/s | aimock / reference | aimock / ceiling | vs 10 fixtures |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for key, row in r.items():
        name, conc, tag = [x.strip() for x in key.split("|")]
        a, ref = row["aimock"], row["reference"]
        ceil = row["ceiling"]
        lines.append(
            f"| {name} | {conc[2:]} | {int(tag):,} | {a['rps']:,.0f} | {a['p50_us'] / 1000:.2f} / {a['p99_us'] / 1000:.2f} ms "
            f"| {ref['rps']:,.0f} | {ref['p50_us'] / 1000:.2f} / {ref['p99_us'] / 1000:.2f} ms | {ceil['rps']:,.0f} "
            f"| {row['vs_reference']:.1f}x | {row['vs_ceiling']:.2f} | {row['vs_10_fixtures']:.2f} |"
        )
    failed = {k: v["reference_errors"] for k, v in r.items() if v.get("reference_errors")}
    if failed:
        lines.append("")
        lines.append(
            "The reference failed requests (wrk's 2 s timeout, or a non-2xx status) in: "
            + "; ".join(f"{k.replace(' | ', ', ')} ({n})" for k, n in failed.items())
            + "."
        )
    lines.append("")
    st, rss, rl, rec = results["startup_ms"], results["rss_mib"], results["reload_ms"], results["record"]
    lines.append("| measure | aimock | reference |")
    lines.append("|---|---|---|")
    lines.append(f"| spawn to first `/health` 200, 10,000 fixtures (median) | {statistics.median(st['aimock']):.1f} ms | {statistics.median(st['reference']):.0f} ms |")
    lines.append(f"| peak RSS after the load, 10,000 fixtures | {rss['aimock']:.1f} MiB | {rss['reference']:.0f} MiB |")
    lines.append(f"| hot reload, save to new answer served (p50 / p95) | {reload_cell(rl['aimock'])} | {reload_cell(rl['reference'])} |")
    d = rec["direct"]
    for mode in ("record", "proxy-only"):
        m = rec[mode]
        lines.append(
            f"| `{mode}` adds at p50: non-stream reply / first SSE event | "
            f"{pct(m['total_ms'], 50) - pct(d['total_ms'], 50):+.3f} / {pct(m['first_event_ms'], 50) - pct(d['first_event_ms'], 50):+.3f} ms | |"
        )
    lines.append("")
    # Targets.
    c64 = [(k, v) for k, v in r.items() if "c=64" in k]
    vs_ref = min(v["vs_reference"] for _, v in c64)
    vs_ceiling = min(v["vs_ceiling"] for _, v in c64)
    scale = min(v["vs_10_fixtures"] for k, v in r.items() if k.endswith("10000"))
    rec_add = max(
        pct(rec[m][f], 50) - pct(rec["direct"][f], 50)
        for m in ("record", "proxy-only") for f in ("total_ms", "first_event_ms")
    )
    lines.append("| target | result | |")
    lines.append("|---|---|---|")
    lines.append(f"| replay req/s at c=64 >= 10x the reference | worst {vs_ref:.1f}x | {verdict(vs_ref >= 10)} |")
    lines.append(f"| replay req/s at c=64 >= 0.6x the hyper ceiling | worst {vs_ceiling:.2f}x | {verdict(vs_ceiling >= 0.6)} |")
    lines.append(f"| req/s with 10,000 fixtures >= 0.9x with 10 | worst {scale:.2f}x | {verdict(scale >= 0.9)} |")
    med = statistics.median(st["aimock"])
    lines.append(f"| startup with 10,000 fixtures <= 30 ms | {med:.1f} ms | {verdict(med <= 30)} |")
    lines.append(f"| peak RSS with 10,000 fixtures <= 20 MiB | {rss['aimock']:.1f} MiB | {verdict(rss['aimock'] <= 20)} |")
    ra = rl["aimock"]
    ok = not ra["first_lost_save"] and pct(ra["ms"], 95) <= 100
    lines.append(f"| hot reload <= 100 ms | {reload_cell(ra)} | {verdict(ok)} |")
    lines.append(f"| record mode adds <= 0.3 ms at p50 | worst {rec_add:.3f} ms | {verdict(rec_add <= 0.3)} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--aimock", type=Path, required=True)
    p.add_argument("--ceiling", type=Path, required=True)
    p.add_argument("--upstream", type=Path, required=True)
    p.add_argument("--reference", type=Path, required=True, help="the reference's llmock")
    p.add_argument("--ws-load", type=Path, help="examples/ws_load's binary, for the WebSocket surface rows")
    p.add_argument("--reference-version", default="?", help="shown in the report")
    p.add_argument("--duration", type=int, default=2, help="seconds per wrk figure")
    p.add_argument("--rounds", type=int, default=5, help="rounds per replay row (median taken)")
    p.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per server")
    p.add_argument("--startup-runs", type=int, default=9)
    p.add_argument("--reload-runs", type=int, default=20)
    p.add_argument("--record-requests", type=int, default=300)
    p.add_argument("--only", choices=["replay", "startup", "reload", "record", "surfaces"], action="append")
    p.add_argument(
        "--surface", action="append", help="with surfaces: only rows whose name holds this (repeatable)"
    )
    p.add_argument("--json", type=Path, help="also write the raw figures here")
    p.add_argument("--command", default="scripts/bench.sh", help="the command shown in the report")
    args = p.parse_args()
    os.sched_setaffinity(0, {CLIENT_CORE})  # wrk and every probe inherit core 1

    results = {
        "when": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {os.uname().machine}",
        "duration": args.duration,
        "rounds": args.rounds,
        "reference_version": args.reference_version,
        "replay": {},
    }
    everything = {"replay", "startup", "reload", "record", "surfaces"}
    only = set(args.only or everything)
    with tempfile.TemporaryDirectory(prefix="aimock-bench-") as tmp:
        work = Path(tmp)
        sets = {}
        for n in (10, 10000):
            d = work / f"fixtures-{n}"
            sets[str(n)] = (d, write_fixture_set(d, n))
        if "replay" in only:
            bench_replay(args, work, sets, results)
        if "startup" in only:
            bench_startup(args, work, sets["10000"][0], results)
        if "reload" in only:
            bench_reload(args, work, sets["10000"][0] / "fixtures.json", results)
        if "record" in only:
            bench_record(args, work, results)
        if "surfaces" in only:
            surfaces.bench_surfaces(args, work, results, log)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if only == everything:
        print(report(results, args.command) + "\n".join(surfaces.report(results)))
    elif only == {"surfaces"}:
        print("\n".join(surfaces.report(results)))
    else:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
