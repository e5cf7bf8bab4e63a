// The official `@google/genai` against aimock (httpOptions.baseUrl): text, streams,
// function calls and their round trip, thoughts, embeddings, typed errors, and a
// per-test id in the base URL.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, GoogleGenAI } from "@google/genai";

import { FAKE_KEY, WEATHER_SCHEMA, useAimock } from "./setup.mjs";

const aimock = useAimock();
const client = (testId) => new GoogleGenAI({ apiKey: FAKE_KEY, httpOptions: { baseUrl: aimock().baseUrl("gemini", testId) } });
const MODEL = "gemini-2.5-flash";
const tools = [{ functionDeclarations: [{ name: "get_weather", description: "Weather", parametersJsonSchema: WEATHER_SCHEMA }] }];

test("text", async () => {
  const r = await client().models.generateContent({ model: MODEL, contents: "hello" });
  assert.equal(r.text, "Hello from aimock!");
  assert.equal(r.candidates[0].finishReason, "STOP");
});

test("stream", async () => {
  const parts = [];
  for await (const chunk of await client().models.generateContentStream({ model: MODEL, contents: "stream please" })) {
    if (chunk.text) parts.push(chunk.text);
  }
  assert.ok(parts.length > 1);
  assert.equal(parts.join(""), "One, two, three, four.");
});

test("function call and its round trip", async () => {
  const c = client();
  const first = await c.models.generateContent({ model: MODEL, contents: "weather in Paris", config: { tools } });
  const [call] = first.functionCalls;
  assert.equal(call.name, "get_weather");
  assert.deepEqual(call.args, { city: "Paris" });
  const second = await c.models.generateContent({
    model: MODEL,
    config: { tools },
    contents: [
      { role: "user", parts: [{ text: "weather in Paris" }] },
      first.candidates[0].content,
      { role: "user", parts: [{ functionResponse: { name: call.name, response: { sky: "clear" } } }] },
    ],
  });
  assert.equal(second.text, "It is sunny in Paris.");
});

test("thoughts come as thought parts", async () => {
  const r = await client().models.generateContent({
    model: MODEL,
    contents: "think",
    config: { thinkingConfig: { includeThoughts: true } },
  });
  const parts = r.candidates[0].content.parts;
  assert.equal(parts[0].thought, true);
  assert.equal(parts[0].text, "Six times seven is 42.");
  assert.equal(r.text, "The answer is 42.");
});

test("embeddings", async () => {
  const r = await client().models.embedContent({ model: "gemini-embedding-001", contents: "embed me" });
  assert.deepEqual(r.embeddings[0].values, [0.25, -0.5, 0.75]);
});

test("typed errors: ApiError with the status", async () => {
  await assert.rejects(client().models.generateContent({ model: MODEL, contents: "rate limit" }), (e) => {
    assert.ok(e instanceof ApiError, e.constructor.name);
    assert.equal(e.status, 429);
    return true;
  });
  await assert.rejects(client().models.generateContent({ model: MODEL, contents: "nothing matches this" }), (e) => e instanceof ApiError && e.status === 404);
});

test("per-test id from the base URL", async () => {
  const text = async (id) => (await client(id).models.generateContent({ model: MODEL, contents: "sequence" })).text;
  assert.deepEqual([await text("js-gemini-a"), await text("js-gemini-a"), await text("js-gemini-b")], ["first", "second", "first"]);
  const [entry] = await aimock().journal({ testId: "js-gemini-b" });
  assert.match(entry.path, /\/models\/gemini-2\.5-flash:generateContent$/);
});
