"""Finding the aimock binary and running it as a child process.

Scope: where the binary comes from (``AIMOCK_BIN``, then ``PATH``, then ``cargo build``
in the aimock checkout the tests run from), starting it on 127.0.0.1 port 0 and
reading the port it bound from its first line of output, the control API over plain
HTTP, and stopping it. Not here: pytest (``plugin``), what a test sees (``client``).

Port 0 with the bound address read back, rather than a free port picked here and
passed in: a picked port can be taken by someone else between the pick and the bind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterable, Optional, Sequence

READY_PREFIX = "aimock listening on "


class AimockError(RuntimeError):
    """aimock could not be found or started, or the control API refused a call."""


def _checkout_of(start: Path) -> Optional[Path]:
    """The aimock source checkout ``start`` is in: the nearest ancestor whose
    Cargo.toml declares the package ``aimock``."""
    for d in [start, *start.parents]:
        manifest = d / "Cargo.toml"
        try:
            text = manifest.read_text()
        except OSError:
            continue
        if any(line.replace(" ", "") == 'name="aimock"' for line in text.splitlines()):
            return d
    return None


def find_binary(rootdir: Path, env: Optional[dict] = None) -> str:
    """The aimock binary: ``AIMOCK_BIN``, else ``aimock`` on ``PATH``, else built with
    ``cargo build`` when the tests run inside an aimock checkout."""
    env = os.environ if env is None else env
    explicit = env.get("AIMOCK_BIN")
    if explicit:
        if not Path(explicit).is_file():
            raise AimockError(f"AIMOCK_BIN={explicit} is not a file")
        return explicit
    on_path = shutil.which("aimock", path=env.get("PATH"))
    if on_path:
        return on_path
    checkout = _checkout_of(Path(rootdir).resolve())
    if checkout is None:
        raise AimockError(
            "aimock binary not found: set AIMOCK_BIN, put `aimock` on PATH, "
            "or run the tests inside an aimock checkout (it is built with cargo)"
        )
    cargo = shutil.which("cargo", path=env.get("PATH")) or "cargo"
    build = subprocess.run(
        [cargo, "build", "--bin", "aimock"],
        cwd=checkout,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    built = checkout / "target" / "debug" / "aimock"
    if build.returncode != 0 or not built.is_file():
        raise AimockError(f"`cargo build --bin aimock` in {checkout} failed:\n{build.stdout[-4000:]}")
    return str(built)


class AimockServer:
    """One running aimock process, on 127.0.0.1 with the port it picked."""

    def __init__(
        self,
        binary: str,
        cassettes: Sequence[Path] = (),
        record_upstreams: Optional[dict] = None,
        extra_args: Iterable[str] = (),
        cwd: Optional[Path] = None,
    ):
        self.recording = record_upstreams is not None
        args = [binary, "record" if self.recording else "replay", "--host", "127.0.0.1", "--port", "0"]
        # Enough history for a test to read its own entries back in a long session.
        args += ["--journal-max", "10000"]
        for c in cassettes:
            args += ["--cassettes", str(c)]
        for provider, url in (record_upstreams or {}).items():
            args += [f"--provider-{provider}", url]
        args += list(extra_args)
        self.args = args
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=cwd,
        )
        line = self.proc.stdout.readline()
        if not line.startswith(READY_PREFIX):
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise AimockError(f"aimock did not start ({' '.join(args)}): {line.strip()!r}\n{err[-4000:]}")
        self.url = line.strip()[len(READY_PREFIX) :]
        # Both pipes drained for the life of the process, so a chatty log never
        # blocks the server; the log is kept for failure messages.
        self.log_lines: list = []
        self._drains = [
            threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stdout,), daemon=True),
        ]
        for t in self._drains:
            t.start()

    def _drain(self, pipe):
        for line in pipe:
            self.log_lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.log_lines)

    def control(self, method: str, path: str, body=None, headers: Optional[dict] = None, ok=(200,)):
        """Call the control API; the decoded JSON answer (``None`` for an empty body)."""
        data = None if body is None else json.dumps(body).encode()
        h = {"content-type": "application/json"}
        token = os.environ.get("AIMOCK_CONTROL_TOKEN")
        if token:
            h["authorization"] = f"Bearer {token}"
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        if status not in ok:
            raise AimockError(f"{method} {path} answered {status}: {raw.decode(errors='replace')[:2000]}")
        return json.loads(raw) if raw else None

    def stop(self, timeout: float = 10) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self._drains:
            t.join(timeout=2)
        return self.proc.returncode
