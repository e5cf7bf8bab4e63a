"""Reference fixture trees through the official openai SDK (issue 18): turnIndex among
every content match, sequences per context, systemMessage reading only `system`,
JavaScript number text in structured replies, loosely typed fields, arguments that are
not JSON."""

import json

import openai
import pytest
from conftest import FAKE_KEY, write_cassette


@pytest.fixture
def client(start_aimock, cassette_dir):
    write_cassette(
        cassette_dir,
        "rules.json",
        [
            {"match": {"userMessage": "turn"}, "response": {"content": "plain"}},
            {"match": {"userMessage": "turn", "turnIndex": 0}, "response": {"content": "t0"}},
            {"match": {"userMessage": "seq", "context": "a", "sequenceIndex": 0}, "response": {"content": "a0"}},
            {"match": {"userMessage": "seq", "context": "a", "sequenceIndex": 1}, "response": {"content": "a1"}},
            {"match": {"userMessage": "seq", "context": "b", "sequenceIndex": 0}, "response": {"content": "b0"}},
            {"match": {"systemMessage": "rules", "userMessage": "sys"}, "response": {"content": "by system"}},
            {"match": {"userMessage": "sys"}, "response": {"content": "no system"}},
            {
                "match": {"userMessage": "numbers"},
                "response": {"toolCalls": [{"name": "f", "arguments": {"n": 129.0, "big": 1e21, "tiny": 1.5e-7}}]},
            },
            {"match": {"userMessage": "broken"}, "response": {"toolCalls": [{"name": "f", "arguments": "{not json"}]}},
            {"match": {"userMessage": "loose", "turnIndex": "0"}, "response": {"content": "loose turn"}},
        ],
    )
    server = start_aimock(cassette_dir)
    yield openai.OpenAI(base_url=server.url + "/v1", api_key=FAKE_KEY, max_retries=0)


def ask(client, messages, **kw):
    r = client.chat.completions.create(model="gpt-4o", messages=messages, **kw)
    return r.choices[0].message


def test_a_turn_index_behind_the_count_beats_an_earlier_plain_fixture(client):
    assert ask(client, [{"role": "user", "content": "turn"}]).content == "plain"
    second = [
        {"role": "user", "content": "turn"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "turn"},
    ]
    assert ask(client, second).content == "t0"


def test_sequences_under_two_contexts_count_apart(client):
    got = [
        ask(client, [{"role": "user", "content": "seq"}], extra_headers={"X-AIMock-Context": c, "X-Test-Id": "e2e"}).content
        for c in ["a", "b", "a"]
    ]
    assert got == ["a0", "b0", "a1"]


def test_a_developer_message_is_no_system_text(client):
    dev = ask(client, [{"role": "developer", "content": "rules"}, {"role": "user", "content": "sys"}])
    sys = ask(client, [{"role": "system", "content": "rules"}, {"role": "user", "content": "sys"}])
    assert (dev.content, sys.content) == ("no system", "by system")


def test_structured_arguments_carry_javascript_number_text(client):
    call = ask(client, [{"role": "user", "content": "numbers"}]).tool_calls[0]
    assert call.function.arguments == '{"n":129,"big":1e+21,"tiny":1.5e-7}'
    assert json.loads(call.function.arguments)["n"] == 129


def test_arguments_that_are_not_json_reach_the_client_as_written(client):
    call = ask(client, [{"role": "user", "content": "broken"}]).tool_calls[0]
    assert call.function.arguments == "{not json"


def test_a_loosely_typed_turn_index_still_answers(client):
    assert ask(client, [{"role": "user", "content": "loose"}]).content == "loose turn"
