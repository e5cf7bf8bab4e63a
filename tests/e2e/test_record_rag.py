"""Record round trips for search, rerank and moderation: misses go to fake upstreams
(`--provider-tavily`, `--provider-cohere`, `--provider-openai`), are relayed to the
official clients, saved as endpoint fixtures without credentials, then replayed
strictly with no upstream."""

import json

import cohere
from openai import OpenAI
from tavily import TavilyClient

from conftest import FAKE_KEY, wait_for_fixtures

TAVILY_KEY = "tvly-test-not-a-real-key"

SEARCH_REPLY = {
    "query": "who wrote dune",
    "follow_up_questions": None,
    "answer": "Frank Herbert.",
    "images": [],
    "results": [{"title": "Dune", "url": "https://en.wikipedia.org/wiki/Dune_(novel)", "content": "Dune is a 1965 novel by Frank Herbert.", "score": 0.93, "raw_content": None}],
    "response_time": 1.42,
    "request_id": "7f1c5a9e-0000-4000-a000-000000000001",
}
RERANK_REPLY = {
    "id": "b1d2c3e4-0000-4000-a000-000000000002",
    "results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.02}],
    "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
}
CATS = ["harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent", "self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence", "violence/graphic"]
MODERATION_REPLY = {
    "id": "modr-123",
    "model": "omni-moderation-2024-09-26",
    "results": [
        {
            "flagged": True,
            "categories": {c: c == "violence" for c in CATS},
            "category_scores": {c: (0.8 if c == "violence" else 0.001) for c in CATS},
            "category_applied_input_types": {c: ["text"] for c in CATS},
        }
    ],
}


def test_search_rerank_and_moderation_record_then_replay(start_aimock, cassette_dir, fake_upstream):
    fake_upstream.script("/search", json.dumps(SEARCH_REPLY))
    fake_upstream.script("/v2/rerank", json.dumps(RERANK_REPLY))
    fake_upstream.script("/v1/moderations", json.dumps(MODERATION_REPLY))
    rec = start_aimock(
        cassette_dir,
        "--provider-tavily", fake_upstream.url,
        "--provider-cohere", fake_upstream.url,
        "--provider-openai", fake_upstream.url,
        command="record",
    )

    tv = TavilyClient(api_key=TAVILY_KEY, api_base_url=rec.url)
    r = tv.search("who wrote dune")
    assert r["answer"] == "Frank Herbert." and r["results"][0]["title"] == "Dune"
    co = cohere.ClientV2(api_key=FAKE_KEY, base_url=rec.url, max_retries=0)
    rr = co.rerank(model="rerank-v3.5", query="desert planet", documents=["ocean", "Arrakis"])
    assert [x.index for x in rr.results] == [1, 0]
    oa = OpenAI(api_key=FAKE_KEY, base_url=rec.url + "/v1", max_retries=0)
    m = oa.moderations.create(model="omni-moderation-latest", input="a violent scene")
    assert m.results[0].flagged is True

    # Credentials went upstream, not to disk.
    assert fake_upstream.seen[0][2]["authorization"] == f"Bearer {TAVILY_KEY}"
    saved = {}
    for name in ["tavily", "cohere", "openai"]:
        path = cassette_dir / "recorded" / f"{name}.json"
        doc = wait_for_fixtures(path, 1)
        text = path.read_text()
        assert FAKE_KEY not in text and TAVILY_KEY not in text
        saved[name] = doc["fixtures"][0]
    assert saved["tavily"]["match"] == {"userMessage": "who wrote dune", "endpoint": "search"}
    assert saved["tavily"]["response"]["results"][0]["url"].startswith("https://en.wikipedia.org")
    assert saved["cohere"]["match"]["endpoint"] == "rerank"
    assert saved["cohere"]["response"]["results"][0] == {"index": 1, "relevance_score": 0.9}
    assert saved["openai"]["match"]["endpoint"] == "moderation"
    rec.stop()

    # Replay strictly, no upstream: the same answers.
    rep = start_aimock(cassette_dir, "--strict")
    tv = TavilyClient(api_key=TAVILY_KEY, api_base_url=rep.url)
    assert tv.search("who wrote dune")["results"][0]["title"] == "Dune"
    co = cohere.ClientV2(api_key=FAKE_KEY, base_url=rep.url, max_retries=0)
    assert [x.index for x in co.rerank(model="rerank-v3.5", query="desert planet", documents=["ocean", "Arrakis"]).results] == [1, 0]
    oa = OpenAI(api_key=FAKE_KEY, base_url=rep.url + "/v1", max_retries=0)
    m = oa.moderations.create(model="omni-moderation-latest", input="a violent scene")
    assert m.results[0].flagged is True and m.results[0].category_scores.violence == 0.8


# ---------------------------------------------------------------- vector databases

PC_KEY = "pc-test-not-a-real-key"
LEAK = "sk-proj-test-not-a-real-key-abcdefghijkl"
PC_QUERY_REPLY = {
    "results": [],
    "matches": [
        {"id": "r1", "score": 0.91, "values": [], "metadata": {"title": "Dune", "note": f"key {LEAK}"}},
        {"id": "r2", "score": 0.42, "values": [], "metadata": {"title": "Emma"}},
    ],
    "namespace": "remote",
    "usage": {"readUnits": 5},
}
PC_FETCH_REPLY = {
    "vectors": {"r1": {"id": "r1", "values": [0.5, 0.5], "metadata": {"title": "Dune"}}},
    "namespace": "remote",
    "usage": {"readUnits": 1},
}


def test_pinecone_misses_record_into_the_vector_file_then_replay_strictly(start_aimock, cassette_dir, tmp_path, fake_upstream):
    import warnings

    from pinecone import Pinecone

    fake_upstream.script("/query", json.dumps(PC_QUERY_REPLY))
    fake_upstream.script("/vectors/fetch", json.dumps(PC_FETCH_REPLY))
    cassette_dir.mkdir(parents=True, exist_ok=True)
    vector_file = tmp_path / "vector.json"
    # The section file may hold collections too: the recorder appends beside them.
    vector_file.write_text(json.dumps({"collections": [{"name": "local", "dimension": 2, "vectors": [{"id": "l1", "values": [1.0, 0.0]}]}]}))

    def index(server):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Pinecone(api_key=PC_KEY).Index(host=server.url + "/vector")

    rec = start_aimock(cassette_dir, "--upstream-vector", fake_upstream.url, "--vector", str(vector_file), command="record")
    idx = index(rec)
    r = idx.query(namespace="remote", vector=[0.5, 0.5], top_k=2, include_metadata=True)
    assert [m.id for m in r.matches] == ["r1", "r2"] and r.matches[0].metadata["title"] == "Dune"
    f = idx.fetch(ids=["r1"], namespace="remote")
    assert f.vectors["r1"].values == [0.5, 0.5]
    # The local namespace and upserts stay local.
    assert [m.id for m in idx.query(namespace="local", vector=[1.0, 0.0], top_k=1).matches] == ["l1"]
    assert idx.upsert(vectors=[("n1", [0.0, 1.0])], namespace="new").upserted_count == 1
    assert [m.id for m in idx.query(namespace="new", vector=[0.0, 1.0], top_k=1).matches] == ["n1"]
    assert [(m, p.split("?")[0]) for m, p, _, _ in fake_upstream.seen] == [("POST", "/query"), ("GET", "/vectors/fetch")]
    assert "namespace=remote" in fake_upstream.seen[1][1]
    assert all(h["api-key"] == PC_KEY for _, _, h, _ in fake_upstream.seen)
    rec.stop()

    text = vector_file.read_text()
    assert PC_KEY not in text and LEAK not in text
    doc = json.loads(text)
    assert doc["collections"][0]["name"] == "local"
    saved = doc["recorded"]
    assert [(e["method"], e["path"]) for e in saved] == [("POST", "/query"), ("GET", "/vectors/fetch")]
    assert saved[0]["match"]["body"]["namespace"] == "remote" and saved[0]["match"]["body"]["topK"] == 2
    assert "ids=r1" in saved[1]["match"]["query"]
    assert saved[0]["response"]["matches"][1] == PC_QUERY_REPLY["matches"][1]

    # Replay strictly, no upstream: the same answers, from the file.
    rep = start_aimock(cassette_dir, "--strict", "--vector", str(vector_file))
    idx = index(rep)
    r = idx.query(namespace="remote", vector=[0.5, 0.5], top_k=2, include_metadata=True)
    assert [m.id for m in r.matches] == ["r1", "r2"] and r.matches[0].score == 0.91
    assert LEAK not in r.matches[0].metadata["note"]
    assert idx.fetch(ids=["r1"], namespace="remote").vectors["r1"].metadata == {"title": "Dune"}
    assert [m.id for m in idx.query(namespace="local", vector=[1.0, 0.0], top_k=1).matches] == ["l1"]
    assert len(fake_upstream.seen) == 2
