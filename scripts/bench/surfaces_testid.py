"""Benchmark rows for the test-id path prefix (see surfaces.py for the row format): the
plain OpenAI chat request sent under `/__test/{id}`, and the same with `X-Test-Id`, to
show what taking the prefix off and rebuilding the URI costs. The reference has no
prefix: it would answer 404, so the row is ours only; the header row it serves."""

FIXTURES = [{"match": {"userMessage": "hello"}, "response": {"content": "Hello from the benchmark."}}]
JSON = {"content-type": "application/json", "authorization": "Bearer sk-test-not-a-real-key"}
BODY = '{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}'

ROWS = [
    {
        "name": "OpenAI chat under /__test/{id}",
        "config": None,
        "fixtures": FIXTURES,
        "method": "POST",
        "path": "/__test/bench-suite-test-1/v1/chat/completions",
        "headers": JSON,
        "body": BODY,
        "prepare": None,
        "expect": "Hello from the benchmark.",
        "reference": False,
    },
    {
        "name": "OpenAI chat with X-Test-Id",
        "config": None,
        "fixtures": FIXTURES,
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": {**JSON, "x-test-id": "bench-suite-test-1"},
        "body": BODY,
        "prepare": None,
        "expect": "Hello from the benchmark.",
        "reference": True,
    },
]
