// The official `ollama` package (`new Ollama({host})`) against aimock: chat text,
// NDJSON streams, tool calls and their round trip, thinking, embed, its ResponseError,
// and a per-test id in the host's path.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Ollama } from "ollama";

import { WEATHER_SCHEMA, collect, useAimock } from "./setup.mjs";

const aimock = useAimock();
const client = (testId) => new Ollama({ host: aimock().baseUrl("ollama", testId) });
const MODEL = "llama3.2";
const user = (content) => [{ role: "user", content }];
const tools = [{ type: "function", function: { name: "get_weather", description: "Weather", parameters: WEATHER_SCHEMA } }];

test("chat text", async () => {
  const r = await client().chat({ model: MODEL, messages: user("hello") });
  assert.equal(r.message.content, "Hello from aimock!");
  assert.equal(r.done, true);
});

test("chat stream", async () => {
  const parts = await collect(await client().chat({ model: MODEL, messages: user("stream please"), stream: true }));
  const text = parts.map((p) => p.message.content).filter(Boolean);
  assert.ok(text.length > 1);
  assert.equal(text.join(""), "One, two, three, four.");
  assert.equal(parts.at(-1).done, true);
});

test("generate", async () => {
  const r = await client().generate({ model: MODEL, prompt: "hello" });
  assert.equal(r.response, "Hello from aimock!");
});

test("tool calls and their round trip", async () => {
  const c = client();
  const first = await c.chat({ model: MODEL, messages: user("weather in Paris"), tools });
  const [call] = first.message.tool_calls;
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(call.function.arguments, { city: "Paris" });
  const second = await c.chat({
    model: MODEL,
    tools,
    messages: [...user("weather in Paris"), first.message, { role: "tool", content: '{"sky":"clear"}', tool_name: "get_weather" }],
  });
  assert.equal(second.message.content, "It is sunny in Paris.");
});

test("thinking", async () => {
  const r = await client().chat({ model: MODEL, messages: user("think"), think: true });
  assert.equal(r.message.thinking, "Six times seven is 42.");
  assert.equal(r.message.content, "The answer is 42.");
});

test("embed", async () => {
  const r = await client().embed({ model: "nomic-embed-text", input: "embed me" });
  assert.deepEqual(r.embeddings[0], [0.25, -0.5, 0.75]);
});

test("errors: ResponseError with the status", async () => {
  await assert.rejects(client().chat({ model: MODEL, messages: user("rate limit") }), (e) => {
    assert.equal(e.name, "ResponseError");
    assert.equal(e.status_code, 429);
    assert.equal(e.error, "Slow down");
    return true;
  });
  await assert.rejects(client().chat({ model: MODEL, messages: user("nothing matches this") }), (e) => e.name === "ResponseError" && e.status_code === 404);
});

test("per-test id from the host's path", async () => {
  const text = async (id) => (await client(id).chat({ model: MODEL, messages: user("sequence") })).message.content;
  assert.deepEqual([await text("js-ollama-a"), await text("js-ollama-a"), await text("js-ollama-b")], ["first", "second", "first"]);
  const [entry] = await aimock().journal({ testId: "js-ollama-b" });
  assert.equal(entry.path, "/api/chat");
});
