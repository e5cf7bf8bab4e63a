#!/usr/bin/env python3
"""Instructions per request, counted by valgrind's callgrind: a figure that does not drift
with the machine's load, unlike the req/s of scripts/bench.sh.

Each server runs under callgrind twice, answering 500 and then 2,500 requests (four
keep-alive connections, one request at a time, after 50 to warm up); the difference
divided by 2,000 is what one request costs, start-up and shutdown cancelling out. The
scenarios and fixtures are scripts/bench/run.py's (10 fixtures, or --fixtures N). The ceiling answers the
bytes aimock answered, headers and body, as in the benchmark.

valgrind runs the SHA-256 that seeds aimock's ids in software (it does not emulate the
CPU's SHA instructions), so aimock's counts carry a few thousand instructions a request
that the hardware does in a few hundred: the "without SHA-256" column leaves them out.

Usage: scripts/bench/instructions.py [--aimock PATH] [--ceiling PATH] [--fixtures N]
       [--only SCENARIO] [--top N] [--no-ceiling] [--write-baseline FILE] [--check FILE]
(after `cargo build --release --bin aimock --example ceiling`; needs valgrind).

--check FILE compares aimock's count per scenario with the baseline FILE holds and exits 1
when any grew by more than its tolerance (5% unless the file says otherwise): the guard
`.ci/run` runs, so no change can slow replay down without someone deciding so and
committing a new baseline with --write-baseline.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Conn, fetch, free_port, health_ok  # noqa: E402
from run import SCENARIOS, question, write_fixture_set  # noqa: E402

WARM, LOW, HIGH = 50, 500, 2500


def totals(out: Path) -> dict[str, int]:
    """Instructions by function, from callgrind_annotate."""
    text = subprocess.run(
        ["callgrind_annotate", "--threshold=100", str(out)], capture_output=True, text=True, check=True
    ).stdout
    by_fn: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(\S.*?)(?: \[.*\])?$", line)
        if m and "PROGRAM TOTALS" not in line:
            by_fn[m.group(2)] = by_fn.get(m.group(2), 0) + int(m.group(1).replace(",", ""))
    return by_fn


def counted(argv: list[str], port: int | None, requests: int, work: Path, scenario) -> dict[str, int]:
    path, headers, body = scenario
    out = work / f"callgrind.{requests}.out"
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    if port is None:
        port = int(proc.stdout.readline().rsplit(":", 1)[1])
    deadline = time.monotonic() + 120
    while not health_ok(port):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"{argv[0]} did not come up under valgrind")
        time.sleep(0.1)
    conns = [Conn(port) for _ in range(4)]
    for i in range(WARM + requests):
        status, *_ = conns[i % 4].request("POST", path, body, headers)
        if status != 200:
            raise RuntimeError(f"{argv[0]}: {status} for {path}")
    for c in conns:
        c.close()
    proc.terminate()
    proc.wait()
    return totals(out)


def per_request(argv_for, scenario, work: Path) -> dict[str, float]:
    runs = {}
    for n in (LOW, HIGH):
        argv, port = argv_for()
        runs[n] = counted(argv, port, n, work, scenario)
    low, high = runs[LOW], runs[HIGH]
    return {k: (high.get(k, 0) - low.get(k, 0)) / (HIGH - LOW) for k in set(low) | set(high)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--aimock", type=Path, default=Path("target/release/aimock"))
    p.add_argument("--ceiling", type=Path, default=Path("target/release/examples/ceiling"))
    p.add_argument("--top", type=int, default=0, help="also list aimock's N costliest functions")
    p.add_argument("--fixtures", type=int, default=10, help="fixtures in the set (the request hits one near the end)")
    p.add_argument("--only", choices=list(SCENARIOS), action="append", help="just these scenarios")
    p.add_argument("--log-level", default="warn", help="aimock's --log-level (the server default is info)")
    p.add_argument("--no-ceiling", action="store_true", help="count aimock only (the ceiling's column is left empty)")
    p.add_argument("--write-baseline", type=Path, help="write aimock's counts per scenario to this JSON file")
    p.add_argument("--check", type=Path, help="exit 1 when a count grew past the tolerance over this baseline")
    args = p.parse_args()
    baseline = json.loads(args.check.read_text()) if args.check else None
    measured: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="aimock-instr-") as tmp:
        work = Path(tmp)
        fixtures = work / "fixtures"
        target = write_fixture_set(fixtures, args.fixtures)
        print("| scenario | aimock | without SHA-256 | ceiling |")
        print("|---|---|---|---|")
        for name, (path, headers, make) in SCENARIOS.items():
            if args.only and name not in args.only:
                continue
            body = make(question(target))

            def ours():
                port = free_port()
                argv = [str(args.aimock), "replay", "--cassettes", str(fixtures), "--port", str(port)]
                return argv + ["--log-level", args.log_level, "--no-watch"], port

            # The ceiling's reply: the headers and body aimock sends, taken from a plain run.
            argv, port = ours()
            server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                while not health_ok(port):
                    time.sleep(0.05)
                reply_headers, reply = fetch(port, path, headers, body)
            finally:
                server.terminate()
                server.wait()
            (work / "reply.body").write_bytes(reply)
            skip = ("content-type", "content-length", "date", "connection", "transfer-encoding")
            (work / "reply.headers").write_text(
                "".join(f"{k}: {v}\n" for k, v in reply_headers if k not in skip)
            )
            ctype = dict(reply_headers)["content-type"]

            def ceiling():
                argv = [str(args.ceiling), str(work / "reply.body"), ctype, str(work / "reply.headers")]
                return argv, None

            mine = per_request(ours, (path, headers, body), work)
            theirs = {} if args.no_ceiling else per_request(ceiling, (path, headers, body), work)
            total = sum(mine.values())
            measured[name] = total
            sha = sum(v for k, v in mine.items() if "sha2::" in k)
            ceiling_col = "" if args.no_ceiling else f"{sum(theirs.values()):,.0f}"
            print(f"| {name} | {total:,.0f} | {total - sha:,.0f} | {ceiling_col} |", flush=True)
            if args.top:
                for k, v in sorted(mine.items(), key=lambda kv: -kv[1])[: args.top]:
                    print(f"|   {k[:100]} | {v:,.0f} | | |")
    if args.write_baseline:
        args.write_baseline.write_text(
            json.dumps(
                {
                    "about": "aimock's instructions per request (scripts/bench/instructions.py, 10 fixtures); "
                    ".ci/run fails when a scenario grows past tolerancePercent",
                    "tolerancePercent": 5,
                    "instructionsPerRequest": {k: round(v) for k, v in measured.items()},
                },
                indent=2,
            )
            + "\n"
        )
    if baseline is not None:
        limit = float(baseline.get("tolerancePercent", 5))
        failed = False
        for name, want in baseline["instructionsPerRequest"].items():
            if name not in measured:
                continue
            growth = (measured[name] - want) / want * 100
            verdict = "over" if growth > limit else "ok"
            failed |= growth > limit
            print(f"{name}: {measured[name]:,.0f} against a baseline of {want:,} ({growth:+.1f}%, limit +{limit:g}%): {verdict}")
        if failed:
            print("instruction count grew past the baseline: find the cause (--top 30), or, if the cost is wanted, "
                  "commit a new baseline with --write-baseline")
            sys.exit(1)


if __name__ == "__main__":
    main()
