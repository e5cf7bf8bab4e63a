// The official `cohere-ai` package (CohereClientV2, `baseUrl`: the JavaScript SDK reads
// no base-URL variable) against aimock: chat text, streams, tool calls and their round
// trip, thinking, embed, typed errors, and a per-test id in the base URL.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Cohere, CohereClientV2 } from "cohere-ai";

import { FAKE_KEY, WEATHER_SCHEMA, collect, useAimock } from "./setup.mjs";

const aimock = useAimock();
const client = (testId) => new CohereClientV2({ token: FAKE_KEY, baseUrl: aimock().baseUrl("cohere", testId) });
const MODEL = "command-a-03-2025";
const user = (content) => [{ role: "user", content }];
const tools = [{ type: "function", function: { name: "get_weather", description: "Weather", parameters: WEATHER_SCHEMA } }];
const noRetry = { maxRetries: 0 };

test("chat text", async () => {
  const r = await client().chat({ model: MODEL, messages: user("hello") }, noRetry);
  assert.equal(r.message.content[0].text, "Hello from aimock!");
  assert.equal(r.finishReason, "COMPLETE");
});

test("chat stream", async () => {
  const events = await collect(await client().chatStream({ model: MODEL, messages: user("stream please") }, noRetry));
  const text = events.filter((e) => e.type === "content-delta").map((e) => e.delta.message.content.text);
  assert.ok(text.length > 1);
  assert.equal(text.join(""), "One, two, three, four.");
  assert.equal(events.at(-1).type, "message-end");
});

test("tool calls and their round trip", async () => {
  const c = client();
  const first = await c.chat({ model: MODEL, messages: user("weather in Paris"), tools }, noRetry);
  assert.equal(first.finishReason, "TOOL_CALL");
  const [call] = first.message.toolCalls;
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
  const second = await c.chat(
    {
      model: MODEL,
      tools,
      messages: [
        ...user("weather in Paris"),
        { role: "assistant", toolCalls: first.message.toolCalls, toolPlan: first.message.toolPlan },
        { role: "tool", toolCallId: call.id, content: '{"sky":"clear"}' },
      ],
    },
    noRetry,
  );
  assert.equal(second.message.content[0].text, "It is sunny in Paris.");
});

test("thinking is a content item before the text", async () => {
  const r = await client().chat({ model: MODEL, messages: user("think"), thinking: { type: "enabled" } }, noRetry);
  assert.deepEqual(
    r.message.content.map((c) => c.type),
    ["thinking", "text"],
  );
  assert.equal(r.message.content[0].thinking, "Six times seven is 42.");
  assert.equal(r.message.content[1].text, "The answer is 42.");
});

test("embed", async () => {
  const r = await client().embed(
    { model: "embed-v4.0", texts: ["embed me"], inputType: "search_document", embeddingTypes: ["float"] },
    noRetry,
  );
  assert.deepEqual(r.embeddings.float[0], [0.25, -0.5, 0.75]);
});

test("typed errors: TooManyRequestsError from a 429 fixture, NotFoundError on a miss", async () => {
  await assert.rejects(client().chat({ model: MODEL, messages: user("rate limit") }, noRetry), (e) => {
    assert.ok(e instanceof Cohere.TooManyRequestsError, e.constructor.name);
    assert.equal(e.statusCode, 429);
    return true;
  });
  await assert.rejects(client().chat({ model: MODEL, messages: user("nothing matches this") }, noRetry), Cohere.NotFoundError);
});

test("per-test id from the base URL", async () => {
  const text = async (id) => (await client(id).chat({ model: MODEL, messages: user("sequence") }, noRetry)).message.content[0].text;
  assert.deepEqual([await text("js-cohere-a"), await text("js-cohere-a"), await text("js-cohere-b")], ["first", "second", "first"]);
  const [entry] = await aimock().journal({ testId: "js-cohere-b" });
  assert.equal(entry.path, "/v2/chat");
});
