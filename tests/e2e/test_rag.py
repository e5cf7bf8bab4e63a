"""RAG mocks end to end: the official vector database clients (pinecone, qdrant-client,
chromadb), tavily, cohere rerank and openai moderations against the real binary, plus
raw HTTP for the reference's routes and Qdrant's legacy `points/search`.

The vector mount is configured with `--config`; search, rerank and moderation are always
routed. Nothing here leaves loopback.
"""

import json
import warnings

import pytest

from conftest import FAKE_KEY, raw_request, write_cassette

DOCS = [
    {"id": "a", "values": [1.0, 0.0, 0.0], "metadata": {"topic": "cats", "year": 2020}, "document": "cats purr"},
    {"id": "b", "values": [0.0, 1.0, 0.0], "metadata": {"topic": "dogs", "year": 2021}, "document": "dogs bark"},
    {"id": "c", "values": [0.7, 0.7, 0.0], "metadata": {"topic": "cats", "year": 2022}, "document": "both"},
]


def vector_config(tmp_path, collections):
    cfg = tmp_path / "aimock.json"
    cfg.write_text(json.dumps({"vector": {"path": "/vector", "collections": collections}}))
    return cfg


@pytest.fixture
def vector_server(start_aimock, tmp_path, cassette_dir):
    cassette_dir.mkdir(parents=True, exist_ok=True)
    cfg = vector_config(
        tmp_path,
        [
            {"name": "docs", "dimension": 3, "metric": "cosine", "vectors": DOCS},
            {"name": "canned", "dimension": 3, "queryResults": [{"id": "x", "score": 0.9, "metadata": {"k": 1}}]},
        ],
    )
    return start_aimock(cassette_dir, "--config", str(cfg))


# ---------------------------------------------------------------- Pinecone


def test_pinecone_client_queries_upserts_fetches_deletes_and_describes(vector_server):
    from pinecone import Pinecone

    pc = Pinecone(api_key="pc-test-not-a-real-key")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idx = pc.Index(host=vector_server.url + "/vector")
    r = idx.query(namespace="docs", vector=[1.0, 0.1, 0.0], top_k=2, include_metadata=True)
    assert [m.id for m in r.matches] == ["a", "c"]
    assert r.matches[0].metadata == {"topic": "cats", "year": 2020}
    assert r.matches[0].score == pytest.approx(0.995037, abs=1e-5)
    assert r.namespace == "docs"

    r = idx.query(namespace="docs", vector=[1.0, 0.1, 0.0], top_k=3, filter={"topic": {"$eq": "cats"}, "year": {"$gt": 2020}})
    assert [m.id for m in r.matches] == ["c"]

    up = idx.upsert(vectors=[("d", [0.0, 0.0, 1.0], {"topic": "fish"})], namespace="docs")
    assert up.upserted_count == 1
    r = idx.query(namespace="docs", vector=[0.0, 0.1, 1.0], top_k=1, include_values=True)
    assert r.matches[0].id == "d" and r.matches[0].values == [0.0, 0.0, 1.0]

    f = idx.fetch(ids=["a", "d", "nope"], namespace="docs")
    assert sorted(f.vectors) == ["a", "d"]
    assert f.vectors["d"].metadata == {"topic": "fish"}

    stats = idx.describe_index_stats()
    assert stats.namespaces["docs"].vector_count == 4
    assert stats.total_vector_count == 4
    assert stats.dimension == 3

    idx.delete(ids=["d"], namespace="docs")
    assert idx.describe_index_stats().namespaces["docs"].vector_count == 3

    # By id, and a canned collection answers with its configured results.
    r = idx.query(namespace="docs", id="b", top_k=1)
    assert r.matches[0].id == "b"
    r = idx.query(namespace="canned", vector=[1.0, 0.0, 0.0], top_k=5, include_metadata=True)
    assert [(m.id, m.score) for m in r.matches] == [("x", pytest.approx(0.9))]

    # Reset restores the configured state.
    idx.upsert(vectors=[("e", [0.0, 0.0, 1.0])], namespace="docs")
    assert raw_request("POST", vector_server.url + "/__aimock/reset").status_code == 200
    assert idx.describe_index_stats().namespaces["docs"].vector_count == 3


def test_pinecone_wrong_dimension_is_a_typed_client_error(vector_server):
    from pinecone import Pinecone
    from pinecone.errors.exceptions import ApiError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idx = Pinecone(api_key="pc-test-not-a-real-key").Index(host=vector_server.url + "/vector")
    with pytest.raises(ApiError) as e:
        idx.query(namespace="docs", vector=[1.0, 0.0], top_k=1)
    assert e.value.status_code == 400
    assert "dimension" in str(e.value)


def test_pinecone_reference_routes_over_raw_http(vector_server):
    r = raw_request("GET", vector_server.url + "/vector/describe-index-stats")
    assert r.status_code == 200
    assert r.json()["totalVectorCount"] == 3
    r = raw_request("POST", vector_server.url + "/vector/query", b'{"namespace":"docs","vector":[0,1,0],"topK":1}')
    assert r.json()["matches"][0]["id"] == "b"
    r = raw_request("POST", vector_server.url + "/vector/query", b"{not json")
    assert r.status_code == 400 and r.json()["code"] == 3


# ---------------------------------------------------------------- Qdrant


def test_qdrant_client_collections_query_upsert_retrieve_scroll_delete(vector_server):
    from qdrant_client import QdrantClient, models

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the version check must pass
        client = QdrantClient(url=vector_server.url, prefix="vector", check_compatibility=True)
        client.get_collections()
    names = [c.name for c in client.get_collections().collections]
    assert names == ["canned", "docs"]
    assert client.collection_exists("docs")
    assert not client.collection_exists("nope")

    client.create_collection("pts", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    info = client.get_collection("pts")
    assert info.config.params.vectors.size == 2
    client.upsert(
        "pts",
        points=[
            models.PointStruct(id=1, vector=[1.0, 0.0], payload={"city": "London", "n": 1}),
            models.PointStruct(id=2, vector=[0.5, 0.5], payload={"city": "Paris", "n": 2}),
            models.PointStruct(id=3, vector=[0.0, 1.0], payload={"city": "London", "n": 3}),
        ],
    )
    r = client.query_points("pts", query=[1.0, 0.2], limit=2, with_payload=True)
    assert [p.id for p in r.points] == [1, 2]
    assert r.points[0].score == pytest.approx(1.0)
    assert r.points[0].payload == {"city": "London", "n": 1}

    flt = models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="London"))])
    r = client.query_points("pts", query=[1.0, 0.2], limit=5, query_filter=flt)
    assert [p.id for p in r.points] == [1, 3]

    got = client.retrieve("pts", ids=[3, 99], with_vectors=True)
    assert [(p.id, p.vector) for p in got] == [(3, [0.0, 1.0])]

    page, nxt = client.scroll("pts", limit=2)
    assert [p.id for p in page] == [1, 2] and nxt == 3
    assert client.count("pts").count == 3

    client.delete("pts", points_selector=models.PointIdsList(points=[2]))
    assert client.count("pts").count == 2
    client.delete("pts", points_selector=models.FilterSelector(filter=flt))
    assert client.count("pts").count == 0
    client.delete_collection("pts")
    assert not client.collection_exists("pts")


def test_qdrant_unknown_collection_and_wrong_dimension_raise_the_clients_error(vector_server):
    from qdrant_client import QdrantClient
    from qdrant_client.http.exceptions import UnexpectedResponse

    client = QdrantClient(url=vector_server.url, prefix="vector", check_compatibility=False)
    with pytest.raises(UnexpectedResponse) as e:
        client.query_points("nope", query=[1.0, 0.0, 0.0])
    assert e.value.status_code == 404
    with pytest.raises(UnexpectedResponse) as e:
        client.query_points("docs", query=[1.0, 0.0])
    assert e.value.status_code == 400
    assert "dimension" in str(e.value)


def test_qdrant_legacy_points_search_over_raw_http(vector_server):
    body = json.dumps({"vector": [0.0, 1.0, 0.0], "limit": 2, "with_payload": True}).encode()
    r = raw_request("POST", vector_server.url + "/vector/collections/docs/points/search", body)
    assert r.status_code == 200
    j = r.json()
    assert j["status"] == "ok" and "time" in j
    assert [p["id"] for p in j["result"]] == ["b", "c"]
    assert j["result"][0]["version"] == 0
    assert j["result"][0]["payload"]["topic"] == "dogs"
    r = raw_request("POST", vector_server.url + "/vector/collections/nope/points/search", body)
    assert r.status_code == 404 and "error" in r.json()["status"]


# ---------------------------------------------------------------- Chroma


def test_chromadb_http_client_add_query_get_count_delete(vector_server):
    import chromadb

    client = chromadb.HttpClient(host=vector_server.url + "/vector")
    assert client.heartbeat() >= 0
    col = client.get_or_create_collection("notes", configuration={"hnsw": {"space": "cosine"}})
    col.add(
        ids=["n1", "n2", "n3"],
        embeddings=[[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]],
        metadatas=[{"kind": "a"}, {"kind": "b"}, {"kind": "a"}],
        documents=["one", "two", "three"],
    )
    assert col.count() == 3
    r = col.query(query_embeddings=[[1.0, 0.0]], n_results=2)
    assert r["ids"] == [["n1", "n3"]]
    assert r["documents"] == [["one", "three"]]
    assert r["distances"][0][0] == pytest.approx(0.0, abs=1e-6)
    assert r["distances"][0][1] == pytest.approx(0.4, abs=1e-6)

    r = col.query(query_embeddings=[[0.0, 1.0]], n_results=3, where={"kind": "a"})
    assert r["ids"] == [["n3", "n1"]]

    g = col.get(ids=["n2"], include=["embeddings", "metadatas"])
    assert g["ids"] == ["n2"] and g["metadatas"] == [{"kind": "b"}]
    assert list(g["embeddings"][0]) == [0.0, 1.0]

    col.delete(ids=["n2"])
    assert col.count() == 2
    # The configured collection is there too, by name.
    docs = client.get_collection("docs")
    r = docs.query(query_embeddings=[[0.0, 1.0, 0.0]], n_results=1)
    assert r["ids"] == [["b"]]
    assert r["documents"] == [["dogs bark"]]
    names = sorted(c.name for c in client.list_collections())
    assert names == ["canned", "docs", "notes"]


def test_chromadb_unknown_collection_and_wrong_dimension_are_typed_errors(vector_server):
    import chromadb
    from chromadb.errors import InvalidArgumentError, NotFoundError

    client = chromadb.HttpClient(host=vector_server.url + "/vector")
    with pytest.raises(NotFoundError):
        client.get_collection("missing")
    docs = client.get_collection("docs")
    with pytest.raises(InvalidArgumentError):
        docs.query(query_embeddings=[[1.0, 0.0]], n_results=1)


def test_chroma_reference_v1_routes_over_raw_http(vector_server):
    base = vector_server.url + "/vector/api/v1/collections"
    r = raw_request("GET", base)
    assert [c["name"] for c in r.json()] == ["canned", "docs"]
    r = raw_request("POST", base + "/docs/query", json.dumps({"query_embeddings": [[1, 0, 0]], "n_results": 1}).encode())
    assert r.json()["ids"] == [["a"]]
    r = raw_request("POST", base + "/new/add", json.dumps({"ids": ["z"], "embeddings": [[1, 2]]}).encode())
    assert r.json() is True
    r = raw_request("POST", base + "/nope/query", b'{"query_embeddings": [[1]]}')
    assert r.status_code == 404 and r.json() == {"error": "Collection 'nope' not found"}
    assert raw_request("DELETE", base + "/new").json() == {"status": "ok"}


def test_vector_health_and_journal_name_the_service(vector_server):
    raw_request("POST", vector_server.url + "/vector/query", b'{"namespace":"docs","vector":[0,1,0],"topK":1}')
    h = raw_request("GET", vector_server.url + "/health").json()
    assert h["services"]["vector"]["collections"] == 2
    j = raw_request("GET", vector_server.url + "/__aimock/journal?service=vector").json()
    assert j and j[-1]["service"] == "vector"


# ---------------------------------------------------------------- search, rerank, moderation

SERVICE_FIXTURES = [
    {
        "match": {"endpoint": "search", "userMessage": "rust"},
        "response": {
            "results": [
                {"title": "Rust", "url": "https://www.rust-lang.org", "content": "A language", "score": 0.9},
                {"title": "Book", "url": "https://doc.rust-lang.org/book", "content": "The book", "score": 0.8},
            ],
            "answer": "Rust is a language.",
        },
    },
    {
        "match": {"endpoint": "rerank", "userMessage": "capital"},
        "response": {"results": [{"index": 1, "relevance_score": 0.97}, {"index": 0, "relevance_score": 0.1}]},
    },
    {
        "match": {"endpoint": "moderation", "userMessage": "attack"},
        "response": {"flagged": True, "categories": {"violence": True}},
    },
]


@pytest.fixture
def services_server(start_aimock, cassette_dir, tmp_path):
    write_cassette(cassette_dir, "services.json", SERVICE_FIXTURES)
    cfg = tmp_path / "aimock.json"
    cfg.write_text(json.dumps({"services": {"search": [{"match": "weather", "results": [{"title": "Sunny", "url": "https://w.example", "content": "sun"}]}], "rerank": True, "moderate": True}}))
    return start_aimock(cassette_dir, "--config", str(cfg))


def test_tavily_client_search_from_a_cassette_the_config_and_the_empty_default(services_server):
    from tavily import TavilyClient

    client = TavilyClient(api_key="tvly-test-not-a-real-key", api_base_url=services_server.url)
    r = client.search("learn rust", max_results=1)
    assert r["query"] == "learn rust"
    assert [x["title"] for x in r["results"]] == ["Rust"]
    assert r["answer"] == "Rust is a language."
    r = client.search("weather today")
    assert r["results"][0]["title"] == "Sunny"
    r = client.search("nothing matches this")
    assert r["results"] == [] and r["answer"] is None


def test_cohere_rerank_from_a_fixture_and_by_stable_similarity(services_server):
    import cohere

    co = cohere.ClientV2(api_key=FAKE_KEY, base_url=services_server.url)
    r = co.rerank(model="rerank-v3.5", query="capital of France", documents=["Berlin", "Paris"], top_n=1)
    assert [(x.index, x.relevance_score) for x in r.results] == [(1, 0.97)]
    docs = ["bananas are yellow", "the cat sat on the mat", "a cat and a mat"]
    r = co.rerank(model="rerank-v3.5", query="cat on a mat", documents=docs)
    order = [x.index for x in r.results]
    assert order[-1] == 0 and sorted(order) == [0, 1, 2]
    assert r.results[0].relevance_score >= r.results[1].relevance_score > 0
    again = co.rerank(model="rerank-v3.5", query="cat on a mat", documents=docs)
    assert [x.index for x in again.results] == order


def test_openai_moderations_flagged_by_fixture_and_clean_by_default(services_server):
    from openai import OpenAI

    client = OpenAI(api_key=FAKE_KEY, base_url=services_server.url + "/v1")
    r = client.moderations.create(model="omni-moderation-latest", input="plan an attack")
    assert r.results[0].flagged is True
    assert r.results[0].categories.violence is True
    assert r.results[0].categories.hate is False
    r = client.moderations.create(model="omni-moderation-latest", input=["hello", "good day"])
    assert len(r.results) == 2
    assert not any(x.flagged for x in r.results)
    cats = r.results[0].categories.model_dump(by_alias=True)
    assert len(cats) == 13 and not any(cats.values())
    assert r.results[0].category_applied_input_types.violence == ["text"]


def test_service_misses_are_503_in_each_apis_shape_under_strict(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "services.json", SERVICE_FIXTURES)
    s = start_aimock(cassette_dir, "--strict")
    r = raw_request("POST", s.url + "/search", b'{"query":"zzz"}', {"content-type": "application/json"})
    assert r.status_code == 503 and "error" in r.json()["detail"]
    r = raw_request("POST", s.url + "/v2/rerank", b'{"query":"zzz","documents":["a"]}')
    assert r.status_code == 503 and "message" in r.json()
    r = raw_request("POST", s.url + "/v1/moderations", b'{"input":"zzz"}')
    assert r.status_code == 503 and r.json()["error"]["code"] == "no_fixture_match"
    # A hit still answers.
    r = raw_request("POST", s.url + "/search", b'{"query":"rust"}')
    assert r.status_code == 200 and len(r.json()["results"]) == 2


def test_service_bad_input_gets_each_apis_400(services_server):
    r = raw_request("POST", services_server.url + "/search", b'{"query": 3}')
    assert r.status_code == 400 and "query" in r.json()["detail"]["error"]
    r = raw_request("POST", services_server.url + "/v2/rerank", b'{"query":"q"}')
    assert r.status_code == 400 and "documents" in r.json()["message"]
    r = raw_request("POST", services_server.url + "/v1/moderations", b"{oops")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_services_are_journaled_with_their_provider(services_server):
    raw_request("POST", services_server.url + "/v2/rerank", b'{"query":"q","documents":["a"]}')
    raw_request("POST", services_server.url + "/v2/chat", b'{"model":"m","messages":[{"role":"user","content":"hi"}]}')
    j = raw_request("GET", services_server.url + "/__aimock/journal").json()
    paths = [(e["path"], e.get("provider")) for e in j]
    assert ("/v2/rerank", "cohere") in paths


# ---------------------------------------------------------------- the README's RAG example


def test_readme_rag_example_embeds_retrieves_and_answers_all_from_aimock(start_aimock):
    from openai import OpenAI
    from pinecone import Pinecone

    from conftest import ROOT

    example = ROOT / "examples" / "rag"
    s = start_aimock(None, "--config", "aimock.json", cwd=example)

    llm = OpenAI(api_key=FAKE_KEY, base_url=s.url + "/v1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        index = Pinecone(api_key="pc-test-not-a-real-key").Index(host=s.url + "/vector")

    question = "How long do refunds take?"
    vector = llm.embeddings.create(model="text-embedding-3-small", input=question).data[0].embedding
    hits = index.query(namespace="handbook", vector=vector, top_k=2, include_metadata=True)
    assert [m.id for m in hits.matches] == ["refunds", "shipping"]
    context = "\n".join(m.metadata["text"] for m in hits.matches)
    answer = llm.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Answer from the context."}, {"role": "user", "content": f"{context}\n\nQ: {question}"}],
    )
    assert answer.choices[0].message.content == "Refunds take up to 14 days after we receive your return."
