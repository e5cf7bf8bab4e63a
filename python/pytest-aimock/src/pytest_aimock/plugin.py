"""The pytest plugin (entry point ``pytest11: aimock``).

- ``aimock_server`` (session): the aimock process, started once, on first use, on
  127.0.0.1 port 0 with the configured cassettes.
- ``aimock`` (function): the test's own test id (from its node id) and base URLs with
  the ``/__test/<id>`` prefix, exported as the variables the official SDKs read
  (``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL``, ...; fake keys where unset), and
  helpers over the control API (see ``pytest_aimock.client.Aimock``).
- ``@pytest.mark.aimock(record=True)``: the test talks to a second aimock in record
  mode (started on first use, same cassettes), which forwards misses to the upstreams
  from ``--aimock-upstream`` / ini ``aimock_upstreams`` / env ``AIMOCK_UPSTREAMS`` and
  saves them under ``<cassettes>/recorded/<test id>/``. ``--aimock-record`` records
  every test instead.
- ``@pytest.mark.aimock(no_miss=True)`` (or ``--aimock-no-miss`` / ini
  ``aimock_no_miss``): the test fails when the journal shows a request of its test id
  that no fixture answered.

A marked test gets the ``aimock`` fixture without asking for it; ini ``aimock_autouse``
gives it to every test. Rejected alternative for recording: switching the one server
into record mode for a test, which would make every test running at the same time
(xdist aside, a background thread) record as well.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from .client import Aimock, fake_credentials, sanitize_test_id, sdk_environment
from .server import AimockError, AimockServer, find_binary

_SERVERS = pytest.StashKey["_Servers"]()
_HANDLE = pytest.StashKey[Aimock]()


def pytest_addoption(parser):
    group = parser.getgroup("aimock", "aimock mock server")
    group.addoption(
        "--aimock-cassettes",
        action="append",
        default=[],
        metavar="PATH",
        help="cassette file or directory for aimock (repeatable; overrides ini aimock_cassettes)",
    )
    group.addoption(
        "--aimock-upstream",
        action="append",
        default=[],
        metavar="PROVIDER=URL",
        help="upstream a recording test forwards to, e.g. openai=https://api.openai.com (repeatable)",
    )
    group.addoption("--aimock-record", action="store_true", help="record every test through the upstreams")
    group.addoption("--aimock-no-miss", action="store_true", help="fail a test when any of its requests matched no fixture")
    parser.addini("aimock_cassettes", type="paths", help="cassette files or directories for aimock")
    parser.addini("aimock_upstreams", type="linelist", help="PROVIDER=URL lines for recording tests")
    parser.addini("aimock_args", type="args", help="extra aimock command-line arguments")
    parser.addini("aimock_no_miss", type="bool", default=False, help="fail a test when any of its requests matched no fixture")
    parser.addini("aimock_autouse", type="bool", default=False, help="give every test the aimock fixture")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "aimock(record=False, no_miss=False): use the aimock mock server; record=True records this "
        "test through the configured upstreams, no_miss=True fails it on any unmatched request",
    )
    config.stash[_SERVERS] = _Servers(config)


def pytest_unconfigure(config):
    servers = config.stash.get(_SERVERS, None)
    if servers is not None:
        servers.stop()


def _parse_upstreams(items: List[str], source: str) -> Dict[str, str]:
    out = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        provider, sep, url = item.partition("=")
        if not sep or not provider.strip() or not url.strip():
            raise pytest.UsageError(f"aimock: {source} entry {item!r} is not PROVIDER=URL")
        out[provider.strip()] = url.strip()
    return out


class _Servers:
    """The session's aimock processes (replay, and record when a test asks), started on
    first use, and the test ids handed out so far."""

    def __init__(self, config):
        self.config = config
        self._replay: Optional[AimockServer] = None
        self._record: Optional[AimockServer] = None
        self._binary: Optional[str] = None
        self._ids: Dict[str, str] = {}

    def cassettes(self) -> List[Path]:
        cli = self.config.getoption("aimock_cassettes")
        if cli:
            return [Path(self.config.invocation_params.dir, c).resolve() for c in cli]
        return [Path(p) for p in self.config.getini("aimock_cassettes")]

    def upstreams(self) -> Dict[str, str]:
        out = _parse_upstreams(os.environ.get("AIMOCK_UPSTREAMS", "").replace(",", " ").split(), "AIMOCK_UPSTREAMS")
        out.update(_parse_upstreams(self.config.getini("aimock_upstreams"), "ini aimock_upstreams"))
        out.update(_parse_upstreams(self.config.getoption("aimock_upstream"), "--aimock-upstream"))
        return out

    def record_all(self) -> bool:
        return bool(self.config.getoption("aimock_record"))

    def binary(self) -> str:
        if self._binary is None:
            self._binary = find_binary(Path(str(self.config.rootpath)))
        return self._binary

    def _start(self, record: bool) -> AimockServer:
        upstreams = None
        cassettes = self.cassettes()
        if record:
            upstreams = self.upstreams()
            if not upstreams:
                raise AimockError(
                    "aimock: a recording test needs upstreams: --aimock-upstream openai=https://api.openai.com, "
                    "ini aimock_upstreams, or env AIMOCK_UPSTREAMS"
                )
            if not cassettes:
                raise AimockError("aimock: a recording test needs a cassette directory to save into (ini aimock_cassettes)")
            cassettes[0].mkdir(parents=True, exist_ok=True)
        return AimockServer(
            self.binary(),
            cassettes=cassettes,
            record_upstreams=upstreams,
            extra_args=self.config.getini("aimock_args"),
            cwd=Path(str(self.config.rootpath)),
        )

    def replay(self) -> AimockServer:
        if self.record_all():
            return self.record()
        if self._replay is None:
            self._replay = self._start(record=False)
        return self._replay

    def record(self) -> AimockServer:
        if self._record is None:
            self._record = self._start(record=True)
        return self._record

    def test_id(self, nodeid: str) -> str:
        """The node id's test id, distinct from every other handed out this session."""
        tid = sanitize_test_id(nodeid)
        owner = self._ids.setdefault(tid, nodeid)
        if owner != nodeid:
            import hashlib

            tid = f"{tid}-{hashlib.sha256(nodeid.encode()).hexdigest()[:8]}"
            self._ids.setdefault(tid, nodeid)
        return tid

    def stop(self):
        for s in (self._replay, self._record):
            if s is not None:
                s.stop()
        self._replay = self._record = None


def _marker_kwargs(node) -> dict:
    m = node.get_closest_marker("aimock")
    return dict(m.kwargs) if m is not None else {}


@pytest.fixture(scope="session")
def aimock_server(pytestconfig) -> AimockServer:
    """The session's aimock server (started once; stopped at the end of the session)."""
    try:
        return pytestconfig.stash[_SERVERS].replay()
    except AimockError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def aimock(request, monkeypatch) -> Aimock:
    """This test's aimock: its own test id, base URLs and SDK environment."""
    servers: _Servers = request.config.stash[_SERVERS]
    record = bool(_marker_kwargs(request.node).get("record")) or servers.record_all()
    try:
        server = servers.record() if record else servers.replay()
    except AimockError as e:
        pytest.fail(str(e), pytrace=False)
    handle = Aimock(server, servers.test_id(request.node.nodeid), recording=record)
    env = sdk_environment(handle.url, handle.test_id)
    if not record:
        env.update(fake_credentials(os.environ))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    handle.env = env
    request.node.stash[_HANDLE] = handle
    yield handle
    handle.clear_chaos()


@pytest.fixture(autouse=True)
def _aimock_auto(request):
    """Give a marked test (or, with ini aimock_autouse, every test) the aimock fixture."""
    if request.node.get_closest_marker("aimock") is not None or request.config.getini("aimock_autouse"):
        request.getfixturevalue("aimock")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    handle = item.stash.get(_HANDLE, None)
    if handle is not None:
        no_miss = _marker_kwargs(item).get("no_miss")
        if no_miss is None:
            no_miss = item.config.getoption("aimock_no_miss") or item.config.getini("aimock_no_miss")
        if no_miss:
            handle.assert_no_miss()
    return result
