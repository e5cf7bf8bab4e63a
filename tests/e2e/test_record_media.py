"""Record round trips of the media surfaces with the official openai SDK: record through a
fake upstream that checks it received the uploads' bytes unchanged, check the cassette,
then replay strictly with no upstream."""

import base64
import json

import openai
from conftest import FAKE_KEY, wait_for_fixtures

# Not UTF-8: a reader that turned the upload into text would change these bytes.
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\xff\xfe\xfd\x80\x81\xc3\x28" + bytes(range(256)) * 8
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8" + bytes(range(255, -1, -1)) * 4
SPEECH = bytes((i * 13) % 256 for i in range(50_000))
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\xff" + bytes(range(256)) * 16

CREATED = {
    "id": "video_rec_1",
    "object": "video",
    "created_at": 1760000000,
    "status": "queued",
    "completed_at": None,
    "error": None,
    "expires_at": None,
    "model": "sora-2",
    "progress": 0,
    "prompt": "a cat on a skateboard",
    "remixed_from_video_id": None,
    "seconds": "4",
    "size": "720x1280",
}
COMPLETED = dict(CREATED, status="completed", progress=100, completed_at=1760000090, expires_at=1760086490)


def client(url):
    return openai.OpenAI(base_url=url + "/v1", api_key=FAKE_KEY, max_retries=0)


def upload_of(seen, path):
    """The body the fake upstream received on `path` (the last one)."""
    return [s for s in seen if s[1].split("?")[0] == path][-1][3]


def script_all(up):
    up.script(
        "/v1/images/generations",
        json.dumps(
            {
                "created": 1760000001,
                "background": "opaque",
                "data": [{"b64_json": base64.b64encode(PNG).decode()}],
                "output_format": "png",
                "quality": "low",
                "size": "1024x1024",
                "usage": {"input_tokens": 9, "output_tokens": 272, "total_tokens": 281},
            }
        ),
    )
    up.script("/v1/images/edits", json.dumps({"created": 1760000002, "data": [{"url": "https://img.example/edited.png"}]}))
    up.script("/v1/audio/speech", SPEECH, content_type="audio/wav", chunk=4096)
    up.script("/v1/videos", json.dumps(CREATED))
    up.script("/v1/videos/video_rec_1", json.dumps(COMPLETED))
    up.script("/v1/videos/video_rec_1/content", MP4, content_type="video/mp4", chunk=1000)


def exercise(c, up=None):
    """Every call, as a user makes it; returns what each answered."""
    out = {}
    img = c.images.generate(model="gpt-image-1", prompt="a lighthouse at night")
    out["image"] = (base64.b64decode(img.data[0].b64_json), img.size, img.quality, img.usage.total_tokens)
    edit = c.images.edit(model="gpt-image-1", image=("in.png", PNG, "image/png"), prompt="make it snow")
    out["edit"] = edit.data[0].url
    speech = c.audio.speech.with_raw_response.create(model="tts-1", voice="alloy", input="read me", response_format="wav")
    out["speech"] = (speech.headers["content-type"], speech.content)
    if up:
        up.script("/v1/audio/transcriptions", json.dumps({"text": "Recorded words.", "usage": {"type": "duration", "seconds": 2}}))
    t = c.audio.transcriptions.create(model="whisper-1", file=("talk.wav", AUDIO, "audio/wav"))
    out["json"] = t.text
    if up:
        up.script(
            "/v1/audio/transcriptions",
            "1\n00:00:00,000 --> 00:00:02,000\nRecorded words.\n\n",
            content_type="text/plain; charset=utf-8",
        )
    out["srt"] = c.audio.transcriptions.create(model="whisper-1", file=("talk.wav", AUDIO, "audio/wav"), response_format="srt")
    v = c.videos.create(model="sora-2", prompt="a cat on a skateboard")
    statuses = [v.status]
    while v.status not in ("completed", "failed") and len(statuses) < 10:
        v = c.videos.retrieve(v.id)
        statuses.append(v.status)
    out["video"] = (v.id, statuses, v.progress, v.completed_at)
    out["content"] = c.videos.download_content(v.id).content
    return out


def test_media_record_then_strict_replay(start_aimock, cassette_dir, fake_upstream):
    script_all(fake_upstream)
    rec = start_aimock(cassette_dir, "--provider-openai", fake_upstream.url, command="record")
    recorded = exercise(client(rec.url), fake_upstream)

    # The uploads went upstream byte for byte.
    assert AUDIO in upload_of(fake_upstream.seen, "/v1/audio/transcriptions")
    assert PNG in upload_of(fake_upstream.seen, "/v1/images/edits")
    # ... and the client got the upstream's bytes.
    assert recorded["speech"] == ("audio/wav", SPEECH)
    assert recorded["content"] == MP4
    assert recorded["video"] == ("video_rec_1", ["queued", "completed"], 100, 1760000090)

    path = cassette_dir / "recorded" / "openai.json"
    wait_for_fixtures(path, 6)
    rec.stop()
    doc = json.loads(path.read_text())
    fixtures = doc["fixtures"]
    assert len(fixtures) == 6
    by_endpoint = {}
    for f in fixtures:
        by_endpoint.setdefault(f["match"]["endpoint"], []).append(f)
    speech = by_endpoint["speech"][0]
    assert speech["match"] == {"userMessage": "read me", "model": "tts-1", "endpoint": "speech"}
    assert speech["response"]["format"] == "wav"
    assert base64.b64decode(speech["response"]["audio"]) == SPEECH
    gen, edit = by_endpoint["image"]
    assert base64.b64decode(gen["response"]["image"]["b64Json"]) == PNG
    assert gen["response"]["outputFormat"] == "png"
    assert edit["match"]["fileDigest"] == __import__("hashlib").sha256(PNG).hexdigest()
    formats = sorted(f["match"]["responseFormat"] for f in by_endpoint["transcription"])
    assert formats == ["json", "srt"]
    video = by_endpoint["video"][0]["response"]["video"]
    assert [p["status"] for p in video["polls"]] == ["queued", "completed"]
    assert base64.b64decode(video["b64"]) == MP4 and video["contentType"] == "video/mp4"
    assert FAKE_KEY not in path.read_text()

    replay = start_aimock(cassette_dir, "--strict")
    assert exercise(client(replay.url)) == recorded


def test_a_speech_stream_records_as_audio_in_the_asked_format(start_aimock, cassette_dir, fake_upstream):
    chunks = [SPEECH[i : i + 8000] for i in range(0, len(SPEECH), 8000)]
    sse = "".join(
        "data: " + json.dumps({"type": "speech.audio.delta", "audio": base64.b64encode(c).decode()}) + "\n\n" for c in chunks
    )
    sse += "data: " + json.dumps({"type": "speech.audio.done", "usage": {"input_tokens": 2, "output_tokens": 40, "total_tokens": 42}}) + "\n\n"
    fake_upstream.script("/v1/audio/speech", sse, content_type="text/event-stream", chunk=3000)
    rec = start_aimock(cassette_dir, "--provider-openai", fake_upstream.url, command="record")
    with client(rec.url).audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="coral", input="stream me", stream_format="sse", response_format="opus"
    ) as r:
        got = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    assert len(got) == len(chunks) + 1
    doc = wait_for_fixtures(cassette_dir / "recorded" / "openai.json", 1)
    rec.stop()
    resp = doc["fixtures"][0]["response"]
    assert base64.b64decode(resp["audio"]) == SPEECH
    assert resp["format"] == "opus"
    assert resp["usage"]["total_tokens"] == 42

    replay = start_aimock(cassette_dir, "--strict")
    whole = client(replay.url).audio.speech.with_raw_response.create(
        model="gpt-4o-mini-tts", voice="coral", input="stream me", response_format="opus"
    )
    assert whole.headers["content-type"] == "audio/opus"
    assert whole.content == SPEECH
