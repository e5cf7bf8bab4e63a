"""What one test sees: its test id, its base URLs, the environment the official SDKs
read, and helpers over aimock's control API scoped to it.

Every base URL carries the test-id path prefix (``/__test/<id>``), which aimock takes
off and turns into the request's test id: sequence counters, chaos and recordings are
per test without the SDK having to send an ``X-Test-Id`` header.

Not here: starting the server (``server``), pytest wiring (``plugin``).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Dict, List, Optional

from .server import AimockError, AimockServer

#: The key every SDK gets while replaying, unless the environment already has one.
FAKE_KEY = "sk-test-not-a-real-key"

#: The test-id path prefix aimock strips.
TEST_PREFIX = "/__test/"

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_MAX_ID = 120


def sanitize_test_id(nodeid: str) -> str:
    """A test id from a pytest node id, safe in a URL path segment:
    ``tests/test_chat.py::test_hi[a b]`` becomes ``tests-test_chat-py-test_hi-a-b``
    (which is also the directory a recording of it goes to, lower-cased).
    Long ids keep their start and gain a short hash of the full node id."""
    tid = _UNSAFE.sub("-", nodeid).strip("-") or "test"
    if len(tid) > _MAX_ID:
        digest = hashlib.sha256(nodeid.encode()).hexdigest()[:10]
        tid = f"{tid[: _MAX_ID - 11]}-{digest}"
    return tid


def base_urls(prefixed: str) -> Dict[str, str]:
    """The base URL each SDK wants, given ``http://HOST:PORT/__test/<id>``."""
    return {
        "openai": prefixed + "/v1",
        "azure": prefixed,
        "anthropic": prefixed,
        "gemini": prefixed,
        "vertexai": prefixed,
        "bedrock": prefixed,
        "cohere": prefixed,
        "ollama": prefixed,
    }


def sdk_environment(prefixed: str, test_id: str) -> Dict[str, str]:
    """The base-URL variables the official SDKs read, pointed at aimock."""
    urls = base_urls(prefixed)
    return {
        "AIMOCK_URL": prefixed,
        "AIMOCK_TEST_ID": test_id,
        # openai (and LangChain, LiteLLM, ... through it)
        "OPENAI_BASE_URL": urls["openai"],
        # openai.AzureOpenAI appends /openai/deployments/<name>/...
        "AZURE_OPENAI_ENDPOINT": urls["azure"],
        # anthropic
        "ANTHROPIC_BASE_URL": urls["anthropic"],
        # google-genai reads these when no http_options.base_url is given
        "GOOGLE_GEMINI_BASE_URL": urls["gemini"],
        "GOOGLE_VERTEX_BASE_URL": urls["vertexai"],
        # boto3 / botocore's service-specific endpoint variable
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": urls["bedrock"],
        # cohere: read when the cohere module is imported (a default argument), so a
        # client built in the test should pass base_url=aimock.base_url("cohere")
        "CO_API_URL": urls["cohere"],
        # ollama.Client() reads it when built (the module-level functions use a client
        # built at import)
        "OLLAMA_HOST": urls["ollama"],
    }


def fake_credentials(environ) -> Dict[str, str]:
    """Plainly fake credentials for every SDK whose variable is unset, so a client
    built from the environment starts. Only while replaying: a recording test needs
    the real ones."""
    out = {}
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "CO_API_KEY", "AZURE_OPENAI_API_KEY"):
        if not environ.get(name):
            out[name] = FAKE_KEY
    if not environ.get("GEMINI_API_KEY") and not environ.get("GOOGLE_API_KEY"):
        out["GEMINI_API_KEY"] = FAKE_KEY
    if not environ.get("OPENAI_API_VERSION"):
        out["OPENAI_API_VERSION"] = "2024-10-21"
    if not environ.get("AWS_ACCESS_KEY_ID"):
        out["AWS_ACCESS_KEY_ID"] = "test-not-a-real-key"
        out["AWS_SECRET_ACCESS_KEY"] = "test-not-a-real-secret"
    if not environ.get("AWS_REGION") and not environ.get("AWS_DEFAULT_REGION"):
        out["AWS_DEFAULT_REGION"] = "us-east-1"
    return out


class Aimock:
    """The ``aimock`` fixture: one test's view of the session's server."""

    def __init__(self, server: AimockServer, test_id: str, recording: bool = False):
        self.server = server
        self.test_id = test_id
        #: Whether this test's misses go to the real providers and are recorded.
        self.recording = recording
        #: ``http://HOST:PORT/__test/<id>``: the server under this test's id.
        self.url = server.url + TEST_PREFIX + test_id
        #: The server itself, without the test id (the control API lives here).
        self.server_url = server.url
        #: The variables exported for this test.
        self.env: Dict[str, str] = {}
        self._chaos_set = False

    def base_url(self, provider: str = "openai") -> str:
        """The base URL to hand an SDK for ``provider`` (openai, azure, anthropic,
        gemini, vertexai, bedrock, cohere, ollama)."""
        try:
            return base_urls(self.url)[provider]
        except KeyError:
            raise ValueError(f"unknown provider {provider!r}; one of {sorted(base_urls(''))}") from None

    # -- fixtures -----------------------------------------------------------------

    def add_fixtures(self, fixtures: List[Dict[str, Any]]) -> int:
        """Add fixtures in the cassette format; they are appended (lowest priority) and
        stay for the rest of the session, so give them a match only this test sends."""
        return self.server.control("POST", "/__aimock/fixtures", {"fixtures": list(fixtures)})["added"]

    def add_fixture(self, match: Optional[Dict[str, Any]] = None, response: Optional[Dict[str, Any]] = None, **extra) -> int:
        """One fixture: ``add_fixture({"userMessage": "hi"}, {"content": "Hello"})``;
        other fixture keys (``latency``, ``chunkSize``, ``chaos``, ...) as keywords."""
        entry = {"match": match or {}, "response": response or {}}
        entry.update(extra)
        return self.add_fixtures([entry])

    def on_message(self, user_message: str, content: Optional[str] = None, **response) -> int:
        """Shorthand: answer requests whose last user message contains ``user_message``."""
        if content is not None:
            response["content"] = content
        return self.add_fixture({"userMessage": user_message}, response)

    # -- journal ------------------------------------------------------------------

    def journal(self, all_tests: bool = False, **filters) -> List[Dict[str, Any]]:
        """This test's journal entries (every test's with ``all_tests=True``), oldest
        first; ``filters`` are the journal's query parameters (``path``, ``status``,
        ``method``, ``provider``, ``limit``, ...)."""
        params = {k: str(v) for k, v in filters.items()}
        if not all_tests:
            params["testId"] = self.test_id
        from urllib.parse import urlencode

        q = ("?" + urlencode(params)) if params else ""
        return self.server.control("GET", "/__aimock/journal" + q)

    def requests(self) -> List[Dict[str, Any]]:
        """The request bodies aimock received in this test, as it normalised them."""
        return [e.get("body") for e in self.journal()]

    def misses(self) -> List[Dict[str, Any]]:
        """This test's journal entries that no fixture answered."""
        return [e for e in self.journal() if (e.get("response") or {}).get("miss")]

    def assert_no_miss(self) -> None:
        """Fail when any request of this test matched no fixture."""
        missed = self.misses()
        if missed:
            lines = [f"  {e.get('method')} {e.get('path')}: {e['response']['miss']}" for e in missed]
            raise AssertionError(f"aimock: {len(missed)} request(s) of test id {self.test_id!r} matched no fixture:\n" + "\n".join(lines))

    # -- errors and chaos ---------------------------------------------------------

    def queue_error(self, status: int = 500, message: str = "Injected error", type: Optional[str] = None, code: Optional[str] = None) -> None:
        """Answer the server's next provider request, whichever test sends it, with this
        error in the provider's shape (``openai.RateLimitError`` for 429, ...)."""
        body: Dict[str, Any] = {"message": message}
        if type is not None:
            body["type"] = type
        if code is not None:
            body["code"] = code
        self.server.control("POST", "/__aimock/error", {"status": status, "body": body})

    def chaos(self, drop: Optional[float] = None, malformed: Optional[float] = None, disconnect: Optional[float] = None) -> Dict[str, Any]:
        """Set this test's chaos rates (0..1), replacing any set before; cleared when
        the test ends. Uses ``POST /__aimock/chaos`` scoped by ``X-Test-Id``."""
        body = {}
        for key, rate in (("dropRate", drop), ("malformedRate", malformed), ("disconnectRate", disconnect)):
            if rate is not None:
                body[key] = rate
        try:
            out = self.server.control("POST", "/__aimock/chaos", body, headers={"x-test-id": self.test_id})
        except AimockError as e:
            raise AimockError(f"this aimock has no run-time chaos (POST /__aimock/chaos): {e}") from None
        self._chaos_set = True
        return out

    def clear_chaos(self) -> None:
        """Remove this test's chaos rates."""
        if self._chaos_set:
            self.server.control("DELETE", "/__aimock/chaos", headers={"x-test-id": self.test_id}, ok=(200, 204, 404))
            self._chaos_set = False

    def reset_journal(self) -> None:
        """Empty the server's journal (every test's entries)."""
        self.server.control("POST", "/__aimock/reset/journal")
