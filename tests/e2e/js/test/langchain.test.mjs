// LangChain's `@langchain/openai` against aimock (configuration.baseURL): invoke,
// stream, bound tools and the tool-message round trip, embeddings, the OpenAI error
// it rethrows, and a per-test id in the base URL.
import assert from "node:assert/strict";
import { test } from "node:test";

import { AIMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import OpenAI from "openai";

import { FAKE_KEY, WEATHER_SCHEMA, useAimock } from "./setup.mjs";

const aimock = useAimock();
const chat = (testId, extra = {}) =>
  new ChatOpenAI({ model: "gpt-4o", apiKey: FAKE_KEY, maxRetries: 0, configuration: { baseURL: aimock().baseUrl("openai", testId) }, ...extra });
const weatherTool = { type: "function", function: { name: "get_weather", description: "Weather", parameters: WEATHER_SCHEMA } };

test("invoke", async () => {
  const r = await chat().invoke("hello");
  assert.equal(r.content, "Hello from aimock!");
});

test("stream", async () => {
  const parts = [];
  for await (const chunk of await chat().stream("stream please")) if (chunk.content) parts.push(chunk.content);
  assert.ok(parts.length > 1);
  assert.equal(parts.join(""), "One, two, three, four.");
});

test("bound tools and the tool-message round trip", async () => {
  const model = chat().bindTools([weatherTool]);
  const first = await model.invoke([new HumanMessage("weather in Paris")]);
  assert.ok(first instanceof AIMessage);
  const [call] = first.tool_calls;
  assert.equal(call.name, "get_weather");
  assert.deepEqual(call.args, { city: "Paris" });
  assert.equal(call.id, "call_weather_1");
  const second = await model.invoke([
    new HumanMessage("weather in Paris"),
    first,
    new ToolMessage({ tool_call_id: call.id, content: '{"sky":"clear"}' }),
  ]);
  assert.equal(second.content, "It is sunny in Paris.");
});

test("the Responses API (useResponsesApi) with reasoning", async () => {
  const r = await chat(undefined, { model: "o4-mini", useResponsesApi: true }).invoke("think");
  const text = typeof r.content === "string" ? r.content : r.content.filter((c) => c.type === "text").map((c) => c.text).join("");
  assert.equal(text, "The answer is 42.");
  const reasoning = r.additional_kwargs.reasoning ?? r.contentBlocks?.find((b) => b.type === "reasoning");
  assert.ok(JSON.stringify(reasoning).includes("Six times seven is 42."), JSON.stringify(r));
});

test("embeddings", async () => {
  const e = new OpenAIEmbeddings({ model: "text-embedding-3-small", apiKey: FAKE_KEY, maxRetries: 0, configuration: { baseURL: aimock().baseUrl("openai") } });
  assert.deepEqual(await e.embedQuery("embed me"), [0.25, -0.5, 0.75]);
});

test("a 429 fixture surfaces as the OpenAI rate-limit error", async () => {
  await assert.rejects(chat().invoke("rate limit"), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError, `${e.constructor.name}: ${e.message}`);
    assert.equal(e.status, 429);
    assert.equal(e.lc_error_code, "MODEL_RATE_LIMIT");
    return true;
  });
});

test("per-test id in the base URL", async () => {
  const text = async (id) => (await chat(id).invoke("sequence")).content;
  assert.deepEqual([await text("js-langchain-a"), await text("js-langchain-a"), await text("js-langchain-b")], ["first", "second", "first"]);
});
