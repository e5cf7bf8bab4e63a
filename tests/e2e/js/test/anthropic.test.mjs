// The official `@anthropic-ai/sdk` against aimock: text, streams (the SDK's
// MessageStream helper), tool use and its round trip, extended thinking with its
// signature, typed errors, and a per-test id in the base URL.
import assert from "node:assert/strict";
import { test } from "node:test";

import Anthropic from "@anthropic-ai/sdk";

import { FAKE_KEY, WEATHER_SCHEMA, useAimock } from "./setup.mjs";

const aimock = useAimock();
const client = (testId) => new Anthropic({ apiKey: FAKE_KEY, baseURL: aimock().baseUrl("anthropic", testId), maxRetries: 0 });
const MODEL = "claude-sonnet-4-5";
const ask = (content, extra = {}) => ({ model: MODEL, max_tokens: 256, messages: [{ role: "user", content }], ...extra });
const tools = [{ name: "get_weather", description: "Weather", input_schema: WEATHER_SCHEMA }];

test("text", async () => {
  const r = await client().messages.create(ask("hello"));
  assert.equal(r.content[0].type, "text");
  assert.equal(r.content[0].text, "Hello from aimock!");
  assert.equal(r.stop_reason, "end_turn");
});

test("stream: text deltas and the final message", async () => {
  const stream = client().messages.stream(ask("stream please"));
  const deltas = [];
  stream.on("text", (t) => deltas.push(t));
  const final = await stream.finalMessage();
  assert.ok(deltas.length > 1);
  assert.equal(deltas.join(""), "One, two, three, four.");
  assert.equal(final.content[0].text, "One, two, three, four.");
  assert.ok(final.usage.output_tokens > 0);
});

test("tool use and its round trip", async () => {
  const c = client();
  const first = await c.messages.create(ask("weather in Paris", { tools }));
  assert.equal(first.stop_reason, "tool_use");
  const use = first.content.find((b) => b.type === "tool_use");
  assert.equal(use.name, "get_weather");
  assert.deepEqual(use.input, { city: "Paris" });
  const second = await c.messages.create({
    model: MODEL,
    max_tokens: 256,
    tools,
    messages: [
      { role: "user", content: "weather in Paris" },
      { role: "assistant", content: first.content },
      { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: '{"sky":"clear"}' }] },
    ],
  });
  assert.equal(second.content[0].text, "It is sunny in Paris.");
});

test("streamed tool use: input_json_delta assembled by the SDK", async () => {
  const final = await client().messages.stream(ask("weather in Paris", { tools })).finalMessage();
  const use = final.content.find((b) => b.type === "tool_use");
  assert.deepEqual(use.input, { city: "Paris" });
});

test("thinking with its signature, whole and streamed", async () => {
  const r = await client().messages.create(ask("think", { thinking: { type: "enabled", budget_tokens: 1024 } }));
  assert.deepEqual(
    r.content.map((b) => b.type),
    ["thinking", "text"],
  );
  assert.equal(r.content[0].thinking, "Six times seven is 42.");
  assert.equal(r.content[0].signature, "sig-test-1");
  const final = await client().messages.stream(ask("think", { thinking: { type: "enabled", budget_tokens: 1024 } })).finalMessage();
  assert.equal(final.content[0].thinking, "Six times seven is 42.");
  assert.equal(final.content[1].text, "The answer is 42.");
});

test("typed errors: RateLimitError from a 429 fixture, NotFoundError on a miss", async () => {
  await assert.rejects(client().messages.create(ask("rate limit")), (e) => {
    assert.ok(e instanceof Anthropic.RateLimitError, e.constructor.name);
    assert.equal(e.status, 429);
    assert.equal(e.error.error.type, "rate_limit_error");
    return true;
  });
  await assert.rejects(client().messages.create(ask("nothing matches this")), Anthropic.NotFoundError);
});

test("per-test id from the base URL", async () => {
  const text = async (id) => (await client(id).messages.create(ask("sequence"))).content[0].text;
  assert.deepEqual([await text("js-anthropic-a"), await text("js-anthropic-a"), await text("js-anthropic-b")], ["first", "second", "first"]);
  const [entry] = await aimock().journal({ testId: "js-anthropic-b" });
  assert.equal(entry.path, "/v1/messages");
});
