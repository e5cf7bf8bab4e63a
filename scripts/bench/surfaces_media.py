"""Benchmark rows for the media surfaces (see surfaces.py for the row format): image
generation (OpenAI and Imagen), speech and a multipart transcription upload."""

import base64

# Deterministic payloads of realistic small sizes: a 16 KiB "image", a 1 MiB speech reply (the row).
IMAGE = bytes((i * 31 + 7) % 256 for i in range(16 * 1024))
SPEECH = bytes((i * 17 + 3) % 256 for i in range(1024 * 1024))
UPLOAD = bytes((i * 13 + 5) % 256 for i in range(8 * 1024))
BOUNDARY = "aimockbenchboundary7d3f"


def multipart(fields: dict, file_name: str, file_bytes: bytes) -> bytes:
    out = b""
    for k, v in fields.items():
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    out += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    out += file_bytes + f"\r\n--{BOUNDARY}--\r\n".encode()
    return out


FIXTURES = [
    {"match": {"userMessage": "a red fox", "endpoint": "image"},
     "response": {"image": {"b64Json": base64.b64encode(IMAGE).decode()}}},
    {"match": {"userMessage": "a lighthouse", "endpoint": "image"},
     "response": {"image": {"b64Json": base64.b64encode(IMAGE).decode()}}},
    {"match": {"userMessage": "read this aloud", "endpoint": "speech"},
     "response": {"audio": base64.b64encode(SPEECH).decode(), "format": "mp3"}},
    {"match": {"endpoint": "transcription"},
     "response": {"transcription": {"text": "Hello from the benchmark upload."}}},
]

JSON = {"content-type": "application/json", "authorization": "Bearer sk-test-not-a-real-key"}

ROWS = [
    {
        "name": "OpenAI image generation",
        "config": None,
        "fixtures": FIXTURES,
        "method": "POST",
        "path": "/v1/images/generations",
        "headers": JSON,
        "body": '{"model":"gpt-image-1","prompt":"a red fox","response_format":"b64_json"}',
        "prepare": None,
        "expect": "b64_json",
        "reference": True,
    },
    {
        "name": "Imagen predict",
        "config": None,
        "fixtures": FIXTURES,
        "method": "POST",
        "path": "/v1beta/models/imagen-3.0-generate-002:predict",
        "headers": {"content-type": "application/json", "x-goog-api-key": "test-not-a-real-key"},
        "body": '{"instances":[{"prompt":"a lighthouse"}],"parameters":{"sampleCount":1}}',
        "prepare": None,
        "expect": "bytesBase64Encoded",
        "reference": True,
    },
    {
        "name": "OpenAI speech, 1 MiB mp3",
        "config": None,
        "fixtures": FIXTURES,
        "method": "POST",
        "path": "/v1/audio/speech",
        "headers": JSON,
        "body": '{"model":"tts-1","voice":"alloy","input":"read this aloud","response_format":"mp3"}',
        "prepare": None,
        "expect": SPEECH[:64],
        "reference": True,
    },
    {
        "name": "OpenAI transcription (multipart)",
        "config": None,
        "fixtures": FIXTURES,
        "method": "POST",
        "path": "/v1/audio/transcriptions",
        "headers": {
            "content-type": f"multipart/form-data; boundary={BOUNDARY}",
            "authorization": "Bearer sk-test-not-a-real-key",
        },
        "body": multipart({"model": "whisper-1", "response_format": "json"}, "a.wav", UPLOAD),
        "prepare": None,
        "expect": "Hello from the benchmark upload.",
        "reference": True,
    },
]
