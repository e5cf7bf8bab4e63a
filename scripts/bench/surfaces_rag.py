"""Benchmark rows for the RAG mocks (see surfaces.py for the row format).

- Pinecone query over 10,000 stored 1,536-dimension vectors: an exact nearest-neighbour
  search on ours. The reference serves the route too but never searches (it answers a
  collection's canned `queryResults`, here none), so its row is the floor of the route.
- Cohere v2 rerank and OpenAI moderation with no fixture: the deterministic defaults
  (the reference needs `services.rerank`/`services.moderate` for its catch-alls, which
  the config turns on; ours ignores the booleans).

The vectors are generated deterministically (a 64-bit xorshift), rounded to 4 decimals
so the config file stays about 100 MB.
"""

import json

N_VECTORS = 10_000
DIM = 1_536


def _xorshift(seed):
    x = seed
    mask = (1 << 64) - 1
    while True:
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
        yield round(((x >> 11) / float(1 << 53)) - 0.5, 4)


def pinecone_config(n=N_VECTORS, dim=DIM, seed=42):
    gen = _xorshift(seed)
    vectors = [{"id": f"v{i}", "values": [next(gen) for _ in range(dim)]} for i in range(n)]
    return {"vector": {"path": "/vector", "collections": [{"name": "bench", "dimension": dim, "metric": "cosine", "vectors": vectors}]}}


def _query_vector(dim=DIM, seed=7):
    gen = _xorshift(seed)
    return [next(gen) for _ in range(dim)]


SERVICES_CONFIG = {"services": {"search": True, "rerank": True, "moderate": True}}

ROWS = [
    {
        "name": "Pinecone query 10k x 1536",
        "config": pinecone_config,
        "fixtures": None,
        "method": "POST",
        "path": "/vector/query",
        "headers": {"content-type": "application/json", "api-key": "pc-test-not-a-real-key"},
        "body": json.dumps({"namespace": "bench", "vector": _query_vector(), "topK": 10, "includeMetadata": True}),
        "prepare": None,
        "expect": '"matches":[{"id":"v',
        "reference_expect": '"matches":[',
        "reference": True,
    },
    {
        "name": "Cohere rerank (default)",
        "config": SERVICES_CONFIG,
        "fixtures": None,
        "method": "POST",
        "path": "/v2/rerank",
        "headers": {"content-type": "application/json", "authorization": "Bearer sk-test-not-a-real-key"},
        "body": json.dumps({"model": "rerank-v3.5", "query": "capital of France", "documents": ["Paris is the capital of France", "Berlin is in Germany", "Bananas are yellow"], "top_n": 2}),
        "prepare": None,
        "expect": '"relevance_score"',
        # The reference's catch-all answers an empty list: it serves the route but
        # ranks nothing; its row is still its cost.
        "reference_expect": '"results":[',
        "reference": True,
    },
    {
        "name": "OpenAI moderation (default)",
        "config": SERVICES_CONFIG,
        "fixtures": None,
        "method": "POST",
        "path": "/v1/moderations",
        "headers": {"content-type": "application/json", "authorization": "Bearer sk-test-not-a-real-key"},
        "body": json.dumps({"model": "omni-moderation-latest", "input": "hello there"}),
        "prepare": None,
        "expect": '"flagged":false',
        "reference": True,
    },
]
