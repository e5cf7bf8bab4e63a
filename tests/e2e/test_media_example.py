"""The README's media example, examples/media/cassettes/media.json, driven through the
official openai and google-genai SDKs exactly as the README shows, so the example and
what the README says about it stay true. Expected values are read from the cassette
itself: editing the example cannot leave this test asserting stale constants."""

import base64
import hashlib
import json
import subprocess

import openai
import pytest
from conftest import FAKE_KEY, ROOT, binary
from google import genai
from google.genai import types
from google.oauth2.credentials import Credentials

CASSETTE = ROOT / "examples" / "media" / "cassettes" / "media.json"


def fixtures():
    return json.loads(CASSETTE.read_text())["fixtures"]


def reply(endpoint, user_message=None):
    """The response of the example fixture for `endpoint` (and user message)."""
    for f in fixtures():
        m = f["match"]
        if m.get("endpoint") == endpoint and m.get("userMessage") == user_message:
            return f["response"], m
    raise AssertionError(f"the example cassette has no {endpoint} fixture for {user_message!r}")


@pytest.fixture
def server(start_aimock):
    # Strict: a request the example does not answer fails loudly instead of falling back.
    return start_aimock(CASSETTE, "--strict")


def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=FAKE_KEY, max_retries=0)


def vertex(server):
    # google-genai sends generate_images / generate_videos to Vertex only; explicit
    # fake credentials keep google-auth from looking for real ones.
    return genai.Client(
        vertexai=True,
        project="test-project",
        location="us-central1",
        credentials=Credentials(token="fake-token"),
        http_options={"base_url": server.url},
    )


def test_the_example_checks_clean_and_holds_every_kind():
    out = subprocess.run([binary(), "check", str(CASSETTE)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(fixtures())} fixture(s): 0 error(s), 0 warning(s)" in out.stdout
    kinds = {k for f in fixtures() for k in f["response"]}
    assert {"image", "audio", "transcription", "video"} <= kinds


def test_image_generate_and_an_edit_told_apart_by_the_uploads_digest(server):
    c = client(server)
    want, _ = reply("image", "a red fox")
    r = c.images.generate(model="gpt-image-1", prompt="a red fox")
    png = base64.b64decode(r.data[0].b64_json)
    assert png == base64.b64decode(want["image"]["b64Json"]) and png.startswith(b"\x89PNG")
    assert r.data[0].revised_prompt == want["image"]["revisedPrompt"]

    # The edit fixture's fileDigest is the SHA-256 (hex) of that PNG: edit what was generated.
    edit, match = reply("image", "add a hat")
    assert match["fileDigest"] == hashlib.sha256(png).hexdigest()
    r = c.images.edit(model="gpt-image-1", image=("fox.png", png, "image/png"), prompt="add a hat")
    assert r.data[0].url == edit["image"]["url"]
    with pytest.raises(openai.APIStatusError) as e:
        c.images.edit(model="gpt-image-1", image=("other.png", png + b"\x00", "image/png"), prompt="add a hat")
    assert e.value.status_code == 503  # another file, no fixture (strict)


def test_speech_whole_and_as_sse(server):
    c = client(server)
    want, _ = reply("speech", "Hello from aimock")
    audio = base64.b64decode(want["audio"])
    r = c.audio.speech.with_raw_response.create(model="gpt-4o-mini-tts", voice="coral", input="Hello from aimock")
    # The fixture's format names its bytes, whatever response_format the request asked.
    assert r.headers["content-type"] == "audio/wav" == f"audio/{want['format']}"
    assert r.content == audio and audio.startswith(b"RIFF")

    with c.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="coral", input="Hello from aimock", stream_format="sse"
    ) as s:
        events = [json.loads(line[len("data: ") :]) for line in s.iter_lines() if line.startswith("data: ")]
    assert [e["type"] for e in events][-1] == "speech.audio.done"
    assert b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta") == audio


def test_transcribing_the_spoken_audio_in_each_format_and_streamed(server):
    c = client(server)
    speech, _ = reply("speech", "Hello from aimock")
    wav = base64.b64decode(speech["audio"])
    want, match = reply("transcription")
    t = want["transcription"]
    # The transcription fixture matches the speech fixture's audio by its digest.
    assert match["fileDigest"] == hashlib.sha256(wav).hexdigest()
    f = ("hello.wav", wav, "audio/wav")

    assert c.audio.transcriptions.create(model="whisper-1", file=f).text == t["text"]
    v = c.audio.transcriptions.create(
        model="whisper-1", file=f, response_format="verbose_json", timestamp_granularities=["word", "segment"]
    )
    assert (v.language, v.duration) == (t["language"], t["duration"])
    assert [s.text for s in v.segments] == [s["text"] for s in t["segments"]]
    assert [w.word for w in v.words] == [w["word"] for w in t["words"]]
    srt = c.audio.transcriptions.create(model="whisper-1", file=f, response_format="srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:00,600\nHello\n\n2\n")
    vtt = c.audio.transcriptions.create(model="whisper-1", file=f, response_format="vtt")
    assert vtt.startswith("WEBVTT\n\n")
    assert c.audio.transcriptions.create(model="whisper-1", file=f, response_format="text").strip() == t["text"]

    events = list(c.audio.transcriptions.create(model="gpt-4o-transcribe", file=f, stream=True))
    assert "".join(e.delta for e in events if e.type == "transcript.text.delta") == t["text"]
    assert events[-1].type == "transcript.text.done" and events[-1].text == t["text"]


def test_a_sora_job_advances_over_polls_then_downloads(server):
    c = client(server)
    want, _ = reply("video", "a paper boat")
    v = c.videos.create(model="sora-2", prompt="a paper boat", seconds="4")
    seen = [(v.status, v.progress)]
    while v.status not in ("completed", "failed") and len(seen) < 10:
        v = c.videos.retrieve(v.id)
        seen.append((v.status, v.progress))
    assert v.id == want["video"]["id"]
    assert seen == [("queued", 0), ("in_progress", 50), ("completed", 100)]
    assert c.videos.download_content(v.id).content == base64.b64decode(want["video"]["b64"])


def test_imagen_answers_from_the_same_image_fixture(server):
    want, _ = reply("image", "a red fox")
    c = vertex(server)  # kept in a name: a dropped client closes its connection pool
    r = c.models.generate_images(
        model="imagen-3.0-generate-002", prompt="a red fox", config=types.GenerateImagesConfig(number_of_images=2)
    )
    assert [g.image.image_bytes for g in r.generated_images] == [base64.b64decode(want["image"]["b64Json"])] * 2
    assert r.generated_images[0].image.mime_type == "image/png"


def test_veo_answers_from_the_same_video_fixture(server):
    want, _ = reply("video", "a paper boat")
    c = vertex(server)
    op = c.models.generate_videos(model="veo-2.0-generate-001", prompt="a paper boat")
    assert not op.done and op.name.endswith("/operations/" + want["video"]["id"])
    op = c.operations.get(op)
    assert op.done
    video = op.response.generated_videos[0].video
    assert video.uri == want["video"]["url"]
    assert video.video_bytes == base64.b64decode(want["video"]["b64"])
