"""The official openai and google-genai SDKs against aimock replay: images, speech,
transcription, translation and video jobs, the way users call them."""

import base64
import hashlib
import json

import openai
import pytest
from conftest import FAKE_KEY, raw_request, write_cassette
from google import genai
from google.oauth2.credentials import Credentials
from google.genai import types

# Bytes that are not UTF-8 anywhere, so a lossy reader would change them.
AUDIO_A = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\xff\xfe\x80\x00" + bytes(range(256))
AUDIO_B = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00" + bytes(range(255, -1, -1))
PNG_A = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
PNG_B = b"\x89PNG\r\n\x1a\n" + bytes(range(100, 0, -1))
SPEECH = bytes((i * 7) % 256 for i in range(30_000))
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


FIXTURES = [
    # A chat fixture that would match everything by text: it must never answer media.
    {"match": {"userMessage": "a"}, "response": {"content": "chat text"}},
    {
        "match": {"userMessage": "a red fox", "endpoint": "image"},
        "response": {"image": {"url": "https://img.example/fox.png", "b64Json": b64(PNG_A), "revisedPrompt": "A red fox in snow"}},
    },
    # Endpoint-less: answers image requests only, by its shape.
    {
        "match": {"userMessage": "two owls"},
        "response": {"images": [{"b64Json": b64(PNG_A)}, {"b64Json": b64(PNG_B)}], "size": "1024x1024", "quality": "high"},
    },
    {"match": {"userMessage": "add a hat", "fileDigest": sha(PNG_A)}, "response": {"image": {"b64Json": b64(PNG_B)}}},
    {"match": {"userMessage": "add a hat", "fileDigest": sha(PNG_B)}, "response": {"image": {"b64Json": b64(PNG_A)}}},
    {"match": {"userMessage": "read this aloud", "endpoint": "speech"}, "response": {"audio": b64(SPEECH), "format": "wav"}},
    {"match": {"userMessage": "any format"}, "response": {"audio": b64(SPEECH)}},
    {
        "match": {"endpoint": "transcription", "fileDigest": sha(AUDIO_A)},
        "response": {
            "transcription": {
                "text": "Hello from file A.",
                "language": "english",
                "duration": 2.5,
                "segments": [
                    {"id": 0, "start": 0.0, "end": 1.2, "text": " Hello"},
                    {"id": 1, "start": 1.2, "end": 2.5, "text": " from file A."},
                ],
                "words": [{"word": "Hello", "start": 0.0, "end": 0.5}],
            }
        },
    },
    {
        "match": {"endpoint": "transcription", "fileDigest": sha(AUDIO_B)},
        "response": {"transcription": {"text": "Greetings from file B.", "duration": 1.0}},
    },
    {
        "match": {"endpoint": "translation"},
        "response": {"transcription": {"text": "Good morning.", "language": "french", "duration": 1.5}},
    },
    {
        "match": {"userMessage": "a dog surfing", "endpoint": "video"},
        "response": {"video": {"id": "video_fixture_1", "status": "completed", "b64": b64(MP4)}},
    },
    {
        "match": {"userMessage": "a broken dream", "endpoint": "video"},
        "response": {"video": {"id": "video_fixture_2", "status": "failed", "error": "content policy"}},
    },
    {"match": {"userMessage": "a lighthouse", "model": "imagen-3.0-generate-002"}, "response": {"image": {"b64Json": b64(PNG_A)}}},
    {
        "match": {"userMessage": "waves at dusk", "endpoint": "video"},
        "response": {"video": {"id": "op-waves", "status": "completed", "url": "https://video.example/waves.mp4"}},
    },
    {"match": {"userMessage": "quota", "endpoint": "speech"}, "response": {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}, "status": 429}},
]


@pytest.fixture
def server(start_aimock, cassette_dir):
    write_cassette(cassette_dir, "media.json", FIXTURES)
    return start_aimock(cassette_dir, "--max-body-bytes", "200000")


def client(server, **kw):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=FAKE_KEY, max_retries=0, **kw)


# ---------------------------------------------------------------- images


def test_images_generate_returns_the_fixture_image_and_revised_prompt(server):
    r = client(server).images.generate(model="dall-e-3", prompt="a red fox")
    assert r.data[0].url == "https://img.example/fox.png"
    assert base64.b64decode(r.data[0].b64_json) == PNG_A
    assert r.data[0].revised_prompt == "A red fox in snow"
    assert r.created > 0


def test_images_generate_honours_response_format_and_n(server):
    r = client(server).images.generate(prompt="a red fox", response_format="b64_json", n=3)
    assert len(r.data) == 3
    assert all(d.url is None and base64.b64decode(d.b64_json) == PNG_A for d in r.data)


def test_an_endpoint_less_image_fixture_answers_by_shape_with_its_extras(server):
    r = client(server).images.generate(model="gpt-image-1", prompt="two owls")
    assert [base64.b64decode(d.b64_json) for d in r.data] == [PNG_A, PNG_B]
    assert r.size == "1024x1024" and r.quality == "high"


def test_a_chat_fixture_never_answers_an_image_request(server):
    with pytest.raises(openai.NotFoundError) as e:
        client(server).images.generate(prompt="a cat on a mat")
    assert "No fixture matched" in str(e.value)


def test_images_edit_tells_uploads_apart_by_their_digest(server):
    c = client(server)
    r = c.images.edit(image=("a.png", PNG_A, "image/png"), mask=("m.png", PNG_B, "image/png"), prompt="add a hat")
    assert base64.b64decode(r.data[0].b64_json) == PNG_B
    r = c.images.edit(image=("b.png", PNG_B, "image/png"), prompt="add a hat")
    assert base64.b64decode(r.data[0].b64_json) == PNG_A


def test_azure_image_and_speech_deployments_are_served(server):
    az = openai.AzureOpenAI(azure_endpoint=server.url, api_key=FAKE_KEY, api_version="2024-10-21", max_retries=0)
    r = az.images.generate(model="my-dalle", prompt="a red fox")
    assert r.data[0].url == "https://img.example/fox.png"
    audio = az.audio.speech.create(model="my-tts", voice="alloy", input="read this aloud")
    assert audio.content == SPEECH


# ---------------------------------------------------------------- speech


def test_speech_is_the_fixture_bytes_with_its_formats_content_type(server):
    r = client(server).audio.speech.with_raw_response.create(model="tts-1", voice="alloy", input="read this aloud")
    assert r.headers["content-type"] == "audio/wav"
    assert r.content == SPEECH


@pytest.mark.parametrize(
    "fmt,ct",
    [("mp3", "audio/mpeg"), ("opus", "audio/opus"), ("aac", "audio/aac"), ("flac", "audio/flac"), ("wav", "audio/wav"), ("pcm", "audio/pcm")],
)
def test_speech_in_each_response_format(server, fmt, ct):
    with client(server).audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="coral", input="any format", response_format=fmt
    ) as r:
        assert r.headers["content-type"] == ct
        assert b"".join(r.iter_bytes()) == SPEECH


def test_speech_streamed_as_sse_events(server):
    with client(server).audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="coral", input="any format", stream_format="sse"
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[len("data: "):]) for line in r.iter_lines() if line.startswith("data: ")]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) > 1
    assert b"".join(base64.b64decode(e["audio"]) for e in deltas) == SPEECH
    assert events[-1]["type"] == "speech.audio.done"
    assert events[-1]["usage"]["total_tokens"] > 0


def test_speech_without_input_is_the_real_400(server):
    with pytest.raises(openai.BadRequestError) as e:
        client(server).audio.speech.create(model="tts-1", voice="alloy", input="")
    assert "input" in str(e.value)
    with pytest.raises(openai.BadRequestError):
        client(server).audio.speech.create(model="tts-1", voice="alloy", input="x", response_format="ogg")


def test_an_error_fixture_raises_the_typed_error(server):
    with pytest.raises(openai.RateLimitError):
        client(server).audio.speech.create(model="tts-1", voice="alloy", input="quota")


# ---------------------------------------------------------------- transcription


def test_transcription_json_tells_two_files_apart(server):
    c = client(server)
    a = c.audio.transcriptions.create(model="whisper-1", file=("a.wav", AUDIO_A, "audio/wav"))
    b = c.audio.transcriptions.create(model="whisper-1", file=("b.wav", AUDIO_B, "audio/wav"))
    assert a.text == "Hello from file A."
    assert b.text == "Greetings from file B."


def test_transcription_verbose_json_has_segments_words_and_usage(server):
    r = client(server).audio.transcriptions.create(
        model="whisper-1",
        file=("a.wav", AUDIO_A, "audio/wav"),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert r.text == "Hello from file A."
    assert r.language == "english" and r.duration == 2.5
    assert [s.text for s in r.segments] == [" Hello", " from file A."]
    assert r.segments[1].end == 2.5 and r.segments[0].tokens == []
    assert r.words[0].word == "Hello"
    assert r.usage.type == "duration"


def test_transcription_text_srt_and_vtt_are_plain_text(server):
    c = client(server)
    f = ("a.wav", AUDIO_A, "audio/wav")
    raw = c.audio.transcriptions.with_raw_response.create(model="whisper-1", file=f, response_format="text")
    assert raw.headers["content-type"].startswith("text/plain")
    assert c.audio.transcriptions.create(model="whisper-1", file=f, response_format="text").strip() == "Hello from file A."
    srt = c.audio.transcriptions.create(model="whisper-1", file=f, response_format="srt")
    assert srt == "1\n00:00:00,000 --> 00:00:01,200\nHello\n\n2\n00:00:01,200 --> 00:00:02,500\nfrom file A.\n\n"
    vtt = c.audio.transcriptions.create(model="whisper-1", file=f, response_format="vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.200\nHello\n")


def test_transcription_streams_for_models_that_stream(server):
    stream = client(server).audio.transcriptions.create(
        model="gpt-4o-transcribe", file=("b.wav", AUDIO_B, "audio/wav"), stream=True
    )
    events = list(stream)
    deltas = [e.delta for e in events if e.type == "transcript.text.delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == "Greetings from file B."
    assert events[-1].type == "transcript.text.done"
    assert events[-1].text == "Greetings from file B."


def test_transcription_with_an_unknown_format_or_no_file_is_a_400(server):
    c = client(server)
    with pytest.raises(openai.BadRequestError) as e:
        c.audio.transcriptions.create(model="whisper-1", file=("a.wav", AUDIO_A), response_format="xml")
    assert "response_format" in str(e.value)
    r = raw_request(
        "POST",
        server.url + "/v1/audio/transcriptions",
        b"--zz\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--zz--\r\n",
        {"content-type": "multipart/form-data; boundary=zz"},
    )
    assert r.status_code == 400 and "'file'" in r.json()["error"]["message"]


def test_translation_in_json_and_verbose_json(server):
    c = client(server)
    r = c.audio.translations.create(model="whisper-1", file=("fr.wav", AUDIO_A, "audio/wav"))
    assert r.text == "Good morning."
    v = c.audio.translations.create(model="whisper-1", file=("fr.wav", AUDIO_A, "audio/wav"), response_format="verbose_json")
    assert v.language == "french" and v.duration == 1.5
    assert v.segments[0].text == "Good morning."


def test_malformed_multipart_bodies_are_400s_in_openais_shape(server):
    url = server.url + "/v1/audio/transcriptions"
    no_boundary = raw_request("POST", url, b"--x\r\n", {"content-type": "multipart/form-data"})
    assert no_boundary.status_code == 400
    assert no_boundary.json()["error"]["type"] == "invalid_request_error"
    cut = raw_request(
        "POST",
        url,
        b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF\x00\xff',
        {"content-type": "multipart/form-data; boundary=zz"},
    )
    assert cut.status_code == 400 and "multipart" in cut.json()["error"]["message"]


def test_an_upload_past_max_body_bytes_is_a_413(server):
    with pytest.raises(openai.APIStatusError) as e:
        client(server).audio.transcriptions.create(model="whisper-1", file=("big.wav", b"\x00" * 300_000))
    assert e.value.status_code == 413


# ---------------------------------------------------------------- video (Sora)


def test_video_job_advances_over_polls_and_downloads_its_content(server):
    c = client(server)
    v = c.videos.create(model="sora-2", prompt="a dog surfing", seconds="8", size="1280x720")
    assert (v.id, v.object, v.status, v.progress) == ("video_fixture_1", "video", "queued", 0)
    assert v.seconds == "8" and v.size == "1280x720" and v.model == "sora-2"
    seen = [v.status]
    for _ in range(10):
        v = c.videos.retrieve(v.id)
        seen.append(v.status)
        if v.status == "completed":
            break
    assert seen == ["queued", "in_progress", "completed"]
    assert v.progress == 100 and v.completed_at >= v.created_at
    content = c.videos.download_content(v.id)
    assert content.content == MP4


def test_a_failed_video_job_reports_its_error_and_has_no_content(server):
    c = client(server)
    v = c.videos.create(prompt="a broken dream")
    c.videos.retrieve(v.id)
    v = c.videos.retrieve(v.id)
    assert v.status == "failed" and v.error.message == "content policy"
    with pytest.raises(openai.BadRequestError):
        c.videos.download_content(v.id)


def test_polling_a_video_no_create_started_is_a_404(server):
    with pytest.raises(openai.NotFoundError):
        client(server).videos.retrieve("video_unknown")


def test_video_jobs_are_kept_per_test_id(server):
    a = client(server, default_headers={"X-Test-Id": "a"})
    b = client(server, default_headers={"X-Test-Id": "b"})
    a.videos.create(prompt="a dog surfing")
    a.videos.retrieve("video_fixture_1")
    with pytest.raises(openai.NotFoundError):
        b.videos.retrieve("video_fixture_1")
    assert a.videos.retrieve("video_fixture_1").status == "completed"


def test_a_video_create_without_prompt_is_the_real_400(server):
    r = raw_request("POST", server.url + "/v1/videos", b'{"model":"sora-2"}', {"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "Missing required parameter: 'prompt'."


# ---------------------------------------------------------------- Gemini Imagen and Veo


def vertex(server):
    # google-genai 3.x sends generate_images and generate_videos to Vertex only.
    # Explicit credentials: google-auth never looks for real ones, and nothing leaves loopback.
    return genai.Client(
        vertexai=True,
        project="test-project",
        location="us-central1",
        credentials=Credentials(token="fake-token"),
        http_options={"base_url": server.url},
    )


def test_imagen_generate_images_on_vertex(server):
    c = vertex(server)  # kept: a dropped client closes its connection pool
    r = c.models.generate_images(
        model="imagen-3.0-generate-002", prompt="a lighthouse", config=types.GenerateImagesConfig(number_of_images=2)
    )
    assert len(r.generated_images) == 2
    assert r.generated_images[0].image.image_bytes == PNG_A
    assert r.generated_images[0].image.mime_type == "image/png"


def test_imagen_on_the_gemini_api_path(server):
    r = raw_request(
        "POST",
        server.url + "/v1beta/models/imagen-3.0-generate-002:predict",
        b'{"instances":[{"prompt":"a lighthouse"}],"parameters":{"sampleCount":1}}',
        {"content-type": "application/json"},
    )
    assert r.status_code == 200
    assert r.json() == {"predictions": [{"bytesBase64Encoded": b64(PNG_A), "mimeType": "image/png"}]}


def test_veo_generate_videos_then_operations_get_on_vertex(server):
    c = vertex(server)
    op = c.models.generate_videos(model="veo-2.0-generate-001", prompt="waves at dusk")
    assert op.name.endswith("/publishers/google/models/veo-2.0-generate-001/operations/op-waves")
    assert not op.done
    for _ in range(5):
        if op.done:
            break
        op = c.operations.get(op)
    assert op.done
    assert op.response.generated_videos[0].video.uri == "https://video.example/waves.mp4"


def test_veo_on_the_gemini_api_paths(server):
    start = raw_request(
        "POST",
        server.url + "/v1beta/models/veo-2.0-generate-001:predictLongRunning",
        b'{"instances":[{"prompt":"waves at dusk"}]}',
        {"content-type": "application/json"},
    )
    name = start.json()["name"]
    assert name == "models/veo-2.0-generate-001/operations/op-waves"
    done = raw_request("GET", server.url + "/v1beta/" + name).json()
    assert done["done"] is True
    samples = done["response"]["generateVideoResponse"]["generatedSamples"]
    assert samples[0]["video"]["uri"] == "https://video.example/waves.mp4"
    again = raw_request("GET", server.url + "/v1beta/operations/op-waves").json()
    assert again["done"] is True


def test_imagen_without_a_prompt_is_googles_400(server):
    r = raw_request(
        "POST",
        server.url + "/v1beta/models/imagen-3.0-generate-002:predict",
        b'{"instances":[{}]}',
        {"content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_the_journal_lists_multipart_requests(server):
    client(server).audio.transcriptions.create(model="whisper-1", file=("a.wav", AUDIO_A, "audio/wav"))
    r = raw_request("GET", server.url + "/__aimock/journal")
    entries = r.json()
    last = entries[-1] if isinstance(entries, list) else entries["entries"][-1]
    assert "/v1/audio/transcriptions" in json.dumps(last)
    assert "fixture" in json.dumps(last)
