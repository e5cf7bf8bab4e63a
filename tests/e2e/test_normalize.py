"""Request normalisation through the official openai SDK: a prompt that carries a fresh
UUID and today's date is recorded through a fake upstream, and a strict replay of the
same prompt with another UUID and another date is answered by that recording."""

import datetime
import json
import uuid

import openai
from conftest import FAKE_KEY, golden, wait_for_fixtures


def client(url):
    return openai.OpenAI(base_url=url + "/v1", api_key=FAKE_KEY, max_retries=0)


def prompt(ident, day):
    return f"Summarise ticket {ident} opened on {day.isoformat()}"


def test_a_prompt_with_a_fresh_uuid_and_date_matches_its_recording_on_another_day(start_aimock, cassette_dir, fake_upstream):
    fake_upstream.script("/v1/chat/completions", golden("openai/chat-json-text.json"))
    today = datetime.date.today()
    first_id = str(uuid.uuid4())
    rec = start_aimock(cassette_dir, "--provider-openai", fake_upstream.url, "--normalize", "uuid,isoDate", command="record")
    got = client(rec.url).chat.completions.create(
        model="gpt-4o", messages=[{"role": "system", "content": f"Today is {today.isoformat()}."}, {"role": "user", "content": prompt(first_id, today)}]
    )
    text = got.choices[0].message.content
    assert text
    # The upstream got the real values.
    sent = json.loads(fake_upstream.seen[0][3])
    assert first_id in sent["messages"][1]["content"]
    path = cassette_dir / "recorded" / "openai.json"
    fx = wait_for_fixtures(path, 1)["fixtures"][0]
    # The recorded match is in normalised form; the stored request keeps the real text.
    assert fx["match"]["userMessage"] == "Summarise ticket <uuid> opened on <date>"
    assert fx["recordedRequest"]["body"]["messages"][1]["content"] == prompt(first_id, today)
    rec.stop()

    later = today + datetime.timedelta(days=3)
    other_id = str(uuid.uuid4())
    replay = start_aimock(cassette_dir, "--strict", "--normalize", "uuid,isoDate")
    again = client(replay.url).chat.completions.create(
        model="gpt-4o", messages=[{"role": "system", "content": f"Today is {later.isoformat()}."}, {"role": "user", "content": prompt(other_id, later)}]
    )
    assert again.choices[0].message.content == text
    assert len(fake_upstream.seen) == 1
    replay.stop()

    # Without the rules the same strict replay misses: the rules made the match.
    plain = start_aimock(cassette_dir, "--strict")
    try:
        client(plain.url).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": prompt(other_id, later)}])
        raise AssertionError("a strict replay without rules should miss")
    except openai.APIStatusError as e:
        assert e.status_code == 503


def test_a_bad_rule_stops_the_start_and_names_the_flag(cassette_dir):
    import subprocess

    from conftest import binary

    cassette_dir.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        [binary(), "replay", "--port", "0", "--cassettes", str(cassette_dir), "--normalize-regex", "(unclosed=>x"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode != 0
    assert "--normalize-regex" in r.stderr and "not a valid regular expression" in r.stderr
