"""Large media bodies cost the server about their own size, no more.

A 25 MiB upload is hashed as it is parsed, never decoded or copied again; a 25 MiB
speech reply is decoded from the cassette's base64 once and then shared by every reply.
Measured from outside the way an operator would: the process's peak RSS (VmHWM), reset
before each request through /proc/PID/clear_refs so an earlier peak (loading the
cassette) cannot hide a later one.
"""

import base64
import hashlib
from pathlib import Path

import openai
import pytest

from conftest import FAKE_KEY, raw_request, write_cassette

MIB = 1024 * 1024
SIZE = 25 * MIB
# Allocator rounding, the connection's buffers and the parsed request: a fixed sum,
# well under the payload it sits beside.
SLACK = 4 * MIB


def payload(seed: int) -> bytes:
    # Deterministic and incompressible enough: repeated sha256 blocks.
    block = hashlib.sha256(str(seed).encode()).digest() * 32  # 1 KiB
    out = bytearray()
    i = 0
    while len(out) < SIZE:
        out += hashlib.sha256(block + i.to_bytes(4, "little")).digest() * 32
        i += 1
    return bytes(out[:SIZE])


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def reset_peak(pid: int) -> int:
    """Reset VmHWM to the current RSS; returns that RSS in bytes."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return status_kib(pid, "VmRSS") * 1024


def peak(pid: int) -> int:
    return status_kib(pid, "VmHWM") * 1024


@pytest.fixture(scope="module")
def big():
    return {"speech": payload(1), "upload": payload(2)}


def test_a_25_mib_upload_and_a_25_mib_speech_reply_cost_about_their_own_size(start_aimock, cassette_dir, big):
    write_cassette(
        cassette_dir,
        "big.json",
        [
            {"match": {"userMessage": "read the long book", "endpoint": "speech"},
             "response": {"audio": base64.b64encode(big["speech"]).decode(), "format": "mp3"}},
            {"match": {"endpoint": "transcription", "fileDigest": hashlib.sha256(big["upload"]).hexdigest()},
             "response": {"transcription": {"text": "the long upload, heard"}}},
            {"match": {"endpoint": "transcription"}, "response": {"transcription": {"text": "warm"}}},
        ],
    )
    srv = start_aimock(cassette_dir)
    pid = srv.proc.pid
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=FAKE_KEY, max_retries=0, timeout=60)
    # Warm the process (thread stacks, the first connection) on small requests.
    client.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"x" * 1024))
    try:
        reset_peak(pid)
    except OSError as e:  # pragma: no cover - a kernel without clear_refs
        pytest.skip(f"cannot reset the peak RSS here: {e}")

    before = reset_peak(pid)
    t = client.audio.transcriptions.create(model="whisper-1", file=("book.wav", big["upload"]))
    assert t.text == "the long upload, heard"
    raised = peak(pid) - before
    assert raised <= SIZE + SLACK, f"a {SIZE >> 20} MiB upload raised peak RSS by {raised / MIB:.1f} MiB"

    # The first speech reply decodes the audio (its own size, kept for later replies);
    # the next ones share it, so they raise the peak by almost nothing.
    before = reset_peak(pid)
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input="read the long book"
    ) as r:
        assert r.headers["content-type"] == "audio/mpeg"
        assert r.read() == big["speech"]
    raised = peak(pid) - before
    assert raised <= SIZE + SLACK, f"the first 25 MiB speech reply raised peak RSS by {raised / MIB:.1f} MiB"

    before = reset_peak(pid)
    for _ in range(3):
        r = raw_request(
            "POST",
            srv.url + "/v1/audio/speech",
            b'{"model":"tts-1","voice":"alloy","input":"read the long book"}',
            {"content-type": "application/json", "authorization": f"Bearer {FAKE_KEY}"},
            timeout=60,
        )
        assert r.status_code == 200 and r.content == big["speech"]
    raised = peak(pid) - before
    assert raised <= SLACK, f"three more speech replies raised peak RSS by {raised / MIB:.1f} MiB"
