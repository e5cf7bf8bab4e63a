// The official `openai` package against aimock: chat text, streams, tool calls and
// their round trip, reasoning, the Responses API, embeddings (the SDK asks for base64
// and decodes it), typed errors, and per-test ids through the base URL's prefix.
import assert from "node:assert/strict";
import { test } from "node:test";

import OpenAI from "openai";

import { FAKE_KEY, WEATHER_SCHEMA, collect, useAimock } from "./setup.mjs";

const aimock = useAimock();
const client = (testId) => new OpenAI({ apiKey: FAKE_KEY, baseURL: aimock().baseUrl("openai", testId), maxRetries: 0 });
const user = (content) => [{ role: "user", content }];
const tools = [{ type: "function", function: { name: "get_weather", description: "Weather", parameters: WEATHER_SCHEMA } }];

test("chat text", async () => {
  const r = await client().chat.completions.create({ model: "gpt-4o", messages: user("hello") });
  assert.equal(r.choices[0].message.content, "Hello from aimock!");
  assert.equal(r.choices[0].finish_reason, "stop");
});

test("chat stream arrives in chunks that add up to the text", async () => {
  const stream = await client().chat.completions.create({
    model: "gpt-4o",
    messages: user("stream please"),
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = await collect(stream);
  const deltas = chunks.map((c) => c.choices[0]?.delta?.content).filter(Boolean);
  assert.ok(deltas.length > 1, `several deltas: ${deltas}`);
  assert.equal(deltas.join(""), "One, two, three, four.");
  assert.ok(chunks.at(-1).usage.total_tokens > 0);
});

test("tool call and its round trip", async () => {
  const c = client();
  const first = await c.chat.completions.create({ model: "gpt-4o", messages: user("weather in Paris"), tools });
  const msg = first.choices[0].message;
  assert.equal(first.choices[0].finish_reason, "tool_calls");
  assert.equal(msg.tool_calls[0].id, "call_weather_1");
  assert.equal(msg.tool_calls[0].function.name, "get_weather");
  assert.deepEqual(JSON.parse(msg.tool_calls[0].function.arguments), { city: "Paris" });
  const second = await c.chat.completions.create({
    model: "gpt-4o",
    tools,
    messages: [...user("weather in Paris"), msg, { role: "tool", tool_call_id: msg.tool_calls[0].id, content: '{"sky":"clear"}' }],
  });
  assert.equal(second.choices[0].message.content, "It is sunny in Paris.");
});

test("streamed tool call", async () => {
  const chunks = await collect(await client().chat.completions.create({ model: "gpt-4o", messages: user("weather in Paris"), tools, stream: true }));
  const calls = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
  assert.equal(calls[0].function.name, "get_weather");
  assert.deepEqual(JSON.parse(calls.map((c) => c.function.arguments ?? "").join("")), { city: "Paris" });
});

test("reasoning: chat's reasoning_content and the Responses API's reasoning item", async () => {
  const r = await client().chat.completions.create({ model: "o4-mini", messages: user("think") });
  assert.equal(r.choices[0].message.content, "The answer is 42.");
  assert.equal(r.choices[0].message.reasoning_content, "Six times seven is 42.");
  const resp = await client().responses.create({ model: "o4-mini", input: "think" });
  assert.equal(resp.output_text, "The answer is 42.");
  const reasoning = resp.output.find((o) => o.type === "reasoning");
  assert.equal(reasoning.summary[0].text, "Six times seven is 42.");
});

test("Responses API stream", async () => {
  const events = await collect(await client().responses.create({ model: "gpt-4.1", input: "stream please", stream: true }));
  const text = events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("");
  assert.equal(text, "One, two, three, four.");
  assert.equal(events.at(-1).type, "response.completed");
});

test("embeddings, decoded from base64 by the SDK", async () => {
  const r = await client().embeddings.create({ model: "text-embedding-3-small", input: "embed me" });
  assert.deepEqual(r.data[0].embedding, [0.25, -0.5, 0.75]);
});

test("typed errors: a 429 fixture is RateLimitError, a miss NotFoundError", async () => {
  await assert.rejects(client().chat.completions.create({ model: "gpt-4o", messages: user("rate limit") }), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError, e.constructor.name);
    assert.equal(e.status, 429);
    assert.equal(e.headers.get("retry-after"), "1");
    return true;
  });
  await assert.rejects(client().chat.completions.create({ model: "gpt-4o", messages: user("nothing matches this") }), OpenAI.NotFoundError);
});

test("a queued one-shot error", async () => {
  await aimock().queueError(503, "Overloaded for a moment", { type: "server_error" });
  await assert.rejects(client().chat.completions.create({ model: "gpt-4o", messages: user("hello") }), OpenAI.InternalServerError);
  const ok = await client().chat.completions.create({ model: "gpt-4o", messages: user("hello") });
  assert.equal(ok.choices[0].message.content, "Hello from aimock!");
});

test("per-test ids through the base URL: each test id starts its own sequence", async () => {
  const ask = async (id) =>
    (await client(id).chat.completions.create({ model: "gpt-4o", messages: user("sequence") })).choices[0].message.content;
  assert.deepEqual([await ask("js-openai-a"), await ask("js-openai-a"), await ask("js-openai-b")], ["first", "second", "first"]);
  const entries = await aimock().journal({ testId: "js-openai-a" });
  assert.equal(entries.length, 2);
  assert.ok(entries.every((e) => e.path === "/v1/chat/completions" && e.testId === "js-openai-a"));
});
