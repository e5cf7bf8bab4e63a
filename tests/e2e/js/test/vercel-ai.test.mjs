// The Vercel AI SDK (`ai`) with its OpenAI and Anthropic providers against aimock:
// generateText and streamText (OpenAI through both the Responses API, the provider's
// default, and chat completions), a multi-step tool loop (the tool runs, its result
// goes back, the model answers), reasoning, embed, APICallError, and a per-test id
// in the provider's baseURL.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { APICallError, embed, generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";

import { FAKE_KEY, WEATHER_SCHEMA, useAimock } from "./setup.mjs";

const aimock = useAimock();
const openai = (testId) => createOpenAI({ apiKey: FAKE_KEY, baseURL: aimock().baseUrl("openai", testId) });
const anthropic = (testId) => createAnthropic({ apiKey: FAKE_KEY, baseURL: aimock().baseUrl("anthropicV1", testId) });

const models = {
  "openai (Responses API)": (id) => openai(id)("gpt-4.1"),
  "openai.chat (chat completions)": (id) => openai(id).chat("gpt-4o"),
  anthropic: (id) => anthropic(id)("claude-sonnet-4-5"),
};

const weather = () => {
  const calls = [];
  return {
    calls,
    tools: {
      get_weather: tool({
        description: "Weather for a city",
        inputSchema: jsonSchema(WEATHER_SCHEMA),
        execute: async ({ city }) => {
          calls.push(city);
          return { sky: "clear" };
        },
      }),
    },
  };
};

for (const [label, model] of Object.entries(models)) {
  describe(label, () => {
    test("generateText", async () => {
      const r = await generateText({ model: model(), prompt: "hello", maxRetries: 0 });
      assert.equal(r.text, "Hello from aimock!");
      assert.equal(r.finishReason, "stop");
    });

    test("streamText", async () => {
      const r = streamText({ model: model(), prompt: "stream please", maxRetries: 0 });
      const parts = [];
      for await (const t of r.textStream) parts.push(t);
      assert.ok(parts.length > 1, `several parts: ${parts}`);
      assert.equal(parts.join(""), "One, two, three, four.");
      assert.ok((await r.usage).outputTokens > 0);
    });

    test("a tool loop: call, execute, answer", async () => {
      const w = weather();
      const r = await generateText({ model: model(), prompt: "weather in Paris", tools: w.tools, stopWhen: stepCountIs(3), maxRetries: 0 });
      assert.deepEqual(w.calls, ["Paris"]);
      assert.equal(r.steps.length, 2);
      assert.equal(r.steps[0].toolCalls[0].toolName, "get_weather");
      assert.equal(r.text, "It is sunny in Paris.");
    });

    test("a streamed tool loop", async () => {
      const w = weather();
      const r = streamText({ model: model(), prompt: "weather in Paris", tools: w.tools, stopWhen: stepCountIs(3), maxRetries: 0 });
      let text = "";
      for await (const t of r.textStream) text += t;
      assert.deepEqual(w.calls, ["Paris"]);
      assert.equal(text, "It is sunny in Paris.");
    });

    test("APICallError from a 429 fixture", async () => {
      await assert.rejects(generateText({ model: model(), prompt: "rate limit", maxRetries: 0 }), (e) => {
        assert.ok(APICallError.isInstance(e), `${e.constructor.name}: ${e.message}`);
        assert.equal(e.statusCode, 429);
        return true;
      });
    });

    test("per-test id in the baseURL", async () => {
      const id = `js-ai-${label.split(" ")[0]}`;
      const text = async (t) => (await generateText({ model: model(t), prompt: "sequence", maxRetries: 0 })).text;
      assert.deepEqual([await text(id), await text(id), await text(`${id}-other`)], ["first", "second", "first"]);
      assert.equal((await aimock().journal({ testId: id })).length, 2);
    });
  });
}

test("reasoning: Anthropic thinking and OpenAI Responses reasoning", async () => {
  const a = await generateText({
    model: models.anthropic(),
    prompt: "think",
    maxRetries: 0,
    providerOptions: { anthropic: { thinking: { type: "enabled", budgetTokens: 1024 } } },
  });
  assert.equal(a.reasoningText, "Six times seven is 42.");
  assert.equal(a.text, "The answer is 42.");
  const o = await generateText({ model: openai()("o4-mini"), prompt: "think", maxRetries: 0 });
  assert.equal(o.reasoningText, "Six times seven is 42.");
  assert.equal(o.text, "The answer is 42.");
});

test("embed through the OpenAI provider", async () => {
  const r = await embed({ model: openai().embedding("text-embedding-3-small"), value: "embed me", maxRetries: 0 });
  assert.deepEqual(r.embedding, [0.25, -0.5, 0.75]);
});
